/* momtask (internal to the driver): the items of an exact-moments scan ([scan] mode =
 * moments). Item 0 of a qubit count is E[C], Var C and the output purity; item 1 + k is
 * E and Var of dC/dtheta of tracked parameter k. Each item is one record of
 * BPS_MOMREC_LEN doubles (result.h), a pure function of (job, n, item): the engines'
 * passes are sequential and deterministic, so a record does not depend on the rank or
 * the thread that computes it. A block of items runs one item per thread. */
#ifndef BPSCAN_MOMTASK_H
#define BPSCAN_MOMTASK_H

#include <signal.h>

#include "plan.h"

/* The record of item `item` of pn (prepared problem pn->mom) into rec. */
int bps_mom_item(const bps_plan_n *pn, long item, double *rec);

/* Items [i0, i0 + count) of pn into rec (count x BPS_MOMREC_LEN) on this rank's threads.
 * Stops early with *stopped = 1 when *stop becomes non-zero (the block is then dropped). */
int bps_mom_items(const bps_plan_n *pn, long i0, int count, double *rec,
                  const volatile sig_atomic_t *stop, int *stopped);

#endif

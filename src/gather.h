/* gather (internal to the driver): the collective steps of a scan. bps_agree ends a phase
 * (every rank learns whether all succeeded, and all end with the same code);
 * bps_gather_window brings the records of a window of tasks to rank 0 (the reduction of
 * assemble.c reads the records window by window, in sample order); bps_gather_hosts
 * collects every rank's host name. */
#ifndef BPSCAN_GATHER_H
#define BPSCAN_GATHER_H

#include "plan.h"

/* Collective. This rank's rc if it failed, else the code of the lowest failing rank, else
 * BPS_OK. A rank that adopts another's code records no message (the failing rank prints
 * its own), except rank 0, which records "rank r failed". */
int bps_agree(int rc);

/* The columns of a record a reduction pass reads: up to two ranges [off, off + len) of
 * the record (plan.h layout), packed one after the other (width doubles per record). */
typedef struct {
  int nr, off[2], len[2], width;
} bps_cols;

/* The buffers of the windowed gather: at most cap doubles of packed records per window. */
typedef struct {
  long cap;
  double *pack;       /* this rank's packed records of the window */
  double *buf;        /* rank 0: the window (NULL elsewhere) */
  const double **rec; /* rank 0: per task of the window, its first packed record */
  int *counts;        /* [size] values received from each rank */
  long *at;           /* [size] */
} bps_window;

/* Collective (ends in an agreement): the buffers for windows of cap doubles. */
int bps_window_init(const bps_plan *p, long cap, bps_window *w);
void bps_window_free(bps_window *w); /* NULL-safe, idempotent */

/* The window after task t0 of n index i (tasks in sample order): the tasks [t0, *t1) of
 * that n whose records, packed as cols (width doubles each), fit in cap doubles (at least
 * one task); tasks with holder[t] < 0 (not in this file) count for nothing. Every rank
 * computes the same. */
void bps_window_next(const bps_plan *p, const int *holder, int i, long t0, int width, long cap,
                     long *t1);

/* Collective. The records of the tasks [t0, t1) of one n (holder[t] = the rank holding task
 * t's records, -1: not in this file), packed as cols: each rank sends its tasks' records
 * in task order from blocks[t].rec; rank 0 receives them into w->buf and sets
 * w->rec[t - t0] to task t's first packed record (NULL for tasks not in the file; a task
 * holds bps_plan_block_count records). A rank that cannot pack still takes part (and
 * returns its error); rank 0 checks every rank sent what the plan says it holds. */
int bps_gather_window(const bps_plan *p, const bps_block *blocks, const int *holder, long t0,
                      long t1, const bps_cols *cols, bps_window *w);

/* Collective. Rank 0 gets in *hosts (malloc'ed) every rank's host name as
 * "name:ranks;name:ranks..." (README "Result files", root attribute hosts): one entry per
 * distinct host in order of its lowest rank, its ranks as ascending ranges "0-3,8". Host
 * names are cut at BPS_HOST_LEN - 1 bytes. The other ranks get NULL. */
#define BPS_HOST_LEN 64
int bps_gather_hosts(char **hosts);

#endif

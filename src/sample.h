/* sample (internal to the driver): one sample -> one record (plan.h layout), and one block
 * of samples on this rank's threads.
 *
 * The record of sample s of n is a pure function of (job, n, s): the instance
 * (bps_model_instance_create), its cost and gradient (bps_model_cost_grad), the
 * diagnostics of its diagnosed state (bps_model_diag_state, then diag.c), its parameters,
 * and in landscape scans its landscape tail (landfields.h). Either thread mode gives the
 * same bits: one sample per thread, or all threads inside one sample's kernels.
 */
#ifndef BPSCAN_SAMPLE_H
#define BPSCAN_SAMPLE_H

#include <signal.h>

#include "plan.h"

/* Scratch of one thread, reused across its samples. */
typedef struct {
  double *grad_all; /* [nparams] the full gradient */
  bps_state *out;   /* the diagnosed state */
} bps_sample_ws;

int bps_sample_ws_init(bps_sample_ws *ws, int nparams);
void bps_sample_ws_free(bps_sample_ws *ws);

/* The record of sample s of pn into rec (pn->rec_len doubles). */
int bps_sample_record(const bps_scan_config *cfg, const bps_plan_n *pn, uint32_t s, double *rec,
                      bps_sample_ws *ws);

/* Samples [s0, s0 + count) of pn into rec (count x rec_len), in pn's thread mode. Stops
 * early with *stopped = 1 when *stop becomes non-zero (a signal); the records computed
 * so far are then incomplete and must be dropped. */
int bps_sample_block(const bps_scan_config *cfg, const bps_plan_n *pn, long s0, int count,
                     double *rec, const volatile sig_atomic_t *stop, int *stopped);

/* nb blocks of pn at once (block k: samples [s0[k], s0[k] + count[k]) into rec[k]): in the
 * per-sample thread mode one pool of samples over the threads, so that blocks smaller than
 * the thread count leave no thread idle; else the blocks one after the other. Stops like
 * bps_sample_block (all nb blocks are then incomplete). */
int bps_sample_blocks(const bps_scan_config *cfg, const bps_plan_n *pn, int nb, const long *s0,
                      const int *count, double *const *rec, const volatile sig_atomic_t *stop,
                      int *stopped);

#endif

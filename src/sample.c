/* sample: one sample -> one record, and one block of samples (see sample.h). */
#include "sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/threads.h"

int bps_sample_ws_init(bps_sample_ws *ws, int nparams) {
  ws->out = NULL;
  ws->grad_all = malloc(sizeof(double) * (size_t)(nparams > 0 ? nparams : 1));
  BPS_CHECK(ws->grad_all, BPS_ERR_MEM, "out of memory");
  return BPS_OK;
}

void bps_sample_ws_free(bps_sample_ws *ws) {
  free(ws->grad_all);
  ws->grad_all = NULL;
  bps_state_destroy(&ws->out);
}

int bps_sample_record(const bps_scan_config *cfg, const bps_plan_n *pn, uint32_t s, double *rec,
                      bps_sample_ws *ws) {
  int rc = BPS_OK;
  bps_model_instance *m = NULL;
  double cost = 0, *dg = rec + pn->off_diag;
  BPS_CALL_GOTO(bps_model_instance_create(&cfg->model, pn->n, cfg->seed, s, pn->repr, &m));
  BPS_CHECK_GOTO(m->nparams == pn->nparams, BPS_ERR_INTERNAL, "parameter count changed");
  if (cfg->diagnostics && !ws->out) BPS_CALL_GOTO(bps_state_create(pn->repr, 0, &ws->out));
  /* the diagnosed state (the output of pair 0, or its visible part) comes from the
   * gradient's own forward pass */
  BPS_CALL_GOTO(bps_model_cost_grad_diag(m, m->theta, cfg->method, &cost, ws->grad_all,
                                         cfg->diagnostics ? ws->out : NULL));
  rec[0] = cost;
  for (int p = 0; p < pn->ntracked; p++) rec[pn->off_grad + p] = ws->grad_all[pn->tracked[p]];
  if (cfg->diagnostics) {
    double d4[4];
    BPS_CALL_GOTO(bps_state_diagnostics(ws->out, d4));
    dg[BPS_DIAG_PURITY] = d4[0];
    dg[BPS_DIAG_ENTROPY] = d4[1];
    dg[BPS_DIAG_RENYI2] = d4[2];
    dg[BPS_DIAG_TRACE_DISTANCE] = d4[3];
  } else {
    for (int k = 0; k < BPS_NDIAG; k++) dg[k] = NAN;
  }
  if (cfg->store_samples)
    memcpy(rec + pn->off_params, m->theta, sizeof(double) * (size_t)pn->nparams);
  if (pn->land)
    BPS_CALL_GOTO(
        bps_landfields_sample(pn->land, m, cfg->seed, s, ws->grad_all, rec + pn->off_land));
  BPS_CHECK_GOTO(isfinite(cost), BPS_ERR_NUMERIC, "cost is %g", cost);
cleanup:
  bps_model_instance_destroy(&m);
  BPS_CHECK(!rc, rc, "n = %d, sample %u", pn->n, s);
  return BPS_OK;
}

/* The samples of nb blocks as one pool, one sample per thread (dynamic schedule): every
 * thread has work whatever the block size (blocks of one sample included). A failing
 * sample prints its own traceback (tracebacks are per thread) and the call fails. */
static int blocks_per_sample(const bps_scan_config *cfg, const bps_plan_n *pn, int nb,
                             const long *s0, const int *count, double *const *rec,
                             const volatile sig_atomic_t *stop, int *stopped) {
  int rc = BPS_OK, threads = bps_threads_max(), total = 0;
  for (int k = 0; k < nb; k++) total += count[k];
  int *rcs = calloc((size_t)(total ? total : 1), sizeof(int));
  int *blk = malloc(sizeof(int) * (size_t)(total ? total : 1)); /* sample j -> its block */
  int *idx = malloc(sizeof(int) * (size_t)(total ? total : 1)); /* and its place in it */
  BPS_CHECK_GOTO(rcs && blk && idx, BPS_ERR_MEM, "out of memory");
  for (int k = 0, j = 0; k < nb; k++)
    for (int i = 0; i < count[k]; i++, j++) blk[j] = k, idx[j] = i;
#pragma omp parallel num_threads(threads)
  {
    bps_sample_ws ws;
    int wrc = bps_sample_ws_init(&ws, pn->nparams);
#pragma omp for schedule(dynamic, 1)
    for (int j = 0; j < total; j++) {
      if (*stop || wrc) continue;
      const int k = blk[j], i = idx[j];
      rcs[j] = bps_sample_record(cfg, pn, (uint32_t)(s0[k] + i),
                                 rec[k] + (size_t)i * pn->rec_len, &ws);
      if (rcs[j]) {
#pragma omp critical
        bps_error_print(stderr);
      }
    }
    bps_sample_ws_free(&ws);
    if (wrc) {
#pragma omp critical
      rcs[0] = wrc;
    }
  }
  for (int j = 0; j < total && !rc; j++) rc = rcs[j];
  if (*stop) *stopped = 1;
  BPS_CHECK_GOTO(!rc, rc, "a sample of n = %d failed (see above)", pn->n);
cleanup:
  free(rcs);
  free(blk);
  free(idx);
  return rc;
}

int bps_sample_blocks(const bps_scan_config *cfg, const bps_plan_n *pn, int nb, const long *s0,
                      const int *count, double *const *rec, const volatile sig_atomic_t *stop,
                      int *stopped) {
  *stopped = 0;
  if (pn->per_sample && bps_threads_max() > 1)
    return blocks_per_sample(cfg, pn, nb, s0, count, rec, stop, stopped);
  for (int k = 0; k < nb && !*stopped; k++)
    BPS_CALL(bps_sample_block(cfg, pn, s0[k], count[k], rec[k], stop, stopped));
  return BPS_OK;
}

int bps_sample_block(const bps_scan_config *cfg, const bps_plan_n *pn, long s0, int count,
                     double *rec, const volatile sig_atomic_t *stop, int *stopped) {
  int rc = BPS_OK;
  bps_sample_ws ws = {NULL, NULL};
  *stopped = 0;
  if (pn->per_sample && bps_threads_max() > 1)
    return blocks_per_sample(cfg, pn, 1, &s0, &count, &rec, stop, stopped);
  BPS_CALL_GOTO(bps_sample_ws_init(&ws, pn->nparams));
  for (int i = 0; i < count; i++) {
    if (*stop) {
      *stopped = 1;
      break;
    }
    BPS_CALL_GOTO(
        bps_sample_record(cfg, pn, (uint32_t)(s0 + i), rec + (size_t)i * pn->rec_len, &ws));
  }
cleanup:
  bps_sample_ws_free(&ws);
  return rc;
}

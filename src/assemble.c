/* assemble: records -> bps_result (see assemble.h). */
#include "assemble.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "assign.h"
#include "bpscan/comm.h"
#include "bpscan/error.h"
#include "bpscan/moments.h"
#include "bpscan/state.h"
#include "bpscan/threads.h"

/* The per-sample arrays of r for S samples, and its shape (own copies) from pn. */
static int alloc_n(const bps_scan_config *cfg, const bps_plan_n *pn, long S, bps_result_n *r) {
  const int P = pn->ntracked, PA = pn->nparams, partial = cfg->slice_count > 1;
  r->samples_total = cfg->samples;
  r->n = pn->n;
  r->samples = S;
  r->nparams = PA;
  r->ntracked = P;
  r->q_in = pn->q_in;
  r->q_out = pn->q_out;
  r->diag_qubits = pn->diag_qubits;
  r->representation = strdup(bps_repr_name(pn->repr));
  r->tracked = malloc(sizeof(int) * (size_t)P);
  r->param_names = calloc((size_t)PA, sizeof(char *));
  BPS_CHECK(r->representation && r->tracked && r->param_names, BPS_ERR_MEM, "out of memory");
  memcpy(r->tracked, pn->tracked, sizeof(int) * (size_t)P);
  for (int k = 0; k < PA; k++)
    BPS_CHECK(r->param_names[k] = strdup(pn->names[k]), BPS_ERR_MEM, "out of memory");
  BPS_CALL(bps_result_n_alloc(r, cfg->store_samples, partial, pn->land ? &pn->land->layout : NULL));
  return BPS_OK;
}

/* Row s of r from record rec of sample `sample`. */
static void put_row(const bps_plan_n *pn, bps_result_n *r, long s, long sample, const double *rec) {
  const int P = pn->ntracked, PA = pn->nparams;
  if (r->sample_index) r->sample_index[s] = sample;
  r->cost[s] = rec[0];
  memcpy(r->grad + s * P, rec + pn->off_grad, sizeof(double) * (size_t)P);
  memcpy(r->diag + s * BPS_NDIAG, rec + pn->off_diag, sizeof(double) * BPS_NDIAG);
  if (r->params) memcpy(r->params + s * PA, rec + pn->off_params, sizeof(double) * (size_t)PA);
  if (r->land) bps_landfields_put(r->land, s, rec + pn->off_land);
}

/* Qubit count i: rows in sample order, statistics, Page predictions. */
static int assemble_n(const bps_plan *p, int i, const bps_block *blocks, bps_result_n *r) {
  const bps_scan_config *cfg = p->cfg;
  const bps_plan_n *pn = &p->pn[i];
  long S = 0; /* samples in this file */
  for (long b = 0; b < pn->nblocks; b++)
    if (bps_slice_has(cfg->slice_index, cfg->slice_count, p->task_off[i] + b))
      S += bps_plan_block_count(p, i, b);
  BPS_CALL(alloc_n(cfg, pn, S, r));
  long s = 0; /* row in this file */
  for (long b = 0; b < pn->nblocks; b++) {
    if (!bps_slice_has(cfg->slice_index, cfg->slice_count, p->task_off[i] + b)) continue;
    const bps_block *bd = &blocks[p->task_off[i] + b];
    BPS_CHECK(bd->rec, BPS_ERR_INTERNAL, "block %ld of n = %d missing", b, pn->n);
    for (int k = 0; k < bd->count; k++, s++)
      put_row(pn, r, s, b * cfg->block + k, bd->rec + (size_t)k * pn->rec_len);
  }
  BPS_CALL(bps_result_n_stats(r));
  double da = ldexp(1.0, pn->diag_qubits);
  r->page_entropy = pn->page_db > 0 ? bps_page_entropy(da, pn->page_db) : NAN;
  r->page_purity = pn->page_db > 0 ? bps_page_purity(da, pn->page_db) : NAN;
  return BPS_OK;
}

/* Qubit count i of a moments scan: the records of its items in item order (a piece: the
 * items of its blocks). */
static int assemble_mom(const bps_plan *p, int i, const bps_block *blocks, bps_result_n *r) {
  const bps_scan_config *cfg = p->cfg;
  const bps_plan_n *pn = &p->pn[i];
  long m = 0;
  for (long b = 0; b < pn->nblocks; b++)
    if (bps_slice_has(cfg->slice_index, cfg->slice_count, p->task_off[i] + b))
      m += bps_plan_block_count(p, i, b);
  BPS_CALL(alloc_n(cfg, pn, 0, r));
  r->samples_total = 0;
  r->mom = calloc(1, sizeof *r->mom);
  BPS_CHECK(r->mom, BPS_ERR_MEM, "out of memory");
  bps_mom_n *mo = r->mom;
  snprintf(mo->engine, sizeof mo->engine, "%s", bps_mom_engine_name(bps_mom_engine_of(pn->mom)));
  snprintf(mo->precision, sizeof mo->precision, "%s", bps_mom_precision(pn->mom));
  mo->item = malloc(sizeof(long) * (size_t)(m ? m : 1));
  mo->rec = malloc(sizeof(double) * (size_t)(m ? m : 1) * BPS_MOMREC_LEN);
  BPS_CHECK(mo->item && mo->rec, BPS_ERR_MEM, "out of memory");
  for (long b = 0; b < pn->nblocks; b++) {
    if (!bps_slice_has(cfg->slice_index, cfg->slice_count, p->task_off[i] + b)) continue;
    const bps_block *bd = &blocks[p->task_off[i] + b];
    BPS_CHECK(bd->rec, BPS_ERR_INTERNAL, "block %ld of n = %d missing", b, pn->n);
    for (int k = 0; k < bd->count; k++) {
      mo->item[mo->nitems] = b * cfg->block + k;
      memcpy(mo->rec + (size_t)mo->nitems * BPS_MOMREC_LEN, bd->rec + (size_t)k * BPS_MOMREC_LEN,
             sizeof(double) * BPS_MOMREC_LEN);
      mo->nitems++;
    }
  }
  double da = ldexp(1.0, pn->diag_qubits);
  r->page_entropy = pn->page_db > 0 ? bps_page_entropy(da, pn->page_db) : NAN;
  r->page_purity = pn->page_db > 0 ? bps_page_purity(da, pn->page_db) : NAN;
  return BPS_OK;
}

int bps_assemble(const bps_plan *p, const bps_block *blocks, bps_result *res) {
  const bps_scan_config *cfg = p->cfg;
  const int partial = cfg->slice_count > 1;
  res->per_n = calloc((size_t)p->nn, sizeof(bps_result_n));
  BPS_CHECK(res->per_n, BPS_ERR_MEM, "out of memory");
  res->nn = p->nn;
  for (int i = 0; i < p->nn; i++)
    BPS_CALL(cfg->moments ? assemble_mom(p, i, blocks, &res->per_n[i])
                          : assemble_n(p, i, blocks, &res->per_n[i]));
  res->slice_index = partial ? cfg->slice_index : 0;
  res->slice_count = partial ? cfg->slice_count : 1;
  res->job_text = strdup(cfg->job_text);
  res->job_hash = cfg->job_hash;
  res->seed = cfg->seed;
  res->model = strdup(cfg->model_name);
  res->grad_method = strdup(cfg->method == BPS_GRAD_SHIFT ? "shift" : "adjoint");
  res->mpi_ranks = bps_comm_size();
  res->omp_threads = bps_threads_max();
  BPS_CHECK(res->job_text && res->model && res->grad_method, BPS_ERR_MEM, "out of memory");
  return BPS_OK;
}

/* plan: per-n plans, the memory model, calibration and the `bpscan check` table (see
 * plan.h). */
#include "plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpscan/comm.h"
#include "bpscan/error.h"
#include "bpscan/threads.h"
#include "momtask.h"
#include "sample.h"

/* ------------------------------------------------------------------ tracked parameters */

/* The index of the parameter named by the len characters at s, or -1. */
static int find_param(const bps_model_instance *m, const char *s, size_t len) {
  for (int p = 0; p < m->nparams; p++)
    if (strlen(m->param_names[p]) == len && !strncmp(m->param_names[p], s, len)) return p;
  return -1;
}

/* Resolve "all" | "first" | "last" | comma-separated names into parameter indices. */
static int resolve_tracked(const char *spec, const char *where, const bps_model_instance *m,
                           int **out, int *count) {
  int rc = BPS_OK;
  const int P = m->nparams;
  int *idx = NULL, c = 0;
  BPS_CHECK_GOTO(P >= 1, BPS_ERR_JOB, "the model has no parameters at n = %d", m->n);
  idx = malloc(sizeof(int) * (size_t)P);
  BPS_CHECK_GOTO(idx, BPS_ERR_MEM, "out of memory");
  if (!strcmp(spec, "all")) {
    for (int p = 0; p < P; p++) idx[c++] = p;
  } else if (!strcmp(spec, "first")) {
    idx[c++] = 0;
  } else if (!strcmp(spec, "last")) {
    idx[c++] = P - 1;
  } else {
    for (const char *s = spec; *s;) {
      while (*s == ' ' || *s == ',' || *s == '\t') s++;
      if (!*s) break;
      const char *e = s;
      while (*e && *e != ',' && *e != ' ' && *e != '\t') e++;
      const int len = (int)(e - s), found = find_param(m, s, (size_t)len);
      BPS_CHECK_GOTO(found >= 0, BPS_ERR_JOB,
                     "%s%s[gradient] params: no parameter named '%.*s' at n = %d (names run %s "
                     "... %s)",
                     where, *where ? ": " : "", len, s, m->n, m->param_names[0],
                     m->param_names[P - 1]);
      for (int k = 0; k < c; k++)
        BPS_CHECK_GOTO(idx[k] != found, BPS_ERR_JOB, "%s%s[gradient] params: '%.*s' listed twice",
                       where, *where ? ": " : "", len, s);
      if (c < P) idx[c++] = found;
      s = e;
    }
    BPS_CHECK_GOTO(c > 0, BPS_ERR_JOB, "[gradient] params: empty list");
  }
  *out = idx;
  *count = c;
  idx = NULL;
cleanup:
  free(idx);
  return rc;
}

/* ------------------------------------------------------------------ memory model */

/* Peak bytes of one sample's gradient. Ranks are tracked through the circuit: the state
 * forwards from a pure input (rank 1; x 2^k through a partial trace, x nkraus through a
 * channel, x 2 for depolarising, capped by the register dimension). Dense: the state, the
 * observable and a scratch copy, each with a kernel work buffer, 2^q x 2^q, plus the
 * checkpoints. Factored (circuit.c: Lambda = O A has the state's shape, no observable
 * beyond the output): at each operation the state and Lambda with their work buffers and
 * a scratch factor of the larger side, the uncompressed result of a trace or channel
 * (with the SVD's copy and U), the cost observable on the output register (two parts),
 * plus the checkpoints at the segment boundaries. */
static void estimate_memory(const bps_model_instance *m, double *dense, double *factored) {
  if (!m->circuit) {
    double d = ldexp(1.0, m->q_in);
    *dense = *factored = 8.0 * 16.0 * d * d;
    return;
  }
  const bps_circuit *c = m->circuit;
  int n = c->nops;
  int *qa = malloc(sizeof(int) * (size_t)(n + 1));
  double *ra = malloc(sizeof(double) * (size_t)(n + 1));
  if (!qa || !ra) { /* no estimate: the plan refuses the task */
    free(qa);
    free(ra);
    *dense = *factored = INFINITY;
    return;
  }
  /* forward: register width and state rank before op i (index n: the output) */
  int q = c->q_in;
  double r = 1.0, ck_d = 0, ck_f = 0;
  for (int i = 0; i <= n; i++) {
    qa[i] = q;
    ra[i] = r;
    if (i == n) break;
    const bps_op *op = &c->ops[i];
    double dim = ldexp(1.0, q);
    if (i == 0 || op->kind == BPS_OP_APPEND || op->kind == BPS_OP_TRACE) {
      ck_d += 16.0 * dim * dim;
      ck_f += 16.0 * dim * r;
    }
    if (op->kind == BPS_OP_APPEND) q += op->k;
    if (op->kind == BPS_OP_TRACE) {
      q -= op->k;
      r *= ldexp(1.0, op->k);
    }
    if (op->kind == BPS_OP_KRAUS) r *= op->nkraus;
    if (op->kind == BPS_OP_DEPOL) r *= 2.0;
    r = fmin(r, ldexp(1.0, q));
  }
  /* cost observable on the output register (built once, for Lambda_out = O A_out) */
  double ro = 0;
  /* an ensemble of the training-pair models: the local cost's rank (data.c builds one
   * one-qubit projector term per output qubit) */
  if (!m->costs && (m->kind == BPS_MODEL_DQNN || m->kind == BPS_MODEL_HEA) &&
      m->data.kind == BPS_OBS_LOCAL)
    ro = fmin((double)m->data.nq * ldexp(1.0, qa[n] - 1), ldexp(1.0, qa[n]));
  for (int x = 0; m->costs && x < m->npairs; x++) { /* (none in an ensemble: a lower bound) */
    const bps_cost *cost = m->costs[x];
    double rx = 0;
    for (int t = 0; t < cost->nterms; t++)
      rx += cost->terms[t].m * ldexp(1.0, cost->q - cost->terms[t].k);
    ro = fmax(ro, fmin(rx, ldexp(1.0, cost->q)));
  }
  double dout = ldexp(1.0, qa[n]);
  double peak_d = 0, peak_f = 16.0 * dout * (4.0 * ro + 6.0 * ra[n]);
  for (int i = n; i >= 0; i--) {
    double dim = ldexp(1.0, qa[i]);
    peak_d = fmax(peak_d, 2.0 * 16.0 * dim * dim * 3.0);
    if (i == n) continue;
    const bps_op *op = &c->ops[i];
    double dimo = ldexp(1.0, qa[i + 1]);
    double big = fmax(dim * ra[i], dimo * ra[i + 1]); /* the larger factor around op i */
    double raw = 0; /* uncompressed result of the forward kernel, its work copy and U */
    if (op->kind == BPS_OP_TRACE)
      raw = 2.0 * dim * ra[i] + dimo * fmin(dimo, dim * ra[i] / dimo);
    if (op->kind == BPS_OP_KRAUS) raw = 2.0 * dim * ra[i] * op->nkraus + dim * dim;
    if (op->kind == BPS_OP_DEPOL) raw = 4.0 * dim * fmin(dim, 2.0 * ra[i]) + dim * dim;
    peak_f = fmax(peak_f, 16.0 * (5.0 * big + raw));
  }
  free(qa);
  free(ra);
  *dense = peak_d + ck_d;
  *factored = peak_f + ck_f;
}

double bps_plan_need(const bps_plan_n *pn) {
  return pn->repr == BPS_DENSE ? pn->mem_dense : pn->mem_factored;
}

double bps_plan_rank_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
  return (double)pages * (double)psz / bps_comm_size();
}

double bps_plan_records(const bps_plan *p) {
  const bps_scan_config *cfg = p->cfg;
  double b = 0;
  for (int i = 0; i < p->nn; i++)
    b += 8.0 * (double)p->pn[i].rec_len * (double)(cfg->moments ? p->pn[i].nitems : cfg->samples);
  return b / (cfg->slice_count > 1 ? cfg->slice_count : 1) / bps_comm_size();
}

int bps_plan_fits(const bps_plan *p) {
  const double limit = bps_plan_rank_memory(), rec = bps_plan_records(p);
  for (int i = 0; i < p->nn; i++)
    BPS_CHECK(bps_plan_need(&p->pn[i]) + rec <= limit, BPS_ERR_TOO_BIG,
              "n = %d needs about %.3g GiB per sample (%s) besides the %.3g GiB of records a "
              "rank holds until the reduction, more than the %.3g GiB one rank has",
              p->pn[i].n, bps_plan_need(&p->pn[i]) / 1073741824.0, bps_repr_name(p->pn[i].repr),
              rec / 1073741824.0, limit / 1073741824.0);
  return BPS_OK;
}

/* ------------------------------------------------------------------ planning */

/* auto: factored (rho = A A^dag keeps the rank of pure inputs and layer states), except for
 * the QBM (a Gibbs state, full rank) and noisy circuits (channels drive the rank to the
 * register dimension, where a factor is a dense matrix plus SVDs) */
static bps_repr choose_repr(const bps_scan_config *cfg) {
  if (cfg->repr >= 0) return (bps_repr)cfg->repr;
  return cfg->model.kind == BPS_MODEL_QBM || cfg->model.noise != BPS_NOISE_NONE ? BPS_DENSE
                                                                                : BPS_FACTORED;
}

/* Before drawing sample 0 (its inputs, targets and Haar unitaries take memory of their
 * own): a lower bound of one sample's peak memory from the model's shape alone (its
 * ensemble: nothing drawn, no cost observable). *m = the ensemble instance if that bound
 * exceeds a rank's memory: the plan of n is then made from it, and bps_plan_fits refuses
 * it (exit 5, with `check` printing the plan) before any large allocation. Models without
 * an ensemble (the QBM, which checks its own limit) are left to the full estimate. */
static void shape_too_big(const bps_scan_config *cfg, const bps_plan_n *pn,
                          bps_model_instance **m) {
  double dense = 0, factored = 0;
  if (bps_model_instance_create_ensemble(&cfg->model, pn->n, m)) {
    bps_error_clear();
    *m = NULL;
    return;
  }
  estimate_memory(*m, &dense, &factored);
  if ((pn->repr == BPS_DENSE ? dense : factored) <= bps_plan_rank_memory())
    bps_model_instance_destroy(m);
}

/* What every plan of pn->n takes from its instance m (drawn or ensemble): the tracked
 * parameters, the register widths, the diagnosed qubits, the Page dimensions and the
 * parameter names. */
static int plan_registers(const bps_scan_config *cfg, const bps_model_instance *m, bps_plan_n *pn) {
  BPS_CALL(resolve_tracked(cfg->params, cfg->params_where, m, &pn->tracked, &pn->ntracked));
  pn->nparams = m->nparams;
  pn->q_in = m->q_in;
  pn->q_out = m->q_out;
  pn->diag_qubits = m->ndiag > 0 ? m->ndiag : m->q_out;
  pn->page_db = m->page_db;
  pn->names = calloc((size_t)m->nparams, sizeof(char *));
  BPS_CHECK(pn->names, BPS_ERR_MEM, "out of memory");
  for (int k = 0; k < m->nparams; k++) { /* (freed with the plan on failure) */
    pn->names[k] = strdup(m->param_names[k] ? m->param_names[k] : "?");
    BPS_CHECK(pn->names[k], BPS_ERR_MEM, "out of memory");
  }
  return BPS_OK;
}

/* The plan of pn->n from its instance of sample 0 (or from its ensemble: shape_too_big). */
static int plan_one(const bps_scan_config *cfg, bps_plan_n *pn) {
  int rc = BPS_OK;
  bps_model_instance *m = NULL;
  pn->repr = choose_repr(cfg);
  shape_too_big(cfg, pn, &m);
  const int big = m != NULL;
  if (!big)
    BPS_CALL_GOTO(bps_model_instance_create(&cfg->model, pn->n, cfg->seed, 0, pn->repr, &m));
  BPS_CALL_GOTO(plan_registers(cfg, m, pn));
  estimate_memory(m, &pn->mem_dense, &pn->mem_factored);
  pn->off_grad = 1;
  pn->off_diag = pn->off_grad + pn->ntracked;
  pn->off_params = pn->off_diag + BPS_NDIAG;
  pn->off_land = pn->off_params + (cfg->store_samples ? pn->nparams : 0);
  pn->rec_len = pn->off_land;
  if (cfg->landscape && !big) { /* (a refused n has no landscape plan) */
    pn->land = calloc(1, sizeof *pn->land);
    BPS_CHECK_GOTO(pn->land, BPS_ERR_MEM, "out of memory");
    BPS_CALL_GOTO(bps_landfields_plan(m, pn->tracked, pn->ntracked, cfg->land_directions,
                                      cfg->land_pad, pn->land));
    pn->rec_len += (int)pn->land->len;
  }
  pn->nblocks = (cfg->samples + cfg->block - 1) / cfg->block;
cleanup:
  bps_model_instance_destroy(&m);
  return rc;
}

/* The plan of pn->n in an exact-moments scan: the ensemble instance, the tracked
 * parameters, the engine (chosen or asked for, with its predicted cost) and the items. A
 * model no engine can do exactly in the memory of a rank is BPS_ERR_TOO_BIG with the
 * engines' reasons; an ensemble no engine averages exactly is BPS_ERR_JOB. */
static int plan_one_moments(const bps_scan_config *cfg, bps_plan_n *pn) {
  int rc = BPS_OK;
  BPS_CALL_GOTO(bps_model_instance_create_ensemble(&cfg->model, pn->n, &pn->ens));
  const bps_model_instance *m = pn->ens;
  BPS_CALL_GOTO(plan_registers(cfg, m, pn));
  bps_mom_opts o = {.pair_budget = cfg->mom_truncation, .max_bytes = (long)bps_plan_rank_memory()};
  double bytes = 0;
  char why[1024] = "";
  rc = bps_mom_predict(m, (bps_mom_engine)cfg->mom_engine, &o, &pn->mom_seconds, &bytes, why,
                       sizeof why);
  BPS_CHECK_GOTO(!rc, rc, "n = %d: the exact moments cannot be planned (above)", pn->n);
  BPS_CHECK_GOTO(isfinite(pn->mom_seconds), BPS_ERR_TOO_BIG,
                 "n = %d: the %s engine cannot compute these moments exactly: %s", pn->n,
                 bps_mom_engine_name((bps_mom_engine)cfg->mom_engine), why);
  BPS_CALL_GOTO(bps_mom_create(m, (bps_mom_engine)cfg->mom_engine, &o, &pn->mom));
  pn->mem_dense = pn->mem_factored = bytes;
  pn->repr = BPS_DENSE;
  pn->rec_len = BPS_MOMREC_LEN;
  pn->nitems = 1 + pn->ntracked;
  pn->nblocks = (pn->nitems + cfg->block - 1) / cfg->block;
  pn->per_sample = 1;
cleanup:
  return rc;
}

int bps_plan_make(const bps_scan_config *cfg, bps_plan *p) {
  int rc = BPS_OK;
  memset(p, 0, sizeof *p);
  p->cfg = cfg;
  p->nn = cfg->nq;
  p->pn = calloc((size_t)p->nn, sizeof(bps_plan_n));
  p->task_off = calloc((size_t)p->nn + 1, sizeof(long));
  BPS_CHECK_GOTO(p->pn && p->task_off, BPS_ERR_MEM, "out of memory");
  for (int i = 0; i < p->nn; i++) {
    p->pn[i].n = cfg->qubits[i];
    BPS_CALL_GOTO(cfg->moments ? plan_one_moments(cfg, &p->pn[i]) : plan_one(cfg, &p->pn[i]));
    p->task_off[i + 1] = p->task_off[i] + p->pn[i].nblocks;
  }
  p->ntasks = p->task_off[p->nn];
cleanup:
  if (rc) bps_plan_free(p);
  return rc;
}

void bps_plan_free(bps_plan *p) {
  if (!p) return;
  for (int i = 0; p->pn && i < p->nn; i++) {
    bps_plan_n *pn = &p->pn[i];
    bps_landfields_free(pn->land);
    free(pn->land);
    bps_mom_destroy(&pn->mom);
    bps_model_instance_destroy(&pn->ens);
    free(pn->tracked);
    for (int k = 0; pn->names && k < pn->nparams; k++) free(pn->names[k]);
    free(pn->names);
  }
  free(p->pn);
  free(p->task_off);
  memset(p, 0, sizeof *p);
}

long bps_plan_block_count(const bps_plan *p, int i, long b) {
  const long units = p->cfg->moments ? p->pn[i].nitems : p->cfg->samples;
  long cnt = units - b * p->cfg->block;
  return cnt > p->cfg->block ? p->cfg->block : cnt;
}

int bps_plan_task_n(const bps_plan *p, long t) {
  int i = 0;
  while (t >= p->task_off[i + 1]) i++;
  return i;
}

/* ------------------------------------------------------------------ calibration */

/* Wall seconds of samples 0..T-1 at once, one per thread: the run's own per-sample mode
 * (bps_sample_block with per_sample set), so the samples share the caches and the memory
 * bandwidth as they do in a run. */
static int time_concurrent(const bps_scan_config *cfg, const bps_plan_n *pn, int T, double *t) {
  int rc = BPS_OK, stopped = 0;
  static const volatile sig_atomic_t never = 0;
  bps_plan_n mode = *pn; /* read-only copy: only the thread mode differs */
  mode.per_sample = 1;
  double *rec = malloc(sizeof(double) * (size_t)pn->rec_len * (size_t)T);
  BPS_CHECK(rec, BPS_ERR_MEM, "out of memory");
  const double t0 = bps_wtime();
  BPS_CALL_GOTO(bps_sample_block(cfg, &mode, 0, T, rec, &never, &stopped));
  *t = bps_wtime() - t0;
cleanup:
  free(rec);
  return rc;
}

/* Seconds as whole microseconds (an int, for the gather; at most 2e9). */
static int to_us(double seconds) { return (int)fmin(2e9, seconds * 1e6 + 1); }

/* Microseconds (as int, for the gather) of sample 0 of pn with all threads inside the
 * state (us[0]), of samples 0..T-1 at once, one per thread (us[1]; T x us[0] when there
 * is one thread), and of the whole calibration (us[2]). */
static int time_sample(const bps_scan_config *cfg, const bps_plan_n *pn, int T, int us[3]) {
  const double tstart = bps_wtime();
  int rc = BPS_OK;
  if (cfg->moments) {
    /* one item (a gradient when there is one), one thread per item; an item predicted to
     * take over 30 s is not run (check would take minutes): the prediction stands. The
     * first item may build tables the others reuse (mps: the gradient tables), so mps or a
     * fast first item is followed by a second, and the estimate is their mean over the items */
    double rec[BPS_MOMREC_LEN], t = pn->mom_seconds;
    if (pn->mom_seconds <= 30) {
      double t0 = bps_wtime();
      BPS_CALL(bps_mom_item(pn, pn->nitems > 1 ? 1 : 0, rec));
      t = bps_wtime() - t0;
      if ((t < 2 || bps_mom_engine_of(pn->mom) == BPS_MOM_MPS) && pn->nitems > 2) {
        t0 = bps_wtime();
        BPS_CALL(bps_mom_item(pn, 2, rec));
        const double t2 = bps_wtime() - t0;
        t = (t + t2 * (double)(pn->nitems - 1)) / (double)pn->nitems;
      }
    }
    us[0] = us[1] = to_us(t);
    us[2] = to_us(bps_wtime() - tstart);
    return BPS_OK;
  }
  bps_sample_ws ws = {NULL, NULL};
  double *rec = malloc(sizeof(double) * (size_t)pn->rec_len);
  BPS_CHECK_GOTO(rec, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(bps_sample_ws_init(&ws, pn->nparams));
  double t0 = bps_wtime(), tT;
  BPS_CALL_GOTO(bps_sample_record(cfg, pn, 0, rec, &ws));
  tT = bps_wtime() - t0;
  if (tT < 0.01) {
    /* a fast sample is timed twice more, the mean of those kept: the first run of a process
     * pays for its allocations and caches (up to 30x a small sample's time), which skews
     * the assignment's cost model between qubit counts (README "Scaling model"); a slow one
     * is timed once (its calibration is on the critical path) */
    t0 = bps_wtime();
    for (int k = 0; k < 2; k++) BPS_CALL_GOTO(bps_sample_record(cfg, pn, 0, rec, &ws));
    tT = (bps_wtime() - t0) / 2;
  }
  double t1 = tT * T;
  if (T > 1) BPS_CALL_GOTO(time_concurrent(cfg, pn, T, &t1));
  us[0] = to_us(tT);
  us[1] = to_us(t1);
  us[2] = to_us(bps_wtime() - tstart);
cleanup:
  bps_sample_ws_free(&ws);
  free(rec);
  return rc;
}

int bps_plan_calibrate(bps_plan *p) {
  int rc = BPS_OK, rank = bps_comm_rank(), size = bps_comm_size(), T = bps_threads_max();
  int *mine = calloc((size_t)(3 * p->nn), sizeof(int)), *all = NULL;
  BPS_CHECK_GOTO(mine, BPS_ERR_MEM, "out of memory");
  for (int i = rank; i < p->nn && !rc; i += size)
    rc = time_sample(p->cfg, &p->pn[i], T, &mine[3 * i]);
  if (!bps_comm_agree(rc == BPS_OK)) {
    BPS_CALL_GOTO(rc);
    BPS_FAIL_GOTO(BPS_ERR_MPI, "calibration failed on another rank");
  }
  all = calloc((size_t)(3 * p->nn * size), sizeof(int));
  BPS_CHECK_GOTO(all, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(bps_comm_allgather_int(mine, 3 * p->nn, all));
  for (int i = 0; i < p->nn; i++) {
    const int *us = &all[(i % size) * 3 * p->nn + 3 * i]; /* measured on rank i % size */
    double tT = us[0] * 1e-6, t1 = us[1] * 1e-6;
    bps_plan_n *pn = &p->pn[i];
    /* one sample per thread wins when T samples at once (t1) beat T samples one after the
     * other with all threads in each (T * tT); moments items always run one per thread
     * (t1 is one item's time on one thread) */
    pn->per_sample = p->cfg->moments || (T > 1 && t1 < T * tT);
    pn->t_sample = p->cfg->moments ? t1 / T : pn->per_sample ? t1 / T : tT;
    pn->t_calib = us[2] * 1e-6;
  }
cleanup:
  free(mine);
  free(all);
  return rc;
}

/* ------------------------------------------------------------------ check table */

static const char *human_bytes(double b, char *buf, size_t len) {
  const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int k = 0;
  while (b >= 1024 && k < 5) {
    b /= 1024;
    k++;
  }
  snprintf(buf, len, "%.1f %s", b, u[k]);
  return buf;
}

/* The landscape line of one n: directions, cuts, their degrees, cost evaluations. */
static void print_landscape(const bps_landscape_n *l, FILE *out) {
  long evals = 0;
  int kmin = l->degree[0], kmax = l->degree[0];
  for (int d = 0; d < l->ndeg; d++) {
    kmin = l->degree[d] < kmin ? l->degree[d] : kmin;
    kmax = l->degree[d] > kmax ? l->degree[d] : kmax;
    evals += l->size[d];
  }
  if (!strcmp(l->directions, "plane")) evals = (long)l->size[0] * l->size[1];
  if (kmin == kmax)
    fprintf(out, "     landscape: %s, %d cut(s) of degree %d, %ld cost evaluations per sample\n",
            l->directions, l->ncut, kmax, evals);
  else
    fprintf(out,
            "     landscape: %s, %d cut(s) of degree %d..%d, %ld cost evaluations per sample\n",
            l->directions, l->ncut, kmin, kmax, evals);
}

/* The calibration's share of a run: n index i is calibrated on rank i % size, so the
 * longest rank's sum of t_calib. */
static double calib_span(const bps_plan *p) {
  const int size = bps_comm_size();
  double span = 0;
  for (int r = 0; r < size; r++) {
    double t = 0;
    for (int i = r; i < p->nn; i += size) t += p->pn[i].t_calib;
    span = fmax(span, t);
  }
  return span;
}

/* The check table of a moments scan: per n the engine chosen (or asked for), its predicted
 * memory and time, and the time measured on one item. */
static void print_moments(const bps_plan *p, int calibrated, FILE *out) {
  const bps_scan_config *cfg = p->cfg;
  const int T = bps_threads_max(), size = bps_comm_size();
  char b1[32], b2[32];
  fprintf(out,
          "bpscan check: model %s, exact moments (engine %s%s), %d qubit counts, items in "
          "blocks of %d\n",
          cfg->model_name, bps_mom_engine_name((bps_mom_engine)cfg->mom_engine),
          cfg->mom_truncation > 0 ? ", truncated: certified bounds" : "", p->nn, cfg->block);
  fprintf(out, "memory per rank: %s, %d OpenMP thread(s) per rank (one item per thread)\n\n",
          human_bytes(bps_plan_rank_memory(), b1, sizeof b1), T);
  fprintf(out, "%6s %7s %7s %8s %8s %7s %11s %11s %11s\n", "n", "q_in", "q_out", "params",
          "tracked", "engine", "mem (pred)", "time (pred)", "est. time");
  double total = 0;
  for (int i = 0; i < p->nn; i++) {
    const bps_plan_n *pn = &p->pn[i];
    const double pred = pn->mom_seconds * (double)pn->nitems,
                 est = pn->t_sample * (double)pn->nitems / size;
    total += est;
    fprintf(out, "%6d %7d %7d %8d %8d %7s %11s %10.3gs", pn->n, pn->q_in, pn->q_out, pn->nparams,
            pn->ntracked, bps_mom_engine_name(bps_mom_engine_of(pn->mom)),
            human_bytes(pn->mem_dense, b2, sizeof b2), pred);
    if (calibrated) fprintf(out, " %10.3gs\n", est);
    else fprintf(out, " %11s\n", "-");
  }
  const double calib = calib_span(p);
  fprintf(out,
          "\nestimated compute time: %.3g s on %d rank(s) x %d thread(s): %.3g s of items "
          "(from one or two measured items per n; an item predicted over 30 s is not run: its "
          "prediction stands) + %.3g s for that calibration, which a run repeats\n",
          total + calib, size, T, total, calib);
  fprintf(out, "output: %s%s\n", cfg->out_path, calibrated ? " (plan OK)" : "");
}

void bps_plan_print(const bps_plan *p, int calibrated, FILE *out) {
  const bps_scan_config *cfg = p->cfg;
  if (cfg->moments) {
    print_moments(p, calibrated, out);
    return;
  }
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
  double mem = (double)pages * (double)psz, limit = bps_plan_rank_memory();
  int T = bps_threads_max(), size = bps_comm_size();
  char b1[32], b2[32], b3[32];
  fprintf(out,
          "bpscan check: model %s, %d qubit counts, %ld samples each, blocks of %d, seed %llu\n",
          cfg->model_name, p->nn, cfg->samples, cfg->block, (unsigned long long)cfg->seed);
  fprintf(out,
          "memory per rank: %s (%d rank(s) on this host's %s), %d OpenMP thread(s) per rank\n\n",
          human_bytes(limit, b1, sizeof b1), size, human_bytes(mem, b2, sizeof b2), T);
  fprintf(out, "%4s %6s %7s %8s %8s %11s %11s %9s %13s %10s\n", "n", "q_in", "q_out", "params",
          "tracked", "mem dense", "mem fact.", "repr", "threads", "est. time");
  double total = 0;
  for (int i = 0; i < p->nn; i++) {
    const bps_plan_n *pn = &p->pn[i];
    double need = bps_plan_need(pn), est = pn->t_sample * (double)cfg->samples / size;
    total += est;
    fprintf(out, "%4d %6d %7d %8d %8d %11s %11s %9s %13s", pn->n, pn->q_in, pn->q_out,
            pn->nparams, pn->ntracked, human_bytes(pn->mem_dense, b1, sizeof b1),
            human_bytes(pn->mem_factored, b2, sizeof b2), bps_repr_name(pn->repr),
            !calibrated      ? "-"
            : pn->per_sample ? "per sample"
                             : "in state");
    if (!calibrated) fprintf(out, " %10s\n", "-");
    else fprintf(out, " %9.1fs\n", est);
    if (need > limit)
      fprintf(out,
              "     refused: n = %d needs about %s per sample, more than the %s one rank has\n",
              pn->n, human_bytes(need, b3, sizeof b3), human_bytes(limit, b1, sizeof b1));
    if (pn->land) print_landscape(&pn->land->layout, out);
  }
  fprintf(out,
          "\nrecords held until the reduction: %s per rank (samples x (cost, gradient, "
          "diagnostics%s))\n",
          human_bytes(bps_plan_records(p), b1, sizeof b1),
          cfg->store_samples ? ", parameters" : "");
  const double calib = calib_span(p);
  fprintf(out,
          "estimated compute time: %.1f s on %d rank(s) x %d thread(s): %.1f s of samples "
          "(from one calibration sample per n, timed in both thread modes) + %.1f s for that "
          "calibration, which a run repeats\n",
          total + calib, size, T, total, calib);
  fprintf(out, "output: %s%s\n", cfg->out_path, calibrated ? " (plan OK)" : "");
}

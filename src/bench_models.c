/* bench_models: model-level rows for `bpscan bench` (see bench_models.h).
 *
 * Each row builds one instance of the model (fixed seed, sample 0) and times one cost
 * evaluation (bps_model_cost_grad without a gradient: copy the input, run the circuit,
 * evaluate the cost) and one full adjoint gradient (bps_model_cost_grad with
 * BPS_GRAD_ADJOINT): the best of `reps` repetitions, where a repetition after the first
 * (cold, single-call) one loops over enough calls to last >= BM_MIN_REP_S and reports the
 * mean per call. So reps >= 2 removes first-touch allocation and timer noise from fast
 * rows. This file only measures and prints.
 */
#include "bpscan/bench_models.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/model.h"
#include "bpscan/threads.h"

#define BM_SEED UINT64_C(0x6d6f64656c73) /* "models" */
#define BM_NO_REPEAT_S 5.0               /* a measurement this slow is not repeated */
#define BM_MIN_REP_S 0.2                 /* repetitions of fast calls loop for >= this */
#define BM_TRAFFIC_MAX_S 20.0            /* traffic rows: no row predicted slower than this */

typedef struct {
  const char *name;
  void (*spec)(bps_model_spec *s);
} bm_model;

/* One DQNN layer n -> n of Haar-split perceptrons, Haar input, unitary target, global
 * cost: every perceptron is a Haar unitary on n + 1 qubits (the scanner's default). */
static void spec_dqnn_haar(bps_model_spec *s) {
  bps_model_spec_default(s);
  s->kind = BPS_MODEL_DQNN;
  s->perceptron = BPS_PERC_HAAR;
  snprintf(s->widths, sizeof s->widths, "n,n");
  s->inputs = BPS_INPUT_HAAR;
  s->targets = BPS_TARGET_UNITARY;
  s->cost = BPS_COST_GLOBAL;
  s->pairs = 1;
}

static const bm_model models[] = {{"dqnn-haar n,n", spec_dqnn_haar}};

/* DQNN n,n of one perceptron family, zero inputs and targets, global cost (the job
 * defaults). */
static void spec_family(bps_model_spec *s, bps_perceptron perc) {
  bps_model_spec_default(s);
  s->kind = BPS_MODEL_DQNN;
  s->perceptron = perc;
  snprintf(s->widths, sizeof s->widths, "n,n");
}
static void spec_nisq(bps_model_spec *s) { spec_family(s, BPS_PERC_NISQ); }
static void spec_toy(bps_model_spec *s) { spec_family(s, BPS_PERC_TOY); }
static void spec_brick(bps_model_spec *s) { spec_family(s, BPS_PERC_BRICK); }

/* The traffic rows' families; the last is nisq again with the opt-in fused adjoint
 * ([gradient] method = fused), the others use the default adjoint. */
static const bm_model families[] = {{"nisq n,n", spec_nisq},
                                    {"toy n,n", spec_toy},
                                    {"brick n,n", spec_brick},
                                    {"haar n,n", spec_dqnn_haar},
                                    {"nisq fused", spec_nisq}};
#define FAMILY_FUSED 4

/* Gates G and the bytes one sweep over the state per gate reads and writes, summed over
 * the forward pass of a factored run: a run of rotations on the same qubits counts as one
 * gate (a U3, a CAN: what the fused adjoint step sweeps once), the state holds
 * 2^q x rank amplitudes (rank grows by 2^k at a trace of k qubits, at most 2^q). */
static void traffic(const bps_model_instance *m, long *gates, double *bytes) {
  const bps_circuit *c = m->circuit;
  *gates = 0;
  *bytes = 0;
  if (!c) return;
  int q = c->q_in;
  double rank = m->inputs[0]->rank;
  for (int i = 0; i < c->nops; i++) {
    const bps_op *op = &c->ops[i];
    if (op->kind == BPS_OP_APPEND) q += op->k;
    if (op->kind == BPS_OP_TRACE) {
      q -= op->k;
      rank = fmin(rank * ldexp(1.0, op->k), ldexp(1.0, q));
    }
    if (op->kind != BPS_OP_PROT && op->kind != BPS_OP_UNITARY) continue;
    const bps_op *prev = i > 0 ? &c->ops[i - 1] : NULL;
    if (op->kind == BPS_OP_PROT && op->k <= 2 && prev && prev->kind == BPS_OP_PROT &&
        prev->k == op->k && !memcmp(prev->qubits, op->qubits, sizeof(int) * (size_t)op->k))
      continue; /* the same run */
    (*gates)++;
    *bytes += 2.0 * 16.0 * ldexp(rank, q);
  }
}

int bps_bench_traffic(int nmin, int nmax, int nthr, const int *thr, const double *triad_gbs,
                      bps_bench_traffic_row **rows, int *nrows) {
  BPS_CHECK(rows && nrows && thr && triad_gbs && nthr >= 1, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(nmin >= 1 && nmax >= nmin && nmax <= BPS_MAX_QUBITS / 2, BPS_ERR_ARG,
            "traffic bench n range [%d, %d]", nmin, nmax);
  const int nfam = (int)(sizeof families / sizeof families[0]), T0 = bps_threads_max();
  int rc = BPS_OK, cnt = 0;
  bps_model_instance *m = NULL;
  double *g = NULL;
  bps_bench_traffic_row *out = calloc((size_t)(nfam * (nmax - nmin + 1) * nthr), sizeof *out);
  BPS_CHECK_GOTO(out, BPS_ERR_MEM, "out of memory");
  for (int f = 0; f < nfam; f++)
    for (int n = nmin, first = -1, second = -1; n <= nmax; n++) {
      /* a family stops before a row predicted (its time growing as from the last two n)
       * to take more than BM_TRAFFIC_MAX_S */
      if (first >= 0 && second >= 0 &&
          out[second].grad_s * out[second].grad_s / out[first].grad_s > BM_TRAFFIC_MAX_S)
        break;
      first = second;
      second = cnt; /* the first thread count's row of this n */
      bps_model_spec s;
      families[f].spec(&s);
      BPS_CALL_GOTO(bps_model_instance_create(&s, n, BM_SEED, 0, BPS_FACTORED, &m));
      g = malloc(sizeof(double) * (size_t)(m->nparams ? m->nparams : 1));
      BPS_CHECK_GOTO(g, BPS_ERR_MEM, "out of memory");
      long gates;
      double bytes;
      traffic(m, &gates, &bytes);
      for (int t = 0; t < nthr; t++) {
        bps_bench_traffic_row *r = &out[cnt++];
        snprintf(r->model, sizeof r->model, "%s", families[f].name);
        r->n = n;
        r->threads = thr[t];
        r->nparams = m->nparams;
        r->gates = gates;
        r->bytes = 3.0 * bytes; /* forward, Lambda and A backward: three sweeps per gate */
        r->triad_gbs = triad_gbs[t];
        bps_threads_set(thr[t]);
        double best = INFINITY, c = 0;
        for (int k = 0; k < 3; k++) { /* best of 3, or of 1 when slower than 5 s */
          double t0 = bps_wtime();
          BPS_CALL_GOTO(bps_model_cost_grad(
              m, m->theta, f == FAMILY_FUSED ? BPS_GRAD_FUSED : BPS_GRAD_ADJOINT, &c, g));
          double dt = bps_wtime() - t0;
          best = fmin(best, dt);
          if (dt > BM_NO_REPEAT_S) break;
        }
        r->grad_s = best;
        r->bound_s = r->bytes / (r->triad_gbs * 1e9);
        r->efficiency = r->bound_s / r->grad_s;
      }
      bps_threads_set(T0);
      free(g);
      g = NULL;
      bps_model_instance_destroy(&m);
    }
  *rows = out;
  *nrows = cnt;
  out = NULL;
cleanup:
  bps_threads_set(T0);
  free(g);
  bps_model_instance_destroy(&m);
  free(out);
  return rc;
}

void bps_bench_traffic_print(FILE *out, const bps_bench_traffic_row *rows, int nrows) {
  fprintf(out, "%-12s %3s %4s %7s %6s %12s %10s %10s %11s %10s\n", "family", "n", "thr",
          "params", "gates", "traffic_GB", "triad_GBs", "grad_s", "bound_s", "bound/grad");
  for (int i = 0; i < nrows; i++) {
    const bps_bench_traffic_row *r = &rows[i];
    fprintf(out, "%-12s %3d %4d %7d %6ld %12.4g %10.2f %10.4g %11.4g %10.3f\n", r->model, r->n,
            r->threads, r->nparams, r->gates, r->bytes * 1e-9, r->triad_gbs, r->grad_s,
            r->bound_s, r->efficiency);
  }
  /* the goals: more threads never slower (rows of one family and n are consecutive, the
   * thread counts in the caller's order); nisq n = 10 within 2x of its bound at 2 threads */
  double worst = 0;
  const bps_bench_traffic_row *wr = NULL;
  for (int i = 0; i < nrows; i++)
    for (int j = i + 1; j < nrows && rows[j].n == rows[i].n &&
                        !strcmp(rows[j].model, rows[i].model);
         j++) {
      const bps_bench_traffic_row *lo = rows[i].threads < rows[j].threads ? &rows[i] : &rows[j];
      const bps_bench_traffic_row *hi = lo == &rows[i] ? &rows[j] : &rows[i];
      if (hi->threads > lo->threads && hi->grad_s / lo->grad_s > worst)
        worst = hi->grad_s / lo->grad_s, wr = hi;
    }
  if (wr)
    fprintf(out,
            "goal: more threads never slower (grad_s at more threads / at fewer; 1.05 allows "
            "for timing noise): worst %.3f (%s n = %d, %d threads) -> %s\n",
            worst, wr->model, wr->n, wr->threads, worst <= 1.05 ? "met" : "NOT MET");
  for (int i = 0; i < nrows; i++)
    if (rows[i].n == 10 && rows[i].threads == 2 && !strncmp(rows[i].model, "nisq", 4))
      fprintf(out, "goal: %s n = 10 at 2 threads within 2x of its bound: bound/grad %.3f -> %s\n",
              rows[i].model, rows[i].efficiency, rows[i].efficiency >= 0.5 ? "met" : "NOT MET");
  fflush(out);
}

int bps_bench_traffic_json(FILE *f, const bps_bench_traffic_row *rows, int nrows) {
  BPS_CHECK(f && (rows || nrows == 0), BPS_ERR_ARG, "NULL argument");
  fprintf(f, "[");
  for (int i = 0; i < nrows; i++) {
    const bps_bench_traffic_row *r = &rows[i];
    fprintf(f,
            "%s\n    {\"family\": \"%s\", \"n\": %d, \"threads\": %d, \"nparams\": %d, "
            "\"gates\": %ld, \"traffic_bytes\": %.6g, \"triad_gbs\": %.6g, "
            "\"grad_s\": %.6g, \"bound_s\": %.6g, \"bound_over_grad\": %.6g}",
            i ? "," : "", r->model, r->n, r->threads, r->nparams, r->gates, r->bytes,
            r->triad_gbs, r->grad_s, r->bound_s, r->efficiency);
  }
  fprintf(f, "\n  ]");
  BPS_CHECK(!ferror(f), BPS_ERR_IO, "error writing the traffic bench JSON");
  return BPS_OK;
}

static int time_row(const bm_model *md, int n, bps_repr repr, int reps, bps_bench_model_row *r) {
  int rc = BPS_OK;
  bps_model_instance *m = NULL;
  double *g = NULL;
  memset(r, 0, sizeof *r);
  snprintf(r->model, sizeof r->model, "%s", md->name);
  r->n = n;
  r->repr = repr;
  r->threads = bps_threads_max();
  r->dense_over_factored = NAN;
  bps_model_spec s;
  md->spec(&s);
  double t0 = bps_wtime();
  BPS_CALL_GOTO(bps_model_instance_create(&s, n, BM_SEED, 0, repr, &m));
  r->build_s = bps_wtime() - t0;
  r->nparams = m->nparams;
  r->qubits = m->q_in;
  if (m->circuit)
    for (int i = 0, q = m->circuit->q_in; i < m->circuit->nops; i++) {
      if (m->circuit->ops[i].kind == BPS_OP_APPEND) q += m->circuit->ops[i].k;
      if (m->circuit->ops[i].kind == BPS_OP_TRACE) q -= m->circuit->ops[i].k;
      if (q > r->qubits) r->qubits = q;
    }
  g = malloc(sizeof(double) * (size_t)(m->nparams ? m->nparams : 1));
  BPS_CHECK_GOTO(g, BPS_ERR_MEM, "out of memory (%d gradient entries)", m->nparams);
  double best_c = INFINITY, best_g = INFINITY;
  for (int what = 0; what < 2; what++) {
    double *best = what ? &best_g : &best_c;
    int calls = 1; /* calls per repetition: enough for BM_MIN_REP_S (after the first) */
    for (int k = 0; k < reps; k++) {
      double c = 0;
      t0 = bps_wtime();
      for (int i = 0; i < calls; i++)
        BPS_CALL_GOTO(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &c, what ? g : NULL));
      double dt = (bps_wtime() - t0) / calls;
      if (dt < *best) *best = dt;
      if (!what) r->reps = k + 1;
      if (dt > BM_NO_REPEAT_S) break;
      if (k == 0) calls = (int)fmin(1e6, ceil(BM_MIN_REP_S / fmax(dt, 1e-9)));
    }
  }
  r->cost_eval_s = best_c;
  r->adjoint_grad_s = best_g;
  r->grad_over_cost = best_g / best_c;
  for (int p = 0; p < m->nparams; p++) r->max_abs_grad = fmax(r->max_abs_grad, fabs(g[p]));
cleanup:
  free(g);
  bps_model_instance_destroy(&m);
  return rc;
}

int bps_bench_models(int nmin, int nmax, int dense_nmax, int reps, bps_bench_model_row **rows,
                     int *nrows) {
  BPS_CHECK(rows && nrows, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(nmin >= 1 && nmax >= nmin && nmax <= BPS_MAX_QUBITS / 2, BPS_ERR_ARG,
            "model bench n range [%d, %d]", nmin, nmax);
  BPS_CHECK(reps >= 1, BPS_ERR_ARG, "reps = %d", reps);
  if (dense_nmax > BPS_BENCH_MODELS_DENSE_NMAX) dense_nmax = BPS_BENCH_MODELS_DENSE_NMAX;
  int rc = BPS_OK, cnt = 0;
  const int nmodels = (int)(sizeof models / sizeof models[0]);
  bps_bench_model_row *out = calloc((size_t)(2 * nmodels * (nmax - nmin + 1)), sizeof *out);
  BPS_CHECK_GOTO(out, BPS_ERR_MEM, "out of memory");
  for (int md = 0; md < nmodels; md++)
    for (int n = nmin; n <= nmax; n++) {
      int fi = cnt;
      BPS_CALL_GOTO(time_row(&models[md], n, BPS_FACTORED, reps, &out[cnt]));
      cnt++;
      if (n <= dense_nmax) {
        BPS_CALL_GOTO(time_row(&models[md], n, BPS_DENSE, reps, &out[cnt]));
        out[fi].dense_over_factored = out[cnt].cost_eval_s / out[fi].cost_eval_s;
        cnt++;
      }
    }
  *rows = out;
  *nrows = cnt;
  out = NULL;
cleanup:
  free(out);
  return rc;
}

/* grad goal: max grad_over_cost over all rows; speedup goal: min over factored rows at
 * n >= 6 with a dense partner of dense_over_factored / (2^n / 4). */
static void goals(const bps_bench_model_row *rows, int nrows, double *gmax, double *smin) {
  *gmax = NAN;
  *smin = NAN;
  for (int i = 0; i < nrows; i++) {
    const bps_bench_model_row *r = &rows[i];
    if (isnan(*gmax) || r->grad_over_cost > *gmax) *gmax = r->grad_over_cost;
    if (r->repr == BPS_FACTORED && r->n >= 6 && isfinite(r->dense_over_factored)) {
      double s = r->dense_over_factored / ldexp(0.25, r->n);
      if (isnan(*smin) || s < *smin) *smin = s;
    }
  }
}

void bps_bench_models_print(FILE *out, const bps_bench_model_row *rows, int nrows) {
  fprintf(out, "%-16s %3s %-8s %6s %7s %4s %10s %12s %14s %10s %12s\n", "model", "n", "repr",
          "qubits", "params", "thr", "build_s", "cost_eval_s", "adjoint_grad_s", "grad/cost",
          "dense/fact");
  for (int i = 0; i < nrows; i++) {
    const bps_bench_model_row *r = &rows[i];
    fprintf(out, "%-16s %3d %-8s %6d %7d %4d %10.3g %12.4g %14.4g %10.2f", r->model, r->n,
            bps_repr_name(r->repr), r->qubits, r->nparams, r->threads, r->build_s,
            r->cost_eval_s, r->adjoint_grad_s, r->grad_over_cost);
    if (isfinite(r->dense_over_factored))
      fprintf(out, " %12.3g (goal %g)", r->dense_over_factored,
              r->n >= 6 ? ldexp(0.25, r->n) : NAN);
    fputc('\n', out);
  }
  double gmax, smin;
  goals(rows, nrows, &gmax, &smin);
  fprintf(out, "goal: adjoint gradient <= %g cost evaluations: max ratio %.2f -> %s\n",
          BPS_BENCH_MODELS_GRAD_GOAL, gmax,
          isnan(gmax)                          ? "n/a"
          : gmax <= BPS_BENCH_MODELS_GRAD_GOAL ? "met"
                                               : "NOT met");
  fprintf(out,
          "goal: factored >= 2^n/4 x faster than dense at n >= 6 (cost evaluation): "
          "min speedup/target %.3g -> %s\n",
          smin,
          isnan(smin) ? "n/a (no dense rows at n >= 6)"
          : smin >= 1 ? "met"
                      : "NOT met");
  fflush(out);
}

static void jnum(FILE *f, double v) {
  if (isfinite(v)) fprintf(f, "%.6g", v);
  else fputs("null", f);
}

int bps_bench_models_json(FILE *f, const bps_bench_model_row *rows, int nrows) {
  BPS_CHECK(f && (rows || nrows == 0), BPS_ERR_ARG, "NULL argument");
  fprintf(f, "{\"rows\": [");
  for (int i = 0; i < nrows; i++) {
    const bps_bench_model_row *r = &rows[i];
    fprintf(f,
            "%s\n    {\"model\": \"%s\", \"n\": %d, \"representation\": \"%s\", "
            "\"qubits\": %d, \"nparams\": %d, \"threads\": %d, \"reps\": %d, \"build_s\": ",
            i ? "," : "", r->model, r->n, bps_repr_name(r->repr), r->qubits, r->nparams,
            r->threads, r->reps);
    jnum(f, r->build_s);
    fprintf(f, ", \"cost_eval_s\": ");
    jnum(f, r->cost_eval_s);
    fprintf(f, ", \"adjoint_grad_s\": ");
    jnum(f, r->adjoint_grad_s);
    fprintf(f, ", \"grad_over_cost\": ");
    jnum(f, r->grad_over_cost);
    fprintf(f, ", \"dense_over_factored\": ");
    jnum(f, r->dense_over_factored);
    fputc('}', f);
  }
  double gmax, smin;
  goals(rows, nrows, &gmax, &smin);
  fprintf(f, "\n  ],\n  \"goals\": {\"grad_over_cost_max\": ");
  jnum(f, gmax);
  fprintf(f, ", \"grad_over_cost_target\": %g, \"grad_met\": %s, \"speedup_min_over_target\": ",
          BPS_BENCH_MODELS_GRAD_GOAL,
          isnan(gmax)                          ? "null"
          : gmax <= BPS_BENCH_MODELS_GRAD_GOAL ? "true"
                                               : "false");
  jnum(f, smin);
  fprintf(f,
          ", \"speedup_target\": \"dense/factored cost_eval_s >= 2^n/4 at n >= 6\", "
          "\"speedup_met\": %s}}",
          isnan(smin) ? "null"
          : smin >= 1 ? "true"
                      : "false");
  BPS_CHECK(!ferror(f), BPS_ERR_IO, "error writing the model bench JSON");
  return BPS_OK;
}

/* t700-synth.h: a synthetic bps_result for the h5io tests (t700, t701): two qubit counts
 * (n = 4 with per-sample parameters, n = 6 without), S samples, 3 tracked parameters out
 * of n + 1, closed-form per-sample values and statistics from bps_stats_compute.
 * synth_result_land adds landscape fields (random-like values): scalars [S], a [S, P] and
 * a [S, P, K+1] field with statistics, and [S, P] / [S, N1, N2] fields without. */
#ifndef T700_SYNTH_H
#define T700_SYNTH_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/result.h"
#include "bpscan/stats.h"

/* in the style of job.c's canonical text */
#define SYNTH_JOB                                                                               \
  "[scan]\nmodel = dqnn\nqubits = 4:6:2\nsamples = 100\nseed = 12345\n"                         \
  "representation = auto\n\n"                                                                   \
  "[dqnn]\nwidths = n,n\nperceptron = haar\ndepth = 0\n\n"                                      \
  "[cost]\ntype = global\npairs = 1\n\n"                                                        \
  "[noise]\nchannel = depolarizing\np = 0.01\n"

static void synth_n(bps_result_n *r, int n, long S, int with_params) {
  memset(r, 0, sizeof *r);
  r->n = n;
  r->samples = S;
  r->nparams = n + 1;
  r->ntracked = 3;
  r->tracked = malloc(3 * sizeof(int));
  r->tracked[0] = 0, r->tracked[1] = 2, r->tracked[2] = n; /* the last one */
  r->param_names = malloc((size_t)r->nparams * sizeof(char *));
  for (int p = 0; p < r->nparams; p++) {
    r->param_names[p] = malloc(32);
    /* one non-ASCII (valid UTF-8) name: theta */
    snprintf(r->param_names[p], 32, p == 1 ? "\xce\xb8.l1.p%d" : "l%d.p%d",
             p == 1 ? p : p / 2 + 1, p);
  }
  r->q_in = n;
  r->q_out = n;
  r->diag_qubits = n;
  r->representation = n == 4 ? "dense" : "factored";
  r->cost = malloc((size_t)S * sizeof(double));
  r->grad = malloc((size_t)S * 3 * sizeof(double));
  r->diag = malloc((size_t)S * BPS_NDIAG * sizeof(double));
  r->params = with_params ? malloc((size_t)S * (size_t)r->nparams * sizeof(double)) : NULL;
  double scale = exp(-0.35 * n);
  for (long s = 0; s < S; s++) {
    double x = (double)s;
    r->cost[s] = 0.5 + 0.25 * sin(0.37 * x + n);
    for (int k = 0; k < 3; k++)
      r->grad[s * 3 + k] = scale * cos(0.91 * x + 1.3 * k) * (1 + 0.1 * k);
    r->diag[s * BPS_NDIAG + BPS_DIAG_PURITY] = 0.3 + 0.2 * sin(0.11 * x);
    r->diag[s * BPS_NDIAG + BPS_DIAG_ENTROPY] = 1.0 + 0.5 * cos(0.13 * x);
    r->diag[s * BPS_NDIAG + BPS_DIAG_RENYI2] = 0.9 + 0.4 * cos(0.17 * x);
    r->diag[s * BPS_NDIAG + BPS_DIAG_TRACE_DISTANCE] = 0.6 + 0.1 * sin(0.19 * x);
    if (r->params)
      for (int p = 0; p < r->nparams; p++)
        r->params[s * r->nparams + p] = fmod(1.7 * x + 0.3 * p, 6.283185307179586);
  }
  bps_stats_compute(r->cost, S, 1, &r->cost_stats);
  r->grad_stats = malloc(3 * sizeof(bps_stats));
  double sv = 0, sse = 0;
  for (int k = 0; k < 3; k++) {
    bps_stats_compute(r->grad + k, S, 3, &r->grad_stats[k]);
    sv += r->grad_stats[k].var;
    sse += r->grad_stats[k].var_se * r->grad_stats[k].var_se;
  }
  r->grad_var_mean = sv / 3;
  r->grad_var_mean_se = sqrt(sse) / 3;
  for (int d = 0; d < BPS_NDIAG; d++)
    bps_stats_compute(r->diag + d, S, BPS_NDIAG, &r->diag_stats[d]);
  r->page_entropy = n == 4 ? 1.7 : NAN; /* NaN: "no Haar prediction" must survive */
  r->page_purity = n == 4 ? 0.2 : NAN;
}

/* A deterministic value in [0, 1) that looks random. */
static double synth_rand(long s, int k, int n) {
  double x = sin(12.9898 * (double)s + 78.233 * k + 3.1 * n) * 43758.5453;
  return x - floor(x);
}

/* Landscape fields for r (S = r->samples, P = 3 tracked; n = 4 "random", n = 6 "axes"),
 * statistics element by element. */
#define SYNTH_LAND_NFIELD 10
static void synth_land(bps_result_n *r) {
  static const char *const names[SYNTH_LAND_NFIELD] = {"cut_mean",  "cut_var",       "aliasing",
                                                       "slope_fft", "slope_adjoint", "lipschitz",
                                                       "spread",    "power",         "direction",
                                                       "image"};
  long S = r->samples;
  int K = r->n, P = 3;
  bps_landscape_n *l = calloc(1, sizeof *l);
  r->land = l;
  int axes = r->n == 6; /* n = 6: one cut per tracked parameter, degrees K, K, K - 1 */
  snprintf(l->directions, sizeof l->directions, axes ? "axes" : "random");
  l->pad = 8;
  l->ncut = axes ? P : 1;
  l->ndeg = axes ? P : 1;
  l->degree = malloc(sizeof(int) * (size_t)l->ndeg);
  l->size = malloc(sizeof(int) * (size_t)l->ndeg);
  for (int j = 0; j < l->ndeg; j++) {
    l->degree[j] = j == 2 ? K - 1 : K;
    l->size[j] = 4 * K;
  }
  l->nfield = SYNTH_LAND_NFIELD;
  for (int i = 0; i < SYNTH_LAND_NFIELD; i++) {
    bps_land_field *f = &l->field[i];
    snprintf(f->name, sizeof f->name, "%s", names[i]);
    f->stats = i < 8;
    if (i == 6 || i == 8) f->ndim = 1, f->dims[0] = P;           /* spread, direction */
    if (i == 7) f->ndim = 2, f->dims[0] = P, f->dims[1] = K + 1; /* power */
    if (i == 9) f->ndim = 2, f->dims[0] = 5, f->dims[1] = 4;     /* image */
    long e = bps_land_field_elems(f);
    f->data = malloc(sizeof(double) * (size_t)(S > 0 ? S : 1) * (size_t)e);
    for (long s = 0; s < S; s++)
      for (long k = 0; k < e; k++) {
        double u = synth_rand(s, (int)(i * 97 + k), r->n), *x = &f->data[s * e + k];
        switch (i) {
        case 2: *x = 1e-16 * u; break;                               /* aliasing */
        case 4: *x = l->field[3].data[s] + 1e-14 * (u - 0.5); break; /* slope_adjoint */
        case 8: *x = u < 0.5 ? -1.0 : 1.0; break;                    /* direction */
        default: *x = (1.0 + i) * (u - (i == 3 ? 0.5 : 0.0));
        }
      }
    if (!f->stats) continue;
    f->mean = malloc(sizeof(double) * (size_t)e);
    f->mean_se = malloc(sizeof(double) * (size_t)e);
    f->var = malloc(sizeof(double) * (size_t)e);
    f->var_se = malloc(sizeof(double) * (size_t)e);
    for (long k = 0; k < e; k++) {
      bps_stats st;
      bps_stats_compute(f->data + k, S, (size_t)e, &st);
      f->mean[k] = st.mean, f->mean_se[k] = st.mean_se, f->var[k] = st.var;
      f->var_se[k] = st.var_se;
    }
  }
}

/* A result with S samples per qubit count; host contains an invalid UTF-8 byte (stored
 * as '?'). */
static void synth_result(bps_result *res, long S) {
  memset(res, 0, sizeof *res);
  res->job_text = SYNTH_JOB;
  res->job_hash = UINT64_C(0xfedcba9876543210);
  res->seed = UINT64_C(18446744073709551557); /* > 2^63: must stay unsigned */
  res->model = "dqnn";
  res->grad_method = "adjoint";
  res->mpi_ranks = 4;
  res->omp_threads = 2;
  res->host = "node\xff"
              "01";
  res->start_time = 1700000000.25;
  res->end_time = 1700000123.75;
  res->wall_plan = 0.5;
  res->wall_compute = 120.0;
  res->wall_reduce = 1.25;
  res->wall_write = 0.125;
  res->nn = 2;
  res->per_n = calloc(2, sizeof(bps_result_n));
  synth_n(&res->per_n[0], 4, S, 1);
  synth_n(&res->per_n[1], 6, S, 0);
}

/* synth_result plus landscape fields at every qubit count. */
/* the same job as a landscape scan (its job_json must say mode = landscape, as the root) */
#define SYNTH_JOB_LAND                                                                          \
  "[scan]\nmodel = dqnn\nqubits = 4:6:2\nsamples = 100\nseed = 12345\n"                         \
  "representation = auto\nmode = landscape\n\n"                                                 \
  "[dqnn]\nwidths = n,n\nperceptron = haar\ndepth = 0\n\n"                                      \
  "[cost]\ntype = global\npairs = 1\n\n"                                                        \
  "[noise]\nchannel = depolarizing\np = 0.01\n"

static void synth_result_land(bps_result *res, long S) {
  synth_result(res, S);
  res->job_text = SYNTH_JOB_LAND;
  for (int i = 0; i < res->nn; i++) synth_land(&res->per_n[i]);
}

static void synth_free(bps_result *res) {
  for (int i = 0; i < res->nn; i++) {
    bps_result_n *r = &res->per_n[i];
    bps_landscape_n_free(r->land);
    free(r->land);
    for (int p = 0; p < r->nparams; p++) free(r->param_names[p]);
    free(r->param_names);
    free(r->tracked);
    free(r->cost);
    free(r->grad);
    free(r->diag);
    free(r->params);
    free(r->grad_stats);
  }
  free(res->per_n);
  memset(res, 0, sizeof *res);
}

#endif

/* result: the names of the state diagnostics (in the order of the BPS_DIAG_* columns of
 * bps_result_n.diag), the allocation of a qubit count's arrays and its statistics (see
 * include/bpscan/result.h). */
#include "bpscan/result.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"

const char *const bps_diag_names[BPS_NDIAG] = {"purity", "entropy", "renyi2", "trace_distance"};

long bps_land_field_elems(const bps_land_field *f) {
  long e = 1;
  for (int d = 0; d < f->ndim; d++) e *= f->dims[d];
  return e;
}

bps_land_field *bps_landscape_field(bps_landscape_n *l, const char *name) {
  if (!l || !name) return NULL;
  for (int i = 0; i < l->nfield; i++)
    if (!strcmp(l->field[i].name, name)) return &l->field[i];
  return NULL;
}

static void field_stats_free(bps_land_field *f) {
  free(f->mean);
  free(f->mean_se);
  free(f->var);
  free(f->var_se);
  f->mean = f->mean_se = f->var = f->var_se = NULL;
}

void bps_landscape_n_free(bps_landscape_n *l) {
  if (!l) return;
  for (int i = 0; i < l->nfield && i < BPS_LAND_MAX_FIELDS; i++) {
    free(l->field[i].data);
    field_stats_free(&l->field[i]);
  }
  free(l->degree);
  free(l->size);
  memset(l, 0, sizeof *l);
}

int bps_landscape_n_alloc(const bps_landscape_n *tpl, long S, bps_landscape_n **out) {
  int rc = BPS_OK;
  bps_landscape_n *l = calloc(1, sizeof *l);
  BPS_CHECK_GOTO(l, BPS_ERR_MEM, "out of memory");
  memcpy(l->directions, tpl->directions, sizeof l->directions);
  l->pad = tpl->pad;
  l->ncut = tpl->ncut;
  l->ndeg = tpl->ndeg;
  l->degree = malloc(sizeof(int) * (size_t)tpl->ndeg);
  l->size = malloc(sizeof(int) * (size_t)tpl->ndeg);
  BPS_CHECK_GOTO(l->degree && l->size, BPS_ERR_MEM, "out of memory (landscape fields)");
  memcpy(l->degree, tpl->degree, sizeof(int) * (size_t)tpl->ndeg);
  memcpy(l->size, tpl->size, sizeof(int) * (size_t)tpl->ndeg);
  l->nfield = tpl->nfield;
  for (int q = 0; q < tpl->nfield; q++) {
    bps_land_field *f = &l->field[q];
    const bps_land_field *t = &tpl->field[q];
    memcpy(f->name, t->name, sizeof f->name);
    f->ndim = t->ndim;
    f->dims[0] = t->dims[0];
    f->dims[1] = t->dims[1];
    f->stats = t->stats;
    f->data = malloc(sizeof(double) * (size_t)(S > 0 ? S : 1) * (size_t)bps_land_field_elems(f));
    BPS_CHECK_GOTO(f->data, BPS_ERR_MEM, "out of memory (landscape fields)");
  }
  *out = l;
  l = NULL;
cleanup:
  if (l) bps_landscape_n_free(l);
  free(l);
  return rc;
}

int bps_result_n_alloc(bps_result_n *r, int with_params, int with_index,
                       const bps_landscape_n *land_tpl) {
  const size_t S = (size_t)(r->samples > 0 ? r->samples : 1);
  const size_t P = (size_t)(r->ntracked > 0 ? r->ntracked : 1),
               PA = (size_t)(r->nparams > 0 ? r->nparams : 1);
  r->cost = malloc(sizeof(double) * S);
  r->grad = malloc(sizeof(double) * S * P);
  r->diag = malloc(sizeof(double) * S * BPS_NDIAG);
  r->grad_stats = calloc(P, sizeof(bps_stats));
  r->params = with_params ? malloc(sizeof(double) * S * PA) : NULL;
  r->sample_index = with_index ? malloc(sizeof(long) * S) : NULL;
  BPS_CHECK(r->cost && r->grad && r->diag && r->grad_stats && (r->params || !with_params) &&
                (r->sample_index || !with_index),
            BPS_ERR_MEM, "out of memory (n = %d, %ld samples)", r->n, r->samples);
  if (land_tpl) BPS_CALL(bps_landscape_n_alloc(land_tpl, r->samples, &r->land));
  return BPS_OK;
}

/* Element-wise statistics over the samples of every field with stats = 1. */
static int landscape_stats(bps_landscape_n *l, long S) {
  for (int i = 0; i < l->nfield; i++) {
    bps_land_field *f = &l->field[i];
    if (!f->stats) continue;
    long e = bps_land_field_elems(f);
    BPS_CHECK(e >= 1 && (S == 0 || f->data), BPS_ERR_ARG, "landscape field %s: no data", f->name);
    field_stats_free(f);
    f->mean = malloc(sizeof(double) * (size_t)e);
    f->mean_se = malloc(sizeof(double) * (size_t)e);
    f->var = malloc(sizeof(double) * (size_t)e);
    f->var_se = malloc(sizeof(double) * (size_t)e);
    BPS_CHECK(f->mean && f->mean_se && f->var && f->var_se, BPS_ERR_MEM, "out of memory");
    for (long k = 0; k < e; k++) {
      bps_stats st;
      if (S >= 1) {
        bps_stats_compute(f->data + k, S, (size_t)e, &st);
      } else {
        st.mean = st.mean_se = st.var = st.var_se = NAN;
      }
      f->mean[k] = st.mean;
      f->mean_se[k] = st.mean_se;
      f->var[k] = st.var;
      f->var_se[k] = st.var_se;
    }
  }
  return BPS_OK;
}

int bps_result_n_stats(bps_result_n *r) {
  long S = r->samples;
  int P = r->ntracked;
  BPS_CHECK(S >= 0 && P >= 0 && (P == 0 || r->grad_stats), BPS_ERR_ARG, "bad result shape");
  bps_stats_compute(r->cost, S, 1, &r->cost_stats);
  for (int k = 0; k < BPS_NDIAG; k++)
    bps_stats_compute(r->diag + k, S, BPS_NDIAG, &r->diag_stats[k]);
  double vm = 0;
  for (int q = 0; q < P; q++) {
    bps_stats_compute(r->grad + q, S, (size_t)P, &r->grad_stats[q]);
    vm += r->grad_stats[q].var;
  }
  r->grad_var_mean = P ? vm / P : NAN;
  r->grad_var_mean_se = NAN;
  if (r->land) BPS_CALL(landscape_stats(r->land, S));
  if (S < 2 || P == 0) return BPS_OK;
  /* SE of the parameter-averaged variance: z_s = mean_p (g_sp - mean_p)^2 S/(S-1) */
  double *z = malloc(sizeof(double) * (size_t)S);
  BPS_CHECK(z, BPS_ERR_MEM, "out of memory");
  for (long s = 0; s < S; s++) {
    double acc = 0;
    for (int q = 0; q < P; q++) {
      double d = r->grad[s * P + q] - r->grad_stats[q].mean;
      acc += d * d;
    }
    z[s] = acc / P * (double)S / (double)(S - 1);
  }
  bps_stats zs;
  bps_stats_compute(z, S, 1, &zs);
  r->grad_var_mean_se = zs.mean_se;
  free(z);
  return BPS_OK;
}

void bps_mom_encode(long double v, double out[3]) {
  if (v == 0 || !isfinite((double)v) || isnan((double)v)) {
    out[0] = (double)v, out[1] = 0, out[2] = 0;
    return;
  }
  int e = 0;
  long double m = frexpl(v, &e); /* v = m 2^e, 0.5 <= |m| < 1 */
  out[0] = (double)m;
  out[1] = (double)(m - (long double)out[0]);
  out[2] = (double)e;
}

long double bps_mom_decode(const double in[3]) {
  if (in[0] == 0 || !isfinite(in[0])) return (long double)in[0];
  return ldexpl((long double)in[0] + (long double)in[1], (int)in[2]);
}

double bps_mom_log2(long double v) {
  if (v == 0) return -INFINITY;
  if (!(v > 0)) return NAN;
  return (double)log2l(v);
}

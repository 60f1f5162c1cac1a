/* landfields: the per-sample landscape fields of a scan (see include/bpscan/landfields.h).
 * Every cut is made by bps_landscape_cut / bps_landscape_plane (landscape.c, the one cut
 * pipeline, tested in t801/t802); this file only chooses the directions and lays the
 * results out in the record tail. */
#include "bpscan/landfields.h"

#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/job.h"
#include "bpscan/landscape.h"
#include "bpscan/rng.h"

/* The scalar results of one 1-D cut, in the order of the cut fields. */
enum {
  LS_MEAN,
  LS_VAR,
  LS_ALIAS,
  LS_SLOPE_FFT,
  LS_SLOPE_ADJ,
  LS_LIPSCHITZ,
  LS_BERNSTEIN,
  LS_SPREAD,
  LS_MAX,
  LS_MIN,
  LS_COUNT
};
static const char *const scalar_names[LS_COUNT] = {"cut_mean",  "cut_var",       "aliasing",
                                                   "slope_fft", "slope_adjoint", "lipschitz",
                                                   "bernstein", "spread",        "cut_max",
                                                   "cut_min"};

#define PLANE_MAX_GRID 4.0e6 /* cost evaluations per sample a plane may ask for */
#define TAIL_MAX (1L << 26)  /* doubles per record tail */

/* ------------------------------------------------------------------ layout */

static void add_field(bps_landscape_n *l, const char *name, int ndim, long d0, long d1, int stats) {
  bps_land_field *f = &l->field[l->nfield++];
  snprintf(f->name, sizeof f->name, "%s", name);
  f->ndim = ndim;
  f->dims[0] = d0;
  f->dims[1] = d1;
  f->stats = stats;
}

/* Offset of field `name` in a record tail. */
static long offset(const bps_landscape_n *l, const char *name) {
  long off = 0;
  for (int i = 0; i < l->nfield; i++) {
    if (!strcmp(l->field[i].name, name)) return off;
    off += bps_land_field_elems(&l->field[i]);
  }
  return -1;
}

/* The declared degree of each cut (random: the sum of the R_j; axes: each R_j; plane: the
 * sums over the two halves) and its FFT size. */
static int plan_degrees(bps_landfields *lf, int Ksum) {
  bps_landscape_n *l = &lf->layout;
  const int P = lf->ntracked;
  if (lf->directions == BPS_LAND_RANDOM) {
    l->degree[0] = Ksum;
  } else if (lf->directions == BPS_LAND_AXES) {
    for (int p = 0; p < P; p++) l->degree[p] = lf->R[p];
  } else {
    int h = (P + 1) / 2;
    for (int p = 0; p < P; p++) l->degree[p < h ? 0 : 1] += lf->R[p];
  }
  for (int d = 0; d < l->ndeg; d++) BPS_CALL(bps_landscape_size(l->degree[d], -1, &l->size[d]));
  return BPS_OK;
}

/* The field list of the directions (see the tail layout in landfields.h). */
static void plan_fields(bps_landfields *lf, int Ksum) {
  bps_landscape_n *l = &lf->layout;
  const int P = lf->ntracked;
  int Kmax = 0;
  for (int d = 0; d < l->ndeg; d++) Kmax = l->degree[d] > Kmax ? l->degree[d] : Kmax;
  if (lf->directions == BPS_LAND_RANDOM) {
    for (int q = 0; q < LS_COUNT; q++) add_field(l, scalar_names[q], 0, 0, 0, 1);
    add_field(l, "power", 1, Ksum + 1, 0, 1);
    add_field(l, "direction", 1, P, 0, 0);
  } else if (lf->directions == BPS_LAND_AXES) {
    for (int q = 0; q < LS_COUNT; q++) add_field(l, scalar_names[q], 1, P, 0, 1);
    add_field(l, "power", 2, P, Kmax + 1, 1);
  } else {
    for (int q = 0; q < LS_COUNT; q++)
      add_field(l, scalar_names[q], q == LS_SLOPE_FFT || q == LS_SLOPE_ADJ ? 1 : 0, 2, 0, 1);
    add_field(l, "power", 1, l->degree[0] + l->degree[1] + 1, 0, 1);
    add_field(l, "direction", 2, 2, P, 0);
  }
  add_field(l, "nu", 1, P, 0, 0);
  if (lf->directions == BPS_LAND_PLANE) add_field(l, "image", 2, l->size[0], l->size[1], 0);
}

int bps_landfields_plan(const bps_model_instance *m, const int *tracked, int P, int directions,
                        int pad, bps_landfields *lf) {
  static const char *const dname[] = {"random", "axes", "plane"};
  int rc = BPS_OK;
  double *nu = NULL;
  int *R = NULL, *k = NULL, Ksum = 0;
  memset(lf, 0, sizeof *lf);
  BPS_CHECK_GOTO(m && tracked && P >= 1 && directions >= BPS_LAND_RANDOM &&
                     directions <= BPS_LAND_PLANE,
                 BPS_ERR_ARG, "bad arguments");
  BPS_CHECK_GOTO(m->circuit, BPS_ERR_JOB,
                 "mode = landscape needs a circuit model (the QBM is not a trigonometric "
                 "polynomial)");
  BPS_CHECK_GOTO(directions != BPS_LAND_PLANE || P >= 2, BPS_ERR_JOB,
                 "[landscape] directions = plane needs at least 2 parameters in [gradient] "
                 "params (has %d at n = %d)",
                 P, m->n);
  lf->directions = directions;
  lf->ntracked = P;
  nu = malloc(sizeof(double) * (size_t)m->nparams);
  R = malloc(sizeof(int) * (size_t)m->nparams);
  k = calloc((size_t)m->nparams, sizeof(int));
  lf->tracked = malloc(sizeof(int) * (size_t)P);
  lf->R = malloc(sizeof(int) * (size_t)P);
  BPS_CHECK_GOTO(nu && R && k && lf->tracked && lf->R, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(bps_landscape_frequencies(m->circuit, nu, R));
  for (int p = 0; p < P; p++) {
    lf->tracked[p] = tracked[p];
    lf->R[p] = R[tracked[p]];
    k[tracked[p]] = 1;
  }
  /* every tracked parameter must have an integer spectrum: the degree names the first that
   * does not */
  if (bps_landscape_degree(m->circuit, m->param_names, k, &Ksum))
    BPS_FAIL_GOTO(BPS_ERR_JOB,
                  "n = %d: a landscape cut cannot move these parameters; restrict [gradient] "
                  "params to parameters with commensurate frequencies",
                  m->n);
  bps_landscape_n *l = &lf->layout;
  snprintf(l->directions, sizeof l->directions, "%s", dname[directions]);
  l->pad = pad;
  l->ncut = directions == BPS_LAND_AXES ? P : 1;
  l->ndeg = directions == BPS_LAND_AXES ? P : directions == BPS_LAND_PLANE ? 2 : 1;
  l->degree = calloc((size_t)l->ndeg, sizeof(int));
  l->size = calloc((size_t)l->ndeg, sizeof(int));
  BPS_CHECK_GOTO(l->degree && l->size, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(plan_degrees(lf, Ksum));
  BPS_CHECK_GOTO(directions != BPS_LAND_PLANE || (double)l->size[0] * l->size[1] <= PLANE_MAX_GRID,
                 BPS_ERR_JOB,
                 "n = %d: the plane needs a %d x %d grid of cost evaluations per sample "
                 "(degrees %d, %d): too many; choose fewer [gradient] params",
                 m->n, l->size[0], l->size[1], l->degree[0], l->degree[1]);
  plan_fields(lf, Ksum);
  for (int i = 0; i < l->nfield; i++) lf->len += bps_land_field_elems(&l->field[i]);
  BPS_CHECK_GOTO(lf->len < TAIL_MAX, BPS_ERR_JOB,
                 "n = %d: %ld landscape values per sample is too many for a record", m->n,
                 lf->len);
cleanup:
  free(nu);
  free(R);
  free(k);
  if (rc) bps_landfields_free(lf);
  return rc;
}

void bps_landfields_free(bps_landfields *lf) {
  if (!lf) return;
  bps_landscape_n_free(&lf->layout);
  free(lf->tracked);
  free(lf->R);
  memset(lf, 0, sizeof *lf);
}

/* ------------------------------------------------------------------ one sample */

/* Put the scalars of a 1-D cut into column `col` of the cut fields (random: 0; axes: the
 * tracked parameter). */
static void put_cut(const bps_landscape_n *l, double *tail, const bps_cut_result *r, int col) {
  const double v[LS_COUNT] = {r->mean,          r->var,       r->alias,     r->slope_fft,
                              r->slope_adjoint, r->lipschitz, r->bernstein, r->spread,
                              r->fmax,          r->fmin};
  for (int q = 0; q < LS_COUNT; q++) tail[offset(l, scalar_names[q]) + col] = v[q];
}

/* One cut along each tracked parameter (k = its unit vector); power row p holds W_0..W_K
 * of cut p, zero beyond its degree. */
static int axes_cuts(const bps_landfields *lf, const bps_model_instance *m, const double *grad,
                     int pad, int *k, double *dir, double *tail) {
  const bps_landscape_n *l = &lf->layout;
  const int P = lf->ntracked, Kmax = (int)l->field[LS_COUNT].dims[1] - 1; /* power [P, Kmax+1] */
  double *pw = tail + offset(l, "power");
  memset(k, 0, sizeof(int) * (size_t)m->nparams);
  for (int p = 0; p < P; p++) {
    const int j = lf->tracked[p], K = l->degree[p];
    bps_cut_result r;
    k[j] = 1;
    BPS_CALL(bps_landscape_direction(m->circuit, k, dir));
    BPS_CALL(bps_landscape_cut(m, m->theta, k, NULL, pad, &r));
    k[j] = 0;
    /* the slope along one axis is the single product dir_j dC/dtheta_j (bitwise as the
     * scan has always stored it: a sum over the zero entries would turn -0 into +0) */
    r.slope_adjoint = dir[j] * grad[j];
    int ok = r.K == K;
    if (ok) {
      put_cut(l, tail, &r, p);
      for (int q = 0; q <= Kmax; q++)
        pw[(size_t)p * (size_t)(Kmax + 1) + (size_t)q] = q <= K ? r.W[q] : 0.0;
    }
    bps_cut_result_free(&r);
    BPS_CHECK(ok, BPS_ERR_INTERNAL, "axis cut %d: degree %d, planned %d", p, r.K, K);
  }
  return BPS_OK;
}

/* The random cut through signs k. */
static int random_cut(const bps_landfields *lf, const bps_model_instance *m, const double *grad,
                      int pad, const int *k, double *tail) {
  const bps_landscape_n *l = &lf->layout;
  bps_cut_result r;
  BPS_CALL(bps_landscape_cut(m, m->theta, k, grad, pad, &r));
  int ok = r.K == l->degree[0];
  if (ok) {
    put_cut(l, tail, &r, 0);
    memcpy(tail + offset(l, "power"), r.W, sizeof(double) * (size_t)(r.K + 1));
  }
  bps_cut_result_free(&r);
  BPS_CHECK(ok, BPS_ERR_INTERNAL, "random cut: degree %d, planned %d", r.K, l->degree[0]);
  return BPS_OK;
}

/* The plane through signs k (along t) and k2 (along u); its samples go to the image. */
static int plane_cut(const bps_landfields *lf, const bps_model_instance *m, const double *grad,
                     int pad, const int *k, const int *k2, double *tail) {
  const bps_landscape_n *l = &lf->layout;
  bps_plane_result r;
  BPS_CALL(bps_landscape_plane(m, m->theta, k, k2, grad, pad, tail + offset(l, "image"), &r));
  const double v[LS_COUNT] = {r.mean,      r.var,       r.alias,  0,      0,
                              r.lipschitz, r.bernstein, r.spread, r.fmax, r.fmin};
  for (int q = 0; q < LS_COUNT; q++) {
    long o = offset(l, scalar_names[q]);
    if (q == LS_SLOPE_FFT || q == LS_SLOPE_ADJ) {
      const double *two = q == LS_SLOPE_FFT ? r.slope_fft : r.slope_adjoint;
      tail[o] = two[0];
      tail[o + 1] = two[1];
    } else {
      tail[o] = v[q];
    }
  }
  memcpy(tail + offset(l, "power"), r.W, sizeof(double) * (size_t)r.nW);
  bps_plane_result_free(&r);
  return BPS_OK;
}

/* Random signs +-1 over the tracked parameters from the sample's landscape stream: the
 * first h go to k, the rest to k2 (h = P except for a plane), and the direction field. */
static void random_signs(const bps_landfields *lf, uint64_t seed, int n, uint32_t sample, int *k,
                         int *k2, double *tail) {
  const int P = lf->ntracked, plane = lf->directions == BPS_LAND_PLANE;
  const int h = plane ? (P + 1) / 2 : P;
  bps_rng g;
  bps_rng_init(&g, seed, (uint32_t)n, sample, BPS_STREAM_LANDSCAPE, 0);
  for (int p = 0; p < P; p++) {
    int sign = (bps_rng_u32(&g) & 1u) ? 1 : -1;
    if (p < h) k[lf->tracked[p]] = sign;
    else k2[lf->tracked[p]] = sign;
  }
  double *dr = tail + offset(&lf->layout, "direction");
  for (int p = 0; p < P; p++) {
    dr[p] = k[lf->tracked[p]];
    if (plane) dr[P + p] = k2[lf->tracked[p]];
  }
}

int bps_landfields_sample(const bps_landfields *lf, const bps_model_instance *m, uint64_t seed,
                          uint32_t sample, const double *grad, double *tail) {
  int rc = BPS_OK;
  const int M = m->nparams, P = lf->ntracked, pad = lf->layout.pad;
  double *nu = malloc(sizeof(double) * (size_t)M), *dir = malloc(sizeof(double) * (size_t)M);
  int *R = malloc(sizeof(int) * (size_t)M), *k = calloc((size_t)M, sizeof(int)),
      *k2 = calloc((size_t)M, sizeof(int));
  BPS_CHECK_GOTO(nu && dir && R && k && k2, BPS_ERR_MEM, "out of memory");
  BPS_CHECK_GOTO(m->circuit, BPS_ERR_ARG, "no circuit");
  BPS_CALL_GOTO(bps_landscape_frequencies(m->circuit, nu, R));
  for (int p = 0; p < P; p++)
    BPS_CHECK_GOTO(R[lf->tracked[p]] == lf->R[p], BPS_ERR_INTERNAL,
                   "parameter %s: degree %d differs from sample 0's %d",
                   m->param_names[lf->tracked[p]], R[lf->tracked[p]], lf->R[p]);
  double *nuf = tail + offset(&lf->layout, "nu");
  for (int p = 0; p < P; p++) nuf[p] = nu[lf->tracked[p]];
  if (lf->directions == BPS_LAND_AXES) {
    BPS_CALL_GOTO(axes_cuts(lf, m, grad, pad, k, dir, tail));
  } else {
    random_signs(lf, seed, m->n, sample, k, k2, tail);
    if (lf->directions == BPS_LAND_PLANE)
      BPS_CALL_GOTO(plane_cut(lf, m, grad, pad, k, k2, tail));
    else BPS_CALL_GOTO(random_cut(lf, m, grad, pad, k, tail));
  }
cleanup:
  free(nu);
  free(dir);
  free(R);
  free(k);
  free(k2);
  return rc;
}

/* ------------------------------------------------------------------ result */

void bps_landfields_put(bps_landscape_n *res, long row, const double *tail) {
  for (int q = 0; q < res->nfield; q++) {
    bps_land_field *f = &res->field[q];
    long e = bps_land_field_elems(f);
    memcpy(f->data + (size_t)row * (size_t)e, tail, sizeof(double) * (size_t)e);
    tail += e;
  }
}

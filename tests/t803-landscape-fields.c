/* t803: the landscape fields of a scan (src/landfields.c), called exactly as the driver
 * calls them (plan from sample 0, one tail per sample with the adjoint gradient, result
 * rows from the tails), for DQNN toy n = 2 and VH n = 2 (natural units), every direction:
 * - the layout: field names in the documented order, shapes, the tail length;
 * - random: the direction field holds +-1 signs from (seed, n, sample, landscape) on the
 *   tracked parameters, and every cut scalar and the power equal bitwise those of
 *   bps_landscape_cut along those signs with the same gradient;
 * - axes: column p equals bps_landscape_cut along the unit vector of tracked parameter p
 *   (slope_adjoint = dir_p dC/dtheta_p), power rows zero beyond their degree;
 * - plane: the halves of the tracked parameters along t and u, the scalars and the image
 *   equal bps_landscape_plane's bitwise;
 * - slope_fft = slope_adjoint to 1e-10 and aliasing at the rounding level in every cut;
 * - nu = the parameters' base frequencies; result rows = the tails (bps_landfields_put);
 * - refusals with BPS_ERR_JOB: the QBM (no circuit), a plane of one parameter. */
#include <string.h>

#include "bps_test.h"
#include "bpscan/job.h"
#include "bpscan/landfields.h"
#include "bpscan/landscape.h"
#include "bpscan/rng.h"

#define SEED 803

static const char *const scalars[] = {"cut_mean",      "cut_var",   "aliasing",  "slope_fft",
                                      "slope_adjoint", "lipschitz", "bernstein", "spread",
                                      "cut_max",       "cut_min"};

static long off(const bps_landscape_n *l, const char *name) {
  long o = 0;
  for (int i = 0; i < l->nfield; i++) {
    if (!strcmp(l->field[i].name, name)) return o;
    o += bps_land_field_elems(&l->field[i]);
  }
  CHECK(0 && "field missing");
  return 0;
}

/* The 1-D cut scalars of r against column col (stride = columns) of the tail. */
static void same_cut(const bps_landscape_n *l, const double *tail, const bps_cut_result *r,
                     int col) {
  const double v[10] = {r->mean,      r->var,       r->alias,  r->slope_fft, r->slope_adjoint,
                        r->lipschitz, r->bernstein, r->spread, r->fmax,      r->fmin};
  for (int q = 0; q < 10; q++) CHECK(tail[off(l, scalars[q]) + col] == v[q]);
  CHECK_CLOSE(r->slope_fft, r->slope_adjoint, 0, 1e-10 * (1 + fabs(r->slope_adjoint)));
  CHECK(r->alias <= 1e-13);
}

static void check_layout(const bps_landfields *lf, int dirs, int P) {
  const bps_landscape_n *l = &lf->layout;
  const char *const order[3][13] = {{"power", "direction", "nu"},
                                    {"power", "nu"},
                                    {"power", "direction", "nu", "image"}};
  const int extra = dirs == BPS_LAND_RANDOM ? 3 : dirs == BPS_LAND_AXES ? 2 : 4;
  CHECK(l->nfield == 10 + extra);
  long len = 0;
  for (int i = 0; i < l->nfield; i++) {
    CHECK(!strcmp(l->field[i].name, i < 10 ? scalars[i] : order[dirs][i - 10]));
    len += bps_land_field_elems(&l->field[i]);
  }
  CHECK(lf->len == len);
  CHECK(l->ncut == (dirs == BPS_LAND_AXES ? P : 1));
  CHECK(l->ndeg == (dirs == BPS_LAND_AXES ? P : dirs == BPS_LAND_PLANE ? 2 : 1));
  for (int d = 0; d < l->ndeg; d++) {
    int N = 0;
    CHECK_OK(bps_landscape_size(l->degree[d], -1, &N));
    CHECK(l->size[d] == N);
  }
}

/* Sample s of the planned n: the driver's call, then the same cuts made directly. */
static void check_sample(const bps_model_spec *spec, bps_repr repr, const bps_landfields *lf,
                         uint32_t s, double *tail) {
  const bps_landscape_n *l = &lf->layout;
  const int P = lf->ntracked;
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create(spec, 2, SEED, s, repr, &m));
  const int M = m->nparams;
  double *grad = malloc(sizeof(double) * (size_t)M), *nu = malloc(sizeof(double) * (size_t)M);
  double *dir = malloc(sizeof(double) * (size_t)M), cost = 0;
  int *R = malloc(sizeof(int) * (size_t)M), *k = calloc((size_t)M, sizeof(int)),
      *k2 = calloc((size_t)M, sizeof(int));
  CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &cost, grad));
  CHECK_OK(bps_landfields_sample(lf, m, SEED, s, grad, tail));
  CHECK_OK(bps_landscape_frequencies(m->circuit, nu, R));
  for (int p = 0; p < P; p++) CHECK(tail[off(l, "nu") + p] == nu[lf->tracked[p]]);
  if (lf->directions == BPS_LAND_AXES) {
    const long K1 = l->field[10].dims[1]; /* power [P, Kmax + 1] */
    for (int p = 0; p < P; p++) {
      const int j = lf->tracked[p];
      bps_cut_result r;
      k[j] = 1;
      CHECK_OK(bps_landscape_direction(m->circuit, k, dir));
      CHECK_OK(bps_landscape_cut(m, m->theta, k, NULL, l->pad, &r));
      k[j] = 0;
      r.slope_adjoint = dir[j] * grad[j];
      same_cut(l, tail + 0, &r, p);
      for (long q = 0; q < K1; q++)
        CHECK(tail[off(l, "power") + p * K1 + q] == (q <= r.K ? r.W[q] : 0.0));
      bps_cut_result_free(&r);
    }
  } else {
    /* the signs: +-1 from the landscape stream, the plane's second half along u */
    const int plane = lf->directions == BPS_LAND_PLANE, h = plane ? (P + 1) / 2 : P;
    bps_rng g;
    bps_rng_init(&g, SEED, 2, s, BPS_STREAM_LANDSCAPE, 0);
    for (int p = 0; p < P; p++) {
      const int sign = (bps_rng_u32(&g) & 1u) ? 1 : -1;
      (p < h ? k : k2)[lf->tracked[p]] = sign;
      CHECK(tail[off(l, "direction") + p] == (p < h ? sign : 0));
      if (plane) CHECK(tail[off(l, "direction") + P + p] == (p < h ? 0 : sign));
    }
    if (!plane) {
      bps_cut_result r;
      CHECK_OK(bps_landscape_cut(m, m->theta, k, grad, l->pad, &r));
      same_cut(l, tail, &r, 0);
      CHECK(!memcmp(tail + off(l, "power"), r.W, sizeof(double) * (size_t)(r.K + 1)));
      bps_cut_result_free(&r);
    } else {
      bps_plane_result r;
      const size_t ni = (size_t)l->size[0] * (size_t)l->size[1];
      double *img = malloc(sizeof(double) * ni);
      CHECK_OK(bps_landscape_plane(m, m->theta, k, k2, grad, l->pad, img, &r));
      const double v[10] = {r.mean,      r.var,       r.alias,  0,      0,
                            r.lipschitz, r.bernstein, r.spread, r.fmax, r.fmin};
      for (int q = 0; q < 10; q++) {
        const long o = off(l, scalars[q]);
        if (q == 3 || q == 4) {
          const double *two = q == 3 ? r.slope_fft : r.slope_adjoint;
          CHECK(tail[o] == two[0] && tail[o + 1] == two[1]);
        } else {
          CHECK(tail[o] == v[q]);
        }
      }
      for (int i = 0; i < 2; i++)
        CHECK_CLOSE(r.slope_fft[i], r.slope_adjoint[i], 0, 1e-10 * (1 + fabs(r.slope_adjoint[i])));
      CHECK(r.alias <= 1e-13);
      CHECK(!memcmp(tail + off(l, "power"), r.W, sizeof(double) * (size_t)r.nW));
      CHECK(!memcmp(tail + off(l, "image"), img, sizeof(double) * ni));
      bps_plane_result_free(&r);
      free(img);
    }
  }
  free(grad);
  free(nu);
  free(dir);
  free(R);
  free(k);
  free(k2);
  bps_model_instance_destroy(&m);
}

static void check_model(const char *what, const bps_model_spec *spec, bps_repr repr, int dirs,
                        int P) {
  const int S = 3;
  bps_model_instance *m0 = NULL;
  CHECK_OK(bps_model_instance_create(spec, 2, SEED, 0, repr, &m0));
  int *tracked = malloc(sizeof(int) * (size_t)P);
  for (int p = 0; p < P; p++) tracked[p] = (p * 5) % m0->nparams; /* a spread of parameters */
  if (P == m0->nparams)
    for (int p = 0; p < P; p++) tracked[p] = p;
  bps_landfields lf;
  CHECK_OK(bps_landfields_plan(m0, tracked, P, dirs, 4, &lf));
  bps_model_instance_destroy(&m0);
  check_layout(&lf, dirs, P);
  double *tails = calloc((size_t)S * (size_t)lf.len, sizeof(double));
  for (int s = 0; s < S; s++) check_sample(spec, repr, &lf, (uint32_t)s, tails + s * lf.len);
  /* the result rows are the tails, field by field */
  bps_landscape_n *res = NULL;
  CHECK_OK(bps_landscape_n_alloc(&lf.layout, S, &res));
  for (int s = 0; s < S; s++) bps_landfields_put(res, s, tails + s * lf.len);
  for (int s = 0; s < S; s++) {
    const double *t = tails + s * lf.len;
    for (int i = 0; i < res->nfield; i++) {
      long e = bps_land_field_elems(&res->field[i]);
      CHECK(!memcmp(res->field[i].data + s * e, t, sizeof(double) * (size_t)e));
      t += e;
    }
  }
  printf("  %-10s %-6s P=%d: %d fields, %ld values per sample, degrees %d..%d\n", what,
         lf.layout.directions, P, lf.layout.nfield, lf.len, lf.layout.degree[0],
         lf.layout.degree[lf.layout.ndeg - 1]);
  bps_landscape_n_free(res);
  free(res);
  free(tails);
  free(tracked);
  bps_landfields_free(&lf);
}

static void check_refusals(void) {
  bps_model_spec s;
  bps_model_instance *m = NULL;
  bps_landfields lf;
  int t[2] = {0, 1};
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_QBM;
  CHECK_OK(bps_model_instance_create(&s, 1, SEED, 0, BPS_DENSE, &m));
  CHECK(bps_landfields_plan(m, t, 1, BPS_LAND_RANDOM, 4, &lf) == BPS_ERR_JOB);
  CHECK(strstr(bps_error_message(), "circuit model") != NULL);
  bps_error_clear();
  bps_model_instance_destroy(&m);
  bps_model_spec_default(&s);
  CHECK_OK(bps_model_instance_create(&s, 2, SEED, 0, BPS_FACTORED, &m));
  CHECK(bps_landfields_plan(m, t, 1, BPS_LAND_PLANE, 4, &lf) == BPS_ERR_JOB);
  CHECK(strstr(bps_error_message(), "at least 2 parameters") != NULL);
  bps_error_clear();
  bps_model_instance_destroy(&m);
}

int main(void) {
  bps_model_spec toy, vh;
  bps_model_spec_default(&toy);
  toy.perceptron = BPS_PERC_TOY;
  bps_model_spec_default(&vh);
  vh.kind = BPS_MODEL_VH;
  for (int dirs = BPS_LAND_RANDOM; dirs <= BPS_LAND_PLANE; dirs++) {
    check_model("dqnn toy", &toy, BPS_FACTORED, dirs, 2);
    check_model("vh", &vh, BPS_DENSE, dirs, dirs == BPS_LAND_PLANE ? 4 : 6);
  }
  check_refusals();
  bps_landscape_cleanup();
  return bps_test_result("t803-landscape-fields");
}

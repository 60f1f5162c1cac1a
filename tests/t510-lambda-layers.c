/* t510: the factored adjoint carries Lambda = O A through every operation (circuit.c,
 * heisenberg.c bps_lambda_*). Multi-layer DQNNs (3 and 4 layers, 2,n,2) of every family,
 * global and local costs, every noise kind and placement: factored adjoint = parameter
 * shift and = dense adjoint to 1e-12 (relative to the largest gradient entry, floor 1);
 * VH and HEA circuits the same; bitwise identical gradients for 1 and 2 threads.
 * The fused method (BPS_GRAD_FUSED: one backward step per run of rotations on the same
 * qubits) on every case, dense and factored: the same cost value as the adjoint (bitwise),
 * gradients = adjoint and = shift to 1e-12 (same scale); bitwise 1 vs 2 threads. */
#include <math.h>
#include <string.h>

#include "bps_test.h"
#include "bpscan/circuit.h"
#include "bpscan/model.h"
#include "bpscan/state.h"
#include "bpscan/threads.h"

#define TOL 1e-12

static double worst_all = 0, worst_fused = 0;

static double rel_diff(int P, const double *a, const double *b) {
  double scale = 1.0, d = 0;
  for (int p = 0; p < P; p++) scale = fmax(scale, fabs(a[p]));
  for (int p = 0; p < P; p++) d = fmax(d, fabs(a[p] - b[p]));
  return d / scale;
}

/* factored adjoint vs factored shift vs dense adjoint for one spec */
static void compare(const bps_model_spec *s, int n, uint32_t sample, const char *what) {
  bps_model_instance *mf = NULL, *md = NULL;
  CHECK_OK(bps_model_instance_create(s, n, 510, sample, BPS_FACTORED, &mf));
  CHECK_OK(bps_model_instance_create(s, n, 510, sample, BPS_DENSE, &md));
  double t0 = bps_wtime();
  if (!mf || !md) return;
  int P = mf->nparams;
  CHECK(P == md->nparams && P > 0);
  double *ga = calloc((size_t)P, sizeof(double)), *gs = calloc((size_t)P, sizeof(double)),
         *gd = calloc((size_t)P, sizeof(double));
  double va = 0, vs = 0, vd = 0;
  CHECK_OK(bps_model_cost_grad(mf, mf->theta, BPS_GRAD_ADJOINT, &va, ga));
  CHECK_OK(bps_model_cost_grad(mf, mf->theta, BPS_GRAD_SHIFT, &vs, gs));
  CHECK_OK(bps_model_cost_grad(md, md->theta, BPS_GRAD_ADJOINT, &vd, gd));
  /* fused, factored and dense */
  double *gff = calloc((size_t)P, sizeof(double)), *gfd = calloc((size_t)P, sizeof(double));
  double vff = 0, vfd = 0;
  CHECK_OK(bps_model_cost_grad(mf, mf->theta, BPS_GRAD_FUSED, &vff, gff));
  CHECK_OK(bps_model_cost_grad(md, md->theta, BPS_GRAD_FUSED, &vfd, gfd));
  CHECK(vff == va && vfd == vd); /* the forward pass is the adjoint's */
  double f1 = fmax(rel_diff(P, ga, gff), rel_diff(P, gd, gfd));
  double f2 = fmax(rel_diff(P, gs, gff), rel_diff(P, gs, gfd));
  if (f1 > TOL || f2 > TOL)
    fprintf(stderr, "%s n=%d: |fused-adj| %.3g |fused-shift| %.3g\n", what, n, f1, f2);
  CHECK(f1 <= TOL && f2 <= TOL);
  worst_fused = fmax(worst_fused, fmax(f1, f2));
  free(gff);
  free(gfd);
  double e1 = rel_diff(P, ga, gs), e2 = rel_diff(P, ga, gd);
  double ev = fmax(fabs(va - vs), fabs(va - vd)) / fmax(1.0, fabs(va));
  double gmax = 0;
  for (int p = 0; p < P; p++) gmax = fmax(gmax, fabs(ga[p]));
  if (e1 > TOL || e2 > TOL || ev > TOL || !(gmax > 0))
    fprintf(stderr, "%s n=%d: |adj-shift| %.3g |fact-dense| %.3g |value| %.3g max|g| %.3g\n",
            what, n, e1, e2, ev, gmax);
  CHECK(e1 <= TOL && e2 <= TOL && ev <= TOL);
  if (getenv("T510_TIMES"))
    fprintf(stderr, "%-40s n=%d P=%d %.2fs\n", what, n, P, bps_wtime() - t0);
  CHECK(gmax > 0); /* a vanishing gradient would test nothing */
  worst_all = fmax(worst_all, fmax(e1, e2));
  free(ga);
  free(gs);
  free(gd);
  bps_model_instance_destroy(&mf);
  bps_model_instance_destroy(&md);
}

static void test_dqnn(void) {
  static const bps_perceptron fam[5] = {BPS_PERC_HAAR, BPS_PERC_TOY, BPS_PERC_BRICK,
                                        BPS_PERC_NISQ, BPS_PERC_PAULI};
  static const char *famname[5] = {"haar", "toy", "brick", "nisq", "pauli"};
  static const char *wid[4] = {"n,n,n", "n,n,n,n", "2,n,2", "n,n"};
  static const bps_noise_kind nk[4] = {BPS_NOISE_DEPOLARIZING, BPS_NOISE_DEPHASING,
                                       BPS_NOISE_AMPLITUDE_DAMPING, BPS_NOISE_GLOBAL_DEPOLARIZING};
  int cases = 0;
  for (int f = 0; f < 5; f++)
    for (int w = 0; w < 4; w++)
      for (int cost = 0; cost < 2; cost++)
        for (int noise = 0; noise < 6; noise++)
          for (int n = 2; n <= 3; n++) {
            /* n = 3: a sixth of the grid, 4 layers: a third (run time) */
            if (n == 3 && (f + w + cost + noise) % 6) continue;
            if (w == 1 && (f + cost + noise + n) % 3) continue;
            if (fam[f] == BPS_PERC_TOY && w == 2) continue;   /* toy needs equal widths */
            if (fam[f] == BPS_PERC_BRICK && w == 2) continue; /* brick: "n,n" only */
            bps_model_spec s;
            bps_model_spec_default(&s);
            s.kind = BPS_MODEL_DQNN;
            s.perceptron = fam[f];
            snprintf(s.widths, sizeof s.widths, "%s", wid[w]);
            s.depth = fam[f] == BPS_PERC_PAULI ? 2 : 0;
            if (fam[f] == BPS_PERC_BRICK) { /* 2 * depth layers of width n */
              snprintf(s.widths, sizeof s.widths, "n,n");
              s.depth = w == 3 ? 1 : 2;
            }
            s.inputs = BPS_INPUT_HAAR;
            s.cost = cost ? BPS_COST_LOCAL : BPS_COST_GLOBAL;
            s.targets = (cost || w % 2) ? BPS_TARGET_PRODUCT : BPS_TARGET_UNITARY;
            s.pairs = cost ? 1 : 2;
            if (noise) { /* 1..4 every kind after each gate (global: after the layer); 5 after layer */
              s.noise = noise == 5 ? nk[1] : nk[noise - 1];
              s.noise_placement = (noise >= 4) ? BPS_NOISE_AFTER_LAYER : BPS_NOISE_AFTER_GATE;
              s.noise_p = 0.05 + 0.1 * (noise % 3);
            }
            char what[128];
            snprintf(what, sizeof what, "%s %s %s noise=%d", famname[f], wid[w],
                     cost ? "local" : "global", noise);
            compare(&s, n, (uint32_t)(cases % 7), what);
            cases++;
          }
  printf("dqnn: %d cases, worst relative difference %.3g, fused vs adjoint and shift %.3g\n",
         cases, worst_all, worst_fused);
}

static void test_vh_hea(void) {
  for (int n = 2; n <= 4; n++) {
    bps_model_spec s;
    bps_model_spec_default(&s);
    s.kind = BPS_MODEL_VH;
    compare(&s, n, 1, "vh");
    bps_model_spec_default(&s);
    s.kind = BPS_MODEL_HEA;
    compare(&s, n, 2, "hea");
    s.cost = BPS_COST_LOCAL;
    compare(&s, n, 3, "hea local");
  }
}

/* 1 vs 2 threads: bitwise the same factored gradient (kernels run parallel at n = 5) */
static void test_threads(void) {
  bps_model_spec s;
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_DQNN;
  snprintf(s.widths, sizeof s.widths, "n,n,n");
  s.cost = BPS_COST_LOCAL;
  s.inputs = BPS_INPUT_HAAR;
  s.targets = BPS_TARGET_PRODUCT;
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create(&s, 5, 510, 0, BPS_FACTORED, &m));
  if (!m) return;
  int P = m->nparams, T = bps_threads_max();
  double *g1 = calloc((size_t)P, sizeof(double)), *g2 = calloc((size_t)P, sizeof(double)), v1, v2;
  bps_threads_set(1);
  CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &v1, g1));
  bps_threads_set(2);
  CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &v2, g2));
  bps_threads_set(T);
  CHECK(v1 == v2 && memcmp(g1, g2, sizeof(double) * (size_t)P) == 0);
  free(g1);
  free(g2);
  bps_model_instance_destroy(&m);
}

/* fused, 1 vs 2 threads: bitwise the same gradient, factored nisq n = 5 (n,n,n) and dense
 * noisy nisq n = 4 (n,n: 8-qubit matrices), where the kernels and the Gram sweeps run
 * parallel */
static void test_threads_fused(void) {
  for (int dense = 0; dense <= 1; dense++) {
    bps_model_spec s;
    bps_model_spec_default(&s);
    s.kind = BPS_MODEL_DQNN;
    s.perceptron = BPS_PERC_NISQ;
    snprintf(s.widths, sizeof s.widths, dense ? "n,n" : "n,n,n");
    s.cost = BPS_COST_LOCAL;
    s.inputs = BPS_INPUT_HAAR;
    s.targets = BPS_TARGET_PRODUCT;
    if (dense) {
      s.noise = BPS_NOISE_DEPOLARIZING;
      s.noise_p = 0.1;
    }
    bps_model_instance *m = NULL;
    CHECK_OK(bps_model_instance_create(&s, dense ? 4 : 5, 510, 0,
                                       dense ? BPS_DENSE : BPS_FACTORED, &m));
    if (!m) return;
    int P = m->nparams, T = bps_threads_max();
    double *g1 = calloc((size_t)P, sizeof(double)), *g2 = calloc((size_t)P, sizeof(double));
    double *ga = calloc((size_t)P, sizeof(double)), v1, v2, va;
    bps_threads_set(1);
    CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_FUSED, &v1, g1));
    bps_threads_set(2);
    CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_FUSED, &v2, g2));
    CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &va, ga));
    bps_threads_set(T);
    CHECK(v1 == v2 && memcmp(g1, g2, sizeof(double) * (size_t)P) == 0);
    CHECK(rel_diff(P, ga, g1) <= TOL);
    printf("fused threads %s: 1 vs 2 bitwise %s, |fused - adjoint| %.3g\n",
           dense ? "dense" : "factored",
           memcmp(g1, g2, sizeof(double) * (size_t)P) ? "NO" : "yes", rel_diff(P, ga, g1));
    free(g1);
    free(g2);
    free(ga);
    bps_model_instance_destroy(&m);
  }
}

int main(void) {
  bps_par_min_set((bps_idx)1 << 14); /* parallel branches from 2^14 elements (threads.h) */
  test_dqnn();
  test_vh_hea();
  test_threads();
  test_threads_fused();
  return bps_test_result("t510-lambda-layers");
}

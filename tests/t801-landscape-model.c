/* t801: landscape cuts of real model instances (src/landscape.c, physics.md Secs. 4.7, 5).
 * - DQNN toy (global and local cost), DQNN haar (with and without local depolarising
 *   noise), HEA McClean and ALT: random integer directions k (entries -2..2 from
 *   BPS_STREAM_LANDSCAPE): the FFT slope f'(0) equals the adjoint k . grad C(theta0) to
 *   1e-10, the aliasing measure is at the rounding level (1e-13), the spectrum reproduces
 *   C(theta0), and lipschitz <= bernstein;
 * - a deliberately mis-declared degree (K - 1, K - 2) triggers the aliasing report;
 * - models whose cut is not a trigonometric polynomial are refused: VH (random couplings,
 *   non-integer frequencies) with BPS_ERR_ARG naming the parameter; a VH cut with k = 0 on
 *   every such parameter is still accepted.
 * - Toy model (C_G = 1 - prod cos^2(theta_j/2), C_L = 1 - (1/n) sum cos^2(theta_j/2)),
 *   n = 2, 3, what is tested:
 *   (a) axis cut along theta_j, per sample: c_0 = 1 - A/2 and W_1 = A^2/8 (global) with
 *       A = prod_{i != j} cos^2(theta0_i/2); W_k = 0 for k >= 2; the grid mean of
 *       (f - c_0)^2 equals var (Parseval on the cut);
 *   (b) averaged over S samples: E[W_1] of the axis cut = Var[d_j C] = sum_w w_j^2 |c_w|^2
 *       (Sec. 5.4; the mode sum over w with w_j = +-1 is what the theta0-average of the
 *       cut's |c_1|^2 picks out) = (1/8)(3/8)^(n-1) (global), 1/(8 n^2) (local), within
 *       4 SE; and E[f'(0)^2] (FFT slopes) agrees with the same value within 4 SE;
 *   (c) the balanced-ternary direction k_j = 3^j maps the torus modes w in {-1,0,1}^n
 *       one-to-one onto the cut degrees m = w . k, so the cut's power by degree is the
 *       full-torus spectrum: per sample, mean = E C and var = Var C = (3/8)^n - (1/4)^n
 *       (global), 1/(8n) (local) to 1e-13, and every W_m = 2 |c_w|^2 with
 *       |c_w| = prod_j (1/2 if w_j = 0 else 1/4) (global; local: 1/(4n) on single-qubit
 *       modes, 0 otherwise) to 1e-14; the average over samples then trivially reproduces
 *       Var C. */
#include <string.h>

#include "bps_test.h"
#include "bpscan/landscape.h"
#include "bpscan/model.h"
#include "bpscan/rng.h"

static double worst_slope = 0, worst_alias = 0;

static bps_model_spec toy_spec(int n_unused, bps_cost_type cost) {
  (void)n_unused;
  bps_model_spec s;
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_DQNN;
  s.perceptron = BPS_PERC_TOY;
  snprintf(s.widths, sizeof s.widths, "n,n");
  s.inputs = BPS_INPUT_ZERO;
  s.targets = BPS_TARGET_ZERO;
  s.cost = cost;
  return s;
}

/* random directions on one instance: slope, aliasing, f0, Bernstein, mis-declaration */
static void check_instance(const char *what, const bps_model_spec *spec, int n, uint32_t sample,
                           int ndir) {
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create(spec, n, 801, sample, BPS_FACTORED, &m));
  const int M = m->nparams;
  int *k = calloc((size_t)M, sizeof(int));
  bps_rng r;
  bps_rng_init(&r, 801, (uint32_t)n, sample, BPS_STREAM_LANDSCAPE, 0);
  for (int d = 0; d < ndir; d++) {
    int nz = 0;
    for (int j = 0; j < M; j++) {
      k[j] = (int)(bps_rng_u32(&r) % 5) - 2;
      nz += k[j] != 0;
    }
    if (!nz) k[0] = 1;
    bps_cut_result res;
    CHECK_OK(bps_landscape_cut(m, m->theta, k, &res));
    double scale = 1.0 + fabs(res.slope_adjoint);
    CHECK_CLOSE(res.slope_fft, res.slope_adjoint, 0, 1e-10 * scale);
    worst_slope = fmax(worst_slope, fabs(res.slope_fft - res.slope_adjoint) / scale);
    CHECK(res.alias <= 1e-13);
    worst_alias = fmax(worst_alias, res.alias);
    double f0 = res.mean; /* f(0) from the spectrum */
    for (int q = 1; q <= res.K; q++) f0 += 2.0 * creal(res.c[q]);
    CHECK_CLOSE(f0, res.f0, 0, 1e-12);
    CHECK(res.lipschitz <= res.bernstein * (1 + 1e-12) + 1e-14);
    CHECK(res.lipschitz >= fabs(res.slope_fft) - 1e-12);
    if (d == 0)
      printf("  %-22s n=%d M=%d K=%d N=%d slope fft %+.15f adjoint %+.15f alias %.2g "
             "lip %.4g bern %.4g var %.4g\n",
             what, n, M, res.K, res.N, res.slope_fft, res.slope_adjoint, res.alias,
             res.lipschitz, res.bernstein, res.var);
    /* the top degree carries power for a generic direction: hide it */
    int K = res.K;
    double top = res.W[K] + (K >= 2 ? res.W[K - 1] : 0.0);
    bps_cut_result_free(&res);
    if (K >= 2 && top > 1e-10) {
      int Kd = K - 2, Nd = 0;
      CHECK_OK(bps_landscape_size(Kd, -1, &Nd));
      double *f = malloc(sizeof(double) * (size_t)Nd);
      CHECK_OK(bps_cut_sample(m, m->theta, k, Nd, f));
      CHECK_OK(bps_cut_analyse(f, Nd, Kd, 0, &res));
      CHECK(res.alias >= 0.5 * sqrt(top / 2.0 / 2.0)); /* max |c_k| of the hidden two */
      CHECK(res.alias > 1e-8);
      bps_cut_result_free(&res);
      free(f);
    }
  }
  free(k);
  bps_model_instance_destroy(&m);
}

static double cos2(double x) { return cos(0.5 * x) * cos(0.5 * x); }

static void toy_parseval(int n, bps_cost_type cost, int S) {
  bps_model_spec spec = toy_spec(n, cost);
  const int global = cost == BPS_COST_GLOBAL;
  const double varC = global ? pow(3.0 / 8.0, n) - pow(0.25, n) : 1.0 / (8.0 * n);
  const double meanC = global ? 1.0 - ldexp(1.0, -n) : 0.5;
  const double vard = global ? 0.125 * pow(3.0 / 8.0, n - 1) : 1.0 / (8.0 * n * n);
  double sw = 0, sw2 = 0, ss = 0, ss2 = 0, worst_c = 0, worst_t = 0;
  int *kax = calloc((size_t)n, sizeof(int)), *kt = calloc((size_t)n, sizeof(int));
  for (int j = 0, p = 1; j < n; j++, p *= 3) kt[j] = p;
  for (int smp = 0; smp < S; smp++) {
    bps_model_instance *m = NULL;
    CHECK_OK(bps_model_instance_create(&spec, n, 8011, (uint32_t)smp, BPS_FACTORED, &m));
    CHECK(m->nparams == n);
    const int j = smp % n;
    for (int i = 0; i < n; i++) kax[i] = i == j;
    bps_cut_result res;
    /* (a) axis cut */
    CHECK_OK(bps_landscape_cut(m, m->theta, kax, &res));
    CHECK(res.K == 1 && res.N == 7);
    double A = 1, B = 0;
    for (int i = 0; i < n; i++)
      if (i != j) {
        A *= cos2(m->theta[i]);
        B += cos2(m->theta[i]);
      }
    double c0 = global ? 1.0 - 0.5 * A : 1.0 - (B + 0.5) / n;
    double W1 = global ? A * A / 8.0 : 1.0 / (8.0 * n * n);
    worst_c = fmax(worst_c, fabs(res.mean - c0));
    worst_c = fmax(worst_c, fabs(res.W[1] - W1));
    CHECK(res.alias <= 1e-14); /* W_k = 0 for k >= 2 (bins 2, 3 of N = 7) */
    double *f = malloc(sizeof(double) * 7);
    CHECK_OK(bps_cut_sample(m, m->theta, kax, 7, f));
    double gm = 0;
    for (int s = 0; s < 7; s++) gm += (f[s] - res.mean) * (f[s] - res.mean);
    CHECK_CLOSE(gm / 7, res.var, 1e-12, 1e-15);
    CHECK_CLOSE(res.var, res.W[1], 0, 0);
    free(f);
    sw += res.W[1];
    sw2 += res.W[1] * res.W[1];
    ss += res.slope_fft * res.slope_fft;
    ss2 += pow(res.slope_fft, 4);
    bps_cut_result_free(&res);
    /* (c) balanced-ternary cut */
    CHECK_OK(bps_landscape_cut(m, m->theta, kt, &res));
    int K = (kt[n - 1] * 3 - 1) / 2;
    CHECK(res.K == K);
    CHECK(fabs(res.mean - meanC) <= 1e-13 && fabs(res.var - varC) <= 1e-13);
    worst_t = fmax(worst_t, fmax(fabs(res.mean - meanC), fabs(res.var - varC)));
    CHECK(res.alias <= 1e-13);
    for (int q = 1; q <= K; q++) { /* balanced-ternary digits of q */
      int x = q, zeros = 0, nonzero = 0;
      for (int d = 0; d < n; d++) {
        int r = ((x % 3) + 3) % 3;
        if (r == 2) r = -1;
        zeros += r == 0;
        nonzero += r != 0;
        x = (x - r) / 3;
      }
      double cw = global ? pow(0.5, zeros) * pow(0.25, nonzero)
                         : (nonzero == 1 ? 1.0 / (4.0 * n) : 0.0);
      double err = fabs(res.W[q] - 2 * cw * cw);
      worst_t = fmax(worst_t, err);
      if (err > 1e-14) {
        CHECK(err <= 1e-14);
        fprintf(stderr, "  n=%d W[%d] = %.17g, expected %.17g\n", n, q, res.W[q], 2 * cw * cw);
      }
    }
    bps_cut_result_free(&res);
    bps_model_instance_destroy(&m);
  }
  CHECK(worst_c <= 1e-13);
  double mw = sw / S, sew = sqrt(fmax(sw2 / S - mw * mw, 0) / S);
  double ms = ss / S, ses = sqrt(fmax(ss2 / S - ms * ms, 0) / S);
  printf("  toy n=%d %s S=%d: axis cut E[W_1] = %.6f +- %.2g, E[f'(0)^2] = %.6f +- %.2g, "
         "Var dC = %.6f; per-sample |c_0|,|W_1| err %.2g; ternary cut Var C = %.6f "
         "(err %.2g over all W_m)\n",
         n, global ? "global" : "local", S, mw, sew, ms, ses, vard, worst_c, varC, worst_t);
  if (global) {
    CHECK(fabs(mw - vard) <= 4 * sew);
  } else {
    CHECK_CLOSE(mw, vard, 0, 1e-14); /* local: W_1 = 1/(8n^2) on every sample */
  }
  CHECK(fabs(ms - vard) <= 4 * ses);
  free(kax);
  free(kt);
}

static void check_refusals(void) {
  bps_model_spec s;
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_VH;
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create(&s, 2, 801, 0, BPS_DENSE, &m));
  double *R = malloc(sizeof(double) * (size_t)m->circuit->nparams);
  CHECK_OK(bps_landscape_frequencies(m->circuit, R));
  int *k = calloc((size_t)m->nparams, sizeof(int));
  int bad = -1, good = -1;
  for (int j = 0; j < m->circuit->nparams; j++) {
    if (fabs(R[j] - nearbyint(R[j])) > 1e-6 && bad < 0) bad = j;
    if (R[j] > 0 && fabs(R[j] - nearbyint(R[j])) == 0 && good < 0) good = j;
  }
  CHECK(bad >= 0);
  if (bad >= 0) {
    k[bad] = 1;
    bps_cut_result res;
    int rc = bps_landscape_cut(m, m->theta, k, &res);
    CHECK(rc == BPS_ERR_ARG);
    CHECK(strstr(bps_error_message(), "non-integer frequency") != NULL);
    CHECK(strstr(bps_error_message(), m->param_names[bad]) != NULL);
    printf("  refused as expected: %s\n", bps_error_message());
    bps_error_clear();
    k[bad] = 0;
  }
  if (good >= 0) { /* a cut along an integer-frequency parameter only is fine */
    k[good] = 1;
    bps_cut_result res;
    CHECK_OK(bps_landscape_cut(m, m->theta, k, &res));
    CHECK(res.alias <= 1e-13);
    CHECK_CLOSE(res.slope_fft, res.slope_adjoint, 0, 1e-10);
    bps_cut_result_free(&res);
  }
  free(k);
  free(R);
  bps_model_instance_destroy(&m);
}

int main(void) {
  bps_model_spec s;
  for (int n = 2; n <= 3; n++) {
    s = toy_spec(n, BPS_COST_GLOBAL);
    check_instance("dqnn toy global", &s, n, 1, 6);
    s = toy_spec(n, BPS_COST_LOCAL);
    check_instance("dqnn toy local", &s, n, 2, 6);
    bps_model_spec_default(&s); /* dqnn n,n haar, global */
    s.kind = BPS_MODEL_DQNN;
    s.perceptron = BPS_PERC_HAAR;
    check_instance("dqnn haar", &s, n, 3, 6);
    s.noise = BPS_NOISE_DEPOLARIZING;
    s.noise_p = 0.1;
    check_instance("dqnn haar depol 0.1", &s, n, 4, 4);
    bps_model_spec_default(&s);
    s.kind = BPS_MODEL_HEA;
    s.hea = BPS_HEA_MCCLEAN;
    s.hea_layers = 2;
    check_instance("hea mcclean L=2", &s, n, 5, 6);
    s.hea = BPS_HEA_ALT;
    s.cost = BPS_COST_LOCAL;
    check_instance("hea alt local L=2", &s, n, 6, 6);
  }
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_DQNN;
  s.perceptron = BPS_PERC_HAAR;
  snprintf(s.widths, sizeof s.widths, "2,3,2");
  check_instance("dqnn haar 2,3,2", &s, 2, 7, 4);
  printf("worst |slope_fft - slope_adjoint|/(1+|slope|) %.3g, worst alias %.3g\n", worst_slope,
         worst_alias);
  for (int n = 2; n <= 3; n++) {
    toy_parseval(n, BPS_COST_GLOBAL, 1200);
    toy_parseval(n, BPS_COST_LOCAL, 200);
  }
  check_refusals();
  bps_landscape_cleanup();
  return bps_test_result("t801-landscape-model");
}

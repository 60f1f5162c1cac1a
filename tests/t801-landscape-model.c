/* t801: landscape cuts of real model instances (src/landscape.c, physics.md Secs. 4.7, 5).
 * - DQNN toy (global and local cost), DQNN haar (with and without local depolarising
 *   noise), HEA McClean and ALT, VH (random couplings J_t ~ N(0,1): base frequencies
 *   nu = 2|J_t|, natural units) with and without dephasing: random integer directions k
 *   (entries -2..2 from BPS_STREAM_LANDSCAPE) through bps_landscape_cut (the function the
 *   scan's landscape fields use) with the adjoint gradient: the FFT slope f'(0) equals
 *   dir . grad C(theta0) to 1e-10 (relative to 1 + |slope|), the aliasing measure is at
 *   the rounding level (1e-13), the spectrum reproduces C(theta0), and
 *   lipschitz <= bernstein;
 * - a deliberately mis-declared degree (K - 1, K - 2) triggers the aliasing report;
 * - VH natural units: a cut along one coupling's angle has degree 1 and period 2 pi in t,
 *   i.e. period 2 pi / (2|J|) in theta (checked against a direct evaluation);
 * - refusals: a hand-built circuit with an incommensurate parameter (scales 0.5 and
 *   0.5 sqrt 2) through bps_landscape_degree, naming it; the QBM (no circuit program)
 *   through bps_landscape_cut.
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
                           int ndir, bps_repr repr) {
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create(spec, n, 801, sample, repr, &m));
  const int M = m->nparams;
  CHECK(m->circuit && m->circuit->nparams == M);
  int *k = calloc((size_t)M, sizeof(int));
  double *dir = calloc((size_t)M, sizeof(double)), *grad = calloc((size_t)M, sizeof(double));
  double c_theta0 = 0; /* C(theta0) and its gradient by the adjoint method */
  CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &c_theta0, grad));
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
    CHECK_OK(bps_landscape_cut(m, m->theta, k, grad, 0, &res));
    double scale = 1.0 + fabs(res.slope_adjoint);
    CHECK_CLOSE(res.slope_fft, res.slope_adjoint, 0, 1e-10 * scale);
    worst_slope = fmax(worst_slope, fabs(res.slope_fft - res.slope_adjoint) / scale);
    CHECK(res.alias <= 1e-13);
    worst_alias = fmax(worst_alias, res.alias);
    double f0 = res.mean; /* f(0) from the spectrum */
    for (int q = 1; q <= res.K; q++) f0 += 2.0 * creal(res.c[q]);
    CHECK_CLOSE(f0, c_theta0, 0, 1e-12);
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
      CHECK_OK(bps_landscape_direction(m->circuit, k, dir));
      CHECK_OK(bps_cut_sample(m, m->theta, dir, Nd, f));
      CHECK_OK(bps_cut_analyse(f, Nd, Kd, 0, &res));
      CHECK(res.alias >= 0.5 * sqrt(top / 2.0 / 2.0)); /* max |c_k| of the hidden two */
      CHECK(res.alias > 1e-8);
      bps_cut_result_free(&res);
      free(f);
    }
  }
  free(k);
  free(dir);
  free(grad);
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
    CHECK_OK(bps_landscape_cut(m, m->theta, kax, NULL, 0, &res));
    CHECK(isnan(res.slope_adjoint)); /* no gradient given */
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
    double *f = malloc(sizeof(double) * 7), dax[3];
    CHECK_OK(bps_landscape_direction(m->circuit, kax, dax));
    for (int i = 0; i < n; i++) CHECK(dax[i] == kax[i]); /* R_y angles: nu = 1 */
    CHECK_OK(bps_cut_sample(m, m->theta, dax, 7, f));
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
    CHECK_OK(bps_landscape_cut(m, m->theta, kt, NULL, 0, &res));
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

/* VH in natural units: a cut along one angle is exp(-i J theta h) with phase 2|J| theta */
static void check_vh_units(void) {
  bps_model_spec s;
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_VH;
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create(&s, 2, 801, 0, BPS_DENSE, &m));
  const int M = m->nparams;
  double *nu = malloc(sizeof(double) * (size_t)M), *th = malloc(sizeof(double) * (size_t)M);
  double *grad = malloc(sizeof(double) * (size_t)M), c0 = 0;
  int *R = malloc(sizeof(int) * (size_t)M), *k = calloc((size_t)M, sizeof(int));
  CHECK_OK(bps_landscape_frequencies(m->circuit, nu, R));
  CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &c0, grad));
  int nonunit = 0;
  for (int j = 0; j < M; j++) {
    CHECK(R[j] == 1);
    nonunit += fabs(nu[j] - 1.0) > 1e-3;
  }
  CHECK(nonunit > 0); /* the old integer-frequency rule would have refused these */
  for (int j = 0; j < M; j += 3) {
    k[j] = 1;
    bps_cut_result res;
    CHECK_OK(bps_landscape_cut(m, m->theta, k, grad, 0, &res));
    CHECK(res.K == 1 && res.N == 7);
    CHECK(res.alias <= 1e-14);
    CHECK_CLOSE(res.slope_fft, res.slope_adjoint, 0, 1e-10 * (1 + fabs(res.slope_adjoint)));
    /* f at theta_j + 0.7 / nu_j equals the spectrum at t = 0.7; period 2 pi / nu_j */
    for (int i = 0; i < M; i++) th[i] = m->theta[i];
    double v = 0, w = 0, t = 0.7;
    th[j] += t / nu[j];
    CHECK_OK(bps_model_cost_grad(m, th, BPS_GRAD_ADJOINT, &v, NULL));
    th[j] += 2.0 * M_PI / nu[j];
    CHECK_OK(bps_model_cost_grad(m, th, BPS_GRAD_ADJOINT, &w, NULL));
    double fs = res.mean + 2.0 * creal(res.c[1] * cexp(I * t));
    CHECK_CLOSE(v, fs, 0, 1e-13);
    CHECK_CLOSE(w, v, 0, 1e-12);
    bps_cut_result_free(&res);
    k[j] = 0;
  }
  free(nu);
  free(th);
  free(grad);
  free(R);
  free(k);
  bps_model_instance_destroy(&m);
}

static void check_refusals(void) {
  /* an incommensurate parameter (Beer-like): scales 0.5 and 0.5 sqrt 2 on one angle */
  bps_circuit *c = NULL;
  CHECK_OK(bps_circuit_create(2, &c));
  int q0 = 0, q1 = 1, q01[2] = {0, 1};
  CHECK_OK(bps_circuit_prot(c, "Y", &q0, 0.5, 0));
  CHECK_OK(bps_circuit_prot(c, "XX", q01, 0.5, 1));
  CHECK_OK(bps_circuit_prot(c, "Z", &q1, 0.5 * sqrt(2.0), 1));
  char *names[2] = {"a.ry", "b.mixed"};
  int k[2] = {1, 1}, K = -1;
  int rc = bps_landscape_degree(c, names, k, &K);
  CHECK(rc == BPS_ERR_ARG);
  CHECK(strstr(bps_error_message(), "incommensurate frequencies") != NULL);
  CHECK(strstr(bps_error_message(), "b.mixed") != NULL);
  printf("  refused as expected: %s\n", bps_error_message());
  bps_error_clear();
  k[1] = 0;
  CHECK_OK(bps_landscape_degree(c, names, k, &K));
  CHECK(K == 1);
  bps_circuit_destroy(&c);

  /* QBM: no circuit program */
  bps_model_spec s;
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_QBM;
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create(&s, 1, 801, 0, BPS_DENSE, &m));
  CHECK(m->circuit == NULL);
  int *kq = calloc((size_t)m->nparams, sizeof(int));
  kq[0] = 1;
  bps_cut_result res;
  rc = bps_landscape_cut(m, m->theta, kq, NULL, 0, &res);
  CHECK(rc == BPS_ERR_ARG && strstr(bps_error_message(), "no circuit program") != NULL);
  printf("  refused as expected: %s\n", bps_error_message());
  bps_error_clear();
  free(kq);
  bps_model_instance_destroy(&m);
}

int main(void) {
  bps_model_spec s;
  for (int n = 2; n <= 3; n++) {
    s = toy_spec(n, BPS_COST_GLOBAL);
    check_instance("dqnn toy global", &s, n, 1, 6, BPS_FACTORED);
    s = toy_spec(n, BPS_COST_LOCAL);
    check_instance("dqnn toy local", &s, n, 2, 6, BPS_FACTORED);
    bps_model_spec_default(&s); /* dqnn n,n haar, global */
    s.kind = BPS_MODEL_DQNN;
    s.perceptron = BPS_PERC_HAAR;
    check_instance("dqnn haar", &s, n, 3, 6, BPS_FACTORED);
    s.noise = BPS_NOISE_DEPOLARIZING;
    s.noise_p = 0.1;
    check_instance("dqnn haar depol 0.1", &s, n, 4, 4, BPS_FACTORED);
    bps_model_spec_default(&s);
    s.kind = BPS_MODEL_HEA;
    s.hea = BPS_HEA_MCCLEAN;
    s.hea_layers = 2;
    check_instance("hea mcclean L=2", &s, n, 5, 6, BPS_FACTORED);
    s.hea = BPS_HEA_ALT;
    s.cost = BPS_COST_LOCAL;
    check_instance("hea alt local L=2", &s, n, 6, 6, BPS_FACTORED);
  }
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_DQNN;
  s.perceptron = BPS_PERC_HAAR;
  snprintf(s.widths, sizeof s.widths, "2,3,2");
  check_instance("dqnn haar 2,3,2", &s, 2, 7, 4, BPS_FACTORED);
  for (int n = 2; n <= 3; n++) {
    bps_model_spec_default(&s);
    s.kind = BPS_MODEL_VH;
    check_instance("vh", &s, n, 8, 6, BPS_DENSE);
    s.vh_layers = 2;
    s.noise = BPS_NOISE_DEPHASING;
    s.noise_p = 0.05;
    check_instance("vh L=2 dephasing 0.05", &s, n, 9, 4, BPS_DENSE);
  }
  printf("worst |slope_fft - slope_adjoint|/(1+|slope|) %.3g, worst alias %.3g\n", worst_slope,
         worst_alias);
  for (int n = 2; n <= 3; n++) {
    toy_parseval(n, BPS_COST_GLOBAL, 1200);
    toy_parseval(n, BPS_COST_LOCAL, 200);
  }
  check_vh_units();
  check_refusals();
  bps_landscape_cleanup();
  return bps_test_result("t801-landscape-model");
}

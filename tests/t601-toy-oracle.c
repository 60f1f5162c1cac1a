/* t601: Sharma Fig. 3(a) toy DQNN (perceptron "toy": SWAP(in_j, out_j) then R_y on out_j),
 * inputs |0..0>, targets |0..0>, against the closed forms of physics.md Secs. 2.2 and 4.7,
 * for n = 1..6 and 1, 2, 3 layers, with d the derivative by the first parameter (l1.p1.g1,
 * exact two-term shift rule), factored representation.
 * 1. Every sample against its closed form (1e-12): the layers add the angles of a column,
 *    phi_j = sum_l theta_{l,j}, and C_G = 1 - prod_j cos^2(phi_j/2),
 *    C_L = 1 - (1/n) sum_j cos^2(phi_j/2), dC_G = (1/2) sin(phi_1) prod_{j>1} cos^2(phi_j/2),
 *    dC_L = sin(phi_1)/(2n).
 * 2. The moments (the phi_j are i.i.d. uniform, so they do not depend on the depth):
 *      E C_G = 1 - 2^-n,  Var C_G = (3/8)^n - (1/4)^n,  Var dC_G = (1/8)(3/8)^(n-1),
 *      E C_L = 1/2,       Var C_L = 1/(8n),            Var dC_L = 1/(8 n^2),
 *    |MC - exact| < 4 SE (fixed seeds). The global-cost quantities are products of n factors
 *    cos^2(phi/2) with a kurtosis growing like 1.94^(n-1): their SEs are the exact ones of
 *    the closed-form distribution (E cos^(2k)(phi/2) = C(2k,k)/4^k), asserted on every row,
 *    and where S >= 2000 also the sample SEs from the fourth moment (physics.md Sec. 4.12),
 *    which few samples underestimate. The local-cost rows use the sample SEs.
 * Samples run in parallel (kernels then single-threaded) and every statistic is computed in
 * sample order, so results do not depend on the thread count. */
#include <string.h>

#include "bps_test.h"
#include "bpscan/circuit.h"
#include "bpscan/model.h"
#include "bpscan/state.h"
#include "bpscan/threads.h"

typedef struct {
  double mean, mean_se, var, var_se;
} mstat;

/* unbiased variance and SE(s^2) = sqrt((m4 - s^4)/S) (physics.md Sec. 4.12) */
static mstat moments(const double *x, int S) {
  mstat r;
  double m = 0, v = 0, m4 = 0;
  for (int i = 0; i < S; i++) m += x[i];
  m /= S;
  for (int i = 0; i < S; i++) {
    double d = x[i] - m;
    v += d * d;
    m4 += d * d * d * d;
  }
  r.mean = m;
  r.var = v / (S - 1);
  m4 /= S;
  r.mean_se = sqrt(r.var / S);
  r.var_se = sqrt(fmax(m4 - r.var * r.var, 0.0) / S);
  return r;
}

static int within(const char *what, double mc, double se, double exact) {
  double z = se > 0 ? (mc - exact) / se : (mc == exact ? 0 : 1e9);
  int ok = fabs(z) < 4.0;
  printf("    %-9s MC %.6g +- %.2g  exact %.6g  (%+.2f SE)%s\n", what, mc, se, exact, z,
         ok ? "" : "  <-- outside 4 SE");
  return ok;
}

/* A global-cost row: within 4 exact SEs, and within 4 sample SEs when use_sample. */
static int within_exact(const char *what, double mc, double se_sample, double se_exact,
                        double exact, int use_sample) {
  double z = (mc - exact) / se_exact, zs = se_sample > 0 ? (mc - exact) / se_sample : 1e9;
  int ok = fabs(z) < 4.0 && (!use_sample || fabs(zs) < 4.0);
  printf("    %-9s MC %.6g +- %.2g  exact %.6g  (%+.2f exact SE %.2g", what, mc, se_sample,
         exact, z, se_exact);
  if (use_sample) printf(", %+.2f SE", zs);
  printf(")%s\n", ok ? "" : "  <-- outside 4 SE");
  return ok;
}

/* Exact SEs of the sample mean and of the unbiased sample variance of S draws with variance
 * v and fourth central moment m4: sqrt(v/S), sqrt((m4 - v^2 (S-3)/(S-1))/S). */
static double se_mean(double v, int S) { return sqrt(v / S); }
static double se_var(double v, double m4, int S) {
  return sqrt((m4 - v * v * (S - 3.0) / (S - 1.0)) / S);
}

/* The exact global-cost distribution: X = prod_j cos^2(phi_j/2), C_G = 1 - X, and
 * dC_G = (1/2) sin(phi_1) Y, Y = prod_{j>1} cos^2(phi_j/2), from b_k = E cos^(2k)(phi/2) =
 * 1/2, 3/8, 5/16, 35/128 and E sin^2 = 1/2, E sin^4 = 3/8. */
typedef struct {
  double c_var, c_m4, d_var, d_m4;
} exact_global;

static exact_global global_moments(int n) {
  const double b1 = 0.5, b2 = 3.0 / 8.0, b3 = 5.0 / 16.0, b4 = 35.0 / 128.0;
  double m = pow(b1, n), e2 = pow(b2, n), e3 = pow(b3, n), e4 = pow(b4, n);
  exact_global g;
  g.c_var = e2 - m * m;
  g.c_m4 = e4 - 4 * m * e3 + 6 * m * m * e2 - 3 * m * m * m * m;
  g.d_var = 0.25 * 0.5 * pow(b2, n - 1);          /* E dC_G = 0 */
  g.d_m4 = 0.0625 * (3.0 / 8.0) * pow(b4, n - 1); /* E dC_G^3 = 0 */
  return g;
}

/* One sample: costs at theta and the first-parameter shift derivative, both costs, and in
 * out[4] the largest deviation of the four from their closed forms at this theta. */
static int sample(const bps_model_spec *sg, const bps_model_spec *sl, int n, uint32_t k,
                  double out[5]) {
  bps_model_instance *mg = NULL, *ml = NULL;
  bps_state *s = NULL;
  int rc = bps_model_instance_create(sg, n, 601, k, BPS_FACTORED, &mg);
  if (!rc) rc = bps_model_instance_create(sl, n, 601, k, BPS_FACTORED, &ml);
  if (!rc) rc = bps_state_create(BPS_FACTORED, 0, &s);
  if (!rc && memcmp(mg->theta, ml->theta, sizeof(double) * (size_t)mg->nparams))
    rc = BPS_ERR_INTERNAL; /* same (seed, n, sample): same angles */
  double *th = NULL;
  if (!rc) {
    th = malloc(sizeof(double) * (size_t)mg->nparams);
    memcpy(th, mg->theta, sizeof(double) * (size_t)mg->nparams);
  }
  double cg[3] = {0}, cl[3] = {0};
  for (int r = 0; r < 3 && !rc; r++) { /* theta, theta + pi/2 e_0, theta - pi/2 e_0 */
    th[0] = mg->theta[0] + (r == 1 ? M_PI / 2 : r == 2 ? -M_PI / 2 : 0.0);
    rc = bps_state_copy(s, mg->inputs[0]);
    if (!rc) rc = bps_circuit_run(mg->circuit, th, s);
    if (!rc) rc = bps_cost_eval(mg->costs[0], s, &cg[r]);
    if (!rc) rc = bps_cost_eval(ml->costs[0], s, &cl[r]);
  }
  out[0] = cg[0];
  out[1] = cl[0];
  out[2] = 0.5 * (cg[1] - cg[2]);
  out[3] = 0.5 * (cl[1] - cl[2]);
  out[4] = INFINITY;
  if (!rc && mg->nparams % n == 0) { /* parameter l*n + j: layer l, perceptron j */
    double prod = 1, sum = 0, prod_rest = 1, phi1 = 0;
    for (int j = 0; j < n; j++) {
      double phi = 0;
      for (int p = j; p < mg->nparams; p += n) phi += mg->theta[p];
      double c = cos(phi / 2) * cos(phi / 2);
      prod *= c;
      sum += c;
      if (j) prod_rest *= c;
      else phi1 = phi;
    }
    double closed[4] = {1 - prod, 1 - sum / n, 0.5 * sin(phi1) * prod_rest, sin(phi1) / (2.0 * n)};
    out[4] = 0;
    for (int c = 0; c < 4; c++) out[4] = fmax(out[4], fabs(out[c] - closed[c]));
  }
  free(th);
  bps_state_destroy(&s);
  bps_model_instance_destroy(&mg);
  bps_model_instance_destroy(&ml);
  if (rc) bps_error_print(stderr);
  return rc;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* keep stdout and stderr in order in logs */
  double t_all = bps_wtime();
  for (int n = 1; n <= 6; n++)
    for (int L = 1; L <= 3; L++) {
      /* factored multi-layer runs at n = 5, 6 carry rank-2^n layer states (SVD compression
       * of 2^n x 4^n factors): fewer samples there */
      int S = L == 1 ? 4000 : n <= 4 ? 2000 : n == 5 ? 300 : 60;
      bps_model_spec sg;
      bps_model_spec_default(&sg);
      sg.kind = BPS_MODEL_DQNN;
      sg.perceptron = BPS_PERC_TOY;
      char w[64] = "n";
      for (int l = 0; l < L; l++) strcat(w, ",n");
      snprintf(sg.widths, sizeof sg.widths, "%s", w);
      sg.inputs = BPS_INPUT_ZERO;
      sg.targets = BPS_TARGET_ZERO;
      bps_model_spec sl = sg;
      sl.cost = BPS_COST_LOCAL;
      double *x = malloc(sizeof(double) * 5 * (size_t)S);
      int bad = 0;
      double t0 = bps_wtime();
#pragma omp parallel for schedule(dynamic) reduction(+ : bad)
      for (int k = 0; k < S; k++) bad += sample(&sg, &sl, n, (uint32_t)k, x + 5 * k) != 0;
      double dt = bps_wtime() - t0;
      CHECK(bad == 0);
      double *col = malloc(sizeof(double) * (size_t)S), dev = 0;
      mstat st[4];
      for (int c = 0; c < 4; c++) {
        for (int k = 0; k < S; k++) col[k] = x[5 * k + c];
        st[c] = moments(col, S);
      }
      for (int k = 0; k < S; k++) dev = fmax(dev, x[5 * k + 4]);
      double q38 = pow(3.0 / 8.0, n), q14 = pow(0.25, n);
      exact_global g = global_moments(n);
      printf("n = %d, L = %d layers (%s), S = %d samples, %.2f s, max |sample - closed form| %.2g\n",
             n, L, w, S, dt, dev);
      CHECK(dev < 1e-12);
      CHECK_CLOSE(g.c_var, q38 - q14, 1e-14, 0); /* the distribution has the Sec. 4.7 moments */
      CHECK_CLOSE(g.d_var, 0.125 * pow(3.0 / 8.0, n - 1), 1e-14, 0);
      const int use_sample = S >= 2000;
      CHECK(within_exact("E C_G", st[0].mean, st[0].mean_se, se_mean(g.c_var, S),
                         1.0 - ldexp(1.0, -n), use_sample));
      CHECK(within_exact("Var C_G", st[0].var, st[0].var_se, se_var(g.c_var, g.c_m4, S),
                         q38 - q14, use_sample));
      CHECK(within_exact("E dC_G", st[2].mean, st[2].mean_se, se_mean(g.d_var, S), 0.0,
                         use_sample));
      CHECK(within_exact("Var dC_G", st[2].var, st[2].var_se, se_var(g.d_var, g.d_m4, S),
                         0.125 * pow(3.0 / 8.0, n - 1), use_sample));
      CHECK(within("E C_L", st[1].mean, st[1].mean_se, 0.5));
      CHECK(within("Var C_L", st[1].var, st[1].var_se, 1.0 / (8.0 * n)));
      CHECK(within("E dC_L", st[3].mean, st[3].mean_se, 0.0));
      CHECK(within("Var dC_L", st[3].var, st[3].var_se, 1.0 / (8.0 * n * n)));
      /* deterministic: C_L <= C_G <= n C_L (physics.md Sec. 1.4) on every sample */
      int order = 1;
      for (int k = 0; k < S; k++)
        order &= x[5 * k + 1] <= x[5 * k] + 1e-12 && x[5 * k] <= n * x[5 * k + 1] + 1e-12;
      CHECK(order);
      free(col);
      free(x);
    }
  printf("total %.1f s\n", bps_wtime() - t_all);
  return bps_test_result("t601-toy-oracle");
}

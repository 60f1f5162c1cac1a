/* t601: Sharma Fig. 3(a) toy DQNN (perceptron "toy": SWAP(in_j, out_j) then R_y on out_j),
 * inputs |0..0>, targets |0..0>, against the closed forms of physics.md Secs. 2.2 and 4.7:
 *   E C_G = 1 - 2^-n,  Var C_G = (3/8)^n - (1/4)^n,  Var dC_G = (1/8)(3/8)^(n-1),
 *   E C_L = 1/2,       Var C_L = 1/(8n),            Var dC_L = 1/(8 n^2),
 * for n = 1..6 and 1, 2, 3 layers (the result does not depend on the depth), with d the
 * derivative by the first parameter (l1.p1.g1, exact two-term shift rule).
 * |MC - exact| < 4 SE; the SE of the sample variance from the fourth moment (global-cost
 * statistics only where S >= 2000, see below). Factored
 * representation; samples run in parallel (kernels then single-threaded), every statistic
 * is computed in sample order, so results do not depend on the thread count. */
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
  for (int i = 0; i < S; i++)
    m += x[i];
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

/* One sample: costs at theta and the first-parameter shift derivative, both costs. */
static int sample(const bps_model_spec *sg, const bps_model_spec *sl, int n, uint32_t k,
                  double out[4]) {
  bps_model_instance *mg = NULL, *ml = NULL;
  bps_state *s = NULL;
  int rc = bps_model_instance_create(sg, n, 601, k, BPS_FACTORED, &mg);
  if (!rc)
    rc = bps_model_instance_create(sl, n, 601, k, BPS_FACTORED, &ml);
  if (!rc)
    rc = bps_state_create(BPS_FACTORED, 0, &s);
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
    if (!rc)
      rc = bps_circuit_run(mg->circuit, th, s);
    if (!rc)
      rc = bps_cost_eval(mg->costs[0], s, &cg[r]);
    if (!rc)
      rc = bps_cost_eval(ml->costs[0], s, &cl[r]);
  }
  out[0] = cg[0];
  out[1] = cl[0];
  out[2] = 0.5 * (cg[1] - cg[2]);
  out[3] = 0.5 * (cl[1] - cl[2]);
  free(th);
  bps_state_destroy(&s);
  bps_model_instance_destroy(&mg);
  bps_model_instance_destroy(&ml);
  if (rc)
    bps_error_print(stderr);
  return rc;
}

int main(void) {
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
      for (int l = 0; l < L; l++)
        strcat(w, ",n");
      snprintf(sg.widths, sizeof sg.widths, "%s", w);
      sg.inputs = BPS_INPUT_ZERO;
      sg.targets = BPS_TARGET_ZERO;
      bps_model_spec sl = sg;
      sl.cost = BPS_COST_LOCAL;
      double *x = malloc(sizeof(double) * 4 * (size_t)S);
      int bad = 0;
      double t0 = bps_wtime();
#pragma omp parallel for schedule(dynamic) reduction(+ : bad)
      for (int k = 0; k < S; k++)
        bad += sample(&sg, &sl, n, (uint32_t)k, x + 4 * k) != 0;
      double dt = bps_wtime() - t0;
      CHECK(bad == 0);
      double *col = malloc(sizeof(double) * (size_t)S);
      mstat st[4];
      for (int c = 0; c < 4; c++) {
        for (int k = 0; k < S; k++)
          col[k] = x[4 * k + c];
        st[c] = moments(col, S);
      }
      double q38 = pow(3.0 / 8.0, n), q14 = pow(0.25, n);
      printf("n = %d, L = %d layers (%s), S = %d samples, %.2f s\n", n, L, w, S, dt);
      /* The global-cost quantities are products of n factors cos^2(theta_j/2): their
       * kurtosis grows like ((35/128)/(3/8)^2)^(n-1) ~ 1.94^(n-1), so a few hundred samples
       * miss the tail and the fourth-moment SE is itself underestimated. They are asserted
       * only when S >= 2000 (all L = 1 rows and n <= 4); otherwise printed. */
      const int global_ok = S >= 2000;
      if (!global_ok)
        printf("    (global-cost rows below not asserted: S too small for the tail)\n");
      int ok = within("E C_G", st[0].mean, st[0].mean_se, 1.0 - ldexp(1.0, -n));
      ok &= within("Var C_G", st[0].var, st[0].var_se, q38 - q14);
      ok &= within("E dC_G", st[2].mean, st[2].mean_se, 0.0);
      ok &= within("Var dC_G", st[2].var, st[2].var_se, 0.125 * pow(3.0 / 8.0, n - 1));
      CHECK(ok || !global_ok);
      CHECK(within("E C_L", st[1].mean, st[1].mean_se, 0.5));
      CHECK(within("Var C_L", st[1].var, st[1].var_se, 1.0 / (8.0 * n)));
      CHECK(within("E dC_L", st[3].mean, st[3].mean_se, 0.0));
      CHECK(within("Var dC_L", st[3].var, st[3].var_se, 1.0 / (8.0 * n * n)));
      /* deterministic: C_L <= C_G <= n C_L (physics.md Sec. 1.4) on every sample */
      int order = 1;
      for (int k = 0; k < S; k++)
        order &= x[4 * k + 1] <= x[4 * k] + 1e-12 && x[4 * k] <= n * x[4 * k + 1] + 1e-12;
      CHECK(order);
      free(col);
      free(x);
    }
  printf("total %.1f s\n", bps_wtime() - t_all);
  return bps_test_result("t601-toy-oracle");
}

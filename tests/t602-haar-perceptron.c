/* t602: one Haar-split perceptron n -> 1 (widths "n,1", perceptron "haar",
 * V = A exp(-i theta Z_out/2) B, gradient at theta = 0), physics.md Sec. 4.5:
 *   Var dC = d^2 / (8 (d+1)(d^2-1)), d = 2^(n+1), for the global and the local cost;
 *   E dC = 0; the output qubit's purity has mean (2 + 2^n)/(2^(n+1) + 1) (Page).
 * n = 1, 2, 3; global cost with zero inputs and zero targets, local cost with Haar inputs
 * and Haar product targets (any pure input/target gives the same law). |MC - exact| < 4 SE,
 * SE of the sample variance from the fourth moment. Adjoint gradients, factored
 * representation; samples run in parallel and statistics are taken in sample order. */
#include <string.h>

#include "bps_test.h"
#include "bpscan/circuit.h"
#include "bpscan/model.h"
#include "bpscan/state.h"
#include "bpscan/threads.h"

typedef struct {
  double mean, mean_se, var, var_se;
} mstat;

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
  r.mean_se = sqrt(r.var / S);
  r.var_se = sqrt(fmax(m4 / S - r.var * r.var, 0.0) / S);
  return r;
}

static int within(const char *what, double mc, double se, double exact) {
  double z = se > 0 ? (mc - exact) / se : (mc == exact ? 0 : 1e9);
  int ok = fabs(z) < 4.0;
  printf("    %-12s MC %.6g +- %.2g  exact %.6g  (%+.2f SE)%s\n", what, mc, se, exact, z,
         ok ? "" : "  <-- FAIL");
  return ok;
}

/* out = {dC (adjoint), purity of the output qubit, C} */
static int sample(const bps_model_spec *s, int n, uint32_t k, double out[3]) {
  bps_model_instance *m = NULL;
  bps_state *st = NULL;
  double g = 0, c = 0;
  int rc = bps_model_instance_create(s, n, 602, k, BPS_FACTORED, &m);
  if (!rc && (m->nparams != 1 || m->q_out != 1 || m->theta[0] != 0.0)) rc = BPS_ERR_INTERNAL;
  if (!rc) rc = bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &c, &g);
  if (!rc) rc = bps_state_create(BPS_FACTORED, 0, &st);
  if (!rc) rc = bps_state_copy(st, m->inputs[0]);
  if (!rc) rc = bps_circuit_run(m->circuit, m->theta, st);
  if (!rc) rc = bps_purity(st, &out[1]);
  out[0] = g;
  out[2] = c;
  bps_state_destroy(&st);
  bps_model_instance_destroy(&m);
  if (rc) bps_error_print(stderr);
  return rc;
}

int main(void) {
  double t_all = bps_wtime();
  for (int n = 1; n <= 3; n++)
    for (int cost = 0; cost < 2; cost++) {
      const int S = 30000;
      bps_model_spec s;
      bps_model_spec_default(&s);
      s.kind = BPS_MODEL_DQNN;
      s.perceptron = BPS_PERC_HAAR;
      snprintf(s.widths, sizeof s.widths, "n,1");
      s.cost = cost ? BPS_COST_LOCAL : BPS_COST_GLOBAL;
      s.inputs = cost ? BPS_INPUT_HAAR : BPS_INPUT_ZERO;
      s.targets = cost ? BPS_TARGET_PRODUCT : BPS_TARGET_ZERO;
      double *x = malloc(sizeof(double) * 3 * (size_t)S);
      int bad = 0;
      double t0 = bps_wtime();
#pragma omp parallel for schedule(dynamic, 64) reduction(+ : bad)
      for (int k = 0; k < S; k++) bad += sample(&s, n, (uint32_t)k, x + 3 * k) != 0;
      double dt = bps_wtime() - t0;
      CHECK(bad == 0);
      double *col = malloc(sizeof(double) * (size_t)S);
      mstat st[3];
      for (int c = 0; c < 3; c++) {
        for (int k = 0; k < S; k++) col[k] = x[3 * k + c];
        st[c] = moments(col, S);
      }
      double d = ldexp(1.0, n + 1);
      printf("n = %d -> 1, %s cost, S = %d, %.2f s\n", n, cost ? "local" : "global", S, dt);
      CHECK(within("E dC", st[0].mean, st[0].mean_se, 0.0));
      CHECK(within("Var dC", st[0].var, st[0].var_se, d * d / (8 * (d + 1) * (d * d - 1))));
      CHECK(within("E purity", st[1].mean, st[1].mean_se,
                   (2.0 + ldexp(1.0, n)) / (ldexp(1.0, n + 1) + 1.0)));
      /* cost of a Haar-random output against a pure target: E C = 1/2 */
      CHECK(within("E C", st[2].mean, st[2].mean_se, 0.5));
      int range = 1;
      for (int k = 0; k < S; k++)
        range &= x[3 * k + 1] >= 0.5 - 1e-12 && x[3 * k + 1] <= 1 + 1e-12 &&
                 fabs(x[3 * k]) <= 0.5 + 1e-12;
      CHECK(range); /* 1/2 <= Tr rho^2 <= 1 for a qubit; |dC| <= ||O|| / 2 */
      free(col);
      free(x);
    }
  printf("total %.1f s\n", bps_wtime() - t_all);
  return bps_test_result("t602-haar-perceptron");
}

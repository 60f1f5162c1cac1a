/* t661: the exact-moments engines against closed forms and exact identities
 * (shared/moments.md Sec. 5, physics.md Secs. 4.5, 4.7, 4.9, 5.4):
 *   - the toy DQNN (Sharma Fig. 3a) for every n up to 64 and L = 1..3 layers:
 *     Var dC_G = (1/8)(3/8)^(n-1), Var dC_L = 1/(8 n^2), Var C_G = (3/8)^n - (1/4)^n,
 *     Var C_L = 1/(8n), E C_G = 1 - 2^-n, E C_L = 1/2, at n = 1024 too (global: 2^-1450);
 *   - the n -> 1 Haar perceptron: Var dC = d^2 / (8 (d+1)(d^2-1)), d = 2^(n+1), both costs,
 *     n up to 200 (values far below the double range), E C = 1/2 and Var C = 1/(4 (d+1))
 *     (physics Sec. 4.4 with Tr O = Tr O^2 = d/2: far below E[C]^2, so no cancellation
 *     may lose it), and its output purity (Page): (2 + 2^n) / (2^(n+1) + 1);
 *   - exact zeros: E[dC] = 0 for uniform angles and for Haar perceptrons; a parameter whose
 *     gate cannot reach the cost has Var dC = 0 exactly;
 *   - Parseval: Var C <= sum_k Var dC_k for uniform integer-spectrum angles (every family). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/threads.h"

#include "bps_test.h"
#include "bpscan/moments.h"
#include "models/models.h"

typedef long double ld;

static int mom_of(const bps_model_spec *s, int n, bps_mom **M, bps_model_instance **m) {
  BPS_CALL(bps_model_instance_create_ensemble(s, n, m));
  BPS_CALL(bps_mom_create(*m, BPS_MOM_AUTO, NULL, M));
  return BPS_OK;
}

/* |x - r| <= rtol |r| */
#define CHECK_REL(x, r, rtol)                                                                   \
  do {                                                                                          \
    ld x_ = (x), r_ = (r);                                                                      \
    bps_test_checks++;                                                                          \
    if (!(fabsl(x_ - r_) <= (rtol)*fabsl(r_))) {                                                \
      bps_test_failures++;                                                                      \
      fprintf(stderr, "%s:%d: %s = %.17Lg, expected %.17Lg (rel %.2Lg)\n", __FILE__, __LINE__,  \
              #x, x_, r_, fabsl(x_ - r_) / fabsl(r_));                                          \
    }                                                                                           \
  } while (0)

static void toy(void) {
  static const char *widths[] = {"n,n", "n,n,n", "n,n,n,n"};
  int worst_n = 0;
  ld worst = 0;
  for (int cost = 0; cost < 2; cost++)
    for (int L = 1; L <= 3; L++)
      for (int n = 1; n <= 64 + 960 * (L == 1); n = n < 64 ? n + 1 : n == 64 ? 1024 : 1025) {
        bps_model_spec s;
        bps_model_spec_default(&s);
        s.perceptron = BPS_PERC_TOY;
        s.cost = (bps_cost_type)cost;
        snprintf(s.widths, sizeof s.widths, "%s", widths[L - 1]);
        bps_mom *M = NULL;
        bps_model_instance *m = NULL;
        CHECK_OK(mom_of(&s, n, &M, &m));
        bps_mom_value cm, cv, gm, gv;
        CHECK_OK(bps_mom_cost(M, &cm, &cv, NULL));
        const ld N = n;
        if (cost == BPS_COST_GLOBAL) {
          CHECK_REL(cm.v, 1.0L - powl(2.0L, -N), 1e-15L);
          CHECK_REL(cv.v, powl(0.375L, N) - powl(0.25L, N), 1e-13L);
        } else {
          CHECK_REL(cm.v, 0.5L, 1e-15L);
          CHECK_REL(cv.v, 1.0L / (8.0L * N), 1e-13L);
        }
        const ld want = cost == BPS_COST_GLOBAL ? 0.125L * powl(0.375L, N - 1)
                                                : 1.0L / (8.0L * N * N);
        for (int p = 0; p < m->nparams; p++) {
          CHECK_OK(bps_mom_grad(M, p, &gm, &gv, NULL));
          CHECK(gm.v == 0 && gv.exact); /* uniform angles: E[dC] = 0 exactly */
          CHECK_REL(gv.v, want, 1e-13L);
          ld e = fabsl(gv.v - want) / want;
          if (e > worst) worst = e, worst_n = n;
        }
        if (getenv("T661_VERBOSE"))
          fprintf(stderr, "toy cost %d L %d n %d P %d t %.3f\n", cost, L, n, m->nparams,
                  bps_wtime());
        bps_mom_destroy(&M);
        bps_model_instance_destroy(&m);
      }
  printf("toy: worst relative error %.2Lg (n = %d) over n = 1..64 (L = 1..3) and n = 1024\n",
         worst, worst_n);
}

static void haar_n_to_1(void) {
  for (int cost = 0; cost < 2; cost++)
    for (int n = 1; n <= 200; n += n < 8 ? 1 : 16) {
      bps_model_spec s;
      bps_model_spec_default(&s);
      s.cost = (bps_cost_type)cost;
      snprintf(s.widths, sizeof s.widths, "n,1");
      bps_mom *M = NULL;
      bps_model_instance *m = NULL;
      CHECK_OK(mom_of(&s, n, &M, &m));
      CHECK(bps_mom_engine_of(M) == BPS_MOM_CHAIN);
      bps_mom_value gm, gv, pur;
      CHECK_OK(bps_mom_grad(M, 0, &gm, &gv, NULL));
      const ld d = ldexpl(1.0L, n + 1);
      CHECK_REL(gv.v, d * d / (8.0L * (d + 1.0L) * (d * d - 1.0L)), 1e-15L);
      CHECK(fabsl(gm.v) <= 1e-30L * gv.v); /* Haar perceptrons: E[dC] = 0 */
      bps_mom_value cm, cv;
      CHECK_OK(bps_mom_cost(M, &cm, &cv, NULL));
      CHECK_REL(cm.v, 0.5L, 1e-15L);
      CHECK_REL(cv.v, 1.0L / (4.0L * (d + 1.0L)), 1e-15L);
      CHECK_OK(bps_mom_purity(M, &pur));
      const ld D = ldexpl(1.0L, n);
      CHECK_REL(pur.v, (2.0L + D) / (2.0L * D + 1.0L), 1e-15L);
      if (n == 200)
        printf("n -> 1 Haar: n = 200 Var dC = %.6Lg (log2 %.4f), purity %.6Lg\n", gv.v,
               bps_mom_log2(gv.v), pur.v);
      bps_mom_destroy(&M);
      bps_model_instance_destroy(&m);
    }
}

/* Var C <= sum_k Var dC_k (moments.md Sec. 5; physics Sec. 5.4): for angles uniform on the
 * torus with integer spectrum, C = sum_w c_w e^{i w.theta}, Var C = sum_{w != 0} |c_w|^2 and
 * Var dC_k = sum_w w_k^2 |c_w|^2; every nonzero integer w has |w|^2 >= 1, so the sum over k
 * bounds Var C. It does not hold for Haar perceptrons (one angle between two Haar blocks is
 * not a torus of the whole ensemble): n -> 1 has Var C = 1/(4(d+1)) > Var dC ~ 1/(8d). */
static void parseval(const char *label, const bps_model_spec *s, int n) {
  bps_mom *M = NULL;
  bps_model_instance *m = NULL;
  CHECK_OK(mom_of(s, n, &M, &m));
  bps_mom_value cm, cv, gm, gv;
  CHECK_OK(bps_mom_cost(M, &cm, &cv, NULL));
  ld sum = 0;
  for (int p = 0; p < m->nparams; p++) {
    CHECK_OK(bps_mom_grad(M, p, &gm, &gv, NULL));
    sum += gv.v;
  }
  CHECK(cv.v <= sum * (1 + 1e-12L));
  printf("Parseval %-28s n = %d: Var C = %.6Lg <= sum Var dC = %.6Lg\n", label, n, cv.v, sum);
  bps_mom_destroy(&M);
  bps_model_instance_destroy(&m);
}

/* A parameter that cannot reach the cost: a rotation on a qubit traced out right away. */
static void unreachable(void) {
  bps_model_instance *m = calloc(1, sizeof *m);
  m->kind = BPS_MODEL_DQNN;
  m->n = m->q_in = 2;
  CHECK_OK(bps_circuit_create(2, &m->circuit));
  int q0 = 0, q1 = 1, both[2] = {0, 1};
  CHECK_OK(bps_circuit_prot(m->circuit, "Y", &q1, 0.5, 0)); /* reaches the cost */
  CHECK_OK(bps_circuit_prot(m->circuit, "X", &q0, 0.5, 1)); /* traced out next */
  CHECK_OK(bps_circuit_trace(m->circuit, 1, &q0));
  (void)both;
  CHECK_OK(bps_model_alloc_params(m, 2));
  CHECK_OK(bps_model_name_param(m, 0, "reach"));
  CHECK_OK(bps_model_name_param(m, 1, "lost"));
  m->q_out = 1;
  m->data = (bps_data_ens){.kind = BPS_OBS_GLOBAL, .q0 = 0, .nq = 1, .c0 = 1, .w = -1, .pairs = 1};
  bps_mom *M = NULL;
  CHECK_OK(bps_mom_create(m, BPS_MOM_PAULI, NULL, &M));
  bps_mom_value gm, gv;
  CHECK_OK(bps_mom_grad(M, 0, &gm, &gv, NULL));
  CHECK_REL(gv.v, 0.125L, 1e-15L); /* Var d<0|Ry rho Ry^dag|0> = 1/8 */
  CHECK_OK(bps_mom_grad(M, 1, &gm, &gv, NULL));
  CHECK(gv.v == 0 && gm.v == 0);
  bps_mom_destroy(&M);
  bps_model_instance_destroy(&m);
}

int main(void) {
  toy();
  haar_n_to_1();
  bps_model_spec s;
  bps_model_spec_default(&s);
  s.perceptron = BPS_PERC_NISQ;
  parseval("dqnn nisq n,n global", &s, 2);
  s.cost = BPS_COST_LOCAL;
  parseval("dqnn nisq n,n local", &s, 2);
  s.perceptron = BPS_PERC_BRICK;
  s.depth = 2;
  parseval("dqnn brick local", &s, 4);
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_HEA;
  s.hea = BPS_HEA_ALT;
  s.hea_layers = 3;
  s.cost = BPS_COST_LOCAL;
  parseval("hea alt L3 local", &s, 12);
  s.hea = BPS_HEA_MCCLEAN;
  parseval("hea mcclean L3 local", &s, 6);
  /* the identity on the families issue 12 names, global and local costs (toy: the angle
   * families of Sec. 4.7; brick and alt global: the mps engine when auto takes it) */
  bps_model_spec_default(&s);
  s.perceptron = BPS_PERC_TOY;
  for (int n = 1; n <= 6; n++) parseval("dqnn toy n,n global", &s, n);
  snprintf(s.widths, sizeof s.widths, "%s", "n,n,n");
  s.cost = BPS_COST_LOCAL;
  for (int n = 1; n <= 6; n++) parseval("dqnn toy n,n,n local", &s, n);
  bps_model_spec_default(&s);
  s.perceptron = BPS_PERC_BRICK;
  s.depth = 2;
  for (int n = 2; n <= 4; n++) parseval("dqnn brick global", &s, n);
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_HEA;
  s.hea = BPS_HEA_ALT;
  s.hea_layers = 2;
  for (int n = 2; n <= 6; n += 2) parseval("hea alt L2 global", &s, n);
  unreachable();
  return bps_test_result("t661-moments-oracles");
}

/* t501: the general equidistant-frequency parameter-shift rule (physics Sec. 4.11):
 * coefficient table for R = 1..4 (Omega = 1) and the controlled-rotation rule (Omega = 1/2,
 * R = 2); on circuits where one parameter drives up to four rotations (frequencies 1..R)
 * the shift gradient (general rule) equals the adjoint gradient to 1e-10. */
#include <string.h>

#include "bps_test.h"
#include "bpscan/circuit.h"
#include "bpscan/rng.h"
#include "ref.h"

int main(void) {
  /* Table of Sec. 4.11 (Omega = 1): shifts / pi and coefficients */
  static const double xs[4][4] = {{0.5},
                                  {0.25, 0.75},
                                  {1.0 / 6, 0.5, 5.0 / 6},
                                  {0.125, 0.375, 0.625, 0.875}};
  static const double cs[4][4] = {{0.5},
                                  {0.8535534, -0.1464466},
                                  {1.2440169, -1.0 / 6, 0.0893164},
                                  {1.6421339, -0.2024893, 0.0904039, -0.0649729}};
  for (int R = 1; R <= 4; R++) {
    double x[4], c[4];
    bps_shift_rule(R, 1.0, x, c);
    for (int m = 0; m < R; m++) {
      CHECK_CLOSE(x[m] / M_PI, xs[R - 1][m], 0, 1e-14);
      CHECK_CLOSE(c[m], cs[R - 1][m], 0, 6e-8);
    }
  }
  double x2[2], c2[2]; /* controlled Pauli rotation: Omega = 1/2, R = 2 */
  bps_shift_rule(2, 0.5, x2, c2);
  CHECK_CLOSE(x2[0], M_PI / 2, 0, 1e-14);
  CHECK_CLOSE(x2[1], 3 * M_PI / 2, 0, 1e-14);
  CHECK_CLOSE(c2[0], 0.4267767, 0, 1e-7);
  CHECK_CLOSE(c2[1], -0.0732233, 0, 1e-7);

  /* shared parameters: theta_0 in R rotations of the same scale, others once */
  bps_rng r;
  bps_rng_init(&r, 501, 0, 0, BPS_STREAM_TEST, 0);
  static const char *letters[] = {"X", "Y", "Z", "XY", "ZZ", "YX"};
  double worst = 0;
  for (int trial = 0; trial < 24; trial++) {
    int q = 2 + trial % 2, R = 1 + trial % 4;
    double sc = trial % 3 == 0 ? 1.0 : 0.5;
    bps_circuit *c = NULL;
    CHECK_OK(bps_circuit_create(q, &c));
    int np = 1;
    for (int g = 0; g < 4 * q; g++) {
      int t0 = (int)(bps_rng_u32(&r) % (unsigned)q), t1 = (t0 + 1) % q, qs[2] = {t0, t1};
      bps_cplx U[16];
      ref_random_unitary(&r, 4, U);
      CHECK_OK(bps_circuit_unitary(c, 2, qs, U));
      const char *p = letters[bps_rng_u32(&r) % 6];
      int shared = g < R; /* the first R rotations share parameter 0 */
      CHECK_OK(bps_circuit_prot(c, p, qs, shared ? sc : 0.5, shared ? 0 : np++));
    }
    bps_cost *cost = NULL;
    CHECK_OK(bps_cost_create(q, 1.0, &cost));
    int all[3] = {0, 1, 2};
    bps_cplx *phi = ref_alloc((size_t)1 << q);
    phi[0] = 1;
    CHECK_OK(bps_cost_add(cost, -1.0, q, all, 1, phi));
    double *th = malloc(sizeof(double) * (size_t)np), *ga = malloc(sizeof(double) * (size_t)np),
           *gs = malloc(sizeof(double) * (size_t)np);
    for (int k = 0; k < np; k++) th[k] = bps_rng_angle(&r);
    for (int rep = 0; rep < 2; rep++) {
      bps_state *in = NULL;
      CHECK_OK(bps_state_create(rep ? BPS_FACTORED : BPS_DENSE, q, &in));
      double va, vs;
      CHECK_OK(bps_grad_adjoint(c, cost, th, in, &va, ga));
      CHECK_OK(bps_grad_shift(c, cost, th, in, &vs, gs));
      CHECK_CLOSE(va, vs, 0, 1e-12);
      for (int k = 0; k < np; k++) {
        CHECK_CLOSE(gs[k], ga[k], 0, 1e-10);
        worst = fmax(worst, fabs(gs[k] - ga[k]));
      }
      bps_state_destroy(&in);
    }
    free(th);
    free(ga);
    free(gs);
    free(phi);
    bps_cost_destroy(&cost);
    bps_circuit_destroy(&c);
  }
  printf("general shift rule vs adjoint on shared parameters (R = 1..4): worst %.2e\n", worst);
  return bps_test_result("t501-shift-rules");
}

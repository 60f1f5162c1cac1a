/* t500: the three gradient paths agree on random circuit programs, in both representations.
 * 8 trials (q_in = 1..3 input qubits, 1..3 layers, noiseless and noisy alternately), each a
 * random program of layers [append 1 or 2 ancillas; 3q gates: fixed random 2-qubit
 * unitaries and 1- or 2-qubit Pauli rotations of scale 1 or 1/2, a quarter of them sharing
 * an earlier parameter; noisy trials add a random 3-operator Kraus channel after every
 * fourth gate and global depolarising (p = 0.1) on all qubits but the first; then trace out
 * 1..a leading qubits], a cost with one global term and one local term per output qubit
 * (mixed signs), a random input of rank 1 or 2 and random angles. Checked, dense and
 * factored: the cost values of the adjoint and shift passes (1e-12), adjoint = parameter
 * shift (1e-10), adjoint = central finite differences (h = 1e-5, to 1e-6); and dense =
 * factored (value 1e-12, gradient 1e-10). The fused method (bps_grad_fused: runs of
 * rotations on the same qubits, which these programs contain with any Pauli letters, scales
 * and shared parameters) = adjoint to 1e-12, cost values bitwise. */
#include <string.h>

#include "bps_test.h"
#include "bpscan/circuit.h"
#include "bpscan/gates.h"
#include "bpscan/rng.h"
#include "ref.h"

/* A random circuit on q_in qubits: layers of (append a, gates, noise, trace t). */
static bps_circuit *random_circuit(bps_rng *r, int q_in, int layers, int noisy, int *nparams) {
  bps_circuit *c = NULL;
  CHECK_OK(bps_circuit_create(q_in, &c));
  int param = 0;
  static const char letters[] = "XYZ";
  for (int l = 0; l < layers; l++) {
    int a = 1 + (int)(bps_rng_u32(r) % 2);
    CHECK_OK(bps_circuit_append(c, a));
    int q = c->q_out;
    for (int g = 0; g < 3 * q; g++) {
      int kind = (int)(bps_rng_u32(r) % 3);
      int t0 = (int)(bps_rng_u32(r) % (unsigned)q),
          t1 = (t0 + 1 + (int)(bps_rng_u32(r) % (unsigned)(q - 1))) % q;
      int qs[2] = {t0, t1};
      if (kind == 0) { /* fixed random 2-qubit unitary */
        bps_cplx U[16];
        ref_random_unitary(r, 4, U);
        CHECK_OK(bps_circuit_unitary(c, 2, qs, U));
      } else { /* Pauli rotation on 1 or 2 qubits, sometimes sharing a parameter */
        char p[3] = {letters[bps_rng_u32(r) % 3], letters[bps_rng_u32(r) % 3], 0};
        int k = kind == 1 ? 1 : 2;
        p[k] = 0;
        int idx = (param > 0 && bps_rng_u32(r) % 4 == 0) ? (int)(bps_rng_u32(r) % (unsigned)param)
                                                         : param++;
        double scale = (bps_rng_u32(r) % 2) ? 0.5 : 1.0;
        CHECK_OK(bps_circuit_prot(c, p, qs, scale, idx));
      }
      if (noisy && g % 4 == 3) {
        bps_cplx K[3 * 4];
        ref_random_kraus(r, 2, 3, K);
        CHECK_OK(bps_circuit_kraus(c, 1, &t0, 3, K));
      }
    }
    if (noisy) {
      int all[BPS_MAX_QUBITS];
      for (int i = 0; i < q; i++) all[i] = i;
      CHECK_OK(bps_circuit_depol(c, q - 1, all + 1, 0.1));
    }
    int t = 1 + (int)(bps_rng_u32(r) % (unsigned)a);
    int tr[4];
    for (int i = 0; i < t; i++) tr[i] = i; /* trace the leading qubits, like a DQNN */
    CHECK_OK(bps_circuit_trace(c, t, tr));
  }
  *nparams = param;
  return c;
}

/* Global + local + Pauli-derived cost terms with mixed signs on q qubits. */
static bps_cost *random_cost(bps_rng *r, int q) {
  bps_cost *cost = NULL;
  CHECK_OK(bps_cost_create(q, 1.0, &cost));
  int dq = 1 << q;
  bps_cplx *phi = ref_alloc((size_t)dq);
  for (int i = 0; i < dq; i++) phi[i] = bps_rng_normal(r) + I * bps_rng_normal(r);
  double nrm = 0;
  for (int i = 0; i < dq; i++) nrm += creal(phi[i] * conj(phi[i]));
  for (int i = 0; i < dq; i++) phi[i] /= sqrt(nrm);
  int all[BPS_MAX_QUBITS];
  for (int i = 0; i < q; i++) all[i] = i;
  CHECK_OK(bps_cost_add(cost, -1.0, q, all, 1, phi)); /* global: 1 - <phi|rho|phi> */
  for (int j = 0; j < q; j++) {                       /* local terms, one negative weight */
    bps_cplx psi[2] = {bps_rng_normal(r) + I * bps_rng_normal(r), bps_rng_normal(r)};
    double n2 = sqrt(creal(psi[0] * conj(psi[0])) + creal(psi[1] * conj(psi[1])));
    psi[0] /= n2;
    psi[1] /= n2;
    CHECK_OK(bps_cost_add(cost, j == 0 ? 0.7 : -0.5 / q, 1, &j, 1, psi));
  }
  free(phi);
  return cost;
}

static void grads(bps_repr repr, const bps_circuit *c, const bps_cost *cost, const double *th,
                  int np, const bps_cplx *rho_in, int q_in, double *vals, double *ga, double *gs,
                  double *gf, double *gz) {
  bps_state *in = NULL;
  CHECK_OK(bps_state_create(repr, q_in, &in));
  CHECK_OK(bps_state_set_dense(in, q_in, rho_in));
  CHECK_OK(bps_grad_adjoint(c, cost, th, in, &vals[0], ga));
  CHECK_OK(bps_grad_shift(c, cost, th, in, &vals[1], gs));
  double vz = 0;
  CHECK_OK(bps_grad_fused(c, cost, th, in, &vz, gz));
  CHECK(vz == vals[0]);
  double *tp = malloc(sizeof(double) * (size_t)np);
  bps_state *s = NULL;
  CHECK_OK(bps_state_create(repr, 0, &s));
  const double h = 1e-5;
  for (int p = 0; p < np; p++) {
    double cp, cm;
    memcpy(tp, th, sizeof(double) * (size_t)np);
    tp[p] += h;
    CHECK_OK(bps_state_copy(s, in));
    CHECK_OK(bps_circuit_run(c, tp, s));
    CHECK_OK(bps_cost_eval(cost, s, &cp));
    tp[p] -= 2 * h;
    CHECK_OK(bps_state_copy(s, in));
    CHECK_OK(bps_circuit_run(c, tp, s));
    CHECK_OK(bps_cost_eval(cost, s, &cm));
    gf[p] = (cp - cm) / (2 * h);
  }
  free(tp);
  bps_state_destroy(&s);
  bps_state_destroy(&in);
}

int main(void) {
  bps_rng r;
  bps_rng_init(&r, 500, 0, 0, BPS_STREAM_TEST, 0);
  for (int trial = 0; trial < 8; trial++) {
    int q_in = 1 + trial % 3, layers = 1 + trial % 3, noisy = trial % 2, np;
    bps_circuit *c = random_circuit(&r, q_in, layers, noisy, &np);
    bps_cost *cost = random_cost(&r, c->q_out);
    double *th = malloc(sizeof(double) * (size_t)np);
    for (int p = 0; p < np; p++) th[p] = bps_rng_angle(&r);
    bps_cplx *rho = ref_alloc((size_t)1 << (2 * q_in));
    ref_random_density(&r, q_in, trial % 2 ? 1 : 2, rho, NULL);
    double v[2][2], *g[2][4];
    for (int rep = 0; rep < 2; rep++) {
      for (int k = 0; k < 4; k++) g[rep][k] = malloc(sizeof(double) * (size_t)np);
      grads(rep ? BPS_FACTORED : BPS_DENSE, c, cost, th, np, rho, q_in, v[rep], g[rep][0],
            g[rep][1], g[rep][2], g[rep][3]);
    }
    int runs = 0; /* consecutive rotations on the same qubits: what the fused step fuses */
    for (int i = 1; i < c->nops; i++)
      runs += c->ops[i].kind == BPS_OP_PROT && c->ops[i - 1].kind == BPS_OP_PROT &&
              c->ops[i].k == c->ops[i - 1].k &&
              !memcmp(c->ops[i].qubits, c->ops[i - 1].qubits, sizeof(int) * (size_t)c->ops[i].k);
    double worst_as = 0, worst_af = 0, worst_df = 0, worst_fz = 0;
    for (int rep = 0; rep < 2; rep++) {
      CHECK_CLOSE(v[rep][0], v[rep][1], 0, 1e-12);
      for (int p = 0; p < np; p++) {
        worst_as = fmax(worst_as, fabs(g[rep][0][p] - g[rep][1][p]));
        worst_af = fmax(worst_af, fabs(g[rep][0][p] - g[rep][2][p]));
        CHECK_CLOSE(g[rep][0][p], g[rep][1][p], 0, 1e-10);
        CHECK_CLOSE(g[rep][0][p], g[rep][2][p], 0, 1e-6);
        worst_fz = fmax(worst_fz, fabs(g[rep][0][p] - g[rep][3][p]));
        CHECK_CLOSE(g[rep][0][p], g[rep][3][p], 0, 1e-12);
      }
    }
    CHECK_CLOSE(v[0][0], v[1][0], 0, 1e-12);
    for (int p = 0; p < np; p++) {
      worst_df = fmax(worst_df, fabs(g[0][0][p] - g[1][0][p]));
      CHECK_CLOSE(g[0][0][p], g[1][0][p], 0, 1e-10);
    }
    printf("trial %d: q_in %d -> q_out %d, %d ops, %d params, noisy %d: |adj-shift| %.2e "
           "|adj-fd| %.2e |dense-factored| %.2e; same-qubit rotation pairs %d, |adj-fused| %.2e\n",
           trial, q_in, c->q_out, c->nops, np, noisy, worst_as, worst_af, worst_df, runs,
           worst_fz);
    for (int rep = 0; rep < 2; rep++)
      for (int k = 0; k < 4; k++) free(g[rep][k]);
    free(rho);
    free(th);
    bps_cost_destroy(&cost);
    bps_circuit_destroy(&c);
  }
  return bps_test_result("t500-grad-paths");
}

/* t603: global depolarising noise on each DQNN layer output (noise global_depolarizing,
 * placement after_layer: rho^l -> (1-p) rho^l + p 1/2^{m_l}), physics.md Sec. 4.10.
 * Deterministic, per sample (1e-12), for n = 2, 3 and L = 1, 2, 3 layers, haar / nisq / pauli
 * perceptrons, global and local costs, dense and factored:
 *   1. the noisy gradient by every layer-1 parameter is (1-p)^L times the noiseless one
 *      (the remainder terms of the recursion do not depend on layer-1 parameters);
 *   2. the noisy cost equals the exact recursion
 *        l_noisy = (1-p)^L l + sum_l p (1-p)^{L-l} Tr[O E_L o ... o E_{l+1}(1/2^{m_l})],
 *      its terms computed independently by running the noiseless layer channels
 *      l+1..L (the operations after the l-th partial trace of the noiseless circuit) on
 *      the maximally mixed state 1/2^{m_l};
 *   3. the remainder does not reduce to the unitary-circuit law (1-p)^L l +
 *      (1 - (1-p)^L) Tr O / 2^{m_L}: fresh ancillas act like resets. */
#include <stdlib.h>
#include <string.h>

#include "bps_test.h"
#include "bpscan/circuit.h"
#include "bpscan/model.h"
#include "bpscan/state.h"

/* The noiseless operations after the l-th TRACE of c, as a circuit on m_l qubits. */
static int tail_after_trace(const bps_circuit *c, int l, bps_circuit **out) {
  int seen = 0, i = 0;
  for (; i < c->nops && seen < l; i++) seen += c->ops[i].kind == BPS_OP_TRACE;
  BPS_CHECK(seen == l, BPS_ERR_INTERNAL, "circuit has %d traces, wanted %d", seen, l);
  int q = c->q_in; /* register width at op i */
  for (int j = 0; j < i; j++) {
    if (c->ops[j].kind == BPS_OP_APPEND) q += c->ops[j].k;
    if (c->ops[j].kind == BPS_OP_TRACE) q -= c->ops[j].k;
  }
  bps_circuit *t = NULL;
  BPS_CALL(bps_circuit_create(q, &t));
  int rc = BPS_OK;
  for (; i < c->nops && !rc; i++) {
    const bps_op *op = &c->ops[i];
    switch (op->kind) {
    case BPS_OP_UNITARY:
      rc = bps_circuit_unitary(t, op->k, op->qubits, c->pool + op->mat);
      break;
    case BPS_OP_PROT:
      rc = bps_circuit_prot(t, op->pauli, op->qubits, op->scale, op->param);
      break;
    case BPS_OP_APPEND: rc = bps_circuit_append(t, op->k); break;
    case BPS_OP_TRACE: rc = bps_circuit_trace(t, op->k, op->qubits); break;
    default: rc = BPS_ERR_INTERNAL; /* the noiseless circuit has no channels */
    }
  }
  if (rc) bps_circuit_destroy(&t);
  *out = t;
  return rc;
}

/* (1/N) sum_x Tr[O_x C(1/2^q)] for the circuit C on q qubits. */
static int mixed_term(const bps_model_instance *m, const bps_circuit *t, bps_repr repr,
                      double *out) {
  int q = t->q_in;
  bps_idx d = (bps_idx)1 << q;
  bps_cplx *A = calloc((size_t)(d * d), sizeof(bps_cplx));
  BPS_CHECK(A, BPS_ERR_MEM, "out of memory");
  for (bps_idx i = 0; i < d; i++)
    A[i * d + i] = 1.0 / (repr == BPS_DENSE ? (double)d : sqrt((double)d));
  bps_state *s = NULL;
  int rc = bps_state_create(repr, 0, &s);
  if (!rc)
    rc = repr == BPS_DENSE ? bps_state_set_dense(s, q, A) : bps_state_set_factor(s, q, d, A);
  if (!rc) rc = bps_circuit_run(t, m->theta, s);
  double acc = 0;
  for (int x = 0; x < m->npairs && !rc; x++) {
    double v = 0;
    rc = bps_cost_eval(m->costs[x], s, &v);
    acc += v;
  }
  bps_state_destroy(&s);
  free(A);
  *out = acc / m->npairs;
  return rc;
}

typedef struct {
  int n, f, L, cost, rep;
  uint32_t sample;
  double p;
  int rc, same_params, depol, layer1;
  double worst_g, dc, dev;
} noise_case;

static int run_case(noise_case *k) {
  static const bps_perceptron fam[3] = {BPS_PERC_HAAR, BPS_PERC_NISQ, BPS_PERC_PAULI};
  static const char *widths[3] = {"n,n", "n,n+1,n", "n+1,n,2,n"}; /* L = 1, 2, 3 */
  const bps_repr repr = k->rep ? BPS_FACTORED : BPS_DENSE;
  const int L = k->L;
  bps_model_spec s;
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_DQNN;
  s.perceptron = fam[k->f];
  s.depth = 2;
  snprintf(s.widths, sizeof s.widths, "%s", widths[L - 1]);
  s.inputs = BPS_INPUT_HAAR;
  s.cost = k->cost ? BPS_COST_LOCAL : BPS_COST_GLOBAL;
  s.targets = k->cost ? BPS_TARGET_PRODUCT : (L == 2 ? BPS_TARGET_UNITARY : BPS_TARGET_PRODUCT);
  s.pairs = 2;
  bps_model_spec sn = s;
  sn.noise = BPS_NOISE_GLOBAL_DEPOLARIZING;
  sn.noise_placement = BPS_NOISE_AFTER_LAYER;
  sn.noise_p = k->p;
  bps_model_instance *m0 = NULL, *m1 = NULL;
  double *g0 = NULL, *g1 = NULL, c0 = 0, c1 = 0;
  int rc = bps_model_instance_create(&s, k->n, 603, k->sample, repr, &m0);
  if (!rc) rc = bps_model_instance_create(&sn, k->n, 603, k->sample, repr, &m1);
  if (!rc) {
    int np = m0->nparams;
    k->same_params = np == m1->nparams &&
                     !memcmp(m0->theta, m1->theta, sizeof(double) * (size_t)np);
    for (int i = 0; i < m1->circuit->nops; i++)
      k->depol += m1->circuit->ops[i].kind == BPS_OP_DEPOL;
    g0 = malloc(sizeof(double) * (size_t)np);
    g1 = malloc(sizeof(double) * (size_t)np);
    rc = (g0 && g1) ? BPS_OK : BPS_ERR_MEM;
    if (!rc) rc = bps_model_cost_grad(m0, m0->theta, BPS_GRAD_ADJOINT, &c0, g0);
    if (!rc) rc = bps_model_cost_grad(m1, m1->theta, BPS_GRAD_ADJOINT, &c1, g1);
  }
  const double f1 = pow(1.0 - k->p, L);
  /* 1. layer-1 gradients scale by (1-p)^L */
  for (int q = 0; !rc && q < m0->nparams; q++) {
    if (strncmp(m0->param_names[q], "l1.", 3)) continue;
    k->worst_g = fmax(k->worst_g, fabs(g1[q] - f1 * g0[q]));
    k->layer1++;
  }
  /* 2. the recursion, 3. the unitary-circuit law (remainder (1 - (1-p)^L) Tr O / 2^{m_L}) */
  double rec = f1 * c0, trO = 0;
  for (int l = 1; l <= L && !rc; l++) {
    bps_circuit *t = NULL;
    double v = 0;
    rc = tail_after_trace(m0->circuit, l, &t);
    if (!rc) rc = mixed_term(m0, t, repr, &v);
    rec += k->p * pow(1.0 - k->p, L - l) * v;
    if (l == L) trO = v; /* the ops after the last trace are unital: (1/N) sum Tr O_x / 2^m */
    bps_circuit_destroy(&t);
  }
  k->dc = fabs(c1 - rec);
  k->dev = fabs(c1 - (f1 * c0 + (1 - f1) * trO));
  free(g0);
  free(g1);
  bps_model_instance_destroy(&m0);
  bps_model_instance_destroy(&m1);
  if (rc) bps_error_print(stderr);
  k->rc = rc;
  return rc;
}

int main(void) {
  const double ps[2] = {0.1, 0.37};
  noise_case cs[2 * 3 * 3 * 2 * 2 * 2];
  int nc = 0;
  for (int n = 2; n <= 3; n++)
    for (int f = 0; f < 3; f++)
      for (int L = 1; L <= 3; L++)
        for (int cost = 0; cost < 2; cost++)
          for (int rep = 0; rep < 2; rep++)
            for (uint32_t sample = 0; sample < 2; sample++)
              cs[nc++] = (noise_case){.n = n,
                                      .f = f,
                                      .L = L,
                                      .cost = cost,
                                      .rep = rep,
                                      .sample = sample,
                                      .p = ps[(sample + (uint32_t)L) % 2]};
              /* cases in parallel (the kernels then run on one thread each) */
#pragma omp parallel for schedule(dynamic)
  for (int i = 0; i < nc; i++) run_case(&cs[i]);
  double worst_g = 0, worst_c = 0, min_dev = 1e300;
  int layer1 = 0;
  for (int i = 0; i < nc; i++) {
    const noise_case *k = &cs[i];
    CHECK(k->rc == 0);
    CHECK(k->same_params);
    CHECK(k->depol == k->L);
    CHECK(k->layer1 > 0);
    CHECK(k->worst_g < 1e-12);
    CHECK(k->dc < 1e-12);
    if (k->worst_g >= 1e-12 || k->dc >= 1e-12)
      fprintf(stderr, "case n=%d f=%d L=%d cost=%d rep=%d sample=%u: |dg| %.3g |dC| %.3g\n",
              k->n, k->f, k->L, k->cost, k->rep, k->sample, k->worst_g, k->dc);
    worst_g = fmax(worst_g, k->worst_g);
    worst_c = fmax(worst_c, k->dc);
    layer1 += k->layer1;
    if (k->L >= 2) min_dev = fmin(min_dev, k->dev);
  }
  printf("%d cases (%d layer-1 gradients): max |g_noisy - (1-p)^L g| = %.2e, "
         "max |C_noisy - recursion| = %.2e, min deviation from the unitary law (L >= 2) %.3g\n",
         nc, layer1, worst_g, worst_c, min_dev);
  CHECK(min_dev > 1e-6);
  return bps_test_result("t603-noise-oracle");
}

/* t630-vh: the visible/hidden unitary network (src/models/vh.c; physics.md Secs. 3.1, 3.9,
 * 4.9).
 * - structure: 3N + 9N(N-1)/2 terms per layer in the documented order (checked against an
 *   independent enumeration), one PROT per (layer, term) with scale J_t, parameter names
 *   "l<l>.t<t>", registers (hidden first, visible last), the objective on the visible
 *   qubits, reproducibility, and the BPS_ERR_ARG cases;
 * - objective values against the state API (bps_expect_pauli / bps_expect_projector);
 * - adjoint = parameter shift (1e-10) and dense = factored (1e-10) for the pauli, projector
 *   and fidelity objectives, n_v = 1 and n_h = 1..3 (plus n_v = 2 Pauli strings), and with
 *   every noise channel and placement; noise operations, diagnostics fields (visible
 *   qubits, page_db = D_h without noise);
 * - volume law: one visible qubit, depth 1..6 (measured layer by layer on the 6-layer
 *   instance); the sample means of the visible purity, von Neumann entropy and trace
 *   distance T(rho_v, 1/2) against the Haar (Page) values of Table C and
 *   1/2 B(2, D_h-1)/B(3/2, D_h-1), asserted within 4 SE at depth 6 (printed for all depths:
 *   n_h = 1 converges at L = 2, n_h = 2, 3 at L = 4). */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bps_test.h"
#include "bpscan/circuit.h"
#include "bpscan/gates.h"
#include "bpscan/model.h"
#include "bpscan/state.h"

/* Two operations with the same kind, qubits, generator, parameter and scale. */
static int same_op(const bps_op *a, const bps_op *b) {
  int ok = a->kind == b->kind && a->k == b->k && a->param == b->param && a->scale == b->scale &&
           a->ens == b->ens && a->ens_sigma == b->ens_sigma;
  for (int i = 0; ok && a->qubits && i < a->k; i++) ok = a->qubits[i] == b->qubits[i];
  if (ok && a->pauli) ok = b->pauli && !strcmp(a->pauli, b->pauli);
  return ok;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static bps_model_spec vh_spec(const char *visible, const char *hidden, int layers,
                              bps_vh_objective obj, const char *pauli) {
  bps_model_spec s;
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_VH;
  snprintf(s.visible, sizeof s.visible, "%s", visible);
  snprintf(s.hidden, sizeof s.hidden, "%s", hidden);
  s.vh_layers = layers;
  s.vh_objective = obj;
  snprintf(s.vh_pauli, sizeof s.vh_pauli, "%s", pauli);
  return s;
}

/* ------------------------------------------------------------------ structure */
static void test_structure(void) {
  const int n = 2; /* visible "1", hidden "n" -> N = 3 */
  bps_model_spec s = vh_spec("1", "n", 2, BPS_VH_OBJ_PAULI, "Z");
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create(&s, n, 630, 5, BPS_DENSE, &m));
  const int N = 3, T = 3 * N + 9 * N * (N - 1) / 2;
  CHECK(T == 36);
  CHECK(m->kind == BPS_MODEL_VH && m->q_in == N && m->q_out == N);
  CHECK(m->nparams == 2 * T && m->circuit && m->circuit->nops == 2 * T);
  CHECK(m->circuit->nparams == 2 * T);
  CHECK(strcmp(m->param_names[0], "l1.t0") == 0);
  CHECK(strcmp(m->param_names[7], "l1.t7") == 0);
  CHECK(strcmp(m->param_names[T + 23], "l2.t23") == 0);
  /* independent enumeration of the documented order */
  const char *L = "XYZ";
  int t = 0, ok = 1;
  for (int i = 0; i < N; i++)
    for (int a = 0; a < 3; a++, t++) {
      const bps_op *op = &m->circuit->ops[t];
      ok &= op->kind == BPS_OP_PROT && op->k == 1 && op->qubits[0] == i &&
            op->pauli[0] == L[a] && op->param == t;
    }
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++)
      for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++, t++) {
          const bps_op *op = &m->circuit->ops[t];
          ok &= op->kind == BPS_OP_PROT && op->k == 2 && op->qubits[0] == i &&
                op->qubits[1] == j && op->pauli[0] == L[a] && op->pauli[1] == L[b] &&
                op->param == t;
        }
  CHECK(ok && t == T);
  /* layer 2 repeats the terms with the same couplings and new parameters */
  int same = 1;
  for (int u = 0; u < T; u++) {
    const bps_op *a = &m->circuit->ops[u], *b = &m->circuit->ops[T + u];
    same &= strcmp(a->pauli, b->pauli) == 0 && a->scale == b->scale && b->param == T + u &&
            a->scale != 0;
  }
  CHECK(same);
  /* couplings: onsite and offsite differ in scale with the sigmas */
  bps_model_spec s2 = s;
  s2.onsite_sigma = 0.1;
  bps_model_instance *m2 = NULL;
  CHECK_OK(bps_model_instance_create(&s2, n, 630, 5, BPS_DENSE, &m2));
  CHECK_CLOSE(m2->circuit->ops[0].scale, 0.1 * m->circuit->ops[0].scale, 1e-15, 0);
  CHECK_CLOSE(m2->circuit->ops[9].scale, m->circuit->ops[9].scale, 0, 0);
  bps_model_instance_destroy(&m2);
  /* angles in [0, 2 pi); the objective acts on the last (visible) qubit */
  int inr = 1;
  for (int p = 0; p < m->nparams; p++) inr &= m->theta[p] >= 0 && m->theta[p] < 2 * M_PI;
  CHECK(inr);
  CHECK(m->npairs == 1 && m->costs[0]->q == N && m->costs[0]->nterms == 2);
  CHECK(m->ndiag == 1 && m->diag_qubits[0] == N - 1 && m->page_db == 4);
  CHECK(m->costs[0]->terms[0].k == 1 && m->costs[0]->terms[0].qubits[0] == N - 1);
  /* reproducible, and different per sample */
  bps_model_instance *m3 = NULL, *m4 = NULL;
  CHECK_OK(bps_model_instance_create(&s, n, 630, 5, BPS_FACTORED, &m3));
  CHECK_OK(bps_model_instance_create(&s, n, 630, 6, BPS_DENSE, &m4));
  CHECK(memcmp(m->theta, m3->theta, sizeof(double) * (size_t)m->nparams) == 0);
  CHECK(m->circuit->ops[40].scale == m3->circuit->ops[40].scale);
  CHECK(m->theta[3] != m4->theta[3] && m->circuit->ops[3].scale != m4->circuit->ops[3].scale);
  bps_model_instance_destroy(&m3);
  bps_model_instance_destroy(&m4);
  /* deeper instances extend shallower ones: same couplings, same leading angles */
  bps_model_spec s5 = s;
  s5.vh_layers = 5;
  CHECK_OK(bps_model_instance_create(&s5, n, 630, 5, BPS_DENSE, &m3));
  CHECK(m3->nparams == 5 * T &&
        memcmp(m->theta, m3->theta, sizeof(double) * (size_t)m->nparams) == 0);
  int pre = 1;
  for (int u = 0; u < 2 * T; u++) pre &= same_op(&m->circuit->ops[u], &m3->circuit->ops[u]);
  CHECK(pre);
  bps_model_instance_destroy(&m3);
  bps_model_instance_destroy(&m);
  /* n = 8 total qubits: 24 + 252 terms per layer */
  bps_model_spec s8 = vh_spec("2", "6", 1, BPS_VH_OBJ_PROJECTOR, "Z");
  CHECK_OK(bps_model_instance_create(&s8, 3, 630, 0, BPS_FACTORED, &m));
  CHECK(m->nparams == 276 && m->q_out == 8);
  CHECK(m->ndiag == 2 && m->diag_qubits[0] == 6 && m->diag_qubits[1] == 7 && m->page_db == 64);
  bps_model_instance_destroy(&m);

  /* noise: a local channel after each term gate on its qubits, or on every qubit after each
   * layer; global depolarising after each layer; no Page prediction with noise */
  bps_model_spec sn = vh_spec("1", "2", 2, BPS_VH_OBJ_PAULI, "Z"); /* N = 3, T = 36 */
  sn.noise = BPS_NOISE_DEPHASING;
  sn.noise_p = 0.02;
  CHECK_OK(bps_model_instance_create(&sn, 1, 630, 0, BPS_DENSE, &m));
  int nk = 0;
  for (int o = 0; o < m->circuit->nops; o++) nk += m->circuit->ops[o].kind == BPS_OP_KRAUS;
  CHECK(nk == 2 * (9 + 2 * 27) && m->nparams == 72 && m->page_db == 0);
  CHECK(m->circuit->ops[1].kind == BPS_OP_KRAUS && m->circuit->ops[1].qubits[0] == 0 &&
        m->circuit->ops[1].nkraus == 2);
  bps_model_instance_destroy(&m);
  sn.noise_placement = BPS_NOISE_AFTER_LAYER;
  CHECK_OK(bps_model_instance_create(&sn, 1, 630, 0, BPS_DENSE, &m));
  nk = 0;
  for (int o = 0; o < m->circuit->nops; o++) nk += m->circuit->ops[o].kind == BPS_OP_KRAUS;
  CHECK(nk == 2 * 3 && m->circuit->ops[36].kind == BPS_OP_KRAUS);
  bps_model_instance_destroy(&m);
  sn.noise = BPS_NOISE_GLOBAL_DEPOLARIZING;
  CHECK_OK(bps_model_instance_create(&sn, 1, 630, 0, BPS_DENSE, &m));
  CHECK(m->circuit->nops == 2 * 37 && m->circuit->ops[36].kind == BPS_OP_DEPOL &&
        m->circuit->ops[36].k == 3);
  bps_model_instance_destroy(&m);
  sn.noise_placement = BPS_NOISE_AFTER_GATE; /* global depolarising is per layer only */
  CHECK_FAILS(bps_model_instance_create(&sn, 1, 630, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  sn.noise = BPS_NOISE_DEPOLARIZING;
  sn.noise_p = 2;
  CHECK_FAILS(bps_model_instance_create(&sn, 1, 630, 0, BPS_DENSE, &m), BPS_ERR_ARG);

  /* invalid settings */
  bps_model_spec b = vh_spec("1", "n", 1, BPS_VH_OBJ_PAULI, "ZZ");
  CHECK_FAILS(bps_model_instance_create(&b, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b = vh_spec("2", "n", 1, BPS_VH_OBJ_PAULI, "II");
  CHECK_FAILS(bps_model_instance_create(&b, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b = vh_spec("1", "n", 1, BPS_VH_OBJ_PAULI, "Q");
  CHECK_FAILS(bps_model_instance_create(&b, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b = vh_spec("1", "n", 0, BPS_VH_OBJ_PAULI, "Z");
  CHECK_FAILS(bps_model_instance_create(&b, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b = vh_spec("n", "n+10", 1, BPS_VH_OBJ_PROJECTOR, "Z");
  CHECK_FAILS(bps_model_instance_create(&b, 12, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b = vh_spec("1,2", "n", 1, BPS_VH_OBJ_PROJECTOR, "Z");
  CHECK_FAILS(bps_model_instance_create(&b, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b = vh_spec("1", "n-2", 1, BPS_VH_OBJ_PROJECTOR, "Z");
  CHECK_FAILS(bps_model_instance_create(&b, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b = vh_spec("1", "n", 1, BPS_VH_OBJ_PROJECTOR, "Z");
  b.onsite_sigma = 0;
  CHECK_FAILS(bps_model_instance_create(&b, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b.onsite_sigma = 1;
  b.vh_objective = (bps_vh_objective)7;
  CHECK_FAILS(bps_model_instance_create(&b, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  CHECK(m == NULL);
}

/* ------------------------------------------------------------------ gradients */
/* Objective value by the state API, for the pauli and projector objectives. */
static double direct_objective(const bps_model_instance *m, const bps_model_spec *s, int nh,
                               bps_repr repr) {
  bps_state *st = NULL;
  CHECK_OK(bps_state_create(repr, 0, &st));
  CHECK_OK(bps_state_copy(st, m->inputs[0]));
  CHECK_OK(bps_circuit_run(m->circuit, m->theta, st));
  double v = NAN;
  int N = m->q_out, nv = N - nh;
  if (s->vh_objective == BPS_VH_OBJ_PAULI) {
    char full[BPS_MAX_QUBITS + 1];
    memset(full, 'I', (size_t)N);
    memcpy(full + nh, s->vh_pauli, (size_t)nv);
    full[N] = 0;
    CHECK_OK(bps_expect_pauli(st, full, &v));
  } else {
    int vis[BPS_MAX_QUBITS];
    bps_cplx e0[1 << 4] = {1};
    for (int i = 0; i < nv; i++) vis[i] = nh + i;
    CHECK_OK(bps_expect_projector(st, nv, vis, e0, &v));
  }
  bps_state_destroy(&st);
  return v;
}

static void test_gradients(void) {
  static const struct {
    const char *vis, *pauli;
  } vcases[] = {{"1", "Z"}, {"1", "X"}, {"1", "Y"}, {"2", "XY"}, {"2", "IZ"}};
  const char *oname[3] = {"pauli", "projector", "fidelity"};
  double worst_as = 0, worst_df = 0, worst_obj = 0;
  for (int nh = 1; nh <= 3; nh++)
    for (int vc = 0; vc < 5; vc++)
      for (int obj = 0; obj < 3; obj++) {
        if (vc > 0 && (obj != 0 || nh == 3)) continue; /* extra Pauli strings: n_h <= 2 */
        char hid[8];
        snprintf(hid, sizeof hid, "%d", nh);
        bps_model_spec s = vh_spec(vcases[vc].vis, hid, nh == 3 ? 1 : 2, (bps_vh_objective)obj,
                                   vcases[vc].pauli);
        double cost[2][2], *g[2][2];
        for (int rep = 0; rep < 2; rep++) {
          bps_repr repr = rep ? BPS_FACTORED : BPS_DENSE;
          bps_model_instance *m = NULL;
          CHECK_OK(bps_model_instance_create(&s, 3, 6300 + (uint64_t)nh,
                                             (uint32_t)(vc + 10 * obj), repr, &m));
          for (int k = 0; k < 2; k++) g[rep][k] = malloc(sizeof(double) * (size_t)m->nparams);
          CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &cost[rep][0], g[rep][0]));
          CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_SHIFT, &cost[rep][1], g[rep][1]));
          double c_only;
          CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &c_only, NULL));
          CHECK_CLOSE(c_only, cost[rep][0], 0, 1e-12);
          CHECK_CLOSE(cost[rep][0], cost[rep][1], 0, 1e-12);
          if (obj != BPS_VH_OBJ_FIDELITY) {
            double d = direct_objective(m, &s, nh, repr);
            worst_obj = fmax(worst_obj, fabs(d - cost[rep][0]));
            CHECK_CLOSE(cost[rep][0], d, 0, 1e-12);
          } else {
            CHECK(cost[rep][0] >= -1e-12 && cost[rep][0] <= 1 + 1e-12);
          }
          double wa = 0;
          for (int p = 0; p < m->nparams; p++) wa = fmax(wa, fabs(g[rep][0][p] - g[rep][1][p]));
          worst_as = fmax(worst_as, wa);
          CHECK(wa < 1e-10);
          if (rep == 1) {
            double wd = fabs(cost[0][0] - cost[1][0]);
            for (int p = 0; p < m->nparams; p++) wd = fmax(wd, fabs(g[0][0][p] - g[1][0][p]));
            worst_df = fmax(worst_df, wd);
            CHECK(wd < 1e-10);
            printf("  n_v %s n_h %d %-9s %-2s L %d: %3d params, cost %+.6f, |adj-shift| %.1e, "
                   "|dense-factored| %.1e\n",
                   vcases[vc].vis, nh, oname[obj], obj ? "" : vcases[vc].pauli, s.vh_layers,
                   m->nparams, cost[1][0], wa, wd);
          }
          bps_model_instance_destroy(&m);
        }
        for (int rep = 0; rep < 2; rep++)
          for (int k = 0; k < 2; k++) free(g[rep][k]);
      }
  /* with noise (every channel and placement) */
  static const struct {
    bps_noise_kind kind;
    bps_noise_placement place;
    double p;
    const char *name;
  } noises[] = {{BPS_NOISE_DEPOLARIZING, BPS_NOISE_AFTER_GATE, 0.03, "depolarizing/gate"},
                {BPS_NOISE_DEPHASING, BPS_NOISE_AFTER_LAYER, 0.1, "dephasing/layer"},
                {BPS_NOISE_AMPLITUDE_DAMPING, BPS_NOISE_AFTER_GATE, 0.05, "amp.damping/gate"},
                {BPS_NOISE_GLOBAL_DEPOLARIZING, BPS_NOISE_AFTER_LAYER, 0.1, "global depol."}};
  for (int k = 0; k < 4; k++) {
    bps_model_spec s = vh_spec("1", "2", 2, (bps_vh_objective)(k % 3), "X");
    s.noise = noises[k].kind;
    s.noise_placement = noises[k].place;
    s.noise_p = noises[k].p;
    double cost[2], *ga[2], *gs = NULL;
    int np = 0;
    for (int rep = 0; rep < 2; rep++) {
      bps_model_instance *m = NULL;
      CHECK_OK(bps_model_instance_create(&s, 1, 6305, (uint32_t)k,
                                         rep ? BPS_FACTORED : BPS_DENSE, &m));
      np = m->nparams;
      ga[rep] = malloc(sizeof(double) * (size_t)np);
      if (!gs) gs = malloc(sizeof(double) * (size_t)np);
      double cs;
      CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &cost[rep], ga[rep]));
      CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_SHIFT, &cs, gs));
      CHECK_CLOSE(cs, cost[rep], 0, 1e-12);
      double wa = 0;
      for (int p = 0; p < np; p++) wa = fmax(wa, fabs(ga[rep][p] - gs[p]));
      CHECK(wa < 1e-10);
      worst_as = fmax(worst_as, wa);
      bps_model_instance_destroy(&m);
    }
    double wd = fabs(cost[0] - cost[1]);
    for (int p = 0; p < np; p++) wd = fmax(wd, fabs(ga[0][p] - ga[1][p]));
    CHECK(wd < 1e-10);
    worst_df = fmax(worst_df, wd);
    printf("  n_v 1 n_h 2 %-9s L 2 noise %-18s: %d params, cost %+.6f, |dense-factored| %.1e\n",
           oname[k % 3], noises[k].name, np, cost[0], wd);
    free(ga[0]);
    free(ga[1]);
    free(gs);
  }
  printf("gradients: worst |adjoint - shift| %.2e, |dense - factored| %.2e, |objective - "
         "state API| %.2e\n",
         worst_as, worst_df, worst_obj);
}

/* ------------------------------------------------------------------ volume law */
typedef struct {
  double mean, se;
} mstat;
static mstat mean_se(const double *x, int S) {
  double m = 0, v = 0;
  for (int i = 0; i < S; i++) m += x[i];
  m /= S;
  for (int i = 0; i < S; i++) v += (x[i] - m) * (x[i] - m);
  v /= (S - 1);
  mstat r = {m, sqrt(v / S)};
  return r;
}
static double page_entropy(int dA, int dB) {
  double s = 0;
  for (int k = dB + 1; k <= dA * dB; k++) s += 1.0 / k;
  return s - (dA - 1.0) / (2.0 * dB);
}
static double beta_fn(double a, double b) { return exp(lgamma(a) + lgamma(b) - lgamma(a + b)); }

/* Apply the PROT operations [from, to) of c to s by hand (gates.h rotations): the volume-law
 * scan measures every depth of one deep instance, whose first l layers are exactly the
 * vh_layers = l instance (checked in test_structure). */
static void run_ops(const bps_circuit *c, const double *theta, int from, int to, bps_state *s) {
  for (int i = from; i < to; i++) {
    const bps_op *o = &c->ops[i];
    bps_cplx U[16];
    CHECK_OK(bps_gate_pauli_rot(o->pauli, 2.0 * o->scale * theta[o->param], U));
    CHECK_OK(bps_apply_unitary(s, o->k, o->qubits, U));
  }
}

static void test_volume_law(void) {
  enum { S = 3000, LMAX = 6 };
  double *pur = malloc(sizeof(double) * S * LMAX), *ent = malloc(sizeof(double) * S * LMAX),
         *td = malloc(sizeof(double) * S * LMAX);
  printf("volume law, n_v = 1 (S = %d samples, depths nested per sample; z = (MC - Haar)/SE):\n",
         S);
  for (int nh = 1; nh <= 3; nh++) {
    const int Dh = 1 << nh, N = nh + 1, T = 3 * N + 9 * N * (N - 1) / 2;
    const double P_ex = (2.0 + Dh) / (2.0 * Dh + 1.0), S_ex = page_entropy(2, Dh),
                 T_ex = 0.5 * beta_fn(2, Dh - 1) / beta_fn(1.5, Dh - 1);
    printf("  n_h = %d: Haar purity %.6f, entropy %.6f, T %.6f\n", nh, P_ex, S_ex, T_ex);
    char hid[8];
    snprintf(hid, sizeof hid, "%d", nh);
    bps_model_spec s = vh_spec("1", hid, LMAX, BPS_VH_OBJ_PAULI, "Z");
    bps_state *st = NULL, *rv = NULL;
    CHECK_OK(bps_state_create(BPS_FACTORED, 0, &st));
    CHECK_OK(bps_state_create(BPS_FACTORED, 0, &rv));
    const int vis = nh;
    for (int x = 0; x < S; x++) {
      bps_model_instance *m = NULL;
      CHECK_OK(bps_model_instance_create(&s, 1, 630, (uint32_t)x, BPS_FACTORED, &m));
      CHECK_OK(bps_state_copy(st, m->inputs[0]));
      for (int L = 1; L <= LMAX; L++) {
        run_ops(m->circuit, m->theta, (L - 1) * T, L * T, st);
        size_t k = (size_t)(L - 1) * S + (size_t)x;
        CHECK_OK(bps_reduced_state(st, 1, &vis, rv));
        CHECK_OK(bps_purity(rv, &pur[k]));
        CHECK_OK(bps_entropy_vn(rv, &ent[k]));
        CHECK_OK(bps_trace_distance_mixed(rv, &td[k]));
      }
      bps_model_instance_destroy(&m);
    }
    bps_state_destroy(&st);
    bps_state_destroy(&rv);
    for (int L = 1; L <= LMAX; L++) {
      size_t o = (size_t)(L - 1) * S;
      mstat P = mean_se(pur + o, S), E = mean_se(ent + o, S), Tm = mean_se(td + o, S);
      double zP = (P.mean - P_ex) / P.se, zE = (E.mean - S_ex) / E.se,
             zT = (Tm.mean - T_ex) / Tm.se;
      printf("    L %d: purity %.5f +- %.5f (z %+6.2f)  S %.5f +- %.5f (z %+6.2f)  T %.5f +- "
             "%.5f (z %+6.2f)\n",
             L, P.mean, P.se, zP, E.mean, E.se, zE, Tm.mean, Tm.se, zT);
      if (L == LMAX) {
        CHECK(fabs(zP) < 4);
        CHECK(fabs(zE) < 4);
        CHECK(fabs(zT) < 4);
      }
    }
  }
  free(pur);
  free(ent);
  free(td);
}

int main(void) {
  double t0 = now();
  test_structure();
  double t1 = now();
  test_gradients();
  double t2 = now();
  test_volume_law();
  double t3 = now();
  printf("times: structure %.2f s, gradients %.2f s, volume law %.2f s\n", t1 - t0, t2 - t1,
         t3 - t2);
  return bps_test_result("t630-vh");
}

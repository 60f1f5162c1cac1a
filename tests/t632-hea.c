/* t632-hea: hardware-efficient ansaetze (src/models/hea.c; physics.md Secs. 4.4, 4.8, 4.10).
 * - structure of both ansaetze: operation sequence (fixed R_y(pi/4) preparation, random-axis
 *   rotations, CZ ladder / brickwork of R_y R_y CZ blocks), parameter order and names
 *   "l<l>.q<i>.g0", hea_layers = 0 -> L = n, noise operations for every placement, the axis
 *   frequencies (1/3 each within 4 SE), and the BPS_ERR_ARG cases;
 * - adjoint = parameter shift (1e-10) and dense = factored (1e-10) for both ansaetze, global
 *   and local costs, all noise kinds and placements;
 * - global depolarising after each of L layers: cost and gradient follow the exact
 *   (1-p)^L law of Sec. 4.10 (1e-12);
 * - ALT at L = 1 with zero targets is the Cerezo toy model (Sec. 4.7): costs and gradients
 *   against the closed forms per sample (1e-12) and Var[dC/d theta_0] against
 *   (1/8)(3/8)^(n_rot-1) (global) and 1/(8n^2) (local) within 4 SE, n = 2, 3, 4;
 * - McClean, n = 4, global cost: Var[dC/d theta] of the qubit-0 angle in the middle layer for
 *   L = 1 .. 64 (printed); asserted: it decreases from L = 1 to L = 64 (by > 4 SE) and at
 *   L = 64 agrees with the Haar value 1/(2(d+1)^2) of Table B within 4 SE (the variance
 *   approaches it slowly from below: about -8 % at L = 16-20, -4 % at L = 48, < 2 % at
 *   L >= 96, measured with 20000 samples). */
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

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static bps_model_spec hea_spec(bps_hea_kind kind, int L) {
  bps_model_spec s;
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_HEA;
  s.hea = kind;
  s.hea_layers = L;
  return s;
}

static int is_cz(const bps_circuit *c, const bps_op *op, int a) {
  if (op->kind != BPS_OP_UNITARY || op->k != 2 || op->qubits[0] != a || op->qubits[1] != a + 1)
    return 0;
  bps_cplx U[16];
  bps_gate_cz(U);
  return memcmp(U, c->pool + op->mat, sizeof U) == 0;
}

static void test_structure(void) {
  /* McClean, n = 4, L = 3, no noise */
  const int n = 4, L = 3;
  bps_model_spec s = hea_spec(BPS_HEA_MCCLEAN, L);
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create(&s, n, 632, 1, BPS_DENSE, &m));
  const bps_circuit *c = m->circuit;
  CHECK(m->kind == BPS_MODEL_HEA && m->q_in == n && m->q_out == n && m->npairs == 1);
  CHECK(m->nparams == L * n && c->nparams == L * n && c->nops == n + L * (n + n - 1));
  int ok = 1, op = 0;
  for (int i = 0; i < n; i++, op++) {
    const bps_op *o = &c->ops[op];
    const bps_cplx *U = c->pool + o->mat;
    ok &= o->kind == BPS_OP_UNITARY && o->k == 1 && o->qubits[0] == i &&
          fabs(creal(U[0]) - cos(M_PI / 8)) < 1e-15 &&
          fabs(creal(U[2]) - sin(M_PI / 8)) < 1e-15 && fabs(creal(U[1]) + sin(M_PI / 8)) < 1e-15;
  }
  for (int l = 1; l <= L; l++) {
    for (int i = 0; i < n; i++, op++) {
      const bps_op *o = &c->ops[op];
      int p = (l - 1) * n + i;
      char name[32];
      snprintf(name, sizeof name, "l%d.q%d.g0", l, i);
      ok &= o->kind == BPS_OP_PROT && o->k == 1 && o->qubits[0] == i && o->scale == 0.5 &&
            o->param == p && strchr("XYZ", o->pauli[0]) && strcmp(m->param_names[p], name) == 0;
    }
    for (int i = 0; i + 1 < n; i++, op++) ok &= is_cz(c, &c->ops[op], i);
  }
  CHECK(ok && op == c->nops);
  int inr = 1;
  for (int p = 0; p < m->nparams; p++) inr &= m->theta[p] >= 0 && m->theta[p] < 2 * M_PI;
  CHECK(inr);
  bps_model_instance_destroy(&m);

  /* axis frequencies over many (sample, layer, qubit) */
  long cnt[3] = {0, 0, 0}, tot = 0;
  for (uint32_t x = 0; x < 600; x++) {
    CHECK_OK(bps_model_instance_create(&s, n, 632, x, BPS_FACTORED, &m));
    for (int o = 0; o < m->circuit->nops; o++)
      if (m->circuit->ops[o].kind == BPS_OP_PROT)
        cnt[m->circuit->ops[o].pauli[0] - 'X']++, tot++;
    bps_model_instance_destroy(&m);
  }
  double se = sqrt(tot * (1.0 / 3) * (2.0 / 3));
  printf("McClean axes over %ld rotations: X %ld, Y %ld, Z %ld (expected %.0f +- %.0f each)\n",
         tot, cnt[0], cnt[1], cnt[2], tot / 3.0, se);
  for (int a = 0; a < 3; a++) CHECK(fabs(cnt[a] - tot / 3.0) < 4 * se);

  /* hea_layers = 0 means L = n */
  s.hea_layers = 0;
  CHECK_OK(bps_model_instance_create(&s, 3, 632, 0, BPS_DENSE, &m));
  CHECK(m->nparams == 9 && strcmp(m->param_names[8], "l3.q2.g0") == 0);
  bps_model_instance_destroy(&m);

  /* ALT, n = 5, L = 4: blocks (0,1),(2,3) | (1,2),(3,4) | ... */
  bps_model_spec a = hea_spec(BPS_HEA_ALT, 4);
  CHECK_OK(bps_model_instance_create(&a, 5, 632, 2, BPS_DENSE, &m));
  CHECK(m->nparams == 16 && m->circuit->nops == 4 * 2 * 3);
  ok = 1;
  op = 0;
  int p = 0;
  for (int l = 1; l <= 4; l++)
    for (int i = l % 2 ? 0 : 1; i + 1 < 5; i += 2) {
      for (int j = 0; j < 2; j++, op++, p++) {
        const bps_op *o = &m->circuit->ops[op];
        char name[32];
        snprintf(name, sizeof name, "l%d.q%d.g0", l, i + j);
        ok &= o->kind == BPS_OP_PROT && o->pauli[0] == 'Y' && o->qubits[0] == i + j &&
              o->param == p && o->scale == 0.5 && strcmp(m->param_names[p], name) == 0;
      }
      ok &= is_cz(m->circuit, &m->circuit->ops[op++], i);
    }
  CHECK(ok && op == m->circuit->nops);
  bps_model_instance_destroy(&m);
  CHECK_OK(bps_model_instance_create(&a, 2, 632, 2, BPS_DENSE, &m)); /* even layers empty */
  CHECK(m->nparams == 4);
  bps_model_instance_destroy(&m);

  /* noise placements */
  s = hea_spec(BPS_HEA_MCCLEAN, 2);
  s.noise = BPS_NOISE_DEPOLARIZING;
  s.noise_p = 0.05;
  CHECK_OK(bps_model_instance_create(&s, 3, 632, 0, BPS_DENSE, &m));
  int nk = 0, nd = 0;
  for (int o = 0; o < m->circuit->nops; o++) {
    nk += m->circuit->ops[o].kind == BPS_OP_KRAUS;
    nd += m->circuit->ops[o].kind == BPS_OP_DEPOL;
  }
  CHECK(nk == 2 * (3 + 2 * 2) && nd == 0); /* per layer: one per rotation, two per CZ */
  CHECK(m->circuit->ops[4].kind == BPS_OP_KRAUS && m->circuit->ops[4].qubits[0] == 0 &&
        m->circuit->ops[4].nkraus == 4);
  bps_model_instance_destroy(&m);
  s.noise_placement = BPS_NOISE_AFTER_LAYER;
  CHECK_OK(bps_model_instance_create(&s, 3, 632, 0, BPS_DENSE, &m));
  nk = 0;
  for (int o = 0; o < m->circuit->nops; o++) nk += m->circuit->ops[o].kind == BPS_OP_KRAUS;
  CHECK(nk == 2 * 3 && m->circuit->ops[3 + 5].kind == BPS_OP_KRAUS);
  bps_model_instance_destroy(&m);
  s.noise = BPS_NOISE_GLOBAL_DEPOLARIZING;
  CHECK_OK(bps_model_instance_create(&s, 3, 632, 0, BPS_DENSE, &m));
  CHECK(m->ndiag == 0 && m->page_db == 0);
  nk = nd = 0;
  for (int o = 0; o < m->circuit->nops; o++) {
    nk += m->circuit->ops[o].kind == BPS_OP_KRAUS;
    nd += m->circuit->ops[o].kind == BPS_OP_DEPOL && m->circuit->ops[o].k == 3;
  }
  CHECK(nk == 0 && nd == 2);
  bps_model_instance_destroy(&m);

  /* invalid settings */
  bps_model_spec b = hea_spec(BPS_HEA_ALT, 2);
  CHECK_FAILS(bps_model_instance_create(&b, 1, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b = hea_spec(BPS_HEA_MCCLEAN, -1);
  CHECK_FAILS(bps_model_instance_create(&b, 3, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b = hea_spec((bps_hea_kind)5, 2);
  CHECK_FAILS(bps_model_instance_create(&b, 3, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b = hea_spec(BPS_HEA_MCCLEAN, 2);
  b.noise = BPS_NOISE_DEPHASING;
  b.noise_p = 1.5;
  CHECK_FAILS(bps_model_instance_create(&b, 3, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b.noise = (bps_noise_kind)9;
  b.noise_p = 0.1;
  CHECK_FAILS(bps_model_instance_create(&b, 3, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b.noise = BPS_NOISE_GLOBAL_DEPOLARIZING; /* per layer only */
  b.noise_placement = BPS_NOISE_AFTER_GATE;
  CHECK_FAILS(bps_model_instance_create(&b, 3, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b.noise = BPS_NOISE_DEPHASING;
  b.noise_placement = (bps_noise_placement)4;
  CHECK_FAILS(bps_model_instance_create(&b, 3, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b = hea_spec(BPS_HEA_MCCLEAN, 2);
  b.cost = BPS_COST_LOCAL;
  b.targets = BPS_TARGET_UNITARY;
  CHECK_FAILS(bps_model_instance_create(&b, 3, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  CHECK(m == NULL);
}

/* ------------------------------------------------------------------ gradients */
static void test_gradients(void) {
  static const struct {
    bps_noise_kind kind;
    bps_noise_placement place;
    double p;
    const char *name;
  } noises[] = {
      {BPS_NOISE_NONE, BPS_NOISE_AFTER_GATE, 0, "none"},
      {BPS_NOISE_DEPOLARIZING, BPS_NOISE_AFTER_GATE, 0.05, "depolarizing/gate"},
      {BPS_NOISE_DEPHASING, BPS_NOISE_AFTER_LAYER, 0.1, "dephasing/layer"},
      {BPS_NOISE_AMPLITUDE_DAMPING, BPS_NOISE_AFTER_GATE, 0.07, "amp.damping/gate"},
      {BPS_NOISE_AMPLITUDE_DAMPING, BPS_NOISE_AFTER_LAYER, 0.2, "amp.damping/layer"},
      {BPS_NOISE_GLOBAL_DEPOLARIZING, BPS_NOISE_AFTER_LAYER, 0.1, "global depol."},
  };
  double worst_as = 0, worst_df = 0;
  int cases = 0;
  for (int kind = 0; kind < 2; kind++)
    for (int cost = 0; cost < 2; cost++)
      for (size_t nz = 0; nz < sizeof noises / sizeof noises[0]; nz++) {
        bps_model_spec s = hea_spec(kind ? BPS_HEA_ALT : BPS_HEA_MCCLEAN, 3);
        s.cost = cost ? BPS_COST_LOCAL : BPS_COST_GLOBAL;
        s.noise = noises[nz].kind;
        s.noise_placement = noises[nz].place;
        s.noise_p = noises[nz].p;
        s.inputs = (nz % 2) ? BPS_INPUT_HAAR : BPS_INPUT_BASIS;
        s.targets = cost ? BPS_TARGET_PRODUCT : BPS_TARGET_UNITARY;
        s.pairs = 2;
        double c[2][2], *g[2][2];
        int np = 0;
        for (int rep = 0; rep < 2; rep++) {
          bps_model_instance *m = NULL;
          CHECK_OK(bps_model_instance_create(&s, 3, 6320, (uint32_t)nz,
                                             rep ? BPS_FACTORED : BPS_DENSE, &m));
          np = m->nparams;
          for (int k = 0; k < 2; k++) g[rep][k] = malloc(sizeof(double) * (size_t)np);
          CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &c[rep][0], g[rep][0]));
          CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_SHIFT, &c[rep][1], g[rep][1]));
          CHECK_CLOSE(c[rep][0], c[rep][1], 0, 1e-12);
          CHECK(c[rep][0] > -1e-12 && c[rep][0] < 1 + 1e-12);
          bps_model_instance_destroy(&m);
        }
        double was = 0, wdf = fabs(c[0][0] - c[1][0]);
        for (int rep = 0; rep < 2; rep++)
          for (int p = 0; p < np; p++) was = fmax(was, fabs(g[rep][0][p] - g[rep][1][p]));
        for (int p = 0; p < np; p++) wdf = fmax(wdf, fabs(g[0][0][p] - g[1][0][p]));
        CHECK(was < 1e-10);
        CHECK(wdf < 1e-10);
        worst_as = fmax(worst_as, was);
        worst_df = fmax(worst_df, wdf);
        cases++;
        printf("  %-7s %-6s %-18s: %2d params, cost %.6f, |adj-shift| %.1e, |dense-factored| "
               "%.1e\n",
               kind ? "alt" : "mcclean", cost ? "local" : "global", noises[nz].name, np, c[0][0],
               was, wdf);
        for (int rep = 0; rep < 2; rep++)
          for (int k = 0; k < 2; k++) free(g[rep][k]);
      }
  printf("gradients (%d cases): worst |adjoint - shift| %.2e, |dense - factored| %.2e\n", cases,
         worst_as, worst_df);

  /* global depolarising: C = 1 - F -> 1 - [(1-p)^L F + (1 - (1-p)^L)/2^n], grad x (1-p)^L */
  const int n = 3, L = 4;
  const double p = 0.15, f = pow(1 - p, L);
  for (int kind = 0; kind < 2; kind++) {
    bps_model_spec s = hea_spec(kind ? BPS_HEA_ALT : BPS_HEA_MCCLEAN, L);
    bps_model_instance *m0 = NULL, *m1 = NULL;
    CHECK_OK(bps_model_instance_create(&s, n, 632, 9, BPS_FACTORED, &m0));
    s.noise = BPS_NOISE_GLOBAL_DEPOLARIZING;
    s.noise_placement = BPS_NOISE_AFTER_LAYER;
    s.noise_p = p;
    CHECK_OK(bps_model_instance_create(&s, n, 632, 9, BPS_FACTORED, &m1));
    CHECK(m0->nparams == m1->nparams);
    double c0, c1, *g0 = malloc(sizeof(double) * (size_t)m0->nparams),
                   *g1 = malloc(sizeof(double) * (size_t)m0->nparams);
    CHECK_OK(bps_model_cost_grad(m0, m0->theta, BPS_GRAD_ADJOINT, &c0, g0));
    CHECK_OK(bps_model_cost_grad(m1, m1->theta, BPS_GRAD_ADJOINT, &c1, g1));
    double pred = 1 - (f * (1 - c0) + (1 - f) / (1 << n)), wg = 0;
    for (int q = 0; q < m0->nparams; q++) wg = fmax(wg, fabs(g1[q] - f * g0[q]));
    CHECK_CLOSE(c1, pred, 0, 1e-12);
    CHECK(wg < 1e-12);
    printf("global depolarising p = %.2f, L = %d (%s): cost %.12f vs law %.12f, max |g - "
           "(1-p)^L g0| %.1e\n",
           p, L, kind ? "alt" : "mcclean", c1, pred, wg);
    free(g0);
    free(g1);
    bps_model_instance_destroy(&m0);
    bps_model_instance_destroy(&m1);
  }
}

/* ------------------------------------------------------------------ ALT at L = 1 */
/* One ALT layer on |0..0> is R_y on the paired qubits then diagonal CZs, which leave the
 * computational-basis populations alone: with zero targets the costs are the Cerezo toy
 * model of Sec. 4.7, C_G = 1 - prod_j cos^2(theta_j/2), C_L = 1 - (1/n) sum_j cos^2(theta_j/2)
 * (an idle last qubit for odd n contributes cos^2 = 1). Checked sample by sample (1e-12),
 * and Var[dC/d theta_0] against (1/8)(3/8)^(n-1) and 1/(8 n^2) within 4 SE. */
static void test_alt_toy(void) {
  enum { S = 3000 };
  for (int n = 2; n <= 4; n++) {
    bps_model_spec sg = hea_spec(BPS_HEA_ALT, 1), sl = sg;
    sl.cost = BPS_COST_LOCAL;
    const int nrot = 2 * (n / 2);
    double m2[2] = {0, 0}, m4[2] = {0, 0}, worst = 0;
    for (int x = 0; x < S; x++) {
      bps_model_instance *mg = NULL, *ml = NULL;
      CHECK_OK(bps_model_instance_create(&sg, n, 6322, (uint32_t)x, BPS_FACTORED, &mg));
      CHECK_OK(bps_model_instance_create(&sl, n, 6322, (uint32_t)x, BPS_FACTORED, &ml));
      CHECK(mg->nparams == nrot && ml->nparams == nrot);
      double cg, cl, gg[4], gl[4], prod = 1, sum = n - nrot;
      CHECK_OK(bps_model_cost_grad(mg, mg->theta, BPS_GRAD_ADJOINT, &cg, gg));
      CHECK_OK(bps_model_cost_grad(ml, ml->theta, BPS_GRAD_ADJOINT, &cl, gl));
      const double *th = mg->theta;
      for (int j = 0; j < nrot; j++) {
        double c2 = cos(th[j] / 2) * cos(th[j] / 2);
        prod *= c2;
        sum += c2;
      }
      worst = fmax(worst, fmax(fabs(cg - (1 - prod)), fabs(cl - (1 - sum / n))));
      for (int j = 0; j < nrot; j++) {
        double others = 1;
        for (int k = 0; k < nrot; k++)
          if (k != j) others *= cos(th[k] / 2) * cos(th[k] / 2);
        worst = fmax(worst, fabs(gg[j] - 0.5 * sin(th[j]) * others));
        worst = fmax(worst, fabs(gl[j] - 0.5 * sin(th[j]) / n));
      }
      double g[2] = {gg[0], gl[0]};
      for (int c = 0; c < 2; c++) m2[c] += g[c] * g[c], m4[c] += pow(g[c], 4);
      bps_model_instance_destroy(&mg);
      bps_model_instance_destroy(&ml);
    }
    CHECK(worst < 1e-12);
    const double ex[2] = {0.125 * pow(0.375, nrot - 1), 1.0 / (8.0 * n * n)};
    for (int c = 0; c < 2; c++) {
      double v = m2[c] / S, se = sqrt((m4[c] / S - v * v) / S);
      printf("  ALT L = 1, n = %d, %s cost: Var dC/d theta_0 %.6f +- %.6f vs exact %.6f (z %+.2f); "
             "closed form max |diff| %.1e\n",
             n, c ? "local " : "global", v, se, ex[c], (v - ex[c]) / se, worst);
      CHECK(fabs(v - ex[c]) < 4 * se);
    }
  }
}

/* ------------------------------------------------------------------ McClean variance */
static void test_variance(void) {
  const int n = 4, Ls[] = {1, 2, 4, 8, 16, 32, 64}, NL = 7;
  const double d = 16, haar = 1.0 / (2 * (d + 1) * (d + 1));
  double var[7], se[7];
  printf("McClean n = %d, global cost, Var[dC/d theta(l = ceil(L/2), q0)] (E g^2, E g = 0 by "
         "periodicity); Haar (Table B) %.6f:\n",
         n, haar);
  for (int li = 0; li < NL; li++) {
    const int L = Ls[li], S = L == 64 ? 6000 : 2000;
    bps_model_spec s = hea_spec(BPS_HEA_MCCLEAN, L);
    double m1 = 0, m2 = 0, m4 = 0;
    const int p = ((L + 1) / 2 - 1) * n;
    double *th = malloc(sizeof(double) * (size_t)(L * n));
    for (int x = 0; x < S; x++) {
      bps_model_instance *m = NULL;
      CHECK_OK(bps_model_instance_create(&s, n, 6321, (uint32_t)x, BPS_FACTORED, &m));
      memcpy(th, m->theta, sizeof(double) * (size_t)m->nparams);
      double cp, cm;
      th[p] += M_PI / 2;
      CHECK_OK(bps_model_cost_grad(m, th, BPS_GRAD_ADJOINT, &cp, NULL));
      th[p] -= M_PI;
      CHECK_OK(bps_model_cost_grad(m, th, BPS_GRAD_ADJOINT, &cm, NULL));
      double g = 0.5 * (cp - cm);
      m1 += g;
      m2 += g * g;
      m4 += g * g * g * g;
      bps_model_instance_destroy(&m);
    }
    free(th);
    m1 /= S;
    m2 /= S;
    m4 /= S;
    var[li] = m2;
    se[li] = sqrt((m4 - m2 * m2) / S);
    printf("  L %2d (S %4d): %.6f +- %.6f  (mean g %+.1e; vs Haar z %+6.2f, ratio %.3f)\n", L, S,
           var[li], se[li], m1, (var[li] - haar) / se[li], var[li] / haar);
  }
  CHECK(var[0] - var[NL - 1] > 4 * sqrt(se[0] * se[0] + se[NL - 1] * se[NL - 1]));
  CHECK(fabs(var[NL - 1] - haar) < 4 * se[NL - 1]);
}

int main(void) {
  double t0 = now();
  test_structure();
  double t1 = now();
  test_gradients();
  test_alt_toy();
  double t2 = now();
  test_variance();
  double t3 = now();
  printf("times: structure %.2f s, gradients %.2f s, variance %.2f s\n", t1 - t0, t2 - t1,
         t3 - t2);
  return bps_test_result("t632-hea");
}

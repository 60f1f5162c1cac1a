/* t600: DQNN model structure (src/models/dqnn.c). Parameter counts and names of every
 * perceptron family, register widths, argument errors; toy and nisq "identity networks";
 * dense and factored runs agree (state and adjoint gradient); adjoint = parameter shift
 * (1e-10) for every family, global/local costs, product/unitary targets, every noise kind
 * and placement, in both representations, at n = 2 (full grid) and n = 3 (a third). */
#include <string.h>

#include "bps_test.h"
#include "bpscan/circuit.h"
#include "bpscan/gates.h"
#include "bpscan/model.h"
#include "bpscan/state.h"
#include "bpscan/threads.h"

static bps_model_spec spec_of(bps_perceptron p, const char *widths) {
  bps_model_spec s;
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_DQNN;
  s.perceptron = p;
  snprintf(s.widths, sizeof s.widths, "%s", widths);
  return s;
}

static bps_model_instance *make(const bps_model_spec *s, int n, uint32_t sample, bps_repr repr) {
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create(s, n, 600, sample, repr, &m));
  return m;
}

/* expected names, checked in order */
static void check_names(const bps_model_instance *m, int count, const char *const *names) {
  CHECK(m->nparams == count);
  int bad = 0;
  for (int p = 0; p < count && p < m->nparams; p++)
    if (strcmp(m->param_names[p], names[p])) {
      if (!bad)
        fprintf(stderr, "param %d: '%s', expected '%s'\n", p, m->param_names[p], names[p]);
      bad++;
    }
  CHECK(bad == 0);
}

static void test_counts(void) {
  char buf[256][48];
  const char *nm[256];
  for (int i = 0; i < 256; i++) nm[i] = buf[i];
  int c;
  /* haar n,2,n at n = 3: 2 + 3 perceptrons, theta = 0 */
  {
    bps_model_spec s = spec_of(BPS_PERC_HAAR, "n,2,n");
    bps_model_instance *m = make(&s, 3, 0, BPS_DENSE);
    c = 0;
    for (int j = 1; j <= 2; j++) snprintf(buf[c++], 48, "l1.p%d.g1", j);
    for (int j = 1; j <= 3; j++) snprintf(buf[c++], 48, "l2.p%d.g1", j);
    check_names(m, c, nm);
    CHECK(m->q_in == 3 && m->q_out == 3 && m->circuit->q_in == 3 && m->circuit->q_out == 3);
    for (int p = 0; p < m->nparams; p++) CHECK(m->theta[p] == 0.0);
    bps_model_instance_destroy(&m);
  }
  /* toy n,n,n at n = 3 */
  {
    bps_model_spec s = spec_of(BPS_PERC_TOY, "n,n,n");
    bps_model_instance *m = make(&s, 3, 0, BPS_DENSE);
    c = 0;
    for (int l = 1; l <= 2; l++)
      for (int j = 1; j <= 3; j++) snprintf(buf[c++], 48, "l%d.p%d.g1", l, j);
    check_names(m, c, nm);
    CHECK(m->q_in == 3 && m->q_out == 3);
    for (int p = 0; p < m->nparams; p++) CHECK(m->theta[p] >= 0 && m->theta[p] < 2 * M_PI);
    CHECK(m->theta[0] != m->theta[1]);
    bps_model_instance_destroy(&m);
  }
  /* brick n,n: n = 4 -> depth ceil(log2 4) = 2 -> 4 layers; V_1 on j = 1,3 (odd layers),
   * j = 2 (even layers; j = 4 has no in_5) */
  {
    bps_model_spec s = spec_of(BPS_PERC_BRICK, "n,n");
    bps_model_instance *m = make(&s, 4, 0, BPS_FACTORED);
    c = 0;
    for (int l = 1; l <= 4; l++)
      for (int j = (l % 2 ? 1 : 2); j + 1 <= 4; j += 2)
        for (int g = 1; g <= 4; g++) snprintf(buf[c++], 48, "l%d.p%d.g%d", l, j, g);
    CHECK(c == 24);
    check_names(m, c, nm);
    CHECK(m->q_in == 4 && m->q_out == 4);
    int traces = 0;
    for (int i = 0; i < m->circuit->nops; i++) traces += m->circuit->ops[i].kind == BPS_OP_TRACE;
    CHECK(traces == 4);
    bps_model_instance_destroy(&m);
    s.depth = 3; /* n = 5: 6 layers, odd j in {1,3}, even j in {2,4}: 8 params per layer */
    m = make(&s, 5, 0, BPS_FACTORED);
    CHECK(m->nparams == 48);
    bps_model_instance_destroy(&m);
    s.depth = 0; /* n = 2: depth 1, two layers, one brick */
    m = make(&s, 2, 0, BPS_FACTORED);
    const char *n2[4] = {"l1.p1.g1", "l1.p1.g2", "l1.p1.g3", "l1.p1.g4"};
    check_names(m, 4, n2);
    bps_model_instance_destroy(&m);
  }
  /* nisq n,2,n at n = 3: sum_l (3 m_{l-1} m_l + 3 m_{l-1}) + 3 m_L = 27 + 24 + 9 = 60 */
  {
    bps_model_spec s = spec_of(BPS_PERC_NISQ, "n,2,n");
    bps_model_instance *m = make(&s, 3, 0, BPS_DENSE);
    int w[3] = {3, 2, 3};
    c = 0;
    for (int l = 1; l <= 2; l++) {
      for (int i = 1; i <= w[l - 1]; i++)
        for (int g = 1; g <= 3; g++) snprintf(buf[c++], 48, "l%d.in%d.g%d", l, i, g);
      for (int j = 1; j <= w[l]; j++)
        for (int g = 1; g <= 3 * w[l - 1]; g++) snprintf(buf[c++], 48, "l%d.p%d.g%d", l, j, g);
    }
    for (int i = 1; i <= 3; i++)
      for (int g = 1; g <= 3; g++) snprintf(buf[c++], 48, "l2.out%d.g%d", i, g);
    CHECK(c == 60);
    check_names(m, c, nm);
    bps_model_instance_destroy(&m);
  }
  /* pauli n,2,n at n = 3, depth 3: 5 perceptrons x 3 rotations */
  {
    bps_model_spec s = spec_of(BPS_PERC_PAULI, "n,2,n");
    s.depth = 3;
    bps_model_instance *m = make(&s, 3, 0, BPS_DENSE);
    c = 0;
    for (int l = 1; l <= 2; l++)
      for (int j = 1; j <= (l == 1 ? 2 : 3); j++)
        for (int g = 1; g <= 3; g++) snprintf(buf[c++], 48, "l%d.p%d.g%d", l, j, g);
    check_names(m, c, nm);
    int prot = 0;
    for (int i = 0; i < m->circuit->nops; i++) prot += m->circuit->ops[i].kind == BPS_OP_PROT;
    CHECK(prot == 15);
    bps_model_instance_destroy(&m);
  }
  /* width patterns: "2,n,1" at n = 4 */
  {
    bps_model_spec s = spec_of(BPS_PERC_HAAR, "2,n,1");
    bps_model_instance *m = make(&s, 4, 0, BPS_FACTORED);
    CHECK(m->q_in == 2 && m->q_out == 1 && m->nparams == 5 && m->npairs == 1);
    bps_model_instance_destroy(&m);
  }
}

static void test_errors(void) {
  bps_model_instance *m = NULL;
  bps_model_spec s = spec_of(BPS_PERC_TOY, "n,2");
  CHECK_FAILS(bps_model_instance_create(&s, 3, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  s = spec_of(BPS_PERC_BRICK, "n,n,n");
  CHECK_FAILS(bps_model_instance_create(&s, 3, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  s = spec_of(BPS_PERC_BRICK, "n,n");
  CHECK_FAILS(bps_model_instance_create(&s, 1, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  s = spec_of(BPS_PERC_HAAR, "n,2");
  s.targets = BPS_TARGET_UNITARY;
  CHECK_FAILS(bps_model_instance_create(&s, 3, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  s = spec_of(BPS_PERC_HAAR, "n,n");
  s.cost = BPS_COST_LOCAL;
  s.targets = BPS_TARGET_UNITARY;
  CHECK_FAILS(bps_model_instance_create(&s, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  s = spec_of(BPS_PERC_HAAR, "n,n");
  s.noise = BPS_NOISE_GLOBAL_DEPOLARIZING;
  s.noise_p = 0.1;
  s.noise_placement = BPS_NOISE_AFTER_GATE;
  CHECK_FAILS(bps_model_instance_create(&s, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  s.noise = BPS_NOISE_DEPOLARIZING;
  s.noise_p = 1.5;
  CHECK_FAILS(bps_model_instance_create(&s, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  s.noise_p = -0.1;
  CHECK_FAILS(bps_model_instance_create(&s, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  s = spec_of(BPS_PERC_HAAR, "n");
  CHECK_FAILS(bps_model_instance_create(&s, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  s = spec_of(BPS_PERC_HAAR, "n,n");
  CHECK_FAILS(bps_model_instance_create(&s, 15, 1, 0, BPS_FACTORED, &m), BPS_ERR_ARG);
  CHECK(m == NULL);
}

/* Output state of the instance's circuit at theta on pair 0's input (dense copy). */
static void output(const bps_model_instance *m, const double *theta, bps_cplx *rho) {
  bps_state *s = NULL;
  CHECK_OK(bps_state_create(m->inputs[0]->repr, 0, &s));
  CHECK_OK(bps_state_copy(s, m->inputs[0]));
  CHECK_OK(bps_circuit_run(m->circuit, theta, s));
  CHECK_OK(bps_state_to_dense(s, rho));
  bps_state_destroy(&s);
}

static double maxdiff(size_t n, const bps_cplx *a, const bps_cplx *b) {
  double d = 0;
  for (size_t i = 0; i < n; i++) d = fmax(d, cabs(a[i] - b[i]));
  return d;
}

static void test_identity(void) {
  /* toy with theta = 0 maps |0..0> to |0..0>: cost 0 (global and local, 1-3 layers) */
  for (int cost = 0; cost < 2; cost++)
    for (int L = 1; L <= 3; L++) {
      bps_model_spec s = spec_of(BPS_PERC_TOY, L == 1 ? "n,n" : L == 2 ? "n,n,n" : "n,n,n,n");
      s.cost = cost ? BPS_COST_LOCAL : BPS_COST_GLOBAL;
      bps_model_instance *m = make(&s, 3, 1, BPS_FACTORED);
      double th[9] = {0}, C = -1, g[9];
      CHECK_OK(bps_model_cost_grad(m, th, BPS_GRAD_ADJOINT, &C, g));
      CHECK_CLOSE(C, 0.0, 0, 1e-14);
      bps_model_instance_destroy(&m);
    }
  /* toy with theta = 0 and nisq with U3 = 1 and CAN(pi/4,pi/4,pi/4) on (in_j, out_j)
   * (= SWAP up to a phase), CAN = 1 elsewhere: the output equals the (Haar) input */
  for (int fam = 0; fam < 2; fam++)
    for (int rep = 0; rep < 2; rep++) {
      bps_model_spec s = spec_of(fam ? BPS_PERC_NISQ : BPS_PERC_TOY, "n,n,n");
      s.inputs = BPS_INPUT_HAAR;
      bps_model_instance *m = make(&s, 3, 2, rep ? BPS_FACTORED : BPS_DENSE);
      double *th = calloc((size_t)m->nparams, sizeof(double));
      int ncan = 0;
      for (int p = 0; p < m->nparams; p++) {
        int l, j, g;
        if (fam && sscanf(m->param_names[p], "l%d.p%d.g%d", &l, &j, &g) == 3 &&
            (g - 1) / 3 + 1 == j) {
          th[p] = M_PI / 4;
          ncan++;
        }
      }
      CHECK(!fam || ncan == 18);
      bps_cplx rho[64], rin[64];
      output(m, th, rho);
      CHECK_OK(bps_state_to_dense(m->inputs[0], rin));
      double d = maxdiff(64, rho, rin);
      CHECK(d < 1e-12);
      double tr = 0;
      for (int i = 0; i < 8; i++) tr += creal(rho[9 * i]);
      CHECK_CLOSE(tr, 1.0, 0, 1e-12);
      printf("identity network (%s, %s): |rho_out - rho_in| = %.2e\n", fam ? "nisq" : "toy",
             rep ? "factored" : "dense", d);
      free(th);
      bps_model_instance_destroy(&m);
    }
}

/* Two-layer networks: dense and factored agree on rho_out and on the adjoint gradient. */
static void test_dense_vs_factored(void) {
  const bps_perceptron fam[5] = {BPS_PERC_HAAR, BPS_PERC_TOY, BPS_PERC_BRICK, BPS_PERC_NISQ,
                                 BPS_PERC_PAULI};
  const char *wid[5] = {"n,n+1,n", "n,n,n", "n,n", "n,2,n", "n,2,n"};
  for (int f = 0; f < 5; f++)
    for (int n = 2; n <= 3; n++) {
      bps_model_spec s = spec_of(fam[f], wid[f]);
      s.depth = fam[f] == BPS_PERC_PAULI ? 2 : (fam[f] == BPS_PERC_BRICK ? 1 : 0);
      s.inputs = BPS_INPUT_HAAR;
      s.targets = BPS_TARGET_UNITARY;
      s.pairs = 2;
      bps_model_instance *md = make(&s, n, 3, BPS_DENSE), *mf = make(&s, n, 3, BPS_FACTORED);
      CHECK(md->nparams == mf->nparams);
      size_t dd = (size_t)1 << (2 * md->q_out);
      bps_cplx *rd = calloc(dd, sizeof(bps_cplx)), *rf = calloc(dd, sizeof(bps_cplx));
      output(md, md->theta, rd);
      output(mf, mf->theta, rf);
      double dstate = maxdiff(dd, rd, rf);
      CHECK(dstate < 1e-12);
      int np = md->nparams;
      double *gd = malloc(sizeof(double) * (size_t)np), *gf = malloc(sizeof(double) * (size_t)np);
      double cd, cf, dg = 0;
      CHECK_OK(bps_model_cost_grad(md, md->theta, BPS_GRAD_ADJOINT, &cd, gd));
      CHECK_OK(bps_model_cost_grad(mf, mf->theta, BPS_GRAD_ADJOINT, &cf, gf));
      CHECK_CLOSE(cd, cf, 0, 1e-12);
      for (int p = 0; p < np; p++) dg = fmax(dg, fabs(gd[p] - gf[p]));
      CHECK(dg < 1e-10);
      printf("dense vs factored %-5s n = %d (%s): |rho| %.1e |C| %.1e |grad| %.1e\n",
             f == 0   ? "haar"
             : f == 1 ? "toy"
             : f == 2 ? "brick"
             : f == 3 ? "nisq"
                      : "pauli",
             n, wid[f], dstate, fabs(cd - cf), dg);
      free(rd);
      free(rf);
      free(gd);
      free(gf);
      bps_model_instance_destroy(&md);
      bps_model_instance_destroy(&mf);
    }
}

/* adjoint = shift for every family x cost/targets x noise x representation, n = 2, 3.
 * Cases run in parallel (the kernels then run on one thread each); checks come after. */
typedef struct {
  int f, n, cfg, noise;
  int rc;
  double worst, worst_dr, dv, dvrep, gmax, vmin, vmax, secs;
} shift_case;

static void run_case(shift_case *k) {
  static const bps_perceptron fam[5] = {BPS_PERC_HAAR, BPS_PERC_TOY, BPS_PERC_BRICK,
                                        BPS_PERC_NISQ, BPS_PERC_PAULI};
  static const char *wid[5] = {"n,2,n", "n,n,n", "n,n", "n,1,n", "n,2,n"};
  static const bps_noise_kind nk[4] = {BPS_NOISE_DEPOLARIZING, BPS_NOISE_DEPHASING,
                                       BPS_NOISE_AMPLITUDE_DAMPING, BPS_NOISE_GLOBAL_DEPOLARIZING};
  double t0 = bps_wtime();
  bps_model_spec s = spec_of(fam[k->f], wid[k->f]);
  s.depth = fam[k->f] == BPS_PERC_PAULI ? 2 : (fam[k->f] == BPS_PERC_BRICK ? 1 : 0);
  s.inputs = BPS_INPUT_HAAR;
  s.cost = k->cfg == 2 ? BPS_COST_LOCAL : BPS_COST_GLOBAL;
  s.targets = k->cfg == 1 ? BPS_TARGET_UNITARY : BPS_TARGET_PRODUCT;
  s.pairs = k->cfg == 0 ? 2 : 1;
  if (k->noise) { /* 1..3 local after gate; 4..6 local after layer; 7 global after layer */
    s.noise = k->noise == 7 ? nk[3] : nk[(k->noise - 1) % 3];
    s.noise_placement = k->noise >= 4 ? BPS_NOISE_AFTER_LAYER : BPS_NOISE_AFTER_GATE;
    s.noise_p = 0.05 + 0.1 * (k->noise % 3);
  }
  double v[2] = {0, 0}, *ga[2] = {NULL, NULL}, *gs[2] = {NULL, NULL};
  int np = 0;
  k->rc = 0;
  k->vmin = 1e300;
  k->vmax = -1e300;
  for (int rep = 0; rep < 2 && !k->rc; rep++) {
    bps_model_instance *m = NULL;
    k->rc = bps_model_instance_create(&s, k->n, 600, (uint32_t)(7 + k->cfg),
                                      rep ? BPS_FACTORED : BPS_DENSE, &m);
    if (k->rc) break;
    np = m->nparams;
    ga[rep] = malloc(sizeof(double) * (size_t)np);
    gs[rep] = malloc(sizeof(double) * (size_t)np);
    double vs = 0;
    k->rc = bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &v[rep], ga[rep]);
    if (!k->rc) k->rc = bps_model_cost_grad(m, m->theta, BPS_GRAD_SHIFT, &vs, gs[rep]);
    k->dv = fmax(k->dv, fabs(v[rep] - vs));
    k->vmin = fmin(k->vmin, v[rep]);
    k->vmax = fmax(k->vmax, v[rep]);
    bps_model_instance_destroy(&m);
  }
  if (k->rc) {
    bps_error_print(stderr);
  } else {
    for (int rep = 0; rep < 2; rep++)
      for (int p = 0; p < np; p++) {
        k->worst = fmax(k->worst, fabs(ga[rep][p] - gs[rep][p]));
        k->gmax = fmax(k->gmax, fabs(ga[rep][p]));
        k->worst_dr = fmax(k->worst_dr, fabs(ga[0][p] - ga[1][p]));
      }
    k->dvrep = fabs(v[0] - v[1]);
  }
  for (int rep = 0; rep < 2; rep++) {
    free(ga[rep]);
    free(gs[rep]);
  }
  k->secs = bps_wtime() - t0;
}

static void test_adjoint_vs_shift(void) {
  const char *famname[5] = {"haar", "toy", "brick", "nisq", "pauli"};
  shift_case cs[5 * 2 * 3 * 8];
  int nc = 0;
  for (int f = 0; f < 5; f++)
    for (int n = 2; n <= 3; n++)
      for (int cfg = 0; cfg < 3; cfg++)
        for (int noise = 0; noise < 8; noise++) {
          if (n == 3 && (noise + cfg + f) % 3) continue; /* n = 3: a third of the grid */
          cs[nc++] = (shift_case){.f = f, .n = n, .cfg = cfg, .noise = noise};
        }
#pragma omp parallel for schedule(dynamic)
  for (int i = 0; i < nc; i++) run_case(&cs[i]);
  for (int f = 0; f < 5; f++) {
    double worst = 0, worst_dr = 0, secs = 0;
    int count = 0;
    for (int i = 0; i < nc; i++) {
      const shift_case *k = &cs[i];
      if (k->f != f) continue;
      count++;
      CHECK(k->rc == 0);
      if (k->rc) continue;
      if (k->worst > 1e-10 || k->worst_dr > 1e-10 || k->dv > 1e-12 || k->dvrep > 1e-12)
        fprintf(stderr, "%s n=%d cfg=%d noise=%d: |adj-shift| %.3g |dense-fact| %.3g\n",
                famname[f], k->n, k->cfg, k->noise, k->worst, k->worst_dr);
      CHECK(k->worst <= 1e-10);
      CHECK(k->worst_dr <= 1e-10);
      CHECK(k->dv <= 1e-12);
      CHECK(k->dvrep <= 1e-12);
      CHECK(k->gmax > 1e-4); /* the gradient is not trivially zero */
      CHECK(k->vmin > -1e-12 && k->vmax < 1 + 1e-12);
      worst = fmax(worst, k->worst);
      worst_dr = fmax(worst_dr, k->worst_dr);
      secs += k->secs;
    }
    printf("adjoint vs shift %-5s (%2d cases): max |adjoint - shift| %.2e, max |dense - "
           "factored| %.2e (%.1f s of CPU)\n",
           famname[f], count, worst, worst_dr, secs);
  }
  printf("adjoint vs shift: %d (family, n, cost/targets, noise) cases, 2 representations each\n",
         nc);
}

int main(void) {
  test_counts();
  test_errors();
  test_identity();
  test_dense_vs_factored();
  test_adjoint_vs_shift();
  return bps_test_result("t600-dqnn-structure");
}

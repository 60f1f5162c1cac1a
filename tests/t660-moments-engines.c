/* t660: every exact-moments engine equals the dense two-copy reference E0 (src/moments/
 * dense2.c) to 1e-12 — E[C], Var[C], E[dC] and Var[dC] of every parameter, and the output
 * purity — on every model family, cost, data kind, noise channel and placement at small n,
 * and on random circuits (random gates, ensembles, channels, appends, traces and data);
 * models no engine supports are refused by name (shared/moments.md Sec. 5). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bps_test.h"
#include "bpscan/gates.h"
#include "bpscan/moments.h"
#include "bpscan/rng.h"
#include "bpscan/threads.h"
#include "models/models.h"

static int n_compared = 0, n_refused = 0, n_mps = 0, n_vs_pauli = 0;
/* Set while checking the 1-D families the mps engine is for (toy, brick, hea): it must
 * accept them, whatever the cost and noise. */
static int mps_must = 0;

typedef struct {
  long double cm, cv, pur;
  long double *gm, *gv;
  int np;
} vals;

static int eval(const bps_model_instance *m, bps_mom_engine e, vals *v) {
  bps_mom *M = NULL;
  int rc = bps_mom_create(m, e, NULL, &M);
  if (rc) return rc;
  bps_mom_value a, b;
  v->np = m->nparams;
  v->gm = calloc((size_t)v->np + 1, sizeof(long double));
  v->gv = calloc((size_t)v->np + 1, sizeof(long double));
  CHECK_OK(bps_mom_cost(M, &a, &b, NULL));
  v->cm = a.v, v->cv = b.v;
  for (int p = 0; p < v->np; p++) {
    CHECK_OK(bps_mom_grad(M, p, &a, &b, NULL));
    v->gm[p] = a.v, v->gv[p] = b.v;
  }
  CHECK_OK(bps_mom_purity(M, &a));
  v->pur = a.v;
  bps_mom_destroy(&M);
  return BPS_OK;
}

static void vals_free(vals *v) {
  free(v->gm);
  free(v->gv);
}

/* |x - r| <= 1e-12 |r| + 1e-14 scale, scale the largest reference value of the kind. */
static int close_to(long double x, long double r, long double scale) {
  if (isnan((double)r))
    return isnan((double)x) || 1; /* purity unavailable in E0: not compared */
  return fabsl(x - r) <= 1e-12L * fabsl(r) + 1e-14L * scale;
}

static void compare(const char *label, const vals *t, const vals *r, const char *eng) {
  long double sv = 0, sm = 0;
  for (int p = 0; p < r->np; p++)
    sv = fmaxl(sv, fabsl(r->gv[p])), sm = fmaxl(sm, fabsl(r->gm[p]));
  /* Var C = E[X^2] - E[X]^2: its rounding scales with E[X^2], not with the variance */
  int ok = close_to(t->cm, r->cm, fabsl(r->cm) + 1) &&
           close_to(t->cv, r->cv, r->cv + r->cm * r->cm) &&
           (isnan((double)t->pur) || close_to(t->pur, r->pur, 1));
  for (int p = 0; p < r->np; p++)
    ok &= close_to(t->gv[p], r->gv[p], sv) && close_to(t->gm[p], r->gm[p], sm + sv);
  /* variances are never negative, not even by a rounding residue (log2 in the files) */
  int nonneg = t->cv >= 0 && r->cv >= 0;
  for (int p = 0; p < r->np; p++) nonneg &= t->gv[p] >= 0 && r->gv[p] >= 0;
  CHECK(nonneg);
  if (!nonneg) fprintf(stderr, "%s: a negative variance (%s or dense)\n", label, eng);
  CHECK(ok);
  if (!ok) {
    fprintf(stderr,
            "%s: %s vs dense: E[C] %.17Lg / %.17Lg, Var C %.17Lg / %.17Lg, purity %.17Lg / %.17Lg\n",
            label, eng, t->cm, r->cm, t->cv, r->cv, t->pur, r->pur);
    for (int p = 0; p < r->np; p++)
      if (!close_to(t->gv[p], r->gv[p], sv) || !close_to(t->gm[p], r->gm[p], sm + sv))
        fprintf(stderr, "   param %d: E %.6Lg / %.6Lg  Var %.17Lg / %.17Lg\n", p, t->gm[p],
                r->gm[p], t->gv[p], r->gv[p]);
  }
}

/* Compare every engine that accepts m with E0; expect_engine: an engine that must accept. */
static void check_instance(const char *label, const bps_model_instance *m,
                           bps_mom_engine expect_engine) {
  vals r;
  int rc = eval(m, BPS_MOM_DENSE, &r);
  if (rc) {
    bps_error_print(stderr);
    bps_error_clear();
    CHECK(!"dense reference refused");
    fprintf(stderr, "  (%s)\n", label);
    return;
  }
  static const bps_mom_engine others[] = {BPS_MOM_CHAIN, BPS_MOM_PAULI, BPS_MOM_MPS};
  int accepted = 0;
  for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
    vals t;
    rc = eval(m, others[i], &t);
    if (rc) {
      if (getenv("T660_VERBOSE"))
        fprintf(stderr, "%s: %s refused: %s\n", label, bps_mom_engine_name(others[i]),
                bps_error_message());
      bps_error_clear();
      const int must = others[i] == expect_engine || (others[i] == BPS_MOM_MPS && mps_must);
      CHECK(!must);
      if (must) fprintf(stderr, "%s: %s refused\n", label, bps_mom_engine_name(others[i]));
      continue;
    }
    accepted++;
    if (others[i] == BPS_MOM_MPS) n_mps++;
    compare(label, &t, &r, bps_mom_engine_name(others[i]));
    vals_free(&t);
  }
  CHECK(accepted >= 1);
  if (!accepted) fprintf(stderr, "%s: no engine but dense accepted it\n", label);
  n_compared++;
  vals_free(&r);
}

static void check_spec(const char *label, const bps_model_spec *s, int n,
                       bps_mom_engine expect_engine) {
  double t0 = bps_wtime();
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create(s, n, 660, 3, BPS_DENSE, &m));
  char buf[256];
  snprintf(buf, sizeof buf, "%s n=%d", label, n);
  check_instance(buf, m, expect_engine);
  bps_model_instance_destroy(&m);
  if (getenv("T660_TIMES")) fprintf(stderr, "%-60s %.3f s\n", buf, bps_wtime() - t0);
}

static void expect_refusal(const char *label, const bps_model_spec *s, int n) {
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create(s, n, 660, 3, BPS_DENSE, &m));
  bps_mom *M = NULL;
  int rc = bps_mom_create(m, BPS_MOM_AUTO, NULL, &M);
  CHECK(rc == BPS_ERR_JOB);
  if (rc != BPS_ERR_JOB) fprintf(stderr, "%s: expected a refusal, got %d\n", label, rc);
  else if (getenv("T660_VERBOSE"))
    fprintf(stderr, "%s: refused: %s\n", label, bps_error_message());
  bps_error_clear();
  bps_mom_destroy(&M);
  bps_model_instance_destroy(&m);
  n_refused++;
}

static const char *noise_name[] = {"none", "depol", "dephase", "ampdamp", "gdepol"};

/* Every noise kind and placement (global depolarising only after layers). */
static void noise_loop(bps_model_spec *s, const char *fam, int n, bps_mom_engine eng) {
  for (int kind = 0; kind <= 4; kind++)
    for (int place = 0; place < 2; place++) {
      if (kind == 0 && place == 1) continue;
      if (kind == 4 && place == 0) continue;
      s->noise = (bps_noise_kind)kind;
      s->noise_p = kind ? 0.15 : 0.0;
      s->noise_placement = (bps_noise_placement)place;
      char lab[128];
      snprintf(lab, sizeof lab, "%s %s/%s %s", fam, s->cost ? "local" : "global",
               noise_name[kind], place ? "layer" : "gate");
      check_spec(lab, s, n, eng);
    }
  s->noise = BPS_NOISE_NONE;
  s->noise_p = 0;
}

static void dqnn_models(void) {
  bps_model_spec s;
  for (int cost = 0; cost < 2; cost++) {
    bps_model_spec_default(&s);
    s.cost = (bps_cost_type)cost;
    /* haar: chain */
    for (int n = 1; n <= 2; n++) noise_loop(&s, "dqnn haar n,n", n, BPS_MOM_CHAIN);
    snprintf(s.widths, sizeof s.widths, "2,1");
    noise_loop(&s, "dqnn haar 2,1", 1, BPS_MOM_CHAIN);
    snprintf(s.widths, sizeof s.widths, "1,2,1");
    noise_loop(&s, "dqnn haar 1,2,1", 1, BPS_MOM_CHAIN);
    snprintf(s.widths, sizeof s.widths, "1,1,1,1");
    check_spec("dqnn haar 1,1,1,1", &s, 1, BPS_MOM_CHAIN);
    /* uniform-angle families: pauli pairs */
    snprintf(s.widths, sizeof s.widths, "n,n");
    s.perceptron = BPS_PERC_TOY;
    mps_must = 1;
    for (int n = 1; n <= 2; n++) noise_loop(&s, "dqnn toy n,n", n, BPS_MOM_PAULI);
    snprintf(s.widths, sizeof s.widths, "n,n,n");
    check_spec("dqnn toy n,n,n", &s, 1, BPS_MOM_PAULI);
    mps_must = 0;
    snprintf(s.widths, sizeof s.widths, "n,n");
    s.perceptron = BPS_PERC_NISQ;
    noise_loop(&s, "dqnn nisq n,n", 1, BPS_MOM_PAULI);
    if (cost == BPS_COST_GLOBAL) check_spec("dqnn nisq n,n", &s, 2, BPS_MOM_PAULI);
    snprintf(s.widths, sizeof s.widths, "1,2,1");
    check_spec("dqnn nisq 1,2,1", &s, 1, BPS_MOM_PAULI);
    snprintf(s.widths, sizeof s.widths, "n,n");
    s.perceptron = BPS_PERC_BRICK;
    s.depth = 1;
    mps_must = 1;
    noise_loop(&s, "dqnn brick 2,2 depth 1", 2, BPS_MOM_PAULI);
    s.depth = 2;
    check_spec("dqnn brick 2,2 depth 2", &s, 2, BPS_MOM_PAULI);
    mps_must = 0;
    s.perceptron = BPS_PERC_PAULI;
    s.depth = 2;
    check_spec("dqnn pauli n,n depth 2", &s, 1, BPS_MOM_PAULI);
    s.depth = 1;
    if (cost == BPS_COST_LOCAL) check_spec("dqnn pauli n,n depth 1", &s, 2, BPS_MOM_PAULI);
    for (int kind = 1; kind <= 4; kind++) { /* layer placement only */
      s.noise = (bps_noise_kind)kind;
      s.noise_p = 0.2;
      s.noise_placement = BPS_NOISE_AFTER_LAYER;
      check_spec("dqnn pauli noisy (layer)", &s, 1, BPS_MOM_PAULI);
    }
    s.noise = BPS_NOISE_DEPOLARIZING;
    s.noise_placement = BPS_NOISE_AFTER_GATE;
    expect_refusal("dqnn pauli with gate noise", &s, 1);
  }
}

static void data_kinds(void) {
  static const int fam[] = {BPS_PERC_TOY, BPS_PERC_NISQ, BPS_PERC_HAAR};
  for (size_t f = 0; f < 3; f++)
    for (int cost = 0; cost < 2; cost++)
      for (int in = 0; in < 3; in++)
        for (int tg = 0; tg < 3; tg++)
          for (int pairs = 1; pairs <= 2; pairs++) {
            bps_model_spec s;
            bps_model_spec_default(&s);
            s.perceptron = (bps_perceptron)fam[f];
            s.cost = (bps_cost_type)cost;
            s.inputs = (bps_input_kind)in;
            s.targets = (bps_target_kind)tg;
            s.pairs = pairs;
            if (cost == BPS_COST_LOCAL && tg == BPS_TARGET_UNITARY) continue; /* job error */
            char lab[128];
            snprintf(lab, sizeof lab, "data fam %d cost %d inputs %d targets %d pairs %d",
                     fam[f], cost, in, tg, pairs);
            const int n = fam[f] == BPS_PERC_TOY ? 2 : 1;
            if (tg == BPS_TARGET_UNITARY && in != BPS_INPUT_ZERO && pairs > 1) {
              expect_refusal(lab, &s, n);
              continue;
            }
            check_spec(lab, &s, n, fam[f] == BPS_PERC_HAAR ? BPS_MOM_CHAIN : BPS_MOM_PAULI);
          }
}

static void hea_vh(void) {
  bps_model_spec s;
  for (int cost = 0; cost < 2; cost++) {
    bps_model_spec_default(&s);
    s.kind = BPS_MODEL_HEA;
    s.cost = (bps_cost_type)cost;
    mps_must = 1;
    for (int a = 0; a < 2; a++) {
      s.hea = (bps_hea_kind)a;
      s.hea_layers = 2;
      noise_loop(&s, a ? "hea alt L2" : "hea mcclean L2", 3, BPS_MOM_PAULI);
      s.hea_layers = 3;
      check_spec(a ? "hea alt L3" : "hea mcclean L3", &s, a ? 4 : 3, BPS_MOM_PAULI);
    }
    /* the mps engine's own case: four alternating rows on four qubits, noisy, global cost */
    s.hea = BPS_HEA_ALT;
    s.hea_layers = 4;
    for (int k = 0; k < 2 && cost == BPS_COST_GLOBAL; k++) { /* (gate placement: L2 above) */
      s.noise = k ? BPS_NOISE_GLOBAL_DEPOLARIZING : BPS_NOISE_AMPLITUDE_DAMPING;
      s.noise_p = 0.1;
      s.noise_placement = BPS_NOISE_AFTER_LAYER;
      check_spec(k ? "hea alt L4 gdepol" : "hea alt L4 ampdamp", &s, 4, BPS_MOM_MPS);
    }
    mps_must = 0;
  }
  for (int obj = 0; obj < 3; obj++) {
    bps_model_spec_default(&s);
    s.kind = BPS_MODEL_VH;
    s.vh_objective = (bps_vh_objective)obj;
    snprintf(s.hidden, sizeof s.hidden, "n");
    noise_loop(&s, "vh 1+n", 1, BPS_MOM_PAULI);
    check_spec("vh 1+n", &s, 2, BPS_MOM_PAULI);
  }
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_VH;
  s.vh_layers = 2;
  expect_refusal("vh with two layers", &s, 1);
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_QBM;
  expect_refusal("qbm", &s, 1);
}

/* ---------------------------------------------------------------- random circuits */

static int random_circuit(bps_rng *r, bps_model_instance **out) {
  bps_model_instance *m = calloc(1, sizeof *m);
  const int q_in = 1 + (int)(bps_rng_u32(r) % 3);
  m->kind = BPS_MODEL_DQNN;
  m->n = q_in;
  m->q_in = q_in;
  BPS_CALL(bps_circuit_create(q_in, &m->circuit));
  bps_circuit *c = m->circuit;
  const int nops = 5 + (int)(bps_rng_u32(r) % 8);
  int np = 0;
  double theta[64];
  unsigned char fixed[64];
  for (int i = 0; i < nops; i++) {
    const int q = c->q_out, what = (int)(bps_rng_u32(r) % 10);
    int qs[3] = {(int)(bps_rng_u32(r) % (unsigned)q), 0, 0};
    int two = q >= 2 && (bps_rng_u32(r) & 1);
    if (two) {
      do qs[1] = (int)(bps_rng_u32(r) % (unsigned)q);
      while (qs[1] == qs[0]);
    }
    if (what <= 4) { /* a rotation with a random ensemble */
      char P[3] = {"XYZ"[bps_rng_u32(r) % 3], "XYZ"[bps_rng_u32(r) % 3], 0};
      if (!two) P[1] = 0;
      const double scale = (bps_rng_u32(r) & 1) ? 0.5 : 1.0;
      BPS_CALL(bps_circuit_prot(c, P, qs, scale, np));
      const int e = (int)(bps_rng_u32(r) % 5);
      if (e == 1 && !two) BPS_CALL(bps_circuit_tag_last(c, BPS_ENS_AXIS, 0, 0, NULL));
      if (e == 2) BPS_CALL(bps_circuit_tag_last(c, BPS_ENS_PAULI, 0, two ? 2 : 1, qs));
      if (e == 3)
        BPS_CALL(bps_circuit_tag_last(c, BPS_ENS_GAUSS, 0.1 + 0.5 * bps_rng_uniform(r), 0, NULL));
      fixed[np] = e != 3 && (bps_rng_u32(r) % 3 == 0);
      theta[np] = bps_rng_angle(r);
      if (fixed[np]) BPS_CALL(bps_circuit_param_angle(c, np, BPS_ANGLE_FIXED));
      np++;
    } else if (what <= 6) { /* a fixed gate: Haar-drawn (non-Clifford) or CZ / SWAP */
      bps_cplx U[16];
      if (bps_rng_u32(r) & 1) BPS_CALL(bps_haar_unitary(r, two ? 4 : 2, U));
      else if (two) bps_gate_cz(U);
      else BPS_CALL(bps_haar_unitary(r, 2, U));
      BPS_CALL(bps_circuit_unitary(c, two ? 2 : 1, qs, U));
    } else if (what == 7) { /* a channel */
      bps_cplx K[16];
      int nk = bps_noise_kraus((bps_noise_kind)(1 + bps_rng_u32(r) % 3),
                               0.3 * bps_rng_uniform(r), K);
      BPS_CALL(bps_circuit_kraus(c, 1, qs, nk, K));
    } else if (what == 8) {
      if (q < 3) BPS_CALL(bps_circuit_append(c, 1));
      else BPS_CALL(bps_circuit_trace(c, 1, qs));
    } else {
      if (q > 1 && (bps_rng_u32(r) & 1)) BPS_CALL(bps_circuit_trace(c, 1, qs));
      else BPS_CALL(bps_circuit_depol(c, two ? 2 : 1, qs, 0.4 * bps_rng_uniform(r)));
    }
  }
  if (np == 0) { /* at least one parameter */
    int q0 = 0;
    BPS_CALL(bps_circuit_prot(c, "Y", &q0, 0.5, np));
    theta[np] = 0;
    fixed[np] = 0;
    np++;
  }
  BPS_CALL(bps_model_alloc_params(m, np));
  for (int p = 0; p < np; p++) {
    m->theta[p] = theta[p];
    BPS_CALL(bps_model_name_param(m, p, "r%d", p));
  }
  m->q_out = c->q_out;
  /* random data */
  bps_data_ens *d = &m->data;
  d->kind = (bps_obs_kind)(bps_rng_u32(r) % 3);
  d->q0 = 0;
  d->nq = m->q_out;
  d->c0 = bps_rng_uniform(r);
  d->w = bps_rng_uniform(r) - 0.5;
  d->inputs = (bps_input_kind)(bps_rng_u32(r) % 3);
  d->target = (bps_target_kind)(bps_rng_u32(r) % (d->kind == BPS_OBS_GLOBAL ? 3 : 2));
  d->pairs = 1 + (int)(bps_rng_u32(r) % 3);
  if (d->target == BPS_TARGET_UNITARY) d->target_of_input = 1, d->inputs = BPS_INPUT_ZERO;
  for (int u = 0; u < d->nq; u++) d->pauli[u] = "IXYZ"[bps_rng_u32(r) % 4];
  d->pauli[d->nq] = 0;
  *out = m;
  return BPS_OK;
}

static void random_circuits(int count) {
  bps_rng r;
  bps_rng_init(&r, 660, 0, 0, BPS_STREAM_TEST, 1);
  for (int i = 0; i < count; i++) {
    bps_model_instance *m = NULL;
    CHECK_OK(random_circuit(&r, &m));
    char lab[64];
    snprintf(lab, sizeof lab, "random circuit %d", i);
    check_instance(lab, m, BPS_MOM_PAULI);
    bps_model_instance_destroy(&m);
  }
}

/* Memory limits (bps_mom_opts.max_bytes): the Pauli pairs of an all-to-all nisq DQNN grow as
 * 4^(2n) (peak 4096 pairs at n = 3); a pass that outgrows its share is refused with
 * BPS_ERR_TOO_BIG instead of taking the host's memory, while a problem that fits gives the
 * same values as without a limit. With AUTO, a model every engine predicts impossible is
 * BPS_ERR_TOO_BIG too, naming each engine's own reason. */
static int mom_all(const bps_model_instance *m, const bps_mom_opts *o, long double *out) {
  bps_mom *M = NULL;
  BPS_CALL(bps_mom_create(m, BPS_MOM_PAULI, o, &M));
  bps_mom_value a, b;
  int rc = bps_mom_cost(M, &a, &b, NULL);
  out[0] = a.v, out[1] = b.v;
  for (int p = 0; p < m->nparams && !rc; p++) {
    rc = bps_mom_grad(M, p, &a, &b, NULL);
    out[2 + 2 * p] = a.v, out[3 + 2 * p] = b.v;
  }
  bps_mom_destroy(&M);
  return rc;
}

static void memory_limits(void) {
  bps_model_spec s;
  bps_model_spec_default(&s);
  s.perceptron = BPS_PERC_NISQ;
  const bps_mom_opts lim = {0, 512L * 1024 * bps_threads_max()}; /* 256 KiB per pair set */
  for (int n = 2; n <= 3; n++) {
    bps_model_instance *m = NULL;
    CHECK_OK(bps_model_instance_create_ensemble(&s, n, &m));
    long double *a = calloc(2 + 2 * (size_t)m->nparams, sizeof(long double)),
                *b = calloc(2 + 2 * (size_t)m->nparams, sizeof(long double));
    CHECK_OK(mom_all(m, NULL, a));
    int rc = mom_all(m, &lim, b);
    if (n == 2) {
      CHECK(rc == BPS_OK && !memcmp(a, b, sizeof(long double) * (2 + 2 * (size_t)m->nparams)));
    } else {
      CHECK(rc == BPS_ERR_TOO_BIG && strstr(bps_error_message(), "Pauli-pair set outgrows"));
      if (rc != BPS_ERR_TOO_BIG) fprintf(stderr, "nisq n = 3 with 512 KiB: got %d\n", rc);
    }
    bps_error_clear();
    free(a);
    free(b);
    bps_model_instance_destroy(&m);
  }
  /* n = 14: 4^14 pairs in one light-cone component, too many for pauli; no Haar block for
   * chain; 28 qubits for dense */
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create_ensemble(&s, 14, &m));
  bps_mom *M = NULL;
  const bps_mom_opts big = {0, 1L << 34};
  int rc = bps_mom_create(m, BPS_MOM_AUTO, &big, &M);
  const char *msg = bps_error_message();
  CHECK(rc == BPS_ERR_TOO_BIG && strstr(msg, "chain: no Haar blocks") &&
        strstr(msg, "pauli: up to") && strstr(msg, "dense: a 28-qubit register"));
  if (rc != BPS_ERR_TOO_BIG) fprintf(stderr, "nisq n = 14, auto: got %d: %s\n", rc, msg);
  bps_error_clear();
  bps_mom_destroy(&M);
  bps_model_instance_destroy(&m);
}

/* ---------------------------------------------------------------- mps against pauli */

/* Beyond the dense reference's reach, the mps engine (E3) must equal the Pauli-pair engine
 * (E2) where both apply: global costs at small n, local costs at moderate n. */
static void mps_pauli(const char *label, const bps_model_spec *s, int n) {
  double t0 = bps_wtime();
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create_ensemble(s, n, &m));
  char buf[256];
  snprintf(buf, sizeof buf, "%s n=%d", label, n);
  vals a, b;
  int ra = eval(m, BPS_MOM_PAULI, &a), rb = ra ? 1 : eval(m, BPS_MOM_MPS, &b);
  if (ra || rb) {
    bps_error_print(stderr);
    bps_error_clear();
    CHECK(!"pauli or mps refused");
    fprintf(stderr, "  (%s)\n", buf);
  } else {
    compare(buf, &b, &a, "mps vs pauli");
    vals_free(&b);
  }
  if (!ra) vals_free(&a);
  bps_model_instance_destroy(&m);
  n_vs_pauli++;
  if (getenv("T660_TIMES")) fprintf(stderr, "%-60s %.3f s\n", buf, bps_wtime() - t0);
}

static void mps_vs_pauli(void) {
  bps_model_spec s;
  for (int cost = 0; cost < 2; cost++) {
    const int local = cost == BPS_COST_LOCAL;
    bps_model_spec_default(&s);
    s.kind = BPS_MODEL_HEA;
    s.cost = (bps_cost_type)cost;
    s.hea = BPS_HEA_ALT;
    s.hea_layers = 4;
    mps_pauli("alt L4", &s, local ? 24 : 7);
    s.noise = BPS_NOISE_DEPHASING;
    s.noise_p = 0.1;
    mps_pauli("alt L4 dephasing", &s, local ? 16 : 6);
    s.noise = BPS_NOISE_NONE;
    s.noise_p = 0;
    s.hea = BPS_HEA_MCCLEAN;
    s.hea_layers = 3;
    mps_pauli("mcclean L3", &s, local ? 12 : 5);
    bps_model_spec_default(&s);
    s.cost = (bps_cost_type)cost;
    s.perceptron = BPS_PERC_BRICK;
    s.depth = 2;
    mps_pauli("dqnn brick depth 2", &s, local ? 12 : 5);
    s.perceptron = BPS_PERC_TOY;
    mps_pauli("dqnn toy", &s, local ? 32 : 8);
  }
}

int main(void) {
  memory_limits();
  dqnn_models();
  data_kinds();
  hea_vh();
  random_circuits(60);
  mps_vs_pauli();
  printf("t660: %d instances compared with the dense reference (%d by the mps engine), %d "
         "refusals checked, %d mps/pauli comparisons\n",
         n_compared, n_mps, n_refused, n_vs_pauli);
  return bps_test_result("t660-moments-engines");
}

/* moments: the public face of the exact-moments engines (moments.h). A prepared problem is
 * the executor's view of the model ensemble (mom.h, common.c) plus one engine's state;
 * quantities are combined from engine passes:
 *
 *   C_x = c0' + w' X_x  (local costs: X = sum_j T_j, the traceless parts of the targets)
 *   E[C]        = c0' + w' ONE
 *   Var[C]      = w'^2 ( (1/N) SAME + (1 - 1/N) CROSS - ONE^2 )
 *   E[d_p C]    = w' ONE_p            (derivative on copy 1)
 *   Var[d_p C]  = w'^2 ( (1/N) SAME_p + (1 - 1/N) CROSS_p - ONE_p^2 )   (both copies)
 *
 * ONE = one-copy pass, SAME = two copies of one training pair, CROSS = two independent pairs
 * (skipped when every pair is the same state and target). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "mom.h"

struct bps_mom {
  mom_prob P;
  const mom_engine *eng;
  void *st;
  bps_mom_opts opts;
  long double c0, w; /* C_x = c0 + w X'_x */
  int same_only;     /* every pair identical: CROSS = SAME */
  mom_prod in[3];    /* inputs of the ONE, SAME, CROSS passes */
  mom_obs obs[3];
};

const char *bps_mom_engine_name(bps_mom_engine e) {
  static const char *const n[] = {"auto", "chain", "pauli", "mps", "dense"};
  return e >= BPS_MOM_AUTO && e <= BPS_MOM_DENSE ? n[e] : "?";
}

static const mom_engine *engine(bps_mom_engine e) {
  switch (e) {
  case BPS_MOM_DENSE: return &bps_mom_engine_dense;
  case BPS_MOM_PAULI: return &bps_mom_engine_pauli;
  case BPS_MOM_CHAIN: return &bps_mom_engine_chain;
  case BPS_MOM_MPS: return &bps_mom_engine_mps;
  default: return NULL;
  }
}


bps_mom_engine bps_mom_engine_of(const bps_mom *M) { return M->eng->id; }
/* The arithmetic the values come from (the file attribute precision): chain and pauli sum long
 * doubles; mps contracts double tensors with an exact power-of-two exponent per MPS (no
 * underflow, a relative rounding of about n x 2^-53: mps.c); the dense reference evolves a
 * double complex operator (vh at n = 1: E[C] ~ 1e-8 off by 7e-17 from pauli and mps). At most
 * 95 characters (result.h precision[96]). */
const char *bps_mom_precision(const bps_mom *M) {
  switch (M ? M->eng->id : BPS_MOM_AUTO) {
  case BPS_MOM_MPS:
    return "double tensors (53-bit mantissa), a power-of-two exponent per MPS (no underflow)";
  case BPS_MOM_DENSE: return "double complex (53-bit mantissa, exponents to 2^-1022)";
  default: return "long double (x87 extended: 64-bit mantissa, exponents to 2^-16382)";
  }
}

/* Predicted cost of each engine; the cheapest feasible wins. Order of preference on ties:
 * chain, pauli, mps, dense. Local costs go to pauli whenever it can do them: it follows each
 * cost term's light cone and keeps full precision at any n, while the mps engine carries the
 * whole marker sum, whose rounding reaches the light-cone terms as about n^2 eps (relative
 * 2e-13 at n = 256, 2e-11 at n = 1024 for alt with 4 layers). */
static int choose(const mom_prob *P, const bps_mom_opts *o, bps_mom_engine *out, char *why,
                  size_t whylen) {
  static const bps_mom_engine order[] = {BPS_MOM_CHAIN, BPS_MOM_PAULI, BPS_MOM_MPS, BPS_MOM_DENSE};
  double best = INFINITY;
  size_t used = 0;
  int locked = 0; /* a local cost found the pauli engine */
  why[0] = 0;
  for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
    double s = INFINITY, b = INFINITY;
    char w[256] = "";
    BPS_CALL(engine(order[i])->predict(P, o, &s, &b, w, sizeof w));
    if (isfinite(s) && isfinite(b) && o && o->max_bytes > 0 && b > (double)o->max_bytes) {
      snprintf(w, sizeof w, "%s: needs about %.3g bytes, more than the %.3g a rank has",
               bps_mom_engine_name(order[i]), b, (double)o->max_bytes);
      s = INFINITY;
    }
    const int local_pauli = order[i] == BPS_MOM_PAULI && P->data.kind == BPS_OBS_LOCAL &&
                            isfinite(s);
    if (!locked && (s < best || local_pauli)) {
      best = s;
      *out = order[i];
      locked = local_pauli;
    }
    if (isinf(s) && w[0] && used + 4 < whylen)
      used += (size_t)snprintf(why + used, whylen - used, "%s%s", used ? "; " : "", w);
  }
  /* too big for every engine (moments.h: refusals of the ensemble itself are BPS_ERR_JOB,
   * made earlier by mom_prob_make) */
  BPS_CHECK(isfinite(best), BPS_ERR_TOO_BIG, "no exact-moments engine can do this model: %s", why);
  return BPS_OK;
}

static int make_passes(bps_mom *M) {
  const bps_data_ens *d = &M->P.data;
  M->c0 = d->c0;
  M->w = d->w;
  if (d->kind == BPS_OBS_LOCAL) {
    M->c0 += 0.5L * d->w;
    M->w = d->w / (2.0L * d->nq);
  }
  M->same_only = d->pairs == 1 || (d->inputs == BPS_INPUT_ZERO &&
                                   (d->target == BPS_TARGET_ZERO || d->target_of_input));
  for (int k = 0; k < 3; k++) {
    if (k == MOM_CROSS && M->same_only) continue;
    BPS_CALL(mom_input(&M->P, k, &M->in[k]));
    BPS_CALL(mom_observable(&M->P, k, &M->obs[k]));
  }
  return BPS_OK;
}

int bps_mom_create(const bps_model_instance *m, bps_mom_engine eng, const bps_mom_opts *o,
                   bps_mom **out) {
  BPS_CHECK(m && out, BPS_ERR_ARG, "NULL argument");
  int rc = BPS_OK;
  char why[1024] = "";
  bps_mom *M = calloc(1, sizeof *M);
  BPS_CHECK(M, BPS_ERR_MEM, "out of memory");
  if (o) M->opts = *o;
  BPS_CALL_GOTO(mom_prob_make(m, &M->P));
  if (eng == BPS_MOM_AUTO) BPS_CALL_GOTO(choose(&M->P, &M->opts, &eng, why, sizeof why));
  M->eng = engine(eng);
  BPS_CHECK_GOTO(M->eng, BPS_ERR_ARG, "engine %d", (int)eng);
  BPS_CALL_GOTO(M->eng->prepare(&M->P, &M->opts, &M->st));
  BPS_CALL_GOTO(make_passes(M));
  *out = M;
  M = NULL; /* ownership handed to the caller */
cleanup:
  bps_mom_destroy(&M);
  BPS_CHECK(!rc, rc, "exact moments at n = %d", m->n);
  return BPS_OK;
}

void bps_mom_destroy(bps_mom **pM) {
  if (!pM || !*pM) return;
  bps_mom *M = *pM;
  if (M->eng && M->st) M->eng->release(M->st);
  for (int k = 0; k < 3; k++) {
    mom_prod_free(&M->in[k]);
    mom_obs_free(&M->obs[k]);
  }
  mom_prob_free(&M->P);
  free(M);
  *pM = NULL;
}

/* One pass with its bounds: [v, v + dropped]. */
static int pass(const bps_mom *M, int kind, int p, int mode, bps_mom_value *v, bps_mom_stats *st) {
  mom_pass_stats ps = {0, 0, 0};
  long double x = 0;
  BPS_CALL(M->eng->pass(&M->P, M->st, kind, &M->in[kind], &M->obs[kind], p, mode, &x, &ps));
  v->v = v->lo = x;
  v->hi = x + ps.dropped;
  v->exact = ps.dropped == 0;
  if (st) {
    if (ps.peak_pairs > st->peak_pairs) st->peak_pairs = ps.peak_pairs;
    if (ps.bond_dim > st->bond_dim) st->bond_dim = ps.bond_dim;
    st->dropped += ps.dropped;
  }
  return BPS_OK;
}

/* mean = c + w ONE, var = w^2 (second - ONE^2) with interval arithmetic on the bounds. */
static void combine(const bps_mom *M, long double c, const bps_mom_value *one,
                    const bps_mom_value *same, const bps_mom_value *cross, bps_mom_value *mean,
                    bps_mom_value *var) {
  const long double N = M->P.data.pairs, w = M->w;
  const long double a = M->same_only ? 1.0L : 1.0L / N, b = M->same_only ? 0.0L : 1.0L - 1.0L / N;
  long double s = a * same->v + (cross ? b * cross->v : 0);
  long double slo = a * same->lo + (cross ? b * cross->lo : 0);
  long double shi = a * same->hi + (cross ? b * cross->hi : 0);
  mean->v = c + w * one->v;
  mean->lo = c + (w >= 0 ? w * one->lo : w * one->hi);
  mean->hi = c + (w >= 0 ? w * one->hi : w * one->lo);
  long double m2lo = one->lo > 0 ? one->lo * one->lo : one->hi < 0 ? one->hi * one->hi : 0;
  long double m2hi = fmaxl(one->lo * one->lo, one->hi * one->hi);
  var->v = w * w * (s - one->v * one->v);
  /* a variance that vanishes exactly (a derivative that cannot reach the cost) comes out
   * of E[X^2] - E[X]^2 as a rounding residue of either sign (dense engine: -5.7e-73 for a vh
   * term): a negative one is 0, not a NaN in log2 */
  if (var->v < 0) var->v = 0;
  var->lo = w * w * (slo - m2hi);
  var->hi = w * w * (shi - m2lo);
  if (var->lo < 0) var->lo = 0;
  mean->exact = one->exact;
  var->exact = one->exact && same->exact && (!cross || cross->exact);
  if (!var->exact) var->v = NAN;
  if (!mean->exact) mean->v = NAN;
}

/* Var[C] from connected passes (mom.h MOM_CONNECTED, chain engine): without the
 * cancellation of SAME - ONE^2. They subtract Tr[obs (M (x) M)], which is ONE^2 when the
 * observable is not random: a Pauli string or the projector onto |0...0>, not a local cost
 * (whose ONE is small anyway). */
static int connected_ok(const bps_mom *M) {
  const bps_data_ens *d = &M->P.data;
  return M->eng->id == BPS_MOM_CHAIN &&
         (d->kind == BPS_OBS_PAULI || (d->kind == BPS_OBS_GLOBAL && d->target == BPS_TARGET_ZERO));
}

int bps_mom_cost(const bps_mom *M, bps_mom_value *mean, bps_mom_value *var, bps_mom_stats *st) {
  BPS_CHECK(M && mean && var, BPS_ERR_ARG, "NULL argument");
  bps_mom_value one, same, cross;
  const int conn = connected_ok(M), mode = conn ? MOM_CONNECTED : 0;
  BPS_CALL(pass(M, MOM_ONE, -1, 0, &one, st));
  BPS_CALL(pass(M, MOM_SAME, -1, mode, &same, st));
  if (!M->same_only) BPS_CALL(pass(M, MOM_CROSS, -1, mode, &cross, st));
  if (conn) { /* E[C] as always; Var[C] = w^2 (SAME - ONE^2 ...) with ONE^2 already out */
    bps_mom_value zero = {0, 0, 0, 1};
    combine(M, M->c0, &zero, &same, M->same_only ? NULL : &cross, mean, var);
    bps_mom_value v = *var;
    combine(M, M->c0, &one, &same, M->same_only ? NULL : &cross, mean, var);
    *var = v;
    return BPS_OK;
  }
  combine(M, M->c0, &one, &same, M->same_only ? NULL : &cross, mean, var);
  return BPS_OK;
}

int bps_mom_grad(const bps_mom *M, int p, bps_mom_value *mean, bps_mom_value *var,
                 bps_mom_stats *st) {
  BPS_CHECK(M && mean && var && p >= 0 && p < M->P.nparams, BPS_ERR_ARG, "parameter %d", p);
  bps_mom_value one = {0, 0, 0, 1}, same, cross;
  const int i = M->P.param_op[p];
  BPS_CHECK(i >= 0, BPS_ERR_ARG, "parameter %d is not used by the circuit", p);
  /* E[d_p C] vanishes exactly when E[2s e^{i phi}] = 0 (uniform full-period angles) */
  if (cabs(M->P.ops[i].mom[1][1]) != 0) BPS_CALL(pass(M, MOM_ONE, p, 1, &one, st));
  BPS_CALL(pass(M, MOM_SAME, p, 2, &same, st));
  if (!M->same_only) BPS_CALL(pass(M, MOM_CROSS, p, 2, &cross, st));
  combine(M, 0.0L, &one, &same, M->same_only ? NULL : &cross, mean, var);
  return BPS_OK;
}

int bps_mom_purity(const bps_mom *M, bps_mom_value *purity) {
  BPS_CHECK(M && purity, BPS_ERR_ARG, "NULL argument");
  purity->v = purity->lo = purity->hi = NAN;
  purity->exact = 0;
  int rc = BPS_OK;
  mom_obs o;
  BPS_CALL(mom_purity_obs(&M->P, &o));
  /* the diagnosed state is that of training pair 0: the SAME input */
  double s = 0, b = 0;
  char why[256];
  BPS_CALL_GOTO(M->eng->predict(&M->P, &M->opts, &s, &b, why, sizeof why));
  long double x = 0;
  mom_pass_stats ps = {0, 0, 0};
  int feasible = M->eng->id != BPS_MOM_PAULI || M->P.ndiag <= 8; /* 4^ndiag pairs */
  if (feasible)
    BPS_CALL_GOTO(M->eng->pass(&M->P, M->st, -1, &M->in[MOM_SAME], &o, -1, 0, &x, &ps));
  if (feasible && ps.dropped == 0) {
    purity->v = purity->lo = purity->hi = x;
    purity->exact = 1;
  }
cleanup:
  mom_obs_free(&o);
  return rc;
}

int bps_mom_predict(const bps_model_instance *m, bps_mom_engine e, const bps_mom_opts *o,
                    double *seconds, double *bytes, char *why, size_t whylen) {
  mom_prob P;
  BPS_CALL(mom_prob_make(m, &P)); /* frees what it made when it fails */
  int rc = BPS_OK;
  if (e == BPS_MOM_AUTO) BPS_CALL_GOTO(choose(&P, o, &e, why, whylen));
  BPS_CALL_GOTO(engine(e)->predict(&P, o, seconds, bytes, why, whylen));
cleanup:
  mom_prob_free(&P);
  return rc;
}

/* common: the executor's view of a model ensemble (mom.h): global wires, per-operation
 * averaged data (angle moment tables, Pauli transfer matrices), and the inputs and
 * observables of the passes, shared by every engine. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/gates.h"
#include "bpscan/linalg.h"
#include "mom.h"

int mom_letter(char c) {
  switch (c) {
  case 'X': return MOM_X;
  case 'Y': return MOM_Y;
  case 'Z': return MOM_Z;
  default: return MOM_I;
  }
}

/* ---------------------------------------------------------------- Pauli transfer matrices */

static void pauli_matrix(int a, bps_cplx m[4]) {
  static const bps_cplx P[4][4] = {{1, 0, 0, 1}, {0, 1, 1, 0}, {0, -I, I, 0}, {1, 0, 0, -1}};
  memcpy(m, P[a], sizeof(bps_cplx) * 4);
}

/* The 2^k x 2^k matrix of the Pauli string with index P (k letters, qubit 0 most
 * significant in both the string index and the matrix index). */
static void pauli_string(int k, int P, bps_cplx *M) {
  const int d = 1 << k;
  for (int r = 0; r < d; r++)
    for (int c = 0; c < d; c++) {
      bps_cplx v = 1;
      for (int u = 0; u < k && v != 0; u++) {
        bps_cplx m[4];
        pauli_matrix((P >> (2 * (k - 1 - u))) & 3, m);
        v *= m[(((r >> (k - 1 - u)) & 1) << 1) | ((c >> (k - 1 - u)) & 1)];
      }
      M[r * d + c] = v;
    }
}

int mom_ptm(int k, int nk, const bps_cplx *K, double *R) {
  BPS_CHECK(k >= 1 && k <= 3 && nk >= 1 && K && R, BPS_ERR_ARG, "bad channel for a PTM");
  const int d = 1 << k, np = 1 << (2 * k);
  const size_t dd = (size_t)d * (size_t)d;
  int rc = BPS_OK;
  bps_cplx *Pm = bps_alloc(dd), *Qm = bps_alloc(dd), *T = bps_alloc(dd), *H = bps_alloc(dd),
           *Kh = bps_alloc(dd);
  BPS_CHECK_GOTO(Pm && Qm && T && H && Kh, BPS_ERR_MEM,
                 "out of memory (PTM of a %d-qubit channel)", k);
  for (int P = 0; P < np; P++) {
    pauli_string(k, P, Pm);
    memset(H, 0, sizeof(bps_cplx) * dd);
    for (int m = 0; m < nk; m++) { /* H += K_m^dag P K_m */
      const bps_cplx *Km = K + (size_t)m * dd;
      bps_mat_adjoint(d, Km, Kh);
      bps_mat_mul(d, Kh, Pm, T);
      bps_mat_mul(d, T, Km, Qm);
      for (size_t i = 0; i < dd; i++) H[i] += Qm[i];
    }
    for (int Q = 0; Q < np; Q++) {
      pauli_string(k, Q, Qm);
      bps_cplx tr = 0; /* Tr(Q H), Q Hermitian */
      for (int r = 0; r < d; r++)
        for (int c = 0; c < d; c++) tr += Qm[r * d + c] * H[c * d + r];
      double v = creal(tr) / d;
      R[(size_t)P * (size_t)np + (size_t)Q] = fabs(v) < 1e-15 ? 0.0 : v; /* exact zeros */
    }
  }
cleanup:
  bps_free(Pm);
  bps_free(Qm);
  bps_free(T);
  bps_free(H);
  bps_free(Kh);
  return rc;
}

/* ---------------------------------------------------------------- angle moments */

/* E[e^{i x theta}] for theta uniform on [0, 2 pi): exactly 0 when x is a non-zero integer. */
static double complex uniform_char(double x) {
  if (x == 0) return 1.0;
  if (x == rint(x)) return 0.0;
  const double a = 2.0 * M_PI * x;
  return (cexp(I * a) - 1.0) / (I * a);
}

/* mom[a][m] = E[(2s)^a e^{i m phi}], phi = 2 s theta, for the op's scale ensemble and the
 * parameter's angle ensemble. */
static int angle_moments(const bps_op *op, bps_angle_kind ak, double theta0,
                         double complex mom[3][3]) {
  const double s = op->scale;
  if (op->ens == BPS_ENS_GAUSS) {
    BPS_CHECK(ak == BPS_ANGLE_UNIFORM, BPS_ERR_JOB,
              "a Gaussian generator scale with a fixed angle is not an ensemble bpscan builds");
    const double sg = op->ens_sigma;
    for (int m = 0; m < 3; m++) {
      if (m == 0) {
        mom[0][0] = 1.0, mom[1][0] = 0.0, mom[2][0] = 4.0 * sg * sg;
        continue;
      }
      const double b = 4.0 * M_PI * m, g = exp(-0.5 * b * b * sg * sg);
      mom[0][m] = sqrt(M_PI / 2.0) * erf(b * sg / sqrt(2.0)) / (b * sg);
      mom[1][m] = I * (2.0 / b) * (1.0 - g);
      mom[2][m] = 4.0 * sg * sg * g;
    }
    return BPS_OK;
  }
  for (int m = 0; m < 3; m++) {
    double complex e = ak == BPS_ANGLE_FIXED ? cexp(I * (double)m * 2.0 * s * theta0)
                                             : uniform_char(2.0 * s * m);
    for (int a = 0; a < 3; a++) mom[a][m] = pow(2.0 * s, a) * e;
  }
  return BPS_OK;
}

/* ---------------------------------------------------------------- the problem */

static int op_data(const bps_circuit *c, const double *theta, mom_op *o) {
  const bps_op *op = o->op;
  if (op->kind == BPS_OP_PROT) {
    BPS_CALL(angle_moments(op, (bps_angle_kind)c->angle[op->param], theta[op->param], o->mom));
  } else if ((op->kind == BPS_OP_UNITARY && op->ens == BPS_ENS_FIXED) || op->kind == BPS_OP_KRAUS) {
    if (op->k > 2) return BPS_OK; /* engines that need a PTM refuse the op */
    const size_t np = (size_t)1 << (2 * op->k);
    o->ptm = malloc(sizeof(double) * np * np);
    BPS_CHECK(o->ptm, BPS_ERR_MEM, "out of memory");
    BPS_CALL(mom_ptm(op->k, op->kind == BPS_OP_KRAUS ? op->nkraus : 1, c->pool + op->mat, o->ptm));
  }
  return BPS_OK;
}

/* Ensembles no engine averages exactly; the reason goes to the user. */
static int check_ensemble(const bps_model_instance *m) {
  const bps_circuit *c = m->circuit;
  BPS_CHECK(c, BPS_ERR_JOB,
            "exact moments need a circuit model: the QBM's Gibbs state is not a product of "
            "independently averaged gates (sample it with mode = gradient)");
  const bps_data_ens *d = &m->data;
  int rc = BPS_OK, shared = -1;
  int *uses = calloc((size_t)(c->nparams ? c->nparams : 1), sizeof(int));
  BPS_CHECK_GOTO(uses, BPS_ERR_MEM, "out of memory");
  for (int i = 0; i < c->nops; i++) {
    const bps_op *op = &c->ops[i];
    if (op->kind == BPS_OP_PROT) uses[op->param]++;
    BPS_CHECK_GOTO(op->ens != BPS_ENS_SUPPORT, BPS_ERR_JOB,
                   "noise after a random Pauli rotation acts on the drawn string's "
                   "support, which is correlated with the rotation: exact moments "
                   "support pauli perceptrons with [noise] placement = layer only");
    for (int j = 0; j < i && op->ens_var >= 0 && shared < 0; j++)
      if (c->ops[j].ens_var == op->ens_var) shared = op->ens_var;
  }
  BPS_CHECK_GOTO(shared < 0, BPS_ERR_JOB,
                 "one random element (draw %d) is shared by several gates: vh with "
                 "several layers repeats its couplings in every layer, so the layers "
                 "are not independent (exact over angles only; use [vh] layers = 1)",
                 shared);
  for (int p = 0; p < c->nparams; p++)
    BPS_CHECK_GOTO(uses[p] <= 1, BPS_ERR_JOB,
                   "parameter %s is shared by %d rotations%s: their angles are not "
                   "independent, so the exact moments do not factorise",
                   m->param_names[p], uses[p], "");
  BPS_CHECK_GOTO(!(d->target_of_input && d->inputs != BPS_INPUT_ZERO && d->pairs > 1), BPS_ERR_JOB,
                 "targets = unitary with random inputs and pairs > 1: the shared V couples the "
                 "inputs and targets of different pairs (a fourth moment); use inputs = zero or "
                 "pairs = 1");
  BPS_CHECK_GOTO(!(d->kind == BPS_OBS_LOCAL && d->target == BPS_TARGET_UNITARY), BPS_ERR_JOB,
                 "the local cost needs product targets");
cleanup:
  free(uses);
  return rc;
}

int mom_prob_make(const bps_model_instance *m, mom_prob *P) {
  memset(P, 0, sizeof *P);
  BPS_CALL(check_ensemble(m));
  const bps_circuit *c = m->circuit;
  int rc = BPS_OK;
  P->m = m;
  P->c = c;
  P->nops = c->nops;
  P->data = m->data;
  P->nparams = m->nparams;
  P->ops = calloc((size_t)(c->nops ? c->nops : 1), sizeof(mom_op));
  P->param_op = malloc(sizeof(int) * (size_t)(m->nparams ? m->nparams : 1));
  int *reg = malloc(sizeof(int) * ((size_t)BPS_ENS_MAX_QUBITS));
  BPS_CHECK_GOTO(P->ops && P->param_op && reg, BPS_ERR_MEM, "out of memory");
  for (int p = 0; p < m->nparams; p++) P->param_op[p] = -1;
  /* walk the register: APPEND creates wires at the end, TRACE removes positions */
  int q = c->q_in, nw = 0;
  for (int i = 0; i < q; i++) reg[i] = nw++;
  P->in_wire = malloc(sizeof(int) * (size_t)(q ? q : 1));
  BPS_CHECK_GOTO(P->in_wire, BPS_ERR_MEM, "out of memory");
  memcpy(P->in_wire, reg, sizeof(int) * (size_t)q);
  P->q_max = q;
  for (int i = 0; i < c->nops; i++) {
    const bps_op *op = &c->ops[i];
    mom_op *o = &P->ops[i];
    o->op = op;
    o->q_before = q;
    if (op->kind == BPS_OP_PROT) P->param_op[op->param] = i;
    o->wire = malloc(sizeof(int) * (size_t)op->k);
    BPS_CHECK_GOTO(o->wire, BPS_ERR_MEM, "out of memory");
    if (op->kind == BPS_OP_APPEND) { /* wire = the k new wires */
      for (int a = 0; a < op->k; a++) o->wire[a] = nw, reg[q++] = nw++;
    } else {
      for (int u = 0; u < op->k; u++) o->wire[u] = reg[op->qubits[u]];
      if (op->ens == BPS_ENS_PAULI) {
        o->ewire = malloc(sizeof(int) * (size_t)op->ens_k);
        BPS_CHECK_GOTO(o->ewire, BPS_ERR_MEM, "out of memory");
        for (int u = 0; u < op->ens_k; u++) o->ewire[u] = reg[op->ens_qubits[u]];
      }
      if (op->kind == BPS_OP_TRACE) { /* qubits are sorted: compact the register */
        int w = 0, u = 0;
        for (int r = 0; r < q; r++) {
          if (u < op->k && op->qubits[u] == r) u++;
          else reg[w++] = reg[r];
        }
        q = w;
      }
    }
    o->q_after = q;
    if (q > P->q_max) P->q_max = q;
    BPS_CALL_GOTO(op_data(c, m->theta, o));
  }
  P->nwires = nw;
  P->out_wire = malloc(sizeof(int) * (size_t)(q ? q : 1));
  BPS_CHECK_GOTO(P->out_wire, BPS_ERR_MEM, "out of memory");
  memcpy(P->out_wire, reg, sizeof(int) * (size_t)q);
  P->ndiag = m->ndiag > 0 ? m->ndiag : q;
  P->diag = malloc(sizeof(int) * (size_t)(P->ndiag ? P->ndiag : 1));
  BPS_CHECK_GOTO(P->diag, BPS_ERR_MEM, "out of memory");
  for (int i = 0; i < P->ndiag; i++) P->diag[i] = m->ndiag > 0 ? m->diag_qubits[i] : i;
cleanup:
  free(reg);
  if (rc) mom_prob_free(P);
  return rc;
}

void mom_prob_free(mom_prob *P) {
  if (P->ops)
    for (int i = 0; i < P->nops; i++) {
      free(P->ops[i].wire);
      free(P->ops[i].ewire);
      free(P->ops[i].ptm);
    }
  free(P->ops);
  free(P->param_op);
  free(P->in_wire);
  free(P->out_wire);
  free(P->diag);
  memset(P, 0, sizeof *P);
}

/* ---------------------------------------------------------------- site vectors */

void mom_site_zero(double v[16], int copies) {
  memset(v, 0, sizeof(double) * 16);
  if (copies == 2) { /* ((I + Z)/2) (x) ((I + Z)/2) */
    v[4 * MOM_I + MOM_I] = v[4 * MOM_I + MOM_Z] = v[4 * MOM_Z + MOM_I] = v[4 * MOM_Z + MOM_Z] = 0.25;
  } else { /* ((I + Z)/2) (x) I/2 */
    v[4 * MOM_I + MOM_I] = v[4 * MOM_Z + MOM_I] = 0.25;
  }
}

void mom_site_mixed(double v[16]) {
  memset(v, 0, sizeof(double) * 16);
  v[0] = 0.25;
}

void mom_site_basis(double v[16]) {
  memset(v, 0, sizeof(double) * 16);
  v[4 * MOM_I + MOM_I] = v[4 * MOM_Z + MOM_Z] = 0.25;
}

void mom_site_identity(double v[16]) {
  memset(v, 0, sizeof(double) * 16);
  v[0] = 1.0;
}

void mom_site_swap(double v[16]) {
  memset(v, 0, sizeof(double) * 16);
  for (int a = 0; a < 4; a++) v[4 * a + a] = 0.5;
}

int mom_prod_alloc(mom_prod *p, int nq, int nterm) {
  memset(p, 0, sizeof *p);
  BPS_CHECK(nterm >= 1 && nterm <= MOM_MAXTERM && nq >= 0, BPS_ERR_INTERNAL, "product shape");
  p->nq = nq;
  p->nterm = nterm;
  p->site = calloc((size_t)nterm * (size_t)(nq ? nq : 1) * 16, sizeof(double));
  BPS_CHECK(p->site, BPS_ERR_MEM, "out of memory");
  for (int t = 0; t < nterm; t++) p->coef[t] = 1.0L;
  return BPS_OK;
}

void mom_prod_free(mom_prod *p) {
  free(p->site);
  p->site = NULL;
}

void mom_obs_free(mom_obs *o) { mom_prod_free(&o->prod); }

static void fill(mom_prod *p, int t, const double v[16]) {
  for (int q = 0; q < p->nq; q++) memcpy((double *)mom_site(p, t, q), v, sizeof(double) * 16);
}

/* 1 / (d (d + 1)) with d = 2^q, in extended precision. */
static long double haar_norm(int q) {
  long double d = ldexpl(1.0L, q);
  return 1.0L / (d * (d + 1.0L));
}

int mom_input(const mom_prob *P, int kind, mom_prod *in) {
  const int q = P->c->q_in;
  const bps_input_kind ik = P->data.inputs;
  double v[16];
  if (kind == MOM_SAME && ik == BPS_INPUT_HAAR) { /* (1 + F) / (d (d + 1)) */
    BPS_CALL(mom_prod_alloc(in, q, 2));
    mom_site_identity(v);
    fill(in, 0, v);
    mom_site_swap(v);
    fill(in, 1, v);
    in->coef[0] = in->coef[1] = haar_norm(q);
    return BPS_OK;
  }
  BPS_CALL(mom_prod_alloc(in, q, 1));
  if (ik == BPS_INPUT_ZERO) mom_site_zero(v, kind == MOM_ONE ? 1 : 2);
  else if (kind == MOM_SAME) mom_site_basis(v); /* BASIS, same pair */
  else mom_site_mixed(v);                       /* one copy, or independent pairs */
  fill(in, 0, v);
  return BPS_OK;
}

/* Site vector of one cost qubit (GLOBAL, PAULI) for pass `kind`; letter for PAULI. */
static void global_site(const bps_data_ens *d, int kind, int letter, double v[16]) {
  memset(v, 0, sizeof(double) * 16);
  if (d->kind == BPS_OBS_PAULI) {
    v[4 * letter + (kind == MOM_ONE ? MOM_I : letter)] = 1.0;
    return;
  }
  /* GLOBAL: one-copy E[|phi><phi|] per qubit: |0><0| for zero targets, 1/2 otherwise */
  if (kind == MOM_ONE) {
    v[0] = 0.5;
    if (d->target == BPS_TARGET_ZERO) v[4 * MOM_Z] = 0.5;
    return;
  }
  if (d->target == BPS_TARGET_ZERO) {
    mom_site_zero(v, 2);
  } else if (kind == MOM_SAME) { /* product targets: E[Pi (x) Pi] = (1 + F)/6 */
    v[0] = 0.25;
    for (int a = 1; a < 4; a++) v[4 * a + a] = 1.0 / 12.0;
  } else { /* product targets, independent pairs: 1/2 (x) 1/2 */
    v[0] = 0.25;
  }
}

int mom_observable(const mom_prob *P, int kind, mom_obs *obs) {
  const bps_data_ens *d = &P->data;
  memset(obs, 0, sizeof *obs);
  obs->q0 = d->q0;
  obs->nq = d->nq;
  double v[16];
  if (d->kind == BPS_OBS_LOCAL) { /* X' = sum_j T_j, T the traceless part of the target */
    obs->local = 1;
    obs->two = kind != MOM_ONE;
    obs->lcoef = 1.0L;
    mom_site_identity(obs->lsite[0]);
    const int zero = d->target == BPS_TARGET_ZERO;
    if (zero) {
      obs->lsite[1][4 * MOM_Z + MOM_I] = 1.0;
      obs->lsite[2][4 * MOM_I + MOM_Z] = 1.0;
      obs->lsite[3][4 * MOM_Z + MOM_Z] = 1.0;
    } else if (kind == MOM_SAME) { /* E[n.sigma (x) n.sigma] = (XX + YY + ZZ)/3 */
      for (int a = 1; a < 4; a++) obs->lsite[3][4 * a + a] = 1.0 / 3.0;
    } /* product targets, one copy or independent pairs: E[T] = 0, all sites zero */
    return BPS_OK;
  }
  if (d->kind == BPS_OBS_GLOBAL && d->target == BPS_TARGET_UNITARY && kind != MOM_ONE) {
    /* a Haar target state: E[Pi (x) Pi] = (1 + F) / (d (d + 1)) (pairs share it) */
    BPS_CALL(mom_prod_alloc(&obs->prod, d->nq, 2));
    mom_site_identity(v);
    fill(&obs->prod, 0, v);
    mom_site_swap(v);
    fill(&obs->prod, 1, v);
    obs->prod.coef[0] = obs->prod.coef[1] = haar_norm(d->nq);
    return BPS_OK;
  }
  BPS_CALL(mom_prod_alloc(&obs->prod, d->nq, 1));
  for (int q = 0; q < d->nq; q++) {
    global_site(d, kind, d->kind == BPS_OBS_PAULI ? mom_letter(d->pauli[q]) : 0, v);
    memcpy((double *)mom_site(&obs->prod, 0, q), v, sizeof v);
  }
  return BPS_OK;
}

int mom_purity_obs(const mom_prob *P, mom_obs *obs) {
  memset(obs, 0, sizeof *obs);
  const int q = P->c->q_out;
  obs->q0 = 0;
  obs->nq = q;
  BPS_CALL(mom_prod_alloc(&obs->prod, q, 1));
  double v[16];
  for (int i = 0; i < q; i++) {
    mom_site_identity(v);
    memcpy((double *)mom_site(&obs->prod, 0, i), v, sizeof v);
  }
  for (int i = 0; i < P->ndiag; i++) {
    mom_site_swap(v);
    memcpy((double *)mom_site(&obs->prod, 0, P->diag[i]), v, sizeof v);
  }
  return BPS_OK;
}

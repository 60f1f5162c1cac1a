/* circuit: circuit programs, their forward execution, costs, and gradients (adjoint and
 * parameter shift). See circuit.h. */
#include "bpscan/circuit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/gates.h"
#include "bpscan/heisenberg.h"
#include "bpscan/linalg.h"

/* ---------------------------------------------------------------- building */

static int create(int q_in, int ensemble, bps_circuit **out) {
  const int qmax = ensemble ? BPS_ENS_MAX_QUBITS : BPS_MAX_QUBITS;
  BPS_CHECK(out && q_in >= 0 && q_in <= qmax, BPS_ERR_ARG, "bad input width %d", q_in);
  bps_circuit *c = calloc(1, sizeof *c);
  BPS_CHECK(c, BPS_ERR_MEM, "out of memory");
  c->q_in = c->q_out = q_in;
  c->ensemble = ensemble;
  *out = c;
  return BPS_OK;
}

int bps_circuit_create(int q_in, bps_circuit **out) { return create(q_in, 0, out); }
int bps_circuit_create_ensemble(int q_in, bps_circuit **out) { return create(q_in, 1, out); }

static void op_free(bps_op *op) {
  free(op->qubits);
  free(op->pauli);
  free(op->ens_qubits);
}

int bps_circuit_destroy(bps_circuit **c) {
  if (!c || !*c) return BPS_OK;
  for (int i = 0; i < (*c)->nops; i++) op_free(&(*c)->ops[i]);
  free((*c)->ops);
  free((*c)->angle);
  bps_free((*c)->pool);
  free(*c);
  *c = NULL;
  return BPS_OK;
}

/* Append op, taking a copy of its k qubits (and of pauli when given). */
static int push_op(bps_circuit *c, bps_op *op, const int *qubits, const char *pauli) {
  if (c->nops == c->cap) {
    int ncap = c->cap ? 2 * c->cap : 64;
    bps_op *p = realloc(c->ops, (size_t)ncap * sizeof *p);
    BPS_CHECK(p, BPS_ERR_MEM, "out of memory");
    c->ops = p;
    c->cap = ncap;
  }
  op->qubits = NULL;
  op->pauli = NULL;
  op->ens_qubits = NULL;
  op->ens_var = -1;
  if (qubits) {
    op->qubits = malloc(sizeof(int) * (size_t)(op->k ? op->k : 1));
    BPS_CHECK(op->qubits, BPS_ERR_MEM, "out of memory");
    memcpy(op->qubits, qubits, sizeof(int) * (size_t)op->k);
  }
  if (pauli) {
    op->pauli = malloc((size_t)op->k + 1);
    if (!op->pauli) {
      op_free(op);
      BPS_CHECK(0, BPS_ERR_MEM, "out of memory");
    }
    memcpy(op->pauli, pauli, (size_t)op->k + 1);
  }
  c->ops[c->nops++] = *op;
  return BPS_OK;
}

static int push_mats(bps_circuit *c, size_t n, const bps_cplx *m, size_t *offset) {
  if (c->npool + n > c->cappool) {
    size_t ncap = c->cappool ? 2 * c->cappool : 1024;
    while (ncap < c->npool + n) ncap *= 2;
    bps_cplx *p = bps_alloc(ncap);
    BPS_CHECK(p, BPS_ERR_MEM, "out of memory");
    if (c->npool) memcpy(p, c->pool, c->npool * sizeof(bps_cplx));
    bps_free(c->pool);
    c->pool = p;
    c->cappool = ncap;
  }
  memcpy(c->pool + c->npool, m, n * sizeof(bps_cplx));
  *offset = c->npool;
  c->npool += n;
  return BPS_OK;
}

static int check_targets(const bps_circuit *c, int k, const int *qubits) {
  BPS_CHECK(k >= 1 && (k <= BPS_OP_MAXQ || c->ensemble) && k <= c->q_out, BPS_ERR_ARG,
            "%d target qubits on a %d-qubit register", k, c->q_out);
  for (int i = 0; i < k; i++) {
    BPS_CHECK(qubits[i] >= 0 && qubits[i] < c->q_out, BPS_ERR_ARG, "qubit %d outside [0, %d)",
              qubits[i], c->q_out);
  }
  /* distinct qubits: sorted copy for long lists, pairwise for short ones */
  if (k <= 32) {
    for (int i = 0; i < k; i++)
      for (int j = 0; j < i; j++)
        BPS_CHECK(qubits[i] != qubits[j], BPS_ERR_ARG, "qubit %d repeated", qubits[i]);
    return BPS_OK;
  }
  unsigned char *seen = calloc((size_t)c->q_out, 1);
  BPS_CHECK(seen, BPS_ERR_MEM, "out of memory");
  int rep = -1;
  for (int i = 0; i < k && rep < 0; i++) {
    if (seen[qubits[i]]) rep = qubits[i];
    seen[qubits[i]] = 1;
  }
  free(seen);
  BPS_CHECK(rep < 0, BPS_ERR_ARG, "qubit %d repeated", rep);
  return BPS_OK;
}

static int unitary(bps_circuit *c, int k, const int *qubits, const bps_cplx *U, bps_ens_kind ens) {
  BPS_CHECK(c && (U || (c->ensemble && ens == BPS_ENS_HAAR)), BPS_ERR_ARG, "NULL argument");
  BPS_CALL(check_targets(c, k, qubits));
  bps_op op = {.kind = BPS_OP_UNITARY, .k = k, .param = -1, .ens = ens};
  if (!U) return push_op(c, &op, qubits, NULL); /* an ensemble's Haar block: no matrix */
  BPS_CHECK(k <= BPS_OP_MAXQ, BPS_ERR_ARG, "a %d-qubit matrix is too large", k);
  /* U, then U^dag right after it (the backward pass applies U^dag) */
  int rc = BPS_OK;
  int d = 1 << k;
  size_t dd = (size_t)d * (size_t)d, off2;
  bps_cplx *Uh = bps_alloc(dd);
  BPS_CHECK_GOTO(Uh, BPS_ERR_MEM, "out of memory");
  bps_mat_adjoint(d, U, Uh);
  BPS_CALL_GOTO(push_mats(c, dd, U, &op.mat));
  BPS_CALL_GOTO(push_mats(c, dd, Uh, &off2));
  BPS_CALL_GOTO(push_op(c, &op, qubits, NULL));
cleanup:
  bps_free(Uh);
  return rc;
}

int bps_circuit_unitary(bps_circuit *c, int k, const int *qubits, const bps_cplx *U) {
  return unitary(c, k, qubits, U, BPS_ENS_FIXED);
}

int bps_circuit_haar(bps_circuit *c, int k, const int *qubits, const bps_cplx *U) {
  return unitary(c, k, qubits, U, BPS_ENS_HAAR);
}

int bps_circuit_prot(bps_circuit *c, const char *pauli, const int *qubits, double scale,
                     int param) {
  BPS_CHECK(c && pauli, BPS_ERR_ARG, "NULL argument");
  int k = (int)strlen(pauli);
  BPS_CALL(check_targets(c, k, qubits));
  BPS_CHECK(param >= 0, BPS_ERR_ARG, "negative parameter index");
  BPS_CHECK(scale != 0 && isfinite(scale), BPS_ERR_ARG, "bad generator scale %g", scale);
  for (int i = 0; i < k; i++)
    BPS_CHECK(pauli[i] == 'X' || pauli[i] == 'Y' || pauli[i] == 'Z', BPS_ERR_ARG,
              "rotation generator \"%s\": letters must be X, Y or Z", pauli);
  bps_op op = {.kind = BPS_OP_PROT, .k = k, .param = param, .scale = scale};
  if (param + 1 > c->capangle) { /* new parameters default to uniform angles */
    int ncap = c->capangle ? 2 * c->capangle : 64;
    while (ncap < param + 1) ncap *= 2;
    unsigned char *a = realloc(c->angle, (size_t)ncap);
    BPS_CHECK(a, BPS_ERR_MEM, "out of memory");
    memset(a + c->capangle, BPS_ANGLE_UNIFORM, (size_t)(ncap - c->capangle));
    c->angle = a;
    c->capangle = ncap;
  }
  BPS_CALL(push_op(c, &op, qubits, pauli));
  if (param + 1 > c->nparams) c->nparams = param + 1;
  return BPS_OK;
}

int bps_circuit_tag_last(bps_circuit *c, bps_ens_kind ens, double sigma, int ens_k,
                         const int *ens_qubits) {
  BPS_CHECK(c && c->nops > 0, BPS_ERR_ARG, "no operation to tag");
  bps_op *op = &c->ops[c->nops - 1];
  BPS_CHECK(op->kind == BPS_OP_PROT, BPS_ERR_ARG, "only rotations carry an ensemble tag");
  switch (ens) {
  case BPS_ENS_AXIS:
    BPS_CHECK(op->k == 1, BPS_ERR_ARG, "a random axis acts on one qubit");
    break;
  case BPS_ENS_GAUSS:
    BPS_CHECK(isfinite(sigma) && sigma > 0, BPS_ERR_ARG, "scale deviation %g", sigma);
    op->ens_sigma = sigma;
    break;
  case BPS_ENS_PAULI:
    BPS_CHECK(ens_qubits && ens_k >= op->k, BPS_ERR_ARG, "bad Pauli-string support");
    BPS_CALL(check_targets(c, ens_k, ens_qubits));
    op->ens_qubits = malloc(sizeof(int) * (size_t)ens_k);
    BPS_CHECK(op->ens_qubits, BPS_ERR_MEM, "out of memory");
    memcpy(op->ens_qubits, ens_qubits, sizeof(int) * (size_t)ens_k);
    op->ens_k = ens_k;
    break;
  default: BPS_CHECK(0, BPS_ERR_ARG, "ensemble %d is not for rotations", (int)ens);
  }
  op->ens = ens;
  return BPS_OK;
}

int bps_circuit_tag_shared(bps_circuit *c, int var) {
  BPS_CHECK(c && c->nops > 0 && var >= 0, BPS_ERR_ARG, "no operation to tag");
  c->ops[c->nops - 1].ens_var = var;
  return BPS_OK;
}

int bps_circuit_tag_support(bps_circuit *c, int n) {
  BPS_CHECK(c && n >= 0 && n <= c->nops, BPS_ERR_ARG, "no operations to tag");
  for (int i = c->nops - n; i < c->nops; i++) {
    BPS_CHECK(c->ops[i].kind == BPS_OP_KRAUS, BPS_ERR_ARG, "only channels follow a support");
    c->ops[i].ens = BPS_ENS_SUPPORT;
  }
  return BPS_OK;
}

int bps_circuit_param_angle(bps_circuit *c, int p, bps_angle_kind kind) {
  BPS_CHECK(c && p >= 0 && p < c->nparams, BPS_ERR_ARG, "parameter %d of %d", p,
            c ? c->nparams : 0);
  c->angle[p] = (unsigned char)kind;
  return BPS_OK;
}

int bps_circuit_kraus(bps_circuit *c, int k, const int *qubits, int nkraus, const bps_cplx *K) {
  BPS_CHECK(c && K && nkraus >= 1, BPS_ERR_ARG, "bad Kraus channel");
  BPS_CALL(check_targets(c, k, qubits));
  bps_op op = {.kind = BPS_OP_KRAUS, .k = k, .param = -1, .nkraus = nkraus};
  BPS_CHECK(k <= BPS_OP_MAXQ, BPS_ERR_ARG, "a %d-qubit channel is too large", k);
  /* K_1..K_m, then K_1^dag..K_m^dag (the adjoint channel) */
  int rc = BPS_OK;
  int d = 1 << k;
  size_t dd = (size_t)d * (size_t)d, off2;
  bps_cplx *Kh = bps_alloc(dd * (size_t)nkraus);
  BPS_CHECK_GOTO(Kh, BPS_ERR_MEM, "out of memory");
  for (int m = 0; m < nkraus; m++) bps_mat_adjoint(d, K + m * dd, Kh + m * dd);
  BPS_CALL_GOTO(push_mats(c, dd * (size_t)nkraus, K, &op.mat));
  BPS_CALL_GOTO(push_mats(c, dd * (size_t)nkraus, Kh, &off2));
  BPS_CALL_GOTO(push_op(c, &op, qubits, NULL));
cleanup:
  bps_free(Kh);
  return rc;
}

int bps_circuit_append(bps_circuit *c, int a) {
  BPS_CHECK(c && a >= 1 && c->q_out + a <= (c->ensemble ? BPS_ENS_MAX_QUBITS : BPS_MAX_QUBITS),
            BPS_ERR_ARG, "bad append of %d", a);
  bps_op op = {.kind = BPS_OP_APPEND, .k = a, .param = -1};
  BPS_CALL(push_op(c, &op, NULL, NULL));
  c->q_out += a;
  return BPS_OK;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int bps_circuit_trace(bps_circuit *c, int k, const int *qubits) {
  BPS_CHECK(c, BPS_ERR_ARG, "NULL circuit");
  BPS_CALL(check_targets(c, k, qubits));
  BPS_CHECK(k < c->q_out, BPS_ERR_ARG, "tracing out every qubit");
  bps_op op = {.kind = BPS_OP_TRACE, .k = k, .param = -1};
  BPS_CALL(push_op(c, &op, qubits, NULL));
  qsort(c->ops[c->nops - 1].qubits, (size_t)k, sizeof(int), cmp_int);
  c->q_out -= k;
  return BPS_OK;
}

int bps_circuit_depol(bps_circuit *c, int k, const int *qubits, double p) {
  BPS_CHECK(c, BPS_ERR_ARG, "NULL circuit");
  BPS_CALL(check_targets(c, k, qubits));
  BPS_CHECK(p >= 0 && p <= 1, BPS_ERR_ARG, "depolarising probability %g outside [0, 1]", p);
  bps_op op = {.kind = BPS_OP_DEPOL, .k = k, .param = -1, .scale = p};
  BPS_CALL(push_op(c, &op, qubits, NULL));
  qsort(c->ops[c->nops - 1].qubits, (size_t)k, sizeof(int), cmp_int);
  return BPS_OK;
}

/* ---------------------------------------------------------------- execution */

static int is_invertible(const bps_op *op) {
  return op->kind == BPS_OP_UNITARY || op->kind == BPS_OP_PROT;
}

/* rho -> (1-p) rho + p Tr_S(rho) (x) 1_S / 2^k. Self-adjoint, so also the Heisenberg map. */
static int apply_depol(bps_state *s, const bps_op *op) {
  double p = op->scale;
  if (p == 0) return BPS_OK;
  int rc = BPS_OK;
  bps_state *t = NULL;
  BPS_CALL_GOTO(bps_state_create(s->repr, 0, &t));
  BPS_CALL_GOTO(bps_state_copy(t, s));
  BPS_CALL_GOTO(bps_partial_trace(t, op->k, op->qubits));
  BPS_CALL_GOTO(bps_insert_identity(t, op->k, op->qubits));
  /* FACTORED: always leave a compressed factor U S (orthogonal columns), which the
   * Lambda backward step (bps_lambda_depol) relies on; axpy compresses only when the
   * combined rank exceeds the dimension */
  int compressed = s->repr == BPS_FACTORED && s->rank + t->rank > s->dim;
  BPS_CALL_GOTO(bps_state_axpy(s, 1.0 - p, t, p / ldexp(1.0, op->k)));
  if (s->repr == BPS_FACTORED && !compressed) BPS_CALL_GOTO(bps_compress(s));
cleanup:
  bps_state_destroy(&t);
  return rc;
}

/* exp(-i scale angle P) = R_P(2 scale angle) on the op's qubits; the adjoint negates the
 * angle. Rotations act on few qubits: their matrix lives on the stack (a heap allocation
 * per gate was a fifth of the time of small-state landscape cuts). */
static int apply_prot(bps_state *s, const bps_op *op, double angle, int adjoint) {
  int rc = BPS_OK;
  int d = 1 << op->k;
  _Alignas(64) bps_cplx Ub[64];
  bps_cplx *U = d * d <= 64 ? Ub : bps_alloc((size_t)d * d);
  BPS_CHECK_GOTO(U, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(bps_gate_pauli_rot(op->pauli, (adjoint ? -2.0 : 2.0) * op->scale * angle, U));
  BPS_CALL_GOTO(bps_apply_unitary(s, op->k, op->qubits, U));
cleanup:
  if (U != Ub) bps_free(U);
  return rc;
}

/* Apply op (adjoint = 0) or its Heisenberg adjoint (adjoint = 1). theta_eff is the angle
 * for PROT operations. */
static int apply_op(bps_state *s, const bps_circuit *c, const bps_op *op, double angle,
                    int adjoint) {
  switch (op->kind) {
  case BPS_OP_UNITARY: { /* the pool holds U, then U^dag */
    size_t dd = (size_t)1 << (2 * op->k);
    BPS_CALL(bps_apply_unitary(s, op->k, op->qubits, c->pool + op->mat + (adjoint ? dd : 0)));
    return BPS_OK;
  }
  case BPS_OP_PROT: BPS_CALL(apply_prot(s, op, angle, adjoint)); return BPS_OK;
  case BPS_OP_KRAUS: { /* the pool holds K_1..K_m, then K_1^dag..K_m^dag */
    size_t n = (size_t)op->nkraus << (2 * op->k);
    BPS_CALL(bps_apply_kraus(s, op->k, op->qubits, op->nkraus,
                             c->pool + op->mat + (adjoint ? n : 0)));
    return BPS_OK;
  }
  case BPS_OP_APPEND:
    BPS_CALL(adjoint ? bps_project_zero(s, op->k) : bps_append_zero(s, op->k));
    return BPS_OK;
  case BPS_OP_TRACE:
    BPS_CALL(adjoint ? bps_insert_identity(s, op->k, op->qubits)
                     : bps_partial_trace(s, op->k, op->qubits));
    return BPS_OK;
  case BPS_OP_DEPOL: BPS_CALL(apply_depol(s, op)); return BPS_OK;
  }
  BPS_FAIL(BPS_ERR_INTERNAL, "unknown operation kind %d", (int)op->kind);
}

static double op_angle(const bps_op *op, const double *theta, int shift_op, int i, double delta) {
  if (op->kind != BPS_OP_PROT) return 0.0;
  return theta[op->param] + (i == shift_op ? delta : 0.0);
}

static int run_range(const bps_circuit *c, const double *theta, bps_state *s, int from, int to,
                     int shift_op, double delta) {
  for (int i = from; i < to; i++) {
    const bps_op *op = &c->ops[i];
    int rc = apply_op(s, c, op, op_angle(op, theta, shift_op, i, delta), 0);
    BPS_CHECK(!rc, rc, "operation %d", i);
  }
  return BPS_OK;
}

int bps_circuit_run(const bps_circuit *c, const double *theta, bps_state *s) {
  BPS_CHECK(c && s, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(!c->ensemble, BPS_ERR_ARG, "an ensemble-only circuit cannot run on a state");
  BPS_CHECK(c->nparams == 0 || theta, BPS_ERR_ARG, "circuit needs %d parameters", c->nparams);
  BPS_CHECK(s->q == c->q_in, BPS_ERR_ARG, "circuit expects %d input qubits, state has %d",
            c->q_in, s->q);
  BPS_CALL(run_range(c, theta, s, 0, c->nops, -1, 0.0));
  return BPS_OK;
}

/* ---------------------------------------------------------------- costs */

int bps_cost_create(int q, double c0, bps_cost **out) {
  BPS_CHECK(out && q >= 0, BPS_ERR_ARG, "bad arguments");
  bps_cost *c = calloc(1, sizeof *c);
  BPS_CHECK(c, BPS_ERR_MEM, "out of memory");
  c->q = q;
  c->c0 = c0;
  *out = c;
  return BPS_OK;
}

int bps_cost_destroy(bps_cost **c) {
  if (!c || !*c) return BPS_OK;
  for (int t = 0; t < (*c)->nterms; t++) bps_free((*c)->terms[t].F);
  free((*c)->terms);
  free(*c);
  *c = NULL;
  return BPS_OK;
}

int bps_cost_add(bps_cost *c, double w, int k, const int *qubits, int m, const bps_cplx *F) {
  BPS_CHECK(c && F && qubits, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(k >= 1 && k <= c->q && k <= BPS_OP_MAXQ && m >= 1, BPS_ERR_ARG, "bad term shape");
  for (int i = 0; i < k; i++) {
    BPS_CHECK(qubits[i] >= 0 && qubits[i] < c->q, BPS_ERR_ARG, "qubit %d out of range", qubits[i]);
    BPS_CHECK(i == 0 || qubits[i] > qubits[i - 1], BPS_ERR_ARG, "term qubits must ascend");
  }
  if (c->nterms == c->cap) {
    int ncap = c->cap ? 2 * c->cap : 8;
    bps_cost_term *p = realloc(c->terms, (size_t)ncap * sizeof *p);
    BPS_CHECK(p, BPS_ERR_MEM, "out of memory");
    c->terms = p;
    c->cap = ncap;
  }
  size_t n = ((size_t)1 << k) * (size_t)m;
  bps_cost_term *t = &c->terms[c->nterms];
  t->F = bps_alloc(n);
  BPS_CHECK(t->F, BPS_ERR_MEM, "out of memory");
  memcpy(t->F, F, n * sizeof(bps_cplx));
  t->w = w;
  t->k = k;
  t->m = m;
  memcpy(t->qubits, qubits, (size_t)k * sizeof(int));
  c->nterms++;
  return BPS_OK;
}

int bps_cost_eval(const bps_cost *c, const bps_state *rho, double *out) {
  BPS_CHECK(c && rho && out, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(rho->q == c->q, BPS_ERR_ARG, "cost on %d qubits, state has %d", c->q, rho->q);
  double v = c->c0;
  for (int t = 0; t < c->nterms; t++) {
    const bps_cost_term *T = &c->terms[t];
    bps_idx d = (bps_idx)1 << T->k;
    double acc = 0;
    for (int col = 0; col < T->m; col++) {
      double e;
      BPS_CALL(bps_expect_projector(rho, T->k, T->qubits, T->F + d * col, &e));
      acc += e;
    }
    v += T->w * acc;
  }
  *out = v;
  return BPS_OK;
}

/* Observable of the cost (without c0) as one signed DENSE operator, or as a positive and a
 * negative FACTORED part. obs[i] gets sign sgn[i]; returns the number of parts. */
static int build_observable(const bps_cost *c, bps_repr repr, bps_state *obs[2], double sgn[2],
                            int *nobs) {
  int rc = BPS_OK;
  *nobs = 0;
  int nparts = repr == BPS_DENSE ? 1 : 2;
  bps_state *part[2] = {NULL, NULL}, *t = NULL;
  int have[2] = {0, 0};
  for (int i = 0; i < nparts; i++) BPS_CALL_GOTO(bps_state_create(repr, c->q, &part[i]));
  BPS_CALL_GOTO(bps_state_create(repr, 0, &t));
  for (int ti = 0; ti < c->nterms; ti++) {
    const bps_cost_term *T = &c->terms[ti];
    if (T->w == 0) continue;
    int others[BPS_MAX_QUBITS], no = 0;
    for (int qb = 0, u = 0; qb < c->q; qb++) {
      if (u < T->k && T->qubits[u] == qb) u++;
      else others[no++] = qb;
    }
    BPS_CALL_GOTO(bps_state_set_factor(t, T->k, T->m, T->F));
    BPS_CALL_GOTO(bps_insert_identity(t, no, others));
    int which = (repr == BPS_FACTORED && T->w < 0) ? 1 : 0;
    double w = repr == BPS_FACTORED ? fabs(T->w) : T->w;
    if (!have[which]) {
      BPS_CALL_GOTO(bps_state_copy(part[which], t));
      BPS_CALL_GOTO(bps_state_axpy(part[which], w, t, 0.0));
      have[which] = 1;
    } else {
      BPS_CALL_GOTO(bps_state_axpy(part[which], 1.0, t, w));
    }
  }
  for (int i = 0; i < 2; i++) {
    if (!have[i]) continue;
    obs[*nobs] = part[i];
    sgn[*nobs] = i == 0 ? 1.0 : -1.0;
    (*nobs)++;
    part[i] = NULL; /* handed to obs */
  }
cleanup:
  bps_state_destroy(&t);
  for (int i = 0; i < 2; i++) bps_state_destroy(&part[i]);
  return rc;
}

/* ---------------------------------------------------------------- gradients */

/* d/dtheta of Tr[O rho] through exp(-i s theta P) acting last: 2 s Im Tr[O P rho]. */
static int prot_gradient(const bps_op *op, bps_state *const *obs, const double *sgn, int nobs,
                         const bps_state *rho, double *g) {
  char full[BPS_MAX_QUBITS + 1];
  memset(full, 'I', (size_t)rho->q);
  full[rho->q] = 0;
  for (int i = 0; i < op->k; i++) full[op->qubits[i]] = op->pauli[i];
  double acc = 0;
  for (int o = 0; o < nobs; o++) {
    bps_cplx z;
    BPS_CALL(bps_trace_o_pauli_rho(obs[o], full, rho, &z));
    acc += sgn[o] * 2.0 * op->scale * cimag(z);
  }
  *g = acc;
  return BPS_OK;
}

typedef struct {
  int nseg;
  int *begin, *end; /* segment k covers ops [begin, end) */
  bps_state **ck;   /* state before segment k */
} segments;

static void segments_free(segments *sg) {
  if (sg->ck)
    for (int k = 0; k < sg->nseg; k++) bps_state_destroy(&sg->ck[k]);
  free(sg->ck);
  free(sg->begin);
  free(sg->end);
}

/* Split at APPEND/TRACE (each its own segment): the layer boundaries of a model. */
static int segments_make(const bps_circuit *c, segments *sg) {
  memset(sg, 0, sizeof *sg);
  int n = c->nops;
  sg->begin = malloc(sizeof(int) * (size_t)(2 * n + 1));
  sg->end = malloc(sizeof(int) * (size_t)(2 * n + 1));
  BPS_CHECK(sg->begin && sg->end, BPS_ERR_MEM, "out of memory");
  int i = 0;
  while (i < n) {
    int b = i;
    if (c->ops[i].kind == BPS_OP_APPEND || c->ops[i].kind == BPS_OP_TRACE) i++;
    else
      while (i < n && c->ops[i].kind != BPS_OP_APPEND && c->ops[i].kind != BPS_OP_TRACE) i++;
    sg->begin[sg->nseg] = b;
    sg->end[sg->nseg] = i;
    sg->nseg++;
  }
  sg->ck = calloc((size_t)(sg->nseg ? sg->nseg : 1), sizeof(bps_state *));
  BPS_CHECK(sg->ck, BPS_ERR_MEM, "out of memory");
  return BPS_OK;
}

/* Factored backward step through a non-invertible operation on Lambda = O A (heisenberg.h):
 * before/after are the factors before and after the operation. */
static int lambda_back(bps_state *lam, const bps_circuit *c, const bps_op *op,
                       const bps_state *before, const bps_state *after) {
  switch (op->kind) {
  case BPS_OP_APPEND: BPS_CALL(bps_lambda_append(lam, op->k)); return BPS_OK;
  case BPS_OP_TRACE:
    BPS_CALL(bps_lambda_trace(lam, op->k, op->qubits, before, after));
    return BPS_OK;
  case BPS_OP_KRAUS: {
    size_t n = (size_t)op->nkraus << (2 * op->k);
    BPS_CALL(bps_lambda_kraus(lam, op->k, op->qubits, op->nkraus, c->pool + op->mat,
                              c->pool + op->mat + n, before, after));
    return BPS_OK;
  }
  case BPS_OP_DEPOL:
    BPS_CALL(bps_lambda_depol(lam, op->k, op->qubits, op->scale, before, after));
    return BPS_OK;
  default: break;
  }
  BPS_FAIL(BPS_ERR_INTERNAL, "operation kind %d is invertible", (int)op->kind);
}

/* Backward step over a run of rotations: the first op j0 of the run of PROT
 * operations ending at op i (within [b, i]) on the same k <= 2 qubits in the same order
 * (a U3 as R_z R_y R_z, a CAN as XX, YY, ZZ); j0 = i for a lone rotation. */
static int prot_run_start(const bps_circuit *c, int b, int i) {
  const bps_op *op = &c->ops[i];
  if (op->kind != BPS_OP_PROT || op->k > 2) return i;
  int j = i;
  while (j > b && c->ops[j - 1].kind == BPS_OP_PROT && c->ops[j - 1].k == op->k &&
         !memcmp(c->ops[j - 1].qubits, op->qubits, sizeof(int) * (size_t)op->k))
    j--;
  return j;
}

/* The fused backward step of the run [j0, i] (prot_run_start): one sweep for the local Gram
 * matrix G of (Lambda, A) (DENSE: of (O, rho), per observable part) on the run's qubits
 * gives every rotation's 2 s Im Tr[Lambda^dag P A] (G moved back through each un-applied
 * rotation R^dag as conj(R^dag) G R^dag^T, 2^k x 2^k algebra), then one un-apply of the
 * run's product on Lambda (or O) and on A (undo = 0: none; nothing parameterised precedes
 * the run). Replaces a Pauli inner product and two rotations per parameter: the same
 * values up to rounding (about 1e-16 relative). */
static int prot_run_back(const bps_circuit *c, const double *theta, int j0, int i,
                         bps_state *const *obs, const double *sgn, int nobs, bps_state *lam,
                         bps_state *rho, double *grad, int undo) {
  const int k = c->ops[i].k, D = 1 << k;
  const int *qubits = c->ops[i].qubits;
  bps_cplx G[16], M[16], R[16], P[16], T[16];
  if (lam) {
    BPS_CALL(bps_local_gram(lam, rho, k, qubits, G));
  } else { /* DENSE: G = sum_o sgn_o G(O_o, rho) */
    for (int e = 0; e < D * D; e++) G[e] = 0;
    for (int o = 0; o < nobs; o++) {
      BPS_CALL(bps_local_gram(obs[o], rho, k, qubits, T));
      for (int e = 0; e < D * D; e++) G[e] += sgn[o] * T[e];
    }
  }
  for (int t = 0; t < D * D; t++) M[t] = t % (D + 1) == 0 ? 1 : 0;
  for (int t = i; t >= j0; t--) {
    const bps_op *o = &c->ops[t];
    BPS_CALL(bps_gate_pauli(o->pauli, P));
    bps_cplx z = 0;
    for (int e = 0; e < D * D; e++) z += P[e] * G[e];
    grad[o->param] += 2.0 * o->scale * cimag(z);
    if (t == j0 && !undo) break;
    BPS_CALL(bps_gate_pauli_rot(o->pauli, -2.0 * o->scale * theta[o->param], R));
    for (int a = 0; a < D; a++) /* T = conj(R) G */
      for (int bb = 0; bb < D; bb++) {
        bps_cplx v = 0;
        for (int e = 0; e < D; e++) v += conj(R[a * D + e]) * G[e * D + bb];
        T[a * D + bb] = v;
      }
    for (int a = 0; a < D; a++) /* G = T R^T */
      for (int bb = 0; bb < D; bb++) {
        bps_cplx v = 0;
        for (int e = 0; e < D; e++) v += T[a * D + e] * R[bb * D + e];
        G[a * D + bb] = v;
      }
    bps_mat_mul(D, R, M, T); /* M = R M: the rotations un-applied so far, latest last */
    memcpy(M, T, sizeof(bps_cplx) * (size_t)(D * D));
  }
  if (undo) {
    if (lam) BPS_CALL(bps_apply_unitary(lam, k, qubits, M));
    for (int o = 0; o < nobs; o++) BPS_CALL(bps_apply_unitary(obs[o], k, qubits, M));
    BPS_CALL(bps_apply_unitary(rho, k, qubits, M));
  }
  return BPS_OK;
}

/* DENSE: the backward pass evolves the cost observable O (Heisenberg picture). FACTORED:
 * it evolves Lambda = O A instead (A the factor at that point of the circuit, so Lambda
 * has A's shape) through every operation: U^dag Lambda for unitaries and rotations, and
 * the bps_lambda_* steps for appends, traces, channels and depolarising; O itself exists
 * only at the output, for Lambda_out = O A_out. Rotation gradients: 2 s Im Tr[O P rho],
 * which is 2 s Im Tr[Lambda^dag P A] in the factored case. */
static int adjoint_impl(const bps_circuit *c, const bps_cost *cost, const double *theta,
                        const bps_state *in, double *value, double *grad, segments *sg,
                        bps_state **rho, bps_state **obs, double *sgn, int *nobs,
                        bps_state ***sub, bps_state **lam, bps_state *out, int fused) {
  int rc = BPS_OK;
  int *prot_before = NULL;
  const int lambda = in->repr == BPS_FACTORED;
  BPS_CALL_GOTO(segments_make(c, sg));
  BPS_CALL_GOTO(bps_state_create(in->repr, 0, rho));
  BPS_CALL_GOTO(bps_state_copy(*rho, in));
  /* forward, checkpointing the state before every segment */
  for (int k = 0; k < sg->nseg; k++) {
    BPS_CALL_GOTO(bps_state_create(in->repr, 0, &sg->ck[k]));
    BPS_CALL_GOTO(bps_state_copy(sg->ck[k], *rho));
    BPS_CALL_GOTO(run_range(c, theta, *rho, sg->begin[k], sg->end[k], -1, 0.0));
  }
  BPS_CALL_GOTO(bps_cost_eval(cost, *rho, value));
  if (out) BPS_CALL_GOTO(bps_state_copy(out, *rho));
  BPS_CALL_GOTO(build_observable(cost, in->repr, obs, sgn, nobs));
  if (lambda) { /* Lambda_out = O A_out; O is not needed any more */
    BPS_CALL_GOTO(bps_state_create(BPS_FACTORED, 0, lam));
    BPS_CALL_GOTO(bps_obs_times_factor(obs, sgn, *nobs, *rho, *lam));
    for (int o = 0; o < *nobs; o++) bps_state_destroy(&obs[o]);
    *nobs = 0;
  }
  for (int p = 0; p < c->nparams; p++) grad[p] = 0.0;
  *sub = calloc((size_t)(c->nops ? c->nops : 1), sizeof(bps_state *));
  BPS_CHECK_GOTO(*sub, BPS_ERR_MEM, "out of memory");
  /* prot_before[i]: some parameterised operation precedes op i (else the backward pass
   * can stop there) */
  prot_before = calloc((size_t)c->nops + 1, sizeof(int));
  BPS_CHECK_GOTO(prot_before, BPS_ERR_MEM, "out of memory");
  for (int i = 0; i < c->nops; i++)
    prot_before[i + 1] = prot_before[i] || c->ops[i].kind == BPS_OP_PROT;
  /* backward */
  for (int k = sg->nseg - 1; k >= 0; k--) {
    int b = sg->begin[k], e = sg->end[k];
    if (!prot_before[e]) break; /* no parameters in ops [0, e): nothing left to do */
    int noisy = 0;
    for (int i = b; i < e; i++) noisy |= !is_invertible(&c->ops[i]) && (e - b > 1);
    if (noisy) { /* recompute the segment once, keeping the states before its channels */
      BPS_CALL_GOTO(bps_state_copy(*rho, sg->ck[k]));
      for (int i = b; i < e; i++) {
        const bps_op *op = &c->ops[i];
        if (!is_invertible(op)) {
          BPS_CALL_GOTO(bps_state_create(in->repr, 0, &(*sub)[i]));
          BPS_CALL_GOTO(bps_state_copy((*sub)[i], *rho));
        }
        BPS_CALL_GOTO(apply_op(*rho, c, op, op_angle(op, theta, -1, i, 0), 0));
      }
    }
    for (int i = e - 1; i >= b; i--) {
      const bps_op *op = &c->ops[i];
      double ang = op_angle(op, theta, -1, i, 0);
      const int j0 = fused ? prot_run_start(c, b, i) : i; /* adjoint: always i */
      if (j0 < i) { /* fused: a run of rotations on the same qubits in one step */
        BPS_CALL_GOTO(prot_run_back(c, theta, j0, i, obs, sgn, *nobs, lambda ? *lam : NULL, *rho,
                                    grad, prot_before[j0]));
        i = j0;
        if (!prot_before[j0]) break;
        continue;
      }
      if (op->kind == BPS_OP_PROT) {
        double g = 0.0;
        if (lambda) {
          char full[BPS_MAX_QUBITS + 1];
          memset(full, 'I', (size_t)(*rho)->q);
          full[(*rho)->q] = 0;
          for (int t = 0; t < op->k; t++) full[op->qubits[t]] = op->pauli[t];
          bps_cplx z;
          BPS_CALL_GOTO(bps_pauli_inner(*lam, full, *rho, &z));
          g = 2.0 * op->scale * cimag(z);
        } else {
          BPS_CALL_GOTO(prot_gradient(op, obs, sgn, *nobs, *rho, &g));
        }
        grad[op->param] += g;
      }
      if (!prot_before[i]) break; /* nothing parameterised before op i */
      if (is_invertible(op)) {
        if (lambda) BPS_CALL_GOTO(apply_op(*lam, c, op, ang, 1));
        for (int o = 0; o < *nobs; o++) BPS_CALL_GOTO(apply_op(obs[o], c, op, ang, 1));
        BPS_CALL_GOTO(apply_op(*rho, c, op, ang, 1));
      } else {
        const bps_state *before = e - b == 1 ? sg->ck[k] : (*sub)[i];
        if (lambda) BPS_CALL_GOTO(lambda_back(*lam, c, op, before, *rho));
        for (int o = 0; o < *nobs; o++) BPS_CALL_GOTO(apply_op(obs[o], c, op, ang, 1));
        BPS_CALL_GOTO(bps_state_copy(*rho, before));
        if (e - b > 1) bps_state_destroy(&(*sub)[i]);
      }
    }
    /* restart the next (earlier) segment from its exact end state */
    if (k > 0) BPS_CALL_GOTO(bps_state_copy(*rho, sg->ck[k]));
  }
cleanup:
  free(prot_before);
  return rc;
}

/* The adjoint gradient (fused = 0) or the fused one (fused = 1: prot_run_back for every run
 * of rotations on the same qubits). */
static int grad_adjoint_impl(const bps_circuit *c, const bps_cost *cost, const double *theta,
                             const bps_state *in, double *value, double *grad, bps_state *out,
                             int fused) {
  BPS_CHECK(c && cost && in && value && grad, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(c->nparams == 0 || theta, BPS_ERR_ARG, "NULL parameters");
  BPS_CHECK(!c->ensemble, BPS_ERR_ARG, "an ensemble-only circuit cannot run on a state");
  BPS_CHECK(in->q == c->q_in && cost->q == c->q_out, BPS_ERR_ARG,
            "shapes: circuit %d -> %d qubits, input %d, cost %d", c->q_in, c->q_out, in->q,
            cost->q);
  int rc = BPS_OK;
  segments sg;
  bps_state *rho = NULL, *obs[2] = {NULL, NULL}, **sub = NULL, *lam = NULL;
  double sgn[2];
  int nobs = 0;
  /* adjoint_impl fills the work space; this function owns and releases it */
  BPS_CALL_GOTO(adjoint_impl(c, cost, theta, in, value, grad, &sg, &rho, obs, sgn, &nobs, &sub,
                             &lam, out, fused));
cleanup:
  bps_state_destroy(&lam);
  if (sub)
    for (int i = 0; i < c->nops; i++) bps_state_destroy(&sub[i]);
  free(sub);
  segments_free(&sg);
  bps_state_destroy(&rho);
  for (int o = 0; o < 2; o++) bps_state_destroy(&obs[o]);
  return rc;
}

int bps_grad_adjoint(const bps_circuit *c, const bps_cost *cost, const double *theta,
                     const bps_state *in, double *value, double *grad) {
  return bps_grad_adjoint_out(c, cost, theta, in, value, grad, NULL);
}

int bps_grad_adjoint_out(const bps_circuit *c, const bps_cost *cost, const double *theta,
                         const bps_state *in, double *value, double *grad, bps_state *out) {
  return grad_adjoint_impl(c, cost, theta, in, value, grad, out, 0);
}

int bps_grad_fused(const bps_circuit *c, const bps_cost *cost, const double *theta,
                   const bps_state *in, double *value, double *grad) {
  return grad_adjoint_impl(c, cost, theta, in, value, grad, NULL, 1);
}

int bps_grad_fused_out(const bps_circuit *c, const bps_cost *cost, const double *theta,
                       const bps_state *in, double *value, double *grad, bps_state *out) {
  return grad_adjoint_impl(c, cost, theta, in, value, grad, out, 1);
}

void bps_shift_rule(int R, double omega, double *x, double *c) {
  for (int mu = 1; mu <= R; mu++) {
    double a = (2.0 * mu - 1.0) * M_PI;
    double sn = sin(a / (4.0 * R));
    x[mu - 1] = a / (2.0 * R * omega);
    c[mu - 1] = omega * ((mu - 1) % 2 ? -1.0 : 1.0) / (4.0 * R * sn * sn);
  }
}

static int eval_at(const bps_circuit *c, const bps_cost *cost, const double *theta,
                   const bps_state *in, bps_state *s, int shift_op, double delta, double *v) {
  BPS_CALL(bps_state_copy(s, in));
  BPS_CALL(run_range(c, theta, s, 0, c->nops, shift_op, delta));
  BPS_CALL(bps_cost_eval(cost, s, v));
  return BPS_OK;
}

int bps_grad_shift(const bps_circuit *c, const bps_cost *cost, const double *theta,
                   const bps_state *in, double *value, double *grad) {
  return bps_grad_shift_out(c, cost, theta, in, value, grad, NULL);
}

int bps_grad_shift_out(const bps_circuit *c, const bps_cost *cost, const double *theta,
                       const bps_state *in, double *value, double *grad, bps_state *out) {
  BPS_CHECK(c && cost && in && value && grad, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(!c->ensemble, BPS_ERR_ARG, "an ensemble-only circuit cannot run on a state");
  BPS_CHECK(in->q == c->q_in && cost->q == c->q_out, BPS_ERR_ARG, "shape mismatch");
  int rc = BPS_OK;
  int P = c->nparams;
  int *count = calloc((size_t)(P ? P : 1), sizeof(int)),
      *equal = calloc((size_t)(P ? P : 1), sizeof(int));
  double *scale = calloc((size_t)(P ? P : 1), sizeof(double)),
         *th = malloc(sizeof(double) * (size_t)(P ? P : 1));
  double *x = NULL, *cf = NULL; /* the shift rule of one shared parameter */
  bps_state *s = NULL;
  BPS_CHECK_GOTO(count && equal && scale && th, BPS_ERR_MEM, "out of memory (%d parameters)", P);
  for (int i = 0; i < c->nops; i++) {
    const bps_op *op = &c->ops[i];
    if (op->kind != BPS_OP_PROT) continue;
    int p = op->param;
    if (count[p]++ == 0) {
      scale[p] = fabs(op->scale);
      equal[p] = 1;
    } else if (fabs(op->scale) != scale[p]) {
      equal[p] = 0;
    }
  }
  BPS_CALL_GOTO(bps_state_create(in->repr, 0, &s));
  BPS_CALL_GOTO(eval_at(c, cost, theta, in, s, -1, 0.0, value));
  if (out) BPS_CALL_GOTO(bps_state_copy(out, s));
  for (int p = 0; p < P; p++) grad[p] = 0.0;
  memcpy(th, theta, sizeof(double) * (size_t)P);
  /* shared parameters with equidistant frequencies: the general rule on the parameter */
  for (int p = 0; p < P; p++) {
    if (count[p] < 2 || !equal[p]) continue;
    int R = count[p];
    x = malloc(sizeof(double) * (size_t)R);
    cf = malloc(sizeof(double) * (size_t)R);
    BPS_CHECK_GOTO(x && cf, BPS_ERR_MEM, "out of memory (shift rule of %d terms)", R);
    bps_shift_rule(R, 2.0 * scale[p], x, cf);
    for (int mu = 0; mu < R; mu++) {
      double cp = 0, cm = 0;
      th[p] = theta[p] + x[mu];
      BPS_CALL_GOTO(eval_at(c, cost, th, in, s, -1, 0.0, &cp));
      th[p] = theta[p] - x[mu];
      BPS_CALL_GOTO(eval_at(c, cost, th, in, s, -1, 0.0, &cm));
      grad[p] += cf[mu] * (cp - cm);
    }
    th[p] = theta[p];
    free(x);
    free(cf);
    x = cf = NULL;
  }
  /* everything else: two-term rule per occurrence */
  for (int i = 0; i < c->nops; i++) {
    const bps_op *op = &c->ops[i];
    if (op->kind != BPS_OP_PROT || (count[op->param] >= 2 && equal[op->param])) continue;
    double r = fabs(op->scale), shift = M_PI / (4.0 * r), cp = 0, cm = 0;
    BPS_CALL_GOTO(eval_at(c, cost, theta, in, s, i, shift, &cp));
    BPS_CALL_GOTO(eval_at(c, cost, theta, in, s, i, -shift, &cm));
    grad[op->param] += r * (cp - cm);
  }
cleanup:
  bps_state_destroy(&s);
  free(count);
  free(equal);
  free(scale);
  free(th);
  free(x);
  free(cf);
  return rc;
}

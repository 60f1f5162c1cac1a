/* state: life cycle, conversion and argument checking for bps_state; the kernels are in
 * dense.c and factored.c, diagnostics in diag.c. */
#include "bpscan/state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpscan/error.h"
#include "bpscan/linalg.h"
#include "kernels.h"

const char *bps_repr_name(bps_repr r) { return r == BPS_DENSE ? "dense" : "factored"; }

static size_t elems(bps_repr repr, int q, bps_idx rank) {
  size_t dim = (size_t)1 << q;
  return repr == BPS_DENSE ? dim * dim : dim * (size_t)rank;
}

double bps_state_bytes(bps_repr repr, int q, bps_idx rank) {
  double dim = ldexp(1.0, q);
  return 16.0 * dim * (repr == BPS_DENSE ? dim : (double)rank);
}

/* More than this host's physical memory: too big (exit 5), not an allocation failure. */
static int fits_host(size_t n, const char *what) {
  const double bytes = 16.0 * (double)n;
  const double host = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
  BPS_CHECK(host <= 0 || bytes <= host, BPS_ERR_TOO_BIG,
            "%s of %.3g GiB is more than this host's %.3g GiB of memory", what,
            bytes / 1073741824.0, host / 1073741824.0);
  return BPS_OK;
}

int bps_state_reserve(bps_state *s, size_t n) {
  if (n <= s->cap) return BPS_OK;
  BPS_CALL(fits_host(n, "a state"));
  bps_cplx *p = bps_alloc(n);
  BPS_CHECK(p, BPS_ERR_MEM, "cannot allocate %.3g GiB for a state",
            (double)n * 16.0 / 1073741824.0);
  if (s->a && s->cap) memcpy(p, s->a, s->cap * sizeof(bps_cplx));
  bps_free(s->a);
  s->a = p;
  s->cap = n;
  return BPS_OK;
}

int bps_state_reserve_work(bps_state *s, size_t n) {
  if (n <= s->wcap) return BPS_OK;
  BPS_CALL(fits_host(n, "a state's scratch"));
  bps_free(s->work);
  s->work = bps_alloc(n);
  s->wcap = s->work ? n : 0;
  BPS_CHECK(s->work, BPS_ERR_MEM, "cannot allocate %.3g GiB of scratch",
            (double)n * 16.0 / 1073741824.0);
  return BPS_OK;
}

void bps_state_swap_work(bps_state *s) {
  bps_cplx *p = s->a;
  size_t c = s->cap;
  s->a = s->work;
  s->cap = s->wcap;
  s->work = p;
  s->wcap = c;
}

static int check_q(int q) {
  BPS_CHECK(q >= 0 && q <= BPS_MAX_QUBITS, BPS_ERR_ARG, "qubit count %d outside [0, %d]", q,
            BPS_MAX_QUBITS);
  return BPS_OK;
}

/* Reshape s to q qubits and the given rank, zero-filled. */
static int reshape_zero(bps_state *s, int q, bps_idx rank) {
  BPS_CALL(check_q(q));
  size_t n = elems(s->repr, q, rank);
  BPS_CALL(bps_state_reserve(s, n));
  s->q = q;
  s->dim = (bps_idx)1 << q;
  s->rank = s->repr == BPS_DENSE ? s->dim : rank;
  memset(s->a, 0, n * sizeof(bps_cplx));
  return BPS_OK;
}

int bps_state_create(bps_repr repr, int q, bps_state **out) {
  BPS_CHECK(out, BPS_ERR_ARG, "NULL output");
  BPS_CHECK(repr == BPS_DENSE || repr == BPS_FACTORED, BPS_ERR_ARG, "unknown representation");
  bps_state *s = calloc(1, sizeof *s);
  BPS_CHECK(s, BPS_ERR_MEM, "out of memory");
  int rc = BPS_OK;
  s->repr = repr;
  rc = bps_state_set_zero(s, q);
  BPS_CHECK_GOTO(!rc, rc, "creating a %d-qubit state", q);
  *out = s;
  s = NULL;
cleanup:
  bps_state_destroy(&s);
  return rc;
}

int bps_state_destroy(bps_state **s) {
  if (!s || !*s) return BPS_OK;
  bps_free((*s)->a);
  bps_free((*s)->work);
  free(*s);
  *s = NULL;
  return BPS_OK;
}

int bps_state_copy(bps_state *dst, const bps_state *src) {
  BPS_CHECK(dst && src, BPS_ERR_ARG, "NULL state");
  if (dst == src) return BPS_OK;
  size_t n = elems(src->repr, src->q, src->rank);
  BPS_CALL(bps_state_reserve(dst, n));
  dst->repr = src->repr;
  dst->q = src->q;
  dst->dim = src->dim;
  dst->rank = src->rank;
  memcpy(dst->a, src->a, n * sizeof(bps_cplx));
  return BPS_OK;
}

int bps_state_set_zero(bps_state *s, int q) {
  BPS_CHECK(s, BPS_ERR_ARG, "NULL state");
  BPS_CALL(reshape_zero(s, q, 1));
  s->a[0] = 1.0;
  return BPS_OK;
}

int bps_state_set_pure(bps_state *s, int q, const bps_cplx *psi) {
  BPS_CHECK(s && psi, BPS_ERR_ARG, "NULL argument");
  BPS_CALL(reshape_zero(s, q, 1));
  bps_idx d = s->dim;
  if (s->repr == BPS_FACTORED) {
    memcpy(s->a, psi, (size_t)d * sizeof(bps_cplx));
  } else {
#pragma omp parallel for schedule(static) if (d >= 256)
    for (bps_idx i = 0; i < d; i++)
      for (bps_idx j = 0; j < d; j++) s->a[i * d + j] = psi[i] * conj(psi[j]);
  }
  return BPS_OK;
}

int bps_state_set_factor(bps_state *s, int q, bps_idx r, const bps_cplx *A) {
  BPS_CHECK(s && A, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(r >= 1, BPS_ERR_ARG, "rank %lld < 1", (long long)r);
  BPS_CALL(reshape_zero(s, q, r));
  bps_idx d = s->dim;
  if (s->repr == BPS_FACTORED) {
    memcpy(s->a, A, (size_t)d * (size_t)r * sizeof(bps_cplx));
  } else {
    /* rho = A A^dag; herk gives column-major C, and C^T = conj(C) is rho row-major. */
    bps_lin_herk(d, r, A, d, s->a, d);
    for (bps_idx i = 0; i < d * d; i++) s->a[i] = conj(s->a[i]);
  }
  return BPS_OK;
}

int bps_state_set_dense(bps_state *s, int q, const bps_cplx *rho) {
  BPS_CHECK(s && rho, BPS_ERR_ARG, "NULL argument");
  BPS_CALL(check_q(q));
  bps_idx d = (bps_idx)1 << q;
  if (s->repr == BPS_DENSE) {
    BPS_CALL(reshape_zero(s, q, d));
    memcpy(s->a, rho, (size_t)(d * d) * sizeof(bps_cplx));
    return BPS_OK;
  }
  /* FACTORED: rho = V diag(w) V^dag, A = V sqrt(w) over the non-negligible eigenvalues. */
  int rc = BPS_OK;
  bps_cplx *v = bps_alloc((size_t)(d * d));
  double *w = malloc((size_t)d * sizeof(double));
  BPS_CHECK_GOTO(v && w, BPS_ERR_MEM, "out of memory");
  /* row-major rho read column-major is conj(rho) = rho^T: transpose back by conjugating */
  for (bps_idx i = 0; i < d * d; i++) v[i] = conj(rho[i]);
  BPS_CALL_GOTO(bps_lin_eigh((int)d, v, (int)d, w, 1));
  double wmax = 0.0;
  for (bps_idx i = 0; i < d; i++) wmax = fmax(wmax, fabs(w[i]));
  double tol = 1e-14 * wmax;
  bps_idx r = 0;
  for (bps_idx i = 0; i < d; i++)
    BPS_CHECK_GOTO(!(w[i] < -1e-10 * (wmax > 0 ? wmax : 1)), BPS_ERR_NUMERIC,
                   "matrix is not positive semidefinite (eigenvalue %g)", w[i]);
  for (bps_idx i = 0; i < d; i++) r += w[i] > tol;
  if (r == 0) r = 1;
  BPS_CALL_GOTO(reshape_zero(s, q, r));
  bps_idx c = 0;
  for (bps_idx i = d - 1; i >= 0 && c < r; i--) {
    if (w[i] <= tol && !(c == 0 && i == 0)) continue;
    double sw = sqrt(fmax(w[i], 0.0));
    for (bps_idx row = 0; row < d; row++) s->a[row + d * c] = v[row + d * i] * sw;
    c++;
  }
cleanup:
  bps_free(v);
  free(w);
  return rc;
}

int bps_state_to_dense(const bps_state *s, bps_cplx *rho) {
  BPS_CHECK(s && rho, BPS_ERR_ARG, "NULL argument");
  bps_idx d = s->dim;
  if (s->repr == BPS_DENSE) {
    memcpy(rho, s->a, (size_t)(d * d) * sizeof(bps_cplx));
  } else {
    bps_lin_herk(d, s->rank, s->a, d, rho, d);
    for (bps_idx i = 0; i < d * d; i++) rho[i] = conj(rho[i]);
  }
  return BPS_OK;
}

int bps_state_convert(bps_state *s, bps_repr repr) {
  BPS_CHECK(s, BPS_ERR_ARG, "NULL state");
  if (s->repr == repr) return BPS_OK;
  bps_idx d = s->dim;
  int rc = BPS_OK;
  bps_cplx *rho = bps_alloc((size_t)(d * d));
  BPS_CHECK_GOTO(rho, BPS_ERR_MEM, "out of memory converting a %d-qubit state", s->q);
  BPS_CALL_GOTO(bps_state_to_dense(s, rho));
  s->repr = repr;
  BPS_CALL_GOTO(bps_state_set_dense(s, s->q, rho));
cleanup:
  bps_free(rho);
  return rc;
}

static int check_qubits(const bps_state *s, int k, const int *qubits) {
  BPS_CHECK(k >= 0 && k <= s->q, BPS_ERR_ARG, "%d target qubits on a %d-qubit state", k, s->q);
  BPS_CHECK(k == 0 || qubits, BPS_ERR_ARG, "NULL qubit list");
  for (int i = 0; i < k; i++) {
    BPS_CHECK(qubits[i] >= 0 && qubits[i] < s->q, BPS_ERR_ARG, "qubit %d out of range [0, %d)",
              qubits[i], s->q);
    for (int j = 0; j < i; j++)
      BPS_CHECK(qubits[i] != qubits[j], BPS_ERR_ARG, "qubit %d listed twice", qubits[i]);
  }
  return BPS_OK;
}

int bps_apply_unitary(bps_state *s, int k, const int *qubits, const bps_cplx *U) {
  BPS_CHECK(s && U, BPS_ERR_ARG, "NULL argument");
  BPS_CALL(check_qubits(s, k, qubits));
  if (k == 0) return BPS_OK;
  if (s->repr == BPS_DENSE) BPS_CALL(bps_dense_apply(s, k, qubits, U));
  else BPS_CALL(bps_fact_apply(s, k, qubits, U));
  return BPS_OK;
}

int bps_apply_kraus(bps_state *s, int k, const int *qubits, int nkraus, const bps_cplx *K) {
  BPS_CHECK(s && K, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(nkraus >= 1, BPS_ERR_ARG, "channel with %d Kraus operators", nkraus);
  BPS_CALL(check_qubits(s, k, qubits));
  BPS_CHECK(k >= 1, BPS_ERR_ARG, "Kraus channel on no qubits");
  if (s->repr == BPS_DENSE) BPS_CALL(bps_dense_kraus(s, k, qubits, nkraus, K));
  else BPS_CALL(bps_fact_kraus(s, k, qubits, nkraus, K));
  return BPS_OK;
}

int bps_append_zero(bps_state *s, int a) {
  BPS_CHECK(s, BPS_ERR_ARG, "NULL state");
  BPS_CHECK(a >= 0 && s->q + a <= BPS_MAX_QUBITS, BPS_ERR_ARG,
            "appending %d qubits to %d exceeds %d", a, s->q, BPS_MAX_QUBITS);
  if (a == 0) return BPS_OK;
  if (s->repr == BPS_DENSE) BPS_CALL(bps_dense_append_zero(s, a));
  else BPS_CALL(bps_fact_append_zero(s, a));
  return BPS_OK;
}

int bps_partial_trace(bps_state *s, int ntraced, const int *traced) {
  BPS_CHECK(s, BPS_ERR_ARG, "NULL state");
  BPS_CALL(check_qubits(s, ntraced, traced));
  if (ntraced == 0) return BPS_OK;
  if (s->repr == BPS_DENSE) BPS_CALL(bps_dense_partial_trace(s, ntraced, traced));
  else BPS_CALL(bps_fact_partial_trace(s, ntraced, traced));
  return BPS_OK;
}

int bps_compress(bps_state *s) {
  BPS_CHECK(s, BPS_ERR_ARG, "NULL state");
  if (s->repr == BPS_FACTORED) BPS_CALL(bps_fact_compress(s));
  return BPS_OK;
}

int bps_expect_pauli(const bps_state *s, const char *pauli, double *out) {
  BPS_CHECK(s && pauli && out, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK((int)strlen(pauli) == s->q, BPS_ERR_ARG,
            "Pauli string \"%s\" has %zu letters, state has %d qubits", pauli, strlen(pauli),
            s->q);
  for (int i = 0; i < s->q; i++)
    BPS_CHECK(strchr("IXYZ", pauli[i]) && pauli[i], BPS_ERR_ARG, "bad Pauli letter '%c'",
              pauli[i]);
  if (s->repr == BPS_DENSE) BPS_CALL(bps_dense_expect_pauli(s, pauli, out));
  else BPS_CALL(bps_fact_expect_pauli(s, pauli, out));
  return BPS_OK;
}

int bps_expect_projector(const bps_state *s, int k, const int *qubits, const bps_cplx *psi,
                         double *out) {
  BPS_CHECK(s && psi && out, BPS_ERR_ARG, "NULL argument");
  BPS_CALL(check_qubits(s, k, qubits));
  if (s->repr == BPS_DENSE) BPS_CALL(bps_dense_expect_projector(s, k, qubits, psi, out));
  else BPS_CALL(bps_fact_expect_projector(s, k, qubits, psi, out));
  return BPS_OK;
}

int bps_fidelity_pure(const bps_state *s, const bps_cplx *psi, double *out) {
  BPS_CHECK(s, BPS_ERR_ARG, "NULL state");
  int all[BPS_MAX_QUBITS];
  for (int i = 0; i < s->q; i++) all[i] = i;
  BPS_CALL(bps_expect_projector(s, s->q, all, psi, out));
  return BPS_OK;
}

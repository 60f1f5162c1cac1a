/* diag: trace, purity, spectra, entropies, trace distances, reduced states, the
 * invariant check and the Haar (Page) predictions of purity and entropy (state.h).
 * Works on both representations:
 *   - DENSE spectra come from zheevd on a copy (a row-major Hermitian matrix read
 *     column-major is its conjugate: same eigenvalues);
 *   - FACTORED spectra are the squared singular values of A, padded with zeros, and the
 *     purity is ||G||_F^2 of the smaller Gram matrix (A^dag A or A A^dag) from herk.
 * Sums over state entries use the fixed BPS_RED_CHUNKS chunking (kernels.h) and BLAS/
 * LAPACK run on one thread (linalg.c), so results do not depend on the thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/linalg.h"
#include "bpscan/state.h"
#include "kernels.h"

#define EIG_FLOOR 1e-15 /* eigenvalues at or below this are ignored by the entropy */


static bps_idx chunk_lo(bps_idx n, int ch) {
  return (n / BPS_RED_CHUNKS) * ch + ((n % BPS_RED_CHUNKS) * ch) / BPS_RED_CHUNKS;
}

/* Chunk ch of sum_i |a_i|^2. */
static inline __attribute__((always_inline)) double abs2_chunk(const double *ad, bps_idx n,
                                                               int ch) {
  const bps_idx i1 = 2 * chunk_lo(n, ch + 1);
  double acc = 0.0;
  for (bps_idx i = 2 * chunk_lo(n, ch); i < i1; i++) acc += ad[i] * ad[i];
  return acc;
}

/* sum_i |a_i|^2 with the fixed chunking. */
static double sum_abs2(const bps_cplx *a, bps_idx n) {
  const double *ad = (const double *)a;
  double part[BPS_RED_CHUNKS];
  BPS_PAR_FOR(bps_par_ok(n), int, ch, BPS_RED_CHUNKS, part[ch] = abs2_chunk(ad, n, ch));
  double s = 0.0;
  for (int ch = 0; ch < BPS_RED_CHUNKS; ch++) s += part[ch];
  return s;
}

/* Slack behind the buffers passed to bps_lin_eigh/bps_lin_svd. Not what protects LAPACK:
 * OpenBLAS 0.3.21's zgemv_n kernel (inside zheevd/zgesdd) reads past the end of the matrix
 * it is given (OpenBLAS issue #4013; near the top of the heap a segfault, seen in t301), and
 * linalg.c therefore hands LAPACK only its own padded copies, never these buffers. This
 * slack is redundant. */
#define LAPACK_PAD(ld) (4 * (size_t)(ld) + 1024)

static int check_state(const bps_state *s) {
  BPS_CHECK(s && s->a, BPS_ERR_ARG, "NULL state");
  BPS_CHECK(s->repr == BPS_DENSE || s->repr == BPS_FACTORED, BPS_ERR_ARG,
            "unknown representation %d", (int)s->repr);
  return BPS_OK;
}

int bps_trace(const bps_state *s, double *out) {
  BPS_CALL(check_state(s));
  BPS_CHECK(out, BPS_ERR_ARG, "NULL output");
  const bps_idx d = s->dim;
  if (s->repr == BPS_DENSE) {
    double t = 0.0;
    for (bps_idx i = 0; i < d; i++) t += creal(s->a[i * d + i]);
    *out = t;
  } else {
    *out = sum_abs2(s->a, d * s->rank);
  }
  return BPS_OK;
}

int bps_purity(const bps_state *s, double *out) {
  BPS_CALL(check_state(s));
  BPS_CHECK(out, BPS_ERR_ARG, "NULL output");
  const bps_idx d = s->dim, r = s->rank;
  if (s->repr == BPS_DENSE) {
    *out = sum_abs2(s->a, d * d);
    return BPS_OK;
  }
  if (r == 1) {
    double t = sum_abs2(s->a, d);
    *out = t * t;
    return BPS_OK;
  }
  /* Tr (A A^dag)^2 = ||A^dag A||_F^2 = ||A A^dag||_F^2: use the smaller Gram matrix */
  int rc = BPS_OK;
  const bps_idx m = r < d ? r : d;
  bps_cplx *g = bps_alloc((size_t)(m * m));
  bps_cplx *t = r < d ? bps_alloc((size_t)(d * r)) : NULL;
  BPS_CHECK_GOTO(g && (r >= d || t), BPS_ERR_MEM, "out of memory (Gram matrix %lld x %lld)",
                 (long long)m, (long long)m);
  if (r < d) {
    /* T = A^T (r x d): T T^dag = conj(A^dag A), same Frobenius norm */
    for (bps_idx c = 0; c < r; c++)
      for (bps_idx i = 0; i < d; i++) t[c + r * i] = s->a[i + d * c];
    bps_lin_herk(r, d, t, r, g, r);
  } else {
    bps_lin_herk(d, r, s->a, d, g, d);
  }
  *out = sum_abs2(g, m * m);
cleanup:
  bps_free(g);
  bps_free(t);
  return rc;
}

int bps_eigenvalues(const bps_state *s, double *w) {
  BPS_CALL(check_state(s));
  BPS_CHECK(w, BPS_ERR_ARG, "NULL output");
  const bps_idx d = s->dim, r = s->rank;
  BPS_CHECK(d <= 2147483647 && r <= 2147483647, BPS_ERR_TOO_BIG, "state too large for LAPACK");
  int rc = BPS_OK;
  bps_cplx *c = NULL;
  double *sv = NULL;
  if (s->repr == BPS_DENSE) {
    c = bps_alloc((size_t)(d * d) + LAPACK_PAD(d));
    BPS_CHECK_GOTO(c, BPS_ERR_MEM, "out of memory (copy of a %d-qubit density matrix)", s->q);
    memcpy(c, s->a, (size_t)(d * d) * sizeof(bps_cplx));
    BPS_CALL_GOTO(bps_lin_eigh((int)d, c, (int)d, w, 0));
  } else {
    const bps_idx kmin = d < r ? d : r;
    c = bps_alloc((size_t)(d * r) + LAPACK_PAD(d));
    sv = malloc((size_t)kmin * sizeof(double));
    BPS_CHECK_GOTO(c && sv, BPS_ERR_MEM, "out of memory (SVD of a %d-qubit factor)", s->q);
    memcpy(c, s->a, (size_t)(d * r) * sizeof(bps_cplx));
    BPS_CALL_GOTO(bps_lin_svd((int)d, (int)r, c, (int)d, sv, NULL));
    for (bps_idx i = 0; i < d - kmin; i++) w[i] = 0.0;
    for (bps_idx j = 0; j < kmin; j++) w[d - kmin + j] = sv[kmin - 1 - j] * sv[kmin - 1 - j];
  }
cleanup:
  bps_free(c);
  free(sv);
  return rc;
}

/* Eigenvalues into a fresh buffer. */
static int spectrum(const bps_state *s, double **w) {
  int rc = BPS_OK;
  double *v = malloc((size_t)s->dim * sizeof(double));
  BPS_CHECK_GOTO(v, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(bps_eigenvalues(s, v));
  *w = v;
  v = NULL;
cleanup:
  free(v);
  return rc;
}

/* -sum w ln w over w > EIG_FLOOR, and 1/2 sum |w - 1/d|. */
static double spectrum_entropy(const double *w, bps_idx d) {
  double e = 0.0;
  for (bps_idx i = 0; i < d; i++)
    if (w[i] > EIG_FLOOR) e -= w[i] * log(w[i]);
  return e;
}

static double spectrum_distance(const double *w, bps_idx d) {
  const double u = 1.0 / (double)d;
  double t = 0.0;
  for (bps_idx i = 0; i < d; i++) t += fabs(w[i] - u);
  return 0.5 * t;
}

int bps_entropy_vn(const bps_state *s, double *out) {
  BPS_CALL(check_state(s));
  BPS_CHECK(out, BPS_ERR_ARG, "NULL output");
  double *w = NULL;
  BPS_CALL(spectrum(s, &w));
  *out = spectrum_entropy(w, s->dim);
  free(w);
  return BPS_OK;
}

int bps_entropy_renyi2(const bps_state *s, double *out) {
  BPS_CHECK(out, BPS_ERR_ARG, "NULL output");
  double p = 0.0;
  BPS_CALL(bps_purity(s, &p));
  BPS_CHECK(p > 0.0, BPS_ERR_NUMERIC, "purity %g is not positive: Renyi-2 entropy undefined", p);
  *out = -log(p);
  return BPS_OK;
}

int bps_trace_distance_mixed(const bps_state *s, double *out) {
  BPS_CALL(check_state(s));
  BPS_CHECK(out, BPS_ERR_ARG, "NULL output");
  double *w = NULL;
  BPS_CALL(spectrum(s, &w));
  *out = spectrum_distance(w, s->dim);
  free(w);
  return BPS_OK;
}

int bps_state_diagnostics(const bps_state *s, double out[4]) {
  BPS_CALL(check_state(s));
  BPS_CHECK(out, BPS_ERR_ARG, "NULL output");
  double p = 0.0, *w = NULL;
  BPS_CALL(bps_purity(s, &p));
  BPS_CHECK(p > 0.0, BPS_ERR_NUMERIC, "purity %g is not positive: Renyi-2 entropy undefined", p);
  BPS_CALL(spectrum(s, &w));
  out[0] = p;
  out[1] = spectrum_entropy(w, s->dim);
  out[2] = -log(p);
  out[3] = spectrum_distance(w, s->dim);
  free(w);
  return BPS_OK;
}

int bps_trace_distance(const bps_state *a, const bps_state *b, double *out) {
  BPS_CALL(check_state(a));
  BPS_CALL(check_state(b));
  BPS_CHECK(out, BPS_ERR_ARG, "NULL output");
  BPS_CHECK(a->q == b->q, BPS_ERR_ARG, "trace distance between %d- and %d-qubit states", a->q,
            b->q);
  const bps_idx d = a->dim;
  BPS_CHECK(d <= 2147483647, BPS_ERR_TOO_BIG, "state too large for LAPACK");
  int rc = BPS_OK;
  bps_cplx *ra = bps_alloc((size_t)(d * d) + LAPACK_PAD(d)), *rb = bps_alloc((size_t)(d * d));
  double *w = malloc((size_t)d * sizeof(double));
  BPS_CHECK_GOTO(ra && rb && w, BPS_ERR_MEM, "out of memory (two %d-qubit density matrices)",
                 a->q);
  BPS_CALL_GOTO(bps_state_to_dense(a, ra));
  BPS_CALL_GOTO(bps_state_to_dense(b, rb));
  for (bps_idx i = 0; i < d * d; i++) ra[i] -= rb[i];
  BPS_CALL_GOTO(bps_lin_eigh((int)d, ra, (int)d, w, 0));
  double t = 0.0;
  for (bps_idx i = 0; i < d; i++) t += fabs(w[i]);
  *out = 0.5 * t;
cleanup:
  bps_free(ra);
  bps_free(rb);
  free(w);
  return rc;
}

int bps_reduced_state(const bps_state *s, int nkeep, const int *keep, bps_state *out) {
  BPS_CALL(check_state(s));
  BPS_CHECK(out, BPS_ERR_ARG, "NULL output state");
  BPS_CHECK(nkeep >= 0 && nkeep <= s->q, BPS_ERR_ARG, "keeping %d qubits of %d", nkeep, s->q);
  BPS_CHECK(nkeep == 0 || keep, BPS_ERR_ARG, "NULL qubit list");
  const int q = s->q;
  int kept[BPS_MAX_QUBITS] = {0};
  for (int m = 0; m < nkeep; m++) {
    BPS_CHECK(keep[m] >= 0 && keep[m] < q, BPS_ERR_ARG, "qubit %d out of range [0, %d)", keep[m],
              q);
    BPS_CHECK(!kept[keep[m]], BPS_ERR_ARG, "qubit %d listed twice", keep[m]);
    kept[keep[m]] = 1;
  }
  int traced[BPS_MAX_QUBITS], ntr = 0;
  for (int t = 0; t < q; t++)
    if (!kept[t]) traced[ntr++] = t;
  int kk[BPS_MAX_QUBITS]; /* the requested order (copied before out is touched) */
  memcpy(kk, keep, (size_t)nkeep * sizeof(int));
  BPS_CALL(bps_state_copy(out, s));
  BPS_CALL(bps_partial_trace(out, ntr, traced));
  /* The kept qubits are now in ascending original order; at[p] = original qubit at
   * position p. Bring keep[m] to position m with SWAPs. */
  int at[BPS_MAX_QUBITS], np = 0;
  for (int t = 0; t < q; t++)
    if (kept[t]) at[np++] = t;
  static const bps_cplx SWAP[16] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1};
  for (int m = 0; m < nkeep; m++) {
    if (at[m] == kk[m]) continue;
    int p = m + 1;
    while (at[p] != kk[m]) p++;
    int qs[2] = {m, p};
    BPS_CALL(bps_apply_unitary(out, 2, qs, SWAP));
    at[p] = at[m];
    at[m] = kk[m];
  }
  return BPS_OK;
}

int bps_state_check(const bps_state *s, double tol) {
  BPS_CALL(check_state(s));
  BPS_CHECK(tol >= 0.0, BPS_ERR_ARG, "negative tolerance %g", tol);
  double tr = 0.0;
  BPS_CALL(bps_trace(s, &tr));
  BPS_CHECK(isfinite(tr) && fabs(tr - 1.0) <= tol, BPS_ERR_NUMERIC,
            "trace invariant broken: Tr rho = %.17g, |Tr rho - 1| = %.3g > tol %.3g", tr,
            fabs(tr - 1.0), tol);
  if (s->repr == BPS_FACTORED) return BPS_OK; /* A A^dag: Hermitian and >= 0 by form */
  const bps_idx d = s->dim;
  const bps_cplx *rho = s->a;
  double hmax = 0.0;
  bps_idx hi = 0, hj = 0;
  for (bps_idx i = 0; i < d && !isnan(hmax); i++)
    for (bps_idx j = i; j < d; j++) {
      double e = cabs(rho[i * d + j] - conj(rho[j * d + i]));
      if (!(e <= hmax)) { /* NaN included: then stop with it */
        hmax = e;
        hi = i;
        hj = j;
        if (isnan(e)) break;
      }
    }
  BPS_CHECK(hmax <= tol, BPS_ERR_NUMERIC,
            "Hermiticity broken: |rho_ij - conj(rho_ji)| = %.3g > tol %.3g at (i,j) = "
            "(%lld,%lld)",
            hmax, tol, (long long)hi, (long long)hj);
  double *w = NULL;
  BPS_CALL(spectrum(s, &w));
  double wmin = w[0];
  free(w);
  BPS_CHECK(wmin >= -tol, BPS_ERR_NUMERIC,
            "positivity broken: smallest eigenvalue %.3g < -tol = %.3g", wmin, -tol);
  return BPS_OK;
}

double bps_page_purity(double da, double db) { return (da + db) / (da * db + 1); }

double bps_page_entropy(double da, double db) {
  if (da > db) {
    double t = da;
    da = db;
    db = t;
  }
  double s = 0;
  for (double k = db + 1; k <= da * db; k += 1) s += 1.0 / k;
  return s - (da - 1) / (2 * db);
}

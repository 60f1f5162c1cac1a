/* linalg: thin wrappers over LAPACKE/CBLAS (OpenBLAS); the only file that includes them. */
#include "bpscan/linalg.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/threads.h"

/* OpenBLAS always runs single-threaded: threaded OpenBLAS gives results that depend on
 * the thread count (measured here for zgemm, zherk, zgesdd and zheevd), and bpscan's
 * results must not. Parallelism comes from our own OpenMP loops around these calls.
 *
 * The OpenMP build of OpenBLAS re-configures itself (goto_set_num_threads, which also
 * re-allocates its thread buffers, and is NOT thread-safe) whenever the OpenMP thread
 * count it sees differs from its own: bps_threads_max() outside a parallel region, 1
 * inside. So: pin it to one thread once at load time (single-threaded), set the OpenMP
 * count to 1 around calls made outside parallel regions (restoring the caller's count
 * afterwards), and never touch it inside a parallel region, where it already agrees. */
extern void openblas_set_num_threads(int);
__attribute__((constructor)) static void pin_openblas(void) {
  int nt = bps_threads_max();
  openblas_set_num_threads(1); /* the OpenMP build sets the OpenMP count to 1 as well: */
  bps_threads_set(nt);         /* keep the user's (OMP_NUM_THREADS) for our own loops */
}
static int lapack_threads(void) {
  if (bps_threads_in_parallel()) return 0;
  int nt = bps_threads_max();
  openblas_set_num_threads(1);
  return nt;
}
static void lapack_restore(int nt) {
  if (nt > 0) bps_threads_set(nt);
}

bps_cplx *bps_alloc(size_t n) {
  if (n == 0) n = 1;
  size_t bytes = n * sizeof(bps_cplx);
  bytes = (bytes + BPS_ALIGN - 1) / BPS_ALIGN * BPS_ALIGN;
  return aligned_alloc(BPS_ALIGN, bytes);
}

void bps_free(void *p) { free(p); }

/* OpenBLAS 0.3.21's zgemv_n kernel (used inside zheevd, zgesdd, zgesvd, zungqr) reads past
 * the end of the matrices it is given (OpenBLAS issue #4013, fixed upstream later); at the
 * top of the heap that is a segfault. LAPACK therefore only ever sees our own copies with
 * slack behind them (padded(ld, cols) elements), whatever buffers the callers pass: they
 * need no slack of their own. */
static size_t padded(int ld, int cols) {
  return (size_t)ld * (size_t)cols + 4 * (size_t)ld + 1024;
}

int bps_lin_eigh(int n, bps_cplx *A, int lda, double *w, int want_vectors) {
  BPS_CHECK(n >= 0 && lda >= (n > 0 ? n : 1), BPS_ERR_ARG, "bad eigh shape n=%d lda=%d", n, lda);
  if (n == 0) return BPS_OK;
  size_t na = (size_t)lda * (size_t)n;
  bps_cplx *a = bps_alloc(padded(lda, n));
  BPS_CHECK(a, BPS_ERR_MEM, "out of memory (eigh %d)", n);
  memcpy(a, A, na * sizeof(bps_cplx));
  int nt = lapack_threads();
  lapack_int info = LAPACKE_zheevd(LAPACK_COL_MAJOR, want_vectors ? 'V' : 'N', 'U', n,
                                   (lapack_complex_double *)a, lda, w);
  lapack_restore(nt);
  memcpy(A, a, na * sizeof(bps_cplx));
  bps_free(a);
  BPS_CHECK(info == 0, BPS_ERR_LAPACK, "zheevd failed (info=%d, n=%d)", (int)info, n);
  return BPS_OK;
}

/* zgesdd (divide and conquer) is fast but its bidiagonal solver occasionally fails to
 * converge (info > 0) on harmless matrices; zgesvd (QR iteration) is the robust fallback,
 * run again on the original (zgesdd destroys its copy). */
int bps_lin_svd(int m, int n, bps_cplx *A, int lda, double *s, bps_cplx *U) {
  BPS_CHECK(m >= 0 && n >= 0 && lda >= (m > 0 ? m : 1), BPS_ERR_ARG, "bad svd shape");
  if (m == 0 || n == 0) return BPS_OK;
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++)
      BPS_CHECK(isfinite(creal(A[i + (size_t)lda * j])) && isfinite(cimag(A[i + (size_t)lda * j])),
                BPS_ERR_NUMERIC, "SVD of a %dx%d matrix with a non-finite entry at (%d, %d)", m,
                n, i, j);
  int rc = BPS_OK;
  int k = m < n ? m : n;
  size_t na = (size_t)lda * (size_t)n;
  bps_cplx *vt = U ? bps_alloc(padded(k, n)) : NULL, *a = bps_alloc(padded(lda, n)),
           *u = U ? bps_alloc(padded(m, k)) : NULL;
  BPS_CHECK_GOTO(a && (!U || (vt && u)), BPS_ERR_MEM, "out of memory (svd %dx%d)", m, n);
  memcpy(a, A, na * sizeof(bps_cplx));
  int nt = lapack_threads();
  lapack_int info = LAPACKE_zgesdd(LAPACK_COL_MAJOR, U ? 'S' : 'N', m, n,
                                   (lapack_complex_double *)a, lda, s, (lapack_complex_double *)u,
                                   U ? m : 1, (lapack_complex_double *)vt, U ? k : 1);
  if (info > 0) {
    memcpy(a, A, na * sizeof(bps_cplx));
    double *superb = malloc(sizeof(double) * (size_t)(k > 1 ? k - 1 : 1));
    info = superb ? LAPACKE_zgesvd(LAPACK_COL_MAJOR, U ? 'S' : 'N', 'N', m, n,
                                   (lapack_complex_double *)a, lda, s,
                                   (lapack_complex_double *)u, U ? m : 1, NULL, 1, superb)
                  : -1000;
    free(superb);
  }
  lapack_restore(nt);
  if (U && info == 0) memcpy(U, u, (size_t)m * (size_t)k * sizeof(bps_cplx));
  memcpy(A, a, na * sizeof(bps_cplx)); /* A is documented as destroyed; keep LAPACK's bytes */
  BPS_CHECK_GOTO(info == 0, BPS_ERR_LAPACK, "zgesdd and zgesvd failed (info=%d, %dx%d)",
                 (int)info, m, n);
cleanup:
  bps_free(vt);
  bps_free(a);
  bps_free(u);
  return rc;
}

/* Row-major A (m x n) is the column-major A^T (n x m) = U' S V'^T, so A = V' S U'^T: the
 * column-major V'^T (k x m, ld k) read row-major is U (m x k), and the column-major U'
 * (n x k, ld n) read row-major is VT (k x n). LAPACK works on padded copies (see padded). */
int bps_lin_dsvd(int m, int n, const double *A, double *s, double *U, double *VT) {
  BPS_CHECK(m >= 1 && n >= 1 && A && s && U && VT, BPS_ERR_ARG, "bad svd shape %dx%d", m, n);
  const size_t na = (size_t)m * (size_t)n;
  for (size_t i = 0; i < na; i++)
    BPS_CHECK(isfinite(A[i]), BPS_ERR_NUMERIC, "SVD of a %dx%d matrix with a non-finite entry",
              m, n);
  const int k = m < n ? m : n;
  double *a = malloc(sizeof(double) * padded(n, m)), *u = malloc(sizeof(double) * padded(n, k)),
         *vt = malloc(sizeof(double) * padded(k, m));
  if (!a || !u || !vt) {
    free(a);
    free(u);
    free(vt);
    BPS_CHECK(0, BPS_ERR_MEM, "out of memory (svd %dx%d)", m, n);
  }
  memcpy(a, A, na * sizeof(double));
  int nt = lapack_threads();
  lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', n, m, a, n, s, u, n, vt, k);
  if (info > 0) {
    memcpy(a, A, na * sizeof(double));
    double *superb = malloc(sizeof(double) * (size_t)(k > 1 ? k - 1 : 1));
    info = superb ? LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'S', 'S', n, m, a, n, s, u, n, vt, k, superb)
                  : -1000;
    free(superb);
  }
  lapack_restore(nt);
  if (info == 0) {
    memcpy(U, vt, (size_t)m * (size_t)k * sizeof(double));
    memcpy(VT, u, (size_t)k * (size_t)n * sizeof(double));
  }
  free(a);
  free(u);
  free(vt);
  BPS_CHECK(info == 0, BPS_ERR_LAPACK, "dgesdd and dgesvd failed (info=%d, %dx%d)", (int)info, m,
            n);
  return BPS_OK;
}

int bps_lin_qr(int m, int n, bps_cplx *A, int lda, bps_cplx *diag_r) {
  BPS_CHECK(m >= n && n >= 1 && lda >= m, BPS_ERR_ARG, "bad qr shape %dx%d", m, n);
  int rc = BPS_OK;
  size_t na = (size_t)lda * (size_t)n;
  bps_cplx *tau = bps_alloc((size_t)n + 1024), *a = bps_alloc(padded(lda, n));
  BPS_CHECK_GOTO(tau && a, BPS_ERR_MEM, "out of memory (qr %dx%d)", m, n);
  memcpy(a, A, na * sizeof(bps_cplx));
  int nt = lapack_threads();
  lapack_int info = LAPACKE_zgeqrf(LAPACK_COL_MAJOR, m, n, (lapack_complex_double *)a, lda,
                                   (lapack_complex_double *)tau);
  if (info == 0) {
    for (int i = 0; i < n; i++) diag_r[i] = a[i + (size_t)lda * i];
    info = LAPACKE_zungqr(LAPACK_COL_MAJOR, m, n, n, (lapack_complex_double *)a, lda,
                          (lapack_complex_double *)tau);
  }
  lapack_restore(nt);
  memcpy(A, a, na * sizeof(bps_cplx));
  BPS_CHECK_GOTO(info == 0, BPS_ERR_LAPACK, "zgeqrf/zungqr failed (info=%d)", (int)info);
cleanup:
  bps_free(tau);
  bps_free(a);
  return rc;
}

static enum CBLAS_TRANSPOSE op_of(char c) {
  return c == 'T' ? CblasTrans : c == 'C' ? CblasConjTrans : CblasNoTrans;
}

void bps_lin_gemm(char opa, char opb, bps_idx m, bps_idx n, bps_idx k, bps_cplx alpha,
                  const bps_cplx *A, bps_idx lda, const bps_cplx *B, bps_idx ldb, bps_cplx beta,
                  bps_cplx *C, bps_idx ldc) {
  int nt = lapack_threads();
  cblas_zgemm(CblasColMajor, op_of(opa), op_of(opb), (blasint)m, (blasint)n, (blasint)k, &alpha,
              A, (blasint)lda, B, (blasint)ldb, &beta, C, (blasint)ldc);
  lapack_restore(nt);
}

void bps_lin_dgemm(char opa, char opb, bps_idx m, bps_idx n, bps_idx k, double alpha,
                   const double *A, bps_idx lda, const double *B, bps_idx ldb, double beta,
                   double *C, bps_idx ldc) {
  int nt = lapack_threads();
  cblas_dgemm(CblasRowMajor, op_of(opa), op_of(opb), (blasint)m, (blasint)n, (blasint)k, alpha,
              A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
  lapack_restore(nt);
}

void bps_lin_herk(bps_idx n, bps_idx k, const bps_cplx *A, bps_idx lda, bps_cplx *C, bps_idx ldc) {
  int nt = lapack_threads();
  cblas_zherk(CblasColMajor, CblasUpper, CblasNoTrans, (blasint)n, (blasint)k, 1.0, A,
              (blasint)lda, 0.0, C, (blasint)ldc);
  lapack_restore(nt);
  for (bps_idx j = 0; j < n; j++) /* mirror the upper triangle */
    for (bps_idx i = j + 1; i < n; i++) C[i + ldc * j] = conj(C[j + ldc * i]);
}

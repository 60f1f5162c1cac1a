/* linalg: the only module that calls LAPACK(E) and CBLAS directly.
 * Matrices are COLUMN-MAJOR with a leading dimension unless stated. Row-major square
 * Hermitian matrices may be passed to eigh (a Hermitian matrix read row-major is its
 * conjugate: eigenvalues are unchanged and eigenvectors come back conjugated).
 * BLAS/LAPACK threading: OpenBLAS always runs single-threaded (its threaded results depend
 * on the thread count); callers parallelise around these calls with OpenMP. */
#ifndef BPSCAN_LINALG_H
#define BPSCAN_LINALG_H

#include "bpscan/types.h"

/* Hermitian eigen-decomposition of the n x n column-major matrix A (lda >= n), zheevd.
 * w gets ascending eigenvalues. If want_vectors, A is overwritten by the eigenvectors
 * (columns); otherwise A is destroyed. */
int bps_lin_eigh(int n, bps_cplx *A, int lda, double *w, int want_vectors);
/* Singular values (descending) of the m x n column-major A (destroyed), zgesdd. If U is
 * not NULL it receives the min(m,n) left singular vectors (m x min(m,n), ldu = m). */
int bps_lin_svd(int m, int n, bps_cplx *A, int lda, double *s, bps_cplx *U);
/* QR of the m x n (m >= n) column-major A: A is overwritten by Q (m x n, orthonormal
 * columns) and diag_r receives the n diagonal entries of R. */
int bps_lin_qr(int m, int n, bps_cplx *A, int lda, bps_cplx *diag_r);
/* C = alpha op(A) op(B) + beta C, column-major; op = 'N', 'T' or 'C'. */
void bps_lin_gemm(char opa, char opb, bps_idx m, bps_idx n, bps_idx k, bps_cplx alpha,
                  const bps_cplx *A, bps_idx lda, const bps_cplx *B, bps_idx ldb, bps_cplx beta,
                  bps_cplx *C, bps_idx ldc);
/* C = A A^dagger (n x n, full Hermitian matrix written), A is n x k column-major. */
void bps_lin_herk(bps_idx n, bps_idx k, const bps_cplx *A, bps_idx lda, bps_cplx *C, bps_idx ldc);
/* Real SVD of the m x n ROW-MAJOR matrix A (not modified): s gets the k = min(m, n)
 * singular values (descending), U the m x k left vectors and VT the k x n right vectors
 * (both row-major); dgesdd, with dgesvd as the fallback when it fails to converge. */
int bps_lin_dsvd(int m, int n, const double *A, double *s, double *U, double *VT);
/* C = alpha op(A) op(B) + beta C for ROW-MAJOR real matrices (op 'N' or 'T'; C is m x n,
 * op(A) m x k, op(B) k x n, leading dimensions = row lengths). */
void bps_lin_dgemm(char opa, char opb, bps_idx m, bps_idx n, bps_idx k, double alpha,
                   const double *A, bps_idx lda, const double *B, bps_idx ldb, double beta,
                   double *C, bps_idx ldc);
/* 64-byte aligned allocation of n complex numbers (NULL on failure), and its free. */
bps_cplx *bps_alloc(size_t n);
void bps_free(void *p);

#endif

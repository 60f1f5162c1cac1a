/* ref: naive dense reference mathematics for tests (Kronecker products, full matrix
 * products, index-by-index partial traces). Deliberately simple and slow; shares no code
 * with the kernels. Matrices are row-major d x d. Qubit 0 = most significant bit. */
#ifndef BPS_REF_H
#define BPS_REF_H

#include "bpscan/rng.h"
#include "bpscan/types.h"

bps_cplx *ref_alloc(size_t n); /* zeroed; abort on failure */
void ref_matmul(int d, const bps_cplx *A, const bps_cplx *B, bps_cplx *C);
void ref_adjoint(int d, const bps_cplx *A, bps_cplx *Ah);
void ref_kron(int da, const bps_cplx *A, int db, const bps_cplx *B, bps_cplx *C);
/* Full 2^q x 2^q operator of the k-qubit gate U on the given qubits. */
void ref_embed(int q, int k, const int *qubits, const bps_cplx *U, bps_cplx *Ufull);
/* out = U rho U^dag (all d x d). */
void ref_conjugate(int d, const bps_cplx *U, const bps_cplx *rho, bps_cplx *out);
/* out = sum_m K_m rho K_m^dag with full-size Kraus operators. */
void ref_kraus(int d, int nk, const bps_cplx *K, const bps_cplx *rho, bps_cplx *out);
/* out (2^(q+a) square) = rho (x) |0..0><0..0| on a appended qubits. */
void ref_append_zero(int q, const bps_cplx *rho, int a, bps_cplx *out);
/* Partial trace over the listed qubits; out has 2^(q-ntr) rows. */
void ref_ptrace(int q, const bps_cplx *rho, int ntr, const int *traced, bps_cplx *out);
/* Dense matrix of a q-letter Pauli string (kron of 2x2). */
void ref_pauli(const char *p, bps_cplx *P);
bps_cplx ref_trace_prod(int d, const bps_cplx *A, const bps_cplx *B); /* Tr(A B) */
double ref_maxdiff(size_t n, const bps_cplx *a, const bps_cplx *b);
/* Random row-major unitary of dimension d (Gram-Schmidt of a Gaussian matrix; independent
 * of the library's Haar sampler). */
void ref_random_unitary(bps_rng *r, int d, bps_cplx *U);
/* Random density matrix of the given rank: A A^dag / Tr with A Gaussian d x rank;
 * A is returned too (column-major d x rank) when Aout != NULL. */
void ref_random_density(bps_rng *r, int q, int rank, bps_cplx *rho, bps_cplx *Aout);
/* Random Kraus channel with nk operators on dimension d (row-major, stacked): the blocks
 * of a random isometry. */
void ref_random_kraus(bps_rng *r, int d, int nk, bps_cplx *K);

#endif

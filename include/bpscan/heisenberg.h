/* heisenberg: the adjoints of the engine's channels, for evolving observables backwards
 * (adjoint gradients), plus linear combinations of states. An observable O >= 0 is held
 * in a bps_state exactly like a density matrix (DENSE: O itself; FACTORED: O = B B^dag),
 * without the trace-1 normalisation.
 *
 *   adjoint of bps_append_zero(a)        : bps_project_zero(a)   O -> <0|_a O |0>_a
 *   adjoint of bps_partial_trace(S)      : bps_insert_identity(S) O -> O (x) 1_S
 *   adjoint of U . U^dag                 : apply U^dag
 *   adjoint of sum_m K_m . K_m^dag        : sum_m K_m^dag . K_m
 */
#ifndef BPSCAN_HEISENBERG_H
#define BPSCAN_HEISENBERG_H

#include "bpscan/state.h"

/* Keep the block where the last a qubits are |0>: (1 (x) <0..0|) O (1 (x) |0..0>). */
int bps_project_zero(bps_state *s, int a);
/* O on q qubits -> O (x) 1 on q + k qubits, the identity factors sitting at the (sorted,
 * distinct) positions qubits[] of the enlarged register; the old qubits keep their order. */
int bps_insert_identity(bps_state *s, int k, const int *qubits);
/* s -> alpha s + beta t (same q and representation). FACTORED needs alpha, beta >= 0
 * (columns sqrt(alpha) A | sqrt(beta) B, compressed when the rank exceeds 2^q). */
int bps_state_axpy(bps_state *s, double alpha, const bps_state *t, double beta);
/* z = Tr[O P rho] for a q-letter Pauli string P, O and rho of the same q and
 * representation. Bitwise independent of the thread count. */
int bps_trace_o_pauli_rho(const bps_state *O, const char *pauli, const bps_state *rho,
                          bps_cplx *z);

/* FACTORED only: L = sum_o sgn[o] O_o A where O_o = B_o B_o^dag and rho = A A^dag; L gets
 * A's shape (dim x rank). Inside a run of unitaries the product O A evolves like A
 * (L -> U^dag L), so the backward pass carries L (as small as A) instead of O. */
int bps_obs_times_factor(bps_state *const *obs, const double *sgn, int nobs, const bps_state *A,
                         bps_state *L);
/* FACTORED only: z = sum_c L_c^dag P A_c = Tr[L^dag P A] for a q-letter Pauli string, L and
 * A of the same shape. With L = O A this is Tr[O P rho]. */
int bps_pauli_inner(const bps_state *L, const char *pauli, const bps_state *A, bps_cplx *z);
/* Local Gram matrix of two states of one shape on k = 1 or 2 qubits (FACTORED factors, or
 * DENSE matrices with their rows as the register index and L Hermitian, L = O):
 * G[a 2^k + b] = sum over the other row bits and the columns of conj(L[a, .]) A[b, .], the
 * gate index a of the qubits in the order of bps_apply_unitary (qubits[0] most significant).
 * Tr[L^dag (P on qubits) A] = sum_ab P_ab G_ab for any 2^k x 2^k P, and applying V to
 * both states maps G to conj(V) G V^T (DENSE: V X V^dag). Fixed chunks: thread-count
 * invariant. */
int bps_local_gram(const bps_state *L, const bps_state *A, int k, const int *qubits, bps_cplx *G);

/* The factored adjoint's backward steps through non-invertible operations (FACTORED only).
 * L holds Lambda = O A_after (the shape of the factor after the operation, `after`); it
 * becomes Lambda = O' A_before with O' the Heisenberg-evolved observable, in the shape of
 * `before`. No observable is ever formed. When the forward kernel compressed its result
 * (A_after = U S, orthogonal columns), O A' = (O P) A' = Lt (A_after^dag A') for any A'
 * in the range, Lt = L diag(1/|A_after,j|^2); otherwise the kernel's column layout is
 * inverted exactly.
 *   append of a ancillas    : Lambda <- (1 (x) <0|) Lambda (rows of the |0> block)
 *   trace of sorted qubits  : rows s of Lambda <- (O (x) 1) A, block s (reshape or Lt form)
 *   Kraus {K_m}             : Lambda <- sum_m K_m^dag (O K_m A)   (Kh = the K_m^dag)
 *   depolarising (p, sorted): Lambda <- (1-p) O A + p/2^k (Tr_S O (x) 1_S) A; needs a
 *                             compressed `after` (the circuit's depolarising step ensures it) */
int bps_lambda_append(bps_state *L, int a);
int bps_lambda_trace(bps_state *L, int k, const int *qubits, const bps_state *before,
                     const bps_state *after);
int bps_lambda_kraus(bps_state *L, int k, const int *qubits, int nk, const bps_cplx *K,
                     const bps_cplx *Kh, const bps_state *before, const bps_state *after);
int bps_lambda_depol(bps_state *L, int k, const int *qubits, double p, const bps_state *before,
                     const bps_state *after);

#endif

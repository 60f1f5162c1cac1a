/* gates: the gate library and Haar sampling.
 *
 * Conventions (used everywhere in bpscan; see README "Conventions"):
 * - Qubit 0 is the most significant bit of a basis index (QuTiP / Beer et al. order):
 *   in a q-qubit register, qubit k is bit (q-1-k) of the index.
 * - A k-qubit gate is a 2^k x 2^k complex matrix stored ROW-MAJOR, U[r*2^k + c].
 *   Applied to qubits (t_0, ..., t_{k-1}), t_0 is the most significant bit of the
 *   gate's own index: U acts on |b_0 b_1 ... b_{k-1}> with b_i the bit of qubit t_i.
 * - Pauli rotation R_P(theta) = exp(-i theta P / 2), P a Pauli string (P^2 = 1).
 * - Pauli strings are text, one letter per qubit of the gate: "XZ" = X (x) Z, with the
 *   first letter on the gate's first qubit. Letters I, X, Y, Z.
 * - U3(theta, phi, lambda) = [[cos(t/2), -e^{i lambda} sin(t/2)],
 *                             [e^{i phi} sin(t/2), e^{i(phi+lambda)} cos(t/2)]].
 * - CAN(tx, ty, tz) = exp(-i (tx XX + ty YY + tz ZZ)).
 * - CNOT: control = first gate qubit, target = second.
 * - KAK(p[15]) = (U3(p9..11) (x) U3(p12..14)) CAN(p6..8) (U3(p0..2) (x) U3(p3..5)):
 *   parameters in application order: p[0..2] U3 on gate qubit 0, p[3..5] U3 on gate
 *   qubit 1, p[6..8] CAN(tx,ty,tz), p[9..11] U3 on qubit 0, p[12..14] U3 on qubit 1.
 */
#ifndef BPSCAN_GATES_H
#define BPSCAN_GATES_H

#include "bpscan/rng.h"
#include "bpscan/types.h"

/* Dense matrix of a Pauli string (2^k x 2^k, k = strlen(p) <= 10). */
int bps_gate_pauli(const char *p, bps_cplx *P);
/* R_P(theta) = cos(theta/2) 1 - i sin(theta/2) P. */
int bps_gate_pauli_rot(const char *p, double theta, bps_cplx *U);
void bps_gate_u3(double theta, double phi, double lambda, bps_cplx U[4]);
void bps_gate_can(double tx, double ty, double tz, bps_cplx U[16]);
void bps_gate_swap(bps_cplx U[16]);
void bps_gate_cnot(bps_cplx U[16]);
void bps_gate_cz(bps_cplx U[16]);
void bps_gate_kak(const double p[15], bps_cplx U[16]);

/* Haar-random unitary on dimension dim (Mezzadri: QR of a complex Ginibre matrix with
 * the phase fix R_ii/|R_ii|). U is row-major dim x dim. Uses LAPACK zgeqrf/zungqr. */
int bps_haar_unitary(bps_rng *r, int dim, bps_cplx *U);
/* Haar-random pure state: normalised complex Gaussian vector of length dim. */
void bps_haar_state(bps_rng *r, bps_idx dim, bps_cplx *psi);

/* Small dense helpers on row-major square matrices (dimension d). */
void bps_mat_mul(int d, const bps_cplx *A, const bps_cplx *B, bps_cplx *C); /* C = A B */
void bps_mat_adjoint(int d, const bps_cplx *A, bps_cplx *Ah);               /* Ah = A^dagger */
void bps_mat_kron(int da, const bps_cplx *A, int db, const bps_cplx *B, bps_cplx *C); /* A (x) B */
double bps_mat_unitarity_error(int d, const bps_cplx *U); /* max |U U^dagger - 1| */

#endif

/* PLACEHOLDER: replaced by the real implementation. */
#include "bpscan/error.h"
#include "bpscan/gates.h"
int bps_gate_pauli(const char *p, bps_cplx *P) { return BPS_ERR_INTERNAL; }
int bps_gate_pauli_rot(const char *p, double theta, bps_cplx *U) { return BPS_ERR_INTERNAL; }
void bps_gate_u3(double theta, double phi, double lambda, bps_cplx U[4]) {  }
void bps_gate_can(double tx, double ty, double tz, bps_cplx U[16]) {  }
void bps_gate_swap(bps_cplx U[16]) {  }
void bps_gate_cnot(bps_cplx U[16]) {  }
void bps_gate_cz(bps_cplx U[16]) {  }
void bps_gate_kak(const double p[15], bps_cplx U[16]) {  }
int bps_haar_unitary(bps_rng *r, int dim, bps_cplx *U) { return BPS_ERR_INTERNAL; }
void bps_haar_state(bps_rng *r, bps_idx dim, bps_cplx *psi) {  }
void bps_mat_mul(int d, const bps_cplx *A, const bps_cplx *B, bps_cplx *C) {  }
void bps_mat_adjoint(int d, const bps_cplx *A, bps_cplx *Ah) {  }
void bps_mat_kron(int da, const bps_cplx *A, int db, const bps_cplx *B, bps_cplx *C) {  }
double bps_mat_unitarity_error(int d, const bps_cplx *U) { return 0; }

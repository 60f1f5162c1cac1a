/* PLACEHOLDER: replaced by the real implementation. */
#include "bpscan/error.h"
#include "kernels.h"
int bps_dense_apply(bps_state *s, int k, const int *qubits, const bps_cplx *U) { return BPS_ERR_INTERNAL; }
int bps_dense_kraus(bps_state *s, int k, const int *qubits, int nk, const bps_cplx *K) { return BPS_ERR_INTERNAL; }
int bps_dense_append_zero(bps_state *s, int a) { return BPS_ERR_INTERNAL; }
int bps_dense_partial_trace(bps_state *s, int ntr, const int *traced) { return BPS_ERR_INTERNAL; }
int bps_dense_expect_pauli(const bps_state *s, const char *pauli, double *out) { return BPS_ERR_INTERNAL; }
int bps_dense_expect_projector(const bps_state *s, int k, const int *qubits,
                               const bps_cplx *psi, double *out) { return BPS_ERR_INTERNAL; }

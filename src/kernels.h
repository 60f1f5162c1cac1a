/* kernels.h (internal): the per-representation kernels behind state.h.
 * state.c validates arguments and dispatches here; these may assume valid input.
 * dense.c implements bps_dense_*, factored.c implements bps_fact_*. */
#ifndef BPSCAN_KERNELS_H
#define BPSCAN_KERNELS_H

#include "bpscan/state.h"
#include "bpscan/threads.h"

/* Ensure s->a holds at least n elements (contents kept) / s->work at least n (not kept). */
int bps_state_reserve(bps_state *s, size_t n);
int bps_state_reserve_work(bps_state *s, size_t n);
/* Swap s->a and s->work (with their capacities). */
void bps_state_swap_work(bps_state *s);

/* Fixed reduction chunking: sums over N terms are split into BPS_RED_CHUNKS contiguous
 * chunks summed in order, then the chunk sums added in order: bitwise independent of the
 * thread count. */
#define BPS_RED_CHUNKS 64

int bps_dense_apply(bps_state *s, int k, const int *qubits, const bps_cplx *U);
int bps_dense_kraus(bps_state *s, int k, const int *qubits, int nk, const bps_cplx *K);
int bps_dense_append_zero(bps_state *s, int a);
int bps_dense_partial_trace(bps_state *s, int ntr, const int *traced);
int bps_dense_expect_pauli(const bps_state *s, const char *pauli, double *out);
int bps_dense_expect_projector(const bps_state *s, int k, const int *qubits, const bps_cplx *psi,
                               double *out);

int bps_fact_apply(bps_state *s, int k, const int *qubits, const bps_cplx *U);
int bps_fact_kraus(bps_state *s, int k, const int *qubits, int nk, const bps_cplx *K);
int bps_fact_append_zero(bps_state *s, int a);
int bps_fact_partial_trace(bps_state *s, int ntr, const int *traced);
int bps_fact_compress(bps_state *s);
int bps_fact_expect_pauli(const bps_state *s, const char *pauli, double *out);
int bps_fact_expect_projector(const bps_state *s, int k, const int *qubits, const bps_cplx *psi,
                              double *out);

#endif

/* kernels.h (internal): the per-representation kernels behind state.h.
 * state.c validates arguments and dispatches here; these may assume valid input.
 * dense.c implements bps_dense_*, factored.c implements bps_fact_*. */
#ifndef BPSCAN_KERNELS_H
#define BPSCAN_KERNELS_H

#include "bpscan/state.h"

/* Ensure s->a holds at least n elements (contents kept) / s->work at least n (not kept). */
int bps_state_reserve(bps_state *s, size_t n);
int bps_state_reserve_work(bps_state *s, size_t n);
/* Swap s->a and s->work (with their capacities). */
void bps_state_swap_work(bps_state *s);

/* Fixed reduction chunking: sums over N terms are split into BPS_RED_CHUNKS contiguous
 * chunks summed in order, then the chunk sums added in order: bitwise independent of the
 * thread count. */
#define BPS_RED_CHUNKS 64

/* BPS_PAR_FOR(cond, T, i, n, body): for (T i = 0; i < n; i++) body; split over a new
 * OpenMP team with a static schedule when cond holds, a plain loop otherwise. A serial loop
 * never enters libgomp: a parallel region with a false if() clause still runs a team of
 * one whose barriers cost a futex syscall each, which dominated small states. The serial
 * branch is plain C (no orphaned worksharing that would bind to an enclosing team) and
 * runs the same body in the same order as the parallel loop on one thread, so results
 * are bitwise the same either way. body is an expression or statement (typically one
 * call of an inline per-unit function); it is expanded twice, so keep it short. */
#define BPS_PAR_FOR(cond, T, i, n, ...)                                                   \
  do {                                                                                    \
    if (cond) {                                                                           \
      _Pragma("omp parallel for schedule(static)") for (T i = 0; i < (n); i++) {          \
        __VA_ARGS__;                                                                      \
      }                                                                                   \
    } else {                                                                              \
      for (T i = 0; i < (n); i++) {                                                       \
        __VA_ARGS__;                                                                      \
      }                                                                                   \
    }                                                                                     \
  } while (0)

int bps_dense_apply(bps_state *s, int k, const int *qubits, const bps_cplx *U);
int bps_dense_kraus(bps_state *s, int k, const int *qubits, int nk, const bps_cplx *K);
int bps_dense_append_zero(bps_state *s, int a);
int bps_dense_partial_trace(bps_state *s, int ntr, const int *traced);
int bps_dense_expect_pauli(const bps_state *s, const char *pauli, double *out);
int bps_dense_expect_projector(const bps_state *s, int k, const int *qubits,
                               const bps_cplx *psi, double *out);

int bps_fact_apply(bps_state *s, int k, const int *qubits, const bps_cplx *U);
int bps_fact_kraus(bps_state *s, int k, const int *qubits, int nk, const bps_cplx *K);
int bps_fact_append_zero(bps_state *s, int a);
int bps_fact_partial_trace(bps_state *s, int ntr, const int *traced);
int bps_fact_compress(bps_state *s);
int bps_fact_expect_pauli(const bps_state *s, const char *pauli, double *out);
int bps_fact_expect_projector(const bps_state *s, int k, const int *qubits,
                              const bps_cplx *psi, double *out);

#endif

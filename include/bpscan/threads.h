/* threads: bpscan's one door to OpenMP. <omp.h> is included only in src/threads.c; every
 * other file asks here (thread counts, the parallel-size policy) and writes its parallel
 * loops as `#pragma omp` lines or BPS_PAR_FOR, which need no header.
 *
 * Policy (one threshold for every kernel): a loop over `work` elements (complex numbers
 * touched, or terms summed) opens a team only when work >= BPS_PAR_MIN and the caller is
 * not already inside a parallel region (nested teams would be teams of one). Loops doing
 * K multiply-adds per element (k-qubit gates as matrix products, K = 2^k >= 8) count
 * elements x K / 4. Below that, a plain C loop runs on the calling thread: waking a team
 * costs more than the work, and a parallel region with a false if() clause still enters
 * libgomp (a futex per barrier). The threshold (2^18 elements, 4 MiB) is set for sleeping
 * threads (OMP_WAIT_POLICY=passive, main.c): waking a team then takes tens of
 * microseconds, and at 2^14 two threads made small-state gradients up to 4x slower than
 * one (bench traffic rows, nisq n,n n = 7: 0.012 s on 1 thread, 0.051 s on 2).
 * Results never depend on the choice: kernels compute each element with the same
 * operations either way and reduce in fixed chunks (BPS_RED_CHUNKS, kernels.h). */
#ifndef BPSCAN_THREADS_H
#define BPSCAN_THREADS_H

#include "bpscan/types.h"

/* Loops over fewer elements of work run on the calling thread (the default threshold). */
#define BPS_PAR_MIN ((bps_idx)1 << 18)

int bps_threads_max(void);         /* omp_get_max_threads() (1 without OpenMP) */
int bps_thread_num(void);          /* omp_get_thread_num() (0 outside a team) */
int bps_threads_team(void);        /* omp_get_num_threads(): size of the current team */
int bps_threads_in_parallel(void); /* inside an active parallel region? */
void bps_threads_set(int n);       /* omp_set_num_threads(n) */
void bps_threads_set_dynamic(int on);
void bps_threads_set_max_levels(int levels); /* omp_set_max_active_levels */
double bps_wtime(void);                      /* omp_get_wtime(): wall seconds, monotonic */

/* The threshold in force: BPS_PAR_MIN unless set. The thread-invariance tests lower it
 * (t201, t302, t510: 2^14) so that their small states run the parallel branches too. */
bps_idx bps_par_min(void);
void bps_par_min_set(bps_idx work);

/* Should a loop over `work` elements open a team? (the policy above) */
static inline int bps_par_ok(bps_idx work) {
  return work >= bps_par_min() && !bps_threads_in_parallel();
}

/* BPS_PAR_FOR(cond, T, i, n, body): for (T i = 0; i < n; i++) body; split over a new
 * OpenMP team with a static schedule when cond holds (normally bps_par_ok(work)), a plain
 * loop otherwise. The serial branch is plain C (no orphaned worksharing that would bind
 * to an enclosing team) and runs the same body in the same order as the parallel loop on
 * one thread, so results are bitwise the same either way. body is an expression or
 * statement (typically one call of an inline per-unit function); it is expanded twice, so
 * keep it short. Loops that need per-thread set-up (a private coefficient copy, scratch
 * panels, the thread number) write the same two branches by hand:
 *   if (bps_par_ok(work)) { #pragma omp parallel { set-up; #pragma omp for ... } } else { ... } */
#define BPS_PAR_FOR(cond, T, i, n, ...)                                                         \
  do {                                                                                          \
    if (cond) {                                                                                 \
      _Pragma("omp parallel for schedule(static)") for (T i = 0; i < (n); i++) { __VA_ARGS__; } \
    } else {                                                                                    \
      for (T i = 0; i < (n); i++) {                                                             \
        __VA_ARGS__;                                                                            \
      }                                                                                         \
    }                                                                                           \
  } while (0)

#endif

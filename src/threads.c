/* threads: the only file that includes <omp.h> (see threads.h). */
#include "bpscan/threads.h"

static bps_idx par_min = BPS_PAR_MIN;
bps_idx bps_par_min(void) { return par_min; }
void bps_par_min_set(bps_idx work) { par_min = work; }

#ifdef _OPENMP
#include <omp.h>

int bps_threads_max(void) { return omp_get_max_threads(); }
int bps_thread_num(void) { return omp_get_thread_num(); }
int bps_threads_team(void) { return omp_get_num_threads(); }
int bps_threads_in_parallel(void) { return omp_in_parallel(); }
void bps_threads_set(int n) { omp_set_num_threads(n); }
void bps_threads_set_dynamic(int on) { omp_set_dynamic(on); }
void bps_threads_set_max_levels(int levels) { omp_set_max_active_levels(levels); }
double bps_wtime(void) { return omp_get_wtime(); }
#else
#include <time.h>

int bps_threads_max(void) { return 1; }
int bps_thread_num(void) { return 0; }
int bps_threads_team(void) { return 1; }
int bps_threads_in_parallel(void) { return 0; }
void bps_threads_set(int n) { (void)n; }
void bps_threads_set_dynamic(int on) { (void)on; }
void bps_threads_set_max_levels(int levels) { (void)levels; }
double bps_wtime(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
#endif

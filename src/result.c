/* result: the names of the state diagnostics (in the order of the BPS_DIAG_* columns of
 * bps_result_n.diag) and the statistics of one qubit count (see include/bpscan/result.h). */
#include "bpscan/result.h"

#include <math.h>
#include <stdlib.h>

#include "bpscan/error.h"

const char *const bps_diag_names[BPS_NDIAG] = {"purity", "entropy", "renyi2", "trace_distance"};

int bps_result_n_stats(bps_result_n *r) {
  long S = r->samples;
  int P = r->ntracked;
  BPS_CHECK(S >= 0 && P >= 0 && (P == 0 || r->grad_stats), BPS_ERR_ARG, "bad result shape");
  bps_stats_compute(r->cost, S, 1, &r->cost_stats);
  for (int k = 0; k < BPS_NDIAG; k++) bps_stats_compute(r->diag + k, S, BPS_NDIAG, &r->diag_stats[k]);
  double vm = 0;
  for (int q = 0; q < P; q++) {
    bps_stats_compute(r->grad + q, S, (size_t)P, &r->grad_stats[q]);
    vm += r->grad_stats[q].var;
  }
  r->grad_var_mean = P ? vm / P : NAN;
  r->grad_var_mean_se = NAN;
  if (S < 2 || P == 0) return BPS_OK;
  /* SE of the parameter-averaged variance: z_s = mean_p (g_sp - mean_p)^2 S/(S-1) */
  double *z = malloc(sizeof(double) * (size_t)S);
  BPS_CHECK(z, BPS_ERR_MEM, "out of memory");
  for (long s = 0; s < S; s++) {
    double acc = 0;
    for (int q = 0; q < P; q++) {
      double d = r->grad[s * P + q] - r->grad_stats[q].mean;
      acc += d * d;
    }
    z[s] = acc / P * (double)S / (double)(S - 1);
  }
  bps_stats zs;
  bps_stats_compute(z, S, 1, &zs);
  r->grad_var_mean_se = zs.mean_se;
  free(z);
  return BPS_OK;
}

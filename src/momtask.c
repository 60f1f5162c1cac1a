/* momtask: the items of an exact-moments scan (see momtask.h). */
#include "momtask.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/moments.h"
#include "bpscan/threads.h"

int bps_mom_item(const bps_plan_n *pn, long item, double *rec) {
  bps_mom_value mean, var, pur = {NAN, NAN, NAN, 0};
  bps_mom_stats st = {0, 0, 0};
  if (item == 0) {
    BPS_CALL(bps_mom_cost(pn->mom, &mean, &var, &st));
    BPS_CALL(bps_mom_purity(pn->mom, &pur));
  } else {
    BPS_CHECK(item >= 1 && item <= pn->ntracked, BPS_ERR_INTERNAL, "item %ld of n = %d", item,
              pn->n);
    BPS_CALL(bps_mom_grad(pn->mom, pn->tracked[item - 1], &mean, &var, &st));
  }
  for (int i = 0; i < BPS_MOMREC_LEN; i++) rec[i] = 0.0;
  bps_mom_encode(mean.v, rec + BPS_MOMREC_MEAN);
  bps_mom_encode(var.v, rec + BPS_MOMREC_VAR);
  bps_mom_encode(var.lo, rec + BPS_MOMREC_VAR_LO);
  bps_mom_encode(var.hi, rec + BPS_MOMREC_VAR_HI);
  bps_mom_encode(pur.v, rec + BPS_MOMREC_PURITY);
  rec[BPS_MOMREC_EXACT] = mean.exact && var.exact;
  rec[BPS_MOMREC_PEAK] = (double)st.peak_pairs;
  rec[BPS_MOMREC_BOND] = (double)st.bond_dim;
  return BPS_OK;
}

int bps_mom_items(const bps_plan_n *pn, long i0, int count, double *rec,
                  const volatile sig_atomic_t *stop, int *stopped) {
  int rc = BPS_OK, *rcs = calloc((size_t)(count > 0 ? count : 1), sizeof(int));
  BPS_CHECK(rcs, BPS_ERR_MEM, "out of memory");
  *stopped = 0;
  /* one item per thread: every pass is sequential (a failure is kept per item and
   * reported after the loop; no jump out of the parallel region) */
#pragma omp parallel for schedule(dynamic, 1) if (bps_threads_max() > 1 && count > 1)
  for (int k = 0; k < count; k++) {
    if (*stop) continue;
    rcs[k] = bps_mom_item(pn, i0 + k, rec + (size_t)k * BPS_MOMREC_LEN);
    if (rcs[k]) {
#pragma omp critical
      bps_error_print(stderr);
    }
  }
  if (*stop) *stopped = 1;
  for (int k = 0; k < count && !rc; k++) rc = rcs[k];
  free(rcs);
  BPS_CHECK(!rc, rc, "an exact-moments item of n = %d failed (see above)", pn->n);
  return BPS_OK;
}

/* stats: two-pass moments in index order (see stats.h). */
#include "bpscan/stats.h"

#include <math.h>

void bps_stats_acc_end(const bps_stats_acc *a, bps_stats *o) {
  const long count = a->count;
  o->count = count;
  o->mean = o->mean_se = o->var = o->var_se = o->m4 = 0.0;
  o->min = a->min;
  o->max = a->max;
  if (count <= 0) return;
  o->mean = a->mean;
  o->m4 = a->m4 / (double)count;
  if (count < 2) return;
  double S = (double)count, var = a->m2 / (S - 1.0);
  o->var = var;
  o->mean_se = sqrt(var / S);
  double v2 = (o->m4 - (S - 3.0) / (S - 1.0) * var * var) / S;
  o->var_se = v2 > 0 ? sqrt(v2) : 0.0;
}

void bps_stats_compute(const double *x, long count, size_t stride, bps_stats *o) {
  bps_stats_acc a;
  bps_stats_acc_init(&a);
  for (long s = 0; s < count; s++) bps_stats_acc_add1(&a, x[(size_t)s * stride]);
  bps_stats_acc_mid(&a);
  for (long s = 0; s < count; s++) bps_stats_acc_add2(&a, x[(size_t)s * stride]);
  bps_stats_acc_end(&a, o);
}

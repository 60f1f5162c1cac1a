/* stats: two-pass moments in index order (see stats.h). */
#include "bpscan/stats.h"

#include <math.h>

void bps_stats_compute(const double *x, long count, size_t stride, bps_stats *o) {
  o->count = count;
  o->mean = o->mean_se = o->var = o->var_se = o->m4 = 0.0;
  o->min = o->max = count > 0 ? x[0] : 0.0;
  if (count <= 0) return;
  double sum = 0.0;
  for (long s = 0; s < count; s++) {
    double v = x[(size_t)s * stride];
    sum += v;
    if (v < o->min) o->min = v;
    if (v > o->max) o->max = v;
  }
  double mean = sum / (double)count, m2 = 0.0, m4 = 0.0;
  for (long s = 0; s < count; s++) {
    double d = x[(size_t)s * stride] - mean, d2 = d * d;
    m2 += d2;
    m4 += d2 * d2;
  }
  o->mean = mean;
  o->m4 = m4 / (double)count;
  if (count < 2) return;
  double S = (double)count, var = m2 / (S - 1.0);
  o->var = var;
  o->mean_se = sqrt(var / S);
  double v2 = (o->m4 - (S - 3.0) / (S - 1.0) * var * var) / S;
  o->var_se = v2 > 0 ? sqrt(v2) : 0.0;
}

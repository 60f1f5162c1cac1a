/* stats: sample statistics in a fixed order. Every function sums its input in index
 * order, so the same samples give bitwise the same statistics whatever produced them
 * (the scanner gathers per-sample values into sample order before calling these). */
#ifndef BPSCAN_STATS_H
#define BPSCAN_STATS_H

#include <stddef.h>

typedef struct {
  long count;
  double mean;
  double mean_se; /* s / sqrt(S) */
  double var;     /* unbiased sample variance s^2 = sum (x - mean)^2 / (S - 1) */
  double var_se;  /* standard error of s^2: sqrt((m4 - (S-3)/(S-1) s^4) / S), m4 the central
                     fourth moment (exact for the variance of s^2 to O(1/S^2)) */
  double m4;      /* central fourth moment sum (x - mean)^4 / S */
  double min, max;
} bps_stats;

/* Statistics of x[0], x[stride], ..., x[(count-1) stride]. count >= 1 (var = 0 if 1). */
void bps_stats_compute(const double *x, long count, size_t stride, bps_stats *out);

#endif

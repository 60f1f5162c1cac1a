/* stats: sample statistics in a fixed order. Every function sums its input in index
 * order, so the same samples give bitwise the same statistics whatever produced them
 * (the scanner feeds per-sample values in sample order). bps_stats_compute works on an
 * array; the accumulator (bps_stats_acc) computes the same numbers, bitwise, from values
 * fed one at a time in two passes over the samples, so a reduction can stream them
 * without holding them all (bps_stats_compute is written with it). */
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

/* Two-pass accumulator: bps_stats_acc_init, bps_stats_acc_add1 for every value in sample
 * order, bps_stats_acc_mid, bps_stats_acc_add2 for the same values in the same order,
 * bps_stats_acc_end: the bps_stats of bps_stats_compute on those values, bitwise. */
typedef struct {
  long count;
  double sum, min, max; /* pass 1 */
  double mean;          /* after bps_stats_acc_mid */
  double m2, m4;        /* pass 2 */
} bps_stats_acc;

static inline void bps_stats_acc_init(bps_stats_acc *a) {
  a->count = 0;
  a->sum = a->min = a->max = a->mean = a->m2 = a->m4 = 0.0;
}
static inline void bps_stats_acc_add1(bps_stats_acc *a, double v) {
  if (a->count++ == 0) a->min = a->max = v;
  a->sum += v;
  if (v < a->min) a->min = v;
  if (v > a->max) a->max = v;
}
static inline void bps_stats_acc_mid(bps_stats_acc *a) {
  a->mean = a->count > 0 ? a->sum / (double)a->count : 0.0;
}
static inline void bps_stats_acc_add2(bps_stats_acc *a, double v) {
  double d = v - a->mean, d2 = d * d;
  a->m2 += d2;
  a->m4 += d2 * d2;
}
void bps_stats_acc_end(const bps_stats_acc *a, bps_stats *out);

#endif

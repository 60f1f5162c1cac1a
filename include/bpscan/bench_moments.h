/* bench_moments: the exact-moments rows of `bpscan bench` (src/moments/bench.c).
 *
 * Per row (a model ensemble at one n): the engine auto picks, the wall time of a whole
 * moments scan at that n (E[C], Var[C] and every parameter's E/Var of the derivative, one
 * item per thread), its time goal on 2 cores, the engine statistics and log2 of the mean
 * Var dC. Rows: Haar DQNN n,n global and local at n = 1024 (goal 60 s), toy and brick DQNNs,
 * hea alt with 4 layers local at 1024 (goal 60 s) and global at 128 (goal 600 s) and 1024;
 * --quick uses smaller n for the slowest rows.
 */
#ifndef BPSCAN_BENCH_MOMENTS_H
#define BPSCAN_BENCH_MOMENTS_H

#include <stdio.h>

typedef struct {
  char model[32], engine[8];
  int n, nparams, threads, bond_dim;
  long peak_pairs;
  double seconds, goal_s, var_mean_log2;
} bps_bench_moments_row;

/* Run every row (printed as it finishes, after bps_bench_moments_print_head); *rows is
 * malloc'ed. max_bytes: a rank's memory for one evaluation (0: no limit). */
int bps_bench_moments(int quick, long max_bytes, bps_bench_moments_row **rows, int *nrows);
void bps_bench_moments_print_head(FILE *out);
void bps_bench_moments_print_row(FILE *out, const bps_bench_moments_row *r);
/* `"moments_rows": [...]` (no trailing comma or newline) */
int bps_bench_moments_json(FILE *out, const bps_bench_moments_row *rows, int nrows);

#endif

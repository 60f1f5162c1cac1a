/* bench_models: model-level timings for `bpscan bench` (src/bench_models.c).
 *
 * One row per (model, n, representation): the wall time of one cost evaluation and of one
 * full adjoint gradient (value + all parameters) of a model instance, and their ratio.
 * Models: "dqnn-haar n,n" (one DQNN layer n -> n of Haar-split perceptrons, Haar input,
 * global cost against a Haar-unitary target: the scanner's default workload).
 * Dense rows stop at n = BPS_BENCH_MODELS_DENSE_NMAX: the dense DQNN register holds
 * 2n qubits, i.e. a 4^(2n) x 16-byte matrix: 256 MiB at n = 6, 4 GiB at n = 7 (and the
 * adjoint keeps several such states), 64 GiB at n = 8.
 *
 * Goals (from the issue): adjoint_grad_s <= 4 cost_eval_s; factored faster than dense by
 * at least 2^n / 4 at n >= 6. Tests never assert on timings.
 */
#ifndef BPSCAN_BENCH_MODELS_H
#define BPSCAN_BENCH_MODELS_H

#include <stdio.h>

#include "bpscan/state.h"

#define BPS_BENCH_MODELS_DENSE_NMAX 6
#define BPS_BENCH_MODELS_GRAD_GOAL 4.0 /* adjoint gradient <= 4 cost evaluations */

typedef struct {
  char model[40];        /* e.g. "dqnn-haar n,n" */
  int n;                 /* scanned qubit count */
  bps_repr repr;
  int qubits;            /* widest register (m_{l-1} + m_l) */
  int nparams;
  int threads;           /* omp_get_max_threads() during the row */
  int reps;              /* repetitions of the cost evaluation actually timed (best of) */
  double build_s;        /* instance creation (Haar sampling, training data) */
  double cost_eval_s;    /* best of reps: copy input, run the circuit, evaluate the cost */
  double adjoint_grad_s; /* best of reps: cost and the full adjoint gradient */
  double grad_over_cost; /* adjoint_grad_s / cost_eval_s */
  double dense_over_factored; /* factored rows: dense cost_eval_s / this one (NAN if none) */
  double max_abs_grad;   /* sanity: largest |dC/dtheta| (finite, not all zero) */
} bps_bench_model_row;

/* Time the model rows for n = nmin..nmax (nmin >= 1), each measurement the best of reps
 * repetitions (>= 1): the first one cold (one call), the others looping for >= 0.2 s and
 * giving the mean per call; a measurement slower than 5 s is not repeated. Dense rows only for
 * n <= dense_nmax (<= BPS_BENCH_MODELS_DENSE_NMAX; pass a smaller value to skip the slow
 * ones, 0 for none). Allocates *rows (free() it); *nrows rows, factored and dense rows of
 * one n adjacent. */
int bps_bench_models(int nmin, int nmax, int dense_nmax, int reps, bps_bench_model_row **rows,
                     int *nrows);

/* A human-readable table (one line per row) and the goal summary. */
void bps_bench_models_print(FILE *out, const bps_bench_model_row *rows, int nrows);

/* The rows and the goal summary as one JSON object:
 * {"rows": [{"model": ..., "n": ..., "representation": ..., "qubits": ..., "nparams": ...,
 *   "threads": ..., "reps": ..., "build_s": ..., "cost_eval_s": ..., "adjoint_grad_s": ...,
 *   "grad_over_cost": ..., "dense_over_factored": ...}, ...],
 *  "goals": {"grad_over_cost_max": ..., "grad_over_cost_target": 4, "grad_met": ...,
 *   "speedup_min_over_target": ..., "speedup_met": ...}}
 * (null for non-finite numbers or goals without rows). */
int bps_bench_models_json(FILE *out, const bps_bench_model_row *rows, int nrows);

#endif

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
  char model[40]; /* e.g. "dqnn-haar n,n" */
  int n;          /* scanned qubit count */
  bps_repr repr;
  int qubits; /* widest register (m_{l-1} + m_l) */
  int nparams;
  int threads;                /* omp_get_max_threads() during the row */
  int reps;                   /* repetitions of the cost evaluation actually timed (best of) */
  double build_s;             /* instance creation (Haar sampling, training data) */
  double cost_eval_s;         /* best of reps: copy input, run the circuit, evaluate the cost */
  double adjoint_grad_s;      /* best of reps: cost and the full adjoint gradient */
  double grad_over_cost;      /* adjoint_grad_s / cost_eval_s */
  double dense_over_factored; /* factored rows: dense cost_eval_s / this one (NAN if none) */
  double max_abs_grad;        /* sanity: largest |dC/dtheta| (finite, not all zero) */
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

/* Per-sample gradient time against its memory-traffic bound, per perceptron family
 * (DQNN n,n: nisq, toy, brick, haar; zero data, global cost; factored) and thread count:
 * gates G (a run of rotations on the same qubits, a U3 or a CAN, is one gate), traffic =
 * 3 x sum over the gates of the state's bytes read + written (forward, then Lambda and A
 * backward), bound = traffic / the triad at that thread count (measured by the caller in
 * the same run), bound/grad = the fraction of the memory limit reached. */
typedef struct {
  char model[40];
  int n, threads, nparams;
  long gates;
  double bytes;      /* 3 x G x (read + write) of the state, summed over the gates */
  double triad_gbs;  /* the triad at this thread count */
  double grad_s;     /* best of 3 (1 above 5 s): cost and full adjoint gradient */
  double bound_s;    /* bytes / triad */
  double efficiency; /* bound_s / grad_s */
} bps_bench_traffic_row;

/* Rows for n = nmin..nmax and the nthr thread counts thr (triad_gbs[t] the triad at
 * thr[t]); allocates *rows (free() it). */
int bps_bench_traffic(int nmin, int nmax, int nthr, const int *thr, const double *triad_gbs,
                      bps_bench_traffic_row **rows, int *nrows);
void bps_bench_traffic_print(FILE *out, const bps_bench_traffic_row *rows, int nrows);
/* The rows as a JSON array of {"family", "n", "threads", "nparams", "gates",
 * "traffic_bytes", "triad_gbs", "grad_s", "bound_s", "bound_over_grad"}. */
int bps_bench_traffic_json(FILE *out, const bps_bench_traffic_row *rows, int nrows);

#endif

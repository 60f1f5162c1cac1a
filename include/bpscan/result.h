/* result: a finished scan in memory, as the driver hands it to h5io (the HDF5 schema is
 * documented in README "Result files"). Rank 0 owns it; all arrays are in sample order. */
#ifndef BPSCAN_RESULT_H
#define BPSCAN_RESULT_H

#include <stdint.h>

#include "bpscan/stats.h"

/* State diagnostics of the output state of pair 0 (visible subsystem for vh/qbm). */
enum { BPS_DIAG_PURITY = 0, BPS_DIAG_ENTROPY, BPS_DIAG_RENYI2, BPS_DIAG_TRACE_DISTANCE, BPS_NDIAG };
extern const char *const bps_diag_names[BPS_NDIAG]; /* "purity", "entropy", "renyi2",
                                                       "trace_distance" */

typedef struct {
  int n;                 /* scanned qubit count */
  long samples;          /* S */
  int nparams;           /* P_all: parameters of the model */
  int ntracked;          /* P: tracked parameters */
  int *tracked;          /* [P] indices into the parameter vector */
  char **param_names;    /* [P_all] */
  int q_in, q_out;       /* register widths */
  int diag_qubits;       /* qubits of the diagnosed state */
  const char *representation; /* "dense" | "factored" */
  double *cost;          /* [S] */
  double *grad;          /* [S * P] row-major */
  double *diag;          /* [S * BPS_NDIAG] row-major */
  double *params;        /* [S * P_all] row-major, or NULL (store_samples = false) */
  /* statistics (stats.h) */
  bps_stats cost_stats;
  bps_stats *grad_stats;            /* [P] */
  bps_stats diag_stats[BPS_NDIAG];
  double grad_var_mean, grad_var_mean_se; /* mean over tracked parameters of Var dC */
  double page_entropy, page_purity;       /* Haar prediction for the diagnosed state, or NaN */
  /* Array-job piece (bps_result.slice_count > 1): the sample indices (increasing) of the
   * rows above, stored as dataset sample_index [S]; NULL for a complete scan. The
   * statistics of a piece cover its own samples only. */
  long *sample_index;
  long samples_total;    /* the job's samples per n (= samples for a complete scan) */
} bps_result_n;

typedef struct {
  const char *job_text;  /* canonical job text after overrides */
  uint64_t job_hash;
  uint64_t seed;
  const char *model;     /* "dqnn", ... */
  const char *grad_method;
  int mpi_ranks, omp_threads;
  const char *host;
  double start_time, end_time; /* seconds since the epoch */
  double wall_plan, wall_compute, wall_reduce, wall_write;
  int slice_index, slice_count; /* array-job piece K of N (slice_count <= 1: whole scan) */
  int nn;                /* number of qubit counts */
  bps_result_n *per_n;   /* [nn], increasing n */
} bps_result;

/* Fill the statistics of r (cost_stats, grad_stats (allocated by the caller, [P]),
 * diag_stats, grad_var_mean and its SE) from its per-sample arrays, in sample order. The
 * driver and `bpscan merge` both use this, so a merged file equals a single run. */
int bps_result_n_stats(bps_result_n *r);

#endif

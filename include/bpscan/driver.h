/* driver: `bpscan run` and `bpscan check`: plan -> calibrate -> compute -> reduce -> write.
 *
 * Work unit: (n, block of samples). Every sample is a pure function of (job, n, sample)
 * (model.h), blocks are assigned to ranks by a measured cost model, and rank 0 reads
 * all per-sample records in sample order, window by window, and computes the statistics in
 * that order, so the result file does not depend on the number of ranks or threads, nor on
 * the assignment.
 *
 * Nothing lost: every rank writes the blocks it has completed to its own checkpoint file
 * in OUT.h5.ckpt/ (atomically, at most every checkpoint_seconds, and at once on SIGTERM,
 * SIGINT or SIGUSR1); `--resume` (or SLURM_RESTART_COUNT >= 1) reads all checkpoint files
 * of the same job and computes only the missing blocks.
 *
 * src/driver.c orchestrates the internal modules src/plan.c (plans, memory model,
 * calibration), assign.c (task -> rank), ckpt.c (checkpoint files), sample.c (one sample
 * -> one record), progress.c, gather.c (agreement, host names, windows of records to
 * rank 0), assemble.c (the streamed reduction and the file) and predict.c (`check
 * --ranks`); landscape fields come from landfields.h.
 *
 * Errors and exit codes: both functions return BPS_OK or a bps_err code (error.h) with a
 * traceback on the rank(s) that failed; the command turns it into the process exit code
 * with bps_exit_code (README "Exit codes"):
 *   0 success; 1 runtime error (numerical, memory, I/O, MPI); 2 bad command line or invalid
 *   job (BPS_ERR_USAGE, BPS_ERR_JOB); 3 the output exists (BPS_ERR_EXISTS); 4 a checkpoint
 *   of another job, corrupt, or of an earlier run without --resume (BPS_ERR_CHECKPOINT);
 *   5 a task too big for one rank or beyond a size limit (BPS_ERR_TOO_BIG); 6 the output
 *   path is unusable: its directory is missing, not a directory or not writable, or the
 *   output is a directory (BPS_ERR_OUTPUT); 75 stopped by a signal with the checkpoint
 *   written (BPS_ERR_INTERRUPTED).
 */
#ifndef BPSCAN_DRIVER_H
#define BPSCAN_DRIVER_H

#include <stdint.h>
#include <stdio.h>

#include "bpscan/error.h"
#include "bpscan/model.h"

#define BPS_MAX_SCAN_N 64
#define BPS_MAX_PREDICT 32

typedef struct {
  bps_model_spec model;
  int nq;
  int qubits[BPS_MAX_SCAN_N];
  long samples;
  uint64_t seed;
  int block;
  int repr; /* -1 auto, BPS_DENSE or BPS_FACTORED */
  bps_grad_method method;
  const char *params;     /* "all" | "first" | "last" | comma list of names */
  char params_where[320]; /* where params was set ("job.ini:12", "--set ..."), for messages */
  /* [scan] mode = landscape: every sample also gets FFT cuts (landscape.h) through its
   * parameters; the cuts move the tracked parameters ("params") only */
  int landscape;       /* 0 gradient scan, 1 landscape scan */
  int land_directions; /* BPS_LAND_RANDOM | BPS_LAND_AXES | BPS_LAND_PLANE (job.h) */
  int land_pad;        /* fine-grid factor (bps_cut_analyse pad) */
  /* [scan] mode = moments: no sampling; the exact moments of the ensemble (moments.h).
   * Work units are (n, block of `block` items): item 0 = E[C], Var C and the purity, item
   * 1 + k = E and Var of d C / d theta of tracked parameter k. */
  int moments;         /* 1: moments scan */
  int mom_engine;      /* bps_mom_engine (BPS_MOM_AUTO ...) */
  long mom_truncation; /* Pauli-pair budget for certified bounds; 0 = exact */
  const char *out_path;
  int store_samples;
  int diagnostics; /* 1: state diagnostics per sample; 0: NaN columns */
  double checkpoint_seconds;
  const char *job_text; /* canonical job text (stored in the result, hashed) */
  uint64_t job_hash;
  const char *model_name; /* "dqnn", ... */
  int resume, force;
  /* Array-job piece: compute only blocks b with (global block number) % slice_count ==
   * slice_index, and write a partial file for `bpscan merge`. slice_count <= 1: all. */
  int slice_index, slice_count; /* slice_count <= BPS_MAX_SLICES */
  /* `bpscan check --ranks N,...`: predict the run on these rank counts (predict.h). */
  int npredict;
  int predict[BPS_MAX_PREDICT];
} bps_scan_config;

/* Install SIGTERM/SIGINT/SIGUSR1 handlers (call before MPI_Init). */
void bps_driver_install_signals(void);
/* Run the scan. Collective; every rank returns the same code, except after a signal
 * (BPS_ERR_INTERRUPTED, returned at once without waiting for the other ranks). */
int bps_scan_run(const bps_scan_config *cfg);
/* Plan, check the memory, calibrate (collective) and print the plan to out, with the
 * prediction for cfg->predict rank counts (rank 0 measures); BPS_OK, or BPS_ERR_TOO_BIG
 * after printing the refusal. */
int bps_scan_check(const bps_scan_config *cfg, FILE *out);

#endif

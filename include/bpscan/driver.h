/* driver: `bpscan run` and `bpscan check`: plan -> calibrate -> compute -> reduce -> write.
 *
 * Work unit: (n, block of samples). Every sample is a pure function of (job, n, sample)
 * (model.h), blocks are assigned to ranks by a measured cost model, and rank 0 gathers
 * all per-sample records and computes the statistics in sample order, so the result file
 * does not depend on the number of ranks or threads, nor on the assignment.
 *
 * Nothing lost: every rank writes the blocks it has completed to its own checkpoint file
 * in OUT.ckpt/ (atomically, at most every checkpoint_seconds, and at once on SIGTERM,
 * SIGINT or SIGUSR1); `--resume` (or SLURM_RESTART_COUNT >= 1) reads all checkpoint files
 * of the same job and computes only the missing blocks.
 */
#ifndef BPSCAN_DRIVER_H
#define BPSCAN_DRIVER_H

#include <stdint.h>
#include <stdio.h>

#include "bpscan/model.h"

#define BPS_MAX_SCAN_N 64

/* Process exit codes of `bpscan run` (README "Exit codes"). */
enum {
  BPS_EXIT_OK = 0,
  BPS_EXIT_ERROR = 1,       /* runtime error (numerical, memory, I/O, MPI) */
  BPS_EXIT_USAGE = 2,       /* bad command line or invalid job file */
  BPS_EXIT_EXISTS = 3,      /* the output exists and --force was not given */
  BPS_EXIT_CHECKPOINT = 4,  /* checkpoint of another job, or corrupt */
  BPS_EXIT_TOO_BIG = 5,     /* a task cannot fit in the memory of one rank (check) */
  BPS_EXIT_INTERRUPTED = 75 /* stopped by a signal; checkpoint written; rerun with --resume */
};

typedef struct {
  bps_model_spec model;
  int nq;
  int qubits[BPS_MAX_SCAN_N];
  long samples;
  uint64_t seed;
  int block;
  int repr;                 /* -1 auto, BPS_DENSE or BPS_FACTORED */
  bps_grad_method method;
  const char *params;       /* "all" | "first" | "last" | comma list of names */
  /* [scan] mode = landscape: every sample also gets FFT cuts (landscape.h) through its
   * parameters; the cuts move the tracked parameters ("params") only */
  int landscape;            /* 0 gradient scan, 1 landscape scan */
  int land_directions;      /* BPS_LAND_RANDOM | BPS_LAND_AXES | BPS_LAND_PLANE (job.h) */
  int land_pad;             /* fine-grid factor (bps_cut_analyse pad) */
  const char *out_path;
  int store_samples;
  double checkpoint_seconds;
  const char *job_text;     /* canonical job text (stored in the result, hashed) */
  uint64_t job_hash;
  const char *model_name;   /* "dqnn", ... */
  int resume, force;
  /* Array-job piece: compute only blocks b with (global block number) % slice_count ==
   * slice_index, and write a partial file for `bpscan merge`. slice_count <= 1: all. */
  int slice_index, slice_count;
} bps_scan_config;

/* Install SIGTERM/SIGINT/SIGUSR1 handlers (call before MPI_Init). */
void bps_driver_install_signals(void);
/* Run the scan; returns a BPS_EXIT_* code (errors printed on rank 0). Collective. */
int bps_scan_run(const bps_scan_config *cfg);
/* Print the plan without computing (rank 0 only); returns a BPS_EXIT_* code. */
int bps_scan_check(const bps_scan_config *cfg, FILE *out);

#endif

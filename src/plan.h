/* plan (internal to the driver): what a scan computes, decided before computing.
 *
 * Per qubit count n (bps_plan_n): the shape of its instances (parameters and their names,
 * the tracked set, register widths, the diagnosed qubits, the Page environment), the
 * representation, the record of one sample (the layout below), the landscape fields, the
 * estimated peak memory of one sample and, after bps_plan_calibrate, the thread mode and
 * the time per sample. Across qubit counts: the work units (tasks), the blocks of
 * cfg->block samples of every n, numbered n by n in increasing n (task_off[i] = the
 * number of the first block of n index i), which is the order of the checkpoint files,
 * the slices of an array job and the gathered result.
 *
 * Record of one sample (rec_len doubles):
 *   [0] cost | [off_grad] grad of the P tracked parameters | [off_diag] BPS_NDIAG
 *   diagnostics | [off_params] all parameters (store_samples only) | [off_land] the
 *   landscape tail (landfields.h; landscape scans only)
 * Exact-moments scans (cfg->moments) have items instead of samples (momtask.h): 1 + P per
 * n, records of BPS_MOMREC_LEN doubles (result.h), blocks of cfg->block items; the plan
 * holds the ensemble instance and the prepared problem (moments.h) of every n.
 */
#ifndef BPSCAN_PLAN_H
#define BPSCAN_PLAN_H

#include <stdio.h>

#include "bpscan/driver.h"
#include "bpscan/landfields.h"
#include "bpscan/moments.h"

/* The records of one task: count x rec_len doubles, or rec = NULL (not computed yet). */
typedef struct {
  double *rec;
  int count;
} bps_block;

typedef struct {
  int n;
  int nparams, ntracked;
  int *tracked; /* [ntracked] indices into the parameter vector */
  char **names; /* [nparams] parameter names */
  int q_in, q_out, diag_qubits;
  double page_db; /* Page environment dimension (model.h), 0: none */
  bps_repr repr;
  int off_grad, off_diag, off_params, off_land, rec_len; /* the record layout above */
  bps_landfields *land; /* landscape fields, NULL for gradient scans */
  long nblocks;
  double mem_dense, mem_factored; /* estimated peak bytes of one sample */
  int per_sample;                 /* calibrated: 1 one sample per thread, 0 all threads in one */
  double t_sample; /* calibrated seconds per sample (per thread in that mode) or, in
                              moments scans, per item */
  double t_calib;  /* seconds the calibration of this n took (on rank i % size) */
  /* exact-moments scans */
  bps_model_instance *ens; /* the model's ensemble at n (owned) */
  bps_mom *mom;            /* its prepared problem (owned) */
  long nitems;             /* 1 + ntracked */
  double mom_seconds;      /* the engine's prediction for one gradient item */
} bps_plan_n;

typedef struct {
  const bps_scan_config *cfg;
  int nn;
  bps_plan_n *pn; /* [nn], increasing n */
  long ntasks;
  long *task_off; /* [nn + 1] */
} bps_plan;

/* Plan every n from its instance of sample 0 (every rank alike; no communication).
 * BPS_ERR_JOB for a job the model cannot do. On failure *p is freed. */
int bps_plan_make(const bps_scan_config *cfg, bps_plan *p);
void bps_plan_free(bps_plan *p); /* NULL-safe, idempotent */

/* Units (samples, or items in moments scans) in block b of n index i. */
long bps_plan_block_count(const bps_plan *p, int i, long b);
/* The n index of task t. */
int bps_plan_task_n(const bps_plan *p, long t);

/* Estimated peak bytes of one sample of pn in its representation. */
double bps_plan_need(const bps_plan_n *pn);
/* Bytes one rank may use: this host's memory shared by the ranks (a conservative bound). */
double bps_plan_rank_memory(void);
/* Bytes of records (8 x samples x rec_len over every n, this file's slice) one rank holds
 * until the reduction, on average over the ranks. */
double bps_plan_records(const bps_plan *p);
/* BPS_ERR_TOO_BIG naming the first n whose sample, besides the rank's records, cannot fit
 * in one rank. */
int bps_plan_fits(const bps_plan *p);

/* Time sample 0 of every n (n index i on rank i % size) with all threads inside the state
 * and, with several threads, samples 0..T-1 at once, one per thread (as the run computes
 * them: concurrent samples share the memory bandwidth); choose the faster thread mode and
 * share the times (per_sample, t_sample, t_calib). Collective. */
int bps_plan_calibrate(bps_plan *p);

/* `bpscan check`: the plan table (widths, parameters, memory in both representations, the
 * chosen one, thread mode, estimated time, landscape cuts), refusals included. calibrated
 * = 0 prints "-" for the calibrated columns. */
void bps_plan_print(const bps_plan *p, int calibrated, FILE *out);

#endif

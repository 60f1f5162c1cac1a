/* predict (internal to the driver): `bpscan check --ranks N[,N...]`, the predicted wall time
 * and parallel efficiency of the scan on N ranks (README "Scaling model").
 *
 * Per-sample costs are measured here (rank 0): warm samples of every n run as the scan
 * runs them (bps_sample_block, in the calibrated thread mode), their mean time per sample.
 * The model of a run on N ranks of T threads:
 *   calibration  the slowest rank's calibration samples (n index i on rank i mod N);
 *   compute      the real assignment (assign.c: LPT on the calibrated costs, as the driver
 *                makes it), each rank's load at the measured costs, the largest load;
 *   reduce       the windowed gather to rank 0 (assemble.c: passes A, B, C) at the network
 *                bandwidth plus a latency per collective, rank 0's copies and statistics (the
 *                bytes of the three passes at a rate measured on the CI machine), the chunk
 *                encoding (deflate speed measured here) on the
 *                encoder ranks (all of them up to 2 ranks, else N - 1, at most as many as
 *                chunks per round of 32 MiB; no faster than its largest chunk), the encoded
 *                bytes to disk;
 *   total        calibration + compute + reduce (the column "network" holds the reduction's
 *                transfers at the network bandwidth, "reduce" the rest); efficiency
 *                T(1) / (N T(N)).
 * The column "this host" runs N x T threads on this machine's cores that other processes
 * leave idle now (/proc/stat over 0.3 s): beyond them every thread gets idle / (N T) of a
 * core, and the whole run slows down by that factor. Network, memory and disk bandwidths
 * are assumptions printed with the table.
 * Also the block size that keeps the compute balance high on the largest N. */
#ifndef BPSCAN_PREDICT_H
#define BPSCAN_PREDICT_H

#include <stdio.h>

#include "plan.h"

/* Assumed bandwidths (bytes/s) and latency (s) of the reduction model; the environment
 * variables BPSCAN_PREDICT_NET_GBS, _MEM_GBS and _DISK_GBS (GB/s) override the first three. */
#define BPS_PREDICT_NET 5e9 /* rank-to-rank: shared memory, or InfiniBand class */
#define BPS_PREDICT_MEM                                                                         \
  1.7e9                       /* rank 0's reduction: bytes of the three passes per second
                                 (one core; measured on the CI machine, a 1-rank run) */
#define BPS_PREDICT_DISK 1e9  /* the result file's bytes to its file system */
#define BPS_PREDICT_LAT 20e-6 /* per collective and log2 of the ranks */

/* Print the prediction table for the ranks[0..nranks-1] to out (rank 0; the plan must be
 * calibrated). Not collective. */
int bps_predict(const bps_plan *p, const int *ranks, int nranks, FILE *out);

#endif

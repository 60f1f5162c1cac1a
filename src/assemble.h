/* assemble (internal to the driver): the reduction of a scan and its result file.
 *
 * The records stay where they were computed (or, restored from a checkpoint, on rank 0)
 * until the end; then, per qubit count in increasing n, three passes read them in sample
 * order, window by window (gather.c bps_gather_window: at most BPS_REDUCE_WINDOW values
 * per window on rank 0):
 *   A  every column: the rows go to the file (h5io's streamed writer), and the first pass
 *      of every statistic (sums, minima, maxima);
 *   B  cost, gradient, diagnostics and landscape fields: the second pass (central
 *      moments), and the sum of z_s = (1/P) sum_p (g_sp - mean_p)^2 S/(S-1);
 *   C  the gradient again: the deviations of z_s (grad_var_mean_se); only for S >= 2, P >= 1.
 * stats.h's accumulator makes these the numbers of bps_result_n_stats on the whole arrays,
 * bitwise (the statistics `bpscan merge` computes), so the file does not depend on the
 * number of ranks. Rank 0 holds one window, one block of rows for the writer and the
 * writer's chunks: its memory does not grow with the number of samples (beyond the records
 * it computed itself). */
#ifndef BPSCAN_ASSEMBLE_H
#define BPSCAN_ASSEMBLE_H

#include "bpscan/result.h"
#include "plan.h"

/* Values (doubles) of packed records per window of the reduction (16 MiB). */
#define BPS_REDUCE_WINDOW (2L << 20)
/* Bytes of full chunks rank 0 collects before a round of parallel encoding (32 MiB: about
 * 32 chunks, so up to 32 ranks encode at once). */
#define BPS_REDUCE_ROUND (32L << 20)

/* Rank 0: the result's header from the plan: job text and hash, seed, model, gradient
 * method, ranks, threads, the slice; every string malloc'ed (free with
 * bps_h5_result_free, also after a failure). No per_n yet. */
int bps_assemble_head(const bps_plan *p, bps_result *res);

/* Collective. The reduction above and the file p->cfg->out_path (written atomically by
 * rank 0, who also needs res's header and provenance: start time, wall_plan,
 * wall_compute, host, hosts). holder[t] = the rank holding task t's records in
 * blocks[t] (-1: not in this file). Rank 0 fills res->per_n (shapes and statistics, no
 * per-sample arrays), end_time (when the last row is written), wall_reduce (the reduction
 * but the writer's own time) and records the writer's time as wall_write. */
int bps_assemble_write(const bps_plan *p, const bps_block *blocks, const int *holder,
                       bps_result *res);

#endif

/* assign (internal to the driver): which rank computes which task. A pure function of its
 * arguments, so every rank computes the same assignment without communicating. Results
 * never depend on it (every sample is a pure function of (job, n, sample) and rank 0
 * reduces in sample order); it only balances the work. */
#ifndef BPSCAN_ASSIGN_H
#define BPSCAN_ASSIGN_H

/* Whether task t belongs to array-job piece slice_index of slice_count (slice_count <= 1:
 * every task does). */
int bps_slice_has(int slice_index, int slice_count, long t);

/* Longest-processing-time assignment of the open tasks (open[t] != 0) of ntasks to size
 * ranks: in decreasing cost (ties: lower task number first) each goes to the least loaded
 * rank (ties: the lower rank). owner[t] = that rank, or -1 for tasks that are not open. */
int bps_assign_lpt(long ntasks, const double *cost, const unsigned char *open, int size,
                   int *owner);

#endif

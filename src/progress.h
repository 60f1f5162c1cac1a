/* progress (internal to the driver): rank 0's progress line on stderr (samples done, rate,
 * ETA): a live line on a terminal (at most every 0.5 s), a plain line every 30 s in batch
 * logs. */
#ifndef BPSCAN_PROGRESS_H
#define BPSCAN_PROGRESS_H

typedef struct {
  int tty;
  double start, last; /* bps_wtime() seconds */
  long done, total;   /* samples (or items of a moments scan) */
  const char *unit;   /* "samples" | "items" */
} bps_progress;

void bps_progress_start(bps_progress *pr, long total, const char *unit);
/* Count `samples` more done (at qubit count n) and show the line when it is due; final = 1
 * shows it now and ends a terminal line. */
void bps_progress_add(bps_progress *pr, long samples, int n, int final);

#endif

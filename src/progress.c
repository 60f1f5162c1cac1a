/* progress: the progress line of rank 0 (see progress.h). */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "bpscan/threads.h"

void bps_progress_start(bps_progress *pr, long total, const char *unit) {
  pr->unit = unit;
  pr->tty = isatty(2);
  pr->start = bps_wtime();
  pr->last = -1e300;
  pr->done = 0;
  pr->total = total;
}

void bps_progress_add(bps_progress *pr, long samples, int n, int final) {
  pr->done += samples;
  double t = bps_wtime();
  double interval = pr->tty ? 0.5 : 30.0;
  if (!final && t - pr->last < interval) return;
  pr->last = t;
  double el = t - pr->start, rate = el > 0 ? pr->done / el : 0;
  double eta = rate > 0 ? (pr->total - pr->done) / rate : 0;
  char line[256];
  snprintf(line, sizeof line,
           "[bpscan] rank 0: %ld/%ld %s (%.0f%%), n = %d, %.1f %s/s, elapsed %.0fs, ETA %.0fs",
           pr->done, pr->total, pr->unit, pr->total ? 100.0 * pr->done / pr->total : 100.0, n,
           rate, pr->unit, el, eta);
  if (pr->tty) fprintf(stderr, "\r%-110s%s", line, final ? "\n" : "");
  else fprintf(stderr, "%s\n", line);
  fflush(stderr);
}

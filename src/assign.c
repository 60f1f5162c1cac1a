/* assign: array-job slices and the longest-processing-time assignment (see assign.h). */
#include "assign.h"

#include <stdlib.h>

#include "bpscan/error.h"

int bps_slice_has(int slice_index, int slice_count, long t) {
  return slice_count <= 1 || t % slice_count == slice_index;
}

typedef struct {
  double cost;
  long t;
} task_cost;

/* Decreasing cost, then increasing task number: a total order, so the sort is
 * deterministic. */
static int by_cost(const void *pa, const void *pb) {
  const task_cost *a = pa, *b = pb;
  if (a->cost != b->cost) return a->cost < b->cost ? 1 : -1;
  return (a->t > b->t) - (a->t < b->t);
}

int bps_assign_lpt(long ntasks, const double *cost, const unsigned char *open, int size,
                   int *owner) {
  int rc = BPS_OK;
  task_cost *order = malloc(sizeof(task_cost) * (size_t)(ntasks > 0 ? ntasks : 1));
  double *load = calloc((size_t)(size > 0 ? size : 1), sizeof(double));
  BPS_CHECK_GOTO(order && load && size >= 1, order && load ? BPS_ERR_ARG : BPS_ERR_MEM,
                 "cannot assign %ld tasks to %d ranks", ntasks, size);
  long m = 0;
  for (long t = 0; t < ntasks; t++) {
    owner[t] = -1;
    if (open[t]) order[m++] = (task_cost){cost[t], t};
  }
  qsort(order, (size_t)m, sizeof *order, by_cost);
  for (long a = 0; a < m; a++) {
    int best = 0;
    for (int r = 1; r < size; r++)
      if (load[r] < load[best]) best = r;
    owner[order[a].t] = best;
    load[best] += order[a].cost;
  }
cleanup:
  free(order);
  free(load);
  return rc;
}

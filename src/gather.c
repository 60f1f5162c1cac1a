/* gather: phase agreement and the gather of the computed blocks (see gather.h). */
#include "gather.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/comm.h"
#include "bpscan/error.h"

int bps_agree(int rc) {
  const int size = bps_comm_size();
  if (size == 1) return rc;
  int *all = malloc(sizeof(int) * (size_t)size);
  if (!all) bps_comm_abort(BPS_EXIT_ERROR); /* cannot take part: end every rank */
  if (bps_comm_allgather_int(&rc, 1, all)) {
    free(all);
    return rc ? rc : BPS_ERR_MPI;
  }
  int first = -1;
  for (int r = 0; r < size && first < 0; r++)
    if (all[r]) first = r;
  const int code = first >= 0 ? all[first] : BPS_OK;
  free(all);
  if (rc || !code) return rc;
  /* another rank failed and printed its message: rank 0 says which (the rank that
   * prints a traceback whatever it holds), the others stay quiet */
  if (bps_comm_rank() == 0) BPS_FAIL(code, "rank %d failed (see its message)", first);
  return code;
}

/* The buffers of one gather. */
typedef struct {
  double *packed, *all;
  int mylen, *lens, *counts;
} gather_bufs;

/* This rank's blocks in g->packed as [task, count, count x rec_len records] one after the
 * other, and the per-rank arrays of the gather. */
static int pack(const bps_plan *p, const bps_block *blocks, const unsigned char *mine,
                gather_bufs *g) {
  size_t len = 0, off = 0;
  for (long t = 0; t < p->ntasks; t++)
    if (mine[t]) len += 2 + (size_t)blocks[t].count * (size_t)p->pn[bps_plan_task_n(p, t)].rec_len;
  BPS_CHECK(len < (size_t)INT_MAX, BPS_ERR_MEM, "too much data on one rank for one gather");
  g->packed = malloc(sizeof(double) * (len ? len : 1));
  g->lens = calloc((size_t)bps_comm_size(), sizeof(int));
  g->counts = calloc((size_t)bps_comm_size(), sizeof(int));
  BPS_CHECK(g->packed && g->lens && g->counts, BPS_ERR_MEM, "out of memory");
  for (long t = 0; t < p->ntasks; t++)
    if (mine[t]) {
      size_t nd = (size_t)blocks[t].count * (size_t)p->pn[bps_plan_task_n(p, t)].rec_len;
      g->packed[off++] = (double)t;
      g->packed[off++] = blocks[t].count;
      memcpy(g->packed + off, blocks[t].rec, nd * sizeof(double));
      off += nd;
    }
  g->mylen = (int)len;
  return BPS_OK;
}

/* Rank 0: room for the gathered total. */
static int alloc_all(long total, gather_bufs *g) {
  g->all = malloc(sizeof(double) * (size_t)(total ? total : 1));
  BPS_CHECK(g->all, BPS_ERR_MEM, "out of memory gathering %ld values", total);
  return BPS_OK;
}

/* Rank 0: the blocks of the gathered buffer (total doubles) that are not its own. */
static int unpack(const bps_plan *p, bps_block *blocks, const unsigned char *mine,
                  const double *all, long total) {
  for (size_t o = 0; (long)o < total;) {
    long t = (long)all[o];
    int cnt = (int)all[o + 1];
    o += 2;
    size_t nd = (size_t)cnt * (size_t)p->pn[bps_plan_task_n(p, t)].rec_len;
    if (!blocks[t].rec || !mine[t]) { /* other ranks' blocks: disjoint from rank 0's */
      free(blocks[t].rec);
      blocks[t].rec = malloc(sizeof(double) * nd);
      BPS_CHECK(blocks[t].rec, BPS_ERR_MEM, "out of memory gathering");
      memcpy(blocks[t].rec, all + o, nd * sizeof(double));
      blocks[t].count = cnt;
    }
    o += nd;
  }
  return BPS_OK;
}

int bps_gather_blocks(const bps_plan *p, bps_block *blocks, const unsigned char *mine) {
  int rc = BPS_OK, rank = bps_comm_rank();
  gather_bufs g = {NULL, NULL, 0, NULL, NULL};
  long total = 0;
  rc = pack(p, blocks, mine, &g);
  BPS_CALL_GOTO(bps_agree(rc));
  BPS_CALL_GOTO(bps_comm_allgather_int(&g.mylen, 1, g.lens));
  for (int r = 0; r < bps_comm_size(); r++) total += g.lens[r];
  if (rank == 0) rc = alloc_all(total, &g);
  BPS_CALL_GOTO(bps_agree(rc));
  BPS_CALL_GOTO(bps_comm_gatherv_f64(g.packed, g.mylen, g.all, g.counts, 0));
  if (rank == 0) BPS_CALL_GOTO(unpack(p, blocks, mine, g.all, total));
cleanup:
  free(g.packed);
  free(g.all);
  free(g.lens);
  free(g.counts);
  return rc;
}

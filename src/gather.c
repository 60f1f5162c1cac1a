/* gather: phase agreement and the gather of the computed blocks (see gather.h). */
#include "gather.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ------------------------------------------------------------------ host names */

/* Append "a" or "a-b" (with a ',' before unless first) to buf at *len (room enough). */
static void put_range(char *buf, size_t *len, int a, int b, int first) {
  *len += (size_t)sprintf(buf + *len, a == b ? "%s%d" : "%s%d-%d", first ? "" : ",", a, b);
}

/* names[r * BPS_HOST_LEN] = rank r's host -> "name:ranks;..." (see gather.h). */
static int format_hosts(const char *names, int size, char **out) {
  int rc = BPS_OK;
  unsigned char *done = calloc((size_t)size, 1);
  /* each rank adds at most its name, ':' or ';', and ",r-r" (2 x 11 digits + 2) */
  char *buf = malloc((size_t)size * (BPS_HOST_LEN + 26) + 1);
  size_t len = 0;
  BPS_CHECK_GOTO(done && buf, BPS_ERR_MEM, "out of memory (host names of %d ranks)", size);
  buf[0] = '\0';
  for (int r = 0; r < size; r++) {
    if (done[r]) continue;
    const char *name = names + (size_t)r * BPS_HOST_LEN;
    len += (size_t)sprintf(buf + len, "%s%s:", len ? ";" : "", name);
    int first = 1, a = -1, b = -1;
    for (int q = r; q < size; q++) {
      if (done[q] || strcmp(name, names + (size_t)q * BPS_HOST_LEN)) continue;
      done[q] = 1;
      if (a >= 0 && q == b + 1) {
        b = q;
        continue;
      }
      if (a >= 0) put_range(buf, &len, a, b, first), first = 0;
      a = b = q;
    }
    put_range(buf, &len, a, b, first);
  }
  *out = buf;
  buf = NULL;
cleanup:
  free(done);
  free(buf);
  return rc;
}

static int have_memory(const void *p) {
  BPS_CHECK(p, BPS_ERR_MEM, "out of memory");
  return BPS_OK;
}

int bps_gather_hosts(char **hosts) {
  enum { NI = BPS_HOST_LEN / (int)sizeof(int) };
  int rc = BPS_OK, size = bps_comm_size();
  int mine[NI];
  int *all = malloc(sizeof(int) * NI * (size_t)size);
  char name[BPS_HOST_LEN + 1];
  *hosts = NULL;
  memset(name, 0, sizeof name);
  if (gethostname(name, BPS_HOST_LEN) != 0 || !name[0]) snprintf(name, sizeof name, "unknown");
  name[BPS_HOST_LEN - 1] = '\0';
  for (char *c = name; *c; c++) /* the separators of the list: never in a host name */
    if (*c == ':' || *c == ';' || *c == ',') *c = '_';
  memcpy(mine, name, BPS_HOST_LEN);
  BPS_CALL_GOTO(bps_agree(have_memory(all)));
  BPS_CALL_GOTO(bps_comm_allgather_int(mine, NI, all));
  if (bps_comm_rank() == 0) rc = format_hosts((const char *)all, size, hosts);
  BPS_CALL_GOTO(bps_agree(rc));
cleanup:
  free(all);
  return rc;
}

/* gather: phase agreement and the gather of the computed blocks (see gather.h). */
#include "gather.h"

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

/* ------------------------------------------------------------------ windows of records */

static int have_memory(const void *p) {
  BPS_CHECK(p, BPS_ERR_MEM, "out of memory");
  return BPS_OK;
}

int bps_window_init(const bps_plan *p, long cap, bps_window *w) {
  int rc = BPS_OK;
  const int size = bps_comm_size(), root = bps_comm_rank() == 0;
  long maxtasks = 1;
  memset(w, 0, sizeof *w);
  for (int i = 0; i < p->nn; i++)
    if (p->pn[i].nblocks > maxtasks) maxtasks = p->pn[i].nblocks;
  w->cap = cap;
  w->pack = malloc(sizeof(double) * (size_t)cap);
  w->counts = calloc((size_t)size, sizeof(int));
  w->at = calloc((size_t)size, sizeof(long));
  if (root) {
    w->buf = malloc(sizeof(double) * (size_t)cap);
    w->rec = calloc((size_t)maxtasks, sizeof(double *));
  }
  rc = have_memory(w->pack && w->counts && w->at && (!root || (w->buf && w->rec)) ? w : NULL);
  return bps_agree(rc);
}

void bps_window_free(bps_window *w) {
  if (!w) return;
  free(w->pack);
  free(w->buf);
  free(w->rec);
  free(w->counts);
  free(w->at);
  memset(w, 0, sizeof *w);
}

/* Records of task t in this file (0 for tasks not in it). */
static long task_records(const bps_plan *p, const int *holder, long t) {
  if (holder[t] < 0) return 0;
  const int i = bps_plan_task_n(p, t);
  return bps_plan_block_count(p, i, t - p->task_off[i]);
}

void bps_window_next(const bps_plan *p, const int *holder, int i, long t0, int width, long cap,
                     long *t1) {
  const long end = p->task_off[i + 1];
  long t = t0, used = 0;
  for (; t < end; t++) {
    long need = task_records(p, holder, t) * width;
    if (t > t0 && used + need > cap) break;
    used += need;
  }
  *t1 = t;
}

/* This rank's records of tasks [t0, t1), packed as cols into w->pack; *len doubles. */
static int pack_window(const bps_plan *p, const bps_block *blocks, const int *holder, long t0,
                       long t1, const bps_cols *cols, bps_window *w, long *len) {
  const int rank = bps_comm_rank(), rec_len = p->pn[bps_plan_task_n(p, t0)].rec_len;
  *len = 0;
  for (long t = t0; t < t1; t++) {
    if (holder[t] != rank) continue;
    BPS_CHECK(blocks[t].rec && blocks[t].count == task_records(p, holder, t), BPS_ERR_INTERNAL,
              "rank %d does not hold the records of task %ld", rank, t);
    BPS_CHECK(*len + (long)blocks[t].count * cols->width <= w->cap, BPS_ERR_INTERNAL,
              "window of tasks %ld..%ld overflows %ld values", t0, t1, w->cap);
    for (int k = 0; k < blocks[t].count; k++) {
      const double *r = blocks[t].rec + (size_t)k * rec_len;
      for (int c = 0; c < cols->nr; c++) {
        memcpy(w->pack + *len, r + cols->off[c], sizeof(double) * (size_t)cols->len[c]);
        *len += cols->len[c];
      }
    }
  }
  return BPS_OK;
}

/* Rank 0: the first record of every task of the window in w->rec, from the counts. */
static int map_window(const bps_plan *p, const int *holder, long t0, long t1, int width,
                      bps_window *w) {
  const int size = bps_comm_size();
  long end = 0;
  w->at[0] = 0;
  for (int r = 1; r < size; r++) w->at[r] = w->at[r - 1] + w->counts[r - 1]; /* rank order */
  for (long t = t0; t < t1; t++) {
    w->rec[t - t0] = holder[t] < 0 ? NULL : w->buf + w->at[holder[t]];
    if (holder[t] >= 0) w->at[holder[t]] += task_records(p, holder, t) * width;
  }
  for (int r = 0; r < size; r++) { /* every rank sent what the plan says it holds */
    end += w->counts[r];
    BPS_CHECK(w->at[r] == end, BPS_ERR_INTERNAL, "window %ld..%ld: rank %d sent %d values", t0,
              t1, r, w->counts[r]);
  }
  return BPS_OK;
}

int bps_gather_window(const bps_plan *p, const bps_block *blocks, const int *holder, long t0,
                      long t1, const bps_cols *cols, bps_window *w) {
  long len = 0;
  int rc = pack_window(p, blocks, holder, t0, t1, cols, w, &len);
  if (rc) len = 0; /* take part all the same: no rank waits for us */
  BPS_CALL(bps_comm_gatherv_f64(w->pack, (int)len, w->buf, w->counts, 0));
  BPS_CALL(rc);
  if (bps_comm_rank() == 0) BPS_CALL(map_window(p, holder, t0, t1, cols->width, w));
  return BPS_OK;
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

/* assemble: the streamed reduction and the result file (see assemble.h). */
#include "assemble.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "assign.h"
#include "bpscan/comm.h"
#include "bpscan/error.h"
#include "bpscan/h5io.h"
#include "bpscan/moments.h"
#include "bpscan/state.h"
#include "bpscan/stats.h"
#include "bpscan/threads.h"
#include "gather.h"

enum { PASS_A, PASS_B, PASS_C };

/* Where a pass's packed record has its columns (-1: not there), and how it is packed. */
typedef struct {
  bps_cols cols;
  int cost, grad, diag, land;
} view;

/* The accumulators of the qubit count being reduced (rank 0). */
typedef struct {
  bps_stats_acc cost, diag[BPS_NDIAG], z;
  bps_stats_acc *grad;                      /* [P] */
  bps_stats_acc *land[BPS_LAND_MAX_FIELDS]; /* [elems] for fields with statistics */
  long land_off[BPS_LAND_MAX_FIELDS];       /* each field's offset in the record tail */
  bps_result_n stage;                       /* pass A: the window's rows for the writer */
} acc_n;

static double epoch_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The packing of pass `pass` for the records of pn (plan.h layout). */
static view make_view(const bps_plan_n *pn, int pass) {
  view v;
  memset(&v, 0, sizeof v);
  const int P = pn->ntracked, tail = pn->rec_len - pn->off_land;
  v.cost = v.diag = v.land = -1;
  if (pass == PASS_A) { /* the whole record */
    v.cols.nr = 1, v.cols.off[0] = 0, v.cols.len[0] = pn->rec_len;
    v.cost = 0, v.grad = pn->off_grad, v.diag = pn->off_diag;
    v.land = pn->land ? pn->off_land : -1;
  } else if (pass == PASS_B) { /* the record without the parameters */
    v.cols.nr = tail > 0 ? 2 : 1;
    v.cols.off[0] = 0, v.cols.len[0] = pn->off_params;
    v.cols.off[1] = pn->off_land, v.cols.len[1] = tail;
    v.cost = 0, v.grad = pn->off_grad, v.diag = pn->off_diag;
    v.land = pn->land ? pn->off_params : -1;
  } else { /* the gradient */
    v.cols.nr = 1, v.cols.off[0] = pn->off_grad, v.cols.len[0] = P;
    v.grad = 0;
  }
  v.cols.width = v.cols.len[0] + (v.cols.nr > 1 ? v.cols.len[1] : 0);
  return v;
}

/* ------------------------------------------------------------------ shapes */

int bps_assemble_head(const bps_plan *p, bps_result *res) {
  const bps_scan_config *cfg = p->cfg;
  const int partial = cfg->slice_count > 1;
  res->slice_index = partial ? cfg->slice_index : 0;
  res->slice_count = partial ? cfg->slice_count : 1;
  res->job_text = strdup(cfg->job_text);
  res->job_hash = cfg->job_hash;
  res->seed = cfg->seed;
  res->model = strdup(cfg->model_name);
  res->grad_method = strdup(cfg->method == BPS_GRAD_SHIFT   ? "shift"
                            : cfg->method == BPS_GRAD_FUSED ? "fused"
                                                            : "adjoint");
  res->mpi_ranks = bps_comm_size();
  res->omp_threads = bps_threads_max();
  BPS_CHECK(res->job_text && res->model && res->grad_method, BPS_ERR_MEM, "out of memory");
  return BPS_OK;
}

/* Samples of n index i in this file. */
static long file_samples(const bps_plan *p, const int *holder, int i) {
  long S = 0;
  for (long b = 0; b < p->pn[i].nblocks; b++)
    if (holder[p->task_off[i] + b] >= 0) S += bps_plan_block_count(p, i, b);
  return S;
}

/* r = the shape of pn with S samples (own copies; no per-sample arrays), its gradient
 * statistics array and Page predictions. */
static int shape_n(const bps_scan_config *cfg, const bps_plan_n *pn, long S, bps_result_n *r) {
  const int P = pn->ntracked, PA = pn->nparams;
  r->samples_total = cfg->samples;
  r->n = pn->n;
  r->samples = S;
  r->nparams = PA;
  r->ntracked = P;
  r->q_in = pn->q_in;
  r->q_out = pn->q_out;
  r->diag_qubits = pn->diag_qubits;
  r->representation = strdup(bps_repr_name(pn->repr));
  r->tracked = malloc(sizeof(int) * (size_t)(P > 0 ? P : 1));
  r->param_names = calloc((size_t)(PA > 0 ? PA : 1), sizeof(char *));
  r->grad_stats = calloc((size_t)(P > 0 ? P : 1), sizeof(bps_stats));
  BPS_CHECK(r->representation && r->tracked && r->param_names && r->grad_stats, BPS_ERR_MEM,
            "out of memory");
  memcpy(r->tracked, pn->tracked, sizeof(int) * (size_t)P);
  for (int k = 0; k < PA; k++)
    BPS_CHECK(r->param_names[k] = strdup(pn->names[k]), BPS_ERR_MEM, "out of memory");
  if (pn->land) BPS_CALL(bps_landscape_n_alloc(&pn->land->layout, 0, &r->land));
  double da = ldexp(1.0, pn->diag_qubits);
  r->page_entropy = pn->page_db > 0 ? bps_page_entropy(da, pn->page_db) : NAN;
  r->page_purity = pn->page_db > 0 ? bps_page_purity(da, pn->page_db) : NAN;
  return BPS_OK;
}

static void acc_free(acc_n *a) {
  free(a->grad);
  for (int q = 0; q < BPS_LAND_MAX_FIELDS; q++) free(a->land[q]);
  bps_landscape_n_free(a->stage.land);
  free(a->stage.land);
  free(a->stage.cost);
  free(a->stage.grad);
  free(a->stage.diag);
  free(a->stage.params);
  free(a->stage.sample_index);
  free(a->stage.grad_stats);
  memset(a, 0, sizeof *a);
}

/* The accumulators of pn, and a stage of `rows` rows for the writer. */
static int acc_init(const bps_scan_config *cfg, const bps_plan_n *pn, long rows, acc_n *a) {
  const int P = pn->ntracked;
  memset(a, 0, sizeof *a);
  bps_stats_acc_init(&a->cost);
  bps_stats_acc_init(&a->z);
  for (int k = 0; k < BPS_NDIAG; k++) bps_stats_acc_init(&a->diag[k]);
  a->grad = malloc(sizeof(bps_stats_acc) * (size_t)(P > 0 ? P : 1));
  BPS_CHECK(a->grad, BPS_ERR_MEM, "out of memory");
  for (int q = 0; q < P; q++) bps_stats_acc_init(&a->grad[q]);
  const bps_landscape_n *l = pn->land ? &pn->land->layout : NULL;
  for (int f = 0, off = 0; l && f < l->nfield; f++) {
    const long e = bps_land_field_elems(&l->field[f]);
    a->land_off[f] = off;
    off += (int)e;
    if (!l->field[f].stats) continue;
    a->land[f] = malloc(sizeof(bps_stats_acc) * (size_t)e);
    BPS_CHECK(a->land[f], BPS_ERR_MEM, "out of memory");
    for (long k = 0; k < e; k++) bps_stats_acc_init(&a->land[f][k]);
  }
  a->stage.n = pn->n;
  a->stage.samples = rows;
  a->stage.ntracked = P;
  a->stage.nparams = pn->nparams;
  BPS_CALL(bps_result_n_alloc(&a->stage, cfg->store_samples, cfg->slice_count > 1, l));
  return BPS_OK;
}

/* ------------------------------------------------------------------ passes */

/* Pass A on one record (sample `sample`, stage row `row`): the row for the writer, the
 * first pass of every statistic. */
static void record_a(const bps_plan_n *pn, acc_n *a, long row, long sample, const double *rec) {
  bps_result_n *r = &a->stage;
  const int P = pn->ntracked, PA = pn->nparams;
  if (r->sample_index) r->sample_index[row] = sample;
  r->cost[row] = rec[0];
  memcpy(r->grad + row * P, rec + pn->off_grad, sizeof(double) * (size_t)P);
  memcpy(r->diag + row * BPS_NDIAG, rec + pn->off_diag, sizeof(double) * BPS_NDIAG);
  if (r->params) memcpy(r->params + row * PA, rec + pn->off_params, sizeof(double) * (size_t)PA);
  if (r->land) bps_landfields_put(r->land, row, rec + pn->off_land);
  bps_stats_acc_add1(&a->cost, rec[0]);
  for (int q = 0; q < P; q++) bps_stats_acc_add1(&a->grad[q], rec[pn->off_grad + q]);
  for (int k = 0; k < BPS_NDIAG; k++) bps_stats_acc_add1(&a->diag[k], rec[pn->off_diag + k]);
  for (int f = 0; r->land && f < r->land->nfield; f++) {
    if (!a->land[f]) continue;
    const double *x = rec + pn->off_land + a->land_off[f];
    for (long k = 0; k < bps_land_field_elems(&r->land->field[f]); k++)
      bps_stats_acc_add1(&a->land[f][k], x[k]);
  }
}

/* z_s of one record's gradient g (bps_result_n_stats: the parameter-averaged variance). */
static double z_of(const acc_n *a, const double *g, int P, long S) {
  double acc = 0;
  for (int q = 0; q < P; q++) {
    double d = g[q] - a->grad[q].mean;
    acc += d * d;
  }
  return acc / P * (double)S / (double)(S - 1);
}

/* Pass B on one record packed as v: the second pass of every statistic, z's first. */
static void record_b(const bps_plan_n *pn, const view *v, acc_n *a, long S, const double *rec) {
  const int P = pn->ntracked;
  bps_stats_acc_add2(&a->cost, rec[v->cost]);
  for (int q = 0; q < P; q++) bps_stats_acc_add2(&a->grad[q], rec[v->grad + q]);
  for (int k = 0; k < BPS_NDIAG; k++) bps_stats_acc_add2(&a->diag[k], rec[v->diag + k]);
  const bps_landscape_n *l = pn->land ? &pn->land->layout : NULL;
  for (int f = 0; l && f < l->nfield; f++) {
    if (!a->land[f]) continue;
    const double *x = rec + v->land + a->land_off[f];
    for (long k = 0; k < bps_land_field_elems(&l->field[f]); k++)
      bps_stats_acc_add2(&a->land[f][k], x[k]);
  }
  if (S >= 2 && P > 0) bps_stats_acc_add1(&a->z, z_of(a, rec + v->grad, P, S));
}

/* Rank 0: one gathered window of pass `pass` (tasks [t0, t1) of n index i). */
static int window(const bps_plan *p, int i, int pass, const view *v, long t0, long t1,
                  const bps_window *w, acc_n *a, long S, bps_h5_stream *st) {
  const bps_plan_n *pn = &p->pn[i];
  long rows = 0;
  for (long t = t0; t < t1; t++) {
    const double *rec = w->rec[t - t0];
    if (!rec) continue;
    const long b = t - p->task_off[i], cnt = bps_plan_block_count(p, i, b);
    for (long k = 0; k < cnt; k++, rec += v->cols.width) {
      if (pass == PASS_A) record_a(pn, a, rows++, b * p->cfg->block + k, rec);
      else if (pass == PASS_B) record_b(pn, v, a, S, rec);
      else bps_stats_acc_add2(&a->z, z_of(a, rec, pn->ntracked, S));
    }
  }
  if (pass == PASS_A) BPS_CALL(bps_h5_stream_rows(st, &a->stage, rows));
  return BPS_OK;
}

/* Rank 0, after pass `pass`: the means for the next pass. */
static void pass_end(const bps_plan_n *pn, acc_n *a, int pass) {
  if (pass == PASS_B) {
    bps_stats_acc_mid(&a->z);
    return;
  }
  if (pass != PASS_A) return;
  bps_stats_acc_mid(&a->cost);
  for (int q = 0; q < pn->ntracked; q++) bps_stats_acc_mid(&a->grad[q]);
  for (int k = 0; k < BPS_NDIAG; k++) bps_stats_acc_mid(&a->diag[k]);
  const bps_landscape_n *l = pn->land ? &pn->land->layout : NULL;
  for (int f = 0; l && f < l->nfield; f++)
    for (long k = 0; a->land[f] && k < bps_land_field_elems(&l->field[f]); k++)
      bps_stats_acc_mid(&a->land[f][k]);
}

/* Rank 0: r's statistics from the finished accumulators (bps_result_n_stats' numbers). */
static int finish_stats(acc_n *a, bps_result_n *r) {
  const int P = r->ntracked;
  const long S = r->samples;
  bps_stats_acc_end(&a->cost, &r->cost_stats);
  for (int k = 0; k < BPS_NDIAG; k++) bps_stats_acc_end(&a->diag[k], &r->diag_stats[k]);
  double vm = 0;
  for (int q = 0; q < P; q++) {
    bps_stats_acc_end(&a->grad[q], &r->grad_stats[q]);
    vm += r->grad_stats[q].var;
  }
  r->grad_var_mean = P ? vm / P : NAN;
  r->grad_var_mean_se = NAN;
  if (S >= 2 && P > 0) {
    bps_stats zs;
    bps_stats_acc_end(&a->z, &zs);
    r->grad_var_mean_se = zs.mean_se;
  }
  for (int f = 0; r->land && f < r->land->nfield; f++) {
    bps_land_field *fd = &r->land->field[f];
    if (!fd->stats) continue;
    const long e = bps_land_field_elems(fd);
    fd->mean = malloc(sizeof(double) * (size_t)e);
    fd->mean_se = malloc(sizeof(double) * (size_t)e);
    fd->var = malloc(sizeof(double) * (size_t)e);
    fd->var_se = malloc(sizeof(double) * (size_t)e);
    BPS_CHECK(fd->mean && fd->mean_se && fd->var && fd->var_se, BPS_ERR_MEM, "out of memory");
    for (long k = 0; k < e; k++) {
      bps_stats st;
      if (S >= 1) bps_stats_acc_end(&a->land[f][k], &st);
      else st.mean = st.mean_se = st.var = st.var_se = NAN;
      fd->mean[k] = st.mean;
      fd->mean_se[k] = st.mean_se;
      fd->var[k] = st.var;
      fd->var_se[k] = st.var_se;
    }
  }
  return BPS_OK;
}

/* ------------------------------------------------------------------ the reduction */

static int no_memory(void) { BPS_FAIL(BPS_ERR_MEM, "out of memory"); }

/* The state of bps_assemble_write. */
typedef struct {
  const bps_plan *p;
  const bps_block *blocks;
  const int *holder;
  bps_result *res;
  bps_window w;
  bps_h5_stream *st;  /* rank 0 */
  acc_n a;            /* rank 0: the qubit count being reduced */
  int root, rc, stop; /* rc: this rank's failure; stop: some rank failed, all stop */
  int defer;          /* chunks encoded by other ranks (encode_round) */
} reduce_state;

/* The rank that encodes pending chunk k: ranks 1.. with three ranks or more (rank 0 is
 * busy enough), else every rank. */
static int encoder(long k, int size) { return (int)(size <= 2 ? k % size : 1 + k % (size - 1)); }

/* Doubles of an encoded chunk of n raw bytes, as sent: [byte count, bytes padded to whole
 * doubles]; at most this (zlib's bound: n + n/4096 + n/16384 + 13 bytes, with margin). */
static long encoded_cap(long n) { return 2 + (n + n / 500 + 64) / 8; }

/* An encoder (not rank 0): receive this round's chunks, encode them, send them back, all
 * in k order. A chunk that cannot be encoded goes back as [-1]. */
static void encode_remote(const long *sizes, long K) {
  const int rank = bps_comm_rank(), size = bps_comm_size();
  long total = 0, most = 0;
  for (long k = 0; k < K; k++)
    if (encoder(k, size) == rank) {
      total += sizes[k] / 8;
      if (encoded_cap(sizes[k]) > most) most = encoded_cap(sizes[k]);
    }
  double *raw = malloc(sizeof(double) * (size_t)(total > 0 ? total : 1));
  double *out = malloc(sizeof(double) * (size_t)(most > 0 ? most : 1));
  if (!raw || !out) bps_comm_abort(BPS_EXIT_ERROR); /* cannot take part */
  int got, rc = BPS_OK;
  for (long k = 0, at = 0; k < K && !rc; k++)
    if (encoder(k, size) == rank) {
      rc = bps_comm_recv_f64(raw + at, (int)(sizes[k] / 8), 0, &got);
      at += sizes[k] / 8;
    }
  for (long k = 0, at = 0; k < K && !rc; k++) {
    if (encoder(k, size) != rank) continue;
    void *z = NULL;
    size_t zlen = 0;
    long words = 1;
    out[0] = -1.0;
    if (bps_h5_chunk_encode(raw + at, (size_t)sizes[k], &z, &zlen) == BPS_OK &&
        (long)(zlen + 7) / 8 + 1 <= encoded_cap(sizes[k])) {
      out[0] = (double)zlen;
      words = 1 + (long)(zlen + 7) / 8;
      out[words - 1] = 0.0; /* the padding */
      memcpy(out + 1, z, zlen);
    }
    if (out[0] < 0) bps_error_clear(); /* reported by rank 0, which learns of it */
    free(z);
    rc = bps_comm_send_f64(out, (int)words, 0);
    at += sizes[k] / 8;
  }
  if (rc) bps_comm_abort(BPS_EXIT_ERROR); /* MPI failed: the pipeline cannot go on */
  free(raw);
  free(out);
}

static int encode_failed(int rank, long k) {
  BPS_FAIL(BPS_ERR_MEM, "rank %d could not encode chunk %ld of the file", rank, k);
}

/* Rank 0: send the pending chunks to their encoders, then store every chunk in k order:
 * its own ones encoded here, the others as they come back. Whatever fails here, rank 0
 * still receives every encoding (the encoders must not wait for ever). */
static int encode_local(bps_h5_stream *st, long K) {
  int rc = BPS_OK, size = bps_comm_size();
  long most = 0;
  double *in = NULL;
  for (long k = 0; k < K; k++) {
    size_t n;
    const void *raw = bps_h5_stream_pending_raw(st, (int)k, &n);
    if (encoded_cap((long)n) > most) most = encoded_cap((long)n);
    if (encoder(k, size) != 0 && bps_comm_send_f64(raw, (int)(n / 8), encoder(k, size)))
      bps_comm_abort(BPS_EXIT_ERROR); /* MPI failed: the pipeline cannot go on */
  }
  in = malloc(sizeof(double) * (size_t)(most > 0 ? most : 1));
  if (!in) bps_comm_abort(BPS_EXIT_ERROR); /* the encoders wait for us */
  for (long k = 0; k < K; k++) {
    int got = 0;
    if (encoder(k, size) == 0) {
      size_t n, zlen;
      void *z = NULL;
      const void *raw = bps_h5_stream_pending_raw(st, (int)k, &n);
      if (!rc) rc = bps_h5_chunk_encode(raw, n, &z, &zlen);
      if (!rc) rc = bps_h5_stream_put(st, (int)k, z, zlen);
      free(z);
      continue;
    }
    int mrc = bps_comm_recv_f64(in, (int)most, encoder(k, size), &got);
    if (mrc) bps_comm_abort(BPS_EXIT_ERROR);
    if (!rc && !(got >= 1 && in[0] >= 0 && (long)(in[0] + 7) / 8 + 1 == got))
      rc = encode_failed(encoder(k, size), k);
    if (!rc) rc = bps_h5_stream_put(st, (int)k, in + 1, (size_t)in[0]);
  }
  free(in);
  return rc;
}

/* Collective. A round of chunk encoding, once rank 0's writer holds BPS_REDUCE_ROUND bytes
 * of full chunks (or when `last`: everything pending): rank 0 announces their number (-1
 * after a failure of its own: every rank stops) and sizes, sends each chunk to its encoder
 * and stores the encodings in order as they come back (comm.c point to point). */
static void encode_round(reduce_state *rs, int last) {
  const int size = bps_comm_size();
  long K = 0;
  if (rs->root) {
    const int due = last || bps_h5_stream_pending_bytes(rs->st) >= BPS_REDUCE_ROUND;
    K = rs->rc ? -1 : due ? bps_h5_stream_pending(rs->st) : 0;
  }
  if (bps_comm_bcast_bytes(&K, sizeof K, 0) || K < 0) {
    rs->stop = 1;
    return;
  }
  if (K == 0) return;
  long *sizes = malloc(sizeof(long) * (size_t)K);
  if (!sizes) bps_comm_abort(BPS_EXIT_ERROR); /* cannot take part */
  for (long k = 0; rs->root && k < K; k++) {
    size_t n;
    bps_h5_stream_pending_raw(rs->st, (int)k, &n);
    sizes[k] = (long)n;
  }
  if (bps_comm_bcast_bytes(sizes, sizeof(long) * (size_t)K, 0)) bps_comm_abort(BPS_EXIT_ERROR);
  if (rs->root) rs->rc = encode_local(rs->st, K);
  else if (size > 1) encode_remote(sizes, K);
  free(sizes);
}

/* The window of n index i that starts at task t0 (its end in *t1), gathered to rank 0 after
 * an agreement that no rank has failed: 0 with the gather's code in *rc, or 1 when a rank
 * has failed and the reduction stops (rs->stop). Collective. */
static int next_window(reduce_state *rs, int i, const view *v, long t0, long *t1, int *rc) {
  const bps_plan *p = rs->p;
  bps_window_next(p, rs->holder, i, t0, v->cols.width, rs->w.cap, t1);
  if (!bps_comm_agree(rs->rc == BPS_OK)) {
    rs->stop = 1;
    return 1;
  }
  *rc = bps_gather_window(p, rs->blocks, rs->holder, t0, *t1, &v->cols, &rs->w);
  return 0;
}

/* One pass over n index i (S samples in the file): its windows in order. Collective. */
static void run_pass(reduce_state *rs, int i, int pass, long S) {
  const bps_plan *p = rs->p;
  const view v = make_view(&p->pn[i], pass);
  for (long t0 = p->task_off[i], t1; t0 < p->task_off[i + 1] && !rs->stop; t0 = t1) {
    int rc;
    if (next_window(rs, i, &v, t0, &t1, &rc)) break;
    if (!rc && rs->root) rc = window(p, i, pass, &v, t0, t1, &rs->w, &rs->a, S, rs->st);
    if (rc) rs->rc = rc;
    if (pass == PASS_A && rs->defer) encode_round(rs, 0); /* once enough chunks are full */
  }
  if (pass == PASS_A && rs->defer && !rs->stop) { /* the rest, with the partial chunks */
    if (rs->root && !rs->rc) rs->rc = bps_h5_stream_flush(rs->st);
    encode_round(rs, 1);
  }
  if (rs->root && !rs->rc) pass_end(&p->pn[i], &rs->a, pass);
}

/* Qubit count i: shape, three passes, statistics, its group in the file. Collective. */
static void reduce_n(reduce_state *rs, int i) {
  const bps_plan *p = rs->p;
  const bps_plan_n *pn = &p->pn[i];
  const long S = file_samples(p, rs->holder, i);
  bps_result_n *r = &rs->res->per_n[i];
  if (rs->root && !rs->rc) {
    long rows = rs->w.cap / pn->rec_len; /* the most rows a window of pass A has */
    if (rows < p->cfg->block) rows = p->cfg->block;
    rs->rc = shape_n(p->cfg, pn, S, r);
    if (!rs->rc) rs->rc = acc_init(p->cfg, pn, rows, &rs->a);
    if (!rs->rc) rs->rc = bps_h5_stream_n_begin(rs->st, r, p->cfg->store_samples);
  }
  if (S > 0) run_pass(rs, i, PASS_A, S);
  if (S > 0 && !rs->stop) run_pass(rs, i, PASS_B, S);
  if (S >= 2 && pn->ntracked > 0 && !rs->stop) run_pass(rs, i, PASS_C, S);
  if (rs->root && !rs->rc && !rs->stop) {
    rs->rc = finish_stats(&rs->a, r);
    if (!rs->rc) rs->rc = bps_h5_stream_n_end(rs->st, r);
  }
  if (rs->root) acc_free(&rs->a);
}

/* ------------------------------------------------------------------ exact moments */

/* Collective. Qubit count i of a moments scan: its items' records (BPS_MOMREC_LEN doubles
 * each, in item order; a piece: the items of its blocks) gathered window by window into
 * rank 0's r->mom. No statistics: the records are the exact moments. */
static void reduce_mom(reduce_state *rs, int i) {
  const bps_plan *p = rs->p;
  const bps_plan_n *pn = &p->pn[i];
  const view v = make_view(pn, PASS_A);
  const long m = file_samples(p, rs->holder, i);
  bps_result_n *r = &rs->res->per_n[i];
  bps_mom_n *mo = NULL;
  if (rs->root && !rs->rc) {
    rs->rc = shape_n(p->cfg, pn, 0, r);
    r->samples_total = 0;
    mo = r->mom = calloc(1, sizeof *r->mom);
    if (mo) {
      mo->item = malloc(sizeof(long) * (size_t)(m ? m : 1));
      mo->rec = malloc(sizeof(double) * (size_t)(m ? m : 1) * BPS_MOMREC_LEN);
    }
    if (!rs->rc && !(mo && mo->item && mo->rec)) rs->rc = no_memory();
    if (!rs->rc) {
      snprintf(mo->engine, sizeof mo->engine, "%s",
               bps_mom_engine_name(bps_mom_engine_of(pn->mom)));
      snprintf(mo->precision, sizeof mo->precision, "%s", bps_mom_precision(pn->mom));
    }
  }
  for (long t0 = p->task_off[i], t1; t0 < p->task_off[i + 1] && !rs->stop; t0 = t1) {
    int rc;
    if (next_window(rs, i, &v, t0, &t1, &rc)) break;
    for (long t = t0; !rc && rs->root && t < t1; t++) {
      const double *rec = rs->w.rec[t - t0];
      if (!rec) continue;
      const long b = t - p->task_off[i], cnt = bps_plan_block_count(p, i, b);
      for (long k = 0; k < cnt; k++, mo->nitems++) {
        mo->item[mo->nitems] = b * p->cfg->block + k;
        memcpy(mo->rec + (size_t)mo->nitems * BPS_MOMREC_LEN, rec + k * BPS_MOMREC_LEN,
               sizeof(double) * BPS_MOMREC_LEN);
      }
    }
    if (rc) rs->rc = rc;
  }
}

/* Collective: a moments scan's records to rank 0, and its file (h5io's whole-file writer:
 * a moments file is (1 + P) short records per n, no per-sample datasets). */
static int write_mom(reduce_state *rs) {
  const bps_plan *p = rs->p;
  bps_result *res = rs->res;
  const double t0 = bps_wtime();
  for (int i = 0; i < p->nn && !rs->stop; i++) reduce_mom(rs, i);
  if (rs->root && !rs->rc && !rs->stop) {
    const double t1 = bps_wtime();
    res->wall_reduce = t1 - t0;
    res->end_time = epoch_now();
    res->wall_write = -1; /* the writer records its own time */
    rs->rc = bps_h5_write(p->cfg->out_path, res, p->cfg->force);
  }
  return bps_agree(rs->rc);
}

int bps_assemble_write(const bps_plan *p, const bps_block *blocks, const int *holder,
                       bps_result *res) {
  const double t0 = bps_wtime();
  reduce_state rs;
  memset(&rs, 0, sizeof rs);
  rs.p = p, rs.blocks = blocks, rs.holder = holder, rs.res = res;
  rs.root = bps_comm_rank() == 0;
  int rc = bps_window_init(p, BPS_REDUCE_WINDOW, &rs.w);
  if (rc) goto cleanup;
  if (rs.root) {
    res->per_n = calloc((size_t)p->nn, sizeof(bps_result_n));
    res->nn = res->per_n ? p->nn : 0;
    rs.rc = res->per_n ? BPS_OK : no_memory();
    if (!rs.rc && !p->cfg->moments)
      rs.rc = bps_h5_stream_open(p->cfg->out_path, res, p->cfg->force, &rs.st);
  }
  if (p->cfg->moments) {
    rc = write_mom(&rs);
    goto cleanup;
  }
  rs.defer = bps_comm_size() > 1;
  if (rs.root) bps_h5_stream_defer(rs.st, rs.defer);
  for (int i = 0; i < p->nn && !rs.stop; i++) reduce_n(&rs, i);
  if (rs.root && !rs.rc && !rs.stop) {
    res->end_time = epoch_now();
    res->wall_reduce = bps_wtime() - t0 - bps_h5_stream_busy(rs.st);
    res->wall_write = -1; /* the writer records its own time */
    rs.rc = bps_h5_stream_close(rs.st, res);
    rs.st = NULL;
  }
  rc = bps_agree(rs.rc);
cleanup:
  bps_h5_stream_abort(rs.st);
  bps_window_free(&rs.w);
  return rc;
}

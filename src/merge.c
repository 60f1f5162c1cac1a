/* merge: `bpscan merge OUT.h5 PIECE.h5 ...` (see include/bpscan/merge.h and README
 * "Running on a cluster"). The pieces are loaded with bps_h5_read, checked against each
 * other, their rows put back in sample order, the statistics recomputed with
 * bps_result_n_stats (as the driver does), and the result written with bps_h5_write.
 * Landscape scans: the pieces must have the same landscape structure (directions, pad,
 * degrees, sizes, field names and shapes); their per-sample field rows are placed like the
 * gradient rows and the field statistics recomputed. */
#include "bpscan/merge.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bpscan/driver.h"
#include "bpscan/error.h"
#include "bpscan/h5io.h"
#include "bpscan/job.h"

/* ------------------------------------------------------------------------------------ */
/* Messages                                                                              */

typedef struct {
  char *buf;
  size_t n, used;
} msgbuf;

static void msg_add(msgbuf *m, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void msg_add(msgbuf *m, const char *fmt, ...) {
  if (!m->buf || m->n == 0 || m->used + 1 >= m->n) return;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(m->buf + m->used, m->n - m->used, fmt, ap);
  va_end(ap);
  if (w < 0) return;
  m->used += (size_t)w;
  if (m->used >= m->n) { /* truncated: end with "..." */
    m->used = m->n - 1;
    if (m->n > 4) memcpy(m->buf + m->n - 4, "...", 4);
  }
}

/* The text of a refusal: the whole message in m (the traceback holds it shortened). */
static const char *mb_text(const msgbuf *m) { return m->buf ? m->buf : "cannot merge"; }

/* Refuse (BPS_ERR_USAGE) with a message added to the msgbuf *mb of the function, in the
 * cleanup idiom of error.h. */
#define REFUSE(...)                                                                             \
  do {                                                                                          \
    msg_add(mb, __VA_ARGS__);                                                                   \
    BPS_FAIL_GOTO(BPS_ERR_USAGE, "%s", mb_text(mb));                                            \
  } while (0)

/* ------------------------------------------------------------------------------------ */
/* Jobs (job.c decides what a job is and which keys matter)                              */

/* Parse the stored job text of piece p, named name in messages (sets: overrides to apply,
 * e.g. the merged file's [output] path); refuse a text this bpscan does not read. */
static int piece_job(const bps_result *p, const char *name, const char *const *sets, int nsets,
                     bps_job *job, msgbuf *m) {
  if (!p->job_text || bps_job_parse(p->job_text, "the stored job text", sets, nsets, job)) {
    msg_add(m, "'%s': its job text is not a job this bpscan reads (%s)", name,
            p->job_text ? bps_error_message() : "no job text");
    bps_error_clear();
    BPS_FAIL(BPS_ERR_USAGE, "%s", mb_text(m));
  }
  return BPS_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Merging                                                                               */

static int same_double(double a, double b) { return !memcmp(&a, &b, sizeof a); }

/* What differs between two pieces' landscape structures (NULL if nothing): everything but
 * the per-sample rows and their statistics. */
static const char *land_difference(const bps_landscape_n *a, const bps_landscape_n *b) {
  if (strcmp(a->directions, b->directions)) return "the landscape directions";
  if (a->pad != b->pad) return "the landscape pad";
  if (a->ncut != b->ncut) return "the landscape cuts per sample";
  if (a->ndeg != b->ndeg || memcmp(a->degree, b->degree, sizeof(int) * (size_t)a->ndeg))
    return "the landscape degrees";
  if (memcmp(a->size, b->size, sizeof(int) * (size_t)a->ndeg)) return "the landscape FFT sizes";
  if (a->nfield != b->nfield) return "the landscape fields (their number)";
  for (int i = 0; i < a->nfield; i++) {
    const bps_land_field *x = &a->field[i], *y = &b->field[i];
    if (strcmp(x->name, y->name)) return "the landscape fields (their names)";
    if (x->ndim != y->ndim || x->stats != y->stats) return "the landscape fields (their shapes)";
    for (int d = 0; d < x->ndim; d++)
      if (x->dims[d] != y->dims[d]) return "the landscape fields (their shapes)";
  }
  return NULL;
}

/* Whether two pieces' groups of one qubit count agree on everything but the samples;
 * otherwise describe the first difference in m. */
static int same_layout(const bps_result_n *a, const bps_result_n *b, msgbuf *m) {
  const char *what = NULL;
  if (a->nparams != b->nparams) what = "the number of parameters";
  else if (a->ntracked != b->ntracked) what = "the number of tracked parameters";
  else if (memcmp(a->tracked, b->tracked, sizeof(int) * (size_t)a->ntracked))
    what = "the tracked parameters";
  else if (a->q_in != b->q_in || a->q_out != b->q_out || a->diag_qubits != b->diag_qubits)
    what = "the register widths";
  else if (strcmp(a->representation, b->representation))
    what = "the representation (set [scan] representation = dense or factored explicitly)";
  else if (!a->params != !b->params) what = "store_samples (per-sample parameters)";
  else if (a->samples_total != b->samples_total) what = "the samples per qubit count";
  else if (!same_double(a->page_entropy, b->page_entropy) ||
           !same_double(a->page_purity, b->page_purity))
    what = "the Page predictions";
  for (int k = 0; !what && k < a->nparams; k++)
    if (strcmp(a->param_names[k], b->param_names[k])) what = "the parameter names";
  if (!what && a->land && b->land) what = land_difference(a->land, b->land);
  if (!what) return 1;
  msg_add(m, "%s", what);
  return 0;
}

/* Ranges of the unfilled entries, "8-15, 32-39, ..." (at most 6 ranges). */
static void add_gaps(msgbuf *m, const unsigned char *filled, long S) {
  int ranges = 0;
  for (long s = 0; s < S;) {
    if (filled[s]) {
      s++;
      continue;
    }
    long e = s;
    while (e + 1 < S && !filled[e + 1]) e++;
    if (ranges == 6) {
      msg_add(m, ", ...");
      return;
    }
    if (e > s) msg_add(m, "%s%ld-%ld", ranges ? ", " : "", s, e);
    else msg_add(m, "%s%ld", ranges ? ", " : "", s);
    ranges++;
    s = e + 1;
  }
}

/* Every input is a piece of the same array job (slice counts, jobs compared by job.c, each
 * piece once, the same qubit counts with the same layout). On success *slot_out[K] is the
 * input index of piece K, or -1 (malloc'ed, N = pieces[0].slice_count entries). */
static int check_pieces(const bps_result *pieces, const char *const *names, int count,
                        int **slot_out, msgbuf *mb) {
  int rc = BPS_OK;
  int *slot = NULL;
  bps_job job0, job; /* the first piece's job, another piece's */
  memset(&job0, 0, sizeof job0);
  memset(&job, 0, sizeof job);
  const bps_result *p0 = &pieces[0];
  int N = p0->slice_count;
  for (int i = 0; i < count; i++) {
    const bps_result *p = &pieces[i];
    if (p->slice_count <= 1)
      REFUSE("'%s' is not an array-job piece (it is a complete scan, slice_count 1); merge only "
             "files written by bpscan run --slice K/N",
             names[i]);
    if (p->slice_count != N)
      REFUSE("'%s' is piece %d of %d but '%s' is piece %d of %d: pieces of different array jobs "
             "(different slice counts)",
             names[0], p0->slice_index, N, names[i], p->slice_index, p->slice_count);
    bps_job_free(&job);
    BPS_CALL_GOTO(piece_job(p, names[i], NULL, 0, i ? &job : &job0, mb));
    if (i == 0) continue;
    /* the same job: every key but the output ones ([output] path, checkpoint_seconds) */
    char diff[400] = "";
    int differ = bps_job_diff(&job0, &job, BPS_ROLES_NOT_OUTPUT, diff, sizeof diff);
    if (differ || p->job_hash != p0->job_hash)
      REFUSE("'%s' and '%s' are pieces of different jobs (job hash %016llx vs %016llx) %s%s%s",
             names[0], names[i], (unsigned long long)p0->job_hash,
             (unsigned long long)p->job_hash, differ ? "(first difference, " : "",
             differ ? diff : "(the jobs agree)", differ ? ")" : "");
  }
  /* each piece once */
  slot = malloc(sizeof(int) * (size_t)N);
  BPS_CHECK_GOTO(slot, BPS_ERR_MEM, "out of memory");
  for (int k = 0; k < N; k++) slot[k] = -1;
  for (int i = 0; i < count; i++) {
    int k = pieces[i].slice_index;
    if (slot[k] >= 0)
      REFUSE("'%s' and '%s' are both piece %d of %d (the same piece given twice?)",
             names[slot[k]], names[i], k, N);
    slot[k] = i;
  }
  /* the same qubit counts with the same layout */
  for (int i = 1; i < count; i++) {
    const bps_result *p = &pieces[i];
    int same = p->nn == p0->nn;
    for (int j = 0; same && j < p->nn; j++) same = p->per_n[j].n == p0->per_n[j].n;
    if (!same)
      REFUSE("'%s' and '%s' hold different qubit counts (%d vs %d groups): not pieces of one "
             "scan",
             names[0], names[i], p0->nn, p->nn);
    for (int j = 0; j < p->nn; j++) {
      const bps_result_n *a = &p0->per_n[j], *b = &p->per_n[j];
      if (!a->land != !b->land)
        REFUSE("'%s' is a %s scan but '%s' is a %s scan (at n = %d): not pieces of one scan",
               names[0], a->land ? "landscape" : "gradient", names[i],
               b->land ? "landscape" : "gradient", a->n);
    }
    for (int j = 0; j < p->nn; j++) {
      char what[256] = "";
      msgbuf w = {what, sizeof what, 0};
      if (!same_layout(&p0->per_n[j], &p->per_n[j], &w))
        REFUSE("'%s' and '%s' differ in %s at n = %d: not pieces of one scan", names[0],
               names[i], what, p->per_n[j].n);
    }
  }
  *slot_out = slot;
  slot = NULL;
cleanup:
  bps_job_free(&job0);
  bps_job_free(&job);
  free(slot);
  return rc;
}

/* The merged result's job (the first piece's, with [output] path = out_path, as
 * `bpscan run -o out_path` would store it) and provenance (see merge.h). */
static int merged_header(const bps_result *pieces, const char *const *names, const int *slot,
                         int N, const char *out_path, bps_result *merged, msgbuf *mb) {
  const bps_result *p0 = &pieces[0];
  char outset[BPS_JOB_STR_LEN + 32];
  const char *sets[1] = {outset};
  bps_job job;
  snprintf(outset, sizeof outset, "output.path=%s", out_path);
  BPS_CALL(piece_job(p0, names[0], sets, 1, &job, mb));
  merged->job_text = strdup(job.text);
  bps_job_free(&job);
  merged->model = strdup(p0->model);
  merged->grad_method = strdup(p0->grad_method);
  size_t hcap = 1, rcap = 1;
  for (int k = 0; k < N; k++) hcap += slot[k] >= 0 ? strlen(pieces[slot[k]].host) + 1 : 0;
  for (int k = 0; k < N; k++) /* hosts: the pieces' values joined by " | " */
    rcap += slot[k] >= 0 && pieces[slot[k]].hosts ? strlen(pieces[slot[k]].hosts) + 3 : 3;
  char *hosts = calloc(hcap, 1), *rhosts = calloc(rcap, 1);
  merged->host = hosts;
  merged->hosts = rhosts;
  BPS_CHECK(merged->job_text && merged->model && merged->grad_method && hosts && rhosts,
            BPS_ERR_MEM, "out of memory");
  merged->job_hash = p0->job_hash;
  merged->seed = p0->seed;
  merged->slice_index = 0;
  merged->slice_count = 1;
  merged->start_time = NAN;
  merged->end_time = NAN;
  int joined = 0;
  for (int k = 0; k < N; k++) {
    int i = slot[k];
    if (i < 0) continue;
    const bps_result *p = &pieces[i];
    merged->mpi_ranks += p->mpi_ranks;
    if (p->omp_threads > merged->omp_threads) merged->omp_threads = p->omp_threads;
    if (isfinite(p->start_time) && !(merged->start_time <= p->start_time))
      merged->start_time = p->start_time;
    if (isfinite(p->end_time) && !(merged->end_time >= p->end_time))
      merged->end_time = p->end_time;
    merged->wall_plan += p->wall_plan;
    merged->wall_compute += p->wall_compute;
    merged->wall_reduce += p->wall_reduce;
    merged->wall_write += p->wall_write;
    if (joined++) strcat(rhosts, " | ");
    strcat(rhosts, p->hosts ? p->hosts : "");
    /* distinct hosts, in piece order */
    size_t hl = strlen(p->host);
    int seen = 0;
    for (const char *h = hosts; *h && !seen;) {
      const char *c = strchr(h, ',');
      size_t l = c ? (size_t)(c - h) : strlen(h);
      seen = l == hl && !strncmp(h, p->host, hl);
      h += l + (c ? 1 : 0);
    }
    if (!seen) {
      if (hosts[0]) strcat(hosts, ",");
      strcat(hosts, p->host);
    }
  }
  return BPS_OK;
}

/* Qubit count j (index into per_n) of the merged result: the layout of the first piece, the
 * rows of every piece at their sample numbers. Missing samples are described in mb (after
 * "incomplete: " unless *gaps or missing_pieces) and counted in *gaps. */
/* Moments pieces: the item records back in item order (items play the part of samples). */
static int merge_mom(const bps_result *pieces, const char *const *names, const int *slot, int N,
                     int j, bps_result_n *r, unsigned char *filled, int *owner, msgbuf *mb) {
  int rc = BPS_OK;
  const bps_result_n *ref = &pieces[0].per_n[j];
  const long S = ref->samples_total;
  r->samples = 0;
  r->samples_total = 0;
  r->mom = calloc(1, sizeof *r->mom);
  BPS_CHECK_GOTO(r->mom, BPS_ERR_MEM, "out of memory");
  *r->mom = (bps_mom_n){.nitems = (int)S};
  snprintf(r->mom->engine, sizeof r->mom->engine, "%s", ref->mom->engine);
  snprintf(r->mom->precision, sizeof r->mom->precision, "%s", ref->mom->precision);
  r->mom->item = malloc(sizeof(long) * (size_t)S);
  r->mom->rec = malloc(sizeof(double) * (size_t)S * BPS_MOMREC_LEN);
  BPS_CHECK_GOTO(r->mom->item && r->mom->rec, BPS_ERR_MEM, "out of memory merging n = %d", ref->n);
  for (long s = 0; s < S; s++) r->mom->item[s] = s;
  for (int k = 0; k < N; k++) {
    const int i = slot[k];
    if (i < 0) continue;
    const bps_result_n *q = &pieces[i].per_n[j];
    BPS_CHECK_GOTO(q->mom, BPS_ERR_USAGE, "'%s': n = %d is not an exact-moments piece", names[i],
                   q->n);
    for (long row = 0; row < q->samples; row++) {
      const long s = q->sample_index[row];
      if (filled[s])
        REFUSE("item %ld of n = %d is in both '%s' and '%s': the pieces overlap", s, q->n,
               names[owner[s]], names[i]);
      filled[s] = 1;
      owner[s] = i;
      memcpy(r->mom->rec + (size_t)s * BPS_MOMREC_LEN,
             q->mom->rec + (size_t)row * BPS_MOMREC_LEN, sizeof(double) * BPS_MOMREC_LEN);
    }
  }
cleanup:
  return rc;
}

static int merge_n(const bps_result *pieces, const char *const *names, const int *slot, int N,
                   int j, int missing_pieces, bps_result_n *r, int *gaps, msgbuf *mb) {
  int rc = BPS_OK;
  const bps_result_n *ref = &pieces[0].per_n[j];
  long S = ref->samples_total;
  int P = ref->ntracked, PA = ref->nparams;
  size_t Sz = S > 0 ? (size_t)S : 1;
  unsigned char *filled = calloc(Sz, 1);
  int *owner = malloc(sizeof(int) * Sz); /* owner[s] = input index that supplied sample s */
  r->n = ref->n;
  r->samples = S;
  r->samples_total = S;
  r->nparams = PA;
  r->ntracked = P;
  r->q_in = ref->q_in;
  r->q_out = ref->q_out;
  r->diag_qubits = ref->diag_qubits;
  r->page_entropy = ref->page_entropy;
  r->page_purity = ref->page_purity;
  r->representation = strdup(ref->representation);
  r->tracked = malloc(sizeof(int) * (size_t)(P > 0 ? P : 1));
  r->param_names = calloc(PA > 0 ? (size_t)PA : 1, sizeof *r->param_names);
  r->grad_stats = calloc(P > 0 ? (size_t)P : 1, sizeof *r->grad_stats);
  const int mom = ref->mom != NULL;
  r->cost = malloc(sizeof(double) * Sz);
  r->grad = malloc(sizeof(double) * Sz * (size_t)(P > 0 ? P : 1));
  r->diag = malloc(sizeof(double) * Sz * BPS_NDIAG);
  r->params = ref->params ? malloc(sizeof(double) * Sz * (size_t)(PA > 0 ? PA : 1)) : NULL;
  if (ref->land) BPS_CALL_GOTO(bps_landscape_n_alloc(ref->land, S, &r->land));
  int ok = r->representation && r->tracked && r->param_names && r->grad_stats && r->cost &&
           r->grad && r->diag && (r->params || !ref->params) && filled && owner;
  for (int k = 0; ok && k < PA; k++)
    ok = (r->param_names[k] = strdup(ref->param_names[k])) != NULL;
  BPS_CHECK_GOTO(ok, BPS_ERR_MEM, "out of memory merging n = %d", ref->n);
  memcpy(r->tracked, ref->tracked, sizeof(int) * (size_t)P);
  if (mom) BPS_CALL_GOTO(merge_mom(pieces, names, slot, N, j, r, filled, owner, mb));
  for (int k = 0; k < N && !mom; k++) {
    int i = slot[k];
    if (i < 0) continue;
    const bps_result_n *q = &pieces[i].per_n[j];
    for (long row = 0; row < q->samples; row++) {
      long s = q->sample_index[row];
      if (s < 0 || s >= S)
        REFUSE("'%s': sample %ld of n = %d is outside the scan's %ld samples", names[i], s, q->n,
               S);
      if (filled[s])
        REFUSE("sample %ld of n = %d is in both '%s' (piece %d) and '%s' (piece %d): the pieces "
               "overlap",
               s, q->n, names[owner[s]], pieces[owner[s]].slice_index, names[i], k);
      filled[s] = 1;
      owner[s] = i;
      r->cost[s] = q->cost[row];
      memcpy(r->grad + (size_t)s * (size_t)P, q->grad + (size_t)row * (size_t)P,
             sizeof(double) * (size_t)P);
      memcpy(r->diag + (size_t)s * BPS_NDIAG, q->diag + (size_t)row * BPS_NDIAG,
             sizeof(double) * BPS_NDIAG);
      if (r->params)
        memcpy(r->params + (size_t)s * (size_t)PA, q->params + (size_t)row * (size_t)PA,
               sizeof(double) * (size_t)PA);
      for (int fi = 0; r->land && fi < r->land->nfield; fi++) {
        bps_land_field *to = &r->land->field[fi];
        size_t e = (size_t)bps_land_field_elems(to);
        memcpy(to->data + (size_t)s * e, q->land->field[fi].data + (size_t)row * e,
               sizeof(double) * e);
      }
    }
  }
  long have = 0;
  for (long s = 0; s < S; s++) have += filled[s];
  if (have < S) {
    msg_add(mb, "%sn = %d: %ld of %ld %s missing (",
            missing_pieces || *gaps ? "; " : "incomplete: ", ref->n, S - have, S,
            mom ? "items" : "samples");
    add_gaps(mb, filled, S);
    msg_add(mb, ")");
    (*gaps)++;
  }
cleanup:
  free(filled);
  free(owner);
  return rc;
}

int bps_merge_results(const bps_result *pieces, const char *const *names, int count,
                      const char *out_path, bps_result *merged, char *msg, size_t nmsg) {
  int rc = BPS_OK;
  msgbuf m = {msg, nmsg, 0}, *mb = &m;
  if (msg && nmsg) msg[0] = '\0';
  int *slot = NULL; /* slot[K] = input index of piece K, or -1 */
  BPS_CHECK(pieces && names && count >= 0 && out_path && merged, BPS_ERR_ARG, "NULL argument");
  memset(merged, 0, sizeof *merged);
  if (count < 1) REFUSE("no pieces given");
  BPS_CALL_GOTO(check_pieces(pieces, names, count, &slot, mb));
  const bps_result *p0 = &pieces[0];
  int N = p0->slice_count;
  BPS_CALL_GOTO(merged_header(pieces, names, slot, N, out_path, merged, mb));

  /* the samples, per qubit count, in sample order */
  merged->per_n = calloc(p0->nn > 0 ? (size_t)p0->nn : 1, sizeof *merged->per_n);
  BPS_CHECK_GOTO(merged->per_n, BPS_ERR_MEM, "out of memory");
  merged->nn = p0->nn;
  int missing_pieces = 0;
  for (int k = 0; k < N; k++) missing_pieces += slot[k] < 0;
  if (missing_pieces) {
    msg_add(mb, "incomplete: piece%s ", missing_pieces > 1 ? "s" : "");
    int c = 0;
    for (int k = 0; k < N; k++)
      if (slot[k] < 0) msg_add(mb, "%s%d", c++ ? ", " : "", k);
    msg_add(mb, " of %d missing (bpscan run --slice K/%d writes piece K)", N, N);
  }
  int gaps = 0;
  for (int j = 0; j < p0->nn; j++)
    BPS_CALL_GOTO(merge_n(pieces, names, slot, N, j, missing_pieces, &merged->per_n[j], &gaps, mb));
  BPS_CHECK_GOTO(!missing_pieces && !gaps, BPS_ERR_USAGE, "%s", mb_text(mb));
  for (int j = 0; j < merged->nn; j++) /* moments: no samples, the records are the result */
    if (!merged->per_n[j].mom) BPS_CALL_GOTO(bps_result_n_stats(&merged->per_n[j]));
cleanup:
  free(slot);
  if (rc) bps_h5_result_free(merged);
  return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Command line                                                                          */

static void usage(FILE *out) {
  fprintf(out,
          "usage: bpscan merge [--force] OUT.h5 PIECE.h5 [PIECE.h5 ...]\n"
          "Combine the pieces of an array job (files of bpscan run --slice K/N, one for each\n"
          "K = 0..N-1, in any order) into the result of the whole scan. OUT.h5 then holds the\n"
          "same data as a single run with -o OUT.h5. Refuses pieces of different jobs, missing\n"
          "or duplicate pieces and samples, and files that are not pieces.\n"
          "  --force   overwrite an existing OUT.h5\n"
          "exit codes: 0 merged, 2 usage or refused, 3 OUT.h5 exists (use --force), 6 OUT.h5\n"
          "cannot be written there (no such directory, not writable, a directory), 1 error\n");
}

typedef struct {
  const char *out;
  const char **in; /* argc entries */
  int nin, force, help;
} merge_args;

/* The command line. Usage errors are said in plain words (no traceback message) and return
 * BPS_ERR_USAGE; --help prints the usage and sets help. */
static int parse_args(int argc, char **argv, merge_args *a) {
  int positional_only = 0;
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (!positional_only && !strcmp(s, "--")) {
      positional_only = 1;
    } else if (!positional_only && !strcmp(s, "--force")) {
      a->force = 1;
    } else if (!positional_only && (!strcmp(s, "-h") || !strcmp(s, "--help"))) {
      usage(stdout);
      a->help = 1;
      return BPS_OK;
    } else if (!positional_only && s[0] == '-' && s[1]) {
      fprintf(stderr, "bpscan merge: unknown option '%s'\n", s);
      usage(stderr);
      return BPS_ERR_USAGE;
    } else if (!a->out) {
      a->out = s;
    } else {
      a->in[a->nin++] = s;
    }
  }
  if (!a->out || a->nin < 1) {
    usage(stderr);
    return BPS_ERR_USAGE;
  }
  return BPS_OK;
}

/* The output first, before reading anything: writable (bps_h5_check_writable: EXISTS
 * without --force, OUTPUT for an unusable path) and not one of the inputs. */
static int check_output(const merge_args *a) {
  struct stat so, si;
  int out_exists = stat(a->out, &so) == 0;
  BPS_CALL(bps_h5_check_writable(a->out, a->force));
  for (int i = 0; i < a->nin; i++)
    BPS_CHECK(strcmp(a->in[i], a->out) && !(out_exists && stat(a->in[i], &si) == 0 &&
                                            si.st_dev == so.st_dev && si.st_ino == so.st_ino),
              BPS_ERR_USAGE, "the output '%s' is also an input; write the merged file elsewhere",
              a->out);
  return BPS_OK;
}

/* The exit code comes from bps_exit_code, as for run: 2 usage or a refusal (BPS_ERR_USAGE;
 * an input that cannot be read is one too), 3 OUT.h5 exists, 6 OUT.h5 unusable, 1 other
 * errors. A refusal prints its whole message; other failures their traceback. */
int bps_merge_main(int argc, char **argv) {
  int rc = BPS_OK, refused = 0;
  merge_args a = {NULL, NULL, 0, 0, 0};
  bps_result *pieces = NULL;
  bps_result merged;
  char *msg = NULL;
  memset(&merged, 0, sizeof merged);
  a.in = calloc(argc > 0 ? (size_t)argc : 1, sizeof *a.in);
  BPS_CHECK_GOTO(a.in, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(parse_args(argc, argv, &a));
  if (a.help) goto cleanup;
  BPS_CALL_GOTO(check_output(&a));
  /* read every piece */
  pieces = calloc((size_t)a.nin, sizeof *pieces);
  msg = malloc(4096);
  BPS_CHECK_GOTO(pieces && msg, BPS_ERR_MEM, "out of memory");
  bps_h5_meta meta0, meta;
  for (int i = 0; i < a.nin; i++) {
    rc = bps_h5_check_readable(a.in[i]); /* a damaged file may crash HDF5: in a child first */
    if (!rc) rc = bps_h5_read(a.in[i], &pieces[i], i ? &meta : &meta0);
    BPS_CHECK_GOTO(!rc, rc == BPS_ERR_MEM ? rc : BPS_ERR_USAGE, "cannot use '%s'", a.in[i]);
    if (i && strcmp(meta.git_commit, meta0.git_commit))
      fprintf(stderr,
              "bpscan merge: warning: '%s' was written by bpscan %s (git %s), '%s' by "
              "bpscan %s (git %s)\n",
              a.in[0], meta0.bpscan_version, meta0.git_commit, a.in[i], meta.bpscan_version,
              meta.git_commit);
  }
  rc = bps_merge_results(pieces, a.in, a.nin, a.out, &merged, msg, 4096);
  refused = rc == BPS_ERR_USAGE;
  BPS_CHECK_GOTO(!rc, rc, "merging %d pieces", a.nin);
  BPS_CALL_GOTO(bps_h5_write(a.out, &merged, a.force));
  if (merged.nn && merged.per_n[0].mom)
    fprintf(stderr,
            "[bpscan] merged %d pieces (slice count %d) into %s: exact moments of %d "
            "qubit count%s\n",
            a.nin, pieces[0].slice_count, a.out, merged.nn, merged.nn == 1 ? "" : "s");
  else
    fprintf(stderr,
            "[bpscan] merged %d pieces (slice count %d) into %s: %d qubit count%s, %ld "
            "samples each\n",
            a.nin, pieces[0].slice_count, a.out, merged.nn, merged.nn == 1 ? "" : "s",
            merged.nn ? merged.per_n[0].samples : 0L);
cleanup:
  if (refused) fprintf(stderr, "bpscan merge: refusing to merge: %s\n", msg);
  else if (rc && bps_error_message()[0]) bps_error_print(stderr);
  bps_error_clear();
  if (pieces)
    for (int i = 0; i < a.nin; i++) bps_h5_result_free(&pieces[i]);
  free(pieces);
  bps_h5_result_free(&merged);
  free(msg);
  free(a.in);
  return bps_exit_code(rc);
}

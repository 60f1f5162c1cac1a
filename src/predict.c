/* predict: `bpscan check --ranks`, the scaling model (see predict.h). */
#include "predict.h"

#include <math.h>
#include <stdio.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assemble.h"
#include "assign.h"
#include "bpscan/error.h"
#include "bpscan/h5io.h"
#include "bpscan/threads.h"
#include "sample.h"

/* What the model measures on this machine. */
typedef struct {
  double *t;        /* [nn] seconds per sample of every n, warm, in its thread mode */
  double enc_rate;  /* bytes per second of bps_h5_chunk_encode on one core */
  double enc_ratio; /* encoded bytes / raw bytes */
  int T, cores;
  double idle; /* cores idle now (idle_cores) */
} measures;

/* One row of the table. */
typedef struct {
  double calib, compute, reduce, net, total, balance; /* net: the bandwidth part of the
                                                         reduction's transfers */
} row;

/* ------------------------------------------------------------------ measurements */

/* Mean seconds per sample of pn: a warm-up sample, then k more (about 0.15 s, at least
 * 2 per thread) run as the scan runs a block. */
static int time_samples(const bps_scan_config *cfg, const bps_plan_n *pn, int T, double *t) {
  int rc = BPS_OK, stopped = 0;
  volatile sig_atomic_t stop = 0;
  long k = 64;
  double *rec = malloc(sizeof(double) * (size_t)pn->rec_len * (size_t)k);
  BPS_CHECK_GOTO(rec, BPS_ERR_MEM, "out of memory");
  double t0 = bps_wtime();
  BPS_CALL_GOTO(bps_sample_block(cfg, pn, 1, 1, rec, &stop, &stopped));
  double one = bps_wtime() - t0;
  k = (long)(0.15 / (one > 1e-6 ? one : 1e-6));
  if (k < 2L * T) k = 2L * T;
  if (k > 64) k = 64;
  t0 = bps_wtime();
  BPS_CALL_GOTO(bps_sample_block(cfg, pn, 2, (int)k, rec, &stop, &stopped));
  *t = (bps_wtime() - t0) / (double)k;
cleanup:
  free(rec);
  return rc;
}

/* Deflate speed and ratio on a chunk (1 MiB) of Gaussian doubles, like gradients. */
static int time_encode(measures *m) {
  int rc = BPS_OK;
  const size_t n = 131072;
  double *x = malloc(sizeof(double) * n);
  void *z = NULL;
  size_t zlen = 0;
  BPS_CHECK_GOTO(x, BPS_ERR_MEM, "out of memory");
  uint64_t s = 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i < n; i += 2) { /* LCG uniforms, Box-Muller */
    double u[2];
    for (int j = 0; j < 2; j++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      u[j] = ((double)(s >> 11) + 0.5) / 9007199254740992.0;
    }
    double r = sqrt(-2.0 * log(u[0])) * 0.1;
    x[i] = r * cos(6.283185307179586 * u[1]);
    if (i + 1 < n) x[i + 1] = r * sin(6.283185307179586 * u[1]);
  }
  double best = INFINITY;
  for (int rep = 0; rep < 2; rep++) {
    free(z);
    z = NULL;
    double t0 = bps_wtime();
    BPS_CALL_GOTO(bps_h5_chunk_encode(x, n * sizeof(double), &z, &zlen));
    best = fmin(best, bps_wtime() - t0);
  }
  m->enc_rate = (double)(n * sizeof(double)) / fmax(best, 1e-9);
  m->enc_ratio = (double)zlen / (double)(n * sizeof(double));
cleanup:
  free(x);
  free(z);
  return rc;
}

/* The cores other processes leave idle now: the idle share of every core over 0.3 s
 * (/proc/stat) times the cores (this process sleeps meanwhile); all cores elsewhere. */
static double idle_cores(int cores) {
  unsigned long long a[2][8] = {{0}};
  for (int k = 0; k < 2; k++) {
    FILE *f = fopen("/proc/stat", "r");
    int got = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &a[k][0], &a[k][1],
                         &a[k][2], &a[k][3], &a[k][4], &a[k][5], &a[k][6], &a[k][7])
                : 0;
    if (f) fclose(f);
    if (got != 8) return cores;
    if (k == 0) usleep(300000);
  }
  double total = 0, idle = (double)(a[1][3] - a[0][3]) + (double)(a[1][4] - a[0][4]);
  for (int j = 0; j < 8; j++) total += (double)(a[1][j] - a[0][j]);
  double c = total > 0 ? cores * idle / total : cores;
  return c < 0.5 ? 0.5 : c > cores ? cores : c;
}

/* ------------------------------------------------------------------ the model */

/* The largest load of N ranks when the tasks of blocks of `block` samples are assigned as
 * the driver assigns them (LPT on the calibrated costs) and cost the measured time; and
 * the sum of all loads. */
static int makespan(const bps_plan *p, const measures *m, long block, int N, double *span,
                    double *sum) {
  int rc = BPS_OK;
  const bps_scan_config *cfg = p->cfg;
  long nt = 0;
  for (int i = 0; i < p->nn; i++) nt += (cfg->samples + block - 1) / block;
  double *cost = malloc(sizeof(double) * (size_t)nt), *real = malloc(sizeof(double) * (size_t)nt);
  double *load = calloc((size_t)N, sizeof(double));
  unsigned char *open = malloc((size_t)nt);
  int *owner = malloc(sizeof(int) * (size_t)nt);
  BPS_CHECK_GOTO(cost && real && load && open && owner, BPS_ERR_MEM, "out of memory");
  for (int i = 0, t = 0; i < p->nn; i++)
    for (long b = 0; b * block < cfg->samples; b++, t++) {
      const long cnt = cfg->samples - b * block < block ? cfg->samples - b * block : block;
      cost[t] = p->pn[i].t_sample * (double)cnt;
      real[t] = m->t[i] * (double)cnt;
      open[t] = (unsigned char)bps_slice_has(cfg->slice_index, cfg->slice_count, t);
    }
  BPS_CALL_GOTO(bps_assign_lpt(nt, cost, open, N, owner));
  *span = *sum = 0;
  for (long t = 0; t < nt; t++)
    if (owner[t] >= 0) load[owner[t]] += real[t], *sum += real[t];
  for (int r = 0; r < N; r++) *span = fmax(*span, load[r]);
cleanup:
  free(cost);
  free(real);
  free(load);
  free(open);
  free(owner);
  return rc;
}

/* An assumed bandwidth (bytes/s): the environment variable name in GB/s, else def. */
static double assumed(const char *name, double def) {
  const char *v = getenv(name);
  char *e;
  double x = v ? strtod(v, &e) : 0;
  return v && e != v && x > 0 ? x * 1e9 : def;
}

/* The reduction on N ranks (seconds), dedicated cores: *net the transfers at the network
 * bandwidth, the rest returned. */
static double reduce_time(const bps_plan *p, const measures *m, int N, double *net_part) {
  const bps_scan_config *cfg = p->cfg;
  const int enc = N <= 2 ? N : N - 1; /* assemble.c: the ranks that encode chunks */
  double va = 0, vb = 0, vc = 0, windows = 0, encode = 0;
  const double W = 8.0 * BPS_REDUCE_WINDOW;
  for (int i = 0; i < p->nn; i++) {
    const bps_plan_n *pn = &p->pn[i];
    double S = 0;
    for (long b = 0; b < pn->nblocks; b++)
      if (bps_slice_has(cfg->slice_index, cfg->slice_count, p->task_off[i] + b))
        S += (double)bps_plan_block_count(p, i, b);
    if (S <= 0) continue;
    const double a = S * pn->rec_len * 8.0;
    const double b = S * (pn->rec_len - (cfg->store_samples ? pn->nparams : 0)) * 8.0;
    const double c = S >= 2 && pn->ntracked > 0 ? S * pn->ntracked * 8.0 : 0.0;
    va += a, vb += b, vc += c;
    windows += ceil(a / W) + ceil(b / W) + (c > 0 ? ceil(c / W) : 0);
    /* its chunks (cost, grad, diag, params; landscape fields counted as one dataset of the
     * tail's width), in rounds of BPS_REDUCE_ROUND bytes over `enc` encoders */
    const long cols[5] = {1, pn->ntracked, BPS_NDIAG, cfg->store_samples ? pn->nparams : 0,
                          pn->rec_len - pn->off_land};
    double chunks = 0, biggest = 0;
    for (int d = 0; d < 5; d++) {
      if (cols[d] <= 0) continue;
      const long rows = bps_h5_chunk_rows((long)S, cols[d]);
      chunks += ceil(S / (double)rows);
      biggest = fmax(biggest, rows * cols[d] * 8.0);
    }
    const double rounds = ceil(a / (double)BPS_REDUCE_ROUND);
    const double per_round = fmax(1.0, fmin((double)enc, chunks / rounds));
    encode += fmax(a / (m->enc_rate * per_round), rounds * biggest / m->enc_rate);
  }
  const double hops = N > 1 ? ceil(log2((double)N)) : 0.0;
  const double net = assumed("BPSCAN_PREDICT_NET_GBS", BPS_PREDICT_NET);
  const double mem = assumed("BPSCAN_PREDICT_MEM_GBS", BPS_PREDICT_MEM);
  const double disk = assumed("BPSCAN_PREDICT_DISK_GBS", BPS_PREDICT_DISK);
  double t = (va + vb + vc) / mem; /* rank 0's copies and statistics */
  t += encode;                     /* chunk encoding */
  t += va * m->enc_ratio / disk;   /* the file */
  *net_part = 0;
  if (N > 1) {
    *net_part = (va + vb + vc) / net;             /* records to rank 0 */
    *net_part += va * (1.0 + m->enc_ratio) / net; /* chunks out to the encoders and back */
    t += windows * 3 * BPS_PREDICT_LAT * hops;    /* collectives per window */
    t += ceil(va / (double)BPS_REDUCE_ROUND) * 2 * BPS_PREDICT_LAT * hops; /* rounds */
  }
  return t;
}

/* The row of N ranks (dedicated cores). */
static int model(const bps_plan *p, const measures *m, int N, row *r) {
  double sum = 0;
  memset(r, 0, sizeof *r);
  for (int q = 0; q < N && q < p->nn; q++) { /* calibration: n index i on rank i mod N */
    double c = 0;
    for (int i = q; i < p->nn; i += N) /* plan.c: samples under 0.01 s timed 3 times */
      c += m->t[i] * (m->t[i] < 0.01 ? 3.0 : 1.0) + (m->T > 1 ? m->t[i] * m->T : 0.0);
    r->calib = fmax(r->calib, c);
  }
  BPS_CALL(makespan(p, m, p->cfg->block, N, &r->compute, &sum));
  r->balance = r->compute > 0 ? sum / (N * r->compute) : 1.0;
  r->reduce = reduce_time(p, m, N, &r->net);
  r->total = r->calib + r->compute + r->reduce + r->net;
  return BPS_OK;
}

/* The block size for N ranks: the largest power of two whose compute balance is at least
 * 97 % (else the best one); candidates with at most 2e5 tasks. */
static int best_block(const bps_plan *p, const measures *m, int N, FILE *out) {
  const bps_scan_config *cfg = p->cfg;
  long ok = -1, top = -1;
  double ok_bal = 0, top_bal = -1, span, sum;
  for (long b = 1; b < 2 * cfg->samples; b *= 2) {
    if ((double)p->nn * (double)((cfg->samples + b - 1) / b) > 2e5) continue;
    BPS_CALL(makespan(p, m, b, N, &span, &sum));
    const double bal = span > 0 ? sum / (N * span) : 1.0;
    if (bal >= 0.97) ok = b, ok_bal = bal;
    if (bal > top_bal) top = b, top_bal = bal;
  }
  BPS_CALL(makespan(p, m, cfg->block, N, &span, &sum));
  const double mine = span > 0 ? sum / (N * span) : 1.0;
  if (ok > 0)
    fprintf(out,
            "block: on %d ranks the largest power-of-two block with a compute balance >= 97%% "
            "is %ld (%.1f%%); this job's block %d: %.1f%%\n",
            N, ok, 100 * ok_bal, cfg->block, 100 * mine);
  else if (top > 0)
    fprintf(out,
            "block: on %d ranks no block reaches a compute balance of 97%%; the best is %ld "
            "(%.1f%%; this job's block %d: %.1f%%): more samples per rank would help\n",
            N, top, 100 * top_bal, cfg->block, 100 * mine);
  return BPS_OK;
}

int bps_predict(const bps_plan *p, const int *ranks, int nranks, FILE *out) {
  int rc = BPS_OK, Nmax = 1;
  measures m;
  memset(&m, 0, sizeof m);
  m.T = bps_threads_max();
  m.cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (m.cores < 1) m.cores = 1;
  m.t = calloc((size_t)p->nn, sizeof(double));
  BPS_CHECK_GOTO(m.t, BPS_ERR_MEM, "out of memory");
  m.idle = idle_cores(m.cores);
  for (int i = 0; i < p->nn; i++) BPS_CALL_GOTO(time_samples(p->cfg, &p->pn[i], m.T, &m.t[i]));
  BPS_CALL_GOTO(time_encode(&m));
  row one;
  BPS_CALL_GOTO(model(p, &m, 1, &one));
  fprintf(out,
          "\nprediction for %d thread(s) per rank (README \"Scaling model\"): per-sample "
          "costs measured on warm samples;\nchunk encoding %.0f MB/s per core (measured, ratio "
          "%.2f); network %.3g GB/s, memory %.3g GB/s, disk %.3g GB/s assumed\n",
          m.T, m.enc_rate / 1e6, m.enc_ratio,
          assumed("BPSCAN_PREDICT_NET_GBS", BPS_PREDICT_NET) / 1e9,
          assumed("BPSCAN_PREDICT_MEM_GBS", BPS_PREDICT_MEM) / 1e9,
          assumed("BPSCAN_PREDICT_DISK_GBS", BPS_PREDICT_DISK) / 1e9);
  fprintf(out, "%7s %9s %11s %9s %9s %11s %10s %8s %13s\n", "ranks", "calib", "compute",
          "reduce", "network", "total", "efficiency", "balance", "this host");
  for (int k = 0; k < nranks; k++) {
    const int N = ranks[k];
    row r;
    BPS_CALL_GOTO(model(p, &m, N, &r));
    /* threads beyond the idle cores share them; a sample's measured cost already holds
     * this host's speed with what else runs (so one thread is not slowed twice) */
    const double f = fmax(1.0, (double)N * m.T / fmax(m.idle, 1.0));
    fprintf(out, "%7d %8.2fs %10.2fs %8.2fs %8.2fs %10.2fs %9.1f%% %7.1f%% %12.2fs\n", N,
            r.calib, r.compute, r.reduce, r.net, r.total, 100.0 * one.total / (N * r.total),
            100.0 * r.balance, r.total * f);
    if (N > Nmax) Nmax = N;
  }
  fprintf(out,
          "(\"this host\": %d core(s), %.1f of them idle now: ranks x threads beyond "
          "them share them)\n",
          m.cores, m.idle);
  fprintf(out, "per-sample costs measured:");
  for (int i = 0; i < p->nn; i++) fprintf(out, " n=%d %.3g s", p->pn[i].n, m.t[i]);
  fprintf(out, "\n");
  if (Nmax > 1) BPS_CALL_GOTO(best_block(p, &m, Nmax, out));
cleanup:
  free(m.t);
  return rc;
}

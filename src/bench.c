/* bench: `bpscan bench` — gate throughput of the dense and factored state kernels, the
 * memory bandwidth it implies, and its ratio to a STREAM-triad bandwidth measured in the
 * same run (so the ratio says how close a gate sweep comes to what the memory system can
 * deliver on this machine, at this moment).
 *
 * Per row (qubit count q, representation, gate size k = 1 or 2, OpenMP thread count):
 *   gates_per_s    Haar-random k-qubit unitaries rho -> U rho U^dag per second, targets
 *                  cycled over all qubits (k = 2: pairs (t, t+1 mod q) and (t, t+q/2 mod q));
 *                  best of `reps` repetitions of >= min_time seconds each;
 *   bandwidth_gbs  bytes of the state read + written once per gate, times gates_per_s:
 *                  dense 2*16*4^q, factored (A of 2^q x r) 2*16*2^q*r; GB = 1e9 bytes;
 *   bandwidth_ratio  bandwidth_gbs / triad_gbs, the triad at the largest thread count
 *                  (extra field: the ratio to the triad at the row's own thread count).
 * Factored rows use r = 2^floor(q/2) (a DQNN-like mixed state); --full adds rank-1 rows
 * (pure states) at q = 16..22. The triad is counted as STREAM does: 3 x 8 bytes per
 * element, write-allocate traffic not counted.
 *
 * Shared machines: each row also reports the spread of its repetitions and the cores that
 * other processes kept busy while it ran (/proc/stat minus this process's CPU time); rows
 * above NOISY_SPREAD / NOISY_OTHER are marked '*' and counted in the goal line.
 *
 * This file only prints: tests never assert on timings. It includes no MPI (one process).
 */
#include "bpscan/bench.h"
#include "bpscan/bench_models.h"
#include "bpscan/bench_moments.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpscan/error.h"
#include "bpscan/gates.h"
#include "bpscan/rng.h"
#include "bpscan/state.h"
#include "bpscan/threads.h"
#include "bpscan/version.h"

enum {
  BENCH_MAX_THREADS = 16, /* entries of --threads */
  BENCH_POOL = 16,        /* Haar unitaries per gate size, cycled */
  BENCH_QMIN = 2,         /* 2-qubit gates need two qubits */
  BENCH_QMAX = 14,        /* dense rho of 4 GiB (+ the same again as kernel scratch) */
  BENCH_FULL_QLO = 16,    /* rank-1 factored rows of --full */
  BENCH_FULL_QHI = 22,
  BENCH_GOAL_Q = 11 /* the goal concerns dense rows at q >= 11 */
};
#define BENCH_GOAL_RATIO 0.60
#define BENCH_SEED UINT64_C(0x62656e6368) /* "bench": the fixed bench stream's seed */
#define GB 1e9

/* ------------------------------------------------------------------------------------ */
/* Options */

typedef struct {
  int qmin, qmax;
  int nthreads, threads[BENCH_MAX_THREADS];
  int tmax; /* largest entry of threads */
  const char *json;
  int quick, full, no_models, no_moments, moments_only;
  int reps, triad_reps;
  double min_time;     /* seconds, lower bound of one repetition */
  double max_rep_time; /* seconds: above this, a repetition covers a subset of targets */
} bench_opts;

static void usage(FILE *out) {
  fprintf(out,
          "usage: bpscan bench [--quick | --full] [--qmin N] [--qmax N] [--threads LIST]\n"
          "                    [--reps N] [--min-time SEC] [--json FILE] [--no-models]\n"
          "                    [--no-moments | --moments-only]\n"
          "\n"
          "Gate throughput of the dense and factored state kernels against the memory\n"
          "bandwidth of this machine (a STREAM triad measured in the same run).\n"
          "\n"
          "For each qubit count q, representation (dense rho; factored rho = A A^dag with\n"
          "rank r = 2^floor(q/2)), gate size (Haar-random 1- and 2-qubit unitaries, targets\n"
          "cycled over all qubits) and OpenMP thread count it prints gates per second, the\n"
          "effective bandwidth (bytes of the state read + written per gate: dense 2*16*4^q,\n"
          "factored 2*16*2^q*r; divided by the time per gate) and its ratio to the triad.\n"
          "\n"
          "options:\n"
          "  --qmin N        smallest qubit count (default 8; at least %d)\n"
          "  --qmax N        largest qubit count (default 13, 11 with --quick; at most %d)\n"
          "  --threads LIST  comma-separated OpenMP thread counts (default 1,2)\n"
          "  --quick         q = 8..11, best of 2 repetitions of >= 0.1 s (about 20 s)\n"
          "  --full          also rank-1 factored rows (pure states) at q = %d..%d\n"
          "  --reps N        repetitions per row, the best is reported (default 3, quick 2)\n"
          "  --min-time SEC  minimum duration of one repetition (default 0.2, quick 0.1)\n"
          "  --json FILE     also write the results as JSON to FILE\n"
          "  --no-models     skip the DQNN model rows (cost vs adjoint gradient, dense vs factored)\n"
          "  --no-moments    skip the exact-moments rows (a whole moments scan at one n per row:\n"
          "                  Haar DQNN n,n and hea alt L4 at n = 1024 and others; about a minute)\n"
          "  --moments-only  only the exact-moments rows (--quick: smaller n for the slow ones)\n"
          "  --help          print this text\n"
          "\n"
          "Numbers are best-of-N wall-clock times and are noisy on a shared machine: rows\n"
          "disturbed by other processes (measured while each row runs) are marked '*'.\n"
          "GB/s = 1e9 bytes/s. Exit codes: 0 success, 1 runtime error, 2 usage error.\n",
          BENCH_QMIN, BENCH_QMAX, BENCH_FULL_QLO, BENCH_FULL_QHI);
}

static int usage_error(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "bpscan bench: ");
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, "\nrun `bpscan bench --help` for the options\n");
  return BPS_ERR_USAGE;
}

/* Whole-string integer in [lo, hi]; 0 on success. */
static int parse_int(const char *s, long lo, long hi, int *out) {
  if (!s || !*s) return 1;
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return 1;
  *out = (int)v;
  return 0;
}

static int parse_threads(const char *s, bench_opts *o) {
  o->nthreads = 0;
  const char *p = s;
  while (p && *p) {
    char item[32];
    size_t len = strcspn(p, ",");
    if (len == 0 || len >= sizeof item || o->nthreads == BENCH_MAX_THREADS) return 1;
    memcpy(item, p, len);
    item[len] = '\0';
    int t = 0;
    if (parse_int(item, 1, 1024, &t)) return 1;
    for (int i = 0; i < o->nthreads; i++)
      if (o->threads[i] == t) return 1;
    o->threads[o->nthreads++] = t;
    p += len;
    if (*p == ',') {
      p++;
      if (!*p) return 1;
    }
  }
  return o->nthreads == 0;
}

/* Returns 0 to run, -1 after --help, BPS_ERR_USAGE on a usage error (message printed). */
static int parse_options(int argc, char **argv, bench_opts *o) {
  int qmin = -1, qmax = -1, reps = -1, threads_given = 0;
  double min_time = -1.0;
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      usage(stdout);
      return -1;
    }
    if (!strcmp(arg, "--no-models")) {
      o->no_models = 1;
      continue;
    }
    if (!strcmp(arg, "--no-moments")) {
      o->no_moments = 1;
      continue;
    }
    if (!strcmp(arg, "--moments-only")) {
      o->moments_only = 1;
      continue;
    }
    if (!strcmp(arg, "--quick")) {
      o->quick = 1;
      continue;
    }
    if (!strcmp(arg, "--full")) {
      o->full = 1;
      continue;
    }
    /* Options with a value: --name VALUE or --name=VALUE. */
    static const char *const valued[] = {"--qmin", "--qmax", "--threads",
                                         "--json", "--reps", "--min-time"};
    const char *val = NULL;
    int which = -1;
    for (int j = 0; j < (int)(sizeof valued / sizeof valued[0]); j++) {
      size_t n = strlen(valued[j]);
      if (!strncmp(arg, valued[j], n) && (arg[n] == '\0' || arg[n] == '=')) {
        which = j;
        if (arg[n] == '=') val = arg + n + 1;
        else if (i + 1 < argc) val = argv[++i];
        else return usage_error("%s needs a value%s", valued[j], "");
        break;
      }
    }
    if (which < 0) return usage_error("unknown option '%s'%s", arg, "");
    switch (which) {
    case 0:
    case 1: {
      int v = 0;
      if (parse_int(val, BENCH_QMIN, BENCH_QMAX, &v))
        return usage_error("%s needs a qubit count in [2, 14], got '%s'", valued[which], val);
      if (which == 0) qmin = v;
      else qmax = v;
      break;
    }
    case 2:
      if (parse_threads(val, o))
        return usage_error("%s needs distinct thread counts in [1, 1024] separated by "
                           "commas (at most 16), got '%s'",
                           valued[which], val);
      threads_given = 1;
      break;
    case 3:
      if (!*val) return usage_error("%s needs a file name%s", valued[which], "");
      o->json = val;
      break;
    case 4:
      if (parse_int(val, 1, 1000, &reps))
        return usage_error("%s needs an integer in [1, 1000], got '%s'", valued[which], val);
      break;
    case 5: {
      char *end = NULL;
      errno = 0;
      min_time = strtod(val, &end);
      if (errno || !*val || *end || !(min_time >= 1e-4 && min_time <= 60.0))
        return usage_error("%s needs seconds in [0.0001, 60], got '%s'", valued[which], val);
      break;
    }
    default: break;
    }
  }
  if (o->quick && o->full)
    return usage_error("--quick and --full exclude each other%s%s", "", "");
  /* A bound given alone moves the other default out of its way. */
  int def_max = o->quick ? 11 : 13;
  o->qmin = qmin >= 0 ? qmin : (qmax >= 0 && qmax < 8 ? qmax : 8);
  o->qmax = qmax >= 0 ? qmax : (qmin > def_max ? qmin : def_max);
  if (o->qmin > o->qmax) {
    char a[16], b[16];
    snprintf(a, sizeof a, "%d", o->qmin);
    snprintf(b, sizeof b, "%d", o->qmax);
    return usage_error("empty qubit range: qmin %s > qmax %s", a, b);
  }
  if (!threads_given) {
    o->nthreads = 2;
    o->threads[0] = 1;
    o->threads[1] = 2;
  }
  o->tmax = 0;
  for (int i = 0; i < o->nthreads; i++)
    if (o->threads[i] > o->tmax) o->tmax = o->threads[i];
  o->reps = reps > 0 ? reps : (o->quick ? 2 : 3);
  o->min_time = min_time > 0 ? min_time : (o->quick ? 0.1 : 0.2);
  o->max_rep_time = fmax(o->min_time, o->quick ? 0.5 : 1.0);
  o->triad_reps = o->quick ? 5 : 10;
  /* A dense rho plus its scratch must fit in memory. */
  double need = 2.0 * bps_state_bytes(BPS_DENSE, o->qmax, 0);
  long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
  double phys = pages > 0 && psize > 0 ? (double)pages * (double)psize : 0.0;
  if (phys > 0 && need > 0.75 * phys) {
    char a[64], b[64];
    snprintf(a, sizeof a, "%d (%.3g GiB with scratch)", o->qmax, need / 1073741824.0);
    snprintf(b, sizeof b, "%.3g GiB", phys / 1073741824.0);
    return usage_error("--qmax %s: dense rows do not fit in this machine's %s", a, b);
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Machine description */

typedef struct {
  char host[256];
  char cpu[128];
  long cores;
  int omp_max;  /* bps_threads_max() at start */
  double l3_mb; /* last-level cache in MiB (0 if unknown) */
  double busy;  /* cores kept busy by other work at start (-1 if unknown) */
} bench_machine;

static void trim(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
}

/* Cores busy with other work: the non-idle share of /proc/stat over 0.25 s while this
 * process sleeps (-1 if unavailable). */
static int read_cpu_times(double *busy, double *total) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 1;
  unsigned long long v[8] = {0};
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                 &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n < 5) return 1;
  *total = 0.0;
  for (int i = 0; i < 8; i++) *total += (double)v[i];
  *busy = *total - (double)v[3] - (double)v[4]; /* minus idle and iowait */
  return 0;
}

static double other_busy_cores(void) {
  double b0, t0, b1, t1;
  if (read_cpu_times(&b0, &t0)) return -1.0;
  struct timespec ts = {0, 250000000L};
  nanosleep(&ts, NULL);
  if (read_cpu_times(&b1, &t1) || t1 <= t0) return -1.0;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return (b1 - b0) / (t1 - t0) * (double)(cores > 0 ? cores : 1);
}

/* Other load while a row runs: machine-wide busy CPU time (/proc/stat) minus this
 * process's CPU time, over the wall time. */
typedef struct {
  double wall, proc, busy;
  int ok;
} load_probe;

static void load_probe_start(load_probe *p) {
  double total = 0.0;
  struct timespec ts;
  p->ok = !read_cpu_times(&p->busy, &total) && !clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  p->proc = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
  p->wall = bps_wtime();
}

static double load_probe_other(const load_probe *p) {
  double busy = 0.0, total = 0.0;
  struct timespec ts;
  double wall = bps_wtime() - p->wall;
  long tck = sysconf(_SC_CLK_TCK);
  if (!p->ok || read_cpu_times(&busy, &total) || clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) ||
      tck <= 0 || wall <= 0.0)
    return -1.0;
  double proc = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec - p->proc;
  return fmax(0.0, ((busy - p->busy) / (double)tck - proc) / wall);
}

static void describe_machine(bench_machine *m) {
  memset(m, 0, sizeof *m);
  if (gethostname(m->host, sizeof m->host - 1)) snprintf(m->host, sizeof m->host, "unknown");
  m->cores = sysconf(_SC_NPROCESSORS_ONLN);
  m->omp_max = bps_threads_max();
  m->busy = other_busy_cores();
  snprintf(m->cpu, sizeof m->cpu, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "model name", 10)) continue;
      const char *c = strchr(line, ':');
      if (c) {
        c++;
        while (*c == ' ' || *c == '\t') c++;
        snprintf(m->cpu, sizeof m->cpu, "%s", c);
        trim(m->cpu);
      }
      break;
    }
    fclose(f);
  }
  /* The L3 a core can use (sysfs), which on virtual machines can be smaller than the
   * size sysconf reports. */
  for (int i = 0; i < 8; i++) {
    char path[96], buf[64];
    int level = 0;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
    FILE *fl = fopen(path, "r");
    if (!fl) break;
    if (fscanf(fl, "%d", &level) != 1) level = 0;
    fclose(fl);
    if (level != 3) continue;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    FILE *fs = fopen(path, "r");
    if (fs && fgets(buf, sizeof buf, fs)) {
      char *end = NULL;
      double v = strtod(buf, &end);
      if (end && (*end == 'K' || *end == 'k')) v /= 1024.0;
      else if (end && *end == 'G') v *= 1024.0;
      else if (end && *end != 'M') v /= 1048576.0; /* plain bytes */
      m->l3_mb = v;
    }
    if (fs) fclose(fs);
  }
}

/* ------------------------------------------------------------------------------------ */
/* STREAM triad */

typedef struct {
  int64_t n;
  double *a, *b, *c;
} triad_arrays;

static void triad_kernel(int64_t n, double *restrict a, const double *restrict b,
                         const double *restrict c, double s) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
}

/* Arrays of n doubles each: the smallest power of two with each array >= 4x the L3
 * (the STREAM rule), at least 2^24 (128 MiB), at most 2^26. First touch in parallel, with
 * the same static schedule as the kernel, at the largest thread count. */
static void triad_destroy(triad_arrays *t) {
  free(t->a);
  free(t->b);
  free(t->c);
  t->a = t->b = t->c = NULL;
}

/* On failure t holds nothing. */
static int triad_create(const bench_machine *m, int threads, triad_arrays *t) {
  int rc = BPS_OK;
  int64_t n = INT64_C(1) << 24;
  while (n < (INT64_C(1) << 26) && (double)n * 8.0 < 4.0 * m->l3_mb * 1048576.0) n <<= 1;
  t->n = n;
  size_t bytes = (size_t)n * sizeof(double);
  t->a = aligned_alloc(64, bytes);
  t->b = aligned_alloc(64, bytes);
  t->c = aligned_alloc(64, bytes);
  BPS_CHECK_GOTO(t->a && t->b && t->c, BPS_ERR_MEM, "cannot allocate 3 x %zu MiB for the triad",
                 bytes >> 20);
  bps_threads_set(threads);
  double *a = t->a, *b = t->b, *c = t->c;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    a[i] = 0.0;
    b[i] = 2.0;
    c[i] = 0.5;
  }
cleanup:
  if (rc) triad_destroy(t);
  return rc;
}

/* Best-of-reps triad bandwidth in GB/s at the given thread count. */
static int triad_measure(triad_arrays *t, int threads, int reps, double *gbs) {
  const double s = 3.0;
  bps_threads_set(threads);
  triad_kernel(t->n, t->a, t->b, t->c, s); /* warm-up */
  double best = INFINITY;
  for (int r = 0; r < reps; r++) {
    double t0 = bps_wtime();
    triad_kernel(t->n, t->a, t->b, t->c, s);
    double dt = bps_wtime() - t0;
    if (dt < best) best = dt;
  }
  /* The result must be right (and used, so the loop cannot be dropped). */
  int bad = 0;
  for (int64_t i = 0; i < t->n; i += t->n / 1024 + 1) bad += t->a[i] != 3.5;
  bad += t->a[t->n - 1] != 3.5;
  BPS_CHECK(!bad, BPS_ERR_NUMERIC, "triad produced wrong values");
  *gbs = 3.0 * 8.0 * (double)t->n / best / GB;
  return BPS_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Gate sweeps */

typedef struct {
  int q;
  bps_repr repr;
  int64_t rank;
  int k, threads;
  double gates_per_s, bw_gbs, triad_same, ratio, ratio_same, bytes_per_gate, best_s;
  double spread; /* fastest / slowest repetition rate */
  double other;  /* cores kept busy by other processes while the row ran (-1 unknown) */
  long gates_per_rep;
} bench_row;

typedef struct {
  bps_cplx u1[BENCH_POOL * 4];  /* 1-qubit Haar unitaries */
  bps_cplx u2[BENCH_POOL * 16]; /* 2-qubit Haar unitaries */
} gate_pool;

/* The fixed bench stream: seed BENCH_SEED, n = gate size, sample 0, purpose TEST. */
static int pool_create(gate_pool *p) {
  bps_rng r;
  bps_rng_init(&r, BENCH_SEED, 1, 0, BPS_STREAM_TEST, 0);
  for (int i = 0; i < BENCH_POOL; i++) BPS_CALL(bps_haar_unitary(&r, 2, p->u1 + 4 * i));
  bps_rng_init(&r, BENCH_SEED, 2, 0, BPS_STREAM_TEST, 0);
  for (int i = 0; i < BENCH_POOL; i++) BPS_CALL(bps_haar_unitary(&r, 4, p->u2 + 16 * i));
  return BPS_OK;
}

/* Target lists: k = 1 all qubits; k = 2 the pairs (t, t+1 mod q), and for q >= 4 also
 * (t, t+q/2 mod q), which are never adjacent. Returns the number of targets. */
static int make_targets(int q, int k, int *tg) {
  int nt = 0;
  if (k == 1) {
    for (int t = 0; t < q; t++) tg[nt++] = t;
    return nt;
  }
  for (int t = 0; t < q; t++, nt++) {
    tg[2 * nt] = t;
    tg[2 * nt + 1] = (t + 1) % q;
  }
  if (q >= 4)
    for (int t = 0; t < q; t++, nt++) {
      tg[2 * nt] = t;
      tg[2 * nt + 1] = (t + q / 2) % q;
    }
  return nt;
}

/* A batch of n gates: gate g of the batch. With n >= nt the targets are cycled; with
 * fewer gates than targets they are spread evenly over the list, so a short batch still
 * sees all kinds of strides. */
typedef struct {
  bps_state *st;
  int k, nt;
  const int *tg;
  const bps_cplx *pool;
} gate_batch;

static int apply_gate(const gate_batch *b, long g, long n) {
  const int d2 = (1 << b->k) * (1 << b->k);
  long ti = n >= b->nt ? g % b->nt : (long)((double)g * b->nt / (double)n);
  BPS_CALL(bps_apply_unitary(b->st, b->k, b->tg + b->k * ti,
                             b->pool + (size_t)d2 * (size_t)(g % BENCH_POOL)));
  return BPS_OK;
}

/* One timed batch of n gates; on a loaded machine it stops after cap seconds, and *done
 * says how many gates ran in *dt seconds. */
static int timed_batch(const gate_batch *b, long n, double cap, long *done, double *dt) {
  double t0 = bps_wtime(), t = 0.0;
  long g = 0;
  while (g < n) {
    BPS_CALL(apply_gate(b, g, n));
    g++;
    t = bps_wtime() - t0;
    if (t > cap) break;
  }
  *done = g;
  *dt = t;
  return BPS_OK;
}

/* Time one row: warm-up, calibration, then the best rate of `reps` repetitions. */
typedef struct {
  long gates_per_rep; /* gates in the best repetition */
  double best_s;      /* its duration */
  double spread;      /* fastest / slowest repetition rate (1 = quiet machine) */
} row_timing;

static int time_row(bps_state *st, int k, const gate_pool *p, const bench_opts *o,
                    row_timing *out) {
  int tg[4 * (BENCH_FULL_QHI + 1)];
  gate_batch b = {st, k, 0, tg, k == 1 ? p->u1 : p->u2};
  b.nt = make_targets(st->q, k, tg);
  const long nt = b.nt;
  long done = 0;
  double t = 0.0;
  /* Warm-up: two gates (kernels may swap the state and its scratch: touch both). */
  BPS_CALL(timed_batch(&b, 2, INFINITY, &done, &t));
  /* Calibrate: double the batch until it takes a quarter of min_time. */
  for (long w = 1;; w *= 2) {
    BPS_CALL(timed_batch(&b, w, INFINITY, &done, &t));
    if (t >= 0.25 * o->min_time || w >= (1L << 30)) break;
  }
  double t_gate = fmax(t / (double)done, 1e-9);
  for (int attempt = 0;; attempt++) {
    long n = (long)ceil(o->min_time / t_gate);
    /* Cover every target once per repetition, unless that takes longer than max_rep_time
     * (large dense states): then a spread subset. */
    long lo = nt;
    if ((double)nt * t_gate > o->max_rep_time) lo = (long)fmax(1.0, o->max_rep_time / t_gate);
    if (n < lo) n = lo;
    if (n >= nt) n = (n + nt - 1) / nt * nt; /* whole sweeps: every target equally often */
    /* A repetition slowed down by other load is cut short (its rate still counts). */
    double cap = fmax(4.0 * o->min_time, 3.0 * (double)n * t_gate);
    double best_rate = 0.0, worst_rate = INFINITY;
    for (int r = 0; r < o->reps; r++) {
      BPS_CALL(timed_batch(&b, n, cap, &done, &t));
      double rate = (double)done / t;
      if (rate > best_rate) {
        best_rate = rate;
        out->gates_per_rep = done;
        out->best_s = t;
      }
      worst_rate = fmin(worst_rate, rate);
    }
    out->spread = best_rate / worst_rate;
    /* If the calibration ran on a slowed machine, the repetitions came out too short to
     * mean much: recalibrate from them and measure again (twice at most). */
    if (out->best_s >= 0.5 * o->min_time || attempt == 2) break;
    t_gate = 1.0 / best_rate;
  }
  return BPS_OK;
}

/* A generic state of the shape: dense |psi><psi| with psi Haar; factored A with Gaussian
 * entries (rank r, full column rank almost surely), normalised to trace 1. */
static int state_init(bps_state *st, bps_repr repr, int q, int64_t r) {
  int rc = BPS_OK;
  bps_rng rng;
  bps_rng_init(&rng, BENCH_SEED, (uint32_t)q, (uint32_t)r, BPS_STREAM_TEST, 1);
  size_t dim = (size_t)1 << q, n = repr == BPS_DENSE ? dim : dim * (size_t)r;
  bps_cplx *buf = malloc(n * sizeof(bps_cplx));
  BPS_CHECK_GOTO(buf, BPS_ERR_MEM, "out of memory for a %d-qubit initial state", q);
  if (repr == BPS_DENSE) {
    bps_haar_state(&rng, (bps_idx)dim, buf);
  } else {
    double norm = 0.0;
    for (size_t i = 0; i < n; i++) {
      double re = bps_rng_normal(&rng), im = bps_rng_normal(&rng);
      buf[i] = re + I * im;
      norm += re * re + im * im;
    }
    for (size_t i = 0; i < n; i++) buf[i] /= sqrt(norm);
  }
  if (repr == BPS_DENSE) BPS_CALL_GOTO(bps_state_set_pure(st, q, buf));
  else BPS_CALL_GOTO(bps_state_set_factor(st, q, (bps_idx)r, buf));
cleanup:
  free(buf);
  return rc;
}

/* Trace of rho straight from the storage (a cheap check that the timed kernels kept the
 * state a state; independent of diag.c). */
static double state_trace(const bps_state *st) {
  double tr = 0.0;
  if (st->repr == BPS_DENSE) {
    for (bps_idx i = 0; i < st->dim; i++) tr += creal(st->a[i * st->dim + i]);
  } else {
    for (bps_idx i = 0; i < st->dim * st->rank; i++)
      tr += creal(st->a[i]) * creal(st->a[i]) + cimag(st->a[i]) * cimag(st->a[i]);
  }
  return tr;
}

/* ------------------------------------------------------------------------------------ */
/* Output */

#define ROW_HEAD "%4s  %-8s %7s %5s %4s %13s %9s %7s %10s %10s %8s %7s %6s\n"
#define ROW_FMT "%4d  %-8s %7lld %4dq %4d %13.1f %9.2f %7.3f %10.3f %10ld %8.4f %7.2f %6s%s\n"
#define NOISY_SPREAD 1.5 /* rows whose repetitions differ more than this are marked */
#define NOISY_OTHER 0.25 /* rows during which other work kept this many cores busy too */

static int row_noisy(const bench_row *r) {
  return r->spread > NOISY_SPREAD || r->other > NOISY_OTHER;
}

static void print_row(const bench_row *r) {
  char other[16] = "?";
  if (r->other >= 0) snprintf(other, sizeof other, "%.2f", r->other);
  printf(ROW_FMT, r->q, bps_repr_name(r->repr), (long long)r->rank, r->k, r->threads,
         r->gates_per_s, r->bw_gbs, r->ratio, r->ratio_same, r->gates_per_rep, r->best_s,
         r->spread, other, row_noisy(r) ? " *" : "");
  fflush(stdout);
}

/* Minimum ratio to the triad at the row's own thread count (ratio@thr: a 1-thread row
 * against the 1-thread triad, as the goal is stated) over the goal's rows (dense, q >= 11,
 * 1q and 2q) at the given thread count (0: all thread counts); -1 if there are none. */
static double goal_min(const bench_row *rows, int nrows, int threads, int *which) {
  double m = -1.0;
  *which = -1;
  for (int i = 0; i < nrows; i++) {
    if (rows[i].repr != BPS_DENSE || rows[i].q < BENCH_GOAL_Q) continue;
    if (threads && rows[i].threads != threads) continue;
    if (m < 0 || rows[i].ratio_same < m) {
      m = rows[i].ratio_same;
      *which = i;
    }
  }
  return m;
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void json_num(FILE *f, double v) {
  if (isfinite(v)) fprintf(f, "%.8g", v);
  else fputs("null", f);
}

static int write_json(FILE *f, const char *path, const bench_opts *o, const bench_machine *m,
                      const double *triad, const bench_row *rows, int nrows,
                      const bps_bench_model_row *mrows, int nmrows,
                      const bps_bench_traffic_row *trows, int ntrows,
                      const bps_bench_moments_row *orows, int norows) {
  int itmax = 0;
  for (int i = 0; i < o->nthreads; i++)
    if (o->threads[i] == o->tmax) itmax = i;
  fprintf(f, "{\n  \"tool\": \"bpscan bench\",\n  \"version\": ");
  json_str(f, BPS_VERSION_STRING);
  fprintf(f, ",\n  \"git\": ");
  json_str(f, BPS_GIT_COMMIT);
  fprintf(f, ",\n  \"machine\": {\"hostname\": ");
  json_str(f, m->host);
  fprintf(f, ", \"cpu\": ");
  json_str(f, m->cpu);
  fprintf(f, ", \"cores\": %ld, \"omp_max_threads\": %d, \"l3_mib\": ", m->cores, m->omp_max);
  json_num(f, m->l3_mb);
  fprintf(f, ", \"busy_cores_at_start\": ");
  json_num(f, m->busy >= 0 ? m->busy : NAN);
  fprintf(f, "},\n  \"options\": {\"qmin\": %d, \"qmax\": %d, \"threads\": [", o->qmin, o->qmax);
  for (int i = 0; i < o->nthreads; i++) fprintf(f, "%s%d", i ? ", " : "", o->threads[i]);
  fprintf(f, "], \"quick\": %s, \"full\": %s, \"reps\": %d, \"min_time_s\": ",
          o->quick ? "true" : "false", o->full ? "true" : "false", o->reps);
  json_num(f, o->min_time);
  fprintf(f,
          "},\n  \"triad_note\": \"STREAM triad a = b + s*c, best of %d, counted as 3 x 8 "
          "bytes per element (write-allocate traffic not counted, as STREAM does); "
          "GB = 1e9 bytes\",\n",
          o->triad_reps);
  fprintf(f, "  \"triad_gbs\": ");
  json_num(f, triad[itmax]);
  fprintf(f, ",\n  \"triad_by_threads\": {");
  for (int i = 0; i < o->nthreads; i++) {
    fprintf(f, "%s\"%d\": ", i ? ", " : "", o->threads[i]);
    json_num(f, triad[i]);
  }
  fprintf(f, "},\n  \"rows\": [");
  for (int i = 0; i < nrows; i++) {
    const bench_row *r = &rows[i];
    fprintf(f,
            "%s\n    {\"qubits\": %d, \"representation\": \"%s\", \"gate_qubits\": %d, "
            "\"threads\": %d, \"gates_per_s\": ",
            i ? "," : "", r->q, bps_repr_name(r->repr), r->k, r->threads);
    json_num(f, r->gates_per_s);
    fprintf(f, ", \"bandwidth_gbs\": ");
    json_num(f, r->bw_gbs);
    fprintf(f, ", \"bandwidth_ratio\": ");
    json_num(f, r->ratio);
    fprintf(f, ", \"rank\": %lld, \"bytes_per_gate\": %.0f", (long long)r->rank,
            r->bytes_per_gate);
    fprintf(f, ", \"triad_gbs_same_threads\": ");
    json_num(f, r->triad_same);
    fprintf(f, ", \"bandwidth_ratio_same_threads\": ");
    json_num(f, r->ratio_same);
    fprintf(f, ", \"gates_per_rep\": %ld, \"reps\": %d, \"best_s\": ", r->gates_per_rep, o->reps);
    json_num(f, r->best_s);
    fprintf(f, ", \"rep_spread\": ");
    json_num(f, r->spread);
    fprintf(f, ", \"other_busy_cores\": ");
    json_num(f, r->other >= 0 ? r->other : NAN);
    fprintf(f, ", \"noisy\": %s", row_noisy(r) ? "true" : "false");
    fputc('}', f);
  }
  int gi = -1;
  double g = goal_min(rows, nrows, 0, &gi);
  int gti = -1;
  double gt = goal_min(rows, nrows, o->tmax, &gti);
  fprintf(f,
          "\n  ],\n  \"goal\": {\"description\": \"min bandwidth_ratio_same_threads over dense 1q/2q rows "
          "at q >= %d\", \"target\": ",
          BENCH_GOAL_Q);
  json_num(f, BENCH_GOAL_RATIO);
  fprintf(f, ", \"min_ratio\": ");
  if (gi >= 0) json_num(f, g);
  else fputs("null", f);
  fprintf(f, ", \"met\": %s", gi < 0 ? "null" : (g >= BENCH_GOAL_RATIO ? "true" : "false"));
  fprintf(f, ", \"max_threads\": %d, \"min_ratio_at_max_threads\": ", o->tmax);
  if (gti >= 0) json_num(f, gt);
  else fputs("null", f);
  fprintf(f, ", \"met_at_max_threads\": %s}",
          gti < 0 ? "null" : (gt >= BENCH_GOAL_RATIO ? "true" : "false"));
  if (nmrows > 0) {
    fprintf(f, ",\n  \"models\": ");
    BPS_CALL(bps_bench_models_json(f, mrows, nmrows));
  }
  if (ntrows > 0) {
    fprintf(f, ",\n  \"traffic\": ");
    BPS_CALL(bps_bench_traffic_json(f, trows, ntrows));
  }
  if (norows > 0) {
    fprintf(f, ",\n");
    BPS_CALL(bps_bench_moments_json(f, orows, norows));
  }
  fprintf(f, "\n}\n");
  BPS_CHECK(!ferror(f), BPS_ERR_IO, "error writing %s", path);
  return BPS_OK;
}

/* ------------------------------------------------------------------------------------ */
/* The run */

typedef struct {
  bench_row *rows;
  int n, cap;
} row_list;

static int row_push(row_list *l, const bench_row *r) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    bench_row *p = realloc(l->rows, (size_t)cap * sizeof *p);
    BPS_CHECK(p, BPS_ERR_MEM, "out of memory for bench rows");
    l->rows = p;
    l->cap = cap;
  }
  l->rows[l->n++] = *r;
  return BPS_OK;
}

/* All rows of one state shape (q, repr, rank): 1q and 2q gates at every thread count. */
static int bench_shape(int q, bps_repr repr, int64_t rank, const bench_opts *o,
                       const gate_pool *p, const double *triad, double triad_top, row_list *out) {
  int rc = BPS_OK;
  bps_state *st = NULL;
  bps_threads_set(o->tmax); /* first touch at the largest thread count */
  BPS_CALL_GOTO(bps_state_create(repr, q, &st));
  BPS_CALL_GOTO(state_init(st, repr, q, rank));
  double bytes = 2.0 * bps_state_bytes(repr, q, (bps_idx)rank);
  for (int k = 1; k <= 2; k++)
    for (int i = 0; i < o->nthreads; i++) {
      bps_threads_set(o->threads[i]);
      bench_row r = {0};
      r.q = q;
      r.repr = repr;
      r.rank = rank;
      r.k = k;
      r.threads = o->threads[i];
      row_timing tm = {0, 0.0, 1.0};
      load_probe lp;
      load_probe_start(&lp);
      BPS_CALL_GOTO(time_row(st, k, p, o, &tm));
      r.other = load_probe_other(&lp);
      r.gates_per_rep = tm.gates_per_rep;
      r.best_s = tm.best_s;
      r.spread = tm.spread;
      r.gates_per_s = (double)r.gates_per_rep / r.best_s;
      r.bytes_per_gate = bytes;
      r.bw_gbs = bytes * r.gates_per_s / GB;
      r.triad_same = triad[i];
      r.ratio = r.bw_gbs / triad_top;
      r.ratio_same = r.bw_gbs / triad[i];
      print_row(&r);
      BPS_CALL_GOTO(row_push(out, &r));
    }
  double tr = state_trace(st);
  BPS_CHECK_GOTO(fabs(tr - 1.0) <= 1e-8, BPS_ERR_NUMERIC,
                 "after the timed gates the %d-qubit %s state has trace %.17g, not 1", q,
                 bps_repr_name(repr), tr);
cleanup:
  bps_state_destroy(&st);
  return rc;
}

/* The summary line of the goal: dense 1q/2q gates at q >= BENCH_GOAL_Q reach
 * BENCH_GOAL_RATIO of the triad bandwidth. */
static void print_goal(const row_list *rows, const bench_opts *o) {
  int gi = -1;
  double g = goal_min(rows->rows, rows->n, 0, &gi);
  if (gi < 0) {
    printf("\ngoal (dense 1q/2q gates at q >= %d reach >= %.0f%% of the triad at their thread count): not measured "
           "(no dense rows at q >= %d in this run)\n",
           BENCH_GOAL_Q, 100 * BENCH_GOAL_RATIO, BENCH_GOAL_Q);
    return;
  }
  const bench_row *w = &rows->rows[gi];
  int ngoal = 0, nnoisy = 0;
  for (int i = 0; i < rows->n; i++)
    if (rows->rows[i].repr == BPS_DENSE && rows->rows[i].q >= BENCH_GOAL_Q) {
      ngoal++;
      nnoisy += row_noisy(&rows->rows[i]);
    }
  printf("\ngoal (dense 1q/2q gates at q >= %d reach >= %.0f%% of the triad at their thread count): min ratio@thr %.3f "
         "(q=%d %dq, %d thread%s) -> %s",
         BENCH_GOAL_Q, 100 * BENCH_GOAL_RATIO, g, w->q, w->k, w->threads,
         w->threads == 1 ? "" : "s", g >= BENCH_GOAL_RATIO ? "MET" : "NOT MET");
  int gti = -1;
  double gt = goal_min(rows->rows, rows->n, o->tmax, &gti);
  if (o->nthreads > 1 && gti >= 0)
    printf("; at %d threads: min %.3f -> %s", o->tmax, gt,
           gt >= BENCH_GOAL_RATIO ? "MET" : "NOT MET");
  if (nnoisy) printf(" (%d of %d of these rows disturbed by other work: *)", nnoisy, ngoal);
  printf("\n");
}

/* The exact-moments rows (src/moments/bench.c): one whole moments scan at one n each. */
static int run_moments(const bench_opts *o, bps_bench_moments_row **rows, int *nrows) {
  printf("\nExact-moments rows: E[C], Var[C] and every parameter's E/Var dC at one n (engine "
         "auto,\none item per thread, as `bpscan run` with mode = moments); goals "
         "on 2 cores.\n");
  bps_bench_moments_print_head(stdout);
  return bps_bench_moments(o->quick, 0, rows, nrows);
}

/* --moments-only: the moments rows and a JSON file holding only them. */
static int bench_moments_only(const bench_opts *o, FILE *json) {
  bps_bench_moments_row *rows = NULL;
  int nrows = 0, rc = run_moments(o, &rows, &nrows);
  if (!rc && json) {
    fprintf(json, "{\n  \"tool\": \"bpscan bench\",\n  \"version\": ");
    json_str(json, BPS_VERSION_STRING);
    fprintf(json, ",\n");
    rc = bps_bench_moments_json(json, rows, nrows);
    fprintf(json, "\n}\n");
    if (!rc && ferror(json))
      rc = bps_error_push(BPS_ERR_IO, __FILE__, __LINE__, __func__, "error writing %s", o->json);
  }
  free(rows);
  return rc;
}

static int bench_run(const bench_opts *o, const bench_machine *m, FILE *json) {
  int rc = BPS_OK;
  row_list rows = {NULL, 0, 0};
  double triad[BENCH_MAX_THREADS] = {0};
  gate_pool pool;
  triad_arrays ta = {0, NULL, NULL, NULL};
  bps_bench_model_row *mrows = NULL;
  bps_bench_traffic_row *trows = NULL;
  bps_bench_moments_row *orows = NULL;
  int nmrows = 0, ntrows = 0, norows = 0;
  BPS_CALL_GOTO(pool_create(&pool));

  /* Bandwidth first, with the gate states not yet allocated. */
  BPS_CALL_GOTO(triad_create(m, o->tmax, &ta));
  printf("STREAM triad a[i] = b[i] + s*c[i]: 3 arrays of 2^%d doubles (%lld MiB each; L3 "
         "%.0f MiB), best of %d,\n  counted as 3 x 8 bytes per element (write-allocate "
         "traffic not counted, as STREAM does)\n",
         (int)llround(log2((double)ta.n)), (long long)(ta.n * 8 >> 20), m->l3_mb, o->triad_reps);
  double triad_top = 0.0;
  for (int i = 0; i < o->nthreads; i++) {
    BPS_CALL_GOTO(triad_measure(&ta, o->threads[i], o->triad_reps, &triad[i]));
    if (o->threads[i] == o->tmax) triad_top = triad[i];
    printf("  %2d thread%s %8.2f GB/s%s\n", o->threads[i], o->threads[i] == 1 ? " " : "s",
           triad[i], o->threads[i] == o->tmax ? "   (triad_gbs: the ratios' reference)" : "");
  }
  triad_destroy(&ta);

  printf("\nGates rho -> U rho U^dag, U Haar-random, targets cycled over all qubits "
         "(2q: (t,t+1), (t,t+q/2) mod q);\n"
         "best of %d repetitions of >= %.2g s. Bytes per gate: dense 2*16*4^q, factored "
         "2*16*2^q*rank.\n"
         "ratio = GB/s / triad at %d thread%s; ratio@thr = GB/s / triad at the row's "
         "thread count;\n"
         "spread = fastest / slowest repetition; other = cores busy with other processes "
         "during the row;\n"
         "* = spread > %.1f or other > %.2f: disturbed by other work, rerun on a quiet "
         "machine.\n\n",
         o->reps, o->min_time, o->tmax, o->tmax == 1 ? "" : "s", NOISY_SPREAD, NOISY_OTHER);
  printf(ROW_HEAD, "q", "repr", "rank", "gate", "thr", "gates/s", "GB/s", "ratio", "ratio@thr",
         "gates/rep", "best s", "spread", "other");

  for (int q = o->qmin; q <= o->qmax; q++) {
    BPS_CALL_GOTO(bench_shape(q, BPS_DENSE, INT64_C(1) << q, o, &pool, triad, triad_top, &rows));
    BPS_CALL_GOTO(
        bench_shape(q, BPS_FACTORED, INT64_C(1) << (q / 2), o, &pool, triad, triad_top, &rows));
  }
  if (o->full)
    for (int q = BENCH_FULL_QLO; q <= BENCH_FULL_QHI; q++)
      BPS_CALL_GOTO(bench_shape(q, BPS_FACTORED, 1, o, &pool, triad, triad_top, &rows));
  print_goal(&rows, o);

  /* Model rows: one cost evaluation and one full adjoint gradient of a DQNN n,n with Haar
   * perceptrons, dense vs factored (dense only while a 2n-qubit matrix stays small). */
  if (!o->no_models) {
    int nmax = o->quick ? 6 : 8, dense_nmax = o->full ? 6 : 5;
    printf("\nModel rows: DQNN n,n with Haar perceptrons (Haar inputs, unitary target, global "
           "cost), n = 4..%d;\ndense rows up to n = %d (a 2n-qubit dense matrix is 256 MiB "
           "at n = 6, 64 GiB at n = 8). Goals: gradient <= 4 x cost, factored >= 2^n/4 x "
           "faster than dense at n >= 6.\n",
           nmax, dense_nmax);
    BPS_CALL_GOTO(bps_bench_models(4, nmax, dense_nmax, o->reps, &mrows, &nmrows));
    bps_bench_models_print(stdout, mrows, nmrows);
    int tmax = o->quick ? 8 : 10;
    printf("\nPer-sample gradient vs its traffic bound (DQNN n,n, factored, zero data, global "
           "cost; n = 6..%d):\nbound = 3 x G x (read + write of the state) / triad at the "
           "row's thread count; bound/grad = efficiency (1 = at the memory limit).\n",
           tmax);
    BPS_CALL_GOTO(bps_bench_traffic(6, tmax, o->nthreads, o->threads, triad, &trows, &ntrows));
    bps_bench_traffic_print(stdout, trows, ntrows);
  }
  if (!o->no_moments) BPS_CALL_GOTO(run_moments(o, &orows, &norows));
  if (json)
    BPS_CALL_GOTO(write_json(json, o->json, o, m, triad, rows.rows, rows.n, mrows, nmrows, trows,
                             ntrows, orows, norows));
cleanup:
  free(orows);
  triad_destroy(&ta);
  free(mrows);
  free(trows);
  free(rows.rows);
  return rc;
}

/* The exit code comes from bps_exit_code (usage errors 2, runtime errors 1). */
int bps_bench_main(int argc, char **argv) {
  bench_opts o;
  int rc = parse_options(argc, argv, &o);
  if (rc < 0) return bps_exit_code(BPS_OK); /* --help */
  if (rc) return bps_exit_code(rc);

  bench_machine m;
  describe_machine(&m);
  printf("bpscan bench (bpscan %s, git %s)\nmachine: %s, %s, %ld cores, OMP max threads %d "
         "at start; threads measured:",
         BPS_VERSION_STRING, BPS_GIT_COMMIT, m.host, m.cpu, m.cores, m.omp_max);
  for (int i = 0; i < o.nthreads; i++) printf("%s%d", i ? "," : " ", o.threads[i]);
  printf("\n");
  if (m.busy >= 0) {
    printf("other work at start: %.2f of %ld cores busy", m.busy, m.cores);
    if (m.busy > 0.25) printf(" (expect noisy rows, most of all with several threads)");
    printf("\n");
  }
  for (int i = 0; i < o.nthreads; i++)
    if (o.threads[i] > m.cores)
      fprintf(stderr,
              "bpscan bench: warning: %d threads on %ld cores: oversubscribed, the "
              "numbers for it mean little\n",
              o.threads[i], m.cores);

  /* Open the JSON output first: a bad path fails now, not after the measurements. It is
   * written to FILE.tmp and renamed at the end, so FILE is never left half written. */
  FILE *json = NULL;
  char *tmp = NULL; /* FILE.tmp, ours once opened (removed unless renamed) */
  int made = 0;
  if (o.json) {
    size_t len = strlen(o.json) + 5;
    tmp = malloc(len);
    BPS_CHECK_GOTO(tmp, BPS_ERR_MEM, "out of memory");
    snprintf(tmp, len, "%s.tmp", o.json);
    json = fopen(tmp, "w");
    BPS_CHECK_GOTO(json, BPS_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    made = 1;
  }

  bps_threads_set_dynamic(0);
  BPS_CALL_GOTO(o.moments_only ? bench_moments_only(&o, json) : bench_run(&o, &m, json));
  if (json) {
    int closed = fclose(json) == 0;
    json = NULL;
    BPS_CHECK_GOTO(closed, BPS_ERR_IO, "cannot close %s", tmp);
    BPS_CHECK_GOTO(!rename(tmp, o.json), BPS_ERR_IO, "cannot rename %s to %s: %s", tmp, o.json,
                   strerror(errno));
    made = 0;
    printf("wrote %s\n", o.json);
  }
cleanup:
  bps_threads_set(m.omp_max);
  if (json) fclose(json);
  if (made) remove(tmp);
  free(tmp);
  if (rc) bps_error_print(stderr);
  return bps_exit_code(rc);
}

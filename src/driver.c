/* driver: the scan (see driver.h). Phases: plan (per n: parameters, tracked set,
 * representation, record layout), calibrate (time one sample per n to choose the thread
 * mode and balance the blocks), resume (read checkpoints), compute (this rank's blocks,
 * checkpointing), reduce (gather all records to rank 0 in global order), write (h5io). */
#include "bpscan/driver.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "bpscan/comm.h"
#include "bpscan/error.h"
#include "bpscan/h5io.h"
#include "bpscan/hash.h"
#include "bpscan/job.h"
#include "bpscan/landscape.h"
#include "bpscan/result.h"
#include "bpscan/rng.h"
#include "bpscan/stats.h"
#include "bpscan/threads.h"

/* ------------------------------------------------------------------ signals */

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig) { g_stop = sig; }

void bps_driver_install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ------------------------------------------------------------------ plan */

typedef struct {
  int n;
  int nparams, ntracked;
  int *tracked;
  char **names;
  int q_in, q_out, diag_qubits;
  double page_db;
  bps_repr repr;
  int rec_len;       /* 1 + P + BPS_NDIAG + (store ? P_all : 0) + land_len */
  /* landscape scans: the field layout (no data) and the per-sample record tail */
  bps_landscape_n *land; /* NULL for gradient scans */
  int land_off, land_len; /* offset of the landscape tail in a record, its length */
  int *land_R;            /* [P] integer degree R_j of each tracked parameter */
  long nblocks;
  int per_sample;    /* 1: one sample per thread; 0: all threads inside one state */
  double t_sample;   /* calibrated seconds per sample (in the chosen mode, per thread) */
  double mem_dense, mem_factored; /* estimated peak bytes per sample */
} plan_n;

typedef struct {
  const bps_scan_config *cfg;
  int nn;
  plan_n *pn;
  long ntasks;
  long *task_off; /* task index of (nidx, 0) */
} plan;

static void plan_free(plan *p) {
  for (int i = 0; i < p->nn; i++) {
    if (p->pn[i].land) bps_landscape_n_free(p->pn[i].land);
    free(p->pn[i].land);
    free(p->pn[i].land_R);
    free(p->pn[i].tracked);
    if (p->pn[i].names)
      for (int k = 0; k < p->pn[i].nparams; k++) free(p->pn[i].names[k]);
    free(p->pn[i].names);
  }
  free(p->pn);
  free(p->task_off);
}

/* Resolve "all" | "first" | "last" | comma-separated names. */
static int resolve_tracked(const char *spec, const bps_model_instance *m, int **out, int *count) {
  int P = m->nparams;
  BPS_CHECK(P >= 1, BPS_ERR_JOB, "the model has no parameters at n = %d", m->n);
  int *idx = malloc(sizeof(int) * (size_t)P);
  BPS_CHECK(idx, BPS_ERR_MEM, "out of memory");
  int c = 0;
  if (!strcmp(spec, "all")) {
    for (int p = 0; p < P; p++) idx[c++] = p;
  } else if (!strcmp(spec, "first")) {
    idx[c++] = 0;
  } else if (!strcmp(spec, "last")) {
    idx[c++] = P - 1;
  } else {
    const char *s = spec;
    while (*s) {
      while (*s == ' ' || *s == ',' || *s == '\t') s++;
      if (!*s) break;
      const char *e = s;
      while (*e && *e != ',' && *e != ' ' && *e != '\t') e++;
      size_t len = (size_t)(e - s);
      int found = -1;
      for (int p = 0; p < P && found < 0; p++)
        if (strlen(m->param_names[p]) == len && !strncmp(m->param_names[p], s, len)) found = p;
      if (found < 0) {
        free(idx);
        BPS_CHECK(0, BPS_ERR_JOB,
                  "[gradient] params: no parameter named '%.*s' at n = %d (names run %s ... %s)",
                  (int)len, s, m->n, m->param_names[0], m->param_names[P - 1]);
      }
      for (int k = 0; k < c; k++)
        if (idx[k] == found) {
          free(idx);
          BPS_CHECK(0, BPS_ERR_JOB, "[gradient] params: '%.*s' listed twice", (int)len, s);
        }
      if (c < P) idx[c++] = found;
      s = e;
    }
    if (c == 0) {
      free(idx);
      BPS_CHECK(0, BPS_ERR_JOB, "[gradient] params: empty list");
    }
  }
  *out = idx;
  *count = c;
  return BPS_OK;
}

/* Peak bytes of one sample's gradient. Ranks are tracked through the circuit: the state
 * forwards from a pure input (rank 1; x 2^k through a partial trace, x nkraus through a
 * channel, x 2 for depolarising, capped by the register dimension). Dense: the state, the
 * observable and a scratch copy, each with a kernel work buffer, 2^q x 2^q, plus the
 * checkpoints. Factored (circuit.c: Lambda = O A has the state's shape, no observable
 * beyond the output): at each operation the state and Lambda with their work buffers and
 * a scratch factor of the larger side, the uncompressed result of a trace or channel
 * (with the SVD's copy and U), the cost observable on the output register (two parts),
 * plus the checkpoints at the segment boundaries. */
static void estimate_memory(const bps_model_instance *m, double *dense, double *factored) {
  if (!m->circuit) {
    double d = ldexp(1.0, m->q_in);
    *dense = *factored = 8.0 * 16.0 * d * d;
    return;
  }
  const bps_circuit *c = m->circuit;
  int n = c->nops;
  int *qa = malloc(sizeof(int) * (size_t)(n + 1));
  double *ra = malloc(sizeof(double) * (size_t)(n + 1));
  if (!qa || !ra) {
    free(qa);
    free(ra);
    *dense = *factored = INFINITY;
    return;
  }
  /* forward: register width and state rank before op i (index n: the output) */
  int q = c->q_in;
  double r = 1.0, ck_d = 0, ck_f = 0;
  for (int i = 0; i <= n; i++) {
    qa[i] = q;
    ra[i] = r;
    if (i == n) break;
    const bps_op *op = &c->ops[i];
    double dim = ldexp(1.0, q);
    if (i == 0 || op->kind == BPS_OP_APPEND || op->kind == BPS_OP_TRACE) {
      ck_d += 16.0 * dim * dim;
      ck_f += 16.0 * dim * r;
    }
    if (op->kind == BPS_OP_APPEND) q += op->k;
    if (op->kind == BPS_OP_TRACE) {
      q -= op->k;
      r *= ldexp(1.0, op->k);
    }
    if (op->kind == BPS_OP_KRAUS) r *= op->nkraus;
    if (op->kind == BPS_OP_DEPOL) r *= 2.0;
    r = fmin(r, ldexp(1.0, q));
  }
  /* cost observable on the output register (built once, for Lambda_out = O A_out) */
  double ro = 0;
  for (int x = 0; x < m->npairs; x++) {
    const bps_cost *cost = m->costs[x];
    double rx = 0;
    for (int t = 0; t < cost->nterms; t++) rx += cost->terms[t].m * ldexp(1.0, cost->q - cost->terms[t].k);
    ro = fmax(ro, fmin(rx, ldexp(1.0, cost->q)));
  }
  double dout = ldexp(1.0, qa[n]);
  double peak_d = 0, peak_f = 16.0 * dout * (4.0 * ro + 6.0 * ra[n]);
  for (int i = n; i >= 0; i--) {
    double dim = ldexp(1.0, qa[i]);
    peak_d = fmax(peak_d, 2.0 * 16.0 * dim * dim * 3.0);
    if (i == n) continue;
    const bps_op *op = &c->ops[i];
    double dimo = ldexp(1.0, qa[i + 1]);
    double big = fmax(dim * ra[i], dimo * ra[i + 1]); /* the larger factor around op i */
    double raw = 0; /* uncompressed result of the forward kernel, its work copy and U */
    if (op->kind == BPS_OP_TRACE) raw = 2.0 * dim * ra[i] + dimo * fmin(dimo, dim * ra[i] / dimo);
    if (op->kind == BPS_OP_KRAUS) raw = 2.0 * dim * ra[i] * op->nkraus + dim * dim;
    if (op->kind == BPS_OP_DEPOL) raw = 4.0 * dim * fmin(dim, 2.0 * ra[i]) + dim * dim;
    peak_f = fmax(peak_f, 16.0 * (5.0 * big + raw));
  }
  free(qa);
  free(ra);
  *dense = peak_d + ck_d;
  *factored = peak_f + ck_f;
}

/* ------------------------------------------------------------------ landscape cuts */

/* The scalar results of one 1-D cut, in the order of the cut fields below. */
enum { LS_MEAN, LS_VAR, LS_ALIAS, LS_SLOPE_FFT, LS_SLOPE_ADJ, LS_LIPSCHITZ, LS_BERNSTEIN,
       LS_SPREAD, LS_MAX, LS_MIN, LS_COUNT };
static const char *const land_scalar_names[LS_COUNT] = {
    "cut_mean", "cut_var", "aliasing", "slope_fft", "slope_adjoint", "lipschitz",
    "bernstein", "spread", "cut_max", "cut_min"};

static bps_land_field *land_add(bps_landscape_n *l, const char *name, int ndim, long d0, long d1,
                                int stats) {
  bps_land_field *f = &l->field[l->nfield++];
  snprintf(f->name, sizeof f->name, "%s", name);
  f->ndim = ndim;
  f->dims[0] = d0;
  f->dims[1] = d1;
  f->stats = stats;
  return f;
}

/* Offset of field `name` in the landscape tail of a record. */
static long land_offset(const bps_landscape_n *l, const char *name) {
  long off = 0;
  for (int i = 0; i < l->nfield; i++) {
    if (!strcmp(l->field[i].name, name)) return off;
    off += bps_land_field_elems(&l->field[i]);
  }
  return -1;
}

/* Plan the landscape fields of one n from instance 0 (structure only: the degrees R_j of the
 * tracked parameters are the same for every sample; checked per sample). */
static int land_plan(const bps_scan_config *cfg, plan_n *pn, const bps_model_instance *m) {
  const int P = pn->ntracked, dirs = cfg->land_directions;
  BPS_CHECK(m->circuit, BPS_ERR_JOB,
            "mode = landscape needs a circuit model (the QBM is not a trigonometric polynomial)");
  BPS_CHECK(dirs != BPS_LAND_PLANE || P >= 2, BPS_ERR_JOB,
            "[landscape] directions = plane needs at least 2 parameters in [gradient] params "
            "(has %d at n = %d)", P, pn->n);
  double *nu = malloc(sizeof(double) * (size_t)m->nparams);
  int *R = malloc(sizeof(int) * (size_t)m->nparams), *k = calloc((size_t)m->nparams, sizeof(int));
  pn->land_R = malloc(sizeof(int) * (size_t)P);
  pn->land = calloc(1, sizeof(bps_landscape_n));
  int rc = nu && R && k && pn->land_R && pn->land ? BPS_OK : BPS_ERR_MEM;
  if (!rc) rc = bps_landscape_frequencies(m->circuit, nu, R);
  /* every tracked parameter must have an integer spectrum: the degree call names the first
   * that does not */
  for (int p = 0; p < P && !rc; p++) {
    k[pn->tracked[p]] = 1;
    pn->land_R[p] = R[pn->tracked[p]];
  }
  int Ksum = 0;
  if (!rc) {
    rc = bps_landscape_degree(m->circuit, m->param_names, k, &Ksum);
    if (rc)
      rc = bps_error_push(BPS_ERR_JOB, __FILE__, __LINE__, __func__,
                          "n = %d: a landscape cut cannot move these parameters; restrict "
                          "[gradient] params to parameters with commensurate frequencies",
                          pn->n);
  }
  bps_landscape_n *l = pn->land;
  if (!rc) {
    static const char *const dname[] = {"random", "axes", "plane"};
    snprintf(l->directions, sizeof l->directions, "%s", dname[dirs]);
    l->pad = cfg->land_pad;
    l->ncut = dirs == BPS_LAND_AXES ? P : 1;
    l->ndeg = dirs == BPS_LAND_AXES ? P : dirs == BPS_LAND_PLANE ? 2 : 1;
    l->degree = calloc((size_t)l->ndeg, sizeof(int));
    l->size = calloc((size_t)l->ndeg, sizeof(int));
    if (!l->degree || !l->size) rc = BPS_ERR_MEM;
  }
  if (!rc) {
    if (dirs == BPS_LAND_RANDOM) {
      l->degree[0] = Ksum;
    } else if (dirs == BPS_LAND_AXES) {
      for (int p = 0; p < P; p++) l->degree[p] = pn->land_R[p];
    } else {
      int h = (P + 1) / 2;
      for (int p = 0; p < P; p++) l->degree[p < h ? 0 : 1] += pn->land_R[p];
    }
    for (int d = 0; d < l->ndeg && !rc; d++) rc = bps_landscape_size(l->degree[d], -1, &l->size[d]);
  }
  if (!rc && dirs == BPS_LAND_PLANE)
    BPS_CHECK((double)l->size[0] * l->size[1] <= 4.0e6, BPS_ERR_JOB,
              "n = %d: the plane needs a %d x %d grid of cost evaluations per sample (degrees "
              "%d, %d): too many; choose fewer [gradient] params", pn->n, l->size[0],
              l->size[1], l->degree[0], l->degree[1]);
  if (!rc) {
    int Kmax = 0;
    for (int d = 0; d < l->ndeg; d++) Kmax = l->degree[d] > Kmax ? l->degree[d] : Kmax;
    if (dirs == BPS_LAND_RANDOM) {
      for (int q = 0; q < LS_COUNT; q++) land_add(l, land_scalar_names[q], 0, 0, 0, 1);
      land_add(l, "power", 1, Ksum + 1, 0, 1);
      land_add(l, "direction", 1, P, 0, 0);
    } else if (dirs == BPS_LAND_AXES) {
      for (int q = 0; q < LS_COUNT; q++) land_add(l, land_scalar_names[q], 1, P, 0, 1);
      land_add(l, "power", 2, P, Kmax + 1, 1);
    } else {
      for (int q = 0; q < LS_COUNT; q++)
        land_add(l, land_scalar_names[q], q == LS_SLOPE_FFT || q == LS_SLOPE_ADJ ? 1 : 0, 2, 0, 1);
      land_add(l, "power", 1, l->degree[0] + l->degree[1] + 1, 0, 1);
      land_add(l, "direction", 2, 2, P, 0);
    }
    land_add(l, "nu", 1, P, 0, 0);
    if (dirs == BPS_LAND_PLANE) land_add(l, "image", 2, l->size[0], l->size[1], 0);
    long len = 0;
    for (int i = 0; i < l->nfield; i++) len += bps_land_field_elems(&l->field[i]);
    BPS_CHECK(len < (1L << 26), BPS_ERR_JOB,
              "n = %d: %ld landscape values per sample is too many for a record", pn->n, len);
    pn->land_len = (int)len;
  }
  free(nu);
  free(R);
  free(k);
  BPS_CALL(rc);
  return BPS_OK;
}

/* Put the scalars of a 1-D cut into column `col` of the cut fields (stride = number of
 * columns: 1 for random, P for axes). */
static void land_put_cut(const bps_landscape_n *l, double *tail, const bps_cut_result *r,
                         int col) {
  const double v[LS_COUNT] = {r->mean,      r->var,       r->alias,     r->slope_fft,
                              r->slope_adjoint, r->lipschitz, r->bernstein, r->spread,
                              r->fmax,      r->fmin};
  for (int q = 0; q < LS_COUNT; q++) tail[land_offset(l, land_scalar_names[q]) + col] = v[q];
}

/* The landscape tail of sample s's record: cuts through theta0 = m->theta along the
 * directions of cfg->land_directions; grad = the full gradient at theta0 (slope_adjoint). */
static int land_sample(const bps_scan_config *cfg, const plan_n *pn, const bps_model_instance *m,
                       uint32_t s, const double *grad, double *tail) {
  const bps_landscape_n *l = pn->land;
  const int M = m->nparams, P = pn->ntracked;
  double *nu = malloc(sizeof(double) * (size_t)M);
  double *dir = malloc(sizeof(double) * (size_t)M), *dir2 = malloc(sizeof(double) * (size_t)M);
  int *R = malloc(sizeof(int) * (size_t)M), *k = calloc((size_t)M, sizeof(int)),
      *k2 = calloc((size_t)M, sizeof(int));
  double *f = NULL;
  int rc = nu && dir && dir2 && R && k && k2 ? BPS_OK : BPS_ERR_MEM;
  if (!rc) rc = bps_landscape_frequencies(m->circuit, nu, R);
  for (int p = 0; p < P && !rc; p++)
    if (R[pn->tracked[p]] != pn->land_R[p])
      rc = bps_error_push(BPS_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                          "parameter %s: degree %d differs from sample 0's %d",
                          m->param_names[pn->tracked[p]], R[pn->tracked[p]], pn->land_R[p]);
  if (!rc) {
    double *nuf = tail + land_offset(l, "nu");
    for (int p = 0; p < P; p++) nuf[p] = nu[pn->tracked[p]];
  }
  if (!rc && cfg->land_directions == BPS_LAND_AXES) {
    int Kmax = (int)l->field[LS_COUNT].dims[1] - 1; /* power [P, Kmax+1] */
    double *pw = tail + land_offset(l, "power");
    for (int p = 0; p < P && !rc; p++) {
      const int j = pn->tracked[p], K = l->degree[p], N = l->size[p];
      memset(k, 0, sizeof(int) * (size_t)M);
      k[j] = 1;
      bps_cut_result r;
      f = realloc(f, sizeof(double) * (size_t)N);
      rc = f ? bps_landscape_direction(m->circuit, k, dir) : BPS_ERR_MEM;
      if (!rc) rc = bps_cut_sample(m, m->theta, dir, N, f);
      if (!rc) rc = bps_cut_analyse(f, N, K, cfg->land_pad, &r);
      if (rc) break;
      r.slope_adjoint = dir[j] * grad[j];
      land_put_cut(l, tail, &r, p);
      for (int q = 0; q <= Kmax; q++) pw[(size_t)p * (size_t)(Kmax + 1) + (size_t)q] = q <= K ? r.W[q] : 0.0;
      bps_cut_result_free(&r);
    }
  } else if (!rc) {
    /* random signs over the tracked parameters (plane: the first half goes to k, the rest
     * to k2) from the sample's landscape stream */
    bps_rng g;
    bps_rng_init(&g, cfg->seed, (uint32_t)pn->n, s, BPS_STREAM_LANDSCAPE, 0);
    const int plane = cfg->land_directions == BPS_LAND_PLANE, h = plane ? (P + 1) / 2 : P;
    for (int p = 0; p < P; p++) {
      int sign = (bps_rng_u32(&g) & 1u) ? 1 : -1;
      if (p < h) k[pn->tracked[p]] = sign;
      else k2[pn->tracked[p]] = sign;
    }
    rc = bps_landscape_direction(m->circuit, k, dir);
    if (!rc) rc = bps_landscape_direction(m->circuit, k2, dir2);
    double sa = 0, sb = 0;
    for (int j = 0; j < M; j++) {
      sa += dir[j] * grad[j];
      sb += dir2[j] * grad[j];
    }
    double *dr = tail + land_offset(l, "direction");
    for (int p = 0; p < P; p++) {
      dr[p] = k[pn->tracked[p]];
      if (plane) dr[P + p] = k2[pn->tracked[p]];
    }
    if (!rc && !plane) {
      const int K = l->degree[0], N = l->size[0];
      bps_cut_result r;
      f = malloc(sizeof(double) * (size_t)N);
      rc = f ? bps_cut_sample(m, m->theta, dir, N, f) : BPS_ERR_MEM;
      if (!rc) rc = bps_cut_analyse(f, N, K, cfg->land_pad, &r);
      if (!rc) {
        r.slope_adjoint = sa;
        land_put_cut(l, tail, &r, 0);
        memcpy(tail + land_offset(l, "power"), r.W, sizeof(double) * (size_t)(K + 1));
        bps_cut_result_free(&r);
      }
    } else if (!rc) {
      const int N1 = l->size[0], N2 = l->size[1];
      bps_plane_result r;
      double *img = tail + land_offset(l, "image");
      rc = bps_plane_sample(m, m->theta, dir, dir2, N1, N2, img);
      if (!rc) rc = bps_plane_analyse(img, N1, N2, l->degree[0], l->degree[1], cfg->land_pad, &r);
      if (!rc) {
        const double v[LS_COUNT] = {r.mean, r.var, r.alias, 0, 0, r.lipschitz, r.bernstein,
                                    r.spread, r.fmax, r.fmin};
        for (int q = 0; q < LS_COUNT; q++) {
          long o = land_offset(l, land_scalar_names[q]);
          if (q == LS_SLOPE_FFT) {
            tail[o] = r.slope_fft[0];
            tail[o + 1] = r.slope_fft[1];
          } else if (q == LS_SLOPE_ADJ) {
            tail[o] = sa;
            tail[o + 1] = sb;
          } else {
            tail[o] = v[q];
          }
        }
        memcpy(tail + land_offset(l, "power"), r.W, sizeof(double) * (size_t)r.nW);
        bps_plane_result_free(&r);
      }
    }
  }
  free(f);
  free(nu);
  free(dir);
  free(dir2);
  free(R);
  free(k);
  free(k2);
  BPS_CALL(rc);
  return BPS_OK;
}

/* ------------------------------------------------------------------ one sample */

typedef struct {
  double *grad_all;
  bps_state *out;
} sample_ws;

static int compute_sample(const bps_scan_config *cfg, const plan_n *pn, uint32_t s, double *rec,
                          sample_ws *ws) {
  bps_model_instance *m = NULL;
  BPS_CALL(bps_model_instance_create(&cfg->model, pn->n, cfg->seed, s, pn->repr, &m));
  int rc = BPS_OK;
  BPS_CHECK(m->nparams == pn->nparams, BPS_ERR_INTERNAL, "parameter count changed");
  double cost = 0;
  rc = bps_model_cost_grad(m, m->theta, cfg->method, &cost, ws->grad_all);
  int P = pn->ntracked;
  if (!rc) {
    rec[0] = cost;
    for (int p = 0; p < P; p++) rec[1 + p] = ws->grad_all[pn->tracked[p]];
  }
  /* diagnostics of the output state of pair 0 */
  double *dg = rec + 1 + P;
  for (int k = 0; k < BPS_NDIAG; k++) dg[k] = NAN;
  if (!rc && (m->circuit || m->output_state)) {
    if (!ws->out) rc = bps_state_create(pn->repr, 0, &ws->out);
    if (!rc && m->output_state) {
      rc = m->output_state(m, m->theta, ws->out);
    } else if (!rc) {
      rc = bps_state_copy(ws->out, m->inputs[0]);
      if (!rc) rc = bps_circuit_run(m->circuit, m->theta, ws->out);
    }
    if (!rc && m->ndiag > 0 && m->ndiag < ws->out->q) {
      bps_state *red = NULL;
      rc = bps_state_create(ws->out->repr, 0, &red);
      if (!rc) rc = bps_reduced_state(ws->out, m->ndiag, m->diag_qubits, red);
      if (!rc) rc = bps_state_copy(ws->out, red);
      bps_state_destroy(&red);
    }
    if (!rc) rc = bps_purity(ws->out, &dg[BPS_DIAG_PURITY]);
    if (!rc) rc = bps_entropy_vn(ws->out, &dg[BPS_DIAG_ENTROPY]);
    if (!rc) rc = bps_entropy_renyi2(ws->out, &dg[BPS_DIAG_RENYI2]);
    if (!rc) rc = bps_trace_distance_mixed(ws->out, &dg[BPS_DIAG_TRACE_DISTANCE]);
  }
  if (!rc && cfg->store_samples)
    memcpy(rec + 1 + P + BPS_NDIAG, m->theta, sizeof(double) * (size_t)pn->nparams);
  if (!rc && pn->land) rc = land_sample(cfg, pn, m, s, ws->grad_all, rec + pn->land_off);
  if (!rc && !isfinite(cost))
    rc = bps_error_push(BPS_ERR_NUMERIC, __FILE__, __LINE__, __func__, "cost is %g", cost);
  bps_model_instance_destroy(&m);
  if (rc)
    return bps_error_push(rc, __FILE__, __LINE__, __func__, "n = %d, sample %u", pn->n, s);
  return BPS_OK;
}

static int ws_init(sample_ws *ws, int nparams) {
  ws->out = NULL;
  ws->grad_all = malloc(sizeof(double) * (size_t)(nparams > 0 ? nparams : 1));
  BPS_CHECK(ws->grad_all, BPS_ERR_MEM, "out of memory");
  return BPS_OK;
}
static void ws_free(sample_ws *ws) {
  free(ws->grad_all);
  bps_state_destroy(&ws->out);
}

/* Compute samples [s0, s0+count) of one n into rec (count x rec_len). Stops early (and
 * returns 1 in *stopped) when a signal arrives. */
static int compute_block(const bps_scan_config *cfg, const plan_n *pn, long s0, int count,
                         double *rec, int *stopped) {
  int rc = BPS_OK, threads = bps_threads_max();
  *stopped = 0;
  if (pn->per_sample && threads > 1) {
    int *rcs = calloc((size_t)count, sizeof(int));
    BPS_CHECK(rcs, BPS_ERR_MEM, "out of memory");
#pragma omp parallel num_threads(threads)
    {
      sample_ws ws;
      int wrc = ws_init(&ws, pn->nparams);
#pragma omp for schedule(dynamic, 1)
      for (int i = 0; i < count; i++) {
        if (g_stop || wrc) continue;
        rcs[i] = compute_sample(cfg, pn, (uint32_t)(s0 + i), rec + (size_t)i * pn->rec_len, &ws);
        if (rcs[i]) {
#pragma omp critical
          bps_error_print(stderr);
        }
      }
      ws_free(&ws);
      if (wrc) {
#pragma omp critical
        rcs[0] = wrc;
      }
    }
    for (int i = 0; i < count && !rc; i++) rc = rcs[i];
    free(rcs);
    if (g_stop) *stopped = 1;
    BPS_CHECK(!rc, rc, "a sample of n = %d failed (see above)", pn->n);
    return BPS_OK;
  }
  sample_ws ws;
  BPS_CALL(ws_init(&ws, pn->nparams));
  for (int i = 0; i < count && !rc; i++) {
    if (g_stop) {
      *stopped = 1;
      break;
    }
    rc = compute_sample(cfg, pn, (uint32_t)(s0 + i), rec + (size_t)i * pn->rec_len, &ws);
  }
  ws_free(&ws);
  BPS_CALL(rc);
  return BPS_OK;
}

/* ------------------------------------------------------------------ planning */

static int plan_make(const bps_scan_config *cfg, plan *p) {
  memset(p, 0, sizeof *p);
  p->cfg = cfg;
  p->nn = cfg->nq;
  p->pn = calloc((size_t)p->nn, sizeof(plan_n));
  p->task_off = calloc((size_t)p->nn + 1, sizeof(long));
  BPS_CHECK(p->pn && p->task_off, BPS_ERR_MEM, "out of memory");
  for (int i = 0; i < p->nn; i++) {
    plan_n *pn = &p->pn[i];
    pn->n = cfg->qubits[i];
    /* auto: factored (rho = A A^dag keeps the rank of pure inputs and layer states), except
     * for the QBM (a Gibbs state, full rank) and noisy circuits (channels drive the rank
     * to the register dimension, where a factor is a dense matrix plus SVDs) */
    bps_repr repr = cfg->repr >= 0 ? (bps_repr)cfg->repr
                    : (cfg->model.kind == BPS_MODEL_QBM || cfg->model.noise != BPS_NOISE_NONE)
                        ? BPS_DENSE : BPS_FACTORED;
    pn->repr = repr;
    bps_model_instance *m = NULL;
    BPS_CALL(bps_model_instance_create(&cfg->model, pn->n, cfg->seed, 0, repr, &m));
    int rc = resolve_tracked(cfg->params, m, &pn->tracked, &pn->ntracked);
    pn->nparams = m->nparams;
    pn->q_in = m->q_in;
    pn->q_out = m->q_out;
    pn->diag_qubits = m->ndiag > 0 ? m->ndiag : m->q_out;
    pn->page_db = m->page_db;
    pn->names = calloc((size_t)m->nparams, sizeof(char *));
    for (int k = 0; k < m->nparams && pn->names; k++) pn->names[k] = strdup(m->param_names[k]);
    estimate_memory(m, &pn->mem_dense, &pn->mem_factored);
    if (!rc && cfg->landscape) rc = land_plan(cfg, pn, m);
    bps_model_instance_destroy(&m);
    BPS_CALL(rc);
    BPS_CHECK(pn->names, BPS_ERR_MEM, "out of memory");
    pn->land_off = 1 + pn->ntracked + BPS_NDIAG + (cfg->store_samples ? pn->nparams : 0);
    pn->rec_len = pn->land_off + pn->land_len;
    pn->nblocks = (cfg->samples + cfg->block - 1) / cfg->block;
    p->task_off[i + 1] = p->task_off[i] + pn->nblocks;
  }
  p->ntasks = p->task_off[p->nn];
  return BPS_OK;
}

/* Time sample 0 of every n (n index i on rank i % size) with all threads inside the state
 * and, when there are several threads, with one thread; share the times. */
static int calibrate(plan *p) {
  int rank = bps_comm_rank(), size = bps_comm_size(), T = bps_threads_max();
  int *mine = calloc((size_t)(2 * p->nn), sizeof(int)), *all = NULL;
  BPS_CHECK(mine, BPS_ERR_MEM, "out of memory");
  int rc = BPS_OK;
  double *rec = NULL;
  for (int i = 0; i < p->nn && !rc; i++) {
    if (i % size != rank) continue;
    plan_n *pn = &p->pn[i];
    rec = realloc(rec, sizeof(double) * (size_t)pn->rec_len);
    sample_ws ws;
    rc = ws_init(&ws, pn->nparams);
    double t0 = now();
    if (!rc) rc = compute_sample(p->cfg, pn, 0, rec, &ws);
    double tT = now() - t0, t1 = tT * T;
    if (!rc && T > 1) {
      bps_threads_set(1);
      t0 = now();
      rc = compute_sample(p->cfg, pn, 0, rec, &ws);
      t1 = now() - t0;
      bps_threads_set(T);
    }
    ws_free(&ws);
    mine[2 * i] = (int)fmin(2e9, tT * 1e6 + 1);
    mine[2 * i + 1] = (int)fmin(2e9, t1 * 1e6 + 1);
  }
  free(rec);
  int ok = bps_comm_agree(rc == BPS_OK);
  if (!ok) {
    free(mine);
    if (rc) return rc;
    BPS_CHECK(0, BPS_ERR_MPI, "calibration failed on another rank");
  }
  all = calloc((size_t)(2 * p->nn * size), sizeof(int));
  BPS_CHECK(all, BPS_ERR_MEM, "out of memory");
  rc = bps_comm_allgather_int(mine, 2 * p->nn, all);
  for (int i = 0; i < p->nn && !rc; i++) {
    int owner = i % size;
    double tT = all[owner * 2 * p->nn + 2 * i] * 1e-6, t1 = all[owner * 2 * p->nn + 2 * i + 1] * 1e-6;
    plan_n *pn = &p->pn[i];
    /* one sample per thread wins when T samples in t1 beat T samples in T * tT */
    pn->per_sample = T > 1 && t1 < T * tT;
    pn->t_sample = pn->per_sample ? t1 / T : tT;
  }
  free(mine);
  free(all);
  BPS_CALL(rc);
  return BPS_OK;
}

/* Whether global block t (task index) belongs to this array-job piece. */
static int in_slice(const bps_scan_config *cfg, long t) {
  return cfg->slice_count <= 1 || t % cfg->slice_count == cfg->slice_index;
}

/* Longest-processing-time assignment of the open tasks to ranks: tasks in decreasing
 * estimated cost go to the least loaded rank (ties: lower rank). owner[t] = rank or -1. */
static void assign(const plan *p, const unsigned char *done, int size, int *owner) {
  long nt = p->ntasks;
  long *order = malloc(sizeof(long) * (size_t)nt);
  double *cost = malloc(sizeof(double) * (size_t)nt), *load = calloc((size_t)size, sizeof(double));
  long m = 0;
  for (int i = 0; i < p->nn; i++)
    for (long b = 0; b < p->pn[i].nblocks; b++) {
      long t = p->task_off[i] + b;
      long cnt = p->cfg->samples - b * p->cfg->block;
      if (cnt > p->cfg->block) cnt = p->cfg->block;
      cost[t] = p->pn[i].t_sample * (double)cnt;
      owner[t] = -1;
      if (!done[t] && in_slice(p->cfg, t)) order[m++] = t;
    }
  /* sort by decreasing cost, then task index (insertion sort is fine for these sizes;
   * use qsort-free stable merge for large counts) */
  for (long a = 1; a < m; a++) {
    long t = order[a], j = a - 1;
    while (j >= 0 && (cost[order[j]] < cost[t] || (cost[order[j]] == cost[t] && order[j] > t))) {
      order[j + 1] = order[j];
      j--;
    }
    order[j + 1] = t;
  }
  for (long a = 0; a < m; a++) {
    int best = 0;
    for (int r = 1; r < size; r++)
      if (load[r] < load[best]) best = r;
    owner[order[a]] = best;
    load[best] += cost[order[a]];
  }
  free(order);
  free(cost);
  free(load);
}

/* ------------------------------------------------------------------ checkpoints */

#define CKPT_MAGIC "BPSCKPT1"

typedef struct {
  double *rec; /* count x rec_len, or NULL */
  int count;
} block_data;

static void ckpt_dir(const bps_scan_config *cfg, char *buf, size_t len) {
  snprintf(buf, len, "%s.ckpt", cfg->out_path);
}

/* Write all blocks in `blocks` marked mine[t] to this rank's checkpoint file, atomically. */
static int ckpt_write(const plan *p, const block_data *blocks, const unsigned char *mine,
                      const char *tag) {
  char dir[4096], path[4200], tmp[4300];
  ckpt_dir(p->cfg, dir, sizeof dir);
  if (mkdir(dir, 0755) && errno != EEXIST)
    BPS_CHECK(0, BPS_ERR_IO, "cannot create checkpoint directory %s: %s", dir, strerror(errno));
  snprintf(path, sizeof path, "%s/%s-r%d.bin", dir, tag, bps_comm_rank());
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  BPS_CHECK(f, BPS_ERR_IO, "cannot write checkpoint %s: %s", tmp, strerror(errno));
  uint32_t nb = 0;
  for (long t = 0; t < p->ntasks; t++) nb += mine[t] && blocks[t].rec;
  uint64_t hash = p->cfg->job_hash;
  uint32_t version = 1;
  int ok = fwrite(CKPT_MAGIC, 1, 8, f) == 8 && fwrite(&hash, 8, 1, f) == 1 &&
           fwrite(&version, 4, 1, f) == 1 && fwrite(&nb, 4, 1, f) == 1;
  for (int i = 0; i < p->nn && ok; i++)
    for (long b = 0; b < p->pn[i].nblocks && ok; b++) {
      long t = p->task_off[i] + b;
      if (!mine[t] || !blocks[t].rec) continue;
      int32_t hdr[4] = {p->pn[i].n, (int32_t)b, blocks[t].count, p->pn[i].rec_len};
      size_t nd = (size_t)blocks[t].count * (size_t)p->pn[i].rec_len;
      uint64_t sum = bps_fnv1a(blocks[t].rec, nd * sizeof(double), bps_fnv1a(hdr, sizeof hdr, BPS_FNV_OFFSET));
      ok = fwrite(hdr, sizeof hdr, 1, f) == 1 && fwrite(blocks[t].rec, sizeof(double), nd, f) == nd &&
           fwrite(&sum, 8, 1, f) == 1;
    }
  ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path)) {
    unlink(tmp);
    BPS_CHECK(0, BPS_ERR_IO, "writing checkpoint %s failed: %s", path, strerror(errno));
  }
  return BPS_OK;
}

/* Rank 0: read every checkpoint file of the directory into blocks[] (marking done[]). */
static int ckpt_read_all(const plan *p, block_data *blocks, unsigned char *done, long *nread) {
  char dir[4096];
  ckpt_dir(p->cfg, dir, sizeof dir);
  *nread = 0;
  DIR *d = opendir(dir);
  if (!d) return BPS_OK; /* no checkpoint yet */
  struct dirent *e;
  int rc = BPS_OK;
  while (!rc && (e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".bin")) continue;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    if (!f) {
      rc = bps_error_push(BPS_ERR_IO, __FILE__, __LINE__, __func__, "cannot read checkpoint %s", path);
      break;
    }
    char magic[8];
    uint64_t hash;
    uint32_t version, nb;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, CKPT_MAGIC, 8) || fread(&hash, 8, 1, f) != 1 ||
        fread(&version, 4, 1, f) != 1 || fread(&nb, 4, 1, f) != 1 || version != 1) {
      rc = bps_error_push(BPS_ERR_IO, __FILE__, __LINE__, __func__,
                          "checkpoint %s is corrupt (bad header); remove %s to start over", path, dir);
    } else if (hash != p->cfg->job_hash) {
      rc = bps_error_push(BPS_ERR_JOB, __FILE__, __LINE__, __func__,
                          "checkpoint %s belongs to a different job (hash %016llx, this job %016llx); "
                          "refusing to reuse it: remove %s or use another output path",
                          path, (unsigned long long)hash, (unsigned long long)p->cfg->job_hash, dir);
    }
    for (uint32_t k = 0; k < nb && !rc; k++) {
      int32_t hdr[4];
      if (fread(hdr, sizeof hdr, 1, f) != 1) {
        rc = bps_error_push(BPS_ERR_IO, __FILE__, __LINE__, __func__, "checkpoint %s is truncated", path);
        break;
      }
      int i = -1;
      for (int j = 0; j < p->nn; j++)
        if (p->pn[j].n == hdr[0]) i = j;
      long b = hdr[1];
      if (i < 0 || b < 0 || b >= p->pn[i].nblocks || hdr[3] != p->pn[i].rec_len || hdr[2] < 1 ||
          hdr[2] > p->cfg->block) {
        rc = bps_error_push(BPS_ERR_IO, __FILE__, __LINE__, __func__,
                            "checkpoint %s: block (n=%d, %d) does not fit this job's plan", path,
                            hdr[0], hdr[1]);
        break;
      }
      size_t nd = (size_t)hdr[2] * (size_t)hdr[3];
      double *rec = malloc(sizeof(double) * nd);
      uint64_t sum;
      if (!rec || fread(rec, sizeof(double), nd, f) != nd || fread(&sum, 8, 1, f) != 1 ||
          sum != bps_fnv1a(rec, nd * sizeof(double), bps_fnv1a(hdr, sizeof hdr, BPS_FNV_OFFSET))) {
        free(rec);
        rc = bps_error_push(BPS_ERR_IO, __FILE__, __LINE__, __func__,
                            "checkpoint %s is corrupt (checksum); remove %s to start over", path, dir);
        break;
      }
      long t = p->task_off[i] + b;
      if (done[t]) {
        free(rec); /* the same block from two runs: identical by construction */
      } else {
        blocks[t].rec = rec;
        blocks[t].count = hdr[2];
        done[t] = 1;
        (*nread)++;
      }
    }
    fclose(f);
  }
  closedir(d);
  BPS_CALL(rc);
  return BPS_OK;
}

static void ckpt_remove(const bps_scan_config *cfg) {
  char dir[4096];
  ckpt_dir(cfg, dir, sizeof dir);
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* ------------------------------------------------------------------ progress */

typedef struct {
  int tty;
  double start, last;
  long done, total;
} progress;

static void progress_show(progress *pr, int n, int final) {
  double t = now();
  double interval = pr->tty ? 0.5 : 30.0;
  if (!final && t - pr->last < interval) return;
  pr->last = t;
  double el = t - pr->start, rate = el > 0 ? pr->done / el : 0;
  double eta = rate > 0 ? (pr->total - pr->done) / rate : 0;
  char line[256];
  snprintf(line, sizeof line,
           "[bpscan] rank 0: %ld/%ld samples (%.0f%%), n = %d, %.1f samples/s, elapsed %.0fs, ETA %.0fs",
           pr->done, pr->total, pr->total ? 100.0 * pr->done / pr->total : 100.0, n, rate, el, eta);
  if (pr->tty)
    fprintf(stderr, "\r%-110s%s", line, final ? "\n" : "");
  else
    fprintf(stderr, "%s\n", line);
  fflush(stderr);
}

/* ------------------------------------------------------------------ reduce & write */

static double page_entropy(double da, double db) {
  if (da > db) {
    double t = da;
    da = db;
    db = t;
  }
  double s = 0;
  for (double k = db + 1; k <= da * db; k += 1) s += 1.0 / k;
  return s - (da - 1) / (2 * db);
}

/* A result copy of the landscape layout with per-sample arrays for S samples. */
static int land_result_alloc(const bps_landscape_n *tpl, long S, bps_landscape_n **out) {
  bps_landscape_n *l = calloc(1, sizeof *l);
  BPS_CHECK(l, BPS_ERR_MEM, "out of memory");
  *l = *tpl;
  l->degree = malloc(sizeof(int) * (size_t)tpl->ndeg);
  l->size = malloc(sizeof(int) * (size_t)tpl->ndeg);
  int ok = l->degree && l->size;
  if (ok) {
    memcpy(l->degree, tpl->degree, sizeof(int) * (size_t)tpl->ndeg);
    memcpy(l->size, tpl->size, sizeof(int) * (size_t)tpl->ndeg);
  }
  for (int q = 0; q < l->nfield; q++) {
    l->field[q].data = NULL;
    l->field[q].mean = l->field[q].mean_se = l->field[q].var = l->field[q].var_se = NULL;
  }
  for (int q = 0; q < l->nfield && ok; q++) {
    size_t e = (size_t)bps_land_field_elems(&l->field[q]);
    l->field[q].data = malloc(sizeof(double) * e * (size_t)(S > 0 ? S : 1));
    ok = l->field[q].data != NULL;
  }
  if (!ok) {
    bps_landscape_n_free(l);
    free(l);
    BPS_CHECK(0, BPS_ERR_MEM, "out of memory (landscape fields)");
  }
  *out = l;
  return BPS_OK;
}

static int build_result(const plan *p, block_data *blocks, bps_result *res, bps_result_n *rn) {
  const bps_scan_config *cfg = p->cfg;
  int partial = cfg->slice_count > 1;
  for (int i = 0; i < p->nn; i++) {
    const plan_n *pn = &p->pn[i];
    bps_result_n *r = &rn[i];
    memset(r, 0, sizeof *r);
    long S = 0; /* samples in this file */
    for (long b = 0; b < pn->nblocks; b++)
      if (in_slice(cfg, p->task_off[i] + b)) {
        long cnt = cfg->samples - b * cfg->block;
        S += cnt > cfg->block ? cfg->block : cnt;
      }
    r->samples_total = cfg->samples;
    r->n = pn->n;
    r->samples = S;
    r->nparams = pn->nparams;
    r->ntracked = pn->ntracked;
    r->tracked = pn->tracked;
    r->param_names = pn->names;
    r->q_in = pn->q_in;
    r->q_out = pn->q_out;
    r->diag_qubits = pn->diag_qubits;
    r->representation = bps_repr_name(pn->repr);
    int P = pn->ntracked, PA = pn->nparams;
    r->cost = malloc(sizeof(double) * (size_t)S);
    r->grad = malloc(sizeof(double) * (size_t)S * (size_t)P);
    r->diag = malloc(sizeof(double) * (size_t)S * BPS_NDIAG);
    r->params = cfg->store_samples ? malloc(sizeof(double) * (size_t)S * (size_t)PA) : NULL;
    r->grad_stats = calloc((size_t)P, sizeof(bps_stats));
    r->sample_index = partial ? malloc(sizeof(long) * (size_t)(S ? S : 1)) : NULL;
    if (pn->land) BPS_CALL(land_result_alloc(pn->land, S, &r->land));
    BPS_CHECK(r->cost && r->grad && r->diag && r->grad_stats && (r->params || !cfg->store_samples)
                  && (r->sample_index || !partial),
              BPS_ERR_MEM, "out of memory assembling n = %d", pn->n);
    long s = 0; /* row in this file */
    for (long b = 0; b < pn->nblocks; b++) {
      if (!in_slice(cfg, p->task_off[i] + b)) continue;
      const block_data *bd = &blocks[p->task_off[i] + b];
      BPS_CHECK(bd->rec, BPS_ERR_INTERNAL, "block %ld of n = %d missing", b, pn->n);
      for (int k = 0; k < bd->count; k++, s++) {
        if (partial) r->sample_index[s] = b * cfg->block + k;
        const double *rec = bd->rec + (size_t)k * pn->rec_len;
        r->cost[s] = rec[0];
        memcpy(r->grad + s * P, rec + 1, sizeof(double) * (size_t)P);
        memcpy(r->diag + s * BPS_NDIAG, rec + 1 + P, sizeof(double) * BPS_NDIAG);
        if (r->params) memcpy(r->params + s * PA, rec + 1 + P + BPS_NDIAG, sizeof(double) * (size_t)PA);
        if (r->land) {
          const double *t = rec + pn->land_off;
          for (int q = 0; q < r->land->nfield; q++) {
            bps_land_field *fq = &r->land->field[q];
            long e = bps_land_field_elems(fq);
            memcpy(fq->data + (size_t)s * (size_t)e, t, sizeof(double) * (size_t)e);
            t += e;
          }
        }
      }
    }
    BPS_CALL(bps_result_n_stats(r));
    double da = ldexp(1.0, pn->diag_qubits);
    r->page_entropy = pn->page_db > 0 ? page_entropy(da, pn->page_db) : NAN;
    r->page_purity = pn->page_db > 0 ? (da + pn->page_db) / (da * pn->page_db + 1) : NAN;
  }
  res->nn = p->nn;
  res->slice_index = partial ? cfg->slice_index : 0;
  res->slice_count = partial ? cfg->slice_count : 1;
  res->per_n = rn;
  return BPS_OK;
}

static void result_free(bps_result_n *rn, int nn) {
  for (int i = 0; i < nn; i++) {
    free(rn[i].cost);
    free(rn[i].grad);
    free(rn[i].diag);
    free(rn[i].params);
    free(rn[i].grad_stats);
    free(rn[i].sample_index);
    if (rn[i].land) bps_landscape_n_free(rn[i].land);
    free(rn[i].land);
  }
}

/* ------------------------------------------------------------------ memory */

/* Bytes one rank can use: physical memory shared by the ranks of this job (a
 * conservative bound when the ranks share one node). */
static double rank_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
  return (double)pages * (double)psz / bps_comm_size();
}

static double plan_need(const plan_n *pn) {
  return pn->repr == BPS_DENSE ? pn->mem_dense : pn->mem_factored;
}

/* BPS_ERR_MEM naming the first qubit count whose sample cannot fit in one rank. */
static int plan_fits(const plan *p) {
  double limit = rank_memory();
  for (int i = 0; i < p->nn; i++)
    BPS_CHECK(plan_need(&p->pn[i]) <= limit, BPS_ERR_MEM,
              "n = %d needs about %.3g GiB per sample (%s), more than the %.3g GiB one rank has",
              p->pn[i].n, plan_need(&p->pn[i]) / 1073741824.0, bps_repr_name(p->pn[i].repr),
              limit / 1073741824.0);
  return BPS_OK;
}

/* ------------------------------------------------------------------ run */

static int agree_or(int rc) {
  /* every rank learns whether all succeeded; a rank that failed keeps its own code */
  int ok = bps_comm_agree(rc == BPS_OK);
  if (rc) return rc;
  return ok ? BPS_OK : BPS_ERR_MPI;
}

typedef struct {
  plan p;
  block_data *blocks;
  unsigned char *done, *mine;
  int *owner;
  double *packed;
} run_state;

static int exit_code_of(int rc) {
  switch (rc) {
  case BPS_OK: return BPS_EXIT_OK;
  case BPS_ERR_JOB: return BPS_EXIT_USAGE;
  default: return BPS_EXIT_ERROR;
  }
}

static int run_impl(const bps_scan_config *cfg, run_state *st, int *exit_code) {
  int rank = bps_comm_rank(), size = bps_comm_size();
  double t_start = now();
  bps_result res;
  memset(&res, 0, sizeof res);
  res.start_time = t_start;
  /* the output must not exist (checked before any work) */
  int rc = rank == 0 ? bps_h5_check_writable(cfg->out_path, cfg->force) : BPS_OK;
  if (bps_comm_agree(rc == BPS_OK) == 0) {
    *exit_code = rc == BPS_ERR_IO && rank == 0 ? BPS_EXIT_EXISTS : BPS_EXIT_ERROR;
    if (rc) return rc;
    return BPS_ERR_IO;
  }
  rc = agree_or(plan_make(cfg, &st->p));
  if (rc) {
    *exit_code = exit_code_of(rc);
    return rc;
  }
  plan *p = &st->p;
  rc = plan_fits(p);
  if (rc) {
    *exit_code = BPS_EXIT_TOO_BIG;
    return rc;
  }
  long nt = p->ntasks;
  st->blocks = calloc((size_t)nt, sizeof(block_data));
  st->done = calloc((size_t)nt, 1);
  st->mine = calloc((size_t)nt, 1);
  st->owner = malloc(sizeof(int) * (size_t)nt);
  BPS_CHECK(st->blocks && st->done && st->mine && st->owner, BPS_ERR_MEM, "out of memory");
  /* resume */
  long nread = 0;
  rc = BPS_OK;
  if (cfg->resume && rank == 0) {
    rc = ckpt_read_all(p, st->blocks, st->done, &nread);
    if (!rc) {
      if (nread) fprintf(stderr, "[bpscan] resuming: %ld of %ld blocks restored from %s.ckpt/\n", nread, nt, cfg->out_path);
      else fprintf(stderr, "[bpscan] --resume: no checkpoint found, starting from the beginning\n");
    }
  } else if (!cfg->resume && rank == 0) {
    char dir[4096];
    ckpt_dir(cfg, dir, sizeof dir);
    struct stat sb;
    if (stat(dir, &sb) == 0)
      rc = bps_error_push(BPS_ERR_IO, __FILE__, __LINE__, __func__,
                          "a checkpoint of an earlier run exists in %s: continue it with --resume, "
                          "or remove the directory to start over", dir);
  }
  if (!bps_comm_agree(rc == BPS_OK)) {
    *exit_code = rc == BPS_ERR_JOB || rc == BPS_ERR_IO ? BPS_EXIT_CHECKPOINT : BPS_EXIT_ERROR;
    return rc ? rc : BPS_ERR_MPI;
  }
  BPS_CALL(bps_comm_bcast_bytes(st->done, (size_t)nt, 0));
  /* calibrate and assign */
  rc = calibrate(p);
  if (rc) {
    *exit_code = exit_code_of(rc);
    return rc;
  }
  assign(p, st->done, size, st->owner);
  long my_samples = 0;
  for (int i = 0; i < p->nn; i++)
    for (long b = 0; b < p->pn[i].nblocks; b++) {
      long t = p->task_off[i] + b;
      st->mine[t] = st->owner[t] == rank;
      if (st->mine[t]) {
        long cnt = cfg->samples - b * cfg->block;
        my_samples += cnt > cfg->block ? cfg->block : cnt;
      }
    }
  double t_plan = now();
  res.wall_plan = t_plan - t_start;
  /* run tag shared by the ranks of this run (checkpoint file names) */
  char tag[64];
  unsigned long long tagv = ((unsigned long long)t_start << 20) ^ (unsigned long long)getpid();
  BPS_CALL(bps_comm_bcast_bytes(&tagv, sizeof tagv, 0));
  snprintf(tag, sizeof tag, "run%llx", tagv);
  /* compute this rank's blocks, largest n first (the assignment already balances cost) */
  progress pr = {.tty = isatty(2), .start = now(), .last = 0, .done = 0, .total = my_samples};
  double last_ckpt = now();
  int stopped = 0, dirty = 0;
  rc = BPS_OK;
  for (int i = p->nn - 1; i >= 0 && !rc && !stopped; i--) {
    plan_n *pn = &p->pn[i];
    for (long b = 0; b < pn->nblocks && !rc && !stopped; b++) {
      long t = p->task_off[i] + b;
      if (!st->mine[t]) continue;
      long cnt = cfg->samples - b * cfg->block;
      if (cnt > cfg->block) cnt = cfg->block;
      double *rec = malloc(sizeof(double) * (size_t)cnt * (size_t)pn->rec_len);
      if (!rec) {
        rc = bps_error_push(BPS_ERR_MEM, __FILE__, __LINE__, __func__, "out of memory");
        break;
      }
      rc = compute_block(cfg, pn, b * cfg->block, (int)cnt, rec, &stopped);
      if (rc || stopped) {
        free(rec);
        break;
      }
      st->blocks[t].rec = rec;
      st->blocks[t].count = (int)cnt;
      dirty = 1;
      if (rank == 0) {
        pr.done += cnt;
        progress_show(&pr, pn->n, 0);
      }
      if (now() - last_ckpt >= cfg->checkpoint_seconds) {
        rc = ckpt_write(p, st->blocks, st->mine, tag);
        last_ckpt = now();
        dirty = 0;
      }
    }
  }
  if (g_stop) stopped = 1;
  if (dirty && (stopped || rc)) {
    int crc = ckpt_write(p, st->blocks, st->mine, tag); /* keep what is done */
    if (crc) bps_error_print(stderr);
    else if (stopped)
      fprintf(stderr, "[bpscan] rank %d: signal %d: checkpoint written to %s.ckpt/\n", rank,
              (int)g_stop, cfg->out_path);
  } else if (stopped) {
    fprintf(stderr, "[bpscan] rank %d: signal %d: nothing new to checkpoint\n", rank, (int)g_stop);
  }
  if (stopped) {
    *exit_code = BPS_EXIT_INTERRUPTED;
    return BPS_OK;
  }
  if (rank == 0 && !rc) progress_show(&pr, p->pn[0].n, 1);
  rc = agree_or(rc);
  if (rc) {
    *exit_code = exit_code_of(rc);
    return rc;
  }
  double t_comp = now();
  res.wall_compute = t_comp - t_plan;
  /* reduce: pack [task, count, records...] of this rank's new blocks, gather to rank 0 */
  size_t len = 0;
  for (long t = 0; t < nt; t++)
    if (st->mine[t]) {
      int i = 0;
      while (t >= p->task_off[i + 1]) i++;
      len += 2 + (size_t)st->blocks[t].count * (size_t)p->pn[i].rec_len;
    }
  BPS_CHECK(len < (size_t)2147483647, BPS_ERR_MEM, "too much data on one rank for one gather");
  st->packed = malloc(sizeof(double) * (len ? len : 1));
  BPS_CHECK(st->packed, BPS_ERR_MEM, "out of memory");
  size_t off = 0;
  for (long t = 0; t < nt; t++)
    if (st->mine[t]) {
      int i = 0;
      while (t >= p->task_off[i + 1]) i++;
      size_t nd = (size_t)st->blocks[t].count * (size_t)p->pn[i].rec_len;
      st->packed[off++] = (double)t;
      st->packed[off++] = st->blocks[t].count;
      memcpy(st->packed + off, st->blocks[t].rec, nd * sizeof(double));
      off += nd;
    }
  int *counts = rank == 0 ? calloc((size_t)size, sizeof(int)) : NULL;
  double *all = NULL;
  /* rank 0 needs the total first: gather the lengths */
  int mylen = (int)len, *lens = calloc((size_t)size, sizeof(int));
  rc = bps_comm_allgather_int(&mylen, 1, lens);
  long total = 0;
  for (int r = 0; r < size; r++) total += lens[r];
  free(lens);
  if (rank == 0 && !rc) {
    all = malloc(sizeof(double) * (size_t)(total ? total : 1));
    if (!all) rc = bps_error_push(BPS_ERR_MEM, __FILE__, __LINE__, __func__, "out of memory gathering");
  }
  rc = agree_or(rc);
  if (!rc) rc = bps_comm_gatherv_f64(st->packed, mylen, all, counts, 0);
  if (rank == 0 && !rc) {
    /* unpack in task order: other ranks' blocks replace nothing (they are disjoint) */
    size_t o = 0;
    while ((long)o < total) {
      long t = (long)all[o];
      int cnt = (int)all[o + 1];
      o += 2;
      int i = 0;
      while (t >= p->task_off[i + 1]) i++;
      size_t nd = (size_t)cnt * (size_t)p->pn[i].rec_len;
      if (!st->blocks[t].rec || !st->mine[t]) {
        free(st->blocks[t].rec);
        st->blocks[t].rec = malloc(sizeof(double) * nd);
        if (!st->blocks[t].rec) {
          rc = BPS_ERR_MEM;
          break;
        }
        memcpy(st->blocks[t].rec, all + o, nd * sizeof(double));
        st->blocks[t].count = cnt;
      }
      o += nd;
    }
  }
  free(all);
  free(counts);
  double t_red = now();
  res.wall_reduce = t_red - t_comp;
  /* write (rank 0) */
  bps_result_n *rn = NULL;
  if (rank == 0 && !rc) {
    rn = calloc((size_t)p->nn, sizeof(bps_result_n));
    rc = rn ? build_result(p, st->blocks, &res, rn) : BPS_ERR_MEM;
    if (!rc) {
      char host[256] = "unknown";
      gethostname(host, sizeof host - 1);
      res.job_text = cfg->job_text;
      res.job_hash = cfg->job_hash;
      res.seed = cfg->seed;
      res.model = cfg->model_name;
      res.grad_method = cfg->method == BPS_GRAD_SHIFT ? "shift" : "adjoint";
      res.mpi_ranks = size;
      res.omp_threads = bps_threads_max();
      res.host = host;
      res.end_time = now();
      res.wall_write = -1; /* h5io measures and stores its own write time */
      rc = bps_h5_write(cfg->out_path, &res, cfg->force);
      if (!rc) {
        ckpt_remove(cfg);
        if (cfg->slice_count > 1)
          fprintf(stderr, "[bpscan] wrote %s (piece %d of %d: its share of %d qubit counts x %ld samples) in %.1f s\n",
                  cfg->out_path, cfg->slice_index, cfg->slice_count, p->nn, cfg->samples, now() - t_start);
        else
          fprintf(stderr, "[bpscan] wrote %s (%d qubit counts, %ld samples each) in %.1f s\n",
                  cfg->out_path, p->nn, cfg->samples, now() - t_start);
      }
    }
    if (rn) result_free(rn, p->nn);
    free(rn);
  }
  rc = agree_or(rc);
  *exit_code = rc == BPS_OK ? BPS_EXIT_OK : BPS_EXIT_ERROR;
  return rc;
}

int bps_scan_run(const bps_scan_config *cfg) {
  run_state st;
  memset(&st, 0, sizeof st);
  int exit_code = BPS_EXIT_ERROR;
  bps_threads_set_max_levels(1);
  int rc = run_impl(cfg, &st, &exit_code);
  if (rc && bps_comm_rank() == 0) bps_error_print(stderr);
  else if (rc && rc != BPS_ERR_MPI) bps_error_print(stderr);
  if (st.blocks)
    for (long t = 0; t < st.p.ntasks; t++) free(st.blocks[t].rec);
  free(st.blocks);
  free(st.done);
  free(st.mine);
  free(st.owner);
  free(st.packed);
  if (st.p.pn) plan_free(&st.p);
  return exit_code;
}

/* ------------------------------------------------------------------ check */

static const char *human_bytes(double b, char *buf, size_t len) {
  const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int k = 0;
  while (b >= 1024 && k < 5) {
    b /= 1024;
    k++;
  }
  snprintf(buf, len, "%.1f %s", b, u[k]);
  return buf;
}

int bps_scan_check(const bps_scan_config *cfg, FILE *out) {
  plan p;
  int rc = plan_make(cfg, &p);
  if (rc) {
    bps_error_print(stderr);
    if (p.pn) plan_free(&p);
    return exit_code_of(rc);
  }
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
  double mem = (double)pages * (double)psz, limit = rank_memory();
  int T = bps_threads_max(), size = bps_comm_size();
  int refuse = plan_fits(&p) != BPS_OK;
  bps_error_clear();
  if (!refuse) rc = calibrate(&p); /* time one sample per n (only when all fit) */
  if (rc) {
    bps_error_print(stderr);
    plan_free(&p);
    return exit_code_of(rc);
  }
  char b1[32], b2[32], b3[32];
  fprintf(out, "bpscan check: model %s, %d qubit counts, %ld samples each, blocks of %d, seed %llu\n",
          cfg->model_name, p.nn, cfg->samples, cfg->block, (unsigned long long)cfg->seed);
  fprintf(out, "memory per rank: %s (%d rank(s) on this host's %s), %d OpenMP thread(s) per rank\n\n",
          human_bytes(limit, b1, sizeof b1), size, human_bytes(mem, b2, sizeof b2), T);
  fprintf(out, "%4s %6s %7s %8s %8s %11s %11s %9s %13s %10s\n", "n", "q_in", "q_out", "params",
          "tracked", "mem dense", "mem fact.", "repr", "threads", "est. time");
  double total = 0;
  for (int i = 0; i < p.nn; i++) {
    plan_n *pn = &p.pn[i];
    double need = plan_need(pn);
    double est = pn->t_sample * (double)cfg->samples / size;
    total += est;
    fprintf(out, "%4d %6d %7d %8d %8d %11s %11s %9s %13s", pn->n, pn->q_in, pn->q_out,
            pn->nparams, pn->ntracked, human_bytes(pn->mem_dense, b1, sizeof b1),
            human_bytes(pn->mem_factored, b2, sizeof b2), bps_repr_name(pn->repr),
            refuse ? "-" : pn->per_sample ? "per sample" : "in state");
    if (refuse) fprintf(out, " %10s\n", "-");
    else fprintf(out, " %9.1fs\n", est);
    if (need > limit)
      fprintf(out, "     refused: n = %d needs about %s per sample, more than the %s one rank has\n",
              pn->n, human_bytes(need, b3, sizeof b3), human_bytes(limit, b1, sizeof b1));
    if (pn->land) {
      const bps_landscape_n *l = pn->land;
      long evals = 0;
      int kmin = l->degree[0], kmax = l->degree[0];
      for (int d = 0; d < l->ndeg; d++) {
        kmin = l->degree[d] < kmin ? l->degree[d] : kmin;
        kmax = l->degree[d] > kmax ? l->degree[d] : kmax;
        evals += l->size[d];
      }
      if (!strcmp(l->directions, "plane")) evals = (long)l->size[0] * l->size[1];
      if (kmin == kmax)
        fprintf(out, "     landscape: %s, %d cut(s) of degree %d, %ld cost evaluations per sample\n",
                l->directions, l->ncut, kmax, evals);
      else
        fprintf(out, "     landscape: %s, %d cut(s) of degree %d..%d, %ld cost evaluations per sample\n",
                l->directions, l->ncut, kmin, kmax, evals);
    }
  }
  fprintf(out, "\nestimated compute time: %.1f s on %d rank(s) x %d thread(s) (from one calibration sample per n)\n",
          total, size, T);
  fprintf(out, "output: %s%s\n", cfg->out_path, refuse ? "" : " (plan OK)");
  plan_free(&p);
  return refuse ? BPS_EXIT_TOO_BIG : BPS_EXIT_OK;
}

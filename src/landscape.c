/* landscape: FFT analysis of cost-landscape cuts (see include/bpscan/landscape.h and
 * physics.md Sec. 5). The only translation unit that includes <fftw3.h>; <complex.h> comes
 * first so that fftw_complex is the C99 double complex. */
#include <complex.h>
#include <fftw3.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/landscape.h"
#include "bpscan/threads.h"


/* ---------------------------------------------------------------- plan cache */

enum { PLAN_R2C = 0, PLAN_C2R = 1, PLAN_R2C_2D = 2, PLAN_C2R_2D = 3 };
#define PLAN_CACHE_MAX 64

typedef struct {
  int kind, n1, n2; /* 1-D plans: n2 = 1 */
  fftw_plan p;
} plan_entry;

static plan_entry plan_cache[PLAN_CACHE_MAX];
static int plan_count = 0;
static int fftw_ready = 0;

/* Create a plan of the given kind and size (n1 x n2 real points, row-major; 1-D: n2 = 1)
 * with FFTW_ESTIMATE on scratch fftw_malloc arrays, so any fftw_malloc'd arrays can be
 * used with the new-array execute functions. Called inside the critical section only. */
static fftw_plan make_plan(int kind, int n1, int n2) {
  if (!fftw_ready) {
#ifdef _OPENMP
    fftw_init_threads();
    fftw_make_planner_thread_safe(); /* belt and braces: we also plan under a lock */
#endif
    fftw_ready = 1;
  }
  const long long n = (long long)n1 * n2;
#ifdef _OPENMP
  fftw_plan_with_nthreads(n >= BPS_LANDSCAPE_FFT_THREAD_MIN ? bps_threads_max() : 1);
#endif
  const int two = kind == PLAN_R2C_2D || kind == PLAN_C2R_2D;
  const size_t nc = two ? (size_t)n1 * (size_t)(n2 / 2 + 1) : (size_t)(n1 / 2 + 1);
  double *r = fftw_malloc(sizeof(double) * (size_t)n);
  fftw_complex *z = fftw_malloc(sizeof(fftw_complex) * nc);
  fftw_plan p = NULL;
  if (r && z) {
    switch (kind) {
    case PLAN_R2C: p = fftw_plan_dft_r2c_1d(n1, r, z, FFTW_ESTIMATE); break;
    case PLAN_C2R: p = fftw_plan_dft_c2r_1d(n1, z, r, FFTW_ESTIMATE); break;
    case PLAN_R2C_2D: p = fftw_plan_dft_r2c_2d(n1, n2, r, z, FFTW_ESTIMATE); break;
    default: p = fftw_plan_dft_c2r_2d(n1, n2, z, r, FFTW_ESTIMATE); break;
    }
  }
  fftw_free(r);
  fftw_free(z);
  return p;
}

/* A cached plan, or (cache full) a fresh one with *owned = 1 (the caller destroys it). */
static fftw_plan get_plan2(int kind, int n1, int n2, int *owned) {
  fftw_plan p = NULL;
  *owned = 0;
#pragma omp critical(bps_fftw_planner)
  {
    for (int i = 0; i < plan_count && !p; i++)
      if (plan_cache[i].kind == kind && plan_cache[i].n1 == n1 && plan_cache[i].n2 == n2)
        p = plan_cache[i].p;
    if (!p) {
      p = make_plan(kind, n1, n2);
      if (p && plan_count < PLAN_CACHE_MAX) {
        plan_cache[plan_count].kind = kind;
        plan_cache[plan_count].n1 = n1;
        plan_cache[plan_count].n2 = n2;
        plan_cache[plan_count].p = p;
        plan_count++;
      } else if (p) {
        *owned = 1;
      }
    }
  }
  return p;
}

static fftw_plan get_plan(int kind, int n, int *owned) { return get_plan2(kind, n, 1, owned); }

static void put_plan(fftw_plan p, int owned) {
  if (!owned || !p) return;
#pragma omp critical(bps_fftw_planner)
  fftw_destroy_plan(p);
}

/* The FFT buffers and plans of one analysis: the samples (in, n1 x n2 real; 1-D: n1 = 1)
 * and their r2c transform X, the zero-padded spectrum Z and its c2r transforms g, dg on
 * the fine grid nf1 x nf2. */
typedef struct {
  double *in, *g, *dg;
  fftw_complex *X, *Z;
  fftw_plan fwd, inv;
  int own_fwd, own_inv;
} fft_work;

static void fft_work_free(fft_work *w) {
  put_plan(w->fwd, w->own_fwd);
  put_plan(w->inv, w->own_inv);
  fftw_free(w->in);
  fftw_free(w->X);
  fftw_free(w->Z);
  fftw_free(w->g);
  fftw_free(w->dg);
  memset(w, 0, sizeof *w);
}

/* two = 0: a 1-D analysis (n1 = nf1 = 1, 1-D plans); two = 1: 2-D plans. */
static int fft_work_make(fft_work *w, int two, int n1, int n2, int nf1, int nf2) {
  memset(w, 0, sizeof *w);
  w->in = fftw_malloc(sizeof(double) * (size_t)n1 * (size_t)n2);
  w->X = fftw_malloc(sizeof(fftw_complex) * (size_t)n1 * (size_t)(n2 / 2 + 1));
  w->Z = fftw_malloc(sizeof(fftw_complex) * (size_t)nf1 * (size_t)(nf2 / 2 + 1));
  w->g = fftw_malloc(sizeof(double) * (size_t)nf1 * (size_t)nf2);
  w->dg = fftw_malloc(sizeof(double) * (size_t)nf1 * (size_t)nf2);
  BPS_CHECK(w->in && w->X && w->Z && w->g && w->dg, BPS_ERR_MEM,
            "out of memory (grid %d x %d, fine grid %d x %d)", n1, n2, nf1, nf2);
  w->fwd = two ? get_plan2(PLAN_R2C_2D, n1, n2, &w->own_fwd) : get_plan(PLAN_R2C, n2, &w->own_fwd);
  w->inv = two ? get_plan2(PLAN_C2R_2D, nf1, nf2, &w->own_inv)
               : get_plan(PLAN_C2R, nf2, &w->own_inv);
  BPS_CHECK(w->fwd && w->inv, BPS_ERR_INTERNAL,
            "FFTW planning failed (grid %d x %d, fine grid %d x %d)", n1, n2, nf1, nf2);
  return BPS_OK;
}

void bps_landscape_cleanup(void) {
#pragma omp critical(bps_fftw_planner)
  {
    for (int i = 0; i < plan_count; i++) fftw_destroy_plan(plan_cache[i].p);
    plan_count = 0;
  }
}

/* ---------------------------------------------------------------- degree and size */

#define NU_QMAX 12   /* base frequency candidates a/q, q = 1 .. NU_QMAX */
#define NU_RTOL 1e-9 /* 2|s|/nu must be this close (relative) to an integer */

/* 2|s|/nu is (within NU_RTOL) a positive integer: stored in *m (clamped to INT_MAX) */
static int multiple_of(double w, double nu, long long *m) {
  double x = w / nu, xi = nearbyint(x);
  if (!(xi >= 1.0) || fabs(x - xi) > NU_RTOL * x) return 0;
  *m = xi > (double)INT_MAX ? (long long)INT_MAX : (long long)xi;
  return 1;
}

int bps_landscape_frequencies(const bps_circuit *c, double *nu, int *R) {
  int rc = BPS_OK;
  int *st = NULL;
  double *amin = NULL;
  long long *deg = NULL;
  BPS_CHECK_GOTO(c && nu && R, BPS_ERR_ARG, "NULL argument");
  const int P = c->nparams;
  const size_t np = (size_t)(P > 0 ? P : 1);
  /* state per parameter: 0 unused, 1 unresolved, 2 resolved (nu found) */
  st = calloc(np, sizeof(int));
  amin = malloc(sizeof(double) * np);
  deg = calloc(np, sizeof(long long));
  BPS_CHECK_GOTO(st && amin && deg, BPS_ERR_MEM, "out of memory");
  for (int j = 0; j < P; j++) {
    nu[j] = 1.0;
    R[j] = 0;
    amin[j] = INFINITY;
  }
  for (int i = 0; i < c->nops; i++) {
    const bps_op *op = &c->ops[i];
    if (op->kind != BPS_OP_PROT) continue;
    BPS_CHECK_GOTO(op->param >= 0 && op->param < P && isfinite(op->scale), BPS_ERR_INTERNAL,
                   "operation %d: parameter %d (of %d) or scale %g invalid", i, op->param, P,
                   op->scale);
    const double w = 2.0 * fabs(op->scale);
    if (w == 0.0) continue; /* exp(0): no frequency */
    st[op->param] = 1;
    amin[op->param] = fmin(amin[op->param], w);
  }
  /* nu = a/q for the smallest q such that every 2|s| of the parameter is a multiple:
   * any common divisor of the set divides a, so a/q with the smallest q is the largest */
  int left = 0;
  for (int j = 0; j < P; j++) left += st[j] == 1;
  for (int q = 1; q <= NU_QMAX && left > 0; q++) {
    for (int j = 0; j < P; j++) R[j] = st[j] == 1; /* R as "still fits" flags */
    for (int i = 0; i < c->nops; i++) {
      const bps_op *op = &c->ops[i];
      if (op->kind != BPS_OP_PROT || op->scale == 0.0) continue;
      const int j = op->param;
      long long mlt;
      if (R[j] && !multiple_of(2.0 * fabs(op->scale), amin[j] / q, &mlt)) R[j] = 0;
    }
    for (int j = 0; j < P; j++)
      if (st[j] == 1 && R[j]) {
        st[j] = 2;
        nu[j] = amin[j] / q;
        left--;
      }
  }
  for (int i = 0; i < c->nops; i++) {
    const bps_op *op = &c->ops[i];
    if (op->kind != BPS_OP_PROT || op->scale == 0.0 || st[op->param] != 2) continue;
    long long mlt = 0;
    multiple_of(2.0 * fabs(op->scale), nu[op->param], &mlt);
    deg[op->param] += mlt;
  }
  for (int j = 0; j < P; j++) {
    if (st[j] == 2) {
      R[j] = deg[j] > INT_MAX ? INT_MAX : (int)deg[j];
    } else if (st[j] == 1) { /* incommensurate */
      R[j] = -1;
      nu[j] = amin[j];
    } else {
      R[j] = 0;
      nu[j] = 1.0;
    }
  }
cleanup:
  free(st);
  free(amin);
  free(deg);
  return rc;
}

/* Frequencies, degree (K != NULL) and direction (dir != NULL) of the cut along k, with
 * parameter names for the messages (names may be NULL). nk = entries of k and dir (>= c->nparams; extra
 * entries belong to parameters the circuit does not use: nu = 1, R = 0). */
static int cut_setup(const bps_circuit *c, char *const *names, const int *k, int nk, int *K,
                     double *dir) {
  int rc = BPS_OK;
  double *nu = NULL;
  int *R = NULL;
  BPS_CHECK_GOTO(c && k, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK_GOTO(nk >= c->nparams, BPS_ERR_ARG, "%d direction entries for %d circuit parameters",
                 nk, c->nparams);
  const int P = c->nparams;
  nu = malloc(sizeof(double) * (size_t)(P > 0 ? P : 1));
  R = malloc(sizeof(int) * (size_t)(P > 0 ? P : 1));
  BPS_CHECK_GOTO(nu && R, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(bps_landscape_frequencies(c, nu, R));
  long long sum = 0;
  int bad = -1;
  double badnu = 0;
  for (int j = 0; j < nk; j++) {
    const double nuj = j < P ? nu[j] : 1.0;
    const int Rj = j < P ? R[j] : 0;
    if (dir) dir[j] = k[j] / nuj;
    if (k[j] == 0) continue;
    if (Rj < 0) {
      if (bad < 0) {
        bad = j;
        badnu = nuj;
      }
      continue;
    }
    if (sum <= BPS_LANDSCAPE_MAX_DEGREE) sum += llabs((long long)k[j]) * (long long)Rj;
  }
  if (bad >= 0) {
    const char *nm = names && names[bad] ? names[bad] : NULL;
    BPS_FAIL_GOTO(BPS_ERR_ARG,
                  "parameter %s%s%d%s has incommensurate frequencies (the 2|scale| of its "
                  "rotations, the smallest %.17g, are not integer multiples of one base "
                  "frequency): a cut moving it is almost periodic (physics.md Sec. 5.1), the "
                  "plain FFT cut does not apply",
                  nm ? nm : "", nm ? " (index " : "", bad, nm ? ")" : "", badnu);
  }
  if (K) { /* else: direction only */
    BPS_CHECK_GOTO(sum <= BPS_LANDSCAPE_MAX_DEGREE, BPS_ERR_ARG,
                   "cut degree %lld exceeds %d: direction too long", sum,
                   BPS_LANDSCAPE_MAX_DEGREE);
    *K = (int)sum;
  }
cleanup:
  free(nu);
  free(R);
  return rc;
}

int bps_landscape_degree(const bps_circuit *c, char *const *names, const int *k, int *K) {
  BPS_CHECK(c && k && K, BPS_ERR_ARG, "NULL argument");
  BPS_CALL(cut_setup(c, names, k, c->nparams, K, NULL));
  return BPS_OK;
}

int bps_landscape_direction(const bps_circuit *c, const int *k, double *dir) {
  BPS_CHECK(c && k && dir, BPS_ERR_ARG, "NULL argument");
  BPS_CALL(cut_setup(c, NULL, k, c->nparams, NULL, dir));
  return BPS_OK;
}

static int is_odd_7smooth(long long n) {
  if (n % 2 == 0) return 0;
  while (n % 3 == 0) n /= 3;
  while (n % 5 == 0) n /= 5;
  while (n % 7 == 0) n /= 7;
  return n == 1;
}

int bps_landscape_size(int K, int guard, int *N) {
  BPS_CHECK(N, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(K >= 0 && K <= BPS_LANDSCAPE_MAX_DEGREE, BPS_ERR_ARG, "bad degree %d", K);
  if (guard < 0) guard = 2 + K / 4;
  BPS_CHECK(guard <= BPS_LANDSCAPE_MAX_DEGREE, BPS_ERR_ARG, "bad guard %d", guard);
  long long n = 2LL * ((long long)K + guard) + 1;
  if (n < 3) n = 3;
  while (!is_odd_7smooth(n)) n += 2; /* n is odd; 7-smooth odd numbers are dense enough */
  *N = (int)n;
  return BPS_OK;
}

/* ---------------------------------------------------------------- analysis */

/* f^{(q)}(t) = sum_{|k|<=K} (ik)^q c_k e^{ikt} of the band-limited cut, O(K). */
static double spec_eval(const double complex *c, int K, int q, double t) {
  double v = q == 0 ? creal(c[0]) : 0.0;
  for (int k = 1; k <= K; k++) {
    double complex z = c[k] * cexp(I * (double)k * t);
    for (int j = 0; j < q; j++) z *= I * (double)k;
    v += 2.0 * creal(z);
  }
  return v;
}

/* sign * f^{(q)} (sign = 0: |f^{(q)}|) */
static double spec_obj(const double complex *c, int K, int q, int sign, double t) {
  double v = spec_eval(c, K, q, t);
  return sign ? sign * v : fabs(v);
}

/* Refine the maximum of obj from its values y on the fine grid (nf points, spacing h):
 * a band-limited g of degree K exceeds its grid maximum by at most
 * (1/2) max|g''| (h/2)^2 <= (K h)^2/8 max|g|, so only the grid's local maxima within that
 * margin of the grid maximum can hold the true one; the best REFINE_MAX of them are
 * refined by golden-section search on [t - h, t + h] (unimodal there: the fine grid has
 * >= 2 pad points per period of the highest frequency). Returns the maximum, *t_at its
 * position. */
#define REFINE_MAX 16

/* Keep grid point m among the (at most REFINE_MAX) best candidates cand[0..nc-1] by y. */
static void cand_keep(long long *cand, int *nc, long long m, const double *y) {
  if (*nc < REFINE_MAX) {
    cand[(*nc)++] = m;
    return;
  }
  int w = 0; /* replace the weakest candidate */
  for (int i = 1; i < *nc; i++)
    if (y[cand[i]] < y[cand[w]]) w = i;
  if (y[m] > y[cand[w]]) cand[w] = m;
}
static double refine_max(const double complex *c, int K, int q, int sign, const double *y,
                         int nf, double *t_at) {
  const double h = 2.0 * M_PI / nf;
  int best = 0;
  for (int m = 1; m < nf; m++)
    if (y[m] > y[best]) best = m;
  double vbest = y[best], tbest = h * best;
  if (K == 0) {
    *t_at = tbest;
    return vbest;
  }
  double gmax = 0;
  for (int m = 0; m < nf; m++) gmax = fmax(gmax, fabs(y[m]));
  const double thr = vbest - 0.125 * (K * h) * (K * h) * gmax * 1.01 - 1e-300;
  long long cand[REFINE_MAX];
  int nc = 0;
  for (int m = 0; m < nf; m++) {
    double ym = y[m];
    if (ym < thr || ym < y[(m + nf - 1) % nf] || ym < y[(m + 1) % nf]) continue;
    cand_keep(cand, &nc, m, y);
  }
  const double gr = 0.5 * (sqrt(5.0) - 1.0);
  for (int i = 0; i < nc; i++) {
    double a = h * cand[i] - h, b = h * cand[i] + h;
    double x1 = b - gr * (b - a), x2 = a + gr * (b - a);
    double f1 = spec_obj(c, K, q, sign, x1), f2 = spec_obj(c, K, q, sign, x2);
    for (int it = 0; it < 60 && b - a > 1e-13 * h; it++) {
      if (f1 < f2) {
        a = x1;
        x1 = x2;
        f1 = f2;
        x2 = a + gr * (b - a);
        f2 = spec_obj(c, K, q, sign, x2);
      } else {
        b = x2;
        x2 = x1;
        f2 = f1;
        x1 = b - gr * (b - a);
        f1 = spec_obj(c, K, q, sign, x1);
      }
    }
    double tm = f1 > f2 ? x1 : x2, vm = fmax(f1, f2);
    if (vm > vbest) {
      vbest = vm;
      tbest = fmod(tm + 2.0 * M_PI, 2.0 * M_PI);
    }
  }
  *t_at = tbest;
  return vbest;
}

void bps_cut_result_free(bps_cut_result *r) {
  if (!r) return;
  free(r->c);
  free(r->W);
  r->c = NULL;
  r->W = NULL;
}

int bps_cut_analyse(const double *f, int N, int K, int pad, bps_cut_result *r) {
  BPS_CHECK(f && r, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(K >= 0 && K <= BPS_LANDSCAPE_MAX_DEGREE, BPS_ERR_ARG, "bad degree %d", K);
  BPS_CHECK(N >= 2 * K + 1, BPS_ERR_ARG,
            "N = %d samples cannot resolve degree %d (need N >= 2K+1 = %d)", N, K, 2 * K + 1);
  if (pad == 0) pad = BPS_LANDSCAPE_PAD;
  BPS_CHECK(pad >= 1 && (long long)pad * N <= (1LL << 28), BPS_ERR_ARG, "bad pad %d", pad);
  for (int s = 0; s < N; s++)
    BPS_CHECK(isfinite(f[s]), BPS_ERR_NUMERIC, "sample %d is not finite (%g)", s, f[s]);
  int rc = BPS_OK;
  fft_work w;
  memset(r, 0, sizeof *r);
  r->K = K;
  r->N = N;
  r->nf = pad * N;
  r->slope_adjoint = NAN;
  const int nh = N / 2 + 1, nf = r->nf, nfh = nf / 2 + 1;
  BPS_CALL_GOTO(fft_work_make(&w, 0, 1, N, 1, nf));
  r->c = malloc(sizeof(double complex) * (size_t)(K + 1));
  r->W = malloc(sizeof(double) * (size_t)(K + 1));
  BPS_CHECK_GOTO(r->c && r->W, BPS_ERR_MEM, "out of memory (degree %d)", K);
  fftw_complex *X = w.X, *Z = w.Z;
  double *g = w.g, *dg = w.dg;
  memcpy(w.in, f, sizeof(double) * (size_t)N);
  fftw_execute_dft_r2c(w.fwd, w.in, X);
  const double invN = 1.0 / N;
  for (int k = 0; k <= K; k++) r->c[k] = X[k] * invN;
  r->c[0] = creal(r->c[0]); /* exactly real in exact arithmetic */
  r->mean = creal(r->c[0]);
  r->W[0] = r->mean * r->mean;
  double var = 0, slope = 0;
  for (int k = 1; k <= K; k++) {
    double a = cabs(r->c[k]);
    r->W[k] = 2.0 * a * a;
    var += r->W[k];
    slope += -2.0 * k * cimag(r->c[k]);
  }
  r->var = var;
  r->slope_fft = slope;
  double alias = 0;
  for (int k = K + 1; k < nh; k++) alias = fmax(alias, cabs(X[k]) * invN);
  r->alias = alias;

  /* band-limited f and f' on the fine grid: c2r of the zero-padded c_k and i k c_k
   * (unnormalised c2r: g_m = sum_{|k|<=K} c_k e^{2 pi i k m / nf} exactly) */
  for (int k = 0; k < nfh; k++) Z[k] = k <= K ? r->c[k] : 0.0;
  fftw_execute_dft_c2r(w.inv, Z, g);
  for (int k = 0; k < nfh; k++) Z[k] = k <= K ? I * (double)k * r->c[k] : 0.0;
  fftw_execute_dft_c2r(w.inv, Z, dg);
  /* extrema: grid values refined by golden section on the exact spectral sum */
  double tt;
  r->fmax = refine_max(r->c, K, 0, 1, g, nf, &tt);
  for (int m = 0; m < nf; m++) g[m] = -g[m];
  r->fmin = -refine_max(r->c, K, 0, -1, g, nf, &tt);
  for (int m = 0; m < nf; m++) dg[m] = fabs(dg[m]);
  r->lipschitz = refine_max(r->c, K, 1, 0, dg, nf, &r->t_lipschitz);
  r->spread = r->fmax - r->fmin;
  r->bernstein = K * r->spread / 2.0;
cleanup:
  fft_work_free(&w);
  if (rc) bps_cut_result_free(r);
  return rc;
}

/* ---------------------------------------------------------------- planes (2-D cuts) */

#define PLANE_FINE_CAP (1LL << 22)   /* fine-grid points the pad is reduced to */
#define PLANE_MAX_POINTS (1LL << 28) /* hard limit on sample and fine grids */

/* The band-limited plane: c[(a + K1)(K2 + 1) + b], |a| <= K1, 0 <= b <= K2 (the b = 0
 * column Hermitian), e1/e2 scratch of K1+1 / K2+1 entries. */
typedef struct {
  const double complex *c;
  int K1, K2;
  double complex *e1, *e2;
} plane_spec;

/* f and its partial derivatives at (t, u) up to order `order` (<= 3) by the exact spectral
 * sum, O(K1 K2): d[0] f, d[1] f_t, d[2] f_u, d[3] f_tt, d[4] f_tu, d[5] f_uu, d[6] f_ttt,
 * d[7] f_ttu, d[8] f_tuu, d[9] f_uuu. The full sum runs over (a, b) and (-a, -b): b >= 1
 * terms count twice (real part), the Hermitian b = 0 column once per a. */
static void plane_eval(const plane_spec *S, double t, double u, int order, double *d) {
  const int K1 = S->K1, K2 = S->K2;
  for (int a = 0; a <= K1; a++) S->e1[a] = cexp(I * (double)a * t);
  for (int b = 0; b <= K2; b++) S->e2[b] = cexp(I * (double)b * u);
  double v[10] = {0};
  for (int b = 0; b <= K2; b++) {
    const double w = b ? 2.0 : 1.0, bb = b;
    for (int a = -K1; a <= K1; a++) {
      const double complex e = (a >= 0 ? S->e1[a] : conj(S->e1[-a])) * S->e2[b];
      const double complex z = S->c[(a + K1) * (K2 + 1) + b] * e;
      const double zr = w * creal(z), zi = w * cimag(z), aa = a;
      v[0] += zr;
      if (order < 1) continue;
      v[1] -= aa * zi; /* Re(i z) = -Im z */
      v[2] -= bb * zi;
      if (order < 2) continue;
      v[3] -= aa * aa * zr; /* Re(i^2 z) = -Re z */
      v[4] -= aa * bb * zr;
      v[5] -= bb * bb * zr;
      if (order < 3) continue;
      v[6] += aa * aa * aa * zi; /* Re(i^3 z) = Im z */
      v[7] += aa * aa * bb * zi;
      v[8] += aa * bb * bb * zi;
      v[9] += bb * bb * bb * zi;
    }
  }
  memcpy(d, v, sizeof(double) * (order >= 3 ? 10 : order == 2 ? 6 : order == 1 ? 3 : 1));
}

/* Objective to maximise with its gradient g and Hessian H = (H_tt, H_tu, H_uu):
 * kind 0: sign f; kind 1: |grad f|^2 = f_t^2 + f_u^2. */
static double plane_obj(const plane_spec *S, int kind, int sign, double t, double u, double *g,
                        double *H) {
  double d[10];
  if (kind == 0) {
    plane_eval(S, t, u, 2, d);
    g[0] = sign * d[1];
    g[1] = sign * d[2];
    H[0] = sign * d[3];
    H[1] = sign * d[4];
    H[2] = sign * d[5];
    return sign * d[0];
  }
  plane_eval(S, t, u, 3, d);
  const double ft = d[1], fu = d[2], ftt = d[3], ftu = d[4], fuu = d[5];
  g[0] = 2.0 * (ft * ftt + fu * ftu);
  g[1] = 2.0 * (ft * ftu + fu * fuu);
  H[0] = 2.0 * (ftt * ftt + ftu * ftu + ft * d[6] + fu * d[7]);
  H[1] = 2.0 * (ftt * ftu + ftu * fuu + ft * d[7] + fu * d[8]);
  H[2] = 2.0 * (ftu * ftu + fuu * fuu + ft * d[8] + fu * d[9]);
  return ft * ft + fu * fu;
}

/* Damped Newton ascent of the objective from (t, u): Newton step where the Hessian is
 * negative definite (else per-coordinate Newton where H_ii < 0, preconditioned gradient
 * otherwise), clipped to the trust box |dt| <= h1, |du| <= h2, halved until the objective
 * increases; stops when no halving increases it or the step is below 1e-13 of a cell.
 * Every accepted point is an attained value, so the result never overshoots. */
static double plane_ascend(const plane_spec *S, int kind, int sign, double t, double u,
                           double h1, double h2, double *t_at, double *u_at) {
  double g[2], H[3];
  double v = plane_obj(S, kind, sign, t, u, g, H);
  for (int it = 0; it < 60; it++) {
    double dt, du;
    const double det = H[0] * H[2] - H[1] * H[1];
    const int newton = H[0] < 0 && det > 0;
    if (newton) {
      dt = -(H[2] * g[0] - H[1] * g[1]) / det;
      du = -(H[0] * g[1] - H[1] * g[0]) / det;
    } else {
      dt = H[0] < 0 ? -g[0] / H[0] : g[0] * h1 * h1 / (fabs(v) + 1e-300);
      du = H[2] < 0 ? -g[1] / H[2] : g[1] * h2 * h2 / (fabs(v) + 1e-300);
    }
    if (!isfinite(dt) || !isfinite(du)) break;
    double sc = 1.0;
    if (fabs(dt) > h1) sc = fmin(sc, h1 / fabs(dt));
    if (fabs(du) > h2) sc = fmin(sc, h2 / fabs(du));
    dt *= sc;
    du *= sc;
    const double len = fabs(dt) / h1 + fabs(du) / h2; /* in grid cells */
    if (len <= 1e-13) break;
    /* converged Newton: one last step (quadratic convergence leaves ~len^2 of a cell; the
     * objective then changes by O(len^2) of its curvature, below rounding), no halving */
    const int last = newton && len <= 1e-6;
    int ok = 0;
    for (int half = 0; half < (last ? 1 : 30) && !ok; half++) {
      double g2[2], H2[3];
      double v2 = plane_obj(S, kind, sign, t + dt, u + du, g2, H2);
      if (v2 > v) {
        ok = 1;
        t += dt;
        u += du;
        v = v2;
        memcpy(g, g2, sizeof g2);
        memcpy(H, H2, sizeof H2);
      } else {
        dt *= 0.5;
        du *= 0.5;
      }
    }
    if (!ok || last) break;
  }
  *t_at = fmod(fmod(t, 2.0 * M_PI) + 2.0 * M_PI, 2.0 * M_PI);
  *u_at = fmod(fmod(u, 2.0 * M_PI) + 2.0 * M_PI, 2.0 * M_PI);
  return v;
}

/* Maximum of the objective from its grid values y (nf1 x nf2 row-major, spacings h1, h2;
 * kind 1: y = |grad f|, the objective its square). A band-limited g of degrees (K1, K2)
 * exceeds its value at the nearest grid point by at most (1/2) max|g''_v| |delta|^2 <=
 * (1/2)(K1 h1/2 + K2 h2/2)^2 max|g| (Bernstein along the segment; for |grad f| apply it to
 * the directional derivative along the maximiser's gradient, whose maximum is the same
 * point). Only the grid's local maxima (8 neighbours, periodic) within that margin of the
 * grid maximum can hold the true one; the best REFINE_MAX of them are refined by
 * plane_ascend. Returns the maximum (kind 1: of |grad f|). */
static double refine_max2(const plane_spec *S, int kind, int sign, const double *y, int nf1,
                          int nf2) {
  const long long nf = (long long)nf1 * nf2;
  const double h1 = 2.0 * M_PI / nf1, h2 = 2.0 * M_PI / nf2;
  long long best = 0;
  double gmax = 0;
  for (long long m = 0; m < nf; m++) {
    if (y[m] > y[best]) best = m;
    gmax = fmax(gmax, fabs(y[m]));
  }
  double vbest = y[best];
  if (S->K1 == 0 && S->K2 == 0) return vbest;
  const double e = 0.5 * (S->K1 * h1 + S->K2 * h2);
  const double thr = vbest - 0.5 * e * e * gmax * 1.01 - 1e-300;
  long long cand[REFINE_MAX];
  int nc = 0;
  for (int m1 = 0; m1 < nf1; m1++) {
    const int r0 = (m1 + nf1 - 1) % nf1, r2 = (m1 + 1) % nf1;
    for (int m2 = 0; m2 < nf2; m2++) {
      const long long m = (long long)m1 * nf2 + m2;
      const double ym = y[m];
      if (ym < thr) continue;
      const int c0 = (m2 + nf2 - 1) % nf2, c2 = (m2 + 1) % nf2;
      const int rows[3] = {r0, m1, r2}, cols[3] = {c0, m2, c2};
      int is_max = 1;
      for (int i = 0; i < 3 && is_max; i++)
        for (int j = 0; j < 3 && is_max; j++)
          if (y[(long long)rows[i] * nf2 + cols[j]] > ym) is_max = 0;
      if (!is_max) continue;
      cand_keep(cand, &nc, m, y);
    }
  }
  double obj_best = kind ? vbest * vbest : vbest;
  for (int i = 0; i < nc; i++) {
    const double t = h1 * (double)(cand[i] / nf2), u = h2 * (double)(cand[i] % nf2);
    double ta, ua;
    double v = plane_ascend(S, kind, sign, t, u, h1, h2, &ta, &ua);
    if (v > obj_best) obj_best = v;
  }
  return kind ? sqrt(obj_best) : obj_best;
}

void bps_plane_result_free(bps_plane_result *r) {
  if (!r) return;
  free(r->W);
  free(r->c);
  r->W = NULL;
  r->c = NULL;
  r->nW = 0;
}

#define CO(a, b) c[((a) + K1) * nb + (b)]

/* From the unnormalised 2-D r2c output X (N1 x (N2/2 + 1)) of the samples: the band c_ab
 * (b = 0 column made exactly Hermitian), the power by total degree, var, the spectral
 * slopes and the aliasing, into r (r->c, r->W allocated and zeroed; K1, K2, N1, N2 set). */
static void plane_spectrum(const fftw_complex *X, bps_plane_result *r) {
  const int K1 = r->K1, K2 = r->K2, N1 = r->N1, nh2 = r->N2 / 2 + 1, nb = K2 + 1;
  double complex *c = r->c;
  const double invN = 1.0 / (double)((long long)N1 * r->N2);
  /* band: b >= 1 straight from the half spectrum; b = 0 made exactly Hermitian */
  for (int a = -K1; a <= K1; a++)
    for (int b = 1; b <= K2; b++) CO(a, b) = X[(size_t)(a >= 0 ? a : a + N1) * nh2 + b] * invN;
  CO(0, 0) = creal(X[0]) * invN;
  for (int a = 1; a <= K1; a++) {
    double complex z = 0.5 * (X[(size_t)a * nh2] + conj(X[(size_t)(N1 - a) * nh2])) * invN;
    CO(a, 0) = z;
    CO(-a, 0) = conj(z);
  }
  r->mean = creal(CO(0, 0));
  r->W[0] = r->mean * r->mean;
  double st = 0, su = 0;
  for (int b = 0; b <= K2; b++) {
    const double w = b ? 2.0 : 1.0;
    for (int a = -K1; a <= K1; a++) {
      if (a == 0 && b == 0) continue;
      const double complex z = CO(a, b);
      const double p = creal(z) * creal(z) + cimag(z) * cimag(z);
      r->W[abs(a) + b] += w * p;
      st -= w * a * cimag(z);
      su -= w * b * cimag(z);
    }
  }
  double var = 0;
  for (int d = 1; d < r->nW; d++) var += r->W[d];
  r->var = var;
  r->slope_fft[0] = st;
  r->slope_fft[1] = su;
  double alias = 0;
  for (int p = 0; p < N1; p++) {
    const int a = p <= N1 / 2 ? p : p - N1;
    for (int q = 0; q < nh2; q++)
      if (abs(a) > K1 || q > K2) alias = fmax(alias, cabs(X[(size_t)p * nh2 + q]) * invN);
  }
  r->alias = alias;
}

/* Extrema and Lipschitz constant of the band-limited plane r->c: f, f_t, f_u on the fine
 * grid nf1 x nf2 by the 2-D c2r plan p2 of the zero-padded spectrum (unnormalised:
 * g = sum c_ab e^{i(a t_m + b u_m)} exactly; c2r destroys its input, so Z is refilled every
 * time), then refined (refine_max2). Z, g, dg, e1, e2: scratch. */
static void plane_extrema(bps_plane_result *r, fftw_plan p2, fftw_complex *Z, double *g,
                          double *dg, double complex *e1, double complex *e2) {
  const int K1 = r->K1, K2 = r->K2, nf1 = r->nf1, nf2 = r->nf2, nfh2 = nf2 / 2 + 1, nb = K2 + 1;
  const double complex *c = r->c;
  const long long nf = (long long)nf1 * nf2;
  const size_t nz = (size_t)nf1 * (size_t)nfh2;
  plane_spec S = {c, K1, K2, e1, e2};
  for (int pass = 0; pass < 3; pass++) {
    memset(Z, 0, sizeof(fftw_complex) * nz);
    for (int a = -K1; a <= K1; a++)
      for (int b = 0; b <= K2; b++) {
        double complex z = CO(a, b);
        if (pass == 1) z *= I * (double)a;
        if (pass == 2) z *= I * (double)b;
        Z[(size_t)(a >= 0 ? a : a + nf1) * nfh2 + b] = z;
      }
    fftw_execute_dft_c2r(p2, Z, pass == 2 ? dg : g);
    if (pass == 0) {
      r->fmax = refine_max2(&S, 0, 1, g, nf1, nf2);
      for (long long m = 0; m < nf; m++) g[m] = -g[m];
      r->fmin = -refine_max2(&S, 0, -1, g, nf1, nf2);
    }
  }
  for (long long m = 0; m < nf; m++) g[m] = hypot(g[m], dg[m]);
  r->lipschitz = refine_max2(&S, 1, 1, g, nf1, nf2);
  r->spread = r->fmax - r->fmin;
  r->bernstein = sqrt((double)K1 * K1 + (double)K2 * K2) * r->spread / 2.0;
}
#undef CO

int bps_plane_analyse(const double *f, int N1, int N2, int K1, int K2, int pad,
                      bps_plane_result *r) {
  BPS_CHECK(f && r, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(K1 >= 0 && K1 <= BPS_LANDSCAPE_MAX_DEGREE && K2 >= 0 && K2 <= BPS_LANDSCAPE_MAX_DEGREE,
            BPS_ERR_ARG, "bad degrees %d, %d", K1, K2);
  BPS_CHECK(N1 >= 2 * K1 + 1 && N2 >= 2 * K2 + 1, BPS_ERR_ARG,
            "%d x %d samples cannot resolve degrees %d, %d (need N_i >= 2K_i+1)", N1, N2, K1, K2);
  const long long n = (long long)N1 * N2;
  BPS_CHECK(n <= PLANE_MAX_POINTS, BPS_ERR_ARG, "plane grid %d x %d too large", N1, N2);
  if (pad == 0) pad = BPS_LANDSCAPE_PAD;
  BPS_CHECK(pad >= 1, BPS_ERR_ARG, "bad pad %d", pad);
  while (pad > 2 && (long long)pad * pad * n > PLANE_FINE_CAP) pad--;
  BPS_CHECK((long long)pad * pad * n <= PLANE_MAX_POINTS, BPS_ERR_ARG,
            "plane fine grid %d x %d (pad %d) too large", pad * N1, pad * N2, pad);
  for (long long s = 0; s < n; s++)
    BPS_CHECK(isfinite(f[s]), BPS_ERR_NUMERIC, "sample %lld (%lld, %lld) is not finite (%g)", s,
              s / N2, s % N2, f[s]);
  int rc = BPS_OK;
  fft_work w;
  double complex *e1 = NULL, *e2 = NULL;
  memset(r, 0, sizeof *r);
  r->K1 = K1;
  r->K2 = K2;
  r->N1 = N1;
  r->N2 = N2;
  r->nf1 = pad * N1;
  r->nf2 = pad * N2;
  r->slope_adjoint[0] = r->slope_adjoint[1] = NAN;
  BPS_CALL_GOTO(fft_work_make(&w, 1, N1, N2, r->nf1, r->nf2));
  r->nW = K1 + K2 + 1;
  r->W = calloc((size_t)r->nW, sizeof(double));
  r->c = calloc((size_t)(2 * K1 + 1) * (size_t)(K2 + 1), sizeof(double complex));
  e1 = malloc(sizeof(double complex) * (size_t)(K1 + 1));
  e2 = malloc(sizeof(double complex) * (size_t)(K2 + 1));
  BPS_CHECK_GOTO(r->W && r->c && e1 && e2, BPS_ERR_MEM, "out of memory (degrees %d, %d)", K1, K2);
  memcpy(w.in, f, sizeof(double) * (size_t)n);
  fftw_execute_dft_r2c(w.fwd, w.in, w.X);
  plane_spectrum(w.X, r);
  plane_extrema(r, w.inv, w.Z, w.g, w.dg, e1, e2);
cleanup:
  fft_work_free(&w);
  free(e1);
  free(e2);
  if (rc) bps_plane_result_free(r);
  return rc;
}

/* ---------------------------------------------------------------- model cuts */

int bps_cut_sample(const bps_model_instance *m, const double *theta0, const double *dir, int N,
                   double *f) {
  BPS_CHECK(m && theta0 && dir && f, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(N >= 1, BPS_ERR_ARG, "bad number of samples %d", N);
  int rc = BPS_OK;
  const int M = m->nparams;
  double *th = malloc(sizeof(double) * (size_t)(M > 0 ? M : 1));
  BPS_CHECK_GOTO(th, BPS_ERR_MEM, "out of memory");
  for (int s = 0; s < N; s++) {
    const double t = 2.0 * M_PI * s / N;
    for (int j = 0; j < M; j++) th[j] = theta0[j] + t * dir[j];
    BPS_CALL_GOTO(bps_model_cost_grad(m, th, BPS_GRAD_ADJOINT, &f[s], NULL));
  }
cleanup:
  free(th);
  return rc;
}

/* The model must have a circuit program; degree and direction of k (m->nparams entries). */
static int model_setup(const bps_model_instance *m, const int *k, int *K, double *dir) {
  BPS_CHECK(m->circuit, BPS_ERR_ARG,
            "model has no circuit program (QBM): its cuts are not trigonometric "
            "polynomials, the FFT cut does not apply");
  BPS_CALL(cut_setup(m->circuit, m->param_names, k, m->nparams, K, dir));
  return BPS_OK;
}

/* dir . grad in index order (the cut's slope by the adjoint gradient). */
static double dot(const double *dir, const double *grad, int M) {
  double s = 0;
  for (int j = 0; j < M; j++) s += dir[j] * grad[j];
  return s;
}

int bps_landscape_cut(const bps_model_instance *m, const double *theta0, const int *k,
                      const double *grad, int pad, bps_cut_result *r) {
  BPS_CHECK(m && theta0 && k && r, BPS_ERR_ARG, "NULL argument");
  int rc = BPS_OK;
  const int M = m->nparams;
  double *dir = malloc(sizeof(double) * (size_t)(M > 0 ? M : 1)), *f = NULL;
  int K = 0, N = 0;
  BPS_CHECK_GOTO(dir, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(model_setup(m, k, &K, dir));
  BPS_CALL_GOTO(bps_landscape_size(K, -1, &N));
  f = malloc(sizeof(double) * (size_t)N);
  BPS_CHECK_GOTO(f, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(bps_cut_sample(m, theta0, dir, N, f));
  BPS_CALL_GOTO(bps_cut_analyse(f, N, K, pad, r));
  if (grad) r->slope_adjoint = dot(dir, grad, M);
cleanup:
  free(f);
  free(dir);
  return rc;
}

int bps_plane_sample(const bps_model_instance *m, const double *theta0, const double *dir1,
                     const double *dir2, int N1, int N2, double *f) {
  BPS_CHECK(m && theta0 && dir1 && dir2 && f, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(N1 >= 1 && N2 >= 1, BPS_ERR_ARG, "bad grid %d x %d", N1, N2);
  int rc = BPS_OK;
  const int M = m->nparams;
  double *th = malloc(sizeof(double) * (size_t)(M > 0 ? M : 1));
  BPS_CHECK_GOTO(th, BPS_ERR_MEM, "out of memory");
  for (int a = 0; a < N1; a++) {
    const double t = 2.0 * M_PI * a / N1;
    for (int b = 0; b < N2; b++) {
      const double u = 2.0 * M_PI * b / N2;
      for (int j = 0; j < M; j++) th[j] = theta0[j] + t * dir1[j] + u * dir2[j];
      BPS_CALL_GOTO(bps_model_cost_grad(m, th, BPS_GRAD_ADJOINT, &f[(size_t)a * N2 + b], NULL));
    }
  }
cleanup:
  free(th);
  return rc;
}

int bps_landscape_plane(const bps_model_instance *m, const double *theta0, const int *k1,
                        const int *k2, const double *grad, int pad, double *samples,
                        bps_plane_result *r) {
  BPS_CHECK(m && theta0 && k1 && k2 && r, BPS_ERR_ARG, "NULL argument");
  int rc = BPS_OK;
  const int M = m->nparams;
  const size_t sz = sizeof(double) * (size_t)(M > 0 ? M : 1);
  double *d1 = malloc(sz), *d2 = malloc(sz), *f = samples;
  int K1 = 0, K2 = 0, N1 = 0, N2 = 0;
  BPS_CHECK_GOTO(d1 && d2, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(model_setup(m, k1, &K1, d1));
  BPS_CALL_GOTO(model_setup(m, k2, &K2, d2));
  BPS_CALL_GOTO(bps_landscape_size(K1, -1, &N1));
  BPS_CALL_GOTO(bps_landscape_size(K2, -1, &N2));
  BPS_CHECK_GOTO((long long)N1 * N2 <= PLANE_MAX_POINTS, BPS_ERR_ARG,
                 "plane degrees %d, %d need a %d x %d grid: too large", K1, K2, N1, N2);
  if (!f) f = malloc(sizeof(double) * (size_t)N1 * (size_t)N2);
  BPS_CHECK_GOTO(f, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(bps_plane_sample(m, theta0, d1, d2, N1, N2, f));
  BPS_CALL_GOTO(bps_plane_analyse(f, N1, N2, K1, K2, pad, r));
  if (grad) {
    r->slope_adjoint[0] = dot(d1, grad, M);
    r->slope_adjoint[1] = dot(d2, grad, M);
  }
cleanup:
  if (f != samples) free(f);
  free(d1);
  free(d2);
  return rc;
}

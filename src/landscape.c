/* landscape: FFT analysis of cost-landscape cuts (see include/bpscan/landscape.h and
 * physics.md Sec. 5). The only translation unit that includes <fftw3.h>; <complex.h> comes
 * first so that fftw_complex is the C99 double complex. */
#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/landscape.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---------------------------------------------------------------- plan cache */

enum { PLAN_R2C = 0, PLAN_C2R = 1 };
#define PLAN_CACHE_MAX 64

typedef struct {
  int kind, n;
  fftw_plan p;
} plan_entry;

static plan_entry plan_cache[PLAN_CACHE_MAX];
static int plan_count = 0;
static int fftw_ready = 0;

/* Create a plan of the given kind and size (FFTW_ESTIMATE on scratch fftw_malloc arrays,
 * so any fftw_malloc'd arrays can be used with the new-array execute functions). Called
 * inside the critical section only. */
static fftw_plan make_plan(int kind, int n) {
  if (!fftw_ready) {
#ifdef _OPENMP
    fftw_init_threads();
    fftw_make_planner_thread_safe(); /* belt and braces: we also plan under a lock */
#endif
    fftw_ready = 1;
  }
#ifdef _OPENMP
  fftw_plan_with_nthreads(n >= BPS_LANDSCAPE_FFT_THREAD_MIN ? omp_get_max_threads() : 1);
#endif
  double *r = fftw_malloc(sizeof(double) * (size_t)n);
  fftw_complex *z = fftw_malloc(sizeof(fftw_complex) * (size_t)(n / 2 + 1));
  fftw_plan p = NULL;
  if (r && z)
    p = kind == PLAN_R2C ? fftw_plan_dft_r2c_1d(n, r, z, FFTW_ESTIMATE)
                         : fftw_plan_dft_c2r_1d(n, z, r, FFTW_ESTIMATE);
  fftw_free(r);
  fftw_free(z);
  return p;
}

/* A cached plan, or (cache full) a fresh one with *owned = 1 (the caller destroys it). */
static fftw_plan get_plan(int kind, int n, int *owned) {
  fftw_plan p = NULL;
  *owned = 0;
#pragma omp critical(bps_fftw_planner)
  {
    for (int i = 0; i < plan_count && !p; i++)
      if (plan_cache[i].kind == kind && plan_cache[i].n == n) p = plan_cache[i].p;
    if (!p) {
      p = make_plan(kind, n);
      if (p && plan_count < PLAN_CACHE_MAX) {
        plan_cache[plan_count].kind = kind;
        plan_cache[plan_count].n = n;
        plan_cache[plan_count].p = p;
        plan_count++;
      } else if (p) {
        *owned = 1;
      }
    }
  }
  return p;
}

static void put_plan(fftw_plan p, int owned) {
  if (!owned || !p) return;
#pragma omp critical(bps_fftw_planner)
  fftw_destroy_plan(p);
}

void bps_landscape_cleanup(void) {
#pragma omp critical(bps_fftw_planner)
  {
    for (int i = 0; i < plan_count; i++) fftw_destroy_plan(plan_cache[i].p);
    plan_count = 0;
  }
}

/* ---------------------------------------------------------------- degree and size */

int bps_landscape_frequencies(const bps_circuit *c, double *R) {
  BPS_CHECK(c && R, BPS_ERR_ARG, "NULL argument");
  for (int j = 0; j < c->nparams; j++) R[j] = 0.0;
  for (int i = 0; i < c->nops; i++) {
    const bps_op *op = &c->ops[i];
    if (op->kind != BPS_OP_PROT) continue;
    BPS_CHECK(op->param >= 0 && op->param < c->nparams, BPS_ERR_INTERNAL,
              "operation %d: parameter %d out of range", i, op->param);
    R[op->param] += 2.0 * fabs(op->scale);
  }
  return BPS_OK;
}

/* Degree with parameter names for the messages (names may be NULL). nk = entries of k
 * (>= c->nparams; extra entries must belong to parameters the circuit does not use). */
static int degree_named(const bps_circuit *c, char *const *names, const int *k, int nk,
                        int *K) {
  BPS_CHECK(c && k && K, BPS_ERR_ARG, "NULL argument");
  double *R = malloc(sizeof(double) * (size_t)(c->nparams > 0 ? c->nparams : 1));
  BPS_CHECK(R, BPS_ERR_MEM, "out of memory");
  int rc = bps_landscape_frequencies(c, R);
  if (rc) {
    free(R);
    BPS_CALL(rc);
  }
  long long sum = 0;
  int bad = -1;
  double badR = 0;
  for (int j = 0; j < nk && bad < 0; j++) {
    if (k[j] == 0 || j >= c->nparams) continue;
    double Rj = R[j], Ri = nearbyint(Rj);
    if (fabs(Rj - Ri) > 1e-9 * fmax(1.0, Rj)) {
      bad = j;
      badR = Rj;
    } else {
      sum += llabs((long long)k[j]) * (long long)Ri;
      if (sum > BPS_LANDSCAPE_MAX_DEGREE) break;
    }
  }
  free(R);
  if (bad >= 0) {
    if (names && names[bad])
      BPS_CHECK(0, BPS_ERR_ARG,
                "parameter %s (index %d) has a non-integer frequency %.17g (sum of 2|scale| "
                "over its rotations); the cut is almost-periodic and the plain FFT cut does "
                "not apply",
                names[bad], bad, badR);
    BPS_CHECK(0, BPS_ERR_ARG,
              "parameter %d has a non-integer frequency %.17g (sum of 2|scale| over its "
              "rotations); the cut is almost-periodic and the plain FFT cut does not apply",
              bad, badR);
  }
  BPS_CHECK(sum <= BPS_LANDSCAPE_MAX_DEGREE, BPS_ERR_ARG,
            "cut degree exceeds %d: direction too long", BPS_LANDSCAPE_MAX_DEGREE);
  *K = (int)sum;
  return BPS_OK;
}

int bps_landscape_degree(const bps_circuit *c, const int *k, int *K) {
  BPS_CHECK(c, BPS_ERR_ARG, "NULL circuit");
  BPS_CALL(degree_named(c, NULL, k, c->nparams, K));
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
  int cand[REFINE_MAX], nc = 0;
  for (int m = 0; m < nf; m++) {
    double ym = y[m];
    if (ym < thr || ym < y[(m + nf - 1) % nf] || ym < y[(m + 1) % nf]) continue;
    if (nc < REFINE_MAX) {
      cand[nc++] = m;
    } else { /* replace the weakest candidate */
      int w = 0;
      for (int i = 1; i < nc; i++)
        if (y[cand[i]] < y[cand[w]]) w = i;
      if (ym > y[cand[w]]) cand[w] = m;
    }
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
  memset(r, 0, sizeof *r);
  r->K = K;
  r->N = N;
  r->nf = pad * N;
  r->slope_adjoint = NAN;
  r->f0 = NAN;
  const int nh = N / 2 + 1, nf = r->nf, nfh = nf / 2 + 1;

  r->c = malloc(sizeof(double complex) * (size_t)(K + 1));
  r->W = malloc(sizeof(double) * (size_t)(K + 1));
  double *in = fftw_malloc(sizeof(double) * (size_t)N);
  fftw_complex *X = fftw_malloc(sizeof(fftw_complex) * (size_t)nh);
  fftw_complex *Z = fftw_malloc(sizeof(fftw_complex) * (size_t)nfh);
  double *g = fftw_malloc(sizeof(double) * (size_t)nf);
  double *dg = fftw_malloc(sizeof(double) * (size_t)nf);
  int rc = (r->c && r->W && in && X && Z && g && dg) ? BPS_OK : BPS_ERR_MEM;
  int own1 = 0, own2 = 0;
  fftw_plan p1 = NULL, p2 = NULL;
  if (!rc) {
    p1 = get_plan(PLAN_R2C, N, &own1);
    p2 = get_plan(PLAN_C2R, nf, &own2);
    if (!p1 || !p2) rc = BPS_ERR_INTERNAL;
  }
  if (!rc) {
    memcpy(in, f, sizeof(double) * (size_t)N);
    fftw_execute_dft_r2c(p1, in, X);
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
    fftw_execute_dft_c2r(p2, Z, g);
    for (int k = 0; k < nfh; k++) Z[k] = k <= K ? I * (double)k * r->c[k] : 0.0;
    fftw_execute_dft_c2r(p2, Z, dg);
    /* extrema: grid values refined by golden section on the exact spectral sum */
    double tt;
    r->fmax = refine_max(r->c, K, 0, 1, g, nf, &tt);
    for (int m = 0; m < nf; m++) g[m] = -g[m];
    r->fmin = -refine_max(r->c, K, 0, -1, g, nf, &tt);
    for (int m = 0; m < nf; m++) dg[m] = fabs(dg[m]);
    r->lipschitz = refine_max(r->c, K, 1, 0, dg, nf, &r->t_lipschitz);
    r->spread = r->fmax - r->fmin;
    r->bernstein = K * r->spread / 2.0;
  }
  put_plan(p1, own1);
  put_plan(p2, own2);
  fftw_free(in);
  fftw_free(X);
  fftw_free(Z);
  fftw_free(g);
  fftw_free(dg);
  if (rc) {
    bps_cut_result_free(r);
    BPS_CHECK(rc != BPS_ERR_MEM, rc, "out of memory (N = %d, fine grid %d)", N, nf);
    BPS_CHECK(0, rc, "FFTW planning failed (N = %d, fine grid %d)", N, nf);
  }
  return BPS_OK;
}

/* ---------------------------------------------------------------- model cuts */

int bps_cut_sample(const bps_model_instance *m, const double *theta0, const int *k, int N,
                   double *f) {
  BPS_CHECK(m && theta0 && k && f, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(N >= 1, BPS_ERR_ARG, "bad number of samples %d", N);
  const int M = m->nparams;
  double *th = malloc(sizeof(double) * (size_t)(M > 0 ? M : 1));
  BPS_CHECK(th, BPS_ERR_MEM, "out of memory");
  int rc = BPS_OK;
  for (int s = 0; s < N && !rc; s++) {
    const double t = 2.0 * M_PI * s / N;
    for (int j = 0; j < M; j++) th[j] = theta0[j] + t * (double)k[j];
    rc = bps_model_cost_grad(m, th, BPS_GRAD_ADJOINT, &f[s], NULL);
  }
  free(th);
  BPS_CALL(rc);
  return BPS_OK;
}

int bps_landscape_cut(const bps_model_instance *m, const double *theta0, const int *k,
                      bps_cut_result *r) {
  BPS_CHECK(m && theta0 && k && r, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(m->circuit, BPS_ERR_ARG,
            "model has no circuit program (QBM): its cuts are not trigonometric "
            "polynomials, the FFT cut does not apply");
  int K = 0, N = 0;
  BPS_CALL(degree_named(m->circuit, m->param_names, k, m->nparams, &K));
  BPS_CALL(bps_landscape_size(K, -1, &N));
  const int M = m->nparams;
  double *f = malloc(sizeof(double) * (size_t)N);
  double *grad = malloc(sizeof(double) * (size_t)(M > 0 ? M : 1));
  int rc = (f && grad) ? BPS_OK : BPS_ERR_MEM;
  double f0 = 0, slope = 0;
  if (!rc) rc = bps_cut_sample(m, theta0, k, N, f);
  if (!rc) rc = bps_model_cost_grad(m, theta0, BPS_GRAD_ADJOINT, &f0, grad);
  if (!rc) {
    for (int j = 0; j < M; j++) slope += (double)k[j] * grad[j];
    rc = bps_cut_analyse(f, N, K, 0, r);
  }
  free(f);
  free(grad);
  BPS_CALL(rc);
  r->slope_adjoint = slope;
  r->f0 = f0;
  return BPS_OK;
}

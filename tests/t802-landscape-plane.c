/* t802: two-dimensional landscape cuts (planes) analysed by 2-D FFT (src/landscape.c,
 * physics.md Secs. 5.2-5.5).
 * - known 2-D trigonometric polynomials f(t,u) = sum_{|a|<=K1,|b|<=K2} c_ab e^{i(at+bu)}
 *   with random coefficients, (K1, K2) from (0,0) to (12,5), at the default sizes, at the
 *   critical sizes N_i = 2K_i+1 and at even sizes: the coefficients c_ab (1e-13), mean,
 *   var (Parseval: the grid mean of (f - mean)^2), W by total degree |a|+|b|, the slopes
 *   (f_t, f_u)(0,0) against the analytic derivatives (1e-12), fmax, fmin and lipschitz =
 *   max |grad f| against an independent dense brute force (12x finer grid, its local maxima
 *   zoomed in by nested 11 x 11 grids to ~1e-14 of a cell): the refined values are never
 *   below it and agree to 1e-11 relative; lipschitz <= bernstein;
 * - aliasing at the rounding level when the degrees are right, and >= the largest hidden
 *   |c_ab| (and >= 1e-3 of the signal) when K1 or K2 is declared one or two too low;
 * - separable sums g1(t) + g2(u) against the 1-D analysis (fmax, fmin add; lipschitz =
 *   hypot of the two 1-D ones) and cos(a t + b u + phi) (lipschitz = bernstein =
 *   sqrt(a^2 + b^2)): 1e-12;
 * - the fine-grid cap (pad reduced to keep ~2^22 points), argument checks, threads;
 * - model planes through bps_landscape_plane (the function the scan's plane fields use,
 *   with the adjoint gradient and a caller's sample buffer, which must equal
 *   bps_plane_sample's bitwise): DQNN toy n = 2, 3 (f(t,u) equals the closed form
 *   C_G = 1 - prod_j cos^2(theta_j/2) at every grid point; n = 2 axis plane: fmax = 1,
 *   fmin = 0, lipschitz = 1/2 exactly), HEA and VH (natural units): slope_fft =
 *   slope_adjoint to 1e-10, alias at the rounding level. */
#include <complex.h>
#include <string.h>

#include "bps_test.h"
#include "bpscan/landscape.h"
#include "bpscan/model.h"
#include "bpscan/rng.h"

typedef struct {
  int K1, K2;
  double complex *c; /* c[(a + K1)(K2 + 1) + b], b = 0 column Hermitian */
} poly2;

#define PC(P, a, b) (P)->c[((a) + (P)->K1) * ((P)->K2 + 1) + (b)]

static void poly_random(poly2 *P, int K1, int K2, bps_rng *r) {
  P->K1 = K1;
  P->K2 = K2;
  P->c = calloc((size_t)(2 * K1 + 1) * (size_t)(K2 + 1), sizeof(double complex));
  for (int b = 0; b <= K2; b++)
    for (int a = -K1; a <= K1; a++) {
      if (b == 0 && a < 0) continue;
      double x = bps_rng_normal(r), y = bps_rng_normal(r);
      PC(P, a, b) = (b == 0 && a == 0) ? x : 0.5 * (x + I * y);
      if (b == 0 && a > 0) PC(P, -a, 0) = conj(PC(P, a, 0));
    }
}

/* f, f_t, f_u at (t, u) by real cos/sin sums (angle addition of cos at, sin at, cos bu,
 * sin bu from libm; independent of the library's complex-exponential sums) */
static void poly_eval(const poly2 *P, double t, double u, double *d) {
  enum { KMAX = 64 };
  double ca[KMAX + 1], sa[KMAX + 1], cb[KMAX + 1], sb[KMAX + 1];
  for (int a = 0; a <= P->K1; a++) {
    ca[a] = cos(a * t);
    sa[a] = sin(a * t);
  }
  for (int b = 0; b <= P->K2; b++) {
    cb[b] = cos(b * u);
    sb[b] = sin(b * u);
  }
  double f = 0, ft = 0, fu = 0;
  for (int b = 0; b <= P->K2; b++)
    for (int a = -P->K1; a <= P->K1; a++) {
      const double w = b ? 2.0 : 1.0, sg = a < 0 ? -1.0 : 1.0;
      const double cs = ca[abs(a)] * cb[b] - sg * sa[abs(a)] * sb[b];
      const double sn = sg * sa[abs(a)] * cb[b] + ca[abs(a)] * sb[b];
      const double cr = creal(PC(P, a, b)), ci = cimag(PC(P, a, b));
      const double re = cr * cs - ci * sn, im = cr * sn + ci * cs;
      f += w * re;
      ft -= w * a * im;
      fu -= w * b * im;
    }
  d[0] = f;
  d[1] = ft;
  d[2] = fu;
}

static void poly_sample(const poly2 *P, int N1, int N2, double *f) {
  for (int a = 0; a < N1; a++)
    for (int b = 0; b < N2; b++) {
      double d[3];
      poly_eval(P, 2.0 * M_PI * a / N1, 2.0 * M_PI * b / N2, d);
      f[a * N2 + b] = d[0];
    }
}

/* objective of the brute force: 0 f, 1 -f, 2 |grad f| */
static double bobj(const poly2 *P, int kind, double t, double u) {
  double d[3];
  poly_eval(P, t, u, d);
  return kind == 0 ? d[0] : kind == 1 ? -d[0] : hypot(d[1], d[2]);
}

/* Independent reference maximum: dense grid (12x finer than 2K+1 per axis); the best 24
 * of its local maxima within the Bernstein margin of the grid maximum are zoomed in by
 * nested 11 x 11 grids (box shrinking 5x per round, 16 rounds: ~1e-11 of a cell, value
 * error ~1e-22). Also returns the plain dense-grid maximum. */
typedef struct {
  double v;
  int i, j;
} bcand;
static int bcand_cmp(const void *x, const void *y) {
  double a = ((const bcand *)x)->v, b = ((const bcand *)y)->v;
  return a < b ? 1 : a > b ? -1 : 0;
}
static double brute_max(const poly2 *P, int kind, double *grid_max) {
  const int n1 = P->K1 ? 12 * (2 * P->K1 + 1) : 1, n2 = P->K2 ? 12 * (2 * P->K2 + 1) : 1;
  const double h1 = 2 * M_PI / n1, h2 = 2 * M_PI / n2;
  double *y = malloc(sizeof(double) * (size_t)n1 * n2);
  double ym = -INFINITY, ya = 0;
  for (int i = 0; i < n1; i++)
    for (int j = 0; j < n2; j++) {
      double v = bobj(P, kind, h1 * i, h2 * j);
      y[i * n2 + j] = v;
      ym = fmax(ym, v);
      ya = fmax(ya, fabs(v));
    }
  *grid_max = ym;
  double e = 0.5 * (P->K1 * h1 + P->K2 * h2);
  double thr = ym - 0.5 * e * e * ya * 1.1;
  bcand *cand = malloc(sizeof(bcand) * (size_t)n1 * n2);
  int nc = 0;
  for (int i = 0; i < n1; i++)
    for (int j = 0; j < n2; j++) {
      double v = y[i * n2 + j];
      if (v < thr) continue;
      int is_max = 1;
      for (int di = -1; di <= 1; di++)
        for (int dj = -1; dj <= 1; dj++)
          if (y[((i + di + n1) % n1) * n2 + (j + dj + n2) % n2] > v) is_max = 0;
      if (is_max) cand[nc++] = (bcand){v, i, j};
    }
  qsort(cand, (size_t)nc, sizeof *cand, bcand_cmp);
  double best = ym;
  for (int c = 0; c < nc && c < 24; c++) {
    double tc = h1 * cand[c].i, uc = h2 * cand[c].j, w1 = h1, w2 = h2, vb = cand[c].v;
    for (int round = 0; round < 16; round++) {
      double tb = tc, ub = uc;
      for (int p = -5; p <= 5; p++)
        for (int q = -5; q <= 5; q++) {
          double tt = tc + w1 * p / 5.0, uu = uc + w2 * q / 5.0;
          double vv = bobj(P, kind, tt, uu);
          if (vv > vb) {
            vb = vv;
            tb = tt;
            ub = uu;
          }
        }
      tc = tb;
      uc = ub;
      w1 /= 5.0;
      w2 /= 5.0;
    }
    best = fmax(best, vb);
  }
  free(cand);
  free(y);
  return best;
}

static double worst_coef = 0, worst_alias = 0, worst_slope = 0, worst_ref = 0, worst_pars = 0;
static double worst_lb = 0;

static void check_poly(bps_rng *r, int K1, int K2, int N1, int N2, int brute) {
  poly2 P;
  poly_random(&P, K1, K2, r);
  double *f = malloc(sizeof(double) * (size_t)N1 * N2);
  poly_sample(&P, N1, N2, f);
  bps_plane_result res;
  CHECK_OK(bps_plane_analyse(f, N1, N2, K1, K2, 0, &res));
  CHECK(res.K1 == K1 && res.K2 == K2 && res.N1 == N1 && res.N2 == N2);
  CHECK(res.nW == K1 + K2 + 1);
  CHECK(res.nf1 % N1 == 0 && res.nf2 % N2 == 0 && res.nf1 / N1 == res.nf2 / N2);
  CHECK(res.nf1 / N1 >= 2);
  CHECK(isnan(res.slope_adjoint[0]) && isnan(res.slope_adjoint[1]));
  /* coefficients, power by total degree, mean, var, slopes */
  double dc = 0, var = 0, st = 0, su = 0, scale = 0;
  double *W = calloc((size_t)K1 + K2 + 1, sizeof(double));
  for (int b = 0; b <= K2; b++)
    for (int a = -K1; a <= K1; a++) {
      double complex z = PC(&P, a, b);
      dc = fmax(dc, cabs(res.c[(a + K1) * (K2 + 1) + b] - z));
      double w = b ? 2.0 : 1.0, p2 = creal(z * conj(z));
      scale += w * cabs(z);
      if (a == 0 && b == 0) continue;
      W[abs(a) + b] += w * p2;
      var += w * p2;
      st += w * a * cimag(z) * -1.0;
      su += w * b * cimag(z) * -1.0;
    }
  CHECK(dc <= 1e-13 * (1 + scale / 10));
  worst_coef = fmax(worst_coef, dc);
  CHECK_CLOSE(res.mean, creal(PC(&P, 0, 0)), 0, 1e-13);
  CHECK_CLOSE(res.W[0], res.mean * res.mean, 0, 0);
  for (int d = 1; d <= K1 + K2; d++) CHECK_CLOSE(res.W[d], W[d], 1e-12, 1e-14);
  CHECK_CLOSE(res.var, var, 1e-12, 1e-14);
  double wsum = 0;
  for (int d = 1; d < res.nW; d++) wsum += res.W[d];
  CHECK_CLOSE(wsum, res.var, 1e-14, 0);
  double gm = 0; /* discrete Parseval on the sample grid (exact for N_i >= 2K_i+1) */
  for (int s = 0; s < N1 * N2; s++) gm += (f[s] - res.mean) * (f[s] - res.mean);
  gm /= (double)N1 * N2;
  CHECK_CLOSE(gm, res.var, 1e-12, 1e-14);
  worst_pars = fmax(worst_pars, fabs(gm - res.var) / (res.var + 1e-300));
  double d0[3];
  poly_eval(&P, 0, 0, d0);
  for (int i = 0; i < 2; i++) {
    double ex = i ? d0[2] : d0[1], sp = i ? su : st, tol = 1e-12 * (1 + fabs(ex));
    CHECK_CLOSE(res.slope_fft[i], ex, 0, tol);
    CHECK_CLOSE(res.slope_fft[i], sp, 0, tol);
    worst_slope = fmax(worst_slope, fabs(res.slope_fft[i] - ex) / (1 + fabs(ex)));
  }
  /* aliasing self-test */
  CHECK(res.alias <= 1e-14 * (1 + scale / 10));
  worst_alias = fmax(worst_alias, res.alias);
  /* extrema, Lipschitz, Bernstein */
  CHECK(res.fmax >= res.fmin);
  CHECK_CLOSE(res.spread, res.fmax - res.fmin, 0, 0);
  CHECK_CLOSE(res.bernstein, sqrt((double)K1 * K1 + (double)K2 * K2) * res.spread / 2, 1e-15, 0);
  CHECK(res.lipschitz <= res.bernstein * (1 + 1e-12) + 1e-13);
  if (K1 + K2 >= 2) worst_lb = fmax(worst_lb, res.lipschitz / res.bernstein);
  if (brute) {
    double gmx, gmn, glp;
    double rmx = brute_max(&P, 0, &gmx), rmn = -brute_max(&P, 1, &gmn);
    double rlp = brute_max(&P, 2, &glp);
    gmn = -gmn;
    const double sc = 1 + res.spread;
    /* refined values are attained values: never below the dense grid */
    CHECK(res.fmax >= gmx - 1e-13 * sc && res.fmin <= gmn + 1e-13 * sc);
    CHECK(res.lipschitz >= glp - 1e-13 * (1 + glp));
    /* and they agree with the zoomed reference */
    CHECK_CLOSE(res.fmax, rmx, 0, 1e-11 * sc);
    CHECK_CLOSE(res.fmin, rmn, 0, 1e-11 * sc);
    CHECK_CLOSE(res.lipschitz, rlp, 0, 1e-11 * (1 + rlp));
    double e = fmax(fabs(res.fmax - rmx), fabs(res.fmin - rmn)) / sc;
    e = fmax(e, fabs(res.lipschitz - rlp) / (1 + rlp));
    worst_ref = fmax(worst_ref, e);
  }
  bps_plane_result_free(&res);
  CHECK(res.W == NULL && res.c == NULL);

  /* deliberately mis-declared degrees: hide the top one or two rows / columns */
  for (int axis = 0; axis < 2; axis++)
    for (int miss = 1; miss <= 2; miss++) {
      int Kd1 = K1 - (axis == 0 ? miss : 0), Kd2 = K2 - (axis == 1 ? miss : 0);
      if (Kd1 < 0 || Kd2 < 0) continue;
      int Nd1 = 0, Nd2 = 0;
      CHECK_OK(bps_landscape_size(Kd1, -1, &Nd1));
      CHECK_OK(bps_landscape_size(Kd2, -1, &Nd2));
      double *fd = malloc(sizeof(double) * (size_t)Nd1 * Nd2);
      poly_sample(&P, Nd1, Nd2, fd);
      CHECK_OK(bps_plane_analyse(fd, Nd1, Nd2, Kd1, Kd2, 4, &res));
      double hidden = 0;
      for (int b = 0; b <= K2; b++)
        for (int a = -K1; a <= K1; a++)
          if (abs(a) > Kd1 || b > Kd2) hidden = fmax(hidden, cabs(PC(&P, a, b)));
      CHECK(res.alias >= hidden * (1 - 1e-12));
      CHECK(res.alias >= 1e-3 * sqrt(var));
      bps_plane_result_free(&res);
      free(fd);
    }
  free(W);
  free(f);
  free(P.c);
}

/* g1(t) + g2(u) against the 1-D analysis */
static void check_separable(bps_rng *r, int K1, int K2) {
  int N1 = 0, N2 = 0;
  CHECK_OK(bps_landscape_size(K1, -1, &N1));
  CHECK_OK(bps_landscape_size(K2, -1, &N2));
  double *a1 = malloc(sizeof(double) * (2 * K1 + 1)), *a2 = malloc(sizeof(double) * (2 * K2 + 1));
  for (int i = 0; i <= 2 * K1; i++) a1[i] = bps_rng_normal(r);
  for (int i = 0; i <= 2 * K2; i++) a2[i] = bps_rng_normal(r);
  double *g1 = malloc(sizeof(double) * N1), *g2 = malloc(sizeof(double) * N2);
  double *f = malloc(sizeof(double) * (size_t)N1 * N2);
  for (int s = 0; s < N1; s++) {
    double t = 2 * M_PI * s / N1, v = a1[0];
    for (int k = 1; k <= K1; k++) v += a1[2 * k - 1] * cos(k * t) + a1[2 * k] * sin(k * t);
    g1[s] = v;
  }
  for (int s = 0; s < N2; s++) {
    double u = 2 * M_PI * s / N2, v = a2[0];
    for (int k = 1; k <= K2; k++) v += a2[2 * k - 1] * cos(k * u) + a2[2 * k] * sin(k * u);
    g2[s] = v;
  }
  for (int i = 0; i < N1; i++)
    for (int j = 0; j < N2; j++) f[i * N2 + j] = g1[i] + g2[j];
  bps_cut_result r1, r2;
  bps_plane_result p;
  CHECK_OK(bps_cut_analyse(g1, N1, K1, 0, &r1));
  CHECK_OK(bps_cut_analyse(g2, N2, K2, 0, &r2));
  CHECK_OK(bps_plane_analyse(f, N1, N2, K1, K2, 0, &p));
  const double sc = 1 + p.spread;
  CHECK_CLOSE(p.fmax, r1.fmax + r2.fmax, 0, 1e-12 * sc);
  CHECK_CLOSE(p.fmin, r1.fmin + r2.fmin, 0, 1e-12 * sc);
  CHECK_CLOSE(p.lipschitz, hypot(r1.lipschitz, r2.lipschitz), 0, 1e-12 * (1 + p.lipschitz));
  CHECK_CLOSE(p.var, r1.var + r2.var, 1e-13, 1e-15);
  CHECK_CLOSE(p.slope_fft[0], r1.slope_fft, 0, 1e-12 * (1 + fabs(r1.slope_fft)));
  CHECK_CLOSE(p.slope_fft[1], r2.slope_fft, 0, 1e-12 * (1 + fabs(r2.slope_fft)));
  worst_ref = fmax(worst_ref,
                   fabs(p.lipschitz - hypot(r1.lipschitz, r2.lipschitz)) / (1 + p.lipschitz));
  worst_ref = fmax(worst_ref, fabs(p.fmax - r1.fmax - r2.fmax) / sc);
  bps_cut_result_free(&r1);
  bps_cut_result_free(&r2);
  bps_plane_result_free(&p);
  free(a1);
  free(a2);
  free(g1);
  free(g2);
  free(f);
}

/* cos(a t + b u + phi) + 0.3: lipschitz = bernstein = sqrt(a^2 + b^2) */
static void check_extremal(void) {
  const int ab[][2] = {{1, 0}, {0, 1}, {1, 1}, {3, -2}, {5, 4}, {-7, 3}, {2, 9}};
  for (size_t i = 0; i < sizeof ab / sizeof *ab; i++) {
    int a = ab[i][0], b = ab[i][1], K1 = abs(a), K2 = abs(b), N1 = 0, N2 = 0;
    CHECK_OK(bps_landscape_size(K1, -1, &N1));
    CHECK_OK(bps_landscape_size(K2, -1, &N2));
    double *f = malloc(sizeof(double) * (size_t)N1 * N2);
    for (int p = 0; p < N1; p++)
      for (int q = 0; q < N2; q++)
        f[p * N2 + q] = 0.3 + cos(a * 2 * M_PI * p / N1 + b * 2 * M_PI * q / N2 + 0.41);
    bps_plane_result res;
    CHECK_OK(bps_plane_analyse(f, N1, N2, K1, K2, 0, &res));
    double L = hypot(a, b);
    CHECK_CLOSE(res.fmax, 1.3, 0, 1e-13);
    CHECK_CLOSE(res.fmin, -0.7, 0, 1e-13);
    CHECK_CLOSE(res.lipschitz, L, 1e-12, 0);
    CHECK_CLOSE(res.bernstein, L, 1e-12, 0);
    CHECK_CLOSE(res.var, 0.5, 0, 1e-14);
    CHECK_CLOSE(res.W[K1 + K2], 0.5, 0, 1e-14);
    worst_ref = fmax(worst_ref, fabs(res.lipschitz - L) / L);
    bps_plane_result_free(&res);
    free(f);
  }
}

static void check_args_and_cap(bps_rng *r) {
  double f[16] = {0};
  bps_plane_result res;
  CHECK_FAILS(bps_plane_analyse(f, 4, 4, 2, 1, 0, &res), BPS_ERR_ARG); /* N1 < 2K1+1 */
  CHECK_FAILS(bps_plane_analyse(f, 3, 3, -1, 1, 0, &res), BPS_ERR_ARG);
  CHECK_FAILS(bps_plane_analyse(NULL, 3, 3, 1, 1, 0, &res), BPS_ERR_ARG);
  f[4] = NAN;
  CHECK_FAILS(bps_plane_analyse(f, 3, 3, 1, 1, 0, &res), BPS_ERR_NUMERIC);
  /* fine-grid cap: 301 x 301 samples, pad 16 -> 6 (36 301^2 <= 2^22 < 49 301^2) */
  const int N = 301, K = 18;
  poly2 P;
  poly_random(&P, K, K / 3, r);
  double *g = malloc(sizeof(double) * N * N);
  poly_sample(&P, N, N, g);
  CHECK_OK(bps_plane_analyse(g, N, N, K, K / 3, 0, &res));
  CHECK(res.nf1 == 6 * N && res.nf2 == 6 * N);
  CHECK(res.alias <= 1e-13);
  CHECK(res.lipschitz <= res.bernstein);
  double d0[3];
  poly_eval(&P, 0, 0, d0);
  CHECK_CLOSE(res.slope_fft[0], d0[1], 0, 1e-11 * (1 + fabs(d0[1])));
  CHECK_CLOSE(res.slope_fft[1], d0[2], 0, 1e-11 * (1 + fabs(d0[2])));
  printf("  cap: %d x %d samples -> fine grid %d x %d; K = (%d, %d): lip %.6g bern %.6g\n", N, N,
         res.nf1, res.nf2, K, K / 3, res.lipschitz, res.bernstein);
  bps_plane_result_free(&res);
  CHECK_OK(bps_plane_analyse(g, N, N, K, K / 3, 1, &res)); /* an explicit pad 1 is kept */
  CHECK(res.nf1 == N);
  bps_plane_result_free(&res);
  free(g);
  free(P.c);
}

/* plans shared between threads give bitwise the serial results */
static void check_threads(void) {
  enum { NC = 12 };
  double out[NC][4], ref[NC][4];
  for (int pass = 0; pass < 2; pass++) {
    int bad = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : bad) if (pass == 1)
    for (int i = 0; i < NC; i++) {
      bps_rng rr;
      bps_rng_init(&rr, 802, 1, (uint32_t)i, BPS_STREAM_TEST, 0);
      int K1 = i % 4, K2 = 1 + i % 3, N1 = 0, N2 = 0;
      bad += bps_landscape_size(K1, -1, &N1) != 0;
      bad += bps_landscape_size(K2, -1, &N2) != 0;
      double *f = malloc(sizeof(double) * (size_t)N1 * N2);
      for (int s = 0; s < N1 * N2; s++) f[s] = bps_rng_normal(&rr);
      bps_plane_result res;
      if (bps_plane_analyse(f, N1, N2, K1, K2, 6, &res)) {
        bad++;
      } else {
        double(*o)[4] = pass ? out : ref;
        o[i][0] = res.var;
        o[i][1] = res.slope_fft[0];
        o[i][2] = res.lipschitz;
        o[i][3] = res.fmax;
        bps_plane_result_free(&res);
      }
      free(f);
    }
    CHECK(bad == 0);
  }
  CHECK(memcmp(out, ref, sizeof out) == 0);
}

static double cos2(double x) { return cos(0.5 * x) * cos(0.5 * x); }

/* a model plane through bps_landscape_plane (the function the scan's plane fields use),
 * with the adjoint gradient and the samples left in a caller's buffer: slopes, aliasing,
 * Bernstein; the samples equal bps_plane_sample's bitwise. */
static void model_plane(const char *what, bps_model_instance *m, const int *k1, const int *k2,
                        bps_plane_result *res) {
  const int M = m->nparams;
  int K1 = 0, K2 = 0, N1 = 0, N2 = 0;
  double *grad = malloc(sizeof(double) * (size_t)M), c0 = 0;
  double *d1 = malloc(sizeof(double) * (size_t)M), *d2 = malloc(sizeof(double) * (size_t)M);
  CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &c0, grad));
  CHECK_OK(bps_landscape_degree(m->circuit, m->param_names, k1, &K1));
  CHECK_OK(bps_landscape_degree(m->circuit, m->param_names, k2, &K2));
  CHECK_OK(bps_landscape_size(K1, -1, &N1));
  CHECK_OK(bps_landscape_size(K2, -1, &N2));
  double *f = malloc(sizeof(double) * (size_t)N1 * N2),
         *g = malloc(sizeof(double) * (size_t)N1 * N2);
  CHECK_OK(bps_landscape_plane(m, m->theta, k1, k2, grad, 0, f, res));
  CHECK(res->K1 == K1 && res->K2 == K2 && res->N1 == N1 && res->N2 == N2);
  CHECK_OK(bps_landscape_direction(m->circuit, k1, d1));
  CHECK_OK(bps_landscape_direction(m->circuit, k2, d2));
  CHECK_OK(bps_plane_sample(m, m->theta, d1, d2, N1, N2, g));
  CHECK(memcmp(f, g, sizeof(double) * (size_t)N1 * N2) == 0);
  free(f);
  free(g);
  free(d1);
  free(d2);
  free(grad);
  for (int i = 0; i < 2; i++) {
    double sa = res->slope_adjoint[i];
    CHECK_CLOSE(res->slope_fft[i], sa, 0, 1e-10 * (1 + fabs(sa)));
    worst_slope = fmax(worst_slope, fabs(res->slope_fft[i] - sa) / (1 + fabs(sa)));
  }
  CHECK(res->alias <= 1e-13);
  worst_alias = fmax(worst_alias, res->alias);
  CHECK(res->lipschitz <= res->bernstein * (1 + 1e-12) + 1e-14);
  CHECK(res->lipschitz >= hypot(res->slope_fft[0], res->slope_fft[1]) - 1e-12);
  printf("  %-20s n=%d K=(%d,%d) N=%dx%d fine %dx%d slopes fft (%+.12f, %+.12f) adjoint "
         "(%+.12f, %+.12f) alias %.2g var %.4g lip %.4g bern %.4g\n",
         what, m->n, res->K1, res->K2, res->N1, res->N2, res->nf1, res->nf2, res->slope_fft[0],
         res->slope_fft[1], res->slope_adjoint[0], res->slope_adjoint[1], res->alias, res->var,
         res->lipschitz, res->bernstein);
}

static void check_models(void) {
  bps_model_spec s;
  /* DQNN toy, global cost: C_G = 1 - prod_j cos^2(theta_j / 2) */
  for (int n = 2; n <= 3; n++) {
    bps_model_spec_default(&s);
    s.kind = BPS_MODEL_DQNN;
    s.perceptron = BPS_PERC_TOY;
    snprintf(s.widths, sizeof s.widths, "n,n");
    s.inputs = BPS_INPUT_ZERO;
    s.targets = BPS_TARGET_ZERO;
    s.cost = BPS_COST_GLOBAL;
    bps_model_instance *m = NULL;
    CHECK_OK(bps_model_instance_create(&s, n, 802, 1, BPS_FACTORED, &m));
    CHECK(m->nparams == n);
    int k1[3] = {1, 0, 0}, k2[3] = {0, 1, 0};
    if (n == 3) { /* oblique: K1 = 2, K2 = 3 */
      k1[1] = -1;
      k2[1] = 1;
      k2[2] = 2;
    }
    bps_plane_result res;
    model_plane("dqnn toy global", m, k1, k2, &res);
    CHECK(res.K1 == (n == 2 ? 1 : 2) && res.K2 == (n == 2 ? 1 : 3));
    /* the samples equal the closed form at every grid point */
    double d1[3], d2[3], th[3], worst = 0;
    CHECK_OK(bps_landscape_direction(m->circuit, k1, d1));
    CHECK_OK(bps_landscape_direction(m->circuit, k2, d2));
    double *f = malloc(sizeof(double) * (size_t)res.N1 * res.N2);
    CHECK_OK(bps_plane_sample(m, m->theta, d1, d2, res.N1, res.N2, f));
    for (int a = 0; a < res.N1; a++)
      for (int b = 0; b < res.N2; b++) {
        double t = 2 * M_PI * a / res.N1, u = 2 * M_PI * b / res.N2, pr = 1;
        for (int j = 0; j < n; j++) {
          th[j] = m->theta[j] + t * d1[j] + u * d2[j];
          pr *= cos2(th[j]);
        }
        worst = fmax(worst, fabs(f[a * res.N2 + b] - (1 - pr)));
      }
    CHECK(worst <= 1e-13);
    printf("    toy n=%d: max |f - C_G| over the %d x %d grid %.2g\n", n, res.N1, res.N2, worst);
    if (n == 2) { /* f = 1 - A(t) B(u): max 1, min 0, max |grad f| = 1/2 */
      CHECK_CLOSE(res.fmax, 1.0, 0, 1e-12);
      CHECK_CLOSE(res.fmin, 0.0, 0, 1e-12);
      CHECK_CLOSE(res.lipschitz, 0.5, 0, 1e-12);
      worst_ref = fmax(worst_ref, fmax(fabs(res.fmax - 1), fabs(res.fmin)));
      worst_ref = fmax(worst_ref, fabs(res.lipschitz - 0.5));
    }
    free(f);
    bps_plane_result_free(&res);
    bps_model_instance_destroy(&m);
  }
  /* HEA and VH: random directions (entries -1..1) */
  bps_rng r;
  bps_rng_init(&r, 802, 0, 0, BPS_STREAM_LANDSCAPE, 0);
  for (int which = 0; which < 3; which++) {
    bps_model_spec_default(&s);
    const char *what = "hea mcclean L=2";
    bps_repr repr = BPS_FACTORED;
    if (which < 2) {
      s.kind = BPS_MODEL_HEA;
      s.hea = which ? BPS_HEA_ALT : BPS_HEA_MCCLEAN;
      s.hea_layers = 2;
      if (which) {
        s.cost = BPS_COST_LOCAL;
        what = "hea alt local L=2";
      }
    } else {
      s.kind = BPS_MODEL_VH;
      what = "vh";
      repr = BPS_DENSE;
    }
    bps_model_instance *m = NULL;
    CHECK_OK(bps_model_instance_create(&s, 3, 802, 2, repr, &m));
    const int M = m->nparams;
    int *k1 = calloc((size_t)M, sizeof(int)), *k2 = calloc((size_t)M, sizeof(int));
    for (int j = 0; j < M; j++) {
      int lim = which == 2 ? 4 : 2; /* vh: sparser directions (many parameters) */
      int x = (int)(bps_rng_u32(&r) % (unsigned)(2 * lim)),
          y = (int)(bps_rng_u32(&r) % (unsigned)(2 * lim));
      k1[j] = x == 0 ? -1 : x == 1 ? 1 : 0;
      k2[j] = y == 0 ? -1 : y == 1 ? 1 : 0;
      if (which < 2) {
        k1[j] = x % 3 - 1;
        k2[j] = y % 3 - 1;
      }
    }
    k1[0] = 1;
    k2[M - 1] = 1;
    bps_plane_result res;
    model_plane(what, m, k1, k2, &res);
    bps_plane_result_free(&res);
    free(k1);
    free(k2);
    bps_model_instance_destroy(&m);
  }
  /* QBM refused */
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_QBM;
  bps_model_instance *m = NULL;
  CHECK_OK(bps_model_instance_create(&s, 1, 802, 0, BPS_DENSE, &m));
  int *k = calloc((size_t)m->nparams, sizeof(int));
  k[0] = 1;
  bps_plane_result res;
  CHECK_FAILS(bps_landscape_plane(m, m->theta, k, k, NULL, 0, NULL, &res), BPS_ERR_ARG);
  free(k);
  bps_model_instance_destroy(&m);
}

int main(void) {
  bps_rng r;
  bps_rng_init(&r, 802, 0, 0, BPS_STREAM_TEST, 0);
  const int KK[][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}, {2, 3}, {3, 2},
                       {5, 0}, {0, 4}, {4, 7}, {8, 8}, {12, 5}};
  for (size_t i = 0; i < sizeof KK / sizeof *KK; i++) {
    int K1 = KK[i][0], K2 = KK[i][1], N1 = 0, N2 = 0;
    CHECK_OK(bps_landscape_size(K1, -1, &N1));
    CHECK_OK(bps_landscape_size(K2, -1, &N2));
    for (int rep = 0; rep < 2; rep++) {
      check_poly(&r, K1, K2, N1, N2, 1);                        /* default sizes */
      check_poly(&r, K1, K2, 2 * K1 + 1, 2 * K2 + 1, rep == 0); /* critical sizes */
      check_poly(&r, K1, K2, 2 * K1 + 2, N2 + 1, 0);            /* even sizes */
    }
  }
  for (int K1 = 0; K1 <= 9; K1 += 3)
    for (int K2 = 1; K2 <= 7; K2 += 3) check_separable(&r, K1, K2);
  check_extremal();
  printf("polynomials: worst |c_ab - exact| %.3g, alias %.3g, Parseval rel %.3g, slope rel "
         "%.3g; refined extrema/lipschitz vs independent references %.3g (relative); max "
         "lipschitz/bernstein %.4f\n",
         worst_coef, worst_alias, worst_pars, worst_slope, worst_ref, worst_lb);
  check_args_and_cap(&r);
  check_threads();
  worst_slope = worst_alias = 0;
  check_models();
  printf("models: worst |slope_fft - slope_adjoint|/(1+|slope|) %.3g, worst alias %.3g; all "
         "refinement checks %.3g\n",
         worst_slope, worst_alias, worst_ref);
  bps_landscape_cleanup();
  return bps_test_result("t802-landscape-plane");
}

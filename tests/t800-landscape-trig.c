/* t800: FFT analysis of landscape cuts on known trigonometric polynomials
 * (src/landscape.c, physics.md Secs. 5.2-5.5).
 * - f(t) = a_0 + sum_{k<=K} (a_k cos kt + b_k sin kt), random a, b, degrees K = 0 .. 60,
 *   sampled at the default size, at N = 2K+1 exactly and at an even N: c_k = (a_k - i b_k)/2
 *   recovered to 1e-13, mean/var (Parseval, also against the grid mean of (f - c_0)^2),
 *   f'(0) = sum k b_k, the refined max|f'| (lipschitz), max f and min f against the
 *   analytic values: >= a 64x brute-force grid and within 1e-3 of it; lipschitz <= bernstein;
 * - aliasing at the rounding level when N >= 2K+1, and large (>= the largest hidden |c_k|)
 *   when the declared K is 1 or 2 below the true degree (default guard bins);
 * - the extremal Bernstein case cos(Kt): lipschitz = bernstein = K to 1e-11;
 * - bps_landscape_size (odd, 7-smooth, minimal, guard); bps_landscape_frequencies,
 *   _degree and _direction (natural units) on a hand-made circuit: shared parameters
 *   (scales 0.5 and 1: nu 1, R 3; 0.25, 0.375, 0.25: nu 0.25, R 7), scale 0.3 (nu 0.6,
 *   R 1), a VH-like J, a 1e-12 scale perturbation (still commensurate), an unused
 *   parameter, and scales 0.5 and 0.5 sqrt 2 (incommensurate: refused, named);
 * - plans shared between OpenMP threads give bitwise the serial results. */
#include <complex.h>
#include <string.h>

#include "bps_test.h"
#include "bpscan/landscape.h"
#include "bpscan/rng.h"

static double trig(const double *a, const double *b, int K, double t) {
  double f = a[0];
  for (int k = 1; k <= K; k++) f += a[k] * cos(k * t) + b[k] * sin(k * t);
  return f;
}
static double dtrig(const double *a, const double *b, int K, double t) {
  double f = 0;
  for (int k = 1; k <= K; k++) f += k * (-a[k] * sin(k * t) + b[k] * cos(k * t));
  return f;
}

static void sample(const double *a, const double *b, int K, int N, double *f) {
  for (int s = 0; s < N; s++) f[s] = trig(a, b, K, 2.0 * M_PI * s / N);
}

static double worst_coef = 0, worst_alias = 0, worst_lip = 0;

static void check_poly(bps_rng *r, int K, int N) {
  double *a = calloc((size_t)K + 1, sizeof(double)), *b = calloc((size_t)K + 1, sizeof(double));
  for (int k = 0; k <= K; k++) {
    a[k] = bps_rng_normal(r);
    b[k] = k ? bps_rng_normal(r) : 0.0;
  }
  double *f = malloc(sizeof(double) * (size_t)N);
  sample(a, b, K, N, f);
  bps_cut_result res;
  CHECK_OK(bps_cut_analyse(f, N, K, 0, &res));
  CHECK(res.K == K && res.N == N && res.nf == BPS_LANDSCAPE_PAD * N);
  CHECK(isnan(res.slope_adjoint));
  double var = 0, slope = 0, dc = 0;
  for (int k = 0; k <= K; k++) {
    double complex ck = k ? 0.5 * (a[k] - I * b[k]) : a[0];
    dc = fmax(dc, cabs(res.c[k] - ck));
    if (k) {
      var += 0.5 * (a[k] * a[k] + b[k] * b[k]);
      slope += k * b[k];
      CHECK_CLOSE(res.W[k], 0.5 * (a[k] * a[k] + b[k] * b[k]), 1e-12, 1e-14);
    }
  }
  CHECK(dc <= 1e-13);
  worst_coef = fmax(worst_coef, dc);
  CHECK_CLOSE(res.W[0], a[0] * a[0], 1e-12, 1e-14);
  CHECK_CLOSE(res.mean, a[0], 0, 1e-13);
  CHECK_CLOSE(res.var, var, 1e-12, 1e-14);
  double gm = 0; /* discrete Parseval on the sample grid (exact for N >= 2K+1) */
  for (int s = 0; s < N; s++) gm += (f[s] - res.mean) * (f[s] - res.mean);
  CHECK_CLOSE(gm / N, res.var, 1e-12, 1e-14);
  CHECK_CLOSE(res.slope_fft, slope, 1e-13, 1e-13 * (K + 1) * (K + 1));
  CHECK_CLOSE(res.slope_fft, dtrig(a, b, K, 0.0), 1e-12, 1e-12 * (K + 1) * (K + 1));
  /* aliasing self-test */
  CHECK(res.alias <= 1e-14 * (K + 1));
  worst_alias = fmax(worst_alias, res.alias);
  /* fine grid: the Lipschitz point is a real extremum of |f'|, values analytic */
  CHECK_CLOSE(res.lipschitz, fabs(dtrig(a, b, K, res.t_lipschitz)), 1e-12, 1e-12 * (K + 1));
  double bmax = 0, fmx = -INFINITY, fmn = INFINITY;
  const int nb = 64 * (2 * K + 1) + 64; /* brute force, much finer than the fine grid */
  for (int m = 0; m < nb; m++) {
    double t = 2.0 * M_PI * m / nb;
    bmax = fmax(bmax, fabs(dtrig(a, b, K, t)));
    double v = trig(a, b, K, t);
    fmx = fmax(fmx, v);
    fmn = fmin(fmn, v);
  }
  /* the refined extrema are at least the brute-force grid ones, and close to them */
  CHECK(res.lipschitz >= bmax * (1 - 1e-13) - 1e-13);
  CHECK_CLOSE(res.lipschitz, bmax, 1e-3, 1e-13);
  CHECK(res.fmax >= fmx - 1e-12 && res.fmin <= fmn + 1e-12);
  CHECK_CLOSE(res.fmax, fmx, 1e-3, 1e-13);
  CHECK_CLOSE(res.fmin, fmn, 1e-3, 1e-13);
  CHECK_CLOSE(res.spread, res.fmax - res.fmin, 0, 0);
  CHECK_CLOSE(res.bernstein, K * res.spread / 2, 1e-15, 0);
  CHECK(res.lipschitz <= res.bernstein * (1 + 1e-12) + 1e-13);
  if (K >= 2) worst_lip = fmax(worst_lip, res.lipschitz / res.bernstein);
  bps_cut_result_free(&res);
  CHECK(res.c == NULL && res.W == NULL);

  /* deliberately mis-declared spectrum: hide the top one or two degrees */
  for (int miss = 1; miss <= 2 && miss <= K; miss++) {
    int Kd = K - miss, Nd = 0;
    CHECK_OK(bps_landscape_size(Kd, -1, &Nd));
    CHECK(Nd > 2 * K); /* the guard bins hold the hidden degrees: they cannot fold back */
    double *fd = malloc(sizeof(double) * (size_t)Nd);
    sample(a, b, K, Nd, fd);
    CHECK_OK(bps_cut_analyse(fd, Nd, Kd, 0, &res));
    double hidden = 0;
    for (int k = Kd + 1; k <= K; k++) hidden = fmax(hidden, 0.5 * hypot(a[k], b[k]));
    CHECK(res.alias >= hidden * (1 - 1e-12) && res.alias > 1e-3);
    bps_cut_result_free(&res);
    free(fd);
  }
  free(f);
  free(a);
  free(b);
}

static void test_size(void) {
  int N = 0;
  CHECK_OK(bps_landscape_size(0, -1, &N));
  CHECK(N == 5); /* 2(0+2)+1 */
  CHECK_OK(bps_landscape_size(1, -1, &N));
  CHECK(N == 7);
  CHECK_OK(bps_landscape_size(1, 0, &N));
  CHECK(N == 3);
  CHECK_OK(bps_landscape_size(0, 0, &N));
  CHECK(N == 3);
  CHECK_OK(bps_landscape_size(10, 0, &N));
  CHECK(N == 21);
  CHECK_OK(bps_landscape_size(12, 0, &N));
  CHECK(N == 25);
  CHECK_OK(bps_landscape_size(17, 0, &N)); /* 35 = 5 7 */
  CHECK(N == 35);
  CHECK_OK(bps_landscape_size(18, 0, &N)); /* 37 prime -> 45 */
  CHECK(N == 45);
  for (int K = 0; K <= 3000; K++) {
    int g = 2 + K / 4;
    CHECK_OK(bps_landscape_size(K, -1, &N));
    int ok = N % 2 == 1 && N >= 2 * (K + g) + 1;
    int x = N;
    while (x % 3 == 0) x /= 3;
    while (x % 5 == 0) x /= 5;
    while (x % 7 == 0) x /= 7;
    ok &= x == 1;
    for (int y = 2 * (K + g) + 1; y < N && ok; y += 2) { /* minimal */
      int z = y;
      while (z % 3 == 0) z /= 3;
      while (z % 5 == 0) z /= 5;
      while (z % 7 == 0) z /= 7;
      ok &= z != 1;
    }
    ok &= N <= (int)(1.3 * (2 * (K + g) + 1)) + 2; /* 7-smooth odd numbers are dense */
    if (!ok) {
      CHECK(ok);
      fprintf(stderr, "  bad size N = %d for K = %d\n", N, K);
      break;
    }
  }
  CHECK_FAILS(bps_landscape_size(-1, -1, &N), BPS_ERR_ARG);
  double f[4] = {0};
  bps_cut_result res;
  CHECK_FAILS(bps_cut_analyse(f, 4, 2, 0, &res), BPS_ERR_ARG); /* N < 2K+1 */
  f[1] = NAN;
  CHECK_FAILS(bps_cut_analyse(f, 3, 1, 0, &res), BPS_ERR_NUMERIC);
}

static void test_degree(void) {
  bps_circuit *c = NULL;
  CHECK_OK(bps_circuit_create(2, &c));
  int q0 = 0, q1 = 1, q01[2] = {0, 1};
  CHECK_OK(bps_circuit_prot(c, "Y", &q0, 0.5, 0));  /* param 0: two R_y -> nu 1, R 2 */
  CHECK_OK(bps_circuit_prot(c, "ZZ", q01, 0.5, 1)); /* param 1: 2|s| = 1, 2: nu 1, R 3 */
  CHECK_OK(bps_circuit_prot(c, "X", &q1, 0.5, 0));
  CHECK_OK(bps_circuit_prot(c, "XX", q01, -1.0, 1)); /* CAN-like, scale -1: frequency 2 */
  CHECK_OK(bps_circuit_prot(c, "Y", &q1, 0.3, 2));   /* param 2: nu 0.6, R 1 */
  CHECK_OK(bps_circuit_prot(c, "Z", &q0, 0.5, 4));   /* param 3 unused; param 4: nu 1, R 1 */
  CHECK_OK(bps_circuit_prot(c, "X", &q0, 0.5, 5));   /* param 5: 1 and sqrt 2: incommensurate */
  CHECK_OK(bps_circuit_prot(c, "Y", &q1, 0.5 * sqrt(2.0), 5));
  CHECK_OK(bps_circuit_prot(c, "Z", &q1, 0.25, 6));   /* param 6: 0.5, 0.75, 0.5: nu 0.25, */
  CHECK_OK(bps_circuit_prot(c, "X", &q0, -0.375, 6)); /* R = 2 + 3 + 2 = 7 (q = 2) */
  CHECK_OK(bps_circuit_prot(c, "ZZ", q01, 0.25, 6));
  CHECK_OK(bps_circuit_prot(c, "YY", q01, -1.37, 7)); /* param 7: VH-like J: nu 2.74, R 1 */
  CHECK_OK(bps_circuit_prot(c, "X", &q1, 0.1, 8));    /* param 8: 0.2 and 0.2 (1 + 1e-12): */
  CHECK_OK(bps_circuit_prot(c, "Y", &q1, 0.1 * (1 + 1e-12), 8)); /* within 1e-9: nu 0.2, R 2 */
  CHECK(c->nparams == 9);
  double nu[9];
  int R[9];
  CHECK_OK(bps_landscape_frequencies(c, nu, R));
  const double nu_ex[9] = {1, 1, 0.6, 1, 1, 1, 0.25, 2.74, 0.2};
  const int R_ex[9] = {2, 3, 1, 0, 1, -1, 7, 1, 2};
  for (int j = 0; j < 9; j++) {
    CHECK(R[j] == R_ex[j]);
    CHECK_CLOSE(nu[j], nu_ex[j], 1e-15, 0);
  }
  char *names[9] = {"p0", "p1", "p2", "p3", "p4", "beer5", "p6", "p7", "p8"};
  int K = -1;
  int k1[9] = {1, -2, 3, 7, 3, 0, -1, 2, 1};
  CHECK_OK(bps_landscape_degree(c, NULL, k1, &K));
  CHECK(K == 2 + 6 + 3 + 0 + 3 + 0 + 7 + 2 + 2);
  CHECK_OK(bps_landscape_degree(c, names, k1, &K));
  CHECK(K == 25);
  double dir[9];
  CHECK_OK(bps_landscape_direction(c, k1, dir));
  for (int j = 0; j < 9; j++) CHECK_CLOSE(dir[j], k1[j] / nu_ex[j], 1e-15, 0);
  /* the incommensurate parameter moved: refused, named */
  int k2[9] = {0, 0, 1, 0, 0, 1, 0, 0, 0};
  int rc = bps_landscape_degree(c, names, k2, &K);
  CHECK(rc == BPS_ERR_ARG && strstr(bps_error_message(), "incommensurate frequencies"));
  CHECK(strstr(bps_error_message(), "beer5") != NULL);
  CHECK(strstr(bps_error_message(), "plain FFT cut does not apply") != NULL);
  printf("  refused as expected: %s\n", bps_error_message());
  bps_error_clear();
  rc = bps_landscape_degree(c, NULL, k2, &K);
  CHECK(rc == BPS_ERR_ARG && strstr(bps_error_message(), "parameter 5 has incommensurate"));
  bps_error_clear();
  CHECK_FAILS(bps_landscape_direction(c, k2, dir), BPS_ERR_ARG);
  /* too long a direction */
  int k4[9] = {0, 1 << 21, 0, 0, 0, 0, 0, 0, 0};
  CHECK_FAILS(bps_landscape_degree(c, NULL, k4, &K), BPS_ERR_ARG);
  CHECK_OK(bps_landscape_direction(c, k4, dir)); /* the direction itself is fine */
  k4[1] = 1 << 20;                               /* 3 2^20 <= 2^22 */
  CHECK_OK(bps_landscape_degree(c, NULL, k4, &K));
  CHECK(K == 3 << 20);
  int k3[9] = {0};
  CHECK_OK(bps_landscape_degree(c, names, k3, &K));
  CHECK(K == 0);
  CHECK_FAILS(bps_landscape_degree(c, NULL, NULL, &K), BPS_ERR_ARG);
  bps_circuit_destroy(&c);
}

/* cos(K t): the Bernstein bound is attained */
static void test_extremal(void) {
  for (int K = 1; K <= 20; K += 3) {
    int N = 0;
    CHECK_OK(bps_landscape_size(K, -1, &N));
    double *f = malloc(sizeof(double) * (size_t)N);
    for (int s = 0; s < N; s++) f[s] = cos(K * 2.0 * M_PI * s / N);
    bps_cut_result res;
    CHECK_OK(bps_cut_analyse(f, N, K, 0, &res));
    CHECK_CLOSE(res.bernstein, K, 1e-11, 0); /* attained: refined extrema are exact */
    CHECK_CLOSE(res.lipschitz, K, 1e-11, 0);
    CHECK_CLOSE(res.W[K], 0.5, 0, 1e-14);
    CHECK(res.lipschitz <= res.bernstein * (1 + 1e-12));
    bps_cut_result_free(&res);
    free(f);
  }
}

/* the cached plans used from several threads at once, sizes interleaved */
static void test_threads(void) {
  enum { NC = 24 };
  double out[NC][4], ref[NC][4];
  for (int pass = 0; pass < 2; pass++) {
    int bad = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : bad) if (pass == 1)
    for (int i = 0; i < NC; i++) {
      bps_rng r;
      bps_rng_init(&r, 800, 0, (uint32_t)i, BPS_STREAM_TEST, 1);
      int K = 1 + i % 7 * 5, N = 0;
      if (bps_landscape_size(K, i % 3, &N)) bad++;
      double *f = malloc(sizeof(double) * (size_t)N);
      for (int s = 0; s < N; s++) f[s] = bps_rng_normal(&r);
      bps_cut_result res;
      if (bps_cut_analyse(f, N, K, 8, &res)) {
        bad++;
      } else {
        double(*o)[4] = pass ? out : ref;
        o[i][0] = res.var;
        o[i][1] = res.slope_fft;
        o[i][2] = res.lipschitz;
        o[i][3] = res.alias;
        bps_cut_result_free(&res);
      }
      free(f);
    }
    CHECK(bad == 0);
  }
  CHECK(memcmp(out, ref, sizeof out) == 0);
}

int main(void) {
  bps_rng r;
  bps_rng_init(&r, 800, 0, 0, BPS_STREAM_TEST, 0);
  test_size();
  test_degree();
  int Ks[] = {0, 1, 2, 3, 5, 8, 13, 21, 34, 60};
  for (size_t i = 0; i < sizeof Ks / sizeof *Ks; i++) {
    int K = Ks[i], N = 0;
    for (int rep = 0; rep < 4; rep++) {
      CHECK_OK(bps_landscape_size(K, -1, &N));
      check_poly(&r, K, N);         /* default size */
      check_poly(&r, K, 2 * K + 1); /* critical size (no alias bins) */
      check_poly(&r, K, 2 * K + 6); /* even N: Nyquist bin 2K+3 > K */
    }
  }
  printf("worst |c_k - exact| %.3g, worst alias %.3g, max lipschitz/bernstein (K >= 2) %.4f\n",
         worst_coef, worst_alias, worst_lip);
  test_extremal();
  test_threads();
  bps_landscape_cleanup();
  return bps_test_result("t800-landscape-trig");
}

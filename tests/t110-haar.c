/* t110-haar: Haar unitaries and states against exact Haar moments (physics.md Sec. 4.1-4.4).
 * Every statistical check is |MC - exact| < 4 SE with the SE computed from the samples.
 * Part 1 (matrices only): unitarity, determinism, E U_ij = 0 (catches a missing phase
 *   fix), E|U_ij|^2 = 1/d, first- and second-moment twirls, E|<0|U|0>|^4 = 2/(d(d+1)),
 *   frame potentials F1 = 1, F2 = 2, Haar-state moments.
 * Part 2 (state engine): Table A (cost value under a Haar unitary) and Table B (gradient
 *   variance by the parameter-shift rule through R_G), in both representations, which
 *   must agree sample by sample; samples run in parallel over OpenMP threads. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bps_test.h"
#include "bpscan/gates.h"
#include "bpscan/linalg.h"
#include "bpscan/state.h"
#include "ref.h"

#define SEED 110

typedef struct {
  double mean, var, se_mean, se_var;
} stats;
static stats moments(const double *x, size_t n) {
  stats s;
  double m = 0;
  for (size_t i = 0; i < n; i++) m += x[i];
  m /= (double)n;
  double m2 = 0, m4 = 0;
  for (size_t i = 0; i < n; i++) {
    double d = x[i] - m;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m4 /= (double)n;
  s.mean = m;
  s.var = m2 / (double)(n - 1);
  s.se_mean = sqrt(s.var / (double)n);
  double v = m2 / (double)n;
  s.se_var = sqrt(fmax(m4 - v * v, 0.0) / (double)n);
  return s;
}

static int within(const char *what, double mc, double exact, double se) {
  double z = (mc - exact) / se;
  printf("  %-44s MC %.6f  exact %.6f  SE %.2e  z %+.2f%s\n", what, mc, exact, se, z,
         fabs(z) < 4 ? "" : "  <-- FAIL");
  return fabs(mc - exact) < 4.0 * se;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Random Hermitian d x d matrix (fixed stream). */
static void random_hermitian(bps_rng *r, int d, bps_cplx *X) {
  for (int i = 0; i < d; i++)
    for (int j = i; j < d; j++) {
      bps_cplx v = bps_rng_normal(r) + (i == j ? 0 : I * bps_rng_normal(r));
      X[i * d + j] = v;
      X[j * d + i] = conj(v);
    }
}

/* ---------------------------------------------------------------- part 1: matrices */

static void test_unitarity_determinism(void) {
  printf("unitarity and determinism\n");
  const int dims[] = {1, 2, 3, 4, 5, 8, 16, 32, 64, 128};
  bps_cplx *U = ref_alloc(128 * 128), *V = ref_alloc(128 * 128);
  for (int k = 0; k < 10; k++) {
    int d = dims[k];
    double worst = 0;
    for (int s = 0; s < 20; s++) {
      bps_rng r;
      bps_rng_init(&r, SEED, (uint32_t)d, (uint32_t)s, BPS_STREAM_TEST, 0);
      CHECK_OK(bps_haar_unitary(&r, d, U));
      worst = fmax(worst, bps_mat_unitarity_error(d, U));
    }
    printf("  d = %3d: max unitarity error %.2e\n", d, worst);
    CHECK(worst < 1e-13);
  }
  /* same stream -> same bits; the stream is advanced past the Ginibre draws */
  bps_rng r1, r2;
  bps_rng_init(&r1, SEED, 3, 7, BPS_STREAM_UNITARY, 1);
  bps_rng_init(&r2, SEED, 3, 7, BPS_STREAM_UNITARY, 1);
  CHECK_OK(bps_haar_unitary(&r1, 8, U));
  CHECK_OK(bps_haar_unitary(&r2, 8, V));
  CHECK(memcmp(U, V, 64 * sizeof(bps_cplx)) == 0);
  CHECK_OK(bps_haar_unitary(&r1, 8, U)); /* the next draws of the same stream differ */
  CHECK(ref_maxdiff(64, U, V) > 0.1);
  bps_rng_init(&r2, SEED, 3, 7, BPS_STREAM_UNITARY, 2); /* another sub -> another U */
  CHECK_OK(bps_haar_unitary(&r2, 8, U));
  CHECK(ref_maxdiff(64, U, V) > 0.1);
  /* the same U whether drawn outside or inside an OpenMP parallel region (LAPACK
   * single-threaded there), for a matrix large enough to make OpenBLAS thread */
  bps_rng_init(&r1, SEED, 9, 9, BPS_STREAM_UNITARY, 0);
  CHECK_OK(bps_haar_unitary(&r1, 128, U));
  int rc_in = -1;
#pragma omp parallel num_threads(2)
  {
#pragma omp single
    {
      bps_rng rr;
      bps_rng_init(&rr, SEED, 9, 9, BPS_STREAM_UNITARY, 0);
      rc_in = bps_haar_unitary(&rr, 128, V);
    }
  }
  CHECK(rc_in == BPS_OK);
  double dd = ref_maxdiff(128 * 128, U, V);
  printf("  d = 128 inside vs outside a parallel region: max diff %.2e\n", dd);
  CHECK(dd == 0.0);
  /* bad arguments */
  CHECK_FAILS(bps_haar_unitary(&r1, 0, U), BPS_ERR_ARG);
  CHECK_FAILS(bps_haar_unitary(NULL, 4, U), BPS_ERR_ARG);
  CHECK_FAILS(bps_haar_unitary(&r1, 4, NULL), BPS_ERR_ARG);
  free(U);
  free(V);
}

/* E U_ij = 0 and E |U_ij|^2 = 1/d entrywise; E|<0|U|0>|^4 = 2/(d(d+1)). */
static void test_entries(int d, int S) {
  printf("entries, d = %d, S = %d\n", d, S);
  size_t n = (size_t)d * d;
  double *re = malloc(sizeof(double) * n * S), *im = malloc(sizeof(double) * n * S),
         *ab = malloc(sizeof(double) * n * S), *x = malloc(sizeof(double) * S);
  bps_cplx *U = ref_alloc(n);
  for (int s = 0; s < S; s++) {
    bps_rng r;
    bps_rng_init(&r, SEED, (uint32_t)d, (uint32_t)s, BPS_STREAM_TEST, 1);
    CHECK_OK(bps_haar_unitary(&r, d, U));
    for (size_t e = 0; e < n; e++) {
      re[e * S + s] = creal(U[e]);
      im[e * S + s] = cimag(U[e]);
      ab[e * S + s] = creal(U[e] * conj(U[e]));
    }
    double a = creal(U[0] * conj(U[0]));
    x[s] = a * a;
  }
  int bad = 0;
  double zmax = 0;
  for (size_t e = 0; e < n; e++) {
    stats a = moments(re + e * S, S), b = moments(im + e * S, S), c = moments(ab + e * S, S);
    double z[3] = {a.mean / a.se_mean, b.mean / b.se_mean, (c.mean - 1.0 / d) / c.se_mean};
    for (int k = 0; k < 3; k++) {
      zmax = fmax(zmax, fabs(z[k]));
      bad += fabs(z[k]) >= 4;
    }
  }
  stats a00 = moments(re, S);
  printf("  E Re U_00 = %.5f (SE %.1e); max |z| over %zu entries x (Re, Im, |.|^2) = %.2f\n",
         a00.mean, a00.se_mean, n, zmax);
  CHECK(bad == 0);
  stats st = moments(x, S);
  CHECK(within("E|<0|U|0>|^4 = 2/(d(d+1))", st.mean, 2.0 / (d * (d + 1.0)), st.se_mean));
  free(re);
  free(im);
  free(ab);
  free(x);
  free(U);
}

/* E[U X U^dag] = Tr X / d 1 (entrywise), and the second moment contracted with a random
 * Hermitian Y: E Tr[Y U(x)U X U^dag(x)U^dag] = alpha Tr Y + beta Tr(Y F). */
static void test_twirls(int d, int S) {
  printf("twirls, d = %d, S = %d\n", d, S);
  size_t n = (size_t)d * d, D = n, NN = D * D;
  bps_rng r;
  bps_rng_init(&r, SEED, (uint32_t)d, 0, BPS_STREAM_TEST, 2);
  bps_cplx *X = ref_alloc(n), *U = ref_alloc(n), *T = ref_alloc(n);
  for (size_t i = 0; i < n; i++) X[i] = bps_rng_normal(&r) + I * bps_rng_normal(&r);
  bps_cplx trX = 0;
  for (int i = 0; i < d; i++) trX += X[i * d + i];
  bps_cplx *X2 = ref_alloc(NN), *Y2 = ref_alloc(NN), *UU = ref_alloc(NN), *T2 = ref_alloc(NN),
           *F = ref_alloc(NN);
  random_hermitian(&r, (int)D, X2);
  random_hermitian(&r, (int)D, Y2);
  for (int a = 0; a < d; a++)
    for (int b = 0; b < d; b++) F[(size_t)(a * d + b) * D + (b * d + a)] = 1;
  double *re = malloc(sizeof(double) * n * S), *im = malloc(sizeof(double) * n * S),
         *sec = malloc(sizeof(double) * S);
  for (int s = 0; s < S; s++) {
    bps_rng rs;
    bps_rng_init(&rs, SEED, (uint32_t)d, (uint32_t)s, BPS_STREAM_TEST, 3);
    CHECK_OK(bps_haar_unitary(&rs, d, U));
    ref_conjugate(d, U, X, T);
    for (size_t e = 0; e < n; e++) {
      re[e * S + s] = creal(T[e]);
      im[e * S + s] = cimag(T[e]);
    }
    bps_mat_kron(d, U, d, U, UU);
    ref_conjugate((int)D, UU, X2, T2);
    sec[s] = creal(ref_trace_prod((int)D, Y2, T2));
  }
  int bad = 0;
  double zmax = 0;
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++) {
      size_t e = (size_t)i * d + j;
      bps_cplx ex = i == j ? trX / d : 0;
      stats a = moments(re + e * S, S), b = moments(im + e * S, S);
      double za = (a.mean - creal(ex)) / a.se_mean, zb = (b.mean - cimag(ex)) / b.se_mean;
      zmax = fmax(zmax, fmax(fabs(za), fabs(zb)));
      bad += fabs(za) >= 4 || fabs(zb) >= 4;
    }
  printf("  E[U X U^dag] = Tr X/d 1: max |z| over %zu entries (Re, Im) = %.2f\n", n, zmax);
  CHECK(bad == 0);
  double trXF = creal(ref_trace_prod((int)D, X2, F)); /* Tr(X F) */
  double tX = 0, tY = 0;
  for (size_t i = 0; i < D; i++) {
    tX += creal(X2[i * D + i]);
    tY += creal(Y2[i * D + i]);
  }
  double alpha = (tX - trXF / d) / (d * d - 1.0), beta = (trXF - tX / d) / (d * d - 1.0);
  double exact = alpha * tY + beta * creal(ref_trace_prod((int)D, Y2, F));
  stats st = moments(sec, S);
  CHECK(within("E Tr[Y U(x)U X (U(x)U)^dag] (alpha, beta)", st.mean, exact, st.se_mean));
  free(re);
  free(im);
  free(sec);
  free(X);
  free(U);
  free(T);
  free(X2);
  free(Y2);
  free(UU);
  free(T2);
  free(F);
}

/* Frame potentials F^(t) = E_{U,V} |Tr(U^dag V)|^{2t}: 1 and 2 for Haar (d >= 2). */
static void test_frame(int d, int S) {
  printf("frame potential, d = %d, S = %d pairs\n", d, S);
  size_t n = (size_t)d * d;
  bps_cplx *U = ref_alloc(n), *V = ref_alloc(n);
  double *f1 = malloc(sizeof(double) * S), *f2 = malloc(sizeof(double) * S);
  for (int s = 0; s < S; s++) {
    bps_rng r;
    bps_rng_init(&r, SEED, (uint32_t)d, (uint32_t)s, BPS_STREAM_TEST, 4);
    CHECK_OK(bps_haar_unitary(&r, d, U));
    CHECK_OK(bps_haar_unitary(&r, d, V));
    bps_cplx t = 0;
    for (size_t e = 0; e < n; e++) t += conj(U[e]) * V[e];
    double a = creal(t * conj(t));
    f1[s] = a;
    f2[s] = a * a;
  }
  stats s1 = moments(f1, S), s2 = moments(f2, S);
  CHECK(within("F^(1) = 1", s1.mean, 1.0, s1.se_mean));
  CHECK(within("F^(2) = 2", s2.mean, 2.0, s2.se_mean));
  free(U);
  free(V);
  free(f1);
  free(f2);
}

static void test_haar_state(int d, int S) {
  printf("Haar states, d = %d, S = %d\n", d, S);
  bps_cplx *psi = ref_alloc(d), *phi = ref_alloc(d);
  double *a = malloc(sizeof(double) * S), *b = malloc(sizeof(double) * S),
         *c = malloc(sizeof(double) * S);
  double worst = 0;
  for (int s = 0; s < S; s++) {
    bps_rng r;
    bps_rng_init(&r, SEED, (uint32_t)d, (uint32_t)s, BPS_STREAM_TEST, 5);
    bps_haar_state(&r, d, psi);
    double nrm = 0;
    for (int i = 0; i < d; i++) nrm += creal(psi[i] * conj(psi[i]));
    worst = fmax(worst, fabs(nrm - 1));
    double p0 = creal(psi[0] * conj(psi[0]));
    a[s] = p0;
    b[s] = p0 * p0;
    c[s] = creal(psi[d - 1]);
  }
  printf("  max |<psi|psi> - 1| = %.2e\n", worst);
  CHECK(worst < 1e-14);
  stats sa = moments(a, S), sb = moments(b, S), sc = moments(c, S);
  CHECK(within("E|psi_0|^2 = 1/d", sa.mean, 1.0 / d, sa.se_mean));
  CHECK(within("E|psi_0|^4 = 2/(d(d+1))", sb.mean, 2.0 / (d * (d + 1.0)), sb.se_mean));
  CHECK(within("E Re psi_{d-1} = 0", sc.mean, 0.0, sc.se_mean));
  bps_rng r1, r2;
  bps_rng_init(&r1, SEED, 1, 1, BPS_STREAM_INPUT, 0);
  bps_rng_init(&r2, SEED, 1, 1, BPS_STREAM_INPUT, 0);
  bps_haar_state(&r1, d, psi);
  bps_haar_state(&r2, d, phi);
  CHECK(memcmp(psi, phi, sizeof(bps_cplx) * d) == 0);
  free(psi);
  free(phi);
  free(a);
  free(b);
  free(c);
}

/* ------------------------------------------------------------ part 2: state engine */

static void all_qubits(int q, int *qs) {
  for (int i = 0; i < q; i++) qs[i] = i;
}

/* Samples run in parallel (OpenMP over samples, kernels serial inside the region, the
 * way the driver uses them). Every sample has its own stream and output slot and the
 * statistics are reduced serially afterwards, so the results do not depend on the thread
 * count. A failing library call records its traceback once and stops the loop. */
static int sample_fail = 0;
static void record_failure(int rc, int sample) {
#pragma omp critical(t110_fail)
  {
    if (!sample_fail) {
      sample_fail = rc;
      fprintf(stderr, "sample %d failed with %s\n", sample, bps_error_name(rc));
      bps_error_print(stderr);
    }
  }
  bps_error_clear();
}
static int failed(void) {
  int f;
#pragma omp atomic read
  f = sample_fail;
  return f;
}

/* Table A: C = Tr[O U |0><0| U^dag]. */
typedef struct {
  int q;
  const bps_cplx *phi;
  const char *z1;
} table_a_job;

/* One sample in both representations: projector and Z_1 values (dense), the largest
 * dense-vs-factored difference, and (for i < 20) the difference to the naive values. */
static int table_a_sample(const table_a_job *job, int i, bps_state *s[2], bps_cplx *U,
                          double *cp, double *cz, double *dev, double *dev_ref) {
  int q = job->q, d = 1 << q, qs[8];
  all_qubits(q, qs);
  bps_rng r;
  bps_rng_init(&r, SEED, (uint32_t)q, (uint32_t)i, BPS_STREAM_TEST, 7);
  BPS_CALL(bps_haar_unitary(&r, d, U));
  double vp[2], vz[2];
  for (int k = 0; k < 2; k++) {
    BPS_CALL(bps_state_set_zero(s[k], q));
    BPS_CALL(bps_apply_unitary(s[k], q, qs, U));
    BPS_CALL(bps_expect_projector(s[k], q, qs, job->phi, &vp[k]));
    BPS_CALL(bps_expect_pauli(s[k], job->z1, &vz[k]));
  }
  *dev = fmax(fabs(vp[0] - vp[1]), fabs(vz[0] - vz[1]));
  *dev_ref = 0;
  if (i < 20) { /* against the naive values |<phi|U|0>|^2 and Tr[Z_1 U|0><0|U^dag] */
    bps_cplx amp = 0;
    double zref = 0;
    for (int a = 0; a < d; a++) {
      bps_cplx u = U[(size_t)a * d];
      amp += conj(job->phi[a]) * u;
      zref += (a < d / 2 ? 1.0 : -1.0) * creal(u * conj(u));
    }
    *dev_ref = fmax(fabs(vp[0] - creal(amp * conj(amp))), fabs(vz[0] - zref));
  }
  *cp = vp[0];
  *cz = vz[0];
  return BPS_OK;
}

static void test_table_a(int q, int S) {
  int d = 1 << q;
  printf("Table A, q = %d (d = %d), S = %d, dense and factored\n", q, d, S);
  bps_cplx *phi = ref_alloc(d);
  bps_rng r;
  bps_rng_init(&r, SEED, (uint32_t)q, 0, BPS_STREAM_TEST, 6);
  bps_haar_state(&r, d, phi); /* a fixed rank-1 projector |phi><phi| */
  char z1[9] = "ZIIIIIII";
  z1[q] = 0;
  table_a_job job = {q, phi, z1};
  double *cp = malloc(sizeof(double) * S), *cz = malloc(sizeof(double) * S),
         *dev = malloc(sizeof(double) * S), *dev_ref = malloc(sizeof(double) * S);
  sample_fail = 0;
#pragma omp parallel
  {
    bps_state *s[2] = {NULL, NULL};
    bps_cplx *U = bps_alloc((size_t)d * d);
    int rc = U ? BPS_OK : BPS_ERR_MEM;
    if (!rc) rc = bps_state_create(BPS_DENSE, q, &s[0]);
    if (!rc) rc = bps_state_create(BPS_FACTORED, q, &s[1]);
    if (rc) record_failure(rc, -1);
#pragma omp for schedule(static)
    for (int i = 0; i < S; i++) {
      if (failed()) continue;
      rc = table_a_sample(&job, i, s, U, &cp[i], &cz[i], &dev[i], &dev_ref[i]);
      if (rc) record_failure(rc, i);
    }
    bps_state_destroy(&s[0]);
    bps_state_destroy(&s[1]);
    bps_free(U);
  }
  CHECK(sample_fail == 0);
  if (!sample_fail) {
    double worst = 0, worst_ref = 0;
    for (int i = 0; i < S; i++) {
      worst = fmax(worst, dev[i]);
      worst_ref = fmax(worst_ref, dev_ref[i]);
    }
    printf("  dense vs factored: max per-sample difference %.2e; vs reference %.2e\n", worst,
           worst_ref);
    CHECK(worst < 1e-12);
    CHECK(worst_ref < 1e-13);
    stats sp = moments(cp, S), sz = moments(cz, S);
    CHECK(within("projector: mean = 1/d", sp.mean, 1.0 / d, sp.se_mean));
    CHECK(within("projector: Var = (d-1)/(d^2(d+1))", sp.var, (d - 1.0) / (d * d * (d + 1.0)),
                 sp.se_var));
    CHECK(within("Z_1: mean = 0", sz.mean, 0.0, sz.se_mean));
    CHECK(within("Z_1: Var = 1/(d+1)", sz.var, 1.0 / (d + 1.0), sz.se_var));
  }
  free(phi);
  free(cp);
  free(cz);
  free(dev);
  free(dev_ref);
}

/* Table B: dC at theta = 0 by (C(pi/2) - C(-pi/2))/2 with
 * C(theta) = Tr[O B R_G(theta) A rho A^dag R_G(theta)^dag B^dag], rho = |0..0><0..0|.
 * mode 0: A, B Haar, O = Pauli string; mode 1: A, B Haar, O = |0..0><0..0|;
 * mode 2: A Haar, B = 1, O = |0..0><0..0|, G = Y_1. */
typedef struct {
  int q, mode;
  const bps_cplx *Rp, *Rm, *zero;
  const char *O;
} table_b_job;

static int table_b_sample(const table_b_job *job, int i, bps_state *sp[2], bps_state *sm[2],
                          bps_cplx *A, bps_cplx *B, double *g, double *dev) {
  int q = job->q, d = 1 << q, qs[8];
  all_qubits(q, qs);
  bps_rng r;
  bps_rng_init(&r, SEED, (uint32_t)q, (uint32_t)i, BPS_STREAM_TEST, 8 + (uint32_t)job->mode);
  BPS_CALL(bps_haar_unitary(&r, d, A));
  if (job->mode < 2) BPS_CALL(bps_haar_unitary(&r, d, B));
  double gk[2];
  for (int k = 0; k < 2; k++) {
    double cp, cm;
    BPS_CALL(bps_state_set_zero(sp[k], q));
    BPS_CALL(bps_apply_unitary(sp[k], q, qs, A));
    BPS_CALL(bps_state_copy(sm[k], sp[k]));
    BPS_CALL(bps_apply_unitary(sp[k], q, qs, job->Rp));
    BPS_CALL(bps_apply_unitary(sm[k], q, qs, job->Rm));
    if (job->mode < 2) {
      BPS_CALL(bps_apply_unitary(sp[k], q, qs, B));
      BPS_CALL(bps_apply_unitary(sm[k], q, qs, B));
    }
    if (job->mode == 0) {
      BPS_CALL(bps_expect_pauli(sp[k], job->O, &cp));
      BPS_CALL(bps_expect_pauli(sm[k], job->O, &cm));
    } else {
      BPS_CALL(bps_expect_projector(sp[k], q, qs, job->zero, &cp));
      BPS_CALL(bps_expect_projector(sm[k], q, qs, job->zero, &cm));
    }
    gk[k] = 0.5 * (cp - cm);
  }
  *dev = fabs(gk[0] - gk[1]);
  *g = gk[0];
  return BPS_OK;
}

static void test_table_b(int q, int S, int mode) {
  int d = 1 << q;
  static const char *names[3] = {"A,B Haar; O = Pauli string", "A,B Haar; O = rank-1 projector",
                                 "A Haar, B = 1; O = |0><0|, G = Y_1"};
  double exact = mode == 0   ? (double)d * d / (2.0 * (d + 1) * (d * d - 1.0))
                 : mode == 1 ? 1.0 / (2.0 * (d + 1) * (d + 1))
                             : 1.0 / (2.0 * d * (d + 1));
  printf("Table B (%s), q = %d, S = %d, dense and factored\n", names[mode], q, S);
  char G[9], O[9];
  const char *gpat = mode == 2 ? "YIIIIIII" : "XYZYXYZY", *opat = "ZIXYZIXY";
  memcpy(G, gpat, q);
  G[q] = 0;
  memcpy(O, opat, q);
  O[q] = 0;
  bps_cplx *Rp = ref_alloc((size_t)d * d), *Rm = ref_alloc((size_t)d * d), *zero = ref_alloc(d);
  zero[0] = 1;
  CHECK_OK(bps_gate_pauli_rot(G, M_PI / 2, Rp));
  CHECK_OK(bps_gate_pauli_rot(G, -M_PI / 2, Rm));
  table_b_job job = {q, mode, Rp, Rm, zero, O};
  double *g = malloc(sizeof(double) * S), *dev = malloc(sizeof(double) * S);
  sample_fail = 0;
#pragma omp parallel
  {
    bps_state *sp[2] = {NULL, NULL}, *sm[2] = {NULL, NULL};
    bps_repr reprs[2] = {BPS_DENSE, BPS_FACTORED};
    bps_cplx *A = bps_alloc((size_t)d * d), *B = bps_alloc((size_t)d * d);
    int rc = A && B ? BPS_OK : BPS_ERR_MEM;
    for (int k = 0; k < 2 && !rc; k++) {
      rc = bps_state_create(reprs[k], q, &sp[k]);
      if (!rc) rc = bps_state_create(reprs[k], q, &sm[k]);
    }
    if (rc) record_failure(rc, -1);
#pragma omp for schedule(static)
    for (int i = 0; i < S; i++) {
      if (failed()) continue;
      rc = table_b_sample(&job, i, sp, sm, A, B, &g[i], &dev[i]);
      if (rc) record_failure(rc, i);
    }
    for (int k = 0; k < 2; k++) {
      bps_state_destroy(&sp[k]);
      bps_state_destroy(&sm[k]);
    }
    bps_free(A);
    bps_free(B);
  }
  CHECK(sample_fail == 0);
  if (!sample_fail) {
    double worst = 0;
    for (int i = 0; i < S; i++) worst = fmax(worst, dev[i]);
    printf("  dense vs factored: max per-sample difference %.2e\n", worst);
    CHECK(worst < 1e-12);
    stats st = moments(g, S);
    CHECK(within("E dC = 0", st.mean, 0.0, st.se_mean));
    CHECK(within("Var dC", st.var, exact, st.se_var));
  }
  free(Rp);
  free(Rm);
  free(zero);
  free(g);
  free(dev);
}

/* The parameter-shift value equals the analytic derivative Tr[A rho A^dag X],
 * X = (i/2)[G, B^dag O B], sample by sample (deterministic; catches qubit-order and
 * transposition errors that Haar invariance hides from the statistics). */
static void test_shift_vs_commutator(int q, bps_repr repr) {
  int d = 1 << q, qs[8];
  all_qubits(q, qs);
  const char *G = q == 2 ? "XY" : "XYZ", *O = q == 2 ? "ZX" : "ZIX";
  size_t n = (size_t)d * d;
  bps_cplx *A = ref_alloc(n), *B = ref_alloc(n), *Rp = ref_alloc(n), *Rm = ref_alloc(n),
           *Gm = ref_alloc(n), *Om = ref_alloc(n), *T = ref_alloc(n), *OB = ref_alloc(n),
           *X = ref_alloc(n), *rho = ref_alloc(n), *GO = ref_alloc(n), *OG = ref_alloc(n);
  CHECK_OK(bps_gate_pauli_rot(G, M_PI / 2, Rp));
  CHECK_OK(bps_gate_pauli_rot(G, -M_PI / 2, Rm));
  ref_pauli(G, Gm);
  ref_pauli(O, Om);
  bps_state *s;
  CHECK_OK(bps_state_create(repr, q, &s));
  double worst = 0;
  for (int i = 0; i < 20; i++) {
    bps_rng r;
    bps_rng_init(&r, SEED, (uint32_t)q, (uint32_t)i, BPS_STREAM_TEST, 20);
    CHECK_OK(bps_haar_unitary(&r, d, A));
    CHECK_OK(bps_haar_unitary(&r, d, B));
    ref_adjoint(d, B, T);
    ref_conjugate(d, T, Om, OB); /* B^dag O B */
    ref_matmul(d, Gm, OB, GO);
    ref_matmul(d, OB, Gm, OG);
    for (size_t e = 0; e < n; e++) X[e] = 0.5 * I * (GO[e] - OG[e]);
    memset(rho, 0, n * sizeof(bps_cplx));
    rho[0] = 1;
    ref_conjugate(d, A, rho, T);
    double exact = creal(ref_trace_prod(d, T, X)), cp, cm;
    CHECK_OK(bps_state_set_zero(s, q));
    CHECK_OK(bps_apply_unitary(s, q, qs, A));
    CHECK_OK(bps_apply_unitary(s, q, qs, Rp));
    CHECK_OK(bps_apply_unitary(s, q, qs, B));
    CHECK_OK(bps_expect_pauli(s, O, &cp));
    CHECK_OK(bps_state_set_zero(s, q));
    CHECK_OK(bps_apply_unitary(s, q, qs, A));
    CHECK_OK(bps_apply_unitary(s, q, qs, Rm));
    CHECK_OK(bps_apply_unitary(s, q, qs, B));
    CHECK_OK(bps_expect_pauli(s, O, &cm));
    worst = fmax(worst, fabs(0.5 * (cp - cm) - exact));
  }
  printf("shift rule vs (i/2)[G, B^dag O B], q = %d, %s: max difference %.2e over 20 samples\n",
         q, bps_repr_name(repr), worst);
  CHECK(worst < 1e-13);
  bps_state_destroy(&s);
  free(A);
  free(B);
  free(Rp);
  free(Rm);
  free(Gm);
  free(Om);
  free(T);
  free(OB);
  free(X);
  free(rho);
  free(GO);
  free(OG);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* keep stdout and stderr in order in logs */
  double t0 = now(), t = t0;
#define LAP() (printf("  [%.2f s]\n", now() - t), t = now())
  test_unitarity_determinism();
  LAP();
  test_entries(4, 40000);
  test_entries(8, 20000);
  LAP();
  test_twirls(4, 20000);
  LAP();
  test_frame(2, 40000);
  test_frame(4, 40000);
  LAP();
  test_haar_state(8, 40000);
  LAP();
  printf("part 1 (matrices): %.2f s\n", now() - t0);

  double t1 = now();
  for (int q = 2; q <= 3; q++) {
    test_shift_vs_commutator(q, BPS_DENSE);
    test_shift_vs_commutator(q, BPS_FACTORED);
  }
  test_table_a(2, 40000);
  LAP();
  test_table_a(3, 40000);
  LAP();
  test_table_b(2, 40000, 0);
  LAP();
  test_table_b(3, 40000, 0);
  LAP();
  test_table_b(2, 20000, 1);
  LAP();
  test_table_b(3, 20000, 1);
  LAP();
  test_table_b(2, 20000, 2);
  LAP();
  test_table_b(3, 20000, 2);
  LAP();
  printf("part 2 (state engine): %.2f s\n", now() - t1);
  return bps_test_result("t110-haar");
}

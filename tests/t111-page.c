/* t111-page: Haar pure states on d_A d_B qubits (physics.md Sec. 4.9, Table C).
 * - E Tr rho_A^2 = (d_A + d_B)/(d_A d_B + 1) and the Page entropy
 *   <S_A> = sum_{k=d_B+1}^{d_A d_B} 1/k - (d_A - 1)/(2 d_B) (nats), within 4 SE, for
 *   (n_A, n_B) = (1,1), (1,2), (2,2), (2,3), (1,4), with bps_state_set_pure +
 *   bps_reduced_state + bps_purity / bps_entropy_vn in BOTH representations (which must
 *   agree sample by sample); S_A = S_B and Tr rho_A^2 = Tr rho_B^2 per sample; a few
 *   samples against the naive partial trace of ref.c.
 * - one visible qubit: E T(rho_v, 1/2) = 1/2 B(2, D_h - 1)/B(3/2, D_h - 1) with
 *   bps_trace_distance_mixed, D_h = 2, 4, 8, 16.
 * Samples run in parallel over OpenMP threads (results independent of the thread count). */
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

#define SEED 111

typedef struct {
  double mean, var, se_mean;
} stats;
static stats moments(const double *x, size_t n) {
  stats s;
  double m = 0, m2 = 0;
  for (size_t i = 0; i < n; i++) m += x[i];
  m /= (double)n;
  for (size_t i = 0; i < n; i++) m2 += (x[i] - m) * (x[i] - m);
  s.mean = m;
  s.var = m2 / (double)(n - 1);
  s.se_mean = sqrt(s.var / (double)n);
  return s;
}

static int within(const char *what, double mc, double exact, double se) {
  double z = (mc - exact) / se;
  printf("  %-40s MC %.6f  exact %.6f  SE %.2e  z %+.2f%s\n", what, mc, exact, se, z,
         fabs(z) < 4 ? "" : "  <-- FAIL");
  return fabs(mc - exact) < 4.0 * se;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double page_entropy(int dA, int dB) {
  double s = 0;
  for (int k = dB + 1; k <= dA * dB; k++) s += 1.0 / k;
  return s - (dA - 1.0) / (2.0 * dB);
}

static double beta_fn(double a, double b) { return exp(lgamma(a) + lgamma(b) - lgamma(a + b)); }

/* Tr rho_A^2 by the naive route: |psi><psi|, ref_ptrace over the last n_B qubits. */
static double ref_purity_A(int q, int nA, const bps_cplx *psi) {
  int d = 1 << q, dA = 1 << nA;
  bps_cplx *rho = ref_alloc((size_t)d * d), *rA = ref_alloc((size_t)dA * dA);
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++) rho[(size_t)i * d + j] = psi[i] * conj(psi[j]);
  int traced[16];
  for (int t = nA; t < q; t++) traced[t - nA] = t;
  ref_ptrace(q, rho, q - nA, traced, rA);
  double p = creal(ref_trace_prod(dA, rA, rA));
  free(rho);
  free(rA);
  return p;
}

/* Samples run in parallel (OpenMP over samples, kernels serial inside the region). Every
 * sample has its own stream and output slot and the statistics are reduced serially, so
 * the results do not depend on the thread count. A failing call records its traceback
 * once and stops the loop. */
static int sample_fail = 0;
static void record_failure(int rc, int sample) {
#pragma omp critical(t111_fail)
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

static const bps_repr REPRS[2] = {BPS_DENSE, BPS_FACTORED};

typedef struct {
  double ent, pur;          /* dense S_A and Tr rho_A^2 */
  double repr, ab, ref, r2; /* deviations: dense-factored, A-B, naive purity, Renyi-2 */
} page_out;

static int page_sample(int nA, int nB, int i, bps_state *s[2], bps_state *ra[2],
                       bps_state *rb[2], bps_cplx *psi, page_out *o) {
  int q = nA + nB, d = 1 << q, keepA[8], keepB[8];
  for (int t = 0; t < nA; t++) keepA[t] = t;
  for (int t = 0; t < nB; t++) keepB[t] = nA + t;
  bps_rng r;
  bps_rng_init(&r, SEED, (uint32_t)q, (uint32_t)i, BPS_STREAM_TEST, (uint32_t)nA);
  bps_haar_state(&r, d, psi);
  double e[2], p[2];
  o->ab = o->r2 = o->ref = 0;
  for (int k = 0; k < 2; k++) {
    double eb, pb, r2;
    BPS_CALL(bps_state_set_pure(s[k], q, psi));
    BPS_CALL(bps_reduced_state(s[k], nA, keepA, ra[k]));
    BPS_CALL(bps_reduced_state(s[k], nB, keepB, rb[k]));
    BPS_CHECK(ra[k]->q == nA && rb[k]->q == nB && ra[k]->repr == REPRS[k] &&
                  rb[k]->repr == REPRS[k],
              BPS_ERR_INTERNAL, "reduced states have %d and %d qubits (expected %d and %d)",
              ra[k]->q, rb[k]->q, nA, nB);
    BPS_CALL(bps_purity(ra[k], &p[k]));
    BPS_CALL(bps_entropy_vn(ra[k], &e[k]));
    BPS_CALL(bps_purity(rb[k], &pb));
    BPS_CALL(bps_entropy_vn(rb[k], &eb));
    o->ab = fmax(o->ab, fmax(fabs(e[k] - eb), fabs(p[k] - pb)));
    if (i < 50) {
      BPS_CALL(bps_entropy_renyi2(ra[k], &r2));
      o->r2 = fmax(o->r2, fabs(r2 + log(p[k])));
    }
  }
  o->repr = fmax(fabs(e[0] - e[1]), fabs(p[0] - p[1]));
  if (i < 50) o->ref = fabs(p[0] - ref_purity_A(q, nA, psi));
  o->ent = e[0];
  o->pur = p[0];
  return BPS_OK;
}

static void test_page(int nA, int nB, int S, double table_value) {
  int q = nA + nB, d = 1 << q, dA = 1 << nA, dB = 1 << nB;
  double s_exact = page_entropy(dA, dB), p_exact = (double)(dA + dB) / (dA * dB + 1.0);
  printf("(n_A, n_B) = (%d, %d), S = %d, dense and factored\n", nA, nB, S);
  CHECK_CLOSE(s_exact, table_value, 0, 5e-7); /* the formula reproduces Table C */
  page_out *out = malloc(sizeof(page_out) * S);
  sample_fail = 0;
#pragma omp parallel
  {
    bps_state *s[2] = {NULL, NULL}, *ra[2] = {NULL, NULL}, *rb[2] = {NULL, NULL};
    bps_cplx *psi = bps_alloc((size_t)d);
    int rc = psi ? BPS_OK : BPS_ERR_MEM;
    for (int k = 0; k < 2 && !rc; k++) {
      rc = bps_state_create(REPRS[k], q, &s[k]);
      if (!rc) rc = bps_state_create(REPRS[k], 0, &ra[k]);
      if (!rc) rc = bps_state_create(REPRS[k], 0, &rb[k]);
    }
    if (rc) record_failure(rc, -1);
#pragma omp for schedule(static)
    for (int i = 0; i < S; i++) {
      if (failed()) continue;
      rc = page_sample(nA, nB, i, s, ra, rb, psi, &out[i]);
      if (rc) record_failure(rc, i);
    }
    for (int k = 0; k < 2; k++) {
      bps_state_destroy(&s[k]);
      bps_state_destroy(&ra[k]);
      bps_state_destroy(&rb[k]);
    }
    bps_free(psi);
  }
  CHECK(sample_fail == 0);
  if (!sample_fail) {
    double dev_repr = 0, dev_ab = 0, dev_ref = 0, dev_r2 = 0;
    double *ent = malloc(sizeof(double) * S), *pur = malloc(sizeof(double) * S);
    for (int i = 0; i < S; i++) {
      dev_repr = fmax(dev_repr, out[i].repr);
      dev_ab = fmax(dev_ab, out[i].ab);
      dev_ref = fmax(dev_ref, out[i].ref);
      dev_r2 = fmax(dev_r2, out[i].r2);
      ent[i] = out[i].ent;
      pur[i] = out[i].pur;
    }
    printf("  max |dense - factored| %.1e, |S_A - S_B|, |P_A - P_B| %.1e, |P - ref| %.1e, "
           "|S2 + ln P| %.1e\n",
           dev_repr, dev_ab, dev_ref, dev_r2);
    CHECK(dev_repr < 1e-12);
    CHECK(dev_ab < 1e-12);
    CHECK(dev_ref < 1e-13);
    CHECK(dev_r2 < 1e-12);
    stats se = moments(ent, S), sp = moments(pur, S);
    CHECK(within("E S_A (Page)", se.mean, s_exact, se.se_mean));
    CHECK(within("E Tr rho_A^2 = (dA+dB)/(dA dB+1)", sp.mean, p_exact, sp.se_mean));
    free(ent);
    free(pur);
  }
  free(out);
}

/* One visible qubit (qubit 0), q - 1 hidden: T(rho_v, 1/2) in both representations. */
static int td_sample(int q, int i, bps_state *s[2], bps_state *rv[2], bps_cplx *psi, double *t,
                     double *dev, double *dev_bloch) {
  int d = 1 << q, keep[1] = {0};
  bps_rng r;
  bps_rng_init(&r, SEED, (uint32_t)q, (uint32_t)i, BPS_STREAM_TEST, 100);
  bps_haar_state(&r, d, psi);
  double tk[2];
  for (int k = 0; k < 2; k++) {
    BPS_CALL(bps_state_set_pure(s[k], q, psi));
    BPS_CALL(bps_reduced_state(s[k], 1, keep, rv[k]));
    BPS_CALL(bps_trace_distance_mixed(rv[k], &tk[k]));
  }
  *dev = fabs(tk[0] - tk[1]);
  *dev_bloch = 0;
  if (i < 200) { /* for a qubit, T(rho, 1/2) = |Bloch vector|/2 = sqrt(2 Tr rho^2 - 1)/2 */
    double p;
    BPS_CALL(bps_purity(rv[0], &p));
    *dev_bloch = fabs(tk[0] - 0.5 * sqrt(fmax(2 * p - 1, 0.0)));
  }
  *t = tk[0];
  return BPS_OK;
}

static void test_trace_distance(int q, int S) {
  int d = 1 << q, Dh = d / 2;
  double exact = 0.5 * beta_fn(2.0, Dh - 1.0) / beta_fn(1.5, Dh - 1.0);
  printf("one visible qubit, D_h = %d, S = %d, dense and factored\n", Dh, S);
  double *t = malloc(sizeof(double) * S), *dev = malloc(sizeof(double) * S),
         *dev_bloch = malloc(sizeof(double) * S);
  sample_fail = 0;
#pragma omp parallel
  {
    bps_state *s[2] = {NULL, NULL}, *rv[2] = {NULL, NULL};
    bps_cplx *psi = bps_alloc((size_t)d);
    int rc = psi ? BPS_OK : BPS_ERR_MEM;
    for (int k = 0; k < 2 && !rc; k++) {
      rc = bps_state_create(REPRS[k], q, &s[k]);
      if (!rc) rc = bps_state_create(REPRS[k], 0, &rv[k]);
    }
    if (rc) record_failure(rc, -1);
#pragma omp for schedule(static)
    for (int i = 0; i < S; i++) {
      if (failed()) continue;
      rc = td_sample(q, i, s, rv, psi, &t[i], &dev[i], &dev_bloch[i]);
      if (rc) record_failure(rc, i);
    }
    for (int k = 0; k < 2; k++) {
      bps_state_destroy(&s[k]);
      bps_state_destroy(&rv[k]);
    }
    bps_free(psi);
  }
  CHECK(sample_fail == 0);
  if (!sample_fail) {
    double dmax = 0, bmax = 0;
    for (int i = 0; i < S; i++) {
      dmax = fmax(dmax, dev[i]);
      bmax = fmax(bmax, dev_bloch[i]);
    }
    printf("  max |dense - factored| %.1e, |T - sqrt(2P-1)/2| %.1e\n", dmax, bmax);
    CHECK(dmax < 1e-12);
    CHECK(bmax < 1e-10);
    stats st = moments(t, S);
    CHECK(within("E T(rho_v, 1/2) (Beta formula)", st.mean, exact, st.se_mean));
  }
  free(t);
  free(dev);
  free(dev_bloch);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* keep stdout and stderr in order in logs */
  double t0 = now();
  /* the Beta formula at D_h = 2 is 3/8 (Bloch-radius density 3 r^2) */
  CHECK_CLOSE(0.5 * beta_fn(2, 1) / beta_fn(1.5, 1), 0.375, 1e-14, 0);
  test_page(1, 1, 20000, 1.0 / 3.0);
  test_page(1, 2, 20000, 0.509524);
  test_page(2, 2, 20000, 0.922396);
  test_page(2, 3, 20000, 1.153138);
  test_page(1, 4, 20000, 0.646516);
  test_trace_distance(2, 20000);
  test_trace_distance(3, 20000);
  test_trace_distance(4, 20000);
  test_trace_distance(5, 20000);
  printf("total %.2f s\n", now() - t0);
  return bps_test_result("t111-page");
}

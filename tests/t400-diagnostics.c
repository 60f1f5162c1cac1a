/* t400-diagnostics: trace, purity, spectra, entropies, trace distances, reduced states and
 * bps_state_check on states with known answers, in both representations:
 *   - pure states: purity 1, S = S2 = 0, T(rho, 1/d) = 1 - 1/d, spectrum (0,..,0,1);
 *   - maximally mixed: purity 1/d, S = S2 = q ln 2, T(rho, 1/d) = 0;
 *   - U diag(p) U^dag with a known spectrum p (U random);
 *   - a Bell pair: each one-qubit reduced state is 1/2, entropy ln 2;
 *   - random states: every diagnostic agrees between DENSE and FACTORED (1e-12), and the
 *     reduced state for random ordered keep lists matches ref_ptrace + a naive reorder;
 *   - trace distances: orthogonal pure states 1, a state with itself 0, two pure states
 *     sqrt(1 - |<a|b>|^2), mixed representations;
 *   - bps_state_check: accepts valid states, rejects (BPS_ERR_NUMERIC) a broken trace, a
 *     negative eigenvalue and a non-Hermitian matrix, naming the invariant. */
#include <string.h>

#include "bps_test.h"
#include "bpscan/state.h"
#include "ref.h"

#define TOL 1e-12

static bps_rng R;
static int rnd(int n) { return (int)(bps_rng_u32(&R) % (uint32_t)n); }
static const bps_repr REPRS[2] = {BPS_DENSE, BPS_FACTORED};

static void random_psi(int q, bps_cplx *psi) {
  size_t d = (size_t)1 << q;
  double n = 0;
  for (size_t i = 0; i < d; i++) {
    psi[i] = bps_rng_normal(&R) + I * bps_rng_normal(&R);
    n += creal(psi[i] * conj(psi[i]));
  }
  for (size_t i = 0; i < d; i++) psi[i] /= sqrt(n);
}

/* All scalar diagnostics of s. */
typedef struct {
  double tr, pur, svn, s2, tdm;
} diags;

static diags all_diags(const bps_state *s) {
  diags g;
  CHECK_OK(bps_trace(s, &g.tr));
  CHECK_OK(bps_purity(s, &g.pur));
  CHECK_OK(bps_entropy_vn(s, &g.svn));
  CHECK_OK(bps_entropy_renyi2(s, &g.s2));
  CHECK_OK(bps_trace_distance_mixed(s, &g.tdm));
  return g;
}

static void test_pure(void) {
  for (int q = 1; q <= 6; q++) {
    size_t d = (size_t)1 << q;
    bps_cplx *psi = ref_alloc(d);
    random_psi(q, psi);
    double *w = malloc(sizeof(double) * d);
    for (int rp = 0; rp < 2; rp++) {
      bps_state *s;
      CHECK_OK(bps_state_create(REPRS[rp], q, &s));
      CHECK_OK(bps_state_set_pure(s, q, psi));
      diags g = all_diags(s);
      CHECK_CLOSE(g.tr, 1, 0, TOL);
      CHECK_CLOSE(g.pur, 1, 0, TOL);
      CHECK_CLOSE(g.svn, 0, 0, 1e-10);
      CHECK_CLOSE(g.s2, 0, 0, TOL);
      CHECK_CLOSE(g.tdm, 1.0 - 1.0 / (double)d, 0, TOL);
      CHECK_OK(bps_eigenvalues(s, w));
      CHECK_CLOSE(w[d - 1], 1, 0, TOL);
      for (size_t i = 0; i + 1 < d; i++) CHECK_CLOSE(w[i], 0, 0, TOL);
      CHECK_OK(bps_state_check(s, TOL));
      bps_state_destroy(&s);
    }
    free(w);
    free(psi);
  }
}

static void test_mixed(void) {
  for (int q = 1; q <= 6; q++) {
    size_t d = (size_t)1 << q;
    bps_cplx *rho = ref_alloc(d * d), *A = ref_alloc(d * d);
    for (size_t i = 0; i < d; i++) {
      rho[i * d + i] = 1.0 / (double)d;
      A[i + d * i] = 1.0 / sqrt((double)d);
    }
    double *w = malloc(sizeof(double) * d);
    for (int rp = 0; rp < 2; rp++) {
      bps_state *s;
      CHECK_OK(bps_state_create(REPRS[rp], q, &s));
      if (rp == 0) CHECK_OK(bps_state_set_dense(s, q, rho));
      else CHECK_OK(bps_state_set_factor(s, q, (bps_idx)d, A));
      diags g = all_diags(s);
      CHECK_CLOSE(g.tr, 1, 0, TOL);
      CHECK_CLOSE(g.pur, 1.0 / (double)d, 0, TOL);
      CHECK_CLOSE(g.svn, q * log(2.0), 0, 1e-12);
      CHECK_CLOSE(g.s2, q * log(2.0), 0, 1e-12);
      CHECK_CLOSE(g.tdm, 0, 0, TOL);
      CHECK_OK(bps_eigenvalues(s, w));
      for (size_t i = 0; i < d; i++) CHECK_CLOSE(w[i], 1.0 / (double)d, 0, TOL);
      CHECK_OK(bps_state_check(s, TOL));
      bps_state_destroy(&s);
    }
    free(w);
    free(rho);
    free(A);
  }
}

/* rho = U diag(p) U^dag (U random) with a known spectrum p on q = 3: a dyadic one and
 * one with tiny eigenvalues (1e-8 contributes 1.8e-7 to the entropy). */
static void test_known_spectrum(void) {
  const int q = 3, d = 8;
  const double spectra[2][8] = {{0.5, 0.25, 0.125, 0.0625, 0.0625, 0, 0, 0},
                                {0.999 - 1e-8, 1e-3 - 1e-6, 1e-6, 1e-8, 0, 0, 0, 0}};
  const int ranks[2] = {5, 4};
  for (int sp = 0; sp < 2; sp++) {
    const double *p = spectra[sp];
    bps_cplx D[64] = {0}, U[64], rho[64];
    for (int i = 0; i < d; i++) D[i * d + i] = p[i];
    ref_random_unitary(&R, d, U);
    ref_conjugate(d, U, D, rho);
    double svn = 0, pur = 0, tdm = 0, asc[8];
    for (int i = 0; i < d; i++) {
      if (p[i] > 0) svn -= p[i] * log(p[i]);
      pur += p[i] * p[i];
      tdm += 0.5 * fabs(p[i] - 1.0 / d);
      asc[d - 1 - i] = p[i];
    }
    for (int rp = 0; rp < 2; rp++) {
      bps_state *s;
      CHECK_OK(bps_state_create(REPRS[rp], q, &s));
      CHECK_OK(bps_state_set_dense(s, q, rho));
      if (rp == 1) CHECK(s->rank == ranks[sp]); /* the factored form keeps the non-zero ones */
      diags g = all_diags(s);
      CHECK_CLOSE(g.tr, 1, 0, TOL);
      CHECK_CLOSE(g.pur, pur, 0, TOL);
      CHECK_CLOSE(g.svn, svn, 0, TOL);
      CHECK_CLOSE(g.s2, -log(pur), 0, TOL);
      CHECK_CLOSE(g.tdm, tdm, 0, TOL);
      double w[8];
      CHECK_OK(bps_eigenvalues(s, w));
      for (int i = 0; i < d; i++) CHECK_CLOSE(w[i], asc[i], 0, TOL);
      for (int i = 0; i + 1 < d; i++) CHECK(w[i] <= w[i + 1]);
      CHECK_OK(bps_state_check(s, TOL));
      bps_state_destroy(&s);
    }
  }
}

static void test_bell(void) {
  bps_cplx psi[4] = {M_SQRT1_2, 0, 0, M_SQRT1_2};
  for (int rp = 1; rp >= 0; rp--) { /* factored first: it needs no dense kernel */
    bps_state *s, *r;
    CHECK_OK(bps_state_create(REPRS[rp], 2, &s));
    CHECK_OK(bps_state_create(REPRS[rp], 1, &r));
    CHECK_OK(bps_state_set_pure(s, 2, psi));
    double e;
    CHECK_OK(bps_entropy_vn(s, &e));
    CHECK_CLOSE(e, 0, 0, 1e-10);
    for (int keep = 0; keep < 2; keep++) {
      CHECK_OK(bps_reduced_state(s, 1, &keep, r));
      CHECK(r->q == 1 && r->repr == REPRS[rp]);
      bps_cplx rho[4];
      CHECK_OK(bps_state_to_dense(r, rho));
      CHECK_CLOSE(creal(rho[0]), 0.5, 0, TOL);
      CHECK_CLOSE(creal(rho[3]), 0.5, 0, TOL);
      CHECK_CLOSE(cabs(rho[1]), 0, 0, TOL);
      CHECK_CLOSE(cabs(rho[2]), 0, 0, TOL);
      CHECK_OK(bps_entropy_vn(r, &e));
      CHECK_CLOSE(e, log(2.0), 0, 1e-12);
      CHECK_OK(bps_entropy_renyi2(r, &e));
      CHECK_CLOSE(e, log(2.0), 0, 1e-12);
      CHECK_OK(bps_trace_distance_mixed(r, &e));
      CHECK_CLOSE(e, 0, 0, TOL);
    }
    bps_state_destroy(&s);
    bps_state_destroy(&r);
  }
}

/* Random states: dense and factored diagnostics agree. */
static void test_agreement(void) {
  for (int it = 0; it < 12; it++) {
    int q = 1 + rnd(6), d = 1 << q, rank = 1 + rnd(d);
    bps_cplx *rho = ref_alloc((size_t)d * d), *A = ref_alloc((size_t)d * rank);
    ref_random_density(&R, q, rank, rho, A);
    bps_state *D, *F;
    CHECK_OK(bps_state_create(BPS_DENSE, q, &D));
    CHECK_OK(bps_state_create(BPS_FACTORED, q, &F));
    CHECK_OK(bps_state_set_dense(D, q, rho));
    CHECK_OK(bps_state_set_factor(F, q, rank, A));
    diags a = all_diags(D), b = all_diags(F);
    CHECK_CLOSE(a.tr, b.tr, 0, TOL);
    CHECK_CLOSE(a.pur, b.pur, 0, TOL);
    CHECK_CLOSE(a.svn, b.svn, 0, 1e-10);
    CHECK_CLOSE(a.s2, b.s2, 0, 1e-10);
    CHECK_CLOSE(a.tdm, b.tdm, 0, TOL);
    /* purity against the reference Tr rho^2 */
    CHECK_CLOSE(a.pur, creal(ref_trace_prod(d, rho, rho)), 0, TOL);
    double *wa = malloc(sizeof(double) * d), *wb = malloc(sizeof(double) * d);
    CHECK_OK(bps_eigenvalues(D, wa));
    CHECK_OK(bps_eigenvalues(F, wb));
    double sum = 0;
    for (int i = 0; i < d; i++) {
      CHECK_CLOSE(wa[i], wb[i], 0, TOL);
      sum += wb[i];
    }
    CHECK_CLOSE(sum, 1, 0, TOL);
    for (int i = 0; i < d - rank; i++) CHECK(wb[i] == 0); /* padding */
    double t;
    CHECK_OK(bps_trace_distance(D, F, &t));
    CHECK_CLOSE(t, 0, 0, 1e-12);
    CHECK_OK(bps_state_check(D, TOL));
    CHECK_OK(bps_state_check(F, TOL));
    free(wa);
    free(wb);
    free(rho);
    free(A);
    bps_state_destroy(&D);
    bps_state_destroy(&F);
  }
}

static void test_trace_distance(void) {
  bps_cplx z0[4] = {1, 0, 0, 0}, z3[4] = {0, 0, 0, 1};
  for (int ra = 0; ra < 2; ra++)
    for (int rb = 0; rb < 2; rb++) {
      bps_state *a, *b;
      CHECK_OK(bps_state_create(REPRS[ra], 2, &a));
      CHECK_OK(bps_state_create(REPRS[rb], 2, &b));
      CHECK_OK(bps_state_set_pure(a, 2, z0));
      CHECK_OK(bps_state_set_pure(b, 2, z3));
      double t;
      CHECK_OK(bps_trace_distance(a, b, &t));
      CHECK_CLOSE(t, 1, 0, TOL);
      CHECK_OK(bps_trace_distance(a, a, &t));
      CHECK_CLOSE(t, 0, 0, TOL);
      /* two random pure states: sqrt(1 - |<x|y>|^2) */
      int q = 1 + rnd(5);
      size_t d = (size_t)1 << q;
      bps_cplx *x = ref_alloc(d), *y = ref_alloc(d), ov = 0;
      random_psi(q, x);
      random_psi(q, y);
      for (size_t i = 0; i < d; i++) ov += conj(x[i]) * y[i];
      CHECK_OK(bps_state_set_pure(a, q, x));
      CHECK_OK(bps_state_set_pure(b, q, y));
      CHECK_OK(bps_trace_distance(a, b, &t));
      CHECK_CLOSE(t, sqrt(1 - creal(ov * conj(ov))), 0, 1e-12);
      /* different sizes are an argument error */
      CHECK_OK(bps_state_set_pure(b, q == 1 ? 2 : 1, z0));
      CHECK_FAILS(bps_trace_distance(a, b, &t), BPS_ERR_ARG);
      free(x);
      free(y);
      bps_state_destroy(&a);
      bps_state_destroy(&b);
    }
}

/* Reduced states for random ordered keep lists vs ref_ptrace and a naive reorder. */
static void test_reduced(void) {
  for (int it = 0; it < 24; it++) {
    int q = 1 + rnd(6), nkeep = rnd(q + 1), keep[8], d = 1 << q, rank = 1 + rnd(d);
    int p[8];
    for (int i = 0; i < q; i++) p[i] = i;
    for (int i = 0; i < nkeep; i++) {
      int j = i + rnd(q - i), t = p[i];
      p[i] = p[j];
      p[j] = t;
      keep[i] = p[i];
    }
    int traced[8], ntr = 0, sorted[8], ns = 0;
    for (int t = 0; t < q; t++) {
      int k = 0;
      for (int m = 0; m < nkeep; m++) k |= keep[m] == t;
      if (k) sorted[ns++] = t;
      else traced[ntr++] = t;
    }
    int dk = 1 << nkeep;
    bps_cplx *rho = ref_alloc((size_t)d * d), *A = ref_alloc((size_t)d * rank);
    bps_cplx *red = ref_alloc((size_t)dk * dk), *want = ref_alloc((size_t)dk * dk);
    bps_cplx *got = ref_alloc((size_t)dk * dk);
    ref_random_density(&R, q, rank, rho, A);
    ref_ptrace(q, rho, ntr, traced, red); /* kept qubits in ascending order */
    /* want[i'][j']: bit (nkeep-1-m) of i' is qubit keep[m]; in red, qubit sorted[u] is
     * bit (nkeep-1-u) */
    for (int i = 0; i < dk; i++)
      for (int j = 0; j < dk; j++) {
        int ri = 0, rj = 0;
        for (int m = 0; m < nkeep; m++) {
          int u = 0;
          while (sorted[u] != keep[m]) u++;
          ri |= ((i >> (nkeep - 1 - m)) & 1) << (nkeep - 1 - u);
          rj |= ((j >> (nkeep - 1 - m)) & 1) << (nkeep - 1 - u);
        }
        want[(size_t)i * dk + j] = red[(size_t)ri * dk + rj];
      }
    for (int rp = 1; rp >= 0; rp--) {
      bps_state *s, *out;
      CHECK_OK(bps_state_create(REPRS[rp], 1, &s));
      CHECK_OK(bps_state_create(REPRS[1 - rp], 1, &out)); /* out takes s's repr */
      if (rp == 0) CHECK_OK(bps_state_set_dense(s, q, rho));
      else CHECK_OK(bps_state_set_factor(s, q, rank, A));
      CHECK_OK(bps_reduced_state(s, nkeep, keep, out));
      CHECK(out->repr == REPRS[rp] && out->q == nkeep);
      CHECK(s->q == q); /* s untouched */
      CHECK_OK(bps_state_to_dense(out, got));
      double e = ref_maxdiff((size_t)dk * dk, got, want);
      if (!(e <= TOL))
        fprintf(stderr, "reduced q=%d nkeep=%d repr %d: diff %.3g\n", q, nkeep, rp, e);
      CHECK(e <= TOL);
      CHECK_OK(bps_state_check(out, TOL));
      bps_state_destroy(&s);
      bps_state_destroy(&out);
    }
    free(rho);
    free(A);
    free(red);
    free(want);
    free(got);
  }
  /* argument errors */
  bps_state *s, *o;
  CHECK_OK(bps_state_create(BPS_FACTORED, 3, &s));
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &o));
  int bad[2] = {1, 1}, out_of_range = 3;
  CHECK_FAILS(bps_reduced_state(s, 2, bad, o), BPS_ERR_ARG);
  CHECK_FAILS(bps_reduced_state(s, 1, &out_of_range, o), BPS_ERR_ARG);
  CHECK_FAILS(bps_reduced_state(s, 4, bad, o), BPS_ERR_ARG);
  bps_state_destroy(&s);
  bps_state_destroy(&o);
}

/* bps_state_check must fail with BPS_ERR_NUMERIC and name the invariant. */
static void expect_broken(const bps_state *s, const char *word) {
  int rc = bps_state_check(s, 1e-10);
  CHECK(rc == BPS_ERR_NUMERIC);
  const char *msg = bps_error_message();
  if (!strstr(msg, word)) fprintf(stderr, "message \"%s\" does not name \"%s\"\n", msg, word);
  CHECK(strstr(msg, word) != NULL);
  bps_error_clear();
}

static void test_check(void) {
  bps_state *D, *F;
  CHECK_OK(bps_state_create(BPS_DENSE, 1, &D));
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &F));
  bps_cplx good[4] = {0.7, 0.1 + 0.2 * I, 0.1 - 0.2 * I, 0.3};
  CHECK_OK(bps_state_set_dense(D, 1, good));
  CHECK_OK(bps_state_check(D, TOL));
  bps_cplx low_trace[4] = {0.7, 0, 0, 0.2};
  CHECK_OK(bps_state_set_dense(D, 1, low_trace));
  CHECK_FAILS(bps_state_check(D, 1e-10), BPS_ERR_NUMERIC);
  expect_broken(D, "trace");
  CHECK_OK(bps_state_check(D, 0.2)); /* within a loose tolerance */
  bps_cplx negative[4] = {1.2, 0, 0, -0.2};
  CHECK_OK(bps_state_set_dense(D, 1, negative));
  CHECK_FAILS(bps_state_check(D, 1e-10), BPS_ERR_NUMERIC);
  expect_broken(D, "positivity");
  bps_cplx hidden_negative[4] = {0.5, 0.8, 0.8, 0.5}; /* eigenvalues 1.3, -0.3 */
  CHECK_OK(bps_state_set_dense(D, 1, hidden_negative));
  expect_broken(D, "positivity");
  bps_cplx non_hermitian[4] = {0.5, 0.1, 0.3, 0.5};
  CHECK_OK(bps_state_set_dense(D, 1, non_hermitian));
  expect_broken(D, "Hermiticity");
  bps_cplx imag_diag[4] = {0.5 + 0.1 * I, 0, 0, 0.5 - 0.1 * I};
  CHECK_OK(bps_state_set_dense(D, 1, imag_diag));
  expect_broken(D, "Hermiticity");
  bps_cplx nan_entry[4] = {0.5, NAN, 0, 0.5};
  CHECK_OK(bps_state_set_dense(D, 1, nan_entry));
  CHECK_FAILS(bps_state_check(D, 1e-10), BPS_ERR_NUMERIC);
  /* factored: a scaled factor breaks the trace */
  bps_cplx A[4] = {0.8, 0.1, 0.3, 0.2};
  CHECK_OK(bps_state_set_factor(F, 1, 2, A));
  expect_broken(F, "trace");
  double n = 0;
  for (int i = 0; i < 4; i++) n += creal(A[i] * conj(A[i]));
  for (int i = 0; i < 4; i++) A[i] /= sqrt(n);
  CHECK_OK(bps_state_set_factor(F, 1, 2, A));
  CHECK_OK(bps_state_check(F, TOL));
  CHECK_FAILS(bps_state_check(F, -1), BPS_ERR_ARG);
  bps_state_destroy(&D);
  bps_state_destroy(&F);
}

int main(void) {
  bps_rng_init(&R, 400, 0, 0, BPS_STREAM_TEST, 0);
  test_pure();
  test_mixed();
  test_known_spectrum();
  test_agreement();
  test_trace_distance();
  test_check();
  /* these also use the dense partial trace and SWAP kernels (dense.c) */
  test_bell();
  test_reduced();
  return bps_test_result("t400-diagnostics");
}

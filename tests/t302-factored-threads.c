/* t302-factored-threads: FACTORED results are bitwise identical for 1 and 2 OpenMP threads.
 * Two copies of a q = 10..12 state run the same random sequence in lockstep, one with
 * bps_threads_set(1) and one with 2: unitaries (k = 1..4, including the three zgemm
 * layouts), Kraus channels, ancilla appends, partial traces (with and without the
 * automatic SVD compression), explicit compressions. After every operation A (memcmp),
 * q and rank must be identical, and so must Pauli and projector expectations, trace,
 * purity, the eigenvalues (SVD) and the von Neumann entropy. A dense eigenvalue
 * computation (zheevd) and a trace distance are checked the same way. */
#include <string.h>

#include "bps_test.h"
#include "bpscan/state.h"
#include "bpscan/threads.h"
#include "ref.h"

static bps_rng R;
static int rnd(int n) { return (int)(bps_rng_u32(&R) % (uint32_t)n); }

static void random_subset(int q, int k, int *out) {
  int p[32];
  for (int i = 0; i < q; i++) p[i] = i;
  for (int i = 0; i < k; i++) {
    int j = i + rnd(q - i), t = p[i];
    p[i] = p[j];
    p[j] = t;
    out[i] = p[i];
  }
}

static void random_factor(bps_state *s, int q, int rank) {
  size_t n = ((size_t)1 << q) * (size_t)rank;
  bps_cplx *A = ref_alloc(n);
  double nrm = 0;
  for (size_t i = 0; i < n; i++) {
    A[i] = bps_rng_normal(&R) + I * bps_rng_normal(&R);
    nrm += creal(A[i] * conj(A[i]));
  }
  for (size_t i = 0; i < n; i++) A[i] /= sqrt(nrm);
  CHECK_OK(bps_state_set_factor(s, q, rank, A));
  free(A);
}

static int same_doubles(const double *a, const double *b, size_t n) {
  return memcmp(a, b, n * sizeof(double)) == 0;
}

static int nfail_steps = 0;

/* Observables of s computed with nthreads threads, into v[] (returns count). */
static int observe(const bps_state *s, int nthreads, const char *pauli, int k, const int *qb,
                   const bps_cplx *psi, double *v, double *w) {
  bps_threads_set(nthreads);
  int n = 0;
  CHECK_OK(bps_expect_pauli(s, pauli, &v[n++]));
  CHECK_OK(bps_expect_projector(s, k, qb, psi, &v[n++]));
  CHECK_OK(bps_trace(s, &v[n++]));
  /* the Gram- and SVD-based diagnostics only while they are cheap */
  bps_idx m = s->rank < s->dim ? s->rank : s->dim;
  if (s->dim * s->rank * m <= ((bps_idx)1 << 22)) CHECK_OK(bps_purity(s, &v[n++]));
  if (s->dim * s->rank * m <= ((bps_idx)1 << 20)) {
    CHECK_OK(bps_entropy_vn(s, &v[n++]));
    CHECK_OK(bps_eigenvalues(s, w));
  } else {
    memset(w, 0, sizeof(double) * (size_t)s->dim);
  }
  return n;
}

static void compare(const bps_state *s1, const bps_state *s2, int seq, int step, const char *what) {
  int before = bps_test_failures;
  CHECK(s1->q == s2->q && s1->rank == s2->rank);
  if (s1->q != s2->q || s1->rank != s2->rank) goto report;
  size_t n = (size_t)(s1->dim * s1->rank);
  CHECK(memcmp(s1->a, s2->a, n * sizeof(bps_cplx)) == 0);
  if (s1->q >= 1) {
    char p[32];
    for (int t = 0; t < s1->q; t++) p[t] = "IXYZ"[rnd(4)];
    p[s1->q] = 0;
    int k = 1 + rnd(s1->q < 6 ? s1->q : 6), qb[32];
    if (step % 7 == 3) k = s1->q; /* fidelity-like: the chunked inner sum */
    random_subset(s1->q, k, qb);
    bps_cplx *psi = ref_alloc((size_t)1 << k);
    for (int g = 0; g < (1 << k); g++) psi[g] = bps_rng_normal(&R) + I * bps_rng_normal(&R);
    double v1[8], v2[8];
    double *w1 = malloc(sizeof(double) * (size_t)s1->dim),
           *w2 = malloc(sizeof(double) * (size_t)s1->dim);
    int nv = observe(s1, 1, p, k, qb, psi, v1, w1);
    observe(s2, 2, p, k, qb, psi, v2, w2);
    CHECK(same_doubles(v1, v2, (size_t)nv));
    CHECK(same_doubles(w1, w2, (size_t)s1->dim));
    free(w1);
    free(w2);
    free(psi);
  }
report:
  if (bps_test_failures != before) {
    nfail_steps++;
    fprintf(stderr,
            "  sequence %d step %d (%s, q=%d, rank %lld): 1- and 2-thread results differ\n", seq,
            step, what, s1->q, (long long)s1->rank);
  }
}

#define BOTH(call_s)                                                                            \
  do {                                                                                          \
    bps_threads_set(1);                                                                         \
    {                                                                                           \
      bps_state *s = S1;                                                                        \
      CHECK_OK(call_s);                                                                         \
    }                                                                                           \
    bps_threads_set(2);                                                                         \
    {                                                                                           \
      bps_state *s = S2;                                                                        \
      CHECK_OK(call_s);                                                                         \
    }                                                                                           \
  } while (0)

static void run_sequence(int seq, int nops) {
  bps_state *S1, *S2;
  int q = 10 + rnd(3), ranks[] = {1, 4, 16, 32};
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &S1));
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &S2));
  random_factor(S1, q, ranks[seq % 4]);
  CHECK_OK(bps_state_copy(S2, S1));
  static const char *names[] = {"unitary", "kraus", "append", "ptrace", "compress"};
  for (int step = 0; step < nops; step++) {
    q = S1->q;
    bps_idx rank = S1->rank;
    int op = rnd(10);
    op = op < 5 ? 0 : op - 4; /* unitaries half of the time */
    if (op == 5) op = 3;
    const bps_idx N = S1->dim * rank, NMAX = (bps_idx)1 << 19; /* keep it quick */
    if (op == 1 && (rank > 16 || 2 * N > NMAX)) op = 0;
    if (op == 2 && (q >= 12 || 2 * N > NMAX)) op = 3;
    if (op == 3 && (q <= 7 || rank > 64)) op = 0;
    if (op == 0) {
      int k = 1 + rnd(4), K = 1 << k, qb[32];
      int layout = rnd(4);
      if (k >= 3 && layout == 0)
        for (int m = 0; m < k; m++) qb[m] = q - k + m;
      else if (k >= 3 && layout == 1)
        for (int m = 0; m < k; m++) qb[m] = m;
      else random_subset(q, k, qb);
      bps_cplx *U = ref_alloc((size_t)K * K);
      ref_random_unitary(&R, K, U);
      BOTH(bps_apply_unitary(s, k, qb, U));
      free(U);
    } else if (op == 1) {
      int k = 1 + rnd(2), K = 1 << k, qb[32];
      random_subset(q, k, qb);
      bps_cplx *Ks = ref_alloc((size_t)2 * K * K);
      ref_random_kraus(&R, K, 2, Ks);
      BOTH(bps_apply_kraus(s, k, qb, 2, Ks));
      free(Ks);
    } else if (op == 2) {
      BOTH(bps_append_zero(s, 1));
    } else if (op == 3) {
      /* sometimes enough qubits that rank > 2^kept forces the SVD */
      int ntr = rank >= 16 ? 3 : 1 + rnd(2), tr[32];
      if (rnd(2))
        for (int m = 0; m < ntr; m++) tr[m] = m;
      else random_subset(q, ntr, tr);
      if (q - ntr < 7) ntr = 1;
      BOTH(bps_partial_trace(s, ntr, tr));
    } else {
      BOTH(bps_compress(s));
    }
    compare(S1, S2, seq, step, names[op]);
    if (nfail_steps > 5) break;
  }
  bps_state_destroy(&S1);
  bps_state_destroy(&S2);
}

/* Every zgemm layout on sizes where a threaded BLAS would split the work: k = 3, 4, 5 and
 * 8 on q = 12 with trailing, leading, general (in-cache panels) and general (one
 * panel) qubit lists; A compared bitwise after each gate. */
static void gemm_paths(void) {
  struct {
    int k, rank, layout;
  } cs[] = {{3, 32, 0}, {3, 32, 1}, {3, 32, 2}, {4, 32, 0}, {4, 32, 1}, {4, 32, 2}, {5, 16, 0},
            {5, 16, 1}, {5, 16, 2}, {8, 8, 0},  {8, 8, 1},  {8, 8, 2},  {8, 1, 2}};
  const int q = 12;
  bps_state *S1, *S2;
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &S1));
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &S2));
  for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
    int k = cs[c].k, K = 1 << k, qb[32];
    random_factor(S1, q, cs[c].rank);
    CHECK_OK(bps_state_copy(S2, S1));
    if (cs[c].layout == 0)
      for (int m = 0; m < k; m++) qb[m] = q - k + m;
    else if (cs[c].layout == 1)
      for (int m = 0; m < k; m++) qb[m] = m;
    else
      for (int m = 0; m < k; m++) qb[m] = (5 * m + 3) % q; /* scattered */
    bps_cplx *U = ref_alloc((size_t)K * K);
    ref_random_unitary(&R, K, U);
    BOTH(bps_apply_unitary(s, k, qb, U));
    int same = memcmp(S1->a, S2->a, sizeof(bps_cplx) * (size_t)(S1->dim * S1->rank)) == 0;
    if (!same)
      fprintf(stderr, "  gemm path k=%d rank %d layout %d differs\n", k, cs[c].rank, cs[c].layout);
    CHECK(same);
    free(U);
  }
  bps_state_destroy(&S1);
  bps_state_destroy(&S2);
}

/* LAPACK zheevd and the trace distance on dense states. */
static void dense_diagnostics(void) {
  int q = 8; /* zheevd blocks (and threaded LAPACK rounds differently) from n = 256 */
  size_t d = (size_t)1 << q;
  bps_cplx *rho = ref_alloc(d * d), *A = ref_alloc(d * 40);
  ref_random_density(&R, q, 40, rho, A);
  bps_state *D, *F;
  CHECK_OK(bps_state_create(BPS_DENSE, 1, &D));
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &F));
  CHECK_OK(bps_state_set_dense(D, q, rho));
  CHECK_OK(bps_state_set_factor(F, q, 40, A));
  double *w1 = malloc(sizeof(double) * d), *w2 = malloc(sizeof(double) * d);
  double t1, t2, m1, m2;
  bps_threads_set(1);
  CHECK_OK(bps_eigenvalues(D, w1));
  CHECK_OK(bps_trace_distance(D, F, &t1));
  CHECK_OK(bps_trace_distance_mixed(D, &m1));
  bps_threads_set(2);
  CHECK_OK(bps_eigenvalues(D, w2));
  CHECK_OK(bps_trace_distance(D, F, &t2));
  CHECK_OK(bps_trace_distance_mixed(D, &m2));
  CHECK(same_doubles(w1, w2, d));
  CHECK(memcmp(&t1, &t2, sizeof t1) == 0);
  CHECK(memcmp(&m1, &m2, sizeof m1) == 0);
  free(w1);
  free(w2);
  free(rho);
  free(A);
  bps_state_destroy(&D);
  bps_state_destroy(&F);
}

int main(void) {
  bps_par_min_set((bps_idx)1 << 14); /* parallel branches from 2^14 elements (threads.h) */
  for (int seq = 0; seq < 4; seq++) {
    bps_rng_init(&R, 3020 + (uint64_t)seq, 0, 0, BPS_STREAM_TEST, 0);
    run_sequence(seq, 20);
  }
  bps_rng_init(&R, 3028, 0, 0, BPS_STREAM_TEST, 0);
  gemm_paths();
  bps_rng_init(&R, 3029, 0, 0, BPS_STREAM_TEST, 0);
  dense_diagnostics();
  return bps_test_result("t302-factored-threads");
}

/* t300-factored-vs-ref: every FACTORED kernel against the naive dense reference (ref.c).
 *   - unitaries k = 1..4 on every single qubit, ordered pairs and random ordered subsets,
 *     plus the three zgemm layouts (trailing, leading, general) for k = 3, 4, on q = 1..8
 *     with ranks 1, dim and random; the q = 8, rank 256 cases run the parallel paths;
 *   - Kraus channels (k = 1..3, 1..4 operators), rank <= dim afterwards;
 *   - appended ancillas, partial traces (leading, reversed, random subsets) with
 *     rank <= 2^kept afterwards;
 *   - exact compression: rank-deficient factors with padding compress to the true rank
 *     and keep rho; full-rank factors keep their rank;
 *   - Pauli expectations and projector expectations (both reduction layouts).
 * All rho comparisons: max abs difference <= 1e-12. */
#include <string.h>

#include "bps_test.h"
#include "bpscan/linalg.h"
#include "bpscan/state.h"
#include "ref.h"

#define TOL 1e-12

static bps_rng R;

static int rnd(int n) { return (int)(bps_rng_u32(&R) % (uint32_t)n); }

static void random_subset(int q, int k, int *out) {
  int p[32];
  for (int i = 0; i < q; i++) p[i] = i;
  for (int i = 0; i < k; i++) {
    int j = i + rnd(q - i);
    int t = p[i];
    p[i] = p[j];
    p[j] = t;
    out[i] = p[i];
  }
}

/* A random factored state of the given rank; rho (row-major) returned. */
static void random_state(bps_state *s, int q, int rank, bps_cplx *rho) {
  size_t d = (size_t)1 << q;
  bps_cplx *A = ref_alloc(d * (size_t)rank);
  ref_random_density(&R, q, rank, rho, A);
  CHECK_OK(bps_state_set_factor(s, q, rank, A));
  free(A);
}

static double diff_to(const bps_state *s, const bps_cplx *ref) {
  size_t d = (size_t)s->dim;
  bps_cplx *rho = ref_alloc(d * d);
  CHECK_OK(bps_state_to_dense(s, rho));
  double m = ref_maxdiff(d * d, rho, ref);
  free(rho);
  return m;
}

static double worst_gate = 0;

static void check_gate(bps_state *s, int q, int k, const int *qb, int rank) {
  size_t d = (size_t)1 << q;
  int K = 1 << k;
  bps_cplx *rho = ref_alloc(d * d), *U = ref_alloc((size_t)K * K), *Uf = ref_alloc(d * d);
  bps_cplx *out = ref_alloc(d * d);
  random_state(s, q, rank, rho);
  ref_random_unitary(&R, K, U);
  CHECK_OK(bps_apply_unitary(s, k, qb, U));
  ref_embed(q, k, qb, U, Uf);
  ref_conjugate((int)d, Uf, rho, out);
  double e = diff_to(s, out);
  if (e > worst_gate) worst_gate = e;
  if (!(e <= TOL))
    fprintf(stderr, "gate q=%d k=%d rank=%d qubits %d %d %d %d: diff %.3g\n", q, k, rank, qb[0],
            k > 1 ? qb[1] : -1, k > 2 ? qb[2] : -1, k > 3 ? qb[3] : -1, e);
  CHECK(e <= TOL);
  CHECK(s->rank == rank && s->q == q);
  free(rho);
  free(U);
  free(Uf);
  free(out);
}

static int pick_rank(int q, int i) {
  int d = 1 << q;
  return i % 3 == 0 ? 1 : i % 3 == 1 ? d : 1 + rnd(d);
}

static void test_gates(void) {
  bps_state *s;
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &s));
  int qb[8], n = 0;
  for (int q = 1; q <= 8; q++) {
    const int big = q == 8; /* q = 8: fewer cases (the reference is O(d^3) per case) */
    for (int k = 1; k <= 4 && k <= q; k++) {
      if (k == 1) {
        for (int t = 0; t < q; t += big ? 3 : 1) {
          qb[0] = t;
          check_gate(s, q, 1, qb, pick_rank(q, n++));
        }
      } else if (k == 2 && q <= 4) {
        for (int a = 0; a < q; a++)
          for (int b = 0; b < q; b++)
            if (a != b) {
              qb[0] = a;
              qb[1] = b;
              check_gate(s, q, 2, qb, pick_rank(q, n++));
            }
      } else {
        /* the three zgemm layouts (k >= 3) and their 2-qubit analogues */
        for (int m = 0; m < k; m++) qb[m] = q - k + m; /* trailing, in order */
        check_gate(s, q, k, qb, pick_rank(q, n++));
        for (int m = 0; m < k; m++) qb[m] = m; /* leading, in order */
        check_gate(s, q, k, qb, pick_rank(q, n++));
        for (int m = 0; m < k; m++) qb[m] = q - 1 - m; /* trailing, reversed */
        check_gate(s, q, k, qb, pick_rank(q, n++));
        for (int i = 0; i < (big ? 1 : 4); i++) {
          random_subset(q, k, qb);
          check_gate(s, q, k, qb, pick_rank(q, n++));
        }
      }
    }
  }
  /* Large flat sizes: the OpenMP paths of the 1-2 qubit kernels and the batched zgemm. */
  for (int k = 1; k <= 4; k++) {
    random_subset(8, k, qb);
    check_gate(s, 8, k, qb, 256);
    for (int m = 0; m < k; m++) qb[m] = 2 * m + 1; /* spread out, general layout */
    check_gate(s, 8, k, qb, 200);
  }
  printf("gates: worst rho diff %.3g\n", worst_gate);
  bps_state_destroy(&s);
}

static void test_kraus(void) {
  bps_state *s;
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &s));
  double worst = 0;
  for (int it = 0; it < 24; it++) {
    int q = 1 + rnd(6), k = 1 + rnd(q < 3 ? q : 3), nk = 1 + rnd(4);
    size_t d = (size_t)1 << q;
    int K = 1 << k, rank = pick_rank(q, it), qb[8];
    random_subset(q, k, qb);
    bps_cplx *rho = ref_alloc(d * d), *Ks = ref_alloc((size_t)nk * K * K);
    bps_cplx *Kf = ref_alloc((size_t)nk * d * d), *out = ref_alloc(d * d);
    random_state(s, q, rank, rho);
    ref_random_kraus(&R, K, nk, Ks);
    for (int m = 0; m < nk; m++)
      ref_embed(q, k, qb, Ks + (size_t)m * K * K, Kf + (size_t)m * d * d);
    ref_kraus((int)d, nk, Kf, rho, out);
    CHECK_OK(bps_apply_kraus(s, k, qb, nk, Ks));
    double e = diff_to(s, out);
    if (e > worst) worst = e;
    CHECK(e <= TOL);
    bps_idx want = (bps_idx)rank * nk;
    CHECK(s->rank <= (bps_idx)d);
    if (want <= (bps_idx)d) CHECK(s->rank == want); /* no compression below dim */
    free(rho);
    free(Ks);
    free(Kf);
    free(out);
  }
  printf("kraus: worst rho diff %.3g\n", worst);
  bps_state_destroy(&s);
}

static void test_append(void) {
  bps_state *s;
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &s));
  double worst = 0;
  for (int it = 0; it < 12; it++) {
    int q = rnd(6), a = 1 + rnd(3);
    if (q == 0) q = 1;
    size_t d = (size_t)1 << q, d2 = d << a;
    int rank = pick_rank(q, it);
    bps_cplx *rho = ref_alloc(d * d), *out = ref_alloc(d2 * d2);
    random_state(s, q, rank, rho);
    CHECK_OK(bps_append_zero(s, a));
    ref_append_zero(q, rho, a, out);
    CHECK(s->q == q + a && s->rank == rank);
    double e = diff_to(s, out);
    if (e > worst) worst = e;
    CHECK(e <= TOL);
    free(rho);
    free(out);
  }
  /* q = 0 (the scalar 1) to one qubit |0> */
  CHECK_OK(bps_state_set_zero(s, 0));
  CHECK_OK(bps_append_zero(s, 2));
  CHECK(s->q == 2 && s->rank == 1 && s->a[0] == 1 && s->a[1] == 0 && s->a[3] == 0);
  printf("append: worst rho diff %.3g\n", worst);
  bps_state_destroy(&s);
}

static void test_ptrace(void) {
  bps_state *s;
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &s));
  double worst = 0;
  for (int it = 0; it < 40; it++) {
    int q = 2 + rnd(7), ntr = 1 + rnd(q - 1), tr[8];
    if (it % 4 == 0)
      for (int m = 0; m < ntr; m++) tr[m] = m; /* DQNN case */
    else if (it % 4 == 1)
      for (int m = 0; m < ntr; m++) tr[m] = ntr - 1 - m; /* same set */
    else random_subset(q, ntr, tr);
    if (it == 39) ntr = q; /* trace everything: the scalar Tr rho */
    size_t d = (size_t)1 << q, dk = (size_t)1 << (q - ntr);
    int rank = pick_rank(q, it);
    bps_cplx *rho = ref_alloc(d * d), *out = ref_alloc(dk * dk);
    random_state(s, q, rank, rho);
    if (it == 39)
      for (int m = 0; m < q; m++) tr[m] = m;
    ref_ptrace(q, rho, ntr, tr, out);
    CHECK_OK(bps_partial_trace(s, ntr, tr));
    CHECK(s->q == q - ntr && s->dim == (bps_idx)dk);
    CHECK(s->rank <= (bps_idx)dk); /* compressed whenever rank > 2^kept */
    double e = diff_to(s, out);
    if (e > worst) worst = e;
    CHECK(e <= TOL);
    free(rho);
    free(out);
  }
  printf("ptrace: worst rho diff %.3g\n", worst);
  bps_state_destroy(&s);
}

/* Factor with true rank r padded to R columns (linear combinations and zero columns). */
static void test_compress(void) {
  bps_state *s;
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &s));
  struct {
    int q, r, R;
  } cs[] = {{4, 3, 10},  {3, 1, 5},   {5, 7, 40}, {6, 12, 20},
            {4, 16, 16}, {4, 16, 40}, {2, 2, 2},  {7, 5, 300}};
  for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
    int q = cs[c].q, r = cs[c].r, Rc = cs[c].R;
    size_t d = (size_t)1 << q;
    bps_cplx *B = ref_alloc(d * r), *A = ref_alloc(d * Rc), *rho = ref_alloc(d * d);
    bps_cplx *r0 = ref_alloc(d * d);
    ref_random_density(&R, q, r, rho, B);
    /* A = [B | B C] with C random r x (R - r), one zero column when possible */
    memcpy(A, B, sizeof(bps_cplx) * d * r);
    for (int j = r; j < Rc; j++) {
      if (j == Rc - 1 && Rc > r + 1) continue; /* stays zero */
      for (int l = 0; l < r; l++) {
        bps_cplx cf = 0.3 * (bps_rng_normal(&R) + I * bps_rng_normal(&R));
        for (size_t i = 0; i < d; i++) A[i + d * j] += cf * B[i + d * l];
      }
    }
    CHECK_OK(bps_state_set_factor(s, q, Rc, A));
    CHECK_OK(bps_state_to_dense(s, r0));
    CHECK_OK(bps_compress(s));
    if (s->rank != r)
      fprintf(stderr, "compress q=%d true rank %d from %d columns: got rank %lld\n", q, r, Rc,
              (long long)s->rank);
    CHECK(s->rank == r);
    CHECK(diff_to(s, r0) <= TOL);
    /* idempotent */
    CHECK_OK(bps_compress(s));
    CHECK(s->rank == r);
    CHECK(diff_to(s, r0) <= TOL);
    free(B);
    free(A);
    free(rho);
    free(r0);
  }
  /* rank-1 stays, the zero factor keeps one column */
  bps_cplx z[8] = {0};
  CHECK_OK(bps_state_set_factor(s, 1, 4, z));
  CHECK_OK(bps_compress(s));
  CHECK(s->rank == 1);
  bps_state_destroy(&s);
}

static void test_pauli(void) {
  bps_state *s;
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &s));
  double worst = 0;
  for (int it = 0; it < 40; it++) {
    int q = 1 + rnd(8);
    size_t d = (size_t)1 << q;
    char p[16];
    for (int t = 0; t < q; t++) p[t] = "IXYZ"[rnd(4)];
    p[q] = 0;
    bps_cplx *rho = ref_alloc(d * d), *P = ref_alloc(d * d);
    random_state(s, q, pick_rank(q, it), rho);
    ref_pauli(p, P);
    double want = creal(ref_trace_prod((int)d, P, rho)), got;
    CHECK_OK(bps_expect_pauli(s, p, &got));
    if (fabs(got - want) > worst) worst = fabs(got - want);
    CHECK_CLOSE(got, want, 0, TOL);
    free(rho);
    free(P);
  }
  printf("pauli: worst diff %.3g\n", worst);
  bps_state_destroy(&s);
}

static void test_projector(void) {
  bps_state *s;
  CHECK_OK(bps_state_create(BPS_FACTORED, 1, &s));
  double worst = 0;
  for (int it = 0; it < 40; it++) {
    int q = 1 + rnd(8), k = 1 + rnd(q), qb[8];
    if (it % 5 == 0) k = q; /* fidelity: few outer indices */
    random_subset(q, k, qb);
    size_t d = (size_t)1 << q;
    int K = 1 << k;
    bps_cplx *rho = ref_alloc(d * d), *psi = ref_alloc(K), *Pk = ref_alloc((size_t)K * K);
    bps_cplx *Pf = ref_alloc(d * d);
    random_state(s, q, pick_rank(q, it), rho);
    double nrm = 0;
    for (int g = 0; g < K; g++) {
      psi[g] = bps_rng_normal(&R) + I * bps_rng_normal(&R);
      nrm += creal(psi[g] * conj(psi[g]));
    }
    for (int g = 0; g < K; g++) psi[g] /= sqrt(nrm);
    for (int g = 0; g < K; g++)
      for (int h = 0; h < K; h++) Pk[g * K + h] = psi[g] * conj(psi[h]);
    ref_embed(q, k, qb, Pk, Pf);
    double want = creal(ref_trace_prod((int)d, Pf, rho)), got;
    CHECK_OK(bps_expect_projector(s, k, qb, psi, &got));
    if (fabs(got - want) > worst) worst = fabs(got - want);
    CHECK_CLOSE(got, want, 0, TOL);
    if (k == q) {
      int inorder = 1;
      for (int m = 0; m < q; m++) inorder &= qb[m] == m;
      if (inorder) {
        double f;
        CHECK_OK(bps_fidelity_pure(s, psi, &f));
        CHECK_CLOSE(f, want, 0, TOL);
      }
    }
    free(rho);
    free(psi);
    free(Pk);
    free(Pf);
  }
  printf("projector: worst diff %.3g\n", worst);
  bps_state_destroy(&s);
}

int main(void) {
  bps_rng_init(&R, 300, 0, 0, BPS_STREAM_TEST, 0);
  test_gates();
  test_kraus();
  test_append();
  test_ptrace();
  test_compress();
  test_pauli();
  test_projector();
  return bps_test_result("t300-factored-vs-ref");
}

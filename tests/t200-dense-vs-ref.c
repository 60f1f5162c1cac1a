/* t200: every dense kernel against the naive reference (tests/ref.c) on random density
 * matrices: unitaries (general, diagonal, permutation-with-phase; k = 1..4 and k = q) on
 * all qubit positions and random ordered subsets, Kraus channels, append_zero, partial
 * traces over random subsets, Pauli and projector expectations. Tolerance 1e-12. */
#include <complex.h>
#include <stdlib.h>
#include <string.h>

#include "bps_test.h"
#include "bpscan/state.h"
#include "ref.h"

#define TOL 1e-12

static bps_rng rng;

static int rand_int(int n) { return (int)(bps_rng_u32(&rng) % (uint32_t)n); }

/* k distinct qubits of q in random order. */
static void random_qubits(int q, int k, int *qs) {
  int all[32];
  for (int i = 0; i < q; i++) all[i] = i;
  for (int i = 0; i < k; i++) {
    int j = i + rand_int(q - i);
    int t = all[i];
    all[i] = all[j];
    all[j] = t;
    qs[i] = all[i];
  }
}

static bps_cplx phase(void) { return cexp(I * 6.283185307179586 * bps_rng_uniform(&rng)); }

/* Gate kinds exercised (the kernel has fast paths for the zero patterns). */
enum { G_HAAR, G_DIAG, G_PERM, G_PERM_PHASE, G_ONE_ZERO, G_NKINDS };
static const char *gname[] = {"haar", "diag", "perm", "perm+phase", "haar-with-zero"};

static void make_gate(int kind, int k, bps_cplx *U) {
  int N = 1 << k;
  memset(U, 0, sizeof(bps_cplx) * N * N);
  if (kind == G_HAAR || kind == G_ONE_ZERO) {
    ref_random_unitary(&rng, N, U);
    /* a unitary that is neither dense nor monomial: [[1,0],[0,u]] (x) ... */
    if (kind == G_ONE_ZERO) {
      bps_cplx *V = ref_alloc((size_t)N * N);
      memcpy(V, U, sizeof(bps_cplx) * N * N);
      for (int c = 0; c < N; c++) V[c] = V[c * N] = 0;
      V[0] = phase();
      /* re-orthonormalise the lower block: take it from a smaller random unitary */
      if (N > 1) {
        bps_cplx *W = ref_alloc((size_t)(N - 1) * (N - 1));
        ref_random_unitary(&rng, N - 1, W);
        for (int a = 1; a < N; a++)
          for (int c = 1; c < N; c++) V[a * N + c] = W[(a - 1) * (N - 1) + (c - 1)];
        free(W);
      }
      memcpy(U, V, sizeof(bps_cplx) * N * N);
      free(V);
    }
    return;
  }
  int perm[1024];
  for (int a = 0; a < N; a++) perm[a] = a;
  if (kind != G_DIAG)
    for (int a = N - 1; a > 0; a--) {
      int j = rand_int(a + 1), t = perm[a];
      perm[a] = perm[j];
      perm[j] = t;
    }
  for (int a = 0; a < N; a++) U[a * N + perm[a]] = kind == G_PERM ? 1.0 : phase();
}

/* rho (D x D) -> state; apply; compare with ref. */
static double check_unitary(int q, const bps_cplx *rho, int k, const int *qs, const bps_cplx *U) {
  bps_idx D = (bps_idx)1 << q;
  size_t DD = (size_t)(D * D);
  bps_state *s;
  CHECK_OK(bps_state_create(BPS_DENSE, q, &s));
  CHECK_OK(bps_state_set_dense(s, q, rho));
  CHECK_OK(bps_apply_unitary(s, k, qs, U));
  bps_cplx *got = ref_alloc(DD), *Uf = ref_alloc(DD), *want = ref_alloc(DD);
  CHECK_OK(bps_state_to_dense(s, got));
  ref_embed(q, k, qs, U, Uf);
  ref_conjugate((int)D, Uf, rho, want);
  double d = ref_maxdiff(DD, got, want);
  bps_state_destroy(&s);
  free(got);
  free(Uf);
  free(want);
  return d;
}

static void report(const char *what, int q, int k, const int *qs, double d) {
  if (d <= TOL) return;
  fprintf(stderr, "  %s q=%d k=%d qubits", what, q, k);
  for (int i = 0; i < k; i++) fprintf(stderr, " %d", qs[i]);
  fprintf(stderr, ": max diff %.3g\n", d);
}

static void test_unitaries(int qmax) {
  int nfail0 = bps_test_failures;
  for (int q = 1; q <= qmax; q++) {
    bps_idx D = (bps_idx)1 << q;
    bps_cplx *rho1 = ref_alloc((size_t)(D * D)), *rhof = ref_alloc((size_t)(D * D));
    ref_random_density(&rng, q, 1, rho1, NULL);
    ref_random_density(&rng, q, (int)D, rhof, NULL);
    bps_cplx U[256 * 256];
    int qs[16];
    /* k = 1 and k = 2 on every position (every ordered pair for q <= 6), all gate kinds. */
    for (int kind = 0; kind < G_NKINDS; kind++) {
      for (int t = 0; t < q; t++) {
        if (q >= 7 && kind != G_HAAR && t != (kind * 3) % q) continue;
        qs[0] = t;
        make_gate(kind, 1, U);
        double d = check_unitary(q, t % 2 ? rho1 : rhof, 1, qs, U);
        CHECK(d <= TOL);
        report(gname[kind], q, 1, qs, d);
      }
      for (int t0 = 0; t0 < q; t0++)
        for (int t1 = 0; t1 < q; t1++) {
          if (t0 == t1) continue;
          /* q >= 7: about 2q/3 random pairs for Haar gates, 2 for the others (plus the
           * pairs touching the last qubit, which take the lane-exchange path) */
          if (q >= 7 && rand_int(q * (q - 1)) >= (kind == G_HAAR ? 2 * q / 3 : 2) &&
              !(kind == G_HAAR && t1 == q - 1 && t0 % 3 == 0))
            continue;
          qs[0] = t0;
          qs[1] = t1;
          make_gate(kind, 2, U);
          double d = check_unitary(q, (t0 + t1) % 2 ? rho1 : rhof, 2, qs, U);
          CHECK(d <= TOL);
          report(gname[kind], q, 2, qs, d);
        }
    }
    /* k = 3, 4 on random ordered subsets, and k = q (all qubits, shuffled). */
    int nsub = q <= 6 ? 12 : 2;
    for (int kk = 3; kk <= 4 && kk <= q; kk++)
      for (int n = 0; n < nsub; n++)
        for (int kind = 0; kind < G_NKINDS; kind++) {
          if ((kk == 4 || q >= 7) && n >= 2 - (q >= 7 && kind != G_HAAR)) continue;
          random_qubits(q, kk, qs);
          make_gate(kind, kk, U);
          double d = check_unitary(q, n % 2 ? rho1 : rhof, kk, qs, U);
          CHECK(d <= TOL);
          report(gname[kind], q, kk, qs, d);
        }
    /* k = 3 with the last qubit (index bit 0) at each gate position: the three lane-exchange
     * variants of the k = 3 kernel */
    if (q >= 4 && q <= 6)
      for (int pos = 0; pos < 3; pos++)
        for (int kind = 0; kind < G_NKINDS; kind++) {
          do random_qubits(q, 3, qs);
          while (qs[0] == q - 1 || qs[1] == q - 1 || qs[2] == q - 1);
          qs[pos] = q - 1;
          make_gate(kind, 3, U);
          double d = check_unitary(q, pos % 2 ? rho1 : rhof, 3, qs, U);
          CHECK(d <= TOL);
          report(gname[kind], q, 3, qs, d);
        }
    if (q <= 6)
      for (int kind = 0; kind < G_NKINDS; kind++) {
        random_qubits(q, q, qs);
        make_gate(kind, q, U);
        double d = check_unitary(q, rhof, q, qs, U);
        CHECK(d <= TOL);
        report(gname[kind], q, q, qs, d);
      }
    free(rho1);
    free(rhof);
  }
  printf("unitaries: %s\n", bps_test_failures == nfail0 ? "ok" : "FAILED");
}

/* Named gates with fast paths, built by hand: X, Y, Z, CNOT, CZ, SWAP, RZZ. */
static void test_named_gates(int qmax) {
  int nfail0 = bps_test_failures;
  const bps_cplx X[4] = {0, 1, 1, 0}, Y[4] = {0, -I, I, 0}, Z[4] = {1, 0, 0, -1};
  bps_cplx CNOT[16] = {0}, CZ[16] = {0}, SWAP[16] = {0}, RZZ[16] = {0};
  CNOT[0] = CNOT[5] = CNOT[11] = CNOT[14] = 1;
  CZ[0] = CZ[5] = CZ[10] = 1;
  CZ[15] = -1;
  SWAP[0] = SWAP[6] = SWAP[9] = SWAP[15] = 1;
  double th = 0.37;
  RZZ[0] = RZZ[15] = cexp(-I * th / 2);
  RZZ[5] = RZZ[10] = cexp(I * th / 2);
  const bps_cplx *g1[3] = {X, Y, Z};
  const bps_cplx *g2[4] = {CNOT, CZ, SWAP, RZZ};
  for (int q = 2; q <= qmax; q++) {
    bps_idx D = (bps_idx)1 << q;
    bps_cplx *rho = ref_alloc((size_t)(D * D));
    ref_random_density(&rng, q, (int)D, rho, NULL);
    int qs[2];
    for (int g = 0; g < 3; g++)
      for (int t = 0; t < q; t++) {
        qs[0] = t;
        double d = check_unitary(q, rho, 1, qs, g1[g]);
        CHECK(d <= TOL);
        report("pauli", q, 1, qs, d);
      }
    for (int g = 0; g < 4; g++)
      for (int t0 = 0; t0 < q; t0++)
        for (int t1 = 0; t1 < q; t1++) {
          if (t0 == t1) continue;
          qs[0] = t0;
          qs[1] = t1;
          double d = check_unitary(q, rho, 2, qs, g2[g]);
          CHECK(d <= TOL);
          report("named 2q", q, 2, qs, d);
        }
    free(rho);
  }
  printf("named gates: %s\n", bps_test_failures == nfail0 ? "ok" : "FAILED");
}

/* Kraus channels: random isometry blocks (nk = 1..4) and a hand-built amplitude damping. */
static void test_kraus(int qmax) {
  int nfail0 = bps_test_failures;
  for (int q = 1; q <= qmax; q++) {
    bps_idx D = (bps_idx)1 << q;
    size_t DD = (size_t)(D * D);
    bps_cplx *rho = ref_alloc(DD), *got = ref_alloc(DD), *want = ref_alloc(DD);
    ref_random_density(&rng, q, (int)D, rho, NULL);
    for (int kk = 1; kk <= 4 && kk <= q; kk++) /* k = 4: the runtime-size kernel */
      for (int nk = 1; nk <= 4; nk++) {
        if ((q >= 6 && nk == 3) || (kk == 4 && nk > 2)) continue;
        int N = 1 << kk, qs[8];
        random_qubits(q, kk, qs);
        bps_cplx *K = ref_alloc((size_t)nk * N * N), *Kf = ref_alloc((size_t)nk * DD);
        if (kk == 1 && nk == 2 && q % 2) { /* amplitude damping, gamma = 0.3 */
          memset(K, 0, sizeof(bps_cplx) * 8);
          K[0] = 1;
          K[3] = sqrt(0.7);
          K[4 + 1] = sqrt(0.3);
        } else {
          ref_random_kraus(&rng, N, nk, K);
        }
        for (int m = 0; m < nk; m++) ref_embed(q, kk, qs, K + (size_t)m * N * N, Kf + m * DD);
        ref_kraus((int)D, nk, Kf, rho, want);
        bps_state *s;
        CHECK_OK(bps_state_create(BPS_DENSE, q, &s));
        CHECK_OK(bps_state_set_dense(s, q, rho));
        CHECK_OK(bps_apply_kraus(s, kk, qs, nk, K));
        CHECK_OK(bps_state_to_dense(s, got));
        double d = ref_maxdiff(DD, got, want);
        CHECK(d <= TOL);
        report("kraus", q, kk, qs, d);
        bps_state_destroy(&s);
        free(K);
        free(Kf);
      }
    free(rho);
    free(got);
    free(want);
  }
  printf("kraus: %s\n", bps_test_failures == nfail0 ? "ok" : "FAILED");
}

static void test_append_ptrace(void) {
  int nfail0 = bps_test_failures;
  /* append_zero */
  for (int q = 0; q <= 6; q++)
    for (int a = 1; a <= 3; a++) {
      bps_idx D = (bps_idx)1 << q, D2 = (bps_idx)1 << (q + a);
      bps_cplx *rho = ref_alloc((size_t)(D * D)), *got = ref_alloc((size_t)(D2 * D2)),
               *want = ref_alloc((size_t)(D2 * D2));
      ref_random_density(&rng, q, q % 2 ? 1 : (int)D, rho, NULL);
      bps_state *s;
      CHECK_OK(bps_state_create(BPS_DENSE, q, &s));
      CHECK_OK(bps_state_set_dense(s, q, rho));
      CHECK_OK(bps_append_zero(s, a));
      CHECK(s->q == q + a && s->dim == D2 && s->rank == D2);
      CHECK_OK(bps_state_to_dense(s, got));
      ref_append_zero(q, rho, a, want);
      double d = ref_maxdiff((size_t)(D2 * D2), got, want);
      CHECK(d <= TOL);
      if (d > TOL) fprintf(stderr, "  append_zero q=%d a=%d: %.3g\n", q, a, d);
      bps_state_destroy(&s);
      free(rho);
      free(got);
      free(want);
    }
  /* partial traces over random subsets (including none of / all of the qubits' orders) */
  for (int q = 1; q <= 8; q++) {
    bps_idx D = (bps_idx)1 << q;
    bps_cplx *rho = ref_alloc((size_t)(D * D)), *got = ref_alloc((size_t)(D * D)),
             *want = ref_alloc((size_t)(D * D));
    ref_random_density(&rng, q, (int)D, rho, NULL);
    int ncase = q <= 6 ? 10 : 4;
    for (int n = 0; n < ncase; n++) {
      int ntr = n == 0 ? q : 1 + rand_int(q), tr[32];
      random_qubits(q, ntr, tr);
      bps_idx Dk = (bps_idx)1 << (q - ntr);
      bps_state *s;
      CHECK_OK(bps_state_create(BPS_DENSE, q, &s));
      CHECK_OK(bps_state_set_dense(s, q, rho));
      CHECK_OK(bps_partial_trace(s, ntr, tr));
      CHECK(s->q == q - ntr && s->dim == Dk && s->rank == Dk);
      CHECK_OK(bps_state_to_dense(s, got));
      ref_ptrace(q, rho, ntr, tr, want);
      double d = ref_maxdiff((size_t)(Dk * Dk), got, want);
      CHECK(d <= TOL);
      report("ptrace", q, ntr, tr, d);
      bps_state_destroy(&s);
    }
    free(rho);
    free(got);
    free(want);
  }
  printf("append_zero, partial_trace: %s\n", bps_test_failures == nfail0 ? "ok" : "FAILED");
}

static void test_expectations(void) {
  int nfail0 = bps_test_failures;
  for (int q = 1; q <= 7; q++) {
    bps_idx D = (bps_idx)1 << q;
    size_t DD = (size_t)(D * D);
    bps_cplx *rho = ref_alloc(DD), *P = ref_alloc(DD);
    ref_random_density(&rng, q, q % 2 ? 1 : (int)D, rho, NULL);
    bps_state *s;
    CHECK_OK(bps_state_create(BPS_DENSE, q, &s));
    CHECK_OK(bps_state_set_dense(s, q, rho));
    /* Pauli strings: all 4^q for q <= 3, random otherwise (always with some Y's) */
    int npauli = q <= 3 ? 1 << (2 * q) : 24;
    for (int n = 0; n < npauli; n++) {
      char p[32];
      for (int t = 0; t < q; t++) p[t] = "IXYZ"[q <= 3 ? (n >> (2 * t)) & 3 : rand_int(4)];
      p[q] = 0;
      double got;
      CHECK_OK(bps_expect_pauli(s, p, &got));
      ref_pauli(p, P);
      double want = creal(ref_trace_prod((int)D, P, rho));
      CHECK_CLOSE(got, want, 0, TOL);
    }
    /* projectors on random ordered subsets, and the fidelity with a pure state */
    for (int n = 0; n < 12; n++) {
      int k = 1 + rand_int(q), qs[32], N = 1 << k;
      random_qubits(q, k, qs);
      bps_cplx psi[128], *pp = ref_alloc((size_t)N * N);
      double nrm = 0;
      for (int a = 0; a < N; a++) {
        psi[a] = bps_rng_normal(&rng) + I * bps_rng_normal(&rng);
        nrm += creal(psi[a] * conj(psi[a]));
      }
      for (int a = 0; a < N; a++) psi[a] /= sqrt(nrm);
      for (int a = 0; a < N; a++)
        for (int b = 0; b < N; b++) pp[a * N + b] = psi[a] * conj(psi[b]);
      ref_embed(q, k, qs, pp, P);
      double got, want = creal(ref_trace_prod((int)D, P, rho));
      CHECK_OK(bps_expect_projector(s, k, qs, psi, &got));
      CHECK_CLOSE(got, want, 0, TOL);
      if (k == q) {
        int all[32];
        for (int t = 0; t < q; t++) all[t] = t;
        /* fidelity_pure uses qubits in order; psi is then in the index order of qs -> all */
        bps_cplx *pp2 = ref_alloc((size_t)N * N);
        ref_embed(q, q, all, pp, pp2);
        double f, fw = creal(ref_trace_prod((int)D, pp2, rho));
        CHECK_OK(bps_fidelity_pure(s, psi, &f));
        CHECK_CLOSE(f, fw, 0, TOL);
        free(pp2);
      }
      free(pp);
    }
    bps_state_destroy(&s);
    free(rho);
    free(P);
  }
  printf("expectations: %s\n", bps_test_failures == nfail0 ? "ok" : "FAILED");
}

int main(void) {
  bps_rng_init(&rng, 200, 0, 0, BPS_STREAM_TEST, 0);
  test_unitaries(8);
  test_named_gates(6);
  test_kraus(7);
  test_append_ptrace();
  test_expectations();
  return bps_test_result("t200-dense-vs-ref");
}

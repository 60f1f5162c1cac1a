/* t201: the dense kernels give bitwise identical states and expectation values for 1 and
 * 2 OpenMP threads.
 * 1. One fixed random operation sequence (unitaries of every fast path, Kraus channels,
 *    append_zero, partial traces, Pauli and projector expectations, purity) on q = 9..10
 *    qubits, run with 1 and with 2 threads; states and values compared with memcmp. At these
 *    sizes the sweeps and the purity (work D^2) run in parallel; the expectations (work D
 *    and D 2^k) do not: they are below the threshold (set to 2^14 here) and run serially.
 * 2. The expectation reductions where they do run in parallel: Tr[P rho] sums D = 2^q terms,
 *    so it opens a team only from q = 14, a 4 GiB dense matrix. Both reductions read only
 *    the entries (i, j) with i ^ j inside the bits of the qubits they act on, so the test
 *    builds a q = 14 state in a lazily zeroed calloc block with random entries on the band
 *    i ^ j < 2^BAND (Hermitian, trace 1; ~64 MB resident) and compares Pauli strings (X/Y on
 *    the last BAND qubits) and projectors on up to 3 of those qubits at 1 and 2 threads.
 * Both parts CHECK that bps_par_ok() holds for the work sizes they rely on, so a change of
 * the threshold that made them serial again would fail here, not pass vacuously. */
#include <complex.h>
#include <stdlib.h>
#include <string.h>

#include "bps_test.h"
#include "bpscan/state.h"
#include "bpscan/threads.h"
#include "ref.h"

#define NOPS 60
#define NEXP 17 /* room for the 12 expectations of the sequence and the final purity */

static int rand_int(bps_rng *r, int n) { return (int)(bps_rng_u32(r) % (uint32_t)n); }

static void random_qubits(bps_rng *r, int q, int k, int *qs) {
  int all[32];
  for (int i = 0; i < q; i++) all[i] = i;
  for (int i = 0; i < k; i++) {
    int j = i + rand_int(r, q - i), t = all[i];
    all[i] = all[j];
    all[j] = t;
    qs[i] = all[i];
  }
}

/* Run the sequence with nthreads; returns the state and writes the expectations (the last
 * entry: the purity of the final state). */
static bps_state *run(int nthreads, const bps_cplx *rho0, int q0, double *ex) {
  bps_threads_set(nthreads);
  bps_rng r;
  bps_rng_init(&r, 201, 0, 0, BPS_STREAM_TEST, 1); /* same stream for both runs */
  bps_state *s;
  CHECK_OK(bps_state_create(BPS_DENSE, q0, &s));
  CHECK_OK(bps_state_set_dense(s, q0, rho0));
  int nex = 0;
  for (int op = 0; op < NOPS; op++) {
    int q = s->q, what = op % 10, qs[8];
    bps_cplx U[256 * 4];
    if (what <= 4) { /* unitaries: Haar k = 1, 2, 3 or 4, diagonal k = 2, permutation k = 2 */
      int k = what <= 2 ? what + 1 : 2;
      if (what == 2 && (op / 10) % 2) k = 4; /* the runtime-size kernel */
      int N = 1 << k;
      random_qubits(&r, q, k, qs);
      if (op % 20 < 5) { /* the last qubit (index bit 0) first: the lane-exchange paths */
        for (int i = 1; i < k; i++)
          if (qs[i] == q - 1) qs[i] = qs[0];
        qs[0] = q - 1;
      }
      if (what <= 2) {
        ref_random_unitary(&r, N, U);
      } else {
        memset(U, 0, sizeof(bps_cplx) * N * N);
        for (int a = 0; a < N; a++)
          U[a * N + (what == 3 ? a : N - 1 - a)] = cexp(I * bps_rng_uniform(&r) * 6.28);
      }
      CHECK_OK(bps_apply_unitary(s, k, qs, U));
    } else if (what <= 6) { /* Kraus, k = 1 with 3 operators, k = 2 with 2 */
      int k = what - 4, nk = what == 5 ? 3 : 2, N = 1 << k;
      random_qubits(&r, q, k, qs);
      ref_random_kraus(&r, N, nk, U);
      CHECK_OK(bps_apply_kraus(s, k, qs, nk, U));
    } else if (what == 7) { /* expectations */
      char p[32];
      for (int t = 0; t < q; t++) p[t] = "IXYZ"[rand_int(&r, 4)];
      p[q] = 0;
      CHECK_OK(bps_expect_pauli(s, p, &ex[nex++]));
      int k = 1 + rand_int(&r, 3), N = 1 << k;
      random_qubits(&r, q, k, qs);
      bps_cplx psi[8];
      for (int a = 0; a < N; a++) psi[a] = (a + 1.0) / N + I * bps_rng_normal(&r);
      CHECK_OK(bps_expect_projector(s, k, qs, psi, &ex[nex++]));
    } else if (what == 8) { /* grow by one qubit ... */
      CHECK_OK(bps_append_zero(s, q < 10 ? 1 : 0));
    } else { /* ... and trace one out again */
      int ntr = q > 9 ? 1 : 0;
      random_qubits(&r, q, ntr, qs);
      if (ntr) CHECK_OK(bps_partial_trace(s, ntr, qs));
    }
  }
  CHECK(bps_par_ok(s->dim * s->dim)); /* the purity reduction runs in parallel */
  CHECK_OK(bps_purity(s, &ex[nex++]));
  return s;
}

#define QP 14  /* qubits of the band state: the Pauli reduction (work D) is parallel */
#define BAND 4 /* entries (i, j) with i ^ j < 2^BAND are nonzero */

/* Part 2: the expectation reductions on a q = QP band state at 1 and 2 threads. */
static void band_expectations(void) {
  const bps_idx D = (bps_idx)1 << QP, M = (bps_idx)1 << BAND;
  bps_cplx *a = calloc((size_t)(D * D), sizeof(bps_cplx)); /* lazily zeroed pages */
  CHECK(a != NULL);
  if (!a) return;
  bps_rng r;
  bps_rng_init(&r, 201, 0, 0, BPS_STREAM_TEST, 2);
  double tr = 0;
  for (bps_idx i = 0; i < D; i++)
    for (bps_idx m = 0; m < M; m++) {
      bps_idx j = i ^ m;
      if (j < i) continue;
      if (j == i) {
        a[i * D + i] = 1.0 + bps_rng_uniform(&r);
        tr += creal(a[i * D + i]);
      } else {
        a[i * D + j] = bps_rng_normal(&r) + I * bps_rng_normal(&r);
        a[j * D + i] = conj(a[i * D + j]);
      }
    }
  for (bps_idx i = 0; i < D; i++)
    for (bps_idx m = 0; m < M; m++) a[i * D + (i ^ m)] /= tr;
  bps_state st = {.repr = BPS_DENSE, .q = QP, .dim = D, .rank = D, .cap = (size_t)(D * D), .a = a};
  bps_threads_set(2);
  CHECK(bps_threads_max() == 2);
  int npauli = 0, nproj = 0;
  for (int t = 0; t < 12; t++) {
    double v[2];
    if (t % 2 == 0) { /* Tr[P rho]: X/Y only on the band qubits, I/Z anywhere */
      char p[QP + 1];
      for (int k = 0; k < QP; k++) p[k] = "IZXY"[rand_int(&r, k >= QP - BAND ? 4 : 2)];
      p[QP - 1 - rand_int(&r, BAND)] = "XY"[rand_int(&r, 2)]; /* off the diagonal */
      p[QP] = 0;
      CHECK(bps_par_ok(D));
      for (int th = 0; th < 2; th++) {
        bps_threads_set(th + 1);
        CHECK_OK(bps_expect_pauli(&st, p, &v[th]));
      }
      npauli++;
    } else { /* projector on k = 1..3 of the band qubits, in random order */
      int k = 1 + rand_int(&r, 3), qs[3], band[BAND];
      random_qubits(&r, BAND, k, band);
      for (int x = 0; x < k; x++) qs[x] = QP - BAND + band[x];
      bps_cplx psi[8];
      for (int x = 0; x < (1 << k); x++) psi[x] = bps_rng_normal(&r) + I * bps_rng_normal(&r);
      CHECK(bps_par_ok(D << k));
      for (int th = 0; th < 2; th++) {
        bps_threads_set(th + 1);
        CHECK_OK(bps_expect_projector(&st, k, qs, psi, &v[th]));
      }
      nproj++;
    }
    CHECK(v[0] != 0.0); /* the terms read are the random band entries, not zeros */
    CHECK(memcmp(&v[0], &v[1], sizeof(double)) == 0);
    if (v[0] != v[1]) fprintf(stderr, "band expectation %d: %.17g vs %.17g\n", t, v[0], v[1]);
  }
  printf("band state q = %d: %d Pauli and %d projector expectations, 1 vs 2 threads\n", QP,
         npauli, nproj);
  free(a);
}

int main(void) {
  bps_par_min_set((bps_idx)1 << 14); /* parallel branches from 2^14 elements (threads.h) */
  const int q0 = 9;
  bps_idx D = (bps_idx)1 << q0;
  bps_rng r;
  bps_rng_init(&r, 201, 0, 0, BPS_STREAM_TEST, 0);
  bps_cplx *rho = ref_alloc((size_t)(D * D));
  ref_random_density(&r, q0, 6, rho, NULL);
  double ex1[NEXP], ex2[NEXP];
  memset(ex1, 0, sizeof ex1);
  memset(ex2, 0, sizeof ex2);
  bps_state *s1 = run(1, rho, q0, ex1);
  bps_state *s2 = run(2, rho, q0, ex2);
  CHECK(s1->q == s2->q && s1->dim == s2->dim);
  size_t n = (size_t)(s1->dim * s1->dim);
  CHECK(memcmp(s1->a, s2->a, n * sizeof(bps_cplx)) == 0);
  CHECK(memcmp(ex1, ex2, sizeof ex1) == 0);
  /* trace preserved; the run must have changed the state (the sequence is not a no-op) */
  double tr = 0;
  for (bps_idx i = 0; i < s1->dim; i++) tr += creal(s1->a[i * s1->dim + i]);
  CHECK_CLOSE(tr, 1.0, 0, 1e-10);
  CHECK(ref_maxdiff((size_t)(D * D), s1->a, rho) > 1e-3 || s1->q != q0);
  if (memcmp(s1->a, s2->a, n * sizeof(bps_cplx)))
    fprintf(stderr, "states differ (max diff %.3g)\n", ref_maxdiff(n, s1->a, s2->a));
  for (int i = 0; i < NEXP; i++)
    if (ex1[i] != ex2[i]) fprintf(stderr, "expectation %d: %.17g vs %.17g\n", i, ex1[i], ex2[i]);
  printf("final q = %d, %d expectations\n", s1->q, NEXP);
  band_expectations();
  bps_state_destroy(&s1);
  bps_state_destroy(&s2);
  free(rho);
  return bps_test_result("t201-dense-threads");
}

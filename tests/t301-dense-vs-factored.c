/* t301-dense-vs-factored: the same random circuits (unitaries on k = 1..4 random ordered
 * qubits, ancilla appends, partial traces, compressions, Kraus channels, in random order,
 * q up to 8) run on a DENSE and on a FACTORED state. After every operation:
 *   - rho agree to 1e-12 (max abs entry difference);
 *   - both states pass bps_state_check(s, 1e-12): trace 1, Hermitian, eigenvalues >= -1e-12;
 *   - a random Pauli expectation and a random projector expectation agree to 1e-12;
 *   - the factored rank never exceeds 2^q. */
#include <string.h>

#include "bps_test.h"
#include "bpscan/state.h"
#include "ref.h"

#define TOL 1e-12
#define QMAX 8

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

static const char *op_name[] = {"unitary", "append", "ptrace", "compress", "kraus"};

/* Compare the two states after an operation; returns 0 when all checks pass. */
static int compare(const bps_state *D, const bps_state *F, int seq, int step, const char *what) {
  int before = bps_test_failures;
  CHECK(D->q == F->q);
  if (D->q != F->q) return 1;
  size_t d = (size_t)D->dim;
  bps_cplx *rd = ref_alloc(d * d), *rf = ref_alloc(d * d);
  CHECK_OK(bps_state_to_dense(D, rd));
  CHECK_OK(bps_state_to_dense(F, rf));
  double e = ref_maxdiff(d * d, rd, rf);
  CHECK(e <= TOL);
  CHECK(F->rank >= 1 && F->rank <= F->dim);
  int rc = bps_state_check(D, TOL);
  if (rc) bps_error_print(stderr);
  CHECK(rc == BPS_OK);
  bps_error_clear();
  rc = bps_state_check(F, TOL);
  if (rc) bps_error_print(stderr);
  CHECK(rc == BPS_OK);
  bps_error_clear();
  if (D->q >= 1) {
    char p[QMAX + 1];
    for (int t = 0; t < D->q; t++) p[t] = "IXYZ"[rnd(4)];
    p[D->q] = 0;
    double ed, ef;
    CHECK_OK(bps_expect_pauli(D, p, &ed));
    CHECK_OK(bps_expect_pauli(F, p, &ef));
    CHECK_CLOSE(ed, ef, 0, TOL);
    int k = 1 + rnd(D->q), qb[QMAX], K = 1 << k;
    random_subset(D->q, k, qb);
    bps_cplx psi[1 << QMAX];
    double nrm = 0;
    for (int g = 0; g < K; g++) {
      psi[g] = bps_rng_normal(&R) + I * bps_rng_normal(&R);
      nrm += creal(psi[g] * conj(psi[g]));
    }
    for (int g = 0; g < K; g++) psi[g] /= sqrt(nrm);
    CHECK_OK(bps_expect_projector(D, k, qb, psi, &ed));
    CHECK_OK(bps_expect_projector(F, k, qb, psi, &ef));
    CHECK_CLOSE(ed, ef, 0, TOL);
  }
  free(rd);
  free(rf);
  if (bps_test_failures != before)
    fprintf(stderr, "  sequence %d step %d (%s, q=%d, rank %lld): rho diff %.3g\n", seq, step,
            what, D->q, (long long)F->rank, e);
  return bps_test_failures != before;
}

static void run_sequence(int seq, int nops) {
  bps_state *D, *F;
  int q = 2 + rnd(3);
  CHECK_OK(bps_state_create(BPS_DENSE, q, &D));
  CHECK_OK(bps_state_create(BPS_FACTORED, q, &F));
  if (seq % 2) { /* random mixed start */
    size_t d = (size_t)1 << q;
    int rank = 1 + rnd((int)d);
    bps_cplx *rho = ref_alloc(d * d), *A = ref_alloc(d * rank);
    ref_random_density(&R, q, rank, rho, A);
    CHECK_OK(bps_state_set_dense(D, q, rho));
    CHECK_OK(bps_state_set_factor(F, q, rank, A));
    free(rho);
    free(A);
  }
  if (compare(D, F, seq, -1, "start")) goto done;
  for (int step = 0; step < nops; step++) {
    int op = rnd(5);
    q = D->q;
    if (op == 1 && q >= QMAX) op = 0;
    if (op == 2 && q <= 1) op = 1;
    if (op == 0) {
      int k = 1 + rnd(q < 4 ? q : 4), K = 1 << k, qb[QMAX];
      random_subset(q, k, qb);
      bps_cplx *U = ref_alloc((size_t)K * K);
      ref_random_unitary(&R, K, U);
      CHECK_OK(bps_apply_unitary(D, k, qb, U));
      CHECK_OK(bps_apply_unitary(F, k, qb, U));
      free(U);
    } else if (op == 1) {
      int a = 1 + rnd(QMAX - q < 2 ? QMAX - q : 2);
      CHECK_OK(bps_append_zero(D, a));
      CHECK_OK(bps_append_zero(F, a));
    } else if (op == 2) {
      int ntr = 1 + rnd(q - 1 < 2 ? q - 1 : 2), tr[QMAX];
      random_subset(q, ntr, tr);
      CHECK_OK(bps_partial_trace(D, ntr, tr));
      CHECK_OK(bps_partial_trace(F, ntr, tr));
    } else if (op == 3) {
      CHECK_OK(bps_compress(D));
      CHECK_OK(bps_compress(F));
    } else {
      int k = 1 + rnd(q < 2 ? q : 2), K = 1 << k, nk = 2 + rnd(2), qb[QMAX];
      random_subset(q, k, qb);
      bps_cplx *Ks = ref_alloc((size_t)nk * K * K);
      ref_random_kraus(&R, K, nk, Ks);
      CHECK_OK(bps_apply_kraus(D, k, qb, nk, Ks));
      CHECK_OK(bps_apply_kraus(F, k, qb, nk, Ks));
      free(Ks);
    }
    if (compare(D, F, seq, step, op_name[op])) break;
  }
done:
  bps_state_destroy(&D);
  bps_state_destroy(&F);
}

int main(void) {
  for (int seq = 0; seq < 8; seq++) {
    bps_rng_init(&R, 3010 + (uint64_t)seq, 0, 0, BPS_STREAM_TEST, 0);
    run_sequence(seq, 40);
  }
  return bps_test_result("t301-dense-vs-factored");
}

/* m110-rank-invariance: results do not depend on the rank count (ctest runs 1, 2, 4).
 *
 * S samples keyed by sample id; sample s is computed on rank s % size from its own RNG
 * stream (seed, n, s, BPS_STREAM_TEST, 0): a Haar 2-qubit unitary applied to |00> on a
 * dense and on a factored state, then <Z on qubit 1>, <XX> and the purity of the reduced
 * state of qubit 0. Rows (sample id, values) are gathered to rank 0, placed in global
 * sample order and compared BITWISE with rank 0's own serial recomputation of every
 * sample; a fixed-order (sample-order) sum must match the serial sum bitwise too. */
#include <stdint.h>
#include <string.h>

#include "bps_test.h"
#include "bpscan/comm.h"
#include "bpscan/gates.h"
#include "bpscan/rng.h"
#include "bpscan/state.h"

enum { S = 64, NQ = 2, NV = 6, ROW = 1 + NV };
static const uint64_t SEED = 0x6d313130u; /* "m110" */

/* Values of one representation: v[0] = <IZ>, v[1] = <XX>, v[2] = purity of Tr_1 rho. */
static int repr_values(bps_repr repr, const bps_cplx *U, double v[3]) {
  bps_state *st = NULL, *red = NULL;
  const int qubits[NQ] = {0, 1}, keep[1] = {0};
  int rc = bps_state_create(repr, NQ, &st);
  if (!rc) rc = bps_state_create(repr, 1, &red);
  if (!rc) rc = bps_apply_unitary(st, NQ, qubits, U);
  if (!rc) rc = bps_expect_pauli(st, "IZ", &v[0]);
  if (!rc) rc = bps_expect_pauli(st, "XX", &v[1]);
  if (!rc) rc = bps_reduced_state(st, 1, keep, red);
  if (!rc) rc = bps_purity(red, &v[2]);
  bps_state_destroy(&st);
  bps_state_destroy(&red);
  BPS_CALL(rc);
  return BPS_OK;
}

/* Everything sample s produces: a pure function of s. */
static int sample_values(uint32_t s, double v[NV]) {
  bps_rng r;
  bps_rng_init(&r, SEED, NQ, s, BPS_STREAM_TEST, 0);
  bps_cplx U[16];
  BPS_CALL(bps_haar_unitary(&r, 1 << NQ, U));
  BPS_CALL(repr_values(BPS_DENSE, U, v));
  BPS_CALL(repr_values(BPS_FACTORED, U, v + 3));
  return BPS_OK;
}

/* Sums over samples in sample order (the fixed global order). */
static void ordered_sums(const double *vals, double sums[NV]) {
  for (int j = 0; j < NV; j++) sums[j] = 0.0;
  for (int s = 0; s < S; s++)
    for (int j = 0; j < NV; j++) sums[j] += vals[s * NV + j];
}

int main(int argc, char **argv) {
  CHECK_OK(bps_comm_init(&argc, &argv));
  const int rank = bps_comm_rank(), size = bps_comm_size();

  /* Compute phase: this rank's samples, as rows (id, values). */
  double *rows = calloc((size_t)S * ROW, sizeof(double));
  int nmine = 0, ok = rows != NULL;
  for (int s = rank; ok && s < S; s += size) {
    double *row = rows + (size_t)nmine * ROW;
    row[0] = s;
    if (sample_values((uint32_t)s, row + 1)) {
      fprintf(stderr, "[rank %d] sample %d failed:\n", rank, s);
      bps_error_print(stderr);
      ok = 0;
    }
    nmine++;
  }
  /* Every rank reaches this point, error or not. */
  if (!bps_comm_agree(ok)) {
    if (rank == 0) fprintf(stderr, "m110: a rank failed in the compute phase\n");
    free(rows);
    bps_comm_finalize();
    return 1;
  }

  /* Reduce phase: gather rows to rank 0. */
  double *all = rank == 0 ? calloc((size_t)S * ROW, sizeof(double)) : NULL;
  int *counts = rank == 0 ? calloc((size_t)size, sizeof(int)) : NULL;
  CHECK_OK(bps_comm_gatherv_f64(rows, nmine * ROW, all, counts, 0));

  if (rank == 0) {
    int total = 0;
    for (int r = 0; r < size; r++) {
      CHECK(counts[r] % ROW == 0);
      CHECK(counts[r] / ROW == (S - r + size - 1) / size); /* s % size == r */
      total += counts[r];
    }
    CHECK(total == S * ROW);
    /* Place by sample id, each exactly once. */
    double *par = calloc((size_t)S * NV, sizeof(double));
    int seen[S] = {0}, bad_id = 0;
    for (int i = 0; i < S; i++) {
      const double *row = all + (size_t)i * ROW;
      int s = (int)row[0];
      if (row[0] != (double)s || s < 0 || s >= S || seen[s]) {
        bad_id++;
        continue;
      }
      seen[s] = 1;
      memcpy(par + (size_t)s * NV, row + 1, NV * sizeof(double));
    }
    CHECK(bad_id == 0);

    /* Serial recomputation of every sample on rank 0. */
    double *ser = calloc((size_t)S * NV, sizeof(double));
    for (int s = 0; s < S; s++) CHECK_OK(sample_values((uint32_t)s, ser + (size_t)s * NV));
    int mismatched = 0;
    for (int s = 0; s < S; s++)
      if (memcmp(par + (size_t)s * NV, ser + (size_t)s * NV, NV * sizeof(double))) {
        if (mismatched++ < 5)
          fprintf(stderr, "sample %d differs: %.17g vs %.17g (first value)\n", s,
                  par[(size_t)s * NV], ser[(size_t)s * NV]);
      }
    CHECK(mismatched == 0);
    CHECK(memcmp(par, ser, (size_t)S * NV * sizeof(double)) == 0);

    double sum_par[NV], sum_ser[NV];
    ordered_sums(par, sum_par);
    ordered_sums(ser, sum_ser);
    CHECK(memcmp(sum_par, sum_ser, sizeof sum_par) == 0);

    /* The values are physics, not noise: dense and factored agree, and are in range. */
    double maxdiff = 0.0;
    int out_of_range = 0;
    for (int s = 0; s < S; s++) {
      const double *v = ser + (size_t)s * NV;
      for (int j = 0; j < 3; j++) maxdiff = fmax(maxdiff, fabs(v[j] - v[3 + j]));
      for (int j = 0; j < NV; j += 3) {
        out_of_range += !(fabs(v[j]) <= 1.0 + 1e-12) || !(fabs(v[j + 1]) <= 1.0 + 1e-12);
        out_of_range += !(v[j + 2] >= 0.5 - 1e-12 && v[j + 2] <= 1.0 + 1e-12);
      }
    }
    CHECK(maxdiff <= 1e-12);
    CHECK(out_of_range == 0);
    /* A Haar 2-qubit state is entangled almost surely: some purity well below 1. */
    double min_purity = 1.0;
    for (int s = 0; s < S; s++) min_purity = fmin(min_purity, ser[(size_t)s * NV + 2]);
    CHECK(min_purity < 0.99);
    printf("m110: %d samples over %d rank(s); sum <Z1> = %.17g, sum purity = %.17g\n", S, size,
           sum_ser[0], sum_ser[2]);
    free(par);
    free(ser);
  }
  free(all);
  free(counts);
  free(rows);

  int all_ok = bps_comm_agree(bps_test_failures == 0);
  char name[64];
  snprintf(name, sizeof name, "m110-rank-invariance [rank %d of %d]", rank, size);
  int rc = bps_test_result(name);
  CHECK_OK(bps_comm_finalize());
  return all_ok && rc == 0 ? 0 : 1;
}

/* m100-comm: the MPI wrappers of comm.h at any rank count (ctest runs 1, 2 and 4):
 * bcast of bytes, gatherv with uneven counts, allgather, and agree propagating one rank's
 * failure to every rank without a hang. Also the argument errors that must be reported on
 * every rank (not only the one that made them). */
#include <string.h>

#include "bps_test.h"
#include "bpscan/comm.h"

static void test_bcast(int rank, int size) {
  enum { N = 1000 };
  unsigned char buf[N];
  for (int root = 0; root < size; root += (size > 1 ? size - 1 : 1)) {
    for (int i = 0; i < N; i++)
      buf[i] = rank == root ? (unsigned char)((i * 7 + 3 + root) & 255) : 0;
    CHECK_OK(bps_comm_bcast_bytes(buf, N, root));
    int bad = 0;
    for (int i = 0; i < N; i++) bad += buf[i] != (unsigned char)((i * 7 + 3 + root) & 255);
    CHECK(bad == 0);
  }
  /* zero bytes: a no-op everywhere */
  CHECK_OK(bps_comm_bcast_bytes(NULL, 0, 0));
  CHECK_FAILS(bps_comm_bcast_bytes(buf, 1, size), BPS_ERR_ARG);
}

static void test_gatherv(int rank, int size) {
  /* rank r sends r + 1 values r * 100 + i */
  double send[64] = {0};
  int n = rank + 1;
  for (int i = 0; i < n; i++) send[i] = rank * 100.0 + i;
  int total = size * (size + 1) / 2;
  for (int root = 0; root < size; root += (size > 1 ? size - 1 : 1)) {
    double *recv = rank == root ? calloc((size_t)total, sizeof(double)) : NULL;
    int *counts = rank == root ? calloc((size_t)size, sizeof(int)) : NULL;
    CHECK_OK(bps_comm_gatherv_f64(send, n, recv, counts, root));
    if (rank == root) {
      int k = 0, bad = 0;
      for (int r = 0; r < size; r++) {
        CHECK(counts[r] == r + 1);
        for (int i = 0; i <= r; i++) bad += recv[k++] != r * 100.0 + i;
      }
      CHECK(k == total && bad == 0);
    }
    free(recv);
    free(counts);
  }
  /* Only rank 0 sends nothing: counts may be zero. */
  {
    double *recv = rank == 0 ? calloc((size_t)total, sizeof(double)) : NULL;
    int *counts = rank == 0 ? calloc((size_t)size, sizeof(int)) : NULL;
    CHECK_OK(bps_comm_gatherv_f64(rank == 0 ? NULL : send, rank == 0 ? 0 : n, recv, counts, 0));
    if (rank == 0) {
      CHECK(counts[0] == 0);
      if (size > 1) CHECK(counts[1] == 2 && recv[0] == 100.0 && recv[1] == 101.0);
    }
    free(recv);
    free(counts);
  }
  /* A negative count on the last rank only: EVERY rank gets BPS_ERR_ARG, nobody hangs. */
  {
    double recv[64];
    int counts[64];
    CHECK_FAILS(bps_comm_gatherv_f64(send, rank == size - 1 ? -1 : n, recv, counts, 0),
                BPS_ERR_ARG);
    /* and the root forgetting its receive buffer is reported on every rank too */
    CHECK_FAILS(bps_comm_gatherv_f64(send, n, NULL, counts, 0), BPS_ERR_ARG);
  }
}

static void test_allgather(int rank, int size) {
  int mine[2] = {rank, rank * rank + 7};
  int *all = calloc(2 * (size_t)size, sizeof(int));
  CHECK_OK(bps_comm_allgather_int(mine, 2, all));
  int bad = 0;
  for (int r = 0; r < size; r++) bad += all[2 * r] != r || all[2 * r + 1] != r * r + 7;
  CHECK(bad == 0);
  free(all);
}

static void test_agree(int rank, int size) {
  CHECK(bps_comm_agree(1) == 1);
  CHECK(bps_comm_agree(rank != size - 1) == 0); /* only the last rank fails */
  CHECK(bps_comm_agree(rank != 0) == 0);        /* only the first rank fails */
  CHECK(bps_comm_agree(0) == 0);
  CHECK(bps_comm_agree(42) == 1); /* any non-zero is "ok" */
  CHECK(bps_comm_agree(1) == 1);  /* and agreement still works afterwards */
}

int main(int argc, char **argv) {
  /* Before init: one rank, local collectives. */
  CHECK(bps_comm_active() == 0 && bps_comm_rank() == 0 && bps_comm_size() == 1);
  CHECK(bps_comm_agree(1) == 1 && bps_comm_agree(0) == 0);
  CHECK_OK(bps_comm_init(&argc, &argv));
  CHECK_OK(bps_comm_init(&argc, &argv)); /* idempotent */
  int rank = bps_comm_rank(), size = bps_comm_size();
  CHECK(bps_comm_active() == 1);
  CHECK(size >= 1 && rank >= 0 && rank < size);
  CHECK(size <= 64); /* the test's fixed buffers */

  double t0 = bps_comm_wtime();
  test_bcast(rank, size);
  test_gatherv(rank, size);
  test_allgather(rank, size);
  test_agree(rank, size);
  CHECK_OK(bps_comm_barrier());
  CHECK(bps_comm_wtime() >= t0);

  /* Every rank ends with the same verdict. */
  int all_ok = bps_comm_agree(bps_test_failures == 0);
  CHECK_OK(bps_comm_finalize());
  CHECK_OK(bps_comm_finalize()); /* idempotent */
  CHECK_FAILS(bps_comm_barrier(), BPS_ERR_MPI);
  CHECK(bps_comm_agree(1) == 0); /* after finalize nothing can agree */
  bps_error_clear();
  char name[64];
  snprintf(name, sizeof name, "m100-comm [rank %d of %d]", rank, size);
  int rc = bps_test_result(name);
  return all_ok && rc == 0 ? 0 : 1;
}

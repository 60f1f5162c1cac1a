/* comm: the MPI layer (see include/bpscan/comm.h). The only file in bpscan that includes
 * <mpi.h>: every MPI call, the thread level, the error handler and the communicator live
 * here, so nothing else needs to know how MPI is used. */
#include "bpscan/comm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include "bpscan/error.h"

/* The tag of bpscan's point-to-point messages. */
#define BPS_COMM_TAG 7315

/* An MPI call that must return MPI_SUCCESS; our communicator has MPI_ERRORS_RETURN, so
 * failures come back here as codes and are turned into a traceback entry. */
#define BPS_CALL_MPI(expr)                                                                      \
  do {                                                                                          \
    int bps_m_ = (expr);                                                                        \
    if (bps_m_ != MPI_SUCCESS) return mpi_failure(bps_m_, #expr, __LINE__, __func__);           \
  } while (0)

/* The same in a function with the cleanup idiom (error.h): record in rc, go to cleanup. */
#define BPS_CALL_MPI_GOTO(expr)                                                                 \
  do {                                                                                          \
    int bps_m_ = (expr);                                                                        \
    if (bps_m_ != MPI_SUCCESS) {                                                                \
      rc = mpi_failure(bps_m_, #expr, __LINE__, __func__);                                      \
      goto cleanup;                                                                             \
    }                                                                                           \
  } while (0)

/* Largest piece sent in one call: counts are int in MPI-3, and 1 GiB keeps well clear. */
#define BPS_COMM_CHUNK ((size_t)1 << 30)

static struct {
  int active;    /* between init and finalize */
  int finalized; /* finalize has run: MPI may no longer be used */
  int owner;     /* we called MPI_Init_thread, so we call MPI_Finalize */
  int rank, size;
  MPI_Comm comm; /* private duplicate of MPI_COMM_WORLD, MPI_ERRORS_RETURN */
  int *pairs;    /* 2 * size ints: gatherv argument exchange (allocated once at init) */
  int *displs;   /* size ints: gatherv displacements on the root */
} g = {0, 0, 0, 0, 1, 0, NULL, NULL};

/* A direct bps_error_push: the entry names the line and function of the failed call, not
 * this helper's. */
static int mpi_failure(int code, const char *expr, int line, const char *func) {
  char msg[MPI_MAX_ERROR_STRING + 1];
  int len = 0;
  if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS) len = 0;
  msg[len > 0 && len <= MPI_MAX_ERROR_STRING ? len : 0] = '\0';
  return bps_error_push(BPS_ERR_MPI, __FILE__, line, func, "%s failed: %s", expr,
                        msg[0] ? msg : "unknown MPI error");
}

/* Common entry check of the collectives: *active tells whether MPI is in use. */
static int usable(int *active) {
  BPS_CHECK(!g.finalized, BPS_ERR_MPI, "MPI used after bps_comm_finalize");
  *active = g.active;
  if (g.active) {
    int is_main = 0;
    BPS_CALL_MPI(MPI_Is_thread_main(&is_main));
    BPS_CHECK(is_main, BPS_ERR_MPI,
              "MPI called from a thread other than the main thread (bpscan initialises MPI "
              "with MPI_THREAD_FUNNELED)");
  }
  return BPS_OK;
}

static int check_root(int root) {
  BPS_CHECK(root >= 0 && root < g.size, BPS_ERR_ARG, "root %d outside [0, %d)", root, g.size);
  return BPS_OK;
}

int bps_comm_init(int *argc, char ***argv) {
  if (g.active) return BPS_OK;
  BPS_CHECK(!g.finalized, BPS_ERR_MPI, "bps_comm_init after bps_comm_finalize");
  int rc = BPS_OK, dup = 0;
  int initialized = 0, finalized = 0, provided = MPI_THREAD_SINGLE;
  BPS_CALL_MPI_GOTO(MPI_Finalized(&finalized));
  BPS_CHECK_GOTO(!finalized, BPS_ERR_MPI, "MPI was already finalised");
  BPS_CALL_MPI_GOTO(MPI_Initialized(&initialized));
  if (!initialized) {
    BPS_CALL_MPI_GOTO(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
    g.owner = 1;
  } else {
    BPS_CALL_MPI_GOTO(MPI_Query_thread(&provided));
  }
  BPS_CHECK_GOTO(provided >= MPI_THREAD_FUNNELED, BPS_ERR_MPI,
                 "the MPI library provides thread level %d, bpscan needs MPI_THREAD_FUNNELED",
                 provided);
  BPS_CALL_MPI_GOTO(MPI_Comm_dup(MPI_COMM_WORLD, &g.comm));
  dup = 1;
  /* From here on failures in our communicator come back as codes (BPS_CALL_MPI) instead
   * of killing the job without a message. */
  BPS_CALL_MPI_GOTO(MPI_Comm_set_errhandler(g.comm, MPI_ERRORS_RETURN));
  BPS_CALL_MPI_GOTO(MPI_Comm_rank(g.comm, &g.rank));
  BPS_CALL_MPI_GOTO(MPI_Comm_size(g.comm, &g.size));
  g.pairs = malloc(2 * (size_t)g.size * sizeof(int));
  g.displs = malloc((size_t)g.size * sizeof(int));
  BPS_CHECK_GOTO(g.pairs && g.displs, BPS_ERR_MEM, "out of memory for the communicator's scratch");
  g.active = 1;
cleanup:
  if (rc) { /* a failed init holds no communicator and no scratch */
    free(g.pairs);
    free(g.displs);
    g.pairs = g.displs = NULL;
    if (dup) MPI_Comm_free(&g.comm);
    g.rank = 0;
    g.size = 1;
  }
  return rc;
}

int bps_comm_finalize(void) {
  if (g.finalized || (!g.active && !g.owner)) return BPS_OK;
  int rc = MPI_SUCCESS;
  if (g.active) {
    free(g.pairs);
    free(g.displs);
    g.pairs = g.displs = NULL;
    rc = MPI_Comm_free(&g.comm);
  }
  g.active = 0;
  g.finalized = 1;
  g.rank = 0;
  g.size = 1;
  if (g.owner) {
    int finalized = 0;
    BPS_CALL_MPI(MPI_Finalized(&finalized));
    if (!finalized) BPS_CALL_MPI(MPI_Finalize());
  }
  BPS_CALL_MPI(rc);
  return BPS_OK;
}

int bps_comm_active(void) { return g.active; }
int bps_comm_rank(void) { return g.rank; }
int bps_comm_size(void) { return g.size; }

int bps_comm_barrier(void) {
  int active = 0;
  BPS_CALL(usable(&active));
  if (active) BPS_CALL_MPI(MPI_Barrier(g.comm));
  return BPS_OK;
}

int bps_comm_bcast_bytes(void *buf, size_t n, int root) {
  int active = 0;
  BPS_CALL(usable(&active));
  BPS_CALL(check_root(root));
  BPS_CHECK(n == 0 || buf, BPS_ERR_ARG, "NULL buffer for %zu bytes", n);
  if (!active || g.size == 1) return BPS_OK;
  char *p = buf;
  for (size_t off = 0; off < n; off += BPS_COMM_CHUNK) {
    size_t c = n - off < BPS_COMM_CHUNK ? n - off : BPS_COMM_CHUNK;
    BPS_CALL_MPI(MPI_Bcast(p + off, (int)c, MPI_BYTE, root, g.comm));
  }
  return BPS_OK;
}

int bps_comm_gatherv_f64(const double *send, int n, double *recv, int *counts_out, int root) {
  int active = 0;
  BPS_CALL(usable(&active));
  BPS_CALL(check_root(root));
  if (!active) {
    BPS_CHECK(n >= 0, BPS_ERR_ARG, "negative count %d", n);
    BPS_CHECK(counts_out, BPS_ERR_ARG, "NULL counts_out on the root");
    BPS_CHECK(n == 0 || (send && recv), BPS_ERR_ARG, "NULL buffer for %d values", n);
    counts_out[0] = n;
    if (n) memcpy(recv, send, (size_t)n * sizeof(double));
    return BPS_OK;
  }
  /* Exchange (count, root buffer flags) first, so that an argument error on any rank is
   * seen, and reported, by every rank before anyone enters MPI_Gatherv. */
  int me[2];
  me[0] = (n >= 0 && (n == 0 || send)) ? n : -1;
  me[1] = g.rank != root ? 3 : (counts_out ? 1 : 0) | (recv ? 2 : 0);
  BPS_CALL_MPI(MPI_Allgather(me, 2, MPI_INT, g.pairs, 2, MPI_INT, g.comm));
  long long total = 0;
  for (int r = 0; r < g.size; r++) {
    BPS_CHECK(g.pairs[2 * r] >= 0, BPS_ERR_ARG,
              "rank %d passed a negative count or a NULL send buffer to gatherv", r);
    total += g.pairs[2 * r];
  }
  BPS_CHECK(total <= INT_MAX, BPS_ERR_ARG, "gatherv of %lld values exceeds INT_MAX", total);
  BPS_CHECK(g.pairs[2 * root + 1] & 1, BPS_ERR_ARG, "NULL counts_out on the root (rank %d)", root);
  BPS_CHECK(total == 0 || (g.pairs[2 * root + 1] & 2), BPS_ERR_ARG,
            "NULL recv on the root (rank %d) for %lld values", root, total);
  int *counts = NULL, *displs = NULL;
  if (g.rank == root) {
    int off = 0;
    for (int r = 0; r < g.size; r++) {
      counts_out[r] = g.pairs[2 * r];
      g.displs[r] = off;
      off += counts_out[r];
    }
    counts = counts_out;
    displs = g.displs;
  }
  BPS_CALL_MPI(MPI_Gatherv(send, n, MPI_DOUBLE, recv, counts, displs, MPI_DOUBLE, root, g.comm));
  return BPS_OK;
}

int bps_comm_send_f64(const double *buf, int n, int dest) {
  int active = 0;
  BPS_CALL(usable(&active));
  BPS_CHECK(active && dest >= 0 && dest < g.size && dest != g.rank && n >= 0 && (n == 0 || buf),
            BPS_ERR_ARG, "send of %d values to rank %d", n, dest);
  BPS_CALL_MPI(MPI_Send(buf, n, MPI_DOUBLE, dest, BPS_COMM_TAG, g.comm));
  return BPS_OK;
}

int bps_comm_recv_f64(double *buf, int max, int src, int *got) {
  int active = 0;
  MPI_Status st;
  BPS_CALL(usable(&active));
  BPS_CHECK(active && src >= 0 && src < g.size && src != g.rank && max >= 0 && (max == 0 || buf),
            BPS_ERR_ARG, "receive of up to %d values from rank %d", max, src);
  BPS_CALL_MPI(MPI_Recv(buf, max, MPI_DOUBLE, src, BPS_COMM_TAG, g.comm, &st));
  BPS_CALL_MPI(MPI_Get_count(&st, MPI_DOUBLE, got));
  return BPS_OK;
}

int bps_comm_allgather_int(const int *send, int n, int *recv) {
  int active = 0;
  BPS_CALL(usable(&active));
  BPS_CHECK(n >= 0, BPS_ERR_ARG, "negative count %d", n);
  BPS_CHECK(n == 0 || (send && recv), BPS_ERR_ARG, "NULL buffer for %d values", n);
  if (n == 0) return BPS_OK;
  if (!active) {
    if (recv != send) memmove(recv, send, (size_t)n * sizeof(int));
    return BPS_OK;
  }
  BPS_CHECK((long long)n * g.size <= INT_MAX, BPS_ERR_ARG, "allgather of %d x %d ints", n, g.size);
  BPS_CALL_MPI(MPI_Allgather(send, n, MPI_INT, recv, n, MPI_INT, g.comm));
  return BPS_OK;
}

int bps_comm_agree(int ok) {
  int v = ok != 0, all = 0, active = 0;
  if (usable(&active)) return 0; /* the traceback says why */
  if (!active) return v;
  int rc = MPI_Allreduce(&v, &all, 1, MPI_INT, MPI_MIN, g.comm);
  if (rc != MPI_SUCCESS) {
    mpi_failure(rc, "MPI_Allreduce(MIN)", __LINE__, __func__);
    return 0;
  }
  return all;
}

_Noreturn void bps_comm_abort(int code) {
  fflush(stdout);
  fflush(stderr);
  int initialized = 0, finalized = 1;
  if (MPI_Initialized(&initialized) == MPI_SUCCESS && initialized &&
      MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized)
    MPI_Abort(g.active ? g.comm : MPI_COMM_WORLD, code);
  exit(code);
}

double bps_comm_wtime(void) {
  if (g.active) return MPI_Wtime();
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* comm: the MPI layer. src/comm.c is the ONLY file in bpscan that includes <mpi.h>
 * (as CoMD's parallel.c and QuEST's src/comm/): every other module stays MPI-free, so
 * kernels, models and the bench compile and test without knowing about ranks, and the
 * whole use of MPI (thread level, error handler, communicator, count limits) can be read
 * in one place. This header exposes no MPI types.
 *
 * Model: bpscan parallelises over samples across ranks and over matrix elements within a
 * rank (OpenMP). Collectives happen only at phase boundaries and in the final reduction
 * (with point-to-point messages between rank 0 and the ranks that encode the result's
 * chunks), on the main thread (MPI_THREAD_FUNNELED). Reductions are NOT done by MPI: results are gathered to the root,
 * which reduces them in a fixed global order, so the answer does not depend on the rank
 * count. Hence there is deliberately no allreduce-sum here.
 *
 * Before bps_comm_init (and in programs that never call it, such as unit tests and
 * `bpscan bench`) the process is a single rank: rank 0, size 1, and the collectives act
 * locally (bcast is a no-op, gatherv copies, agree returns its argument). After
 * bps_comm_finalize the collectives fail with BPS_ERR_MPI.
 *
 * Collective contract (as in MPI): every rank calls the same collectives in the same
 * order with the same root and, where stated, the same counts. Functions return BPS_OK or
 * an error code from error.h (BPS_ERR_MPI when MPI itself fails), except the getters.
 */
#ifndef BPSCAN_COMM_H
#define BPSCAN_COMM_H

#include <stddef.h>

/* MPI_Init_thread(MPI_THREAD_FUNNELED) and a private duplicate of MPI_COMM_WORLD with
 * MPI_ERRORS_RETURN. Idempotent; if MPI is already initialised by someone else, bpscan
 * uses it (and then leaves finalising to its owner). argc/argv may be NULL. */
int bps_comm_init(int *argc, char ***argv);
/* Frees the communicator and calls MPI_Finalize if bps_comm_init initialised MPI.
 * Idempotent; a no-op if bps_comm_init was never called. */
int bps_comm_finalize(void);

/* 1 between bps_comm_init and bps_comm_finalize, else 0. */
int bps_comm_active(void);
/* This process's rank (0 when not active) and the number of ranks (1 when not active). */
int bps_comm_rank(void);
int bps_comm_size(void);

int bps_comm_barrier(void);
/* Broadcast n bytes from root (n the same on every rank; any size, sent in chunks). */
int bps_comm_bcast_bytes(void *buf, size_t n, int root);
/* Each rank contributes n doubles (n may differ between ranks, n >= 0); the root receives
 * their concatenation in rank order in recv and the per-rank counts in counts_out
 * (size() entries). recv and counts_out are used on the root only (recv may be NULL there
 * when every count is 0); send must not overlap recv. Argument errors found on any rank
 * (a negative n, a total above INT_MAX, NULL root buffers) are reported on EVERY rank as
 * BPS_ERR_ARG, so no rank is left waiting. */
int bps_comm_gatherv_f64(const double *send, int n, double *recv, int *counts_out, int root);
/* Point to point (a pipeline between two ranks; messages between a pair arrive in the
 * order sent): send n doubles to rank dest; receive up to max doubles from rank src, *got
 * of them. Only with several ranks. */
int bps_comm_send_f64(const double *buf, int n, int dest);
int bps_comm_recv_f64(double *buf, int max, int src, int *got);
/* Every rank contributes n ints (n the same on every rank); recv gets size() * n ints,
 * rank r's at recv[r * n]. */
int bps_comm_allgather_int(const int *send, int n, int *recv);

/* Returns 1 only if every rank passed ok != 0, else 0 on every rank (so one rank's failure
 * stops all ranks cleanly, like QuEST's assertAllNodesAgreeThat). If the agreement itself
 * fails, returns 0 and records BPS_ERR_MPI in the traceback. */
int bps_comm_agree(int ok);

/* Ends all ranks with this exit code (MPI_Abort), or exit(code) when not active. Only for
 * failures from which a rank cannot reach the next agreement point. */
_Noreturn void bps_comm_abort(int code);
/* Wall-clock seconds (MPI_Wtime when active, else a monotonic clock). */
double bps_comm_wtime(void);

#endif

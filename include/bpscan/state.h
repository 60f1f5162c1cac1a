/* state: a q-qubit density matrix in one of two interchangeable representations.
 *
 *   BPS_DENSE     rho itself, 2^q x 2^q, ROW-MAJOR: rho[i*dim + j].
 *   BPS_FACTORED  rho = A A^dagger with A of shape 2^q x r, COLUMN-MAJOR: A[i + dim*c].
 *                 Each column is an (unnormalised) state vector; r = 1 is a pure state.
 *                 Unitaries act on A alone; a partial trace moves the traced qubits into
 *                 the column index (r grows by 2^traced); bps_compress() drops numerically
 *                 zero singular values so r <= 2^q.
 *
 * Both representations give the same rho to rounding (tests check 1e-12), so a caller
 * picks whichever is cheaper: factored wins whenever r << 2^q (pure inputs, DQNN layers).
 *
 * Conventions: qubit 0 is the MOST significant bit of a basis index (qubit k is bit
 * q-1-k); gate matrices as in gates.h. Appended ancillas become the LAST qubits (least
 * significant bits); a partial trace keeps the remaining qubits in their order.
 *
 * Threads: kernels use OpenMP over the amplitudes of one state (inside an enclosing
 * parallel region they run on the calling thread only). Every result, including
 * reductions such as traces and expectations, is bitwise identical for any thread count
 * (reductions use a fixed chunking, not the thread count).
 *
 * Every function returns BPS_OK or an error code (error.h).
 */
#ifndef BPSCAN_STATE_H
#define BPSCAN_STATE_H

#include "bpscan/types.h"

typedef enum { BPS_DENSE = 0, BPS_FACTORED = 1 } bps_repr;

typedef struct bps_state {
  bps_repr repr;
  int q;          /* number of qubits */
  bps_idx dim;    /* 2^q */
  bps_idx rank;   /* FACTORED: columns of A; DENSE: dim */
  size_t cap;     /* elements allocated in a */
  bps_cplx *a;    /* DENSE: rho; FACTORED: A (see above). 64-byte aligned. */
  size_t wcap;    /* elements allocated in work */
  bps_cplx *work; /* scratch owned by the state (kernels may swap a and work) */
} bps_state;

const char *bps_repr_name(bps_repr r); /* "dense" | "factored" */

/* Life cycle. create gives |0...0><0...0| on q qubits (q may be 0: the scalar 1). */
int bps_state_create(bps_repr repr, int q, bps_state **s);
int bps_state_destroy(bps_state **s);                     /* NULL-safe; sets *s = NULL */
int bps_state_copy(bps_state *dst, const bps_state *src); /* dst becomes src (repr too) */
int bps_state_convert(bps_state *s, bps_repr repr);       /* change representation */

/* Set the contents. */
int bps_state_set_zero(bps_state *s, int q);                                 /* |0..0> */
int bps_state_set_pure(bps_state *s, int q, const bps_cplx *psi);            /* |psi><psi| */
int bps_state_set_dense(bps_state *s, int q, const bps_cplx *rho);           /* row-major rho */
int bps_state_set_factor(bps_state *s, int q, bps_idx r, const bps_cplx *A); /* A A^dag */
/* Write rho (dim x dim, row-major) into a caller buffer. */
int bps_state_to_dense(const bps_state *s, bps_cplx *rho);
/* Bytes held by a state of this shape (for planning). */
double bps_state_bytes(bps_repr repr, int q, bps_idx rank);

/* Operations. qubits[] are distinct, in [0, q). */
/* rho -> U rho U^dag, U a 2^k x 2^k row-major matrix on qubits[0..k-1]. One fused sweep. */
int bps_apply_unitary(bps_state *s, int k, const int *qubits, const bps_cplx *U);
/* rho -> sum_m K_m rho K_m^dag, nkraus matrices of 2^k x 2^k stored one after another. */
int bps_apply_kraus(bps_state *s, int k, const int *qubits, int nkraus, const bps_cplx *K);
/* rho -> rho (x) |0..0><0..0| on a new qubits appended at the end. */
int bps_append_zero(bps_state *s, int a);
/* rho -> Tr_{traced} rho; remaining qubits keep their relative order. */
int bps_partial_trace(bps_state *s, int ntraced, const int *traced);
/* FACTORED: exact rank compression (drops singular values <= 1e-14 * s_max, so rank <=
 * 2^q afterwards). DENSE: no-op. */
int bps_compress(bps_state *s);

/* Observables. */
/* Tr[P rho], P a Pauli string with q letters (letter k acts on qubit k). */
int bps_expect_pauli(const bps_state *s, const char *pauli, double *out);
/* Tr[(|psi><psi| on qubits[0..k-1]) (x) 1 rho]; psi has 2^k entries (gate convention). */
int bps_expect_projector(const bps_state *s, int k, const int *qubits, const bps_cplx *psi,
                         double *out);
/* <psi| rho |psi>, psi on all q qubits. */
int bps_fidelity_pure(const bps_state *s, const bps_cplx *psi, double *out);

/* Diagnostics (diag.c). Entropies in nats. */
int bps_trace(const bps_state *s, double *out);      /* Re Tr rho */
int bps_purity(const bps_state *s, double *out);     /* Tr rho^2 */
int bps_eigenvalues(const bps_state *s, double *w);  /* all 2^q eigenvalues of rho, ascending */
int bps_entropy_vn(const bps_state *s, double *out); /* -Tr rho ln rho */
int bps_entropy_renyi2(const bps_state *s, double *out);       /* -ln Tr rho^2 */
int bps_trace_distance_mixed(const bps_state *s, double *out); /* 1/2 ||rho - 1/d||_1 */
/* The four above from one purity and one spectrum (bitwise the same values): out[0..3] =
 * purity, von Neumann entropy, Renyi-2 entropy, trace distance to 1/d. */
int bps_state_diagnostics(const bps_state *s, double out[4]);
int bps_trace_distance(const bps_state *a, const bps_state *b, double *out); /* 1/2||a-b||_1 */
/* Reduced state on the kept qubits (in the given order), same representation as s. */
int bps_reduced_state(const bps_state *s, int nkeep, const int *keep, bps_state *out);
/* Check trace 1, Hermiticity and positivity (eigenvalues >= -tol); BPS_ERR_NUMERIC with
 * a message naming the broken invariant. */
int bps_state_check(const bps_state *s, double tol);

/* Haar (Page) predictions for the reduced state on a subsystem of dimension da of a
 * Haar-random pure state of dimension da db (physics.md Sec. 4.9): the mean purity
 * (da + db)/(da db + 1) and the Page entropy sum_{k=n+1}^{mn} 1/k - (m-1)/(2n), m = min,
 * n = max of (da, db), in nats. */
double bps_page_purity(double da, double db);
double bps_page_entropy(double da, double db);

#endif

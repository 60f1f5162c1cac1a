/* circuit: a model as data. A circuit program is a list of operations that an executor
 * runs on either state representation, forwards (Schroedinger picture) or backwards on an
 * observable (Heisenberg picture, for adjoint gradients).
 *
 * Operations:
 *   BPS_OP_UNITARY  fixed k-qubit matrix U (row-major, gates.h conventions; the pool keeps
 *                   U^dag right after U for the backward pass)
 *   BPS_OP_PROT     parameterised Pauli rotation exp(-i scale theta[param] P) on k qubits;
 *                   R_P(theta) = exp(-i theta P/2) is scale = 1/2, CAN components and
 *                   Hamiltonian terms exp(-i J theta h) use scale = 1 or J. The same
 *                   parameter may appear in several operations (its gradient sums them).
 *   BPS_OP_KRAUS    fixed channel sum_m K_m rho K_m^dag on k qubits (K^dag kept too)
 *   BPS_OP_APPEND   append k ancillas |0> as the last qubits
 *   BPS_OP_TRACE    trace out the k listed qubits
 *   BPS_OP_DEPOL    global depolarising on the k listed qubits with probability p:
 *                   rho -> (1-p) rho + p Tr_S(rho) (x) 1_S / 2^k
 *
 * A cost is C = c0 + sum_t w_t Tr[(F_t F_t^dag (x) 1) rho_out], F_t a 2^k x m matrix on
 * a qubit subset (a projector onto span F_t when F_t has orthonormal columns).
 */
#ifndef BPSCAN_CIRCUIT_H
#define BPSCAN_CIRCUIT_H

#include "bpscan/state.h"

#define BPS_OP_MAXQ 24

typedef enum {
  BPS_OP_UNITARY = 0,
  BPS_OP_PROT = 1,
  BPS_OP_KRAUS = 2,
  BPS_OP_APPEND = 3,
  BPS_OP_TRACE = 4,
  BPS_OP_DEPOL = 5
} bps_op_kind;

typedef struct {
  bps_op_kind kind;
  int k;                     /* qubits acted on / appended / traced */
  int qubits[BPS_OP_MAXQ];   /* target qubits (not used by APPEND) */
  int param;                 /* PROT: parameter index */
  double scale;              /* PROT: generator scale; DEPOL: probability p */
  char pauli[BPS_OP_MAXQ + 1]; /* PROT: Pauli string, k letters */
  int nkraus;                /* KRAUS: number of operators */
  size_t mat;                /* UNITARY/KRAUS: offset of the matrices in the pool */
} bps_op;

typedef struct {
  int q_in;        /* qubits of the input state */
  int q_out;       /* qubits after the last operation (tracked while building) */
  int nparams;     /* 1 + largest parameter index used */
  int nops, cap;
  bps_op *ops;
  size_t npool, cappool;
  bps_cplx *pool;  /* matrices of UNITARY and KRAUS operations */
} bps_circuit;

int bps_circuit_create(int q_in, bps_circuit **c);
int bps_circuit_destroy(bps_circuit **c);
int bps_circuit_unitary(bps_circuit *c, int k, const int *qubits, const bps_cplx *U);
int bps_circuit_prot(bps_circuit *c, const char *pauli, const int *qubits, double scale,
                     int param);
int bps_circuit_kraus(bps_circuit *c, int k, const int *qubits, int nkraus, const bps_cplx *K);
int bps_circuit_append(bps_circuit *c, int a);
int bps_circuit_trace(bps_circuit *c, int k, const int *qubits);
int bps_circuit_depol(bps_circuit *c, int k, const int *qubits, double p);

/* Run the circuit on s (which holds the input state on q_in qubits). */
int bps_circuit_run(const bps_circuit *c, const double *theta, bps_state *s);

/* A cost functional on the output register. */
typedef struct {
  double w;        /* weight */
  int k;           /* qubits of the term */
  int qubits[BPS_OP_MAXQ];
  int m;           /* columns of F */
  bps_cplx *F;     /* 2^k x m column-major */
} bps_cost_term;

typedef struct {
  int q;           /* qubits the cost acts on (= circuit q_out) */
  double c0;
  int nterms, cap;
  bps_cost_term *terms;
} bps_cost;

int bps_cost_create(int q, double c0, bps_cost **cost);
int bps_cost_destroy(bps_cost **cost);
/* Add w Tr[(F F^dag on qubits (x) 1) rho]; F copied. */
int bps_cost_add(bps_cost *cost, double w, int k, const int *qubits, int m, const bps_cplx *F);
int bps_cost_eval(const bps_cost *cost, const bps_state *rho, double *out);

/* Cost value and gradient. grad has c->nparams entries. Adjoint (reverse mode): one
 * forward pass storing checkpoints before non-invertible operations, one backward pass
 * evolving the observable in the Heisenberg picture and un-applying unitaries. */
int bps_grad_adjoint(const bps_circuit *c, const bps_cost *cost, const double *theta,
                     const bps_state *in, double *value, double *grad);
/* Parameter shift. A parameter used once (generator eigenvalues +-r, r = |scale|): two runs,
 * dC = r [C(theta + pi/4r) - C(theta - pi/4r)]. A parameter used in R rotations of equal
 * |scale| has the equidistant frequencies Omega, 2 Omega, ..., R Omega (Omega = 2|scale|):
 * the general rule (Wierichs et al.; physics Sec. 4.11) shifts the whole parameter,
 * 2R runs. Mixed scales fall back to two runs per occurrence (product rule). */
int bps_grad_shift(const bps_circuit *c, const bps_cost *cost, const double *theta,
                   const bps_state *in, double *value, double *grad);

/* Nodes and coefficients of the general equidistant shift rule for frequencies
 * Omega * (1..R): C'(0) = sum_mu c[mu] (C(x[mu]) - C(-x[mu])), x_mu = (2mu-1) pi/(2 R Omega),
 * c_mu = Omega (-1)^(mu-1) / (4 R sin^2((2mu-1) pi/(4R))), mu = 1..R (arrays of R). */
void bps_shift_rule(int R, double omega, double *x, double *c);

#endif

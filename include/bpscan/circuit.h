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
 *
 * Ensembles (one model description, two uses). A model builder records, next to the drawn
 * instance, what each random element was drawn from: the op's `ens` (a Haar block, a
 * random rotation axis, a random Pauli string, a Gaussian generator scale) and each
 * parameter's angle ensemble (uniform on [0, 2 pi) or fixed). The state executor ignores
 * them and runs the drawn instance; the exact-moments engines (moments.h) ignore the drawn
 * values and average over the ensembles. A circuit built with `ensemble = 1`
 * (bps_circuit_create_ensemble) holds no drawn matrices (Haar blocks have mat = 0 and no
 * pool entry), may exceed the state size limits, and cannot be run on a state.
 */
#ifndef BPSCAN_CIRCUIT_H
#define BPSCAN_CIRCUIT_H

#include "bpscan/state.h"

#define BPS_OP_MAXQ BPS_GATE_MAX_QUBITS /* qubits of an executable operation (state kernels) */

typedef enum {
  BPS_OP_UNITARY = 0,
  BPS_OP_PROT = 1,
  BPS_OP_KRAUS = 2,
  BPS_OP_APPEND = 3,
  BPS_OP_TRACE = 4,
  BPS_OP_DEPOL = 5
} bps_op_kind;

typedef enum {
  BPS_ENS_FIXED = 0, /* deterministic: the operation as stored */
  BPS_ENS_HAAR,      /* UNITARY: Haar-random on its k qubits (the stored matrix is one draw) */
  BPS_ENS_AXIS,      /* PROT on one qubit: axis uniform in {X, Y, Z} (the letter is one draw) */
  BPS_ENS_PAULI,     /* PROT: string uniform over the 4^e - 1 non-identity Pauli strings on
                        the e = ens_k qubits ens_qubits (qubits/pauli: one draw's support) */
  BPS_ENS_GAUSS,     /* PROT: generator scale drawn from N(0, ens_sigma^2) (scale: one draw) */
  BPS_ENS_SUPPORT    /* KRAUS: placed on the support of the preceding random Pauli string,
                        so its qubits are part of that string's draw */
} bps_ens_kind;

typedef enum {
  BPS_ANGLE_UNIFORM = 0, /* theta uniform on [0, 2 pi) */
  BPS_ANGLE_FIXED        /* theta fixed at the instance's value (e.g. 0 for Haar perceptrons) */
} bps_angle_kind;

typedef struct {
  bps_op_kind kind;
  int k;            /* qubits acted on / appended / traced */
  int *qubits;      /* k target qubits (not used by APPEND; owned by the circuit) */
  int param;        /* PROT: parameter index */
  double scale;     /* PROT: generator scale; DEPOL: probability p */
  char *pauli;      /* PROT: Pauli string, k letters (owned by the circuit) */
  int nkraus;       /* KRAUS: number of operators */
  size_t mat;       /* UNITARY/KRAUS: offset of the matrices in the pool */
  bps_ens_kind ens; /* ensemble of the op's random element (see above) */
  double ens_sigma; /* BPS_ENS_GAUSS: standard deviation of the scale */
  int ens_k;        /* BPS_ENS_PAULI: qubits the string is drawn over ... */
  int *ens_qubits;  /* ... (owned by the circuit) */
  int ens_var;      /* ops with the same ens_var >= 0 share one draw (vh couplings
                                repeated in every layer); -1: an independent draw */
} bps_op;

typedef struct {
  int q_in;    /* qubits of the input state */
  int q_out;   /* qubits after the last operation (tracked while building) */
  int nparams; /* 1 + largest parameter index used */
  int nops, cap;
  bps_op *ops;
  size_t npool, cappool;
  bps_cplx *pool; /* matrices of UNITARY and KRAUS operations */
  int ensemble;   /* 1: ensemble-only program (no drawn matrices; not executable) */
  int capangle;
  unsigned char *angle; /* [nparams] bps_angle_kind of each parameter (default uniform) */
} bps_circuit;

int bps_circuit_create(int q_in, bps_circuit **c);
/* An ensemble-only circuit (registers up to BPS_ENS_MAX_QUBITS, Haar blocks without
 * matrices): for the exact-moments engines, never for the state executor. */
int bps_circuit_create_ensemble(int q_in, bps_circuit **c);
int bps_circuit_destroy(bps_circuit **c);
int bps_circuit_unitary(bps_circuit *c, int k, const int *qubits, const bps_cplx *U);
int bps_circuit_prot(bps_circuit *c, const char *pauli, const int *qubits, double scale,
                     int param);
int bps_circuit_kraus(bps_circuit *c, int k, const int *qubits, int nkraus, const bps_cplx *K);
int bps_circuit_append(bps_circuit *c, int a);
int bps_circuit_trace(bps_circuit *c, int k, const int *qubits);
int bps_circuit_depol(bps_circuit *c, int k, const int *qubits, double p);
/* A Haar-random unitary on k qubits: U is the drawn matrix (NULL in an ensemble circuit). */
int bps_circuit_haar(bps_circuit *c, int k, const int *qubits, const bps_cplx *U);
/* Record the ensemble of the last operation (a PROT): BPS_ENS_AXIS, BPS_ENS_GAUSS (sigma)
 * or BPS_ENS_PAULI (the ens_k qubits ens_qubits the string is drawn over). */
int bps_circuit_tag_last(bps_circuit *c, bps_ens_kind ens, double sigma, int ens_k,
                         const int *ens_qubits);
/* The random element of the last operation is the draw `var` shared with other
 * operations tagged with the same var (default: independent). */
int bps_circuit_tag_shared(bps_circuit *c, int var);
/* The last n operations (channels) act on the drawn support of the random Pauli string
 * before them (BPS_ENS_SUPPORT). */
int bps_circuit_tag_support(bps_circuit *c, int n);
/* The angle ensemble of parameter p (default BPS_ANGLE_UNIFORM). */
int bps_circuit_param_angle(bps_circuit *c, int p, bps_angle_kind kind);

/* Run the circuit on s (which holds the input state on q_in qubits). */
int bps_circuit_run(const bps_circuit *c, const double *theta, bps_state *s);

/* A cost functional on the output register. */
typedef struct {
  double w; /* weight */
  int k;    /* qubits of the term */
  int qubits[BPS_OP_MAXQ];
  int m;       /* columns of F */
  bps_cplx *F; /* 2^k x m column-major */
} bps_cost_term;

typedef struct {
  int q; /* qubits the cost acts on (= circuit q_out) */
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
/* The same, also writing the output state of the unshifted forward pass to out (when not
 * NULL; any state, resized): bitwise the state bps_circuit_run gives. */
int bps_grad_adjoint_out(const bps_circuit *c, const bps_cost *cost, const double *theta,
                         const bps_state *in, double *value, double *grad, bps_state *out);
int bps_grad_shift_out(const bps_circuit *c, const bps_cost *cost, const double *theta,
                       const bps_state *in, double *value, double *grad, bps_state *out);
/* The adjoint with one fused backward step per run of rotations on the same k <= 2 qubits
 * (a U3 as R_z R_y R_z, a CAN as XX, YY, ZZ): one sweep for the local Gram matrix of
 * (Lambda, A) (DENSE: of (O, rho)) gives every rotation's derivative, then one un-apply of
 * the run's product. Lone rotations take the adjoint's step. The same values as
 * bps_grad_adjoint up to rounding (about 1e-15 absolute), thread-count invariant; opt-in
 * ([gradient] method = fused), so the adjoint's results stay bitwise as they were. */
int bps_grad_fused(const bps_circuit *c, const bps_cost *cost, const double *theta,
                   const bps_state *in, double *value, double *grad);
int bps_grad_fused_out(const bps_circuit *c, const bps_cost *cost, const double *theta,
                       const bps_state *in, double *value, double *grad, bps_state *out);

/* Nodes and coefficients of the general equidistant shift rule for frequencies
 * Omega * (1..R): C'(0) = sum_mu c[mu] (C(x[mu]) - C(-x[mu])), x_mu = (2mu-1) pi/(2 R Omega),
 * c_mu = Omega (-1)^(mu-1) / (4 R sin^2((2mu-1) pi/(4R))), mu = 1..R (arrays of R). */
void bps_shift_rule(int R, double omega, double *x, double *c);

#endif

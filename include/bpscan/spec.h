/* spec: what a model IS, below the job and model layers: the model specification
 * (bps_model_spec, its enums and defaults), the gradient method, and the width-pattern
 * grammar in the scanned qubit count n (bps_pattern_eval). job.c fills a spec from a job
 * file; model.c and src/models/ build instances from it; both read registers through the
 * functions here, so the grammar and its resolution rules have one owner.
 *
 * Width patterns: comma-separated entries, each an integer k, n, k*n (or kn), optionally
 * followed by +j or -j (whitespace ignored), e.g. "n,n", "2,n,2", "2n-1". Every entry must
 * give 1..BPS_MAX_QUBITS qubits at the n where it is evaluated.
 */
#ifndef BPSCAN_SPEC_H
#define BPSCAN_SPEC_H

#include "bpscan/types.h"

#define BPS_MAX_LAYERS 64
#define BPS_PATTERN_LEN 128

typedef enum { BPS_MODEL_DQNN = 0, BPS_MODEL_VH, BPS_MODEL_QBM, BPS_MODEL_HEA } bps_model_kind;
typedef enum {
  BPS_PERC_HAAR = 0, /* V = A exp(-i theta Z_out/2) B, A,B Haar on m+1 qubits (P3) */
  BPS_PERC_TOY,      /* SWAP(in_j,out_j) then R_y(theta) on out_j (P4, Sharma Fig. 3a) */
  BPS_PERC_BRICK,    /* Fig. 3b local perceptrons = one HEA brick layer per 2 DQNN layers */
  BPS_PERC_NISQ,     /* U3 on inputs, CAN(in_j,out_i), U3 on final outputs (P6) */
  BPS_PERC_PAULI     /* Sharma Eq. (5): random Pauli rotations + fixed entanglers (P2) */
} bps_perceptron;
typedef enum { BPS_COST_GLOBAL = 0, BPS_COST_LOCAL } bps_cost_type;
typedef enum { BPS_INPUT_ZERO = 0, BPS_INPUT_BASIS, BPS_INPUT_HAAR } bps_input_kind;
typedef enum { BPS_TARGET_ZERO = 0, BPS_TARGET_PRODUCT, BPS_TARGET_UNITARY } bps_target_kind;
typedef enum {
  BPS_NOISE_NONE = 0,
  BPS_NOISE_DEPOLARIZING,       /* local, per qubit: rho -> (1-p) rho + p Tr(rho) 1/2 */
  BPS_NOISE_DEPHASING,          /* per qubit: rho -> (1-p) rho + p Z rho Z */
  BPS_NOISE_AMPLITUDE_DAMPING,  /* per qubit: K0 = diag(1, sqrt(1-p)), K1 = sqrt(p)|0><1| */
  BPS_NOISE_GLOBAL_DEPOLARIZING /* on the whole layer register: (1-p) rho + p 1/d */
} bps_noise_kind;
typedef enum { BPS_NOISE_AFTER_GATE = 0, BPS_NOISE_AFTER_LAYER } bps_noise_placement;
typedef enum {
  BPS_VH_OBJ_PAULI = 0,
  BPS_VH_OBJ_PROJECTOR,
  BPS_VH_OBJ_FIDELITY
} bps_vh_objective;
typedef enum { BPS_HEA_MCCLEAN = 0, BPS_HEA_ALT } bps_hea_kind;
/* BPS_GRAD_FUSED: the adjoint with one fused backward step per run of rotations on the same
 * qubits (bps_grad_fused_out); equal to BPS_GRAD_ADJOINT up to rounding, opt-in. */
typedef enum { BPS_GRAD_ADJOINT = 0, BPS_GRAD_SHIFT, BPS_GRAD_FUSED } bps_grad_method;

typedef struct {
  bps_model_kind kind;
  /* dqnn */
  char widths[BPS_PATTERN_LEN]; /* e.g. "n,n", "2,n,2": integers, n, n+k, n-k, k*n */
  bps_perceptron perceptron;
  int depth; /* brick: HEA layers (0 = ceil(log2 n)); pauli: rotations per perceptron */
  /* training data and cost (dqnn, hea) */
  bps_cost_type cost;
  bps_input_kind inputs;
  bps_target_kind targets;
  int pairs;
  /* noise */
  bps_noise_kind noise;
  double noise_p;
  bps_noise_placement noise_placement;
  /* vh and qbm */
  char visible[BPS_PATTERN_LEN]; /* pattern in n, e.g. "1" */
  char hidden[BPS_PATTERN_LEN];  /* pattern in n, e.g. "n" */
  int vh_layers;
  bps_vh_objective vh_objective;
  char vh_pauli[BPS_MAX_QUBITS + 1];   /* Pauli observable on the visible qubits, e.g. "Z" */
  double onsite_sigma, coupling_sigma; /* N(0, sigma^2) couplings (vh: J_t; qbm: theta) */
  /* hea */
  bps_hea_kind hea;
  int hea_layers; /* 0 = n */
} bps_model_spec;

/* Defaults for every field (a DQNN n,n with haar perceptrons, global cost, 1 zero pair). */
void bps_model_spec_default(bps_model_spec *spec);

/* Evaluate a width pattern such as "2,n,2" at n into widths (at most max entries) and
 * *count. BPS_ERR_ARG with the reason for a malformed entry or a width outside
 * 1..BPS_MAX_QUBITS. */
int bps_pattern_eval(const char *pattern, int n, int *widths, int max, int *count);
/* The same with entries allowed up to qmax qubits (exact-moments ensembles are not limited
 * by the size of a state). */
int bps_pattern_eval_max(const char *pattern, int n, int qmax, int *widths, int max, int *count);

/* The HEA layer count at n: spec->hea_layers, or n when it is 0. */
int bps_spec_hea_layers(const bps_model_spec *spec, int n);

#endif

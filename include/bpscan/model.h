/* model: the QNN models of bpscan, instantiated per (n, sample).
 *
 * A model specification (bps_model_spec, filled from a job file or by hand) plus the
 * scanned qubit count n, the seed and the sample index give a model INSTANCE: a circuit
 * program (or, for the QBM, a Hamiltonian), the training pairs (input states and costs)
 * and the parameter vector with its names. Every random choice (Haar perceptrons, random
 * Paulis, Hamiltonian couplings, initial angles, input/target states) is drawn from Philox
 * streams keyed by (seed, n, sample, purpose, sub), so an instance depends on nothing
 * else.
 *
 * Cost C(theta) = (1/N) sum_x C_x(theta) over N training pairs; gradients are exact
 * (adjoint by default, parameter shift as the independent check).
 * Models:
 *   dqnn  dissipative perceptron QNN (Beer et al.; Sharma et al.), models/dqnn.c
 *   vh    visible/hidden unitary network of random two-local terms (Ortiz Marrero et al.)
 *   qbm   quantum Boltzmann machine rho = e^{-H(theta)}/Z on visible + hidden qubits
 *   hea   hardware-efficient ansatz (McClean 2018; Cerezo 2021 alternating layered)
 */
#ifndef BPSCAN_MODEL_H
#define BPSCAN_MODEL_H

#include <stdint.h>

#include "bpscan/circuit.h"
#include "bpscan/state.h"

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
  BPS_NOISE_DEPOLARIZING,      /* local, per qubit: rho -> (1-p) rho + p Tr(rho) 1/2 */
  BPS_NOISE_DEPHASING,         /* per qubit: rho -> (1-p) rho + p Z rho Z */
  BPS_NOISE_AMPLITUDE_DAMPING, /* per qubit: K0 = diag(1, sqrt(1-p)), K1 = sqrt(p)|0><1| */
  BPS_NOISE_GLOBAL_DEPOLARIZING /* on the whole layer register: (1-p) rho + p 1/d */
} bps_noise_kind;
typedef enum { BPS_NOISE_AFTER_GATE = 0, BPS_NOISE_AFTER_LAYER } bps_noise_placement;
typedef enum { BPS_VH_OBJ_PAULI = 0, BPS_VH_OBJ_PROJECTOR, BPS_VH_OBJ_FIDELITY } bps_vh_objective;
typedef enum { BPS_HEA_MCCLEAN = 0, BPS_HEA_ALT } bps_hea_kind;

typedef struct {
  bps_model_kind kind;
  /* dqnn */
  char widths[BPS_PATTERN_LEN]; /* e.g. "n,n", "2,n,2": integers, n, n+k, n-k, k*n */
  bps_perceptron perceptron;
  int depth;     /* brick: HEA layers (0 = ceil(log2 n)); pauli: rotations per perceptron */
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
  char vh_pauli[BPS_MAX_QUBITS + 1]; /* Pauli observable on the visible qubits, e.g. "Z" */
  double onsite_sigma, coupling_sigma; /* N(0, sigma^2) couplings (vh: J_t; qbm: theta) */
  /* hea */
  bps_hea_kind hea;
  int hea_layers; /* 0 = n */
} bps_model_spec;

/* Defaults for every field (a DQNN n,n with haar perceptrons, global cost, 1 zero pair). */
void bps_model_spec_default(bps_model_spec *spec);

typedef struct bps_model_instance {
  bps_model_kind kind;
  int n;                 /* scanned qubit count */
  int q_in, q_out;       /* input and output register widths */
  int nparams;
  double *theta;         /* initial parameters for this sample */
  char **param_names;    /* "l1.p2.g3", ... */
  int npairs;
  bps_state **inputs;    /* npairs input states (representation chosen at creation) */
  bps_cost **costs;      /* npairs costs C_x on the output register */
  bps_circuit *circuit;  /* NULL for the QBM */
  void *impl;            /* model-private data (QBM Hamiltonian terms, ...) */
  void (*impl_free)(void *);
  /* Models without a circuit (QBM) provide their own cost/gradient (see
   * bps_model_cost_grad; theta has nparams entries, grad may be NULL). */
  int (*cost_grad)(const struct bps_model_instance *m, const double *theta, int method,
                   double *cost, double *grad);
  /* Diagnosed subsystem of the output register (purity, entropies, trace distance):
   * ndiag = 0 means the whole output register; vh/qbm set the visible qubits. */
  int ndiag;
  int diag_qubits[BPS_MAX_QUBITS];
  /* Models without a circuit write their output state here (NULL: run the circuit on
   * inputs[0]). */
  int (*output_state)(const struct bps_model_instance *m, const double *theta, bps_state *out);
  double page_db; /* environment dimension for the Page prediction of the diagnosed state
                     (0: no prediction) */
} bps_model_instance;

int bps_model_instance_create(const bps_model_spec *spec, int n, uint64_t seed, uint32_t sample,
                              bps_repr repr, bps_model_instance **out);
int bps_model_instance_destroy(bps_model_instance **m);

typedef enum { BPS_GRAD_ADJOINT = 0, BPS_GRAD_SHIFT } bps_grad_method;
/* Cost (1/N) sum_x C_x and its gradient (nparams entries; NULL for the cost only). */
int bps_model_cost_grad(const bps_model_instance *m, const double *theta,
                        bps_grad_method method, double *cost, double *grad);

/* Evaluate a width pattern such as "2,n,2" at n; returns the number of entries. */
int bps_pattern_eval(const char *pattern, int n, int *widths, int max, int *count);

#endif

/* model: the QNN models of bpscan, instantiated per (n, sample).
 *
 * A model specification (bps_model_spec in spec.h, filled from a job file or by hand) plus the
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
#include "bpscan/spec.h"
#include "bpscan/state.h"

/* The training data and cost of an instance as ensembles, for the exact-moments engines
 * (moments.h): C = (1/N) sum_x [c0 + w X_x], with X_x read off the output register. The
 * drawn instance (inputs, costs) is one sample of this. */
typedef enum {
  BPS_OBS_GLOBAL = 0, /* X = Tr[(|phi><phi| on qubits q0..q0+nq-1) rho], phi the target */
  BPS_OBS_LOCAL,      /* X = (1/nq) sum_j Tr[(|psi_j><psi_j| on qubit q0+j) rho] */
  BPS_OBS_PAULI       /* X = Tr[(P on qubits q0..q0+nq-1) rho], P = pauli (I allowed) */
} bps_obs_kind;

typedef struct {
  bps_obs_kind kind;
  int q0, nq; /* the output qubits the cost reads */
  double c0, w;
  bps_target_kind target; /* GLOBAL, LOCAL: zero |0..0>, product (Haar state per qubit),
                              unitary (a Haar state on the nq qubits: V|phi_x>, see below) */
  char pauli[BPS_MAX_QUBITS + 1];
  bps_input_kind inputs; /* input states on the q_in input qubits */
  int pairs;             /* N */
  int target_of_input;   /* 1: target_x = V |phi_x> with one Haar V per sample */
} bps_data_ens;

typedef struct bps_model_instance {
  bps_model_kind kind;
  int n;           /* scanned qubit count */
  int q_in, q_out; /* input and output register widths */
  int nparams;
  double *theta;      /* initial parameters for this sample */
  char **param_names; /* "l1.p2.g3", ... */
  int npairs;
  bps_state **inputs;   /* npairs input states (representation chosen at creation) */
  bps_cost **costs;     /* npairs costs C_x on the output register */
  bps_circuit *circuit; /* NULL for the QBM */
  void *impl;           /* model-private data (QBM Hamiltonian terms, ...) */
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
  double page_db;    /* environment dimension for the Page prediction of the diagnosed state
                     (0: no prediction) */
  bps_data_ens data; /* the data and cost as ensembles (circuit models) */
  int ensemble;      /* 1: built by bps_model_instance_create_ensemble (nothing drawn) */
} bps_model_instance;

int bps_model_instance_create(const bps_model_spec *spec, int n, uint64_t seed, uint32_t sample,
                              bps_repr repr, bps_model_instance **out);
int bps_model_instance_destroy(bps_model_instance **m);
/* The model's ensemble at n without a drawn instance (exact moments, moments.h): the
 * circuit records every random element (Haar blocks without matrices, placeholder axes and
 * strings, placeholder couplings), data and cost are described in m->data, no state is
 * allocated, and n may exceed the state-size limits (up to BPS_ENS_MAX_QUBITS qubits per
 * register). theta holds the fixed angles; inputs/costs are NULL. */
int bps_model_instance_create_ensemble(const bps_model_spec *spec, int n, bps_model_instance **m);

/* Cost (1/N) sum_x C_x and its gradient (nparams entries; NULL for the cost only). */
int bps_model_cost_grad(const bps_model_instance *m, const double *theta, bps_grad_method method,
                        double *cost, double *grad);
/* The same, also writing the diagnosed state (bps_model_diag_state, bitwise) to diag when
 * it is not NULL: taken from the forward pass of pair 0, no second run of the circuit. */
int bps_model_cost_grad_diag(const bps_model_instance *m, const double *theta,
                             bps_grad_method method, double *cost, double *grad, bps_state *diag);

/* The diagnosed state of the instance at theta, written to out (any state; resized): the
 * output state of training pair 0 (the model's output_state for models without a
 * circuit), reduced to the diagnosed qubits (ndiag, diag_qubits) when they are fewer than
 * the output register. */
int bps_model_diag_state(const bps_model_instance *m, const double *theta, bps_state *out);

#endif

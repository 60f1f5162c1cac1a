/* models.h (internal): what each model module provides to model.c, and the helpers they
 * share. A builder fills an instance allocated (zeroed) by bps_model_instance_create:
 * circuit (or cost_grad for the QBM), q_in, q_out, parameters with names, and the
 * training pairs (usually via bps_data_pairs). */
#ifndef BPSCAN_MODELS_H
#define BPSCAN_MODELS_H

#include "bpscan/model.h"
#include "bpscan/rng.h"

int bps_dqnn_build(const bps_model_spec *spec, int n, uint64_t seed, uint32_t sample,
                   bps_repr repr, bps_model_instance *m);
int bps_vh_build(const bps_model_spec *spec, int n, uint64_t seed, uint32_t sample,
                 bps_repr repr, bps_model_instance *m);
int bps_qbm_build(const bps_model_spec *spec, int n, uint64_t seed, uint32_t sample,
                  bps_repr repr, bps_model_instance *m);
int bps_hea_build(const bps_model_spec *spec, int n, uint64_t seed, uint32_t sample,
                  bps_repr repr, bps_model_instance *m);

/* Allocate theta (zeroed) and the name table for nparams parameters. */
int bps_model_alloc_params(bps_model_instance *m, int nparams);
/* Name parameter p (printf format), e.g. bps_model_name_param(m, p, "l%d.p%d.g%d", l, j, g). */
int bps_model_name_param(bps_model_instance *m, int p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Training pairs for models with an input register of q_in qubits and an output register
 * of q_out qubits (spec->inputs, targets, cost, pairs): fills m->npairs, m->inputs,
 * m->costs. Inputs: zero |0..0>, basis (uniform random basis state), haar (Haar state).
 * Targets: zero |0..0>, product (Haar single-qubit states), unitary V|phi_x> with one Haar
 * V per sample (needs q_in == q_out). Costs: global 1 - <phi|rho|phi>; local Sharma Eq. (4)
 * 1 - (1/q_out) sum_j <psi_j|rho_j|psi_j> (needs product-form targets: zero or product).
 * Streams: BPS_STREAM_INPUT / BPS_STREAM_TARGET with sub = pair index (V: sub = 0xffffffff). */
int bps_data_pairs(const bps_model_spec *spec, int n, int q_in, int q_out, uint64_t seed,
                   uint32_t sample, bps_repr repr, bps_model_instance *m);

/* Defined in vh.c, shared with the QBM (qbm.c): the registers n_v, n_h at n (spec->visible,
 * spec->hidden; hidden qubits first); the number of terms T = 3N + 9N(N-1)/2 of the random
 * two-local Hamiltonian on N qubits; term t as Pauli letters on its one or two qubits
 * (returns how many); the objective on the visible qubits as a cost (spec->vh_objective). */
int bps_vh_registers(const bps_model_spec *spec, int n, int *nv, int *nh);
int bps_vh_nterms(int N);
int bps_vh_term(int N, int t, char pauli[3], int qubits[2]);
int bps_vh_objective_cost(const bps_model_spec *spec, int n, int nv, int nh, uint64_t seed,
                          uint32_t sample, bps_cost **out);
/* The objective as an ensemble (model.h bps_data_ens), for the exact moments. */
int bps_vh_objective_ens(const bps_model_spec *spec, int nv, int nh, bps_data_ens *d);

/* Kraus operators (2x2 row-major, back to back) of the local noise channel with
 * probability p; returns their number (0 for NONE and GLOBAL_DEPOLARIZING). */
int bps_noise_kraus(bps_noise_kind kind, double p, bps_cplx K[4 * 4]);

/* The noise of a circuit model (spec->noise, noise_p, noise_placement), validated once:
 * a local channel (nkraus Kraus operators K, placed after every gate or after every layer)
 * or global depolarising after every layer. */
typedef struct {
  int local; /* Kraus operators of the local channel (0: none) */
  bps_cplx K[16];
  int global; /* global depolarising after each layer */
  double p;
  bps_noise_placement place;
} bps_noise_plan;

int bps_noise_plan_make(const bps_model_spec *spec, bps_noise_plan *nz);
/* The local channel on each of the k qubits, when placed after gates. */
int bps_noise_after_gate(bps_circuit *c, const bps_noise_plan *nz, int k, const int *qubits);
/* After a layer on qubits 0..n-1: the local channel on each (placement layer) and/or global
 * depolarising on all of them. */
int bps_noise_after_layer(bps_circuit *c, const bps_noise_plan *nz, int n);

#endif

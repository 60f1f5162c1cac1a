/* moments: exact second moments of a model ensemble — E[C], Var[C], E[dC/dtheta_k] and
 * Var[dC/dtheta_k] — with no sampling error (shared/moments.md; README "Exact moments").
 *
 * A model instance built by the ordinary builders carries, next to its drawn values, the
 * ensemble of every random element (circuit.h: Haar blocks, random axes and Pauli strings,
 * Gaussian generator scales, uniform or fixed angles; model.h bps_data_ens: inputs, targets,
 * pairs). The engines average the two-copy circuit over these ensembles exactly:
 *
 *   E[C^2] = Tr[(O (x) O) E(U (x) U)(rho (x) rho)],  E[(d_k C)^2] = the same with the
 *   derivative map of gate k on both copies; all per-element averaged maps multiply.
 *
 * Engines (each a representation of the two-copy operator, run over the one circuit
 * program by the executor in src/moments/):
 *   chain   E1 Haar label chain: `haar` DQNNs (any widths and depth, local noise, global
 *           depolarising); two labels {1, F} per qubit, cost linear in n.
 *   pauli   E2 sparse Pauli pairs with light cones: every uniform-angle family (toy, brick,
 *           pauli, nisq, hea mcclean/alt, vh with one layer) and every noise channel;
 *           local costs of shallow circuits cost O(1) per parameter in n.
 *   mps     E3 two-copy MPS along the qubit line (16-dimensional sites): global costs of
 *           shallow 1-D circuits (brick, alt); exact while the SVDs drop only zeros.
 *   dense   E0 dense two-copy averaging (16^q entries): everything, small q; the reference.
 * Values are long double (x86-64 extended precision: exponents to 2^-16382), so variances
 * of 2^-4000 at n = 1000 keep full relative precision; result files store doubles plus log2.
 * chain and pauli compute in long double; mps in double tensors with a power-of-two exponent
 * (no underflow, 53-bit rounding), dense in double complex (bps_mom_precision says which).
 *
 * Not covered: the QBM (Gibbs states); vh with >= 2 layers (the couplings are shared across
 * layers, so the layers are not independent); noise after a random Pauli rotation placed on
 * the drawn string's support; targets = unitary with random inputs and several pairs (the
 * shared V couples input and target across pairs). bps_mom_create refuses these by name.
 */
#ifndef BPSCAN_MOMENTS_H
#define BPSCAN_MOMENTS_H

#include "bpscan/model.h"
#include "bpscan/result.h" /* bps_mom_log2 */

typedef enum {
  BPS_MOM_AUTO = 0,
  BPS_MOM_CHAIN,
  BPS_MOM_PAULI,
  BPS_MOM_MPS,
  BPS_MOM_DENSE
} bps_mom_engine;

const char *bps_mom_engine_name(bps_mom_engine e); /* "auto", "chain", ... */

typedef struct {
  long pair_budget; /* pauli: > 0 truncates to this many pairs, giving certified bounds */
  long max_bytes;   /* memory one evaluation may use (0: no limit) */
} bps_mom_opts;

/* One exact value, or certified bounds lo <= v <= hi (exact = 0). */
typedef struct {
  long double v, lo, hi;
  int exact;
} bps_mom_value;

/* Engine statistics of one evaluation (maxima over its passes). */
typedef struct {
  long peak_pairs;     /* pauli: largest number of Pauli pairs held */
  int bond_dim;        /* mps: largest bond dimension */
  long double dropped; /* pauli with a budget: mass dropped (0 when exact) */
} bps_mom_stats;

typedef struct bps_mom bps_mom; /* a prepared problem: one model ensemble at one n */

/* Prepare the moments of the ensemble of instance m (built by bps_model_instance_create or
 * bps_model_instance_create_ensemble). eng = AUTO picks the cheapest exact engine. Refusals
 * of the ensemble (a model or option no engine can do exactly) are BPS_ERR_JOB with the
 * reason; with AUTO, a model every engine predicts too big (or impossible) is
 * BPS_ERR_TOO_BIG with each engine's reason, and so is a pauli pass whose pair set outgrows
 * o->max_bytes shared by the item threads. */
int bps_mom_create(const bps_model_instance *m, bps_mom_engine eng, const bps_mom_opts *o,
                   bps_mom **out);
void bps_mom_destroy(bps_mom **M);
bps_mom_engine bps_mom_engine_of(const bps_mom *M);
/* The arithmetic of M's engine, e.g. "long double (x87 extended: ...)" (attribute precision). */
const char *bps_mom_precision(const bps_mom *M);

/* E[C] and Var[C]. */
int bps_mom_cost(const bps_mom *M, bps_mom_value *mean, bps_mom_value *var, bps_mom_stats *st);
/* E[d_p C] and Var[d_p C] for parameter p. Thread-safe: several threads may evaluate
 * different parameters of one prepared problem at once. */
int bps_mom_grad(const bps_mom *M, int p, bps_mom_value *mean, bps_mom_value *var,
                 bps_mom_stats *st);
/* E[Tr rho_d^2] of the diagnosed output register (model.h ndiag/diag_qubits; the whole
 * output when ndiag = 0); NaN when the engine cannot give it within its limits. */
int bps_mom_purity(const bps_mom *M, bps_mom_value *purity);

/* Predicted cost of one gradient evaluation of engine e (seconds on one core, bytes), from
 * the circuit structure; INFINITY with a reason in `why` when e cannot do the problem. */
int bps_mom_predict(const bps_model_instance *m, bps_mom_engine e, const bps_mom_opts *o,
                    double *seconds, double *bytes, char *why, size_t whylen);


#endif

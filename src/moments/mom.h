/* mom.h (internal to src/moments): the executor's view of a model ensemble and the engine
 * interface. moments.c prepares a mom_prob from a model instance (wires, per-operation
 * averaged data) and asks an engine for "passes": one scalar
 *
 *   pass(in, obs, p, mode) = Tr[ obs . E( U (x) U )( in ) ]   (two copies of the register)
 *
 * with the derivative map of parameter p on no copy (mode 0), copy 1 (mode 1) or both
 * copies (mode 2). moments.c combines passes into E[C], Var[C], E[dC], Var[dC]. The chain
 * engine also has mode MOM_CONNECTED (p < 0): the two-copy value minus that of the product
 * of the copies' one-copy mean states, Tr[obs (Y - M (x) M)], summed without that
 * subtraction (Var[C] of a projector cost whose mean is O(1), e.g. n,1 Haar DQNNs, is
 * 2^-(n+3): SAME - ONE^2 would lose it to rounding from n ~ 25).
 *
 * Two-copy operators are written in the Pauli-pair basis: a site vector holds 16 real
 * coefficients, index 4a + b for sigma_a (x) sigma_b (letter a on copy 1, b on copy 2;
 * I X Y Z = 0 1 2 3). Inputs and observables are sums of products of site vectors, or
 * (local costs) the marker sum over pairs of sites (j, j').
 *
 * Rotation averages use the moment table mom[a][m] = E[(2s)^a e^{i m phi}] (a = 0..2,
 * m = 0..2; phi = 2 s theta the rotation angle of exp(-i s theta P)), filled once per
 * operation from its ensembles, so no engine repeats the angle mathematics. */
#ifndef BPSCAN_MOM_H
#define BPSCAN_MOM_H

#include <complex.h>

#include "bpscan/moments.h"

enum { MOM_I = 0, MOM_X = 1, MOM_Y = 2, MOM_Z = 3 };
enum { MOM_ONE = 0, MOM_SAME = 1, MOM_CROSS = 2 }; /* pass kinds (moments.c) */
enum { MOM_CONNECTED = 3 };                        /* pass mode (chain engine, p < 0) */
#define MOM_MAXTERM 4

/* Per operation: what the executor precomputes for every engine. */
typedef struct {
  const bps_op *op;
  int q_before, q_after;    /* register width around the op */
  int *wire;                /* global wires of op->qubits (op->k of them) */
  int *ewire;               /* BPS_ENS_PAULI: global wires of op->ens_qubits */
  double complex mom[3][3]; /* rotations: E[(2s)^a e^{i m phi}] */
  double *ptm;              /* fixed UNITARY / KRAUS with k <= 2: Heisenberg Pauli transfer
                            matrix, 4^k x 4^k row-major: N^dag(P) = sum_Q ptm[P*4^k+Q] Q */
} mom_op;

/* A sum of nterm products of site vectors over nq qubits: sum_t coef[t] (x)_q site(t, q). */
typedef struct {
  int nq, nterm;
  long double coef[MOM_MAXTERM];
  double *site; /* [nterm][nq][16] */
} mom_prod;

static inline const double *mom_site(const mom_prod *p, int t, int q) {
  return p->site + ((size_t)t * (size_t)p->nq + (size_t)q) * 16;
}

/* The observable of a pass on the nq cost qubits q0.. of the output register: a product sum
 * (local = 0) or lcoef * sum_{j, j'} (x)_q lsite[role(q; j, j')] with roles 0 none, 1 A
 * (q = j != j'), 2 B (q = j' != j), 3 AB (q = j = j'); one-copy passes have no B: then the
 * sum is over j alone (two = 0). */
typedef struct {
  int q0, nq;
  int local, two;
  mom_prod prod;
  double lsite[4][16];
  long double lcoef;
} mom_obs;

typedef struct {
  const bps_model_instance *m;
  const bps_circuit *c;
  int nops;
  mom_op *ops;
  int nwires;    /* global wires: every qubit that ever lives in the register */
  int *in_wire;  /* [q_in] */
  int *out_wire; /* [q_out] */
  int q_max;     /* widest register */
  int nparams;
  int *param_op; /* [nparams] the op of each parameter (-1: none) */
  bps_data_ens data;
  int ndiag, *diag; /* diagnosed output qubits */
} mom_prob;

typedef struct {
  long peak_pairs;
  int bond_dim;
  long double dropped;
} mom_pass_stats;

/* An engine: prepare (check the problem, precompute; refusals are BPS_ERR_JOB with the
 * reason), pass (thread-safe on a prepared state; kind = MOM_ONE/SAME/CROSS when in and obs
 * are that pass kind's standard input and observable, -1 otherwise: engines may cache
 * per-kind work in prepare), release, predict (seconds, bytes of one gradient evaluation;
 * INFINITY when impossible, with why). */
typedef struct {
  bps_mom_engine id;
  int (*prepare)(const mom_prob *P, const bps_mom_opts *o, void **st);
  int (*pass)(const mom_prob *P, const void *st, int kind, const mom_prod *in,
              const mom_obs *obs, int p, int mode, long double *out, mom_pass_stats *ps);
  void (*release)(void *st);
  int (*predict)(const mom_prob *P, const bps_mom_opts *o, double *seconds, double *bytes,
                 char *why, size_t whylen);
} mom_engine;

extern const mom_engine bps_mom_engine_dense, bps_mom_engine_pauli, bps_mom_engine_chain,
    bps_mom_engine_mps;

/* ---- shared helpers (common.c) */

/* Prepare / free the executor's view of instance m. */
int mom_prob_make(const bps_model_instance *m, mom_prob *P);
void mom_prob_free(mom_prob *P);

/* Pauli letters: product a.b = phase * letter; phase as a power of i (0..3). */
static inline int mom_pmul(int a, int b, int *iphase) {
  static const signed char ph[4][4] = {{0, 0, 0, 0}, {0, 0, 1, 3}, {0, 3, 0, 1}, {0, 1, 3, 0}};
  *iphase = ph[a][b];
  return a ^ b;
}
/* Do letters a and b anticommute? */
static inline int mom_anti(int a, int b) { return a && b && a != b; }
int mom_letter(char c); /* 'I','X','Y','Z' -> 0..3 */

/* Heisenberg Pauli transfer matrix of a k-qubit unitary (or of a Kraus channel: nk
 * operators), 4^k x 4^k, R[P*4^k + Q] = Tr(Q N^dag(P)) / 2^k. Qubit 0 of the gate is the
 * most significant letter of P's index (P = sum_u letter_u 4^(k-1-u)). */
int mom_ptm(int k, int nk, const bps_cplx *K, double *R);

/* Site vectors of common single-qubit two-copy operators. */
void mom_site_zero(double v[16], int copies); /* |0><0| (x) |0><0|, or |0><0| (x) 1/2 */
void mom_site_mixed(double v[16]);            /* 1/2 (x) 1/2 */
void mom_site_basis(double v[16]);            /* E |b><b| (x) |b><b| = (II + ZZ)/4 */
void mom_site_identity(double v[16]);         /* 1 (x) 1 */
void mom_site_swap(double v[16]);             /* F = (II + XX + YY + ZZ)/2 */

int mom_prod_alloc(mom_prod *p, int nq, int nterm);
void mom_prod_free(mom_prod *p);

/* The input and observable of pass `kind` (MOM_ONE, MOM_SAME, MOM_CROSS). */
int mom_input(const mom_prob *P, int kind, mom_prod *in);
int mom_observable(const mom_prob *P, int kind, mom_obs *obs);
/* The purity observable: F on the diagnosed qubits, 1 (x) 1 elsewhere (product). */
int mom_purity_obs(const mom_prob *P, mom_obs *obs);
void mom_obs_free(mom_obs *o);

#endif

/* vh: the visible/hidden unitary network of Ortiz Marrero, Kieferova, Wiebe (PRX Quantum 2,
 * 040316; physics.md Secs. 3.1(a), 3.9), plus the helpers it shares with the QBM (qbm.c).
 *
 * Registers. n_v = pattern spec->visible at n, n_h = pattern spec->hidden at n, N = n_h + n_v
 * qubits: the HIDDEN qubits come first (0 .. n_h-1) and the VISIBLE qubits LAST
 * (n_h .. N-1), as in Marrero Fig. 1a ("the visible units are the last registers").
 *
 * Term list of the random two-local Hamiltonian, Eq. (10), on all N qubits, T = 3N + 9N(N-1)/2
 * terms in this fixed order (t counts from 0):
 *   t = 3i + a                     single-qubit sigma_a^i,  i = 0..N-1, a = 0,1,2 = X,Y,Z
 *   t = 3N + 9 p + 3a + b          two-qubit sigma_a^i sigma_b^j for the p-th pair (i < j) in
 *                                  lexicographic order (0,1), (0,2), ..., (0,N-1), (1,2), ...
 * (bps_vh_term decodes t; the QBM uses the same list.)
 *
 * Unitary network. Per sample one set of couplings J_t, drawn in term order from the stream
 * (seed, n, sample, BPS_STREAM_HAMILTONIAN, sub 0): J_t ~ N(0, onsite_sigma^2) for the
 * single-qubit terms, N(0, coupling_sigma^2) for the two-qubit terms. The circuit is
 * vh_layers repetitions of the product over the terms of exp(-i theta J_t h_t) (Eq. (9),
 * BPS_OP_PROT with scale J_t), term 0 applied first in every layer:
 *   U = prod_{l=L..1} [ e^{-i theta_{l,T-1} J_{T-1} h_{T-1}} ... e^{-i theta_{l,0} J_0 h_0} ].
 * One parameter per (layer, term): index p = (l-1) T + t, name "l<l>.t<t>" (layer l from 1,
 * term t from 0 as above), initial value uniform in [0, 2 pi) from (seed, n, sample,
 * BPS_STREAM_PARAMS, sub 0) in parameter order. The couplings are the same in every layer.
 * Input: one pair, |0..0> on all N qubits.
 *
 * Objective (the cost) on the visible qubits only, spec->vh_objective:
 *   pauli      Tr[(P_v (x) 1_h) rho], P_v = spec->vh_pauli (n_v letters I, X, Y, Z, first
 *              letter on visible qubit 0 = register qubit n_h). Written for the cost framework
 *              as Pi_+ - Pi_- (the +-1 eigenprojectors of the non-identity part, product
 *              eigenbases), c0 = 0.
 *   projector  Tr[(|0..0><0..0|_v (x) 1_h) rho].
 *   fidelity   1 - <phi| rho_v |phi>, phi a Haar state on the visible qubits, fixed per sample,
 *              from (seed, n, sample, BPS_STREAM_TARGET, sub 0).
 * The couplings must be non-zero (a zero J_t would make theta_t idle), so the vh model needs
 * onsite_sigma > 0 and coupling_sigma > 0.
 *
 * Noise (spec->noise, noise_p, noise_placement; as for the hea model): a local channel
 * (bps_noise_kraus) on each qubit of every term gate right after it (after_gate) or on every
 * qubit after each layer (after_layer); global_depolarizing on all N qubits after each layer
 * (needs placement after_layer). noise_p = 0 adds no operations.
 *
 * Diagnostics: ndiag = n_v, diag_qubits = the visible qubits; page_db = D_h = 2^n_h (the
 * Page prediction for the visible part of a pure N-qubit state) when noiseless, 0 (no
 * prediction: the global state is mixed) with noise. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/gates.h"
#include "bpscan/linalg.h"
#include "models.h"

#define VH_MAX_PAULI_SUPPORT 10 /* eigenprojector matrices are 2^k x 2^(k-1) */

static const char XYZ[] = "XYZ";

int bps_vh_registers(const bps_model_spec *spec, int n, int *nv, int *nh) {
  int cnt = 0, rc = bps_pattern_eval(spec->visible, n, nv, 1, &cnt);
  BPS_CHECK(!rc, rc, "visible pattern '%s' at n = %d (one entry, >= 1 qubit)", spec->visible, n);
  rc = bps_pattern_eval(spec->hidden, n, nh, 1, &cnt);
  BPS_CHECK(!rc, rc, "hidden pattern '%s' at n = %d (one entry, >= 1 qubit)", spec->hidden, n);
  BPS_CHECK(*nv + *nh <= BPS_MAX_QUBITS, BPS_ERR_ARG,
            "n_v + n_h = %d + %d = %d qubits at n = %d exceeds the limit of %d", *nv, *nh,
            *nv + *nh, n, BPS_MAX_QUBITS);
  return BPS_OK;
}

/* The objective as an ensemble (model.h bps_data_ens): one pair, input |0..0>. */
int bps_vh_objective_ens(const bps_model_spec *spec, int nv, int nh, bps_data_ens *d) {
  *d = (bps_data_ens){
      .q0 = nh, .nq = nv, .inputs = BPS_INPUT_ZERO, .pairs = 1, .target = BPS_TARGET_ZERO};
  switch (spec->vh_objective) {
  case BPS_VH_OBJ_PAULI:
    d->kind = BPS_OBS_PAULI;
    d->w = 1.0;
    for (int i = 0; i < nv; i++) d->pauli[i] = (char)toupper((unsigned char)spec->vh_pauli[i]);
    d->pauli[nv] = 0;
    return BPS_OK;
  case BPS_VH_OBJ_PROJECTOR: d->kind = BPS_OBS_GLOBAL, d->w = 1.0; return BPS_OK;
  case BPS_VH_OBJ_FIDELITY:
    d->kind = BPS_OBS_GLOBAL, d->c0 = 1.0, d->w = -1.0, d->target = BPS_TARGET_UNITARY;
    return BPS_OK;
  }
  BPS_CHECK(0, BPS_ERR_ARG, "unknown vh objective %d", (int)spec->vh_objective);
}

int bps_vh_nterms(int N) { return 3 * N + 9 * N * (N - 1) / 2; }

int bps_vh_term(int N, int t, char pauli[3], int qubits[2]) {
  if (t < 3 * N) {
    qubits[0] = t / 3;
    qubits[1] = -1;
    pauli[0] = XYZ[t % 3];
    pauli[1] = 0;
    return 1;
  }
  int u = t - 3 * N, pair = u / 9, ab = u % 9, i = 0;
  while (pair >= N - 1 - i) {
    pair -= N - 1 - i;
    i++;
  }
  qubits[0] = i;
  qubits[1] = i + 1 + pair;
  pauli[0] = XYZ[ab / 3];
  pauli[1] = XYZ[ab % 3];
  pauli[2] = 0;
  return 2;
}

/* Eigenvector s (0: eigenvalue +1, 1: -1) of the single-qubit Pauli letter, component r. */
static bps_cplx pauli_eigvec(char letter, int s, int r) {
  const double h = 1.0 / sqrt(2.0);
  switch (letter) {
  case 'Z': return r == s ? 1.0 : 0.0;
  case 'X': return (s && r) ? -h : h;
  default: /* Y: (1, i)/sqrt2 and (1, -i)/sqrt2 */
    if (!r) return h;
    return s ? -I * h : I * h;
  }
}

static int pauli_cost(const bps_model_spec *spec, int nv, int nh, bps_cost *cost) {
  const char *P = spec->vh_pauli;
  int len = (int)strnlen(P, sizeof spec->vh_pauli);
  BPS_CHECK(len == nv, BPS_ERR_ARG,
            "vh_pauli \"%s\" has %d letters but there are n_v = %d visible qubits", P, len, nv);
  char letters[BPS_MAX_QUBITS];
  int qs[BPS_MAX_QUBITS], k = 0;
  for (int i = 0; i < nv; i++) {
    char ch = (char)toupper((unsigned char)P[i]);
    BPS_CHECK(ch == 'I' || ch == 'X' || ch == 'Y' || ch == 'Z', BPS_ERR_ARG,
              "vh_pauli \"%s\": letters must be I, X, Y or Z", P);
    if (ch != 'I') {
      letters[k] = ch;
      qs[k++] = nh + i;
    }
  }
  BPS_CHECK(k >= 1, BPS_ERR_ARG, "vh_pauli \"%s\" is the identity: the objective is constant", P);
  BPS_CHECK(k <= VH_MAX_PAULI_SUPPORT, BPS_ERR_ARG,
            "vh_pauli \"%s\" acts on %d qubits; at most %d non-identity letters are supported",
            P, k, VH_MAX_PAULI_SUPPORT);
  int rc = BPS_OK;
  int D = 1 << k, half = D / 2;
  bps_cplx *F[2] = {bps_alloc((size_t)D * (size_t)half), bps_alloc((size_t)D * (size_t)half)};
  BPS_CHECK_GOTO(F[0] && F[1], BPS_ERR_MEM, "out of memory");
  int col[2] = {0, 0};
  for (int b = 0; b < D; b++) { /* product eigenvector b: bit u of b = sign on letter u */
    int sgn = __builtin_popcount((unsigned)b) & 1;
    bps_cplx *v = F[sgn] + (size_t)D * (size_t)col[sgn]++;
    for (int r = 0; r < D; r++) {
      bps_cplx a = 1;
      for (int u = 0; u < k; u++)
        a *= pauli_eigvec(letters[u], (b >> (k - 1 - u)) & 1, (r >> (k - 1 - u)) & 1);
      v[r] = a;
    }
  }
  BPS_CALL_GOTO(bps_cost_add(cost, +1.0, k, qs, half, F[0]));
  BPS_CALL_GOTO(bps_cost_add(cost, -1.0, k, qs, half, F[1]));
cleanup:
  bps_free(F[0]);
  bps_free(F[1]);
  return rc;
}

int bps_vh_objective_cost(const bps_model_spec *spec, int n, int nv, int nh, uint64_t seed,
                          uint32_t sample, bps_cost **out) {
  int rc = BPS_OK;
  bps_cplx *phi = NULL;
  const int N = nv + nh;
  int vis[BPS_MAX_QUBITS];
  for (int i = 0; i < nv; i++) vis[i] = nh + i;
  *out = NULL;
  switch (spec->vh_objective) {
  case BPS_VH_OBJ_PAULI:
    BPS_CALL_GOTO(bps_cost_create(N, 0.0, out));
    BPS_CALL_GOTO(pauli_cost(spec, nv, nh, *out));
    break;
  case BPS_VH_OBJ_PROJECTOR:
  case BPS_VH_OBJ_FIDELITY: {
    BPS_CHECK_GOTO(nv <= BPS_OP_MAXQ, BPS_ERR_ARG, "n_v = %d visible qubits (at most %d)", nv,
                   BPS_OP_MAXQ);
    bps_idx Dv = (bps_idx)1 << nv;
    phi = bps_alloc((size_t)Dv);
    BPS_CHECK_GOTO(phi, BPS_ERR_MEM, "out of memory");
    memset(phi, 0, sizeof(bps_cplx) * (size_t)Dv);
    int fid = spec->vh_objective == BPS_VH_OBJ_FIDELITY;
    if (fid) {
      bps_rng r;
      bps_rng_init(&r, seed, (uint32_t)n, sample, BPS_STREAM_TARGET, 0);
      bps_haar_state(&r, Dv, phi);
    } else {
      phi[0] = 1;
    }
    BPS_CALL_GOTO(bps_cost_create(N, fid ? 1.0 : 0.0, out));
    BPS_CALL_GOTO(bps_cost_add(*out, fid ? -1.0 : 1.0, nv, vis, 1, phi));
    break;
  }
  default:
    BPS_FAIL_GOTO(BPS_ERR_ARG, "unknown vh objective %d (pauli, projector or fidelity)",
                  (int)spec->vh_objective);
  }
cleanup:
  bps_free(phi);
  if (rc) bps_cost_destroy(out); /* a failed call leaves *out NULL */
  return rc;
}

int bps_vh_build(const bps_model_spec *spec, int n, uint64_t seed, uint32_t sample,
                 bps_repr repr, bps_model_instance *m) {
  int nv, nh;
  BPS_CALL(bps_vh_registers(spec, n, &nv, &nh));
  const int N = nv + nh, T = bps_vh_nterms(N), L = spec->vh_layers;
  BPS_CHECK(L >= 1, BPS_ERR_ARG, "vh_layers = %d (need >= 1)", L);
  BPS_CHECK((long long)T * L <= INT_MAX / 2, BPS_ERR_ARG,
            "vh: %d layers x %d terms is too many parameters", L, T);
  BPS_CHECK(spec->onsite_sigma > 0 && isfinite(spec->onsite_sigma), BPS_ERR_ARG,
            "vh needs onsite_sigma > 0 (got %g): a zero coupling leaves its angle idle",
            spec->onsite_sigma);
  BPS_CHECK(spec->coupling_sigma > 0 && isfinite(spec->coupling_sigma), BPS_ERR_ARG,
            "vh needs coupling_sigma > 0 (got %g): a zero coupling leaves its angle idle",
            spec->coupling_sigma);
  bps_noise_plan nz;
  BPS_CALL(bps_noise_plan_make(spec, &nz));
  m->q_in = m->q_out = N;
  m->ndiag = nv;
  for (int i = 0; i < nv; i++) m->diag_qubits[i] = nh + i;
  m->page_db = (nz.local || nz.global) ? 0.0 : ldexp(1.0, nh);

  int rc = BPS_OK;
  double *J = malloc(sizeof(double) * (size_t)T);
  BPS_CHECK_GOTO(J, BPS_ERR_MEM, "out of memory");
  bps_rng r;
  bps_rng_init(&r, seed, (uint32_t)n, sample, BPS_STREAM_HAMILTONIAN, 0);
  for (int t = 0; t < T; t++) {
    char p[3];
    int qs[2];
    int k = bps_vh_term(N, t, p, qs);
    /* an ensemble records J_t ~ N(0, sigma^2); sigma is a placeholder for the draw */
    J[t] = (k == 1 ? spec->onsite_sigma : spec->coupling_sigma) *
           (m->ensemble ? 1.0 : bps_rng_normal(&r));
    BPS_CHECK_GOTO(J[t] != 0.0, BPS_ERR_NUMERIC, "coupling J_%d drawn as exactly 0 (sample %u)",
                   t, sample);
  }
  BPS_CALL_GOTO(bps_model_alloc_params(m, T * L));
  bps_rng_init(&r, seed, (uint32_t)n, sample, BPS_STREAM_PARAMS, 0);
  for (int p = 0; p < T * L; p++) m->theta[p] = bps_rng_angle(&r);
  BPS_CALL_GOTO(m->ensemble ? bps_circuit_create_ensemble(N, &m->circuit)
                            : bps_circuit_create(N, &m->circuit));
  for (int l = 0; l < L; l++) {
    for (int t = 0; t < T; t++) {
      char p[3];
      int qs[2];
      bps_vh_term(N, t, p, qs);
      int idx = l * T + t;
      BPS_CALL_GOTO(bps_circuit_prot(m->circuit, p, qs, J[t], idx));
      /* J_t ~ N(0, sigma^2), drawn once per sample and shared by the layers */
      BPS_CALL_GOTO(bps_circuit_tag_last(m->circuit, BPS_ENS_GAUSS,
                                         strlen(p) == 1 ? spec->onsite_sigma : spec->coupling_sigma,
                                         0, NULL));
      BPS_CALL_GOTO(bps_circuit_tag_shared(m->circuit, t));
      BPS_CALL_GOTO(bps_model_name_param(m, idx, "l%d.t%d", l + 1, t));
      BPS_CALL_GOTO(bps_noise_after_gate(m->circuit, &nz, (int)strlen(p), qs));
    }
    BPS_CALL_GOTO(bps_noise_after_layer(m->circuit, &nz, N));
  }

  BPS_CALL_GOTO(bps_vh_objective_ens(spec, nv, nh, &m->data));
  m->npairs = 1;
  if (m->ensemble) goto cleanup; /* nothing drawn */
  m->inputs = calloc(1, sizeof(bps_state *));
  m->costs = calloc(1, sizeof(bps_cost *));
  BPS_CHECK_GOTO(m->inputs && m->costs, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(bps_state_create(repr, N, &m->inputs[0]));
  BPS_CALL_GOTO(bps_vh_objective_cost(spec, n, nv, nh, seed, sample, &m->costs[0]));
cleanup:
  free(J);
  return rc;
}

/* qbm: quantum Boltzmann machine on visible + hidden qubits (Ortiz Marrero et al. Sec. 3.1(b),
 * Thm 4; physics.md Secs. 3.6, 3.9).
 *
 * Registers and terms as in vh.c: N = n_h + n_v qubits, hidden first, visible last, and the
 * full term list of Eq. (10) on ALL N qubits (every sigma_a^i and every sigma_a^i sigma_b^j,
 * i < j: the complete visible/hidden graph), T = 3N + 9N(N-1)/2 terms in the documented order.
 *
 *   H(theta) = sum_t theta_t h_t,   rho(theta) = e^{-H} / Tr e^{-H},
 *
 * by exact diagonalisation (dense, N <= 12; a call holds about six D x D complex matrices,
 * D = 2^N: 100 MB at N = 10, 1.6 GB at N = 12), the spectrum shifted by E_min. Parameter t is
 * the coefficient of term t, named "h.t<t>"; initial values theta_t ~ N(0, onsite_sigma^2)
 * (single-qubit terms) or N(0, coupling_sigma^2) (two-qubit terms) from (seed, n, sample,
 * BPS_STREAM_PARAMS, sub 0) in term order. Marrero's numerics use onsite N(0, 0.01) and
 * offsite N(0, 1): onsite_sigma = 0.1, coupling_sigma = 1 (the spec defaults are 1 and 1).
 *
 * Cost: the visible objective of vh.c (pauli / projector / fidelity, spec->vh_objective),
 * C = c0 + Tr[(O_v (x) 1_h) rho(theta)], via m->cost_grad. The gradient is EXACT:
 *   d rho/d theta_t = -(1/Z) int_0^1 e^{-sH} h_t e^{-(1-s)H} ds + rho Tr[rho h_t],
 * in the eigenbasis H = V diag(E) V^dag with the divided differences
 *   K_ab = (p_a - p_b)/(E_b - E_a)  (p = e^{-E}/Z; K_aa = p_a), evaluated stably as
 *   p_low (1 - e^{-|E_a - E_b|})/|E_a - E_b| with p_low the weight of the lower level,
 * so that dC/dtheta_t = -Tr[G h_t] + Tr[O rho] Tr[rho h_t] with G = V (V^dag O V o K) V^dag
 * (o = elementwise product): one eigendecomposition and five D x D products per call, then
 * O(D) per term. The parameter-shift method does not apply (the QBM is not a rotation
 * circuit): method = BPS_GRAD_SHIFT with a gradient requested is BPS_ERR_ARG; BPS_GRAD_FUSED
 * is the same exact gradient as BPS_GRAD_ADJOINT.
 *
 * Instance layout: circuit = NULL; cost_grad and output_state hooks (output_state writes
 * rho(theta) in the representation of the destination state); npairs = 1 with costs[0] = the
 * visible objective on the N qubits and inputs[0] = NULL (a Gibbs state has no input);
 * impl = the term masks and the dense observable (impl_free). Diagnostics: ndiag = n_v,
 * diag_qubits = the visible qubits, page_db = 0 (rho is mixed: no Page prediction). The hooks
 * allocate their own workspace, so concurrent calls on one instance are safe. Noise does not
 * apply (spec->noise must be none). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/linalg.h"
#include "models.h"

#define QBM_MAX_QUBITS 12

typedef struct {
  int N, T;
  bps_idx D;
  bps_idx *xmask, *zmask; /* term t: P|j> = i^ny[t] (-1)^{popcount(j & z)} |j ^ x> */
  int *ny;
  double c0;
  bps_cplx *O; /* D x D column-major observable (the cost without c0) */
} qbm_impl;

static void qbm_free(void *p) {
  qbm_impl *q = p;
  if (!q) return;
  free(q->xmask);
  free(q->zmask);
  free(q->ny);
  bps_free(q->O);
  free(q);
}

static bps_cplx ipow(int k) {
  static const bps_cplx t[4] = {1, I, -1, -I};
  return t[k & 3];
}

/* Tr[X P_t] for a column-major D x D matrix X: sum_j X[j, j^x] phase_j. */
static bps_cplx trace_pauli(const qbm_impl *q, int t, const bps_cplx *X) {
  const bps_idx D = q->D, x = q->xmask[t], z = q->zmask[t];
  bps_cplx acc = 0;
  for (bps_idx j = 0; j < D; j++) {
    bps_cplx v = X[j + D * (j ^ x)];
    acc += (__builtin_popcountll((unsigned long long)(j & z)) & 1) ? -v : v;
  }
  return acc * ipow(q->ny[t]);
}

/* O += w (F F^dag on the term qubits) (x) 1, column-major D x D. */
static int expand_term(const qbm_impl *q, const bps_cost_term *T, bps_cplx *O) {
  const int k = T->k, K = 1 << k;
  bps_cplx *M = bps_alloc((size_t)K * (size_t)K);
  BPS_CHECK(M, BPS_ERR_MEM, "out of memory");
  for (int a = 0; a < K; a++) /* M = F F^dag, column-major */
    for (int b = 0; b < K; b++) {
      bps_cplx s = 0;
      for (int c = 0; c < T->m; c++)
        s += T->F[a + (size_t)K * c] * conj(T->F[b + (size_t)K * c]);
      M[a + (size_t)K * b] = s;
    }
  bps_idx bit[BPS_OP_MAXQ], mask = 0;
  for (int u = 0; u < k; u++) { /* sub-index bit k-1-u <-> register qubit T->qubits[u] */
    bit[u] = (bps_idx)1 << (q->N - 1 - T->qubits[u]);
    mask |= bit[u];
  }
  const bps_idx D = q->D;
  for (bps_idx i = 0; i < D; i++) {
    int si = 0;
    for (int u = 0; u < k; u++) si |= (i & bit[u]) ? 1 << (k - 1 - u) : 0;
    bps_idx base = i & ~mask;
    for (int sj = 0; sj < K; sj++) {
      bps_idx j = base;
      for (int u = 0; u < k; u++) j |= ((sj >> (k - 1 - u)) & 1) ? bit[u] : 0;
      O[i + D * j] += T->w * M[si + (size_t)K * sj];
    }
  }
  bps_free(M);
  return BPS_OK;
}

/* The core: cost, optional gradient (nparams = T entries) and optionally the Gibbs state,
 * either ROW-major D x D (rho_rm, for bps_state_set_dense) or as the column-major factor
 * V diag(sqrt p) (factor, for bps_state_set_factor). */
static int qbm_eval(const qbm_impl *q, const double *theta, double *cost, double *grad,
                    bps_cplx *rho_rm, bps_cplx *factor) {
  int rc = BPS_OK;
  const bps_idx D = q->D;
  const size_t DD = (size_t)(D * D);
  bps_cplx *V = bps_alloc(DD), *A = bps_alloc(DD), *B = bps_alloc(DD), *R = NULL;
  double *E = malloc(sizeof(double) * (size_t)D), *p = malloc(sizeof(double) * (size_t)D);
  BPS_CHECK_GOTO(V && A && B && E && p, BPS_ERR_MEM, "out of memory (QBM on %d qubits)", q->N);
  /* H = sum_t theta_t P_t: column j gets theta_t phase_j in row j ^ x */
  memset(V, 0, sizeof(bps_cplx) * DD);
  for (int t = 0; t < q->T; t++) {
    const bps_idx x = q->xmask[t], z = q->zmask[t];
    const bps_cplx f = theta[t] * ipow(q->ny[t]);
    for (bps_idx j = 0; j < D; j++)
      V[(j ^ x) + D * j] += (__builtin_popcountll((unsigned long long)(j & z)) & 1) ? -f : f;
  }
  BPS_CALL_GOTO(bps_lin_eigh((int)D, V, (int)D, E, 1));
  double Z = 0;
  for (bps_idx a = 0; a < D; a++) Z += (p[a] = exp(-(E[a] - E[0])));
  for (bps_idx a = 0; a < D; a++) p[a] /= Z;
  /* B = V^dag O V */
  bps_lin_gemm('N', 'N', D, D, D, 1, q->O, D, V, D, 0, A, D);
  bps_lin_gemm('C', 'N', D, D, D, 1, V, D, A, D, 0, B, D);
  double c = 0;
  for (bps_idx a = 0; a < D; a++) c += p[a] * creal(B[a + D * a]);
  *cost = q->c0 + c;
  if (factor)
    for (bps_idx b = 0; b < D; b++)
      for (bps_idx a = 0; a < D; a++) factor[a + D * b] = V[a + D * b] * sqrt(p[b]);
  if (grad || rho_rm) { /* A = V diag(p); rho = A V^dag (column-major) into B's place later */
    for (bps_idx b = 0; b < D; b++)
      for (bps_idx a = 0; a < D; a++) A[a + D * b] = V[a + D * b] * p[b];
  }
  if (grad) {
    R = bps_alloc(DD);
    BPS_CHECK_GOTO(R, BPS_ERR_MEM, "out of memory");
    bps_lin_gemm('N', 'C', D, D, D, 1, A, D, V, D, 0, R, D); /* R = rho */
    for (bps_idx b = 0; b < D; b++)                          /* B = (V^dag O V) o K */
      for (bps_idx a = 0; a < D; a++) {
        double dE = fabs(E[a] - E[b]), plo = E[a] <= E[b] ? p[a] : p[b];
        double K = dE > 0 ? plo * (-expm1(-dE)) / dE : plo;
        B[a + D * b] *= K;
      }
    bps_lin_gemm('N', 'N', D, D, D, 1, V, D, B, D, 0, A, D); /* A = V B */
    bps_lin_gemm('N', 'C', D, D, D, 1, A, D, V, D, 0, B, D); /* B = G = V B V^dag */
    for (int t = 0; t < q->T; t++)
      grad[t] = -creal(trace_pauli(q, t, B)) + c * creal(trace_pauli(q, t, R));
    if (rho_rm)
      for (bps_idx i = 0; i < D; i++)
        for (bps_idx j = 0; j < D; j++) rho_rm[i * D + j] = R[i + D * j];
  } else if (rho_rm) {
    bps_lin_gemm('N', 'C', D, D, D, 1, A, D, V, D, 0, B, D);
    for (bps_idx i = 0; i < D; i++)
      for (bps_idx j = 0; j < D; j++) rho_rm[i * D + j] = B[i + D * j];
  }
cleanup:
  bps_free(V);
  bps_free(A);
  bps_free(B);
  bps_free(R);
  free(E);
  free(p);
  return rc;
}

static int qbm_cost_grad(const bps_model_instance *m, const double *theta, int method,
                         double *cost, double *grad) {
  BPS_CHECK(m && m->impl && theta && cost, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(!grad || method != BPS_GRAD_SHIFT, BPS_ERR_ARG,
            "parameter shift does not apply to the QBM (use the exact gradient, method "
            "adjoint)");
  /* fused: the same exact gradient (the QBM has no rotation runs to fuse) */
  BPS_CHECK(!grad || method == BPS_GRAD_ADJOINT || method == BPS_GRAD_FUSED, BPS_ERR_ARG,
            "unknown gradient method %d", method);
  BPS_CALL(qbm_eval(m->impl, theta, cost, grad, NULL, NULL));
  return BPS_OK;
}

static int qbm_output_state(const bps_model_instance *m, const double *theta, bps_state *out) {
  BPS_CHECK(m && m->impl && theta && out, BPS_ERR_ARG, "NULL argument");
  int rc = BPS_OK;
  const qbm_impl *q = m->impl;
  bps_cplx *rho = bps_alloc((size_t)(q->D * q->D));
  BPS_CHECK_GOTO(rho, BPS_ERR_MEM, "out of memory (QBM state on %d qubits)", q->N);
  double c;
  if (out->repr == BPS_FACTORED) { /* rho = A A^dag with A = V diag(sqrt p): no second eigh */
    BPS_CALL_GOTO(qbm_eval(q, theta, &c, NULL, NULL, rho));
    BPS_CALL_GOTO(bps_state_set_factor(out, q->N, q->D, rho));
  } else {
    BPS_CALL_GOTO(qbm_eval(q, theta, &c, NULL, rho, NULL));
    BPS_CALL_GOTO(bps_state_set_dense(out, q->N, rho));
  }
cleanup:
  bps_free(rho);
  return rc;
}

int bps_qbm_build(const bps_model_spec *spec, int n, uint64_t seed, uint32_t sample,
                  bps_repr repr, bps_model_instance *m) {
  int nv, nh;
  BPS_CALL(bps_vh_registers(spec, n, &nv, &nh));
  const int N = nv + nh, T = bps_vh_nterms(N);
  BPS_CHECK(N <= QBM_MAX_QUBITS, BPS_ERR_TOO_BIG,
            "the QBM diagonalises 2^N x 2^N Hamiltonians: n_v + n_h = %d + %d = %d qubits at "
            "n = %d exceeds %d",
            nv, nh, N, n, QBM_MAX_QUBITS);
  BPS_CHECK(spec->onsite_sigma >= 0 && isfinite(spec->onsite_sigma) &&
                spec->coupling_sigma >= 0 && isfinite(spec->coupling_sigma),
            BPS_ERR_ARG, "qbm needs onsite_sigma, coupling_sigma >= 0 (got %g, %g)",
            spec->onsite_sigma, spec->coupling_sigma);
  BPS_CHECK(spec->noise == BPS_NOISE_NONE, BPS_ERR_ARG,
            "noise does not apply to the QBM (a Gibbs state, no circuit): set noise = none");
  m->q_in = m->q_out = N;
  m->ndiag = nv;
  for (int i = 0; i < nv; i++) m->diag_qubits[i] = nh + i;
  m->page_db = 0.0;

  qbm_impl *q = calloc(1, sizeof *q);
  BPS_CHECK(q, BPS_ERR_MEM, "out of memory");
  m->impl = q;
  m->impl_free = qbm_free;
  q->N = N;
  q->T = T;
  q->D = (bps_idx)1 << N;
  q->xmask = malloc(sizeof(bps_idx) * (size_t)T);
  q->zmask = malloc(sizeof(bps_idx) * (size_t)T);
  q->ny = malloc(sizeof(int) * (size_t)T);
  q->O = bps_alloc((size_t)(q->D * q->D));
  BPS_CHECK(q->xmask && q->zmask && q->ny && q->O, BPS_ERR_MEM, "out of memory");
  memset(q->O, 0, sizeof(bps_cplx) * (size_t)(q->D * q->D));

  BPS_CALL(bps_model_alloc_params(m, T));
  bps_rng r;
  bps_rng_init(&r, seed, (uint32_t)n, sample, BPS_STREAM_PARAMS, 0);
  for (int t = 0; t < T; t++) {
    char p[3];
    int qs[2];
    int k = bps_vh_term(N, t, p, qs);
    q->xmask[t] = q->zmask[t] = 0;
    q->ny[t] = 0;
    for (int u = 0; u < k; u++) {
      bps_idx bit = (bps_idx)1 << (N - 1 - qs[u]);
      if (p[u] != 'Z') q->xmask[t] |= bit;
      if (p[u] != 'X') q->zmask[t] |= bit;
      if (p[u] == 'Y') q->ny[t]++;
    }
    m->theta[t] = (k == 1 ? spec->onsite_sigma : spec->coupling_sigma) * bps_rng_normal(&r);
    BPS_CALL(bps_model_name_param(m, t, "h.t%d", t));
  }

  m->npairs = 1;
  m->inputs = calloc(1, sizeof(bps_state *));
  m->costs = calloc(1, sizeof(bps_cost *));
  BPS_CHECK(m->inputs && m->costs, BPS_ERR_MEM, "out of memory");
  BPS_CALL(bps_vh_objective_cost(spec, n, nv, nh, seed, sample, &m->costs[0]));
  const bps_cost *cost = m->costs[0];
  q->c0 = cost->c0;
  for (int t = 0; t < cost->nterms; t++) BPS_CALL(expand_term(q, &cost->terms[t], q->O));

  m->cost_grad = qbm_cost_grad;
  m->output_state = qbm_output_state;
  return BPS_OK;
}

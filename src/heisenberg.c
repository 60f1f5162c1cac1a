/* heisenberg: adjoint channels and linear combinations of states (see heisenberg.h). */
#include "bpscan/heisenberg.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/linalg.h"
#include "kernels.h"

/* Loops over fewer elements run on the calling thread: waking a team costs more. */
#define PAR_MIN 16384
/* Parallel loops (BPS_PAR_FOR) only above PAR_MIN and never nested: otherwise plain loops
 * that do not enter OpenMP. */
static int par_ok(bps_idx n) { return n >= PAR_MIN && !omp_in_parallel(); }
#define ALWAYS_INLINE static inline __attribute__((always_inline))

int bps_project_zero(bps_state *s, int a) {
  BPS_CHECK(s, BPS_ERR_ARG, "NULL state");
  BPS_CHECK(a >= 0 && a <= s->q, BPS_ERR_ARG, "projecting %d of %d qubits", a, s->q);
  if (a == 0) return BPS_OK;
  bps_idx D = s->dim, d = D >> a;
  if (s->repr == BPS_DENSE) {
    BPS_CALL(bps_state_reserve_work(s, (size_t)(d * d)));
    bps_cplx *restrict src = s->a, *restrict dst = s->work;
    BPS_PAR_FOR(par_ok(d * d), bps_idx, i, d,
                for (bps_idx j = 0; j < d; j++) dst[i * d + j] = src[(i << a) * D + (j << a)]);
    bps_state_swap_work(s);
    s->rank = d;
  } else {
    bps_idx r = s->rank;
    BPS_CALL(bps_state_reserve_work(s, (size_t)(d * r)));
    bps_cplx *restrict src = s->a, *restrict dst = s->work;
    BPS_PAR_FOR(par_ok(d * r), bps_idx, c, r,
                for (bps_idx i = 0; i < d; i++) dst[i + d * c] = src[(i << a) + D * c]);
    bps_state_swap_work(s);
  }
  s->q -= a;
  s->dim = d;
  if (s->repr == BPS_FACTORED && s->rank > s->dim) BPS_CALL(bps_compress(s)); /* rank <= dim */
  return BPS_OK;
}

/* Split a new index into (value of the inserted bits, old index). */
typedef struct {
  int qn;            /* qubits after insertion */
  int is_new[BPS_MAX_QUBITS];
} ins_map;

static inline void split_index(const ins_map *m, bps_idx i, bps_idx *sval, bps_idx *old) {
  bps_idx sv = 0, o = 0;
  for (int t = 0; t < m->qn; t++) {
    bps_idx bit = (i >> (m->qn - 1 - t)) & 1;
    if (m->is_new[t]) sv = 2 * sv + bit;
    else o = 2 * o + bit;
  }
  *sval = sv;
  *old = o;
}

/* Row i of the dense state with identity inserted (D x D from d x d). */
ALWAYS_INLINE void ins_dense_row(const ins_map *m, bps_cplx *restrict dst,
                                 const bps_cplx *restrict src, bps_idx D, bps_idx d, bps_idx i) {
  bps_idx si, oi;
  split_index(m, i, &si, &oi);
  for (bps_idx j = 0; j < D; j++) {
    bps_idx sj, oj;
    split_index(m, j, &sj, &oj);
    dst[i * D + j] = si == sj ? src[oi * d + oj] : 0;
  }
}

/* Row i of the factor with identity inserted (columns si * r + c). */
ALWAYS_INLINE void ins_fact_row(const ins_map *m, bps_cplx *restrict dst,
                                const bps_cplx *restrict src, bps_idx D, bps_idx d, bps_idx r,
                                bps_idx i) {
  bps_idx si, oi;
  split_index(m, i, &si, &oi);
  for (bps_idx c = 0; c < r; c++) dst[i + D * (si * r + c)] = src[oi + d * c];
}

int bps_insert_identity(bps_state *s, int k, const int *qubits) {
  BPS_CHECK(s, BPS_ERR_ARG, "NULL state");
  if (k == 0) return BPS_OK;
  BPS_CHECK(qubits && k > 0 && s->q + k <= BPS_MAX_QUBITS, BPS_ERR_ARG,
            "inserting %d qubits into %d", k, s->q);
  ins_map m = {.qn = s->q + k};
  for (int t = 0; t < k; t++) {
    BPS_CHECK(qubits[t] >= 0 && qubits[t] < m.qn && !m.is_new[qubits[t]], BPS_ERR_ARG,
              "bad or repeated insertion position %d", qubits[t]);
    BPS_CHECK(t == 0 || qubits[t] > qubits[t - 1], BPS_ERR_ARG, "positions must be sorted");
    m.is_new[qubits[t]] = 1;
  }
  bps_idx D = (bps_idx)1 << m.qn, d = s->dim;
  if (s->repr == BPS_DENSE) {
    BPS_CALL(bps_state_reserve_work(s, (size_t)(D * D)));
    bps_cplx *restrict src = s->a, *restrict dst = s->work;
    BPS_PAR_FOR(par_ok(D * D), bps_idx, i, D, ins_dense_row(&m, dst, src, D, d, i));
    bps_state_swap_work(s);
    s->rank = D;
  } else {
    bps_idx r = s->rank, nr = r << k;
    BPS_CALL(bps_state_reserve_work(s, (size_t)(D * nr)));
    bps_cplx *restrict src = s->a, *restrict dst = s->work;
    memset(dst, 0, sizeof(bps_cplx) * (size_t)(D * nr));
    BPS_PAR_FOR(par_ok(D * r), bps_idx, i, D, ins_fact_row(&m, dst, src, D, d, r, i));
    bps_state_swap_work(s);
    s->rank = nr;
  }
  s->q = m.qn;
  s->dim = D;
  if (s->repr == BPS_FACTORED && s->rank > s->dim) BPS_CALL(bps_compress(s)); /* rank <= dim */
  return BPS_OK;
}

int bps_state_axpy(bps_state *s, double alpha, const bps_state *t, double beta) {
  BPS_CHECK(s && t && s != t, BPS_ERR_ARG, "bad arguments");
  BPS_CHECK(s->repr == t->repr && s->q == t->q, BPS_ERR_ARG,
            "axpy of a %s %d-qubit and a %s %d-qubit state", bps_repr_name(s->repr), s->q,
            bps_repr_name(t->repr), t->q);
  if (s->repr == BPS_DENSE) {
    bps_idx n = s->dim * s->dim;
    bps_cplx *restrict x = s->a;
    const bps_cplx *restrict y = t->a;
    BPS_PAR_FOR(par_ok(n), bps_idx, i, n, x[i] = alpha * x[i] + beta * y[i]);
    return BPS_OK;
  }
  BPS_CHECK(alpha >= 0 && beta >= 0, BPS_ERR_ARG,
            "factored states combine only with non-negative weights (%g, %g)", alpha, beta);
  bps_idx d = s->dim, r1 = s->rank, r2 = t->rank;
  BPS_CALL(bps_state_reserve(s, (size_t)(d * (r1 + r2))));
  double sa = sqrt(alpha), sb = sqrt(beta);
  for (bps_idx i = 0; i < d * r1; i++) s->a[i] *= sa;
  for (bps_idx i = 0; i < d * r2; i++) s->a[d * r1 + i] = sb * t->a[i];
  s->rank = r1 + r2;
  if (s->rank > d) BPS_CALL(bps_compress(s));
  return BPS_OK;
}

typedef struct {
  bps_idx x, z;
  bps_cplx iy; /* i^(number of Y) */
} pauli_masks;

static int masks_of(int q, const char *p, pauli_masks *m) {
  BPS_CHECK((int)strlen(p) == q, BPS_ERR_ARG, "Pauli string \"%s\" on %d qubits", p, q);
  m->x = m->z = 0;
  int ny = 0;
  for (int t = 0; t < q; t++) {
    bps_idx bit = (bps_idx)1 << (q - 1 - t);
    switch (p[t]) {
    case 'I': break;
    case 'X': m->x |= bit; break;
    case 'Z': m->z |= bit; break;
    case 'Y': m->x |= bit; m->z |= bit; ny++; break;
    default: BPS_CHECK(0, BPS_ERR_ARG, "bad Pauli letter '%c'", p[t]);
    }
  }
  static const bps_cplx ipow[4] = {1, I, -1, -I};
  m->iy = ipow[ny % 4];
  return BPS_OK;
}

static inline double zsign(bps_idx b, bps_idx z) {
  return (__builtin_popcountll((unsigned long long)(b & z)) & 1) ? -1.0 : 1.0;
}

/* Chunk c (rows [c * chunk, (c + 1) * chunk)) of sum_b zsign(b) sum_i conj(O[b^x][i]) rho[b][i]. */
ALWAYS_INLINE bps_cplx opr_chunk(const bps_cplx *Oa, const bps_cplx *ra, const pauli_masks *m,
                                 bps_idx d, bps_idx chunk, int c) {
  bps_cplx acc = 0;
  bps_idx lo = c * chunk, hi = lo + chunk < d ? lo + chunk : d;
  for (bps_idx b = lo; b < hi; b++) {
    const bps_cplx *orow = Oa + (b ^ m->x) * d, *rrow = ra + b * d;
    double re = 0, im = 0;
    for (bps_idx i = 0; i < d; i++) {
      double orr = creal(orow[i]), oi = cimag(orow[i]);
      double rr = creal(rrow[i]), ri = cimag(rrow[i]);
      re += orr * rr + oi * ri; /* conj(o) * r */
      im += orr * ri - oi * rr;
    }
    acc += zsign(b, m->z) * (re + I * im);
  }
  return acc;
}

int bps_trace_o_pauli_rho(const bps_state *O, const char *pauli, const bps_state *rho,
                          bps_cplx *out) {
  BPS_CHECK(O && rho && pauli && out, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(O->repr == rho->repr && O->q == rho->q, BPS_ERR_ARG, "mismatched states");
  pauli_masks m;
  BPS_CALL(masks_of(rho->q, pauli, &m));
  bps_idx d = rho->dim;
  if (rho->repr == BPS_DENSE) {
    /* Tr[O P rho] = sum_b phase(b) sum_i conj(O[b^x][i]) rho[b][i]  (O Hermitian) */
    bps_cplx part[BPS_RED_CHUNKS];
    bps_idx chunk = (d + BPS_RED_CHUNKS - 1) / BPS_RED_CHUNKS;
    BPS_PAR_FOR(par_ok(d * d), int, c, BPS_RED_CHUNKS,
                part[c] = opr_chunk(O->a, rho->a, &m, d, chunk, c));
    bps_cplx z = 0;
    for (int c = 0; c < BPS_RED_CHUNKS; c++) z += part[c];
    *out = m.iy * z;
    return BPS_OK;
  }
  /* FACTORED: Tr[B B^dag P A A^dag] = sum_cd (B^dag P A)_cd conj((B^dag A)_cd) */
  bps_idx ra = rho->rank, rb = O->rank;
  bps_cplx *pa = bps_alloc((size_t)(d * ra)), *x = bps_alloc((size_t)(rb * ra)),
           *y = bps_alloc((size_t)(rb * ra));
  if (!pa || !x || !y) {
    bps_free(pa);
    bps_free(x);
    bps_free(y);
    BPS_CHECK(0, BPS_ERR_MEM, "out of memory");
  }
  BPS_PAR_FOR(par_ok(d * ra), bps_idx, c, ra,
              for (bps_idx b = 0; b < d; b++)
                pa[(b ^ m.x) + d * c] = m.iy * zsign(b, m.z) * rho->a[b + d * c]);
  bps_lin_gemm('C', 'N', rb, ra, d, 1.0, O->a, d, pa, d, 0.0, x, rb);
  bps_lin_gemm('C', 'N', rb, ra, d, 1.0, O->a, d, rho->a, d, 0.0, y, rb);
  bps_cplx z = 0;
  for (bps_idx i = 0; i < rb * ra; i++) z += x[i] * conj(y[i]);
  *out = z;
  bps_free(pa);
  bps_free(x);
  bps_free(y);
  return BPS_OK;
}

int bps_obs_times_factor(bps_state *const *obs, const double *sgn, int nobs,
                         const bps_state *A, bps_state *L) {
  BPS_CHECK(A && L && A->repr == BPS_FACTORED, BPS_ERR_ARG, "factored states only");
  bps_idx d = A->dim, ra = A->rank;
  BPS_CALL(bps_state_set_factor(L, A->q, ra, A->a)); /* shape; overwritten below */
  memset(L->a, 0, sizeof(bps_cplx) * (size_t)(d * ra));
  for (int o = 0; o < nobs; o++) {
    const bps_state *B = obs[o];
    BPS_CHECK(B->repr == BPS_FACTORED && B->q == A->q, BPS_ERR_ARG, "mismatched observable");
    bps_idx rb = B->rank;
    bps_cplx *t = bps_alloc((size_t)(rb * ra));
    BPS_CHECK(t, BPS_ERR_MEM, "out of memory");
    bps_lin_gemm('C', 'N', rb, ra, d, 1.0, B->a, d, A->a, d, 0.0, t, rb);
    bps_lin_gemm('N', 'N', d, ra, rb, sgn[o], B->a, d, t, rb, 1.0, L->a, d);
    bps_free(t);
  }
  return BPS_OK;
}

/* Chunk c (flat indices [c * chunk, (c + 1) * chunk)) of sum conj(L P-row) A. */
ALWAYS_INLINE bps_cplx pinner_chunk(const bps_cplx *La, const bps_cplx *Aa,
                                    const pauli_masks *m, bps_idx d, bps_idx n, bps_idx chunk,
                                    int c) {
  double re = 0, im = 0;
  bps_idx lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
  for (bps_idx idx = lo; idx < hi; idx++) {
    bps_idx b = idx % d, col = idx - b;
    bps_cplx l = La[col + (b ^ m->x)], a = Aa[idx];
    double sg = zsign(b, m->z);
    re += sg * (creal(l) * creal(a) + cimag(l) * cimag(a)); /* conj(l) a */
    im += sg * (creal(l) * cimag(a) - cimag(l) * creal(a));
  }
  return re + I * im;
}

int bps_pauli_inner(const bps_state *L, const char *pauli, const bps_state *A, bps_cplx *out) {
  BPS_CHECK(L && A && pauli && out, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(L->repr == BPS_FACTORED && A->repr == BPS_FACTORED && L->q == A->q &&
                L->rank == A->rank, BPS_ERR_ARG, "mismatched factored states");
  pauli_masks m;
  BPS_CALL(masks_of(A->q, pauli, &m));
  bps_idx d = A->dim, n = d * A->rank;
  bps_cplx part[BPS_RED_CHUNKS];
  bps_idx chunk = (n + BPS_RED_CHUNKS - 1) / BPS_RED_CHUNKS;
  BPS_PAR_FOR(par_ok(n), int, c, BPS_RED_CHUNKS,
              part[c] = pinner_chunk(L->a, A->a, &m, d, n, chunk, c));
  bps_cplx z = 0;
  for (int c = 0; c < BPS_RED_CHUNKS; c++) z += part[c];
  *out = m.iy * z;
  return BPS_OK;
}

/* Block blk of the leading identity: L_blk += sg B (B^dag A_blk) through scratch tmp. */
ALWAYS_INLINE void lead_identity_block(const bps_cplx *Ba, const bps_cplx *Aa, bps_cplx *La,
                                       bps_cplx *tmp, bps_idx d, bps_idx dk, bps_idx ra,
                                       bps_idx rb, double sg, bps_idx blk) {
  bps_cplx *tb = tmp + blk * rb * ra;
  bps_lin_gemm('C', 'N', rb, ra, dk, 1.0, Ba, dk, Aa + blk * dk, d, 0.0, tb, rb);
  bps_lin_gemm('N', 'N', dk, ra, rb, sg, Ba, dk, tb, rb, 1.0, La + blk * dk, d);
}

int bps_obs_times_factor_lead_identity(bps_state *const *obs, const double *sgn, int nobs,
                                       int t, const bps_state *A, bps_state *L) {
  BPS_CHECK(A && L && A->repr == BPS_FACTORED && t >= 0, BPS_ERR_ARG, "factored states only");
  bps_idx d = A->dim, ra = A->rank;
  BPS_CALL(bps_state_set_factor(L, A->q, ra, A->a)); /* shape; overwritten below */
  memset(L->a, 0, sizeof(bps_cplx) * (size_t)(d * ra));
  bps_idx nb = (bps_idx)1 << t;
  for (int o = 0; o < nobs; o++) {
    const bps_state *B = obs[o];
    BPS_CHECK(B->repr == BPS_FACTORED && B->q + t == A->q, BPS_ERR_ARG,
              "observable on %d qubits, state on %d, identity on %d", B->q, A->q, t);
    bps_idx dk = B->dim, rb = B->rank;
    bps_cplx *tmp = bps_alloc((size_t)(rb * ra * nb));
    BPS_CHECK(tmp, BPS_ERR_MEM, "out of memory");
    double sg = sgn[o];
    BPS_PAR_FOR(par_ok(nb * dk * ra), bps_idx, blk, nb,
                lead_identity_block(B->a, A->a, L->a, tmp, d, dk, ra, rb, sg, blk));
    bps_free(tmp);
  }
  return BPS_OK;
}

/* heisenberg: adjoint channels and linear combinations of states (see heisenberg.h). */
#include "bpscan/heisenberg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/linalg.h"
#include "kernels.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Factored: keep the rows of A whose last a qubits are 0 (A -> (1 (x) <0|) A), a >= 1. */
static int factor_project_rows(bps_state *s, int a) {
  bps_idx D = s->dim, d = D >> a, r = s->rank;
  BPS_CALL(bps_state_reserve_work(s, (size_t)(d * r)));
  bps_cplx *restrict src = s->a, *restrict dst = s->work;
  BPS_PAR_FOR(bps_par_ok(d * r), bps_idx, c, r,
              for (bps_idx i = 0; i < d; i++) dst[i + d * c] = src[(i << a) + D * c]);
  bps_state_swap_work(s);
  s->q -= a;
  s->dim = d;
  return BPS_OK;
}

int bps_project_zero(bps_state *s, int a) {
  BPS_CHECK(s, BPS_ERR_ARG, "NULL state");
  BPS_CHECK(a >= 0 && a <= s->q, BPS_ERR_ARG, "projecting %d of %d qubits", a, s->q);
  if (a == 0) return BPS_OK;
  bps_idx D = s->dim, d = D >> a;
  if (s->repr == BPS_DENSE) {
    BPS_CALL(bps_state_reserve_work(s, (size_t)(d * d)));
    bps_cplx *restrict src = s->a, *restrict dst = s->work;
    BPS_PAR_FOR(bps_par_ok(d * d), bps_idx, i, d,
                for (bps_idx j = 0; j < d; j++) dst[i * d + j] = src[(i << a) * D + (j << a)]);
    bps_state_swap_work(s);
    s->rank = d;
    s->q -= a;
    s->dim = d;
  } else {
    BPS_CALL(factor_project_rows(s, a));
    if (s->rank > s->dim) BPS_CALL(bps_compress(s)); /* rank <= dim */
  }
  return BPS_OK;
}

/* Split a new index into (value of the inserted bits, old index). */
typedef struct {
  int qn; /* qubits after insertion */
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
    BPS_PAR_FOR(bps_par_ok(D * D), bps_idx, i, D, ins_dense_row(&m, dst, src, D, d, i));
    bps_state_swap_work(s);
    s->rank = D;
  } else {
    bps_idx r = s->rank, nr = r << k;
    BPS_CALL(bps_state_reserve_work(s, (size_t)(D * nr)));
    bps_cplx *restrict src = s->a, *restrict dst = s->work;
    memset(dst, 0, sizeof(bps_cplx) * (size_t)(D * nr));
    BPS_PAR_FOR(bps_par_ok(D * r), bps_idx, i, D, ins_fact_row(&m, dst, src, D, d, r, i));
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
    BPS_PAR_FOR(bps_par_ok(n), bps_idx, i, n, x[i] = alpha * x[i] + beta * y[i]);
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
    case 'Y':
      m->x |= bit;
      m->z |= bit;
      ny++;
      break;
    default: BPS_FAIL(BPS_ERR_ARG, "bad Pauli letter '%c'", p[t]);
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
    BPS_PAR_FOR(bps_par_ok(d * d), int, c, BPS_RED_CHUNKS,
                part[c] = opr_chunk(O->a, rho->a, &m, d, chunk, c));
    bps_cplx z = 0;
    for (int c = 0; c < BPS_RED_CHUNKS; c++) z += part[c];
    *out = m.iy * z;
    return BPS_OK;
  }
  /* FACTORED: Tr[B B^dag P A A^dag] = sum_cd (B^dag P A)_cd conj((B^dag A)_cd) */
  int rc = BPS_OK;
  bps_idx ra = rho->rank, rb = O->rank;
  bps_cplx *pa = bps_alloc((size_t)(d * ra)), *x = bps_alloc((size_t)(rb * ra)),
           *y = bps_alloc((size_t)(rb * ra));
  BPS_CHECK_GOTO(pa && x && y, BPS_ERR_MEM, "out of memory");
  BPS_PAR_FOR(bps_par_ok(d * ra), bps_idx, c, ra,
              for (bps_idx b = 0; b < d; b++)
                  pa[(b ^ m.x) + d * c] = m.iy * zsign(b, m.z) * rho->a[b + d * c]);
  bps_lin_gemm('C', 'N', rb, ra, d, 1.0, O->a, d, pa, d, 0.0, x, rb);
  bps_lin_gemm('C', 'N', rb, ra, d, 1.0, O->a, d, rho->a, d, 0.0, y, rb);
  bps_cplx z = 0;
  for (bps_idx i = 0; i < rb * ra; i++) z += x[i] * conj(y[i]);
  *out = z;
cleanup:
  bps_free(pa);
  bps_free(x);
  bps_free(y);
  return rc;
}

int bps_obs_times_factor(bps_state *const *obs, const double *sgn, int nobs, const bps_state *A,
                         bps_state *L) {
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
ALWAYS_INLINE bps_cplx pinner_chunk(const bps_cplx *La, const bps_cplx *Aa, const pauli_masks *m,
                                    bps_idx d, bps_idx n, bps_idx chunk, int c) {
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
                L->rank == A->rank,
            BPS_ERR_ARG, "mismatched factored states");
  pauli_masks m;
  BPS_CALL(masks_of(A->q, pauli, &m));
  bps_idx d = A->dim, n = d * A->rank;
  bps_cplx part[BPS_RED_CHUNKS];
  bps_idx chunk = (n + BPS_RED_CHUNKS - 1) / BPS_RED_CHUNKS;
  BPS_PAR_FOR(bps_par_ok(n), int, c, BPS_RED_CHUNKS,
              part[c] = pinner_chunk(L->a, A->a, &m, d, n, chunk, c));
  bps_cplx z = 0;
  for (int c = 0; c < BPS_RED_CHUNKS; c++) z += part[c];
  *out = m.iy * z;
  return BPS_OK;
}

/* The flat index with a zero bit inserted at position b. */
static inline bps_idx ins0(bps_idx p, int b) {
  const bps_idx lo = p & (((bps_idx)1 << b) - 1);
  return ((p - lo) << 1) | lo;
}

/* Chunk ch of the local Gram matrix over groups [g0, g1): G[a D + b] += conj(L[x_a]) A[x_b]
 * with x_a = base(g) | off[a] (D = 2^k <= 4 amplitudes per group). */
ALWAYS_INLINE void gram_chunk(const bps_cplx *La, const bps_cplx *Aa, int D, int s0, int s1,
                              const bps_idx *off, bps_idx g0, bps_idx g1, bps_cplx *G) {
  double gr[16] = {0}, gi[16] = {0};
  for (bps_idx g = g0; g < g1; g++) {
    const bps_idx base = ins0(ins0(g, s0), s1);
    double lr[4], li[4], ar[4], ai[4];
    for (int a = 0; a < D; a++) {
      lr[a] = creal(La[base | off[a]]), li[a] = cimag(La[base | off[a]]);
      ar[a] = creal(Aa[base | off[a]]), ai[a] = cimag(Aa[base | off[a]]);
    }
    for (int a = 0; a < D; a++)
      for (int b = 0; b < D; b++) {
        gr[a * D + b] += lr[a] * ar[b] + li[a] * ai[b];
        gi[a * D + b] += lr[a] * ai[b] - li[a] * ar[b];
      }
  }
  for (int t = 0; t < D * D; t++) G[t] = gr[t] + I * gi[t];
}

typedef double gv4 __attribute__((vector_size(32))); /* two complex numbers */
#if defined(__clang__) || __GNUC__ >= 12
#define GSWAP(v) __builtin_shufflevector(v, v, 1, 0, 3, 2)
#else
typedef long long gv4i __attribute__((vector_size(32)));
#define GSWAP(v) __builtin_shuffle(v, (gv4i){1, 0, 3, 2})
#endif

/* Chunk of the two-qubit Gram matrix when the gate's lower bit s0 >= 1: groups g and g + 1
 * of one run of 2^s0 groups sit at consecutive flat indices, so each of the 4 x 4 entries
 * is a dot product of contiguous vectors, two complex numbers per vector register:
 * P += l * a (re: p0 + p1), Q += l * swap(a) (im: q0 - q1). Runs are cut at even lengths
 * (2^s0 is even); a chunk's odd start or end falls back to the scalar group. */
ALWAYS_INLINE void gram2_runs(const bps_cplx *La, const bps_cplx *Aa, int s0, int s1,
                              const bps_idx *off, bps_idx g0, bps_idx g1, bps_cplx *G) {
  const bps_idx run = (bps_idx)1 << s0;
  gv4 P[16], Q[16];
  for (int t = 0; t < 16; t++) P[t] = Q[t] = (gv4){0, 0, 0, 0};
  double er[16] = {0}, ei[16] = {0}; /* scalar leftovers */
  bps_idx g = g0;
  while (g < g1) {
    const bps_idx base = ins0(ins0(g, s0), s1);
    bps_idx end = (g | (run - 1)) + 1; /* the end of g's run */
    if (end > g1) end = g1;
    if ((g & 1) || end - g < 2) { /* one scalar group */
      for (int a = 0; a < 4; a++) {
        const bps_cplx l = La[base | off[a]];
        for (int b = 0; b < 4; b++) {
          const bps_cplx x = Aa[base | off[b]];
          er[a * 4 + b] += creal(l) * creal(x) + cimag(l) * cimag(x);
          ei[a * 4 + b] += creal(l) * cimag(x) - cimag(l) * creal(x);
        }
      }
      g++;
      continue;
    }
    const bps_idx len = (end - g) & ~(bps_idx)1; /* complex numbers, even */
    for (int a = 0; a < 4; a++) {
      const double *lp = (const double *)(La + (base | off[a]));
      const double *ap[4];
      for (int b = 0; b < 4; b++) ap[b] = (const double *)(Aa + (base | off[b]));
      gv4 p0 = P[a * 4], p1 = P[a * 4 + 1], p2 = P[a * 4 + 2], p3 = P[a * 4 + 3];
      gv4 q0 = Q[a * 4], q1 = Q[a * 4 + 1], q2 = Q[a * 4 + 2], q3 = Q[a * 4 + 3];
      for (bps_idx j = 0; j < 2 * len; j += 4) {
        gv4 l, x0, x1, x2, x3;
        memcpy(&l, lp + j, sizeof l);
        memcpy(&x0, ap[0] + j, sizeof l);
        memcpy(&x1, ap[1] + j, sizeof l);
        memcpy(&x2, ap[2] + j, sizeof l);
        memcpy(&x3, ap[3] + j, sizeof l);
        p0 += l * x0, q0 += l * GSWAP(x0);
        p1 += l * x1, q1 += l * GSWAP(x1);
        p2 += l * x2, q2 += l * GSWAP(x2);
        p3 += l * x3, q3 += l * GSWAP(x3);
      }
      P[a * 4] = p0, P[a * 4 + 1] = p1, P[a * 4 + 2] = p2, P[a * 4 + 3] = p3;
      Q[a * 4] = q0, Q[a * 4 + 1] = q1, Q[a * 4 + 2] = q2, Q[a * 4 + 3] = q3;
    }
    g += len;
  }
  for (int t = 0; t < 16; t++)
    G[t] = (P[t][0] + P[t][1] + P[t][2] + P[t][3] + er[t]) +
           I * (Q[t][0] - Q[t][1] + Q[t][2] - Q[t][3] + ei[t]);
}

int bps_local_gram(const bps_state *L, const bps_state *A, int k, const int *qubits, bps_cplx *G) {
  BPS_CHECK(L && A && qubits && G, BPS_ERR_ARG, "NULL argument");
  const int dense = A->repr == BPS_DENSE;
  BPS_CHECK(L->repr == A->repr && L->q == A->q && (dense || L->rank == A->rank), BPS_ERR_ARG,
            "mismatched states");
  BPS_CHECK(k >= 1 && k <= 2 && k <= A->q, BPS_ERR_ARG, "local Gram matrix of %d qubits", k);
  const int q = A->q, D = 1 << k;
  int pos[2] = {0, 0};
  for (int j = 0; j < k; j++) {
    BPS_CHECK(qubits[j] >= 0 && qubits[j] < q && (j == 0 || qubits[j] != qubits[0]), BPS_ERR_ARG,
              "bad qubit %d", qubits[j]);
    pos[j] = q - 1 - qubits[j] + (dense ? q : 0); /* DENSE: row bits above the column's */
  }
  bps_idx off[4];
  for (int a = 0; a < D; a++) {
    off[a] = 0;
    for (int j = 0; j < k; j++)
      if ((a >> (k - 1 - j)) & 1) off[a] |= (bps_idx)1 << pos[j];
  }
  /* zero bits inserted lowest first: s0 < s1 (k = 1: the second insertion is at the top) */
  const bps_idx n = A->dim * (dense ? A->dim : A->rank), ng = n / D;
  int s0 = pos[0], s1 = pos[1];
  if (k == 2 && s0 > s1) s0 = pos[1], s1 = pos[0];
  if (k == 1) s1 = 62; /* above every index: inserts a zero that is never set */
  bps_cplx part[BPS_RED_CHUNKS][16];
  const bps_idx chunk = (ng + BPS_RED_CHUNKS - 1) / BPS_RED_CHUNKS;
  if (k == 1) /* constant D: the per-group loops unroll */
    BPS_PAR_FOR(bps_par_ok(n), int, c, BPS_RED_CHUNKS,
                gram_chunk(L->a, A->a, 2, s0, s1, off, c * chunk,
                           (c + 1) * chunk < ng ? (c + 1) * chunk : ng, part[c]));
  else if (s0 >= 1) /* contiguous runs: vectorised */
    BPS_PAR_FOR(bps_par_ok(n), int, c, BPS_RED_CHUNKS,
                gram2_runs(L->a, A->a, s0, s1, off, c * chunk,
                           (c + 1) * chunk < ng ? (c + 1) * chunk : ng, part[c]));
  else
    BPS_PAR_FOR(bps_par_ok(n), int, c, BPS_RED_CHUNKS,
                gram_chunk(L->a, A->a, 4, s0, s1, off, c * chunk,
                           (c + 1) * chunk < ng ? (c + 1) * chunk : ng, part[c]));
  for (int t = 0; t < D * D; t++) {
    bps_cplx z = 0;
    for (int c = 0; c < BPS_RED_CHUNKS; c++)
      if (c * chunk < ng) z += part[c][t];
    G[t] = z;
  }
  return BPS_OK;
}

/* ---------------------------------------------------------------- Lambda = O A backwards */

/* Full index of (value s of the sorted qubits[0..k-1], index o of the other qubits in
 * order) on a q-qubit register: sidx[s] | kidx[o]. */
static int split_maps(int q, int k, const int *qubits, bps_idx **sidx, bps_idx **kidx) {
  int in_s[BPS_MAX_QUBITS] = {0}, kq[BPS_MAX_QUBITS], nk = 0;
  for (int t = 0; t < k; t++) {
    BPS_CHECK(qubits[t] >= 0 && qubits[t] < q && (t == 0 || qubits[t] > qubits[t - 1]),
              BPS_ERR_ARG, "qubits must be sorted, distinct and in [0, %d)", q);
    in_s[qubits[t]] = 1;
  }
  for (int t = 0; t < q; t++)
    if (!in_s[t]) kq[nk++] = t;
  int rc = BPS_OK;
  bps_idx ns = (bps_idx)1 << k, no = (bps_idx)1 << nk;
  bps_idx *si = malloc(sizeof(bps_idx) * (size_t)ns), *ki = malloc(sizeof(bps_idx) * (size_t)no);
  BPS_CHECK_GOTO(si && ki, BPS_ERR_MEM, "out of memory");
  for (bps_idx s = 0; s < ns; s++) {
    bps_idx v = 0;
    for (int t = 0; t < k; t++)
      if ((s >> (k - 1 - t)) & 1) v |= (bps_idx)1 << (q - 1 - qubits[t]);
    si[s] = v;
  }
  for (bps_idx o = 0; o < no; o++) {
    bps_idx v = 0;
    for (int t = 0; t < nk; t++)
      if ((o >> (nk - 1 - t)) & 1) v |= (bps_idx)1 << (q - 1 - kq[t]);
    ki[o] = v;
  }
  *sidx = si;
  *kidx = ki;
  si = ki = NULL;
cleanup:
  free(si);
  free(ki);
  return rc;
}

/* Lt = L diag(1 / |A_j|^2): with A = U S (orthogonal columns, a compressed factor) and
 * L = O A, Lt A^dag = O P (P the projector onto the range of A A^dag). */
static bps_cplx *scaled_lambda(const bps_state *L, const bps_state *A) {
  bps_idx d = A->dim, r = A->rank;
  bps_cplx *Lt = bps_alloc((size_t)(d * r));
  if (!Lt) return NULL;
  for (bps_idx j = 0; j < r; j++) {
    double nrm = 0;
    for (bps_idx i = 0; i < d; i++) {
      bps_cplx a = A->a[i + d * j];
      nrm += creal(a) * creal(a) + cimag(a) * cimag(a);
    }
    double f = nrm > 0 ? 1.0 / nrm : 0.0;
    for (bps_idx i = 0; i < d; i++) Lt[i + d * j] = f * L->a[i + d * j];
  }
  return Lt;
}

/* L gets the contents of buf (q qubits, rank r) through its work buffer. */
static int lambda_store(bps_state *L, int q, bps_idx r, const bps_cplx *buf) {
  bps_idx d = (bps_idx)1 << q;
  BPS_CALL(bps_state_reserve_work(L, (size_t)(d * r)));
  memcpy(L->work, buf, sizeof(bps_cplx) * (size_t)(d * r));
  bps_state_swap_work(L);
  L->q = q;
  L->dim = d;
  L->rank = r;
  return BPS_OK;
}

static int lambda_shapes(const bps_state *L, const bps_state *before, const bps_state *after) {
  BPS_CHECK(L && before && after && L->repr == BPS_FACTORED && before->repr == BPS_FACTORED &&
                after->repr == BPS_FACTORED,
            BPS_ERR_ARG, "factored states only");
  BPS_CHECK(L->q == after->q && L->rank == after->rank, BPS_ERR_ARG,
            "Lambda (%d qubits, rank %lld) does not match the factor (%d qubits, rank %lld)",
            L->q, (long long)L->rank, after->q, (long long)after->rank);
  return BPS_OK;
}

int bps_lambda_append(bps_state *L, int a) {
  BPS_CHECK(L && L->repr == BPS_FACTORED && a >= 0 && a <= L->q, BPS_ERR_ARG,
            "bad Lambda projection");
  if (a == 0) return BPS_OK;
  BPS_CALL(factor_project_rows(L, a));
  return BPS_OK;
}

int bps_lambda_trace(bps_state *L, int k, const int *qubits, const bps_state *before,
                     const bps_state *after) {
  BPS_CALL(lambda_shapes(L, before, after));
  BPS_CHECK(qubits && k >= 1 && before->q - k == after->q, BPS_ERR_ARG, "bad trace shapes");
  int rc = BPS_OK;
  int q = before->q;
  bps_idx dim = before->dim, r = before->rank, D = dim >> k, R = r << k, ns = (bps_idx)1 << k;
  bps_idx *sidx = NULL, *kidx = NULL;
  bps_cplx *out = NULL, *Lt = NULL, *As = NULL, *Y = NULL, *Z = NULL;
  BPS_CALL_GOTO(split_maps(q, k, qubits, &sidx, &kidx));
  out = bps_alloc((size_t)(dim * r));
  BPS_CHECK_GOTO(out, BPS_ERR_MEM, "out of memory");
  if (R <= D) {
    /* not compressed: the factor after the trace is A reshaped (traced value fastest in the
     * column index), so Lambda before it is the same numbers put back */
    BPS_CHECK_GOTO(L->rank == R, BPS_ERR_INTERNAL, "Lambda rank %lld, expected %lld",
                   (long long)L->rank, (long long)R);
    for (bps_idx c = 0; c < r; c++)
      for (bps_idx s = 0; s < ns; s++)
        for (bps_idx o = 0; o < D; o++)
          out[(sidx[s] | kidx[o]) + dim * c] = L->a[o + D * (s + ns * c)];
  } else {
    /* compressed (A'' = U S): rows s of Lambda = (O P) A_s = Lt (A''^dag A_s) */
    bps_idx rr = after->rank;
    Lt = scaled_lambda(L, after);
    As = bps_alloc((size_t)(D * r));
    Y = bps_alloc((size_t)(rr * r));
    Z = bps_alloc((size_t)(D * r));
    BPS_CHECK_GOTO(Lt && As && Y && Z, BPS_ERR_MEM, "out of memory");
    for (bps_idx s = 0; s < ns; s++) {
      for (bps_idx c = 0; c < r; c++)
        for (bps_idx o = 0; o < D; o++) As[o + D * c] = before->a[(sidx[s] | kidx[o]) + dim * c];
      bps_lin_gemm('C', 'N', rr, r, D, 1.0, after->a, D, As, D, 0.0, Y, rr);
      bps_lin_gemm('N', 'N', D, r, rr, 1.0, Lt, D, Y, rr, 0.0, Z, D);
      for (bps_idx c = 0; c < r; c++)
        for (bps_idx o = 0; o < D; o++) out[(sidx[s] | kidx[o]) + dim * c] = Z[o + D * c];
    }
  }
  BPS_CALL_GOTO(lambda_store(L, q, r, out));
cleanup:
  bps_free(out);
  bps_free(Lt);
  bps_free(As);
  bps_free(Y);
  bps_free(Z);
  free(sidx);
  free(kidx);
  return rc;
}

int bps_lambda_kraus(bps_state *L, int k, const int *qubits, int nk, const bps_cplx *K,
                     const bps_cplx *Kh, const bps_state *before, const bps_state *after) {
  BPS_CALL(lambda_shapes(L, before, after));
  BPS_CHECK(qubits && K && Kh && nk >= 1 && before->q == after->q, BPS_ERR_ARG,
            "bad Kraus shapes");
  int q = before->q;
  bps_idx dim = before->dim, r = before->rank, rr = after->rank, N = dim * r;
  size_t kk = (size_t)1 << (2 * k);
  int compressed = r * nk > dim;
  BPS_CHECK(compressed || L->rank == r * nk, BPS_ERR_INTERNAL, "Lambda rank %lld, expected %lld",
            (long long)L->rank, (long long)(r * nk));
  int rc = BPS_OK;
  bps_cplx *acc = bps_alloc((size_t)N), *Lt = NULL, *Y = NULL;
  bps_state *tmp = NULL;
  BPS_CHECK_GOTO(acc, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(bps_state_create(BPS_FACTORED, 0, &tmp));
  if (compressed) {
    Lt = scaled_lambda(L, after);
    Y = bps_alloc((size_t)(rr * r));
    BPS_CHECK_GOTO(Lt && Y, BPS_ERR_MEM, "out of memory");
  }
  memset(acc, 0, sizeof(bps_cplx) * (size_t)N);
  for (int m = 0; m < nk; m++) {
    if (!compressed) { /* the factor after the channel is [K_1 A, ..., K_m A] */
      BPS_CALL_GOTO(bps_state_set_factor(tmp, q, r, L->a + (size_t)m * (size_t)N));
    } else { /* (O P) K_m A = Lt (A''^dag K_m A) */
      BPS_CALL_GOTO(bps_state_set_factor(tmp, q, r, before->a));
      BPS_CALL_GOTO(bps_apply_unitary(tmp, k, qubits, K + (size_t)m * kk));
      bps_lin_gemm('C', 'N', rr, r, dim, 1.0, after->a, dim, tmp->a, dim, 0.0, Y, rr);
      bps_lin_gemm('N', 'N', dim, r, rr, 1.0, Lt, dim, Y, rr, 0.0, tmp->a, dim);
    }
    BPS_CALL_GOTO(bps_apply_unitary(tmp, k, qubits, Kh + (size_t)m * kk));
    for (bps_idx i = 0; i < N; i++) acc[i] += tmp->a[i];
  }
  BPS_CALL_GOTO(lambda_store(L, q, r, acc));
cleanup:
  bps_state_destroy(&tmp);
  bps_free(acc);
  bps_free(Lt);
  bps_free(Y);
  return rc;
}

int bps_lambda_depol(bps_state *L, int k, const int *qubits, double p, const bps_state *before,
                     const bps_state *after) {
  if (p == 0) return BPS_OK; /* the channel is the identity (nothing was compressed) */
  BPS_CALL(lambda_shapes(L, before, after));
  BPS_CHECK(qubits && k >= 1 && before->q == after->q, BPS_ERR_ARG, "bad depolarising shapes");
  int rc = BPS_OK;
  int q = before->q;
  bps_idx dim = before->dim, r = before->rank, rr = after->rank, D = dim >> k,
          ns = (bps_idx)1 << k;
  bps_idx *sidx = NULL, *kidx = NULL;
  bps_cplx *Lt = scaled_lambda(L, after), *out = bps_alloc((size_t)(dim * r)),
           *Y0 = bps_alloc((size_t)(rr * r)), *Xs = bps_alloc((size_t)(dim * rr)),
           *Ys = bps_alloc((size_t)(dim * rr)), *Ab = bps_alloc((size_t)(D * r)),
           *W = bps_alloc((size_t)(rr * r)), *Z = bps_alloc((size_t)(D * r));
  BPS_CHECK_GOTO(Lt && out && Y0 && Xs && Ys && Ab && W && Z, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(split_maps(q, k, qubits, &sidx, &kidx));
  /* (1 - p) (O P) A */
  bps_lin_gemm('C', 'N', rr, r, dim, 1.0, after->a, dim, before->a, dim, 0.0, Y0, rr);
  bps_lin_gemm('N', 'N', dim, r, rr, 1.0 - p, Lt, dim, Y0, rr, 0.0, out, dim);
  /* + p/2^k (Tr_S(O P) (x) 1_S) A, Tr_S(O P) = sum_s X_s Y_s^dag (rows s of Lt, A'') */
  for (bps_idx s = 0; s < ns; s++)
    for (bps_idx j = 0; j < rr; j++)
      for (bps_idx o = 0; o < D; o++) {
        bps_idx src = (sidx[s] | kidx[o]) + dim * j, dst = o + D * j + s * D * rr;
        Xs[dst] = Lt[src];
        Ys[dst] = after->a[src];
      }
  double f = p / (double)ns;
  for (bps_idx b = 0; b < ns; b++) {
    for (bps_idx c = 0; c < r; c++)
      for (bps_idx o = 0; o < D; o++) Ab[o + D * c] = before->a[(sidx[b] | kidx[o]) + dim * c];
    for (bps_idx s = 0; s < ns; s++) {
      bps_lin_gemm('C', 'N', rr, r, D, 1.0, Ys + s * D * rr, D, Ab, D, 0.0, W, rr);
      bps_lin_gemm('N', 'N', D, r, rr, 1.0, Xs + s * D * rr, D, W, rr, s ? 1.0 : 0.0, Z, D);
    }
    for (bps_idx c = 0; c < r; c++)
      for (bps_idx o = 0; o < D; o++) out[(sidx[b] | kidx[o]) + dim * c] += f * Z[o + D * c];
  }
  BPS_CALL_GOTO(lambda_store(L, q, r, out));
cleanup:
  free(sidx);
  free(kidx);
  bps_free(Lt);
  bps_free(out);
  bps_free(Y0);
  bps_free(Xs);
  bps_free(Ys);
  bps_free(Ab);
  bps_free(W);
  bps_free(Z);
  return rc;
}

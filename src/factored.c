/* factored: the kernels on rho = A A^dagger (state.h), A column-major dim x rank.
 *
 * Flat view. Because A is column-major and dim = 2^q, the N = dim * rank entries of A
 * form one long vector whose low q index bits are the row (qubit q-1-t is bit t) and
 * whose high part is the column. An operator on qubits therefore acts on the flat vector
 * exactly as on a statevector: the 1- and 2-qubit kernels below sweep the flat vector in
 * fixed work units (a contiguous run of at most RUN amplitude groups), and OpenMP splits
 * the units. Parallelism thus spreads over columns when rank is large and over
 * amplitudes when rank is small, and since every amplitude is computed by the same code
 * whatever the unit's owner, results do not depend on the thread count.
 *
 * The 1- and 2-qubit kernels keep amplitudes interleaved and work on two complex numbers
 * per 4-double vector (GNU C vector extension, plain real arithmetic): the last-qubit
 * cases, where a pair is adjacent in memory, are regrouped with shuffles instead of
 * falling back to scalar code.
 *
 * k >= 3 goes through zgemm: trailing qubits in order (A as 2^k x N/2^k), leading qubits
 * in order (per column, the transposed view X U^T), otherwise a gather of the 2^k
 * amplitudes of each outer index into 2^k x B panels (in cache when there are enough
 * outer indices, else one gather into the work buffer), a gemm, and a scatter back.
 * BLAS runs on one thread (linalg.c); our OpenMP loops over fixed gemm cells/panels
 * provide the parallelism.
 *
 * Reductions (expectations) use BPS_RED_CHUNKS fixed chunks summed in order.
 * Compression is an SVD of A: A = U S V^dag -> A' = U S over s > 1e-14 s_max.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/linalg.h"
#include "kernels.h"

#define RUN 256             /* amplitude groups per work unit */
#define COMPRESS_RTOL 1e-14 /* singular values <= this * s_max are dropped */
/* Slack behind the SVD buffers of bps_fact_compress. Not what protects LAPACK: OpenBLAS
 * 0.3.21's zgemv_n kernel (inside zgesdd/zgesvd) reads past the end of the matrix it is
 * given (OpenBLAS issue #4013), and bps_lin_svd (linalg.c) therefore hands LAPACK only its
 * own padded copies, never these buffers. This slack is redundant. */
#define LAPACK_PAD(ld) (4 * (size_t)(ld) + 1024)
#define ALWAYS_INLINE inline __attribute__((always_inline))


/* ---------------------------------------------------------------------------------- */
/* Bit maps: x (n bits) -> OR over set bits j of x of (1 << src[j]), by two tables.     */

typedef struct {
  int nlo;
  bps_idx lomask;
  bps_idx *lo, *hi;
} bitmap;

static void bitmap_free(bitmap *m) {
  free(m->lo);
  free(m->hi);
  m->lo = m->hi = NULL;
}

/* On failure m holds nothing. */
static int bitmap_make(bitmap *m, int n, const int *src) {
  int rc = BPS_OK;
  m->nlo = (n + 1) / 2;
  size_t nl = (size_t)1 << m->nlo, nh = (size_t)1 << (n - m->nlo);
  m->lomask = (bps_idx)nl - 1;
  m->lo = malloc(nl * sizeof(bps_idx));
  m->hi = malloc(nh * sizeof(bps_idx));
  BPS_CHECK_GOTO(m->lo && m->hi, BPS_ERR_MEM, "out of memory (bit map tables)");
  m->lo[0] = m->hi[0] = 0;
  for (size_t x = 1; x < nl; x++)
    m->lo[x] = m->lo[x & (x - 1)] | ((bps_idx)1 << src[__builtin_ctzll(x)]);
  for (size_t x = 1; x < nh; x++)
    m->hi[x] = m->hi[x & (x - 1)] | ((bps_idx)1 << src[m->nlo + __builtin_ctzll(x)]);
cleanup:
  if (rc) bitmap_free(m);
  return rc;
}

/* Row-bit maps of a k-qubit gate on a q-qubit register: gm gathers the gate index (first
 * listed qubit most significant), om the other row bits in order. On failure neither
 * holds anything. */
static int gate_bitmaps(int q, int k, const int *qubits, bitmap *om, bitmap *gm) {
  int rc = BPS_OK;
  int gsrc[BPS_MAX_QUBITS], osrc[BPS_MAX_QUBITS], isgate[BPS_MAX_QUBITS] = {0};
  for (int m = 0; m < k; m++) {
    gsrc[k - 1 - m] = q - 1 - qubits[m];
    isgate[q - 1 - qubits[m]] = 1;
  }
  int no = 0;
  for (int bit = 0; bit < q; bit++)
    if (!isgate[bit]) osrc[no++] = bit;
  BPS_CALL_GOTO(bitmap_make(om, q - k, osrc));
  BPS_CALL_GOTO(bitmap_make(gm, k, gsrc));
cleanup:
  if (rc) bitmap_free(om); /* (a failed bitmap_make holds nothing) */
  return rc;
}

static ALWAYS_INLINE bps_idx bitmap_at(const bitmap *m, bps_idx x) {
  return m->lo[x & m->lomask] | m->hi[x >> m->nlo];
}

/* Insert a zero bit at position b. */
static ALWAYS_INLINE bps_idx ins0(bps_idx p, int b) {
  bps_idx low = p & (((bps_idx)1 << b) - 1);
  return ((p >> b) << (b + 1)) | low;
}

/* ---------------------------------------------------------------------------------- */
/* 1- and 2-qubit kernels.                                                              */
/*                                                                                      */
/* Complex numbers stay interleaved (re, im) and are processed two at a time in a vector */
/* of four doubles (GNU C vector extension: plain real arithmetic, compiled to AVX2 on   */
/* this machine and to narrower code elsewhere). A complex coefficient c acts on a       */
/* vector X of two complex numbers as c X = (cr,cr,cr,cr) * X + (-ci,ci,-ci,ci) * sw(X), */
/* sw swapping re and im. Pairs whose two amplitudes are adjacent in memory (the last    */
/* qubit) are first regrouped with two shuffles. Every amplitude is computed with the    */
/* same operations in the same order whatever the unit boundaries or the thread count.   */

typedef double v4 __attribute__((vector_size(32)));
#if defined(__clang__) || __GNUC__ >= 12
#define SHUF(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#else
typedef long long v4i __attribute__((vector_size(32)));
#define SHUF(a, b, i, j, k, l) __builtin_shuffle(a, b, (v4i){i, j, k, l})
#endif

static ALWAYS_INLINE v4 vld(const double *p) {
  v4 v;
  memcpy(&v, p, sizeof v);
  return v;
}
static ALWAYS_INLINE void vst(double *p, v4 v) { memcpy(p, &v, sizeof v); }
static ALWAYS_INLINE v4 vsw(v4 v) { return SHUF(v, v, 1, 0, 3, 2); }
static ALWAYS_INLINE v4 vlo(v4 a, v4 b) { return SHUF(a, b, 0, 1, 4, 5); } /* a0 b0 */
static ALWAYS_INLINE v4 vhi(v4 a, v4 b) { return SHUF(a, b, 2, 3, 6, 7); } /* a1 b1 */

typedef struct {
  v4 re, im;
} vcoef;

static void make_coefs(int n, const bps_cplx *U, vcoef *c) {
  for (int i = 0; i < n; i++) {
    const double r = creal(U[i]), m = cimag(U[i]);
    c[i].re = (v4){r, r, r, r};
    c[i].im = (v4){-m, m, -m, m};
  }
}

/* The same arithmetic on one complex pair held in the low half of a vector. */
static ALWAYS_INLINE v4 vone(const double *p) { return (v4){p[0], p[1], 0.0, 0.0}; }
static ALWAYS_INLINE void vstone(double *p, v4 v) {
  p[0] = v[0];
  p[1] = v[1];
}

/* Coefficients are copied into locals (registers) at the start of each work unit: read
 * through a pointer they would be reloaded after every store to the state. */
typedef struct {
  v4 r0, i0, r1, i1, r2, i2, r3, i3;
} k1coef;

static ALWAYS_INLINE k1coef k1c(const vcoef *u) {
  return (k1coef){u[0].re, u[0].im, u[1].re, u[1].im, u[2].re, u[2].im, u[3].re, u[3].im};
}

static ALWAYS_INLINE void k1(const k1coef c, v4 *X, v4 *Y) {
  const v4 x = *X, y = *Y, xs = vsw(x), ys = vsw(y);
  *X = (c.r0 * x + c.i0 * xs) + (c.r1 * y + c.i1 * ys);
  *Y = (c.r2 * x + c.i2 * xs) + (c.r3 * y + c.i3 * ys);
}

/* Work units of apply1. b = 0: unit un = RUN pairs (a[2p], a[2p+1]) from p = un * RUN,
 * two pairs per step. */
static ALWAYS_INLINE void apply1_unit0(double *ad, bps_idx npairs, const vcoef *u, bps_idx un) {
  const bps_idx p0 = un * RUN, L = npairs - p0 < RUN ? npairs - p0 : RUN;
  const k1coef c = k1c(u);
  double *x = ad + 4 * p0;
  bps_idx j = 0;
  for (; j + 2 <= L; j += 2) {
    const v4 P = vld(x + 4 * j), Q = vld(x + 4 * j + 4);
    v4 X = vlo(P, Q), Y = vhi(P, Q);
    k1(c, &X, &Y);
    vst(x + 4 * j, vlo(X, Y));
    vst(x + 4 * j + 4, vhi(X, Y));
  }
  if (j < L) { /* a single pair (N = 2) */
    v4 X = vone(x + 4 * j), Y = vone(x + 4 * j + 2);
    k1(c, &X, &Y);
    vstone(x + 4 * j, X);
    vstone(x + 4 * j + 2, Y);
  }
}

/* b >= 1: unit un = a run of L (even) contiguous pairs (x[j], x[j + s]), s = 2^b. */
static ALWAYS_INLINE void apply1_unit(double *ad, int b, bps_idx s, bps_idx L, const vcoef *u,
                                      bps_idx un) {
  const k1coef c = k1c(u);
  double *x = ad + 2 * ins0(un * L, b), *y = x + 2 * s;
  for (bps_idx j = 0; j < L; j += 2) {
    v4 X = vld(x + 2 * j), Y = vld(y + 2 * j);
    k1(c, &X, &Y);
    vst(x + 2 * j, X);
    vst(y + 2 * j, Y);
  }
}

static void apply1(bps_cplx *a, bps_idx N, int b, const bps_cplx *U) {
  vcoef u[4];
  make_coefs(4, U, u);
  const bps_idx npairs = N / 2;
  double *ad = (double *)a;
  if (b == 0) {
    const bps_idx nunits = (npairs + RUN - 1) / RUN;
    BPS_PAR_FOR(bps_par_ok(N), bps_idx, un, nunits, apply1_unit0(ad, npairs, u, un));
  } else {
    const bps_idx s = (bps_idx)1 << b, L = s < RUN ? s : RUN, nunits = npairs / L;
    BPS_PAR_FOR(bps_par_ok(N), bps_idx, un, nunits, apply1_unit(ad, b, s, L, u, un));
  }
}

static ALWAYS_INLINE void k2(const vcoef *u, v4 *A0, v4 *A1, v4 *A2, v4 *A3) {
  const v4 x0 = *A0, x1 = *A1, x2 = *A2, x3 = *A3;
  const v4 s0 = vsw(x0), s1 = vsw(x1), s2 = vsw(x2), s3 = vsw(x3);
  v4 y[4];
  for (int g = 0; g < 4; g++) {
    const vcoef *w = u + 4 * g;
    y[g] = ((w[0].re * x0 + w[0].im * s0) + (w[1].re * x1 + w[1].im * s1)) +
           ((w[2].re * x2 + w[2].im * s2) + (w[3].re * x3 + w[3].im * s3));
  }
  *A0 = y[0];
  *A1 = y[1];
  *A2 = y[2];
  *A3 = y[3];
}

/* Work units of apply2 (hi > lo the two gate bits). lo >= 1: unit un = a run of L (even)
 * contiguous groups x, x + slo, x + shi, x + shi + slo. */
static ALWAYS_INLINE void apply2_unit(double *ad, const vcoef *c, int lo, int hi, bps_idx L,
                                      bps_idx un) {
  const bps_idx shi = (bps_idx)1 << hi, slo = (bps_idx)1 << lo;
  double *x0 = ad + 2 * ins0(ins0(un * L, lo), hi), *x1 = x0 + 2 * slo;
  double *x2 = x0 + 2 * shi, *x3 = x2 + 2 * slo;
  for (bps_idx j = 0; j < 2 * L; j += 4) {
    v4 A0 = vld(x0 + j), A1 = vld(x1 + j), A2 = vld(x2 + j), A3 = vld(x3 + j);
    k2(c, &A0, &A1, &A2, &A3);
    vst(x0 + j, A0);
    vst(x1 + j, A1);
    vst(x2 + j, A2);
    vst(x3 + j, A3);
  }
}

/* lo = 0: a group is (x[0], x[1]) and (x[shi], x[shi+1]), groups st apart; unit un = at
 * most L groups from un * L. */
static ALWAYS_INLINE void apply2_unit0(double *ad, const vcoef *c, int hi, bps_idx st, bps_idx L,
                                       bps_idx nquads, bps_idx un) {
  const bps_idx shi = (bps_idx)1 << hi;
  const bps_idx p0 = un * L, Lu = nquads - p0 < L ? nquads - p0 : L;
  double *x = ad + 2 * ins0(ins0(p0, 0), hi), *z = x + 2 * shi;
  bps_idx j = 0;
  for (; j + 2 <= Lu; j += 2) {
    const v4 P = vld(x + 2 * st * j), Q = vld(x + 2 * st * (j + 1));
    const v4 R = vld(z + 2 * st * j), S = vld(z + 2 * st * (j + 1));
    v4 A0 = vlo(P, Q), A1 = vhi(P, Q), A2 = vlo(R, S), A3 = vhi(R, S);
    k2(c, &A0, &A1, &A2, &A3);
    vst(x + 2 * st * j, vlo(A0, A1));
    vst(x + 2 * st * (j + 1), vhi(A0, A1));
    vst(z + 2 * st * j, vlo(A2, A3));
    vst(z + 2 * st * (j + 1), vhi(A2, A3));
  }
  if (j < Lu) { /* a single group (N = 4) */
    double *p = x + 2 * st * j, *r = z + 2 * st * j;
    v4 A0 = vone(p), A1 = vone(p + 2), A2 = vone(r), A3 = vone(r + 2);
    k2(c, &A0, &A1, &A2, &A3);
    vstone(p, A0);
    vstone(p + 2, A1);
    vstone(r, A2);
    vstone(r + 2, A3);
  }
}

/* b0 = bit of the gate's first (most significant) qubit, b1 of the second. */
static void apply2(bps_cplx *a, bps_idx N, int b0, int b1, const bps_cplx *U) {
  bps_cplx Uc[16];
  if (b0 < b1) { /* make the first gate qubit the higher bit: swap the gate qubits */
    static const int sw[4] = {0, 2, 1, 3};
    for (int g = 0; g < 4; g++)
      for (int h = 0; h < 4; h++) Uc[sw[g] * 4 + sw[h]] = U[g * 4 + h];
    const int t = b0;
    b0 = b1;
    b1 = t;
  } else {
    memcpy(Uc, U, sizeof Uc);
  }
  vcoef u[16];
  make_coefs(16, Uc, u);
  const int hi = b0, lo = b1;
  const bps_idx shi = (bps_idx)1 << hi, slo = (bps_idx)1 << lo, nquads = N / 4;
  double *ad = (double *)a;
  /* Parallel: each thread works from a private copy of the coefficients (provably not
   * aliased by its stores); serially u itself is such a local. */
  if (lo >= 1) {
    const bps_idx L = slo < RUN ? slo : RUN, nunits = nquads / L;
    if (bps_par_ok(N)) {
#pragma omp parallel
      {
        vcoef c[16];
        memcpy(c, u, sizeof c);
#pragma omp for schedule(static)
        for (bps_idx un = 0; un < nunits; un++) apply2_unit(ad, c, lo, hi, L, un);
      }
    } else {
      for (bps_idx un = 0; un < nunits; un++) apply2_unit(ad, u, lo, hi, L, un);
    }
  } else {
    const bps_idx st = hi == 1 ? 4 : 2; /* complex numbers between consecutive groups */
    const bps_idx blk = hi == 1 ? nquads : shi / 2, L = blk < RUN ? blk : RUN;
    const bps_idx nunits = (nquads + L - 1) / L;
    if (bps_par_ok(N)) {
#pragma omp parallel
      {
        vcoef c[16];
        memcpy(c, u, sizeof c);
#pragma omp for schedule(static)
        for (bps_idx un = 0; un < nunits; un++) apply2_unit0(ad, c, hi, st, L, nquads, un);
      }
    } else {
      for (bps_idx un = 0; un < nunits; un++) apply2_unit0(ad, u, hi, st, L, nquads, un);
    }
  }
}

/* ---------------------------------------------------------------------------------- */
/* k >= 3 through zgemm.                                                                */
/*                                                                                      */
/* Thread-count invariance: a threaded OpenBLAS zgemm splits the product differently    */
/* for different thread counts and its edge kernels round differently (measured: 1 vs 2 */
/* threads differ in ~0.2% of the entries of an 8 x 4096 x 8 product). linalg.c keeps   */
/* OpenBLAS on one thread, so the parallelism is ours: a fixed grid of gemm cells or     */
/* panels (a function of the shapes only, never of the thread count), OpenMP over them.  */

#define GRID_CELLS 16 /* target number of gemm cells per product */
#define GRID_MIN 64   /* minimum rows / columns per cell */

/* count products C_b (M x N) = op(A_b) B_b with A_b = A + b*sa, B_b = B + b*sb,
 * C_b = C + b*sc (sa = 0: one shared A). opa is 'N' or 'T'; B is not transposed. */
typedef struct {
  char opa;
  bps_idx M, N, K, lda, sa, ldb, sb, ldc, sc;
  const bps_cplx *A, *B;
  bps_cplx *C;
  bps_idx nrow, ncol, mc, nc;
} gemm_grid;

static void grid_plan(gemm_grid *g, bps_idx count) {
  bps_idx ncol = 1, nrow = 1;
  if (count < GRID_CELLS) { /* split each product into about GRID_CELLS / count cells */
    const bps_idx want = (GRID_CELLS + count - 1) / count;
    ncol = g->N / GRID_MIN;
    ncol = ncol < 1 ? 1 : ncol > want ? want : ncol;
    nrow = want / ncol;
    if (nrow > g->M / GRID_MIN) nrow = g->M / GRID_MIN;
    if (nrow < 1) nrow = 1;
  }
  g->nc = (g->N + ncol - 1) / ncol;
  g->mc = (g->M + nrow - 1) / nrow;
  g->ncol = (g->N + g->nc - 1) / g->nc;
  g->nrow = (g->M + g->mc - 1) / g->mc;
}

static void grid_cell(const gemm_grid *g, bps_idx cell) {
  const bps_idx per = g->nrow * g->ncol, b = cell / per, rc = cell % per;
  const bps_idx i0 = (rc / g->ncol) * g->mc, j0 = (rc % g->ncol) * g->nc;
  const bps_idx m = g->M - i0 < g->mc ? g->M - i0 : g->mc;
  const bps_idx n = g->N - j0 < g->nc ? g->N - j0 : g->nc;
  const bps_cplx *A = g->A + b * g->sa + (g->opa == 'N' ? i0 : g->lda * i0);
  bps_lin_gemm(g->opa, 'N', m, n, g->K, 1.0, A, g->lda, g->B + b * g->sb + g->ldb * j0, g->ldb,
               0.0, g->C + b * g->sc + i0 + g->ldc * j0, g->ldc);
}

static void grid_run(gemm_grid *g, bps_idx count) {
  grid_plan(g, count);
  const bps_idx cells = count * g->nrow * g->ncol;
  const int par = bps_par_ok(g->M * g->N * count * (g->K >= 8 ? g->K / 4 : 1)); /* threads.h */
  BPS_PAR_FOR(par, bps_idx, cell, cells, grid_cell(g, cell));
}

/* Gather/gemm/scatter on the outer indices [o0, o0 + nb): X, Y are K x nb panels. */
static void panel(bps_cplx *a, const bitmap *om, const bitmap *gm, int q, int k, bps_idx o0,
                  bps_idx nb, const bps_cplx *U, bps_cplx *X, bps_cplx *Y, bps_idx *base) {
  const bps_idx K = (bps_idx)1 << k, rowmask = ((bps_idx)1 << (q - k)) - 1;
  for (bps_idx j = 0; j < nb; j++) {
    bps_idx o = o0 + j;
    base[j] = bitmap_at(om, o & rowmask) + ((o >> (q - k)) << q);
  }
  for (bps_idx g = 0; g < K; g++) {
    const bps_idx off = bitmap_at(gm, g);
    for (bps_idx j = 0; j < nb; j++) X[g + K * j] = a[base[j] + off];
  }
  /* Y = U X; U is row-major, i.e. column-major U^T */
  bps_lin_gemm('T', 'N', K, nb, K, 1.0, U, K, X, K, 0.0, Y, K);
  for (bps_idx g = 0; g < K; g++) {
    const bps_idx off = bitmap_at(gm, g);
    for (bps_idx j = 0; j < nb; j++) a[base[j] + off] = Y[g + K * j];
  }
}

/* Panels of B outer indices, each gathered, multiplied and scattered in cache; scratch
 * (X, Y: K x B, base: B) per thread. Returns 0 when the scratch is missing. */
static int panels_alloc(bps_idx K, bps_idx B, bps_cplx **X, bps_cplx **Y, bps_idx **base) {
  *X = bps_alloc((size_t)(K * B));
  *Y = bps_alloc((size_t)(K * B));
  *base = malloc((size_t)B * sizeof(bps_idx));
  return *X && *Y && *base;
}

static void panels_free(bps_cplx *X, bps_cplx *Y, bps_idx *base) {
  bps_free(X);
  bps_free(Y);
  free(base);
}

static ALWAYS_INLINE void panel_batch(bps_cplx *a, const bitmap *om, const bitmap *gm, int q,
                                      int k, bps_idx nout, bps_idx B, const bps_cplx *U,
                                      bps_cplx *X, bps_cplx *Y, bps_idx *base, bps_idx t) {
  const bps_idx o0 = t * B, nb = nout - o0 < B ? nout - o0 : B;
  panel(a, om, gm, q, k, o0, nb, U, X, Y, base);
}

static int apply_panels(bps_cplx *a, const bitmap *om, const bitmap *gm, int q, int k,
                        bps_idx nout, bps_idx B, const bps_cplx *U) {
  const bps_idx K = (bps_idx)1 << k, nbatch = (nout + B - 1) / B;
  int err = 0;
  if (bps_par_ok(nout * K * (K / 4))) { /* K multiply-adds per element (threads.h) */
#pragma omp parallel
    {
      bps_cplx *X, *Y;
      bps_idx *base;
      const int ok = panels_alloc(K, B, &X, &Y, &base);
      if (!ok) {
#pragma omp atomic write
        err = 1;
      }
#pragma omp for schedule(static)
      for (bps_idx t = 0; t < nbatch; t++)
        if (ok) panel_batch(a, om, gm, q, k, nout, B, U, X, Y, base, t);
      panels_free(X, Y, base);
    }
  } else {
    bps_cplx *X, *Y;
    bps_idx *base;
    if (panels_alloc(K, B, &X, &Y, &base))
      for (bps_idx t = 0; t < nbatch; t++)
        panel_batch(a, om, gm, q, k, nout, B, U, X, Y, base, t);
    else err = 1;
    panels_free(X, Y, base);
  }
  BPS_CHECK(!err, BPS_ERR_MEM, "out of memory (gemm panels for a %d-qubit gate)", k);
  return BPS_OK;
}

/* Gather (buf[g + K j] = amplitude g of outer index j) and scatter back, for the outer
 * indices of block jb (GS_BLOCK of them). */
#define GS_BLOCK 256
/* scatter = 0: buf[g + K j] = x[state index of (j, g)]; scatter = 1: the reverse,
 * x[g + K j] goes to buf[state index of (j, g)] (a compile-time constant at each call). */
static ALWAYS_INLINE void gs_block(bps_cplx *buf, const bps_cplx *x, const bitmap *om,
                                   const bitmap *gm, int q, int k, bps_idx nout, bps_idx jb,
                                   int scatter) {
  const bps_idx K = (bps_idx)1 << k, rowmask = ((bps_idx)1 << (q - k)) - 1;
  const bps_idx j1 = (jb + 1) * GS_BLOCK < nout ? (jb + 1) * GS_BLOCK : nout;
  for (bps_idx g = 0; g < K; g++) {
    const bps_idx off = bitmap_at(gm, g);
    for (bps_idx j = jb * GS_BLOCK; j < j1; j++) {
      const bps_idx st = bitmap_at(om, j & rowmask) + ((j >> (q - k)) << q) + off;
      if (scatter) buf[st] = x[g + K * j];
      else buf[g + K * j] = x[st];
    }
  }
}

static ALWAYS_INLINE void gather_block(bps_cplx *buf, const bps_cplx *a, const bitmap *om,
                                       const bitmap *gm, int q, int k, bps_idx nout, bps_idx jb) {
  gs_block(buf, a, om, gm, q, k, nout, jb, 0);
}

static ALWAYS_INLINE void scatter_block(bps_cplx *buf, const bps_cplx *a, const bitmap *om,
                                        const bitmap *gm, int q, int k, bps_idx nout, bps_idx jb) {
  gs_block(buf, a, om, gm, q, k, nout, jb, 1);
}

/* Result in a (*in_buf = 0) or in buf (*in_buf = 1); buf holds N elements. */
static int apply_gemm(bps_cplx *a, bps_cplx *buf, int q, bps_idx N, int k, const int *qubits,
                      const bps_cplx *U, int *in_buf) {
  const bps_idx K = (bps_idx)1 << k, dim = (bps_idx)1 << q, r = N / dim, nout = N / K;
  int trailing = 1, leading = 1;
  for (int m = 0; m < k; m++) {
    trailing &= qubits[m] == q - k + m;
    leading &= qubits[m] == m;
  }
  if (trailing) { /* A as K x (N/K): A' = U A (U row-major = column-major U^T) */
    gemm_grid g = {
        .opa = 'T', .M = K, .N = nout, .K = K, .A = U, .lda = K, .B = a, .ldb = K, .C = buf, .ldc = K};
    grid_run(&g, 1);
    *in_buf = 1;
    return BPS_OK;
  }
  if (leading) { /* each column as X (dim/K x K), gate index = column of X: X' = X U^T */
    const bps_idx m = dim / K;
    gemm_grid g = {.opa = 'N',
                   .M = m,
                   .N = K,
                   .K = K,
                   .A = a,
                   .lda = m,
                   .sa = dim,
                   .B = U,
                   .ldb = K,
                   .C = buf,
                   .ldc = m,
                   .sc = dim};
    grid_run(&g, r);
    *in_buf = 1;
    return BPS_OK;
  }
  /* General position: outer index o = (column, non-gate row bits in order). */
  int rc = BPS_OK;
  bitmap om = {0}, gm = {0};
  BPS_CALL_GOTO(gate_bitmaps(q, k, qubits, &om, &gm));
  bps_idx B = (bps_idx)16384 / K;
  if (B < 64) B = 64;
  if ((nout + B - 1) / B >= 4) { /* in-cache panels, in place */
    *in_buf = 0;
    BPS_CALL_GOTO(apply_panels(a, &om, &gm, q, k, nout, B, U));
  } else { /* gather everything into buf, gemm into a, scatter back into buf */
    const bps_idx nj = (nout + GS_BLOCK - 1) / GS_BLOCK;
    BPS_PAR_FOR(bps_par_ok(N), bps_idx, jb, nj, gather_block(buf, a, &om, &gm, q, k, nout, jb));
    gemm_grid gg = {
        .opa = 'T', .M = K, .N = nout, .K = K, .A = U, .lda = K, .B = buf, .ldb = K, .C = a, .ldc = K};
    grid_run(&gg, 1);
    BPS_PAR_FOR(bps_par_ok(N), bps_idx, jb, nj, scatter_block(buf, a, &om, &gm, q, k, nout, jb));
    *in_buf = 1;
  }
cleanup:
  bitmap_free(&om);
  bitmap_free(&gm);
  return rc;
}

/* U on qubits of every q-qubit column of the flat array a (N elements). buf: N elements
 * of scratch (k >= 3 only); *in_buf tells where the result is. */
static int apply_any(bps_cplx *a, bps_cplx *buf, int q, bps_idx N, int k, const int *qubits,
                     const bps_cplx *U, int *in_buf) {
  *in_buf = 0;
  if (k == 1) apply1(a, N, q - 1 - qubits[0], U);
  else if (k == 2) apply2(a, N, q - 1 - qubits[0], q - 1 - qubits[1], U);
  else BPS_CALL(apply_gemm(a, buf, q, N, k, qubits, U, in_buf));
  return BPS_OK;
}

int bps_fact_apply(bps_state *s, int k, const int *qubits, const bps_cplx *U) {
  const bps_idx N = s->dim * s->rank;
  if (k >= 3) BPS_CALL(bps_state_reserve_work(s, (size_t)N));
  int in_buf;
  BPS_CALL(apply_any(s->a, s->work, s->q, N, k, qubits, U, &in_buf));
  if (in_buf) bps_state_swap_work(s);
  return BPS_OK;
}

int bps_fact_kraus(bps_state *s, int k, const int *qubits, int nk, const bps_cplx *K) {
  const bps_idx N = s->dim * s->rank, KK = (bps_idx)1 << (2 * k);
  int rc = BPS_OK;
  bps_cplx *tmp = NULL;
  BPS_CALL_GOTO(bps_state_reserve_work(s, (size_t)N * (size_t)nk));
  if (k >= 3) {
    tmp = bps_alloc((size_t)N);
    BPS_CHECK_GOTO(tmp, BPS_ERR_MEM, "out of memory (Kraus scratch)");
  }
  for (int m = 0; m < nk; m++) {
    bps_cplx *blk = s->work + (size_t)m * (size_t)N;
    memcpy(blk, s->a, (size_t)N * sizeof(bps_cplx));
    int in_buf = 0;
    BPS_CALL_GOTO(apply_any(blk, tmp, s->q, N, k, qubits, K + (size_t)m * (size_t)KK, &in_buf));
    if (in_buf) memcpy(blk, tmp, (size_t)N * sizeof(bps_cplx));
  }
  bps_free(tmp); /* before the compression allocates its own scratch */
  tmp = NULL;
  bps_state_swap_work(s);
  s->rank *= nk;
  if (s->rank > s->dim) BPS_CALL_GOTO(bps_fact_compress(s));
cleanup:
  bps_free(tmp);
  return rc;
}

int bps_fact_append_zero(bps_state *s, int na) {
  const bps_idx N = s->dim * s->rank, D = (bps_idx)1 << na;
  BPS_CALL(bps_state_reserve_work(s, (size_t)(N << na)));
  bps_cplx *restrict w = s->work;
  const bps_cplx *restrict a = s->a;
  BPS_PAR_FOR(bps_par_ok(N << na), bps_idx, f, N, w[f << na] = a[f];
              for (bps_idx j = 1; j < D; j++) w[(f << na) + j] = 0);
  bps_state_swap_work(s);
  s->q += na;
  s->dim <<= na;
  return BPS_OK;
}

/* Row bit j of every column of s becomes row bit src[j] (bit 0 least significant). */
static int permute_rows(bps_state *s, const int *src) {
  int rc = BPS_OK;
  bitmap m = {0};
  BPS_CALL_GOTO(bitmap_make(&m, s->q, src));
  const bps_idx N = s->dim * s->rank, rowmask = s->dim - 1;
  BPS_CALL_GOTO(bps_state_reserve_work(s, (size_t)N));
  bps_cplx *restrict w = s->work;
  const bps_cplx *restrict a = s->a;
  BPS_PAR_FOR(bps_par_ok(N), bps_idx, f, N, w[f] = a[(f & ~rowmask) | bitmap_at(&m, f & rowmask)]);
  bps_state_swap_work(s);
cleanup:
  bitmap_free(&m);
  return rc;
}

int bps_fact_partial_trace(bps_state *s, int ntr, const int *traced) {
  const int q = s->q, kept = q - ntr;
  int istr[BPS_MAX_QUBITS] = {0};
  for (int m = 0; m < ntr; m++) istr[traced[m]] = 1;
  int leading = 1;
  for (int t = 0; t < ntr; t++) leading &= istr[t];
  if (!leading) {
    /* new row index = (traced qubits, ascending) * 2^kept + kept qubits in order */
    int src[BPS_MAX_QUBITS], nk = 0, nt = 0;
    int kq[BPS_MAX_QUBITS], tq[BPS_MAX_QUBITS];
    for (int t = 0; t < q; t++) {
      if (istr[t]) tq[nt++] = t;
      else kq[nk++] = t;
    }
    for (int j = 0; j < kept; j++) src[j] = q - 1 - kq[kept - 1 - j];
    for (int j = 0; j < ntr; j++) src[kept + j] = q - 1 - tq[ntr - 1 - j];
    BPS_CALL(permute_rows(s, src));
  }
  s->rank <<= ntr;
  s->q = kept;
  s->dim = (bps_idx)1 << kept;
  if (s->rank > s->dim) BPS_CALL(bps_fact_compress(s));
  return BPS_OK;
}

int bps_fact_compress(bps_state *s) {
  if (s->rank <= 1) return BPS_OK;
  const bps_idx d = s->dim, r = s->rank, N = d * r, kmin = d < r ? d : r;
  BPS_CHECK(d <= 2147483647 && r <= 2147483647, BPS_ERR_TOO_BIG, "matrix too large for an SVD");
  int rc = BPS_OK;
  double *sv = NULL;
  bps_cplx *u = NULL;
  BPS_CALL_GOTO(bps_state_reserve_work(s, (size_t)N + LAPACK_PAD(d)));
  sv = malloc((size_t)kmin * sizeof(double));
  u = bps_alloc((size_t)(d * kmin) + LAPACK_PAD(d));
  BPS_CHECK_GOTO(sv && u, BPS_ERR_MEM, "out of memory (SVD of a %lld x %lld factor)",
                 (long long)d, (long long)r);
  /* the SVD destroys its input: work on a copy so that A survives a failure */
  memcpy(s->work, s->a, (size_t)N * sizeof(bps_cplx));
  BPS_CALL_GOTO(bps_lin_svd((int)d, (int)r, s->work, (int)d, sv, u));
  const double tol = COMPRESS_RTOL * sv[0];
  bps_idx keep = 0;
  while (keep < kmin && sv[keep] > tol) keep++;
  if (keep == 0) keep = 1;
  bps_cplx *restrict a = s->a;
  BPS_PAR_FOR(bps_par_ok(d * keep), bps_idx, c, keep,
              for (bps_idx i = 0; i < d; i++) a[i + d * c] = u[i + d * c] * sv[c]);
  s->rank = keep;
cleanup:
  free(sv);
  bps_free(u);
  return rc;
}

/* ---------------------------------------------------------------------------------- */
/* Observables.                                                                        */

static ALWAYS_INLINE bps_idx chunk_lo(bps_idx n, int ch) {
  return (n / BPS_RED_CHUNKS) * ch + ((n % BPS_RED_CHUNKS) * ch) / BPS_RED_CHUNKS;
}

/* Chunk ch of S = sum_f (-1)^{|f & zm|} conj(a[f ^ xm]) a[f] (real or imaginary part). */
static ALWAYS_INLINE double pauli_chunk(const double *ad, bps_idx N, bps_idx xm, bps_idx zm,
                                        int want_im, int ch) {
  double acc = 0.0;
  const bps_idx f1 = chunk_lo(N, ch + 1);
  for (bps_idx f = chunk_lo(N, ch); f < f1; f++) {
    const bps_idx g = f ^ xm;
    const double ar = ad[2 * f], ai = ad[2 * f + 1], br = ad[2 * g], bi = ad[2 * g + 1];
    const double v = want_im ? br * ai - bi * ar : br * ar + bi * ai;
    acc += __builtin_parityll((unsigned long long)(f & zm)) ? -v : v;
  }
  return acc;
}

int bps_fact_expect_pauli(const bps_state *s, const char *pauli, double *out) {
  const int q = s->q;
  bps_idx xm = 0, zm = 0;
  int ny = 0;
  for (int t = 0; t < q; t++) {
    const bps_idx bit = (bps_idx)1 << (q - 1 - t);
    if (pauli[t] == 'X' || pauli[t] == 'Y') xm |= bit;
    if (pauli[t] == 'Z' || pauli[t] == 'Y') zm |= bit;
    ny += pauli[t] == 'Y';
  }
  /* Tr[P A A^dag] = Re(i^ny S), S = sum_f (-1)^{|f & zm|} conj(a[f ^ xm]) a[f] */
  const int want_im = ny & 1;
  const double sgn = (ny & 3) == 0 || (ny & 3) == 3 ? 1.0 : -1.0;
  const bps_idx N = s->dim * s->rank;
  const double *ad = (const double *)s->a;
  double part[BPS_RED_CHUNKS];
  BPS_PAR_FOR(bps_par_ok(N), int, ch, BPS_RED_CHUNKS,
              part[ch] = pauli_chunk(ad, N, xm, zm, want_im, ch));
  double sum = 0.0;
  for (int ch = 0; ch < BPS_RED_CHUNKS; ch++) sum += part[ch];
  *out = sgn * sum;
  return BPS_OK;
}

/* sum over the gate index g in [g0, g1) of conj(psi_g) a[base + gm(g)], into (*vr, *vi). */
static ALWAYS_INLINE void proj_dot(const bps_cplx *a, const bitmap *gm, const bps_cplx *psi,
                                   bps_idx base, bps_idx g0, bps_idx g1, double *vr_, double *vi_) {
  double vr = 0.0, vi = 0.0;
  for (bps_idx g = g0; g < g1; g++) {
    const bps_cplx x = a[base + bitmap_at(gm, g)], p = psi[g];
    vr += creal(p) * creal(x) + cimag(p) * cimag(x);
    vi += creal(p) * cimag(x) - cimag(p) * creal(x);
  }
  *vr_ = vr;
  *vi_ = vi;
}

/* Chunk ch over the outer indices o of sum_o |<psi| a_o>|^2. */
static ALWAYS_INLINE double proj_chunk(const bps_cplx *a, const bitmap *om, const bitmap *gm,
                                       const bps_cplx *psi, int q, int k, bps_idx nout, int ch) {
  const bps_idx K = (bps_idx)1 << k, rowmask = ((bps_idx)1 << (q - k)) - 1;
  double acc = 0.0;
  const bps_idx o1 = chunk_lo(nout, ch + 1);
  for (bps_idx o = chunk_lo(nout, ch); o < o1; o++) {
    const bps_idx base = bitmap_at(om, o & rowmask) + ((o >> (q - k)) << q);
    double vr, vi;
    proj_dot(a, gm, psi, base, 0, K, &vr, &vi);
    acc += vr * vr + vi * vi;
  }
  return acc;
}

int bps_fact_expect_projector(const bps_state *s, int k, const int *qubits, const bps_cplx *psi,
                              double *out) {
  const int q = s->q;
  const bps_idx N = s->dim * s->rank, K = (bps_idx)1 << k, nout = N / K;
  const bps_idx rowmask = ((bps_idx)1 << (q - k)) - 1;
  bitmap om, gm;
  BPS_CALL(gate_bitmaps(q, k, qubits, &om, &gm));
  const bps_cplx *a = s->a;
  double part[BPS_RED_CHUNKS];
  double sum = 0.0;
  if (nout >= BPS_RED_CHUNKS) { /* chunks over outer indices */
    BPS_PAR_FOR(bps_par_ok(N), int, ch, BPS_RED_CHUNKS,
                part[ch] = proj_chunk(a, &om, &gm, psi, q, k, nout, ch));
    for (int ch = 0; ch < BPS_RED_CHUNKS; ch++) sum += part[ch];
  } else { /* few outer indices: chunk each amplitude's sum over the gate index */
    double pi[BPS_RED_CHUNKS];
    for (bps_idx o = 0; o < nout; o++) {
      const bps_idx base = bitmap_at(&om, o & rowmask) + ((o >> (q - k)) << q);
      BPS_PAR_FOR(bps_par_ok(K), int, ch, BPS_RED_CHUNKS,
                  proj_dot(a, &gm, psi, base, chunk_lo(K, ch), chunk_lo(K, ch + 1), &part[ch],
                           &pi[ch]));
      double vr = 0.0, vi = 0.0;
      for (int ch = 0; ch < BPS_RED_CHUNKS; ch++) {
        vr += part[ch];
        vi += pi[ch];
      }
      sum += vr * vr + vi * vi;
    }
  }
  bitmap_free(&om);
  bitmap_free(&gm);
  *out = sum;
  return BPS_OK;
}

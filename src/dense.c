/* dense: kernels for the DENSE representation. rho is row-major, rho[i*dim + j], dim = 2^q;
 * qubit t is index bit q-1-t (qubit 0 = most significant).
 *
 * Index algebra. A k-qubit operation on qubits t_0..t_{k-1} touches the index bits
 * p_t = q-1-t_t; gate index g (t_0 = its most significant bit) sits at offset off[g] =
 * sum_t bit(g, k-1-t) << p_t. The other q-k "rest" bits are enumerated by r in [0, R),
 * R = dim/2^k, and spread into base(r) by inserting zero bits at the target positions
 * (stepping r -> r+1 is nxt(): ((x | targets) + 1) & ~targets). rho splits into N x N
 * blocks (N = 2^k) M_{ri,rj}[a][c] = rho[base(ri)+off[a]][base(rj)+off[c]], and a gate or a
 * channel acts block by block.
 *
 * apply (rho -> U rho U^dag) and kraus (rho -> sum_m K_m rho K_m^dag): ONE sweep over rho,
 *   parallel over block rows ri (static schedule); block row ri is the N rows base(ri)+off[a]
 *   walked left to right, i.e. N^2 streams read and written once.
 *   Vectorisation: blocks are processed in pairs (ri, rj), (ri, rj+1) held in "pair
 *   vectors" (one __m256d = two complex: lane 0 block rj, lane 1 block rj+1). If index bit
 *   0 is a rest bit the two blocks are adjacent in memory; if it is a target (the last
 *   qubit), adjacent columns b, b|1 of one block are loaded and the lanes exchanged with
 *   128-bit permutes. Per pair: T = U M (column by column), O = T U^dag (row by row), in
 *   explicit real arithmetic: u x = u.r*x + u.i*swap(x) with u.i = (-im, im), so a complex
 *   multiply-add is two FMAs plus one in-lane swap per input (no C99 complex multiply); the
 *   u.r and u.i halves accumulate separately so that 8 independent FMA chains are in
 *   flight. Cost: 2N complex multiply-adds per element (k=1: 4, k=2: 8, k=3: 16).
 *   N = 2, 4, 8 (and each position of index bit 0 among the targets) are compile-time
 *   specialisations of one template (registers and L1-resident arrays); larger N use a
 *   runtime-size version with per-thread scratch from the work buffer. Every sweep
 *   software-prefetches its streams a few block columns ahead (the hardware prefetchers do
 *   not keep 2N^2 streams fed: +12% for k=1, +18% for k=2 at q=11 with 2 threads).
 *   With AVX-512 the fixed-N sweeps take quad steps instead: one __m512d holds the same
 *   element of four neighbouring blocks rj..rj+3 (two pair vectors side by side; with a
 *   target on index bit 0 the four loads are transposed by 128-bit shuffles), the same
 *   template core computes two columns/rows per step (16 FMA chains in the 32 zmm
 *   registers), and N >= 4 prefetches into L2. Each lane does exactly the pair kernel's
 *   operations, so results are bitwise those of the AVX2 and the plain build. Measured on
 *   a 2-core Zen 4 class EPYC, 1 thread: 2-qubit gates q = 6 14 -> 18.5 GB/s, q = 11 9.9
 *   -> 16, q = 13 6.8 -> 15 (0.28 -> 0.62 of the 1-thread triad).
 *   Monomial gates (one non-zero per row and column: diagonal Rz/CZ/RZZ/phase gates,
 *   X/Y/CNOT/SWAP/Toffoli and other permutations with phases) are detected from U's zero
 *   pattern: O[a][c] = U[a][s(a)] conj(U[c][s(c)]) M[s(a)][s(c)], one complex multiply per
 *   element (none for pure permutations); the identity is skipped.
 *   A gate or channel on all q qubits (R = 1) is two dense products, row-parallel.
 *   The kernels do not assume rho Hermitian. (A Hermitian variant computing only the upper
 *   blocks and mirroring their conjugates through a packed buffer -- with non-temporal
 *   stores for large states, 1.5 instead of 2 state sizes of traffic -- was built and
 *   measured: on the 2-core Zen 3 target it was 1.4-2x slower than these streaming sweeps,
 *   the tiled access and the non-temporal write rate costing more than the saved work.)
 * append_zero: rho (x) |0..0><0..0| written into the work buffer (rows i<<a get rho's row
 *   spread out, all other rows zero), then swapped in.
 * partial_trace: out[ki][kj] = sum_t rho[e(ki)|t][e(kj)|t], e() inserting zeros at the
 *   traced bits, t running over the traced configurations in increasing order; into the
 *   work buffer, then swapped in.
 * expect_pauli: with x/z masks, P|j> = i^nY (-1)^|j & z| |j ^ x>, so Tr[P rho] =
 *   Re i^nY sum_j (-1)^|j & z| rho[j][j ^ x]: dim terms, no dense P.
 * expect_projector: sum over rest r and gate index b of conj(psi_b) sum_a rho[r,b][r,a]
 *   psi_a (each inner sum sequential).
 * Reductions use BPS_RED_CHUNKS fixed contiguous chunks summed in order, so they are
 * bitwise independent of the thread count; every element-wise kernel computes each output
 * element with the same operations whatever the schedule (tests/t201 checks both).
 * Threads: static OpenMP schedules; regions below BPS_PAR_MIN elements of work run serially
 * (threads.h).
 * Without AVX2+FMA (no -march=native) the pair vectors are plain structs of 4 doubles.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "kernels.h"


#define ALWAYS_INLINE static inline __attribute__((always_inline))


/* ---------------------------------------------------------------------------------------
 * Pair vectors: two complex numbers (re0, im0, re1, im1). */
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256d cv;
ALWAYS_INLINE cv cv_load(const double *p) { return _mm256_loadu_pd(p); }
ALWAYS_INLINE void cv_store(double *p, cv x) { _mm256_storeu_pd(p, x); }
ALWAYS_INLINE cv cv_swap(cv x) { return _mm256_permute_pd(x, 5); } /* (im, re) per lane */
ALWAYS_INLINE cv cv_lo(cv x, cv y) { return _mm256_permute2f128_pd(x, y, 0x20); }
ALWAYS_INLINE cv cv_hi(cv x, cv y) { return _mm256_permute2f128_pd(x, y, 0x31); }
ALWAYS_INLINE cv cv_mul(cv a, cv b) { return _mm256_mul_pd(a, b); }
ALWAYS_INLINE cv cv_add(cv a, cv b) { return _mm256_add_pd(a, b); }
ALWAYS_INLINE cv cv_sub(cv a, cv b) { return _mm256_sub_pd(a, b); }
ALWAYS_INLINE cv cv_fma(cv a, cv b, cv c) { return _mm256_fmadd_pd(a, b, c); }
ALWAYS_INLINE cv cv_set1(double x) { return _mm256_set1_pd(x); }
ALWAYS_INLINE cv cv_setim(double y) { return _mm256_setr_pd(-y, y, -y, y); }
#else
typedef struct {
  double v[4];
} cv;
ALWAYS_INLINE cv cv_load(const double *p) {
  cv r = {{p[0], p[1], p[2], p[3]}};
  return r;
}
ALWAYS_INLINE void cv_store(double *p, cv x) { memcpy(p, x.v, sizeof x.v); }
ALWAYS_INLINE cv cv_swap(cv x) {
  cv r = {{x.v[1], x.v[0], x.v[3], x.v[2]}};
  return r;
}
ALWAYS_INLINE cv cv_lo(cv x, cv y) {
  cv r = {{x.v[0], x.v[1], y.v[0], y.v[1]}};
  return r;
}
ALWAYS_INLINE cv cv_hi(cv x, cv y) {
  cv r = {{x.v[2], x.v[3], y.v[2], y.v[3]}};
  return r;
}
ALWAYS_INLINE cv cv_mul(cv a, cv b) {
  cv r;
  for (int l = 0; l < 4; l++) r.v[l] = a.v[l] * b.v[l];
  return r;
}
ALWAYS_INLINE cv cv_add(cv a, cv b) {
  cv r;
  for (int l = 0; l < 4; l++) r.v[l] = a.v[l] + b.v[l];
  return r;
}
ALWAYS_INLINE cv cv_sub(cv a, cv b) {
  cv r;
  for (int l = 0; l < 4; l++) r.v[l] = a.v[l] - b.v[l];
  return r;
}
ALWAYS_INLINE cv cv_fma(cv a, cv b, cv c) {
  cv r;
  for (int l = 0; l < 4; l++) r.v[l] = a.v[l] * b.v[l] + c.v[l];
  return r;
}
ALWAYS_INLINE cv cv_set1(double x) {
  cv r = {{x, x, x, x}};
  return r;
}
ALWAYS_INLINE cv cv_setim(double y) {
  cv r = {{-y, y, -y, y}};
  return r;
}
#endif

/* A complex coefficient u prepared for pair vectors: u x = r*x + i*swap(x). */
typedef struct {
  cv r, i;
} cc;
static cc cc_make(bps_cplx u) {
  cc c = {cv_set1(creal(u)), cv_setim(cimag(u))};
  return c;
}
/* u x with xs = swap(x) */
ALWAYS_INLINE cv cmul1(cc u, cv x, cv xs) { return cv_fma(u.i, xs, cv_mul(u.r, x)); }

/* ---------------------------------------------------------------------------------------
 * Index layout of a k-qubit operation. */
typedef struct {
  int q, k, N;            /* N = 2^k */
  bps_idx D, R;           /* dim and number of rest indices D/N */
  int sp[BPS_MAX_QUBITS]; /* target bit positions, ascending */
  bps_idx tmask;          /* all target bits */
  bps_idx *off;           /* off[g], g in [0, N): index bits of gate index g */
  int lobit;              /* the gate-index bit of a target at index bit 0, or 0 */
} layout;

/* Insert zero bits at the ascending positions sp[0..n-1]. */
static inline bps_idx expand(bps_idx r, int n, const int *sp) {
  for (int t = 0; t < n; t++) {
    int p = sp[t];
    bps_idx low = r & (((bps_idx)1 << p) - 1);
    r = ((r >> p) << (p + 1)) | low;
  }
  return r;
}
/* The next index after x whose mask bits are zero. */
ALWAYS_INLINE bps_idx nxt(bps_idx x, bps_idx mask) { return ((x | mask) + 1) & ~mask; }

static void layout_make(layout *L, int q, int k, const int *qubits, bps_idx *off) {
  L->q = q;
  L->k = k;
  L->N = 1 << k;
  L->D = (bps_idx)1 << q;
  L->R = L->D >> k;
  L->off = off;
  L->tmask = 0;
  L->lobit = 0;
  for (int t = 0; t < k; t++) {
    int p = q - 1 - qubits[t];
    L->sp[t] = p;
    L->tmask |= (bps_idx)1 << p;
    if (p == 0) L->lobit = 1 << (k - 1 - t);
  }
  for (int a = 1; a < k; a++) /* insertion sort */
    for (int b = a; b > 0 && L->sp[b - 1] > L->sp[b]; b--) {
      int tmp = L->sp[b];
      L->sp[b] = L->sp[b - 1];
      L->sp[b - 1] = tmp;
    }
  for (int g = 0; g < L->N; g++) {
    bps_idx o = 0;
    for (int t = 0; t < k; t++)
      if ((g >> (k - 1 - t)) & 1) o |= (bps_idx)1 << (q - 1 - qubits[t]);
    off[g] = o;
  }
}

/* ---------------------------------------------------------------------------------------
 * Block-pair kernels. */

/* What to do with each block. */
enum { OP_UNI = 0, OP_KRAUS = 1, OP_MONO = 2 };
typedef struct {
  layout L;
  double *rho;
  int nk;         /* OP_KRAUS: sum over nk matrices of K V K^dag */
  const cc *u;    /* OP_UNI / OP_KRAUS: nk * N * N prepared coefficients */
  const cc *f;    /* OP_MONO: N*N phase products */
  const int *src; /* OP_MONO: source gate index of each output index */
  int phase;      /* OP_MONO: 0 = pure permutation, no multiply */
  cv *scr;        /* runtime-N scratch, per thread */
  size_t per;     /* cv per thread */
} sweep;

#define UNROLL _Pragma("GCC unroll 64")
#define ROLL _Pragma("GCC unroll 1") /* keeps register pressure local */

/* Pair (ri, rj), (ri, rj+1): V[a*N + b] lane 0 = block rj, lane 1 = block rj+1. po[a*N+b]
 * points at element (a, b) of block rj = 0. LO = 0: bit 0 is a rest bit, the two blocks
 * are adjacent; LO = gate bit of the target on index bit 0: columns b, b|LO of one block
 * are adjacent and the lanes are exchanged with 128-bit permutes. */
ALWAYS_INLINE void pair_load(int N, int LO, double *const *po, bps_idx bj0, bps_idx bj1, cv *V) {
  if (!LO) {
    UNROLL for (int x = 0; x < N * N; x++) V[x] = cv_load(po[x] + 2 * bj0);
  } else {
    UNROLL for (int x = 0; x < N * N; x++) {
      if (x & LO) continue;
      cv y0 = cv_load(po[x] + 2 * bj0), y1 = cv_load(po[x] + 2 * bj1);
      V[x] = cv_lo(y0, y1);
      V[x | LO] = cv_hi(y0, y1);
    }
  }
}

ALWAYS_INLINE void pair_store(int N, int LO, double *const *po, bps_idx bj0, bps_idx bj1,
                              const cv *O) {
  if (!LO) {
    UNROLL for (int x = 0; x < N * N; x++) cv_store(po[x] + 2 * bj0, O[x]);
  } else {
    UNROLL for (int x = 0; x < N * N; x++) {
      if (x & LO) continue;
      cv_store(po[x] + 2 * bj0, cv_lo(O[x], O[x | LO]));
      cv_store(po[x] + 2 * bj1, cv_hi(O[x], O[x | LO]));
    }
  }
}

/* O (+)= K V K^dag on a pair of N x N blocks (N = 2, 4, 8 at compile time): T = K V
 * (column by column), then O[a][c] = sum_b T[a][b] conj(K[c][b]) (row by row). Each
 * complex sum keeps two accumulators (the u.r and u.i halves of the complex multiply-add)
 * and a step computes 4 outputs (N = 2: 2 outputs of 2 columns/rows), i.e. 8 independent
 * FMA chains (2 FMA pipes x latency 4). The outer loops stay rolled to keep register
 * pressure local (measured: full unrolling of N = 4 spills heavily). */
#define DEF_CORE(NAME, VT, CT, P, LD, NB4)                                                      \
  ALWAYS_INLINE void NAME(const int N, const cc *u, const VT *V, VT *O, int acc0) {             \
    const int NB = N == 2 ? 2 : NB4; /* stage 1: columns per step; stage 2: rows per step */    \
    const int OB = N == 2 ? 2 : 4;   /* outputs per step */                                     \
    VT T[64];                                                                                   \
    ROLL for (int b0 = 0; b0 < N; b0 += NB) ROLL for (int a0 = 0; a0 < N; a0 += OB) {           \
      VT ar[4][2], ai[4][2];                                                                    \
      UNROLL for (int x = 0; x < N; x++) UNROLL for (int bb = 0; bb < NB; bb++) {               \
        const VT v = V[x * N + b0 + bb], vs = P##_swap(v);                                      \
        UNROLL for (int aa = 0; aa < OB; aa++) {                                                \
          const CT c = LD(u[(a0 + aa) * N + x]);                                                \
          ar[aa][bb] = x ? P##_fma(c.r, v, ar[aa][bb]) : P##_mul(c.r, v);                       \
          ai[aa][bb] = x ? P##_fma(c.i, vs, ai[aa][bb]) : P##_mul(c.i, vs);                     \
        }                                                                                       \
      }                                                                                         \
      UNROLL for (int aa = 0; aa < OB; aa++) UNROLL for (int bb = 0; bb < NB; bb++)             \
          T[(a0 + aa) * N + b0 + bb] = P##_add(ar[aa][bb], ai[aa][bb]);                         \
    }                                                                                           \
    ROLL for (int a0 = 0; a0 < N; a0 += NB) ROLL for (int c0 = 0; c0 < N; c0 += OB) {           \
      VT ar[2][4], ai[2][4];                                                                    \
      UNROLL for (int b = 0; b < N; b++) UNROLL for (int aa = 0; aa < NB; aa++) {               \
        const VT t = T[(a0 + aa) * N + b], ts = P##_swap(t);                                    \
        UNROLL for (int cc_ = 0; cc_ < OB; cc_++) {                                             \
          const CT k = LD(u[(c0 + cc_) * N + b]);                                               \
          ar[aa][cc_] = b ? P##_fma(k.r, t, ar[aa][cc_]) : P##_mul(k.r, t);                     \
          ai[aa][cc_] = b ? P##_fma(k.i, ts, ai[aa][cc_]) : P##_mul(k.i, ts);                   \
        }                                                                                       \
      }                                                                                         \
      UNROLL for (int aa = 0; aa < NB; aa++) UNROLL for (int cc_ = 0; cc_ < OB; cc_++) {        \
        VT *o = &O[(a0 + aa) * N + c0 + cc_];                                                   \
        const VT r = P##_sub(ar[aa][cc_], ai[aa][cc_]);                                         \
        *o = acc0 ? P##_add(*o, r) : r;                                                         \
      }                                                                                         \
    }                                                                                           \
  }
#define CC_AS_IS(c) (c)
DEF_CORE(core_conj, cv, cc, cv, CC_AS_IS, 1)

/* The operation of one step on its blocks V -> O, by kind: U V U^dag (OP_UNI), the sum of
 * K_m V K_m^dag (OP_KRAUS, nk matrices at uk), or the monomial gather with phases (OP_MONO:
 * O[a][c] = f[a][c] V[src a][src c], a complex multiply as cmul1). One template for the
 * pair and the quad vectors, as DEF_CORE. */
#define DEF_BLOCK(NAME, VT, CT, P, LD, CORE)                                                    \
  ALWAYS_INLINE void NAME(const int N, const int KIND, const cc *u, const cc *uk, int nk,       \
                          const int *src, int phase, const VT *V, VT *O) {                      \
    if (KIND == OP_UNI) {                                                                       \
      CORE(N, u, V, O, 0);                                                                      \
    } else if (KIND == OP_KRAUS) {                                                              \
      CORE(N, uk, V, O, 0);                                                                     \
      for (int m = 1; m < nk; m++) CORE(N, uk + (size_t)m * N * N, V, O, 1);                    \
    } else {                                                                                    \
      for (int a = 0; a < N; a++)                                                               \
        for (int c = 0; c < N; c++) {                                                           \
          const VT x = V[src[a] * N + src[c]];                                                  \
          if (phase) {                                                                          \
            const CT f = LD(u[a * N + c]);                                                      \
            O[a * N + c] = P##_fma(f.i, P##_swap(x), P##_mul(f.r, x));                          \
          } else {                                                                              \
            O[a * N + c] = x;                                                                   \
          }                                                                                     \
        }                                                                                       \
    }                                                                                           \
  }
DEF_BLOCK(block_pair, cv, cc, cv, CC_AS_IS, core_conj)

/* Software prefetch distance of the fixed-N sweeps, in block columns (measured on Zen 3 at
 * q = 11, 2 threads: +12% for k = 1, +18% for k = 2; the hardware prefetchers alone do not
 * keep the 2N^2 concurrent streams fed). The quad sweeps (Zen 4, 1 thread) were flat in
 * the distance (4..32 for N = 4); prefetching into L2 instead of L1 gave +11% for 2-qubit
 * gates at q = 13 (the 16 streams, 2^17 bytes apart, share one L1 set) but -22% for N = 2. */
#define PF_DIST(N) ((N) == 2 ? 16 : 8)
#define NFIX 8 /* largest compile-time block size */

/* The locals of a block row's sweep (rowgroup_fixed, rowgroup_quad): the coefficients
 * (OP_UNI, OP_MONO) and the source indices copied from w (the vector stores may alias any
 * memory), and po[a*N+b] pointing at element (a, b) of block column 0 of row ri. */
ALWAYS_INLINE void rowgroup_locals(const int N, const int KIND, const sweep *w, bps_idx ri,
                                   cc *u, int *src, double **po) {
  const layout *L = &w->L;
  if (KIND == OP_UNI) {
    for (int x = 0; x < N * N; x++) u[x] = w->u[x];
  } else if (KIND == OP_MONO) {
    for (int x = 0; x < N * N; x++) u[x] = w->f[x];
    for (int a = 0; a < N; a++) src[a] = w->src[a];
  }
  const bps_idx bi = expand(ri, L->k, L->sp);
  for (int a = 0; a < N; a++)
    for (int b = 0; b < N; b++)
      po[a * N + b] = w->rho + 2 * ((bi + L->off[a]) * L->D + L->off[b]);
}

/* Block row ri: all blocks (ri, rj), N = 2, 4 or 8 known at compile time, one pair of blocks
 * per step. Everything the loop needs is copied to locals first: the vector stores may
 * alias any memory. */
ALWAYS_INLINE void rowgroup_fixed(const int N, const int LO, const int KIND, const sweep *w,
                                  bps_idx ri) {
  const layout *L = &w->L;
  const bps_idx tm = L->tmask, R = L->R;
  cc u[NFIX * NFIX];
  int src[NFIX];
  const int nk = w->nk, phase = w->phase;
  const cc *uk = w->u;
  double *po[NFIX * NFIX];
  rowgroup_locals(N, KIND, w, ri, u, src, po);
  /* bpf: the block column PF_DIST(N) ahead, prefetched while rj < pfend */
  const bps_idx pfend = R - PF_DIST(N);
  bps_idx bpf = pfend > 0 ? expand(PF_DIST(N), L->k, L->sp) : 0;
  bps_idx bj0 = 0;
  for (bps_idx rj = 0; rj < R; rj += 2) {
    const bps_idx bj1 = nxt(bj0, tm);
    cv V[NFIX * NFIX], O[NFIX * NFIX];
    pair_load(N, LO, po, bj0, bj1, V);
    if (rj < pfend) { /* one prefetch per stream and 64-byte line */
      const bps_idx bpf1 = nxt(bpf, tm);
      UNROLL for (int x = 0; x < N * N; x++) {
        if (LO && (x & LO)) continue;
        __builtin_prefetch(po[x] + 2 * bpf, 0, 3);
        if (LO) __builtin_prefetch(po[x] + 2 * bpf1, 0, 3);
      }
      bpf = nxt(bpf1, tm);
    }
    block_pair(N, KIND, u, uk, nk, src, phase, V, O);
    pair_store(N, LO, po, bj0, bj1, O);
    bj0 = nxt(bj1, tm);
  }
}

#if defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
/* Quad vectors (AVX-512): the same element of four neighbouring blocks (ri, rj..rj+3), i.e.
 * two pair vectors side by side, so each coefficient load and each instruction serves four
 * complex numbers. Every lane computes exactly the operations of the pair kernels (same
 * template core, coefficients broadcast from the pair form), so results are bitwise equal. */
#define BPS_QUAD 1
typedef __m512d qv;
typedef struct {
  qv r, i;
} qc;
ALWAYS_INLINE qv qv_swap(qv x) { return _mm512_permute_pd(x, 0x55); }
ALWAYS_INLINE qv qv_mul(qv a, qv b) { return _mm512_mul_pd(a, b); }
ALWAYS_INLINE qv qv_add(qv a, qv b) { return _mm512_add_pd(a, b); }
ALWAYS_INLINE qv qv_sub(qv a, qv b) { return _mm512_sub_pd(a, b); }
ALWAYS_INLINE qv qv_fma(qv a, qv b, qv c) { return _mm512_fmadd_pd(a, b, c); }
ALWAYS_INLINE qv qv_join(cv lo, cv hi) {
  return _mm512_insertf64x4(_mm512_castpd256_pd512(lo), hi, 1);
}
ALWAYS_INLINE qc qc_of(cc c) {
  qc z = {_mm512_broadcast_f64x4(c.r), _mm512_broadcast_f64x4(c.i)};
  return z;
}
DEF_CORE(core_quad, qv, qc, qv, qc_of, 2)
DEF_BLOCK(block_quad, qv, qc, qv, qc_of, core_quad)

/* Quad (rj..rj+3) at block bases bj[0..3]. LO = 0: two pair loads (rj, rj+1 and rj+2,
 * rj+3); LO != 0: the four loads of columns (b, b|LO) transposed by 128-bit shuffles.
 * C = 1 when index bit 1 is a rest bit: the two halves are adjacent (one 512-bit access). */
ALWAYS_INLINE qv quad_get(int C, const double *p, bps_idx b0, bps_idx b1) {
  return C ? _mm512_loadu_pd(p + 2 * b0) : qv_join(cv_load(p + 2 * b0), cv_load(p + 2 * b1));
}
ALWAYS_INLINE void quad_put(int C, double *p, bps_idx b0, bps_idx b1, qv x) {
  if (C) {
    _mm512_storeu_pd(p + 2 * b0, x);
  } else {
    cv_store(p + 2 * b0, _mm512_castpd512_pd256(x));
    cv_store(p + 2 * b1, _mm512_extractf64x4_pd(x, 1));
  }
}

ALWAYS_INLINE void quad_load(int N, int LO, int C, double *const *po, const bps_idx *bj, qv *V) {
  UNROLL for (int x = 0; x < N * N; x++) {
    if (!LO) {
      V[x] = quad_get(C, po[x], bj[0], bj[2]);
    } else if (!(x & LO)) {
      const qv A = quad_get(C, po[x], bj[0], bj[1]), B = quad_get(C, po[x], bj[2], bj[3]);
      V[x] = _mm512_shuffle_f64x2(A, B, 0x88);      /* A0 A2 B0 B2: column b */
      V[x | LO] = _mm512_shuffle_f64x2(A, B, 0xDD); /* A1 A3 B1 B3: column b|LO */
    }
  }
}

ALWAYS_INLINE void quad_store(int N, int LO, int C, double *const *po, const bps_idx *bj,
                              const qv *O) {
  UNROLL for (int x = 0; x < N * N; x++) {
    if (!LO) {
      quad_put(C, po[x], bj[0], bj[2], O[x]);
    } else if (!(x & LO)) {
      const __m512i i01 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
      const __m512i i23 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
      quad_put(C, po[x], bj[0], bj[1], _mm512_permutex2var_pd(O[x], i01, O[x | LO]));
      quad_put(C, po[x], bj[2], bj[3], _mm512_permutex2var_pd(O[x], i23, O[x | LO]));
    }
  }
}

/* rowgroup_fixed with quad steps (R a multiple of 4). */
ALWAYS_INLINE void rowgroup_quad(const int N, const int LO, const int KIND, const sweep *w,
                                 bps_idx ri) {
  const layout *L = &w->L;
  const bps_idx tm = L->tmask, R = L->R;
  cc u[NFIX * NFIX];
  int src[NFIX];
  const int nk = w->nk, phase = w->phase;
  const cc *uk = w->u;
  double *po[NFIX * NFIX];
  rowgroup_locals(N, KIND, w, ri, u, src, po);
  const bps_idx pfend = R - PF_DIST(N);
  bps_idx bpf = pfend > 0 ? expand(PF_DIST(N), L->k, L->sp) : 0;
  const int c2 = N == 2 && !(tm & 2); /* halves adjacent (measured: pays for N = 2 only) */
  bps_idx bj[4];
  bj[0] = 0;
  for (bps_idx rj = 0; rj < R; rj += 4) {
    bj[1] = nxt(bj[0], tm);
    bj[2] = nxt(bj[1], tm);
    bj[3] = nxt(bj[2], tm);
    qv V[NFIX * NFIX], O[NFIX * NFIX];
    if (c2) quad_load(N, LO, 1, po, bj, V);
    else quad_load(N, LO, 0, po, bj, V);
    if (rj < pfend) { /* the four block columns PF_DIST(N) ahead */
      bps_idx pf[4];
      pf[0] = bpf;
      for (int l = 1; l < 4; l++) pf[l] = nxt(pf[l - 1], tm);
      UNROLL for (int x = 0; x < N * N; x++) {
        if (LO && (x & LO)) continue;
        UNROLL for (int l = 0; l < 4; l += LO ? 1 : 2) {
          if (N == 2) __builtin_prefetch(po[x] + 2 * pf[l], 0, 3);
          else __builtin_prefetch(po[x] + 2 * pf[l], 0, 2); /* into L2 (see PF_DIST) */
        }
      }
      bpf = nxt(pf[3], tm);
    }
    block_quad(N, KIND, u, uk, nk, src, phase, V, O);
    if (c2) quad_store(N, LO, 1, po, bj, O);
    else quad_store(N, LO, 0, po, bj, O);
    bj[0] = nxt(bj[3], tm);
  }
}
#define ROWGROUP_FIXED(N, LO, KIND, w, ri, quad)                                                \
  ((quad) ? rowgroup_quad(N, LO, KIND, w, ri) : rowgroup_fixed(N, LO, KIND, w, ri))
#else
#define ROWGROUP_FIXED(N, LO, KIND, w, ri, quad)                                                \
  ((void)(quad), rowgroup_fixed(N, LO, KIND, w, ri))
#endif

/* core_conj for any N (a multiple of 4, known at run time): outputs in blocks of 4 with
 * split accumulators (8 FMA chains), the swapped inputs computed once into S (N cv). The
 * per-element operation order is that of core_conj. */
static inline void core_var(const int N, const cc *u, const cv *V, cv *T, cv *S, cv *O, int acc0) {
  for (int b = 0; b < N; b++) {
    for (int x = 0; x < N; x++) S[x] = cv_swap(V[x * N + b]);
    for (int a0 = 0; a0 < N; a0 += 4) {
      const cc *u0 = u + (size_t)a0 * N;
      cv ar[4], ai[4];
      UNROLL for (int aa = 0; aa < 4; aa++) {
        ar[aa] = cv_mul(u0[aa * N].r, V[b]);
        ai[aa] = cv_mul(u0[aa * N].i, S[0]);
      }
      for (int x = 1; x < N; x++) {
        const cv v = V[x * N + b], vs = S[x];
        UNROLL for (int aa = 0; aa < 4; aa++) {
          ar[aa] = cv_fma(u0[aa * N + x].r, v, ar[aa]);
          ai[aa] = cv_fma(u0[aa * N + x].i, vs, ai[aa]);
        }
      }
      UNROLL for (int aa = 0; aa < 4; aa++) T[(a0 + aa) * N + b] = cv_add(ar[aa], ai[aa]);
    }
  }
  for (int a = 0; a < N; a++) {
    const cv *t = T + (size_t)a * N;
    for (int b = 0; b < N; b++) S[b] = cv_swap(t[b]);
    for (int c0 = 0; c0 < N; c0 += 4) {
      const cc *k0 = u + (size_t)c0 * N;
      cv ar[4], ai[4];
      UNROLL for (int cc_ = 0; cc_ < 4; cc_++) {
        ar[cc_] = cv_mul(k0[cc_ * N].r, t[0]);
        ai[cc_] = cv_mul(k0[cc_ * N].i, S[0]);
      }
      for (int b = 1; b < N; b++) {
        const cv tb = t[b], ts = S[b];
        UNROLL for (int cc_ = 0; cc_ < 4; cc_++) {
          ar[cc_] = cv_fma(k0[cc_ * N + b].r, tb, ar[cc_]);
          ai[cc_] = cv_fma(k0[cc_ * N + b].i, ts, ai[cc_]);
        }
      }
      UNROLL for (int cc_ = 0; cc_ < 4; cc_++) {
        const cv r = cv_sub(ar[cc_], ai[cc_]);
        O[a * N + c0 + cc_] = acc0 ? cv_add(O[a * N + c0 + cc_], r) : r;
      }
    }
  }
}

/* The same for any N (runtime), with the scratch of thread tid. */
static void rowgroup_var(const int LO, const int KIND, const sweep *w, bps_idx ri, int tid) {
  const layout *L = &w->L;
  const int N = L->N, lobit = L->lobit;
  const bps_idx D = L->D, tm = L->tmask;
  double *const rho = w->rho;
  cv *V = w->scr + (size_t)tid * w->per;
  cv *T = V + (size_t)N * N, *O = T + (size_t)N * N, *S = O + (size_t)N * N;
  double **rows = (double **)(S + N);
  const bps_idx bi = expand(ri, L->k, L->sp);
  for (int a = 0; a < N; a++) rows[a] = rho + 2 * (bi + L->off[a]) * D;
  const bps_idx pfend = L->R - 8; /* software prefetch 8 block columns ahead */
  bps_idx bpf = pfend > 0 ? expand(8, L->k, L->sp) : 0;
  bps_idx bj0 = 0;
  for (bps_idx rj = 0; rj < L->R; rj += 2) {
    const bps_idx bj1 = nxt(bj0, tm);
    if (rj < pfend) {
      const bps_idx bpf1 = nxt(bpf, tm);
      for (int a = 0; a < N; a++)
        for (int b = 0; b < N; b++) {
          if (LO && (b & lobit)) continue;
          __builtin_prefetch(rows[a] + 2 * (bpf + L->off[b]), 0, 3);
          if (LO) __builtin_prefetch(rows[a] + 2 * (bpf1 + L->off[b]), 0, 3);
        }
      bpf = nxt(bpf1, tm);
    }
    for (int a = 0; a < N; a++)
      for (int b = 0; b < N; b++) {
        if (LO && (b & lobit)) continue;
        cv y0 = cv_load(rows[a] + 2 * (bj0 + L->off[b]));
        if (!LO) {
          V[a * N + b] = y0;
        } else {
          cv y1 = cv_load(rows[a] + 2 * (bj1 + L->off[b]));
          V[a * N + b] = cv_lo(y0, y1);
          V[a * N + (b | lobit)] = cv_hi(y0, y1);
        }
      }
    if (KIND == OP_MONO) {
      for (int a = 0; a < N; a++)
        for (int c = 0; c < N; c++) {
          cv x = V[w->src[a] * N + w->src[c]];
          O[a * N + c] = w->phase ? cmul1(w->f[a * N + c], x, cv_swap(x)) : x;
        }
    } else {
      for (int m = 0; m < w->nk; m++) core_var(N, w->u + (size_t)m * N * N, V, T, S, O, m > 0);
    }
    for (int a = 0; a < N; a++)
      for (int b = 0; b < N; b++) {
        if (LO && (b & lobit)) continue;
        if (!LO) {
          cv_store(rows[a] + 2 * (bj0 + L->off[b]), O[a * N + b]);
        } else {
          cv x = O[a * N + b], y = O[a * N + (b | lobit)];
          cv_store(rows[a] + 2 * (bj0 + L->off[b]), cv_lo(x, y));
          cv_store(rows[a] + 2 * (bj1 + L->off[b]), cv_hi(x, y));
        }
      }
    bj0 = nxt(bj1, tm);
  }
}

/* Sweeps: every block row computes all its blocks; static schedule over block rows. */
#define DEF_SWEEP(name, N_, LO, KIND)                                                           \
  static void name(const sweep *w) {                                                            \
    const bps_idx R = w->L.R;                                                                   \
    const int quad = N_ && R >= 4; /* quad steps (AVX-512 only) */                              \
    if (bps_par_ok(w->L.D * w->L.D)) {                                                          \
      _Pragma("omp parallel for schedule(static)") for (bps_idx ri = 0; ri < R; ri++) {         \
        if (N_) ROWGROUP_FIXED(N_, LO, KIND, w, ri, quad);                                      \
        else rowgroup_var(LO, KIND, w, ri, bps_thread_num());                                   \
      }                                                                                         \
    } else {                                                                                    \
      for (bps_idx ri = 0; ri < R; ri++) {                                                      \
        if (N_) ROWGROUP_FIXED(N_, LO, KIND, w, ri, quad);                                      \
        else rowgroup_var(LO, KIND, w, ri, 0);                                                  \
      }                                                                                         \
    }                                                                                           \
  }
#define DEF_ALL(KIND, kname)                                                                    \
  DEF_SWEEP(sweep_##kname##_2_0, 2, 0, KIND)                                                    \
  DEF_SWEEP(sweep_##kname##_2_1, 2, 1, KIND)                                                    \
  DEF_SWEEP(sweep_##kname##_4_0, 4, 0, KIND)                                                    \
  DEF_SWEEP(sweep_##kname##_4_1, 4, 1, KIND)                                                    \
  DEF_SWEEP(sweep_##kname##_4_2, 4, 2, KIND)                                                    \
  DEF_SWEEP(sweep_##kname##_8_0, 8, 0, KIND)                                                    \
  DEF_SWEEP(sweep_##kname##_8_1, 8, 1, KIND)                                                    \
  DEF_SWEEP(sweep_##kname##_8_2, 8, 2, KIND)                                                    \
  DEF_SWEEP(sweep_##kname##_8_4, 8, 4, KIND)                                                    \
  DEF_SWEEP(sweep_##kname##_n_0, 0, 0, KIND)                                                    \
  DEF_SWEEP(sweep_##kname##_n_1, 0, 1, KIND)

DEF_ALL(OP_UNI, uni)
DEF_ALL(OP_KRAUS, kraus)
DEF_ALL(OP_MONO, mono)

typedef void (*sweep_fn)(const sweep *);
/* [kind][N = 2, 4, 8, other][lobit 0, 1, 2, 4 (N > 8: any non-zero lobit -> 1)] */
#define FN_TABLE(kname)                                                                         \
  {                                                                                             \
    {sweep_##kname##_2_0, sweep_##kname##_2_1, NULL, NULL},                                     \
        {sweep_##kname##_4_0, sweep_##kname##_4_1, sweep_##kname##_4_2, NULL},                  \
        {sweep_##kname##_8_0, sweep_##kname##_8_1, sweep_##kname##_8_2, sweep_##kname##_8_4}, { \
      sweep_##kname##_n_0, sweep_##kname##_n_1, sweep_##kname##_n_1, sweep_##kname##_n_1        \
    }                                                                                           \
  }
static const sweep_fn sweep_fns[3][4][4] = {FN_TABLE(uni), FN_TABLE(kraus), FN_TABLE(mono)};

/* Reserve the work buffer: [ncoef cv of coefficients][runtime-N scratch per thread].
 * Returns the coefficient area. */
static int plan_sweep(bps_state *s, sweep *w, size_t ncoef, cc **coef) {
  const int N = w->L.N;
  w->per = N > NFIX ? (size_t)3 * N * N + 2 * (size_t)N : 0; /* V, T, O, S, row pointers */
  BPS_CALL(bps_state_reserve_work(s, 2 * (ncoef + (size_t)bps_threads_max() * w->per)));
  *coef = (cc *)s->work;
  w->scr = (cv *)s->work + ncoef;
  return BPS_OK;
}

/* Run a sweep (requires R >= 2). */
static void run_sweep(const sweep *w, int kind) {
  const int N = w->L.N;
  const int ni = N == 2 ? 0 : N == 4 ? 1 : N == 8 ? 2 : 3;
  const int lb = w->L.lobit, li = lb == 0 ? 0 : lb == 1 || N > 8 ? 1 : lb == 2 ? 2 : 3;
  sweep_fns[kind][ni][li](w);
}

/* ---------------------------------------------------------------------------------------
 * Operations on all q qubits (R = 1): rho <- sum_m K_m P rho P^T K_m^dag with the index
 * permutation P of off[]. Row-parallel, each element a fixed-order sum. */
/* Row a of T = K_m rho~ : row a accumulates K[a][x] * row off[x] (columns permuted). */
ALWAYS_INLINE void wc_left(double *T, const double *rho, const double *Km, const bps_idx *off,
                           bps_idx D, bps_idx a) {
  double *t = T + 2 * a * D;
  for (bps_idx b = 0; b < D; b++) t[2 * b] = t[2 * b + 1] = 0.0;
  for (bps_idx x = 0; x < D; x++) {
    double kr = Km[2 * (a * D + x)], ki = Km[2 * (a * D + x) + 1];
    const double *row = rho + 2 * off[x] * D;
    for (bps_idx b = 0; b < D; b++) {
      double vr = row[2 * off[b]], vi = row[2 * off[b] + 1];
      t[2 * b] += kr * vr - ki * vi;
      t[2 * b + 1] += kr * vi + ki * vr;
    }
  }
}

/* Row a of O (+)= T K_m^dag : O[a][c] = sum_b T[a][b] conj(K[c][b]) (m = 0: =). */
ALWAYS_INLINE void wc_right(double *O, const double *T, const double *Km, bps_idx D, int m,
                            bps_idx a) {
  for (bps_idx c = 0; c < D; c++) {
    double sr = 0.0, si = 0.0;
    const double *t = T + 2 * a * D, *kc = Km + 2 * c * D;
    for (bps_idx b = 0; b < D; b++) {
      sr += t[2 * b] * kc[2 * b] + t[2 * b + 1] * kc[2 * b + 1];
      si += t[2 * b + 1] * kc[2 * b] - t[2 * b] * kc[2 * b + 1];
    }
    double *o = O + 2 * (a * D + c);
    if (m == 0) o[0] = sr, o[1] = si;
    else o[0] += sr, o[1] += si;
  }
}

/* Row a of O back into rho, permuted. */
ALWAYS_INLINE void wc_store(double *rho, const double *O, const bps_idx *off, bps_idx D,
                            bps_idx a) {
  for (bps_idx c = 0; c < D; c++) {
    rho[2 * (off[a] * D + off[c])] = O[2 * (a * D + c)];
    rho[2 * (off[a] * D + off[c]) + 1] = O[2 * (a * D + c) + 1];
  }
}

static int whole_conj(bps_state *s, const layout *L, int nk, const bps_cplx *K) {
  const bps_idx D = L->D;
  const bps_idx *off = L->off;
  BPS_CALL(bps_state_reserve_work(s, 2 * (size_t)(D * D)));
  double *rho = (double *)s->a, *T = (double *)s->work, *O = T + 2 * D * D;
  for (int m = 0; m < nk; m++) {
    const double *Km = (const double *)(K + (size_t)m * D * D);
    BPS_PAR_FOR(bps_par_ok(D * D * D), bps_idx, a, D, wc_left(T, rho, Km, off, D, a));
    BPS_PAR_FOR(bps_par_ok(D * D * D), bps_idx, a, D, wc_right(O, T, Km, D, m, a));
  }
  BPS_PAR_FOR(bps_par_ok(D * D), bps_idx, a, D, wc_store(rho, O, off, D, a));
  return BPS_OK;
}

/* Is U monomial (one non-zero per row and column)? src[a] = column of row a's entry. */
static int is_monomial(int N, const bps_cplx *U, int *src) {
  unsigned char used[1 << 10];
  memset(used, 0, (size_t)N);
  for (int a = 0; a < N; a++) {
    int n = 0;
    for (int c = 0; c < N; c++)
      if (U[(size_t)a * N + c] != 0) n++, src[a] = c;
    if (n != 1 || used[src[a]]) return 0;
    used[src[a]] = 1;
  }
  return 1;
}

/* ---------------------------------------------------------------------------------------
 * Public kernels. */
#define MAXK_DENSE 10 /* largest gate on a dense state (block scratch is 4^k per thread) */

int bps_dense_apply(bps_state *s, int k, const int *qubits, const bps_cplx *U) {
  BPS_CHECK(k <= MAXK_DENSE, BPS_ERR_ARG, "dense gates act on at most %d qubits (got %d)",
            MAXK_DENSE, k);
  bps_idx off[1 << MAXK_DENSE];
  int src[1 << MAXK_DENSE];
  sweep w;
  memset(&w, 0, sizeof w);
  layout_make(&w.L, s->q, k, qubits, off);
  const int N = w.L.N;
  if (w.L.R == 1) {
    BPS_CALL(whole_conj(s, &w.L, 1, U));
    return BPS_OK;
  }
  w.rho = (double *)s->a;
  w.nk = 1;
  cc *coef = NULL;
  if (is_monomial(N, U, src)) {
    int ident = 1, phase = 0;
    for (int a = 0; a < N; a++) {
      ident &= src[a] == a && U[(size_t)a * N + a] == 1.0;
      phase |= U[(size_t)a * N + src[a]] != 1.0;
    }
    if (ident) return BPS_OK;
    w.src = src;
    w.phase = phase;
    BPS_CALL(plan_sweep(s, &w, 2 * (size_t)N * N, &coef));
    for (int a = 0; a < N; a++)
      for (int c = 0; c < N; c++)
        coef[a * N + c] = cc_make(U[(size_t)a * N + src[a]] * conj(U[(size_t)c * N + src[c]]));
    w.f = coef;
    run_sweep(&w, OP_MONO);
    return BPS_OK;
  }
  BPS_CALL(plan_sweep(s, &w, 2 * (size_t)N * N, &coef));
  for (int x = 0; x < N * N; x++) coef[x] = cc_make(U[x]);
  w.u = coef;
  run_sweep(&w, OP_UNI);
  return BPS_OK;
}

int bps_dense_kraus(bps_state *s, int k, const int *qubits, int nk, const bps_cplx *K) {
  BPS_CHECK(k <= MAXK_DENSE, BPS_ERR_ARG, "dense channels act on at most %d qubits (got %d)",
            MAXK_DENSE, k);
  bps_idx off[1 << MAXK_DENSE];
  sweep w;
  memset(&w, 0, sizeof w);
  layout_make(&w.L, s->q, k, qubits, off);
  const int N = w.L.N;
  if (w.L.R == 1) {
    BPS_CALL(whole_conj(s, &w.L, nk, K));
    return BPS_OK;
  }
  w.rho = (double *)s->a;
  w.nk = nk;
  cc *coef = NULL;
  BPS_CALL(plan_sweep(s, &w, 2 * (size_t)nk * N * N, &coef));
  for (size_t x = 0; x < (size_t)nk * N * N; x++) coef[x] = cc_make(K[x]);
  w.u = coef;
  run_sweep(&w, OP_KRAUS);
  return BPS_OK;
}

/* Row i2 of the appended state: zero unless its new bits are 0, then row i2 >> a spread. */
ALWAYS_INLINE void az_row(double *out, const double *rho, bps_idx D, bps_idx D2, int a,
                          bps_idx i2) {
  double *o = out + 2 * i2 * D2;
  memset(o, 0, 2 * sizeof(double) * (size_t)D2);
  if (i2 & (((bps_idx)1 << a) - 1)) return;
  const double *r = rho + 2 * (i2 >> a) * D;
  for (bps_idx j = 0; j < D; j++) {
    o[2 * (j << a)] = r[2 * j];
    o[2 * (j << a) + 1] = r[2 * j + 1];
  }
}

int bps_dense_append_zero(bps_state *s, int a) {
  const bps_idx D = s->dim, D2 = D << a;
  BPS_CALL(bps_state_reserve_work(s, (size_t)(D2 * D2)));
  const double *rho = (const double *)s->a;
  double *out = (double *)s->work;
  BPS_PAR_FOR(bps_par_ok(D2 * D2), bps_idx, i2, D2, az_row(out, rho, D, D2, a, i2));
  bps_state_swap_work(s);
  s->q += a;
  s->dim = D2;
  s->rank = D2;
  return BPS_OK;
}

/* Row ki of the reduced state: out[ki][kj] = sum_t rho[e(ki)|t][e(kj)|t]. */
ALWAYS_INLINE void pt_row(double *out, const double *rho, bps_idx D, bps_idx Dk, int ntr,
                          const int *sp, bps_idx tmask, bps_idx ki) {
  const bps_idx ntrc = (bps_idx)1 << ntr;
  double *o = out + 2 * ki * Dk;
  memset(o, 0, 2 * sizeof(double) * (size_t)Dk);
  const bps_idx ei = expand(ki, ntr, sp);
  /* t enumerates the traced configurations (submasks of tmask) in increasing order */
  bps_idx t = 0;
  for (bps_idx n = 0; n < ntrc; n++) {
    const double *r = rho + 2 * ((ei | t) * D + t);
    bps_idx ej = 0;
    for (bps_idx kj = 0; kj < Dk; kj++) {
      o[2 * kj] += r[2 * ej];
      o[2 * kj + 1] += r[2 * ej + 1];
      ej = nxt(ej, tmask);
    }
    t = ((t | ~tmask) + 1) & tmask;
  }
}

int bps_dense_partial_trace(bps_state *s, int ntr, const int *traced) {
  const int q = s->q, qk = q - ntr;
  const bps_idx D = s->dim, Dk = (bps_idx)1 << qk;
  int sp[BPS_MAX_QUBITS];
  bps_idx tmask = 0;
  for (int u = 0; u < ntr; u++) {
    sp[u] = q - 1 - traced[u];
    tmask |= (bps_idx)1 << sp[u];
  }
  for (int x = 1; x < ntr; x++)
    for (int y = x; y > 0 && sp[y - 1] > sp[y]; y--) {
      int t = sp[y];
      sp[y] = sp[y - 1];
      sp[y - 1] = t;
    }
  BPS_CALL(bps_state_reserve_work(s, (size_t)(Dk * Dk)));
  const double *rho = (const double *)s->a;
  double *out = (double *)s->work;
  const bps_idx ntrc = (bps_idx)1 << ntr;
  BPS_PAR_FOR(bps_par_ok(Dk * Dk * ntrc), bps_idx, ki, Dk,
              pt_row(out, rho, D, Dk, ntr, sp, tmask, ki));
  bps_state_swap_work(s);
  s->q = qk;
  s->dim = Dk;
  s->rank = Dk;
  return BPS_OK;
}

/* Chunk c of BPS_RED_CHUNKS over n terms: [n*c/C, n*(c+1)/C). */
static bps_idx chunk_lo(bps_idx n, int c) {
  return (bps_idx)((uint64_t)n * (uint64_t)c / BPS_RED_CHUNKS);
}

/* Chunk c of sum_j (-1)^|j & zm| rho[j][j^xm] into part[0] (re), part[1] (im). */
ALWAYS_INLINE void dpauli_chunk(const double *rho, bps_idx D, bps_idx xm, bps_idx zm, int c,
                                double *part) {
  double sr = 0.0, si = 0.0;
  for (bps_idx j = chunk_lo(D, c); j < chunk_lo(D, c + 1); j++) {
    const double *e = rho + 2 * (j * D + (j ^ xm));
    if (__builtin_parityll((unsigned long long)(j & zm))) sr -= e[0], si -= e[1];
    else sr += e[0], si += e[1];
  }
  part[0] = sr;
  part[1] = si;
}

int bps_dense_expect_pauli(const bps_state *s, const char *pauli, double *out) {
  const int q = s->q;
  const bps_idx D = s->dim;
  bps_idx xm = 0, zm = 0;
  int ny = 0;
  for (int t = 0; t < q; t++) {
    bps_idx bit = (bps_idx)1 << (q - 1 - t);
    if (pauli[t] == 'X' || pauli[t] == 'Y') xm |= bit;
    if (pauli[t] == 'Z' || pauli[t] == 'Y') zm |= bit;
    ny += pauli[t] == 'Y';
  }
  /* P|j> = i^ny (-1)^|j & zm| |j ^ xm>, so Tr[P rho] = i^ny sum_j (-1)^|j & zm| rho[j][j^xm] */
  const double *rho = (const double *)s->a;
  double part[BPS_RED_CHUNKS][2];
  BPS_PAR_FOR(bps_par_ok(D), int, c, BPS_RED_CHUNKS, dpauli_chunk(rho, D, xm, zm, c, part[c]));
  double sr = 0.0, si = 0.0;
  for (int c = 0; c < BPS_RED_CHUNKS; c++) sr += part[c][0], si += part[c][1];
  /* Re(i^ny (sr + i si)) */
  switch (ny & 3) {
  case 0: *out = sr; break;
  case 1: *out = -si; break;
  case 2: *out = -sr; break;
  default: *out = si; break;
  }
  return BPS_OK;
}

/* Chunk c over the terms n = r*N + b of Re sum conj(psi_b) sum_a rho[r,b][r,a] psi_a. */
ALWAYS_INLINE double dproj_chunk(const double *rho, const double *ps, bps_idx D, int k,
                                 const int *sp, const bps_idx *gbit, bps_idx nterm, int c) {
  const bps_idx N = (bps_idx)1 << k;
  double acc_r = 0.0, acc_i = 0.0;
  for (bps_idx n = chunk_lo(nterm, c); n < chunk_lo(nterm, c + 1); n++) {
    bps_idx r = n >> k, b = n & (N - 1), base = expand(r, k, sp), ob = 0;
    for (int t = 0; t < k; t++)
      if ((b >> (k - 1 - t)) & 1) ob |= gbit[t];
    const double *row = rho + 2 * (base + ob) * D + 2 * base;
    double sr = 0.0, si = 0.0; /* sum_a row[off a] psi_a */
    bps_idx oa = 0;            /* off(a), recomputed bit by bit for every a below */
    for (bps_idx a = 0; a < N; a++) {
      oa = 0;
      for (int t = 0; t < k; t++)
        if ((a >> (k - 1 - t)) & 1) oa |= gbit[t];
      double vr = row[2 * oa], vi = row[2 * oa + 1], pr = ps[2 * a], pi = ps[2 * a + 1];
      sr += vr * pr - vi * pi;
      si += vr * pi + vi * pr;
    }
    /* conj(psi_b) (sr + i si) */
    double br = ps[2 * b], bi = ps[2 * b + 1];
    acc_r += br * sr + bi * si;
    acc_i += br * si - bi * sr;
  }
  (void)acc_i;
  return acc_r;
}

int bps_dense_expect_projector(const bps_state *s, int k, const int *qubits, const bps_cplx *psi,
                               double *out) {
  BPS_CHECK(k <= BPS_MAX_QUBITS, BPS_ERR_ARG, "bad k");
  const int q = s->q;
  const bps_idx D = s->dim, N = (bps_idx)1 << k, R = D >> k;
  int sp[BPS_MAX_QUBITS];
  bps_idx gbit[BPS_MAX_QUBITS];
  for (int t = 0; t < k; t++) {
    sp[t] = q - 1 - qubits[t];
    gbit[t] = (bps_idx)1 << sp[t];
  }
  for (int x = 1; x < k; x++)
    for (int y = x; y > 0 && sp[y - 1] > sp[y]; y--) {
      int t = sp[y];
      sp[y] = sp[y - 1];
      sp[y - 1] = t;
    }
  /* Tr[(|psi><psi| (x) 1) rho] = sum_r sum_b conj(psi_b) sum_a rho[r,b][r,a] psi_a; the terms
   * (r, b), n = r*N + b, are reduced in fixed chunks. off(g) is computed bit by bit. */
  const double *rho = (const double *)s->a, *ps = (const double *)psi;
  const bps_idx nterm = R * N;
  double part[BPS_RED_CHUNKS];
  BPS_PAR_FOR(bps_par_ok(nterm * N), int, c, BPS_RED_CHUNKS,
              part[c] = dproj_chunk(rho, ps, D, k, sp, gbit, nterm, c));
  double sum = 0.0;
  for (int c = 0; c < BPS_RED_CHUNKS; c++) sum += part[c];
  *out = sum;
  return BPS_OK;
}

/* dense: kernels for the DENSE representation. rho is row-major, rho[i*dim + j], dim = 2^q;
 * qubit t is index bit q-1-t (qubit 0 = most significant).
 *
 * Index algebra. A k-qubit operation on qubits t_0..t_{k-1} touches the index bits
 * p_t = q-1-t_t; gate index g (t_0 = its most significant bit) sits at offset off[g] =
 * sum_t bit(g, k-1-t) << p_t. The other q-k "rest" bits are enumerated by r in [0, R),
 * R = dim/2^k, and spread into base(r) by inserting zero bits at the target positions.
 * rho splits into N x N blocks (N = 2^k) M_{ri,rj}[a][c] = rho[base(ri)+off[a]][base(rj)+
 * off[c]], and every gate or channel acts block by block.
 *
 * apply (rho -> U rho U^dag) and kraus (rho -> sum_m K_m rho K_m^dag): ONE sweep over rho.
 *   Vectorisation: blocks are processed in pairs (ri, rj), (ri, rj+1) held in "pair
 *   vectors" (one __m256d = two complex: lane 0 block rj, lane 1 block rj+1). If index bit
 *   0 is a rest bit the two blocks are adjacent in memory; if it is a target (the last
 *   qubit), adjacent columns b, b|1 of one block are loaded and the lanes exchanged with
 *   128-bit permutes. Per pair: T = U M (column by column), O = T U^dag (row by row), in
 *   explicit real arithmetic: u x = u.r*x + u.i*swap(x) with u.i = (-im, im), so each
 *   complex multiply-add is two FMAs and one in-lane swap per input; the real and
 *   imaginary halves accumulate separately and chains are interleaved (FMA latency).
 *   k = 1 and k = 2 (and their bit-0 variants) are compile-time specialisations that live
 *   in registers; any other k uses the same code with runtime N and per-thread scratch.
 *   Cost: 2N complex multiply-adds per element (k=1: 4, k=2: 8).
 *   Hermitian tiled sweep (default for dense gates and channels): rho is a density matrix,
 *   so the result is Hermitian and block (rj, ri) of the result is the conjugate transpose
 *   of block (ri, rj). The blocks are cut into TB x TB tiles; a thread owns a tile row
 *   (cyclic), computes diagonal tiles completely and, for each tile (I, J > I), computes
 *   its blocks, stores them, and writes their conjugates into a packed per-thread mirror
 *   buffer (padded stride, so columns of it do not alias in the caches) that is then
 *   flushed row by row, in ascending column order, into tile (J, I). Only the upper tiles
 *   are read, which halves the arithmetic; for states larger than the caches the flush
 *   uses non-temporal stores (tile (J, I) is never read), cutting memory traffic from
 *   2 to 1.5 state sizes. The next tile's row segments are software-prefetched (short row
 *   segments defeat the hardware stream prefetcher). THIS REQUIRES A HERMITIAN INPUT: the
 *   strictly lower tiles of the result are the conjugates of the upper ones. The result
 *   equals U rho U^dag to rounding for Hermitian rho (every state of this module is one).
 *   Monomial gates (one non-zero per row and column: diagonal Rz/CZ/RZZ/phase gates,
 *   X/Y/CNOT/SWAP/Toffoli and other permutations with phases) are detected from U's zero
 *   pattern: O[a][c] = U[a][s(a)] conj(U[c][s(c)]) M[s(a)][s(c)], one complex multiply per
 *   element (none for pure permutations), the identity is skipped. They use plain sweeps
 *   (every block row computes all its blocks) for states inside the caches and the
 *   Hermitian tiles (for the 1.5x traffic) beyond.
 *   A gate on all q qubits (R = 1) is two dense products, row-parallel.
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
 * element with the same operations whatever the schedule (a test checks both).
 * Threads: static OpenMP schedules; regions below PAR_MIN elements of work run serially.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "kernels.h"

#ifdef _OPENMP
#include <omp.h>
static int max_threads(void) { return omp_get_max_threads(); }
static int thread_id(void) { return omp_get_thread_num(); }
#else
static int max_threads(void) { return 1; }
static int thread_id(void) { return 0; }
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Parallel regions only pay off above this many complex elements of work. */
#define PAR_MIN ((bps_idx)1 << 14)

/* ---------------------------------------------------------------------------------------
 * Pair vectors: two complex numbers (re0, im0, re1, im1). */
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256d cv;
ALWAYS_INLINE cv cv_load(const double *p) { return _mm256_loadu_pd(p); }
ALWAYS_INLINE void cv_store(double *p, cv x) { _mm256_storeu_pd(p, x); }
ALWAYS_INLINE void cv_store_lane0(double *p, cv x) { _mm_storeu_pd(p, _mm256_castpd256_pd128(x)); }
ALWAYS_INLINE void cv_store_lane1(double *p, cv x) { _mm_storeu_pd(p, _mm256_extractf128_pd(x, 1)); }
ALWAYS_INLINE cv cv_load2(const double *p0, const double *p1) {
  return _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(p0)), _mm_loadu_pd(p1), 1);
}
ALWAYS_INLINE void cv_stream(double *p, cv x) { _mm256_stream_pd(p, x); } /* p 32-aligned */
ALWAYS_INLINE void cv_fence(void) { _mm_sfence(); }
ALWAYS_INLINE cv cv_swap(cv x) { return _mm256_permute_pd(x, 5); } /* (im, re) per lane */
ALWAYS_INLINE cv cv_lo(cv x, cv y) { return _mm256_permute2f128_pd(x, y, 0x20); }
ALWAYS_INLINE cv cv_hi(cv x, cv y) { return _mm256_permute2f128_pd(x, y, 0x31); }
ALWAYS_INLINE cv cv_conj(cv x) { return _mm256_xor_pd(x, _mm256_setr_pd(0.0, -0.0, 0.0, -0.0)); }
ALWAYS_INLINE cv cv_mul(cv a, cv b) { return _mm256_mul_pd(a, b); }
ALWAYS_INLINE cv cv_add(cv a, cv b) { return _mm256_add_pd(a, b); }
ALWAYS_INLINE cv cv_sub(cv a, cv b) { return _mm256_sub_pd(a, b); }
ALWAYS_INLINE cv cv_fma(cv a, cv b, cv c) { return _mm256_fmadd_pd(a, b, c); }
ALWAYS_INLINE cv cv_fnma(cv a, cv b, cv c) { return _mm256_fnmadd_pd(a, b, c); }
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
ALWAYS_INLINE void cv_store_lane0(double *p, cv x) { p[0] = x.v[0], p[1] = x.v[1]; }
ALWAYS_INLINE void cv_store_lane1(double *p, cv x) { p[0] = x.v[2], p[1] = x.v[3]; }
ALWAYS_INLINE cv cv_load2(const double *p0, const double *p1) {
  cv r = {{p0[0], p0[1], p1[0], p1[1]}};
  return r;
}
ALWAYS_INLINE void cv_stream(double *p, cv x) { cv_store(p, x); }
ALWAYS_INLINE void cv_fence(void) {}
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
ALWAYS_INLINE cv cv_conj(cv x) {
  cv r = {{x.v[0], -x.v[1], x.v[2], -x.v[3]}};
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
ALWAYS_INLINE cv cv_fnma(cv a, cv b, cv c) {
  cv r;
  for (int l = 0; l < 4; l++) r.v[l] = c.v[l] - a.v[l] * b.v[l];
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
/* acc + u x, acc + conj(u) x, u x, conj(u) x, with xs = swap(x) */
ALWAYS_INLINE cv cmac(cv acc, cc u, cv x, cv xs) { return cv_fma(u.i, xs, cv_fma(u.r, x, acc)); }
ALWAYS_INLINE cv cmacc(cv acc, cc u, cv x, cv xs) { return cv_fnma(u.i, xs, cv_fma(u.r, x, acc)); }
ALWAYS_INLINE cv cmul1(cc u, cv x, cv xs) { return cv_fma(u.i, xs, cv_mul(u.r, x)); }
ALWAYS_INLINE cv cmulc1(cc u, cv x, cv xs) { return cv_fnma(u.i, xs, cv_mul(u.r, x)); }

/* ---------------------------------------------------------------------------------------
 * Index layout of a k-qubit operation. */
typedef struct {
  int q, k, N;   /* N = 2^k */
  bps_idx D, R;  /* dim and number of rest indices D/N */
  int sp[BPS_MAX_QUBITS]; /* target bit positions, ascending */
  bps_idx tmask; /* all target bits */
  bps_idx *off;  /* off[g], g in [0, N): index bits of gate index g */
  int lobit;     /* the gate-index bit of a target at index bit 0, or 0 */
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
  int nk;          /* OP_KRAUS: sum over nk matrices of K V K^dag */
  const cc *u;     /* OP_UNI / OP_KRAUS: nk * N * N prepared coefficients */
  const cc *f;     /* OP_MONO: N*N phase products */
  const int *src;  /* OP_MONO: source gate index of each output index */
  int phase;       /* OP_MONO: 0 = pure permutation, no multiply */
  int herm;        /* Hermitian tiled sweep */
  bps_idx TR, TC;  /* Hermitian panels: block rows per panel, block columns per chunk */
  bps_idx bs2;     /* mirror buffer row stride in doubles */
  size_t mper;     /* mirror buffer doubles per thread */
  double *mbuf;    /* mirror buffers */
  int nstream;     /* flush with non-temporal stores (state larger than the caches) */
  int prefetch;    /* software prefetch of the next tile */
  int nrun;        /* flush plan: contiguous column runs of a mirror row */
  bps_idx rcol[512];/* run start column relative to the tile's first (doubles) */
  int rpos[512];   /* run start in a mirror buffer row (doubles) */
  int rlen[512];   /* run length (doubles, a multiple of 4) */
  int posx[1024];  /* buffer position (doubles) of column (ril, a), index ril*N + a */
  cv *scr;         /* runtime-N scratch, per thread */
  size_t per;      /* cv per thread */
} sweep;

#define UNROLL _Pragma("GCC unroll 16")
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

/* O (+)= K V K^dag on NP pairs of N x N blocks (V[p], O[p]): T = K V, then O[a][c] =
 * sum_b T[a][b] conj(K[c][b]). Each coefficient is loaded once for the NP pairs, and loops
 * are ordered so that 8 independent FMA chains are interleaved (2 FMA pipes x latency 4).
 * The operation order of every output element does not depend on NP. */
ALWAYS_INLINE void core_conj(const int N, const int NP, const cc *u, cv *const *V, cv *const *O,
                             int acc0) {
  const int NB = N == 2 ? 2 : 1; /* stage 1: columns per step; stage 2: rows per step */
  cv T[2][16];
  ROLL for (int b0 = 0; b0 < N; b0 += NB) {
    cv acc[2][4][2];
    UNROLL for (int x = 0; x < N; x++) UNROLL for (int bb = 0; bb < NB; bb++) {
      cv v[2], vs[2];
      UNROLL for (int p = 0; p < NP; p++) {
        v[p] = V[p][x * N + b0 + bb];
        vs[p] = cv_swap(v[p]);
      }
      UNROLL for (int a = 0; a < N; a++) {
        const cc c = u[a * N + x];
        UNROLL for (int p = 0; p < NP; p++)
          acc[p][a][bb] = cv_fma(c.i, vs[p], x ? cv_fma(c.r, v[p], acc[p][a][bb]) : cv_mul(c.r, v[p]));
      }
    }
    UNROLL for (int p = 0; p < NP; p++) UNROLL for (int a = 0; a < N; a++)
      UNROLL for (int bb = 0; bb < NB; bb++) T[p][a * N + b0 + bb] = acc[p][a][bb];
  }
  ROLL for (int a0 = 0; a0 < N; a0 += NB) {
    cv acc[2][2][4];
    UNROLL for (int b = 0; b < N; b++) UNROLL for (int aa = 0; aa < NB; aa++) {
      cv t[2], ts[2];
      UNROLL for (int p = 0; p < NP; p++) {
        t[p] = T[p][(a0 + aa) * N + b];
        ts[p] = cv_swap(t[p]);
      }
      UNROLL for (int c = 0; c < N; c++) {
        const cc k = u[c * N + b];
        UNROLL for (int p = 0; p < NP; p++)
          acc[p][aa][c] = cv_fnma(k.i, ts[p], b ? cv_fma(k.r, t[p], acc[p][aa][c]) : cv_mul(k.r, t[p]));
      }
    }
    UNROLL for (int p = 0; p < NP; p++) UNROLL for (int aa = 0; aa < NB; aa++)
      UNROLL for (int c = 0; c < N; c++) {
        cv *o = &O[p][(a0 + aa) * N + c];
        *o = acc0 ? cv_add(*o, acc[p][aa][c]) : acc[p][aa][c];
      }
  }
}

/* Blocks (ri, rj) for rj in [rj0, rj1) (even count, rj0 even), N = 2 or 4 known at compile
 * time. MIRROR: also store conj(O) into the thread's mirror buffer B (row ril*N + a, column
 * c*TB + rj - rj0), which flush_mirror() later writes transposed into (rj, ri). Everything
 * the loop needs is copied to locals first: the vector stores may alias any memory. */
ALWAYS_INLINE void rowgroup_fixed(const int N, const int LO, const int KIND, const int MIRROR,
                                  const sweep *w, bps_idx ri, bps_idx rj0, bps_idx rj1,
                                  double *B, bps_idx pfw) {
  /* MIRROR: B is the thread's mirror buffer, row rjl*N + c is mirror row (rj0 + rjl, c).
   * pfw > 0: prefetch the same rows pfw block columns ahead (the next chunk). */
  const layout *L = &w->L;
  const bps_idx D = L->D, tm = L->tmask, bs2 = w->bs2;
  double *const rho = w->rho;
  cc u[16];
  int src[4];
  const int nk = w->nk, phase = w->phase;
  const cc *uk = w->u;
  if (KIND == OP_UNI) {
    for (int x = 0; x < N * N; x++) u[x] = w->u[x];
  } else if (KIND == OP_MONO) {
    for (int x = 0; x < N * N; x++) u[x] = w->f[x];
    for (int a = 0; a < N; a++) src[a] = w->src[a];
  }
  double *po[16];
  int posa[4];
  if (MIRROR)
    for (int a = 0; a < N; a++) posa[a] = w->posx[(ri % w->TR) * N + a];
  const bps_idx bi = expand(ri, L->k, L->sp);
  for (int a = 0; a < N; a++)
    for (int b = 0; b < N; b++) po[a * N + b] = rho + 2 * ((bi + L->off[a]) * D + L->off[b]);
  bps_idx bj0 = expand(rj0, L->k, L->sp);
  const bps_idx R = L->R, pfend = pfw ? R - pfw : rj0; /* prefetch while rj < pfend */
  bps_idx bpf = pfw && rj0 + pfw < R ? expand(rj0 + pfw, L->k, L->sp) : 0;
  bps_idx rj = rj0;
  /* two pairs per step (coefficient reuse) for the conjugations, then a single pair */
  const int NP = KIND == OP_MONO ? 1 : 2;
  for (; rj + 2 * NP <= rj1 || rj < rj1; rj += 2 * NP) {
    const int np = rj + 2 * NP <= rj1 ? NP : 1;
    cv V[2][16], O[2][16];
    cv *Vp[2] = {V[0], V[1]}, *Op[2] = {O[0], O[1]};
    bps_idx bjs[2][2];
    bjs[0][0] = bj0;
    bjs[0][1] = nxt(bj0, tm);
    bjs[1][0] = nxt(bjs[0][1], tm);
    bjs[1][1] = nxt(bjs[1][0], tm);
    if (np == 2) {
      UNROLL for (int p = 0; p < 2; p++) pair_load(N, LO, po, bjs[p][0], bjs[p][1], V[p]);
    } else {
      pair_load(N, LO, po, bjs[0][0], bjs[0][1], V[0]);
    }
    if (rj < pfend) { /* the same rows, pfw block columns ahead (one prefetch per line) */
      const bps_idx bpf1 = nxt(bpf, tm);
      UNROLL for (int x = 0; x < N * N; x++) {
        if (LO && (x & LO)) continue;
        __builtin_prefetch(po[x] + 2 * bpf, 0, 2);
        if (LO) __builtin_prefetch(po[x] + 2 * bpf1, 0, 2);
      }
      bpf = nxt(nxt(nxt(bpf1, tm), tm), tm);
    }
    if (KIND == OP_MONO) {
      for (int a = 0; a < N; a++)
        for (int c = 0; c < N; c++) {
          cv x = V[0][src[a] * N + src[c]];
          O[0][a * N + c] = phase ? cmul1(u[a * N + c], x, cv_swap(x)) : x;
        }
    } else if (np == 2) {
      const cc *u0 = KIND == OP_UNI ? u : uk;
      core_conj(N, 2, u0, Vp, Op, 0);
      if (KIND == OP_KRAUS)
        for (int m = 1; m < nk; m++) core_conj(N, 2, uk + (size_t)m * N * N, Vp, Op, 1);
    } else {
      const cc *u0 = KIND == OP_UNI ? u : uk;
      core_conj(N, 1, u0, Vp, Op, 0);
      if (KIND == OP_KRAUS)
        for (int m = 1; m < nk; m++) core_conj(N, 1, uk + (size_t)m * N * N, Vp, Op, 1);
    }
    UNROLL for (int p = 0; p < 2; p++) {
      if (p >= np) break;
      pair_store(N, LO, po, bjs[p][0], bjs[p][1], O[p]);
      if (MIRROR) { /* lane 0 -> mirror row (rj, c), lane 1 -> (rj + 1, c) */
        double *bp = B + (rj + 2 * p - rj0) * N * bs2;
        UNROLL for (int c = 0; c < N; c++) UNROLL for (int a = 0; a < N; a++) {
          const cv x = cv_conj(O[p][a * N + c]);
          cv_store_lane0(bp + c * bs2 + posa[a], x);
          cv_store_lane1(bp + (N + c) * bs2 + posa[a], x);
        }
      }
    }
    bj0 = nxt(bjs[np - 1][1], tm);
  }
}

/* The same for any N (runtime), with per-thread scratch. */
static void rowgroup_var(const int LO, const int KIND, const int MIRROR, const sweep *w,
                         bps_idx ri, bps_idx rj0, bps_idx rj1, double *B, bps_idx pfw) {
  const layout *L = &w->L;
  const int N = L->N, lobit = L->lobit;
  const bps_idx D = L->D, tm = L->tmask, bs2 = w->bs2;
  double *const rho = w->rho;
  cv *V = w->scr + (size_t)thread_id() * w->per;
  cv *T = V + (size_t)N * N, *O = T + (size_t)N * N;
  double **rows = (double **)(O + (size_t)N * N);
  const bps_idx bi = expand(ri, L->k, L->sp);
  for (int a = 0; a < N; a++) rows[a] = rho + 2 * (bi + L->off[a]) * D;
  bps_idx bj0 = expand(rj0, L->k, L->sp);
  for (bps_idx rj = rj0; rj < rj1; rj += 2) {
    const bps_idx bj1 = nxt(bj0, tm);
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
      for (int m = 0; m < w->nk; m++) {
        const cc *u = w->u + (size_t)m * N * N;
        for (int b = 0; b < N; b++) /* T[:, b] = K V[:, b] */
          for (int a = 0; a < N; a++) {
            cv acc = cmul1(u[a * N], V[b], cv_swap(V[b]));
            for (int x = 1; x < N; x++)
              acc = cmac(acc, u[a * N + x], V[x * N + b], cv_swap(V[x * N + b]));
            T[a * N + b] = acc;
          }
        for (int a = 0; a < N; a++) /* O[a][:] (+)= T[a][:] K^dag */
          for (int c = 0; c < N; c++) {
            cv acc = m ? cmacc(O[a * N + c], u[c * N], T[a * N], cv_swap(T[a * N]))
                       : cmulc1(u[c * N], T[a * N], cv_swap(T[a * N]));
            for (int b = 1; b < N; b++)
              acc = cmacc(acc, u[c * N + b], T[a * N + b], cv_swap(T[a * N + b]));
            O[a * N + c] = acc;
          }
      }
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
    if (MIRROR) {
      double *bp = B + (rj - rj0) * N * bs2;
      const int *posa = w->posx + (ri % w->TR) * N;
      for (int c = 0; c < N; c++)
        for (int a = 0; a < N; a++) {
          const cv x = cv_conj(O[a * N + c]);
          cv_store_lane0(bp + c * bs2 + posa[a], x);
          cv_store_lane1(bp + (N + c) * bs2 + posa[a], x);
        }
    }
    bj0 = nxt(bj1, tm);
  }
}

/* Write the mirror buffer of tile (ti, tj) into rho: buffer row rjl*N + c holds mirror row
 * (rj, c), rj in tile tj, already in ascending column order, so each row is a few
 * contiguous runs (32-byte aligned, even lengths). The tile covers whole 64-byte lines, so
 * for large states non-temporal stores write them without reading them first (the mirror
 * region is never read: it is the conjugate of the tile just computed). */
ALWAYS_INLINE void flush_tpl(const int NT, const sweep *w, bps_idx i0, bps_idx c0,
                             const double *B, bps_idx rjl0, bps_idx rjl1) {
  const layout *L = &w->L;
  const int N = L->N, nrun = w->nrun;
  const bps_idx D = L->D, tm = L->tmask, bs2 = w->bs2;
  double *const rho = w->rho;
  const bps_idx bi = expand(i0, L->k, L->sp);
  bps_idx bj = expand(c0 + rjl0, L->k, L->sp);
  for (bps_idx rjl = rjl0; rjl < rjl1; rjl++) {
    for (int c = 0; c < N; c++) {
      double *row = rho + 2 * ((bj + L->off[c]) * D + bi);
      const double *src = B + (rjl * N + c) * bs2;
      for (int r = 0; r < nrun; r++) {
        double *d = row + w->rcol[r];
        const double *e = src + w->rpos[r];
        const int len = w->rlen[r];
        for (int x = 0; x < len; x += 4) {
          if (NT) cv_stream(d + x, cv_load(e + x));
          else cv_store(d + x, cv_load(e + x));
        }
      }
    }
    bj = nxt(bj, tm);
  }
  if (NT) cv_fence();
}
/* Flush mirror rows (c0 + rjl, c), rjl in [rjl0, rjl1), of the panel starting at block row
 * i0 and the chunk starting at block column c0. */
static void flush_mirror(const sweep *w, bps_idx i0, bps_idx c0, const double *B, bps_idx rjl0,
                         bps_idx rjl1) {
  if (w->nstream) flush_tpl(1, w, i0, c0, B, rjl0, rjl1);
  else flush_tpl(0, w, i0, c0, B, rjl0, rjl1);
}

/* Prefetch (for writing) the mirror rows (c0 + rjl, c), rjl in [rjl0, rjl1): issued while a
 * chunk is computed, so the flush of cached states does not wait for ownership. */
static void prefetch_mirror_rows(const sweep *w, bps_idx i0, bps_idx c0, bps_idx rjl0,
                                 bps_idx rjl1) {
  const layout *L = &w->L;
  const bps_idx bi = expand(i0, L->k, L->sp);
  for (bps_idx rjl = rjl0; rjl < rjl1; rjl++) {
    const bps_idx bj = expand(c0 + rjl, L->k, L->sp);
    for (int c = 0; c < L->N; c++) {
      const double *row = w->rho + 2 * ((bj + L->off[c]) * L->D + bi);
      for (int r = 0; r < w->nrun; r++)
        for (int x = 0; x < w->rlen[r]; x += 8) __builtin_prefetch(row + w->rcol[r] + x, 1, 3);
    }
  }
}

/* The flush plan: the columns (ril, a) of a tile row, relative to its first, sorted; their
 * ranks give the buffer positions, and runs of consecutive columns the copies. Consecutive
 * sorted columns pair up as (even, odd) because index bit 0 is a target or a rest bit
 * varied inside the tile, and TB >= 4 makes every run cover whole 64-byte lines... of
 * which only the 32-byte alignment is needed here. */
static void plan_flush(sweep *w) {
  const layout *L = &w->L;
  const int N = L->N, ncol = (int)w->TR * N;
  bps_idx rel[1024];
  int ord[1024];
  bps_idx b = 0;
  for (int ril = 0; ril < w->TR; ril++) {
    for (int a = 0; a < N; a++) rel[ril * N + a] = b + L->off[a];
    b = nxt(b, L->tmask);
  }
  for (int x = 0; x < ncol; x++) { /* insertion sort of the indices by column */
    int y = x;
    for (; y > 0 && rel[ord[y - 1]] > rel[x]; y--) ord[y] = ord[y - 1];
    ord[y] = x;
  }
  w->nrun = 0;
  for (int y = 0; y < ncol; y++) {
    w->posx[ord[y]] = 2 * y;
    if (y == 0 || rel[ord[y]] != rel[ord[y - 1]] + 1) {
      w->rcol[w->nrun] = 2 * rel[ord[y]];
      w->rpos[w->nrun] = 2 * y;
      w->rlen[w->nrun] = 0;
      w->nrun++;
    }
    w->rlen[w->nrun - 1] += 2;
  }
}

/* Sweep drivers. Plain: every block row computes all its blocks (parallel over rows).
 * Hermitian: panels of TR block rows (cyclic over threads); a panel computes its diagonal
 * TR x TR square completely, then the rest of its rows in chunks of TC block columns: the
 * blocks are stored and their conjugates go to the mirror buffer, which is flushed into
 * the mirror rows while the next chunk is computed (double buffer), so the flush writes
 * overlap with computation. Chunks end at multiples of TC. */
#define ROWGROUP(N_, LO, KIND, MIRROR, w, ri, a, b, B, pf)                                 \
  do {                                                                                     \
    if (N_) rowgroup_fixed(N_, LO, KIND, MIRROR, w, ri, a, b, B, pf);                      \
    else rowgroup_var(LO, KIND, MIRROR, w, ri, a, b, B, pf);                               \
  } while (0)
#define DEF_PLAIN(name, N_, LO, KIND)                                                      \
  static void name(const sweep *w) {                                                       \
    const bps_idx R = w->L.R;                                                              \
    const int par = w->L.D * w->L.D >= PAR_MIN;                                            \
    _Pragma("omp parallel for schedule(static) if (par)")                                  \
    for (bps_idx ri = 0; ri < R; ri++) ROWGROUP(N_, LO, KIND, 0, w, ri, 0, R, NULL, 0);    \
  }
#define DEF_HERM(name, N_, LO, KIND)                                                       \
  static void name(const sweep *w) {                                                       \
    const bps_idx R = w->L.R, TR = w->TR, TC = w->TC, nP = R / TR;                         \
    const int par = w->L.D * w->L.D >= PAR_MIN;                                            \
    _Pragma("omp parallel for schedule(static, 1) if (par)")                               \
    for (bps_idx ti = 0; ti < nP; ti++) {                                                  \
      double *Bc = w->mbuf + (size_t)thread_id() * 2 * w->mper, *Bp = Bc + w->mper;        \
      const bps_idx i0 = ti * TR;                                                          \
      bps_idx pc0 = -1, pw = 0; /* pending chunk (start, width) whose mirror is in Bp */   \
      for (bps_idx ril = 0; ril < TR; ril++)                                               \
        ROWGROUP(N_, LO, KIND, 0, w, i0 + ril, i0, i0 + TR, NULL, w->prefetch ? TR : 0);   \
      for (bps_idx c0 = i0 + TR; c0 < R;) {                                                \
        const bps_idx c1 = (c0 / TC + 1) * TC < R ? (c0 / TC + 1) * TC : R;                \
        const bps_idx pf = w->prefetch ? c1 - c0 : 0;                                      \
        for (bps_idx ril = 0; ril < TR; ril++) {                                           \
          if (!w->nstream && w->prefetch)                                                  \
            prefetch_mirror_rows(w, i0, c0, ril * (c1 - c0) / TR, (ril + 1) * (c1 - c0) / TR); \
          ROWGROUP(N_, LO, KIND, 1, w, i0 + ril, c0, c1, Bc, pf);                          \
          if (pc0 >= 0) flush_mirror(w, i0, pc0, Bp, ril * pw / TR, (ril + 1) * pw / TR); \
        }                                                                                  \
        pc0 = c0;                                                                          \
        pw = c1 - c0;                                                                      \
        double *t = Bc;                                                                    \
        Bc = Bp;                                                                           \
        Bp = t;                                                                            \
        c0 = c1;                                                                           \
      }                                                                                    \
      if (pc0 >= 0) flush_mirror(w, i0, pc0, Bp, 0, pw);                                   \
    }                                                                                      \
  }
#define DEF_ALL(KIND, kname)                                                               \
  DEF_PLAIN(plain_##kname##_2_0, 2, 0, KIND)                                               \
  DEF_PLAIN(plain_##kname##_2_1, 2, 1, KIND)                                               \
  DEF_PLAIN(plain_##kname##_4_0, 4, 0, KIND)                                               \
  DEF_PLAIN(plain_##kname##_4_1, 4, 1, KIND)                                               \
  DEF_PLAIN(plain_##kname##_4_2, 4, 2, KIND)                                               \
  DEF_PLAIN(plain_##kname##_n_0, 0, 0, KIND)                                               \
  DEF_PLAIN(plain_##kname##_n_1, 0, 1, KIND)
#define DEF_ALL_HERM(KIND, kname)                                                          \
  DEF_HERM(herm_##kname##_2_0, 2, 0, KIND)                                                 \
  DEF_HERM(herm_##kname##_2_1, 2, 1, KIND)                                                 \
  DEF_HERM(herm_##kname##_4_0, 4, 0, KIND)                                                 \
  DEF_HERM(herm_##kname##_4_1, 4, 1, KIND)                                                 \
  DEF_HERM(herm_##kname##_4_2, 4, 2, KIND)                                                 \
  DEF_HERM(herm_##kname##_n_0, 0, 0, KIND)                                                 \
  DEF_HERM(herm_##kname##_n_1, 0, 1, KIND)

DEF_ALL(OP_UNI, uni)
DEF_ALL(OP_KRAUS, kraus)
DEF_ALL(OP_MONO, mono)
DEF_ALL_HERM(OP_UNI, uni)
DEF_ALL_HERM(OP_KRAUS, kraus)
DEF_ALL_HERM(OP_MONO, mono)

typedef void (*sweep_fn)(const sweep *);
/* [kind][N = 2, 4, other][lobit 0, 1, 2 (N > 4: any non-zero lobit -> 1)] */
#define FN_TABLE(pre, kname)                                                               \
  {{pre##_##kname##_2_0, pre##_##kname##_2_1, NULL},                                       \
   {pre##_##kname##_4_0, pre##_##kname##_4_1, pre##_##kname##_4_2},                        \
   {pre##_##kname##_n_0, pre##_##kname##_n_1, pre##_##kname##_n_1}}
static const sweep_fn plain_fns[3][3][3] = {FN_TABLE(plain, uni), FN_TABLE(plain, kraus),
                                            FN_TABLE(plain, mono)};
static const sweep_fn herm_fns[3][3][3] = {FN_TABLE(herm, uni), FN_TABLE(herm, kraus),
                                           FN_TABLE(herm, mono)};

/* Tuning (bps_dense_set_tuning): -1 = automatic. */
static int tune_herm = -1, tune_tile = -1, tune_stream = -1, tune_prefetch = -1;

/* Choose the sweep and reserve the work buffer: [ncoef cv of coefficients][runtime-N
 * scratch per thread][mirror buffers per thread]. Returns the coefficient area. */
static int plan_sweep(bps_state *s, sweep *w, int kind, size_t ncoef, cc **coef) {
  const int N = w->L.N, nt = max_threads();
  const bps_idx R = w->L.R;
  const int big = 16.0 * (double)w->L.D * (double)w->L.D > 24e6; /* beyond the caches */
  w->herm = R >= 4 && (tune_herm >= 0 ? tune_herm : kind != OP_MONO || big);
  size_t mcv = 0;
  if (w->herm) {
    /* panels of 16 rows, chunks of 256 columns (mirror buffer 80 KiB, in L2) */
    bps_idx TR = tune_tile > 0 ? tune_tile : N >= 16 ? 1 : 16 / N;
    bps_idx TC = tune_tile > 0 ? 2 * tune_tile : N >= 256 ? 1 : 256 / N;
    if (TR < 2) TR = 2;
    while (TR > R / 2) TR /= 2;
    if (TC < TR) TC = TR;
    if (TR * N > 1024) w->herm = 0; /* flush plan tables */
    w->TR = TR;
    w->TC = TC;
    w->bs2 = 2 * (N * TR + 4); /* padded: rows must not share cache sets */
    w->mper = (size_t)(TC * N * w->bs2);
    mcv = 2 * w->mper / 4; /* double-buffered */
    w->nstream = tune_stream >= 0 ? tune_stream : big;
    w->prefetch = tune_prefetch >= 0 ? tune_prefetch : 1;
    plan_flush(w);
  }
  w->per = N > 4 ? (size_t)3 * N * N + (size_t)N : 0; /* V, T, O, row pointers */
  size_t total = ncoef + (size_t)nt * (w->per + mcv);
  BPS_CALL(bps_state_reserve_work(s, 2 * total));
  *coef = (cc *)s->work;
  w->scr = (cv *)s->work + ncoef;
  w->mbuf = (double *)(w->scr + (size_t)nt * w->per);
  return BPS_OK;
}

static void run_sweep(const sweep *w, int kind) {
  const int N = w->L.N;
  const int ni = N == 2 ? 0 : N == 4 ? 1 : 2;
  const int li = w->L.lobit == 0 ? 0 : N > 4 ? 1 : w->L.lobit;
  if (w->herm) herm_fns[kind][ni][li](w);
  else plain_fns[kind][ni][li](w);
}

/* ---------------------------------------------------------------------------------------
 * Operations on all q qubits (R = 1): rho <- sum_m K_m P rho P^T K_m^dag with the index
 * permutation P of off[]. Row-parallel, each element a fixed-order sum. */
static int whole_conj(bps_state *s, const layout *L, int nk, const bps_cplx *K) {
  const bps_idx D = L->D;
  const bps_idx *off = L->off;
  BPS_CALL(bps_state_reserve_work(s, 2 * (size_t)(D * D)));
  double *rho = (double *)s->a, *T = (double *)s->work, *O = T + 2 * D * D;
  for (int m = 0; m < nk; m++) {
    const double *Km = (const double *)(K + (size_t)m * D * D);
    /* T = K_m rho~ : row a accumulates K[a][x] * row off[x] (columns permuted) */
#pragma omp parallel for schedule(static) if (D * D * D >= PAR_MIN)
    for (bps_idx a = 0; a < D; a++) {
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
    /* O (+)= T K_m^dag : O[a][c] = sum_b T[a][b] conj(K[c][b]) */
#pragma omp parallel for schedule(static) if (D * D * D >= PAR_MIN)
    for (bps_idx a = 0; a < D; a++)
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
#pragma omp parallel for schedule(static) if (D * D >= PAR_MIN)
  for (bps_idx a = 0; a < D; a++)
    for (bps_idx c = 0; c < D; c++) {
      rho[2 * (off[a] * D + off[c])] = O[2 * (a * D + c)];
      rho[2 * (off[a] * D + off[c]) + 1] = O[2 * (a * D + c) + 1];
    }
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
  if (w.L.R == 1) return whole_conj(s, &w.L, 1, U);
  w.rho = (double *)s->a;
  w.nk = 1;
  cc *coef;
  if (is_monomial(N, U, src)) {
    int ident = 1, phase = 0;
    for (int a = 0; a < N; a++) {
      ident &= src[a] == a && U[(size_t)a * N + a] == 1.0;
      phase |= U[(size_t)a * N + src[a]] != 1.0;
    }
    if (ident) return BPS_OK;
    w.src = src;
    w.phase = phase;
    BPS_CALL(plan_sweep(s, &w, OP_MONO, 2 * (size_t)N * N, &coef));
    for (int a = 0; a < N; a++)
      for (int c = 0; c < N; c++)
        coef[a * N + c] = cc_make(U[(size_t)a * N + src[a]] * conj(U[(size_t)c * N + src[c]]));
    w.f = coef;
    run_sweep(&w, OP_MONO);
    return BPS_OK;
  }
  BPS_CALL(plan_sweep(s, &w, OP_UNI, 2 * (size_t)N * N, &coef));
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
  if (w.L.R == 1) return whole_conj(s, &w.L, nk, K);
  w.rho = (double *)s->a;
  w.nk = nk;
  cc *coef;
  BPS_CALL(plan_sweep(s, &w, OP_KRAUS, 2 * (size_t)nk * N * N, &coef));
  for (size_t x = 0; x < (size_t)nk * N * N; x++) coef[x] = cc_make(K[x]);
  w.u = coef;
  run_sweep(&w, OP_KRAUS);
  return BPS_OK;
}

int bps_dense_append_zero(bps_state *s, int a) {
  const bps_idx D = s->dim, D2 = D << a;
  BPS_CALL(bps_state_reserve_work(s, (size_t)(D2 * D2)));
  const double *rho = (const double *)s->a;
  double *out = (double *)s->work;
#pragma omp parallel for schedule(static) if (D2 * D2 >= PAR_MIN)
  for (bps_idx i2 = 0; i2 < D2; i2++) {
    double *o = out + 2 * i2 * D2;
    memset(o, 0, 2 * sizeof(double) * (size_t)D2);
    if (i2 & (((bps_idx)1 << a) - 1)) continue;
    const double *r = rho + 2 * (i2 >> a) * D;
    for (bps_idx j = 0; j < D; j++) {
      o[2 * (j << a)] = r[2 * j];
      o[2 * (j << a) + 1] = r[2 * j + 1];
    }
  }
  bps_state_swap_work(s);
  s->q += a;
  s->dim = D2;
  s->rank = D2;
  return BPS_OK;
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
#pragma omp parallel for schedule(static) if (Dk * Dk * ntrc >= PAR_MIN)
  for (bps_idx ki = 0; ki < Dk; ki++) {
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
  bps_state_swap_work(s);
  s->q = qk;
  s->dim = Dk;
  s->rank = Dk;
  return BPS_OK;
}

/* Chunk c of BPS_RED_CHUNKS over n terms: [n*c/C, n*(c+1)/C). */
static bps_idx chunk_lo(bps_idx n, int c) { return (bps_idx)((uint64_t)n * (uint64_t)c / BPS_RED_CHUNKS); }

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
#pragma omp parallel for schedule(static) if (D >= PAR_MIN)
  for (int c = 0; c < BPS_RED_CHUNKS; c++) {
    double sr = 0.0, si = 0.0;
    for (bps_idx j = chunk_lo(D, c); j < chunk_lo(D, c + 1); j++) {
      const double *e = rho + 2 * (j * D + (j ^ xm));
      if (__builtin_parityll((unsigned long long)(j & zm))) sr -= e[0], si -= e[1];
      else sr += e[0], si += e[1];
    }
    part[c][0] = sr;
    part[c][1] = si;
  }
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

int bps_dense_expect_projector(const bps_state *s, int k, const int *qubits,
                               const bps_cplx *psi, double *out) {
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
#pragma omp parallel for schedule(static) if (nterm * N >= PAR_MIN)
  for (int c = 0; c < BPS_RED_CHUNKS; c++) {
    double acc_r = 0.0, acc_i = 0.0;
    for (bps_idx n = chunk_lo(nterm, c); n < chunk_lo(nterm, c + 1); n++) {
      bps_idx r = n >> k, b = n & (N - 1), base = expand(r, k, sp), ob = 0;
      for (int t = 0; t < k; t++)
        if ((b >> (k - 1 - t)) & 1) ob |= gbit[t];
      const double *row = rho + 2 * (base + ob) * D + 2 * base;
      double sr = 0.0, si = 0.0; /* sum_a row[off a] psi_a */
      bps_idx oa = 0;            /* off(a), Gray-free: recomputed incrementally below */
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
    part[c] = acc_r;
    (void)acc_i;
  }
  double sum = 0.0;
  for (int c = 0; c < BPS_RED_CHUNKS; c++) sum += part[c];
  *out = sum;
  return BPS_OK;
}

/* Internal tuning hook for tests and benchmarks (not part of the public API): force the
 * Hermitian tiled sweep on (1) or off (0), the tile edge in blocks, non-temporal mirror
 * flushes and software prefetch; -1 restores the automatic choice. Not thread-safe. */
void bps_dense_set_tuning(int herm, int tile, int stream, int prefetch);
void bps_dense_set_tuning(int herm, int tile, int stream, int prefetch) {
  tune_herm = herm;
  tune_tile = tile;
  tune_stream = stream;
  tune_prefetch = prefetch;
}

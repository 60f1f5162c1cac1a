/* dense2: engine E0, dense two-copy averaging — the reference the other engines are tested
 * against (shared/moments.md Sec. 4). The two-copy operator X (on 2q qubits: copy 1 at
 * positions 0..q-1, copy 2 at q..2q-1, position 0 the most significant bit) is a dense
 * 4^q x 4^q complex matrix evolved forwards (Schroedinger picture):
 *   fixed gates and Kraus channels    conjugation on each copy
 *   rotations                         the exact average over the angle ensemble from the
 *                                     five Fourier components m = -2..2 of phi -> R X R^dag
 *                                     (sampled at 5 angles), weighted by E[(2s)^a e^{i m phi}];
 *                                     derivatives: -(i/2)[P, .] on the differentiated copies
 *   random axes / Pauli strings       the mean of those averages over the letters / strings
 *   Haar blocks                       Weingarten: sum_{s,t} Wg(s,t) Tr_S(t X) (x) s
 *   appends, traces, depolarising     on each copy
 * It shares no code with the other engines beyond the problem description (mom.h), and
 * costs O(16^q) memory per state: tests and small checks only (q <= 6). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "mom.h"

#define E0_MAXQ 6 /* register width (per copy) */

typedef struct {
  int n;             /* qubits of the two-copy register (2q) */
  size_t dim;        /* 2^n */
  double complex *a; /* dim x dim row-major */
} dop;

static int dop_alloc(dop *x, int n) {
  x->n = n;
  x->dim = (size_t)1 << n;
  x->a = calloc(x->dim * x->dim, sizeof(double complex));
  BPS_CHECK(x->a, BPS_ERR_MEM, "out of memory (dense two-copy operator on %d qubits)", n);
  return BPS_OK;
}
static void dop_free(dop *x) {
  free(x->a);
  x->a = NULL;
}
static int dop_copy(dop *y, const dop *x) {
  BPS_CALL(dop_alloc(y, x->n));
  memcpy(y->a, x->a, sizeof(double complex) * x->dim * x->dim);
  return BPS_OK;
}

/* Bit of position p in an n-qubit index. */
static inline size_t bitpos(int n, int p) { return (size_t)1 << (n - 1 - p); }

/* Gather the bits of idx at positions pos[0..k-1] (pos[0] most significant). */
static size_t gather(size_t idx, int n, const int *pos, int k) {
  size_t s = 0;
  for (int u = 0; u < k; u++) s = (s << 1) | ((idx & bitpos(n, pos[u])) ? 1u : 0u);
  return s;
}
/* idx with the bits at pos set from s. */
static size_t scatter(size_t idx, int n, const int *pos, int k, size_t s) {
  for (int u = 0; u < k; u++) {
    size_t b = bitpos(n, pos[u]);
    idx = (s >> (k - 1 - u)) & 1 ? idx | b : idx & ~b;
  }
  return idx;
}

/* The indices with zero bits at pos (bases) and the offsets of each sub-index s. */
static int groups(int n, const int *pos, int k, size_t **base, size_t *nbase, size_t **offs) {
  const size_t D = (size_t)1 << n, K = (size_t)1 << k;
  *base = malloc(sizeof(size_t) * (D / K));
  *offs = malloc(sizeof(size_t) * K);
  BPS_CHECK(*base && *offs, BPS_ERR_MEM, "out of memory");
  size_t nb = 0;
  for (size_t i = 0; i < D; i++)
    if (gather(i, n, pos, k) == 0) (*base)[nb++] = i;
  for (size_t t = 0; t < K; t++) (*offs)[t] = scatter(0, n, pos, k, t);
  *nbase = nb;
  return BPS_OK;
}

/* X <- M_S X (left = 1) or X M_S (left = 0), M a 2^k x 2^k matrix on positions pos. */
static int mul(dop *x, const int *pos, int k, const double complex *M, int left) {
  const size_t D = x->dim, K = (size_t)1 << k;
  int rc = BPS_OK;
  size_t *base = NULL, *offs = NULL, nb = 0;
  double complex *col = malloc(sizeof(double complex) * K * 2);
  BPS_CHECK_GOTO(col, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(groups(x->n, pos, k, &base, &nb, &offs));
  double complex *out = col + K;
  for (size_t o = 0; o < D; o++) /* the other index (column for left, row for right) */
    for (size_t g = 0; g < nb; g++) {
      const size_t i = base[g];
      for (size_t s = 0; s < K; s++)
        col[s] = left ? x->a[(i | offs[s]) * D + o] : x->a[o * D + (i | offs[s])];
      for (size_t r = 0; r < K; r++) {
        double complex acc = 0;
        for (size_t s = 0; s < K; s++)
          acc += left ? M[r * K + s] * col[s] : col[s] * M[s * K + r];
        out[r] = acc;
      }
      for (size_t r = 0; r < K; r++) {
        if (left) x->a[(i | offs[r]) * D + o] = out[r];
        else x->a[o * D + (i | offs[r])] = out[r];
      }
    }
cleanup:
  free(col);
  free(base);
  free(offs);
  return rc;
}

/* X <- U_S X U_S^dag. */
static int conj_by(dop *x, const int *pos, int k, const double complex *U) {
  const size_t K = (size_t)1 << k;
  int rc = BPS_OK;
  double complex *Uh = malloc(sizeof(double complex) * K * K);
  BPS_CHECK_GOTO(Uh, BPS_ERR_MEM, "out of memory");
  for (size_t r = 0; r < K; r++)
    for (size_t c = 0; c < K; c++) Uh[r * K + c] = conj(U[c * K + r]);
  BPS_CALL_GOTO(mul(x, pos, k, U, 1));
  BPS_CALL_GOTO(mul(x, pos, k, Uh, 0));
cleanup:
  free(Uh);
  return rc;
}

/* Positions of qubits qs on copy c (0 or 1) of a q-qubit register. */
static void copy_pos(int q, int c, const int *qs, int k, int *pos) {
  for (int u = 0; u < k; u++) pos[u] = c * q + qs[u];
}

/* Y = P_S X (left) or X P_S (right) for the Pauli string P (letters L on positions pos): a
 * permutation with phases, O(dim^2): P|j> = i^{#Y} (-1)^{|j & zmask|} |j ^ xmask>. */
static void pauli_mul(const dop *x, const int *pos, int k, const int *L, int left,
                      double complex *y) {
  size_t xm = 0, zm = 0;
  int ny = 0;
  for (int u = 0; u < k; u++) {
    size_t b = bitpos(x->n, pos[u]);
    if (L[u] == MOM_X || L[u] == MOM_Y) xm |= b;
    if (L[u] == MOM_Z || L[u] == MOM_Y) zm |= b;
    ny += L[u] == MOM_Y;
  }
  static const double complex ipow[4] = {1, I, -1, -I};
  const double complex g = ipow[ny & 3];
  const size_t D = x->dim;
  for (size_t r = 0; r < D; r++)
    for (size_t c = 0; c < D; c++) {
      if (left) { /* (P X)[r][c] = P[r][r ^ xm] X[r ^ xm][c] */
        size_t j = r ^ xm;
        double sg = (__builtin_popcountll((unsigned long long)(j & zm)) & 1) ? -1.0 : 1.0;
        y[r * D + c] = g * sg * x->a[j * D + c];
      } else { /* (X P)[r][c] = X[r][c ^ xm] P[c ^ xm][c] */
        size_t j = c ^ xm;
        double sg = (__builtin_popcountll((unsigned long long)(c & zm)) & 1) ? -1.0 : 1.0;
        y[r * D + c] = x->a[r * D + j] * g * sg;
      }
    }
}

/* Per-thread scratch of three operators (kept between calls: the rotation averages call
 * these thousands of times, and fresh megabyte allocations cost page faults). */
static _Thread_local double complex *scr[3];
static _Thread_local size_t scr_n;
static int scratch(size_t N, double complex **a, double complex **b, double complex **c) {
  if (N > scr_n) {
    for (int i = 0; i < 3; i++) {
      free(scr[i]);
      scr[i] = malloc(sizeof(double complex) * N);
    }
    scr_n = N;
    if (!scr[0] || !scr[1] || !scr[2]) {
      for (int i = 0; i < 3; i++) free(scr[i]), scr[i] = NULL;
      scr_n = 0;
      BPS_FAIL(BPS_ERR_MEM, "out of memory (dense two-copy scratch)");
    }
  }
  *a = scr[0], *b = scr[1], *c = scr[2];
  return BPS_OK;
}

/* X <- R X R^dag for R = exp(-i phi/2 P) = cos(phi/2) - i sin(phi/2) P on positions pos. */
static int rot_conj(dop *x, const int *pos, int k, const int *L, double phi) {
  const size_t N = x->dim * x->dim;
  double complex *px, *xp, *pxp;
  BPS_CALL(scratch(N, &px, &xp, &pxp));
  pauli_mul(x, pos, k, L, 1, px);
  pauli_mul(x, pos, k, L, 0, xp);
  dop t = {x->n, x->dim, px};
  pauli_mul(&t, pos, k, L, 0, pxp); /* P X P */
  const double c = cos(phi / 2), s = sin(phi / 2);
  for (size_t i = 0; i < N; i++)
    x->a[i] = c * c * x->a[i] + s * s * pxp[i] - I * c * s * (px[i] - xp[i]);
  return BPS_OK;
}

/* X <- -(i/2) [P, X] for the Pauli string P (letters L) on positions pos. */
static int half_commutator(dop *x, const int *pos, int k, const int *L) {
  const size_t N = x->dim * x->dim;
  double complex *px, *xp, *unused;
  BPS_CALL(scratch(N, &px, &xp, &unused));
  pauli_mul(x, pos, k, L, 1, px);
  pauli_mul(x, pos, k, L, 0, xp);
  for (size_t i = 0; i < N; i++) x->a[i] = -0.5 * I * (px[i] - xp[i]);
  return BPS_OK;
}

/* acc += w * (average over the angle of R(phi) (x) R(phi) X ..., derivative mode), for one
 * rotation with letters L on register qubits qs. */
static int rotation_avg(const dop *x, int q, const int *qs, int k, const int *L,
                        const double complex mom[3][3], int mode, double w, dop *acc) {
  int pos1[64], pos2[64];
  copy_pos(q, 0, qs, k, pos1);
  copy_pos(q, 1, qs, k, pos2);
  const size_t N = x->dim * x->dim;
  int rc = BPS_OK;
  dop sample, avg;
  memset(&avg, 0, sizeof avg);
  memset(&sample, 0, sizeof sample);
  BPS_CALL_GOTO(dop_alloc(&avg, x->n));
  /* Fourier components: X(phi) = sum_{m=-2..2} M_m e^{i m phi}; E[(2s)^a X] = sum_m M_m E[...] */
  const int a = mode;
  BPS_CALL_GOTO(dop_alloc(&sample, x->n));
  for (int j = 0; j < 5; j++) {
    const double phi = 2.0 * M_PI * j / 5.0;
    memcpy(sample.a, x->a, sizeof(double complex) * N);
    BPS_CALL_GOTO(rot_conj(&sample, pos1, k, L, phi));
    BPS_CALL_GOTO(rot_conj(&sample, pos2, k, L, phi));
    /* weight of sample j: (1/5) sum_m e^{-i m phi_j} E[(2s)^a e^{i m phi}] */
    double complex wj = 0;
    for (int m = -2; m <= 2; m++) {
      double complex e = m >= 0 ? mom[a][m] : conj(mom[a][-m]);
      wj += cexp(-I * (double)m * phi) * e;
    }
    wj /= 5.0;
    for (size_t i = 0; i < N; i++) avg.a[i] += wj * sample.a[i];
  }
  dop_free(&sample);
  if (mode >= 1) BPS_CALL_GOTO(half_commutator(&avg, pos1, k, L));
  if (mode == 2) BPS_CALL_GOTO(half_commutator(&avg, pos2, k, L));
  for (size_t i = 0; i < N; i++) acc->a[i] += w * avg.a[i];
cleanup:
  dop_free(&sample);
  dop_free(&avg);
  return rc;
}

static int rotation(dop *x, int q, const mom_op *o, int mode) {
  const bps_op *op = o->op;
  int L[64], rc = BPS_OK;
  dop acc;
  memset(&acc, 0, sizeof acc);
  BPS_CALL_GOTO(dop_alloc(&acc, x->n));
  if (op->ens == BPS_ENS_AXIS) {
    for (int a = 1; a <= 3; a++) {
      L[0] = a;
      BPS_CALL_GOTO(rotation_avg(x, q, op->qubits, 1, L, o->mom, mode, 1.0 / 3.0, &acc));
    }
  } else if (op->ens == BPS_ENS_PAULI) {
    const int e = op->ens_k;
    const long ns = (1L << (2 * e)) - 1;
    for (long s = 1; s <= ns; s++) {
      for (int u = 0; u < e; u++) L[u] = (int)((s >> (2 * (e - 1 - u))) & 3);
      BPS_CALL_GOTO(rotation_avg(x, q, op->ens_qubits, e, L, o->mom, mode, 1.0 / (double)ns, &acc));
    }
  } else {
    for (int u = 0; u < op->k; u++) L[u] = mom_letter(op->pauli[u]);
    BPS_CALL_GOTO(rotation_avg(x, q, op->qubits, op->k, L, o->mom, mode, 1.0, &acc));
  }
  dop_free(x);
  *x = acc;
  acc.a = NULL; /* now owned by x */
cleanup:
  dop_free(&acc);
  return rc;
}

/* Haar twirl on register qubits qs (k) of both copies. */
static int twirl(dop *x, int q, const int *qs, int k) {
  int pos[128];
  copy_pos(q, 0, qs, k, pos);
  copy_pos(q, 1, qs, k, pos + k);
  const int n = x->n, nr = n - 2 * k;
  int rest[128], nrest = 0;
  for (int p = 0; p < n; p++) {
    int in = 0;
    for (int u = 0; u < 2 * k; u++) in |= pos[u] == p;
    if (!in) rest[nrest++] = p;
  }
  const size_t D = x->dim, R = (size_t)1 << nr, K = (size_t)1 << k;
  double complex *Y = calloc(2 * R * R, sizeof(double complex));
  BPS_CHECK(Y, BPS_ERR_MEM, "out of memory");
  /* Y_1 = Tr_S X, Y_F = Tr_S (F X): sum over t1, t2 of X[(r, t1 t2)][(c, t2 t1)] */
  for (size_t r = 0; r < R; r++)
    for (size_t c = 0; c < R; c++) {
      size_t r0 = scatter(0, n, rest, nr, r), c0 = scatter(0, n, rest, nr, c);
      double complex y1 = 0, yf = 0;
      for (size_t t1 = 0; t1 < K; t1++)
        for (size_t t2 = 0; t2 < K; t2++) {
          size_t ri = scatter(r0, n, pos, 2 * k, (t1 << k) | t2);
          y1 += x->a[ri * D + scatter(c0, n, pos, 2 * k, (t1 << k) | t2)];
          yf += x->a[ri * D + scatter(c0, n, pos, 2 * k, (t2 << k) | t1)];
        }
      Y[r * R + c] = y1;
      Y[R * R + r * R + c] = yf;
    }
  const double Dk = (double)K, den = Dk * Dk - 1.0;
  memset(x->a, 0, sizeof(double complex) * D * D);
  for (size_t r = 0; r < R; r++)
    for (size_t c = 0; c < R; c++) {
      double complex y1 = Y[r * R + c], yf = Y[R * R + r * R + c];
      double complex a1 = (y1 - yf / Dk) / den, af = (yf - y1 / Dk) / den;
      size_t r0 = scatter(0, n, rest, nr, r), c0 = scatter(0, n, rest, nr, c);
      for (size_t s1 = 0; s1 < K; s1++)
        for (size_t s2 = 0; s2 < K; s2++) {
          size_t ri = scatter(r0, n, pos, 2 * k, (s1 << k) | s2);
          x->a[ri * D + scatter(c0, n, pos, 2 * k, (s1 << k) | s2)] += a1;
          x->a[ri * D + scatter(c0, n, pos, 2 * k, (s2 << k) | s1)] += af;
        }
    }
  free(Y);
  return BPS_OK;
}

/* Partial trace of positions pos (k) -> a smaller operator (remaining order kept). */
static int ptrace(dop *x, const int *pos, int k) {
  const int n = x->n, nr = n - k;
  int rest[128], nrest = 0;
  for (int p = 0; p < n; p++) {
    int in = 0;
    for (int u = 0; u < k; u++) in |= pos[u] == p;
    if (!in) rest[nrest++] = p;
  }
  dop y;
  BPS_CALL(dop_alloc(&y, nr));
  const size_t D = x->dim, K = (size_t)1 << k;
  for (size_t r = 0; r < y.dim; r++)
    for (size_t c = 0; c < y.dim; c++) {
      size_t r0 = scatter(0, n, rest, nr, r), c0 = scatter(0, n, rest, nr, c);
      double complex acc = 0;
      for (size_t t = 0; t < K; t++)
        acc += x->a[scatter(r0, n, pos, k, t) * D + scatter(c0, n, pos, k, t)];
      y.a[r * y.dim + c] = acc;
    }
  dop_free(x);
  *x = y;
  return BPS_OK;
}

/* Per copy: rho -> (1 - p) rho + p Tr_S(rho) (x) 1_S / 2^k on register qubits qs. */
static int depolarise(dop *x, int q, const int *qs, int k, double p) {
  for (int c = 0; c < 2; c++) {
    int pos[64];
    copy_pos(q, c, qs, k, pos);
    const int n = x->n;
    const size_t D = x->dim, K = (size_t)1 << k;
    int rest[128], nr = 0;
    for (int u = 0; u < n; u++) {
      int in = 0;
      for (int v = 0; v < k; v++) in |= pos[v] == u;
      if (!in) rest[nr++] = u;
    }
    const size_t R = (size_t)1 << nr;
    double complex *T = calloc(R * R, sizeof(double complex));
    BPS_CHECK(T, BPS_ERR_MEM, "out of memory");
    for (size_t r = 0; r < R; r++)
      for (size_t cc = 0; cc < R; cc++) {
        size_t r0 = scatter(0, n, rest, nr, r), c0 = scatter(0, n, rest, nr, cc);
        double complex acc = 0;
        for (size_t t = 0; t < K; t++)
          acc += x->a[scatter(r0, n, pos, k, t) * D + scatter(c0, n, pos, k, t)];
        T[r * R + cc] = acc;
      }
    for (size_t i = 0; i < D * D; i++) x->a[i] *= 1.0 - p;
    for (size_t r = 0; r < R; r++)
      for (size_t cc = 0; cc < R; cc++) {
        size_t r0 = scatter(0, n, rest, nr, r), c0 = scatter(0, n, rest, nr, cc);
        for (size_t t = 0; t < K; t++)
          x->a[scatter(r0, n, pos, k, t) * D + scatter(c0, n, pos, k, t)] += p * T[r * R + cc] /
                                                                             (double)K;
      }
    free(T);
  }
  return BPS_OK;
}

/* Append a ancillas |0> at the end of each copy (q -> q + a). */
static int append(dop *x, int q, int a) {
  dop y;
  BPS_CALL(dop_alloc(&y, 2 * (q + a)));
  const int n = x->n, m = y.n;
  int map[128]; /* old position -> new position */
  for (int p = 0; p < q; p++) map[p] = p, map[q + p] = q + a + p;
  for (size_t r = 0; r < x->dim; r++)
    for (size_t c = 0; c < x->dim; c++) {
      size_t rr = 0, cc = 0;
      for (int p = 0; p < n; p++) {
        if (r & bitpos(n, p)) rr |= bitpos(m, map[p]);
        if (c & bitpos(n, p)) cc |= bitpos(m, map[p]);
      }
      y.a[rr * y.dim + cc] = x->a[r * x->dim + c];
    }
  dop_free(x);
  *x = y;
  return BPS_OK;
}

/* The dense matrix of sum_t coef_t (x)_q site(t, q) on the qubits pos of an n-qubit
 * two-copy register: site q acts on positions (qq, q + nq) ... given as (p1[q], p2[q]). */
static double complex site_elem(const double *v, int r1, int r2, int c1, int c2) {
  /* <r1 r2| sum_ab v[4a+b] sigma_a (x) sigma_b |c1 c2> */
  static const double complex S[4][2][2] = {{{1, 0}, {0, 1}},
                                            {{0, 1}, {1, 0}},
                                            {{0, -I}, {I, 0}},
                                            {{1, 0}, {0, -1}}};
  double complex acc = 0;
  for (int a = 0; a < 4; a++) {
    if (S[a][r1][c1] == 0) continue;
    for (int b = 0; b < 4; b++)
      if (v[4 * a + b] != 0 && S[b][r2][c2] != 0)
        acc += v[4 * a + b] * S[a][r1][c1] * S[b][r2][c2];
  }
  return acc;
}

/* x <- sum_t coef_t (x)_{u < nq} site(t, u) on register qubits q0 + u (identity on the
 * others when ident, i.e. for observables), register of q qubits per copy. */
static int build_prod(dop *x, int q, const mom_prod *p, int q0, int ident) {
  BPS_CALL(dop_alloc(x, 2 * q));
  const int n = 2 * q;
  double idv[16];
  mom_site_identity(idv);
  for (size_t r = 0; r < x->dim; r++)
    for (size_t c = 0; c < x->dim; c++) {
      double complex tot = 0;
      for (int t = 0; t < p->nterm; t++) {
        double complex v = (double)p->coef[t];
        for (int u = 0; u < q && v != 0; u++) {
          const double *sv = (u >= q0 && u < q0 + p->nq) ? mom_site(p, t, u - q0)
                                                         : (ident ? idv : NULL);
          if (!sv) continue;
          int r1 = (r & bitpos(n, u)) != 0, r2 = (r & bitpos(n, q + u)) != 0;
          int c1 = (c & bitpos(n, u)) != 0, c2 = (c & bitpos(n, q + u)) != 0;
          v *= site_elem(sv, r1, r2, c1, c2);
        }
        tot += v;
      }
      x->a[r * x->dim + c] = tot;
    }
  return BPS_OK;
}

/* Observable of a local marker sum as a dense matrix. */
static int build_local(dop *x, int q, const mom_obs *o) {
  BPS_CALL(dop_alloc(x, 2 * q)); /* x is the caller's */
  int rc = BPS_OK;
  dop t;
  memset(&t, 0, sizeof t);
  mom_prod one;
  BPS_CALL_GOTO(mom_prod_alloc(&one, o->nq, 1)); /* one is zeroed before it can fail */
  const int nj2 = o->two ? o->nq : 1;
  for (int j = 0; j < o->nq; j++)
    for (int j2 = 0; j2 < nj2; j2++) {
      for (int u = 0; u < o->nq; u++) {
        int role = (u == j) | ((o->two && u == j2) << 1);
        memcpy((double *)mom_site(&one, 0, u), o->lsite[role], sizeof(double) * 16);
      }
      one.coef[0] = o->lcoef;
      BPS_CALL_GOTO(build_prod(&t, q, &one, o->q0, 1));
      for (size_t i = 0; i < x->dim * x->dim; i++) x->a[i] += t.a[i];
      dop_free(&t);
    }
cleanup:
  dop_free(&t);
  mom_prod_free(&one);
  return rc;
}

/* Per copy: X <- sum_m K_m X K_m^dag for the op's Kraus operators (pool: K_0, K_1, ...). */
static int kraus(dop *x, int q, const bps_op *op, const bps_cplx *pool) {
  const size_t K = (size_t)1 << op->k, KK = K * K;
  int pos[128], rc = BPS_OK;
  dop acc, t;
  memset(&acc, 0, sizeof acc);
  memset(&t, 0, sizeof t);
  for (int c = 0; c < 2; c++) {
    copy_pos(q, c, op->qubits, op->k, pos);
    BPS_CALL_GOTO(dop_alloc(&acc, x->n));
    for (int m = 0; m < op->nkraus; m++) {
      BPS_CALL_GOTO(dop_copy(&t, x));
      BPS_CALL_GOTO(conj_by(&t, pos, op->k, (const double complex *)(pool + m * KK)));
      for (size_t u = 0; u < x->dim * x->dim; u++) acc.a[u] += t.a[u];
      dop_free(&t);
    }
    dop_free(x);
    *x = acc;
    acc.a = NULL; /* now owned by x */
  }
cleanup:
  dop_free(&t);
  dop_free(&acc);
  return rc;
}

static int run_op(dop *x, const mom_prob *P, int i, int p, int mode) {
  const mom_op *o = &P->ops[i];
  const bps_op *op = o->op;
  const int q = o->q_before;
  int pos[128];
  switch (op->kind) {
  case BPS_OP_UNITARY:
    if (op->ens == BPS_ENS_HAAR) {
      BPS_CALL(twirl(x, q, op->qubits, op->k));
      return BPS_OK;
    }
    for (int c = 0; c < 2; c++) {
      copy_pos(q, c, op->qubits, op->k, pos);
      BPS_CALL(conj_by(x, pos, op->k, (const double complex *)(P->c->pool + op->mat)));
    }
    return BPS_OK;
  case BPS_OP_PROT: BPS_CALL(rotation(x, q, o, op->param == p ? mode : 0)); return BPS_OK;
  case BPS_OP_KRAUS: BPS_CALL(kraus(x, q, op, P->c->pool + op->mat)); return BPS_OK;
  case BPS_OP_APPEND: BPS_CALL(append(x, q, op->k)); return BPS_OK;
  case BPS_OP_TRACE:
    copy_pos(q, 0, op->qubits, op->k, pos);
    copy_pos(q, 1, op->qubits, op->k, pos + op->k);
    BPS_CALL(ptrace(x, pos, 2 * op->k));
    return BPS_OK;
  case BPS_OP_DEPOL: BPS_CALL(depolarise(x, q, op->qubits, op->k, op->scale)); return BPS_OK;
  }
  BPS_FAIL(BPS_ERR_INTERNAL, "operation kind %d", (int)op->kind);
}

static int e0_prepare(const mom_prob *P, const bps_mom_opts *o, void **st) {
  (void)o;
  BPS_CHECK(P->q_max <= E0_MAXQ, BPS_ERR_JOB,
            "the dense engine holds 16^q numbers: registers of %d qubits are too wide (at "
            "most %d)",
            P->q_max, E0_MAXQ);
  for (int i = 0; i < P->nops; i++) {
    const bps_op *op = P->ops[i].op;
    BPS_CHECK(op->kind != BPS_OP_PROT || op->ens != BPS_ENS_PAULI || op->ens_k <= 6, BPS_ERR_JOB,
              "the dense engine averages random Pauli strings on at most 6 qubits");
  }
  *st = NULL;
  return BPS_OK;
}

static int e0_pass(const mom_prob *P, const void *st, int kind, const mom_prod *in,
                   const mom_obs *obs, int p, int mode, long double *out, mom_pass_stats *ps) {
  (void)st;
  (void)kind;
  (void)ps;
  int rc = BPS_OK;
  dop x, o;
  memset(&x, 0, sizeof x);
  memset(&o, 0, sizeof o);
  BPS_CALL_GOTO(build_prod(&x, P->c->q_in, in, 0, 0));
  for (int i = 0; i < P->nops; i++) BPS_CALL_GOTO(run_op(&x, P, i, p, mode));
  const int q = P->c->q_out;
  if (obs->local) BPS_CALL_GOTO(build_local(&o, q, obs));
  else BPS_CALL_GOTO(build_prod(&o, q, &obs->prod, obs->q0, 1));
  long double re = 0; /* Tr(O X) */
  for (size_t r = 0; r < x.dim; r++)
    for (size_t c = 0; c < x.dim; c++)
      re += (long double)creal(o.a[c * x.dim + r] * x.a[r * x.dim + c]);
  *out = re;
cleanup:
  dop_free(&x);
  dop_free(&o);
  return rc;
}

static void e0_release(void *st) { (void)st; }

static int e0_predict(const mom_prob *P, const bps_mom_opts *o, double *seconds, double *bytes,
                      char *why, size_t whylen) {
  (void)o;
  if (P->q_max > E0_MAXQ) {
    snprintf(why, whylen, "dense: a %d-qubit register needs 16^%d numbers", P->q_max, P->q_max);
    *seconds = *bytes = INFINITY;
    return BPS_OK;
  }
  const double n = ldexp(1.0, 4 * P->q_max);
  *bytes = 6.0 * 16.0 * n;
  *seconds = 1e-8 * n * (double)P->nops * 8.0 * (1 << (2 * 2)) * (double)(P->nparams + 1);
  why[0] = 0;
  return BPS_OK;
}

const mom_engine bps_mom_engine_dense = {BPS_MOM_DENSE, e0_prepare, e0_pass, e0_release,
                                         e0_predict};

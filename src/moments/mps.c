/* mps: engine E3, a two-copy matrix product along the qubit line (shared/moments.md Sec. 4).
 *
 * Sites are the global wires alive at each moment, in a layout fixed once per problem (the
 * register order, changed only by the steps below); a site is the real 16-dimensional
 * Pauli-pair space (index 4a + b, mom.h) and a tensor A[chi_l][16][chi_r] holds doubles.
 * Every MPS carries an exact power-of-two exponent (value = 2^e2 x contraction; tensors
 * are rescaled by powers of two only), so values far below 2^-1022 keep full precision;
 * results are long double.
 *
 * The circuit becomes a list of steps, computed in prepare by walking the layout:
 *   OP1 / OP2   the averaged two-copy map of a one- / two-qubit op on adjacent sites
 *               (16 x 16 or 256 x 256, sparse; rotations by the pair rules of Sec. 2 with
 *               the moment table, fixed gates and channels by their Pauli transfer matrices)
 *   REL         a SWAP gate: the two sites exchange their wire labels (no arithmetic)
 *   XPOS        a transposition of adjacent sites, inserted before a two-qubit op whose
 *               wires are not adjacent (the layout keeps the new order)
 *   APPEND      new |0> sites at the end; TRACE removes sites; DEPOL (global depolarising
 *               on any support) the diagonal map (1 - p) per copy with support there, as a
 *               bond-4 flag MPO followed by a compression sweep.
 * The observable is propagated backwards (Heisenberg: each map H) and the input forwards
 * (Schroedinger: H^T, the same matrix transposed in the Pauli-pair basis, which is
 * orthogonal up to the constant 4 per site of Tr[(s_a s_b)(s_c s_d)] = 4 d_ac d_bd).
 *
 * Canonical form and exactness: every MPS is kept in mixed canonical form (one orthogonality
 * centre; every other tensor left- or right-orthonormal), every map is applied at the centre
 * and every two-site update is split by an SVD whose singular values are then the Schmidt
 * values of the whole MPS. A singular value is dropped only when it is below E3_TOL = 1e-14
 * times the largest of its matrix, i.e. zero to rounding (an SVD of a d x d matrix has
 * absolute errors of a few d eps s_max): the engine is exact; the largest bond dimension is
 * reported, and a bond beyond E3_CHI_MAX is refused. Rows and columns that are exactly zero
 * (the Pauli-pair sectors killed by the averaged rotations) are removed before each SVD.
 *
 * Gradients of every parameter at once (E[(d_k C)^2] = <D_k B_k | F_k>, moments.md Sec. 1):
 * the first derivative pass of a (input, observable, mode) triple builds a table of all
 * parameters: one backward sweep stores the observable MPS B_k just after every parameterised
 * rotation (snapshots share their unchanged tensors: tensors are immutable and refcounted),
 * one forward sweep evolves the input F_k and contracts <D_k B_k | F_k> with left and right
 * environments that are reused while the tensors they were built from are unchanged (tensor
 * serial numbers), so the cost is two sweeps plus O(1) site transfers per parameter. The
 * table is built under an OpenMP critical section and read by every later pass (passes on
 * a prepared problem are thread-safe); the values do not depend on which thread built it.
 * The sweeps run only between the first and the last parameterised rotation.
 *
 * Precision: product (global) observables keep a relative accuracy of about n eps (3e-14 at
 * n = 4096 against the toy closed forms, values near 2^-5800). A local cost's marker sum is
 * carried whole, and its rounding reaches the few light-cone terms a derivative sees as about
 * n^2 eps (2e-11 at n = 1024): auto sends local costs to the pauli engine. Values that E0 and
 * E2 give as exact zeros (sectors killed structurally) can come out as rounding residues. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/linalg.h"
#include "mom.h"

#define E3_TOL 1e-14    /* relative threshold of a zero singular value (see above) */
#define E3_CHI_MAX 1024 /* largest bond dimension the engine accepts */
#define E3_FLOPS                                                                                \
  100.0 /* time of a two-site update at bond chi: E3_FLOPS chi^3 ns (fitted on
                           alt, brick and McClean circuits: the SVDs see the sectors the
                           averaged rotations leave, far fewer than 16 chi rows) */

/* ---------------------------------------------------------------- tensors and MPS */

typedef struct {
  long refs;
  uint64_t id; /* serial number: environments remember the tensors they were built from */
  int l, r;
  double d[]; /* [l][16][r] */
} tens;

typedef struct {
  uint64_t next_id;
  int chi_max; /* largest bond seen */
} e3_ctx;

static tens *tens_new(e3_ctx *x, int l, int r) {
  const size_t n = (size_t)l * 16 * (size_t)r;
  tens *t = malloc(sizeof *t + sizeof(double) * (n ? n : 1));
  if (!t) return NULL;
  t->refs = 1;
  t->id = ++x->next_id;
  t->l = l;
  t->r = r;
  if (l > x->chi_max) x->chi_max = l;
  if (r > x->chi_max) x->chi_max = r;
  return t;
}
static void tens_drop(tens *t) {
  if (t && --t->refs == 0) free(t);
}
static size_t tens_len(const tens *t) { return (size_t)t->l * 16 * (size_t)t->r; }

typedef struct {
  int n, cap;
  int *wire;
  tens **t;
  int center;
  long e2;  /* value = 2^e2 x contraction */
  int zero; /* the operator is exactly zero */
} mps;

static int mps_alloc(mps *m, int cap) {
  memset(m, 0, sizeof *m);
  m->cap = cap > 0 ? cap : 1;
  m->wire = malloc(sizeof(int) * (size_t)m->cap);
  m->t = calloc((size_t)m->cap, sizeof(tens *));
  BPS_CHECK(m->wire && m->t, BPS_ERR_MEM, "out of memory (MPS of %d sites)", cap);
  return BPS_OK;
}
static void mps_free(mps *m) {
  for (int i = 0; i < m->n; i++) tens_drop(m->t[i]);
  free(m->wire);
  free(m->t);
  memset(m, 0, sizeof *m);
}
static void mps_set(mps *m, int i, tens *t) {
  tens_drop(m->t[i]);
  m->t[i] = t;
}
/* A snapshot: the same tensors, shared. */
static int mps_snap(const mps *src, mps *dst) {
  BPS_CALL(mps_alloc(dst, src->n));
  dst->n = src->n;
  dst->center = src->center;
  dst->e2 = src->e2;
  dst->zero = src->zero;
  memcpy(dst->wire, src->wire, sizeof(int) * (size_t)src->n);
  for (int i = 0; i < src->n; i++) (dst->t[i] = src->t[i])->refs++;
  return BPS_OK;
}
static void mps_remove(mps *m, int p) {
  tens_drop(m->t[p]);
  memmove(m->t + p, m->t + p + 1, sizeof(tens *) * (size_t)(m->n - p - 1));
  memmove(m->wire + p, m->wire + p + 1, sizeof(int) * (size_t)(m->n - p - 1));
  m->n--;
  m->t[m->n] = NULL;
}
static int mps_make_room(mps *m) {
  if (m->n < m->cap) return BPS_OK;
  const int nc = 2 * m->cap;
  int *w = realloc(m->wire, sizeof(int) * (size_t)nc);
  if (w) m->wire = w;
  tens **t = realloc(m->t, sizeof(tens *) * (size_t)nc);
  if (t) m->t = t;
  BPS_CHECK(w && t, BPS_ERR_MEM, "out of memory (MPS of %d sites)", nc);
  for (int i = m->cap; i < nc; i++) m->t[i] = NULL;
  m->cap = nc;
  return BPS_OK;
}

/* Rescale t (owned, not shared) by a power of two: largest entry in [1/2, 1). Returns 0 when
 * t is zero. */
static int normalise(tens *t, long *e2) {
  const size_t n = tens_len(t);
  double mx = 0;
  for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(t->d[i]));
  if (mx == 0) return 0;
  int e;
  (void)frexp(mx, &e);
  if (e)
    for (size_t i = 0; i < n; i++) t->d[i] = ldexp(t->d[i], -e);
  *e2 += e;
  return 1;
}

/* ---------------------------------------------------------------- dense helpers */

/* C (m x n) = op(A) op(B), row-major with leading dimensions = row lengths of the stored
 * matrices (A is m x k, or k x m when ta; B is k x n, or n x k when tb). Small products
 * stay in plain loops (BLAS calls re-pin OpenBLAS's threads, which costs more than them). */
static void gemm(int ta, int tb, int m, int n, int k, const double *A, const double *B, double *C) {
  if ((double)m * n * k > 40000.0) {
    bps_lin_dgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0, A, ta ? m : k, B, tb ? k : n,
                  0.0, C, n);
    return;
  }
  memset(C, 0, sizeof(double) * (size_t)m * (size_t)n);
  for (int i = 0; i < m; i++)
    for (int p = 0; p < k; p++) {
      const double a = ta ? A[(size_t)p * m + i] : A[(size_t)i * k + p];
      if (a == 0.0) continue;
      double *c = C + (size_t)i * n;
      if (!tb) {
        const double *b = B + (size_t)p * n;
        for (int j = 0; j < n; j++) c[j] += a * b[j];
      } else {
        for (int j = 0; j < n; j++) c[j] += a * B[(size_t)j * k + p];
      }
    }
}

typedef struct {
  int k;
  double *U, *s, *VT; /* m x k, k, k x n (row-major) */
} svdres;

static void svd_free(svdres *o) {
  free(o->U);
  free(o->s);
  free(o->VT);
  memset(o, 0, sizeof *o);
}

/* SVD of the row-major m x n matrix A keeping the singular values above E3_TOL times the
 * largest; rows and columns that are exactly zero are removed first and come back as exact
 * zeros of U and VT. k = 0 for a zero matrix. */
static int svd_trunc(int m, int n, const double *A, svdres *o) {
  memset(o, 0, sizeof *o);
  int rc = BPS_OK, mr = 0, nc = 0;
  double *C = NULL, *u = NULL, *s = NULL, *vt = NULL;
  int *rows = malloc(sizeof(int) * (size_t)m), *cols = malloc(sizeof(int) * (size_t)n);
  unsigned char *cnz = calloc((size_t)n, 1);
  BPS_CHECK_GOTO(rows && cols && cnz, BPS_ERR_MEM, "out of memory (SVD of %d x %d)", m, n);
  for (int i = 0; i < m; i++) {
    int any = 0;
    for (int j = 0; j < n; j++)
      if (A[(size_t)i * n + j] != 0.0) any = 1, cnz[j] = 1;
    if (any) rows[mr++] = i;
  }
  for (int j = 0; j < n; j++)
    if (cnz[j]) cols[nc++] = j;
  const int kk = mr < nc ? mr : nc;
  if (kk > 0) {
    C = malloc(sizeof(double) * (size_t)mr * (size_t)nc);
    u = malloc(sizeof(double) * (size_t)mr * (size_t)kk);
    s = malloc(sizeof(double) * (size_t)kk);
    vt = malloc(sizeof(double) * (size_t)kk * (size_t)nc);
    BPS_CHECK_GOTO(C && u && s && vt, BPS_ERR_MEM, "out of memory (SVD of %d x %d)", m, n);
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nc; j++) C[(size_t)i * nc + j] = A[(size_t)rows[i] * n + cols[j]];
    BPS_CALL_GOTO(bps_lin_dsvd(mr, nc, C, s, u, vt));
    int k = 0;
    while (k < kk && s[k] > E3_TOL * s[0]) k++;
    BPS_CHECK_GOTO(k <= E3_CHI_MAX, BPS_ERR_JOB,
                   "mps: bond dimension %d exceeds the engine's limit %d", k, E3_CHI_MAX);
    if (k > 0) {
      o->k = k;
      o->U = calloc((size_t)m * (size_t)k, sizeof(double));
      o->s = malloc(sizeof(double) * (size_t)k);
      o->VT = calloc((size_t)k * (size_t)n, sizeof(double));
      BPS_CHECK_GOTO(o->U && o->s && o->VT, BPS_ERR_MEM, "out of memory (SVD of %d x %d)", m, n);
      for (int i = 0; i < mr; i++)
        for (int j = 0; j < k; j++) o->U[(size_t)rows[i] * k + j] = u[(size_t)i * kk + j];
      for (int j = 0; j < k; j++) {
        o->s[j] = s[j];
        for (int c = 0; c < nc; c++) o->VT[(size_t)j * n + cols[c]] = vt[(size_t)j * nc + c];
      }
    }
  }
cleanup:
  free(rows);
  free(cols);
  free(cnz);
  free(C);
  free(u);
  free(s);
  free(vt);
  if (rc) svd_free(o);
  return rc;
}

/* ---------------------------------------------------------------- sparse site maps */

typedef struct {
  int dim, nnz;
  int *out, *in;
  double *v;
} smap;

static void smap_free(smap *s) {
  free(s->out);
  free(s->in);
  free(s->v);
  memset(s, 0, sizeof *s);
}

static int smap_from_dense(int dim, const double *H, smap *s) {
  memset(s, 0, sizeof *s);
  int rc = BPS_OK;
  s->dim = dim;
  size_t nnz = 0;
  for (size_t i = 0; i < (size_t)dim * (size_t)dim; i++) nnz += H[i] != 0.0;
  s->out = malloc(sizeof(int) * (nnz ? nnz : 1));
  s->in = malloc(sizeof(int) * (nnz ? nnz : 1));
  s->v = malloc(sizeof(double) * (nnz ? nnz : 1));
  BPS_CHECK_GOTO(s->out && s->in && s->v, BPS_ERR_MEM, "out of memory (site map)");
  for (int o = 0; o < dim; o++)
    for (int i = 0; i < dim; i++)
      if (H[(size_t)o * dim + i] != 0.0) {
        s->out[s->nnz] = o;
        s->in[s->nnz] = i;
        s->v[s->nnz++] = H[(size_t)o * dim + i];
      }
cleanup:
  if (rc) smap_free(s); /* a failed map owns nothing */
  return rc;
}

/* Y[l][out][r] = sum H[out][in] X[l][in][r] for a map in op-site order: flip exchanges the
 * two sites of a 256-dimensional map (the op's wire 0 sits on the right), transpose applies
 * H^T (the Schroedinger direction). */
static void smap_apply(const smap *H, int flip, int transpose, int L, int R, const double *X,
                       double *Y) {
  const int dim = H->dim;
  memset(Y, 0, sizeof(double) * (size_t)L * (size_t)dim * (size_t)R);
  for (int e = 0; e < H->nnz; e++) {
    int o = H->out[e], i = H->in[e];
    if (flip) o = ((o & 15) << 4) | (o >> 4), i = ((i & 15) << 4) | (i >> 4);
    if (transpose) {
      const int t = o;
      o = i;
      i = t;
    }
    const double v = H->v[e];
    for (int l = 0; l < L; l++) {
      const double *x = X + ((size_t)l * dim + (size_t)i) * (size_t)R;
      double *y = Y + ((size_t)l * dim + (size_t)o) * (size_t)R;
      for (int r = 0; r < R; r++) y[r] += v * x[r];
    }
  }
}

/* ---------------------------------------------------------------- two-copy maps of ops */

/* i G Q for anticommuting strings G, Q (k letters): letters out, sign returned. */
static double tilde(int k, const int *G, const int *Q, int *out) {
  int ph = 1;
  for (int u = 0; u < k; u++) {
    int p;
    out[u] = mom_pmul(G[u], Q[u], &p);
    ph += p;
  }
  return (ph & 3) == 0 ? 1.0 : -1.0;
}

static int pair_code(int k, const int *A, const int *B) {
  int c = 0;
  for (int u = 0; u < k; u++) c = 16 * c + 4 * A[u] + B[u];
  return c;
}

/* H += wt x (Heisenberg two-copy map of exp(-i s theta G), averaged over the angle in mode
 * 0, differentiated on copy 1 (mode 1) or both copies (mode 2)): the rules of moments.md
 * Sec. 2 with the moment table mom[a][m] = E[(2s)^a e^{i m phi}] (as pauli.c's rot_pair). */
static void rot_map(int k, const int *G, const double complex mom[3][3], int mode, double wt,
                    double *H) {
  const int dim = 1 << (4 * k);
  const double c1 = creal(mom[0][1]), s1 = cimag(mom[0][1]);
  const double c2 = creal(mom[0][2]), s2 = cimag(mom[0][2]);
  for (int in = 0; in < dim; in++) {
    int a[2], b[2], ta[2] = {0, 0}, tb[2] = {0, 0}, aa = 0, ab = 0;
    for (int u = 0; u < k; u++) {
      const int code = (in >> (4 * (k - 1 - u))) & 15;
      a[u] = code >> 2;
      b[u] = code & 3;
      aa ^= mom_anti(G[u], a[u]);
      ab ^= mom_anti(G[u], b[u]);
    }
    const double sa = aa ? tilde(k, G, a, ta) : 0, sb = ab ? tilde(k, G, b, tb) : 0;
#define EM(A, B, v) H[(size_t)pair_code(k, A, B) * dim + in] += wt * (v)
    if (mode == 0) {
      if (!aa && !ab) {
        EM(a, b, 1.0);
      } else if (aa && !ab) {
        EM(a, b, c1);
        EM(ta, b, s1 * sa);
      } else if (!aa) {
        EM(a, b, c1);
        EM(a, tb, s1 * sb);
      } else {
        EM(a, b, 0.5 * (1.0 + c2));
        EM(a, tb, 0.5 * s2 * sb);
        EM(ta, b, 0.5 * s2 * sa);
        EM(ta, tb, 0.5 * (1.0 - c2) * sa * sb);
      }
    } else if (mode == 1) {
      if (!aa) continue;
      const double d1c = creal(mom[1][1]), d1s = cimag(mom[1][1]);
      const double d0c = creal(mom[1][0]), d2c = creal(mom[1][2]), d2s = cimag(mom[1][2]);
      if (!ab) {
        EM(a, b, -d1s);
        EM(ta, b, d1c * sa);
      } else {
        EM(a, b, -0.5 * d2s);
        EM(a, tb, -0.5 * (d0c - d2c) * sb);
        EM(ta, b, 0.5 * (d0c + d2c) * sa);
        EM(ta, tb, 0.5 * d2s * sa * sb);
      }
    } else {
      if (!aa || !ab) continue;
      const double e0 = creal(mom[2][0]), e2c = creal(mom[2][2]), e2s = cimag(mom[2][2]);
      EM(a, b, 0.5 * (e0 - e2c));
      EM(a, tb, -0.5 * e2s * sb);
      EM(ta, b, -0.5 * e2s * sa);
      EM(ta, tb, 0.5 * (e0 + e2c) * sa * sb);
    }
#undef EM
  }
}

/* Two copies of a Heisenberg Pauli transfer matrix R (k qubits): H[(C,D)][(A,B)] = R[A][C]
 * R[B][D], A, B, C, D the copy-1 / copy-2 strings (qubit 0 the most significant letter). */
static void ptm_map(int k, const double *R, double *H) {
  const int dim = 1 << (4 * k), np = 1 << (2 * k);
  for (int in = 0; in < dim; in++) {
    int A = 0, B = 0;
    for (int u = 0; u < k; u++) {
      const int code = (in >> (4 * (k - 1 - u))) & 15;
      A = 4 * A + (code >> 2);
      B = 4 * B + (code & 3);
    }
    for (int C = 0; C < np; C++) {
      const double ra = R[(size_t)A * np + C];
      if (ra == 0.0) continue;
      for (int D = 0; D < np; D++) {
        const double rb = R[(size_t)B * np + D];
        if (rb == 0.0) continue;
        int out = 0;
        for (int u = 0; u < k; u++) {
          const int sh = 2 * (k - 1 - u);
          out = 16 * out + 4 * ((C >> sh) & 3) + ((D >> sh) & 3);
        }
        H[(size_t)out * dim + in] += ra * rb;
      }
    }
  }
}

/* Wires and width of the map of op o (a random Pauli string acts on its ensemble support). */
static int op_width(const mom_op *o, const int **w) {
  const bps_op *op = o->op;
  if (op->kind == BPS_OP_PROT && op->ens == BPS_ENS_PAULI) {
    *w = o->ewire;
    return op->ens_k;
  }
  *w = o->wire;
  return op->k;
}

/* The sparse Heisenberg two-copy map of a PROT, fixed UNITARY or KRAUS op (k <= 2). */
static int op_map(const mom_op *o, int mode, smap *out) {
  const bps_op *op = o->op;
  const int *w;
  const int k = op_width(o, &w), dim = 1 << (4 * k);
  int rc = BPS_OK;
  double *H = calloc((size_t)dim * (size_t)dim, sizeof(double));
  BPS_CHECK_GOTO(H, BPS_ERR_MEM, "out of memory (site map)");
  if (op->kind == BPS_OP_PROT) {
    int G[2];
    if (op->ens == BPS_ENS_AXIS) {
      for (int g = 1; g <= 3; g++) rot_map(1, &g, o->mom, mode, 1.0 / 3.0, H);
    } else if (op->ens == BPS_ENS_PAULI) {
      const int ns = (1 << (2 * k)) - 1;
      for (int s = 1; s <= ns; s++) {
        for (int u = 0; u < k; u++) G[u] = (s >> (2 * (k - 1 - u))) & 3;
        rot_map(k, G, o->mom, mode, 1.0 / (double)ns, H);
      }
    } else {
      for (int u = 0; u < k; u++) G[u] = mom_letter(op->pauli[u]);
      rot_map(k, G, o->mom, mode, 1.0, H);
    }
  } else {
    ptm_map(k, o->ptm, H);
  }
  BPS_CALL_GOTO(smap_from_dense(dim, H, out));
cleanup:
  free(H);
  return rc;
}

/* ---------------------------------------------------------------- steps */

typedef enum { S_OP1, S_OP2, S_REL, S_XPOS, S_APPEND, S_TRACE, S_DEPOL } e3_skind;

typedef struct {
  e3_skind kind;
  int op;   /* the op (-1 for XPOS) */
  int p;    /* OP1 position, OP2 / XPOS left position, REL first position */
  int p2;   /* REL second position */
  int flip; /* OP2: the op's wire 0 is on the right */
  int k;    /* APPEND, TRACE, DEPOL: number of sites */
  int *pos; /* TRACE: ascending positions (layout before), DEPOL: positions */
  int *wires;
} e3_step;

typedef struct e3_table e3_table;
struct e3_table {
  e3_table *next;
  int mode;
  mom_prod in; /* the key: copies of the pass's input and observable */
  mom_obs obs;
  long double *val; /* [nparams] */
  int bond;
};

typedef struct {
  int nsteps, cap;
  e3_step *steps;
  int n0, nT, nmax;
  int *layT;   /* final layout (wires) */
  int *outpos; /* [nwires] output register index of a wire (-1: none) */
  int *pstep;  /* [nparams] step of each parameter's rotation (-1: unused) */
  smap *map0;  /* [cap_ops] averaged maps of OP1/OP2 ops */
  int cap_ops;
  smap swap;        /* the transposition of two sites */
  int chi_est;      /* estimated largest bond dimension */
  double flops;     /* estimated time of a gradient table's two sweeps (ns) */
  double tensors;   /* estimated doubles of the tensors a table's snapshots keep */
  e3_table *tables; /* gradient tables, built lazily under a critical section */
} e3_state;

static void steps_free(e3_state *st) {
  for (int s = 0; s < st->nsteps; s++) {
    free(st->steps[s].pos);
    free(st->steps[s].wires);
  }
  free(st->steps);
  st->steps = NULL;
  st->nsteps = st->cap = 0;
}

static int add_step(e3_state *st, e3_step s) {
  if (st->nsteps == st->cap) {
    const int nc = st->cap ? 2 * st->cap : 256;
    e3_step *t = realloc(st->steps, sizeof(e3_step) * (size_t)nc);
    BPS_CHECK(t, BPS_ERR_MEM, "out of memory (%d steps)", nc);
    st->steps = t;
    st->cap = nc;
  }
  st->steps[st->nsteps++] = s;
  return BPS_OK;
}

static int is_swap(const mom_op *o) {
  if (o->op->kind != BPS_OP_UNITARY || o->op->k != 2 || !o->ptm) return 0;
  for (int P = 0; P < 16; P++)
    for (int Q = 0; Q < 16; Q++)
      if (o->ptm[P * 16 + Q] != (Q == ((P & 3) << 2 | P >> 2) ? 1.0 : 0.0)) return 0;
  return 1;
}

/* The layout walk (wire at each position) with a rough bond estimate: every cut counts
 * log2 of the operator-Schmidt growth of what crossed it (2 per two-qubit map, 4 per
 * transposition), capped by the sites on either side (16 per site). */
typedef struct {
  int n, *lay, *cut; /* cut[i]: between positions i and i + 1 */
  int lg_max;
  double flops, tensors; /* time (ns) and doubles of the new tensors of the steps so far */
} walk;

static int pos_of(const walk *w, int wire) {
  for (int i = 0; i < w->n; i++)
    if (w->lay[i] == wire) return i;
  return -1;
}

static void walk_cross(walk *w, int p, int lg) {
  w->cut[p] += lg;
  int c = w->cut[p], side = 4 * (p + 1 < w->n - p - 1 ? p + 1 : w->n - p - 1);
  if (c > side) c = side;
  if (c > w->lg_max) w->lg_max = c;
  const double chi = ldexp(1.0, c);
  w->flops += E3_FLOPS * chi * chi * chi; /* theta, map and SVD of a two-site update */
  w->tensors += 3.0 * 16.0 * chi * chi;   /* two new tensors and a centre move */
}

/* Bring wire b next to wire a by transpositions (steps XPOS). */
static int adjacent(e3_state *st, walk *w, int a, int b) {
  int pa = pos_of(w, a), pb = pos_of(w, b);
  while (pb > pa + 1 || pb < pa - 1) {
    const int p = pb > pa ? pb - 1 : pb; /* swap positions p, p + 1 */
    e3_step s = {S_XPOS, -1, p, 0, 0, 0, NULL, NULL};
    BPS_CALL(add_step(st, s));
    const int t = w->lay[p];
    w->lay[p] = w->lay[p + 1];
    w->lay[p + 1] = t;
    walk_cross(w, p, 4);
    pb += pb > pa ? -1 : 1;
  }
  return BPS_OK;
}

/* Reason for refusing op o, or NULL. */
static const char *refusal(const mom_op *o) {
  const bps_op *op = o->op;
  const int *w;
  if (op->kind == BPS_OP_UNITARY && op->ens == BPS_ENS_HAAR)
    return "mps: Haar blocks are averaged by the chain engine, not by site maps";
  if ((op->kind == BPS_OP_UNITARY || op->kind == BPS_OP_KRAUS) && !o->ptm)
    return "mps: fixed gates and channels on more than 2 qubits";
  if (op->kind == BPS_OP_PROT && op_width(o, &w) > 2)
    return "mps: rotations on more than 2 qubits (random Pauli strings of a perceptron)";
  return NULL;
}

/* A TRACE or DEPOL step: its sites' positions (ascending) and wires; a trace removes them. */
static int step_sites(e3_state *st, walk *w, const mom_op *o, int i) {
  const bps_op *op = o->op;
  int rc = BPS_OK;
  e3_step s = {op->kind == BPS_OP_TRACE ? S_TRACE : S_DEPOL, i, 0, 0, 0, op->k, NULL, NULL};
  s.pos = malloc(sizeof(int) * (size_t)op->k);
  s.wires = malloc(sizeof(int) * (size_t)op->k);
  BPS_CHECK_GOTO(s.pos && s.wires, BPS_ERR_MEM, "out of memory");
  for (int u = 0; u < op->k; u++) s.pos[u] = pos_of(w, o->wire[u]);
  for (int u = 1; u < op->k; u++) /* ascending (insertion sort; k is small) */
    for (int v = u; v > 0 && s.pos[v - 1] > s.pos[v]; v--) {
      const int t = s.pos[v];
      s.pos[v] = s.pos[v - 1];
      s.pos[v - 1] = t;
    }
  for (int u = 0; u < op->k; u++) s.wires[u] = w->lay[s.pos[u]];
  if (s.kind == S_TRACE)
    for (int u = op->k - 1; u >= 0; u--) { /* remove; the merged cut keeps the larger count */
      const int p = s.pos[u];
      if (p > 0 && p < w->n - 1 && w->cut[p] > w->cut[p - 1]) w->cut[p - 1] = w->cut[p];
      memmove(w->lay + p, w->lay + p + 1, sizeof(int) * (size_t)(w->n - p - 1));
      if (p < w->n - 1)
        memmove(w->cut + p, w->cut + p + 1, sizeof(int) * (size_t)(w->n - p - 2));
      w->n--;
    }
  BPS_CALL_GOTO(add_step(st, s));
  s.pos = s.wires = NULL; /* owned by the step list */
cleanup:
  free(s.pos);
  free(s.wires);
  return rc;
}

static int step_op(e3_state *st, walk *w, const mom_prob *P, int i) {
  const mom_op *o = &P->ops[i];
  const bps_op *op = o->op;
  e3_step s = {S_OP1, i, 0, 0, 0, 0, NULL, NULL};
  if (op->kind == BPS_OP_APPEND) {
    s.kind = S_APPEND;
    s.k = op->k;
    s.p = w->n;
    for (int u = 0; u < op->k; u++) {
      if (w->n > 0) w->cut[w->n - 1] = 0; /* the new cut in front of the new site */
      w->lay[w->n++] = o->wire[u];
    }
    return add_step(st, s);
  }
  if (op->kind == BPS_OP_TRACE || op->kind == BPS_OP_DEPOL) {
    BPS_CALL(step_sites(st, w, o, i));
    return BPS_OK;
  }
  const int *wr;
  const int k = op_width(o, &wr);
  if (k == 1) {
    s.p = pos_of(w, wr[0]);
    return add_step(st, s);
  }
  if (is_swap(o)) {
    s.kind = S_REL;
    s.p = pos_of(w, wr[0]);
    s.p2 = pos_of(w, wr[1]);
    w->lay[s.p] = wr[1];
    w->lay[s.p2] = wr[0];
    return add_step(st, s);
  }
  BPS_CALL(adjacent(st, w, wr[0], wr[1]));
  const int p0 = pos_of(w, wr[0]), p1 = pos_of(w, wr[1]);
  s.kind = S_OP2;
  s.p = p0 < p1 ? p0 : p1;
  s.flip = p0 > p1;
  walk_cross(w, s.p, 2);
  return add_step(st, s);
}

/* Steps of the whole circuit, the final layout and the bond estimate; BPS_ERR_JOB with the
 * reason in why for circuits the engine cannot do. */
static int make_steps(const mom_prob *P, e3_state *st, char *why, size_t whylen) {
  why[0] = 0;
  for (int i = 0; i < P->nops; i++) {
    const char *r = refusal(&P->ops[i]);
    if (r) { /* a refusal, not an error: nothing pushed, the reason in why */
      snprintf(why, whylen, "%s (operation %d)", r, i);
      return BPS_ERR_JOB;
    }
  }
  int rc = BPS_OK;
  walk w = {0, NULL, NULL, 0, 0.0, 0.0};
  w.lay = malloc(sizeof(int) * (size_t)(P->q_max + 1));
  w.cut = calloc((size_t)P->q_max + 1, sizeof(int));
  BPS_CHECK_GOTO(w.lay && w.cut, BPS_ERR_MEM, "out of memory (layout of %d qubits)", P->q_max);
  for (int q = 0; q < P->c->q_in; q++) w.lay[w.n++] = P->in_wire[q];
  st->n0 = w.n;
  st->nmax = P->q_max;
  for (int i = 0; i < P->nops; i++) BPS_CALL_GOTO(step_op(st, &w, P, i));
  st->nT = w.n;
  st->layT = malloc(sizeof(int) * (size_t)(w.n ? w.n : 1));
  BPS_CHECK_GOTO(st->layT, BPS_ERR_MEM, "out of memory (layout of %d qubits)", P->q_max);
  memcpy(st->layT, w.lay, sizeof(int) * (size_t)w.n);
  int b0 = 1; /* bond of the observable */
  if (P->data.kind == BPS_OBS_LOCAL) b0 = 4;
  else if (P->data.target == BPS_TARGET_UNITARY) b0 = 2;
  const double chi = fmin(ldexp(1.0, w.lg_max) * b0, 1e30);
  st->chi_est = chi > 1e9 ? 1000000000 : (int)chi;
  st->flops = w.flops * (1.0 + b0 * b0 * b0) + 1e3 * (double)st->nsteps; /* B and F sweeps */
  st->tensors = w.tensors * b0 * b0 + 16.0 * (double)st->nsteps;         /* B's snapshots */
cleanup:
  free(w.lay);
  free(w.cut);
  return rc;
}

/* ---------------------------------------------------------------- MPS operations */

/* Centre c -> c + 1: A_c = U (left-orthonormal), A_{c+1} <- S V^T A_{c+1}. */
static int shift_right(e3_ctx *x, mps *m) {
  const int c = m->center;
  const tens *A = m->t[c], *B = m->t[c + 1];
  svdres o;
  BPS_CALL(svd_trunc(A->l * 16, A->r, A->d, &o));
  if (!o.k) {
    m->zero = 1;
    return BPS_OK;
  }
  int rc = BPS_OK;
  tens *nA = tens_new(x, A->l, o.k), *nB = tens_new(x, o.k, B->r);
  BPS_CHECK_GOTO(nA && nB, BPS_ERR_MEM, "out of memory (MPS tensor)");
  memcpy(nA->d, o.U, sizeof(double) * tens_len(nA));
  for (int j = 0; j < o.k; j++)
    for (int i = 0; i < A->r; i++) o.VT[(size_t)j * A->r + i] *= o.s[j];
  gemm(0, 0, o.k, 16 * B->r, A->r, o.VT, B->d, nB->d);
  if (!normalise(nB, &m->e2)) m->zero = 1;
  mps_set(m, c, nA);
  mps_set(m, c + 1, nB);
  nA = nB = NULL; /* owned by m */
  m->center = c + 1;
cleanup:
  free(nA);
  free(nB);
  svd_free(&o);
  return rc;
}

/* Centre c -> c - 1: A_c = V^T (right-orthonormal), A_{c-1} <- A_{c-1} U S. */
static int shift_left(e3_ctx *x, mps *m) {
  const int c = m->center;
  const tens *A = m->t[c], *B = m->t[c - 1];
  svdres o;
  BPS_CALL(svd_trunc(A->l, 16 * A->r, A->d, &o));
  if (!o.k) {
    m->zero = 1;
    return BPS_OK;
  }
  int rc = BPS_OK;
  tens *nA = tens_new(x, o.k, A->r), *nB = tens_new(x, B->l, o.k);
  BPS_CHECK_GOTO(nA && nB, BPS_ERR_MEM, "out of memory (MPS tensor)");
  memcpy(nA->d, o.VT, sizeof(double) * tens_len(nA));
  for (int i = 0; i < A->l; i++)
    for (int j = 0; j < o.k; j++) o.U[(size_t)i * o.k + j] *= o.s[j];
  gemm(0, 0, B->l * 16, o.k, B->r, B->d, o.U, nB->d);
  if (!normalise(nB, &m->e2)) m->zero = 1;
  mps_set(m, c, nA);
  mps_set(m, c - 1, nB);
  nA = nB = NULL; /* owned by m */
  m->center = c - 1;
cleanup:
  free(nA);
  free(nB);
  svd_free(&o);
  return rc;
}

static int move_center(e3_ctx *x, mps *m, int to) {
  while (!m->zero && m->center < to) BPS_CALL(shift_right(x, m));
  while (!m->zero && m->center > to) BPS_CALL(shift_left(x, m));
  return BPS_OK;
}

/* Canonical form from scratch (centre ends at 0). */
static int canonicalise(e3_ctx *x, mps *m) {
  m->center = 0;
  BPS_CALL(move_center(x, m, m->n - 1));
  BPS_CALL(move_center(x, m, 0));
  return BPS_OK;
}

/* One-site map at position p (transpose: the Schroedinger direction). */
static int apply1(e3_ctx *x, mps *m, int p, const smap *H, int transpose) {
  BPS_CALL(move_center(x, m, p));
  if (m->zero) return BPS_OK;
  const tens *A = m->t[p];
  tens *nA = tens_new(x, A->l, A->r);
  BPS_CHECK(nA, BPS_ERR_MEM, "out of memory (MPS tensor)");
  smap_apply(H, 0, transpose, A->l, A->r, A->d, nA->d);
  if (!normalise(nA, &m->e2)) m->zero = 1;
  mps_set(m, p, nA);
  return BPS_OK;
}

/* Two-site map on positions p, p + 1 (H NULL: identity), split by an SVD; the centre ends on
 * the right site when right, else on the left one. */
static int apply2(e3_ctx *x, mps *m, int p, const smap *H, int flip, int transpose, int right) {
  if (m->center < p) BPS_CALL(move_center(x, m, p));
  if (m->center > p + 1) BPS_CALL(move_center(x, m, p + 1));
  if (m->zero) return BPS_OK;
  const tens *A = m->t[p], *B = m->t[p + 1];
  const int L = A->l, R = B->r;
  const size_t len = (size_t)L * 256 * (size_t)R;
  int rc = BPS_OK;
  tens *nA = NULL, *nB = NULL;
  svdres o;
  memset(&o, 0, sizeof o);
  double *th = malloc(sizeof(double) * len), *t2 = H ? malloc(sizeof(double) * len) : NULL;
  BPS_CHECK_GOTO(th && (t2 || !H), BPS_ERR_MEM, "out of memory (two-site tensor %d x 256 x %d)",
                 L, R);
  gemm(0, 0, L * 16, 16 * R, A->r, A->d, B->d, th);
  if (H) {
    smap_apply(H, flip, transpose, L, R, th, t2);
    free(th);
    th = t2;
    t2 = NULL;
  }
  BPS_CALL_GOTO(svd_trunc(L * 16, 16 * R, th, &o));
  free(th);
  th = NULL;
  if (!o.k) { /* a zero operator: not an error */
    m->zero = 1;
    goto cleanup;
  }
  nA = tens_new(x, L, o.k);
  nB = tens_new(x, o.k, R);
  BPS_CHECK_GOTO(nA && nB, BPS_ERR_MEM, "out of memory (MPS tensor)");
  if (right)
    for (int j = 0; j < o.k; j++)
      for (int i = 0; i < 16 * R; i++) o.VT[(size_t)j * 16 * R + i] *= o.s[j];
  else
    for (int i = 0; i < 16 * L; i++)
      for (int j = 0; j < o.k; j++) o.U[(size_t)i * o.k + j] *= o.s[j];
  memcpy(nA->d, o.U, sizeof(double) * tens_len(nA));
  memcpy(nB->d, o.VT, sizeof(double) * tens_len(nB));
  if (!normalise(right ? nB : nA, &m->e2)) m->zero = 1;
  mps_set(m, p, nA);
  mps_set(m, p + 1, nB);
  nA = nB = NULL; /* owned by m */
  m->center = right ? p + 1 : p;
cleanup:
  free(th);
  free(t2);
  free(nA);
  free(nB);
  svd_free(&o);
  return rc;
}

/* Contract the site at p with the vector v (times 2^eadd) and absorb it into a neighbour. */
static int contract_site(e3_ctx *x, mps *m, int p, const double v[16], int eadd) {
  BPS_CHECK(m->n >= 2, BPS_ERR_INTERNAL, "mps: the register would become empty");
  BPS_CALL(move_center(x, m, p));
  if (m->zero) {
    mps_remove(m, p);
    m->center = 0;
    return BPS_OK;
  }
  const tens *A = m->t[p];
  int rc = BPS_OK;
  double *M = calloc((size_t)A->l * (size_t)A->r, sizeof(double));
  BPS_CHECK_GOTO(M, BPS_ERR_MEM, "out of memory");
  for (int l = 0; l < A->l; l++)
    for (int c = 0; c < 16; c++) {
      if (v[c] == 0.0) continue;
      const double *a = A->d + ((size_t)l * 16 + (size_t)c) * (size_t)A->r;
      for (int r = 0; r < A->r; r++) M[(size_t)l * A->r + r] += v[c] * a[r];
    }
  const int q = p > 0 ? p - 1 : 1;
  const tens *N = m->t[q];
  tens *nN = p > 0 ? tens_new(x, N->l, A->r) : tens_new(x, A->l, N->r);
  BPS_CHECK_GOTO(nN, BPS_ERR_MEM, "out of memory (MPS tensor)");
  if (p > 0) gemm(0, 0, N->l * 16, A->r, N->r, N->d, M, nN->d);
  else gemm(0, 0, A->l, 16 * N->r, A->r, M, N->d, nN->d);
  m->e2 += eadd;
  if (!normalise(nN, &m->e2)) m->zero = 1;
  mps_set(m, q, nN);
  mps_remove(m, p);
  m->center = p > 0 ? p - 1 : 0;
cleanup:
  free(M);
  return rc;
}

/* Insert a product site v on wire `wire` at position p (bond passes through; the unit
 * vector v/|v| keeps the canonical form, |v| goes to the centre). */
static int insert_site(e3_ctx *x, mps *m, int p, int wire, const double v[16]) {
  BPS_CHECK(m->n >= 1, BPS_ERR_INTERNAL, "mps: insertion into an empty register");
  BPS_CALL(mps_make_room(m)); /* first: Z below is then never released by a failure */
  double nv = 0;
  for (int c = 0; c < 16; c++) nv += v[c] * v[c];
  nv = sqrt(nv);
  const int chi = p > 0 ? m->t[p - 1]->r : m->t[0]->l;
  tens *Z = tens_new(x, chi, chi);
  BPS_CHECK(Z, BPS_ERR_MEM, "out of memory (MPS tensor)");
  memset(Z->d, 0, sizeof(double) * tens_len(Z));
  for (int l = 0; l < chi && nv > 0; l++)
    for (int c = 0; c < 16; c++)
      Z->d[((size_t)l * 16 + (size_t)c) * (size_t)chi + (size_t)l] = v[c] / nv;
  memmove(m->t + p + 1, m->t + p, sizeof(tens *) * (size_t)(m->n - p));
  memmove(m->wire + p + 1, m->wire + p, sizeof(int) * (size_t)(m->n - p));
  m->t[p] = Z;
  m->wire[p] = wire;
  m->n++;
  if (m->center >= p && m->n > 1) m->center++;
  if (nv == 0) {
    m->zero = 1;
    return BPS_OK;
  }
  int e;
  if (frexp(nv, &e) == 0.5) { /* a power of two: exact */
    m->e2 += e - 1;
    return BPS_OK;
  }
  const tens *C = m->t[m->center];
  tens *nC = tens_new(x, C->l, C->r);
  BPS_CHECK(nC, BPS_ERR_MEM, "out of memory (MPS tensor)");
  for (size_t i = 0; i < tens_len(C); i++) nC->d[i] = C->d[i] * nv;
  if (!normalise(nC, &m->e2)) m->zero = 1;
  mps_set(m, m->center, nC);
  return BPS_OK;
}

/* Global depolarising with probability pr on the sites pos[0..k) (ascending): the diagonal
 * map (1 - pr) per copy with a non-identity letter on the support, as a flag MPO (flags:
 * copy 1 / copy 2 seen a non-identity letter) of bond 4 over [pos[0], pos[k-1]], then two
 * compression sweeps. */
static int depolarise_site(e3_ctx *x, mps *m, int p, double pr) {
  int rc = BPS_OK;
  double H[256] = {0};
  for (int c = 0; c < 16; c++)
    H[c * 16 + c] = ((c >> 2) ? 1.0 - pr : 1.0) * ((c & 3) ? 1.0 - pr : 1.0);
  smap D;
  BPS_CALL(smap_from_dense(16, H, &D)); /* releases its own arrays when it fails */
  BPS_CALL_GOTO(apply1(x, m, p, &D, 0));
cleanup:
  smap_free(&D);
  return rc;
}
static int depolarise(e3_ctx *x, mps *m, const int *pos, int k, double pr) {
  const int s0 = pos[0], s1 = pos[k - 1];
  if (s0 == s1) {
    BPS_CALL(depolarise_site(x, m, s0, pr));
    return BPS_OK;
  }
  BPS_CALL(move_center(x, m, s0));
  if (m->zero) return BPS_OK;
  int u = 0;
  for (int i = s0; i <= s1; i++) {
    const tens *A = m->t[i];
    const int Fl = i == s0 ? 1 : 4, Fr = i == s1 ? 1 : 4, sup = pos[u] == i;
    if (sup) u++;
    tens *nA = tens_new(x, A->l * Fl, A->r * Fr);
    BPS_CHECK(nA, BPS_ERR_MEM, "out of memory (MPS tensor)");
    memset(nA->d, 0, sizeof(double) * tens_len(nA));
    for (int l = 0; l < A->l; l++)
      for (int f = 0; f < Fl; f++)
        for (int c = 0; c < 16; c++) {
          int fa = f & 1, fb = f >> 1;
          if (sup) fa |= (c >> 2) != 0, fb |= (c & 3) != 0;
          const int g = fa | fb << 1;
          const double wt = i == s1 ? (fa ? 1.0 - pr : 1.0) * (fb ? 1.0 - pr : 1.0) : 1.0;
          const double *a = A->d + ((size_t)l * 16 + (size_t)c) * (size_t)A->r;
          double *b = nA->d + ((size_t)(l * Fl + f) * 16 + (size_t)c) * (size_t)(A->r * Fr);
          for (int r = 0; r < A->r; r++) b[(size_t)r * Fr + (i == s1 ? 0 : g)] = wt * a[r];
        }
    mps_set(m, i, nA);
  }
  BPS_CALL(move_center(x, m, s1)); /* first sweep: the right part is not orthonormal yet */
  BPS_CALL(move_center(x, m, s0)); /* second sweep: Schmidt values, exact truncation */
  return BPS_OK;
}

/* ---------------------------------------------------------------- initial MPS */

/* mant x 2^e = v (long double), mant in [1/2, 1). */
static double split_ld(long double v, long *e) {
  int ei = 0;
  long double f = frexpl(v, &ei);
  *e = ei;
  return (double)f;
}

/* The MPS of the product sum pr (site vector of position i: pr site idx[i], or the
 * identity when idx[i] < 0) on the wires lay[0..n). */
static int init_prod(e3_ctx *x, const mom_prod *pr, const int *lay, const int *idx, int n, mps *m) {
  BPS_CALL(mps_alloc(m, n + 4));
  const int nt = pr->nterm;
  long emax = LONG_MIN, et[MOM_MAXTERM];
  double mant[MOM_MAXTERM];
  for (int t = 0; t < nt; t++) {
    mant[t] = split_ld(pr->coef[t], &et[t]);
    if (mant[t] != 0 && et[t] > emax) emax = et[t];
  }
  if (emax == LONG_MIN) emax = 0;
  for (int t = 0; t < nt; t++) mant[t] = ldexp(mant[t], (int)(et[t] - emax));
  m->e2 = emax;
  double id[16];
  mom_site_identity(id);
  for (int i = 0; i < n; i++) {
    const int l = i == 0 ? 1 : nt, r = i == n - 1 ? 1 : nt;
    tens *A = tens_new(x, l, r);
    BPS_CHECK(A, BPS_ERR_MEM, "out of memory (MPS tensor)");
    memset(A->d, 0, sizeof(double) * tens_len(A));
    for (int t = 0; t < nt; t++) {
      const double *v = idx[i] >= 0 ? mom_site(pr, t, idx[i]) : id;
      const int lt = i == 0 ? 0 : t, rt = i == n - 1 ? 0 : t;
      for (int c = 0; c < 16; c++)
        A->d[((size_t)lt * 16 + (size_t)c) * (size_t)r + (size_t)rt] += v[c] *
                                                                        (i == 0 ? mant[t] : 1.0);
    }
    m->t[i] = A;
    m->wire[i] = lay[i];
    m->n++;
  }
  BPS_CALL(canonicalise(x, m));
  return BPS_OK;
}

/* The marker sum of a local observable: an automaton over the sites (states: no marker,
 * A placed, B placed, both; without B: none, A). */
static int init_local(e3_ctx *x, const mom_obs *o, const int *lay, const int *idx, int n, mps *m) {
  BPS_CALL(mps_alloc(m, n + 4));
  const int S = o->two ? 4 : 2;
  /* transitions (from, to, site role) of a cost site; others keep their state (identity) */
  static const int tr2[9][3] = {{0, 0, 0}, {0, 1, 1}, {0, 2, 2}, {0, 3, 3}, {1, 1, 0},
                                {1, 3, 2}, {2, 2, 0}, {2, 3, 1}, {3, 3, 0}};
  static const int tr1[3][3] = {{0, 0, 0}, {0, 1, 1}, {1, 1, 0}};
  const int ntr = o->two ? 9 : 3;
  long e = 0;
  const double mant = split_ld(o->lcoef, &e);
  m->e2 = e;
  for (int i = 0; i < n; i++) {
    const int l = i == 0 ? 1 : S, r = i == n - 1 ? 1 : S;
    tens *A = tens_new(x, l, r);
    BPS_CHECK(A, BPS_ERR_MEM, "out of memory (MPS tensor)");
    memset(A->d, 0, sizeof(double) * tens_len(A));
    for (int t = 0; t < (idx[i] >= 0 ? ntr : S); t++) {
      const int *T = idx[i] >= 0 ? (o->two ? tr2[t] : tr1[t]) : NULL;
      const int from = T ? T[0] : t, to = T ? T[1] : t, role = T ? T[2] : 0;
      if ((i == 0 && from != 0) || (i == n - 1 && to != S - 1)) continue;
      const int lt = i == 0 ? 0 : from, rt = i == n - 1 ? 0 : to;
      for (int c = 0; c < 16; c++)
        A->d[((size_t)lt * 16 + (size_t)c) * (size_t)r + (size_t)rt] += o->lsite[role][c] *
                                                                        (i == 0 ? mant : 1.0);
    }
    m->t[i] = A;
    m->wire[i] = lay[i];
    m->n++;
  }
  BPS_CALL(canonicalise(x, m));
  return BPS_OK;
}

/* The observable on the final layout (cost qubit of each position, or -1). */
static int init_obs(e3_ctx *x, const mom_prob *P, const e3_state *st, const mom_obs *o, mps *m) {
  int rc = BPS_OK;
  int *idx = malloc(sizeof(int) * (size_t)(st->nT ? st->nT : 1));
  BPS_CHECK_GOTO(idx, BPS_ERR_MEM, "out of memory");
  for (int i = 0; i < st->nT; i++) {
    const int q = st->outpos[st->layT[i]] - o->q0;
    idx[i] = q >= 0 && q < o->nq ? q : -1;
  }
  (void)P;
  if (o->local) BPS_CALL_GOTO(init_local(x, o, st->layT, idx, st->nT, m));
  else BPS_CALL_GOTO(init_prod(x, &o->prod, st->layT, idx, st->nT, m));
cleanup:
  free(idx);
  return rc;
}

/* The input on the initial layout (the input register in order). */
static int init_input(e3_ctx *x, const mom_prob *P, const mom_prod *in, mps *m) {
  const int n = P->c->q_in;
  int rc = BPS_OK;
  int *idx = malloc(sizeof(int) * (size_t)(n ? n : 1));
  BPS_CHECK_GOTO(idx, BPS_ERR_MEM, "out of memory");
  for (int i = 0; i < n; i++) idx[i] = i;
  BPS_CALL_GOTO(init_prod(x, in, P->in_wire, idx, n, m));
cleanup:
  free(idx);
  return rc;
}

/* ---------------------------------------------------------------- steps on an MPS */

/* Where the step after s (in the direction of travel) acts: the side the centre should end on. */
static int next_pos(const e3_state *st, int s, int fwd) {
  const int t = fwd ? s + 1 : s - 1;
  if (t < 0 || t >= st->nsteps) return 0;
  const e3_step *n = &st->steps[t];
  if (n->kind == S_TRACE || n->kind == S_DEPOL) return n->pos[0];
  return n->p;
}

/* Apply step s to m: backwards (Heisenberg, fwd = 0) or forwards (Schroedinger, fwd = 1). */
static int step_apply(e3_ctx *x, const mom_prob *P, const e3_state *st, int s, int fwd, mps *m) {
  const e3_step *sp = &st->steps[s];
  const int right = next_pos(st, s, fwd) > sp->p;
  double v[16];
  if (sp->kind == S_OP1 || sp->kind == S_OP2) { /* the layout walk placed the op's wires here */
    const int *w;
    const int k = op_width(&P->ops[sp->op], &w);
    BPS_CHECK(m->wire[sp->p + (k == 2 && sp->flip)] == w[0] &&
                  (k == 1 || m->wire[sp->p + !sp->flip] == w[1]),
              BPS_ERR_INTERNAL, "mps: layout of step %d", s);
  }
  switch (sp->kind) {
  case S_OP1: BPS_CALL(apply1(x, m, sp->p, &st->map0[sp->op], fwd)); return BPS_OK;
  case S_OP2:
    BPS_CALL(apply2(x, m, sp->p, &st->map0[sp->op], sp->flip, fwd, right));
    return BPS_OK;
  case S_REL: {
    const int t = m->wire[sp->p];
    m->wire[sp->p] = m->wire[sp->p2];
    m->wire[sp->p2] = t;
    return BPS_OK;
  }
  case S_XPOS: {
    BPS_CALL(apply2(x, m, sp->p, &st->swap, 0, 0, right));
    const int t = m->wire[sp->p];
    m->wire[sp->p] = m->wire[sp->p + 1];
    m->wire[sp->p + 1] = t;
    return BPS_OK;
  }
  case S_APPEND:
    if (fwd) { /* |0><0| (x) |0><0| */
      mom_site_zero(v, 2);
      for (int u = 0; u < sp->k; u++)
        BPS_CALL(insert_site(x, m, sp->p + u, P->ops[sp->op].wire[u], v));
    } else { /* <0| . |0> on each copy */
      memset(v, 0, sizeof v);
      v[0] = v[3] = v[12] = v[15] = 1.0;
      for (int u = sp->k - 1; u >= 0; u--) BPS_CALL(contract_site(x, m, sp->p + u, v, 0));
    }
    return BPS_OK;
  case S_TRACE:
    mom_site_identity(v); /* forwards: Tr = 4 x the identity component */
    if (fwd)
      for (int u = sp->k - 1; u >= 0; u--) BPS_CALL(contract_site(x, m, sp->pos[u], v, 2));
    else
      for (int u = 0; u < sp->k; u++) BPS_CALL(insert_site(x, m, sp->pos[u], sp->wires[u], v));
    return BPS_OK;
  case S_DEPOL:
    BPS_CALL(depolarise(x, m, sp->pos, sp->k, P->ops[sp->op].op->scale));
    return BPS_OK;
  }
  BPS_FAIL(BPS_ERR_INTERNAL, "mps: step kind %d", (int)sp->kind);
}

/* <m | in> at the initial layout: sum over the input's terms of the transfer products. */
static int contract_input(const mps *m, const mom_prod *in, long double *out) {
  *out = 0;
  if (m->zero) return BPS_OK;
  int chi = 1;
  for (int i = 0; i < m->n; i++) chi = m->t[i]->r > chi ? m->t[i]->r : chi;
  int rc = BPS_OK;
  double *v = malloc(sizeof(double) * (size_t)chi), *w = malloc(sizeof(double) * (size_t)chi);
  BPS_CHECK_GOTO(v && w, BPS_ERR_MEM, "out of memory");
  long double tot = 0;
  for (int t = 0; t < in->nterm; t++) {
    v[0] = 1.0;
    long e = m->e2;
    for (int i = 0; i < m->n; i++) {
      const tens *A = m->t[i];
      const double *s = mom_site(in, t, i);
      memset(w, 0, sizeof(double) * (size_t)A->r);
      for (int l = 0; l < A->l; l++)
        for (int c = 0; c < 16; c++) {
          const double f = v[l] * s[c];
          if (f == 0.0) continue;
          const double *a = A->d + ((size_t)l * 16 + (size_t)c) * (size_t)A->r;
          for (int r = 0; r < A->r; r++) w[r] += f * a[r];
        }
      double mx = 0;
      for (int r = 0; r < A->r; r++) mx = fmax(mx, fabs(w[r]));
      int ex = 0;
      if (mx > 0) (void)frexp(mx, &ex);
      for (int r = 0; r < A->r; r++) v[r] = ldexp(w[r], -ex);
      e += ex + 2; /* Tr[(s_a s_b)(s_c s_d)] = 4 per site */
    }
    tot += in->coef[t] * ldexpl((long double)v[0], (int)e);
  }
  *out = tot;
cleanup:
  free(v);
  free(w);
  return rc;
}

/* ---------------------------------------------------------------- environments */

/* Left environments L[i] (sites < i) and right environments R[i] (sites >= i) of two MPS on
 * one layout, each a chiB x chiF matrix times 2^e, remembered with the serial numbers of
 * the tensors they were built from: an environment is reused while those are unchanged. */
typedef struct {
  int cap;
  double **L, **R;
  long *Le, *Re;
  uint64_t *Lb, *Lf, *Rb, *Rf; /* ids of site i's tensors in L[i + 1] / R[i] */
  int Lok;                     /* L[0..Lok] built */
  int Rok, Rn;                 /* R[Rok..Rn] built for Rn sites */
} envc;

static int env_alloc(envc *E, int cap) {
  memset(E, 0, sizeof *E);
  E->cap = cap;
  const size_t n = (size_t)cap + 1;
  E->L = calloc(n, sizeof(double *));
  E->R = calloc(n, sizeof(double *));
  E->Le = calloc(n, sizeof(long));
  E->Re = calloc(n, sizeof(long));
  E->Lb = calloc(n, sizeof(uint64_t));
  E->Lf = calloc(n, sizeof(uint64_t));
  E->Rb = calloc(n, sizeof(uint64_t));
  E->Rf = calloc(n, sizeof(uint64_t));
  BPS_CHECK(E->L && E->R && E->Le && E->Re && E->Lb && E->Lf && E->Rb && E->Rf, BPS_ERR_MEM,
            "out of memory (environments)");
  E->Rn = -1;
  return BPS_OK;
}

static void env_free(envc *E) {
  for (int i = 0; i <= E->cap; i++) { /* NULL-safe: env_alloc may have failed half-way */
    if (E->L) free(E->L[i]);
    if (E->R) free(E->R[i]);
  }
  free(E->L);
  free(E->R);
  free(E->Le);
  free(E->Re);
  free(E->Lb);
  free(E->Lf);
  free(E->Rb);
  free(E->Rf);
  memset(E, 0, sizeof *E);
}

/* Rescale the n numbers a by a power of two (the exponent into *e), plus the site factor 4^s. */
static void env_norm(double *a, size_t n, long *e, int sites) {
  double mx = 0;
  for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(a[i]));
  int ex = 0;
  if (mx > 0) (void)frexp(mx, &ex);
  if (ex)
    for (size_t i = 0; i < n; i++) a[i] = ldexp(a[i], -ex);
  *e += ex + 2L * sites;
}

/* out (B->r x F->r) = sum L[b][f] B[b][c][b'] F[f][c][f'] (one site, no factor 4). */
static int transfer_left(const double *L, const tens *B, const tens *F, double *out) {
  double *T = malloc(sizeof(double) * (size_t)B->l * 16 * (size_t)F->r);
  BPS_CHECK(T, BPS_ERR_MEM, "out of memory (environment)");
  gemm(0, 0, B->l, 16 * F->r, F->l, L, F->d, T);   /* T[b][c f'] */
  gemm(1, 0, B->r, F->r, B->l * 16, B->d, T, out); /* B^T (b c, b') x T (b c, f') */
  free(T);
  return BPS_OK;
}

/* out (B->l x F->l) = sum B[b][c][b'] F[f][c][f'] R[b'][f']. */
static int transfer_right(const tens *B, const tens *F, const double *R, double *out) {
  double *T = malloc(sizeof(double) * (size_t)F->l * 16 * (size_t)B->r);
  BPS_CHECK(T, BPS_ERR_MEM, "out of memory (environment)");
  gemm(0, 1, F->l * 16, B->r, F->r, F->d, R, T);   /* T[f c][b'] = F (f c, f') R^T */
  gemm(0, 1, B->l, F->l, 16 * B->r, B->d, T, out); /* B (b, c b') x T^T (c b', f) */
  free(T);
  return BPS_OK;
}

/* Make L[p] and R[p + w] valid for the MPS pair (B, F) (same layout, n sites). */
static int env_prepare(envc *E, const mps *B, const mps *F, int p, int w) {
  const int n = F->n;
  BPS_CHECK(n <= E->cap, BPS_ERR_INTERNAL, "mps: environment capacity");
  if (!E->L[0]) {
    E->L[0] = malloc(sizeof(double));
    BPS_CHECK(E->L[0], BPS_ERR_MEM, "out of memory");
    E->L[0][0] = 1.0;
    E->Le[0] = 0;
  }
  int i = 0;
  while (i < E->Lok && i < p && E->Lb[i] == B->t[i]->id && E->Lf[i] == F->t[i]->id) i++;
  if (i < p) E->Lok = i;
  for (; i < p; i++) {
    free(E->L[i + 1]);
    E->L[i + 1] = malloc(sizeof(double) * (size_t)B->t[i]->r * (size_t)F->t[i]->r);
    BPS_CHECK(E->L[i + 1], BPS_ERR_MEM, "out of memory (environment)");
    BPS_CALL(transfer_left(E->L[i], B->t[i], F->t[i], E->L[i + 1]));
    E->Le[i + 1] = E->Le[i];
    env_norm(E->L[i + 1], (size_t)B->t[i]->r * (size_t)F->t[i]->r, &E->Le[i + 1], 1);
    E->Lb[i] = B->t[i]->id;
    E->Lf[i] = F->t[i]->id;
    E->Lok = i + 1;
  }
  if (E->Rn != n) {
    E->Rn = n;
    E->Rok = n;
    free(E->R[n]);
    E->R[n] = malloc(sizeof(double));
    BPS_CHECK(E->R[n], BPS_ERR_MEM, "out of memory");
    E->R[n][0] = 1.0;
    E->Re[n] = 0;
  }
  int j = n;
  while (j > E->Rok && j > p + w && E->Rb[j - 1] == B->t[j - 1]->id &&
         E->Rf[j - 1] == F->t[j - 1]->id)
    j--;
  if (j > p + w) E->Rok = j;
  for (; j > p + w; j--) {
    const tens *b = B->t[j - 1], *f = F->t[j - 1];
    free(E->R[j - 1]);
    E->R[j - 1] = malloc(sizeof(double) * (size_t)b->l * (size_t)f->l);
    BPS_CHECK(E->R[j - 1], BPS_ERR_MEM, "out of memory (environment)");
    BPS_CALL(transfer_right(b, f, E->R[j], E->R[j - 1]));
    E->Re[j - 1] = E->Re[j];
    env_norm(E->R[j - 1], (size_t)b->l * (size_t)f->l, &E->Re[j - 1], 1);
    E->Rb[j - 1] = b->id;
    E->Rf[j - 1] = f->id;
    E->Rok = j - 1;
  }
  return BPS_OK;
}

/* ---------------------------------------------------------------- derivative tables */

/* <D B | F> for the derivative map D of step s's rotation (B, F: the observable just after
 * and the state just before it, on one layout). */
static int overlap(const mom_prob *P, const e3_state *st, int s, int mode, const mps *B,
                   const mps *F, envc *E, long double *out) {
  *out = 0;
  if (B->zero || F->zero) return BPS_OK;
  BPS_CHECK(B->n == F->n, BPS_ERR_INTERNAL, "mps: layouts differ (%d and %d sites)", B->n, F->n);
  for (int i = 0; i < B->n; i++)
    BPS_CHECK(B->wire[i] == F->wire[i], BPS_ERR_INTERNAL, "mps: layouts differ at site %d", i);
  const e3_step *sp = &st->steps[s];
  const int p = sp->p, w = sp->kind == S_OP2 ? 2 : 1;
  BPS_CALL(env_prepare(E, B, F, p, w));
  smap D;
  BPS_CALL(op_map(&P->ops[sp->op], mode, &D));
  const tens *b0 = B->t[p], *f0 = F->t[p], *b1 = B->t[p + w - 1], *f1 = F->t[p + w - 1];
  const int dim = w == 2 ? 256 : 16, bl = b0->l, br = b1->r, fl = f0->l, fr = f1->r;
  const size_t lb = (size_t)bl * dim * br, lf = (size_t)fl * dim * fr;
  int rc = BPS_OK;
  double *tb = malloc(sizeof(double) * lb), *db = malloc(sizeof(double) * lb),
         *tf = malloc(sizeof(double) * lf), *T = malloc(sizeof(double) * (size_t)bl * dim * fr),
         *M = malloc(sizeof(double) * (size_t)br * fr);
  BPS_CHECK_GOTO(tb && db && tf && T && M, BPS_ERR_MEM, "out of memory (overlap)");
  if (w == 2) {
    gemm(0, 0, bl * 16, 16 * br, b0->r, b0->d, b1->d, tb);
    gemm(0, 0, fl * 16, 16 * fr, f0->r, f0->d, f1->d, tf);
  } else {
    memcpy(tb, b0->d, sizeof(double) * lb);
    memcpy(tf, f0->d, sizeof(double) * lf);
  }
  smap_apply(&D, sp->flip, 0, bl, br, tb, db);
  gemm(0, 0, bl, dim * fr, fl, E->L[p], tf, T); /* T[b][c f'] */
  gemm(1, 0, br, fr, bl * dim, db, T, M);       /* M[b'][f'] */
  const double *R = E->R[p + w];
  long double v = 0;
  for (size_t i = 0; i < (size_t)br * fr; i++) v += (long double)M[i] * R[i];
  const long e = E->Le[p] + E->Re[p + w] + B->e2 + F->e2 + 2L * w;
  *out = ldexpl(v, (int)e);
cleanup:
  smap_free(&D);
  free(tb);
  free(db);
  free(tf);
  free(T);
  free(M);
  return rc;
}

/* The parameter whose rotation is step s (-1: none). */
static int step_param(const mom_prob *P, const e3_state *st, int s) {
  const e3_step *sp = &st->steps[s];
  if (sp->kind != S_OP1 && sp->kind != S_OP2) return -1;
  const bps_op *op = P->ops[sp->op].op;
  if (op->kind != BPS_OP_PROT || op->param < 0 || op->param >= P->nparams) return -1;
  return st->pstep[op->param] == s ? op->param : -1;
}

/* Every parameter's <D_p B_p | F_p>: a backward sweep storing snapshots, a forward sweep
 * contracting them (see the top of the file). */
static int build_table(const mom_prob *P, const e3_state *st, const mom_prod *in,
                       const mom_obs *obs, int mode, e3_table *tb) {
  e3_ctx x = {0, 0};
  int rc = BPS_OK;
  mps B, F;
  envc E;
  memset(&B, 0, sizeof B);
  memset(&F, 0, sizeof F);
  memset(&E, 0, sizeof E);
  mps *snap = calloc((size_t)(P->nparams ? P->nparams : 1), sizeof(mps));
  BPS_CHECK_GOTO(snap, BPS_ERR_MEM, "out of memory (mps gradient table)");
  /* the sweeps run between the first and the last parameterised step only */
  int first = st->nsteps, last = -1;
  for (int p = 0; p < P->nparams; p++)
    if (st->pstep[p] >= 0) {
      first = st->pstep[p] < first ? st->pstep[p] : first;
      last = st->pstep[p] > last ? st->pstep[p] : last;
    }
  BPS_CALL_GOTO(init_obs(&x, P, st, obs, &B));
  for (int s = st->nsteps - 1; s >= first; s--) {
    const int p = step_param(P, st, s);
    if (p >= 0) BPS_CALL_GOTO(mps_snap(&B, &snap[p]));
    if (s > first) BPS_CALL_GOTO(step_apply(&x, P, st, s, 0, &B));
  }
  mps_free(&B);
  BPS_CALL_GOTO(init_input(&x, P, in, &F));
  BPS_CALL_GOTO(env_alloc(&E, st->nmax + 1));
  for (int s = 0; s <= last; s++) {
    const int p = step_param(P, st, s);
    if (p >= 0) {
      BPS_CALL_GOTO(overlap(P, st, s, mode, &snap[p], &F, &E, &tb->val[p]));
      mps_free(&snap[p]);
    }
    if (s < last) BPS_CALL_GOTO(step_apply(&x, P, st, s, 1, &F));
  }
cleanup:
  mps_free(&B);
  mps_free(&F);
  env_free(&E);
  for (int p = 0; snap && p < P->nparams; p++) mps_free(&snap[p]);
  free(snap);
  tb->bond = x.chi_max;
  return rc;
}

static int prod_copy(const mom_prod *a, mom_prod *b) {
  *b = *a;
  b->site = NULL;
  if (!a->site) return BPS_OK;
  const size_t n = (size_t)a->nterm * (size_t)(a->nq ? a->nq : 1) * 16;
  b->site = malloc(sizeof(double) * n);
  BPS_CHECK(b->site, BPS_ERR_MEM, "out of memory");
  memcpy(b->site, a->site, sizeof(double) * n);
  return BPS_OK;
}

static int prod_eq(const mom_prod *a, const mom_prod *b) {
  if (a->nq != b->nq || a->nterm != b->nterm || !a->site != !b->site) return 0;
  for (int t = 0; t < a->nterm; t++)
    if (a->coef[t] != b->coef[t]) return 0;
  return !a->site || !memcmp(a->site, b->site,
                             sizeof(double) * (size_t)a->nterm * (size_t)(a->nq ? a->nq : 1) * 16);
}

static int obs_eq(const mom_obs *a, const mom_obs *b) {
  return a->q0 == b->q0 && a->nq == b->nq && a->local == b->local && a->two == b->two &&
         a->lcoef == b->lcoef && !memcmp(a->lsite, b->lsite, sizeof a->lsite) &&
         prod_eq(&a->prod, &b->prod);
}

static void table_free(e3_table *t) {
  mom_prod_free(&t->in);
  mom_prod_free(&t->obs.prod);
  free(t->val);
  free(t);
}

/* A new table of (in, obs, mode), built (*out NULL on failure). */
static int table_new(const mom_prob *P, const e3_state *st, const mom_prod *in,
                     const mom_obs *obs, int mode, e3_table **out) {
  int rc = BPS_OK;
  *out = NULL;
  e3_table *t = calloc(1, sizeof *t);
  BPS_CHECK_GOTO(t, BPS_ERR_MEM, "out of memory (mps gradient table)");
  t->mode = mode;
  t->obs = *obs;
  t->obs.prod.site = NULL;
  t->val = calloc((size_t)(P->nparams ? P->nparams : 1), sizeof(long double));
  BPS_CHECK_GOTO(t->val, BPS_ERR_MEM, "out of memory (mps gradient table)");
  BPS_CALL_GOTO(prod_copy(in, &t->in));
  BPS_CALL_GOTO(prod_copy(&obs->prod, &t->obs.prod));
  BPS_CALL_GOTO(build_table(P, st, in, obs, mode, t));
  *out = t;
  t = NULL; /* ownership handed to the caller */
cleanup:
  if (t) table_free(t);
  return rc;
}

/* The table of (in, obs, mode), built on first use. The list only grows, under a critical
 * section (one build at a time; a later reader sees a finished table). */
static int table_get(const mom_prob *P, const e3_state *cst, const mom_prod *in,
                     const mom_obs *obs, int mode, const e3_table **out) {
  e3_state *st = (e3_state *)cst; /* the table cache is the state's only mutable part */
  int rc = BPS_OK;
  const e3_table *found = NULL;
#pragma omp critical(bps_mps_tables)
  { /* no jump out of a critical region: the code is kept in rc */
    for (const e3_table *t = st->tables; t && !found; t = t->next)
      if (t->mode == mode && prod_eq(&t->in, in) && obs_eq(&t->obs, obs)) found = t;
    if (!found) {
      e3_table *t = NULL;
      rc = table_new(P, st, in, obs, mode, &t);
      if (!rc) {
        t->next = st->tables;
        st->tables = t;
        found = t;
      }
    }
  }
  BPS_CALL(rc);
  *out = found;
  return BPS_OK;
}

/* ---------------------------------------------------------------- the engine */

static void e3_release(void *vst) {
  e3_state *st = vst;
  if (!st) return;
  steps_free(st);
  free(st->layT);
  free(st->outpos);
  free(st->pstep);
  if (st->map0)
    for (int i = 0; i < st->cap_ops; i++) smap_free(&st->map0[i]);
  free(st->map0);
  smap_free(&st->swap);
  while (st->tables) {
    e3_table *t = st->tables;
    st->tables = t->next;
    table_free(t);
  }
  free(st);
}

/* Memory of one gradient table: the snapshots' tensors (three new tensors per two-site step
 * at the bond estimated for that cut and time), their site lists, the environments and the
 * largest two-site SVD. */
static double e3_bytes(const mom_prob *P, const e3_state *st) {
  const double chi = st->chi_est;
  return 8.0 * st->tensors + 12.0 * P->nparams * st->nmax + 2.0 * st->nmax * chi * chi * 8.0 +
         4.0 * 256.0 * chi * chi * 8.0;
}

static int e3_prepare(const mom_prob *P, const bps_mom_opts *o, void **out) {
  BPS_CHECK(!o || o->pair_budget <= 0, BPS_ERR_JOB,
            "[moments] truncation applies to the Pauli-pair engine only (the mps engine is "
            "exact)");
  int rc = BPS_OK;
  double *H = NULL;
  char why[256];
  e3_state *st = calloc(1, sizeof *st);
  BPS_CHECK_GOTO(st, BPS_ERR_MEM, "out of memory");
  const int made = make_steps(P, st, why, sizeof why);
  if (made == BPS_ERR_JOB) BPS_FAIL_GOTO(BPS_ERR_JOB, "%s", why); /* a refusal: its reason */
  BPS_CALL_GOTO(made);
  BPS_CHECK_GOTO(st->chi_est <= E3_CHI_MAX, BPS_ERR_JOB,
                 "mps: the estimated bond dimension %d exceeds the engine's limit %d "
                 "(too many two-qubit gates cross one cut of the qubit line)",
                 st->chi_est, E3_CHI_MAX);
  BPS_CHECK_GOTO(!(o && o->max_bytes > 0 && e3_bytes(P, st) > (double)o->max_bytes), BPS_ERR_JOB,
                 "mps: needs about %.3g bytes, more than the %.3g allowed", e3_bytes(P, st),
                 (double)o->max_bytes);
  st->cap_ops = P->nops;
  st->map0 = calloc((size_t)(P->nops ? P->nops : 1), sizeof(smap));
  st->outpos = malloc(sizeof(int) * (size_t)(P->nwires ? P->nwires : 1));
  st->pstep = malloc(sizeof(int) * (size_t)(P->nparams ? P->nparams : 1));
  BPS_CHECK_GOTO(st->map0 && st->outpos && st->pstep, BPS_ERR_MEM, "out of memory (mps engine)");
  for (int w = 0; w < P->nwires; w++) st->outpos[w] = -1;
  for (int q = 0; q < P->c->q_out; q++) st->outpos[P->out_wire[q]] = q;
  for (int p = 0; p < P->nparams; p++) st->pstep[p] = -1;
  for (int s = 0; s < st->nsteps; s++) {
    const e3_step *sp = &st->steps[s];
    if (sp->kind != S_OP1 && sp->kind != S_OP2) continue;
    BPS_CALL_GOTO(op_map(&P->ops[sp->op], 0, &st->map0[sp->op]));
    const bps_op *op = P->ops[sp->op].op;
    if (op->kind == BPS_OP_PROT) st->pstep[op->param] = s;
  }
  /* the transposition of two sites: (c1, c2) -> (c2, c1) */
  H = calloc(65536, sizeof(double));
  BPS_CHECK_GOTO(H, BPS_ERR_MEM, "out of memory (mps engine)");
  for (int c = 0; c < 256; c++) H[(size_t)((c & 15) << 4 | c >> 4) * 256 + (size_t)c] = 1.0;
  BPS_CALL_GOTO(smap_from_dense(256, H, &st->swap));
  *out = st;
  st = NULL; /* ownership handed to the caller */
cleanup:
  free(H);
  e3_release(st);
  return rc;
}

/* A pass without derivative: the observable backwards through every step, then <B | in>. */
static int cost_pass(const mom_prob *P, const e3_state *st, const mom_prod *in,
                     const mom_obs *obs, long double *out, int *bond) {
  e3_ctx x = {0, 0};
  int rc = BPS_OK;
  mps B;
  memset(&B, 0, sizeof B);
  BPS_CALL_GOTO(init_obs(&x, P, st, obs, &B));
  for (int s = st->nsteps - 1; s >= 0; s--) BPS_CALL_GOTO(step_apply(&x, P, st, s, 0, &B));
  for (int i = 0; i < B.n; i++)
    BPS_CHECK_GOTO(B.wire[i] == P->in_wire[i], BPS_ERR_INTERNAL,
                   "mps: the initial layout is not the input register");
  BPS_CALL_GOTO(contract_input(&B, in, out));
cleanup:
  mps_free(&B);
  *bond = x.chi_max; /* also after a failure, as the pass statistics */
  return rc;
}

static int e3_pass(const mom_prob *P, const void *vst, int kind, const mom_prod *in,
                   const mom_obs *obs, int p, int mode, long double *out, mom_pass_stats *ps) {
  (void)kind; /* tables are keyed by the content of in and obs */
  const e3_state *st = vst;
  int bond = 0;
  if (p < 0 || mode == 0) {
    BPS_CALL(cost_pass(P, st, in, obs, out, &bond));
  } else {
    BPS_CHECK(p < P->nparams, BPS_ERR_ARG, "parameter %d", p);
    const e3_table *t = NULL;
    BPS_CALL(table_get(P, st, in, obs, mode, &t));
    *out = t->val[p];
    bond = t->bond;
  }
  if (ps) {
    ps->bond_dim = bond;
    ps->peak_pairs = 0;
    ps->dropped = 0;
  }
  return BPS_OK;
}

/* One gradient evaluation: the gradient table's two sweeps, shared by all parameters, plus
 * the per-parameter contraction (a few environment transfers). */
static int e3_predict(const mom_prob *P, const bps_mom_opts *o, double *seconds, double *bytes,
                      char *why, size_t whylen) {
  (void)o;
  int rc = BPS_OK;
  e3_state st;
  memset(&st, 0, sizeof st);
  const int made = make_steps(P, &st, why, whylen);
  if (made == BPS_ERR_JOB) { /* a refusal (the reason is in why), not an error */
    *seconds = *bytes = INFINITY;
  } else {
    BPS_CALL_GOTO(made);
    if (st.chi_est > E3_CHI_MAX) {
      snprintf(why, whylen, "mps: estimated bond dimension %d exceeds %d", st.chi_est, E3_CHI_MAX);
      *seconds = *bytes = INFINITY;
    } else {
      const double chi = st.chi_est, np = P->nparams > 0 ? P->nparams : 1;
      *seconds = (st.flops / np + 50.0 * chi * chi) * 1e-9;
      *bytes = e3_bytes(P, &st);
      why[0] = 0;
    }
  }
cleanup:
  steps_free(&st);
  free(st.layT);
  return rc;
}

const mom_engine bps_mom_engine_mps = {BPS_MOM_MPS, e3_prepare, e3_pass, e3_release, e3_predict};

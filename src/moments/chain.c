/* chain: engine E1, the Haar label chain (shared/moments.md Sec. 3). After a Haar twirl
 * every qubit of the block carries one label s in {1, F} (the two-copy identity and swap),
 * so a `haar` DQNN layer becomes a Markov chain along its output qubits:
 *
 *   perceptron j = twirl B on (inputs, out_j), [noise], rotation on out_j, [noise],
 *                  twirl A on (inputs, out_j), [noise]
 *   twirl:  new labels = Wg_D . (overlaps Tr(tau_q Phi_q(s_q)) of the block's qubits),
 *           Wg_D = [[1, -1/D], [-1/D, 1]] / (D^2 - 1), D = 2^(block qubits)
 *
 * The inputs of a layer share the label of the last twirl, so perceptron j contributes one
 * 2 x 2 link from the label of out_{j-1} to that of out_j; tracing the inputs out closes
 * the layer. The next layer's first twirl, or the cost, contracts the chain with per-qubit
 * weights in O(M) 2 x 2 steps. Operations between twirls (local noise, the rotation with
 * its derivative map) are kept per qubit as pending two-copy maps (16 x 16 in the
 * Pauli-pair basis, applied before a qubit's next overlap); global depolarising on a layer
 * register becomes four chain terms (moments.md Sec. 4.10 placement). Everything is long
 * double: at n = 1024 the values reach 2^-4000 and D^2 = 2^2050.
 *
 * The engine runs the model's own circuit program and refuses operations outside this
 * structure (a twirl that is not (all inputs, one output), a rotation on an input,
 * operations after global depolarising before the next twirl). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "mom.h"

typedef long double ld;

/* ---------------------------------------------------------------- 16 x 16 maps */

static void pauli2(int a, double complex m[4]) {
  static const double complex P[4][4] = {{1, 0, 0, 1}, {0, 1, 1, 0}, {0, -I, I, 0}, {1, 0, 0, -1}};
  memcpy(m, P[a], sizeof(double complex) * 4);
}
static void mul2(const double complex *A, const double complex *B, double complex *C) {
  C[0] = A[0] * B[0] + A[1] * B[2];
  C[1] = A[0] * B[1] + A[1] * B[3];
  C[2] = A[2] * B[0] + A[3] * B[2];
  C[3] = A[2] * B[1] + A[3] * B[3];
}
/* Single-copy Schroedinger PTM S[b*4+a] = Tr(sigma_b f(sigma_a)) / 2 of f(X) = U X U^dag
 * (deriv = 0) or -(i/2)[P, U X U^dag] with P = letter g (deriv = 1). */
static void ptm1(const double complex U[4], int g, int deriv, double S[16]) {
  double complex Uh[4] = {conj(U[0]), conj(U[2]), conj(U[1]), conj(U[3])}, A[4], B[4], Y[4], Pg[4];
  pauli2(g, Pg);
  for (int a = 0; a < 4; a++) {
    double complex sa[4];
    pauli2(a, sa);
    mul2(U, sa, A);
    mul2(A, Uh, Y);
    if (deriv) {
      mul2(Pg, Y, A);
      mul2(Y, Pg, B);
      for (int u = 0; u < 4; u++) Y[u] = -0.5 * I * (A[u] - B[u]);
    }
    for (int b = 0; b < 4; b++) {
      double complex sb[4];
      pauli2(b, sb);
      mul2(sb, Y, A);
      S[b * 4 + a] = creal(A[0] + A[3]) / 2.0;
    }
  }
}

/* Two-copy averaged map of a one-qubit rotation exp(-i phi/2 sigma_g) (16 x 16, out = M in),
 * mode 0, 1 (derivative on copy 1), 2 (both copies), exact from the Fourier components
 * m = -2..2 of phi -> S(phi) (x) S(phi) sampled at 5 angles. */
static void rotation_map(int g, const double complex mom[3][3], int mode, double M[256]) {
  double acc[256] = {0};
  for (int j = 0; j < 5; j++) {
    const double phi = 2.0 * M_PI * j / 5.0;
    double complex U[4];
    double complex pg[4];
    pauli2(g, pg);
    for (int u = 0; u < 4; u++)
      U[u] = (u == 0 || u == 3 ? cos(phi / 2) : 0) - I * sin(phi / 2) * pg[u];
    double S1[16], S2[16];
    ptm1(U, g, mode >= 1, S1);
    ptm1(U, g, mode == 2, S2);
    double complex wj = 0;
    for (int m = -2; m <= 2; m++)
      wj += cexp(-I * (double)m * phi) * (m >= 0 ? mom[mode][m] : conj(mom[mode][-m]));
    const double w = creal(wj) / 5.0;
    for (int r = 0; r < 16; r++)
      for (int c = 0; c < 16; c++)
        acc[r * 16 + c] += w * S1[(r >> 2) * 4 + (c >> 2)] * S2[(r & 3) * 4 + (c & 3)];
  }
  memcpy(M, acc, sizeof acc);
}

/* Two-copy map of a one-qubit channel from its Heisenberg PTM R (4 x 4, N^dag(P) =
 * sum_Q R[P][Q] Q): the Schroedinger coefficient of sigma_a' in N(sigma_a) is
 * Tr(sigma_a' N(sigma_a))/2 = Tr(N^dag(sigma_a') sigma_a)/2 = R[a'][a], per copy. */
static void channel_map(const double *R, double M[256]) {
  for (int r = 0; r < 16; r++)
    for (int c = 0; c < 16; c++)
      M[r * 16 + c] = R[(r >> 2) * 4 + (c >> 2)] * R[(r & 3) * 4 + (c & 3)];
}

static void matmul16(const double *A, const double *B, double *C) {
  for (int r = 0; r < 16; r++)
    for (int c = 0; c < 16; c++) {
      double s = 0;
      for (int k = 0; k < 16; k++) s += A[r * 16 + k] * B[k * 16 + c];
      C[r * 16 + c] = s;
    }
}

/* ---------------------------------------------------------------- prepared state */

typedef struct {
  double *map; /* per op: PROT 3 x 256 (modes 0..2), one-qubit KRAUS 256; else unused */
  size_t *moff;
} e1_state;

static void e1_release(void *v) {
  e1_state *st = v;
  if (!st) return;
  free(st->map);
  free(st->moff);
  free(st);
}

/* ---------------------------------------------------------------- one pass */

/* Pending maps are interned: identical maps share an id (the in-block qubits usually all
 * carry the same one), so overlaps of m qubits cost one power. */
typedef struct {
  double *m;       /* [n][256] */
  double *img;     /* [n][3][16]: the map applied to the labels 1, F and the fresh |0><0| pair */
  long double *tw; /* [n][3][2]: 4 <tau, img> for tau = 1, F (the twirl overlaps) */
  int n, cap;
} maptab;

static const double LABEL[3][16] = {{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                                    {0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5},
                                    {0.25, 0, 0, 0.25, 0, 0, 0, 0, 0, 0, 0, 0, 0.25, 0, 0, 0.25}};
static const double SITE_TAU[2][16] = {{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0}, /* tau = 1: Tr(.) / 4 */
                                       {0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0,
                                        0.5}}; /* tau = F */

static int maptab_find(maptab *t, const double *M, int *id) {
  for (int i = 0; i < t->n; i++)
    if (!memcmp(t->m + (size_t)i * 256, M, sizeof(double) * 256)) {
      *id = i;
      return BPS_OK;
    }
  if (t->n == t->cap) {
    int nc = t->cap ? 2 * t->cap : 16;
    double *a = realloc(t->m, sizeof(double) * 256 * (size_t)nc);
    if (a) t->m = a;
    double *b = realloc(t->img, sizeof(double) * 48 * (size_t)nc);
    if (b) t->img = b;
    long double *w = realloc(t->tw, sizeof(long double) * 6 * (size_t)nc);
    if (w) t->tw = w;
    BPS_CHECK(a && b && w, BPS_ERR_MEM, "out of memory");
    t->cap = nc;
  }
  memcpy(t->m + (size_t)t->n * 256, M, sizeof(double) * 256);
  double *img = t->img + (size_t)t->n * 48;
  for (int s = 0; s < 3; s++)
    for (int r = 0; r < 16; r++) {
      double acc = 0;
      for (int c = 0; c < 16; c++) acc += M[r * 16 + c] * LABEL[s][c];
      img[s * 16 + r] = acc;
    }
  for (int s = 0; s < 3; s++)
    for (int tau = 0; tau < 2; tau++) {
      long double acc = 0;
      for (int c = 0; c < 16; c++)
        acc += 4.0L * (long double)SITE_TAU[tau][c] * (long double)img[s * 16 + c];
      t->tw[(size_t)t->n * 6 + (size_t)(2 * s + tau)] = acc;
    }
  *id = t->n++;
  return BPS_OK;
}

enum { LBL_CHAIN = 0, LBL_FRESH = 1, LBL_OPEN = 2 }; /* qubit label kinds */

typedef struct {
  const mom_prob *P;
  const e1_state *st;
  maptab maps;
  int q, m;  /* register width; inputs of the current layer (positions 0..m-1) */
  int *kind; /* per register position: LBL_* */
  int *mid;  /* per register position: pending map id */
  /* the current layer's chain over the finished outputs (positions m .. m+nfin-1) */
  int nfin;
  ld a[2];       /* amplitude of the first finished output's label */
  ld (*K)[2][2]; /* K[i]: link from output i-1's label to output i's (i >= 1) */
  int capK;
  ld open[2][2]; /* the open perceptron: link from the last finished label (or a) to the
                     label shared by the inputs and the open output */
  int have_open, open_q;
  /* the previous layer (the inputs of the current one), as a closed chain */
  int prev_len;                 /* 0: the inputs are the model input (a product) */
  ld pa[2], (*pK)[2][2], pt[2]; /* its qubits are positions 0..prev_len-1 (maps in mid) */
  int *run_id, *run_len, nrun, runs_ok; /* run-length code of the inputs' map ids (cache) */
  ld ov[2][2];                          /* inputs_overlap(tau, s), valid with runs_ok */
  ld gterm[4]; /* global depolarising after the previous layer: term weights */
  int gdepol;
  const mom_prod *in;
  ld v0[2];    /* overlaps of the current inputs, once contracted (first twirl) */
  int started; /* the current layer's first twirl happened */
} e1_pass;

/* 4 <v, Phi(s)> for label s (0 = 1 (x) 1, 1 = F, 2 = fresh |0><0| (x) |0><0|) and map id. */
static ld weight(const e1_pass *x, int id, int s, const double v[16], int lmap) {
  const double *y0 = x->maps.img + (size_t)id * 48 + 16 * s;
  double y[16];
  memcpy(y, y0, sizeof y);
  /* global depolarising terms (per qubit): a: I/2 (x) Tr_1, b: Tr_2 (x) I/2, c: Tr I/4 */
  if (lmap) {
    double z[16] = {0};
    if (lmap == 1) /* (I/2) (x) Tr_1 Y: Tr_1 (sigma_a (x) sigma_b) = 2 delta_a0 sigma_b */
      for (int b = 0; b < 4; b++) z[b] = y[b];
    else if (lmap == 2)
      for (int a = 0; a < 4; a++) z[4 * a] = y[4 * a];
    else z[0] = y[0];
    memcpy(y, z, sizeof z);
  }
  ld acc = 0;
  for (int c = 0; c < 16; c++) acc += 4.0L * (ld)v[c] * (ld)y[c];
  return acc;
}

/* weight(id, s, tau site) from the table (the twirls' overlaps). */
static inline ld tau_weight(const e1_pass *x, int id, int s, int tau) {
  return x->maps.tw[(size_t)id * 6 + (size_t)(2 * s + tau)];
}

/* Contract the previous layer's chain (or the model input) with per-qubit site vectors
 * site(i) (NULL: the trace), as needed by a twirl (site = tau) or the cost. */
typedef const double *(*site_fn)(void *ctx, int i);

static ld chain_contract(const e1_pass *x, site_fn f, void *ctx, int lmap) {
  ld r[2];
  for (int s = 0; s < 2; s++) r[s] = x->pa[s] * weight(x, x->mid[0], s, f(ctx, 0), lmap);
  for (int i = 1; i < x->prev_len; i++) {
    ld nr[2];
    for (int s = 0; s < 2; s++)
      nr[s] = (x->pK[i][s][0] * r[0] + x->pK[i][s][1] * r[1]) *
              weight(x, x->mid[i], s, f(ctx, i), lmap);
    r[0] = nr[0], r[1] = nr[1];
  }
  return r[0] * x->pt[0] + r[1] * x->pt[1];
}

/* The connected part of chain_contract (MOM_CONNECTED): in the label basis {1, F~} with
 * F~ = F - 1/2 (x) ... per qubit (F~ has zero one-copy marginals), the chain's two-copy
 * state Y is b0 (1 (x) 1) plus configurations with at least one F~, and b0 (1 (x) 1) is the
 * product M (x) M of the copies' mean states (the labels come from Haar twirls: M = 1/2^q
 * before the pending maps). The chain is summed over the configurations with an F~ only
 * (g = 0: none yet, 1: some), so nothing O(1) is subtracted at the end. */
static ld chain_contract_conn(const e1_pass *x, site_fn f, void *ctx, int lmap) {
  ld r[2][2], w[2];
  for (int i = 0; i < x->prev_len; i++) {
    for (int s = 0; s < 2; s++) w[s] = weight(x, x->mid[i], s, f(ctx, i), lmap);
    const ld wt = w[1] - 0.5L * w[0]; /* F = F~ + 1/2 (x) 1: the F~ part of label F */
    ld in[2][2], nr[2][2];
    for (int s = 0; s < 2; s++)
      for (int g = 0; g < 2; g++)
        in[s][g] = i == 0 ? (g == 0 ? x->pa[s] : 0)
                          : x->pK[i][s][0] * r[0][g] + x->pK[i][s][1] * r[1][g];
    for (int g = 0; g < 2; g++) {
      nr[0][g] = in[0][g] * w[0];
      nr[1][g] = in[1][g] * 0.5L * w[0] + (g ? in[1][0] * wt + in[1][1] * wt : 0);
    }
    memcpy(r, nr, sizeof r);
  }
  return r[0][1] * x->pt[0] + r[1][1] * x->pt[1];
}

/* The same with the global-depolarising terms (conn: the connected part). */
static ld chain_value_c(const e1_pass *x, site_fn f, void *ctx, int conn) {
  ld (*c)(const e1_pass *, site_fn, void *, int) = conn ? chain_contract_conn : chain_contract;
  if (!x->gdepol) return c(x, f, ctx, 0);
  ld v = 0;
  for (int t = 0; t < 4; t++)
    if (x->gterm[t] != 0) v += x->gterm[t] * c(x, f, ctx, t);
  return v;
}

static ld chain_value(const e1_pass *x, site_fn f, void *ctx) {
  return chain_value_c(x, f, ctx, 0);
}

static const double *tau_site(void *ctx, int i) {
  (void)i;
  return SITE_TAU[*(int *)ctx];
}

/* Overlaps Tr(tau X_in) of the model input (a product sum). */
static void input_overlaps(const mom_prod *in, ld v[2]) {
  for (int tau = 0; tau < 2; tau++) {
    ld tot = 0;
    for (int t = 0; t < in->nterm; t++) {
      ld p = in->coef[t];
      for (int q = 0; q < in->nq; q++) {
        const double *s = mom_site(in, t, q);
        ld o = 0;
        for (int c = 0; c < 16; c++) o += 4.0L * (ld)SITE_TAU[tau][c] * (ld)s[c];
        p *= o;
      }
      tot += p;
    }
    v[tau] = tot;
  }
}

/* Weingarten applied to overlaps o[tau]: new label amplitudes. */
static void wg(int k, const ld o[2], ld out[2]) {
  const ld D = ldexpl(1.0L, k), den = D * D - 1.0L;
  out[0] = (o[0] - o[1] / D) / den;
  out[1] = (o[1] - o[0] / D) / den;
}

/* Product over the inputs (positions 0..m-1) of weight(tau, label s), by runs of equal
 * map ids (cached until an input's map changes: usually one run). */
static ld inputs_overlap(e1_pass *x, int tau, int s) {
  if (!x->runs_ok) {
    x->nrun = 0;
    for (int i = 0; i < x->m;) {
      int j = i;
      while (j < x->m && x->mid[j] == x->mid[i]) j++;
      x->run_id[x->nrun] = x->mid[i];
      x->run_len[x->nrun++] = j - i;
      i = j;
    }
    for (int t = 0; t < 2; t++)
      for (int l = 0; l < 2; l++) {
        ld p = 1;
        for (int r = 0; r < x->nrun; r++)
          p *= powl(tau_weight(x, x->run_id[r], l, t), (ld)x->run_len[r]);
        x->ov[t][l] = p;
      }
    x->runs_ok = 1;
  }
  return x->ov[tau][s];
}

static int push_link(e1_pass *x, ld L[2][2]) {
  if (x->nfin == x->capK) {
    int nc = x->capK ? 2 * x->capK : 64;
    ld(*K)[2][2] = realloc(x->K, sizeof(*K) * (size_t)nc);
    BPS_CHECK(K, BPS_ERR_MEM, "out of memory");
    x->K = K;
    x->capK = nc;
  }
  memcpy(x->K[x->nfin], L, sizeof(ld) * 4);
  x->nfin++;
  return BPS_OK;
}

/* Close the open perceptron: its output becomes the next finished chain qubit. */
static int close_open(e1_pass *x) {
  if (!x->have_open) return BPS_OK;
  BPS_CHECK(x->open_q == x->m + x->nfin, BPS_ERR_JOB,
            "chain engine: outputs must be completed in order (perceptron 1 first)");
  if (x->nfin == 0) {
    /* the first output: amplitude a = open applied to the contracted inputs (stored in
     * open[.][0] as a vector) */
    x->a[0] = x->open[0][0];
    x->a[1] = x->open[1][0];
    ld unused[2][2] = {{0, 0}, {0, 0}}; /* K[0]: chain qubit 0 starts from a */
    BPS_CALL(push_link(x, unused));
  } else {
    BPS_CALL(push_link(x, x->open));
  }
  x->kind[x->open_q] = LBL_CHAIN;
  x->have_open = 0;
  return BPS_OK;
}

static int twirl(e1_pass *x, const bps_op *op) {
  /* the block: every input position 0..m-1 plus one output position */
  const int k = op->k;
  BPS_CHECK(k == x->m + 1, BPS_ERR_JOB,
            "chain engine: a Haar block must act on all %d inputs and one output (acts on %d "
            "qubits)",
            x->m, k);
  int out = -1;
  for (int u = 0; u < k; u++) {
    int qb = op->qubits[u];
    if (qb >= x->m) {
      BPS_CHECK(out < 0, BPS_ERR_JOB, "chain engine: a Haar block with two outputs");
      out = qb;
    }
  }
  BPS_CHECK(out >= 0, BPS_ERR_JOB, "chain engine: a Haar block without an output qubit");
  if (!x->started) { /* first twirl of the layer: contract the inputs completely */
    if (x->prev_len == 0) {
      input_overlaps(x->in, x->v0);
    } else {
      for (int tau = 0; tau < 2; tau++) x->v0[tau] = chain_value(x, tau_site, &tau);
    }
    x->started = 1;
    x->gdepol = 0; /* the depolarising terms were part of that contraction */
    BPS_CHECK(x->kind[out] == LBL_FRESH, BPS_ERR_JOB,
              "chain engine: first twirl on a used output");
    ld ov[2];
    for (int tau = 0; tau < 2; tau++) ov[tau] = x->v0[tau] * tau_weight(x, x->mid[out], 2, tau);
    ld b[2];
    wg(k, ov, b);
    x->open[0][0] = b[0], x->open[1][0] = b[1];
    x->open[0][1] = x->open[1][1] = 0;
    x->have_open = 1;
    x->open_q = out;
    x->kind[out] = LBL_OPEN;
  } else if (x->have_open && out == x->open_q) { /* second twirl of the open perceptron */
    ld A[2][2];
    for (int s = 0; s < 2; s++) {
      ld ov[2];
      for (int tau = 0; tau < 2; tau++)
        ov[tau] = inputs_overlap(x, tau, s) * tau_weight(x, x->mid[out], s, tau);
      ld c[2];
      wg(k, ov, c);
      A[0][s] = c[0], A[1][s] = c[1];
    }
    ld N[2][2];
    for (int r = 0; r < 2; r++)
      for (int c = 0; c < 2; c++) N[r][c] = A[r][0] * x->open[0][c] + A[r][1] * x->open[1][c];
    memcpy(x->open, N, sizeof N);
  } else { /* a new perceptron: close the open one, then the B twirl on a fresh output */
    BPS_CALL(close_open(x));
    BPS_CHECK(x->kind[out] == LBL_FRESH, BPS_ERR_JOB, "chain engine: twirl on a used output");
    ld B[2][2];
    for (int s = 0; s < 2; s++) {
      ld ov[2];
      for (int tau = 0; tau < 2; tau++)
        ov[tau] = inputs_overlap(x, tau, s) * tau_weight(x, x->mid[out], 2, tau);
      ld c[2];
      wg(k, ov, c);
      B[0][s] = c[0], B[1][s] = c[1];
    }
    memcpy(x->open, B, sizeof B);
    x->have_open = 1;
    x->open_q = out;
    x->kind[out] = LBL_OPEN;
  }
  /* every block qubit now carries the new label with no pending map */
  for (int u = 0; u < k; u++) x->mid[op->qubits[u]] = 0;
  x->runs_ok = 0;
  return BPS_OK;
}

static int pend(e1_pass *x, int qb, const double *M) {
  double C[256];
  matmul16(M, x->maps.m + (size_t)x->mid[qb] * 256, C);
  int id;
  BPS_CALL(maptab_find(&x->maps, C, &id));
  x->mid[qb] = id;
  if (qb < x->m) x->runs_ok = 0;
  return BPS_OK;
}

/* Trace out the inputs: the layer's chain becomes the closed previous chain. */
static int trace(e1_pass *x, const bps_op *op) {
  BPS_CHECK(op->k == x->m, BPS_ERR_JOB, "chain engine: a trace must remove exactly the inputs");
  for (int u = 0; u < op->k; u++)
    BPS_CHECK(op->qubits[u] == u, BPS_ERR_JOB, "chain engine: a trace must remove the inputs");
  BPS_CALL(close_open(x));
  const int M = x->q - x->m;
  BPS_CHECK(x->started && x->nfin == M, BPS_ERR_JOB,
            "chain engine: every output needs its perceptron before the inputs are traced");
  /* final weights: the inputs share the last output's label; trace them */
  ld t[2];
  for (int s = 0; s < 2; s++) t[s] = inputs_overlap(x, 0, s);
  free(x->pK);
  x->pK = x->K;
  x->K = NULL;
  x->capK = 0;
  x->pa[0] = x->a[0], x->pa[1] = x->a[1];
  x->pt[0] = t[0], x->pt[1] = t[1];
  x->prev_len = M;
  for (int i = 0; i < M; i++) {
    x->kind[i] = LBL_CHAIN;
    x->mid[i] = x->mid[x->m + i];
  }
  x->q = M;
  x->m = M;
  x->runs_ok = 0;
  x->nfin = 0;
  x->started = 0;
  x->gdepol = 0;
  return BPS_OK;
}

/* Cost contraction of the closed chain with the observable. */
typedef struct {
  const mom_obs *o;
  int t; /* product term */
  int q; /* register width */
} cost_ctx;

static const double *cost_site(void *vctx, int i) {
  static const double one[16] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const cost_ctx *c = vctx;
  if (i < c->o->q0 || i >= c->o->q0 + c->o->nq) return one;
  return mom_site(&c->o->prod, c->t, i - c->o->q0);
}

/* Local marker sums: dynamic programming over the chain with marker states
 * (0 none, 1 A placed, 2 B placed, 3 both). */
static ld local_contract(const e1_pass *x, const mom_obs *o, int lmap) {
  static const double one[16] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const int full = o->two ? 3 : 1;
  ld r[4][2] = {{0}}, nr[4][2];
  for (int i = 0; i < x->prev_len; i++) {
    const int cost = i >= o->q0 && i < o->q0 + o->nq;
    ld w[4][2];
    for (int s = 0; s < 2; s++)
      for (int role = 0; role < 4; role++)
        w[role][s] = (role == 0 || cost) && (o->two || role < 2)
                         ? weight(x, x->mid[i], s,
                                  role == 0 ? (cost ? o->lsite[0] : one) : o->lsite[role], lmap)
                         : 0;
    memset(nr, 0, sizeof nr);
    for (int s = 0; s < 2; s++) {
      ld in[4];
      for (int ms = 0; ms < 4; ms++)
        in[ms] = i == 0 ? (ms == 0 ? x->pa[s] : 0)
                        : x->pK[i][s][0] * r[ms][0] + x->pK[i][s][1] * r[ms][1];
      for (int ms = 0; ms < 4; ms++)
        for (int role = 0; role < 4; role++) {
          if (ms & role) continue;
          nr[ms | role][s] += in[ms] * w[role][s];
        }
    }
    memcpy(r, nr, sizeof r);
  }
  return o->lcoef * (r[full][0] * x->pt[0] + r[full][1] * x->pt[1]);
}

static ld cost_value(const e1_pass *x, const mom_obs *o, int conn) {
  ld v = 0;
  if (o->local) {
    if (!x->gdepol) return local_contract(x, o, 0);
    for (int t = 0; t < 4; t++)
      if (x->gterm[t] != 0) v += x->gterm[t] * local_contract(x, o, t);
    return v;
  }
  for (int t = 0; t < o->prod.nterm; t++) {
    cost_ctx c = {o, t, x->q};
    v += o->prod.coef[t] * chain_value_c(x, cost_site, &c, conn);
  }
  return v;
}

static int e1_pass_run(const mom_prob *P, const void *vst, int kind, const mom_prod *in,
                       const mom_obs *obs, int p, int mode, long double *out, mom_pass_stats *ps) {
  (void)kind;
  const e1_state *st = vst;
  int rc = BPS_OK;
  e1_pass x;
  memset(&x, 0, sizeof x);
  if (ps) ps->bond_dim = 2;
  x.P = P;
  x.st = st;
  x.in = in;
  x.q = x.m = P->c->q_in;
  x.kind = malloc(sizeof(int) * (size_t)(P->q_max + 1));
  x.mid = malloc(sizeof(int) * (size_t)(P->q_max + 1));
  x.run_id = malloc(sizeof(int) * (size_t)(P->q_max + 1));
  x.run_len = malloc(sizeof(int) * (size_t)(P->q_max + 1));
  BPS_CHECK_GOTO(x.kind && x.mid && x.run_id && x.run_len, BPS_ERR_MEM, "out of memory");
  double idm[256] = {0};
  for (int r = 0; r < 16; r++) idm[r * 16 + r] = 1.0;
  int id0;
  BPS_CALL_GOTO(maptab_find(&x.maps, idm, &id0));
  for (int i = 0; i < x.q; i++) x.kind[i] = LBL_CHAIN, x.mid[i] = 0;
  for (int i = 0; i < P->nops; i++) {
    const mom_op *o = &P->ops[i];
    const bps_op *op = o->op;
    BPS_CHECK_GOTO(!x.gdepol || op->kind == BPS_OP_APPEND ||
                       (op->kind == BPS_OP_UNITARY && op->ens == BPS_ENS_HAAR),
                   BPS_ERR_JOB,
                   "chain engine: global depolarising must be followed by the next layer");
    switch (op->kind) {
    case BPS_OP_UNITARY:
      BPS_CHECK_GOTO(op->ens == BPS_ENS_HAAR, BPS_ERR_JOB,
                     "chain engine: fixed gates are not Haar blocks (use the Pauli-pair "
                     "engine for this model)");
      BPS_CALL_GOTO(twirl(&x, op));
      break;
    case BPS_OP_PROT:
      BPS_CHECK_GOTO(op->k == 1 && x.kind[op->qubits[0]] == LBL_OPEN && op->ens == BPS_ENS_FIXED,
                     BPS_ERR_JOB,
                     "chain engine: rotations must act on the output of the perceptron "
                     "between its two Haar blocks");
      BPS_CALL_GOTO(pend(&x, op->qubits[0],
                         st->map + st->moff[i] + 256 * (size_t)(op->param == p ? mode : 0)));
      break;
    case BPS_OP_KRAUS:
      BPS_CHECK_GOTO(op->k == 1, BPS_ERR_JOB, "chain engine: channels must act on single qubits");
      BPS_CALL_GOTO(pend(&x, op->qubits[0], st->map + st->moff[i]));
      break;
    case BPS_OP_APPEND:
      for (int a = 0; a < op->k; a++) x.kind[x.q + a] = LBL_FRESH, x.mid[x.q + a] = 0;
      x.q += op->k;
      break;
    case BPS_OP_TRACE: BPS_CALL_GOTO(trace(&x, op)); break;
    case BPS_OP_DEPOL: {
      BPS_CHECK_GOTO(op->k == x.q && !x.started && x.q == x.m, BPS_ERR_JOB,
                     "chain engine: global depolarising acts on a whole layer register "
                     "after its inputs are traced");
      const ld pp = op->scale;
      x.gdepol = 1;
      x.gterm[0] = (1 - pp) * (1 - pp);
      x.gterm[1] = x.gterm[2] = pp * (1 - pp);
      x.gterm[3] = pp * pp;
      break;
    }
    }
  }
  BPS_CHECK_GOTO(x.prev_len != 0, BPS_ERR_JOB,
                 "chain engine: the circuit has no layer (no trace of its inputs)");
  BPS_CHECK_GOTO(!x.started && x.q == x.m, BPS_ERR_JOB,
                 "chain engine: the circuit must end with a traced layer");
  const int conn = p < 0 && mode == MOM_CONNECTED;
  BPS_CHECK_GOTO(!(conn && obs->local), BPS_ERR_INTERNAL,
                 "chain engine: connected passes of local costs are not implemented");
  *out = cost_value(&x, obs, conn);
cleanup:
  free(x.kind);
  free(x.mid);
  free(x.run_id);
  free(x.run_len);
  free(x.K);
  free(x.pK);
  free(x.maps.m);
  free(x.maps.img);
  free(x.maps.tw);
  return rc;
}

static int e1_prepare(const mom_prob *P, const bps_mom_opts *o, void **out) {
  BPS_CHECK(!o || o->pair_budget <= 0, BPS_ERR_JOB,
            "[moments] truncation applies to the Pauli-pair engine only (the chain engine is "
            "exact)");
  int rc = BPS_OK;
  mom_prod in;
  mom_obs ob;
  memset(&in, 0, sizeof in);
  memset(&ob, 0, sizeof ob);
  e1_state *st = calloc(1, sizeof *st);
  BPS_CHECK_GOTO(st, BPS_ERR_MEM, "out of memory");
  st->moff = calloc((size_t)(P->nops ? P->nops : 1), sizeof(size_t));
  size_t need = 0;
  for (int i = 0; i < P->nops; i++) {
    const bps_op *op = P->ops[i].op;
    if (op->kind == BPS_OP_PROT) need += 3 * 256;
    if (op->kind == BPS_OP_KRAUS) need += 256;
  }
  st->map = malloc(sizeof(double) * (need ? need : 1));
  BPS_CHECK_GOTO(st->moff && st->map, BPS_ERR_MEM, "out of memory");
  size_t off = 0;
  for (int i = 0; i < P->nops; i++) {
    const mom_op *mo = &P->ops[i];
    const bps_op *op = mo->op;
    st->moff[i] = off;
    if (op->kind == BPS_OP_PROT && op->k == 1) {
      for (int mode = 0; mode < 3; mode++)
        rotation_map(mom_letter(op->pauli[0]), mo->mom, mode, st->map + off + 256 * (size_t)mode);
      off += 3 * 256;
    } else if (op->kind == BPS_OP_PROT) {
      off += 3 * 256; /* refused by the pass */
    } else if (op->kind == BPS_OP_KRAUS) {
      if (mo->ptm && op->k == 1) channel_map(mo->ptm, st->map + off);
      off += 256;
    }
  }
  /* a dry run decides whether the structure fits */
  long double v;
  BPS_CALL_GOTO(mom_input(P, MOM_ONE, &in));
  BPS_CALL_GOTO(mom_observable(P, MOM_ONE, &ob));
  BPS_CALL_GOTO(e1_pass_run(P, st, MOM_ONE, &in, &ob, -1, 0, &v, NULL));
  *out = st;
  st = NULL; /* ownership handed to the caller */
cleanup:
  mom_prod_free(&in);
  mom_obs_free(&ob);
  e1_release(st);
  return rc;
}

static int e1_predict(const mom_prob *P, const bps_mom_opts *o, double *seconds, double *bytes,
                      char *why, size_t whylen) {
  (void)o;
  int haar = 0;
  for (int i = 0; i < P->nops; i++)
    haar |= P->ops[i].op->kind == BPS_OP_UNITARY && P->ops[i].op->ens == BPS_ENS_HAAR;
  if (!haar) {
    snprintf(why, whylen, "chain: no Haar blocks (haar perceptrons only)");
    *seconds = *bytes = INFINITY;
    return BPS_OK;
  }
  why[0] = 0;
  *bytes = 64.0 * (double)P->q_max + 600.0 * (double)P->nops;
  /* a pass walks each block's label chain over its qubits: about the summed block widths
   * (measured n,n Haar, 2 threads: 12 s for all 1025 items at n = 1024) */
  double width = 0;
  for (int i = 0; i < P->nops; i++) width += P->ops[i].op->k;
  *seconds = 5.5e-9 * width + 1.6e-7 * (double)P->nops;
  return BPS_OK;
}

const mom_engine bps_mom_engine_chain = {BPS_MOM_CHAIN, e1_prepare, e1_pass_run, e1_release,
                                         e1_predict};

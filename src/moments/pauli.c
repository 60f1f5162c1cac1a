/* pauli: engine E2, sparse Pauli pairs (shared/moments.md Secs. 2 and 4). The two-copy
 * observable is a sum of Pauli pairs (P on copy 1, Q on copy 2) with real coefficients,
 * propagated backwards (Heisenberg picture) through the averaged map of every operation and
 * finally contracted with the input ensemble:
 *   rotations with uniform / fixed / Gaussian-scaled angles   the pair rules of Sec. 2 with
 *       the moment table E[(2s)^a e^{i m phi}] (keep, c1/s1 for one anticommuting side,
 *       (1 +- c2)/2 and s2/2 for two); derivatives kill pairs with a commuting side
 *   random axes / random Pauli strings                         means over the letters
 *   fixed gates and Kraus channels                             their Pauli transfer matrices
 *   appends |0>: <0|P|0> (X, Y killed); traces: identity padding (nothing to do);
 *   global depolarising: (1 - p) per copy with support on the register
 * A pair is a sorted list of (wire, code) entries over global wires (mom.h; code = 4a + b,
 * the identity pair omitted), so a local observable costs only its light cone: operations
 * that touch no pair are skipped, and a gradient pass of parameter k starts from the cost
 * qubits in the forward light cone of k only. Pairs live in an insertion-ordered hash set:
 * one pass is sequential and its summation order fixed, so results are bitwise
 * reproducible; parallelism comes from evaluating different parameters at once.
 *
 * With a pair budget (bps_mom_opts.pair_budget) the smallest pairs are dropped after an
 * operation whenever the set exceeds the budget. When every coefficient stays non-negative
 * and every map is mass-non-increasing (uniform rotations, Clifford gates, Pauli and
 * amplitude-damping noise), the value with drops is a certified lower bound and adding the
 * dropped mass (times the derivative's gain still to come) a certified upper bound; any
 * negative coefficient or mass-increasing map makes the pass refuse instead. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/threads.h"
#include "mom.h"

#define E2_MAXSUP 4096 /* entries of one pair */

/* ---------------------------------------------------------------- pair sets */

typedef struct {
  uint32_t *ent; /* arena of entries (wire << 4 | code), each pair's run sorted by wire */
  size_t nent, capent;
  size_t *off;
  uint32_t *len;
  double *coef;
  uint64_t *hash;
  long n, cap;
  long *tab; /* open addressing: pair index or -1 */
  size_t tabsz;
  size_t max_bytes; /* the set's share of the memory of an evaluation (0: no limit) */
} pset;

static void pset_free(pset *s) {
  free(s->ent);
  free(s->off);
  free(s->len);
  free(s->coef);
  free(s->hash);
  free(s->tab);
  memset(s, 0, sizeof *s);
}

static void pset_clear(pset *s) {
  s->n = 0;
  s->nent = 0;
  if (s->tab) memset(s->tab, 0xff, sizeof(long) * s->tabsz);
}

static uint64_t hash_run(const uint32_t *e, uint32_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
  for (uint32_t i = 0; i < n; i++) {
    h ^= e[i];
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
  }
  return h;
}

/* The arrays of a set of cap pairs, tabsz slots and capent entries fit its share of memory?
 * (The pairs of an all-to-all circuit grow as 4^(register width): without this check a scan
 * too big for exact moments would take all the memory of the host.) */
static int pset_fits(const pset *s, long cap, size_t tabsz, size_t capent) {
  if (!s->max_bytes) return BPS_OK;
  const double b = (double)cap * (double)(sizeof(size_t) + sizeof(uint32_t) + sizeof(double) +
                                          sizeof(uint64_t)) +
                   (double)tabsz * (double)sizeof(long) +
                   (double)capent * (double)sizeof(uint32_t);
  BPS_CHECK(b <= (double)s->max_bytes, BPS_ERR_TOO_BIG,
            "pauli: the Pauli-pair set outgrows its share of the memory of a rank (%ld pairs, "
            "%.3g GiB of at most %.3g GiB per set, two sets per evaluation, one evaluation per "
            "thread): too big for exact moments; scan fewer qubits or set [moments] truncation "
            "for certified bounds",
            s->n, b / 1073741824.0, (double)s->max_bytes / 1073741824.0);
  return BPS_OK;
}

static int pset_rehash(pset *s, size_t sz) {
  BPS_CALL(pset_fits(s, s->cap, sz, s->capent));
  long *t = malloc(sizeof(long) * sz);
  BPS_CHECK(t, BPS_ERR_MEM, "out of memory (Pauli-pair table of %zu slots)", sz);
  memset(t, 0xff, sizeof(long) * sz);
  for (long i = 0; i < s->n; i++) {
    size_t h = (size_t)s->hash[i] & (sz - 1);
    while (t[h] >= 0) h = (h + 1) & (sz - 1);
    t[h] = i;
  }
  free(s->tab);
  s->tab = t;
  s->tabsz = sz;
  return BPS_OK;
}

/* Add coef to the pair with entries e[0..n) (sorted, no identity codes). */
static int pset_add(pset *s, const uint32_t *e, uint32_t n, double coef) {
  if (coef == 0.0) return BPS_OK;
  if ((size_t)(s->n + 1) * 2 > s->tabsz)
    BPS_CALL(pset_rehash(s, s->tabsz ? 2 * s->tabsz : 1024));
  const uint64_t hv = hash_run(e, n);
  size_t h = (size_t)hv & (s->tabsz - 1);
  while (s->tab[h] >= 0) {
    long i = s->tab[h];
    if (s->hash[i] == hv && s->len[i] == n &&
        (n == 0 || !memcmp(s->ent + s->off[i], e, sizeof(uint32_t) * n))) { /* e: NULL if n = 0 */
      s->coef[i] += coef;
      return BPS_OK;
    }
    h = (h + 1) & (s->tabsz - 1);
  }
  if (s->n == s->cap) {
    long nc = s->cap ? 2 * s->cap : 1024;
    BPS_CALL(pset_fits(s, nc, s->tabsz, s->capent));
    size_t *o = realloc(s->off, sizeof(size_t) * (size_t)nc);
    if (o) s->off = o;
    uint32_t *l = realloc(s->len, sizeof(uint32_t) * (size_t)nc);
    if (l) s->len = l;
    double *c = realloc(s->coef, sizeof(double) * (size_t)nc);
    if (c) s->coef = c;
    uint64_t *hh = realloc(s->hash, sizeof(uint64_t) * (size_t)nc);
    if (hh) s->hash = hh;
    BPS_CHECK(o && l && c && hh, BPS_ERR_MEM, "out of memory (%ld Pauli pairs)", nc);
    s->cap = nc;
  }
  if (s->nent + n > s->capent) {
    size_t nc = s->capent ? 2 * s->capent : 4096;
    while (nc < s->nent + n) nc *= 2;
    BPS_CALL(pset_fits(s, s->cap, s->tabsz, nc));
    uint32_t *a = realloc(s->ent, sizeof(uint32_t) * nc);
    BPS_CHECK(a, BPS_ERR_MEM, "out of memory (Pauli-pair entries)");
    s->ent = a;
    s->capent = nc;
  }
  if (n) memcpy(s->ent + s->nent, e, sizeof(uint32_t) * n);
  s->off[s->n] = s->nent;
  s->len[s->n] = n;
  s->coef[s->n] = coef;
  s->hash[s->n] = hv;
  s->tab[h] = s->n;
  s->nent += n;
  s->n++;
  return BPS_OK;
}

/* ---------------------------------------------------------------- prepared state */

typedef struct {
  int *cone_off, *cone; /* per parameter: the cost qubits (0..nq-1) in its forward light cone */
  int *nbr_off, *nbr;   /* per output qubit j: the output qubits whose backward light cones
                           share a random element or an input wire with j's (j included) */
  int ncomp, *comp;     /* connected components of that overlap graph, comp[j] */
  int *comp_off, *comp_q; /* the output qubits of each component, ascending */
  /* product observables and product inputs: per pass kind, the value of every component
   * without derivative, and exclusive products (all components but one) */
  int factor[3];
  long double *cval[3], *cexcl[3];
  int *cost_wire; /* [nq] global wire of cost qubit j */
  long budget;
  size_t max_bytes; /* one evaluation's memory (bps_mom_opts.max_bytes / threads; 0: any) */
  int certifiable;  /* every map is mass-non-increasing and sign-preserving */
} e2_state;

static void e2_release(void *vst) {
  e2_state *st = vst;
  if (!st) return;
  free(st->cone_off);
  free(st->cone);
  free(st->nbr_off);
  free(st->nbr);
  free(st->comp);
  free(st->comp_off);
  free(st->comp_q);
  for (int k = 0; k < 3; k++) free(st->cval[k]), free(st->cexcl[k]);
  free(st->cost_wire);
  free(st);
}

/* The wires op o acts on, in *w, and their count: a random Pauli rotation acts on its whole
 * drawn-support range (ewire), every other op on its own wires. */
static int op_support(const mom_op *o, const int **w) {
  const bps_op *op = o->op;
  *w = op->ens == BPS_ENS_PAULI ? o->ewire : o->wire;
  return op->ens == BPS_ENS_PAULI ? op->ens_k : op->k;
}

/* Whether any of the k wires w is marked in the wire set set[]. */
static int any_marked(const unsigned char *set, const int *w, int k) {
  for (int u = 0; u < k; u++)
    if (set[w[u]]) return 1;
  return 0;
}

/* Forward light cones: for each parameter, the cost qubits its gate can influence. */
static int cones(const mom_prob *P, e2_state *st) {
  const int nq = P->data.nq, W = P->nwires;
  int rc = BPS_OK;
  unsigned char *inf = malloc((size_t)W);
  int *buf = malloc(sizeof(int) * (size_t)(nq ? nq : 1));
  st->cone_off = calloc((size_t)P->nparams + 1, sizeof(int));
  size_t cap = 1024, used = 0;
  st->cone = malloc(sizeof(int) * cap);
  BPS_CHECK_GOTO(inf && buf && st->cone_off && st->cone, BPS_ERR_MEM,
                 "out of memory (light cones)");
  for (int p = 0; p < P->nparams; p++) {
    st->cone_off[p] = (int)used;
    int i0 = P->param_op[p], cnt = 0;
    if (i0 >= 0) {
      memset(inf, 0, (size_t)W);
      const mom_op *o0 = &P->ops[i0];
      for (int u = 0; u < o0->op->k; u++) inf[o0->wire[u]] = 1;
      if (o0->op->ens == BPS_ENS_PAULI)
        for (int u = 0; u < o0->op->ens_k; u++) inf[o0->ewire[u]] = 1;
      for (int i = i0 + 1; i < P->nops; i++) {
        const mom_op *o = &P->ops[i];
        const bps_op *op = o->op;
        if (op->kind == BPS_OP_APPEND || op->kind == BPS_OP_TRACE) continue;
        const int *w;
        const int k = op_support(o, &w);
        if (any_marked(inf, w, k) && op->kind != BPS_OP_DEPOL)
          for (int u = 0; u < k; u++) inf[w[u]] = 1;
      }
      for (int j = 0; j < nq; j++)
        if (inf[st->cost_wire[j]]) buf[cnt++] = j;
    }
    if (used + (size_t)cnt > cap) {
      while (used + (size_t)cnt > cap) cap *= 2;
      int *c = realloc(st->cone, sizeof(int) * cap);
      BPS_CHECK_GOTO(c, BPS_ERR_MEM, "out of memory (light cones)");
      st->cone = c;
    }
    memcpy(st->cone + used, buf, sizeof(int) * (size_t)cnt);
    used += (size_t)cnt;
  }
  st->cone_off[P->nparams] = (int)used;
cleanup:
  free(inf);
  free(buf);
  return rc;
}

/* Is op i a random element (its average couples the two copies)? */
static int is_random(const mom_op *o) {
  const bps_op *op = o->op;
  if (op->kind != BPS_OP_PROT) return op->kind == BPS_OP_UNITARY && op->ens == BPS_ENS_HAAR;
  return op->ens != BPS_ENS_FIXED || cabs(o->mom[0][1]) != 1.0 || cabs(o->mom[0][2]) != 1.0;
}

/* Backward light cones of the output qubits (random elements and input wires reached, as
 * bitsets); for each output qubit the output qubits whose cones overlap its own, and the
 * connected components of that overlap graph. Two terms with disjoint cones are
 * independent: for product-form inputs the two-copy expectation of their product is the
 * product of their expectations (local costs: of the one-copy means; product observables:
 * of the components' values). */
static int neighbours(const mom_prob *P, e2_state *st) {
  const int nq = P->c->q_out, W = P->nwires, nops = P->nops;
  const size_t nwo = ((size_t)nops + (size_t)W + 63) / 64; /* ops, then wires */
  int rc = BPS_OK, *id = NULL, *fill = NULL;
  uint64_t *cone = calloc((size_t)nq * nwo, sizeof(uint64_t));
  unsigned char *live = malloc((size_t)W);
  st->nbr_off = calloc((size_t)nq + 1, sizeof(int));
  st->comp = malloc(sizeof(int) * (size_t)(nq ? nq : 1));
  st->comp_off = calloc((size_t)nq + 1, sizeof(int));
  st->comp_q = malloc(sizeof(int) * (size_t)(nq ? nq : 1));
  size_t cap = 1024, used = 0;
  st->nbr = malloc(sizeof(int) * cap);
  BPS_CHECK_GOTO(cone && live && st->nbr_off && st->nbr && st->comp && st->comp_off && st->comp_q,
                 BPS_ERR_MEM, "out of memory (light cones of %d output qubits)", nq);
  for (int j = 0; j < nq; j++) {
    uint64_t *b = cone + (size_t)j * nwo;
    memset(live, 0, (size_t)W);
    live[P->out_wire[j]] = 1;
    for (int i = nops - 1; i >= 0; i--) {
      const mom_op *o = &P->ops[i];
      const bps_op *op = o->op;
      if (op->kind == BPS_OP_TRACE) continue;
      if (op->kind == BPS_OP_APPEND) { /* ancilla wires end at their creation */
        for (int u = 0; u < op->k; u++) live[o->wire[u]] = 0;
        continue;
      }
      const int *w;
      const int k = op_support(o, &w);
      if (!any_marked(live, w, k)) continue;
      /* depolarising is diagonal in the Pauli basis (it spreads no support) but its factor
       * (1 - p) per copy depends on the whole string on its register: shared like a random
       * element */
      if (is_random(o) || op->kind == BPS_OP_DEPOL) b[i / 64] |= UINT64_C(1) << (i % 64);
      if (op->kind != BPS_OP_DEPOL)
        for (int u = 0; u < k; u++) live[w[u]] = 1;
    }
    for (int q = 0; q < P->c->q_in; q++) {
      const size_t bit = (size_t)nops + (size_t)P->in_wire[q];
      if (live[P->in_wire[q]]) b[bit / 64] |= UINT64_C(1) << (bit % 64);
    }
  }
  for (int j = 0; j < nq; j++) st->comp[j] = j; /* union-find */
  for (int j = 0; j < nq; j++) {
    st->nbr_off[j] = (int)used;
    const uint64_t *a = cone + (size_t)j * nwo;
    for (int j2 = 0; j2 < nq; j2++) {
      const uint64_t *b = cone + (size_t)j2 * nwo;
      int ov = j == j2;
      for (size_t t = 0; t < nwo && !ov; t++) ov = (a[t] & b[t]) != 0;
      if (!ov) continue;
      if (used == cap) {
        int *nb = realloc(st->nbr, sizeof(int) * (cap *= 2));
        BPS_CHECK_GOTO(nb, BPS_ERR_MEM, "out of memory (light cones of %d output qubits)", nq);
        st->nbr = nb;
      }
      st->nbr[used++] = j2;
      int r1 = j, r2 = j2;
      while (st->comp[r1] != r1) r1 = st->comp[r1];
      while (st->comp[r2] != r2) r2 = st->comp[r2];
      if (r1 != r2) st->comp[r1 > r2 ? r1 : r2] = r1 < r2 ? r1 : r2;
    }
  }
  st->nbr_off[nq] = (int)used;
  /* components numbered by their smallest qubit, members ascending */
  st->ncomp = 0;
  id = malloc(sizeof(int) * (size_t)(nq ? nq : 1));
  BPS_CHECK_GOTO(id, BPS_ERR_MEM, "out of memory (light cones of %d output qubits)", nq);
  for (int j = 0; j < nq; j++) {
    int r = j;
    while (st->comp[r] != r) r = st->comp[r];
    id[j] = r == j ? st->ncomp++ : id[r];
  }
  for (int j = 0; j < nq; j++) st->comp_off[id[j] + 1]++;
  for (int c = 0; c < st->ncomp; c++) st->comp_off[c + 1] += st->comp_off[c];
  fill = calloc((size_t)st->ncomp + 1, sizeof(int));
  BPS_CHECK_GOTO(fill, BPS_ERR_MEM, "out of memory (light cones of %d output qubits)", nq);
  for (int j = 0; j < nq; j++) st->comp_q[st->comp_off[id[j]] + fill[id[j]]++] = j;
  for (int j = 0; j < nq; j++) st->comp[j] = id[j];
cleanup:
  free(fill);
  free(id);
  free(cone);
  free(live);
  return rc;
}

static int factor_cache(const mom_prob *P, e2_state *st);

static int e2_prepare(const mom_prob *P, const bps_mom_opts *o, void **out) {
  int cert = 1;
  for (int i = 0; i < P->nops; i++) {
    const bps_op *op = P->ops[i].op;
    BPS_CHECK(!(op->kind == BPS_OP_UNITARY && op->ens == BPS_ENS_HAAR), BPS_ERR_JOB,
              "the Pauli-pair engine cannot average Haar blocks (use the chain engine for "
              "haar perceptrons)");
    BPS_CHECK(!((op->kind == BPS_OP_UNITARY || op->kind == BPS_OP_KRAUS) && !P->ops[i].ptm),
              BPS_ERR_JOB,
              "the Pauli-pair engine handles fixed gates and channels on at "
              "most 2 qubits (operation %d acts on %d)",
              i, op->k);
    BPS_CHECK(!(op->kind == BPS_OP_PROT && op->ens == BPS_ENS_PAULI && op->ens_k > 12),
              BPS_ERR_JOB,
              "random Pauli strings on %d qubits: 4^%d strings per pair is "
              "beyond the Pauli-pair engine",
              op->ens_k, op->ens_k);
    if (op->kind == BPS_OP_PROT) {
      const double complex *m = P->ops[i].mom[0];
      cert &= cabs(m[1]) == 0 && cabs(m[2]) == 0; /* uniform full-period angles */
    }
    if (op->kind == BPS_OP_UNITARY) { /* Clifford: a signed permutation of the Paulis */
      const int np = 1 << (2 * op->k);
      for (int r = 0; r < np * np; r++) {
        double v = fabs(P->ops[i].ptm[r]);
        cert &= v == 0.0 || v == 1.0;
      }
    }
  }
  int rc = BPS_OK;
  e2_state *st = calloc(1, sizeof *st);
  BPS_CHECK_GOTO(st, BPS_ERR_MEM, "out of memory");
  st->budget = o ? o->pair_budget : 0;
  /* evaluations of different parameters run one per thread (momtask.c) */
  st->max_bytes = o && o->max_bytes > 0 ? (size_t)o->max_bytes / (size_t)bps_threads_max() : 0;
  st->certifiable = cert;
  st->cost_wire = malloc(sizeof(int) * (size_t)(P->data.nq ? P->data.nq : 1));
  BPS_CHECK_GOTO(st->cost_wire, BPS_ERR_MEM, "out of memory");
  for (int j = 0; j < P->data.nq; j++) st->cost_wire[j] = P->out_wire[P->data.q0 + j];
  BPS_CALL_GOTO(cones(P, st));
  BPS_CALL_GOTO(neighbours(P, st));
  if (!st->budget) BPS_CALL_GOTO(factor_cache(P, st));
  BPS_CHECK_GOTO(!(st->budget > 0 && !cert), BPS_ERR_JOB,
                 "[moments] truncation needs a circuit of uniform-angle rotations, "
                 "Clifford gates and Pauli or damping noise (bounds are certified "
                 "only for mass-non-increasing maps); this model has fixed-angle or "
                 "non-Clifford gates: remove the truncation to compute it exactly");
  *out = st;
  st = NULL; /* ownership handed to the caller */
cleanup:
  e2_release(st);
  return rc;
}

/* ---------------------------------------------------------------- one pass */

typedef struct {
  const mom_prob *P;
  const e2_state *st;
  pset cur, nxt;
  int *occ; /* [nwires] pairs with an entry on the wire */
  uint32_t *buf;
  long peak;
  long double dropped; /* mass dropped by the budget, times the gain still to come */
  int neg;             /* a negative coefficient appeared while truncating */
} e2_pass;

/* Letters (a on copy 1, b on copy 2) of pair i on wire w. */
static int code_at(const pset *s, long i, int w) {
  const uint32_t *e = s->ent + s->off[i];
  uint32_t lo = 0, hi = s->len[i];
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    int mw = (int)(e[mid] >> 4);
    if (mw == w) return (int)(e[mid] & 15);
    if (mw < w) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

/* Emit pair i with the codes on wires w[0..k) replaced by c[0..k), times coef. */
static int emit(e2_pass *x, long i, int k, const int *w, const int *c, double coef) {
  if (coef == 0.0) return BPS_OK;
  const pset *s = &x->cur;
  const uint32_t *e = s->ent + s->off[i];
  const uint32_t n = s->len[i];
  /* new entries for the k wires, sorted by wire (k is small) */
  uint32_t add[64];
  int na = 0;
  for (int u = 0; u < k; u++)
    if (c[u]) {
      uint32_t v = ((uint32_t)w[u] << 4) | (uint32_t)c[u];
      int p = na++;
      while (p > 0 && add[p - 1] > v) {
        add[p] = add[p - 1];
        p--;
      }
      add[p] = v;
    }
  uint32_t m = 0, a = 0;
  for (uint32_t r = 0; r < n; r++) {
    int rw = (int)(e[r] >> 4), on = 0;
    for (int u = 0; u < k; u++) on |= w[u] == rw;
    if (on) continue;
    while (a < (uint32_t)na && add[a] < e[r]) x->buf[m++] = add[a++];
    x->buf[m++] = e[r];
  }
  while (a < (uint32_t)na) x->buf[m++] = add[a++];
  BPS_CHECK(m <= E2_MAXSUP, BPS_ERR_JOB, "a Pauli pair grew beyond %d qubits", E2_MAXSUP);
  BPS_CALL(pset_add(&x->nxt, x->buf, m, coef));
  return BPS_OK;
}

/* i * G * Q for Pauli letters on k positions: letters out, real sign returned (G and Q
 * anticommute, so i G Q is Hermitian). */
static double tilde(int k, const int *G, const int *Q, int *out) {
  int ph = 1; /* the factor i */
  for (int u = 0; u < k; u++) {
    int p;
    out[u] = mom_pmul(G[u], Q[u], &p);
    ph += p;
  }
  ph &= 3;
  return ph == 0 ? 1.0 : -1.0; /* ph is 0 or 2 for anticommuting strings */
}

/* One rotation exp(-i s theta G) (letters G on wires w) on pair i, weight wt. */
static int rot_pair(e2_pass *x, long i, int k, const int *w, const int *G,
                    const double complex mom[3][3], int mode, double wt) {
  int a[64], b[64], ta[64] = {0}, tb[64] = {0}, c[64], anti_a = 0, anti_b = 0;
  for (int u = 0; u < k; u++) {
    int code = code_at(&x->cur, i, w[u]);
    a[u] = code >> 2;
    b[u] = code & 3;
    anti_a ^= mom_anti(G[u], a[u]);
    anti_b ^= mom_anti(G[u], b[u]);
  }
  const double cf = x->cur.coef[i] * wt;
  double sa = 0, sb = 0;
  if (anti_a) sa = tilde(k, G, a, ta);
  if (anti_b) sb = tilde(k, G, b, tb);
#define EMIT(A, B, v)                                                                           \
  do {                                                                                          \
    for (int u = 0; u < k; u++) c[u] = 4 * (A)[u] + (B)[u];                                     \
    BPS_CALL(emit(x, i, k, w, c, cf *(v)));                                                     \
  } while (0)
  const double c1 = creal(mom[0][1]), s1 = cimag(mom[0][1]);
  const double c2 = creal(mom[0][2]), s2 = cimag(mom[0][2]);
  if (mode == 0) {
    if (!anti_a && !anti_b) {
      EMIT(a, b, 1.0);
    } else if (anti_a && !anti_b) {
      EMIT(a, b, c1);
      EMIT(ta, b, s1 * sa);
    } else if (!anti_a) {
      EMIT(a, b, c1);
      EMIT(a, tb, s1 * sb);
    } else {
      EMIT(a, b, 0.5 * (1.0 + c2));
      EMIT(a, tb, 0.5 * s2 * sb);
      EMIT(ta, b, 0.5 * s2 * sa);
      EMIT(ta, tb, 0.5 * (1.0 - c2) * sa * sb);
    }
  } else if (mode == 1) { /* d/dtheta on copy 1: 2s(-sin phi Q + cos phi Q~) (x) R^dag Q' R */
    if (!anti_a) return BPS_OK;
    const double d1c = creal(mom[1][1]), d1s = cimag(mom[1][1]);
    const double d0c = creal(mom[1][0]), d2c = creal(mom[1][2]), d2s = cimag(mom[1][2]);
    if (!anti_b) {
      EMIT(a, b, -d1s);
      EMIT(ta, b, d1c * sa);
    } else {
      EMIT(a, b, -0.5 * d2s);
      EMIT(a, tb, -0.5 * (d0c - d2c) * sb);
      EMIT(ta, b, 0.5 * (d0c + d2c) * sa);
      EMIT(ta, tb, 0.5 * d2s * sa * sb);
    }
  } else { /* both copies differentiated */
    if (!anti_a || !anti_b) return BPS_OK;
    const double e0 = creal(mom[2][0]), e2c = creal(mom[2][2]), e2s = cimag(mom[2][2]);
    EMIT(a, b, 0.5 * (e0 - e2c));
    EMIT(a, tb, -0.5 * e2s * sb);
    EMIT(ta, b, -0.5 * e2s * sa);
    EMIT(ta, tb, 0.5 * (e0 + e2c) * sa * sb);
  }
#undef EMIT
  return BPS_OK;
}

static int rotation(e2_pass *x, long i, const mom_op *o, int mode) {
  const bps_op *op = o->op;
  int G[64];
  if (op->ens == BPS_ENS_AXIS) {
    for (int g = 1; g <= 3; g++)
      BPS_CALL(rot_pair(x, i, 1, o->wire, &g, o->mom, mode, 1.0 / 3.0));
    return BPS_OK;
  }
  if (op->ens == BPS_ENS_PAULI) {
    const int e = op->ens_k;
    const long ns = (1L << (2 * e)) - 1;
    for (long s = 1; s <= ns; s++) {
      for (int u = 0; u < e; u++) G[u] = (int)((s >> (2 * (e - 1 - u))) & 3);
      BPS_CALL(rot_pair(x, i, e, o->ewire, G, o->mom, mode, 1.0 / (double)ns));
    }
    return BPS_OK;
  }
  for (int u = 0; u < op->k; u++) G[u] = mom_letter(op->pauli[u]);
  BPS_CALL(rot_pair(x, i, op->k, o->wire, G, o->mom, mode, 1.0));
  return BPS_OK;
}

/* Fixed gate / channel through its Heisenberg PTM R (k <= 2 qubits) on pair i. */
static int ptm_pair(e2_pass *x, long i, const mom_op *o) {
  const int k = o->op->k, np = 1 << (2 * k);
  int A = 0, B = 0;
  for (int u = 0; u < k; u++) {
    int code = code_at(&x->cur, i, o->wire[u]);
    A = 4 * A + (code >> 2);
    B = 4 * B + (code & 3);
  }
  const double *ra = o->ptm + (size_t)A * (size_t)np, *rb = o->ptm + (size_t)B * (size_t)np;
  const double cf = x->cur.coef[i];
  int c[2];
  for (int Qa = 0; Qa < np; Qa++) {
    if (ra[Qa] == 0.0) continue;
    for (int Qb = 0; Qb < np; Qb++) {
      if (rb[Qb] == 0.0) continue;
      for (int u = 0; u < k; u++) {
        int sh = 2 * (k - 1 - u);
        c[u] = 4 * ((Qa >> sh) & 3) + ((Qb >> sh) & 3);
      }
      BPS_CALL(emit(x, i, k, o->wire, c, cf * ra[Qa] * rb[Qb]));
    }
  }
  return BPS_OK;
}

/* The wires an append created (consecutive ids w0 .. w0+k-1): <0| P |0> on each copy. */
static int append_pair(e2_pass *x, long i, const mom_op *o) {
  const pset *s = &x->cur;
  const uint32_t *e = s->ent + s->off[i];
  const int w0 = o->wire[0], k = o->op->k;
  uint32_t m = 0;
  for (uint32_t r = 0; r < s->len[i]; r++) {
    int w = (int)(e[r] >> 4), code = (int)(e[r] & 15);
    if (w >= w0 && w < w0 + k) {
      int a = code >> 2, b = code & 3;
      if ((a != MOM_I && a != MOM_Z) || (b != MOM_I && b != MOM_Z)) return BPS_OK; /* killed */
      continue;
    }
    x->buf[m++] = e[r];
  }
  BPS_CALL(pset_add(&x->nxt, x->buf, m, s->coef[i]));
  return BPS_OK;
}

static int depol_pair(e2_pass *x, long i, const mom_op *o) {
  int sa = 0, sb = 0;
  for (int u = 0; u < o->op->k; u++) {
    int code = code_at(&x->cur, i, o->wire[u]);
    sa |= code >> 2;
    sb |= code & 3;
  }
  const double f = (sa ? 1.0 - o->op->scale : 1.0) * (sb ? 1.0 - o->op->scale : 1.0);
  const pset *s = &x->cur;
  BPS_CALL(pset_add(&x->nxt, s->ent + s->off[i], s->len[i], s->coef[i] * f));
  return BPS_OK;
}

/* Does the op touch any pair? (APPEND: its wires are [w0, w0 + k)). */
static int touches(const e2_pass *x, const mom_op *o) {
  const bps_op *op = o->op;
  if (op->kind == BPS_OP_TRACE) return 0;
  if (op->kind == BPS_OP_APPEND) {
    for (int u = 0; u < op->k; u++)
      if (x->occ[o->wire[0] + u]) return 1;
    return 0;
  }
  const int *w;
  const int k = op_support(o, &w);
  for (int u = 0; u < k; u++)
    if (x->occ[w[u]]) return 1;
  return 0;
}

static void occ_rebuild(e2_pass *x) {
  memset(x->occ, 0, sizeof(int) * (size_t)x->P->nwires);
  const pset *s = &x->cur;
  for (long i = 0; i < s->n; i++)
    for (uint32_t r = 0; r < s->len[i]; r++) x->occ[s->ent[s->off[i] + r] >> 4]++;
}

/* Drop the smallest pairs beyond the budget (deterministic: by coefficient, then index;
 * the comparator reads the coefficients of this thread's pass). */
static _Thread_local const double *t_coef;
static int cmp_idx(const void *pa, const void *pb) {
  long a = *(const long *)pa, b = *(const long *)pb;
  double ca = t_coef[a], cb = t_coef[b];
  if (ca != cb) return ca > cb ? -1 : 1;
  return a < b ? -1 : a > b;
}

static int truncate_set(e2_pass *x, long double gain) {
  pset *s = &x->cur;
  for (long i = 0; i < s->n; i++)
    if (s->coef[i] < 0) x->neg = 1;
  if (x->neg) return BPS_OK;
  int rc = BPS_OK;
  unsigned char *drop = NULL;
  long *idx = malloc(sizeof(long) * (size_t)s->n);
  BPS_CHECK_GOTO(idx, BPS_ERR_MEM, "out of memory");
  for (long i = 0; i < s->n; i++) idx[i] = i;
  t_coef = s->coef;
  qsort(idx, (size_t)s->n, sizeof(long), cmp_idx);
  const long keep = x->st->budget;
  drop = calloc((size_t)s->n, 1);
  BPS_CHECK_GOTO(drop, BPS_ERR_MEM, "out of memory");
  for (long r = keep; r < s->n; r++) {
    drop[idx[r]] = 1;
    x->dropped += gain * (long double)s->coef[idx[r]];
  }
  pset_clear(&x->nxt);
  for (long i = 0; i < s->n; i++)
    if (!drop[i]) BPS_CALL_GOTO(pset_add(&x->nxt, s->ent + s->off[i], s->len[i], s->coef[i]));
  pset t = x->cur;
  x->cur = x->nxt;
  x->nxt = t;
cleanup:
  free(idx);
  free(drop);
  return rc;
}

/* Expand the observable into pairs on the cost wires (local: the (j, j') with j, j' in
 * cone, or all when cone is NULL). */
static int expand_prod(e2_pass *x, const mom_prod *pr, const int *cw) {
  const int nq = pr->nq;
  int rc = BPS_OK;
  int *pos = calloc((size_t)(nq ? nq : 1), sizeof(int));
  BPS_CHECK_GOTO(pos, BPS_ERR_MEM, "out of memory");
  for (int t = 0; t < pr->nterm; t++) {
    /* odometer over the non-zero entries of each site */
    memset(pos, 0, sizeof(int) * (size_t)nq);
    int ok = 1;
    for (int q = 0; q < nq && ok; q++) {
      const double *v = mom_site(pr, t, q);
      while (pos[q] < 16 && v[pos[q]] == 0.0) pos[q]++;
      ok = pos[q] < 16;
    }
    while (ok) {
      long double c = pr->coef[t];
      uint32_t m = 0;
      for (int q = 0; q < nq; q++) {
        c *= mom_site(pr, t, q)[pos[q]];
        if (pos[q]) x->buf[m++] = ((uint32_t)cw[q] << 4) | (uint32_t)pos[q];
      }
      /* cost wires ascend with q (outputs keep their order), so buf is sorted */
      BPS_CALL_GOTO(pset_add(&x->cur, x->buf, m, (double)c));
      int q = nq - 1;
      for (; q >= 0; q--) {
        const double *v = mom_site(pr, t, q);
        do pos[q]++;
        while (pos[q] < 16 && v[pos[q]] == 0.0);
        if (pos[q] < 16) break;
        pos[q] = 0;
        while (v[pos[q]] == 0.0) pos[q]++;
      }
      if (q < 0) break;
    }
  }
cleanup:
  free(pos);
  return rc;
}

static int add_site_pairs(e2_pass *x, const double *const *sv, const int *w, int n,
                          long double coef) {
  /* product of n sites (each with few entries), n <= 2 */
  for (int a = 0; a < 16; a++) {
    if (sv[0][a] == 0.0) continue;
    if (n == 1) {
      uint32_t e = ((uint32_t)w[0] << 4) | (uint32_t)a;
      BPS_CALL(pset_add(&x->cur, &e, a ? 1 : 0, (double)(coef * sv[0][a])));
      continue;
    }
    for (int b = 0; b < 16; b++) {
      if (sv[1][b] == 0.0) continue;
      uint32_t e[2];
      int m = 0;
      if (a) e[m++] = ((uint32_t)w[0] << 4) | (uint32_t)a;
      if (b) e[m++] = ((uint32_t)w[1] << 4) | (uint32_t)b;
      if (m == 2 && e[0] > e[1]) {
        uint32_t t = e[0];
        e[0] = e[1];
        e[1] = t;
      }
      BPS_CALL(pset_add(&x->cur, e, (uint32_t)m, (double)(coef * sv[0][a] * sv[1][b])));
    }
  }
  return BPS_OK;
}

static int expand_local(e2_pass *x, const mom_obs *o, const int *cw, const int *sel, int nsel) {
  /* sum over j, j2 in sel of (x) lsite[role]: the identity sites are pairs of II (no entry) */
  for (int a = 0; a < nsel; a++) {
    const int j = sel[a];
    if (!o->two) {
      const double *sv[1] = {o->lsite[1]};
      BPS_CALL(add_site_pairs(x, sv, &cw[j], 1, o->lcoef));
      continue;
    }
    for (int b = 0; b < nsel; b++) {
      const int j2 = sel[b];
      if (j == j2) {
        const double *sv[1] = {o->lsite[3]};
        BPS_CALL(add_site_pairs(x, sv, &cw[j], 1, o->lcoef));
      } else {
        const double *sv[2] = {o->lsite[1], o->lsite[2]};
        int w[2] = {cw[j], cw[j2]};
        BPS_CALL(add_site_pairs(x, sv, w, 2, o->lcoef));
      }
    }
  }
  return BPS_OK;
}

/* The value of pair i against the input product sum (after the whole backward pass every
 * remaining wire is an input wire). */
static long double contract(const mom_prob *P, const pset *s, long i, const mom_prod *in,
                            const int *wire_to_in, const long double *base) {
  long double tot = 0;
  const uint32_t *e = s->ent + s->off[i];
  for (int t = 0; t < in->nterm; t++) {
    long double v = base[t];
    for (uint32_t r = 0; r < s->len[i] && v != 0; r++) {
      int qin = wire_to_in[e[r] >> 4];
      if (qin < 0) return NAN; /* cannot happen: a non-input wire survived */
      const double *sv = mom_site(in, t, qin);
      v *= (long double)sv[e[r] & 15] / (long double)sv[0];
    }
    tot += v;
  }
  (void)P;
  return tot * (long double)s->coef[i];
}

/* Propagate the seeded pairs x->cur backwards through every operation (derivative mode at
 * parameter p) and contract them with the input: *val. */
static int propagate(e2_pass *x, const mom_prod *in, int p, int mode, const int *wire_to_in,
                     long double *val) {
  const mom_prob *P = x->P;
  const e2_state *st = x->st;
  long double gain = 1.0L; /* the derivative's mass factor still to come (budget bounds) */
  if (p >= 0 && mode > 0) gain = (long double)creal(P->ops[P->param_op[p]].mom[mode][0]);
  occ_rebuild(x);
  if (x->cur.n > x->peak) x->peak = x->cur.n;
  for (int i = P->nops - 1; i >= 0 && x->cur.n > 0; i--) {
    const mom_op *o = &P->ops[i];
    const bps_op *op = o->op;
    const int dmode = (op->kind == BPS_OP_PROT && op->param == p) ? mode : 0;
    if (!dmode && !touches(x, o)) continue;
    if (dmode) gain = 1.0L;
    pset_clear(&x->nxt);
    for (long j = 0; j < x->cur.n; j++) {
      switch (op->kind) {
      case BPS_OP_PROT: BPS_CALL(rotation(x, j, o, dmode)); break;
      case BPS_OP_UNITARY:
      case BPS_OP_KRAUS: BPS_CALL(ptm_pair(x, j, o)); break;
      case BPS_OP_APPEND: BPS_CALL(append_pair(x, j, o)); break;
      case BPS_OP_DEPOL: BPS_CALL(depol_pair(x, j, o)); break;
      case BPS_OP_TRACE: break;
      }
    }
    pset t = x->cur;
    x->cur = x->nxt;
    x->nxt = t;
    if (x->cur.n > x->peak) x->peak = x->cur.n;
    if (st->budget > 0 && x->cur.n > st->budget) {
      BPS_CALL(truncate_set(x, gain));
      BPS_CHECK(!x->neg, BPS_ERR_JOB,
                "[moments] truncation: a negative pair coefficient appeared, so "
                "the bounds would not be certified; remove the truncation");
    }
    occ_rebuild(x);
  }
  long double base[MOM_MAXTERM];
  for (int t = 0; t < in->nterm; t++) { /* prod over every input wire of Tr(site) */
    base[t] = in->coef[t];
    for (int q = 0; q < in->nq; q++) base[t] *= 4.0L * (long double)mom_site(in, t, q)[0];
  }
  long double tot = 0;
  for (long j = 0; j < x->cur.n; j++) tot += contract(P, &x->cur, j, in, wire_to_in, base);
  *val = tot;
  return BPS_OK;
}

static int site_nonzero(const double v[16]) {
  for (int c = 0; c < 16; c++)
    if (v[c] != 0.0) return 1;
  return 0;
}

/* A local two-copy cost without derivative and with a product-form input: the pairs
 * (j, j') whose light cones overlap are propagated together, every other pair is
 * independent and contributes the product of its one-copy means m1_j m2_j':
 *   sum_{j, j'} = sum_{overlap} + (sum_j m1_j)(sum_j m2_j) - sum_{overlap} m1_j m2_j'. */
static int local_cost(e2_pass *x, const mom_obs *o, const mom_prod *in, const int *wire_to_in,
                      long double *val) {
  const e2_state *st = x->st;
  const int nq = o->nq, q0 = o->q0;
  const int *cw = x->P->out_wire + q0;
  int rc = BPS_OK;
  long double *m1 = calloc((size_t)(2 * nq + 1), sizeof(long double)), *m2 = m1 + nq;
  BPS_CHECK_GOTO(m1, BPS_ERR_MEM, "out of memory");
  long double S = 0, s1 = 0, s2 = 0, sub = 0;
  for (int j = 0; j < nq; j++) { /* one light-cone-sized batch per cost qubit j */
    pset_clear(&x->cur);
    for (int a = st->nbr_off[q0 + j]; a < st->nbr_off[q0 + j + 1]; a++) {
      const int j2 = st->nbr[a] - q0;
      if (j2 < 0 || j2 >= nq) continue; /* not a cost qubit */
      if (j == j2) {
        const double *sv[1] = {o->lsite[3]};
        BPS_CALL_GOTO(add_site_pairs(x, sv, &cw[j], 1, 1.0L));
      } else {
        const double *sv[2] = {o->lsite[1], o->lsite[2]};
        int w[2] = {cw[j], cw[j2]};
        BPS_CALL_GOTO(add_site_pairs(x, sv, w, 2, 1.0L));
      }
    }
    long double Sj = 0;
    BPS_CALL_GOTO(propagate(x, in, -1, 0, wire_to_in, &Sj));
    S += Sj;
  }
  for (int side = 1; side <= 2; side++) {
    if (!site_nonzero(o->lsite[side])) continue;
    for (int j = 0; j < nq; j++) {
      const double *sv[1] = {o->lsite[side]};
      pset_clear(&x->cur);
      BPS_CALL_GOTO(add_site_pairs(x, sv, &cw[j], 1, 1.0L));
      BPS_CALL_GOTO(propagate(x, in, -1, 0, wire_to_in, side == 1 ? &m1[j] : &m2[j]));
    }
  }
  for (int j = 0; j < nq; j++) {
    s1 += m1[j];
    s2 += m2[j];
    for (int a = st->nbr_off[q0 + j]; a < st->nbr_off[q0 + j + 1]; a++) {
      const int j2 = st->nbr[a] - q0;
      if (j2 >= 0 && j2 < nq) sub += m1[j] * m2[j2];
    }
  }
  *val = o->lcoef * (S + s1 * s2 - sub);
cleanup:
  free(m1);
  return rc;
}

/* Seed term t of a product observable restricted to the output qubits of component c
 * (identity elsewhere): an odometer over the non-zero entries of each site. */
static int seed_component(e2_pass *x, const mom_obs *o, int t, int c) {
  const e2_state *st = x->st;
  const mom_prod *pr = &o->prod;
  const int na = st->comp_off[c + 1] - st->comp_off[c];
  int rc = BPS_OK;
  int *qs = malloc(sizeof(int) * (size_t)(2 * na + 1)), n = 0;
  BPS_CHECK_GOTO(qs, BPS_ERR_MEM, "out of memory");
  int *pos = qs + na;
  for (int a = st->comp_off[c]; a < st->comp_off[c + 1]; a++) {
    const int q = st->comp_q[a];
    if (q >= o->q0 && q < o->q0 + o->nq) qs[n++] = q;
  }
  /* a term has at most n entries: checked before any is written to x->buf */
  BPS_CHECK_GOTO(n <= E2_MAXSUP, BPS_ERR_JOB, "a Pauli pair grew beyond %d qubits", E2_MAXSUP);
  pset_clear(&x->cur);
  int empty = 0;
  for (int u = 0; u < n && !empty; u++) {
    const double *v = mom_site(pr, t, qs[u] - o->q0);
    pos[u] = 0;
    while (pos[u] < 16 && v[pos[u]] == 0.0) pos[u]++;
    empty = pos[u] == 16; /* a zero site: the term vanishes */
  }
  while (!empty) {
    long double cf = 1.0L; /* the term's coefficient enters once, in factor_pass */
    uint32_t m = 0;
    for (int u = 0; u < n; u++) {
      cf *= mom_site(pr, t, qs[u] - o->q0)[pos[u]];
      if (pos[u]) x->buf[m++] = ((uint32_t)x->P->out_wire[qs[u]] << 4) | (uint32_t)pos[u];
    }
    BPS_CALL_GOTO(pset_add(&x->cur, x->buf, m, (double)cf));
    int u = n - 1;
    for (; u >= 0; u--) {
      const double *v = mom_site(pr, t, qs[u] - o->q0);
      do pos[u]++;
      while (pos[u] < 16 && v[pos[u]] == 0.0);
      if (pos[u] < 16) break;
      pos[u] = 0;
      while (v[pos[u]] == 0.0) pos[u]++;
    }
    if (u < 0) break;
  }
cleanup:
  free(qs);
  BPS_CHECK(!rc, rc, "component %d of the cost", c);
  return BPS_OK;
}

/* Can pass (in, obs) be factorised over components? A product observable, a normalised
 * product input (one term of coefficient 1, every site of trace 1), no budget. */
static int factorisable(const e2_state *st, const mom_prod *in, const mom_obs *obs) {
  if (obs->local || in->nterm != 1 || st->budget > 0 || !st->comp) return 0;
  if (in->coef[0] != 1.0L) return 0;
  for (int q = 0; q < in->nq; q++)
    if (mom_site(in, 0, q)[0] != 0.25) return 0;
  return 1;
}

/* The component holding parameter p's forward light cone on the cost qubits (-1: none). */
static int param_comp(const mom_prob *P, const e2_state *st, int p) {
  if (st->cone_off[p + 1] == st->cone_off[p]) return -1;
  return st->comp[P->data.q0 + st->cone[st->cone_off[p]]];
}

/* A factorised pass: sum over the observable's terms of the product over components of
 * their values; with a derivative (p >= 0, mode > 0) only p's component is differentiated
 * and the others enter through their cached values (cval/cexcl of this kind, or computed
 * here when kind < 0). */
static int factor_pass(e2_pass *x, int kind, const mom_prod *in, const mom_obs *obs, int p,
                       int mode, const int *wire_to_in, long double *val) {
  const e2_state *st = x->st;
  const int nc = st->ncomp, deriv = p >= 0 && mode > 0;
  const int cp = deriv ? param_comp(x->P, st, p) : -1;
  long double tot = 0;
  if (deriv && cp < 0) { /* p reaches no cost qubit: its derivative vanishes */
    *val = 0;
    return BPS_OK;
  }
  const int cached = kind >= 0 && st->factor[kind];
  for (int t = 0; t < obs->prod.nterm; t++) {
    long double prod = 1.0L;
    if (deriv) {
      long double v;
      BPS_CALL(seed_component(x, obs, t, cp));
      BPS_CALL(propagate(x, in, p, mode, wire_to_in, &v));
      long double rest = 1.0L;
      if (cached) {
        rest = st->cexcl[kind][t * nc + cp];
      } else {
        for (int c = 0; c < nc; c++) {
          if (c == cp) continue;
          long double w;
          BPS_CALL(seed_component(x, obs, t, c));
          BPS_CALL(propagate(x, in, -1, 0, wire_to_in, &w));
          rest *= w;
        }
      }
      prod = v * rest;
    } else if (cached) {
      prod = st->cexcl[kind][t * nc + 0] * st->cval[kind][t * nc + 0];
    } else {
      for (int c = 0; c < nc; c++) {
        long double w;
        BPS_CALL(seed_component(x, obs, t, c));
        BPS_CALL(propagate(x, in, -1, 0, wire_to_in, &w));
        prod *= w;
      }
    }
    tot += obs->prod.coef[t] * prod;
  }
  *val = tot;
  return BPS_OK;
}

/* The workspace of one pass (and the wire -> input qubit map). */
static int pass_init(e2_pass *x, const mom_prob *P, const e2_state *st, int **wire_to_in) {
  memset(x, 0, sizeof *x);
  x->P = P;
  x->st = st;
  x->occ = malloc(sizeof(int) * (size_t)P->nwires);
  x->buf = malloc(sizeof(uint32_t) * E2_MAXSUP);
  *wire_to_in = malloc(sizeof(int) * (size_t)P->nwires);
  BPS_CHECK(x->occ && x->buf && *wire_to_in, BPS_ERR_MEM, "out of memory");
  x->cur.max_bytes = x->nxt.max_bytes = st->max_bytes / 2;
  BPS_CALL(pset_rehash(&x->cur, 1024));
  BPS_CALL(pset_rehash(&x->nxt, 1024));
  for (int w = 0; w < P->nwires; w++) (*wire_to_in)[w] = -1;
  for (int q = 0; q < P->c->q_in; q++) (*wire_to_in)[P->in_wire[q]] = q;
  return BPS_OK;
}

static void pass_free(e2_pass *x, int *wire_to_in) {
  pset_free(&x->cur);
  pset_free(&x->nxt);
  free(x->occ);
  free(x->buf);
  free(wire_to_in);
}

static int e2_pass_run(const mom_prob *P, const void *vst, int kind, const mom_prod *in,
                       const mom_obs *obs, int p, int mode, long double *out, mom_pass_stats *ps) {
  const e2_state *st = vst;
  int rc = BPS_OK, *wire_to_in = NULL, *all = NULL;
  e2_pass x;
  memset(&x, 0, sizeof x);
  const int *cw = P->out_wire + obs->q0;
  BPS_CALL_GOTO(pass_init(&x, P, st, &wire_to_in));
  if (obs->local && obs->two && p < 0 && st->nbr && in->nterm == 1 && st->budget <= 0) {
    BPS_CALL_GOTO(local_cost(&x, obs, in, wire_to_in, out));
  } else if (factorisable(st, in, obs)) {
    BPS_CALL_GOTO(factor_pass(&x, kind, in, obs, p, mode, wire_to_in, out));
  } else {
    if (obs->local) {
      const int *sel = NULL;
      int nsel = obs->nq;
      if (p >= 0 && mode > 0) { /* only cost qubits in p's forward light cone matter */
        sel = st->cone + st->cone_off[p];
        nsel = st->cone_off[p + 1] - st->cone_off[p];
      } else {
        all = malloc(sizeof(int) * (size_t)(obs->nq ? obs->nq : 1));
        BPS_CHECK_GOTO(all, BPS_ERR_MEM, "out of memory");
        for (int j = 0; j < obs->nq; j++) all[j] = j;
        sel = all;
      }
      BPS_CALL_GOTO(expand_local(&x, obs, cw, sel, nsel));
    } else {
      BPS_CALL_GOTO(expand_prod(&x, &obs->prod, cw));
    }
    BPS_CALL_GOTO(propagate(&x, in, p, mode, wire_to_in, out));
  }
cleanup:
  if (ps) { /* the pass's statistics, also of a failed pass */
    ps->peak_pairs = x.peak;
    ps->dropped = x.dropped;
  }
  pass_free(&x, wire_to_in);
  free(all);
  return rc;
}

/* The cached component values of pass kind `kind` (factor_cache), if it is factorisable. */
static int factor_cache_kind(const mom_prob *P, e2_state *st, int kind) {
  const int nc = st->ncomp;
  int rc = BPS_OK, *w2i = NULL;
  long double *pre = NULL;
  mom_prod in;
  mom_obs obs;
  e2_pass x;
  memset(&in, 0, sizeof in);
  memset(&obs, 0, sizeof obs);
  memset(&x, 0, sizeof x);
  BPS_CALL_GOTO(mom_input(P, kind, &in));
  BPS_CALL_GOTO(mom_observable(P, kind, &obs));
  if (!factorisable(st, &in, &obs)) goto cleanup; /* nothing to cache: not an error */
  const int nt = obs.prod.nterm;
  st->cval[kind] = malloc(sizeof(long double) * (size_t)(nt * nc + 1));
  st->cexcl[kind] = malloc(sizeof(long double) * (size_t)(nt * nc + 1));
  pre = malloc(sizeof(long double) * (size_t)(nc + 1));
  BPS_CHECK_GOTO(st->cval[kind] && st->cexcl[kind] && pre, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(pass_init(&x, P, st, &w2i));
  for (int t = 0; t < nt; t++) {
    long double *v = st->cval[kind] + t * nc, *e = st->cexcl[kind] + t * nc;
    for (int c = 0; c < nc; c++) {
      BPS_CALL_GOTO(seed_component(&x, &obs, t, c));
      BPS_CALL_GOTO(propagate(&x, &in, -1, 0, w2i, &v[c]));
    }
    pre[0] = 1.0L; /* e[c] = (v[0] ... v[c-1]) (v[c+1] ... v[nc-1]) */
    for (int c = 0; c < nc; c++) pre[c + 1] = pre[c] * v[c];
    long double suf = 1.0L;
    for (int c = nc - 1; c >= 0; c--) {
      e[c] = pre[c] * suf;
      suf *= v[c];
    }
  }
  st->factor[kind] = 1;
cleanup:
  pass_free(&x, w2i);
  free(pre);
  mom_prod_free(&in);
  mom_obs_free(&obs);
  return rc;
}

/* Per pass kind with a factorisable input and observable: every component's value without
 * derivative, and the exclusive products prod_{c' != c} (prefix x suffix), so that a
 * gradient pass propagates one component only. */
static int factor_cache(const mom_prob *P, e2_state *st) {
  for (int kind = 0; kind < 3; kind++) BPS_CALL(factor_cache_kind(P, st, kind));
  return BPS_OK;
}

/* The widest the backward light cone of the output qubits outs[0..n) gets at a register
 * boundary: the most wires live when the circuit is walked from the cost back to the
 * inputs, counted where ancillas are created (a DQNN layer's start) and at the inputs. A
 * pair set there holds up to about 4^width Pauli strings per copy (pairs of equal strings
 * for uniform rotations; measured peaks: half of that for brick DQNNs, n = 4..8). */
static int cone_width(const mom_prob *P, const int *outs, int n, unsigned char *live) {
  const int W = P->nwires;
  memset(live, 0, (size_t)W);
  int nlive = 0, most = 0;
  for (int j = 0; j < n; j++)
    nlive += !live[P->out_wire[outs[j]]], live[P->out_wire[outs[j]]] = 1;
  most = nlive;
  for (int i = P->nops - 1; i >= 0; i--) {
    const mom_op *o = &P->ops[i];
    const bps_op *op = o->op;
    if (op->kind == BPS_OP_TRACE || op->kind == BPS_OP_DEPOL) continue;
    if (op->kind == BPS_OP_APPEND) {
      for (int u = 0; u < op->k; u++) nlive -= live[o->wire[u]], live[o->wire[u]] = 0;
      if (nlive > most) most = nlive;
      continue;
    }
    const int *w;
    const int k = op_support(o, &w);
    if (!any_marked(live, w, k)) continue;
    for (int u = 0; u < k; u++) nlive += !live[w[u]], live[w[u]] = 1;
  }
  return nlive > most ? nlive : most;
}

/* Predicted cost: per light-cone component (product observables) or per cost qubit and its
 * neighbour batch (local costs), the larger of the observable's own expansion and the
 * strings its backward light cone can hold (cone_width), at 2e-7 s per pair and gate
 * (moments.c times one evaluation where a run needs it). A cone too wide for a rank's
 * memory is impossibility, with the reason. */
static int e2_predict(const mom_prob *P, const bps_mom_opts *o, double *seconds, double *bytes,
                      char *why, size_t whylen) {
  (void)o;
  why[0] = 0;
  for (int i = 0; i < P->nops; i++) {
    const bps_op *op = P->ops[i].op;
    if (op->kind == BPS_OP_UNITARY && op->ens == BPS_ENS_HAAR) {
      snprintf(why, whylen, "pauli: Haar blocks are not Pauli rotations");
      *seconds = *bytes = INFINITY;
      return BPS_OK;
    }
    if (op->kind == BPS_OP_PROT && op->ens == BPS_ENS_PAULI && op->ens_k > 12) {
      snprintf(why, whylen, "pauli: random Pauli strings on %d qubits", op->ens_k);
      *seconds = *bytes = INFINITY;
      return BPS_OK;
    }
  }
  /* the observable's pairs per light-cone component: product observables expand into
   * (entries per site)^(component size), local costs into about (neighbours)^2 per batch */
  int rc = BPS_OK;
  unsigned char *live = NULL;
  e2_state st;
  memset(&st, 0, sizeof st);
  st.cost_wire = malloc(sizeof(int) * (size_t)(P->data.nq ? P->data.nq : 1));
  BPS_CHECK_GOTO(st.cost_wire, BPS_ERR_MEM, "out of memory");
  for (int j = 0; j < P->data.nq; j++) st.cost_wire[j] = P->out_wire[P->data.q0 + j];
  BPS_CALL_GOTO(cones(P, &st));
  BPS_CALL_GOTO(neighbours(P, &st));
  /* DQNN layers (ancillas appended) mix their whole cone: up to 4^width strings (brick:
   * measured half of that). Circuits without layers (hea) keep few strings, because a
   * uniform rotation pairs a string with one partner and CZ/CNOT map strings to strings:
   * 16 width^2 (alt, 4 layers, local cost: width 9, 925 pairs measured at every n). */
  int layered = 0;
  for (int i = 0; i < P->nops; i++) layered |= P->ops[i].op->kind == BPS_OP_APPEND;
  double pairs = 0, work = 0;
  live = malloc((size_t)(P->nwires ? P->nwires : 1));
  BPS_CHECK_GOTO(live, BPS_ERR_MEM, "out of memory");
  if (P->data.kind == BPS_OBS_LOCAL) {
    for (int j = P->data.q0; j < P->data.q0 + P->data.nq; j++) {
      const double nb = st.nbr_off[j + 1] - st.nbr_off[j];
      const int w = cone_width(P, &j, 1, live);
      const double cp = fmax(4.0 * nb, layered ? pow(4.0, w) : 16.0 * w * w);
      pairs = fmax(pairs, cp);
      work += cp * nb;
    }
  } else {
    const int per = P->data.kind == BPS_OBS_PAULI ? 1 : 4;
    for (int c = 0; c < st.ncomp; c++) {
      int in = 0; /* component qubits that carry the cost */
      for (int a = st.comp_off[c]; a < st.comp_off[c + 1]; a++)
        in += st.comp_q[a] >= P->data.q0 && st.comp_q[a] < P->data.q0 + P->data.nq;
      const int w = cone_width(P, st.comp_q + st.comp_off[c],
                               st.comp_off[c + 1] - st.comp_off[c], live);
      const double cp = fmax(pow(per, in), layered ? pow(4.0, w) : 16.0 * w * w);
      pairs = fmax(pairs, cp);
      work += cp;
    }
  }
  if (pairs > 1e8) { /* a refusal with its reason, not an error */
    snprintf(why, whylen, "pauli: up to %.3g Pauli pairs in one light cone (%s)", pairs,
             P->data.kind == BPS_OBS_LOCAL ? "a local term's cone spans too many qubits"
                                           : "a global cost over coupled qubits");
    *seconds = *bytes = INFINITY;
  } else {
    *bytes = 256.0 * pairs + 64.0 * (double)P->nwires; /* measured: about 1/4 of this */
    /* per item, without layers: a local cost's pass for one parameter touches the terms whose
     * cones hold it (the factor cache keeps the others), i.e. about work / parameters */
    if (!layered && P->data.kind == BPS_OBS_LOCAL && P->nparams > 0) work /= P->nparams;
    *seconds = 2e-7 * work + 2e-8 * (double)P->nops;
  }
cleanup:
  free(live);
  free(st.cost_wire);
  free(st.cone_off);
  free(st.cone);
  free(st.nbr_off);
  free(st.nbr);
  free(st.comp);
  free(st.comp_off);
  free(st.comp_q);
  return rc;
}

const mom_engine bps_mom_engine_pauli = {BPS_MOM_PAULI, e2_prepare, e2_pass_run, e2_release,
                                         e2_predict};

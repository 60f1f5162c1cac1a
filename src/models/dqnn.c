/* dqnn: the dissipative perceptron QNN of Beer et al. (Nat. Commun. 11, 808) in the
 * parameterisations analysed by Sharma et al. (PRL 128, 180505); physics.md Sec. 1.
 *
 * Network. Widths m_0 .. m_L come from spec->widths evaluated at n (L >= 1 transitions);
 * q_in = m_0, q_out = m_L. While layer l is built, layer l-1 is qubits 0..m_{l-1}-1:
 *   APPEND m_l                    layer l = qubits m_{l-1} .. m_{l-1}+m_l-1 (fresh |0>)
 *   perceptrons j = 1..m_l        in order (perceptron 1 first, U^l = U_{m_l} ... U_1);
 *                                 "in_i" = qubit i-1, "out_j" = qubit m_{l-1}+j-1
 *   TRACE qubits 0..m_{l-1}-1     the leading qubits (zero-copy in the factored form), so
 *                                 layer l becomes qubits 0..m_l-1
 *   [noise after the layer]
 * so at most two adjacent layers exist. Training pairs: bps_data_pairs (models.h).
 *
 * Parameters are ordered layer by layer, perceptron by perceptron, gate by gate in
 * application order (so the index order is the order of first appearance in the circuit).
 * Initial angles: haar 0 (gradient at theta = 0); every other family i.i.d. uniform in
 * [0, 2 pi), drawn in parameter order from the stream (seed, n, sample, PARAMS, sub 0).
 * Random unitaries/Pauli strings: stream (seed, n, sample, UNITARY, sub) with
 * sub = (l << 16) | (j << 1) | part (l, j 1-based; part 0 = B, 1 = A for haar; 0 for pauli).
 * R_P(t) = exp(-i t P/2) is bps_circuit_prot(P, scale 0.5).
 *
 * Families (spec->perceptron), parameter names "l<l>.p<j>.g<g>" unless stated:
 *   haar  (P3)  perceptron j on (in_1..in_m, out_j), m = m_{l-1}:
 *               V = A exp(-i theta Z_out/2) B, A, B independent Haar on m+1 qubits:
 *               UNITARY B, PROT "Z" on out_j (scale 0.5), UNITARY A. One parameter g1.
 *               The gate qubit order of A and B is (in_1, ..., in_m, out_j). The 2 m_l
 *               unitaries of a layer are sampled on all threads (outside parallel regions),
 *               each from its own stream, so the instance does not depend on the threads.
 *   toy   (P4)  needs m_{l-1} = m_l: SWAP(in_j, out_j) then R_y(theta) on out_j. g1.
 *   brick (P5)  Sharma Fig. 3(b) reconstruction. widths must be two equal entries w,w
 *               (e.g. "n,n"): the network has 2*D layers of width w, D = spec->depth HEA
 *               layers (0: ceil(log2 w), at least 1); w >= 2. Layer l odd: odd j carry V_1,
 *               even j V_2; l even: the roles swap. V_1 on (in_j, in_{j+1}, out_j) =
 *               W(in_j, in_{j+1}) then SWAP(in_j, out_j); V_2 (also V_1 without in_{j+1},
 *               i.e. j = w) = SWAP(in_j, out_j). The V_1 perceptrons are applied first (in
 *               ascending j), then the V_2 ones: in odd layers this is the caption's "odd j
 *               first"; in even layers "odd j first" would swap in_{j+1} out before the
 *               brick on (in_j, in_{j+1}) acts, so the brick order is used (the unitary
 *               equals plain ascending-j order, since V_1(j) only has to precede V_2(j+1)).
 *               Two DQNN layers = one brickwork (alternating layered) HEA layer on pairs
 *               (1,2),(3,4),... then (2,3),(4,5),...
 *               W (Cerezo et al. ALT block, R_y/CZ): R_y(g1) on in_j, R_y(g2) on in_{j+1},
 *               CZ, R_y(g3) on in_j, R_y(g4) on in_{j+1}. Four parameters per V_1; V_2 has
 *               none. (W is real orthogonal, not a 2-design: Cerezo's numerics' choice.)
 *   nisq  (P6)  per layer: U3 on every input qubit i as R_z(g1 = lambda), R_y(g2 = theta),
 *               R_z(g3 = phi) (U3 up to the phase e^{i(phi+lambda)/2}), names
 *               "l<l>.in<i>.g1..g3"; then for each output neuron j and each input i, in that
 *               order, CAN(tx,ty,tz) on (in_i, out_j) as PROT "XX","YY","ZZ" with scale 1
 *               (exp(-i t XX) ...), names "l<l>.p<j>.g<3(i-1)+1..3i>" (tx, ty, tz); after
 *               the last layer U3 on every output qubit i, "l<L>.out<i>.g1..g3".
 *               Count: sum_l (3 m_{l-1} m_l + 3 m_{l-1}) + 3 m_L.
 *               The final U3s act right after the last layer's partial trace and BEFORE
 *               that layer's noise at placement = layer (for dephasing and amplitude
 *               damping the order matters; depolarising channels commute with them); at
 *               placement = gate each U3 is followed by its own channel.
 *   pauli (P2)  Sharma Eq. (5): perceptron j on (in_1..in_m, out_j), spec->depth
 *               repetitions (0: 1) of [exp(-i theta Gamma/2), Gamma a uniformly random
 *               non-identity Pauli string on those m+1 qubits (drawn per sample), then
 *               CZ on the consecutive pairs (in_1,in_2), ..., (in_m, out_j)]. Names g1..gD.
 *               spec->depth is ignored by haar, toy and nisq.
 *
 * Noise (spec->noise with probability spec->noise_p in [0, 1]; p = 0 adds nothing):
 *   local kinds (depolarizing, dephasing, amplitude_damping; bps_noise_kraus):
 *     after_gate   the channel on every qubit of every gate right after it. A gate is a
 *                  Haar block, a SWAP, a CZ, an R_y / Pauli rotation (on its support), a U3
 *                  (after its three rotations) or a CAN (after its three rotations).
 *     after_layer  the channel on every qubit of layer l after the layer's partial trace
 *                  (nisq: after the final U3s in the last layer).
 *   global_depolarizing (after_layer only): rho^l -> (1-p) rho^l + p 1/2^{m_l} on the whole
 *     layer-l register after the partial trace (physics.md Sec. 4.10). after_gate is
 *     rejected: a gate touches two layers at once, one of them holding fresh ancillas, so
 *     "global" has no single register to act on there.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/gates.h"
#include "bpscan/linalg.h"
#include "bpscan/threads.h"
#include "models.h"

#define PNAME_LEN 32
#define HAAR_MAXQ BPS_HAAR_MAX_QUBITS /* bps_haar_unitary: dimension <= 2^15 */

typedef struct {
  const bps_model_spec *spec;
  int n;
  uint64_t seed;
  uint32_t sample;
  bps_circuit *c;
  bps_rng prm; /* initial angles, drawn in parameter order */
  int np, cap;
  double *theta;
  char (*names)[PNAME_LEN];
  bps_noise_plan nz; /* the noise channel and its placement (data.c) */
  int ens;           /* ensemble-only build: record the random elements, draw nothing */
} ctx;

static const char *perc_name(bps_perceptron p) {
  switch (p) {
  case BPS_PERC_HAAR: return "haar";
  case BPS_PERC_TOY: return "toy";
  case BPS_PERC_BRICK: return "brick";
  case BPS_PERC_NISQ: return "nisq";
  case BPS_PERC_PAULI: return "pauli";
  }
  return "?";
}

/* New parameter with initial value init (or a uniform angle when init is NAN). */
static int new_param(ctx *x, double init, int *idx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int new_param(ctx *x, double init, int *idx, const char *fmt, ...) {
  if (x->np == x->cap) {
    int ncap = x->cap ? 2 * x->cap : 64;
    double *t = realloc(x->theta, (size_t)ncap * sizeof *t);
    BPS_CHECK(t, BPS_ERR_MEM, "out of memory");
    x->theta = t;
    char(*nm)[PNAME_LEN] = realloc(x->names, (size_t)ncap * sizeof *nm);
    BPS_CHECK(nm, BPS_ERR_MEM, "out of memory");
    x->names = nm;
    x->cap = ncap;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->names[x->np], PNAME_LEN, fmt, ap);
  va_end(ap);
  x->theta[x->np] = isnan(init) ? bps_rng_angle(&x->prm) : init;
  *idx = x->np++;
  return BPS_OK;
}

/* The local channel on each of the k qubits (when it is placed after gates). */
static int gate_noise(ctx *x, int k, const int *qubits) {
  return bps_noise_after_gate(x->c, &x->nz, k, qubits);
}

static int gate_u(ctx *x, int k, const int *qubits, const bps_cplx *U) {
  BPS_CALL(bps_circuit_unitary(x->c, k, qubits, U));
  return gate_noise(x, k, qubits);
}

/* A Haar-random block (U: the drawn matrix) and its noise. */
static int gate_haar(ctx *x, int k, const int *qubits, const bps_cplx *U) {
  BPS_CALL(bps_circuit_haar(x->c, k, qubits, U));
  return gate_noise(x, k, qubits);
}

static int gate_2(ctx *x, int a, int b, void (*make)(bps_cplx *)) {
  bps_cplx U[16];
  make(U);
  int q[2] = {a, b};
  return gate_u(x, 2, q, U);
}

/* One rotation exp(-i scale theta P) on its qubits (no noise: the caller decides). */
static int rot(ctx *x, const char *P, const int *qubits, double scale, int idx) {
  return bps_circuit_prot(x->c, P, qubits, scale, idx);
}

/* R_y(g) as a gate (rotation + noise). */
static int ry_gate(ctx *x, int q, int idx) {
  BPS_CALL(rot(x, "Y", &q, 0.5, idx));
  return gate_noise(x, 1, &q);
}

/* U3 on qubit q as R_z(g1), R_y(g2), R_z(g3); names prefix.g1..g3. */
static int u3_gate(ctx *x, int q, const char *prefix) {
  static const char *P[3] = {"Z", "Y", "Z"};
  for (int g = 0; g < 3; g++) {
    int idx;
    BPS_CALL(new_param(x, NAN, &idx, "%s.g%d", prefix, g + 1));
    BPS_CALL(rot(x, P[g], &q, 0.5, idx));
  }
  return gate_noise(x, 1, &q);
}

static uint32_t unitary_sub(int l, int j, int part) {
  return ((uint32_t)l << 16) | ((uint32_t)j << 1) | (uint32_t)part;
}

/* ---------------------------------------------------------------- the families */

/* Haar unitaries of one layer, in circuit order u = 2(j-1) + part (part 0 = B, 1 = A),
 * are drawn in batches on all threads (each from its own stream: the result does not
 * depend on the thread count); a batch holds at most HAAR_BATCH_BYTES. */
#define HAAR_BATCH_BYTES ((size_t)256 << 20)

/* The same layer as an ensemble: Haar blocks without matrices, in the same order. */
static int layer_haar_ens(ctx *x, int l, int min, int mout) {
  const int k = min + 1;
  int *qs = malloc(sizeof(int) * (size_t)k), rc = BPS_OK;
  BPS_CHECK(qs, BPS_ERR_MEM, "out of memory");
  for (int i = 0; i < min; i++) qs[i] = i;
  for (int j = 1; j <= mout && !rc; j++) {
    qs[min] = min + j - 1;
    int idx = -1;
    rc = gate_haar(x, k, qs, NULL); /* B */
    if (!rc) rc = new_param(x, 0.0, &idx, "l%d.p%d.g1", l, j);
    if (!rc) rc = rot(x, "Z", &qs[min], 0.5, idx);
    if (!rc) rc = bps_circuit_param_angle(x->c, idx, BPS_ANGLE_FIXED); /* theta = 0 */
    if (!rc) rc = gate_noise(x, 1, &qs[min]);
    if (!rc) rc = gate_haar(x, k, qs, NULL); /* A */
  }
  free(qs);
  BPS_CALL(rc);
  return BPS_OK;
}

static int layer_haar(ctx *x, int l, int min, int mout) {
  if (x->ens) return layer_haar_ens(x, l, min, mout);
  const int k = min + 1, nu = 2 * mout;
  const size_t dd = (size_t)1 << (2 * k);
  int batch = bps_threads_in_parallel() ? 1 : bps_threads_max();
  size_t cap = HAAR_BATCH_BYTES / (dd * sizeof(bps_cplx));
  if ((size_t)batch > cap) batch = cap ? (int)cap : 1;
  if (batch > nu) batch = nu;
  int rc = BPS_OK;
  bps_cplx *U = bps_alloc(dd * (size_t)batch);
  int *rcs = calloc((size_t)batch, sizeof(int));
  BPS_CHECK_GOTO(U && rcs, BPS_ERR_MEM, "out of memory (Haar perceptrons on %d qubits)", k);
  int qs[BPS_OP_MAXQ];
  for (int i = 0; i < min; i++) qs[i] = i;
  for (int u0 = 0; u0 < nu; u0 += batch) {
    const int nb = nu - u0 < batch ? nu - u0 : batch;
    /* the threads keep their codes in rcs (no jump out of an OpenMP loop) */
#pragma omp parallel for schedule(static, 1) num_threads(nb) if (nb > 1)
    for (int b = 0; b < nb; b++) {
      const int u = u0 + b;
      bps_rng r;
      bps_rng_init(&r, x->seed, (uint32_t)x->n, x->sample, BPS_STREAM_UNITARY,
                   unitary_sub(l, u / 2 + 1, u % 2));
      rcs[b] = bps_haar_unitary(&r, 1 << k, U + (size_t)b * dd);
    }
    for (int b = 0; b < nb; b++) {
      const int u = u0 + b, j = u / 2 + 1;
      BPS_CHECK_GOTO(!rcs[b], rcs[b], "Haar unitary %c of perceptron %d, layer %d",
                     u % 2 ? 'A' : 'B', j, l);
      qs[min] = min + j - 1;
      if (u % 2) { /* B was the previous unitary: the rotation, then A */
        int idx = -1;
        BPS_CALL_GOTO(new_param(x, 0.0, &idx, "l%d.p%d.g1", l, j));
        BPS_CALL_GOTO(rot(x, "Z", &qs[min], 0.5, idx));
        BPS_CALL_GOTO(bps_circuit_param_angle(x->c, idx, BPS_ANGLE_FIXED)); /* theta = 0 */
        BPS_CALL_GOTO(gate_noise(x, 1, &qs[min]));
      }
      BPS_CALL_GOTO(gate_haar(x, k, qs, U + (size_t)b * dd));
    }
  }
cleanup:
  bps_free(U);
  free(rcs);
  return rc;
}

static int layer_toy(ctx *x, int l, int min, int mout) {
  for (int j = 1; j <= mout; j++) {
    int in = j - 1, out = min + j - 1, idx;
    BPS_CALL(gate_2(x, in, out, bps_gate_swap));
    BPS_CALL(new_param(x, NAN, &idx, "l%d.p%d.g1", l, j));
    BPS_CALL(ry_gate(x, out, idx));
  }
  return BPS_OK;
}

static int brick_v1(ctx *x, int l, int j, int w) {
  int a = j - 1, b = j, g[4];
  for (int t = 0; t < 4; t++) BPS_CALL(new_param(x, NAN, &g[t], "l%d.p%d.g%d", l, j, t + 1));
  BPS_CALL(ry_gate(x, a, g[0]));
  BPS_CALL(ry_gate(x, b, g[1]));
  BPS_CALL(gate_2(x, a, b, bps_gate_cz));
  BPS_CALL(ry_gate(x, a, g[2]));
  BPS_CALL(ry_gate(x, b, g[3]));
  return gate_2(x, a, w + j - 1, bps_gate_swap);
}

static int layer_brick(ctx *x, int l, int w) {
  /* V_1 on j with j = l (mod 2) and j + 1 <= w; everything else V_2 */
  for (int pass = 0; pass < 2; pass++)
    for (int j = 1; j <= w; j++) {
      int v1 = ((j - l) % 2 == 0) && j + 1 <= w;
      if (v1 != (pass == 0)) continue;
      if (v1) BPS_CALL(brick_v1(x, l, j, w));
      else BPS_CALL(gate_2(x, j - 1, w + j - 1, bps_gate_swap));
    }
  return BPS_OK;
}

static int layer_nisq(ctx *x, int l, int min, int mout) {
  char prefix[PNAME_LEN];
  for (int i = 1; i <= min; i++) {
    snprintf(prefix, sizeof prefix, "l%d.in%d", l, i);
    BPS_CALL(u3_gate(x, i - 1, prefix));
  }
  static const char *P[3] = {"XX", "YY", "ZZ"};
  for (int j = 1; j <= mout; j++)
    for (int i = 1; i <= min; i++) {
      int qs[2] = {i - 1, min + j - 1};
      for (int g = 0; g < 3; g++) {
        int idx;
        BPS_CALL(new_param(x, NAN, &idx, "l%d.p%d.g%d", l, j, 3 * (i - 1) + g + 1));
        BPS_CALL(rot(x, P[g], qs, 1.0, idx));
      }
      BPS_CALL(gate_noise(x, 2, qs));
    }
  return BPS_OK;
}

/* One random Pauli rotation of a pauli perceptron on the k qubits qs (ensemble builds
 * record the full support with placeholder letters) and its noise on the drawn support. */
static int pauli_rotation(ctx *x, bps_rng *r, int k, const int *qs, int idx, char *P, int *sup) {
  int ns = 0;
  if (x->ens) {
    for (int t = 0; t < k; t++) P[t] = 'Z', sup[t] = qs[t];
    ns = k;
  } else {
    const uint64_t mask = (k >= 32) ? ~UINT64_C(0) : ((UINT64_C(1) << (2 * k)) - 1);
    uint64_t u;
    do u = bps_rng_u64(r) & mask; /* 2 bits per qubit, uniform over non-zero strings */
    while (u == 0);
    for (int t = 0; t < k; t++) {
      int letter = (int)((u >> (2 * t)) & 3); /* 0 I, 1 X, 2 Y, 3 Z */
      if (!letter) continue;
      P[ns] = "IXYZ"[letter];
      sup[ns++] = qs[t];
    }
  }
  P[ns] = 0;
  BPS_CALL(rot(x, P, sup, 0.5, idx));
  BPS_CALL(bps_circuit_tag_last(x->c, BPS_ENS_PAULI, 0.0, k, qs)); /* uniform over qs */
  const int before = x->c->nops;
  BPS_CALL(gate_noise(x, ns, sup));
  BPS_CALL(bps_circuit_tag_support(x->c, x->c->nops - before)); /* on the drawn support */
  return BPS_OK;
}

static int layer_pauli(ctx *x, int l, int min, int mout, int depth) {
  const int k = min + 1;
  int *qs = malloc(sizeof(int) * (size_t)k), *sup = malloc(sizeof(int) * (size_t)k);
  char *P = malloc((size_t)k + 1);
  int rc = qs && sup && P ? BPS_OK : BPS_ERR_MEM;
  for (int i = 0; i < min && !rc; i++) qs[i] = i;
  for (int j = 1; j <= mout && !rc; j++) {
    qs[min] = min + j - 1;
    bps_rng r;
    bps_rng_init(&r, x->seed, (uint32_t)x->n, x->sample, BPS_STREAM_UNITARY, unitary_sub(l, j, 0));
    for (int rep = 1; rep <= depth && !rc; rep++) {
      int idx;
      rc = new_param(x, NAN, &idx, "l%d.p%d.g%d", l, j, rep);
      if (!rc) rc = pauli_rotation(x, &r, k, qs, idx, P, sup);
      for (int t = 0; t + 1 < k && !rc; t++) rc = gate_2(x, qs[t], qs[t + 1], bps_gate_cz);
    }
  }
  free(qs);
  free(sup);
  free(P);
  BPS_CHECK(!rc, rc, "pauli perceptrons of layer %d", l);
  return BPS_OK;
}

/* ---------------------------------------------------------------- validation */

static int ceil_log2(int w) {
  int d = 0;
  while ((1 << d) < w) d++;
  return d;
}

static int validate(const bps_model_spec *s, int n, const int *w, int nw, int ens) {
  const char *pn = perc_name(s->perceptron);
  BPS_CHECK(s->perceptron >= BPS_PERC_HAAR && s->perceptron <= BPS_PERC_PAULI, BPS_ERR_ARG,
            "unknown perceptron family %d", (int)s->perceptron);
  BPS_CHECK(nw >= 2, BPS_ERR_ARG,
            "dqnn widths \"%s\" give %d layer(s): need at least an input and an output layer",
            s->widths, nw);
  BPS_CHECK(s->depth >= 0, BPS_ERR_ARG, "depth = %d (must be >= 0)", s->depth);
  for (int l = 1; l < nw; l++) {
    BPS_CHECK(ens || w[l - 1] + w[l] <= BPS_MAX_QUBITS, BPS_ERR_ARG,
              "dqnn widths \"%s\" at n = %d: layers %d and %d hold %d + %d qubits (max %d)",
              s->widths, n, l - 1, l, w[l - 1], w[l], BPS_MAX_QUBITS);
    if (s->perceptron == BPS_PERC_HAAR && !ens)
      BPS_CHECK(w[l - 1] + 1 <= HAAR_MAXQ, BPS_ERR_ARG,
                "haar perceptrons of layer %d act on %d + 1 qubits at n = %d (max %d: a "
                "Haar unitary of dimension 2^%d)",
                l, w[l - 1], n, HAAR_MAXQ, HAAR_MAXQ);
    if (s->perceptron == BPS_PERC_PAULI && !ens)
      BPS_CHECK(w[l - 1] + 1 <= BPS_PAULI_MAX_QUBITS, BPS_ERR_ARG,
                "pauli perceptrons of layer %d act on %d + 1 qubits at n = %d (max %d)", l,
                w[l - 1], n, BPS_PAULI_MAX_QUBITS);
    if (s->perceptron == BPS_PERC_TOY)
      BPS_CHECK(w[l - 1] == w[l], BPS_ERR_ARG,
                "toy perceptrons connect input j to output j: they need equal widths, but "
                "widths \"%s\" give %d -> %d at layer %d (n = %d)",
                s->widths, w[l - 1], w[l], l, n);
  }
  if (s->perceptron == BPS_PERC_BRICK) {
    BPS_CHECK(nw == 2 && w[0] == w[1], BPS_ERR_ARG,
              "brick perceptrons build 2*depth layers of one width: widths must be two equal "
              "entries such as \"n,n\" (got \"%s\" = %d entries at n = %d)",
              s->widths, nw, n);
    BPS_CHECK(w[0] >= 2, BPS_ERR_ARG,
              "brick perceptrons need width >= 2 (width %d has no two-qubit brick and no "
              "parameters)",
              w[0]);
    BPS_CHECK(2 * (s->depth ? s->depth : 1) <= BPS_MAX_LAYERS, BPS_ERR_ARG,
              "brick depth %d gives more than %d DQNN layers", s->depth, BPS_MAX_LAYERS);
  }
  BPS_CHECK(s->targets != BPS_TARGET_UNITARY || w[0] == w[nw - 1], BPS_ERR_ARG,
            "targets = unitary (V|phi_in>) need equal input and output widths, but widths "
            "\"%s\" give %d -> %d at n = %d",
            s->widths, w[0], w[nw - 1], n);
  BPS_CHECK(!(s->cost == BPS_COST_LOCAL && s->targets == BPS_TARGET_UNITARY), BPS_ERR_ARG,
            "the local cost needs product targets (zero or product), not unitary");
  BPS_CHECK(s->noise >= BPS_NOISE_NONE && s->noise <= BPS_NOISE_GLOBAL_DEPOLARIZING, BPS_ERR_ARG,
            "unknown noise kind %d", (int)s->noise);
  BPS_CHECK(s->noise_placement == BPS_NOISE_AFTER_GATE ||
                s->noise_placement == BPS_NOISE_AFTER_LAYER,
            BPS_ERR_ARG, "unknown noise placement %d", (int)s->noise_placement);
  BPS_CHECK(isfinite(s->noise_p) && s->noise_p >= 0.0 && s->noise_p <= 1.0, BPS_ERR_ARG,
            "noise probability p = %g outside [0, 1]", s->noise_p);
  BPS_CHECK(!(s->noise == BPS_NOISE_GLOBAL_DEPOLARIZING &&
              s->noise_placement == BPS_NOISE_AFTER_GATE),
            BPS_ERR_ARG,
            "global_depolarizing acts on a whole layer register: use noise placement "
            "after_layer (physics.md Sec. 4.10). After a gate the register holds two layers, "
            "one of them fresh ancillas, so there is no single register to depolarise "
            "(perceptron family %s)",
            pn);
  return BPS_OK;
}

/* ---------------------------------------------------------------- the builder */

static int layers(ctx *x, const int *w, int L, const int *all);

static int build(ctx *x, const int *w, int L) {
  BPS_CALL(bps_noise_plan_make(x->spec, &x->nz));
  BPS_CALL(x->ens ? bps_circuit_create_ensemble(w[0], &x->c) : bps_circuit_create(w[0], &x->c));
  int wmax = 1;
  for (int l = 0; l <= L; l++) wmax = w[l] > wmax ? w[l] : wmax;
  int *all = malloc(sizeof(int) * (size_t)wmax);
  BPS_CHECK(all, BPS_ERR_MEM, "out of memory");
  for (int i = 0; i < wmax; i++) all[i] = i;
  int rc = layers(x, w, L, all);
  free(all);
  BPS_CALL(rc);
  BPS_CHECK(x->c->nparams == x->np, BPS_ERR_INTERNAL, "circuit uses %d parameters, named %d",
            x->c->nparams, x->np);
  return BPS_OK;
}

static int layers(ctx *x, const int *w, int L, const int *all) {
  const bps_model_spec *s = x->spec;
  const int brick = s->perceptron == BPS_PERC_BRICK;
  for (int l = 1; l <= L; l++) {
    const int min = w[brick ? 0 : l - 1], mout = w[brick ? 0 : l];
    BPS_CALL(bps_circuit_append(x->c, mout));
    switch (s->perceptron) {
    case BPS_PERC_HAAR: BPS_CALL(layer_haar(x, l, min, mout)); break;
    case BPS_PERC_TOY: BPS_CALL(layer_toy(x, l, min, mout)); break;
    case BPS_PERC_BRICK: BPS_CALL(layer_brick(x, l, min)); break;
    case BPS_PERC_NISQ: BPS_CALL(layer_nisq(x, l, min, mout)); break;
    case BPS_PERC_PAULI: BPS_CALL(layer_pauli(x, l, min, mout, s->depth ? s->depth : 1)); break;
    }
    BPS_CALL(bps_circuit_trace(x->c, min, all));
    if (s->perceptron == BPS_PERC_NISQ && l == L) {
      char prefix[PNAME_LEN];
      for (int i = 1; i <= mout; i++) {
        snprintf(prefix, sizeof prefix, "l%d.out%d", l, i);
        BPS_CALL(u3_gate(x, i - 1, prefix));
      }
    }
    BPS_CALL(bps_noise_after_layer(x->c, &x->nz, mout));
  }
  return BPS_OK;
}

int bps_dqnn_build(const bps_model_spec *spec, int n, uint64_t seed, uint32_t sample,
                   bps_repr repr, bps_model_instance *m) {
  BPS_CHECK(spec && m, BPS_ERR_ARG, "NULL argument");
  int w[BPS_MAX_LAYERS + 1], nw = 0;
  BPS_CALL(bps_pattern_eval_max(spec->widths, n, m->ensemble ? BPS_ENS_MAX_QUBITS : BPS_MAX_QUBITS,
                                w, BPS_MAX_LAYERS + 1, &nw));
  BPS_CALL(validate(spec, n, w, nw, m->ensemble));
  int L = nw - 1;
  int wl[BPS_MAX_LAYERS + 1];
  if (spec->perceptron == BPS_PERC_BRICK) { /* 2 D layers of width w[0] */
    int D = spec->depth ? spec->depth : ceil_log2(w[0]);
    if (D < 1) D = 1;
    L = 2 * D;
    for (int l = 0; l <= L; l++) wl[l] = w[0];
  } else {
    memcpy(wl, w, sizeof(int) * (size_t)nw);
  }
  int rc = BPS_OK;
  ctx x = {.spec = spec, .n = n, .seed = seed, .sample = sample, .ens = m->ensemble};
  bps_rng_init(&x.prm, seed, (uint32_t)n, sample, BPS_STREAM_PARAMS, 0);
  BPS_CALL_GOTO(build(&x, wl, L));
  m->circuit = x.c;
  x.c = NULL;
  m->q_in = wl[0];
  m->q_out = wl[L];
  BPS_CALL_GOTO(bps_model_alloc_params(m, x.np));
  for (int p = 0; p < x.np; p++) {
    m->theta[p] = x.theta[p];
    BPS_CALL_GOTO(bps_model_name_param(m, p, "%s", x.names[p]));
  }
  BPS_CALL_GOTO(bps_data_pairs(spec, n, m->q_in, m->q_out, seed, sample, repr, m));
cleanup:
  bps_circuit_destroy(&x.c);
  free(x.theta);
  free(x.names);
  return rc;
}

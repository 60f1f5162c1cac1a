/* data: training pairs (input states, target costs) shared by the circuit models, and the
 * local noise channels. Conventions in models.h and the README ("Training data"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/gates.h"
#include "bpscan/linalg.h"
#include "models.h"

#define TARGET_V_SUB 0xffffffffu

/* psi = the input state of pair x on q qubits. */
static int make_input(const bps_model_spec *spec, int n, int q, uint64_t seed, uint32_t sample,
                      int x, bps_cplx *psi) {
  bps_idx d = (bps_idx)1 << q;
  memset(psi, 0, sizeof(bps_cplx) * (size_t)d);
  bps_rng r;
  bps_rng_init(&r, seed, (uint32_t)n, sample, BPS_STREAM_INPUT, (uint32_t)x);
  switch (spec->inputs) {
  case BPS_INPUT_ZERO: psi[0] = 1; break;
  case BPS_INPUT_BASIS: psi[bps_rng_u64(&r) % (uint64_t)d] = 1; break;
  case BPS_INPUT_HAAR: bps_haar_state(&r, d, psi); break;
  default: BPS_FAIL(BPS_ERR_ARG, "unknown input kind %d", (int)spec->inputs);
  }
  return BPS_OK;
}

int bps_data_pairs(const bps_model_spec *spec, int n, int q_in, int q_out, uint64_t seed,
                   uint32_t sample, bps_repr repr, bps_model_instance *m) {
  BPS_CHECK(spec->pairs >= 1, BPS_ERR_ARG, "pairs = %d (need >= 1)", spec->pairs);
  BPS_CHECK(!(spec->cost == BPS_COST_LOCAL && spec->targets == BPS_TARGET_UNITARY), BPS_ERR_ARG,
            "the local cost needs product targets (targets = zero or product), "
            "not targets = unitary");
  BPS_CHECK(spec->targets != BPS_TARGET_UNITARY || q_in == q_out, BPS_ERR_ARG,
            "targets = unitary needs equal input and output widths (%d vs %d)", q_in, q_out);
  int N = spec->pairs;
  m->npairs = N;
  m->data = (bps_data_ens){.kind = spec->cost == BPS_COST_GLOBAL ? BPS_OBS_GLOBAL : BPS_OBS_LOCAL,
                           .q0 = 0,
                           .nq = q_out,
                           .c0 = 1.0,
                           .w = -1.0,
                           .target = spec->targets,
                           .inputs = spec->inputs,
                           .pairs = N,
                           .target_of_input = spec->targets == BPS_TARGET_UNITARY};
  if (m->ensemble) return BPS_OK; /* the ensemble is described; nothing is drawn */
  m->inputs = calloc((size_t)N, sizeof(bps_state *));
  m->costs = calloc((size_t)N, sizeof(bps_cost *));
  BPS_CHECK(m->inputs && m->costs, BPS_ERR_MEM, "out of memory");
  int rc = BPS_OK;
  bps_idx din = (bps_idx)1 << q_in, dout = (bps_idx)1 << q_out;
  bps_cplx *psi = bps_alloc((size_t)din), *phi = bps_alloc((size_t)dout), *V = NULL;
  bps_cplx *loc = bps_alloc((size_t)(2 * q_out));
  BPS_CHECK_GOTO(psi && phi && loc, BPS_ERR_MEM, "out of memory (training pairs)");
  if (spec->targets == BPS_TARGET_UNITARY) {
    V = bps_alloc((size_t)(din * din));
    BPS_CHECK_GOTO(V, BPS_ERR_MEM, "out of memory (target unitary on %d qubits)", q_in);
    bps_rng r;
    bps_rng_init(&r, seed, (uint32_t)n, sample, BPS_STREAM_TARGET, TARGET_V_SUB);
    BPS_CALL_GOTO(bps_haar_unitary(&r, (int)din, V));
  }
  int all[BPS_MAX_QUBITS];
  for (int i = 0; i < q_out; i++) all[i] = i;
  for (int x = 0; x < N; x++) {
    BPS_CALL_GOTO(make_input(spec, n, q_in, seed, sample, x, psi));
    BPS_CALL_GOTO(bps_state_create(repr, q_in, &m->inputs[x]));
    BPS_CALL_GOTO(bps_state_set_pure(m->inputs[x], q_in, psi));
    /* target: product form in loc (2 amplitudes per qubit) or the full phi */
    bps_rng r;
    bps_rng_init(&r, seed, (uint32_t)n, sample, BPS_STREAM_TARGET, (uint32_t)x);
    if (spec->targets == BPS_TARGET_UNITARY) {
      for (bps_idx i = 0; i < dout; i++) {
        bps_cplx acc = 0;
        for (bps_idx j = 0; j < din; j++) acc += V[i * din + j] * psi[j];
        phi[i] = acc;
      }
    } else {
      for (int j = 0; j < q_out; j++) {
        if (spec->targets == BPS_TARGET_PRODUCT) {
          bps_haar_state(&r, 2, loc + 2 * j);
        } else {
          loc[2 * j] = 1;
          loc[2 * j + 1] = 0;
        }
      }
      for (bps_idx i = 0; i < dout; i++) {
        bps_cplx a = 1;
        for (int j = 0; j < q_out; j++) a *= loc[2 * j + ((i >> (q_out - 1 - j)) & 1)];
        phi[i] = a;
      }
    }
    BPS_CALL_GOTO(bps_cost_create(q_out, 1.0, &m->costs[x]));
    if (spec->cost == BPS_COST_GLOBAL) {
      BPS_CALL_GOTO(bps_cost_add(m->costs[x], -1.0, q_out, all, 1, phi));
    } else {
      for (int j = 0; j < q_out; j++)
        BPS_CALL_GOTO(bps_cost_add(m->costs[x], -1.0 / q_out, 1, &j, 1, loc + 2 * j));
    }
  }
cleanup:
  bps_free(psi);
  bps_free(phi);
  bps_free(loc);
  bps_free(V);
  return rc;
}

int bps_noise_kraus(bps_noise_kind kind, double p, bps_cplx K[16]) {
  memset(K, 0, sizeof(bps_cplx) * 16);
  switch (kind) {
  case BPS_NOISE_DEPOLARIZING: { /* (1-p) rho + p 1/2 = (1-3p/4) rho + p/4 (X.X + Y.Y + Z.Z) */
    double a = sqrt(1.0 - 0.75 * p), b = sqrt(0.25 * p);
    K[0] = a, K[3] = a;
    K[4 + 1] = b, K[4 + 2] = b;          /* X */
    K[8 + 1] = -I * b, K[8 + 2] = I * b; /* Y */
    K[12 + 0] = b, K[12 + 3] = -b;       /* Z */
    return 4;
  }
  case BPS_NOISE_DEPHASING:
    K[0] = sqrt(1.0 - p), K[3] = sqrt(1.0 - p);
    K[4] = sqrt(p), K[7] = -sqrt(p);
    return 2;
  case BPS_NOISE_AMPLITUDE_DAMPING:
    K[0] = 1, K[3] = sqrt(1.0 - p);
    K[4 + 1] = sqrt(p);
    return 2;
  default: return 0;
  }
}

int bps_noise_plan_make(const bps_model_spec *spec, bps_noise_plan *nz) {
  memset(nz, 0, sizeof *nz);
  nz->p = spec->noise_p;
  nz->place = spec->noise_placement;
  BPS_CHECK(nz->place == BPS_NOISE_AFTER_GATE || nz->place == BPS_NOISE_AFTER_LAYER, BPS_ERR_ARG,
            "unknown noise placement %d", (int)nz->place);
  switch (spec->noise) {
  case BPS_NOISE_NONE: return BPS_OK;
  case BPS_NOISE_DEPOLARIZING:
  case BPS_NOISE_DEPHASING:
  case BPS_NOISE_AMPLITUDE_DAMPING:
  case BPS_NOISE_GLOBAL_DEPOLARIZING:
    BPS_CHECK(nz->p >= 0 && nz->p <= 1, BPS_ERR_ARG, "noise_p = %g outside [0, 1]", nz->p);
    BPS_CHECK(spec->noise != BPS_NOISE_GLOBAL_DEPOLARIZING || nz->place == BPS_NOISE_AFTER_LAYER,
              BPS_ERR_ARG,
              "global_depolarizing acts on the whole register after each layer: "
              "it needs placement after_layer, not after_gate");
    if (nz->p > 0) {
      if (spec->noise == BPS_NOISE_GLOBAL_DEPOLARIZING) nz->global = 1;
      else nz->local = bps_noise_kraus(spec->noise, nz->p, nz->K);
    }
    return BPS_OK;
  default: break;
  }
  BPS_FAIL(BPS_ERR_ARG, "unknown noise kind %d", (int)spec->noise);
}

int bps_noise_after_gate(bps_circuit *c, const bps_noise_plan *nz, int k, const int *qubits) {
  if (!nz->local || nz->place != BPS_NOISE_AFTER_GATE) return BPS_OK;
  for (int i = 0; i < k; i++) BPS_CALL(bps_circuit_kraus(c, 1, &qubits[i], nz->local, nz->K));
  return BPS_OK;
}

int bps_noise_after_layer(bps_circuit *c, const bps_noise_plan *nz, int n) {
  if (nz->local && nz->place == BPS_NOISE_AFTER_LAYER)
    for (int i = 0; i < n; i++) BPS_CALL(bps_circuit_kraus(c, 1, &i, nz->local, nz->K));
  if (nz->global) {
    int *all = malloc(sizeof(int) * (size_t)n);
    BPS_CHECK(all, BPS_ERR_MEM, "out of memory");
    for (int i = 0; i < n; i++) all[i] = i;
    int rc = bps_circuit_depol(c, n, all, nz->p);
    free(all);
    BPS_CALL(rc);
  }
  return BPS_OK;
}

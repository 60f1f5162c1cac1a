/* hea: hardware-efficient ansaetze on n qubits (physics.md Secs. 4.4, 4.8).
 *
 * L = spec->hea_layers (0 means L = n). Layers count from 1. Angles uniform in [0, 2 pi)
 * from (seed, n, sample, BPS_STREAM_PARAMS, sub 0) in parameter order. Every rotation is
 * R_a(theta) = exp(-i theta a / 2) (BPS_OP_PROT, scale 1/2).
 *
 * mcclean (McClean et al. 2018, Fig. 2): a fixed R_y(pi/4) on every qubit (state
 *   preparation, noiseless), then L layers of
 *     [ R_{a(l,i)}(theta) on every qubit i = 0..n-1, then CZ(i, i+1) for i = 0..n-2 ],
 *   the axis a(l,i) uniform in {X, Y, Z}, drawn per (layer, qubit) in that order from
 *   (seed, n, sample, BPS_STREAM_UNITARY, sub 0). Parameters: n per layer, p = (l-1) n + i.
 * alt (Cerezo et al. 2021 alternating layered ansatz, 2-qubit blocks; needs n >= 2): layer l
 *   is a brickwork of blocks on (0,1), (2,3), ... for odd l and on (1,2), (3,4), ... for
 *   even l; each block = R_y(theta) on its first qubit, R_y(theta') on its second qubit,
 *   then CZ on the pair. Qubits without a block in a layer idle (for n = 2 the even layers
 *   are empty). Parameters in application order (block by block, first qubit first).
 * Parameter names "l<l>.q<i>.g<g>": layer l (from 1), qubit i, g = index of the
 *   parameterised gate on qubit i within layer l (from 0; both ansaetze have one, so g = 0).
 *
 * Training data and costs: bps_data_pairs(spec, n, n, n, ...) (input and output register =
 * the n qubits; spec->inputs / targets / cost / pairs).
 *
 * Noise (spec->noise, noise_p, noise_placement), on the L variational layers only:
 *   local channels (depolarizing, dephasing, amplitude_damping; bps_noise_kraus):
 *     after_gate   the channel on each qubit of every gate, right after the gate (a CZ gets
 *                  it on both qubits)
 *     after_layer  the channel on every qubit after each layer
 *   global_depolarizing: bps_circuit_depol on all n qubits after each layer (needs placement
 *     after_layer). A unitary circuit then obeys cost_noisy = (1-p)^L cost + (1-(1-p)^L) E_mix.
 * noise_p = 0 adds no operations.
 * Diagnostics: the whole output register (ndiag = 0, no Page prediction). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "bpscan/error.h"
#include "bpscan/gates.h"
#include "models.h"

static int rotation(bps_model_instance *m, const bps_noise_plan *nz, const char *axis, int q,
                    int *p, int l, int random_axis) {
  BPS_CALL(bps_circuit_prot(m->circuit, axis, &q, 0.5, *p));
  if (random_axis) BPS_CALL(bps_circuit_tag_last(m->circuit, BPS_ENS_AXIS, 0.0, 0, NULL));
  BPS_CALL(bps_model_name_param(m, *p, "l%d.q%d.g%d", l, q, 0));
  (*p)++;
  BPS_CALL(bps_noise_after_gate(m->circuit, nz, 1, &q));
  return BPS_OK;
}

static int cz(bps_circuit *c, const bps_noise_plan *nz, int a) {
  bps_cplx U[16];
  bps_gate_cz(U);
  int qs[2] = {a, a + 1};
  BPS_CALL(bps_circuit_unitary(c, 2, qs, U));
  BPS_CALL(bps_noise_after_gate(c, nz, 2, qs));
  return BPS_OK;
}

int bps_hea_build(const bps_model_spec *spec, int n, uint64_t seed, uint32_t sample,
                  bps_repr repr, bps_model_instance *m) {
  BPS_CHECK(spec->hea == BPS_HEA_MCCLEAN || spec->hea == BPS_HEA_ALT, BPS_ERR_ARG,
            "unknown hea kind %d (mcclean or alt)", (int)spec->hea);
  BPS_CHECK(spec->hea_layers >= 0, BPS_ERR_ARG, "hea_layers = %d (need >= 0; 0 means n)",
            spec->hea_layers);
  const int L = bps_spec_hea_layers(spec, n);
  BPS_CHECK((long long)L * n <= INT_MAX / 2, BPS_ERR_ARG, "hea: %d layers is too many", L);
  const int alt = spec->hea == BPS_HEA_ALT;
  BPS_CHECK(!alt || n >= 2, BPS_ERR_ARG,
            "the alternating layered ansatz needs n >= 2 qubits (2-qubit blocks), n = %d", n);

  bps_noise_plan nz;
  BPS_CALL(bps_noise_plan_make(spec, &nz));

  m->q_in = m->q_out = n;
  int np = 0;
  for (int l = 1; l <= L; l++) np += alt ? 2 * ((n - (l % 2 ? 0 : 1)) / 2) : n;
  BPS_CALL(bps_model_alloc_params(m, np));
  bps_rng r;
  bps_rng_init(&r, seed, (uint32_t)n, sample, BPS_STREAM_PARAMS, 0);
  for (int p = 0; p < np; p++) m->theta[p] = bps_rng_angle(&r);
  BPS_CALL(m->ensemble ? bps_circuit_create_ensemble(n, &m->circuit)
                       : bps_circuit_create(n, &m->circuit));
  bps_circuit *c = m->circuit;

  int p = 0;
  if (!alt) {
    bps_cplx U[4];
    BPS_CALL(bps_gate_pauli_rot("Y", M_PI / 4, U));
    for (int i = 0; i < n; i++) BPS_CALL(bps_circuit_unitary(c, 1, &i, U));
    bps_rng ax;
    bps_rng_init(&ax, seed, (uint32_t)n, sample, BPS_STREAM_UNITARY, 0);
    static const char *axes[3] = {"X", "Y", "Z"};
    for (int l = 1; l <= L; l++) {
      for (int i = 0; i < n; i++) {
        uint32_t v = 2; /* an ensemble records the random axis; "Z" is a placeholder */
        if (!m->ensemble) do
            v = bps_rng_u32(&ax); /* unbiased: 2^32 - 1 is a multiple of 3 */
          while (v == 0xffffffffu);
        BPS_CALL(rotation(m, &nz, axes[v % 3], i, &p, l, 1));
      }
      for (int i = 0; i + 1 < n; i++) BPS_CALL(cz(c, &nz, i));
      BPS_CALL(bps_noise_after_layer(c, &nz, n));
    }
  } else {
    for (int l = 1; l <= L; l++) {
      for (int i = l % 2 ? 0 : 1; i + 1 < n; i += 2) {
        BPS_CALL(rotation(m, &nz, "Y", i, &p, l, 0));
        BPS_CALL(rotation(m, &nz, "Y", i + 1, &p, l, 0));
        BPS_CALL(cz(c, &nz, i));
      }
      BPS_CALL(bps_noise_after_layer(c, &nz, n));
    }
  }
  BPS_CHECK(p == np, BPS_ERR_INTERNAL, "hea: %d parameters placed, %d counted", p, np);
  BPS_CALL(bps_data_pairs(spec, n, n, n, seed, sample, repr, m));
  return BPS_OK;
}

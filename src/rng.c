/* rng: Philox4x32-10 streams keyed by (seed, n, sample, purpose, sub). */
#include "bpscan/rng.h"

#include <math.h>
#include <Random123/philox.h>

void bps_rng_init(bps_rng *r, uint64_t seed, uint32_t n, uint32_t sample, uint32_t purpose,
                  uint32_t sub) {
  r->key[0] = (uint32_t)seed;
  r->key[1] = (uint32_t)(seed >> 32);
  r->ctr[0] = 0;
  r->ctr[1] = sample;
  r->ctr[2] = ((n & 0xffffu) << 16) | (purpose & 0xffffu);
  r->ctr[3] = sub;
  r->used = 4;
  r->have_normal = 0;
  r->normal = 0.0;
}

uint32_t bps_rng_u32(bps_rng *r) {
  if (r->used == 4) {
    philox4x32_ctr_t c = {{r->ctr[0], r->ctr[1], r->ctr[2], r->ctr[3]}};
    philox4x32_key_t k = {{r->key[0], r->key[1]}};
    philox4x32_ctr_t out = philox4x32(c, k);
    for (int i = 0; i < 4; i++) r->buf[i] = out.v[i];
    r->ctr[0]++;
    r->used = 0;
  }
  return r->buf[r->used++];
}

uint64_t bps_rng_u64(bps_rng *r) {
  uint64_t hi = bps_rng_u32(r);
  uint64_t lo = bps_rng_u32(r);
  return (hi << 32) | lo;
}

double bps_rng_uniform(bps_rng *r) { return (double)(bps_rng_u64(r) >> 11) * 0x1.0p-53; }

double bps_rng_uniform_pos(bps_rng *r) {
  return ((double)(bps_rng_u64(r) >> 11) + 1.0) * 0x1.0p-53;
}

double bps_rng_normal(bps_rng *r) {
  if (r->have_normal) {
    r->have_normal = 0;
    return r->normal;
  }
  double u1 = bps_rng_uniform_pos(r), u2 = bps_rng_uniform(r);
  double rad = sqrt(-2.0 * log(u1)), phi = 2.0 * M_PI * u2;
  r->normal = rad * sin(phi);
  r->have_normal = 1;
  return rad * cos(phi);
}

double bps_rng_angle(bps_rng *r) { return 2.0 * M_PI * bps_rng_uniform(r); }

/* rng: counter-based random streams (Random123 Philox4x32-10).
 *
 * A stream is a pure function of its key (seed, n, sample, purpose, sub): there is
 * no global state, so the numbers a sample sees do not depend on which rank or
 * thread computes it, nor on the order in which samples are computed.
 *   key  = seed (64 bit)
 *   ctr  = { position, sample, (n << 16) | purpose, sub }
 * Each stream holds 2^32 blocks of four 32-bit words.
 */
#ifndef BPSCAN_RNG_H
#define BPSCAN_RNG_H

#include <stdint.h>

/* What a stream is used for; new purposes are appended (values are part of the
 * reproducibility contract: never renumber). */
typedef enum {
  BPS_STREAM_TEST = 0,        /* tests and benchmarks */
  BPS_STREAM_PARAMS = 1,      /* variational angles */
  BPS_STREAM_UNITARY = 2,     /* Haar unitaries inside models (perceptrons, targets) */
  BPS_STREAM_INPUT = 3,       /* training-data input states */
  BPS_STREAM_TARGET = 4,      /* training-data target states / unitaries */
  BPS_STREAM_HAMILTONIAN = 5, /* random Hamiltonian coefficients */
  BPS_STREAM_LANDSCAPE = 6    /* landscape-cut directions */
} bps_stream_purpose;

typedef struct {
  uint32_t key[2];
  uint32_t ctr[4]; /* ctr[0] is the block position */
  uint32_t buf[4];
  int used;        /* words of buf already consumed (4 = empty) */
  int have_normal; /* Box-Muller spare */
  double normal;
} bps_rng;

/* Initialise a stream. n <= 65535, purpose <= 65535. */
void bps_rng_init(bps_rng *r, uint64_t seed, uint32_t n, uint32_t sample, uint32_t purpose,
                  uint32_t sub);
uint32_t bps_rng_u32(bps_rng *r);
uint64_t bps_rng_u64(bps_rng *r);
double bps_rng_uniform(bps_rng *r);     /* in [0, 1), 53 random bits */
double bps_rng_uniform_pos(bps_rng *r); /* in (0, 1] */
double bps_rng_normal(bps_rng *r);      /* standard normal (Box-Muller) */
double bps_rng_angle(bps_rng *r);       /* uniform in [0, 2 pi) */

#endif

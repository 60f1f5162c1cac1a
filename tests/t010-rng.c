/* t010-rng: Philox streams keyed by (seed, n, sample, purpose, sub).
 * - the key/counter layout of rng.h and the Philox4x32-10 known-answer vector;
 * - same key -> same numbers; any key field changed -> a different stream;
 * - a stream's numbers do not depend on other streams drawn in between;
 * - uniform in [0,1) / (0,1], angle in [0, 2pi), moments of uniform and normal within
 *   4 standard errors (SE from the samples), chi-square bucket tests, bit balance. */
#include <math.h>
#include <string.h>
#include <Random123/philox.h>

#include "bps_test.h"
#include "bpscan/rng.h"

#define SEED 20240611ULL

/* Sample statistics: mean, unbiased variance, SE of the mean and of the variance. */
typedef struct {
  double mean, var, se_mean, se_var;
} stats;
static stats moments(const double *x, size_t n) {
  stats s;
  double m = 0;
  for (size_t i = 0; i < n; i++) m += x[i];
  m /= (double)n;
  double m2 = 0, m4 = 0;
  for (size_t i = 0; i < n; i++) {
    double d = x[i] - m;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m4 /= (double)n;
  s.mean = m;
  s.var = m2 / (double)(n - 1);
  s.se_mean = sqrt(s.var / (double)n);
  double v = m2 / (double)n;
  s.se_var = sqrt(fmax(m4 - v * v, 0.0) / (double)n);
  return s;
}

static int within(const char *what, double mc, double exact, double se) {
  double z = (mc - exact) / se;
  printf("  %-34s MC %.6f  exact %.6f  SE %.2e  z %+.2f\n", what, mc, exact, se, z);
  return fabs(mc - exact) < 4.0 * se;
}

/* Chi-square of nb equiprobable buckets; returns |chi2 - (nb-1)| / sqrt(2(nb-1)). */
static double chi2_z(const long *count, int nb, long total) {
  double e = (double)total / nb, c = 0;
  for (int b = 0; b < nb; b++) c += (count[b] - e) * (count[b] - e) / e;
  double z = (c - (nb - 1)) / sqrt(2.0 * (nb - 1));
  printf("  chi2 = %.2f with %d dof (z %+.2f)\n", c, nb - 1, z);
  return fabs(z);
}

static int same_prefix(bps_rng a, bps_rng b, int n) {
  for (int i = 0; i < n; i++)
    if (bps_rng_u32(&a) != bps_rng_u32(&b)) return 0;
  return 1;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* keep stdout and stderr in order in logs */
  bps_rng r, r2;

  /* 1. Known answer: Philox4x32-10 with zero key and counter (Random123 kat_vectors). */
  bps_rng_init(&r, 0, 0, 0, 0, 0);
  uint32_t kat[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
  for (int i = 0; i < 4; i++) CHECK(bps_rng_u32(&r) == kat[i]);

  /* 2. The documented layout: key = seed, ctr = {position, sample, (n<<16)|purpose, sub}. */
  {
    uint64_t seed = 0x0123456789abcdefULL;
    uint32_t n = 12, sample = 777, purpose = BPS_STREAM_UNITARY, sub = 5;
    bps_rng_init(&r, seed, n, sample, purpose, sub);
    int ok = 1;
    for (uint32_t pos = 0; pos < 3; pos++) {
      philox4x32_ctr_t c = {{pos, sample, (n << 16) | purpose, sub}};
      philox4x32_key_t k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
      philox4x32_ctr_t o = philox4x32(c, k);
      for (int i = 0; i < 4; i++) ok &= bps_rng_u32(&r) == o.v[i];
    }
    CHECK(ok);
  }

  /* 3. Same key -> same numbers (all draw kinds, including the Box-Muller spare). */
  {
    bps_rng_init(&r, SEED, 4, 17, BPS_STREAM_TEST, 3);
    bps_rng_init(&r2, SEED, 4, 17, BPS_STREAM_TEST, 3);
    int ok = 1;
    for (int i = 0; i < 10000; i++) {
      switch (i % 5) {
      case 0: ok &= bps_rng_u32(&r) == bps_rng_u32(&r2); break;
      case 1: ok &= bps_rng_u64(&r) == bps_rng_u64(&r2); break;
      case 2: ok &= bps_rng_uniform(&r) == bps_rng_uniform(&r2); break;
      case 3: ok &= bps_rng_normal(&r) == bps_rng_normal(&r2); break;
      default: ok &= bps_rng_angle(&r) == bps_rng_angle(&r2); break;
      }
    }
    CHECK(ok);
  }

  /* 4. Each key field changes the stream (also the high word of the seed and of n). */
  {
    bps_rng base;
    bps_rng_init(&base, SEED, 4, 17, BPS_STREAM_TEST, 3);
    bps_rng v[8];
    bps_rng_init(&v[0], SEED + 1, 4, 17, BPS_STREAM_TEST, 3);
    bps_rng_init(&v[1], SEED ^ (1ULL << 40), 4, 17, BPS_STREAM_TEST, 3);
    bps_rng_init(&v[2], SEED, 5, 17, BPS_STREAM_TEST, 3);
    bps_rng_init(&v[3], SEED, 4 | (1u << 15), 17, BPS_STREAM_TEST, 3);
    bps_rng_init(&v[4], SEED, 4, 18, BPS_STREAM_TEST, 3);
    bps_rng_init(&v[5], SEED, 4, 17, BPS_STREAM_PARAMS, 3);
    bps_rng_init(&v[6], SEED, 4, 17, BPS_STREAM_TEST, 4);
    bps_rng_init(&v[7], SEED, 4, 17, BPS_STREAM_LANDSCAPE, 3);
    for (int i = 0; i < 8; i++) {
      CHECK(!same_prefix(base, v[i], 1)); /* the very first word already differs */
      for (int j = 0; j < i; j++) CHECK(!same_prefix(v[i], v[j], 1));
    }
    /* n and purpose share a counter word: (n=1, TEST) and (n=0, PARAMS) must differ */
    bps_rng a, b;
    bps_rng_init(&a, SEED, 1, 0, BPS_STREAM_TEST, 0);
    bps_rng_init(&b, SEED, 0, 0, BPS_STREAM_PARAMS, 0);
    CHECK(!same_prefix(a, b, 1));
    /* sample and sub are separate counter words: (sample 1, sub 0) != (sample 0, sub 1) */
    bps_rng_init(&a, SEED, 3, 1, BPS_STREAM_TEST, 0);
    bps_rng_init(&b, SEED, 3, 0, BPS_STREAM_TEST, 1);
    CHECK(!same_prefix(a, b, 1));
  }

  /* 5. Order independence: interleaving two streams (mixed draw kinds) gives the same
   *    numbers per stream as drawing each one alone. */
  {
    enum { N = 4000 };
    static double seqA[N], seqB[N], intA[N], intB[N];
    bps_rng a, b;
    bps_rng_init(&a, SEED, 6, 100, BPS_STREAM_UNITARY, 0);
    for (int i = 0; i < N; i++) seqA[i] = i % 3 ? bps_rng_normal(&a) : bps_rng_uniform(&a);
    bps_rng_init(&b, SEED, 6, 101, BPS_STREAM_UNITARY, 0);
    for (int i = 0; i < N; i++) seqB[i] = i % 2 ? bps_rng_angle(&b) : bps_rng_normal(&b);
    bps_rng_init(&b, SEED, 6, 101, BPS_STREAM_UNITARY, 0);
    bps_rng_init(&a, SEED, 6, 100, BPS_STREAM_UNITARY, 0);
    for (int i = 0; i < N; i++) {
      intB[i] = i % 2 ? bps_rng_angle(&b) : bps_rng_normal(&b);
      intA[i] = i % 3 ? bps_rng_normal(&a) : bps_rng_uniform(&a);
    }
    CHECK(memcmp(seqA, intA, sizeof seqA) == 0);
    CHECK(memcmp(seqB, intB, sizeof seqB) == 0);
    /* a stream drawn in reverse sample order gives the same per-sample numbers */
    static uint32_t fwd[64][8], rev[64][8];
    for (int s = 0; s < 64; s++) {
      bps_rng_init(&a, SEED, 2, (uint32_t)s, BPS_STREAM_PARAMS, 0);
      for (int i = 0; i < 8; i++) fwd[s][i] = bps_rng_u32(&a);
    }
    for (int s = 63; s >= 0; s--) {
      bps_rng_init(&a, SEED, 2, (uint32_t)s, BPS_STREAM_PARAMS, 0);
      for (int i = 0; i < 8; i++) rev[s][i] = bps_rng_u32(&a);
    }
    CHECK(memcmp(fwd, rev, sizeof fwd) == 0);
  }

  /* 6. Ranges and moments. */
  enum { S = 1000000 };
  double *x = malloc(sizeof(double) * S), *y = malloc(sizeof(double) * S);
  if (!x || !y) return 1;
  {
    printf("uniform [0,1), S = %d\n", S);
    bps_rng_init(&r, SEED, 0, 0, BPS_STREAM_TEST, 10);
    double lo = 1, hi = 0;
    for (int i = 0; i < S; i++) {
      x[i] = bps_rng_uniform(&r);
      lo = fmin(lo, x[i]);
      hi = fmax(hi, x[i]);
    }
    CHECK(lo >= 0.0 && hi < 1.0);
    stats st = moments(x, S);
    CHECK(within("uniform mean", st.mean, 0.5, st.se_mean));
    CHECK(within("uniform variance", st.var, 1.0 / 12.0, st.se_var));
    long cnt[100] = {0};
    for (int i = 0; i < S; i++) cnt[(int)(x[i] * 100)]++;
    CHECK(chi2_z(cnt, 100, S) < 4.0);
    /* serial pairs (x_i, x_{i+1}) on a 16 x 16 grid */
    long pairs[256] = {0};
    for (int i = 0; i + 1 < S; i += 2) pairs[(int)(x[i] * 16) * 16 + (int)(x[i + 1] * 16)]++;
    CHECK(chi2_z(pairs, 256, S / 2) < 4.0);
    /* lag-1 correlation */
    for (int i = 0; i + 1 < S; i++) y[i] = (x[i] - 0.5) * (x[i + 1] - 0.5);
    st = moments(y, S - 1);
    CHECK(within("uniform lag-1 covariance", st.mean, 0.0, st.se_mean));
  }
  {
    bps_rng_init(&r, SEED, 0, 0, BPS_STREAM_TEST, 11);
    double lo = 2, hi = -1;
    for (int i = 0; i < S / 10; i++) {
      double u = bps_rng_uniform_pos(&r);
      lo = fmin(lo, u);
      hi = fmax(hi, u);
    }
    CHECK(lo > 0.0 && hi <= 1.0);
    double alo = 10, ahi = -1;
    for (int i = 0; i < S / 10; i++) {
      double a = bps_rng_angle(&r);
      alo = fmin(alo, a);
      ahi = fmax(ahi, a);
    }
    CHECK(alo >= 0.0 && ahi < 2 * M_PI);
    CHECK(ahi > 2 * M_PI - 1e-3 && alo < 1e-3); /* covers the whole period */
  }
  {
    printf("normal, S = %d\n", S);
    bps_rng_init(&r, SEED, 0, 0, BPS_STREAM_TEST, 12);
    for (int i = 0; i < S; i++) x[i] = bps_rng_normal(&r);
    stats st = moments(x, S);
    CHECK(within("normal mean", st.mean, 0.0, st.se_mean));
    CHECK(within("normal variance", st.var, 1.0, st.se_var));
    for (int i = 0; i < S; i++) y[i] = x[i] * x[i] * x[i];
    st = moments(y, S);
    CHECK(within("normal E x^3", st.mean, 0.0, st.se_mean));
    for (int i = 0; i < S; i++) y[i] = x[i] * x[i] * x[i] * x[i];
    st = moments(y, S);
    CHECK(within("normal E x^4", st.mean, 3.0, st.se_mean));
    /* Box-Muller pairs are independent: E[x_{2i} x_{2i+1}] = 0, E[x^2 y^2] = 1 */
    for (int i = 0; i < S / 2; i++) y[i] = x[2 * i] * x[2 * i + 1];
    st = moments(y, S / 2);
    CHECK(within("normal pair covariance", st.mean, 0.0, st.se_mean));
    for (int i = 0; i < S / 2; i++) y[i] = x[2 * i] * x[2 * i] * x[2 * i + 1] * x[2 * i + 1];
    st = moments(y, S / 2);
    CHECK(within("normal pair E x^2 y^2", st.mean, 1.0, st.se_mean));
    /* buckets of Phi(x) are equiprobable */
    long cnt[64] = {0};
    for (int i = 0; i < S; i++) {
      int b = (int)(0.5 * erfc(-x[i] / sqrt(2.0)) * 64);
      cnt[b < 64 ? b : 63]++;
    }
    CHECK(chi2_z(cnt, 64, S) < 4.0);
  }

  /* 7. Bit balance of the raw words, and cross-stream correlation. */
  {
    long ones[32] = {0};
    enum { W = 200000 };
    bps_rng_init(&r, SEED, 0, 0, BPS_STREAM_TEST, 13);
    for (int i = 0; i < W; i++) {
      uint32_t w = bps_rng_u32(&r);
      for (int b = 0; b < 32; b++) ones[b] += (w >> b) & 1u;
    }
    double worst = 0, se = sqrt(0.25 / W);
    for (int b = 0; b < 32; b++) worst = fmax(worst, fabs((double)ones[b] / W - 0.5) / se);
    printf("  bit balance: worst |z| over 32 bits = %.2f\n", worst);
    CHECK(worst < 4.5); /* max of 32 |z|: 4.5 is far in the tail */

    /* neighbouring samples (adjacent counters) are uncorrelated */
    bps_rng a, b;
    for (int i = 0; i < S / 10; i++) {
      bps_rng_init(&a, SEED, 3, (uint32_t)i, BPS_STREAM_TEST, 0);
      bps_rng_init(&b, SEED, 3, (uint32_t)i + 1, BPS_STREAM_TEST, 0);
      y[i] = (bps_rng_uniform(&a) - 0.5) * (bps_rng_uniform(&b) - 0.5);
    }
    stats st = moments(y, S / 10);
    CHECK(within("adjacent-sample covariance", st.mean, 0.0, st.se_mean));
  }

  free(x);
  free(y);
  return bps_test_result("t010-rng");
}

/* hash: FNV-1a 64, the one checksum of bpscan (job hashes, checkpoint block checksums).
 * Not cryptographic: it detects accidents (a different job, a torn or bit-flipped file),
 * not forgeries. bps_fnv1a(data, n, BPS_FNV_OFFSET) hashes one buffer; passing a previous
 * result as h continues the hash over several buffers. */
#ifndef BPSCAN_HASH_H
#define BPSCAN_HASH_H

#include <stddef.h>
#include <stdint.h>

#define BPS_FNV_OFFSET 14695981039346656037ULL /* FNV-1a 64 offset basis */
#define BPS_FNV_PRIME 1099511628211ULL

static inline uint64_t bps_fnv1a(const void *data, size_t n, uint64_t h) {
  const unsigned char *p = (const unsigned char *)data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= BPS_FNV_PRIME;
  }
  return h;
}

#endif

/* fuzz_h5: libFuzzer target for the result-file reader (src/h5io.c: what `bpscan info` and
 * `bpscan merge` read), in this process (bps_h5_info_here, bps_h5_read), not in the child
 * process the commands use. Each input is written to a temporary file and read.
 *
 * HDF5 1.10 itself crashes on some damaged files (README "Known limitations"): this target
 * is therefore not part of the test suite; run it by hand in fork mode, which goes on after
 * a crash, and triage the artifacts: a crash whose stack has no bpscan frame below the
 * HDF5 library is HDF5's (contained by the commands' child process), any other is a bug.
 *   CC=clang cmake -S . -B build-fuzz -DBPSCAN_FUZZ=ON && cmake --build build-fuzz --target fuzz_h5
 *   tests/fuzz/make_h5_seeds.sh build/bpscan /tmp/h5seeds
 *   mkdir -p corpus-h5 && build-fuzz/tests/fuzz_h5 -fork=1 -ignore_crashes=1 \
 *       -max_total_time=600 -artifact_prefix=h5- corpus-h5 /tmp/h5seeds
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpscan/error.h"
#include "bpscan/h5io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  static FILE *null;
  if (!path[0]) {
    snprintf(path, sizeof path, "/tmp/fuzz-h5-%ld.h5", (long)getpid());
    null = fopen("/dev/null", "w");
    if (!null) abort();
  }
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  bps_error_clear();
  int rc = bps_h5_info_here(path, null);
  if (rc && !bps_error_message()[0]) {
    fprintf(stderr, "info failed with code %d and no message\n", rc);
    abort();
  }
  bps_error_clear();
  bps_result res;
  bps_h5_meta meta;
  rc = bps_h5_read(path, &res, &meta);
  if (rc == BPS_OK) bps_h5_result_free(&res);
  else if (!bps_error_message()[0]) {
    fprintf(stderr, "read failed with code %d and no message\n", rc);
    abort();
  }
  bps_error_clear();
  unlink(path);
  return 0;
}

/* fuzz_job: libFuzzer target for the job parser (src/job.c).
 *
 * The input is split at the first NUL byte into a job text and a --set override list (NUL-
 * separated, at most 8), so both the file syntax and the overrides are fuzzed. Every
 * successful parse must give a canonical text that parses again to the same text and hash
 * (the round trip tests/t020-job-parse.c checks on the shipped jobs), compare equal to it,
 * and give a job JSON; the key reference is printed once. Any crash, leak (ASan/LSan), or failed round trip is a bug.
 *
 * Build and run (CMake option BPSCAN_FUZZ; this file, src/job.c, src/error.c and src/spec.c
 * are compiled with -fsanitize=fuzzer,address,undefined, the rest comes from bpscan_core):
 *   CC=clang cmake -S . -B build-fuzz -DBPSCAN_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_job && (cd build-fuzz && ctest -L fuzz)
 *   mkdir -p corpus && build-fuzz/tests/fuzz_job -max_total_time=60 \
 *       -dict=tests/fuzz/fuzz_job.dict corpus jobs      # seeds: every file under jobs/
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int printed = 0;
  if (!printed) { /* exercise the generated references once */
    FILE *null = fopen("/dev/null", "w");
    if (null) {
      bps_job_print_keys(null, 0);
      bps_job_print_keys(null, 1);
      fclose(null);
    }
    printed = 1;
  }
  char *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = 0;
  /* text, then NUL-separated overrides */
  const char *sets[8];
  int nsets = 0;
  size_t tlen = strlen(buf);
  for (size_t pos = tlen + 1; pos < size && nsets < 8;) {
    sets[nsets++] = buf + pos;
    pos += strlen(buf + pos) + 1;
  }
  bps_job job;
  int rc = bps_job_parse(buf, "fuzz.ini", sets, nsets, &job);
  if (rc == BPS_OK) {
    bps_job again;
    if (bps_job_parse(job.text, "canonical", NULL, 0, &again) != BPS_OK) {
      fprintf(stderr, "canonical text does not parse: %s\n---\n%s---\n", bps_error_message(),
              job.text);
      abort();
    }
    if (strcmp(again.text, job.text) || bps_job_hash(&again) != bps_job_hash(&job)) {
      fprintf(stderr, "canonical text is not a fixed point:\n%s---\n%s---\n", job.text,
              again.text);
      abort();
    }
    char where[512], *json = NULL;
    if (bps_job_diff(&job, &again, BPS_ROLES_ALL, where, sizeof where) ||
        bps_job_json(&job, &json) != BPS_OK || !json || json[0] != '{') {
      fprintf(stderr, "the canonical job differs from its job, or has no JSON:\n%s---\n",
              job.text);
      abort();
    }
    free(json);
    bps_job_where(&job, "scan", "qubits", where, sizeof where);
    bps_job_free(&again);
  } else if (rc != BPS_ERR_JOB) {
    fprintf(stderr, "unexpected error code %d: %s\n", rc, bps_error_message());
    abort();
  } else if (!bps_error_message()[0] || job.text) {
    fprintf(stderr, "job error without a message, or with a text left behind\n");
    abort();
  }
  bps_job_free(&job);
  bps_error_clear();
  free(buf);
  return 0;
}

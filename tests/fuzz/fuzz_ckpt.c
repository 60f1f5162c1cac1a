/* fuzz_ckpt: libFuzzer target for the checkpoint reader (src/ckpt.c bps_ckpt_read_stream).
 *
 * The plan is that of jobs/test/resume.ini (qubits 2:5, 300 samples in blocks of 10: 120
 * blocks of four record widths), built once; every input is read as one checkpoint file of
 * that job. Seeds: tests/fuzz/seeds/ckpt/, real checkpoint files of resume.ini (a run
 * stopped by SIGTERM; regenerate them with tests/fuzz/make_ckpt_seeds.sh if the job's
 * canonical text, hence its hash, changes). An input whose first byte is odd gets the
 * plan's job hash written over bytes 8..15, so that mutations reach the blocks and are not
 * all stopped by the hash check. A block the reader accepts must fit the plan exactly (its
 * count is the block's, its records were allocated for it); the reader must fail with
 * BPS_ERR_CHECKPOINT (or BPS_ERR_MEM) and a message, never crash, leak or read out of
 * bounds (ASan/UBSan).
 *
 *   CC=clang cmake -S . -B build-fuzz -DBPSCAN_FUZZ=ON && cmake --build build-fuzz --target fuzz_ckpt
 *   mkdir -p corpus-ckpt && build-fuzz/tests/fuzz_ckpt -max_total_time=600 corpus-ckpt tests/fuzz/seeds/ckpt
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/driver.h"
#include "bpscan/error.h"
#include "bpscan/job.h"
#include "ckpt.h"
#include "plan.h"

#ifndef BPS_FUZZ_JOB
#error "BPS_FUZZ_JOB (the path of jobs/test/resume.ini) must be defined"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bps_job g_job;
static bps_scan_config g_cfg;
static bps_plan g_plan;

static void setup(void) {
  if (bps_job_load(BPS_FUZZ_JOB, NULL, 0, &g_job) != BPS_OK) {
    bps_error_print(stderr);
    abort();
  }
  bps_scan_config *c = &g_cfg;
  memset(c, 0, sizeof *c);
  c->model = g_job.model;
  c->nq = g_job.nq;
  memcpy(c->qubits, g_job.qubits, sizeof(int) * (size_t)g_job.nq);
  c->samples = g_job.samples;
  c->seed = g_job.seed;
  c->block = g_job.block;
  c->repr = -1;
  c->method = g_job.grad_method;
  c->params = g_job.params;
  c->out_path = "fuzz.h5";
  c->store_samples = g_job.store_samples;
  c->checkpoint_seconds = g_job.checkpoint_seconds;
  c->job_text = g_job.text;
  c->job_hash = bps_job_hash(&g_job);
  c->model_name = "dqnn";
  if (bps_plan_make(c, &g_plan) != BPS_OK) {
    bps_error_print(stderr);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready = 0;
  if (!ready) {
    setup();
    ready = 1;
  }
  const bps_plan *p = &g_plan;
  unsigned char *buf = malloc(size ? size : 1);
  bps_block *blocks = calloc((size_t)p->ntasks, sizeof *blocks);
  unsigned char *done = calloc((size_t)p->ntasks, 1);
  if (!buf || !blocks || !done) abort();
  memcpy(buf, data, size);
  if (size >= 16 && (buf[0] & 1)) memcpy(buf + 8, &g_cfg.job_hash, 8);
  FILE *f = size ? fmemopen(buf, size, "rb") : fopen("/dev/null", "rb");
  if (!f) abort();
  long nread = 0;
  bps_error_clear();
  int rc = bps_ckpt_read_stream(p, f, "fuzz.bin", "fuzz.ckpt", blocks, done, &nread);
  fclose(f);
  if (rc != BPS_OK && rc != BPS_ERR_CHECKPOINT && rc != BPS_ERR_MEM) {
    fprintf(stderr, "unexpected error code %d: %s\n", rc, bps_error_message());
    abort();
  }
  if (rc != BPS_OK && !bps_error_message()[0]) {
    fprintf(stderr, "checkpoint refused without a message\n");
    abort();
  }
  long have = 0;
  for (long t = 0; t < p->ntasks; t++) {
    if (!done[t]) continue;
    int i = bps_plan_task_n(p, t);
    long b = t - p->task_off[i];
    if (blocks[t].count != bps_plan_block_count(p, i, b)) {
      fprintf(stderr, "block %ld accepted with %d records, the plan has %ld\n", t,
              blocks[t].count, bps_plan_block_count(p, i, b));
      abort();
    }
    /* touch every record: ASan catches a short allocation */
    volatile double s = 0;
    for (long k = 0; k < (long)blocks[t].count * p->pn[i].rec_len; k++) s += blocks[t].rec[k];
    (void)s;
    have++;
  }
  if (have != nread) abort();
  for (long t = 0; t < p->ntasks; t++) free(blocks[t].rec);
  free(blocks);
  free(done);
  free(buf);
  bps_error_clear();
  return 0;
}

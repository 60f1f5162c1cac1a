/* driver: `bpscan run` and `bpscan check` (see driver.h). The orchestrator of the scan:
 *   prolog  the output path (h5io), the plan and its memory check (plan.c), the checkpoints
 *           of an earlier run (ckpt.c), calibration (plan.c), task -> rank (assign.c);
 *   loop    this rank's tasks (sample.c), checkpoints every checkpoint_seconds and at a
 *           signal (ckpt.c), progress (progress.c);
 *   epilog  the streamed reduction (assemble.c: windows of records to rank 0 by gather.c,
 *           statistics, chunks encoded on the other ranks) into the file (h5io).
 * It also owns the signal handlers. Every phase ends with an agreement across ranks
 * (gather.c bps_agree), so a failure on one rank stops all with the same code. */
#include "bpscan/driver.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "assemble.h"
#include "assign.h"
#include "bpscan/comm.h"
#include "bpscan/error.h"
#include "bpscan/h5io.h"
#include "bpscan/threads.h"
#include "ckpt.h"
#include "gather.h"
#include "momtask.h"
#include "plan.h"
#include "predict.h"
#include "progress.h"
#include "sample.h"

/* ------------------------------------------------------------------ signals */

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig) { g_stop = sig; }

void bps_driver_install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
}

/* Seconds since the epoch (the result's start and end times). */
static double epoch_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ------------------------------------------------------------------ state of a run */

typedef struct {
  const bps_scan_config *cfg;
  bps_plan p;
  bps_block *blocks;          /* [ntasks] computed, restored or gathered records */
  unsigned char *done, *mine; /* [ntasks] restored from a checkpoint; computed here */
  int *holder;                /* [ntasks] the rank holding a task's records at the end (rank 0
                                for restored ones), -1 for tasks not in this file */
  long my_samples;
  char tag[64];   /* this run's checkpoint file names */
  int finished;   /* --resume found the finished result of this job: nothing to do */
  char *hosts;    /* rank 0: every rank's host (gather.c), until res owns it */
  bps_result res; /* rank 0: the result written */
} run_state;

static void run_state_free(run_state *st) {
  for (long t = 0; st->blocks && t < st->p.ntasks; t++) free(st->blocks[t].rec);
  free(st->blocks);
  free(st->done);
  free(st->mine);
  free(st->holder);
  free(st->hosts);
  bps_h5_result_free(&st->res);
  bps_plan_free(&st->p);
}

/* ------------------------------------------------------------------ prolog */

static int alloc_tasks(run_state *st) {
  const long nt = st->p.ntasks;
  st->blocks = calloc((size_t)nt, sizeof(bps_block));
  st->done = calloc((size_t)nt, 1);
  st->mine = calloc((size_t)nt, 1);
  st->holder = malloc(sizeof(int) * (size_t)nt);
  BPS_CHECK(st->blocks && st->done && st->mine && st->holder, BPS_ERR_MEM, "out of memory");
  return BPS_OK;
}

/* Rank 0: with --resume the blocks of the checkpoint files, without it the assurance that
 * there are none. */
static int restore(run_state *st) {
  const bps_scan_config *cfg = st->cfg;
  long nread = 0;
  if (!cfg->resume) return bps_ckpt_absent(cfg);
  BPS_CALL(bps_ckpt_read_all(&st->p, st->blocks, st->done, &nread));
  if (nread)
    fprintf(stderr, "[bpscan] resuming: %ld of %ld blocks restored from %s.ckpt/\n", nread,
            st->p.ntasks, cfg->out_path);
  else fprintf(stderr, "[bpscan] --resume: no checkpoint found, starting from the beginning\n");
  return BPS_OK;
}

/* The open tasks of this file (not restored, in the slice) to ranks by their calibrated
 * cost; mine[] and my_samples for this rank; holder[] for the reduction. */
static int assign_tasks(run_state *st) {
  const bps_plan *p = &st->p;
  const long nt = p->ntasks;
  const int rank = bps_comm_rank();
  int rc = BPS_OK, *owner = malloc(sizeof(int) * (size_t)nt);
  double *cost = malloc(sizeof(double) * (size_t)nt);
  unsigned char *open = malloc((size_t)nt);
  BPS_CHECK_GOTO(owner && cost && open, BPS_ERR_MEM, "out of memory");
  for (long t = 0; t < nt; t++) {
    const int i = bps_plan_task_n(p, t);
    cost[t] = p->pn[i].t_sample * (double)bps_plan_block_count(p, i, t - p->task_off[i]);
    open[t] = !st->done[t] && bps_slice_has(st->cfg->slice_index, st->cfg->slice_count, t);
  }
  BPS_CALL_GOTO(bps_assign_lpt(nt, cost, open, bps_comm_size(), owner));
  for (long t = 0; t < nt; t++) {
    const int in_file = bps_slice_has(st->cfg->slice_index, st->cfg->slice_count, t);
    st->holder[t] = !in_file ? -1 : st->done[t] ? 0 : owner[t];
    st->mine[t] = owner[t] == rank;
    if (st->mine[t]) {
      const int i = bps_plan_task_n(p, t);
      st->my_samples += bps_plan_block_count(p, i, t - p->task_off[i]);
    }
  }
cleanup:
  free(owner);
  free(cost);
  free(open);
  return rc;
}

/* The run tag shared by the ranks of this run (rank 0's start time and pid). */
static int make_tag(run_state *st) {
  unsigned long long tagv = ((unsigned long long)st->res.start_time << 20) ^
                            (unsigned long long)getpid();
  BPS_CALL(bps_comm_bcast_bytes(&tagv, sizeof tagv, 0));
  snprintf(st->tag, sizeof st->tag, "run%llx", tagv);
  return BPS_OK;
}

/* Rank 0, --resume without --force: whether the output is already the result of this job
 * (a run killed between its final rename and removing its checkpoint; the restart then has
 * nothing to do but remove the checkpoint). Anything unreadable there is not. */
static int already_finished(const bps_scan_config *cfg) {
  struct stat sb;
  int same = 0;
  if (!cfg->resume || cfg->force || lstat(cfg->out_path, &sb) != 0 || !S_ISREG(sb.st_mode))
    return 0;
  if (bps_h5_same_job(cfg->out_path, cfg->job_hash, cfg->slice_index, cfg->slice_count, &same))
    bps_error_clear(); /* not a result of ours: the output check says "exists" */
  if (!same || bps_ckpt_check_dir(cfg)) {
    bps_error_clear();
    return 0;
  }
  bps_ckpt_remove(cfg);
  fprintf(stderr,
          "[bpscan] --resume: %s is already the finished result of this job (the run "
          "was stopped after writing it); nothing to do\n",
          cfg->out_path);
  return 1;
}

/* Everything before computing. Collective; every step ends in an agreement. */
static int prolog(run_state *st) {
  const bps_scan_config *cfg = st->cfg;
  const int root = bps_comm_rank() == 0;
  int rc = BPS_OK;
  st->finished = root ? already_finished(cfg) : 0;
  BPS_CALL_GOTO(bps_comm_bcast_bytes(&st->finished, sizeof st->finished, 0));
  if (st->finished) goto cleanup;
  /* the output must be usable and, without --force, new (checked before any work) */
  BPS_CALL_GOTO(bps_agree(root ? bps_h5_check_writable(cfg->out_path, cfg->force) : BPS_OK));
  /* OUT.h5.ckpt: absent or a directory of its own (never a link, never a file) */
  BPS_CALL_GOTO(bps_agree(root ? bps_ckpt_check_dir(cfg) : BPS_OK));
  BPS_CALL_GOTO(bps_agree(bps_plan_make(cfg, &st->p)));
  BPS_CALL_GOTO(bps_agree(bps_plan_fits(&st->p)));
  BPS_CALL_GOTO(bps_agree(alloc_tasks(st)));
  BPS_CALL_GOTO(make_tag(st));
  /* a resume needs one checkpoint directory that every rank sees (node-local ones refused) */
  if (cfg->resume) BPS_CALL_GOTO(bps_agree(bps_ckpt_check_shared(cfg, st->tag)));
  BPS_CALL_GOTO(bps_agree(root ? restore(st) : BPS_OK));
  BPS_CALL_GOTO(bps_comm_bcast_bytes(st->done, (size_t)st->p.ntasks, 0));
  BPS_CALL_GOTO(bps_plan_calibrate(&st->p));
  BPS_CALL_GOTO(bps_agree(assign_tasks(st)));
  BPS_CALL_GOTO(bps_gather_hosts(&st->hosts));
  st->res.hosts = st->hosts;
  st->hosts = NULL; /* the result owns it */
cleanup:
  return rc;
}

/* ------------------------------------------------------------------ loop */

/* Task t = block b of n index i on this rank's threads; *stopped by a signal. */
static int compute_task(run_state *st, int i, long b, int *stopped) {
  const bps_plan_n *pn = &st->p.pn[i];
  const long t = st->p.task_off[i] + b, cnt = bps_plan_block_count(&st->p, i, b);
  int rc = BPS_OK;
  double *rec = malloc(sizeof(double) * (size_t)cnt * (size_t)pn->rec_len);
  BPS_CHECK_GOTO(rec, BPS_ERR_MEM, "out of memory");
  if (st->cfg->moments)
    BPS_CALL_GOTO(bps_mom_items(pn, b * st->cfg->block, (int)cnt, rec, &g_stop, stopped));
  else
    BPS_CALL_GOTO(
        bps_sample_block(st->cfg, pn, b * st->cfg->block, (int)cnt, rec, &g_stop, stopped));
  if (!*stopped) { /* a stopped block is incomplete: dropped */
    st->blocks[t].rec = rec;
    st->blocks[t].count = (int)cnt;
    rec = NULL;
  }
cleanup:
  free(rec);
  return rc;
}

#define GROUP_MAX 64 /* blocks computed as one pool of samples (per-sample thread mode) */

/* Tasks = blocks b[0..nb) of n index i as one pool of samples (bps_sample_blocks): in the
 * per-sample thread mode every thread has a sample even when blocks are smaller than the
 * thread count. *stopped by a signal (then none of them is kept). */
static int compute_tasks(run_state *st, int i, const long *b, int nb, int *stopped) {
  if (st->cfg->moments || nb == 1) {
    for (int k = 0; k < nb && !*stopped; k++) BPS_CALL(compute_task(st, i, b[k], stopped));
    return BPS_OK;
  }
  const bps_plan_n *pn = &st->p.pn[i];
  long s0[GROUP_MAX];
  int cnt[GROUP_MAX], rc = BPS_OK;
  double *rec[GROUP_MAX] = {NULL};
  for (int k = 0; k < nb; k++) {
    cnt[k] = (int)bps_plan_block_count(&st->p, i, b[k]);
    s0[k] = b[k] * st->cfg->block;
    rec[k] = malloc(sizeof(double) * (size_t)cnt[k] * (size_t)pn->rec_len);
    BPS_CHECK_GOTO(rec[k], BPS_ERR_MEM, "out of memory");
  }
  BPS_CALL_GOTO(bps_sample_blocks(st->cfg, pn, nb, s0, cnt, rec, &g_stop, stopped));
  if (!*stopped) /* stopped blocks are incomplete: dropped */
    for (int k = 0; k < nb; k++) {
      const long t = st->p.task_off[i] + b[k];
      st->blocks[t].rec = rec[k];
      st->blocks[t].count = cnt[k];
      rec[k] = NULL;
    }
cleanup:
  for (int k = 0; k < nb; k++) free(rec[k]);
  return rc;
}

/* After the loop: a failed or stopped rank keeps what it has done in a checkpoint.
 * Returns rc, or BPS_ERR_INTERRUPTED (no traceback) when a signal stopped it. */
static int loop_end(run_state *st, int rc, int stopped, int dirty) {
  const int rank = bps_comm_rank();
  if (dirty && (stopped || rc)) {
    int crc = bps_ckpt_write(&st->p, st->blocks, st->mine, st->tag);
    if (crc && !rc) { /* stopped: say so now, the exit code stays "interrupted" */
      bps_error_print(stderr);
      bps_error_clear();
    } else if (!crc && stopped) {
      fprintf(stderr, "[bpscan] rank %d: signal %d: checkpoint written to %s.ckpt/\n", rank,
              (int)g_stop, st->cfg->out_path);
    }
  } else if (stopped) {
    fprintf(stderr, "[bpscan] rank %d: signal %d: nothing new to checkpoint\n", rank, (int)g_stop);
  }
  return stopped ? BPS_ERR_INTERRUPTED : rc;
}

/* This rank's tasks, largest n first (the assignment already balances the cost), with a
 * checkpoint every checkpoint_seconds. Not collective. */
static int loop(run_state *st) {
  const bps_plan *p = &st->p;
  int rc = BPS_OK, stopped = 0, dirty = 0;
  bps_progress pr;
  bps_progress_start(&pr, st->my_samples, st->cfg->moments ? "items" : "samples");
  double last_ckpt = bps_wtime();
  for (int i = p->nn - 1; i >= 0 && !stopped; i--) {
    /* per-sample thread mode: this rank's next blocks of n up to one sample per thread */
    const int want = p->pn[i].per_sample && !st->cfg->moments ? bps_threads_max() : 1;
    for (long b = 0; b < p->pn[i].nblocks && !stopped;) {
      long grp[GROUP_MAX];
      int nb = 0;
      for (long ns = 0; b < p->pn[i].nblocks && nb < GROUP_MAX && ns < want; b++)
        if (st->mine[p->task_off[i] + b]) {
          grp[nb++] = b;
          ns += bps_plan_block_count(p, i, b);
        }
      if (!nb) continue;
      BPS_CALL_GOTO(compute_tasks(st, i, grp, nb, &stopped));
      if (stopped) break;
      dirty = 1;
      if (bps_comm_rank() == 0)
        for (int k = 0; k < nb; k++)
          bps_progress_add(&pr, st->blocks[p->task_off[i] + grp[k]].count, p->pn[i].n, 0);
      if (bps_wtime() - last_ckpt >= st->cfg->checkpoint_seconds) {
        dirty = 0;
        last_ckpt = bps_wtime();
        BPS_CALL_GOTO(bps_ckpt_write(p, st->blocks, st->mine, st->tag));
      }
    }
  }
  if (bps_comm_rank() == 0 && !g_stop) bps_progress_add(&pr, 0, p->pn[0].n, 1);
cleanup:
  return loop_end(st, rc, stopped || g_stop, dirty);
}

/* ------------------------------------------------------------------ epilog */

/* Rank 0: the result's header (assemble.c) and host. */
static int result_head(run_state *st) {
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  st->res.host = strdup(host);
  BPS_CHECK(st->res.host, BPS_ERR_MEM, "out of memory");
  BPS_CALL(bps_assemble_head(&st->p, &st->res));
  return BPS_OK;
}

/* The reduction and the file (assemble.c; collective), then rank 0 removes the
 * checkpoints and says what it wrote. */
static int write_result(run_state *st) {
  const bps_scan_config *cfg = st->cfg;
  bps_result *res = &st->res;
  BPS_CALL(bps_agree(bps_comm_rank() == 0 ? result_head(st) : BPS_OK));
  BPS_CALL(bps_assemble_write(&st->p, st->blocks, st->holder, res));
  if (bps_comm_rank() != 0) return BPS_OK;
  bps_ckpt_remove(cfg);
  if (cfg->moments)
    fprintf(stderr, "[bpscan] wrote %s (exact moments of %d qubit counts%s) in %.1f s\n",
            cfg->out_path, st->p.nn, cfg->slice_count > 1 ? ", an array-job piece" : "",
            epoch_now() - res->start_time);
  else if (cfg->slice_count > 1)
    fprintf(stderr,
            "[bpscan] wrote %s (piece %d of %d: its share of %d qubit counts x %ld samples) in %.1f s\n",
            cfg->out_path, cfg->slice_index, cfg->slice_count, st->p.nn, cfg->samples,
            epoch_now() - res->start_time);
  else
    fprintf(stderr, "[bpscan] wrote %s (%d qubit counts, %ld samples each) in %.1f s\n",
            cfg->out_path, st->p.nn, cfg->samples, epoch_now() - res->start_time);
  return BPS_OK;
}

/* ------------------------------------------------------------------ run and check */

/* prolog -> loop -> epilog, timing each phase. Collective except after an interruption. */
static int run(run_state *st) {
  bps_result *res = &st->res;
  int rc = BPS_OK;
  res->start_time = epoch_now();
  BPS_CALL_GOTO(prolog(st));
  if (st->finished) goto cleanup;
  double t = epoch_now();
  res->wall_plan = t - res->start_time;
  rc = loop(st);
  if (rc == BPS_ERR_INTERRUPTED) goto cleanup; /* no agreement: other ranks may still run */
  BPS_CALL_GOTO(bps_agree(rc));
  res->wall_compute = epoch_now() - t;
  BPS_CALL_GOTO(write_result(st));
cleanup:
  return rc;
}

int bps_scan_run(const bps_scan_config *cfg) {
  run_state st;
  memset(&st, 0, sizeof st);
  st.cfg = cfg;
  bps_threads_set_max_levels(1);
  int rc = run(&st);
  run_state_free(&st);
  return rc;
}

int bps_scan_check(const bps_scan_config *cfg, FILE *out) {
  int rc = BPS_OK;
  bps_plan p;
  BPS_CALL_GOTO(bps_plan_make(cfg, &p));
  const int fits = bps_plan_fits(&p);
  if (fits == BPS_OK) BPS_CALL_GOTO(bps_plan_calibrate(&p)); /* time one sample per n */
  bps_plan_print(&p, fits == BPS_OK, out);
  if (fits == BPS_OK && cfg->npredict > 0 && bps_comm_rank() == 0)
    BPS_CALL_GOTO(bps_predict(&p, cfg->predict, cfg->npredict, out));
  rc = fits;
cleanup:
  bps_plan_free(&p);
  return rc;
}

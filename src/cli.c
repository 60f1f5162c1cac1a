/* cli: `bpscan run | check | info | help` (see cli.h and README "Command line"). Each
 * command ends in finish(): the traceback is printed (rank 0 prints any, the other ranks
 * only failures of their own) and the code becomes the exit code (bps_exit_code). */
#include "bpscan/cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/comm.h"
#include "bpscan/driver.h"
#include "bpscan/error.h"
#include "bpscan/h5io.h"
#include "bpscan/job.h"
#include "gather.h"

#define MAX_SETS 128

typedef struct {
  const char *job_path;
  const char *out;
  const char *sets[MAX_SETS + 1];
  int nsets, resume, force;
  int slice_index, slice_count;
  int npredict, predict[BPS_MAX_PREDICT]; /* check --ranks */
} run_args;

/* `--ranks N[,N...]` (check): 1 <= N <= 1e7, at most BPS_MAX_PREDICT of them. */
static int parse_ranks(const char *v, run_args *a) {
  for (const char *c = v; c && *c;) {
    char *e;
    long n = strtol(c, &e, 10);
    if (e == c || n < 1 || n > 10000000 || (*e && *e != ',') || a->npredict == BPS_MAX_PREDICT) {
      fprintf(stderr,
              "bpscan check: --ranks needs rank counts N[,N...] (1..1e7, at most %d), "
              "e.g. --ranks 1,2,4,1024\n",
              BPS_MAX_PREDICT);
      return BPS_ERR_USAGE;
    }
    a->predict[a->npredict++] = (int)n;
    c = *e ? e + 1 : e;
  }
  return BPS_OK;
}

/* One decimal count of --slice: digits only (no sign, no blanks), at most BPS_MAX_SLICES
 * (no wrap-around: 4294967296 is refused, not read as 0). *end: the character after. */
static long slice_num(const char *c, const char **end) {
  long v = 0;
  *end = c;
  if (*c < '0' || *c > '9') return -1;
  for (; *c >= '0' && *c <= '9'; c++) {
    v = 10 * v + (*c - '0');
    if (v > BPS_MAX_SLICES) return -1;
  }
  *end = c;
  return v;
}

/* `--slice K/N`: 0 <= K < N <= BPS_MAX_SLICES; 1 if malformed. */
static int parse_slice(const char *v, run_args *a) {
  const char *e;
  long k = slice_num(v, &e);
  if (k < 0 || *e != '/') return 1;
  long n = slice_num(e + 1, &e);
  if (n < 1 || *e || k >= n) return 1;
  a->slice_index = (int)k;
  a->slice_count = (int)n;
  return 0;
}

/* The arguments of run / check. Usage errors are said in plain words (no traceback) and
 * return BPS_ERR_USAGE. */
static int parse_args(int argc, char **argv, int allow_run_flags, run_args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (!strcmp(s, "--set") || !strncmp(s, "--set=", 6)) {
      const char *v = s[5] == '=' ? s + 6 : (i + 1 < argc ? argv[++i] : NULL);
      if (!v) {
        fprintf(stderr, "bpscan %s: --set needs section.key=value\n", argv[0]);
        return BPS_ERR_USAGE;
      }
      if (a->nsets == MAX_SETS) {
        fprintf(stderr, "bpscan %s: more than %d --set options\n", argv[0], MAX_SETS);
        return BPS_ERR_USAGE;
      }
      a->sets[a->nsets++] = v;
    } else if (allow_run_flags && (!strcmp(s, "-o") || !strcmp(s, "--output"))) {
      if (i + 1 >= argc) {
        fprintf(stderr, "bpscan run: %s needs a file name\n", s);
        return BPS_ERR_USAGE;
      }
      a->out = argv[++i];
    } else if (allow_run_flags && !strcmp(s, "--slice")) {
      if (i + 1 >= argc || parse_slice(argv[i + 1], a)) {
        fprintf(stderr,
                "bpscan run: --slice needs K/N with 0 <= K < N <= %d (decimal digits, "
                "e.g. --slice 2/3)\n",
                BPS_MAX_SLICES);
        return BPS_ERR_USAGE;
      }
      i++;
    } else if (!allow_run_flags && (!strcmp(s, "--ranks") || !strncmp(s, "--ranks=", 8))) {
      const char *v = s[7] == '=' ? s + 8 : (i + 1 < argc ? argv[++i] : NULL);
      if (!v || !*v) {
        fprintf(stderr, "bpscan check: --ranks needs N[,N...]\n");
        return BPS_ERR_USAGE;
      }
      BPS_CALL(parse_ranks(v, a));
    } else if (allow_run_flags && !strcmp(s, "--resume")) {
      a->resume = 1;
    } else if (allow_run_flags && !strcmp(s, "--force")) {
      a->force = 1;
    } else if (s[0] == '-' && s[1]) {
      fprintf(stderr, "bpscan %s: unknown option '%s' (see bpscan --help)\n", argv[0], s);
      return BPS_ERR_USAGE;
    } else if (!a->job_path) {
      a->job_path = s;
    } else {
      fprintf(stderr, "bpscan %s: unexpected argument '%s'\n", argv[0], s);
      return BPS_ERR_USAGE;
    }
  }
  if (!a->job_path) {
    fprintf(stderr, "usage: bpscan %s JOB.ini%s [--set section.key=value ...]\n", argv[0],
            allow_run_flags ? " [-o OUT.h5] [--resume] [--force] [--slice K/N]"
                            : " [--ranks N[,N...]]");
    return BPS_ERR_USAGE;
  }
  return BPS_OK;
}

static const char *model_name(bps_model_kind k) {
  switch (k) {
  case BPS_MODEL_DQNN: return "dqnn";
  case BPS_MODEL_VH: return "vh";
  case BPS_MODEL_QBM: return "qbm";
  case BPS_MODEL_HEA: return "hea";
  }
  return "?";
}

/* Rank 0 reads the job file; a file that cannot be read is an invalid job too (exit 2). */
static int read_job(const run_args *a, const char *const *sets, int nsets, bps_job *job) {
  int rc = bps_job_load(a->job_path, sets, nsets, job);
  BPS_CHECK(!rc, rc == BPS_ERR_IO ? BPS_ERR_JOB : rc, "job file %s", a->job_path);
  return BPS_OK;
}

static int alloc_text(unsigned long long len, char **text) {
  *text = malloc(len);
  BPS_CHECK(*text, BPS_ERR_MEM, "out of memory (job text of %llu bytes)", len);
  return BPS_OK;
}

/* Every rank but 0 parses the canonical text rank 0 broadcasts. Collective. */
static int receive_job(const run_args *a, bps_job *job) {
  const int rank = bps_comm_rank();
  int rc = BPS_OK;
  unsigned long long len = rank == 0 ? strlen(job->text) + 1 : 0;
  char *text = rank == 0 ? job->text : NULL;
  BPS_CALL_GOTO(bps_comm_bcast_bytes(&len, sizeof len, 0));
  BPS_CALL_GOTO(bps_agree(rank == 0 ? BPS_OK : alloc_text(len, &text)));
  BPS_CALL_GOTO(bps_comm_bcast_bytes(text, len, 0));
  if (rank != 0) BPS_CALL_GOTO(bps_job_parse(text, a->job_path, NULL, 0, job));
cleanup:
  if (text != job->text) free(text);
  return rc;
}

/* Rank 0 reads the job (file + overrides), every rank parses the same canonical text.
 * Collective. */
static int load_job(const run_args *a, bps_job *job, char *outset, size_t outlen) {
  const char *sets[MAX_SETS + 1];
  int nsets = a->nsets, rc = BPS_OK;
  memcpy(sets, a->sets, sizeof(char *) * (size_t)nsets);
  if (a->out) {
    snprintf(outset, outlen, "output.path=%s", a->out);
    sets[nsets++] = outset;
  }
  memset(job, 0, sizeof *job);
  BPS_CALL_GOTO(bps_agree(bps_comm_rank() == 0 ? read_job(a, sets, nsets, job) : BPS_OK));
  if (bps_comm_size() > 1) BPS_CALL_GOTO(bps_agree(receive_job(a, job)));
cleanup:
  if (rc) bps_job_free(job);
  return rc;
}

static void to_config(const bps_job *job, const run_args *a, bps_scan_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->model = job->model;
  cfg->nq = job->nq;
  memcpy(cfg->qubits, job->qubits, sizeof(int) * (size_t)job->nq);
  cfg->samples = job->samples;
  cfg->seed = job->seed;
  cfg->block = job->block;
  cfg->repr = job->repr == BPS_JOB_REPR_DENSE      ? BPS_DENSE
              : job->repr == BPS_JOB_REPR_FACTORED ? BPS_FACTORED
                                                   : -1;
  cfg->method = job->grad_method;
  cfg->params = job->params;
  bps_job_where(job, "gradient", "params", cfg->params_where, sizeof cfg->params_where);
  cfg->landscape = job->mode == BPS_JOB_MODE_LANDSCAPE;
  cfg->land_directions = (int)job->land_directions;
  cfg->land_pad = job->land_pad;
  cfg->moments = job->mode == BPS_JOB_MODE_MOMENTS;
  cfg->mom_engine = (int)job->mom_engine;
  cfg->mom_truncation = job->mom_truncation;
  cfg->out_path = job->out_path;
  cfg->store_samples = job->store_samples;
  cfg->diagnostics = job->diagnostics;
  cfg->checkpoint_seconds = job->checkpoint_seconds;
  cfg->job_text = job->text;
  cfg->job_hash = bps_job_hash(job);
  cfg->model_name = model_name(job->model.kind);
  const char *rc = getenv("SLURM_RESTART_COUNT");
  cfg->resume = a->resume || (rc && atoi(rc) >= 1);
  cfg->force = a->force;
  cfg->slice_index = a->slice_index;
  cfg->slice_count = a->slice_count;
  cfg->npredict = a->npredict;
  memcpy(cfg->predict, a->predict, sizeof(int) * (size_t)a->npredict);
}

/* The exit code of a command that ended with rc, after printing its traceback: rank 0
 * prints any, the other ranks only failures of their own (a rank that merely learnt of
 * another's failure holds no message). An interruption, and a usage error without a
 * message (parse_args), have said what they did already. */
static int finish(int rc) {
  const int said = rc == BPS_ERR_INTERRUPTED || (rc == BPS_ERR_USAGE && !bps_error_message()[0]);
  if (rc && !said && (bps_comm_rank() == 0 || bps_error_message()[0])) bps_error_print(stderr);
  return bps_exit_code(rc);
}

int bps_cli_run(int argc, char **argv) {
  run_args a;
  bps_job job;
  char outset[BPS_JOB_STR_LEN + 32];
  bps_scan_config cfg;
  int rc = BPS_OK;
  BPS_CALL_GOTO(parse_args(argc, argv, 1, &a));
  BPS_CALL_GOTO(load_job(&a, &job, outset, sizeof outset));
  to_config(&job, &a, &cfg);
  rc = bps_scan_run(&cfg);
  bps_job_free(&job);
cleanup:
  return finish(rc);
}

int bps_cli_check(int argc, char **argv) {
  run_args a;
  bps_job job;
  char outset[8];
  bps_scan_config cfg;
  int rc = BPS_OK;
  BPS_CALL_GOTO(parse_args(argc, argv, 0, &a));
  BPS_CALL_GOTO(load_job(&a, &job, outset, sizeof outset));
  to_config(&job, &a, &cfg);
  FILE *out = bps_comm_rank() == 0 ? stdout : fopen("/dev/null", "w");
  rc = bps_scan_check(&cfg, out ? out : stdout);
  if (out && out != stdout) fclose(out);
  bps_job_free(&job);
cleanup:
  return finish(rc);
}

int bps_cli_info(int argc, char **argv) {
  if (argc != 2 || argv[1][0] == '-') {
    fprintf(stderr, "usage: bpscan info RESULT.h5\n");
    return finish(BPS_ERR_USAGE);
  }
  return finish(bps_h5_info(argv[1], stdout));
}

int bps_cli_help(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "job")) {
    int md = argc >= 3 && !strcmp(argv[2], "--markdown");
    bps_job_print_keys(stdout, md);
    return finish(BPS_OK);
  }
  fprintf(stderr, "usage: bpscan help job [--markdown]\n");
  return finish(BPS_ERR_USAGE);
}

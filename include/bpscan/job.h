/* job: the INI job file of `bpscan run` (one key table drives everything).
 *
 * A job file has sections and `key = value` lines; `#` and `;` start comments (at the start
 * of a line, or after whitespace inside a line). Example:
 *
 *   [scan]
 *   model   = dqnn
 *   qubits  = 2:8          # 2,3,...,8; also 2:10:2, 2,3,5 or 2,4:6
 *   samples = 1000
 *   [dqnn]
 *   widths  = n,n
 *
 * One static key table in job.c (section, key, type, default, allowed values, help, and the
 * bps_job field it fills) drives parsing, defaults, validation, `bpscan help job`
 * (bps_job_print_keys), the README key reference, and the canonical job text.
 *
 * Rules: unknown sections and keys are errors (with a "did you mean"); a key may appear once;
 * the model sections [dqnn] [vh] [qbm] [hea] apply only to their model, [cost] only to dqnn
 * and hea, [noise] to every model but qbm, [landscape] only with [scan] mode = landscape. `--set section.key=value` overrides (applied after
 * the file, later ones win) are validated like file keys. Every error is BPS_ERR_JOB with one
 * message naming where ("file:line", "--set scan.samples=abc", or the file name for a key
 * that was never set), the `[section] key` and the reason.
 *
 * The canonical job text (bps_job.text) lists every key of the applicable sections, in table
 * order, with its resolved value (defaults included) in canonical spelling; it is what result
 * files store and what bps_job_hash() hashes. Parsing it again gives the same job and the same
 * text, so broadcasting a job is broadcasting its text. Lines are limited to
 * BPS_JOB_MAX_LINE characters (comments excepted).
 */
#ifndef BPSCAN_JOB_H
#define BPSCAN_JOB_H

#include <stdint.h>
#include <stdio.h>

#include "bpscan/model.h"

#define BPS_JOB_MAX_QUBIT_COUNTS 64 /* entries of bps_job.qubits */
#define BPS_JOB_STR_LEN 256         /* string fields (params, output path, source) */
#define BPS_JOB_MAX_LINE 196        /* longest job-file line (comments excepted) */
#define BPS_JOB_MAX_FILE (1 << 20)  /* bps_job_load refuses larger files */
#define BPS_JOB_MAX_KEYS 64         /* capacity of bps_job.key_line (the table is smaller) */

typedef enum { BPS_JOB_MODE_GRADIENT = 0, BPS_JOB_MODE_LANDSCAPE } bps_job_mode;
typedef enum { BPS_LAND_RANDOM = 0, BPS_LAND_AXES, BPS_LAND_PLANE } bps_land_directions;
typedef enum { BPS_JOB_REPR_AUTO = 0, BPS_JOB_REPR_DENSE, BPS_JOB_REPR_FACTORED } bps_job_repr;
typedef enum {
  BPS_PARAMS_ALL = 0, /* every parameter */
  BPS_PARAMS_FIRST,   /* the first parameter of the model */
  BPS_PARAMS_LAST,    /* the last parameter */
  BPS_PARAMS_LIST     /* the names in bps_job.params */
} bps_param_select;

typedef struct {
  bps_model_spec model; /* [dqnn] [vh] [qbm] [hea] [cost] [noise] */
  /* [scan] */
  bps_job_mode mode;
  int nq;                                /* number of scanned qubit counts */
  int qubits[BPS_JOB_MAX_QUBIT_COUNTS];  /* strictly increasing, each 1..BPS_MAX_QUBITS */
  long samples;                          /* random parameter samples per qubit count */
  uint64_t seed;
  int block;                             /* samples per work unit */
  bps_job_repr repr;
  /* [gradient] */
  bps_grad_method grad_method;
  bps_param_select params_kind;
  char params[BPS_JOB_STR_LEN]; /* canonical: "all" | "first" | "last" | "l1.p1.g1,l1.p2.g1" */
  int nparam_names;             /* BPS_PARAMS_LIST: number of names in params */
  /* [landscape] (mode = landscape only) */
  bps_land_directions land_directions;
  int land_pad;
  /* [output] */
  char out_path[BPS_JOB_STR_LEN];
  int store_samples; /* 0 or 1 */
  double checkpoint_seconds;
  /* provenance */
  char *text;                     /* canonical resolved job text (owned; see above) */
  char source[BPS_JOB_STR_LEN];   /* file name given to parse/load, for messages */
  /* Where each table key got its value, by table index (see bps_job_where):
   * > 0 line of the job file, < 0 -(1 + index of the --set override), 0 default. */
  int key_line[BPS_JOB_MAX_KEYS];
} bps_job;

/* Parse job text (source_name is used in messages; NULL means "<job>"), apply the nsets
 * `section.key=value` overrides in sets, fill defaults, validate every key and their
 * combinations at every scanned qubit count, and build job->text. *job is overwritten (free
 * a previous job first). On failure returns BPS_ERR_JOB (or BPS_ERR_MEM) with one message,
 * and *job owns nothing (bps_job_free is still safe). Clears this thread's error traceback
 * on entry. Thread-safe (no global state besides that per-thread traceback). */
int bps_job_parse(const char *text, const char *source_name, const char *const *sets, int nsets,
                  bps_job *job);

/* Read the file at path (a regular file of at most BPS_JOB_MAX_FILE bytes without NUL bytes;
 * errors are BPS_ERR_IO, or BPS_ERR_JOB for the content) and parse it (source = path).
 * Clears this thread's error traceback on entry, like bps_job_parse. */
int bps_job_load(const char *path, const char *const *sets, int nsets, bps_job *job);

/* Free what the job owns (NULL-safe; leaves job->text NULL). */
void bps_job_free(bps_job *job);

/* The key reference generated from the table: plain text for `bpscan help job`
 * (markdown = 0), or a Markdown table (section, key, default, allowed values, meaning) for
 * the README (markdown = 1). */
void bps_job_print_keys(FILE *out, int markdown);

/* FNV-1a 64 of job->text (0 when there is no text): matches checkpoints to jobs. */
uint64_t bps_job_hash(const bps_job *job);

/* Where key `section.key` got its value, e.g. "jobs/a.ini:7", "--set scan.samples" or
 * "jobs/a.ini (default)"; writes into buf (size n) and returns buf ("" for unknown keys).
 * For messages of later stages, e.g. a model builder rejecting a width at some n. */
const char *bps_job_where(const bps_job *job, const char *section, const char *key, char *buf,
                          size_t n);

#endif

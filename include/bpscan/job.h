/* job: the INI job file of `bpscan run`, and the one owner of job knowledge: one key table
 * drives parsing, defaults, validation, the key reference, the canonical job text, the job
 * hash, the comparison of jobs and the job JSON stored in result files.
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
 * One static key table in job.c (section, key, role, type, default, allowed values, help, and
 * the bps_job field it fills) drives parsing, defaults, validation, `bpscan help job`
 * (bps_job_print_keys), the README key reference, the canonical job text, bps_job_hash,
 * bps_job_diff and bps_job_json. The model specification and the width-pattern grammar it
 * fills live one level lower, in spec.h.
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
 * files store (root attribute `job`). Parsing it again gives the same job and the same text,
 * so broadcasting a job is broadcasting its text. Lines are limited to BPS_JOB_MAX_LINE
 * characters (comments excepted).
 *
 * Roles. Every key has a role that says what a different value changes:
 *   result    the numbers of the result (model, cost, noise, gradient, landscape keys,
 *             representation, mode);
 *   ensemble  which samples of the same random ensemble are drawn ([scan] qubits, samples,
 *             seed): files that differ only in these pool into one larger sample;
 *   layout    how the same numbers are grouped and stored, never their values ([scan] block,
 *             [output] store_samples);
 *   output    nothing in the result file's data ([output] path, checkpoint_seconds).
 * Users: the job hash and `bpscan merge` ignore `output` keys; analysis/ pools files by
 * `result` keys alone when asked to merge ensembles.
 */
#ifndef BPSCAN_JOB_H
#define BPSCAN_JOB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bpscan/spec.h"

#define BPS_JOB_MAX_QUBIT_COUNTS 64 /* entries of bps_job.qubits */
#define BPS_JOB_STR_LEN 256         /* string fields (params, output path, source) */
#define BPS_JOB_MAX_LINE 196        /* longest job-file line (comments excepted) */
#define BPS_JOB_MAX_FILE (1 << 20)  /* bps_job_load refuses larger files */
#define BPS_JOB_MAX_KEYS 64         /* capacity of bps_job.key_line (the table is smaller) */

typedef enum {
  BPS_JOB_MODE_GRADIENT = 0,
  BPS_JOB_MODE_LANDSCAPE,
  BPS_JOB_MODE_MOMENTS
} bps_job_mode;
/* [moments] engine: the values of bps_mom_engine (moments.h), in the same order. */
typedef enum {
  BPS_JOB_MOM_AUTO = 0,
  BPS_JOB_MOM_CHAIN,
  BPS_JOB_MOM_PAULI,
  BPS_JOB_MOM_MPS,
  BPS_JOB_MOM_DENSE
} bps_job_mom_engine;
typedef enum {
  BPS_ROLE_RESULT = 0, /* changes the numbers */
  BPS_ROLE_ENSEMBLE,   /* which samples of the ensemble are drawn */
  BPS_ROLE_LAYOUT,     /* grouping and storage only */
  BPS_ROLE_OUTPUT      /* changes nothing in the results */
} bps_job_role;
#define BPS_ROLE_BIT(role) (1u << (role))
#define BPS_ROLES_ALL 0xfu
#define BPS_ROLES_NOT_OUTPUT (BPS_ROLES_ALL & ~BPS_ROLE_BIT(BPS_ROLE_OUTPUT))
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
  int nq;                               /* number of scanned qubit counts */
  int qubits[BPS_JOB_MAX_QUBIT_COUNTS]; /* strictly increasing, each 1..BPS_MAX_QUBITS */
  long samples;                         /* random parameter samples per qubit count */
  uint64_t seed;
  int block; /* samples per work unit */
  bps_job_repr repr;
  /* [gradient] */
  bps_grad_method grad_method;
  bps_param_select params_kind;
  char params[BPS_JOB_STR_LEN]; /* canonical: "all" | "first" | "last" | "l1.p1.g1,l1.p2.g1" */
  int nparam_names;             /* BPS_PARAMS_LIST: number of names in params */
  /* [landscape] (mode = landscape only) */
  bps_land_directions land_directions;
  int land_pad;
  /* [moments] (mode = moments only) */
  bps_job_mom_engine mom_engine;
  long mom_truncation; /* Pauli-pair budget for certified bounds; 0 = exact */
  /* [output] */
  char out_path[BPS_JOB_STR_LEN];
  int store_samples; /* 0 or 1 */
  int diagnostics;   /* 0 or 1: state diagnostics per sample (else NaN) */
  double checkpoint_seconds;
  /* provenance */
  char *text;                   /* canonical resolved job text (owned; see above) */
  char source[BPS_JOB_STR_LEN]; /* file name given to parse/load, for messages */
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

/* The job hash: FNV-1a 64 (hash.h) of the canonical job text without the lines of the
 * keys whose role is `output` (section headers and blank lines stay). Jobs that differ only
 * in output keys have the same hash; checkpoints and result files (root attribute
 * `job_hash`) carry it. 0 for NULL. */
uint64_t bps_job_hash(const bps_job *job);

/* The role of [section] key, or -1 for a key not in the table. */
int bps_job_key_role(const char *section, const char *key);

/* Iterate over the keys of job's canonical text (those that apply to it; [output]
 * diagnostics only when false), in table order: the i-th one (i = 0, 1, ...)
 * gives its section, key name, role and canonical value (into value, size n). Returns 1,
 * or 0 when i is past the last key. */
int bps_job_key(const bps_job *job, int i, const char **section, const char **key,
                bps_job_role *role, char *value, size_t n);

/* The canonical value of [section] key into buf (size n); 1 if the key applies to the job,
 * else 0 (buf = ""). */
int bps_job_value(const bps_job *job, const char *section, const char *key, char *buf, size_t n);

/* Compare two jobs on the keys whose role is in the mask roles (BPS_ROLE_BIT ORs; a key
 * that applies to only one of them differs). Returns 0 if they agree; else 1 with the first
 * difference in table order described in buf, e.g. "in [scan]: 'seed = 1' vs 'seed = 7'". */
int bps_job_diff(const bps_job *a, const bps_job *b, unsigned roles, char *buf, size_t n);

/* The job as a JSON object (malloc'ed, NUL-terminated, one line; the caller frees it), what
 * result files store as the root attribute `job_json` so that readers need no job grammar:
 *   {"format": 1, "model": "dqnn", "mode": "gradient",
 *    "sections": {"scan": {"model": "dqnn", "qubits": "2:8", "samples": 1000, ...}, ...},
 *    "roles": {"scan": {"model": "result", "qubits": "ensemble", ...}, ...},
 *    "qubits": [2, 3, ...],
 *    "per_n": [{"n": 2, "widths": [2, 2]}, ...]}
 * sections: every key of the applicable sections (those of the job text) with its resolved
 * value: integers and reals as JSON numbers, booleans as true/false, everything else as the
 * canonical string. roles: each of those keys' role. qubits: the scanned qubit counts.
 * per_n: per qubit count, in that order, the registers the model has there: dqnn "widths"
 * (the evaluated [dqnn] widths, m_0..m_L); vh and qbm "n_visible", "n_hidden"; hea "layers"
 * (resolved: 0 means n). BPS_ERR_MEM, or BPS_ERR_ARG for a job that was not parsed. */
int bps_job_json(const bps_job *job, char **json);

/* Where key `section.key` got its value, e.g. "jobs/a.ini:7", "--set scan.samples" or
 * "jobs/a.ini (default)"; writes into buf (size n) and returns buf ("" for unknown keys).
 * For messages of later stages, e.g. a model builder rejecting a width at some n. */
const char *bps_job_where(const bps_job *job, const char *section, const char *key, char *buf,
                          size_t n);

#endif

/* error: error codes, the process exit code of each, and PETSc/libCEED-style macros.
 *
 * Every fallible function returns int: BPS_OK (0) or a bps_err code. On failure the
 * macros push "file:line func: message" onto a per-thread traceback that the command
 * (cli.c, main.c) prints with bps_error_print() and turns into the process exit code with
 * bps_exit_code() (the one map from error codes to exit codes).
 *
 * Returning at once (the function owns nothing that needs releasing):
 *   BPS_CHECK(cond, code, fmt, ...)  precondition: fail with code and a message if !cond
 *   BPS_FAIL(code, fmt, ...)         fail unconditionally
 *   BPS_CALL(expr)                   propagate a non-zero code from a callee
 *
 * Cleaning up (the one idiom for a function that owns memory, files or states): declare
 * `int rc = BPS_OK;` first, release everything after the single label `cleanup:` (every
 * release NULL-safe) and `return rc;` there. The _GOTO forms record the failure in rc and
 * jump to the label:
 *   BPS_CHECK_GOTO(cond, code, fmt, ...)   BPS_FAIL_GOTO(code, fmt, ...)   BPS_CALL_GOTO(expr)
 * Example:
 *   int read_values(const char *path, long n, double **out) {
 *     int rc = BPS_OK;
 *     double *v = NULL;
 *     FILE *f = fopen(path, "rb");
 *     BPS_CHECK_GOTO(f, BPS_ERR_IO, "cannot open %s", path);
 *     v = malloc(sizeof(double) * (size_t)n);
 *     BPS_CHECK_GOTO(v, BPS_ERR_MEM, "out of memory");
 *     BPS_CHECK_GOTO(fread(v, sizeof(double), (size_t)n, f) == (size_t)n, BPS_ERR_IO,
 *                    "%s: short read", path);
 *     BPS_CALL_GOTO(check_values(v, n));
 *     *out = v;
 *     v = NULL;                     (ownership handed to the caller)
 *   cleanup:
 *     if (f) fclose(f);
 *     free(v);
 *     return rc;
 *   }
 * A caller that wants to add context to a failure it returns writes, after cleanup,
 * BPS_CHECK(!rc, rc, "while ..."). Code that must not jump (the body of an OpenMP loop,
 * a loop that records a per-item failure and goes on) keeps the code in a variable and
 * lets the caller propagate it.
 */
#ifndef BPSCAN_ERROR_H
#define BPSCAN_ERROR_H

#include <stdio.h>

typedef enum {
  BPS_OK = 0,
  BPS_ERR_ARG = 1,         /* invalid argument (a caller bug) */
  BPS_ERR_MEM = 2,         /* an allocation failed */
  BPS_ERR_LAPACK = 3,      /* a LAPACK/BLAS routine reported failure */
  BPS_ERR_NUMERIC = 4,     /* a numerical invariant broke (trace, positivity, ...) */
  BPS_ERR_IO = 5,          /* file input/output */
  BPS_ERR_MPI = 6,         /* MPI failure, or a failure on another rank */
  BPS_ERR_JOB = 7,         /* invalid job file (or a job the model cannot do) */
  BPS_ERR_INTERNAL = 8,    /* should not happen */
  BPS_ERR_USAGE = 9,       /* bad command line */
  BPS_ERR_EXISTS = 10,     /* the output file exists and --force was not given */
  BPS_ERR_OUTPUT = 11,     /* the output path is unusable: no such directory, not a
                               directory, not writable, or the path is a directory */
  BPS_ERR_CHECKPOINT = 12, /* a checkpoint of another job, a corrupt one, or one of an
                               earlier run without --resume */
  BPS_ERR_TOO_BIG = 13,    /* a task cannot fit in the memory of one rank, or exceeds a
                               size limit (a LAPACK int dimension, the QBM's register) */
  BPS_ERR_INTERRUPTED = 14 /* stopped by a signal with the checkpoint written (a status:
                               returned without a traceback) */
} bps_err;

/* Process exit codes (README "Exit codes"); bps_exit_code maps every bps_err to one. */
enum {
  BPS_EXIT_OK = 0,
  BPS_EXIT_ERROR = 1,       /* runtime error (numerical, memory, I/O, MPI, internal) */
  BPS_EXIT_USAGE = 2,       /* bad command line or invalid job file */
  BPS_EXIT_EXISTS = 3,      /* the output exists and --force was not given */
  BPS_EXIT_CHECKPOINT = 4,  /* checkpoint of another job, corrupt, or not resumed */
  BPS_EXIT_TOO_BIG = 5,     /* a task too big for one rank or beyond a size limit */
  BPS_EXIT_OUTPUT = 6,      /* the output path is unusable (directory missing, not
                               writable, not a directory, or a directory as the output) */
  BPS_EXIT_INTERRUPTED = 75 /* stopped by a signal; checkpoint written; rerun with --resume */
};

/* The exit code of a command that ended with rc (BPS_OK -> 0, unknown codes -> 1). */
int bps_exit_code(int rc);

/* Record a failure; returns code (the macros below are the way to call it). */
int bps_error_push(int code, const char *file, int line, const char *func, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
void bps_error_clear(void); /* forget this thread's traceback */
/* Print this thread's traceback, if any: "bpscan: error <name of the code of the latest
 * level, the one returned>: <innermost message>", then one "  at file:line func(): message"
 * line per level, innermost first. */
void bps_error_print(FILE *out);
const char *bps_error_message(void);  /* the innermost message, or "" if no level has one */
const char *bps_error_name(int code); /* "BPS_ERR_ARG", ... */

#define BPS_ERROR_PUSH_(code, ...)                                                              \
  bps_error_push((code), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define BPS_FAIL(code, ...) return BPS_ERROR_PUSH_((code), __VA_ARGS__)

#define BPS_CHECK(cond, code, ...)                                                              \
  do {                                                                                          \
    if (!(cond)) return BPS_ERROR_PUSH_((code), __VA_ARGS__);                                   \
  } while (0)

#define BPS_CALL(expr)                                                                          \
  do {                                                                                          \
    int bps_rc_ = (expr);                                                                       \
    if (bps_rc_) return BPS_ERROR_PUSH_(bps_rc_, "%s", "");                                     \
  } while (0)

#define BPS_FAIL_GOTO(code, ...)                                                                \
  do {                                                                                          \
    rc = BPS_ERROR_PUSH_((code), __VA_ARGS__);                                                  \
    goto cleanup;                                                                               \
  } while (0)

#define BPS_CHECK_GOTO(cond, code, ...)                                                         \
  do {                                                                                          \
    if (!(cond)) BPS_FAIL_GOTO((code), __VA_ARGS__);                                            \
  } while (0)

#define BPS_CALL_GOTO(expr)                                                                     \
  do {                                                                                          \
    int bps_rc_ = (expr);                                                                       \
    if (bps_rc_) BPS_FAIL_GOTO(bps_rc_, "%s", "");                                              \
  } while (0)

#endif

/* Error codes and PETSc/libCEED-style checking macros.
 *
 * Every fallible function returns int: BPS_OK (0) or a bps_err code. On failure the
 * macros push "file:line func: message" onto a per-thread traceback that the caller
 * (ultimately main or the driver) prints with bps_error_print().
 *
 *   BPS_CHECK(cond, code, fmt, ...)  precondition: return code with a message if !cond
 *   BPS_CALL(expr)                   propagate a non-zero code from a callee
 */
#ifndef BPSCAN_ERROR_H
#define BPSCAN_ERROR_H

#include <stdio.h>

typedef enum {
  BPS_OK = 0,
  BPS_ERR_ARG = 1,      /* invalid argument (a caller bug or bad user input) */
  BPS_ERR_MEM = 2,      /* allocation failed or a state would exceed the size limit */
  BPS_ERR_LAPACK = 3,   /* a LAPACK/BLAS routine reported failure */
  BPS_ERR_NUMERIC = 4,  /* a numerical invariant broke (trace, positivity, ...) */
  BPS_ERR_IO = 5,       /* file input/output */
  BPS_ERR_MPI = 6,      /* MPI failure */
  BPS_ERR_JOB = 7,      /* invalid job file */
  BPS_ERR_INTERNAL = 8  /* should not happen */
} bps_err;

/* Record a failure; returns code so macros can `return bps_error_push(...)`. */
int bps_error_push(int code, const char *file, int line, const char *func,
                   const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
void bps_error_clear(void);                /* forget this thread's traceback */
void bps_error_print(FILE *out);           /* print this thread's traceback */
const char *bps_error_message(void);       /* the first (innermost) message, or "" */
const char *bps_error_name(int code);      /* "BPS_ERR_ARG", ... */

#define BPS_CHECK(cond, code, ...)                                              \
  do {                                                                          \
    if (!(cond)) return bps_error_push((code), __FILE__, __LINE__, __func__, __VA_ARGS__); \
  } while (0)

#define BPS_CALL(expr)                                                          \
  do {                                                                          \
    int bps_rc_ = (expr);                                                       \
    if (bps_rc_) return bps_error_push(bps_rc_, __FILE__, __LINE__, __func__, "%s", ""); \
  } while (0)

#endif

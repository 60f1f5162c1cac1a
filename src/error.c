/* error: the per-thread traceback of failures and the map from error codes to process
 * exit codes (see include/bpscan/error.h). */
#include "bpscan/error.h"

#include <stdarg.h>
#include <string.h>

#define BPS_TRACE_DEPTH 16
#define BPS_TRACE_LEN 512

static _Thread_local struct {
  int depth, code; /* code: that of the latest (outermost) level, the one returned */
  char line[BPS_TRACE_DEPTH][BPS_TRACE_LEN];
} trace;

int bps_error_push(int code, const char *file, int line, const char *func, const char *fmt, ...) {
  trace.code = code;
  if (trace.depth < BPS_TRACE_DEPTH) {
    char msg[BPS_TRACE_LEN - 128] = "";
    if (fmt) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(msg, sizeof msg, fmt, ap);
      va_end(ap);
    }
    const char *base = strrchr(file, '/');
    snprintf(trace.line[trace.depth], BPS_TRACE_LEN, "%s:%d %s()%s%s", base ? base + 1 : file,
             line, func, msg[0] ? ": " : "", msg);
    trace.depth++;
  }
  return code;
}

void bps_error_clear(void) {
  trace.depth = 0;
  trace.code = 0;
}

const char *bps_error_message(void) {
  for (int i = 0; i < trace.depth; i++) {
    const char *s = strstr(trace.line[i], "(): ");
    if (s) return s + 4;
  }
  return "";
}

void bps_error_print(FILE *out) {
  if (trace.depth == 0) return;
  const char *msg = bps_error_message();
  fprintf(out, "bpscan: error %s%s%s\n", bps_error_name(trace.code), msg[0] ? ": " : "", msg);
  for (int i = 0; i < trace.depth; i++) fprintf(out, "  at %s\n", trace.line[i]);
}

const char *bps_error_name(int code) {
  switch (code) {
  case BPS_OK: return "BPS_OK";
  case BPS_ERR_ARG: return "BPS_ERR_ARG";
  case BPS_ERR_MEM: return "BPS_ERR_MEM";
  case BPS_ERR_LAPACK: return "BPS_ERR_LAPACK";
  case BPS_ERR_NUMERIC: return "BPS_ERR_NUMERIC";
  case BPS_ERR_IO: return "BPS_ERR_IO";
  case BPS_ERR_MPI: return "BPS_ERR_MPI";
  case BPS_ERR_JOB: return "BPS_ERR_JOB";
  case BPS_ERR_INTERNAL: return "BPS_ERR_INTERNAL";
  case BPS_ERR_USAGE: return "BPS_ERR_USAGE";
  case BPS_ERR_EXISTS: return "BPS_ERR_EXISTS";
  case BPS_ERR_OUTPUT: return "BPS_ERR_OUTPUT";
  case BPS_ERR_CHECKPOINT: return "BPS_ERR_CHECKPOINT";
  case BPS_ERR_TOO_BIG: return "BPS_ERR_TOO_BIG";
  case BPS_ERR_INTERRUPTED: return "BPS_ERR_INTERRUPTED";
  default: return "BPS_ERR_UNKNOWN";
  }
}

int bps_exit_code(int rc) {
  switch (rc) {
  case BPS_OK: return BPS_EXIT_OK;
  case BPS_ERR_USAGE:
  case BPS_ERR_JOB: return BPS_EXIT_USAGE;
  case BPS_ERR_EXISTS: return BPS_EXIT_EXISTS;
  case BPS_ERR_CHECKPOINT: return BPS_EXIT_CHECKPOINT;
  case BPS_ERR_TOO_BIG: return BPS_EXIT_TOO_BIG;
  case BPS_ERR_OUTPUT: return BPS_EXIT_OUTPUT;
  case BPS_ERR_INTERRUPTED: return BPS_EXIT_INTERRUPTED;
  default: return BPS_EXIT_ERROR;
  }
}

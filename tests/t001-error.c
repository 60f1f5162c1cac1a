/* t001-error: BPS_CHECK / BPS_CALL / BPS_FAIL build a per-thread traceback: innermost
 * message text and code, one "file:line func()" line per level in call order, clear()
 * forgets it, and success paths leave it empty. The cleanup idiom (BPS_CHECK_GOTO,
 * BPS_CALL_GOTO, BPS_FAIL_GOTO): the code lands in rc, the cleanup runs exactly once on
 * every path, and the traceback is the same as with the returning macros. A traceback
 * whose levels carry no message has message "". bps_exit_code maps every code to the
 * documented exit codes. */
#include <stdlib.h>
#include <string.h>

#include "bps_test.h"
#include "bpscan/error.h"
#include "bpscan/threads.h"

static int inner_line; /* the line of inner()'s BPS_CHECK */
static int inner(int x) {
  inner_line = __LINE__ + 1;
  BPS_CHECK(x > 0, BPS_ERR_ARG, "x must be positive (got %d)", x);
  return BPS_OK;
}
static int middle(int x) {
  BPS_CALL(inner(x));
  return BPS_OK;
}
static int outer(int x) {
  BPS_CALL(middle(x));
  return BPS_OK;
}
/* Passes on a code that carries no message of its own. */
static int middle_of_nothing(void) {
  BPS_CALL(BPS_ERR_MPI);
  return BPS_OK;
}
/* Adds context with a different code on the way out. */
static int wrapper(int x) {
  int rc = outer(x);
  BPS_CHECK(!rc, BPS_ERR_NUMERIC, "while %s", "wrapping");
  return BPS_OK;
}
static int deep(int level) {
  if (level == 0) {
    BPS_CHECK(0, BPS_ERR_IO, "bottom of a deep chain");
  }
  BPS_CALL(deep(level - 1));
  return BPS_OK;
}
static int long_message(void) {
  char big[2000];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  BPS_CHECK(0, BPS_ERR_MEM, "%s", big);
  return BPS_OK;
}

/* BPS_FAIL: unconditional. */
static int always_fails(int code) {
  if (code) BPS_FAIL(code, "failed with %d", code);
  return BPS_OK;
}

/* The cleanup idiom: `step` chooses where it fails (0: nowhere); *released counts the
 * cleanup runs and *owned whether the resource was still held there. */
static int step_ok(void) { return BPS_OK; }
static int idiom(int step, int *released, int *owned) {
  int rc = BPS_OK;
  double *buf = malloc(64);
  BPS_CHECK_GOTO(buf, BPS_ERR_MEM, "out of memory");
  BPS_CHECK_GOTO(step != 1, BPS_ERR_ARG, "step %d refused", step);
  BPS_CALL_GOTO(step == 2 ? inner(-2) : step_ok());
  if (step == 3) BPS_FAIL_GOTO(BPS_ERR_NUMERIC, "unconditional at step %d", step);
  buf[0] = 1.0;
cleanup:
  *released += 1;
  *owned = buf != NULL;
  free(buf);
  return rc;
}

/* bps_error_print into a string. */
static size_t print_to(char *buf, size_t n) {
  FILE *f = tmpfile();
  if (!f) return 0;
  bps_error_print(f);
  rewind(f);
  size_t got = fread(buf, 1, n - 1, f);
  buf[got] = 0;
  fclose(f);
  return got;
}

/* Number of "  at " lines, and a pointer to the i-th one (NULL if absent). */
static int count_at(const char *s) {
  int c = 0;
  for (const char *p = strstr(s, "\n  at "); p; p = strstr(p + 1, "\n  at ")) c++;
  return c;
}
static const char *at_line(const char *s, int i) {
  const char *p = strstr(s, "\n  at ");
  for (int k = 0; p && k < i; k++) p = strstr(p + 1, "\n  at ");
  return p ? p + 6 : NULL;
}
/* Does the line starting at p (up to '\n') contain needle? */
static int line_has(const char *p, const char *needle) {
  if (!p) return 0;
  const char *e = strchr(p, '\n');
  size_t len = e ? (size_t)(e - p) : strlen(p);
  char tmp[1024];
  if (len >= sizeof tmp) len = sizeof tmp - 1;
  memcpy(tmp, p, len);
  tmp[len] = 0;
  return strstr(tmp, needle) != NULL;
}
static int line_ends_with(const char *p, const char *suffix) {
  if (!p) return 0;
  const char *e = strchr(p, '\n');
  size_t len = e ? (size_t)(e - p) : strlen(p), sl = strlen(suffix);
  return len >= sl && memcmp(p + len - sl, suffix, sl) == 0;
}

int main(void) {
  char buf[16384];

  /* A clean start: nothing recorded, nothing printed. */
  bps_error_clear();
  CHECK(strcmp(bps_error_message(), "") == 0);
  CHECK(print_to(buf, sizeof buf) == 0);

  /* Success leaves no trace. */
  CHECK(outer(5) == BPS_OK);
  CHECK(strcmp(bps_error_message(), "") == 0);

  /* Failure three levels down. */
  int rc = outer(-3);
  CHECK(rc == BPS_ERR_ARG);
  CHECK(strcmp(bps_error_message(), "x must be positive (got -3)") == 0);
  print_to(buf, sizeof buf);
  printf("traceback:\n%s", buf);
  CHECK(strncmp(buf, "bpscan: error BPS_ERR_ARG: x must be positive (got -3)\n", 55) == 0);
  CHECK(count_at(buf) == 3);
  CHECK(line_has(at_line(buf, 0), "t001-error.c:"));
  CHECK(line_has(at_line(buf, 0), "inner(): x must be positive (got -3)"));
  CHECK(line_has(at_line(buf, 1), "t001-error.c:"));
  CHECK(line_ends_with(at_line(buf, 1), "middle()")); /* BPS_CALL adds no message */
  CHECK(line_ends_with(at_line(buf, 2), "outer()"));
  CHECK(!line_has(at_line(buf, 0), "/")); /* base name only */
  /* line numbers are those of the macros */
  char where[64];
  snprintf(where, sizeof where, "t001-error.c:%d inner(): ", inner_line);
  CHECK(line_has(at_line(buf, 0), where));

  /* clear() forgets everything. */
  bps_error_clear();
  CHECK(strcmp(bps_error_message(), "") == 0);
  CHECK(print_to(buf, sizeof buf) == 0);

  /* A second failure after clear starts a fresh traceback (no stale lines). */
  CHECK(middle(0) == BPS_ERR_ARG);
  print_to(buf, sizeof buf);
  CHECK(count_at(buf) == 2);
  CHECK(strstr(buf, "(got 0)") != NULL);
  bps_error_clear();

  /* Without clear, a new failure appends to the old traceback (callers must clear). */
  CHECK(inner(-1) == BPS_ERR_ARG);
  CHECK(inner(-2) == BPS_ERR_ARG);
  CHECK(strcmp(bps_error_message(), "x must be positive (got -1)") == 0);
  print_to(buf, sizeof buf);
  CHECK(count_at(buf) == 2);
  bps_error_clear();

  /* The reported code is the returned (outermost) one, the message the innermost. */
  rc = wrapper(-7);
  CHECK(rc == BPS_ERR_NUMERIC);
  print_to(buf, sizeof buf);
  CHECK(strncmp(buf, "bpscan: error BPS_ERR_NUMERIC: x must be positive (got -7)", 58) == 0);
  CHECK(count_at(buf) == 4);
  CHECK(line_has(at_line(buf, 3), "wrapper(): while wrapping"));
  bps_error_clear();

  /* A very deep chain is truncated, never overflows, keeps the innermost message. */
  rc = deep(100);
  CHECK(rc == BPS_ERR_IO);
  CHECK(strcmp(bps_error_message(), "bottom of a deep chain") == 0);
  print_to(buf, sizeof buf);
  int depth = count_at(buf);
  printf("deep chain of 101 levels -> %d traceback lines\n", depth);
  CHECK(depth >= 1 && depth <= 101);
  CHECK(strncmp(buf, "bpscan: error BPS_ERR_IO: bottom of a deep chain\n", 49) == 0);
  bps_error_clear();

  /* A long message is truncated, not overflowed. */
  CHECK(long_message() == BPS_ERR_MEM);
  size_t ml = strlen(bps_error_message());
  CHECK(ml > 0 && ml < 2000);
  CHECK(bps_error_message()[0] == 'a');
  bps_error_clear();

  /* Error names. */
  CHECK(strcmp(bps_error_name(BPS_OK), "BPS_OK") == 0);
  CHECK(strcmp(bps_error_name(BPS_ERR_ARG), "BPS_ERR_ARG") == 0);
  CHECK(strcmp(bps_error_name(BPS_ERR_MEM), "BPS_ERR_MEM") == 0);
  CHECK(strcmp(bps_error_name(BPS_ERR_LAPACK), "BPS_ERR_LAPACK") == 0);
  CHECK(strcmp(bps_error_name(BPS_ERR_NUMERIC), "BPS_ERR_NUMERIC") == 0);
  CHECK(strcmp(bps_error_name(BPS_ERR_IO), "BPS_ERR_IO") == 0);
  CHECK(strcmp(bps_error_name(BPS_ERR_MPI), "BPS_ERR_MPI") == 0);
  CHECK(strcmp(bps_error_name(BPS_ERR_JOB), "BPS_ERR_JOB") == 0);
  CHECK(strcmp(bps_error_name(BPS_ERR_INTERNAL), "BPS_ERR_INTERNAL") == 0);
  CHECK(strcmp(bps_error_name(12345), "BPS_ERR_UNKNOWN") == 0);

  /* BPS_FAIL */
  CHECK(always_fails(0) == BPS_OK);
  CHECK(strcmp(bps_error_message(), "") == 0);
  CHECK(always_fails(BPS_ERR_JOB) == BPS_ERR_JOB);
  CHECK(strcmp(bps_error_message(), "failed with 7") == 0);
  print_to(buf, sizeof buf);
  CHECK(count_at(buf) == 1 && line_has(at_line(buf, 0), "always_fails(): failed with 7"));
  bps_error_clear();

  /* The cleanup idiom: success and each failure point release once, with the code in rc
   * and the same traceback shape as the returning macros. */
  for (int step = 0; step <= 3; step++) {
    int released = 0, owned = 0;
    const int want[4] = {BPS_OK, BPS_ERR_ARG, BPS_ERR_ARG, BPS_ERR_NUMERIC};
    const int levels[4] = {0, 1, 2, 1};
    rc = idiom(step, &released, &owned);
    CHECK(rc == want[step]);
    CHECK(released == 1 && owned == 1);
    print_to(buf, sizeof buf);
    CHECK(count_at(buf) == levels[step]);
    if (step == 1) CHECK(strcmp(bps_error_message(), "step 1 refused") == 0);
    if (step == 2) {
      CHECK(strcmp(bps_error_message(), "x must be positive (got -2)") == 0);
      CHECK(line_has(at_line(buf, 0), "inner(): x must be positive"));
      CHECK(line_ends_with(at_line(buf, 1), "idiom()")); /* BPS_CALL_GOTO adds no message */
    }
    if (step == 3) CHECK(line_has(at_line(buf, 0), "idiom(): unconditional at step 3"));
    bps_error_clear();
  }

  /* Levels without a message (a code passed on from elsewhere): message "", printed
   * without a colon. */
  CHECK(middle_of_nothing() == BPS_ERR_MPI);
  CHECK(strcmp(bps_error_message(), "") == 0);
  print_to(buf, sizeof buf);
  CHECK(strncmp(buf, "bpscan: error BPS_ERR_MPI\n", 26) == 0);
  CHECK(count_at(buf) == 1);
  bps_error_clear();

  /* The new codes have names, and every code has its documented exit code. */
  CHECK(strcmp(bps_error_name(BPS_ERR_USAGE), "BPS_ERR_USAGE") == 0);
  CHECK(strcmp(bps_error_name(BPS_ERR_EXISTS), "BPS_ERR_EXISTS") == 0);
  CHECK(strcmp(bps_error_name(BPS_ERR_OUTPUT), "BPS_ERR_OUTPUT") == 0);
  CHECK(strcmp(bps_error_name(BPS_ERR_CHECKPOINT), "BPS_ERR_CHECKPOINT") == 0);
  CHECK(strcmp(bps_error_name(BPS_ERR_TOO_BIG), "BPS_ERR_TOO_BIG") == 0);
  CHECK(strcmp(bps_error_name(BPS_ERR_INTERRUPTED), "BPS_ERR_INTERRUPTED") == 0);
  const int exits[][2] = {{BPS_OK, 0},
                          {BPS_ERR_ARG, 1},
                          {BPS_ERR_MEM, 1},
                          {BPS_ERR_LAPACK, 1},
                          {BPS_ERR_NUMERIC, 1},
                          {BPS_ERR_IO, 1},
                          {BPS_ERR_MPI, 1},
                          {BPS_ERR_JOB, 2},
                          {BPS_ERR_INTERNAL, 1},
                          {BPS_ERR_USAGE, 2},
                          {BPS_ERR_EXISTS, 3},
                          {BPS_ERR_OUTPUT, 6},
                          {BPS_ERR_CHECKPOINT, 4},
                          {BPS_ERR_TOO_BIG, 5},
                          {BPS_ERR_INTERRUPTED, 75},
                          {12345, 1}};
  for (size_t i = 0; i < sizeof exits / sizeof *exits; i++) {
    CHECK(bps_exit_code(exits[i][0]) == exits[i][1]);
    if (bps_exit_code(exits[i][0]) != exits[i][1])
      fprintf(stderr, "  code %d: exit %d, expected %d\n", exits[i][0],
              bps_exit_code(exits[i][0]), exits[i][1]);
  }

  /* CHECK_FAILS (the harness) clears the traceback it provokes. */
  CHECK_FAILS(outer(-1), BPS_ERR_ARG);
  CHECK(strcmp(bps_error_message(), "") == 0);

  /* The traceback is per thread: two threads fail at the same time with different
   * messages and each sees only its own. */
#ifdef _OPENMP
  {
    int good = 0, team = 0;
    bps_error_clear();
#pragma omp parallel num_threads(2) reduction(+ : good)
    {
      int t = bps_thread_num();
#pragma omp single
      team = bps_threads_team();
      bps_error_clear();
      int r = inner(-100 - t);
#pragma omp barrier
      char want[64];
      snprintf(want, sizeof want, "x must be positive (got %d)", -100 - t);
      good += r == BPS_ERR_ARG && strcmp(bps_error_message(), want) == 0;
      bps_error_clear();
    }
    printf("per-thread traceback: %d of %d threads saw their own message\n", good, team);
    CHECK(team >= 1 && good == team);
    CHECK(strcmp(bps_error_message(), "") == 0);
  }
#endif

  return bps_test_result("t001-error");
}

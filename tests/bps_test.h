/* bps_test.h: the tiny test harness. A test is a main() that uses these macros and
 * returns bps_test_result(); any failed CHECK, or a test that ran no check at all, makes
 * the process exit non-zero. */
#ifndef BPS_TEST_H
#define BPS_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bpscan/error.h"

static int bps_test_failures = 0;
static int bps_test_checks = 0;

#define CHECK(cond)                                                                             \
  do {                                                                                          \
    bps_test_checks++;                                                                          \
    if (!(cond)) {                                                                              \
      bps_test_failures++;                                                                      \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                  \
    }                                                                                           \
  } while (0)

/* |a - b| <= atol + rtol |b| */
#define CHECK_CLOSE(a, b, rtol, atol)                                                           \
  do {                                                                                          \
    double ca_ = (double)(a), cb_ = (double)(b);                                                \
    bps_test_checks++;                                                                          \
    if (!(fabs(ca_ - cb_) <= (atol) + (rtol)*fabs(cb_))) {                                      \
      bps_test_failures++;                                                                      \
      fprintf(stderr, "%s:%d: CHECK_CLOSE failed: %s = %.17g vs %s = %.17g (diff %.3g)\n",      \
              __FILE__, __LINE__, #a, ca_, #b, cb_, fabs(ca_ - cb_));                           \
    }                                                                                           \
  } while (0)

/* A bpscan call that must succeed; prints the traceback and aborts the test if not. */
#define CHECK_OK(expr)                                                                          \
  do {                                                                                          \
    bps_test_checks++;                                                                          \
    int rc_ = (expr);                                                                           \
    if (rc_) {                                                                                  \
      fprintf(stderr, "%s:%d: %s returned %d\n", __FILE__, __LINE__, #expr, rc_);               \
      bps_error_print(stderr);                                                                  \
      exit(1);                                                                                  \
    }                                                                                           \
  } while (0)

/* A bpscan call that must fail with the given code. */
#define CHECK_FAILS(expr, code)                                                                 \
  do {                                                                                          \
    bps_test_checks++;                                                                          \
    int rc_ = (expr);                                                                           \
    bps_error_clear();                                                                          \
    if (rc_ != (code)) {                                                                        \
      bps_test_failures++;                                                                      \
      fprintf(stderr, "%s:%d: %s returned %d, expected %d\n", __FILE__, __LINE__, #expr, rc_,   \
              (int)(code));                                                                     \
    }                                                                                           \
  } while (0)

/* The exit status of a test: failure if any check failed or if none ran (a test that
 * checks nothing cannot fail, so it must not pass). */
static inline int bps_test_result(const char *name) {
  printf("%s: %d checks, %d failed\n", name, bps_test_checks, bps_test_failures);
  if (bps_test_checks == 0) {
    fprintf(stderr, "%s: no checks ran: a test that checks nothing fails\n", name);
    return 1;
  }
  return bps_test_failures ? 1 : 0;
}

#endif

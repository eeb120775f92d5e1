/*
 * test.h -- the minimal test harness: each tests/test_*.c is one program
 * (one ctest entry, its own process under ctest's timeout) with TEST()
 * functions run in order by main().  CHECK* failures print file:line and
 * the values, and make the program exit non-zero.
 */
#ifndef SL_TEST_H
#define SL_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"

static int t_failures;
static const char *t_current;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: %s: CHECK failed: %s\n", __FILE__, __LINE__,   \
              t_current, #cond);                                             \
      t_failures++;                                                          \
    }                                                                        \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                   \
  do {                                                                       \
    long long _a = (long long)(a), _b = (long long)(b);                      \
    if (_a != _b) {                                                          \
      fprintf(stderr, "%s:%d: %s: CHECK_EQ_INT failed: %s = %lld, %s = %lld\n", \
              __FILE__, __LINE__, t_current, #a, _a, #b, _b);                \
      t_failures++;                                                          \
    }                                                                        \
  } while (0)

#define CHECK_EQ_STR(a, b)                                                   \
  do {                                                                       \
    const char *_a = (a), *_b = (b);                                         \
    if (!_a || !_b || strcmp(_a, _b)) {                                      \
      fprintf(stderr, "%s:%d: %s: CHECK_EQ_STR failed:\n  %s = \"%s\"\n  %s = \"%s\"\n", \
              __FILE__, __LINE__, t_current, #a, _a ? _a : "(null)", #b,    \
              _b ? _b : "(null)");                                           \
      t_failures++;                                                          \
    }                                                                        \
  } while (0)

#define CHECK_CONTAINS(hay, needle)                                          \
  do {                                                                       \
    const char *_h = (hay), *_n = (needle);                                  \
    if (!_h || !strstr(_h, _n)) {                                            \
      fprintf(stderr, "%s:%d: %s: expected \"%s\" to contain \"%s\"\n",      \
              __FILE__, __LINE__, t_current, _h ? _h : "(null)", _n);        \
      t_failures++;                                                          \
    }                                                                        \
  } while (0)

#define RUN(fn)                                                              \
  do {                                                                       \
    t_current = #fn;                                                         \
    int _before = t_failures;                                                \
    fn();                                                                    \
    fprintf(stderr, "%s %s\n", t_failures == _before ? "ok  " : "FAIL", #fn); \
  } while (0)

#define TEST_MAIN_END() return t_failures ? 1 : 0

#endif

/*
 * clock.c -- the processing-time clock (core.h): wall-clock milliseconds,
 * replaceable by a test's function so that processing-time windows, timers
 * and idleness can be driven by hand instead of by the machine's speed.
 *
 * The override is two atomics (function, user pointer) read on every call;
 * sl__clock_set is only called while no job runs, so a reader never sees a
 * half-set pair.
 */
#include <stdatomic.h>

#include "core/core.h"

static _Atomic(sl__clock_fn) g_clock_fn;
static _Atomic(void *) g_clock_ud;

void sl__clock_set(sl__clock_fn fn, void *ud) {
  atomic_store(&g_clock_ud, ud);
  atomic_store(&g_clock_fn, fn);
}

int64_t sl__clock_ms(void) {
  sl__clock_fn fn = atomic_load_explicit(&g_clock_fn, memory_order_acquire);
  if (SL__UNLIKELY(fn != NULL)) return fn(atomic_load(&g_clock_ud));
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

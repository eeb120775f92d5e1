/*
 * core.h -- internal helpers shared by every module: the allocation hook,
 * checked string/buffer helpers, the monotonic clock, the processing-time
 * clock (replaceable by tests), saturating arithmetic, key hashing.
 *
 * Everything here is `sl__`-prefixed and private to libsluice.  All memory
 * of the library is allocated through sl__malloc/sl__realloc/sl__free so a
 * test can swap the allocator (sl_set_allocator) and fail allocations.
 */
#ifndef SL_CORE_H
#define SL_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "sluice.h"

/* Invariants the comments state, checked in Debug and sanitizer builds
 * (CMake defines SL_DEBUG there); nothing in release builds. */
#ifdef SL_DEBUG
#include <assert.h>
#define SL_ASSERT(cond) assert(cond)
#else
#define SL_ASSERT(cond) ((void)0)
#endif

void *sl__malloc(size_t size);
void *sl__calloc(size_t n, size_t size);
void *sl__realloc(void *ptr, size_t size);
void sl__free(void *ptr);
char *sl__strdup(const char *s);
/* Zeroed memory on cache lines of its own (64-byte aligned, padded): for
 * objects one worker writes per record (readers, writers, instances), so
 * two workers' objects never share a line.  Free with sl__free_private. */
void *sl__calloc_private(size_t size);
void sl__free_private(void *p);
void *sl__memdup(const void *p, size_t n);

/* snprintf into a fixed buffer, always terminated, never overflowing. */
void sl__fmt(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sl__vfmt(char *buf, size_t cap, const char *fmt, va_list ap);

/* Printable, quoted preview of bytes for error messages: at most `max`
 * input bytes, non-printables as \xNN.  Returns buf. */
char *sl__preview(char *buf, size_t cap, const void *p, size_t n, size_t max);

/* Monotonic time: durations and deadlines only (never stored, never
 * compared with a wall-clock value). */
static inline int64_t sl__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static inline int64_t sl__now_ms(void) { return sl__now_ns() / 1000000; }

/* Processing time: wall-clock milliseconds since the epoch
 * (CLOCK_REALTIME).  The library's one wall clock: every read of wall time
 * goes through sl__clock_ms(): the workers' tick(), sl_ctx_now()
 * (processing-time windows and timers, the watermark generator's
 * idleness), state TTL, and the checkpoint coordinator (interval, minimum
 * pause, savepoint polling, a checkpoint's taken_ms).  A test may
 * replace the clock process-wide with sl__clock_set(fn, ud) to drive
 * processing time by hand (fn may be called from any worker thread, so it
 * must be thread-safe); sl__clock_set(NULL, NULL) restores the real clock.
 * Set it only while no job runs. */
typedef int64_t (*sl__clock_fn)(void *ud);
void sl__clock_set(sl__clock_fn fn, void *ud);
int64_t sl__clock_ms(void);

/* Saturating int64 arithmetic (signed overflow is undefined behaviour):
 * results beyond the range become INT64_MAX or INT64_MIN. */
static inline int64_t sl__sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}
static inline int64_t sl__sat_sub(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_sub_overflow(a, b, &r) ? (b < 0 ? INT64_MAX : INT64_MIN) : r;
}

/* Key routing (DESIGN.md "Keys"): key bytes -> xxHash3 -> key group ->
 * subtask. */
#define XXH_INLINE_ALL /* short keys: let the compiler specialise XXH3 */
#include <xxhash.h>
/* Copy n <= 16 bytes without a call (two overlapping moves). */
static inline void sl__copy16(void *dst, const void *src, uint32_t n) {
  uint8_t *d = dst;
  const uint8_t *p = src;
  if (n >= 8) {
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, p + n - 8, 8);
    memcpy(d, &a, 8);
    memcpy(d + n - 8, &b, 8);
  } else if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + n - 4, 4);
    memcpy(d, &a, 4);
    memcpy(d + n - 4, &b, 4);
  } else {
    for (uint32_t i = 0; i < n; i++) d[i] = p[i];
  }
}

uint64_t sl__key_hash_long(const void *key, size_t len); /* util.c */
static inline uint64_t sl__key_hash(const void *key, size_t len) {
  /* keys up to 16 bytes inline (a few instructions), longer ones out of
   * line, so a caller does not carry all of XXH3 */
  return __builtin_expect(len <= 16, 1) ? XXH3_64bits(key, len) : sl__key_hash_long(key, len);
}
/* (A power-of-two max parallelism, the default 128, avoids 64-bit
 * divisions on the per-record path: mask and shift instead.) */
static inline int sl__key_group(uint64_t hash, int max_parallelism) {
  uint64_t m = (uint64_t)max_parallelism;
  return (int)(m & (m - 1) ? hash % m : hash & (m - 1));
}
static inline int sl__key_group_to_subtask(int kg, int max_parallelism,
                                           int parallelism) {
  SL_ASSERT(kg >= 0 && kg < max_parallelism && parallelism <= max_parallelism);
  uint32_t m = (uint32_t)max_parallelism, x = (uint32_t)kg * (uint32_t)parallelism;
  return (int)(m & (m - 1) ? x / m : x >> __builtin_ctz(m));
}

/* mkdir -p.  0, or -errno; *bad (when bad is not NULL) gets the component
 * that failed (sl__malloc'ed, may be NULL on out-of-memory). */
int sl__mkdir_p(const char *dir, char **bad);
/* Room for element n of an array: pp is the address of the array's
 * pointer (any T *), *cap its capacity in elements of `size` bytes.  When
 * n >= *cap the capacity doubles (from `first`) until it holds n.  0, or
 * -SL_ENOMEM with the array and *cap unchanged. */
int sl__grow(void *pp, uint32_t *cap, uint32_t n, size_t size, uint32_t first);
/* rm -rf, best effort. */
void sl__rm_rf(const char *path);
/* Fault injection for crash tests: with SLUICE_FAULT=NAME:N in the
 * environment, the Nth call of sl__fault("NAME") (process-wide) kills the
 * process with SIGKILL.  Points: "ckpt-file" (a checkpoint file is written
 * under its temporary name, before the rename), "commit" (a sink renamed
 * one committed file; others of the same commit may still be pending),
 * "kafka-commit" (the Kafka sink is about to commit a transaction whose
 * checkpoint completed), "pg-fetch" (a PostgreSQL snapshot read's FETCH
 * was answered; once per scan.fetch-size rows).
 * Only called on checkpoint and commit paths, never per record.  Compiled
 * in only with the CMake option SLUICE_FAULT_INJECTION (test builds). */
#ifdef SLUICE_FAULT_INJECTION
void sl__fault(const char *name);
/* With SLUICE_FAULT_DELAY=NAME:MS in the environment, every call of
 * sl__fault_delay("NAME") sleeps MS milliseconds (a slow peer, for tests
 * that must act while something is in progress).  Point: "pg-fetch" (a
 * PostgreSQL snapshot read's FETCH answered). */
void sl__fault_delay(const char *name);
#else
/* A build without -DSLUICE_FAULT_INJECTION=ON (every release build)
 * compiles the points away: SLUICE_FAULT is never read. */
static inline void sl__fault(const char *name) { (void)name; }
static inline void sl__fault_delay(const char *name) { (void)name; }
#endif
/* fsync a directory (after renames in it).  0 or -errno. */
int sl__fsync_dir(const char *dir);
/* Write all of buf to fd (retrying on EINTR/short writes). 0 or -errno.
 * (Sinks writing to a peer that may stop reading use connectors'
 * sl__write_stoppable.) */
int sl__write_all(int fd, const void *buf, size_t len);

/* UTF-8 validation: returns the byte index of the first invalid sequence,
 * or len when all of buf is valid. */
size_t sl__utf8_check(const void *buf, size_t len);

/* Parsing of config values. */
int sl__parse_duration_ms(const char *s, int64_t *out);
int sl__parse_size(const char *s, int64_t *out);
int sl__parse_int(const char *s, int64_t *out);
int sl__parse_bool(const char *s, int64_t *out);

#define SL__MIN(a, b) ((a) < (b) ? (a) : (b))
#define SL__MAX(a, b) ((a) > (b) ? (a) : (b))
#define SL__UNUSED(x) (void)(x)
#define SL__LIKELY(x) __builtin_expect(!!(x), 1)
#define SL__UNLIKELY(x) __builtin_expect(!!(x), 0)


#endif

/*
 * test_backpressure.c -- a fast source in front of a deliberately slow
 * stage: the source must be held back (records in flight stay bounded by
 * the channel capacity), memory must stay flat, and no record may be lost.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define N 3000000ull
static _Atomic uint64_t generated, consumed, consumed_sum;
static _Atomic int done;

static int gen(void *ud, sl_ctx *ctx, uint64_t i, sl_record *out) {
  uint64_t *v = sl_ctx_scratch(ctx, 8);
  *v = i;
  out->value = v;
  out->value_len = 8;
  atomic_fetch_add_explicit(&generated, 1, memory_order_relaxed);
  return 0;
}

static int key8(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  out->key = in->value; /* the value's own bytes stay valid */
  out->key_len = 8;
  return 0;
}

/* slow: sleeps 200 us every 2000 records (~0.3 s in all) */
static int slow(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  uint64_t v;
  memcpy(&v, in->value, 8);
  atomic_fetch_add_explicit(&consumed_sum, v, memory_order_relaxed);
  if (atomic_fetch_add_explicit(&consumed, 1, memory_order_relaxed) % 2000 == 0)
    usleep(200);
  return sl_emit(out, in);
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
  }
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static uint64_t max_lag;
static long max_rss;
static void *monitor(void *arg) {
  while (!atomic_load(&done)) {
    uint64_t g = atomic_load(&generated), c = atomic_load(&consumed);
    if (g - c > max_lag && g >= c) max_lag = g - c;
    long r = rss_kb();
    if (r > max_rss) max_rss = r;
    usleep(1000);
  }
  return NULL;
}

static void test_slow_sink_bounded(void) {
  sl_env *env = sl_env_new();
  sl_env_set(env, "parallelism.default", "2");
  sl_stream *s = sl_source_stream(env, sl_datagen_source(N, gen, NULL));
  s = sl_process(sl_key_by(s, key8, NULL), slow, NULL);
  CHECK_EQ_INT(sl_sink_to(s, sl_discard_sink()), 0);
  long rss0 = rss_kb();
  pthread_t t;
  pthread_create(&t, NULL, monitor, NULL);
  CHECK_EQ_INT(sl_execute(env, "backpressure"), 0);
  atomic_store(&done, 1);
  pthread_join(t, NULL);
  sl_job_stats st;
  sl_job_stats_get(env, &st);
  CHECK_EQ_INT(st.records_out, N);
  CHECK_EQ_INT(atomic_load(&consumed), N);
  CHECK_EQ_INT(atomic_load(&consumed_sum), N * (N - 1) / 2);
  /* in flight: at most 2x2 channels x 4 batches x 32 KiB / 24 B per entry
   * (~22k records) + a source budget per worker; unbounded buffering would
   * let the source run millions ahead. */
  fprintf(stderr, "max in flight %llu records, rss %ld -> %ld KiB\n",
          (unsigned long long)max_lag, rss0, max_rss);
  CHECK(max_lag < 40000);
  CHECK(max_rss - rss0 < 64 * 1024); /* the 3 M records would need ~70 MiB */
  sl_env_free(env);
}

int main(void) {
  RUN(test_slow_sink_bounded);
  TEST_MAIN_END();
}

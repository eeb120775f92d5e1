/*
 * test_batch_op.c -- sl_flat_map_batch: runs of records per call, in
 * order, never more than 64, the same output as a per-record flat_map
 * at P=1 and P=2 behind forward, rebalance and hash edges, and a failure
 * naming the operator and the run.
 */
#include <stdatomic.h>

#include "test.h"
#include "test_util.h"

typedef struct {
  _Atomic uint64_t calls, records, max_run;
  int64_t fail_at; /* -1: never */
} stats;

/* value v -> v*2 and, for odd v, also -v */
static int double_run(void *ud, sl_ctx *ctx, const sl_record *in, size_t n, sl_collector *out) {
  stats *st = ud;
  atomic_fetch_add(&st->calls, 1);
  atomic_fetch_add(&st->records, n);
  uint64_t m = atomic_load(&st->max_run);
  while (n > m && !atomic_compare_exchange_weak(&st->max_run, &m, n)) {
  }
  for (size_t i = 0; i < n; i++) {
    int64_t v;
    if (sl_record_get_i64(&in[i], &v)) return sl_ctx_fail(ctx, "bad value");
    if (v == st->fail_at) return sl_ctx_fail(ctx, "refused %lld", (long long)v);
    sl_record r = in[i];
    int64_t d = v * 2;
    r.value = &d;
    r.value_len = 8;
    int rc = sl_emit(out, &r);
    if (!rc && (v & 1)) {
      int64_t neg = -v;
      r.value = &neg;
      rc = sl_emit(out, &r);
    }
    if (rc) return rc;
  }
  return 0;
}

static int key_mod7(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t v;
  sl_record_get_i64(in, &v);
  return sl_record_set_key_i64(ctx, out, v % 7);
}

/* edge: 0 forward, 1 rebalance, 2 hash */
static void run_job(int P, int edge, int64_t n) {
  sl_env *env = sl_env_new();
  char p[8];
  snprintf(p, sizeof p, "%d", P);
  sl_env_set(env, "parallelism.default", p);
  stats st = {.fail_at = -1};
  sl_stream *s = sl_source_stream(env, sl_sequence_source(1, n));
  if (edge == 1) s = sl_rebalance(s);
  if (edge == 2) s = sl_key_by(s, key_mod7, NULL);
  s = sl_flat_map_batch(s, double_run, &st);
  sl_collect *c = sl_collect_new();
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
  CHECK_EQ_INT(sl_execute(env, "batch"), 0);
  /* reference: sum over v of 2v, and of -v for odd v */
  int64_t want_sum = 0, want_n = 0;
  for (int64_t v = 1; v <= n; v++) {
    want_sum += 2 * v;
    want_n++;
    if (v & 1) want_sum -= v, want_n++;
  }
  int64_t sum = 0;
  size_t cnt = sl_collect_count(c);
  int in_order = 1;
  int64_t last = 0;
  for (size_t i = 0; i < cnt; i++) {
    sl_record r;
    int64_t v;
    sl_collect_get(c, i, &r);
    sl_record_get_i64(&r, &v);
    sum += v;
    if (v > 0) {
      if (v < last) in_order = 0;
      last = v;
    }
    if (edge == 2) CHECK_EQ_INT(r.key_len, 8); /* keys kept */
  }
  CHECK_EQ_INT(cnt, want_n);
  CHECK_EQ_INT(sum, want_sum);
  CHECK_EQ_INT(atomic_load(&st.records), n);
  CHECK(atomic_load(&st.max_run) <= 64);
  CHECK(atomic_load(&st.max_run) > 1);              /* runs, not records */
  CHECK(atomic_load(&st.calls) < (uint64_t)n / 4);  /* far fewer calls than records */
  if (P == 1 && edge == 0) CHECK(in_order);
  sl_collect_free(c);
  sl_env_free(env);
}

static void test_forward_p1(void) { run_job(1, 0, 10000); }
static void test_forward_p2(void) { run_job(2, 0, 10000); }
static void test_rebalance_p2(void) { run_job(2, 1, 10000); }
static void test_hash_p2(void) { run_job(2, 2, 10000); }
static void test_hash_p1(void) { run_job(1, 2, 10000); }

static void test_failure_names_operator_and_run(void) {
  sl_env *env = sl_env_new();
  sl_env_set(env, "parallelism.default", "1");
  stats st = {.fail_at = 77};
  sl_stream *s = sl_source_stream(env, sl_sequence_source(1, 1000));
  s = sl_name(sl_flat_map_batch(s, double_run, &st), "doubler");
  sl_collect *c = sl_collect_new();
  sl_sink_to(s, sl_collect_sink(c));
  CHECK_EQ_INT(sl_execute(env, "batch-fail"), -SL_EUSER);
  CHECK_CONTAINS(sl_env_last_error(env), "doubler");
  CHECK_CONTAINS(sl_env_last_error(env), "failed on a run of");
  CHECK_CONTAINS(sl_env_last_error(env), "refused 77");
  sl_collect_free(c);
  sl_env_free(env);
}

static void test_null_fn(void) {
  sl_env *env = sl_env_new();
  sl_stream *s = sl_source_stream(env, sl_sequence_source(1, 10));
  CHECK(sl_flat_map_batch(s, NULL, NULL) == NULL);
  CHECK_CONTAINS(sl_env_last_error(env), "function is NULL");
  sl_env_free(env);
}

int main(void) {
  scratch_init("/tmp/sl_test_batch_op", 1);
  RUN(test_forward_p1);
  RUN(test_forward_p2);
  RUN(test_rebalance_p2);
  RUN(test_hash_p1);
  RUN(test_hash_p2);
  RUN(test_failure_names_operator_and_run);
  RUN(test_null_fn);
  TEST_MAIN_END();
}

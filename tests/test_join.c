/*
 * test_join.c -- window join and interval join of two keyed streams, with
 * expected pairs worked out by hand; both backends; P=1 and P=2.
 */
#include "test.h"
#include "test_util.h"

static const char *g_backend;

typedef struct ev {
  int64_t ts;
  const char *key, *val;
} ev;

static int64_t rec_ts(void *ud, const sl_record *in) { return in->ts; }

static int pair(void *ud, sl_ctx *ctx, const sl_record *a, const sl_record *b, sl_collector *out) {
  char line[96];
  int n = snprintf(line, sizeof line, "%.*s:%.*s+%.*s", (int)a->key_len, (const char *)a->key,
                   (int)a->value_len, (const char *)a->value, (int)b->value_len,
                   (const char *)b->value);
  sl_record r = {a->ts > b->ts ? a->ts : b->ts, a->key, a->key_len, line, (uint32_t)n};
  return sl_emit(out, &r);
}

static sl_stream *side(sl_env *env, const ev *e, size_t n, int64_t bound) {
  static sl_record recs[2][16];
  static int which;
  sl_record *r = recs[which++ & 1];
  for (size_t i = 0; i < n; i++)
    r[i] = (sl_record){e[i].ts, e[i].key, (uint32_t)strlen(e[i].key), e[i].val,
                       (uint32_t)strlen(e[i].val)};
  sl_watermark_strategy ws = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS, .out_of_orderness_ms = bound};
  sl_stream *s = sl_source_stream(env, sl_collection_source(r, n));
  return sl_key_by(sl_assign_timestamps(sl_forward(s), rec_ts, NULL, &ws), NULL, NULL);
}

static sl_env *join_env(int P) {
  sl_env *env = env_p(P);
  sl_env_set(env, "pipeline.auto-watermark-interval", "0");
  sl_env_set(env, "state.backend.type", g_backend);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/rocksdb", g_tmp);
  sl_env_set(env, "state.backend.rocksdb.dir", dir);
  return env;
}

static void collect_lines(sl_collect *c, lines *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    lines_add(out, r.value, r.value_len);
  }
}

static void expect(lines *got, const char *const *want, size_t n) {
  lines w = {0};
  for (size_t i = 0; i < n; i++) lines_add(&w, want[i], strlen(want[i]));
  CHECK(same_lines(&w, got, 0));
  lines_free(&w);
  lines_free(got);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Tumbling 10: [0,10) a: A {x1, x4} x B {p2, p8} = 4 pairs; b has only an
 * A element there and only a B element in [10,20): no pairs. */
static void test_window_join(void) {
  ev A[] = {{1, "a", "x1"}, {4, "a", "x4"}, {5, "b", "y5"}};
  ev B[] = {{2, "a", "p2"}, {8, "a", "p8"}, {15, "b", "q15"}};
  for (int P = 1; P <= 2; P++) {
    sl_env *env = join_env(P);
    sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .size_ms = 10};
    sl_collect *c = sl_collect_new();
    sl_stream *j = sl_window_join(side(env, A, N(A), 0), side(env, B, N(B), 0), &w, pair, NULL);
    sl_sink_to(j, sl_collect_sink(c));
    int rc = sl_execute(env, "window-join");
    if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
    CHECK_EQ_INT(rc, 0);
    lines got;
    collect_lines(c, &got);
    const char *want[] = {"a:x1+p2", "a:x1+p8", "a:x4+p2", "a:x4+p8"};
    expect(&got, want, N(want));
    sl_collect_free(c);
    sl_env_free(env);
  }
}

/* between(-2, +3): b.ts in [a.ts - 2, a.ts + 3].  A10 pairs with B8 and B13,
 * A20 with B19; B30 and the other key have no partner. */
static void test_interval_join(void) {
  ev A[] = {{10, "a", "A10"}, {20, "a", "A20"}, {10, "z", "Z10"}};
  ev B[] = {{8, "a", "B8"}, {13, "a", "B13"}, {19, "a", "B19"}, {30, "a", "B30"}, {16, "z", "Z16"}};
  for (int P = 1; P <= 2; P++) {
    sl_env *env = join_env(P);
    sl_collect *c = sl_collect_new();
    sl_stream *j = sl_interval_join(side(env, A, N(A), 100), side(env, B, N(B), 100), -2, 3,
                                    pair, NULL);
    sl_sink_to(j, sl_collect_sink(c));
    int rc = sl_execute(env, "interval-join");
    if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
    CHECK_EQ_INT(rc, 0);
    lines got;
    collect_lines(c, &got);
    const char *want[] = {"a:A10+B8", "a:A10+B13", "a:A20+B19"};
    expect(&got, want, N(want));
    sl_collect_free(c);
    sl_env_free(env);
  }
}

/* Timestamps at the ends of the int64 range, between(-5, +5): a@MAX-1 and
 * a@MAX differ by 1, z@MIN+2 and z@MIN+1 by -1: both pairs join.  (a.ts +
 * upper and b.ts - lower lie outside the int64 range; the expiry times
 * saturate, so a's elements wait for the final watermark and z's are kept
 * until both sides' watermarks pass MIN+7, after both z records.) */
static void test_interval_join_int64_edges(void) {
  ev A[] = {{INT64_MIN + 2, "z", "Zm"}, {INT64_MAX - 1, "a", "AM"}};
  ev B[] = {{INT64_MIN + 1, "z", "zm"}, {INT64_MAX, "a", "BM"}};
  for (int P = 1; P <= 2; P++) {
    sl_env *env = join_env(P);
    sl_collect *c = sl_collect_new();
    sl_stream *j = sl_interval_join(side(env, A, N(A), 100), side(env, B, N(B), 100), -5, 5,
                                    pair, NULL);
    sl_sink_to(j, sl_collect_sink(c));
    int rc = sl_execute(env, "interval-join");
    if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
    CHECK_EQ_INT(rc, 0);
    lines got;
    collect_lines(c, &got);
    const char *want[] = {"a:AM+BM", "z:Zm+zm"};
    expect(&got, want, N(want));
    sl_collect_free(c);
    sl_env_free(env);
  }
}

/* A record older than the watermark on arrival goes to "late": side A
 * produces 100 and, 200 ms later (5 records/s), 5; by then the watermark
 * is 99 (the B side is empty and has ended). */
static int late_gen(void *ud, sl_ctx *ctx, uint64_t i, sl_record *out) {
  *out = (sl_record){i ? 5 : 100, "a", 1, i ? "A5" : "A100", i ? 2 : 4};
  return 0;
}
static void test_interval_join_late(void) {
  sl_env *env = join_env(1);
  /* A5 comes 500 ms after A100 (the rate's schedule starts at the first
   * poll): by then the empty side has ended and A100's watermark holds */
  sl_env_set(env, "source.datagen.rows-per-second", "2");
  sl_collect *c = sl_collect_new(), *late = sl_collect_new();
  sl_watermark_strategy ws = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS};
  sl_stream *a = sl_key_by(sl_assign_timestamps(sl_source_stream(env, sl_datagen_source(2, late_gen, NULL)),
                                                rec_ts, NULL, &ws),
                           NULL, NULL);
  sl_stream *j = sl_interval_join(a, side(env, NULL, 0, 0), 0, 10, pair, NULL);
  sl_sink_to(j, sl_collect_sink(c));
  sl_sink_to(sl_side_output(j, "late"), sl_collect_sink(late));
  CHECK_EQ_INT(sl_execute(env, "late"), 0);
  CHECK_EQ_INT(sl_collect_count(c), 0);
  lines got;
  collect_lines(late, &got);
  const char *want[] = {"A5"};
  expect(&got, want, 1);
  sl_collect_free(c);
  sl_collect_free(late);
  sl_env_free(env);
}

int main(void) {
  scratch_init("/tmp/sl_test_join", 1);
  for (int b = 0; b < N_BACKENDS; b++) {
    g_backend = g_backends[b];
    fprintf(stderr, "== backend %s\n", g_backend);
    RUN(test_window_join);
    RUN(test_interval_join);
    RUN(test_interval_join_late);
    RUN(test_interval_join_int64_edges);
  }
  TEST_MAIN_END();
}

/*
 * test_window.c -- event time and windows, deterministic: out-of-order
 * input, watermark after every record, expected firings worked out by hand
 * in the comments.  Tumbling, sliding, session (with a bridging merge),
 * count and purging triggers, allowed lateness with re-firing, the late
 * side output, process and reduce window functions, keyed process timers
 * (event and processing time, deletion, deduplication), idleness, and
 * P=4 equal to P=1.  Window tests run on both state backends.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "test.h"
#include "test_util.h"

static const char *g_backend;

typedef struct ev {
  int64_t ts;
  const char *key;
  int64_t value;
} ev;

/* aggregate: count and sum */
typedef struct cs {
  int64_t count, sum;
} cs;
static void cs_create(void *ud, void *acc) { memset(acc, 0, sizeof(cs)); }
static int cs_add(void *ud, void *acc, const void *in, uint32_t n) {
  cs *a = acc;
  int64_t v;
  memcpy(&v, in, 8);
  a->count++;
  a->sum += v;
  return 0;
}
static int cs_merge(void *ud, void *acc, const void *other) {
  cs *a = acc;
  const cs *o = other;
  a->count += o->count;
  a->sum += o->sum;
  return 0;
}
static int cs_result(void *ud, const void *acc, sl_bytes *out) {
  *out = (sl_bytes){acc, sizeof(cs)};
  return 0;
}
static const sl_state_desc CS = {.name = "cs", .kind = SL_STATE_AGGREGATING, .size = sizeof(cs),
                                 .agg_create = cs_create, .agg_add = cs_add,
                                 .agg_merge = cs_merge, .agg_result = cs_result};

/* "start,end,key,count,sum" ("G" for the global window's bounds) */
static int format_cs(void *ud, sl_ctx *ctx, const sl_window *w, sl_window_elems *e,
                     sl_collector *out) {
  sl_record r;
  char line[128];
  while (sl_window_next(e, &r)) {
    cs a;
    memcpy(&a, r.value, sizeof a);
    int n;
    if (w->start == INT64_MIN)
      n = snprintf(line, sizeof line, "G,%.*s,%lld,%lld", (int)r.key_len, (const char *)r.key,
                   (long long)a.count, (long long)a.sum);
    else
      n = snprintf(line, sizeof line, "%lld,%lld,%.*s,%lld,%lld", (long long)w->start,
                   (long long)w->end, (int)r.key_len, (const char *)r.key, (long long)a.count,
                   (long long)a.sum);
    sl_record o = {r.ts, r.key, r.key_len, line, (uint32_t)n};
    int rc = sl_emit(out, &o);
    if (rc) return rc;
  }
  return 0;
}

static int64_t rec_ts(void *ud, const sl_record *in) { return in->ts; }

typedef struct run_result {
  lines out, late;
  int rc;
  char err[1024];
} run_result;

static int late_line(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t v;
  memcpy(&v, in->value, 8);
  char *buf = sl_ctx_scratch(ctx, 64);
  out->value_len = (uint32_t)snprintf(buf, 64, "late %.*s@%lld=%lld", (int)in->key_len,
                                      (const char *)in->key, (long long)in->ts, (long long)v);
  out->value = buf;
  return 0;
}

typedef enum { FN_AGG, FN_PROCESS, FN_REDUCE } fn_kind;

/* process window function: "start,end,key:v|v|..." in arrival order */
static int list_values(void *ud, sl_ctx *ctx, const sl_window *w, sl_window_elems *e,
                       sl_collector *out) {
  char line[256];
  sl_record r;
  int n = 0;
  sl_bytes key = {"", 0};
  sl_ctx_key(ctx, &key);
  n += snprintf(line + n, sizeof line - n, "%lld,%lld,%.*s:", (long long)w->start,
                (long long)w->end, (int)key.len, (const char *)key.data);
  const char *sep = "";
  while (sl_window_next(e, &r) && n < 200) {
    int64_t v;
    memcpy(&v, r.value, 8);
    n += snprintf(line + n, sizeof line - n, "%s%lld", sep, (long long)v);
    sep = "|";
  }
  sl_record o = {w->end - 1, key.data, key.len, line, (uint32_t)n};
  return sl_emit(out, &o);
}

static int max_reduce(void *ud, sl_ctx *ctx, const sl_record *acc, const sl_record *in,
                      sl_record *out) {
  int64_t a, b;
  memcpy(&a, acc->value, 8);
  memcpy(&b, in->value, 8);
  out->value = a >= b ? acc->value : in->value;
  out->value_len = 8;
  return 0;
}

static int format_max(void *ud, sl_ctx *ctx, const sl_window *w, sl_window_elems *e,
                      sl_collector *out) {
  sl_record r;
  char line[96];
  while (sl_window_next(e, &r)) {
    int64_t v;
    memcpy(&v, r.value, 8);
    int n = snprintf(line, sizeof line, "%lld,%lld,%.*s,max=%lld", (long long)w->start,
                     (long long)w->end, (int)r.key_len, (const char *)r.key, (long long)v);
    sl_record o = {r.ts, r.key, r.key_len, line, (uint32_t)n};
    int rc = sl_emit(out, &o);
    if (rc) return rc;
  }
  return 0;
}

static void run_windows(const ev *evs, size_t n, const sl_window_spec *w, int64_t ooo, int P,
                        fn_kind fk, run_result *res) {
  sl_env *env = env_p(P);
  sl_env_set(env, "pipeline.auto-watermark-interval", "0");
  sl_env_set(env, "state.backend.type", g_backend);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/rocksdb", g_tmp);
  sl_env_set(env, "state.backend.rocksdb.dir", dir);
  sl_record recs[256];
  for (size_t i = 0; i < n; i++)
    recs[i] = (sl_record){evs[i].ts, evs[i].key, (uint32_t)strlen(evs[i].key), &evs[i].value, 8};
  sl_watermark_strategy ws = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS, .out_of_orderness_ms = ooo};
  sl_stream *s = sl_source_stream(env, sl_collection_source(recs, n));
  /* the collection source runs on subtask 0; assign timestamps there, so
   * the watermark follows the input order exactly */
  s = sl_assign_timestamps(sl_forward(s), rec_ts, NULL, &ws);
  s = sl_key_by(s, NULL, NULL);
  sl_stream *win = fk == FN_AGG      ? sl_window_aggregate(s, w, &CS, format_cs, NULL)
                   : fk == FN_REDUCE ? sl_window_reduce(s, w, max_reduce, format_max, NULL)
                                     : sl_window_process(s, w, list_values, NULL);
  sl_collect *c = sl_collect_new(), *late = sl_collect_new();
  sl_sink_to(win, sl_collect_sink(c));
  sl_sink_to(sl_map(sl_side_output(win, w->late_tag ? w->late_tag : "late"), late_line, NULL),
             sl_collect_sink(late));
  res->rc = sl_execute(env, "windows");
  snprintf(res->err, sizeof res->err, "%s", sl_env_last_error(env));
  memset(&res->out, 0, sizeof res->out);
  memset(&res->late, 0, sizeof res->late);
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    char *l = strndup(r.value, r.value_len);
    lines_push(&res->out, l);
  }
  for (size_t i = 0; i < sl_collect_count(late); i++) {
    sl_record r;
    sl_collect_get(late, i, &r);
    lines_push(&res->late, strndup(r.value, r.value_len));
  }
  sl_collect_free(c);
  sl_collect_free(late);
  sl_env_free(env);
}

/* Compare (in order when ordered, else sorted) with expected lines. */
static void expect(run_result *res, const char *const *want, size_t nw,
                   const char *const *want_late, size_t nl, int ordered) {
  if (res->rc) fprintf(stderr, "  job failed: %s\n", res->err);
  CHECK_EQ_INT(res->rc, 0);
  lines w = {0}, wl = {0};
  for (size_t i = 0; i < nw; i++) lines_add(&w, want[i], strlen(want[i]));
  for (size_t i = 0; i < nl; i++) lines_add(&wl, want_late[i], strlen(want_late[i]));
  CHECK(same_lines(&w, &res->out, ordered));
  CHECK(same_lines(&wl, &res->late, 0));
  lines_free(&w);
  lines_free(&wl);
  lines_free(&res->out);
  lines_free(&res->late);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Tumbling 10 ms, out-of-orderness 5:
 *   1, 3, 12 (wm 6), 7 (window [0,10) ends at 9 > 6: in), 25 (wm 19: fires
 *   [0,10) = {1,3,7} and [10,20) = {12}), 8 (its window was cleaned up at
 *   9 <= 19: late), end: [20,30) = {25}. */
static void test_tumbling_out_of_order(void) {
  ev e[] = {{1, "a", 1}, {3, "a", 3}, {12, "a", 12}, {7, "a", 7}, {25, "a", 25}, {8, "a", 8}};
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .size_ms = 10};
  run_result r;
  run_windows(e, N(e), &w, 5, 1, FN_AGG, &r);
  const char *want[] = {"0,10,a,3,11", "10,20,a,1,12", "20,30,a,1,25"};
  const char *late[] = {"late a@8=8"};
  expect(&r, want, N(want), late, N(late), 1);
}

/* Allowed lateness 5, bound 0: 1, 4, 11 (wm 10: fire [0,10) = {1,4}),
 * 6 (cleanup at 9+5 = 14 > 10: in, re-fire [0,10) = {1,4,6}),
 * 17 (wm 16 >= 14: [0,10) cleaned), 3 (late), end: [10,20) = {11,17}. */
static void test_allowed_lateness(void) {
  ev e[] = {{1, "a", 1}, {4, "a", 4}, {11, "a", 11}, {6, "a", 6}, {17, "a", 17}, {3, "a", 3}};
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .size_ms = 10, .allowed_lateness_ms = 5};
  run_result r;
  run_windows(e, N(e), &w, 0, 1, FN_AGG, &r);
  const char *want[] = {"0,10,a,2,5", "0,10,a,3,11", "10,20,a,2,28"};
  const char *late[] = {"late a@3=3"};
  expect(&r, want, N(want), late, N(late), 1);
}

/* Sliding 10/5, bound 0: 7 -> [0,10), [5,15); 12 -> [5,15), [10,20);
 * wm 11 fires [0,10) = {7}; end: [5,15) = {7,12}, [10,20) = {12}. */
static void test_sliding(void) {
  ev e[] = {{7, "a", 7}, {12, "a", 12}};
  sl_window_spec w = {.kind = SL_WINDOW_SLIDING, .size_ms = 10, .slide_ms = 5};
  run_result r;
  run_windows(e, N(e), &w, 0, 1, FN_AGG, &r);
  const char *want[] = {"0,10,a,1,7", "5,15,a,2,19", "10,20,a,1,12"};
  expect(&r, want, N(want), NULL, 0, 0);
}

/* Sessions, gap 10, bound 100 (nothing fires before the end):
 * a: 0 -> [0,10); 30 -> [30,40); 14 -> [14,24) (touches neither);
 * 22 -> [22,32) touches [14,24) and [30,40): bridges them into [14,40)
 * = {14,22,30}; b: 100 -> [100,110). */
static void test_session_bridge(void) {
  ev e[] = {{0, "a", 0}, {30, "a", 30}, {14, "a", 14}, {22, "a", 22}, {100, "b", 100}};
  sl_window_spec w = {.kind = SL_WINDOW_SESSION, .gap_ms = 10};
  run_result r;
  run_windows(e, N(e), &w, 100, 1, FN_AGG, &r);
  const char *want[] = {"0,10,a,1,0", "14,40,a,3,66", "100,110,b,1,100"};
  expect(&r, want, N(want), NULL, 0, 0);
}

/* Count window of 3, purging (Flink's countWindow): 1..7 -> {1,2,3} and
 * {4,5,6}; 7 stays (a global window never fires on time). */
static void test_count_purging(void) {
  ev e[] = {{1, "a", 1}, {2, "a", 2}, {3, "a", 3}, {4, "a", 4},
            {5, "a", 5}, {6, "a", 6}, {7, "a", 7}};
  sl_window_spec w = {.kind = SL_WINDOW_GLOBAL, .trigger = SL_TRIGGER_COUNT, .count = 3, .purge = 1};
  run_result r;
  run_windows(e, N(e), &w, 0, 1, FN_AGG, &r);
  const char *want[] = {"G,a,3,6", "G,a,3,15"};
  expect(&r, want, N(want), NULL, 0, 1);
}

/* Count trigger 3 without purging on a tumbling 100 window: fires with
 * {1,2,3} and again with all six; the end cleans up without firing. */
static void test_count_not_purging(void) {
  ev e[] = {{1, "a", 1}, {2, "a", 2}, {3, "a", 3}, {4, "a", 4}, {5, "a", 5}, {6, "a", 6}};
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .size_ms = 100, .trigger = SL_TRIGGER_COUNT,
                      .count = 3};
  run_result r;
  run_windows(e, N(e), &w, 0, 1, FN_AGG, &r);
  const char *want[] = {"0,100,a,3,6", "0,100,a,6,21"};
  expect(&r, want, N(want), NULL, 0, 1);
}

/* Process function gets every element in arrival order; reduce keeps the
 * max.  Tumbling 10, bound 3: a 5, a 2, b 4, a 9, a 15 (wm 11: fire [0,10)
 * for a = {5,2,9} and b = {4}), end: a [10,20) = {15}. */
static void test_process_and_reduce(void) {
  ev e[] = {{5, "a", 5}, {2, "a", 2}, {4, "b", 4}, {9, "a", 9}, {15, "a", 15}};
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .size_ms = 10};
  run_result r;
  run_windows(e, N(e), &w, 3, 1, FN_PROCESS, &r);
  const char *want[] = {"0,10,a:5|2|9", "0,10,b:4", "10,20,a:15"};
  expect(&r, want, N(want), NULL, 0, 0);
  run_windows(e, N(e), &w, 3, 1, FN_REDUCE, &r);
  const char *want2[] = {"0,10,a,max=9", "0,10,b,max=4", "10,20,a,max=15"};
  expect(&r, want2, N(want2), NULL, 0, 0);
}

int main(void) {
  scratch_init("/tmp/sl_test_window", 1);
  const char *backends[] = {"hashmap", "rocksdb"};
  for (int b = 0; b < 2; b++) {
    g_backend = backends[b];
    fprintf(stderr, "== backend %s\n", g_backend);
    RUN(test_tumbling_out_of_order);
    RUN(test_allowed_lateness);
    RUN(test_sliding);
    RUN(test_session_bridge);
    RUN(test_count_purging);
    RUN(test_count_not_purging);
    RUN(test_process_and_reduce);
  }
  TEST_MAIN_END();
}

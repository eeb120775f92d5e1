/*
 * test_window.c -- event time and windows, deterministic: out-of-order
 * input, watermark after every record, expected firings worked out by hand
 * in the comments.  Tumbling, sliding, session (with a bridging merge),
 * count and purging triggers, allowed lateness with re-firing, the late
 * side output, late records without one (counted), timestamps at the
 * ends of the int64 range (dead letters, saturated session ends), process
 * and reduce window functions, keyed process timers (event and processing
 * time, deletion, deduplication), idleness, and P=4 equal to P=1.  Window
 * tests run on both state backends.  Processing time runs on a clock the
 * test drives (sl__clock_set), so no result depends on the machine's speed.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "checkpoint/storage.h"
#include "core/core.h" /* sl__clock_set */
#include "state/state.h"
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
  lines dead; /* the dead-letter file: "<where>" of each line (g_dead_letters) */
  sl_job_stats stats;
  int rc;
  char err[1024];
} run_result;

/* run_windows options: records of unrepresentable windows go to a
 * dead-letter file (else they fail the job); the late side output is not
 * connected (late records are then dropped and counted). */
static int g_dead_letters, g_no_late_output;

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
  char dead[1024];
  snprintf(dead, sizeof dead, "%s/dead-letters", g_tmp);
  unlink(dead);
  if (g_dead_letters) sl_env_set(env, "pipeline.dead-letter.path", dead);
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
  if (!g_no_late_output)
    sl_sink_to(sl_map(sl_side_output(win, w->late_tag ? w->late_tag : "late"), late_line, NULL),
               sl_collect_sink(late));
  res->rc = sl_execute(env, "windows");
  snprintf(res->err, sizeof res->err, "%s", sl_env_last_error(env));
  sl_job_stats_get(env, &res->stats);
  memset(&res->out, 0, sizeof res->out);
  memset(&res->late, 0, sizeof res->late);
  memset(&res->dead, 0, sizeof res->dead);
  size_t dlen;
  char *dl = read_file(dead, &dlen);
  if (dl) { /* operator TAB subtask TAB where TAB reason TAB record */
    lines all = {0};
    lines_split_copy(&all, dl, dlen);
    for (size_t i = 0; i < all.n; i++) {
      char *f = all.v[i];
      for (int k = 0; k < 2 && f; k++) f = strchr(f, '\t') ? strchr(f, '\t') + 1 : NULL;
      char *e = f ? strchr(f, '\t') : NULL;
      CHECK(e && strstr(e, "int64"));
      lines_add(&res->dead, f ? f : "?", e ? (size_t)(e - f) : 1);
    }
    lines_free(&all);
    free(dl);
  }
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

/* Sliding 10/5 with a reduce (max), bound 0 -- the sliced path (panes of
 * 5): a@7 -> pane [5,10); a@12 -> pane [10,15), wm 11 fires [0,10) = 7.
 * Then a@9 = 20 (pane [5,10) again: its window [0,10) fired already and
 * does not fire again, [5,15) is not late) and b@8 = 40 (a new pane whose
 * first window [0,10) is late: only [5,15) may fire for b).  End:
 * a [5,15) = max(7,12,20), a [10,20) = 12, b [5,15) = 40.  b@2 = 50 is late
 * for both of its windows ([-5,5), [0,10)): side output. */
static void test_sliding_reduce_late(void) {
  ev e[] = {{7, "a", 7}, {12, "a", 12}, {9, "a", 20}, {8, "b", 40}, {2, "b", 50}};
  sl_window_spec w = {.kind = SL_WINDOW_SLIDING, .size_ms = 10, .slide_ms = 5};
  run_result r;
  run_windows(e, N(e), &w, 0, 1, FN_REDUCE, &r);
  const char *want[] = {"0,10,a,max=7", "5,15,a,max=20", "10,20,a,max=12", "5,15,b,max=40"};
  const char *late[] = {"late b@2=50"};
  expect(&r, want, N(want), late, N(late), 0);
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

/* Custom trigger on a global window: a value of 0 fires and purges.
 * 3, 4, 0 -> {3,4,0}; 5, 0 -> {5,0}; 7 waits (never fires). */
static sl_trigger_result zero_fires(void *ud, const sl_record *in, uint64_t count) {
  int64_t v;
  memcpy(&v, in->value, 8);
  return v == 0 ? SL_TRIGGER_FIRE_AND_PURGE : SL_TRIGGER_CONTINUE;
}
static void test_custom_trigger(void) {
  ev e[] = {{1, "a", 3}, {2, "a", 4}, {3, "a", 0}, {4, "a", 5}, {5, "a", 0}, {6, "a", 7}};
  sl_window_spec w = {.kind = SL_WINDOW_GLOBAL, .trigger = SL_TRIGGER_CUSTOM, .custom = zero_fires};
  run_result r;
  run_windows(e, N(e), &w, 0, 1, FN_AGG, &r);
  const char *want[] = {"G,a,3,7", "G,a,2,5"};
  expect(&r, want, N(want), NULL, 0, 1);
}

/* ---- timestamps at the ends of the int64 range -------------------------------- *
 * A fixed-size window that would start before INT64_MIN or end after
 * INT64_MAX cannot be represented: its record goes to the dead-letter file
 * (one line per record, where = "timestamp T").  A session's end is cut at
 * INT64_MAX; a record at INT64_MAX itself has no session [t, end) with
 * end > t: dead letter.  Every record is in an output or a dead letter. */

static void expect_dead(run_result *r, const char *const *want, size_t n) {
  lines w = {0};
  for (size_t i = 0; i < n; i++) lines_add(&w, want[i], strlen(want[i]));
  CHECK(same_lines(&w, &r->dead, 0));
  CHECK_EQ_INT(r->stats.dead_letters, n);
  lines_free(&w);
  lines_free(&r->dead);
}

/* Tumbling 1000, bound 5.  INT64_MIN = -9223372036854775808, so the first
 * window that fits starts at -9223372036854775000 and the last one ends at
 * 9223372036854775000:
 *   -9223372036854775807 -> [-9223372036854776000, ...): before INT64_MIN
 *   -9223372036854775000 -> [-9223372036854775000, -9223372036854774000)
 *    9223372036854774999 -> [9223372036854774000, 9223372036854775000)
 *    9223372036854775000 -> [9223372036854775000, 9223372036854776000): after
 *    9223372036854775807 (INT64_MAX) -> the same window: after INT64_MAX */
static void test_tumbling_int64_edges(void) {
  ev e[] = {{-9223372036854775807LL, "a", 1}, {-9223372036854775807LL + 807, "a", 2},
            {9223372036854774999LL, "a", 3}, {9223372036854775000LL, "a", 4},
            {INT64_MAX, "a", 5}};
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .size_ms = 1000};
  const char *want[] = {"-9223372036854775000,-9223372036854774000,a,1,2",
                        "9223372036854774000,9223372036854775000,a,1,3"};
  const char *dead[] = {"timestamp -9223372036854775807", "timestamp 9223372036854775000",
                        "timestamp 9223372036854775807"};
  run_result r;
  g_dead_letters = 1;
  run_windows(e, N(e), &w, 5, 1, FN_AGG, &r);
  g_dead_letters = 0;
  expect_dead(&r, dead, N(dead));
  expect(&r, want, N(want), NULL, 0, 1);
}

/* Sliding 10/5, bound 0 (aggregate: the sliced path; process function:
 * one state entry per window).  Multiples of 5 near the ends: INT64_MIN + 3
 * = -9223372036854775805 and INT64_MAX - 7 = 9223372036854775800.
 *   -9223372036854775804 -> [-9223372036854775805, ...) and
 *                           [-9223372036854775810, ...): before INT64_MIN
 *   -9223372036854775800 -> [-...805, -...795) and [-...800, -...790)
 *    9223372036854775799 -> [...790, ...800) and [...795, ...805)
 *    9223372036854775800 -> [...800, ...810): after INT64_MAX
 *    INT64_MAX           -> the same */
static void test_sliding_int64_edges(void) {
  ev e[] = {{-9223372036854775804LL, "a", 1}, {-9223372036854775800LL, "a", 2},
            {9223372036854775799LL, "a", 3}, {9223372036854775800LL, "a", 4},
            {INT64_MAX, "a", 5}};
  sl_window_spec w = {.kind = SL_WINDOW_SLIDING, .size_ms = 10, .slide_ms = 5};
  const char *dead[] = {"timestamp -9223372036854775804", "timestamp 9223372036854775800",
                        "timestamp 9223372036854775807"};
  const char *want[] = {"-9223372036854775805,-9223372036854775795,a,1,2",
                        "-9223372036854775800,-9223372036854775790,a,1,2",
                        "9223372036854775790,9223372036854775800,a,1,3",
                        "9223372036854775795,9223372036854775805,a,1,3"};
  const char *want_p[] = {"-9223372036854775805,-9223372036854775795,a:2",
                          "-9223372036854775800,-9223372036854775790,a:2",
                          "9223372036854775790,9223372036854775800,a:3",
                          "9223372036854775795,9223372036854775805,a:3"};
  run_result r;
  g_dead_letters = 1;
  run_windows(e, N(e), &w, 0, 1, FN_AGG, &r);
  expect_dead(&r, dead, N(dead));
  expect(&r, want, N(want), NULL, 0, 1);
  run_windows(e, N(e), &w, 0, 1, FN_PROCESS, &r);
  g_dead_letters = 0;
  expect_dead(&r, dead, N(dead));
  expect(&r, want_p, N(want_p), NULL, 0, 1);
  /* size INT64_MAX, slide s = 4611686018427387903 (INT64_MAX / 2): a@0 is in
   * [0, MAX), [-s, MAX - s) and [-2s, MAX - 2s) = [-9223372036854775806, 1);
   * all fire at the end, by end */
  ev e2[] = {{0, "a", 1}};
  sl_window_spec w2 = {.kind = SL_WINDOW_SLIDING, .size_ms = INT64_MAX,
                       .slide_ms = INT64_MAX / 2};
  const char *want2[] = {"-9223372036854775806,1,a,1,1",
                         "-4611686018427387903,4611686018427387904,a,1,1",
                         "0,9223372036854775807,a,1,1"};
  run_windows(e2, N(e2), &w2, 0, 1, FN_AGG, &r);
  expect(&r, want2, N(want2), NULL, 0, 1);
}

/* Sessions end at t + gap, cut at INT64_MAX.  Gap INT64_MAX, bound 0:
 * a@5 -> [5, MAX); a@100 -> [100, MAX) merges into [5, MAX) = {5, 100};
 * c@9223372036854775000 -> [9223372036854775000, MAX); b@MAX: no session
 * [MAX, end > MAX) exists: dead letter.  Gap 10: a@INT64_MIN+1 ->
 * [-9223372036854775807, -9223372036854775797); a@MAX-3 -> [MAX-3, MAX). */
static void test_session_int64_edges(void) {
  ev e[] = {{5, "a", 5}, {100, "a", 100}, {9223372036854775000LL, "c", 7}, {INT64_MAX, "b", 1}};
  sl_window_spec w = {.kind = SL_WINDOW_SESSION, .gap_ms = INT64_MAX};
  const char *want[] = {"5,9223372036854775807,a,2,105",
                        "9223372036854775000,9223372036854775807,c,1,7"};
  const char *dead[] = {"timestamp 9223372036854775807"};
  run_result r;
  g_dead_letters = 1;
  run_windows(e, N(e), &w, 0, 1, FN_AGG, &r);
  g_dead_letters = 0;
  expect_dead(&r, dead, N(dead));
  expect(&r, want, N(want), NULL, 0, 0);
  ev e2[] = {{INT64_MIN + 1, "a", 1}, {INT64_MAX - 3, "a", 2}};
  sl_window_spec w2 = {.kind = SL_WINDOW_SESSION, .gap_ms = 10};
  const char *want2[] = {"-9223372036854775807,-9223372036854775797,a,1,1",
                         "9223372036854775804,9223372036854775807,a,1,2"};
  run_windows(e2, N(e2), &w2, 0, 1, FN_AGG, &r);
  expect(&r, want2, N(want2), NULL, 0, 1);
}

/* ---- late records without a side output: counted -------------------------------- *
 * The inputs of test_tumbling_out_of_order (8 is late) and
 * test_sliding_reduce_late (b@2 is late), with nothing connected to the
 * side output "late": the same results, and the job's stats count one late
 * record dropped.  With the side output connected nothing is dropped. */
static void test_late_dropped_counted(void) {
  ev e[] = {{1, "a", 1}, {3, "a", 3}, {12, "a", 12}, {7, "a", 7}, {25, "a", 25}, {8, "a", 8}};
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .size_ms = 10};
  const char *want[] = {"0,10,a,3,11", "10,20,a,1,12", "20,30,a,1,25"};
  const char *late[] = {"late a@8=8"};
  run_result r;
  run_windows(e, N(e), &w, 5, 1, FN_AGG, &r);
  CHECK_EQ_INT(r.stats.late_records_dropped, 0);
  expect(&r, want, N(want), late, N(late), 1);
  g_no_late_output = 1;
  run_windows(e, N(e), &w, 5, 1, FN_AGG, &r);
  CHECK_EQ_INT(r.stats.late_records_dropped, 1);
  expect(&r, want, N(want), NULL, 0, 1);
  ev e2[] = {{7, "a", 7}, {12, "a", 12}, {9, "a", 20}, {8, "b", 40}, {2, "b", 50}};
  sl_window_spec w2 = {.kind = SL_WINDOW_SLIDING, .size_ms = 10, .slide_ms = 5};
  const char *want2[] = {"0,10,a,max=7", "5,15,a,max=20", "10,20,a,max=12", "5,15,b,max=40"};
  run_windows(e2, N(e2), &w2, 0, 1, FN_REDUCE, &r);
  g_no_late_output = 0;
  CHECK_EQ_INT(r.stats.late_records_dropped, 1);
  expect(&r, want2, N(want2), NULL, 0, 0);
}

/* ---- processing time on a clock the test drives ----------------------------------
 * sl__clock_set (core.h) replaces the processing-time clock: here it reads
 * g_now, which the job itself advances as records are processed, so what
 * each window holds does not depend on scheduling or the machine's speed. */
static _Atomic int64_t g_now;
static int64_t test_clock(void *ud) { return atomic_load(&g_now); }

/* The count/sum aggregate, and every record added moves the clock 2 ms. */
static int cs_add_tick(void *ud, void *acc, const void *in, uint32_t n) {
  atomic_fetch_add(&g_now, 2);
  return cs_add(ud, acc, in, n);
}
static const sl_state_desc CS_TICK = {.name = "cs", .kind = SL_STATE_AGGREGATING,
                                      .size = sizeof(cs), .agg_create = cs_create,
                                      .agg_add = cs_add_tick, .agg_merge = cs_merge,
                                      .agg_result = cs_result};
static int value_i(void *ud, sl_ctx *ctx, uint64_t i, sl_record *out) {
  int64_t *v = sl_ctx_scratch(ctx, 8);
  *v = (int64_t)i;
  *out = (sl_record){SL_NO_TIMESTAMP, "a", 1, v, 8};
  return 0;
}

/* Processing-time tumbling windows of 50 ms; the clock starts at 1000 and
 * each record added moves it 2 ms, so record i (value i) is assigned at
 * 1000 + 2i: [1000,1050) = {0..24}, [1050,1100) = {25..49}, [1100,1150) =
 * {50..74}, [1150,1200) = {75..99}; sums 300, 925, 1550, 2175.  A window
 * fires when a tick sees the clock at its end - 1 (an odd number): only
 * after its last record (at an even time) was added.  The last one fires
 * at the end of input at the latest. */
static void test_processing_time_windows(void) {
  atomic_store(&g_now, 1000);
  sl__clock_set(test_clock, NULL);
  sl_env *env = env_p(1);
  sl_env_set(env, "state.backend.type", g_backend);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/rocksdb-pt", g_tmp);
  sl_env_set(env, "state.backend.rocksdb.dir", dir);
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_PROCESSING, .size_ms = 50};
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_key_by(sl_source_stream(env, sl_datagen_source(100, value_i, NULL)), NULL, NULL);
  sl_sink_to(sl_window_aggregate(s, &w, &CS_TICK, format_cs, NULL), sl_collect_sink(c));
  CHECK_EQ_INT(sl_execute(env, "ptime"), 0);
  sl__clock_set(NULL, NULL);
  lines got = {0}, want = {0};
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    lines_add(&got, r.value, r.value_len);
  }
  const char *wl[] = {"1000,1050,a,25,300", "1050,1100,a,25,925", "1100,1150,a,25,1550",
                      "1150,1200,a,25,2175"};
  for (size_t i = 0; i < 4; i++) lines_add(&want, wl[i], strlen(wl[i]));
  CHECK(same_lines(&want, &got, 1));
  CHECK_EQ_INT(atomic_load(&g_now), 1200);
  lines_free(&got);
  lines_free(&want);
  sl_collect_free(c);
  sl_env_free(env);
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


/* ---- P=4 equals P=1 (and a plain-loop reference) ------------------------------- */

static int gen_ev(void *ud, sl_ctx *ctx, uint64_t i, sl_record *out) {
  static const char keys[7][3] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6"};
  int64_t *v = sl_ctx_scratch(ctx, 8);
  *v = (int64_t)i;
  *out = (sl_record){(int64_t)i * 3, keys[(i * 5) % 7], 2, v, 8};
  return 0;
}

static void sliding_run(int P, lines *out) {
  sl_env *env = env_p(P);
  sl_env_set(env, "pipeline.auto-watermark-interval", "0");
  sl_env_set(env, "state.backend.type", g_backend);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/rocksdb-p", g_tmp);
  sl_env_set(env, "state.backend.rocksdb.dir", dir);
  /* every subtask's share is in timestamp order: monotonous watermarks,
   * and the window's minimum over subtasks never makes a record late */
  sl_watermark_strategy ws = {.kind = SL_WM_MONOTONOUS};
  sl_window_spec w = {.kind = SL_WINDOW_SLIDING, .size_ms = 100, .slide_ms = 25};
  sl_stream *s = sl_source_stream(env, sl_datagen_source(2000, gen_ev, NULL));
  s = sl_key_by(sl_assign_timestamps(s, rec_ts, NULL, &ws), NULL, NULL);
  sl_collect *c = sl_collect_new(), *late = sl_collect_new();
  sl_stream *win = sl_window_aggregate(s, &w, &CS, format_cs, NULL);
  sl_sink_to(win, sl_collect_sink(c));
  sl_sink_to(sl_side_output(win, "late"), sl_collect_sink(late));
  CHECK_EQ_INT(sl_execute(env, "p"), 0);
  CHECK_EQ_INT(sl_collect_count(late), 0);
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    lines_add(out, r.value, r.value_len);
  }
  sl_collect_free(c);
  sl_collect_free(late);
  sl_env_free(env);
}

static void test_parallelism_4_equals_1(void) {
  /* reference: for each window start (multiple of 25) and key, count/sum of
   * the events with start <= ts < start + 100 */
  lines ref = {0};
  for (int64_t start = -75; start < 2000 * 3; start += 25)
    for (int k = 0; k < 7; k++) {
      int64_t count = 0, sum = 0;
      for (int64_t i = 0; i < 2000; i++)
        if ((i * 5) % 7 == k && i * 3 >= start && i * 3 < start + 100) count++, sum += i;
      if (!count) continue;
      char line[96];
      int n = snprintf(line, sizeof line, "%lld,%lld,k%d,%lld,%lld", (long long)start,
                       (long long)start + 100, k, (long long)count, (long long)sum);
      lines_add(&ref, line, (size_t)n);
    }
  lines p1, p4;
  sliding_run(1, &p1);
  sliding_run(4, &p4);
  CHECK(same_lines(&ref, &p1, 0));
  CHECK(same_lines(&p1, &p4, 0));
  lines_free(&ref);
  lines_free(&p1);
  lines_free(&p4);
}

/* ---- keyed process functions with timers ---------------------------------------- */

static _Atomic int64_t g_ptimer_ts, g_ptimer_fired_ts;
static _Atomic int g_ptimer_fired, g_ptimer_registered;

/* value -1: delete the key's timer at 15; otherwise register ts + 10 twice
 * (deduplicated).  Key "p": register a processing-time timer. */
static int timer_fn(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  int64_t v;
  memcpy(&v, in->value, 8);
  if (in->key_len == 1 && *(const char *)in->key == 'p') {
    int64_t expect = 0;
    atomic_compare_exchange_strong(&g_ptimer_ts, &expect, sl_ctx_now(ctx) + 50);
    /* the same timestamp again and again until it fired (a timer set in the
     * past would fire again at once, as in Flink) */
    int rc = 0;
    if (!atomic_load(&g_ptimer_fired)) {
      atomic_fetch_add(&g_ptimer_registered, 1);
      rc = sl_timer_register(ctx, SL_TIME_PROCESSING, atomic_load(&g_ptimer_ts));
    }
    atomic_fetch_add(&g_now, 5); /* each record moves the test's clock 5 ms */
    return rc;
  }
  if (v == -1) return sl_timer_delete(ctx, SL_TIME_EVENT, 15);
  int rc = sl_timer_register(ctx, SL_TIME_EVENT, in->ts + 10);
  return rc ? rc : sl_timer_register(ctx, SL_TIME_EVENT, in->ts + 10);
}

static int on_timer(void *ud, sl_ctx *ctx, int64_t ts, sl_time_domain d, sl_collector *out) {
  sl_bytes key;
  sl_ctx_key(ctx, &key);
  if (d == SL_TIME_PROCESSING) {
    atomic_store(&g_ptimer_fired_ts, ts);
    CHECK(sl_ctx_now(ctx) >= ts); /* due */
    atomic_fetch_add(&g_ptimer_fired, 1);
    return 0;
  }
  char line[64];
  int n = snprintf(line, sizeof line, "%.*s@%lld", (int)key.len, (const char *)key.data,
                   (long long)ts);
  sl_record r = {ts, key.data, key.len, line, (uint32_t)n};
  return sl_emit(out, &r);
}

/* a@1 (timer a@11), b@3 (b@13), a@5 (a@15, twice), a@6 v=-1 (deletes a@15),
 * a@12 (wm 11: fires a@11; registers a@22); end: b@13, a@22 (a@15 gone). */
static void test_keyed_process_timers(void) {
  ev e[] = {{1, "a", 0}, {3, "b", 0}, {5, "a", 0}, {6, "a", -1}, {12, "a", 0}};
  sl_env *env = env_p(1);
  sl_env_set(env, "pipeline.auto-watermark-interval", "0");
  sl_record recs[8];
  for (size_t i = 0; i < N(e); i++) recs[i] = (sl_record){e[i].ts, e[i].key, 1, &e[i].value, 8};
  sl_watermark_strategy ws = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS};
  sl_stream *s = sl_source_stream(env, sl_collection_source(recs, N(e)));
  s = sl_key_by(sl_assign_timestamps(sl_forward(s), rec_ts, NULL, &ws), NULL, NULL);
  sl_collect *c = sl_collect_new();
  sl_sink_to(sl_keyed_process(s, timer_fn, on_timer, NULL), sl_collect_sink(c));
  int rc = sl_execute(env, "timers");
  if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
  lines got = {0}, want = {0};
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    lines_add(&got, r.value, r.value_len);
  }
  const char *w[] = {"a@11", "b@13", "a@22"};
  for (size_t i = 0; i < N(w); i++) lines_add(&want, w[i], strlen(w[i]));
  CHECK(same_lines(&want, &got, 1));
  lines_free(&got);
  lines_free(&want);
  sl_collect_free(c);
  sl_env_free(env);
}

typedef struct exec_job {
  sl_env *env;
  int rc;
  pthread_t t;
} exec_job;
static void *exec_main(void *arg) {
  exec_job *j = arg;
  j->rc = sl_execute(j->env, "job");
  return NULL;
}

/* Waits (up to a minute: a bound, not a timing assumption) until *flag
 * reaches n; returns whether it did. */
static int wait_for(_Atomic int *flag, int n) {
  for (int i = 0; i < 60000 && atomic_load(flag) < n; i++) sleep_ms(1);
  return atomic_load(flag) >= n;
}

/* An unbounded generator of key "p" on the test's clock: it starts at 1000
 * and each record moves it 5 ms, so the timer registered by record 0 at
 * 1050 is registered again by records 1..9 (at 1005..1045, deduplicated)
 * and fires once, when a tick sees the clock at 1050 or later; then the
 * test cancels the job.  (Processing-time timers do not fire at the end of
 * input, so the job must run until the timer fired.) */
static int slow_p(void *ud, sl_ctx *ctx, uint64_t i, sl_record *out) {
  static int64_t zero = 0;
  *out = (sl_record){(int64_t)i, "p", 1, &zero, 8};
  return 0;
}
static void test_processing_time_timer(void) {
  atomic_store(&g_ptimer_ts, 0);
  atomic_store(&g_ptimer_fired, 0);
  atomic_store(&g_ptimer_registered, 0);
  atomic_store(&g_now, 1000);
  sl__clock_set(test_clock, NULL);
  sl_env *env = env_p(1);
  sl_stream *s = sl_source_stream(env, sl_datagen_source(UINT64_MAX, slow_p, NULL));
  s = sl_keyed_process(sl_key_by(s, NULL, NULL), timer_fn, on_timer, NULL);
  sl_sink_to(s, sl_discard_sink());
  exec_job j = {env, 0, 0};
  pthread_create(&j.t, NULL, exec_main, &j);
  CHECK(wait_for(&g_ptimer_fired, 1));
  sl_cancel(env);
  pthread_join(j.t, NULL);
  sl__clock_set(NULL, NULL);
  CHECK_EQ_INT(j.rc, -SL_ECANCELED);
  CHECK_EQ_INT(atomic_load(&g_ptimer_fired), 1);
  CHECK_EQ_INT(atomic_load(&g_ptimer_fired_ts), 1050);
  CHECK(atomic_load(&g_ptimer_registered) >= 10);
  sl_env_free(env);
}

/* ---- idleness ------------------------------------------------------------------- */

/* Inputs A and B: two sockets the test writes to; A's lines are
 * timestamps, B never sends.  B has an idle timeout of 100 ms on the
 * test's clock, which stands at 1000 until the test moves it: so B holds
 * the windows back (its watermark is the minimum) until then, whatever the
 * scheduling; once B is idle, A's watermark alone drives the windows while
 * B is still connected and silent.  Tumbling 100, A monotonous:
 *   A 0, 10, .., 990 (100 records)       -> nothing fires (B active)
 *   clock 2000: B idle, wm 989           -> [0,100) .. [800,900): 9
 *   A 1000, .., 3990 (300 records), wm 3989 -> up to [3800,3900): 39
 *   A ends (watermark MAX)               -> [3900,4000): 40
 * Each step is awaited (up to a minute), never slept for.  While waiting
 * for firings the test writes more A records with the timestamp of the
 * step's last one plus 5 (same watermark window, nothing more fires): a
 * worker with nothing to do does not send its partial batches on (issue
 * 10 item 12), and the watermark that B's idleness releases sits in one. */
static _Atomic int g_fired, g_seen;
static int count_fired(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  atomic_fetch_add(&g_fired, 1);
  return 0;
}
static int count_seen(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  atomic_fetch_add(&g_seen, 1);
  return 0;
}
static int64_t zero_ts(void *ud, const sl_record *in) { return 0; }
static int64_t line_ts(void *ud, const sl_record *in) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.*s", (int)in->value_len, (const char *)in->value);
  return strtoll(buf, NULL, 10);
}
static int to_one(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  static const int64_t one = 1;
  *out = (sl_record){in->ts, "a", 1, &one, 8};
  return 0;
}
static int g_written; /* A records written */
static void write_ts(int fd, int64_t from, int64_t to) {
  char line[32];
  for (int64_t t = from; t <= to; t += 10, g_written++) {
    int n = snprintf(line, sizeof line, "%lld\n", (long long)t);
    CHECK_EQ_INT(write(fd, line, (size_t)n), n);
  }
}
/* Waits until n windows fired, writing A records at `nudge` meanwhile. */
static int wait_fired(int fd, int n, int64_t nudge) {
  for (int i = 0; i < 60000 && atomic_load(&g_fired) < n; i++) {
    if (i % 10 == 0) write_ts(fd, nudge, nudge);
    sleep_ms(1);
  }
  return atomic_load(&g_fired) >= n;
}

static void test_idleness(void) {
  int port_a = 0, port_b = 0;
  int la = listen_loopback(&port_a, 4), lb = listen_loopback(&port_b, 4);
  CHECK(la >= 0 && lb >= 0);
  atomic_store(&g_now, 1000);
  sl__clock_set(test_clock, NULL);
  sl_env *env = env_p(1);
  sl_env_set(env, "pipeline.auto-watermark-interval", "0");
  sl_watermark_strategy wa = {.kind = SL_WM_MONOTONOUS};
  sl_watermark_strategy wb = {.kind = SL_WM_MONOTONOUS, .idle_timeout_ms = 100};
  sl_stream *a = sl_assign_timestamps(sl_source_stream(env, sl_socket_source("127.0.0.1", port_a)),
                                      line_ts, NULL, &wa);
  sl_stream *b = sl_assign_timestamps(sl_source_stream(env, sl_socket_source("127.0.0.1", port_b)),
                                      zero_ts, NULL, &wb);
  sl_stream *ins[] = {sl_map(a, to_one, NULL), sl_map(b, to_one, NULL)};
  sl_stream *u = sl_map(sl_union(ins, 2), count_seen, NULL);
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .size_ms = 100};
  sl_stream *win = sl_window_aggregate(sl_key_by(u, NULL, NULL), &w, &CS, NULL, NULL);
  sl_sink_to(sl_map(win, count_fired, NULL), sl_discard_sink());
  exec_job j = {env, 0, 0};
  pthread_create(&j.t, NULL, exec_main, &j);
  int ca = accept(la, NULL, NULL), cb = accept(lb, NULL, NULL); /* B: connected, silent */
  CHECK(ca >= 0 && cb >= 0);
  g_written = 0;
  write_ts(ca, 0, 990);
  CHECK(wait_for(&g_seen, 100));
  CHECK_EQ_INT(atomic_load(&g_fired), 0); /* B is not idle yet: it holds the watermark */
  atomic_store(&g_now, 2000);             /* B idle from its next tick */
  CHECK(wait_fired(ca, 9, 995));
  write_ts(ca, 1000, 3990);
  CHECK(wait_fired(ca, 39, 3995));
  CHECK(wait_for(&g_seen, g_written));
  CHECK_EQ_INT(atomic_load(&g_fired), 39);
  close(ca); /* A ends: its watermark goes to MAX */
  CHECK(wait_for(&g_fired, 40));
  close(cb); /* B ends: the job can finish */
  close(la);
  close(lb);
  pthread_join(j.t, NULL);
  sl__clock_set(NULL, NULL);
  CHECK_EQ_INT(j.rc, 0);
  CHECK_EQ_INT(atomic_load(&g_fired), 40); /* [0,100) .. [3900,4000), once each */
  sl_env_free(env);
}

/* ---- the fast path's memory follows the live keys ---------------------------------------- */

#define SPAN 20 /* records per key: key = value / SPAN, event time = value */

static int key_span(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t v, *k = sl_ctx_scratch(ctx, sizeof *k);
  memcpy(&v, in->value, 8);
  *k = v / SPAN;
  out->key = k;
  out->key_len = sizeof *k;
  return 0;
}
static int64_t ts_value(void *ud, const sl_record *in) {
  int64_t v;
  memcpy(&v, in->value, 8);
  return v;
}

/* Peak heap of a P=1 job over n records whose keys each live in one 100 ms
 * window and never come back. */
static long long distinct_keys_peak(int64_t n) {
  long long base = heap_mark();
  sl_env *env = env_p(1);
  sl_env_set(env, "pipeline.auto-watermark-interval", "0");
  sl_watermark_strategy ws = {.kind = SL_WM_MONOTONOUS};
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .size_ms = 100};
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, n - 1));
  s = sl_key_by(sl_assign_timestamps(s, ts_value, NULL, &ws), key_span, NULL);
  CHECK_EQ_INT(sl_sink_to(sl_window_aggregate(s, &w, &COUNT, NULL, NULL), sl_discard_sink()),
               0);
  CHECK_EQ_INT(sl_execute(env, "distinct-keys"), 0);
  sl_env_free(env);
  return atomic_load(&g_peak) - base;
}

/* 4x the records means 4x the keys over the run, but the same few live at
 * any time: the peak heap must not grow with them (a key costs ~150 bytes,
 * so 7500 more keys kept would be ~1 MB). */
static void test_fast_path_memory_follows_live_keys(void) {
  long long p[2];
  CHECK_EQ_INT(heap_peaks(distinct_keys_peak, 50000, 200000, p), 0);
  fprintf(stderr, "  peak heap: %lld bytes with 2500 keys, %lld with 10000\n", p[0], p[1]);
  CHECK(p[1] - p[0] < 256 * 1024);
}

/* ---- the fast path's checkpoints ------------------------------------------------------------
 * A checkpoint of the fast path holds the general path's state: its panes
 * as the contents state's entries and the windows waiting as event-time
 * timers.  The job: sequence 0..CK_N-1, event time v / 100 (10,000 records
 * per 100 ms pane), key v % keys, sliding windows of 400 ms every 100 ms
 * counting, stopped without drain at record CK_STOP (a map stops it: the
 * same point in every run), so its final checkpoint (taken on the thread
 * that called sl_execute, after the workers joined) holds the live panes:
 * those of the windows not fired at event time ~500, about 3 per key. */

#define CK_N 100000
#define CK_STOP 50000

typedef struct ck_stop {
  sl_env *env;
  _Atomic int64_t seen;
} ck_stop;
static int ck_stop_map(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  ck_stop *s = ud;
  if (atomic_fetch_add(&s->seen, 1) + 1 == CK_STOP) sl_stop(s->env, 0);
  return 0;
}
static int64_t ck_ts(void *ud, const sl_record *in) {
  int64_t v;
  memcpy(&v, in->value, 8);
  return v / 100;
}
static int ck_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t v, *k = sl_ctx_scratch(ctx, sizeof *k);
  memcpy(&v, in->value, 8);
  *k = v % *(const int64_t *)ud;
  out->key = k;
  out->key_len = sizeof *k;
  return 0;
}
static int ck_merge(void *ud, void *acc, const void *other) {
  ((count_acc *)acc)->n += ((const count_acc *)other)->n;
  return 0;
}
static const sl_state_desc CK_COUNT = {.name = "count", .kind = SL_STATE_AGGREGATING,
                                       .size = sizeof(count_acc), .agg_create = cnt_create,
                                       .agg_add = cnt_add, .agg_merge = ck_merge,
                                       .agg_result = cnt_result};

/* Runs the job at P=1 into checkpoint directory dir (fast: the window fast
 * path on); returns sl_execute's code. */
static int ck_run(const char *dir, int64_t keys, int fast) {
  sl_env *env = env_p(1);
  sl_env_set(env, "state.checkpoints.dir", dir);
  sl_env_set(env, "execution.checkpointing.interval", "1h"); /* the final one only */
  sl_env_set(env, "pipeline.auto-watermark-interval", "0");
  sl_env_set(env, "state.backend.hashmap.window-fast-path", fast ? "true" : "false");
  ck_stop st = {env, 0};
  sl_watermark_strategy ws = {.kind = SL_WM_MONOTONOUS};
  sl_window_spec w = {.kind = SL_WINDOW_SLIDING, .size_ms = 400, .slide_ms = 100};
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, CK_N - 1));
  s = sl_map(s, ck_stop_map, &st);
  s = sl_key_by(sl_assign_timestamps(s, ck_ts, NULL, &ws), ck_key, &keys);
  sl_sink_to(sl_window_aggregate(s, &w, &CK_COUNT, NULL, NULL), sl_discard_sink());
  int rc = sl_execute(env, "fast-ckpt");
  if (rc != -SL_ECANCELED) fprintf(stderr, "  %s\n", sl_env_last_error(env));
  sl_env_free(env);
  return rc;
}

/* Allocations made on this thread (the one that takes and, at P=1, writes
 * the final checkpoint) by a run with `keys` keys. */
static long long ck_allocs(int64_t keys) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/ck-allocs-%lld", g_tmp, (long long)keys);
  rm_rf(dir);
  long long before = atomic_load(&g_allocs);
  t_count_allocs = 1;
  int rc = ck_run(dir, keys, 1);
  t_count_allocs = 0;
  CHECK_EQ_INT(rc, -SL_ECANCELED);
  return atomic_load(&g_allocs) - before;
}

/* 10 keys or 10,000 (~40 live panes or ~30,000): taking and writing the
 * checkpoint costs the same number of allocations -- the panes are copied
 * in bulk, not put into keyed state and the timer service one by one
 * (which cost several allocations per pane). */
static void test_fast_path_checkpoint_is_a_bulk_copy(void) {
  long long n[2];
  CHECK_EQ_INT(heap_peaks(ck_allocs, 10, 10000, n), 0);
  fprintf(stderr, "  allocations on the checkpointing thread: %lld with 10 keys, %lld with "
                  "10000\n", n[0], n[1]);
  CHECK(n[0] > 0);
  CHECK(n[1] - n[0] < 200);
}

typedef struct ck_lines {
  lines *out;
  const char *state;
  int kg, n;
} ck_lines;
static int ck_line(void *arg, const void *ck, uint32_t cklen, const void *val, uint32_t vlen) {
  ck_lines *c = arg;
  size_t cap = strlen(c->state) + 32 + 2 * ((size_t)cklen + vlen);
  char *b = malloc(cap);
  size_t n = (size_t)snprintf(b, cap, "%s %d ", c->state, c->kg);
  for (uint32_t i = 0; i < cklen; i++) n += (size_t)snprintf(b + n, cap - n, "%02x", ((const uint8_t *)ck)[i]);
  n += (size_t)snprintf(b + n, cap - n, " = ");
  for (uint32_t i = 0; i < vlen; i++) n += (size_t)snprintf(b + n, cap - n, "%02x", ((const uint8_t *)val)[i]);
  lines_push(c->out, b);
  c->n++;
  return 0;
}

/* The entries of every state of a keyed image, as sorted lines "state kg
 * ck-hex = value-hex"; counts the entries of `state` into *n. */
static void image_entries(const char *path, const char *state, lines *out, int *n) {
  uint32_t maxp = 0;
  size_t len;
  char *raw = read_file(path, &len);
  CHECK(raw && len > 16);
  if (raw && len > 16) memcpy(&maxp, raw + 12, 4); /* magic, version, max parallelism */
  free(raw);
  sl__conf conf;
  char err[512];
  sl__backend *be = NULL;
  CHECK_EQ_INT(sl__conf_init(&conf), 0);
  CHECK_EQ_INT(sl__heap_backend_open(&conf, 0, (int)maxp - 1, (int)maxp, &be, err, sizeof err),
               0);
  CHECK_EQ_INT(sl__image_read_file(be, path), 0);
  *n = 0;
  for (uint32_t sid = 0; be && sid < be->n_states; sid++)
    for (int kg = 0; kg < (int)maxp; kg++) {
      ck_lines cl = {out, be->states[sid].name, kg, 0};
      CHECK_EQ_INT(be->vt->iter(be, kg, sid, NULL, 0, ck_line, &cl), 0);
      if (!strcmp(be->states[sid].name, state)) *n += cl.n;
    }
  lines_sort(out);
  sl__backend_free(be);
  sl__conf_free(&conf);
}

/* The keyed image of the one keyed operator of the latest checkpoint in
 * dir, into path. */
static void keyed_image(const char *dir, char *path, size_t cap) {
  char chk[2048], err[512];
  sl__ckpt_meta m;
  path[0] = 0;
  CHECK_EQ_INT(sl__ckpt_latest(dir, chk, sizeof chk, &m, NULL, NULL, err, sizeof err), 0);
  sl__ckpt_meta_free(&m);
  DIR *d = opendir(chk);
  struct dirent *e;
  int found = 0;
  while (d && (e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l > 6 && !strcmp(e->d_name + l - 6, ".keyed")) {
      snprintf(path, cap, "%s/%s", chk, e->d_name);
      found++;
    }
  }
  if (d) closedir(d);
  CHECK_EQ_INT(found, 1);
}

/* The fast path's checkpoint holds exactly the entries the general path's
 * does, stopped at the same record: the same contents (pane namespaces,
 * accumulators) and the same timers, in the same key groups. */
static void test_fast_path_checkpoint_equals_general(void) {
  char dir[2][1024], img[2][4200];
  lines l[2] = {{0}};
  int panes[2], timers[2];
  for (int fast = 0; fast < 2; fast++) {
    snprintf(dir[fast], sizeof dir[fast], "%s/ck-equal-%d", g_tmp, fast);
    rm_rf(dir[fast]);
    CHECK_EQ_INT(ck_run(dir[fast], 10000, fast), -SL_ECANCELED);
    keyed_image(dir[fast], img[fast], sizeof img[fast]);
    lines t = {0};
    image_entries(img[fast], "count", &l[fast], &panes[fast]);
    image_entries(img[fast], "__timers_event", &t, &timers[fast]);
    lines_free(&t);
  }
  fprintf(stderr, "  %d panes, %d timers (general path: %d, %d)\n", panes[1], timers[1],
          panes[0], timers[0]);
  /* 10,000 keys in each pane: the panes of the 3 windows not fired, and
   * the one the stop cut short */
  CHECK(panes[0] >= 30000 && panes[0] <= 40000);
  CHECK(timers[0] >= 10000);
  CHECK_EQ_INT(panes[1], panes[0]);
  CHECK_EQ_INT(timers[1], timers[0]);
  CHECK_EQ_INT((int)l[1].n, (int)l[0].n);
  size_t bad = 0;
  for (size_t i = 0; i < l[0].n && i < l[1].n; i++)
    if (strcmp(l[0].v[i], l[1].v[i]) && bad++ < 3)
      fprintf(stderr, "  general: %s\n  fast:    %s\n", l[0].v[i], l[1].v[i]);
  CHECK_EQ_INT((int)bad, 0);
  lines_free(&l[0]);
  lines_free(&l[1]);
}


/* ---- state figures (metrics) -------------------------------------------------------------
 * sl__kstate_stats from inside a window function, as the runtime's metrics
 * call it on the worker: the contents state's entries are the live panes,
 * whether the fast path keeps them or the backend does.  Tumbling 10,
 * out-of-orderness 0: a 1, b 2, c 3, a 4, a 12 (wm 11: [0,10) fires for a,
 * b, c in that order; a's pane [10,20) is live already), d 13; end:
 * [10,20) for a and d.  A firing key's pane goes after its function ran:
 * live panes at each firing 4 (a0 b0 c0 a1), 3, 2, then 2 (a1 d1), 1. */
typedef struct fig {
  uint64_t entries, bytes;
} fig;
static int fig_of_cs(void *ud, const char *state, uint64_t entries, uint64_t bytes) {
  if (!strcmp(state, "cs")) *(fig *)ud = (fig){entries, bytes};
  return 0;
}
static int emit_figures(void *ud, sl_ctx *ctx, const sl_window *w, sl_window_elems *e,
                        sl_collector *out) {
  fig f = {UINT64_MAX, 0};
  CHECK_EQ_INT(sl__kstate_stats(sl__ctx_kstate(ctx), fig_of_cs, &f), 0);
  CHECK(f.bytes > 0);
  sl_bytes key;
  sl_ctx_key(ctx, &key);
  char line[64];
  int n = snprintf(line, sizeof line, "%lld,%.*s,%llu", (long long)w->start, (int)key.len,
                   (const char *)key.data, (unsigned long long)f.entries);
  sl_record o = {w->end - 1, key.data, key.len, line, (uint32_t)n};
  return sl_emit(out, &o);
}

static void test_state_figures(void) {
  ev e[] = {{1, "a", 1}, {2, "b", 1}, {3, "c", 1}, {4, "a", 1}, {12, "a", 1}, {13, "d", 1}};
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .size_ms = 10};
  for (int fast = 0; fast < 2; fast++) {
    sl_env *env = env_p(1);
    sl_env_set(env, "pipeline.auto-watermark-interval", "0");
    sl_env_set(env, "state.backend.hashmap.window-fast-path", fast ? "true" : "false");
    sl_record recs[N(e)];
    for (size_t i = 0; i < N(e); i++)
      recs[i] = (sl_record){e[i].ts, e[i].key, 1, &e[i].value, 8};
    sl_watermark_strategy ws = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS};
    sl_stream *s = sl_source_stream(env, sl_collection_source(recs, N(e)));
    s = sl_key_by(sl_assign_timestamps(sl_forward(s), rec_ts, NULL, &ws), NULL, NULL);
    sl_collect *c = sl_collect_new();
    sl_sink_to(sl_window_aggregate(s, &w, &CS, emit_figures, NULL), sl_collect_sink(c));
    CHECK_EQ_INT(sl_execute(env, "figures"), 0);
    lines got = {0}, want = {0};
    for (size_t i = 0; i < sl_collect_count(c); i++) {
      sl_record r;
      sl_collect_get(c, i, &r);
      lines_add(&got, r.value, r.value_len);
    }
    const char *expect_lines[] = {"0,a,4", "0,b,3", "0,c,2", "10,a,2", "10,d,1"};
    for (size_t i = 0; i < N(expect_lines); i++)
      lines_add(&want, expect_lines[i], strlen(expect_lines[i]));
    if (!same_lines(&want, &got, 1)) {
      fprintf(stderr, "  fast path %s:", fast ? "on" : "off");
      for (size_t i = 0; i < got.n; i++) fprintf(stderr, " %s", got.v[i]);
      fprintf(stderr, "\n");
      CHECK(0);
    }
    lines_free(&got);
    lines_free(&want);
    sl_collect_free(c);
    sl_env_free(env);
  }
}

int main(void) {
  scratch_init("/tmp/sl_test_window", 1);
  /* first: it forks, and a process that has run threads should not (TSan) */
  RUN(test_fast_path_memory_follows_live_keys);
  RUN(test_fast_path_checkpoint_is_a_bulk_copy);
  RUN(test_fast_path_checkpoint_equals_general);
  RUN(test_state_figures);
  for (int b = 0; b < N_BACKENDS; b++) {
    g_backend = g_backends[b];
    fprintf(stderr, "== backend %s\n", g_backend);
    RUN(test_tumbling_out_of_order);
    RUN(test_allowed_lateness);
    RUN(test_sliding);
    RUN(test_sliding_reduce_late);
    RUN(test_session_bridge);
    RUN(test_count_purging);
    RUN(test_count_not_purging);
    RUN(test_process_and_reduce);
    RUN(test_custom_trigger);
    RUN(test_tumbling_int64_edges);
    RUN(test_sliding_int64_edges);
    RUN(test_session_int64_edges);
    RUN(test_late_dropped_counted);
    RUN(test_processing_time_windows);
    RUN(test_parallelism_4_equals_1);
  }
  RUN(test_keyed_process_timers);
  RUN(test_processing_time_timer);
  RUN(test_idleness);
  TEST_MAIN_END();
}

/*
 * test_api.c -- the public API's footguns a new user meets in the first
 * hour, one test each: a mistyped configuration key stops sl_execute
 * instead of running with defaults; sl_assign_timestamps without a
 * timestamp function keeps the records' own; sl_ctx_scratch gives every
 * call memory of its own; Flink's key names (aliases, pipeline.name,
 * execution.runtime-mode).
 */
#include "test.h"
#include "test_util.h"

static int64_t v64(const sl_record *r) {
  int64_t v;
  memcpy(&v, r->value, sizeof v);
  return v;
}

/* sequence 0..n-1 -> collect; returns sl_execute's code */
static int run_sequence(sl_env *env, int64_t n, sl_collect *c) {
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, n - 1));
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
  return sl_execute(env, "api");
}

/* ---- a failed sl_env_set ---------------------------------------------------- */

static void test_bad_key_stops_execute(void) {
  sl_env *env = env_p(1);
  CHECK(sl_env_set(env, "parallelism.defualt", "2") < 0); /* typo, ignored by the caller */
  sl_collect *c = sl_collect_new();
  CHECK_EQ_INT(run_sequence(env, 10, c), -SL_EINVAL);
  CHECK_CONTAINS(sl_env_last_error(env), "'parallelism.defualt'");
  CHECK_CONTAINS(sl_env_last_error(env), "did not run");
  CHECK_EQ_INT(sl_collect_count(c), 0);
  sl_collect_free(c);
  sl_env_free(env);
}

static void test_bad_value_then_fixed_runs(void) {
  sl_env *env = env_p(1);
  CHECK(sl_env_set(env, "execution.buffer-timeout", "soon") < 0);
  CHECK_EQ_INT(sl_env_set(env, "execution.buffer-timeout", "10ms"), 0); /* set right */
  sl_collect *c = sl_collect_new();
  CHECK_EQ_INT(run_sequence(env, 10, c), 0);
  CHECK_EQ_INT(sl_collect_count(c), 10);
  sl_collect_free(c);
  sl_env_free(env);
}

/* more failed keys than the environment lists: fixing the listed ones
 * does not let the job run with the rest at their defaults */
static void test_many_bad_keys(void) {
  static const char *const keys[9][2] = {
      {"parallelism.default", "1"},         {"pipeline.max-parallelism", "128"},
      {"execution.buffer-timeout", "10ms"}, {"execution.batch-size", "32kb"},
      {"execution.channel-capacity", "4"},  {"pipeline.max-line-length", "1mb"},
      {"source.file.split-size", "32mb"},   {"source.monitor-interval", "0"},
      {"execution.checkpointing.interval", "0"}};
  sl_env *env = env_p(1);
  for (int i = 0; i < 9; i++) CHECK(sl_env_set(env, keys[i][0], "not-a-number") < 0);
  for (int i = 0; i < 8; i++) CHECK_EQ_INT(sl_env_set(env, keys[i][0], keys[i][1]), 0);
  sl_collect *c = sl_collect_new();
  CHECK_EQ_INT(run_sequence(env, 10, c), -SL_EINVAL); /* the ninth is still bad */
  CHECK_CONTAINS(sl_env_last_error(env), "did not run");
  CHECK_EQ_INT(sl_collect_count(c), 0);
  sl_collect_free(c);
  sl_env_free(env);
}

/* ---- sl_assign_timestamps(s, NULL, ...) ----------------------------------- */

static int key_mod3(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t *k = sl_ctx_scratch(ctx, 8);
  *k = v64(in) % 3;
  out->key = k;
  out->key_len = 8;
  return 0;
}

static void test_timestamps_null_fn(void) {
  /* the sequence source stamps value v with timestamp v: windows of 10 ms
   * over 0..29 -> per key (v % 3) three windows; their sums by hand */
  sl_env *env = env_p(1);
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, 29));
  s = sl_assign_timestamps(s, NULL, NULL, NULL);
  CHECK(s != NULL);
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_EVENT, .size_ms = 10};
  s = sl_window_reduce(sl_key_by(s, key_mod3, NULL), &w, sum_add, NULL, NULL);
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
  int rc = sl_execute(env, "ts");
  if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
  int64_t want[3][3] = {{0}}, got[3][3] = {{0}};
  for (int64_t v = 0; v < 30; v++) want[v % 3][v / 10] += v;
  CHECK_EQ_INT(sl_collect_count(c), 9);
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    int64_t k;
    memcpy(&k, r.key, 8);
    int win = (int)(r.ts / 10); /* a window's result carries end - 1 */
    if (k >= 0 && k < 3 && win >= 0 && win < 3) got[k][win] = v64(&r);
  }
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(got[k][i], want[k][i]);
  sl_collect_free(c);
  sl_env_free(env);
}

static void test_custom_strategy_needs_a_callback(void) {
  sl_env *env = env_p(1);
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, 9));
  sl_watermark_strategy ws = {.kind = SL_WM_CUSTOM};
  CHECK(sl_assign_timestamps(s, NULL, NULL, &ws) == NULL);
  CHECK_CONTAINS(sl_env_last_error(env), "on_event or on_periodic");
  sl_env_free(env);
}

/* ---- sl_ctx_scratch: every call its own memory ----------------------------- */

/* key = "k<v % 5>" and value = v * 10, each built in its own scratch call */
static int two_scratch(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  char *k = sl_ctx_scratch(ctx, 8);
  int64_t *v = sl_ctx_scratch(ctx, 8);
  uint8_t *big = sl_ctx_scratch(ctx, 100000); /* a new block: k and v stay */
  if (!k || !v || !big) return -SL_ENOMEM;
  memset(big, 0x55, 100000);
  snprintf(k, 8, "k%d", (int)(v64(in) % 5));
  *v = v64(in) * 10;
  out->key = k;
  out->key_len = (uint32_t)strlen(k);
  out->value = v;
  out->value_len = 8;
  return 0;
}

static void test_scratch_calls_do_not_overlap(void) {
  sl_env *env = env_p(1);
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, 99));
  CHECK_EQ_INT(sl_sink_to(sl_map(s, two_scratch, NULL), sl_collect_sink(c)), 0);
  CHECK_EQ_INT(sl_execute(env, "scratch"), 0);
  CHECK_EQ_INT(sl_collect_count(c), 100);
  int bad = 0;
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    char want[8];
    snprintf(want, sizeof want, "k%d", (int)(r.ts % 5));
    bad += r.key_len != strlen(want) || memcmp(r.key, want, r.key_len) || v64(&r) != r.ts * 10;
  }
  CHECK_EQ_INT(bad, 0);
  sl_collect_free(c);
  sl_env_free(env);
}

/* ---- Flink's names ---------------------------------------------------------- */

static void test_flink_key_names(void) {
  sl_env *env = sl_env_new();
  CHECK_EQ_INT(sl_env_set(env, "execution.checkpointing.dir", "/tmp/x-ck"), 0);
  CHECK_EQ_STR(sl_env_get(env, "state.checkpoints.dir"), "/tmp/x-ck");
  CHECK_EQ_STR(sl_env_get(env, "execution.checkpointing.dir"), "/tmp/x-ck");
  CHECK_EQ_INT(sl_env_set(env, "execution.savepoint.path", "/tmp/sp"), 0);
  CHECK_EQ_STR(sl_env_get(env, "execution.checkpointing.restore"), "/tmp/sp");
  CHECK(sl_env_set(env, "execution.runtime-mode", "bach") < 0);
  CHECK_CONTAINS(sl_env_last_error(env), "streaming|batch|automatic");
  CHECK_EQ_INT(sl_env_set(env, "execution.runtime-mode", "batch"), 0);
  sl_env_free(env);
}

/* pipeline.name names the job when sl_execute gets none: the logger sees it */
static void grab_log(void *ud, sl_log_level level, const char *scope, const char *msg) {
  (void)level, (void)msg;
  char *seen = ud;
  if (!seen[0]) snprintf(seen, 256, "%s", scope);
}

static void test_pipeline_name(void) {
  sl_env *env = env_p(1);
  char seen[256] = "";
  sl_env_set_logger(env, grab_log, seen);
  CHECK_EQ_INT(sl_env_set(env, "pipeline.name", "nightly-totals"), 0);
  CHECK_EQ_INT(sl_env_set(env, "log.level", "debug"), 0);
  char ck[1024];
  CHECK_EQ_INT(sl_env_set(env, "state.checkpoints.dir", tpath(ck, sizeof ck, "pn-ck")), 0);
  CHECK_EQ_INT(sl_env_set(env, "execution.checkpointing.interval", "10ms"), 0);
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, 9));
  CHECK_EQ_INT(sl_sink_to(s, sl_discard_sink()), 0);
  CHECK_EQ_INT(sl_execute(env, NULL), 0);
  CHECK_CONTAINS(seen, "nightly-totals");
  sl_env_free(env);
}

/* batch: a monitored directory is read once and the job ends */
static void test_batch_reads_a_directory_once(void) {
  char dir[1024];
  tpath(dir, sizeof dir, "batch-in");
  mkdir_p(dir);
  char f[1100];
  snprintf(f, sizeof f, "%s/a.txt", dir);
  FILE *fp = fopen(f, "w");
  CHECK(fp != NULL);
  if (!fp) return;
  fputs("one\ntwo\nthree\n", fp);
  fclose(fp);
  sl_env *env = env_p(2);
  CHECK_EQ_INT(sl_env_set(env, "source.monitor-interval", "20ms"), 0);
  CHECK_EQ_INT(sl_env_set(env, "execution.runtime-mode", "batch"), 0);
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_file_source(dir));
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
  CHECK_EQ_INT(sl_execute(env, "batch"), 0); /* ends: streaming would run on */
  CHECK_EQ_INT(sl_collect_count(c), 3);
  sl_collect_free(c);
  sl_env_free(env);
}

static void test_batch_refuses_a_socket(void) {
  sl_env *env = env_p(1);
  CHECK_EQ_INT(sl_env_set(env, "execution.runtime-mode", "batch"), 0);
  sl_stream *s = sl_source_stream(env, sl_socket_source("127.0.0.1", 9));
  CHECK_EQ_INT(sl_sink_to(s, sl_discard_sink()), 0);
  CHECK(sl_execute(env, "batch") < 0);
  CHECK_CONTAINS(sl_env_last_error(env), "execution.runtime-mode=batch needs bounded sources");
  sl_env_free(env);
}

/* ---- typed helpers ---------------------------------------------------------------- */

/* each line "key,qty,price" -> key = the key, value = "<key>:<qty*price>";
 * a line that does not split into three fields or parse: a bad record */
static int csv_map(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  sl_field f[3];
  int64_t qty;
  double price;
  int n = sl_fields_split(ctx, in->value, in->value_len, ',', f, 3);
  if (n != 3 || sl_field_i64(&f[1], &qty) || sl_field_f64(&f[2], &price))
    return sl_ctx_bad_record(ctx, "line", "not key,qty,price", in);
  sl_record r = {0};
  int rc = sl_record_set_key_str(ctx, &r, f[0].data, f[0].len);
  if (!rc) rc = sl_record_printf(ctx, &r, "%.*s:%.2f", (int)f[0].len, f[0].data, (double)qty * price);
  return rc ? rc : sl_emit(out, &r);
}

static void test_fields_and_typed_values(void) {
  static const char *const text[] = {
      "plain,2,1.25\n",                /* 2.50 */
      "\"with,comma\",3,2\r\n",          /* quoted field holding the separator */
      "\"say \"\"hi\"\"\",1,0.5",        /* "" inside quotes is one quote */
      ",4,1",                          /* an empty key */
      "a,b,c,d",                       /* four fields: bad */
      "\"open,1,2",                    /* unterminated quote: bad */
      "\"x\"y,1,2",                    /* text after the closing quote: bad */
      "k,4x,1",                        /* not an integer: bad */
      "k,1,nan?"};                     /* not a number: bad */
  sl_env *env = env_p(1);
  char dl[1024];
  CHECK_EQ_INT(sl_env_set(env, "pipeline.dead-letter.path", tpath(dl, sizeof dl, "typed.dl")), 0);
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_lines_source(text, sizeof text / sizeof text[0]));
  CHECK_EQ_INT(sl_sink_to(sl_flat_map(s, csv_map, NULL), sl_collect_sink(c)), 0);
  int rc = sl_execute(env, "typed");
  if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
  sl_job_stats st;
  sl_job_stats_get(env, &st);
  CHECK_EQ_INT(st.dead_letters, 5);
  lines got = {0};
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    char buf[128];
    snprintf(buf, sizeof buf, "[%.*s] %.*s", (int)r.key_len, (const char *)r.key,
             (int)r.value_len, (const char *)r.value);
    lines_add(&got, buf, strlen(buf));
  }
  lines_sort(&got);
  CHECK_EQ_INT(got.n, 4);
  if (got.n == 4) {
    CHECK_EQ_STR(got.v[0], "[] :4.00");
    CHECK_EQ_STR(got.v[1], "[plain] plain:2.50");
    CHECK_EQ_STR(got.v[2], "[say \"hi\"] say \"hi\":0.50");
    CHECK_EQ_STR(got.v[3], "[with,comma] with,comma:6.00");
  }
  lines_free(&got);
  sl_collect_free(c);
  sl_env_free(env);
}

/* int64 and double values and keys round-trip; wrong sizes are refused */
static int typed_map(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t v;
  int rc = sl_record_get_i64(in, &v);
  if (!rc) rc = sl_record_set_key_i64(ctx, out, v % 7);
  if (!rc) rc = sl_record_set_f64(ctx, out, (double)v / 2);
  return rc;
}

static void test_typed_numbers(void) {
  sl_env *env = env_p(1);
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, 99));
  CHECK_EQ_INT(sl_sink_to(sl_map(s, typed_map, NULL), sl_collect_sink(c)), 0);
  CHECK_EQ_INT(sl_execute(env, "typed"), 0);
  CHECK_EQ_INT(sl_collect_count(c), 100);
  int bad = 0;
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    int64_t k;
    double d;
    bad += sl_record_key_i64(&r, &k) || sl_record_get_f64(&r, &d) || k != r.ts % 7 ||
           d != (double)r.ts / 2;
  }
  CHECK_EQ_INT(bad, 0);
  sl_record short_rec = {0, "k", 1, "abc", 3};
  int64_t v;
  CHECK_EQ_INT(sl_record_get_i64(&short_rec, &v), -SL_EBADREC);
  CHECK_EQ_INT(sl_record_key_i64(&short_rec, &v), -SL_EBADREC);
  sl_field f = {"  12", 4};
  CHECK_EQ_INT(sl_field_i64(&f, &v), -SL_EBADREC); /* no blanks */
  f = (sl_field){"-12", 3};
  CHECK(sl_field_i64(&f, &v) == 0 && v == -12);
  f = (sl_field){"1e400", 5};
  double d;
  CHECK_EQ_INT(sl_field_f64(&f, &d), -SL_EBADREC); /* out of range */
  sl_collect_free(c);
  sl_env_free(env);
}

int main(void) {
  scratch_init("/tmp/sl_test_api", 1);
  RUN(test_bad_key_stops_execute);
  RUN(test_bad_value_then_fixed_runs);
  RUN(test_many_bad_keys);
  RUN(test_timestamps_null_fn);
  RUN(test_custom_strategy_needs_a_callback);
  RUN(test_scratch_calls_do_not_overlap);
  RUN(test_flink_key_names);
  RUN(test_pipeline_name);
  RUN(test_batch_reads_a_directory_once);
  RUN(test_batch_refuses_a_socket);
  RUN(test_fields_and_typed_values);
  RUN(test_typed_numbers);
  TEST_MAIN_END();
}

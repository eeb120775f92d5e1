/*
 * test_batch_op.c -- sl_flat_map_batch: runs of records per call, in
 * order, never more than 64, the same output as a per-record flat_map
 * at P=1 and P=2 behind forward, rebalance and hash edges, and a failure
 * naming the operator and the run.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "sluice_connector.h"
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

static int key_mod13(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t v;
  sl_record_get_i64(in, &v);
  return sl_record_set_key_i64(ctx, out, v % 13);
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

/* A keyed process function without on_timer runs; registering a timer in
 * it fails (nothing would take the timer). */
static int try_timer(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  int rc = sl_timer_register(ctx, SL_TIME_EVENT, 5);
  return rc == -SL_ESTATE ? sl_emit(out, in) : sl_ctx_fail(ctx, "a timer was taken: %d", rc);
}

static int key_mod5(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out);

static void test_keyed_process_without_on_timer(void) {
  sl_env *env = sl_env_new();
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_key_by(sl_source_stream(env, sl_sequence_source(1, 10)), key_mod5, NULL);
  CHECK_EQ_INT(sl_sink_to(sl_keyed_process(s, try_timer, NULL, NULL), sl_collect_sink(c)), 0);
  CHECK_EQ_INT(sl_execute(env, "no-on-timer"), 0);
  CHECK_EQ_INT(sl_collect_count(c), 10);
  sl_collect_free(c);
  sl_env_free(env);
}

/* ---- no held record passes a checkpoint barrier ------------------------------------
 * Two source subtasks emit 7 records per poll; a hash edge (batches held
 * up to the buffer timeout, so a batch carries records and then a barrier)
 * into a map whose output goes straight into the batch operator, which then
 * holds part of a run when the barrier comes; a two-phase sink counts what
 * reached it at each barrier.  At the k-th checkpoint the sinks must have
 * received exactly what the sources had emitted at theirs. */
#define NCK 4096
static int64_t g_src_pos[2][NCK], g_src_total[2], g_sink_at[2][NCK];
static _Atomic int g_src_n[2], g_sink_n[2];

typedef struct {
  int sub;
  int64_t next, end;
} rd;

static int src_open(void *ud, sl_ctx *ctx, void **reader) {
  rd *r = calloc(1, sizeof *r);
  r->sub = sl_ctx_subtask(ctx);
  r->next = 0;
  r->end = getenv("SL_TEST_SMALL") ? 15000 : 60000;
  *reader = r;
  return 0;
}
static int src_poll(void *reader, sl_ctx *ctx, int budget) {
  rd *r = reader;
  for (int i = 0; i < 7 && r->next < r->end; i++) {
    int64_t v = r->sub * 1000000000LL + r->next++;
    sl_record rec = {SL_NO_TIMESTAMP, NULL, 0, &v, 8};
    int rc = sl_ctx_emit(ctx, &rec);
    if (rc) return rc;
  }
  g_src_total[r->sub] = r->next;
  if (r->next == r->end) return SL_POLL_END;
  usleep(20);
  return SL_POLL_MORE;
}
static void src_close(void *reader, sl_ctx *ctx) { free(reader); }
static int src_position(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len) {
  rd *r = reader;
  int k = atomic_fetch_add(&g_src_n[r->sub], 1);
  if (k < NCK) g_src_pos[r->sub][k] = r->next;
  memcpy(buf, &r->next, 8);
  *len = 8;
  return 0;
}
static int src_seek(void *reader, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                    int n) {
  return 0;
}
static const sl_source_ops g_src_ops = {.version = SL_CONNECTOR_VERSION, .kind = "counted",
                                        .open = src_open, .poll = src_poll, .close = src_close,
                                        .position = src_position, .seek = src_seek};

typedef struct {
  int sub;
  int64_t count;
  int64_t committed; /* the last checkpoint commit_ckpt told of */
} wr;
/* pre-commits of checkpoint n + 1 before the sink heard that n completed
 * (a transactional sink's next transaction could wait for the previous
 * one's locks); checkpoints here all complete, one in flight at a time */
static _Atomic int g_precommit_early;
static int snk_open(void *ud, sl_ctx *ctx, void **writer) {
  wr *w = calloc(1, sizeof *w);
  w->sub = sl_ctx_subtask(ctx);
  *writer = w;
  return 0;
}
static int snk_write(void *writer, sl_ctx *ctx, const sl_record *rec) {
  ((wr *)writer)->count++;
  return 0;
}
static void snk_close(void *writer, sl_ctx *ctx, int ok) { free(writer); }
static int snk_precommit(void *writer, sl_ctx *ctx, int64_t id, uint8_t *buf, size_t cap,
                         size_t *len) {
  wr *w = writer;
  if (w->committed < id - 1) atomic_fetch_add(&g_precommit_early, 1);
  int k = atomic_fetch_add(&g_sink_n[w->sub], 1);
  if (k < NCK) g_sink_at[w->sub][k] = w->count;
  *len = 0;
  return 0;
}
static int snk_commit(void *writer, sl_ctx *ctx, int64_t id) {
  ((wr *)writer)->committed = id;
  return 0;
}
static int snk_recover(void *ud, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                       int n, const char *const *names) {
  return 0;
}
static const sl_sink_ops g_snk_ops = {.version = SL_CONNECTOR_VERSION, .kind = "counting",
                                      .open = snk_open, .write = snk_write, .close = snk_close,
                                      .precommit = snk_precommit, .commit_ckpt = snk_commit,
                                      .recover = snk_recover};

static int ident(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) { return 0; }
static int key_mod5(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t v;
  sl_record_get_i64(in, &v);
  return sl_record_set_key_i64(ctx, out, v % 5);
}

static void test_no_held_record_passes_a_barrier(void) {
  char dir[4096];
  sl_env *env = sl_env_new();
  sl_env_set(env, "parallelism.default", "2");
  sl_env_set(env, "execution.checkpointing.interval", "2ms");
  sl_env_set(env, "execution.buffer-timeout", "1s");
  sl_env_set(env, "state.checkpoints.dir", tpath(dir, sizeof dir, "held_ck"));
  stats st = {.fail_at = -1};
  sl_stream *s = sl_source_stream(env, sl_source_new(&g_src_ops, NULL, 0));
  s = sl_map(sl_key_by(s, key_mod5, NULL), ident, NULL);
  s = sl_flat_map_batch(s, double_run, &st);
  CHECK_EQ_INT(sl_sink_to(s, sl_sink_new(&g_snk_ops, NULL, 0)), 0);
  CHECK_EQ_INT(sl_execute(env, "held"), 0);
  int n = g_sink_n[0] < g_sink_n[1] ? g_sink_n[0] : g_sink_n[1];
  int compared = 0;
  for (int k = 0; k < n && k < NCK; k++) {
    int64_t sink = g_sink_at[0][k] + g_sink_at[1][k];
    /* double_run emits 2 records for odd values, 1 for even: the sources
     * emit consecutive values from even starts, so a prefix of length m
     * gives m + m/2 outputs */
    int64_t want = 0;
    for (int p = 0; p < 2; p++) {
      int64_t m = k < g_src_n[p] ? g_src_pos[p][k] : g_src_total[p];
      want += m + m / 2;
    }
    if (sink != want) {
      fprintf(stderr, "checkpoint #%d: sinks saw %lld records, the sources' positions cover %lld\n",
              k, (long long)sink, (long long)want);
      CHECK(sink == want);
      break;
    }
    compared++;
  }
  CHECK(compared >= 3);
  CHECK_EQ_INT(atomic_load(&g_precommit_early), 0);
  sl_env_free(env);
}

/* ---- sl_keyed_process_batch ----------------------------------------------------------
 * A running count per key (v % 13) in value state, one output per record
 * (key, count), and at the end of the input one timer per key emitting
 * -(final count). */
static const sl_state_desc g_count = {.name = "count", .kind = SL_STATE_VALUE};

static int count_run(void *ud, sl_ctx *ctx, const sl_record *in, size_t n, sl_collector *out) {
  stats *st = ud;
  atomic_fetch_add(&st->calls, 1);
  atomic_fetch_add(&st->records, n);
  uint64_t m = atomic_load(&st->max_run);
  while (n > m && !atomic_compare_exchange_weak(&st->max_run, &m, n)) {
  }
  for (size_t i = 0; i < n; i++) {
    int rc = sl_ctx_run_key(ctx, i);
    sl_state *s;
    sl_bytes b;
    int64_t c = 0;
    if (rc || (rc = sl_state_get(ctx, &g_count, &s))) return rc;
    if ((rc = sl_value_get(s, &b)) < 0) return rc;
    if (rc == 0) memcpy(&c, b.data, 8);
    c++;
    if ((rc = sl_value_set(s, &c, 8)) || (rc = sl_timer_register(ctx, SL_TIME_EVENT, 1000)))
      return rc;
    sl_record r = in[i];
    r.value = &c;
    r.value_len = 8;
    if ((rc = sl_emit(out, &r))) return rc;
  }
  return 0;
}

static int count_timer(void *ud, sl_ctx *ctx, int64_t ts, sl_time_domain d, sl_collector *out) {
  sl_state *s;
  sl_bytes b;
  int64_t c;
  int rc = sl_state_get(ctx, &g_count, &s);
  if (rc || (rc = sl_value_get(s, &b))) return rc < 0 ? rc : sl_ctx_fail(ctx, "no count");
  memcpy(&c, b.data, 8);
  c = -c;
  sl_bytes k;
  sl_ctx_key(ctx, &k);
  sl_record r = {ts, k.data, k.len, &c, 8};
  return sl_emit(out, &r);
}

static void keyed_job(int P) {
  sl_env *env = sl_env_new();
  char p[8];
  snprintf(p, sizeof p, "%d", P);
  sl_env_set(env, "parallelism.default", p);
  stats st = {.fail_at = -1};
  int64_t n = 5000;
  sl_stream *s = sl_key_by(sl_source_stream(env, sl_sequence_source(0, n - 1)), key_mod13, NULL);
  s = sl_keyed_process_batch(s, count_run, count_timer, &st);
  sl_collect *c = sl_collect_new();
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
  CHECK_EQ_INT(sl_execute(env, "keyed-batch"), 0);
  /* reference: key k gets the values v = k (mod 13) of 0..n-1, counted
   * 1, 2, ... in order; its timer says -(that many) */
  int64_t seen[13] = {0}, finals[13] = {0}, want[13] = {0};
  for (int64_t v = 0; v < n; v++) want[v % 13]++;
  size_t cnt = sl_collect_count(c);
  int ok = 1;
  for (size_t i = 0; i < cnt; i++) {
    sl_record r;
    int64_t k, v;
    sl_collect_get(c, i, &r);
    sl_record_key_i64(&r, &k);
    sl_record_get_i64(&r, &v);
    if (k < 0 || k >= 13) {
      ok = 0;
      continue;
    }
    if (v > 0) {
      if (v != seen[k] + 1) ok = 0; /* per key in order, no gap */
      seen[k] = v;
    } else {
      finals[k] = -v;
    }
  }
  CHECK(ok);
  CHECK_EQ_INT(cnt, n + 13);
  for (int k = 0; k < 13; k++) {
    CHECK_EQ_INT(seen[k], want[k]);
    CHECK_EQ_INT(finals[k], want[k]);
  }
  CHECK(atomic_load(&st.max_run) > 1 && atomic_load(&st.max_run) <= 64);
  CHECK(atomic_load(&st.calls) < (uint64_t)n / 4);
  sl_collect_free(c);
  sl_env_free(env);
}

static void test_keyed_p1(void) { keyed_job(1); }
static void test_keyed_p2(void) { keyed_job(2); }

static int no_run_key(void *ud, sl_ctx *ctx, const sl_record *in, size_t n, sl_collector *out) {
  return sl_ctx_run_key(ctx, n); /* one past the run */
}

static void test_run_key_misuse(void) {
  sl_env *env = sl_env_new();
  sl_env_set(env, "parallelism.default", "1");
  sl_stream *src = sl_source_stream(env, sl_sequence_source(0, 9));
  /* not keyed: refused when the graph is built */
  CHECK(sl_keyed_process_batch(src, count_run, count_timer, NULL) == NULL);
  CHECK_CONTAINS(sl_env_last_error(env), "not keyed");
  sl_env_free(env);
  env = sl_env_new();
  sl_env_set(env, "parallelism.default", "1");
  sl_stream *s = sl_key_by(sl_source_stream(env, sl_sequence_source(0, 9)), key_mod13, NULL);
  s = sl_keyed_process_batch(s, no_run_key, count_timer, NULL);
  sl_collect *c = sl_collect_new();
  sl_sink_to(s, sl_collect_sink(c));
  CHECK_EQ_INT(sl_execute(env, "misuse"), -SL_EINVAL);
  CHECK_CONTAINS(sl_env_last_error(env), "sl_ctx_run_key(");
  sl_collect_free(c);
  sl_env_free(env);
}

/* The watermark a function sees for a record is the one before the record
 * (Flink: the operator's current watermark when processElement runs), also
 * when its run was held and handed over because the next watermark came.
 * P=1, a forward edge (direct calls, so runs are held), timestamps = the
 * values 0..n-1 in order, bounded out-of-orderness 0 and a watermark after
 * every record: record t sees t-2 (the watermark after record t-1), record
 * 0 sees none yet. */
#define WM_N 3000
static int64_t g_wm_seen[WM_N];
static int64_t value_ts(void *ud, const sl_record *in) {
  (void)ud;
  int64_t v = -1;
  sl_record_get_i64(in, &v);
  return v;
}
static int wm_run(void *ud, sl_ctx *ctx, const sl_record *in, size_t n, sl_collector *out) {
  (void)ud, (void)out;
  for (size_t i = 0; i < n; i++)
    if (in[i].ts >= 0 && in[i].ts < WM_N) g_wm_seen[in[i].ts] = sl_ctx_watermark(ctx);
  return 0;
}
static void test_watermark_seen_is_the_one_before(void) {
  sl_env *env = sl_env_new();
  sl_env_set(env, "parallelism.default", "1");
  sl_env_set(env, "pipeline.auto-watermark-interval", "0");
  for (int i = 0; i < WM_N; i++) g_wm_seen[i] = 42;
  sl_stream *s = sl_assign_timestamps(sl_source_stream(env, sl_sequence_source(0, WM_N - 1)),
                                      value_ts, NULL, NULL);
  s = sl_flat_map_batch(s, wm_run, NULL);
  CHECK_EQ_INT(sl_sink_to(s, sl_discard_sink()), 0);
  CHECK_EQ_INT(sl_execute(env, "wm-seen"), 0);
  int bad = 0;
  for (int t = 1; t < WM_N; t++)
    if (g_wm_seen[t] != t - 2 && !bad++)
      fprintf(stderr, "  record %d saw watermark %lld, want %d\n", t, (long long)g_wm_seen[t], t - 2);
  CHECK(g_wm_seen[0] < 0 && g_wm_seen[0] != 42);
  CHECK_EQ_INT(bad, 0);
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
  RUN(test_keyed_process_without_on_timer);
  RUN(test_no_held_record_passes_a_barrier);
  RUN(test_keyed_p1);
  RUN(test_keyed_p2);
  RUN(test_run_key_misuse);
  RUN(test_watermark_seen_is_the_one_before);
  TEST_MAIN_END();
}

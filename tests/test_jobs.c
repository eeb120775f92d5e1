/*
 * test_jobs.c -- whole-job tests of the DataStream API at parallelism 1, 2
 * and 4 with exact expected output, computed here by plain loops.
 */
#include <pthread.h>

#include "test.h"
#include "test_util.h"

static int64_t v64(const sl_record *r) {
  int64_t v;
  memcpy(&v, r->value, sizeof v);
  return v;
}

/* map: x -> x * 3 */
static int times3(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t *v = sl_ctx_scratch(ctx, 8);
  *v = v64(in) * 3;
  out->value = v;
  return 0;
}
static int even(void *ud, sl_ctx *ctx, const sl_record *in) {
  return v64(in) % 2 == 0;
}
/* key = value % 10 as one byte */
static int mod10(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  uint8_t *k = sl_ctx_scratch(ctx, 1);
  *k = (uint8_t)(v64(in) % 10);
  out->key = k;
  out->key_len = 1;
  return 0;
}
static int sum(void *ud, sl_ctx *ctx, const sl_record *acc, const sl_record *in,
               sl_record *out) {
  int64_t *v = sl_ctx_scratch(ctx, 8);
  *v = v64(acc) + v64(in);
  out->value = v;
  return 0;
}

/* sequence 1..N -> *3 -> even -> key %10 -> rolling sum -> collect:
 * the final (max) sum per key must equal the loop's; count = #even. */
static void pipeline_at(int P) {
  const int64_t N = 100000;
  sl_env *env = env_p(P);
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_sequence_source(1, N));
  s = sl_map(s, times3, NULL);
  s = sl_filter(s, even, NULL);
  s = sl_key_by(s, mod10, NULL);
  s = sl_reduce(s, sum, NULL);
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
  int rc = sl_execute(env, "pipeline");
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
  int64_t want[10] = {0}, got[10] = {0};
  int64_t count = 0;
  for (int64_t i = 1; i <= N; i++)
    if ((i * 3) % 2 == 0) want[(i * 3) % 10] += i * 3, count++;
  CHECK_EQ_INT(sl_collect_count(c), count);
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    CHECK_EQ_INT(r.key_len, 1);
    int k = *(const uint8_t *)r.key;
    if (v64(&r) > got[k]) got[k] = v64(&r);
  }
  for (int k = 0; k < 10; k++) CHECK_EQ_INT(got[k], want[k]);
  sl_job_stats st;
  sl_job_stats_get(env, &st);
  CHECK_EQ_INT(st.records_in, N);
  CHECK_EQ_INT(st.records_out, count);
  CHECK_EQ_INT(st.parallelism, P);
  sl_collect_free(c);
  sl_env_free(env);
}
static void test_pipeline_p1(void) { pipeline_at(1); }
static void test_pipeline_p2(void) { pipeline_at(2); }
static void test_pipeline_p4(void) { pipeline_at(4); }

/* Order: at P=1 a forward chain keeps source order exactly. */
static void test_order_p1(void) {
  sl_env *env = env_p(1);
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, 9999));
  sl_sink_to(sl_map(s, times3, NULL), sl_collect_sink(c));
  CHECK_EQ_INT(sl_execute(env, "order"), 0);
  CHECK_EQ_INT(sl_collect_count(c), 10000);
  int bad = 0;
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    bad += v64(&r) != (int64_t)i * 3;
  }
  CHECK_EQ_INT(bad, 0);
  sl_collect_free(c);
  sl_env_free(env);
}

/* flat_map emits n copies of "n" for each word "n"; union with itself via
 * rebalance; broadcast doubles at P=2. */
static int repeat(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  char buf[16]; /* the value is not NUL-terminated: copy it first */
  int len = snprintf(buf, sizeof buf, "%.*s", (int)in->value_len, (const char *)in->value);
  int n = atoi(buf);
  for (int i = 0; i < n; i++) {
    sl_record r = {i, NULL, 0, buf, (uint32_t)len};
    int rc = sl_emit(out, &r);
    if (rc) return rc;
  }
  return 0;
}

static void count_values(sl_collect *c, int *hist, int max) {
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    char buf[16];
    snprintf(buf, sizeof buf, "%.*s", (int)r.value_len, (const char *)r.value);
    int v = atoi(buf);
    if (v >= 0 && v < max) hist[v]++;
  }
}

static void test_flat_map_union_broadcast(void) {
  for (int P = 1; P <= 4; P *= 2) {
    sl_env *env = env_p(P);
    const char *words[] = {"1", "2", "3", "0", "5"};
    sl_collect *c = sl_collect_new();
    sl_stream *a = sl_source_stream(env, sl_lines_source(words, 5));
    sl_stream *b = sl_source_stream(env, sl_lines_source(words, 5));
    sl_stream *fa = sl_flat_map(a, repeat, NULL);
    sl_stream *fb = sl_broadcast(sl_flat_map(b, repeat, NULL));
    sl_stream *ins[] = {sl_rebalance(fa), fb};
    sl_stream *u = sl_union(ins, 2);
    sl_stream *m = sl_name(sl_process(u, repeat, NULL), "repeat-again");
    CHECK_EQ_INT(sl_sink_to(m, sl_collect_sink(c)), 0);
    CHECK_EQ_INT(sl_execute(env, "fm"), 0);
    int hist[10] = {0};
    count_values(c, hist, 10);
    /* each n appears n times per stream, then repeated n times again;
     * broadcast stream b reaches every one of the P subtasks. */
    for (int n = 0; n <= 5; n++) {
      int per = (n == 4) ? 0 : n * n;
      CHECK_EQ_INT(hist[n], per + per * P);
    }
    sl_collect_free(c);
    sl_env_free(env);
  }
}

/* global: everything ends on subtask 0, in per-producer order. */
static void test_global(void) {
  sl_env *env = env_p(4);
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_sequence_source(1, 1000));
  sl_sink_to(sl_global(s), sl_collect_sink(c));
  CHECK_EQ_INT(sl_execute(env, "global"), 0);
  CHECK_EQ_INT(sl_collect_count(c), 1000);
  int64_t total = 0;
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    total += v64(&r);
  }
  CHECK_EQ_INT(total, 500500);
  sl_collect_free(c);
  sl_env_free(env);
}

/* A failing user function fails the job and names operator, subtask and
 * record. */
static int fail_at_777(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  if (v64(in) == 777) return sl_ctx_fail(ctx, "cannot handle %lld", (long long)v64(in));
  return 0;
}
static void test_user_failure(void) {
  for (int P = 1; P <= 4; P *= 2) {
    sl_env *env = env_p(P);
    sl_collect *c = sl_collect_new();
    sl_stream *s = sl_source_stream(env, sl_sequence_source(1, 100000));
    s = sl_name(sl_map(s, fail_at_777, NULL), "checker");
    sl_sink_to(sl_key_by(s, mod10, NULL) ? sl_reduce(sl_key_by(s, mod10, NULL), sum, NULL) : NULL,
               sl_collect_sink(c));
    int rc = sl_execute(env, "fail");
    CHECK_EQ_INT(rc, -SL_EUSER);
    const char *e = sl_env_last_error(env);
    CHECK_CONTAINS(e, "operator 'checker' (subtask ");
    CHECK_CONTAINS(e, "cannot handle 777");
    CHECK_CONTAINS(e, "ts=777");
    CHECK_CONTAINS(e, P == 1 ? "subtask 1/1" : "/");
    sl_collect_free(c);
    sl_env_free(env);
  }
}

/* Graph errors. */
static void test_graph_errors(void) {
  sl_env *env = env_p(1);
  sl_stream *s = sl_source_stream(env, sl_sequence_source(1, 10));
  CHECK(sl_reduce(s, sum, NULL) == NULL);
  CHECK_CONTAINS(sl_env_last_error(env), "not keyed");
  CHECK(sl_execute(env, "x") == -SL_EINVAL);
  sl_env_free(env);
  env = env_p(1);
  sl_source_stream(env, sl_sequence_source(1, 10));
  CHECK_EQ_INT(sl_execute(env, "nosink"), -SL_EINVAL);
  CHECK_CONTAINS(sl_env_last_error(env), "no sink");
  CHECK_EQ_INT(sl_env_set(env, "no.such.key", "1"), -SL_ECONFIG);
  CHECK_CONTAINS(sl_env_last_error(env), "no.such.key");
  CHECK_EQ_INT(sl_env_set(env, "parallelism.default", "abc"), -SL_ECONFIG);
  CHECK_EQ_INT(sl_env_set(env, "execution.buffer-timeout", "2s"), 0);
  CHECK_EQ_STR(sl_env_get(env, "execution.buffer-timeout"), "2s");
  sl_env_free(env);
}

/* buffer-timeout 0 (a batch per record) and tiny batches still deliver. */
static void test_tiny_batches(void) {
  sl_env *env = env_p(2);
  sl_env_set(env, "execution.buffer-timeout", "0");
  sl_env_set(env, "execution.batch-size", "256");
  sl_env_set(env, "execution.channel-capacity", "1");
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_sequence_source(1, 20000));
  sl_sink_to(sl_reduce(sl_key_by(s, mod10, NULL), sum, NULL), sl_collect_sink(c));
  CHECK_EQ_INT(sl_execute(env, "tiny"), 0);
  CHECK_EQ_INT(sl_collect_count(c), 20000);
  sl_collect_free(c);
  sl_env_free(env);
}

/* Cancellation of an unbounded job from another thread. */
static int gen_val(void *ud, sl_ctx *ctx, uint64_t i, sl_record *out) {
  int64_t *v = sl_ctx_scratch(ctx, 8);
  *v = (int64_t)i;
  out->value = v;
  out->value_len = 8;
  return 0;
}
static void *canceller(void *arg) {
  sleep_ms(200);
  sl_cancel(arg);
  return NULL;
}
static void test_cancel(void) {
  sl_env *env = env_p(2);
  sl_stream *s = sl_source_stream(env, sl_datagen_source(UINT64_MAX, gen_val, NULL));
  sl_sink_to(sl_reduce(sl_key_by(s, mod10, NULL), sum, NULL), sl_discard_sink());
  pthread_t t;
  pthread_create(&t, NULL, canceller, env);
  int rc = sl_execute(env, "cancel");
  pthread_join(t, NULL);
  CHECK_EQ_INT(rc, -SL_ECANCELED);
  sl_job_stats st;
  sl_job_stats_get(env, &st);
  CHECK(st.records_in > 0);
  CHECK_EQ_INT(st.records_out, st.records_in); /* in-flight records drained */
  sl_env_free(env);
}

/* Polls sl_job_stats_get (up to 5 s) until records_in reaches n. */
static int wait_stats(sl_env *env, uint64_t n, sl_job_stats *st) {
  for (int i = 0; i < 500; i++) {
    sl_job_stats_get(env, st);
    if (st->records_in >= n) return 1;
    sleep_ms(10);
  }
  fprintf(stderr, "  timed out: records_in %llu, want %llu\n",
          (unsigned long long)st->records_in, (unsigned long long)n);
  return 0;
}

/* sl_job_stats_get during the run: the counters as their workers last
 * published them (every 100 ms), from another thread (a rate-limited
 * unbounded datagen, then a cancel) */
static void test_live_stats(void) {
  sl_env *env = env_p(2);
  CHECK_EQ_INT(sl_env_set(env, "source.datagen.rows-per-second", "20000"), 0);
  bg_job j = {0};
  bg_start(&j, env, sl_datagen_source(UINT64_MAX, gen_val, NULL), "live");
  sl_job_stats a, b;
  CHECK(wait_stats(env, 200, &a));
  /* published between steps, after the map (a direct call) saw them */
  CHECK((long)a.records_in <= atomic_load(&j.seen));
  CHECK(wait_stats(env, a.records_in + 200, &b));
  CHECK((long)b.records_in <= atomic_load(&j.seen));
  CHECK(b.records_out <= b.records_in);
  CHECK(a.seconds > 0 && b.seconds >= a.seconds);
  CHECK_EQ_INT(a.parallelism, 2);
  sl_cancel(env);
  bg_join(&j);
  CHECK_EQ_INT(j.rc, -SL_ECANCELED);
  sl_job_stats st;
  sl_job_stats_get(env, &st);
  CHECK(st.records_in >= b.records_in);
  CHECK_EQ_INT(st.records_in, atomic_load(&j.seen)); /* final: every record counted */
  CHECK_EQ_INT(st.records_out, st.records_in); /* the final figures after the end */
  bg_free(&j);
}

/* sl_metrics_foreach during the run: every metric once per subtask,
 * grouped by name, job scope first; a non-zero return stops the walk; no
 * job, no walk */
typedef struct mwalk {
  int n, job_n, groups, stop_after;
  char last[64];
  double src_out, map_in, map_out; /* summed over subtasks */
  int bad;
} mwalk;
static int on_metric(void *ud, const sl_metric *m) {
  mwalk *w = ud;
  if (strcmp(w->last, m->name)) {
    w->groups++;
    snprintf(w->last, sizeof w->last, "%s", m->name);
  }
  w->n++;
  if (m->scope == SL_METRIC_JOB) {
    w->job_n++;
    if (m->op || m->subtask != -1 || m->op_kind) w->bad++;
  } else if (!m->op || !m->op_kind || m->subtask < 0 || m->subtask > 1 ||
             strcmp(m->job, "metrics") || strlen(m->job_id) != 32) {
    w->bad++;
  } else if (!strcmp(m->name, "numRecordsOut") && !strcmp(m->op_kind, "source")) {
    w->src_out += m->value;
  } else if (!strcmp(m->name, "numRecordsIn") && !strcmp(m->op_kind, "map")) {
    w->map_in += m->value;
  } else if (!strcmp(m->name, "numRecordsOut") && !strcmp(m->op_kind, "map")) {
    w->map_out += m->value;
  }
  return w->stop_after && w->n == w->stop_after ? 42 : 0;
}
static void test_metrics_foreach(void) {
  sl_env *env = env_p(2);
  CHECK_EQ_INT(sl_env_set(env, "source.datagen.rows-per-second", "20000"), 0);
  mwalk w0 = {0};
  CHECK_EQ_INT(sl_metrics_foreach(env, on_metric, &w0), -SL_ENOENT); /* not running */
  CHECK_EQ_INT(w0.n, 0);
  bg_job j = {0};
  bg_start(&j, env, sl_datagen_source(UINT64_MAX, gen_val, NULL), "metrics");
  sl_job_stats a;
  CHECK(wait_stats(env, 200, &a));
  mwalk w = {0};
  CHECK_EQ_INT(sl_metrics_foreach(env, on_metric, &w), 0);
  /* 9 job metrics; 17 operator metrics x 3 operators x 2 subtasks */
  CHECK_EQ_INT(w.job_n, 9);
  CHECK_EQ_INT(w.n, 9 + 17 * 3 * 2);
  CHECK_EQ_INT(w.groups, 9 + 17); /* each name in one run */
  CHECK_EQ_INT(w.bad, 0);
  CHECK(w.src_out >= 200);
  CHECK(w.map_in <= w.src_out && w.map_out == w.map_in); /* published by the same worker */
  CHECK(w.map_in <= (double)atomic_load(&j.seen));
  CHECK_EQ_INT(strlen(sl_job_id(env)), 32);
  mwalk ws = {.stop_after = 5};
  CHECK_EQ_INT(sl_metrics_foreach(env, on_metric, &ws), 42);
  CHECK_EQ_INT(ws.n, 5);
  sl_cancel(env);
  bg_join(&j);
  mwalk w2 = {0};
  CHECK_EQ_INT(sl_metrics_foreach(env, on_metric, &w2), -SL_ENOENT);
  CHECK_EQ_INT(strlen(sl_job_id(env)), 32); /* the last job's */
  bg_free(&j);
}

/* Per-split metrics of the file source: after its first poll (512 lines
 * of 10 bytes) the split reports 512 records and 4880 bytes still to read
 * of the 10000; a map that waits at line 600 holds the job there. */
static _Atomic int g_hold = 1;
static int hold_map(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  (void)ctx, (void)in, (void)out;
  if (++*(long *)ud == 600)
    while (atomic_load(&g_hold)) sleep_ms(1);
  return 0;
}
typedef struct split_seen { double records, pending; int n; } split_seen;
static int on_split(void *ud, const sl_metric *m) {
  split_seen *s = ud;
  if (m->scope != SL_METRIC_SPLIT) return 0;
  s->n++;
  if (m->split != 0 || m->subtask != 0 || strcmp(m->op_kind, "source")) s->n += 100;
  if (!strcmp(m->name, "splitRecordsIn")) s->records = m->value;
  if (!strcmp(m->name, "splitPending")) s->pending = m->value;
  return 0;
}
static void *run_env(void *env) {
  return (void *)(intptr_t)sl_execute(env, "splits");
}
static void test_split_metrics(void) {
  char path[] = "/tmp/sl_split_XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fdopen(fd, "w");
  for (int i = 0; i < 1000; i++) fprintf(f, "%09d\n", i);
  fclose(f);
  sl_env *env = env_p(1);
  long seen = 0;
  sl_stream *s = sl_source_stream(env, sl_file_source(path));
  sl_sink_to(sl_map(s, hold_map, &seen), sl_discard_sink());
  pthread_t t;
  pthread_create(&t, NULL, run_env, env);
  split_seen sp = {0};
  for (int i = 0; i < 500 && sp.n < 2; i++) {
    sleep_ms(10);
    sp = (split_seen){0};
    sl_metrics_foreach(env, on_split, &sp);
  }
  CHECK_EQ_INT(sp.n, 2); /* one split: records and pending */
  CHECK(sp.records == 512 && sp.pending == 10000 - 5120);
  atomic_store(&g_hold, 0);
  void *rc;
  pthread_join(t, &rc);
  CHECK_EQ_INT((int)(intptr_t)rc, 0);
  CHECK_EQ_INT(seen, 1000);
  sl_env_free(env);
  unlink(path);
}

/* ---- rich functions: per-subtask open/close and a local pointer ------------ */

typedef struct rich_log {
  _Atomic int opens, closes;
  _Atomic long counted; /* records counted by the subtasks' locals */
  int fail_subtask;     /* open fails there (-1: never) */
} rich_log;

static int rich_open(void *ud, sl_ctx *ctx) {
  rich_log *l = ud;
  if (sl_ctx_subtask(ctx) == l->fail_subtask) return sl_ctx_fail(ctx, "no connection");
  CHECK(sl_ctx_local(ctx) == NULL);
  long *n = calloc(1, sizeof *n);
  sl_ctx_set_local(ctx, n);
  atomic_fetch_add(&l->opens, 1);
  return 0;
}
static void rich_close(void *ud, sl_ctx *ctx) {
  rich_log *l = ud;
  long *n = sl_ctx_local(ctx);
  CHECK(n != NULL);
  if (n) atomic_fetch_add(&l->counted, *n);
  free(n);
  atomic_fetch_add(&l->closes, 1);
}
static int rich_count(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  ++*(long *)sl_ctx_local(ctx);
  return 0;
}

static void test_rich_functions(void) {
  rich_log l = {0, 0, 0, -1};
  sl_env *env = env_p(3);
  sl_stream *s = sl_rebalance(sl_source_stream(env, sl_sequence_source(1, 10000)));
  s = sl_rich(sl_map(s, rich_count, NULL), rich_open, rich_close, &l);
  sl_sink_to(s, sl_discard_sink());
  CHECK_EQ_INT(sl_execute(env, "rich"), 0);
  CHECK_EQ_INT(l.opens, 3);
  CHECK_EQ_INT(l.closes, 3);
  CHECK_EQ_INT(l.counted, 10000); /* every record counted once, by its subtask */
  sl_env_free(env);
  /* an open that fails fails the job before any record, and every subtask
   * whose open succeeded is closed */
  rich_log f = {0, 0, 0, 1};
  env = env_p(3);
  s = sl_rebalance(sl_source_stream(env, sl_sequence_source(1, 10000)));
  s = sl_rich(sl_map(s, rich_count, NULL), rich_open, rich_close, &f);
  sl_sink_to(s, sl_discard_sink());
  CHECK_EQ_INT(sl_execute(env, "rich-fail"), -SL_EUSER);
  CHECK(strstr(sl_env_last_error(env), "open failed: no connection") != NULL);
  CHECK(strstr(sl_env_last_error(env), "subtask 2/3") != NULL);
  CHECK_EQ_INT(f.opens, 1);  /* subtask 0; subtask 2 was never opened */
  CHECK_EQ_INT(f.closes, 1);
  CHECK_EQ_INT(f.counted, 0);
  sl_env_free(env);
}

/* Keyed state that outgrows the caches makes its operator take runs
 * (prefetching) instead of direct calls, mid-stream: 600 k records over
 * 200 k keys, each key three times (v, v + 200 k, v + 400 k).  A keyed
 * process emits the key's count at its third record and, at P = 1 (one
 * producer, so one order), checks every key's records come in order. */
#define RS_KEYS 200000
static int rs_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t *k = sl_ctx_scratch(ctx, 8);
  *k = v64(in) % RS_KEYS;
  out->key = k;
  out->key_len = 8;
  return 0;
}
static const sl_state_desc rs_last = {.name = "last", .kind = SL_STATE_VALUE};
static int rs_check(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  sl_state *s;
  sl_bytes b;
  int64_t st[2] = {-1, 0}; /* last value, count */
  int rc = sl_state_get(ctx, &rs_last, &s);
  if (!rc && (rc = sl_value_get(s, &b)) == 0) memcpy(st, b.data, sizeof st);
  if (rc < 0) return rc;
  if (ud && v64(in) <= st[0]) /* in order (P = 1: one producer) */
    return sl_ctx_fail(ctx, "key %lld: %lld after %lld", (long long)(v64(in) % RS_KEYS),
                       (long long)v64(in), (long long)st[0]);
  st[0] = v64(in);
  st[1]++;
  if ((rc = sl_value_set(s, st, sizeof st))) return rc;
  if (st[1] < 3) return 0;
  sl_record r = {0, in->key, in->key_len, st, sizeof st};
  return sl_emit(out, &r);
}
static void runs_switch(int P) {
  sl_env *env = env_p(P);
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, 3 * RS_KEYS - 1));
  s = sl_process(sl_key_by(s, rs_key, NULL), rs_check, P == 1 ? "order" : NULL);
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
  int rc = sl_execute(env, "runs");
  if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_INT(sl_collect_count(c), RS_KEYS);
  static uint8_t seen[RS_KEYS];
  memset(seen, 0, sizeof seen);
  int bad = 0;
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    int64_t k, st[2];
    memcpy(&k, r.key, 8);
    memcpy(st, r.value, sizeof st);
    bad += k < 0 || k >= RS_KEYS || seen[k]++ || st[1] != 3 || (P == 1 && st[0] != k + 2 * RS_KEYS);
  }
  CHECK_EQ_INT(bad, 0);
  sl_collect_free(c);
  sl_env_free(env);
}
static void test_runs_switch_p1(void) { runs_switch(1); }
static void test_runs_switch_p2(void) { runs_switch(2); }

int main(void) {
  RUN(test_pipeline_p1);
  RUN(test_pipeline_p2);
  RUN(test_pipeline_p4);
  RUN(test_order_p1);
  RUN(test_flat_map_union_broadcast);
  RUN(test_global);
  RUN(test_user_failure);
  RUN(test_graph_errors);
  RUN(test_tiny_batches);
  RUN(test_cancel);
  RUN(test_live_stats);
  RUN(test_metrics_foreach);
  RUN(test_split_metrics);
  RUN(test_rich_functions);
  RUN(test_runs_switch_p1);
  RUN(test_runs_switch_p2);
  TEST_MAIN_END();
}

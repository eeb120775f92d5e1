/*
 * test_kafka_source.c -- the Kafka source against librdkafka's mock cluster
 * (3 brokers, in this process): bounded reads give exactly the produced
 * messages (each partition in order) at P = 1 and 3; the startup modes
 * (earliest, latest, group offsets, timestamp as far as the mock answers
 * timestamp lookups); per-partition watermarks make a window aggregation
 * over interleaved partitions drop nothing and equal a reference; a job
 * stopped in the middle and restored at another parallelism reads every
 * message exactly once overall; discovery picks up a topic created while
 * the job runs; bad options, unreachable brokers and unknown topics fail
 * with messages that say so; every reader has its topic's metadata before
 * it assigns partitions (else a bounded read waited for librdkafka's 1 s
 * topic scan at random).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "checkpoint/storage.h"
#include "core/core.h"
#include "test.h"
#include "test_util.h"
#include "kafka_mock.h"

static test_kafka g_k;

static void opt(sl_kafka_option *kv, size_t *n, const char *k, const char *v) {
  kv[*n].key = k;
  kv[*n].value = v;
  (*n)++;
}

/* produce msgs values "<topic>-p<part>-<i>" (keys "k<i % 3>", timestamps
 * ts(part, i)) to every partition, interleaved partition by partition */
static int64_t ts_default(int part, int i) { return 1000000 + i * 10 + part; }
static void produce(const char *topic, int parts, int msgs, int64_t (*ts)(int, int)) {
  if (!g_k.producer) { /* kafka_mock.h's producer, made by its first message */
    CHECK_EQ_INT(test_kafka_produce(&g_k, "warm-up", 0, NULL, 0, "x", 1, 0), 0);
  }
  for (int i = 0; i < msgs; i++)
    for (int p = 0; p < parts; p++) { /* in one go, then one flush */
      char v[64], key[8];
      snprintf(v, sizeof v, "%s-p%d-%04d", topic, p, i);
      snprintf(key, sizeof key, "k%d", i % 3);
      rd_kafka_resp_err_t e;
      while ((e = rd_kafka_producev(
                  g_k.producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
                  RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(v, strlen(v)),
                  RD_KAFKA_V_TIMESTAMP(ts ? ts(p, i) : ts_default(p, i)),
                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
             RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(g_k.producer, 10);
      CHECK_EQ_INT(e, 0);
    }
  CHECK_EQ_INT(rd_kafka_flush(g_k.producer, 30000), 0);
}

/* every value expected: the messages i0..msgs-1 of each partition */
static void expect(lines *want, const char *topic, int parts, int i0, int msgs) {
  for (int p = 0; p < parts; p++)
    for (int i = i0; i < msgs; i++) {
      char v[64];
      snprintf(v, sizeof v, "%s-p%d-%04d", topic, p, i);
      lines_add(want, v, strlen(v));
    }
}

static void collected(sl_collect *c, lines *got) {
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    lines_add(got, r.value, r.value_len);
  }
}

/* in collect order, each partition's sequence numbers only rise */
static int in_partition_order(sl_collect *c) {
  int last[16][8];
  memset(last, -1, sizeof last);
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    char v[64];
    snprintf(v, sizeof v, "%.*s", (int)r.value_len, (const char *)r.value);
    const char *q = strstr(v, "-p");
    int p = atoi(q + 2), seq = atoi(strchr(q + 2, '-') + 1), t = v[0] % 16;
    if (seq <= last[t][p]) return 0;
    last[t][p] = seq;
  }
  return 1;
}

/* Runs source -> collect at parallelism P; sl_execute's result. */
static int run_collect(sl_source *src, int P, sl_collect *c, sl_env **envp) {
  sl_env *env = env_p(P);
  sl_stream *s = sl_source_stream(env, src);
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
  int rc = sl_execute(env, "kafka");
  if (rc) fprintf(stderr, "  sl_execute: %s\n", sl_env_last_error(env));
  if (envp)
    *envp = env;
  else
    sl_env_free(env);
  return rc;
}

/* A bounded read of `topic` (earliest .. the end found at start). */
static sl_source *bounded(const char *topic, const char *startup) {
  sl_kafka_option kv[8];
  size_t n = 0;
  opt(kv, &n, "properties.bootstrap.servers", g_k.bootstraps);
  opt(kv, &n, "topic", topic);
  opt(kv, &n, "scan.startup.mode", startup);
  opt(kv, &n, "scan.bounded.mode", "latest-offset");
  return sl_kafka_source(kv, n);
}

static void test_bounded_read(void) {
  CHECK_EQ_INT(test_kafka_topic(&g_k, "b4", 4), 0);
  produce("b4", 4, 150, NULL);
  for (int P = 1; P <= 3; P += 2) {
    sl_collect *c = sl_collect_new();
    sl_env *env;
    CHECK_EQ_INT(run_collect(bounded("b4", "earliest-offset"), P, c, &env), 0);
    sl_job_stats st;
    sl_job_stats_get(env, &st);
    CHECK_EQ_INT(st.records_in, 600);
    sl_env_free(env);
    lines want = {0}, got = {0};
    expect(&want, "b4", 4, 0, 150);
    collected(c, &got);
    CHECK(same_lines(&want, &got, 0));
    CHECK(in_partition_order(c));
    /* key and timestamp come with the value */
    for (size_t i = 0; i < sl_collect_count(c); i++) {
      sl_record r;
      sl_collect_get(c, i, &r);
      int p, seq;
      char v[64];
      snprintf(v, sizeof v, "%.*s", (int)r.value_len, (const char *)r.value);
      CHECK_EQ_INT(sscanf(v, "b4-p%d-%d", &p, &seq), 2);
      char key[8];
      snprintf(key, sizeof key, "k%d", seq % 3);
      CHECK(r.key_len == strlen(key) && !memcmp(r.key, key, r.key_len));
      CHECK_EQ_INT(r.ts, ts_default(p, seq));
      if (t_failures) break;
    }
    lines_free(&want);
    lines_free(&got);
    sl_collect_free(c);
  }
}

/* Everything logged, one "level message" line each. */
static char g_log[1 << 20];
static size_t g_log_n;
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static void grab_log(void *ud, sl_log_level level, const char *scope, const char *text) {
  (void)ud, (void)scope;
  pthread_mutex_lock(&g_log_mu);
  if (g_log_n < sizeof g_log - 1) {
    g_log_n += (size_t)snprintf(g_log + g_log_n, sizeof g_log - g_log_n, "%d %s\n", (int)level,
                                text);
    if (g_log_n > sizeof g_log - 1) g_log_n = sizeof g_log - 1;
  }
  pthread_mutex_unlock(&g_log_mu);
}

/* Each reader's consumer knows its topic (partitions, leaders) before its
 * partitions are assigned.  Without that, a consumer whose first,
 * brokers-only metadata request was still in flight at the assignment did
 * not ask for the topic until librdkafka's 1 s topic scan, and a bounded
 * read took a second longer at random (bench/kafka.sh).  librdkafka's own
 * debug lines (properties.debug, which reach the job's logger in order per
 * consumer) show the order: a metadata answer with "Topic #0/1: m4 with 4
 * partitions" (METADATA) before "Added N partition(s) to assignment"
 * (ASSIGNMENT). */
static void test_metadata_before_assign(void) {
  CHECK_EQ_INT(test_kafka_topic(&g_k, "m4", 4), 0);
  produce("m4", 4, 5, NULL);
  sl_kafka_option kv[8];
  size_t n = 0;
  opt(kv, &n, "properties.bootstrap.servers", g_k.bootstraps);
  opt(kv, &n, "topic", "m4");
  opt(kv, &n, "scan.startup.mode", "earliest-offset");
  opt(kv, &n, "scan.bounded.mode", "latest-offset");
  opt(kv, &n, "properties.debug", "metadata,cgrp");
  sl_env *env = env_p(2);
  CHECK_EQ_INT(sl_env_set(env, "log.level", "debug"), 0);
  g_log_n = 0;
  sl_env_set_logger(env, grab_log, NULL);
  sl_collect *c = sl_collect_new();
  sl_stream *st = sl_source_stream(env, sl_kafka_source(kv, n));
  CHECK_EQ_INT(sl_sink_to(st, sl_collect_sink(c)), 0);
  CHECK_EQ_INT(sl_execute(env, "kafka"), 0);
  CHECK_EQ_INT((int)sl_collect_count(c), 20);
  for (int sub = 1; sub <= 2; sub++) {
    char who[64];
    snprintf(who, sizeof who, "(subtask %d/2): Kafka ", sub);
    const char *seen = NULL, *assigned = NULL;
    for (const char *l = g_log; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
      const char *e = strchr(l, '\n');
      size_t len = e ? (size_t)(e - l) : strlen(l);
      char line[600];
      snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), l);
      if (!strstr(line, who)) continue;
      if (!seen && strstr(line, ": m4 with 4 partitions")) seen = l;
      if (!assigned && strstr(line, "partition(s) to assignment")) assigned = l;
    }
    CHECK(seen != NULL);
    CHECK(assigned != NULL);
    CHECK(seen && assigned && seen < assigned);
  }
  sl_collect_free(c);
  sl_env_free(env);
}

static void commit_group(const char *group, const char *topic, const int64_t *offs, int parts) {
  char err[512];
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  rd_kafka_conf_set(c, "bootstrap.servers", g_k.bootstraps, err, sizeof err);
  rd_kafka_conf_set(c, "group.id", group, err, sizeof err);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
  CHECK(rk != NULL);
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
  for (int p = 0; p < parts; p++) rd_kafka_topic_partition_list_add(l, topic, p)->offset = offs[p];
  CHECK_EQ_INT(rd_kafka_commit(rk, l, 0), 0);
  rd_kafka_topic_partition_list_destroy(l);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

static int64_t committed(const char *group, const char *topic, int p) {
  char err[512];
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  rd_kafka_conf_set(c, "bootstrap.servers", g_k.bootstraps, err, sizeof err);
  rd_kafka_conf_set(c, "group.id", group, err, sizeof err);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, topic, p);
  int64_t off = rd_kafka_committed(rk, l, 5000) ? -999 : l->elems[0].offset;
  rd_kafka_topic_partition_list_destroy(l);
  rd_kafka_destroy(rk);
  return off;
}

/* startup mode (and group) on topic s2 (2 partitions x 10): the values read */
static void startup_run(const char *mode, const char *group, const char *ts, lines *got) {
  sl_kafka_option kv[8];
  size_t n = 0;
  opt(kv, &n, "properties.bootstrap.servers", g_k.bootstraps);
  opt(kv, &n, "topic", "s2");
  opt(kv, &n, "scan.startup.mode", mode);
  opt(kv, &n, "scan.bounded.mode", "latest-offset");
  if (group) opt(kv, &n, "properties.group.id", group);
  if (ts) opt(kv, &n, "scan.startup.timestamp-millis", ts);
  sl_collect *c = sl_collect_new();
  CHECK_EQ_INT(run_collect(sl_kafka_source(kv, n), 2, c, NULL), 0);
  collected(c, got);
  sl_collect_free(c);
}

static void test_startup_modes(void) {
  CHECK_EQ_INT(test_kafka_topic(&g_k, "s2", 2), 0);
  produce("s2", 2, 10, NULL);
  lines want = {0}, got = {0};
  /* earliest: all 20 */
  expect(&want, "s2", 2, 0, 10);
  startup_run("earliest-offset", NULL, NULL, &got);
  CHECK(same_lines(&want, &got, 0));
  lines_free(&want);
  lines_free(&got);
  /* latest, bounded by the end found at start: nothing, and it ends */
  startup_run("latest-offset", NULL, NULL, &got);
  CHECK_EQ_INT(got.n, 0);
  lines_free(&got);
  /* group offsets: partition 0 from offset 3, partition 1 from 7 */
  int64_t offs[2] = {3, 7};
  commit_group("g-start", "s2", offs, 2);
  for (int i = 3; i < 10; i++) {
    char v[32];
    snprintf(v, sizeof v, "s2-p0-%04d", i);
    lines_add(&want, v, strlen(v));
  }
  for (int i = 7; i < 10; i++) {
    char v[32];
    snprintf(v, sizeof v, "s2-p1-%04d", i);
    lines_add(&want, v, strlen(v));
  }
  startup_run("group-offsets", "g-start", NULL, &got);
  CHECK(same_lines(&want, &got, 0));
  lines_free(&want);
  lines_free(&got);
  /* the default mode with a group id is group-offsets */
  {
    sl_kafka_option kv[8];
    size_t n = 0;
    opt(kv, &n, "properties.bootstrap.servers", g_k.bootstraps);
    opt(kv, &n, "topic", "s2");
    opt(kv, &n, "scan.bounded.mode", "latest-offset");
    opt(kv, &n, "properties.group.id", "g-start");
    sl_collect *c = sl_collect_new();
    CHECK_EQ_INT(run_collect(sl_kafka_source(kv, n), 1, c, NULL), 0);
    CHECK_EQ_INT(sl_collect_count(c), 7 + 3);
    sl_collect_free(c);
  }
  /* a group without committed offsets: from the earliest (the default
   * reset); with auto.offset.reset=latest: nothing */
  startup_run("group-offsets", "g-none", NULL, &got);
  CHECK_EQ_INT(got.n, 20);
  lines_free(&got);
  {
    sl_kafka_option kv[8];
    size_t n = 0;
    opt(kv, &n, "properties.bootstrap.servers", g_k.bootstraps);
    opt(kv, &n, "topic", "s2");
    opt(kv, &n, "scan.bounded.mode", "latest-offset");
    opt(kv, &n, "properties.group.id", "g-none2");
    opt(kv, &n, "properties.auto.offset.reset", "latest");
    sl_collect *c = sl_collect_new();
    CHECK_EQ_INT(run_collect(sl_kafka_source(kv, n), 1, c, NULL), 0);
    CHECK_EQ_INT(sl_collect_count(c), 0);
    sl_collect_free(c);
  }
  /* timestamp: after every message's timestamp, nothing.  (The mock
   * answers every timestamp lookup with "no such offset", so an earlier
   * timestamp cannot be checked against it: a real broker is needed.) */
  startup_run("timestamp", NULL, "99999999999", &got);
  CHECK_EQ_INT(got.n, 0);
  lines_free(&got);
}

/* ---- per-partition watermarks ------------------------------------------------------ */

#define WP 4      /* partitions */
#define WMSG 300  /* messages per partition */
#define WWIN 200  /* tumbling window, ms */

/* partition p's i-th message: in order within the partition; all
 * partitions cover the same time range */
static int64_t ts_wm(int part, int i) { return 5000 + i * 7 + (WP - part) * 300; }

static int key_of_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  (void)ud, (void)ctx;
  out->key = in->key;
  out->key_len = in->key_len;
  return 0;
}

static int cnt_merge(void *ud, void *acc, const void *other) {
  ((count_acc *)acc)->n += ((const count_acc *)other)->n;
  return 0;
}
static const sl_state_desc COUNT_M = {.name = "count", .kind = SL_STATE_AGGREGATING,
                                      .size = sizeof(count_acc), .agg_create = cnt_create,
                                      .agg_add = cnt_add, .agg_merge = cnt_merge,
                                      .agg_result = cnt_result};

static void test_partition_watermarks(void) {
  CHECK_EQ_INT(test_kafka_topic(&g_k, "w4", WP), 0);
  produce("w4", WP, WMSG, ts_wm);
  /* the reference: count per (key, window) */
  lines want = {0};
  {
    int64_t cnt[3][64] = {{0}};
    for (int p = 0; p < WP; p++)
      for (int i = 0; i < WMSG; i++) cnt[i % 3][ts_wm(p, i) / WWIN]++;
    for (int k = 0; k < 3; k++)
      for (int w = 0; w < 64; w++)
        if (cnt[k][w]) {
          char l[64];
          snprintf(l, sizeof l, "k%d %d %lld", k, w * WWIN, (long long)cnt[k][w]);
          lines_add(&want, l, strlen(l));
        }
  }
  for (int P = 1; P <= 2; P++) {
    sl_env *env = env_p(P);
    sl_env_set(env, "pipeline.auto-watermark-interval", "0");
    sl_source *src = bounded("w4", "earliest-offset");
    sl_watermark_strategy wm = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS};
    CHECK_EQ_INT(sl_kafka_source_set_watermarks(src, &wm), 0);
    sl_stream *s = sl_source_stream(env, src);
    s = sl_key_by(s, key_of_key, NULL);
    sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_EVENT, .size_ms = WWIN};
    s = sl_window_aggregate(s, &w, &COUNT_M, NULL, NULL);
    sl_collect *c = sl_collect_new();
    CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
    CHECK_EQ_INT(sl_execute(env, "wm"), 0);
    sl_job_stats st;
    sl_job_stats_get(env, &st);
    CHECK_EQ_INT(st.late_records_dropped, 0);
    lines got = {0};
    for (size_t i = 0; i < sl_collect_count(c); i++) {
      sl_record r;
      sl_collect_get(c, i, &r);
      count_acc a;
      memcpy(&a, r.value, sizeof a);
      char l[64];
      snprintf(l, sizeof l, "%.*s %lld %lld", (int)r.key_len, (const char *)r.key,
               (long long)(r.ts + 1 - WWIN), (long long)a.n);
      lines_add(&got, l, strlen(l));
    }
    lines want2 = {0};
    for (size_t i = 0; i < want.n; i++) lines_add(&want2, want.v[i], strlen(want.v[i]));
    CHECK(same_lines(&want2, &got, 0));
    lines_free(&want2);
    lines_free(&got);
    sl_collect_free(c);
    sl_env_free(env);
  }
  { /* for comparison (not asserted: it depends on how librdkafka batches
     * the partitions): one watermark over the interleaved partitions */
    sl_env *env = env_p(1);
    sl_env_set(env, "pipeline.auto-watermark-interval", "0");
    sl_stream *s = sl_source_stream(env, bounded("w4", "earliest-offset"));
    sl_watermark_strategy wm = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS};
    s = sl_assign_timestamps(s, NULL, NULL, &wm);
    s = sl_key_by(s, key_of_key, NULL);
    sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_EVENT, .size_ms = WWIN};
    s = sl_window_aggregate(s, &w, &COUNT_M, NULL, NULL);
    sl_collect *c = sl_collect_new();
    CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
    CHECK_EQ_INT(sl_execute(env, "wm-global"), 0);
    sl_job_stats st;
    sl_job_stats_get(env, &st);
    fprintf(stderr, "  one watermark for all partitions: %llu of %d records late\n",
            (unsigned long long)st.late_records_dropped, WP * WMSG);
    sl_collect_free(c);
    sl_env_free(env);
  }
  lines_free(&want);
}

/* An unbounded job whose watermark must move although a subtask has no
 * partition (P = 3, 2 partitions; discovery on, so that reader lives) or
 * a partition gets no record (idle after idle_ms): the window [0, 100)
 * fires for its 3 keys. */
static void idle_case(const char *topic, int parts, int fill, int P, int64_t idle_ms) {
  CHECK_EQ_INT(test_kafka_topic(&g_k, topic, parts), 0);
  for (int p = 0; p < fill; p++) {
    for (int i = 0; i < 10; i++) {
      char v[16], key[8];
      snprintf(v, sizeof v, "%d", i);
      snprintf(key, sizeof key, "k%d", i % 3);
      CHECK_EQ_INT(test_kafka_produce(&g_k, topic, p, key, strlen(key), v, strlen(v), 1 + i * 9), 0);
    }
    CHECK_EQ_INT(test_kafka_produce(&g_k, topic, p, "k0", 2, "late", 4, 10000), 0);
  }
  sl_kafka_option kv[8];
  size_t n = 0;
  opt(kv, &n, "properties.bootstrap.servers", g_k.bootstraps);
  opt(kv, &n, "topic", topic);
  opt(kv, &n, "scan.startup.mode", "earliest-offset");
  sl_source *src = sl_kafka_source(kv, n);
  sl_watermark_strategy wm = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS, .idle_timeout_ms = idle_ms};
  CHECK_EQ_INT(sl_kafka_source_set_watermarks(src, &wm), 0);
  bg_job j = {.env = env_p(P), .name = "idle", .c = sl_collect_new()};
  sl_stream *s = sl_key_by(sl_source_stream(j.env, src), key_of_key, NULL);
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_EVENT, .size_ms = 100};
  s = sl_window_aggregate(s, &w, &COUNT_M, NULL, NULL);
  s = sl_map(s, count_map, (void *)&j.seen);
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(j.c)), 0);
  CHECK_EQ_INT(pthread_create(&j.thread, NULL, bg_main, &j), 0);
  CHECK(wait_seen(&j, 3));
  sl_cancel(j.env);
  bg_join(&j);
  bg_free(&j);
}

static void test_idle(void) {
  idle_case("i2", 2, 2, 3, 0);   /* one subtask without a partition */
  idle_case("i3", 2, 1, 1, 200); /* partition 1 never gets a record */
}

/* ---- checkpoints: stop in the middle, restore at another parallelism ------------------ */

typedef struct stopper {
  sl_env *env;
  long at;
  _Atomic long seen;
} stopper;
static int stop_map(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  (void)ctx, (void)in, (void)out;
  stopper *s = ud;
  if (atomic_fetch_add(&s->seen, 1) + 1 == s->at) sl_stop(s->env, 0);
  return 0;
}

static int ckpt_run(const char *dir, int P, int restore, long stop_at, sl_collect *c) {
  sl_env *env = env_p(P);
  sl_env_set(env, "state.checkpoints.dir", dir);
  sl_env_set(env, "execution.checkpointing.interval", "30ms");
  if (restore) sl_env_set(env, "execution.checkpointing.restore", "latest");
  stopper st = {.env = env, .at = stop_at};
  sl_stream *s = sl_source_stream(env, bounded("c4", "earliest-offset"));
  s = sl_map(s, stop_map, &st);
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
  int rc = sl_execute(env, "ckpt");
  if (rc && rc != -SL_ECANCELED) fprintf(stderr, "  sl_execute: %s\n", sl_env_last_error(env));
  sl_env_free(env);
  return rc;
}

static void test_checkpoint_restore(void) {
  CHECK_EQ_INT(test_kafka_topic(&g_k, "c4", 4), 0);
  produce("c4", 4, 600, NULL);
  char dir[600];
  tpath(dir, sizeof dir, "ckpt");
  rm_rf(dir);
  /* run 1, P = 2: stopped after 200 records; the final checkpoint covers
   * everything it read (a stop without drain) */
  sl_collect *c1 = sl_collect_new(), *c2 = sl_collect_new();
  CHECK_EQ_INT(ckpt_run(dir, 2, 0, 200, c1), -SL_ECANCELED);
  size_t n1 = sl_collect_count(c1);
  /* a poll emits at most 512 records per subtask: the stop lands early */
  CHECK(n1 >= 200 && n1 < 2400);
  /* more messages after the checkpoint: the restored bounded read still
   * ends where the first one would have */
  produce("c4", 4, 1, NULL); /* c4-pX-0000 again, at offset 600 */
  /* run 2, P = 3, restored */
  CHECK_EQ_INT(ckpt_run(dir, 3, 1, -1, c2), 0);
  lines want = {0}, got = {0};
  expect(&want, "c4", 4, 0, 600);
  collected(c1, &got);
  collected(c2, &got);
  CHECK(same_lines(&want, &got, 0)); /* every message once: no loss, no duplicate */
  fprintf(stderr, "  run 1 read %zu, run 2 read %zu\n", n1, sl_collect_count(c2));
  lines_free(&want);
  lines_free(&got);
  sl_collect_free(c1);
  sl_collect_free(c2);
}

/* The position bytes come from disk: a damaged one (the file's checksum
 * made right again, as an attacker or a bug would) fails the restore with
 * the reason, naming the old subtask. */
static void damaged_case(const char *meta, const uint8_t *orig, size_t len, size_t at,
                         const void *bytes, size_t n, const char *why) {
  uint8_t *p = malloc(len);
  memcpy(p, orig, len);
  memcpy(p + 8 + at, bytes, n); /* after the frame's i64 watermark */
  char err[512];
  CHECK_EQ_INT(sl__frame_write(meta, "SLOPMETA", p, len, err, sizeof err), 0);
  free(p);
  char dir[600];
  tpath(dir, sizeof dir, "ckpt");
  sl_env *env = env_p(2);
  sl_env_set(env, "state.checkpoints.dir", dir);
  sl_env_set(env, "execution.checkpointing.interval", "30ms");
  sl_env_set(env, "execution.checkpointing.restore", "latest");
  stopper st = {.env = env, .at = -1};
  sl_stream *s = sl_source_stream(env, bounded("c4", "earliest-offset"));
  s = sl_map(s, stop_map, &st); /* the graph of the checkpoint's job */
  sl_collect *c = sl_collect_new();
  sl_sink_to(s, sl_collect_sink(c));
  CHECK(sl_execute(env, "damaged") < 0);
  CHECK_CONTAINS(sl_env_last_error(env), "the Kafka position of old subtask 0 is damaged");
  CHECK_CONTAINS(sl_env_last_error(env), why);
  CHECK_EQ_INT(sl_collect_count(c), 0);
  sl_collect_free(c);
  sl_env_free(env);
}

static void test_damaged_position(void) {
  char dir[600], meta[1200];
  tpath(dir, sizeof dir, "ckpt");
  DIR *d = opendir(dir);
  struct dirent *e;
  meta[0] = 0;
  while (d && (e = readdir(d)))
    if (!strncmp(e->d_name, "chk-", 4)) snprintf(meta, sizeof meta, "%s/%s/op-0-0.meta", dir, e->d_name);
  if (d) closedir(d);
  uint8_t *orig;
  size_t len;
  char err[512];
  CHECK_EQ_INT(sl__frame_read(meta, "SLOPMETA", &orig, &len, err, sizeof err), 0);
  if (t_failures) return;
  CHECK(len > 8 + 9 && !memcmp(orig + 8, "KSRC", 4));
  uint32_t count;
  memcpy(&count, orig + 8 + 5, 4);
  CHECK(count >= 1);
  uint16_t tl;
  memcpy(&tl, orig + 8 + 9, 2);
  uint32_t huge = 0xFFFFFFFFu, fewer = count - 1;
  uint16_t big = 0xFFFF;
  int32_t neg = -5;
  damaged_case(meta, orig, len, 0, "XSRC", 4, "no KSRC header");
  damaged_case(meta, orig, len, 4, "\x09", 1, "unknown version");
  damaged_case(meta, orig, len, 5, &huge, 4, "count past the end");
  damaged_case(meta, orig, len, 9, &big, 2, "bad topic length");
  damaged_case(meta, orig, len, 11 + tl, &neg, 4, "bad partition or offsets");
  damaged_case(meta, orig, len, 5, &fewer, 4, "trailing bytes");
  CHECK_EQ_INT(sl__frame_write(meta, "SLOPMETA", orig, len, err, sizeof err), 0);
  sl__free(orig);
}

typedef struct split_m {
  double records, pending;
  int64_t split;
} split_m;
static int split_metric(void *ud, const sl_metric *m) {
  split_m *x = ud;
  if (m->scope != SL_METRIC_SPLIT) return 0;
  x->split = m->split;
  if (!strcmp(m->name, "splitRecordsIn")) x->records = m->value;
  if (!strcmp(m->name, "splitPending")) x->pending = m->value;
  return 0;
}

/* Offsets go to the group when the checkpoint that holds them completes
 * (checkpoint_complete), for monitoring: an unbounded job that read all 50
 * messages shows offset 50 in the group after one more checkpoint. */
static void test_commit_to_group(void) {
  CHECK_EQ_INT(test_kafka_topic(&g_k, "g1", 1), 0);
  produce("g1", 1, 50, NULL);
  sl_kafka_option kv[8];
  size_t n = 0;
  opt(kv, &n, "properties.bootstrap.servers", g_k.bootstraps);
  opt(kv, &n, "topic", "g1");
  opt(kv, &n, "scan.startup.mode", "earliest-offset");
  opt(kv, &n, "properties.group.id", "g-mon");
  char dir[600];
  tpath(dir, sizeof dir, "ckpt-g");
  rm_rf(dir);
  sl_env *env = env_p(1);
  sl_env_set(env, "state.checkpoints.dir", dir);
  sl_env_set(env, "execution.checkpointing.interval", "20ms");
  bg_job j = {0};
  bg_start(&j, env, sl_kafka_source(kv, n), "grp");
  CHECK(wait_seen(&j, 50));
  int64_t off = -1;
  for (int i = 0; i < 500 && (off = committed("g-mon", "g1", 0)) != 50; i++) sleep_ms(10);
  CHECK_EQ_INT(off, 50);
  /* per-partition metrics: records read and the lag (0 once caught up) */
  split_m m = {0};
  for (int i = 0; i < 500; i++, sleep_ms(10)) {
    m = (split_m){-1, -1, 0};
    sl_metrics_foreach(j.env, split_metric, &m);
    if (m.records == 50 && m.pending == 0) break;
  }
  CHECK_EQ_INT(m.records, 50);
  CHECK_EQ_INT(m.pending, 0);
  CHECK_EQ_INT(m.split, 0); /* one named topic: the split id is the partition */
  sl_cancel(j.env);
  bg_join(&j);
  CHECK_EQ_INT(sl_collect_count(j.c), 50);
  bg_free(&j);
}

/* ---- discovery --------------------------------------------------------------------------- */

static void test_discovery(void) {
  CHECK_EQ_INT(test_kafka_topic(&g_k, "disc-a", 2), 0);
  CHECK_EQ_INT(test_kafka_topic(&g_k, "other", 1), 0);
  produce("disc-a", 2, 5, NULL);
  produce("other", 1, 1, NULL);
  sl_kafka_option kv[8];
  size_t n = 0;
  opt(kv, &n, "properties.bootstrap.servers", g_k.bootstraps);
  opt(kv, &n, "topic-pattern", "disc-.*");
  opt(kv, &n, "scan.startup.mode", "earliest-offset");
  opt(kv, &n, "scan.topic-partition-discovery.interval", "100ms");
  bg_job j = {0};
  bg_start(&j, env_p(2), sl_kafka_source(kv, n), "disc");
  CHECK(wait_seen(&j, 10));
  CHECK_EQ_INT(test_kafka_topic(&g_k, "disc-b", 3), 0);
  produce("disc-b", 3, 3, NULL);
  CHECK(wait_seen(&j, 19));
  sleep_ms(300); /* nothing more may come: not the topic "other" */
  sl_cancel(j.env);
  bg_join(&j);
  lines want = {0}, got = {0};
  expect(&want, "disc-a", 2, 0, 5);
  expect(&want, "disc-b", 3, 0, 3);
  collected(j.c, &got);
  CHECK(same_lines(&want, &got, 0));
  lines_free(&want);
  lines_free(&got);
  bg_free(&j);
}

/* ---- errors ---------------------------------------------------------------------------------- */

/* sl_execute of source -> collect fails; its message */
static void fails_with(sl_source *src, const char *needle, const char *never) {
  sl_env *env = env_p(1);
  sl_stream *s = sl_source_stream(env, src);
  sl_collect *c = sl_collect_new();
  sl_sink_to(s, sl_collect_sink(c));
  CHECK(sl_execute(env, "bad") < 0);
  CHECK_CONTAINS(sl_env_last_error(env), needle);
  if (never) CHECK(!strstr(sl_env_last_error(env), never));
  sl_collect_free(c);
  sl_env_free(env);
}

static void test_errors(void) {
  sl_kafka_option kv[8];
  size_t n = 0;
  opt(kv, &n, "properties.bootstrap.servers", g_k.bootstraps);
  opt(kv, &n, "topic", "b4");
  opt(kv, &n, "scan.startup.mode", "bogus");
  fails_with(sl_kafka_source(kv, n), "Kafka option 'scan.startup.mode': 'bogus' is not one of "
                                       "earliest-offset, latest-offset, group-offsets, timestamp",
             NULL);
  n = 2;
  opt(kv, &n, "sink.partitioner", "fixed");
  fails_with(sl_kafka_source(kv, n), "Kafka option 'sink.partitioner' is for a sink", NULL);
  n = 2;
  opt(kv, &n, "properties.sasl.password", "hunter2");
  opt(kv, &n, "properties.no.such.thing", "x");
  fails_with(sl_kafka_source(kv, n), "'properties.no.such.thing'", "hunter2");
  n = 1;
  fails_with(sl_kafka_source(kv, n), "Kafka option 'topic' (or 'topic-pattern') is required",
             NULL);
  fails_with(sl_kafka_source_uri("kafka:///x"), "expected kafka://HOST:PORT", NULL);
  fails_with(sl_kafka_source_uri("kafka://127.0.0.1:1/t?scan.startup.mode=earliest-offset"),
             "cannot reach the Kafka brokers 127.0.0.1:1 (properties.bootstrap.servers)", NULL);
  n = 0;
  opt(kv, &n, "properties.bootstrap.servers", g_k.bootstraps);
  opt(kv, &n, "topic", "no-such-topic");
  fails_with(sl_kafka_source(kv, n), "Kafka topic 'no-such-topic' does not exist", NULL);
  n = 1;
  opt(kv, &n, "topic-pattern", "(unclosed");
  fails_with(sl_kafka_source(kv, n), "is not a POSIX extended regular expression", NULL);
  /* the setters refuse other sources */
  sl_source *seq = sl_sequence_source(1, 2);
  sl_watermark_strategy wm = {.kind = SL_WM_MONOTONOUS};
  CHECK_EQ_INT(sl_kafka_source_set_watermarks(seq, &wm), -SL_EINVAL);
  CHECK_EQ_INT(sl_kafka_source_set_deserializer(seq, NULL, NULL), -SL_EINVAL);
  sl_env *env = env_p(1);
  sl_source_stream(env, seq); /* freed with env */
  sl_env_free(env);
}

/* ---- a deserializer -------------------------------------------------------------------------- */

/* keeps partition 1's messages only, value "<partition>:<offset>" */
static int deser(void *ud, sl_ctx *ctx, const sl_kafka_message *m, sl_record *out) {
  (void)ud;
  if (m->partition != 1) return 1;
  char *b = sl_ctx_scratch(ctx, 32);
  int len = snprintf(b, 32, "%s:%d:%lld", m->topic, (int)m->partition, (long long)m->offset);
  out->value = b;
  out->value_len = (uint32_t)len;
  return 0;
}

static void test_deserializer(void) {
  sl_source *src = bounded("s2", "earliest-offset");
  CHECK_EQ_INT(sl_kafka_source_set_deserializer(src, deser, NULL), 0);
  sl_collect *c = sl_collect_new();
  CHECK_EQ_INT(run_collect(src, 1, c, NULL), 0);
  lines want = {0}, got = {0};
  for (int i = 0; i < 10; i++) {
    char v[32];
    int len = snprintf(v, sizeof v, "s2:1:%d", i);
    lines_add(&want, v, (size_t)len);
  }
  collected(c, &got);
  CHECK(same_lines(&want, &got, 1));
  lines_free(&want);
  lines_free(&got);
  sl_collect_free(c);
}

#define TRUN(fn) do { int64_t _t = now_ms(); RUN(fn); fprintf(stderr, "  %s: %lld ms\n", #fn, (long long)(now_ms() - _t)); fflush(stderr); } while (0)
int main(void) {
  scratch_init("/tmp/sl_test_kafka_source", 1);
  if (test_kafka_start(&g_k, 3) || test_kafka_topic(&g_k, "warm-up", 1)) {
    fprintf(stderr, "cannot start librdkafka's mock cluster\n");
    return 1;
  }
  TRUN(test_bounded_read);
  TRUN(test_metadata_before_assign);
  TRUN(test_startup_modes);
  TRUN(test_deserializer);
  TRUN(test_partition_watermarks);
  TRUN(test_idle);
  TRUN(test_checkpoint_restore);
  TRUN(test_damaged_position);
  TRUN(test_commit_to_group);
  TRUN(test_discovery);
  TRUN(test_errors);
  test_kafka_stop(&g_k);
  TEST_MAIN_END();
}

/*
 * bench_window.c -- `sluice bench window`: keyed event-time windows over a
 * generated stream.
 *
 *   datagen (record i: key i % K as 8 bytes, value 1..8, timestamp i / K ms:
 *   every key once per millisecond, so a 100 ms window holds 100 records
 *   per key and K * 100 in all) -> monotonous watermarks -> key_by ->
 *   window_aggregate(sum) over 100 ms tumbling windows, or 100 ms windows
 *   sliding every 20 ms (each record in 5 windows) -> discard sink.
 *
 * Indexes go round-robin to the subtasks, so each subtask's timestamps
 * ascend and its watermarks are exact.  Prints one line:
 *   bench=window window=W keys=K parallelism=P records=N seconds=S
 *   records_per_sec=R peak_rss_mb=M
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static uint64_t g_keys;

static int gen(void *ud, sl_ctx *ctx, uint64_t index, sl_record *out) {
  int64_t *kv = sl_ctx_scratch(ctx, 2 * sizeof *kv);
  if (!kv) return -SL_ENOMEM;
  kv[0] = (int64_t)(index % g_keys);
  kv[1] = (int64_t)(index & 7) + 1;
  out->ts = (int64_t)(index / g_keys);
  out->key = &kv[0];
  out->key_len = sizeof kv[0];
  out->value = &kv[1];
  out->value_len = sizeof kv[1];
  return 0;
}

static int64_t ts_of(void *ud, const sl_record *in) { return in->ts; }

static void sum_create(void *ud, void *acc) { memset(acc, 0, sizeof(int64_t)); }

static int sum_add(void *ud, void *acc, const void *in, uint32_t in_len) {
  int64_t a, v;
  memcpy(&a, acc, sizeof a);
  memcpy(&v, in, sizeof v);
  a += v;
  memcpy(acc, &a, sizeof a);
  return 0;
}

static int sum_merge(void *ud, void *acc, const void *other) {
  return sum_add(ud, acc, other, sizeof(int64_t));
}

static int sum_result(void *ud, const void *acc, sl_bytes *out) {
  out->data = acc;
  out->len = sizeof(int64_t);
  return 0;
}

static const sl_state_desc sum_desc = {.name = "sum",
                                       .kind = SL_STATE_AGGREGATING,
                                       .size = sizeof(int64_t),
                                       .agg_create = sum_create,
                                       .agg_add = sum_add,
                                       .agg_merge = sum_merge,
                                       .agg_result = sum_result};

int bench_window(int argc, char **argv) {
  const char *cmd = "sluice bench window";
  sl_env *env = sl_env_new();
  if (!env) return SL_EXIT_FAILED;
  cli_opts o = {0};
  int rc = cli_parse(argc, argv, 3, cmd, "window,keys,parallelism,records", env, &o);
  const char *kind = o.window ? o.window : "tumbling";
  long long keys = o.keys ? atoll(o.keys) : 1000;
  long long n = o.records ? atoll(o.records) : 20000000LL;
  if (!rc && strcmp(kind, "tumbling") && strcmp(kind, "sliding")) {
    fprintf(stderr, "%s: --window expects tumbling or sliding, got '%s'\n", cmd, kind);
    rc = SL_EXIT_USAGE;
  }
  if (!rc && (keys <= 0 || n <= 0)) {
    fprintf(stderr, "%s: --keys and --records must be > 0\n", cmd);
    rc = SL_EXIT_USAGE;
  }
  if (rc) {
    sl_env_free(env);
    return rc;
  }
  g_keys = (uint64_t)keys;
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_EVENT,
                      .size_ms = 100};
  if (!strcmp(kind, "sliding")) {
    w.kind = SL_WINDOW_SLIDING;
    w.slide_ms = 20;
  }
  sl_watermark_strategy wm = {.kind = SL_WM_MONOTONOUS};
  sl_stream *s = sl_source_stream(env, sl_datagen_source((uint64_t)n, gen, NULL));
  s = sl_assign_timestamps(s, ts_of, NULL, &wm);
  s = sl_window_aggregate(sl_key_by(s, NULL, NULL), &w, &sum_desc, NULL, NULL);
  sl_sink_to(s, sl_discard_sink());
  rc = cli_execute(env, "bench-window");
  if (rc == SL_EXIT_OK) {
    sl_job_stats st;
    sl_job_stats_get(env, &st);
    /* with checkpoints (-D execution.checkpointing.interval=...): their
     * count and pauses come before the throughput fields */
    char ck[256] = "";
    if (st.checkpoints)
      snprintf(ck, sizeof ck,
               "checkpoints=%llu align_p50_ms=%.3f align_p99_ms=%.3f checkpoint_p50_ms=%.1f "
               "checkpoint_p99_ms=%.1f ",
               (unsigned long long)st.checkpoints, st.align_p50_ms, st.align_p99_ms,
               st.checkpoint_p50_ms, st.checkpoint_p99_ms);
    printf("bench=window window=%s keys=%lld parallelism=%d records=%llu %s"
           "seconds=%.3f records_per_sec=%.0f peak_rss_mb=%.1f\n",
           kind, keys, st.parallelism, (unsigned long long)st.records_in, ck,
           st.seconds, (double)st.records_in / st.seconds, cli_peak_rss_mb());
  }
  sl_env_free(env);
  return rc;
}

/*
 * bench_state.c -- `sluice bench state`: value-state read-modify-write on a
 * keyed stream.  sequence -> key_by (key = a scrambled index % keys, 8
 * bytes) -> process (get the key's counter, add one, set it) -> discard.
 * Every record is one read-modify-write of one key's state; keys are hit in
 * a pseudo-random order.  Then the same operations on a plain C hash table
 * (the reference, same run).  Prints one line:
 *   bench=state backend=B keys=N ops=O ops_per_sec=R peak_rss_mb=M
 *   reference_ops_per_sec=X ratio_to_reference=R/X
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static uint64_t g_keys;

static int key_of(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  uint64_t v, *k = sl_ctx_scratch(ctx, sizeof *k);
  memcpy(&v, in->value, 8);
  *k = (v * 0x9E3779B97F4A7C15ull >> 11) % g_keys;
  out->key = k;
  out->key_len = sizeof *k;
  return 0;
}

static const sl_state_desc counter = {.name = "counter", .kind = SL_STATE_VALUE};

static int rmw(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  sl_state *s;
  sl_bytes b;
  int64_t n = 0;
  int rc = sl_state_get(ctx, &counter, &s);
  if (!rc) rc = sl_value_get(s, &b);
  if (rc < 0) return rc;
  if (rc == 0) memcpy(&n, b.data, 8);
  n++;
  return sl_value_set(s, &n, sizeof n);
}

/* The reference: the same read-modify-writes (same key sequence) on a
 * plain open-addressing table (linear probing, 8-byte keys and counters
 * inline, load <= 1/2), written the way a C programmer would for this one
 * job.  Returns operations per second. */
static double reference_ops_per_sec(uint64_t keys, uint64_t ops) {
  uint64_t cap = 16;
  while (cap < 2 * keys) cap *= 2;
  typedef struct { uint64_t key, count; } slot;
  slot *t = calloc(cap, sizeof *t); /* key 0 is stored as key + 1 */
  if (!t) return 0;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (uint64_t v = 0; v < ops; v++) {
    uint64_t k = (v * 0x9E3779B97F4A7C15ull >> 11) % keys + 1;
    uint64_t i = (k * 0x9E3779B97F4A7C15ull) >> 20 & (cap - 1);
    while (t[i].key && t[i].key != k) i = (i + 1) & (cap - 1);
    t[i].key = k;
    t[i].count++;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  uint64_t sum = 0; /* every operation landed: the counters add up */
  for (uint64_t i = 0; i < cap; i++) sum += t[i].count;
  free(t);
  double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  return sum == ops && s > 0 ? (double)ops / s : 0;
}

int bench_state(int argc, char **argv) {
  sl_env *env = sl_env_new();
  if (!env) return SL_EXIT_FAILED;
  cli_opts o = {0};
  int rc = cli_parse(argc, argv, 3, "sluice bench state",
                     "parallelism,records,keys,backend", env, &o);
  if (!rc && o.backend && sl_env_set(env, "state.backend.type", o.backend)) {
    fprintf(stderr, "sluice bench state: %s\n", sl_env_last_error(env));
    rc = SL_EXIT_USAGE;
  }
  long long keys = o.keys ? atoll(o.keys) : 1000000;
  long long ops = o.records ? atoll(o.records) : 20000000;
  if (!rc && (keys <= 0 || ops <= 0)) {
    fprintf(stderr, "sluice bench state: --keys and --records must be > 0\n");
    rc = SL_EXIT_USAGE;
  }
  if (rc) {
    sl_env_free(env);
    return rc;
  }
  g_keys = (uint64_t)keys;
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, ops - 1));
  s = sl_process(sl_key_by(s, key_of, NULL), rmw, NULL);
  sl_sink_to(s, sl_discard_sink());
  rc = cli_execute(env, "bench-state");
  if (rc == SL_EXIT_OK) {
    sl_job_stats st;
    sl_job_stats_get(env, &st);
    double mine = (double)st.records_in / st.seconds;
    double ref = reference_ops_per_sec((uint64_t)keys, (uint64_t)ops);
    printf("bench=state backend=%s keys=%lld ops=%llu ops_per_sec=%.0f peak_rss_mb=%.1f "
           "reference_ops_per_sec=%.0f ratio_to_reference=%.3f\n",
           sl_env_get(env, "state.backend.type"), keys, (unsigned long long)st.records_in,
           mine, cli_peak_rss_mb(), ref, ref > 0 ? mine / ref : 0);
  }
  sl_env_free(env);
  return rc;
}

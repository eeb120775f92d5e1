/*
 * bench_pipeline.c -- `sluice bench pipeline`: sequence generator -> map ->
 * filter -> key_by -> rolling reduce -> discard sink, the engine's own
 * overhead per record.  --stateless stops after the filter (generator ->
 * map -> filter -> discard).  Prints one summary line:
 *   bench=pipeline parallelism=P records=N seconds=S records_per_sec=R peak_rss_mb=M
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static uint64_t g_key_mask;

static int64_t val(const sl_record *r) {
  int64_t v;
  memcpy(&v, r->value, sizeof v);
  return v;
}

static int scramble(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t *v = sl_ctx_scratch(ctx, sizeof *v);
  *v = val(in) * 0x9E3779B97F4A7C15ll; /* a multiplicative hash */
  out->value = v;
  return 0;
}

static int keep_most(void *ud, sl_ctx *ctx, const sl_record *in) {
  return (val(in) & 7) != 7; /* keeps 7 of 8 */
}

static int key_of(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  uint64_t *k = sl_ctx_scratch(ctx, sizeof *k);
  *k = (uint64_t)val(in) >> 8 & g_key_mask;
  out->key = k;
  out->key_len = sizeof *k;
  return 0;
}

static int add(void *ud, sl_ctx *ctx, const sl_record *acc, const sl_record *in,
               sl_record *out) {
  int64_t *s = sl_ctx_scratch(ctx, sizeof *s);
  *s = val(acc) + 1;
  out->value = s;
  return 0;
}

int bench_pipeline(int argc, char **argv) {
  sl_env *env = sl_env_new();
  if (!env) return SL_EXIT_FAILED;
  cli_opts o = {0};
  int rc = cli_parse(argc, argv, 3, "sluice bench pipeline",
                     "parallelism,records,keys,stateless", env, &o);
  if (rc) {
    sl_env_free(env);
    return rc;
  }
  long long n = o.records ? atoll(o.records) : 100000000LL;
  long long keys = o.keys ? atoll(o.keys) : 1024;
  if (n <= 0 || keys <= 0 || (keys & (keys - 1))) {
    fprintf(stderr, "sluice bench pipeline: --records > 0 and --keys a power of two\n");
    sl_env_free(env);
    return SL_EXIT_USAGE;
  }
  g_key_mask = (uint64_t)keys - 1;
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, n - 1));
  s = sl_filter(sl_map(s, scramble, NULL), keep_most, NULL);
  if (!o.stateless) s = sl_reduce(sl_key_by(s, key_of, NULL), add, NULL);
  sl_sink_to(s, sl_discard_sink());
  rc = cli_execute(env, "bench-pipeline");
  if (rc == SL_EXIT_OK) {
    sl_job_stats st;
    sl_job_stats_get(env, &st);
    printf("bench=pipeline parallelism=%d records=%llu seconds=%.3f "
           "records_per_sec=%.0f peak_rss_mb=%.1f\n",
           st.parallelism, (unsigned long long)st.records_in, st.seconds,
           (double)st.records_in / st.seconds, cli_peak_rss_mb());
  }
  sl_env_free(env);
  return rc;
}

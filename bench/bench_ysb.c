/*
 * bench_ysb.c -- `sluice bench ysb`: the Yahoo Streaming Benchmark on the
 * public API.
 *
 *   ad events (datagen: user, page, ad, ad type, event type view / click /
 *   purchase uniformly, event time, ip) -> keep views -> project (ad, time)
 *   -> join to the ad's campaign (a static table of 100 campaigns x 10 ads,
 *   YSB's Redis lookup done in memory) -> key by campaign -> 10 s tumbling
 *   event-time count -> meter (count, checksum, latency) -> discard.
 *
 * Event i has time base + i * 1000 / rate ms (--rate, default 10 M/s); the
 * ad and event type are drawn from a hash of i, so the stream is the same
 * at every parallelism (indexes go round-robin to subtasks) and so is the
 * checksum.  Watermarks: bounded out-of-orderness 0 (each subtask's times
 * ascend).  Prints one line:
 *   bench=ysb parallelism=P events=N seconds=S events_per_sec=R
 *   events_per_sec_per_core=C results=K checksum=X p50_latency_ms=..
 *   p99_latency_ms=.. peak_rss_mb=M
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nexmark/nexmark.h"

enum { CAMPAIGNS = 100, ADS_PER_CAMPAIGN = 10, ADS = CAMPAIGNS * ADS_PER_CAMPAIGN };

/* YSB's JSON event as a fixed record: the fields, UUIDs as 16 bytes */
typedef struct ysb_event {
  uint8_t user_id[16], page_id[16];
  int64_t ad_id;
  int32_t ad_type;    /* banner, modal, sponsored-search, mail, mobile */
  int32_t event_type; /* 0 view, 1 click, 2 purchase */
  int64_t event_time;
  uint8_t ip[4];
  uint32_t pad;
} ysb_event;

typedef struct ysb_view {
  int64_t ad_id, event_time;
} ysb_view;

typedef struct ysb_gen {
  int64_t base;
  uint64_t rate;
  int64_t campaign_of[ADS]; /* the join table */
} ysb_gen;

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static int gen_event(void *ud, sl_ctx *ctx, uint64_t i, sl_record *out) {
  const ysb_gen *g = ud;
  ysb_event *e = sl_ctx_scratch(ctx, sizeof *e);
  if (!e) return -SL_ENOMEM;
  uint64_t h = mix(i), h2 = mix(h);
  memcpy(e->user_id, &h, 8);
  memcpy(e->user_id + 8, &h2, 8);
  memcpy(e->page_id, &h2, 8);
  memcpy(e->page_id + 8, &h, 8);
  e->ad_id = (int64_t)(h % ADS);
  e->ad_type = (int32_t)(h2 % 5);
  e->event_type = (int32_t)((h >> 32) % 3);
  e->event_time = g->base + (int64_t)((__uint128_t)i * 1000 / g->rate);
  memcpy(e->ip, &h2, 4);
  e->pad = 0;
  out->ts = e->event_time;
  out->value = e;
  out->value_len = sizeof *e;
  return 0;
}

static int64_t event_ts(void *ud, const sl_record *in) { return in->ts; }

/* filter views and project them to (ad, time) */
static int views(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  ysb_event e;
  memcpy(&e, in->value, sizeof e);
  if (e.event_type != 0) return 0;
  ysb_view v = {e.ad_id, e.event_time};
  sl_record o = {in->ts, NULL, 0, &v, sizeof v};
  return sl_emit(out, &o);
}

/* the join: ad -> campaign, as the key */
static int campaign_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const ysb_gen *g = ud;
  int64_t ad = nx_i64(in->value);
  if (ad < 0 || ad >= ADS) return sl_ctx_fail(ctx, "ysb: ad %lld has no campaign", (long long)ad);
  return nx_key_i64(ctx, g->campaign_of[ad], out);
}

int bench_ysb(int argc, char **argv) {
  const char *cmd = "sluice bench ysb";
  unsigned long long events = 10000000ULL, rate = 10000000ULL;
  int rc = 0;
  sl_env *env = sl_env_new();
  ysb_gen *g = calloc(1, sizeof *g);
  if (!env || !g) {
    sl_env_free(env);
    free(g);
    return SL_EXIT_FAILED;
  }
  cli_opts o = {0};
  rc = cli_parse(argc, argv, 3, cmd, "events,rate,parallelism,checkpoint-dir,checkpoint-interval",
                 env, &o);
  if (!rc) rc = cli_u64(cmd, "events", o.events, &events);
  if (!rc) rc = cli_u64(cmd, "rate", o.rate, &rate);
  if (!rc && (!events || !rate)) {
    fprintf(stderr, "%s: --events and --rate must be > 0\n", cmd);
    rc = SL_EXIT_USAGE;
  }
  g->base = 1700000000000LL;
  g->rate = rate;
  for (int a = 0; a < ADS; a++) g->campaign_of[a] = (int64_t)(mix((uint64_t)a + 17) % CAMPAIGNS);
  sl_nexmark_config clock; /* the meter's ingestion clock: same time line */
  sl_nexmark_config_default(&clock);
  clock.events = events;
  clock.first_event_rate = rate;
  clock.base_time_ms = g->base;
  nx_ingest *ingest = rc ? NULL : nx_ingest_new(&clock);
  nx_meter *meter = ingest ? nx_meter_new(ingest, 0) : NULL;
  if (!rc && !meter) rc = SL_EXIT_FAILED;
  if (!rc && o.checkpoint_interval && !o.checkpoint_dir) {
    fprintf(stderr, "%s: --checkpoint-interval needs --checkpoint-dir\n", cmd);
    rc = SL_EXIT_USAGE;
  }
  if (!rc) {
    sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_EVENT,
                        .size_ms = NX_WINDOW_MS};
    sl_watermark_strategy wm = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS};
    sl_stream *s = sl_source_stream(env, sl_datagen_source(events, gen_event, g));
    s = nx_ingest_clock(s, ingest);
    s = sl_assign_timestamps(s, event_ts, NULL, &wm);
    s = sl_name(sl_flat_map(s, views, NULL), "ysb-views");
    s = sl_key_by(s, campaign_key, g);
    s = sl_name(sl_window_aggregate(s, &w, &nx_count_desc, nx_emit_count, NULL), "ysb-count");
    nx_meter_sink(s, meter);
    rc = cli_execute(env, "bench-ysb");
  }
  if (rc == SL_EXIT_OK) nx_print_summary("bench=ysb", env, meter);
  nx_meter_free(meter);
  nx_ingest_free(ingest);
  sl_env_free(env);
  free(g);
  return rc;
}

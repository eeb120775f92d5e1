/*
 * common.c -- what every Nexmark query shares: the event stream with
 * timestamps and watermarks, the query table, small helpers, and the
 * benchmark meter (count, checksum, latency samples) in front of a discard
 * sink.
 *
 * Latency.  Records carry event time only, so the meter measures
 *   emission at the meter (wall clock) - the wall-clock time at which the
 *   source generated the first event of the result's event-time millisecond
 * using a table filled by a map chained right behind the source (one slot
 * per millisecond of event time, or per 2^k ms for long streams); a result
 * timestamped past the last generated millisecond (a window that ends
 * after the input does) counts from the last one generated.  For a
 * passthrough query this is the pipeline's latency per event; for a window
 * result (timestamp end - 1) it is the time from generating the window's
 * last millisecond to emitting its result, which includes waiting for the
 * watermark (4 s of event time later) -- what a user of the result sees.
 * q12's processing-time windows use emission - window end instead.
 * Every result is a sample until 64 Ki samples per subtask are kept; then
 * every other one is dropped and the stride doubles.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "nexmark.h"

extern const nx_query nx_query_q0, nx_query_q1, nx_query_q2, nx_query_q3, nx_query_q4,
    nx_query_q5, nx_query_q6, nx_query_q7, nx_query_q8, nx_query_q9, nx_query_q11, nx_query_q12;
static const nx_query *const QUERIES[] = {
    &nx_query_q0, &nx_query_q1, &nx_query_q2, &nx_query_q3,  &nx_query_q4, &nx_query_q5,
    &nx_query_q6, &nx_query_q7, &nx_query_q8, &nx_query_q9, &nx_query_q11, &nx_query_q12};

const nx_query *nx_query_at(size_t i) {
  return i < sizeof QUERIES / sizeof QUERIES[0] ? QUERIES[i] : NULL;
}

const nx_query *nx_query_find(const char *name) {
  for (size_t i = 0; nx_query_at(i); i++)
    if (!strcmp(QUERIES[i]->name, name)) return QUERIES[i];
  return NULL;
}

/* ---- helpers ---------------------------------------------------------------- */

int64_t nx_i64(const void *p) {
  int64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static int is_type(const sl_record *in, int t) { return sl_nexmark_type_of(in) == t; }
int nx_is_person(void *ud, sl_ctx *ctx, const sl_record *in) {
  return is_type(in, SL_NEXMARK_PERSON);
}
int nx_is_auction(void *ud, sl_ctx *ctx, const sl_record *in) {
  return is_type(in, SL_NEXMARK_AUCTION);
}
int nx_is_bid(void *ud, sl_ctx *ctx, const sl_record *in) { return is_type(in, SL_NEXMARK_BID); }

int nx_key_i64(sl_ctx *ctx, int64_t v, sl_record *out) {
  int64_t *k = sl_ctx_scratch(ctx, sizeof *k);
  if (!k) return -SL_ENOMEM;
  *k = v;
  out->key = k;
  out->key_len = sizeof *k;
  return 0;
}

static void count_create(void *ud, void *acc) { memset(acc, 0, sizeof(int64_t)); }
static int count_add(void *ud, void *acc, const void *in, uint32_t len) {
  int64_t n;
  memcpy(&n, acc, sizeof n);
  n++;
  memcpy(acc, &n, sizeof n);
  return 0;
}
static int count_merge(void *ud, void *acc, const void *other) {
  int64_t a = nx_i64(acc) + nx_i64(other);
  memcpy(acc, &a, sizeof a);
  return 0;
}
static int count_result(void *ud, const void *acc, sl_bytes *out) {
  *out = (sl_bytes){acc, sizeof(int64_t)};
  return 0;
}
const sl_state_desc nx_count_desc = {.name = "count", .kind = SL_STATE_AGGREGATING,
                                     .size = sizeof(int64_t), .agg_create = count_create,
                                     .agg_add = count_add, .agg_merge = count_merge,
                                     .agg_result = count_result};

int nx_emit_count(void *ud, sl_ctx *ctx, const sl_window *w, sl_window_elems *elems,
                  sl_collector *out) {
  sl_record r;
  sl_bytes key;
  if (sl_ctx_key(ctx, &key) || key.len != 8) return sl_ctx_fail(ctx, "nexmark: no int64 key");
  while (sl_window_next(elems, &r)) {
    nx_count c = {nx_i64(key.data), nx_i64(r.value), w->start, w->end};
    sl_record o = {w->end - 1, NULL, 0, &c, sizeof c};
    int rc = sl_emit(out, &o);
    if (rc) return rc;
  }
  return 0;
}

/* ---- events ------------------------------------------------------------------ */

struct nx_ingest {
  int64_t base;
  int shift;           /* slot = (ts - base) >> shift */
  size_t n;
  _Atomic int64_t *ns; /* CLOCK_MONOTONIC ns, 0 = not yet */
  _Atomic int64_t top; /* highest slot noted */
};

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

nx_ingest *nx_ingest_new(const sl_nexmark_config *cfg) {
  nx_ingest *in = calloc(1, sizeof *in);
  if (!in) return NULL;
  uint64_t events = cfg->events ? cfg->events : UINT64_C(1) << 40;
  uint64_t span = (uint64_t)((__uint128_t)events * 1000 / cfg->first_event_rate) + 2;
  while ((span >> in->shift) > (1u << 20)) in->shift++;
  in->n = (size_t)(span >> in->shift) + 1;
  in->base = cfg->base_time_ms;
  in->ns = calloc(in->n, sizeof *in->ns);
  in->top = -1;
  if (!in->ns) {
    free(in);
    return NULL;
  }
  return in;
}

void nx_ingest_free(nx_ingest *in) {
  if (!in) return;
  free(in->ns);
  free(in);
}

static inline int64_t ingest_slot(const nx_ingest *in, int64_t ts) {
  int64_t d = ts - in->base;
  if (d < 0) return -1;
  d >>= in->shift;
  return (size_t)d < in->n ? d : -1;
}

double nx_ingest_seconds_since(const nx_ingest *in, int64_t ts) {
  int64_t top = atomic_load(&in->top), from = ingest_slot(in, ts);
  if (from < 0 || top < 0 || from > top) return 0;
  int64_t a = atomic_load(&in->ns[from]), b = atomic_load(&in->ns[top]);
  for (int64_t s = from; !a && s <= top; s++) a = atomic_load(&in->ns[s]); /* first seen at or after */
  return a && b > a ? (double)(b - a) / 1e9 : 0;
}

int nx_local_open(void *ud, sl_ctx *ctx) {
  const nx_local *d = ud;
  void *p = malloc(d->size);
  if (!p) return sl_ctx_fail(ctx, "out of memory");
  memcpy(p, d->init, d->size);
  sl_ctx_set_local(ctx, p);
  return 0;
}
void nx_local_close(void *ud, sl_ctx *ctx) { free(sl_ctx_local(ctx)); }

/* Each subtask's last slot noted: its own, no sharing. */
static const int64_t NO_SLOT = -1;
static const nx_local LAST_SLOT = {sizeof NO_SLOT, &NO_SLOT};

static int ingest_map(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  nx_ingest *g = ud;
  int64_t *last = sl_ctx_local(ctx);
  int64_t slot = ingest_slot(g, in->ts);
  if (slot > *last) {
    *last = slot;
    int64_t zero = 0;
    atomic_compare_exchange_strong(&g->ns[slot], &zero, mono_ns());
    int64_t top = atomic_load_explicit(&g->top, memory_order_relaxed);
    while (slot > top && !atomic_compare_exchange_weak(&g->top, &top, slot)) {
    }
  }
  return 0;
}

sl_stream *nx_ingest_clock(sl_stream *s, nx_ingest *ingest) {
  s = sl_name(sl_map(s, ingest_map, ingest), "ingest-clock");
  return sl_rich(s, nx_local_open, nx_local_close, (void *)&LAST_SLOT);
}

static int64_t event_ts(void *ud, const sl_record *in) { return in->ts; }

sl_stream *nx_events(sl_env *env, const sl_nexmark_config *cfg, nx_ingest *ingest) {
  sl_stream *s = sl_source_stream(env, sl_nexmark_source(cfg));
  if (ingest) s = nx_ingest_clock(s, ingest);
  sl_watermark_strategy wm = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS,
                              .out_of_orderness_ms = NX_WATERMARK_DELAY_MS};
  return sl_assign_timestamps(s, event_ts, NULL, &wm);
}

/* ---- the meter ------------------------------------------------------------------ */

#define MAX_SAMPLES 65536

/* One subtask's results (sl_rich: made by open, merged into the meter by
 * close, which runs on the main thread after the workers stopped). */
typedef struct lane {
  uint64_t results, checksum;
  uint64_t stride, skip; /* keep one in `stride` results */
  size_t n;
  float *samples; /* latencies in ms */
} lane;

struct nx_meter {
  const nx_ingest *ingest;
  int processing_time;
  uint64_t results, checksum;
  size_t n;
  float *samples; /* every lane's, merged */
};

uint64_t nx_hash(const void *value, uint32_t len) { return XXH3_64bits(value, len); }

nx_meter *nx_meter_new(const nx_ingest *ingest, int processing_time) {
  nx_meter *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->ingest = ingest;
  m->processing_time = processing_time;
  return m;
}

void nx_meter_free(nx_meter *m) {
  if (!m) return;
  free(m->samples);
  free(m);
}

static int lane_open(void *ud, sl_ctx *ctx) {
  lane *l = calloc(1, sizeof *l);
  if (!l) return sl_ctx_fail(ctx, "out of memory");
  l->stride = 1;
  sl_ctx_set_local(ctx, l);
  return 0;
}

static void lane_close(void *ud, sl_ctx *ctx) {
  nx_meter *m = ud;
  lane *l = sl_ctx_local(ctx);
  if (!l) return;
  m->results += l->results;
  m->checksum += l->checksum;
  float *all = l->n ? realloc(m->samples, (m->n + l->n) * sizeof *all) : NULL;
  if (all) {
    memcpy(all + m->n, l->samples, l->n * sizeof *all);
    m->samples = all;
    m->n += l->n;
  }
  free(l->samples);
  free(l);
}

static void sample(nx_meter *m, lane *l, sl_ctx *ctx, const sl_record *in) {
  if (++l->skip < l->stride) return;
  l->skip = 0;
  double ms;
  if (m->processing_time) {
    ms = (double)(sl_ctx_now(ctx) - (in->ts + 1));
  } else {
    /* the newest generated millisecond at or before the result's time
     * (a window reaching past the end of input: the last one) */
    const nx_ingest *g = m->ingest;
    if (!g || in->ts < g->base) return;
    int64_t slot = (in->ts - g->base) >> g->shift, top = atomic_load(&g->top), t0 = 0;
    if (slot > top) slot = top;
    for (int64_t k = 0; slot >= 0 && k < 4096 && !t0; k++, slot--) t0 = atomic_load(&g->ns[slot]);
    if (!t0) return;
    ms = (double)(mono_ns() - t0) / 1e6;
  }
  if (!l->samples && !(l->samples = malloc(MAX_SAMPLES * sizeof *l->samples))) return;
  if (l->n == MAX_SAMPLES) { /* keep every other one, sample half as often */
    for (size_t i = 0; i < MAX_SAMPLES / 2; i++) l->samples[i] = l->samples[2 * i + 1];
    l->n = MAX_SAMPLES / 2;
    l->stride *= 2;
  }
  l->samples[l->n++] = (float)(ms < 0 ? 0 : ms);
}

static int meter_map(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  nx_meter *m = ud;
  lane *l = sl_ctx_local(ctx);
  l->results++;
  l->checksum += nx_hash(in->value, in->value_len);
  sample(m, l, ctx, in);
  return 0;
}

static int meter_changelog_map(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  nx_meter *m = ud;
  lane *l = sl_ctx_local(ctx);
  const uint8_t *v = in->value;
  if (!in->value_len || v[0] > 3) return sl_ctx_fail(ctx, "meter: a change without its kind byte");
  uint64_t h = nx_hash(v + 1, in->value_len - 1);
  if (v[0] == 0 || v[0] == 2) l->results++, l->checksum += h; /* +I, +U */
  else l->results--, l->checksum -= h;                      /* -U, -D: modulo 2^64, as the sums */
  sample(m, l, ctx, in);
  return 0;
}

static int meter_to(sl_stream *results, nx_meter *m, sl_map_fn fn) {
  sl_stream *s = sl_name(sl_map(results, fn, m), "meter");
  return sl_sink_to(sl_rich(s, lane_open, lane_close, m), sl_discard_sink());
}

int nx_meter_sink(sl_stream *results, nx_meter *m) { return meter_to(results, m, meter_map); }
int nx_meter_changelog_sink(sl_stream *changes, nx_meter *m) {
  return meter_to(changes, m, meter_changelog_map);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

void nx_meter_summary(const nx_meter *m, nx_summary *out) {
  memset(out, 0, sizeof *out);
  out->results = m->results;
  out->checksum = m->checksum;
  out->p50_ms = out->p99_ms = -1;
  size_t total = m->n;
  if (!total) return;
  float *all = malloc(total * sizeof *all);
  if (!all) return;
  memcpy(all, m->samples, total * sizeof *all);
  qsort(all, total, sizeof *all, cmp_float);
  out->p50_ms = all[(total - 1) / 2];
  out->p99_ms = all[(size_t)((double)(total - 1) * 0.99)];
  free(all);
}

static const sl_state_desc NX_MAX = {.name = "max", .kind = SL_STATE_VALUE};
static const sl_state_desc NX_TOP = {.name = "top", .kind = SL_STATE_LIST};

int nx_offer_top(sl_ctx *ctx, int64_t score, int64_t fire_at, const void *rec, uint32_t len) {
  sl_state *max, *top;
  sl_bytes v;
  int rc;
  if ((rc = sl_state_get(ctx, &NX_MAX, &max)) || (rc = sl_state_get(ctx, &NX_TOP, &top))) return rc;
  if ((rc = sl_value_get(max, &v)) < 0) return rc;
  int64_t m = rc == 0 ? nx_i64(v.data) : -1;
  if (score < m) return 0;
  if (score > m) {
    if ((rc = sl_state_clear(top)) || (rc = sl_value_set(max, &score, sizeof score))) return rc;
    if ((rc = sl_timer_register(ctx, SL_TIME_EVENT, fire_at))) return rc;
  }
  return sl_list_add(top, rec, len);
}

int nx_emit_top(void *ud, sl_ctx *ctx, int64_t ts, sl_time_domain d, sl_collector *out) {
  sl_state *max, *top;
  sl_bytes v;
  sl_list_iter it;
  int rc;
  if ((rc = sl_state_get(ctx, &NX_MAX, &max)) || (rc = sl_state_get(ctx, &NX_TOP, &top))) return rc;
  if ((rc = sl_list_get(top, &it)) < 0) return rc;
  while (rc == 0 && sl_list_next(&it, &v) == 1) {
    sl_record o = {ts, NULL, 0, v.data, v.len};
    if ((rc = sl_emit(out, &o))) return rc;
  }
  if ((rc = sl_state_clear(top))) return rc;
  return sl_state_clear(max);
}

static const sl_state_desc CLOSINGS = {.name = "closings", .kind = SL_STATE_MAP};

int nx_closing_wait(sl_ctx *ctx, const nx_q9 *w) {
  sl_state *pending;
  sl_bytes v;
  int rc;
  if ((rc = sl_state_get(ctx, &CLOSINGS, &pending))) return rc;
  if ((rc = sl_map_get(pending, &w->expires, sizeof w->expires, &v)) < 0) return rc;
  uint32_t have = rc == 0 ? v.len : 0;
  uint8_t *buf = sl_ctx_scratch(ctx, have + sizeof(nx_closing));
  if (!buf) return -SL_ENOMEM;
  if (have) memcpy(buf, v.data, have);
  nx_closing c = {w->auction, w->price};
  memcpy(buf + have, &c, sizeof c);
  if ((rc = sl_map_put(pending, &w->expires, sizeof w->expires, buf, have + (uint32_t)sizeof c)))
    return rc;
  return sl_timer_register(ctx, SL_TIME_EVENT, w->expires);
}

static int by_auction(const void *a, const void *b) {
  int64_t x = ((const nx_closing *)a)->auction, y = ((const nx_closing *)b)->auction;
  return (x > y) - (x < y);
}

int nx_closing_take(sl_ctx *ctx, int64_t t, nx_closing **out, size_t *n) {
  sl_state *pending;
  sl_bytes v;
  int rc;
  *n = 0;
  if ((rc = sl_state_get(ctx, &CLOSINGS, &pending))) return rc;
  if ((rc = sl_map_get(pending, &t, sizeof t, &v)) < 0) return rc;
  if (rc == SL_EMPTY) return 0;
  if (!(*out = sl_ctx_scratch(ctx, v.len))) return -SL_ENOMEM;
  memcpy(*out, v.data, v.len);
  *n = v.len / sizeof **out;
  qsort(*out, *n, sizeof **out, by_auction);
  return sl_map_remove(pending, &t, sizeof t);
}

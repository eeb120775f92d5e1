/* csv_window_sum.c -- the job everyone writes first: CSV lines
 * `timestamp_ms,key,value` from a file, a sum per key and event-time
 * tumbling window, written as CSV lines `window_start,window_end,key,sum`.
 *
 *   file source (one record per line; its timestamp is the line number)
 *     -> parse: timestamp = timestamp_ms, key = key, value = int64 value
 *     -> event time: watermark = highest timestamp seen - 500 ms - 1
 *     -> key_by(key) -> tumbling window, summed as records arrive
 *     -> format -> one output file, written when the job ends
 *
 * Build: cc csv_window_sum.c $(pkg-config --cflags --libs sluice)
 * Run:   ./csv_window_sum events.csv sums.csv [window_ms]   (default 1000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sluice.h>

/* "1500,sensor-b,17" -> {ts 1500, key "sensor-b", value int64 17} */
static int parse(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  sl_field f[3];
  int64_t ts, value;
  const char *reason = NULL;
  if (sl_fields_split(ctx, in->value, in->value_len, ',', f, 3) != 3)
    reason = "expected timestamp_ms,key,value";
  else if (sl_field_i64(&f[0], &ts))
    reason = "timestamp_ms is not an integer";
  else if (sl_field_i64(&f[2], &value))
    reason = "value is not an integer";
  if (reason) { /* fails the job, naming the line (or pipeline.dead-letter.path) */
    char where[32];
    snprintf(where, sizeof where, "line %lld", (long long)in->ts);
    return sl_ctx_bad_record(ctx, where, reason, in);
  }
  sl_record r = {.ts = ts, .key = f[1].data, .key_len = (uint32_t)f[1].len};
  int rc = sl_record_set_i64(ctx, &r, value);
  return rc ? rc : sl_emit(out, &r); /* sl_emit copies the record */
}

static int64_t event_time(void *ud, const sl_record *in) { return in->ts; }

/* The window's sum: an int64 accumulator per key and window (state bytes
 * need not be aligned, hence memcpy). */
static void sum_create(void *ud, void *acc) { memset(acc, 0, sizeof(int64_t)); }
static int sum_add(void *ud, void *acc, const void *in, uint32_t len) {
  int64_t sum, v;
  memcpy(&sum, acc, sizeof sum);
  memcpy(&v, in, sizeof v);
  if (__builtin_add_overflow(sum, v, &sum)) return -SL_EUSER; /* beyond int64 */
  memcpy(acc, &sum, sizeof sum);
  return 0;
}
static int sum_result(void *ud, const void *acc, sl_bytes *out) {
  *out = (sl_bytes){acc, sizeof(int64_t)};
  return 0;
}
static const sl_state_desc SUM = {.name = "sum", .kind = SL_STATE_AGGREGATING,
                                  .size = sizeof(int64_t), .agg_create = sum_create,
                                  .agg_add = sum_add, .agg_result = sum_result};

/* Called when a window fires, with its key and sum: one CSV line. */
static int format(void *ud, sl_ctx *ctx, const sl_window *w, sl_window_elems *elems,
                  sl_collector *out) {
  sl_record r;
  while (sl_window_next(elems, &r)) {
    int64_t sum;
    sl_record o = {.ts = r.ts};
    int rc = sl_record_get_i64(&r, &sum);
    if (!rc)
      rc = sl_record_printf(ctx, &o, "%lld,%lld,%.*s,%lld", (long long)w->start,
                            (long long)w->end, (int)r.key_len, (const char *)r.key, (long long)sum);
    if (!rc) rc = sl_emit(out, &o);
    if (rc) return rc;
  }
  return 0;
}

int main(int argc, char **argv) {
  long long window_ms = argc > 3 ? atoll(argv[3]) : 1000;
  if (argc < 3 || argc > 4 || window_ms <= 0) {
    fprintf(stderr, "usage: %s INPUT.csv OUTPUT.csv [WINDOW_MS]\n", argv[0]);
    return 2;
  }
  sl_env *env = sl_env_new();
  if (!env) return 1;
  sl_env_set(env, "source.text.line-numbers", "true"); /* record ts = line number */

  sl_stream *s = sl_source_stream(env, sl_file_source(argv[1]));
  s = sl_name(sl_flat_map(s, parse, NULL), "parse"); /* the name errors give */
  sl_watermark_strategy wm = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS,
                              .out_of_orderness_ms = 500};
  s = sl_assign_timestamps(s, event_time, NULL, &wm);
  sl_window_spec tumbling = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_EVENT,
                             .size_ms = window_ms};
  s = sl_window_aggregate(sl_key_by(s, NULL, NULL), &tumbling, &SUM, format, NULL);
  sl_sink_to(s, sl_file_sink(argv[2]));

  int rc = sl_execute(env, "csv_window_sum"); /* checks every step above */
  if (rc) fprintf(stderr, "csv_window_sum: %s\n", sl_env_last_error(env));
  sl_env_free(env);
  return rc ? 1 : 0;
}

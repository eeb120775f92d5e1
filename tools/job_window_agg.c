/*
 * job_window_agg.c -- `sluice run window-agg`: windowed count, sum, min and
 * max per key of CSV lines `timestamp_ms,key,value`.
 *
 *   source (file | socket | stdin; source.text.line-numbers on, so each
 *   record's timestamp is its line number)
 *     -> parse (flat_map: split the line, check every field; a malformed
 *        line is a bad record "line N" -- to pipeline.dead-letter.path, or
 *        the job fails naming the line, field and reason)
 *     -> timestamps (event time: bounded out-of-orderness watermarks)
 *     -> key_by(key) -> window_aggregate(count/sum/min/max)
 *     -> format "window_start,window_end,key,count,sum,min,max" -> output
 *   window's side output "late" -> the original line -> --late-output, or
 *   (without --late-output) counted by the engine and reported on stderr at
 *   the end (nothing vanishes silently).  A record whose window would reach
 *   beyond the int64 range of milliseconds is a bad record of the window
 *   (dead letter or failure, like a malformed line).
 *
 * Values are exact decimals: a signed number with up to 9 fractional
 * digits, held as an __int128 scaled by 10^9 (so 1.5 is 1500000000).  The
 * accumulator remembers the most fractional digits seen in the window
 * (`scale`) and sum/min/max are printed with exactly that many (none for
 * integers), never with an exponent.  The integer part of one value must
 * fit in int64; a sum of many may exceed it (up to ~1.7e29) and still
 * prints exactly.
 *
 * Between parse and the window the record's value is a fixed header (the
 * scaled value, 16 bytes, and its scale, 1 byte) followed by the original
 * line, so a late record can be written out as it was read.  The header is
 * read with memcpy: state memory need not be 16-byte aligned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "window_agg_fields.h"

#define WA_HDR 17 /* int128 scaled value + 1 byte scale */
#define WA_I128_MAX ((__int128)(((unsigned __int128)1 << 127) - 1))
#define WA_I128_MIN (-WA_I128_MAX - 1)

typedef struct wa_job {
  int processing_time;
} wa_job;

/* The window accumulator (fixed size; stored as bytes by the engine). */
typedef struct wa_acc {
  __int128 sum, min, max; /* scaled by 10^9 */
  int64_t count;
  int64_t scale; /* most fractional digits seen */
} wa_acc;

/* ---- parsing: the fields (window_agg_fields.c) ---------------------------- */

/* Splits the line into timestamp, key and value; emits key = key bytes,
 * ts = timestamp (or the clock), value = header + the line. */
static int wa_parse(void *ud, sl_ctx *ctx, const sl_record *in,
                    sl_collector *out) {
  const wa_job *job = ud;
  const char *s = in->value;
  size_t n = in->value_len;
  if (n && s[n - 1] == '\r') n--; /* a CRLF line */
  char buf[96];
  wa_fields f;
  const char *reason = wa_split(s, n, &f, buf, sizeof buf);
  if (reason) {
    char where[32];
    snprintf(where, sizeof where, "line %lld", (long long)in->ts);
    return sl_ctx_bad_record(ctx, where, reason, in);
  }
  uint8_t *val = sl_ctx_scratch(ctx, WA_HDR + in->value_len);
  if (!val) return -SL_ENOMEM;
  memcpy(val, &f.value, sizeof f.value);
  val[16] = (uint8_t)f.scale;
  memcpy(val + WA_HDR, in->value, in->value_len);
  sl_record r = {job->processing_time ? sl_ctx_now(ctx) : f.ts, f.key, (uint32_t)f.key_len,
                 val, WA_HDR + in->value_len};
  return sl_emit(out, &r);
}

static int64_t wa_ts(void *ud, const sl_record *in) { return in->ts; }

/* Kafka input: a message's event time is its line's first field, so the
 * source keeps a watermark per partition; a bad line is a bad record of
 * the source, named by topic, partition and offset. */
static int wa_kafka_message(void *ud, sl_ctx *ctx, const sl_kafka_message *m, sl_record *out) {
  const wa_job *job = ud;
  const char *s = m->value;
  size_t n = m->value_len;
  if (n && s[n - 1] == '\r') n--;
  char buf[96];
  wa_fields f;
  const char *reason = wa_split(s, n, &f, buf, sizeof buf);
  if (reason) {
    char where[320];
    snprintf(where, sizeof where, "topic %s partition %d offset %lld", m->topic,
             (int)m->partition, (long long)m->offset);
    int rc = sl_ctx_bad_record(ctx, where, reason, out);
    return rc ? rc : 1; /* to the dead-letter file: skipped */
  }
  if (!job->processing_time) out->ts = f.ts;
  return 0;
}

/* ---- the accumulator -------------------------------------------------------- */

static void acc_create(void *ud, void *acc) {
  wa_acc a = {.sum = 0, .min = WA_I128_MAX, .max = WA_I128_MIN};
  memcpy(acc, &a, sizeof a);
}

static int acc_add(void *ud, void *acc, const void *in, uint32_t in_len) {
  if (in_len < WA_HDR) return -SL_EINTERNAL;
  wa_acc a;
  __int128 v;
  memcpy(&a, acc, sizeof a);
  memcpy(&v, in, sizeof v);
  int scale = ((const uint8_t *)in)[16];
  if (__builtin_add_overflow(a.sum, v, &a.sum)) return -SL_EUSER;
  a.count++;
  if (v < a.min) a.min = v;
  if (v > a.max) a.max = v;
  if (scale > a.scale) a.scale = scale;
  memcpy(acc, &a, sizeof a);
  return 0;
}

static int acc_merge(void *ud, void *acc, const void *other) {
  wa_acc a, b;
  memcpy(&a, acc, sizeof a);
  memcpy(&b, other, sizeof b);
  if (__builtin_add_overflow(a.sum, b.sum, &a.sum)) return -SL_EUSER;
  a.count += b.count;
  if (b.min < a.min) a.min = b.min;
  if (b.max > a.max) a.max = b.max;
  if (b.scale > a.scale) a.scale = b.scale;
  memcpy(acc, &a, sizeof a);
  return 0;
}

static int acc_result(void *ud, const void *acc, sl_bytes *out) {
  out->data = acc;
  out->len = sizeof(wa_acc);
  return 0;
}

static const sl_state_desc wa_agg = {.name = "window-agg",
                                     .kind = SL_STATE_AGGREGATING,
                                     .size = sizeof(wa_acc),
                                     .agg_create = acc_create,
                                     .agg_add = acc_add,
                                     .agg_merge = acc_merge,
                                     .agg_result = acc_result};

/* ---- output ------------------------------------------------------------------ */

/* One line per firing: window_start,window_end,key,count,sum,min,max. */
static int wa_format(void *ud, sl_ctx *ctx, const sl_window *w,
                     sl_window_elems *elems, sl_collector *out) {
  sl_record r;
  sl_bytes key = {NULL, 0};
  if (sl_window_next(elems, &r) != 1 || r.value_len != sizeof(wa_acc))
    return sl_ctx_fail(ctx, "window [%lld, %lld): no aggregate to format",
                       (long long)w->start, (long long)w->end);
  wa_acc a;
  memcpy(&a, r.value, sizeof a);
  if (sl_ctx_key(ctx, &key) != 0) key.len = 0;
  char *buf = sl_ctx_scratch(ctx, key.len + 3 * 48 + 4 * 24);
  if (!buf) return -SL_ENOMEM;
  size_t o = (size_t)sprintf(buf, "%lld,%lld,", (long long)w->start,
                             (long long)w->end);
  if (key.len) memcpy(buf + o, key.data, key.len);
  o += key.len;
  o += (size_t)sprintf(buf + o, ",%lld,", (long long)a.count);
  int scale = (int)a.scale;
  o += wa_fmt_dec(buf + o, a.sum, scale);
  buf[o++] = ',';
  o += wa_fmt_dec(buf + o, a.min, scale);
  buf[o++] = ',';
  o += wa_fmt_dec(buf + o, a.max, scale);
  sl_record line = {w->end - 1, key.data, key.len, buf, (uint32_t)o};
  return sl_emit(out, &line);
}

/* Late records: the original line (after the header). */
static int late_line(void *ud, sl_ctx *ctx, const sl_record *in,
                     sl_record *out) {
  if (in->value_len < WA_HDR) return sl_ctx_fail(ctx, "late record too short");
  out->value = (const uint8_t *)in->value + WA_HDR;
  out->value_len = in->value_len - WA_HDR;
  out->key = NULL;
  out->key_len = 0;
  return 0;
}


/* ---- the command ---------------------------------------------------------------- */

/* "tumbling:SIZE" | "sliding:SIZE:SLIDE" | "session:GAP" into w.  0 or
 * SL_EXIT_USAGE (message printed). */
static int parse_window(const char *cmd, const char *spec, sl_window_spec *w) {
  char buf[128];
  if (!spec || strlen(spec) >= sizeof buf) goto bad;
  strcpy(buf, spec);
  char *arg = strchr(buf, ':');
  if (!arg) goto bad;
  *arg++ = 0;
  char *arg2 = strchr(arg, ':');
  if (arg2) *arg2++ = 0;
  int64_t a = 0, b = 0;
  if (cli_duration_ms(arg, &a) || a <= 0) goto bad;
  if (!strcmp(buf, "tumbling") && !arg2) {
    w->kind = SL_WINDOW_TUMBLING;
    w->size_ms = a;
  } else if (!strcmp(buf, "sliding") && arg2) {
    if (cli_duration_ms(arg2, &b) || b <= 0) goto bad;
    w->kind = SL_WINDOW_SLIDING;
    w->size_ms = a;
    w->slide_ms = b;
  } else if (!strcmp(buf, "session") && !arg2) {
    w->kind = SL_WINDOW_SESSION;
    w->gap_ms = a;
  } else {
    goto bad;
  }
  return 0;
bad:
  fprintf(stderr,
          "%s: --window expects tumbling:SIZE, sliding:SIZE:SLIDE or "
          "session:GAP with durations > 0 (e.g. tumbling:10s), got '%s'\n",
          cmd, spec ? spec : "");
  return SL_EXIT_USAGE;
}

static int opt_duration(const char *cmd, const char *flag, const char *v,
                        int64_t *ms) {
  *ms = 0;
  if (!v) return 0;
  if (cli_duration_ms(v, ms) == 0) return 0;
  fprintf(stderr, "%s: --%s expects a duration like 500ms, 10s or 1m, got '%s'\n",
          cmd, flag, v);
  return SL_EXIT_USAGE;
}

/* Reads the options, checks them and builds the job on env. */
static int build(sl_env *env, const cli_opts *o, wa_job *job) {
  const char *cmd = "sluice run window-agg";
  sl_window_spec w = {.late_tag = "late"};
  int64_t ooo, lateness, idle;
  if (!o->window) {
    fprintf(stderr, "%s: --window is required (tumbling:SIZE, "
                    "sliding:SIZE:SLIDE or session:GAP)\n", cmd);
    return SL_EXIT_USAGE;
  }
  if (parse_window(cmd, o->window, &w)) return SL_EXIT_USAGE;
  if (o->time && strcmp(o->time, "event") && strcmp(o->time, "processing")) {
    fprintf(stderr, "%s: --time expects event or processing, got '%s'\n", cmd,
            o->time);
    return SL_EXIT_USAGE;
  }
  job->processing_time = o->time && !strcmp(o->time, "processing");
  w.time = job->processing_time ? SL_TIME_PROCESSING : SL_TIME_EVENT;
  if (opt_duration(cmd, "out-of-orderness", o->out_of_orderness, &ooo) ||
      opt_duration(cmd, "allowed-lateness", o->allowed_lateness, &lateness) ||
      opt_duration(cmd, "idle-timeout", o->idle_timeout, &idle))
    return SL_EXIT_USAGE;
  w.allowed_lateness_ms = lateness;
  if (o->input && o->socket) {
    fprintf(stderr, "%s: give at most one of --input PATH or --socket "
                    "HOST:PORT (neither: stdin)\n", cmd);
    return SL_EXIT_USAGE;
  }
  char host[256];
  int port = 0;
  if (o->socket && cli_host_port(o->socket, host, sizeof host, &port)) {
    fprintf(stderr, "%s: --socket expects HOST:PORT, got '%s'\n", cmd, o->socket);
    return SL_EXIT_USAGE;
  }
  if (o->watermark_interval &&
      sl_env_set(env, "pipeline.auto-watermark-interval", o->watermark_interval)) {
    fprintf(stderr, "%s: --watermark-interval: %s\n", cmd, sl_env_last_error(env));
    return SL_EXIT_USAGE;
  }
  if (o->dead_letter && sl_env_set(env, "pipeline.dead-letter.path", o->dead_letter)) {
    fprintf(stderr, "%s: --dead-letter: %s\n", cmd, sl_env_last_error(env));
    return SL_EXIT_USAGE;
  }
  /* Bad lines are reported by number: the sources put it in the timestamp. */
  if (sl_env_set(env, "source.text.line-numbers", "true")) {
    fprintf(stderr, "%s: %s\n", cmd, sl_env_last_error(env));
    return SL_EXIT_FAILED;
  }

  sl_source *src = o->input    ? cli_input_source(o->input)
                   : o->socket ? sl_socket_source(host, port)
                               : sl_stdin_source();
  sl_watermark_strategy wm = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS,
                              .out_of_orderness_ms = ooo,
                              .idle_timeout_ms = idle};
  int kafka = cli_is_kafka(o->input);
  if (kafka && src) { /* event time and watermarks per partition, in the source */
    sl_kafka_source_set_deserializer(src, wa_kafka_message, job);
    if (!job->processing_time) sl_kafka_source_set_watermarks(src, &wm);
  }
  sl_stream *s = sl_source_stream(env, src);
  s = sl_name(sl_flat_map(s, wa_parse, job), "parse");
  if (!job->processing_time && !kafka)
    s = sl_name(sl_assign_timestamps(s, wa_ts, NULL, &wm), "timestamps");
  sl_stream *win = sl_window_aggregate(sl_key_by(s, NULL, NULL), &w, &wa_agg,
                                       wa_format, NULL);
  win = sl_name(win, "window");
  sl_sink_to(win, cli_output_sink(o->output));
  if (o->late_output) { /* else the engine counts them (cli_execute reports) */
    sl_stream *late = sl_side_output(win, "late");
    late = sl_name(sl_map(late, late_line, NULL), "late-lines");
    sl_sink_to(late, sl_file_sink(o->late_output));
  }
  return 0;
}

int job_window_agg(int argc, char **argv) {
  sl_env *env = sl_env_new();
  if (!env) {
    fprintf(stderr, "sluice: out of memory\n");
    return SL_EXIT_FAILED;
  }
  cli_opts o = {0};
  wa_job job = {0};
  int rc = cli_parse(argc, argv, 3, "sluice run window-agg",
                     "input,socket,output,parallelism,window,time,"
                     "out-of-orderness,allowed-lateness,idle-timeout,"
                     "watermark-interval,late-output,dead-letter",
                     env, &o);
  if (!rc) rc = build(env, &o, &job);
  if (!rc) {
    cli_late_hint = "use --late-output PATH";
    rc = cli_run_job(env, "window-agg");
  }
  sl_env_free(env);
  return rc;
}

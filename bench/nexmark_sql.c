/*
 * nexmark_sql.c -- `sluice bench nexmark --sql --query qN`: the Nexmark
 * queries written in SQL (bench/nexmark/sql/qN.sql, built into the CLI by
 * CMake as nx_sql_files), run through sl_sql_execute on the same generator
 * settings as the C queries, their rows measured by the same meter.
 *
 * Before the query's file the runner creates the three source tables
 *   person, auction, bid  WITH (connector = 'nexmark', the run's events,
 *                         rate, seed and generators, watermark
 *                         date_time - 4 s as nexmark-flink's DDL)
 * and takes every INSERT's rows (sl_sql_set_sink) instead of the sink
 * table's connector (the files declare blackhole sinks).
 *
 * So that results compare with the C queries (bench/nexmark/qN.c) by count
 * and checksum, each result row is laid out as the C query's result value
 * before the meter hashes it ("pack"): a layout per query lists the row's
 * columns as the C struct's fields -- `i` an int64 (BIGINT, TIMESTAMP ms),
 * `sN` a VARCHAR into char[N] (cut to N - 1 bytes, zero-filled, as
 * sl_nexmark_strcpy) -- or `bid`: the columns auction, bidder, price,
 * channel, url, date_time, extra back into the generator's bid event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nexmark/nexmark.h"
#include "nexmark_sql.h"
#include "row/row.h"
#include "sluice_sql.h"

extern const char *const nx_sql_files[]; /* name, text, name, text, ..., NULL */

const char *nx_sql_text(const char *query) {
  for (size_t i = 0; nx_sql_files[i]; i += 2)
    if (!strcmp(nx_sql_files[i], query)) return nx_sql_files[i + 1];
  return NULL;
}

/* The C queries' result layouts. */
static const struct {
  const char *query, *layout;
} LAYOUTS[] = {
    {"q0", "bid"},          {"q1", "bid"},     {"q2", "i i"},   {"q3", "s24 s16 s8 i"},
    {"q4", "i i"},          {"q5", "i i i i"}, {"q7", "bid"},   {"q8", "i s24 i"},
    {"q11", "i i i i"},     {"q12", "i i i i"},
};

#define MAX_COLS 16
typedef struct pack_spec {
  int bid; /* the generator's bid event */
  int n;
  int width[MAX_COLS]; /* 0: int64; N: char[N] */
  sl__row_type types[MAX_COLS];
  size_t fixed; /* bytes of the struct */
  int changelog; /* the rows are changelog rows (a kind byte first) */
} pack_spec;

static int parse_layout(const char *layout, pack_spec *p) {
  memset(p, 0, sizeof *p);
  if (!strcmp(layout, "bid")) {
    static const int bid_cols[7] = {0, 0, 0, 1, 1, 0, 1}; /* auction .. extra; 1: VARCHAR */
    p->bid = 1, p->n = 7;
    for (int i = 0; i < 7; i++) p->types[i].kind = bid_cols[i] ? SL__T_VARCHAR : SL__T_BIGINT;
    return 0;
  }
  for (const char *s = layout; *s;) {
    if (*s == ' ') {
      s++;
      continue;
    }
    if (p->n == MAX_COLS) return -1;
    if (*s == 'i') {
      p->width[p->n] = 0, p->types[p->n].kind = SL__T_BIGINT, p->fixed += 8, s++;
    } else if (*s == 's') {
      int w = 0;
      for (s++; *s >= '0' && *s <= '9'; s++) w = w * 10 + (*s - '0');
      p->width[p->n] = w, p->types[p->n].kind = SL__T_VARCHAR, p->fixed += (size_t)w;
    } else {
      return -1;
    }
    p->n++;
  }
  return 0;
}

static int pack_row(const pack_spec *p, sl_ctx *ctx, const sl_record *in, sl_record *out);

/* A changelog row (updating queries: q4): its kind byte, then the packed row. */
static int pack(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const pack_spec *p = ud;
  if (!p->changelog) return pack_row(p, ctx, in, out);
  if (!in->value_len) return sl_ctx_fail(ctx, "bench nexmark --sql: a change without its kind");
  sl_record row = *in;
  row.value = (const uint8_t *)in->value + 1, row.value_len--;
  int rc = pack_row(p, ctx, &row, out);
  if (rc) return rc;
  uint8_t *o = sl_ctx_scratch(ctx, out->value_len + 1);
  if (!o) return -SL_ENOMEM;
  o[0] = *(const uint8_t *)in->value;
  memcpy(o + 1, out->value, out->value_len);
  out->value = o, out->value_len++;
  return 0;
}

static int pack_row(const pack_spec *p, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  if (sl__row_check(in->value, in->value_len, p->types, p->n))
    return sl_ctx_fail(ctx, "bench nexmark --sql: a result row is not the query's %d columns "
                            "as the C query's result (see bench/nexmark_sql.c)", p->n);
  sl__val v[MAX_COLS];
  for (int i = 0; i < p->n; i++) {
    sl__row_get(in->value, p->n, p->types, i, &v[i]);
    if (v[i].null) memset(&v[i].u, 0, sizeof v[i].u);
  }
  uint8_t *o;
  if (p->bid) {
    uint32_t ch = v[3].u.s.n, url = v[4].u.s.n, extra = v[6].u.s.n;
    if (ch > 255 || url > 255 || extra > 65535)
      return sl_ctx_fail(ctx, "bench nexmark --sql: a bid's string is longer than the event allows");
    sl_nexmark_bid b;
    memset(&b, 0, sizeof b);
    b.h.type = SL_NEXMARK_BID;
    b.h.len[SL_NEXMARK_CHANNEL] = (uint8_t)ch;
    b.h.len[SL_NEXMARK_URL] = (uint8_t)url;
    b.h.extra_len = (uint16_t)extra;
    b.auction = v[0].u.i, b.bidder = v[1].u.i, b.price = v[2].u.i, b.date_time = v[5].u.i;
    size_t len = sizeof b + ch + url + extra;
    if (!(o = sl_ctx_scratch(ctx, len))) return -SL_ENOMEM;
    memcpy(o, &b, sizeof b);
    memcpy(o + sizeof b, v[3].u.s.p, ch);
    memcpy(o + sizeof b + ch, v[4].u.s.p, url);
    memcpy(o + sizeof b + ch + url, v[6].u.s.p, extra);
    out->value = o, out->value_len = (uint32_t)len;
    return 0;
  }
  if (!(o = sl_ctx_scratch(ctx, p->fixed))) return -SL_ENOMEM;
  memset(o, 0, p->fixed);
  size_t at = 0;
  for (int i = 0; i < p->n; i++) {
    if (!p->width[i]) {
      memcpy(o + at, &v[i].u.i, 8), at += 8;
    } else {
      size_t n = v[i].u.s.n < (uint32_t)p->width[i] - 1 ? v[i].u.s.n : (size_t)p->width[i] - 1;
      memcpy(o + at, v[i].u.s.p, n), at += (size_t)p->width[i];
    }
  }
  out->value = o, out->value_len = (uint32_t)p->fixed;
  return 0;
}

typedef struct sink_ud {
  pack_spec spec;
  nx_meter *meter;
  int inserts;
} sink_ud;

static int take_rows(void *ud, const char *table, sl_stream *rows, int changelog) {
  sink_ud *su = ud;
  su->inserts++;
  su->spec.changelog = changelog;
  sl_stream *packed = sl_name(sl_map(rows, pack, &su->spec), "pack");
  return changelog ? nx_meter_changelog_sink(packed, su->meter) : nx_meter_sink(packed, su->meter);
}

struct nx_sql_job {
  char *ddl;
  const char *text;
  sink_ud su;
};
typedef struct nx_sql_job sql_job;

static int run(void *ud, sl_env *env, const char *name) {
  sql_job *j = ud;
  int rc = sl_sql_execute(env, j->ddl);
  if (!rc) rc = sl_sql_execute(env, j->text);
  if (rc && !sl_job_id(env)[0]) { /* the statements' error, not the job's */
    fprintf(stderr, "sluice bench nexmark: %s.sql: %s\n", name, sl_env_last_error(env));
    return 2;
  }
  if (!rc && j->su.inserts != 1) {
    fprintf(stderr, "sluice bench nexmark: %s.sql has %d INSERT statements (one is needed)\n",
            name, j->su.inserts);
    return 2;
  }
  return rc;
}

int nx_sql_prepare(sl_env *env, const char *query, const sl_nexmark_config *cfg, nx_meter *meter,
                   nx_sql_job **out) {
  const char *text = nx_sql_text(query), *layout = NULL;
  *out = NULL;
  for (size_t i = 0; i < sizeof LAYOUTS / sizeof LAYOUTS[0]; i++)
    if (!strcmp(LAYOUTS[i].query, query)) layout = LAYOUTS[i].layout;
  if (!text || !layout) {
    fprintf(stderr, "sluice bench nexmark: %s has no SQL version yet (SQL:", query);
    for (size_t i = 0; nx_sql_files[i]; i += 2) fprintf(stderr, " %s", nx_sql_files[i]);
    fprintf(stderr, ")\n");
    return SL_EXIT_USAGE;
  }
  sql_job *j = calloc(1, sizeof *j);
  if (!j || !(j->ddl = malloc(2048))) return free(j), SL_EXIT_FAILED;
  if (parse_layout(layout, &j->su.spec)) abort(); /* LAYOUTS is ours */
  char opts[512];
  snprintf(opts, sizeof opts,
           "connector = 'nexmark', 'nexmark.events' = '%llu', 'nexmark.rate' = '%llu', "
           "'nexmark.seed' = '%llu', 'nexmark.generators' = '%u', 'nexmark.base-time' = '%lld', "
           "'nexmark.out-of-order-group' = '%u', "
           "watermark = 'date_time - INTERVAL ''%d'' SECOND'",
           (unsigned long long)cfg->events, (unsigned long long)cfg->first_event_rate,
           (unsigned long long)cfg->seed, cfg->num_event_generators, (long long)cfg->base_time_ms,
           cfg->out_of_order_group, NX_WATERMARK_DELAY_MS / 1000);
  snprintf(j->ddl, 2048,
           "CREATE TABLE person (id BIGINT, name VARCHAR, email_address VARCHAR, credit_card "
           "VARCHAR, city VARCHAR, state VARCHAR, date_time TIMESTAMP, extra VARCHAR) WITH (%s);\n"
           "CREATE TABLE auction (id BIGINT, item_name VARCHAR, description VARCHAR, initial_bid "
           "BIGINT, reserve BIGINT, date_time TIMESTAMP, expires TIMESTAMP, seller BIGINT, "
           "category BIGINT, extra VARCHAR) WITH (%s);\n"
           "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url "
           "VARCHAR, date_time TIMESTAMP, extra VARCHAR) WITH (%s);\n",
           opts, opts, opts);
  j->text = text;
  j->su.meter = meter;
  sl_sql_set_sink(env, take_rows, &j->su);
  cli_run_next_with(run, j);
  *out = j;
  return 0;
}

void nx_sql_job_free(nx_sql_job *j) {
  if (!j) return;
  free(j->ddl);
  free(j);
}

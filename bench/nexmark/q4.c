/*
 * q4.c -- Nexmark q4, average price per category: the average of the
 * winning (highest) bid prices of the closed auctions of each category.
 *
 * The reference SQL (AVG over MAX(price) per auction, with bids between the
 * auction's opening and expiry) is an updating query; here it follows the
 * closed-auctions reading of the original Nexmark: winning.c closes each
 * auction at its expiry, then per category a keyed process function keeps
 * the running sum and count.  Closings are folded in by expiry time
 * (nx_closing_wait / nx_closing_take, common.c), so the output does not
 * depend on the order in which parallel closers deliver; at each T it emits
 *   nx_q4 {category, T, average of every closing <= T (truncated), count}.
 */
#include <string.h>

#include "nexmark.h"

typedef struct sum_count {
  int64_t sum, count;
} sum_count;

static const sl_state_desc TOTAL = {.name = "total", .kind = SL_STATE_VALUE};

static int category_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  return nx_key_i64(ctx, nx_i64((const char *)in->value + offsetof(nx_q9, category)), out);
}

static int on_closed(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  nx_q9 w;
  memcpy(&w, in->value, sizeof w);
  return nx_closing_wait(ctx, &w);
}

static int on_timer(void *ud, sl_ctx *ctx, int64_t ts, sl_time_domain d, sl_collector *out) {
  nx_closing *cs;
  size_t n;
  sl_state *total;
  sl_bytes v, key;
  int rc;
  if ((rc = nx_closing_take(ctx, ts, &cs, &n)) || !n) return rc;
  if ((rc = sl_state_get(ctx, &TOTAL, &total))) return rc;
  sum_count sc = {0, 0};
  if ((rc = sl_value_get(total, &v)) < 0) return rc;
  if (rc == 0) memcpy(&sc, v.data, sizeof sc);
  for (size_t i = 0; i < n; i++) sc.sum += cs[i].price;
  sc.count += (int64_t)n;
  if ((rc = sl_value_set(total, &sc, sizeof sc))) return rc;
  if (sl_ctx_key(ctx, &key)) return sl_ctx_fail(ctx, "q4: no key");
  nx_q4 r = {nx_i64(key.data), ts, sc.sum / sc.count, sc.count};
  sl_record o = {ts, NULL, 0, &r, sizeof r};
  return sl_emit(out, &o);
}

static sl_stream *build(sl_stream *events) {
  sl_stream *s = sl_key_by(nx_winning_bids(events), category_key, NULL);
  return sl_name(sl_keyed_process(s, on_closed, on_timer, NULL), "q4-average");
}

/* The result table (nexmark_q4: category, average): each result replaces
 * its category's row -- +I the first time, then -U old, +U new when the
 * average changed.  At the end of input every auction has closed, so the
 * table is the SQL query's: the average over all auctions of the category
 * of their highest bid in [dateTime, expires] (integer division, as
 * Flink's AVG of BIGINT). */
static const sl_state_desc ROW = {.name = "row", .kind = SL_STATE_VALUE};

static int result_category_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  return nx_key_i64(ctx, nx_i64((const char *)in->value + offsetof(nx_q4, category)), out);
}

static int emit_change(sl_collector *out, int64_t ts, uint8_t kind, const nx_q4_row *row) {
  uint8_t v[1 + sizeof *row];
  v[0] = kind;
  memcpy(v + 1, row, sizeof *row);
  sl_record o = {ts, NULL, 0, v, sizeof v};
  return sl_emit(out, &o);
}

static int on_result(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  nx_q4 r;
  memcpy(&r, in->value, sizeof r);
  nx_q4_row now = {r.category, r.avg}, was;
  sl_state *st;
  sl_bytes v;
  int rc;
  if ((rc = sl_state_get(ctx, &ROW, &st)) || (rc = sl_value_get(st, &v)) < 0) return rc;
  int found = rc == 0;
  if (found) memcpy(&was, v.data, sizeof was);
  if (found && was.avg == now.avg) return 0;
  if ((rc = sl_value_set(st, &now, sizeof now))) return rc;
  if (found && (rc = emit_change(out, in->ts, 1, &was))) return rc;
  return emit_change(out, in->ts, found ? 2 : 0, &now);
}


static sl_stream *table(sl_stream *results) {
  sl_stream *s = sl_key_by(results, result_category_key, NULL);
  return sl_name(sl_keyed_process(s, on_result, NULL, NULL), "q4-table");
}

const nx_query nx_query_q4 = {"q4", "average winning price per category over closed auctions",
                              0, build, table};

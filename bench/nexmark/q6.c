/*
 * q6.c -- Nexmark q6, average selling price per seller: for every closed
 * auction, the average of its winning price and those of the seller's 10
 * auctions closed before it (the reference's AVG(final) OVER (PARTITION BY
 * seller ORDER BY ... ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)), as
 *   nx_q6 {seller, auction, closed_at, average (truncated), auctions in it}.
 *
 * Auctions close at their expiry (winning.c).  The rows are ordered by
 * closing time, then auction id (nx_closing_wait / nx_closing_take,
 * common.c), so the result does not depend on the order in which parallel
 * closers deliver; value state `last` keeps the seller's last 11 prices in
 * a ring.
 */
#include <string.h>

#include "nexmark.h"

#define Q6_ROWS 11 /* 10 preceding and the current one */

typedef struct last_prices {
  int64_t seen; /* closings so far; the ring holds the last min(seen, 11) */
  int64_t price[Q6_ROWS];
} last_prices;

static const sl_state_desc LAST = {.name = "last", .kind = SL_STATE_VALUE};

static int seller_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  return nx_key_i64(ctx, nx_i64((const char *)in->value + offsetof(nx_q9, seller)), out);
}

static int on_closed(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  nx_q9 w;
  memcpy(&w, in->value, sizeof w);
  return nx_closing_wait(ctx, &w);
}

static int on_timer(void *ud, sl_ctx *ctx, int64_t ts, sl_time_domain d, sl_collector *out) {
  nx_closing *cs;
  size_t n;
  sl_state *last;
  sl_bytes v, key;
  int rc;
  if ((rc = nx_closing_take(ctx, ts, &cs, &n)) || !n) return rc;
  if ((rc = sl_state_get(ctx, &LAST, &last))) return rc;
  last_prices lp = {0, {0}};
  if ((rc = sl_value_get(last, &v)) < 0) return rc;
  if (rc == 0) memcpy(&lp, v.data, sizeof lp);
  if (sl_ctx_key(ctx, &key)) return sl_ctx_fail(ctx, "q6: no key");
  int64_t seller = nx_i64(key.data);
  for (size_t i = 0; i < n; i++) {
    lp.price[lp.seen++ % Q6_ROWS] = cs[i].price;
    int64_t rows = lp.seen < Q6_ROWS ? lp.seen : Q6_ROWS, sum = 0;
    for (int64_t k = 0; k < rows; k++) sum += lp.price[k];
    nx_q6 r = {seller, cs[i].auction, ts, sum / rows, rows};
    sl_record o = {ts, NULL, 0, &r, sizeof r};
    if ((rc = sl_emit(out, &o))) return rc;
  }
  return sl_value_set(last, &lp, sizeof lp);
}

static sl_stream *build(sl_stream *events) {
  sl_stream *s = sl_key_by(nx_winning_bids(events), seller_key, NULL);
  return sl_name(sl_keyed_process(s, on_closed, on_timer, NULL), "q6-average");
}

const nx_query nx_query_q6 = {"q6", "average winning price of each seller's last 11 closed auctions",
                              0, build, NULL};

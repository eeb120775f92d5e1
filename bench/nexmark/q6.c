/*
 * q6.c -- Nexmark q6, average selling price per seller: for every closed
 * auction, the average of its winning price and those of the seller's 10
 * auctions closed before it (the reference's AVG(final) OVER (PARTITION BY
 * seller ORDER BY ... ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)), as
 *   nx_q6 {seller, auction, closed_at, average (truncated), auctions in it}.
 *
 * Auctions close at their expiry (winning.c).  The rows are ordered by
 * closing time, then auction id, so the result does not depend on the
 * order in which parallel closers deliver: a closing with expiry T waits in
 * map state under T (a list of (auction, price) pairs) until the
 * event-time timer at T, when every closing at or before T has arrived;
 * value state `last` keeps the seller's last 11 prices in a ring.
 */
#include <stdlib.h>
#include <string.h>

#include "nexmark.h"

#define Q6_ROWS 11 /* 10 preceding and the current one */

typedef struct closing {
  int64_t auction, price;
} closing;

typedef struct last_prices {
  int64_t seen; /* closings so far; the ring holds the last min(seen, 11) */
  int64_t price[Q6_ROWS];
} last_prices;

static const sl_state_desc PENDING = {.name = "pending", .kind = SL_STATE_MAP};
static const sl_state_desc LAST = {.name = "last", .kind = SL_STATE_VALUE};

static int seller_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  return nx_key_i64(ctx, nx_i64((const char *)in->value + offsetof(nx_q9, seller)), out);
}

static int on_closed(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  nx_q9 w;
  memcpy(&w, in->value, sizeof w);
  sl_state *pending;
  sl_bytes v;
  int rc;
  if ((rc = sl_state_get(ctx, &PENDING, &pending))) return rc;
  if ((rc = sl_map_get(pending, &w.expires, sizeof w.expires, &v)) < 0) return rc;
  uint32_t have = rc == 0 ? v.len : 0;
  uint8_t *buf = sl_ctx_scratch(ctx, have + sizeof(closing));
  if (!buf) return -SL_ENOMEM;
  if (have) memcpy(buf, v.data, have);
  closing c = {w.auction, w.price};
  memcpy(buf + have, &c, sizeof c);
  if ((rc = sl_map_put(pending, &w.expires, sizeof w.expires, buf, have + (uint32_t)sizeof c)))
    return rc;
  return sl_timer_register(ctx, SL_TIME_EVENT, w.expires);
}

static int by_auction(const void *a, const void *b) {
  int64_t x = ((const closing *)a)->auction, y = ((const closing *)b)->auction;
  return (x > y) - (x < y);
}

static int on_timer(void *ud, sl_ctx *ctx, int64_t ts, sl_time_domain d, sl_collector *out) {
  sl_state *pending, *last;
  sl_bytes v, key;
  int rc;
  if ((rc = sl_state_get(ctx, &PENDING, &pending)) || (rc = sl_state_get(ctx, &LAST, &last)))
    return rc;
  if ((rc = sl_map_get(pending, &ts, sizeof ts, &v)) < 0) return rc;
  if (rc == SL_EMPTY) return 0;
  size_t n = v.len / sizeof(closing);
  closing *cs = sl_ctx_scratch(ctx, v.len);
  if (!cs) return -SL_ENOMEM;
  memcpy(cs, v.data, v.len);
  qsort(cs, n, sizeof *cs, by_auction);
  if ((rc = sl_map_remove(pending, &ts, sizeof ts))) return rc;
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
                              0, build};

/*
 * winning.c -- the winning bid of every closed auction, shared by q4 and q9
 * (the reference's inner join auction A, bid B ON A.id = B.auction AND
 * B.dateTime BETWEEN A.dateTime AND A.expires, reduced per auction).
 *
 * Auctions and bids are keyed by auction id into one keyed process
 * function with event-time timers.  Keyed state per auction:
 *   auction  value: category, seller, open/expiry time and the best bid so
 *            far (highest price, then earliest, then lowest bidder id --
 *            q9's ROW_NUMBER order with a deterministic last tie-break);
 *   early    list of (ts, price, bidder): bids that arrived before their
 *            auction (other subtasks' events, or bids for ids not
 *            generated yet).
 * An auction registers a timer at its expiry; when the watermark passes
 * it every bid of its lifetime has arrived, so the auction closes: its
 * winning bid is emitted (nx_q9, timestamp = expiry) if it had any, and its
 * state is dropped.  A bid without its auction registers a timer at its
 * own timestamp: once the watermark passes it, an auction that opens later
 * cannot accept it, so it is dropped.
 */
#include <string.h>

#include "nexmark.h"

typedef struct open_auction {
  int64_t category, seller, date_time, expires;
  int64_t has_bid, price, bid_time, bidder;
} open_auction;

typedef struct early_bid {
  int64_t ts, price, bidder;
} early_bid;

static const sl_state_desc AUCTION = {.name = "auction", .kind = SL_STATE_VALUE};
static const sl_state_desc EARLY = {.name = "early-bids", .kind = SL_STATE_LIST};

static int auction_or_bid(void *ud, sl_ctx *ctx, const sl_record *in) {
  int t = sl_nexmark_type_of(in);
  return t == SL_NEXMARK_AUCTION || t == SL_NEXMARK_BID;
}

static int auction_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  if (sl_nexmark_type_of(in) == SL_NEXMARK_BID) {
    sl_nexmark_bid b;
    sl_nexmark_read(in, &b, sizeof b);
    return nx_key_i64(ctx, b.auction, out);
  }
  sl_nexmark_auction a;
  sl_nexmark_read(in, &a, sizeof a);
  return nx_key_i64(ctx, a.id, out);
}

static void offer(open_auction *a, int64_t ts, int64_t price, int64_t bidder) {
  if (ts < a->date_time || ts > a->expires) return;
  if (a->has_bid && (price < a->price || (price == a->price && (ts > a->bid_time ||
                                          (ts == a->bid_time && bidder >= a->bidder)))))
    return;
  a->has_bid = 1;
  a->price = price;
  a->bid_time = ts;
  a->bidder = bidder;
}

static int on_event(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  sl_state *st, *early;
  int rc;
  if ((rc = sl_state_get(ctx, &AUCTION, &st)) || (rc = sl_state_get(ctx, &EARLY, &early)))
    return rc;
  sl_bytes v;
  open_auction a;
  if ((rc = sl_value_get(st, &v)) < 0) return rc;
  int known = rc == 0;
  if (known) memcpy(&a, v.data, sizeof a);
  if (sl_nexmark_type_of(in) == SL_NEXMARK_BID) {
    sl_nexmark_bid b;
    sl_nexmark_read(in, &b, sizeof b);
    if (!known) {
      early_bid e = {b.date_time, b.price, b.bidder};
      if ((rc = sl_list_add(early, &e, sizeof e))) return rc;
      return sl_timer_register(ctx, SL_TIME_EVENT, b.date_time);
    }
    open_auction before = a;
    offer(&a, b.date_time, b.price, b.bidder);
    return memcmp(&a, &before, sizeof a) ? sl_value_set(st, &a, sizeof a) : 0;
  }
  sl_nexmark_auction x;
  sl_nexmark_read(in, &x, sizeof x);
  a = (open_auction){x.category, x.seller, x.date_time, x.expires, 0, 0, 0, 0};
  sl_list_iter it;
  if ((rc = sl_list_get(early, &it)) < 0) return rc;
  int any = 0;
  while (rc == 0 && sl_list_next(&it, &v) == 1) {
    early_bid e;
    memcpy(&e, v.data, sizeof e);
    offer(&a, e.ts, e.price, e.bidder);
    any = 1;
  }
  if (any && (rc = sl_state_clear(early))) return rc;
  if ((rc = sl_value_set(st, &a, sizeof a))) return rc;
  return sl_timer_register(ctx, SL_TIME_EVENT, a.expires);
}

static int on_timer(void *ud, sl_ctx *ctx, int64_t ts, sl_time_domain d, sl_collector *out) {
  sl_state *st, *early;
  int rc;
  if ((rc = sl_state_get(ctx, &AUCTION, &st)) || (rc = sl_state_get(ctx, &EARLY, &early)))
    return rc;
  sl_bytes v, key;
  if ((rc = sl_value_get(st, &v)) < 0) return rc;
  if (rc == 0) { /* the auction is known: close it at its expiry */
    open_auction a;
    memcpy(&a, v.data, sizeof a);
    if (ts < a.expires) return 0; /* an early bid's timer */
    if ((rc = sl_state_clear(st))) return rc;
    if (!a.has_bid) return 0;
    if (sl_ctx_key(ctx, &key)) return sl_ctx_fail(ctx, "winning bids: no key");
    nx_q9 w = {nx_i64(key.data), a.category, a.seller, a.expires, a.bidder, a.price, a.bid_time};
    sl_record o = {a.expires, NULL, 0, &w, sizeof w};
    return sl_emit(out, &o);
  }
  /* no auction: drop the early bids it could no longer accept */
  sl_list_iter it;
  if ((rc = sl_list_get(early, &it)) < 0) return rc;
  early_bid keep[64];
  size_t n = 0, dropped = 0;
  while (rc == 0 && sl_list_next(&it, &v) == 1) {
    early_bid e;
    memcpy(&e, v.data, sizeof e);
    if (e.ts <= ts) dropped++;
    else if (n == 64) return 0; /* many left: a later timer cleans up */
    else keep[n++] = e;
  }
  if (!dropped) return 0;
  if (!n) return sl_state_clear(early);
  sl_bytes items[64];
  for (size_t i = 0; i < n; i++) items[i] = (sl_bytes){&keep[i], sizeof keep[i]};
  return sl_list_update(early, items, n);
}

sl_stream *nx_winning_bids(sl_stream *events) {
  sl_stream *s = sl_filter(events, auction_or_bid, NULL);
  s = sl_key_by(s, auction_key, NULL);
  return sl_name(sl_keyed_process(s, on_event, on_timer, NULL), "winning-bids");
}

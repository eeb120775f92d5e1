/*
 * q5.c -- Nexmark q5, hot items: per sliding window (size 10 s, every 2 s,
 * event time) the auctions with the most bids (all of them on a tie), as
 * nx_count {auction, bids, window start, end}.
 *
 * Two stages, as the reference SQL (count per auction and window, joined
 * with the maximum count per window):
 *   1. bids keyed by auction -> sliding window count -> one nx_count per
 *      auction and window, timestamp end - 1;
 *   2. keyed by window end -> keyed process: value state `max` (the highest
 *      count so far) and list state `top` (the auctions with that count);
 *      an event-time timer at end - 1 emits them.  The first stage emits a
 *      window's counts before its watermark passes end - 1, so the timer
 *      sees them all.
 */
#include <string.h>

#include "nexmark.h"


static int bid_auction(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  sl_nexmark_bid b;
  sl_nexmark_read(in, &b, sizeof b);
  return nx_key_i64(ctx, b.auction, out);
}

static int window_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  return nx_key_i64(ctx, nx_i64((const char *)in->value + offsetof(nx_count, end)), out);
}

static int on_count(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  nx_count c;
  memcpy(&c, in->value, sizeof c);
  return nx_offer_top(ctx, c.count, c.end - 1, &c, sizeof c);
}

static sl_stream *build(sl_stream *events) {
  sl_window_spec w = {.kind = SL_WINDOW_SLIDING, .time = SL_TIME_EVENT, .size_ms = NX_WINDOW_MS,
                      .slide_ms = NX_Q5_SLIDE_MS};
  sl_stream *s = sl_key_by(sl_filter(events, nx_is_bid, NULL), bid_auction, NULL);
  s = sl_name(sl_window_aggregate(s, &w, &nx_count_desc, nx_emit_count, NULL), "q5-count");
  s = sl_key_by(s, window_key, NULL);
  return sl_name(sl_keyed_process(s, on_count, nx_emit_top, NULL), "q5-hottest");
}

const nx_query nx_query_q5 = {"q5", "auctions with the most bids per 10 s window sliding by 2 s",
                              0, build, NULL};

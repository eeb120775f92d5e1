/*
 * q7.c -- Nexmark q7, highest bid: per tumbling 10 s window (event time)
 * the bids with the window's maximum price (all of them on a tie), as bid
 * events.  Window boundaries: a bid belongs to [start, start + 10 s) (the
 * reference's BETWEEN also admits a bid at exactly the window end; here it
 * belongs to the next window only).
 *
 * Stage 1, per subtask without state: a bid cheaper than the dearest bid
 * this subtask already passed on for the same window can never be the
 * maximum, so it is dropped (the local half of a local/global
 * aggregation; after a restore it only lets more through).
 * Stage 2, keyed by window start: value state `max`, list state `top` (the
 * full bid records at that price), emitted by an event-time timer at the
 * window's end - 1.
 */
#include <string.h>

#include "nexmark.h"


typedef struct local_max {
  int64_t window, price;
} local_max;

static int64_t window_of(int64_t ts) {
  int64_t r = ts % NX_WINDOW_MS;
  return ts - (r < 0 ? r + NX_WINDOW_MS : r);
}

/* Each subtask's running maximum, its own (sl_rich): an
 * optimisation only, so it needs no checkpoint (after a restore more bids
 * pass until it has seen the window's maximum again). */
static const local_max NONE = {INT64_MIN, 0};
static const nx_local LOCAL_MAX = {sizeof NONE, &NONE};

static int prefilter(void *ud, sl_ctx *ctx, const sl_record *in) {
  if (sl_nexmark_type_of(in) != SL_NEXMARK_BID) return 0;
  local_max *m = sl_ctx_local(ctx);
  sl_nexmark_bid b;
  sl_nexmark_read(in, &b, sizeof b);
  int64_t w = window_of(b.date_time);
  if (w > m->window) {
    m->window = w;
    m->price = b.price;
    return 1;
  }
  if (w < m->window) return 1;
  if (b.price < m->price) return 0;
  m->price = b.price;
  return 1;
}

static int window_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  sl_nexmark_bid b;
  sl_nexmark_read(in, &b, sizeof b);
  return nx_key_i64(ctx, window_of(b.date_time), out);
}

static int on_bid(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  sl_nexmark_bid b;
  sl_nexmark_read(in, &b, sizeof b);
  return nx_offer_top(ctx, b.price, window_of(b.date_time) + NX_WINDOW_MS - 1, in->value,
                      in->value_len);
}

static sl_stream *build(sl_stream *events) {
  sl_stream *s = sl_name(sl_filter(events, prefilter, NULL), "q7-local-max");
  s = sl_rich(s, nx_local_open, nx_local_close, (void *)&LOCAL_MAX);
  s = sl_key_by(s, window_key, NULL);
  return sl_name(sl_keyed_process(s, on_bid, nx_emit_top, NULL), "q7-highest");
}

const nx_query nx_query_q7 = {"q7", "bids with the highest price per tumbling 10 s window", 0,
                              build, NULL};

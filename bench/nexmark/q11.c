/*
 * q11.c -- Nexmark q11, user sessions: the number of bids of each bidder
 * per session window (event time, 10 s gap), as nx_count {bidder, bids,
 * session start, session end = last bid + 10 s}.
 */
#include "nexmark.h"

static int bidder(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  sl_nexmark_bid b;
  sl_nexmark_read(in, &b, sizeof b);
  return nx_key_i64(ctx, b.bidder, out);
}

static sl_stream *build(sl_stream *events) {
  sl_window_spec w = {.kind = SL_WINDOW_SESSION, .time = SL_TIME_EVENT, .gap_ms = NX_WINDOW_MS};
  sl_stream *s = sl_key_by(sl_filter(events, nx_is_bid, NULL), bidder, NULL);
  return sl_name(sl_window_aggregate(s, &w, &nx_count_desc, nx_emit_count, NULL), "q11-sessions");
}

const nx_query nx_query_q11 = {"q11", "bids per bidder per session (10 s gap)", 0, build, NULL};

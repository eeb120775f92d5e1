/*
 * q12.c -- Nexmark q12, processing-time windows: the number of bids of each
 * bidder per tumbling 10 s window of processing time (wall clock), as
 * nx_count {bidder, bids, window start, end}.  Which window a bid falls in
 * depends on when it is processed, so only the per-bidder totals over all
 * windows are reproducible.
 */
#include "nexmark.h"

static int bidder(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  sl_nexmark_bid b;
  sl_nexmark_read(in, &b, sizeof b);
  return nx_key_i64(ctx, b.bidder, out);
}

static sl_stream *build(sl_stream *events) {
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_PROCESSING,
                      .size_ms = NX_WINDOW_MS};
  sl_stream *s = sl_key_by(sl_filter(events, nx_is_bid, NULL), bidder, NULL);
  return sl_name(sl_window_aggregate(s, &w, &nx_count_desc, nx_emit_count, NULL), "q12-windows");
}

const nx_query nx_query_q12 = {"q12", "bids per bidder per processing-time 10 s window", 1,
                               build, NULL};

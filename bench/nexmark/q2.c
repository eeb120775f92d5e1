/*
 * q2.c -- Nexmark q2, selection: (auction, price) of the bids whose auction
 * id is divisible by 123 (`WHERE MOD(auction, 123) = 0`).
 */
#include "nexmark.h"

static int select_q2(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  sl_nexmark_bid b;
  if (sl_nexmark_type_of(in) != SL_NEXMARK_BID || !sl_nexmark_read(in, &b, sizeof b)) return 0;
  if (b.auction % 123 != 0) return 0;
  nx_q2 r = {b.auction, b.price};
  sl_record o = {in->ts, NULL, 0, &r, sizeof r};
  return sl_emit(out, &o);
}

static sl_stream *build(sl_stream *events) {
  return sl_name(sl_flat_map(events, select_q2, NULL), "q2-select");
}

const nx_query nx_query_q2 = {"q2", "(auction, price) of bids with auction % 123 == 0", 0, build, NULL};

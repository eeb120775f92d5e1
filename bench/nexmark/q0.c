/*
 * q0.c -- Nexmark q0, passthrough: every bid as it is (the reference's
 * `SELECT auction, bidder, price, dateTime, extra FROM bid`).  Measures the
 * cost of generating, moving and sinking records.
 */
#include "nexmark.h"

static sl_stream *build(sl_stream *events) {
  return sl_name(sl_filter(events, nx_is_bid, NULL), "q0-bids");
}

const nx_query nx_query_q0 = {"q0", "passthrough of every bid", 0, build, NULL};

/*
 * q1.c -- Nexmark q1, currency conversion: every bid with its price in
 * euros, price * 0.908 (the reference's `0.908 * price`), computed exactly
 * in integers and truncated to whole cents.  Results are bid events.
 */
#include <string.h>

#include "nexmark.h"

static int to_euro(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  sl_nexmark_bid b;
  if (!sl_nexmark_read(in, &b, sizeof b)) return sl_ctx_fail(ctx, "q1: short bid");
  uint8_t *v = sl_ctx_scratch(ctx, in->value_len);
  if (!v) return -SL_ENOMEM;
  memcpy(v, in->value, in->value_len);
  b.price = b.price * 908 / 1000;
  memcpy(v, &b, sizeof b);
  out->value = v;
  return 0;
}

static sl_stream *build(sl_stream *events) {
  sl_stream *s = sl_filter(events, nx_is_bid, NULL);
  return sl_name(sl_map(s, to_euro, NULL), "q1-euro");
}

const nx_query nx_query_q1 = {"q1", "bids with price * 0.908 (dollars to euros)", 0, build, NULL};

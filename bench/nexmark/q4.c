/*
 * q4.c -- Nexmark q4, average price per category: the average of the
 * winning (highest) bid prices of the closed auctions of each category.
 *
 * The reference SQL (AVG over MAX(price) per auction, with bids between the
 * auction's opening and expiry) is an updating query; here it follows the
 * closed-auctions reading of the original Nexmark: winning.c closes each
 * auction at its expiry, then per category a keyed process function keeps
 * the running sum and count.  To make the output independent of the
 * order in which parallel closers deliver, closings are folded in by
 * expiry time: a closing with expiry T waits in map state under T, and an
 * event-time timer at T (the watermark has passed T, so every closing at
 * or before T has arrived) folds it in and emits
 *   nx_q4 {category, T, average of every closing <= T (truncated), count}.
 */
#include <string.h>

#include "nexmark.h"

typedef struct sum_count {
  int64_t sum, count;
} sum_count;

static const sl_state_desc PENDING = {.name = "pending", .kind = SL_STATE_MAP};
static const sl_state_desc TOTAL = {.name = "total", .kind = SL_STATE_VALUE};

static int category_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  return nx_key_i64(ctx, nx_i64((const char *)in->value + offsetof(nx_q9, category)), out);
}

static int on_closed(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  nx_q9 w;
  memcpy(&w, in->value, sizeof w);
  sl_state *pending;
  sl_bytes v;
  int rc;
  if ((rc = sl_state_get(ctx, &PENDING, &pending))) return rc;
  if ((rc = sl_map_get(pending, &w.expires, sizeof w.expires, &v)) < 0) return rc;
  sum_count sc = {0, 0};
  if (rc == 0) memcpy(&sc, v.data, sizeof sc);
  sc.sum += w.price;
  sc.count++;
  if ((rc = sl_map_put(pending, &w.expires, sizeof w.expires, &sc, sizeof sc))) return rc;
  return sl_timer_register(ctx, SL_TIME_EVENT, w.expires);
}

static int on_timer(void *ud, sl_ctx *ctx, int64_t ts, sl_time_domain d, sl_collector *out) {
  sl_state *pending, *total;
  sl_bytes v, key;
  int rc;
  if ((rc = sl_state_get(ctx, &PENDING, &pending)) || (rc = sl_state_get(ctx, &TOTAL, &total)))
    return rc;
  if ((rc = sl_map_get(pending, &ts, sizeof ts, &v)) < 0) return rc;
  if (rc == SL_EMPTY) return 0;
  sum_count add, sc = {0, 0};
  memcpy(&add, v.data, sizeof add);
  if ((rc = sl_map_remove(pending, &ts, sizeof ts))) return rc;
  if ((rc = sl_value_get(total, &v)) < 0) return rc;
  if (rc == 0) memcpy(&sc, v.data, sizeof sc);
  sc.sum += add.sum;
  sc.count += add.count;
  if ((rc = sl_value_set(total, &sc, sizeof sc))) return rc;
  if (sl_ctx_key(ctx, &key)) return sl_ctx_fail(ctx, "q4: no key");
  nx_q4 r = {nx_i64(key.data), ts, sc.sum / sc.count, sc.count};
  sl_record o = {ts, NULL, 0, &r, sizeof r};
  return sl_emit(out, &o);
}

static sl_stream *build(sl_stream *events) {
  sl_stream *s = sl_key_by(nx_winning_bids(events), category_key, NULL);
  return sl_name(sl_keyed_process(s, on_closed, on_timer, NULL), "q4-average");
}

const nx_query nx_query_q4 = {"q4", "average winning price per category over closed auctions",
                              0, build};

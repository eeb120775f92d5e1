/*
 * q8.c -- Nexmark q8, monitor new users: the people who opened an auction
 * in the same tumbling 10 s window (event time) in which they registered,
 * as nx_q8 {person id, name, window start}, once per person and window.
 *
 * A window join (sl_window_join) of persons keyed by id with auctions keyed
 * by seller.  The join function sees every (person, auction) pair of a key
 * and window in one firing, one after the other; the reference groups
 * each side by (id, window) first, so only the first pair of a firing is
 * emitted: each subtask remembers the (key, window) it emitted last.
 */
#include <string.h>

#include "nexmark.h"

typedef struct last_emit {
  int64_t id, start;
} last_emit;

/* Each subtask remembers the last (person, window) it emitted (sl_rich). */
static const last_emit NONE = {INT64_MIN, INT64_MIN};
static const nx_local LAST = {sizeof NONE, &NONE};

static int person_id(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  sl_nexmark_person p;
  sl_nexmark_read(in, &p, sizeof p);
  return nx_key_i64(ctx, p.id, out);
}

static int seller_id(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  sl_nexmark_auction a;
  sl_nexmark_read(in, &a, sizeof a);
  return nx_key_i64(ctx, a.seller, out);
}

static int joined(void *ud, sl_ctx *ctx, const sl_record *person, const sl_record *auction,
                  sl_collector *out) {
  last_emit *last = sl_ctx_local(ctx);
  sl_window w;
  sl_nexmark_person p;
  if (sl_ctx_window(ctx, &w)) return sl_ctx_fail(ctx, "q8: no window");
  sl_nexmark_read(person, &p, sizeof p);
  if (last->id == p.id && last->start == w.start) return 0;
  last->id = p.id;
  last->start = w.start;
  nx_q8 r;
  memset(&r, 0, sizeof r);
  r.id = p.id;
  memcpy(r.name, p.name, sizeof r.name);
  r.start = w.start;
  sl_record o = {w.end - 1, NULL, 0, &r, sizeof r};
  return sl_emit(out, &o);
}

static sl_stream *build(sl_stream *events) {
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_EVENT, .size_ms = NX_WINDOW_MS};
  sl_stream *persons = sl_key_by(sl_filter(events, nx_is_person, NULL), person_id, NULL);
  sl_stream *auctions = sl_key_by(sl_filter(events, nx_is_auction, NULL), seller_id, NULL);
  sl_stream *j = sl_name(sl_window_join(persons, auctions, &w, joined, NULL), "q8-join");
  return sl_rich(j, nx_local_open, nx_local_close, (void *)&LAST);
}

const nx_query nx_query_q8 = {"q8", "persons who opened auctions in the 10 s window they joined",
                              0, build};

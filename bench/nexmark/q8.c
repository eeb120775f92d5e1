/*
 * q8.c -- Nexmark q8, monitor new users: the people who opened an auction
 * in the same tumbling 10 s window (event time) in which they registered,
 * as nx_q8 {person id, name, window start}, once per person and window,
 * timestamp window end - 1.
 *
 * The reference SQL groups each side by (id, window) before joining:
 *   P = SELECT id, name, TUMBLE_START(..) FROM person  GROUP BY id, name, TUMBLE(..)
 *   A = SELECT seller,   TUMBLE_START(..) FROM auction GROUP BY seller,   TUMBLE(..)
 *   P JOIN A ON P.id = A.seller AND the windows are equal
 * so the state it needs is one small record per distinct (id, window), not
 * the events.  Here: persons become {id, name} and auctions {seller}, the
 * two are unioned and keyed by (id, window start), and a keyed process
 * keeps per key one value: which sides have been seen (and the person's
 * name while the auction side has not).  The result is emitted as soon as
 * both sides are there, once; an event-time timer at the window's end - 1
 * forgets the key.  As in a window join, a record whose window has already
 * ended (end - 1 <= watermark) is late: it goes to the side output "late"
 * and joins nothing.
 */
#include <stddef.h>
#include <string.h>

#include "nexmark.h"

enum { SIDE_PERSON = 1, SIDE_AUCTION = 2 };

/* What the two sides carry into the join (the person's name only for
 * persons: an auction record is the first 9 bytes). */
typedef struct side {
  int64_t id;
  uint8_t kind; /* SIDE_PERSON / SIDE_AUCTION */
  char name[24];
} side;
#define AUCTION_LEN (offsetof(side, kind) + 1)

/* The keyed value: which sides were seen, then (person seen, auction not
 * yet) the name to emit with. */
typedef struct seen {
  uint8_t sides;
  char name[24];
} seen;

static const sl_state_desc SEEN = {.name = "seen", .kind = SL_STATE_VALUE};

static int64_t window_start(int64_t ts) {
  int64_t r = ts % NX_WINDOW_MS;
  return ts - (r < 0 ? r + NX_WINDOW_MS : r);
}

static int person_side(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  sl_nexmark_person p;
  const char *tail = sl_nexmark_read(in, &p, sizeof p);
  side *s = sl_ctx_scratch(ctx, sizeof *s);
  if (!s) return -SL_ENOMEM;
  s->id = p.id;
  s->kind = SIDE_PERSON;
  sl_nexmark_strcpy(&p.h, tail, SL_NEXMARK_NAME, s->name, sizeof s->name);
  out->value = s;
  out->value_len = sizeof *s;
  return 0;
}

static int auction_side(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  sl_nexmark_auction a;
  sl_nexmark_read(in, &a, sizeof a);
  side *s = sl_ctx_scratch(ctx, sizeof *s);
  if (!s) return -SL_ENOMEM;
  s->id = a.seller;
  s->kind = SIDE_AUCTION;
  out->value = s;
  out->value_len = AUCTION_LEN;
  return 0;
}

/* Key: (id, window start), 16 bytes. */
static int id_window(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t *k = sl_ctx_scratch(ctx, 2 * sizeof *k);
  if (!k) return -SL_ENOMEM;
  k[0] = nx_i64(in->value);
  k[1] = window_start(in->ts);
  out->key = k;
  out->key_len = 2 * sizeof *k;
  return 0;
}

static int emit(sl_ctx *ctx, int64_t id, const char *name, int64_t start, sl_collector *out) {
  nx_q8 r;
  memset(&r, 0, sizeof r);
  r.id = id;
  memcpy(r.name, name, sizeof r.name);
  r.start = start;
  sl_record o = {start + NX_WINDOW_MS - 1, NULL, 0, &r, sizeof r};
  return sl_emit(out, &o);
}

static int join(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  int64_t start = window_start(in->ts), id = nx_i64(in->value);
  uint8_t kind = ((const uint8_t *)in->value)[offsetof(side, kind)];
  if (start + NX_WINDOW_MS - 1 <= sl_ctx_watermark(ctx)) return sl_emit_side(out, "late", in);
  sl_state *st;
  sl_bytes v;
  int rc;
  if ((rc = sl_state_get(ctx, &SEEN, &st)) || (rc = sl_value_get(st, &v)) < 0) return rc;
  seen s = {0};
  if (rc == 0) memcpy(&s, v.data, v.len < sizeof s ? v.len : sizeof s);
  if (s.sides & kind) return 0; /* this side of (id, window) is known already */
  if (!s.sides && (rc = sl_timer_register(ctx, SL_TIME_EVENT, start + NX_WINDOW_MS - 1)))
    return rc;
  s.sides |= kind;
  if (s.sides == (SIDE_PERSON | SIDE_AUCTION)) {
    const char *name =
        kind == SIDE_PERSON ? (const char *)in->value + offsetof(side, name) : s.name;
    if ((rc = emit(ctx, id, name, start, out))) return rc;
    return sl_value_set(st, &s.sides, 1); /* the name is no longer needed */
  }
  if (kind == SIDE_PERSON) {
    memcpy(s.name, (const char *)in->value + offsetof(side, name), sizeof s.name);
    return sl_value_set(st, &s, sizeof s);
  }
  return sl_value_set(st, &s.sides, 1);
}

static int forget(void *ud, sl_ctx *ctx, int64_t ts, sl_time_domain d, sl_collector *out) {
  sl_state *st;
  int rc = sl_state_get(ctx, &SEEN, &st);
  return rc ? rc : sl_state_clear(st);
}

static sl_stream *build(sl_stream *events) {
  sl_stream *sides[2] = {
      sl_map(sl_filter(events, nx_is_person, NULL), person_side, NULL),
      sl_map(sl_filter(events, nx_is_auction, NULL), auction_side, NULL)};
  sl_stream *s = sl_key_by(sl_union(sides, 2), id_window, NULL);
  return sl_name(sl_keyed_process(s, join, forget, NULL), "q8-join");
}

const nx_query nx_query_q8 = {"q8", "persons who opened auctions in the 10 s window they joined",
                              0, build, NULL};

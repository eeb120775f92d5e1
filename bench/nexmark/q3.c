/*
 * q3.c -- Nexmark q3, local item suggestion: (name, city, state, auction id)
 * for every auction of category 10 whose seller is a person from OR, ID or
 * CA -- the reference's regular (unwindowed) inner join
 *   auction A JOIN person P ON A.seller = P.id
 *   WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA')
 * emitted incrementally: as soon as both sides are there.
 *
 * Both filtered streams are keyed by person id (auction: seller) and meet
 * in one keyed process function.  Keyed state per person: the person's
 * name/city/state (value) once seen, and the auctions that arrived before
 * their seller (list of ids), emitted and dropped when the person comes.
 * Like the SQL join, state is kept forever (ids never repeat).
 */
#include <string.h>

#include "nexmark.h"

static const sl_state_desc PERSON = {.name = "person", .kind = SL_STATE_VALUE};
static const sl_state_desc WAITING = {.name = "waiting-auctions", .kind = SL_STATE_LIST};

static int relevant(void *ud, sl_ctx *ctx, const sl_record *in) {
  int t = sl_nexmark_type_of(in);
  if (t == SL_NEXMARK_AUCTION) {
    sl_nexmark_auction a;
    return sl_nexmark_read(in, &a, sizeof a) && a.category == 10;
  }
  if (t == SL_NEXMARK_PERSON) {
    sl_nexmark_person p;
    const char *tail = sl_nexmark_read(in, &p, sizeof p), *st;
    size_t n;
    if (!tail) return 0;
    st = sl_nexmark_str(&p.h, tail, SL_NEXMARK_STATE, &n);
    return n == 2 && (!memcmp(st, "OR", 2) || !memcmp(st, "ID", 2) || !memcmp(st, "CA", 2));
  }
  return 0;
}

static int person_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  if (sl_nexmark_type_of(in) == SL_NEXMARK_PERSON) {
    sl_nexmark_person p;
    sl_nexmark_read(in, &p, sizeof p);
    return nx_key_i64(ctx, p.id, out);
  }
  sl_nexmark_auction a;
  sl_nexmark_read(in, &a, sizeof a);
  return nx_key_i64(ctx, a.seller, out);
}

static int emit(sl_collector *out, const nx_q3 *who, int64_t auction, int64_t ts) {
  nx_q3 r = *who;
  r.auction = auction;
  sl_record o = {ts, NULL, 0, &r, sizeof r};
  return sl_emit(out, &o);
}

static int join(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  sl_state *person, *waiting;
  int rc;
  if ((rc = sl_state_get(ctx, &PERSON, &person)) || (rc = sl_state_get(ctx, &WAITING, &waiting)))
    return rc;
  sl_bytes v;
  nx_q3 who;
  if (sl_nexmark_type_of(in) == SL_NEXMARK_AUCTION) {
    sl_nexmark_auction a;
    sl_nexmark_read(in, &a, sizeof a);
    if ((rc = sl_value_get(person, &v)) < 0) return rc;
    if (rc == SL_EMPTY) return sl_list_add(waiting, &a.id, sizeof a.id);
    memcpy(&who, v.data, sizeof who);
    return emit(out, &who, a.id, in->ts);
  }
  sl_nexmark_person p;
  const char *tail = sl_nexmark_read(in, &p, sizeof p);
  memset(&who, 0, sizeof who);
  sl_nexmark_strcpy(&p.h, tail, SL_NEXMARK_NAME, who.name, sizeof who.name);
  sl_nexmark_strcpy(&p.h, tail, SL_NEXMARK_CITY, who.city, sizeof who.city);
  sl_nexmark_strcpy(&p.h, tail, SL_NEXMARK_STATE, who.state, sizeof who.state);
  if ((rc = sl_value_set(person, &who, sizeof who))) return rc;
  sl_list_iter it;
  if ((rc = sl_list_get(waiting, &it)) < 0) return rc;
  if (rc == SL_EMPTY) return 0;
  int any = 0;
  while (sl_list_next(&it, &v) == 1) {
    if ((rc = emit(out, &who, nx_i64(v.data), in->ts))) return rc;
    any = 1;
  }
  return any ? sl_state_clear(waiting) : 0;
}

static sl_stream *build(sl_stream *events) {
  sl_stream *s = sl_filter(events, relevant, NULL);
  s = sl_key_by(s, person_key, NULL);
  return sl_name(sl_process(s, join, NULL), "q3-join");
}

const nx_query nx_query_q3 = {"q3", "category-10 auctions joined with sellers from OR/ID/CA",
                              0, build, NULL};

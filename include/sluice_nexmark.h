/*
 * sluice_nexmark.h -- the Nexmark benchmark's event generator as a sluice
 * source (public API, installed next to sluice.h).
 *
 * Nexmark models an online auction: people register (Person), open
 * auctions (Auction) and bid on them (Bid).  The generator follows the
 * reference generator of nexmark/nexmark (nexmark-flink), field by field:
 *
 *   - the stream is num_event_generators independent timelines (the
 *     reference's numEventGenerators, its source parallelism in the Flink
 *     suites; default 1).  Of M events (M = `events`, or the reference's
 *     cap 2^63 / (50 * the largest average size) when unbounded) timeline i
 *     of g gets M / g (the last one also the remainder) and the event ids
 *     from first_id(i) = 1 + i * (M / g) (GeneratorConfig.split);
 *   - on every timeline the k-th event (k = 0, 1, ...) has event number
 *     e = 1 + k (the reference's firstEventNumber = 1) and event id
 *     first_id(i) + e; so with one timeline the first event is id 2;
 *   - the event id decides the kind by id % 50: 0 -> Person, 1..3 ->
 *     Auction, 4..49 -> Bid (proportions 1 : 3 : 46), and the person and
 *     auction ids (from 1000); the first event emitted is Auction 1001
 *     (ids 0 and 1, Person 1000 and Auction 1000, are never emitted);
 *   - auctions are sold by a "hot" seller with probability 3/4, bids go to
 *     a hot auction with probability 1/2 and come from a hot bidder with
 *     probability 3/4 (hot = the first id of the latest group of 100,
 *     bidders its second); otherwise a recent id is drawn (the last 1000
 *     people, the last 100 auctions, plus a lead of 10 not generated yet);
 *   - REFERENCE QUIRK, kept on purpose: a bid's bidder is the chosen
 *     person id + 2000 (the reference adds FIRST_PERSON_ID = 1000 twice),
 *     so bidders do not join with person ids as they would in Beam;
 *   - prices are round(10^(6u) * 100) cents, u uniform in [0, 1);
 *     categories 10..14; states AZ, CA, ID, OR, WA, WY; bid channels are
 *     one of Google, Facebook, Baidu, Apple half of the time, else
 *     "channel-<k>", k < 10000, each with its fixed URL (a table built
 *     once, as the reference's channel cache; 9 in 10 non-hot URLs end in
 *     "&channel_id=<|bit-reversed k|>");
 *   - event time: ts(e) = base_time_ms + (int64)(e * d) / 1000 with
 *     d = 1e6 / first_event_rate * g microseconds (double arithmetic as
 *     the reference: each timeline runs at first_event_rate / g, all
 *     timelines start together);
 *   - auctions expire 1 + uniform[0, 2h) ms after they open, h = the event
 *     time the timeline's next 100 * 50 / 3 events take;
 *   - out-of-order groups of n events: the k-th event of a timeline carries
 *     event number (e / n) * n + (e * 953) % n, e = 1 + k (n = 1: in
 *     order);
 *   - `extra` pads each event's field content to the reference's average
 *     sizes (200, 500, 100 bytes by default): with c the reference's count
 *     of the event's bytes (8 per number except a Person's dateTime, an
 *     Auction's category and all of a Bid's channel and URL, plus string
 *     lengths) and gap = avg - c, its length is uniform in
 *     [gap - r, gap + r), r = round(gap / 5) (0 when c > avg); its bytes
 *     are a slice of a 1 MiB pool drawn as the reference draws its pool:
 *     'a' + (x % 26) from signed 32-bit x, 6 per x (51 characters, 'H' to
 *     'z').  Averages of the field content (a record's value_len minus
 *     its 8-byte header) at the default sizes: Person 207.5, Auction
 *     507.5, Bid 171.6 (32 + 67.5 of extra + 72.1 of channel and URL),
 *     192.5 over the 1 : 3 : 46 mix.
 *
 * Positions.  The source emits position n = 0, 1, ... of one global
 * sequence that interleaves the timelines: while every timeline has events
 * left, position n is event n / g of timeline n % g; the few remaining
 * events of the last timeline follow.  Every event's content is a pure
 * function of (seed, event id), so two runs with the same configuration
 * produce identical streams, and the stream does not depend on the
 * parallelism: subtask s of P emits the positions n with n % P == s (their
 * union is exactly the P = 1 stream; with P = g each subtask runs one
 * timeline, as the reference's sources do).  The source stores its
 * position in checkpoints and resumes after a restore at any parallelism
 * without repeating or skipping events.
 *
 * Records: no key; timestamp = the event's date_time; value = one of the
 * structs below (its fixed part), then the kind's strings in field order
 * (lengths h.len[], not NUL-terminated), then h.extra_len bytes of extra.
 * Read the fixed part with sl_nexmark_read() (a memcpy: the value bytes
 * are not guaranteed to be 8-byte aligned) and the strings with
 * sl_nexmark_str().
 */
#ifndef SLUICE_NEXMARK_H
#define SLUICE_NEXMARK_H

#include <stddef.h>
#include <stdint.h>

#include "sluice.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SL_NEXMARK_PERSON = 0,
  SL_NEXMARK_AUCTION = 1,
  SL_NEXMARK_BID = 2
} sl_nexmark_type;

/* String fields, the index into h.len[] and the order of their bytes. */
enum {
  SL_NEXMARK_NAME = 0, /* Person */
  SL_NEXMARK_EMAIL = 1,
  SL_NEXMARK_CREDIT_CARD = 2,
  SL_NEXMARK_CITY = 3,
  SL_NEXMARK_STATE = 4,
  SL_NEXMARK_ITEM_NAME = 0, /* Auction */
  SL_NEXMARK_DESCRIPTION = 1,
  SL_NEXMARK_CHANNEL = 0, /* Bid */
  SL_NEXMARK_URL = 1,
  SL_NEXMARK_STRINGS = 5 /* entries of h.len[] (unused ones are 0) */
};

/* The first 8 bytes of every event. */
typedef struct sl_nexmark_header {
  uint8_t type;                   /* sl_nexmark_type */
  uint8_t len[SL_NEXMARK_STRINGS]; /* byte length of each string field */
  uint16_t extra_len;             /* bytes of extra after the strings */
} sl_nexmark_header;

/* Strings: name ("Peter Shultz"), email ("abcd@efg.com"), credit card
 * ("0123 4567 8901 2345"), city ("Phoenix"), state ("AZ"). */
typedef struct sl_nexmark_person {
  sl_nexmark_header h;
  int64_t id;
  int64_t date_time;
} sl_nexmark_person;

/* Strings: item name (3..19 chars), description (3..99 chars). */
typedef struct sl_nexmark_auction {
  sl_nexmark_header h;
  int64_t id;
  int64_t initial_bid;
  int64_t reserve;
  int64_t date_time;
  int64_t expires;
  int64_t seller;
  int64_t category;
} sl_nexmark_auction;

/* Strings: channel ("Google", "channel-42"), URL. */
typedef struct sl_nexmark_bid {
  sl_nexmark_header h;
  int64_t auction;
  int64_t bidder; /* person id + 2000: the reference's quirk (see above) */
  int64_t price;  /* cents */
  int64_t date_time;
} sl_nexmark_bid;

/* Fixed part of each kind, in bytes. */
#define SL_NEXMARK_PERSON_FIXED sizeof(sl_nexmark_person)
#define SL_NEXMARK_AUCTION_FIXED sizeof(sl_nexmark_auction)
#define SL_NEXMARK_BID_FIXED sizeof(sl_nexmark_bid)

/* The reference's first ids. */
#define SL_NEXMARK_FIRST_PERSON_ID 1000
#define SL_NEXMARK_FIRST_AUCTION_ID 1000

/* The kind of a generated record (-1 if it is too short to be one). */
static inline int sl_nexmark_type_of(const sl_record *r) {
  return r->value_len >= sizeof(sl_nexmark_header) ? ((const uint8_t *)r->value)[0] : -1;
}

/* Copy the fixed part of `r` (of kind sl_nexmark_type_of(r)) into `out`,
 * which points to an sl_nexmark_person, _auction or _bid.  Returns the
 * bytes after it (the strings, then extra; inside r->value, same
 * lifetime) or NULL if r is not an event of that size. */
static inline const char *sl_nexmark_read(const sl_record *r, void *out, size_t fixed) {
  if (r->value_len < fixed) return NULL;
  __builtin_memcpy(out, r->value, fixed);
  return (const char *)r->value + fixed;
}

/* String field `field` (SL_NEXMARK_NAME ...) of an event whose header is h
 * and whose bytes after the fixed part are `tail` (what sl_nexmark_read
 * returned): its bytes (not NUL-terminated) and, in *len, its length. */
static inline const char *sl_nexmark_str(const sl_nexmark_header *h, const char *tail, int field,
                                         size_t *len) {
  size_t off = 0;
  for (int i = 0; i < field; i++) off += h->len[i];
  *len = h->len[field];
  return tail + off;
}

/* The extra bytes (h->extra_len of them) after the strings. */
static inline const char *sl_nexmark_extra(const sl_nexmark_header *h, const char *tail) {
  size_t off = 0;
  for (int i = 0; i < SL_NEXMARK_STRINGS; i++) off += h->len[i];
  return tail + off;
}

/* String field `field` into buf as a NUL-terminated string (truncated to
 * cap - 1 bytes, zero-filled to cap: usable as a fixed-size key). */
static inline void sl_nexmark_strcpy(const sl_nexmark_header *h, const char *tail, int field,
                                     char *buf, size_t cap) {
  size_t n;
  const char *s = sl_nexmark_str(h, tail, field, &n);
  if (!cap) return;
  if (n > cap - 1) n = cap - 1;
  __builtin_memset(buf, 0, cap);
  __builtin_memcpy(buf, s, n);
}

typedef struct sl_nexmark_config {
  uint64_t events;           /* events to generate; 0 = unbounded */
  uint64_t first_event_rate; /* events per second of event time (> 0) */
  int64_t base_time_ms;      /* timestamp of event number 0 */
  uint64_t seed;             /* same seed, same stream */
  uint32_t out_of_order_group; /* >= 1; 1 = in order; not a multiple of 953 */
  uint32_t avg_person_size;  /* the reference's average event sizes: the */
  uint32_t avg_auction_size; /* bytes it counts plus extra (see above), */
  uint32_t avg_bid_size;     /* at most 3072 */
  uint32_t hot_auction_ratio; /* bids go to a hot auction w.p. 1 - 1/ratio */
  uint32_t hot_bidder_ratio;  /* ... come from a hot bidder w.p. 1 - 1/ratio */
  uint32_t hot_seller_ratio;  /* auctions by a hot seller w.p. 1 - 1/ratio */
  uint32_t active_people;     /* people a non-hot pick is drawn from */
  uint32_t in_flight_auctions; /* auctions a non-hot bid is drawn from */
  uint32_t num_event_generators; /* timelines, 1 .. 65536 (numEventGenerators) */
} sl_nexmark_config;

/* The reference defaults: unbounded, 10 M events/s of event time (the
 * nexmark-flink suite's rate), base time 2023-11-14T22:13:20Z, seed 0,
 * in order, sizes 200/500/100, ratios 2/4/4, 1000 people, 100 auctions,
 * one generator timeline. */
void sl_nexmark_config_default(sl_nexmark_config *cfg);

/* 0, or -SL_ECONFIG with a message naming the field and the allowed range
 * in err (NUL-terminated, truncated to errcap). */
int sl_nexmark_config_check(const sl_nexmark_config *cfg, char *err, size_t errcap);

/* A parallel source of Nexmark events (cfg is copied).  NULL when cfg
 * fails sl_nexmark_config_check (call it for the message) or on
 * out-of-memory. */
sl_source *sl_nexmark_source(const sl_nexmark_config *cfg);

/* The event the source emits at position `n` (see "Positions"), written
 * to `buf` (cap >= SL_NEXMARK_MAX_EVENT bytes): returns its byte size and sets *ts, or a
 * negative SL_E* code.  For tests and tools: the same bytes the source
 * emits. */
#define SL_NEXMARK_MAX_EVENT 4096
int sl_nexmark_generate(const sl_nexmark_config *cfg, uint64_t n, void *buf, size_t cap,
                        int64_t *ts);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_NEXMARK_H */

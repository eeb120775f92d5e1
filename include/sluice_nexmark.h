/*
 * sluice_nexmark.h -- the Nexmark benchmark's event generator as a sluice
 * source (public API, installed next to sluice.h).
 *
 * Nexmark models an online auction: people register (Person), open
 * auctions (Auction) and bid on them (Bid).  The generator follows the
 * reference generator of Apache Beam / nexmark-flink:
 *
 *   - event number n = 0, 1, 2, ... decides the kind by n % 50:
 *     0 -> Person, 1..3 -> Auction, 4..49 -> Bid (proportions 1 : 3 : 46);
 *   - person and auction ids are dense per kind and start at 1000;
 *     auctions are sold by a "hot" seller with probability 3/4, bids go to
 *     a hot auction with probability 1/2 and come from a hot bidder with
 *     probability 3/4 (hot = the first id of the latest group of 100);
 *     otherwise a recent id is drawn (the last 1000 people, the last 100
 *     auctions, plus a small lead of ids not generated yet);
 *   - prices are round(10^(6u) * 100) cents, u uniform in [0, 1);
 *     categories 10..14; states AZ, CA, ID, OR, WA, WY; bid channels are
 *     one of Google, Facebook, Baidu, Apple half of the time, else
 *     "channel-<k>", k < 10000, each with its URL;
 *   - event time: ts(n) = base_time_ms + n * 1000 / first_event_rate
 *     (integer milliseconds; the whole stream is one logical generator,
 *     whatever the parallelism);
 *   - out-of-order groups of g events: position n carries event number
 *     (n / g) * g + (n * 953) % g (g = 1: in order);
 *   - `extra` pads every event to the reference average sizes (200, 500,
 *     100 bytes): its length is drawn uniformly in [avg - size - d,
 *     avg - size + d), d = 20 % of the gap, so the record's byte size
 *     averages `avg`.
 *
 * Every event's content is a pure function of (seed, event number), so two
 * runs with the same configuration produce identical streams, and the
 * stream does not depend on the parallelism: subtask s of P emits the
 * positions n with n % P == s (their union is exactly the P = 1 stream).
 * The source stores its position in checkpoints and resumes after a
 * restore at any parallelism without repeating or skipping events.
 *
 * Records: no key; timestamp = the event's date_time; value = one of the
 * structs below, its fixed part followed by `extra_len` bytes of extra
 * (lower-case letters, not NUL-terminated).  Strings in the fixed part are
 * NUL-terminated within their arrays.  The value bytes of a record are not
 * guaranteed to be 8-byte aligned: read the fixed part with
 * sl_nexmark_read() (a memcpy) rather than casting the pointer.
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

/* The first 8 bytes of every event. */
typedef struct sl_nexmark_header {
  uint8_t type;       /* sl_nexmark_type */
  uint8_t reserved;
  uint16_t extra_len; /* bytes of extra after the fixed part */
  uint16_t channel;   /* bids: 0..9999 "channel-<k>", 10000.. hot channels */
  uint16_t reserved2;
} sl_nexmark_header;

typedef struct sl_nexmark_person {
  sl_nexmark_header h;
  int64_t id;
  int64_t date_time;
  char name[24];        /* "Peter Shultz" */
  char email[24];       /* "abcd@efg.com" */
  char credit_card[20]; /* "0123 4567 8901 2345" */
  char city[16];        /* "Phoenix" */
  char state[8];        /* "AZ" */
  /* extra follows */
} sl_nexmark_person;

typedef struct sl_nexmark_auction {
  sl_nexmark_header h;
  int64_t id;
  int64_t initial_bid;
  int64_t reserve;
  int64_t date_time;
  int64_t expires;
  int64_t seller;
  int64_t category;
  char item_name[24];
  char description[104];
  /* extra follows */
} sl_nexmark_auction;

typedef struct sl_nexmark_bid {
  sl_nexmark_header h;
  int64_t auction;
  int64_t bidder;
  int64_t price; /* cents */
  int64_t date_time;
  /* extra follows */
} sl_nexmark_bid;

/* Fixed part of each kind, in bytes (the record's value is this plus
 * h.extra_len). */
#define SL_NEXMARK_PERSON_FIXED sizeof(sl_nexmark_person)
#define SL_NEXMARK_AUCTION_FIXED sizeof(sl_nexmark_auction)
#define SL_NEXMARK_BID_FIXED sizeof(sl_nexmark_bid)

/* Number of channels besides the hot ones, and the hot ones. */
#define SL_NEXMARK_CHANNELS 10000
#define SL_NEXMARK_HOT_CHANNELS 4

/* The kind of a generated record (-1 if it is too short to be one). */
static inline int sl_nexmark_type_of(const sl_record *r) {
  return r->value_len >= sizeof(sl_nexmark_header) ? ((const uint8_t *)r->value)[0] : -1;
}

/* Copy the fixed part of `r` (of kind sl_nexmark_type_of(r)) into `out`,
 * which points to an sl_nexmark_person, _auction or _bid.  Returns the
 * extra bytes (inside r->value, same lifetime) or NULL if r is not an
 * event of that size. */
static inline const char *sl_nexmark_read(const sl_record *r, void *out, size_t fixed) {
  if (r->value_len < fixed) return NULL;
  __builtin_memcpy(out, r->value, fixed);
  return (const char *)r->value + fixed;
}

/* Channel name and URL of a bid (from h.channel) into buf (NUL-terminated,
 * truncated to cap).  Returns the full length, like snprintf. */
int sl_nexmark_channel(unsigned channel, char *buf, size_t cap);
int sl_nexmark_url(unsigned channel, char *buf, size_t cap);

typedef struct sl_nexmark_config {
  uint64_t events;           /* events to generate; 0 = unbounded */
  uint64_t first_event_rate; /* events per second of event time (> 0) */
  int64_t base_time_ms;      /* timestamp of event 0 */
  uint64_t seed;             /* same seed, same stream */
  uint32_t out_of_order_group; /* >= 1; 1 = in order; not a multiple of 953 */
  uint32_t avg_person_size;  /* average record sizes in bytes, each at */
  uint32_t avg_auction_size; /* least the fixed part of its kind */
  uint32_t avg_bid_size;
  uint32_t hot_auction_ratio; /* bids go to a hot auction w.p. 1 - 1/ratio */
  uint32_t hot_bidder_ratio;  /* ... come from a hot bidder w.p. 1 - 1/ratio */
  uint32_t hot_seller_ratio;  /* auctions by a hot seller w.p. 1 - 1/ratio */
  uint32_t active_people;     /* people a non-hot pick is drawn from */
  uint32_t in_flight_auctions; /* auctions a non-hot bid is drawn from */
} sl_nexmark_config;

/* The reference defaults: unbounded, 10 M events/s of event time (the
 * nexmark-flink suite's rate), base time 2023-11-14T22:13:20Z, seed 0,
 * in order, sizes 200/500/100, ratios 2/4/4, 1000 people, 100 auctions. */
void sl_nexmark_config_default(sl_nexmark_config *cfg);

/* 0, or -SL_ECONFIG with a message naming the field and the allowed range
 * in err (NUL-terminated, truncated to errcap). */
int sl_nexmark_config_check(const sl_nexmark_config *cfg, char *err, size_t errcap);

/* A parallel source of Nexmark events (cfg is copied).  NULL when cfg
 * fails sl_nexmark_config_check (call it for the message) or on
 * out-of-memory. */
sl_source *sl_nexmark_source(const sl_nexmark_config *cfg);

/* Event number `n` of the stream as the source emits it at position n
 * (with out-of-order groups: the adjusted event), written to `buf` (cap >=
 * SL_NEXMARK_MAX_EVENT bytes): returns its byte size and sets *ts, or a
 * negative SL_E* code.  For tests and tools: the same bytes the source
 * emits. */
#define SL_NEXMARK_MAX_EVENT 4096
int sl_nexmark_generate(const sl_nexmark_config *cfg, uint64_t n, void *buf, size_t cap,
                        int64_t *ts);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_NEXMARK_H */

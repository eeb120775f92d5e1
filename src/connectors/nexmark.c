/*
 * nexmark.c -- the Nexmark event generator (include/sluice_nexmark.h says
 * what the stream holds; this file says how it is made).
 *
 * Determinism and splitting.  Each event is a pure function of (seed,
 * event id): its random draws come from a small PRNG (wyrand) seeded with
 * splitmix64(seed, event id), never from a stream shared between events.
 * A position n maps to (timeline i, index k) by arithmetic alone (nx_at),
 * and (i, k) to the event number and id, so any subtask can generate any
 * position on its own, and the stream is the same at every parallelism:
 * subtask s of P emits the positions s, s + P, s + 2P, ...  Event ids of
 * different timelines never collide (disjoint ranges, as the reference's
 * split), so neither do their draws.
 *
 * Ids (as the reference generator computes them from the event id x):
 *   last person  = x / 50                      (people so far - 1)
 *   last auction = 3 * (x / 50) + clamp(x % 50 - 1, 0..2), minus one epoch
 *                  when x % 50 == 0 (a person: no auction in this epoch yet)
 *   a "recent" person  = uniform over the last min(people, 1000) people
 *                        plus 10 not generated yet;
 *   a "recent" auction = uniform over the last 100 auctions plus 10 ahead;
 *   hot seller / hot auction = the first id of the latest group of 100,
 *   hot bidder = that person id + 1 (so hot sellers and bidders differ).
 *
 * Strings are written straight into the record: names, emails, item names
 * and descriptions drawn as the reference draws them; a bid's channel and
 * URL from a table built once (the reference's channel cache);
 * extra padding a slice of a 1 MiB pool at a random offset (one draw and
 * one memcpy, no per-character draws).  Nothing is allocated per event.
 *
 * Checkpoints: the generator sources' scheme (sl__gen_pos, connector.h):
 * a reader emitted first, first + step, ... below next; a restored reader
 * skips every position some earlier reader emitted, whatever that run's
 * parallelism was, and carries that on in its own position.
 */
#include <pthread.h>
#include <stdio.h>
#include <math.h>

#include "connectors/connector.h"
#include "sluice_nexmark.h"

/* ---- constants of the reference generator ------------------------------ */

enum {
  PROPORTION = 50, /* 1 person + 3 auctions + 46 bids */
  FIRST_PERSON_ID = SL_NEXMARK_FIRST_PERSON_ID,
  FIRST_AUCTION_ID = SL_NEXMARK_FIRST_AUCTION_ID,
  FIRST_EVENT_ID = 1,     /* the nexmark-flink table source's GeneratorConfig */
  FIRST_EVENT_NUMBER = 1, /* (firstEventId = 1, firstEventNumber = 1) */
  FIRST_CATEGORY_ID = 10,
  NUM_CATEGORIES = 5,
  HOT_GROUP = 100, /* hot ids: the first of the latest group of 100 */
  PERSON_ID_LEAD = 10,
  AUCTION_ID_LEAD = 10,
  HOT_CHANNEL_RATIO = 2,
  CHANNELS = 10000,
  OOO_MULTIPLIER = 953,
  EXTRA_POOL = 1 << 20, /* the reference's REUSABLE_EXTRA_STRING: 1 MiB */
  MAX_GENERATORS = 65536,
  MAX_AVG_SIZE = 3072
};

static const char *const FIRST_NAMES[] = {"Peter", "Paul",  "Luke",  "John",   "Saul",  "Vicky",
                                          "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
static const char *const LAST_NAMES[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                         "Walton", "Smith",  "Jones",   "Noris"};
static const char *const CITIES[] = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                     "Portland", "Bend",        "Redmond",       "Seattle",
                                     "Kent",     "Cheyenne"};
static const char *const STATES[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
static const char *const HOT_CHANNELS[] = {"Google", "Facebook", "Baidu", "Apple"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- randomness ----------------------------------------------------------- */

typedef struct rng {
  uint64_t s;
} rng;

static inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static inline rng rng_for(uint64_t seed, uint64_t salt, uint64_t n) {
  return (rng){splitmix64(splitmix64(seed ^ salt) + n)};
}

static inline uint64_t rng_next(rng *r) { /* wyrand */
  r->s += 0xa0761d6478bd642full;
  __uint128_t t = (__uint128_t)r->s * (r->s ^ 0xe7037ed1a0b428dbull);
  return (uint64_t)(t >> 64) ^ (uint64_t)t;
}

/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias < 2^-40 here). */
static inline uint64_t rng_below(rng *r, uint64_t n) {
  return (uint64_t)(((__uint128_t)rng_next(r) * n) >> 64);
}

static inline double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1p-53; }

/* ---- strings ---------------------------------------------------------------- */

/* A hot channel's name and URL, back to back (a bid copies both at once). */
typedef struct chan {
  uint8_t name_len, url_len;
  char s[94];
} chan;

/* Channel k < 10000 in 16 bytes, so that the table (160 KB) stays in the
 * cache: its URL's three path parts (3 or 4 characters each, padded to
 * 4), their lengths - 3 in bits 0..2 and in bit 3 whether the URL ends in
 * "&channel_id=".  Name and URL are spelled out per bid (url_of). */
typedef struct chan16 {
  char part[12];
  uint8_t bits;
  uint8_t pad[3];
} chan16;

static char g_pool[EXTRA_POOL];
static chan g_hot[NELEM(HOT_CHANNELS)];
static chan16 g_chan[CHANNELS];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* The reference's nextString: 3..max-1 characters, each `special` with
 * probability 1/13, else a lower-case letter; trimmed of spaces.  Returns
 * the length written to out (not NUL-terminated). */
static size_t next_string(rng *r, char *out, size_t max, char special) {
  size_t len = 3 + (size_t)rng_below(r, max - 3), n = 0;
  for (size_t i = 0; i < len; i++) {
    uint64_t x = rng_next(r);
    char c = (x & 0xffffffffu) % 13 == 0 ? special : (char)('a' + (x >> 32) % 26);
    if (c == ' ' && n == 0) continue; /* leading space: trimmed */
    out[n++] = c;
  }
  while (n && out[n - 1] == ' ') n--;
  return n;
}

/* A URL as the reference's getBaseUrl draws it. */
static size_t base_url(rng *r, char *out) {
  static const char head[] = "https://www.nexmark.com/", tail[] = "item.htm?query=1";
  size_t n = sizeof head - 1;
  memcpy(out, head, n);
  for (int i = 0; i < 3; i++) {
    n += next_string(r, out + n, 5, '_');
    out[n++] = '/';
  }
  memcpy(out + n, tail, sizeof tail - 1);
  return n + sizeof tail - 1;
}

/* v in decimal at p; returns the length. */
static size_t put_dec(char *p, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do tmp[n++] = (char)('0' + v % 10), v /= 10;
  while (v);
  for (size_t i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
  return n;
}

/* Java's Math.abs(Integer.reverse(k)) in decimal (Math.abs of
 * Integer.MIN_VALUE stays negative: k = 1 gets "-2147483648"). */
static size_t put_channel_id(char *p, uint32_t k) {
  uint32_t rev = 0;
  for (int i = 0; i < 32; i++, k >>= 1) rev = (rev << 1) | (k & 1);
  if (rev == 0x80000000u) {
    memcpy(p, "-2147483648", 11);
    return 11;
  }
  int64_t id = (int32_t)rev;
  return put_dec(p, (uint64_t)(id < 0 ? -id : id));
}

/* Channel k's name and URL at p, back to back; lengths in *name, *url. */
static size_t url_of(char *p, uint32_t k, uint8_t *name, uint8_t *url) {
  static const char head[] = "https://www.nexmark.com/", tail[] = "item.htm?query=1";
  const chan16 *c = &g_chan[k];
  size_t n = 8;
  memcpy(p, "channel-", 8);
  n += put_dec(p + n, k);
  *name = (uint8_t)n;
  memcpy(p + n, head, 24);
  n += 24;
  for (int i = 0; i < 3; i++) {
    memcpy(p + n, c->part + 4 * i, 4);
    n += 3 + ((c->bits >> i) & 1);
    p[n++] = '/';
  }
  memcpy(p + n, tail, 16);
  n += 16;
  if (c->bits & 8) {
    memcpy(p + n, "&channel_id=", 12);
    n += 12;
    n += put_channel_id(p + n, k);
  }
  *url = (uint8_t)(n - *name);
  return n;
}

static void strings_init(void) {
  /* the pool: the reference's nextExactString, 'a' + x % 26 for a signed
   * 32-bit x, then x /= 26, six characters per x (C's % and / truncate
   * toward zero as Java's do: 51 characters, 'a' twice as likely) */
  rng r = rng_for(0, 0x6e65786d61726bull, 0);
  int32_t x = 0;
  for (size_t i = 0, left = 0; i < EXTRA_POOL; i++, left--) {
    if (left == 0) x = (int32_t)(uint32_t)rng_next(&r), left = 6;
    g_pool[i] = (char)('a' + x % 26);
    x /= 26;
  }
  /* the channels, as the reference's cache: hot ones with a plain URL
   * each; channel k's URL adds "&channel_id=..." 9 times in 10 */
  r = rng_for(0, 0x75726cull, 0);
  for (size_t k = 0; k < NELEM(g_hot); k++) {
    chan *c = &g_hot[k];
    size_t nl = strlen(HOT_CHANNELS[k]);
    memcpy(c->s, HOT_CHANNELS[k], nl);
    c->name_len = (uint8_t)nl;
    c->url_len = (uint8_t)base_url(&r, c->s + nl);
  }
  for (size_t k = 0; k < CHANNELS; k++) {
    chan16 *c = &g_chan[k];
    memset(c, 0, sizeof *c);
    for (int i = 0; i < 3; i++) {
      size_t len = next_string(&r, c->part + 4 * i, 5, '_');
      c->bits |= (uint8_t)((len - 3) << i);
    }
    if (rng_below(&r, 10) > 0) c->bits |= 8;
  }
}

/* Length of the reference's nextExtra for an event of which it counts
 * `size` bytes: uniform in [gap - d, gap + d), gap = avg - size,
 * d = round(gap / 5); 0 when size > avg. */
static uint32_t extra_len(rng *r, uint32_t size, uint32_t avg) {
  if (size >= avg) return 0;
  uint32_t gap = avg - size, d = (gap + 2) / 5;
  return gap - d + (d ? (uint32_t)rng_below(r, 2 * (uint64_t)d) : 0);
}

/* The reference's nextExactString over its pool: a slice at a random
 * offset. */
static void put_extra(rng *r, char *dst, uint32_t len) {
  memcpy(dst, g_pool + rng_below(r, EXTRA_POOL - len), len);
}

static void put_cstr(char *dst, size_t *n, const char *s) {
  size_t k = strlen(s);
  memcpy(dst + *n, s, k);
  *n += k;
}

/* ---- configuration ------------------------------------------------------------ */

void sl_nexmark_config_default(sl_nexmark_config *cfg) {
  *cfg = (sl_nexmark_config){.events = 0,
                             .first_event_rate = 10000000,
                             .base_time_ms = 1700000000000LL,
                             .seed = 0,
                             .out_of_order_group = 1,
                             .avg_person_size = 200,
                             .avg_auction_size = 500,
                             .avg_bid_size = 100,
                             .hot_auction_ratio = 2,
                             .hot_bidder_ratio = 4,
                             .hot_seller_ratio = 4,
                             .active_people = 1000,
                             .in_flight_auctions = 100,
                             .num_event_generators = 1};
}

int sl_nexmark_config_check(const sl_nexmark_config *c, char *err, size_t errcap) {
#define BAD(...) return sl__fmt(err, errcap, "nexmark: " __VA_ARGS__), -SL_ECONFIG
  if (!c) BAD("no configuration");
  if (c->first_event_rate == 0 || c->first_event_rate > 1000000000000ull)
    BAD("first_event_rate must be 1 .. 10^12 events per second, got %llu",
        (unsigned long long)c->first_event_rate);
  if (c->out_of_order_group == 0 || c->out_of_order_group % OOO_MULTIPLIER == 0)
    BAD("out_of_order_group must be >= 1 and not a multiple of %d, got %u", OOO_MULTIPLIER,
        c->out_of_order_group);
  if (c->events && c->out_of_order_group > c->events)
    BAD("out_of_order_group (%u) must not exceed events (%llu)", c->out_of_order_group,
        (unsigned long long)c->events);
  if (c->avg_person_size > MAX_AVG_SIZE || c->avg_auction_size > MAX_AVG_SIZE ||
      c->avg_bid_size > MAX_AVG_SIZE)
    BAD("average event sizes must be at most %d bytes", MAX_AVG_SIZE);
  if (c->hot_auction_ratio == 0 || c->hot_bidder_ratio == 0 || c->hot_seller_ratio == 0)
    BAD("hot ratios must be >= 1 (1 = no hot ids)");
  if (c->active_people == 0 || c->in_flight_auctions == 0)
    BAD("active_people and in_flight_auctions must be >= 1");
  if (c->num_event_generators == 0 || c->num_event_generators > MAX_GENERATORS)
    BAD("num_event_generators must be 1 .. %d, got %u", MAX_GENERATORS,
        c->num_event_generators);
  if (c->base_time_ms < 0 || c->base_time_ms > (INT64_C(1) << 52))
    BAD("base_time_ms must be 0 .. 2^52, got %lld", (long long)c->base_time_ms);
#undef BAD
  if (errcap) err[0] = 0;
  return 0;
}

/* ---- events ------------------------------------------------------------------------ */

/* A configuration with what every event needs worked out once. */
typedef struct nx_gen {
  sl_nexmark_config c;
  double delay_us;  /* between two events of one timeline */
  uint64_t sub;     /* events per timeline (the last one: also the rest) */
  uint64_t split;   /* positions below: interleaved timelines */
  uint64_t horizon; /* events until in_flight_auctions more auctions */
} nx_gen;

static void gen_init(nx_gen *g, const sl_nexmark_config *c) {
  uint64_t n = c->num_event_generators, max = c->events;
  if (!max) { /* the reference's cap for an unbounded run */
    uint32_t big = c->avg_person_size;
    if (c->avg_auction_size > big) big = c->avg_auction_size;
    if (c->avg_bid_size > big) big = c->avg_bid_size;
    max = (uint64_t)INT64_MAX / (PROPORTION * (uint64_t)(big ? big : 1));
  }
  g->c = *c;
  g->delay_us = 1000000.0 / (double)c->first_event_rate * (double)n;
  g->sub = max / n;
  g->split = g->sub * n;
  g->horizon = (uint64_t)c->in_flight_auctions * PROPORTION / 3;
}

/* GeneratorConfig.timestampForEvent */
static inline int64_t ts_of(const nx_gen *g, uint64_t e) {
  return g->c.base_time_ms + (int64_t)((double)e * g->delay_us) / 1000;
}

/* GeneratorConfig.nextAdjustedEventNumber */
static inline uint64_t adjusted(const nx_gen *g, uint64_t e) {
  uint64_t m = g->c.out_of_order_group;
  return m == 1 ? e : e / m * m + (uint64_t)(((__uint128_t)e * OOO_MULTIPLIER) % m);
}

static inline int64_t last_person(uint64_t x) { return (int64_t)(x / PROPORTION); }

static inline int64_t last_auction(uint64_t x) {
  int64_t epoch = (int64_t)(x / PROPORTION), off = (int64_t)(x % PROPORTION);
  if (off < 1) epoch--, off = 2;
  else if (off >= 4) off = 2;
  else off -= 1;
  return epoch * 3 + off;
}

static inline int64_t recent_person(const sl_nexmark_config *c, rng *r, uint64_t x) {
  int64_t people = last_person(x) + 1;
  int64_t active = people < (int64_t)c->active_people ? people : (int64_t)c->active_people;
  return people - active + (int64_t)rng_below(r, (uint64_t)(active + PERSON_ID_LEAD));
}

static inline int64_t recent_auction(const sl_nexmark_config *c, rng *r, uint64_t x) {
  int64_t max = last_auction(x), min = max - (int64_t)c->in_flight_auctions;
  if (min < 0) min = 0;
  return min + (int64_t)rng_below(r, (uint64_t)(max - min + 1 + AUCTION_ID_LEAD));
}

static inline int64_t price(rng *r) {
  return (int64_t)llround(exp(rng_unit(r) * 6.0 * M_LN10) * 100.0);
}

static void put4(char *p, uint64_t v) {
  p[0] = (char)('0' + v / 1000);
  p[1] = (char)('0' + v / 100 % 10);
  p[2] = (char)('0' + v / 10 % 10);
  p[3] = (char)('0' + v % 10);
}

/* Event at position n into buf (>= SL_NEXMARK_MAX_EVENT bytes); returns its
 * size. */
static uint32_t make_event(const nx_gen *g, uint64_t n, uint8_t *buf, int64_t *ts) {
  const sl_nexmark_config *c = &g->c;
  uint64_t gens = c->num_event_generators, i, k;
  if (gens == 1) i = 0, k = n; /* no division on the default path */
  else if (n < g->split) i = n % gens, k = n / gens;
  else i = gens - 1, k = g->sub + (n - g->split);
  uint64_t e = adjusted(g, FIRST_EVENT_NUMBER + k);      /* event number */
  uint64_t x = FIRST_EVENT_ID + i * g->sub + e;          /* event id */
  int64_t t = ts_of(g, e);
  rng r = rng_for(c->seed, 0, x);
  uint64_t rem = x % PROPORTION;
  *ts = t;
  if (rem == 0) {
    sl_nexmark_person p;
    char *s = (char *)buf + sizeof p;
    size_t len[5], at = 0;
    memset(&p, 0, sizeof p);
    p.h.type = SL_NEXMARK_PERSON;
    p.id = last_person(x) + FIRST_PERSON_ID;
    p.date_time = t;
    put_cstr(s, &at, FIRST_NAMES[rng_below(&r, NELEM(FIRST_NAMES))]);
    s[at++] = ' ';
    put_cstr(s, &at, LAST_NAMES[rng_below(&r, NELEM(LAST_NAMES))]);
    len[0] = at;
    at += next_string(&r, s + at, 7, ' ');
    s[at++] = '@';
    at += next_string(&r, s + at, 5, ' ');
    put_cstr(s, &at, ".com");
    len[1] = at - len[0];
    for (int q = 0; q < 4; q++) {
      put4(s + at, rng_below(&r, 10000));
      at += 4;
      if (q < 3) s[at++] = ' ';
    }
    len[2] = 19;
    size_t before = at;
    put_cstr(s, &at, CITIES[rng_below(&r, NELEM(CITIES))]);
    len[3] = at - before;
    put_cstr(s, &at, STATES[rng_below(&r, NELEM(STATES))]);
    len[4] = 2;
    for (int q = 0; q < 5; q++) p.h.len[q] = (uint8_t)len[q];
    /* the reference counts id and the strings, not dateTime */
    p.h.extra_len = (uint16_t)extra_len(&r, 8 + (uint32_t)at, c->avg_person_size);
    put_extra(&r, s + at, p.h.extra_len);
    memcpy(buf, &p, sizeof p);
    return (uint32_t)(sizeof p + at + p.h.extra_len);
  }
  if (rem < 4) {
    sl_nexmark_auction a;
    char *s = (char *)buf + sizeof a;
    memset(&a, 0, sizeof a);
    a.h.type = SL_NEXMARK_AUCTION;
    a.id = last_auction(x) + FIRST_AUCTION_ID;
    size_t name = next_string(&r, s, 20, ' ');
    size_t desc = next_string(&r, s + name, 100, ' ');
    a.h.len[SL_NEXMARK_ITEM_NAME] = (uint8_t)name;
    a.h.len[SL_NEXMARK_DESCRIPTION] = (uint8_t)desc;
    a.initial_bid = price(&r);
    a.reserve = a.initial_bid + price(&r);
    a.date_time = t;
    int64_t horizon = ts_of(g, e + g->horizon) - t;
    a.expires = t + 1 + (int64_t)rng_below(&r, horizon > 0 ? 2 * (uint64_t)horizon : 1);
    if (rng_below(&r, c->hot_seller_ratio) > 0)
      a.seller = last_person(x) / HOT_GROUP * HOT_GROUP;
    else
      a.seller = recent_person(c, &r, x);
    a.seller += FIRST_PERSON_ID;
    a.category = FIRST_CATEGORY_ID + (int64_t)rng_below(&r, NUM_CATEGORIES);
    /* the reference counts id, the strings and 5 numbers, not category */
    a.h.extra_len =
        (uint16_t)extra_len(&r, 8 + (uint32_t)(name + desc) + 5 * 8, c->avg_auction_size);
    put_extra(&r, s + name + desc, a.h.extra_len);
    memcpy(buf, &a, sizeof a);
    return (uint32_t)(sizeof a + name + desc + a.h.extra_len);
  }
  sl_nexmark_bid b;
  char *s = (char *)buf + sizeof b;
  /* the channel and the extra slice are drawn first and prefetched: the
   * channel table (160 KB) and the pool (1 MiB) are often out of the cache,
   * and the draws below hide the wait (the order of independent draws
   * does not change any distribution) */
  const chan *hot = NULL;
  uint32_t channel = 0;
  if (rng_below(&r, HOT_CHANNEL_RATIO) > 0) hot = &g_hot[rng_below(&r, NELEM(HOT_CHANNELS))];
  else channel = (uint32_t)rng_below(&r, CHANNELS);
  /* the reference counts the 4 numbers, not channel and URL */
  uint32_t xl = extra_len(&r, 4 * 8, c->avg_bid_size);
  const char *xs = g_pool + rng_below(&r, EXTRA_POOL - xl);
  if (!hot) __builtin_prefetch(&g_chan[channel]);
  __builtin_prefetch(xs);
  __builtin_prefetch(xs + (xl ? xl - 1 : 0));
  memset(&b, 0, sizeof b);
  b.h.type = SL_NEXMARK_BID;
  if (rng_below(&r, c->hot_auction_ratio) > 0)
    b.auction = last_auction(x) / HOT_GROUP * HOT_GROUP;
  else
    b.auction = recent_auction(c, &r, x);
  b.auction += FIRST_AUCTION_ID;
  if (rng_below(&r, c->hot_bidder_ratio) > 0)
    b.bidder = last_person(x) / HOT_GROUP * HOT_GROUP + 1;
  else
    b.bidder = recent_person(c, &r, x);
  b.bidder += 2 * FIRST_PERSON_ID; /* the reference's quirk: added twice */
  b.price = price(&r);
  b.date_time = t;
  size_t at;
  if (hot) {
    at = (size_t)hot->name_len + hot->url_len;
    memcpy(s, hot->s, at);
    b.h.len[SL_NEXMARK_CHANNEL] = hot->name_len;
    b.h.len[SL_NEXMARK_URL] = hot->url_len;
  } else {
    at = url_of(s, channel, &b.h.len[SL_NEXMARK_CHANNEL], &b.h.len[SL_NEXMARK_URL]);
  }
  b.h.extra_len = (uint16_t)xl;
  memcpy(s + at, xs, xl);
  memcpy(buf, &b, sizeof b);
  return (uint32_t)(sizeof b + at + xl);
}

int sl_nexmark_generate(const sl_nexmark_config *cfg, uint64_t n, void *buf, size_t cap,
                        int64_t *ts) {
  char err[8];
  if (!buf || !ts || cap < SL_NEXMARK_MAX_EVENT || sl_nexmark_config_check(cfg, err, sizeof err))
    return -SL_EINVAL;
  if (cfg->events && n >= cfg->events) return -SL_EINVAL;
  pthread_once(&g_once, strings_init);
  nx_gen g;
  gen_init(&g, cfg);
  return (int)make_event(&g, n, buf, ts);
}

/* ---- the source ------------------------------------------------------------------------ */

typedef struct nx_reader {
  const nx_gen *gen;
  uint64_t first, next, step, end; /* positions next, next + step, ... < end */
  sl__gen_done done;               /* after a restore */
  uint8_t buf[SL_NEXMARK_MAX_EVENT];
} nx_reader;

static int nx_open(void *ud, sl_ctx *ctx, void **reader) {
  nx_reader *r = sl__calloc_private(sizeof *r);
  if (!r) return -SL_ENOMEM;
  r->gen = ud;
  r->first = r->next = (uint64_t)sl_ctx_subtask(ctx);
  r->step = (uint64_t)sl_ctx_parallelism(ctx);
  r->end = r->gen->c.events ? r->gen->c.events : UINT64_MAX;
  *reader = r;
  return 0;
}

static inline void skip_emitted(nx_reader *r) {
  if (SL__UNLIKELY(r->done.n)) r->next = sl__gen_skip(&r->done, r->next, r->step, r->end);
}

static int nx_poll(void *reader, sl_ctx *ctx, int budget) {
  nx_reader *r = reader;
  skip_emitted(r);
  for (int i = 0; i < budget && r->next < r->end; i++) {
    int64_t ts;
    uint32_t len = make_event(r->gen, r->next, r->buf, &ts);
    sl_record rec = {ts, NULL, 0, r->buf, len};
    r->next = r->end - r->next > r->step ? r->next + r->step : r->end;
    skip_emitted(r);
    int rc = sl_ctx_emit(ctx, &rec);
    if (rc) return rc;
  }
  return r->next < r->end ? SL_POLL_MORE : SL_POLL_END;
}

static int nx_position(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len) {
  (void)ctx;
  nx_reader *r = reader;
  sl__gen_pos own = {r->first, r->next, r->step};
  return sl__gen_position(&own, &r->done, buf, cap, len);
}

static int nx_seek(void *reader, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                   int n) {
  (void)ctx;
  nx_reader *r = reader;
  return sl__gen_seek(&r->done, blobs, lens, n);
}

static void nx_close(void *reader, sl_ctx *ctx) {
  (void)ctx;
  nx_reader *r = reader;
  sl__free(r->done.e);
  sl__free_private(r);
}

static void nx_free(void *ud) { sl__free(ud); }

static const sl_source_ops nexmark_ops = {.version = SL_CONNECTOR_VERSION, .kind = "nexmark",
                                          .open = nx_open, .poll = nx_poll,
                                          .close = nx_close, .free = nx_free,
                                          .position = nx_position, .seek = nx_seek};

sl_source *sl_nexmark_source(const sl_nexmark_config *cfg) {
  char err[256];
  if (sl_nexmark_config_check(cfg, err, sizeof err)) return NULL;
  pthread_once(&g_once, strings_init);
  nx_gen *g = sl__malloc(sizeof *g);
  if (!g) return NULL;
  gen_init(g, cfg);
  return sl_source_new(&nexmark_ops, g, 0);
}

/*
 * nexmark.c -- the Nexmark event generator (include/sluice_nexmark.h says
 * what the stream holds; this file says how it is made).
 *
 * Determinism and splitting.  Each event is a pure function of (seed,
 * event number): its random draws come from a small PRNG (wyrand) seeded
 * with splitmix64(seed, event number), never from a stream shared between
 * events.  So any subtask can generate any position on its own, and the
 * stream is the same at every parallelism: subtask s of P emits the
 * positions s, s + P, s + 2P, ... (position n carries event number
 * adj(n), the out-of-order permutation inside groups of g).
 *
 * Ids (as the reference generator computes them from the event number e):
 *   last person  = e / 50                      (people so far - 1)
 *   last auction = 3 * (e / 50) + clamp(e % 50 - 1, 0..2), minus one epoch
 *                  when e % 50 == 0 (a person: no auction in this epoch yet)
 *   a "recent" person  = uniform over the last min(people, 1000) people
 *                        plus 10 not generated yet;
 *   a "recent" auction = uniform over the last 100 auctions plus 10 ahead;
 *   hot seller / hot auction = the first id of the latest group of 100,
 *   hot bidder = that person id + 1 (so hot sellers and bidders differ).
 *
 * Auctions expire 1 + uniform[0, 2h) ms after they open, h = the event time
 * the next 100 * 50 / 3 events take (the reference's "in-flight" horizon).
 *
 * Extra padding is cut from a fixed pool of random letters at a random
 * offset (one memcpy, no per-character draws); its length follows the
 * reference so each kind's record size averages the configured size.
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
  FIRST_PERSON_ID = 1000,
  FIRST_AUCTION_ID = 1000,
  FIRST_CATEGORY_ID = 10,
  NUM_CATEGORIES = 5,
  HOT_GROUP = 100, /* hot ids: the first of the latest group of 100 */
  PERSON_ID_LEAD = 10,
  AUCTION_ID_LEAD = 10,
  HOT_CHANNEL_RATIO = 2,
  OOO_MULTIPLIER = 953,
  EXTRA_POOL = 8192
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

static char g_pool[EXTRA_POOL];
static pthread_once_t g_pool_once = PTHREAD_ONCE_INIT;

static void pool_init(void) {
  rng r = rng_for(0, 0x6e65786d61726bull, 0);
  for (size_t i = 0; i < EXTRA_POOL; i++) g_pool[i] = (char)('a' + rng_below(&r, 26));
}

/* The reference's nextString: 3..max-1 letters, about one in 13 a space,
 * trimmed.  Writes a NUL-terminated string of at most max - 1 chars. */
static size_t next_string(rng *r, char *out, size_t max, char space) {
  size_t len = 3 + (size_t)rng_below(r, max - 3), n = 0;
  for (size_t i = 0; i < len; i++) {
    uint64_t x = rng_next(r);
    char c = (x & 0xffffffffu) % 13 == 0 ? space : (char)('a' + (x >> 32) % 26);
    if (c == ' ' && n == 0) continue; /* leading space: trimmed */
    out[n++] = c;
  }
  while (n && out[n - 1] == ' ') n--;
  out[n] = 0;
  return n;
}

/* Length of the padding that makes a record of `fixed` bytes average
 * `avg` bytes: uniform in [gap - d, gap + d), d = round(gap / 5). */
static uint32_t extra_len(rng *r, uint32_t fixed, uint32_t avg) {
  if (fixed >= avg) return 0;
  uint32_t gap = avg - fixed, d = (gap + 2) / 5;
  return gap - d + (d ? (uint32_t)rng_below(r, 2 * (uint64_t)d) : 0);
}

static void put_extra(rng *r, char *dst, uint32_t len) {
  uint32_t off = (uint32_t)rng_below(r, EXTRA_POOL);
  while (len) {
    uint32_t k = EXTRA_POOL - off < len ? EXTRA_POOL - off : len;
    memcpy(dst, g_pool + off, k);
    dst += k;
    len -= k;
    off = 0;
  }
}

static int copy_str(char *buf, size_t cap, const char *s) {
  size_t n = strlen(s);
  if (cap) {
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(buf, s, k);
    buf[k] = 0;
  }
  return (int)n;
}

int sl_nexmark_channel(unsigned channel, char *buf, size_t cap) {
  if (channel >= SL_NEXMARK_CHANNELS) {
    if (channel - SL_NEXMARK_CHANNELS >= NELEM(HOT_CHANNELS)) return copy_str(buf, cap, "");
    return copy_str(buf, cap, HOT_CHANNELS[channel - SL_NEXMARK_CHANNELS]);
  }
  char tmp[32];
  snprintf(tmp, sizeof tmp, "channel-%u", channel);
  return copy_str(buf, cap, tmp);
}

/* The reference's URLs: three short path parts drawn from a generator seeded
 * by the channel (hot channels: by their index 0..3); 9 in 10 non-hot
 * channels add "&channel_id=<|bit-reversed channel|>". */
int sl_nexmark_url(unsigned channel, char *buf, size_t cap) {
  int hot = channel >= SL_NEXMARK_CHANNELS;
  unsigned k = hot ? channel - SL_NEXMARK_CHANNELS : channel;
  if (hot && k >= NELEM(HOT_CHANNELS)) return copy_str(buf, cap, "");
  rng r = rng_for(0, 0x75726cull, k);
  char part[3][8], tmp[160];
  for (int i = 0; i < 3; i++) next_string(&r, part[i], 5, '_');
  int n = snprintf(tmp, sizeof tmp, "https://www.nexmark.com/%s/%s/%s/item.htm?query=1", part[0],
                   part[1], part[2]);
  if (!hot && rng_below(&r, 10) > 0) {
    uint32_t x = k, rev = 0;
    for (int i = 0; i < 32; i++, x >>= 1) rev = (rev << 1) | (x & 1);
    int64_t id = (int32_t)rev;
    snprintf(tmp + n, sizeof tmp - (size_t)n, "&channel_id=%lld", (long long)(id < 0 ? -id : id));
  }
  return copy_str(buf, cap, tmp);
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
                             .in_flight_auctions = 100};
}

int sl_nexmark_config_check(const sl_nexmark_config *c, char *err, size_t errcap) {
  const uint32_t max_size = SL_NEXMARK_MAX_EVENT * 3 / 4;
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
  if (c->avg_person_size > max_size || c->avg_auction_size > max_size ||
      c->avg_bid_size > max_size)
    BAD("average event sizes must be at most %u bytes", max_size);
  if (c->hot_auction_ratio == 0 || c->hot_bidder_ratio == 0 || c->hot_seller_ratio == 0)
    BAD("hot ratios must be >= 1 (1 = no hot ids)");
  if (c->active_people == 0 || c->in_flight_auctions == 0)
    BAD("active_people and in_flight_auctions must be >= 1");
  if (c->base_time_ms < 0 || c->base_time_ms > (INT64_C(1) << 52))
    BAD("base_time_ms must be 0 .. 2^52, got %lld", (long long)c->base_time_ms);
#undef BAD
  if (errcap) err[0] = 0;
  return 0;
}

/* ---- events ------------------------------------------------------------------------ */

static inline int64_t ts_of(const sl_nexmark_config *c, uint64_t e) {
  return c->base_time_ms + (int64_t)((__uint128_t)e * 1000u / c->first_event_rate);
}

static inline uint64_t adjusted(const sl_nexmark_config *c, uint64_t n) {
  uint64_t g = c->out_of_order_group;
  return g == 1 ? n : n / g * g + (uint64_t)(((__uint128_t)n * OOO_MULTIPLIER) % g);
}

static inline int64_t last_person(uint64_t e) { return (int64_t)(e / PROPORTION); }

static inline int64_t last_auction(uint64_t e) {
  int64_t epoch = (int64_t)(e / PROPORTION), off = (int64_t)(e % PROPORTION);
  if (off < 1) epoch--, off = 2;
  else if (off >= 4) off = 2;
  else off -= 1;
  return epoch * 3 + off;
}

static inline int64_t recent_person(const sl_nexmark_config *c, rng *r, uint64_t e) {
  int64_t people = last_person(e) + 1;
  int64_t active = people < (int64_t)c->active_people ? people : (int64_t)c->active_people;
  return people - active + (int64_t)rng_below(r, (uint64_t)(active + PERSON_ID_LEAD));
}

static inline int64_t recent_auction(const sl_nexmark_config *c, rng *r, uint64_t e) {
  int64_t max = last_auction(e), min = max - (int64_t)c->in_flight_auctions;
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
static uint32_t make_event(const sl_nexmark_config *c, uint64_t n, uint8_t *buf, int64_t *ts) {
  uint64_t e = adjusted(c, n);
  int64_t t = ts_of(c, e);
  rng r = rng_for(c->seed, 0, e);
  uint64_t rem = e % PROPORTION;
  *ts = t;
  if (rem == 0) {
    sl_nexmark_person p;
    memset(&p, 0, sizeof p);
    p.h.type = SL_NEXMARK_PERSON;
    p.id = last_person(e) + FIRST_PERSON_ID;
    p.date_time = t;
    snprintf(p.name, sizeof p.name, "%s %s", FIRST_NAMES[rng_below(&r, NELEM(FIRST_NAMES))],
             LAST_NAMES[rng_below(&r, NELEM(LAST_NAMES))]);
    size_t k = next_string(&r, p.email, 7, ' ');
    p.email[k++] = '@';
    k += next_string(&r, p.email + k, 5, ' ');
    memcpy(p.email + k, ".com", 5);
    for (int i = 0; i < 4; i++) {
      put4(p.credit_card + 5 * i, rng_below(&r, 10000));
      if (i < 3) p.credit_card[5 * i + 4] = ' ';
    }
    strcpy(p.city, CITIES[rng_below(&r, NELEM(CITIES))]);
    strcpy(p.state, STATES[rng_below(&r, NELEM(STATES))]);
    p.h.extra_len = (uint16_t)extra_len(&r, sizeof p, c->avg_person_size);
    memcpy(buf, &p, sizeof p);
    put_extra(&r, (char *)buf + sizeof p, p.h.extra_len);
    return (uint32_t)sizeof p + p.h.extra_len;
  }
  if (rem < 4) {
    sl_nexmark_auction a;
    memset(&a, 0, sizeof a);
    a.h.type = SL_NEXMARK_AUCTION;
    a.id = last_auction(e) + FIRST_AUCTION_ID;
    next_string(&r, a.item_name, 20, ' ');
    next_string(&r, a.description, 100, ' ');
    a.initial_bid = price(&r);
    a.reserve = a.initial_bid + price(&r);
    a.date_time = t;
    int64_t horizon = ts_of(c, n + (uint64_t)c->in_flight_auctions * PROPORTION / 3) - t;
    a.expires = t + 1 + (int64_t)rng_below(&r, horizon > 0 ? 2 * (uint64_t)horizon : 1);
    if (rng_below(&r, c->hot_seller_ratio) > 0)
      a.seller = last_person(e) / HOT_GROUP * HOT_GROUP;
    else
      a.seller = recent_person(c, &r, e);
    a.seller += FIRST_PERSON_ID;
    a.category = FIRST_CATEGORY_ID + (int64_t)rng_below(&r, NUM_CATEGORIES);
    a.h.extra_len = (uint16_t)extra_len(&r, sizeof a, c->avg_auction_size);
    memcpy(buf, &a, sizeof a);
    put_extra(&r, (char *)buf + sizeof a, a.h.extra_len);
    return (uint32_t)sizeof a + a.h.extra_len;
  }
  sl_nexmark_bid b;
  memset(&b, 0, sizeof b);
  b.h.type = SL_NEXMARK_BID;
  if (rng_below(&r, c->hot_auction_ratio) > 0)
    b.auction = last_auction(e) / HOT_GROUP * HOT_GROUP;
  else
    b.auction = recent_auction(c, &r, e);
  b.auction += FIRST_AUCTION_ID;
  if (rng_below(&r, c->hot_bidder_ratio) > 0)
    b.bidder = last_person(e) / HOT_GROUP * HOT_GROUP + 1;
  else
    b.bidder = recent_person(c, &r, e);
  b.bidder += FIRST_PERSON_ID;
  b.price = price(&r);
  b.date_time = t;
  if (rng_below(&r, HOT_CHANNEL_RATIO) > 0)
    b.h.channel = (uint16_t)(SL_NEXMARK_CHANNELS + rng_below(&r, NELEM(HOT_CHANNELS)));
  else
    b.h.channel = (uint16_t)rng_below(&r, SL_NEXMARK_CHANNELS);
  b.h.extra_len = (uint16_t)extra_len(&r, sizeof b, c->avg_bid_size);
  memcpy(buf, &b, sizeof b);
  put_extra(&r, (char *)buf + sizeof b, b.h.extra_len);
  return (uint32_t)sizeof b + b.h.extra_len;
}

int sl_nexmark_generate(const sl_nexmark_config *cfg, uint64_t n, void *buf, size_t cap,
                        int64_t *ts) {
  char err[8];
  if (!buf || !ts || cap < SL_NEXMARK_MAX_EVENT || sl_nexmark_config_check(cfg, err, sizeof err))
    return -SL_EINVAL;
  if (cfg->events && n >= cfg->events) return -SL_EINVAL;
  pthread_once(&g_pool_once, pool_init);
  return (int)make_event(cfg, n, buf, ts);
}

/* ---- the source ------------------------------------------------------------------------ */

typedef struct nx_reader {
  const sl_nexmark_config *cfg;
  uint64_t first, next, step, end; /* positions next, next + step, ... < end */
  sl__gen_done done;               /* after a restore */
  uint8_t buf[SL_NEXMARK_MAX_EVENT];
} nx_reader;

static int nx_open(void *ud, sl_ctx *ctx, void **reader) {
  nx_reader *r = sl__calloc_private(sizeof *r);
  if (!r) return -SL_ENOMEM;
  r->cfg = ud;
  r->first = r->next = (uint64_t)sl_ctx_subtask(ctx);
  r->step = (uint64_t)sl_ctx_parallelism(ctx);
  r->end = r->cfg->events ? r->cfg->events : UINT64_MAX;
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
    uint32_t len = make_event(r->cfg, r->next, r->buf, &ts);
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
  pthread_once(&g_pool_once, pool_init);
  sl_nexmark_config *c = sl__memdup(cfg, sizeof *cfg);
  if (!c) return NULL;
  return sl_source_new(&nexmark_ops, c, 0);
}

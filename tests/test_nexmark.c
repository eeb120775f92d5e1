/*
 * test_nexmark.c -- the Nexmark generator (include/sluice_nexmark.h) and
 * the queries of bench/nexmark/.
 *
 * Generator: determinism (same seed, same bytes; another seed, other
 * bytes), the 1 : 3 : 46 proportions by event number, field ranges and
 * record sizes, out-of-order groups as permutations, the source's stream
 * equal to sl_nexmark_generate() at P=1 and as a multiset at P=2, bad
 * configurations, and its checkpoint position: a job killed mid-run and
 * restored at another parallelism sees every event exactly once.
 *
 * Queries: each one runs on a small generated stream and its results are
 * compared exactly (as sorted text lines) with a plain-C reference
 * implementation below that loops over the events without the engine;
 * expected values come only from those loops.  Every query whose result
 * does not depend on processing time runs at P=1 and P=2.  q8 also runs
 * over 40 windows with repeat sellers, and its state is measured: the
 * library's peak heap (counted through sl_set_allocator) may grow by at
 * most 512 bytes per distinct (id, window) key the input adds.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nexmark.h"
#include "test.h"
#include "test_util.h"

static uint64_t g_events = 5000;
static int g_small;
#define SMALL_OR(big, small) (g_small ? (small) : (big))

static sl_nexmark_config small_cfg(uint64_t events) {
  sl_nexmark_config c;
  sl_nexmark_config_default(&c);
  c.events = events;
  c.first_event_rate = 100; /* 100 events per second of event time: 10 s = 1000 events */
  c.seed = 7;
  return c;
}

/* ---- the events, decoded --------------------------------------------------- */

typedef struct ev {
  int type;
  int64_t ts;
  uint32_t len;
  sl_nexmark_person p;
  sl_nexmark_auction a;
  sl_nexmark_bid b;
  uint8_t bytes[SL_NEXMARK_MAX_EVENT];
} ev;

static ev *gen_all(const sl_nexmark_config *c) {
  ev *e = calloc(c->events, sizeof *e);
  for (uint64_t n = 0; n < c->events; n++) {
    int len = sl_nexmark_generate(c, n, e[n].bytes, sizeof e[n].bytes, &e[n].ts);
    CHECK(len > 0);
    e[n].len = (uint32_t)len;
    sl_record r = {e[n].ts, NULL, 0, e[n].bytes, e[n].len};
    e[n].type = sl_nexmark_type_of(&r);
    if (e[n].type == SL_NEXMARK_PERSON) sl_nexmark_read(&r, &e[n].p, sizeof e[n].p);
    if (e[n].type == SL_NEXMARK_AUCTION) sl_nexmark_read(&r, &e[n].a, sizeof e[n].a);
    if (e[n].type == SL_NEXMARK_BID) sl_nexmark_read(&r, &e[n].b, sizeof e[n].b);
  }
  return e;
}

/* ---- generator ---------------------------------------------------------------- */

static void test_determinism(void) {
  sl_nexmark_config c = small_cfg(3000);
  ev *a = gen_all(&c), *b = gen_all(&c);
  c.seed = 8;
  ev *d = gen_all(&c);
  size_t differ = 0;
  for (uint64_t n = 0; n < c.events; n++) {
    CHECK(a[n].len == b[n].len && !memcmp(a[n].bytes, b[n].bytes, a[n].len));
    CHECK_EQ_INT(a[n].ts, d[n].ts); /* time and kind depend on n only */
    CHECK_EQ_INT(a[n].type, d[n].type);
    differ += a[n].len != d[n].len || memcmp(a[n].bytes, d[n].bytes, a[n].len) != 0;
  }
  CHECK(differ > c.events * 9 / 10);
  free(a);
  free(b);
  free(d);
}

static int in_set(const char *s, const char *const *set, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(s, set[i])) return 1;
  return 0;
}

static void test_proportions_and_fields(void) {
  sl_nexmark_config c = small_cfg(50000);
  ev *e = gen_all(&c);
  static const char *const states[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
  uint64_t count[3] = {0}, bytes[3] = {0}, hot_auction = 0, hot_channel = 0;
  int64_t next_person = 1000, next_auction = 1000, max_price = 0, min_price = INT64_MAX;
  int cats[5] = {0};
  for (uint64_t n = 0; n < c.events; n++) {
    int want = n % 50 == 0 ? SL_NEXMARK_PERSON : n % 50 < 4 ? SL_NEXMARK_AUCTION : SL_NEXMARK_BID;
    CHECK_EQ_INT(e[n].type, want);
    CHECK_EQ_INT(e[n].ts, c.base_time_ms + (int64_t)(n * 1000 / c.first_event_rate));
    count[e[n].type]++;
    bytes[e[n].type] += e[n].len;
    if (e[n].type == SL_NEXMARK_PERSON) {
      const sl_nexmark_person *p = &e[n].p;
      CHECK_EQ_INT(p->id, next_person++);
      CHECK(in_set(p->state, states, 6));
      CHECK(strlen(p->credit_card) == 19 && strchr(p->email, '@') && strstr(p->email, ".com"));
      CHECK(strchr(p->name, ' ') != NULL && p->city[0]);
      CHECK_EQ_INT(e[n].len, sizeof *p + p->h.extra_len);
    } else if (e[n].type == SL_NEXMARK_AUCTION) {
      const sl_nexmark_auction *a = &e[n].a;
      CHECK_EQ_INT(a->id, next_auction++);
      CHECK(a->category >= 10 && a->category <= 14);
      if (a->category >= 10 && a->category <= 14) cats[a->category - 10]++;
      CHECK(a->expires > a->date_time && a->reserve > a->initial_bid);
      CHECK(a->seller >= 1000 && a->seller <= 1000 + (int64_t)(n / 50) + 10);
    } else {
      const sl_nexmark_bid *b = &e[n].b;
      CHECK(b->price >= 100 && b->price <= 100000000);
      if (b->price > max_price) max_price = b->price;
      if (b->price < min_price) min_price = b->price;
      CHECK(b->auction >= 1000 && b->auction < next_auction + 10);
      hot_auction += (b->auction - 1000) % 100 == 0;
      hot_channel += b->h.channel >= SL_NEXMARK_CHANNELS;
      CHECK(b->h.channel < SL_NEXMARK_CHANNELS + SL_NEXMARK_HOT_CHANNELS);
    }
  }
  /* exactly 1 : 3 : 46 */
  CHECK_EQ_INT(count[0], 1000);
  CHECK_EQ_INT(count[1], 3000);
  CHECK_EQ_INT(count[2], 46000);
  /* average record sizes near the reference's 200 / 500 / 100 bytes */
  double avg[3] = {(double)bytes[0] / count[0], (double)bytes[1] / count[1],
                   (double)bytes[2] / count[2]};
  CHECK(avg[0] > 195 && avg[0] < 205);
  CHECK(avg[1] > 490 && avg[1] < 510);
  CHECK(avg[2] > 97 && avg[2] < 103);
  for (int i = 0; i < 5; i++) CHECK(cats[i] > 450 && cats[i] < 750); /* 600 each */
  /* half the bids to hot auctions (plus the few random picks of one) */
  CHECK(hot_auction > 46000 * 0.48 && hot_auction < 46000 * 0.53);
  CHECK(hot_channel > 46000 * 0.47 && hot_channel < 46000 * 0.53);
  /* log-uniform prices from $1 to $1M */
  CHECK(min_price < 200 && max_price > 10000000);
  char buf[128];
  CHECK_EQ_INT(sl_nexmark_channel(10001, buf, sizeof buf), 8);
  CHECK_EQ_STR(buf, "Facebook");
  sl_nexmark_channel(42, buf, sizeof buf);
  CHECK_EQ_STR(buf, "channel-42");
  sl_nexmark_url(42, buf, sizeof buf);
  CHECK(!strncmp(buf, "https://www.nexmark.com/", 24));
  free(e);
}

static void test_out_of_order_groups(void) {
  sl_nexmark_config c = small_cfg(1000), o = c;
  o.out_of_order_group = 10;
  ev *a = gen_all(&c), *b = gen_all(&o);
  int moved = 0;
  for (uint64_t g = 0; g < 1000; g += 10) {
    int seen[10] = {0};
    /* position g+i holds one event of the group (an auction's expiry
     * horizon follows the position, as in the reference: compare ids) */
    for (int i = 0; i < 10; i++)
      for (int j = 0; j < 10; j++) {
        const ev *x = &b[g + i], *y = &a[g + j];
        int same = x->type == y->type && x->ts == y->ts &&
                   (x->type == SL_NEXMARK_AUCTION
                        ? x->a.id == y->a.id
                        : x->len == y->len && !memcmp(x->bytes, y->bytes, x->len));
        if (same) seen[j]++, moved += i != j;
      }
    for (int j = 0; j < 10; j++) CHECK_EQ_INT(seen[j], 1);
  }
  CHECK(moved > 500);
  free(a);
  free(b);
}

static void test_bad_config(void) {
  sl_nexmark_config c;
  char err[256];
  sl_nexmark_config_default(&c);
  CHECK_EQ_INT(sl_nexmark_config_check(&c, err, sizeof err), 0);
  c.first_event_rate = 0;
  CHECK_EQ_INT(sl_nexmark_config_check(&c, err, sizeof err), -SL_ECONFIG);
  CHECK_CONTAINS(err, "first_event_rate");
  CHECK(sl_nexmark_source(&c) == NULL);
  sl_nexmark_config_default(&c);
  c.out_of_order_group = 953 * 2;
  CHECK_EQ_INT(sl_nexmark_config_check(&c, err, sizeof err), -SL_ECONFIG);
  CHECK_CONTAINS(err, "out_of_order_group");
  sl_nexmark_config_default(&c);
  c.avg_bid_size = 100000;
  CHECK_EQ_INT(sl_nexmark_config_check(&c, err, sizeof err), -SL_ECONFIG);
  CHECK_CONTAINS(err, "sizes");
  sl_nexmark_config_default(&c);
  c.hot_bidder_ratio = 0;
  CHECK_EQ_INT(sl_nexmark_config_check(&c, err, sizeof err), -SL_ECONFIG);
  /* a graph on a failed constructor fails with a message */
  sl_env *env = env_p(1);
  c.hot_bidder_ratio = 0;
  CHECK(sl_sink_to(sl_source_stream(env, sl_nexmark_source(&c)), sl_discard_sink()) < 0 ||
        sl_execute(env, "bad") < 0);
  sl_env_free(env);
}

/* The source's records, in collect order. */
static sl_collect *run_source(const sl_nexmark_config *c, int P) {
  sl_env *env = env_p(P);
  sl_collect *col = sl_collect_new();
  CHECK_EQ_INT(sl_sink_to(sl_source_stream(env, sl_nexmark_source(c)), sl_collect_sink(col)), 0);
  CHECK_EQ_INT(sl_execute(env, "nexmark-source"), 0);
  sl_env_free(env);
  return col;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void test_source_matches_generator(void) {
  sl_nexmark_config c = small_cfg(4000);
  c.out_of_order_group = 7;
  ev *e = gen_all(&c);
  sl_collect *one = run_source(&c, 1), *two = run_source(&c, 2);
  CHECK_EQ_INT(sl_collect_count(one), c.events);
  CHECK_EQ_INT(sl_collect_count(two), c.events);
  uint64_t *h1 = calloc(c.events, 8), *h2 = calloc(c.events, 8), *h0 = calloc(c.events, 8);
  for (size_t i = 0; i < c.events && i < sl_collect_count(one); i++) {
    sl_record r;
    sl_collect_get(one, i, &r);
    CHECK(r.value_len == e[i].len && !memcmp(r.value, e[i].bytes, e[i].len)); /* in order */
    CHECK_EQ_INT(r.ts, e[i].ts);
    h0[i] = nx_hash(e[i].bytes, e[i].len);
    h1[i] = nx_hash(r.value, r.value_len);
  }
  for (size_t i = 0; i < c.events && i < sl_collect_count(two); i++) {
    sl_record r;
    sl_collect_get(two, i, &r);
    h2[i] = nx_hash(r.value, r.value_len);
  }
  qsort(h0, c.events, 8, cmp_u64);
  qsort(h2, c.events, 8, cmp_u64);
  CHECK(!memcmp(h0, h2, c.events * 8)); /* P=2: the same events */
  free(h0);
  free(h1);
  free(h2);
  sl_collect_free(one);
  sl_collect_free(two);
  free(e);
}

/* ---- checkpoint position: kill, restore at another parallelism -------------- */

typedef struct acc {
  uint64_t count, sum;
} acc;

/* each event -> (1, hash) keyed by its kind; slow in run 1 so that it is
 * killed mid-run */
static int to_acc(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  static _Thread_local unsigned n;
  if (ud && ++n % 20 == 0) sleep_ms(1);
  uint8_t *b = sl_ctx_scratch(ctx, sizeof(acc) + 1);
  acc a = {1, nx_hash(in->value, in->value_len)};
  memcpy(b, &a, sizeof a);
  b[sizeof a] = (uint8_t)sl_nexmark_type_of(in);
  out->value = b;
  out->value_len = sizeof a;
  out->key = b + sizeof a;
  out->key_len = 1;
  return 0;
}

static int add_acc(void *ud, sl_ctx *ctx, const sl_record *x, const sl_record *y,
                   sl_record *out) {
  acc a, b;
  memcpy(&a, x->value, sizeof a);
  memcpy(&b, y->value, sizeof b);
  acc *s = sl_ctx_scratch(ctx, sizeof *s);
  s->count = a.count + b.count;
  s->sum = a.sum + b.sum;
  out->value = s;
  return 0;
}

static sl_env *ckpt_job(int P, const char *dir, int slow, const char *restore, sl_collect *c,
                        const sl_nexmark_config *cfg) {
  sl_env *env = env_p(P);
  sl_env_set(env, "execution.checkpointing.interval", "50ms");
  sl_env_set(env, "state.checkpoints.dir", dir);
  sl_env_set(env, "state.checkpoints.num-retained", "2");
  if (restore) sl_env_set(env, "execution.checkpointing.restore", restore);
  sl_stream *s = sl_source_stream(env, sl_nexmark_source(cfg));
  s = sl_map(s, to_acc, slow ? (void *)1 : NULL);
  s = sl_reduce(sl_key_by(s, NULL, NULL), add_acc, NULL);
  sl_sink_to(s, c ? sl_collect_sink(c) : sl_discard_sink());
  return env;
}

static int has_checkpoint(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  while (d && (e = readdir(d))) {
    char m[2048];
    snprintf(m, sizeof m, "%s/%s/_metadata", dir, e->d_name);
    n += !strncmp(e->d_name, "chk-", 4) && access(m, F_OK) == 0;
  }
  if (d) closedir(d);
  return n;
}

static void test_checkpoint_restore(void) {
  sl_nexmark_config cfg = small_cfg(20000);
  char dir[1024];
  tpath(dir, sizeof dir, "ckpt");
  rm_rf(dir);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    sl_env *env = ckpt_job(2, dir, 1, NULL, NULL, &cfg);
    _exit(sl_execute(env, "run1") ? 1 : 0);
  }
  for (int i = 0; i < 3000 && has_checkpoint(dir) < 2; i++) sleep_ms(10);
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK(has_checkpoint(dir) >= 1);

  sl_collect *c = sl_collect_new();
  sl_env *env = ckpt_job(3, dir, 0, "latest", c, &cfg);
  int rc = sl_execute(env, "run2");
  if (rc) fprintf(stderr, "  %s\n", sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
  acc want[3] = {{0, 0}}, got[3] = {{0, 0}};
  uint8_t buf[SL_NEXMARK_MAX_EVENT];
  for (uint64_t n = 0; n < cfg.events; n++) {
    int64_t ts;
    int len = sl_nexmark_generate(&cfg, n, buf, sizeof buf, &ts);
    sl_record r = {ts, NULL, 0, buf, (uint32_t)len};
    int t = sl_nexmark_type_of(&r);
    want[t].count++;
    want[t].sum += nx_hash(buf, (uint32_t)len);
  }
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    acc a;
    memcpy(&a, r.value, sizeof a);
    int t = *(const uint8_t *)r.key;
    if (t < 3 && a.count > got[t].count) got[t] = a;
  }
  CHECK(sl_collect_count(c) < cfg.events); /* part came from the checkpoint */
  for (int t = 0; t < 3; t++) {
    CHECK_EQ_INT(got[t].count, want[t].count); /* every event exactly once */
    CHECK(got[t].sum == want[t].sum);
  }
  sl_collect_free(c);
  sl_env_free(env);
}

/* ---- queries: engine vs reference ----------------------------------------------- */

typedef void (*ref_fn)(const ev *e, uint64_t n, lines *out);
typedef void (*fmt_fn)(const sl_record *r, lines *out);

static void addf(lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(lines *l, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  lines_add(l, buf, (size_t)n);
}

static void bid_line(lines *l, const sl_nexmark_bid *b, const void *extra) {
  addf(l, "%lld,%lld,%lld,%lld,%u,%016llx", (long long)b->auction, (long long)b->bidder,
       (long long)b->price, (long long)b->date_time, b->h.channel,
       (unsigned long long)nx_hash(extra, b->h.extra_len));
}

static void fmt_bid(const sl_record *r, lines *out) {
  sl_nexmark_bid b;
  const char *extra = sl_nexmark_read(r, &b, sizeof b);
  CHECK(extra && b.h.type == SL_NEXMARK_BID && r->value_len == sizeof b + b.h.extra_len);
  if (extra) bid_line(out, &b, extra);
}

static void ref_q0(const ev *e, uint64_t n, lines *out) {
  for (uint64_t i = 0; i < n; i++)
    if (e[i].type == SL_NEXMARK_BID) bid_line(out, &e[i].b, e[i].bytes + sizeof e[i].b);
}

static void ref_q1(const ev *e, uint64_t n, lines *out) {
  for (uint64_t i = 0; i < n; i++)
    if (e[i].type == SL_NEXMARK_BID) {
      sl_nexmark_bid b = e[i].b;
      b.price = (int64_t)((double)b.price * 908 / 1000); /* exact below 2^53 */
      bid_line(out, &b, e[i].bytes + sizeof b);
    }
}

static void fmt_q2(const sl_record *r, lines *out) {
  nx_q2 q;
  CHECK_EQ_INT(r->value_len, sizeof q);
  memcpy(&q, r->value, sizeof q);
  addf(out, "%lld,%lld", (long long)q.auction, (long long)q.price);
}

static void ref_q2(const ev *e, uint64_t n, lines *out) {
  for (uint64_t i = 0; i < n; i++)
    if (e[i].type == SL_NEXMARK_BID && e[i].b.auction % 123 == 0)
      addf(out, "%lld,%lld", (long long)e[i].b.auction, (long long)e[i].b.price);
}

/* q3: category-10 auctions of sellers from OR, ID, CA */
static void fmt_q3(const sl_record *r, lines *out) {
  nx_q3 q;
  CHECK_EQ_INT(r->value_len, sizeof q);
  memcpy(&q, r->value, sizeof q);
  addf(out, "%s,%s,%s,%lld", q.name, q.city, q.state, (long long)q.auction);
}

static void ref_q3(const ev *e, uint64_t n, lines *out) {
  for (uint64_t i = 0; i < n; i++) {
    if (e[i].type != SL_NEXMARK_AUCTION || e[i].a.category != 10) continue;
    for (uint64_t j = 0; j < n; j++) {
      const sl_nexmark_person *p = &e[j].p;
      if (e[j].type != SL_NEXMARK_PERSON || p->id != e[i].a.seller) continue;
      if (strcmp(p->state, "OR") && strcmp(p->state, "ID") && strcmp(p->state, "CA")) continue;
      addf(out, "%s,%s,%s,%lld", p->name, p->city, p->state, (long long)e[i].a.id);
    }
  }
}

/* q9: per auction the best bid within [opening, expiry]: price desc, time
 * asc, bidder asc */
typedef struct winner {
  const sl_nexmark_auction *a;
  const sl_nexmark_bid *b;
} winner;

static size_t winners(const ev *e, uint64_t n, winner *w) {
  size_t k = 0;
  for (uint64_t i = 0; i < n; i++) {
    if (e[i].type != SL_NEXMARK_AUCTION) continue;
    const sl_nexmark_auction *a = &e[i].a;
    const sl_nexmark_bid *best = NULL;
    for (uint64_t j = 0; j < n; j++) {
      const sl_nexmark_bid *b = &e[j].b;
      if (e[j].type != SL_NEXMARK_BID || b->auction != a->id) continue;
      if (b->date_time < a->date_time || b->date_time > a->expires) continue;
      if (!best || b->price > best->price ||
          (b->price == best->price && (b->date_time < best->date_time ||
                                       (b->date_time == best->date_time &&
                                        b->bidder < best->bidder))))
        best = b;
    }
    if (best) w[k++] = (winner){a, best};
  }
  return k;
}

static void fmt_q9(const sl_record *r, lines *out) {
  nx_q9 q;
  CHECK_EQ_INT(r->value_len, sizeof q);
  memcpy(&q, r->value, sizeof q);
  addf(out, "%lld,%lld,%lld,%lld,%lld,%lld,%lld", (long long)q.auction, (long long)q.category,
       (long long)q.seller, (long long)q.expires, (long long)q.bidder, (long long)q.price,
       (long long)q.bid_time);
}

static void ref_q9(const ev *e, uint64_t n, lines *out) {
  winner *w = calloc(n, sizeof *w);
  size_t k = winners(e, n, w);
  for (size_t i = 0; i < k; i++)
    addf(out, "%lld,%lld,%lld,%lld,%lld,%lld,%lld", (long long)w[i].a->id,
         (long long)w[i].a->category, (long long)w[i].a->seller, (long long)w[i].a->expires,
         (long long)w[i].b->bidder, (long long)w[i].b->price, (long long)w[i].b->date_time);
  free(w);
}

/* q4: per category and distinct closing time T, the average winning price
 * of the auctions closed at or before T */
static void fmt_q4(const sl_record *r, lines *out) {
  nx_q4 q;
  CHECK_EQ_INT(r->value_len, sizeof q);
  memcpy(&q, r->value, sizeof q);
  addf(out, "%lld,%lld,%lld,%lld", (long long)q.category, (long long)q.closed_at,
       (long long)q.avg, (long long)q.auctions);
}

static void ref_q4(const ev *e, uint64_t n, lines *out) {
  winner *w = calloc(n, sizeof *w);
  size_t k = winners(e, n, w);
  for (size_t i = 0; i < k; i++) {
    int first = 1; /* one line per (category, T): at the first winner with it */
    for (size_t j = 0; j < i; j++)
      first &= !(w[j].a->category == w[i].a->category && w[j].a->expires == w[i].a->expires);
    if (!first) continue;
    int64_t sum = 0, cnt = 0;
    for (size_t j = 0; j < k; j++)
      if (w[j].a->category == w[i].a->category && w[j].a->expires <= w[i].a->expires)
        sum += w[j].b->price, cnt++;
    addf(out, "%lld,%lld,%lld,%lld", (long long)w[i].a->category, (long long)w[i].a->expires,
         (long long)(sum / cnt), (long long)cnt);
  }
  free(w);
}

/* q6: per seller, in closing order (expiry, then auction id), the average
 * winning price of each closed auction and the seller's 10 before it */
static void fmt_q6(const sl_record *r, lines *out) {
  nx_q6 q;
  CHECK_EQ_INT(r->value_len, sizeof q);
  memcpy(&q, r->value, sizeof q);
  addf(out, "%lld,%lld,%lld,%lld,%lld", (long long)q.seller, (long long)q.auction,
       (long long)q.closed_at, (long long)q.avg, (long long)q.auctions);
}

static void ref_q6(const ev *e, uint64_t n, lines *out) {
  winner *w = calloc(n, sizeof *w);
  size_t k = winners(e, n, w);
  for (size_t i = 0; i < k; i++) {
    const sl_nexmark_auction *a = w[i].a;
    /* the seller's closings up to a whose successors up to a are < 11:
     * the newest 11 in (expiry, id) order */
    int64_t sum = 0, rows = 0;
    for (size_t j = 0; j < k; j++) {
      const sl_nexmark_auction *b = w[j].a;
      if (b->seller != a->seller ||
          !(b->expires < a->expires || (b->expires == a->expires && b->id <= a->id)))
        continue;
      size_t later = 0; /* closings of the seller between b and a, a included */
      for (size_t q = 0; q < k; q++) {
        const sl_nexmark_auction *c = w[q].a;
        if (c->seller == a->seller &&
            (c->expires > b->expires || (c->expires == b->expires && c->id > b->id)) &&
            (c->expires < a->expires || (c->expires == a->expires && c->id <= a->id)))
          later++;
      }
      if (later < 11) sum += w[j].b->price, rows++;
    }
    addf(out, "%lld,%lld,%lld,%lld,%lld", (long long)a->seller, (long long)a->id,
         (long long)a->expires, (long long)(sum / rows), (long long)rows);
  }
  free(w);
}

/* q5: per 10 s window sliding by 2 s, the auctions with the most bids */
static void fmt_count(const sl_record *r, lines *out) {
  nx_count q;
  CHECK_EQ_INT(r->value_len, sizeof q);
  memcpy(&q, r->value, sizeof q);
  addf(out, "%lld,%lld,%lld,%lld", (long long)q.id, (long long)q.count, (long long)q.start,
       (long long)q.end);
}

static void ref_q5(const ev *e, uint64_t n, lines *out) {
  int64_t lo = e[0].ts - 10000, hi = e[n - 1].ts;
  for (int64_t s = lo - lo % 2000; s <= hi; s += 2000) {
    int64_t end = s + 10000, ids[4096], cnt[4096];
    size_t k = 0;
    for (uint64_t i = 0; i < n; i++) {
      if (e[i].type != SL_NEXMARK_BID || e[i].ts < s || e[i].ts >= end) continue;
      size_t j = 0;
      while (j < k && ids[j] != e[i].b.auction) j++;
      if (j == k) ids[k] = e[i].b.auction, cnt[k++] = 0;
      cnt[j]++;
    }
    int64_t max = 0;
    for (size_t j = 0; j < k; j++) max = cnt[j] > max ? cnt[j] : max;
    for (size_t j = 0; j < k; j++)
      if (cnt[j] == max) addf(out, "%lld,%lld,%lld,%lld", (long long)ids[j], (long long)max,
                              (long long)s, (long long)end);
  }
}

/* q7: per tumbling 10 s window, the bids at the window's highest price */
static void ref_q7(const ev *e, uint64_t n, lines *out) {
  for (int64_t s = e[0].ts - e[0].ts % 10000; s <= e[n - 1].ts; s += 10000) {
    int64_t max = -1;
    for (uint64_t i = 0; i < n; i++)
      if (e[i].type == SL_NEXMARK_BID && e[i].ts >= s && e[i].ts < s + 10000 &&
          e[i].b.price > max)
        max = e[i].b.price;
    for (uint64_t i = 0; i < n; i++)
      if (e[i].type == SL_NEXMARK_BID && e[i].ts >= s && e[i].ts < s + 10000 &&
          e[i].b.price == max)
        bid_line(out, &e[i].b, e[i].bytes + sizeof e[i].b);
  }
}

/* q8: persons with an auction of theirs in their registration's window */
static void fmt_q8(const sl_record *r, lines *out) {
  nx_q8 q;
  CHECK_EQ_INT(r->value_len, sizeof q);
  memcpy(&q, r->value, sizeof q);
  addf(out, "%lld,%s,%lld", (long long)q.id, q.name, (long long)q.start);
}

static void ref_q8(const ev *e, uint64_t n, lines *out) {
  for (uint64_t i = 0; i < n; i++) {
    if (e[i].type != SL_NEXMARK_PERSON) continue;
    int64_t start = e[i].ts - e[i].ts % 10000;
    for (uint64_t j = 0; j < n; j++)
      if (e[j].type == SL_NEXMARK_AUCTION && e[j].a.seller == e[i].p.id &&
          e[j].ts - e[j].ts % 10000 == start) {
        addf(out, "%lld,%s,%lld", (long long)e[i].p.id, e[i].p.name, (long long)start);
        break;
      }
  }
}

/* q11: per bidder, sessions of bids at most 10 s apart: [first, last + 10 s) */
static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static void ref_q11(const ev *e, uint64_t n, lines *out) {
  int64_t *ts = calloc(n, sizeof *ts);
  for (uint64_t i = 0; i < n; i++) {
    if (e[i].type != SL_NEXMARK_BID) continue;
    int64_t bidder = e[i].b.bidder;
    int seen = 0; /* each bidder once: at its first bid */
    for (uint64_t j = 0; j < i && !seen; j++)
      seen = e[j].type == SL_NEXMARK_BID && e[j].b.bidder == bidder;
    if (seen) continue;
    size_t k = 0;
    for (uint64_t j = 0; j < n; j++)
      if (e[j].type == SL_NEXMARK_BID && e[j].b.bidder == bidder) ts[k++] = e[j].ts;
    qsort(ts, k, sizeof *ts, cmp_i64);
    for (size_t a = 0; a < k;) {
      size_t b = a + 1;
      while (b < k && ts[b] <= ts[b - 1] + 10000) b++;
      addf(out, "%lld,%lld,%lld,%lld", (long long)bidder, (long long)(b - a), (long long)ts[a],
           (long long)(ts[b - 1] + 10000));
      a = b;
    }
  }
  free(ts);
}

typedef struct qcase {
  const char *name;
  ref_fn ref;
  fmt_fn fmt;
  uint64_t min_results; /* at 5000 events: the stream must exercise the query */
} qcase;

static void run_query(const nx_query *q, const sl_nexmark_config *cfg, int P, fmt_fn fmt,
                      lines *out) {
  sl_env *env = env_p(P);
  if (P == 1) sl_env_set(env, "pipeline.auto-watermark-interval", "0");
  sl_collect *c = sl_collect_new();
  CHECK_EQ_INT(sl_sink_to(q->build(nx_events(env, cfg, NULL)), sl_collect_sink(c)), 0);
  int rc = sl_execute(env, q->name);
  if (rc) fprintf(stderr, "  %s: %s\n", q->name, sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    fmt(&r, out);
  }
  sl_collect_free(c);
  sl_env_free(env);
}

static size_t check_query(const qcase *qc) {
  const nx_query *q = nx_query_find(qc->name);
  CHECK(q != NULL);
  if (!q) return 0;
  sl_nexmark_config cfg = small_cfg(g_events);
  ev *e = gen_all(&cfg);
  lines want = {0};
  qc->ref(e, cfg.events, &want);
  CHECK(want.n >= qc->min_results * g_events / 5000);
  for (int P = 1; P <= 2; P++) {
    lines got = {0};
    run_query(q, &cfg, P, qc->fmt, &got);
    int same = same_lines(&want, &got, 0);
    if (!same) fprintf(stderr, "  %s at P=%d differs from the reference\n", qc->name, P);
    CHECK(same);
    lines_free(&got);
  }
  size_t n = want.n;
  lines_free(&want);
  free(e);
  return n;
}

static const qcase CASES[] = {
    {"q0", ref_q0, fmt_bid, 4000},
    {"q1", ref_q1, fmt_bid, 4000},
    {"q2", ref_q2, fmt_q2, 6},
    {"q3", ref_q3, fmt_q3, 3},
    {"q4", ref_q4, fmt_q4, 100},
    {"q5", ref_q5, fmt_count, 20},
    {"q6", ref_q6, fmt_q6, 100},
    {"q7", ref_q7, fmt_bid, 4},
    {"q8", ref_q8, fmt_q8, 10},
    {"q9", ref_q9, fmt_q9, 100},
    {"q11", ref_q11, fmt_count, 40},
};

/* q8 over many windows in which people open several auctions each: the
 * join must emit each (person, window) once however many auctions match.
 * 40,000 events at 100 per second = 400 s of event time, 40 windows. */
static void test_q8_many_windows(void) {
  sl_nexmark_config cfg = small_cfg(SMALL_OR(40000, 10000));
  ev *e = gen_all(&cfg);
  lines want = {0};
  ref_q8(e, cfg.events, &want);
  /* the stream exercises it: results in most windows, and matched
   * (person, window) pairs with 2 or more auctions of that person */
  int64_t first = e[0].ts - e[0].ts % 10000, last = e[cfg.events - 1].ts;
  size_t windows = (size_t)((last - first) / 10000) + 1, with_results = 0, multi = 0;
  for (int64_t s = first; s <= last; s += 10000) {
    int any = 0;
    for (uint64_t i = 0; i < cfg.events; i++) {
      if (e[i].type != SL_NEXMARK_PERSON || e[i].ts - e[i].ts % 10000 != s) continue;
      size_t k = 0;
      for (uint64_t j = 0; j < cfg.events; j++)
        k += e[j].type == SL_NEXMARK_AUCTION && e[j].a.seller == e[i].p.id &&
             e[j].ts - e[j].ts % 10000 == s;
      any |= k > 0;
      multi += k > 1;
    }
    with_results += any;
  }
  fprintf(stderr, "  q8: %zu results, %zu of %zu windows with results, %zu with 2+ auctions\n",
          want.n, with_results, windows, multi);
  CHECK(windows >= 10);
  CHECK(with_results >= windows / 2);
  CHECK(multi >= 5);
  for (int P = 1; P <= 2; P++) {
    lines got = {0};
    run_query(nx_query_find("q8"), &cfg, P, fmt_q8, &got);
    CHECK(same_lines(&want, &got, 0));
    lines_free(&got);
  }
  lines_free(&want);
  free(e);
}

/* ---- q8's state: in proportion to the distinct (id, window) keys -------------
 *
 * The library's live heap is counted through sl_set_allocator (in a child
 * process, so no allocation made before or after crosses the hook).  Run q8
 * at P=1 on n and on 3n events of one window (the default 10 M events per
 * second: 3n events are 3n/10^4 ms), with the same graph; the peak grows by
 * what the extra events leave in state.  The reference (the SQL's GROUP BY
 * each side per (id, window)) needs one small record per distinct person
 * and per distinct seller; keeping the events themselves (persons ~200
 * bytes, auctions ~500 bytes, 3 auctions per person) costs several times
 * that.  Bound: 512 bytes of peak growth per added distinct key. */
static int cmp_pair(const void *a, const void *b) {
  const int64_t *x = a, *y = b;
  return x[0] != y[0] ? (x[0] > y[0]) - (x[0] < y[0]) : (x[1] > y[1]) - (x[1] < y[1]);
}

/* Distinct (person id, window) and (seller, window) keys of the first n events. */
static size_t q8_keys(const sl_nexmark_config *c, uint64_t n) {
  int64_t *k = calloc(2 * n, sizeof *k);
  size_t m = 0;
  uint8_t buf[SL_NEXMARK_MAX_EVENT];
  for (uint64_t i = 0; i < n; i++) {
    int64_t ts;
    int len = sl_nexmark_generate(c, i, buf, sizeof buf, &ts);
    sl_record r = {ts, NULL, 0, buf, (uint32_t)len};
    int64_t id;
    if (sl_nexmark_type_of(&r) == SL_NEXMARK_PERSON) {
      sl_nexmark_person p = {0};
      sl_nexmark_read(&r, &p, sizeof p);
      id = p.id;
    } else if (sl_nexmark_type_of(&r) == SL_NEXMARK_AUCTION) {
      sl_nexmark_auction a = {0};
      sl_nexmark_read(&r, &a, sizeof a);
      id = a.seller;
    } else {
      continue;
    }
    k[2 * m] = id;
    k[2 * m + 1] = ts - ts % 10000;
    m++;
  }
  qsort(k, m, 2 * sizeof *k, cmp_pair);
  size_t d = 0;
  for (size_t i = 0; i < m; i++) d += i == 0 || cmp_pair(&k[2 * i], &k[2 * (i - 1)]) != 0;
  free(k);
  return d;
}

static long long q8_peak_events(int64_t events) {
  sl_nexmark_config cfg;
  sl_nexmark_config_default(&cfg);
  cfg.events = (uint64_t)events;
  long long base = heap_mark();
  sl_env *env = env_p(1);
  sl_env_set(env, "pipeline.auto-watermark-interval", "0");
  nx_meter *m = nx_meter_new(NULL, 0);
  CHECK_EQ_INT(nx_meter_sink(nx_query_find("q8")->build(nx_events(env, &cfg, NULL)), m), 0);
  CHECK_EQ_INT(sl_execute(env, "q8"), 0);
  sl_env_free(env);
  nx_meter_free(m);
  return atomic_load(&g_peak) - base;
}

static void test_q8_state_per_key(void) {
  uint64_t n = SMALL_OR(100000, 30000);
  sl_nexmark_config cfg;
  sl_nexmark_config_default(&cfg);
  size_t k1 = q8_keys(&cfg, n), k3 = q8_keys(&cfg, 3 * n);
  long long p[2];
  CHECK_EQ_INT(heap_peaks(q8_peak_events, (int64_t)n, (int64_t)(3 * n), p), 0);
  double per_key = (double)(p[1] - p[0]) / (double)(k3 - k1);
  fprintf(stderr, "  q8 peak heap: %lld bytes at %llu events (%zu keys), %lld at %llu (%zu keys):"
                  " %.0f bytes per added key\n",
          p[0], (unsigned long long)n, k1, p[1], (unsigned long long)(3 * n), k3, per_key);
  CHECK(k3 > k1 * 2);
  CHECK(per_key <= 512);
}

/* q12: processing-time windows -- which window a bid lands in depends on
 * the clock, so compare the per-bidder totals over all windows. */
static void test_q12_totals(void) {
  sl_nexmark_config cfg = small_cfg(g_events);
  ev *e = gen_all(&cfg);
  lines want = {0}, got = {0}, raw = {0};
  for (uint64_t i = 0; i < cfg.events; i++) {
    if (e[i].type != SL_NEXMARK_BID) continue;
    int first = 1;
    for (uint64_t j = 0; j < i && first; j++)
      first = !(e[j].type == SL_NEXMARK_BID && e[j].b.bidder == e[i].b.bidder);
    if (!first) continue;
    long long c = 0;
    for (uint64_t j = 0; j < cfg.events; j++)
      c += e[j].type == SL_NEXMARK_BID && e[j].b.bidder == e[i].b.bidder;
    addf(&want, "%lld,%lld", (long long)e[i].b.bidder, c);
  }
  run_query(nx_query_find("q12"), &cfg, 2, fmt_count, &raw);
  for (size_t i = 0; i < raw.n; i++) { /* "bidder,count,start,end" */
    long long b, c, st, en, total = 0;
    CHECK_EQ_INT(sscanf(raw.v[i], "%lld,%lld,%lld,%lld", &b, &c, &st, &en), 4);
    CHECK_EQ_INT(en - st, 10000);
    int first = 1;
    for (size_t j = 0; j < i && first; j++) first = atoll(raw.v[j]) != b;
    if (!first) continue;
    for (size_t j = 0; j < raw.n; j++) {
      long long b2, c2;
      if (sscanf(raw.v[j], "%lld,%lld", &b2, &c2) == 2 && b2 == b) total += c2;
    }
    addf(&got, "%lld,%lld", b, total);
  }
  CHECK(want.n > 10);
  CHECK(same_lines(&want, &got, 0));
  lines_free(&want);
  lines_free(&got);
  lines_free(&raw);
  free(e);
}

static void test_queries(void) {
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    int before = t_failures;
    size_t n = check_query(&CASES[i]);
    fprintf(stderr, "  %s %s (%zu results)\n", t_failures == before ? "ok  " : "FAIL",
            CASES[i].name, n);
  }
  /* every query of the suite has a reference here */
  for (size_t i = 0; nx_query_at(i); i++) {
    int found = 0;
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++)
      found |= !strcmp(CASES[k].name, nx_query_at(i)->name);
    if (!found) fprintf(stderr, "  no reference for %s\n", nx_query_at(i)->name);
    CHECK(found || nx_query_at(i)->processing_time);
  }
}

int main(void) {
  scratch_init("/tmp/sluice_test_nexmark", 1);
  if (getenv("SL_TEST_SMALL")) g_events = 2500, g_small = 1;
  RUN(test_determinism);
  RUN(test_proportions_and_fields);
  RUN(test_out_of_order_groups);
  RUN(test_bad_config);
  RUN(test_source_matches_generator);
  RUN(test_checkpoint_restore);
  RUN(test_queries);
  RUN(test_q12_totals);
  RUN(test_q8_many_windows);
  RUN(test_q8_state_per_key);
  TEST_MAIN_END();
}

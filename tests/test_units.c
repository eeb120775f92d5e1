/*
 * test_units.c -- unit tests of the core and runtime building blocks: SPSC
 * ring (two threads, order and count), batch encoding (data, control
 * events, oversize records), configuration parsing and validation, UTF-8
 * validation and key routing.
 */
#include <pthread.h>

#include "core/config.h"
#include "connectors/connector.h"
#include "core/core.h"
#include "runtime/batch.h"
#include "runtime/ring.h"
#include "state/state.h"
#include "test.h"

/* ---- ring ---------------------------------------------------------------- */

#define RING_N 1000000
static sl__ring g_ring;
static void *ring_producer(void *arg) {
  for (uintptr_t i = 1; i <= RING_N; i++)
    while (sl__ring_push(&g_ring, (void *)i)) sched_yield();
  return NULL;
}
static void test_ring_spsc(void) {
  CHECK_EQ_INT(sl__ring_init(&g_ring, 5), 0);
  CHECK_EQ_INT(g_ring.mask, 7); /* rounded up to a power of two */
  pthread_t t;
  pthread_create(&t, NULL, ring_producer, NULL);
  uintptr_t expect = 1, bad = 0;
  while (expect <= RING_N) {
    void *p = sl__ring_pop(&g_ring);
    if (!p) continue;
    bad += (uintptr_t)p != expect;
    expect++;
  }
  pthread_join(t, NULL);
  CHECK_EQ_INT(bad, 0);
  CHECK(sl__ring_pop(&g_ring) == NULL);
  sl__ring_destroy(&g_ring);
}
static void test_ring_full(void) {
  sl__ring r;
  sl__ring_init(&r, 4);
  int x;
  for (int i = 0; i < 4; i++) CHECK_EQ_INT(sl__ring_push(&r, &x), 0);
  CHECK_EQ_INT(sl__ring_push(&r, &x), -1);
  CHECK(sl__ring_pop(&r) == &x);
  CHECK_EQ_INT(sl__ring_push(&r, &x), 0);
  sl__ring_destroy(&r);
}

/* ---- batch --------------------------------------------------------------- */

static void test_batch_roundtrip(void) {
  sl__batch *b = sl__batch_new(256);
  sl_record a = {42, "k", 1, "hello", 5}, e = {-1, NULL, 0, NULL, 0};
  CHECK_EQ_INT(sl__entry_size(1, 5), 32); /* 24 header + 6, padded to 8 */
  sl__batch_put(b, &a, 0x1234567890abcdefull);
  sl__batch_put(b, &e, 0);
  sl__batch_put_ctrl(b, SL__EV_END, 7);
  char big[1000];
  memset(big, 'x', sizeof big);
  sl_record g = {1, NULL, 0, big, sizeof big};
  CHECK(!sl__batch_fits(b, sl__entry_size(0, sizeof big)));
  CHECK_EQ_INT(sl__batch_reserve(b, sl__entry_size(0, sizeof big)), 0);
  sl__batch_put(b, &g, 5);
  CHECK_EQ_INT(b->count, 4);
  uint32_t off = 0, kind = 0;
  uint64_t hash = 0;
  sl_record r;
  CHECK_EQ_INT(sl__batch_next(b, &off, &r, &kind, &hash), 1);
  CHECK_EQ_INT(r.ts, 42);
  CHECK(hash == 0x1234567890abcdefull);
  CHECK(r.key_len == 1 && !memcmp(r.key, "k", 1));
  CHECK(r.value_len == 5 && !memcmp(r.value, "hello", 5));
  CHECK_EQ_INT(sl__batch_next(b, &off, &r, &kind, &hash), 1);
  CHECK(r.key == NULL && r.key_len == 0 && r.value_len == 0 && r.ts == -1);
  CHECK_EQ_INT(sl__batch_next(b, &off, &r, &kind, &hash), 2);
  CHECK_EQ_INT(kind, SL__EV_END);
  CHECK_EQ_INT(r.ts, 7);
  CHECK_EQ_INT(sl__batch_next(b, &off, &r, &kind, &hash), 1);
  CHECK(r.value_len == 1000 && !memcmp(r.value, big, 1000) && hash == 5);
  CHECK_EQ_INT(sl__batch_next(b, &off, &r, &kind, &hash), 0);
  sl__batch_free(b);
}

/* ---- config -------------------------------------------------------------- */

static void test_parsers(void) {
  int64_t v;
  CHECK(!sl__parse_duration_ms("100ms", &v) && v == 100);
  CHECK(!sl__parse_duration_ms("10s", &v) && v == 10000);
  CHECK(!sl__parse_duration_ms("1m", &v) && v == 60000);
  CHECK(!sl__parse_duration_ms("2min", &v) && v == 120000);
  CHECK(!sl__parse_duration_ms("250", &v) && v == 250);
  CHECK(sl__parse_duration_ms("10 parsecs", &v) < 0);
  CHECK(sl__parse_duration_ms("-5s", &v) < 0);
  CHECK(!sl__parse_size("32kb", &v) && v == 32768);
  CHECK(!sl__parse_size("1MB", &v) && v == 1048576);
  CHECK(!sl__parse_size("7", &v) && v == 7);
  CHECK(sl__parse_size("99999999999999999999", &v) < 0);
  CHECK(!sl__parse_bool("true", &v) && v == 1);
  CHECK(sl__parse_bool("maybe", &v) < 0);
  CHECK(!sl__parse_int("-3", &v) && v == -3);
  CHECK(sl__parse_int("3x", &v) < 0);
  /* Flink's spellings (TimeUtils, MemorySize), with or without a space */
  static const struct { const char *s; int64_t ms; } durs[] = {
      {"5 milli", 5},       {"5millis", 5},     {"5 millisecond", 5}, {"5 milliseconds", 5},
      {"3 secs", 3000},     {"3 second", 3000}, {"3 seconds", 3000},  {"2 minute", 120000},
      {"2 minutes", 120000}, {"1 hour", 3600000}, {"2 hours", 7200000}, {"1 day", 86400000},
      {"2 days", 172800000}, {"4 MIN", 240000}};
  for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++)
    CHECK(!sl__parse_duration_ms(durs[i].s, &v) && v == durs[i].ms);
  CHECK(!sl__parse_size("2 bytes", &v) && v == 2);
  CHECK(!sl__parse_size("3 mebibytes", &v) && v == 3 << 20);
  CHECK(!sl__parse_size("1 tb", &v) && v == INT64_C(1) << 40);
  CHECK(sl__parse_duration_ms("5 fortnights", &v) < 0);
}

static void test_config_suggestions(void) {
  sl__conf c;
  char err[512];
  CHECK_EQ_INT(sl__conf_init(&c), 0);
  CHECK_EQ_INT(sl__conf_set(&c, "parallelism.defualt", "2", err, sizeof err), -SL_ECONFIG);
  CHECK_CONTAINS(err, "did you mean 'parallelism.default'?");
  CHECK_EQ_INT(sl__conf_set(&c, "state.checkpoint.dir", "/x", err, sizeof err), -SL_ECONFIG);
  CHECK_CONTAINS(err, "did you mean 'state.checkpoints.dir'?");
  CHECK_EQ_INT(sl__conf_set(&c, "completely.different", "1", err, sizeof err), -SL_ECONFIG);
  CHECK(strstr(err, "did you mean") == NULL);
  CHECK_EQ_INT(sl__conf_set(&c, "execution.buffer-timeout", "5 fortnights", err, sizeof err),
               -SL_ECONFIG);
  CHECK_CONTAINS(err, "min|m|minute|minutes");
  sl__conf_free(&c);
}

static void test_config_table(void) {
  sl__conf c;
  char err[256];
  CHECK_EQ_INT(sl__conf_init(&c), 0);
  CHECK_EQ_INT(SL__CONF_I(&c, MAX_PARALLELISM), 128);
  CHECK_EQ_INT(SL__CONF_I(&c, BUFFER_TIMEOUT), 100);
  CHECK_EQ_INT(SL__CONF_I(&c, BATCH_SIZE), 32768);
  CHECK_EQ_INT(sl__conf_set(&c, "pipeline.max-parallelism", "0", err, sizeof err), -SL_ECONFIG);
  CHECK_CONTAINS(err, "out of range");
  CHECK_EQ_INT(sl__conf_set(&c, "execution.buffer-timeout", "5s", err, sizeof err), 0);
  CHECK_EQ_INT(SL__CONF_I(&c, BUFFER_TIMEOUT), 5000);
  CHECK_EQ_INT(sl__conf_set(&c, "pipeline.dead-letter.path", "/x/y", err, sizeof err), 0);
  CHECK_EQ_STR(SL__CONF_S(&c, DEAD_LETTER_PATH), "/x/y");
  CHECK_EQ_INT(sl__conf_set(&c, "nope", "1", err, sizeof err), -SL_ECONFIG);
  CHECK_CONTAINS(err, "unknown configuration key 'nope'");
  /* every key's default parses (sl__conf_init would have failed) and is
   * listed for the docs */
  size_t n = 0;
  while (sl_config_key_at(n)) n++;
  CHECK_EQ_INT(n, SL__CONF_COUNT);
  sl__conf_free(&c);
}

/* ---- utf8 ---------------------------------------------------------------- */

static void test_utf8(void) {
  struct { const char *s; size_t len, bad; } cases[] = {
      {"plain ascii text", 16, 16},
      {"caf\xc3\xa9", 5, 5},                      /* é */
      {"\xe2\x82\xac euro", 8, 8},                /* € */
      {"\xf0\x9f\x98\x80!", 5, 5},                /* emoji */
      {"ab\xffz", 4, 2},                          /* invalid byte */
      {"ab\xc3", 3, 2},                           /* truncated */
      {"\xc0\xaf", 2, 0},                         /* overlong */
      {"x\xed\xa0\x80", 4, 1},                    /* surrogate */
      {"12345678\x80", 9, 8},                     /* after the 8-byte fast path */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    CHECK_EQ_INT(sl__utf8_check(cases[i].s, cases[i].len), cases[i].bad);
}

/* ---- routing ------------------------------------------------------------- */

static void test_key_routing(void) {
  /* key group -> subtask is kg * P / maxp: contiguous ranges */
  CHECK_EQ_INT(sl__key_group_to_subtask(0, 128, 4), 0);
  CHECK_EQ_INT(sl__key_group_to_subtask(31, 128, 4), 0);
  CHECK_EQ_INT(sl__key_group_to_subtask(32, 128, 4), 1);
  CHECK_EQ_INT(sl__key_group_to_subtask(127, 128, 4), 3);
  CHECK_EQ_INT(sl__key_group_to_subtask(127, 128, 3), 2);
  /* a max parallelism that is not a power of two takes the division path */
  CHECK_EQ_INT(sl__key_group_to_subtask(99, 100, 4), 3);
  CHECK_EQ_INT(sl__key_group_to_subtask(24, 100, 4), 0);
  CHECK_EQ_INT(sl__key_group_to_subtask(25, 100, 4), 1);
  CHECK_EQ_INT(sl__key_group(1000003, 100), 3);
  CHECK_EQ_INT(sl__key_group(1000003, 128), 1000003 % 128);
  for (int P = 1; P <= 7; P++) /* every key group maps into [0, P) */
    for (int g = 0; g < 128; g++) {
      int t = sl__key_group_to_subtask(g, 128, P), lo, hi;
      sl__key_group_range(128, P, t, &lo, &hi);
      CHECK(t >= 0 && t < P && g >= lo && g <= hi); /* and range agrees */
    }
  /* the same key always lands in the same group; groups spread evenly */
  int hist[128] = {0};
  for (int i = 0; i < 128000; i++) {
    char key[16];
    int n = snprintf(key, sizeof key, "k%d", i);
    hist[sl__key_group(sl__key_hash(key, (size_t)n), 128)]++;
  }
  int lo = 1 << 30, hi = 0;
  for (int g = 0; g < 128; g++) lo = SL__MIN(lo, hist[g]), hi = SL__MAX(hi, hist[g]);
  CHECK(lo > 800 && hi < 1200);
  CHECK_EQ_INT(sl__key_hash("abc", 3), sl__key_hash("abc", 3));
}

/* Generator positions read from a checkpoint: a crafted huge position is
 * skipped in one jump (it used to step index by index, ~forever), positions
 * that end before they start or are not whole entries are refused, and a
 * rescale (old step 2, new step 3) skips exactly what was emitted. */
static void test_gen_positions(void) {
  sl__gen_pos crafted = {0, UINT64_C(1) << 62, 1};
  const uint8_t *b[2] = {(const uint8_t *)&crafted};
  size_t l[2] = {sizeof crafted};
  sl__gen_done d = {NULL, 0};
  CHECK_EQ_INT(sl__gen_seek(&d, b, l, 1), 0);
  CHECK(sl__gen_skip(&d, 0, 1, UINT64_MAX) == UINT64_C(1) << 62);
  CHECK(sl__gen_skip(&d, 5, 2, UINT64_MAX) == (UINT64_C(1) << 62) + 1); /* odd stays odd */
  CHECK(sl__gen_skip(&d, 0, 1, 1000) == 1000); /* never past the end */
  sl__free(d.e);
  sl__gen_pos to_max = {0, UINT64_MAX, 2}; /* the jump must not wrap around */
  b[0] = (const uint8_t *)&to_max;
  CHECK_EQ_INT(sl__gen_seek(&d, b, l, 1), 0);
  CHECK(sl__gen_skip(&d, 0, 2, UINT64_MAX) == UINT64_MAX);
  sl__free(d.e);
  sl__gen_pos backwards = {10, 5, 1};
  b[0] = (const uint8_t *)&backwards;
  CHECK_EQ_INT(sl__gen_seek(&d, b, l, 1), -SL_ESTATE);
  l[0] = sizeof crafted - 1;
  CHECK_EQ_INT(sl__gen_seek(&d, b, l, 1), -SL_ESTATE);
  /* two old readers at step 2 emitted 0,2,..,18 and 1,3,..,9; a new reader
   * at step 3 from 0: 0,3,6,9,12 were emitted (12 even, below 20), 15 not
   * (odd, not below 11) */
  sl__gen_pos old[2] = {{0, 20, 2}, {1, 11, 2}};
  b[0] = (const uint8_t *)&old[0];
  b[1] = (const uint8_t *)&old[1];
  l[0] = l[1] = sizeof old[0];
  CHECK_EQ_INT(sl__gen_seek(&d, b, l, 2), 0);
  CHECK_EQ_INT(sl__gen_skip(&d, 0, 3, 100), 15);
  CHECK_EQ_INT(sl__gen_skip(&d, 1, 3, 100), 13); /* 1, 4, 7, 10 emitted; 13 odd >= 11 */
  sl__free(d.e);
}

static void test_errors(void) {
  CHECK_EQ_STR(sl_strerror(-SL_EINVAL), "invalid argument");
  CHECK_EQ_STR(sl_strerror(SL_EINVAL), "invalid argument");
  CHECK_EQ_STR(sl_err_name(-SL_EBADREC), "SL_EBADREC");
  CHECK_EQ_STR(sl_strerror(-9999), "unknown error");
  CHECK_EQ_STR(sl_version(), SL_VERSION_STRING);
}

int main(void) {
  RUN(test_ring_spsc);
  RUN(test_ring_full);
  RUN(test_batch_roundtrip);
  RUN(test_parsers);
  RUN(test_config_suggestions);
  RUN(test_config_table);
  RUN(test_utf8);
  RUN(test_key_routing);
  RUN(test_gen_positions);
  RUN(test_errors);
  TEST_MAIN_END();
}

/*
 * test_state_backend.c -- the backend interface, the same tests on heap and
 * RocksDB: a randomized operation sequence against a plain reference array,
 * snapshot isolation while writing continues, and canonical images
 * restored at another parallelism (2 -> 4, 4 -> 1) and into the other
 * backend, with byte-identical contents; damaged images are detected.
 * Native checkpoints go through the vtable's optional slots only, as the
 * checkpoint code uses them.  A build without RocksDB
 * (-DSLUICE_WITH_ROCKSDB=OFF) runs the heap half and checks that the
 * RocksDB backend is refused with the reason.
 */
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>

#include "state/state.h"
#include "test.h"
#include "test_util.h"

#define MAXP 128

static sl__conf g_conf;

static sl__backend *open_be(const char *type, int lo, int hi, const char *name) {
  char err[1024] = "", dir[1024];
  snprintf(dir, sizeof dir, "%s/rocks", g_tmp);
  sl__conf_set(&g_conf, "state.backend.type", type, err, sizeof err);
  sl__conf_set(&g_conf, "state.backend.rocksdb.dir", dir, err, sizeof err);
  sl__conf_set(&g_conf, "state.backend.rocksdb.block.cache-size", "1mb", err, sizeof err);
  sl__conf_set(&g_conf, "state.backend.rocksdb.writebuffer.size", "1mb", err, sizeof err);
  sl__backend *be = NULL;
  int rc = sl__backend_open(&g_conf, name, lo, hi, MAXP, &be, err, sizeof err);
  if (rc) fprintf(stderr, "open %s: %s\n", type, err);
  CHECK_EQ_INT(rc, 0);
  return be;
}

static int key_kg(const void *k, uint32_t n) { return sl__key_group(sl__key_hash(k, n), MAXP); }

/* A composite key of a key alone, as the state layer builds it for value
 * and list state ([klen] key [0]; short ones live inline in the heap
 * backend's slots): the key printed with fmt and k.  Returns its length. */
static uint32_t ckey(char *ck, size_t cap, const char *fmt, int k) {
  char key[64];
  int n = snprintf(key, sizeof key, fmt, k);
  CHECK(n > 0 && n < 128 && (size_t)n + 2 <= cap);
  ck[0] = (char)n;
  memcpy(ck + 1, key, (size_t)n);
  ck[n + 1] = 0;
  return (uint32_t)n + 2;
}

/* ---- randomized vs reference ----------------------------------------------- */

#define RKEYS 600
typedef struct ref_entry {
  int present;
  uint8_t val[64];
  uint32_t len;
} ref_entry;

/* composite: keys as the state layer builds them (heap: inline slots for
 * the short values, entries for the long ones, and conversions as lists
 * grow), else raw bytes ("key-%d"). */
static void randomized(const char *type, int composite) {
  static ref_entry ref[2][RKEYS];
  memset(ref, 0, sizeof ref);
  sl__backend *be = open_be(type, 0, MAXP - 1, "rand");
  if (!be) return;
  uint32_t sid[2];
  CHECK_EQ_INT(be->vt->add_state(be, "a", SL__STATE_VALUE, &sid[0]), 0);
  CHECK_EQ_INT(be->vt->add_state(be, "b", SL__STATE_LIST, &sid[1]), 0);
  uint64_t x = 88172645463325252ull;
  int bad = 0, heap = !strcmp(type, "hashmap");
  sl__snapshot *snap = NULL;
  for (int i = 0; i < 60000; i++) {
    if (i == 20000) CHECK_EQ_INT(be->vt->snapshot(be, &snap), 0); /* copy-on-write */
    if (i == 40000) be->vt->snap_release(snap);
    if (heap && i % 1000 == 999) /* the heap's figures are exact (a Debug build also
                                  * checks its bytes against a walk) */
      for (int t = 0; t < 2; t++) {
        uint64_t n = 0, bytes;
        for (int k = 0; k < RKEYS; k++) n += (uint64_t)ref[t][k].present;
        uint64_t got = UINT64_MAX;
        CHECK_EQ_INT(be->vt->state_stats(be, sid[t], &got, &bytes), 0);
        if (got != n) bad++;
      }
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int s = (int)(x >> 60) & 1, k = (int)((x >> 20) % RKEYS), op = (int)(x % 10);
    char ck[16];
    uint32_t cklen = composite ? ckey(ck, sizeof ck, "key-%d", k)
                               : (uint32_t)snprintf(ck, sizeof ck, "key-%d", k);
    int kg = key_kg(ck, cklen);
    ref_entry *r = &ref[s][k];
    if (op < 4) { /* put, random length 1..24 */
      uint8_t v[24];
      uint32_t len = 1 + (uint32_t)((x >> 8) % 24);
      for (uint32_t j = 0; j < len; j++) v[j] = (uint8_t)(x >> (j % 56));
      CHECK_EQ_INT(be->vt->put(be, kg, sid[s], ck, cklen, sl__ck_hash(ck, cklen), v, len), 0);
      memcpy(r->val, v, len);
      r->len = len;
      r->present = 1;
    } else if (op < 6) { /* append up to the reference's capacity */
      uint8_t v[4] = {(uint8_t)i, (uint8_t)(i >> 8), 7, 9};
      if (r->len + 4 > sizeof r->val) continue;
      CHECK_EQ_INT(be->vt->append(be, kg, sid[s], ck, cklen, sl__ck_hash(ck, cklen), v, 4), 0);
      memcpy(r->val + r->len, v, 4);
      r->len += 4;
      r->present = 1;
    } else if (op < 7) {
      CHECK_EQ_INT(be->vt->del(be, kg, sid[s], ck, cklen, sl__ck_hash(ck, cklen)), 0);
      r->present = 0;
      r->len = 0;
    } else {
      const void *v;
      uint32_t vlen;
      int rc = be->vt->get(be, kg, sid[s], ck, cklen, sl__ck_hash(ck, cklen), &v, &vlen);
      if (rc != (r->present ? 0 : 1)) bad++;
      else if (!rc && (vlen != r->len || memcmp(v, r->val, vlen))) bad++;
    }
  }
  CHECK_EQ_INT(bad, 0);
  /* final full comparison */
  for (int s = 0; s < 2; s++)
    for (int k = 0; k < RKEYS; k++) {
      char ck[16];
      uint32_t cklen = composite ? ckey(ck, sizeof ck, "key-%d", k)
                                 : (uint32_t)snprintf(ck, sizeof ck, "key-%d", k);
      const void *v;
      uint32_t vlen;
      int rc = be->vt->get(be, key_kg(ck, cklen), sid[s], ck, cklen, sl__ck_hash(ck, cklen), &v, &vlen);
      ref_entry *r = &ref[s][k];
      if (rc != (r->present ? 0 : 1) || (!rc && (vlen != r->len || memcmp(v, r->val, vlen))))
        bad++;
    }
  CHECK_EQ_INT(bad, 0);
  sl__backend_free(be);
}
static void test_randomized_heap(void) {
  randomized("hashmap", 0);
  randomized("hashmap", 1);
}
#ifdef SLUICE_WITH_ROCKSDB
static void test_randomized_rocksdb(void) { randomized("rocksdb", 1); }
#endif

/* ---- dumps --------------------------------------------------------------------- */

/* A dump: lines "state|kg|hex(ck)|hex(value)", sorted, joined. */
typedef struct dump {
  lines l;
  int kg;
  const char *state;
} dump;

static void hex(char *out, const void *p, uint32_t n) {
  static const char d[] = "0123456789abcdef";
  const uint8_t *b = p;
  for (uint32_t i = 0; i < n; i++) out[2 * i] = d[b[i] >> 4], out[2 * i + 1] = d[b[i] & 15];
  out[2 * n] = 0;
}

static int dump_entry(void *arg, const void *ck, uint32_t cklen, const void *v, uint32_t vlen) {
  dump *d = arg;
  char *line = malloc(64 + 2 * (size_t)(cklen + vlen) + 2);
  int n = sprintf(line, "%s|%d|", d->state, d->kg);
  hex(line + n, ck, cklen);
  strcat(line, "|");
  hex(line + strlen(line), v, vlen);
  lines_push(&d->l, line);
  return 0;
}

/* Every entry of the backends, through iter(). */
static void dump_all(sl__backend **bes, int n, lines *out) {
  dump d = {.l = {0}};
  for (int i = 0; i < n; i++) {
    sl__backend *be = bes[i];
    for (uint32_t sid = 0; sid < be->n_states; sid++) {
      d.state = be->states[sid].name;
      for (int kg = be->kg_lo; kg <= be->kg_hi; kg++) {
        d.kg = kg;
        be->vt->iter(be, kg, sid, NULL, 0, dump_entry, &d);
      }
    }
  }
  lines_sort(&d.l);
  *out = d.l;
}

/* Fill P backends (the key groups of P subtasks) with 3000 keys x 3 states. */
static void fill(sl__backend **bes, int P, const char *type) {
  for (int i = 0; i < P; i++) {
    int lo, hi;
    sl__key_group_range(MAXP, P, i, &lo, &hi);
    char name[32];
    snprintf(name, sizeof name, "fill-%d-%d", P, i);
    bes[i] = open_be(type, lo, hi, name);
    uint32_t sid;
    bes[i]->vt->add_state(bes[i], "value", SL__STATE_VALUE, &sid);
    bes[i]->vt->add_state(bes[i], "list", SL__STATE_LIST, &sid);
    bes[i]->vt->add_state(bes[i], "map", SL__STATE_MAP, &sid);
  }
  for (int k = 0; k < 3000; k++) {
    char ck[32];
    uint32_t cklen = ckey(ck, sizeof ck, "k%d", k);
    int kg = key_kg(ck, cklen);
    sl__backend *be = bes[sl__key_group_to_subtask(kg, MAXP, P)];
    char v[32];
    uint32_t vlen = (uint32_t)snprintf(v, sizeof v, "value-%d", k * 7);
    CHECK_EQ_INT(be->vt->put(be, kg, 0, ck, cklen, sl__ck_hash(ck, cklen), v, vlen), 0);
    for (int j = 0; j < k % 4; j++) CHECK_EQ_INT(be->vt->append(be, kg, 1, ck, cklen, sl__ck_hash(ck, cklen), v, vlen), 0);
    CHECK_EQ_INT(be->vt->put(be, kg, 2, ck, cklen, sl__ck_hash(ck, cklen), &k, sizeof k), 0);
  }
}

static int same_dump(const lines *a, const lines *b) {
  if (a->n != b->n) {
    fprintf(stderr, "  dumps differ in size: %zu vs %zu\n", a->n, b->n);
    return 0;
  }
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->v[i], b->v[i])) {
      fprintf(stderr, "  dumps differ at %zu: %s vs %s\n", i, a->v[i], b->v[i]);
      return 0;
    }
  return 1;
}

/* Snapshot P_from backends of type `from` into images, restore into P_to
 * backends of type `to`, compare dumps. */
static void rescale(const char *from, int P_from, const char *to, int P_to) {
  sl__backend *src[8] = {0}, *dst[8] = {0};
  fill(src, P_from, from);
  lines before;
  dump_all(src, P_from, &before);
  CHECK_EQ_INT(before.n, 3000 + 2250 + 3000); /* lists only for k % 4 != 0 */
  char paths[8][1024];
  for (int i = 0; i < P_from; i++) {
    sl__snapshot *snap;
    CHECK_EQ_INT(src[i]->vt->snapshot(src[i], &snap), 0);
    snprintf(paths[i], sizeof paths[i], "%s/img-%s-%d-%d", g_tmp, from, P_from, i);
    int rc = sl__image_write_file(src[i], snap, paths[i]);
    if (rc) fprintf(stderr, "%s\n", src[i]->err);
    CHECK_EQ_INT(rc, 0);
    src[i]->vt->snap_release(snap);
  }
  for (int j = 0; j < P_to; j++) {
    int lo, hi;
    sl__key_group_range(MAXP, P_to, j, &lo, &hi);
    char name[32];
    snprintf(name, sizeof name, "restore-%d-%d", P_to, j);
    dst[j] = open_be(to, lo, hi, name);
    for (int i = 0; i < P_from; i++) {
      int rc = sl__image_read_file(dst[j], paths[i]);
      if (rc) fprintf(stderr, "%s\n", dst[j]->err);
      CHECK_EQ_INT(rc, 0);
    }
  }
  lines after;
  dump_all(dst, P_to, &after);
  CHECK(same_dump(&before, &after));
  lines_free(&before);
  lines_free(&after);
  for (int i = 0; i < P_from; i++) sl__backend_free(src[i]);
  for (int j = 0; j < P_to; j++) sl__backend_free(dst[j]);
}

static void test_rescale_heap_2_to_4(void) { rescale("hashmap", 2, "hashmap", 4); }
static void test_rescale_heap_4_to_1(void) { rescale("hashmap", 4, "hashmap", 1); }

/* ---- native checkpoints: the vtable's optional slots -------------------------- */

/* ---- figures (state_stats) --------------------------------------------------
 * Heap: exact, worked out from what the backend allocates -- a slot is 32
 * bytes (tables start at 16 slots and double when a 13th entry would fill
 * them past 3/4), an entry 16 bytes + composite key + value room; a short
 * key with a value of up to 16 - klen bytes lives in its slot. */

#define SLOT 32
#define ENTRY(cklen, vcap) (16 + (cklen) + (vcap))

static void stats_of(sl__backend *be, uint32_t sid, uint64_t *entries, uint64_t *bytes) {
  *entries = *bytes = UINT64_MAX;
  CHECK(be->vt->state_stats != NULL);
  if (be->vt->state_stats) CHECK_EQ_INT(be->vt->state_stats(be, sid, entries, bytes), 0);
}

/* n keys "k<i>" (i from *next on) of key group kg, composite keys in ck. */
static void keys_in_kg(int kg, int n, int *next, char ck[][16], uint32_t *cklen) {
  for (int found = 0; found < n; (*next)++) {
    char key[16];
    int len = snprintf(key, sizeof key, "k%d", *next);
    if (key_kg(key, (uint32_t)len) != kg) continue;
    cklen[found] = ckey(ck[found], sizeof ck[found], "k%d", *next);
    found++;
  }
}

static int put_ck(sl__backend *be, uint32_t sid, const char *ck, uint32_t cklen,
                  const void *v, uint32_t vlen) {
  int kg = key_kg(ck + 1, (uint8_t)ck[0]);
  return be->vt->put(be, kg, sid, ck, cklen, sl__ck_hash(ck, cklen), v, vlen);
}
static int append_ck(sl__backend *be, uint32_t sid, const char *ck, uint32_t cklen,
                     const void *v, uint32_t vlen) {
  int kg = key_kg(ck + 1, (uint8_t)ck[0]);
  return be->vt->append(be, kg, sid, ck, cklen, sl__ck_hash(ck, cklen), v, vlen);
}
static int del_ck(sl__backend *be, uint32_t sid, const char *ck, uint32_t cklen) {
  int kg = key_kg(ck + 1, (uint8_t)ck[0]);
  return be->vt->del(be, kg, sid, ck, cklen, sl__ck_hash(ck, cklen));
}

static void test_stats_heap(void) {
  sl__backend *be = open_be("hashmap", 0, MAXP - 1, "stats-heap");
  uint32_t a, b;
  CHECK_EQ_INT(be->vt->add_state(be, "a", SL__STATE_VALUE, &a), 0);
  CHECK_EQ_INT(be->vt->add_state(be, "b", SL__STATE_LIST, &b), 0);
  uint64_t n, bytes;
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(n, 0);
  CHECK_EQ_INT(bytes, 0);
  CHECK(be->vt->state_stats(be, 2, &n, &bytes) < 0); /* no such state */

  /* 12 short keys of one key group, 8-byte values: inline, one table of
   * 16 slots */
  char ck[13][16];
  uint32_t cklen[13];
  int next = 0;
  keys_in_kg(7, 13, &next, ck, cklen);
  uint64_t v8 = 42;
  for (int i = 0; i < 12; i++) CHECK_EQ_INT(put_ck(be, a, ck[i], cklen[i], &v8, 8), 0);
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(n, 12);
  CHECK_EQ_INT(bytes, 16 * SLOT);
  /* one of them again: no new entry, but the table doubles (a write grows
   * it before looking when one more entry would fill it past 3/4) */
  CHECK_EQ_INT(put_ck(be, a, ck[5], cklen[5], &v8, 8), 0);
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(n, 12);
  CHECK_EQ_INT(bytes, 32 * SLOT);
  /* a 13th */
  CHECK_EQ_INT(put_ck(be, a, ck[12], cklen[12], &v8, 8), 0);
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(n, 13);
  CHECK_EQ_INT(bytes, 32 * SLOT);
  /* deletes: one entry fewer; a key that is not there changes nothing */
  CHECK_EQ_INT(del_ck(be, a, ck[3], cklen[3]), 0);
  CHECK_EQ_INT(del_ck(be, a, ck[3], cklen[3]), 0);
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(n, 12);
  CHECK_EQ_INT(bytes, 32 * SLOT);

  /* a 40-byte value: an entry (key "long": composite key 6 bytes) in
   * another key group's table */
  const char lck[6] = {4, 'l', 'o', 'n', 'g', 0};
  uint32_t llen = 6;
  uint8_t val[128];
  for (int i = 0; i < (int)sizeof val; i++) val[i] = (uint8_t)(i * 7 + 1);
  int lkg = key_kg("long", 4);
  uint64_t other = lkg == 7 ? 0 : 16 * SLOT; /* its key group's table, when new */
  CHECK_EQ_INT(put_ck(be, a, lck, llen, val, 40), 0);
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(n, 13);
  CHECK_EQ_INT(bytes, 32 * SLOT + other + ENTRY(6, 40));
  /* a shorter value fits its room; a longer one gets a new entry of
   * max(need, room * 1.5) */
  CHECK_EQ_INT(put_ck(be, a, lck, llen, val, 20), 0);
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(bytes, 32 * SLOT + other + ENTRY(6, 40));
  CHECK_EQ_INT(put_ck(be, a, lck, llen, val, 100), 0);
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(n, 13);
  CHECK_EQ_INT(bytes, 32 * SLOT + other + ENTRY(6, 100));
  CHECK_EQ_INT(put_ck(be, a, lck, llen, val, 101), 0); /* 150 = 100 * 1.5 */
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(bytes, 32 * SLOT + other + ENTRY(6, 150));

  /* list state b, key "x" (composite key 3 bytes): 10 bytes inline,
   * 20 in an entry of exactly 20, 50 in one of max(50, 30) */
  char xck[3] = {1, 'x', 0};
  uint64_t xtab = 16 * SLOT;
  CHECK_EQ_INT(append_ck(be, b, xck, 3, val, 10), 0);
  stats_of(be, b, &n, &bytes);
  CHECK_EQ_INT(n, 1);
  CHECK_EQ_INT(bytes, xtab);
  CHECK_EQ_INT(append_ck(be, b, xck, 3, val, 10), 0);
  stats_of(be, b, &n, &bytes);
  CHECK_EQ_INT(n, 1);
  CHECK_EQ_INT(bytes, xtab + ENTRY(3, 20));
  CHECK_EQ_INT(append_ck(be, b, xck, 3, val, 30), 0);
  stats_of(be, b, &n, &bytes);
  CHECK_EQ_INT(bytes, xtab + ENTRY(3, 50));
  /* a key with a namespace is never inline: [1] y [2] ns */
  char nck[5] = {1, 'y', 2, 'n', 's'};
  CHECK_EQ_INT(append_ck(be, b, nck, 5, val, 8), 0);
  stats_of(be, b, &n, &bytes);
  CHECK_EQ_INT(n, 2);
  uint64_t ytab = key_kg("y", 1) == key_kg("x", 1) ? 0 : 16 * SLOT;
  CHECK_EQ_INT(bytes, xtab + ytab + ENTRY(3, 50) + ENTRY(5, 8));
  /* state a did not move */
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(n, 13);
  CHECK_EQ_INT(bytes, 32 * SLOT + other + ENTRY(6, 150));

  /* while a snapshot is open: a write copies the shared entry (the live
   * one is the same size), a delete drops it from the live figures; the
   * snapshot's copies are not counted */
  sl__snapshot *snap;
  CHECK_EQ_INT(be->vt->snapshot(be, &snap), 0);
  CHECK_EQ_INT(put_ck(be, a, lck, llen, val, 8), 0);
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(n, 13);
  CHECK_EQ_INT(bytes, 32 * SLOT + other + ENTRY(6, 150));
  CHECK_EQ_INT(del_ck(be, a, lck, llen), 0);
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(n, 12);
  CHECK_EQ_INT(bytes, 32 * SLOT + other);
  be->vt->snap_release(snap);
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(n, 12);
  CHECK_EQ_INT(bytes, 32 * SLOT + other);
  /* every key gone: the tables stay */
  for (int i = 0; i < 13; i++) CHECK_EQ_INT(del_ck(be, a, ck[i], cklen[i]), 0);
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(n, 0);
  CHECK_EQ_INT(bytes, 32 * SLOT + other);
  sl__backend_free(be);
}

/* The walker over a keyed-state handle: every registered state by name,
 * with what an operator keeps outside the backend added to its state. */
typedef struct seen_stats {
  char names[4][16];
  uint64_t entries[4], bytes[4];
  int n, stop_at;
} seen_stats;
static int see_stats(void *ud, const char *state, uint64_t entries, uint64_t bytes) {
  seen_stats *s = ud;
  if (s->n < 4) {
    snprintf(s->names[s->n], sizeof s->names[s->n], "%s", state);
    s->entries[s->n] = entries;
    s->bytes[s->n] = bytes;
  }
  s->n++;
  return s->n == s->stop_at ? 77 : 0;
}
static void outside(void *ud, uint64_t *entries, uint64_t *bytes) {
  *entries += 5;
  *bytes += *(const uint64_t *)ud;
}

static void test_kstate_stats(void) {
  sl__backend *be = open_be("hashmap", 0, MAXP - 1, "stats-kstate");
  sl__kstate *ks;
  CHECK_EQ_INT(sl__kstate_new(be, NULL, "keyed", &ks), 0);
  uint32_t a, b;
  CHECK_EQ_INT(be->vt->add_state(be, "first", SL__STATE_VALUE, &a), 0);
  CHECK_EQ_INT(be->vt->add_state(be, "second", SL__STATE_MAP, &b), 0);
  char xck[3] = {1, 'x', 0};
  uint8_t val[32] = {1};
  CHECK_EQ_INT(put_ck(be, b, xck, 3, val, 32), 0);
  seen_stats s = {.stop_at = -1};
  CHECK_EQ_INT(sl__kstate_stats(ks, see_stats, &s), 0);
  CHECK_EQ_INT(s.n, 2);
  CHECK_EQ_STR(s.names[0], "first");
  CHECK_EQ_INT(s.entries[0], 0);
  CHECK_EQ_INT(s.bytes[0], 0);
  CHECK_EQ_STR(s.names[1], "second");
  CHECK_EQ_INT(s.entries[1], 1);
  CHECK_EQ_INT(s.bytes[1], 16 * SLOT + ENTRY(3, 32));
  /* state kept outside the backend counts as its state's */
  uint64_t extra = 1000;
  sl__kstate_set_outside(ks, "first", outside, &extra);
  s = (seen_stats){.stop_at = -1};
  CHECK_EQ_INT(sl__kstate_stats(ks, see_stats, &s), 0);
  CHECK_EQ_INT(s.entries[0], 5);
  CHECK_EQ_INT(s.bytes[0], 1000);
  CHECK_EQ_INT(s.entries[1], 1);
  CHECK_EQ_INT(s.bytes[1], 16 * SLOT + ENTRY(3, 32));
  /* fn's non-zero result stops the walk */
  s = (seen_stats){.stop_at = 1};
  CHECK_EQ_INT(sl__kstate_stats(ks, see_stats, &s), 77);
  CHECK_EQ_INT(s.n, 1);
  sl__kstate_set_outside(ks, NULL, NULL, NULL);
  s = (seen_stats){.stop_at = -1};
  CHECK_EQ_INT(sl__kstate_stats(ks, see_stats, &s), 0);
  CHECK_EQ_INT(s.entries[0], 0);
  CHECK_EQ_INT(sl__kstate_stats(NULL, see_stats, &s), 0);
  sl__kstate_free(ks);
}

#ifdef SLUICE_WITH_ROCKSDB
/* RocksDB: estimates, so ranges -- n keys of 100 random bytes each, the
 * figures within a factor of the true count and size, with the write-back
 * cache holding every change (none in RocksDB yet) and after a scan
 * flushed them into RocksDB; deletes bring the count down. */
static int count_entry(void *arg, const void *ck, uint32_t cklen, const void *v,
                       uint32_t vlen) {
  ++*(int *)arg;
  return 0;
}

static void stats_rocksdb(const char *write_cache) {
  char err[256];
  sl__conf_set(&g_conf, "state.backend.rocksdb.write-cache.size", write_cache, err, sizeof err);
  sl__backend *be = open_be("rocksdb", 0, MAXP - 1, "stats-rocksdb");
  sl__conf_set(&g_conf, "state.backend.rocksdb.write-cache.size", "64mb", err, sizeof err);
  if (!be) return;
  uint32_t a, b;
  CHECK_EQ_INT(be->vt->add_state(be, "a", SL__STATE_VALUE, &a), 0);
  CHECK_EQ_INT(be->vt->add_state(be, "b", SL__STATE_VALUE, &b), 0);
  uint64_t n, bytes;
  stats_of(be, a, &n, &bytes);
  CHECK_EQ_INT(n, 0);
  enum { N = 4000, VLEN = 100 };
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < N; i++) {
    char ck[16];
    uint32_t cklen = ckey(ck, sizeof ck, "k%d", i);
    uint8_t v[VLEN];
    for (int j = 0; j < VLEN; j++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, v[j] = (uint8_t)x;
    CHECK_EQ_INT(put_ck(be, a, ck, cklen, v, VLEN), 0);
  }
  uint64_t raw = (uint64_t)N * (VLEN + 2 + 6); /* kg + "k<i>" composite key + value */
  stats_of(be, a, &n, &bytes);
  fprintf(stderr, "  write cache %s: %llu entries, %llu bytes (true: %d, %llu)\n", write_cache,
          (unsigned long long)n, (unsigned long long)bytes, N, (unsigned long long)raw);
  CHECK(n >= N / 2 && n <= 2 * N);
  CHECK(bytes >= raw / 2 && bytes <= 8 * raw);
  stats_of(be, b, &n, &bytes); /* the other state's column family */
  CHECK_EQ_INT(n, 0);
  CHECK(bytes < raw / 2);
  /* a scan flushes the cache into RocksDB */
  CHECK_EQ_INT(be->vt->iter(be, 0, a, NULL, 0, count_entry, &(int){0}), 0);
  stats_of(be, a, &n, &bytes);
  fprintf(stderr, "  after a flush: %llu entries, %llu bytes\n", (unsigned long long)n,
          (unsigned long long)bytes);
  CHECK(n >= N / 2 && n <= 2 * N);
  CHECK(bytes >= raw / 2 && bytes <= 8 * raw);
  /* N other keys put and deleted again (in the cache, when there is one:
   * they never reach RocksDB): the count stays */
  for (int i = N; i < 2 * N; i++) {
    char ck[16];
    uint32_t cklen = ckey(ck, sizeof ck, "k%d", i);
    CHECK_EQ_INT(put_ck(be, a, ck, cklen, "gone", 4), 0);
    CHECK_EQ_INT(del_ck(be, a, ck, cklen), 0);
  }
  stats_of(be, a, &n, &bytes);
  fprintf(stderr, "  after %d more put and deleted: %llu entries\n", N, (unsigned long long)n);
  CHECK(n >= N / 2 && n <= 2 * N);
  uint64_t before = n;
  /* three quarters deleted */
  for (int i = 0; i < 3 * N / 4; i++) {
    char ck[16];
    uint32_t cklen = ckey(ck, sizeof ck, "k%d", i);
    CHECK_EQ_INT(del_ck(be, a, ck, cklen), 0);
  }
  CHECK_EQ_INT(be->vt->iter(be, 0, a, NULL, 0, count_entry, &(int){0}), 0);
  stats_of(be, a, &n, &bytes);
  fprintf(stderr, "  after deleting 3/4: %llu entries, %llu bytes\n", (unsigned long long)n,
          (unsigned long long)bytes);
  CHECK(n < before);
  CHECK(n <= N / 2);
  CHECK(be->vt->state_stats(be, 2, &n, &bytes) < 0); /* no such state */
  sl__backend_free(be);
}
static void test_stats_rocksdb(void) {
  stats_rocksdb("64mb");
  stats_rocksdb("0");
}
#endif

/* The heap backend has no native checkpoints; the kind that writes them is
 * RocksDB, with every slot, in a build that has it, and none otherwise. */
static void test_native_slots(void) {
  sl__backend *heap = open_be("hashmap", 0, MAXP - 1, "slots-heap");
  CHECK(!heap->vt->native_checkpoint && !heap->vt->native_adopt &&
        !heap->vt->native_restore && !heap->vt->native_check);
  sl__backend_free(heap);
  char err[512] = "";
  const sl__backend_vt *nv = sl__backend_native(err, sizeof err);
#ifdef SLUICE_WITH_ROCKSDB
  CHECK(nv != NULL);
  if (!nv) return;
  CHECK_EQ_STR(nv->name, "rocksdb");
  CHECK(nv->native_checkpoint && nv->native_adopt && nv->native_restore && nv->native_check);
  sl__backend *rdb = open_be("rocksdb", 0, MAXP - 1, "slots-rocksdb");
  CHECK(rdb->vt == nv);
  sl__backend_free(rdb);
#else
  CHECK(nv == NULL);
  CHECK_CONTAINS(err, "native RocksDB checkpoint");
  CHECK_CONTAINS(err, "this build has no RocksDB backend (built with -DSLUICE_WITH_ROCKSDB=OFF)");
#endif
}

/* state.backend.type=rocksdb: accepted with RocksDB; without it, a
 * configuration error that says why, and the value stays. */
static void test_rocksdb_type_config(void) {
  sl__conf c;
  char err[512] = "";
  CHECK_EQ_INT(sl__conf_init(&c), 0);
  int rc = sl__conf_set(&c, "state.backend.type", "rocksdb", err, sizeof err);
#ifdef SLUICE_WITH_ROCKSDB
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_STR(SL__CONF_S(&c, STATE_BACKEND), "rocksdb");
#else
  CHECK_EQ_INT(rc, -SL_ECONFIG);
  CHECK_EQ_STR(err, "configuration key 'state.backend.type': 'rocksdb': this build has no "
                    "RocksDB backend (built with -DSLUICE_WITH_ROCKSDB=OFF)");
  CHECK_EQ_STR(SL__CONF_S(&c, STATE_BACKEND), "hashmap");
  /* the backend factory says the same if it is ever asked */
  sl__backend *be = NULL;
  sl__free(c.v[SL__CONF_STATE_BACKEND].s);
  c.v[SL__CONF_STATE_BACKEND].s = sl__strdup("rocksdb");
  CHECK_EQ_INT(sl__backend_open(&c, "op-1-0", 0, 7, 8, &be, err, sizeof err), -SL_ECONFIG);
  CHECK(be == NULL);
  CHECK_CONTAINS(err, "this build has no RocksDB backend (built with -DSLUICE_WITH_ROCKSDB=OFF)");
#endif
  /* an unknown value is refused as before */
  CHECK_EQ_INT(sl__conf_set(&c, "state.backend.type", "leveldb", err, sizeof err), -SL_ECONFIG);
  CHECK_EQ_STR(err, "configuration key 'state.backend.type': 'leveldb' is not one of "
                    "hashmap|rocksdb");
  sl__conf_free(&c);
}

#ifdef SLUICE_WITH_ROCKSDB
static void test_rescale_rocksdb_2_to_4(void) { rescale("rocksdb", 2, "rocksdb", 4); }
static void test_rescale_rocksdb_4_to_1(void) { rescale("rocksdb", 4, "rocksdb", 1); }
static void test_heap_to_rocksdb(void) { rescale("hashmap", 2, "rocksdb", 3); }
static void test_rocksdb_to_heap(void) { rescale("rocksdb", 3, "hashmap", 2); }

/* inodes of the *.sst files in dir */
static int sst_inodes(const char *dir, ino_t *out, int max) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) && n < max) {
    size_t len = strlen(e->d_name);
    if (len < 4 || strcmp(e->d_name + len - 4, ".sst")) continue;
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (!stat(p, &st)) out[n++] = st.st_ino;
  }
  if (d) closedir(d);
  return n;
}

static void test_rocksdb_native_checkpoint(void) {
  sl__backend *src[2] = {0};
  fill(src, 2, "rocksdb");
  lines before;
  dump_all(src, 2, &before);
  char dirs[2][1024];
  for (int i = 0; i < 2; i++) {
    snprintf(dirs[i], sizeof dirs[i], "%s/native-%d", g_tmp, i);
    rm_rf(dirs[i]);
    int rc = src[i]->vt->native_checkpoint(src[i], dirs[i]);
    if (rc) fprintf(stderr, "%s\n", src[i]->err);
    CHECK_EQ_INT(rc, 0);
  }
  /* restore at P=4, into RocksDB and into the heap: copied out by the
   * writer's kind, whatever the destination's */
  const sl__backend_vt *nv = sl__backend_native(NULL, 0);
  const char *types[] = {"rocksdb", "hashmap"};
  for (int t = 0; t < 2; t++) {
    sl__backend *dst[4];
    for (int j = 0; j < 4; j++) {
      int lo, hi;
      sl__key_group_range(MAXP, 4, j, &lo, &hi);
      char name[32];
      snprintf(name, sizeof name, "native-restore-%d", j);
      dst[j] = open_be(types[t], lo, hi, name);
      for (int i = 0; i < 2; i++) {
        int rc = nv->native_restore(dst[j], &g_conf, dirs[i]);
        if (rc) fprintf(stderr, "%s\n", dst[j]->err);
        CHECK_EQ_INT(rc, 0);
      }
    }
    lines after;
    dump_all(dst, 4, &after);
    CHECK(same_dump(&before, &after));
    lines_free(&after);
    for (int j = 0; j < 4; j++) sl__backend_free(dst[j]);
  }
  /* a second checkpoint after more writes shares the unchanged SST files */
  ino_t a[256], b[256];
  int na = sst_inodes(dirs[0], a, 256);
  CHECK(na > 0);
  for (int k = 0; k < 2000; k++) {
    char ck[32];
    uint32_t cklen = ckey(ck, sizeof ck, "extra%d", k);
    int kg = key_kg(ck, cklen);
    if (kg <= src[0]->kg_hi) src[0]->vt->put(src[0], kg, 0, ck, cklen, sl__ck_hash(ck, cklen), "e", 1);
  }
  char second[1024];
  snprintf(second, sizeof second, "%s/native-0-second", g_tmp);
  rm_rf(second);
  CHECK_EQ_INT(src[0]->vt->native_checkpoint(src[0], second), 0);
  int nb = sst_inodes(second, b, 256), shared = 0;
  for (int i = 0; i < na; i++)
    for (int j = 0; j < nb; j++) shared += a[i] == b[j];
  fprintf(stderr, "  first checkpoint %d SST files, second %d, shared %d\n", na, nb, shared);
  CHECK(shared > 0);  /* reused, not copied */
  CHECK(nb > shared); /* and the new data is in new files */
  /* adoption: an empty RocksDB backend with exactly the range of dirs[1]
   * takes its files; another range, or states already there: 1, copy */
  sl__backend *same = open_be("rocksdb", src[1]->kg_lo, src[1]->kg_hi, "native-adopt");
  sl__backend *other = open_be("rocksdb", src[1]->kg_lo, src[1]->kg_hi - 1, "native-other");
  CHECK_EQ_INT(nv->native_adopt(other, &g_conf, dirs[1]), 1);
  CHECK_EQ_INT(other->n_states, 0u);
  int rc = nv->native_adopt(same, &g_conf, dirs[1]);
  if (rc) fprintf(stderr, "%s\n", same->err);
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_INT(nv->native_adopt(same, &g_conf, dirs[1]), 1); /* states registered now */
  lines want, got;
  dump_all(&src[1], 1, &want);
  dump_all(&same, 1, &got);
  CHECK(want.n > 0 && same_dump(&want, &got));
  lines_free(&want);
  lines_free(&got);
  sl__backend_free(same);
  sl__backend_free(other);
  /* complete, and a directory that is not a checkpoint */
  char err[1024] = "";
  CHECK_EQ_INT(nv->native_check(dirs[0], NULL, NULL, err, sizeof err), 0);
  CHECK_EQ_INT(nv->native_check(g_tmp, NULL, NULL, err, sizeof err), -SL_EIO);
  CHECK_CONTAINS(err, "/CURRENT' is missing: the RocksDB checkpoint is incomplete");
  sl__backend *bad = open_be("hashmap", 0, MAXP - 1, "native-bad");
  CHECK(nv->native_restore(bad, &g_conf, g_tmp) < 0);
  CHECK_CONTAINS(bad->err, "SLUICE_STATES");
  sl__backend_free(bad);
  lines_free(&before);
  for (int i = 0; i < 2; i++) sl__backend_free(src[i]);
}

#endif /* SLUICE_WITH_ROCKSDB */

/* ---- snapshot isolation ------------------------------------------------------- */

static void isolation(const char *type) {
  sl__backend *be = NULL;
  fill(&be, 1, type);
  lines before;
  dump_all(&be, 1, &before);
  sl__snapshot *snap;
  CHECK_EQ_INT(be->vt->snapshot(be, &snap), 0);
  sl__snapshot *second;
  CHECK_EQ_INT(be->vt->snapshot(be, &second), -SL_ESTATE); /* one at a time */
  /* keep writing: overwrite, grow, delete, add */
  for (int k = 0; k < 3000; k += 3) {
    char ck[32];
    uint32_t cklen = ckey(ck, sizeof ck, "k%d", k);
    int kg = key_kg(ck, cklen);
    CHECK_EQ_INT(be->vt->put(be, kg, 0, ck, cklen, sl__ck_hash(ck, cklen), "changed", 7), 0);
    CHECK_EQ_INT(be->vt->append(be, kg, 1, ck, cklen, sl__ck_hash(ck, cklen), "more", 4), 0);
    CHECK_EQ_INT(be->vt->del(be, kg, 2, ck, cklen, sl__ck_hash(ck, cklen)), 0);
    char nk[32];
    uint32_t nlen = ckey(nk, sizeof nk, "new%d", k);
    CHECK_EQ_INT(be->vt->put(be, key_kg(nk, nlen), 0, nk, nlen, sl__ck_hash(nk, nlen), "n", 1), 0);
  }
  /* the snapshot still shows the old contents, exactly */
  dump d = {.l = {0}};
  for (uint32_t sid = 0; sid < be->n_states; sid++) {
    d.state = be->states[sid].name;
    for (int kg = 0; kg < MAXP; kg++) {
      d.kg = kg;
      be->vt->snap_iter(snap, kg, sid, dump_entry, &d);
    }
  }
  lines_sort(&d.l);
  CHECK(same_dump(&before, &d.l));
  be->vt->snap_release(snap);
  /* and the live state has the changes */
  lines now;
  dump_all(&be, 1, &now);
  CHECK_EQ_INT(now.n, 3000 + (2250 + 250) + 2000 + 1000); /* k%3==0 && k%4==0: 250 */
  lines_free(&before);
  lines_free(&d.l);
  lines_free(&now);
  sl__backend_free(be);
}
static void test_isolation_heap(void) { isolation("hashmap"); }
#ifdef SLUICE_WITH_ROCKSDB
static void test_isolation_rocksdb(void) { isolation("rocksdb"); }
#endif

/* ---- writing an image on another thread while the owner writes ---------------- */

typedef struct bg_image {
  sl__backend *be;
  sl__snapshot *snap;
  char path[1024];
  int rc;
} bg_image;

static void *image_thread(void *arg) {
  bg_image *b = arg;
  b->rc = sl__image_write_file(b->be, b->snap, b->path);
  return NULL;
}

static void concurrent_image(const char *type) {
  sl__backend *be = NULL;
  fill(&be, 1, type);
  lines before;
  dump_all(&be, 1, &before);
  bg_image b = {be, NULL, "", 0};
  snprintf(b.path, sizeof b.path, "%s/concurrent-%s", g_tmp, type);
  CHECK_EQ_INT(be->vt->snapshot(be, &b.snap), 0);
  pthread_t t;
  pthread_create(&t, NULL, image_thread, &b);
  /* the owner registers states while the image is written (the registry
   * and the heap's tables grow and move; the image holds the states of the
   * snapshot only, read from the snapshot's copy) */
  uint32_t n_before = be->n_states;
  for (int i = 0; i < 300; i++) {
    char name[32];
    uint32_t sid;
    snprintf(name, sizeof name, "later-%d", i);
    CHECK_EQ_INT(be->vt->add_state(be, name, SL__STATE_VALUE, &sid), 0);
    CHECK_EQ_INT(be->vt->put(be, 0, sid, "k", 1, sl__ck_hash("k", 1), "v", 1), 0);
  }
  /* the owner keeps changing every entry while the image is written */
  for (int round = 0; round < 5; round++)
    for (int k = 0; k < 3000; k++) {
      char ck[32];
      uint32_t cklen = ckey(ck, sizeof ck, "k%d", k);
      int kg = key_kg(ck, cklen);
      be->vt->put(be, kg, 0, ck, cklen, sl__ck_hash(ck, cklen), &round, sizeof round);
      be->vt->append(be, kg, 1, ck, cklen, sl__ck_hash(ck, cklen), "x", 1);
      if (round == 4) be->vt->del(be, kg, 2, ck, cklen, sl__ck_hash(ck, cklen));
    }
  pthread_join(t, NULL);
  CHECK_EQ_INT(b.rc, 0);
  be->vt->snap_release(b.snap);
  /* the image holds the state as of the snapshot */
  sl__backend *dst = open_be(type, 0, MAXP - 1, "concurrent-restore");
  CHECK_EQ_INT(sl__image_read_file(dst, b.path), 0);
  CHECK_EQ_INT((int)dst->n_states, (int)n_before);
  lines after;
  dump_all(&dst, 1, &after);
  CHECK(same_dump(&before, &after));
  lines_free(&before);
  lines_free(&after);
  sl__backend_free(dst);
  sl__backend_free(be);
}
static void test_concurrent_image_heap(void) { concurrent_image("hashmap"); }
#ifdef SLUICE_WITH_ROCKSDB
static void test_concurrent_image_rocksdb(void) { concurrent_image("rocksdb"); }
#endif

/* ---- damaged images ------------------------------------------------------------- */

static void test_damaged_image(void) {
  sl__backend *be = NULL;
  fill(&be, 1, "hashmap");
  sl__snapshot *snap;
  be->vt->snapshot(be, &snap);
  char path[1024];
  snprintf(path, sizeof path, "%s/damaged", g_tmp);
  CHECK_EQ_INT(sl__image_write_file(be, snap, path), 0);
  be->vt->snap_release(snap);
  sl__backend_free(be);
  /* flip one byte in the middle */
  size_t len = 0;
  char *img = read_file(path, &len);
  CHECK(img && len > 1000);
  img[len / 2] ^= 0x40;
  FILE *f = fopen(path, "wb");
  fwrite(img, 1, len, f);
  fclose(f);
  sl__backend *dst = open_be("hashmap", 0, MAXP - 1, "damaged");
  CHECK(sl__image_read_file(dst, path) < 0);
  CHECK_CONTAINS(dst->err, path);
  CHECK_CONTAINS(dst->err, "damaged");
  sl__backend_free(dst);
  /* truncated */
  f = fopen(path, "wb");
  fwrite(img, 1, len - 5, f);
  fclose(f);
#ifdef SLUICE_WITH_ROCKSDB
  dst = open_be("rocksdb", 0, MAXP - 1, "truncated");
#else
  dst = open_be("hashmap", 0, MAXP - 1, "truncated");
#endif
  CHECK(sl__image_read_file(dst, path) < 0);
  CHECK_CONTAINS(dst->err, path);
  sl__backend_free(dst);
  free(img);
}

int main(void) {
  scratch_init("/tmp/sl_test_state_backend", 1);
  sl__conf_init(&g_conf);
  RUN(test_randomized_heap);
  RUN(test_isolation_heap);
  RUN(test_rescale_heap_2_to_4);
  RUN(test_rescale_heap_4_to_1);
  RUN(test_concurrent_image_heap);
  RUN(test_damaged_image);
  RUN(test_native_slots);
  RUN(test_rocksdb_type_config);
  RUN(test_stats_heap);
  RUN(test_kstate_stats);
#ifdef SLUICE_WITH_ROCKSDB
  RUN(test_stats_rocksdb);
  RUN(test_randomized_rocksdb);
  RUN(test_isolation_rocksdb);
  RUN(test_rescale_rocksdb_2_to_4);
  RUN(test_rescale_rocksdb_4_to_1);
  RUN(test_heap_to_rocksdb);
  RUN(test_rocksdb_to_heap);
  RUN(test_rocksdb_native_checkpoint);
  RUN(test_concurrent_image_rocksdb);
#else
  fprintf(stderr, "RocksDB tests skipped: built with -DSLUICE_WITH_ROCKSDB=OFF\n");
#endif
  sl__conf_free(&g_conf);
  TEST_MAIN_END();
}

/*
 * test_state.c -- keyed state through real jobs, the same suite on both
 * backends (hashmap and rocksdb): every state kind, clear, namespaces, map
 * iteration, TTL with a fake clock, and the errors a user can make.
 *
 * A keyed process function interprets each record's value as commands
 * ("vset 5; vget") on the record's key and emits what the getters return,
 * so each test is a script plus the output a person expects from it.
 */
#include "state/state.h"
#include "test.h"
#include "test_util.h"

static const char *g_backend;

/* ---- the command interpreter ------------------------------------------------ */

static int sum_reduce(void *ud, void *acc, const void *in) {
  int64_t a, b;
  memcpy(&a, acc, 8);
  memcpy(&b, in, 8);
  a += b;
  memcpy(acc, &a, 8);
  return 0;
}

/* aggregating: average of integers; accumulator {sum, count} */
typedef struct avg_acc {
  int64_t sum, count;
  char text[32];
} avg_acc;
static void avg_create(void *ud, void *acc) { memset(acc, 0, sizeof(avg_acc)); }
static int avg_add(void *ud, void *acc, const void *in, uint32_t n) {
  avg_acc *a = acc;
  char buf[32];
  snprintf(buf, sizeof buf, "%.*s", (int)n, (const char *)in);
  a->sum += atoll(buf);
  a->count++;
  return 0;
}
static int avg_merge(void *ud, void *acc, const void *other) {
  avg_acc *a = acc;
  const avg_acc *o = other;
  a->sum += o->sum;
  a->count += o->count;
  return 0;
}
static int avg_result(void *ud, const void *acc, sl_bytes *out) {
  avg_acc *a = (avg_acc *)acc; /* text lives in the caller's copy */
  snprintf(a->text, sizeof a->text, "%lld/%lld", (long long)a->sum, (long long)a->count);
  *out = (sl_bytes){a->text, (uint32_t)strlen(a->text)};
  return 0;
}

static const sl_state_desc D_VALUE = {.name = "v", .kind = SL_STATE_VALUE};
static const sl_state_desc D_LIST = {.name = "l", .kind = SL_STATE_LIST};
static const sl_state_desc D_MAP = {.name = "m", .kind = SL_STATE_MAP};
static const sl_state_desc D_RED = {.name = "r", .kind = SL_STATE_REDUCING,
                                     .size = 8, .reduce = sum_reduce};
static const sl_state_desc D_AGG = {.name = "a", .kind = SL_STATE_AGGREGATING,
                                    .size = sizeof(avg_acc), .agg_create = avg_create,
                                    .agg_add = avg_add, .agg_merge = avg_merge,
                                    .agg_result = avg_result};
/* TTL 100 ms of the fake clock */
static const sl_state_desc D_TVAL = {.name = "tv", .kind = SL_STATE_VALUE, .ttl_ms = 100};
static const sl_state_desc D_TREAD = {.name = "tr", .kind = SL_STATE_VALUE, .ttl_ms = 100,
                                      .ttl_update = SL_TTL_ON_READ_AND_WRITE};
static const sl_state_desc D_TLIST = {.name = "tl", .kind = SL_STATE_LIST, .ttl_ms = 100};
static const sl_state_desc D_TMAP = {.name = "tm", .kind = SL_STATE_MAP, .ttl_ms = 100};
/* same name as D_VALUE, another kind */
static const sl_state_desc D_CLASH = {.name = "v", .kind = SL_STATE_MAP};

static int64_t g_now;
static int64_t fake_clock(void) { return g_now; }

typedef struct out_buf {
  char s[4096];
  size_t n;
} out_buf;

static void outf(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(out_buf *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(o->s + o->n, sizeof o->s - o->n, fmt, ap);
  va_end(ap);
  if (k > 0) o->n = SL__MIN(sizeof o->s - 1, o->n + (size_t)k);
}

static void out_bytes(out_buf *o, sl_bytes b) { outf(o, "%.*s", (int)b.len, (const char *)b.data); }

static int map_entry(void *ud, sl_bytes k, sl_bytes v) {
  out_buf *o = ud;
  outf(o, " ");
  out_bytes(o, k);
  outf(o, "=");
  out_bytes(o, v);
  return 0;
}

/* Map iteration order differs per backend: sort the " k=v" items. */
static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }
static void sort_items(out_buf *o, size_t from) {
  char *items[64];
  int n = 0;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", o->s + from);
  for (char *p = strtok(tmp, " "); p && n < 64; p = strtok(NULL, " ")) items[n++] = p;
  qsort(items, (size_t)n, sizeof *items, cmp_cstr);
  o->n = from;
  o->s[from] = 0;
  for (int i = 0; i < n; i++) outf(o, " %s", items[i]);
}

static const sl_state_desc *desc_of(char c, int ttl) {
  switch (c) {
    case 'v': return ttl ? &D_TVAL : &D_VALUE;
    case 'l': return ttl ? &D_TLIST : &D_LIST;
    case 'm': return ttl ? &D_TMAP : &D_MAP;
    case 'r': return &D_RED;
    case 'a': return &D_AGG;
    case 'R': return &D_TREAD;
    case 'X': return &D_CLASH;
  }
  return NULL;
}

/* Commands, ';'-separated:
 *   time T          set the fake clock
 *   ns NAME         namespace for the following commands ('-' = default)
 *   S set X         value / list / map / reducing / aggregating ops, where
 *   S get           S is v l m r a (or tv tl tm for the TTL variants, R for
 *   S add X         the read-refreshing TTL value, X for the clashing one)
 *   m put K V | m get K | m del K | m all
 *   S clear */
static int interpret(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *col) {
  char cmds[512];
  snprintf(cmds, sizeof cmds, "%.*s", (int)in->value_len, (const char *)in->value);
  out_buf o = {.n = 0};
  outf(&o, "%.*s:", (int)in->key_len, (const char *)in->key);
  char ns[64] = "";
  char *save = NULL;
  for (char *c = strtok_r(cmds, ";", &save); c; c = strtok_r(NULL, ";", &save)) {
    char w[4][64] = {{0}};
    int nw = sscanf(c, "%63s %63s %63s %63s", w[0], w[1], w[2], w[3]);
    if (nw <= 0) continue;
    if (!strcmp(w[0], "time")) {
      g_now = atoll(w[1]);
      continue;
    }
    if (!strcmp(w[0], "ns")) {
      snprintf(ns, sizeof ns, "%s", strcmp(w[1], "-") ? w[1] : "");
      continue;
    }
    int ttl = w[0][0] == 't' && w[0][1];
    const sl_state_desc *d = desc_of(ttl ? w[0][1] : w[0][0], ttl);
    sl_state *s;
    int rc = d ? sl_state_get(ctx, d, &s) : -SL_EINVAL;
    if (rc) return rc;
    if ((rc = sl_state_namespace(s, ns, (uint32_t)strlen(ns)))) return rc;
    const char *op = w[1];
    sl_bytes b;
    outf(&o, " [%s %s]", w[0], op);
    if (!strcmp(op, "clear")) {
      rc = sl_state_clear(s);
    } else if (d->kind == SL_STATE_VALUE) {
      if (!strcmp(op, "set")) rc = sl_value_set(s, w[2], (uint32_t)strlen(w[2]));
      else if ((rc = sl_value_get(s, &b)) == 0) out_bytes(&o, b);
      else if (rc == SL_EMPTY) outf(&o, "-"), rc = 0;
    } else if (d->kind == SL_STATE_LIST) {
      if (!strcmp(op, "add")) {
        rc = sl_list_add(s, w[2], (uint32_t)strlen(w[2]));
      } else if (!strcmp(op, "update")) {
        sl_bytes items[2] = {{w[2], (uint32_t)strlen(w[2])}, {w[3], (uint32_t)strlen(w[3])}};
        rc = sl_list_update(s, items, 2);
      } else {
        sl_list_iter it;
        rc = sl_list_get(s, &it);
        if (rc == SL_EMPTY) outf(&o, "-"), rc = 0;
        else
          while (sl_list_next(&it, &b)) out_bytes(&o, b), outf(&o, ",");
      }
    } else if (d->kind == SL_STATE_MAP) {
      if (!strcmp(op, "put"))
        rc = sl_map_put(s, w[2], (uint32_t)strlen(w[2]), w[3], (uint32_t)strlen(w[3]));
      else if (!strcmp(op, "del"))
        rc = sl_map_remove(s, w[2], (uint32_t)strlen(w[2]));
      else if (!strcmp(op, "all")) {
        size_t from = o.n;
        rc = sl_map_foreach(s, map_entry, &o);
        sort_items(&o, from);
      } else if ((rc = sl_map_get(s, w[2], (uint32_t)strlen(w[2]), &b)) == 0)
        out_bytes(&o, b);
      else if (rc == SL_EMPTY)
        outf(&o, "-"), rc = 0;
    } else if (d->kind == SL_STATE_REDUCING) {
      if (!strcmp(op, "add")) {
        int64_t v = atoll(w[2]);
        rc = sl_reducing_add(s, &v);
      } else if ((rc = sl_reducing_get(s, &b)) == 0) {
        int64_t v;
        memcpy(&v, b.data, 8);
        outf(&o, "%lld", (long long)v);
      } else if (rc == SL_EMPTY)
        outf(&o, "-"), rc = 0;
    } else {
      if (!strcmp(op, "add")) rc = sl_aggregating_add(s, w[2], (uint32_t)strlen(w[2]));
      else if ((rc = sl_aggregating_get(s, &b)) == 0) out_bytes(&o, b);
      else if (rc == SL_EMPTY) outf(&o, "-"), rc = 0;
    }
    if (rc < 0) return rc;
  }
  sl_record r = {in->ts, in->key, in->key_len, o.s, (uint32_t)o.n};
  return sl_emit(col, &r);
}

/* ---- running scripts ---------------------------------------------------------- */

typedef struct step {
  const char *key, *cmds;
} step;

static char g_err[2048];

/* Run the steps (in order, P=1) through key_by -> process; return the
 * outputs joined by '\n' (malloc'd), NULL on failure (g_err). */
static char *run_script(const step *steps, size_t n, const char *extra_kv) {
  sl_env *env = env_p(1);
  CHECK_EQ_INT(sl_env_set(env, "state.backend.type", g_backend), 0);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/rocksdb", g_tmp);
  sl_env_set(env, "state.backend.rocksdb.dir", dir);
  sl_env_set(env, "state.backend.rocksdb.block.cache-size", "1mb");
  sl_env_set(env, "state.backend.rocksdb.writebuffer.size", "1mb");
  if (extra_kv) CHECK_EQ_INT(sl_env_set_kv(env, extra_kv), 0);
  sl_record recs[64];
  for (size_t i = 0; i < n; i++)
    recs[i] = (sl_record){(int64_t)i, steps[i].key, (uint32_t)strlen(steps[i].key),
                          steps[i].cmds, (uint32_t)strlen(steps[i].cmds)};
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_collection_source(recs, n));
  s = sl_name(sl_process(sl_key_by(s, NULL, NULL), interpret, NULL), "interpret");
  sl_sink_to(s, sl_collect_sink(c));
  int rc = sl_execute(env, "state-script");
  char *res = NULL;
  if (rc) {
    snprintf(g_err, sizeof g_err, "%s", sl_env_last_error(env));
  } else {
    size_t total = 1;
    for (size_t i = 0; i < sl_collect_count(c); i++) {
      sl_record r;
      sl_collect_get(c, i, &r);
      total += r.value_len + 1;
    }
    res = calloc(1, total);
    for (size_t i = 0; i < sl_collect_count(c); i++) {
      sl_record r;
      sl_collect_get(c, i, &r);
      strncat(res, r.value, r.value_len);
      strcat(res, "\n");
    }
  }
  sl_collect_free(c);
  sl_env_free(env);
  return res;
}

static void expect_script(const step *steps, size_t n, const char *want) {
  char *got = run_script(steps, n, NULL);
  if (!got) fprintf(stderr, "  job failed: %s\n", g_err);
  CHECK_EQ_STR(got, want);
  free(got);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the suite ---------------------------------------------------------------- */

static void test_value_and_clear(void) {
  step s[] = {{"k1", "v get; v set a; v get"},
              {"k2", "v get; v set bb"},
              {"k1", "v get; v set ccc; v get"},
              {"k2", "v get; v clear; v get"},
              {"k1", "v get"}};
  expect_script(s, N(s),
                "k1: [v get]- [v set] [v get]a\n"
                "k2: [v get]- [v set]\n"
                "k1: [v get]a [v set] [v get]ccc\n"
                "k2: [v get]bb [v clear] [v get]-\n"
                "k1: [v get]ccc\n");
}

static void test_list(void) {
  step s[] = {{"k", "l get; l add x; l add yy"},
              {"j", "l add other"},
              {"k", "l get; l add z; l get"},
              {"k", "l update p q; l get; l clear; l get"},
              {"j", "l get"}};
  expect_script(s, N(s),
                "k: [l get]- [l add] [l add]\n"
                "j: [l add]\n"
                "k: [l get]x,yy, [l add] [l get]x,yy,z,\n"
                "k: [l update] [l get]p,q, [l clear] [l get]-\n"
                "j: [l get]other,\n");
}

static void test_map(void) {
  step s[] = {{"k", "m put a 1; m put b 2; m put c 3; m get b; m get zz"},
              {"j", "m put a 9; m all"},
              {"k", "m put b 22; m del a; m all; m get a"},
              {"k", "m clear; m all; m get b"},
              {"j", "m all"}};
  expect_script(s, N(s),
                "k: [m put] [m put] [m put] [m get]2 [m get]-\n"
                "j: [m put] [m all] a=9\n"
                "k: [m put] [m del] [m all] b=22 c=3 [m get]-\n"
                "k: [m clear] [m all] [m get]-\n"
                "j: [m all] a=9\n");
}

static void test_reducing_aggregating(void) {
  step s[] = {{"k", "r get; r add 5; r add 7; r get"},
              {"j", "r add -3; r get; a add 10"},
              {"k", "a get; a add 2; a add 4; a get"},
              {"j", "a add 20; a get; r clear; r get; a clear; a get"}};
  expect_script(s, N(s),
                "k: [r get]- [r add] [r add] [r get]12\n"
                "j: [r add] [r get]-3 [a add]\n"
                "k: [a get]- [a add] [a add] [a get]6/2\n"
                "j: [a add] [a get]30/2 [r clear] [r get]- [a clear] [a get]-\n");
}

static void test_namespaces(void) {
  step s[] = {{"k", "ns w1; v set one; l add a; m put x 1; r add 1"},
              {"k", "ns w2; v set two; l add b; r add 10; ns w1; v get; l get; r get"},
              {"k", "ns w2; v get; l get; m all; r get; ns -; v get"},
              {"k", "ns w1; m all; v clear; ns w2; v get; ns w1; v get"}};
  expect_script(s, N(s),
                "k: [v set] [l add] [m put] [r add]\n"
                "k: [v set] [l add] [r add] [v get]one [l get]a, [r get]1\n"
                "k: [v get]two [l get]b, [m all] [r get]10 [v get]-\n"
                "k: [m all] x=1 [v clear] [v get]two [v get]-\n");
}

static void test_ttl(void) {
  sl__state_set_clock(fake_clock);
  step s[] = {
      /* on-create-and-write: reads do not extend the 100 ms */
      {"k", "time 1000; tv set a; R set r; tl add e1; tm put x 1"},
      {"k", "time 1050; tv get; R get; tl add e2; tm put y 2"},
      /* t=1120: tv (written 1000) expired; R was read at 1050 -> lives to
       * 1150; e1 expired, e2 (1050) alive; x expired, y alive */
      {"k", "time 1120; tv get; R get; tl get; tm all; tm get x"},
      {"k", "time 1300; R get; tl get; tm all; tv set b; tv get"},
      {"k", "time 1399; tv get"},
      {"k", "time 1400; tv get"}};
  expect_script(s, N(s),
                "k: [tv set] [R set] [tl add] [tm put]\n"
                "k: [tv get]a [R get]r [tl add] [tm put]\n"
                "k: [tv get]- [R get]r [tl get]e2, [tm all] y=2 [tm get]-\n"
                "k: [R get]- [tl get] [tm all] [tv set] [tv get]b\n"
                "k: [tv get]b\n"
                "k: [tv get]-\n");
  sl__state_set_clock(NULL);
}

static void test_errors(void) {
  /* the same name with another kind */
  step s[] = {{"k", "v set 1; X put a b"}};
  char *got = run_script(s, 1, NULL);
  CHECK(got == NULL);
  CHECK_CONTAINS(g_err, "operator 'interpret'");
  CHECK_CONTAINS(g_err, "state 'v'");
  CHECK_CONTAINS(g_err, "declared as map state but was registered as value state");
  free(got);
}

/* state in an operator that is not keyed */
static int unkeyed_fn(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *col) {
  sl_state *s;
  int rc = sl_state_get(ctx, &D_VALUE, &s);
  return rc ? rc : sl_emit(col, in);
}
static void test_not_keyed(void) {
  sl_env *env = env_p(1);
  const char *one[] = {"x"};
  sl_stream *s = sl_source_stream(env, sl_lines_source(one, 1));
  sl_sink_to(sl_name(sl_process(s, unkeyed_fn, NULL), "plain"), sl_discard_sink());
  CHECK_EQ_INT(sl_execute(env, "unkeyed"), -SL_ESTATE);
  CHECK_CONTAINS(sl_env_last_error(env), "state 'v' used in operator 'plain', which is not keyed");
  sl_env_free(env);
}

static void test_rocksdb_dir_error(void) {
  if (strcmp(g_backend, "rocksdb")) return;
  char bad[1100];
  snprintf(bad, sizeof bad, "%s/afile", g_tmp);
  FILE *f = fopen(bad, "w");
  if (f) fclose(f);
  char kv[1200];
  snprintf(kv, sizeof kv, "state.backend.rocksdb.dir=%s/sub", bad);
  step s[] = {{"k", "v get"}};
  /* run_script sets the dir first; the extra key=value overrides it */
  char *got = run_script(s, 1, kv);
  CHECK(got == NULL);
  CHECK_CONTAINS(g_err, "operator 'interpret'");
  CHECK_CONTAINS(g_err, bad);
  free(got);
}

/* A disk with less free space than required fails the job cleanly, naming
 * the directory (RocksDB itself would abort on a full disk). */
static void test_rocksdb_disk_full_guard(void) {
  if (strcmp(g_backend, "rocksdb")) return;
  step s[] = {{"k", "v set 1"}};
  char *got = run_script(s, 1, "state.backend.rocksdb.min-free-disk=100000000gb");
  CHECK(got == NULL);
  CHECK_CONTAINS(g_err, "operator 'interpret'");
  CHECK_CONTAINS(g_err, "disk almost full at '");
  CHECK_CONTAINS(g_err, g_tmp);
  CHECK_CONTAINS(g_err, "state.backend.rocksdb.min-free-disk");
  free(got);
}

/* Results at P=1, 2 and 4 agree: per-key counters through value state. */
static int count_fn(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *col) {
  static const sl_state_desc cnt = {.name = "count", .kind = SL_STATE_VALUE};
  sl_state *s;
  sl_bytes b;
  int64_t n = 0;
  int rc = sl_state_get(ctx, &cnt, &s);
  if (!rc) rc = sl_value_get(s, &b);
  if (rc < 0) return rc;
  if (rc == 0) memcpy(&n, b.data, 8);
  n++;
  if ((rc = sl_value_set(s, &n, 8))) return rc;
  sl_record r = {in->ts, in->key, in->key_len, &n, 8};
  return sl_emit(col, &r);
}
static int key_mod(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t v;
  memcpy(&v, in->value, 8);
  uint32_t *k = sl_ctx_scratch(ctx, 4);
  *k = (uint32_t)(v % 1000);
  out->key = k;
  out->key_len = 4;
  return 0;
}
static void test_counts_across_parallelism(void) {
  for (int P = 1; P <= 4; P *= 2) {
    sl_env *env = env_p(P);
    sl_env_set(env, "state.backend.type", g_backend);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/rocksdb-count", g_tmp);
    sl_env_set(env, "state.backend.rocksdb.dir", dir);
    sl_collect *c = sl_collect_new();
    sl_stream *s = sl_source_stream(env, sl_sequence_source(0, 99999));
    s = sl_process(sl_key_by(s, key_mod, NULL), count_fn, NULL);
    sl_sink_to(s, sl_collect_sink(c));
    CHECK_EQ_INT(sl_execute(env, "count"), 0);
    CHECK_EQ_INT(sl_collect_count(c), 100000);
    static int64_t maxc[1000];
    memset(maxc, 0, sizeof maxc);
    for (size_t i = 0; i < sl_collect_count(c); i++) {
      sl_record r;
      sl_collect_get(c, i, &r);
      uint32_t k;
      int64_t n;
      memcpy(&k, r.key, 4);
      memcpy(&n, r.value, 8);
      if (k < 1000 && n > maxc[k]) maxc[k] = n;
    }
    int bad = 0;
    for (int k = 0; k < 1000; k++) bad += maxc[k] != 100; /* 100000 / 1000 */
    CHECK_EQ_INT(bad, 0);
    sl_collect_free(c);
    sl_env_free(env);
  }
}

int main(void) {
  scratch_init("/tmp/sl_test_state", 1);
  for (int b = 0; b < N_BACKENDS; b++) {
    g_backend = g_backends[b];
    fprintf(stderr, "== backend %s\n", g_backend);
    RUN(test_value_and_clear);
    RUN(test_list);
    RUN(test_map);
    RUN(test_reducing_aggregating);
    RUN(test_namespaces);
    RUN(test_ttl);
    RUN(test_errors);
    RUN(test_not_keyed);
    RUN(test_rocksdb_dir_error);
    RUN(test_rocksdb_disk_full_guard);
    RUN(test_counts_across_parallelism);
  }
  TEST_MAIN_END();
}

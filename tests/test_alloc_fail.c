/*
 * test_alloc_fail.c -- allocation-failure walk in SQLite's manner: a
 * stateful, checkpointed job runs again and again with an allocator
 * (sl_set_allocator) that fails exactly the Nth allocation (malloc or
 * realloc) of the run, for N = 1, 2, ... until a run completes without the
 * hook firing.  Every run must either fail cleanly -- a negative error code
 * with a message, no crash, no hang, and (LeakSanitizer, in the ASan build)
 * no leak -- or, when the library recovered from the failure, produce
 * exactly the output of a run without failures.
 *
 * The job: sequence 0..NREC-1 (timestamp = the number) -> monotonous
 * watermarks -> key v % 4 -> tumbling 100 ms windows reducing the sum ->
 * a window function formatting "start,key,sum" -> file sink into a
 * directory (part files), parallelism 1 so the allocations of a run come
 * in the same order each time as far as threads allow (the checkpoint
 * coordinator and writer threads still interleave with the worker).
 *
 * Walks:
 *   1. "final": checkpointing on with an interval far longer than the run,
 *      so the only checkpoint is the final one at the end of input (its
 *      files, metadata and the sink's commit): deterministic; every N.
 *   2. "periodic": the source is paced (source.datagen.rows-per-second) so
 *      a 10 ms interval takes several checkpoints while windows are open;
 *      the number of checkpoints varies a little with scheduling, so the
 *      allocations do too.  Each run takes ~50 ms, so N walks by a stride
 *      (STRIDE, or STRIDE_SMALL under SL_TEST_SMALL): every 2nd (3rd)
 *      allocation of the ~400 of a run; the set-up allocations it skips are
 *      the same as walk 1's, which covers each.
 *   3. "restore": a checkpoint taken in the middle of a run (windows open,
 *      timers pending) is restored; every N.  Both runs use a collect sink
 *      (a file sink's recovery needs the output directory as the checkpoint
 *      left it); a run that recovers must give the output of the restore
 *      without failures, which is checked against the reference (a part
 *      of it holding the last window).
 *   4. "rocksdb": walk 1 on the RocksDB backend, every 2nd (5th) N; the
 *      backend's working files must all be gone after each run.  (RocksDB's
 *      own allocations do not go through the hook.)
 *   5. on request (SL_ALLOC_P2=STRIDE): walk 2 at parallelism 2.
 * The allocation counter is atomic (the coordinator and writer threads
 * allocate too).  ~10 s in the normal build, ~20 s in the ASan build.
 * Debugging: SL_ALLOC_VERBOSE=1 prints a line per run, SL_ALLOC_FROM=N
 * starts the walks at N.
 */
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "test_util.h"

#define NREC 1000   /* 10 windows x 4 keys */
#define NKEYS 4
#define WIN_MS 100
#define STRIDE 2       /* walk 2 ("periodic"): every STRIDE-th N */
#define STRIDE_SMALL 3  /* ... under SL_TEST_SMALL (sanitizer builds) */
#define STRIDE_ROCKSDB 2 /* walk 4 ("rocksdb"), a RocksDB open costs ~10 ms */
#define STRIDE_ROCKSDB_SMALL 5

/* ---- the failing allocator ------------------------------------------------ */

static _Atomic long g_count;   /* allocations of this run */
static _Atomic long g_fail_at; /* 0: never fail */
static _Atomic int g_fired;

static int should_fail(void) {
  long n = atomic_fetch_add(&g_count, 1) + 1;
  if (n == atomic_load(&g_fail_at)) {
    atomic_store(&g_fired, 1);
    return 1;
  }
  return 0;
}
static void *t_malloc(size_t size) { return should_fail() ? NULL : malloc(size); }
static void *t_realloc(void *p, size_t size) {
  return should_fail() ? NULL : realloc(p, size);
}
static void t_free(void *p) { free(p); }

static void arm(long fail_at) {
  atomic_store(&g_count, 0);
  atomic_store(&g_fired, 0);
  atomic_store(&g_fail_at, fail_at);
}

/* ---- the job -------------------------------------------------------------- */

static int64_t v64(const void *p) {
  int64_t v;
  memcpy(&v, p, 8);
  return v;
}

static int64_t ts_of(void *ud, const sl_record *in) { return in->ts; }

static int key4(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  uint8_t *k = sl_ctx_scratch(ctx, 1);
  if (!k) return -SL_ENOMEM;
  *k = (uint8_t)('0' + v64(in->value) % NKEYS);
  out->key = k;
  out->key_len = 1;
  return 0;
}

static int sum(void *ud, sl_ctx *ctx, const sl_record *acc, const sl_record *in,
               sl_record *out) {
  int64_t *s = sl_ctx_scratch(ctx, 8);
  if (!s) return -SL_ENOMEM;
  *s = v64(acc->value) + v64(in->value);
  out->value = s;
  return 0;
}

static int format(void *ud, sl_ctx *ctx, const sl_window *w, sl_window_elems *elems,
                  sl_collector *out) {
  sl_record r;
  sl_bytes key;
  if (sl_window_next(elems, &r) != 1) return sl_ctx_fail(ctx, "no element");
  if (sl_ctx_key(ctx, &key) || key.len != 1) return sl_ctx_fail(ctx, "no key");
  char *line = sl_ctx_scratch(ctx, 64);
  if (!line) return -SL_ENOMEM;
  int n = snprintf(line, 64, "%lld,%c,%lld", (long long)w->start,
                   *(const char *)key.data, (long long)v64(r.value));
  sl_record o = {w->end - 1, NULL, 0, line, (uint32_t)n};
  return sl_emit(out, &o);
}

typedef struct run_cfg {
  const char *name;
  const char *interval; /* execution.checkpointing.interval */
  const char *rate;     /* source.datagen.rows-per-second, NULL: unpaced */
  const char *restore;  /* execution.checkpointing.restore, NULL: none */
  const char *ck;       /* state.checkpoints.dir */
  const char *out;      /* output directory (file sink) */
  int collect;          /* a collect sink instead of the file sink */
  const char *rocksdb;  /* the RocksDB backend with its files here, NULL: heap */
  const char *P;        /* parallelism, NULL: 1 */
  char *got;            /* collect: its records' values, sorted lines */
} run_cfg;

static char *join_sorted(lines *l);

/* Builds and runs the job; returns sl_execute's code (or the first error
 * while building), the environment's message in err. */
static int run_job(run_cfg *c, char *err, size_t errcap) {
  err[0] = 0;
  sl_env *env = sl_env_new();
  if (!env) {
    snprintf(err, errcap, "sl_env_new: NULL");
    return -SL_ENOMEM;
  }
  const char *kv[][2] = {
      {"parallelism.default", c->P ? c->P : "1"},
      {"restart-strategy.type", "none"},
      {"execution.handle-signals", "false"},
      {"pipeline.auto-watermark-interval", "0"},
      {"execution.checkpointing.interval", c->interval},
      {"state.checkpoints.dir", c->ck},
      {"state.checkpoints.num-retained", "1000"},
      {"source.datagen.rows-per-second", c->rate ? c->rate : "0"},
      {"execution.checkpointing.restore", c->restore ? c->restore : ""},
      {"state.backend.type", c->rocksdb ? "rocksdb" : "hashmap"},
      {"state.backend.rocksdb.dir", c->rocksdb ? c->rocksdb : ""},
  };
  int rc = 0;
  for (size_t i = 0; !rc && i < sizeof kv / sizeof kv[0]; i++) {
    rc = sl_env_set(env, kv[i][0], kv[i][1]);
    if (rc) snprintf(err, errcap, "sl_env_set %s: %s", kv[i][0], sl_env_last_error(env));
  }
  if (!rc) {
    sl_watermark_strategy wm = {.kind = SL_WM_MONOTONOUS};
    sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .size_ms = WIN_MS};
    sl_stream *s = sl_source_stream(env, sl_sequence_source(0, NREC - 1));
    s = sl_assign_timestamps(s, ts_of, NULL, &wm);
    s = sl_window_reduce(sl_key_by(s, key4, NULL), &w, sum, format, NULL);
    sl_collect *coll = c->collect ? sl_collect_new() : NULL;
    int src = sl_sink_to(s, c->collect ? (coll ? sl_collect_sink(coll) : NULL)
                                       : sl_file_sink(c->out));
    rc = sl_execute(env, c->name);
    if (coll) {
      lines l = {0};
      for (size_t i = 0; i < sl_collect_count(coll); i++) {
        sl_record r;
        if (!sl_collect_get(coll, i, &r)) lines_add(&l, r.value, r.value_len);
      }
      free(c->got);
      c->got = join_sorted(&l);
      sl_collect_free(coll);
    }
    if (!rc && src) {
      /* the graph was incomplete, yet the job "succeeded" */
      snprintf(err, errcap, "sl_sink_to failed (%d) but sl_execute returned 0", src);
      rc = 1;
    } else if (rc) {
      snprintf(err, errcap, "%s", sl_env_last_error(env));
    }
  }
  sl_env_free(env);
  return rc;
}

/* The lines sorted, each ending in '\n', as one string; frees l. */
static char *join_sorted(lines *l) {
  lines_sort(l);
  size_t cap = 1, off = 0;
  for (size_t i = 0; i < l->n; i++) cap += strlen(l->v[i]) + 1;
  char *all = malloc(cap);
  for (size_t i = 0; i < l->n; i++) {
    size_t n = strlen(l->v[i]);
    memcpy(all + off, l->v[i], n);
    all[off + n] = '\n';
    off += n + 1;
  }
  all[off] = 0;
  lines_free(l);
  return all;
}

/* The committed output (part-* files) sorted, as one string; NULL when a
 * file is still in progress. */
static char *read_output(const char *dir) {
  lines l = {0};
  DIR *d = opendir(dir);
  struct dirent *e;
  int inprogress = 0;
  while (d && (e = readdir(d))) {
    if (strstr(e->d_name, "inprogress")) inprogress = 1;
    if (strncmp(e->d_name, "part-", 5)) continue;
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    size_t len;
    char *text = read_file(p, &len);
    if (text) lines_split_copy(&l, text, len);
    free(text);
  }
  if (d) closedir(d);
  char *all = join_sorted(&l);
  if (inprogress) {
    free(all);
    return NULL;
  }
  return all;
}

/* The reference, computed directly: window [100w, 100w+100), key k: the
 * sum of v in it with v % 4 == k. */
static char *reference(void) {
  lines l = {0};
  for (int w = 0; w < NREC / WIN_MS; w++)
    for (int k = 0; k < NKEYS; k++) {
      long long s = 0;
      for (int v = w * WIN_MS; v < (w + 1) * WIN_MS; v++)
        if (v % NKEYS == k) s += v;
      char buf[64];
      int n = snprintf(buf, sizeof buf, "%d,%c,%lld", w * WIN_MS, '0' + k, s);
      lines_add(&l, buf, (size_t)n);
    }
  return join_sorted(&l);
}

static char *g_ref;
static int g_verbose; /* SL_ALLOC_VERBOSE=1: a line per run */
static long g_from = 1; /* SL_ALLOC_FROM=N: start the walks at N (debugging) */

/* One walk: N = 1, 1 + stride, 1 + 2 stride, ... until a run does not
 * fire the hook.  Returns the number of runs. */
static int walk(run_cfg *c, const char *want, long stride) {
  int runs = 0, failed = 0, recovered = 0, enomem = 0;
  long n = g_from;
  for (;; n += stride) {
    if (c->out) rm_rf(c->out);
    rm_rf(c->ck);
    char err[1024];
    arm(n);
    int rc = run_job(c, err, sizeof err);
    int fired = atomic_load(&g_fired);
    long total = atomic_load(&g_count);
    arm(0);
    runs++;
    if (g_verbose)
      fprintf(stderr, "  %s: N=%ld fired=%d rc=%d %s\n", c->name, n, fired, rc, err);
    if (!fired) {
      /* the end of the walk: a run past the last allocation */
      CHECK_EQ_INT(rc, 0);
      if (rc) fprintf(stderr, "  %s: run without failure: %s\n", c->name, err);
      char *got = c->collect ? strdup(c->got) : read_output(c->out);
      CHECK_EQ_STR(got, want);
      free(got);
      fprintf(stderr, "  %s: %d runs (N = 1..%ld, %ld allocations in a full run): "
              "%d failed cleanly (%d with -SL_ENOMEM), %d recovered\n",
              c->name, runs, n, total, failed, enomem, recovered);
      return runs;
    }
    if (rc < 0) {
      failed++;
      enomem += rc == -SL_ENOMEM;
      if (!err[0]) fprintf(stderr, "  %s: N=%ld: error %s without a message\n", c->name, n,
                           sl_err_name(rc));
      CHECK(err[0] != 0);
    } else if (rc > 0) {
      fprintf(stderr, "  %s: N=%ld: %s\n", c->name, n, err);
      CHECK(rc <= 0);
    } else {
      /* the library recovered from the failed allocation: the output must
       * be exact */
      recovered++;
      char *got = c->collect ? strdup(c->got) : read_output(c->out);
      if (!got || strcmp(got, want)) {
        fprintf(stderr, "  %s: N=%ld: sl_execute returned 0 with wrong output\n", c->name, n);
        CHECK_EQ_STR(got, want);
      }
      free(got);
    }
    if (t_failures > 20) return runs; /* enough to read */
  }
}

static void test_final_checkpoint(void) {
  char ck[700], out[700];
  run_cfg c = {.name = "alloc-final", .interval = "1h", .ck = tpath(ck, sizeof ck, "final-ck")};
  snprintf(out, sizeof out, "%s/final-out/", g_tmp);
  c.out = out;
  walk(&c, g_ref, 1);
}

static void test_periodic_checkpoints(void) {
  char ck[700], out[700];
  /* 1000 records at 20000/s: ~50 ms, checkpoints every 10 ms */
  run_cfg c = {.name = "alloc-periodic", .interval = "10ms", .rate = "20000",
               .ck = tpath(ck, sizeof ck, "periodic-ck")};
  snprintf(out, sizeof out, "%s/periodic-out/", g_tmp);
  c.out = out;
  walk(&c, g_ref, getenv("SL_TEST_SMALL") ? STRIDE_SMALL : STRIDE);
}

/* Walk 4: walk 1 on the RocksDB backend, every STRIDE_ROCKSDB-th N (a
 * build without RocksDB skips it). */
#ifdef SLUICE_WITH_ROCKSDB
static void test_rocksdb(void) {
  char ck[700], out[700], rocks[700];
  run_cfg c = {.name = "alloc-rocksdb", .interval = "1h",
               .ck = tpath(ck, sizeof ck, "rocksdb-ck"),
               .rocksdb = tpath(rocks, sizeof rocks, "rocksdb-files")};
  snprintf(out, sizeof out, "%s/rocksdb-out/", g_tmp);
  c.out = out;
  walk(&c, g_ref, getenv("SL_TEST_SMALL") ? STRIDE_ROCKSDB_SMALL : STRIDE_ROCKSDB);
  /* every run removed its working files */
  DIR *d = opendir(rocks);
  struct dirent *e;
  int left = 0;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.') {
      fprintf(stderr, "  alloc-rocksdb: left behind: %s\n", e->d_name);
      left++;
    }
  if (d) closedir(d);
  CHECK_EQ_INT(left, 0);
}
#endif

/* Walk 5 (on request only: SL_ALLOC_P2=STRIDE): walk 2 at parallelism 2,
 * where a failure on one worker has to stop the other; ~30 s with stride 1
 * in the ASan build. */
static void test_parallelism_2(void) {
  char ck[700], out[700];
  run_cfg c = {.name = "alloc-p2", .interval = "10ms", .rate = "20000", .P = "2",
               .ck = tpath(ck, sizeof ck, "p2-ck")};
  snprintf(out, sizeof out, "%s/p2-out/", g_tmp);
  c.out = out;
  long stride = atol(getenv("SL_ALLOC_P2"));
  walk(&c, g_ref, stride > 0 ? stride : 1);
}

/* Walk 3: restore a checkpoint taken while windows were open.  A collect
 * sink on both sides (a file sink's recovery needs the output directory as
 * the checkpoint left it, which each run would have to recreate). */
static void test_restore(void) {
  char ck[700], ck2[700], chk[800], err[1024];
  /* the checkpoint: a paced run without failures, checkpoints every 10 ms;
   * chk-1 comes ~10 ms into the ~50 ms run, with windows open */
  run_cfg prep = {.name = "alloc-prep", .interval = "10ms", .rate = "20000",
                  .ck = tpath(ck, sizeof ck, "restore-ck"), .collect = 1};
  rm_rf(ck);
  CHECK_EQ_INT(run_job(&prep, err, sizeof err), 0);
  CHECK_EQ_STR(prep.got, g_ref);
  free(prep.got);
  snprintf(chk, sizeof chk, "%s/chk-1", ck);
  /* the output of a restore without failures: the windows that had not
   * fired at chk-1, so a non-empty part of the reference that holds the
   * last window's four lines */
  run_cfg c = {.name = "alloc-restore", .interval = "1h", .restore = chk,
               .ck = tpath(ck2, sizeof ck2, "restore-ck2"), .collect = 1};
  rm_rf(ck2);
  int rc = run_job(&c, err, sizeof err);
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  restore: %s\n", err);
  char *want = c.got;
  c.got = NULL;
  if (!want) return;
  lines l = {0};
  lines_split_copy(&l, want, strlen(want));
  size_t n_lines = l.n;
  CHECK(l.n >= 4);
  for (size_t i = 0; i < l.n; i++) {
    char line[80];
    snprintf(line, sizeof line, "%s\n", l.v[i]);
    if (!strstr(g_ref, line)) fprintf(stderr, "  restore: '%s' is not in the reference\n", l.v[i]);
    CHECK(strstr(g_ref, line) != NULL);
  }
  lines_free(&l);
  for (int k = 0; k < NKEYS; k++) {
    char last[32];
    snprintf(last, sizeof last, "%d,%c,", NREC - WIN_MS, '0' + k);
    CHECK(strstr(want, last) != NULL);
  }
  fprintf(stderr, "  restore: %zu result lines after chk-1 (of %d)\n", n_lines,
          NREC / WIN_MS * NKEYS);
  walk(&c, want, 1);
  free(c.got);
  free(want);
}

int main(void) {
  scratch_init("/tmp/sluice-test-alloc-fail", 1);
  g_ref = reference();
  g_verbose = getenv("SL_ALLOC_VERBOSE") != NULL;
  if (getenv("SL_ALLOC_FROM")) g_from = atol(getenv("SL_ALLOC_FROM"));
  sl_allocator a = {t_malloc, t_realloc, t_free};
  sl_set_allocator(&a);
  RUN(test_final_checkpoint);
  RUN(test_periodic_checkpoints);
  RUN(test_restore);
#ifdef SLUICE_WITH_ROCKSDB
  RUN(test_rocksdb);
#endif
  if (getenv("SL_ALLOC_P2")) RUN(test_parallelism_2);
  sl_set_allocator(NULL);
  free(g_ref);
  TEST_MAIN_END();
}

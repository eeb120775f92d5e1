/*
 * test_stop.c -- stopping a job: cancel (stop without drain) fires nothing
 * and a job resumed from its final checkpoint produces exactly the output of
 * a run never stopped, after any number of stops; stop with drain fires
 * every window of what was read; signals reach every job running in the
 * process and the previous disposition comes back when the last one ends;
 * an idle worker sleeps and wakes for timer output; the window fast path
 * and the general path resume each other's checkpoints.
 *
 * The stops are deterministic: a map stops the job when it sees a given
 * record, so a stop lands at the same point of the input in every run.
 */
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>

#include "test.h"
#include "test_util.h"

#define N 60000    /* sequence 0..N-1, event time = value */
#define KEYS 10    /* key = value % KEYS (key10) */
#define WIN 1000   /* tumbling windows: 100 records per key and window */

static int64_t v64(const void *p) {
  int64_t v;
  memcpy(&v, p, 8);
  return v;
}

static int64_t ts_of(void *ud, const sl_record *in) { return v64(in->value); }

/* Stops its job (drain or not) at the `at`-th record it sees (-1: never). */
typedef struct stopper {
  sl_env *env;
  int64_t at;
  int drain;
  _Atomic int64_t seen;
} stopper;
static int stop_map(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  stopper *s = ud;
  if (atomic_fetch_add(&s->seen, 1) + 1 == s->at) sl_stop(s->env, s->drain);
  return 0;
}

static int cnt_merge(void *ud, void *acc, const void *other) {
  ((count_acc *)acc)->n += ((const count_acc *)other)->n;
  return 0;
}
static const sl_state_desc COUNT_M = {.name = "count", .kind = SL_STATE_AGGREGATING,
                                      .size = sizeof(count_acc), .agg_create = cnt_create,
                                      .agg_add = cnt_add, .agg_merge = cnt_merge,
                                      .agg_result = cnt_result};

#define SLIDE (WIN / 4)
#define N_ENDS ((N + WIN) / SLIDE) /* window ends SLIDE, 2 SLIDE, ... */

/* sequence -> stop_map -> timestamps (monotonous, a watermark per record)
 * -> key -> count over windows of WIN sliding by `slide` (tumbling when
 * slide = WIN) -> collect, on `backend` with the window fast path on or
 * off; checkpoints in dir. */
static sl_env *path_job(int P, const char *dir, const char *restore, stopper *st,
                        sl_collect *c, int64_t slide, const char *backend, int fast) {
  sl_env *env = env_p(P);
  sl_env_set(env, "state.checkpoints.dir", dir);
  sl_env_set(env, "execution.checkpointing.interval", "20ms");
  sl_env_set(env, "pipeline.auto-watermark-interval", "0");
  sl_env_set(env, "state.backend.type", backend);
  sl_env_set(env, "state.backend.hashmap.window-fast-path", fast ? "true" : "false");
  if (restore) sl_env_set(env, "execution.checkpointing.restore", restore);
  st->env = env;
  sl_watermark_strategy ws = {.kind = SL_WM_MONOTONOUS};
  sl_window_spec w = {.kind = slide == WIN ? SL_WINDOW_TUMBLING : SL_WINDOW_SLIDING,
                      .size_ms = WIN, .slide_ms = slide};
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, N - 1));
  s = sl_map(s, stop_map, st);
  s = sl_key_by(sl_assign_timestamps(s, ts_of, NULL, &ws), key10, NULL);
  sl_sink_to(sl_window_aggregate(s, &w, &COUNT_M, NULL, NULL), sl_collect_sink(c));
  return env;
}

/* The stop tests' job: tumbling windows on the default backend. */
static sl_env *window_job(int P, const char *dir, const char *restore, stopper *st,
                          sl_collect *c) {
  return path_job(P, dir, restore, st, c, WIN, "hashmap", 1);
}

/* Adds the firings in c of windows ending every `slide` ms (window m ends
 * at (m + 1) * slide; a firing's timestamp is its window's end - 1) to
 * fired[m][key] and their counts to counts[m][key], for m < n_wins;
 * returns the records they count. */
static int64_t tally(sl_collect *c, int64_t slide, int64_t n_wins, int (*fired)[KEYS],
                     int64_t (*counts)[KEYS]) {
  int64_t total = 0;
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    int k = *(const uint8_t *)r.key;
    int64_t m = (r.ts + 1) / slide - 1;
    count_acc a;
    memcpy(&a, r.value, sizeof a);
    CHECK(k >= 0 && k < KEYS && m >= 0 && m < n_wins && (r.ts + 1) % slide == 0);
    if (k < 0 || k >= KEYS || m < 0 || m >= n_wins) continue;
    fired[m][k]++;
    counts[m][k] += a.n;
    total += a.n;
  }
  return total;
}

/* Three stops without drain at P=2 (one resumed at P=3), then a run to the
 * end: every window fired exactly once with all of its 100 records. */
static void test_stop_without_drain_resumes_exactly(void) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/nodrain", g_tmp);
  rm_rf(dir);
  static int fired[N / WIN][KEYS];
  static int64_t counts[N / WIN][KEYS];
  memset(fired, 0, sizeof fired);
  memset(counts, 0, sizeof counts);
  const int64_t stops[] = {7777, 13000, 9000, -1};
  const int Ps[] = {2, 2, 3, 2};
  for (int run = 0; run < 4; run++) {
    sl_collect *c = sl_collect_new();
    stopper st = {NULL, stops[run], 0, 0};
    sl_env *env = window_job(Ps[run], dir, run ? "latest" : NULL, &st, c);
    int rc = sl_execute(env, "nodrain");
    if (rc && rc != -SL_ECANCELED) fprintf(stderr, "%s\n", sl_env_last_error(env));
    CHECK_EQ_INT(rc, stops[run] >= 0 ? -SL_ECANCELED : 0);
    sl_job_stats js;
    sl_job_stats_get(env, &js);
    int64_t n = tally(c, WIN, N / WIN, fired, counts);
    if (getenv("DEBUG")) fprintf(stderr, "run %d: read %llu fired %lld\n", run, (unsigned long long)js.records_in, (long long)n);
    /* nothing fires on a stop: what fired is below what was read */
    if (stops[run] >= 0) CHECK(n < (int64_t)js.records_in);
    sl_collect_free(c);
    sl_env_free(env);
  }
  int once = 0, full = 0;
  for (int w = 0; w < N / WIN; w++)
    for (int k = 0; k < KEYS; k++) {
      once += fired[w][k] == 1;
      full += counts[w][k] == WIN / KEYS;
      if (getenv("DEBUG") && (fired[w][k] != 1 || counts[w][k] != WIN / KEYS))
        fprintf(stderr, "  window %d key %d: fired %d, count %lld\n", w, k, fired[w][k],
                (long long)counts[w][k]);
    }
  CHECK_EQ_INT(once, N / WIN * KEYS);
  CHECK_EQ_INT(full, N / WIN * KEYS);
}

/* ---- the window fast path and the general path share checkpoints ---------------------- */

/* Four runs, three stopped without drain, alternating the fast path (heap)
 * and the general path (heap with the fast path off, or RocksDB), at
 * parallelism 2, 3, 1, 2: each resumes the previous one's final
 * checkpoint, and in the end every window fired exactly once with exactly
 * its records (counted here from the sequence). */
static void cross_path(int64_t slide) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/paths-%lld", g_tmp, (long long)slide);
  rm_rf(dir);
  static int fired[N_ENDS][KEYS];
  static int64_t counts[N_ENDS][KEYS];
  memset(fired, 0, sizeof fired);
  memset(counts, 0, sizeof counts);
  const int64_t stops[] = {7777, 13000, 9000, -1};
  const int Ps[] = {2, 3, 1, 2};
  const char *general = N_BACKENDS > 1 ? g_backends[1] : "hashmap";
  for (int run = 0; run < 4; run++) {
    sl_collect *c = sl_collect_new();
    stopper st = {NULL, stops[run], 0, 0};
    int fast = run % 2 == 0;
    sl_env *env = path_job(Ps[run], dir, run ? "latest" : NULL, &st, c, slide,
                           fast ? "hashmap" : run == 1 ? general : "hashmap", fast);
    int rc = sl_execute(env, "paths");
    if (rc && rc != -SL_ECANCELED) fprintf(stderr, "  %s\n", sl_env_last_error(env));
    CHECK_EQ_INT(rc, stops[run] >= 0 ? -SL_ECANCELED : 0);
    tally(c, slide, N_ENDS, fired, counts);
    sl_collect_free(c);
    sl_env_free(env);
  }
  int bad = 0;
  for (int64_t m = 0; m < N_ENDS; m++)
    for (int k = 0; k < KEYS; k++) {
      int64_t end = (m + 1) * slide, want = 0;
      for (int64_t v = end - WIN < 0 ? 0 : end - WIN; v < end && v < N; v++) want += v % KEYS == k;
      int ok = want ? fired[m][k] == 1 && counts[m][k] == want : fired[m][k] == 0;
      if (!ok && bad++ < 5)
        fprintf(stderr, "  window ending %lld, key %d: fired %d times, %lld records, want %lld\n",
                (long long)end, k, fired[m][k], (long long)counts[m][k], (long long)want);
    }
  CHECK_EQ_INT(bad, 0);
}

static void test_fast_and_general_window_paths_share_checkpoints(void) {
  cross_path(WIN);   /* tumbling */
  cross_path(SLIDE); /* sliding: each record in 4 windows */
}

/* Stop with drain: every window of what was read fires (partial ones
 * too), so the firings count exactly the records read. */
static void test_stop_with_drain_fires_everything(void) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/drain", g_tmp);
  rm_rf(dir);
  static int fired[N / WIN][KEYS];
  static int64_t counts[N / WIN][KEYS];
  memset(fired, 0, sizeof fired);
  memset(counts, 0, sizeof counts);
  sl_collect *c = sl_collect_new();
  stopper st = {NULL, 12345, 1, 0};
  sl_env *env = window_job(2, dir, NULL, &st, c);
  CHECK_EQ_INT(sl_execute(env, "drain"), -SL_ECANCELED);
  sl_job_stats js;
  sl_job_stats_get(env, &js);
  CHECK(js.records_in >= 12345 && js.records_in < N);
  CHECK_EQ_INT(tally(c, WIN, N / WIN, fired, counts), (int64_t)js.records_in);
  sl_collect_free(c);
  sl_env_free(env);
}

/* ---- signals with two jobs in one process --------------------------------------- */

static volatile sig_atomic_t g_own;
static void own_handler(int sig) { g_own++; }

static void test_signal_stops_every_job_and_restores(void) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = own_handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  bg_job a = {0}, b = {0};
  sl_env *ea = env_p(1), *eb = env_p(2);
  sl_env_set(ea, "source.datagen.rows-per-second", "2000");
  sl_env_set(eb, "source.datagen.rows-per-second", "2000");
  bg_start(&a, ea, sl_sequence_source(0, 1000000000), "sig-a");
  bg_start(&b, eb, sl_sequence_source(0, 1000000000), "sig-b");
  CHECK(wait_seen(&a, 10) && wait_seen(&b, 10)); /* both run: both registered */
  kill(getpid(), SIGINT);
  bg_join(&a);
  bg_join(&b);
  CHECK_EQ_INT(a.rc, -SL_ECANCELED);
  CHECK_EQ_INT(b.rc, -SL_ECANCELED);
  CHECK_EQ_INT(g_own, 0); /* the library handled the first one */
  kill(getpid(), SIGINT); /* now ours again, not the library's */
  CHECK_EQ_INT(g_own, 1);
  bg_free(&a);
  bg_free(&b);
  sigaction(SIGINT, &old, NULL);
}

/* ---- an idle job sleeps; timer output reaches the sink while idle ---------------- */

static int64_t cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 +
         (int64_t)ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
}

static int const_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  out->key = "k";
  out->key_len = 1;
  return 0;
}
static int count_text(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  count_acc a;
  memcpy(&a, in->value, sizeof a);
  char *buf = sl_ctx_scratch(ctx, 32);
  out->value = buf;
  out->value_len = (uint32_t)snprintf(buf, 32, "count=%lld", (long long)a.n);
  return 0;
}

/* A continuous file source that has read its one line, a processing-time
 * window of 200 ms: the window fires while nothing else arrives, and its
 * output reaches the file sink's file without another record or the end
 * of the job.  Meanwhile the idle job sleeps: little CPU. */
static void test_idle_job_sleeps_and_flushes_timers(void) {
  char in[1024], f[1100];
  snprintf(in, sizeof in, "%s/idle-in", g_tmp);
  rm_rf(in);
  mkdir_p(in);
  int port, lfd = listen_loopback(&port, 4);
  CHECK(lfd >= 0);
  snprintf(f, sizeof f, "%s/a.txt", in);
  FILE *fp = fopen(f, "w");
  fputs("hello\n", fp);
  fclose(fp);
  sl_env *env = env_p(2);
  sl_env_set(env, "source.monitor-interval", "50ms");
  bg_job j = {0};
  j.env = env;
  j.name = "idle";
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_PROCESSING, .size_ms = 200};
  sl_stream *s = sl_source_stream(env, sl_file_source(in));
  s = sl_map(s, count_map, (void *)&j.seen);
  s = sl_window_aggregate(sl_key_by(s, const_key, NULL), &w, &COUNT, NULL, NULL);
  sl_sink_to(sl_map(s, count_text, NULL), sl_socket_sink("127.0.0.1", port));
  CHECK_EQ_INT(pthread_create(&j.thread, NULL, bg_main, &j), 0);
  CHECK(wait_seen(&j, 1));
  /* the sink's subtask with the key connects; read what it sends, up to
   * 10 s (the job stays running: the line must come without its end) */
  char got[64] = "";
  size_t n = 0;
  int cfd = -1;
  for (int i = 0; i < 1000 && !strchr(got, '\n'); i++) {
    struct pollfd p = {.fd = cfd < 0 ? lfd : cfd, .events = POLLIN};
    if (poll(&p, 1, 10) <= 0) continue;
    if (cfd < 0) {
      cfd = accept(lfd, NULL, NULL);
      continue;
    }
    ssize_t k = read(cfd, got + n, sizeof got - 1 - n);
    if (k > 0) got[n += (size_t)k] = 0;
  }
  CHECK_EQ_STR(got, "count=1\n");
  int64_t cpu0 = cpu_ms(), t0 = now_ms();
  sleep_ms(1000);
  int64_t cpu = cpu_ms() - cpu0, wall = now_ms() - t0;
  fprintf(stderr, "  idle: %lld ms of CPU in %lld ms\n", (long long)cpu, (long long)wall);
  /* parked workers: a few ms; a spinning or 200-us back-off uses far more */
  CHECK(cpu * 100 < wall * 5);
  sl_cancel(env);
  bg_join(&j);
  CHECK_EQ_INT(j.rc, -SL_ECANCELED);
  sl_env_free(env);
  if (cfd >= 0) close(cfd);
  close(lfd);
}

/* ---- a stop is never stuck behind a blocked source or sink ---------------------- */

/* Runs env in a thread, cancels it after it has run ~300 ms, and checks it
 * ends promptly with -SL_ECANCELED. */
static void cancel_and_wait(sl_env *env, const char *name) {
  bg_job j = {0};
  j.env = env;
  j.name = name;
  CHECK_EQ_INT(pthread_create(&j.thread, NULL, bg_main, &j), 0);
  alarm(30); /* a stop that does not stop kills the test (SIGALRM) */
  sleep_ms(300);
  int64_t t0 = now_ms();
  sl_cancel(env);
  bg_join(&j);
  fprintf(stderr, "  %s stopped %lld ms after the request\n", name, (long long)(now_ms() - t0));
  alarm(0);
  CHECK_EQ_INT(j.rc, -SL_ECANCELED);
}

/* A FIFO nobody writes to: opening it must not block the worker. */
static void test_stop_fifo_without_writer(void) {
  char fifo[1024];
  snprintf(fifo, sizeof fifo, "%s/fifo", g_tmp);
  unlink(fifo);
  CHECK_EQ_INT(mkfifo(fifo, 0600), 0);
  sl_env *env = env_p(1);
  sl_sink_to(sl_source_stream(env, sl_file_source(fifo)), sl_discard_sink());
  cancel_and_wait(env, "fifo");
  sl_env_free(env);
}

static int big_value(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  char *buf = sl_ctx_scratch(ctx, 4000);
  memset(buf, 'x', 4000);
  out->value = buf;
  out->value_len = 4000;
  return 0;
}

/* A socket sink whose peer never reads (connected through the listen
 * backlog, never accepted): its buffers fill and send would block. */
static void test_stop_socket_sink_peer_not_reading(void) {
  int port, lfd = listen_loopback(&port, 4);
  CHECK(lfd >= 0);
  sl_env *env = env_p(1);
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, 100000000));
  sl_sink_to(sl_map(s, big_value, NULL), sl_socket_sink("127.0.0.1", port));
  cancel_and_wait(env, "socket-sink");
  CHECK(strstr(sl_env_last_error(env), "did not read") != NULL);
  sl_env_free(env);
  close(lfd);
}

int main(void) {
  scratch_init("/tmp/sl_test_stop", 1);
  RUN(test_stop_without_drain_resumes_exactly);
  RUN(test_stop_with_drain_fires_everything);
  RUN(test_fast_and_general_window_paths_share_checkpoints);
  RUN(test_signal_stops_every_job_and_restores);
  RUN(test_idle_job_sleeps_and_flushes_timers);
  RUN(test_stop_fifo_without_writer);
  RUN(test_stop_socket_sink_peer_not_reading);
  return t_failures ? 1 : 0;
}

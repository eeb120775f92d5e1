/*
 * test_supervisor.c -- supervised jobs (execution.supervised,
 * restart-strategy.*): a user function that abort()s takes down only the
 * child process; the supervisor restarts it or fails the job as the
 * strategy says, with the crash as the error; restarted attempts resume
 * from the latest checkpoint and the exactly-once file sink's output holds
 * every record once; cancellation reaches the child; in-process sinks are
 * refused.
 *
 * Crashes are counted across processes with marker files: the map (on
 * subtask 0) aborts at its trigger record only while fewer than g_crashes
 * markers exist, and creates one (O_EXCL) first.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>

#include "test_util.h"

static int g_crashes;      /* crashes wanted in total */
static int64_t g_every;    /* crash k (0-based) happens at a record v with
                            * v % 8000 >= (k+1)*g_every (8000: a subtask's
                            * share of 24000 at P=3) */
static int g_slow;         /* sleep 1 ms every this many records (0: never) */

static int markers(void) {
  int n = 0;
  char p[1100], name[32];
  for (;; n++) {
    snprintf(name, sizeof name, "crash-%d", n);
    if (access(tpath(p, sizeof p, name), F_OK) != 0) return n;
  }
}

static int crashy(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t v;
  memcpy(&v, in->value, 8);
  if (g_slow && v % g_slow == 0) sleep_ms(1);
  int k = markers();
  /* subtask 0 only: two threads crashing at once could both leave a marker */
  if (sl_ctx_subtask(ctx) == 0 && k < g_crashes && v % 8000 >= (k + 1) * g_every) {
    char p[1100], name[32];
    snprintf(name, sizeof name, "crash-%d", k);
    int fd = open(tpath(p, sizeof p, name), O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd >= 0) {
      close(fd);
      abort();
    }
  }
  char *s = sl_ctx_scratch(ctx, 24);
  out->value = s;
  out->value_len = (uint32_t)snprintf(s, 24, "%lld", (long long)v);
  return 0;
}

/* sequence 1..n -> crashy -> file sink at out; extra "key=value" settings */
static int run_job(int P, int64_t n, const char *out, const char *const *kv,
                   sl_job_stats *st, char *err, size_t errcap) {
  sl_env *env = env_p(P);
  for (; kv && *kv; kv++) CHECK_EQ_INT(sl_env_set_kv(env, *kv), 0);
  sl_stream *s = sl_source_stream(env, sl_sequence_source(1, n));
  sl_sink_to(sl_map(s, crashy, NULL), sl_file_sink(out));
  int rc = sl_execute(env, "supervised");
  sl_job_stats_get(env, st);
  snprintf(err, errcap, "%s", sl_env_last_error(env));
  sl_env_free(env);
  return rc;
}

static void reset(int crashes, int64_t every, int slow) {
  scratch_init("/tmp/sluice-test-supervisor", 1);
  g_crashes = crashes;
  g_every = every;
  g_slow = slow;
}

/* file at path holds exactly the lines 1..n, each once (any order) */
static int holds_1_to_n(const char *path, int64_t n) {
  size_t len;
  char *text = read_file(path, &len);
  if (!text) return 0;
  char *seen = calloc((size_t)n + 1, 1);
  int64_t nl_count = 0, ok = 1;
  for (char *p = text; ok && p < text + len;) {
    char *nl = memchr(p, '\n', (size_t)(text + len - p));
    if (!nl) break;
    int64_t v = strtoll(p, NULL, 10);
    if (v < 1 || v > n || seen[v]) {
      fprintf(stderr, "  line %lld: %lld %s\n", (long long)nl_count + 1, (long long)v,
              v < 1 || v > n ? "out of range" : "is a duplicate");
      ok = 0;
    }
    if (ok) seen[v] = 1;
    nl_count++;
    p = nl + 1;
  }
  if (ok && nl_count != n) {
    fprintf(stderr, "  %lld lines, want %lld\n", (long long)nl_count, (long long)n);
    ok = 0;
  }
  free(seen);
  free(text);
  return (int)ok;
}

static void test_none_fails_with_the_crash(void) {
  reset(100, 10, 0);
  char out[1100], err[2048];
  sl_job_stats st;
  const char *kv[] = {"execution.supervised=true", "restart-strategy.type=none", NULL};
  int rc = run_job(1, 1000, tpath(out, sizeof out, "out.txt"), kv, &st, err, sizeof err);
  CHECK(rc < 0);
  CHECK_CONTAINS(err, "killed by signal 6");
  CHECK_CONTAINS(err, "restart-strategy none: not restarted");
  CHECK_EQ_INT(st.restarts, 0);
  CHECK_EQ_INT(markers(), 1);
}

static void test_fixed_delay_gives_up_after_attempts(void) {
  reset(100, 10, 0);
  char out[1100], err[2048];
  sl_job_stats st;
  const char *kv[] = {"restart-strategy.type=fixed-delay", "restart-strategy.fixed-delay.attempts=2",
                      "restart-strategy.fixed-delay.delay=10ms", NULL};
  int64_t t0 = now_ms();
  int rc = run_job(2, 1000, tpath(out, sizeof out, "out.txt"), kv, &st, err, sizeof err);
  CHECK(rc < 0);
  CHECK_CONTAINS(err, "killed by signal 6");
  CHECK_CONTAINS(err, "restart-strategy fixed-delay: no attempts left");
  CHECK_EQ_INT(st.restarts, 2);
  CHECK_EQ_INT(markers(), 3); /* the first run and two restarts */
  CHECK(now_ms() - t0 >= 20); /* two delays */
}

static void test_failure_rate(void) {
  /* three crashes within a minute: the third exceeds 2 per interval */
  reset(100, 10, 0);
  char out[1100], err[2048];
  sl_job_stats st;
  const char *kv[] = {"restart-strategy.type=failure-rate",
                      "restart-strategy.failure-rate.max-failures-per-interval=2",
                      "restart-strategy.failure-rate.failure-rate-interval=1min",
                      "restart-strategy.failure-rate.delay=0", NULL};
  int rc = run_job(1, 1000, tpath(out, sizeof out, "out.txt"), kv, &st, err, sizeof err);
  CHECK(rc < 0);
  CHECK_CONTAINS(err, "too many failures within the interval");
  CHECK_EQ_INT(st.restarts, 2);
  CHECK_EQ_INT(markers(), 3);
  /* four crashes 50 ms apart with a 10 ms interval: never more than one in
   * it, so the job restarts each time and finishes (no checkpoints: each
   * attempt starts over and the single output file is rewritten) */
  reset(4, 100, 0);
  const char *kv2[] = {"restart-strategy.type=failure-rate",
                       "restart-strategy.failure-rate.max-failures-per-interval=1",
                       "restart-strategy.failure-rate.failure-rate-interval=10ms",
                       "restart-strategy.failure-rate.delay=50ms", NULL};
  rc = run_job(1, 1000, tpath(out, sizeof out, "out.txt"), kv2, &st, err, sizeof err);
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_INT(st.restarts, 4);
  CHECK(holds_1_to_n(out, 1000));
}

/* Three crashes in the middle of a checkpointed job: each restart resumes
 * from the latest checkpoint, and the single output file (exactly-once
 * sink, continued across attempts) holds every record once. */
static void test_restarts_resume_exactly_once(int P) {
  reset(3, 2000, 50);
  char out[1100], ck[1100], err[2048], ckv[1200];
  sl_job_stats st;
  snprintf(ckv, sizeof ckv, "state.checkpoints.dir=%s", tpath(ck, sizeof ck, "ck"));
  const char *kv[] = {"restart-strategy.type=fixed-delay", "restart-strategy.fixed-delay.attempts=5",
                      "restart-strategy.fixed-delay.delay=0",
                      "execution.checkpointing.interval=20ms", ckv, NULL};
  int rc = run_job(P, 24000, tpath(out, sizeof out, "out.txt"), kv, &st, err, sizeof err);
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  %s\n", err);
  CHECK_EQ_INT(st.restarts, 3);
  CHECK(st.checkpoints >= 1);
  CHECK(holds_1_to_n(out, 24000));
}
static void test_restarts_resume_p1(void) { test_restarts_resume_exactly_once(1); }
static void test_restarts_resume_p3(void) { test_restarts_resume_exactly_once(3); }

static void test_collect_sink_refused(void) {
  sl_env *env = env_p(1);
  CHECK_EQ_INT(sl_env_set(env, "execution.supervised", "true"), 0);
  sl_collect *c = sl_collect_new();
  sl_sink_to(sl_source_stream(env, sl_sequence_source(1, 10)), sl_collect_sink(c));
  CHECK_EQ_INT(sl_execute(env, "x"), -SL_ECONFIG);
  CHECK_CONTAINS(sl_env_last_error(env), "a collect sink keeps its records in this process");
  sl_env_free(env);
  sl_collect_free(c);
}

static void test_bad_strategy(void) {
  reset(0, 1, 0);
  char out[1100], err[2048];
  sl_job_stats st;
  const char *kv[] = {"execution.supervised=true", "restart-strategy.type=sometimes", NULL};
  CHECK_EQ_INT(run_job(1, 10, tpath(out, sizeof out, "o"), kv, &st, err, sizeof err), -SL_ECONFIG);
  CHECK_CONTAINS(err, "restart-strategy.type: 'sometimes' is not none, fixed-delay or failure-rate");
}

static void *cancel_later(void *env) {
  sleep_ms(300);
  sl_cancel(env);
  return NULL;
}

static void test_cancel_reaches_the_child(void) {
  reset(0, 1, 1); /* 1 ms per record: would run for 100 s */
  sl_env *env = env_p(1);
  CHECK_EQ_INT(sl_env_set(env, "execution.supervised", "true"), 0);
  char out[1100];
  sl_stream *s = sl_source_stream(env, sl_sequence_source(1, 100000));
  sl_sink_to(sl_map(s, crashy, NULL), sl_file_sink(tpath(out, sizeof out, "out.txt")));
  pthread_t t;
  pthread_create(&t, NULL, cancel_later, env);
  int64_t t0 = now_ms();
  CHECK_EQ_INT(sl_execute(env, "x"), -SL_ECANCELED);
  CHECK(now_ms() - t0 < 20000);
  pthread_join(t, NULL);
  sl_job_stats st;
  sl_job_stats_get(env, &st);
  CHECK(st.records_out > 0 && st.records_out < 100000); /* the child's counters */
  sl_env_free(env);
}

int main(void) {
  RUN(test_none_fails_with_the_crash);
  RUN(test_fixed_delay_gives_up_after_attempts);
  RUN(test_failure_rate);
  RUN(test_restarts_resume_p1);
  RUN(test_restarts_resume_p3);
  RUN(test_collect_sink_refused);
  RUN(test_bad_strategy);
  RUN(test_cancel_reaches_the_child);
  TEST_MAIN_END();
}

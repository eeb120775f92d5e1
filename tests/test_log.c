/*
 * test_log.c -- logging as an API (sl_env_set_logger, log.level):
 *   - a job restored from a checkpoint hands one INFO message naming the
 *     job to a custom logger, and nothing to stderr;
 *   - with log.level=warn that message is dropped;
 *   - a damaged checkpoint skipped by restore=latest is a WARN naming it;
 *   - the default logger writes "YYYY-MM-DD HH:MM:SS.mmm LEVEL sluice
 *     SCOPE: MESSAGE" lines to stderr;
 *   - log.level=debug adds a line per completed checkpoint;
 *   - log.level takes error|warn|info|debug only;
 *   - a failure of the checkpoint coordinator itself names the job.
 * File descriptor 2 is redirected to a file while the jobs run, so a stray
 * fprintf(stderr) of the library is caught.
 */
#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "test_util.h"

/* ---- a collecting logger ------------------------------------------------------------ */

typedef struct entry {
  sl_log_level level;
  char scope[128];
  char msg[1024];
} entry;

typedef struct collected {
  pthread_mutex_t mu;
  entry v[64];
  int n;
} collected;

static void collect_log(void *ud, sl_log_level level, const char *scope, const char *msg) {
  collected *c = ud;
  pthread_mutex_lock(&c->mu);
  if (c->n < 64) {
    entry *e = &c->v[c->n++];
    e->level = level;
    snprintf(e->scope, sizeof e->scope, "%s", scope);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
  }
  pthread_mutex_unlock(&c->mu);
}

/* ---- stderr into a file -------------------------------------------------------------- */

static int g_saved_fd2 = -1;
static char g_errfile[1024];

static void stderr_to_file(const char *name) {
  tpath(g_errfile, sizeof g_errfile, name);
  fflush(stderr);
  g_saved_fd2 = dup(2);
  int fd = open(g_errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  dup2(fd, 2);
  close(fd);
}

/* Restores stderr; returns what was written meanwhile (malloc'ed). */
static char *stderr_back(void) {
  fflush(stderr);
  dup2(g_saved_fd2, 2);
  close(g_saved_fd2);
  size_t len = 0;
  char *s = read_file(g_errfile, &len);
  return s ? s : strdup("(cannot read)");
}

/* ---- the job ------------------------------------------------------------------------- */

/* sequence -> key v % 10 -> rolling sum -> discard, at parallelism P,
 * checkpointed into dir.  The interval is an hour: the only checkpoint of
 * a run is the final one its end writes, so run k writes chk-k. */
static sl_env *sum_job(int P, const char *dir, int restore, const char *level, collected *c) {
  sl_env *env = env_p(P);
  CHECK_EQ_INT(sl_env_set(env, "execution.checkpointing.interval", "1h"), 0);
  CHECK_EQ_INT(sl_env_set(env, "state.checkpoints.dir", dir), 0);
  CHECK_EQ_INT(sl_env_set(env, "state.checkpoints.num-retained", "10"), 0);
  if (restore) CHECK_EQ_INT(sl_env_set(env, "execution.checkpointing.restore", "latest"), 0);
  if (level) CHECK_EQ_INT(sl_env_set(env, "log.level", level), 0);
  if (c) sl_env_set_logger(env, collect_log, c);
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, 999));
  s = sl_reduce(sl_key_by(s, key10, NULL), sum_add, NULL);
  CHECK_EQ_INT(sl_sink_to(s, sl_discard_sink()), 0);
  return env;
}

static int run(sl_env *env, const char *name) {
  int rc = sl_execute(env, name);
  if (rc) printf("  %s: %s\n", name, sl_env_last_error(env)); /* stdout: fd 2 is a file */
  sl_env_free(env);
  return rc;
}

static void test_custom_logger_and_level(void) {
  char dir[1024], want[2400];
  tpath(dir, sizeof dir, "ck");
  rm_rf(dir);
  collected c = {.mu = PTHREAD_MUTEX_INITIALIZER};
  stderr_to_file("stderr-1");

  /* run 1: nothing to restore from, nothing to say at info */
  CHECK_EQ_INT(run(sum_job(2, dir, 0, NULL, &c), "log-first"), 0);
  int n_first = c.n;

  /* run 2 restores chk-1 (written by run 1) at another parallelism */
  CHECK_EQ_INT(run(sum_job(3, dir, 1, NULL, &c), "window-agg"), 0);
  int n_second = c.n;

  /* run 3 restores chk-2 with log.level=warn: the INFO line is dropped */
  CHECK_EQ_INT(run(sum_job(2, dir, 1, "warn", &c), "log-quiet"), 0);
  int n_third = c.n;

  /* damage chk-3 (run 3's): run 4 skips it with a WARN and restores chk-2 */
  char meta[1200];
  snprintf(meta, sizeof meta, "%s/chk-3/_metadata", dir);
  size_t len = 0;
  char *b = read_file(meta, &len);
  CHECK(b && len > 20);
  if (b) {
    b[len / 2] ^= 1;
    FILE *fp = fopen(meta, "wb");
    fwrite(b, 1, len, fp);
    fclose(fp);
    free(b);
  }
  CHECK_EQ_INT(run(sum_job(2, dir, 1, NULL, &c), "log-damaged"), 0);

  char *err = stderr_back();
  CHECK_EQ_STR(err, ""); /* nothing reached the real stderr */
  free(err);

  CHECK_EQ_INT(n_first, 0);
  CHECK_EQ_INT(n_second, 1);
  if (n_second == 1) {
    CHECK_EQ_INT(c.v[0].level, SL_LOG_INFO);
    CHECK_EQ_STR(c.v[0].scope, "job 'window-agg'");
    snprintf(want, sizeof want, "restored checkpoint 1 from '%s/chk-1' (parallelism 2 -> 3)", dir);
    CHECK_EQ_STR(c.v[0].msg, want);
  }
  CHECK_EQ_INT(n_third, n_second);
  CHECK_EQ_INT(c.n, n_third + 2);
  if (c.n == n_third + 2) {
    entry *w = &c.v[n_third], *i = &c.v[n_third + 1];
    CHECK_EQ_INT(w->level, SL_LOG_WARN);
    CHECK_EQ_STR(w->scope, "job 'log-damaged'");
    snprintf(want, sizeof want, "skipping checkpoint %s/chk-3: ", dir);
    CHECK(!strncmp(w->msg, want, strlen(want)));
    CHECK_CONTAINS(w->msg, "_metadata");
    CHECK_EQ_INT(i->level, SL_LOG_INFO);
    snprintf(want, sizeof want, "restored checkpoint 2 from '%s/chk-2' (parallelism 3 -> 2)", dir);
    CHECK_EQ_STR(i->msg, want);
  }
  for (int k = 0; k < c.n; k++) printf("  logged %d [%s] %s\n", c.v[k].level, c.v[k].scope, c.v[k].msg);
}

/* Two digits at s[0..n) */
static int digits(const char *s, int n) {
  for (int i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i])) return 0;
  return 1;
}

static void test_default_logger_line(void) {
  char dir[1024], want[2400];
  tpath(dir, sizeof dir, "ck-default");
  rm_rf(dir);
  stderr_to_file("stderr-2");
  CHECK_EQ_INT(run(sum_job(1, dir, 0, NULL, NULL), "log-default-1"), 0);
  /* a custom logger set and then reset: the default again */
  collected c = {.mu = PTHREAD_MUTEX_INITIALIZER};
  sl_env *env = sum_job(2, dir, 1, NULL, &c);
  sl_env_set_logger(env, NULL, NULL);
  CHECK_EQ_INT(run(env, "log-default-2"), 0);
  char *err = stderr_back();
  CHECK_EQ_INT(c.n, 0);
  /* "2026-11-30 02:15:01.123 INFO  sluice job 'log-default-2': restored ..." */
  snprintf(want, sizeof want,
           " INFO  sluice job 'log-default-2': restored checkpoint 1 from '%s/chk-1' "
           "(parallelism 1 -> 2)\n", dir);
  size_t n = strlen(err);
  CHECK_EQ_INT(n, 23 + strlen(want));
  if (n == 23 + strlen(want)) {
    CHECK(digits(err, 4) && err[4] == '-' && digits(err + 5, 2) && err[7] == '-' &&
          digits(err + 8, 2) && err[10] == ' ' && digits(err + 11, 2) && err[13] == ':' &&
          digits(err + 14, 2) && err[16] == ':' && digits(err + 17, 2) && err[19] == '.' &&
          digits(err + 20, 3));
    CHECK_EQ_STR(err + 23, want);
  } else {
    printf("  stderr: %s\n", err);
  }
  free(err);
}

static void test_debug_level(void) {
  char dir[1024], want[2400];
  tpath(dir, sizeof dir, "ck-debug");
  rm_rf(dir);
  collected c = {.mu = PTHREAD_MUTEX_INITIALIZER};
  stderr_to_file("stderr-3");
  CHECK_EQ_INT(run(sum_job(2, dir, 0, "debug", &c), "log-debug"), 0);
  char *err = stderr_back();
  CHECK_EQ_STR(err, "");
  free(err);
  CHECK_EQ_INT(c.n, 1); /* the final checkpoint, the only one */
  if (c.n == 1) {
    CHECK_EQ_INT(c.v[0].level, SL_LOG_DEBUG);
    CHECK_EQ_STR(c.v[0].scope, "job 'log-debug'");
    snprintf(want, sizeof want, "checkpoint 1 complete in '%s/chk-1'", dir);
    CHECK_EQ_STR(c.v[0].msg, want);
  }
}

/* The coordinator's own failures name the job, not an arbitrary operator:
 * the datagen removes the checkpoint directory half-way (and puts a file
 * in its place), so the final checkpoint cannot create chk-1. */
static char g_ckdir[1024];
static int gen_and_break_dir(void *ud, sl_ctx *ctx, uint64_t index, sl_record *out) {
  (void)ud;
  if (index == 500) {
    rm_rf(g_ckdir);
    FILE *f = fopen(g_ckdir, "w");
    if (f) fclose(f);
  }
  int64_t *v = sl_ctx_scratch(ctx, 8);
  *v = (int64_t)index;
  out->value = v;
  out->value_len = 8;
  return 0;
}

static void test_coordinator_failure_names_job(void) {
  char want[2400];
  tpath(g_ckdir, sizeof g_ckdir, "ck-gone");
  rm_rf(g_ckdir);
  sl_env *env = env_p(2);
  CHECK_EQ_INT(sl_env_set(env, "execution.checkpointing.interval", "1h"), 0);
  CHECK_EQ_INT(sl_env_set(env, "state.checkpoints.dir", g_ckdir), 0);
  sl_stream *s = sl_source_stream(env, sl_datagen_source(1000, gen_and_break_dir, NULL));
  CHECK_EQ_INT(sl_sink_to(s, sl_discard_sink()), 0);
  CHECK_EQ_INT(sl_execute(env, "ckdir-gone"), -SL_EIO);
  snprintf(want, sizeof want,
           "job 'ckdir-gone': cannot create checkpoint directory '%s/chk-1': Not a directory",
           g_ckdir);
  CHECK_EQ_STR(sl_env_last_error(env), want);
  sl_env_free(env);
  rm_rf(g_ckdir);
}

static void test_level_key(void) {
  sl_env *env = sl_env_new();
  CHECK_EQ_STR(sl_env_get(env, "log.level"), "info");
  CHECK_EQ_INT(sl_env_set(env, "log.level", "debug"), 0);
  CHECK_EQ_INT(sl_env_set(env, "log.level", "error"), 0);
  CHECK_EQ_INT(sl_env_set(env, "log.level", "loud"), -SL_ECONFIG);
  CHECK_CONTAINS(sl_env_last_error(env), "error|warn|info|debug");
  CHECK_EQ_STR(sl_env_get(env, "log.level"), "error");
  sl_env_free(env);
}

int main(void) {
  scratch_init("/tmp/sl_test_log", 1);
  RUN(test_level_key);
  RUN(test_custom_logger_and_level);
  RUN(test_default_logger_line);
  RUN(test_debug_level);
  RUN(test_coordinator_failure_names_job);
  TEST_MAIN_END();
}

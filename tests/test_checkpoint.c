/*
 * test_checkpoint.c -- aligned checkpoints and restore, with real processes
 * killed by SIGKILL:
 *   - a running job writes checkpoints (chk-<n> with _metadata, verified)
 *     and keeps only state.checkpoints.num-retained of them;
 *   - a job killed mid-run and restored from "latest" at another
 *     parallelism (2 -> 4, 4 -> 1) ends with exactly the right per-key
 *     totals (nothing lost, nothing counted twice), on both backends;
 *   - windows and their timers survive a restore;
 *   - a damaged newest checkpoint is skipped for the one before it;
 *   - checkpoints read the library's one wall clock (sl__clock_ms), so a
 *     test's clock (sl__clock_set) times them.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/storage.h"
#include "core/core.h" /* sl__clock_set */
#include "test.h"
#include "test_util.h"

#define N_RECORDS 200000
static const char *g_backend;
static int g_slow = 1; /* child runs slow down the file job */

static int64_t v64(const void *p) {
  int64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* An environment at P on g_backend (RocksDB files under g_tmp/rocks),
 * checkpointing into dir every 50 ms, restoring from `restore` if set. */
static sl_env *ckpt_env(int P, const char *dir, const char *rocks, const char *restore) {
  sl_env *env = env_p(P);
  sl_env_set(env, "state.backend.type", g_backend);
  char rdir[1100];
  snprintf(rdir, sizeof rdir, "%s/%s", g_tmp, rocks);
  sl_env_set(env, "state.backend.rocksdb.dir", rdir);
  sl_env_set(env, "execution.checkpointing.interval", "50ms");
  sl_env_set(env, "state.checkpoints.dir", dir);
  if (restore) sl_env_set(env, "execution.checkpointing.restore", restore);
  return env;
}

/* sequence 0..N-1 at a given rate -> key v % 10 -> rolling sum */
static sl_env *sum_job(int P, const char *dir, const char *rate, const char *restore,
                       sl_collect *c) {
  sl_env *env = ckpt_env(P, dir, "rocksdb", restore);
  sl_env_set(env, "state.checkpoints.num-retained", "2");
  if (rate) sl_env_set(env, "source.datagen.rows-per-second", rate);
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, N_RECORDS - 1));
  s = sl_reduce(sl_key_by(s, key10, NULL), sum_add, NULL);
  sl_sink_to(s, c ? sl_collect_sink(c) : sl_discard_sink());
  return env;
}

static int count_complete(const char *dir) {
  int n = 0;
  for (int64_t id = 1; id <= sl__ckpt_max_id(dir); id++) {
    char p[1200], m[1300];
    sl__ckpt_path(p, sizeof p, dir, id);
    snprintf(m, sizeof m, "%s/_metadata", p);
    n += access(m, F_OK) == 0;
  }
  return n;
}

static void test_checkpoints_written(void) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/written-%s", g_tmp, g_backend);
  rm_rf(dir);
  /* 200k records at 400k/s: ~0.5 s, checkpoints every 50 ms */
  sl_env *env = sum_job(2, dir, "400000", NULL, NULL);
  int rc = sl_execute(env, "written");
  if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
  sl_job_stats st;
  sl_job_stats_get(env, &st);
  fprintf(stderr, "  %llu checkpoints completed\n", (unsigned long long)st.checkpoints);
  CHECK(st.checkpoints >= 3);
  CHECK(count_complete(dir) <= 2); /* num-retained */
  char chk[1200], err[1024];
  sl__ckpt_meta m;
  CHECK_EQ_INT(sl__ckpt_latest(dir, chk, sizeof chk, &m, NULL, NULL, err, sizeof err), 0);
  CHECK_EQ_INT(m.P, 2);
  CHECK_EQ_INT(m.n_ops, 4); /* source, key_by, reduce, sink */
  /* the reduce has keyed state: an image, or with RocksDB a native
   * (incremental) checkpoint */
  CHECK(m.inst[2 * 2].flags & (strcmp(g_backend, "rocksdb") ? SL__F_KEYED : SL__F_NATIVE));
  sl__ckpt_meta_free(&m);
  sl_env_free(env);
}

/* The coordinator reads the library's wall clock (sl__clock_ms): with a
 * test clock stopped at T, the interval (50 ms after T) never comes, so
 * the only checkpoint is the final one (id 1), and its _metadata says it
 * was taken at T. */
#define STOPPED_MS INT64_C(1700000000123)
static int64_t stopped_clock(void *ud) { return STOPPED_MS; }
static void test_checkpoint_uses_job_clock(void) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/clock-%s", g_tmp, g_backend);
  rm_rf(dir);
  sl__clock_set(stopped_clock, NULL);
  sl_env *env = ckpt_env(2, dir, "rocks-clock", NULL);
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, 9999));
  sl_sink_to(sl_reduce(sl_key_by(s, key10, NULL), sum_add, NULL), sl_discard_sink());
  int rc = sl_execute(env, "clock");
  sl__clock_set(NULL, NULL);
  if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_INT(sl__ckpt_max_id(dir), 1);
  char chk[1200], err[1024];
  sl__ckpt_meta m;
  CHECK_EQ_INT(sl__ckpt_latest(dir, chk, sizeof chk, &m, NULL, NULL, err, sizeof err), 0);
  CHECK_EQ_INT(m.id, 1);
  CHECK_EQ_INT(m.taken_ms, STOPPED_MS);
  sl__ckpt_meta_free(&m);
  sl_env_free(env);
}

/* Run 1 is a fresh process (this test re-executed in child mode: forking a
 * process that has RocksDB's threads is not safe), killed with SIGKILL once
 * checkpoints exist. */
static pid_t spawn_child(const char *job, int P, const char *dir) {
  char p[16];
  snprintf(p, sizeof p, "%d", P);
  pid_t pid = fork();
  if (pid == 0) {
    execl("/proc/self/exe", "test_checkpoint", "--child", job, g_backend, p, dir, (char *)NULL);
    _exit(127);
  }
  return pid;
}

static sl_env *window_job(int P, const char *dir, const char *rate, const char *restore,
                          sl_collect *c);
static sl_env *file_job(int P, const char *dir, const char *input, const char *restore,
                        sl_collect *c);

static int child_main(char **argv) {
  const char *job = argv[2], *dir = argv[5];
  g_backend = argv[3];
  int P = atoi(argv[4]);
  char input[1100];
  snprintf(input, sizeof input, "%s/numbers.txt", g_tmp);
  sl_env *env = !strcmp(job, "sum")      ? sum_job(P, dir, "20000", NULL, NULL) /* ~10 s */
                : !strcmp(job, "window") ? window_job(P, dir, "20000", NULL, NULL)
                                         : file_job(P, dir, input, NULL, NULL);
  int rc = sl_execute(env, job);
  sl_env_free(env);
  return rc ? 1 : 0;
}

/* Run 1 in a child, killed with SIGKILL once a checkpoint exists; run 2
 * restores "latest" at P2 (after a cancelled run at P=3 in between) and
 * runs to the end; the last value per key is its total. */
static void crash_and_restore(int P1, int P2) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/crash-%s-%d-%d", g_tmp, g_backend, P1, P2);
  rm_rf(dir);
  pid_t pid = spawn_child("sum", P1, dir);
  for (int i = 0; i < 3000 && count_complete(dir) < 2; i++) sleep_ms(10); /* sanitizers: slow */
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status)); /* it really was killed mid-run */
  CHECK(count_complete(dir) >= 1);

  /* a restored run at a third parallelism, cancelled before its sources
   * emit anything, ends with a checkpoint that must carry over what run 1
   * had emitted */
  sl_env *env = sum_job(3, dir, NULL, "latest", NULL);
  sl_cancel(env);
  CHECK_EQ_INT(sl_execute(env, "run-cancelled"), -SL_ECANCELED);
  sl_env_free(env);
  sl_collect *c = sl_collect_new();
  env = sum_job(P2, dir, NULL, "latest", c);
  int rc = sl_execute(env, "run2");
  if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
  int64_t want[10] = {0}, got[10] = {0};
  for (int64_t v = 0; v < N_RECORDS; v++) want[v % 10] += v;
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    int k = *(const uint8_t *)r.key;
    if (k < 10 && v64(r.value) > got[k]) got[k] = v64(r.value);
  }
  /* fewer records than N were processed in run 2: the rest came from the
   * checkpoint */
  CHECK(sl_collect_count(c) < N_RECORDS);
  for (int k = 0; k < 10; k++) CHECK_EQ_INT(got[k], want[k]);
  sl_collect_free(c);
  sl_env_free(env);
}
static void test_crash_restore_2_to_4(void) { crash_and_restore(2, 4); }
static void test_crash_restore_4_to_1(void) { crash_and_restore(4, 1); }

/* ---- the file source resumes where it was ---------------------------------------- */

#define FILE_LINES 400000
static int parse_line(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.*s", (int)in->value_len, (const char *)in->value);
  int64_t *v = sl_ctx_scratch(ctx, 8);
  *v = atoll(buf);
  out->value = v;
  out->value_len = 8;
  static __thread int n;
  if (g_slow && ++n % 50 == 0) sleep_ms(1); /* the child: ~4 s for the whole file */
  return 0;
}

static sl_env *file_job(int P, const char *dir, const char *input, const char *restore,
                        sl_collect *c) {
  sl_env *env = ckpt_env(P, dir, "rocksdb-f", restore);
  sl_env_set(env, "source.file.split-size", "300kb"); /* several splits per subtask */
  sl_stream *s = sl_map(sl_source_stream(env, sl_file_source(input)), parse_line, NULL);
  s = sl_reduce(sl_key_by(s, key10, NULL), sum_add, NULL);
  sl_sink_to(s, c ? sl_collect_sink(c) : sl_discard_sink());
  return env;
}

static void test_file_source_resumes(void) {
  char dir[1024], input[1024];
  snprintf(dir, sizeof dir, "%s/file-%s", g_tmp, g_backend);
  snprintf(input, sizeof input, "%s/numbers.txt", g_tmp);
  rm_rf(dir);
  FILE *f = fopen(input, "w");
  for (int i = 0; i < FILE_LINES; i++) fprintf(f, "%d\n", i);
  fclose(f);
  pid_t pid = spawn_child("file", 2, dir);
  for (int i = 0; i < 3000 && count_complete(dir) < 2; i++) sleep_ms(10);
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status));
  g_slow = 0;
  /* a restored run cancelled before its sources read anything still ends
   * with a checkpoint: it must carry the restored positions over (not
   * "nothing read yet", which would make the next run read it all again) */
  sl_env *env = file_job(3, dir, input, "latest", NULL);
  sl_cancel(env);
  CHECK_EQ_INT(sl_execute(env, "file-cancelled"), -SL_ECANCELED);
  sl_env_free(env);
  sl_collect *c = sl_collect_new();
  env = file_job(2, dir, input, "latest", c);
  int rc = sl_execute(env, "file2");
  if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
  sl_job_stats st;
  sl_job_stats_get(env, &st);
  CHECK(st.records_in < FILE_LINES); /* resumed, not re-read */
  int64_t want[10] = {0}, got[10] = {0};
  for (int64_t v = 0; v < FILE_LINES; v++) want[v % 10] += v;
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    int k = *(const uint8_t *)r.key;
    if (k < 10 && v64(r.value) > got[k]) got[k] = v64(r.value);
  }
  for (int k = 0; k < 10; k++) CHECK_EQ_INT(got[k], want[k]);
  sl_collect_free(c);
  sl_env_free(env);
}

/* ---- windows and timers across a restore ------------------------------------------- */

static int64_t seq_ts(void *ud, const sl_record *in) { return v64(in->value); }

/* ts = v; tumbling windows of 1000: every window holds exactly 1000
 * records per... 10 keys -> 100 records per key and window. */
static sl_env *window_job(int P, const char *dir, const char *rate, const char *restore,
                          sl_collect *c) {
  sl_env *env = ckpt_env(P, dir, "rocksdb-w", restore);
  sl_env_set(env, "pipeline.auto-watermark-interval", "5ms");
  if (rate) sl_env_set(env, "source.datagen.rows-per-second", rate);
  sl_watermark_strategy ws = {.kind = SL_WM_MONOTONOUS};
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .size_ms = 1000};
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, N_RECORDS - 1));
  s = sl_key_by(sl_assign_timestamps(s, seq_ts, NULL, &ws), key10, NULL);
  sl_sink_to(sl_window_aggregate(s, &w, &COUNT, NULL, NULL), c ? sl_collect_sink(c) : sl_discard_sink());
  return env;
}

static void test_windows_survive_restore(void) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/windows-%s", g_tmp, g_backend);
  rm_rf(dir);
  pid_t pid = spawn_child("window", 2, dir);
  for (int i = 0; i < 3000 && count_complete(dir) < 2; i++) sleep_ms(10); /* sanitizers: slow */
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status));
  sl_collect *c = sl_collect_new();
  sl_env *env = window_job(2, dir, NULL, "latest", c);
  int rc = sl_execute(env, "w2");
  if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
  /* every window that fires after the restore is complete: 100 records
   * per key (its earlier part came from the checkpoint, its timer too) */
  int bad = 0, n = 0;
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    count_acc a;
    memcpy(&a, r.value, sizeof a);
    n++;
    if (a.n != 100) bad++;
  }
  sl_job_stats st;
  sl_job_stats_get(env, &st);
  CHECK(st.records_in < N_RECORDS); /* it did resume from a checkpoint */
  fprintf(stderr, "  %d windows fired after the restore\n", n);
  CHECK(n > 0);
  CHECK_EQ_INT(bad, 0);
  /* and the last window of every key fired */
  int last = 0;
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    last += r.ts == N_RECORDS - 1;
  }
  CHECK_EQ_INT(last, 10);
  sl_collect_free(c);
  sl_env_free(env);
}

/* ---- damage -------------------------------------------------------------------------- */

static void test_damaged_falls_back(void) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/damaged-%s", g_tmp, g_backend);
  rm_rf(dir);
  sl_env *env = sum_job(2, dir, "400000", NULL, NULL);
  CHECK_EQ_INT(sl_execute(env, "damage"), 0);
  sl_env_free(env);
  /* the newest complete one (a checkpoint in flight when the job ended
   * stays incomplete, without _metadata, and is skipped) */
  char chk[1200], older[1200], err[1024];
  sl__ckpt_meta m;
  CHECK_EQ_INT(sl__ckpt_latest(dir, chk, sizeof chk, &m, NULL, NULL, err, sizeof err), 0);
  int64_t newest = m.id;
  sl__ckpt_meta_free(&m);
  /* flip a byte of the reduce's keyed state image in the newest (with
   * RocksDB's native checkpoints: of its .meta file) */
  const char *ext = strcmp(g_backend, "rocksdb") ? "keyed" : "meta";
  char f[1300], want[64];
  sl__ckpt_file(f, sizeof f, chk, 2, 0, ext);
  snprintf(want, sizeof want, "op-2-0.%s", ext);
  size_t len = 0;
  char *b = read_file(f, &len);
  CHECK(b && len > 20);
  b[len / 2] ^= 1;
  FILE *fp = fopen(f, "wb");
  fwrite(b, 1, len, fp);
  fclose(fp);
  CHECK(sl__ckpt_verify(chk, &m, err, sizeof err) < 0);
  CHECK_CONTAINS(err, want);
  CHECK_CONTAINS(err, "damaged");
  if (!strcmp(g_backend, "rocksdb")) { /* intact again, but a native checkpoint without CURRENT */
    char cur[1400];
    b[len / 2] ^= 1;
    fp = fopen(f, "wb");
    fwrite(b, 1, len, fp);
    fclose(fp);
    sl__ckpt_file(f, sizeof f, chk, 2, 1, "rocksdb");
    snprintf(cur, sizeof cur, "%s/CURRENT", f);
    CHECK_EQ_INT(unlink(cur), 0);
    CHECK(sl__ckpt_verify(chk, &m, err, sizeof err) < 0);
    CHECK_CONTAINS(err, "op-2-1.rocksdb/CURRENT' is missing");
  }
  free(b);
  CHECK_EQ_INT(sl__ckpt_latest(dir, older, sizeof older, &m, NULL, NULL, err, sizeof err), 0);
  CHECK(m.id < newest); /* fell back to the previous complete one */
  sl__ckpt_meta_free(&m);
  /* a missing _metadata: that one is skipped too */
  char meta[1300];
  snprintf(meta, sizeof meta, "%s/_metadata", older);
  unlink(meta);
  CHECK(sl__ckpt_latest(dir, chk, sizeof chk, &m, NULL, NULL, err, sizeof err) == -SL_ENOENT);
  /* restoring from an explicit damaged path fails with the file named */
  env = sum_job(1, dir, NULL, older, NULL);
  CHECK(sl_execute(env, "bad-restore") < 0);
  CHECK_CONTAINS(sl_env_last_error(env), "_metadata");
  sl_env_free(env);
}

#ifndef SLUICE_WITH_ROCKSDB
/* A build without RocksDB cannot read a checkpoint whose keyed state is a
 * native RocksDB checkpoint: restoring from it (explicitly or as the
 * latest) fails and says why, rather than skipping it and starting over.
 * The checkpoint is a heap one whose _metadata is rewritten to say that
 * the reduce's subtask 0 wrote a native checkpoint. */
static void test_native_needs_rocksdb(void) {
  char dir[1024], dir2[1100], chk[1200], nat[1300], err[1024];
  snprintf(dir, sizeof dir, "%s/native-off", g_tmp);
  snprintf(dir2, sizeof dir2, "%s/native-off-2", g_tmp);
  rm_rf(dir);
  rm_rf(dir2);
  sl_env *env = sum_job(2, dir, "400000", NULL, NULL);
  CHECK_EQ_INT(sl_execute(env, "native-off"), 0);
  sl_env_free(env);
  sl__ckpt_meta m;
  CHECK_EQ_INT(sl__ckpt_latest(dir, chk, sizeof chk, &m, NULL, NULL, err, sizeof err), 0);
  int64_t id = m.id;
  CHECK(m.inst[2 * 2].flags & SL__F_KEYED);
  m.inst[2 * 2].flags = (uint8_t)((m.inst[2 * 2].flags & ~SL__F_KEYED) | SL__F_NATIVE);
  CHECK_EQ_INT(sl__ckpt_meta_write(chk, &m, err, sizeof err), 0);
  sl__ckpt_meta_free(&m);
  sl__ckpt_file(nat, sizeof nat, chk, 2, 0, "rocksdb");
  CHECK_EQ_INT(mkdir_p(nat), 0);
  /* still the latest: this build cannot check it, so it does not skip it */
  CHECK_EQ_INT(sl__ckpt_latest(dir, chk, sizeof chk, &m, NULL, NULL, err, sizeof err), 0);
  CHECK_EQ_INT(m.id, id);
  sl__ckpt_meta_free(&m);
  const char *restores[2] = {chk, "latest"};
  for (int i = 0; i < 2; i++) {
    sl_collect *c = sl_collect_new();
    env = sum_job(2, i ? dir : dir2, NULL, restores[i], c);
    CHECK_EQ_INT(sl_execute(env, "native-off-restore"), -SL_ECONFIG);
    const char *e = sl_env_last_error(env);
    CHECK_CONTAINS(e, "cannot restore from checkpoint '");
    CHECK_CONTAINS(e, ", subtask 0 of 2: its keyed state is a native RocksDB checkpoint "
                      "(incremental), and this build has no RocksDB backend (built with "
                      "-DSLUICE_WITH_ROCKSDB=OFF)");
    CHECK_EQ_INT((int)sl_collect_count(c), 0);
    sl_collect_free(c);
    sl_env_free(env);
  }
}
#endif

int main(int argc, char **argv) {
  if (argc == 6 && !strcmp(argv[1], "--child")) {
    scratch_init("/tmp/sl_test_checkpoint", 0);
    return child_main(argv);
  }
  scratch_init("/tmp/sl_test_checkpoint", 1);
  for (int b = 0; b < N_BACKENDS; b++) {
    g_backend = g_backends[b];
    fprintf(stderr, "== backend %s\n", g_backend);
    RUN(test_checkpoints_written);
    RUN(test_checkpoint_uses_job_clock);
    RUN(test_crash_restore_2_to_4);
    RUN(test_crash_restore_4_to_1);
    RUN(test_windows_survive_restore);
    RUN(test_file_source_resumes);
    RUN(test_damaged_falls_back);
  }
#ifndef SLUICE_WITH_ROCKSDB
  RUN(test_native_needs_rocksdb);
#endif
  TEST_MAIN_END();
}

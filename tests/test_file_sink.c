/*
 * test_file_sink.c -- whole-job tests of sl_file_sink through the public
 * API: single-file mode (exact lines at P=1, exact multiset at P=4, atomic
 * replace, nothing final after a failure), directory mode (part files per
 * subtask, rolling by size, no .inprogress left) and I/O errors (unwritable
 * path, a write failing with EFBIG under RLIMIT_FSIZE in a child process).
 *
 * Rolling by time (rollover-interval, inactivity-interval) on a clock the
 * test sets, with exact part-file contents; a quiet continuous sink's part
 * file is rolled and committed by a checkpoint once the interval passed.
 * With checkpoints: restoring from an older checkpoint (a damaged newest
 * one, an explicit path, another parallelism) leaves exactly the output of
 * that checkpoint, so the resumed run's output equals a clean run's; a
 * checkpoint whose sink state names a file outside the output directory
 * (or a symbolic link out of it) fails the restore and touches nothing.
 *
 * Jobs read sl_sequence_source(1, N) and map each number k to the text
 * "line-k" (or to a long line for chosen k), so the expected output is known.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/storage.h"
#include "connectors/file_sink.h"
#include "core/core.h"
#include "test.h"
#include "test_util.h"

/* ---- helpers ------------------------------------------------------------ */

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* ---- the jobs ----------------------------------------------------------- */

typedef struct job_opts {
  int64_t n;          /* numbers 1..n */
  int P;
  const char *roll;   /* sink.rolling-policy.file-size, or NULL */
  int64_t fail_at;    /* the map fails on this number (0: never) */
  int64_t long_at;    /* this number becomes a LONG_LEN-byte line */
  int drop_all;       /* filter every record out */
  const char *ckdir;  /* checkpoints (every 20 ms, all retained) into this */
  const char *restore; /* execution.checkpointing.restore */
  const char *rate;   /* source.datagen.rows-per-second */
  const int64_t *times; /* times[k]: the sink's clock (ms) when number k comes */
  const char *rollover, *inactivity; /* sink.rolling-policy.*-interval */
} job_opts;

#define LONG_LEN (200 * 1000)

static char g_err[2048];

static void expected_line(int64_t k, const job_opts *o, char *buf, size_t cap) {
  if (k == o->long_at) {
    size_t n = LONG_LEN < cap - 1 ? LONG_LEN : cap - 1;
    for (size_t i = 0; i < n; i++) buf[i] = (char)('a' + (k + (int64_t)i) % 26);
    buf[n] = 0;
  } else {
    snprintf(buf, cap, "line-%lld", (long long)k);
  }
}

/* The sink's clock in the time-based rolling tests: set by the map for
 * each record (the map calls the sink on the same thread, forward edge). */
static __thread int64_t t_clock_ms;
static int64_t thread_clock(void *ud) {
  (void)ud;
  return t_clock_ms;
}

static int to_text(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const job_opts *o = ud;
  int64_t k;
  memcpy(&k, in->value, sizeof k);
  if (o->times) t_clock_ms = o->times[k];
  if (k == o->fail_at) return sl_ctx_fail(ctx, "planned failure at %lld", (long long)k);
  size_t cap = k == o->long_at ? LONG_LEN + 1 : 64;
  char *buf = sl_ctx_scratch(ctx, cap);
  if (!buf) return -SL_ENOMEM;
  expected_line(k, o, buf, cap);
  out->value = buf;
  out->value_len = (uint32_t)strlen(buf);
  return 0;
}

static int drop(void *ud, sl_ctx *ctx, const sl_record *in) {
  (void)ud, (void)ctx, (void)in;
  return 0;
}

static int run_job(const char *path, const job_opts *o) {
  sl_env *env = env_p(o->P);
  if (o->roll) CHECK_EQ_INT(sl_env_set(env, "sink.rolling-policy.file-size", o->roll), 0);
  if (o->ckdir) {
    CHECK_EQ_INT(sl_env_set(env, "state.checkpoints.dir", o->ckdir), 0);
    CHECK_EQ_INT(sl_env_set(env, "execution.checkpointing.interval", "20ms"), 0);
    CHECK_EQ_INT(sl_env_set(env, "state.checkpoints.num-retained", "1000"), 0);
  }
  if (o->restore) CHECK_EQ_INT(sl_env_set(env, "execution.checkpointing.restore", o->restore), 0);
  if (o->rate) CHECK_EQ_INT(sl_env_set(env, "source.datagen.rows-per-second", o->rate), 0);
  if (o->rollover)
    CHECK_EQ_INT(sl_env_set(env, "sink.rolling-policy.rollover-interval", o->rollover), 0);
  if (o->inactivity)
    CHECK_EQ_INT(sl_env_set(env, "sink.rolling-policy.inactivity-interval", o->inactivity), 0);
  sl_stream *s = sl_source_stream(env, sl_sequence_source(1, o->n));
  if (o->drop_all) s = sl_filter(s, drop, NULL);
  s = sl_map(s, to_text, (void *)o);
  sl_sink *sink = o->times ? sl__file_sink_new(path, thread_clock, NULL) : sl_file_sink(path);
  CHECK_EQ_INT(sl_sink_to(s, sink), 0);
  int rc = sl_execute(env, "file_sink_test");
  snprintf(g_err, sizeof g_err, "%s", sl_env_last_error(env));
  sl_env_free(env);
  return rc;
}

/* Expected lines 1..n, sorted when `sorted`. */
static lines expected(const job_opts *o, int sorted) {
  lines l = {0};
  for (int64_t k = 1; k <= o->n; k++) {
    size_t cap = k == o->long_at ? LONG_LEN + 1 : 64;
    char *s = malloc(cap);
    expected_line(k, o, s, cap);
    lines_push(&l, s);
  }
  if (sorted) lines_sort(&l);
  return l;
}

static void check_same_lines(lines *got, lines *want) {
  CHECK_EQ_INT(got->n, want->n);
  if (got->n != want->n) return;
  for (size_t i = 0; i < got->n; i++)
    if (strcmp(got->v[i], want->v[i])) {
      fprintf(stderr, "  line %zu: got \"%.60s\", want \"%.60s\"\n", i,
              got->v[i], want->v[i]);
      CHECK(!"lines differ");
      return;
    }
}

/* Single-file mode: run and check the file holds exactly lines 1..n. */
static void single_file_case(const char *name, job_opts o, int sorted) {
  char path[600], tmp[700];
  tpath(path, sizeof path, name);
  snprintf(tmp, sizeof tmp, "%s.inprogress", path);
  int rc = run_job(path, &o);
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  error: %s\n", g_err);
  CHECK(!exists(tmp));
  size_t len = 0;
  char *text = read_file(path, &len);
  CHECK(text != NULL);
  if (!text) return;
  lines got = {0};
  CHECK(lines_split_inplace(&got, text, len));
  if (sorted) lines_sort(&got);
  lines want = expected(&o, sorted);
  check_same_lines(&got, &want);
  lines_free(&want);
  free(got.v);
  free(text);
}

/* ---- tests -------------------------------------------------------------- */

static void single_file_p1_exact_order(void) {
  single_file_case("single_p1.txt", (job_opts){.n = 20000, .P = 1}, 0);
  /* a line bigger than the sink's buffer, between ordinary lines */
  single_file_case("single_long.txt", (job_opts){.n = 3000, .P = 1, .long_at = 1500}, 0);
}

static void single_file_p4_multiset(void) {
  single_file_case("single_p4.txt", (job_opts){.n = 50000, .P = 4}, 1);
}

static void single_file_empty_output(void) {
  char path[600];
  tpath(path, sizeof path, "empty.txt");
  job_opts o = {.n = 100, .P = 2, .drop_all = 1};
  CHECK_EQ_INT(run_job(path, &o), 0);
  size_t len = 99;
  char *text = read_file(path, &len);
  CHECK(text != NULL);
  CHECK_EQ_INT(len, 0);
  free(text);
}

static void single_file_replaces_existing(void) {
  char path[600];
  tpath(path, sizeof path, "replace.txt");
  FILE *f = fopen(path, "w");
  fputs("old content that is longer than the new one\nmore\nmore\n", f);
  fclose(f);
  single_file_case("replace.txt", (job_opts){.n = 2, .P = 1}, 0);
}

static void single_file_creates_parent_dirs(void) {
  single_file_case("new/sub/dir/out.txt", (job_opts){.n = 100, .P = 2}, 1);
}

static void failing_job_leaves_no_final_file(void) {
  char path[600], tmp[700];
  tpath(path, sizeof path, "failed.txt");
  snprintf(tmp, sizeof tmp, "%s.inprogress", path);
  job_opts o = {.n = 100000, .P = 2, .fail_at = 60000};
  int rc = run_job(path, &o);
  CHECK(rc < 0);
  CHECK_CONTAINS(g_err, "planned failure at 60000");
  CHECK(!exists(path));
  CHECK(exists(tmp)); /* left for inspection */

  /* An existing PATH is not touched by a failed job. */
  FILE *f = fopen(path, "w");
  fputs("previous\n", f);
  fclose(f);
  rc = run_job(path, &o);
  CHECK(rc < 0);
  size_t len;
  char *text = read_file(path, &len);
  CHECK_EQ_STR(text, "previous\n");
  free(text);
}

/* Directory mode: collect part files; checks names and returns the lines of
 * subtask s's files concatenated in part order into *per[s]. */
typedef struct part_scan {
  int n_parts[8];
  int inprogress;  /* hidden .part-*.inprogress files */
  int bad_names;
  int64_t max_size;
} part_scan;

static void scan_parts(const char *dir, part_scan *ps) {
  memset(ps, 0, sizeof *ps);
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    int s, n, end = 0;
    if (strstr(e->d_name, ".inprogress")) {
      ps->inprogress++;
    } else if (sscanf(e->d_name, "part-%d-%d%n", &s, &n, &end) == 2 &&
               e->d_name[end] == 0 && s >= 0 && s < 8) {
      ps->n_parts[s]++;
      char p[1024];
      struct stat st;
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      if (stat(p, &st) == 0 && st.st_size > ps->max_size) ps->max_size = st.st_size;
    } else {
      ps->bad_names++;
    }
  }
  closedir(d);
}

/* Reads part-s-0 .. part-s-(count-1) in order, appending their lines. */
static void read_parts(const char *dir, int s, int count, lines *l,
                       char **texts) {
  for (int n = 0; n < count; n++) {
    char p[1024];
    size_t len = 0;
    snprintf(p, sizeof p, "%s/part-%d-%d", dir, s, n);
    texts[n] = read_file(p, &len);
    CHECK(texts[n] != NULL);
    if (!texts[n]) return;
    CHECK(len > 0);
    CHECK(lines_split_inplace(l, texts[n], len));
  }
}

/* roll: the rolling size as set (NULL: default) and in bytes. */
static void dir_case(const char *name, int P, int64_t n, const char *roll,
                     int64_t roll_bytes, int expect_several) {
  char dir[600], path[700];
  tpath(dir, sizeof dir, name);
  snprintf(path, sizeof path, "%s/", dir); /* trailing '/': directory mode */
  rm_rf(dir);
  job_opts o = {.n = n, .P = P, .roll = roll};
  int rc = run_job(path, &o);
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  error: %s\n", g_err);
  part_scan ps;
  scan_parts(dir, &ps);
  CHECK_EQ_INT(ps.inprogress, 0);
  CHECK_EQ_INT(ps.bad_names, 0);
  if (roll) {
    /* rolled once a file holds >= roll_bytes: at most roll_bytes - 1 plus
     * one line */
    char longest[64];
    int64_t limit = roll_bytes - 1 + snprintf(longest, sizeof longest, "line-%lld\n",
                                              (long long)n);
    CHECK(ps.max_size <= limit);
    CHECK(ps.max_size >= roll_bytes);
  }
  lines all = {0};
  for (int s = 0; s < P; s++) {
    if (expect_several)
      CHECK(ps.n_parts[s] > 2);
    else
      CHECK_EQ_INT(ps.n_parts[s], 1);
    /* Per subtask the sequence source's range is in order (forward edges),
     * so the concatenation of its parts in part order is ascending. */
    lines mine = {0};
    char **texts = calloc((size_t)ps.n_parts[s] + 1, sizeof *texts);
    read_parts(dir, s, ps.n_parts[s], &mine, texts);
    for (size_t i = 1; i < mine.n; i++)
      if (atoll(mine.v[i - 1] + 5) + 1 != atoll(mine.v[i] + 5)) {
        fprintf(stderr, "  subtask %d: \"%s\" then \"%s\"\n", s, mine.v[i - 1],
                mine.v[i]);
        CHECK(!"part files out of order");
        break;
      }
    for (size_t i = 0; i < mine.n; i++) lines_push(&all, strdup(mine.v[i]));
    for (int k = 0; k < ps.n_parts[s]; k++) free(texts[k]);
    free(texts);
    free(mine.v);
  }
  lines_sort(&all);
  lines want = expected(&o, 1);
  check_same_lines(&all, &want);
  lines_free(&want);
  lines_free(&all);
}

static void directory_mode_p2(void) { dir_case("outdir", 2, 10000, NULL, 0, 0); }

static void directory_mode_existing_dir_without_slash(void) {
  char dir[600];
  tpath(dir, sizeof dir, "existing");
  rm_rf(dir);
  mkdir_p(dir);
  job_opts o = {.n = 1000, .P = 2};
  CHECK_EQ_INT(run_job(dir, &o), 0);
  part_scan ps;
  scan_parts(dir, &ps);
  CHECK_EQ_INT(ps.n_parts[0], 1);
  CHECK_EQ_INT(ps.n_parts[1], 1);
  CHECK_EQ_INT(ps.inprogress, 0);
}

static void directory_mode_rolling(void) {
  dir_case("rolled", 2, 500, "100", 100, 1);
  dir_case("rolled3", 3, 20000, "10kb", 10 * 1024, 1);
}

static void unwritable_path_fails(void) {
  char reg[600], path[700];
  tpath(reg, sizeof reg, "regular_file");
  FILE *f = fopen(reg, "w");
  fputs("x\n", f);
  fclose(f);

  snprintf(path, sizeof path, "%s/nodir/out.txt", reg);
  job_opts o = {.n = 10, .P = 2};
  int rc = run_job(path, &o);
  CHECK(rc < 0);
  CHECK_CONTAINS(g_err, path);
  CHECK_CONTAINS(g_err, strerror(ENOTDIR));

  snprintf(path, sizeof path, "%s/nodir/", reg);
  rc = run_job(path, &o);
  CHECK(rc < 0);
  CHECK_CONTAINS(g_err, path);
  CHECK_CONTAINS(g_err, strerror(ENOTDIR));
}

/* A write failure (EFBIG under RLIMIT_FSIZE) in the middle of the job, in a
 * child process so the limit does not leak into other tests. */
static void write_failure_fails_job(void) {
  char path[600];
  tpath(path, sizeof path, "toolarge.txt");
  int pfd[2];
  CHECK_EQ_INT(pipe(pfd), 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(pfd[0]);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {200 * 1000, 200 * 1000};
    setrlimit(RLIMIT_FSIZE, &rl);
    job_opts o = {.n = 100000, .P = 2};
    int rc = run_job(path, &o);
    char msg[2100];
    snprintf(msg, sizeof msg, "%d %s", rc, g_err);
    ssize_t w = write(pfd[1], msg, strlen(msg));
    (void)w;
    _exit(0);
  }
  close(pfd[1]);
  char msg[2100];
  size_t n = 0;
  ssize_t got;
  while (n < sizeof msg - 1 && (got = read(pfd[0], msg + n, sizeof msg - 1 - n)) > 0)
    n += (size_t)got;
  msg[n] = 0;
  close(pfd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(atoi(msg) < 0);
  CHECK_CONTAINS(msg, path);
  CHECK_CONTAINS(msg, strerror(EFBIG));
  CHECK(!exists(path));
}


/* ---- restoring from older checkpoints --------------------------------------- */

/* Every line of the part files in dir (sorted) equals lines 1..o->n, and
 * no .inprogress file is left. */
static void check_dir_output(const char *dir, const job_opts *o) {
  part_scan ps;
  scan_parts(dir, &ps);
  CHECK_EQ_INT(ps.inprogress, 0);
  CHECK_EQ_INT(ps.bad_names, 0);
  lines all = {0};
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (strncmp(e->d_name, "part-", 5)) continue;
    char p[1024];
    size_t len;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    char *text = read_file(p, &len);
    CHECK(text != NULL);
    if (text) lines_split_copy(&all, text, len);
    free(text);
  }
  if (d) closedir(d);
  lines_sort(&all);
  lines want = expected(o, 1);
  check_same_lines(&all, &want);
  lines_free(&want);
  lines_free(&all);
}

/* Ids of the complete checkpoints in ck, ascending (at most cap). */
static int complete_ids(const char *ck, int64_t *ids, int cap) {
  int n = 0;
  for (int64_t id = 1; id <= sl__ckpt_max_id(ck) && n < cap; id++) {
    char p[1200], m[1300];
    sl__ckpt_path(p, sizeof p, ck, id);
    snprintf(m, sizeof m, "%s/_metadata", p);
    if (access(m, F_OK) == 0) ids[n++] = id;
  }
  return n;
}

static void flip_byte(const char *path) {
  size_t len = 0;
  char *b = read_file(path, &len);
  CHECK(b && len > 20);
  if (!b || len <= 20) return;
  b[len / 2] ^= 1;
  FILE *f = fopen(path, "wb");
  fwrite(b, 1, len, f);
  fclose(f);
  free(b);
}

/* Issue 10 item 2: a run to completion, then restores from older
 * checkpoints into the same directory; after each the output is exactly
 * lines 1..n once (before, the part files the later checkpoints had
 * committed stayed and their lines were written again). */
static void restore_older_checkpoint_exact(void) {
  char top[600], out[700], ck[700], chk[1200];
  tpath(top, sizeof top, "older");
  rm_rf(top);
  snprintf(out, sizeof out, "%s/out/", top);
  snprintf(ck, sizeof ck, "%s/ck", top);
  /* ~0.5 s at the rate limit: many checkpoints and part files */
  job_opts o = {.n = 30000, .P = 2, .roll = "2kb", .ckdir = ck, .rate = "60000"};
  int rc = run_job(out, &o);
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  error: %s\n", g_err);
  check_dir_output(out, &o);
  int64_t ids[1000];
  int n1 = complete_ids(ck, ids, 1000);
  CHECK(n1 >= 3);
  if (n1 < 3) return;
  int64_t first = ids[0], mid = ids[n1 / 2];

  /* the newest damaged: "latest" falls back to the one before it */
  sl__ckpt_path(chk, sizeof chk, ck, ids[n1 - 1]);
  char meta[1300];
  snprintf(meta, sizeof meta, "%s/_metadata", chk);
  flip_byte(meta);
  o.restore = "latest";
  rc = run_job(out, &o);
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  error: %s\n", g_err);
  check_dir_output(out, &o);

  /* an explicit older path, at another parallelism (3 subtasks: part
   * counters of the old ones go on, subtask 2 is new) */
  sl__ckpt_path(chk, sizeof chk, ck, mid);
  o.restore = chk;
  o.P = 3;
  rc = run_job(out, &o);
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  error: %s\n", g_err);
  check_dir_output(out, &o);

  /* the first checkpoint, at parallelism 1: subtask 1's and 2's files
   * written after it go */
  sl__ckpt_path(chk, sizeof chk, ck, first);
  o.P = 1;
  o.rate = NULL;
  rc = run_job(out, &o);
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  error: %s\n", g_err);
  check_dir_output(out, &o);

  /* and the newest (that run's final one) at parallelism 2: nothing to
   * redo, the files of the earlier subtasks stay */
  o.restore = "latest";
  o.P = 2;
  rc = run_job(out, &o);
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  error: %s\n", g_err);
  check_dir_output(out, &o);
}

/* ---- hostile checkpoints ------------------------------------------------------ */

static const char OPMETA[8] = {'S', 'L', 'O', 'P', 'M', 'E', 'T', 'A'};

/* Appends a file entry of the sink's checkpoint bytes: u8 kind, i64 len,
 * u16 + name, u16 + name. */
static size_t put_entry(uint8_t *p, int kind, int64_t len, const char *tmp, const char *fin) {
  size_t n = 0;
  uint16_t l;
  p[n++] = (uint8_t)kind;
  memcpy(p + n, &len, 8), n += 8;
  l = (uint16_t)strlen(tmp), memcpy(p + n, &l, 2), n += 2, memcpy(p + n, tmp, l), n += l;
  l = (uint16_t)strlen(fin), memcpy(p + n, &l, 2), n += 2, memcpy(p + n, fin, l), n += l;
  return n;
}

/* sl__file_sink_decode on bytes built here by hand (file_sink.h's layout):
 * a good version-2 state, a version-1 one, every truncation of the good
 * one, and names that are not the sink's own. */
static size_t v2_header(uint8_t *b, uint64_t base, uint64_t next, uint32_t count) {
  memcpy(b, "FSK2", 4);
  memcpy(b + 4, &base, 8);
  memcpy(b + 12, &next, 8);
  memcpy(b + 20, &count, 4);
  return 24;
}

static void decode_sink_state(void) {
  uint8_t b[512];
  char err[512];
  sl__fs_state st;
  size_t n = v2_header(b, 3, 6, 2);
  n += put_entry(b + n, 0, 100, ".part-1-3.inprogress", "part-1-3");
  n += put_entry(b + n, 1, 7, ".part-1-5.inprogress", "part-1-5");
  CHECK_EQ_INT(sl__file_sink_decode(b, n, 1, NULL, &st, err, sizeof err), 0);
  CHECK_EQ_INT(st.version, 2);
  CHECK_EQ_INT(st.base, 3);
  CHECK_EQ_INT(st.next, 6);
  CHECK_EQ_INT(st.n, 2);
  if (st.n == 2) {
    CHECK_EQ_INT(st.files[0].kind, SL__FS_PENDING);
    CHECK_EQ_INT(st.files[0].len, 100);
    CHECK_EQ_INT(st.files[0].subtask, 1);
    CHECK_EQ_INT(st.files[0].part, 3);
    CHECK_EQ_INT(st.files[1].kind, SL__FS_INPROGRESS);
    CHECK_EQ_INT(st.files[1].len, 7);
    CHECK_EQ_INT(st.files[1].part, 5);
  }
  sl__fs_state_free(&st);
  /* every shorter prefix is refused (and nothing leaks) */
  for (size_t k = 1; k < n; k++) {
    err[0] = 0;
    CHECK_EQ_INT(sl__file_sink_decode(b, k, 1, NULL, &st, err, sizeof err), -SL_ESTATE);
    CHECK(err[0] != 0);
  }
  /* trailing bytes */
  b[n] = 0;
  CHECK_EQ_INT(sl__file_sink_decode(b, n + 1, 1, NULL, &st, err, sizeof err), -SL_ESTATE);
  CHECK_CONTAINS(err, "1 bytes after the last file");
  /* seen from subtask 0: another subtask's files */
  CHECK_EQ_INT(sl__file_sink_decode(b, n, 0, NULL, &st, err, sizeof err), -SL_ESTATE);
  CHECK_CONTAINS(err, "subtask 1");
  /* a part number outside base..next-1 */
  n = v2_header(b, 3, 6, 1);
  n += put_entry(b + n, 0, 1, ".part-1-6.inprogress", "part-1-6");
  CHECK_EQ_INT(sl__file_sink_decode(b, n, 1, NULL, &st, err, sizeof err), -SL_ESTATE);
  CHECK_CONTAINS(err, "'.part-1-6.inprogress'");
  /* a count far beyond the bytes */
  n = v2_header(b, 0, 0, 0xffffffffu);
  CHECK_EQ_INT(sl__file_sink_decode(b, n, 0, NULL, &st, err, sizeof err), -SL_ESTATE);
  CHECK_CONTAINS(err, "4294967295 files in 0 bytes");
  /* two files in progress, an unknown kind */
  n = v2_header(b, 0, 2, 2);
  n += put_entry(b + n, 1, 1, ".part-0-0.inprogress", "part-0-0");
  n += put_entry(b + n, 1, 1, ".part-0-1.inprogress", "part-0-1");
  CHECK_EQ_INT(sl__file_sink_decode(b, n, 0, NULL, &st, err, sizeof err), -SL_ESTATE);
  CHECK_CONTAINS(err, "second file in progress");
  n = v2_header(b, 0, 2, 1);
  n += put_entry(b + n, 2, 1, ".part-0-0.inprogress", "part-0-0");
  CHECK_EQ_INT(sl__file_sink_decode(b, n, 0, NULL, &st, err, sizeof err), -SL_ESTATE);
  CHECK_CONTAINS(err, "kind 2");
  /* a name with a newline in it: refused, shown escaped */
  n = v2_header(b, 0, 2, 1);
  n += put_entry(b + n, 1, 1, ".part-0-0.inprogress", "part-0-0");
  b[n - 3] = '\n';
  CHECK_EQ_INT(sl__file_sink_decode(b, n, 0, NULL, &st, err, sizeof err), -SL_ESTATE);
  CHECK_CONTAINS(err, "'part-\\x0a-0'");
  /* version 1 (no counters) */
  uint32_t one = 1;
  memcpy(b, &one, 4);
  n = 4 + put_entry(b + 4, 1, 9, ".part-0-4.inprogress", "part-0-4");
  CHECK_EQ_INT(sl__file_sink_decode(b, n, 0, NULL, &st, err, sizeof err), 0);
  CHECK_EQ_INT(st.version, 1);
  CHECK_EQ_INT(st.n, 1);
  sl__fs_state_free(&st);
  /* single-file mode: only "<base>.inprogress" + "<base>", on subtask 0 */
  n = v2_header(b, 0, 0, 1);
  n += put_entry(b + n, 1, 9, "out.txt.inprogress", "out.txt");
  CHECK_EQ_INT(sl__file_sink_decode(b, n, 1, "out.txt", &st, err, sizeof err), -SL_ESTATE);
  CHECK_EQ_INT(sl__file_sink_decode(b, n, 0, "out.txt", &st, err, sizeof err), 0);
  CHECK_EQ_INT(st.files[0].foreign, 0);
  sl__fs_state_free(&st);
  /* another output's file: decoded, marked foreign (recovery leaves it) */
  CHECK_EQ_INT(sl__file_sink_decode(b, n, 0, "other.txt", &st, err, sizeof err), 0);
  CHECK_EQ_INT(st.files[0].foreign, 1);
  sl__fs_state_free(&st);
  const char *bad[][2] = {{"../x.inprogress", "../x"}, {"...inprogress", ".."},
                          {"out.txt.inprogress", "out.tx"}, {".inprogress", ""},
                          {"a/b.inprogress", "a/b"}, {"out.txt", "out.txt"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    n = v2_header(b, 0, 0, 1);
    n += put_entry(b + n, 1, 9, bad[i][0], bad[i][1]);
    CHECK_EQ_INT(sl__file_sink_decode(b, n, 0, "out.txt", &st, err, sizeof err), -SL_ESTATE);
    CHECK_CONTAINS(err, "'out.txt.inprogress'");
  }
  /* empty: nothing known */
  CHECK_EQ_INT(sl__file_sink_decode(b, 0, 0, NULL, &st, err, sizeof err), 0);
  CHECK_EQ_INT(st.version, 0);
}

/* Replaces the sink's (the last operator's) subtask-0 state in the newest
 * checkpoint of ck by `blob` (the frame's checksum recomputed by the
 * checkpoint writer itself); the file's name goes to file. */
static void plant_sink_state(const char *ck, const uint8_t *blob, size_t len, char *file,
                             size_t cap) {
  char chk[1200], err[1024];
  sl__ckpt_meta m;
  CHECK_EQ_INT(sl__ckpt_latest(ck, chk, sizeof chk, &m, NULL, NULL, err, sizeof err), 0);
  sl__ckpt_file(file, cap, chk, m.n_ops - 1, 0, "meta");
  sl__ckpt_meta_free(&m);
  uint8_t *old = NULL;
  size_t old_len = 0;
  CHECK_EQ_INT(sl__frame_read(file, OPMETA, &old, &old_len, err, sizeof err), 0);
  CHECK(old_len >= 8);
  uint8_t *payload = malloc(8 + len);
  memcpy(payload, old, 8); /* the watermark */
  memcpy(payload + 8, blob, len);
  CHECK_EQ_INT(sl__frame_write(file, OPMETA, payload, 8 + len, err, sizeof err), 0);
  free(payload);
  sl__free(old);
}

/* Issue 10 item 4: sink state naming `../victim` (truncate to 0 bytes and
 * rename, before) and other names that are not the sink's own. */
static void hostile_sink_state_rejected(void) {
  char top[600], out[700], ck[700], victim[700], moved[700], file[1300];
  tpath(top, sizeof top, "hostile");
  rm_rf(top);
  snprintf(out, sizeof out, "%s/out/", top);
  snprintf(ck, sizeof ck, "%s/ck", top);
  snprintf(victim, sizeof victim, "%s/victim", top);
  snprintf(moved, sizeof moved, "%s/moved", top);
  job_opts o = {.n = 1000, .P = 1, .ckdir = ck};
  CHECK_EQ_INT(run_job(out, &o), 0);
  o.restore = "latest";
  const struct {
    int kind;
    const char *tmp, *fin, *says;
  } bad[] = {
      {1, "../victim", "../moved", "'../victim'"},
      {0, "../victim", "../moved", "'../victim'"},
      {1, ".part-0-7.inprogress", "../moved", "'../moved'"},
      {1, "/tmp/x/.part-0-7.inprogress", "part-0-7", "'/tmp/x/.part-0-7.inprogress'"},
      {1, "..", "part-0-7", "'..'"},
      {1, ".part-0-7.inprogress", "part-0-8", "'part-0-8'"},   /* not the same file */
      {1, ".part-1-7.inprogress", "part-1-7", "subtask 1"},    /* another subtask's */
      {1, ".part-0-07.inprogress", "part-0-07", "'.part-0-07.inprogress'"},
      {1, "part-0-7", ".part-0-7.inprogress", "'part-0-7'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    unlink(moved);
    FILE *f = fopen(victim, "w");
    fputs("precious\n", f);
    fclose(f);
    uint8_t blob[600];
    uint32_t count = 1;
    memcpy(blob, &count, 4);
    size_t n = 4 + put_entry(blob + 4, bad[i].kind, 0, bad[i].tmp, bad[i].fin);
    plant_sink_state(ck, blob, n, file, sizeof file);
    int rc = run_job(out, &o);
    CHECK(rc < 0);
    if (rc >= 0) fprintf(stderr, "  case %zu: restore accepted '%s'\n", i, bad[i].tmp);
    CHECK_CONTAINS(g_err, "cannot restore from checkpoint");
    CHECK_CONTAINS(g_err, file);
    CHECK_CONTAINS(g_err, bad[i].says);
    size_t len = 0;
    char *text = read_file(victim, &len);
    CHECK_EQ_STR(text, "precious\n");
    free(text);
    CHECK(!exists(moved));
  }
  /* counts and lengths beyond the bytes there are */
  uint8_t blob[64];
  uint32_t count = 0x10000000;
  memcpy(blob, &count, 4);
  plant_sink_state(ck, blob, 4, file, sizeof file);
  CHECK(run_job(out, &o) < 0);
  CHECK_CONTAINS(g_err, file);
  CHECK_CONTAINS(g_err, "damaged");
  count = 1;
  memcpy(blob, &count, 4);
  size_t n = 4 + put_entry(blob + 4, 1, 0, ".part-0-7.inprogress", "part-0-7");
  blob[4 + 9] = 0xff; /* the first name's length: 255 + ... */
  plant_sink_state(ck, blob, n, file, sizeof file);
  CHECK(run_job(out, &o) < 0);
  CHECK_CONTAINS(g_err, "damaged");
  n = 4 + put_entry(blob + 4, 1, -5, ".part-0-7.inprogress", "part-0-7");
  plant_sink_state(ck, blob, n, file, sizeof file);
  CHECK(run_job(out, &o) < 0);
  CHECK_CONTAINS(g_err, file);
}

/* A part file the checkpoint names that is a symbolic link out of the
 * directory: recovery must not truncate or rename through it. */
static void symlinked_part_file_rejected(void) {
  char top[600], out[700], ck[700], victim[700], link[800], file[1300];
  tpath(top, sizeof top, "symlink");
  rm_rf(top);
  snprintf(out, sizeof out, "%s/out/", top);
  snprintf(ck, sizeof ck, "%s/ck", top);
  snprintf(victim, sizeof victim, "%s/victim", top);
  job_opts o = {.n = 1000, .P = 1, .ckdir = ck, .restore = NULL};
  CHECK_EQ_INT(run_job(out, &o), 0);
  FILE *f = fopen(victim, "w");
  fputs("precious\n", f);
  fclose(f);
  snprintf(link, sizeof link, "%s.part-0-9.inprogress", out);
  CHECK_EQ_INT(symlink(victim, link), 0);
  uint8_t blob[600];
  uint32_t count = 1;
  memcpy(blob, &count, 4);
  size_t n = 4 + put_entry(blob + 4, 1, 0, ".part-0-9.inprogress", "part-0-9");
  plant_sink_state(ck, blob, n, file, sizeof file);
  o.restore = "latest";
  CHECK(run_job(out, &o) < 0);
  CHECK_CONTAINS(g_err, ".part-0-9.inprogress");
  CHECK_CONTAINS(g_err, "not a regular file");
  size_t len = 0;
  char *text = read_file(victim, &len);
  CHECK_EQ_STR(text, "precious\n");
  free(text);
}

/* ---- rolling by time ------------------------------------------------------------ */

/* Part file `part-0-<i>` holds exactly the numbers from..to. */
static void check_part(const char *dir, int i, int64_t from, int64_t to) {
  char p[1024], want[4096] = "";
  snprintf(p, sizeof p, "%s/part-0-%d", dir, i);
  for (int64_t k = from; k <= to; k++)
    snprintf(want + strlen(want), sizeof want - strlen(want), "line-%lld\n", (long long)k);
  size_t len;
  char *text = read_file(p, &len);
  CHECK_EQ_STR(text, want);
  free(text);
}

/* Issue 10 item 3: sink.rolling-policy.rollover-interval and
 * inactivity-interval, on the sink's clock (injected: number k comes at
 * times[k]), without checkpoints: rolled files are committed at once. */
static void rolling_by_time(void) {
  char dir[600], path[700];
  int64_t times[41];
  part_scan ps;
  /* rollover 10 s, numbers 1 s apart: a new file every 10 numbers */
  tpath(dir, sizeof dir, "rollover");
  snprintf(path, sizeof path, "%s/", dir);
  rm_rf(dir);
  for (int k = 1; k <= 40; k++) times[k] = 1000 * k;
  job_opts o = {.n = 35, .P = 1, .times = times, .rollover = "10s", .inactivity = "1h"};
  CHECK_EQ_INT(run_job(path, &o), 0);
  scan_parts(dir, &ps);
  CHECK_EQ_INT(ps.n_parts[0], 4);
  CHECK_EQ_INT(ps.inprogress, 0);
  check_part(dir, 0, 1, 10); /* opened at 1 s; 11 comes at 11 s: 10 s later */
  check_part(dir, 1, 11, 20);
  check_part(dir, 2, 21, 30);
  check_part(dir, 3, 31, 35);

  /* inactivity 60 s: gaps of 61 s (after 5) and 60 s (after 7) roll,
   * 59 s (after 8) does not */
  tpath(dir, sizeof dir, "inactive");
  snprintf(path, sizeof path, "%s/", dir);
  rm_rf(dir);
  const int64_t t[] = {0, 1000, 2000, 3000, 4000, 5000, 66000, 67000, 127000, 186000, 186500};
  job_opts o2 = {.n = 10, .P = 1, .times = t, .rollover = "1h", .inactivity = "60s"};
  CHECK_EQ_INT(run_job(path, &o2), 0);
  scan_parts(dir, &ps);
  CHECK_EQ_INT(ps.n_parts[0], 3);
  check_part(dir, 0, 1, 5);
  check_part(dir, 1, 6, 7);
  check_part(dir, 2, 8, 10);

  /* the defaults (60 s each) */
  tpath(dir, sizeof dir, "defaults");
  snprintf(path, sizeof path, "%s/", dir);
  rm_rf(dir);
  const int64_t t3[] = {0, 0, 59999, 60000, 60001};
  job_opts o3 = {.n = 4, .P = 1, .times = t3};
  CHECK_EQ_INT(run_job(path, &o3), 0);
  check_part(dir, 0, 1, 2); /* 3 comes 60 s after 1 opened the file */
  check_part(dir, 1, 3, 4);
}

/* A continuous job (the file source keeps watching) whose sink goes quiet
 * with a part file in progress: once rollover-interval has passed on the
 * sink's clock, the next checkpoint rolls it and commits it, although no
 * record comes any more.  The clock is the test's; the job's own timing
 * only decides how soon that happens. */
static _Atomic int64_t g_clock_ms;
static int64_t shared_clock(void *ud) {
  (void)ud;
  return atomic_load(&g_clock_ms);
}

typedef struct bg_run {
  sl_env *env;
  int rc;
} bg_run;

static void *bg_exec(void *p) {
  bg_run *r = p;
  r->rc = sl_execute(r->env, "quiet");
  return NULL;
}

/* Waits up to 60 s for path to exist with `size` bytes (size < 0: any). */
static int wait_file(const char *path, int64_t size) {
  for (int i = 0; i < 6000; i++) {
    struct stat st;
    if (stat(path, &st) == 0 && (size < 0 || st.st_size == size)) return 1;
    sleep_ms(10);
  }
  fprintf(stderr, "  timed out waiting for '%s'\n", path);
  return 0;
}

static void quiet_sink_rolls_at_checkpoint(void) {
  char top[600], in[700], out[700], ck[700], p[800];
  tpath(top, sizeof top, "quiet");
  rm_rf(top);
  snprintf(in, sizeof in, "%s/in", top);
  snprintf(out, sizeof out, "%s/out/", top);
  snprintf(ck, sizeof ck, "%s/ck", top);
  mkdir_p(in);
  snprintf(p, sizeof p, "%s/a.txt", in);
  FILE *f = fopen(p, "w");
  fputs("a\nb\nc\nd\ne\n", f);
  fclose(f);
  atomic_store(&g_clock_ms, 0);
  sl_env *env = env_p(1);
  CHECK_EQ_INT(sl_env_set(env, "source.monitor-interval", "20ms"), 0);
  CHECK_EQ_INT(sl_env_set(env, "state.checkpoints.dir", ck), 0);
  CHECK_EQ_INT(sl_env_set(env, "execution.checkpointing.interval", "20ms"), 0);
  CHECK_EQ_INT(sl_env_set(env, "sink.rolling-policy.rollover-interval", "10s"), 0);
  CHECK_EQ_INT(sl_env_set(env, "sink.rolling-policy.inactivity-interval", "1h"), 0);
  sl_sink *sink = sl__file_sink_new(out, shared_clock, NULL);
  CHECK_EQ_INT(sl_sink_to(sl_source_stream(env, sl_file_source(in)), sink), 0);
  bg_run r = {env, 0};
  pthread_t th;
  CHECK_EQ_INT(pthread_create(&th, NULL, bg_exec, &r), 0);
  /* a checkpoint wrote the five lines out, in progress */
  snprintf(p, sizeof p, "%s.part-0-0.inprogress", out);
  CHECK(wait_file(p, 10));
  /* the clock stands still: nothing can roll */
  snprintf(p, sizeof p, "%spart-0-0", out);
  struct stat st;
  CHECK(stat(p, &st) != 0);
  atomic_store(&g_clock_ms, 10000);
  CHECK(wait_file(p, -1));
  size_t len;
  char *text = read_file(p, &len);
  CHECK_EQ_STR(text, "a\nb\nc\nd\ne\n");
  free(text);
  sl_cancel(env);
  pthread_join(th, NULL);
  CHECK(r.rc == 0 || r.rc == -SL_ECANCELED);
  sl_env_free(env);
}

int main(void) {
  scratch_init("/tmp/sl_test_file_sink", 1);
  RUN(single_file_p1_exact_order);
  RUN(single_file_p4_multiset);
  RUN(single_file_empty_output);
  RUN(single_file_replaces_existing);
  RUN(single_file_creates_parent_dirs);
  RUN(failing_job_leaves_no_final_file);
  RUN(directory_mode_p2);
  RUN(directory_mode_existing_dir_without_slash);
  RUN(directory_mode_rolling);
  RUN(unwritable_path_fails);
  RUN(write_failure_fails_job);
  RUN(restore_older_checkpoint_exact);
  RUN(rolling_by_time);
  RUN(quiet_sink_rolls_at_checkpoint);
  RUN(decode_sink_state);
  RUN(hostile_sink_state_rejected);
  RUN(symlinked_part_file_rejected);
  TEST_MAIN_END();
}

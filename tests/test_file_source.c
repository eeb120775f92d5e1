/*
 * test_file_source.c -- whole-job tests of sl_file_source through the
 * public API: a file, a directory and a glob at parallelism 1, 2 and 4 with
 * exact expected lines (compared as sorted multisets when P > 1), byte-range
 * splits (every line exactly once), error messages for missing and
 * unreadable input, bad records (overlong, invalid UTF-8) failing the job
 * with the exact byte offset or going to the dead-letter file, and the
 * continuous mode (appended lines, new files, cancellation), and line
 * numbers as timestamps (source.text.line-numbers).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "test_util.h"

/* A fresh, empty directory g_tmp/name; its path in out. */
static void fresh_dir(const char *name, char *out, size_t cap) {
  tpath(out, cap, name);
  CHECK_EQ_INT(rm_rf(out), 0);
  CHECK_EQ_INT(mkdir_p(out), 0);
}

static void write_file(const char *path, const char *data, size_t len,
                       int append) {
  int fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
  CHECK(fd >= 0);
  if (fd < 0) return;
  CHECK_EQ_INT(write(fd, data, len), (ssize_t)len);
  close(fd);
}

/* ---- expected lines ------------------------------------------------------ */

static void collected(lines *l, sl_collect *c) {
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    CHECK_EQ_INT(sl_collect_get(c, i, &r), 0);
    CHECK(r.ts == SL_NO_TIMESTAMP);
    CHECK_EQ_INT(r.key_len, 0);
    lines_add(l, r.value, r.value_len);
  }
}

/* ---- running a job ------------------------------------------------------- */

/* Run source(path) -> collect at P with extra "key=value" settings (NULL
 * terminated).  Returns the rc; lines in *got; error text in err. */
static int run_file_job(const char *path, int P, const char *const *kv,
                        lines *got, char *err, size_t errcap,
                        sl_job_stats *st) {
  sl_env *env = env_p(P);
  for (; kv && *kv; kv++) CHECK_EQ_INT(sl_env_set_kv(env, *kv), 0);
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_file_source(path));
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
  int rc = sl_execute(env, "file-source-test");
  if (err) snprintf(err, errcap, "%s", sl_env_last_error(env));
  if (got && !rc) collected(got, c);
  if (st) sl_job_stats_get(env, st);
  sl_collect_free(c);
  sl_env_free(env);
  return rc;
}

/* A text of n lines with varied lengths, empty lines, a CRLF line, UTF-8,
 * and no final newline when `no_final_nl`. */
static char *make_text(const char *tag, int n, int no_final_nl, size_t *len) {
  size_t cap = (size_t)n * 120 + 64, o = 0;
  char *s = malloc(cap);
  for (int i = 0; i < n; i++) {
    if (i % 17 == 5) {
      s[o++] = '\n'; /* empty line */
      continue;
    }
    o += (size_t)snprintf(s + o, cap - o, "%s-%d:", tag, i);
    int extra = (i * 37) % 80;
    for (int k = 0; k < extra; k++) s[o++] = (char)('a' + (i + k) % 26);
    if (i % 23 == 3) o += (size_t)snprintf(s + o, cap - o, " gr\xc3\xbc\xc3\x9f");
    if (i % 29 == 7) s[o++] = '\r';
    s[o++] = '\n';
  }
  if (no_final_nl) o += (size_t)snprintf(s + o, cap - o, "%s-last", tag);
  *len = o;
  return s;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_single_file(void) {
  char dir[700], path[800];
  fresh_dir("single", dir, sizeof dir);
  snprintf(path, sizeof path, "%s/input.txt", dir);
  size_t len;
  char *text = make_text("s", 500, 1, &len);
  write_file(path, text, len, 0);
  const int Ps[] = {1, 2, 4};
  for (int i = 0; i < 3; i++) {
    lines want = {0}, got = {0};
    lines_split_copy(&want, text, len);
    char err[2048];
    sl_job_stats st;
    int rc = run_file_job(path, Ps[i], NULL, &got, err, sizeof err, &st);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stderr, "  P=%d: %s\n", Ps[i], err);
    CHECK(same_lines(&want, &got, Ps[i] == 1));
    CHECK_EQ_INT(st.records_in, want.n);
    lines_free(&want);
    lines_free(&got);
  }
  free(text);
}

static void test_splits(void) {
  char dir[700], path[800];
  fresh_dir("splits", dir, sizeof dir);
  snprintf(path, sizeof path, "%s/big.txt", dir);
  size_t len;
  char *text = make_text("x", 400, 1, &len); /* ~20 KB */
  CHECK(len > 10000);
  write_file(path, text, len, 0);
  const int Ps[] = {1, 2, 4};
  const char *sizes[] = {"source.file.split-size=100", "source.file.split-size=7",
                         "source.file.split-size=4096"};
  for (int s = 0; s < 3; s++)
    for (int i = 0; i < 3; i++) {
      lines want = {0}, got = {0};
      lines_split_copy(&want, text, len);
      const char *kv[] = {sizes[s], NULL};
      char err[2048];
      int rc = run_file_job(path, Ps[i], kv, &got, err, sizeof err, NULL);
      CHECK_EQ_INT(rc, 0);
      if (rc) fprintf(stderr, "  %s P=%d: %s\n", sizes[s], Ps[i], err);
      /* At P=1 the splits are read in order, so even the order holds. */
      if (!same_lines(&want, &got, Ps[i] == 1)) {
        fprintf(stderr, "  %s P=%d\n", sizes[s], Ps[i]);
        CHECK(0);
      }
      lines_free(&want);
      lines_free(&got);
    }
  free(text);
}

static void test_directory_and_glob(void) {
  char dir[700], p[900];
  fresh_dir("dir", dir, sizeof dir);
  static const char a[] = "a1\na2\n", b[] = "b1\r\n\nb3", c[] = "c1\nc2\n";
  snprintf(p, sizeof p, "%s/b.log", dir);
  write_file(p, b, sizeof b - 1, 0);
  snprintf(p, sizeof p, "%s/a.log", dir);
  write_file(p, a, sizeof a - 1, 0);
  snprintf(p, sizeof p, "%s/c.txt", dir);
  write_file(p, c, sizeof c - 1, 0);
  snprintf(p, sizeof p, "%s/.hidden", dir);
  write_file(p, "hidden\n", 7, 0);
  snprintf(p, sizeof p, "%s/sub", dir);
  CHECK_EQ_INT(mkdir_p(p), 0);
  snprintf(p, sizeof p, "%s/sub/nested.log", dir);
  write_file(p, "nested\n", 7, 0);

  const int Ps[] = {1, 2, 4};
  for (int i = 0; i < 3; i++) {
    /* Directory: a.log, b.log, c.txt in name order; no dot-file, no
     * subdirectory. */
    lines want = {0}, got = {0};
    const char *w[] = {"a1", "a2", "b1\r", "", "b3", "c1", "c2"};
    for (size_t k = 0; k < 7; k++) lines_add(&want, w[k], strlen(w[k]));
    char err[2048];
    int rc = run_file_job(dir, Ps[i], NULL, &got, err, sizeof err, NULL);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stderr, "  %s\n", err);
    CHECK(same_lines(&want, &got, Ps[i] == 1));
    lines_free(&want);
    lines_free(&got);

    /* Glob: only *.log, top level. */
    snprintf(p, sizeof p, "%s/*.log", dir);
    for (size_t k = 0; k < 5; k++) lines_add(&want, w[k], strlen(w[k]));
    rc = run_file_job(p, Ps[i], NULL, &got, err, sizeof err, NULL);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stderr, "  %s\n", err);
    CHECK(same_lines(&want, &got, Ps[i] == 1));
    lines_free(&want);
    lines_free(&got);
  }
  /* An empty directory is an empty stream. */
  fresh_dir("emptydir", p, sizeof p);
  lines got = {0};
  CHECK_EQ_INT(run_file_job(p, 2, NULL, &got, NULL, 0, NULL), 0);
  CHECK_EQ_INT(got.n, 0);
  lines_free(&got);
}

static void test_missing_and_unreadable(void) {
  char dir[700], p[900], err[2048];
  fresh_dir("missing", dir, sizeof dir);
  snprintf(p, sizeof p, "%s/no-such-file.txt", dir);
  int rc = run_file_job(p, 2, NULL, NULL, err, sizeof err, NULL);
  CHECK_EQ_INT(rc, -SL_ENOENT);
  CHECK_CONTAINS(err, p);
  CHECK_CONTAINS(err, "No such file or directory");

  snprintf(p, sizeof p, "%s/*.nothing", dir);
  rc = run_file_job(p, 1, NULL, NULL, err, sizeof err, NULL);
  CHECK_EQ_INT(rc, -SL_ENOENT);
  CHECK_CONTAINS(err, p);

  /* unreadable for everyone, root included: a symlink loop */
  char p2[900];
  snprintf(p, sizeof p, "%s/loop-a.txt", dir);
  snprintf(p2, sizeof p2, "%s/loop-b.txt", dir);
  CHECK_EQ_INT(symlink(p2, p), 0);
  CHECK_EQ_INT(symlink(p, p2), 0);
  rc = run_file_job(p, 1, NULL, NULL, err, sizeof err, NULL);
  CHECK(rc == -SL_EIO || rc == -SL_ENOENT);
  CHECK_CONTAINS(err, p);
  CHECK_CONTAINS(err, "Too many levels of symbolic links");

  if (geteuid() != 0) { /* permission bits: root would read it anyway */
    snprintf(p, sizeof p, "%s/secret.txt", dir);
    write_file(p, "x\n", 2, 0);
    chmod(p, 0);
    rc = run_file_job(p, 1, NULL, NULL, err, sizeof err, NULL);
    CHECK_EQ_INT(rc, -SL_EIO);
    CHECK_CONTAINS(err, p);
    CHECK_CONTAINS(err, "Permission denied");
  }
}

/* A file with one bad line at a known offset, read at several P with
 * small splits so the bad line can land in any subtask. */
static void bad_record_case(const char *name, const char *bad, const char *kv0,
                            const char *reason) {
  char dir[700], path[800], err[2048], want_where[1000];
  fresh_dir(name, dir, sizeof dir);
  snprintf(path, sizeof path, "%s/data.txt", dir);
  size_t len;
  char *head = make_text("h", 60, 0, &len);
  size_t bad_off = len;
  size_t total = len + strlen(bad) + 1 + 200;
  char *text = malloc(total);
  memcpy(text, head, len);
  size_t o = len;
  o += (size_t)snprintf(text + o, total - o, "%s\n", bad);
  o += (size_t)snprintf(text + o, total - o, "tail1\ntail2\n");
  write_file(path, text, o, 0);
  snprintf(want_where, sizeof want_where, "file=%s offset=%zu", path, bad_off);

  const int Ps[] = {1, 2, 4};
  for (int i = 0; i < 3; i++) {
    const char *kv[] = {kv0, "source.file.split-size=300", NULL};
    int rc = run_file_job(path, Ps[i], kv, NULL, err, sizeof err, NULL);
    CHECK_EQ_INT(rc, -SL_EBADREC);
    CHECK_CONTAINS(err, want_where);
    CHECK_CONTAINS(err, reason);
  }

  /* With a dead-letter file: the job succeeds, every good line arrives, the
   * bad one is in the dead-letter file with its file and offset. */
  char dl[800], dlkv[900];
  snprintf(dl, sizeof dl, "%s/dead.txt", dir);
  snprintf(dlkv, sizeof dlkv, "pipeline.dead-letter.path=%s", dl);
  for (int i = 0; i < 3; i++) {
    unlink(dl);
    const char *kv[] = {kv0, "source.file.split-size=300", dlkv, NULL};
    lines want = {0}, got = {0};
    lines_split_copy(&want, head, len);
    lines_add(&want, "tail1", 5);
    lines_add(&want, "tail2", 5);
    sl_job_stats st;
    int rc = run_file_job(path, Ps[i], kv, &got, err, sizeof err, &st);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stderr, "  %s\n", err);
    CHECK(same_lines(&want, &got, 0));
    CHECK_EQ_INT(st.dead_letters, 1);
    char buf[8192] = "";
    FILE *f = fopen(dl, "r");
    CHECK(f != NULL);
    if (f) {
      size_t n = fread(buf, 1, sizeof buf - 1, f);
      buf[n] = 0;
      fclose(f);
    }
    CHECK_CONTAINS(buf, want_where);
    CHECK_CONTAINS(buf, reason);
    lines_free(&want);
    lines_free(&got);
  }
  free(head);
  free(text);
}

static void test_overlong_line(void) {
  char bad[200];
  memset(bad, 'L', 100);
  bad[100] = 0;
  bad_record_case("overlong", bad, "pipeline.max-line-length=99",
                  "line longer than pipeline.max-line-length (99 bytes)");
}

static void test_invalid_utf8(void) {
  bad_record_case("badutf8", "valid start \xc3\x28 then junk",
                  "pipeline.text.validate-utf8=true",
                  "invalid UTF-8 at byte 12 of the line");
}

/* ---- continuous mode ----------------------------------------------------- */

static void test_continuous(void) {
  char dir[700], a[900], b[900], hidden[900];
  fresh_dir("continuous", dir, sizeof dir);
  snprintf(a, sizeof a, "%s/a.txt", dir);
  snprintf(b, sizeof b, "%s/b.txt", dir);
  snprintf(hidden, sizeof hidden, "%s/.c.txt", dir);
  write_file(a, "a1\na2\na3\n", 9, 0);

  bg_job j = {0};
  sl_env *env = env_p(2);
  CHECK_EQ_INT(sl_env_set(env, "source.monitor-interval", "50ms"), 0);
  CHECK_EQ_INT(sl_env_set(env, "execution.buffer-timeout", "5ms"), 0);
  CHECK_EQ_INT(sl_env_set(env, "execution.handle-signals", "false"), 0);
  bg_start(&j, env, sl_file_source(dir), "continuous");

  CHECK(wait_seen(&j, 3));
  write_file(a, "a4\na5\npart", 10, 1); /* "part" waits for its newline */
  write_file(b, "b1\nb2\n", 6, 0);      /* a new file */
  write_file(hidden, "h\n", 2, 0);      /* ignored */
  CHECK(wait_seen(&j, 7));
  sleep_ms(150);
  CHECK_EQ_INT(atomic_load(&j.seen), 7); /* the partial line is not a line */
  write_file(a, "ial\n", 4, 1);
  write_file(b, "b3", 2, 1);
  CHECK(wait_seen(&j, 8));
  sleep_ms(150);
  sl_cancel(j.env);
  bg_join(&j);
  CHECK_EQ_INT(j.rc, -SL_ECANCELED);
  if (j.rc != -SL_ECANCELED) fprintf(stderr, "  %s\n", sl_env_last_error(j.env));

  lines want = {0}, got = {0};
  const char *w[] = {"a1", "a2", "a3", "a4", "a5", "partial", "b1", "b2"};
  for (size_t k = 0; k < 8; k++) lines_add(&want, w[k], strlen(w[k]));
  collected(&got, j.c);
  CHECK(same_lines(&want, &got, 0));
  lines_free(&want);
  lines_free(&got);
  bg_free(&j);
}

/* ---- line numbers ---------------------------------------------------------- */

/* source.text.line-numbers: every record's timestamp is its 1-based line
 * number within its file, even with a split size that would otherwise cut
 * the files in many byte ranges; an overlong line (to the dead-letter file)
 * still counts as a line. */
static void test_line_numbers(void) {
  char dir[700], path[3][800], dl[800], dlkv[900];
  fresh_dir("linenum", dir, sizeof dir);
  snprintf(dl, sizeof dl, "%s.dead", dir);
  snprintf(dlkv, sizeof dlkv, "pipeline.dead-letter.path=%s", dl);
  const int n_lines[3] = {300, 1, 120};
  lines want = {0};
  for (int f = 0; f < 3; f++) {
    snprintf(path[f], sizeof path[f], "%s/f%d.txt", dir, f);
    char *text = malloc((size_t)n_lines[f] * 200 + 16);
    size_t o = 0;
    for (int i = 1; i <= n_lines[f]; i++) {
      char want_line[64];
      if (f == 2 && i == 7) { /* overlong: 150 bytes > 128 */
        memset(text + o, 'L', 150);
        o += 150;
        text[o++] = '\n';
        continue;
      }
      int len = snprintf(want_line, sizeof want_line, "%d:f%d-%d", i, f, i);
      o += (size_t)snprintf(text + o, 64, "f%d-%d%.*s\n", f, i, i % 40,
                            "........................................");
      lines_add(&want, want_line, (size_t)len);
    }
    write_file(path[f], text, f == 1 ? o - 1 : o, 0); /* f1: no final \n */
    free(text);
  }
  const int Ps[] = {1, 3};
  for (int k = 0; k < 2; k++) {
    unlink(dl);
    sl_env *env = env_p(Ps[k]);
    CHECK_EQ_INT(sl_env_set(env, "source.text.line-numbers", "true"), 0);
    CHECK_EQ_INT(sl_env_set(env, "source.file.split-size", "256"), 0);
    CHECK_EQ_INT(sl_env_set(env, "pipeline.max-line-length", "128"), 0);
    CHECK_EQ_INT(sl_env_set_kv(env, dlkv), 0);
    sl_collect *c = sl_collect_new();
    sl_stream *s = sl_source_stream(env, sl_file_source(dir));
    CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
    int rc = sl_execute(env, "line-numbers");
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stderr, "  %s\n", sl_env_last_error(env));
    lines got = {0};
    for (size_t i = 0; i < sl_collect_count(c); i++) {
      sl_record r;
      CHECK_EQ_INT(sl_collect_get(c, i, &r), 0);
      /* "TS:" + the line up to its dots */
      char buf[128];
      uint32_t vl = r.value_len;
      const char *v = r.value;
      while (vl && v[vl - 1] == '.') vl--;
      int len = snprintf(buf, sizeof buf, "%lld:%.*s", (long long)r.ts, (int)vl, v);
      lines_add(&got, buf, (size_t)len);
    }
    lines w2 = {0};
    for (size_t i = 0; i < want.n; i++) lines_add(&w2, want.v[i], strlen(want.v[i]));
    CHECK(same_lines(&w2, &got, 0));
    size_t dlen = 0;
    char *dead = read_file(dl, &dlen);
    CHECK(dead != NULL);
    if (dead) {
      char where[1000];
      snprintf(where, sizeof where, "file=%s offset=", path[2]);
      CHECK_CONTAINS(dead, where);
      free(dead);
    }
    lines_free(&w2);
    lines_free(&got);
    sl_collect_free(c);
    sl_env_free(env);
  }
  lines_free(&want);
  unlink(dl);
}

int main(void) {
  scratch_init("/tmp/sl_test_file_source", 0);
  RUN(test_single_file);
  RUN(test_splits);
  RUN(test_directory_and_glob);
  RUN(test_missing_and_unreadable);
  RUN(test_overlong_line);
  RUN(test_invalid_utf8);
  RUN(test_continuous);
  RUN(test_line_numbers);
  TEST_MAIN_END();
}

/*
 * test_file_sink.c -- whole-job tests of sl_file_sink through the public
 * API: single-file mode (exact lines at P=1, exact multiset at P=4, atomic
 * replace, nothing final after a failure), directory mode (part files per
 * subtask, rolling by size, no .inprogress left) and I/O errors (unwritable
 * path, a write failing with EFBIG under RLIMIT_FSIZE in a child process).
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

static int to_text(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const job_opts *o = ud;
  int64_t k;
  memcpy(&k, in->value, sizeof k);
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
  sl_stream *s = sl_source_stream(env, sl_sequence_source(1, o->n));
  if (o->drop_all) s = sl_filter(s, drop, NULL);
  s = sl_map(s, to_text, (void *)o);
  CHECK_EQ_INT(sl_sink_to(s, sl_file_sink(path)), 0);
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
  TEST_MAIN_END();
}

/*
 * test_util.h -- helpers shared by the tests/test_*.c programs; include it
 * after test.h.  It holds what several tests used to carry a copy of:
 *
 *   - env_p(P): a new sl_env with parallelism.default = P; g_backends, the
 *     state backends this build has (RocksDB only with it);
 *   - sleep_ms / now_ms: sleeping and a monotonic clock in milliseconds;
 *   - the scratch directory g_tmp from SL_TEST_TMP (scratch_init, tpath,
 *     mkdir_p, rm_rf) and read_file (a whole file, NUL-terminated);
 *   - `lines`, a growable vector of strings: push, add (copy), split,
 *     sort, compare (same_lines), free;
 *   - listen_loopback: a TCP listener on 127.0.0.1 at a kernel-chosen port;
 *   - bg_job: a job run in a background thread whose records are counted
 *     (count_map) as they pass, so a test can wait_seen() for them;
 *   - keyed jobs over int64 values: key10, sum_add, the COUNT aggregate.
 *
 * Everything is static inline (or marked unused), so each test includes
 * the whole header and uses only what it needs without -Wunused warnings.
 * A CHECK failing inside a helper reports this file's line; the test name
 * printed with it (t_current) still says which test it was.
 */
#ifndef SL_TEST_UTIL_H
#define SL_TEST_UTIL_H

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

/* ---- environments and time ------------------------------------------------ */

/* The keyed-state backends of this build (state.backend.type values) that
 * tests run on: RocksDB only when built with it (-DSLUICE_WITH_ROCKSDB). */
static const char *const g_backends[] __attribute__((unused)) = {
    "hashmap",
#ifdef SLUICE_WITH_ROCKSDB
    "rocksdb",
#endif
};
#define N_BACKENDS ((int)(sizeof g_backends / sizeof *g_backends))

/* A new environment with parallelism.default = P. */
static inline sl_env *env_p(int P) {
  sl_env *env = sl_env_new();
  char buf[16];
  snprintf(buf, sizeof buf, "%d", P);
  CHECK_EQ_INT(sl_env_set(env, "parallelism.default", buf), 0);
  return env;
}

static inline void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static inline int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- files and the scratch directory -------------------------------------- */

/* The test's scratch directory (see scratch_init). */
static char g_tmp[512] __attribute__((unused));

/* mkdir -p; returns 0 when dir is a directory afterwards. */
static inline int mkdir_p(const char *dir) {
  char p[1024];
  snprintf(p, sizeof p, "%s", dir);
  for (char *s = p + 1; *s; s++)
    if (*s == '/') {
      *s = 0;
      mkdir(p, 0777);
      *s = '/';
    }
  mkdir(p, 0777);
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

/* rm -rf (symbolic links are removed, not followed); returns 0 when
 * nothing is left at path. */
static inline int rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return 0;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char sub[4096];
      if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < (int)sizeof sub)
        rm_rf(sub);
    }
    if (d) closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
  return lstat(path, &st) == 0 ? -1 : 0;
}

/* Sets g_tmp to $SL_TEST_TMP (set by ctest; `fallback` when unset or
 * empty), empties it first when `clean`, and creates it. */
static inline void scratch_init(const char *fallback, int clean) {
  const char *t = getenv("SL_TEST_TMP");
  snprintf(g_tmp, sizeof g_tmp, "%s", t && *t ? t : fallback);
  if (clean) rm_rf(g_tmp);
  CHECK_EQ_INT(mkdir_p(g_tmp), 0);
}

/* The path g_tmp/name in buf (returned). */
static inline const char *tpath(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", g_tmp, name);
  return buf;
}

/* The whole file, NUL-terminated (malloc'd; length in *len), or NULL when
 * it cannot be opened. */
static inline char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  buf = realloc(buf, n + 1);
  buf[n] = 0;
  *len = n;
  return buf;
}

/* ---- a vector of lines ----------------------------------------------------- */

/* Strings; whether the vector owns them is up to the user: lines_add copies
 * (free with lines_free), lines_push and lines_split_inplace do not (free
 * only .v then). */
typedef struct lines {
  char **v;
  size_t n, cap;
} lines;

static inline void lines_push(lines *l, char *s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 256;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
  }
  l->v[l->n++] = s;
}

/* Appends a NUL-terminated copy of s[0..len). */
static inline void lines_add(lines *l, const char *s, size_t len) {
  char *c = malloc(len + 1);
  memcpy(c, s, len);
  c[len] = 0;
  lines_push(l, c);
}

/* Frees the strings and the vector; leaves l empty. */
static inline void lines_free(lines *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static inline int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline void lines_sort(lines *l) {
  if (l->n) qsort(l->v, l->n, sizeof *l->v, cmp_str);
}

/* Appends copies of the lines of text[0..len): '\n' ends a line, an
 * unterminated last line counts (as the text sources split). */
static inline void lines_split_copy(lines *l, const char *text, size_t len) {
  size_t b = 0;
  for (size_t i = 0; i < len; i++)
    if (text[i] == '\n') {
      lines_add(l, text + b, i - b);
      b = i + 1;
    }
  if (b < len) lines_add(l, text + b, len - b);
}

/* Splits text in place ('\n' becomes NUL) and pushes the lines; returns 0
 * if the text does not end in '\n' (unless empty), whose tail is dropped. */
static inline int lines_split_inplace(lines *l, char *text, size_t len) {
  size_t start = 0;
  for (size_t i = 0; i < len; i++)
    if (text[i] == '\n') {
      text[i] = 0;
      lines_push(l, text + start);
      start = i + 1;
    }
  return start == len;
}

/* want == got, in order (ordered) or as sorted multisets (both are sorted
 * in place then); prints the first difference. */
static inline int same_lines(lines *want, lines *got, int ordered) {
  if (!ordered) {
    lines_sort(want);
    lines_sort(got);
  }
  if (want->n != got->n) {
    fprintf(stderr, "  want %zu lines, got %zu\n", want->n, got->n);
    return 0;
  }
  for (size_t i = 0; i < want->n; i++)
    if (strcmp(want->v[i], got->v[i])) {
      fprintf(stderr, "  line %zu: want \"%s\", got \"%s\"\n", i, want->v[i],
              got->v[i]);
      return 0;
    }
  return 1;
}

/* ---- sockets ---------------------------------------------------------------- */

/* A TCP socket listening on 127.0.0.1 at a port the kernel picks (in
 * *port).  Returns the fd, or -1. */
static inline int listen_loopback(int *port, int backlog) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) ||
      listen(fd, backlog) || getsockname(fd, (struct sockaddr *)&sa, &len)) {
    if (fd >= 0) close(fd);
    return -1;
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

/* ---- a job in a background thread ------------------------------------------ */

/* source -> count_map -> collect, executed by a thread; `seen` counts the
 * records that passed the map so far. */
typedef struct bg_job {
  sl_env *env;
  sl_collect *c;
  _Atomic long seen;
  int rc;           /* sl_execute's result, after bg_join */
  const char *name; /* the job name */
  pthread_t thread;
} bg_job;

/* A map that counts records in the _Atomic long at ud. */
static inline int count_map(void *ud, sl_ctx *ctx, const sl_record *in,
                            sl_record *out) {
  atomic_fetch_add((_Atomic long *)ud, 1);
  return 0;
}

static inline void *bg_main(void *arg) {
  bg_job *j = arg;
  j->rc = sl_execute(j->env, j->name);
  return NULL;
}

/* Builds src -> count_map -> collect on env (configured by the caller; j
 * owns it from here) and executes it as `name` in a new thread. */
static inline void bg_start(bg_job *j, sl_env *env, sl_source *src,
                            const char *name) {
  j->env = env;
  j->name = name;
  j->c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, src);
  s = sl_map(s, count_map, (void *)&j->seen);
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(j->c)), 0);
  CHECK_EQ_INT(pthread_create(&j->thread, NULL, bg_main, j), 0);
}

/* Waits for the job's thread to end (after sl_cancel or end of input). */
static inline void bg_join(bg_job *j) { pthread_join(j->thread, NULL); }

/* Frees the collect and the environment (after bg_join). */
static inline void bg_free(bg_job *j) {
  sl_collect_free(j->c);
  sl_env_free(j->env);
}

/* Waits (up to 5 s) until `seen` reaches n; 0 on timeout. */
static inline int wait_seen(bg_job *j, long n) {
  for (int i = 0; i < 500 && atomic_load(&j->seen) < n; i++) sleep_ms(10);
  if (atomic_load(&j->seen) >= n) return 1;
  fprintf(stderr, "  timed out: seen %ld, want %ld\n", atomic_load(&j->seen), n);
  return 0;
}

/* ---- keyed jobs over int64 values (sequence sources) ----------------------- */

/* key = value % 10, one byte */
static inline int key10(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  (void)ud;
  int64_t v;
  memcpy(&v, in->value, 8);
  uint8_t *k = sl_ctx_scratch(ctx, 1);
  *k = (uint8_t)(v % 10);
  out->key = k;
  out->key_len = 1;
  return 0;
}

/* a rolling sum of int64 values (sl_reduce) */
static inline int sum_add(void *ud, sl_ctx *ctx, const sl_record *acc, const sl_record *in,
                          sl_record *out) {
  (void)ud;
  int64_t a, b;
  memcpy(&a, acc->value, 8);
  memcpy(&b, in->value, 8);
  int64_t *s = sl_ctx_scratch(ctx, 8);
  *s = a + b;
  out->value = s;
  return 0;
}

/* COUNT: an aggregate that counts its records (a window's result is a
 * count_acc) */
typedef struct count_acc {
  int64_t n;
} count_acc;
static inline void cnt_create(void *ud, void *acc) { memset(acc, 0, sizeof(count_acc)); }
static inline int cnt_add(void *ud, void *acc, const void *in, uint32_t n) {
  ((count_acc *)acc)->n++;
  return 0;
}
static inline int cnt_result(void *ud, const void *acc, sl_bytes *out) {
  *out = (sl_bytes){acc, sizeof(count_acc)};
  return 0;
}
static const sl_state_desc COUNT __attribute__((unused)) = {
    .name = "count", .kind = SL_STATE_AGGREGATING, .size = sizeof(count_acc),
    .agg_create = cnt_create, .agg_add = cnt_add, .agg_result = cnt_result};

/* ---- a heap meter: an allocator (sl_set_allocator) that counts live and
 * peak bytes; install it in a forked child, the library keeps it for the
 * process ------------------------------------------------------------------ */

static _Atomic long long g_live __attribute__((unused)), g_peak __attribute__((unused));
/* allocations (malloc and realloc calls) made by threads that set
 * t_count_allocs */
static _Atomic long long g_allocs __attribute__((unused));
static __thread int t_count_allocs __attribute__((unused));

static inline void *count_malloc(size_t n) {
  if (t_count_allocs) atomic_fetch_add(&g_allocs, 1);
  size_t *p = malloc(n + 16);
  if (!p) return NULL;
  p[0] = n;
  long long live = atomic_fetch_add(&g_live, (long long)n) + (long long)n;
  long long peak = atomic_load(&g_peak);
  while (live > peak && !atomic_compare_exchange_weak(&g_peak, &peak, live)) {
  }
  return (char *)p + 16;
}
static inline void count_free(void *q) {
  if (!q) return;
  size_t *p = (size_t *)((char *)q - 16);
  atomic_fetch_sub(&g_live, (long long)p[0]);
  free(p);
}
static inline void *count_realloc(void *q, size_t n) {
  if (!q) return count_malloc(n);
  if (t_count_allocs) atomic_fetch_add(&g_allocs, 1);
  size_t *p = (size_t *)((char *)q - 16), old = p[0];
  size_t *np = realloc(p, n + 16);
  if (!np) return NULL;
  np[0] = n;
  long long live = atomic_fetch_add(&g_live, (long long)n - (long long)old) + (long long)n -
                   (long long)old;
  long long peak = atomic_load(&g_peak);
  while (live > peak && !atomic_compare_exchange_weak(&g_peak, &peak, live)) {
  }
  return (char *)np + 16;
}

/* Peak heap of run(a) and of run(b), measured in a forked child with the
 * counting allocator installed (fork before any thread ran: TSan).  0, or
 * -1 when the child failed (its CHECKs print why). */
static inline int heap_peaks(long long (*run)(int64_t), int64_t a, int64_t b,
                             long long out[2]) {
  int fd[2];
  out[0] = out[1] = 0;
  if (pipe(fd)) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    int before = t_failures;
    sl_allocator al = {count_malloc, count_realloc, count_free};
    sl_set_allocator(&al);
    long long p[2] = {run(a), run(b)};
    ssize_t w = write(fd[1], p, sizeof p);
    _exit(w == sizeof p && t_failures == before ? 0 : 1);
  }
  close(fd[1]);
  ssize_t r = read(fd[0], out, 2 * sizeof *out);
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return r == (ssize_t)(2 * sizeof *out) && WIFEXITED(status) && WEXITSTATUS(status) == 0
             ? 0
             : -1;
}

/* Resets the peak to what is live now; returns that base. */
static inline long long heap_mark(void) {
  atomic_store(&g_peak, atomic_load(&g_live));
  return atomic_load(&g_live);
}

#endif

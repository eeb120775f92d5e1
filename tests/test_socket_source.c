/*
 * test_socket_source.c -- whole-job tests of sl_socket_source and
 * sl_stdin_source through the public API, against a real TCP server thread
 * on 127.0.0.1 (port 0, found with getsockname): lines arrive (also when
 * sent in small pieces with pauses), the final unterminated line counts,
 * reconnect after the peer closes (source.socket.max-retry=1), connection
 * refused fails the job naming HOST:PORT (with and without retries),
 * overlong lines name the socket and offset, cancellation ends a stream
 * that never closes, and stdin (a pipe dup'ed onto fd 0) is read to EOF.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"
#include "test_util.h"

#define SL_MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

/* ---- a TCP server thread ------------------------------------------------- */

typedef struct server {
  int lfd, port;
  const char *payload[4]; /* one per accepted connection */
  int n_conns;
  int chunk;       /* > 0: send in pieces of this size ... */
  int pause_ms;    /* ... with this pause between them */
  int keep_open;   /* do not close the last connection until `stop` */
  _Atomic int stop;
  pthread_t thread;
} server;

static void *server_main(void *arg) {
  server *s = arg;
  for (int c = 0; c < s->n_conns; c++) {
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0) break;
    const char *p = s->payload[c];
    size_t len = strlen(p), o = 0;
    while (o < len) {
      size_t n = s->chunk > 0 ? SL_MIN_SZ(len - o, (size_t)s->chunk) : len - o;
      ssize_t w = send(fd, p + o, n, MSG_NOSIGNAL);
      if (w <= 0) break;
      o += (size_t)w;
      if (s->pause_ms) sleep_ms(s->pause_ms);
    }
    if (s->keep_open && c == s->n_conns - 1)
      while (!atomic_load(&s->stop)) sleep_ms(5);
    close(fd);
  }
  return NULL;
}

static void server_start(server *s) {
  s->lfd = listen_loopback(&s->port, 8);
  CHECK(s->lfd >= 0);
  CHECK_EQ_INT(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_stop(server *s) {
  atomic_store(&s->stop, 1);
  shutdown(s->lfd, SHUT_RDWR); /* wakes an accept that will never succeed */
  pthread_join(s->thread, NULL);
  close(s->lfd);
}

/* ---- jobs ------------------------------------------------------------------ */

/* Lines of texts concatenated per connection (an unterminated last line of
 * each text counts, as when the peer closes). */
static void want_lines(lines *l, const char *const *texts, int n) {
  for (int t = 0; t < n; t++) lines_split_copy(l, texts[t], strlen(texts[t]));
}

static void got_lines(lines *l, sl_collect *c) {
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    lines_add(l, r.value, strnlen(r.value, r.value_len));
  }
}

/* env_p(P) that leaves signals to the test process. */
static sl_env *socket_env(int P) {
  sl_env *env = env_p(P);
  CHECK_EQ_INT(sl_env_set(env, "execution.handle-signals", "false"), 0);
  return env;
}

/* socket(127.0.0.1:port) -> collect.  Returns rc; lines and error out. */
static int run_socket_job(int port, int P, const char *const *kv, lines *got,
                          char *err, size_t errcap) {
  sl_env *env = socket_env(P);
  for (; kv && *kv; kv++) CHECK_EQ_INT(sl_env_set_kv(env, *kv), 0);
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_socket_source("127.0.0.1", port));
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(c)), 0);
  int rc = sl_execute(env, "socket-source-test");
  snprintf(err, errcap, "%s", sl_env_last_error(env));
  if (got) got_lines(got, c);
  sl_collect_free(c);
  sl_env_free(env);
  return rc;
}

static char *big_payload(int n) {
  size_t cap = (size_t)n * 64, o = 0;
  char *p = malloc(cap);
  for (int i = 0; i < n; i++)
    o += (size_t)snprintf(p + o, cap - o, "line %d %s\n", i,
                          i % 3 ? "\xc3\xa9t\xc3\xa9" : "x\r");
  o += (size_t)snprintf(p + o, cap - o, "final-without-newline");
  return p;
}

static void test_lines_arrive(void) {
  char *payload = big_payload(5000);
  const int Ps[] = {1, 2, 4};
  for (int i = 0; i < 3; i++) {
    server s = {.n_conns = 1, .payload = {payload}};
    server_start(&s);
    lines want = {0}, got = {0};
    want_lines(&want, s.payload, 1);
    char err[2048];
    int rc = run_socket_job(s.port, Ps[i], NULL, &got, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stderr, "  %s\n", err);
    CHECK(same_lines(&want, &got, Ps[i] == 1));
    server_stop(&s);
    lines_free(&want);
    lines_free(&got);
  }
  free(payload);
}

static void test_small_pieces(void) {
  /* Lines cut across sends with pauses: partial lines wait, nothing
   * blocks, nothing is lost. */
  server s = {.n_conns = 1,
              .payload = {"alpha\nbeta gamma\n\ndelta\r\nepsilon"},
              .chunk = 3,
              .pause_ms = 2};
  server_start(&s);
  lines want = {0}, got = {0};
  want_lines(&want, s.payload, 1);
  char err[2048];
  int rc = run_socket_job(s.port, 2, NULL, &got, err, sizeof err);
  CHECK_EQ_INT(rc, 0);
  CHECK(same_lines(&want, &got, 0));
  server_stop(&s);
  lines_free(&want);
  lines_free(&got);
}

static void test_reconnect(void) {
  server s = {.n_conns = 2, .payload = {"one\ntwo\nthr", "four\nfive\n"}};
  server_start(&s);
  lines want = {0}, got = {0};
  want_lines(&want, s.payload, 2);
  const char *kv[] = {"source.socket.max-retry=1",
                      "source.socket.retry-backoff=50ms", NULL};
  char err[2048];
  int64_t t0 = now_ms();
  int rc = run_socket_job(s.port, 2, kv, &got, err, sizeof err);
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  %s\n", err);
  CHECK(same_lines(&want, &got, 0));
  CHECK(now_ms() - t0 >= 50); /* waited the backoff before reconnecting */
  server_stop(&s);
  lines_free(&want);
  lines_free(&got);
}

static void test_refused(void) {
  int port = 0;
  int fd = listen_loopback(&port, 8);
  CHECK(fd >= 0);
  close(fd); /* nothing listens on `port` now */
  char err[2048], want[64];
  snprintf(want, sizeof want, "127.0.0.1:%d", port);
  int rc = run_socket_job(port, 2, NULL, NULL, err, sizeof err);
  CHECK_EQ_INT(rc, -SL_ECONN);
  CHECK_CONTAINS(err, want);
  CHECK_CONTAINS(err, "cannot connect");
  CHECK_CONTAINS(err, "refused");

  /* With retries: 1 + 2 attempts, 20 ms then 40 ms apart, then failure. */
  const char *kv[] = {"source.socket.max-retry=2",
                      "source.socket.retry-backoff=20ms", NULL};
  int64_t t0 = now_ms();
  rc = run_socket_job(port, 1, kv, NULL, err, sizeof err);
  CHECK_EQ_INT(rc, -SL_ECONN);
  CHECK_CONTAINS(err, want);
  CHECK(now_ms() - t0 >= 60);
}

static void test_overlong_names_socket_offset(void) {
  char payload[512];
  char longline[101];
  memset(longline, 'L', 100);
  longline[100] = 0;
  snprintf(payload, sizeof payload, "ok1\nok2\n%s\nafter\n", longline);
  server s = {.n_conns = 1, .payload = {payload}};
  server_start(&s);
  const char *kv[] = {"pipeline.max-line-length=50", NULL};
  char err[2048], want[128];
  int rc = run_socket_job(s.port, 2, kv, NULL, err, sizeof err);
  snprintf(want, sizeof want, "socket=127.0.0.1:%d offset=8", s.port);
  CHECK_EQ_INT(rc, -SL_EBADREC);
  CHECK_CONTAINS(err, want);
  CHECK_CONTAINS(err, "pipeline.max-line-length (50 bytes)");
  server_stop(&s);
}

/* ---- cancellation of a stream that never ends ------------------------------ */

/* src -> count_map -> collect at P=2, in a background thread. */
static void start_bg(bg_job *j, sl_source *src) {
  sl_env *env = socket_env(2);
  CHECK_EQ_INT(sl_env_set(env, "execution.buffer-timeout", "5ms"), 0);
  bg_start(j, env, src, "background");
}

static void test_cancel_open_stream(void) {
  server s = {.n_conns = 1, .payload = {"x1\nx2\n"}, .keep_open = 1};
  server_start(&s);
  bg_job j = {0};
  start_bg(&j, sl_socket_source("127.0.0.1", s.port));
  CHECK(wait_seen(&j, 2));
  sl_cancel(j.env);
  bg_join(&j);
  CHECK_EQ_INT(j.rc, -SL_ECANCELED);
  CHECK_EQ_INT(sl_collect_count(j.c), 2);
  bg_free(&j);
  server_stop(&s);
}

static void test_stdin(void) {
  int p[2];
  CHECK_EQ_INT(pipe(p), 0);
  int saved = dup(0);
  dup2(p[0], 0);
  close(p[0]);
  bg_job j = {0};
  start_bg(&j, sl_stdin_source());
  /* The source must not block while stdin has nothing: write late, in
   * pieces. */
  sleep_ms(30);
  CHECK_EQ_INT(write(p[1], "in1\nin", 6), 6);
  CHECK(wait_seen(&j, 1));
  sleep_ms(20);
  CHECK_EQ_INT(write(p[1], "2\nin3", 5), 5);
  close(p[1]); /* EOF ends the stream; "in3" is the final line */
  bg_join(&j);
  dup2(saved, 0);
  close(saved);
  CHECK_EQ_INT(j.rc, 0);
  if (j.rc) fprintf(stderr, "  %s\n", sl_env_last_error(j.env));
  lines want = {0}, got = {0};
  const char *texts[] = {"in1\nin2\nin3"};
  want_lines(&want, texts, 1);
  got_lines(&got, j.c);
  CHECK(same_lines(&want, &got, 0));
  lines_free(&want);
  lines_free(&got);
  bg_free(&j);
}

int main(void) {
  RUN(test_lines_arrive);
  RUN(test_small_pieces);
  RUN(test_reconnect);
  RUN(test_refused);
  RUN(test_overlong_names_socket_offset);
  RUN(test_cancel_open_stream);
  RUN(test_stdin);
  TEST_MAIN_END();
}

/*
 * test_print_socket_sink.c -- whole-job tests of sl_print_sink and
 * sl_socket_sink through the public API.
 *
 * Print: a forked child runs the job with stdout redirected to a file; the
 * parent checks the "<subtask+1>> " prefixes at P=2 (every line well formed,
 * so no line was torn by another subtask; each subtask's lines in order),
 * no prefix at P=1, and the exact multiset of payloads.
 *
 * Socket: a server thread on 127.0.0.1 (port 0, learnt with getsockname)
 * polls the listening socket and every accepted connection until each of
 * the P connections has reached EOF, then the test checks the multiset of
 * lines.  Failures: a refused port fails the job naming 127.0.0.1:PORT; a
 * server that closes at once makes the writes fail (EPIPE/ECONNRESET, with
 * no SIGPIPE killing the test).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "test_util.h"

static char g_err[2048];

/* ---- helpers ------------------------------------------------------------ */

typedef struct buf {
  char *p;
  size_t len, cap;
} buf;

static void buf_add(buf *b, const void *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    while (b->len + n + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 65536;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = 0;
}

#define LONG_LEN (150 * 1000)

/* The payload of number k: "line-k", or a LONG_LEN line for k == long_at. */
static void payload(int64_t k, int64_t long_at, char *out, size_t cap) {
  if (k == long_at && cap > LONG_LEN) {
    memset(out, 'x', LONG_LEN);
    out[LONG_LEN] = 0;
  } else {
    snprintf(out, cap, "line-%lld", (long long)k);
  }
}

/* Checks that `got` (sorted here) is exactly lines 1..n. */
static void check_multiset(lines *got, int64_t n, int64_t long_at) {
  lines_sort(got);
  lines want = {0};
  for (int64_t k = 1; k <= n; k++) {
    size_t cap = k == long_at ? LONG_LEN + 1 : 32;
    char *s = malloc(cap);
    payload(k, long_at, s, cap);
    lines_push(&want, s);
  }
  lines_sort(&want);
  CHECK_EQ_INT(got->n, want.n);
  for (size_t i = 0; i < got->n && i < want.n; i++)
    if (strcmp(got->v[i], want.v[i])) {
      fprintf(stderr, "  sorted line %zu: got \"%.40s\" want \"%.40s\"\n", i,
              got->v[i], want.v[i]);
      CHECK(!"lines differ");
      break;
    }
  lines_free(&want);
}

/* ---- jobs --------------------------------------------------------------- */

typedef struct job_opts {
  int64_t n;
  int P;
  int64_t long_at;
} job_opts;

static int to_text(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const job_opts *o = ud;
  int64_t k;
  memcpy(&k, in->value, sizeof k);
  size_t cap = k == o->long_at ? LONG_LEN + 1 : 32;
  char *s = sl_ctx_scratch(ctx, cap);
  if (!s) return -SL_ENOMEM;
  payload(k, o->long_at, s, cap);
  out->value = s;
  out->value_len = (uint32_t)strlen(s);
  return 0;
}

static int run_sequence_job(const job_opts *o, sl_sink *sink) {
  sl_env *env = env_p(o->P);
  sl_stream *s = sl_source_stream(env, sl_sequence_source(1, o->n));
  s = sl_map(s, to_text, (void *)o);
  CHECK_EQ_INT(sl_sink_to(s, sink), 0);
  int rc = sl_execute(env, "sink_test");
  snprintf(g_err, sizeof g_err, "%s", sl_env_last_error(env));
  sl_env_free(env);
  return rc;
}

/* ---- print sink --------------------------------------------------------- */

/* Runs the job in a child with stdout to a file; returns the output. */
static char *print_job(const job_opts *o, const char *name, size_t *len) {
  char path[700];
  tpath(path, sizeof path, name);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || dup2(fd, 1) < 0) _exit(3);
    close(fd);
    int rc = run_sequence_job(o, sl_print_sink());
    if (rc) fprintf(stderr, "print job failed: %d %s\n", rc, g_err);
    _exit(rc == 0 && t_failures == 0 ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return read_file(path, len);
}

static void print_sink_p2_prefixed(void) {
  job_opts o = {.n = 60000, .P = 2, .long_at = 777};
  size_t len = 0;
  char *text = print_job(&o, "print_p2.txt", &len);
  CHECK(text != NULL);
  if (!text) return;
  lines all = {0}, payloads = {0};
  CHECK(lines_split_inplace(&all, text, len));
  int64_t last[2] = {0, 0};
  size_t count[2] = {0, 0};
  for (size_t i = 0; i < all.n; i++) {
    const char *l = all.v[i];
    int s = !strncmp(l, "1> ", 3) ? 0 : !strncmp(l, "2> ", 3) ? 1 : -1;
    if (s < 0) {
      fprintf(stderr, "  line %zu without prefix: \"%.40s\"\n", i, l);
      CHECK(!"every line has a 1> or 2> prefix");
      break;
    }
    count[s]++;
    lines_push(&payloads, all.v[i] + 3);
    if (!strncmp(l + 3, "line-", 5)) {
      int64_t k = atoll(l + 8);
      CHECK(k > last[s]); /* a subtask's lines keep their order */
      last[s] = k;
    }
  }
  CHECK(count[0] > 0);
  CHECK(count[1] > 0);
  check_multiset(&payloads, o.n, o.long_at);
  free(payloads.v);
  free(all.v);
  free(text);
}

static void print_sink_p1_plain(void) {
  job_opts o = {.n = 5000, .P = 1, .long_at = -1};
  size_t len = 0;
  char *text = print_job(&o, "print_p1.txt", &len);
  CHECK(text != NULL);
  if (!text) return;
  lines all = {0};
  CHECK(lines_split_inplace(&all, text, len));
  CHECK_EQ_INT(all.n, o.n);
  for (size_t i = 0; i < all.n; i++) {
    char want[32];
    payload((int64_t)i + 1, -1, want, sizeof want);
    if (strcmp(all.v[i], want)) {
      CHECK_EQ_STR(all.v[i], want);
      break;
    }
  }
  free(all.v);
  free(text);
}

/* ---- socket sink -------------------------------------------------------- */

typedef struct server {
  int lfd;
  int port;
  int expect;        /* connections to serve */
  int close_at_once; /* accept and close without reading */
  int timed_out;
  buf data[8];
  int n_conns;
  pthread_t thread;
} server;

static int server_start(server *srv, int expect, int close_at_once) {
  memset(srv, 0, sizeof *srv);
  srv->expect = expect;
  srv->close_at_once = close_at_once;
  srv->lfd = listen_loopback(&srv->port, 16);
  return srv->lfd < 0 ? -1 : 0;
}

static void *server_main(void *arg) {
  server *srv = arg;
  struct pollfd pf[9];
  int done = 0;
  pf[0].fd = srv->lfd;
  pf[0].events = POLLIN;
  for (int i = 1; i < 9; i++) pf[i].fd = -1;
  char tmp[65536];
  while (done < srv->expect) {
    int n = poll(pf, 1 + (nfds_t)srv->n_conns, 60000);
    if (n == 0) {
      srv->timed_out = 1;
      break;
    }
    if (n < 0) continue;
    if ((pf[0].revents & POLLIN) && srv->n_conns < srv->expect) {
      int fd = accept(srv->lfd, NULL, NULL);
      if (fd >= 0) {
        if (srv->close_at_once) {
          close(fd);
          done++;
          srv->n_conns++;
          continue;
        }
        pf[1 + srv->n_conns].fd = fd;
        pf[1 + srv->n_conns].events = POLLIN;
        srv->n_conns++;
      }
    }
    for (int i = 0; i < srv->n_conns && !srv->close_at_once; i++) {
      struct pollfd *p = &pf[1 + i];
      if (p->fd < 0 || !(p->revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(p->fd, tmp, sizeof tmp);
      if (got > 0) {
        buf_add(&srv->data[i], tmp, (size_t)got);
      } else if (got == 0 || errno != EINTR) {
        close(p->fd);
        p->fd = -1;
        done++;
      }
    }
  }
  for (int i = 1; i < 9; i++)
    if (pf[i].fd >= 0) close(pf[i].fd);
  close(srv->lfd);
  return NULL;
}

static void socket_sink_p2_lines(void) {
  enum { N = 40000 };
  server srv;
  CHECK_EQ_INT(server_start(&srv, 2, 0), 0);
  pthread_create(&srv.thread, NULL, server_main, &srv);

  /* Lines from sl_lines_source: subtask 0, rebalanced to both sink subtasks. */
  char **texts = malloc(N * sizeof *texts);
  for (int i = 0; i < N; i++) {
    texts[i] = malloc(32);
    payload(i + 1, -1, texts[i], 32);
  }
  sl_env *env = env_p(2);
  sl_stream *s = sl_source_stream(env, sl_lines_source((const char *const *)texts, N));
  CHECK_EQ_INT(sl_sink_to(s, sl_socket_sink("127.0.0.1", srv.port)), 0);
  int rc = sl_execute(env, "socket_sink_test");
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  error: %s\n", sl_env_last_error(env));
  sl_env_free(env);
  for (int i = 0; i < N; i++) free(texts[i]);
  free(texts);

  pthread_join(srv.thread, NULL);
  CHECK(!srv.timed_out);
  CHECK_EQ_INT(srv.n_conns, 2);
  lines all = {0};
  for (int i = 0; i < srv.n_conns; i++) {
    CHECK(srv.data[i].len > 0); /* rebalance feeds both connections */
    if (srv.data[i].p) CHECK(lines_split_inplace(&all, srv.data[i].p, srv.data[i].len));
  }
  check_multiset(&all, N, -1);
  free(all.v);
  for (int i = 0; i < 8; i++) free(srv.data[i].p);
}

static void socket_sink_refused(void) {
  /* A bound socket that does not listen: connecting is refused, and the
   * port cannot be taken by someone else meanwhile. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  CHECK_EQ_INT(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
  int port = ntohs(a.sin_port);

  job_opts o = {.n = 100, .P = 2, .long_at = -1};
  int rc = run_sequence_job(&o, sl_socket_sink("127.0.0.1", port));
  CHECK(rc < 0);
  char where[64];
  snprintf(where, sizeof where, "127.0.0.1:%d", port);
  CHECK_CONTAINS(g_err, where);
  CHECK_CONTAINS(g_err, strerror(ECONNREFUSED));
  close(fd);
}

static void socket_sink_peer_closes(void) {
  server srv;
  CHECK_EQ_INT(server_start(&srv, 1, 1), 0);
  pthread_create(&srv.thread, NULL, server_main, &srv);
  job_opts o = {.n = 3000000, .P = 1, .long_at = -1};
  int rc = run_sequence_job(&o, sl_socket_sink("127.0.0.1", srv.port));
  pthread_join(srv.thread, NULL);
  CHECK(rc < 0);
  char where[64];
  snprintf(where, sizeof where, "127.0.0.1:%d", srv.port);
  CHECK_CONTAINS(g_err, where);
}

static void socket_sink_bad_host(void) {
  job_opts o = {.n = 10, .P = 1, .long_at = -1};
  int rc = run_sequence_job(&o, sl_socket_sink("no-such-host.invalid", 9));
  CHECK(rc < 0);
  CHECK_CONTAINS(g_err, "no-such-host.invalid:9");
}

int main(void) {
  scratch_init("/tmp/sl_test_print_socket", 0);
  RUN(print_sink_p2_prefixed);
  RUN(print_sink_p1_plain);
  RUN(socket_sink_p2_lines);
  RUN(socket_sink_refused);
  RUN(socket_sink_peer_closes);
  RUN(socket_sink_bad_host);
  TEST_MAIN_END();
}

/*
 * socket_source.c -- text lines from a TCP server (sl_socket_source, like
 * Flink's socketTextStream) and from standard input (sl_stdin_source).
 * Both are non-parallel: they run on subtask 0 and the runtime rebalances
 * their output.
 *
 * Nothing here blocks the worker thread.  The socket is non-blocking from
 * the start: connect() is started and its completion checked with a
 * zero-timeout poll() on later polls (giving up after
 * SL__SOCK_CONNECT_TIMEOUT_MS); reads return SL_POLL_IDLE when no data is
 * there; the wait before a reconnect is a deadline checked on each poll.
 * stdin is read only after poll() says it is readable.  (getaddrinfo is
 * the one blocking call: instant for numeric addresses and /etc/hosts
 * names, a DNS lookup otherwise.)
 *
 * Socket states:
 *
 *     WAIT --(deadline passed)--> start connect --ok--> CONNECTED
 *       ^                              |                    |
 *       |                         in progress               | peer closed /
 *       |                              v                    | read error
 *       +--(retries left)------ CONNECTING --failed--+      v
 *       |                                            |   retries left?
 *       +-----------(retries left)-------------------+----- no: END
 *                                                     (a failed connect
 *                                                      with none left
 *                                                      fails the job)
 *
 * source.socket.max-retry counts reconnect attempts over the whole job
 * (0: the stream ends when the peer closes; -1: forever).  The delay before
 * attempt k is source.socket.retry-backoff * 2^(k-1), at most 30 s; it
 * starts over after a successful connect.  When the peer closes, its last
 * unterminated line is a line.  Offsets in bad-record messages
 * ("socket=HOST:PORT offset=N") count from the start of the connection.
 * With source.text.line-numbers each record's timestamp is the 1-based
 * number of its line within the connection (from 1 again after a
 * reconnect) or within stdin; bad lines count too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connectors/connector.h"
#include "connectors/line_reader.h"

#define SL__SOCK_CONNECT_TIMEOUT_MS 10000
#define SL__SOCK_MAX_BACKOFF_MS 30000

typedef struct sock_src {
  char *host; /* NULL: stdin */
  int port;
} sock_src;

enum { S_WAIT, S_CONNECTING, S_CONNECTED, S_DONE };

typedef struct sock_reader {
  sock_src *src;
  sl__line_reader lr;
  int state;
  int fd;
  struct addrinfo *ai, *ai_cur;
  int64_t deadline_ms;   /* CONNECTING: give up; WAIT: next attempt */
  int64_t backoff_ms, backoff0_ms;
  int64_t retries_left;  /* -1: forever */
  int last_errno;
  int line_numbers;      /* records carry their line number as timestamp */
  uint64_t lines;        /* lines delivered on this connection */
  char where[300];       /* "socket=HOST:PORT" or "stdin" */
} sock_reader;

static int sock_open(void *ud, sl_ctx *ctx, void **reader) {
  sock_src *s = ud;
  *reader = NULL;
  if (s->host && sl__conn_batch(ctx)) /* (stdin ends at its end of file) */
    return sl_ctx_error(ctx, -SL_ECONFIG,
                        "socket %s:%d is unbounded: execution.runtime-mode=batch needs "
                        "bounded sources (read a file instead)", s->host, s->port);
  if (sl_ctx_subtask(ctx) != 0) return 0;
  sock_reader *r = sl__calloc_private(sizeof *r);
  if (!r) return -SL_ENOMEM;
  int rc = sl__lr_init(&r->lr, (size_t)sl__conn_int(ctx, "pipeline.max-line-length"),
                       (int)sl__conn_int(ctx, "pipeline.text.validate-utf8"), 0);
  if (rc) {
    sl__free_private(r);
    return rc;
  }
  r->src = s;
  r->fd = -1;
  r->line_numbers = sl__conn_int(ctx, "source.text.line-numbers") != 0;
  if (s->host) {
    r->state = S_WAIT;
    r->deadline_ms = 0; /* first attempt at the first poll */
    r->backoff0_ms = r->backoff_ms = sl__conn_int(ctx, "source.socket.retry-backoff");
    r->retries_left = sl__conn_int(ctx, "source.socket.max-retry");
    sl__fmt(r->where, sizeof r->where, "socket=%s:%d", s->host, s->port);
  } else {
    r->state = S_CONNECTED;
    r->fd = 0;
    sl__lr_reset(&r->lr, 0, SL__LR_FINAL | SL__LR_POLL, 0, 0,
                 SL__LR_NO_LIMIT);
    sl__fmt(r->where, sizeof r->where, "stdin");
  }
  *reader = r;
  return 0;
}

static void sock_close(void *reader, sl_ctx *ctx) {
  (void)ctx;
  sock_reader *r = reader;
  if (!r) return;
  if (r->src->host && r->fd >= 0) close(r->fd);
  if (r->ai) freeaddrinfo(r->ai);
  sl__lr_free(&r->lr);
  sl__free_private(r);
}

static void drop_fd(sock_reader *r) {
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
}

/* The connection is gone or an attempt failed (errno e).  Schedule the
 * next attempt, or end: SL_POLL_END after a closed connection, a job
 * failure after a failed connect. */
static int attempt_over(sock_reader *r, sl_ctx *ctx, int connect_failed,
                        int e) {
  drop_fd(r);
  if (r->ai) {
    freeaddrinfo(r->ai);
    r->ai = r->ai_cur = NULL;
  }
  if (r->retries_left == 0) {
    r->state = S_DONE;
    if (!connect_failed) return SL_POLL_END;
    return sl_ctx_error(ctx, -SL_ECONN, "cannot connect to %s:%d: %s",
                    r->src->host, r->src->port, e ? strerror(e) : "failed");
  }
  if (r->retries_left > 0) r->retries_left--;
  r->state = S_WAIT;
  r->deadline_ms = sl__conn_ms(ctx) + r->backoff_ms;
  r->backoff_ms = SL__MIN(r->backoff_ms * 2, SL__SOCK_MAX_BACKOFF_MS);
  return SL_POLL_IDLE;
}

static void connected(sock_reader *r) {
  r->state = S_CONNECTED;
  r->backoff_ms = r->backoff0_ms;
  r->lines = 0;
  if (r->ai) {
    freeaddrinfo(r->ai);
    r->ai = r->ai_cur = NULL;
  }
  sl__lr_reset(&r->lr, r->fd, SL__LR_FINAL, 0, 0, SL__LR_NO_LIMIT);
}

/* Start connecting to r->ai_cur and the addresses after it.  Returns
 * SL_POLL_IDLE (in progress or connected) or the result of attempt_over. */
static int try_addresses(sock_reader *r, sl_ctx *ctx) {
  for (; r->ai_cur; r->ai_cur = r->ai_cur->ai_next) {
    struct addrinfo *a = r->ai_cur;
    r->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   a->ai_protocol);
    if (r->fd < 0) {
      r->last_errno = errno;
      continue;
    }
    if (connect(r->fd, a->ai_addr, a->ai_addrlen) == 0) {
      connected(r);
      return SL_POLL_IDLE;
    }
    if (errno == EINPROGRESS || errno == EINTR) {
      r->state = S_CONNECTING;
      r->deadline_ms = sl__conn_ms(ctx) + SL__SOCK_CONNECT_TIMEOUT_MS;
      return SL_POLL_IDLE;
    }
    r->last_errno = errno;
    drop_fd(r);
  }
  return attempt_over(r, ctx, 1, r->last_errno);
}

static int start_attempt(sock_reader *r, sl_ctx *ctx) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  char port[16];
  sl__fmt(port, sizeof port, "%d", r->src->port);
  int grc = getaddrinfo(r->src->host, port, &hints, &r->ai);
  if (grc) {
    r->ai = NULL;
    if (r->retries_left == 0) {
      r->state = S_DONE;
      return sl_ctx_error(ctx, -SL_ECONN, "cannot connect to %s:%d: %s",
                      r->src->host, r->src->port,
                      grc == EAI_SYSTEM ? strerror(errno) : gai_strerror(grc));
    }
    return attempt_over(r, ctx, 1, 0);
  }
  r->ai_cur = r->ai;
  r->last_errno = ECONNREFUSED;
  return try_addresses(r, ctx);
}

static int check_connecting(sock_reader *r, sl_ctx *ctx) {
  struct pollfd pfd = {.fd = r->fd, .events = POLLOUT};
  int n = poll(&pfd, 1, 0);
  if (n == 0 || (n < 0 && errno == EINTR)) {
    if (sl__conn_ms(ctx) < r->deadline_ms) return SL_POLL_IDLE;
    r->last_errno = ETIMEDOUT;
  } else {
    int e = 0;
    socklen_t len = sizeof e;
    if (n < 0) e = errno;
    else if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
    if (!e) {
      connected(r);
      return SL_POLL_IDLE;
    }
    r->last_errno = e;
  }
  drop_fd(r);
  r->ai_cur = r->ai_cur->ai_next;
  return try_addresses(r, ctx);
}

static int read_lines(sock_reader *r, sl_ctx *ctx, int budget) {
  int n = 0;
  while (n < budget) {
    sl__line line;
    int res = sl__lr_next(&r->lr, &line);
    if (SL__LIKELY(res == SL__LR_LINE)) {
      r->lines++;
      sl_record rec = {.ts = r->line_numbers ? (int64_t)r->lines
                                             : SL_NO_TIMESTAMP,
                       .value = line.data,
                       .value_len = (uint32_t)line.len};
      int rc = sl_ctx_emit(ctx, &rec);
      if (rc) return rc;
      n++;
    } else if (res == SL__LR_BAD) {
      r->lines++;
      char where[340];
      sl__fmt(where, sizeof where, "%s offset=%" PRIu64, r->where,
              line.offset);
      int rc = sl__conn_bad(ctx, where, r->lr.reason, line.data, line.len);
      if (rc) return rc;
      n++;
    } else if (res == SL__LR_AGAIN) {
      return n ? SL_POLL_MORE : SL_POLL_IDLE;
    } else if (!r->src->host) { /* stdin */
      r->state = S_DONE;
      if (res == SL__LR_EOF) return SL_POLL_END;
      return sl_ctx_error(ctx, -SL_EIO, "cannot read stdin: %s", strerror(-res));
    } else {
      /* EOF: the peer closed; a read error: the connection is lost. */
      if (res != SL__LR_EOF && r->retries_left == 0) {
        r->state = S_DONE;
        drop_fd(r);
        return sl_ctx_error(ctx, -SL_ECONN, "connection to %s:%d lost: %s",
                        r->src->host, r->src->port, strerror(-res));
      }
      int rc = attempt_over(r, ctx, 0, 0);
      return rc == SL_POLL_IDLE && n ? SL_POLL_MORE : rc;
    }
  }
  return SL_POLL_MORE;
}

static int sock_poll(void *reader, sl_ctx *ctx, int budget) {
  sock_reader *r = reader;
  switch (r->state) {
    case S_WAIT:
      if (sl__conn_ms(ctx) < r->deadline_ms) return SL_POLL_IDLE;
      return start_attempt(r, ctx);
    case S_CONNECTING:
      return check_connecting(r, ctx);
    case S_CONNECTED:
      return read_lines(r, ctx, budget);
    default:
      return SL_POLL_END;
  }
}

/* A parked worker sleeps on the connection (or stdin) until data comes. */
static int sock_wait_fd(void *reader) {
  const sock_reader *r = reader;
  return r->state == S_CONNECTED ? r->fd : -1;
}

static void sock_free(void *ud) {
  sock_src *s = ud;
  if (!s) return;
  sl__free(s->host);
  sl__free(s);
}

/* No position: a socket cannot replay (at-most-once after a restore). */
static const sl_source_ops sock_ops = {.version = SL_CONNECTOR_VERSION, .kind = "socket",
                                       .open = sock_open, .poll = sock_poll,
                                       .close = sock_close, .free = sock_free,
                                       .wait_fd = sock_wait_fd};
static const sl_source_ops stdin_ops = {.version = SL_CONNECTOR_VERSION, .kind = "stdin",
                                        .open = sock_open, .poll = sock_poll,
                                        .close = sock_close, .free = sock_free,
                                        .wait_fd = sock_wait_fd};

sl_source *sl_socket_source(const char *host, int port) {
  if (!host || !*host || port <= 0 || port > 65535) return NULL;
  sock_src *s = sl__calloc(1, sizeof *s);
  if (!s) return NULL;
  s->host = sl__strdup(host);
  s->port = port;
  if (!s->host) {
    sock_free(s);
    return NULL;
  }
  return sl_source_new(&sock_ops, s, SL_SOURCE_NONPARALLEL);
}

sl_source *sl_stdin_source(void) {
  sock_src *s = sl__calloc(1, sizeof *s);
  if (!s) return NULL;
  return sl_source_new(&stdin_ops, s, SL_SOURCE_NONPARALLEL);
}

/*
 * socket_sink.c -- sl_socket_sink(): record values as text lines to a TCP
 * server, one connection per subtask.
 *
 * open() resolves HOST with getaddrinfo and connects (blocking, trying each
 * address in turn); a failure fails the job with "cannot connect to
 * HOST:PORT: reason".  Each subtask then appends "value\n" to its own
 * 64 KiB buffer and sends whole buffers with send(MSG_NOSIGNAL) after
 * poll() finds room (sl__write_stoppable: a stop is never stuck behind a
 * peer that does not read), so a peer that went away gives EPIPE (failing the job with "connection to
 * HOST:PORT lost: reason") instead of killing the process with SIGPIPE.  A
 * line that does not fit the buffer is sent directly.  TCP_NODELAY is set:
 * the sink batches lines itself.
 *
 * When the buffer is sent: when the next line does not fit; when the inputs
 * end (flush); after every line when execution.buffer-timeout is 0; else at
 * the first record that finds the buffered lines older than the buffer
 * timeout (by the worker's step clock).  The connection is closed by
 * close(), after the workers joined, so the server sees EOF when the job
 * has ended.  A slow server blocks its subtask (backpressure).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connectors/connector.h"

#define SS_BUF (64 * 1024)

typedef struct ss_sink {
  char *host;
  int port;
  char where[300]; /* "HOST:PORT" ("[HOST]:PORT" for IPv6 literals) */
} ss_sink;

typedef struct ss_writer {
  const ss_sink *sink;
  int fd;
  int64_t timeout_ns;
  int64_t first_ns;
  size_t len;
  char buf[SS_BUF];
} ss_writer;

static int fail_send(ss_writer *w, sl_ctx *ctx, int rc) {
  if (rc == -SL_ECANCELED)
    return sl_ctx_error(ctx, rc, "stopped while %s did not read: the output still buffered was not "
                    "delivered (the server stopped reading)", w->sink->where);
  return sl_ctx_error(ctx, -SL_ECONN, "connection to %s lost: %s", w->sink->where,
                  strerror(-rc));
}

static int ss_out(ss_writer *w, sl_ctx *ctx) {
  int rc = sl__write_stoppable(ctx, w->fd, w->buf, w->len, 1);
  w->len = 0;
  return rc ? fail_send(w, ctx, rc) : 0;
}

static int ss_connect(const ss_sink *s, sl_ctx *ctx) {
  char port[16];
  snprintf(port, sizeof port, "%d", s->port);
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int g = getaddrinfo(s->host, port, &hints, &res);
  if (g != 0)
    return sl_ctx_error(ctx, -SL_ECONN, "cannot connect to %s: %s", s->where,
                    g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
  int fd = -1, err = 0;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int rc;
    while ((rc = connect(fd, a->ai_addr, a->ai_addrlen)) != 0 && errno == EINTR) {
    }
    if (rc == 0) break;
    err = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return sl_ctx_error(ctx, -SL_ECONN, "cannot connect to %s: %s", s->where,
                    strerror(err ? err : ECONNREFUSED));
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static int ss_open(void *ud, sl_ctx *ctx, void **writer) {
  const ss_sink *s = ud;
  ss_writer *w = sl__calloc_private(sizeof *w);
  if (!w) return sl_ctx_error(ctx, -SL_ENOMEM, "socket sink %s: out of memory", s->where);
  int fd = ss_connect(s, ctx);
  if (fd < 0) {
    sl__free_private(w);
    return fd;
  }
  w->sink = s;
  w->fd = fd;
  w->timeout_ns = sl__conn_int(ctx, "execution.buffer-timeout") * 1000000;
  w->first_ns = 0;
  w->len = 0;
  *writer = w;
  return 0;
}

static int ss_write(void *writer, sl_ctx *ctx, const sl_record *r) {
  ss_writer *w = writer;
  size_t n = (size_t)r->value_len + 1;
  int rc;
  if (w->len + n > SS_BUF && (rc = ss_out(w, ctx)) != 0) return rc;
  if (SL__UNLIKELY(n > SS_BUF)) {
    if ((rc = sl__write_stoppable(ctx, w->fd, r->value, r->value_len, 1)) != 0 ||
        (rc = sl__write_stoppable(ctx, w->fd, "\n", 1, 1)) != 0)
      return fail_send(w, ctx, rc);
    return 0;
  }
  if (r->value_len) memcpy(w->buf + w->len, r->value, r->value_len);
  w->buf[w->len + r->value_len] = '\n';
  int64_t now = sl_ctx_monotonic_ns(ctx);
  if (!w->len) w->first_ns = now;
  w->len += n;
  if (w->timeout_ns <= 0 || now - w->first_ns >= w->timeout_ns)
    return ss_out(w, ctx);
  return 0;
}

static int ss_flush(void *writer, sl_ctx *ctx) {
  ss_writer *w = writer;
  return w->len ? ss_out(w, ctx) : 0;
}

static void ss_close(void *writer, sl_ctx *ctx, int ok) {
  ss_writer *w = writer;
  (void)ctx;
  (void)ok;
  close(w->fd);
  sl__free_private(w);
}

static void ss_free(void *ud) {
  ss_sink *s = ud;
  if (!s) return;
  sl__free(s->host);
  sl__free(s);
}

static const sl_sink_ops ss_ops = {
    .version = SL_CONNECTOR_VERSION,
    .kind = "socket",
    .open = ss_open,
    .write = ss_write,
    .flush = ss_flush,
    .idle = ss_flush,
    .close = ss_close,
    .free = ss_free,
};

sl_sink *sl_socket_sink(const char *host, int port) {
  if (!host || !*host || port <= 0 || port > 65535) return NULL;
  ss_sink *s = sl__calloc(1, sizeof *s);
  if (!s) return NULL;
  s->host = sl__strdup(host);
  s->port = port;
  if (!s->host) {
    ss_free(s);
    return NULL;
  }
  sl__fmt(s->where, sizeof s->where, strchr(host, ':') ? "[%s]:%d" : "%s:%d",
          host, port);
  return sl_sink_new(&ss_ops, s, 0);
}

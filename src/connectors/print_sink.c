/*
 * print_sink.c -- sl_print_sink(): record values as lines on stdout, like
 * Flink's print().
 *
 * Each subtask formats "[<subtask+1>> ]value\n" (the prefix only at
 * parallelism > 1) into its own 64 KiB buffer and write()s whole buffers
 * to fd 1 under one process-wide mutex, so lines of different subtasks (and
 * of different print sinks) never interleave mid-line, whatever fd 1 is (a
 * pipe write larger than PIPE_BUF is not atomic on its own).  A line that
 * does not fit the buffer is written directly, still under the mutex.
 *
 * When the buffer is written:
 *   - when the next line does not fit, and when the inputs end (flush);
 *   - after every line when stdout is a terminal or execution.buffer-timeout
 *     is 0 (interactive use, like stdio's line buffering);
 *   - otherwise at the first record that finds the buffered lines older
 *     than execution.buffer-timeout (the worker's step clock is used, so
 *     this costs no clock call per record).  Lines still buffered when no
 *     further record arrives wait for the end of the input.
 *
 * Buffered stdio output of the program (printf before sl_execute) is
 * flushed when the sink opens so it comes first.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "connectors/connector.h"

#define PS_BUF (64 * 1024)

static pthread_mutex_t g_stdout_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct ps_writer {
  int fd;
  int immediate;      /* write after every line */
  int64_t timeout_ns; /* execution.buffer-timeout */
  int64_t first_ns;   /* step clock when the buffer became non-empty */
  char prefix[16];
  size_t plen;
  size_t len;
  char buf[PS_BUF];
} ps_writer;

static int ps_out(ps_writer *w, sl_ctx *ctx, const void *extra,
                  size_t extra_len) {
  pthread_mutex_lock(&g_stdout_mu);
  int rc = w->len ? sl__write_stoppable(ctx, w->fd, w->buf, w->len, 0) : 0;
  if (!rc && extra_len) {
    rc = sl__write_stoppable(ctx, w->fd, w->prefix, w->plen, 0);
    if (!rc) rc = sl__write_stoppable(ctx, w->fd, extra, extra_len, 0);
    if (!rc) rc = sl__write_stoppable(ctx, w->fd, "\n", 1, 0);
  }
  pthread_mutex_unlock(&g_stdout_mu);
  w->len = 0;
  if (rc == -SL_ECANCELED)
    return sl_ctx_error(ctx, rc, "stopped while stdout was not read: the output still buffered was not delivered (whatever reads the job's stdout stopped reading; write to a file instead)");
  if (rc)
    return sl_ctx_error(ctx, -SL_EIO, "cannot write to stdout: %s", strerror(-rc));
  return 0;
}

static int ps_open(void *ud, sl_ctx *ctx, void **writer) {
  ps_writer *w = sl__calloc_private(sizeof *w);
  if (!w) return sl_ctx_error(ctx, -SL_ENOMEM, "print sink: out of memory");
  w->fd = STDOUT_FILENO;
  w->len = 0;
  w->first_ns = 0;
  w->timeout_ns = sl__conn_int(ctx, "execution.buffer-timeout") * 1000000;
  w->immediate = w->timeout_ns <= 0 || isatty(w->fd);
  w->plen = 0;
  w->prefix[0] = '\0';
  if (sl_ctx_parallelism(ctx) > 1 && !ud) { /* ud: sl_stdout_sink, plain lines */
    int n = snprintf(w->prefix, sizeof w->prefix, "%d> ", sl_ctx_subtask(ctx) + 1);
    w->plen = n > 0 ? (size_t)n : 0;
  }
  pthread_mutex_lock(&g_stdout_mu);
  fflush(stdout);
  pthread_mutex_unlock(&g_stdout_mu);
  *writer = w;
  return 0;
}

static int ps_write(void *writer, sl_ctx *ctx, const sl_record *r) {
  ps_writer *w = writer;
  size_t n = w->plen + r->value_len + 1;
  if (SL__UNLIKELY(n > PS_BUF)) return ps_out(w, ctx, r->value, r->value_len);
  if (w->len + n > PS_BUF) {
    int rc = ps_out(w, ctx, NULL, 0);
    if (rc) return rc;
  }
  char *p = w->buf + w->len;
  memcpy(p, w->prefix, w->plen);
  if (r->value_len) memcpy(p + w->plen, r->value, r->value_len);
  p[n - 1] = '\n';
  int64_t now = sl_ctx_monotonic_ns(ctx);
  if (!w->len) w->first_ns = now;
  w->len += n;
  if (w->immediate || now - w->first_ns >= w->timeout_ns)
    return ps_out(w, ctx, NULL, 0);
  return 0;
}

static int ps_flush(void *writer, sl_ctx *ctx) {
  ps_writer *w = writer;
  return w->len ? ps_out(w, ctx, NULL, 0) : 0;
}

static void ps_close(void *writer, sl_ctx *ctx, int ok) {
  (void)ctx;
  ps_writer *w = writer;
  if (w->len && !ok) { /* what was produced before the failure, best effort:
                        * as much as stdout takes without waiting */
    pthread_mutex_lock(&g_stdout_mu);
    size_t off = 0;
    struct pollfd p = {.fd = w->fd, .events = POLLOUT};
    while (off < w->len && poll(&p, 1, 0) == 1 && (p.revents & POLLOUT)) {
      ssize_t n = write(w->fd, w->buf + off, SL__MIN(w->len - off, (size_t)PIPE_BUF));
      if (n <= 0) break;
      off += (size_t)n;
    }
    pthread_mutex_unlock(&g_stdout_mu);
  }
  sl__free_private(w);
}

static const sl_sink_ops ps_ops = {
    .version = SL_CONNECTOR_VERSION,
    .kind = "print",
    .open = ps_open,
    .write = ps_write,
    .flush = ps_flush,
    .idle = ps_flush,
    .close = ps_close,
};

sl_sink *sl_print_sink(void) { return sl_sink_new(&ps_ops, NULL, 0); }
static char g_plain; /* any non-NULL user pointer: no prefixes */
sl_sink *sl_stdout_sink(void) { return sl_sink_new(&ps_ops, &g_plain, 0); }

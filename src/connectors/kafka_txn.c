/*
 * kafka_txn.c -- sl__kafka_end_txn() (kafka_txn.h): commit or abort a
 * Kafka transaction by producer id and epoch, speaking the protocol
 * directly over plain TCP, because librdkafka cannot end a transaction it
 * did not begin.
 *
 * Two requests, both in the classic (non-flexible) encoding that every
 * broker since Kafka 0.11 accepts, big-endian, each framed by an int32
 * size, with request header v1 (api key, version, correlation id, client
 * id):
 *
 *   FindCoordinator v1 (key 10): key = the transactional id, key_type 1
 *     -> throttle, error, error message, node id, host, port
 *   EndTxn v0 (key 26): transactional id, producer id, producer epoch,
 *     committed (bool) -> throttle, error
 *
 * Answers are untrusted: a size outside 8 B .. 64 KiB, a correlation id
 * that is not the request's, or a field running past the end is a protocol
 * error (the broker is treated as unreachable and the next one tried).
 *
 * Loop: find the coordinator asking each bootstrap server in turn, send it
 * EndTxn; an unreachable broker, COORDINATOR_NOT_AVAILABLE,
 * COORDINATOR_LOAD_IN_PROGRESS and NOT_COORDINATOR start over (the
 * coordinator is found again), CONCURRENT_TRANSACTIONS (the coordinator is
 * still writing the markers of an earlier EndTxn) resends; each after a
 * back-off of 50 ms doubling to 1 s, until the deadline.  Every socket
 * wait is a poll() of at most 100 ms that checks the stop callback.  Host
 * names are resolved with getaddrinfo, which blocks for as long as the
 * resolver takes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h> /* rd_kafka_err2name: error names only */

#include "connectors/kafka_txn.h"
#include "core/core.h"

void (*sl__kafka_txn_trace)(void *ud, const char *line);
void *sl__kafka_txn_trace_ud;

#define KT_SLICE_MS 100
#define KT_MAX_RESP 65536
#define KT_HOSTLEN 256

int sl__kafka_txn_ended_elsewhere(int code) {
  return code == SL__KT_INVALID_PRODUCER_EPOCH || code == SL__KT_PRODUCER_FENCED ||
         code == SL__KT_INVALID_TXN_STATE || code == SL__KT_INVALID_PRODUCER_ID_MAPPING ||
         code == SL__KT_UNKNOWN_PRODUCER_ID;
}

static int retriable(int code) {
  return code == SL__KT_COORDINATOR_LOAD_IN_PROGRESS || code == SL__KT_COORDINATOR_NOT_AVAILABLE ||
         code == SL__KT_NOT_COORDINATOR || code == SL__KT_CONCURRENT_TRANSACTIONS;
}

static const char *code_name(int code) {
  return code ? rd_kafka_err2name((rd_kafka_resp_err_t)code) : "NONE";
}

typedef struct kt {
  int64_t deadline_ms;
  int (*stop)(void *);
  void *stop_ud;
  int32_t corr;
  char why[300]; /* the last I/O or protocol failure */
} kt;

static void tracef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tracef(const char *fmt, ...) {
  if (!sl__kafka_txn_trace) return;
  char line[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  sl__kafka_txn_trace(sl__kafka_txn_trace_ud, line);
}

/* 0 when fd is ready for `events` (or hung up), -SL_ETIMEDOUT at the
 * deadline, -SL_ECANCELED when stopped. */
static int wait_fd(kt *t, int fd, short events) {
  for (;;) {
    if (t->stop && t->stop(t->stop_ud)) return -SL_ECANCELED;
    int64_t left = t->deadline_ms - sl__now_ms();
    if (left <= 0) return -SL_ETIMEDOUT;
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, (int)(left < KT_SLICE_MS ? left : KT_SLICE_MS));
    if (n > 0) return 0;
    if (n < 0 && errno != EINTR) return -SL_EIO;
  }
}

/* A connected non-blocking socket to host:port, or a negative code with
 * t->why. */
static int dial(kt *t, const char *host, const char *port) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  int g = getaddrinfo(host, port, &hints, &res);
  if (g) {
    sl__fmt(t->why, sizeof t->why, "%s:%s: cannot resolve: %s", host, port, gai_strerror(g));
    return -SL_EIO;
  }
  int rc = -SL_EIO;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) && errno != EINPROGRESS) {
      sl__fmt(t->why, sizeof t->why, "%s:%s: cannot connect: %s", host, port, strerror(errno));
      close(fd);
      continue;
    }
    rc = wait_fd(t, fd, POLLOUT);
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (!rc && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr)) rc = -SL_EIO;
    if (!rc) {
      freeaddrinfo(res);
      return fd;
    }
    sl__fmt(t->why, sizeof t->why, "%s:%s: cannot connect: %s", host, port,
            rc == -SL_ETIMEDOUT ? "timed out" : rc == -SL_ECANCELED ? "stopped"
                                                                    : strerror(soerr ? soerr : EIO));
    close(fd);
    if (rc == -SL_ECANCELED || rc == -SL_ETIMEDOUT) break;
    rc = -SL_EIO;
  }
  freeaddrinfo(res);
  return rc;
}

/* ---- encoding ---------------------------------------------------------------------------- */

typedef struct wbuf {
  uint8_t b[1024];
  size_t n;
  int over;
} wbuf;

static void put(wbuf *w, uint64_t v, int bytes) {
  if (w->n + (size_t)bytes > sizeof w->b) {
    w->over = 1;
    return;
  }
  for (int i = bytes - 1; i >= 0; i--) w->b[w->n++] = (uint8_t)(v >> (8 * i));
}
static void put_str(wbuf *w, const char *s) {
  size_t len = strlen(s);
  if (len > 32767 || w->n + 2 + len > sizeof w->b) {
    w->over = 1;
    return;
  }
  put(w, len, 2);
  memcpy(w->b + w->n, s, len);
  w->n += len;
}

typedef struct rbuf {
  const uint8_t *p;
  size_t n, at;
  int bad;
} rbuf;

static uint64_t get(rbuf *r, int bytes) {
  if (r->bad || r->n - r->at < (size_t)bytes) {
    r->bad = 1;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = v << 8 | r->p[r->at++];
  return v;
}
/* A (nullable) string into out (cut to cap - 1); NULL strings give "". */
static void get_str(rbuf *r, char *out, size_t cap) {
  int16_t len = (int16_t)get(r, 2);
  out[0] = 0;
  if (r->bad || len < 0) return;
  if (r->n - r->at < (size_t)len) {
    r->bad = 1;
    return;
  }
  size_t k = (size_t)len < cap - 1 ? (size_t)len : cap - 1;
  memcpy(out, r->p + r->at, k);
  out[k] = 0;
  r->at += (size_t)len;
}

/* Sends request (api key, version, body) on fd and reads the answer's
 * body (after the correlation id) into resp.  0 or a negative code with
 * t->why (`who` names the broker). */
static int call(kt *t, int fd, const char *who, int16_t key, int16_t version, const wbuf *body,
                uint8_t *resp, size_t *resp_len) {
  wbuf w = {.n = 0};
  int rc = 0;
  int32_t corr = ++t->corr;
  put(&w, 0, 4); /* the size, set below */
  put(&w, (uint16_t)key, 2);
  put(&w, (uint16_t)version, 2);
  put(&w, (uint32_t)corr, 4);
  put_str(&w, "sluice");
  if (w.over || w.n + body->n > sizeof w.b) {
    sl__fmt(t->why, sizeof t->why, "request too large");
    return -SL_EINVAL;
  }
  memcpy(w.b + w.n, body->b, body->n);
  w.n += body->n;
  uint32_t size = (uint32_t)(w.n - 4);
  for (int i = 0; i < 4; i++) w.b[i] = (uint8_t)(size >> (24 - 8 * i));
  for (size_t off = 0; off < w.n;) {
    if ((rc = wait_fd(t, fd, POLLOUT)) != 0) goto io;
    ssize_t k = send(fd, w.b + off, w.n - off, MSG_NOSIGNAL);
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (k <= 0) {
      sl__fmt(t->why, sizeof t->why, "%s: cannot send: %s", who, strerror(errno));
      return -SL_EIO;
    }
    off += (size_t)k;
  }
  uint8_t head[4];
  size_t want = 4, got = 0;
  uint8_t *dst = head;
  for (int part = 0; part < 2; part++) {
    while (got < want) {
      if ((rc = wait_fd(t, fd, POLLIN)) != 0) goto io;
      ssize_t k = recv(fd, dst + got, want - got, 0);
      if (k < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (k <= 0) {
        sl__fmt(t->why, sizeof t->why, "%s: connection closed before the answer%s%s", who,
                k < 0 ? ": " : "", k < 0 ? strerror(errno) : "");
        return -SL_EIO;
      }
      got += (size_t)k;
    }
    if (part == 0) {
      want = (size_t)head[0] << 24 | (size_t)head[1] << 16 | (size_t)head[2] << 8 | head[3];
      if (want < 8 || want > KT_MAX_RESP) {
        sl__fmt(t->why, sizeof t->why, "%s: an answer of %zu bytes (not Kafka?)", who, want);
        return -SL_EIO;
      }
      dst = resp;
      got = 0;
    }
  }
  int32_t rcorr = (int32_t)((uint32_t)resp[0] << 24 | (uint32_t)resp[1] << 16 |
                            (uint32_t)resp[2] << 8 | resp[3]);
  if (rcorr != corr) {
    sl__fmt(t->why, sizeof t->why, "%s: an answer to request %d, not %d (not Kafka?)", who,
            (int)rcorr, (int)corr);
    return -SL_EIO;
  }
  memmove(resp, resp + 4, want - 4);
  *resp_len = want - 4;
  return 0;
io:
  sl__fmt(t->why, sizeof t->why, "%s: %s", who,
          rc == -SL_ECANCELED ? "stopped" : rc == -SL_ETIMEDOUT ? "no answer in time"
                                                                : "poll failed");
  return rc;
}

/* HOST:PORT (IPv6 in brackets) of one bootstrap entry, an optional
 * scheme:// skipped.  0, or -1 when it is not of that form. */
static int split_hostport(const char *s, size_t len, char *host, char *port) {
  const char *sch = NULL;
  for (size_t i = 0; i + 3 <= len && !sch; i++)
    if (!memcmp(s + i, "://", 3)) sch = s + i;
  if (sch) {
    len -= (size_t)(sch + 3 - s);
    s = sch + 3;
  }
  while (len && (*s == ' ')) s++, len--;
  while (len && s[len - 1] == ' ') len--;
  const char *colon = NULL;
  if (len && s[0] == '[') {
    const char *close_br = memchr(s, ']', len);
    if (!close_br || close_br + 1 >= s + len || close_br[1] != ':') return -1;
    if ((size_t)(close_br - s - 1) >= KT_HOSTLEN) return -1;
    memcpy(host, s + 1, (size_t)(close_br - s - 1));
    host[close_br - s - 1] = 0;
    colon = close_br + 1;
  } else {
    for (size_t i = 0; i < len; i++)
      if (s[i] == ':') colon = s + i;
    if (!colon || colon == s || (size_t)(colon - s) >= KT_HOSTLEN) return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
  }
  size_t pl = (size_t)(s + len - colon - 1);
  if (pl == 0 || pl > 5) return -1;
  for (size_t i = 0; i < pl; i++)
    if (colon[1 + i] < '0' || colon[1 + i] > '9') return -1;
  memcpy(port, colon + 1, pl);
  port[pl] = 0;
  return 0;
}

/* Asks the broker host:port for the coordinator of txn_id.  0 with the
 * coordinator in chost/cport, a positive Kafka error code, or a negative
 * code (t->why). */
static int find_coordinator(kt *t, const char *host, const char *port, const char *txn_id,
                            char *chost, char *cport) {
  char who[KT_HOSTLEN + 16];
  snprintf(who, sizeof who, "%s:%s", host, port);
  int fd = dial(t, host, port);
  if (fd < 0) return fd;
  wbuf body = {.n = 0};
  put_str(&body, txn_id);
  put(&body, 1, 1); /* key_type: transaction */
  uint8_t *resp = sl__malloc(KT_MAX_RESP);
  size_t n = 0;
  int rc = resp ? call(t, fd, who, 10, 1, &body, resp, &n) : -SL_ENOMEM;
  close(fd);
  if (!rc) {
    rbuf r = {.p = resp, .n = n};
    char msg[200], h[KT_HOSTLEN];
    get(&r, 4); /* throttle */
    int16_t e = (int16_t)get(&r, 2);
    get_str(&r, msg, sizeof msg);
    int32_t node = (int32_t)get(&r, 4);
    get_str(&r, h, sizeof h);
    int32_t p = (int32_t)get(&r, 4);
    (void)node;
    if (r.bad) {
      sl__fmt(t->why, sizeof t->why, "%s: a FindCoordinator answer cut short", who);
      rc = -SL_EIO;
    } else if (e) {
      tracef("FindCoordinator %s -> error %s", txn_id, code_name(e));
      sl__fmt(t->why, sizeof t->why, "%s: FindCoordinator: %s", who, code_name(e));
      rc = e > 0 ? e : -SL_EIO;
    } else if (!h[0] || p <= 0 || p > 65535) {
      sl__fmt(t->why, sizeof t->why, "%s: FindCoordinator named no usable broker ('%s', port %d)",
              who, h, (int)p);
      rc = -SL_EIO;
    } else {
      snprintf(chost, KT_HOSTLEN, "%s", h);
      snprintf(cport, 8, "%d", (int)p);
      tracef("FindCoordinator %s -> %s:%s", txn_id, chost, cport);
    }
  }
  sl__free(resp);
  return rc;
}

/* EndTxn to the coordinator: 0 or a positive Kafka error code, or a
 * negative code (t->why). */
static int end_txn(kt *t, const char *chost, const char *cport, const char *txn_id, int64_t pid,
                   int16_t epoch, int commit) {
  char who[KT_HOSTLEN + 16];
  snprintf(who, sizeof who, "%s:%s", chost, cport);
  int fd = dial(t, chost, cport);
  if (fd < 0) return fd;
  wbuf body = {.n = 0};
  put_str(&body, txn_id);
  put(&body, (uint64_t)pid, 8);
  put(&body, (uint16_t)epoch, 2);
  put(&body, commit ? 1 : 0, 1);
  uint8_t *resp = sl__malloc(KT_MAX_RESP);
  size_t n = 0;
  int rc = resp ? call(t, fd, who, 26, 0, &body, resp, &n) : -SL_ENOMEM;
  close(fd);
  if (!rc) {
    rbuf r = {.p = resp, .n = n};
    get(&r, 4); /* throttle */
    int16_t e = (int16_t)get(&r, 2);
    if (r.bad) {
      sl__fmt(t->why, sizeof t->why, "%s: an EndTxn answer cut short", who);
      rc = -SL_EIO;
    } else {
      tracef("EndTxn %s pid %lld epoch %d %s -> %s", txn_id, (long long)pid, (int)epoch,
             commit ? "commit" : "abort", code_name(e));
      rc = e > 0 ? e : e < 0 ? -SL_EIO : 0;
      if (e < 0) sl__fmt(t->why, sizeof t->why, "%s: EndTxn: unknown error %d", who, (int)e);
    }
  }
  sl__free(resp);
  return rc;
}

/* Sleeps ms in slices, polling stop: 0 or -SL_ECANCELED. */
static int pause_ms(kt *t, int64_t ms) {
  int64_t until = sl__now_ms() + ms;
  if (until > t->deadline_ms) until = t->deadline_ms;
  for (;;) {
    if (t->stop && t->stop(t->stop_ud)) return -SL_ECANCELED;
    int64_t left = until - sl__now_ms();
    if (left <= 0) return 0;
    poll(NULL, 0, (int)(left < KT_SLICE_MS ? left : KT_SLICE_MS));
  }
}

int sl__kafka_end_txn(const char *bootstrap, const char *txn_id, int64_t pid, int16_t epoch,
                      int commit, int64_t timeout_ms, int (*stop)(void *), void *stop_ud,
                      int *kafka_err, char *err, size_t errcap) {
  *kafka_err = -1;
  if (!bootstrap || !*bootstrap || !txn_id || !*txn_id || strlen(txn_id) > 32767) {
    sl__fmt(err, errcap, "no bootstrap servers or transactional id");
    return -SL_EINVAL;
  }
  kt t = {.deadline_ms = sl__now_ms() + timeout_ms, .stop = stop, .stop_ud = stop_ud};
  char chost[KT_HOSTLEN] = "", cport[8] = "", host[KT_HOSTLEN], port[8];
  int64_t backoff = 50;
  int last = 0; /* the last Kafka error (retriable), else 0 */
  int n_servers = 0;
  for (const char *p = bootstrap; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
    size_t len = strcspn(p, ",");
    if (split_hostport(p, len, host, port)) {
      sl__fmt(err, errcap, "bootstrap server %d of '%s' is not HOST:PORT", n_servers + 1,
              bootstrap);
      return -SL_EINVAL;
    }
    n_servers++;
  }
  for (int round = 0;; round++) {
    if (stop && stop(stop_ud)) goto stopped;
    int rc = 0;
    if (!chost[0]) { /* find the coordinator: each bootstrap server in turn */
      const char *p = bootstrap;
      int start = round % n_servers;
      for (int i = 0; i < start; i++) p += strcspn(p, ",") + 1;
      for (int i = 0; i < n_servers && !chost[0]; i++) {
        size_t len = strcspn(p, ",");
        split_hostport(p, len, host, port);
        rc = find_coordinator(&t, host, port, txn_id, chost, cport);
        if (rc == -SL_ECANCELED) goto stopped;
        if (rc > 0) { /* a Kafka error: the cluster answered */
          chost[0] = 0;
          if (!retriable(rc)) {
            *kafka_err = rc;
            sl__fmt(err, errcap, "FindCoordinator for '%s': %s", txn_id, code_name(rc));
            return 0;
          }
          break;
        }
        p += len;
        if (*p == ',') p++;
        else p = bootstrap;
      }
    }
    if (chost[0]) {
      rc = end_txn(&t, chost, cport, txn_id, pid, epoch, commit);
      if (rc == -SL_ECANCELED) goto stopped;
      if (rc == 0 || (rc > 0 && !retriable(rc))) {
        *kafka_err = rc;
        sl__fmt(err, errcap, "EndTxn for '%s' (coordinator %s:%s): %s", txn_id, chost, cport,
                code_name(rc));
        return 0;
      }
      if (rc != SL__KT_CONCURRENT_TRANSACTIONS) chost[0] = 0; /* find it again */
    }
    last = rc > 0 ? rc : 0;
    if (sl__now_ms() >= t.deadline_ms) break;
    if (pause_ms(&t, backoff)) goto stopped;
    backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
    if (sl__now_ms() >= t.deadline_ms) break;
  }
  if (last) {
    *kafka_err = last;
    sl__fmt(err, errcap, "the coordinator still answered %s after %lld ms", code_name(last),
            (long long)timeout_ms);
    return 0;
  }
  sl__fmt(err, errcap, "no broker of '%s' answered within %lld ms (last: %s)", bootstrap,
          (long long)timeout_ms, t.why[0] ? t.why : "nothing tried");
  return -SL_EIO;
stopped:
  sl__fmt(err, errcap, "stopped before the transaction '%s' was ended", txn_id);
  return -SL_ECANCELED;
}

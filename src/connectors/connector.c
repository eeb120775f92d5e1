/* connector.c -- the stoppable write of sinks that feed a peer, and
 * generator positions. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connectors/connector.h"

int sl__write_stoppable(sl_ctx *ctx, int fd, const void *buf, size_t len, int sock) {
  const char *p = buf;
  int64_t give_up = 0;
  while (len) {
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int pr = poll(&pfd, 1, 100);
    if (pr < 0 && errno != EINTR) return -errno;
    if (pr > 0) {
      /* a pipe with room takes PIPE_BUF bytes without blocking */
      size_t chunk = sock ? len : SL__MIN(len, (size_t)PIPE_BUF);
      ssize_t n = sock ? send(fd, p, chunk, MSG_NOSIGNAL | MSG_DONTWAIT) : write(fd, p, chunk);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return -errno;
      }
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (sl_ctx_stopping(ctx)) { /* a last second to drain */
      int64_t now = sl__now_ms();
      if (!give_up)
        give_up = now + 1000;
      else if (now >= give_up)
        return -SL_ECANCELED;
    }
  }
  return 0;
}

int sl__gen_position(const sl__gen_pos *own, const sl__gen_done *done, uint8_t *buf,
                     size_t cap, size_t *len) {
  size_t n = (size_t)(1 + done->n) * sizeof *own;
  if (n > cap) return -SL_ENOMEM;
  memcpy(buf, own, sizeof *own);
  if (done->n) memcpy(buf + sizeof *own, done->e, (size_t)done->n * sizeof *own);
  *len = n;
  return 0;
}

int sl__gen_seek(sl__gen_done *done, const uint8_t *const *blobs, const size_t *lens, int n) {
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    if (lens[i] % sizeof(sl__gen_pos)) return -SL_ESTATE; /* not positions */
    total += lens[i] / sizeof(sl__gen_pos);
  }
  done->n = 0;
  done->e = sl__calloc(total ? total : 1, sizeof *done->e);
  if (!done->e) return -SL_ENOMEM;
  for (int i = 0; i < n; i++)
    for (size_t k = 0; k < lens[i] / sizeof(sl__gen_pos); k++) {
      sl__gen_pos e;
      memcpy(&e, blobs[i] + k * sizeof e, sizeof e);
      if (!e.step) continue;
      if (e.next < e.first) {
        sl__free(done->e);
        done->e = NULL;
        done->n = 0;
        return -SL_ESTATE;
      }
      int j = 0;
      while (j < done->n && (done->e[j].first != e.first || done->e[j].step != e.step)) j++;
      if (j == done->n)
        done->e[done->n++] = e;
      else if (e.next > done->e[j].next)
        done->e[j].next = e.next;
    }
  return 0;
}

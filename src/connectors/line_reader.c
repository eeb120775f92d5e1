/*
 * line_reader.c -- the buffered line splitter behind the text sources
 * (file, socket, stdin).  See line_reader.h for the invariants.
 *
 * sl__lr_next is one loop: drop skipped bytes; end the split if the next
 * line starts at `limit`; memchr for '\n' from `scan` (so a long line is
 * scanned once, not once per refill); report a line that grew past
 * max_line; otherwise compact the buffer, grow it if one line fills it,
 * and read more.  The memory of a returned view stays untouched until the
 * next call, because compaction and reads happen only at the next call.
 */
#include "connectors/line_reader.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "core/core.h"

/* After the split end only the tail of the last line is needed: read in
 * small steps there instead of whole buffers. */
#define SL__LR_TAIL_READ (16 * 1024)

int sl__lr_init(sl__line_reader *lr, size_t max_line, int validate_utf8,
                size_t bufsize) {
  memset(lr, 0, sizeof *lr);
  lr->fd = -1;
  lr->cap = bufsize ? bufsize : SL__LR_DEFAULT_BUF;
  lr->buf = sl__malloc(lr->cap);
  if (!lr->buf) return -SL_ENOMEM;
  lr->max_line = max_line;
  lr->validate_utf8 = validate_utf8;
  lr->limit = SL__LR_NO_LIMIT;
  return 0;
}

void sl__lr_free(sl__line_reader *lr) {
  sl__free(lr->buf);
  lr->buf = NULL;
  lr->cap = 0;
}

void sl__lr_reset(sl__line_reader *lr, int fd, int flags, uint64_t offset,
                  int skip_first, uint64_t limit) {
  lr->fd = fd;
  lr->flags = flags;
  lr->beg = lr->scan = lr->end = 0;
  lr->base = offset;
  lr->limit = limit;
  lr->skipping = skip_first;
  lr->eof = 0;
  lr->reason[0] = 0;
}

/* Check a complete line; fills *line and returns SL__LR_LINE or SL__LR_BAD. */
static int finish_line(sl__line_reader *lr, sl__line *line, size_t beg,
                       size_t len) {
  line->data = lr->buf + beg;
  line->offset = lr->base + beg;
  if (len > lr->max_line) {
    line->len = lr->max_line;
    sl__fmt(lr->reason, sizeof lr->reason,
            "line longer than pipeline.max-line-length (%zu bytes)",
            lr->max_line);
    return SL__LR_BAD;
  }
  line->len = len;
  if (lr->validate_utf8) {
    size_t bad = sl__utf8_check(line->data, len);
    if (bad < len) {
      sl__fmt(lr->reason, sizeof lr->reason,
              "invalid UTF-8 at byte %zu of the line", bad);
      return SL__LR_BAD;
    }
  }
  return SL__LR_LINE;
}

/* Read more bytes into buf[end, cap).  >0 bytes read, 0 end of input,
 * -EAGAIN nothing available now, other -errno. */
static ssize_t fill(sl__line_reader *lr) {
  size_t room = lr->cap - lr->end;
  if (lr->flags & SL__LR_POLL) {
    struct pollfd pfd = {.fd = lr->fd, .events = POLLIN};
    int n = poll(&pfd, 1, 0);
    if (n < 0) return errno == EINTR ? -EAGAIN : -errno;
    if (n == 0) return -EAGAIN;
  }
  for (;;) {
    ssize_t n;
    if (lr->flags & SL__LR_PREAD) {
      uint64_t pos = lr->base + lr->end;
      if (lr->limit != SL__LR_NO_LIMIT) {
        uint64_t want = pos < lr->limit ? lr->limit - pos + SL__LR_TAIL_READ
                                        : SL__LR_TAIL_READ;
        if (want < room) room = (size_t)want;
      }
      n = pread(lr->fd, lr->buf + lr->end, room, (off_t)pos);
    } else {
      n = read(lr->fd, lr->buf + lr->end, room);
    }
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return -EAGAIN;
    return -errno;
  }
}

int sl__lr_next(sl__line_reader *lr, sl__line *line) {
  for (;;) {
    if (lr->skipping) {
      char *nl = memchr(lr->buf + lr->beg, '\n', lr->end - lr->beg);
      if (nl) {
        lr->beg = lr->scan = (size_t)(nl - lr->buf) + 1;
        lr->skipping = 0;
      } else {
        lr->beg = lr->scan = lr->end;
      }
    }
    if (!lr->skipping) {
      if (lr->base + lr->beg >= lr->limit) return SL__LR_EOF;
      char *nl = memchr(lr->buf + lr->scan, '\n', lr->end - lr->scan);
      if (SL__LIKELY(nl != NULL)) {
        size_t beg = lr->beg, len = (size_t)(nl - lr->buf) - beg;
        lr->beg = lr->scan = beg + len + 1;
        return finish_line(lr, line, beg, len);
      }
      lr->scan = lr->end;
      if (lr->end - lr->beg > lr->max_line) {
        /* Overlong and still unterminated: report now, skip the rest. */
        size_t beg = lr->beg;
        lr->beg = lr->scan = lr->end;
        lr->skipping = 1;
        return finish_line(lr, line, beg, lr->end - beg);
      }
    }
    if (lr->eof) {
      if (!lr->skipping && lr->beg < lr->end) {
        size_t beg = lr->beg, len = lr->end - beg;
        lr->beg = lr->scan = lr->end;
        return finish_line(lr, line, beg, len);
      }
      return SL__LR_EOF;
    }
    /* Need more input: compact, grow if one line fills the buffer, read. */
    if (lr->beg > 0) {
      size_t keep = lr->end - lr->beg;
      if (keep) memmove(lr->buf, lr->buf + lr->beg, keep);
      lr->base += lr->beg;
      lr->scan -= lr->beg;
      lr->end = keep;
      lr->beg = 0;
    }
    if (lr->end == lr->cap) {
      /* Here cap <= max_line (else the line was reported as overlong). */
      size_t ncap = lr->cap * 2;
      if (ncap < lr->cap || ncap > lr->max_line + 1) ncap = lr->max_line + 1;
      char *nbuf = sl__realloc(lr->buf, ncap);
      if (!nbuf) return -ENOMEM;
      lr->buf = nbuf;
      lr->cap = ncap;
    }
    ssize_t n = fill(lr);
    if (n > 0) {
      lr->end += (size_t)n;
    } else if (n == 0) {
      if (!(lr->flags & SL__LR_FINAL)) return SL__LR_AGAIN;
      lr->eof = 1;
    } else if (n == -EAGAIN) {
      return SL__LR_AGAIN;
    } else {
      return (int)n;
    }
  }
}

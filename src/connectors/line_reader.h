/*
 * line_reader.h -- split a byte stream (file, socket, stdin) into
 * '\n'-terminated text lines, for the text sources.
 *
 * The reader owns one buffer (default 256 KiB, grown only when a single
 * line needs more, never beyond pipeline.max-line-length + 1) and hands out
 * borrowed views of complete lines: the bytes without the '\n' (a '\r'
 * before it is kept), with the absolute byte offset of the line's first
 * byte.  The hot path is memchr over the buffer; nothing is allocated per
 * line.
 *
 * Invariants
 *   1. buf[beg, end) holds unconsumed bytes; buf[beg, scan) is known to
 *      contain no '\n'.  base is the stream offset of buf[0], so the next
 *      line starts at stream offset base + beg.
 *   2. While `skipping`, bytes are dropped up to and including the next
 *      '\n' (the tail of an overlong line, or the first partial line of a
 *      file split that belongs to the previous split).
 *   3. An overlong line is reported exactly once (SL__LR_BAD with the
 *      first max_line bytes and the line's offset) as soon as more than
 *      max_line bytes of it are seen; it is never buffered whole.
 *   4. A line starting at or after `limit` is not returned (end of a file
 *      split: a line belongs to the split where it starts).
 *
 * The reader does no I/O set-up: the caller opens the fd, positions it (or
 * passes SL__LR_PREAD to read at explicit offsets) and closes it.
 */
#ifndef SL_LINE_READER_H
#define SL_LINE_READER_H

#include <stddef.h>
#include <stdint.h>

#define SL__LR_DEFAULT_BUF (256 * 1024)
#define SL__LR_NO_LIMIT UINT64_MAX

/* Flags of sl__lr_reset. */
enum {
  /* End of input is final: an unterminated last line is a line and
   * sl__lr_next then returns SL__LR_EOF.  Without it (a file that may still
   * grow) end of input returns SL__LR_AGAIN and the partial line waits. */
  SL__LR_FINAL = 1,
  /* poll() the fd with a zero timeout before read() so a blocking fd
   * (stdin) never blocks the caller. */
  SL__LR_POLL = 2,
  /* Read with pread() at the stream offset (regular files). */
  SL__LR_PREAD = 4
};

/* Results of sl__lr_next (negative values are -errno of a failed read). */
enum {
  SL__LR_AGAIN = 0, /* no complete line yet; try later */
  SL__LR_LINE = 1,  /* *line is a good line */
  SL__LR_BAD = 2,   /* *line is a bad record, why in lr->reason */
  SL__LR_EOF = 3    /* end of input (or of the split) */
};

/* A borrowed view, valid until the next call on the reader. */
typedef struct sl__line {
  const char *data;
  size_t len;
  uint64_t offset; /* stream offset of the line's first byte */
} sl__line;

typedef struct sl__line_reader {
  int fd;
  int flags;
  char *buf;
  size_t cap, beg, scan, end;
  uint64_t base;
  uint64_t limit;
  size_t max_line;
  int validate_utf8;
  int skipping;
  int eof;
  char reason[128];
} sl__line_reader;

/* Allocate the buffer (bufsize 0 = SL__LR_DEFAULT_BUF).  Lines longer than
 * max_line bytes are bad records; with validate_utf8, so are lines that are
 * not valid UTF-8.  0 or -SL_ENOMEM. */
int sl__lr_init(sl__line_reader *lr, size_t max_line, int validate_utf8,
                size_t bufsize);
/* Free the buffer (not the fd).  Safe on a zeroed or freed reader. */
void sl__lr_free(sl__line_reader *lr);
/* Start reading `fd`, whose next byte is at stream offset `offset`; keeps
 * the buffer.  skip_first drops everything up to and including the first
 * '\n' without reporting it.  Lines starting at or after `limit` end the
 * input (SL__LR_NO_LIMIT: none). */
void sl__lr_reset(sl__line_reader *lr, int fd, int flags, uint64_t offset,
                  int skip_first, uint64_t limit);
/* Next line: SL__LR_LINE / SL__LR_BAD (view in *line), SL__LR_AGAIN,
 * SL__LR_EOF, or -errno.  Never blocks unless the fd itself blocks. */
int sl__lr_next(sl__line_reader *lr, sl__line *line);
/* Stream offset of the first unconsumed byte (start of the next line, or of
 * the bytes being skipped). */
static inline uint64_t sl__lr_pos(const sl__line_reader *lr) {
  return lr->base + lr->beg;
}

#endif

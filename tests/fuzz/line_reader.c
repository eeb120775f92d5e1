/*
 * line_reader.c -- fuzzes the line reader with UTF-8 validation
 * (src/connectors/line_reader.c) against a reference written here.  Byte
 * 0: max line length 1 + b % 64; byte 1: buffer size 1 + b (the reader
 * grows it for long lines); byte 2: bit 0 skip the first line, bit 1 a
 * split limit of byte 3 (lines starting at or after it are not returned).
 * The rest is the stream, read with pread from a memfd to its end.
 *
 * Reference: the stream cut at '\n' (an unterminated last piece is a
 * line); a line longer than the maximum is one bad record holding its first
 * `max` bytes; a line that is not valid UTF-8 (per a byte-by-byte decoder
 * below, not sl__utf8_check) is a bad record; everything else is a line
 * with its bytes and offset.  The reader must produce exactly that.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "connectors/connector.h"
#include "connectors/line_reader.h"
#include "core/core.h"
#include "fuzz_util.h"

/* Well-formed UTF-8 (Unicode Table 3-7), one byte at a time. */
static int ref_utf8(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t k;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c <= 0x7f) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      k = 1;
    } else if (c == 0xe0) {
      k = 2, lo = 0xa0;
    } else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
      k = 2;
    } else if (c == 0xed) {
      k = 2, hi = 0x9f;
    } else if (c == 0xf0) {
      k = 3, lo = 0x90;
    } else if (c >= 0xf1 && c <= 0xf3) {
      k = 3;
    } else if (c == 0xf4) {
      k = 3, hi = 0x8f;
    } else {
      return 0;
    }
    if (n - i <= k) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (size_t j = 2; j <= k; j++)
      if (s[i + j] < 0x80 || s[i + j] > 0xbf) return 0;
    i += k + 1;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
  size_t max = 1 + data[0] % 64, bufsize = 1 + data[1];
  int skip_first = data[2] & 1;
  uint64_t limit = (data[2] & 2) ? data[3] : SL__LR_NO_LIMIT;
  const uint8_t *in = data + 4;
  size_t n = size - 4;
  int fd = memfd_create("fuzz-lines", MFD_CLOEXEC);
  FZ_CHECK(fd >= 0);
  FZ_CHECK(sl__write_all(fd, in, n) == 0);
  sl__line_reader lr;
  memset(&lr, 0, sizeof lr);
  FZ_CHECK(sl__lr_init(&lr, max, 1, bufsize) == 0);
  sl__lr_reset(&lr, fd, SL__LR_FINAL | SL__LR_PREAD, 0, skip_first, limit);
  /* the reference, walked in step with the reader */
  size_t pos = 0;
  if (skip_first) {
    const uint8_t *nl = n ? memchr(in, '\n', n) : NULL;
    pos = nl ? (size_t)(nl - in) + 1 : n;
  }
  for (int guard = 0;; guard++) {
    FZ_CHECK(guard < 100000);
    sl__line line;
    int rc = sl__lr_next(&lr, &line);
    int done = pos >= n || pos >= limit;
    if (rc == SL__LR_EOF) {
      FZ_CHECK(done);
      break;
    }
    FZ_CHECK(rc == SL__LR_LINE || rc == SL__LR_BAD);
    FZ_CHECK(!done);
    const uint8_t *nl = memchr(in + pos, '\n', n - pos);
    size_t len = nl ? (size_t)(nl - (in + pos)) : n - pos;
    FZ_CHECK(line.offset == pos);
    if (len > max) {
      FZ_CHECK(rc == SL__LR_BAD && line.len == max);
      FZ_CHECK(strstr(lr.reason, "longer") != NULL);
    } else if (!ref_utf8(in + pos, len)) {
      FZ_CHECK(rc == SL__LR_BAD && line.len == len);
      FZ_CHECK(strstr(lr.reason, "UTF-8") != NULL);
    } else {
      FZ_CHECK(rc == SL__LR_LINE && line.len == len);
    }
    FZ_CHECK(!memcmp(line.data, in + pos, line.len));
    pos += len + (nl != NULL);
  }
  sl__lr_free(&lr);
  close(fd);
  return 0;
}

/*
 * test_line_reader.c -- unit tests of the line splitter behind the text
 * sources (src/connectors/line_reader.c), without the runtime: temp files
 * read with pread, pipes read with poll/read.  Covers lines and offsets,
 * CRLF, a last line without '\n', empty lines, overlong lines (reported
 * once, skipped, right offset), invalid UTF-8, lines spanning buffer
 * refills and buffer growth, and byte-range splits (every line exactly
 * once for every split size).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/line_reader.h"
#include "test.h"
#include "test_util.h"

/* Write `len` bytes to a fresh temp file; returns an fd open for reading. */
static int temp_file(const char *name, const void *data, size_t len) {
  char path[700];
  tpath(path, sizeof path, name);
  int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
  if (fd < 0) return -1;
  if (len && write(fd, data, len) != (ssize_t)len) {
    close(fd);
    return -1;
  }
  return fd;
}

/* What a reader produced, one entry per line/bad record. */
typedef struct got {
  int res;
  char text[256];
  size_t len;
  uint64_t offset;
  char reason[128];
} got;

/* Read until EOF (or AGAIN / error, which is recorded as the last entry's
 * res when it is not EOF).  Returns the number of entries. */
static size_t read_all(sl__line_reader *lr, got *out, size_t max, int *last) {
  size_t n = 0;
  for (;;) {
    sl__line line;
    int res = sl__lr_next(lr, &line);
    if (res != SL__LR_LINE && res != SL__LR_BAD) {
      *last = res;
      return n;
    }
    if (n < max) {
      out[n].res = res;
      out[n].len = line.len;
      out[n].offset = line.offset;
      size_t c = line.len < sizeof out[n].text - 1 ? line.len
                                                    : sizeof out[n].text - 1;
      memcpy(out[n].text, line.data, c);
      out[n].text[c] = 0;
      snprintf(out[n].reason, sizeof out[n].reason, "%s", lr->reason);
    }
    n++;
  }
}

static size_t read_tmp(const char *name, const char *data, size_t len,
                       size_t max_line, int utf8, size_t bufsize, got *out,
                       size_t max, int *last) {
  int fd = temp_file(name, data, len);
  CHECK(fd >= 0);
  sl__line_reader lr;
  CHECK_EQ_INT(sl__lr_init(&lr, max_line, utf8, bufsize), 0);
  sl__lr_reset(&lr, fd, SL__LR_FINAL | SL__LR_PREAD, 0, 0, SL__LR_NO_LIMIT);
  size_t n = read_all(&lr, out, max, last);
  size_t initial = bufsize ? bufsize : SL__LR_DEFAULT_BUF;
  CHECK(lr.cap <= (initial > max_line + 1 ? initial : max_line + 1));
  sl__lr_free(&lr);
  close(fd);
  return n;
}

static void test_lines_and_offsets(void) {
  static const char data[] = "a\nbb\n\nccc\r\n\r\nlast";
  got g[16];
  int last;
  size_t n = read_tmp("basic", data, sizeof data - 1, 1024, 1, 0, g, 16,
                      &last);
  CHECK_EQ_INT(n, 6);
  CHECK_EQ_INT(last, SL__LR_EOF);
  const char *want[] = {"a", "bb", "", "ccc\r", "\r", "last"};
  const uint64_t off[] = {0, 2, 5, 6, 11, 13};
  for (size_t i = 0; i < 6 && i < n; i++) {
    CHECK_EQ_INT(g[i].res, SL__LR_LINE);
    CHECK_EQ_STR(g[i].text, want[i]);
    CHECK_EQ_INT(g[i].len, strlen(want[i]));
    CHECK_EQ_INT(g[i].offset, off[i]);
  }
  /* The same with a 3-byte buffer: every line spans refills. */
  n = read_tmp("basic3", data, sizeof data - 1, 1024, 1, 3, g, 16, &last);
  CHECK_EQ_INT(n, 6);
  for (size_t i = 0; i < 6 && i < n; i++) {
    CHECK_EQ_STR(g[i].text, want[i]);
    CHECK_EQ_INT(g[i].offset, off[i]);
  }
}

static void test_empty_and_newline_only(void) {
  got g[8];
  int last;
  CHECK_EQ_INT(read_tmp("empty", "", 0, 64, 1, 0, g, 8, &last), 0);
  CHECK_EQ_INT(last, SL__LR_EOF);
  size_t n = read_tmp("nl", "\n\n", 2, 64, 1, 0, g, 8, &last);
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(g[0].len, 0);
  CHECK_EQ_INT(g[1].offset, 1);
  n = read_tmp("trail", "x\n", 2, 64, 1, 0, g, 8, &last);
  CHECK_EQ_INT(n, 1); /* a final '\n' does not make an empty last line */
}

static void test_overlong(void) {
  /* max_line 8: "12345678" is fine, 9+ bytes is bad. */
  char data[256];
  snprintf(data, sizeof data, "short\n%s\n12345678\n%s\nok\n%s",
           "0123456789abcdefghijklmnopqrstuvwxyz", "123456789",
           "tail-without-newline-too-long");
  size_t len = strlen(data);
  for (size_t bufsize = 2; bufsize <= 64; bufsize += 5) {
    got g[16];
    int last;
    size_t n = read_tmp("long", data, len, 8, 1, bufsize, g, 16, &last);
    CHECK_EQ_INT(n, 6);
    CHECK_EQ_INT(last, SL__LR_EOF);
    if (n != 6) continue;
    CHECK_EQ_INT(g[0].res, SL__LR_LINE);
    CHECK_EQ_STR(g[0].text, "short");
    CHECK_EQ_INT(g[1].res, SL__LR_BAD);
    CHECK_EQ_INT(g[1].offset, 6);
    CHECK_EQ_INT(g[1].len, 8);
    CHECK_EQ_STR(g[1].text, "01234567");
    CHECK_CONTAINS(g[1].reason, "pipeline.max-line-length (8 bytes)");
    CHECK_EQ_INT(g[2].res, SL__LR_LINE);
    CHECK_EQ_STR(g[2].text, "12345678");
    CHECK_EQ_INT(g[2].offset, 43);
    CHECK_EQ_INT(g[3].res, SL__LR_BAD);
    CHECK_EQ_INT(g[3].offset, 52);
    CHECK_EQ_INT(g[4].res, SL__LR_LINE);
    CHECK_EQ_STR(g[4].text, "ok");
    CHECK_EQ_INT(g[4].offset, 62);
    CHECK_EQ_INT(g[5].res, SL__LR_BAD);
    CHECK_EQ_INT(g[5].offset, 65);
  }
}

static void test_overlong_huge_not_buffered(void) {
  /* A 3 MB line with max 1000 bytes: reported once, the buffer stays at
   * its initial size. */
  size_t big = 3 << 20;
  char *data = malloc(big + 16);
  memset(data, 'x', big);
  memcpy(data + big, "\nafter\n", 7);
  int fd = temp_file("huge", data, big + 7);
  sl__line_reader lr;
  CHECK_EQ_INT(sl__lr_init(&lr, 1000, 1, 4096), 0);
  sl__lr_reset(&lr, fd, SL__LR_FINAL | SL__LR_PREAD, 0, 0, SL__LR_NO_LIMIT);
  got g[8];
  int last;
  size_t n = read_all(&lr, g, 8, &last);
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(g[0].res, SL__LR_BAD);
  CHECK_EQ_INT(g[0].offset, 0);
  CHECK_EQ_INT(g[1].res, SL__LR_LINE);
  CHECK_EQ_STR(g[1].text, "after");
  CHECK_EQ_INT(g[1].offset, big + 1);
  CHECK_EQ_INT(lr.cap, 4096);
  sl__lr_free(&lr);
  close(fd);
  free(data);
}

static void test_utf8(void) {
  static const char data[] = "good\nab\xff" "cd\n\xc3\xa9t\xc3\xa9\n\xe2\x82\n";
  got g[8];
  int last;
  size_t n = read_tmp("utf8", data, sizeof data - 1, 64, 1, 0, g, 8, &last);
  CHECK_EQ_INT(n, 4);
  CHECK_EQ_INT(g[0].res, SL__LR_LINE);
  CHECK_EQ_INT(g[1].res, SL__LR_BAD);
  CHECK_EQ_INT(g[1].offset, 5);
  CHECK_EQ_INT(g[1].len, 5);
  CHECK_CONTAINS(g[1].reason, "invalid UTF-8 at byte 2 of the line");
  CHECK_EQ_INT(g[2].res, SL__LR_LINE);
  CHECK_EQ_STR(g[2].text, "\xc3\xa9t\xc3\xa9");
  CHECK_EQ_INT(g[3].res, SL__LR_BAD); /* truncated sequence */
  CHECK_EQ_INT(g[3].offset, 17);
  CHECK_CONTAINS(g[3].reason, "at byte 0");
  /* Validation off: every line is good. */
  n = read_tmp("utf8off", data, sizeof data - 1, 64, 0, 0, g, 8, &last);
  CHECK_EQ_INT(n, 4);
  for (size_t i = 0; i < n && i < 8; i++) CHECK_EQ_INT(g[i].res, SL__LR_LINE);
}

/* Deterministic text: line i has (i * 7919) % 97 + 0..(some) chars. */
static char *make_text(size_t n_lines, size_t *len, size_t *max_len) {
  size_t cap = n_lines * 200 + 1, o = 0;
  char *s = malloc(cap);
  *max_len = 0;
  for (size_t i = 0; i < n_lines; i++) {
    size_t l = (i * 7919) % 97 + (i % 13 == 0 ? 90 : 0);
    int h = snprintf(s + o, cap - o, "%zu:", i);
    o += (size_t)h;
    for (size_t k = 0; k < l; k++) s[o++] = (char)('a' + (i + k) % 26);
    if ((size_t)h + l > *max_len) *max_len = (size_t)h + l;
    s[o++] = '\n';
  }
  *len = o;
  return s;
}

static void test_refills_and_growth(void) {
  size_t len, max_len;
  char *text = make_text(2000, &len, &max_len);
  int fd = temp_file("refill", text, len);
  const size_t sizes[] = {1, 2, 7, 64, 100, 4096, 0};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    sl__line_reader lr;
    CHECK_EQ_INT(sl__lr_init(&lr, max_len, 1, sizes[s]), 0);
    sl__lr_reset(&lr, fd, SL__LR_FINAL | SL__LR_PREAD, 0, 0, SL__LR_NO_LIMIT);
    size_t pos = 0, n_lines = 0;
    int bad = 0;
    for (;;) {
      sl__line line;
      int res = sl__lr_next(&lr, &line);
      if (res == SL__LR_EOF) break;
      if (res != SL__LR_LINE) {
        bad++;
        break;
      }
      const char *nl = memchr(text + pos, '\n', len - pos);
      if (line.offset != pos || line.len != (size_t)(nl - text - pos) ||
          memcmp(line.data, text + pos, line.len)) {
        bad++;
        break;
      }
      pos += line.len + 1;
      n_lines++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(n_lines, 2000);
    CHECK_EQ_INT(pos, len);
    size_t initial = sizes[s] ? sizes[s] : SL__LR_DEFAULT_BUF;
    CHECK(lr.cap <= (initial > max_len + 1 ? initial : max_len + 1));
    sl__lr_free(&lr);
  }
  close(fd);
  free(text);
}

/* Split [start, end) of a file the way the file source does. */
static void test_splits_every_line_once(void) {
  size_t len, max_len;
  char *text = make_text(300, &len, &max_len);
  /* Also no final newline, and an empty line. */
  text[len - 1] = 'Z';
  memcpy(text + 10, "\n\n", 2);
  int fd = temp_file("splits", text, len);
  size_t n_lines = 0;
  for (size_t i = 0; i < len; i++) n_lines += text[i] == '\n';
  n_lines++; /* the unterminated last line */
  const size_t splits[] = {1, 2, 3, 17, 100, 255, 1000, 100000};
  for (size_t s = 0; s < sizeof splits / sizeof splits[0]; s++) {
    size_t split = splits[s], seen = 0, next_off = 0;
    int ok = 1;
    sl__line_reader lr;
    CHECK_EQ_INT(sl__lr_init(&lr, 4096, 1, 64), 0);
    for (size_t start = 0; start < len; start += split) {
      uint64_t end = start + split < len ? start + split : SL__LR_NO_LIMIT;
      if (start) sl__lr_reset(&lr, fd, SL__LR_FINAL | SL__LR_PREAD, start - 1, 1, end);
      else sl__lr_reset(&lr, fd, SL__LR_FINAL | SL__LR_PREAD, 0, 0, end);
      for (;;) {
        sl__line line;
        int res = sl__lr_next(&lr, &line);
        if (res == SL__LR_EOF) break;
        if (res != SL__LR_LINE || line.offset != next_off ||
            line.offset < start || line.offset >= start + split) {
          ok = 0;
          break;
        }
        next_off = line.offset + line.len + 1;
        seen++;
      }
    }
    sl__lr_free(&lr);
    if (!ok || seen != n_lines)
      fprintf(stderr, "split size %zu: ok=%d seen=%zu want %zu\n", split, ok,
              seen, n_lines);
    CHECK(ok);
    CHECK_EQ_INT(seen, n_lines);
  }
  close(fd);
  free(text);
}

static void test_pipe_nonblocking(void) {
  int p[2];
  CHECK_EQ_INT(pipe(p), 0);
  sl__line_reader lr;
  CHECK_EQ_INT(sl__lr_init(&lr, 64, 1, 16), 0);
  sl__lr_reset(&lr, p[0], SL__LR_FINAL | SL__LR_POLL, 0, 0, SL__LR_NO_LIMIT);
  sl__line line;
  CHECK_EQ_INT(sl__lr_next(&lr, &line), SL__LR_AGAIN); /* never blocks */
  CHECK_EQ_INT(write(p[1], "hel", 3), 3);
  CHECK_EQ_INT(sl__lr_next(&lr, &line), SL__LR_AGAIN); /* partial waits */
  CHECK_EQ_INT(write(p[1], "lo\nwor", 6), 6);
  CHECK_EQ_INT(sl__lr_next(&lr, &line), SL__LR_LINE);
  CHECK_EQ_INT(line.len, 5);
  CHECK(!memcmp(line.data, "hello", 5));
  CHECK_EQ_INT(sl__lr_next(&lr, &line), SL__LR_AGAIN);
  close(p[1]); /* EOF: the final partial line is a line */
  CHECK_EQ_INT(sl__lr_next(&lr, &line), SL__LR_LINE);
  CHECK_EQ_INT(line.len, 3);
  CHECK_EQ_INT(line.offset, 6);
  CHECK_EQ_INT(sl__lr_next(&lr, &line), SL__LR_EOF);
  close(p[0]);

  /* O_NONBLOCK fd without SL__LR_POLL: EAGAIN is SL__LR_AGAIN. */
  CHECK_EQ_INT(pipe(p), 0);
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  sl__lr_reset(&lr, p[0], SL__LR_FINAL, 0, 0, SL__LR_NO_LIMIT);
  CHECK_EQ_INT(sl__lr_next(&lr, &line), SL__LR_AGAIN);
  CHECK_EQ_INT(write(p[1], "x\n", 2), 2);
  CHECK_EQ_INT(sl__lr_next(&lr, &line), SL__LR_LINE);
  close(p[0]);
  close(p[1]);
  sl__lr_free(&lr);
}

static void test_growing_file_not_final(void) {
  /* Without SL__LR_FINAL, end of file is "again" and a partial line waits
   * for its newline (continuous file mode). */
  int fd = temp_file("grow", "one\ntw", 6);
  sl__line_reader lr;
  CHECK_EQ_INT(sl__lr_init(&lr, 64, 1, 0), 0);
  sl__lr_reset(&lr, fd, SL__LR_PREAD, 0, 0, SL__LR_NO_LIMIT);
  sl__line line;
  CHECK_EQ_INT(sl__lr_next(&lr, &line), SL__LR_LINE);
  CHECK_EQ_INT(sl__lr_next(&lr, &line), SL__LR_AGAIN);
  CHECK_EQ_INT(sl__lr_pos(&lr), 4);
  CHECK_EQ_INT(pwrite(fd, "o\nthree\n", 8, 6), 8);
  CHECK_EQ_INT(sl__lr_next(&lr, &line), SL__LR_LINE);
  CHECK_EQ_INT(line.len, 3);
  CHECK(!memcmp(line.data, "two", 3));
  CHECK_EQ_INT(line.offset, 4);
  /* Re-attach at a saved offset (what the file source does). */
  sl__lr_reset(&lr, fd, SL__LR_PREAD, 8, 0, SL__LR_NO_LIMIT);
  CHECK_EQ_INT(sl__lr_next(&lr, &line), SL__LR_LINE);
  CHECK_EQ_INT(line.offset, 8);
  CHECK(line.len == 5 && !memcmp(line.data, "three", 5));
  CHECK_EQ_INT(sl__lr_next(&lr, &line), SL__LR_AGAIN);
  sl__lr_free(&lr);
  close(fd);
}

int main(void) {
  scratch_init("/tmp/sl_test_line_reader", 0);
  RUN(test_lines_and_offsets);
  RUN(test_empty_and_newline_only);
  RUN(test_overlong);
  RUN(test_overlong_huge_not_buffered);
  RUN(test_utf8);
  RUN(test_refills_and_growth);
  RUN(test_splits_every_line_once);
  RUN(test_pipe_nonblocking);
  RUN(test_growing_file_not_final);
  TEST_MAIN_END();
}

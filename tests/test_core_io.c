/*
 * test_core_io.c -- core's I/O helper and wall clock, with nothing but
 * core/core.h included (state, checkpoint and the runtime use them without
 * reaching into connectors/): sl__write_all delivers every byte through a
 * pipe smaller than the buffer (short writes), reports -errno; sl__clock_ms
 * follows a test clock and goes back to the real one.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "test.h"

#define BIG (1u << 20) /* > a pipe's 64 KiB: the writer sees short writes */

struct reader {
  int fd;
  size_t got;
  uint64_t sum; /* of byte i * (i + 1), to catch lost or repeated bytes */
};
static void *read_all(void *arg) {
  struct reader *r = arg;
  uint8_t buf[4096];
  ssize_t n;
  while ((n = read(r->fd, buf, sizeof buf)) > 0)
    for (ssize_t i = 0; i < n; i++, r->got++) r->sum += (uint64_t)buf[i] * (r->got + 1);
  return NULL;
}

static void test_write_all(void) {
  /* declared by core.h with this type (a compile error otherwise) */
  int (*write_all)(int, const void *, size_t) = sl__write_all;
  CHECK(write_all != NULL);
  uint8_t *data = sl__malloc(BIG);
  uint64_t want = 0;
  for (size_t i = 0; i < BIG; i++) {
    data[i] = (uint8_t)(i * 7 + 3);
    want += (uint64_t)data[i] * (i + 1);
  }
  int fds[2];
  CHECK_EQ_INT(pipe(fds), 0);
  struct reader r = {.fd = fds[0]};
  pthread_t t;
  pthread_create(&t, NULL, read_all, &r);
  CHECK_EQ_INT(sl__write_all(fds[1], data, BIG), 0);
  CHECK_EQ_INT(sl__write_all(fds[1], data, 0), 0); /* nothing to write */
  close(fds[1]);
  pthread_join(t, NULL);
  close(fds[0]);
  CHECK_EQ_INT(r.got, BIG);
  CHECK(r.sum == want);
  sl__free(data);
  /* a closed descriptor: the errno, negated */
  CHECK_EQ_INT(sl__write_all(fds[1], "x", 1), -EBADF);
}

static int64_t g_fake = 42;
static int64_t fake_clock(void *ud) { return *(int64_t *)ud; }

static void test_clock(void) {
  sl__clock_set(fake_clock, &g_fake);
  CHECK_EQ_INT(sl__clock_ms(), 42);
  g_fake = INT64_C(1700000000000);
  CHECK_EQ_INT(sl__clock_ms(), INT64_C(1700000000000));
  sl__clock_set(NULL, NULL);
  /* the real clock again: within a second of time(NULL) */
  int64_t real = sl__clock_ms();
  int64_t sec = (int64_t)time(NULL);
  CHECK(real / 1000 >= sec - 1 && real / 1000 <= sec + 1);
}

int main(void) {
  RUN(test_write_all);
  RUN(test_clock);
  TEST_MAIN_END();
}

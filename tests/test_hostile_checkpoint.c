/*
 * test_hostile_checkpoint.c -- checkpoint files whose counts and lengths
 * lie: tiny crafted files that claim billions of states, entries of 1 GiB,
 * a _metadata table for 100000 operators x 4096 subtasks, or a frame the
 * size of a disk.  Each must fail cleanly with an error that names the file,
 * and must never ask the allocator for more than the file could justify: an
 * allocator hook refuses (and records) any request above 64 MiB.
 */
#include <fcntl.h>
#include <unistd.h>

#include "checkpoint/storage.h"
#include "state/state.h"
#include "test.h"
#include "test_util.h"

#define MAXP 128
#define BIG (64u << 20)

static size_t g_refused; /* the largest request the hook refused, 0 if none */

static void *h_malloc(size_t n) {
  if (n > BIG) {
    if (n > g_refused) g_refused = n;
    return NULL;
  }
  return malloc(n);
}
static void *h_realloc(void *p, size_t n) {
  if (n > BIG) {
    if (n > g_refused) g_refused = n;
    return NULL;
  }
  return realloc(p, n);
}
static const sl_allocator HOOK = {h_malloc, h_realloc, free};

static void put_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  CHECK_EQ_INT(fwrite(p, 1, n, f), n);
  fclose(f);
}

/* An image header: magic, version 1, max parallelism, kg 0..MAXP-1, n_states. */
static size_t image_header(uint8_t *b, uint32_t n_states) {
  uint32_t h[5] = {1, MAXP, 0, MAXP - 1, n_states};
  memcpy(b, "SLSTATE1", 8);
  memcpy(b + 8, h, sizeof h);
  return 28;
}

static sl__backend *heap(void) {
  sl__backend *be = NULL;
  char err[256];
  CHECK_EQ_INT(sl__heap_backend_open(NULL, 0, MAXP - 1, MAXP, &be, err, sizeof err), 0);
  return be;
}

/* 28 bytes that claim 4294967295 states (16 GiB of state ids) */
static void test_image_huge_state_count(void) {
  char path[1024];
  tpath(path, sizeof path, "states.keyed");
  uint8_t b[64];
  put_file(path, b, image_header(b, 0xFFFFFFFEu));
  sl__backend *be = heap();
  g_refused = 0;
  int rc = sl__image_read_file(be, path);
  CHECK_EQ_INT(rc, -SL_EIO);
  CHECK_EQ_INT(g_refused, 0);
  CHECK_CONTAINS(be->err, path);
  CHECK_CONTAINS(be->err, "4294967294 states");
  sl__backend_free(be);
}

/* one state, one block, an entry with a 1 GiB key and a 1 GiB value */
static void test_image_huge_entry(void) {
  char path[1024];
  tpath(path, sizeof path, "entry.keyed");
  uint8_t b[128];
  size_t n = image_header(b, 1);
  b[n++] = SL__STATE_VALUE;
  uint16_t nl = 1;
  memcpy(b + n, &nl, 2);
  n += 2;
  b[n++] = 's';
  uint32_t blk[3] = {0, 0, 1u << 30}; /* kg 0, sid 0, cklen */
  memcpy(b + n, blk, sizeof blk);
  n += sizeof blk;
  memset(b + n, 'k', 8);
  n += 8;
  put_file(path, b, n);
  sl__backend *be = heap();
  g_refused = 0;
  CHECK_EQ_INT(sl__image_read_file(be, path), -SL_EIO);
  CHECK_EQ_INT(g_refused, 0);
  CHECK_CONTAINS(be->err, path);
  CHECK_CONTAINS(be->err, "1073741824 bytes");
  sl__backend_free(be);
  /* a one-byte key, then a value of 1 GiB - 1 (the old limit let key +
   * value ask for 2 GiB together) */
  uint32_t kv[3] = {0, 0, 1};
  n -= sizeof blk + 8;
  memcpy(b + n, kv, sizeof kv);
  n += sizeof kv;
  b[n++] = 'k';
  uint32_t vlen = (1u << 30) - 1;
  memcpy(b + n, &vlen, 4);
  n += 4;
  memset(b + n, 'v', 8);
  n += 8;
  put_file(path, b, n);
  be = heap();
  g_refused = 0;
  CHECK_EQ_INT(sl__image_read_file(be, path), -SL_EIO);
  CHECK_EQ_INT(g_refused, 0);
  CHECK_CONTAINS(be->err, path);
  CHECK_CONTAINS(be->err, "a value of 1073741823 bytes");
  sl__backend_free(be);
}

/* an operator-state image with the same lie fails the restore naming it */
static void test_opstate_huge_state_count(void) {
  char path[1024], err[1024] = "";
  tpath(path, sizeof path, "op-1-0.opstate");
  uint8_t b[64];
  put_file(path, b, image_header(b, 0x40000000u));
  sl__backend *be = heap();
  const char *paths[1] = {path};
  g_refused = 0;
  CHECK_EQ_INT(sl__opstate_restore(be, paths, 1, 1, 0, err, sizeof err), -SL_EIO);
  CHECK_EQ_INT(g_refused, 0);
  CHECK_CONTAINS(err, path);
  sl__backend_free(be);
}

/* a frame file larger than any frame sluice writes (a sparse 100 MiB file) */
static void test_frame_too_large(void) {
  char dir[1024], path[1200], err[1024] = "";
  tpath(dir, sizeof dir, "chk-1");
  mkdir_p(dir);
  snprintf(path, sizeof path, "%s/_metadata", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  CHECK_EQ_INT(write(fd, "SLCKPT01", 8), 8);
  CHECK_EQ_INT(ftruncate(fd, 100 << 20), 0);
  close(fd);
  sl__ckpt_meta m;
  g_refused = 0;
  CHECK_EQ_INT(sl__ckpt_meta_read(dir, &m, err, sizeof err), -SL_EIO);
  CHECK_EQ_INT(g_refused, 0);
  CHECK_CONTAINS(err, path);
  CHECK_CONTAINS(err, "too large");
  /* verifying a large image streams it: no buffer of its size */
  char img[1200];
  snprintf(img, sizeof img, "%s/op-0-0.keyed", dir);
  fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK_EQ_INT(ftruncate(fd, 100 << 20), 0);
  close(fd);
  uint64_t size = 0;
  g_refused = 0;
  CHECK_EQ_INT(sl__file_verify(img, &size, err, sizeof err), -SL_EIO);
  CHECK_EQ_INT(g_refused, 0);
  CHECK_EQ_INT(size, 100 << 20);
  CHECK_CONTAINS(err, img);
  CHECK_CONTAINS(err, "damaged");
}

/* a correctly framed _metadata (checksum fine) whose counts lie */
static void meta_with(const char *name, int32_t P, int32_t n_ops, const char *want) {
  char dir[1024], path[1200], err[1024] = "";
  tpath(dir, sizeof dir, name);
  mkdir_p(dir);
  snprintf(path, sizeof path, "%s/_metadata", dir);
  uint8_t p[64] = {0};
  int64_t id = 7, taken = 0;
  int32_t hdr[3] = {P, MAXP, n_ops};
  memcpy(p, &id, 8);
  memcpy(p + 8, &taken, 8);
  memcpy(p + 16, hdr, 12);
  CHECK_EQ_INT(sl__frame_write(path, "SLCKPT01", p, 40, err, sizeof err), 0);
  sl__ckpt_meta m;
  g_refused = 0;
  CHECK_EQ_INT(sl__ckpt_meta_read(dir, &m, err, sizeof err), -SL_EIO);
  CHECK_EQ_INT(g_refused, 0);
  CHECK_CONTAINS(err, path);
  CHECK_CONTAINS(err, want);
}

static void test_meta_huge_counts(void) {
  meta_with("chk-2", 4096, 100000, "100000 operators x 4096 subtasks");
  meta_with("chk-3", 1, 99999, "99999 operators x 1 subtasks");
  meta_with("chk-4", -1, 1, "parallelism -1");
}

int main(void) {
  scratch_init("/tmp/sl_test_hostile_checkpoint", 1);
  sl_set_allocator(&HOOK);
  RUN(test_image_huge_state_count);
  RUN(test_image_huge_entry);
  RUN(test_opstate_huge_state_count);
  RUN(test_frame_too_large);
  RUN(test_meta_huge_counts);
  sl_set_allocator(NULL);
  TEST_MAIN_END();
}

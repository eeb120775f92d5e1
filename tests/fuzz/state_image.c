/*
 * state_image.c -- fuzzes the keyed state image reader (src/state/image.c)
 * into a heap backend.  Byte 0 chooses: bit 0, the stream's size is
 * unknown (as for a pipe: lengths cannot be checked against what remains,
 * the buffer must grow only with what arrives); bit 1, the rest gets a
 * correct trailing XXH64 appended so whole images are accepted.  The
 * rest is the image.  Property: an image the reader accepted is written
 * back from a snapshot and that image reads back too.
 */
#include <xxhash.h>

#include "fuzz_util.h"
#include "state/state.h"

#define MAXP 128

typedef struct mem {
  const uint8_t *p;
  size_t n, o;
} mem;

static int mem_read(void *arg, void *buf, size_t len) {
  mem *m = arg;
  if (len > m->n - m->o) return -SL_EIO;
  memcpy(buf, m->p + m->o, len);
  m->o += len;
  return 0;
}

typedef struct out {
  uint8_t *p;
  size_t n, cap;
} out;

static int out_write(void *arg, const void *buf, size_t len) {
  out *o = arg;
  if (o->n + len > o->cap) {
    o->cap = (o->n + len) * 2;
    o->p = realloc(o->p, o->cap);
  }
  memcpy(o->p + o->n, buf, len);
  o->n += len;
  return 0;
}

static sl__backend *heap(int lo, int hi) {
  sl__backend *be = NULL;
  char err[256];
  FZ_CHECK(sl__heap_backend_open(NULL, lo, hi, MAXP, &be, err, sizeof err) == 0);
  return be;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!size) return 0;
  int unknown = data[0] & 1, fix = data[0] & 2;
  /* bits 2..7 choose the key groups the backend keeps */
  int lo = (data[0] >> 2) % MAXP, hi = MAXP - 1;
  data++, size--;
  uint8_t *img = malloc(size + 8);
  if (size) memcpy(img, data, size);
  size_t n = size;
  if (fix) {
    uint64_t sum = XXH64(img, n, 0);
    memcpy(img + n, &sum, 8);
    n += 8;
  }
  mem m = {img, n, 0};
  sl__rstream rs = {mem_read, &m, unknown ? UINT64_MAX : n};
  sl__backend *be = heap(lo, hi);
  int rc = sl__image_read(be, &rs, "fuzz/op-1-0.keyed");
  if (rc) {
    FZ_CHECK(rc == -SL_EIO || rc == -SL_ESTATE || rc == -SL_ENOMEM || rc == -SL_ENOENT);
    FZ_CHECK(strstr(be->err, "fuzz/op-1-0.keyed") != NULL || rc == -SL_ESTATE);
  } else {
    sl__snapshot *snap;
    FZ_CHECK(be->vt->snapshot(be, &snap) == 0);
    out o = {NULL, 0, 0};
    sl__wstream ws = {out_write, &o};
    FZ_CHECK(sl__image_write(be, snap, &ws) == 0);
    be->vt->snap_release(snap);
    mem m2 = {o.p, o.n, 0};
    sl__rstream rs2 = {mem_read, &m2, o.n};
    sl__backend *be2 = heap(0, MAXP - 1);
    rc = sl__image_read(be2, &rs2, "fuzz/rewritten");
    if (rc) fprintf(stderr, "rewritten image: %s\n", be2->err);
    FZ_CHECK(rc == 0);
    FZ_CHECK(m2.o == o.n);
    sl__backend_free(be2);
    free(o.p);
  }
  sl__backend_free(be);
  free(img);
  return 0;
}

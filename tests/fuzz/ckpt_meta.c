/*
 * ckpt_meta.c -- fuzzes the checkpoint frame reader and the _metadata
 * decoder (src/checkpoint/storage.c).  The input is tried as a whole framed
 * file (magic, version, payload, XXH64) for each magic sluice writes, and
 * as a _metadata payload wrapped in a frame with a correct checksum, so
 * the decoder behind the checksum is reached.  Properties: a decoded frame's
 * payload lies inside the input; a decoded table has counts in range and
 * as many names and instances as it claims.
 */
#include <xxhash.h>

#include "checkpoint/storage.h"
#include "core/core.h"
#include "fuzz_util.h"

static void check_meta(const uint8_t *p, size_t n) {
  sl__ckpt_meta m;
  char err[1024];
  int rc = sl__ckpt_meta_decode("fuzz/_metadata", p, n, &m, err, sizeof err);
  if (rc) {
    FZ_CHECK(rc == -SL_EIO || rc == -SL_ENOMEM);
    FZ_CHECK(strstr(err, "fuzz/_metadata") != NULL);
    return;
  }
  FZ_CHECK(m.P > 0 && m.P <= SL__CKPT_MAX_P && m.n_ops > 0 && m.n_ops <= SL__CKPT_MAX_OPS);
  /* every instance takes 9 bytes of the payload, every operator 3 */
  FZ_CHECK((size_t)m.n_ops * (3 + 9 * (size_t)m.P) <= n);
  size_t names = 0;
  for (int i = 0; i < m.n_ops; i++) names += strlen(m.op_name[i]);
  uint8_t flags = 0;
  for (int i = 0; i < m.n_ops * m.P; i++) flags |= m.inst[i].flags;
  (void)names;
  (void)flags;
  sl__ckpt_meta_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *magics[3] = {"SLCKPT01", "SLOPMETA", "SLSVPREP"};
  char err[1024];
  for (int i = 0; i < 3; i++) {
    size_t off = 0, len = 0;
    if (sl__frame_decode("fuzz/frame", magics[i], data, size, &off, &len, err, sizeof err)) {
      FZ_CHECK(strstr(err, "fuzz/frame") != NULL);
      continue;
    }
    FZ_CHECK(off == 12 && len + 20 == size);
    if (i == 0) check_meta(data + off, len);
  }
  /* the input as a payload, framed with a correct checksum */
  uint8_t *f = malloc(size + 20);
  uint32_t version = 1;
  memcpy(f, magics[0], 8);
  memcpy(f + 8, &version, 4);
  if (size) memcpy(f + 12, data, size);
  uint64_t sum = XXH64(f, size + 12, 0);
  memcpy(f + 12 + size, &sum, 8);
  size_t off = 0, len = 0;
  FZ_CHECK(sl__frame_decode("fuzz/frame", magics[0], f, size + 20, &off, &len, err,
                            sizeof err) == 0);
  FZ_CHECK(off == 12 && len == size);
  check_meta(f + off, len);
  free(f);
  return 0;
}

/*
 * opstate_image.c -- fuzzes restoring operator state (src/state/opstate.c):
 * up to three old subtasks' images, redistributed to subtask s of P.
 * Byte 0: bit 7, each image gets a correct trailing XXH64 (so the list
 * decoding behind the checksum is reached); byte 1: P = 1 + b % 4 and
 * s = (b / 4) % P; the rest is cut into the images (fz_blobs).  The
 * images are files, as the restore reads them.  Property: a failed
 * restore names an image.
 */
#include <xxhash.h>

#include "fuzz_util.h"
#include "state/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  int fix = data[0] & 0x80, P = 1 + data[1] % 4, s = (data[1] / 4) % P;
  const uint8_t *blobs[3];
  size_t lens[3];
  int n = fz_blobs(data + 2, size - 2, 3, blobs, lens);
  char paths[3][600];
  const char *pp[3];
  for (int i = 0; i < n; i++) {
    snprintf(paths[i], sizeof paths[i], "%s/op-1-%d.opstate", fz_scratch(), i);
    uint8_t *img = malloc(lens[i] + 8);
    if (lens[i]) memcpy(img, blobs[i], lens[i]);
    size_t len = lens[i];
    if (fix) {
      uint64_t sum = XXH64(img, len, 0);
      memcpy(img + len, &sum, 8);
      len += 8;
    }
    fz_write(paths[i], img, len);
    free(img);
    pp[i] = paths[i];
  }
  sl__backend *be = NULL;
  char err[1024] = "";
  FZ_CHECK(sl__heap_backend_open(NULL, 0, 0, 128, &be, err, sizeof err) == 0);
  int rc = sl__opstate_restore(be, pp, n, P, s, err, sizeof err);
  if (rc && rc != -SL_ENOMEM && rc != -SL_ESTATE) FZ_CHECK(strstr(err, ".opstate") != NULL);
  sl__backend_free(be);
  return 0;
}

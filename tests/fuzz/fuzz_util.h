/*
 * fuzz_util.h -- helpers shared by the libFuzzer harnesses in tests/fuzz/
 * (each harness is one .c file defining LLVMFuzzerTestOneInput; see
 * tests/fuzz/README.md and scripts/fuzz.sh).
 *
 *   - fz_scratch(): a private scratch directory for this process, made once
 *     under $TMPDIR (or /tmp) and removed at exit (sl__rm_rf, core.h);
 *   - fz_write(): a whole file;
 *   - fz_blobs(): cuts an input into 1..max byte strings ("blobs", as a
 *     restore hands one per old subtask to a decoder): byte 0 says how many
 *     (1 + b % max), then each but the last is a little-endian u16 length
 *     followed by its bytes (cut short at the end), the last is the rest;
 *   - FZ_CHECK(): a property the harness asserts; failing it aborts, which
 *     libFuzzer reports as a crash with the input that caused it.
 */
#ifndef SL_FUZZ_UTIL_H
#define SL_FUZZ_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

#define FZ_CHECK(cond)                                                          \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                  \
    }                                                                           \
  } while (0)

static char fz_dir[512];

static void fz_cleanup(void) {
  if (fz_dir[0]) sl__rm_rf(fz_dir);
}

static inline const char *fz_scratch(void) {
  if (!fz_dir[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(fz_dir, sizeof fz_dir, "%s/sluice-fuzz-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(fz_dir)) {
      perror("mkdtemp");
      abort();
    }
    atexit(fz_cleanup);
  }
  return fz_dir;
}

static inline void fz_write(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(p, 1, n, f) != n)) {
    perror(path);
    abort();
  }
  fclose(f);
}

static inline int fz_blobs(const uint8_t *data, size_t size, int max, const uint8_t **blobs,
                           size_t *lens) {
  if (!size) return 0;
  int n = 1 + data[0] % max;
  size_t o = 1;
  for (int i = 0; i < n - 1; i++) {
    size_t len = 0;
    if (size - o >= 2) len = (size_t)data[o] | (size_t)data[o + 1] << 8, o += 2;
    else o = size;
    if (len > size - o) len = size - o;
    blobs[i] = data + o;
    lens[i] = len;
    o += len;
  }
  blobs[n - 1] = data + o;
  lens[n - 1] = size - o;
  return n;
}

#endif

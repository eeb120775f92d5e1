/*
 * gen_seek.c -- fuzzes the generator sources' position decoder
 * (sl__gen_seek in src/connectors/connector.c: sequence, datagen and
 * nexmark resume with it) on up to four old readers' blobs (fz_blobs).
 * Properties: the merged entries have a non-zero step and distinct
 * (first, step); each entry's next is the largest any blob gave for it;
 * the position written from them decodes to the same entries; and
 * sl__gen_skip returns an index no entry covers (checked over a bounded
 * range so a hostile position cannot make the harness itself slow).
 */
#include "connectors/connector.h"
#include "core/core.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *blobs[4];
  size_t lens[4];
  int n = fz_blobs(data, size, 4, blobs, lens);
  sl__gen_done done = {NULL, 0};
  if (sl__gen_seek(&done, blobs, lens, n)) return 0;
  for (int i = 0; i < done.n; i++) {
    FZ_CHECK(done.e[i].step != 0);
    for (int j = 0; j < i; j++)
      FZ_CHECK(done.e[i].first != done.e[j].first || done.e[i].step != done.e[j].step);
  }
  /* own position + done, written and read back: the same entries */
  sl__gen_pos own = {0, 0, 0}; /* step 0: not an entry */
  size_t cap = (size_t)(done.n + 1) * sizeof own, len = 0;
  uint8_t *buf = malloc(cap);
  FZ_CHECK(sl__gen_position(&own, &done, buf, cap, &len) == 0 && len == cap);
  const uint8_t *b[1] = {buf};
  sl__gen_done again = {NULL, 0};
  FZ_CHECK(sl__gen_seek(&again, b, &len, 1) == 0);
  FZ_CHECK(again.n == done.n);
  FZ_CHECK(!done.n || !memcmp(again.e, done.e, (size_t)done.n * sizeof *done.e));
  /* skipping from a few starting points, steps 1..3, within 4096 indexes */
  for (uint64_t step = 1; step <= 3; step++)
    for (int i = 0; i < done.n && i < 4; i++) {
      uint64_t from = done.e[i].first, end = from + 4096 < from ? UINT64_MAX : from + 4096;
      uint64_t next = sl__gen_skip(&done, from, step, end);
      FZ_CHECK(next >= from && next <= end);
      for (int k = 0; next < end && k < done.n; k++) {
        const sl__gen_pos *e = &done.e[k];
        FZ_CHECK(!(next >= e->first && next < e->next && (next - e->first) % e->step == 0));
      }
    }
  free(buf);
  sl__free(again.e);
  sl__free(done.e);
  return 0;
}

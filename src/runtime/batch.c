/* batch.c -- batch allocation and growth (entry access is in batch.h). */
#include "runtime/batch.h"

sl__batch *sl__batch_new(uint32_t cap) {
  sl__batch *b = sl__calloc_private(sizeof *b);
  if (!b) return NULL;
  b->data = sl__malloc(cap);
  if (!b->data) {
    sl__free_private(b);
    return NULL;
  }
  b->cap = cap;
  return b;
}

void sl__batch_free(sl__batch *b) {
  if (!b) return;
  sl__free(b->data);
  sl__free_private(b);
}

int sl__batch_reserve(sl__batch *b, uint32_t need) {
  if (b->used + need <= b->cap) return 0;
  uint64_t want = (uint64_t)b->used + need;
  if (want > UINT32_MAX - 8) return -SL_ENOMEM;
  uint8_t *d = sl__realloc(b->data, (size_t)want);
  if (!d) return -SL_ENOMEM;
  b->data = d;
  b->cap = (uint32_t)want;
  return 0;
}

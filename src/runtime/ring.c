/* ring.c -- allocation of the SPSC ring (the operations are in ring.h). */
#include "runtime/ring.h"

int sl__ring_init(sl__ring *r, uint32_t min_capacity) {
  uint64_t cap = 1;
  while (cap < min_capacity) cap <<= 1;
  atomic_init(&r->head, 0);
  atomic_init(&r->tail, 0);
  r->tail_cache = r->head_cache = 0;
  r->mask = cap - 1;
  r->slots = sl__calloc(cap, sizeof(void *));
  return r->slots ? 0 : -SL_ENOMEM;
}

void sl__ring_destroy(sl__ring *r) {
  sl__free(r->slots);
  r->slots = NULL;
}

/*
 * ring.h -- bounded single-producer/single-consumer ring of pointers.
 *
 * The one queue between threads in sluice.  Capacity is a power of two
 * fixed at creation.  The producer owns `tail`, the consumer owns `head`;
 * each side caches the other's index so the shared cache line is touched
 * only when the cached view says full/empty.  Acquire/release ordering on
 * the indices publishes the slot contents.
 */
#ifndef SL_RING_H
#define SL_RING_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/core.h"

typedef struct sl__ring {
  _Alignas(64) _Atomic uint64_t head; /* next slot to read (consumer) */
  uint64_t tail_cache;                /* consumer's view of tail */
  _Alignas(64) _Atomic uint64_t tail; /* next slot to write (producer) */
  uint64_t head_cache;                /* producer's view of head */
  _Alignas(64) uint64_t mask;
  void **slots;
} sl__ring;

int sl__ring_init(sl__ring *r, uint32_t min_capacity);
void sl__ring_destroy(sl__ring *r);

/* Producer: 0 on success, -1 when full. */
static inline int sl__ring_push(sl__ring *r, void *p) {
  uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
  if (t - r->head_cache > r->mask) {
    r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
    if (t - r->head_cache > r->mask) return -1;
  }
  r->slots[t & r->mask] = p;
  atomic_store_explicit(&r->tail, t + 1, memory_order_release);
  return 0;
}

/* Consumer: the oldest pointer, or NULL when empty. */
static inline void *sl__ring_pop(sl__ring *r) {
  uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
  if (h == r->tail_cache) {
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h == r->tail_cache) return NULL;
  }
  void *p = r->slots[h & r->mask];
  atomic_store_explicit(&r->head, h + 1, memory_order_release);
  return p;
}

/* Consumer: nothing to pop (a fresh look at the producer's tail). */
static inline int sl__ring_empty(sl__ring *r) {
  return atomic_load_explicit(&r->head, memory_order_relaxed) ==
         atomic_load_explicit(&r->tail, memory_order_acquire);
}

#endif

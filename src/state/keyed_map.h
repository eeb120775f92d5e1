/*
 * keyed_map.h -- per-instance hash map from key bytes to value bytes.
 *
 * The storage behind the rolling reduce until the state backends of the
 * keyed-state milestone take over (they will key entries by key group as
 * well).  Open addressing with linear probing, the 64-bit key hash kept in
 * the slot; key and value bytes live in one allocation per key, reused in
 * place when a new value fits: no allocation per update of a fixed-size
 * value.
 */
#ifndef SL_KEYED_MAP_H
#define SL_KEYED_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl__kmap_slot {
  uint64_t hash;
  uint8_t *kv; /* key bytes, then value bytes; NULL = empty slot */
  uint32_t klen, vlen, vcap;
} sl__kmap_slot;

typedef struct sl__kmap {
  sl__kmap_slot *slots;
  size_t cap; /* power of two */
  size_t count;
} sl__kmap;

int sl__kmap_init(sl__kmap *m);
void sl__kmap_destroy(sl__kmap *m);
/* The slot of key, or NULL. */
sl__kmap_slot *sl__kmap_get(sl__kmap *m, uint64_t hash, const void *key,
                            uint32_t klen);
/* Insert or overwrite; 0 or -SL_ENOMEM. */
int sl__kmap_put(sl__kmap *m, uint64_t hash, const void *key, uint32_t klen,
                 const void *val, uint32_t vlen);
/* Overwrite the value of an existing slot. */
int sl__kmap_set(sl__kmap_slot *s, const void *val, uint32_t vlen);

static inline const void *sl__kmap_value(const sl__kmap_slot *s) {
  return s->kv + s->klen;
}

#endif

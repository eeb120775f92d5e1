/* keyed_map.c -- open-addressing hash map of byte keys (see keyed_map.h). */
#include "state/keyed_map.h"

#include "core/core.h"

static inline int sl__bytes_eq(const void *a, const void *b, uint32_t n) {
  if (n == 8) { /* the common fixed-size key: one load each */
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return x == y;
  }
  return !memcmp(a, b, n);
}

int sl__kmap_init(sl__kmap *m) {
  m->cap = 1024;
  m->count = 0;
  m->slots = sl__calloc(m->cap, sizeof *m->slots);
  return m->slots ? 0 : -SL_ENOMEM;
}

void sl__kmap_destroy(sl__kmap *m) {
  if (m->slots)
    for (size_t i = 0; i < m->cap; i++) sl__free(m->slots[i].kv);
  sl__free(m->slots);
  m->slots = NULL;
}

sl__kmap_slot *sl__kmap_get(sl__kmap *m, uint64_t hash, const void *key,
                            uint32_t klen) {
  size_t mask = m->cap - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    sl__kmap_slot *s = &m->slots[i];
    if (!s->kv) return NULL;
    if (s->hash == hash && s->klen == klen && sl__bytes_eq(s->kv, key, klen))
      return s;
  }
}

static int grow(sl__kmap *m) {
  size_t ncap = m->cap * 2;
  sl__kmap_slot *ns = sl__calloc(ncap, sizeof *ns);
  if (!ns) return -SL_ENOMEM;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->slots[i].kv) continue;
    size_t j = m->slots[i].hash & (ncap - 1);
    while (ns[j].kv) j = (j + 1) & (ncap - 1);
    ns[j] = m->slots[i];
  }
  sl__free(m->slots);
  m->slots = ns;
  m->cap = ncap;
  return 0;
}

int sl__kmap_set(sl__kmap_slot *s, const void *val, uint32_t vlen) {
  if (vlen > s->vcap) { /* fresh buffer: val may point into the old one */
    uint8_t *kv = sl__malloc((size_t)s->klen + vlen);
    if (!kv) return -SL_ENOMEM;
    memcpy(kv, s->kv, s->klen);
    memcpy(kv + s->klen, val, vlen);
    sl__free(s->kv);
    s->kv = kv;
    s->vcap = vlen;
    s->vlen = vlen;
    return 0;
  }
  if (vlen == 8) { /* fixed-size value: one load, one store */
    uint64_t v;
    memcpy(&v, val, 8);
    memcpy(s->kv + s->klen, &v, 8);
  } else if (vlen) {
    memmove(s->kv + s->klen, val, vlen);
  }
  s->vlen = vlen;
  return 0;
}

int sl__kmap_put(sl__kmap *m, uint64_t hash, const void *key, uint32_t klen,
                 const void *val, uint32_t vlen) {
  sl__kmap_slot *s = sl__kmap_get(m, hash, key, klen);
  if (s) return sl__kmap_set(s, val, vlen);
  if ((m->count + 1) * 2 > m->cap && grow(m)) return -SL_ENOMEM;
  size_t mask = m->cap - 1, i = hash & mask;
  while (m->slots[i].kv) i = (i + 1) & mask;
  uint8_t *kv = sl__malloc((size_t)klen + vlen);
  if (!kv) return -SL_ENOMEM;
  if (klen) memcpy(kv, key, klen);
  if (vlen) memcpy(kv + klen, val, vlen);
  m->slots[i] = (sl__kmap_slot){hash, kv, klen, vlen, vlen};
  m->count++;
  return 0;
}

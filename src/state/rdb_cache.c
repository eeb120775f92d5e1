/*
 * rdb_cache.c -- the RocksDB backend's write-back cache (rdb_cache.h):
 * an open-addressing table (linear probing, no deletion until clear) over
 * entries bump-allocated in fixed-size chunks, and a list of dirty entries
 * that flush() sorts by (state, key) and hands to the backend.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "state/rdb_cache.h"

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)
#define MIN_VCAP 16

int sl__rc_init(sl__rc *c, size_t limit) {
  memset(c, 0, sizeof *c);
  if (limit < (1u << 20)) limit = 1u << 20;
  /* a quarter of the budget for the table (16-byte slots, filled to 3/4),
   * room for the dirty list (a pointer per entry, growing in doublings),
   * the rest for chunks of limit/16 (64 KB .. 8 MB) */
  size_t nslots = 1;
  while (nslots * 2 * sizeof(sl__rc_slot) <= limit / 4) nslots *= 2;
  c->chunk_size = limit / 16;
  if (c->chunk_size < (64u << 10)) c->chunk_size = 64u << 10;
  if (c->chunk_size > (8u << 20)) c->chunk_size = 8u << 20;
  size_t rest = limit - nslots * sizeof(sl__rc_slot) - nslots * sizeof(sl__rc_ent *);
  c->max_chunks = (uint32_t)(rest / c->chunk_size);
  if (c->max_chunks < 2) c->max_chunks = 2;
  c->slots = sl__calloc(nslots, sizeof *c->slots);
  c->chunks = sl__calloc(c->max_chunks, sizeof *c->chunks);
  if (!c->slots || !c->chunks) {
    sl__rc_free(c);
    return -SL_ENOMEM;
  }
  c->mask = (uint32_t)(nslots - 1);
  c->max_n = (uint32_t)(nslots / 4 * 3);
  c->cur = UINT32_MAX; /* no chunk in use yet */
  return 0;
}

void sl__rc_free(sl__rc *c) {
  for (uint32_t i = 0; i < c->n_chunks; i++) sl__free(c->chunks[i]);
  sl__free(c->chunks);
  sl__free(c->slots);
  sl__free(c->dirty);
  sl__free(c->pend);
  memset(c, 0, sizeof *c);
}

uint32_t sl__rc_hash(uint32_t sid, const void *key, uint32_t klen) {
  uint64_t h = sl__key_hash(key, klen) ^ ((uint64_t)sid * 0x9E3779B97F4A7C15ull);
  uint32_t r = (uint32_t)(h ^ (h >> 32));
  return r ? r : 1;
}

sl__rc_ent *sl__rc_find(sl__rc *c, uint32_t hash, uint32_t sid, const void *key,
                        uint32_t klen) {
  for (uint32_t i = hash & c->mask;; i = (i + 1) & c->mask) {
    sl__rc_slot *s = &c->slots[i];
    if (!s->hash) return NULL;
    if (s->hash == hash && s->e->sid == sid && s->e->klen == klen &&
        !memcmp(s->e->data, key, klen))
      return s->e;
  }
}

static size_t ent_size(uint32_t klen, uint32_t vcap) {
  return ALIGN8(sizeof(sl__rc_ent) + klen + vcap);
}

/* Room for `size` bytes in chunks, or NULL (the budget is spent). */
static void *chunk_alloc(sl__rc *c, size_t size) {
  if (size > c->chunk_size) return NULL;
  if (c->cur != UINT32_MAX && c->used + size <= c->chunk_size) {
    void *p = c->chunks[c->cur] + c->used;
    c->used += size;
    return p;
  }
  uint32_t next = c->cur == UINT32_MAX ? 0 : c->cur + 1;
  if (next >= c->max_chunks) return NULL;
  if (next >= c->n_chunks) {
    uint8_t *ch = sl__malloc(c->chunk_size);
    if (!ch) return NULL;
    c->chunks[c->n_chunks++] = ch;
  }
  c->cur = next;
  c->used = size;
  return c->chunks[next];
}

int sl__rc_full(const sl__rc *c, uint32_t klen, uint32_t vlen) {
  if (c->n >= c->max_n || c->n_dirty >= c->mask) return 1; /* (moves add to the list) */
  size_t size = ent_size(klen, vlen);
  if (c->cur != UINT32_MAX && c->used + size <= c->chunk_size) return 0;
  return (c->cur == UINT32_MAX ? 0 : c->cur + 1) >= c->max_chunks;
}

static int mark_dirty(sl__rc *c, sl__rc_ent *e) {
  if (e->dirty) return 0;
  if (c->n_dirty == c->dirty_cap) {
    uint32_t cap = c->dirty_cap ? c->dirty_cap * 2 : 1024;
    sl__rc_ent **d = sl__realloc(c->dirty, cap * sizeof *d);
    if (!d) return -SL_ENOMEM;
    c->dirty = d;
    c->dirty_cap = cap;
  }
  c->dirty[c->n_dirty++] = e;
  c->dirty_bytes += e->klen + e->vlen;
  e->dirty = 1;
  return 0;
}

/* Points the table slot of old (same hash, sid, key) at e. */
static void repoint(sl__rc *c, sl__rc_ent *old, sl__rc_ent *e) {
  for (uint32_t i = old->hash & c->mask;; i = (i + 1) & c->mask)
    if (c->slots[i].e == old) {
      c->slots[i].e = e;
      return;
    }
}

/* A new entry with room for vcap value bytes; the key copied. */
static sl__rc_ent *new_ent(sl__rc *c, uint32_t hash, uint32_t sid, const void *key,
                           uint32_t klen, uint32_t vcap) {
  /* room for a small value, so that the put after a get that found
   * nothing (read-modify-write) does not move the entry */
  size_t size = ent_size(klen, vcap < MIN_VCAP ? MIN_VCAP : vcap);
  sl__rc_ent *e = chunk_alloc(c, size);
  if (!e) return NULL;
  e->hash = hash;
  e->sid = sid;
  e->klen = klen;
  e->vlen = 0;
  e->vcap = (uint32_t)(size - sizeof(sl__rc_ent) - klen);
  e->st = SL__RC_NONE;
  e->dirty = e->dead = 0;
  memcpy(e->data, key, klen);
  return e;
}

/* e moved to a new place with room for vcap: its key and first keep value
 * bytes copied, the old one marked dead.  NULL without room. */
static sl__rc_ent *move_ent(sl__rc *c, sl__rc_ent *e, uint32_t vcap, uint32_t keep) {
  if (vcap < 2 * e->vcap && vcap < sl__rc_max_value(c)) /* amortise appends */
    vcap = SL__MIN(2 * e->vcap, sl__rc_max_value(c));
  sl__rc_ent *n = new_ent(c, e->hash, e->sid, e->data, e->klen, vcap);
  if (!n) return NULL;
  memcpy(sl__rc_val(n), sl__rc_val(e), keep);
  n->vlen = keep;
  n->st = e->st;
  repoint(c, e, n);
  if (e->dirty) { /* the dirty list keeps the old pointer: add the new one */
    if (mark_dirty(c, n)) {
      repoint(c, n, e);
      return NULL;
    }
    e->dirty = 0;
  }
  e->dead = 1;
  return n;
}

int sl__rc_mark_dirty(sl__rc *c, sl__rc_ent *e) {
  sl__rc_count(c, e, -1);
  int rc = mark_dirty(c, e);
  sl__rc_count(c, e, 1);
  return rc;
}

/* Room in pend for state sid.  0 or -SL_ENOMEM. */
static int pend_room(sl__rc *c, uint32_t sid) {
  if (sid < c->n_pend) return 0;
  uint32_t n = sid + 8;
  sl__rc_pend *p = sl__realloc(c->pend, (size_t)n * sizeof *p);
  if (!p) return -SL_ENOMEM;
  memset(p + c->n_pend, 0, (size_t)(n - c->n_pend) * sizeof *p);
  c->pend = p;
  c->n_pend = n;
  return 0;
}

/* What an entry adds to its state's pend (rdb_cache.h), without branches:
 * a dirty one counts an entry when it holds a value or appends (VAL 1 and
 * MERGE 3: the odd states), and its key + value bytes. */
_Static_assert(SL__RC_VAL == 1 && SL__RC_MERGE == 3 && SL__RC_ABSENT == 2 && SL__RC_NONE == 0,
               "pend_n: the odd states count");
static inline int64_t pend_n(const sl__rc_ent *e) { return (int64_t)(e->dirty & e->st & 1); }
static inline int64_t pend_b(const sl__rc_ent *e) {
  return -(int64_t)e->dirty & ((int64_t)e->klen + e->vlen);
}

sl__rc_ent *sl__rc_set(sl__rc *c, sl__rc_ent *e, uint32_t hash, uint32_t sid,
                       const void *key, uint32_t klen, int st, const void *v,
                       uint32_t vlen, int dirty) {
  if (e && e->dirty && e->st == st && e->vlen == vlen) {
    /* a pending value rewritten (the common case): in place, still dirty,
     * its figures unchanged */
    if (vlen) memmove(sl__rc_val(e), v, vlen);
    return e;
  }
  /* pend changes by e's figures after less before (on success: a failure
   * leaves e as it was, or clean) */
  int64_t was_n = 0, was_b = 0;
  if (!e) {
    if (c->n >= c->max_n || (sid >= c->n_pend && pend_room(c, sid))) return NULL;
    e = new_ent(c, hash, sid, key, klen, vlen);
    if (!e) return NULL;
    uint32_t i = hash & c->mask;
    while (c->slots[i].hash) i = (i + 1) & c->mask;
    c->slots[i].hash = hash;
    c->slots[i].e = e;
    c->n++;
  } else {
    was_n = pend_n(e);
    was_b = pend_b(e);
    if (vlen > e->vcap) {
      /* v may lie in e's old value: the old place stays intact (a hole) */
      sl__rc_ent *n = move_ent(c, e, vlen, 0);
      if (!n) return NULL;
      e = n;
    }
  }
  if (vlen) memmove(sl__rc_val(e), v, vlen);
  e->vlen = vlen;
  e->st = (uint8_t)st;
  if (dirty && mark_dirty(c, e)) {
    e->st = SL__RC_NONE; /* the write is lost to the cache: caller goes to the DB */
    return NULL;
  }
  c->pend[sid].entries += pend_n(e) - was_n;
  c->pend[sid].bytes += pend_b(e) - was_b;
  return e;
}

sl__rc_ent *sl__rc_append(sl__rc *c, sl__rc_ent *e, const void *v, uint32_t vlen) {
  uint64_t need = (uint64_t)e->vlen + vlen;
  if (need > sl__rc_max_value(c)) return NULL;
  int64_t was_n = pend_n(e), was_b = pend_b(e);
  if (need > e->vcap) {
    /* v may point into e's value: it stays readable in the old place */
    sl__rc_ent *n = move_ent(c, e, (uint32_t)need, e->vlen);
    if (!n) return NULL;
    e = n;
  }
  if (mark_dirty(c, e)) return NULL;
  if (vlen) memmove(sl__rc_val(e) + e->vlen, v, vlen);
  e->vlen = (uint32_t)need;
  c->dirty_bytes += vlen;
  c->pend[e->sid].entries += pend_n(e) - was_n;
  c->pend[e->sid].bytes += pend_b(e) - was_b;
  return e;
}

static int cmp_ent(const void *a, const void *b) {
  const sl__rc_ent *x = *(sl__rc_ent *const *)a, *y = *(sl__rc_ent *const *)b;
  if (x->sid != y->sid) return x->sid < y->sid ? -1 : 1;
  uint32_t n = SL__MIN(x->klen, y->klen);
  int r = memcmp(x->data, y->data, n);
  if (r) return r;
  return x->klen < y->klen ? -1 : x->klen > y->klen;
}

int sl__rc_flush(sl__rc *c, sl__rc_write_fn fn, void *arg) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < c->n_dirty; i++) /* drop moved and clean ones */
    if (c->dirty[i]->dirty && !c->dirty[i]->dead) c->dirty[n++] = c->dirty[i];
  c->n_dirty = n;
  if (n > 1) qsort(c->dirty, n, sizeof *c->dirty, cmp_ent);
  for (uint32_t i = 0; i < n; i++) {
    sl__rc_ent *e = c->dirty[i];
    /* an entry can be listed twice (written out by uncache, then dirty
     * again): the first write makes it clean, and a second one would
     * write what it holds now -- after a MERGE, nothing: a delete */
    if (!e->dirty) continue;
    int rc = fn(arg, e);
    if (rc) return rc; /* written ones are clean: skipped next time */
    sl__rc_count(c, e, -1);
    e->dirty = 0;
    if (e->st == SL__RC_MERGE) { /* the DB has the operands now */
      e->st = SL__RC_NONE;
      e->vlen = 0;
    }
  }
  c->n_dirty = 0;
  c->dirty_bytes = 0;
  for (uint32_t i = 0; i < c->n_pend; i++) /* nothing pending any more */
    SL_ASSERT(c->pend[i].entries == 0 && c->pend[i].bytes == 0);
  return 0;
}

void sl__rc_clear(sl__rc *c) {
  if (c->n) memset(c->slots, 0, ((size_t)c->mask + 1) * sizeof *c->slots);
  c->n = 0;
  c->cur = UINT32_MAX;
  c->used = 0;
  c->n_dirty = 0;
  c->dirty_bytes = 0;
  if (c->n_pend) memset(c->pend, 0, (size_t)c->n_pend * sizeof *c->pend);
}

/*
 * rdb_cache.h -- the write-back cache of the RocksDB backend: recent keys
 * and their values on the heap, in front of the DB (internal).
 *
 * An entry is addressed by (state id, key bytes) -- the RocksDB key
 * kg||ck -- and says one of
 *
 *     VAL     the key's value is these bytes
 *     ABSENT  the key has no value
 *     MERGE   these bytes are appended (concatenating merge) to whatever
 *             the DB holds for the key
 *     NONE    nothing known: ask the DB (an entry whose pending write was
 *             flushed or handed to the DB directly)
 *
 * and is dirty when the DB does not have it yet.  The backend writes dirty
 * entries to the DB (put / delete / merge) in flush(), sorted by state and
 * key, so RocksDB's memtable inserts run in key order.
 *
 * Memory: entries live in fixed-size chunks (bump allocation, never freed
 * one by one: an entry that outgrows its place moves and leaves a hole),
 * indexed by an open-addressing table with linear probing.  Chunks, table
 * and dirty list together stay within `limit` bytes: when the next entry does not
 * fit, full() says so and the owner flushes and clears the whole cache (an
 * epoch ends; hot keys are read back in on their next access).  No
 * allocation per operation: chunks are allocated as the cache first fills
 * and reused after each clear.  A value larger than max_value() is never
 * cached; the owner hands it to the DB directly.
 *
 * Per state the cache keeps what its dirty entries will add to the DB
 * (pend, for the backend's state_stats): one entry for a value or appends
 * (none for a delete: whether the DB holds the key is not known, and a key
 * put and deleted within the cache never reaches it), and their key +
 * value bytes -- updated by what an entry counted before a change and
 * after it (a pending value rewritten with its length: no change), so a
 * query reads two numbers.
 *
 * Invariants:
 *   1. At most one entry per (sid, key), found through the table.
 *   2. Every dirty entry is on the dirty list (the list may also hold
 *      entries that became clean or moved: flush skips them).
 *   3. Pointers to entries and their bytes stay valid until the next
 *      set/append/clear (a move or a clear invalidates them).
 */
#ifndef SL_STATE_RDB_CACHE_H
#define SL_STATE_RDB_CACHE_H

#include <stddef.h>
#include <stdint.h>

enum { SL__RC_NONE, SL__RC_VAL, SL__RC_ABSENT, SL__RC_MERGE };

typedef struct sl__rc_ent {
  uint32_t hash;
  uint32_t sid;
  uint32_t klen, vlen, vcap;
  uint8_t st;    /* SL__RC_* */
  uint8_t dirty; /* the DB does not have it yet */
  uint8_t dead;  /* moved: no longer in the table */
  uint8_t pad_;
  uint8_t data[]; /* key (klen), then value (vcap bytes of room) */
} sl__rc_ent;

static inline uint8_t *sl__rc_val(sl__rc_ent *e) { return e->data + e->klen; }

typedef struct sl__rc_slot {
  uint32_t hash; /* 0: empty (hashes are never 0) */
  uint32_t pad_;
  sl__rc_ent *e;
} sl__rc_slot;

typedef struct sl__rc_pend {
  int64_t entries, bytes;
} sl__rc_pend;

typedef struct sl__rc {
  sl__rc_slot *slots;
  uint32_t mask;      /* slots - 1 */
  uint32_t n, max_n;  /* entries in the table, most before full */
  uint8_t **chunks;   /* allocated chunks (reused after clear) */
  uint32_t n_chunks, max_chunks, cur; /* cur: chunk being filled */
  size_t chunk_size, used; /* bytes used in chunks[cur] */
  sl__rc_ent **dirty;
  uint32_t n_dirty, dirty_cap;
  size_t dirty_bytes; /* key + value bytes of dirty entries (approx.) */
  sl__rc_pend *pend;  /* [sid]: the dirty entries' figures (above) */
  uint32_t n_pend;    /* states with an array slot (grown as entries of
                       * new states come) */
} sl__rc;

/* e's figures out of (sign -1) or into (+1) its state's pend: a dirty
 * entry counts, a clean one does not.  The owner calls it around every
 * change it makes itself to an entry's dirty flag, state or value length
 * (set, append and flush keep pend themselves). */
static inline void sl__rc_count(sl__rc *c, const sl__rc_ent *e, int sign) {
  if (!e->dirty || e->sid >= c->n_pend) return;
  sl__rc_pend *p = &c->pend[e->sid];
  p->entries += sign * (e->st == SL__RC_VAL || e->st == SL__RC_MERGE);
  p->bytes += sign * ((int64_t)e->klen + e->vlen);
}

/* Sets up a cache of at most `limit` bytes (>= 1 MB).  0 or -SL_ENOMEM. */
int sl__rc_init(sl__rc *c, size_t limit);
void sl__rc_free(sl__rc *c);

static inline uint32_t sl__rc_max_value(const sl__rc *c) {
  return (uint32_t)(c->chunk_size / 4);
}

uint32_t sl__rc_hash(uint32_t sid, const void *key, uint32_t klen);

/* The entry of (sid, key), or NULL. */
sl__rc_ent *sl__rc_find(sl__rc *c, uint32_t hash, uint32_t sid, const void *key,
                        uint32_t klen);

/* Would one more entry of klen + vlen bytes not fit? */
int sl__rc_full(const sl__rc *c, uint32_t klen, uint32_t vlen);

/* Sets the entry of (sid, key) (found before: e, or NULL for a new one) to
 * state st with value v (v may point into the cache), dirty or clean.
 * Returns the entry, which may have moved, or NULL when there is no room:
 * call full() first (a new entry) -- a move of e may still find no room,
 * then NULL and e is unchanged. */
sl__rc_ent *sl__rc_set(sl__rc *c, sl__rc_ent *e, uint32_t hash, uint32_t sid,
                       const void *key, uint32_t klen, int st, const void *v,
                       uint32_t vlen, int dirty);

/* Appends v to e's value (state unchanged), marking it dirty.  The entry
 * (maybe moved), or NULL without room (e unchanged). */
sl__rc_ent *sl__rc_append(sl__rc *c, sl__rc_ent *e, const void *v, uint32_t vlen);

/* Marks e dirty (on the dirty list). 0 or -SL_ENOMEM. */
int sl__rc_mark_dirty(sl__rc *c, sl__rc_ent *e);

/* Calls fn for each dirty entry, sorted by (sid, key); stops at the first
 * non-zero return (returned, the rest stays dirty).  Written entries
 * become clean; flushed MERGE entries become NONE. */
typedef int (*sl__rc_write_fn)(void *arg, sl__rc_ent *e);
int sl__rc_flush(sl__rc *c, sl__rc_write_fn fn, void *arg);

/* Drops every entry (dirty ones too: flush first). */
void sl__rc_clear(sl__rc *c);

#endif

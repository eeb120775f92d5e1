/*
 * fastwin.c -- the window operator's fast path: event-time tumbling and
 * sliced sliding windows with a fixed-size aggregate (sl_window_aggregate
 * with desc->size > 0, no TTL), default trigger, no purge, no allowed
 * lateness, on the heap backend (sl__fastwin_eligible).  Everything else
 * takes the general path in window.c.
 *
 * Time is cut into panes of `slide` ms (tumbling: slide = size), numbered
 * by index: pane i is [base + i*slide, base + (i+1)*slide) with base the
 * window offset mod slide.  A window is n = size/slide consecutive panes,
 * named by the index L of its last pane: it ends at end(L) = base +
 * (L+1)*slide.  Per key, a ring of pane slots addressed by pane index
 * modulo its (power-of-two) capacity holds [i64 pane index][accumulator]
 * (one slot at first, doubled when two live panes collide); a record adds
 * to its pane's accumulator in place.  The pane of the
 * previous record is cached, so a record in the same pane as the one
 * before (the common case) needs no division.
 *
 * Firing: every key waits for one window, reg = the first window not yet
 * fired that holds its oldest live pane; `buckets` hold the keys per
 * window, ascending by L.  When the watermark passes end(L) - 1 the
 * bucket's keys fire in registration order: the window's panes merge into
 * one accumulator (agg_merge; tumbling windows use the pane's own), the
 * result goes out, the window's oldest pane is dropped, and the key waits
 * for the next window that holds one of its live panes -- or, with none
 * left, goes on the idle list and is removed when it still has none after
 * n more windows fired (sweep_idle), so memory follows the live keys while
 * keys that come back every window keep their entry.  This fires exactly
 * the windows the general path fires (every window with contents, once,
 * in order).  Registrations are never taken back: a bucket entry whose key
 * waits for another window by now (or was removed, and its id reused) is
 * skipped (invariant: an entry fires only while keys[id].reg equals the
 * bucket's L).
 *
 * Keys live in an array (stable ids, a free list) found through an
 * open-addressing table of (upper half of the key's 64-bit hash, id)
 * entries (linear probing, backward-shift deletion; a key's home slot from
 * that upper half too, tab_home), so a probe reads a key only when the
 * hash halves match.  The hash is the one the record came with.
 *
 * Figures (sl__fastwin_stats, reported as the contents state's): the live
 * panes -- the entries the general path would hold in that state -- and
 * the bytes of the key array, the table, the free-id list, the rings and
 * the long keys, kept as running counts where they change.
 */
#include "window/win_int.h"

#define FW_NONE INT64_MIN /* an empty pane slot; a key waiting for nothing */

typedef struct fw_key {
  uint64_t hash;
  uint32_t klen; /* key bytes in kbuf up to 16, else in kptr (allocated) */
  int kg;
  int64_t reg;   /* L of the window the key waits for, or FW_NONE */
  uint32_t cap;  /* ring slots, a power of two (0: no ring) */
  uint32_t live; /* live panes */
  uint8_t idle;  /* on f->idle: no live pane since window idle_L fired */
  int64_t idle_L;
  uint8_t *ring; /* cap slots of f->slot bytes */
  union {
    uint8_t kbuf[16];
    uint8_t *kptr;
  } k;
} fw_key;

/* The key's bytes (never a pointer into keys[]: that array moves). */
static inline const uint8_t *kbytes(const fw_key *k) {
  return k->klen <= sizeof k->k.kbuf ? k->k.kbuf : k->k.kptr;
}

typedef struct fw_bucket {
  int64_t L;
  uint32_t *ids;
  uint32_t n, cap;
} fw_bucket;

struct sl__fastwin {
  const win_cfg *c;
  const sl_state_desc *agg;
  int64_t slide, size, n_panes, base;
  uint32_t acc_size, slot; /* accumulator bytes; slot bytes (8 + acc, 8-aligned) */
  fw_key *keys;
  uint32_t n_keys, keys_cap;
  uint32_t *free_ids;
  uint32_t n_free, free_cap;
  uint64_t *tab; /* (hash >> 32) << 32 | (key id + 1); 0 = empty */
  uint32_t tab_mask, tab_used;
  fw_bucket *b; /* pending windows b[head..n), ascending by L */
  uint32_t b_head, b_n, b_cap;
  uint32_t *idle; /* keys without live panes, removed when still so later */
  uint32_t n_idle, idle_cap;
  uint32_t **spare; /* id arrays of fired buckets, for reuse */
  uint32_t *spare_cap;
  uint32_t n_spare, spare_max;
  /* the previous record's pane */
  int64_t cur_start, cur_end, cur_idx, cur_last; /* cur_last: end - 1 of its last window */
  uint8_t *acc; /* merge scratch (acc_size bytes) */
  uint64_t n_live;     /* live panes of all keys */
  uint64_t ring_bytes; /* of the rings and the allocated (long) keys */
};

/* ---- pane arithmetic (int128 where an int64 could overflow) ---------------------------- */

static inline int64_t pane_start(const sl__fastwin *f, int64_t idx) {
  return (int64_t)((__int128)f->base + (__int128)idx * f->slide);
}
/* The end of window L (its last pane's end); representable for every
 * window of a live pane (records whose windows are not were dead letters). */
static inline int64_t win_end(const sl__fastwin *f, int64_t L) {
  return (int64_t)((__int128)f->base + ((__int128)L + 1) * f->slide);
}
static inline sl_window win_of(const sl__fastwin *f, int64_t L) {
  int64_t e = win_end(f, L);
  return (sl_window){e - f->size, e};
}
/* The first window not fired yet (end - 1 > wm) that holds pane idx. */
static int64_t first_unfired(const sl__fastwin *f, int64_t idx, int64_t wm) {
  int64_t L = idx;
  while (win_end(f, L) - 1 <= wm && L < idx + f->n_panes - 1) L++;
  return L;
}

/* The pane of t into the cache; 1 when one of t's windows cannot be
 * represented (as the general path decides: window.c). */
static int locate(sl__fastwin *f, int64_t t) {
  const sl_window_spec *s = &f->c->spec;
  int64_t ps, last_end, first_start, pe;
  if (__builtin_sub_overflow(t, offset_mod(t, s->offset_ms, f->slide), &ps) ||
      __builtin_add_overflow(ps, f->size, &last_end) ||
      __builtin_sub_overflow(ps, f->size - f->slide, &first_start))
    return 1;
  (void)first_start;
  pe = ps + f->slide; /* <= last_end */
  f->cur_start = ps;
  f->cur_end = pe;
  f->cur_idx = (int64_t)(((__int128)ps - f->base) / f->slide);
  f->cur_last = last_end - 1;
  return 0;
}

/* ---- keys ------------------------------------------------------------------------------ */

/* Table entries carry the hash's upper half, so a probe touches a key's
 * entry only when that matches. */
static inline uint64_t tab_entry(uint64_t h, uint32_t id) {
  return (h & 0xffffffff00000000ull) | (id + 1u);
}
static inline uint32_t tab_id(uint64_t e) { return (uint32_t)e - 1u; }

static inline int same_key(const fw_key *k, const void *key, uint32_t klen) {
  if (k->klen != klen) return 0;
  if (klen == 8) { /* the common integer key: one load each */
    uint64_t a, b;
    memcpy(&a, k->k.kbuf, 8);
    memcpy(&b, key, 8);
    return a == b;
  }
  return !memcmp(kbytes(k), key, klen);
}

/* A key's home slot: from the hash's upper half (its lower bits choose the
 * key group, and one subtask holds a range of those, so they are alike). */
static inline uint32_t tab_home(uint64_t h, uint32_t mask) { return (uint32_t)(h >> 32) & mask; }

static inline fw_key *key_find(const sl__fastwin *f, uint64_t h, const void *key,
                               uint32_t klen, uint32_t *at) {
  uint32_t i = tab_home(h, f->tab_mask);
  uint64_t hi = h & 0xffffffff00000000ull;
  for (uint64_t e; (e = f->tab[i]) != 0; i = (i + 1) & f->tab_mask) {
    if ((e & 0xffffffff00000000ull) != hi) continue;
    fw_key *k = &f->keys[tab_id(e)];
    if (same_key(k, key, klen)) {
      if (at) *at = i;
      return k;
    }
  }
  if (at) *at = i;
  return NULL;
}

static int tab_grow(sl__fastwin *f) {
  uint32_t cap = (f->tab_mask + 1) * 2;
  uint64_t *t = sl__calloc(cap, sizeof *t);
  if (!t) return -SL_ENOMEM;
  for (uint32_t i = 0; i <= f->tab_mask; i++) {
    uint64_t e = f->tab[i];
    if (!e) continue;
    uint32_t j = tab_home(f->keys[tab_id(e)].hash, cap - 1);
    while (t[j]) j = (j + 1) & (cap - 1);
    t[j] = e;
  }
  sl__free(f->tab);
  f->tab = t;
  f->tab_mask = cap - 1;
  return 0;
}

/* A new key's entry (not in the table; it would go to slot at); NULL
 * when memory ran out. */
static __attribute__((noinline)) fw_key *key_insert(sl__fastwin *f, sl__inst *inst,
                                                    uint64_t h, const void *key,
                                                    uint32_t klen, uint32_t at) {
  fw_key *k;
  if ((f->tab_used + 1) * 4 > (f->tab_mask + 1) * 3) {
    if (tab_grow(f)) return NULL;
    key_find(f, h, key, klen, &at);
  }
  uint32_t id;
  if (f->n_free) {
    id = f->free_ids[--f->n_free];
  } else {
    /* every id may be free at once (invariant: free_cap >= keys_cap) */
    if (sl__grow(&f->keys, &f->keys_cap, f->n_keys, sizeof *f->keys, 64) ||
        sl__grow(&f->free_ids, &f->free_cap, f->keys_cap - 1, sizeof *f->free_ids, 64))
      return NULL;
    id = f->n_keys++;
  }
  k = &f->keys[id];
  memset(k, 0, sizeof *k);
  uint8_t *kb = klen <= sizeof k->k.kbuf ? k->k.kbuf : (k->k.kptr = sl__malloc(klen));
  if (!kb) {
    f->free_ids[f->n_free++] = id; /* room: ids are freed only after being taken */
    return NULL;
  }
  if (klen) memcpy(kb, key, klen);
  if (klen > sizeof k->k.kbuf) f->ring_bytes += klen;
  k->klen = klen;
  k->hash = h;
  k->kg = sl__key_group(h, inst->job->max_parallelism);
  k->reg = FW_NONE;
  f->tab[at] = tab_entry(h, id);
  f->tab_used++;
  return k;
}

/* The key's entry, created when new; NULL when memory ran out. */
static inline fw_key *key_get(sl__fastwin *f, sl__inst *inst, uint64_t h, const void *key,
                              uint32_t klen) {
  uint32_t at;
  fw_key *k = key_find(f, h, key, klen, &at);
  return SL__LIKELY(k != NULL) ? k : key_insert(f, inst, h, key, klen, at);
}

/* keys[id] has no live pane left: out of the table, its memory freed, its
 * id free for another key. */
static void key_remove(sl__fastwin *f, uint32_t id) {
  fw_key *k = &f->keys[id];
  uint32_t i;
  fw_key *found = key_find(f, k->hash, kbytes(k), k->klen, &i);
  SL_ASSERT(found == k);
  (void)found;
  /* backward-shift deletion keeps every probe sequence unbroken */
  f->tab[i] = 0;
  for (uint32_t j = (i + 1) & f->tab_mask; f->tab[j]; j = (j + 1) & f->tab_mask) {
    uint32_t home = tab_home(f->keys[tab_id(f->tab[j])].hash, f->tab_mask);
    int between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (between) continue;
    f->tab[i] = f->tab[j];
    f->tab[j] = 0;
    i = j;
  }
  f->tab_used--;
  if (k->klen > sizeof k->k.kbuf) {
    sl__free(k->k.kptr);
    f->ring_bytes -= k->klen;
  }
  sl__free(k->ring);
  f->ring_bytes -= (uint64_t)k->cap * f->slot;
  memset(k, 0, sizeof *k);
  k->reg = FW_NONE;
  f->free_ids[f->n_free++] = id;
}

/* ---- pane rings ------------------------------------------------------------------------ */

static inline uint8_t *slot_at(const sl__fastwin *f, const fw_key *k, int64_t idx) {
  return k->ring + (size_t)((uint64_t)idx & (k->cap - 1)) * f->slot;
}
static inline int64_t slot_idx(const uint8_t *slot) {
  int64_t v;
  memcpy(&v, slot, 8);
  return v;
}
/* The live slot of pane idx, or NULL. */
static inline uint8_t *pane_find(const sl__fastwin *f, const fw_key *k, int64_t idx) {
  if (!k->cap) return NULL;
  uint8_t *s = slot_at(f, k, idx);
  return slot_idx(s) == idx ? s : NULL;
}

/* A ring of cap slots holding k's live panes and a free slot for idx, each
 * at index mod cap: 0, 1 when cap is too small (some collide), or
 * -SL_ENOMEM. */
static int ring_rebuild(sl__fastwin *f, fw_key *k, uint32_t cap, int64_t idx) {
  uint8_t *r = sl__malloc((size_t)cap * f->slot);
  if (!r) return -SL_ENOMEM;
  for (uint32_t i = 0; i < cap; i++) memcpy(r + (size_t)i * f->slot, &(int64_t){FW_NONE}, 8);
  fw_key nk = *k;
  nk.ring = r;
  nk.cap = cap;
  for (uint32_t i = 0; i < k->cap; i++) {
    const uint8_t *s = k->ring + (size_t)i * f->slot;
    int64_t q = slot_idx(s);
    if (q == FW_NONE) continue;
    uint8_t *d = slot_at(f, &nk, q);
    if (slot_idx(d) != FW_NONE) {
      sl__free(r);
      return 1;
    }
    memcpy(d, s, f->slot);
  }
  if (slot_idx(slot_at(f, &nk, idx)) != FW_NONE) {
    sl__free(r);
    return 1;
  }
  sl__free(k->ring);
  f->ring_bytes += ((uint64_t)cap - k->cap) * f->slot;
  k->ring = r;
  k->cap = cap;
  return 0;
}

/* A new live pane idx of k (its slot, accumulator created), or NULL when
 * memory ran out. */
static uint8_t *pane_new(sl__fastwin *f, fw_key *k, int64_t idx) {
  uint8_t *s = k->cap ? slot_at(f, k, idx) : NULL;
  if (!s || slot_idx(s) != FW_NONE) {
    /* one slot first (a key that only ever has one live pane -- most keys
     * of a sparse stream -- costs one), doubled when panes collide */
    uint32_t cap = k->cap ? 2 * k->cap : 1;
    int rc;
    while ((rc = ring_rebuild(f, k, cap, idx)) == 1) {
      if (cap >= (1u << 30)) return NULL;
      cap *= 2;
    }
    if (rc) return NULL;
    s = slot_at(f, k, idx);
  }
  memcpy(s, &idx, 8);
  f->agg->agg_create(f->agg->ud, s + 8);
  k->live++;
  f->n_live++;
  return s;
}

static int64_t oldest_live(const sl__fastwin *f, const fw_key *k) {
  int64_t m = INT64_MAX;
  for (uint32_t i = 0; i < k->cap; i++) {
    int64_t q = slot_idx(k->ring + (size_t)i * f->slot);
    if (q != FW_NONE && q < m) m = q;
  }
  return m;
}

/* ---- pending windows -------------------------------------------------------------------- */

/* keys[id] waits for window L. */
static int bucket_add(sl__fastwin *f, int64_t L, uint32_t id) {
  uint32_t i = f->b_n;
  while (i > f->b_head && f->b[i - 1].L > L) i--;
  if (i == f->b_head || f->b[i - 1].L != L) { /* a new bucket at i */
    if (f->b_n == f->b_cap) {
      if (f->b_head) { /* slide the live ones down first */
        memmove(f->b, f->b + f->b_head, (size_t)(f->b_n - f->b_head) * sizeof *f->b);
        f->b_n -= f->b_head;
        i -= f->b_head;
        f->b_head = 0;
      } else if (sl__grow(&f->b, &f->b_cap, f->b_n, sizeof *f->b, 16)) {
        return -SL_ENOMEM;
      }
    }
    memmove(f->b + i + 1, f->b + i, (size_t)(f->b_n - i) * sizeof *f->b);
    f->b_n++;
    fw_bucket *nb = &f->b[i];
    *nb = (fw_bucket){L, NULL, 0, 0};
    if (f->n_spare) { /* an id array of a fired bucket */
      f->n_spare--;
      nb->ids = f->spare[f->n_spare];
      nb->cap = f->spare_cap[f->n_spare];
    }
    i++;
  }
  fw_bucket *b = &f->b[i - 1];
  if (sl__grow(&b->ids, &b->cap, b->n, sizeof *b->ids, 64)) return -SL_ENOMEM;
  b->ids[b->n++] = id;
  return 0;
}

/* k (id) waits for window L unless it waits for an earlier one. */
static int wait_for(sl__fastwin *f, fw_key *k, uint32_t id, int64_t L) {
  if (k->reg != FW_NONE && k->reg <= L) return 0;
  k->reg = L;
  return bucket_add(f, L, id);
}

static void spare_put(sl__fastwin *f, uint32_t *ids, uint32_t cap) {
  if (!ids) return;
  if (f->n_spare == f->spare_max) {
    sl__free(ids);
    return;
  }
  f->spare[f->n_spare] = ids;
  f->spare_cap[f->n_spare++] = cap;
}

/* ---- records ------------------------------------------------------------------------------ */

int sl__fastwin_process(sl__inst *inst, sl__fastwin *f, const sl_record *r) {
  int64_t t = r->ts;
  if (SL__UNLIKELY(t < f->cur_start || t >= f->cur_end) && locate(f, t))
    return sl__win_unrepresentable(inst, &f->c->spec, t, r);
  if (SL__UNLIKELY(f->cur_last <= inst->wm)) /* its last window fired: late */
    return sl__emit_late(inst, f->c->late_tag, r);
  uint64_t h = inst->key_hash; /* hashed once, by the producer */
  fw_key *k = key_get(f, inst, h, r->key, r->key_len);
  if (SL__UNLIKELY(!k)) return sl__fail(inst, -SL_ENOMEM, "window: out of memory");
  int64_t idx = f->cur_idx;
  uint8_t *s = pane_find(f, k, idx);
  if (SL__UNLIKELY(!s)) {
    if (!(s = pane_new(f, k, idx))) return sl__fail(inst, -SL_ENOMEM, "window: out of memory");
    int rc = wait_for(f, k, (uint32_t)(k - f->keys), first_unfired(f, idx, inst->wm));
    if (rc) return sl__fail(inst, rc, "window: out of memory");
  }
  int rc = f->agg->agg_add(f->agg->ud, s + 8, r->value, r->value_len);
  return SL__UNLIKELY(rc < 0) ? sl__user_fail(inst, rc, r) : 0;
}

/* ---- firing -------------------------------------------------------------------------------- */

/* Window L of keys[id] fires: result out, oldest pane dropped, the key
 * waits for its next window or goes. */
static int fire_key(sl__inst *inst, sl__fastwin *f, uint32_t id, int64_t L) {
  fw_key *k = &f->keys[id];
  if (k->reg != L) return 0; /* stale entry (invariant above) */
  const win_cfg *c = f->c;
  win_inst *wi = inst->impl;
  sl_window w = win_of(f, L);
  const uint8_t *acc = NULL;
  int rc = 0;
  for (int64_t q = L - f->n_panes + 1; !rc && q <= L; q++) {
    const uint8_t *s = pane_find(f, k, q);
    if (!s) continue;
    if (f->n_panes == 1) {
      acc = s + 8;
    } else if (!acc) {
      memcpy(f->acc, s + 8, f->acc_size);
      acc = f->acc;
    } else {
      rc = f->agg->agg_merge(f->agg->ud, f->acc, s + 8);
    }
  }
  if (!rc && acc) {
    sl_bytes v;
    rc = f->agg->agg_result(f->agg->ud, acc, &v);
    if (!rc) {
      sl_window_elems e;
      memset(&e, 0, sizeof e);
      e.key = (sl_bytes){kbytes(k), k->klen};
      e.single = 1;
      e.rec = (sl_record){w.end - 1, kbytes(k), k->klen, v.data, v.len};
      if (c->fn) {
        sl__kstate_set_key_h(inst->ks, kbytes(k), k->klen, k->hash, k->kg);
        wi->cur = w;
        wi->firing = 1;
        sl__user_call(&inst->ctx);
        rc = c->fn(inst->op->ud, &inst->ctx, &w, &e, &inst->coll);
        wi->firing = 0;
      } else {
        rc = sl__emit(inst, &e.rec);
      }
    }
  }
  if (rc < 0) {
    if (sl__failed(inst->job)) return rc;
    sl_record r = {w.end - 1, kbytes(k), k->klen, NULL, 0};
    return sl__user_fail(inst, rc, &r);
  }
  uint8_t *old = pane_find(f, k, L - f->n_panes + 1);
  if (old) {
    memcpy(old, &(int64_t){FW_NONE}, 8);
    k->live--;
    f->n_live--;
  }
  k->reg = FW_NONE;
  if (!k->live) { /* removed when it stays so (sweep_idle): keys that come back
                   * in the next window keep their entry and ring */
    k->idle_L = L;
    if (k->idle) return 0;
    if (sl__grow(&f->idle, &f->idle_cap, f->n_idle, sizeof *f->idle, 64))
      return sl__fail(inst, -SL_ENOMEM, "window: out of memory");
    k->idle = 1;
    f->idle[f->n_idle++] = id;
    return 0;
  }
  int64_t next = oldest_live(f, k);
  if (next < L + 1) next = L + 1; /* window L+1 holds every pane after L's oldest */
  return wait_for(f, k, id, next) ? sl__fail(inst, -SL_ENOMEM, "window: out of memory") : 0;
}

/* Keys idle since before window L - n_panes fired go; keys with panes
 * again leave the idle list. */
static void sweep_idle(sl__fastwin *f, int64_t L) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < f->n_idle; i++) {
    uint32_t id = f->idle[i];
    fw_key *k = &f->keys[id];
    if (k->live)
      k->idle = 0;
    else if (k->idle_L < L - f->n_panes)
      key_remove(f, id);
    else
      f->idle[kept++] = id;
  }
  f->n_idle = kept;
}

int sl__fastwin_fire(sl__inst *inst, sl__fastwin *f, int64_t wm) {
  int rc = 0;
  int64_t fired = FW_NONE;
  while (!rc && f->b_head < f->b_n && win_end(f, f->b[f->b_head].L) - 1 <= wm) {
    fw_bucket b = f->b[f->b_head++]; /* out first: firing adds later buckets */
    for (uint32_t i = 0; !rc && i < b.n; i++) rc = fire_key(inst, f, b.ids[i], b.L);
    spare_put(f, b.ids, b.cap);
    fired = b.L;
  }
  if (f->b_head == f->b_n) f->b_head = f->b_n = 0;
  if (!rc && fired != FW_NONE && f->n_idle) sweep_idle(f, fired);
  return rc;
}

/* ---- checkpoints ---------------------------------------------------------------------------- *
 * A checkpoint holds the general path's state (win_int.h): per live pane
 * an entry of the contents state (the pane's namespace [start, start +
 * slide), the accumulator as is: no TTL here), and the event-time timers
 * the general path would hold -- per pane, the first of its windows not
 * fired yet (several panes may share one; the timer service keeps it
 * once).  sl__fastwin_freeze copies the live keys and their rings into
 * one buffer on the worker thread (a memcpy per key; no hashing, no state
 * calls); the checkpoint writer hands that copy to the image writer
 * (frozen_iter), which writes those entries on its own thread. */

/* A frozen key in fw_frozen.buf: this header, the key's bytes (padded to
 * 8), then its ring as it was (cap slots). */
typedef struct fz_rec {
  uint32_t klen;
  int32_t kg;
  uint32_t cap;
  uint32_t pad_;
} fz_rec;

static inline size_t fz_size(const sl__fastwin *f, uint32_t klen, uint32_t cap) {
  return sizeof(fz_rec) + (((size_t)klen + 7) & ~(size_t)7) + (size_t)cap * f->slot;
}

typedef struct fw_frozen {
  sl__snap_extra x;   /* first: the checkpoint's handle */
  sl__fastwin geo;    /* the window's pane geometry (only the scalars are used) */
  const char *names[2]; /* the states written: contents, event-time timers */
  int64_t wm;         /* the instance's watermark when frozen */
  uint8_t *buf;       /* the frozen keys, key group after key group */
  size_t *kg_end;     /* [kg]: where key group kg's keys end in buf */
  int max_parallelism;
  uint32_t max_klen, max_cap;
  /* the writer's scratch, allocated at its first call */
  uint8_t *ck;        /* one composite key */
  int64_t *wins;      /* one key's timers (windows by L) */
} fw_frozen;

static void frozen_free(sl__snap_extra *x) {
  fw_frozen *z = (fw_frozen *)x;
  if (!z) return;
  sl__free(z->buf);
  sl__free(z->kg_end);
  sl__free(z->ck);
  sl__free(z->wins);
  sl__free(z);
}

/* Sorts a few windows (a key's timers: usually one or two). */
static void sort_wins(int64_t *v, uint32_t n) {
  for (uint32_t i = 1; i < n; i++) {
    int64_t x = v[i];
    uint32_t j = i;
    for (; j && v[j - 1] > x; j--) v[j] = v[j - 1];
    v[j] = x;
  }
}

/* One frozen key's entries of state `which` (0 contents, 1 timers). */
static int frozen_key(fw_frozen *z, const uint8_t *rec, int which, sl__entry_fn fn,
                      void *arg) {
  const sl__fastwin *f = &z->geo;
  fz_rec h;
  memcpy(&h, rec, sizeof h);
  const uint8_t *key = rec + sizeof h;
  const uint8_t *ring = key + (((size_t)h.klen + 7) & ~(size_t)7);
  uint8_t ns[24];
  uint32_t n = 0;
  int rc = 0;
  for (uint32_t i = 0; !rc && i < h.cap; i++) {
    const uint8_t *s = ring + (size_t)i * f->slot;
    int64_t q = slot_idx(s);
    if (q == FW_NONE) continue;
    if (which == 0) { /* the pane's contents */
      sl_window pane = {pane_start(f, q), pane_start(f, q) + f->slide};
      win_ns(&pane, ns);
      uint32_t cklen = sl__ck_put(z->ck, key, h.klen, ns, 16);
      rc = fn(arg, z->ck, cklen, s + 8, f->acc_size);
    } else {
      z->wins[n++] = first_unfired(f, q, z->wm);
    }
  }
  if (rc || which == 0) return rc;
  sort_wins(z->wins, n);
  for (uint32_t i = 0; !rc && i < n; i++) { /* each window's timer once */
    if (i && z->wins[i] == z->wins[i - 1]) continue;
    sl_window w = win_of(f, z->wins[i]);
    uint8_t wns[16];
    win_ns(&w, wns);
    uint32_t nslen = sl__timer_persist_ns(ns, w.end - 1, wns, 16);
    uint32_t cklen = sl__ck_put(z->ck, key, h.klen, ns, nslen);
    rc = fn(arg, z->ck, cklen, "", 0);
  }
  return rc;
}

static int frozen_iter(sl__snap_extra *x, const char *state, int kg, sl__entry_fn fn,
                       void *arg) {
  fw_frozen *z = (fw_frozen *)x;
  int which = !strcmp(state, z->names[0]) ? 0 : !strcmp(state, z->names[1]) ? 1 : -1;
  if (which < 0 || kg < 0 || kg >= z->max_parallelism) return 0;
  if (!z->ck) {
    z->ck = sl__malloc(10 + (size_t)z->max_klen + 24);
    z->wins = sl__malloc((size_t)z->max_cap * sizeof *z->wins);
    if (!z->ck || !z->wins) return -SL_ENOMEM;
  }
  int rc = 0;
  for (size_t off = kg ? z->kg_end[kg - 1] : 0, end = z->kg_end[kg]; !rc && off < end;) {
    fz_rec h;
    memcpy(&h, z->buf + off, sizeof h);
    rc = frozen_key(z, z->buf + off, which, fn, arg);
    off += fz_size(&z->geo, h.klen, h.cap);
  }
  return rc;
}

/* Two passes over the keys: the bytes of each key group's live keys, then
 * each key copied to its group's place, so the writer reads the copy in
 * order. */
int sl__fastwin_freeze(sl__inst *inst, sl__fastwin *f, sl__snap_extra **out) {
  *out = NULL;
  int maxp = inst->job->max_parallelism;
  size_t *kg_end = NULL;
  uint32_t max_klen = 0, max_cap = 0;
  for (uint32_t id = 0; id < f->n_keys; id++) {
    const fw_key *k = &f->keys[id];
    if (!k->live) continue;
    if (!kg_end && !(kg_end = sl__calloc((size_t)maxp + 1, sizeof *kg_end)))
      return -SL_ENOMEM;
    SL_ASSERT(k->kg >= 0 && k->kg < maxp);
    kg_end[k->kg + 1] += fz_size(f, k->klen, k->cap);
    if (k->klen > max_klen) max_klen = k->klen;
    if (k->cap > max_cap) max_cap = k->cap;
  }
  if (!kg_end) return 0; /* no live pane: nothing outside the backend */
  for (int g = 0; g < maxp; g++) kg_end[g + 1] += kg_end[g]; /* kg_end[g]: g's start */
  fw_frozen *z = sl__calloc(1, sizeof *z);
  uint8_t *buf = z ? sl__malloc(kg_end[maxp]) : NULL;
  if (!buf) {
    sl__free(z);
    sl__free(kg_end);
    return -SL_ENOMEM;
  }
  for (uint32_t id = 0; id < f->n_keys; id++) {
    const fw_key *k = &f->keys[id];
    if (id + 8 < f->n_keys) __builtin_prefetch(f->keys[id + 8].ring); /* rings: anywhere */
    if (!k->live) continue;
    uint8_t *p = buf + kg_end[k->kg];
    fz_rec h = {k->klen, k->kg, k->cap, 0};
    size_t kpad = ((size_t)k->klen + 7) & ~(size_t)7, rlen = (size_t)k->cap * f->slot;
    memcpy(p, &h, sizeof h);
    memcpy(p + sizeof h, kbytes(k), k->klen);
    memcpy(p + sizeof h + kpad, k->ring, rlen);
    kg_end[k->kg] += sizeof h + kpad + rlen; /* g's start moves to its end */
  }
  *z = (fw_frozen){.x = {frozen_iter, frozen_free},
                   .geo = {.slide = f->slide, .size = f->size, .n_panes = f->n_panes,
                           .base = f->base, .acc_size = f->acc_size, .slot = f->slot},
                   .names = {f->agg->name, sl__timers_state_name(SL_TIME_EVENT)},
                   .wm = inst->wm,
                   .buf = buf,
                   .kg_end = kg_end,
                   .max_parallelism = maxp,
                   .max_klen = max_klen,
                   .max_cap = max_cap};
  *out = &z->x;
  return 0;
}

/* Restore: the contents entries collected, then moved into the rings. */
typedef struct absorbed {
  uint8_t *buf; /* entries: u32 klen, i32 kg, i64 pane index, key, accumulator */
  size_t len, cap;
  const sl__fastwin *f;
  char why[160];
} absorbed;

static int collect_pane(void *arg, const void *key, uint32_t klen, int kg, const void *ns,
                        uint32_t nslen, const void *val, uint32_t vlen) {
  absorbed *a = arg;
  const sl__fastwin *f = a->f;
  if (nslen != 16 || vlen != f->acc_size) {
    sl__fmt(a->why, sizeof a->why, "an entry with a %u-byte window and a %u-byte value", nslen,
            vlen);
    return -SL_ESTATE;
  }
  int64_t start = get_be(ns), end = get_be((const uint8_t *)ns + 8);
  __int128 off = (__int128)start - f->base;
  if ((__int128)end - start != f->slide || off % f->slide != 0) {
    sl__fmt(a->why, sizeof a->why, "window contents for [%lld, %lld), not a pane of this window",
            (long long)start, (long long)end);
    return -SL_ESTATE;
  }
  int64_t idx = (int64_t)(off / f->slide);
  size_t need = 16 + (size_t)klen + vlen;
  if (a->len + need > a->cap) {
    size_t cap = a->cap ? 2 * a->cap : 4096;
    while (cap < a->len + need) cap *= 2;
    uint8_t *b = sl__realloc(a->buf, cap);
    if (!b) return -SL_ENOMEM;
    a->buf = b;
    a->cap = cap;
  }
  uint8_t *p = a->buf + a->len;
  int32_t kg32 = kg;
  memcpy(p, &klen, 4);
  memcpy(p + 4, &kg32, 4);
  memcpy(p + 8, &idx, 8);
  memcpy(p + 16, key, klen);
  memcpy(p + 16 + klen, val, vlen);
  a->len += need;
  return 0;
}

int sl__fastwin_absorb(sl__inst *inst, sl__fastwin *f) {
  win_inst *wi = inst->impl;
  absorbed a = {.f = f};
  int rc = sl__state_foreach(wi->contents, collect_pane, &a);
  for (size_t off = 0; !rc && off < a.len;) {
    uint32_t klen;
    int32_t kg;
    int64_t idx;
    memcpy(&klen, a.buf + off, 4);
    memcpy(&kg, a.buf + off + 4, 4);
    memcpy(&idx, a.buf + off + 8, 8);
    const uint8_t *key = a.buf + off + 16, *acc = key + klen;
    off += 16 + (size_t)klen + f->acc_size;
    /* out of the general path's state ... */
    sl__kstate_set_key(inst->ks, key, klen, kg);
    sl_window pane = {pane_start(f, idx), pane_start(f, idx) + f->slide};
    if ((rc = use_ns(wi->contents, &pane)) || (rc = sl_state_clear(wi->contents))) break;
    /* ... into the key's ring */
    fw_key *k = key_get(f, inst, sl__key_hash(key, klen), key, klen);
    uint8_t *s = !k ? NULL : pane_find(f, k, idx) ? NULL : pane_new(f, k, idx);
    if (!s) {
      rc = k && pane_find(f, k, idx) ? -SL_ESTATE : -SL_ENOMEM;
      if (rc == -SL_ESTATE) sl__fmt(a.why, sizeof a.why, "a pane twice");
      break;
    }
    memcpy(s + 8, acc, f->acc_size);
  }
  sl__free(a.buf);
  if (rc == -SL_ESTATE)
    return sl__fail(inst, rc, "the checkpoint's window state does not fit this window "
                              "operator (%s): was it taken with another window size or "
                              "slide?", a.why[0] ? a.why : "an unreadable entry");
  if (rc) return sl__fail(inst, rc, "cannot take over the restored window state: %s",
                          sl_strerror(rc));
  /* the general path's timers go (the rings say which windows wait) */
  wi->absorbing = 1;
  rc = sl__timers_fire(inst->timers, SL_TIME_EVENT, INT64_MAX);
  wi->absorbing = 0;
  for (uint32_t id = 0; !rc && id < f->n_keys; id++) {
    fw_key *k = &f->keys[id];
    if (k->live) rc = wait_for(f, k, id, first_unfired(f, oldest_live(f, k), inst->wm));
  }
  return rc;
}

/* ---- set-up ------------------------------------------------------------------------------ */

int sl__fastwin_eligible(const sl__inst *inst, const win_cfg *c) {
  const sl_window_spec *s = &c->spec;
  const sl_state_desc *a = c->agg;
  const char *backend = SL__CONF_S(inst->job->conf, STATE_BACKEND);
  int kind_ok = s->kind == SL_WINDOW_TUMBLING ||
                (s->kind == SL_WINDOW_SLIDING && s->size_ms % s->slide_ms == 0 && a &&
                 a->agg_merge);
  return kind_ok && s->time == SL_TIME_EVENT &&
         (s->trigger == SL_TRIGGER_DEFAULT || s->trigger == SL_TRIGGER_EVENT_TIME) &&
         !s->purge && s->allowed_lateness_ms == 0 && c->fk == SL__WF_AGG && a &&
         a->size > 0 && a->ttl_ms == 0 && (!backend || !strcmp(backend, "hashmap")) &&
         SL__CONF_I(inst->job->conf, WINDOW_FAST_PATH);
}

int sl__fastwin_new(sl__inst *inst, const win_cfg *c, sl__fastwin **out) {
  (void)inst;
  *out = NULL;
  sl__fastwin *f = sl__calloc(1, sizeof *f);
  if (!f) return -SL_ENOMEM;
  const sl_window_spec *s = &c->spec;
  f->c = c;
  f->agg = c->agg;
  f->size = s->size_ms;
  f->slide = s->kind == SL_WINDOW_TUMBLING ? s->size_ms : s->slide_ms;
  f->n_panes = f->size / f->slide;
  f->base = floor_mod(s->offset_ms, f->slide);
  f->acc_size = c->agg->size;
  f->slot = 8 + ((f->acc_size + 7u) & ~7u);
  f->cur_start = INT64_MAX; /* no cached pane */
  f->cur_end = INT64_MIN;
  f->tab_mask = 63;
  f->spare_max = 64;
  f->tab = sl__calloc(f->tab_mask + 1, sizeof *f->tab);
  f->acc = sl__malloc(f->slot);
  f->spare = sl__calloc(f->spare_max, sizeof *f->spare);
  f->spare_cap = sl__calloc(f->spare_max, sizeof *f->spare_cap);
  if (!f->tab || !f->acc || !f->spare || !f->spare_cap) {
    sl__fastwin_free(f);
    return -SL_ENOMEM;
  }
  *out = f;
  return 0;
}

void sl__fastwin_stats(void *ud, uint64_t *entries, uint64_t *bytes) {
  const sl__fastwin *f = ud;
  *entries += f->n_live;
  *bytes += f->ring_bytes + (uint64_t)f->keys_cap * sizeof *f->keys +
            ((uint64_t)f->tab_mask + 1) * sizeof *f->tab +
            (uint64_t)f->free_cap * sizeof *f->free_ids;
}

void sl__fastwin_free(sl__fastwin *f) {
  if (!f) return;
  for (uint32_t id = 0; id < f->n_keys; id++) {
    fw_key *k = &f->keys[id];
    if (k->klen > sizeof k->k.kbuf) sl__free(k->k.kptr);
    sl__free(k->ring);
  }
  for (uint32_t i = f->b_head; i < f->b_n; i++) sl__free(f->b[i].ids);
  for (uint32_t i = 0; i < f->n_spare; i++) sl__free(f->spare[i]);
  sl__free(f->keys);
  sl__free(f->idle);
  sl__free(f->free_ids);
  sl__free(f->tab);
  sl__free(f->b);
  sl__free(f->spare);
  sl__free(f->spare_cap);
  sl__free(f->acc);
  sl__free(f);
}

/*
 * heap_backend.c -- the default keyed-state backend: hash tables in memory,
 * one per (state, key group), with copy-on-write snapshots.
 *
 * Table: open addressing with linear probing and backward-shift deletion
 * (no tombstones); a slot (32 bytes) holds the 64-bit hash of the
 * composite key (sl__ck_hash, given by the caller) and either
 *   - inline, the key and value themselves, when the composite key is a
 *     key alone ([klen] key [0]) and key + value fit in 16 bytes -- the
 *     usual value, reducing or aggregating state of a short key: no
 *     allocation, no second cache miss, and a snapshot's copy of the slot
 *     array copies them; or
 *   - a pointer to an entry { version, ck, value } (copy-on-write below).
 * A slot's home is taken from the hash's upper half: the lower bits choose
 * the key group, so within one table they are alike.  A value is updated in place
 * when it fits and the entry is not shared with a snapshot, so a fixed-size
 * value costs no allocation per access.
 *
 * Copy-on-write (the scheme of Flink's CopyOnWriteStateMap, simplified to
 * one open snapshot):
 *   1. snapshot() copies every table's slot array (pointers only), records
 *      snap_version = version and bumps version.  O(slots) memcpy; processing
 *      resumes immediately.
 *   2. (Inline slots need nothing: the copy holds their bytes.)  An entry
 *      with e->version <= snap_version is shared with the snapshot and
 *      immutable: writing it first copies it (new version) into the live
 *      slot; deleting it only unlinks it.  Either way the old entry goes to
 *      the table's retired list.
 *   3. snap_iter() reads the copied slot arrays and their (immutable) entries,
 *      from any thread, while the owner keeps writing -- through the
 *      snapshot's own copy of the per-state table array, since add_state
 *      may grow the owner's meanwhile (and the image writer reads the
 *      registry's copy, sl__backend_snap_meta).
 *   4. snap_release() frees the copies and the retired entries.
 *
 *     version:   1 ---- snapshot ----> 2 ------ release ------> 2
 *     entry v1:  mutable               shared (copy on write)    mutable
 *
 * Figures (state_stats): per state a running count of its entries and of
 * the bytes it allocated -- its tables' slot arrays (32 bytes a slot) and
 * its entries (16 + cklen + vcap bytes each; inline slots cost nothing
 * more) -- updated where slots and entries are allocated, grown and freed,
 * so a query is two loads.  Not counted: a snapshot's slot-array copies
 * and the entries retired while it is open (they go at snap_release), the
 * per-key-group table headers, and the allocator's own overhead.
 */
#include <stdio.h>

#include "state/backend.h"

typedef struct entry {
  uint32_t version;
  uint32_t cklen, vlen, vcap;
  uint8_t data[]; /* ck, then value (vcap bytes) */
} entry;

enum { SLOT_EMPTY = 0, SLOT_PTR = 1, SLOT_INL = 2 };
#define INL_BYTES 16

typedef struct slot {
  uint64_t hash;
  uint8_t kind;       /* SLOT_* */
  uint8_t klen, vlen; /* inline: key and value bytes in d */
  union {
    entry *e;              /* SLOT_PTR */
    uint8_t d[INL_BYTES];  /* SLOT_INL: key, then value */
  } u;
} slot;

typedef struct table {
  slot *slots;
  uint32_t cap; /* power of two */
  uint32_t count;
  slot *snap;   /* slot array copied by the open snapshot */
  uint32_t snap_cap;
  uint32_t sid; /* its state's (h->stats[sid]) */
  entry **retired;
  uint32_t n_retired, cap_retired;
} table;

/* Running figures of one state (the state_stats slot). */
typedef struct sstat {
  uint64_t entries, bytes;
} sstat;

typedef struct heap_be {
  sl__backend base;
  /* the slot of the last get: a read-modify-write's put finds it again
   * without hashing and probing (checked by comparing the key bytes) */
  table *last_t;
  uint32_t last_i;
  slot *dead; /* the slot array a grow replaced: a value passed to put may
               * point into it (views live until the next call) */
  table **tables; /* [sid] -> array of (kg_hi - kg_lo + 1) tables */
  sstat *stats;   /* [sid] */
  uint32_t n_tables;
  uint32_t version;
  uint32_t snap_version; /* 0: no snapshot open */
  uint64_t slot_bytes;   /* of every table's slot array (base.large) */
} heap_be;

struct sl__snapshot {
  heap_be *be;
  table **tables; /* h->tables as it was (add_state may grow the owner's) */
  uint32_t n_tables;
};

static inline uint8_t *val_of(entry *e) { return e->data + e->cklen; }
/* What an entry allocated (new_entry). */
static inline uint64_t entry_bytes(const entry *e) {
  return sizeof *e + (uint64_t)e->cklen + e->vcap;
}

static table *get_table(heap_be *h, int kg, uint32_t sid) {
  if (sid >= h->n_tables || kg < h->base.kg_lo || kg > h->base.kg_hi) return NULL;
  return &h->tables[sid][kg - h->base.kg_lo];
}

static int fail(heap_be *h, int rc, const char *what) {
  sl__fmt(h->base.err, sizeof h->base.err, "heap state backend: %s", what);
  return rc;
}

static int check_kg(heap_be *h, int kg) {
  if (kg >= h->base.kg_lo && kg <= h->base.kg_hi) return 0;
  sl__fmt(h->base.err, sizeof h->base.err,
          "heap state backend: key group %d outside this instance's range [%d, %d]",
          kg, h->base.kg_lo, h->base.kg_hi);
  return -SL_ESTATE;
}

/* ---- states ---------------------------------------------------------------- */

static int heap_add_state(sl__backend *be, const char *name, sl__state_kind kind,
                          uint32_t *sid) {
  heap_be *h = (heap_be *)be;
  int is_new;
  int rc = sl__backend_register(be, name, kind, sid, &is_new);
  if (rc || !is_new) return rc;
  sstat *st = sl__realloc(h->stats, (size_t)(*sid + 1) * sizeof *st);
  if (!st) return fail(h, -SL_ENOMEM, "out of memory");
  h->stats = st;
  st[*sid] = (sstat){0, 0};
  table **t = sl__realloc(h->tables, (size_t)(*sid + 1) * sizeof *t);
  if (!t) return fail(h, -SL_ENOMEM, "out of memory");
  h->tables = t;
  size_t n = (size_t)(be->kg_hi - be->kg_lo + 1);
  t[*sid] = sl__calloc(n, sizeof(table));
  if (!t[*sid]) return fail(h, -SL_ENOMEM, "out of memory");
  for (size_t k = 0; k < n; k++) t[*sid][k].sid = *sid;
  h->n_tables = *sid + 1;
  return 0;
}

/* ---- lookup ---------------------------------------------------------------- */

static inline int bytes_eq(const uint8_t *a, const uint8_t *b, uint32_t n) {
  for (; n >= 8; a += 8, b += 8, n -= 8) {
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    if (x != y) return 0;
  }
  while (n--)
    if (*a++ != *b++) return 0;
  return 1;
}

static inline int ck_eq(const entry *e, const void *ck, uint32_t cklen) {
  return e->cklen == cklen && bytes_eq(e->data, ck, cklen);
}

/* ck is [klen] key [0] with klen < 128: the key alone. */
static inline int ck_is_key(const uint8_t *ck, uint32_t cklen) {
  return cklen >= 2 && cklen - 2 < 128 && ck[0] == cklen - 2 && ck[cklen - 1] == 0;
}

static inline int slot_eq(const slot *s, const void *ck, uint32_t cklen) {
  if (s->kind == SLOT_PTR) return ck_eq(s->u.e, ck, cklen);
  const uint8_t *c = ck;
  return ck_is_key(c, cklen) && c[0] == s->klen && bytes_eq(c + 1, s->u.d, s->klen);
}

static inline uint8_t *slot_val(slot *s) {
  return s->kind == SLOT_INL ? s->u.d + s->klen : val_of(s->u.e);
}
static inline uint32_t slot_vlen(const slot *s) {
  return s->kind == SLOT_INL ? s->vlen : s->u.e->vlen;
}

/* The composite key of slot s: into buf (18 bytes) when inline. */
static inline const uint8_t *slot_ck(const slot *s, uint8_t *buf, uint32_t *cklen) {
  if (s->kind == SLOT_PTR) {
    *cklen = s->u.e->cklen;
    return s->u.e->data;
  }
  buf[0] = s->klen;
  memcpy(buf + 1, s->u.d, s->klen);
  buf[1 + s->klen] = 0;
  *cklen = (uint32_t)s->klen + 2;
  return buf;
}

static inline uint32_t home(uint64_t hash, uint32_t mask) { return (uint32_t)(hash >> 32) & mask; }

/* Index of ck's slot, or of the empty slot where it would go. */
static inline uint32_t find(const table *t, uint64_t hash, const void *ck,
                            uint32_t cklen) {
  SL_ASSERT(hash == sl__ck_hash(ck, cklen));
  uint32_t mask = t->cap - 1;
  for (uint32_t i = home(hash, mask);; i = (i + 1) & mask) {
    const slot *s = &t->slots[i];
    if (!s->kind || (s->hash == hash && slot_eq(s, ck, cklen))) return i;
  }
}

static int heap_get(sl__backend *be, int kg, uint32_t sid, const void *ck,
                    uint32_t cklen, uint64_t hash, const void **val, uint32_t *vlen) {
  heap_be *h = (heap_be *)be;
  table *t = get_table(h, kg, sid);
  if (!t || !t->count) return 1;
  uint32_t i = find(t, hash, ck, cklen);
  h->last_t = t;
  h->last_i = i;
  slot *s = &t->slots[i];
  if (!s->kind) return 1;
  *val = slot_val(s);
  *vlen = slot_vlen(s);
  return 0;
}

static inline slot *home_slot(heap_be *h, uint32_t sid, uint64_t hash) {
  table *t = get_table(h, sl__key_group(hash, h->base.max_parallelism), sid);
  return t && t->cap ? &t->slots[home(hash, t->cap - 1)] : NULL;
}

static void heap_prefetch(sl__backend *be, uint32_t sid, uint64_t slot_hash,
                          uint64_t entry_hash) {
  heap_be *h = (heap_be *)be;
  slot *s;
  if (slot_hash && (s = home_slot(h, sid, slot_hash))) __builtin_prefetch(s);
  /* the entry of the first probe's slot, when that is the key's */
  if (entry_hash && (s = home_slot(h, sid, entry_hash)) && s->kind == SLOT_PTR &&
      s->hash == entry_hash)
    __builtin_prefetch(s->u.e);
}

/* ---- mutation ---------------------------------------------------------------- */

static int retire(heap_be *h, table *t, entry *e) {
  if (t->n_retired == t->cap_retired) {
    uint32_t ncap = t->cap_retired ? 2 * t->cap_retired : 64;
    entry **r = sl__realloc(t->retired, ncap * sizeof *r);
    if (!r) return fail(h, -SL_ENOMEM, "out of memory");
    t->retired = r;
    t->cap_retired = ncap;
  }
  t->retired[t->n_retired++] = e;
  return 0;
}

static inline int shared(const heap_be *h, const entry *e) {
  return h->snap_version && e->version <= h->snap_version;
}

static int grow(heap_be *h, table *t) {
  uint32_t ncap = t->cap ? t->cap * 2 : 16;
  slot *ns = sl__calloc(ncap, sizeof *ns);
  if (!ns) return fail(h, -SL_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < t->cap; i++) {
    if (!t->slots[i].kind) continue;
    uint32_t j = home(t->slots[i].hash, ncap - 1);
    while (ns[j].kind) j = (j + 1) & (ncap - 1);
    ns[j] = t->slots[i];
  }
  sl__free(h->dead);
  h->dead = t->slots;
  t->slots = ns;
  h->slot_bytes += (uint64_t)(ncap - t->cap) * sizeof *ns;
  h->stats[t->sid].bytes += (uint64_t)(ncap - t->cap) * sizeof *ns;
  t->cap = ncap;
  if (h->base.large && h->slot_bytes > SL__STATE_LARGE) *h->base.large = 1;
  return 0;
}

static entry *new_entry(heap_be *h, const void *ck, uint32_t cklen, uint32_t vcap) {
  entry *e = sl__malloc(sizeof *e + cklen + vcap);
  if (!e) return NULL;
  e->version = h->version;
  e->cklen = cklen;
  e->vlen = 0;
  e->vcap = vcap;
  memcpy(e->data, ck, cklen);
  return e;
}

/* Make slot s writable with room for vneed value bytes, keeping the first
 * `keep` bytes of the current value: an inline slot stays inline while
 * key and value fit, else becomes an entry; an entry shared with the
 * snapshot is copied.  A replaced private entry is freed, or handed to
 * *later (when not NULL) for the caller to free after it copied a value
 * that may point into it. */
static __attribute__((noinline)) int make_writable_slow(heap_be *h, table *t, slot *s,
                                                        uint32_t vneed, uint32_t keep,
                                                        entry **later) {
  if (s->kind == SLOT_INL) {
    uint8_t ck[INL_BYTES + 2];
    uint32_t cklen;
    slot_ck(s, ck, &cklen);
    entry *n = new_entry(h, ck, cklen, vneed);
    if (!n) return fail(h, -SL_ENOMEM, "out of memory");
    memcpy(val_of(n), s->u.d + s->klen, keep);
    n->vlen = keep;
    s->kind = SLOT_PTR;
    s->u.e = n;
    h->stats[t->sid].bytes += entry_bytes(n);
    return 0;
  }
  entry *e = s->u.e;
  uint32_t vcap = vneed <= e->vcap ? e->vcap : SL__MAX(vneed, e->vcap + e->vcap / 2);
  entry *n = new_entry(h, e->data, e->cklen, vcap);
  if (!n) return fail(h, -SL_ENOMEM, "out of memory");
  memcpy(val_of(n), val_of(e), keep);
  n->vlen = keep;
  if (shared(h, e)) {
    int rc = retire(h, t, e);
    if (rc) {
      sl__free(n);
      return rc;
    }
  }
  /* (a retired e belongs to the snapshot now: not counted) */
  h->stats[t->sid].bytes += entry_bytes(n) - entry_bytes(e);
  if (!shared(h, e)) {
    if (later)
      *later = e;
    else
      sl__free(e);
  }
  s->u.e = n;
  return 0;
}
/* The common case -- the value fits where it is and no snapshot shares
 * it -- inline; the rest (allocation, figures) out of line. */
static inline int make_writable(heap_be *h, table *t, slot *s, uint32_t vneed,
                                uint32_t keep, entry **later) {
  if (s->kind == SLOT_INL ? s->klen + vneed <= INL_BYTES
                          : !shared(h, s->u.e) && vneed <= s->u.e->vcap)
    return 0;
  return make_writable_slow(h, t, s, vneed, keep, later);
}

/* Slot of ck, inserting an empty value (room for vcap bytes) if absent. */
static int upsert(heap_be *h, int kg, uint32_t sid, const void *ck, uint32_t cklen,
                  uint64_t hash, uint32_t vcap, table **tout, slot **sout) {
  int rc = check_kg(h, kg);
  if (rc) return rc;
  table *t = get_table(h, kg, sid);
  if (!t) return fail(h, -SL_ESTATE, "unknown state id");
  if (t == h->last_t && h->last_i < t->cap) {
    slot *s = &t->slots[h->last_i];
    if (s->kind && s->hash == hash && slot_eq(s, ck, cklen)) {
      *tout = t; /* the key just read: no probe */
      *sout = s;
      return 0;
    }
  }
  if ((t->count + 1) * 4 > t->cap * 3 && (rc = grow(h, t))) return rc;
  slot *s = &t->slots[find(t, hash, ck, cklen)];
  if (!s->kind) {
    const uint8_t *c = ck;
    if (ck_is_key(c, cklen) && cklen - 2 + vcap <= INL_BYTES) {
      s->kind = SLOT_INL;
      s->klen = (uint8_t)(cklen - 2);
      s->vlen = 0;
      memcpy(s->u.d, c + 1, s->klen);
    } else {
      entry *e = new_entry(h, ck, cklen, vcap);
      if (!e) return fail(h, -SL_ENOMEM, "out of memory");
      s->kind = SLOT_PTR;
      s->u.e = e;
      h->stats[t->sid].bytes += entry_bytes(e);
    }
    s->hash = hash;
    t->count++;
    h->stats[t->sid].entries++;
  }
  *tout = t;
  *sout = s;
  return 0;
}

/* A value passed to put or append may be a view into slot s itself,
 * which make_writable overwrites when the slot stops being inline: the
 * bytes go to tmp first. */
static inline const void *own_view(const slot *s, const void *val, uint32_t vlen, uint8_t *tmp) {
  const uint8_t *v = val;
  if (s->kind == SLOT_INL && v >= s->u.d && v < s->u.d + INL_BYTES &&
      vlen <= (uint32_t)(s->u.d + INL_BYTES - v)) {
    memcpy(tmp, v, vlen);
    return tmp;
  }
  return val;
}

static inline void set_vlen(slot *s, uint32_t vlen) {
  if (s->kind == SLOT_INL)
    s->vlen = (uint8_t)vlen;
  else
    s->u.e->vlen = vlen;
}

static int heap_put(sl__backend *be, int kg, uint32_t sid, const void *ck,
                    uint32_t cklen, uint64_t hash, const void *val, uint32_t vlen) {
  heap_be *h = (heap_be *)be;
  table *t;
  slot *s;
  int rc = upsert(h, kg, sid, ck, cklen, hash, vlen, &t, &s);
  if (rc) return rc;
  uint8_t tmp[INL_BYTES];
  val = own_view(s, val, vlen, tmp);
  entry *old = NULL; /* val may point into the entry it replaces */
  if ((rc = make_writable(h, t, s, vlen, 0, &old))) return rc;
  uint8_t *dst = slot_val(s);
  if (vlen == 8) { /* the common fixed-size value: one load, one store */
    uint64_t v;
    memcpy(&v, val, 8);
    memcpy(dst, &v, 8);
  } else {
    memmove(dst, val, vlen);
  }
  set_vlen(s, vlen);
  sl__free(old);
  return 0;
}

static int heap_append(sl__backend *be, int kg, uint32_t sid, const void *ck,
                       uint32_t cklen, uint64_t hash, const void *val, uint32_t vlen) {
  heap_be *h = (heap_be *)be;
  table *t;
  slot *s;
  int rc = upsert(h, kg, sid, ck, cklen, hash, vlen, &t, &s);
  if (rc) return rc;
  uint32_t old = slot_vlen(s);
  if ((uint64_t)old + vlen > UINT32_MAX / 2) return fail(h, -SL_ESTATE, "value too large");
  uint8_t tmp[INL_BYTES];
  val = own_view(s, val, vlen, tmp);
  if ((rc = make_writable(h, t, s, old + vlen, old, NULL))) return rc;
  memmove(slot_val(s) + old, val, vlen);
  set_vlen(s, old + vlen);
  return 0;
}

static int heap_del(sl__backend *be, int kg, uint32_t sid, const void *ck,
                    uint32_t cklen, uint64_t hash) {
  heap_be *h = (heap_be *)be;
  table *t = get_table(h, kg, sid);
  if (!t || !t->count) return 0;
  uint32_t mask = t->cap - 1, i = find(t, hash, ck, cklen);
  if (!t->slots[i].kind) return 0;
  sstat *st = &h->stats[t->sid];
  if (t->slots[i].kind == SLOT_PTR) {
    entry *e = t->slots[i].u.e;
    if (shared(h, e)) {
      int rc = retire(h, t, e);
      if (rc) return rc;
    }
    st->bytes -= entry_bytes(e);
    if (!shared(h, e)) sl__free(e);
  }
  st->entries--;
  /* backward-shift deletion keeps probe sequences intact */
  uint32_t j = i;
  for (;;) {
    t->slots[i].kind = SLOT_EMPTY;
    for (;;) {
      j = (j + 1) & mask;
      if (!t->slots[j].kind) {
        t->count--;
        return 0;
      }
      uint32_t hj = home(t->slots[j].hash, mask);
      /* move j back to i unless its home lies cyclically in (i, j] */
      if (i <= j ? (hj <= i || hj > j) : (hj <= i && hj > j)) break;
    }
    t->slots[i] = t->slots[j];
    i = j;
  }
}

static int scan(slot *slots, uint32_t cap, const void *prefix, uint32_t plen,
                sl__entry_fn fn, void *arg) {
  for (uint32_t i = 0; i < cap; i++) {
    slot *s = &slots[i];
    if (!s->kind) continue;
    uint8_t buf[INL_BYTES + 2];
    uint32_t cklen;
    const uint8_t *ck = slot_ck(s, buf, &cklen);
    if (cklen < plen || (plen && memcmp(ck, prefix, plen))) continue;
    int rc = fn(arg, ck, cklen, slot_val(s), slot_vlen(s));
    if (rc) return rc;
  }
  return 0;
}

static int heap_iter(sl__backend *be, int kg, uint32_t sid, const void *prefix,
                     uint32_t plen, sl__entry_fn fn, void *arg) {
  table *t = get_table((heap_be *)be, kg, sid);
  if (!t || !t->count) return 0;
  return scan(t->slots, t->cap, prefix, plen, fn, arg);
}

/* ---- snapshots --------------------------------------------------------------- */

static void release_copies(heap_be *h) {
  for (uint32_t sid = 0; sid < h->n_tables; sid++)
    for (int k = 0; k <= h->base.kg_hi - h->base.kg_lo; k++) {
      table *t = &h->tables[sid][k];
      sl__free(t->snap);
      t->snap = NULL;
      t->snap_cap = 0;
      for (uint32_t i = 0; i < t->n_retired; i++) sl__free(t->retired[i]);
      t->n_retired = 0;
    }
}

static int heap_snapshot(sl__backend *be, sl__snapshot **out) {
  heap_be *h = (heap_be *)be;
  if (h->snap_version) return fail(h, -SL_ESTATE, "a snapshot is already open");
  sl__snapshot *snap = sl__calloc(1, sizeof *snap);
  if (snap && h->n_tables && !(snap->tables = sl__memdup(h->tables, h->n_tables * sizeof *h->tables))) {
    sl__free(snap);
    snap = NULL;
  }
  if (!snap || sl__backend_snap_meta(be)) {
    if (snap) sl__free(snap->tables);
    sl__free(snap);
    return fail(h, -SL_ENOMEM, "out of memory");
  }
  snap->be = h;
  snap->n_tables = h->n_tables;
  for (uint32_t sid = 0; sid < h->n_tables; sid++)
    for (int k = 0; k <= be->kg_hi - be->kg_lo; k++) {
      table *t = &h->tables[sid][k];
      if (!t->count) continue;
      t->snap = sl__memdup(t->slots, t->cap * sizeof *t->slots);
      if (!t->snap) {
        release_copies(h);
        sl__backend_snap_meta_free(be);
        sl__free(snap->tables);
        sl__free(snap);
        return fail(h, -SL_ENOMEM, "out of memory for a snapshot");
      }
      t->snap_cap = t->cap;
    }
  h->snap_version = h->version++;
  *out = snap;
  return 0;
}

static int heap_snap_iter(sl__snapshot *snap, int kg, uint32_t sid,
                          sl__entry_fn fn, void *arg) {
  heap_be *h = snap->be;
  /* states registered after the snapshot have no entries in it */
  if (sid >= snap->n_tables || kg < h->base.kg_lo || kg > h->base.kg_hi) return 0;
  table *t = &snap->tables[sid][kg - h->base.kg_lo];
  if (!t->snap) return 0;
  return scan(t->snap, t->snap_cap, NULL, 0, fn, arg);
}

static void heap_snap_release(sl__snapshot *snap) {
  if (!snap) return;
  release_copies(snap->be);
  snap->be->snap_version = 0;
  sl__backend_snap_meta_free(&snap->be->base);
  sl__free(snap->tables);
  sl__free(snap);
}

/* ---- figures ----------------------------------------------------------------- */

static int heap_state_stats(sl__backend *be, uint32_t sid, uint64_t *entries,
                            uint64_t *bytes) {
  heap_be *h = (heap_be *)be;
  if (sid >= h->n_tables) return fail(h, -SL_ESTATE, "unknown state id");
  *entries = h->stats[sid].entries;
  *bytes = h->stats[sid].bytes;
#ifdef SL_DEBUG /* the running counts are what a walk finds */
  uint64_t n = 0, b = 0;
  for (int k = 0; k <= be->kg_hi - be->kg_lo; k++) {
    const table *t = &h->tables[sid][k];
    n += t->count;
    b += (uint64_t)t->cap * sizeof(slot);
    for (uint32_t i = 0; i < t->cap; i++)
      if (t->slots[i].kind == SLOT_PTR) b += entry_bytes(t->slots[i].u.e);
  }
  SL_ASSERT(n == *entries && b == *bytes);
#endif
  return 0;
}

static void heap_free(sl__backend *be) {
  heap_be *h = (heap_be *)be;
  if (!h) return;
  release_copies(h);
  for (uint32_t sid = 0; sid < h->n_tables; sid++) {
    for (int k = 0; k <= be->kg_hi - be->kg_lo; k++) {
      table *t = &h->tables[sid][k];
      for (uint32_t i = 0; i < t->cap; i++)
        if (t->slots[i].kind == SLOT_PTR) sl__free(t->slots[i].u.e);
      sl__free(t->slots);
      sl__free(t->retired);
    }
    sl__free(h->tables[sid]);
  }
  sl__free(h->tables);
  sl__free(h->stats);
  sl__free(h->dead);
  sl__backend_meta_free(be);
  sl__free_private(h);
}

static const sl__backend_vt heap_vt = {
    .name = "hashmap",
    .add_state = heap_add_state,
    .get = heap_get,
    .put = heap_put,
    .append = heap_append,
    .del = heap_del,
    .prefetch = heap_prefetch,
    .iter = heap_iter,
    .snapshot = heap_snapshot,
    .snap_iter = heap_snap_iter,
    .snap_release = heap_snap_release,
    .free = heap_free,
    .state_stats = heap_state_stats,
};

int sl__heap_backend_open(const sl__conf *conf, int kg_lo, int kg_hi,
                          int max_parallelism, sl__backend **out, char *err,
                          size_t errcap) {
  (void)conf;
  heap_be *h = sl__calloc_private(sizeof *h);
  if (!h) {
    sl__fmt(err, errcap, "heap state backend: out of memory");
    return -SL_ENOMEM;
  }
  h->base.vt = &heap_vt;
  h->base.kg_lo = kg_lo;
  h->base.kg_hi = kg_hi;
  h->base.max_parallelism = max_parallelism;
  h->version = 1;
  *out = &h->base;
  return 0;
}

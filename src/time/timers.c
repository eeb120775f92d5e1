/*
 * timers.c -- per-instance timer service: for each time domain a binary
 * min-heap of timers ordered by timestamp plus a hash set for deduplication
 * and deletion.  A deleted timer stays in the heap, marked, and is dropped
 * when it reaches the top (lazy deletion keeps both operations O(log n)).
 * Timers are written through to keyed state for snapshots (timers.h).
 */
#include "time/timers.h"

#include "state/state.h"

typedef struct timer {
  int64_t ts;
  uint64_t hash;
  uint32_t klen, nslen;
  uint64_t key_hash; /* sl__key_hash of the key: its key group when it fires */
  uint8_t deleted;
  uint8_t data[]; /* key, then namespace */
} timer;

typedef struct tq {
  timer **heap;
  size_t n, cap;
  timer **set; /* open addressing by hash; NULL empty, TOMB removed */
  size_t set_cap, set_used; /* used counts tombstones too */
} tq;

struct sl__timers {
  sl__inst *inst;
  sl__timer_cb cb;
  tq q[2];
  sl_state *persist[2];
  uint8_t *nsbuf;
  uint32_t nscap;
};

static timer TOMB_;
#define TOMB (&TOMB_)

static const sl_state_desc persist_desc[2] = {
    {.name = "__timers_event", .kind = SL_STATE_VALUE},
    {.name = "__timers_processing", .kind = SL_STATE_VALUE}};

int sl__timers_new(sl__inst *inst, sl__timer_cb cb, sl__timers **out) {
  sl__timers *t = sl__calloc(1, sizeof *t);
  if (!t) return -SL_ENOMEM;
  t->inst = inst;
  t->cb = cb;
  for (int d = 0; d < 2; d++) {
    int rc = sl_state_get(&inst->ctx, &persist_desc[d], &t->persist[d]);
    if (rc) {
      sl__free(t);
      return rc;
    }
  }
  *out = t;
  return 0;
}

void sl__timers_free(sl__timers *t) {
  if (!t) return;
  for (int d = 0; d < 2; d++) {
    for (size_t i = 0; i < t->q[d].n; i++) sl__free(t->q[d].heap[i]);
    sl__free(t->q[d].heap);
    sl__free(t->q[d].set);
  }
  sl__free(t->nsbuf);
  sl__free(t);
}

/* ---- hash set ---------------------------------------------------------------- */

static uint64_t timer_hash(int64_t ts, const void *key, uint32_t klen, const void *ns,
                           uint32_t nslen) {
  return sl__key_hash(key, klen) ^ (sl__key_hash(ns, nslen) * 0x9E3779B97F4A7C15ull) ^
         ((uint64_t)ts * 0xC2B2AE3D27D4EB4Full);
}

static int same(const timer *x, int64_t ts, const void *key, uint32_t klen, const void *ns,
                uint32_t nslen) {
  return x->ts == ts && x->klen == klen && x->nslen == nslen &&
         !memcmp(x->data, key, klen) && !memcmp(x->data + klen, ns, nslen);
}

/* Slot of an equal timer, or -1 (and *free_slot = where it would go). */
static ptrdiff_t set_find(tq *q, uint64_t h, int64_t ts, const void *key, uint32_t klen,
                          const void *ns, uint32_t nslen, ptrdiff_t *free_slot) {
  *free_slot = -1;
  if (!q->set_cap) return -1;
  size_t mask = q->set_cap - 1;
  for (size_t i = h & mask, probes = 0; probes < q->set_cap; i = (i + 1) & mask, probes++) {
    timer *x = q->set[i];
    if (!x) {
      if (*free_slot < 0) *free_slot = (ptrdiff_t)i;
      return -1;
    }
    if (x == TOMB) {
      if (*free_slot < 0) *free_slot = (ptrdiff_t)i;
      continue;
    }
    if (x->hash == h && same(x, ts, key, klen, ns, nslen)) return (ptrdiff_t)i;
  }
  return -1;
}

/* Rebuild without tombstones, sized for the live timers (so churn does not
 * grow the table). */
static int set_grow(tq *q) {
  size_t live = 0;
  for (size_t i = 0; i < q->set_cap; i++) live += q->set[i] && q->set[i] != TOMB;
  size_t ncap = 64;
  while (ncap < 4 * (live + 1)) ncap *= 2;
  timer **ns = sl__calloc(ncap, sizeof *ns);
  if (!ns) return -SL_ENOMEM;
  for (size_t i = 0; i < q->set_cap; i++) {
    timer *x = q->set[i];
    if (!x || x == TOMB) continue;
    size_t j = x->hash & (ncap - 1);
    while (ns[j]) j = (j + 1) & (ncap - 1);
    ns[j] = x;
  }
  sl__free(q->set);
  q->set = ns;
  q->set_cap = ncap;
  q->set_used = live;
  return 0;
}

/* ---- heap -------------------------------------------------------------------- */

static void sift_up(tq *q, size_t i) {
  timer *x = q->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (q->heap[p]->ts <= x->ts) break;
    q->heap[i] = q->heap[p];
    i = p;
  }
  q->heap[i] = x;
}

static void sift_down(tq *q, size_t i) {
  timer *x = q->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= q->n) break;
    if (c + 1 < q->n && q->heap[c + 1]->ts < q->heap[c]->ts) c++;
    if (x->ts <= q->heap[c]->ts) break;
    q->heap[i] = q->heap[c];
    i = c;
  }
  q->heap[i] = x;
}

static timer *heap_pop(tq *q) {
  timer *top = q->heap[0];
  q->heap[0] = q->heap[--q->n];
  if (q->n) sift_down(q, 0);
  return top;
}

/* ---- persistence (namespace = ts big-endian + ns) ------------------------------ */

const char *sl__timers_state_name(sl_time_domain d) { return persist_desc[d].name; }

uint32_t sl__timer_persist_ns(uint8_t *out, int64_t ts, const void *ns, uint32_t nslen) {
  uint64_t u = (uint64_t)ts ^ (1ull << 63); /* order-preserving */
  for (int i = 0; i < 8; i++) out[i] = (uint8_t)(u >> (56 - 8 * i));
  if (nslen) memcpy(out + 8, ns, nslen);
  return nslen + 8;
}

static int persist(sl__timers *t, sl_time_domain d, int64_t ts, const void *ns,
                   uint32_t nslen, int add) {
  if (nslen + 8 > t->nscap) {
    uint8_t *b = sl__realloc(t->nsbuf, nslen + 8);
    if (!b) return -SL_ENOMEM;
    t->nsbuf = b;
    t->nscap = nslen + 8;
  }
  sl__timer_persist_ns(t->nsbuf, ts, ns, nslen);
  sl_state *s = t->persist[d];
  int rc = sl_state_namespace(s, t->nsbuf, nslen + 8);
  if (!rc) rc = add ? sl_value_set(s, "", 0) : sl_state_clear(s);
  return rc;
}

/* ---- API --------------------------------------------------------------------- */

/* Insert (deduplicated); persist = write it through to keyed state. */
static int insert(sl__timers *t, sl_time_domain d, int64_t ts, sl_bytes key, uint64_t key_hash,
                  const void *ns, uint32_t nslen, int persist_it) {
  tq *q = &t->q[d];
  uint64_t h = timer_hash(ts, key.data, key.len, ns, nslen);
  ptrdiff_t free_slot;
  if (set_find(q, h, ts, key.data, key.len, ns, nslen, &free_slot) >= 0) return 0; /* dedup */
  if ((q->set_used + 1) * 2 > q->set_cap) {
    int rc = set_grow(q);
    if (rc) return rc;
    set_find(q, h, ts, key.data, key.len, ns, nslen, &free_slot);
  }
  if (q->n == q->cap) {
    size_t ncap = q->cap ? 2 * q->cap : 64;
    timer **nh = sl__realloc(q->heap, ncap * sizeof *nh);
    if (!nh) return -SL_ENOMEM;
    q->heap = nh;
    q->cap = ncap;
  }
  timer *x = sl__malloc(sizeof *x + key.len + nslen);
  if (!x) return -SL_ENOMEM;
  *x = (timer){ts, h, key.len, nslen, key_hash, 0};
  memcpy(x->data, key.data, key.len);
  if (nslen) memcpy(x->data + key.len, ns, nslen);
  if (!q->set[free_slot]) q->set_used++;
  q->set[free_slot] = x;
  q->heap[q->n] = x;
  sift_up(q, q->n++);
  return persist_it ? persist(t, d, ts, ns, nslen, 1) : 0;
}

int sl__timer_add(sl__timers *t, sl_time_domain d, int64_t ts, const void *ns,
                  uint32_t nslen) {
  if (!ns) ns = ""; /* memcmp/memcpy need a pointer even for 0 bytes */
  sl_bytes key;
  uint64_t key_hash;
  if (sl_ctx_key(&t->inst->ctx, &key)) {
    key = (sl_bytes){"", 0};
    key_hash = sl__key_hash("", 0);
  } else {
    key_hash = sl__kstate_key_hash(t->inst->ks); /* as the record brought it */
  }
  return insert(t, d, ts, key, key_hash, ns, nslen, 1);
}

/* ---- restore: every persisted timer back into the queues ---------------------- */

typedef struct restore_arg {
  sl__timers *t;
  sl_time_domain d;
  int rc;
} restore_arg;

static int restore_entry(void *arg, const void *ck, uint32_t cklen, const void *v, uint32_t vlen) {
  restore_arg *a = arg;
  const uint8_t *p = ck;
  uint32_t klen, nslen, n1, n2;
  if (!(n1 = sl__varint_get(p, cklen, &klen)) || n1 + klen > cklen) return 0;
  if (!(n2 = sl__varint_get(p + n1 + klen, cklen - n1 - klen, &nslen)) ||
      n1 + klen + n2 + nslen != cklen || nslen < 8)
    return 0;
  const uint8_t *ns = p + n1 + klen + n2;
  uint64_t u = 0;
  for (int i = 0; i < 8; i++) u = u << 8 | ns[i];
  int64_t ts = (int64_t)(u ^ (1ull << 63));
  a->rc = insert(a->t, a->d, ts, (sl_bytes){p + n1, klen}, sl__key_hash(p + n1, klen), ns + 8,
                 nslen - 8, 0);
  return a->rc;
}

int sl__timers_restore(sl__timers *t) {
  sl__backend *be = sl__kstate_backend(t->inst->ks);
  for (int d = 0; d < 2; d++) {
    uint32_t sid;
    int rc = be->vt->add_state(be, persist_desc[d].name, SL__STATE_VALUE, &sid);
    for (int kg = be->kg_lo; !rc && kg <= be->kg_hi; kg++) {
      restore_arg a = {t, (sl_time_domain)d, 0};
      rc = be->vt->iter(be, kg, sid, NULL, 0, restore_entry, &a);
      if (!rc) rc = a.rc;
    }
    if (rc) return rc;
  }
  return 0;
}

int sl__timer_del(sl__timers *t, sl_time_domain d, int64_t ts, const void *ns,
                  uint32_t nslen) {
  if (!ns) ns = ""; /* memcmp/memcpy need a pointer even for 0 bytes */
  sl_bytes key;
  if (sl_ctx_key(&t->inst->ctx, &key)) key = (sl_bytes){"", 0};
  tq *q = &t->q[d];
  uint64_t h = timer_hash(ts, key.data, key.len, ns, nslen);
  ptrdiff_t free_slot, i = set_find(q, h, ts, key.data, key.len, ns, nslen, &free_slot);
  if (i < 0) return 0;
  q->set[i]->deleted = 1; /* dropped when it reaches the top of the heap */
  q->set[i] = TOMB;
  return persist(t, d, ts, ns, nslen, 0);
}

int64_t sl__timers_next(sl__timers *t, sl_time_domain d) {
  tq *q = &t->q[d];
  while (q->n && q->heap[0]->deleted) sl__free(heap_pop(q));
  return q->n ? q->heap[0]->ts : INT64_MAX;
}

int sl__timers_fire(sl__timers *t, sl_time_domain d, int64_t until) {
  tq *q = &t->q[d];
  sl__inst *inst = t->inst;
  int rc = 0;
  while (!rc && sl__timers_next(t, d) <= until && q->n) {
    timer *x = heap_pop(q);
    ptrdiff_t free_slot,
        i = set_find(q, x->hash, x->ts, x->data, x->klen, x->data + x->klen, x->nslen, &free_slot);
    if (i >= 0 && q->set[i] == x) q->set[i] = TOMB;
    sl__kstate_set_key_h(inst->ks, x->data, x->klen, x->key_hash,
                         sl__key_group(x->key_hash, inst->job->max_parallelism));
    rc = persist(t, d, x->ts, x->data + x->klen, x->nslen, 0);
    if (!rc) rc = t->cb(inst, d, x->ts, x->data + x->klen, x->nslen);
    sl__free(x);
  }
  return rc;
}

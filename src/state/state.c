/*
 * state.c -- keyed state as user functions see it (sl_state_* in sluice.h),
 * mapped onto a backend (backend.h).
 *
 * Every keyed operator instance owns an sl__kstate: its backend, the key of
 * the record being processed (set by the runtime before each call, with its
 * key group), and one handle per descriptor.  An access builds the composite
 * key  varint(klen) key varint(nslen) ns [user key]  in a reusable buffer.
 *
 * Value encodings (what the backend stores):
 *   value        payload
 *   list         elements: u32 len, [u64 expiry], bytes     (append = add)
 *   map          one entry per user key: [u64 expiry], value
 *   reducing     [u64 expiry], `size` bytes
 *   aggregating  [u64 expiry], `size`-byte accumulator
 * [u64 expiry] is present only when the descriptor has a TTL: the absolute
 * processing time (ms) after which the value is treated as absent and
 * removed when touched.
 */
#include <stdarg.h>
#include <stdio.h>

#include "runtime/runtime.h"
#include "state/state.h"

/* ---- the state of an operator instance ------------------------------------ */

sl__kstate *sl__ctx_kstate(sl_ctx *ctx) { return ctx->inst->ks; }
sl__kstate *sl__ctx_bstate(sl_ctx *ctx) { return ctx->inst->bs; }

/* Operator and broadcast state: a heap store of one key group (0) and an
 * empty key; the list or map is the state itself. */
int sl__unkeyed_state_new(struct sl__inst *inst, const char *what, sl__kstate **out) {
  sl__backend *be;
  char err[256];
  int rc = sl__heap_backend_open(inst->job->conf, 0, 0, inst->job->max_parallelism,
                                 &be, err, sizeof err);
  if (!rc) rc = sl__kstate_new(be, &inst->ctx, what, out);
  if (!rc) sl__kstate_set_key(*out, NULL, 0, 0);
  return rc;
}

int sl__ctx_ostate(sl_ctx *ctx, sl__kstate **out) {
  sl__inst *inst = ctx->inst;
  int rc = inst->os ? 0 : sl__unkeyed_state_new(inst, "operator", &inst->os);
  *out = inst->os;
  return rc;
}

struct sl_state {
  sl__kstate *ks;
  const sl_state_desc *desc;
  uint32_t sid;
  uint8_t *ns;
  uint32_t nslen;
};

struct sl__kstate {
  sl__backend *be;
  sl_ctx *ctx;
  const char *what; /* "keyed" | "operator" | "broadcast", for messages */
  int readonly;     /* broadcast state seen from the non-broadcast side */
  int no_key;       /* keyed state seen from the broadcast side */
  const void *key;
  uint32_t klen;
  uint64_t key_hash; /* sl__key_hash(key) */
  int kg;
  sl_state **handles;
  uint32_t n_handles, last_h;
  uint8_t *ck;
  uint32_t ckcap;
  /* ck holds the key of (ck_owner, epoch): a get and set of one state for
   * one record build it once.  epoch changes with the key and namespaces.
   * ck_hash is its sl__ck_hash. */
  const sl_state *ck_owner;
  uint32_t ck_epoch, ck_len, epoch;
  uint64_t ck_hash;
  uint8_t *vbuf; /* scratch for values built here (TTL wrap, accumulators) */
  uint32_t vcap;
  /* state kept outside the backend (sl__kstate_set_outside), or NULL fn */
  const char *out_state;
  sl__outside_stats_fn out_fn;
  void *out_ud;
};

/* ---- clock (processing time for TTL; tests replace it) -------------------- */

static int64_t real_clock(void) { return sl__clock_ms(); }
static int64_t (*g_clock)(void) = real_clock;
void sl__state_set_clock(int64_t (*clock_ms)(void)) {
  g_clock = clock_ms ? clock_ms : real_clock;
}

/* ---- instance context ------------------------------------------------------- */

int sl__kstate_new(sl__backend *be, sl_ctx *ctx, const char *what,
                   sl__kstate **out) {
  sl__kstate *ks = sl__calloc_private(sizeof *ks);
  if (!ks) {
    sl__backend_free(be);
    return -SL_ENOMEM;
  }
  ks->be = be;
  ks->ctx = ctx;
  ks->what = what;
  *out = ks;
  return 0;
}

void sl__kstate_free(sl__kstate *ks) {
  if (!ks) return;
  for (uint32_t i = 0; i < ks->n_handles; i++) {
    sl__free(ks->handles[i]->ns);
    sl__free(ks->handles[i]);
  }
  sl__free(ks->handles);
  sl__free(ks->ck);
  sl__free(ks->vbuf);
  sl__backend_free(ks->be);
  sl__free_private(ks);
}

sl__backend *sl__kstate_backend(sl__kstate *ks) { return ks->be; }

void sl__kstate_set_outside(sl__kstate *ks, const char *state, sl__outside_stats_fn fn,
                            void *ud) {
  ks->out_state = fn ? state : NULL;
  ks->out_fn = fn;
  ks->out_ud = fn ? ud : NULL;
}

int sl__kstate_stats(sl__kstate *ks, sl__state_stats_fn fn, void *ud) {
  if (!ks || !ks->be->vt->state_stats) return 0;
  sl__backend *be = ks->be;
  for (uint32_t sid = 0; sid < be->n_states; sid++) {
    uint64_t entries = 0, bytes = 0;
    int rc = be->vt->state_stats(be, sid, &entries, &bytes);
    if (rc) return rc;
    const char *name = be->states[sid].name;
    if (ks->out_fn && !strcmp(name, ks->out_state)) ks->out_fn(ks->out_ud, &entries, &bytes);
    if ((rc = fn(ud, name, entries, bytes))) return rc;
  }
  return 0;
}

void sl__kstate_key(const sl__kstate *ks, sl_bytes *out) {
  *out = (sl_bytes){ks->key ? ks->key : "", ks->klen};
}

void sl__kstate_set_readonly(sl__kstate *ks, int readonly) { ks->readonly = readonly; }
void sl__kstate_set_no_key(sl__kstate *ks, int no_key) { ks->no_key = no_key; }

void sl__kstate_set_key_h(sl__kstate *ks, const void *key, uint32_t klen, uint64_t hash,
                          int kg) {
  ks->key = key;
  ks->klen = klen;
  ks->key_hash = hash;
  ks->kg = kg;
  ks->epoch++;
}

void sl__kstate_prefetch(sl__kstate *ks, uint64_t slot_hash, uint64_t entry_hash) {
  sl__backend *be = ks->be;
  if (!be->vt->prefetch) return;
  for (uint32_t i = 0; i < ks->n_handles; i++) {
    const sl_state *s = ks->handles[i];
    /* a composite key of the key alone hashes to the key's hash (only a
     * hint: a wrong guess costs a useless load, nothing else) */
    if (!s->nslen) be->vt->prefetch(be, s->sid, slot_hash, entry_hash);
  }
}

uint64_t sl__kstate_key_hash(const sl__kstate *ks) { return ks->key_hash; }

void sl__kstate_set_key(sl__kstate *ks, const void *key, uint32_t klen, int kg) {
  sl__kstate_set_key_h(ks, key, klen, sl__key_hash(key, klen), kg);
}

/* ---- errors ----------------------------------------------------------------- */

static int state_fail(sl_state *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int state_fail(sl_state *s, int rc, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  sl__vfmt(msg, sizeof msg, fmt, ap);
  va_end(ap);
  sl_ctx_fail(s->ks->ctx, "%s state '%s' (%s backend): %s", s->ks->what,
              s->desc->name, s->ks->be->vt->name, msg);
  return rc;
}

static int be_fail(sl_state *s, int rc) {
  return state_fail(s, rc, "%s", s->ks->be->err);
}

/* ---- handles ---------------------------------------------------------------- */

static int kind_ok(const sl_state_desc *d) {
  switch (d->kind) {
    case SL_STATE_VALUE:
    case SL_STATE_LIST:
    case SL_STATE_MAP: return 1;
    case SL_STATE_REDUCING: return d->size && d->reduce;
    case SL_STATE_AGGREGATING:
      return d->size && d->agg_create && d->agg_add && d->agg_result;
    case SL_STATE_UNION_LIST: return 1;
  }
  return 0;
}

static int handle_get(sl__kstate *ks, sl_ctx *ctx, const sl_state_desc *desc,
                      sl_state **out) {
  if (SL__LIKELY(ks->n_handles) && ks->handles[ks->last_h]->desc == desc) {
    *out = ks->handles[ks->last_h]; /* the one asked for last time */
    return 0;
  }
  for (uint32_t i = 0; i < ks->n_handles; i++)
    if (ks->handles[i]->desc == desc) {
      *out = ks->handles[i];
      ks->last_h = i;
      return 0;
    }
  if (!desc->name || !desc->name[0] || !kind_ok(desc))
    return sl_ctx_fail(ctx, "state descriptor '%s' is incomplete (name, kind, "
                            "size and the functions its kind needs)",
                       desc->name ? desc->name : "?"),
           -SL_EINVAL;
  uint32_t sid;
  int rc = ks->be->vt->add_state(ks->be, desc->name, (sl__state_kind)desc->kind, &sid);
  if (rc)
    return sl_ctx_fail(ctx, "state '%s': %s", desc->name, ks->be->err), rc;
  sl_state **hs = sl__realloc(ks->handles, (ks->n_handles + 1) * sizeof *hs);
  sl_state *s = sl__calloc(1, sizeof *s);
  if (!hs || !s) {
    if (hs) ks->handles = hs;
    sl__free(s);
    return -SL_ENOMEM;
  }
  ks->handles = hs;
  *s = (sl_state){ks, desc, sid, NULL, 0};
  hs[ks->n_handles++] = s;
  *out = s;
  return 0;
}

int sl_state_get(sl_ctx *ctx, const sl_state_desc *desc, sl_state **out) {
  if (!ctx || !desc || !out) return -SL_EINVAL;
  sl__kstate *ks = sl__ctx_kstate(ctx);
  if (!ks)
    return sl_ctx_fail(ctx,
                       "state '%s' used in operator '%s', which is not keyed "
                       "(apply it to a stream from sl_key_by)",
                       desc->name ? desc->name : "?", sl_ctx_operator(ctx)),
           -SL_ESTATE;
  if (desc->kind == SL_STATE_UNION_LIST)
    return sl_ctx_fail(ctx, "state '%s': union list state is operator state "
                            "(use sl_operator_state_get)", desc->name),
           -SL_ESTATE;
  return handle_get(ks, ctx, desc, out);
}

int sl_broadcast_state_get(sl_ctx *ctx, const sl_state_desc *desc, sl_state **out) {
  if (!ctx || !desc || !out) return -SL_EINVAL;
  sl__kstate *ks = sl__ctx_bstate(ctx);
  if (!ks)
    return sl_ctx_fail(ctx,
                       "broadcast state '%s' used in operator '%s', which is not "
                       "a broadcast connect (sl_connect_broadcast)",
                       desc->name ? desc->name : "?", sl_ctx_operator(ctx)),
           -SL_ESTATE;
  if (desc->kind != SL_STATE_MAP)
    return sl_ctx_fail(ctx, "broadcast state '%s' must be a map state", desc->name),
           -SL_ESTATE;
  return handle_get(ks, ctx, desc, out);
}

int sl_operator_state_get(sl_ctx *ctx, const sl_state_desc *desc, sl_state **out) {
  if (!ctx || !desc || !out) return -SL_EINVAL;
  if ((desc->kind != SL_STATE_LIST && desc->kind != SL_STATE_UNION_LIST) ||
      desc->ttl_ms)
    return sl_ctx_fail(ctx,
                       "operator state '%s' must be a list or union list state "
                       "without time-to-live",
                       desc->name ? desc->name : "?"),
           -SL_ESTATE;
  sl__kstate *ks;
  int rc = sl__ctx_ostate(ctx, &ks);
  if (rc) return sl_ctx_fail(ctx, "operator state '%s': cannot create its store", desc->name), rc;
  return handle_get(ks, ctx, desc, out);
}

int sl_state_namespace(sl_state *s, const void *ns, uint32_t len) {
  if (len > s->nslen || !s->ns) {
    uint8_t *p = sl__realloc(s->ns, len ? len : 1);
    if (!p) return -SL_ENOMEM;
    s->ns = p;
  }
  if (len) memcpy(s->ns, ns, len);
  s->nslen = len;
  s->ks->epoch++;
  return 0;
}

/* ---- composite keys and buffers ---------------------------------------------- */

static int reserve(uint8_t **buf, uint32_t *cap, uint32_t need) {
  if (need <= *cap) return 0;
  uint32_t ncap = SL__MAX(need, *cap ? *cap * 2 : 256);
  uint8_t *p = sl__realloc(*buf, ncap);
  if (!p) return -SL_ENOMEM;
  *buf = p;
  *cap = ncap;
  return 0;
}

/* Build ck for the current key and namespace (+ user key) in ks->ck. */
static int build_ck(sl_state *s, const void *ukey, uint32_t uklen, uint32_t *cklen) {
  sl__kstate *ks = s->ks;
  if (ks->no_key)
    return state_fail(s, -SL_ESTATE,
                      "no current key in the broadcast function (keyed state is "
                      "available in the non-broadcast function)");
  if (!uklen && ks->ck_owner == s && ks->ck_epoch == ks->epoch) {
    *cklen = ks->ck_len;
    return 0;
  }
  ks->ck_owner = uklen ? NULL : s;
  ks->ck_epoch = ks->epoch;
  if (ks->klen <= 16 && !s->nslen && !uklen && ks->ckcap >= 18) {
    /* the common case, a short key alone: its hash is the key's */
    uint8_t *p = ks->ck;
    p[0] = (uint8_t)ks->klen;
    sl__copy16(p + 1, ks->key, ks->klen);
    p[1 + ks->klen] = 0;
    *cklen = ks->ck_len = ks->klen + 2;
    ks->ck_hash = ks->key_hash;
    return 0;
  }
  uint32_t need = 10 + ks->klen + s->nslen + uklen;
  if (reserve(&ks->ck, &ks->ckcap, need)) return state_fail(s, -SL_ENOMEM, "out of memory");
  uint8_t *p = ks->ck;
  uint32_t n = sl__ck_put(p, ks->key, ks->klen, s->ns, s->nslen);
  uint32_t rest = n - s->nslen - sl__varint_size(s->nslen); /* where the key ends */
  if (uklen) memcpy(p + n, ukey, uklen);
  *cklen = n + uklen;
  ks->ck_hash = sl__ck_hash_rest(ks->key_hash, p + rest, *cklen - rest);
  ks->ck_len = n;
  return 0;
}

static inline int has_ttl(const sl_state *s) { return s->desc->ttl_ms > 0; }

static int64_t rd64(const void *p) {
  int64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* Get the stored value of ck; handles TTL: expired -> deleted, SL_EMPTY;
 * on-read-and-write refreshes.  *out excludes the expiry prefix. */
static int get_raw(sl_state *s, uint32_t cklen, sl_bytes *out) {
  sl__kstate *ks = s->ks;
  const void *v;
  uint32_t vlen;
  int rc = ks->be->vt->get(ks->be, ks->kg, s->sid, ks->ck, cklen, ks->ck_hash, &v, &vlen);
  if (rc < 0) return be_fail(s, rc);
  if (rc) return SL_EMPTY;
  if (has_ttl(s) && s->desc->kind != SL_STATE_LIST) {
    if (vlen < 8) return state_fail(s, -SL_ESTATE, "stored value shorter than its TTL header");
    int64_t now = g_clock();
    if (rd64(v) <= now) {
      rc = ks->be->vt->del(ks->be, ks->kg, s->sid, ks->ck, cklen, ks->ck_hash);
      return rc ? be_fail(s, rc) : SL_EMPTY;
    }
    if (s->desc->ttl_update == SL_TTL_ON_READ_AND_WRITE) {
      if (reserve(&ks->vbuf, &ks->vcap, vlen)) return state_fail(s, -SL_ENOMEM, "out of memory");
      int64_t exp = now + s->desc->ttl_ms;
      memcpy(ks->vbuf, &exp, 8);
      memcpy(ks->vbuf + 8, (const uint8_t *)v + 8, vlen - 8);
      rc = ks->be->vt->put(ks->be, ks->kg, s->sid, ks->ck, cklen, ks->ck_hash, ks->vbuf, vlen);
      if (rc) return be_fail(s, rc);
      rc = ks->be->vt->get(ks->be, ks->kg, s->sid, ks->ck, cklen, ks->ck_hash, &v, &vlen);
      if (rc) return rc < 0 ? be_fail(s, rc) : SL_EMPTY;
    }
    v = (const uint8_t *)v + 8;
    vlen -= 8;
  }
  *out = (sl_bytes){v, vlen};
  return 0;
}

static int writable(sl_state *s) {
  if (!s->ks->readonly) return 0;
  return state_fail(s, -SL_ESTATE,
                    "is read-only here (write it in the broadcast function)");
}

/* Put payload (prefixed with a fresh expiry when the state has a TTL). */
static int put_raw(sl_state *s, uint32_t cklen, const void *data, uint32_t len) {
  sl__kstate *ks = s->ks;
  int rc = writable(s);
  if (rc) return rc;
  if (has_ttl(s)) {
    if (reserve(&ks->vbuf, &ks->vcap, len + 8)) return state_fail(s, -SL_ENOMEM, "out of memory");
    int64_t exp = g_clock() + s->desc->ttl_ms;
    memmove(ks->vbuf + 8, data, len); /* data may live in vbuf */
    memcpy(ks->vbuf, &exp, 8);
    rc = ks->be->vt->put(ks->be, ks->kg, s->sid, ks->ck, cklen, ks->ck_hash, ks->vbuf, len + 8);
  } else {
    rc = ks->be->vt->put(ks->be, ks->kg, s->sid, ks->ck, cklen, ks->ck_hash, data, len);
  }
  return rc ? be_fail(s, rc) : 0;
}

static int check_kind(sl_state *s, sl_state_kind kind, const char *op) {
  if (s->desc->kind == kind) return 0;
  if (kind == SL_STATE_LIST && s->desc->kind == SL_STATE_UNION_LIST) return 0;
  return state_fail(s, -SL_ESTATE, "%s called on a state of another kind", op);
}

/* ---- value ------------------------------------------------------------------- */

int sl_value_get(sl_state *s, sl_bytes *out) {
  uint32_t cklen;
  int rc = check_kind(s, SL_STATE_VALUE, "sl_value_get");
  if (!rc) rc = build_ck(s, NULL, 0, &cklen);
  return rc ? rc : get_raw(s, cklen, out);
}

int sl_value_set(sl_state *s, const void *data, uint32_t len) {
  uint32_t cklen;
  int rc = check_kind(s, SL_STATE_VALUE, "sl_value_set");
  if (!rc) rc = build_ck(s, NULL, 0, &cklen);
  return rc ? rc : put_raw(s, cklen, data, len);
}

/* ---- list -------------------------------------------------------------------- */

int sl_list_add(sl_state *s, const void *data, uint32_t len) {
  uint32_t cklen;
  int rc = check_kind(s, SL_STATE_LIST, "sl_list_add");
  if (!rc) rc = writable(s);
  if (!rc) rc = build_ck(s, NULL, 0, &cklen);
  if (rc) return rc;
  sl__kstate *ks = s->ks;
  uint32_t hdr = has_ttl(s) ? 12 : 4;
  if (reserve(&ks->vbuf, &ks->vcap, hdr + len)) return state_fail(s, -SL_ENOMEM, "out of memory");
  memcpy(ks->vbuf, &len, 4);
  if (has_ttl(s)) {
    int64_t exp = g_clock() + s->desc->ttl_ms;
    memcpy(ks->vbuf + 4, &exp, 8);
  }
  memcpy(ks->vbuf + hdr, data, len);
  rc = ks->be->vt->append(ks->be, ks->kg, s->sid, ks->ck, cklen, ks->ck_hash, ks->vbuf, hdr + len);
  return rc ? be_fail(s, rc) : 0;
}

int sl_list_get(sl_state *s, sl_list_iter *it) {
  uint32_t cklen;
  memset(it, 0, sizeof *it);
  int rc = check_kind(s, SL_STATE_LIST, "sl_list_get");
  if (!rc) rc = build_ck(s, NULL, 0, &cklen);
  if (rc) return rc;
  sl_bytes v;
  rc = get_raw(s, cklen, &v);
  if (rc) return rc;
  it->p = v.data;
  it->end = it->p + v.len;
  it->ttl = has_ttl(s);
  it->now = it->ttl ? g_clock() : 0;
  return 0;
}

int sl_list_next(sl_list_iter *it, sl_bytes *out) {
  uint32_t hdr = it->ttl ? 12 : 4;
  while (it->p && it->p + hdr <= it->end) {
    uint32_t len;
    memcpy(&len, it->p, 4);
    const uint8_t *data = it->p + hdr;
    int expired = it->ttl && rd64(it->p + 4) <= it->now;
    if (data + len > it->end) break; /* malformed: stop */
    it->p = data + len;
    if (expired) continue;
    *out = (sl_bytes){data, len};
    return 1;
  }
  return 0;
}

int sl_list_update(sl_state *s, const sl_bytes *items, size_t n) {
  uint32_t cklen;
  int rc = check_kind(s, SL_STATE_LIST, "sl_list_update");
  if (!rc) rc = writable(s);
  if (!rc) rc = build_ck(s, NULL, 0, &cklen);
  if (rc) return rc;
  sl__kstate *ks = s->ks;
  rc = ks->be->vt->del(ks->be, ks->kg, s->sid, ks->ck, cklen, ks->ck_hash);
  if (rc) return be_fail(s, rc);
  for (size_t i = 0; i < n && !rc; i++) rc = sl_list_add(s, items[i].data, items[i].len);
  return rc;
}

/* ---- map --------------------------------------------------------------------- */

int sl_map_get(sl_state *s, const void *ukey, uint32_t uklen, sl_bytes *out) {
  uint32_t cklen;
  int rc = check_kind(s, SL_STATE_MAP, "sl_map_get");
  if (!rc) rc = build_ck(s, ukey, uklen, &cklen);
  return rc ? rc : get_raw(s, cklen, out);
}

int sl_map_put(sl_state *s, const void *ukey, uint32_t uklen, const void *val,
               uint32_t vlen) {
  uint32_t cklen;
  int rc = check_kind(s, SL_STATE_MAP, "sl_map_put");
  if (!rc) rc = build_ck(s, ukey, uklen, &cklen);
  return rc ? rc : put_raw(s, cklen, val, vlen);
}

int sl_map_remove(sl_state *s, const void *ukey, uint32_t uklen) {
  uint32_t cklen;
  int rc = check_kind(s, SL_STATE_MAP, "sl_map_remove");
  if (!rc) rc = writable(s);
  if (!rc) rc = build_ck(s, ukey, uklen, &cklen);
  if (rc) return rc;
  rc = s->ks->be->vt->del(s->ks->be, s->ks->kg, s->sid, s->ks->ck, cklen, s->ks->ck_hash);
  return rc ? be_fail(s, rc) : 0;
}

typedef struct map_visit {
  sl_state *s;
  uint32_t plen;
  int64_t now;
  int (*fn)(void *ud, sl_bytes ukey, sl_bytes val);
  void *ud;
} map_visit;

static int map_visit_fn(void *arg, const void *ck, uint32_t cklen, const void *val,
                        uint32_t vlen) {
  map_visit *m = arg;
  sl_bytes uk = {(const uint8_t *)ck + m->plen, cklen - m->plen};
  if (has_ttl(m->s)) {
    if (vlen < 8 || rd64(val) <= m->now) return 0; /* expired: not returned */
    val = (const uint8_t *)val + 8;
    vlen -= 8;
  }
  return m->fn(m->ud, uk, (sl_bytes){val, vlen});
}

int sl_map_foreach(sl_state *s, int (*fn)(void *ud, sl_bytes ukey, sl_bytes val),
                   void *ud) {
  uint32_t plen;
  int rc = check_kind(s, SL_STATE_MAP, "sl_map_foreach");
  if (!rc) rc = build_ck(s, NULL, 0, &plen);
  if (rc) return rc;
  /* the prefix must be a copy: fn may use other states (same ck buffer) */
  uint8_t stackp[256], *prefix = plen <= sizeof stackp ? stackp : sl__malloc(plen);
  if (!prefix) return state_fail(s, -SL_ENOMEM, "out of memory");
  memcpy(prefix, s->ks->ck, plen);
  map_visit m = {s, plen, has_ttl(s) ? g_clock() : 0, fn, ud};
  rc = s->ks->be->vt->iter(s->ks->be, s->ks->kg, s->sid, prefix, plen, map_visit_fn, &m);
  if (prefix != stackp) sl__free(prefix);
  return rc;
}

/* ---- reducing / aggregating ------------------------------------------------- */

/* Load the accumulator of the current key into ks->vbuf (+8 when TTL):
 * returns 0 when present, SL_EMPTY when not. */
static int load_acc(sl_state *s, uint32_t cklen, uint8_t **acc) {
  sl__kstate *ks = s->ks;
  uint32_t size = s->desc->size;
  if (reserve(&ks->vbuf, &ks->vcap, size + 8)) return state_fail(s, -SL_ENOMEM, "out of memory");
  *acc = ks->vbuf + 8; /* leave room for put_raw's expiry prefix */
  sl_bytes v;
  int rc = get_raw(s, cklen, &v);
  if (rc) return rc;
  if (v.len != size)
    return state_fail(s, -SL_ESTATE, "stored value has %u bytes, descriptor size is %u",
                      v.len, size);
  memcpy(*acc, v.data, size);
  return 0;
}

int sl_reducing_add(sl_state *s, const void *value) {
  uint32_t cklen;
  uint8_t *acc;
  int rc = check_kind(s, SL_STATE_REDUCING, "sl_reducing_add");
  if (!rc) rc = build_ck(s, NULL, 0, &cklen);
  if (!rc) rc = load_acc(s, cklen, &acc);
  if (rc < 0) return rc;
  if (rc == SL_EMPTY) {
    memcpy(acc, value, s->desc->size);
  } else if ((rc = s->desc->reduce(s->desc->ud, acc, value)) < 0) {
    return rc;
  }
  return put_raw(s, cklen, acc, s->desc->size);
}

int sl_reducing_get(sl_state *s, sl_bytes *out) {
  uint32_t cklen;
  int rc = check_kind(s, SL_STATE_REDUCING, "sl_reducing_get");
  if (!rc) rc = build_ck(s, NULL, 0, &cklen);
  return rc ? rc : get_raw(s, cklen, out);
}

int sl_aggregating_add(sl_state *s, const void *in, uint32_t in_len) {
  int first;
  return sl__aggregating_add(s, in, in_len, &first);
}

int sl__aggregating_add(sl_state *s, const void *in, uint32_t in_len, int *first) {
  uint32_t cklen;
  uint8_t *acc;
  int rc = check_kind(s, SL_STATE_AGGREGATING, "sl_aggregating_add");
  if (!rc) rc = build_ck(s, NULL, 0, &cklen);
  if (!rc) rc = load_acc(s, cklen, &acc);
  if (rc < 0) return rc;
  *first = rc == SL_EMPTY;
  if (rc == SL_EMPTY) s->desc->agg_create(s->desc->ud, acc);
  if ((rc = s->desc->agg_add(s->desc->ud, acc, in, in_len)) < 0) return rc;
  return put_raw(s, cklen, acc, s->desc->size);
}

int sl__aggregating_raw(sl_state *s, sl_bytes *out) {
  uint32_t cklen;
  uint8_t *acc;
  int rc = check_kind(s, SL_STATE_AGGREGATING, "merge");
  if (!rc) rc = build_ck(s, NULL, 0, &cklen);
  if (!rc) rc = load_acc(s, cklen, &acc);
  if (rc) return rc;
  *out = (sl_bytes){acc, s->desc->size};
  return 0;
}

int sl__aggregating_set_raw(sl_state *s, const void *acc) {
  uint32_t cklen;
  int rc = check_kind(s, SL_STATE_AGGREGATING, "merge");
  if (!rc) rc = build_ck(s, NULL, 0, &cklen);
  return rc ? rc : put_raw(s, cklen, acc, s->desc->size);
}

int sl_aggregating_get(sl_state *s, sl_bytes *out) {
  uint32_t cklen;
  uint8_t *acc;
  int rc = check_kind(s, SL_STATE_AGGREGATING, "sl_aggregating_get");
  if (!rc) rc = build_ck(s, NULL, 0, &cklen);
  if (!rc) rc = load_acc(s, cklen, &acc);
  if (rc) return rc;
  return s->desc->agg_result(s->desc->ud, acc, out);
}

/* ---- every entry of a state ------------------------------------------------ */

typedef struct foreach_arg {
  sl__state_entry_fn fn;
  void *arg;
  int kg;
} foreach_arg;

static int foreach_entry(void *arg, const void *ck, uint32_t cklen, const void *val,
                         uint32_t vlen) {
  foreach_arg *a = arg;
  const uint8_t *p = ck;
  uint32_t klen, nslen, n1, n2;
  if (!(n1 = sl__varint_get(p, cklen, &klen)) || klen > cklen - n1) return -SL_ESTATE;
  if (!(n2 = sl__varint_get(p + n1 + klen, cklen - n1 - klen, &nslen)) ||
      nslen > cklen - n1 - klen - n2)
    return -SL_ESTATE;
  return a->fn(a->arg, p + n1, klen, a->kg, p + n1 + klen + n2, nslen, val, vlen);
}

int sl__state_foreach(sl_state *s, sl__state_entry_fn fn, void *arg) {
  sl__backend *be = s->ks->be;
  foreach_arg a = {fn, arg, 0};
  int rc = 0;
  for (a.kg = be->kg_lo; !rc && a.kg <= be->kg_hi; a.kg++)
    rc = be->vt->iter(be, a.kg, s->sid, NULL, 0, foreach_entry, &a);
  return rc;
}

/* ---- clear ------------------------------------------------------------------- */

typedef struct collect_keys {
  uint8_t *buf;
  uint32_t len, cap;
  int rc;
} collect_keys;

static int collect_key(void *arg, const void *ck, uint32_t cklen, const void *v,
                       uint32_t vlen) {
  collect_keys *c = arg;
  if (reserve(&c->buf, &c->cap, c->len + 4 + cklen)) return c->rc = -SL_ENOMEM;
  memcpy(c->buf + c->len, &cklen, 4);
  memcpy(c->buf + c->len + 4, ck, cklen);
  c->len += 4 + cklen;
  return 0;
}

int sl_state_clear(sl_state *s) {
  uint32_t cklen;
  int rc = writable(s);
  if (!rc) rc = build_ck(s, NULL, 0, &cklen);
  if (rc) return rc;
  sl__kstate *ks = s->ks;
  if (s->desc->kind != SL_STATE_MAP) {
    rc = ks->be->vt->del(ks->be, ks->kg, s->sid, ks->ck, cklen, ks->ck_hash);
    return rc ? be_fail(s, rc) : 0;
  }
  /* map: collect the entries' keys, then delete them */
  collect_keys c = {0};
  rc = ks->be->vt->iter(ks->be, ks->kg, s->sid, ks->ck, cklen, collect_key, &c);
  for (uint32_t off = 0; !rc && off < c.len;) {
    uint32_t n;
    memcpy(&n, c.buf + off, 4);
    rc = ks->be->vt->del(ks->be, ks->kg, s->sid, c.buf + off + 4, n, sl__ck_hash(c.buf + off + 4, n));
    off += 4 + n;
  }
  sl__free(c.buf);
  return rc ? (rc == -SL_ENOMEM ? state_fail(s, rc, "out of memory") : be_fail(s, rc)) : 0;
}

/* ---- metrics: an instance's states (sl__job_hooks.state_stats) ------------- */

typedef struct inst_stats_arg {
  void (*fn)(void *ud, const char *state, uint64_t entries, uint64_t bytes);
  void *ud;
} inst_stats_arg;

static int inst_stats_one(void *ud, const char *state, uint64_t entries, uint64_t bytes) {
  inst_stats_arg *a = ud;
  if (strncmp(state, "__", 2)) a->fn(a->ud, state, entries, bytes); /* not the timers' */
  return 0;
}

void sl__inst_state_stats(sl__inst *inst,
                          void (*fn)(void *ud, const char *state, uint64_t entries,
                                     uint64_t bytes),
                          void *ud) {
  inst_stats_arg a = {fn, ud};
  sl__kstate_stats(inst->ks, inst_stats_one, &a);
  sl__kstate_stats(inst->os, inst_stats_one, &a);
  sl__kstate_stats(inst->bs, inst_stats_one, &a);
}

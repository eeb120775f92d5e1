/*
 * join.c -- joins of two keyed streams.
 *
 * Window join: built on the public API like Flink builds it on coGroup:
 * each side's records are tagged ('A'/'B' before the value), the two
 * streams are unioned and windowed by key; when a window fires, every
 * (A, B) pair of its elements goes to the join function.
 *
 * Interval join: a keyed two-input operator.  Each side keeps its records
 * in list state ([i64 ts][value]); a new record is matched against the
 * other side's buffer at once (b.ts in [a.ts + lower, a.ts + upper]), then
 * buffered until the watermark passes the last time a partner could still
 * arrive (a.ts + upper for the left side, b.ts - lower for the right), when
 * a timer drops it.  A record older than the watermark on arrival goes to
 * the side output "late" (counted as dropped when nothing reads it).  The
 * interval arithmetic is exact or saturating: timestamps may be anywhere in
 * the int64 range.
 */
#include <stdio.h>

#include "operators/ops.h"
#include "window/window.h"
#include "time/timers.h"

typedef struct join_cfg {
  sl_join_fn fn;
  void *ud;
  int64_t lower, upper;
} join_cfg;

/* ---- shared: element buffers ---------------------------------------------------- */

typedef struct elems {
  uint8_t *buf; /* copies: [u32 len][i64 ts][value] ... */
  size_t len, cap;
  size_t n;
} elems;

static int elems_add(elems *e, int64_t ts, const void *v, uint32_t vlen) {
  size_t need = e->len + 12 + vlen;
  if (need > e->cap) {
    size_t ncap = need > 2 * e->cap ? need : 2 * e->cap;
    uint8_t *b = sl__realloc(e->buf, ncap);
    if (!b) return -SL_ENOMEM;
    e->buf = b;
    e->cap = ncap;
  }
  memcpy(e->buf + e->len, &vlen, 4);
  memcpy(e->buf + e->len + 4, &ts, 8);
  if (vlen) memcpy(e->buf + e->len + 12, v, vlen);
  e->len = need;
  e->n++;
  return 0;
}

/* i-th element walk: off starts at 0 */
static int elems_next(const elems *e, size_t *off, int64_t *ts, sl_bytes *v) {
  if (*off >= e->len) return 0;
  uint32_t vlen;
  memcpy(&vlen, e->buf + *off, 4);
  memcpy(ts, e->buf + *off + 4, 8);
  *v = (sl_bytes){e->buf + *off + 12, vlen};
  *off += 12 + vlen;
  return 1;
}

/* ---- window join -------------------------------------------------------------------- */

static int tag(sl_ctx *ctx, const sl_record *in, sl_record *out, char side) {
  uint8_t *b = sl_ctx_scratch(ctx, (size_t)in->value_len + 1);
  if (!b) return -SL_ENOMEM;
  b[0] = (uint8_t)side;
  if (in->value_len) memcpy(b + 1, in->value, in->value_len);
  out->value = b;
  out->value_len = in->value_len + 1;
  return 0;
}
int sl__join_tag_a(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  return tag(ctx, in, out, 'A');
}
int sl__join_tag_b(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  return tag(ctx, in, out, 'B');
}

int sl__join_pair_window(void *ud, sl_ctx *ctx, const sl_window *w, sl_window_elems *we,
                       sl_collector *out) {
  const join_cfg *c = ud;
  elems side[2] = {{0}, {0}};
  sl_record r;
  int rc = 0;
  /* copy first: the join function may use state, which moves the views */
  while (!rc && sl_window_next(we, &r))
    if (r.value_len >= 1)
      rc = elems_add(&side[((const uint8_t *)r.value)[0] == 'B'], r.ts,
                     (const uint8_t *)r.value + 1, r.value_len - 1);
  sl_bytes key = {"", 0};
  sl_ctx_key(ctx, &key);
  size_t oa = 0;
  int64_t ta, tb;
  sl_bytes va, vb;
  while (!rc && elems_next(&side[0], &oa, &ta, &va)) {
    size_t ob = 0;
    while (!rc && elems_next(&side[1], &ob, &tb, &vb)) {
      sl_record a = {ta, key.data, key.len, va.data, va.len};
      sl_record b = {tb, key.data, key.len, vb.data, vb.len};
      sl__user_call(ctx);
      rc = c->fn(c->ud, ctx, &a, &b, out);
    }
  }
  sl__free(side[0].buf);
  sl__free(side[1].buf);
  return rc;
}

void *sl__join_cfg_new(sl_join_fn fn, void *ud, int64_t lower_ms, int64_t upper_ms) {
  join_cfg *c = sl__calloc(1, sizeof *c);
  if (c) *c = (join_cfg){fn, ud, lower_ms, upper_ms};
  return c;
}

/* ---- interval join ------------------------------------------------------------------ */

static const sl_state_desc D_SIDE[2] = {{.name = "__ij_left", .kind = SL_STATE_LIST},
                                        {.name = "__ij_right", .kind = SL_STATE_LIST}};

typedef struct ij_inst {
  sl_state *side[2];
} ij_inst;

/* Copy a side's buffered elements ([i64 ts][value] list entries). */
static int load_side(sl_state *s, elems *e) {
  sl_list_iter it;
  sl_bytes b;
  int rc = sl_list_get(s, &it);
  if (rc) return rc == SL_EMPTY ? 0 : rc;
  while (sl_list_next(&it, &b))
    if (b.len >= 8) {
      int64_t ts;
      memcpy(&ts, b.data, 8);
      if ((rc = elems_add(e, ts, (const uint8_t *)b.data + 8, b.len - 8))) return rc;
    }
  return 0;
}

/* when an element of side `port` can no longer find a partner (cut at the
 * ends of the int64 range: signed overflow is undefined) */
static int64_t expiry(const join_cfg *c, int port, int64_t ts) {
  return port == 0 ? sl__sat_add(ts, c->upper) : sl__sat_sub(ts, c->lower);
}

/* ta + lower <= tb <= ta + upper, computed exactly (the difference of two
 * int64 fits in __int128) */
static int in_interval(const join_cfg *c, int64_t ta, int64_t tb) {
  __int128 d = (__int128)tb - ta;
  return d >= c->lower && d <= c->upper;
}

static int ij_process(sl__inst *inst, int port, const sl_record *r) {
  const join_cfg *c = inst->op->cfg;
  ij_inst *ij = inst->impl;
  sl__set_key(inst, r);
  if (r->ts == SL_NO_TIMESTAMP)
    return sl__fail(inst, -SL_EINVAL, "interval join needs event timestamps "
                                      "(sl_assign_timestamps)");
  if (r->ts < inst->wm) return sl__emit_late(inst, "late", r);
  uint8_t *buf = sl__ctx_buf(&inst->ctx, 8 + (size_t)r->value_len);
  if (!buf) return -SL_ENOMEM;
  memcpy(buf, &r->ts, 8);
  if (r->value_len) memcpy(buf + 8, r->value, r->value_len);
  int rc = sl_list_add(ij->side[port], buf, 8 + r->value_len);
  elems other = {0};
  if (!rc) rc = load_side(ij->side[!port], &other);
  size_t off = 0;
  int64_t ts;
  sl_bytes v;
  while (!rc && elems_next(&other, &off, &ts, &v)) {
    int64_t ta = port == 0 ? r->ts : ts, tb = port == 0 ? ts : r->ts;
    if (!in_interval(c, ta, tb)) continue;
    sl_record o = {0, r->key, r->key_len, v.data, v.len};
    o.ts = ts;
    const sl_record *a = port == 0 ? r : &o, *b = port == 0 ? &o : r;
    sl__user_call(&inst->ctx);
    rc = c->fn(c->ud, &inst->ctx, a, b, &inst->coll);
  }
  sl__free(other.buf);
  if (!rc) {
    const char ns = port == 0 ? 'L' : 'R';
    rc = sl__timer_add(inst->timers, SL_TIME_EVENT, expiry(c, port, r->ts), &ns, 1);
  }
  return rc < 0 ? sl__user_fail(inst, rc, r) : rc;
}

/* Drop the side's elements whose partners can no longer come. */
static int ij_on_timer(sl__inst *inst, sl_time_domain d, int64_t ts, const void *ns,
                       uint32_t nslen) {
  const join_cfg *c = inst->op->cfg;
  ij_inst *ij = inst->impl;
  if (nslen != 1) return 0;
  int port = *(const char *)ns == 'R';
  elems all = {0}, keep = {0};
  int rc = load_side(ij->side[port], &all);
  size_t off = 0;
  int64_t t;
  sl_bytes v;
  while (!rc && elems_next(&all, &off, &t, &v))
    if (expiry(c, port, t) > inst->wm) rc = elems_add(&keep, t, v.data, v.len);
  if (!rc) rc = sl_state_clear(ij->side[port]);
  off = 0;
  while (!rc && elems_next(&keep, &off, &t, &v)) {
    uint8_t *buf = sl__ctx_buf(&inst->ctx, 8 + (size_t)v.len);
    if (!buf) {
      rc = -SL_ENOMEM;
      break;
    }
    memcpy(buf, &t, 8);
    memcpy(buf + 8, v.data, v.len);
    rc = sl_list_add(ij->side[port], buf, 8 + v.len);
  }
  sl__free(all.buf);
  sl__free(keep.buf);
  return rc;
}

static int ij_open(sl__inst *inst) {
  int rc = sl__keyed_open(inst);
  if (rc) return rc;
  ij_inst *ij = sl__calloc_private(sizeof *ij);
  if (!ij) return sl__fail(inst, -SL_ENOMEM, "out of memory");
  inst->impl = ij;
  for (int s = 0; s < 2 && !rc; s++) rc = sl_state_get(&inst->ctx, &D_SIDE[s], &ij->side[s]);
  if (!rc) rc = sl__timers_new(inst, ij_on_timer, &inst->timers);
  if (rc) return sl__fail(inst, rc, "cannot open the interval join's state: %s", inst->ctx.msg);
  return 0;
}

static void ij_close(sl__inst *inst, int ok) {
  sl__free_private(inst->impl);
  inst->impl = NULL;
  sl__keyed_close(inst, ok);
}

static int ij_on_watermark(sl__inst *inst, int64_t wm) {
  return sl__timers_fire(inst->timers, SL_TIME_EVENT, wm);
}

static const sl__op_vt ij_vt = {.open = ij_open,
                                .process = ij_process,
                                .close = ij_close,
                                .on_watermark = ij_on_watermark};

const sl__op_vt *sl__interval_join_vtable(void) { return &ij_vt; }

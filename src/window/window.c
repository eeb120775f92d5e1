/*
 * window.c -- the window operator on keyed streams (Flink's WindowOperator).
 *
 * Everything a window holds is keyed state of the current key in the
 * window's namespace (16 bytes: start and end, order-preserving big-endian):
 *   contents   aggregating state (sl_window_aggregate), value state with the
 *              reduced record (sl_window_reduce) or list state of
 *              [i64 ts][value] elements (sl_window_process)
 *   count      value state, records since the last count-trigger firing
 *   sessions   value state: the key's open session windows as an array of
 *              (start, end) int64 pairs (no namespace; one get and one
 *              set per record, no iteration)
 * and timers are the instance's timer service, so the backend holds it all.
 *
 * Per record:
 *   1. assign windows (tumbling: one; sliding: size/slide; session: [t,
 *      t+gap) merged with every open session it touches (Flink's
 *      TimeWindow.intersects, so touching sessions merge and a record can
 *      bridge two); global: one window); a record whose tumbling or
 *      sliding window would leave the int64 range is a bad record (dead
 *      letter), a session's end is cut at INT64_MAX (see "window
 *      assignment at the ends of the int64 range" below);
 *   2. skip windows that are late: end - 1 + allowed_lateness <= watermark
 *      (event time); a record whose windows are all late goes to the late
 *      side output, or is counted as dropped when nothing reads it
 *      (sl__emit_late) -- never dropped silently;
 *   3. add the record to each window's contents;
 *   4. trigger: event time registers a timer at end - 1, or, when the
 *      watermark is already past it (a late record within the allowed
 *      lateness), fires at once with the updated contents; processing time
 *      registers a processing-time timer; count fires every `count` records;
 *   5. register the cleanup timer at end - 1 + allowed_lateness.
 * Firing emits the result (or calls the window function); the purging
 * variants clear the contents after firing.  A cleanup timer clears the
 * window.  At the end of input the final watermark fires every event-time
 * window and processing-time windows fire too.
 */
#include <stdio.h>


#include "window/win_int.h"

static const sl_state_desc D_REDUCE = {.name = "__window_reduce", .kind = SL_STATE_VALUE};
static const sl_state_desc D_ELEMS = {.name = "__window_elements", .kind = SL_STATE_LIST};
static const sl_state_desc D_COUNT = {.name = "__window_count", .kind = SL_STATE_VALUE};
static const sl_state_desc D_SESSIONS = {.name = "__window_session_list", .kind = SL_STATE_VALUE};

/* ---- window assignment at the ends of the int64 range ----------------------------
 * Signed overflow is undefined, so every bound is computed with the
 * overflow builtins.  A tumbling or sliding window that would start before
 * INT64_MIN or end after INT64_MAX cannot be represented: assign_fixed
 * says so and the record goes to the dead-letter output (sl__bad_record)
 * instead of a wrapped-around window.  A session's end (t + gap) is cut at
 * INT64_MAX; only a record at INT64_MAX itself has no session [t, end).
 * Every later computation on a window (end - 1, the sliced panes between
 * start and end, the next window of a sliced firing) stays inside
 * [start, end] and cannot overflow; the cleanup time saturates. */

/* The tumbling or sliding windows of t into wins (at most cap): 0, or 1
 * when one of them cannot be represented. */
static int assign_fixed(const sl_window_spec *s, int64_t t, sl_window *wins, size_t cap,
                        size_t *n) {
  *n = 0;
  int64_t step = s->kind == SL_WINDOW_TUMBLING ? s->size_ms : s->slide_ms, start, end;
  if (__builtin_sub_overflow(t, offset_mod(t, s->offset_ms, step), &start)) return 1;
  /* windows [start, start + size) with t - size < start <= t, newest first
   * (the newest has the largest end, the oldest the smallest start);
   * start - t is in (-size - step, 0], so (start - t) + size cannot
   * overflow */
  while ((start - t) + s->size_ms > 0) {
    if (__builtin_add_overflow(start, s->size_ms, &end)) return 1;
    if (*n < cap) wins[(*n)++] = (sl_window){start, end};
    if (s->kind == SL_WINDOW_TUMBLING || (start - t) + s->size_ms <= step) break;
    if (__builtin_sub_overflow(start, step, &start)) return 1;
  }
  return 0;
}

/* Dead letter for a record whose window cannot be represented. */
int sl__win_unrepresentable(sl__inst *inst, const sl_window_spec *s, int64_t t,
                            const sl_record *r) {
  char where[48], reason[256];
  sl__fmt(where, sizeof where, "timestamp %lld", (long long)t);
  if (s->kind == SL_WINDOW_SESSION)
    sl__fmt(reason, sizeof reason,
            "a session window [t, end) needs end > t, and t is the largest int64 "
            "value; check the record's timestamp");
  else if (s->kind == SL_WINDOW_TUMBLING)
    sl__fmt(reason, sizeof reason,
            "its tumbling window (size %lld ms) would reach beyond the int64 range of "
            "milliseconds; check the record's timestamp",
            (long long)s->size_ms);
  else
    sl__fmt(reason, sizeof reason,
            "one of its sliding windows (size %lld ms, slide %lld ms) would reach beyond "
            "the int64 range of milliseconds; check the record's timestamp",
            (long long)s->size_ms, (long long)s->slide_ms);
  return sl__bad_record(inst, where, reason, r->value, r->value_len);
}

static sl_trigger_kind trigger_of(const sl_window_spec *s) {
  if (s->trigger != SL_TRIGGER_DEFAULT) return s->trigger;
  return s->time == SL_TIME_EVENT ? SL_TRIGGER_EVENT_TIME : SL_TRIGGER_PROCESSING_TIME;
}

static int is_global(const sl_window_spec *s) { return s->kind == SL_WINDOW_GLOBAL; }

/* When the window's state is removed, in its time domain. */
static int64_t cleanup_time(const sl_window_spec *s, const sl_window *w) {
  int64_t t = w->end - 1;
  if (s->time == SL_TIME_EVENT && s->allowed_lateness_ms > 0) {
    t = t > INT64_MAX - s->allowed_lateness_ms ? INT64_MAX : t + s->allowed_lateness_ms;
  }
  return t;
}

static int is_late(sl__inst *inst, const sl_window_spec *s, const sl_window *w) {
  return s->time == SL_TIME_EVENT && !is_global(s) && cleanup_time(s, w) <= inst->wm;
}

/* ---- contents ------------------------------------------------------------------ */

static int copy_bytes(win_inst *wi, sl_bytes b, sl_bytes *out) {
  if (b.len > wi->copy_cap) {
    uint8_t *p = sl__realloc(wi->copy, b.len);
    if (!p) return -SL_ENOMEM;
    wi->copy = p;
    wi->copy_cap = b.len;
  }
  if (b.len) memcpy(wi->copy, b.data, b.len);
  *out = (sl_bytes){wi->copy, b.len};
  return 0;
}

/* Add r to w; *first = 1 when w had no contents before (its timers are
 * registered then; for element lists we do not know, so always). */
static int add_element(sl__inst *inst, const win_cfg *c, win_inst *wi, const sl_window *w,
                       const sl_record *r, int *first) {
  int rc = use_ns(wi->contents, w);
  if (rc) return rc;
  *first = 1;
  switch (c->fk) {
    case SL__WF_AGG: return sl__aggregating_add(wi->contents, r->value, r->value_len, first);
    case SL__WF_REDUCE: {
      sl_bytes acc;
      rc = sl_value_get(wi->contents, &acc);
      if (rc < 0) return rc;
      *first = rc == SL_EMPTY;
      if (rc == SL_EMPTY) return sl_value_set(wi->contents, r->value, r->value_len);
      sl_record a = {r->ts, r->key, r->key_len, acc.data, acc.len};
      sl_record out = {r->ts, r->key, r->key_len, acc.data, acc.len};
      rc = c->reduce(inst->op->ud, &inst->ctx, &a, r, &out);
      return rc < 0 ? rc : sl_value_set(wi->contents, out.value, out.value_len);
    }
    case SL__WF_PROCESS: {
      uint8_t *buf = sl__ctx_buf(&inst->ctx, 8 + r->value_len);
      if (!buf) return -SL_ENOMEM;
      memcpy(buf, &r->ts, 8);
      if (r->value_len) memcpy(buf + 8, r->value, r->value_len);
      return sl_list_add(wi->contents, buf, 8 + r->value_len);
    }
  }
  return -SL_EINTERNAL;
}

static int session_remove(win_inst *wi, const sl_window *w);

static int clear_window(const win_cfg *c, win_inst *wi, const sl_window *w) {
  int rc = use_ns(wi->contents, w);
  if (!rc) rc = sl_state_clear(wi->contents);
  if (!rc && wi->count && !(rc = use_ns(wi->count, w))) rc = sl_state_clear(wi->count);
  if (!rc && c->spec.kind == SL_WINDOW_SESSION) rc = session_remove(wi, w);
  return rc;
}

/* ---- firing --------------------------------------------------------------------- */

int sl_window_next(sl_window_elems *e, sl_record *out) {
  if (!e || !out) return 0;
  if (e->single) {
    if (e->done) return 0;
    e->done = 1;
    *out = e->rec;
    return 1;
  }
  sl_bytes b;
  while (sl_list_next(&e->it, &b)) {
    if (b.len < 8) continue;
    int64_t ts;
    memcpy(&ts, b.data, 8);
    *out = (sl_record){ts, e->key.data, e->key.len, (const uint8_t *)b.data + 8, b.len - 8};
    return 1;
  }
  return 0;
}

int sl_ctx_window(const sl_ctx *ctx, sl_window *w) {
  if (!ctx || !w || ctx->inst->op->kind != SL__OP_WINDOW) return -SL_EINVAL;
  win_inst *wi = ctx->inst->impl;
  if (!wi || !wi->firing) return -SL_EINVAL;
  *w = wi->cur;
  return 0;
}

static int fire(sl__inst *inst, const win_cfg *c, win_inst *wi, const sl_window *w) {
  sl_window_elems e;
  memset(&e, 0, sizeof e);
  sl_ctx_key(&inst->ctx, &e.key);
  int rc = use_ns(wi->contents, w);
  if (rc) return rc;
  sl_bytes v;
  if (c->fk == SL__WF_PROCESS) {
    rc = sl_list_get(wi->contents, &e.it);
  } else {
    rc = c->fk == SL__WF_AGG ? sl_aggregating_get(wi->contents, &v) : sl_value_get(wi->contents, &v);
    e.single = 1;
    e.rec = (sl_record){w->end - 1, e.key.data, e.key.len, v.data, v.len};
  }
  if (rc) return rc == SL_EMPTY ? 0 : rc; /* nothing in the window: no firing */
  wi->cur = *w;
  wi->firing = 1;
  if (c->fn) {
    sl__user_call(&inst->ctx);
    rc = c->fn(inst->op->ud, &inst->ctx, w, &e, &inst->coll);
  } else {
    rc = sl__emit(inst, &e.rec);
  }
  wi->firing = 0;
  if (!rc && c->spec.purge) {
    if (!(rc = use_ns(wi->contents, w))) rc = sl_state_clear(wi->contents);
  }
  return rc;
}

/* Count and custom triggers: count the window's records since its last
 * firing, then decide. */
static int count_and_fire(sl__inst *inst, const win_cfg *c, win_inst *wi, const sl_window *w,
                          const sl_record *r) {
  sl_bytes b;
  int64_t n = 0;
  int rc = use_ns(wi->count, w);
  if (!rc) rc = sl_value_get(wi->count, &b);
  if (rc < 0) return rc;
  if (rc == 0 && b.len == 8) memcpy(&n, b.data, 8);
  n++;
  sl_trigger_result t;
  if (c->spec.trigger == SL_TRIGGER_CUSTOM)
    t = c->spec.custom(c->spec.custom_ud, r, (uint64_t)n);
  else
    t = (uint64_t)n >= c->spec.count ? (c->spec.purge ? SL_TRIGGER_FIRE_AND_PURGE : SL_TRIGGER_FIRE)
                                     : SL_TRIGGER_CONTINUE;
  if (t == SL_TRIGGER_CONTINUE) return sl_value_set(wi->count, &n, 8);
  if ((rc = sl_state_clear(wi->count)) || (rc = fire(inst, c, wi, w))) return rc;
  if (t == SL_TRIGGER_FIRE_AND_PURGE && !c->spec.purge && !(rc = use_ns(wi->contents, w)))
    rc = sl_state_clear(wi->contents); /* (purging specs already purged in fire) */
  return rc;
}

/* ---- sessions ------------------------------------------------------------------- */

/* The current key's open sessions into wi->sess. */
static int sessions_load(win_inst *wi) {
  sl_bytes b;
  int rc = sl_state_namespace(wi->sessions, NULL, 0);
  if (!rc) rc = sl_value_get(wi->sessions, &b);
  if (rc < 0) return rc;
  size_t n = rc == 0 ? b.len / sizeof(sl_window) : 0;
  if (n > wi->sess_cap) {
    sl_window *p = sl__realloc(wi->sess, (n + 8) * sizeof *p);
    if (!p) return -SL_ENOMEM;
    wi->sess = p;
    wi->sess_cap = n + 8;
  }
  if (n) memcpy(wi->sess, b.data, n * sizeof *wi->sess);
  wi->n_sess = n;
  return 0;
}

static int sessions_store(win_inst *wi) {
  return wi->n_sess ? sl_value_set(wi->sessions, wi->sess, (uint32_t)(wi->n_sess * sizeof *wi->sess))
                    : sl_state_clear(wi->sessions);
}

/* Remove session w of the current key (it fired or was cleaned up). */
static int session_remove(win_inst *wi, const sl_window *w) {
  int rc = sessions_load(wi);
  size_t k = 0;
  for (size_t i = 0; !rc && i < wi->n_sess; i++)
    if (wi->sess[i].start != w->start || wi->sess[i].end != w->end) wi->sess[k++] = wi->sess[i];
  if (rc || k == wi->n_sess) return rc;
  wi->n_sess = k;
  return sessions_store(wi);
}

/* Move window `from`'s contents (and count) into `to`. */
static int merge_into(sl__inst *inst, const win_cfg *c, win_inst *wi, const sl_window *from,
                      const sl_window *to) {
  int rc = use_ns(wi->contents, from);
  if (rc) return rc;
  if (c->fk == SL__WF_AGG) {
    uint32_t size = c->agg->size;
    uint8_t *tmp = sl__ctx_buf(&inst->ctx, 2 * (size_t)size);
    sl_bytes b;
    if (!tmp) return -SL_ENOMEM;
    if ((rc = sl__aggregating_raw(wi->contents, &b)) < 0) return rc;
    if (rc == 0) {
      memcpy(tmp, b.data, size);
      if ((rc = sl_state_clear(wi->contents)) || (rc = use_ns(wi->contents, to))) return rc;
      if ((rc = sl__aggregating_raw(wi->contents, &b)) < 0) return rc;
      if (rc == 0) {
        memcpy(tmp + size, b.data, size);
        if (!c->agg->agg_merge) return -SL_EINVAL;
        if ((rc = c->agg->agg_merge(c->agg->ud, tmp + size, tmp)) < 0) return rc;
        rc = sl__aggregating_set_raw(wi->contents, tmp + size);
      } else {
        rc = sl__aggregating_set_raw(wi->contents, tmp);
      }
      if (rc) return rc;
    }
  } else if (c->fk == SL__WF_REDUCE) {
    sl_bytes a, b;
    if ((rc = sl_value_get(wi->contents, &a)) < 0) return rc;
    if (rc == 0) {
      if ((rc = copy_bytes(wi, a, &a)) || (rc = sl_state_clear(wi->contents)) ||
          (rc = use_ns(wi->contents, to)))
        return rc;
      if ((rc = sl_value_get(wi->contents, &b)) < 0) return rc;
      if (rc == SL_EMPTY) {
        rc = sl_value_set(wi->contents, a.data, a.len);
      } else {
        sl_bytes key;
        sl_ctx_key(&inst->ctx, &key);
        sl_record acc = {to->end - 1, key.data, key.len, b.data, b.len};
        sl_record in = {to->end - 1, key.data, key.len, a.data, a.len};
        sl_record out = {to->end - 1, key.data, key.len, b.data, b.len};
        if ((rc = c->reduce(inst->op->ud, &inst->ctx, &acc, &in, &out)) < 0) return rc;
        rc = sl_value_set(wi->contents, out.value, out.value_len);
      }
      if (rc) return rc;
    }
  } else {
    sl_list_iter it;
    sl_bytes b;
    if ((rc = sl_list_get(wi->contents, &it)) < 0) return rc;
    if (rc == 0) {
      /* copy all elements first: adding to `to` invalidates the iterator */
      size_t total = (size_t)(it.end - it.p);
      uint8_t *all = sl__malloc(total ? total : 1);
      if (!all) return -SL_ENOMEM;
      memcpy(all, it.p, total);
      sl_list_iter copy = it;
      copy.p = all;
      copy.end = all + total;
      if (!(rc = sl_state_clear(wi->contents)) && !(rc = use_ns(wi->contents, to)))
        while (!rc && sl_list_next(&copy, &b)) rc = sl_list_add(wi->contents, b.data, b.len);
      sl__free(all);
      if (rc) return rc;
    }
  }
  if (wi->count) {
    sl_bytes b;
    int64_t n = 0, m = 0;
    if ((rc = use_ns(wi->count, from)) || (rc = sl_value_get(wi->count, &b)) < 0) return rc;
    if (rc == 0 && b.len == 8) memcpy(&n, b.data, 8);
    if ((rc = sl_state_clear(wi->count)) || (rc = use_ns(wi->count, to)) ||
        (rc = sl_value_get(wi->count, &b)) < 0)
      return rc;
    if (rc == 0 && b.len == 8) memcpy(&m, b.data, 8);
    n += m;
    if ((rc = sl_value_set(wi->count, &n, 8))) return rc;
  }
  return 0;
}

static int drop_timers(sl__inst *inst, const win_cfg *c, const sl_window *w) {
  uint8_t ns[16];
  win_ns(w, ns);
  sl_time_domain d = c->spec.time;
  int rc = sl__timer_del(inst->timers, d, w->end - 1, ns, 16);
  if (!rc) rc = sl__timer_del(inst->timers, d, cleanup_time(&c->spec, w), ns, 16);
  return rc;
}

/* The session window of a record at t, merged with every open session it
 * touches; *late when the merged window is already late (then nothing is
 * changed). */
static int session_assign(sl__inst *inst, const win_cfg *c, win_inst *wi, int64_t t,
                          sl_window *out, int *late) {
  sl_window probe = {t, sl__sat_add(t, c->spec.gap_ms)}, m = probe; /* cut at INT64_MAX */
  int rc = sessions_load(wi);
  /* Flink's TimeWindow.intersects: touching windows merge too */
#define TOUCHES(w) ((w).start <= probe.end && (w).end >= probe.start)
  for (size_t i = 0; !rc && i < wi->n_sess; i++)
    if (TOUCHES(wi->sess[i])) {
      if (wi->sess[i].start < m.start) m.start = wi->sess[i].start;
      if (wi->sess[i].end > m.end) m.end = wi->sess[i].end;
    }
  *late = !rc && is_late(inst, &c->spec, &m);
  size_t k = 0;
  for (size_t i = 0; !rc && !*late && i < wi->n_sess; i++) {
    sl_window w = wi->sess[i];
    if (!TOUCHES(w)) {
      wi->sess[k++] = w; /* untouched: stays */
      continue;
    }
    if (w.start == m.start && w.end == m.end) continue; /* the merged one itself */
    if (!(rc = merge_into(inst, c, wi, &w, &m))) rc = drop_timers(inst, c, &w);
  }
#undef TOUCHES
  if (!rc && !*late) {
    wi->n_sess = k; /* the touched ones are replaced by m */
    if (wi->n_sess == wi->sess_cap) {
      sl_window *p = sl__realloc(wi->sess, (wi->sess_cap + 8) * sizeof *p);
      if (!p) return -SL_ENOMEM;
      wi->sess = p;
      wi->sess_cap += 8;
    }
    wi->sess[wi->n_sess++] = m;
    rc = sessions_store(wi);
  }
  *out = m;
  return rc;
}

/* ---- sliced sliding windows ------------------------------------------------------- *
 * Event-time sliding windows with an aggregate or reduce function, the
 * default trigger, no allowed lateness and size a multiple of slide are
 * sliced (Flink's slicing): a record updates one pane [p, p + slide) instead
 * of size/slide windows, and a window [e - size, e) is assembled from its
 * panes when it fires.  Timers: a new pane registers the firing of the
 * first of its windows that has not fired yet (the one it ends, unless the
 * watermark passed it); each firing registers the next window's when that
 * window has panes already, and drops the window's oldest pane, which no
 * later window contains.  So every window with contents fires once, in
 * order, and a pane lives until its last window fired. */

static int sliced(const win_cfg *c) {
  const sl_window_spec *s = &c->spec;
  return s->kind == SL_WINDOW_SLIDING && s->time == SL_TIME_EVENT &&
         s->trigger == SL_TRIGGER_DEFAULT && !s->purge && s->allowed_lateness_ms == 0 &&
         s->size_ms % s->slide_ms == 0 &&
         (c->fk == SL__WF_REDUCE || (c->fk == SL__WF_AGG && c->agg->agg_merge));
}

static int acc_reserve(win_inst *wi, uint32_t n) {
  if (n <= wi->acc_cap) return 0;
  uint8_t *p = sl__realloc(wi->acc, n);
  if (!p) return -SL_ENOMEM;
  wi->acc = p;
  wi->acc_cap = n;
  return 0;
}

/* The contents of the pane starting at ps: 0 (in *b), SL_EMPTY or < 0. */
static int pane_get(const win_cfg *c, win_inst *wi, int64_t ps, sl_bytes *b) {
  sl_window pane = {ps, ps + c->spec.slide_ms};
  int rc = use_ns(wi->contents, &pane);
  if (rc) return rc;
  return c->fk == SL__WF_AGG ? sl__aggregating_raw(wi->contents, b) : sl_value_get(wi->contents, b);
}

/* Merge the panes of w into wi->acc (*len bytes; 0: all empty). */
static int merge_panes(sl__inst *inst, const win_cfg *c, win_inst *wi, const sl_window *w,
                       uint32_t *len) {
  int64_t slide = c->spec.slide_ms;
  int rc = 0;
  *len = 0;
  for (int64_t ps = w->start; !rc && ps < w->end; ps += slide) {
    sl_bytes b;
    if ((rc = pane_get(c, wi, ps, &b)) < 0) break;
    if (rc == SL_EMPTY) {
      rc = 0;
      continue;
    }
    if (!*len) { /* the first pane with contents */
      if (!(rc = acc_reserve(wi, b.len))) memcpy(wi->acc, b.data, b.len);
      *len = b.len;
    } else if (c->fk == SL__WF_AGG) {
      rc = c->agg->agg_merge(c->agg->ud, wi->acc, b.data);
    } else { /* reduce(acc, pane) */
      sl_bytes k;
      sl_ctx_key(&inst->ctx, &k);
      sl_record a = {w->end - 1, k.data, k.len, wi->acc, *len};
      sl_record in = {w->end - 1, k.data, k.len, b.data, b.len}, out = a;
      if ((rc = c->reduce(inst->op->ud, &inst->ctx, &a, &in, &out)) < 0) break;
      if (out.value != wi->acc) { /* the pane's value or the function's scratch */
        if ((rc = acc_reserve(wi, out.value_len))) break;
        memcpy(wi->acc, out.value, out.value_len);
      }
      *len = out.value_len;
    }
  }
  return rc < 0 ? rc : 0;
}

/* Window w fires from its panes, drops its oldest pane and asks for the
 * next window's firing when that window already has panes. */
static int fire_sliced(sl__inst *inst, const win_cfg *c, win_inst *wi, const sl_window *w) {
  uint32_t len;
  int rc = merge_panes(inst, c, wi, w, &len);
  if (!rc && len) {
    sl_window_elems e;
    memset(&e, 0, sizeof e);
    sl_ctx_key(&inst->ctx, &e.key);
    sl_bytes v = {wi->acc, len};
    if (c->fk == SL__WF_AGG) rc = c->agg->agg_result(c->agg->ud, wi->acc, &v);
    e.single = 1;
    e.rec = (sl_record){w->end - 1, e.key.data, e.key.len, v.data, v.len};
    wi->cur = *w;
    wi->firing = 1;
    if (!rc && c->fn) sl__user_call(&inst->ctx);
    if (!rc) rc = c->fn ? c->fn(inst->op->ud, &inst->ctx, w, &e, &inst->coll) : sl__emit(inst, &e.rec);
    wi->firing = 0;
  }
  int64_t slide = c->spec.slide_ms;
  sl_window oldest = {w->start, w->start + slide}, next = {w->start + slide, 0};
  if (!rc && !(rc = use_ns(wi->contents, &oldest))) rc = sl_state_clear(wi->contents);
  /* does the next window have panes already?  (Its newest pane, [w->end,
   * w->end + slide), registers the firing itself when it gets contents.)
   * A next window ending after INT64_MAX has none: a record in one of its
   * panes would have had it among its windows and gone to the dead
   * letters. */
  int any = 0;
  if (__builtin_add_overflow(w->end, slide, &next.end)) return rc;
  for (int64_t ps = next.start; !rc && !any && ps < w->end; ps += slide) {
    sl_bytes b;
    rc = pane_get(c, wi, ps, &b);
    any = rc == 0;
    rc = rc < 0 ? rc : 0;
  }
  if (!rc && any) {
    uint8_t ns[16];
    win_ns(&next, ns);
    rc = sl__timer_add(inst->timers, SL_TIME_EVENT, next.end - 1, ns, 16);
  }
  return rc;
}

static int process_sliced(sl__inst *inst, const win_cfg *c, win_inst *wi, const sl_record *r) {
  const sl_window_spec *s = &c->spec;
  /* the record's pane starts at ps; its windows (size is a multiple of
   * slide) are [ps - size + slide, ps + slide) .. [ps, ps + size): all
   * representable when the first start and the last end are */
  int64_t ps, last_end, first_start;
  if (__builtin_sub_overflow(r->ts, offset_mod(r->ts, s->offset_ms, s->slide_ms), &ps) ||
      __builtin_add_overflow(ps, s->size_ms, &last_end) ||
      __builtin_sub_overflow(ps, s->size_ms - s->slide_ms, &first_start))
    return sl__win_unrepresentable(inst, s, r->ts, r);
  sl_window pane = {ps, ps + s->slide_ms}, last = {ps, last_end};
  if (is_late(inst, s, &last)) return sl__emit_late(inst, c->late_tag, r); /* every window */
  int first, rc = add_element(inst, c, wi, &pane, r, &first);
  if (!rc && first) {
    /* the first of the pane's windows that has not fired yet (the last one,
     * [ps, ps + size), has not: the record is not late) */
    int64_t e = pane.end;
    while (e - 1 <= inst->wm) e += s->slide_ms;
    sl_window w = {e - s->size_ms, e};
    uint8_t ns[16];
    win_ns(&w, ns);
    rc = sl__timer_add(inst->timers, SL_TIME_EVENT, w.end - 1, ns, 16);
  }
  return rc < 0 ? sl__user_fail(inst, rc, r) : rc;
}

/* ---- the operator --------------------------------------------------------------- */

static int win_on_timer(sl__inst *inst, sl_time_domain d, int64_t ts, const void *ns,
                        uint32_t nslen) {
  const win_cfg *c = inst->op->cfg;
  win_inst *wi = inst->impl;
  if (nslen != 16) return 0;
  sl_window w = {get_be(ns), get_be((const uint8_t *)ns + 8)};
  sl_trigger_kind trig = trigger_of(&c->spec);
  int rc = 0;
  if (wi->fast) return 0; /* absorbing a restore: the rings say what fires */
  if (sliced(c)) {
    rc = ts == w.end - 1 && d == SL_TIME_EVENT ? fire_sliced(inst, c, wi, &w) : 0;
  } else if (ts == w.end - 1 && ((trig == SL_TRIGGER_EVENT_TIME && d == SL_TIME_EVENT) ||
                          (trig == SL_TRIGGER_PROCESSING_TIME && d == SL_TIME_PROCESSING)))
    rc = fire(inst, c, wi, &w);
  if (!rc && !sliced(c) && d == c->spec.time && ts == cleanup_time(&c->spec, &w))
    rc = clear_window(c, wi, &w);
  if (rc < 0 && !sl__failed(inst->job)) {
    sl_bytes k;
    sl_ctx_key(&inst->ctx, &k);
    sl_record r = {ts, k.data, k.len, NULL, 0};
    return sl__user_fail(inst, rc, &r);
  }
  return rc;
}

static int win_process(sl__inst *inst, int port, const sl_record *r) {
  const win_cfg *c = inst->op->cfg;
  const sl_window_spec *s = &c->spec;
  win_inst *wi = inst->impl;
  sl__set_key(inst, r);
  int64_t t = r->ts;
  if (s->time == SL_TIME_PROCESSING) {
    t = sl_ctx_now(&inst->ctx);
  } else if (r->ts == SL_NO_TIMESTAMP && !is_global(s)) {
    return sl__fail(inst, -SL_EINVAL,
                    "an event-time window got a record without a timestamp "
                    "(assign timestamps with sl_assign_timestamps first)");
  }
  if (sliced(c)) return process_sliced(inst, c, wi, r);
  size_t n = 0;
  int rc = 0, late = 0;
  switch (s->kind) {
    case SL_WINDOW_TUMBLING:
    case SL_WINDOW_SLIDING:
      if (assign_fixed(s, t, wi->wins, wi->wcap, &n)) return sl__win_unrepresentable(inst, s, t, r);
      break;
    case SL_WINDOW_SESSION:
      if (t == INT64_MAX) return sl__win_unrepresentable(inst, s, t, r);
      rc = session_assign(inst, c, wi, t, &wi->wins[0], &late);
      n = late ? 0 : 1;
      break;
    case SL_WINDOW_GLOBAL:
      wi->wins[n++] = (sl_window){INT64_MIN, INT64_MAX};
      break;
  }
  sl_trigger_kind trig = trigger_of(s);
  size_t added = 0;
  for (size_t i = 0; !rc && i < n; i++) {
    sl_window w = wi->wins[i];
    if (is_late(inst, s, &w)) continue;
    added++;
    uint8_t ns[16];
    win_ns(&w, ns);
    int first;
    if ((rc = add_element(inst, c, wi, &w, r, &first))) break;
    if (s->kind == SL_WINDOW_SESSION) first = 1; /* a merged window needs new timers */
    /* a window's timers are registered with its first element (registering
     * again would be deduplicated anyway); after a purge the contents are
     * empty again and the next element registers them again */
    sl_time_domain fire_d = trig == SL_TRIGGER_EVENT_TIME ? SL_TIME_EVENT : SL_TIME_PROCESSING;
    int64_t clean = cleanup_time(s, &w);
    if (trig == SL_TRIGGER_COUNT || trig == SL_TRIGGER_CUSTOM)
      rc = count_and_fire(inst, c, wi, &w, r);
    else if (trig == SL_TRIGGER_EVENT_TIME && w.end - 1 <= inst->wm)
      rc = fire(inst, c, wi, &w); /* late but within the allowed lateness: re-fire */
    else if (first && !is_global(s))
      rc = sl__timer_add(inst->timers, fire_d, w.end - 1, ns, 16);
    if (!rc && first && !is_global(s) &&
        (clean != w.end - 1 || fire_d != s->time || trig == SL_TRIGGER_COUNT ||
         trig == SL_TRIGGER_CUSTOM))
      rc = sl__timer_add(inst->timers, s->time, clean, ns, 16);
  }
  if (!rc && !added) return sl__emit_late(inst, c->late_tag, r); /* late: side output */
  return rc < 0 ? sl__user_fail(inst, rc, r) : rc;
}

static const sl__op_vt win_fast_vt;

static int win_open(sl__inst *inst) {
  const win_cfg *c = inst->op->cfg;
  int rc = sl__keyed_open(inst);
  if (rc) return rc;
  win_inst *wi = sl__calloc_private(sizeof *wi);
  if (!wi) return sl__fail(inst, -SL_ENOMEM, "out of memory");
  inst->impl = wi;
  /* at most ceil(size / slide) windows per record (size + slide could
   * overflow) */
  wi->wcap = c->spec.kind == SL_WINDOW_SLIDING
                 ? (size_t)(c->spec.size_ms / c->spec.slide_ms) + 2
                 : 1;
  wi->wins = sl__calloc(wi->wcap, sizeof *wi->wins);
  const sl_state_desc *contents =
      c->fk == SL__WF_AGG ? c->agg : c->fk == SL__WF_REDUCE ? &D_REDUCE : &D_ELEMS;
  if (!wi->wins) rc = -SL_ENOMEM;
  if (!rc) rc = sl_state_get(&inst->ctx, contents, &wi->contents);
  if (!rc && (c->spec.trigger == SL_TRIGGER_COUNT || c->spec.trigger == SL_TRIGGER_CUSTOM))
    rc = sl_state_get(&inst->ctx, &D_COUNT, &wi->count);
  if (!rc && c->spec.kind == SL_WINDOW_SESSION)
    rc = sl_state_get(&inst->ctx, &D_SESSIONS, &wi->sessions);
  if (!rc) rc = sl__timers_new(inst, win_on_timer, &inst->timers);
  if (!rc && sl__fastwin_eligible(inst, c) && !(rc = sl__fastwin_new(inst, c, &wi->fast))) {
    inst->vt = &win_fast_vt; /* this instance only */
    /* its panes are the contents state's entries (metrics) */
    sl__kstate_set_outside(inst->ks, contents->name, sl__fastwin_stats, wi->fast);
  }
  if (rc)
    return sl__fail(inst, rc, "cannot open the window state: %s",
                    inst->ctx.msg[0] ? inst->ctx.msg : sl_strerror(rc));
  return 0;
}

static void win_close(sl__inst *inst, int ok) {
  win_inst *wi = inst->impl;
  if (wi) {
    sl__free(wi->wins);
    sl__free(wi->copy);
    sl__free(wi->sess);
    sl__free(wi->acc);
    if (wi->fast) sl__kstate_set_outside(inst->ks, NULL, NULL, NULL);
    sl__fastwin_free(wi->fast);
    sl__free_private(wi);
    inst->impl = NULL;
  }
  sl__keyed_close(inst, ok);
}

static int win_on_watermark(sl__inst *inst, int64_t wm) {
  return sl__timers_fire(inst->timers, SL_TIME_EVENT, wm);
}

/* Checkpoints of the fast path hold the general path's state (win_int.h). */
static int win_snapshot_extra(sl__inst *inst, sl__snap_extra **out) {
  win_inst *wi = inst->impl;
  *out = NULL;
  return wi->fast ? sl__fastwin_freeze(inst, wi->fast, out) : 0;
}

static int win_restored(sl__inst *inst) {
  win_inst *wi = inst->impl;
  return wi->fast ? sl__fastwin_absorb(inst, wi->fast) : 0;
}

static int win_tick(sl__inst *inst, int64_t now) {
  if (sl__timers_next(inst->timers, SL_TIME_PROCESSING) > now) return 0;
  return sl__timers_fire(inst->timers, SL_TIME_PROCESSING, now);
}

/* End of input: processing-time windows fire too (event-time ones were
 * fired by the final watermark). */
static int win_finish(sl__inst *inst) {
  return sl__timers_fire(inst->timers, SL_TIME_PROCESSING, INT64_MAX);
}

/* The fast path's instances (win_open binds it on the instance). */
static int win_fast_process(sl__inst *inst, int port, const sl_record *r) {
  win_inst *wi = inst->impl;
  if (SL__UNLIKELY(r->ts == SL_NO_TIMESTAMP)) return win_process(inst, port, r); /* fails */
  return sl__fastwin_process(inst, wi->fast, r);
}

static int win_fast_on_watermark(sl__inst *inst, int64_t wm) {
  win_inst *wi = inst->impl;
  return sl__fastwin_fire(inst, wi->fast, wm);
}

static const sl__op_vt win_fast_vt = {.open = win_open,
                                      .process = win_fast_process,
                                      .finish = win_finish,
                                      .close = win_close,
                                      .on_watermark = win_fast_on_watermark,
                                      .tick = win_tick,
                                      .snapshot_extra = win_snapshot_extra,
                                      .restored = win_restored};

static const sl__op_vt win_vt = {.open = win_open,
                                 .process = win_process,
                                 .finish = win_finish,
                                 .close = win_close,
                                 .on_watermark = win_on_watermark,
                                 .tick = win_tick,
                                 .snapshot_extra = win_snapshot_extra,
                                 .restored = win_restored};

const sl__op_vt *sl__window_vtable(void) { return &win_vt; }

/* ---- configuration (the api builds the op with it) --------------------------- */

void sl__window_cfg_free(void *p) {
  win_cfg *c = p;
  if (!c) return;
  sl__free(c->late_tag);
  sl__free(c);
}

static const char *spec_error(const sl_window_spec *w) {
  switch (w->kind) {
    case SL_WINDOW_TUMBLING:
      return w->size_ms > 0 ? NULL : "tumbling windows need size_ms > 0";
    case SL_WINDOW_SLIDING:
      if (w->size_ms <= 0 || w->slide_ms <= 0) return "sliding windows need size_ms and slide_ms > 0";
      return w->size_ms / w->slide_ms > 100000 ? "more than 100000 windows per record" : NULL;
    case SL_WINDOW_SESSION: return w->gap_ms > 0 ? NULL : "session windows need gap_ms > 0";
    case SL_WINDOW_GLOBAL:
      return w->trigger == SL_TRIGGER_COUNT || w->trigger == SL_TRIGGER_CUSTOM
                 ? NULL
                 : "a global window needs a count or custom trigger";
  }
  return "unknown window kind";
}

void *sl__window_cfg_new(const sl_window_spec *w, sl__wf_kind fk, const sl_state_desc *agg,
                         sl_reduce_fn reduce, sl_window_fn fn, const char **err) {
  const char *e = !w ? "window spec is NULL" : spec_error(w);
  if (!e && w->trigger == SL_TRIGGER_COUNT && !w->count) e = "count trigger needs count > 0";
  if (!e && w->trigger == SL_TRIGGER_CUSTOM && !w->custom) e = "custom trigger needs `custom`";
  if (!e && fk == SL__WF_AGG && (!agg || agg->kind != SL_STATE_AGGREGATING))
    e = "sl_window_aggregate needs an SL_STATE_AGGREGATING descriptor";
  if (!e && fk == SL__WF_AGG && w->kind == SL_WINDOW_SESSION && !agg->agg_merge)
    e = "session windows need the aggregate's agg_merge";
  if (!e && ((fk == SL__WF_REDUCE && !reduce) || (fk == SL__WF_PROCESS && !fn)))
    e = "function is NULL";
  win_cfg *c = e ? NULL : sl__calloc(1, sizeof *c);
  if (c) {
    c->spec = *w;
    c->late_tag = sl__strdup(w->late_tag ? w->late_tag : "late");
    c->fk = fk;
    c->agg = agg;
    c->reduce = reduce;
    c->fn = fn;
    if (!c->late_tag) {
      sl__window_cfg_free(c);
      c = NULL;
    }
  }
  if (!c) *err = e; /* NULL: out of memory */
  return c;
}

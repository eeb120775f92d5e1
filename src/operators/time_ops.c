/*
 * time_ops.c -- event time in operators: the timestamp assigner and
 * watermark generator (sl_assign_timestamps), the keyed process function
 * with timers (sl_keyed_process), and the context calls that read time and
 * the current key.
 *
 * Watermark generator, per subtask:
 *   - each record: ts = assigner(record), max_ts = max(max_ts, ts); a
 *     custom strategy's on_event may propose a watermark (punctuated);
 *   - emission: after every record when pipeline.auto-watermark-interval is
 *     0, else from tick() once per interval; the watermark is
 *     max_ts - out_of_orderness - 1 (bounded), max_ts - 1 (monotonous) or
 *     on_periodic() (custom), and only ever moves forward;
 *   - idleness: no record for idle_timeout -> tell consumers "idle"; the
 *     next record makes it active again first.
 * Processing time (periodic emission, idleness) is sl__clock_ms(), which
 * tests replace to drive it by hand; arithmetic on times saturates.
 */
#include "operators/ops.h"
#include "operators/time_ops.h"
#include "time/timers.h"

/* ---- context ------------------------------------------------------------------ */

int64_t sl_ctx_watermark(const sl_ctx *ctx) { return ctx->inst->wm; }

int64_t sl_ctx_now(const sl_ctx *ctx) {
  (void)ctx;
  return sl__clock_ms();
}

int sl_ctx_key(const sl_ctx *ctx, sl_bytes *key) {
  if (!ctx || !key || !ctx->inst->ks) return SL_EMPTY;
  sl__kstate_key(ctx->inst->ks, key);
  return 0;
}

static int no_timers(sl_ctx *ctx) {
  return sl_ctx_fail(ctx, "timers need a keyed process function (sl_keyed_process) with an on_timer "
                          "function, or a window"),
         -SL_ESTATE;
}

int sl_timer_register(sl_ctx *ctx, sl_time_domain domain, int64_t ts) {
  if (!ctx) return -SL_EINVAL;
  /* a keyed process function without on_timer has the timer service (its
   * watermark and checkpoint paths are the same) but takes no timer */
  const sl__op *op = ctx->inst->op;
  if (!ctx->inst->timers ||
      ((op->kind == SL__OP_KEYED_PROCESS || op->kind == SL__OP_KEYED_BATCH) && !op->fn2))
    return no_timers(ctx);
  return sl__timer_add(ctx->inst->timers, domain, ts, NULL, 0);
}

int sl_timer_delete(sl_ctx *ctx, sl_time_domain domain, int64_t ts) {
  if (!ctx) return -SL_EINVAL;
  if (!ctx->inst->timers) return no_timers(ctx);
  return sl__timer_del(ctx->inst->timers, domain, ts, NULL, 0);
}

/* ---- timestamps and watermarks -------------------------------------------------- */

typedef struct wm_gen {
  sl_timestamp_fn ts_fn;
  void *ud;
  sl_watermark_strategy ws;
} wm_gen;

typedef struct wm_state {
  int per_record; /* a watermark may follow each record: interval 0 or on_event */
  int64_t max_ts;
  int64_t emitted;     /* last watermark sent */
  int64_t next_emit;   /* wall-clock ms of the next periodic emission */
  int64_t last_record; /* wall-clock ms of the last record */
  int idle;
} wm_state;

static int wm_open(sl__inst *inst) {
  wm_state *s = sl__calloc_private(sizeof *s);
  if (!s) return sl__fail(inst, -SL_ENOMEM, "out of memory");
  s->max_ts = s->emitted = SL_WATERMARK_MIN;
  s->last_record = sl_ctx_now(&inst->ctx);
  const wm_gen *g = inst->op->cfg;
  s->per_record = g->ws.kind == SL_WM_CUSTOM ? g->ws.on_event != NULL
                                             : SL__CONF_I(inst->job->conf, WATERMARK_INTERVAL) == 0;
  inst->impl = s;
  return 0;
}

static void wm_close(sl__inst *inst, int ok) {
  sl__free_private(inst->impl);
  inst->impl = NULL;
  sl__keyed_close(inst, ok);
}

static int64_t bounded_wm(const wm_gen *g, const wm_state *s) {
  if (s->max_ts == SL_WATERMARK_MIN) return SL_WATERMARK_MIN;
  int64_t bound = g->ws.kind == SL_WM_MONOTONOUS ? 0 : g->ws.out_of_orderness_ms;
  /* saturating: near INT64_MIN the watermark stays at "none" */
  return sl__sat_sub(sl__sat_sub(s->max_ts, bound), 1);
}

/* The generator owns the instance's watermark (upstream watermarks are
 * ignored: an assigner replaces them, as in Flink). */
static int send_wm(sl__inst *inst, wm_state *s, int64_t wm) {
  if (wm <= s->emitted || wm <= inst->wm) return 0;
  s->emitted = inst->wm = wm;
  return sl__emit_ctrl(inst, SL__EV_WATERMARK, wm);
}

static int wm_process(sl__inst *inst, int port, const sl_record *r) {
  const wm_gen *g = inst->op->cfg;
  wm_state *s = inst->impl;
  int rc;
  if (SL__UNLIKELY(s->idle)) {
    s->idle = 0;
    if ((rc = sl__inst_idle(inst, 0, 0))) return rc;
  }
  sl_record out = *r;
  out.ts = g->ts_fn(g->ud, r); /* (no ctx: no scratch to free) */
  if (out.ts > s->max_ts) s->max_ts = out.ts;
  if (g->ws.idle_timeout_ms > 0) s->last_record = sl_ctx_now(&inst->ctx);
  if ((rc = sl__emit(inst, &out)) || SL__LIKELY(!s->per_record)) return rc;
  if (g->ws.kind == SL_WM_CUSTOM) {
    sl__user_call(&inst->ctx);
    int64_t wm = g->ws.on_event(g->ws.ud, &inst->ctx, &out, out.ts);
    return wm != SL_WATERMARK_MIN ? send_wm(inst, s, wm) : 0;
  }
  return send_wm(inst, s, bounded_wm(g, s));
}

static int wm_tick(sl__inst *inst, int64_t now) {
  const wm_gen *g = inst->op->cfg;
  wm_state *s = inst->impl;
  int64_t interval = SL__CONF_I(inst->job->conf, WATERMARK_INTERVAL);
  int rc = 0;
  if (interval > 0 && now >= s->next_emit) {
    s->next_emit = sl__sat_add(now, interval);
    int64_t wm = SL_WATERMARK_MIN;
    if (g->ws.kind != SL_WM_CUSTOM)
      wm = bounded_wm(g, s);
    else if (g->ws.on_periodic) {
      sl__user_call(&inst->ctx);
      wm = g->ws.on_periodic(g->ws.ud, &inst->ctx);
    }
    if (wm != SL_WATERMARK_MIN) rc = send_wm(inst, s, wm);
  }
  if (!rc && g->ws.idle_timeout_ms > 0 && !s->idle &&
      sl__sat_sub(now, s->last_record) >= g->ws.idle_timeout_ms) {
    s->idle = 1;
    rc = sl__inst_idle(inst, 0, 1);
  }
  return rc;
}

/* Checkpoints: the generator's max timestamp and last watermark. */
static int wm_save(sl__inst *inst, uint8_t *buf, size_t cap, size_t *len) {
  wm_state *s = inst->impl;
  int64_t v[2] = {s->max_ts, s->emitted};
  memcpy(buf, v, sizeof v);
  *len = sizeof v;
  return 0;
}

/* Same parallelism: this subtask's own; else the smallest of all (a
 * watermark never ahead of what every old subtask had). */
static int wm_load(sl__inst *inst, const uint8_t *const *blobs, const size_t *lens, int n) {
  wm_state *s = inst->impl;
  int64_t best[2] = {SL_WATERMARK_MAX, SL_WATERMARK_MAX};
  for (int i = 0; i < n; i++) {
    if (lens[i] != 16 || (n == inst->ctx.parallelism && i != inst->ctx.subtask)) continue;
    int64_t v[2];
    memcpy(v, blobs[i], 16);
    best[0] = SL__MIN(best[0], v[0]);
    best[1] = SL__MIN(best[1], v[1]);
  }
  if (best[0] != SL_WATERMARK_MAX) {
    s->max_ts = best[0];
    s->emitted = best[1];
  }
  return 0;
}

/* No timestamp function: the record's own timestamp. */
static int64_t record_ts(void *ud, const sl_record *in) {
  (void)ud;
  return in->ts;
}

void *sl__wm_gen_new(sl_timestamp_fn ts_fn, void *ud, const sl_watermark_strategy *strategy) {
  wm_gen *g = sl__calloc(1, sizeof *g);
  if (!g) return NULL;
  g->ts_fn = ts_fn ? ts_fn : record_ts;
  g->ud = ud;
  if (strategy) g->ws = *strategy;
  return g;
}

/* ---- keyed process function ------------------------------------------------------ */

int sl__keyed_on_timer(sl__inst *inst, sl_time_domain d, int64_t ts, const void *ns,
                       uint32_t nslen) {
  sl__user_call(&inst->ctx);
  int rc = ((sl_timer_fn)inst->op->fn2)(inst->op->ud, &inst->ctx, ts, d, &inst->coll);
  if (rc < 0) {
    sl_record r = {ts, NULL, 0, NULL, 0};
    sl_bytes k;
    if (!sl_ctx_key(&inst->ctx, &k)) r.key = k.data, r.key_len = k.len;
    return sl__user_fail(inst, rc, &r);
  }
  return 0;
}

static int kp_open(sl__inst *inst) {
  int rc = sl__keyed_open(inst);
  if (!rc && (rc = sl__timers_new(inst, sl__keyed_on_timer, &inst->timers)))
    return sl__fail(inst, rc, "cannot create timers: %s", inst->ctx.msg);
  return rc;
}

static int kp_process(sl__inst *inst, int port, const sl_record *r) {
  sl__set_key(inst, r);
  sl__user_call(&inst->ctx);
  int rc = ((sl_flat_map_fn)inst->op->fn)(inst->op->ud, &inst->ctx, r, &inst->coll);
  return SL__UNLIKELY(rc < 0) ? sl__user_fail(inst, rc, r) : 0;
}

static int kp_on_watermark(sl__inst *inst, int64_t wm) {
  return sl__timers_fire(inst->timers, SL_TIME_EVENT, wm);
}

static int kp_tick(sl__inst *inst, int64_t now) {
  if (sl__timers_next(inst->timers, SL_TIME_PROCESSING) > now) return 0;
  return sl__timers_fire(inst->timers, SL_TIME_PROCESSING, now);
}

/* ---- dispatch --------------------------------------------------------------------- */

static const sl__op_vt wm_vt = {.open = wm_open,
                                .process = wm_process,
                                .close = wm_close,
                                .tick = wm_tick,
                                .save = wm_save,
                                .load = wm_load,
                                .own_watermarks = 1};
static const sl__op_vt kp_vt = {.open = kp_open,
                                .process = kp_process,
                                .process_batch = sl__keyed_run,
                                .close = sl__keyed_close,
                                .on_watermark = kp_on_watermark,
                                .tick = kp_tick};

const sl__op_vt *sl__time_vtable(sl__op_kind kind) {
  switch (kind) {
    case SL__OP_TIMESTAMPS: return &wm_vt;
    case SL__OP_KEYED_PROCESS: return &kp_vt;
    default: return NULL;
  }
}

/*
 * connector_api.c -- the engine's side of the public connector contract
 * (include/sluice_connector.h): making sl_source / sl_sink handles from an
 * ops table, and the context calls connectors make (emit, fail, wake-up,
 * per-split watermarks, configuration, logging, clock, stop requests).
 *
 * Per-split watermarks: a source instance keeps one entry per split id it
 * reported (sl__splits, grown on demand, searched linearly -- a reader has
 * few splits and reports once per poll); the instance's watermark is the
 * minimum over the live (not idle, not done) splits, sent downstream only
 * when it rises, and the instance is idle downstream while every split it
 * still reads is idle.
 */
#include <stdarg.h>

#include "runtime/runtime.h"
#include "runtime/source_sink.h"

/* ---- handles ---------------------------------------------------------------------- */

sl_source *sl_source_new(const sl_source_ops *ops, void *ud, unsigned flags) {
  int ok = ops && (ops->version == 1 || ops->version == SL_CONNECTOR_VERSION) && ops->open &&
           ops->poll && !ops->position == !ops->seek && !(flags & ~SL_SOURCE_NONPARALLEL) &&
           (ops->version < 2 || !ops->checkpoint_complete || ops->position);
  sl_source *s = ok ? sl__calloc(1, sizeof *s) : NULL;
  if (!s) {
    if (ops && ops->free && ud) ops->free(ud);
    return NULL;
  }
  *s = (sl_source){ops, flags, ud};
  return s;
}

sl_sink *sl_sink_new(const sl_sink_ops *ops, void *ud, unsigned flags) {
  int ok = ops && (ops->version == 1 || ops->version == SL_CONNECTOR_VERSION) && ops->open &&
           ops->write &&
           !ops->precommit == !ops->commit_ckpt && !ops->precommit == !ops->recover &&
           !(flags & ~SL_SINK_GLOBAL);
  sl_sink *s = ok ? sl__calloc(1, sizeof *s) : NULL;
  if (!s) {
    if (ops && ops->free && ud) ops->free(ud);
    return NULL;
  }
  *s = (sl_sink){ops, flags, ud};
  return s;
}

void sl__ctx_main(sl_ctx *ctx, const sl__conf *conf, const char *log_scope, const char *name,
                  int parallelism) {
  memset(ctx, 0, sizeof *ctx);
  ctx->subtask = -1;
  ctx->parallelism = parallelism;
  ctx->name = name;
  ctx->conf = conf;
  ctx->log_scope = log_scope;
}

/* ---- emitting ----------------------------------------------------------------------- */

int sl_ctx_emit(sl_ctx *ctx, const sl_record *rec) {
  SL_ASSERT(ctx && ctx->inst && ctx->inst->op->kind == SL__OP_SOURCE);
  return sl__source_emit(ctx->inst, rec);
}

void sl_ctx_wake(sl_ctx *ctx) {
  if (ctx && ctx->inst) sl__worker_wake(ctx->inst->w);
}

/* ---- per-split watermarks ------------------------------------------------------------ */

typedef struct sl__split_wm {
  uint64_t id;
  int64_t wm;
  uint8_t idle, done;
} sl__split_wm;

struct sl__splits {
  sl__split_wm *e;
  uint32_t n, cap;
  int pending; /* changed before the workers started: sent at the first poll */
};

void sl__splits_free(sl__inst *inst) {
  if (!inst->splits) return;
  sl__free(inst->splits->e);
  sl__free(inst->splits);
  inst->splits = NULL;
}

static sl__split_wm *split_of(sl__inst *inst, uint64_t id) {
  sl__splits *s = inst->splits;
  if (!s && !(s = inst->splits = sl__calloc(1, sizeof *s))) return NULL;
  for (uint32_t i = 0; i < s->n; i++)
    if (s->e[i].id == id) return &s->e[i];
  if (sl__grow(&s->e, &s->cap, s->n, sizeof *s->e, 8)) return NULL;
  s->e[s->n] = (sl__split_wm){id, SL_WATERMARK_MIN, 0, 0};
  return &s->e[s->n++];
}

/* Send the combined watermark and idleness of inst's splits downstream
 * (once the workers run: before, downstream may not be open). */
static int splits_changed(sl__inst *inst) {
  sl__splits *s = inst->splits;
  if (!inst->job->started) {
    s->pending = 1;
    return 0;
  }
  s->pending = 0;
  int64_t wm = SL_WATERMARK_MAX;
  int live = 0, active = 0;
  for (uint32_t i = 0; i < s->n; i++) {
    if (s->e[i].done) continue;
    live++;
    if (s->e[i].idle) continue;
    active++;
    if (s->e[i].wm < wm) wm = s->e[i].wm;
  }
  if (!live) return 0; /* nothing read any more: the source's end says the rest */
  return sl__source_watermark(inst, active ? wm : SL_WATERMARK_MIN, !active);
}

int sl__splits_flush(sl__inst *inst) {
  return inst->splits && inst->splits->pending ? splits_changed(inst) : 0;
}

int sl_ctx_split_watermark(sl_ctx *ctx, uint64_t split, int64_t watermark) {
  if (!ctx || !ctx->inst || ctx->inst->op->kind != SL__OP_SOURCE) return -SL_EINVAL;
  sl__split_wm *e = split_of(ctx->inst, split);
  if (!e) return -SL_ENOMEM;
  int was_idle = e->idle;
  e->idle = 0;
  if (watermark <= e->wm && !was_idle) return 0;
  if (watermark > e->wm) e->wm = watermark;
  return splits_changed(ctx->inst);
}

int sl_ctx_split_idle(sl_ctx *ctx, uint64_t split, int idle) {
  if (!ctx || !ctx->inst || ctx->inst->op->kind != SL__OP_SOURCE) return -SL_EINVAL;
  sl__split_wm *e = split_of(ctx->inst, split);
  if (!e) return -SL_ENOMEM;
  if (e->idle == !!idle) return 0;
  e->idle = (uint8_t)!!idle;
  return splits_changed(ctx->inst);
}

int sl_ctx_split_done(sl_ctx *ctx, uint64_t split) {
  if (!ctx || !ctx->inst || ctx->inst->op->kind != SL__OP_SOURCE) return -SL_EINVAL;
  sl__split_wm *e = split_of(ctx->inst, split);
  if (!e) return -SL_ENOMEM;
  if (e->done) return 0;
  e->done = 1;
  return splits_changed(ctx->inst);
}

int sl_ctx_split_metrics(sl_ctx *ctx, uint64_t split, uint64_t records, int64_t pending) {
  if (!ctx || !ctx->inst || ctx->inst->op->kind != SL__OP_SOURCE) return -SL_EINVAL;
  sl__imetrics *m = &ctx->inst->m;
  int n = atomic_load_explicit(&m->n_splits, memory_order_relaxed), k = 0;
  while (k < n && m->splits[k].id != split) k++;
  if (k == SL__SPLIT_METRICS) return 0; /* not shown */
  if (k == n) m->splits[k].id = split;
  atomic_store_explicit(&m->splits[k].records, records, memory_order_relaxed);
  atomic_store_explicit(&m->splits[k].pending, pending, memory_order_relaxed);
  if (k == n) atomic_store_explicit(&m->n_splits, n + 1, memory_order_release);
  return 0;
}

/* ---- failing, configuration, logging, clock ----------------------------------------- */

int sl_ctx_error(sl_ctx *ctx, int code, const char *fmt, ...) {
  char msg[1536];
  va_list ap;
  va_start(ap, fmt);
  sl__vfmt(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (code >= 0) code = -SL_EINTERNAL;
  if (!ctx) return code;
  if (ctx->msg[0]) { /* left by a user function the connector called */
    size_t n = strlen(msg);
    sl__fmt(msg + n, sizeof msg - n, ": %s", ctx->msg);
  }
  if (!ctx->inst) {
    sl__fmt(ctx->msg, sizeof ctx->msg, "%s", msg);
    return code;
  }
  ctx->msg[0] = 0;
  return sl__fail(ctx->inst, code, "%s", msg);
}

const char *sl_ctx_config(const sl_ctx *ctx, const char *key) {
  int id = ctx && ctx->conf ? sl__conf_find(key) : -1;
  return id >= 0 ? ctx->conf->v[id].text : NULL;
}

int sl_ctx_config_int(const sl_ctx *ctx, const char *key, int64_t *out) {
  int id = ctx && ctx->conf && out ? sl__conf_find(key) : -1;
  if (id < 0 || sl__conf_is_text(id)) return -SL_ECONFIG;
  *out = ctx->conf->v[id].i;
  return 0;
}

void sl_ctx_log(const sl_ctx *ctx, sl_log_level level, const char *fmt, ...) {
  if (!ctx || !ctx->conf || !sl__log_enabled(&ctx->conf->log, level)) return;
  char msg[1536];
  va_list ap;
  va_start(ap, fmt);
  sl__vfmt(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (ctx->subtask >= 0)
    sl__log(&ctx->conf->log, level, ctx->log_scope, "operator '%s' (subtask %d/%d): %s",
            ctx->name, ctx->subtask + 1, ctx->parallelism, msg);
  else
    sl__log(&ctx->conf->log, level, ctx->log_scope, "operator '%s': %s", ctx->name, msg);
}

int64_t sl_ctx_checkpoint_id(const sl_ctx *ctx) {
  return ctx && ctx->ckpt_taking > 0 ? ctx->ckpt_taking : -1;
}

int sl_ctx_decline_checkpoint(sl_ctx *ctx, const char *fmt, ...) {
  if (!ctx || ctx->ckpt_taking <= 0) return -SL_EINVAL;
  va_list ap;
  va_start(ap, fmt);
  sl__vfmt(ctx->decline, sizeof ctx->decline, fmt, ap);
  va_end(ap);
  if (!ctx->decline[0]) sl__fmt(ctx->decline, sizeof ctx->decline, "no reason given");
  return SL_POSITION_DECLINE;
}

int64_t sl_ctx_monotonic_ns(const sl_ctx *ctx) {
  return ctx && ctx->inst && ctx->inst->w->now_ns ? ctx->inst->w->now_ns : sl__now_ns();
}

int sl_ctx_restoring(const sl_ctx *ctx) { return ctx && !ctx->inst && ctx->restoring; }

int sl_ctx_failed(const sl_ctx *ctx) {
  return ctx && ctx->inst ? sl__failed(ctx->inst->job) : 0;
}

int sl_ctx_stopping(const sl_ctx *ctx) {
  if (!ctx || !ctx->inst) return 0;
  return sl__cancelled(ctx->inst) || sl__failed(ctx->inst->job);
}

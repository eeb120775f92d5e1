/*
 * operators.c -- what each operator kind does per record: calls the user
 * function, handles its failure, emits the result.
 *
 * A user function's failure fails the job with a message naming the
 * operator, the subtask and the record (sl__user_fail).  A failure that
 * comes back from downstream through sl_emit is passed on unchanged (the
 * first error recorded wins).
 */
#include <stdarg.h>
#include <stdio.h>

#include "runtime/source_sink.h"
#include "runtime/runtime.h"
#include "operators/ops.h"
#include "time/timers.h"
#include "state/state.h"

/* ---- sl_ctx ------------------------------------------------------------- */

int sl_ctx_subtask(const sl_ctx *ctx) { return ctx->subtask; }
int sl_ctx_parallelism(const sl_ctx *ctx) { return ctx->parallelism; }
const char *sl_ctx_operator(const sl_ctx *ctx) { return ctx->name; }
void *sl_ctx_local(const sl_ctx *ctx) { return ctx ? ctx->local : NULL; }
void sl_ctx_set_local(sl_ctx *ctx, void *local) {
  if (ctx) ctx->local = local;
}

int sl_ctx_fail(sl_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sl__vfmt(ctx->msg, sizeof ctx->msg, fmt, ap);
  va_end(ap);
  return -SL_EUSER;
}

int sl__user_fail(sl__inst *inst, int rc, const sl_record *r) {
  if (sl__failed(inst->job)) return rc; /* downstream failure passing up */
  char key[96], val[160], ts[32];
  if (r->ts == SL_NO_TIMESTAMP)
    sl__fmt(ts, sizeof ts, "none");
  else
    sl__fmt(ts, sizeof ts, "%lld", (long long)r->ts);
  const char *msg = inst->ctx.msg[0] ? inst->ctx.msg : sl_strerror(rc);
  int code = rc < 0 ? rc : -SL_EUSER;
  sl__fail(inst, code, "user function failed on record (ts=%s key=%s value=%s): %s",
           ts, sl__preview(key, sizeof key, r->key, r->key_len, 32),
           sl__preview(val, sizeof val, r->value, r->value_len, 64), msg);
  inst->ctx.msg[0] = 0;
  return code;
}

/* ---- keyed context -------------------------------------------------------- */

/* Keyed operators: a state backend over this subtask's key groups. */
int sl__keyed_open(sl__inst *inst) {
  if (!inst->op->keyed_input) return 0;
  sl__job *job = inst->job;
  int lo, hi;
  sl__key_group_range(job->max_parallelism, job->P, inst->ctx.subtask, &lo, &hi);
  char name[160], err[1024] = "";
  sl__fmt(name, sizeof name, "%s-%d", inst->op->name, inst->ctx.subtask);
  for (char *p = name; *p; p++)
    if (*p == '/' || *p == ' ') *p = '_';
  sl__backend *be;
  int rc = sl__backend_open(job->conf, name, lo, hi, job->max_parallelism, &be, err,
                            sizeof err);
  if (!rc) be->large = &inst->want_runs; /* runs once the state is large */
  if (!rc) rc = sl__kstate_new(be, &inst->ctx, "keyed", &inst->ks);
  if (rc) return sl__fail(inst, rc, "cannot open keyed state: %s", err[0] ? err : sl_strerror(rc));
  return 0;
}

void sl__keyed_close(sl__inst *inst, int ok) {
  sl__timers_free(inst->timers);
  inst->timers = NULL;
  sl__kstate_free(inst->ks);
  sl__kstate_free(inst->os);
  sl__kstate_free(inst->bs);
  inst->ks = inst->os = inst->bs = NULL;
}


/* Prefetch distances, in records: the table slots of record i + FAR, the
 * entries of record i + NEAR (whose slots were asked for FAR - NEAR records
 * ago).  A keyed state of a million keys misses the cache on every record;
 * this keeps several misses in flight instead of one. */
#define SL__PF_FAR 8
#define SL__PF_NEAR 4

int sl__keyed_run(sl__inst *inst, int port, const sl__hrec *v, uint32_t n) {
  sl__kstate *ks = inst->ks;
  if (ks)
    for (uint32_t i = 0; i < n && i < SL__PF_FAR; i++) sl__kstate_prefetch(ks, v[i].hash, 0);
  for (uint32_t i = 0; i < n; i++) {
    if (ks && i + SL__PF_NEAR < n)
      sl__kstate_prefetch(ks, i + SL__PF_FAR < n ? v[i + SL__PF_FAR].hash : 0,
                          v[i + SL__PF_NEAR].hash);
    inst->key_hash = v[i].hash;
    int rc = inst->vt->process(inst, port, &v[i].r);
    if (rc) return rc;
  }
  return 0;
}

/* ---- stateless ---------------------------------------------------------- */

static int map_process(sl__inst *inst, int port, const sl_record *r) {
  if (inst->ks) sl__set_key(inst, r);
  sl_record out = *r;
  sl__user_call(&inst->ctx);
  int rc = ((sl_map_fn)inst->op->fn)(inst->op->ud, &inst->ctx, r, &out);
  if (SL__UNLIKELY(rc < 0)) return sl__user_fail(inst, rc, r);
  return sl__emit(inst, &out);
}

static int filter_process(sl__inst *inst, int port, const sl_record *r) {
  if (inst->ks) sl__set_key(inst, r);
  sl__user_call(&inst->ctx);
  int rc = ((sl_filter_fn)inst->op->fn)(inst->op->ud, &inst->ctx, r);
  if (SL__UNLIKELY(rc < 0)) return sl__user_fail(inst, rc, r);
  return rc ? sl__emit(inst, r) : 0;
}

static int flat_map_process(sl__inst *inst, int port, const sl_record *r) {
  if (inst->ks) sl__set_key(inst, r);
  sl__user_call(&inst->ctx);
  int rc = ((sl_flat_map_fn)inst->op->fn)(inst->op->ud, &inst->ctx, r, &inst->coll);
  if (SL__UNLIKELY(rc < 0)) return sl__user_fail(inst, rc, r);
  return 0;
}

static int key_by_process(sl__inst *inst, int port, const sl_record *r) {
  if (!inst->op->fn) return sl__emit(inst, r);
  sl_record out = *r;
  sl__user_call(&inst->ctx);
  int rc = ((sl_key_fn)inst->op->fn)(inst->op->ud, &inst->ctx, r, &out);
  if (SL__UNLIKELY(rc < 0)) return sl__user_fail(inst, rc, r);
  out.ts = r->ts; /* only the key is the function's */
  out.value = r->value;
  out.value_len = r->value_len;
  return sl__emit(inst, &out);
}

static int pass_process(sl__inst *inst, int port, const sl_record *r) {
  return sl__emit(inst, r);
}

/* ---- two inputs --------------------------------------------------------- */

static int connect_process(sl__inst *inst, int port, const sl_record *r) {
  if (inst->ks && inst->op->kind == SL__OP_CONNECT) sl__set_key(inst, r);
  sl_flat_map_fn fn = (sl_flat_map_fn)(port ? inst->op->fn2 : inst->op->fn);
  sl__user_call(&inst->ctx);
  int rc = fn(inst->op->ud, &inst->ctx, r, &inst->coll);
  return SL__UNLIKELY(rc < 0) ? sl__user_fail(inst, rc, r) : 0;
}

static int bconnect_open(sl__inst *inst) {
  int rc = sl__keyed_open(inst);
  if (!rc && (rc = sl__unkeyed_state_new(inst, "broadcast", &inst->bs)))
    return sl__fail(inst, rc, "cannot create broadcast state");
  return rc;
}

/* Port 0: the (keyed) input, read-only broadcast state.  Port 1: the
 * broadcast input, read-write broadcast state, no current key. */
static int bconnect_process(sl__inst *inst, int port, const sl_record *r) {
  sl__kstate_set_readonly(inst->bs, port == 0);
  if (inst->ks) {
    if (port == 0) sl__set_key(inst, r);
    sl__kstate_set_no_key(inst->ks, port == 1);
  }
  return connect_process(inst, port, r);
}

/* ---- rolling reduce ----------------------------------------------------- */

/* The accumulator of each key is value state "reduce" of the operator. */
static const sl_state_desc reduce_desc = {.name = "reduce", .kind = SL_STATE_VALUE};

static int reduce_open(sl__inst *inst) {
  int rc = sl__keyed_open(inst);
  if (rc) return rc;
  sl_state *s;
  rc = sl_state_get(&inst->ctx, &reduce_desc, &s);
  if (rc) return sl__fail(inst, rc, "%s", inst->ctx.msg);
  inst->impl = s;
  return 0;
}

static int reduce_process(sl__inst *inst, int port, const sl_record *r) {
  sl_state *s = inst->impl;
  sl__set_key(inst, r);
  sl_bytes acc;
  int rc = sl_value_get(s, &acc);
  if (SL__UNLIKELY(rc < 0)) return sl__user_fail(inst, rc, r);
  if (rc == SL_EMPTY) {
    rc = sl_value_set(s, r->value, r->value_len);
    if (SL__UNLIKELY(rc < 0)) return sl__user_fail(inst, rc, r);
    return sl__emit(inst, r);
  }
  /* both built from scalars: copying `a` right after storing it field by
   * field stalls on store-to-load forwarding */
  sl_record a = {r->ts, r->key, r->key_len, acc.data, acc.len};
  sl_record out = {r->ts, r->key, r->key_len, acc.data, acc.len};
  sl__user_call(&inst->ctx);
  rc = ((sl_reduce_fn)inst->op->fn)(inst->op->ud, &inst->ctx, &a, r, &out);
  if (SL__UNLIKELY(rc < 0)) return sl__user_fail(inst, rc, r);
  out.ts = r->ts;
  out.key = r->key;
  out.key_len = r->key_len;
  /* emit before storing: out may point into the stored accumulator */
  rc = sl__emit(inst, &out);
  if (rc) return rc;
  rc = sl_value_set(s, out.value, out.value_len);
  return SL__UNLIKELY(rc < 0) ? sl__user_fail(inst, rc, r) : 0;
}

/* ---- sources and sinks -------------------------------------------------- */

static int source_open(sl__inst *inst) {
  sl_source *src = inst->op->source;
  if ((src->flags & SL_SOURCE_NONPARALLEL) && inst->ctx.subtask != 0)
    return 0; /* impl NULL: ends */
  int rc = src->ops->open(src->ud, &inst->ctx, &inst->impl);
  return SL__UNLIKELY(rc < 0) ? sl__conn_fail(inst, rc) : 0;
}

static void source_close(sl__inst *inst, int ok) {
  sl__keyed_close(inst, ok); /* operator state a datagen function may have used */
  if (inst->impl && inst->op->source->ops->close)
    inst->op->source->ops->close(inst->impl, &inst->ctx);
  inst->impl = NULL;
  sl__splits_free(inst);
}

static int sink_open(sl__inst *inst) {
  sl_sink *sink = inst->op->sink;
  int rc = sink->ops->open(sink->ud, &inst->ctx, &inst->impl);
  return SL__UNLIKELY(rc < 0) ? sl__conn_fail(inst, rc) : 0;
}

static int sink_process(sl__inst *inst, int port, const sl_record *r) {
  (void)port;
  sl__user_call(&inst->ctx);
  int rc = inst->op->sink->ops->write(inst->impl, &inst->ctx, r);
  return SL__UNLIKELY(rc < 0) ? sl__conn_fail(inst, rc) : 0;
}

static int sink_finish(sl__inst *inst) {
  const sl_sink_ops *ops = inst->op->sink->ops;
  int rc = ops->flush ? ops->flush(inst->impl, &inst->ctx) : 0;
  return SL__UNLIKELY(rc < 0) ? sl__conn_fail(inst, rc) : 0;
}

static void sink_close(sl__inst *inst, int ok) {
  sl__keyed_close(inst, ok);
  if (inst->impl && inst->op->sink->ops->close)
    inst->op->sink->ops->close(inst->impl, &inst->ctx, ok);
  inst->impl = NULL;
}

#define VT(o, p, f, c) {.open = (o), .process = (p), .finish = (f), .close = (c)}
/* keyed kinds whose state is addressed by the key: runs with prefetch */
#define VTK(o, p, f, c) \
  {.open = (o), .process = (p), .process_batch = sl__keyed_run, .finish = (f), .close = (c)}
static const sl__op_vt g_vts[] = {
    [SL__OP_SOURCE] = VT(source_open, NULL, NULL, source_close),
    [SL__OP_MAP] = VTK(sl__keyed_open, map_process, NULL, sl__keyed_close),
    [SL__OP_FILTER] = VTK(sl__keyed_open, filter_process, NULL, sl__keyed_close),
    [SL__OP_FLAT_MAP] = VTK(sl__keyed_open, flat_map_process, NULL, sl__keyed_close),
    [SL__OP_PROCESS] = VTK(sl__keyed_open, flat_map_process, NULL, sl__keyed_close),
    [SL__OP_KEY_BY] = VT(NULL, key_by_process, NULL, sl__keyed_close),
    [SL__OP_REDUCE] = VTK(reduce_open, reduce_process, NULL, sl__keyed_close),
    [SL__OP_UNION] = VT(NULL, pass_process, NULL, sl__keyed_close),
    [SL__OP_SINK] = VT(sink_open, sink_process, sink_finish, sink_close),
    [SL__OP_CONNECT] = VT(sl__keyed_open, connect_process, NULL, sl__keyed_close),
    [SL__OP_BROADCAST_CONNECT] = VT(bconnect_open, bconnect_process, NULL, sl__keyed_close),
};
#undef VT
#undef VTK

const sl__op_vt *sl__op_vtable(sl__op_kind kind) {
  if (kind < (int)(sizeof g_vts / sizeof g_vts[0]) && (g_vts[kind].process || g_vts[kind].open))
    return &g_vts[kind];
  return NULL;
}

int sl_ctx_bad_record(sl_ctx *ctx, const char *where, const char *reason,
                      const sl_record *rec) {
  if (!ctx || !rec) return -SL_EINVAL;
  return sl__bad_record(ctx->inst, where ? where : "record", reason ? reason : "bad record",
                        rec->value, rec->value_len);
}

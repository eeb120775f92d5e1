/*
 * batch_op.c -- sl_flat_map_batch: a stateless operator whose user
 * function takes a run of records per call instead of one (for bindings
 * whose per-call cost is high: the Python API takes the interpreter lock
 * once per run).
 *
 * Records reach an operator one at a time on a forward edge (a direct call
 * from the producer, operator chaining) and in runs of up to SL__RUN_MAX
 * from an exchange channel (process_batch).  The operator copies the
 * records of direct calls into the instance's run buffer and calls the
 * function when the run is full; a run from a channel goes to the function
 * as it is (after whatever the buffer holds, so order is kept).
 *
 * sl_keyed_process_batch is the keyed form: the same runs, over a keyed
 * stream, with keyed state and timers (sl_keyed_process's); the function
 * binds the state to record i's key with sl_ctx_run_key(ctx, i) (each
 * record's key hash comes with it: from the channel, or inst->key_hash of
 * the direct call, kept in the buffer).  Timers fire after the held run
 * was handed over (before the watermark moved, at a tick), one on_timer
 * call each.
 *
 * Invariants
 *   1. A held record never passes a control event: flush_held empties the
 *      buffer, and the runtime calls it before the instance's watermark
 *      moves (so the function sees, for a held run, the watermark its
 *      records came under) and before a checkpoint barrier is snapshotted
 *      and forwarded; finish empties it at the end of input.  So a
 *      checkpoint covers exactly the records emitted before its barrier, as
 *      for a per-record operator.
 *   2. Nothing is held across worker steps: tick (once per step, after the
 *      step drained its channels and polled its sources) empties the
 *      buffer, so a quiet stream is never held back.
 *   3. The buffer is allocated once per instance and grows to the largest
 *      run seen; no allocation per record.
 */
#include <string.h>

#include "operators/ops.h"
#include "operators/time_ops.h"
#include "runtime/runtime.h"
#include "time/timers.h"

typedef struct run_buf {
  sl_record recs[SL__RUN_MAX];
  /* record i's key at off[i] and value at off[i] + key_len in `bytes`
   * (offsets: `bytes` may move when it grows) */
  size_t off[SL__RUN_MAX];
  uint64_t hash[SL__RUN_MAX]; /* keyed: each record's key hash */
  uint8_t *bytes;
  size_t used, cap;
  uint32_t n;
  /* the run being handed to the function (sl_ctx_run_key) */
  const sl_record *cur;
  const uint64_t *cur_hash;
  uint32_t cur_n;
} run_buf;

/* Bytes a run may hold before it is handed over (records are small; one
 * larger record still fits: the buffer grows to it). */
#define SL__RUN_BYTES (256u * 1024u)

static int batch_open(sl__inst *inst) {
  run_buf *rb = sl__calloc(1, sizeof *rb);
  if (!rb) return sl__fail(inst, -SL_ENOMEM, "out of memory for the run buffer");
  inst->impl = rb;
  return 0;
}

static void batch_close(sl__inst *inst, int ok) {
  run_buf *rb = inst->impl;
  if (rb) sl__free(rb->bytes);
  sl__free(rb);
  inst->impl = NULL;
}

/* Hand the records v[0..n) (key hashes h) to the user function. */
static int call_fn(sl__inst *inst, const sl_record *v, const uint64_t *h, uint32_t n) {
  if (!n) return 0;
  run_buf *rb = inst->impl;
  rb->cur = v;
  rb->cur_hash = h;
  rb->cur_n = n;
  sl__user_call(&inst->ctx);
  int rc = ((sl_batch_fn)inst->op->fn)(inst->op->ud, &inst->ctx, v, n, &inst->coll);
  rb->cur = NULL;
  rb->cur_n = 0;
  if (SL__UNLIKELY(rc < 0)) {
    if (sl__failed(inst->job)) return rc; /* downstream failure passing up */
    const char *msg = inst->ctx.msg[0] ? inst->ctx.msg : sl_strerror(rc);
    int code = sl__fail(inst, rc, "user function failed on a run of %u records: %s",
                        (unsigned)n, msg);
    inst->ctx.msg[0] = 0;
    return code;
  }
  return 0;
}

static int flush_run(sl__inst *inst) {
  run_buf *rb = inst->impl;
  if (!rb || !rb->n) return 0;
  for (uint32_t i = 0; i < rb->n; i++) {
    sl_record *r = &rb->recs[i];
    r->key = r->key_len ? rb->bytes + rb->off[i] : NULL;
    r->value = r->value_len ? rb->bytes + rb->off[i] + r->key_len : NULL;
  }
  uint32_t n = rb->n;
  rb->n = 0; /* before the call: a failure leaves nothing held */
  rb->used = 0;
  return call_fn(inst, rb->recs, rb->hash, n);
}

static int batch_process(sl__inst *inst, int port, const sl_record *r) {
  run_buf *rb = inst->impl;
  uint64_t hash = inst->key_hash; /* this record's (a flush below rebinds the key) */
  size_t need = (size_t)r->key_len + r->value_len;
  if (rb->n && (rb->n == SL__RUN_MAX || rb->used + need > SL__RUN_BYTES)) {
    int rc = flush_run(inst);
    if (rc) return rc;
  }
  if (rb->used + need > rb->cap) {
    size_t cap = rb->cap ? rb->cap : 4096;
    while (cap < rb->used + need) cap *= 2;
    uint8_t *b = sl__realloc(rb->bytes, cap);
    if (!b) return sl__fail(inst, -SL_ENOMEM, "out of memory for a run of records");
    rb->bytes = b;
    rb->cap = cap;
  }
  rb->off[rb->n] = rb->used;
  if (r->key_len) memcpy(rb->bytes + rb->used, r->key, r->key_len);
  if (r->value_len) memcpy(rb->bytes + rb->used + r->key_len, r->value, r->value_len);
  rb->used += need;
  rb->hash[rb->n] = hash;
  rb->recs[rb->n++] = (sl_record){.ts = r->ts, .key_len = r->key_len, .value_len = r->value_len};
  return 0;
}

static int batch_run(sl__inst *inst, int port, const sl__hrec *v, uint32_t n) {
  int rc = flush_run(inst);
  if (rc) return rc;
  sl_record recs[SL__RUN_MAX];
  uint64_t hash[SL__RUN_MAX];
  SL_ASSERT(n <= SL__RUN_MAX);
  for (uint32_t i = 0; i < n; i++) recs[i] = v[i].r, hash[i] = v[i].hash;
  return call_fn(inst, recs, hash, n);
}

static int batch_finish(sl__inst *inst) { return flush_run(inst); }
static int batch_tick(sl__inst *inst, int64_t now_ms) { return flush_run(inst); }

static const sl__op_vt g_batch_vt = {
    .open = batch_open,
    .process = batch_process,
    .process_batch = batch_run,
    .finish = batch_finish,
    .tick = batch_tick,
    .flush_held = flush_run,
    .close = batch_close,
};

/* ---- keyed ---------------------------------------------------------------------- */

int sl_ctx_run_key(sl_ctx *ctx, size_t i) {
  sl__inst *inst = ctx ? ctx->inst : NULL;
  run_buf *rb = inst && inst->op->kind == SL__OP_KEYED_BATCH ? inst->impl : NULL;
  if (!rb || !rb->cur || i >= rb->cur_n || !inst->ks)
    return sl_ctx_fail(ctx, "sl_ctx_run_key(%zu): only in the function of sl_keyed_process_batch, "
                       "for a record of its run (0..%u)", i, rb ? rb->cur_n : 0), -SL_EINVAL;
  inst->key_hash = rb->cur_hash[i];
  sl__set_key(inst, &rb->cur[i]);
  return 0;
}

static int kb_open(sl__inst *inst) {
  int rc = batch_open(inst);
  if (!rc) rc = sl__keyed_open(inst);
  if (!rc && (rc = sl__timers_new(inst, sl__keyed_on_timer, &inst->timers)))
    return sl__fail(inst, rc, "cannot create timers: %s", inst->ctx.msg);
  return rc;
}

static void kb_close(sl__inst *inst, int ok) {
  sl__keyed_close(inst, ok);
  batch_close(inst, ok);
}

/* (the held run went out first: flush_held, before the watermark moved) */
static int kb_watermark(sl__inst *inst, int64_t wm) {
  return sl__timers_fire(inst->timers, SL_TIME_EVENT, wm);
}

static int kb_tick(sl__inst *inst, int64_t now) {
  int rc = flush_run(inst);
  if (rc || sl__timers_next(inst->timers, SL_TIME_PROCESSING) > now) return rc;
  return sl__timers_fire(inst->timers, SL_TIME_PROCESSING, now);
}

static const sl__op_vt g_kbatch_vt = {
    .open = kb_open,
    .process = batch_process,
    .process_batch = batch_run,
    .finish = batch_finish,
    .on_watermark = kb_watermark,
    .tick = kb_tick,
    .flush_held = flush_run,
    .close = kb_close,
};

const sl__op_vt *sl__batch_vtable(sl__op_kind kind) {
  return kind == SL__OP_KEYED_BATCH ? &g_kbatch_vt : &g_batch_vt;
}

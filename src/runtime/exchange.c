/*
 * exchange.c -- the producer side of an exchange edge: routing records to
 * consumer subtasks and filling, sending and recycling batches.
 *
 * Routing: hash -> xxHash3(key) -> key group -> subtask (core.h);
 * rebalance -> round robin from the producer's own subtask; broadcast ->
 * every subtask; global -> subtask 0.  Records and control events for the
 * consumer on the producer's own worker are direct calls (as on a forward
 * edge), except on a hash edge into an op that asked for runs (runtime.h,
 * sl__out_runs): they go through the worker's channel to itself like any
 * other, and the worker sends that channel's batch at the end of each step
 * (sl__xchg_flush_self) and drains it in the next, so the consumer gets
 * runs of records (invariant 3 holds: the consumer's rank is above the
 * producer's).  On a hash edge the key's hash goes with the record, in the
 * batch entry or in the consumer's key_hash.
 *
 * A batch is sent when the next record does not fit, when it is older than
 * execution.buffer-timeout (worker.c calls sl__xchg_flush), or when the
 * worker is idle.  Getting an empty batch may wait: see invariant 3 in
 * runtime.h for why waiting while draining higher-ranked inputs cannot
 * deadlock.
 */
#include "runtime/runtime.h"

/* Send the batch being filled (never blocks: invariant 2). */
static void chan_send(sl__chan *ch) {
  if (!ch->cur) return;
  ch->src->m.bytes_out += ch->cur->used;
  int rc = sl__ring_push(&ch->full, ch->cur);
  SL_ASSERT(rc == 0); /* runtime.h invariant 2: ring capacity >= ch->limit */
  (void)rc;
  ch->cur = NULL;
  sl__worker_wake(ch->consumer);
}

void sl__xchg_flush(sl__chan *ch, int64_t older_than_ns) {
  if (ch->cur && ch->cur->count &&
      (older_than_ns == INT64_MAX || ch->cur->first_ns <= older_than_ns))
    chan_send(ch);
}

/* Get an empty batch into ch->cur, waiting (and draining inputs of ranks
 * above `rank`) while the consumer holds all of them. */
static int chan_acquire(sl__inst *inst, sl__chan *ch) {
  sl__worker *w = inst->w;
  unsigned idle = 0;
  for (;;) {
    sl__batch *b = sl__ring_pop(&ch->free);
    if (b) {
      sl__batch_reset(b);
      ch->cur = b;
      return 0;
    }
    if (ch->allocated < ch->limit) {
      b = sl__batch_new(w->job->batch_size);
      if (!b) return sl__fail(inst, -SL_ENOMEM, "cannot allocate a record batch");
      ch->allocated++;
      ch->cur = b;
      return 0;
    }
    /* Backpressure: the consumer has every batch of this channel. */
    if (sl__failed(w->job)) return -SL_ECANCELED;
    int did = 0;
    int rc = sl__worker_drain(w, inst->op->id, &did);
    if (rc) return rc;
    if (did)
      idle = 0;
    else
      sl__backoff(w, &idle, &ch->free, inst->op->id, &inst->m.bp_ns);
  }
}

void sl__xchg_flush_self(sl__worker *w) {
  for (int i = 0; i < w->n_self; i++)
    if (w->self[i]->cur && w->self[i]->cur->count) chan_send(w->self[i]);
}

/* (not inlined: keeps sl__xchg_hash's direct call a tail call) */
static __attribute__((noinline)) int chan_put(sl__inst *inst, sl__chan *ch, const sl_record *r,
                                              uint64_t hash) {
  uint32_t size = sl__entry_size(r->key_len, r->value_len);
  if (SL__UNLIKELY(!ch->cur || !sl__batch_fits(ch->cur, size))) {
    if (ch->cur && ch->cur->count) chan_send(ch);
    if (!ch->cur) {
      int rc = chan_acquire(inst, ch);
      if (rc) return rc;
    }
    if (!sl__batch_fits(ch->cur, size) && sl__batch_reserve(ch->cur, size))
      return sl__fail(inst, -SL_ENOMEM, "record of %u bytes does not fit in memory",
                      size);
  }
  sl__batch *b = ch->cur;
  if (!b->count) b->first_ns = inst->w->now_ns;
  sl__batch_put(b, r, hash);
  if (SL__UNLIKELY(inst->job->buffer_timeout_ns == 0)) chan_send(ch);
  return 0;
}

/* To consumer subtask c: the channel, or a direct call when c is us. */
static inline int route(sl__inst *inst, sl__out *o, sl__chan *row, int c, int p,
                        const sl_record *r) {
  return c == p ? sl__deliver(o->self, o->self_chan, o->port, r, 0) : chan_put(inst, &row[c], r, 0);
}

int sl__xchg_hash(sl__inst *inst, sl__out *o, const sl_record *r, uint64_t hash) {
  sl__job *job = inst->job;
  int P = job->P, p = inst->w->index, c = 0;
  if (P > 1)
    c = sl__key_group_to_subtask(sl__key_group(hash, job->max_parallelism),
                                 job->max_parallelism, P);
  if (c == p && !sl__out_runs(o)) return sl__deliver(o->self, o->self_chan, o->port, r, hash);
  return chan_put(inst, &o->x->ch[(size_t)p * P + c], r, hash);
}

int sl__xchg_write(sl__inst *inst, sl__out *o, const sl_record *r) {
  sl__exchange *x = o->x;
  int P = inst->job->P, p = inst->w->index;
  sl__chan *row = x->ch + (size_t)p * P;
  switch (o->part) {
    case SL__PART_HASH:
      return sl__xchg_hash(inst, o, r, sl__key_hash(r->key, r->key_len));
    case SL__PART_REBALANCE: {
      int c = (int)(o->rr++ % (uint32_t)P);
      return route(inst, o, row, c, p, r);
    }
    case SL__PART_GLOBAL:
      return route(inst, o, row, 0, p, r);
    case SL__PART_BROADCAST:
      for (int c = 0; c < P; c++) {
        int rc = route(inst, o, row, c, p, r);
        if (rc) return rc;
      }
      return 0;
    case SL__PART_FORWARD:
      break;
  }
  return sl__fail(inst, -SL_EINTERNAL, "forward edge routed through an exchange");
}

/* A control event on every channel of this producer, in-band after its
 * data: every consumer subtask must see watermarks and the end.  The end
 * is sent at once; other events travel with the next batch. */
int sl__xchg_ctrl(sl__inst *inst, sl__out *o, uint32_t kind, int64_t payload) {
  int P = inst->job->P, p = inst->w->index;
  for (int c = 0; c < P; c++) {
    sl__chan *ch = &o->x->ch[(size_t)p * P + c];
    if (c == p && !sl__out_runs(o)) { /* directly, like its records */
      int rc = sl__deliver_ctrl(o->self, o->self_chan, kind, payload);
      if (rc) return rc;
      continue;
    }
    uint32_t size = (uint32_t)sizeof(sl__entry_hdr);
    if (!ch->cur || !sl__batch_fits(ch->cur, size)) {
      if (ch->cur) chan_send(ch);
      int rc = chan_acquire(inst, ch);
      if (rc) return rc;
    }
    if (!ch->cur->count) ch->cur->first_ns = inst->w->now_ns;
    sl__batch_put_ctrl(ch->cur, kind, payload);
    if (kind == SL__EV_END || kind == SL__EV_BARRIER || inst->job->buffer_timeout_ns == 0)
      chan_send(ch); /* barriers travel at once: alignment waits for them */
  }
  return 0;
}

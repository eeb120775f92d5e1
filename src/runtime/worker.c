/*
 * worker.c -- the root of each single-threaded worker: its step loop, the
 * consumer side of channels, record emission and end-of-input propagation.
 *
 * One step:
 *   1. drain: take at most one batch from each input channel and push its
 *      records through the consumer instance (and, by direct calls, its
 *      forward chain);
 *   2. poll every live source instance for up to SL__SOURCE_BUDGET records;
 *   3. send batches older than the buffer timeout;
 *   4. if steps 1-2 found nothing: send every partial batch and back off.
 * A worker ends when all of its instances have ended.
 */
#include <sched.h>
#include <stdio.h>

#include "connectors/connector.h"
#include "runtime/runtime.h"

#define SL__SOURCE_BUDGET 512

void sl__backoff(unsigned *idle) {
  unsigned n = (*idle)++;
  if (n < 32) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  } else if (n < 64) {
    sched_yield();
  } else {
    struct timespec ts = {0, n < 256 ? 20000 : 200000};
    nanosleep(&ts, NULL);
  }
}

int sl__emit(sl__inst *inst, const sl_record *r) {
  for (int i = 0; i < inst->n_outs; i++) {
    sl__out *o = &inst->outs[i];
    int rc = o->target ? o->target->vt->process(o->target, o->port, r)
                       : sl__xchg_write(inst, o, r);
    if (SL__UNLIKELY(rc)) return rc;
  }
  return 0;
}

int sl_emit(sl_collector *out, const sl_record *rec) {
  if (!out || !rec) return -SL_EINVAL;
  return sl__emit(out->inst, rec);
}

int sl__inst_end(sl__inst *inst) {
  if (inst->ended) return 0;
  if (inst->vt->finish) {
    int rc = inst->vt->finish(inst);
    if (rc) return rc;
  }
  inst->ended = 1;
  inst->w->n_live--;
  for (int i = 0; i < inst->n_outs; i++) {
    sl__out *o = &inst->outs[i];
    int rc = o->target ? sl__inst_input_ended(o->target) : sl__xchg_end(inst, o);
    if (rc) return rc;
  }
  return 0;
}

int sl__inst_input_ended(sl__inst *inst) {
  if (++inst->n_ended < inst->n_inputs) return 0;
  return sl__inst_end(inst);
}

int sl__worker_drain(sl__worker *w, int min_rank, int *did) {
  for (int i = 0; i < w->n_in; i++) {
    sl__chan *ch = w->in[i];
    if (ch->target->op->id <= min_rank || ch->ended) continue;
    sl__batch *b = sl__ring_pop(&ch->full);
    if (!b) continue;
    (*did)++;
    uint32_t off = 0, kind = 0;
    sl_record r;
    int rc = 0, t;
    sl__inst *target = ch->target;
    while (!rc && (t = sl__batch_next(b, &off, &r, &kind)) != 0) {
      if (t == 1)
        rc = target->vt->process(target, ch->port, &r);
      else if (kind == SL__EV_END) {
        ch->ended = 1;
        rc = sl__inst_input_ended(target);
      }
    }
    sl__batch_reset(b);
    sl__ring_push(&ch->free, b); /* cannot fail: capacity >= limit */
    if (rc) return rc;
  }
  return 0;
}

/* Nothing to do: send partial batches, let sinks write out their buffers. */
static int on_idle(sl__worker *w) {
  for (int i = 0; i < w->n_out; i++) sl__xchg_flush(w->out[i], INT64_MAX);
  for (int i = 0; i < w->job->n_ops; i++) {
    sl__inst *inst = &w->insts[i];
    if (inst->op->kind != SL__OP_SINK || inst->ended || !inst->impl) continue;
    const sl__sink_vt *vt = inst->op->sink->vt;
    int rc = vt->idle ? vt->idle(inst->impl, inst) : 0;
    if (rc) return rc;
  }
  return 0;
}

static int poll_sources(sl__worker *w, int *did) {
  sl__job *job = w->job;
  for (int i = 0; i < job->n_ops; i++) {
    sl__inst *inst = &w->insts[i];
    if (inst->op->kind != SL__OP_SOURCE || inst->ended) continue;
    int rc;
    if (!inst->impl || sl__cancelled(inst)) {
      rc = SL__POLL_END;
    } else {
      uint64_t before = inst->n_records;
      rc = inst->op->source->vt->poll(inst->impl, inst, SL__SOURCE_BUDGET);
      if (inst->n_records != before) (*did)++;
    }
    if (rc < 0) return rc;
    if (rc == SL__POLL_END) {
      (*did)++;
      rc = sl__inst_end(inst);
      if (rc) return rc;
    } else if (rc == SL__POLL_MORE) {
      (*did)++;
    }
  }
  return 0;
}

void *sl__worker_main(void *arg) {
  sl__worker *w = arg;
  sl__job *job = w->job;
  unsigned idle = 0;
  int64_t last_flush = 0;
  int rc = 0;
  w->now_ns = sl__now_ns();
  while (w->n_live > 0) {
    if (sl__failed(job)) {
      rc = -SL_ECANCELED;
      break;
    }
    int did = 0;
    rc = sl__worker_drain(w, -1, &did);
    if (!rc) rc = poll_sources(w, &did);
    if (rc) break;
    w->now_ns = sl__now_ns();
    if (!did) {
      if (idle == 0 && (rc = on_idle(w))) break;
      sl__backoff(&idle);
      w->now_ns = sl__now_ns();
    } else {
      idle = 0;
      int64_t tick = job->buffer_timeout_ns / 4;
      if (w->now_ns - last_flush >= tick) {
        last_flush = w->now_ns;
        for (int i = 0; i < w->n_out; i++)
          sl__xchg_flush(w->out[i], w->now_ns - job->buffer_timeout_ns);
      }
    }
  }
  if (rc && !sl__failed(job)) {
    /* an error path that did not record a message: still fail the job */
    sl__fail(&w->insts[0], rc, "worker %d stopped: %s", w->index, sl_strerror(rc));
  }
  w->rc = rc;
  return NULL;
}

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
    if (SL__UNLIKELY(o->tag != NULL)) continue; /* side outputs */
    int rc = !o->target                       ? sl__xchg_write(inst, o, r)
             : sl__held(o->target, o->chan) ? sl__hold(o->target, o->chan, r, 0)
                                             : o->target->vt->process(o->target, o->port, r);
    if (SL__UNLIKELY(rc)) return rc;
  }
  return 0;
}

int sl__emit_tagged(sl__inst *inst, const char *tag, const sl_record *r) {
  for (int i = 0; i < inst->n_outs; i++) {
    sl__out *o = &inst->outs[i];
    if (!o->tag || strcmp(o->tag, tag)) continue;
    int rc = !o->target                       ? sl__xchg_write(inst, o, r)
             : sl__held(o->target, o->chan) ? sl__hold(o->target, o->chan, r, 0)
                                             : o->target->vt->process(o->target, o->port, r);
    if (rc) return rc;
  }
  return 0;
}

int sl_emit_side(sl_collector *out, const char *tag, const sl_record *rec) {
  if (!out || !tag || !rec) return -SL_EINVAL;
  return sl__emit_tagged(out->inst, tag, rec);
}

int sl__emit_ctrl(sl__inst *inst, uint32_t kind, int64_t payload) {
  for (int i = 0; i < inst->n_outs; i++) {
    sl__out *o = &inst->outs[i];
    int rc;
    if (!o->target) {
      rc = sl__xchg_ctrl(inst, o, kind, payload);
    } else if (sl__held(o->target, o->chan)) {
      sl_record c = {payload, NULL, 0, NULL, 0};
      rc = sl__hold(o->target, o->chan, &c, kind);
    } else if (kind == SL__EV_BARRIER)
      rc = sl__inst_barrier(o->target, o->chan, payload);
    else if (kind == SL__EV_WATERMARK)
      rc = sl__inst_watermark(o->target, o->chan, payload);
    else if (kind == SL__EV_IDLE)
      rc = sl__inst_idle(o->target, o->chan, (int)payload);
    else
      rc = sl__inst_input_ended(o->target, o->chan);
    if (rc) return rc;
  }
  return 0;
}

/* ---- event time ------------------------------------------------------------
 * The instance watermark is the minimum over input channels that are
 * neither idle nor ended; it only moves forward.  When every live input is
 * idle, the instance tells its consumers it is idle, so they stop waiting
 * for it (Flink's WatermarkStatus). */

static int advance(sl__inst *inst) {
  int64_t wm = SL_WATERMARK_MAX;
  int live = 0, active = 0;
  for (int c = 0; c < inst->n_inputs; c++) {
    if (inst->in_ended[c]) continue; /* an ended input holds nothing back */
    live++;
    if (inst->in_idle[c]) continue;
    active++;
    if (inst->wm_in[c] < wm) wm = inst->wm_in[c];
  }
  int rc = 0;
  int idle = live > 0 && active == 0;
  if (idle) { /* all live inputs idle: flush to the highest watermark seen */
    wm = SL_WATERMARK_MIN;
    for (int c = 0; c < inst->n_inputs; c++)
      if (inst->wm_in[c] > wm) wm = inst->wm_in[c];
  }
  if (wm > inst->wm) {
    inst->wm = wm;
    if (inst->vt->on_watermark && (rc = inst->vt->on_watermark(inst, wm))) return rc;
    if ((rc = sl__emit_ctrl(inst, SL__EV_WATERMARK, wm))) return rc;
  }
  if (idle != inst->idle_out) {
    inst->idle_out = idle;
    if ((rc = sl__emit_ctrl(inst, SL__EV_IDLE, idle))) return rc;
  }
  return 0;
}

int sl__inst_watermark(sl__inst *inst, int chan, int64_t wm) {
  if (inst->vt->own_watermarks) return 0;
  if (wm <= inst->wm_in[chan]) return 0;
  inst->wm_in[chan] = wm;
  return inst->in_idle[chan] ? 0 : advance(inst);
}

int sl__inst_idle(sl__inst *inst, int chan, int idle) {
  if (inst->in_idle[chan] == (uint8_t)!!idle) return 0;
  inst->in_idle[chan] = (uint8_t)!!idle;
  return advance(inst);
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
  return sl__emit_ctrl(inst, SL__EV_END, 0);
}

/* An ended input no longer holds back the watermark; when the last one
 * ends the watermark goes to SL_WATERMARK_MAX (firing every event-time
 * timer) before the instance finishes. */
int sl__inst_input_ended(sl__inst *inst, int chan) {
  if (inst->in_ended[chan]) return 0;
  inst->in_ended[chan] = 1;
  int rc;
  if (++inst->n_ended < inst->n_inputs) {
    rc = advance(inst);
    return rc ? rc : sl__ckpt_channel_ended(inst);
  }
  if (inst->wm < SL_WATERMARK_MAX) {
    inst->wm = SL_WATERMARK_MAX;
    if (inst->vt->on_watermark && (rc = inst->vt->on_watermark(inst, SL_WATERMARK_MAX)))
      return rc;
    if ((rc = sl__emit_ctrl(inst, SL__EV_WATERMARK, SL_WATERMARK_MAX))) return rc;
  }
  return sl__inst_end(inst);
}

int sl__worker_drain(sl__worker *w, int min_rank, int *did) {
  for (int i = 0; i < w->n_in; i++) {
    sl__chan *ch = w->in[i];
    if (ch->target->op->id <= min_rank || ch->ended) continue;
    sl__inst *target = ch->target;
    if (sl__held(target, ch->chan)) continue; /* aligning: after its barrier */
    uint32_t off = 0, kind = 0;
    sl__batch *b = ch->parked;
    if (b) {
      off = ch->parked_off;
      ch->parked = NULL;
    } else if (!(b = sl__ring_pop(&ch->full))) {
      continue;
    }
    (*did)++;
    sl_record r;
    int rc = 0, t, parked = 0;
    while (!rc && (t = sl__batch_next(b, &off, &r, &kind)) != 0) {
      if (t == 1)
        rc = target->vt->process(target, ch->port, &r);
      else if (kind == SL__EV_BARRIER) {
        rc = sl__inst_barrier(target, ch->chan, r.ts);
        if (!rc && sl__held(target, ch->chan) && off < b->used) {
          ch->parked = b; /* the rest belongs after the checkpoint */
          ch->parked_off = off;
          parked = 1;
          break;
        }
      }
      else if (kind == SL__EV_WATERMARK)
        rc = sl__inst_watermark(target, ch->chan, r.ts);
      else if (kind == SL__EV_IDLE)
        rc = sl__inst_idle(target, ch->chan, (int)r.ts);
      else if (kind == SL__EV_END) {
        ch->ended = 1;
        rc = sl__inst_input_ended(target, ch->chan);
      }
    }
    if (!parked) {
      sl__batch_reset(b);
      sl__ring_push(&ch->free, b); /* cannot fail: capacity >= limit */
    }
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

/* Operators with periodic work (watermark generators, processing-time
 * timers): once per step. */
static int tick(sl__worker *w) {
  int64_t now_ms = 0;
  for (int i = 0; i < w->job->n_ops; i++) {
    sl__inst *inst = &w->insts[i];
    if (!inst->vt->tick || inst->ended) continue;
    if (!now_ms) now_ms = sl__clock_ms();
    int rc = inst->vt->tick(inst, now_ms);
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
    rc = job->ckpt ? sl__ckpt_worker_step(w) : 0;
    if (!rc) rc = sl__worker_drain(w, -1, &did);
    if (!rc) rc = poll_sources(w, &did);
    if (!rc && w->job->has_ticks) rc = tick(w);
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

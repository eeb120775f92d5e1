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
 *   4. if steps 1-2 found nothing: send every partial batch, let sinks write
 *      out their buffers, spin briefly, then park (sleep until woken).
 * A worker ends when all of its instances have ended.
 */
#include <poll.h>
#include <sched.h>
#include <stdio.h>

#include "runtime/source_sink.h"
#include "runtime/runtime.h"

#define SL__SOURCE_BUDGET 512

/* Spin a little, yield, then park: an idle worker sleeps in poll() and
 * costs nothing until woken. */
#define SL__SPINS 32
#define SL__YIELDS 64
#define SL__PARK_MS 20  /* longest sleep: bounds the delay of ticks (timers,
                         * periodic watermarks, the checkpoint coordinator),
                         * and of sources without a wait_fd */
#define SL__PARK_FDS 8  /* source descriptors a parked worker watches */
void sl__backoff(sl__worker *w, unsigned *idle, sl__ring *also, int min_rank,
                 int64_t *waited_ns) {
  unsigned n = (*idle)++;
  if (n < SL__SPINS) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    return;
  }
  int64_t t0 = sl__now_ns();
  if (n < SL__YIELDS)
    sched_yield();
  else
    sl__worker_park(w, also, min_rank, SL__PARK_MS);
  int64_t t1 = sl__now_ns();
  *waited_ns += t1 - t0;
  sl__metrics_tick(w, t1);
}

/* Is there anything for w to take right now (from channels into ops of
 * rank > min_rank)? */
static int input_waiting(sl__worker *w, sl__ring *also, int min_rank) {
  if (also && !sl__ring_empty(also)) return 1;
  for (int i = 0; i < w->n_in; i++) {
    sl__chan *ch = w->in[i];
    if (ch->target->op->id > min_rank && !ch->ended && !sl__ring_empty(&ch->full)) return 1;
  }
  return 0;
}

void sl__worker_park(sl__worker *w, sl__ring *also, int min_rank, int timeout_ms) {
  sl__job *job = w->job;
  struct pollfd fds[1 + SL__PARK_FDS];
  int n = 1;
  fds[0] = (struct pollfd){.fd = w->efd, .events = POLLIN};
  for (int i = 0; i < job->n_ops && n < 1 + SL__PARK_FDS; i++) {
    sl__inst *inst = &w->insts[i];
    if (inst->op->kind != SL__OP_SOURCE || inst->ended || !inst->impl) continue;
    const sl_source_ops *ops = inst->op->source->ops;
    int fd = ops->wait_fd ? ops->wait_fd(inst->impl) : -1;
    if (fd >= 0) fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
  }
  atomic_store_explicit(&w->parked, 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_seq_cst); /* pairs with sl__worker_wake's */
  if (!input_waiting(w, also, min_rank) && !sl__failed(job))
    poll(fds, (nfds_t)n, timeout_ms);
  atomic_store_explicit(&w->parked, 0, memory_order_relaxed);
  if (fds[0].revents & POLLIN) {
    uint64_t v;
    ssize_t r = read(w->efd, &v, sizeof v);
    (void)r;
  }
}

void sl__job_wake_all(sl__job *job) {
  for (int i = 0; job->workers && i < job->P; i++) sl__worker_wake(&job->workers[i]);
}

int sl__emit_outs(sl__inst *inst, const sl_record *r) {
  for (int i = 0; i < inst->n_outs; i++) {
    sl__out *o = &inst->outs[i];
    if (SL__UNLIKELY(o->tag != NULL)) continue; /* side outputs */
    int rc = o->target ? sl__deliver(o->target, o->chan, o->port, r, 0) : sl__xchg_write(inst, o, r);
    if (SL__UNLIKELY(rc)) return rc;
  }
  return 0;
}

int sl__emit_tagged(sl__inst *inst, const char *tag, const sl_record *r) {
  inst->m.out++;
  for (int i = 0; i < inst->n_outs; i++) {
    sl__out *o = &inst->outs[i];
    if (!o->tag || strcmp(o->tag, tag)) continue;
    int rc = o->target ? sl__deliver(o->target, o->chan, o->port, r, 0) : sl__xchg_write(inst, o, r);
    if (rc) return rc;
  }
  return 0;
}

int sl_emit_side(sl_collector *out, const char *tag, const sl_record *rec) {
  if (!out || !tag || !rec) return -SL_EINVAL;
  return sl__emit_tagged(out->inst, tag, rec);
}

int sl__emit_ctrl(sl__inst *inst, uint32_t kind, int64_t payload) {
  if (kind == SL__EV_WATERMARK) inst->m.wm_out = payload;
  for (int i = 0; i < inst->n_outs; i++) {
    sl__out *o = &inst->outs[i];
    int rc = o->target ? sl__deliver_ctrl(o->target, o->chan, kind, payload)
                       : sl__xchg_ctrl(inst, o, kind, payload);
    if (rc) return rc;
  }
  return 0;
}

/* ---- event time ------------------------------------------------------------
 * The instance watermark is the minimum over input channels that are
 * neither idle nor ended; it only moves forward.  When every live input is
 * idle, the instance tells its consumers it is idle, so they stop waiting
 * for it (Flink's WatermarkStatus). */

/* Move the instance's watermark forward to wm: the records it holds
 * (flush_held) came before wm and go first, seeing the watermark they came
 * under; then the operator's own reaction (timers, windows); then wm goes
 * downstream. */
static int set_watermark(sl__inst *inst, int64_t wm) {
  int rc = inst->vt->flush_held ? inst->vt->flush_held(inst) : 0;
  if (rc) return rc;
  inst->wm = wm;
  if (inst->vt->on_watermark && (rc = inst->vt->on_watermark(inst, wm))) return rc;
  return sl__emit_ctrl(inst, SL__EV_WATERMARK, wm);
}

static int advance(sl__inst *inst) {
  int64_t wm = SL_WATERMARK_MAX;
  int live = 0, active = 0;
  for (int c = 0; c < inst->n_inputs; c++) {
    /* an input at its end holds nothing back; one stopped without drain
     * keeps its last watermark (what it would have sent next is unknown) */
    if (inst->in_ended[c] == SL__ENDED) continue;
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
  if (wm > inst->wm && (rc = set_watermark(inst, wm))) return rc;
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

int sl__source_watermark(sl__inst *inst, int64_t wm, int idle) {
  int rc;
  if (!idle && inst->idle_out) { /* active again before the watermark moves */
    inst->idle_out = 0;
    if ((rc = sl__emit_ctrl(inst, SL__EV_IDLE, 0))) return rc;
  }
  if (!idle && wm > inst->wm) {
    inst->wm = wm;
    if ((rc = sl__emit_ctrl(inst, SL__EV_WATERMARK, wm))) return rc;
  }
  if (idle && !inst->idle_out) {
    inst->idle_out = 1;
    if ((rc = sl__emit_ctrl(inst, SL__EV_IDLE, 1))) return rc;
  }
  return 0;
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

/* Ends inst: finish, then the end to every output (payload: no drain). */
int sl__inst_end(sl__inst *inst) {
  if (inst->ended) return 0;
  if (inst->vt->finish) {
    int rc = inst->vt->finish(inst);
    if (rc) return rc;
  }
  inst->ended = 1;
  inst->w->n_live--;
  atomic_store_explicit(&inst->m.p_state, SL__SUB_FINISHED, memory_order_relaxed);
  return sl__emit_ctrl(inst, SL__EV_END, inst->nodrain);
}

/* An ended input no longer holds back the watermark.  When the last one
 * ends at the end of the input (or a stop with drain) the watermark goes to
 * SL_WATERMARK_MAX, firing every event-time timer, before the instance
 * finishes.  When any input was ended by a stop without drain (cancel),
 * nothing fires: open windows and timers stay in the state, which the final
 * checkpoint keeps, so a resumed job goes on as if never stopped. */
int sl__inst_input_ended(sl__inst *inst, int chan, int nodrain) {
  if (inst->in_ended[chan]) return 0;
  inst->in_ended[chan] = nodrain ? SL__ENDED_NODRAIN : SL__ENDED;
  if (nodrain) inst->nodrain = 1;
  int rc;
  if (++inst->n_ended < inst->n_inputs) {
    rc = advance(inst);
    return rc ? rc : sl__inst_gate_ended(inst);
  }
  if (inst->wm < SL_WATERMARK_MAX && !inst->nodrain && (rc = set_watermark(inst, SL_WATERMARK_MAX)))
    return rc;
  return sl__inst_end(inst);
}

/* n records of one batch to target: as a run, or one by one. */
static int process_run(sl__inst *target, int port, const sl__hrec *run, uint32_t n) {
  target->m.in += n;
  if (target->vt->process_batch) return target->vt->process_batch(target, port, run, n);
  for (uint32_t i = 0; i < n; i++) {
    target->key_hash = run[i].hash;
    int rc = target->vt->process(target, port, &run[i].r);
    if (rc) return rc;
  }
  return 0;
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
    } else {
      target->m.bytes_in += b->used;
    }
    (*did)++;
    sl__hrec run[SL__RUN_MAX];
    uint32_t n = 0;
    int rc = 0, t, parked = 0;
    for (;;) { /* records in runs, up to the next control event */
      sl__hrec *e = &run[n];
      t = sl__batch_next(b, &off, &e->r, &kind, &e->hash);
      if (t == 1 && ++n < SL__RUN_MAX) continue;
      int64_t payload = e->r.ts; /* of a control event (t == 2) */
      if (n && (rc = process_run(target, ch->port, run, n))) break;
      n = 0;
      if (t == 0) break;
      if (t == 1) continue;
      if (kind == SL__EV_END) ch->ended = 1;
      rc = sl__inst_ctrl(target, ch->chan, kind, payload);
      if (rc) break;
      if (kind == SL__EV_BARRIER && sl__held(target, ch->chan) && off < b->used) {
        ch->parked = b; /* the rest belongs after the checkpoint */
        ch->parked_off = off;
        parked = 1;
        break;
      }
    }
    if (!parked) {
      sl__batch_reset(b);
      int prc = sl__ring_push(&ch->free, b);
      SL_ASSERT(prc == 0); /* runtime.h invariant 2: capacity >= limit */
      (void)prc;
      sl__worker_wake(ch->producer); /* it may wait for an empty batch */
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
    const sl_sink_ops *ops = inst->op->sink->ops;
    int rc = ops->idle ? ops->idle(inst->impl, &inst->ctx) : 0;
    if (rc) return sl__conn_fail(inst, rc);
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
    int rc, stop = sl__cancelled(inst);
    if (!inst->impl || stop) {
      rc = SL_POLL_END;
      if (stop == SL__STOP_NODRAIN) inst->nodrain = 1;
    } else {
      uint64_t before = inst->m.out;
      if (SL__UNLIKELY(inst->splits != NULL) && (rc = sl__splits_flush(inst))) return rc;
      sl__user_call(&inst->ctx);
      rc = inst->op->source->ops->poll(inst->impl, &inst->ctx, SL__SOURCE_BUDGET);
      if (inst->m.out != before) (*did)++;
    }
    if (rc < 0) return sl__conn_fail(inst, rc);
    if (rc == SL_POLL_END) {
      (*did)++;
      rc = sl__inst_end(inst);
      if (rc) return rc;
    } else if (rc == SL_POLL_MORE) {
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
  w->start_ns = w->last_sec_ns = w->now_ns;
  w->sec_next_ns = w->now_ns + 1000000000LL;
  w->pub_next_ns = w->now_ns + SL__METRICS_PUBLISH_NS;
  for (int i = 0; i < job->n_ops; i++)
    if (!w->insts[i].ended)
      atomic_store_explicit(&w->insts[i].m.p_state, SL__SUB_RUNNING, memory_order_relaxed);
  /* A restored instance's consumers restored one watermark for all of
   * their inputs, the smallest: each instance announces its own again, or
   * a consumer would hold the smallest until new records move this one. */
  for (int i = 0; i < job->n_ops && !rc; i++)
    if (w->insts[i].wm > SL_WATERMARK_MIN)
      rc = sl__emit_ctrl(&w->insts[i], SL__EV_WATERMARK, w->insts[i].wm);
  while (w->n_live > 0 && !rc) {
    if (sl__failed(job)) {
      rc = -SL_ECANCELED;
      break;
    }
    int did = 0;
    rc = job->ckpt && job->hooks->worker_step ? job->hooks->worker_step(w) : 0;
    if (!rc) rc = sl__worker_drain(w, -1, &did);
    if (!rc) rc = poll_sources(w, &did);
    if (!rc && w->job->has_ticks) rc = tick(w);
    if (rc) break;
    sl__xchg_flush_self(w); /* for the next drain */
    w->now_ns = sl__now_ns();
    sl__metrics_tick(w, w->now_ns);
    if (!did) {
      /* Going idle, and before every sleep: send partial batches and let
       * sinks write out their buffers, so results of timers that fired
       * while nothing arrived reach the sinks (within one park). */
      if ((idle == 0 || idle >= SL__YIELDS) && (rc = on_idle(w))) break;
      sl__backoff(w, &idle, NULL, -1, &w->idle_ns);
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
  sl__metrics_publish(w, sl__now_ns(), 1);
  w->rc = rc;
  return NULL;
}

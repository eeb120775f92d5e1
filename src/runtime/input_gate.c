/*
 * input_gate.c -- what happens at an instance's inputs besides records:
 * control events (watermark, idleness, end, barrier) dispatched in one
 * place, and checkpoint barrier alignment (Flink's aligned checkpoints).
 *
 * Alignment.  Barrier n on input channel c blocks c: an exchange channel
 * is simply not drained any more (worker.c parks the rest of its batch); a
 * forward channel's later entries are held here in a per-channel buffer
 * (sl__hold).  When every input that has not ended delivered barrier n,
 * the instance is aligned: the checkpoint layer snapshots it (the job's
 * `aligned` hook, bound by the caller of sl__job_run), the barrier goes on
 * to every output, the channels unblock and the held entries are replayed
 * in order (they may be held again by the next barrier).
 *
 * Invariants
 *   1. Everything an instance processed before it snapshots for barrier n
 *      came before barrier n on every one of its inputs, and nothing after.
 *   2. A channel is held only while align_id != 0 and its barrier arrived.
 *   3. An instance aligns barrier ids in increasing order; a barrier id at
 *      or below the last one it aligned is ignored (a restored source may
 *      repeat one).
 */
#include "runtime/runtime.h"

/* ---- control events --------------------------------------------------------- */

int sl__inst_ctrl(sl__inst *inst, int chan, uint32_t kind, int64_t payload) {
  SL_ASSERT(chan >= 0 && chan < inst->n_inputs);
  switch (kind) {
    case SL__EV_WATERMARK: return sl__inst_watermark(inst, chan, payload);
    case SL__EV_IDLE: return sl__inst_idle(inst, chan, (int)payload);
    case SL__EV_BARRIER: return sl__inst_barrier(inst, chan, payload);
    case SL__EV_END: return sl__inst_input_ended(inst, chan, (int)payload);
    default: SL_ASSERT(!"unknown control event"); return -SL_EINTERNAL;
  }
}

/* ---- holding entries of blocked forward channels ----------------------------- */

int sl__hold(sl__inst *target, int chan, const sl_record *r, uint64_t hash, uint32_t kind) {
  SL_ASSERT(sl__held(target, chan));
  sl__batch **h = &target->hold[chan];
  uint32_t size = kind ? (uint32_t)sizeof(sl__entry_hdr) : sl__entry_size(r->key_len, r->value_len);
  if (!*h && !(*h = sl__batch_new(SL__MAX(4096u, size)))) return -SL_ENOMEM;
  if (!sl__batch_fits(*h, size) && sl__batch_reserve(*h, SL__MAX(size, (*h)->cap)))
    return -SL_ENOMEM;
  if (kind)
    sl__batch_put_ctrl(*h, kind, r->ts);
  else
    sl__batch_put(*h, r, hash);
  return 0;
}

static int replay(sl__inst *inst) {
  for (int c = 0; c < inst->n_inputs; c++) {
    sl__batch *b = inst->hold[c];
    if (!b || !b->count) continue;
    inst->hold[c] = NULL; /* entries may be held again by a later barrier */
    uint32_t off = 0, kind;
    uint64_t hash = 0;
    sl_record r;
    int t, rc = 0;
    while (!rc && (t = sl__batch_next(b, &off, &r, &kind, &hash)) != 0) {
      if (sl__held(inst, c)) {
        rc = sl__hold(inst, c, &r, hash, t == 1 ? 0 : kind);
      } else if (t == 1) {
        inst->key_hash = hash;
        rc = inst->vt->process(inst, inst->chan_port[c], &r);
      } else {
        rc = sl__inst_ctrl(inst, c, kind, r.ts);
      }
    }
    sl__batch_free(b);
    if (rc) return rc;
  }
  return 0;
}

/* ---- barriers and alignment ------------------------------------------------------ */

static int aligned(sl__inst *inst) {
  int64_t id = inst->align_id;
  for (int c = 0; c < inst->n_inputs; c++)
    if (!inst->ch_barrier[c] && !inst->in_ended[c]) return 0;
  const sl__job_hooks *h = inst->job->hooks;
  int rc = inst->vt->flush_held ? inst->vt->flush_held(inst) : 0;
  if (!rc && h && h->aligned) rc = h->aligned(inst, id, inst->align_start_ns);
  if (!rc) rc = sl__emit_ctrl(inst, SL__EV_BARRIER, id);
  inst->align_id = 0;
  memset(inst->ch_barrier, 0, (size_t)inst->n_inputs);
  return rc ? rc : replay(inst);
}

int sl__inst_barrier(sl__inst *inst, int chan, int64_t id) {
  if (id <= inst->ckpt_id) return 0; /* done already (invariant 3) */
  if (inst->align_id != id) {
    SL_ASSERT(inst->align_id < id);
    inst->align_id = id;
    inst->align_start_ns = sl__now_ns();
    memset(inst->ch_barrier, 0, (size_t)inst->n_inputs);
  }
  inst->ch_barrier[chan] = 1;
  return aligned(inst);
}

int sl__inst_gate_ended(sl__inst *inst) { return inst->align_id ? aligned(inst) : 0; }

/* ---- buffers ------------------------------------------------------------------------ */

int sl__gate_init(sl__inst *inst) {
  int nc = inst->n_inputs ? inst->n_inputs : 1;
  inst->ch_barrier = sl__calloc((size_t)nc, 1);
  inst->hold = sl__calloc((size_t)nc, sizeof *inst->hold);
  return inst->ch_barrier && inst->hold ? 0 : -SL_ENOMEM;
}

void sl__gate_free(sl__inst *inst) {
  if (inst->hold)
    for (int c = 0; c < (inst->n_inputs ? inst->n_inputs : 1); c++) sl__batch_free(inst->hold[c]);
  sl__free(inst->hold);
  sl__free(inst->ch_barrier);
  inst->hold = NULL;
  inst->ch_barrier = NULL;
}

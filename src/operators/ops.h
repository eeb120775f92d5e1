/*
 * ops.h -- the operator layer's shared helpers (internal): used by the
 * operators in src/operators, src/time (time_ops.c) and src/window, which
 * sit on the runtime, state and timers and below the api.
 */
#ifndef SL_OPS_H
#define SL_OPS_H

#include "runtime/runtime.h"
#include "state/state.h"

/* Keyed operators: open the state backend over the subtask's key groups;
 * close frees keyed, operator and broadcast state. */
int sl__keyed_open(sl__inst *inst);
void sl__keyed_close(sl__inst *inst, int ok);
/* A user function failed on record r: record the job error (operator,
 * subtask, record, message) unless the job already failed; returns the code
 * to pass up. */
int sl__user_fail(sl__inst *inst, int rc, const sl_record *r);

/* The record's key becomes the current key of the instance's keyed state
 * (its hash came with it: inst->key_hash). */
static inline void sl__set_key(sl__inst *inst, const sl_record *r) {
  SL_ASSERT(inst->key_hash == sl__key_hash(r->key, r->key_len));
  sl__kstate_set_key_h(inst->ks, r->key, r->key_len, inst->key_hash,
                       sl__key_group(inst->key_hash, inst->job->max_parallelism));
}

/* process_batch of keyed operators whose state is addressed by the key
 * alone (map, flat_map, process, reduce, keyed process): each record goes
 * through process() while the state of the records a few places ahead is
 * being loaded from memory (operators.c). */
int sl__keyed_run(sl__inst *inst, int port, const sl__hrec *v, uint32_t n);

/* A late record (windows, interval join): to the side output `tag`, or,
 * when nothing reads that side output, counted in inst->n_late_dropped
 * (Flink's numLateRecordsDropped; summed into sl_job_stats). */
static inline int sl__emit_late(sl__inst *inst, const char *tag, const sl_record *r) {
  for (int i = 0; i < inst->n_outs; i++)
    if (inst->outs[i].tag && !strcmp(inst->outs[i].tag, tag)) return sl__emit_tagged(inst, tag, r);
  sl__count(&inst->n_late_dropped, 1);
  return 0;
}

/* The behaviour of the basic operator kinds (operators.c; NULL for the
 * others: time_ops.h and window.h have theirs).  The api binds it on the
 * op when the graph is built (graph.c, op_vtable). */
const sl__op_vt *sl__op_vtable(sl__op_kind kind);
/* The operators of sl_flat_map_batch (SL__OP_BATCH) and
 * sl_keyed_process_batch (SL__OP_KEYED_BATCH) (batch_op.c). */
const sl__op_vt *sl__batch_vtable(sl__op_kind kind);

#endif

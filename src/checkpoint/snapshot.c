/*
 * snapshot.c -- the synchronous part of a checkpoint, on the instance's
 * own worker thread: snapshot the instance's state backends (copy-on-write,
 * a RocksDB snapshot, or a native RocksDB checkpoint) and the keyed state
 * it keeps outside them (a frozen copy: the op vtable's snapshot_extra),
 * record its source position or let its sink pre-commit, add its watermark
 * and operator bytes, and queue the task for the writer threads (writer.c).  Also the
 * runtime's `aligned` hook, called when an instance aligned a barrier.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/ckpt_int.h"
#include "runtime/source_sink.h"
#include "time/timers.h"

/* ---- snapshots ------------------------------------------------------------------ */

/* Meta blob: i64 wm, then the operator's own bytes (source position,
 * watermark generator). */
#define META_MAX (1u << 20)
static int meta_blob(sl__inst *inst, int64_t id, uint8_t **out, size_t *len) {
  uint8_t *b = sl__malloc(8 + META_MAX);
  size_t n = 0;
  int rc = 0;
  if (!b) return -SL_ENOMEM;
  if (inst->op->kind == SL__OP_SOURCE && inst->impl && inst->op->source->ops->position) {
    inst->ctx.ckpt_taking = id;
    inst->ctx.decline[0] = 0;
    rc = inst->op->source->ops->position(inst->impl, &inst->ctx, b + 8, META_MAX, &n);
    inst->ctx.ckpt_taking = 0;
    if (rc == SL_POSITION_DECLINE) { /* not now: the checkpoint is discarded (writer.c) */
      sl__ckpt_decline(inst, id, inst->ctx.decline[0] ? inst->ctx.decline : "no reason given");
      rc = 0, n = 0;
    } else if (!rc) {
      sl__ckpt_per_of(inst->job->ckpt, inst)->positioned = id;
    }
    if (rc &&
        !sl__failed(inst->job))
      rc = sl__fail(inst, rc < 0 ? rc : -SL_EINTERNAL,
                    "cannot record the source position for a checkpoint: %s (more than %u "
                    "bytes?)", inst->ctx.msg[0] ? inst->ctx.msg : sl_strerror(rc), META_MAX);
    else if (!rc && n > META_MAX)
      rc = sl__fail(inst, -SL_EINTERNAL, "the source's position claims %zu bytes, more than "
                                          "the %u it was given", n, META_MAX);
  } else if (inst->op->kind == SL__OP_SINK && inst->impl && inst->op->sink->ops->precommit) {
    /* what completed before this barrier is committed before its pre-commit */
    if (!(rc = sl__ckpt_commit_sink(inst)))
      rc = inst->op->sink->ops->precommit(inst->impl, &inst->ctx, id, b + 8, META_MAX, &n);
    if (rc < 0) rc = sl__conn_fail(inst, rc);
    else if (!rc && n > META_MAX)
      rc = sl__fail(inst, -SL_EINTERNAL, "the sink's pre-commit claims %zu bytes, more than "
                                          "the %u it was given", n, META_MAX);
  } else if (inst->vt->save) {
    rc = inst->vt->save(inst, b + 8, META_MAX, &n);
  }
  if (rc) {
    sl__free(b);
    return rc;
  }
  memcpy(b, &inst->wm, 8);
  uint8_t *shrunk = sl__realloc(b, 8 + n);
  *out = shrunk ? shrunk : b;
  *len = 8 + n;
  return 0;
}

void sl__ckpt_release(sl__inst *inst) {
  sl__ckpt_per *per = sl__ckpt_per_of(inst->job->ckpt, inst);
  sl__snap_task *t = per->snap;
  if (!t || !atomic_load(&t->written)) return;
  for (int i = 0; i < 3; i++)
    if (t->snap[i]) t->be[i]->vt->snap_release(t->snap[i]);
  if (t->extra) t->extra->free(t->extra);
  sl__free(t->meta);
  sl__free(t);
  per->snap = NULL;
}

/* The synchronous part of instance inst's snapshot for checkpoint id. */
int sl__ckpt_take(sl__inst *inst, int64_t id, sl__snap_task **out) {
  sl__ckpt_per *per = sl__ckpt_per_of(inst->job->ckpt, inst);
  if (per->snap) { /* the previous one is written: the checkpoint completed */
    while (!atomic_load(&per->snap->written)) sched_yield();
    sl__ckpt_release(inst);
  }
  sl__snap_task *t = sl__calloc(1, sizeof *t);
  if (!t) return -SL_ENOMEM;
  t->inst = inst;
  t->id = id;
  struct sl__kstate *ks[3] = {inst->ks, inst->os, inst->bs};
  /* keyed state kept outside the backend: frozen now, with the backend's
   * snapshot below (nothing runs in between), written with its image */
  int rc = inst->vt->snapshot_extra && inst->ks ? inst->vt->snapshot_extra(inst, &t->extra) : 0;
  if (rc && !sl__failed(inst->job))
    rc = sl__fail(inst, rc, "checkpoint %lld: %s", (long long)id, sl_strerror(rc));
  for (int i = 0; i < 3 && !rc; i++) {
    if (!ks[i]) continue;
    t->be[i] = sl__kstate_backend(ks[i]);
    if (i == 0 && t->be[0]->vt->native_checkpoint &&
        SL__CONF_I(inst->job->conf, CKPT_INCREMENTAL)) {
      if (t->extra) { /* a native checkpoint has the backend's files only */
        rc = sl__fail(inst, -SL_EINTERNAL,
                      "checkpoint %lld: state kept outside the %s backend cannot go into "
                      "its native checkpoint; set execution.checkpointing.incremental=false",
                      (long long)id, t->be[0]->vt->name);
        break;
      }
      /* incremental: the backend's own files (RocksDB: flushed, SST files
       * hard-linked), right here */
      char path[4200];
      sl__ckpt_file(path, sizeof path, inst->job->ckpt->cur, inst->op->id, inst->ctx.subtask,
                    t->be[0]->vt->name);
      if ((rc = t->be[0]->vt->native_checkpoint(t->be[0], path)))
        rc = sl__fail(inst, rc, "checkpoint %lld: %s", (long long)id, t->be[0]->err);
      t->native = 1;
      continue;
    }
    if ((rc = t->be[i]->vt->snapshot(t->be[i], &t->snap[i])))
      rc = sl__fail(inst, rc, "checkpoint %lld: %s", (long long)id, t->be[i]->err);
  }
  if (!rc) rc = meta_blob(inst, id, &t->meta, &t->meta_len);
  if (rc) {
    for (int i = 0; i < 3; i++)
      if (t->snap[i]) t->be[i]->vt->snap_release(t->snap[i]);
    if (t->extra) t->extra->free(t->extra);
    sl__free(t->meta);
    sl__free(t);
    return rc;
  }
  inst->ckpt_id = id;
  per->snap = t;
  *out = t;
  return 0;
}

/* Source inst declined checkpoint id (its position returned
 * SL_POSITION_DECLINE): the first decliner's reason is kept for the
 * statistics; every decliner is logged. */
void sl__ckpt_decline(sl__inst *inst, int64_t id, const char *why) {
  sl__ckpt *ck = inst->job->ckpt;
  sl__job_log(inst->job, SL_LOG_INFO, "source '%s' (subtask %d/%d) declined checkpoint %lld: %s",
              inst->op->name, inst->ctx.subtask + 1, inst->ctx.parallelism, (long long)id, why);
  pthread_mutex_lock(&ck->mu);
  if (ck->declined != id) {
    ck->declined = id;
    sl__fmt(ck->decline_why, sizeof ck->decline_why, "declined by source '%s' (subtask %d/%d): %s",
            inst->op->name, inst->ctx.subtask + 1, inst->ctx.parallelism, why);
  }
  pthread_mutex_unlock(&ck->mu);
}

/* Snapshot and hand the writing to the writer threads. */
int sl__ckpt_snapshot(sl__inst *inst, int64_t id) {
  sl__ckpt *ck = inst->job->ckpt;
  sl__snap_task *t;
  int rc = sl__ckpt_take(inst, id, &t);
  if (rc) return rc;
  pthread_mutex_lock(&ck->mu);
  if (ck->tail)
    ck->tail->next = t;
  else
    ck->head = t;
  ck->tail = t;
  pthread_cond_signal(&ck->cv);
  pthread_mutex_unlock(&ck->mu);
  return 0;
}

/* ---- the runtime's alignment hook ------------------------------------------------- */

/* inst aligned barrier id (src/runtime/input_gate.c): snapshot it, and
 * sample the pause (first barrier in -> snapshot taken). */
int sl__ckpt_aligned(sl__inst *inst, int64_t id, int64_t align_start_ns) {
  int rc = sl__ckpt_snapshot(inst, id);
  sl__ckpt *ck = inst->job->ckpt;
  if (ck && ck->align) {
    uint32_t k = atomic_fetch_add(&ck->n_align, 1);
    int64_t d = sl__now_ns() - align_start_ns, max = atomic_load(&ck->align_max_ns);
    if (k < SAMPLES) ck->align[k] = d;
    while (d > max && !atomic_compare_exchange_weak(&ck->align_max_ns, &max, d)) {
    }
  }
  return rc;
}

/* Checkpoint id starts: its directory (chk-<id>, or `savepoint` when it
 * is one) and an empty table of contents. */

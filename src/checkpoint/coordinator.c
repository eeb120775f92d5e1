/*
 * coordinator.c -- when checkpoints happen: worker 0's step triggers
 * checkpoint n every execution.checkpointing.interval (one in flight, after
 * min-pause), fails the job when one is not complete within the timeout,
 * and polls for savepoint requests; every worker's step lets its sources
 * start a published checkpoint, its finished instances snapshot, releases
 * written snapshots and has its sinks commit completed checkpoints.
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

int sl__ckpt_begin(sl__ckpt *ck, int64_t id, int64_t now, const char *savepoint) {
  sl__job *job = ck->job;
  if (savepoint)
    sl__fmt(ck->cur, sizeof ck->cur, "%s", savepoint);
  else
    sl__ckpt_path(ck->cur, sizeof ck->cur, ck->dir, id);
  sl__rm_rf(ck->cur); /* a leftover of a crashed run */
  char *bad = NULL;
  int rc = savepoint ? sl__mkdir_p(ck->cur, &bad) : mkdir(ck->cur, 0755) ? -errno : 0;
  sl__free(bad);
  if (rc)
    return sl__job_fail(job, -SL_EIO, "cannot create checkpoint directory '%s': %s", ck->cur,
                        strerror(-rc));
  for (int i = 0; i < job->n_ops * job->P; i++) ck->meta.inst[i] = (sl__ckpt_inst){0, 0};
  ck->meta.id = id;
  ck->meta.taken_ms = now;
  atomic_store(&ck->acks, job->n_ops * job->P);
  atomic_store(&ck->align_max_ns, 0);
  ck->trigger_ns = sl__now_ns();
  sl__ckstats_begin(job, id, savepoint != NULL, ck->cur, job->n_ops * job->P);
  return 0;
}

/* ---- savepoints ----------------------------------------------------------------------- */

/* `sluice savepoint DIR` asks a running job for a savepoint by writing
 * DIR/_savepoint-request ("<nonce> <target directory>"); the job answers in
 * DIR/_savepoint-<nonce>: "ok <path>" or "error <message>". */
void sl__ckpt_reply(const char *path, const char *fmt, ...) {
  char msg[4400], err[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  sl__frame_write(path, SL__MAGIC_SAVEPOINT_REPLY, msg, strlen(msg), err, sizeof err);
}

int sl__savepoint_request(const char *dir, const char *nonce, const char *target) {
  char req[4200], tmp[4300];
  snprintf(req, sizeof req, "%s/_savepoint-request", dir);
  snprintf(tmp, sizeof tmp, "%s.%s", req, nonce);
  FILE *f = fopen(tmp, "w");
  int ok = f && fprintf(f, "%s %s\n", nonce, target ? target : "") > 0;
  if (f && fclose(f)) ok = 0;
  if (ok && rename(tmp, req) == 0) return 0;
  int e = errno ? errno : EIO;
  unlink(tmp);
  return -e;
}

int sl__savepoint_answer(const char *dir, const char *nonce, int *ok, char *msg, size_t cap) {
  char rep[4200], err[256];
  snprintf(rep, sizeof rep, "%s/_savepoint-%s", dir, nonce);
  uint8_t *b;
  size_t len;
  if (access(rep, F_OK) || sl__frame_read(rep, SL__MAGIC_SAVEPOINT_REPLY, &b, &len, err, sizeof err))
    return 0; /* not there, or not written whole yet */
  unlink(rep);
  *ok = len > 3 && !memcmp(b, "ok ", 3);
  size_t skip = *ok ? 3 : len > 6 ? 6 : 0; /* "ok " / "error " */
  sl__fmt(msg, cap, "%.*s", (int)(len - skip), (const char *)b + skip);
  sl__free(b);
  return 1;
}

int sl__savepoint_withdraw(const char *dir, const char *nonce) {
  char req[4200], tmp[4300];
  snprintf(req, sizeof req, "%s/_savepoint-request", dir);
  snprintf(tmp, sizeof tmp, "%s.%s", req, nonce);
  if (rename(req, tmp)) return -errno;
  unlink(tmp);
  return 0;
}

/* A request waiting?  Fills target (the savepoint's directory) and
 * ck->reply, and removes the request. */
static int savepoint_requested(sl__ckpt *ck, int64_t id, int64_t now, char *target, size_t cap) {
  char req[4200], buf[4200];
  sl__fmt(req, sizeof req, "%s/_savepoint-request", ck->dir);
  FILE *f = fopen(req, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  unlink(req);
  buf[n] = 0;
  char *nl = strchr(buf, '\n');
  if (nl) *nl = 0;
  char *sp = strchr(buf, ' ');
  if (sp) *sp++ = 0;
  for (const char *c = buf; *c; c++)
    if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z'))) return 0; /* not ours */
  sl__fmt(ck->reply, sizeof ck->reply, "%s/_savepoint-%s", ck->dir, buf);
  const char *base = sp && *sp ? sp : SL__CONF_S(ck->job->conf, SAVEPOINT_DIR);
  if (base && *base)
    sl__fmt(target, cap, "%s/savepoint-%lld-%lld", base, (long long)id, (long long)now);
  else
    sl__fmt(target, cap, "%s/savepoints/savepoint-%lld-%lld", ck->dir, (long long)id,
            (long long)now);
  return 1;
}

/* ---- per worker step ---------------------------------------------------------------- */

int sl__ckpt_commit_sink(sl__inst *inst) {
  sl__ckpt *ck = inst->job->ckpt;
  sl__ckpt_per *per = sl__ckpt_per_of(ck, inst);
  int64_t done = atomic_load_explicit(&ck->last_complete, memory_order_acquire);
  if (done <= per->committed_id) return 0;
  per->committed_id = done;
  const sl_sink_ops *ops = inst->op->sink->ops;
  int rc = inst->impl && ops->commit_ckpt ? ops->commit_ckpt(inst->impl, &inst->ctx, done) : 0;
  return rc ? sl__conn_fail(inst, rc) : 0;
}

int sl__ckpt_worker_step(sl__worker *w) {
  sl__job *job = w->job;
  sl__ckpt *ck = job->ckpt;
  int64_t trigger = atomic_load_explicit(&ck->trigger, memory_order_acquire);
  if (w->index == 0 && !atomic_load(&ck->inflight)) {
    int64_t now = sl__clock_ms();
    int64_t earliest = atomic_load(&ck->done_ms) + ck->min_pause_ms;
    char sp[4096];
    int savepoint = 0;
    if (now >= ck->poll_ms) { /* a savepoint does not wait for the interval */
      ck->poll_ms = now + 100;
      savepoint = savepoint_requested(ck, trigger + 1, now, sp, sizeof sp);
    }
    if (savepoint || (now >= ck->next_ms && now >= earliest)) {
      if (!savepoint) {
        ck->next_ms = now + ck->interval_ms;
        ck->reply[0] = 0; /* no one waits for a periodic checkpoint */
      }
      int64_t id = trigger + 1;
      int rc = sl__ckpt_begin(ck, id, now, savepoint ? sp : NULL);
      if (rc) {
        if (savepoint) sl__ckpt_reply(ck->reply, "error %s", w->job->err);
        return rc;
      }
      atomic_store(&ck->inflight, 1);
      atomic_store_explicit(&ck->trigger, id, memory_order_release);
      sl__job_wake_all(job); /* sources on parked workers start it now */
      trigger = id;
    }
  } else if (w->index == 0 && sl__now_ns() - ck->trigger_ns > ck->timeout_ms * 1000000) {
    /* as Flink with no tolerable checkpoint failures: the job fails over */
    sl__ckstats_fail(job, trigger, "expired before completing");
    return sl__job_fail(job, -SL_ETIMEDOUT,
                        "checkpoint %lld expired: not complete after execution.checkpointing."
                        "timeout (%lld ms); raise the timeout if the state is large, else an "
                        "operator is stalled (backpressure)", (long long)trigger,
                        (long long)ck->timeout_ms);
  }
  int64_t done = atomic_load_explicit(&ck->last_complete, memory_order_acquire);
  for (int i = 0; i < job->n_ops; i++) {
    sl__inst *inst = &w->insts[i];
    sl__ckpt_per *per = sl__ckpt_per_of(ck, inst);
    if (per->snap) sl__ckpt_release(inst);
    if (done > per->committed_id && inst->op->kind == SL__OP_SINK) {
      int rc = sl__ckpt_commit_sink(inst);
      if (rc) return rc;
    } else if (done > per->committed_id && inst->op->kind == SL__OP_SOURCE) {
      /* sources hear of a checkpoint they took a position for in this run
       * (not of the checkpoint a restore started from) */
      int (*cc)(void *, sl_ctx *, int64_t) = sl__source_ckpt_complete(inst->op->source);
      per->committed_id = done;
      int rc = inst->impl && cc && per->positioned == done ? cc(inst->impl, &inst->ctx, done) : 0;
      if (rc) return sl__conn_fail(inst, rc);
    }
    if (trigger <= inst->ckpt_id) continue;
    /* sources start checkpoint `trigger`; finished instances snapshot their
     * final state (nothing will reach them any more) */
    if (inst->op->kind == SL__OP_SOURCE || inst->ended) {
      int rc = sl__ckpt_snapshot(inst, trigger);
      if (!rc && !inst->ended) rc = sl__emit_ctrl(inst, SL__EV_BARRIER, trigger);
      if (rc) return rc;
    }
  }
  return 0;
}


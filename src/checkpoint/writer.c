/*
 * writer.c -- asynchronous barrier snapshotting (the algorithm Flink
 * uses): how a checkpoint flows through the files of src/checkpoint, the
 * writer threads, the final checkpoint, and the start and stop hooks.
 *
 *   coordinator (worker 0's step): every execution.checkpointing.interval,
 *     when no checkpoint is in flight and min-pause has passed, publish
 *     checkpoint n (job->ckpt->trigger = n).
 *   sources (their worker's step): on seeing n, snapshot their position and
 *     emit barrier n on every output, in-band, after the records before it.
 *   every other instance: the runtime aligns barrier n across its inputs
 *     (src/runtime/input_gate.c) and calls the `aligned` hook, which
 *     snapshots it (snapshot.c; the synchronous part: copy-on-write or a RocksDB
 *     snapshot, the source position, watermarks); the runtime then
 *     forwards barrier n and replays what it held.
 *   writer threads (min(P, 4), one queue): write each instance's files
 *     (images are produced from the snapshots while processing goes on),
 *     mark the snapshot for release by its owner, count acknowledgements;
 *     the last one writes _metadata (the checkpoint is then complete),
 *     applies retention, and sinks commit at their next step.
 *
 * Invariants
 *   1. A snapshot of instance I for checkpoint n contains exactly the
 *      effects of the records that entered the job before barrier n on
 *      every path to I.
 *   2. One checkpoint in flight (max-concurrent-checkpoints = 1); a
 *      backend's snapshot is released by its owner before the next one.
 *   3. A checkpoint exists only when its _metadata exists.
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

/* ---- writer ------------------------------------------------------------------------- */

static uint64_t dir_bytes(const char *dir) {
  uint64_t n = 0;
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    char p[4400];
    struct stat st;
    sl__fmt(p, sizeof p, "%s/%s", dir, e->d_name);
    if (e->d_name[0] != '.' && !stat(p, &st)) n += (uint64_t)st.st_size;
  }
  if (d) closedir(d);
  return n;
}

int sl__ckpt_write_task(sl__ckpt *ck, sl__snap_task *t, char *err, size_t errcap) {
  sl__job *job = ck->job;
  sl__inst *inst = t->inst;
  int op = inst->op->id, s = inst->ctx.subtask;
  char path[4200];
  const char *chk = ck->cur;
  static const char *ext[3] = {"keyed", "opstate", "bstate"};
  sl__ckpt_inst *ci = &ck->meta.inst[op * job->P + s];
  for (int i = 0; i < 3; i++) {
    if (!t->snap[i]) continue;
    sl__ckpt_file(path, sizeof path, chk, op, s, ext[i]);
    int rc = sl__image_write_file_extra(t->be[i], t->snap[i], i == 0 ? t->extra : NULL, path);
    if (rc) {
      sl__fmt(err, errcap, "%s", t->be[i]->err);
      return rc;
    }
    struct stat st;
    if (!stat(path, &st)) ci->bytes += (uint64_t)st.st_size;
    ci->flags |= (uint8_t)(1 << i);
  }
  if (t->native) {
    sl__ckpt_file(path, sizeof path, chk, op, s, t->be[0]->vt->name);
    ci->flags |= SL__F_NATIVE;
    ci->bytes += dir_bytes(path);
  }
  sl__ckpt_file(path, sizeof path, chk, op, s, "meta");
  int rc = sl__frame_write(path, SL__MAGIC_OPMETA, t->meta, t->meta_len, err, errcap);
  if (rc) return rc;
  ci->flags |= SL__F_META;
  ci->bytes += t->meta_len + 20;
  return 0;
}

/* Bytes the checkpoint in flight wrote (statistics). */
static uint64_t ckpt_bytes(const sl__ckpt *ck) {
  uint64_t n = 0;
  for (int i = 0; i < ck->job->n_ops * ck->job->P; i++) n += ck->meta.inst[i].bytes;
  return n;
}

static void completed(sl__ckpt *ck, int64_t id) {
  ck->completed++;
  sl__ckstats_done(ck->job, id, ckpt_bytes(ck), atomic_load(&ck->align_max_ns));
  sl__job_log(ck->job, SL_LOG_DEBUG, "checkpoint %lld complete in '%s'", (long long)id, ck->cur);
  sl__ckpt_retain(ck->dir, (int)SL__CONF_I(ck->job->conf, CKPT_RETAINED));
  atomic_store(&ck->done_ms, sl__clock_ms());
  atomic_store_explicit(&ck->last_complete, id, memory_order_release);
  atomic_store(&ck->inflight, 0);
  sl__job_wake_all(ck->job); /* sinks commit at their worker's next step */
}

/* Checkpoint id was declined by a source (sl_ctx_decline_checkpoint)?
 * Then discard it: no _metadata (so nothing restores it; invariant 3), its
 * files removed, counted as failed with the reason; neither last_complete
 * nor any sink or source hears of it.  1 when discarded. */
static int discard_declined(sl__ckpt *ck, int64_t id) {
  char why[512];
  pthread_mutex_lock(&ck->mu);
  int declined = ck->declined == id;
  sl__fmt(why, sizeof why, "%s", ck->decline_why);
  pthread_mutex_unlock(&ck->mu);
  if (!declined) return 0;
  sl__rm_rf(ck->cur);
  ck->n_declined++;
  sl__ckstats_fail(ck->job, id, why);
  if (ck->reply[0]) sl__ckpt_reply(ck->reply, "error savepoint %lld %s", (long long)id, why);
  sl__job_log(ck->job, SL_LOG_INFO, "checkpoint %lld discarded: %s", (long long)id, why);
  return 1;
}

static void *writer_main(void *arg) {
  sl__ckpt *ck = arg;
  for (;;) {
    pthread_mutex_lock(&ck->mu);
    while (!ck->head && !ck->stop) pthread_cond_wait(&ck->cv, &ck->mu);
    sl__snap_task *t = ck->head;
    if (t) {
      ck->head = t->next;
      if (!ck->head) ck->tail = NULL;
    }
    pthread_mutex_unlock(&ck->mu);
    if (!t) break; /* stop requested and nothing left */
    char err[1024] = "";
    int rc = sl__ckpt_write_task(ck, t, err, sizeof err);
    int64_t id = t->id;
    sl__inst *inst = t->inst;
    /* from here on the owner may release and free t */
    atomic_store_explicit(&t->written, 1, memory_order_release);
    if (rc) {
      sl__ckstats_fail(ck->job, id, err);
      sl__fail(inst, rc, "checkpoint %lld: %s", (long long)id, err);
      continue;
    }
    sl__ckstats_ack(ck->job, id);
    if (atomic_fetch_sub(&ck->acks, 1) == 1) { /* the last instance */
      if (discard_declined(ck, id)) { /* the job goes on; the next trigger as usual */
        atomic_store(&ck->done_ms, sl__clock_ms());
        atomic_store(&ck->inflight, 0);
        continue;
      }
      if (sl__ckpt_meta_write(ck->cur, &ck->meta, err, sizeof err) || sl__fsync_dir(ck->dir)) {
        sl__ckstats_fail(ck->job, id, err);
        if (ck->reply[0]) sl__ckpt_reply(ck->reply, "error %s", err);
        sl__job_fail(ck->job, -SL_EIO, "checkpoint %lld: %s", (long long)id, err);
        continue;
      }
      if (ck->reply[0]) { /* a savepoint: no retention, and sinks do not commit it */
        sl__ckpt_reply(ck->reply, "ok %s", ck->cur);
        sl__job_log(ck->job, SL_LOG_INFO, "savepoint %lld written to '%s'", (long long)id, ck->cur);
        sl__ckstats_done(ck->job, id, ckpt_bytes(ck), atomic_load(&ck->align_max_ns));
        atomic_store(&ck->done_ms, sl__clock_ms());
        atomic_store(&ck->inflight, 0);
        continue;
      }
      if (ck->dur && ck->n_dur < SAMPLES) ck->dur[ck->n_dur++] = sl__now_ns() - ck->trigger_ns;
      completed(ck, id);
    }
  }
  return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

int sl__ckpt_start(sl__job *job) {
  const sl__conf *conf = job->conf;
  int64_t interval = SL__CONF_I(conf, CKPT_INTERVAL);
  if (interval <= 0) return 0;
  const char *dir = SL__CONF_S(conf, CKPT_DIR);
  if (!dir || !*dir) {
    sl__fmt(job->err, sizeof job->err,
            "execution.checkpointing.interval is set but state.checkpoints.dir is empty");
    return -SL_ECONFIG;
  }
  char *bad = NULL;
  int rc = sl__mkdir_p(dir, &bad);
  if (rc) {
    sl__fmt(job->err, sizeof job->err, "cannot create state.checkpoints.dir '%s' (%s): %s", dir,
            bad ? bad : dir, strerror(-rc));
    sl__free(bad);
    return -SL_EIO;
  }
  sl__ckpt *ck = sl__calloc(1, sizeof *ck);
  if (!ck) return -SL_ENOMEM;
  pthread_mutex_init(&ck->mu, NULL);
  pthread_cond_init(&ck->cv, NULL);
  ck->job = job;
  ck->dir = sl__strdup(dir);
  ck->interval_ms = interval;
  ck->min_pause_ms = SL__CONF_I(conf, CKPT_MIN_PAUSE);
  ck->timeout_ms = SL__CONF_I(conf, CKPT_TIMEOUT);
  ck->next_ms = sl__clock_ms() + interval;
  atomic_init(&ck->trigger, sl__ckpt_max_id(dir)); /* ids continue across runs */
  ck->align = sl__calloc(SAMPLES, sizeof *ck->align);
  ck->dur = sl__calloc(SAMPLES, sizeof *ck->dur);
  ck->meta.P = job->P;
  ck->meta.max_parallelism = job->max_parallelism;
  ck->meta.n_ops = job->n_ops;
  ck->meta.op_kind = sl__calloc((size_t)job->n_ops, 1);
  ck->meta.op_name = sl__calloc((size_t)job->n_ops, sizeof(char *));
  ck->meta.inst = sl__calloc((size_t)job->n_ops * (size_t)job->P, sizeof(sl__ckpt_inst));
  ck->per = sl__calloc((size_t)job->n_ops * (size_t)job->P, sizeof *ck->per);
  if (!ck->dir || !ck->meta.op_kind || !ck->meta.op_name || !ck->meta.inst || !ck->per) {
    job->ckpt = ck;
    return -SL_ENOMEM;
  }
  for (int i = 0; i < job->n_ops; i++) {
    ck->meta.op_kind[i] = (uint8_t)job->ops[i]->kind;
    ck->meta.op_name[i] = sl__strdup(job->ops[i]->name);
    if (!ck->meta.op_name[i]) {
      job->ckpt = ck;
      return -SL_ENOMEM;
    }
  }
  for (int w = 0; w < job->P; w++)
    for (int i = 0; i < job->n_ops; i++) job->workers[w].insts[i].ckpt_id = atomic_load(&ck->trigger);
  job->ckpt = ck;
  int n = job->P < 4 ? job->P : 4; /* instances are written in parallel */
  for (; ck->writer_started < n; ck->writer_started++)
    if (pthread_create(&ck->writer[ck->writer_started], NULL, writer_main, ck)) break;
  if (!ck->writer_started) {
    sl__fmt(job->err, sizeof job->err, "cannot start the checkpoint writer thread");
    return -SL_ENOMEM;
  }
  return 0;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static double percentile_ms(int64_t *v, uint32_t n, double q) {
  if (!v || !n) return 0;
  qsort(v, n, sizeof *v, cmp_i64);
  uint32_t k = (uint32_t)(q * (double)(n - 1) + 0.5);
  return (double)v[k] / 1e6;
}

typedef struct final_arg {
  sl__ckpt *ck;
  sl__worker *w;
  int rc, threaded;
  pthread_t thread;
} final_arg;

/* Writes the final checkpoint's files of one worker's instances. */
static void *final_write(void *p) {
  final_arg *a = p;
  char err[1024] = "";
  for (int i = 0; !a->rc && i < a->ck->job->n_ops; i++) {
    sl__inst *inst = &a->w->insts[i];
    sl__snap_task *t = sl__ckpt_per_of(a->ck, inst)->snap;
    if (t && (a->rc = sl__ckpt_write_task(a->ck, t, err, sizeof err)))
      a->rc = sl__fail(inst, a->rc, "checkpoint %lld: %s", (long long)t->id, err);
  }
  return NULL;
}

/* A successful job ends with one more checkpoint of every (ended)
 * instance, taken on this thread after the workers joined, and the sinks
 * commit it: their last output becomes visible only once a checkpoint
 * covers it, so a crash during the final commit recovers exactly. */
static int final_checkpoint(sl__ckpt *ck) {
  sl__job *job = ck->job;
  int64_t id = atomic_load(&ck->trigger) + 1;
  ck->reply[0] = 0;
  /* stop with a savepoint: the final checkpoint is that savepoint */
  const char *final_sp = atomic_load(&job->final_savepoint);
  int rc = sl__ckpt_begin(ck, id, sl__clock_ms(), final_sp);
  char err[1024] = "";
  for (int w = 0; !rc && w < job->P; w++)
    for (int i = 0; !rc && i < job->n_ops; i++) {
      sl__snap_task *t;
      rc = sl__ckpt_take(&job->workers[w].insts[i], id, &t);
    }
  /* write: one thread per worker's instances */
  final_arg *a = rc ? NULL : sl__calloc((size_t)job->P, sizeof *a);
  if (!rc && !a) rc = -SL_ENOMEM;
  for (int w = 0; !rc && w < job->P; w++) {
    a[w] = (final_arg){ck, &job->workers[w], 0, 0, 0};
    a[w].threaded = job->P > 1 && !pthread_create(&a[w].thread, NULL, final_write, &a[w]);
    if (!a[w].threaded) final_write(&a[w]);
  }
  for (int w = 0; a && w < job->P; w++) {
    if (a[w].threaded) pthread_join(a[w].thread, NULL);
    if (!rc) rc = a[w].rc;
  }
  sl__free(a);
  for (int w = 0; w < job->P; w++) /* written, or given up on */
    for (int i = 0; i < job->n_ops; i++) {
      sl__inst *inst = &job->workers[w].insts[i];
      sl__snap_task *t = sl__ckpt_per_of(ck, inst)->snap;
      if (t) atomic_store(&t->written, 1);
      sl__ckpt_release(inst);
    }
  atomic_store(&ck->trigger, id);
  if (rc) {
    sl__ckstats_fail(job, id, "an instance's snapshot failed");
    return rc;
  }
  if (discard_declined(ck, id)) /* no sink may commit what no checkpoint covers */
    return sl__job_fail(job, -SL_ESTATE,
                        "the final checkpoint %lld was %s: the output since the last completed "
                        "checkpoint stays uncommitted; go on with --restore latest (a restore "
                        "from that checkpoint) and stop the job once the source accepts "
                        "checkpoints", (long long)id, ck->decline_why);
  if (sl__ckpt_meta_write(ck->cur, &ck->meta, err, sizeof err) || sl__fsync_dir(ck->dir)) {
    sl__ckstats_fail(job, id, err);
    return sl__job_fail(job, -SL_EIO, "checkpoint %lld: %s", (long long)id, err);
  }
  if (ck->dur && ck->n_dur < SAMPLES) ck->dur[ck->n_dur++] = sl__now_ns() - ck->trigger_ns;
  completed(ck, id);
  if (final_sp)
    sl__job_log(job, SL_LOG_INFO, "stopped with savepoint %lld written to '%s'", (long long)id,
                ck->cur);
  for (int w = 0; w < job->P; w++)
    for (int i = 0; i < job->n_ops; i++) {
      sl__inst *inst = &job->workers[w].insts[i];
      if (inst->op->kind != SL__OP_SINK || !inst->impl || !inst->op->sink->ops->commit_ckpt)
        continue;
      sl__ckpt_per_of(ck, inst)->committed_id = id;
      if ((rc = inst->op->sink->ops->commit_ckpt(inst->impl, &inst->ctx, id)))
        return sl__conn_fail(inst, rc);
    }
  return 0;
}

int sl__ckpt_stop(sl__job *job, int ok) {
  sl__ckpt *ck = job->ckpt;
  int rc = 0;
  if (ck && ck->writer_started) {
    pthread_mutex_lock(&ck->mu);
    ck->stop = 1;
    pthread_cond_broadcast(&ck->cv);
    pthread_mutex_unlock(&ck->mu);
    for (int i = 0; i < ck->writer_started; i++) /* they write what was queued */
      pthread_join(ck->writer[i], NULL);
    /* the queued snapshots are written now */
    for (int w = 0; w < job->P; w++)
      for (int i = 0; i < job->n_ops; i++) {
        sl__inst *inst = &job->workers[w].insts[i];
        sl__snap_task *t = sl__ckpt_per_of(ck, inst)->snap;
        if (t) {
          atomic_store(&t->written, 1);
          sl__ckpt_release(inst);
        }
      }
    if (ok && !atomic_load(&job->failed)) rc = final_checkpoint(ck);
  }
  if (!ck) return rc;
  pthread_mutex_destroy(&ck->mu);
  pthread_cond_destroy(&ck->cv);
  job->env_ckpt_completed = ck->completed;
  uint32_t na = SL__MIN(atomic_load(&ck->n_align), (uint32_t)SAMPLES);
  job->ckpt_pct[0] = percentile_ms(ck->align, na, 0.50);
  job->ckpt_pct[1] = percentile_ms(ck->align, na, 0.99);
  job->ckpt_pct[2] = percentile_ms(ck->dur, ck->n_dur, 0.50);
  job->ckpt_pct[3] = percentile_ms(ck->dur, ck->n_dur, 0.99);
  sl__free(ck->align);
  sl__free(ck->dur);
  sl__free(ck->per);
  sl__ckpt_meta_free(&ck->meta);
  sl__free(ck->dir);
  sl__free(ck);
  job->ckpt = NULL;
  return rc;
}


const sl__job_hooks sl__ckpt_hooks = {.start = sl__ckpt_start,
                                      .restore = sl__ckpt_restore,
                                      .worker_step = sl__ckpt_worker_step,
                                      .aligned = sl__ckpt_aligned,
                                      .stop = sl__ckpt_stop,
                                      .state_stats = sl__inst_state_stats};


/*
 * checkpoint.c -- asynchronous barrier snapshotting (the algorithm Flink
 * uses), the background writer, and restore.
 *
 *   coordinator (worker 0's step): every execution.checkpointing.interval,
 *     when no checkpoint is in flight and min-pause has passed, publish
 *     checkpoint n (job->ckpt->trigger = n).
 *   sources (their worker's step): on seeing n, snapshot their position and
 *     emit barrier n on every output, in-band, after the records before it.
 *   every other instance: barrier n on input channel c blocks c (alignment):
 *     an exchange channel is simply not drained any more (a batch is parked
 *     at the barrier); a forward channel's later entries are held in a
 *     buffer.  When every input that has not ended delivered barrier n, the
 *     instance snapshots (the synchronous part: copy-on-write or a RocksDB
 *     snapshot, the source position, watermarks), forwards barrier n,
 *     unblocks its channels and replays what it held.
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

#include "api/ops.h"
#include "checkpoint/storage.h"
#include "connectors/connector.h"
#include "time/timers.h"

typedef struct sl__snap_task {
  struct sl__snap_task *next;
  sl__inst *inst;
  int64_t id;
  sl__snapshot *snap[3]; /* keyed, operator, broadcast */
  sl__backend *be[3];
  uint8_t *meta;
  size_t meta_len;
  _Atomic int written;
  int rc;
  int native; /* keyed state went into a native RocksDB checkpoint (take) */
} sl__snap_task;

typedef struct sl__ckpt {
  sl__job *job;
  char *dir;
  int64_t interval_ms, min_pause_ms;
  _Atomic int64_t trigger; /* the newest checkpoint published */
  int64_t next_ms;         /* worker 0: when to trigger next */
  _Atomic int inflight;
  _Atomic int64_t done_ms; /* when the last one completed */
  _Atomic int acks;        /* instances still to be written */
  sl__ckpt_meta meta;      /* of the checkpoint in flight */
  pthread_t writer[4]; /* min(P, 4) writer threads share the queue */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sl__snap_task *head, *tail;
  int stop;
  int64_t completed;   /* count, for tests and inspection */
  _Atomic int64_t last_complete; /* sinks commit up to here */
  int writer_started; /* writer threads running (stop joins them) */
  int64_t trigger_ns;  /* when the one in flight was triggered */
  int64_t timeout_ms;
  /* the one in flight: its directory (chk-<n>, or a savepoint's), and for
   * a savepoint the file its requester waits for */
  char cur[4096];
  char reply[4200];
  int64_t poll_ms;     /* worker 0: when to look for a savepoint request next */
  /* samples for the percentiles (ns): alignment pauses, durations */
#define SAMPLES 65536
  int64_t *align, *dur;
  _Atomic uint32_t n_align;
  uint32_t n_dur;
} sl__ckpt;

/* ---- holding entries of blocked forward channels ------------------------------ */

int sl__hold(sl__inst *target, int chan, const sl_record *r, uint32_t kind) {
  sl__batch **h = &target->hold[chan];
  uint32_t size = kind ? (uint32_t)sizeof(sl__entry_hdr) : sl__entry_size(r->key_len, r->value_len);
  if (!*h && !(*h = sl__batch_new(SL__MAX(4096u, size)))) return -SL_ENOMEM;
  if (!sl__batch_fits(*h, size) && sl__batch_reserve(*h, SL__MAX(size, (*h)->cap)))
    return -SL_ENOMEM;
  if (kind)
    sl__batch_put_ctrl(*h, kind, r->ts);
  else
    sl__batch_put(*h, r);
  return 0;
}

static int replay(sl__inst *inst) {
  for (int c = 0; c < inst->n_inputs; c++) {
    sl__batch *b = inst->hold[c];
    if (!b || !b->count) continue;
    inst->hold[c] = NULL; /* entries may be held again by a later barrier */
    uint32_t off = 0, kind;
    sl_record r;
    int t, rc = 0;
    while (!rc && (t = sl__batch_next(b, &off, &r, &kind)) != 0) {
      if (sl__held(inst, c))
        rc = sl__hold(inst, c, &r, t == 1 ? 0 : kind);
      else if (t == 1)
        rc = inst->vt->process(inst, inst->chan_port[c], &r);
      else if (kind == SL__EV_WATERMARK)
        rc = sl__inst_watermark(inst, c, r.ts);
      else if (kind == SL__EV_IDLE)
        rc = sl__inst_idle(inst, c, (int)r.ts);
      else if (kind == SL__EV_BARRIER)
        rc = sl__inst_barrier(inst, c, r.ts);
      else if (kind == SL__EV_END)
        rc = sl__inst_input_ended(inst, c, (int)r.ts);
    }
    sl__batch_free(b);
    if (rc) return rc;
  }
  return 0;
}

/* ---- snapshots ------------------------------------------------------------------ */

/* Meta blob: i64 wm, then the operator's own bytes (source position,
 * watermark generator). */
#define META_MAX (1u << 20)
static int meta_blob(sl__inst *inst, int64_t id, uint8_t **out, size_t *len) {
  uint8_t *b = sl__malloc(8 + META_MAX);
  size_t n = 0;
  int rc = 0;
  if (!b) return -SL_ENOMEM;
  if (inst->op->kind == SL__OP_SOURCE && inst->impl && inst->op->source->vt->position) {
    if ((rc = inst->op->source->vt->position(inst->impl, b + 8, META_MAX, &n)))
      rc = sl__fail(inst, rc, "cannot record the source position for a checkpoint (more "
                              "than %u bytes?)", META_MAX);
  } else if (inst->op->kind == SL__OP_SINK && inst->impl && inst->op->sink->vt->precommit) {
    rc = inst->op->sink->vt->precommit(inst->impl, inst, id, b + 8, META_MAX, &n);
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

static void release(sl__inst *inst) {
  sl__snap_task *t = inst->snap;
  if (!t || !atomic_load(&t->written)) return;
  for (int i = 0; i < 3; i++)
    if (t->snap[i]) t->be[i]->vt->snap_release(t->snap[i]);
  sl__free(t->meta);
  sl__free(t);
  inst->snap = NULL;
}

/* The synchronous part of instance inst's snapshot for checkpoint id. */
static int take(sl__inst *inst, int64_t id, sl__snap_task **out) {
  if (inst->snap) { /* the previous one is written: the checkpoint completed */
    while (!atomic_load(&inst->snap->written)) sched_yield();
    release(inst);
  }
  sl__snap_task *t = sl__calloc(1, sizeof *t);
  if (!t) return -SL_ENOMEM;
  t->inst = inst;
  t->id = id;
  struct sl__kstate *ks[3] = {inst->ks, inst->os, inst->bs};
  int rc = 0;
  for (int i = 0; i < 3 && !rc; i++) {
    if (!ks[i]) continue;
    t->be[i] = sl__kstate_backend(ks[i]);
    if (i == 0 && !strcmp(t->be[0]->vt->name, "rocksdb") &&
        SL__CONF_I(inst->job->conf, CKPT_INCREMENTAL)) {
      /* incremental: flush and hard-link the SST files, right here */
      char path[4200];
      sl__ckpt_file(path, sizeof path, inst->job->ckpt->cur, inst->op->id, inst->ctx.subtask,
                    "rocksdb");
      if ((rc = sl__rocksdb_checkpoint(t->be[0], path)))
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
    sl__free(t->meta);
    sl__free(t);
    return rc;
  }
  inst->ckpt_id = id;
  inst->snap = t;
  *out = t;
  return 0;
}

/* Snapshot and hand the writing to the writer threads. */
static int snapshot(sl__inst *inst, int64_t id) {
  sl__ckpt *ck = inst->job->ckpt;
  sl__snap_task *t;
  int rc = take(inst, id, &t);
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

/* ---- barriers and alignment ----------------------------------------------------- */

static int aligned(sl__inst *inst) {
  int64_t id = inst->align_id;
  for (int c = 0; c < inst->n_inputs; c++)
    if (!inst->ch_barrier[c] && !inst->in_ended[c]) return 0;
  int rc = snapshot(inst, id);
  if (!rc) rc = sl__emit_ctrl(inst, SL__EV_BARRIER, id);
  sl__ckpt *ck = inst->job->ckpt;
  if (ck && ck->align) { /* first barrier in -> barrier out */
    uint32_t k = atomic_fetch_add(&ck->n_align, 1);
    if (k < SAMPLES) ck->align[k] = sl__now_ns() - inst->align_start_ns;
  }
  inst->align_id = 0;
  memset(inst->ch_barrier, 0, (size_t)inst->n_inputs);
  return rc ? rc : replay(inst);
}

int sl__inst_barrier(sl__inst *inst, int chan, int64_t id) {
  if (id <= inst->ckpt_id) return 0; /* done already */
  if (inst->align_id != id) {
    inst->align_id = id;
    inst->align_start_ns = sl__now_ns();
    memset(inst->ch_barrier, 0, (size_t)inst->n_inputs);
  }
  inst->ch_barrier[chan] = 1;
  return aligned(inst);
}

int sl__ckpt_channel_ended(sl__inst *inst) {
  return inst->align_id ? aligned(inst) : 0;
}

/* Checkpoint id starts: its directory (chk-<id>, or `savepoint` when it
 * is one) and an empty table of contents. */
static int begin(sl__ckpt *ck, int64_t id, int64_t now, const char *savepoint) {
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
    return sl__fail(&job->workers[0].insts[0], -SL_EIO,
                    "cannot create checkpoint directory '%s': %s", ck->cur, strerror(-rc));
  for (int i = 0; i < job->n_ops * job->P; i++) ck->meta.inst[i] = (sl__ckpt_inst){0, 0};
  ck->meta.id = id;
  ck->meta.taken_ms = now;
  atomic_store(&ck->acks, job->n_ops * job->P);
  ck->trigger_ns = sl__now_ns();
  return 0;
}

/* ---- savepoints ----------------------------------------------------------------------- */

/* `sluice savepoint DIR` asks a running job for a savepoint by writing
 * DIR/_savepoint-request ("<nonce> <target directory>"); the job answers in
 * DIR/_savepoint-<nonce>: "ok <path>" or "error <message>". */
static void reply(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(const char *path, const char *fmt, ...) {
  char msg[4400], err[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  static const char MAGIC[8] = {'S', 'L', 'S', 'V', 'P', 'R', 'E', 'P'};
  sl__frame_write(path, MAGIC, msg, strlen(msg), err, sizeof err);
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
      int rc = begin(ck, id, now, savepoint ? sp : NULL);
      if (rc) {
        if (savepoint) reply(ck->reply, "error %s", w->job->err);
        return rc;
      }
      atomic_store(&ck->inflight, 1);
      atomic_store_explicit(&ck->trigger, id, memory_order_release);
      sl__job_wake_all(job); /* sources on parked workers start it now */
      trigger = id;
    }
  } else if (w->index == 0 && sl__now_ns() - ck->trigger_ns > ck->timeout_ms * 1000000) {
    /* as Flink with no tolerable checkpoint failures: the job fails over */
    return sl__fail(&w->insts[0], -SL_ETIMEDOUT,
                    "checkpoint %lld expired: not complete after execution.checkpointing."
                    "timeout (%lld ms); raise the timeout if the state is large, else an "
                    "operator is stalled (backpressure)", (long long)trigger,
                    (long long)ck->timeout_ms);
  }
  int64_t done = atomic_load_explicit(&ck->last_complete, memory_order_acquire);
  for (int i = 0; i < job->n_ops; i++) {
    sl__inst *inst = &w->insts[i];
    if (inst->snap) release(inst);
    if (done > inst->committed_id && inst->op->kind == SL__OP_SINK) {
      inst->committed_id = done;
      const sl__sink_vt *vt = inst->op->sink->vt;
      int rc = inst->impl && vt->commit_ckpt ? vt->commit_ckpt(inst->impl, inst, done) : 0;
      if (rc) return rc;
    }
    if (trigger <= inst->ckpt_id) continue;
    /* sources start checkpoint `trigger`; finished instances snapshot their
     * final state (nothing will reach them any more) */
    if (inst->op->kind == SL__OP_SOURCE || inst->ended) {
      int rc = snapshot(inst, trigger);
      if (!rc && !inst->ended) rc = sl__emit_ctrl(inst, SL__EV_BARRIER, trigger);
      if (rc) return rc;
    }
  }
  return 0;
}

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

static int write_task(sl__ckpt *ck, sl__snap_task *t, char *err, size_t errcap) {
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
    int rc = sl__image_write_file(t->be[i], t->snap[i], path);
    if (rc) {
      sl__fmt(err, errcap, "%s", t->be[i]->err);
      return rc;
    }
    struct stat st;
    if (!stat(path, &st)) ci->bytes += (uint64_t)st.st_size;
    ci->flags |= (uint8_t)(1 << i);
  }
  if (t->native) {
    sl__ckpt_file(path, sizeof path, chk, op, s, "rocksdb");
    ci->flags |= SL__F_NATIVE;
    ci->bytes += dir_bytes(path);
  }
  static const char MAGIC[8] = {'S', 'L', 'O', 'P', 'M', 'E', 'T', 'A'}; /* OPMETA */
  sl__ckpt_file(path, sizeof path, chk, op, s, "meta");
  int rc = sl__frame_write(path, MAGIC, t->meta, t->meta_len, err, errcap);
  if (rc) return rc;
  ci->flags |= SL__F_META;
  ci->bytes += t->meta_len + 20;
  return 0;
}

static void completed(sl__ckpt *ck, int64_t id) {
  ck->completed++;
  sl__ckpt_retain(ck->dir, (int)SL__CONF_I(ck->job->conf, CKPT_RETAINED));
  atomic_store(&ck->done_ms, sl__clock_ms());
  atomic_store_explicit(&ck->last_complete, id, memory_order_release);
  atomic_store(&ck->inflight, 0);
  sl__job_wake_all(ck->job); /* sinks commit at their worker's next step */
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
    int rc = write_task(ck, t, err, sizeof err);
    int64_t id = t->id;
    sl__inst *inst = t->inst;
    /* from here on the owner may release and free t */
    atomic_store_explicit(&t->written, 1, memory_order_release);
    if (rc) {
      sl__fail(inst, rc, "checkpoint %lld: %s", (long long)id, err);
      continue;
    }
    if (atomic_fetch_sub(&ck->acks, 1) == 1) { /* the last instance */
      if (sl__ckpt_meta_write(ck->cur, &ck->meta, err, sizeof err) || sl__fsync_dir(ck->dir)) {
        if (ck->reply[0]) reply(ck->reply, "error %s", err);
        sl__fail(inst, -SL_EIO, "checkpoint %lld: %s", (long long)id, err);
        continue;
      }
      if (ck->reply[0]) { /* a savepoint: no retention, and sinks do not commit it */
        reply(ck->reply, "ok %s", ck->cur);
        fprintf(stderr, "sluice: savepoint %lld written to '%s'\n", (long long)id, ck->cur);
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
  for (int w = 0; w < job->P; w++)
    for (int i = 0; i < job->n_ops; i++) {
      sl__inst *inst = &job->workers[w].insts[i];
      int nc = inst->n_inputs ? inst->n_inputs : 1;
      inst->ch_barrier = sl__calloc((size_t)nc, 1);
      inst->hold = sl__calloc((size_t)nc, sizeof *inst->hold);
      if (!inst->ch_barrier || !inst->hold) return -SL_ENOMEM;
    }
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
  if (!ck->dir || !ck->meta.op_kind || !ck->meta.op_name || !ck->meta.inst) {
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
    if (inst->snap && (a->rc = write_task(a->ck, inst->snap, err, sizeof err)))
      a->rc = sl__fail(inst, a->rc, "checkpoint %lld: %s", (long long)inst->snap->id, err);
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
  int rc = begin(ck, id, sl__clock_ms(), NULL);
  char err[1024] = "";
  for (int w = 0; !rc && w < job->P; w++)
    for (int i = 0; !rc && i < job->n_ops; i++) {
      sl__snap_task *t;
      rc = take(&job->workers[w].insts[i], id, &t);
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
      if (inst->snap) atomic_store(&inst->snap->written, 1);
      release(inst);
    }
  atomic_store(&ck->trigger, id);
  if (rc) return rc;
  if (sl__ckpt_meta_write(ck->cur, &ck->meta, err, sizeof err) || sl__fsync_dir(ck->dir))
    return sl__fail(&job->workers[0].insts[0], -SL_EIO, "checkpoint %lld: %s", (long long)id, err);
  if (ck->dur && ck->n_dur < SAMPLES) ck->dur[ck->n_dur++] = sl__now_ns() - ck->trigger_ns;
  completed(ck, id);
  for (int w = 0; w < job->P; w++)
    for (int i = 0; i < job->n_ops; i++) {
      sl__inst *inst = &job->workers[w].insts[i];
      if (inst->op->kind != SL__OP_SINK || !inst->impl || !inst->op->sink->vt->commit_ckpt) continue;
      inst->committed_id = id;
      if ((rc = inst->op->sink->vt->commit_ckpt(inst->impl, inst, id))) return rc;
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
        if (inst->snap) {
          atomic_store(&inst->snap->written, 1);
          release(inst);
        }
      }
    if (ok && !atomic_load(&job->failed)) rc = final_checkpoint(ck);
  }
  for (int w = 0; job->workers && w < job->P; w++)
    for (int i = 0; i < job->n_ops; i++) {
      sl__inst *inst = &job->workers[w].insts[i];
      if (inst->hold)
        for (int c = 0; c < (inst->n_inputs ? inst->n_inputs : 1); c++) sl__batch_free(inst->hold[c]);
      sl__free(inst->hold);
      sl__free(inst->ch_barrier);
      inst->hold = NULL;
      inst->ch_barrier = NULL;
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
  sl__ckpt_meta_free(&ck->meta);
  sl__free(ck->dir);
  sl__free(ck);
  job->ckpt = NULL;
  return rc;
}

/* ---- restore ------------------------------------------------------------------------ */

static const char OPMETA_MAGIC[8] = {'S', 'L', 'O', 'P', 'M', 'E', 'T', 'A'};

typedef struct old_meta {
  uint8_t **blob; /* per old subtask: the operator's bytes (after the wm) */
  size_t *len;
  int64_t *wm;
  int n;
} old_meta;

static void old_meta_free(old_meta *o) {
  for (int i = 0; i < o->n; i++) sl__free(o->blob ? o->blob[i] : NULL);
  sl__free(o->blob);
  sl__free(o->len);
  sl__free(o->wm);
}

/* the .meta files of op from every old subtask (raw frames are kept in
 * blob[i] with the 8-byte watermark in front; blob[i] + 8 is the payload) */
static int load_old_meta(const char *chk, const sl__ckpt_meta *m, int op, old_meta *o,
                         char *err, size_t errcap) {
  o->n = m->P;
  o->blob = sl__calloc((size_t)m->P, sizeof *o->blob);
  o->len = sl__calloc((size_t)m->P, sizeof *o->len);
  o->wm = sl__calloc((size_t)m->P, sizeof *o->wm);
  if (!o->blob || !o->len || !o->wm) return -SL_ENOMEM;
  for (int s = 0; s < m->P; s++) {
    o->wm[s] = SL_WATERMARK_MIN;
    if (!(m->inst[op * m->P + s].flags & SL__F_META)) continue;
    char path[4200];
    sl__ckpt_file(path, sizeof path, chk, op, s, "meta");
    int rc = sl__frame_read(path, OPMETA_MAGIC, &o->blob[s], &o->len[s], err, errcap);
    if (rc) return rc;
    if (o->len[s] >= 8) memcpy(&o->wm[s], o->blob[s], 8);
  }
  return 0;
}

static int restore_inst(sl__job *job, const char *chk, const sl__ckpt_meta *m, sl__inst *inst,
                        const old_meta *om, char *err, size_t errcap) {
  int op = inst->op->id, P_old = m->P, rc = 0;
  char path[4200];
  /* keyed state: every old subtask's image; each keeps our key groups */
  for (int s = 0; !rc && inst->ks && s < P_old; s++) {
    if (!(m->inst[op * P_old + s].flags & SL__F_KEYED)) continue;
    sl__backend *be = sl__kstate_backend(inst->ks);
    int lo, hi; /* old subtask s held these key groups: skip it if none is ours */
    sl__key_group_range(m->max_parallelism, P_old, s, &lo, &hi);
    if (hi < be->kg_lo || lo > be->kg_hi) continue;
    sl__ckpt_file(path, sizeof path, chk, op, s, "keyed");
    if ((rc = sl__image_read_file(be, path))) sl__fmt(err, errcap, "%s", be->err);
  }
  for (int s = 0; !rc && inst->ks && s < P_old; s++) {
    if (!(m->inst[op * P_old + s].flags & SL__F_NATIVE)) continue;
    sl__backend *be = sl__kstate_backend(inst->ks);
    int lo, hi;
    sl__key_group_range(m->max_parallelism, P_old, s, &lo, &hi);
    if (hi < be->kg_lo || lo > be->kg_hi) continue;
    sl__ckpt_file(path, sizeof path, chk, op, s, "rocksdb");
    /* the same key groups into an empty RocksDB backend: take its files;
     * else copy our key groups out of it */
    rc = sl__rocksdb_adopt(be, job->conf, path);
    if (rc == 1) rc = sl__rocksdb_checkpoint_restore(be, job->conf, path);
    if (rc) sl__fmt(err, errcap, "%s", be->err);
  }
  /* operator state: redistributed (paths of every old subtask's image) */
  char **paths = rc ? NULL : sl__calloc((size_t)P_old, sizeof *paths);
  int n = 0;
  if (!rc && !paths) rc = -SL_ENOMEM;
  for (int s = 0; !rc && s < P_old; s++)
    if (m->inst[op * P_old + s].flags & SL__F_OPSTATE) {
      sl__ckpt_file(path, sizeof path, chk, op, s, "opstate");
      if (!(paths[n++] = sl__strdup(path))) rc = -SL_ENOMEM;
    }
  if (!rc && n) {
    struct sl__kstate *os;
    if (!(rc = sl__ctx_ostate(&inst->ctx, &os)))
      rc = sl__opstate_restore(sl__kstate_backend(os), (const char *const *)paths, n, job->P,
                               inst->ctx.subtask, err, errcap);
  }
  for (int i = 0; paths && i < n; i++) sl__free(paths[i]);
  sl__free(paths);
  /* broadcast state: the same everywhere, take subtask 0's */
  if (!rc && inst->bs && (m->inst[op * P_old].flags & SL__F_BSTATE)) {
    sl__backend *be = sl__kstate_backend(inst->bs);
    sl__ckpt_file(path, sizeof path, chk, op, 0, "bstate");
    if ((rc = sl__image_read_file(be, path))) sl__fmt(err, errcap, "%s", be->err);
  }
  if (rc) return rc;
  /* watermark: this subtask's own at the same parallelism, else the
   * smallest (never ahead of what every old subtask had seen) */
  int64_t wm = SL_WATERMARK_MAX;
  if (P_old == job->P)
    wm = om->wm[inst->ctx.subtask];
  else
    for (int s = 0; s < P_old; s++) wm = SL__MIN(wm, om->wm[s]);
  if (wm != SL_WATERMARK_MAX && wm > inst->wm) {
    inst->wm = wm;
    for (int c = 0; c < inst->n_inputs; c++) inst->wm_in[c] = wm;
  }
  /* the operator's own bytes, in old subtask order */
  const uint8_t **blobs = sl__calloc((size_t)P_old, sizeof *blobs);
  size_t *lens = sl__calloc((size_t)P_old, sizeof *lens);
  int nb = P_old;
  if (!blobs || !lens) {
    sl__free(blobs);
    sl__free(lens);
    return -SL_ENOMEM;
  }
  for (int s = 0; s < P_old; s++) {
    blobs[s] = om->blob[s] ? om->blob[s] + 8 : (const uint8_t *)"";
    lens[s] = om->len[s] >= 8 ? om->len[s] - 8 : 0;
  }
  if (inst->op->kind == SL__OP_SOURCE) {
    const sl__source_vt *vt = inst->op->source->vt;
    if (inst->impl && vt->seek) {
      rc = vt->seek(inst->impl, blobs, lens, nb);
      if (rc)
        sl__fmt(err, errcap,
                "operator '%s': cannot resume the source from this checkpoint (%s: was it "
                "taken with other input files, split size or source mode?)",
                inst->op->name, sl_strerror(rc));
    } else if (inst->impl && inst->ctx.subtask == 0) {
      fprintf(stderr, "sluice: source '%s' cannot resume from a checkpoint; it starts from "
                      "the beginning (at-least-once for its records)\n", inst->op->name);
    }
  } else if (inst->vt->load) {
    rc = inst->vt->load(inst, blobs, lens, nb);
  }
  sl__free(blobs);
  sl__free(lens);
  if (!rc && inst->timers) rc = sl__timers_restore(inst->timers);
  return rc;
}

/* Restores operator op's instances, one thread per subtask (each fills
 * its own backend from the images). */
typedef struct restore_arg {
  sl__job *job;
  const char *chk;
  const sl__ckpt_meta *m;
  sl__inst *inst;
  const old_meta *om;
  int rc, threaded;
  char err[1024];
} restore_arg;

static void *restore_main(void *p) {
  restore_arg *a = p;
  a->rc = restore_inst(a->job, a->chk, a->m, a->inst, a->om, a->err, sizeof a->err);
  return NULL;
}

static int restore_op(sl__job *job, const char *chk, const sl__ckpt_meta *m, int op,
                      const old_meta *om, char *err, size_t errcap) {
  restore_arg *a = sl__calloc((size_t)job->P, sizeof *a);
  pthread_t *t = sl__calloc((size_t)job->P, sizeof *t);
  int rc = a && t ? 0 : -SL_ENOMEM;
  int started = 0;
  for (int w = 0; !rc && w < job->P; w++, started++) {
    a[w] = (restore_arg){job, chk, m, &job->workers[w].insts[op], om, 0, 0, ""};
    a[w].threaded = job->P > 1 && !pthread_create(&t[w], NULL, restore_main, &a[w]);
    if (!a[w].threaded) restore_main(&a[w]); /* one subtask, or no thread: here */
  }
  for (int w = 0; w < started; w++) {
    if (a[w].threaded) pthread_join(t[w], NULL);
    if (a[w].rc && !rc) {
      rc = a[w].rc;
      sl__fmt(err, errcap, "%s", a[w].err);
    }
  }
  sl__free(a);
  sl__free(t);
  return rc;
}

/* A two-phase-commit sink re-commits what the checkpoint chk pre-committed
 * (om: every old subtask's bytes; NULL: no checkpoint) and aborts the
 * rest.  Errors go to out. */
static int recover_sink(sl__op *op, const char *chk, const old_meta *om, char *out,
                        size_t outcap) {
  if (op->kind != SL__OP_SINK || !op->sink->vt->recover) return 0;
  int n = om ? om->n : 0, rc = 0;
  const uint8_t **blobs = sl__calloc((size_t)n + 1, sizeof *blobs);
  size_t *lens = sl__calloc((size_t)n + 1, sizeof *lens);
  char **names = sl__calloc((size_t)n + 1, sizeof *names);
  char err[1024] = "", path[4200];
  if (!blobs || !lens || !names) rc = -SL_ENOMEM;
  for (int s = 0; !rc && s < n; s++) {
    blobs[s] = om->len[s] > 8 ? om->blob[s] + 8 : (const uint8_t *)"";
    lens[s] = om->len[s] > 8 ? om->len[s] - 8 : 0;
    sl__ckpt_file(path, sizeof path, chk, op->id, s, "meta");
    if (!(names[s] = sl__strdup(path))) rc = -SL_ENOMEM;
  }
  if (!rc)
    rc = op->sink->vt->recover(op->sink, blobs, lens, n, n ? (const char *const *)names : NULL,
                               err, sizeof err);
  if (rc)
    sl__fmt(out, outcap, "operator '%s': cannot recover the sink: %s", op->name,
            err[0] ? err : sl_strerror(rc));
  for (int s = 0; names && s < n; s++) sl__free(names[s]);
  sl__free(names);
  sl__free(blobs);
  sl__free(lens);
  return rc;
}

static int restore(sl__job *job);

int sl__ckpt_restore(sl__job *job) {
  int64_t t0 = sl__now_ns();
  int rc = restore(job);
  job->restore_ms = (double)(sl__now_ns() - t0) / 1e6;
  return rc;
}

static int restore(sl__job *job) {
  const char *want = SL__CONF_S(job->conf, CKPT_RESTORE);
  if (!want || !*want) return 0;
  char chk[4096], err[1024] = "";
  sl__ckpt_meta m;
  int rc;
  if (!strcmp(want, "latest")) {
    const char *dir = SL__CONF_S(job->conf, CKPT_DIR);
    if (!dir || !*dir) {
      sl__fmt(job->err, sizeof job->err,
              "execution.checkpointing.restore=latest needs state.checkpoints.dir");
      return -SL_ECONFIG;
    }
    rc = sl__ckpt_latest(dir, chk, sizeof chk, &m, err, sizeof err);
    if (rc == -SL_ENOENT) {
      fprintf(stderr, "sluice: no complete checkpoint in '%s'; starting from the beginning\n", dir);
      rc = 0;
      for (int i = 0; !rc && i < job->n_ops; i++)
        rc = recover_sink(job->ops[i], NULL, NULL, job->err, sizeof job->err);
      return rc;
    }
  } else {
    sl__fmt(chk, sizeof chk, "%s", want);
    rc = sl__ckpt_verify(chk, &m, err, sizeof err);
  }
  if (rc) {
    sl__fmt(job->err, sizeof job->err, "cannot restore from checkpoint '%s': %s", chk, err);
    return rc;
  }
  if (m.n_ops != job->n_ops || m.max_parallelism != job->max_parallelism) {
    sl__fmt(job->err, sizeof job->err,
            "checkpoint '%s' was taken by another job (%d operators, max parallelism %d; this "
            "job has %d and %d)",
            chk, m.n_ops, m.max_parallelism, job->n_ops, job->max_parallelism);
    sl__ckpt_meta_free(&m);
    return -SL_ESTATE;
  }
  for (int i = 0; i < job->n_ops; i++)
    if (m.op_kind[i] != (uint8_t)job->ops[i]->kind) {
      sl__fmt(job->err, sizeof job->err,
              "checkpoint '%s': operator %d is '%s' there but '%s' here (another job graph)", chk,
              i, m.op_name[i], job->ops[i]->name);
      sl__ckpt_meta_free(&m);
      return -SL_ESTATE;
    }
  for (int i = 0; !rc && i < job->n_ops; i++) {
    old_meta om = {0};
    rc = load_old_meta(chk, &m, i, &om, err, sizeof err);
    if (!rc) rc = restore_op(job, chk, &m, i, &om, err, sizeof err);
    if (!rc) rc = recover_sink(job->ops[i], chk, &om, err, sizeof err);
    old_meta_free(&om);
  }
  if (rc)
    sl__fmt(job->err, sizeof job->err, "cannot restore from checkpoint '%s': %s", chk,
            err[0] ? err : sl_strerror(rc));
  else
    fprintf(stderr, "sluice: restored checkpoint %lld from '%s' (parallelism %d -> %d)\n",
            (long long)m.id, chk, m.P, job->P);
  sl__ckpt_meta_free(&m);
  return rc;
}

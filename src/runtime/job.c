/*
 * job.c -- turns the logical graph into the physical plan, runs the workers
 * and collects the outcome.
 *
 * Plan: for every op, one instance per worker; for every input edge of an
 * op, either a forward link (producer instance -> consumer instance on the
 * same worker, counted as 1 input) or an exchange with P x P channels
 * (counted as P inputs at each consumer instance).  Each worker's input
 * channels are ordered by the consumer op's rank so draining "ranks above
 * r" is a suffix walk.
 *
 * Failure: the first sl__fail() (an instance's failure, naming operator
 * and subtask) or sl__job_fail() (the job's as a whole, e.g. the checkpoint
 * coordinator's, naming the job) stores the message and sets `failed`; every
 * worker leaves its loop at its next check; sinks are closed with ok = 0 and
 * not committed.  A stop (sl_cancel, sl_stop, signals) only makes sources
 * end, so what was read is processed and flushed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <stdio.h>
#include <unistd.h>

#include "runtime/source_sink.h"
#include "runtime/runtime.h"


static const char *inst_name(const sl__inst *inst) { return inst->op->name; }

/* The first failure wins: its message (prefixed with `where`) and code. */
static int record_failure(sl__job *job, int rc, const char *where, const char *msg) {
  pthread_mutex_lock(&job->mu);
  if (!atomic_load(&job->failed)) {
    sl__fmt(job->err, sizeof job->err, "%s: %s", where, msg);
    job->err_rc = rc < 0 ? rc : -SL_EINTERNAL;
    atomic_store(&job->failed, 1);
  }
  pthread_mutex_unlock(&job->mu);
  sl__job_wake_all(job); /* every worker leaves its loop now */
  return rc < 0 ? rc : -SL_EINTERNAL;
}

int sl__fail(sl__inst *inst, int rc, const char *fmt, ...) {
  char msg[1536], where[320];
  va_list ap;
  va_start(ap, fmt);
  sl__vfmt(msg, sizeof msg, fmt, ap);
  va_end(ap);
  sl__fmt(where, sizeof where, "operator '%s' (subtask %d/%d)", inst_name(inst),
          inst->ctx.subtask + 1, inst->job->P);
  return record_failure(inst->job, rc, where, msg);
}

void sl__job_error_copy(sl__job *job, char *buf, size_t cap) {
  pthread_mutex_lock(&job->mu);
  sl__fmt(buf, cap, "%s", job->err);
  pthread_mutex_unlock(&job->mu);
}

int sl__conn_fail(sl__inst *inst, int rc) {
  if (!sl__failed(inst->job))
    sl__fail(inst, rc, "%s", inst->ctx.msg[0] ? inst->ctx.msg : sl_strerror(rc));
  inst->ctx.msg[0] = 0;
  return rc;
}

int sl__job_fail(sl__job *job, int rc, const char *fmt, ...) {
  char msg[1536];
  va_list ap;
  va_start(ap, fmt);
  sl__vfmt(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return record_failure(job, rc, job->log_scope, msg);
}

/* 0 or -errno.  Escape bytes losslessly into one line: printable ASCII as is, the rest
 * (and '\\') as \xNN.  Written in chunks so long records need no big buffer. */
static int write_escaped(int fd, const unsigned char *p, size_t n) {
  char buf[4096];
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = p[i];
    if (o + 4 > sizeof buf) {
      int rc = sl__write_all(fd, buf, o);
      if (rc) return rc;
      o = 0;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      buf[o++] = (char)c;
    } else {
      static const char hex[] = "0123456789abcdef";
      buf[o++] = '\\';
      buf[o++] = 'x';
      buf[o++] = hex[c >> 4];
      buf[o++] = hex[c & 15];
    }
  }
  return o ? sl__write_all(fd, buf, o) : 0;
}

int sl__bad_record(sl__inst *inst, const char *where, const char *reason,
                   const void *rec, size_t len) {
  sl__job *job = inst->job;
  const char *path = SL__CONF_S(job->conf, DEAD_LETTER_PATH);
  if (!path || !*path) {
    char prev[96];
    return sl__fail(inst, -SL_EBADREC,
                    "bad record at %s: %s; record %s (set pipeline.dead-letter.path "
                    "to divert bad records instead of failing)",
                    where, reason, sl__preview(prev, sizeof prev, rec, len, 64));
  }
  int rc = 0;
  pthread_mutex_lock(&job->mu);
  if (job->dl_fd < 0)
    job->dl_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (job->dl_fd < 0) {
    rc = -errno;
  } else {
    /* operator<TAB>subtask<TAB>where<TAB>reason<TAB>escaped record */
    char sub[16];
    sl__fmt(sub, sizeof sub, "\t%d\t", inst->ctx.subtask);
    const char *name = inst_name(inst);
    rc = sl__write_all(job->dl_fd, name, strlen(name));
    if (!rc) rc = sl__write_all(job->dl_fd, sub, strlen(sub));
    if (!rc) rc = sl__write_all(job->dl_fd, where, strlen(where));
    if (!rc) rc = sl__write_all(job->dl_fd, "\t", 1);
    if (!rc) rc = sl__write_all(job->dl_fd, reason, strlen(reason));
    if (!rc) rc = sl__write_all(job->dl_fd, "\t", 1);
    if (!rc) rc = write_escaped(job->dl_fd, rec, len);
    if (!rc) rc = sl__write_all(job->dl_fd, "\n", 1);
  }
  pthread_mutex_unlock(&job->mu);
  if (rc)
    return sl__fail(inst, -SL_EIO, "cannot write dead-letter file '%s': %s",
                    path, strerror(-rc));
  atomic_fetch_add(&job->dead_letters, 1);
  return 0;
}

/* ---- plan --------------------------------------------------------------- */

static int add_chan_ptr(sl__chan ***arr, int *n, sl__chan *ch) {
  sl__chan **a = sl__realloc(*arr, (size_t)(*n + 1) * sizeof *a);
  if (!a) return -SL_ENOMEM;
  a[(*n)++] = ch;
  *arr = a;
  return 0;
}

static int plan(sl__job *job) {
  int P = job->P, n = job->n_ops;
  job->workers = sl__calloc_private((size_t)P * sizeof *job->workers);
  if (!job->workers) return -SL_ENOMEM;
  for (int w = 0; w < P; w++) job->workers[w].efd = -1;
  int n_x = 0;
  for (int i = 0; i < n; i++)
    for (int e = 0; e < job->ops[i]->n_in; e++)
      if (job->ops[i]->in[e].part != SL__PART_FORWARD) n_x++;
  job->xs = sl__calloc((size_t)(n_x ? n_x : 1), sizeof *job->xs);
  if (!job->xs) return -SL_ENOMEM;

  for (int w = 0; w < P; w++) {
    sl__worker *wk = &job->workers[w];
    wk->index = w;
    wk->job = job;
    wk->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wk->efd < 0) {
      sl__fmt(job->err, sizeof job->err,
              "cannot create worker %d's wake-up descriptor (eventfd): %s; raise the "
              "open-files limit (ulimit -n) or lower parallelism.default", w, strerror(errno));
      return -SL_EIO;
    }
    wk->insts = sl__calloc_private((size_t)n * sizeof *wk->insts);
    if (!wk->insts) return -SL_ENOMEM;
    wk->n_live = n;
    for (int i = 0; i < n; i++) {
      sl__inst *inst = &wk->insts[i];
      sl__op *op = job->ops[i];
      inst->op = op;
      inst->vt = op->vt;
      inst->w = wk;
      inst->job = job;
      inst->ctx = (struct sl_ctx){.inst = inst, .subtask = w, .parallelism = P,
                                  .name = op->name, .conf = job->conf,
                                  .log_scope = job->log_scope};
      inst->coll.inst = inst;
    }
  }

  /* Outputs: count per producer op, then fill.  Input channels of an op
   * are numbered edge by edge: a forward edge is one channel, an exchange
   * P (one per producer subtask).  At P = 1 every edge but a hash edge is
   * a forward edge: producer and consumer share the one worker, so
   * records go by direct call instead of being copied through a channel
   * to the same thread; a hash edge keeps its (1 x 1) channel, so keyed
   * operators get batches with key hashes (runtime.h). */
  for (int i = 0; i < n; i++) {
    sl__op *op = job->ops[i];
    if (job->workers[0].insts[i].vt->tick) job->has_ticks = 1;
    int chan_base = 0;
    for (int e = 0; e < op->n_in; e++) {
      sl__edge *edge = &op->in[e];
      int from = edge->from->id;
      sl__exchange *x = NULL;
      int batched = edge->part == SL__PART_HASH && op->vt->process_batch;
      if (edge->part == SL__PART_HASH || (edge->part != SL__PART_FORWARD && P > 1)) {
        x = &job->xs[job->n_xs++];
        x->part = edge->part;
        x->from = edge->from;
        x->to = op;
        x->ch = sl__calloc_private((size_t)P * P * sizeof *x->ch);
        if (!x->ch) return -SL_ENOMEM;
        int limit = (int)SL__CONF_I(job->conf, CHANNEL_CAPACITY);
        for (int p = 0; p < P; p++)
          for (int c = 0; c < P; c++) {
            sl__chan *ch = &x->ch[p * P + c];
            ch->limit = limit;
            ch->target = &job->workers[c].insts[i];
            ch->port = e;
            ch->chan = chan_base + p;
            ch->consumer = &job->workers[c];
            ch->producer = &job->workers[p];
            ch->src = &job->workers[p].insts[x->from->id];
            if (sl__ring_init(&ch->full, (uint32_t)limit) ||
                sl__ring_init(&ch->free, (uint32_t)limit))
              return -SL_ENOMEM;
            if (add_chan_ptr(&job->workers[p].out, &job->workers[p].n_out, ch) ||
                add_chan_ptr(&job->workers[c].in, &job->workers[c].n_in, ch) ||
                (p == c && batched &&
                 add_chan_ptr(&job->workers[p].self, &job->workers[p].n_self, ch)))
              return -SL_ENOMEM;
          }
      }
      for (int w = 0; w < P; w++) {
        sl__inst *src = &job->workers[w].insts[from];
        sl__inst *dst = &job->workers[w].insts[i];
        sl__out *outs = sl__realloc(src->outs, (size_t)(src->n_outs + 1) * sizeof *outs);
        if (!outs) return -SL_ENOMEM;
        src->outs = outs;
        outs[src->n_outs++] = (sl__out){.part = edge->part,
                                        .target = x ? NULL : dst,
                                        .port = e,
                                        .chan = chan_base,
                                        .tag = edge->tag,
                                        .x = x,
                                        .rr = (uint32_t)w,
                                        .self = x ? dst : NULL,
                                        .self_chan = chan_base + w,
                                        .batched = batched,
                                        .direct = x && P == 1};
        dst->n_inputs += x ? P : 1;
      }
      chan_base += x ? P : 1;
    }
  }
  /* The single untagged forward or hash output, called without the loop. */
  for (int w = 0; w < P; w++)
    for (int i = 0; i < n; i++) {
      sl__inst *inst = &job->workers[w].insts[i];
      if (inst->n_outs == 1 && inst->outs[0].target && !inst->outs[0].tag) {
        inst->fwd = inst->outs[0].target;
        inst->fwd_port = inst->outs[0].port;
        inst->fwd_chan = inst->outs[0].chan;
      }
      if (inst->n_outs == 1 && inst->outs[0].part == SL__PART_HASH && !inst->outs[0].tag)
        inst->hout = &inst->outs[0];
    }
  /* Event time: per-channel watermarks start at the minimum. */
  for (int w = 0; w < P; w++)
    for (int i = 0; i < n; i++) {
      sl__inst *inst = &job->workers[w].insts[i];
      int nc = inst->n_inputs ? inst->n_inputs : 1;
      inst->wm_in = sl__malloc((size_t)nc * sizeof *inst->wm_in);
      inst->chan_port = sl__calloc((size_t)nc, sizeof *inst->chan_port);
      if (!inst->chan_port) return -SL_ENOMEM;
      for (int e = 0, c = 0; e < inst->op->n_in; e++) /* channels, edge by edge */
        for (int k = 0; k < (inst->op->in[e].part == SL__PART_FORWARD ? 1 : P); k++)
          inst->chan_port[c++] = e;
      inst->in_idle = sl__calloc((size_t)nc, 1);
      inst->in_ended = sl__calloc((size_t)nc, 1);
      if (!inst->wm_in || !inst->in_idle || !inst->in_ended || sl__gate_init(inst))
        return -SL_ENOMEM;
      for (int c = 0; c < nc; c++) inst->wm_in[c] = SL_WATERMARK_MIN;
      inst->wm = SL_WATERMARK_MIN;
      inst->m.wm_out = SL_WATERMARK_MIN;
    }
  /* Input channels are added in op order, i.e. already sorted by rank. */
  return 0;
}

static void unplan(sl__job *job) {
  if (job->workers) {
    for (int w = 0; w < job->P; w++) {
      sl__worker *wk = &job->workers[w];
      if (wk->insts)
        for (int i = 0; i < job->n_ops; i++) {
          sl__free(wk->insts[i].outs);
          sl__free(wk->insts[i].ctx.scratch);
          sl__arena_trim(&wk->insts[i].ctx); /* sl_ctx_scratch's blocks */
          if (wk->insts[i].ctx.arena) sl__free(wk->insts[i].ctx.arena - 16);
          sl__free(wk->insts[i].wm_in);
          sl__free(wk->insts[i].chan_port);
          sl__free(wk->insts[i].in_idle);
          sl__free(wk->insts[i].in_ended);
          sl__gate_free(&wk->insts[i]);
        }
      sl__free_private(wk->insts);
      sl__free(wk->in);
      sl__free(wk->out);
      sl__free(wk->self);
      if (wk->efd >= 0) close(wk->efd);
    }
  }
  for (int i = 0; i < job->n_xs; i++) {
    sl__exchange *x = &job->xs[i];
    if (!x->ch) continue;
    for (int k = 0; k < job->P * job->P; k++) {
      sl__chan *ch = &x->ch[k];
      sl__batch *b;
      if (ch->full.slots)
        while ((b = sl__ring_pop(&ch->full))) sl__batch_free(b);
      if (ch->free.slots)
        while ((b = sl__ring_pop(&ch->free))) sl__batch_free(b);
      sl__batch_free(ch->cur);
      sl__batch_free(ch->parked);
      sl__ring_destroy(&ch->full);
      sl__ring_destroy(&ch->free);
    }
    sl__free_private(x->ch);
  }
  sl__free(job->xs);
  sl__free_private(job->workers);
}

/* ---- signals -------------------------------------------------------------
 * One process-wide handler serves every job running in the process (two
 * threads may each run sl_execute): the first SIGINT/SIGTERM stops every
 * registered job without drain, a second one exits at once.  The handler
 * is installed when the first job registers and the previous disposition
 * is restored when the last one leaves (reference counted under a mutex;
 * the handler itself only reads the slot array). */

#define SL__SIG_SLOTS 64 /* jobs beyond this many ignore signals */
static _Atomic(_Atomic int *) g_sig_jobs[SL__SIG_SLOTS];
static pthread_mutex_t g_sig_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_sig_users;
static struct sigaction g_sig_old_int, g_sig_old_term;
static volatile sig_atomic_t g_sig_count;

static void on_signal(int sig) {
  if (g_sig_count++ > 0) _exit(128 + sig); /* second signal: leave now */
  for (int i = 0; i < SL__SIG_SLOTS; i++) {
    _Atomic int *cancel = atomic_load(&g_sig_jobs[i]);
    int run = SL__RUN;
    if (cancel) atomic_compare_exchange_strong(cancel, &run, SL__STOP_NODRAIN);
  }
}

/* The slot of cancel, or -1 when every slot is taken. */
static int sig_register(_Atomic int *cancel) {
  pthread_mutex_lock(&g_sig_mu);
  int slot = -1;
  for (int i = 0; i < SL__SIG_SLOTS && slot < 0; i++)
    if (!atomic_load(&g_sig_jobs[i])) slot = i;
  if (slot >= 0) {
    atomic_store(&g_sig_jobs[slot], cancel);
    if (g_sig_users++ == 0) {
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = on_signal;
      sigemptyset(&sa.sa_mask);
      g_sig_count = 0;
      sigaction(SIGINT, &sa, &g_sig_old_int);
      sigaction(SIGTERM, &sa, &g_sig_old_term);
    }
  }
  pthread_mutex_unlock(&g_sig_mu);
  return slot;
}

static void sig_unregister(int slot) {
  if (slot < 0) return;
  pthread_mutex_lock(&g_sig_mu);
  atomic_store(&g_sig_jobs[slot], NULL);
  if (--g_sig_users == 0) {
    sigaction(SIGINT, &g_sig_old_int, NULL);
    sigaction(SIGTERM, &g_sig_old_term, NULL);
  }
  pthread_mutex_unlock(&g_sig_mu);
}

/* ---- run ---------------------------------------------------------------- */

int sl__job_run(sl__job *job) {
  int rc = plan(job);
  if (rc) {
    if (!job->err[0])
      sl__fmt(job->err, sizeof job->err, "cannot build the physical plan: %s",
              sl_strerror(rc));
    job->err_rc = rc;
    atomic_store(&job->failed, 1);
    return rc;
  }
  atomic_store_explicit(&job->live, 1, memory_order_release); /* counters readable */

  /* Open every instance on the calling thread: errors surface before any
   * worker starts.  Non-parallel sources open on subtask 0 only. */
  int opened_w = 0, opened_i = 0;
  for (int w = 0; w < job->P && !rc; w++)
    for (int i = 0; i < job->n_ops && !rc; i++) {
      sl__inst *inst = &job->workers[w].insts[i];
      rc = inst->vt->open ? inst->vt->open(inst) : 0;
      opened_w = w;
      opened_i = i + 1;
      if (rc && !atomic_load(&job->failed))
        sl__fail(inst, rc, "cannot open: %s",
                 inst->ctx.msg[0] ? inst->ctx.msg : sl_strerror(rc));
      if (!rc && inst->op->user_open) { /* sl_rich */
        inst->ctx.msg[0] = 0;
        int urc = inst->op->user_open(inst->op->user_ud, &inst->ctx);
        if (urc < 0)
          rc = sl__fail(inst, urc, "open failed: %s",
                        inst->ctx.msg[0] ? inst->ctx.msg : sl_strerror(urc));
      }
      if (!rc) inst->ctx.user_opened = 1;
    }

  const sl__job_hooks *hk = job->hooks;
  if (!rc && hk && hk->start && (rc = hk->start(job)) && !atomic_load(&job->failed)) {
    job->err_rc = rc;
    if (!job->err[0])
      sl__fmt(job->err, sizeof job->err, "cannot start checkpointing: %s", sl_strerror(rc));
    atomic_store(&job->failed, 1);
  }
  if (!rc && hk && hk->restore && (rc = hk->restore(job)) && !atomic_load(&job->failed)) {
    job->err_rc = rc;
    if (!job->err[0])
      sl__fmt(job->err, sizeof job->err, "cannot restore the checkpoint: %s", sl_strerror(rc));
    atomic_store(&job->failed, 1);
  }

  int sig_slot = !rc && SL__CONF_I(job->conf, HANDLE_SIGNALS) ? sig_register(job->cancel) : -1;

  int started = 0;
  job->started = 1; /* before the threads: they see it */
  if (!rc) {
    sigset_t block, prev;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &prev); /* workers inherit the mask */
    for (; started < job->P; started++)
      if (pthread_create(&job->workers[started].thread, NULL, sl__worker_main,
                         &job->workers[started])) {
        sl__job_fail(job, -SL_ENOMEM, "cannot start worker thread %d", started);
        break;
      }
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    for (int w = 0; w < started; w++) pthread_join(job->workers[w].thread, NULL);
  }

  sig_unregister(sig_slot);

  /* finish queued snapshot writes, take the final checkpoint */
  if (hk && hk->stop) hk->stop(job, !atomic_load(&job->failed));
  int ok = !atomic_load(&job->failed);
  /* Close what was opened: all instances of workers before opened_w, and
   * the first opened_i of worker opened_w. */
  for (int w = 0; w <= opened_w && w < job->P; w++)
    for (int i = 0; i < (w < opened_w ? job->n_ops : opened_i); i++) {
      sl__inst *inst = &job->workers[w].insts[i];
      if (inst->ctx.user_opened && inst->op->user_close)
        inst->op->user_close(inst->op->user_ud, &inst->ctx);
      if (inst->vt->close) inst->vt->close(inst, ok);
    }
  /* Commit sinks once (e.g. single-file rename) after all writers closed. */
  for (int i = 0; i < job->n_ops; i++) {
    sl__op *op = job->ops[i];
    if (op->kind != SL__OP_SINK || !op->sink->ops->commit) continue;
    sl_ctx ctx;
    sl__ctx_main(&ctx, job->conf, job->log_scope, op->name, job->P);
    int crc = op->sink->ops->commit(op->sink->ud, &ctx, ok);
    if (crc && ok) {
      sl__fail(&job->workers[0].insts[i], crc, "%s", ctx.msg[0] ? ctx.msg : sl_strerror(crc));
      ok = 0;
    }
  }
  rc = atomic_load(&job->failed) ? job->err_rc : 0;
  if (!rc && atomic_load(job->cancel)) rc = -SL_ECANCELED;
  return rc;
}

void sl__job_collect_stats(sl__job *job, sl_job_stats *st) {
  st->checkpoints = (uint64_t)job->env_ckpt_completed;
  st->align_p50_ms = job->ckpt_pct[0];
  st->align_p99_ms = job->ckpt_pct[1];
  st->checkpoint_p50_ms = job->ckpt_pct[2];
  st->checkpoint_p99_ms = job->ckpt_pct[3];
  st->restore_ms = job->restore_ms;
  sl__job_live_stats(job, st);
}

void sl__job_live_stats(sl__job *job, sl_job_stats *st) {
  st->parallelism = job->P;
  st->dead_letters = atomic_load(&job->dead_letters);
  if (!job->workers) return;
  for (int w = 0; w < job->P; w++)
    for (int i = 0; job->workers[w].insts && i < job->n_ops; i++) {
      sl__inst *inst = &job->workers[w].insts[i];
      if (inst->op->kind == SL__OP_SOURCE)
        st->records_in += atomic_load_explicit(&inst->m.p_out, memory_order_relaxed);
      if (inst->op->kind == SL__OP_SINK)
        st->records_out += atomic_load_explicit(&inst->m.p_in, memory_order_relaxed);
      st->late_records_dropped += atomic_load_explicit(&inst->n_late_dropped, memory_order_relaxed);
    }
}

void sl__job_release(sl__job *job) { unplan(job); }

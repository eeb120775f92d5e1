/*
 * metrics.c -- publishing an instance's counters for other threads, and
 * reading what was published (Flink's operator and task metrics).
 *
 * The owning worker counts in plain fields of sl__imetrics (runtime.h);
 * every SL__METRICS_PUBLISH_NS it stores them into the atomics (relaxed:
 * each value is read on its own, nothing orders them), and once a second
 * it computes per-second rates: records in and out, and the time its
 * worker spent idle (parked or yielding with nothing to do) and each
 * instance spent backpressured (waiting for an empty batch of an output
 * channel).  Busy is the rest of the second.  All operators of a worker
 * share its thread, so busy and idle time are the worker's (Flink's are
 * its task's, a chain of operators likewise); backpressure is the
 * instance's own.
 */
#include "runtime/runtime.h"

/* One state's figures into inst's published ones (a new name takes the
 * next free place). */
static void put_state(void *ud, const char *state, uint64_t entries, uint64_t bytes) {
  sl__imetrics *m = ud;
  int n = atomic_load_explicit(&m->n_states, memory_order_relaxed), k = 0;
  while (k < n && m->states[k].name != state && strcmp(m->states[k].name, state)) k++;
  if (k == n) {
    if (n == SL__STATE_METRICS) return;
    m->states[k].name = state;
  }
  atomic_store_explicit(&m->states[k].entries, entries, memory_order_relaxed);
  atomic_store_explicit(&m->states[k].bytes, bytes, memory_order_relaxed);
  if (k == n) atomic_store_explicit(&m->n_states, n + 1, memory_order_release);
}

void sl__metrics_publish(sl__worker *w, int64_t now_ns, int force) {
  sl__job *job = w->job;
  int sec = force || now_ns >= w->sec_next_ns;
  double dt = (double)(now_ns - w->last_sec_ns) / 1e9; /* seconds */
  int64_t bp_total = 0;
  for (int i = 0; i < job->n_ops; i++) {
    sl__inst *inst = &w->insts[i];
    sl__imetrics *m = &inst->m;
    atomic_store_explicit(&m->p_in, m->in, memory_order_relaxed);
    atomic_store_explicit(&m->p_out, m->out, memory_order_relaxed);
    atomic_store_explicit(&m->p_bytes_in, m->bytes_in, memory_order_relaxed);
    atomic_store_explicit(&m->p_bytes_out, m->bytes_out, memory_order_relaxed);
    atomic_store_explicit(&m->p_bp_ns, m->bp_ns, memory_order_relaxed);
    atomic_store_explicit(&m->p_wm_in, inst->wm, memory_order_relaxed);
    atomic_store_explicit(&m->p_wm_out, m->wm_out, memory_order_relaxed);
    bp_total += m->bp_ns;
    if (sec && dt > 0) {
      atomic_store_explicit(&m->p_in_rate, (double)(m->in - m->last_in) / dt, memory_order_relaxed);
      atomic_store_explicit(&m->p_out_rate, (double)(m->out - m->last_out) / dt,
                            memory_order_relaxed);
      atomic_store_explicit(&m->p_bytes_in_rate, (double)(m->bytes_in - m->last_bytes_in) / dt,
                            memory_order_relaxed);
      atomic_store_explicit(&m->p_bytes_out_rate, (double)(m->bytes_out - m->last_bytes_out) / dt,
                            memory_order_relaxed);
      atomic_store_explicit(&m->p_bp_ms, (double)(m->bp_ns - m->last_bp_ns) / 1e6 / dt,
                            memory_order_relaxed);
      m->last_in = m->in;
      m->last_out = m->out;
      m->last_bytes_in = m->bytes_in;
      m->last_bytes_out = m->bytes_out;
      m->last_bp_ns = m->bp_ns;
      if (job->hooks && job->hooks->state_stats) job->hooks->state_stats(inst, put_state, m);
    }
  }
  atomic_store_explicit(&w->p_idle_ns, w->idle_ns, memory_order_relaxed);
  atomic_store_explicit(&w->p_bp_ns, bp_total, memory_order_relaxed);
  atomic_store_explicit(&w->p_elapsed_ns, now_ns - w->start_ns, memory_order_relaxed);
  if (sec && dt > 0) {
    double idle = (double)(w->idle_ns - w->last_idle_ns) / 1e6 / dt;
    double bp = (double)(bp_total - w->last_bp_ns) / 1e6 / dt;
    idle = SL__MIN(idle, 1000.0);
    bp = SL__MIN(bp, 1000.0 - idle);
    atomic_store_explicit(&w->p_idle_ms, idle, memory_order_relaxed);
    atomic_store_explicit(&w->p_bp_ms, bp, memory_order_relaxed);
    atomic_store_explicit(&w->p_busy_ms, 1000.0 - idle - bp, memory_order_relaxed);
    w->last_idle_ns = w->idle_ns;
    w->last_bp_ns = bp_total;
    w->last_sec_ns = now_ns;
    w->sec_next_ns = now_ns + 1000000000LL;
  }
  w->pub_next_ns = now_ns + SL__METRICS_PUBLISH_NS;
}

void sl__inst_metrics_get(const sl__inst *inst, sl__inst_metrics *out) {
  const sl__imetrics *m = &inst->m;
  const sl__worker *w = inst->w;
#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)
  out->in = LD(m->p_in);
  out->out = LD(m->p_out);
  out->bytes_in = LD(m->p_bytes_in);
  out->bytes_out = LD(m->p_bytes_out);
  out->late_dropped = LD(inst->n_late_dropped);
  out->in_rate = LD(m->p_in_rate);
  out->out_rate = LD(m->p_out_rate);
  out->bytes_in_rate = LD(m->p_bytes_in_rate);
  out->bytes_out_rate = LD(m->p_bytes_out_rate);
  out->bp_ms = LD(m->p_bp_ms);
  out->busy_ms = LD(w->p_busy_ms);
  out->idle_ms = LD(w->p_idle_ms);
  int64_t elapsed = LD(w->p_elapsed_ns), idle = LD(w->p_idle_ns), bp = LD(w->p_bp_ns);
  out->acc_bp_ms = (double)LD(m->p_bp_ns) / 1e6;
  out->acc_idle_ms = (double)idle / 1e6;
  out->acc_busy_ms = elapsed > idle + bp ? (double)(elapsed - idle - bp) / 1e6 : 0;
  out->wm_in = LD(m->p_wm_in);
  out->wm_out = LD(m->p_wm_out);
  out->state = LD(m->p_state);
#undef LD
}

/* ---- checkpoint statistics ------------------------------------------------ */

/* The history record of checkpoint id (NULL when it fell out). */
static sl__ckpt_rec *ck_find(sl__ckpt_stats *cs, int64_t id) {
  for (int k = 1; k <= cs->n; k++) {
    sl__ckpt_rec *r = sl__ckstats_nth(cs, k);
    if (r->id == id) return r;
  }
  return NULL;
}

void sl__ckstats_begin(sl__job *job, int64_t id, int savepoint, const char *path, int n_subtasks) {
  sl__ckpt_stats *cs = job->cstats;
  if (!cs) return;
  pthread_mutex_lock(&cs->mu);
  sl__ckpt_rec *r = &cs->hist[cs->next];
  cs->next = (cs->next + 1) % SL__CKPT_HISTORY_MAX;
  if (cs->n < SL__CKPT_HISTORY_MAX) cs->n++;
  memset(r, 0, sizeof *r);
  r->id = id;
  r->status = SL__CK_IN_PROGRESS;
  r->savepoint = savepoint;
  r->trigger_ms = sl__clock_ms();
  r->n_subtasks = n_subtasks;
  sl__fmt(r->path, sizeof r->path, "%s", path);
  cs->total++;
  pthread_mutex_unlock(&cs->mu);
}

void sl__ckstats_ack(sl__job *job, int64_t id) {
  sl__ckpt_stats *cs = job->cstats;
  if (!cs) return;
  pthread_mutex_lock(&cs->mu);
  sl__ckpt_rec *r = ck_find(cs, id);
  if (r) {
    r->n_acked++;
    r->ack_ms = sl__clock_ms();
  }
  pthread_mutex_unlock(&cs->mu);
}

void sl__ckstats_done(sl__job *job, int64_t id, uint64_t size, int64_t align_ns) {
  sl__ckpt_stats *cs = job->cstats;
  if (!cs) return;
  pthread_mutex_lock(&cs->mu);
  sl__ckpt_rec *r = ck_find(cs, id);
  if (r && r->status == SL__CK_IN_PROGRESS) {
    r->status = SL__CK_COMPLETED;
    r->ack_ms = sl__clock_ms();
    r->size = size;
    r->align_ms = align_ns / 1000000;
    r->n_acked = r->n_subtasks;
    cs->completed++;
  }
  pthread_mutex_unlock(&cs->mu);
}

void sl__ckstats_fail(sl__job *job, int64_t id, const char *why) {
  sl__ckpt_stats *cs = job->cstats;
  if (!cs) return;
  pthread_mutex_lock(&cs->mu);
  sl__ckpt_rec *r = ck_find(cs, id);
  if (r && r->status == SL__CK_IN_PROGRESS) {
    r->status = SL__CK_FAILED;
    r->ack_ms = sl__clock_ms();
    sl__fmt(r->failure, sizeof r->failure, "%s", why);
    cs->failed++;
  }
  pthread_mutex_unlock(&cs->mu);
}

void sl__ckstats_restored(sl__job *job, int64_t id, const char *path, int savepoint) {
  sl__ckpt_stats *cs = job->cstats;
  if (!cs) return;
  pthread_mutex_lock(&cs->mu);
  cs->restored = 1;
  cs->restored_id = id;
  cs->restored_savepoint = savepoint;
  cs->restored_ms = sl__clock_ms();
  sl__fmt(cs->restored_path, sizeof cs->restored_path, "%s", path);
  pthread_mutex_unlock(&cs->mu);
}

/*
 * metrics.c -- the job's metrics as users see them: sl_metrics_foreach
 * (grouped by metric name, for Prometheus) and sl_job_id, read from what
 * the workers published (runtime/metrics.c) and the checkpoint statistics,
 * under the environment's live_mu so the plan outlives the walk.
 */
#include "api/graph.h"

const char *sl_job_id(const sl_env *env) { return env ? env->jid : ""; }

/* The newest completed checkpoint of cs (NULL: none); cs->mu held. */
const sl__ckpt_rec *sl__ckstats_latest(const sl__ckpt_stats *cs, int status, int savepoint) {
  for (int k = 1; k <= cs->n; k++) {
    const sl__ckpt_rec *r = sl__ckstats_nth(cs, k);
    if (r->status == status && (savepoint < 0 || r->savepoint == savepoint)) return r;
  }
  return NULL;
}

typedef struct walk {
  sl_env *env;
  sl__job *job;
  sl_metric_fn fn;
  void *ud;
  sl_metric m;
} walk;

static int emit(walk *w, const char *name, sl_metric_type type, double v) {
  w->m.name = name;
  w->m.type = type;
  w->m.value = v;
  return w->fn(w->ud, &w->m);
}

static int job_metrics(walk *w) {
  sl_env *env = w->env;
  w->m.scope = SL_METRIC_JOB;
  w->m.op = NULL;
  w->m.op_kind = NULL;
  w->m.subtask = -1;
  w->m.state = NULL;
  int64_t completed = 0, failed = 0, restore_ts = -1;
  double dur = 0, size = 0, align = 0;
  sl__ckpt_stats *cs = env->cstats;
  if (cs) {
    pthread_mutex_lock(&cs->mu);
    completed = cs->completed;
    failed = cs->failed;
    const sl__ckpt_rec *r = sl__ckstats_latest(cs, SL__CK_COMPLETED, -1);
    if (r) {
      dur = (double)(r->ack_ms - r->trigger_ms);
      size = (double)r->size;
      align = (double)r->align_ms;
    }
    if (cs->restored) restore_ts = cs->restored_ms;
    pthread_mutex_unlock(&cs->mu);
  }
  int rc;
  if ((rc = emit(w, "uptime", SL_METRIC_GAUGE, (double)(sl__clock_ms() - env->start_ms))) ||
      (rc = emit(w, "numRestarts", SL_METRIC_COUNTER, (double)env->restarts)) ||
      (rc = emit(w, "numberOfCompletedCheckpoints", SL_METRIC_COUNTER, (double)completed)) ||
      (rc = emit(w, "numberOfFailedCheckpoints", SL_METRIC_COUNTER, (double)failed)) ||
      (rc = emit(w, "lastCheckpointDuration", SL_METRIC_GAUGE, dur)) ||
      (rc = emit(w, "lastCheckpointSize", SL_METRIC_GAUGE, size)) ||
      (rc = emit(w, "lastCheckpointAlignmentDuration", SL_METRIC_GAUGE, align)) ||
      (rc = emit(w, "lastCheckpointRestoreTimestamp", SL_METRIC_GAUGE, (double)restore_ts)) ||
      (rc = emit(w, "numDeadLetters", SL_METRIC_COUNTER,
                 (double)atomic_load(&w->job->dead_letters))))
    return rc;
  return 0;
}

/* Operator metrics: one name at a time over every subtask. */
enum { M_IN, M_OUT, M_BIN, M_BOUT, M_INR, M_OUTR, M_BINR, M_BOUTR, M_BP, M_BUSY, M_IDLE, M_ABP, M_ABUSY, M_AIDLE,
       M_WMI, M_WMO, M_LATE, M_COUNT };
static const struct {
  const char *name;
  sl_metric_type type;
} op_names[M_COUNT] = {
    {"numRecordsIn", SL_METRIC_COUNTER},
    {"numRecordsOut", SL_METRIC_COUNTER},
    {"numBytesIn", SL_METRIC_COUNTER},
    {"numBytesOut", SL_METRIC_COUNTER},
    {"numRecordsInPerSecond", SL_METRIC_GAUGE},
    {"numRecordsOutPerSecond", SL_METRIC_GAUGE},
    {"numBytesInPerSecond", SL_METRIC_GAUGE},
    {"numBytesOutPerSecond", SL_METRIC_GAUGE},
    {"backPressuredTimeMsPerSecond", SL_METRIC_GAUGE},
    {"busyTimeMsPerSecond", SL_METRIC_GAUGE},
    {"idleTimeMsPerSecond", SL_METRIC_GAUGE},
    {"accumulatedBackPressuredTimeMs", SL_METRIC_COUNTER},
    {"accumulatedBusyTimeMs", SL_METRIC_COUNTER},
    {"accumulatedIdleTimeMs", SL_METRIC_COUNTER},
    {"currentInputWatermark", SL_METRIC_GAUGE},
    {"currentOutputWatermark", SL_METRIC_GAUGE},
    {"numLateRecordsDropped", SL_METRIC_COUNTER},
};

static double op_value(const sl__inst_metrics *m, int k) {
  switch (k) {
    case M_IN: return (double)m->in;
    case M_OUT: return (double)m->out;
    case M_BIN: return (double)m->bytes_in;
    case M_BOUT: return (double)m->bytes_out;
    case M_INR: return m->in_rate;
    case M_OUTR: return m->out_rate;
    case M_BINR: return m->bytes_in_rate;
    case M_BOUTR: return m->bytes_out_rate;
    case M_BP: return m->bp_ms;
    case M_BUSY: return m->busy_ms;
    case M_IDLE: return m->idle_ms;
    case M_ABP: return m->acc_bp_ms;
    case M_ABUSY: return m->acc_busy_ms;
    case M_AIDLE: return m->acc_idle_ms;
    case M_WMI: return (double)m->wm_in;
    case M_WMO: return (double)m->wm_out;
    default: return (double)m->late_dropped;
  }
}

static int op_metrics(walk *w) {
  sl__job *job = w->job;
  w->m.scope = SL_METRIC_OPERATOR;
  w->m.state = NULL;
  for (int k = 0; k < M_COUNT; k++)
    for (int i = 0; i < job->n_ops; i++)
      for (int s = 0; s < (job->ops[i]->nonparallel ? 1 : job->P); s++) {
        const sl__inst *inst = &job->workers[s].insts[i];
        sl__inst_metrics m;
        sl__inst_metrics_get(inst, &m);
        if (k == M_WMI && inst->op->kind == SL__OP_SOURCE) m.wm_in = SL_WATERMARK_MIN;
        w->m.op = inst->op->name;
        w->m.op_kind = sl__op_kind_name(inst->op->kind);
        w->m.subtask = s;
        int rc = emit(w, op_names[k].name, op_names[k].type, op_value(&m, k));
        if (rc) return rc;
      }
  return 0;
}

/* State metrics: entries, then bytes, of every state of every subtask. */
static int state_metrics(walk *w) {
  sl__job *job = w->job;
  w->m.scope = SL_METRIC_STATE;
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < job->n_ops; i++)
      for (int s = 0; s < (job->ops[i]->nonparallel ? 1 : job->P); s++) {
        const sl__imetrics *m = &job->workers[s].insts[i].m;
        int n = atomic_load_explicit(&m->n_states, memory_order_acquire);
        w->m.op = job->ops[i]->name;
        w->m.op_kind = sl__op_kind_name(job->ops[i]->kind);
        w->m.subtask = s;
        for (int t = 0; t < n; t++) {
          w->m.state = m->states[t].name;
          uint64_t v = atomic_load_explicit(k ? &m->states[t].bytes : &m->states[t].entries,
                                            memory_order_relaxed);
          int rc = emit(w, k ? "stateBytes" : "stateEntries", SL_METRIC_GAUGE, (double)v);
          if (rc) return rc;
        }
      }
  w->m.state = NULL;
  return 0;
}

/* Split metrics of the sources: records, then pending. */
static int split_metrics(walk *w) {
  sl__job *job = w->job;
  w->m.scope = SL_METRIC_SPLIT;
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < job->n_ops; i++)
      for (int s = 0; job->ops[i]->kind == SL__OP_SOURCE && s < job->P; s++) {
        const sl__imetrics *m = &job->workers[s].insts[i].m;
        int n = atomic_load_explicit(&m->n_splits, memory_order_acquire);
        w->m.op = job->ops[i]->name;
        w->m.op_kind = "source";
        w->m.subtask = s;
        for (int t = 0; t < n; t++) {
          w->m.split = (int64_t)m->splits[t].id;
          int rc = k ? emit(w, "splitPending", SL_METRIC_GAUGE,
                            (double)atomic_load_explicit(&m->splits[t].pending,
                                                         memory_order_relaxed))
                     : emit(w, "splitRecordsIn", SL_METRIC_COUNTER,
                            (double)atomic_load_explicit(&m->splits[t].records,
                                                         memory_order_relaxed));
          if (rc) return rc;
        }
      }
  w->m.split = -1;
  return 0;
}

int sl_metrics_foreach(const sl_env *env, sl_metric_fn fn, void *ud) {
  if (!env || !fn) return -SL_EINVAL;
  sl_env *e = (sl_env *)env; /* the mutex only */
  pthread_mutex_lock(&e->live_mu);
  sl__job *job = e->live_job;
  int rc = -SL_ENOENT;
  if (job && atomic_load_explicit(&job->live, memory_order_acquire)) {
    walk w = {.env = e, .job = job, .fn = fn, .ud = ud};
    w.m.job = e->job_name;
    w.m.job_id = e->jid;
    w.m.split = -1;
    rc = job_metrics(&w);
    if (!rc) rc = op_metrics(&w);
    if (!rc) rc = state_metrics(&w);
    if (!rc) rc = split_metrics(&w);
  }
  pthread_mutex_unlock(&e->live_mu);
  return rc;
}

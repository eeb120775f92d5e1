/*
 * rest_json.c -- the JSON bodies of the REST API's GET endpoints, in
 * Flink's shapes (docs/REST.md), built with cJSON from the environment,
 * the running plan's published metrics (sl__inst_metrics_get) and the
 * checkpoint statistics.  The caller holds env->live_mu.
 */
#include <math.h>
#include <stdio.h>

#include "rest/rest_int.h"

static const char *const state_names[] = {"CREATED",  "RUNNING",  "CANCELLING",
                                          "FINISHED", "CANCELED", "FAILED"};

const char *sl__rest_state(const sl_env *env) {
  if (env->state == SL__JOB_RUNNING && atomic_load(&((sl_env *)env)->cancel))
    return state_names[SL__JOB_CANCELLING];
  return state_names[env->state];
}

void sl__rest_vertex_id(const sl__op *op, char out[33]) {
  uint64_t a = sl__key_hash(op->name, strlen(op->name)) ^ ((uint64_t)op->id * 0x9E3779B97F4A7C15ull);
  uint64_t b = sl__key_hash(&a, sizeof a) ^ (uint64_t)op->kind;
  snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

/* The running job (NULL: none, or not planned yet / any more). */
static sl__job *live(sl_env *env) {
  sl__job *job = env->live_job;
  return job && atomic_load_explicit(&job->live, memory_order_acquire) ? job : NULL;
}

static int parallelism(sl_env *env) {
  sl__job *job = live(env);
  return job ? job->P : env->stats.parallelism;
}

/* Subtasks of op (a non-parallel source runs on subtask 0 only). */
static int op_p(sl_env *env, const sl__op *op) { return op->nonparallel ? 1 : parallelism(env); }

static int64_t duration(const sl_env *env) {
  return (env->end_ms ? env->end_ms : sl__clock_ms()) - env->start_ms;
}

static void add_wm(cJSON *o, const char *key, int64_t wm) {
  if (wm == SL_WATERMARK_MIN)
    cJSON_AddNullToObject(o, key);
  else
    cJSON_AddNumberToObject(o, key, (double)wm);
}

cJSON *sl__rest_config(sl_env *env) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "refresh-interval", (double)SL__CONF_I(&env->conf, WEB_REFRESH));
  cJSON_AddStringToObject(o, "timezone-name", "UTC");
  cJSON_AddNumberToObject(o, "timezone-offset", 0);
  cJSON_AddStringToObject(o, "flink-version", sl_version());
  cJSON_AddStringToObject(o, "flink-revision", "sluice");
  cJSON *f = cJSON_AddObjectToObject(o, "features");
  cJSON_AddBoolToObject(f, "web-submit", 0);
  cJSON_AddBoolToObject(f, "web-cancel", 1);
  cJSON_AddBoolToObject(f, "web-history", 0);
  return o;
}

cJSON *sl__rest_overview(sl_env *env) {
  cJSON *o = cJSON_CreateObject();
  int P = parallelism(env);
  cJSON_AddNumberToObject(o, "taskmanagers", 1);
  cJSON_AddNumberToObject(o, "slots-total", P);
  cJSON_AddNumberToObject(o, "slots-available", env->end_ms ? P : 0);
  cJSON_AddNumberToObject(o, "jobs-running", !env->end_ms);
  cJSON_AddNumberToObject(o, "jobs-finished", env->state == SL__JOB_FINISHED);
  cJSON_AddNumberToObject(o, "jobs-cancelled", env->state == SL__JOB_CANCELED);
  cJSON_AddNumberToObject(o, "jobs-failed", env->state == SL__JOB_FAILED);
  cJSON_AddStringToObject(o, "flink-version", sl_version());
  return o;
}

cJSON *sl__rest_jobs(sl_env *env) {
  cJSON *o = cJSON_CreateObject();
  cJSON *a = cJSON_AddArrayToObject(o, "jobs");
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "id", env->jid);
  cJSON_AddStringToObject(j, "status", sl__rest_state(env));
  cJSON_AddItemToArray(a, j);
  return o;
}

/* Task counts by state of op (all ops: i < 0) into o. */
static void task_counts(sl_env *env, cJSON *o, int op, int flink_names) {
  sl__job *job = live(env);
  int running = 0, finished = 0, created = 0;
  for (int i = 0; i < env->n_ops; i++) {
    if (op >= 0 && i != op) continue;
    for (int s = 0; s < op_p(env, env->ops[i]); s++) {
      int st = job ? atomic_load_explicit(&job->workers[s].insts[i].m.p_state,
                                          memory_order_relaxed)
                   : env->end_ms ? SL__SUB_FINISHED : SL__SUB_CREATED;
      running += st == SL__SUB_RUNNING;
      finished += st == SL__SUB_FINISHED;
      created += st == SL__SUB_CREATED;
    }
  }
  int failed = 0, canceled = 0;
  if (env->end_ms && env->state == SL__JOB_FAILED) failed = finished, finished = 0;
  if (env->end_ms && env->state == SL__JOB_CANCELED) canceled = finished, finished = 0;
  if (flink_names) { /* /jobs/overview's lower-case keys */
    cJSON_AddNumberToObject(o, "total", running + finished + created + failed + canceled);
    cJSON_AddNumberToObject(o, "created", created);
    cJSON_AddNumberToObject(o, "scheduled", 0);
    cJSON_AddNumberToObject(o, "deploying", 0);
    cJSON_AddNumberToObject(o, "running", running);
    cJSON_AddNumberToObject(o, "finished", finished);
    cJSON_AddNumberToObject(o, "canceling", 0);
    cJSON_AddNumberToObject(o, "canceled", canceled);
    cJSON_AddNumberToObject(o, "failed", failed);
    cJSON_AddNumberToObject(o, "reconciling", 0);
    cJSON_AddNumberToObject(o, "initializing", 0);
  } else {
    cJSON_AddNumberToObject(o, "CREATED", created);
    cJSON_AddNumberToObject(o, "RUNNING", running);
    cJSON_AddNumberToObject(o, "FINISHED", finished);
    cJSON_AddNumberToObject(o, "CANCELED", canceled);
    cJSON_AddNumberToObject(o, "FAILED", failed);
  }
}

cJSON *sl__rest_jobs_overview(sl_env *env) {
  cJSON *o = cJSON_CreateObject();
  cJSON *a = cJSON_AddArrayToObject(o, "jobs");
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "jid", env->jid);
  cJSON_AddStringToObject(j, "name", env->job_name);
  cJSON_AddStringToObject(j, "state", sl__rest_state(env));
  cJSON_AddNumberToObject(j, "start-time", (double)env->start_ms);
  cJSON_AddNumberToObject(j, "end-time", env->end_ms ? (double)env->end_ms : -1);
  cJSON_AddNumberToObject(j, "duration", (double)duration(env));
  cJSON_AddNumberToObject(j, "last-modification", (double)(env->end_ms ? env->end_ms : env->start_ms));
  task_counts(env, cJSON_AddObjectToObject(j, "tasks"), -1, 1);
  cJSON_AddItemToArray(a, j);
  return o;
}

/* The metrics object of one subtask, or of the whole vertex (subtask < 0:
 * sums of counts and rates, the largest backpressured and busy time, the
 * mean idle time, the smallest watermarks). */
static cJSON *metrics(sl_env *env, int op, int subtask) {
  cJSON *o = cJSON_CreateObject();
  sl__job *job = live(env);
  sl__inst_metrics t = {0};
  t.wm_in = t.wm_out = SL_WATERMARK_MAX;
  int n = 0, source = env->ops[op]->kind == SL__OP_SOURCE;
  for (int s = 0; job && s < op_p(env, env->ops[op]); s++) {
    if (subtask >= 0 && s != subtask) continue;
    sl__inst_metrics m;
    sl__inst_metrics_get(&job->workers[s].insts[op], &m);
    t.in += m.in, t.out += m.out, t.bytes_in += m.bytes_in, t.bytes_out += m.bytes_out;
    t.late_dropped += m.late_dropped;
    t.in_rate += m.in_rate, t.out_rate += m.out_rate;
    t.bytes_in_rate += m.bytes_in_rate, t.bytes_out_rate += m.bytes_out_rate;
    t.bp_ms = fmax(t.bp_ms, m.bp_ms), t.busy_ms = fmax(t.busy_ms, m.busy_ms);
    t.idle_ms += m.idle_ms;
    t.acc_bp_ms = fmax(t.acc_bp_ms, m.acc_bp_ms), t.acc_busy_ms = fmax(t.acc_busy_ms, m.acc_busy_ms);
    t.acc_idle_ms += m.acc_idle_ms;
    t.wm_in = SL__MIN(t.wm_in, m.wm_in), t.wm_out = SL__MIN(t.wm_out, m.wm_out);
    n++;
  }
  if (n) t.idle_ms /= n, t.acc_idle_ms /= n;
  if (!n || source) t.wm_in = SL_WATERMARK_MIN;
  if (!n) t.wm_out = SL_WATERMARK_MIN;
  cJSON_AddNumberToObject(o, "read-bytes", (double)t.bytes_in);
  cJSON_AddBoolToObject(o, "read-bytes-complete", 1);
  cJSON_AddNumberToObject(o, "write-bytes", (double)t.bytes_out);
  cJSON_AddBoolToObject(o, "write-bytes-complete", 1);
  cJSON_AddNumberToObject(o, "read-records", (double)t.in);
  cJSON_AddBoolToObject(o, "read-records-complete", 1);
  cJSON_AddNumberToObject(o, "write-records", (double)t.out);
  cJSON_AddBoolToObject(o, "write-records-complete", 1);
  cJSON_AddNumberToObject(o, "accumulated-backpressured-time", round(t.acc_bp_ms));
  cJSON_AddNumberToObject(o, "accumulated-idle-time", round(t.acc_idle_ms));
  cJSON_AddNumberToObject(o, "accumulated-busy-time", round(t.acc_busy_ms));
  cJSON_AddNumberToObject(o, "records-in-per-second", t.in_rate);
  cJSON_AddNumberToObject(o, "records-out-per-second", t.out_rate);
  cJSON_AddNumberToObject(o, "bytes-in-per-second", t.bytes_in_rate);
  cJSON_AddNumberToObject(o, "bytes-out-per-second", t.bytes_out_rate);
  cJSON_AddNumberToObject(o, "backpressured-time-ms-per-second", round(t.bp_ms));
  cJSON_AddNumberToObject(o, "busy-time-ms-per-second", round(t.busy_ms));
  cJSON_AddNumberToObject(o, "idle-time-ms-per-second", round(t.idle_ms));
  add_wm(o, "current-input-watermark", t.wm_in);
  add_wm(o, "current-output-watermark", t.wm_out);
  cJSON_AddNumberToObject(o, "late-records-dropped", (double)t.late_dropped);
  return o;
}

/* The status of one subtask (s >= 0) or of a vertex (s < 0). */
static const char *sub_status(sl_env *env, int op, int s) {
  sl__job *job = live(env);
  if (!job) return env->end_ms ? sl__rest_state(env) : "CREATED";
  int all_finished = 1, any_running = 0;
  for (int k = 0; k < op_p(env, env->ops[op]); k++) {
    if (s >= 0 && k != s) continue;
    int st = atomic_load_explicit(&job->workers[k].insts[op].m.p_state, memory_order_relaxed);
    all_finished &= st == SL__SUB_FINISHED;
    any_running |= st == SL__SUB_RUNNING;
  }
  return all_finished ? "FINISHED" : any_running ? "RUNNING" : "CREATED";
}

static const char *ship(sl__part p) {
  switch (p) {
    case SL__PART_FORWARD: return "FORWARD";
    case SL__PART_REBALANCE: return "REBALANCE";
    case SL__PART_HASH: return "HASH";
    case SL__PART_BROADCAST: return "BROADCAST";
    default: return "GLOBAL";
  }
}

static cJSON *vertex(sl_env *env, int i) {
  const sl__op *op = env->ops[i];
  char vid[33];
  sl__rest_vertex_id(op, vid);
  cJSON *v = cJSON_CreateObject();
  cJSON_AddStringToObject(v, "id", vid);
  cJSON_AddStringToObject(v, "name", op->name);
  cJSON_AddNumberToObject(v, "parallelism", op_p(env, op));
  cJSON_AddStringToObject(v, "status", sub_status(env, i, -1));
  cJSON_AddNumberToObject(v, "start-time", (double)env->start_ms);
  cJSON_AddNumberToObject(v, "end-time", env->end_ms ? (double)env->end_ms : -1);
  cJSON_AddNumberToObject(v, "duration", (double)duration(env));
  task_counts(env, cJSON_AddObjectToObject(v, "tasks"), i, 0);
  cJSON_AddItemToObject(v, "metrics", metrics(env, i, -1));
  return v;
}

cJSON *sl__rest_job(sl_env *env) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "jid", env->jid);
  cJSON_AddStringToObject(o, "name", env->job_name);
  cJSON_AddBoolToObject(o, "isStoppable", !env->end_ms);
  cJSON_AddStringToObject(o, "state", sl__rest_state(env));
  cJSON_AddNumberToObject(o, "start-time", (double)env->start_ms);
  cJSON_AddNumberToObject(o, "end-time", env->end_ms ? (double)env->end_ms : -1);
  cJSON_AddNumberToObject(o, "duration", (double)duration(env));
  cJSON_AddNumberToObject(o, "now", (double)sl__clock_ms());
  cJSON_AddNumberToObject(o, "maxParallelism", (double)SL__CONF_I(&env->conf, MAX_PARALLELISM));
  cJSON *ts = cJSON_AddObjectToObject(o, "timestamps");
  cJSON_AddNumberToObject(ts, "CREATED", (double)env->start_ms);
  cJSON_AddNumberToObject(ts, "RUNNING", (double)env->start_ms);
  if (env->end_ms) cJSON_AddNumberToObject(ts, sl__rest_state(env), (double)env->end_ms);
  cJSON_AddNumberToObject(o, "restarts", (double)env->restarts);
  cJSON *vs = cJSON_AddArrayToObject(o, "vertices");
  for (int i = 0; i < env->n_ops; i++) cJSON_AddItemToArray(vs, vertex(env, i));
  task_counts(env, cJSON_AddObjectToObject(o, "status-counts"), -1, 0);
  cJSON *plan = cJSON_AddObjectToObject(o, "plan");
  cJSON_AddStringToObject(plan, "jid", env->jid);
  cJSON_AddStringToObject(plan, "name", env->job_name);
  cJSON_AddStringToObject(plan, "type", "STREAMING");
  cJSON *nodes = cJSON_AddArrayToObject(plan, "nodes");
  for (int i = 0; i < env->n_ops; i++) {
    const sl__op *op = env->ops[i];
    char vid[33];
    sl__rest_vertex_id(op, vid);
    cJSON *n = cJSON_CreateObject();
    cJSON_AddStringToObject(n, "id", vid);
    cJSON_AddNumberToObject(n, "parallelism", op_p(env, op));
    cJSON_AddStringToObject(n, "operator", sl__op_kind_name(op->kind));
    cJSON_AddStringToObject(n, "operator_strategy", sl__op_kind_name(op->kind));
    cJSON_AddStringToObject(n, "description", op->name);
    if (op->n_in) {
      cJSON *ins = cJSON_AddArrayToObject(n, "inputs");
      for (int e = 0; e < op->n_in; e++) {
        char from[33];
        sl__rest_vertex_id(op->in[e].from, from);
        cJSON *in = cJSON_CreateObject();
        cJSON_AddNumberToObject(in, "num", e);
        cJSON_AddStringToObject(in, "id", from);
        cJSON_AddStringToObject(in, "ship_strategy", ship(op->in[e].part));
        cJSON_AddStringToObject(in, "exchange", "pipelined_bounded");
        if (op->in[e].tag) cJSON_AddStringToObject(in, "side_output", op->in[e].tag);
        cJSON_AddItemToArray(ins, in);
      }
    }
    cJSON_AddItemToArray(nodes, n);
  }
  return o;
}

cJSON *sl__rest_vertex(sl_env *env, const char *vid) {
  for (int i = 0; i < env->n_ops; i++) {
    char id[33];
    sl__rest_vertex_id(env->ops[i], id);
    if (strcmp(id, vid)) continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "name", env->ops[i]->name);
    int P = op_p(env, env->ops[i]);
    cJSON_AddNumberToObject(o, "parallelism", P);
    cJSON_AddNumberToObject(o, "now", (double)sl__clock_ms());
    cJSON *subs = cJSON_AddArrayToObject(o, "subtasks");
    for (int s = 0; s < P; s++) {
      cJSON *st = cJSON_CreateObject();
      cJSON_AddNumberToObject(st, "subtask", s);
      cJSON_AddStringToObject(st, "status", sub_status(env, i, s));
      cJSON_AddNumberToObject(st, "attempt", (double)env->restarts);
      cJSON_AddStringToObject(st, "host", "localhost");
      cJSON_AddNumberToObject(st, "start-time", (double)env->start_ms);
      cJSON_AddNumberToObject(st, "end-time", env->end_ms ? (double)env->end_ms : -1);
      cJSON_AddNumberToObject(st, "duration", (double)duration(env));
      cJSON_AddItemToObject(st, "metrics", metrics(env, i, s));
      cJSON *states = cJSON_AddArrayToObject(st, "state");
      sl__job *job = live(env);
      const sl__imetrics *im = job ? &job->workers[s].insts[i].m : NULL;
      int n = im ? atomic_load_explicit(&im->n_states, memory_order_acquire) : 0;
      for (int t = 0; t < n; t++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", im->states[t].name);
        cJSON_AddNumberToObject(x, "entries", (double)atomic_load(&im->states[t].entries));
        cJSON_AddNumberToObject(x, "bytes", (double)atomic_load(&im->states[t].bytes));
        cJSON_AddItemToArray(states, x);
      }
      if (env->ops[i]->kind == SL__OP_SOURCE) {
        cJSON *splits = cJSON_AddArrayToObject(st, "splits");
        n = im ? atomic_load_explicit(&im->n_splits, memory_order_acquire) : 0;
        for (int t = 0; t < n; t++) {
          cJSON *x = cJSON_CreateObject();
          cJSON_AddNumberToObject(x, "split", (double)im->splits[t].id);
          cJSON_AddNumberToObject(x, "records", (double)atomic_load(&im->splits[t].records));
          cJSON_AddNumberToObject(x, "pending", (double)atomic_load(&im->splits[t].pending));
          cJSON_AddItemToArray(splits, x);
        }
      }
      cJSON_AddItemToArray(subs, st);
    }
    return o;
  }
  return NULL;
}

static cJSON *checkpoint(const sl__ckpt_rec *r) {
  static const char *const st[] = {"IN_PROGRESS", "COMPLETED", "FAILED"};
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "id", (double)r->id);
  cJSON_AddStringToObject(o, "status", st[r->status]);
  cJSON_AddBoolToObject(o, "is_savepoint", r->savepoint);
  cJSON_AddStringToObject(o, "checkpoint_type", r->savepoint ? "SAVEPOINT" : "CHECKPOINT");
  cJSON_AddNumberToObject(o, "trigger_timestamp", (double)r->trigger_ms);
  int64_t ack = r->ack_ms ? r->ack_ms : r->trigger_ms;
  cJSON_AddNumberToObject(o, "latest_ack_timestamp", (double)ack);
  cJSON_AddNumberToObject(o, "state_size", (double)r->size);
  cJSON_AddNumberToObject(o, "checkpointed_size", (double)r->size);
  int64_t end = r->status == SL__CK_IN_PROGRESS ? sl__clock_ms() : ack;
  cJSON_AddNumberToObject(o, "end_to_end_duration", (double)(end - r->trigger_ms));
  cJSON_AddNumberToObject(o, "alignment_buffered", 0);
  cJSON_AddNumberToObject(o, "alignment_duration", (double)r->align_ms);
  cJSON_AddNumberToObject(o, "num_subtasks", r->n_subtasks);
  cJSON_AddNumberToObject(o, "num_acknowledged_subtasks", r->n_acked);
  cJSON_AddStringToObject(o, "external_path", r->path);
  if (r->status == SL__CK_FAILED) cJSON_AddStringToObject(o, "failure_message", r->failure);
  return o;
}

static void add_latest(cJSON *o, const char *key, const sl__ckpt_rec *r) {
  if (r)
    cJSON_AddItemToObject(o, key, checkpoint(r));
  else
    cJSON_AddNullToObject(o, key);
}

/* min/max/avg of a field over the completed checkpoints of the history. */
static void summary(cJSON *o, const char *key, const sl__ckpt_stats *cs, int field) {
  double mn = 0, mx = 0, sum = 0;
  int n = 0;
  for (int k = 1; k <= cs->n; k++) {
    const sl__ckpt_rec *r = sl__ckstats_nth(cs, k);
    if (r->status != SL__CK_COMPLETED) continue;
    double v = field == 0 ? (double)r->size : field == 1 ? (double)(r->ack_ms - r->trigger_ms)
               : field == 2 ? 0 : (double)r->align_ms;
    mn = n ? fmin(mn, v) : v;
    mx = n ? fmax(mx, v) : v;
    sum += v;
    n++;
  }
  cJSON *s = cJSON_AddObjectToObject(o, key);
  cJSON_AddNumberToObject(s, "min", mn);
  cJSON_AddNumberToObject(s, "max", mx);
  cJSON_AddNumberToObject(s, "avg", n ? round(sum / n) : 0);
}

cJSON *sl__rest_checkpoints(sl_env *env) {
  cJSON *o = cJSON_CreateObject();
  sl__ckpt_stats empty;
  memset(&empty, 0, sizeof empty);
  sl__ckpt_stats *cs = env->cstats;
  if (cs) pthread_mutex_lock(&cs->mu);
  const sl__ckpt_stats *c = cs ? cs : &empty;
  int in_progress = 0;
  for (int k = 1; k <= c->n; k++)
    in_progress += sl__ckstats_nth(c, k)->status == SL__CK_IN_PROGRESS;
  cJSON *counts = cJSON_AddObjectToObject(o, "counts");
  cJSON_AddNumberToObject(counts, "restored", c->restored);
  cJSON_AddNumberToObject(counts, "total", (double)c->total);
  cJSON_AddNumberToObject(counts, "in_progress", in_progress);
  cJSON_AddNumberToObject(counts, "completed", (double)c->completed);
  cJSON_AddNumberToObject(counts, "failed", (double)c->failed);
  cJSON *sum = cJSON_AddObjectToObject(o, "summary");
  summary(sum, "checkpointed_size", c, 0);
  summary(sum, "state_size", c, 0);
  summary(sum, "end_to_end_duration", c, 1);
  summary(sum, "alignment_buffered", c, 2);
  summary(sum, "alignment_duration", c, 3);
  cJSON *latest = cJSON_AddObjectToObject(o, "latest");
  add_latest(latest, "completed", sl__ckstats_latest(c, SL__CK_COMPLETED, 0));
  add_latest(latest, "savepoint", sl__ckstats_latest(c, SL__CK_COMPLETED, 1));
  add_latest(latest, "failed", sl__ckstats_latest(c, SL__CK_FAILED, -1));
  if (c->restored) {
    cJSON *r = cJSON_AddObjectToObject(latest, "restored");
    cJSON_AddNumberToObject(r, "id", (double)c->restored_id);
    cJSON_AddNumberToObject(r, "restore_timestamp", (double)c->restored_ms);
    cJSON_AddBoolToObject(r, "is_savepoint", c->restored_savepoint);
    cJSON_AddStringToObject(r, "external_path", c->restored_path);
  } else {
    cJSON_AddNullToObject(latest, "restored");
  }
  cJSON *hist = cJSON_AddArrayToObject(o, "history");
  int cap = c->cap > 0 ? c->cap : 10;
  for (int k = 1; k <= c->n && k <= cap; k++)
    cJSON_AddItemToArray(hist, checkpoint(sl__ckstats_nth(c, k)));
  if (cs) pthread_mutex_unlock(&cs->mu);
  return o;
}

cJSON *sl__rest_exceptions(sl_env *env) {
  cJSON *o = cJSON_CreateObject();
  if (env->n_exc) {
    cJSON_AddStringToObject(o, "root-exception", env->exc[env->n_exc - 1].msg);
    cJSON_AddNumberToObject(o, "timestamp", (double)env->exc[env->n_exc - 1].ms);
  } else {
    cJSON_AddNullToObject(o, "root-exception");
    cJSON_AddNullToObject(o, "timestamp");
  }
  cJSON_AddArrayToObject(o, "all-exceptions");
  cJSON_AddBoolToObject(o, "truncated", 0);
  cJSON *h = cJSON_AddObjectToObject(o, "exceptionHistory");
  cJSON *entries = cJSON_AddArrayToObject(h, "entries");
  for (int k = env->n_exc - 1; k >= 0; k--) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "exceptionName", "sluice.JobFailure");
    cJSON_AddStringToObject(e, "stacktrace", env->exc[k].msg);
    cJSON_AddNumberToObject(e, "timestamp", (double)env->exc[k].ms);
    cJSON_AddNullToObject(e, "taskName");
    cJSON_AddNullToObject(e, "location");
    cJSON_AddItemToArray(entries, e);
  }
  cJSON_AddBoolToObject(h, "truncated", 0);
  return o;
}

static int add_conf(void *ud, const char *key, const char *value) {
  cJSON_AddStringToObject(ud, key, value);
  return 0;
}

cJSON *sl__rest_job_config(sl_env *env) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "jid", env->jid);
  cJSON_AddStringToObject(o, "name", env->job_name);
  cJSON *ec = cJSON_AddObjectToObject(o, "execution-config");
  cJSON_AddNumberToObject(ec, "job-parallelism", parallelism(env));
  cJSON *uc = cJSON_AddObjectToObject(ec, "user-config");
  sl__conf_foreach_set(&env->conf, add_conf, uc);
  return o;
}

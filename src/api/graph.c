/*
 * graph.c -- the environment and the logical graph that the DataStream API
 * builds: every transformation appends an op whose input edges carry the
 * partitioning of the stream it was applied to.
 *
 * An sl_stream is a view of an op's output plus the partitioning that its
 * consumers will get.  Defaults: forward; hash after key_by; rebalance after
 * a non-parallel source (Flink does the same when parallelism changes);
 * global into a sink that asks for it (the single-file sink).
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>

#include "api/graph.h"
#include "api/env_ext.h"
#include "runtime/source_sink.h"
#include "operators/ops.h"
#include "operators/time_ops.h"
#include "window/window.h"
#include "checkpoint/checkpoint.h"
#include "connectors/connector.h"
#include "runtime/runtime.h"
#include "rest/rest.h"

static void env_err(sl_env *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void env_err(sl_env *env, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sl__vfmt(env->err, sizeof env->err, fmt, ap);
  va_end(ap);
}

sl_env *sl_env_new(void) {
  sl_env *env = sl__calloc(1, sizeof *env);
  if (!env) return NULL;
  if (sl__conf_init(&env->conf)) {
    sl__free(env);
    return NULL;
  }
  pthread_mutex_init(&env->live_mu, NULL);
  return env;
}

/* A source or sink handle and what its connector owns. */
static void source_free(sl_source *src) {
  if (src && src->ops->free) src->ops->free(src->ud);
  sl__free(src);
}

static void sink_free(sl_sink *sink) {
  if (sink && sink->ops->free) sink->ops->free(sink->ud);
  sl__free(sink);
}

static void op_free(sl__op *op) {
  source_free(op->source);
  sink_free(op->sink);
  if (op->cfg && op->cfg_free) op->cfg_free(op->cfg);
  sl__free(op->in);
  sl__free(op->name);
  sl__free(op);
}

void sl_env_free(sl_env *env) {
  if (!env) return;
  if (env->sql && env->sql_free) env->sql_free(env->sql);
  for (int i = 0; i < env->n_ops; i++) op_free(env->ops[i]);
  for (int i = 0; i < env->n_streams; i++) {
    sl__free(env->streams[i]->tag);
    sl__free(env->streams[i]);
  }
  sl__free(env->ops);
  sl__free(env->streams);
  sl__conf_free(&env->conf);
  pthread_mutex_destroy(&env->live_mu);
  sl__free(env);
}

void sl_env_set_logger(sl_env *env, sl_log_fn fn, void *ud) {
  if (!env) return;
  env->conf.log.fn = fn;
  env->conf.log.ud = fn ? ud : NULL;
}

/* Remember (or forget) a failed key for sl_execute. */
static void note_set(sl_env *env, const char *key, int failed) {
  char k[64];
  sl__fmt(k, sizeof k, "%s", key ? key : "(null)");
  for (int i = 0; i < env->n_bad_keys; i++)
    if (!strcmp(env->bad_keys[i], k)) {
      if (!failed) memmove(env->bad_keys[i], env->bad_keys[i + 1],
                           (size_t)(--env->n_bad_keys - i) * sizeof env->bad_keys[0]);
      if (!env->n_bad_keys && !env->bad_overflow) env->set_err[0] = 0;
      return;
    }
  if (!failed) return;
  if (!env->n_bad_keys) sl__fmt(env->set_err, sizeof env->set_err, "%s", env->err);
  if (env->n_bad_keys < (int)(sizeof env->bad_keys / sizeof env->bad_keys[0]))
    memcpy(env->bad_keys[env->n_bad_keys++], k, sizeof k);
  else
    env->bad_overflow = 1;
}

int sl_env_set(sl_env *env, const char *key, const char *value) {
  if (!env) return -SL_EINVAL;
  int rc = sl__conf_set(&env->conf, key, value, env->err, sizeof env->err);
  note_set(env, key, rc != 0);
  return rc;
}

int sl_env_set_kv(sl_env *env, const char *kv) {
  if (!env || !kv) return -SL_EINVAL;
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) {
    env_err(env, "expected key=value, got '%s'", kv);
    return -SL_ECONFIG;
  }
  char key[256];
  size_t n = (size_t)(eq - kv);
  if (n >= sizeof key) {
    env_err(env, "configuration key too long in '%s'", kv);
    return -SL_ECONFIG;
  }
  memcpy(key, kv, n);
  key[n] = 0;
  return sl_env_set(env, key, eq + 1);
}

const char *sl_env_get(sl_env *env, const char *key) {
  int id = env ? sl__conf_find(key) : -1;
  return id >= 0 ? env->conf.v[id].text : NULL;
}

void *sl__env_sql(sl_env *env) { return env ? env->sql : NULL; }

void sl__env_set_sql(sl_env *env, void *sql, void (*free_fn)(void *sql)) {
  env->sql = sql;
  env->sql_free = free_fn;
}

void sl__env_error(sl_env *env, const char *msg) {
  if (env) sl__fmt(env->err, sizeof env->err, "%s", msg);
}

const char *sl_env_last_error(const sl_env *env) {
  return env ? env->err : "no environment";
}

/* ---- graph -------------------------------------------------------------- */

static sl_stream *new_stream(sl_env *env, sl__op *op, sl__part part, int set) {
  sl_stream **a = sl__realloc(env->streams, (size_t)(env->n_streams + 1) * sizeof *a);
  if (!a) return NULL;
  env->streams = a;
  sl_stream *s = sl__calloc(1, sizeof *s);
  if (!s) return NULL;
  *s = (sl_stream){env, op, part, set, NULL};
  env->streams[env->n_streams++] = s;
  return s;
}

const char *sl__op_kind_name(sl__op_kind k) {
  static const char *names[] = {"source",     "map",      "filter",  "flat_map",
                                "process",    "key_by",   "reduce",  "union",
                                "sink",       "connect",  "broadcast_connect",
                                "timestamps", "keyed_process", "window",
                                "interval_join", "batch", "keyed_batch"};
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "operator";
}

/* Memory ran out while building the graph: the job will not run, and
 * sl_execute returns -SL_ENOMEM. */
static void graph_oom(sl_env *env) {
  env->broken = env->oom = 1;
  env_err(env, "out of memory while building the graph");
}

/* The behaviour of an operator kind, from the module that implements it. */
static const sl__op_vt *op_vtable(sl__op_kind kind) {
  switch (kind) {
    case SL__OP_WINDOW: return sl__window_vtable();
    case SL__OP_BATCH:
    case SL__OP_KEYED_BATCH: return sl__batch_vtable(kind);
    case SL__OP_INTERVAL_JOIN: return sl__interval_join_vtable();
    case SL__OP_TIMESTAMPS:
    case SL__OP_KEYED_PROCESS: return sl__time_vtable(kind);
    default: return sl__op_vtable(kind);
  }
}

/* Append an op reading from `ins` (n of them); returns its output stream. */
static sl_stream *add_op(sl_env *env, sl__op_kind kind, sl_stream *const *ins,
                         size_t n, void *fn, void *ud) {
  if (env->executed) {
    env_err(env, "the graph was already executed; build a new environment");
    env->broken = 1;
    return NULL;
  }
  sl__op *op = sl__calloc(1, sizeof *op);
  sl__op **ops = op ? sl__realloc(env->ops, (size_t)(env->n_ops + 1) * sizeof *ops) : NULL;
  if (!ops) goto oom;
  env->ops = ops;
  op->id = env->n_ops;
  op->kind = kind;
  op->vt = op_vtable(kind); /* bound here: the runtime never looks it up */
  op->fn = fn;
  op->ud = ud;
  char name[64];
  sl__fmt(name, sizeof name, "%s#%d", sl__op_kind_name(kind), op->id);
  op->name = sl__strdup(name);
  op->in = n ? sl__calloc(n, sizeof *op->in) : NULL;
  if (!op->name || (n && !op->in)) {
    sl__free(op->name);
    sl__free(op->in);
    goto oom;
  }
  op->n_in = (int)n;
  for (size_t i = 0; i < n; i++)
    op->in[i] = (sl__edge){ins[i]->op, ins[i]->part, ins[i]->tag};
  /* one keyed input: the operator has keyed state (Flink: KeyedStream ops) */
  /* keyed operators have keyed state (Flink: operators of a KeyedStream,
   * connect of two keyed streams, broadcast connect of a keyed stream) */
#define SL__KEYED(st) ((st)->op->keyed && (st)->part == SL__PART_HASH)
  if (kind == SL__OP_CONNECT || kind == SL__OP_INTERVAL_JOIN)
    op->keyed_input = SL__KEYED(ins[0]) && SL__KEYED(ins[1]);
  else if (kind == SL__OP_BROADCAST_CONNECT)
    op->keyed_input = SL__KEYED(ins[0]);
  else
    op->keyed_input = n == 1 && kind != SL__OP_SINK && SL__KEYED(ins[0]);
#undef SL__KEYED
  env->ops[env->n_ops++] = op;
  sl_stream *s = new_stream(env, op, SL__PART_FORWARD, 0);
  if (!s) graph_oom(env);
  return s;
oom:
  sl__free(op);
  graph_oom(env);
  return NULL;
}

sl_stream *sl_source_stream(sl_env *env, sl_source *src) {
  if (!env) {
    source_free(src);
    return NULL;
  }
  if (!src) {
    env->broken = 1;
    if (!env->err[0]) env_err(env, "sl_source_stream: source is NULL (its constructor failed: a bad "
                          "argument, out of memory, or for sl_source_new an ops table "
                          "without SL_CONNECTOR_VERSION, open or poll, or with position "
                          "and seek not both set)");
    return NULL;
  }
  sl_stream *s = add_op(env, SL__OP_SOURCE, NULL, 0, NULL, NULL);
  if (!s) {
    source_free(src);
    return NULL;
  }
  s->op->source = src;
  s->op->nonparallel = (src->flags & SL_SOURCE_NONPARALLEL) != 0;
  char name[64];
  sl__fmt(name, sizeof name, "%s-source#%d", src->ops->kind ? src->ops->kind : "custom",
          s->op->id);
  char *op_name = sl__strdup(name);
  if (!op_name) { /* the op keeps its generic name; the job will not run */
    graph_oom(env);
    return NULL;
  }
  sl__free(s->op->name);
  s->op->name = op_name;
  if (s->op->nonparallel) s->part = SL__PART_REBALANCE;
  return s;
}

static sl_stream *unary(sl_stream *in, sl__op_kind kind, void *fn, void *ud) {
  if (!in) return NULL;
  if (!fn && kind != SL__OP_KEY_BY) {
    in->env->broken = 1;
    env_err(in->env, "%s: function is NULL", sl__op_kind_name(kind));
    return NULL;
  }
  return add_op(in->env, kind, &in, 1, fn, ud);
}

sl_stream *sl_map(sl_stream *in, sl_map_fn fn, void *ud) {
  return unary(in, SL__OP_MAP, (void *)fn, ud);
}
sl_stream *sl_filter(sl_stream *in, sl_filter_fn fn, void *ud) {
  return unary(in, SL__OP_FILTER, (void *)fn, ud);
}
sl_stream *sl_flat_map(sl_stream *in, sl_flat_map_fn fn, void *ud) {
  return unary(in, SL__OP_FLAT_MAP, (void *)fn, ud);
}
sl_stream *sl_process(sl_stream *in, sl_flat_map_fn fn, void *ud) {
  return unary(in, SL__OP_PROCESS, (void *)fn, ud);
}
sl_stream *sl_flat_map_batch(sl_stream *in, sl_batch_fn fn, void *ud) {
  return unary(in, SL__OP_BATCH, (void *)fn, ud);
}

void sl__graph_error(sl_stream *s, const char *msg) {
  s->env->broken = 1;
  env_err(s->env, "%s", msg);
}

void sl__graph_oom(sl_stream *s) { graph_oom(s->env); }

/* A single-input operator with a configuration (time and window ops);
 * takes cfg over, also on failure. */
sl_stream *sl__add_op_cfg(sl_stream *in, sl__op_kind kind, void *fn, void *fn2, void *ud,
                          void *cfg, void (*cfg_free)(void *)) {
  int needs_keyed =
      kind == SL__OP_KEYED_PROCESS || kind == SL__OP_KEYED_BATCH || kind == SL__OP_WINDOW;
  if (!in || (needs_keyed && !(in->op->keyed && in->part == SL__PART_HASH)) ||
      ((kind == SL__OP_KEYED_PROCESS || kind == SL__OP_KEYED_BATCH) && !fn)) {
    if (in) {
      in->env->broken = 1;
      env_err(in->env, "%s: %s", sl__op_kind_name(kind),
              needs_keyed && !(in->op->keyed && in->part == SL__PART_HASH)
                  ? "the input stream is not keyed (call sl_key_by first)"
                  : "function is NULL");
    }
    if (cfg && cfg_free) cfg_free(cfg);
    return NULL;
  }
  sl_stream *s = add_op(in->env, kind, &in, 1, fn, ud);
  if (!s) {
    if (cfg && cfg_free) cfg_free(cfg);
    return NULL;
  }
  s->op->fn2 = fn2;
  s->op->cfg = cfg;
  s->op->cfg_free = cfg_free;
  return s;
}

sl_stream *sl_key_by(sl_stream *in, sl_key_fn fn, void *ud) {
  sl_stream *s = unary(in, SL__OP_KEY_BY, (void *)fn, ud);
  if (!s) return NULL;
  s->op->keyed = 1;
  s->part = SL__PART_HASH;
  return s;
}

sl_stream *sl_reduce(sl_stream *in, sl_reduce_fn fn, void *ud) {
  if (!in) return NULL;
  if (!in->op->keyed || in->part != SL__PART_HASH) {
    in->env->broken = 1;
    env_err(in->env, "sl_reduce: the input stream is not keyed (call sl_key_by first)");
    return NULL;
  }
  return unary(in, SL__OP_REDUCE, (void *)fn, ud);
}

sl_stream *sl_union(sl_stream *const *ins, size_t n) {
  if (!ins || !n) return NULL;
  for (size_t i = 0; i < n; i++)
    if (!ins[i]) {
      if (ins[0]) ins[0]->env->broken = 1;
      return NULL;
    }
  sl_env *env = ins[0]->env;
  for (size_t i = 1; i < n; i++)
    if (ins[i]->env != env) {
      env->broken = 1;
      env_err(env, "sl_union: streams belong to different environments");
      return NULL;
    }
  return add_op(env, SL__OP_UNION, ins, n, NULL, NULL);
}

static sl_stream *two_inputs(sl_stream *a, sl_stream *b, sl__op_kind kind,
                             sl_flat_map_fn fn, sl_flat_map_fn fn2, void *ud) {
  if (!a || !b) {
    if (a) a->env->broken = 1;
    if (b) b->env->broken = 1;
    return NULL;
  }
  sl_env *env = a->env;
  if (b->env != env || !fn || !fn2) {
    env->broken = 1;
    env_err(env, "%s: %s", sl__op_kind_name(kind),
            b->env != env ? "streams belong to different environments" : "function is NULL");
    return NULL;
  }
  sl_stream bb = *b;
  if (kind == SL__OP_BROADCAST_CONNECT) bb.part = SL__PART_BROADCAST;
  sl_stream *ins[2] = {a, &bb};
  sl_stream *s = add_op(env, kind, ins, 2, (void *)fn, ud);
  if (s) s->op->fn2 = (void *)fn2;
  return s;
}

int sl__stream_keyed(const sl_stream *s) {
  return s->op->keyed && s->part == SL__PART_HASH;
}

/* A two-input operator with a configuration (interval join). */
sl_stream *sl__add_two_input_op(sl_stream *a, sl_stream *b, sl__op_kind kind, void *cfg,
                                void (*cfg_free)(void *)) {
  sl_stream *ins[2] = {a, b};
  sl_stream *s = b->env == a->env ? add_op(a->env, kind, ins, 2, NULL, NULL) : NULL;
  if (!s) {
    if (b->env != a->env) sl__graph_error(a, "streams belong to different environments");
    cfg_free(cfg);
    return NULL;
  }
  s->op->cfg = cfg;
  s->op->cfg_free = cfg_free;
  return s;
}

sl_stream *sl_connect(sl_stream *a, sl_stream *b, sl_flat_map_fn fn1,
                      sl_flat_map_fn fn2, void *ud) {
  return two_inputs(a, b, SL__OP_CONNECT, fn1, fn2, ud);
}

sl_stream *sl_connect_broadcast(sl_stream *in, sl_stream *bcast, sl_flat_map_fn fn,
                                sl_flat_map_fn bcast_fn, void *ud) {
  return two_inputs(in, bcast, SL__OP_BROADCAST_CONNECT, fn, bcast_fn, ud);
}

static sl_stream *repartition(sl_stream *in, sl__part part) {
  if (!in) return NULL;
  sl_stream *s = new_stream(in->env, in->op, part, 1);
  if (s && in->tag && !(s->tag = sl__strdup(in->tag))) return NULL;
  return s;
}

sl_stream *sl_side_output(sl_stream *s, const char *tag) {
  if (!s) return NULL;
  if (!tag || !*tag) {
    s->env->broken = 1;
    env_err(s->env, "sl_side_output: the tag is empty");
    return NULL;
  }
  sl_stream *o = new_stream(s->env, s->op, SL__PART_FORWARD, 0);
  if (o && !(o->tag = sl__strdup(tag))) return NULL;
  return o;
}
sl_stream *sl_forward(sl_stream *in) { return repartition(in, SL__PART_FORWARD); }
sl_stream *sl_rebalance(sl_stream *in) { return repartition(in, SL__PART_REBALANCE); }
sl_stream *sl_broadcast(sl_stream *in) { return repartition(in, SL__PART_BROADCAST); }
sl_stream *sl_global(sl_stream *in) { return repartition(in, SL__PART_GLOBAL); }

sl_stream *sl_rich(sl_stream *s, sl_open_fn open, sl_close_fn close, void *ud) {
  if (!s) return NULL;
  s->op->user_open = open;
  s->op->user_close = close;
  s->op->user_ud = ud;
  return s;
}

sl_stream *sl_name(sl_stream *s, const char *name) {
  if (!s || !name) return s;
  char *n = sl__strdup(name);
  if (n) {
    sl__free(s->op->name);
    s->op->name = n;
  }
  return s;
}

int sl_sink_to(sl_stream *in, sl_sink *sink) {
  if (!in || !sink) {
    sink_free(sink);
    if (in) {
      in->env->broken = 1;
      if (!in->env->err[0]) env_err(in->env, "sl_sink_to: sink is NULL (its constructor failed: a bad "
                                "argument, out of memory, or for sl_sink_new an ops "
                                "table without SL_CONNECTOR_VERSION, open or write, or "
                                "with only some of precommit, commit_ckpt and recover)");
    }
    return -SL_EINVAL;
  }
  sl_stream tmp = *in;
  if (sink->flags & SL_SINK_GLOBAL) tmp.part = SL__PART_GLOBAL;
  sl_stream *ptmp = &tmp;
  sl_stream *s = add_op(in->env, SL__OP_SINK, &ptmp, 1, NULL, NULL);
  if (!s) {
    sink_free(sink);
    return -SL_ENOMEM;
  }
  s->op->sink = sink;
  char name[64];
  sl__fmt(name, sizeof name, "%s-sink#%d", sink->ops->kind ? sink->ops->kind : "custom",
          s->op->id);
  char *op_name = sl__strdup(name);
  if (!op_name) { /* the op keeps its generic name; the job will not run */
    graph_oom(in->env);
    return -SL_ENOMEM;
  }
  sl__free(s->op->name);
  s->op->name = op_name;
  return 0;
}

/* ---- execution ---------------------------------------------------------- */

static int online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

void sl__env_exception(sl_env *env, const char *msg) {
  pthread_mutex_lock(&env->live_mu);
  if (env->n_exc == SL__EXC_MAX) {
    memmove(&env->exc[0], &env->exc[1], sizeof env->exc[0] * (SL__EXC_MAX - 1));
    env->n_exc--;
  }
  env->exc[env->n_exc].ms = sl__clock_ms();
  sl__fmt(env->exc[env->n_exc].msg, sizeof env->exc[0].msg, "%s", msg);
  env->n_exc++;
  pthread_mutex_unlock(&env->live_mu);
}

static void on_crash(void *arg, const char *why) { sl__env_exception(arg, why); }

/* One run of the job in this process (a supervised job: in the child). */
static int run_here(void *arg, int restarts, sl_job_stats *stats, char *err, size_t errcap) {
  sl_env *env = arg;
  env->restarts = (uint64_t)restarts;
  sl__ckpt_stats *cs = sl__calloc(1, sizeof *cs);
  if (!cs) {
    sl__fmt(err, errcap, "out of memory");
    return -SL_ENOMEM;
  }
  pthread_mutex_init(&cs->mu, NULL);
  cs->cap = (int)SL__CONF_I(&env->conf, WEB_CKPT_HISTORY);
  pthread_mutex_lock(&env->live_mu);
  env->cstats = cs;
  pthread_mutex_unlock(&env->live_mu);
  if (env->rest_fd >= 0) /* a server that fails to start only logs */
    env->rest = sl__rest_start(env, env->rest_fd);
  const char *dir = SL__CONF_S(&env->conf, CKPT_DIR);
  if (restarts > 0 && dir && *dir) /* resume where the crashed attempt left off */
    sl__conf_set(&env->conf, "execution.checkpointing.restore", "latest", err, errcap);
  sl__job job;
  memset(&job, 0, sizeof job);
  job.env = env;
  job.conf = &env->conf;
  job.name = env->job_name;
  job.log_scope = env->log_scope;
  int P = (int)SL__CONF_I(&env->conf, PARALLELISM);
  job.P = P > 0 ? P : online_cpus();
  job.max_parallelism = (int)SL__CONF_I(&env->conf, MAX_PARALLELISM);
  job.batch_size = (uint32_t)SL__CONF_I(&env->conf, BATCH_SIZE);
  job.buffer_timeout_ns = SL__CONF_I(&env->conf, BUFFER_TIMEOUT) * 1000000;
  job.ops = env->ops;
  job.n_ops = env->n_ops;
  job.dl_fd = -1;
  job.cancel = &env->cancel;
  job.hooks = &sl__ckpt_hooks;
  job.cstats = cs;
  pthread_mutex_init(&job.mu, NULL);
  pthread_mutex_lock(&env->live_mu);
  env->live_job = &job;
  env->live_t0_ns = sl__now_ns();
  pthread_mutex_unlock(&env->live_mu);
  int rc = sl__job_run(&job);
  memset(stats, 0, sizeof *stats);
  pthread_mutex_lock(&env->live_mu); /* no reader from here on */
  env->live_job = NULL;
  sl__job_collect_stats(&job, stats);
  stats->seconds = (double)(sl__now_ns() - env->live_t0_ns) / 1e9;
  env->stats = *stats; /* what the REST API shows from now on */
  /* stopped with a savepoint: FINISHED, as Flink says */
  env->state = rc == 0 || (rc == -SL_ECANCELED && env->stop_savepoint[0]) ? SL__JOB_FINISHED
               : rc == -SL_ECANCELED                                      ? SL__JOB_CANCELED
                                                                          : SL__JOB_FAILED;
  env->end_ms = sl__clock_ms();
  pthread_mutex_unlock(&env->live_mu);
  if (job.err[0]) sl__fmt(err, errcap, "%s", job.err);
  if (rc && rc != -SL_ECANCELED) sl__env_exception(env, job.err[0] ? job.err : sl_strerror(rc));
  if (env->rest) sl__rest_stop(env->rest); /* after a stop it waits for its client */
  env->rest = NULL;
  pthread_mutex_lock(&env->live_mu);
  env->cstats = NULL;
  pthread_mutex_unlock(&env->live_mu);
  pthread_mutex_destroy(&cs->mu);
  sl__free(cs);
  sl__job_release(&job);
  if (job.dl_fd >= 0) close(job.dl_fd);
  pthread_mutex_destroy(&job.mu);
  return rc;
}

/* A new job id: 32 hex digits (Flink's JobID), random. */
static void new_job_id(char out[33]) {
  uint8_t b[16];
  if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) { /* no entropy: time and pid */
    uint64_t t = (uint64_t)sl__now_ns(), p = (uint64_t)getpid();
    memcpy(b, &t, 8);
    memcpy(b + 8, &p, 8);
  }
  for (int i = 0; i < 16; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

int sl_execute(sl_env *env, const char *job_name) {
  if (!env) return -SL_EINVAL;
  if (!job_name || !*job_name) job_name = SL__CONF_S(&env->conf, PIPELINE_NAME);
  sl__fmt(env->job_name, sizeof env->job_name, "%s", job_name ? job_name : "");
  if (env->job_name[0])
    sl__fmt(env->log_scope, sizeof env->log_scope, "job '%s'", env->job_name);
  else
    sl__fmt(env->log_scope, sizeof env->log_scope, "job");
  if (env->broken) {
    if (!env->err[0]) env_err(env, "the job graph is incomplete (a graph call failed)");
    return env->oom ? -SL_ENOMEM : -SL_EINVAL;
  }
  if (env->n_bad_keys || env->bad_overflow) {
    env_err(env, "the job did not run: sl_env_set failed for '%s'%s: %s",
            env->n_bad_keys ? env->bad_keys[0] : "more than 8 keys",
            env->n_bad_keys > 1 || env->bad_overflow ? " (and other keys)" : "", env->set_err);
    return -SL_EINVAL;
  }
  if (env->executed) {
    env_err(env, "this environment already executed its job");
    return -SL_EINVAL;
  }
  int has_sink = 0;
  for (int i = 0; i < env->n_ops; i++) has_sink |= env->ops[i]->kind == SL__OP_SINK;
  if (!has_sink) {
    env_err(env, "the job has no sink: nothing would be produced");
    return -SL_EINVAL;
  }
  env->executed = 1;
  env->err[0] = 0;

  int P = (int)SL__CONF_I(&env->conf, PARALLELISM);
  P = P > 0 ? P : online_cpus();
  int max_p = (int)SL__CONF_I(&env->conf, MAX_PARALLELISM);
  if (P > max_p) {
    env_err(env, "parallelism.default (%d) exceeds pipeline.max-parallelism (%d)", P, max_p);
    return -SL_ECONFIG;
  }
  const char *restart = SL__CONF_S(&env->conf, RESTART_TYPE);
  int supervised = SL__CONF_I(&env->conf, SUPERVISED) ||
                   (restart && *restart && strcmp(restart, "none"));
  for (int i = 0; supervised && i < env->n_ops; i++)
    if (env->ops[i]->sink && env->ops[i]->sink->ops->kind &&
        !strcmp(env->ops[i]->sink->ops->kind, "collect")) {
      env_err(env, "operator '%s': a collect sink keeps its records in this process; a "
                   "supervised job runs in a child process", env->ops[i]->name);
      return -SL_ECONFIG;
    }

  /* Plan the sources (file enumeration, splits): errors surface here. */
  int rc = 0, restoring = -1;
  for (int i = 0; i < env->n_ops && !rc; i++) {
    sl_source *src = env->ops[i]->source;
    if (src && src->ops->plan) {
      sl_ctx ctx;
      sl__ctx_main(&ctx, &env->conf, env->log_scope, env->ops[i]->name, P);
      if (restoring < 0) restoring = sl__ckpt_will_restore(&env->conf);
      ctx.restoring = restoring;
      rc = src->ops->plan(src->ud, &ctx);
      if (rc)
        env_err(env, "operator '%s': %s", env->ops[i]->name,
                ctx.msg[0] ? ctx.msg : sl_strerror(rc < 0 ? rc : -SL_EINTERNAL));
      if (rc > 0) rc = -SL_EINTERNAL;
    }
  }
  int64_t t0 = sl__now_ns();
  pthread_mutex_lock(&env->live_mu); /* sl_job_stats_get may read it meanwhile */
  memset(&env->stats, 0, sizeof env->stats);
  pthread_mutex_unlock(&env->live_mu);
  new_job_id(env->jid);
  env->start_ms = sl__clock_ms();
  env->end_ms = 0;
  env->state = SL__JOB_RUNNING;
  env->n_exc = 0;
  env->rest_fd = -1;
  env->stop_savepoint[0] = 0;
  if (!rc) { /* the REST server's socket, kept across a supervised job's attempts */
    char url[128];
    rc = sl__rest_listen(&env->conf, &env->rest_fd, url, sizeof url, env->err, sizeof env->err);
    if (!rc && env->rest_fd >= 0)
      sl__log(&env->conf.log, SL_LOG_INFO, env->log_scope,
              "REST API and dashboard at %s (job id %s)", url, env->jid);
  }
  sl_job_stats st;
  memset(&st, 0, sizeof st);
  if (!rc && supervised) {
    sl__supervised sv = {.conf = &env->conf, .log_scope = env->log_scope, .cancel = &env->cancel,
                         .attempt = run_here, .arg = env, .on_crash = on_crash, .stats = &st,
                         .err = env->err, .errcap = sizeof env->err};
    rc = sl__supervise(&sv);
  } else if (!rc) {
    rc = run_here(env, 0, &st, env->err, sizeof env->err);
  }
  if (env->rest_fd >= 0) close(env->rest_fd);
  env->rest_fd = -1;
  pthread_mutex_lock(&env->live_mu);
  env->stats = st;
  env->stats.parallelism = P;
  env->stats.seconds = (double)(sl__now_ns() - t0) / 1e9;
  pthread_mutex_unlock(&env->live_mu);
  if (rc && rc != -SL_ECANCELED && !env->err[0]) /* a path that forgot its message */
    env_err(env, "the job failed: %s (%s)", sl_strerror(rc), sl_err_name(rc));
  return rc;
}

void sl_stop(sl_env *env, int drain) {
  if (!env) return;
  int run = SL__RUN; /* the first request wins */
  atomic_compare_exchange_strong(&env->cancel, &run, drain ? SL__STOP_DRAIN : SL__STOP_NODRAIN);
}

void sl_cancel(sl_env *env) { sl_stop(env, 0); }

void sl_job_stats_get(const sl_env *env, sl_job_stats *stats) {
  if (!env || !stats) return;
  sl_env *e = (sl_env *)env; /* the mutex only */
  pthread_mutex_lock(&e->live_mu);
  sl__job *job = e->live_job;
  if (job && atomic_load_explicit(&job->live, memory_order_acquire)) {
    /* during the run: the counters so far (checkpoint figures at the end) */
    memset(stats, 0, sizeof *stats);
    sl__job_live_stats(job, stats);
    stats->seconds = (double)(sl__now_ns() - e->live_t0_ns) / 1e9;
  } else {
    *stats = e->stats;
  }
  pthread_mutex_unlock(&e->live_mu);
}

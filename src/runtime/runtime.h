/*
 * runtime.h -- the physical plan and the worker runtime (internal).
 *
 * Logical graph (built by src/api/graph.c):  sl__op nodes, each with input
 * edges that carry a partitioning (forward, rebalance, hash, broadcast,
 * global).  Ops are created after their inputs, so op->id is a topological
 * order ("rank").
 *
 * Physical plan (src/runtime/job.c):  P workers, one thread each.  Every
 * worker holds one instance (sl__inst, a "subtask") of every op.
 *   - A forward edge is a direct function call from the producer instance to
 *     the consumer instance on the same worker (operator chaining).
 *   - Any other edge is an exchange: P x P channels (sl__chan), one per
 *     (producer worker, consumer worker).  A channel is two SPSC rings: full
 *     batches go producer -> consumer, emptied batches come back.  At most
 *     execution.channel-capacity batches exist per channel, so memory is
 *     bounded and a slow consumer stops its producers (backpressure).
 *   - Records of an exchange for the consumer on the producer's own worker
 *     are a direct call, except on a hash edge into an op that takes runs
 *     of records (process_batch, to prefetch their state) once it asks for
 *     them (want_runs: its state outgrew the caches): then they go through
 *     the worker's channel to itself (sent at the end of each step).  A
 *     hash edge stays an exchange at P = 1 (one 1 x 1 channel), the other
 *     edges become forward edges.  Either way a keyed operator
 *     gets each record's key hash as computed by the producer to route it
 *     (inst->key_hash): keys are hashed once.
 *
 * Invariants
 *   1. An instance is only touched by its worker's thread.
 *   2. Pushing a batch into a channel's full ring never fails: the ring holds
 *      as many slots as the channel has batches.  Only acquiring an empty
 *      batch can wait.
 *   3. A worker that waits for an empty batch on an edge whose producer has
 *      rank r keeps draining its input channels whose consumer op has rank
 *      > r (never an op that may be on its call stack).  The worker blocked
 *      at the highest rank always finds its consumer draining, so no cycle
 *      of waits can form: the exchange graph is deadlock-free.
 *   4. Control events (end of input) travel in-band after the data of their
 *      channel; an instance ends when every one of its inputs has ended, then
 *      flushes and forwards the end to its outputs.
 *
 * Worker step loop (worker.c):  drain input channels -> poll sources -> send
 * timed-out batches -> if nothing happened, send all partial batches and park
 * (sl__worker_park).  A stop makes sources end (without drain: the end says
 * so and nothing fires); failure makes every worker stop.
 */
#ifndef SL_RUNTIME_H
#define SL_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/config.h"
#include "core/core.h"
#include "runtime/batch.h"
#include "runtime/ring.h"

typedef enum {
  SL__OP_SOURCE,
  SL__OP_MAP,
  SL__OP_FILTER,
  SL__OP_FLAT_MAP,
  SL__OP_PROCESS,
  SL__OP_KEY_BY,
  SL__OP_REDUCE,
  SL__OP_UNION,
  SL__OP_SINK,
  SL__OP_CONNECT,           /* two inputs, fn and fn2 */
  SL__OP_BROADCAST_CONNECT, /* input 0 any, input 1 broadcast; fn and fn2 */
  SL__OP_TIMESTAMPS,        /* timestamp assigner + watermark generator */
  SL__OP_KEYED_PROCESS,     /* fn + on_timer (fn2) */
  SL__OP_WINDOW,            /* window operator (cfg) */
  SL__OP_INTERVAL_JOIN,     /* two keyed inputs (cfg) */
  SL__OP_BATCH,             /* sl_flat_map_batch: runs of records per call */
  SL__OP_KEYED_BATCH        /* sl_keyed_process_batch: the same, keyed, timers */
} sl__op_kind;

typedef enum {
  SL__PART_FORWARD,
  SL__PART_REBALANCE,
  SL__PART_HASH,
  SL__PART_BROADCAST,
  SL__PART_GLOBAL
} sl__part;

typedef struct sl__op sl__op;
typedef struct sl__inst sl__inst;
typedef struct sl__worker sl__worker;
typedef struct sl__job sl__job;
typedef struct sl__chan sl__chan;
typedef struct sl__splits sl__splits;
struct sl__snap_extra; /* state/backend.h */

typedef struct sl__edge {
  sl__op *from;
  sl__part part;
  const char *tag; /* side output of `from` (owned by the op), NULL = main */
} sl__edge;

/* A record read from a batch with its key hash (batch.h). */
typedef struct sl__hrec {
  sl_record r;
  uint64_t hash;
} sl__hrec;

/* Records of one batch are handed over in runs of at most this many. */
#define SL__RUN_MAX 64

/* Per-kind behaviour of an operator instance. */
typedef struct sl__op_vt {
  int (*open)(sl__inst *inst);                        /* worker thread */
  /* a data record arriving on input `port` (the index of the op's input
   * edge: 0 for single-input ops, 0/1 for connect); on a hash edge
   * inst->key_hash is its key's hash */
  int (*process)(sl__inst *inst, int port, const sl_record *r);
  /* optional: a run of n (<= SL__RUN_MAX) records of one batch of an
   * exchange channel, in order, with their key hashes, so the operator
   * can work on several at once (prefetch their state); without it the
   * runtime calls process() for each */
  int (*process_batch)(sl__inst *inst, int port, const sl__hrec *v, uint32_t n);
  int (*finish)(sl__inst *inst);  /* every input ended; may still emit */
  /* the instance's event-time watermark advanced (fire timers, may emit);
   * the runtime forwards the watermark downstream afterwards */
  int (*on_watermark)(sl__inst *inst, int64_t wm);
  /* called every step of the worker loop (periodic watermarks, idleness,
   * processing-time timers); now in ms of wall-clock time */
  int (*tick)(sl__inst *inst, int64_t now_ms);
  /* checkpoints: operator-private bytes (e.g. a watermark generator's
   * state) saved with the instance, and loaded from the blobs of every
   * instance of the previous run (n of them, any parallelism) */
  int (*save)(sl__inst *inst, uint8_t *buf, size_t cap, size_t *len);
  int (*load)(sl__inst *inst, const uint8_t *const *blobs, const size_t *lens, int n);
  /* the operator makes its own watermarks and ignores its inputs' (a
   * timestamp assigner replaces upstream watermarks, as in Flink) */
  int own_watermarks;
  void (*close)(sl__inst *inst, int ok); /* after the workers joined */
  /* checkpoints of keyed state kept outside the backend (the window fast
   * path).  snapshot_extra: on the worker thread, when the keyed backend's
   * snapshot is taken, a frozen copy of that state (*out; NULL when it
   * holds nothing) -- a bulk copy, no state calls -- which the checkpoint
   * writer turns into the entries the backend would hold for it, in the
   * keyed image, on its own thread while the instance goes on
   * (sl__snap_extra in state/backend.h; the checkpoint owns and frees it).
   * So the image is the one the general path's state would give.
   * restored: take over what a restore put into the backend (after the
   * backend, timers and load). */
  int (*snapshot_extra)(sl__inst *inst, struct sl__snap_extra **out);
  int (*restored)(sl__inst *inst);
  /* optional: records the operator holds back (a batch op's pending run)
   * go out now -- the input gate calls it before a checkpoint barrier is
   * snapshotted and forwarded, and the worker before the instance's
   * watermark moves (worker.c: set_watermark), so no held record passes a
   * barrier or a watermark, and each sees the watermark it came under */
  int (*flush_held)(sl__inst *inst);
} sl__op_vt;

struct sl__op {
  int id; /* creation order = topological rank */
  sl__op_kind kind;
  const sl__op_vt *vt; /* the kind's behaviour, bound when the graph is built */
  char *name;
  void *fn;
  void *fn2; /* second input's function (connect), on_timer */
  void *ud;
  void *cfg; /* kind-specific configuration (owned): strategy, window spec */
  void (*cfg_free)(void *cfg);
  sl_source *source;
  sl_sink *sink;
  sl__edge *in;
  int n_in;
  int keyed;       /* output is keyed (key_by): consumers get hash edges */
  int nonparallel; /* a source that runs on subtask 0 only */
  int keyed_input; /* reads a keyed stream: has keyed state */
  /* rich functions (sl_rich): per-subtask open/close of the user code */
  sl_open_fn user_open;
  sl_close_fn user_close;
  void *user_ud;
};

/* One output of an instance: a direct call or an exchange. */
typedef struct sl__out {
  sl__part part;
  sl__inst *target;   /* forward: the consumer instance on this worker */
  int port;           /* forward: the input port at target */
  int chan;           /* forward: the input channel index at target */
  const char *tag;    /* side output name, NULL = the main output */
  struct sl__exchange *x; /* otherwise: the exchange of this edge */
  uint32_t rr;        /* rebalance cursor */
  /* exchange: the consumer instance on this same worker and its input
   * channel from this producer -- records routed to it are a direct call,
   * not a copy through a channel to the same thread */
  sl__inst *self;
  int self_chan;
  /* a hash edge into an op with process_batch: once the consumer asks for
   * runs (self->want_runs), records for it on this worker go through its
   * channel too, so they come in runs */
  int batched;
  int direct; /* a hash edge at P = 1: to `self` (directly unless runs) */
} sl__out;

/* Records of hash output o for the consumer on this worker go through
 * the channel (not a direct call).  Switches only from 0 to 1, so nothing
 * overtakes what went directly before. */
#define sl__out_runs(o) ((o)->batched && (o)->self->want_runs)

struct sl__chan {
  sl__ring full;   /* producer -> consumer */
  sl__ring free;   /* consumer -> producer */
  sl__batch *cur;  /* producer: batch being filled */
  int allocated;   /* producer: batches created so far */
  int limit;       /* batches this channel may hold */
  sl__inst *target;/* consumer instance */
  int port;        /* input port at target */
  int chan;        /* input channel index at target (watermarks) */
  sl__batch *parked; /* consumer: batch stopped at a barrier (alignment) */
  uint32_t parked_off;
  sl__worker *consumer;
  sl__worker *producer;
  sl__inst *src;   /* producer instance (its bytes_out) */
  int ended;       /* consumer: END seen */
};

typedef struct sl__exchange {
  sl__part part;
  sl__op *from, *to;
  sl__chan *ch; /* [p * P + c] */
} sl__exchange;

/* Metrics of an operator instance (Flink's operator/task metrics).  The
 * owning worker counts in the plain fields (one add per record: no atomic
 * on the record path) and publishes them into the atomics every
 * SL__METRICS_PUBLISH_NS (sl__metrics_publish, metrics.c), with per-second
 * rates every second; other threads read only the published ones
 * (relaxed loads), so what they see lags by at most that period. */
typedef struct sl__imetrics {
  uint64_t in, out;             /* records received / emitted */
  uint64_t bytes_in, bytes_out; /* bytes through exchange channels (batches) */
  int64_t bp_ns;   /* waiting for an empty batch on an output (backpressure) */
  int64_t wm_out;  /* the last watermark sent downstream */
  /* the owner's marks at the last per-second computation */
  uint64_t last_in, last_out, last_bytes_in, last_bytes_out;
  int64_t last_bp_ns;
  /* published */
  _Atomic uint64_t p_in, p_out, p_bytes_in, p_bytes_out;
  _Atomic int64_t p_bp_ns, p_wm_in, p_wm_out;
  _Atomic double p_in_rate, p_out_rate, p_bytes_in_rate, p_bytes_out_rate,
      p_bp_ms; /* per second */
  _Atomic int p_state; /* SL__SUB_RUNNING, SL__SUB_FINISHED */
  /* its states' entries and bytes (once a second; the first
   * SL__STATE_METRICS states): names set once, before n_states counts them */
  struct {
    const char *name; /* borrowed from the keyed state */
    _Atomic uint64_t entries, bytes;
  } states[8];
  _Atomic int n_states;
  /* sources: per split (sl_ctx_split_metrics; the first SL__SPLIT_METRICS
   * splits: an id set once, before n_splits counts it) */
  struct {
    uint64_t id;
    _Atomic uint64_t records;
    _Atomic int64_t pending;
  } splits[16];
  _Atomic int n_splits;
} sl__imetrics;
#define SL__STATE_METRICS 8
#define SL__SPLIT_METRICS 16
enum { SL__SUB_CREATED = 0, SL__SUB_RUNNING = 1, SL__SUB_FINISHED = 2 };
#define SL__METRICS_PUBLISH_NS 100000000LL /* 100 ms */

/* The context handed to user callbacks (sl_ctx in the public API). */
/* The context of user functions and connectors.  On a worker it belongs to
 * an instance (inst); the contexts of connector calls on the thread of
 * sl_execute (plan, recover, commit: sl__ctx_main) have inst NULL and
 * subtask -1. */
struct sl_ctx {
  sl__inst *inst;
  int subtask;
  int parallelism;
  const char *name;
  const sl__conf *conf;
  const char *log_scope; /* the job's scope for sl_ctx_log */
  void *scratch;       /* sl__ctx_buf: the runtime's own growable buffer */
  size_t scratch_cap;
  /* sl_ctx_scratch: a bump arena; a block that filled up waits in
   * arena_old until the next user call begins (sl__user_call) */
  uint8_t *arena;
  size_t arena_used, arena_cap;
  void *arena_old;
  void *local;     /* sl_ctx_set_local */
  int user_opened; /* the op's user open ran and succeeded */
  int64_t ckpt_taking; /* in a source's position: the checkpoint's id; else 0 */
  int restoring;       /* a planning context of a run that restores (sl_ctx_restoring) */
  char decline[256];   /* sl_ctx_decline_checkpoint's reason, read after position */
  char msg[1024]; /* set by sl_ctx_fail (and sl_ctx_error without an instance) */
};

struct sl_collector {
  sl__inst *inst;
};

struct sl__inst {
  sl__op *op;
  const sl__op_vt *vt;
  sl__worker *w;
  sl__job *job;
  struct sl_ctx ctx;
  struct sl_collector coll;
  sl__out *outs;
  int n_outs;
  /* the one output when it is a forward edge without a tag (most chains):
   * sl__emit calls it without looking at outs (NULL otherwise) */
  sl__inst *fwd;
  int fwd_port, fwd_chan;
  sl__out *hout; /* likewise the one output when it is a hash edge (key_by) */
  int n_inputs; /* input channels: forward edges count 1, exchanges P */
  /* the key hash of the record being processed (hash edges: computed by
   * the producer to route it, never again) */
  uint64_t key_hash;
  /* an op with process_batch wants its records in runs on every input,
   * also from its own worker: set (never reset) by its keyed state once
   * that outgrows the CPU caches, where prefetching pays for the copy */
  int want_runs;
  int n_ended;
  int ended;
  int nodrain;  /* an input ended by a stop without drain (cancel): no final
                 * watermark, and the end forwarded says so too */
  /* event time: per input channel the last watermark, idle and ended
   * flags (SL__ENDED, SL__ENDED_NODRAIN); the instance's watermark is the
   * minimum over the channels that are neither idle nor at their end
   * (invariant: it never decreases) */
  int64_t *wm_in;
  uint8_t *in_idle, *in_ended;
  int64_t wm;
  int idle_out;   /* told downstream that this instance is idle */
  struct sl__timers *timers; /* keyed operators with timers */
  sl__splits *splits; /* sources: per-split watermarks (sl_ctx_split_*) */
  /* checkpoints (src/checkpoint/checkpoint.c) */
  int64_t ckpt_id;     /* last barrier aligned / checkpoint snapshotted */
  /* input gate (input_gate.c) */
  int64_t align_id;    /* barrier being aligned, 0 = none */
  int64_t align_start_ns;
  uint8_t *ch_barrier; /* per input channel: barrier align_id seen */
  int n_barrier;
  int *chan_port;      /* input channel -> port */
  sl__batch **hold;    /* per forward channel: entries after its barrier */
  void *impl;   /* per-kind state: source reader, sink writer, reduce state */
  struct sl__kstate *ks; /* keyed state (keyed_input ops), else NULL */
  struct sl__kstate *os; /* operator state (created on first use) */
  struct sl__kstate *bs; /* broadcast state (broadcast connect) */
  sl__imetrics m; /* metrics (metrics.c) */
  /* written by the owning worker only (sl__count: a relaxed load and
   * store, no read-modify-write) and read live by other threads */
  _Atomic uint64_t n_late_dropped; /* late records without a side output (ops.h) */
};

struct sl__worker {
  _Alignas(64) int index; /* each worker on its own cache lines */
  sl__job *job;
  pthread_t thread;
  sl__inst *insts; /* [op id] */
  int n_live;      /* instances not yet ended */
  sl__chan **in;   /* channels this worker consumes, by consumer rank */
  int n_in;
  sl__chan **out;  /* channels this worker produces into */
  int n_out;
  sl__chan **self; /* of those, the ones it consumes itself (hash edges) */
  int n_self;
  int64_t now_ns;  /* refreshed once per step */
  int rc;          /* first error of this worker */
  /* parking (worker.c): a worker with nothing to do sleeps in poll() on
   * its eventfd (and its sources' descriptors); producers and consumers
   * that hand it a batch write the eventfd when `parked` is set */
  _Atomic int parked;
  int efd;
  /* metrics (metrics.c): time parked or yielding with nothing to do; the
   * owner's marks and what it published */
  int64_t idle_ns, start_ns, pub_next_ns, sec_next_ns, last_sec_ns, last_idle_ns,
      last_bp_ns;
  _Atomic int64_t p_idle_ns, p_bp_ns, p_elapsed_ns;
  _Atomic double p_idle_ms, p_busy_ms, p_bp_ms; /* per second */
};

/* What the layers above plug into a job (bound by the caller of
 * sl__job_run, so the runtime never calls upward): checkpointing, and the
 * states' figures for the metrics.  Every slot may be NULL. */
typedef struct sl__job_hooks {
  int (*start)(sl__job *job);   /* instances opened, workers not started */
  int (*restore)(sl__job *job); /* then: load the checkpoint to resume from */
  int (*worker_step)(sl__worker *w); /* every step of every worker (job->ckpt set) */
  /* inst aligned barrier id (input_gate.c): snapshot it, before the barrier
   * goes on; align_start_ns: when its first barrier came */
  int (*aligned)(sl__inst *inst, int64_t id, int64_t align_start_ns);
  /* workers joined: the final checkpoint when ok, then release (0 or the
   * final checkpoint's error, recorded with sl__fail) */
  int (*stop)(sl__job *job, int ok);
  /* metrics: each state of inst with its entries and bytes (its worker's
   * thread, once a second) */
  void (*state_stats)(sl__inst *inst,
                      void (*fn)(void *ud, const char *state, uint64_t entries, uint64_t bytes),
                      void *ud);
} sl__job_hooks;

/* Checkpoint statistics of a job (Flink's /jobs/:id/checkpoints), written
 * by the checkpoint layer (sl__ckstats_*, metrics.c) and read by any
 * thread, under mu.  History: a ring of the newest `cap` checkpoints. */
#define SL__CKPT_HISTORY_MAX 128
enum { SL__CK_IN_PROGRESS = 0, SL__CK_COMPLETED = 1, SL__CK_FAILED = 2 };
typedef struct sl__ckpt_rec {
  int64_t id;
  int status; /* SL__CK_* */
  int savepoint;
  int64_t trigger_ms, ack_ms; /* wall clock (sl__clock_ms) */
  int64_t align_ms;           /* the longest alignment of any subtask */
  uint64_t size;              /* bytes written */
  int n_subtasks, n_acked;
  char path[512];
  char failure[256];
} sl__ckpt_rec;
typedef struct sl__ckpt_stats {
  pthread_mutex_t mu;
  int64_t total, completed, failed;
  sl__ckpt_rec hist[SL__CKPT_HISTORY_MAX];
  int cap, n, next; /* hist[next - 1] is the newest */
  int restored, restored_savepoint;
  int64_t restored_id, restored_ms;
  char restored_path[512];
} sl__ckpt_stats;
/* The k-th newest record of the history (k from 1 to cs->n). */
static inline sl__ckpt_rec *sl__ckstats_nth(const sl__ckpt_stats *cs, int k) {
  return (sl__ckpt_rec *)&cs->hist[(cs->next - k + SL__CKPT_HISTORY_MAX) % SL__CKPT_HISTORY_MAX];
}

struct sl__job {
  sl_env *env;
  const sl__job_hooks *hooks;
  const sl__conf *conf;
  const char *name;     /* the job_name given to sl_execute ("" if none) */
  const char *log_scope; /* "job '<name>'": the scope of the job's messages */
  int P;
  int max_parallelism;
  uint32_t batch_size;
  int64_t buffer_timeout_ns;
  sl__op **ops;
  int n_ops;
  sl__worker *workers;
  sl__exchange *xs;
  int n_xs;
  int has_ticks; /* some operator has a tick() */
  struct sl__ckpt *ckpt; /* checkpointing, NULL when off */
  int64_t env_ckpt_completed; /* completed checkpoints, for the stats */
  double ckpt_pct[4];         /* align p50/p99, checkpoint p50/p99 (ms) */
  double restore_ms;          /* time sl__ckpt_restore took */
  _Atomic int failed;
  int started; /* the workers run (set before they start; sources opened and
                * restored before it send no watermarks: sl__splits_flush) */
  /* the plan exists and its counters may be read (sl_job_stats_get during
   * the run; whoever reads keeps sl__job_release from running meanwhile) */
  _Atomic int live;
  _Atomic int *cancel; /* the environment's flag (sl_cancel, signals) */
  sl__ckpt_stats *cstats; /* NULL: not kept (set by the caller of sl__job_run) */
  /* stop with a savepoint (REST): the final checkpoint is written there
   * (set before the stop request; NULL: into the checkpoint directory) */
  _Atomic(const char *) final_savepoint;
  pthread_mutex_t mu; /* guards err and the dead-letter file */
  int err_rc;
  char err[2048];
  int dl_fd;
  _Atomic uint64_t dead_letters;
};

/* --- used by operators and connectors --------------------------------- */

/* Add n to a counter only its owner writes (others read it live). */
static inline void sl__count(_Atomic uint64_t *c, uint64_t n) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                        memory_order_relaxed);
}

/* A user callback (or connector call) on ctx is about to run: what
 * sl_ctx_scratch handed out before is free again (scratch.c). */
void sl__arena_trim(sl_ctx *ctx);
static inline void sl__user_call(sl_ctx *ctx) {
  if (SL__UNLIKELY(ctx->arena_old != NULL)) sl__arena_trim(ctx);
  ctx->arena_used = 0;
}
/* A growable buffer of at least size bytes owned by ctx, for the runtime
 * and operators themselves (never handed to user code). */
void *sl__ctx_buf(sl_ctx *ctx, size_t size);

/* Log a message of the job (scope "job '<name>'") through the
 * environment's logger (core/log.h). */
#define sl__job_log(job, level, ...) \
  sl__log(&(job)->conf->log, (level), (job)->log_scope, __VA_ARGS__)

/* Send a record to every output of `inst` (sl__emit_outs: the general
 * case; the single forward output is called directly). */
int sl__emit_outs(sl__inst *inst, const sl_record *r);
static inline int sl__held(const sl__inst *target, int chan);
int sl__xchg_hash(sl__inst *inst, sl__out *o, const sl_record *r, uint64_t hash);
/* (always inlined: it is most operators' whole per-record output path) */
static inline __attribute__((always_inline)) int sl__emit(sl__inst *inst,
                                                          const sl_record *r) {
  sl__inst *t = inst->fwd;
  inst->m.out++;
  if (SL__LIKELY(t != NULL) && !sl__held(t, inst->fwd_chan)) {
    t->m.in++;
    return t->vt->process(t, inst->fwd_port, r);
  }
  sl__out *o = inst->hout;
  if (o) {
    uint64_t hash = sl__key_hash(r->key, r->key_len);
    if (o->direct && !sl__out_runs(o) && !sl__held(o->self, o->self_chan)) {
      o->self->key_hash = hash; /* P = 1: to the consumer directly */
      o->self->m.in++;
      return o->self->vt->process(o->self, o->port, r);
    }
    return sl__xchg_hash(inst, o, r, hash);
  }
  return sl__emit_outs(inst, r);
}
/* Sources: send (sl__emit counts). */
static inline int sl__source_emit(sl__inst *inst, const sl_record *r) {
  return sl__emit(inst, r);
}
/* Record the job's failure (the first one wins) with a message that names
 * the operator and subtask; returns rc (negative) for `return sl__fail(..)`.
 */
int sl__fail(sl__inst *inst, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A connector call (or a source's poll) returned rc < 0: record the
 * failure with the message the connector left with sl_ctx_fail (or rc's
 * name) unless the job already failed (sl_ctx_error, or a failure passing
 * up from downstream).  Returns rc. */
int sl__conn_fail(sl__inst *inst, int rc);
/* The job's error message as recorded so far, into buf. */
void sl__job_error_copy(sl__job *job, char *buf, size_t cap);
/* The same for a failure of the job as a whole (the checkpoint
 * coordinator's): the message names the job ("job '<name>': ..."). */
int sl__job_fail(sl__job *job, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A bad record: written to pipeline.dead-letter.path when configured
 * (returns 0, the caller goes on), else fails the job with the message
 * "<where>: <reason>" (returns -SL_EBADREC). */
int sl__bad_record(sl__inst *inst, const char *where, const char *reason,
                   const void *rec, size_t len);
/* The environment's stop request (sl_cancel, sl_stop, SIGINT/SIGTERM). */
enum { SL__RUN = 0, SL__STOP_NODRAIN = 1, SL__STOP_DRAIN = 2 };
enum { SL__ENDED = 1, SL__ENDED_NODRAIN = 2 }; /* sl__inst.in_ended[c] */
static inline int sl__cancelled(const sl__inst *inst) {
  return atomic_load_explicit(inst->job->cancel, memory_order_relaxed);
}
static inline int sl__failed(const sl__job *job) {
  return atomic_load_explicit(&job->failed, memory_order_relaxed);
}
/* Wait a little when there is nothing to do (spins, then parks the
 * worker: see sl__worker_park); the time yielded or parked is added to
 * *waited_ns (idle or backpressured time, for the metrics). */
void sl__backoff(sl__worker *w, unsigned *idle, sl__ring *also, int min_rank,
                 int64_t *waited_ns);
/* Sleep until woken (sl__worker_wake), a source descriptor is readable, or
 * a short timeout passes.  Returns at once if a batch is waiting in `also`
 * (NULL: none) or on an input channel into an op of rank > min_rank, or
 * the job failed. */
void sl__worker_park(sl__worker *w, sl__ring *also, int min_rank, int timeout_ms);
/* Wake w if it is parked (after handing it a batch).  No syscall unless it
 * sleeps. */
static inline void sl__worker_wake(sl__worker *w) {
  atomic_thread_fence(memory_order_seq_cst); /* pairs with park's fence */
  if (SL__UNLIKELY(atomic_load_explicit(&w->parked, memory_order_relaxed))) {
    uint64_t one = 1;
    ssize_t n = write(w->efd, &one, sizeof one);
    (void)n;
  }
}
void sl__job_wake_all(sl__job *job);


/* supervisor.c: run attempts of a job in child processes under the restart
 * strategy.  attempt() runs the whole job in the calling (child) process;
 * n counts the restarts before it (n > 0: resume from the latest
 * checkpoint).  Returns the last attempt's code; stats and err are the
 * last attempt's (err: why the job failed, with the strategy's verdict). */
typedef struct sl__supervised {
  const sl__conf *conf;
  const char *log_scope; /* scope of its messages (the job's) */
  _Atomic int *cancel;
  int (*attempt)(void *arg, int n, sl_job_stats *stats, char *err, size_t errcap);
  void *arg;
  /* a crashed attempt, before the strategy decides (may be NULL) */
  void (*on_crash)(void *arg, const char *why);
  sl_job_stats *stats;
  char *err;
  size_t errcap;
} sl__supervised;
int sl__supervise(const sl__supervised *sv);

/* --- input gate (input_gate.c): control events and barrier alignment ---- */
/* A control event on input channel chan of inst (one dispatch for every
 * path: exchange channels, forward calls, replay after alignment). */
int sl__inst_ctrl(sl__inst *inst, int chan, uint32_t kind, int64_t payload);
int sl__inst_barrier(sl__inst *inst, int chan, int64_t id);
/* an input channel ended: alignment may be complete */
int sl__inst_gate_ended(sl__inst *inst);
/* Forward edges: entries for a channel blocked by alignment are held. */
static inline int sl__held(const sl__inst *target, int chan) {
  return SL__UNLIKELY(target->align_id != 0) && target->ch_barrier[chan];
}
int sl__hold(sl__inst *target, int chan, const sl_record *r, uint64_t hash, uint32_t kind);
/* A record (with its key hash) or a control event to target's input
 * channel chan by direct call -- forward edges, an exchange's consumer on
 * the same worker -- or into the hold while that channel is aligned. */
static inline int sl__deliver(sl__inst *t, int chan, int port, const sl_record *r,
                              uint64_t hash) {
  t->m.in++;
  if (SL__UNLIKELY(sl__held(t, chan))) return sl__hold(t, chan, r, hash, 0);
  t->key_hash = hash;
  return t->vt->process(t, port, r);
}
static inline int sl__deliver_ctrl(sl__inst *t, int chan, uint32_t kind, int64_t payload) {
  if (sl__held(t, chan)) {
    sl_record e = {payload, NULL, 0, NULL, 0};
    return sl__hold(t, chan, &e, 0, kind);
  }
  return sl__inst_ctrl(t, chan, kind, payload);
}
int sl__gate_init(sl__inst *inst); /* plan */
void sl__gate_free(sl__inst *inst);

/* --- runtime internals ------------------------------------------------ */
/* Input channel `chan` ended; nodrain: by a stop without drain. */
int sl__inst_input_ended(sl__inst *inst, int chan, int nodrain);
int sl__inst_watermark(sl__inst *inst, int chan, int64_t wm);
/* A source's own watermark and idleness (per-split watermarks,
 * connector_api.c): the watermark goes downstream when it rises, the
 * idleness when it changes. */
int sl__source_watermark(sl__inst *inst, int64_t wm, int idle);
/* Frees a source instance's per-split watermarks. */
void sl__splits_free(sl__inst *inst);
/* Sends what the splits' watermarks reported before the workers started
 * (in open or seek, when the operators downstream may not be open yet);
 * the worker calls it before a source's first poll. */
int sl__splits_flush(sl__inst *inst);
/* A context for connector calls on the thread of sl_execute (plan,
 * recover, commit): no instance, subtask -1. */
void sl__ctx_main(sl_ctx *ctx, const sl__conf *conf, const char *log_scope, const char *name,
                  int parallelism);
int sl__inst_idle(sl__inst *inst, int chan, int idle);
/* Send a control event to every output (all channels of exchanges). */
int sl__emit_ctrl(sl__inst *inst, uint32_t kind, int64_t payload);
/* Side output: records to the outputs tagged `tag`. */
int sl__emit_tagged(sl__inst *inst, const char *tag, const sl_record *r);
int sl__inst_end(sl__inst *inst);
int sl__xchg_write(sl__inst *inst, sl__out *o, const sl_record *r);
/* (sl__xchg_hash, above sl__emit: the same for a hash edge.) */
/* Records in w's channels to itself (hash edges between its own
 * instances) go to its next drain. */
void sl__xchg_flush_self(sl__worker *w);
int sl__xchg_ctrl(sl__inst *inst, sl__out *o, uint32_t kind, int64_t payload);
void sl__xchg_flush(sl__chan *ch, int64_t older_than_ns);
int sl__worker_drain(sl__worker *w, int min_rank, int *did);
int sl__job_run(sl__job *job);
/* after sl__job_run: the job's counters, then free the physical plan */
void sl__job_collect_stats(sl__job *job, sl_job_stats *st);
/* During the run, from any thread while job->live: the counters only
 * (records in and out, late records dropped, dead letters). */
void sl__job_live_stats(sl__job *job, sl_job_stats *st);
void sl__job_release(sl__job *job);
void *sl__worker_main(void *arg); /* a worker thread (worker.c) */

/* --- metrics (metrics.c) ---------------------------------------------- */
/* The owner publishes w's instances' counters (every
 * SL__METRICS_PUBLISH_NS, and with force at its end); per-second figures
 * once a second. */
void sl__metrics_publish(sl__worker *w, int64_t now_ns, int force);
static inline void sl__metrics_tick(sl__worker *w, int64_t now_ns) {
  if (SL__UNLIKELY(now_ns >= w->pub_next_ns)) sl__metrics_publish(w, now_ns, 0);
}
/* Checkpoint statistics (no-ops when job->cstats is NULL). */
void sl__ckstats_begin(sl__job *job, int64_t id, int savepoint, const char *path, int n_subtasks);
void sl__ckstats_ack(sl__job *job, int64_t id);
void sl__ckstats_done(sl__job *job, int64_t id, uint64_t size, int64_t align_ns);
void sl__ckstats_fail(sl__job *job, int64_t id, const char *why);
void sl__ckstats_restored(sl__job *job, int64_t id, const char *path, int savepoint);

/* What an instance published, read from any thread while job->live. */
typedef struct sl__inst_metrics {
  uint64_t in, out, bytes_in, bytes_out, late_dropped;
  double in_rate, out_rate;       /* records per second */
  double bytes_in_rate, bytes_out_rate;
  double bp_ms, busy_ms, idle_ms; /* per second: its own backpressure, its
                                   * worker's busy and idle time */
  double acc_bp_ms, acc_busy_ms, acc_idle_ms; /* since the start */
  int64_t wm_in, wm_out; /* SL_WATERMARK_MIN: none yet */
  int state;             /* SL__SUB_* */
} sl__inst_metrics;
void sl__inst_metrics_get(const sl__inst *inst, sl__inst_metrics *m);

#endif

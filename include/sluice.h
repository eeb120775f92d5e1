/*
 * sluice.h -- the whole public API of libsluice, and its specification.
 *
 * sluice runs dataflow jobs over bounded and unbounded streams on every core
 * of one machine, in the spirit of Apache Flink's DataStream API.  A program
 *
 *   1. creates an environment (sl_env_new) and configures it by string
 *      key/value (sl_env_set; `sluice conf --list` prints every key),
 *   2. builds a graph: sources -> transformations -> sinks,
 *   3. runs it with sl_execute(), which returns when every bounded source is
 *      exhausted and every sink is flushed, or when the job is cancelled or
 *      fails,
 *   4. frees the environment (sl_env_free), which frees everything the graph
 *      owns.
 *
 * Conventions (they hold for every function below unless it says otherwise)
 *
 *   - Functions returning `int` return 0 on success or a negative SL_E* code
 *     (e.g. -SL_EINVAL).  sl_strerror(rc) names it; sl_env_last_error(env)
 *     holds the human message of the last failure (what, where, what to do).
 *   - Functions returning a pointer return NULL on failure; the reason is in
 *     sl_env_last_error() when an environment is involved.  Graph-building
 *     functions accept NULL inputs and then return NULL too, so a chain of
 *     calls can be checked once at the end (sl_execute fails with SL_EINVAL
 *     if any step of the chain failed).
 *   - Ownership: sl_source/sl_sink objects are created free-standing and are
 *     taken over by the environment when passed to sl_source_stream()/
 *     sl_sink_to(); from then on the environment frees them (also when the call
 *     fails).  sl_stream handles belong to their environment and live until
 *     sl_env_free.  `const char *` and buffer arguments are copied unless
 *     stated otherwise.  sl_collect objects belong to the caller.
 *   - Threads: an sl_env is built and executed from one thread.  User
 *     callbacks run on worker threads; each parallel instance (subtask) of an
 *     operator is only ever called from one thread at a time, so per-subtask
 *     state needs no locks, but `ud` pointers shared by all subtasks must be
 *     read-only or synchronised by the user.  sl_cancel() may be called from
 *     any thread and from a signal handler.
 *   - Records handed to callbacks are borrowed views, valid only for the
 *     duration of the call.  Emit a record by value (sl_emit copies it).
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SL_VERSION_MAJOR 0
#define SL_VERSION_MINOR 1
#define SL_VERSION_PATCH 0
#define SL_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* X-macro list: one place for names, codes and messages. */
#define SL_ERRNO_MAP(XX)                                                      \
  XX(EINVAL, 1, "invalid argument")                                          \
  XX(ENOMEM, 2, "out of memory")                                             \
  XX(EIO, 3, "input/output error")                                           \
  XX(ENOENT, 4, "no such file or directory")                                 \
  XX(EBADREC, 5, "malformed record")                                         \
  XX(EUSER, 6, "user function failed")                                       \
  XX(ECANCELED, 7, "job cancelled")                                          \
  XX(ECONN, 8, "connection failed")                                          \
  XX(ECONFIG, 9, "invalid configuration")                                    \
  XX(ESTATE, 10, "state error")                                              \
  XX(EINTERNAL, 11, "internal error")                                        \
  XX(ETIMEDOUT, 12, "timed out")

typedef enum {
#define SL__ERR_ENUM(name, code, msg) SL_##name = code,
  SL_ERRNO_MAP(SL__ERR_ENUM)
#undef SL__ERR_ENUM
} sl_errno;

/* Message for an error code (accepts either sign).  Static string. */
const char *sl_strerror(int rc);
/* Symbolic name ("SL_EINVAL") for an error code.  Static string. */
const char *sl_err_name(int rc);

/* Library version, "MAJOR.MINOR.PATCH".  Static string. */
const char *sl_version(void);

/* Memory hooks: every allocation of the library goes through these.  Set
 * them before creating any environment; NULL restores libc.  Used by the
 * tests to fail allocations on purpose. */
typedef struct sl_allocator {
  void *(*malloc_fn)(size_t size);
  void *(*realloc_fn)(void *ptr, size_t size);
  void (*free_fn)(void *ptr);
} sl_allocator;
void sl_set_allocator(const sl_allocator *alloc);

/* ------------------------------------------------------------------------ */
/* Records                                                                   */
/* ------------------------------------------------------------------------ */

/* Timestamp of a record that has none (Flink's Long.MIN_VALUE). */
#define SL_NO_TIMESTAMP INT64_MIN

/* A record: event timestamp in milliseconds, optional key, value bytes.
 * In a callback argument it is a borrowed view: the pointed-to bytes live
 * until the callback returns.  Records built by user code point to memory
 * that the user keeps alive until the sl_emit / return that hands it over.
 * key_len == 0 means "no key"; value may be NULL when value_len == 0. */
typedef struct sl_record {
  int64_t ts;
  const void *key;
  uint32_t key_len;
  const void *value;
  uint32_t value_len;
} sl_record;

/* ------------------------------------------------------------------------ */
/* Environment and configuration                                             */
/* ------------------------------------------------------------------------ */

typedef struct sl_env sl_env;
typedef struct sl_stream sl_stream;
typedef struct sl_source sl_source;
typedef struct sl_sink sl_sink;
typedef struct sl_ctx sl_ctx;
typedef struct sl_collector sl_collector;

/* New environment with every key at its default.  NULL on out-of-memory. */
sl_env *sl_env_new(void);
/* Frees the environment, its graph, and every source/sink it took over.
 * Not while sl_execute runs.  NULL is a no-op. */
void sl_env_free(sl_env *env);

/* Set configuration key `key` to `value` (both copied).  Values are parsed
 * by the key's type: int ("4"), bool ("true"/"false"), duration ("100ms",
 * "10s", "1m", a bare number is milliseconds), size ("32kb", "1mb", bytes
 * when bare), string.  Returns -SL_ECONFIG for an unknown key or a value
 * that does not parse or is out of range (message in sl_env_last_error).
 * A failed key that is not set right afterwards makes sl_execute refuse to
 * run (-SL_EINVAL, naming the key): a typo never runs with defaults. */
int sl_env_set(sl_env *env, const char *key, const char *value);
/* Current value of `key` as text, or NULL for an unknown key.  The string
 * is owned by env and valid until the next sl_env_set of that key. */
const char *sl_env_get(sl_env *env, const char *key);
/* Parse "key=value" and set it (the CLI's -D). */
int sl_env_set_kv(sl_env *env, const char *kv);

/* The last error message of this environment ("" if none).  Owned by env,
 * valid until the next call on env. */
const char *sl_env_last_error(const sl_env *env);

/* ------------------------------------------------------------------------ */
/* Logging                                                                   */
/* ------------------------------------------------------------------------ */

/* The library never writes to stderr by itself: everything it has to say
 * outside an error return (a checkpoint restored, a damaged checkpoint
 * skipped, a savepoint written, a supervised job restarted ...) goes to the
 * environment's logger as one levelled message.  Levels are syslog's
 * numbers; a smaller number is more severe. */
typedef enum {
  SL_LOG_ERROR = 3, /* something failed that the job cannot hide */
  SL_LOG_WARN = 4,  /* the job goes on, but not as asked (a damaged
                     * checkpoint skipped, a restart, a file left alone) */
  SL_LOG_INFO = 6,  /* a notable event (a checkpoint restored, a savepoint) */
  SL_LOG_DEBUG = 7  /* per-checkpoint detail */
} sl_log_level;

/* A log callback.  `scope` says where the message comes from, e.g.
 * "job 'window-agg'" (the job_name given to sl_execute) or "supervisor";
 * it may be "" but never NULL.  `msg` is one line without a trailing
 * newline.  Both strings are borrowed, valid only during the call.
 *
 * Threads: the callback may be called from the thread that runs
 * sl_execute, from any worker thread, from the checkpoint writer threads
 * and -- for a supervised job (execution.supervised) -- from the child
 * process that runs an attempt; calls may be concurrent, so the callback
 * must be thread-safe.  It must not call any function of this library on
 * the environment (nor free it), and should return quickly: a worker
 * waits for it. */
typedef void (*sl_log_fn)(void *ud, sl_log_level level, const char *scope,
                          const char *msg);

/* Route the environment's messages to fn(ud, ...); fn NULL restores the
 * default logger, which writes each message as one line to stderr:
 *
 *   2026-11-30 02:15:01.123 INFO  sluice job 'window-agg': restored ...
 *
 * (local time, level, "sluice", the scope, the message).  Messages less
 * severe than the key log.level (error|warn|info|debug, default info) are
 * dropped before either is called.  fn and ud are borrowed: they must stay
 * valid until the environment is freed or the logger replaced.  Not while
 * sl_execute runs.  A process-wide event without an environment (a crash
 * test's fault injection point firing) always goes to the default logger. */
void sl_env_set_logger(sl_env *env, sl_log_fn fn, void *ud);

/* Configuration key table, for tools: iterate i = 0.. until NULL. */
typedef struct sl_config_key {
  const char *key;
  const char *type;     /* "int" "bool" "duration" "size" "string" */
  const char *deflt;    /* default as text */
  const char *doc;
} sl_config_key;
const sl_config_key *sl_config_key_at(size_t i);

/* ------------------------------------------------------------------------ */
/* Operator context (passed to every user callback)                          */
/* ------------------------------------------------------------------------ */

/* Index of this parallel instance, 0 .. parallelism-1. */
int sl_ctx_subtask(const sl_ctx *ctx);
/* Number of parallel instances of the operator. */
int sl_ctx_parallelism(const sl_ctx *ctx);
/* Name of the operator (static for the job's lifetime). */
const char *sl_ctx_operator(const sl_ctx *ctx);
/* Scratch memory of at least `size` bytes (16-byte aligned) owned by this
 * operator instance.  Every call returns memory of its own -- a key and a
 * value built in two calls never overlap -- and all of it stays valid
 * until the next callback on this instance begins (so a record built in
 * it may be returned or emitted; a source's poll is one callback).  NULL
 * on out-of-memory. */
void *sl_ctx_scratch(sl_ctx *ctx, size_t size);
/* Attach a message to the failure a callback is about to return; the job's
 * error then reads "operator 'NAME' (subtask i/P) failed on record ...:
 * MESSAGE".  printf-style.  Returns -SL_EUSER for convenience. */
int sl_ctx_fail(sl_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* This subtask's own pointer for the user functions of its operator (Flink:
 * a field of a RichFunction instance): NULL until set, typically by the
 * operator's open function (sl_rich); owned by the user, who frees it in
 * close.  Only the subtask's thread uses it, so it needs no lock. */
void *sl_ctx_local(const sl_ctx *ctx);
void sl_ctx_set_local(sl_ctx *ctx, void *local);

/* A bad record found by a user function (e.g. a line that does not parse):
 * written to pipeline.dead-letter.path with the operator, subtask, `where`
 * (e.g. "line 17") and `reason`, and the function goes on (returns 0); when
 * no dead-letter file is configured, returns -SL_EBADREC with the job's
 * error set to that message -- return it to fail the job. */
int sl_ctx_bad_record(sl_ctx *ctx, const char *where, const char *reason,
                      const sl_record *rec);

/* Emit a record to the operator's output (flat_map, process).  The record
 * is copied before sl_emit returns.  Returns 0 or a negative code, which
 * the callback should return as is (the job is stopping). */
int sl_emit(sl_collector *out, const sl_record *rec);

/* ------------------------------------------------------------------------ */
/* Typed values, keys and fields: the boilerplate of every job.  Numbers are */
/* a record's 8 bytes in host order (what a C int64_t/double holds).  Built  */
/* values and keys live in sl_ctx_scratch memory (see there: valid until the */
/* next callback on the instance begins).  -SL_EBADREC: the bytes are not    */
/* what was asked for (pass it on, or to sl_ctx_bad_record).                 */
/* ------------------------------------------------------------------------ */

int sl_record_get_i64(const sl_record *r, int64_t *v); /* value_len must be 8 */
int sl_record_get_f64(const sl_record *r, double *v);
int sl_record_key_i64(const sl_record *r, int64_t *v); /* key_len must be 8 */
/* Set r's value (or key) to a copy of v / s[0..len) in scratch memory;
 * 0 or -SL_ENOMEM. */
int sl_record_set_i64(sl_ctx *ctx, sl_record *r, int64_t v);
int sl_record_set_f64(sl_ctx *ctx, sl_record *r, double v);
int sl_record_set_str(sl_ctx *ctx, sl_record *r, const void *s, size_t len);
int sl_record_set_key_i64(sl_ctx *ctx, sl_record *r, int64_t v);
int sl_record_set_key_str(sl_ctx *ctx, sl_record *r, const void *s, size_t len);
/* r's value = printf-style text (without a NUL) in scratch memory. */
int sl_record_printf(sl_ctx *ctx, sl_record *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A field of delimited text: a view of len bytes, not NUL-terminated. */
typedef struct sl_field {
  const char *data;
  size_t len;
} sl_field;
/* Split text[0..len) (a line: a trailing "\n" or "\r\n" is dropped) at sep
 * into f[0..max), CSV-style: a field in double quotes may hold sep, and ""
 * inside it is one quote.  Fields point into text, or into scratch memory
 * for a quoted field with "" in it.  Returns the number of fields;
 * -SL_EBADREC for more than max fields, an unterminated quote or text after
 * a closing quote. */
int sl_fields_split(sl_ctx *ctx, const void *text, size_t len, char sep, sl_field *f,
                    int max);
/* The whole field as a base-10 int64 / a finite double: 0 or -SL_EBADREC. */
int sl_field_i64(const sl_field *f, int64_t *v);
int sl_field_f64(const sl_field *f, double *v);

/* ------------------------------------------------------------------------ */
/* User function types.  Every callback returns 0 on success or a negative  */
/* code (use sl_ctx_fail for a message); a failure fails the job.           */
/* ------------------------------------------------------------------------ */

/* map: one in, one out.  *out starts as a copy of *in; change what differs
 * (point value at sl_ctx_scratch memory, or at memory of your own that
 * outlives the call). */
typedef int (*sl_map_fn)(void *ud, sl_ctx *ctx, const sl_record *in,
                         sl_record *out);
/* filter: return 1 to keep, 0 to drop, negative to fail. */
typedef int (*sl_filter_fn)(void *ud, sl_ctx *ctx, const sl_record *in);
/* flat_map / process: emit 0..n records with sl_emit. */
typedef int (*sl_flat_map_fn)(void *ud, sl_ctx *ctx, const sl_record *in,
                              sl_collector *out);
/* key selector: set out->key/key_len (e.g. into scratch or into in's own
 * bytes, which stay valid).  Other fields of *out are ignored. */
typedef int (*sl_key_fn)(void *ud, sl_ctx *ctx, const sl_record *in,
                         sl_record *out);
/* rolling reduce: combine the accumulator with a new record of the same
 * key into *out (starts as a copy of *acc).  The first record of a key
 * becomes the accumulator as is. */
typedef int (*sl_reduce_fn)(void *ud, sl_ctx *ctx, const sl_record *acc,
                            const sl_record *in, sl_record *out);
/* batch flat_map: a run of n >= 1 records in[0..n), in stream order; emit
 * 0..any records with sl_emit.  The views live for the call. */
typedef int (*sl_batch_fn)(void *ud, sl_ctx *ctx, const sl_record *in, size_t n,
                           sl_collector *out);

/* ------------------------------------------------------------------------ */
/* Keyed state                                                               */
/* ------------------------------------------------------------------------ */

/* A byte view.  Lifetime: stated by the call that returns it. */
typedef struct sl_bytes {
  const void *data;
  uint32_t len;
} sl_bytes;

typedef enum {
  SL_STATE_VALUE = 1,      /* one byte string per key */
  SL_STATE_LIST = 2,       /* a list of byte strings per key */
  SL_STATE_MAP = 3,        /* user key -> value per key */
  SL_STATE_REDUCING = 4,   /* fixed-size value combined by `reduce` */
  SL_STATE_AGGREGATING = 5, /* fixed-size accumulator: create/add/merge/result */
  SL_STATE_UNION_LIST = 6   /* operator state: a list each subtask gets whole
                               on restore (plain LIST is split evenly) */
} sl_state_kind;

typedef enum {
  SL_TTL_ON_CREATE_AND_WRITE = 0, /* writes restart the time-to-live */
  SL_TTL_ON_READ_AND_WRITE = 1    /* reads restart it too */
} sl_ttl_update;

/* A state descriptor, declared once (usually `static const`) and valid for
 * the whole job.  States are identified by `name` within an operator;
 * declaring the same name with another kind fails with SL_ESTATE.
 * Time-to-live (ttl_ms > 0) counts processing time (wall clock); expired
 * values are never returned (Flink's NeverReturnExpired) and are removed
 * when touched.  For list state the TTL applies per element, for map state
 * per entry. */
typedef struct sl_state_desc {
  const char *name;
  sl_state_kind kind;
  /* reducing / aggregating: size in bytes of the value / accumulator */
  uint32_t size;
  /* reducing: *acc = *acc (+) *in, both `size` bytes */
  int (*reduce)(void *ud, void *acc, const void *in);
  /* aggregating: initialise an accumulator; fold an input in; merge
   * `other` into acc (session windows); produce the result view (may point
   * into acc, valid until the next state call) */
  void (*agg_create)(void *ud, void *acc);
  int (*agg_add)(void *ud, void *acc, const void *in, uint32_t in_len);
  int (*agg_merge)(void *ud, void *acc, const void *other);
  int (*agg_result)(void *ud, const void *acc, sl_bytes *out);
  void *ud;
  int64_t ttl_ms;
  sl_ttl_update ttl_update;
} sl_state_desc;

/* A state handle, bound to the operator instance and to the key of the
 * record being processed.  Valid during the callback that obtained it. */
typedef struct sl_state sl_state;

/* The handle of `desc` in a keyed operator (process/reduce/flat_map/map
 * applied to a stream from sl_key_by).  Returns 0, or -SL_ESTATE when the
 * operator is not keyed or the name was declared with another kind (the
 * message, naming operator and state, is attached to the job error if the
 * callback then fails). */
int sl_state_get(sl_ctx *ctx, const sl_state_desc *desc, sl_state **out);

/* Broadcast state (in sl_connect_broadcast's functions): a map state
 * (kind SL_STATE_MAP) per subtask; read-write in bcast_fn, read-only in fn
 * (writes fail with SL_ESTATE).  Same return codes as sl_state_get. */
int sl_broadcast_state_get(sl_ctx *ctx, const sl_state_desc *desc,
                           sl_state **out);
/* Operator state (Flink's ListState / UnionListState of CheckpointedFunction):
 * one list per subtask, in any operator; descriptor kind SL_STATE_LIST
 * (split evenly over the subtasks on restore at another parallelism) or
 * SL_STATE_UNION_LIST (every subtask gets all elements).  Use the sl_list_*
 * calls on it. */
int sl_operator_state_get(sl_ctx *ctx, const sl_state_desc *desc,
                          sl_state **out);

/* Operations.  Getters return 0 with a view valid until the next state
 * call of this operator instance, or SL_EMPTY when there is no value.  All
 * return a negative SL_E* code on failure. */
#define SL_EMPTY 1
int sl_value_get(sl_state *s, sl_bytes *out);
int sl_value_set(sl_state *s, const void *data, uint32_t len);
int sl_list_add(sl_state *s, const void *data, uint32_t len);
/* Iterate: *it starts zeroed after sl_list_get; sl_list_next returns 1 with
 * the next element, 0 at the end. */
typedef struct sl_list_iter {
  const uint8_t *p, *end;
  int64_t now;
  int ttl;
} sl_list_iter;
int sl_list_get(sl_state *s, sl_list_iter *it);
int sl_list_next(sl_list_iter *it, sl_bytes *out);
int sl_list_update(sl_state *s, const sl_bytes *items, size_t n);
int sl_map_get(sl_state *s, const void *ukey, uint32_t uklen, sl_bytes *out);
int sl_map_put(sl_state *s, const void *ukey, uint32_t uklen, const void *val,
               uint32_t vlen);
int sl_map_remove(sl_state *s, const void *ukey, uint32_t uklen);
/* Visit every entry of the current key's map; fn returns 0 to go on.  The
 * map must not be modified during the visit. */
int sl_map_foreach(sl_state *s,
                   int (*fn)(void *ud, sl_bytes ukey, sl_bytes val), void *ud);
int sl_reducing_add(sl_state *s, const void *value); /* desc->size bytes */
int sl_reducing_get(sl_state *s, sl_bytes *out);
int sl_aggregating_add(sl_state *s, const void *in, uint32_t in_len);
int sl_aggregating_get(sl_state *s, sl_bytes *out); /* the result */
/* Remove the current key's value (all entries for list/map). */
int sl_state_clear(sl_state *s);
/* Scope the handle to a namespace (windows keep one state per window);
 * the default namespace is empty.  The bytes are copied. */
int sl_state_namespace(sl_state *s, const void *ns, uint32_t len);

/* ------------------------------------------------------------------------ */
/* Event time, timers, side outputs                                          */
/* ------------------------------------------------------------------------ */

/* Watermark before any was seen, and the one that ends event time (sent at
 * the end of bounded input: it fires every pending event-time timer). */
#define SL_WATERMARK_MIN INT64_MIN
#define SL_WATERMARK_MAX INT64_MAX

typedef enum { SL_TIME_EVENT = 0, SL_TIME_PROCESSING = 1 } sl_time_domain;

/* Event time of a record, in milliseconds. */
typedef int64_t (*sl_timestamp_fn)(void *ud, const sl_record *in);

typedef enum {
  /* watermark = max timestamp seen - out_of_orderness_ms - 1 (Flink) */
  SL_WM_BOUNDED_OUT_OF_ORDERNESS = 0,
  /* timestamps ascend: watermark = max timestamp seen - 1 */
  SL_WM_MONOTONOUS = 1,
  /* user-defined: on_event may return a watermark after each record
   * (punctuated), on_periodic one at every emission interval (periodic);
   * return SL_WATERMARK_MIN for "none".  Called per subtask; keep
   * per-subtask state in ud indexed by sl_ctx_subtask(ctx). */
  SL_WM_CUSTOM = 2
} sl_wm_kind;

typedef struct sl_watermark_strategy {
  sl_wm_kind kind;
  int64_t out_of_orderness_ms;
  /* a subtask that sees no record for this long is idle: it stops holding
   * back the watermark downstream until its next record (0 = never) */
  int64_t idle_timeout_ms;
  int64_t (*on_event)(void *ud, sl_ctx *ctx, const sl_record *in, int64_t ts);
  int64_t (*on_periodic)(void *ud, sl_ctx *ctx);
  void *ud;
} sl_watermark_strategy;

/* Assign event timestamps (ts_fn; NULL keeps each record's own timestamp)
 * and generate watermarks (strategy, copied; NULL: bounded out-of-orderness
 * 0).  A custom strategy needs on_event or on_periodic.  Watermarks are emitted every pipeline.auto-watermark-interval
 * of processing time, and after every record when that is 0.  An operator
 * forwards the minimum of the watermarks of its inputs (ignoring idle
 * inputs and ended ones). */
sl_stream *sl_assign_timestamps(sl_stream *in, sl_timestamp_fn ts_fn, void *ud,
                                const sl_watermark_strategy *strategy);

/* Event-time watermark of the operator instance (SL_WATERMARK_MIN before
 * the first), and processing time (wall clock, ms). */
int64_t sl_ctx_watermark(const sl_ctx *ctx);
int64_t sl_ctx_now(const sl_ctx *ctx);
/* The current key in a keyed operator (record or timer); SL_EMPTY if none.
 * The view lives until the callback returns. */
int sl_ctx_key(const sl_ctx *ctx, sl_bytes *key);

/* Keyed process function with timers (Flink's KeyedProcessFunction):
 * fn gets records, on_timer gets timers of the current key, both may use
 * keyed state and emit.  `keyed` must come from sl_key_by.  on_timer may
 * be NULL for a function without timers (sl_timer_register then fails). */
typedef int (*sl_timer_fn)(void *ud, sl_ctx *ctx, int64_t ts,
                           sl_time_domain domain, sl_collector *out);
sl_stream *sl_keyed_process(sl_stream *keyed, sl_flat_map_fn fn,
                            sl_timer_fn on_timer, void *ud);
/* The same with runs of records per call (sl_flat_map_batch's runs: up to
 * 64, in order, never spanning a watermark, barrier, end of input or
 * worker step): before using keyed state or timers for record i of the
 * run, bind them to its key with sl_ctx_run_key(ctx, i).  on_timer is
 * called per timer, after the records before the watermark were handed
 * over.  fn is required; on_timer may be NULL, as for sl_keyed_process.  For
 * bindings whose per-call cost is high. */
sl_stream *sl_keyed_process_batch(sl_stream *keyed, sl_batch_fn fn, sl_timer_fn on_timer,
                                  void *ud);
/* In sl_keyed_process_batch's function: the current key becomes in[i]'s.
 * 0, or -SL_EINVAL (elsewhere, or i outside the run). */
int sl_ctx_run_key(sl_ctx *ctx, size_t i);
/* Timers of the current key: one per (key, domain, ts) however often it is
 * registered.  Event-time timers fire when the watermark reaches ts,
 * processing-time timers when the clock does.  0 or negative SL_E*. */
int sl_timer_register(sl_ctx *ctx, sl_time_domain domain, int64_t ts);
int sl_timer_delete(sl_ctx *ctx, sl_time_domain domain, int64_t ts);

/* Side outputs: emit to the output named `tag`; sl_side_output(s, tag) is
 * the stream of what the operator behind s emitted under that tag (records
 * emitted under a tag nobody consumes are counted and dropped). */
int sl_emit_side(sl_collector *out, const char *tag, const sl_record *rec);
sl_stream *sl_side_output(sl_stream *s, const char *tag);

/* ------------------------------------------------------------------------ */
/* Windows                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum {
  SL_WINDOW_TUMBLING = 0, /* [k*size + offset, +size) */
  SL_WINDOW_SLIDING = 1,  /* size/slide windows of `size`, every `slide` */
  SL_WINDOW_SESSION = 2,  /* merging: records closer than `gap` join */
  SL_WINDOW_GLOBAL = 3    /* one window per key; needs a count trigger */
} sl_window_kind;

typedef enum {
  SL_TRIGGER_DEFAULT = 0,     /* event or processing time, by `time` */
  SL_TRIGGER_EVENT_TIME = 1,  /* fire when the watermark passes the end */
  SL_TRIGGER_PROCESSING_TIME = 2,
  SL_TRIGGER_COUNT = 3,       /* fire every `count` records */
  SL_TRIGGER_CUSTOM = 4       /* `custom` decides after every record */
} sl_trigger_kind;

/* What a custom trigger decides for a window after a record was added. */
typedef enum {
  SL_TRIGGER_CONTINUE = 0,
  SL_TRIGGER_FIRE = 1,
  SL_TRIGGER_FIRE_AND_PURGE = 2
} sl_trigger_result;

typedef struct sl_window_spec {
  sl_window_kind kind;
  sl_time_domain time;
  int64_t size_ms, slide_ms, gap_ms, offset_ms;
  sl_trigger_kind trigger;
  uint64_t count; /* SL_TRIGGER_COUNT */
  int purge;      /* purging variant: clear the window's contents on fire */
  /* SL_TRIGGER_CUSTOM: called with each record added to a window and the
   * number of records the window received since it last fired */
  sl_trigger_result (*custom)(void *ud, const sl_record *in, uint64_t count);
  void *custom_ud;
  /* event time: records up to this late re-fire their window with the
   * updated result; later ones go to the side output `late_tag` (default
   * "late") or, when nothing reads that side output, are dropped and
   * counted (sl_job_stats.late_records_dropped); nothing is dropped
   * silently */
  int64_t allowed_lateness_ms;
  const char *late_tag;
} sl_window_spec;

/* A window [start, end); its results carry timestamp end - 1.
 * Bounds are int64 milliseconds and never wrap around: a tumbling or
 * sliding window that would start before INT64_MIN or end after INT64_MAX
 * makes its record a bad record of the window operator (to
 * pipeline.dead-letter.path with the reason, else the job fails naming
 * it); a session window's end t + gap is cut at INT64_MAX (a record at
 * INT64_MAX itself is a bad record: no session [t, end > t) exists). */
typedef struct sl_window {
  int64_t start, end;
} sl_window;

/* The window being fired (window functions only). */
int sl_ctx_window(const sl_ctx *ctx, sl_window *w);

/* Elements of a window for a process window function. */
typedef struct sl_window_elems sl_window_elems;
/* Next element (1) or end (0); the view lives until the next call. */
int sl_window_next(sl_window_elems *e, sl_record *out);

/* Called once per firing with the window's elements (or, combined with an
 * aggregate or reduce, with the single pre-aggregated result). */
typedef int (*sl_window_fn)(void *ud, sl_ctx *ctx, const sl_window *w,
                            sl_window_elems *elems, sl_collector *out);

/* Incremental aggregation: `agg` is an SL_STATE_AGGREGATING descriptor
 * (create/add/merge/result, merge needed for sessions); each record's value
 * is added.  Without `fn` the result is emitted as the value of a record
 * with the window's key and timestamp end - 1. */
sl_stream *sl_window_aggregate(sl_stream *keyed, const sl_window_spec *w,
                               const sl_state_desc *agg, sl_window_fn fn,
                               void *ud);
/* Incremental reduce of records (fn2 as for sl_window_aggregate). */
sl_stream *sl_window_reduce(sl_stream *keyed, const sl_window_spec *w,
                            sl_reduce_fn reduce, sl_window_fn fn, void *ud);
/* All elements, buffered in list state, handed to fn on firing. */
sl_stream *sl_window_process(sl_stream *keyed, const sl_window_spec *w,
                             sl_window_fn fn, void *ud);

/* ------------------------------------------------------------------------ */
/* Joins                                                                     */
/* ------------------------------------------------------------------------ */

/* Called for each joined pair (both records have the same key). */
typedef int (*sl_join_fn)(void *ud, sl_ctx *ctx, const sl_record *a,
                          const sl_record *b, sl_collector *out);

/* Window join (Flink's join().where().equalTo().window()): every pair of a
 * record of `a` and a record of `b` with the same key in the same window
 * (tumbling or sliding, event or processing time) goes to fn when the
 * window fires.  Both streams must be keyed the same way (sl_key_by). */
sl_stream *sl_window_join(sl_stream *a, sl_stream *b, const sl_window_spec *w,
                          sl_join_fn fn, void *ud);

/* Interval join (Flink's intervalJoin().between(lower, upper)): pairs
 * (a, b) with the same key and a.ts + lower <= b.ts <= a.ts + upper, in
 * event time, emitted as soon as both are there.  Records are kept until
 * the watermark passes their last possible partner; a record that arrives
 * after that goes to the side output "late" of the result stream. */
sl_stream *sl_interval_join(sl_stream *a, sl_stream *b, int64_t lower_ms,
                            int64_t upper_ms, sl_join_fn fn, void *ud);

/* ------------------------------------------------------------------------ */
/* Graph building                                                            */
/* ------------------------------------------------------------------------ */

/* A stream reading from `src` (taken over by env).  Sources that can be
 * split (files, sequences) run on every subtask; the others (socket, stdin,
 * collection) run on subtask 0 and their output is rebalanced. */
sl_stream *sl_source_stream(sl_env *env, sl_source *src);

sl_stream *sl_map(sl_stream *in, sl_map_fn fn, void *ud);
sl_stream *sl_filter(sl_stream *in, sl_filter_fn fn, void *ud);
sl_stream *sl_flat_map(sl_stream *in, sl_flat_map_fn fn, void *ud);
sl_stream *sl_process(sl_stream *in, sl_flat_map_fn fn, void *ud);
/* A stateless flat_map whose function takes runs of records (up to 64 per
 * call, in order) instead of one: for callers whose per-call cost is high
 * (a language binding that takes a lock per call).  Runs never span a
 * watermark, a checkpoint barrier or the end of input, nor a step of the
 * worker's loop, so they add no latency and checkpoints stay exact.  The
 * function has no keyed state and no current key (records keep theirs: a
 * record's key bytes are in the run).  On failure the job's error reads
 * "... failed on a run of N records: MESSAGE" (name the record in the
 * sl_ctx_fail message). */
sl_stream *sl_flat_map_batch(sl_stream *in, sl_batch_fn fn, void *ud);
/* Key the stream: `fn` extracts the key (fn == NULL keeps each record's
 * existing key).  The next operator receives records hash-partitioned by
 * key: xxHash3(key) % pipeline.max-parallelism is the key group, and key
 * group g goes to subtask g * P / max-parallelism. */
sl_stream *sl_key_by(sl_stream *in, sl_key_fn fn, void *ud);
/* Rolling reduce on a keyed stream; emits the updated accumulator (with
 * its key and the latest record's timestamp) after every record.  Fails
 * with SL_EINVAL if `in` is not keyed. */
sl_stream *sl_reduce(sl_stream *in, sl_reduce_fn fn, void *ud);
/* Union of n streams of the same environment. */
sl_stream *sl_union(sl_stream *const *ins, size_t n);
/* Two inputs, one operator (Flink's connect + CoProcessFunction): fn1 gets
 * the records of `a`, fn2 those of `b`; both emit to the one output.  When
 * both streams come from sl_key_by the operator is keyed: the two functions
 * share keyed state, partitioned by key. */
sl_stream *sl_connect(sl_stream *a, sl_stream *b, sl_flat_map_fn fn1,
                      sl_flat_map_fn fn2, void *ud);
/* The broadcast state pattern: every record of `bcast` reaches every
 * subtask and goes to bcast_fn, which may read and write broadcast state
 * (sl_broadcast_state_get); the records of `in` (keyed or not) go to fn,
 * which may only read it.  Keep bcast_fn deterministic so that every
 * subtask holds the same broadcast state.  If `in` is keyed, fn also has
 * keyed state; bcast_fn has no current key. */
sl_stream *sl_connect_broadcast(sl_stream *in, sl_stream *bcast,
                                sl_flat_map_fn fn, sl_flat_map_fn bcast_fn,
                                void *ud);

/* Partitioning of the edge to the next operator (Flink's partitioners). */
sl_stream *sl_forward(sl_stream *in);     /* same subtask (the default) */
sl_stream *sl_rebalance(sl_stream *in);   /* round-robin over subtasks */
sl_stream *sl_broadcast(sl_stream *in);   /* every record to every subtask */
sl_stream *sl_global(sl_stream *in);      /* every record to subtask 0 */

/* Name the operator that produced `s` (used in errors and metrics).
 * Returns s. */
sl_stream *sl_name(sl_stream *s, const char *name);

/* Rich functions (Flink's RichFunction.open/close): per-subtask set-up and
 * tear-down for the user functions of the operator that produced `s` (a
 * map, filter, flat_map, process, reduce, keyed process, connect or window
 * function).  open(ud, ctx) runs once per subtask before its first record,
 * on the thread calling sl_execute; it may allocate per-subtask resources
 * and keep them with sl_ctx_set_local.  A negative return fails the job
 * before any record is read (the message: sl_ctx_fail).  close(ud, ctx)
 * runs once for every subtask whose open succeeded, after the workers
 * stopped, whether the job succeeded or not.  Either may be NULL.  What
 * open keeps is not in checkpoints: keep state that must survive a
 * restore in keyed or operator state.  A second call replaces the first.
 * Returns s (NULL if s is NULL). */
typedef int (*sl_open_fn)(void *ud, sl_ctx *ctx);
typedef void (*sl_close_fn)(void *ud, sl_ctx *ctx);
sl_stream *sl_rich(sl_stream *s, sl_open_fn open, sl_close_fn close, void *ud);

/* Terminate `in` in `sink` (taken over by env).  0 or negative code. */
int sl_sink_to(sl_stream *in, sl_sink *sink);

/* ------------------------------------------------------------------------ */
/* Execution                                                                 */
/* ------------------------------------------------------------------------ */

/* Run the job.  Returns 0 when every source ended and every sink flushed;
 * -SL_ECANCELED when sl_cancel() / sl_stop() (or SIGINT/SIGTERM, see
 * execution.handle-signals) stopped it; another negative code when the job
 * failed (message in sl_env_last_error).  A graph runs once. */
int sl_execute(sl_env *env, const char *job_name);
/* Ask a running job to stop (Flink's `flink stop`).  Sources stop reading;
 * records already read are processed and sinks flush them.
 *   drain = 0: nothing new fires -- no final watermark, so open event-time
 *     windows and timers stay in the state.  With checkpoints on, a final
 *     checkpoint holds them and the sinks commit up to it: a job resumed
 *     from it (`execution.checkpointing.restore=latest`) produces exactly
 *     the output of a run never stopped.
 *   drain = 1 (`flink stop --drain`): the end of the input is simulated --
 *     the watermark goes to the maximum and every event-time window and
 *     timer fires before the final checkpoint.  As in Flink, a job resumed
 *     after a drain starts at the maximum watermark (every later record is
 *     late): drain to retire a job, not to pause it.
 * The first request wins.  Async-signal-safe; any thread; before
 * sl_execute it stops the job as soon as it starts. */
void sl_stop(sl_env *env, int drain);
/* sl_stop(env, 0): what SIGINT and SIGTERM do. */
void sl_cancel(sl_env *env);

/* Counters of the last run (valid after sl_execute returned). */
typedef struct sl_job_stats {
  uint64_t records_in;    /* records read by sources */
  uint64_t records_out;   /* records received by sinks */
  uint64_t dead_letters;  /* records written to the dead-letter file */
  /* late records no side output received (Flink's numLateRecordsDropped):
   * a window's or interval join's late record when nothing reads the
   * side output it goes to (sl_side_output); summed over all operators
   * and subtasks */
  uint64_t late_records_dropped;
  double seconds;         /* wall time of sl_execute */
  int parallelism;
  uint64_t checkpoints;   /* checkpoints completed */
  /* per operator instance and checkpoint: first barrier in -> barrier out
   * (alignment plus the synchronous snapshot), and per checkpoint:
   * trigger -> complete; percentiles in milliseconds (0 without any) */
  double align_p50_ms, align_p99_ms;
  double checkpoint_p50_ms, checkpoint_p99_ms;
  double restore_ms;      /* reading the checkpoint it started from (0: none) */
  uint64_t restarts;      /* supervised job: times the supervisor restarted it
                           * (the other counters are of the last attempt) */
} sl_job_stats;
/* The job's statistics.  While sl_execute runs (in this process: not a
 * supervised job's child), from any thread: the counters so far (records
 * in and out, late records dropped, dead letters) and the seconds since it
 * started; the checkpoint figures come at the end.  After sl_execute:
 * everything, final. */
void sl_job_stats_get(const sl_env *env, sl_job_stats *stats);

/* The id of the job sl_execute runs (or ran last): 32 hex digits, new for
 * every sl_execute (Flink's JobID; the REST API's :jid).  "" before. */
const char *sl_job_id(const sl_env *env);

/* Live metrics, with Flink's names and meanings (docs/REST.md lists them):
 *   job scope (operator NULL, subtask -1): uptime, numRestarts,
 *     numberOfCompletedCheckpoints, numberOfFailedCheckpoints,
 *     lastCheckpointDuration, lastCheckpointSize,
 *     lastCheckpointAlignmentDuration, lastCheckpointRestoreTimestamp,
 *     numDeadLetters;
 *   operator scope (one per operator subtask): numRecordsIn, numRecordsOut,
 *     numBytesIn, numBytesOut (through exchanges between workers),
 *     numRecordsInPerSecond, numRecordsOutPerSecond, numBytesInPerSecond,
 *     numBytesOutPerSecond,
 *     backPressuredTimeMsPerSecond, busyTimeMsPerSecond,
 *     idleTimeMsPerSecond, accumulatedBackPressuredTimeMs,
 *     accumulatedBusyTimeMs, accumulatedIdleTimeMs, currentInputWatermark,
 *     currentOutputWatermark (INT64_MIN: none yet), numLateRecordsDropped;
 *   state scope (operator subtask and state): stateEntries, stateBytes;
 *   split scope (source subtask and split, sl_ctx_split_metrics):
 *     splitRecordsIn, splitPending (-1: unknown).
 * Workers publish their counters every 100 ms and per-second figures every
 * second; durations are ms, times epoch ms. */
typedef enum { SL_METRIC_JOB, SL_METRIC_OPERATOR, SL_METRIC_STATE, SL_METRIC_SPLIT } sl_metric_scope;
typedef enum { SL_METRIC_COUNTER, SL_METRIC_GAUGE } sl_metric_type;
typedef struct sl_metric {
  const char *name;
  sl_metric_scope scope;
  sl_metric_type type;    /* a counter only grows */
  const char *job;        /* the job's name ("" when it has none) */
  const char *job_id;
  const char *op;         /* operator name (NULL: job scope) */
  const char *op_kind;    /* "source", "map", ..., "window", "sink" (NULL: job) */
  int subtask;            /* -1: job scope */
  const char *state;      /* state name (SL_METRIC_STATE), else NULL */
  int64_t split;          /* a source's split id (SL_METRIC_SPLIT), else -1 */
  double value;
} sl_metric;
/* Called for every metric, grouped by name; a non-zero return stops the
 * walk and is returned.  The strings live for the call.  fn must not call
 * back into env. */
typedef int (*sl_metric_fn)(void *ud, const sl_metric *m);
/* Walks the metrics of the job while sl_execute runs it in this process
 * (from any thread); -SL_ENOENT when no job runs here (a supervised job's
 * metrics live in its child process: read them over the REST API). */
int sl_metrics_foreach(const sl_env *env, sl_metric_fn fn, void *ud);

/* ------------------------------------------------------------------------ */
/* Sources                                                                   */
/* ------------------------------------------------------------------------ */

/* Text lines from a file, a directory (its regular files, sorted) or a glob
 * pattern.  One record per line without its '\n' (a trailing '\r' is kept),
 * timestamp SL_NO_TIMESTAMP, no key.  Large files are split in byte ranges
 * (source.file.split-size) across subtasks.  With
 * source.monitor-interval > 0 the source is continuous: it keeps reading
 * lines appended to the files and files that appear later.  A line longer
 * than pipeline.max-line-length or not valid UTF-8 (with
 * pipeline.text.validate-utf8) fails the job naming file and byte offset,
 * or goes to pipeline.dead-letter.path when that is set. */
sl_source *sl_file_source(const char *path);
/* Text lines from a TCP server (Flink's socketTextStream); on connection
 * loss it reconnects with backoff up to source.socket.max-retry times. */
sl_source *sl_socket_source(const char *host, int port);
/* Text lines from standard input. */
sl_source *sl_stdin_source(void);
/* The given records (copied now), in order, from subtask 0. */
sl_source *sl_collection_source(const sl_record *recs, size_t n);
/* Lines of text (copied now) as records, from subtask 0. */
sl_source *sl_lines_source(const char *const *lines, size_t n);
/* The integers from..to inclusive as 8-byte little-endian int64 values,
 * split in contiguous ranges over the subtasks; timestamp = the number. */
sl_source *sl_sequence_source(int64_t from, int64_t to);
/* Generated records: fn fills record `index` (0 .. count-1; count
 * UINT64_MAX = unbounded), indexes split round-robin over subtasks. */
typedef int (*sl_datagen_fn)(void *ud, sl_ctx *ctx, uint64_t index,
                             sl_record *out);
sl_source *sl_datagen_source(uint64_t count, sl_datagen_fn fn, void *ud);

/* ------------------------------------------------------------------------ */
/* Sinks                                                                     */
/* ------------------------------------------------------------------------ */

/* Values as text lines (value bytes + '\n').  If `path` is an existing
 * directory or ends in '/', each subtask writes part files
 * `part-<subtask>-<n>` there, rolled at sink.rolling-policy.file-size
 * (Flink's FileSink naming).  Otherwise one file: every record is routed to
 * subtask 0, written to PATH.inprogress and renamed to PATH when the job
 * ends (on failure the .inprogress file is left for inspection). */
sl_sink *sl_file_sink(const char *path);
/* Values as lines on stdout; at parallelism > 1 each line is prefixed with
 * "<subtask+1>> " like Flink's print(). */
sl_sink *sl_print_sink(void);
/* Values as lines on stdout, without prefixes (output for another program
 * to read; lines of different subtasks still never interleave). */
sl_sink *sl_stdout_sink(void);
/* Values as lines to a TCP server (one connection per subtask). */
sl_sink *sl_socket_sink(const char *host, int port);
/* Counts records and drops them. */
sl_sink *sl_discard_sink(void);

/* ---- Kafka (librdkafka) -------------------------------------------------
 * Configured by Flink's Kafka connector option names:
 *   properties.bootstrap.servers   HOST:PORT[,HOST:PORT...] (required)
 *   topic                          a topic, or a list separated by ';'
 *   topic-pattern                  source: topics matching a POSIX regex
 *   properties.group.id            source: the consumer group (offsets are
 *                                  committed to it when a checkpoint
 *                                  completes, for monitoring only)
 *   scan.startup.mode              earliest-offset | latest-offset |
 *                                  group-offsets | timestamp (with
 *                                  scan.startup.timestamp-millis)
 *   scan.bounded.mode              unbounded | latest-offset | timestamp
 *                                  (with scan.bounded.timestamp-millis):
 *                                  a bounded read ends at the offsets found
 *                                  at start / at that time
 *   scan.topic-partition-discovery.interval   new partitions (default 5 min)
 *   sink.delivery-guarantee        none | at-least-once | exactly-once
 *   sink.transactional-id-prefix   exactly-once: transactional.id prefix
 *   sink.partitioner               default | fixed | round-robin
 *   sink.empty-value-as-null       false | true: a record with an empty
 *                                  value is sent with a NULL value (a
 *                                  tombstone)
 *   properties.*                   any other: passed to librdkafka as is
 * The source's partitions are splits assigned to subtasks as Flink's
 * KafkaSource does (partition p of topic t to subtask
 * ((javaHash(t) * 31 & 0x7FFFFFFF) % P + p) % P); start and stop offsets
 * are resolved when sl_execute starts.  Offsets go into checkpoints and a
 * restore at any parallelism resumes from them (a partition the checkpoint
 * does not hold starts from its earliest offset).  With a group id the
 * offsets of each checkpoint are committed to the group when the next one
 * is taken (for monitoring; never read when a checkpoint exists);
 * group-offsets without a committed offset starts where
 * properties.auto.offset.reset says (earliest by default; none/error
 * fails).  Records: value = the message's value, key = its key, timestamp
 * = its timestamp (SL_NO_TIMESTAMP when it has none).  Per partition,
 * the records read and the lag (high watermark - next offset) are split
 * metrics (split id = the partition for one named topic, else
 * javaHash(topic) << 32 | partition).  A bad option fails sl_execute with
 * a message naming it; so do unreachable brokers (naming the bootstrap
 * servers) and unknown topics.
 *
 * The sink writes each record as one message (value; key when the record
 * has one; timestamp when set) to the one topic, which must exist (open
 * fails naming brokers and topic otherwise).  sink.partitioner: default =
 * librdkafka's (key hash), fixed = subtask s writes partition
 * s % partitions, round-robin.  A record with value_len 0 is a message
 * with an empty (0-byte) value, unless sink.empty-value-as-null is true:
 * then its value is NULL, Kafka's tombstone (log compaction deletes the
 * key; SQL's upsert-kafka writes a -D so).  A record has no NULL value of
 * its own -- exchanges carry a length -- so this option is the way to
 * write one.  sink.delivery-guarantee (default
 * at-least-once): none = failed deliveries are only logged;
 * at-least-once = every checkpoint and the end of input wait for
 * delivery, and a failed one fails the job naming topic and partition;
 * exactly-once = Kafka transactions committed when the checkpoint that
 * covers them completes (without checkpoints: one transaction, committed
 * when the job succeeds).  Subtask s uses the transactional ids
 * PREFIX-s-0 .. PREFIX-s-3; the prefix must be unique per job writing the
 * topic.  A restore first commits the transactions the restored
 * checkpoint pre-committed (also when the run stopped after the
 * checkpoint completed but before it committed them), as Flink's
 * KafkaSink does, by their producer id and epoch, which the checkpoint
 * holds; then it aborts every transaction an earlier run left open, also
 * of subtasks that no longer exist.  If Kafka says the transaction was
 * ended by someone else (e.g. properties.transaction.timeout.ms expired),
 * the restore warns, naming it: its records may be missing.  That commit
 * is sent by sluice's own minimal Kafka client, which speaks PLAINTEXT
 * only: with properties.security.protocol SSL, SASL_PLAINTEXT or
 * SASL_SSL a transaction left uncommitted by a crash cannot be committed
 * by the restore (it warns, and the records are lost).  A failing job
 * leaves its pre-committed transactions open for the restore (they hold
 * back read_committed consumers until then or until the timeout).  Set
 * properties.transaction.timeout.ms (default here 15 min) above the
 * checkpoint interval plus restart time. */
typedef struct sl_option {
  const char *key, *value;
} sl_option; /* a connector option (Kafka, PostgreSQL) */
typedef sl_option sl_kafka_option;
sl_source *sl_kafka_source(const sl_kafka_option *options, size_t n);
sl_sink *sl_kafka_sink(const sl_kafka_option *options, size_t n);
/* The same from kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?option=value&...]
 * (the CLI's --input and --output). */
sl_source *sl_kafka_source_uri(const char *uri);
sl_sink *sl_kafka_sink_uri(const char *uri);

/* A message as read (views valid during the call). */
typedef struct sl_kafka_message {
  const char *topic;
  int32_t partition;
  int64_t offset;
  int64_t timestamp; /* ms, or SL_NO_TIMESTAMP */
  const void *key;
  size_t key_len;
  const void *value;
  size_t value_len;
  int value_null; /* 1: the message has no value (a tombstone, Kafka's delete
                   * of its key in a compacted topic); value is "" then */
} sl_kafka_message;
/* Turns a message into the record to emit (*out starts as the default
 * record: value, key, timestamp); return 0 to emit, 1 to skip (the offset
 * still counts as read), or a negative SL_E* code (after sl_ctx_bad_record
 * or sl_ctx_fail; the job fails naming topic, partition and offset).  Runs
 * on the source's worker thread; out may point into sl_ctx_scratch
 * memory.  Set before sl_execute; 0, or -SL_EINVAL when src is not a
 * Kafka source. */
typedef int (*sl_kafka_deserialize_fn)(void *ud, sl_ctx *ctx, const sl_kafka_message *m,
                                       sl_record *out);
int sl_kafka_source_set_deserializer(sl_source *src, sl_kafka_deserialize_fn fn, void *ud);
/* Per-partition watermarks (Flink's WatermarkStrategy on a KafkaSource):
 * the source tracks each partition's watermark from its records'
 * timestamps (after the deserializer) under the strategy (bounded
 * out-of-orderness or monotonous; copied) and emits the minimum over its
 * active partitions; a partition holds it back from its assignment on
 * (also before its first record) until it has records, ends (bounded) or
 * has had none for the strategy's idle_timeout_ms; a subtask with no
 * partition is idle.  Records interleaved from partitions that are each
 * in order within the bound are never late.  Without this call the source
 * sends no watermarks.  0, or -SL_EINVAL (not a Kafka source, a custom
 * strategy, a negative bound or timeout). */
int sl_kafka_source_set_watermarks(sl_source *src, const sl_watermark_strategy *strategy);

/* ---- PostgreSQL (libpq) -------------------------------------------------
 * conninfo: a libpq connection string ("host=H port=P dbname=D user=U") or
 * URI; options: the connector's own, Flink JDBC's names:
 *   table-name                   the table (required; "schema.table" or a
 *                                name as PostgreSQL folds it)
 *   scan.partition.column        source: an integer column to split the
 *                                snapshot by (min..max in scan.partition.num
 *                                ranges; NULLs go to the first)
 *   scan.partition.num           source: the number of splits (default
 *                                max(8, parallelism); cdc: 1, so each row's
 *                                snapshot image comes before its changes --
 *                                more read in parallel but lose that order,
 *                                with a warning); a restore of a snapshot
 *                                read needs the same number (cdc does not)
 *   scan.fetch-size              source: rows per FETCH (default 1000)
 *   scan.mode                    snapshot (default, bounded) or cdc (the
 *                                snapshot, then the table's changes through
 *                                logical replication, unbounded; below)
 *   slot.name                    cdc: the replication slot, also the
 *                                publication's name (default "sluice_" +
 *                                the table's name, lower-cased, other
 *                                characters '_'); 1..63 of a-z 0-9 _; two
 *                                jobs reading one table need different ones
 *   decoding.plugin.name         cdc: pgoutput (the only one; the default)
 *   slot.drop-on-stop            cdc: true drops the slot when the job
 *                                is stopped or cancelled (not when it
 *                                fails, nor on a SIGKILL: a restore needs
 *                                the slot), so the server keeps no WAL
 *                                for it, and a restore cannot go on (default
 *                                false: the slot keeps the WAL since the
 *                                last completed checkpoint, so a restore
 *                                can go on; a slot left behind holds WAL
 *                                until dropped with SELECT
 *                                pg_drop_replication_slot('NAME')).  The
 *                                publication stays (it holds no WAL)
 *   sink.buffer-flush.max-rows   sink: rows per batch (default 5000)
 *   sink.buffer-flush.interval   sink: without checkpoints, buffered rows are
 *                                written after this long (default 1 s)
 *   sink.max-retries             connecting is retried this often, with
 *                                back-off from 100 ms (default 3); so is a
 *                                sink's batch after a lost connection when
 *                                checkpoints are off (with them the job
 *                                fails and restores)
 *   sink.create-table-columns    sink: column definitions ("a BIGINT, b
 *                                TEXT") to CREATE TABLE IF NOT EXISTS with
 *   sink.field-delimiter         sink: the record value's field separator
 *                                (default ','; "\t" for a tab)
 *   sink.transaction-id-prefix   sink: prefix of the prepared transactions'
 *                                names (default "sluice-<table>"); two jobs
 *                                writing one table need different ones
 *   sink.changelog               sink: true when each value starts with its
 *                                change kind (+I, -U, +U or -D, then the
 *                                field delimiter, then the row): an
 *                                updating stream applied by primary key
 *                                (below); the table needs one (default
 *                                false: every value is a row to write)
 * Any other key must be a libpq connection parameter (it is added to
 * conninfo); else sl_execute fails naming it.  Messages name host, port,
 * database, user and table, never the password.
 *
 * Source (bounded): one consistent snapshot of the table (REPEATABLE READ,
 * exported by the planner and imported by every subtask), split by the
 * partition column, else by an integer primary key, else by block (ctid)
 * ranges; splits are dealt to subtasks round-robin and read through
 * server-side cursors in key (else ctid) order.  A record's value is the
 * row: its columns in table order, each as PostgreSQL's text output prints
 * it, separated by ','; NULL is empty, and a value that is empty or holds
 * ',', '"', CR or LF is in double quotes with '"' doubled (CSV).  Its key is
 * the primary key's text (columns joined by ','; none without a primary
 * key); timestamp SL_NO_TIMESTAMP.  sl_fields_split(ctx, value, len, ',',
 * ...) gives the columns back (NULL and '' both as empty fields there).  Checkpoints store each split's rows
 * read; a restore takes a new snapshot and skips them, so it is exact for a
 * table that did not change in between.
 *
 * Sink: each record's value is split like a CSV line (quotes as above; an
 * unquoted empty field is NULL, "" an empty string) into the table's
 * columns in order (a table of one column takes the whole value); with a
 * primary key rows are upserted (INSERT ... ON CONFLICT DO UPDATE), else
 * inserted.  With checkpoints it is exactly-once by two-phase commit: each
 * subtask writes a checkpoint's rows in one transaction, PREPARE
 * TRANSACTION '<prefix>-s<subtask>-c<checkpoint>' at the barrier, COMMIT
 * PREPARED when the checkpoint completes; a restore commits the restored
 * checkpoint's and rolls back every other prepared transaction with the
 * prefix (needs max_prepared_transactions > 0).  Without checkpoints
 * batches are committed as written (at-least-once).
 *
 * Changelog (sink.changelog=true; Flink JDBC's upsert mode): each value
 * is a change kind as Flink prints RowKind -- exactly "+I", "-U", "+U" or
 * "-D" -- then the field delimiter, then the row as above ("+U,7,b,").
 * +I and +U upsert the row; -U is skipped (the +U after it upserts the
 * key; counted); -D deletes by the row's primary-key fields (DELETE FROM
 * t WHERE k1 = v1 AND ...; the other fields are not used, and a key that
 * is not there is no error).  Deletes go into the same batches and
 * transactions as the upserts, in record order, so a subtask's changes
 * apply in the order they came (+I k, -D k, +I k leaves k); changes of
 * one key must reach one subtask (key the stream by it, as the SQL
 * planner does).  Checkpoints make it exactly-once as above.  The table
 * must have a primary key (open fails naming the table and server
 * otherwise); a value that starts with no change kind fails the job,
 * quoting up to 64 bytes of it; a -D whose key field is empty (NULL) is a
 * bad record (pipeline.dead-letter.path).
 *
 * Change data capture (scan.mode=cdc; the server needs wal_level=logical,
 * the user the REPLICATION privilege (or superuser) and the right to
 * create a publication on the table).  plan creates the publication
 * (FOR TABLE t) and the logical slot (pgoutput) when missing; a job that
 * does not restore drops a slot of that name left behind and makes it anew
 * (a slot in use by another process is an error, after 5 s of waiting for
 * a killed run's server process to go).
 * The slot is created on a replication connection with an exported
 * snapshot; the snapshot splits are read in that snapshot (as above), so
 * the stream, which starts at the slot's consistent point, holds exactly
 * the changes committed after it.  The stream is read by subtask 0 once
 * every snapshot split is read (in any subtask): whole transactions in
 * commit order (pgoutput sends committed transactions only).  Rows of the
 * snapshot are inserts.  A record's value is the row as above (CSV, table
 * order); by default inserts (+I) and the new image of updates (+U) are
 * emitted and deletes (-D) and old images (-U) are not (they are counted:
 * the reader logs "N inserts, N updates, N deletes" when it closes); a
 * deserializer (below) sees all four kinds with typed columns.  Old
 * images: with REPLICA IDENTITY DEFAULT (the primary key) the server sends
 * only the key columns of a deleted row and of an update that changed the
 * key; an update that did not change it sends no old image, and -U then
 * has the key from the new row; the other columns are `unknown` (sl_pg_column).
 * REPLICA IDENTITY FULL sends every column.  A table without a primary
 * key under DEFAULT (or with REPLICA IDENTITY NOTHING) is refused in plan:
 * the server could not publish its updates and deletes.  A TRUNCATE of the
 * table fails the job (it is no row change; restart without --restore).
 * Unchanged TOASTed values (large values an update did not touch) are not
 * sent: empty in the CSV, `unknown` for a deserializer, unless FULL.
 *
 * Checkpoints (CDC): the position holds each split's progress and the
 * commit LSN of the last whole transaction emitted (with how many changes
 * of the next one were); a restore, at any parallelism, resumes the stream
 * there (skipping what was emitted), so with an exactly-once sink every
 * change reaches the output once.  The slot's confirmed position
 * (pg_replication_slots.confirmed_flush_lsn) is advanced only to what a
 * completed checkpoint covers (checkpoint_complete), in the standby status
 * updates sent every 10 s and when the server asks.  While the snapshot
 * is read (until every split is read and the stream began) the readers
 * decline checkpoints (Flink CDC's legacy source; logged at info, counted
 * as failed checkpoints, the job goes on), so every completed checkpoint
 * is past the snapshot: a crash during the snapshot leaves no checkpoint
 * of this run, and `--restore latest` then starts afresh (the leftover
 * slot dropped, a new snapshot), as a job that does not restore.  A stop
 * during the snapshot fails the job (its final checkpoint is declined;
 * nothing since the last completed checkpoint is committed).  So with an
 * exactly-once sink every row and change reaches the output once across
 * crashes.  Without checkpoints a restart reads a new snapshot.  The
 * stream's reader sends the server nothing but status updates and does
 * not block (the socket is its wait_fd). */
sl_source *sl_postgres_source(const char *conninfo, const sl_option *options, size_t n);
sl_sink *sl_postgres_sink(const char *conninfo, const sl_option *options, size_t n);
/* The same from postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DB?table-name=T
 * [&option=value...] (also postgres://): the connector's options are taken
 * out of the query, the rest is libpq's (the CLI's --input / --output). */
sl_source *sl_postgres_source_uri(const char *uri);
sl_sink *sl_postgres_sink_uri(const char *uri);

/* Rows with their types and change kind (Flink CDC's RowKind). */
typedef enum sl_pg_kind {
  SL_PG_INSERT = 0,        /* +I: a snapshot row, or an insert */
  SL_PG_UPDATE_BEFORE = 1, /* -U: an update's old image */
  SL_PG_UPDATE_AFTER = 2,  /* +U: an update's new image */
  SL_PG_DELETE = 3         /* -D: a deleted row (its old image) */
} sl_pg_kind;
typedef struct sl_pg_column {
  const char *name;
  uint32_t type;    /* pg_type oid: 16 boolean, 17 bytea, 20 bigint, 21
                     * smallint, 23 integer, 25 text, 700 real, 701 double
                     * precision, 1043 varchar, 1082 date, 1114 timestamp,
                     * 1184 timestamptz, 1700 numeric, ... */
  int is_null;
  int unknown;      /* CDC: the server did not send the value (see above) */
  const char *text; /* PostgreSQL's text output, NUL-terminated ("" when
                     * is_null or unknown) */
  size_t len;
} sl_pg_column;
typedef struct sl_pg_row {
  sl_pg_kind kind;
  const char *table; /* as the server names it ("public.t" or "t") */
  int n_cols;
  const sl_pg_column *cols; /* table order */
  uint64_t lsn;      /* CDC: the commit LSN of the row's transaction; 0 for
                      * a snapshot row */
  int64_t commit_ms; /* CDC: the commit time, ms since the epoch;
                      * SL_NO_TIMESTAMP for a snapshot row */
} sl_pg_row;
/* Turns a row into the record to emit (*out starts as the default record:
 * the CSV value and the key, also for -U and -D); return 0 to emit, 1 to
 * skip, or a negative SL_E* code (after sl_ctx_bad_record or sl_ctx_fail).
 * Runs on the reader's worker thread; the row's views live for the call;
 * out may point into sl_ctx_scratch memory.  Without one, the source emits
 * +I and +U rows only.  Set before sl_execute; 0, or -SL_EINVAL when src
 * is not a PostgreSQL source. */
typedef int (*sl_pg_deserialize_fn)(void *ud, sl_ctx *ctx, const sl_pg_row *row,
                                    sl_record *out);
int sl_postgres_source_set_deserializer(sl_source *src, sl_pg_deserialize_fn fn, void *ud);
/* Typed values of a column: 0, or -SL_EINVAL when it is NULL, unknown or
 * of another type.  int64: smallint, integer, bigint.  double: those,
 * real, double precision, numeric (rounded).  bool: boolean.  bytea: the
 * bytes (PostgreSQL's hex output decoded) into buf (at most cap; *len is
 * the full length, also when it did not fit: then -SL_EINVAL).  time_us: timestamp
 * and timestamptz as microseconds since the epoch (timestamp read as UTC;
 * timestamptz needs the session's TimeZone to be UTC, e.g. the libpq
 * option options=-c TimeZone=UTC, else -SL_EINVAL), date as midnight UTC. */
int sl_pg_column_int64(const sl_pg_column *c, int64_t *out);
int sl_pg_column_double(const sl_pg_column *c, double *out);
int sl_pg_column_bool(const sl_pg_column *c, int *out);
int sl_pg_column_bytea(const sl_pg_column *c, uint8_t *buf, size_t cap, size_t *len);
int sl_pg_column_time_us(const sl_pg_column *c, int64_t *out);

/* Collect sink for tests: keeps every record in memory.  The sl_collect is
 * the caller's; it must outlive sl_execute.  Records of one subtask keep
 * their order; subtasks follow each other in subtask order. */
typedef struct sl_collect sl_collect;
sl_collect *sl_collect_new(void);
void sl_collect_free(sl_collect *c);
sl_sink *sl_collect_sink(sl_collect *c);
size_t sl_collect_count(const sl_collect *c);
/* Record i (0..count-1); the view lives until sl_collect_free. */
int sl_collect_get(const sl_collect *c, size_t i, sl_record *out);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_H */

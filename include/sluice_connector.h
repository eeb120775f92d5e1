/*
 * sluice_connector.h -- writing sources and sinks for libsluice, and the
 * specification of that contract.  Every built-in connector (files,
 * sockets, stdin, print, collections, generators, Nexmark) is written on
 * exactly this interface; nothing here needs the engine's internals.
 *
 * A connector is a table of functions (sl_source_ops / sl_sink_ops) plus a
 * user pointer `ud`, wrapped by sl_source_new / sl_sink_new into the
 * sl_source / sl_sink that sl_source_stream / sl_sink_to take (sluice.h).
 * The engine calls the functions; each gets an sl_ctx, the same operator
 * context user functions get (sluice.h), with the calls below added for
 * connectors: emit, fail, bad records, configuration, subtask index and
 * count, logger, clock, stop requests, wake-ups and watermarks.
 *
 * Life of a source (Flink: Source, SplitEnumerator, SourceReader)
 *
 *   plan      once, on the thread that calls sl_execute, before any worker
 *             starts: list the work (files, partitions, ranges) and split
 *             it for sl_ctx_parallelism(ctx) subtasks.  ctx is a planning
 *             context: sl_ctx_subtask() is -1, and only the configuration,
 *             logging and sl_ctx_fail (the message becomes the job's
 *             error) may be used.  The result lives in `ud`.
 *   open      once per subtask, on its worker thread (the opens of all
 *             subtasks run one after the other, subtask 0 first): make this
 *             subtask's reader; *reader = NULL when it has nothing to read.
 *             A source made with SL_SOURCE_NONPARALLEL is opened on subtask
 *             0 only (the engine rebalances its output).
 *   seek      restoring only, after open and before the first poll: move
 *             the reader past everything the previous run's readers had
 *             read.  blobs[0..n) are the positions every reader of the
 *             previous run wrote (n is the old parallelism, which may
 *             differ from the new one; a reader that wrote nothing left an
 *             empty blob), so each reader picks what concerns its own
 *             splits.  The bytes come from disk: check them, return
 *             -SL_ESTATE when they are not yours.
 *   poll      repeatedly, from the worker's loop: emit at most `budget`
 *             records with sl_ctx_emit and return SL_POLL_MORE (more may be
 *             ready), SL_POLL_IDLE (nothing now) or SL_POLL_END (the
 *             reader is exhausted; never polled again), or a negative
 *             SL_E* code after sl_ctx_error / sl_ctx_bad_record /
 *             sl_ctx_fail said why (other values count as SL_POLL_IDLE).
 *             poll must not block: a worker runs many operators.  A worker
 *             whose sources are all idle parks; it wakes when the reader's
 *             wait_fd becomes readable, when anyone calls sl_ctx_wake, or
 *             after a few milliseconds.
 *   position  at a checkpoint barrier, on the worker thread, between two
 *             polls: write the reader's position (at most cap bytes; more
 *             fails the checkpoint).  Every record emitted before the call
 *             is covered by the position; every record after it is not.
 *             Or decline the checkpoint: `return sl_ctx_decline_checkpoint(
 *             ctx, "why")` (SL_POSITION_DECLINE) when no position written
 *             now could be restored exactly (Flink CDC's legacy source
 *             while it reads its snapshot).  The checkpoint then never
 *             completes: it runs through the job as usual (barriers,
 *             snapshots, sinks' precommit) but is discarded at the end --
 *             its files removed, no sink's commit_ckpt and no source's
 *             checkpoint_complete for it, never restorable; a 2PC sink's
 *             data of it is made visible only by the next checkpoint that
 *             completes, which covers it.  The engine logs "source 'NAME'
 *             (subtask i/P) declined checkpoint N: why" at info and counts
 *             it as failed in the checkpoint statistics (its reason
 *             starting "declined"), but the job goes on whatever else
 *             fails checkpoints, and the next trigger proceeds normally.
 *             A savepoint declined answers its requester with an error; a
 *             final checkpoint declined (a job stopped while a source
 *             declines) fails the job, so no sink commits output it does
 *             not cover.
 *   checkpoint_complete   optional (contract version 2): checkpoint `id`
 *             is complete -- durable with every operator's state -- so what
 *             the reader's position for it covered may be acknowledged
 *             upstream (commit Kafka offsets, advance a replication slot).
 *             On the reader's worker thread between two polls, once per
 *             completed checkpoint, ids increasing; never for a checkpoint
 *             that failed (a position call is no promise it completes) nor
 *             for the final checkpoint a job takes after its workers
 *             stopped.  sl_ctx_checkpoint_id(ctx) in position tells which
 *             checkpoint a position is for.  A crash can lose the call (the
 *             next run restores the checkpoint and is told of its own), so
 *             acknowledging is an optimisation, never a condition for
 *             exactly-once.  An error fails the job.
 *   close     once per opened reader, after the workers stopped (and after
 *             the final checkpoint); sl_ctx_failed tells a failed job from
 *             a stopped or ended one.
 *   free      once, when the environment is freed (also if never run).
 *
 * A source without position/seek restarts from the beginning after a
 * restore (at-least-once for its records; the engine logs a warning).  When
 * the job is asked to stop the engine stops polling by itself; a source
 * does not need to check sl_ctx_stopping in poll.
 *
 * Life of a sink (Flink: Sink, SinkWriter, Committer)
 *
 *   open      once per subtask on its worker thread (subtask 0 only with
 *             SL_SINK_GLOBAL, which then receives every record).
 *   recover   restoring only, once per sink, on the thread of sl_execute
 *             after every writer was opened and before any record is
 *             written (see "two-phase commit").
 *   write     once per record, on the worker thread.  The record is
 *             borrowed for the call.
 *   idle      optional: the worker has nothing to do right now; write out
 *             what is buffered so a quiet unbounded job does not hold
 *             results back.
 *   flush     the sink's inputs ended (the end of bounded input, or a stop):
 *             write out everything buffered.
 *   close     once per opened writer, after the workers stopped; ok says
 *             whether the job succeeded.
 *   commit    optional, once per sink after every writer closed, on the
 *             thread of sl_execute: ok says whether the job succeeded (the
 *             single-file sink renames PATH.inprogress to PATH here).
 *   free      once, when the environment is freed.
 *
 * Two-phase commit (exactly-once output; all three calls or none; called
 * only when checkpoints are on, execution.checkpointing.interval > 0)
 *
 *   precommit    checkpoint `id`'s barrier reached the writer (its worker
 *                thread, in the synchronous part of the snapshot; also once
 *                more at the end of a successful job): make everything
 *                written so far durable but not yet visible, and describe
 *                everything pre-committed and not yet committed as bytes,
 *                which the checkpoint stores.
 *   commit_ckpt  checkpoint `id` is complete (the writer's worker thread):
 *                make visible what was pre-committed for checkpoints <= id.
 *                Must be idempotent: a crash may repeat it through recover.
 *   recover      restoring: the bytes every writer of the previous run (n
 *                of them, any parallelism) pre-committed in the checkpoint
 *                restored (n = 0: no checkpoint was found), and names[i],
 *                the checkpoint file blob i was read from (for messages;
 *                NULL when n = 0).  Commit them and abort whatever any run
 *                wrote after that checkpoint -- also what later checkpoints
 *                committed (a restore from an older checkpoint or a
 *                savepoint) -- so the visible output is exactly that of the
 *                checkpoint.  The bytes are untrusted: check them fully
 *                before acting, and fail with -SL_ESTATE and a message
 *                naming the file when they are not yours.
 *
 * With these, what a sink makes visible is always covered by a complete
 * checkpoint, and a job killed at any instant and restored produces every
 * record exactly once.
 *
 * Errors: every function returns 0 or a negative SL_E* code.  On a worker
 * thread, fail with `return sl_ctx_error(ctx, -SL_EIO, "cannot write '%s':
 * %s", ...)`: the job's error then names the operator and subtask.  In
 * plan, recover and commit (no subtask), say why with sl_ctx_fail and
 * return the code; the engine prefixes the operator's name.
 *
 * Threads: the functions of one reader or writer are called from one
 * thread at a time; different subtasks run on different threads, so `ud`
 * is read-only after plan except where the connector synchronises it.  Only
 * sl_ctx_wake may be called from a thread of the connector's own.
 */
#ifndef SLUICE_CONNECTOR_H
#define SLUICE_CONNECTOR_H

#include "sluice.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this contract; put it in the ops table's `version`.
 * Version 2 appended sl_source_ops.checkpoint_complete; tables of version
 * 1 (built against the older header, so without that field) are still
 * accepted and never asked for it. */
#define SL_CONNECTOR_VERSION 2

/* ------------------------------------------------------------------------ */
/* Sources                                                                   */
/* ------------------------------------------------------------------------ */

/* Results of poll. */
enum { SL_POLL_MORE = 1, SL_POLL_IDLE = 2, SL_POLL_END = 3 };

typedef struct sl_source_ops {
  int version;      /* SL_CONNECTOR_VERSION */
  const char *kind; /* short static name for messages: "file", "kafka" */
  /* Optional. */
  int (*plan)(void *ud, sl_ctx *ctx);
  /* Required. */
  int (*open)(void *ud, sl_ctx *ctx, void **reader);
  int (*poll)(void *reader, sl_ctx *ctx, int budget);
  /* Optional. */
  void (*close)(void *reader, sl_ctx *ctx);
  void (*free)(void *ud);
  /* Optional, both or none: checkpoints. */
  int (*position)(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len);
  int (*seek)(void *reader, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
              int n);
  /* Optional: a descriptor that becomes readable when poll() has records
   * again (a socket, a pipe, an eventfd), or -1 for none right now.  Asked
   * each time the worker is about to park. */
  int (*wait_fd)(void *reader);
  /* Optional, version >= 2: checkpoint `id` completed (see the top). */
  int (*checkpoint_complete)(void *reader, sl_ctx *ctx, int64_t id);
} sl_source_ops;

/* position's "not now" (see position at the top): a positive result, not
 * an error. */
enum { SL_POSITION_DECLINE = 1 };

/* Decline the checkpoint a position call is for, saying why (printf-style;
 * the reason is logged and kept in the checkpoint statistics).  Returns
 * SL_POSITION_DECLINE, for `return sl_ctx_decline_checkpoint(ctx, ...)`.
 * Only in position; elsewhere it does nothing and returns -SL_EINVAL. */
int sl_ctx_decline_checkpoint(sl_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Flags of sl_source_new. */
#define SL_SOURCE_NONPARALLEL 1u /* one reader, on subtask 0 */

/* A source driven by ops (borrowed: static storage, or kept alive until
 * the environment is freed) and ud (owned by the source from now on: ops
 * ->free(ud) is called when the source is freed, also when this call
 * fails).  NULL when ops is NULL, lacks open/poll, has position without
 * seek or the other way round, has checkpoint_complete without position,
 * has a version other than 1 or 2, or memory is out. */
sl_source *sl_source_new(const sl_source_ops *ops, void *ud, unsigned flags);

/* Emit a record from poll (the record is copied before the call returns).
 * Returns 0, or a negative code which poll should return as is (the job is
 * stopping).  Only in poll. */
int sl_ctx_emit(sl_ctx *ctx, const sl_record *rec);

/* Wake the worker that runs this reader, so it polls again soon.  Safe from
 * any thread (a client library's callback thread, say) while the reader is
 * open; cheap when the worker is awake.  The callback form of wait_fd. */
void sl_ctx_wake(sl_ctx *ctx);

/* Per-split watermarks (Flink's per-partition watermarks): a reader that
 * reads several splits (partitions, files) reports for each split, by any
 * id it chooses, the event time below which that split will send nothing
 * more, and whether the split is idle (has nothing to read now, so it
 * should not hold event time back).  The source's watermark is the
 * minimum over the splits that are not idle, never decreasing; when every
 * split is idle the source is idle downstream (Flink's WatermarkStatus).
 * A source that never calls these sends no watermarks (a timestamp
 * assigner downstream makes them).  A split marked done (sl_ctx_split_done)
 * holds nothing back any more; when every split is done the watermark stays
 * where it was until the source returns SL_POLL_END, whose end of input
 * releases it.  Only from open, seek or poll (what open and seek report
 * goes downstream at the first poll); 0 or -SL_ENOMEM. */
int sl_ctx_split_watermark(sl_ctx *ctx, uint64_t split, int64_t watermark);
int sl_ctx_split_idle(sl_ctx *ctx, uint64_t split, int idle);
int sl_ctx_split_done(sl_ctx *ctx, uint64_t split);

/* Per-split metrics: a reader reports, for a split (the same ids as
 * above), the records it read from it in this run and what is still to
 * read in it (`pending`: records or bytes, as the source counts them --
 * Kafka's consumer lag, a file's remaining bytes; -1 unknown).  Shown per
 * subtask by the REST API and sl_metrics_foreach (splitRecordsIn,
 * splitPending; the first 16 splits a subtask reports).  Only from poll;
 * call it when it is cheap (once per poll), not per record.  0, or
 * -SL_EINVAL outside a source. */
int sl_ctx_split_metrics(sl_ctx *ctx, uint64_t split, uint64_t records, int64_t pending);

/* ------------------------------------------------------------------------ */
/* Sinks                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct sl_sink_ops {
  int version;      /* SL_CONNECTOR_VERSION */
  const char *kind; /* short static name for messages */
  /* Required. */
  int (*open)(void *ud, sl_ctx *ctx, void **writer);
  int (*write)(void *writer, sl_ctx *ctx, const sl_record *rec);
  /* Optional. */
  int (*flush)(void *writer, sl_ctx *ctx);
  int (*idle)(void *writer, sl_ctx *ctx);
  void (*close)(void *writer, sl_ctx *ctx, int ok);
  int (*commit)(void *ud, sl_ctx *ctx, int ok);
  void (*free)(void *ud);
  /* Optional, all three or none: two-phase commit. */
  int (*precommit)(void *writer, sl_ctx *ctx, int64_t id, uint8_t *buf, size_t cap,
                   size_t *len);
  int (*commit_ckpt)(void *writer, sl_ctx *ctx, int64_t id);
  int (*recover)(void *ud, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens, int n,
                 const char *const *names);
} sl_sink_ops;

/* Flags of sl_sink_new. */
#define SL_SINK_GLOBAL 1u /* one writer, on subtask 0, receives every record */

/* A sink driven by ops (borrowed) and ud (owned, as for sl_source_new).
 * NULL when ops is NULL, lacks open/write, has only some of the two-phase
 * calls, has a version other than 1 or 2, or memory is out. */
sl_sink *sl_sink_new(const sl_sink_ops *ops, void *ud, unsigned flags);

/* ------------------------------------------------------------------------ */
/* The context, for connectors (with sl_ctx_subtask, sl_ctx_parallelism,    */
/* sl_ctx_operator, sl_ctx_fail, sl_ctx_bad_record, sl_ctx_now from          */
/* sluice.h)                                                                 */
/* ------------------------------------------------------------------------ */

/* Fail the job now with `code` (a negative SL_E*) and a message; the job's
 * error reads "operator 'NAME' (subtask i/P): MESSAGE".  A message that a
 * user function the connector called left with sl_ctx_fail is appended
 * (": USER MESSAGE").  The first failure of a job wins.  Returns code, for `return sl_ctx_error(...)`.  In a
 * planning / recover / commit context it acts as sl_ctx_fail (the message
 * is kept) and returns code. */
int sl_ctx_error(sl_ctx *ctx, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Configuration of the job (sl_env_set): the value of `key` as the user
 * set it (or its default), or NULL for an unknown key.  Owned by the job,
 * valid while it runs. */
const char *sl_ctx_config(const sl_ctx *ctx, const char *key);
/* A number-valued key (int, bool as 0/1, duration in milliseconds, size in
 * bytes) into *out.  0, or -SL_ECONFIG for an unknown or text-valued key. */
int sl_ctx_config_int(const sl_ctx *ctx, const char *key, int64_t *out);

/* A message through the environment's logger (sl_env_set_logger), scoped
 * to the job and prefixed with the operator and subtask.  printf-style. */
void sl_ctx_log(const sl_ctx *ctx, sl_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The id of the checkpoint a source's position call is writing (1, 2, ...
 * as checkpoint_complete will name it), or -1 outside position. */
int64_t sl_ctx_checkpoint_id(const sl_ctx *ctx);

/* A monotonic clock in nanoseconds for timeouts and rates (sl_ctx_now is
 * the wall clock in milliseconds, for processing time).  On a worker it is
 * read once per step of the worker's loop. */
int64_t sl_ctx_monotonic_ns(const sl_ctx *ctx);

/* Nonzero once the job was asked to stop (sl_cancel, sl_stop, a signal) or
 * has failed: a call that waits on a peer (a full socket) should give up
 * soon.  0 in planning contexts. */
int sl_ctx_stopping(const sl_ctx *ctx);

/* Nonzero once the job has failed (an error, a checkpoint that could not
 * complete), as opposed to stopped, cancelled or ended: in close, a
 * connector keeps then what a restore will need (a replication slot)
 * and releases it only after a clean stop.  0 in planning contexts. */
int sl_ctx_failed(const sl_ctx *ctx);

/* In plan: nonzero when this run will restore a checkpoint or savepoint
 * (execution.checkpointing.restore names one, or is "latest" and the
 * checkpoint directory holds a complete one), so the readers will get
 * seek; 0 for a run that starts from the beginning (also a "latest" that
 * finds nothing).  A source whose plan creates outside state (a
 * replication slot) decides here whether to keep what an earlier run left.
 * 0 outside plan. */
int sl_ctx_restoring(const sl_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif

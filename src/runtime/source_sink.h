/*
 * source_sink.h -- the interface between the runtime and sources/sinks:
 * the vtables the runtime drives (implemented in src/connectors).
 *
 * A source is planned once (on the thread calling sl_execute), then opened
 * on every worker; the worker polls it from its step loop.  poll() emits at
 * most `budget` records with sl__source_emit() and must not block: a source
 * with nothing to read returns SL__POLL_IDLE.  Non-parallel sources set
 * `nonparallel` and are opened on subtask 0 only.
 *
 * A sink is opened on every worker, receives records with write(), is
 * flushed when its inputs end (finish, on the worker thread), closed after
 * the workers joined (idle() is called when its worker has nothing to do),
 * and finally told once whether the job succeeded
 * (commit; e.g. the single-file sink renames PATH.inprogress to PATH).
 * A sink that sets `global` receives every record on subtask 0.
 *
 * Checkpoints: sources report their position and seek back to it; sinks
 * may take part in a two-phase commit (precommit / commit_ckpt / recover,
 * below), which makes their output exactly-once: what a sink makes visible
 * is always covered by a complete checkpoint, and recovery re-commits what
 * the checkpoint pre-committed and aborts everything after it.  A
 * transactional sink (a database, a message queue) implements the same
 * three calls with its own transactions.
 */
#ifndef SL_SOURCE_SINK_H
#define SL_SOURCE_SINK_H

#include "runtime/runtime.h"

enum { SL__POLL_MORE = 1, SL__POLL_IDLE = 2, SL__POLL_END = 3 };

typedef struct sl__source_vt {
  const char *kind;
  /* Optional: compute splits for P subtasks; errors go to err. */
  int (*plan)(sl_source *src, const sl__conf *conf, int P, char *err,
              size_t errcap);
  /* Open this subtask's reader; *reader = NULL when it has nothing to read. */
  int (*open)(sl_source *src, sl__inst *inst, void **reader);
  /* 0..budget records; returns SL__POLL_* or a negative code (after
   * sl__fail or sl__bad_record recorded why). */
  int (*poll)(void *reader, sl__inst *inst, int budget);
  void (*close)(void *reader);
  void (*free)(sl_source *src);
  /* Checkpoints (optional; a source without them restarts from the
   * beginning, at-most-once sources say so): its position as bytes, and
   * a new reader moved past everything the previous run's readers had
   * read (their n positions, any parallelism). */
  int (*position)(void *reader, uint8_t *buf, size_t cap, size_t *len);
  int (*seek)(void *reader, const uint8_t *const *blobs, const size_t *lens, int n);
  /* Optional: a descriptor that becomes readable when poll() has records
   * again (a socket, stdin), or -1.  An idle worker sleeps on it, so data
   * arriving wakes it at once; sources without one are polled at least
   * every few milliseconds. */
  int (*wait_fd)(void *reader);
} sl__source_vt;

struct sl_source {
  const sl__source_vt *vt;
  int nonparallel;
  void *impl;
};

typedef struct sl__sink_vt {
  const char *kind;
  int (*open)(sl_sink *sink, sl__inst *inst, void **writer);
  int (*write)(void *writer, sl__inst *inst, const sl_record *r);
  int (*flush)(void *writer, sl__inst *inst); /* inputs ended */
  /* Optional: the worker has nothing to do; write out buffered output so a
   * quiet unbounded job does not hold results back. */
  int (*idle)(void *writer, sl__inst *inst);
  void (*close)(void *writer, int ok);
  int (*commit)(sl_sink *sink, int ok, char *err, size_t errcap);
  void (*free)(sl_sink *sink);
  /* Two-phase commit (all three or none; only called with checkpoints on).
   *  precommit: barrier `id` reached the writer (its worker thread, in the
   *    synchronous part of the snapshot; also once more at the end of a
   *    successful job): make everything written so far durable but not yet
   *    visible, and describe it -- everything pre-committed and not yet
   *    committed -- as bytes, which the checkpoint stores.
   *  commit_ckpt: checkpoint `id` is complete (the writer's worker thread):
   *    make visible what was pre-committed for checkpoints <= id.  Must be
   *    idempotent: a crash may repeat it through recover.
   *  recover: restoring, once per sink, on the main thread after every
   *    writer was opened and before any record is written: the bytes every
   *    writer of the previous run (n of them, any parallelism) put in the
   *    checkpoint (n = 0: restoring found no checkpoint), and names[i], the
   *    checkpoint file blob i was read from (for messages; NULL when n = 0).
   *    Commits them and aborts whatever any run wrote after that checkpoint,
   *    also what later checkpoints committed (a restore from an older
   *    checkpoint or a savepoint), so the visible output is exactly that
   *    of the checkpoint.  The bytes are untrusted (read back from disk):
   *    a sink checks them fully before it acts on them, and fails with
   *    -SL_ESTATE and a message naming the file when they are not its own. */
  int (*precommit)(void *writer, sl__inst *inst, int64_t id, uint8_t *buf, size_t cap,
                   size_t *len);
  int (*commit_ckpt)(void *writer, sl__inst *inst, int64_t id);
  int (*recover)(sl_sink *sink, const uint8_t *const *blobs, const size_t *lens, int n,
                 const char *const *names, char *err, size_t errcap);
} sl__sink_vt;

struct sl_sink {
  const sl__sink_vt *vt;
  int global;
  void *impl;
};

#endif

/*
 * connector.h -- the interface between the runtime and sources/sinks.
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
#ifndef SL_CONNECTOR_H
#define SL_CONNECTOR_H

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

sl_source *sl__source_new(const sl__source_vt *vt, void *impl, int nonparallel);
sl_sink *sl__sink_new(const sl__sink_vt *vt, void *impl, int global);

/* Positions of generator sources (sequence, datagen, nexmark), which can
 * produce any index on any subtask: a reader emits indexes first,
 * first + step, ... below next.  A restored reader skips every index some
 * earlier reader emitted (`done`, from every old reader's position, any
 * parallelism), and its own position carries `done` on, so a checkpoint
 * taken before it caught up -- or after a rescale -- still knows them. */
typedef struct sl__gen_pos {
  uint64_t first, next, step;
} sl__gen_pos;
typedef struct sl__gen_done {
  sl__gen_pos *e; /* one per distinct old reader (first, step): furthest next */
  int n;
} sl__gen_done;
int sl__gen_position(const sl__gen_pos *own, const sl__gen_done *done, uint8_t *buf,
                     size_t cap, size_t *len);
int sl__gen_seek(sl__gen_done *done, const uint8_t *const *blobs, const size_t *lens, int n);
/* The first index >= next (stepping by step, below end) nobody emitted yet. */
static inline uint64_t sl__gen_skip(const sl__gen_done *d, uint64_t next, uint64_t step,
                                    uint64_t end) {
  for (int i = 0; i < d->n && next < end; i++) {
    const sl__gen_pos *e = &d->e[i];
    if (next >= e->first && next < e->next && (next - e->first) % e->step == 0) {
      /* when our step is a multiple of e's, every index of ours below
       * e->next was e's too: jump past them at once (a restore at the same
       * parallelism, or a crafted position, costs O(1), not O(records)) */
      uint64_t k = step % e->step == 0 ? (e->next - next - 1) / step + 1 : 1; /* >= 1 */
      next = (end - next) / step > k ? next + k * step : end;
      i = -1; /* check the new index against every entry again */
    }
  }
  return next;
}

/* sl__write_all (core.h) for a peer that may stop reading (a socket, a pipe): waits for
 * room with poll(), so it never blocks for long; when the job is asked to
 * stop (or failed) it gives the peer one more second, then returns
 * -SL_ECANCELED.  sock: fd is a socket (send, MSG_NOSIGNAL). */
int sl__write_stoppable(sl__inst *inst, int fd, const void *buf, size_t len, int sock);

#endif

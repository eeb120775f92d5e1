/*
 * ckpt_int.h -- what the files of src/checkpoint share (internal to that
 * directory): the checkpointing state of a job and the snapshot of one
 * instance for one checkpoint.
 *
 *   coordinator.c  triggers (interval, min pause, timeout), savepoint
 *                  requests, the per-worker step (sources start a
 *                  checkpoint, sinks commit completed ones);
 *   snapshot.c     the synchronous part: an instance's snapshot (state
 *                  backends, source position or sink pre-commit, operator
 *                  bytes), and the runtime's `aligned` hook;
 *   writer.c       writer threads that turn snapshots into files, the final
 *                  checkpoint, start and stop;
 *   restore.c      loading a checkpoint into a new job at any parallelism.
 */
#ifndef SL_CKPT_INT_H
#define SL_CKPT_INT_H

#include "checkpoint/checkpoint.h"
#include "checkpoint/storage.h"
#include "state/state.h"

typedef struct sl__snap_task {
  struct sl__snap_task *next;
  sl__inst *inst;
  int64_t id;
  sl__snapshot *snap[3]; /* keyed, operator, broadcast */
  sl__backend *be[3];
  sl__snap_extra *extra; /* keyed state kept outside the backend (op vtable's
                          * snapshot_extra), written into the keyed image */
  uint8_t *meta;
  size_t meta_len;
  _Atomic int written;
  int rc;
  int native; /* keyed state went into its backend's native checkpoint (take) */
} sl__snap_task;

/* What checkpointing keeps per operator instance (owned by its worker
 * thread, like the instance). */
typedef struct sl__ckpt_per {
  sl__snap_task *snap;  /* snapshot being written, released by the owner */
  int64_t committed_id; /* sinks: last checkpoint told to commit_ckpt;
                         * sources: last completion seen */
  int64_t positioned;   /* sources: last checkpoint this run took a position for */
} sl__ckpt_per;

typedef struct sl__ckpt {
  sl__job *job;
  sl__ckpt_per *per;    /* [worker * n_ops + op] */
  char *dir;
  int64_t interval_ms, min_pause_ms;
  _Atomic int64_t trigger; /* the newest checkpoint published */
  int64_t next_ms;         /* worker 0: when to trigger next */
  _Atomic int inflight;
  _Atomic int64_t done_ms; /* when the last one completed */
  _Atomic int acks;        /* instances still to be written */
  sl__ckpt_meta meta;      /* of the checkpoint in flight */
  pthread_t writer[4]; /* min(P, 4) writer threads share the queue */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sl__snap_task *head, *tail;
  int stop;
  int64_t completed;   /* count, for tests and inspection */
  _Atomic int64_t last_complete; /* sinks commit up to here */
  int writer_started; /* writer threads running (stop joins them) */
  int64_t trigger_ns;  /* when the one in flight was triggered */
  int64_t timeout_ms;
  /* the one in flight: its directory (chk-<n>, or a savepoint's), and for
   * a savepoint the file its requester waits for */
  char cur[4096];
  char reply[4200];
  int64_t poll_ms;     /* worker 0: when to look for a savepoint request next */
  /* samples for the percentiles (ns): alignment pauses, durations */
#define SAMPLES 65536
  int64_t *align, *dur;
  _Atomic uint32_t n_align;
  uint32_t n_dur;
  _Atomic int64_t align_max_ns; /* of the one in flight (statistics) */
  /* the newest checkpoint a source declined (under mu) and why: it is
   * discarded instead of completed (sl_ctx_decline_checkpoint) */
  int64_t declined;
  char decline_why[512];
  int64_t n_declined; /* count, for inspection */
} sl__ckpt;

/* The checkpointing state of inst. */
static inline sl__ckpt_per *sl__ckpt_per_of(sl__ckpt *ck, const sl__inst *inst) {
  return &ck->per[inst->w->index * ck->job->n_ops + inst->op->id];
}

/* snapshot.c */
/* The synchronous part of inst's snapshot for checkpoint id (*out: the
 * task the writers get). */
int sl__ckpt_take(sl__inst *inst, int64_t id, sl__snap_task **out);
/* take, then queue the task for the writer threads. */
int sl__ckpt_snapshot(sl__inst *inst, int64_t id);
/* Release inst's written snapshot (its owner's thread). */
void sl__ckpt_release(sl__inst *inst);
int sl__ckpt_aligned(sl__inst *inst, int64_t id, int64_t align_start_ns);
/* Source inst declined checkpoint id, saying why. */
void sl__ckpt_decline(sl__inst *inst, int64_t id, const char *why);

/* coordinator.c */
/* Checkpoint id starts (directory chk-<id>, or `savepoint` when it is one). */
int sl__ckpt_begin(sl__ckpt *ck, int64_t id, int64_t now, const char *savepoint);
/* Sink inst hears of the checkpoints completed since it last did
 * (commit_ckpt).  The worker's poll calls it, and so does the sink's
 * pre-commit: the barrier of checkpoint n + 1 (triggered once n completed)
 * can reach the sink before its worker polls again, and the transaction
 * it prepares could wait for the locks of the one it prepared for n. */
int sl__ckpt_commit_sink(sl__inst *inst);
/* Answer a savepoint request (file at path). */
void sl__ckpt_reply(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* writer.c */
int sl__ckpt_write_task(sl__ckpt *ck, sl__snap_task *t, char *err, size_t errcap);

#endif

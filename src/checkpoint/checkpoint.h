/*
 * checkpoint.h -- checkpointing as the runtime sees it (internal): the
 * hooks the api binds on every job (src/runtime/runtime.h, sl__job_hooks).
 *
 *   start       instances opened: reads execution.checkpointing.* and, when
 *               an interval is set, starts the writer threads (job->ckpt);
 *   restore     loads execution.checkpointing.restore (a checkpoint, a
 *               savepoint or "latest") into the opened instances, and lets
 *               two-phase-commit sinks recover;
 *   worker_step every step of every worker: the coordinator (worker 0:
 *               trigger, timeout, savepoint requests), sources start a
 *               checkpoint, finished snapshots are released, sinks commit
 *               completed checkpoints;
 *   aligned     an instance aligned a barrier: its synchronous snapshot;
 *   stop        workers joined: the final checkpoint (when the job ended or
 *               was stopped without failing), statistics, release.
 */
#ifndef SL_CHECKPOINT_H
#define SL_CHECKPOINT_H

#include "runtime/runtime.h"

extern const sl__job_hooks sl__ckpt_hooks;

int sl__ckpt_start(sl__job *job);
int sl__ckpt_restore(sl__job *job);
/* Will a run with this configuration restore?  The rule sl__ckpt_restore
 * follows (a "latest" that finds no complete checkpoint starts afresh),
 * read without logging: the restore itself reports what it finds. */
int sl__ckpt_will_restore(const sl__conf *conf);
int sl__ckpt_worker_step(sl__worker *w);
int sl__ckpt_stop(sl__job *job, int ok);

/* Savepoint requests from outside the job (`sluice savepoint`, the REST
 * API), answered by the coordinator (coordinator.c): the request is
 * dir/_savepoint-request ("<nonce> <target>", written atomically; nonce
 * [0-9a-z]+), the answer dir/_savepoint-<nonce>.  request: 0 or -errno.
 * answer: 1 when the answer is there (read, removed; *ok, msg = the
 * savepoint's path or the job's error), 0 not yet. */
int sl__savepoint_request(const char *dir, const char *nonce, const char *target);
int sl__savepoint_answer(const char *dir, const char *nonce, int *ok, char *msg, size_t cap);
/* Takes a request back unless the job already took it (0 or -errno). */
int sl__savepoint_withdraw(const char *dir, const char *nonce);

#endif

/*
 * graph.h -- graph building shared by the files of the api (internal):
 * graph.c owns environments, streams and ops; windows.c adds the time,
 * window and join operators through these calls.
 */
#ifndef SL_GRAPH_H
#define SL_GRAPH_H

#include "runtime/runtime.h"

/* Job states as the REST API names them (Flink's JobStatus). */
enum { SL__JOB_CREATED, SL__JOB_RUNNING, SL__JOB_CANCELLING, SL__JOB_FINISHED,
       SL__JOB_CANCELED, SL__JOB_FAILED };
#define SL__EXC_MAX 16 /* failures kept for /jobs/:id/exceptions */

struct sl_stream {
  sl_env *env;
  sl__op *op;
  sl__part part;
  int part_set; /* chosen explicitly by the user */
  char *tag;    /* a side output of op (owned), NULL = main output */
};

struct sl_env {
  sl__conf conf;
  char err[2048];
  sl__op **ops;
  int n_ops;
  sl_stream **streams;
  int n_streams;
  int broken;   /* a graph call failed */
  int oom;      /* ... for want of memory: sl_execute returns -SL_ENOMEM */
  int executed;
  _Atomic int cancel; /* sl_cancel; read by the running job */
  /* configuration keys whose sl_env_set failed (and were not set right
   * since): sl_execute refuses to run; set_err is the first one's message */
  char bad_keys[8][64];
  int n_bad_keys;
  int bad_overflow; /* more failed keys than bad_keys holds: refuse for good */
  char set_err[512];
  char job_name[128];  /* sl_execute's job_name (cut), for the job's messages */
  char log_scope[160]; /* "job '<job_name>'" */
  sl_job_stats stats;
  /* the job running in this process (run_here), for sl_job_stats_get from
   * other threads: set and cleared under live_mu, which the reader holds */
  pthread_mutex_t live_mu;
  struct sl__job *live_job;
  int64_t live_t0_ns;
  /* what the REST API shows (rest/), under live_mu where it changes
   * during the run */
  char jid[33];           /* the job's id: 32 hex digits, new per sl_execute */
  int64_t start_ms, end_ms; /* wall clock; end 0 while it runs */
  int state;              /* SL__JOB_* */
  uint64_t restarts;      /* restarts before this attempt (supervised) */
  struct { int64_t ms; char msg[512]; } exc[SL__EXC_MAX]; /* newest last */
  int n_exc;
  sl__ckpt_stats *cstats; /* the running attempt's checkpoint statistics */
  struct sl__rest *rest;  /* the REST server while it serves */
  int rest_fd;            /* its listening socket, -1: none */
  char stop_savepoint[4096]; /* stop with savepoint: the target (REST) */
  void *sql;                  /* the SQL layer's session (api/env_ext.h) */
  void (*sql_free)(void *sql);
};



/* Failures (a supervised job's crashes, the final error) for the REST
 * API's exceptions. */
void sl__env_exception(sl_env *env, const char *msg);

/* The newest checkpoint of the history with this status (savepoint: 0 or
 * 1, -1 either; NULL: none); cs->mu held (metrics.c). */
const sl__ckpt_rec *sl__ckstats_latest(const sl__ckpt_stats *cs, int status, int savepoint);

/* An operator kind's name ("map", "window", ...). */
const char *sl__op_kind_name(sl__op_kind k);

/* A graph call failed: the job will not run, with this message. */
void sl__graph_error(sl_stream *s, const char *msg);
/* ... for want of memory (sl_execute returns -SL_ENOMEM). */
void sl__graph_oom(sl_stream *s);
/* The stream is keyed (sl_key_by) and hash-partitioned. */
int sl__stream_keyed(const sl_stream *s);
/* A single-input operator with a configuration; takes cfg over, also on
 * failure. */
sl_stream *sl__add_op_cfg(sl_stream *in, sl__op_kind kind, void *fn, void *fn2, void *ud,
                          void *cfg, void (*cfg_free)(void *));
/* A two-input operator with a configuration (interval join); the same. */
sl_stream *sl__add_two_input_op(sl_stream *a, sl_stream *b, sl__op_kind kind, void *cfg,
                                void (*cfg_free)(void *));

#endif

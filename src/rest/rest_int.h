/*
 * rest_int.h -- what the files of src/rest share (internal): the server
 * (rest.c: socket, routing, authentication, cancel/stop/savepoints), the
 * JSON bodies of the GET endpoints (rest_json.c) and the Prometheus text
 * (prom.c).  Bodies are built under the environment's live_mu, so the
 * plan they read cannot go away meanwhile.
 */
#ifndef SL_REST_INT_H
#define SL_REST_INT_H

#include <cjson/cJSON.h>

#include "api/graph.h"
#include "rest/rest.h"

/* A savepoint or stop-with-savepoint request (its trigger id). */
typedef struct sl__rest_op {
  char tid[33];
  int stop;        /* stop with savepoint: the final checkpoint */
  int state;       /* 0 in progress, 1 completed, 2 failed */
  int fetched;     /* the client saw the outcome */
  char target[4096]; /* stop: the savepoint's directory */
  char result[4200]; /* location, or the failure */
} sl__rest_op;

#define SL__REST_OPS 16
struct sl__rest {
  sl_env *env;
  struct MHD_Daemon *d;
  pthread_mutex_t mu; /* ops */
  sl__rest_op ops[SL__REST_OPS];
  int n_ops;
};

/* rest_json.c: the bodies of GET /config, /overview, /jobs, /jobs/overview,
 * /jobs/:jid[/...]; env->live_mu held.  vid: a vertex id or NULL. */
cJSON *sl__rest_config(sl_env *env);
cJSON *sl__rest_overview(sl_env *env);
cJSON *sl__rest_jobs(sl_env *env);
cJSON *sl__rest_jobs_overview(sl_env *env);
cJSON *sl__rest_job(sl_env *env);
/* NULL: no such vertex */
cJSON *sl__rest_vertex(sl_env *env, const char *vid);
cJSON *sl__rest_checkpoints(sl_env *env);
cJSON *sl__rest_exceptions(sl_env *env);
cJSON *sl__rest_job_config(sl_env *env);
/* An operator's vertex id: 32 hex digits, stable for the same graph. */
void sl__rest_vertex_id(const sl__op *op, char out[33]);
/* The job's state name (Flink's JobStatus). */
const char *sl__rest_state(const sl_env *env);

/* prom.c: the Prometheus text (sl__malloc'ed, *len), env->live_mu not held. */
char *sl__rest_prometheus(sl_env *env, size_t *len);

#endif

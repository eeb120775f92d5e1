/*
 * progress.c -- `sluice run`'s progress line: every few seconds while the
 * job runs, one line on stderr with the records per second read and
 * written, the watermark at the sinks, the last checkpoint and the
 * largest backpressure of any operator subtask, read through the public
 * sl_job_stats_get and sl_metrics_foreach (a supervised job's metrics live
 * in its child: then only the records per second).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define PROGRESS_MS 3000

struct cli_progress {
  sl_env *env;
  const char *name;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop;
};

typedef struct seen {
  int64_t wm; /* the smallest input watermark of a sink subtask */
  int any_wm;
  double ckpts, ck_ms, ck_bytes, bp;
} seen;

static int on_metric(void *ud, const sl_metric *m) {
  seen *s = ud;
  if (m->scope == SL_METRIC_JOB) {
    if (!strcmp(m->name, "numberOfCompletedCheckpoints")) s->ckpts = m->value;
    else if (!strcmp(m->name, "lastCheckpointDuration")) s->ck_ms = m->value;
    else if (!strcmp(m->name, "lastCheckpointSize")) s->ck_bytes = m->value;
  } else if (m->scope == SL_METRIC_OPERATOR) {
    if (!strcmp(m->name, "backPressuredTimeMsPerSecond")) s->bp = fmax(s->bp, m->value);
    if (!strcmp(m->name, "currentInputWatermark") && !strcmp(m->op_kind, "sink") &&
        m->value > (double)INT64_MIN) {
      int64_t wm = (int64_t)m->value;
      if (!s->any_wm || wm < s->wm) s->wm = wm;
      s->any_wm = 1;
    }
  }
  return 0;
}

static void line(cli_progress *p, const sl_job_stats *a, const sl_job_stats *b) {
  double dt = b->seconds - a->seconds;
  if (dt <= 0) return;
  seen s = {0};
  int live = sl_metrics_foreach(p->env, on_metric, &s) == 0;
  char wm[64] = "no watermark", ck[96] = "no checkpoint yet";
  if (s.any_wm && s.wm == INT64_MAX)
    snprintf(wm, sizeof wm, "watermark at the end of input");
  else if (s.any_wm)
    snprintf(wm, sizeof wm, "watermark %lld", (long long)s.wm);
  if (s.ckpts > 0)
    snprintf(ck, sizeof ck, "%.0f checkpoints (last %.0f ms, %.0f bytes)", s.ckpts, s.ck_ms,
             s.ck_bytes);
  if (live)
    fprintf(stderr, "%s: progress: %.0f records/s in, %.0f out, %s, %s, backpressure %.0f%%\n",
            p->name, (double)(b->records_in - a->records_in) / dt,
            (double)(b->records_out - a->records_out) / dt, wm, ck, s.bp / 10.0);
  else
    fprintf(stderr, "%s: progress: %.0f records/s in, %.0f out\n", p->name,
            (double)(b->records_in - a->records_in) / dt,
            (double)(b->records_out - a->records_out) / dt);
}

static void *progress_main(void *arg) {
  cli_progress *p = arg;
  sl_job_stats a, b;
  sl_job_stats_get(p->env, &a);
  pthread_mutex_lock(&p->mu);
  while (!p->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += PROGRESS_MS / 1000;
    while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &ts) == 0) {
    }
    if (p->stop) break;
    pthread_mutex_unlock(&p->mu);
    sl_job_stats_get(p->env, &b);
    line(p, &a, &b);
    a = b;
    pthread_mutex_lock(&p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

cli_progress *cli_progress_start(sl_env *env, const char *name) {
  cli_progress *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->env = env;
  const char *pn = sl_env_get(env, "pipeline.name");
  p->name = pn && *pn ? pn : name;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  if (pthread_create(&p->thread, NULL, progress_main, p)) {
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
    return NULL;
  }
  return p;
}

void cli_progress_stop(cli_progress *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  pthread_join(p->thread, NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

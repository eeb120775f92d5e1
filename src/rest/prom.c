/*
 * prom.c -- GET /metrics: every metric of sl_metrics_foreach in the
 * Prometheus text exposition format (0.0.4), named as Flink's
 * PrometheusReporter names them with sluice_ in place of flink_
 * (sluice_jobmanager_job_<name> for the job's, and
 * sluice_taskmanager_job_task_operator_<name> for operator subtasks'),
 * scope as labels (job, job_id, operator, subtask, state), counters with
 * the suffix _total.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "rest/rest_int.h"

typedef struct buf {
  char *p;
  size_t len, cap;
  int oom;
  const char *last; /* the metric name of the last TYPE line */
  char last_full[160];
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (b->p && b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = SL__MAX(b->cap * 2, b->len + (size_t)n + 4096);
    char *p = sl__realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
}

/* A label value, escaped as the format says (\\, \", \n). */
static void label(buf *b, const char *name, const char *v) {
  put(b, "%s=\"", name);
  for (; v && *v; v++) {
    if (*v == '\\') put(b, "\\\\");
    else if (*v == '"') put(b, "\\\"");
    else if (*v == '\n') put(b, "\\n");
    else put(b, "%c", *v);
  }
  put(b, "\"");
}

static int sample(void *ud, const sl_metric *m) {
  buf *b = ud;
  char full[160];
  snprintf(full, sizeof full, "sluice_%s_%s%s",
           m->scope == SL_METRIC_JOB ? "jobmanager_job" : "taskmanager_job_task_operator",
           m->name, m->type == SL_METRIC_COUNTER ? "_total" : "");
  if (strcmp(full, b->last_full)) { /* walks come grouped by name */
    put(b, "# TYPE %s %s\n", full, m->type == SL_METRIC_COUNTER ? "counter" : "gauge");
    snprintf(b->last_full, sizeof b->last_full, "%s", full);
  }
  put(b, "%s{", full);
  label(b, "job", m->job);
  put(b, ",");
  label(b, "job_id", m->job_id);
  if (m->op) {
    put(b, ",");
    label(b, "operator", m->op);
    put(b, ",subtask=\"%d\"", m->subtask);
  }
  if (m->state) {
    put(b, ",");
    label(b, "state", m->state);
  }
  if (m->split >= 0) put(b, ",split=\"%lld\"", (long long)m->split);
  double v = m->value;
  if (v == floor(v) && fabs(v) < 9.007199254740992e15)
    put(b, "} %.0f\n", v);
  else
    put(b, "} %.17g\n", v);
  return 0;
}

char *sl__rest_prometheus(sl_env *env, size_t *len) {
  buf b = {0};
  put(&b, "# sluice %s\n", sl_version());
  sl_metrics_foreach(env, sample, &b); /* no job (yet, or any more): no samples */
  if (b.oom) {
    sl__free(b.p);
    return NULL;
  }
  *len = b.len;
  return b.p;
}

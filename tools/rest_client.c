/*
 * rest_client.c -- `sluice list`, `sluice cancel JOBID` and `sluice stop
 * JOBID`: what `flink list/cancel/stop` do, over a running job's REST API
 * (libcurl, cJSON; docs/REST.md).  --rest HOST:PORT (default
 * 127.0.0.1:8081), --token TOKEN or $SLUICE_REST_TOKEN for a server with
 * rest.auth.token.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

typedef struct reply {
  char *body;
  size_t len;
  long status;
} reply;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  reply *r = ud;
  size_t k = size * n;
  char *b = realloc(r->body, r->len + k + 1);
  if (!b) return 0;
  memcpy(b + r->len, p, k);
  r->body = b;
  r->len += k;
  b[r->len] = 0;
  return k;
}

/* One request; 0 with *out (status and body), or SL_EXIT_FAILED with the
 * error printed. */
static int request(const char *cmd, const cli_opts *o, const char *method, const char *path,
                   const char *body, reply *out) {
  char url[1024], auth[1100];
  snprintf(url, sizeof url, "http://%s%s", o->rest ? o->rest : "127.0.0.1:8081", path);
  memset(out, 0, sizeof *out);
  CURL *c = curl_easy_init();
  if (!c) return SL_EXIT_FAILED;
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  const char *token = o->token ? o->token : getenv("SLUICE_REST_TOKEN");
  if (token && *token) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    h = curl_slist_append(h, auth);
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) {
    fprintf(stderr, "%s: cannot reach the REST API at %s: %s (is a job running? `sluice run` "
                    "prints its URL; --rest HOST:PORT)\n", cmd, url, curl_easy_strerror(rc));
    free(out->body);
    out->body = NULL;
    return SL_EXIT_FAILED;
  }
  return 0;
}

/* The answer as JSON when its status is `want`; else prints the server's
 * errors and returns NULL. */
static cJSON *expect(const char *cmd, reply *r, long want) {
  cJSON *j = r->body ? cJSON_Parse(r->body) : NULL;
  if (r->status == want && j) return j;
  const cJSON *errs = cJSON_GetObjectItemCaseSensitive(j, "errors");
  const cJSON *e = cJSON_IsArray(errs) ? cJSON_GetArrayItem(errs, 0) : NULL;
  fprintf(stderr, "%s: the REST API answered %ld: %s\n", cmd, r->status,
          cJSON_IsString(e) ? e->valuestring : r->body ? r->body : "(no body)");
  cJSON_Delete(j);
  return NULL;
}

/* cli_parse for a command that runs no job (-D keys are checked, then
 * dropped). */
static int parse(int argc, char **argv, int first, const char *cmd, const char *allowed,
                 cli_opts *o) {
  sl_env *env = sl_env_new();
  if (!env) return SL_EXIT_FAILED;
  int rc = cli_parse(argc, argv, first, cmd, allowed, env, o);
  sl_env_free(env);
  return rc;
}

static const char *str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

int cmd_list(int argc, char **argv) {
  const char *cmd = "sluice list";
  cli_opts o = {0};
  int rc = parse(argc, argv, 2, cmd, "rest,token", &o);
  if (rc) return rc;
  reply r;
  if ((rc = request(cmd, &o, "GET", "/jobs/overview", NULL, &r))) return rc;
  cJSON *j = expect(cmd, &r, 200);
  free(r.body);
  if (!j) return SL_EXIT_FAILED;
  const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(j, "jobs"), *job;
  int n = 0;
  printf("------------------ Running/Restarting Jobs -------------------\n");
  cJSON_ArrayForEach(job, jobs) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(job, "start-time");
    time_t t = cJSON_IsNumber(st) ? (time_t)(st->valuedouble / 1000) : 0;
    struct tm tm;
    char when[32];
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%d.%m.%Y %H:%M:%S", &tm);
    printf("%s : %s : %s (%s)\n", when, str(job, "jid"), str(job, "name"), str(job, "state"));
    n++;
  }
  if (!n) printf("No running jobs.\n");
  printf("--------------------------------------------------------------\n");
  cJSON_Delete(j);
  return SL_EXIT_OK;
}

static int job_arg(const char *cmd, int argc, char **argv, const char **jid) {
  if (argc < 3 || argv[2][0] == '-') {
    fprintf(stderr, "%s: the job id is missing (`sluice list` shows it)\n", cmd);
    return SL_EXIT_USAGE;
  }
  *jid = argv[2];
  return 0;
}

int cmd_cancel(int argc, char **argv) {
  const char *cmd = "sluice cancel", *jid;
  cli_opts o = {0};
  int rc = job_arg(cmd, argc, argv, &jid);
  if (!rc) rc = parse(argc, argv, 3, cmd, "rest,token", &o);
  if (rc) return rc;
  char path[256];
  snprintf(path, sizeof path, "/jobs/%s?mode=cancel", jid);
  printf("Cancelling job %s.\n", jid);
  reply r;
  if ((rc = request(cmd, &o, "PATCH", path, NULL, &r))) return rc;
  cJSON *j = expect(cmd, &r, 202);
  free(r.body);
  if (!j) return SL_EXIT_FAILED;
  cJSON_Delete(j);
  printf("Cancelled job %s.\n", jid);
  return SL_EXIT_OK;
}

int cmd_stop(int argc, char **argv) {
  const char *cmd = "sluice stop", *jid;
  cli_opts o = {0};
  int rc = job_arg(cmd, argc, argv, &jid);
  if (!rc) rc = parse(argc, argv, 3, cmd, "rest,token,drain,savepoint-path", &o);
  if (rc) return rc;
  cJSON *req = cJSON_CreateObject();
  cJSON_AddBoolToObject(req, "drain", o.drain);
  if (o.savepoint_path) cJSON_AddStringToObject(req, "targetDirectory", o.savepoint_path);
  char *body = cJSON_PrintUnformatted(req);
  cJSON_Delete(req);
  char path[256];
  snprintf(path, sizeof path, "/jobs/%s/stop", jid);
  printf("Suspending job \"%s\" with a savepoint%s.\n", jid, o.drain ? " (draining)" : "");
  reply r;
  rc = body ? request(cmd, &o, "POST", path, body, &r) : SL_EXIT_FAILED;
  free(body);
  if (rc) return rc;
  cJSON *j = expect(cmd, &r, 202);
  free(r.body);
  if (!j) return SL_EXIT_FAILED;
  char tid[64];
  snprintf(tid, sizeof tid, "%s", str(j, "request-id"));
  cJSON_Delete(j);
  snprintf(path, sizeof path, "/jobs/%s/savepoints/%s", jid, tid);
  for (int tries = 0; tries < 3000; tries++) { /* up to 10 minutes */
    if ((rc = request(cmd, &o, "GET", path, NULL, &r))) return rc;
    j = expect(cmd, &r, 200);
    free(r.body);
    if (!j) return SL_EXIT_FAILED;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    if (!strcmp(str(st, "id"), "COMPLETED")) {
      const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "operation");
      const cJSON *fail = cJSON_GetObjectItemCaseSensitive(op, "failure-cause");
      if (fail) {
        fprintf(stderr, "%s: the savepoint failed: %s\n", cmd, str(fail, "stack-trace"));
        cJSON_Delete(j);
        return SL_EXIT_FAILED;
      }
      printf("Savepoint completed. Path: %s\n", str(op, "location"));
      cJSON_Delete(j);
      return SL_EXIT_OK;
    }
    cJSON_Delete(j);
    struct timespec ts = {0, 200 * 1000000};
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "%s: no outcome after 10 minutes\n", cmd);
  return SL_EXIT_FAILED;
}

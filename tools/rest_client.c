/*
 * rest_client.c -- `sluice list`, `sluice cancel JOBID` and `sluice stop
 * JOBID`: what `flink list/cancel/stop` do, over a running job's REST API
 * (plain HTTP/1.1 over a socket: the API is served without TLS, on
 * loopback by default; cJSON; docs/REST.md).  --rest HOST:PORT (default
 * 127.0.0.1:8081), --token TOKEN or $SLUICE_REST_TOKEN for a server with
 * rest.auth.token.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

typedef struct reply {
  char *body;
  size_t len;
  long status;
} reply;

/* Reads until the peer closes (Connection: close); 0 or -1. */
static int read_all(int fd, char **out, size_t *len) {
  size_t cap = 8192, n = 0;
  char *b = malloc(cap);
  while (b) {
    if (n + 4096 > cap) {
      char *nb = cap < ((size_t)64 << 20) ? realloc(b, cap *= 2) : NULL;
      if (!nb) break;
      b = nb;
    }
    ssize_t k = read(fd, b + n, cap - n - 1);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) break;
    if (k == 0) {
      b[n] = 0;
      *out = b;
      *len = n;
      return 0;
    }
    n += (size_t)k;
  }
  free(b);
  return -1;
}

/* One HTTP/1.1 request to the REST API (plain HTTP, Connection: close);
 * 0 with *out (status and body), or SL_EXIT_FAILED with the error printed. */
static int request(const char *cmd, const cli_opts *o, const char *method, const char *path,
                   const char *body, reply *out) {
  const char *rest = o->rest ? o->rest : "127.0.0.1:8081";
  char host[256], port[16];
  const char *colon = strrchr(rest, ':');
  memset(out, 0, sizeof *out);
  if (!colon || colon == rest || (size_t)(colon - rest) >= sizeof host || strlen(colon + 1) >= sizeof port) {
    fprintf(stderr, "%s: --rest expects HOST:PORT, got '%s'\n", cmd, rest);
    return SL_EXIT_USAGE;
  }
  memcpy(host, rest, (size_t)(colon - rest));
  host[colon - rest] = 0;
  snprintf(port, sizeof port, "%s", colon + 1);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
  int fd = -1, gai = getaddrinfo(host, port, &hints, &ai);
  const char *why = gai ? gai_strerror(gai) : NULL;
  for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
      why = strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  if (ai) freeaddrinfo(ai);
  if (fd < 0) {
    fprintf(stderr, "%s: cannot reach the REST API at http://%s%s: %s (is a job running? "
                    "`sluice run` prints its URL; --rest HOST:PORT)\n", cmd, rest, path,
            why ? why : "no address");
    return SL_EXIT_FAILED;
  }
  struct timeval tv = {30, 0}; /* a server that stops answering */
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const char *token = o->token ? o->token : getenv("SLUICE_REST_TOKEN");
  char head[2048];
  int hn = snprintf(head, sizeof head,
                    "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Type: "
                    "application/json\r\nContent-Length: %zu\r\n%s%s%s\r\n",
                    method, path, rest, body ? strlen(body) : 0,
                    token && *token ? "Authorization: Bearer " : "", token && *token ? token : "",
                    token && *token ? "\r\n" : "");
  int ok = hn > 0 && (size_t)hn < sizeof head && write(fd, head, (size_t)hn) == hn &&
           (!body || write(fd, body, strlen(body)) == (ssize_t)strlen(body));
  char *resp = NULL;
  size_t len = 0;
  ok = ok && read_all(fd, &resp, &len) == 0;
  close(fd);
  char *sep = ok ? strstr(resp, "\r\n\r\n") : NULL;
  if (!sep || sscanf(resp, "HTTP/1.%*d %ld", &out->status) != 1) {
    fprintf(stderr, "%s: no HTTP answer from http://%s%s\n", cmd, rest, path);
    free(resp);
    return SL_EXIT_FAILED;
  }
  /* the body (libmicrohttpd answers with Content-Length, never chunked to us) */
  out->len = len - (size_t)(sep + 4 - resp);
  memmove(resp, sep + 4, out->len + 1);
  out->body = resp;
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

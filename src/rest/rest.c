/*
 * rest.c -- the REST server: the listening socket (rest.* keys), the
 * libmicrohttpd daemon and its request routing, bearer-token
 * authentication, and the endpoints that act on the job: cancel,
 * savepoints and stop-with-savepoint (docs/REST.md).
 *
 * Requests are answered on libmicrohttpd's own thread; a body is built
 * whole (under the environment's live_mu) before it is queued, so a slow
 * client only occupies its connection, never the job's workers.
 * Savepoints go through the checkpoint coordinator's request file, as
 * `sluice savepoint` does; stop-with-savepoint sets the job's final
 * checkpoint to be the savepoint, then stops it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "rest/dashboard.h"
#include "rest/rest_int.h"

#define BODY_MAX 65536 /* largest request body read */

/* ---- the listening socket ------------------------------------------------- */

static int is_loopback(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
  if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(a)) return 1;
    return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
  }
  return 0;
}

/* "N", "0" or "A-B" into [*lo, *hi]. */
static int parse_ports(const char *s, long *lo, long *hi) {
  char *end;
  errno = 0;
  *lo = strtol(s, &end, 10);
  if (end == s || errno || *lo < 0 || *lo > 65535) return -1;
  *hi = *lo;
  if (*end == '-') {
    const char *h = end + 1;
    *hi = strtol(h, &end, 10);
    if (end == h || errno || *hi < *lo || *hi > 65535 || *lo == 0) return -1;
  }
  return *end ? -1 : 0;
}

int sl__rest_listen(const sl__conf *conf, int *fd, char *url, size_t urlcap, char *err,
                    size_t errcap) {
  *fd = -1;
  const char *ports = SL__CONF_S(conf, REST_PORT);
  if (!SL__CONF_I(conf, REST_ENABLED) || !ports || !*ports) return 0;
  long lo, hi;
  if (parse_ports(ports, &lo, &hi)) {
    sl__fmt(err, errcap, "rest.port: '%s' is not a port (0-65535, 0 = any free port) or a "
                         "range such as 8081-8181", ports);
    return -SL_ECONFIG;
  }
  const char *addr = SL__CONF_S(conf, REST_ADDRESS);
  const char *token = SL__CONF_S(conf, REST_TOKEN);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  int gai = getaddrinfo(addr && *addr ? addr : NULL, "0", &hints, &ai);
  if (gai) {
    sl__fmt(err, errcap, "rest.bind-address: cannot resolve '%s': %s", addr, gai_strerror(gai));
    return -SL_ECONFIG;
  }
  if (!is_loopback(ai->ai_addr) && (!token || !*token)) {
    freeaddrinfo(ai);
    sl__fmt(err, errcap, "rest.bind-address '%s' is not a loopback address: the REST API "
                         "can cancel and stop the job, so set rest.auth.token (every request "
                         "must then carry 'Authorization: Bearer <token>'), or bind 127.0.0.1",
            addr);
    return -SL_ECONFIG;
  }
  /* A port is ours once listen() succeeds: with SO_REUSEADDR two
   * processes may both bind a port that neither listens on yet, and the
   * second listen() then fails with EADDRINUSE -- try the next one. */
  int s = -1, rc = 0, e = 0, one = 1;
  for (long p = lo; p <= hi; p++) {
    struct sockaddr_storage ss;
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (ss.ss_family == AF_INET)
      ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)p);
    else
      ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)p);
    if ((s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
      e = errno;
      break;
    }
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&ss, ai->ai_addrlen) == 0 && listen(s, 64) == 0) {
      e = 0;
      break;
    }
    e = errno;
    close(s);
    s = -1;
    if (e != EADDRINUSE) break;
  }
  if (e) {
    sl__fmt(err, errcap, "rest.port %s on %s: %s%s", ports, addr, strerror(e),
            e == EADDRINUSE ? " (another job or program listens there: choose another "
                              "port, 0 for any free one, or set rest.enabled=false)" : "");
    rc = -SL_EIO;
  }
  if (!rc) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "";
    getsockname(s, (struct sockaddr *)&ss, &len);
    int port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                       : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    inet_ntop(ss.ss_family,
              ss.ss_family == AF_INET ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
                                      : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr,
              host, sizeof host);
    sl__fmt(url, urlcap, ss.ss_family == AF_INET6 ? "http://[%s]:%d/" : "http://%s:%d/", host,
            port);
    *fd = s;
  } else if (s >= 0) {
    close(s);
  }
  freeaddrinfo(ai);
  return rc;
}

/* ---- answers -------------------------------------------------------------- */

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, char *body,
                                 size_t len, const char *type) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  enum MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

/* Sends j (and frees it). */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, cJSON *j) {
  char *s = j ? cJSON_PrintUnformatted(j) : NULL; /* malloc'ed: MHD frees it */
  cJSON_Delete(j);
  if (!s) return MHD_NO;
  return send_body(c, status, s, strlen(s), "application/json");
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cJSON *o = cJSON_CreateObject();
  cJSON *a = cJSON_AddArrayToObject(o, "errors");
  cJSON_AddItemToArray(a, cJSON_CreateString(msg));
  return send_json(c, status, o);
}

/* ---- authentication --------------------------------------------------------- */

/* a == b in time that depends only on their lengths */
static int same(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  unsigned char d = na != nb;
  for (size_t i = 0; i < na; i++) d |= (unsigned char)a[i] ^ (unsigned char)b[i % (nb ? nb : 1)];
  return d == 0;
}

static int authorized(sl_env *env, struct MHD_Connection *c) {
  const char *token = SL__CONF_S(&env->conf, REST_TOKEN);
  if (!token || !*token) return 1;
  const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  return h && !strncmp(h, "Bearer ", 7) && same(h + 7, token);
}

/* ---- savepoints and stop ---------------------------------------------------- */

static void new_tid(char out[33]) {
  uint8_t b[16];
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, b, sizeof b) != (ssize_t)sizeof b) {
    uint64_t t = (uint64_t)sl__now_ns();
    memcpy(b, &t, 8);
    memcpy(b + 8, &t, 8);
  }
  if (fd >= 0) close(fd);
  for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Why the job cannot take a savepoint ("" : it can). */
static const char *no_savepoints(sl_env *env) {
  const char *dir = SL__CONF_S(&env->conf, CKPT_DIR);
  if (SL__CONF_I(&env->conf, CKPT_INTERVAL) <= 0 || !dir || !*dir)
    return "savepoints need checkpointing: set execution.checkpointing.interval and "
           "state.checkpoints.dir (--checkpoint-dir)";
  pthread_mutex_lock(&env->live_mu);
  int ended = env->end_ms != 0;
  pthread_mutex_unlock(&env->live_mu);
  return ended ? "the job has ended" : "";
}

/* The request's JSON body (NULL: none or not JSON). */
static cJSON *body_json(const char *body, size_t len) {
  return len ? cJSON_ParseWithLength(body, len) : NULL;
}

static const char *json_str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static sl__rest_op *new_op(struct sl__rest *r) {
  pthread_mutex_lock(&r->mu);
  sl__rest_op *op = &r->ops[r->n_ops % SL__REST_OPS];
  r->n_ops++;
  memset(op, 0, sizeof *op);
  new_tid(op->tid);
  pthread_mutex_unlock(&r->mu);
  return op;
}

static enum MHD_Result trigger_savepoint(struct sl__rest *r, struct MHD_Connection *c,
                                         const char *body, size_t len) {
  sl_env *env = r->env;
  const char *why = no_savepoints(env);
  if (*why) return send_error(c, 400, "%s", why);
  cJSON *j = body_json(body, len);
  if (len && !j) return send_error(c, 400, "the request body is not JSON");
  const cJSON *cancel = cJSON_GetObjectItemCaseSensitive(j, "cancel-job");
  if (cJSON_IsTrue(cancel)) {
    cJSON_Delete(j);
    return send_error(c, 400, "cancel-job is not supported: use POST /jobs/:jid/stop");
  }
  const char *target = json_str(j, "target-directory");
  const char *dir = SL__CONF_S(&env->conf, CKPT_DIR);
  sl__rest_op *op = new_op(r);
  int rc = sl__savepoint_request(dir, op->tid, target);
  if (rc) {
    cJSON_Delete(j);
    op->state = 2;
    return send_error(c, 500, "cannot write the savepoint request into '%s': %s", dir,
                      strerror(-rc));
  }
  cJSON_Delete(j);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "request-id", op->tid);
  return send_json(c, 202, o);
}

static enum MHD_Result stop_job(struct sl__rest *r, struct MHD_Connection *c, const char *body,
                                size_t len) {
  sl_env *env = r->env;
  const char *why = no_savepoints(env);
  if (*why) return send_error(c, 400, "%s", why);
  cJSON *j = body_json(body, len);
  if (len && !j) return send_error(c, 400, "the request body is not JSON");
  int drain = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "drain"));
  const char *base = json_str(j, "targetDirectory");
  if (!base) base = SL__CONF_S(&env->conf, SAVEPOINT_DIR);
  char def[4200];
  if (!base || !*base) {
    snprintf(def, sizeof def, "%s/savepoints", SL__CONF_S(&env->conf, CKPT_DIR));
    base = def;
  }
  sl__rest_op *op = new_op(r); /* (r->mu before live_mu, never inside it) */
  pthread_mutex_lock(&env->live_mu);
  sl__job *job = env->live_job;
  if (!job || env->stop_savepoint[0] || atomic_load(&env->cancel)) {
    pthread_mutex_unlock(&env->live_mu);
    cJSON_Delete(j);
    op->state = 2;
    return send_error(c, 409, "the job is %s", job ? "already stopping" : "not running");
  }
  op->stop = 1;
  sl__fmt(op->target, sizeof op->target, "%s/savepoint-%.6s-%.12s", base, env->jid, op->tid);
  sl__fmt(env->stop_savepoint, sizeof env->stop_savepoint, "%s", op->target);
  atomic_store(&job->final_savepoint, env->stop_savepoint);
  pthread_mutex_unlock(&env->live_mu);
  cJSON_Delete(j);
  sl_stop(env, drain);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "request-id", op->tid);
  return send_json(c, 202, o);
}

/* Brings op's state up to date (r->mu held). */
static void op_poll(struct sl__rest *r, sl__rest_op *op) {
  sl_env *env = r->env;
  if (op->state) return;
  if (!op->stop) { /* the coordinator's answer file */
    int ok;
    if (sl__savepoint_answer(SL__CONF_S(&env->conf, CKPT_DIR), op->tid, &ok, op->result,
                             sizeof op->result))
      op->state = ok ? 1 : 2;
    return;
  }
  pthread_mutex_lock(&env->live_mu); /* the final checkpoint's record */
  sl__ckpt_stats *cs = env->cstats;
  if (cs) {
    pthread_mutex_lock(&cs->mu);
    for (int k = 1; k <= cs->n; k++) {
      const sl__ckpt_rec *c = sl__ckstats_nth(cs, k);
      if (strcmp(c->path, op->target) || c->status == SL__CK_IN_PROGRESS) continue;
      op->state = c->status == SL__CK_COMPLETED ? 1 : 2;
      sl__fmt(op->result, sizeof op->result, "%s", c->status == SL__CK_COMPLETED ? c->path
                                                                                   : c->failure);
      break;
    }
    pthread_mutex_unlock(&cs->mu);
  }
  if (!op->state && env->end_ms && env->state == SL__JOB_FAILED) {
    op->state = 2;
    sl__fmt(op->result, sizeof op->result, "the job failed before the savepoint: %s",
            env->n_exc ? env->exc[env->n_exc - 1].msg : "");
  }
  pthread_mutex_unlock(&env->live_mu);
}

static enum MHD_Result savepoint_status(struct sl__rest *r, struct MHD_Connection *c,
                                        const char *tid) {
  pthread_mutex_lock(&r->mu);
  sl__rest_op *op = NULL;
  for (int i = 0; i < SL__REST_OPS && i < r->n_ops; i++)
    if (!strcmp(r->ops[i].tid, tid)) op = &r->ops[i];
  if (!op) {
    pthread_mutex_unlock(&r->mu);
    return send_error(c, 404, "no savepoint request '%s'", tid);
  }
  op_poll(r, op);
  cJSON *o = cJSON_CreateObject();
  cJSON *st = cJSON_AddObjectToObject(o, "status");
  cJSON_AddStringToObject(st, "id", op->state ? "COMPLETED" : "IN_PROGRESS");
  if (op->state) {
    cJSON *res = cJSON_AddObjectToObject(o, "operation");
    if (op->state == 1) {
      cJSON_AddStringToObject(res, "location", op->result);
    } else {
      cJSON *f = cJSON_AddObjectToObject(res, "failure-cause");
      cJSON_AddStringToObject(f, "class", "sluice.SavepointError");
      cJSON_AddStringToObject(f, "stack-trace", op->result);
    }
    op->fetched = 1;
  }
  pthread_mutex_unlock(&r->mu);
  return send_json(c, 200, o);
}

/* ---- routing ------------------------------------------------------------------ */

typedef struct conn {
  char *body;
  size_t len;
  int too_big;
} conn;

static enum MHD_Result get_json(struct sl__rest *r, struct MHD_Connection *c,
                                cJSON *(*fn)(sl_env *)) {
  pthread_mutex_lock(&r->env->live_mu);
  cJSON *j = fn(r->env);
  pthread_mutex_unlock(&r->env->live_mu);
  return send_json(c, 200, j);
}

static enum MHD_Result route(struct sl__rest *r, struct MHD_Connection *c, const char *url,
                             const char *method, const conn *k) {
  sl_env *env = r->env;
  int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  char path[512];
  sl__fmt(path, sizeof path, "%s", url);
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') path[--n] = 0; /* /jobs/ = /jobs */
  char *seg[8];
  int ns = 0;
  for (char *save = NULL, *t = strtok_r(path, "/", &save); t && ns < 8;
       t = strtok_r(NULL, "/", &save))
    seg[ns++] = t;
#define IS(i, s) (ns > (i) && !strcmp(seg[i], (s)))
#define ONLY(m) if (strcmp(method, m) && !(get && !strcmp(m, "GET"))) \
                  return send_error(c, 405, "%s %s: method not allowed (%s only)", method, url, m)
  if (ns == 0) {
    ONLY("GET");
    char *page = malloc(sl__dashboard_html_len);
    if (!page) return MHD_NO;
    memcpy(page, sl__dashboard_html, sl__dashboard_html_len);
    return send_body(c, 200, page, sl__dashboard_html_len, "text/html; charset=utf-8");
  }
  if (ns == 1 && IS(0, "metrics")) {
    ONLY("GET");
    size_t len;
    char *text = sl__rest_prometheus(env, &len);
    if (!text) return send_error(c, 500, "out of memory");
    char *body = malloc(len + 1); /* MHD frees with free() */
    if (body) memcpy(body, text, len);
    sl__free(text);
    if (!body) return MHD_NO;
    return send_body(c, 200, body, len, "text/plain; version=0.0.4; charset=utf-8");
  }
  if (ns == 1 && IS(0, "config")) { ONLY("GET"); return get_json(r, c, sl__rest_config); }
  if (ns == 1 && IS(0, "overview")) { ONLY("GET"); return get_json(r, c, sl__rest_overview); }
  if (ns == 1 && IS(0, "jobs")) { ONLY("GET"); return get_json(r, c, sl__rest_jobs); }
  if (ns == 2 && IS(0, "jobs") && IS(1, "overview")) {
    ONLY("GET");
    return get_json(r, c, sl__rest_jobs_overview);
  }
  if (ns >= 2 && IS(0, "jobs")) {
    if (strcmp(seg[1], env->jid)) return send_error(c, 404, "Job '%s' not found", seg[1]);
    if (ns == 2 && !strcmp(method, "PATCH")) {
      const char *mode = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mode");
      if (mode && strcmp(mode, "cancel"))
        return send_error(c, 400, "mode '%s': only 'cancel' is supported", mode);
      sl_cancel(env);
      return send_json(c, 202, cJSON_CreateObject());
    }
    if (ns == 2) { ONLY("GET"); return get_json(r, c, sl__rest_job); }
    if (ns == 3 && IS(2, "checkpoints")) { ONLY("GET"); return get_json(r, c, sl__rest_checkpoints); }
    if (ns == 3 && IS(2, "exceptions")) { ONLY("GET"); return get_json(r, c, sl__rest_exceptions); }
    if (ns == 3 && IS(2, "config")) { ONLY("GET"); return get_json(r, c, sl__rest_job_config); }
    if (ns == 4 && IS(2, "vertices")) {
      ONLY("GET");
      pthread_mutex_lock(&env->live_mu);
      cJSON *j = sl__rest_vertex(env, seg[3]);
      pthread_mutex_unlock(&env->live_mu);
      if (!j) return send_error(c, 404, "Vertex '%s' not found", seg[3]);
      return send_json(c, 200, j);
    }
    if (ns == 3 && IS(2, "savepoints")) {
      ONLY("POST");
      return trigger_savepoint(r, c, k->body, k->len);
    }
    if (ns == 4 && IS(2, "savepoints")) { ONLY("GET"); return savepoint_status(r, c, seg[3]); }
    if (ns == 3 && IS(2, "stop")) { ONLY("POST"); return stop_job(r, c, k->body, k->len); }
  }
#undef IS
#undef ONLY
  return send_error(c, 404, "Not found: %s", url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls) {
  (void)version;
  struct sl__rest *r = cls;
  conn *k = *con_cls;
  if (!k) { /* the headers: keep a place for the body */
    if (!(k = calloc(1, sizeof *k))) return MHD_NO;
    *con_cls = k;
    return MHD_YES;
  }
  if (*upload_size) { /* a piece of the body */
    if (k->len + *upload_size > BODY_MAX) {
      k->too_big = 1;
    } else {
      char *p = realloc(k->body, k->len + *upload_size);
      if (!p) return MHD_NO;
      memcpy(p + k->len, upload, *upload_size);
      k->body = p;
      k->len += *upload_size;
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (!authorized(r->env, c)) {
    struct MHD_Response *resp;
    const char *msg = "{\"errors\":[\"missing or wrong bearer token (rest.auth.token)\"]}";
    resp = MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, 401, resp);
    MHD_destroy_response(resp);
    return ok;
  }
  if (k->too_big) return send_error(c, 413, "request body over %d bytes", BODY_MAX);
  return route(r, c, url, method, k);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode why) {
  (void)cls, (void)c, (void)why;
  conn *k = *con_cls;
  if (k) {
    free(k->body);
    free(k);
  }
  *con_cls = NULL;
}

struct sl__rest *sl__rest_start(sl_env *env, int fd) {
  struct sl__rest *r = sl__calloc(1, sizeof *r);
  if (!r) return NULL;
  r->env = env;
  pthread_mutex_init(&r->mu, NULL);
  r->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_POLL, 0, NULL,
                          NULL, on_request, r, MHD_OPTION_LISTEN_SOCKET, fd,
                          MHD_OPTION_NOTIFY_COMPLETED, on_done, r,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
  if (!r->d) {
    int e = errno;
    sl__log(&env->conf.log, SL_LOG_WARN, env->log_scope,
            "the REST server did not start on its socket (libmicrohttpd: %s); the job runs "
            "without REST API and dashboard (rest.enabled=false turns them off)",
            e ? strerror(e) : "no reason given");
    pthread_mutex_destroy(&r->mu);
    sl__free(r);
    return NULL;
  }
  return r;
}

void sl__rest_stop(struct sl__rest *r) {
  if (!r) return;
  /* a stop-with-savepoint client polls for the outcome: let it see it */
  for (int waited = 0; waited < 10000; waited += 20) {
    int pending = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < SL__REST_OPS && i < r->n_ops; i++)
      pending |= r->ops[i].stop && !r->ops[i].fetched;
    pthread_mutex_unlock(&r->mu);
    if (!pending) break;
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
  }
  MHD_quiesce_daemon(r->d); /* the socket stays open for the next attempt */
  MHD_stop_daemon(r->d);
  pthread_mutex_destroy(&r->mu);
  sl__free(r);
}

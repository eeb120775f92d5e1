/*
 * pg_api_test.c -- the PostgreSQL connector's C API against the private
 * server cli_pg.sh starts (PGHOST/PGPORT/PGUSER/PGDATABASE in the
 * environment; run by that test, not by ctest directly):
 *   - sl_postgres_source with an option list (a libpq parameter among
 *     them): each record's key is the primary key's text, the value the
 *     row as CSV text (quotes, NULL as empty), read at parallelism 2;
 *   - sl_postgres_sink with an option list: CSV values with quoted
 *     delimiters, doubled quotes, backslashes, an unquoted empty field
 *     (NULL) and a quoted one (''), checked through libpq;
 *   - an unknown option and a missing table fail sl_execute with messages
 *     naming them;
 *   - a sink whose connection the server drops between two batches
 *     (pg_terminate_backend, from a source written on the connector SDK)
 *     reconnects and writes everything (sink.max-retries), or, with
 *     sink.max-retries=0, fails naming the table;
 *   - sink.changelog=true: a hand-written changelog (+I/-U/+U/-D; an
 *     update of an existing key, -D then +I of one key in one batch, +I
 *     then -D, a -D of a missing key, NULL non-key columns, a composite
 *     key in another order than the table's, through the URI form too)
 *     leaves the table worked out by hand, in one batch, in batches of 2,
 *     and exactly-once with checkpoints completing between the records
 *     (batches of 2; nothing left prepared), also when a failed run is
 *     restored from its checkpoint; a table without a primary
 *     key, a value without a change kind (quoted, bounded), a -D with a
 *     NULL key and a bad option value fail with their messages.
 * Exit 0 when every check passed.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_test.h"
#include "sluice_connector.h"



static char conninfo[256];

/* Run src -> collect at parallelism p; the sl_execute result. */
static int run_source(sl_source *src, int p, sl_collect *c, char *err, size_t cap) {
  sl_env *env = sl_env_new();
  char ps[8];
  snprintf(ps, sizeof ps, "%d", p);
  sl_env_set(env, "parallelism.default", ps);
  sl_env_set(env, "rest.enabled", "false");
  sl_sink_to(sl_source_stream(env, src), sl_collect_sink(c));
  int rc = sl_execute(env, "pg_api_test");
  snprintf(err, cap, "%s", rc ? sl_env_last_error(env) : "");
  sl_env_free(env);
  return rc;
}

static int find(const sl_collect *c, const char *key, const char *value) {
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    if (r.key_len == strlen(key) && !memcmp(r.key, key, r.key_len) &&
        r.value_len == strlen(value) && !memcmp(r.value, value, r.value_len))
      return 1;
  }
  return 0;
}

static int value_is(const char *q, const char *want) {
  PGresult *r = PQexec(conn, q);
  int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
           !strcmp(PQgetisnull(r, 0, 0) ? "<NULL>" : PQgetvalue(r, 0, 0), want);
  if (!ok)
    fprintf(stderr, "  %s: got '%s', want '%s'\n", q,
            PQntuples(r) ? PQgetvalue(r, 0, 0) : PQerrorMessage(conn), want);
  PQclear(r);
  return ok;
}

/* A source that emits "1", then terminates every other "sluice"
 * connection of the server (the sink's), then emits "2" and "3". */
static int kill_poll(void *reader, sl_ctx *ctx, int budget) {
  int *step = reader;
  (void)budget;
  if (*step == 3) return SL_POLL_END;
  if (*step == 1) {
    PGconn *k = PQconnectdb(conninfo);
    PGresult *r = PQexec(k, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                            "application_name = 'sluice' AND pid <> pg_backend_pid()");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
      fprintf(stderr, "FAIL: no sink connection to terminate\n");
      fails++;
    }
    PQclear(r);
    PQfinish(k);
  }
  char v[2] = {(char)('1' + *step), 0};
  sl_record rec = {.ts = SL_NO_TIMESTAMP, .value = v, .value_len = 1};
  (*step)++;
  return sl_ctx_emit(ctx, &rec) ? -SL_ECANCELED : SL_POLL_MORE;
}
static int kill_open(void *ud, sl_ctx *ctx, void **reader) {
  (void)ctx;
  *reader = ud;
  return 0;
}
static const sl_source_ops kill_ops = {.version = SL_CONNECTOR_VERSION, .kind = "killer",
                                       .open = kill_open, .poll = kill_poll};

/* One run of the killer source into table t (a column), retries r. */
static int run_killed(const char *t, const char *retries, char *err, size_t cap) {
  static int step;
  step = 0;
  sl_env *env = sl_env_new();
  sl_env_set(env, "rest.enabled", "false");
  sl_env_set(env, "parallelism.default", "1");
  sl_stream *s = sl_source_stream(env, sl_source_new(&kill_ops, &step, SL_SOURCE_NONPARALLEL));
  sl_option o[] = {{"table-name", t}, {"sink.buffer-flush.max-rows", "1"},
                   {"sink.max-retries", retries}};
  sl_sink_to(s, sl_postgres_sink(conninfo, o, 3));
  int rc = sl_execute(env, "pg_api_retry");
  snprintf(err, cap, "%s", rc ? sl_env_last_error(env) : "");
  sl_env_free(env);
  return rc;
}

/* ---- sink.changelog ------------------------------------------------------
 * A source of lines, from subtask 0; with checkpoints, a NULL line waits
 * (idle) until one more checkpoint completed, so the lines after it go
 * into the next checkpoint's transaction. */
typedef struct phased {
  const char *const *lines;
  int n, at, completed, waited, ckpt;
  int fail;   /* the line "!FAIL" fails the job (else it is skipped) */
  int seeked; /* where seek put it; -1 none */
} phased;
static int ph_open(void *ud, sl_ctx *ctx, void **reader) {
  (void)ctx;
  *reader = ud;
  return 0;
}
static int ph_poll(void *reader, sl_ctx *ctx, int budget) {
  phased *p = reader;
  for (; budget > 0 && p->at < p->n; budget--) {
    const char *l = p->lines[p->at];
    if (!l) {
      if (p->ckpt && p->completed <= p->waited) return SL_POLL_IDLE;
      p->waited = p->completed;
      p->at++;
      continue;
    }
    if (!strcmp(l, "!FAIL")) {
      p->at++;
      if (p->fail) return sl_ctx_error(ctx, -SL_EIO, "test failure");
      continue;
    }
    sl_record rec = {.ts = SL_NO_TIMESTAMP, .value = l, .value_len = strlen(l)};
    if (sl_ctx_emit(ctx, &rec)) return -SL_ECANCELED;
    p->at++;
  }
  return p->at < p->n ? SL_POLL_MORE : SL_POLL_END;
}
static int ph_position(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len) {
  (void)ctx, (void)cap;
  memcpy(buf, &((phased *)reader)->at, sizeof(int));
  *len = sizeof(int);
  return 0;
}
static int ph_seek(void *reader, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                   int n) {
  (void)ctx;
  if (n != 1 || lens[0] != sizeof(int)) return -SL_ESTATE;
  memcpy(&((phased *)reader)->at, blobs[0], sizeof(int));
  ((phased *)reader)->seeked = ((phased *)reader)->at;
  return 0;
}
static int ph_complete(void *reader, sl_ctx *ctx, int64_t id) {
  (void)ctx, (void)id;
  ((phased *)reader)->completed++;
  return 0;
}
static const sl_source_ops ph_ops = {.version = 2, .kind = "phased", .open = ph_open,
                                     .poll = ph_poll, .position = ph_position, .seek = ph_seek,
                                     .checkpoint_complete = ph_complete};

static phased p;

/* lines -> sink k; ck: checkpoints every 50 ms into that directory, and
 * with restore the job restores the latest one there ("!FAIL" fails only
 * a run that does not restore).  The sl_execute result, its message in
 * err. */
static int restore;
static int run_lines(const char *const *lines, int n, sl_sink *k, const char *ck, char *err,
                     size_t cap) {
  p = (phased){lines, n, 0, 0, 0, ck != NULL, 0, -1};
  sl_env *env = sl_env_new();
  sl_env_set(env, "rest.enabled", "false");
  sl_env_set(env, "parallelism.default", "1");
  if (ck) {
    sl_env_set(env, "execution.checkpointing.interval", "50ms");
    sl_env_set(env, "state.checkpoints.dir", ck);
  }
  if (ck && restore) sl_env_set(env, "execution.checkpointing.restore", "latest");
  p.fail = !restore;
  sl_stream *s = sl_source_stream(env, sl_source_new(&ph_ops, &p, SL_SOURCE_NONPARALLEL));
  sl_sink_to(s, k);
  int rc = sl_execute(env, "pg_api_changelog");
  snprintf(err, cap, "%s", rc ? sl_env_last_error(env) : "");
  sl_env_free(env);
  return rc;
}

/* The changelog of table (id int PRIMARY KEY, name text, n int) and the
 * table it leaves, worked out by hand; NULL: a checkpoint completes here. */
static const char *const cl_lines[] = {
    "+I,1,a,10",   "+I,2,b,20",
    "-U,1,a,10",   "+U,1,a2,11",   /* 1 -> (a2, 11) */
    NULL,
    "-D,2,b,20",   "+I,2,b2,",     /* -D then +I: 2 -> (b2, NULL) */
    "-D,9,x,1",                    /* no such key: nothing */
    "+I,3,c,30",   NULL,
    "-D,3,c,30",                   /* +I then -D: 3 gone */
    "+I,4,d,40",   "-D,4,d,40",   "+I,4,d2,41", /* 4 -> (d2, 41) */
    "+I,5,\"e,f\",50", "-D,5,,",   /* the key is all a -D needs */
    "-U,6,zz,0",                   /* a lone -U: ignored */
    "+U,7,\"it's\",",              /* +U of a new key inserts */
};
#define CL_N ((int)(sizeof cl_lines / sizeof cl_lines[0]))
#define CL_WANT "1|a2|11;2|b2|<NULL>;4|d2|41;7|it's|<NULL>"
#define CL_GOT                                                                        \
  "SELECT string_agg(id || '|' || name || '|' || coalesce(n::text, '<NULL>'), ';' " \
  "ORDER BY id) FROM cl"

static void changelog_tests(const char *tmp) {
  char err[2048], ck[512], uri[512];
  int rc;
  /* one batch, batches of 2, exactly-once with batches of 2 */
  static const char *const rows[] = {"100000", "2", "2"};
  for (int run = 0; run < 3; run++) {
    sql("DROP TABLE IF EXISTS cl");
    sql("CREATE TABLE cl (id int PRIMARY KEY, name text, n int)");
    sl_option o[] = {{"table-name", "cl"}, {"sink.changelog", "true"},
                     {"sink.buffer-flush.max-rows", rows[run]}};
    snprintf(ck, sizeof ck, "%s/api_cl_ck", tmp);
    rc = run_lines(cl_lines, CL_N, sl_postgres_sink(conninfo, o, 3), run == 2 ? ck : NULL, err,
                   sizeof err);
    if (rc) fprintf(stderr, "  changelog run %d: %s\n", run, err);
    CHECK(rc == 0);
    CHECK(value_is(CL_GOT, CL_WANT));
    CHECK(run < 2 || p.completed >= 2); /* the two waits were checkpoints */
  }
  CHECK(value_is("SELECT count(*) FROM pg_prepared_xacts", "0"));

  /* exactly-once across a failure: the first run fails after changes a
   * completed checkpoint does not cover; the restored run replays them */
  static const char *const rl[] = {
      "+I,1,a,10", "+I,2,b,20", "+I,3,c,30", NULL,  /* committed */
      "-U,1,a,10", "+U,1,a2,11", "-D,2,b,20", "+I,4,d,40", "!FAIL",
      "-D,3,c,30", "+I,3,c2,", "-D,8,,",
  };
  sql("DROP TABLE cl");
  sql("CREATE TABLE cl (id int PRIMARY KEY, name text, n int)");
  snprintf(ck, sizeof ck, "%s/api_cl_ck2", tmp);
  sl_option ro[] = {{"table-name", "cl"}, {"sink.changelog", "true"},
                    {"sink.buffer-flush.max-rows", "2"}};
  rc = run_lines(rl, 12, sl_postgres_sink(conninfo, ro, 3), ck, err, sizeof err);
  CHECK(rc == -SL_EIO && strstr(err, "test failure"));
  restore = 1;
  rc = run_lines(rl, 12, sl_postgres_sink(conninfo, ro, 3), ck, err, sizeof err);
  restore = 0;
  CHECK(p.seeked >= 3 && p.seeked <= 8); /* restored past the committed changes */
  if (rc) fprintf(stderr, "  changelog restore: %s\n", err);
  CHECK(rc == 0);
  CHECK(value_is(CL_GOT, "1|a2|11;3|c2|<NULL>;4|d|40"));
  CHECK(value_is("SELECT count(*) FROM pg_prepared_xacts", "0"));

  /* a composite key, in another order than the table's; the URI form */
  sql("CREATE TABLE cl2 (v text, b text, a int, w int, PRIMARY KEY (a, b))");
  static const char *const cl2[] = {
      "+I,p,x,1,1", "+I,q,y,1,2",   "+I,r,x,2,3", "+I,s,it's,3,4",
      "-D,,x,1,",                   /* (1, x) gone; (1, y) stays */
      "-U,q,y,1,2", "+U,q2,y,1,", /* (1, y) -> q2, NULL */
      "-D,r,y,2,3",                 /* no (2, y): (2, x) stays */
      "-D,,it's,3,",                /* a quote in the key */
  };
  snprintf(uri, sizeof uri, "postgresql://%s@%s:%s/%s?table-name=cl2&sink.changelog=true",
           getenv("PGUSER") ? getenv("PGUSER") : "sluice",
           getenv("PGHOST") ? getenv("PGHOST") : "127.0.0.1",
           getenv("PGPORT") ? getenv("PGPORT") : "5432",
           getenv("PGDATABASE") ? getenv("PGDATABASE") : "postgres");
  rc = run_lines(cl2, 9, sl_postgres_sink_uri(uri), NULL, err, sizeof err);
  if (rc) fprintf(stderr, "  composite key: %s\n", err);
  CHECK(rc == 0);
  CHECK(value_is("SELECT string_agg(a || ',' || b || ',' || v || ',' || coalesce(w::text, "
                 "'<NULL>'), ';' ORDER BY a, b) FROM cl2",
                 "1,y,q2,<NULL>;2,x,r,3"));

  /* no primary key: refused at open, nothing written */
  sql("CREATE TABLE clnopk (a int, b text)");
  static const char *const one[] = {"+I,1,a"};
  sl_option np[] = {{"table-name", "clnopk"}, {"sink.changelog", "true"}};
  rc = run_lines(one, 1, sl_postgres_sink(conninfo, np, 2), NULL, err, sizeof err);
  CHECK(rc == -SL_ECONFIG);
  CHECK(strstr(err, "PostgreSQL table 'clnopk' (host ") && strstr(err, " database ") &&
        strstr(err, "has no primary key, and sink.changelog=true needs one: the sink cannot "
                    "apply update and delete changes (-U/+U/-D) without a key"));
  if (rc != -SL_ECONFIG || !strstr(err, "has no primary key")) fprintf(stderr, "  %s\n", err);
  CHECK(value_is("SELECT count(*) FROM clnopk", "0"));

  /* a value without a change kind: the job fails, quoting it (bounded) */
  sql("CREATE TABLE clbad (id int PRIMARY KEY, t text)");
  static const char *const bad[] = {"+I,1,a", "*X,2,b"};
  sl_option bo[] = {{"table-name", "clbad"}, {"sink.changelog", "true"}};
  rc = run_lines(bad, 2, sl_postgres_sink(conninfo, bo, 2), NULL, err, sizeof err);
  CHECK(rc == -SL_EBADREC);
  CHECK(strstr(err, "(subtask 1/1)") &&
        strstr(err, "PostgreSQL table 'clbad': sink.changelog=true, but a value does not "
                    "start with a change kind (+I, -U, +U or -D) and the field delimiter ',': "
                    "'*X,2,b'"));
  if (!strstr(err, "'*X,2,b'")) fprintf(stderr, "  %s\n", err);
  CHECK(value_is("SELECT count(*) FROM clbad", "0"));
  static char longv[200];
  memset(longv, 'x', sizeof longv - 1);
  memcpy(longv, "+Ix", 3);
  static const char *const bad2[] = {longv};
  rc = run_lines(bad2, 1, sl_postgres_sink(conninfo, bo, 2), NULL, err, sizeof err);
  CHECK(rc == -SL_EBADREC);
  CHECK(strstr(err, "'+Ixxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' "
                    "(199 bytes)"));
  if (!strstr(err, "(199 bytes)")) fprintf(stderr, "  %s\n", err);
  static const char *const nullkey[] = {"-D,,a"};
  rc = run_lines(nullkey, 1, sl_postgres_sink(conninfo, bo, 2), NULL, err, sizeof err);
  CHECK(rc == -SL_EBADREC && strstr(err, "a -D row whose primary-key field is empty (NULL)"));
  static const char *const bad3[] = {"+I"};
  rc = run_lines(bad3, 1, sl_postgres_sink(conninfo, bo, 2), NULL, err, sizeof err);
  CHECK(rc == -SL_EBADREC && strstr(err, "',': '+I'"));
  sl_option bv[] = {{"table-name", "clbad"}, {"sink.changelog", "yes"}};
  rc = run_lines(one, 1, sl_postgres_sink(conninfo, bv, 2), NULL, err, sizeof err);
  CHECK(rc == -SL_ECONFIG && strstr(err, "option 'sink.changelog': expected true or false, "
                                         "got 'yes'"));
}

int main(void) {
  snprintf(conninfo, sizeof conninfo, "host=%s port=%s user=%s dbname=%s",
           getenv("PGHOST") ? getenv("PGHOST") : "127.0.0.1", getenv("PGPORT") ? getenv("PGPORT") : "5432",
           getenv("PGUSER") ? getenv("PGUSER") : "sluice",
           getenv("PGDATABASE") ? getenv("PGDATABASE") : "postgres");
  conn = PQconnectdb(conninfo);
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "FAIL: cannot connect: %s", PQerrorMessage(conn));
    return 1;
  }
  sql("CREATE TABLE api_src (a int, b text, id bigint, PRIMARY KEY (id, a))");
  sql("INSERT INTO api_src VALUES (1, 'x,y', 10), (2, NULL, 20), (3, '', 30), (4, 'q\"q', 40)");

  /* source: composite key, CSV values, P = 2 */
  sl_option so[] = {{"table-name", "api_src"}, {"connect_timeout", "5"}, {"scan.fetch-size", "1"}};
  sl_collect *c = sl_collect_new();
  char err[1024];
  int rc = run_source(sl_postgres_source(conninfo, so, 3), 2, c, err, sizeof err);
  CHECK(rc == 0);
  CHECK(sl_collect_count(c) == 4);
  CHECK(find(c, "10,1", "1,\"x,y\",10"));
  CHECK(find(c, "20,2", "2,,20"));
  CHECK(find(c, "30,3", "3,\"\",30"));
  CHECK(find(c, "40,4", "4,\"q\"\"q\",40"));
  sl_collect_free(c);

  /* an unknown option; a missing table */
  sl_option bad[] = {{"table-name", "api_src"}, {"no-such-option", "1"}};
  c = sl_collect_new();
  rc = run_source(sl_postgres_source(conninfo, bad, 2), 1, c, err, sizeof err);
  CHECK(rc == -SL_ECONFIG && strstr(err, "unknown option 'no-such-option'"));
  sl_option missing[] = {{"table-name", "public.nope"}};
  rc = run_source(sl_postgres_source(conninfo, missing, 1), 1, c, err, sizeof err);
  CHECK(rc == -SL_ECONFIG && strstr(err, "PostgreSQL table 'public.nope' does not exist"));
  sl_collect_free(c);

  /* sink: CSV fields into typed columns; NULL vs '' */
  sql("CREATE TABLE api_sink (n int, t text, x numeric)");
  sl_env *env = sl_env_new();
  sl_env_set(env, "rest.enabled", "false");
  static const char *const lines[] = {"1,\"a,b\",1.50", "2,,", "3,\"\",-0", "4,\"q\"\"q\\\\\",7",
                                      "5,it's,1e3"};
  sl_stream *s = sl_source_stream(env, sl_lines_source(lines, 5));
  sl_option ko[] = {{"table-name", "api_sink"}, {"sink.buffer-flush.max-rows", "2"}};
  sl_sink_to(s, sl_postgres_sink(conninfo, ko, 2));
  rc = sl_execute(env, "pg_api_sink");
  if (rc) fprintf(stderr, "  sink: %s\n", sl_env_last_error(env));
  CHECK(rc == 0);
  sl_env_free(env);
  CHECK(value_is("SELECT count(*) FROM api_sink", "5"));
  CHECK(value_is("SELECT t FROM api_sink WHERE n = 1", "a,b"));
  CHECK(value_is("SELECT x::text FROM api_sink WHERE n = 1", "1.50"));
  CHECK(value_is("SELECT coalesce(t, '<NULL>') FROM api_sink WHERE n = 2", "<NULL>"));
  CHECK(value_is("SELECT coalesce(x::text, '<NULL>') FROM api_sink WHERE n = 2", "<NULL>"));
  CHECK(value_is("SELECT '[' || t || ']' FROM api_sink WHERE n = 3", "[]"));
  CHECK(value_is("SELECT t FROM api_sink WHERE n = 4", "q\"q\\\\"));
  CHECK(value_is("SELECT t FROM api_sink WHERE n = 5", "it's"));
  CHECK(value_is("SELECT x::text FROM api_sink WHERE n = 5", "1000"));
  /* the connection dropped between batches: retried, or not */
  sql("CREATE TABLE api_retry (v int)");
  rc = run_killed("api_retry", "3", err, sizeof err);
  if (rc) fprintf(stderr, "  retry: %s\n", err);
  CHECK(rc == 0);
  CHECK(value_is("SELECT string_agg(v::text, ',' ORDER BY v) FROM api_retry", "1,2,3"));
  sql("CREATE TABLE api_noretry (v int)");
  rc = run_killed("api_noretry", "0", err, sizeof err);
  CHECK(rc == -SL_EIO && strstr(err, "PostgreSQL table 'api_noretry': COPY failed: "));
  if (!strstr(err, "PostgreSQL table 'api_noretry': COPY failed: ")) fprintf(stderr, "  %s\n", err);
  changelog_tests(getenv("SL_TEST_TMP") ? getenv("SL_TEST_TMP") : "/tmp");
  PQfinish(conn);
  printf("pg_api_test: %s\n", fails ? "FAILED" : "ok");
  return fails ? 1 : 0;
}

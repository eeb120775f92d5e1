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
 *     sink.max-retries=0, fails naming the table.
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
  PQfinish(conn);
  printf("pg_api_test: %s\n", fails ? "FAILED" : "ok");
  return fails ? 1 : 0;
}

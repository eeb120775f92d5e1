/*
 * pg_cdc_api_test.c -- the PostgreSQL CDC source's C API against the
 * private server cli_pg_cdc.sh starts (PGHOST/PGPORT/PGUSER/PGDATABASE in
 * the environment; run by that test): a deserializer
 * (sl_postgres_source_set_deserializer) sees, in order, the snapshot row
 * (+I, LSN 0), an insert of NULLs (+I), an update that kept the key (-U
 * with only the key known under REPLICA IDENTITY DEFAULT, +U), a delete
 * (-D, key only), with each column's type and text, and the typed
 * accessors read bigint, integer, numeric, double, boolean, timestamp,
 * timestamptz, date and bytea of the snapshot row.  The default record
 * (the CSV line) comes with each row.  Exit 0 when every check passed.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_test.h"
#include "sluice_connector.h"


#define MAXROWS 16
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char seen[MAXROWS][600]; /* kind|col|col... ('N' null, '?' unknown) */
static char values[MAXROWS][600];
static int n_seen, lsn_zero[MAXROWS], typed_ok;

static int typed(const sl_pg_row *row) {
  int64_t i64;
  double d;
  int b;
  uint8_t by[8];
  size_t n;
  int ok = 1;
  const sl_pg_column *c = row->cols;
  ok &= row->n_cols == 11 && !strcmp(c[0].name, "id") && c[0].type == 20;
  ok &= sl_pg_column_int64(&c[0], &i64) == 0 && i64 == 1;
  ok &= sl_pg_column_int64(&c[1], &i64) == 0 && i64 == -42 && c[1].type == 23;
  ok &= sl_pg_column_double(&c[2], &d) == 0 && d == 3.14 && c[2].type == 1700;
  ok &= sl_pg_column_int64(&c[2], &i64) == -SL_EINVAL; /* numeric is no integer */
  ok &= sl_pg_column_double(&c[3], &d) == 0 && d == 2.5 && c[3].type == 701;
  ok &= c[4].type == 25 && !strcmp(c[4].text, "plain") && c[4].len == 5;
  ok &= c[5].type == 1043 && !strcmp(c[5].text, "a,b");
  ok &= sl_pg_column_bool(&c[6], &b) == 0 && b == 1 && c[6].type == 16;
  ok &= sl_pg_column_time_us(&c[7], &i64) == 0 && i64 == 1709210096500000LL && c[7].type == 1114;
  ok &= sl_pg_column_time_us(&c[8], &i64) == 0 && i64 == 1704067200000000LL && c[8].type == 1184;
  ok &= sl_pg_column_time_us(&c[9], &i64) == 0 && i64 == 1735603200000000LL && c[9].type == 1082;
  ok &= sl_pg_column_bytea(&c[10], by, sizeof by, &n) == 0 && n == 3 && by[0] == 0 &&
        by[1] == 0xff && by[2] == 0x41 && c[10].type == 17;
  ok &= sl_pg_column_bytea(&c[10], by, 2, &n) == -SL_EINVAL && n == 3; /* too small */
  return ok;
}

static int deser(void *ud, sl_ctx *ctx, const sl_pg_row *row, sl_record *out) {
  (void)ud, (void)ctx;
  static const char *const kinds[] = {"+I", "-U", "+U", "-D"};
  pthread_mutex_lock(&mu);
  if (n_seen < MAXROWS) {
    char *s = seen[n_seen];
    size_t at = (size_t)snprintf(s, 600, "%s", kinds[row->kind]);
    for (int i = 0; i < row->n_cols && at < 500; i++) {
      const sl_pg_column *c = &row->cols[i];
      at += (size_t)snprintf(s + at, 600 - at, "|%s", c->is_null ? "N" : c->unknown ? "?" : c->text);
    }
    snprintf(values[n_seen], 600, "%.*s", (int)out->value_len, (const char *)out->value);
    lsn_zero[n_seen] = row->lsn == 0 && row->commit_ms == SL_NO_TIMESTAMP;
    if (n_seen == 0) typed_ok = typed(row);
    n_seen++;
  }
  pthread_mutex_unlock(&mu);
  return 0;
}

static sl_env *env;
static int job_rc;
static void *job(void *arg) {
  (void)arg;
  job_rc = sl_execute(env, "pg_cdc_api_test");
  return NULL;
}

static int wait_seen(int n) {
  for (int i = 0; i < 3000; i++) {
    pthread_mutex_lock(&mu);
    int k = n_seen;
    pthread_mutex_unlock(&mu);
    if (k >= n) return 1;
    struct timespec ts = {0, 10 * 1000000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

int main(void) {
  conn = PQconnectdb("");
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "FAIL: cannot connect: %s", PQerrorMessage(conn));
    return 1;
  }
  sql("SET TimeZone = 'UTC'");
  sql("CREATE TABLE ty (id bigint PRIMARY KEY, i integer, n numeric(10,3), d double precision, "
      "t text, v varchar(20), b boolean, ts timestamp, tz timestamptz, dt date, by bytea)");
  sql("INSERT INTO ty VALUES (1, -42, 3.140, 2.5, 'plain', 'a,b', true, "
      "'2024-02-29 12:34:56.5', '2024-01-01 00:00:00+00', '2024-12-31', '\\x00ff41')");
  char conninfo[300];
  snprintf(conninfo, sizeof conninfo, "host=%s port=%s user=%s dbname=%s",
           getenv("PGHOST"), getenv("PGPORT"), getenv("PGUSER"), getenv("PGDATABASE"));
  sl_option opts[] = {{"table-name", "ty"}, {"scan.mode", "cdc"}, {"slot.name", "api_slot"},
                      {"options", "-c TimeZone=UTC"}};
  sl_source *src = sl_postgres_source(conninfo, opts, 4);
  CHECK(sl_postgres_source_set_deserializer(src, deser, NULL) == 0);
  CHECK(sl_kafka_source_set_deserializer(src, NULL, NULL) == -SL_EINVAL);
  env = sl_env_new();
  sl_env_set(env, "parallelism.default", "2");
  sl_env_set(env, "rest.enabled", "false");
  sl_collect *out = sl_collect_new();
  sl_sink_to(sl_source_stream(env, src), sl_collect_sink(out));
  pthread_t th;
  pthread_create(&th, NULL, job, NULL);
  CHECK(wait_seen(1));
  sql("INSERT INTO ty (id) VALUES (2)");
  sql("UPDATE ty SET i = 7 WHERE id = 1");
  sql("DELETE FROM ty WHERE id = 2");
  CHECK(wait_seen(5));
  sl_cancel(env);
  pthread_join(th, NULL);
  CHECK(job_rc == -SL_ECANCELED);
  static const char *const want[] = {
      "+I|1|-42|3.140|2.5|plain|a,b|t|2024-02-29 12:34:56.5|2024-01-01 00:00:00+00|2024-12-31|\\x00ff41",
      "+I|2|N|N|N|N|N|N|N|N|N|N",
      "-U|1|?|?|?|?|?|?|?|?|?|?",
      "+U|1|7|3.140|2.5|plain|a,b|t|2024-02-29 12:34:56.5|2024-01-01 00:00:00+00|2024-12-31|\\x00ff41",
      "-D|2|?|?|?|?|?|?|?|?|?|?"};
  CHECK(n_seen == 5);
  for (int i = 0; i < 5 && i < n_seen; i++)
    if (strcmp(seen[i], want[i])) {
      fprintf(stderr, "FAIL row %d: got '%s', want '%s'\n", i, seen[i], want[i]);
      fails++;
    }
  CHECK(typed_ok);
  CHECK(lsn_zero[0] && !lsn_zero[1] && !lsn_zero[4]);
  CHECK(!strcmp(values[3], "1,7,3.140,2.5,plain,\"a,b\",t,2024-02-29 12:34:56.5,2024-01-01 "
                           "00:00:00+00,2024-12-31,\\x00ff41"));
  CHECK(!strcmp(values[4], "2,,,,,,,,,,"));
  CHECK(sl_collect_count(out) == 5); /* the deserializer emitted every kind */
  sl_collect_free(out);
  sl_env_free(env);
  PQfinish(conn);
  printf("%s\n", fails ? "FAILED" : "ok");
  return fails != 0;
}

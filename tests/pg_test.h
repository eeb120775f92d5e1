/*
 * pg_test.h -- what the PostgreSQL API tests (pg_api_test.c,
 * pg_cdc_api_test.c: programs run against tests/pg_server.sh's server)
 * share: a failure count with CHECK, and the test's own connection with
 * sql(), which counts a failing statement.
 */
#ifndef SL_PG_TEST_H
#define SL_PG_TEST_H

#include <libpq-fe.h>
#include <stdio.h>

static int fails;
#define CHECK(c)                                                  \
  do {                                                            \
    if (!(c)) {                                                   \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); \
      fails++;                                                    \
    }                                                             \
  } while (0)

static PGconn *conn;
static void sql(const char *q) {
  PGresult *r = PQexec(conn, q);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
    fprintf(stderr, "FAIL: %s: %s", q, PQerrorMessage(conn));
    fails++;
  }
  PQclear(r);
}

#endif

/*
 * pg.h -- what the PostgreSQL source (pg_source.c) and sink (pg_sink.c)
 * share (pg_conn.c): the connector's options (Flink JDBC's names) parsed
 * from an option list or a postgresql:// URI, the libpq parameters left
 * over, connecting with retries, messages that name host, port, database,
 * user and table but never the password, and a growable text buffer.
 *
 * A constructor cannot fail loudly (sl_postgres_source returns a source),
 * so a bad option is kept in `err` and reported by plan / open, where the
 * job's error can say it.
 */
#ifndef SL_PG_H
#define SL_PG_H

#include <libpq-fe.h>

#include "connectors/connector.h"

typedef struct sl__pg_opts {
  char *conninfo;           /* libpq connection string / URI, connector keys removed */
  char **keys, **values;    /* libpq parameters given as options (override conninfo) */
  int n_kv;
  char *password;           /* scrubbed out of every message; NULL if none */
  char *table;              /* table-name */
  char *part_col;           /* scan.partition.column */
  int64_t part_num;         /* scan.partition.num (0: default) */
  int64_t fetch;            /* scan.fetch-size */
  int64_t max_rows;         /* sink.buffer-flush.max-rows */
  int64_t interval_ms;      /* sink.buffer-flush.interval */
  int64_t retries;          /* sink.max-retries */
  char *create_cols;        /* sink.create-table-columns */
  char delim;               /* sink.field-delimiter */
  char *txn_prefix;         /* sink.transaction-id-prefix */
  char *err;                /* a bad option: the message plan/open fails with */
} sl__pg_opts;

/* Parse; 0, or -SL_ENOMEM (a bad option is not an error here: o->err). */
int sl__pg_opts_init(sl__pg_opts *o, const char *conninfo, const sl_option *opt, size_t n);
int sl__pg_opts_uri(sl__pg_opts *o, const char *uri);
void sl__pg_opts_free(sl__pg_opts *o);

/* Connect (tries 1 + retries times, 100 ms doubling back-off); NULL with
 * a message in err ("cannot connect to PostgreSQL (host ... port ...
 * database ... user ...): reason"). */
PGconn *sl__pg_connect(const sl__pg_opts *o, int retries, char *err, size_t cap);
/* "host H port P database D user U" of a connection, into buf. */
const char *sl__pg_where(PGconn *c, char *buf, size_t cap);
/* Replace the password in msg (in place) by "****"; trim the trailing
 * newline libpq leaves. */
void sl__pg_scrub(const sl__pg_opts *o, char *msg);
/* PQerrorMessage / PQresultErrorMessage of a failed statement, scrubbed,
 * into buf (with the detail, when the server gave one). */
const char *sl__pg_error(const sl__pg_opts *o, PGconn *c, PGresult *r, char *buf, size_t cap);

/* A growable text buffer (reused; no allocation once it is big enough). */
typedef struct sl__pg_buf {
  char *p;
  size_t len, cap;
} sl__pg_buf;
int sl__pg_buf_put(sl__pg_buf *b, const void *s, size_t n);
static inline int sl__pg_buf_str(sl__pg_buf *b, const char *s) {
  return sl__pg_buf_put(b, s, strlen(s));
}
static inline int sl__pg_buf_c(sl__pg_buf *b, char c) { return sl__pg_buf_put(b, &c, 1); }
void sl__pg_buf_free(sl__pg_buf *b);

#endif

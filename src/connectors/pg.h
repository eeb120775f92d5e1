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
  int changelog;            /* sink.changelog: values start with +I/-U/+U/-D */
  int cdc;                  /* scan.mode=cdc */
  char *slot;               /* slot.name (default from the table, see finish) */
  int drop_on_stop;         /* slot.drop-on-stop */
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
/* The same as a logical replication connection (replication=database). */
PGconn *sl__pg_connect_repl(const sl__pg_opts *o, int retries, char *err, size_t cap);
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
/* A value as the source prints it into a CSV line: NULL empty; quoted
 * (with '"' doubled) when empty or holding , " CR LF. */
int sl__pg_csv_value(sl__pg_buf *b, const char *v, size_t n, int is_null);

/* ---- change data capture (pg_cdc.c) ------------------------------------
 * pg_source.c keeps the snapshot splits and calls these for scan.mode=cdc:
 * plan checks the server and sets up publication and slot (the slot's
 * exported snapshot replaces the planner's); the stream is one more
 * "split" read by subtask 0's reader after every snapshot split is done. */
typedef struct sl__pg_cdc sl__pg_cdc;     /* per source (plan's result) */
typedef struct sl__pg_stream sl__pg_stream; /* the stream's reader */

/* In plan, on a connection of its own: the checks (wal_level, the
 * REPLICATION privilege, replica identity / primary key), the publication
 * and the slot.  When it made the slot: *exporter is the replication
 * connection holding its snapshot (keep it open until every reader
 * imported it) and snapshot its name; else *exporter is NULL (a restore:
 * the slot exists and the caller's own snapshot is used).  0, or a
 * negative code after sl_ctx_error. */
int sl__pg_cdc_plan(sl__pg_cdc **out, const sl__pg_opts *o, sl_ctx *ctx, const char *oid,
                    const char *qtable, int n_key, PGconn **exporter, char *snapshot,
                    size_t cap);
void sl__pg_cdc_free(sl__pg_cdc *cdc);
/* The plan's result for a table oid and slot, without a server (tests). */
int sl__pg_cdc_new(sl__pg_cdc **out, const char *table, const char *slot, uint32_t oid);

typedef struct sl__pg_deser sl__pg_deser;
int sl__pg_stream_new(sl__pg_stream **out, sl__pg_cdc *cdc, const sl__pg_opts *o,
                      const sl__pg_deser *deser);
/* Poll (snapshot_done: every snapshot split of every reader is read). */
int sl__pg_stream_poll(sl__pg_stream *st, sl_ctx *ctx, int budget, int snapshot_done);
int sl__pg_stream_wait_fd(const sl__pg_stream *st);
/* One CopyData message of the stream ('w' XLogData, 'k' keepalive), as
 * untrusted bytes: the rows it made (0..2: the deserializer may have
 * skipped some; counted against poll's budget), or a negative code after
 * sl_ctx_error.  (poll's step; tests feed it directly.) */
int sl__pg_stream_feed(sl__pg_stream *st, sl_ctx *ctx, const uint8_t *buf, size_t n);
/* Position: STREAM_POS_LEN bytes. */
#define SL__PG_STREAM_POS_LEN 32
void sl__pg_stream_position(sl__pg_stream *st, sl_ctx *ctx, uint8_t *buf);
/* Seek to a position (bytes checked by the caller's length check only). */
int sl__pg_stream_seek(sl__pg_stream *st, sl_ctx *ctx, const uint8_t *buf, int old);
/* The position says the snapshot was read completely (the stream began). */
int sl__pg_stream_began(const uint8_t *buf);
/* The stream began (in this run, or in the run a restore continues): the
 * snapshot was read completely. */
int sl__pg_stream_started(const sl__pg_stream *st);
int sl__pg_stream_complete(sl__pg_stream *st, sl_ctx *ctx, int64_t id);
/* Close (stopped: the job ended by a stop or cancel, not a failure; drops
 * the slot with slot.drop-on-stop). */
void sl__pg_stream_close(sl__pg_stream *st, sl_ctx *ctx, int stopped);

/* The typed rows' deserializer (sl_postgres_source_set_deserializer). */
struct sl__pg_deser {
  sl_pg_deserialize_fn fn;
  void *ud;
};
/* Emit one row: the default record (value = CSV line of cols, key = the
 * key columns) through the deserializer, or by default only +I / +U.
 * line and key are scratch buffers. */
int sl__pg_emit_row(sl_ctx *ctx, const sl__pg_deser *d, const sl_pg_row *row, const int *key_cols,
                    int n_key, sl__pg_buf *line, sl__pg_buf *key);

#endif

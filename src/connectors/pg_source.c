/*
 * pg_source.c -- sl_postgres_source(): a bounded read of one PostgreSQL
 * table, every subtask reading the same consistent snapshot.
 *
 *   plan    connect; BEGIN ISOLATION LEVEL REPEATABLE READ; export the
 *           snapshot (pg_export_snapshot()); read the table's columns and
 *           primary key from the catalog (a missing table is named); split
 *           the table into N splits (scan.partition.num, default
 *           max(8, parallelism); 1 for scan.mode=cdc, see there): by
 *           scan.partition.column, else by an
 *           integer primary key (min..max in N ranges; NULLs in the first),
 *           else by block ranges (ctid).  The exporting connection stays
 *           open in ud until every subtask has imported the snapshot.
 *   open    subtask i takes splits i, i + P, ...; connect, BEGIN
 *           REPEATABLE READ READ ONLY, SET TRANSACTION SNAPSHOT.  The last
 *           open closes the exporter.
 *   poll    one split at a time through a server-side cursor (DECLARE ...
 *           ORDER BY the primary key, else ctid), scan.fetch-size rows per
 *           FETCH, rows emitted as CSV text (sluice.h).  A FETCH is sent
 *           without waiting (PQsendQuery); poll returns SL_POLL_IDLE until
 *           its rows are in (wait_fd is the connection's socket meanwhile),
 *           so the worker never blocks on the server's reading.  DECLARE,
 *           MOVE and CLOSE are quick and run blocking.
 *   position  per split of this reader: rows emitted, and whether it is
 *           done; with the number of splits.
 *   seek    each reader takes the entries of its own splits from every old
 *           reader's blob and skips that many rows (MOVE) when it opens the
 *           split's cursor.  A restore reads a new snapshot: exact for a
 *           table that did not change (rows in the same order); a changed
 *           table is read as of the restore past the same row counts (and
 *           split bounds from the new min/max).  cdc: the split entries are
 *           checked but not used: after the stream began every split is
 *           done, and position declines every checkpoint before (so no
 *           completed checkpoint of this code is restored mid-snapshot;
 *           an older one is: the whole table is read again).
 *
 * scan.mode=cdc (pg_cdc.c): plan also sets up the publication and the
 * slot, whose exported snapshot replaces the planner's; subtask 0's reader
 * (made even when it has no split) reads the stream after its splits,
 * once every reader's splits are read (splits_done, counted by all).  The
 * snapshot is one split unless scan.partition.num says otherwise: then
 * subtask 0 reads it all before the stream, on one channel, so each row's
 * snapshot image comes before its changes (with several splits a change
 * can overtake an image in another reader's channel: a warning says so).
 *
 * Rows: by default the CSV line (fast path); with a deserializer
 * (sl_postgres_source_set_deserializer) each row becomes an sl_pg_row of
 * typed columns, kind +I, first.
 *
 * Blob: "SLPG" u32 version (1: snapshot, 2: cdc), u32 splits, u32 entries,
 * then per entry u32 split, u64 rows, u8 done; version 2 then has u32
 * stream (0 or 1) and, when 1, the stream's 32 bytes (pg_cdc.c) (host byte
 * order, as the other sources).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/pg.h"
#include "runtime/source_sink.h" /* the handle, for the set_* call */

typedef struct pg_src {
  sl__pg_opts o;
  PGconn *exporter;
  char snapshot[128];
  char *qtable;       /* regclass text, quoted as needed */
  char *select;       /* SELECT cols FROM t WHERE */
  char *order;        /* ORDER BY ... */
  int n_cols;
  int *key_cols;      /* indexes of the primary key's columns */
  int n_key;
  char **where;       /* per split */
  int n_splits;
  int opens;
  sl__pg_cdc *cdc;         /* scan.mode=cdc: the plan's slot and table */
  sl__pg_deser deser;      /* typed rows, when set */
  _Atomic int splits_done; /* splits read completely, by every reader */
} pg_src;

typedef struct pg_reader {
  pg_src *src;
  PGconn *c;
  int *own;          /* split indexes */
  uint64_t *rows;    /* per own split */
  uint8_t *done;
  int n_own, cur;
  int declared;
  int busy;          /* a FETCH was sent, its rows not yet read */
  PGresult *res;
  int row, n_rows;
  sl__pg_buf line, key;
  int snap_closed;   /* the snapshot's transaction is committed */
  sl__pg_stream *st; /* cdc, subtask 0: the stream */
  sl_pg_column *cols; /* typed rows (deserializer) */
} pg_reader;

static void free_plan(pg_src *s) {
  if (s->exporter) PQfinish(s->exporter);
  s->exporter = NULL;
  for (int i = 0; s->where && i < s->n_splits; i++) sl__free(s->where[i]);
  sl__free(s->where);
  s->where = NULL;
  s->n_splits = 0;
  sl__free(s->qtable), sl__free(s->select), sl__free(s->order), sl__free(s->key_cols);
  s->qtable = s->select = s->order = NULL;
  s->key_cols = NULL;
  s->n_key = s->n_cols = s->opens = 0;
  sl__pg_cdc_free(s->cdc);
  s->cdc = NULL;
  atomic_store(&s->splits_done, 0);
}

static void src_free(void *ud) {
  pg_src *s = ud;
  free_plan(s);
  sl__pg_opts_free(&s->o);
  sl__free(s);
}

/* One statement with text parameters; the result, or NULL after a message. */
static PGresult *query(pg_src *s, sl_ctx *ctx, PGconn *c, const char *what, const char *sql,
                       int n, const char *const *params, ExecStatusType want) {
  PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
  if (r && PQresultStatus(r) == want) return r;
  char why[600];
  sl__pg_error(&s->o, c, r, why, sizeof why);
  PQclear(r);
  sl_ctx_error(ctx, -SL_EIO, "PostgreSQL table '%s': %s failed: %s", s->o.table, what, why);
  return NULL;
}

static char *ident(PGconn *c, const char *name) {
  char *q = PQescapeIdentifier(c, name, strlen(name));
  char *d = q ? sl__strdup(q) : NULL;
  PQfreemem(q);
  return d;
}

static int is_int_type(const char *oid) {
  return !strcmp(oid, "20") || !strcmp(oid, "21") || !strcmp(oid, "23");
}

static int parse_i64(const char *v, int64_t *out) {
  char *end;
  long long x = strtoll(v, &end, 10);
  if (!*v || *end) return -1;
  *out = x;
  return 0;
}

/* Splits of an integer column col over lo..hi (empty: lo > hi). */
static int split_int(pg_src *s, const char *col, int has_nulls, int64_t lo, int64_t hi) {
  int n = s->n_splits;
  __int128 width = lo > hi ? 1 : ((__int128)hi - lo) / n + 1;
  for (int i = 0; i < n; i++) {
    char buf[600];
    __int128 b0 = (__int128)lo + width * i, b1 = b0 + width;
    if (lo > hi) sl__fmt(buf, sizeof buf, "%s", i == 0 ? "TRUE" : "FALSE");
    else if (n == 1) sl__fmt(buf, sizeof buf, "TRUE");
    else if (b0 > hi) sl__fmt(buf, sizeof buf, "FALSE");
    else if (i == 0)
      sl__fmt(buf, sizeof buf, "%s < %lld", col, (long long)b1);
    else if (i == n - 1 || b1 > hi)
      sl__fmt(buf, sizeof buf, "%s >= %lld", col, (long long)b0);
    else
      sl__fmt(buf, sizeof buf, "(%s >= %lld AND %s < %lld)", col, (long long)b0, col,
              (long long)b1);
    if (i == 0 && lo <= hi && n > 1 && has_nulls) {
      size_t l = strlen(buf);
      sl__fmt(buf + l, sizeof buf - l, " OR %s IS NULL", col); /* NULLs: the first split */
    }
    if (!(s->where[i] = sl__strdup(buf))) return -SL_ENOMEM;
  }
  return 0;
}

static int split_ctid(pg_src *s, int64_t blocks) {
  int n = s->n_splits;
  int64_t width = blocks / n + 1;
  for (int i = 0; i < n; i++) {
    char buf[128];
    int64_t b0 = width * i, b1 = b0 + width;
    if (n == 1) sl__fmt(buf, sizeof buf, "TRUE");
    else if (i == 0) sl__fmt(buf, sizeof buf, "ctid < '(%lld,0)'::tid", (long long)b1);
    else if (i == n - 1) sl__fmt(buf, sizeof buf, "ctid >= '(%lld,0)'::tid", (long long)b0);
    else
      sl__fmt(buf, sizeof buf, "ctid >= '(%lld,0)'::tid AND ctid < '(%lld,0)'::tid",
              (long long)b0, (long long)b1);
    if (!(s->where[i] = sl__strdup(buf))) return -SL_ENOMEM;
  }
  return 0;
}

static int src_plan(void *ud, sl_ctx *ctx) {
  pg_src *s = ud;
  free_plan(s);
  if (s->o.err) return sl_ctx_error(ctx, -SL_ECONFIG, "%s", s->o.err);
  char err[800];
  PGconn *c = s->exporter = sl__pg_connect(&s->o, (int)s->o.retries, err, sizeof err);
  if (!c) return sl_ctx_error(ctx, -SL_EIO, "PostgreSQL table '%s': %s", s->o.table, err);
  PGresult *r = query(s, ctx, c, "BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
                      NULL, PGRES_COMMAND_OK);
  if (!r) return -SL_EIO;
  PQclear(r);
  if (!(r = query(s, ctx, c, "pg_export_snapshot()", "SELECT pg_export_snapshot()", 0, NULL,
                  PGRES_TUPLES_OK)))
    return -SL_EIO;
  sl__fmt(s->snapshot, sizeof s->snapshot, "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
  const char *tp[1] = {s->o.table};
  if (!(r = query(s, ctx, c, "catalog lookup",
                  "SELECT to_regclass($1)::oid::text, to_regclass($1)::text", 1, tp,
                  PGRES_TUPLES_OK)))
    return -SL_EIO;
  if (PQgetisnull(r, 0, 0)) {
    char where[300];
    PQclear(r);
    return sl_ctx_error(ctx, -SL_ECONFIG,
                        "PostgreSQL table '%s' does not exist (%s): check table-name", s->o.table,
                        sl__pg_where(c, where, sizeof where));
  }
  char oid[32];
  sl__fmt(oid, sizeof oid, "%s", PQgetvalue(r, 0, 0));
  s->qtable = sl__strdup(PQgetvalue(r, 0, 1));
  PQclear(r);
  if (!s->qtable) return -SL_ENOMEM;
  const char *op[1] = {oid};
  PGresult *cols = query(s, ctx, c, "catalog lookup",
                         "SELECT attname, atttypid::text FROM pg_attribute WHERE attrelid = "
                         "$1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                         1, op, PGRES_TUPLES_OK);
  if (!cols) return -SL_EIO;
  PGresult *pk = query(s, ctx, c, "catalog lookup",
                       "SELECT a.attname FROM pg_index i, unnest(i.indkey) WITH ORDINALITY "
                       "k(attnum, ord), pg_attribute a WHERE i.indrelid = $1::oid AND "
                       "i.indisprimary AND a.attrelid = i.indrelid AND a.attnum = k.attnum "
                       "ORDER BY k.ord",
                       1, op, PGRES_TUPLES_OK);
  if (!pk) {
    PQclear(cols);
    return -SL_EIO;
  }
  int rc = 0;
  s->n_cols = PQntuples(cols);
  s->n_key = PQntuples(pk);
  s->key_cols = sl__calloc((size_t)s->n_key + 1, sizeof *s->key_cols);
  sl__pg_buf sel = {0}, ord = {0};
  rc = s->key_cols ? sl__pg_buf_str(&sel, "SELECT ") : -SL_ENOMEM;
  char *qsplit = NULL; /* an integer column to split by, quoted */
  for (int i = 0; !rc && i < s->n_cols; i++) {
    char *q = ident(c, PQgetvalue(cols, i, 0));
    if (!q) rc = -SL_ENOMEM;
    if (!rc && i) rc = sl__pg_buf_str(&sel, ", ");
    if (!rc) rc = sl__pg_buf_str(&sel, q);
    for (int k = 0; k < s->n_key; k++)
      if (!strcmp(PQgetvalue(pk, k, 0), PQgetvalue(cols, i, 0))) s->key_cols[k] = i;
    int want = s->o.part_col ? !strcmp(s->o.part_col, PQgetvalue(cols, i, 0))
                             : s->n_key == 1 && !strcmp(PQgetvalue(pk, 0, 0), PQgetvalue(cols, i, 0));
    if (want) {
      if (!is_int_type(PQgetvalue(cols, i, 1)) && s->o.part_col) {
        sl__free(q);
        rc = sl_ctx_error(ctx, -SL_ECONFIG,
                          "PostgreSQL table '%s': scan.partition.column '%s' is not an integer "
                          "column (smallint, integer, bigint)", s->o.table, s->o.part_col);
        break;
      }
      if (is_int_type(PQgetvalue(cols, i, 1))) qsplit = q, q = NULL;
    }
    sl__free(q);
  }
  if (!rc && s->o.part_col && !qsplit)
    rc = sl_ctx_error(ctx, -SL_ECONFIG, "PostgreSQL table '%s' has no column '%s' "
                      "(scan.partition.column)", s->o.table, s->o.part_col);
  if (!rc && s->n_cols == 0)
    rc = sl_ctx_error(ctx, -SL_ECONFIG, "PostgreSQL table '%s' has no columns", s->o.table);
  if (!rc) rc = sl__pg_buf_str(&sel, " FROM ");
  if (!rc) rc = sl__pg_buf_str(&sel, s->qtable);
  if (!rc) rc = sl__pg_buf_str(&sel, " WHERE ");
  if (!rc) rc = sl__pg_buf_str(&ord, " ORDER BY ");
  for (int k = 0; !rc && k < s->n_key; k++) {
    char *q = ident(c, PQgetvalue(pk, k, 0));
    rc = q ? 0 : -SL_ENOMEM;
    if (!rc && k) rc = sl__pg_buf_str(&ord, ", ");
    if (!rc) rc = sl__pg_buf_str(&ord, q);
    sl__free(q);
  }
  if (!rc && !s->n_key) rc = sl__pg_buf_str(&ord, "ctid");
  PQclear(cols);
  PQclear(pk);
  s->select = sel.p, s->order = ord.p;
  int p = sl_ctx_parallelism(ctx);
  /* cdc: one split by default, so the snapshot and the stream come from
   * subtask 0's reader in order: rows of two readers travel on two
   * channels, so a change could reach a keyed operator before its row's
   * snapshot image from another reader.  More splits are the user's call. */
  s->n_splits = s->o.part_num ? (int)s->o.part_num : s->o.cdc ? 1 : (p > 8 ? p : 8);
  if (!rc && s->o.cdc && s->n_splits > 1)
    sl_ctx_log(ctx, SL_LOG_WARN, "PostgreSQL table '%s': scan.partition.num=%d with scan.mode=cdc: "
               "the snapshot is read by several subtasks, so a change may reach a keyed operator "
               "before its row's snapshot image; leave scan.partition.num unset (one split) when "
               "the order per key matters", s->o.table, s->n_splits);
  if (!rc && !(s->where = sl__calloc((size_t)s->n_splits, sizeof *s->where))) rc = -SL_ENOMEM;
  if (!rc && qsplit) {
    char sql[1200];
    sl__fmt(sql, sizeof sql,
            "SELECT min(%s)::text, max(%s)::text, bool_or(%s IS NULL)::text FROM %s", qsplit,
            qsplit, qsplit, s->qtable);
    if (!(r = query(s, ctx, c, "min/max of the split column", sql, 0, NULL, PGRES_TUPLES_OK))) {
      rc = -SL_EIO;
    } else {
      int64_t lo = 1, hi = 0;
      if (!PQgetisnull(r, 0, 0) && (parse_i64(PQgetvalue(r, 0, 0), &lo) ||
                                    parse_i64(PQgetvalue(r, 0, 1), &hi)))
        lo = 1, hi = 0;
      rc = split_int(s, qsplit, !strcmp(PQgetvalue(r, 0, 2), "true"), lo, hi);
      PQclear(r);
    }
  } else if (!rc) {
    if (!(r = query(s, ctx, c, "table size", "SELECT (pg_relation_size($1::oid) / "
                    "current_setting('block_size')::int)::text", 1, op, PGRES_TUPLES_OK))) {
      rc = -SL_EIO;
    } else {
      int64_t blocks = 0;
      parse_i64(PQgetvalue(r, 0, 0), &blocks);
      PQclear(r);
      rc = split_ctid(s, blocks);
    }
  }
  sl__free(qsplit);
  if (!rc && s->o.cdc) {
    PGconn *rep = NULL;
    char snap[128];
    rc = sl__pg_cdc_plan(&s->cdc, &s->o, ctx, oid, s->qtable, s->n_key, &rep, snap, sizeof snap);
    if (!rc && rep) { /* the slot's snapshot: the stream starts where it ends */
      PQfinish(s->exporter);
      s->exporter = rep;
      sl__fmt(s->snapshot, sizeof s->snapshot, "%s", snap);
    }
  }
  if (rc == -SL_ENOMEM) sl_ctx_error(ctx, rc, "out of memory");
  return rc;
}

static int src_open(void *ud, sl_ctx *ctx, void **out) {
  pg_src *s = ud;
  *out = NULL;
  int i = sl_ctx_subtask(ctx), p = sl_ctx_parallelism(ctx), rc = 0;
  s->opens++;
  pg_reader *r = sl__calloc_private(sizeof *r);
  if (!r) return -SL_ENOMEM;
  r->src = s;
  for (int k = i; k < s->n_splits; k += p) r->n_own++;
  r->own = sl__calloc((size_t)r->n_own + 1, sizeof *r->own);
  r->rows = sl__calloc((size_t)r->n_own + 1, sizeof *r->rows);
  r->done = sl__calloc((size_t)r->n_own + 1, 1);
  if (!r->own || !r->rows || !r->done) rc = -SL_ENOMEM;
  for (int k = i, j = 0; !rc && k < s->n_splits; k += p) r->own[j++] = k;
  if (!rc && s->cdc && i == 0) rc = sl__pg_stream_new(&r->st, s->cdc, &s->o, &s->deser);
  if (!rc && s->deser.fn && !(r->cols = sl__calloc((size_t)s->n_cols + 1, sizeof *r->cols)))
    rc = -SL_ENOMEM;
  if (!rc && !r->n_own && !s->cdc) { /* nothing to read here */
    if (s->opens >= p && s->exporter) PQfinish(s->exporter), s->exporter = NULL;
    sl__free(r->own), sl__free(r->rows), sl__free(r->done), sl__free(r->cols);
    sl__free_private(r);
    return 0;
  }
  char err[800];
  if (!rc && r->n_own && !(r->c = sl__pg_connect(&s->o, (int)s->o.retries, err, sizeof err)))
    rc = sl_ctx_error(ctx, -SL_EIO, "PostgreSQL table '%s': %s", s->o.table, err);
  if (!rc && r->c) {
    PGresult *q = query(s, ctx, r->c, "BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                        0, NULL, PGRES_COMMAND_OK);
    if (!q) rc = -SL_EIO;
    PQclear(q);
    if (!rc && s->exporter) { /* else (a restart without plan): a snapshot of its own */
      char sql[200];
      sl__fmt(sql, sizeof sql, "SET TRANSACTION SNAPSHOT '%s'", s->snapshot);
      if (!(q = query(s, ctx, r->c, "SET TRANSACTION SNAPSHOT", sql, 0, NULL, PGRES_COMMAND_OK)))
        rc = -SL_EIO;
      PQclear(q);
    }
  }
  if (s->opens >= p && s->exporter) { /* every subtask has imported it */
    PQfinish(s->exporter);
    s->exporter = NULL;
  }
  if (rc) {
    if (r->c) PQfinish(r->c);
    if (r->st) sl__pg_stream_close(r->st, ctx, 0);
    sl__free(r->own), sl__free(r->rows), sl__free(r->done), sl__free(r->cols);
    sl__free_private(r);
    return rc == -SL_ENOMEM ? sl_ctx_error(ctx, rc, "out of memory") : rc;
  }
  *out = r;
  return 0;
}

static void src_close(void *reader, sl_ctx *ctx) {
  pg_reader *r = reader;
  PQclear(r->res);
  if (r->c) PQfinish(r->c);
  /* slot.drop-on-stop: after a stop or cancel, never after a failure (the
   * restore needs the slot) */
  if (r->st) sl__pg_stream_close(r->st, ctx, sl_ctx_stopping(ctx) && !sl_ctx_failed(ctx));
  sl__pg_buf_free(&r->line);
  sl__pg_buf_free(&r->key);
  sl__free(r->own), sl__free(r->rows), sl__free(r->done), sl__free(r->cols);
  sl__free_private(r);
}

int sl__pg_csv_value(sl__pg_buf *b, const char *v, size_t n, int is_null) {
  if (is_null) return 0;
  if (n && !memchr(v, ',', n) && !memchr(v, '"', n) && !memchr(v, '\n', n) && !memchr(v, '\r', n))
    return sl__pg_buf_put(b, v, n);
  int rc = sl__pg_buf_c(b, '"');
  for (size_t i = 0; !rc && i < n; i++) {
    if (v[i] == '"') rc = sl__pg_buf_c(b, '"');
    if (!rc) rc = sl__pg_buf_c(b, v[i]);
  }
  return rc ? rc : sl__pg_buf_c(b, '"');
}

/* A value as CSV: NULL empty; quoted when empty or holding , " CR LF. */
static int put_value(sl__pg_buf *b, PGresult *res, int row, int col) {
  return sl__pg_csv_value(b, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col),
                          PQgetisnull(res, row, col));
}

int sl__pg_emit_row(sl_ctx *ctx, const sl__pg_deser *d, const sl_pg_row *row, const int *key_cols,
                    int n_key, sl__pg_buf *line, sl__pg_buf *key) {
  if (!d->fn && (row->kind == SL_PG_UPDATE_BEFORE || row->kind == SL_PG_DELETE)) return 0;
  line->len = key->len = 0;
  int rc = 0;
  for (int col = 0; !rc && col < row->n_cols; col++) {
    const sl_pg_column *c = &row->cols[col];
    if (col) rc = sl__pg_buf_c(line, ',');
    if (!rc) rc = sl__pg_csv_value(line, c->text, c->len, c->is_null || c->unknown);
  }
  for (int k = 0; !rc && k < n_key; k++) {
    const sl_pg_column *c = &row->cols[key_cols[k]];
    if (k) rc = sl__pg_buf_c(key, ',');
    if (!rc) rc = sl__pg_csv_value(key, c->text, c->len, c->is_null || c->unknown);
  }
  if (rc) return sl_ctx_error(ctx, rc, "out of memory");
  sl_record rec = {.ts = SL_NO_TIMESTAMP,
                   .key = n_key ? key->p : NULL,
                   .key_len = n_key ? (uint32_t)key->len : 0,
                   .value = line->p ? line->p : "",
                   .value_len = (uint32_t)line->len};
  if (d->fn) {
    rc = d->fn(d->ud, ctx, row, &rec);
    if (rc < 0) return rc;
    if (rc == 1) return 0;
    if (rc)
      return sl_ctx_error(ctx, -SL_EINVAL, "PostgreSQL table '%s': the deserializer returned %d "
                          "(0 emits, 1 skips, < 0 fails)", row->table, rc);
  }
  return sl_ctx_emit(ctx, &rec);
}

static int fetch_failed(pg_reader *r, sl_ctx *ctx, PGresult *q) {
  char why[600];
  sl__pg_error(&r->src->o, r->c, q, why, sizeof why);
  PQclear(q);
  return sl_ctx_error(ctx, -SL_EIO, "PostgreSQL table '%s': FETCH failed: %s", r->src->o.table,
                      why);
}

static int src_wait_fd(void *reader) {
  const pg_reader *r = reader;
  if (r->st && r->cur >= r->n_own) return sl__pg_stream_wait_fd(r->st);
  return r->busy ? PQsocket(r->c) : -1;
}

static int src_poll(void *reader, sl_ctx *ctx, int budget) {
  pg_reader *r = reader;
  pg_src *s = r->src;
  while (!r->res) { /* the next FETCH */
    if (r->cur >= r->n_own) {
      if (r->c && !r->snap_closed) {
        PGresult *q = query(s, ctx, r->c, "COMMIT", "COMMIT", 0, NULL, PGRES_COMMAND_OK);
        if (!q) return -SL_EIO;
        PQclear(q);
        r->snap_closed = 1;
      }
      if (!r->st) /* cdc: the job is unbounded, the reader stays (idle) */
        return s->cdc ? SL_POLL_IDLE : SL_POLL_END;
      if (r->c) PQfinish(r->c), r->c = NULL;
      return sl__pg_stream_poll(r->st, ctx, budget,
                                atomic_load(&s->splits_done) >= s->n_splits);
    }
    int j = r->cur;
    if (r->done[j]) {
      r->cur++;
      continue;
    }
    PGresult *q;
    char sql[200];
    if (!r->declared) {
      sl__pg_buf d = {0};
      int rc = sl__pg_buf_str(&d, "DECLARE sluice_c NO SCROLL CURSOR FOR ");
      if (!rc) rc = sl__pg_buf_str(&d, s->select);
      if (!rc) rc = sl__pg_buf_str(&d, s->where[r->own[j]]);
      if (!rc) rc = sl__pg_buf_str(&d, s->order);
      if (rc) {
        sl__pg_buf_free(&d);
        return sl_ctx_error(ctx, rc, "out of memory");
      }
      q = query(s, ctx, r->c, "DECLARE (the snapshot read)", d.p, 0, NULL, PGRES_COMMAND_OK);
      sl__pg_buf_free(&d);
      if (!q) return -SL_EIO;
      PQclear(q);
      r->declared = 1;
      if (r->rows[j]) { /* restored: skip what the previous run emitted */
        sl__fmt(sql, sizeof sql, "MOVE FORWARD %llu IN sluice_c", (unsigned long long)r->rows[j]);
        if (!(q = query(s, ctx, r->c, "MOVE (restore)", sql, 0, NULL, PGRES_COMMAND_OK)))
          return -SL_EIO;
        PQclear(q);
      }
    }
    if (!r->busy) { /* the next FETCH, sent without waiting for its rows */
      sl__fmt(sql, sizeof sql, "FETCH FORWARD %lld FROM sluice_c", (long long)s->o.fetch);
      if (!PQsendQuery(r->c, sql)) return fetch_failed(r, ctx, NULL);
      r->busy = 1;
    }
    if (!PQconsumeInput(r->c)) return fetch_failed(r, ctx, NULL);
    if (PQisBusy(r->c)) return SL_POLL_IDLE; /* wait_fd: the socket */
    q = PQgetResult(r->c);
    for (PGresult *x; (x = PQgetResult(r->c));) PQclear(x); /* up to the end (NULL) */
    r->busy = 0;
    sl__fault_delay("pg-fetch"); /* (test builds: a slow snapshot, a crash in it) */
    sl__fault("pg-fetch");
    if (!q || PQresultStatus(q) != PGRES_TUPLES_OK) return fetch_failed(r, ctx, q);
    if (PQntuples(q) == 0) {
      PQclear(q);
      if (!(q = query(s, ctx, r->c, "CLOSE", "CLOSE sluice_c", 0, NULL, PGRES_COMMAND_OK)))
        return -SL_EIO;
      PQclear(q);
      r->declared = 0;
      r->done[j] = 1;
      atomic_fetch_add(&s->splits_done, 1);
      r->cur++;
      continue;
    }
    r->res = q, r->row = 0, r->n_rows = PQntuples(q);
    /* the next batch is read by the server while these rows are emitted */
    sl__fmt(sql, sizeof sql, "FETCH FORWARD %lld FROM sluice_c", (long long)s->o.fetch);
    if (!PQsendQuery(r->c, sql)) return fetch_failed(r, ctx, NULL);
    r->busy = 1;
  }
  int j = r->cur;
  for (int n = 0; n < budget && r->row < r->n_rows; n++, r->row++) {
    int rc = 0;
    if (s->deser.fn) { /* typed rows */
      for (int col = 0; col < s->n_cols; col++) {
        sl_pg_column *c = &r->cols[col];
        c->name = PQfname(r->res, col);
        c->type = (uint32_t)PQftype(r->res, col);
        c->is_null = PQgetisnull(r->res, r->row, col);
        c->unknown = 0;
        c->text = PQgetvalue(r->res, r->row, col);
        c->len = (size_t)PQgetlength(r->res, r->row, col);
      }
      sl_pg_row row = {.kind = SL_PG_INSERT, .table = s->qtable, .n_cols = s->n_cols,
                       .cols = r->cols, .lsn = 0, .commit_ms = SL_NO_TIMESTAMP};
      if ((rc = sl__pg_emit_row(ctx, &s->deser, &row, s->key_cols, s->n_key, &r->line, &r->key)))
        return rc;
      r->rows[j]++;
      continue;
    }
    r->line.len = r->key.len = 0;
    for (int col = 0; !rc && col < s->n_cols; col++) {
      if (col) rc = sl__pg_buf_c(&r->line, ',');
      if (!rc) rc = put_value(&r->line, r->res, r->row, col);
    }
    for (int k = 0; !rc && k < s->n_key; k++) {
      if (k) rc = sl__pg_buf_c(&r->key, ',');
      if (!rc) rc = put_value(&r->key, r->res, r->row, s->key_cols[k]);
    }
    if (rc) return sl_ctx_error(ctx, rc, "out of memory");
    sl_record rec = {.ts = SL_NO_TIMESTAMP,
                     .key = s->n_key ? r->key.p : NULL,
                     .key_len = s->n_key ? (uint32_t)r->key.len : 0,
                     .value = r->line.p ? r->line.p : "",
                     .value_len = (uint32_t)r->line.len};
    if ((rc = sl_ctx_emit(ctx, &rec))) return rc;
    r->rows[j]++;
  }
  if (r->row >= r->n_rows) {
    PQclear(r->res);
    r->res = NULL;
  }
  return SL_POLL_MORE;
}

#define PG_MAGIC "SLPG"

static int src_position(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len) {
  pg_reader *r = reader;
  int cdc = r->src->cdc != NULL;
  /* cdc: no checkpoint completes before the snapshot was emitted whole and
   * the stream began (Flink CDC's legacy source): every reader declines
   * while a split of its own is unread, subtask 0 also until its stream
   * began (it starts once every reader's splits are read).  A checkpoint
   * all readers accept therefore covers the whole snapshot, and a restore
   * is either past it or (no checkpoint) a fresh start. */
  for (int j = 0; cdc && j < r->n_own; j++)
    if (!r->done[j])
      return sl_ctx_decline_checkpoint(ctx, "snapshot still being read (split %d of %d)",
                                       r->own[j] + 1, r->src->n_splits);
  if (cdc && r->st && !sl__pg_stream_started(r->st))
    return sl_ctx_decline_checkpoint(ctx, "snapshot still being read (%d of %d splits done)",
                                     atomic_load(&r->src->splits_done), r->src->n_splits);
  size_t need = 16 + (size_t)r->n_own * 13 + (cdc ? 4 + (r->st ? SL__PG_STREAM_POS_LEN : 0) : 0);
  if (need > cap) return sl_ctx_error(ctx, -SL_EINVAL, "PostgreSQL source: %d splits do not fit the checkpoint", r->n_own);
  uint32_t hdr[3] = {cdc ? 2 : 1, (uint32_t)r->src->n_splits, (uint32_t)r->n_own};
  memcpy(buf, PG_MAGIC, 4);
  memcpy(buf + 4, hdr, sizeof hdr);
  uint8_t *p = buf + 16;
  for (int j = 0; j < r->n_own; j++, p += 13) {
    uint32_t sp = (uint32_t)r->own[j];
    memcpy(p, &sp, 4);
    memcpy(p + 4, &r->rows[j], 8);
    p[12] = r->done[j];
  }
  if (cdc) {
    uint32_t has = r->st != NULL;
    memcpy(p, &has, 4);
    if (r->st) sl__pg_stream_position(r->st, ctx, p + 4);
  }
  *len = need;
  return 0;
}

/* cdc: an old reader's stream position (after the header checks of seek),
 * or NULL */
static const uint8_t *stream_pos(const uint8_t *blob, size_t len) {
  uint32_t hdr[3], has;
  if (len < 16 + 4 + SL__PG_STREAM_POS_LEN || memcmp(blob, PG_MAGIC, 4)) return NULL;
  memcpy(hdr, blob + 4, sizeof hdr);
  if (hdr[0] != 2 || hdr[2] > (1u << 24) || len != 16 + (size_t)hdr[2] * 13 + 4 + SL__PG_STREAM_POS_LEN)
    return NULL;
  memcpy(&has, blob + 16 + (size_t)hdr[2] * 13, 4);
  return has == 1 ? blob + 16 + (size_t)hdr[2] * 13 + 4 : NULL;
}

static int src_seek(void *reader, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                    int n) {
  pg_reader *r = reader;
  int cdc = r->src->cdc != NULL;
  /* cdc: once the stream began the snapshot was read completely: every
   * split is done, whatever their number was (any parallelism).  Before,
   * the whole snapshot is read again: the table changed, so the splits'
   * bounds (from min/max) and row counts may not match the old ones. */
  int began = 0;
  for (int b = 0; cdc && b < n; b++) {
    const uint8_t *sp = stream_pos(blobs[b], lens[b]);
    if (sp && sl__pg_stream_began(sp)) began = 1;
  }
  for (int b = 0; b < n; b++) {
    if (!lens[b]) continue;
    uint32_t hdr[3];
    if (lens[b] < 16 || memcmp(blobs[b], PG_MAGIC, 4))
      return sl_ctx_error(ctx, -SL_ESTATE, "PostgreSQL table '%s': checkpoint position %d is "
                          "not a PostgreSQL source's", r->src->o.table, b);
    memcpy(hdr, blobs[b] + 4, sizeof hdr);
    if (hdr[0] != 1 && hdr[0] != 2)
      return sl_ctx_error(ctx, -SL_ESTATE, "PostgreSQL table '%s': checkpoint position %d is "
                          "damaged (version %u, %zu bytes)", r->src->o.table, b, hdr[0], lens[b]);
    if ((hdr[0] == 2) != cdc)
      return sl_ctx_error(ctx, -SL_ESTATE, "PostgreSQL table '%s': checkpoint position %d was "
                          "written by a %s read, this run is a %s read (scan.mode)",
                          r->src->o.table, b, hdr[0] == 2 ? "cdc" : "snapshot",
                          cdc ? "cdc" : "snapshot");
    size_t body = 16 + (size_t)hdr[2] * 13, has = 0;
    if (hdr[2] > (1u << 24) || lens[b] < body + (cdc ? 4 : 0))
      return sl_ctx_error(ctx, -SL_ESTATE, "PostgreSQL table '%s': checkpoint position %d is "
                          "damaged (version %u, %zu bytes)", r->src->o.table, b, hdr[0], lens[b]);
    if (cdc) {
      uint32_t h;
      memcpy(&h, blobs[b] + body, 4);
      has = h;
    }
    if (lens[b] != body + (cdc ? 4 + (has == 1 ? SL__PG_STREAM_POS_LEN : 0) : 0) || has > 1)
      return sl_ctx_error(ctx, -SL_ESTATE, "PostgreSQL table '%s': checkpoint position %d is "
                          "damaged (version %u, %zu bytes)", r->src->o.table, b, hdr[0], lens[b]);
    if ((int)hdr[1] != r->src->n_splits && !cdc)
      return sl_ctx_error(ctx, -SL_ESTATE,
                          "PostgreSQL table '%s': the checkpoint read the table in %u splits, "
                          "this run in %d: restore with scan.partition.num=%u",
                          r->src->o.table, hdr[1], r->src->n_splits, hdr[1]);
    const uint8_t *p = blobs[b] + 16;
    for (uint32_t e = 0; e < hdr[2]; e++, p += 13) {
      uint32_t sp;
      memcpy(&sp, p, 4);
      if (sp >= hdr[1] || p[12] > 1)
        return sl_ctx_error(ctx, -SL_ESTATE, "PostgreSQL table '%s': checkpoint position %d is "
                            "damaged (split %u of %u)", r->src->o.table, b, sp, hdr[1]);
      for (int j = 0; !cdc && j < r->n_own; j++)
        if ((uint32_t)r->own[j] == sp) {
          memcpy(&r->rows[j], p + 4, 8);
          r->done[j] = p[12] != 0;
        }
    }
    if (has && r->st) {
      int rc = sl__pg_stream_seek(r->st, ctx, blobs[b] + body + 4, b);
      if (rc) return rc;
    }
  }
  for (int j = 0; j < r->n_own; j++) {
    if (cdc) r->done[j] = (uint8_t)began, r->rows[j] = 0;
    if (r->done[j]) atomic_fetch_add(&r->src->splits_done, 1);
  }
  return 0;
}

static int src_complete(void *reader, sl_ctx *ctx, int64_t id) {
  pg_reader *r = reader;
  return r->st ? sl__pg_stream_complete(r->st, ctx, id) : 0;
}

static const sl_source_ops pg_source_ops = {
    .version = SL_CONNECTOR_VERSION,
    .kind = "postgresql",
    .plan = src_plan,
    .open = src_open,
    .poll = src_poll,
    .close = src_close,
    .free = src_free,
    .position = src_position,
    .seek = src_seek,
    .wait_fd = src_wait_fd,
    .checkpoint_complete = src_complete,
};

static sl_source *make(pg_src *s, int rc) {
  if (rc) {
    src_free(s);
    return NULL;
  }
  return sl_source_new(&pg_source_ops, s, 0);
}

sl_source *sl_postgres_source(const char *conninfo, const sl_option *options, size_t n) {
  pg_src *s = sl__calloc(1, sizeof *s);
  return s ? make(s, sl__pg_opts_init(&s->o, conninfo, options, n)) : NULL;
}

sl_source *sl_postgres_source_uri(const char *uri) {
  pg_src *s = sl__calloc(1, sizeof *s);
  return s ? make(s, sl__pg_opts_uri(&s->o, uri)) : NULL;
}

int sl_postgres_source_set_deserializer(sl_source *src, sl_pg_deserialize_fn fn, void *ud) {
  if (!src || src->ops != &pg_source_ops) return -SL_EINVAL;
  pg_src *s = src->ud;
  s->deser.fn = fn, s->deser.ud = ud;
  return 0;
}

/* ---- typed values ------------------------------------------------------------------ */

static int usable(const sl_pg_column *c) { return c && !c->is_null && !c->unknown && c->text; }

int sl_pg_column_int64(const sl_pg_column *c, int64_t *out) {
  if (!usable(c) || (c->type != 20 && c->type != 21 && c->type != 23)) return -SL_EINVAL;
  errno = 0;
  char *end;
  long long v = strtoll(c->text, &end, 10);
  if (!*c->text || *end || errno) return -SL_EINVAL;
  *out = v;
  return 0;
}

int sl_pg_column_double(const sl_pg_column *c, double *out) {
  if (!usable(c) || (c->type != 20 && c->type != 21 && c->type != 23 && c->type != 700 &&
                     c->type != 701 && c->type != 1700))
    return -SL_EINVAL;
  char *end;
  double v = strtod(c->text, &end); /* also NaN, Infinity, -Infinity */
  if (!*c->text || *end) return -SL_EINVAL;
  *out = v;
  return 0;
}

int sl_pg_column_bool(const sl_pg_column *c, int *out) {
  if (!usable(c) || c->type != 16 || (strcmp(c->text, "t") && strcmp(c->text, "f")))
    return -SL_EINVAL;
  *out = c->text[0] == 't';
  return 0;
}

static int hexdigit(int ch) {
  return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

int sl_pg_column_bytea(const sl_pg_column *c, uint8_t *buf, size_t cap, size_t *len) {
  if (!usable(c) || c->type != 17 || c->len < 2 || c->len % 2 || memcmp(c->text, "\\x", 2))
    return -SL_EINVAL; /* bytea_output = hex, PostgreSQL's default */
  size_t n = (c->len - 2) / 2;
  for (size_t i = 0; i < n; i++) {
    int h = hexdigit(c->text[2 + 2 * i]), l = hexdigit(c->text[3 + 2 * i]);
    if (h < 0 || l < 0) return -SL_EINVAL;
    if (i < cap) buf[i] = (uint8_t)(h * 16 + l);
  }
  *len = n;
  return n <= cap ? 0 : -SL_EINVAL;
}

/* days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's) */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int sl_pg_column_time_us(const sl_pg_column *c, int64_t *out) {
  if (!usable(c) || (c->type != 1082 && c->type != 1114 && c->type != 1184)) return -SL_EINVAL;
  const char *t = c->text;
  int y, mo, d, h = 0, mi = 0, n = 0;
  if (sscanf(t, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10 || mo < 1 || mo > 12 ||
      d < 1 || d > 31)
    return -SL_EINVAL; /* DateStyle ISO (the default); no BC dates, no infinity */
  int64_t us = days_from_civil(y, mo, d) * 86400LL * 1000000;
  t += 10;
  if (c->type != 1082) {
    int sec = 0, k = 0;
    if (sscanf(t, " %2d:%2d:%2d%n", &h, &mi, &sec, &k) != 3) return -SL_EINVAL;
    t += k;
    int64_t frac = 0, scale = 100000;
    if (*t == '.')
      for (t++; *t >= '0' && *t <= '9'; t++, scale /= 10) frac += (*t - '0') * scale;
    us += ((int64_t)h * 3600 + mi * 60 + sec) * 1000000 + frac;
    if (c->type == 1184 && strcmp(t, "+00")) return -SL_EINVAL; /* TimeZone must be UTC */
    if (c->type == 1114 && *t) return -SL_EINVAL;
  } else if (*t) {
    return -SL_EINVAL;
  }
  *out = us;
  return 0;
}

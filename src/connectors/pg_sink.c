/*
 * pg_sink.c -- sl_postgres_sink(): records into a PostgreSQL table,
 * exactly-once by two-phase commit when checkpoints are on.
 *
 * A record's value is split like a CSV line (sink.field-delimiter, default
 * ','; double quotes hold the delimiter, "" is a quote; an unquoted empty
 * field is NULL, a quoted one an empty string) into the table's columns in
 * table order; a table of one column takes the whole value.  Each field is
 * text the server casts to its column's type, so NUMERIC keeps
 * every digit.  Rows are batched (no allocation per record once the
 * buffer has grown), sink.buffer-flush.max-rows at a time: into one COPY
 * (text format) for a table without a primary key, else into one query
 * string of an INSERT ... ON CONFLICT (key) DO UPDATE per row (a
 * multi-row upsert may not touch a key twice).
 *
 * sink.changelog=true (Flink JDBC's upsert sink): a value is "+I", "-U",
 * "+U" or "-D", the delimiter, then the row.  change_kind reads it; +I
 * and +U append the upsert, -D appends "DELETE FROM t WHERE k1 = E'..'
 * AND ...;" (del_part holds the fixed pieces, pk_col the key's fields)
 * to the same query string, so one batch -- one server-side transaction
 * without checkpoints, or part of the checkpoint's transaction with
 * them -- applies the changes in record order; -U is counted and
 * skipped.  Open refuses a table without a primary key; a value with no
 * kind fails the job (bad_kind quotes a bounded prefix).  The counts are
 * logged at close.
 *
 * Writer states (one connection per subtask):
 *
 *   IDLE ──first batch──> IN_TXN ──precommit(n): PREPARE 'P-s<i>-c<n>'──> IDLE
 *                                                   │
 *                      commit_ckpt(m >= n): COMMIT PREPARED (pending list)
 *
 *   1. Without checkpoints every batch is its own transaction (autocommit),
 *      sent when max-rows rows are buffered, after sink.buffer-flush
 *      .interval (at the next write or idle), and at flush; a lost
 *      connection is retried sink.max-retries times with back-off
 *      (at-least-once: a batch whose commit reply was lost is repeated).
 *   2. With checkpoints a checkpoint's rows go into one transaction that
 *      precommit prepares (durable, invisible, its locks held) and whose
 *      name joins the writer's pending list, which is the checkpoint's
 *      blob; commit_ckpt commits the pending names <= the checkpoint (a
 *      name already committed -- SQLSTATE 42704 -- is fine: a repeat after
 *      a crash).  The fault point "pg-commit" sits between PREPARE and
 *      COMMIT PREPARED, "pg-recover" before each COMMIT PREPARED of recover
 *      (tests kill the process there); SLUICE_FAULT_DELAY=pg-write:MS
 *      slows each batch sent (a slow server).
 *   3. While a prepared transaction of an upsert table waits for its
 *      commit, full batches stay buffered: the next transaction's upsert
 *      (or changelog delete) of a key the prepared one holds would wait
 *      for a commit this writer has yet to send.  (A barrier comes only
 *      after the checkpoint before it completed -- one checkpoint in
 *      flight -- and the runtime tells the sink of that completion before
 *      its pre-commit, so precommit sends.)
 *   4. recover: commit the restored checkpoint's names, then ROLLBACK
 *      PREPARED every other prepared transaction of this database whose
 *      name is <prefix>-s<digits>-c<digits> (any old subtask, any run):
 *      nothing is left holding locks.  What a later checkpoint already
 *      committed stays (a table cannot un-commit): restoring an older
 *      checkpoint than the newest completed one repeats rows (an upsert
 *      table converges to the same totals).
 *   5. A connection lost inside a transaction fails the job (the restore
 *      replays from the checkpoint).
 *   6. A fresh start with checkpoints (no restore: recover is not called)
 *      rolls back, in subtask 0's open, whatever an earlier run of this
 *      sink left prepared: it is covered by no checkpoint of this run.
 *   7. COMMIT PREPARED cannot run inside a transaction block: when a
 *      checkpoint completes while the writer's connection has the next
 *      checkpoint's transaction open (rows already sent: tables without a
 *      primary key), its commits wait until that transaction is prepared
 *      (the next precommit, or the end of input).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/pg.h"

typedef struct pg_sink {
  sl__pg_opts o;
} pg_sink;

typedef struct pg_field {
  const char *p;
  size_t len;
  int quoted;
} pg_field;

typedef struct pg_writer {
  pg_sink *s;
  PGconn *c;
  int subtask;
  int n_cols;
  int upsert;
  int twopc;    /* checkpoints on */
  int changelog; /* sink.changelog: values start with a change kind */
  int n_pk;
  int *pk_col;     /* changelog: the key's columns, key order -> table order */
  char **del_part; /* changelog: "DELETE FROM t WHERE k1 = ", " AND k2 = " ... */
  int64_t n_upsert, n_delete, n_before; /* changelog: +I/+U, -D, -U (skipped) */
  char *prefix; /* INSERT INTO t (cols) VALUES */
  char *suffix; /* ON CONFLICT ...; or "" */
  char *copy;   /* COPY t (cols) FROM STDIN: tables without a primary key */
  sl__pg_buf sql;
  int64_t rows;     /* buffered */
  int64_t first_ms; /* when the first buffered row came */
  int in_txn;
  int64_t commit_due; /* the newest completed checkpoint whose commits wait (rule 7); 0: none */
  int64_t *pending; /* prepared, not yet committed: checkpoint ids */
  int n_pending, cap_pending;
  pg_field *f;
} pg_writer;

static void sink_free(void *ud) {
  pg_sink *s = ud;
  sl__pg_opts_free(&s->o);
  sl__free(s);
}

static int fail_sql(pg_sink *s, sl_ctx *ctx, PGconn *c, PGresult *r, const char *what) {
  char why[700];
  sl__pg_error(&s->o, c, r, why, sizeof why);
  PQclear(r);
  return sl_ctx_error(ctx, -SL_EIO, "PostgreSQL table '%s': %s failed: %s", s->o.table, what, why);
}

/* Run sql; 0 or a failure naming `what`.  ok_state: a SQLSTATE that counts
 * as success (NULL: none). */
static int exec(pg_sink *s, sl_ctx *ctx, PGconn *c, const char *what, const char *sql,
                const char *ok_state) {
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    PQclear(r);
    return 0;
  }
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  if (ok_state && state && !strcmp(state, ok_state)) {
    PQclear(r);
    return 0;
  }
  return fail_sql(s, ctx, c, r, what);
}

static PGresult *query1(pg_sink *s, sl_ctx *ctx, PGconn *c, const char *what, const char *sql,
                        const char *param) {
  const char *p[1] = {param};
  PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, p, NULL, NULL, 0);
  if (r && PQresultStatus(r) == PGRES_TUPLES_OK) return r;
  fail_sql(s, ctx, c, r, what);
  return NULL;
}

static char *ident(PGconn *c, const char *name) {
  char *q = PQescapeIdentifier(c, name, strlen(name));
  char *d = q ? sl__strdup(q) : NULL;
  PQfreemem(q);
  return d;
}

static int is_ours(const pg_sink *s, const char *name, size_t n);
static int abort_ours(pg_sink *s, sl_ctx *ctx, PGconn *c);

static void writer_free(pg_writer *w) {
  if (w->c) PQfinish(w->c);
  sl__free(w->prefix), sl__free(w->suffix), sl__free(w->pending), sl__free(w->f);
  sl__free(w->copy);
  for (int k = 0; w->del_part && k < w->n_pk; k++) sl__free(w->del_part[k]);
  sl__free(w->del_part), sl__free(w->pk_col);
  sl__pg_buf_free(&w->sql);
  sl__free_private(w);
}

/* The table's oid text; NULL (after a message) when missing and not made. */
static int resolve(pg_sink *s, sl_ctx *ctx, PGconn *c, char *oid, size_t cap) {
  PGresult *r = query1(s, ctx, c, "catalog lookup", "SELECT to_regclass($1)::oid::text", s->o.table);
  if (!r) return -SL_EIO;
  int missing = PQgetisnull(r, 0, 0);
  sl__fmt(oid, cap, "%s", missing ? "" : PQgetvalue(r, 0, 0));
  PQclear(r);
  return missing;
}

static int sink_open(void *ud, sl_ctx *ctx, void **out) {
  pg_sink *s = ud;
  *out = NULL;
  if (s->o.err) return sl_ctx_error(ctx, -SL_ECONFIG, "%s", s->o.err);
  pg_writer *w = sl__calloc_private(sizeof *w);
  if (!w) return -SL_ENOMEM;
  w->s = s;
  w->subtask = sl_ctx_subtask(ctx);
  w->twopc = sl__conn_int(ctx, "execution.checkpointing.interval") > 0;
  w->changelog = s->o.changelog;
  char err[800], where[300], oid[32];
  int rc = 0;
  if (!(w->c = sl__pg_connect(&s->o, (int)s->o.retries, err, sizeof err))) {
    rc = sl_ctx_error(ctx, -SL_ECONN, "PostgreSQL table '%s': %s", s->o.table, err);
    goto out;
  }
  PGconn *c = w->c;
  if ((rc = resolve(s, ctx, c, oid, sizeof oid)) < 0) goto out;
  if (rc && s->o.create_cols) { /* create it; one subtask at a time */
    char sql[4200];
    sl__fmt(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS %s (%s)", s->o.table, s->o.create_cols);
    if ((rc = exec(s, ctx, c, "BEGIN", "BEGIN", NULL))) goto out;
    PGresult *r = query1(s, ctx, c, "lock", "SELECT pg_advisory_xact_lock(hashtext($1))",
                         s->o.table);
    if (!r) {
      rc = -SL_EIO;
      goto out;
    }
    PQclear(r);
    if ((rc = exec(s, ctx, c, "CREATE TABLE", sql, NULL)) ||
        (rc = exec(s, ctx, c, "COMMIT", "COMMIT", NULL)))
      goto out;
    if ((rc = resolve(s, ctx, c, oid, sizeof oid)) < 0) goto out;
  }
  if (rc) {
    rc = sl_ctx_error(ctx, -SL_ECONFIG, "PostgreSQL table '%s' does not exist (%s): create it "
                      "first", s->o.table, sl__pg_where(c, where, sizeof where));
    goto out;
  }
  PGresult *cols = query1(s, ctx, c, "catalog lookup",
                          "SELECT attname FROM pg_attribute WHERE attrelid = $1::oid AND "
                          "attnum > 0 AND NOT attisdropped ORDER BY attnum", oid);
  PGresult *pk = cols ? query1(s, ctx, c, "catalog lookup",
                               "SELECT a.attname FROM pg_index i, unnest(i.indkey) WITH "
                               "ORDINALITY k(attnum, ord), pg_attribute a WHERE i.indrelid = "
                               "$1::oid AND i.indisprimary AND a.attrelid = i.indrelid AND "
                               "a.attnum = k.attnum ORDER BY k.ord", oid)
                      : NULL;
  PGresult *qt = pk ? query1(s, ctx, c, "catalog lookup", "SELECT $1::oid::regclass::text", oid)
                    : NULL;
  if (!qt) {
    PQclear(cols), PQclear(pk);
    rc = -SL_EIO;
    goto out;
  }
  w->n_cols = PQntuples(cols);
  int n_pk = PQntuples(pk);
  w->upsert = n_pk > 0;
  if (w->changelog && !n_pk) {
    rc = sl_ctx_error(ctx, -SL_ECONFIG, "PostgreSQL table '%s' (%s) has no primary key, and "
                      "sink.changelog=true needs one: the sink cannot apply update and delete "
                      "changes (-U/+U/-D) without a key; add a PRIMARY KEY to the table (or to "
                      "sink.create-table-columns), or write an insert-only stream with "
                      "sink.changelog=false", s->o.table, sl__pg_where(c, where, sizeof where));
    PQclear(cols), PQclear(pk), PQclear(qt);
    goto out;
  }
  if (w->changelog) { /* -D: the key's columns in table order, and the DELETE's pieces */
    w->n_pk = n_pk;
    w->pk_col = sl__calloc((size_t)n_pk, sizeof *w->pk_col);
    w->del_part = sl__calloc((size_t)n_pk, sizeof *w->del_part);
    rc = w->pk_col && w->del_part ? 0 : -SL_ENOMEM;
    for (int k = 0; !rc && k < n_pk; k++) {
      for (int i = 0; i < w->n_cols; i++)
        if (!strcmp(PQgetvalue(pk, k, 0), PQgetvalue(cols, i, 0))) w->pk_col[k] = i;
      char *q = ident(c, PQgetvalue(pk, k, 0));
      sl__pg_buf part = {0};
      rc = q ? 0 : -SL_ENOMEM;
      if (!rc && !k) rc = sl__pg_buf_str(&part, "DELETE FROM ");
      if (!rc && !k) rc = sl__pg_buf_str(&part, PQgetvalue(qt, 0, 0));
      if (!rc) rc = sl__pg_buf_str(&part, k ? " AND " : " WHERE ");
      if (!rc) rc = sl__pg_buf_str(&part, q);
      if (!rc) rc = sl__pg_buf_str(&part, " = ");
      sl__free(q);
      if (rc) sl__pg_buf_free(&part);
      w->del_part[k] = part.p;
    }
    if (rc) {
      PQclear(cols), PQclear(pk), PQclear(qt);
      rc = sl_ctx_error(ctx, rc, "out of memory");
      goto out;
    }
  }
  sl__pg_buf pre = {0}, suf = {0};
  rc = sl__pg_buf_str(&pre, "INSERT INTO ");
  if (!rc) rc = sl__pg_buf_str(&pre, PQgetvalue(qt, 0, 0));
  if (!rc) rc = sl__pg_buf_str(&pre, " (");
  if (!rc) rc = sl__pg_buf_str(&suf, "");
  int n_set = 0;
  for (int i = 0; !rc && i < w->n_cols; i++) {
    char *q = ident(c, PQgetvalue(cols, i, 0));
    if (!q) rc = -SL_ENOMEM;
    if (!rc && i) rc = sl__pg_buf_str(&pre, ", ");
    if (!rc) rc = sl__pg_buf_str(&pre, q);
    int in_pk = 0;
    for (int k = 0; k < n_pk; k++) in_pk |= !strcmp(PQgetvalue(pk, k, 0), PQgetvalue(cols, i, 0));
    if (!rc && w->upsert && !in_pk) {
      rc = sl__pg_buf_str(&suf, n_set++ ? ", " : " DO UPDATE SET ");
      if (!rc) rc = sl__pg_buf_str(&suf, q);
      if (!rc) rc = sl__pg_buf_str(&suf, " = EXCLUDED.");
      if (!rc) rc = sl__pg_buf_str(&suf, q);
    }
    sl__free(q);
  }
  if (!rc) rc = sl__pg_buf_str(&pre, ") VALUES ");
  if (!rc && w->upsert) { /* " ON CONFLICT (pk) DO UPDATE SET ...;" */
    sl__pg_buf on = {0};
    rc = sl__pg_buf_str(&on, " ON CONFLICT (");
    for (int k = 0; !rc && k < n_pk; k++) {
      char *q = ident(c, PQgetvalue(pk, k, 0));
      rc = q ? 0 : -SL_ENOMEM;
      if (!rc && k) rc = sl__pg_buf_str(&on, ", ");
      if (!rc) rc = sl__pg_buf_str(&on, q);
      sl__free(q);
    }
    if (!rc) rc = sl__pg_buf_str(&on, ")");
    if (!rc) rc = sl__pg_buf_str(&on, n_set ? suf.p : " DO NOTHING");
    if (!rc) rc = sl__pg_buf_str(&on, ";");
    sl__pg_buf_free(&suf);
    suf = on;
  }
  PQclear(cols), PQclear(pk), PQclear(qt);
  w->prefix = pre.p, w->suffix = suf.p;
  if (!rc && !w->upsert) { /* "INSERT INTO t (cols) VALUES " -> "COPY t (cols) FROM STDIN" */
    size_t body = strlen(pre.p) - strlen("INSERT INTO ") - strlen(" VALUES ");
    if (!(w->copy = sl__malloc(body + 32))) rc = -SL_ENOMEM;
    else sl__fmt(w->copy, body + 32, "COPY %.*s FROM STDIN", (int)body, pre.p + strlen("INSERT INTO "));
  }
  if (!rc && !(w->f = sl__calloc((size_t)w->n_cols + 1, sizeof *w->f))) rc = -SL_ENOMEM;
  if (rc) {
    rc = sl_ctx_error(ctx, rc, "out of memory");
    goto out;
  }
  if (w->n_cols == 0) {
    rc = sl_ctx_error(ctx, -SL_ECONFIG, "PostgreSQL table '%s' has no columns", s->o.table);
    goto out;
  }
  if (w->twopc) { /* exactly-once needs prepared transactions */
    PGresult *r = query1(s, ctx, c, "SHOW max_prepared_transactions",
                         "SHOW max_prepared_transactions", NULL);
    if (!r) {
      rc = -SL_EIO;
      goto out;
    }
    int max = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (max <= 0) {
      rc = sl_ctx_error(ctx, -SL_ECONFIG,
                        "PostgreSQL table '%s': exactly-once (checkpoints on) writes by "
                        "two-phase commit, but max_prepared_transactions is 0 on %s: set it "
                        "in postgresql.conf (at least 2 x the sink's parallelism) and restart "
                        "the server", s->o.table, sl__pg_where(c, where, sizeof where));
      goto out;
    }
    /* a fresh start (no restore, so no recover): what a crashed run of this
     * sink left prepared is not covered by anything; roll it back (once) */
    const char *restore = sl_ctx_config(ctx, "execution.checkpointing.restore");
    if (w->subtask == 0 && (!restore || !*restore) && (rc = abort_ours(s, ctx, c))) goto out;
  }
out:
  if (rc) {
    writer_free(w);
    return rc;
  }
  *out = w;
  return 0;
}

/* The buffered rows to the server: COPY, or the INSERT statements.  0, or
 * -1 with the failed result in *bad (NULL: the connection's error). */
static int run_batch(pg_writer *w, PGresult **bad) {
  *bad = NULL;
  if (!w->copy) {
    PGresult *r = PQexec(w->c, w->sql.p);
    if (r && PQresultStatus(r) == PGRES_COMMAND_OK) {
      PQclear(r);
      return 0;
    }
    *bad = r;
    return -1;
  }
  PGresult *r = PQexec(w->c, w->copy);
  if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
    *bad = r;
    return -1;
  }
  PQclear(r);
  int ok = PQputCopyData(w->c, w->sql.p, (int)w->sql.len) == 1 && PQputCopyEnd(w->c, NULL) == 1;
  int rc = -1;
  while ((r = PQgetResult(w->c))) { /* COPY's result, then NULL */
    if (ok && rc && PQresultStatus(r) == PGRES_COMMAND_OK) rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK && !*bad) *bad = r;
    else PQclear(r);
    if (PQstatus(w->c) == CONNECTION_BAD) break;
  }
  if (*bad) rc = -1;
  return ok ? rc : -1;
}

static const char *batch_kind(const pg_writer *w) {
  return w->copy ? "COPY" : w->changelog ? "changelog batch (INSERT ... ON CONFLICT, DELETE)"
       : w->upsert ? "INSERT ... ON CONFLICT (upsert)" : "INSERT";
}

/* Send the buffered rows.  Without checkpoints: a transaction of their
 * own, retried after a lost connection. */
static int send_rows(pg_writer *w, sl_ctx *ctx) {
  pg_sink *s = w->s;
  if (!w->rows) return 0;
  sl__fault_delay("pg-write"); /* (test builds: a slow server, so crash tests catch runs mid-way) */
  int rc;
  PGresult *bad;
  if (w->twopc) {
    if (!w->in_txn && (rc = exec(s, ctx, w->c, "BEGIN", "BEGIN", NULL))) return rc;
    w->in_txn = 1;
    if (run_batch(w, &bad)) return fail_sql(s, ctx, w->c, bad, batch_kind(w));
  } else {
    int64_t backoff_ms = 100;
    for (int attempt = 0;; attempt++) {
      if (!run_batch(w, &bad)) break;
      if (PQstatus(w->c) != CONNECTION_BAD || attempt >= s->o.retries)
        return fail_sql(s, ctx, w->c, bad, batch_kind(w));
      PQclear(bad);
      char where[300];
      sl_ctx_log(ctx, SL_LOG_WARN, "PostgreSQL table '%s': connection lost (%s); retry %d of "
                 "%lld", s->o.table, sl__pg_where(w->c, where, sizeof where), attempt + 1,
                 (long long)s->o.retries);
      struct timespec ts = {backoff_ms / 1000, (backoff_ms % 1000) * 1000000};
      nanosleep(&ts, NULL);
      backoff_ms *= 2;
      PQreset(w->c);
    }
  }
  w->sql.len = 0;
  w->rows = 0;
  return 0;
}

/* May full batches go out now (rule 3)? */
static int may_send(const pg_writer *w) { return !(w->twopc && w->upsert && w->n_pending); }

/* A field as a SQL literal: NULL, or E'...' with ' and \ doubled. */
static int put_literal(sl__pg_buf *b, const pg_field *f, int never_null) {
  if (!f->len && !f->quoted && !never_null) return sl__pg_buf_str(b, "NULL");
  int rc = sl__pg_buf_str(b, "E'");
  for (size_t i = 0; !rc && i < f->len; i++) {
    char ch = f->p[i];
    if (f->quoted && ch == '"') i++; /* "" inside quotes */
    if (ch == '\'' || ch == '\\') rc = sl__pg_buf_c(b, ch);
    if (!rc) rc = sl__pg_buf_c(b, ch);
  }
  return rc ? rc : sl__pg_buf_c(b, '\'');
}

/* A field in COPY's text format: \N for NULL; backslash, tab, LF and CR
 * escaped. */
static int put_copy(sl__pg_buf *b, const pg_field *f, int never_null) {
  if (!f->len && !f->quoted && !never_null) return sl__pg_buf_str(b, "\\N");
  int rc = 0;
  for (size_t i = 0; !rc && i < f->len; i++) {
    char ch = f->p[i];
    if (f->quoted && !never_null && ch == '"') i++; /* "" inside quotes */
    switch (ch) {
      case '\\': rc = sl__pg_buf_put(b, "\\\\", 2); break;
      case '\t': rc = sl__pg_buf_put(b, "\\t", 2); break;
      case '\n': rc = sl__pg_buf_put(b, "\\n", 2); break;
      case '\r': rc = sl__pg_buf_put(b, "\\r", 2); break;
      default: rc = sl__pg_buf_c(b, ch);
    }
  }
  return rc;
}

/* Split v[0..n) into at most max fields; the count, or -1 (bad quotes). */
static int split(const char *v, size_t n, char sep, pg_field *f, int max) {
  int k = 0;
  size_t i = 0;
  for (;;) {
    if (k == max) return max + 1;
    pg_field *x = &f[k++];
    if (i < n && v[i] == '"') {
      size_t j = ++i;
      for (; j < n; j++)
        if (v[j] == '"') {
          if (j + 1 < n && v[j + 1] == '"') j++;
          else break;
        }
      if (j >= n) return -1; /* unterminated */
      *x = (pg_field){v + i, j - i, 1};
      i = j + 1;
      if (i < n && v[i] != sep) return -1; /* text after the closing quote */
    } else {
      const char *e = memchr(v + i, sep, n - i);
      size_t end = e ? (size_t)(e - v) : n;
      *x = (pg_field){v + i, end - i, 0};
      i = end;
    }
    if (i >= n) return k;
    i++; /* the separator */
  }
}

/* sink.changelog: the kind a value starts with ("+I," ...): 'I' (+I,
 * +U: upsert), 'D' (-D), 'B' (-U), or 0 when it starts with none. */
static int change_kind(const char *v, size_t n, char delim) {
  if (n < 3 || v[2] != delim) return 0;
  if (v[0] == '+' && (v[1] == 'I' || v[1] == 'U')) return 'I';
  if (v[0] == '-' && v[1] == 'D') return 'D';
  if (v[0] == '-' && v[1] == 'U') return 'B';
  return 0;
}

/* A value without a change kind: fails the job, quoting at most 64 bytes
 * of it (control bytes as '?'). */
static int bad_kind(pg_writer *w, sl_ctx *ctx, const char *v, size_t n) {
  char shown[65], delim[3] = {w->s->o.delim, 0, 0};
  size_t cut = n > 64 ? 64 : n;
  while (cut < n && cut && ((unsigned char)v[cut] & 0xC0) == 0x80) cut--; /* whole UTF-8 */
  for (size_t i = 0; i < cut; i++)
    shown[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
  shown[cut] = 0;
  if (delim[0] == '\t') memcpy(delim, "\\t", 3);
  char more[40] = "";
  if (cut < n) sl__fmt(more, sizeof more, "...' (%zu bytes)", n);
  return sl_ctx_error(ctx, -SL_EBADREC, "PostgreSQL table '%s': sink.changelog=true, but a value "
                      "does not start with a change kind (+I, -U, +U or -D) and the field "
                      "delimiter '%s': '%s%s; the stream written must be a changelog, or set "
                      "sink.changelog=false", w->s->o.table, delim, shown, *more ? more : "'");
}

/* Rows waited long enough (without checkpoints)? */
static int due(const pg_writer *w, sl_ctx *ctx) {
  return w->rows && !w->twopc && sl__conn_ms(ctx) - w->first_ms >= w->s->o.interval_ms;
}

/* A record this table cannot take: a bad record named by the table. */
static int bad_row(const pg_writer *w, sl_ctx *ctx, const sl_record *rec, const char *reason) {
  char where[300];
  sl__fmt(where, sizeof where, "PostgreSQL table '%s'", w->s->o.table);
  return sl_ctx_bad_record(ctx, where, reason, rec);
}

static int sink_write(void *writer, sl_ctx *ctx, const sl_record *rec) {
  pg_writer *w = writer;
  pg_sink *s = w->s;
  const char *v = rec->value ? rec->value : "";
  size_t n = rec->value_len;
  int k, kind = 'I';
  if (w->changelog) {
    if (!(kind = change_kind(v, n, s->o.delim))) return bad_kind(w, ctx, v, n);
    if (kind == 'B') { /* the +U after it upserts the key */
      w->n_before++;
      return due(w, ctx) ? send_rows(w, ctx) : 0;
    }
    v += 3, n -= 3;
  }
  if (w->n_cols == 1) { /* the whole value; never NULL */
    w->f[0] = (pg_field){v, n, 0};
    k = 1;
  } else {
    k = split(v, n, s->o.delim, w->f, w->n_cols);
  }
  if (k != w->n_cols) {
    char reason[200];
    if (k < 0) sl__fmt(reason, sizeof reason, "unbalanced double quotes");
    else
      sl__fmt(reason, sizeof reason, "%s fields for the table's %d columns",
              k > w->n_cols ? "more" : "fewer", w->n_cols);
    return bad_row(w, ctx, rec, reason);
  }
  if (memchr(v, 0, n)) return bad_row(w, ctx, rec, "a NUL byte");
  int rc = 0;
  if (kind == 'D') { /* DELETE FROM t WHERE k1 = E'..' AND ...; */
    for (int i = 0; i < w->n_pk && w->n_cols > 1; i++) {
      const pg_field *f = &w->f[w->pk_col[i]];
      if (!f->len && !f->quoted)
        return bad_row(w, ctx, rec, "a -D row whose primary-key field is empty (NULL): nothing to delete by");
    }
    if (!w->rows) w->first_ms = sl__conn_ms(ctx);
    for (int i = 0; !rc && i < w->n_pk; i++) {
      rc = sl__pg_buf_str(&w->sql, w->del_part[i]);
      if (!rc) rc = put_literal(&w->sql, &w->f[w->pk_col[i]], w->n_cols == 1);
    }
    if (!rc) rc = sl__pg_buf_c(&w->sql, ';');
    w->n_delete++;
    goto added;
  }
  w->n_upsert += w->changelog;
  if (!w->rows) w->first_ms = sl__conn_ms(ctx);
  if (w->copy) { /* COPY's text format: tab-separated, \N for NULL */
    for (int i = 0; !rc && i < k; i++) {
      if (i) rc = sl__pg_buf_c(&w->sql, '\t');
      if (!rc) rc = put_copy(&w->sql, &w->f[i], w->n_cols == 1);
    }
    if (!rc) rc = sl__pg_buf_c(&w->sql, '\n');
    goto added;
  }
  if (w->upsert || !w->rows) rc = sl__pg_buf_str(&w->sql, w->prefix);
  else rc = sl__pg_buf_c(&w->sql, ',');
  if (!rc) rc = sl__pg_buf_c(&w->sql, '(');
  for (int i = 0; !rc && i < k; i++) {
    if (i) rc = sl__pg_buf_c(&w->sql, ',');
    if (!rc) rc = put_literal(&w->sql, &w->f[i], w->n_cols == 1);
  }
  if (!rc) rc = sl__pg_buf_c(&w->sql, ')');
  if (!rc && w->upsert) rc = sl__pg_buf_str(&w->sql, w->suffix);
added:
  if (rc) return sl_ctx_error(ctx, rc, "out of memory");
  w->rows++;
  if (w->rows >= s->o.max_rows && may_send(w)) return send_rows(w, ctx);
  return due(w, ctx) ? send_rows(w, ctx) : 0;
}

static int sink_idle(void *writer, sl_ctx *ctx) {
  pg_writer *w = writer;
  return due(w, ctx) ? send_rows(w, ctx) : 0;
}

static int sink_flush(void *writer, sl_ctx *ctx) {
  pg_writer *w = writer;
  return may_send(w) ? send_rows(w, ctx) : 0;
}

static void sink_close(void *writer, sl_ctx *ctx, int ok) {
  (void)ok;
  pg_writer *w = writer;
  if (w->changelog)
    sl_ctx_log(ctx, SL_LOG_INFO, "PostgreSQL table '%s': changelog: %lld upserts (+I, +U), %lld "
               "deletes (-D), %lld update-befores (-U) skipped", w->s->o.table,
               (long long)w->n_upsert, (long long)w->n_delete, (long long)w->n_before);
  if (w->in_txn && w->c) PQclear(PQexec(w->c, "ROLLBACK")); /* not pre-committed: not covered */
  writer_free(w);
}

static void gid_of(const pg_sink *s, int subtask, int64_t id, char *buf, size_t cap) {
  sl__fmt(buf, cap, "%s-s%d-c%lld", s->o.txn_prefix, subtask, (long long)id);
}

#define PGS_MAGIC "SLPS"

static int commit_through(pg_writer *w, sl_ctx *ctx, int64_t id);

static int sink_precommit(void *writer, sl_ctx *ctx, int64_t id, uint8_t *buf, size_t cap,
                          size_t *len) {
  pg_writer *w = writer;
  pg_sink *s = w->s;
  int rc = send_rows(w, ctx);
  if (rc) return rc;
  char gid[256], sql[300];
  if (w->in_txn) {
    gid_of(s, w->subtask, id, gid, sizeof gid);
    sl__fmt(sql, sizeof sql, "PREPARE TRANSACTION '%s'", gid);
    if ((rc = exec(s, ctx, w->c, "PREPARE TRANSACTION", sql, NULL))) return rc;
    w->in_txn = 0;
    if (w->n_pending == w->cap_pending) {
      int ncap = w->cap_pending ? 2 * w->cap_pending : 4;
      int64_t *p = sl__realloc(w->pending, sizeof *p * (size_t)ncap);
      if (!p) return sl_ctx_error(ctx, -SL_ENOMEM, "out of memory");
      w->pending = p, w->cap_pending = ncap;
    }
    w->pending[w->n_pending++] = id;
  }
  if (w->commit_due) { /* rule 7: the commits that waited for this PREPARE */
    int64_t due = w->commit_due;
    w->commit_due = 0;
    if ((rc = commit_through(w, ctx, due))) return rc;
  }
  /* blob: magic, u32 count, then u16 length + name per prepared one */
  size_t at = 8;
  if (cap < at) return sl_ctx_error(ctx, -SL_EINVAL, "checkpoint blob too small");
  for (int i = 0; i < w->n_pending; i++) {
    gid_of(s, w->subtask, w->pending[i], gid, sizeof gid);
    uint16_t l = (uint16_t)strlen(gid);
    if (at + 2 + l > cap)
      return sl_ctx_error(ctx, -SL_EINVAL, "PostgreSQL table '%s': %d prepared transactions do "
                          "not fit the checkpoint", s->o.table, w->n_pending);
    memcpy(buf + at, &l, 2);
    memcpy(buf + at + 2, gid, l);
    at += 2 + (size_t)l;
  }
  uint32_t n = (uint32_t)w->n_pending;
  memcpy(buf, PGS_MAGIC, 4);
  memcpy(buf + 4, &n, 4);
  *len = at;
  return 0;
}

static int commit_gid(pg_sink *s, sl_ctx *ctx, PGconn *c, const char *gid, const char *fault) {
  char sql[300];
  sl__fault(fault); /* crash tests: prepared, not yet committed */
  sl__fmt(sql, sizeof sql, "COMMIT PREPARED '%s'", gid);
  return exec(s, ctx, c, "COMMIT PREPARED", sql, "42704"); /* gone: committed before */
}

/* COMMIT PREPARED the pending transactions of checkpoints <= id. */
static int commit_through(pg_writer *w, sl_ctx *ctx, int64_t id) {
  int keep = 0, rc = 0;
  for (int i = 0; i < w->n_pending; i++) {
    if (rc || w->pending[i] > id) {
      w->pending[keep++] = w->pending[i];
      continue;
    }
    char gid[256];
    gid_of(w->s, w->subtask, w->pending[i], gid, sizeof gid);
    if ((rc = commit_gid(w->s, ctx, w->c, gid, "pg-commit"))) w->pending[keep++] = w->pending[i];
  }
  w->n_pending = keep;
  if (!rc && w->rows >= w->s->o.max_rows && may_send(w)) rc = send_rows(w, ctx);
  return rc;
}

/* Checkpoint id completed.  COMMIT PREPARED cannot run inside the
 * connection's open transaction (the next checkpoint's rows, already
 * sent): then the commits wait for that transaction's PREPARE (rule 7). */
static int sink_commit_ckpt(void *writer, sl_ctx *ctx, int64_t id) {
  pg_writer *w = writer;
  if (w->in_txn) {
    if (id > w->commit_due) w->commit_due = id;
    return 0;
  }
  return commit_through(w, ctx, id);
}

/* name is <prefix>-s<digits>-c<digits>: one of this sink's. */
static int is_ours(const pg_sink *s, const char *name, size_t n) {
  size_t pl = strlen(s->o.txn_prefix);
  if (n <= pl + 2 || memcmp(name, s->o.txn_prefix, pl) || memcmp(name + pl, "-s", 2)) return 0;
  size_t i = pl + 2, d = i;
  while (i < n && name[i] >= '0' && name[i] <= '9') i++;
  if (i == d || i + 2 > n || name[i] != '-' || name[i + 1] != 'c') return 0;
  d = i += 2;
  while (i < n && name[i] >= '0' && name[i] <= '9') i++;
  return i > d && i == n;
}

/* ROLLBACK PREPARED every prepared transaction of this sink (any subtask,
 * any run) in the database. */
static int abort_ours(pg_sink *s, sl_ctx *ctx, PGconn *c) {
  PGresult *r = query1(s, ctx, c, "listing prepared transactions",
                       "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() "
                       "AND starts_with(gid, $1)", s->o.txn_prefix);
  int rc = r ? 0 : -SL_EIO;
  for (int i = 0; !rc && i < PQntuples(r); i++) {
    const char *gid = PQgetvalue(r, i, 0);
    if (!is_ours(s, gid, strlen(gid))) continue;
    char sql[300];
    sl__fmt(sql, sizeof sql, "ROLLBACK PREPARED '%s'", gid);
    rc = exec(s, ctx, c, "ROLLBACK PREPARED", sql, "42704");
  }
  PQclear(r);
  return rc;
}

static int sink_recover(void *ud, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                        int n, const char *const *names) {
  pg_sink *s = ud;
  if (s->o.err) return sl_ctx_error(ctx, -SL_ECONFIG, "%s", s->o.err);
  /* check every blob before acting */
  for (int b = 0; b < n; b++) {
    const uint8_t *p = blobs[b];
    size_t len = lens[b];
    if (!len) continue;
    uint32_t cnt;
    int bad = len < 8 || memcmp(p, PGS_MAGIC, 4);
    if (!bad) memcpy(&cnt, p + 4, 4);
    size_t at = 8;
    for (uint32_t i = 0; !bad && i < cnt; i++) {
      uint16_t l;
      if (at + 2 > len) {
        bad = 1;
        break;
      }
      memcpy(&l, p + at, 2);
      if (at + 2 + l > len || l > 200 || !is_ours(s, (const char *)p + at + 2, l)) bad = 1;
      at += 2 + (size_t)l;
    }
    if (bad || at != len)
      return sl_ctx_error(ctx, -SL_ESTATE, "PostgreSQL table '%s': the sink's state in '%s' is "
                          "not this sink's (transaction-id prefix '%s') or is damaged",
                          s->o.table, names && names[b] ? names[b] : "?", s->o.txn_prefix);
  }
  char err[800];
  PGconn *c = sl__pg_connect(&s->o, (int)s->o.retries, err, sizeof err);
  if (!c) return sl_ctx_error(ctx, -SL_ECONN, "PostgreSQL table '%s': %s", s->o.table, err);
  int rc = 0;
  for (int b = 0; !rc && b < n; b++) {
    if (!lens[b]) continue;
    uint32_t cnt;
    memcpy(&cnt, blobs[b] + 4, 4);
    size_t at = 8;
    for (uint32_t i = 0; !rc && i < cnt; i++) {
      uint16_t l;
      memcpy(&l, blobs[b] + at, 2);
      char gid[256];
      memcpy(gid, blobs[b] + at + 2, l);
      gid[l] = 0;
      at += 2 + (size_t)l;
      rc = commit_gid(s, ctx, c, gid, "pg-recover"); /* (may be committed already) */
    }
  }
  /* every other prepared transaction of this sink: written after the checkpoint */
  if (!rc) rc = abort_ours(s, ctx, c);
  PQfinish(c);
  return rc;
}

static const sl_sink_ops pg_sink_ops = {
    .version = SL_CONNECTOR_VERSION,
    .kind = "postgresql",
    .open = sink_open,
    .write = sink_write,
    .flush = sink_flush,
    .idle = sink_idle,
    .close = sink_close,
    .free = sink_free,
    .precommit = sink_precommit,
    .commit_ckpt = sink_commit_ckpt,
    .recover = sink_recover,
};

static sl_sink *make(pg_sink *s, int rc) {
  if (rc) {
    sink_free(s);
    return NULL;
  }
  return sl_sink_new(&pg_sink_ops, s, 0);
}

sl_sink *sl_postgres_sink(const char *conninfo, const sl_option *options, size_t n) {
  pg_sink *s = sl__calloc(1, sizeof *s);
  return s ? make(s, sl__pg_opts_init(&s->o, conninfo, options, n)) : NULL;
}

sl_sink *sl_postgres_sink_uri(const char *uri) {
  pg_sink *s = sl__calloc(1, sizeof *s);
  return s ? make(s, sl__pg_opts_uri(&s->o, uri)) : NULL;
}

/*
 * pg_cdc.c -- change data capture for sl_postgres_source (scan.mode=cdc):
 * logical replication with the built-in pgoutput plugin (protocol 1) over
 * a libpq replication connection.  pg_source.c reads the snapshot splits
 * as in a snapshot read and calls this file for the rest (pg.h).
 *
 * Plan (the planner's thread):
 *   1. checks, each failing with what to do: wal_level = logical, the
 *      user may replicate (REPLICATION or superuser), the table can
 *      publish updates and deletes (a primary key under REPLICA IDENTITY
 *      DEFAULT, or FULL / USING INDEX);
 *   2. the publication (named as the slot) FOR TABLE t, created when
 *      missing, the table added when it lacks it;
 *   3. the slot (pgoutput): in use -> an error; present and the job does
 *      not restore (also `--restore latest` finding no checkpoint) ->
 *      dropped and made anew; made on a replication
 *      connection with CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT, whose
 *      snapshot the snapshot splits are read in (that connection stays
 *      open, idle, until every reader imported it).  The stream then holds
 *      exactly the transactions committed after the snapshot.
 *
 * The stream (subtask 0's reader, once every snapshot split is read):
 *
 *   WAIT_SNAPSHOT --all splits read--> CONNECT --START_REPLICATION--> STREAMING
 *
 *   STREAMING: PQgetCopyData without blocking; poll returns SL_POLL_IDLE
 *   when nothing is buffered (wait_fd: the socket).  CopyData messages:
 *     'w' XLogData: i64 start, i64 end, i64 time, then a pgoutput message:
 *        B(egin) i64 final_lsn, i64 time, i32 xid;  C(ommit) u8 flags,
 *        i64 commit_lsn, i64 end_lsn, i64 time;  R(elation) i32 oid, str
 *        nspname, str relname, u8 identity, i16 n, n * {u8 flags (1 key),
 *        str name, i32 type, i32 typmod};  I(nsert) i32 oid, 'N' tuple;
 *        U(pdate) i32 oid, ['K'|'O' tuple], 'N' tuple;  D(elete) i32 oid,
 *        'K'|'O' tuple;  T(runcate) i32 n, u8 opts, n * i32 oid;  Y(type),
 *        O(rigin), M(essage): ignored.  A tuple: i16 n, n * {'n' null |
 *        'u' unchanged TOAST | 't' i32 len, bytes}.
 *     'k' keepalive: i64 wal_end, i64 time, u8 reply_requested.
 *   Every length and count is checked against the message (untrusted
 *   bytes; a bad one fails the job naming the LSN).
 *   Standby status updates ('r': written, flushed, applied, time, 0):
 *   flushed = what the last completed checkpoint covers (`confirmed`);
 *   sent when the server asks, every 10 s and after a checkpoint completes.
 *
 * Invariants:
 *   1. pgoutput (protocol 1) sends committed transactions only, whole, in
 *      commit order; a change's transaction is named by its commit LSN
 *      (Begin's final_lsn).
 *   2. `upto`: every transaction whose commit LSN <= upto was emitted
 *      whole.  It is the last Commit's LSN, or (between transactions) the
 *      keepalive's wal_end - 1: the server has sent everything decoded up
 *      to wal_end, and a commit record starting at wal_end is not yet sent.
 *   3. The position is (upto, txn, done): in the transaction with commit
 *      LSN txn (0: none open) the first `done` changes were emitted.  A
 *      restore skips transactions <= upto and the first `done` changes of
 *      txn; the server replays from the slot's confirmed position (<= upto),
 *      so nothing is lost and nothing emitted twice.
 *   4. confirmed (sent as flushed) only takes an `upto` of a position whose
 *      checkpoint completed, so the server keeps the WAL a restore needs.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/pg.h"

struct sl__pg_cdc {
  char slot[64];
  uint32_t table_oid;
  char *table; /* for messages */
  int made_slot;      /* this plan made the slot (so its consistent point is new) */
  uint64_t made_at;   /* ... at this LSN */
};

/* A parsed tuple: per column 'n', 'u' or 't' and the value's bytes
 * (pointing into the message). */
#define MAX_COLS 1600 /* PostgreSQL's limit */
typedef struct tup {
  int n;
  char kind[MAX_COLS];
  const uint8_t *v[MAX_COLS];
  uint32_t len[MAX_COLS];
} tup;

/* a pending position: checkpoint id -> upto */
typedef struct pos_ent {
  int64_t id;
  uint64_t upto;
} pos_ent;

enum { ST_WAIT, ST_STREAM };

struct sl__pg_stream {
  sl__pg_cdc *cdc;
  const sl__pg_opts *o;
  const sl__pg_deser *deser;
  PGconn *c;
  int state;
  int64_t connect_deadline_ms; /* retrying a slot still held by a dead run */
  int64_t next_status_ms;
  /* positions (invariant 3) */
  uint64_t upto, txn, done;
  uint64_t skip_txn, skip_n; /* restored: skip the first skip_n changes of skip_txn */
  int in_txn, skipping_txn;
  int64_t commit_ms;
  uint64_t received, confirmed;
  int restored;
  int began; /* restored from a position taken while streaming */
  pos_ent pend[16];
  int n_pend;
  /* the table's relation (from 'R') */
  int n_cols;
  char **names;
  uint32_t *types;
  uint8_t *is_key;
  int *key_cols;
  int n_key;
  char relname[200];
  int have_rel;
  /* scratch, reused */
  sl_pg_column *cols;
  sl__pg_buf vals, line, key;
  size_t offs[MAX_COLS];
  tup t_old, t_new;
  uint64_t n_ins, n_upd, n_del;
};

/* ---- plan ------------------------------------------------------------------------- */

static PGresult *run(const sl__pg_opts *o, sl_ctx *ctx, PGconn *c, const char *what,
                     const char *sql, int n, const char *const *params, ExecStatusType want) {
  /* (a replication connection takes the simple protocol only) */
  PGresult *r = n ? PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
  if (r && PQresultStatus(r) == want) return r;
  char why[600];
  sl__pg_error(o, c, r, why, sizeof why);
  PQclear(r);
  sl_ctx_error(ctx, -SL_EIO, "PostgreSQL table '%s' (change data capture): %s failed: %s",
               o->table, what, why);
  return NULL;
}

static uint64_t parse_lsn(const char *s) {
  unsigned hi = 0, lo = 0;
  if (!s || sscanf(s, "%X/%X", &hi, &lo) != 2) return 0;
  return (uint64_t)hi << 32 | lo;
}

void sl__pg_cdc_free(sl__pg_cdc *cdc) {
  if (!cdc) return;
  sl__free(cdc->table);
  sl__free(cdc);
}

static int cdc_plan(sl__pg_cdc *cdc, const sl__pg_opts *o, sl_ctx *ctx, PGconn *c,
                    const char *oid, const char *qtable, int n_key, PGconn **exporter,
                    char *snapshot, size_t cap);

int sl__pg_cdc_new(sl__pg_cdc **out, const char *table, const char *slot, uint32_t oid) {
  sl__pg_cdc *cdc = sl__calloc(1, sizeof *cdc);
  if (!cdc || !(cdc->table = sl__strdup(table))) {
    sl__free(cdc);
    return -SL_ENOMEM;
  }
  sl__fmt(cdc->slot, sizeof cdc->slot, "%s", slot);
  cdc->table_oid = oid;
  *out = cdc;
  return 0;
}

int sl__pg_cdc_plan(sl__pg_cdc **out, const sl__pg_opts *o, sl_ctx *ctx, const char *oid,
                    const char *qtable, int n_key, PGconn **exporter, char *snapshot,
                    size_t cap) {
  *exporter = NULL;
  if (sl__pg_cdc_new(out, o->table, o->slot, (uint32_t)strtoul(oid, NULL, 10)))
    return sl_ctx_error(ctx, -SL_ENOMEM, "out of memory");
  sl__pg_cdc *cdc = *out;
  char err[800];
  PGconn *c = sl__pg_connect(o, (int)o->retries, err, sizeof err); /* outside any transaction */
  if (!c) return sl_ctx_error(ctx, -SL_EIO, "PostgreSQL table '%s': %s", o->table, err);
  int rc = cdc_plan(cdc, o, ctx, c, oid, qtable, n_key, exporter, snapshot, cap);
  PQfinish(c);
  return rc;
}

static int cdc_plan(sl__pg_cdc *cdc, const sl__pg_opts *o, sl_ctx *ctx, PGconn *c,
                    const char *oid, const char *qtable, int n_key, PGconn **exporter,
                    char *snapshot, size_t cap) {
  char where[300];
  sl__pg_where(c, where, sizeof where);
  /* 1. checks */
  PGresult *r = run(o, ctx, c, "SHOW wal_level", "SHOW wal_level", 0, NULL, PGRES_TUPLES_OK);
  if (!r) return -SL_EIO;
  if (strcmp(PQgetvalue(r, 0, 0), "logical")) {
    char lvl[32];
    sl__fmt(lvl, sizeof lvl, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return sl_ctx_error(ctx, -SL_ECONFIG,
                        "PostgreSQL (%s): wal_level is '%s', change data capture needs "
                        "'logical': run ALTER SYSTEM SET wal_level = logical; and restart the "
                        "server (table '%s')", where, lvl, o->table);
  }
  PQclear(r);
  if (!(r = run(o, ctx, c, "role lookup",
                "SELECT (rolreplication OR rolsuper)::text FROM pg_roles WHERE rolname = "
                "current_user", 0, NULL, PGRES_TUPLES_OK)))
    return -SL_EIO;
  int may = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "true");
  PQclear(r);
  if (!may)
    return sl_ctx_error(ctx, -SL_ECONFIG,
                        "PostgreSQL (%s): the user lacks the REPLICATION privilege that change "
                        "data capture needs: ALTER ROLE <user> REPLICATION; (or use a superuser)",
                        where);
  const char *op[1] = {oid};
  if (!(r = run(o, ctx, c, "catalog lookup", "SELECT relreplident::text FROM pg_class WHERE oid = $1::oid", 1, op,
                PGRES_TUPLES_OK)))
    return -SL_EIO;
  char ident = PQntuples(r) ? PQgetvalue(r, 0, 0)[0] : 'd';
  PQclear(r);
  if (ident == 'n' || (ident == 'd' && n_key == 0))
    return sl_ctx_error(ctx, -SL_ECONFIG,
                        "PostgreSQL table '%s' has %s: the server cannot publish its updates "
                        "and deletes for change data capture: add a primary key, or ALTER TABLE "
                        "%s REPLICA IDENTITY FULL;", o->table,
                        ident == 'n' ? "REPLICA IDENTITY NOTHING" : "no primary key", qtable);
  /* 2. the publication */
  char *qslot = PQescapeIdentifier(c, cdc->slot, strlen(cdc->slot));
  if (!qslot) return sl_ctx_error(ctx, -SL_ENOMEM, "out of memory");
  const char *sp[2] = {cdc->slot, oid};
  char sql[1200];
  int rc = 0;
  if (!(r = run(o, ctx, c, "publication lookup",
                "SELECT (SELECT count(*) FROM pg_publication WHERE pubname = $1)::text, "
                "(SELECT count(*) FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = "
                "pr.prpubid WHERE p.pubname = $1 AND pr.prrelid = $2::oid)::text, "
                "(SELECT count(*) FROM pg_publication WHERE pubname = $1 AND puballtables)::text",
                2, sp, PGRES_TUPLES_OK))) {
    rc = -SL_EIO;
    goto done;
  }
  int has_pub = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
  int has_rel = strcmp(PQgetvalue(r, 0, 1), "0") != 0 || strcmp(PQgetvalue(r, 0, 2), "0") != 0;
  PQclear(r);
  if (!has_pub)
    sl__fmt(sql, sizeof sql, "CREATE PUBLICATION %s FOR TABLE %s", qslot, qtable);
  else if (!has_rel)
    sl__fmt(sql, sizeof sql, "ALTER PUBLICATION %s ADD TABLE %s", qslot, qtable);
  if ((!has_pub || !has_rel) &&
      !(r = run(o, ctx, c, has_pub ? "ALTER PUBLICATION" : "CREATE PUBLICATION", sql, 0, NULL,
                PGRES_COMMAND_OK))) {
    rc = -SL_EIO;
    goto done;
  }
  if (!has_pub || !has_rel) PQclear(r);
  /* 3. the slot */
  int restoring = sl_ctx_restoring(ctx);
  for (int attempt = 0;; attempt++) {
    if (!(r = run(o, ctx, c, "slot lookup",
                  "SELECT active::text, plugin, (database = current_database())::text, "
                  "coalesce(active_pid::text, '') FROM pg_replication_slots WHERE slot_name = $1",
                  1, sp, PGRES_TUPLES_OK))) {
      rc = -SL_EIO;
      goto done;
    }
    if (!PQntuples(r)) {
      PQclear(r);
      break;
    }
    int active = !strcmp(PQgetvalue(r, 0, 0), "true");
    int ours = !strcmp(PQgetvalue(r, 0, 1), "pgoutput") && !strcmp(PQgetvalue(r, 0, 2), "true");
    char pid[32];
    sl__fmt(pid, sizeof pid, "%s", PQgetvalue(r, 0, 3));
    PQclear(r);
    if (active && attempt < 50) { /* a killed run's walsender may take a moment to go */
      struct timespec ts = {0, 100 * 1000000};
      nanosleep(&ts, NULL);
      continue;
    }
    if (active) {
      rc = sl_ctx_error(ctx, -SL_ECONFIG,
                        "PostgreSQL (%s): replication slot '%s' is in use (by server process %s): "
                        "another job reads it; stop that job or give this one another slot.name",
                        where, cdc->slot, pid);
      goto done;
    }
    if (!ours) {
      rc = sl_ctx_error(ctx, -SL_ECONFIG,
                        "PostgreSQL (%s): replication slot '%s' exists but is not a pgoutput slot "
                        "of this database: choose another slot.name", where, cdc->slot);
      goto done;
    }
    if (restoring) goto done; /* the checkpoint's stream goes on from it */
    sl_ctx_log(ctx, SL_LOG_INFO,
               "PostgreSQL table '%s': replication slot '%s' exists but the job does not "
               "restore: dropped and made anew (a new snapshot)", o->table, cdc->slot);
    if (!(r = run(o, ctx, c, "pg_drop_replication_slot", "SELECT pg_drop_replication_slot($1)",
                  1, sp, PGRES_TUPLES_OK))) {
      rc = -SL_EIO;
      goto done;
    }
    PQclear(r);
    break;
  }
  if (restoring)
    sl_ctx_log(ctx, SL_LOG_INFO,
               "PostgreSQL table '%s': replication slot '%s' does not exist: made (a checkpoint "
               "that read past the snapshot cannot be restored with it)", o->table, cdc->slot);
  char err[800];
  PGconn *rep = sl__pg_connect_repl(o, (int)o->retries, err, sizeof err);
  if (!rep) {
    rc = sl_ctx_error(ctx, -SL_EIO, "PostgreSQL table '%s' (replication connection): %s",
                      o->table, err);
    goto done;
  }
  sl__fmt(sql, sizeof sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput EXPORT_SNAPSHOT", qslot);
  if (!(r = run(o, ctx, rep, "CREATE_REPLICATION_SLOT", sql, 0, NULL, PGRES_TUPLES_OK))) {
    PQfinish(rep);
    rc = -SL_EIO;
    goto done;
  }
  if (PQnfields(r) < 3 || PQntuples(r) != 1) {
    PQclear(r);
    PQfinish(rep);
    rc = sl_ctx_error(ctx, -SL_EIO, "PostgreSQL table '%s': CREATE_REPLICATION_SLOT answered "
                      "with no snapshot", o->table);
    goto done;
  }
  cdc->made_slot = 1;
  cdc->made_at = parse_lsn(PQgetvalue(r, 0, 1));
  sl__fmt(snapshot, cap, "%s", PQgetvalue(r, 0, 2));
  PQclear(r);
  *exporter = rep;
done:
  PQfreemem(qslot);
  return rc;
}

/* ---- the stream ------------------------------------------------------------------ */

int sl__pg_stream_new(sl__pg_stream **out, sl__pg_cdc *cdc, const sl__pg_opts *o,
                      const sl__pg_deser *deser) {
  sl__pg_stream *st = sl__calloc(1, sizeof *st);
  if (!st) return -SL_ENOMEM;
  st->cdc = cdc, st->o = o, st->deser = deser;
  st->state = ST_WAIT;
  *out = st;
  return 0;
}

static void free_rel(sl__pg_stream *st) {
  for (int i = 0; st->names && i < st->n_cols; i++) sl__free(st->names[i]);
  sl__free(st->names), sl__free(st->types), sl__free(st->is_key), sl__free(st->key_cols);
  sl__free(st->cols);
  st->names = NULL, st->types = NULL, st->is_key = NULL, st->key_cols = NULL, st->cols = NULL;
  st->n_cols = st->n_key = st->have_rel = 0;
}

static int stream_fail(sl__pg_stream *st, sl_ctx *ctx, const char *what) {
  char why[600];
  sl__pg_error(st->o, st->c, NULL, why, sizeof why);
  return sl_ctx_error(ctx, -SL_EIO, "PostgreSQL table '%s' (replication slot '%s'): %s: %s",
                      st->o->table, st->cdc->slot, what, why);
}

/* microseconds since 2000-01-01 (PostgreSQL's epoch) */
static int64_t pg_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ((int64_t)ts.tv_sec - 946684800) * 1000000 + ts.tv_nsec / 1000;
}

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

static int send_status(sl__pg_stream *st, sl_ctx *ctx) {
  if (!st->c) return 0; /* (sl__pg_stream_feed from a test) */
  uint8_t m[34];
  m[0] = 'r';
  put64(m + 1, st->received > st->confirmed ? st->received : st->confirmed);
  put64(m + 9, st->confirmed);
  put64(m + 17, st->confirmed);
  put64(m + 25, (uint64_t)pg_now_us());
  m[33] = 0;
  if (PQputCopyData(st->c, (const char *)m, sizeof m) < 0 || PQflush(st->c) < 0)
    return stream_fail(st, ctx, "cannot send the standby status update");
  st->next_status_ms = sl__conn_ms(ctx) + 10000;
  return 0;
}

static int start(sl__pg_stream *st, sl_ctx *ctx) {
  if (st->restored && st->upto > 0 && st->cdc->made_slot && st->cdc->made_at > st->upto + 1)
    return sl_ctx_error(ctx, -SL_ESTATE,
                        "PostgreSQL table '%s': the checkpoint resumes the stream at LSN %X/%X "
                        "but replication slot '%s' was missing and is new (from %X/%X): the "
                        "changes in between are gone; start the job without a restore",
                        st->o->table, (unsigned)(st->upto >> 32), (unsigned)st->upto,
                        st->cdc->slot, (unsigned)(st->cdc->made_at >> 32),
                        (unsigned)st->cdc->made_at);
  char err[800];
  if (!st->c && !(st->c = sl__pg_connect_repl(st->o, (int)st->o->retries, err, sizeof err)))
    return sl_ctx_error(ctx, -SL_EIO, "PostgreSQL table '%s' (replication connection): %s",
                        st->o->table, err);
  char *qslot = PQescapeIdentifier(st->c, st->cdc->slot, strlen(st->cdc->slot));
  char sql[400];
  if (!qslot) return sl_ctx_error(ctx, -SL_ENOMEM, "out of memory");
  /* the publication's name is the slot's, as a quoted literal */
  sl__fmt(sql, sizeof sql,
          "START_REPLICATION SLOT %s LOGICAL %X/%X (proto_version '1', publication_names "
          "'\"%s\"')", qslot, (unsigned)(st->upto >> 32), (unsigned)st->upto, st->cdc->slot);
  PQfreemem(qslot);
  PGresult *r = PQexec(st->c, sql);
  if (PQresultStatus(r) == PGRES_COPY_BOTH) {
    PQclear(r);
    if (PQsetnonblocking(st->c, 1)) return stream_fail(st, ctx, "non-blocking mode");
    st->state = ST_STREAM;
    st->confirmed = st->upto;
    return send_status(st, ctx);
  }
  char why[600];
  sl__pg_error(st->o, st->c, r, why, sizeof why);
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  int busy = state && !strcmp(state, "55006"); /* object in use: a dead run's walsender */
  PQclear(r);
  PQfinish(st->c);
  st->c = NULL;
  int64_t now = sl__conn_ms(ctx);
  if (!st->connect_deadline_ms) st->connect_deadline_ms = now + 10000;
  if (busy && now < st->connect_deadline_ms) return SL_POLL_IDLE; /* again soon */
  return sl_ctx_error(ctx, -SL_EIO,
                      "PostgreSQL table '%s': START_REPLICATION on slot '%s' failed: %s%s",
                      st->o->table, st->cdc->slot, why,
                      busy ? " (another job reads the slot: stop it or choose another "
                             "slot.name)" : "");
}

/* bounded reads of an untrusted message */
typedef struct rd {
  const uint8_t *p;
  size_t n;
  int bad;
} rd;
static uint64_t rd_n(rd *r, int bytes) {
  if (r->bad || r->n < (size_t)bytes) {
    r->bad = 1;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = v << 8 | r->p[i];
  r->p += bytes, r->n -= (size_t)bytes;
  return v;
}
static const char *rd_str(rd *r) {
  const uint8_t *z = r->bad ? NULL : memchr(r->p, 0, r->n);
  if (!z) {
    r->bad = 1;
    return "";
  }
  const char *s = (const char *)r->p;
  r->n -= (size_t)(z - r->p) + 1;
  r->p = z + 1;
  return s;
}

static int rd_tuple(rd *r, tup *t) {
  int n = (int)rd_n(r, 2);
  if (r->bad || n > MAX_COLS) return r->bad = 1, -1;
  t->n = n;
  for (int i = 0; i < n && !r->bad; i++) {
    t->kind[i] = (char)rd_n(r, 1);
    t->v[i] = NULL, t->len[i] = 0;
    if (t->kind[i] == 't') {
      uint64_t l = rd_n(r, 4);
      if (r->bad || l > r->n) return r->bad = 1, -1;
      t->v[i] = r->p, t->len[i] = (uint32_t)l;
      r->p += l, r->n -= l;
    } else if (t->kind[i] != 'n' && t->kind[i] != 'u') {
      r->bad = 1;
    }
  }
  return r->bad ? -1 : 0;
}

static int on_relation(sl__pg_stream *st, rd *r, uint32_t relid) {
  const char *nsp = rd_str(r), *rel = rd_str(r);
  (void)rd_n(r, 1); /* replica identity */
  int n = (int)rd_n(r, 2);
  if (r->bad || n > MAX_COLS) return r->bad = 1, 0;
  if (relid != st->cdc->table_oid) { /* another table of a shared publication */
    for (int i = 0; i < n && !r->bad; i++) rd_n(r, 1), rd_str(r), rd_n(r, 4), rd_n(r, 4);
    return 0;
  }
  free_rel(st);
  sl__fmt(st->relname, sizeof st->relname, "%s.%s", nsp, rel);
  st->names = sl__calloc((size_t)n + 1, sizeof *st->names);
  st->types = sl__calloc((size_t)n + 1, sizeof *st->types);
  st->is_key = sl__calloc((size_t)n + 1, 1);
  st->key_cols = sl__calloc((size_t)n + 1, sizeof *st->key_cols);
  st->cols = sl__calloc((size_t)n + 1, sizeof *st->cols);
  if (!st->names || !st->types || !st->is_key || !st->key_cols || !st->cols) return -SL_ENOMEM;
  st->n_cols = n;
  for (int i = 0; i < n && !r->bad; i++) {
    st->is_key[i] = (uint8_t)(rd_n(r, 1) & 1);
    if (!(st->names[i] = sl__strdup(rd_str(r)))) return -SL_ENOMEM;
    st->types[i] = (uint32_t)rd_n(r, 4);
    (void)rd_n(r, 4);
    if (st->is_key[i]) st->key_cols[st->n_key++] = i;
  }
  st->have_rel = !r->bad;
  return 0;
}

/* Fill st->cols for one row from tuple t (NULL: none) with fallback f for
 * 'u' values (NULL: none); key_only: columns other than the key are
 * unknown (an old image under REPLICA IDENTITY DEFAULT). */
static int fill(sl__pg_stream *st, const tup *t, const tup *f, int key_only) {
  st->vals.len = 0;
  size_t *offs = st->offs; /* offsets first: vals may move while it grows */
  for (int i = 0; i < st->n_cols; i++) {
    sl_pg_column *c = &st->cols[i];
    c->name = st->names[i], c->type = st->types[i];
    c->is_null = 0, c->unknown = 0, c->len = 0;
    const tup *src = t;
    if (src && i < src->n && src->kind[i] == 'u' && f && i < f->n && f->kind[i] != 'u') src = f;
    char k = src && i < src->n ? src->kind[i] : 'u';
    if (key_only && !st->is_key[i]) k = 'u';
    if (k == 'n') c->is_null = 1;
    if (k == 'u') c->unknown = 1;
    offs[i] = st->vals.len;
    if (k == 't') {
      c->len = src->len[i];
      if (sl__pg_buf_put(&st->vals, src->v[i], src->len[i])) return -SL_ENOMEM;
    }
    if (sl__pg_buf_c(&st->vals, 0)) return -SL_ENOMEM;
  }
  for (int i = 0; i < st->n_cols; i++) st->cols[i].text = st->vals.p + offs[i];
  return 0;
}

static int emit(sl__pg_stream *st, sl_ctx *ctx, sl_pg_kind kind) {
  sl_pg_row row = {.kind = kind, .table = st->relname, .n_cols = st->n_cols, .cols = st->cols,
                   .lsn = st->txn, .commit_ms = st->commit_ms};
  return sl__pg_emit_row(ctx, st->deser, &row, st->key_cols, st->n_key, &st->line, &st->key);
}

static int bad_msg(sl__pg_stream *st, sl_ctx *ctx, uint64_t lsn, const char *what) {
  return sl_ctx_error(ctx, -SL_EIO,
                      "PostgreSQL table '%s' (replication slot '%s'): a malformed pgoutput "
                      "message at LSN %X/%X: %s", st->o->table, st->cdc->slot,
                      (unsigned)(lsn >> 32), (unsigned)lsn, what);
}

/* One pgoutput message; returns the records emitted (0..2) or < 0. */
static int on_message(sl__pg_stream *st, sl_ctx *ctx, rd *r, uint64_t lsn) {
  tup *t_old = &st->t_old, *t_new = &st->t_new;
  char tag = (char)rd_n(r, 1);
  switch (tag) {
    case 'B': {
      uint64_t fin = rd_n(r, 8);
      int64_t ts = (int64_t)rd_n(r, 8);
      (void)rd_n(r, 4);
      if (r->bad) return bad_msg(st, ctx, lsn, "Begin");
      st->in_txn = 1, st->txn = fin, st->done = 0;
      st->commit_ms = ts / 1000 + 946684800000LL;
      st->skipping_txn = fin <= st->upto;
      return 0;
    }
    case 'C': {
      (void)rd_n(r, 1);
      uint64_t commit = rd_n(r, 8);
      (void)rd_n(r, 8), (void)rd_n(r, 8);
      if (r->bad) return bad_msg(st, ctx, lsn, "Commit");
      if (commit > st->upto) st->upto = commit;
      st->in_txn = 0, st->txn = 0, st->done = 0, st->skipping_txn = 0;
      return 0;
    }
    case 'R': {
      uint32_t relid = (uint32_t)rd_n(r, 4);
      int rc = on_relation(st, r, relid);
      if (rc) return sl_ctx_error(ctx, rc, "out of memory");
      return r->bad ? bad_msg(st, ctx, lsn, "Relation") : 0;
    }
    case 'I':
    case 'U':
    case 'D': {
      uint32_t relid = (uint32_t)rd_n(r, 4);
      if (r->bad) return bad_msg(st, ctx, lsn, "row change");
      if (relid != st->cdc->table_oid) return 0;
      if (!st->have_rel) return bad_msg(st, ctx, lsn, "a row change before its Relation");
      if (!st->in_txn) return bad_msg(st, ctx, lsn, "a row change outside a transaction");
      char k = (char)rd_n(r, 1);
      int has_old = 0, key_only = 0;
      if (tag != 'I' && (k == 'K' || k == 'O')) {
        has_old = 1, key_only = k == 'K';
        if (rd_tuple(r, t_old)) return bad_msg(st, ctx, lsn, "old tuple");
        if (tag == 'U') k = (char)rd_n(r, 1);
      }
      if (tag != 'D') {
        if (k != 'N' || rd_tuple(r, t_new)) return bad_msg(st, ctx, lsn, "new tuple");
      } else if (!has_old) {
        return bad_msg(st, ctx, lsn, "Delete without an old tuple");
      }
      /* invariant 3: skip what a restored position covers */
      int skip = st->skipping_txn || (st->txn == st->skip_txn && st->done < st->skip_n);
      st->done++;
      if (skip) return 0;
      int rc = 0, n = 0;
      if (tag == 'I') {
        st->n_ins++;
        if (!(rc = fill(st, t_new, NULL, 0))) rc = emit(st, ctx, SL_PG_INSERT), n = 1;
      } else if (tag == 'U') {
        st->n_upd++;
        /* -U: the old image, else the key from the new row */
        if (has_old) rc = fill(st, t_old, NULL, key_only);
        else rc = fill(st, t_new, NULL, 1);
        if (!rc) rc = emit(st, ctx, SL_PG_UPDATE_BEFORE);
        if (!rc) rc = fill(st, t_new, has_old && !key_only ? t_old : NULL, 0);
        if (!rc) rc = emit(st, ctx, SL_PG_UPDATE_AFTER), n = 2;
      } else {
        st->n_del++;
        if (!(rc = fill(st, t_old, NULL, key_only))) rc = emit(st, ctx, SL_PG_DELETE), n = 1;
      }
      if (rc == -SL_ENOMEM) return sl_ctx_error(ctx, rc, "out of memory");
      return rc < 0 ? rc : n;
    }
    case 'T': {
      uint32_t n = (uint32_t)rd_n(r, 4);
      (void)rd_n(r, 1);
      for (uint32_t i = 0; i < n && !r->bad; i++)
        if ((uint32_t)rd_n(r, 4) == st->cdc->table_oid && !r->bad && !st->skipping_txn)
          return sl_ctx_error(ctx, -SL_EIO,
                              "PostgreSQL table '%s' was truncated (TRUNCATE at LSN %X/%X): "
                              "change data capture has no row changes for it; start the job "
                              "anew without a restore (a new snapshot)", st->o->table,
                              (unsigned)(st->txn >> 32), (unsigned)st->txn);
      return r->bad ? bad_msg(st, ctx, lsn, "Truncate") : 0;
    }
    case 'Y':
    case 'O':
    case 'M':
      return 0;
    default: {
      char what[64];
      sl__fmt(what, sizeof what, "unknown message type 0x%02x", (unsigned)(uint8_t)tag);
      return bad_msg(st, ctx, lsn, what);
    }
  }
}

int sl__pg_stream_feed(sl__pg_stream *st, sl_ctx *ctx, const uint8_t *buf, size_t n) {
  rd r = {buf, n, 0};
  char kind = (char)rd_n(&r, 1);
  int rc = 0;
  if (kind == 'w') {
    uint64_t at = rd_n(&r, 8), end = rd_n(&r, 8);
    (void)rd_n(&r, 8);
    if (r.bad) return bad_msg(st, ctx, st->received, "XLogData header");
    if (end > st->received) st->received = end;
    rc = on_message(st, ctx, &r, at);
  } else if (kind == 'k') {
    uint64_t end = rd_n(&r, 8);
    (void)rd_n(&r, 8);
    int reply = (int)rd_n(&r, 1);
    if (r.bad) return bad_msg(st, ctx, st->received, "keepalive");
    if (end > st->received) st->received = end;
    /* invariant 2: between transactions, everything before wal_end was sent */
    if (!st->in_txn && end > 0 && end - 1 > st->upto) st->upto = end - 1;
    if (reply) rc = send_status(st, ctx);
  } else {
    rc = bad_msg(st, ctx, st->received, "unknown CopyData message");
  }
  return rc;
}

int sl__pg_stream_poll(sl__pg_stream *st, sl_ctx *ctx, int budget, int snapshot_done) {
  if (st->state == ST_WAIT) {
    if (!snapshot_done) return SL_POLL_IDLE; /* the snapshot goes first */
    int rc = start(st, ctx);
    if (rc) return rc;
    if (st->state != ST_STREAM) return SL_POLL_IDLE;
  }
  int emitted = 0;
  while (emitted < budget) {
    char *buf = NULL;
    int n = PQgetCopyData(st->c, &buf, 1);
    if (n == 0) {
      if (!PQconsumeInput(st->c)) return stream_fail(st, ctx, "the stream broke");
      n = PQgetCopyData(st->c, &buf, 1);
      if (n == 0) break; /* nothing buffered: the socket wakes us */
    }
    if (n == -1) return stream_fail(st, ctx, "the server ended the stream");
    if (n < 0) return stream_fail(st, ctx, "reading the stream failed");
    int rc = sl__pg_stream_feed(st, ctx, (const uint8_t *)buf, (size_t)n);
    PQfreemem(buf);
    if (rc < 0) return rc;
    emitted += rc;
  }
  if (sl__conn_ms(ctx) >= st->next_status_ms) {
    int rc = send_status(st, ctx);
    if (rc) return rc;
  } else if (PQflush(st->c) < 0) {
    return stream_fail(st, ctx, "cannot send to the server");
  }
  return emitted ? SL_POLL_MORE : SL_POLL_IDLE;
}

int sl__pg_stream_wait_fd(const sl__pg_stream *st) {
  return st->state == ST_STREAM && st->c ? PQsocket(st->c) : -1;
}

/* Position: "SLCD", u32 streaming (1: the snapshot was read completely and
 * the stream began), u64 upto, u64 txn, u64 done (host order). */
void sl__pg_stream_position(sl__pg_stream *st, sl_ctx *ctx, uint8_t *buf) {
  memcpy(buf, "SLCD", 4);
  uint32_t streaming = st->state == ST_STREAM || st->began;
  memcpy(buf + 4, &streaming, 4);
  /* (a transaction replayed at or before upto is covered by upto) */
  int open = st->in_txn && !st->skipping_txn;
  uint64_t txn = open ? st->txn : 0, done = open ? st->done : 0;
  memcpy(buf + 8, &st->upto, 8);
  memcpy(buf + 16, &txn, 8);
  memcpy(buf + 24, &done, 8);
  int64_t id = sl_ctx_checkpoint_id(ctx);
  if (st->n_pend == (int)(sizeof st->pend / sizeof st->pend[0])) { /* forget the oldest */
    memmove(st->pend, st->pend + 1, sizeof st->pend - sizeof st->pend[0]);
    st->n_pend--;
  }
  st->pend[st->n_pend++] = (pos_ent){id, st->upto};
}

int sl__pg_stream_seek(sl__pg_stream *st, sl_ctx *ctx, const uint8_t *buf, int old) {
  if (memcmp(buf, "SLCD", 4))
    return sl_ctx_error(ctx, -SL_ESTATE,
                        "PostgreSQL table '%s': the stream position of old subtask %d is damaged "
                        "(no SLCD mark)", st->o->table, old);
  uint64_t upto, txn, done;
  uint32_t streaming;
  memcpy(&streaming, buf + 4, 4);
  memcpy(&upto, buf + 8, 8);
  memcpy(&txn, buf + 16, 8);
  memcpy(&done, buf + 24, 8);
  if ((txn && txn <= upto) || (!txn && done) || streaming > 1 || (!streaming && (upto || txn)))
    return sl_ctx_error(ctx, -SL_ESTATE,
                        "PostgreSQL table '%s': the stream position of old subtask %d is damaged "
                        "(transaction %llx at or before %llx)", st->o->table, old,
                        (unsigned long long)txn, (unsigned long long)upto);
  if (upto >= st->upto) {
    st->upto = upto, st->skip_txn = txn, st->skip_n = done;
    st->restored = 1;
  }
  st->began |= streaming;
  return 0;
}

int sl__pg_stream_began(const uint8_t *buf) {
  uint32_t streaming;
  memcpy(&streaming, buf + 4, 4);
  return !memcmp(buf, "SLCD", 4) && streaming == 1;
}

int sl__pg_stream_started(const sl__pg_stream *st) { return st->state == ST_STREAM || st->began; }

int sl__pg_stream_complete(sl__pg_stream *st, sl_ctx *ctx, int64_t id) {
  int k = 0;
  uint64_t upto = 0;
  for (; k < st->n_pend && st->pend[k].id <= id; k++) upto = st->pend[k].id == id ? st->pend[k].upto : upto;
  memmove(st->pend, st->pend + k, sizeof st->pend[0] * (size_t)(st->n_pend - k));
  st->n_pend -= k;
  if (upto <= st->confirmed) return 0;
  st->confirmed = upto; /* invariant 4 */
  return st->state == ST_STREAM ? send_status(st, ctx) : 0;
}

void sl__pg_stream_close(sl__pg_stream *st, sl_ctx *ctx, int stopped) {
  if (st->c) PQfinish(st->c);
  st->c = NULL;
  sl_ctx_log(ctx, SL_LOG_INFO,
             "PostgreSQL table '%s': change data capture read %llu inserts, %llu updates, "
             "%llu deletes in this run%s", st->o->table, (unsigned long long)st->n_ins,
             (unsigned long long)st->n_upd, (unsigned long long)st->n_del,
             st->deser->fn ? "" : " (deletes and old images print nothing)");
  if (stopped && st->o->drop_on_stop) {
    char err[800];
    PGconn *c = sl__pg_connect(st->o, 0, err, sizeof err);
    PGresult *r = NULL;
    const char *p[1] = {st->cdc->slot};
    for (int i = 0; c && i < 50; i++) { /* the walsender goes away after our disconnect */
      PQclear(r);
      r = PQexecParams(c, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                       "WHERE slot_name = $1 AND NOT active", 1, NULL, p, NULL, NULL, 0);
      if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) break;
      struct timespec ts = {0, 100 * 1000000};
      nanosleep(&ts, NULL);
    }
    if (c && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
      sl_ctx_log(ctx, SL_LOG_INFO, "PostgreSQL: replication slot '%s' dropped (slot.drop-on-stop)",
                 st->cdc->slot);
    else
      sl_ctx_log(ctx, SL_LOG_WARN, "PostgreSQL: cannot drop replication slot '%s' "
                 "(slot.drop-on-stop): %s; drop it with SELECT pg_drop_replication_slot('%s')",
                 st->cdc->slot, c ? "still in use" : err, st->cdc->slot);
    PQclear(r);
    if (c) PQfinish(c);
  }
  free_rel(st);
  sl__pg_buf_free(&st->vals), sl__pg_buf_free(&st->line), sl__pg_buf_free(&st->key);
  sl__free(st);
}

/*
 * pg_conn.c -- the PostgreSQL connector's options and connections (pg.h):
 * Flink JDBC's option names taken out of an option list or the query of a
 * postgresql:// URI, everything else checked against libpq's own
 * connection parameters (PQconninfoParse / PQconndefaults), connecting
 * with back-off, and messages that never show the password.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/pg.h"

int sl__pg_buf_put(sl__pg_buf *b, const void *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = sl__realloc(b->p, cap);
    if (!p) return -SL_ENOMEM;
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
  return 0;
}

void sl__pg_buf_free(sl__pg_buf *b) {
  sl__free(b->p);
  memset(b, 0, sizeof *b);
}

void sl__pg_opts_free(sl__pg_opts *o) {
  sl__free(o->conninfo);
  for (int i = 0; i < o->n_kv; i++) sl__free(o->keys[i]), sl__free(o->values[i]);
  sl__free(o->keys);
  sl__free(o->values);
  sl__free(o->password);
  sl__free(o->table);
  sl__free(o->part_col);
  sl__free(o->create_cols);
  sl__free(o->txn_prefix);
  sl__free(o->slot);
  sl__free(o->err);
  memset(o, 0, sizeof *o);
}

static void set_err(sl__pg_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(sl__pg_opts *o, const char *fmt, ...) {
  if (o->err) return; /* the first one */
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  sl__vfmt(buf, sizeof buf, fmt, ap);
  va_end(ap);
  o->err = sl__strdup(buf);
}

static int is_connector_key(const char *k) {
  static const char *const keys[] = {
      "table-name", "scan.partition.column", "scan.partition.num", "scan.fetch-size",
      "scan.mode", "slot.name", "decoding.plugin.name", "slot.drop-on-stop",
      "sink.buffer-flush.max-rows", "sink.buffer-flush.interval", "sink.max-retries",
      "sink.create-table-columns", "sink.field-delimiter", "sink.transaction-id-prefix",
      "sink.changelog"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (!strcmp(k, keys[i])) return 1;
  return 0;
}

static int parse_count(sl__pg_opts *o, const char *k, const char *v, int64_t min, int64_t *out) {
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (!*v || *end || errno || x < min) {
    set_err(o, "option '%s': expected an integer >= %lld, got '%s'", k, (long long)min, v);
    return -1;
  }
  *out = x;
  return 0;
}

/* A connector option; 0, 1 when key is not one, -SL_ENOMEM. */
static int set_opt(sl__pg_opts *o, const char *k, const char *v) {
  if (!is_connector_key(k)) return 1;
  char **str = NULL;
  if (!strcmp(k, "table-name")) str = &o->table;
  else if (!strcmp(k, "scan.partition.column")) str = &o->part_col;
  else if (!strcmp(k, "sink.create-table-columns")) str = &o->create_cols;
  else if (!strcmp(k, "sink.transaction-id-prefix")) str = &o->txn_prefix;
  if (str) {
    if (!*v) {
      set_err(o, "option '%s' is empty", k);
      return 0;
    }
    sl__free(*str);
    return (*str = sl__strdup(v)) ? 0 : -SL_ENOMEM;
  }
  if (!strcmp(k, "scan.partition.num")) parse_count(o, k, v, 1, &o->part_num);
  else if (!strcmp(k, "scan.fetch-size")) parse_count(o, k, v, 1, &o->fetch);
  else if (!strcmp(k, "sink.buffer-flush.max-rows")) parse_count(o, k, v, 1, &o->max_rows);
  else if (!strcmp(k, "sink.max-retries")) parse_count(o, k, v, 0, &o->retries);
  else if (!strcmp(k, "sink.buffer-flush.interval")) {
    if (sl__parse_duration_ms(v, &o->interval_ms))
      set_err(o, "option '%s': expected a duration (1s, 500ms), got '%s'", k, v);
  } else if (!strcmp(k, "sink.field-delimiter")) {
    if (!strcmp(v, "\\t") || !strcmp(v, "\t")) o->delim = '\t';
    else if (strlen(v) == 1 && v[0] != '"' && v[0] != '\n') o->delim = v[0];
    else set_err(o, "option '%s': expected one character (or \\t), got '%s'", k, v);
  } else if (!strcmp(k, "scan.mode")) {
    if (!strcmp(v, "cdc") || !strcmp(v, "snapshot")) o->cdc = v[0] == 'c';
    else set_err(o, "option 'scan.mode': expected snapshot or cdc, got '%s'", v);
  } else if (!strcmp(k, "slot.name")) {
    size_t n = strlen(v);
    int ok = n >= 1 && n <= 63;
    for (size_t i = 0; ok && i < n; i++)
      ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_';
    if (!ok) {
      set_err(o, "option 'slot.name': a replication slot's name is 1 to 63 of a-z, 0-9 and _, "
                 "got '%s'", v);
      return 0;
    }
    sl__free(o->slot);
    return (o->slot = sl__strdup(v)) ? 0 : -SL_ENOMEM;
  } else if (!strcmp(k, "decoding.plugin.name")) {
    if (strcmp(v, "pgoutput"))
      set_err(o, "option 'decoding.plugin.name': only pgoutput (PostgreSQL's built-in logical "
                 "decoding plugin) is supported, got '%s'", v);
  } else if (!strcmp(k, "slot.drop-on-stop")) {
    if (!strcmp(v, "true") || !strcmp(v, "false")) o->drop_on_stop = v[0] == 't';
    else set_err(o, "option 'slot.drop-on-stop': expected true or false, got '%s'", v);
  } else if (!strcmp(k, "sink.changelog")) {
    if (!strcmp(v, "true") || !strcmp(v, "false")) o->changelog = v[0] == 't';
    else set_err(o, "option 'sink.changelog': expected true or false, got '%s'", v);
  }
  return 0;
}

static int is_libpq_key(const char *k) {
  PQconninfoOption *d = PQconndefaults();
  int found = 0;
  for (PQconninfoOption *p = d; p && p->keyword; p++)
    if (!strcmp(p->keyword, k)) found = 1;
  PQconninfoFree(d);
  return found;
}

/* Checks conninfo with libpq and remembers its password. */
static int check_conninfo(sl__pg_opts *o) {
  char *perr = NULL;
  PQconninfoOption *opts = PQconninfoParse(o->conninfo, &perr);
  if (!opts) {
    if (perr) {
      /* libpq may quote the string, password and all: scrub what we can */
      char msg[512];
      sl__fmt(msg, sizeof msg, "%s", perr);
      PQfreemem(perr);
      char *at = strstr(msg, "://");
      char *q = at ? strchr(at + 3, '@') : NULL;
      if (q) { /* user:password@ -> user@ */
        char *colon = memchr(at + 3, ':', (size_t)(q - at - 3));
        if (colon) memmove(colon, q, strlen(q) + 1);
      }
      sl__pg_scrub(o, msg);
      set_err(o, "bad PostgreSQL connection string: %s", msg);
      return 0;
    }
    return -SL_ENOMEM;
  }
  for (PQconninfoOption *p = opts; p->keyword; p++)
    if (!strcmp(p->keyword, "password") && p->val && *p->val && !o->password)
      o->password = sl__strdup(p->val);
  PQconninfoFree(opts);
  return 0;
}

static void defaults(sl__pg_opts *o) {
  o->fetch = 1000;
  o->max_rows = 5000;
  o->interval_ms = 1000;
  o->retries = 3;
  o->delim = ',';
}

static int finish(sl__pg_opts *o) {
  if (!o->table) set_err(o, "option 'table-name' is required (the table to read or write)");
  if (!o->txn_prefix && o->table) {
    size_t n = strlen(o->table) + 8;
    if (!(o->txn_prefix = sl__malloc(n))) return -SL_ENOMEM;
    sl__fmt(o->txn_prefix, n, "sluice-%s", o->table);
  }
  if (!o->slot && o->table) { /* sluice_<table>: lower-cased, others '_' (a-z 0-9 _) */
    char slot[64] = "sluice_";
    size_t n = 7;
    for (const char *p = o->table; *p && n < 63; p++, n++) {
      char ch = (char)tolower((unsigned char)*p);
      slot[n] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ? ch : '_';
    }
    slot[n] = 0;
    if (!(o->slot = sl__strdup(slot))) return -SL_ENOMEM;
  }
  if (o->txn_prefix && strlen(o->txn_prefix) > 150)
    set_err(o, "option 'sink.transaction-id-prefix' is longer than 150 bytes");
  if (o->txn_prefix && strchr(o->txn_prefix, '\''))
    set_err(o, "option 'sink.transaction-id-prefix' may not hold a quote");
  return 0;
}

int sl__pg_opts_init(sl__pg_opts *o, const char *conninfo, const sl_option *opt, size_t n) {
  memset(o, 0, sizeof *o);
  defaults(o);
  if (!(o->conninfo = sl__strdup(conninfo ? conninfo : ""))) return -SL_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *k = opt[i].key, *v = opt[i].value ? opt[i].value : "";
    if (!k) continue;
    int rc = set_opt(o, k, v);
    if (rc < 0) return rc;
    if (!rc) continue;
    if (!is_libpq_key(k)) {
      set_err(o, "unknown option '%s' (neither a PostgreSQL connector option nor a libpq "
                 "connection parameter)", k);
      continue;
    }
    char **ks = sl__realloc(o->keys, sizeof *ks * (size_t)(o->n_kv + 1));
    if (!ks) return -SL_ENOMEM;
    o->keys = ks;
    char **vs = sl__realloc(o->values, sizeof *vs * (size_t)(o->n_kv + 1));
    if (!vs) return -SL_ENOMEM;
    o->values = vs;
    ks[o->n_kv] = sl__strdup(k), vs[o->n_kv] = sl__strdup(v);
    if (!ks[o->n_kv] || !vs[o->n_kv]) {
      sl__free(ks[o->n_kv]), sl__free(vs[o->n_kv]);
      return -SL_ENOMEM;
    }
    o->n_kv++;
    if (!strcmp(k, "password") && *v) {
      sl__free(o->password);
      if (!(o->password = sl__strdup(v))) return -SL_ENOMEM;
    }
  }
  int rc = check_conninfo(o);
  return rc ? rc : finish(o);
}

static int hexval(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decode s[0..n) into a new string ('+' stays '+', as libpq does). */
static char *pct_decode(const char *s, size_t n) {
  char *d = sl__malloc(n + 1), *p = d;
  if (!d) return NULL;
  for (size_t i = 0; i < n; i++) {
    int h, l;
    if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
        (l = hexval(s[i + 2])) >= 0) {
      *p++ = (char)(h * 16 + l);
      i += 2;
    } else {
      *p++ = s[i];
    }
  }
  *p = 0;
  return d;
}

int sl__pg_opts_uri(sl__pg_opts *o, const char *uri) {
  memset(o, 0, sizeof *o);
  defaults(o);
  if (!uri) uri = "";
  const char *q = strchr(uri, '?');
  size_t base = q ? (size_t)(q - uri) : strlen(uri);
  sl__pg_buf b = {0};
  int rc = sl__pg_buf_put(&b, uri, base), first = 1;
  for (const char *p = q ? q + 1 : NULL; !rc && p && *p;) {
    const char *e = strchr(p, '&');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    size_t klen = eq ? (size_t)(eq - p) : len;
    char *k = pct_decode(p, klen);
    char *v = eq ? pct_decode(eq + 1, len - klen - 1) : sl__strdup("");
    if (!k || !v) rc = -SL_ENOMEM;
    else if (len) {
      rc = set_opt(o, k, v);
      if (rc == 1) { /* libpq's: stays in the URI (PQconninfoParse checks it) */
        rc = sl__pg_buf_c(&b, first ? '?' : '&');
        if (!rc) rc = sl__pg_buf_put(&b, p, len);
        first = 0;
        if (!strcmp(k, "password") && *v && !o->password && !(o->password = sl__strdup(v)))
          rc = -SL_ENOMEM;
      }
    }
    sl__free(k), sl__free(v);
    p = e ? e + 1 : NULL;
  }
  if (rc) {
    sl__pg_buf_free(&b);
    return rc;
  }
  o->conninfo = b.p ? b.p : sl__strdup("");
  if (!o->conninfo) return -SL_ENOMEM;
  /* the URI's user:password@ */
  const char *sep = strstr(o->conninfo, "://");
  if (sep && !o->password) {
    const char *auth = sep + 3, *end = auth + strcspn(auth, "/?");
    const char *at = memchr(auth, '@', (size_t)(end - auth));
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon && at > colon + 1 && !(o->password = pct_decode(colon + 1, (size_t)(at - colon - 1))))
      return -SL_ENOMEM;
  }
  rc = check_conninfo(o);
  return rc ? rc : finish(o);
}

void sl__pg_scrub(const sl__pg_opts *o, char *msg) {
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = 0;
  if (!o->password || !*o->password) return;
  size_t pl = strlen(o->password);
  for (char *p; (p = strstr(msg, o->password));) {
    size_t rest = strlen(p + pl);
    if (pl >= 4) {
      memcpy(p, "****", 4);
      memmove(p + 4, p + pl, rest + 1);
    } else {
      memset(p, '*', pl);
    }
  }
}

const char *sl__pg_where(PGconn *c, char *buf, size_t cap) {
  const char *h = c ? PQhost(c) : NULL, *p = c ? PQport(c) : NULL;
  const char *d = c ? PQdb(c) : NULL, *u = c ? PQuser(c) : NULL;
  sl__fmt(buf, cap, "host %s port %s database %s user %s", h && *h ? h : "(default)",
          p && *p ? p : "(default)", d && *d ? d : "(default)", u && *u ? u : "(default)");
  return buf;
}

const char *sl__pg_error(const sl__pg_opts *o, PGconn *c, PGresult *r, char *buf, size_t cap) {
  const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (primary) { /* the server's words, without the statement text it quotes */
    const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
    const char *col = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *where = PQresultErrorField(r, PG_DIAG_CONTEXT); /* COPY t, line N, column c */
    if (where && strncmp(where, "COPY ", 5)) where = NULL;
    sl__fmt(buf, cap, "%s%s%s%s%s%s%s (SQLSTATE %s)", primary, detail ? "; " : "",
            detail ? detail : "", col ? "; column " : "", col ? col : "", where ? "; " : "",
            where ? where : "", state ? state : "?");
  } else {
    const char *m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m) m = c ? PQerrorMessage(c) : "no connection";
    sl__fmt(buf, cap, "%s", m);
  }
  /* "ERROR:  ..." lines: keep them on one line */
  for (char *p = buf; *p; p++)
    if (*p == '\n' && p[1]) *p = ' ';
  sl__pg_scrub(o, buf);
  return buf;
}

static PGconn *pg_open(const sl__pg_opts *o, int retries, int repl, char *err, size_t cap) {
  const char *keys[40], *vals[40];
  int n = 0;
  keys[n] = "dbname", vals[n++] = o->conninfo;
  keys[n] = "application_name", vals[n++] = "sluice";
  for (int i = 0; i < o->n_kv && n < 37; i++) keys[n] = o->keys[i], vals[n++] = o->values[i];
  if (repl) keys[n] = "replication", vals[n++] = "database";
  keys[n] = vals[n] = NULL;
  int64_t backoff_ms = 100;
  for (int attempt = 0;; attempt++) {
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c && PQstatus(c) == CONNECTION_OK) return c;
    char where[300], why[400];
    sl__pg_where(c, where, sizeof where);
    sl__fmt(why, sizeof why, "%s", c ? PQerrorMessage(c) : "out of memory");
    for (char *p = why; *p; p++)
      if (*p == '\n' && p[1]) *p = ' ';
    sl__pg_scrub(o, why);
    PQfinish(c);
    if (attempt >= retries) {
      sl__fmt(err, cap, "cannot connect to PostgreSQL (%s): %s%s", where, why,
              attempt ? " (after retries)" : "");
      return NULL;
    }
    struct timespec ts = {backoff_ms / 1000, (backoff_ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
  }
}

PGconn *sl__pg_connect(const sl__pg_opts *o, int retries, char *err, size_t cap) {
  return pg_open(o, retries, 0, err, cap);
}

PGconn *sl__pg_connect_repl(const sl__pg_opts *o, int retries, char *err, size_t cap) {
  return pg_open(o, retries, 1, err, cap);
}

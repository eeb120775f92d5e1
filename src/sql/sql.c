/*
 * sql.c -- sl_sql_execute: the statements of a text, in order, against the
 * environment's SQL session (its catalog of tables and views).
 *
 *   CREATE TABLE   checks the columns' types and the connector's options
 *                  now (a typo fails here, pointing at it), and keeps the
 *                  table in the catalog
 *   CREATE VIEW    keeps the query's parse tree (and the text it points
 *                  into); it is planned where it is read
 *   SET            sl_env_set, the message pointing at the statement
 *   SHOW TABLES / EXPLAIN   text to the session's output (stdout)
 *   INSERT INTO / SELECT    planned now; all of them become one job, run at
 *                  the end of the text (a bare SELECT goes to a print sink)
 *
 * The catalog lives as long as the environment (api/env_ext.h); what the
 * statements plan lives in an arena freed when the call returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/env_ext.h"
#include "sluice_nexmark.h"
#include "core/core.h"
#include "sql/sql.h"

/* ---- session ------------------------------------------------------------------ */

static void table_free(sql_table *t) {
  if (!t) return;
  for (int i = 0; i < t->n_cols; i++) sl__free(t->names[i]);
  for (int i = 0; i < t->n_opts; i++) sl__free(t->keys[i]), sl__free(t->vals[i]);
  sl__free(t->names), sl__free(t->types), sl__free(t->keys), sl__free(t->vals);
  sl__free(t->watermark), sl__free(t->gen), sl__free(t->name), sl__free(t->view_text);
  sl__free(t->nx_field), sl__free(t->nx_cfg), sl__free(t->pk);
  if (t->view) cJSON_Delete(t->view);
  sl__free(t);
}

static void session_free(void *p) {
  sql_session *s = p;
  for (int i = 0; i < s->n_tables; i++) table_free(s->tables[i]);
  sl__free(s->tables);
  sl__free(s);
}

static sql_session *session(sl_env *env) {
  sql_session *s = sl__env_sql(env);
  if (!s && (s = sl__calloc(1, sizeof *s))) sl__env_set_sql(env, s, session_free);
  return s;
}

void sl_sql_set_output(sl_env *env, sl_sql_output_fn fn, void *ud) {
  sql_session *s = env ? session(env) : NULL;
  if (s) s->out = fn, s->out_ud = ud;
}

void sl_sql_set_sink(sl_env *env, sl_sql_sink_fn fn, void *ud) {
  sql_session *s = env ? session(env) : NULL;
  if (s) s->sink = fn, s->sink_ud = ud;
}

static void output(sql_session *s, const char *text) {
  if (s->out) {
    s->out(s->out_ud, text);
  } else {
    fputs(text, stdout);
    fflush(stdout);
  }
}

sql_table *sl__sql_find_table(sql_session *s, const char *name) {
  for (int i = 0; name && i < s->n_tables; i++)
    if (!strcmp(s->tables[i]->name, name)) return s->tables[i];
  return NULL;
}

const char *sl__sql_opt(const sql_table *t, const char *key) {
  for (int i = 0; i < t->n_opts; i++)
    if (!strcasecmp(t->keys[i], key)) return t->vals[i];
  return NULL;
}

/* ---- CREATE TABLE --------------------------------------------------------------- */

static int opt_loc(const sql_table *t, const int *locs, const char *key) {
  for (int i = 0; i < t->n_opts; i++)
    if (!strcasecmp(t->keys[i], key)) return locs[i];
  return -1;
}

static int parse_i64(const char *s, int64_t *v) {
  char *end;
  if (!s || !*s) return -1;
  long long x = strtoll(s, &end, 10);
  if (*end) return -1;
  *v = x;
  return 0;
}

/* The datagen options: number-of-rows, rows-per-second, seed and
 * fields.COL.{kind,start,end,step,min,max,length}. */
static int datagen_opts(sql_ctx *c, sql_table *t, const int *locs) {
  if (!(t->gen = sl__calloc((size_t)t->n_cols, sizeof *t->gen))) return sl__sql_oom(c);
  int64_t seed = 0, rows = -1;
  const char *v;
  if ((v = sl__sql_opt(t, "seed")) && parse_i64(v, &seed))
    return sl__sql_error(c, opt_loc(t, locs, "seed"), "seed must be an integer, got '%s'", v);
  if ((v = sl__sql_opt(t, "number-of-rows")) && (parse_i64(v, &rows) || rows < 0))
    return sl__sql_error(c, opt_loc(t, locs, "number-of-rows"), "number-of-rows must be >= 0, got '%s'", v);
  t->rows = rows < 0 ? UINT64_MAX : (uint64_t)rows;
  for (int i = 0; i < t->n_cols; i++) {
    sql_gen *g = &t->gen[i];
    g->seed = (uint64_t)seed, g->step = 1, g->length = 10;
    switch (t->types[i].kind) {
      case SL__T_INT: g->min = INT32_MIN, g->max = INT32_MAX; break;
      case SL__T_DOUBLE: g->fmin = 0, g->fmax = 1; break;
      case SL__T_DECIMAL: {
        int64_t lim = 1;
        for (int k = 0; k < t->types[i].precision; k++) lim *= 10;
        g->min = -(lim - 1), g->max = lim - 1;
        break;
      }
      case SL__T_TIMESTAMP: g->min = 0, g->max = 4102444799999LL; break; /* until 2099 */
      default: g->min = INT64_MIN, g->max = INT64_MAX;
    }
  }
  for (int o = 0; o < t->n_opts; o++) {
    const char *k = t->keys[o];
    if (!strcasecmp(k, "connector") || !strcasecmp(k, "seed") || !strcasecmp(k, "number-of-rows") ||
        !strcasecmp(k, "rows-per-second") || !strcasecmp(k, "watermark"))
      continue;
    const char *dot = strncasecmp(k, "fields.", 7) ? NULL : strrchr(k + 7, '.');
    if (!dot)
      return sl__sql_error(c, locs[o],
                       "unknown option '%s' for connector datagen (options: number-of-rows, "
                       "rows-per-second, seed, fields.COLUMN.kind = sequence | random, "
                       "fields.COLUMN.start / step (sequence), fields.COLUMN.min / max / length (random))",
                       k);
    int col = -1;
    for (int i = 0; i < t->n_cols; i++)
      if (strlen(t->names[i]) == (size_t)(dot - (k + 7)) && !strncmp(t->names[i], k + 7, (size_t)(dot - (k + 7))))
        col = i;
    if (col < 0) return sl__sql_error(c, locs[o], "option '%s' names no column of '%s'", k, t->name);
    sql_gen *g = &t->gen[col];
    const char *what = dot + 1, *val = t->vals[o];
    int64_t x = 0;
    int tk = t->types[col].kind;
    if (!strcasecmp(what, "kind")) {
      if (!strcasecmp(val, "sequence")) g->kind = SQL_GEN_SEQUENCE;
      else if (!strcasecmp(val, "random")) g->kind = SQL_GEN_RANDOM;
      else return sl__sql_error(c, locs[o], "'%s' must be sequence or random, got '%s'", k, val);
      continue;
    }
    if (!strcasecmp(what, "min") || !strcasecmp(what, "max")) {
      if (tk == SL__T_DOUBLE || tk == SL__T_DECIMAL) {
        char *end;
        double d = strtod(val, &end);
        if (*end || !*val) return sl__sql_error(c, locs[o], "'%s' must be a number, got '%s'", k, val);
        if (tk == SL__T_DOUBLE) *(what[1] == 'i' ? &g->fmin : &g->fmax) = d;
        else {
          double sc = 1;
          for (int s2 = 0; s2 < t->types[col].scale; s2++) sc *= 10;
          *(what[1] == 'i' ? &g->min : &g->max) = (int64_t)(d * sc + (d < 0 ? -0.5 : 0.5));
        }
        continue;
      }
      sl__val tv;
      const char *why;
      if (tk == SL__T_TIMESTAMP && !sl__row_parse_text(t->types[col], val, strlen(val), &tv, &why)) x = tv.u.i;
      else if (parse_i64(val, &x)) return sl__sql_error(c, locs[o], "'%s' must be an integer, got '%s'", k, val);
      *(what[1] == 'i' ? &g->min : &g->max) = x;
      continue;
    }
    if (!strcasecmp(what, "start") || !strcasecmp(what, "step") || !strcasecmp(what, "end") ||
        !strcasecmp(what, "length")) {
      sl__val tv;
      const char *why;
      if (tk == SL__T_TIMESTAMP && !strcasecmp(what, "start") &&
          !sl__row_parse_text(t->types[col], val, strlen(val), &tv, &why))
        x = tv.u.i;
      else if (parse_i64(val, &x))
        return sl__sql_error(c, locs[o], "'%s' must be an integer, got '%s'", k, val);
      if (!strcasecmp(what, "start")) g->start = x;
      else if (!strcasecmp(what, "step")) g->step = x;
      else if (!strcasecmp(what, "length")) {
        if (x < 0 || x > 65536) return sl__sql_error(c, locs[o], "'%s' must be 0 .. 65536", k);
        g->length = (int)x;
      } else { /* end: a sequence start..end bounds the rows */
        uint64_t n = x >= g->start ? (uint64_t)(x - g->start) + 1 : 0;
        if (n < t->rows && !sl__sql_opt(t, "number-of-rows")) t->rows = n;
      }
      continue;
    }
    return sl__sql_error(c, locs[o], "unknown option '%s' (fields.COLUMN.kind, start, end, step, min, max, length)", k);
  }
  for (int i = 0; i < t->n_cols; i++)
    if (t->gen[i].kind == SQL_GEN_RANDOM && t->gen[i].min > t->gen[i].max)
      return sl__sql_error(c, -1, "datagen column '%s': min > max", t->names[i]);
  return 0;
}

/* The nexmark options and columns: the table's kind (nexmark.table.type,
 * else its name), the generator's settings, and each column a field of
 * that kind by name (RisingWave's snake_case, or Flink's camelCase as
 * PostgreSQL folds it: emailaddress, datetime, ...). */
static int nexmark_opts(sql_ctx *c, sql_table *t, const int *locs, int loc) {
  static const char *const kinds[] = {"person", "auction", "bid"};
  const char *kind = sl__sql_opt(t, "nexmark.table.type");
  t->nx_type = -1;
  for (int i = 0; i < 3; i++)
    if (!strcasecmp(kind ? kind : t->name, kinds[i])) t->nx_type = i;
  if (t->nx_type < 0)
    return sl__sql_error(c, kind ? opt_loc(t, locs, "nexmark.table.type") : loc,
                     "a nexmark table is person, auction or bid: name it so or set "
                     "'nexmark.table.type'%s%s%s", kind ? " (not '" : "", kind ? kind : "", kind ? "')" : "");
  if (!(t->nx_cfg = sl__calloc(1, sizeof *t->nx_cfg)) || !(t->nx_field = sl__calloc((size_t)t->n_cols, sizeof *t->nx_field)))
    return sl__sql_oom(c);
  sl_nexmark_config_default(t->nx_cfg);
  static const struct {
    const char *key;
    int what;
  } opts[] = {{"nexmark.events", 0}, {"nexmark.rate", 1}, {"nexmark.seed", 2},
              {"nexmark.out-of-order-group", 3}, {"nexmark.generators", 4}, {"nexmark.base-time", 5}};
  for (int o = 0; o < t->n_opts; o++) {
    const char *k = t->keys[o];
    if (!strcasecmp(k, "connector") || !strcasecmp(k, "watermark") || !strcasecmp(k, "nexmark.table.type"))
      continue;
    int w = -1;
    for (int i = 0; i < 6; i++)
      if (!strcasecmp(k, opts[i].key)) w = opts[i].what;
    int64_t v;
    if (w < 0)
      return sl__sql_error(c, locs[o], "unknown option '%s' for connector nexmark (options: nexmark.table.type, "
                                   "nexmark.events, nexmark.rate, nexmark.seed, nexmark.out-of-order-group, "
                                   "nexmark.generators, nexmark.base-time)", k);
    if (parse_i64(t->vals[o], &v) || (w != 5 && v < 0))
      return sl__sql_error(c, locs[o], "'%s' must be a non-negative integer, got '%s'", k, t->vals[o]);
    switch (w) {
      case 0: t->nx_cfg->events = (uint64_t)v; break;
      case 1: t->nx_cfg->first_event_rate = (uint64_t)v; break;
      case 2: t->nx_cfg->seed = (uint64_t)v; break;
      case 3: t->nx_cfg->out_of_order_group = (uint32_t)v; break;
      case 4: t->nx_cfg->num_event_generators = (uint32_t)v; break;
      case 5: t->nx_cfg->base_time_ms = v; break;
    }
  }
  char err[256];
  if (sl_nexmark_config_check(t->nx_cfg, err, sizeof err)) return sl__sql_error(c, loc, "nexmark: %s", err);
  static const struct {
    int kind;
    const char *name, *alt;
    int field, type; /* type: 0 BIGINT, 1 VARCHAR, 2 TIMESTAMP or BIGINT */
  } fields[] = {
      {0, "id", NULL, SQL_NX_ID, 0},           {0, "name", NULL, SQL_NX_NAME, 1},
      {0, "email_address", "emailaddress", SQL_NX_EMAIL, 1},
      {0, "credit_card", "creditcard", SQL_NX_CARD, 1},
      {0, "city", NULL, SQL_NX_CITY, 1},       {0, "state", NULL, SQL_NX_STATE, 1},
      {0, "date_time", "datetime", SQL_NX_DATE_TIME, 2}, {0, "extra", NULL, SQL_NX_EXTRA, 1},
      {1, "id", NULL, SQL_NX_ID, 0},           {1, "item_name", "itemname", SQL_NX_ITEM_NAME, 1},
      {1, "description", NULL, SQL_NX_DESCRIPTION, 1},
      {1, "initial_bid", "initialbid", SQL_NX_INITIAL_BID, 0},
      {1, "reserve", NULL, SQL_NX_RESERVE, 0}, {1, "date_time", "datetime", SQL_NX_DATE_TIME, 2},
      {1, "expires", NULL, SQL_NX_EXPIRES, 2}, {1, "seller", NULL, SQL_NX_SELLER, 0},
      {1, "category", NULL, SQL_NX_CATEGORY, 0}, {1, "extra", NULL, SQL_NX_EXTRA, 1},
      {2, "auction", NULL, SQL_NX_AUCTION, 0}, {2, "bidder", NULL, SQL_NX_BIDDER, 0},
      {2, "price", NULL, SQL_NX_PRICE, 0},     {2, "channel", NULL, SQL_NX_CHANNEL, 1},
      {2, "url", NULL, SQL_NX_URL, 1},         {2, "date_time", "datetime", SQL_NX_DATE_TIME, 2},
      {2, "extra", NULL, SQL_NX_EXTRA, 1}};
  for (int i = 0; i < t->n_cols; i++) {
    int f = -1;
    char list[400] = "";
    size_t at = 0;
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
      if (fields[k].kind != t->nx_type) continue;
      at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", at ? ", " : "", fields[k].name);
      if (!strcmp(t->names[i], fields[k].name) || (fields[k].alt && !strcmp(t->names[i], fields[k].alt)))
        f = (int)k;
    }
    if (f < 0)
      return sl__sql_error(c, loc, "nexmark table %s has no field '%s' (fields: %s)", kinds[t->nx_type],
                       t->names[i], list);
    int k = t->types[i].kind;
    int ok = fields[f].type == 0 ? k == SL__T_BIGINT : fields[f].type == 1 ? k == SL__T_VARCHAR
                                                       : k == SL__T_TIMESTAMP || k == SL__T_BIGINT;
    if (!ok) {
      char tn[32];
      return sl__sql_error(c, loc, "nexmark field '%s' is %s, not %s", t->names[i],
                       fields[f].type == 0 ? "BIGINT" : fields[f].type == 1 ? "VARCHAR" : "TIMESTAMP (or BIGINT ms)",
                       sl__row_type_name(t->types[i], tn, sizeof tn));
    }
    t->nx_field[i] = fields[f].field;
  }
  return 0;
}

/* The watermark option is SQL over the table's columns: compile it now
 * (so a typo fails at CREATE TABLE); event time uses it with windows. */
static int check_watermark(sql_ctx *c, sql_table *t, int loc) {
  size_t n = strlen(t->watermark);
  char *q = sl__sql_alloc(c->arena, n + 8);
  if (!q) return sl__sql_oom(c);
  memcpy(q, "SELECT ", 7), memcpy(q + 7, t->watermark, n + 1);
  sql_ctx sub = {c->env, c->sess, q, c->arena, {0}, 0, NULL};
  cJSON *root = sl__sql_parse(&sub, q);
  cJSON *tl = NULL;
  if (root) {
    cJSON *st = sl__sql_j(cJSON_GetArrayItem(sl__sql_j(root, "stmts"), 0), "stmt"), *sb;
    if (!strcmp(sl__sql_node_kind(st, &sb), "SelectStmt") && cJSON_GetArraySize(sl__sql_j(sb, "targetList")) == 1 &&
        !sl__sql_j(sb, "fromClause"))
      tl = cJSON_GetArrayItem(sl__sql_j(sb, "targetList"), 0);
    else
      sl__sql_error(&sub, -1, "one expression was expected");
  }
  if (tl) {
    cJSON *tb;
    sl__sql_node_kind(tl, &tb);
    sql_scope sc = {t->name, t->n_cols, t->names, t->types, NULL, NULL, NULL, NULL};
    sql_expr *e = sl__sql_compile(&sub, sl__sql_j(tb, "val"), &sc);
    if (e && e->type.kind != SL__T_TIMESTAMP && e->type.kind != SL__T_BIGINT) {
      char tn[32];
      sl__sql_error(&sub, -1, "it is %s; a watermark is a TIMESTAMP or a BIGINT of epoch milliseconds",
                sl__row_type_name(e->type, tn, sizeof tn));
    } else if (e && e->op == SQL_E_COL) { /* bounded out-of-orderness 0 */
      t->rowtime = e->col, t->wm_delay_ms = 0;
    } else if (e && e->op == SQL_E_SUB && e->args[0]->op == SQL_E_COL && e->args[1]->op == SQL_E_CONST &&
               !e->args[1]->k.null && e->args[1]->k.u.i >= 0) {
      t->rowtime = e->args[0]->col, t->wm_delay_ms = e->args[1]->k.u.i;
    } else if (e) {
      sl__sql_error(&sub, -1, "a watermark is COLUMN - INTERVAL 'n' UNIT (a TIMESTAMP column) or "
                          "COLUMN - n (a BIGINT column of epoch ms): bounded out-of-orderness");
    }
  }
  if (root) cJSON_Delete(root);
  if (!sub.failed) return 0;
  /* the inner message, its position moved past "SELECT " */
  const char *m = sub.msg, *colon = strstr(m, ": ");
  if (!strncmp(m, "line ", 5) && colon) m = colon + 2;
  char inner[600];
  snprintf(inner, sizeof inner, "%.590s", m);
  char *nl = strchr(inner, '\n');
  if (nl) *nl = 0;
  return sl__sql_error(c, loc, "watermark '%s': %s", t->watermark, inner);
}

const char *const sl__sql_fmt_name[4] = {"", "csv", "json", "debezium-json"};

/* A filesystem or kafka table's format option (csv by default). */
static int table_format(sql_ctx *c, sql_table *t, const int *locs, const char *fmt) {
  t->format = SQL_FMT_CSV;
  for (int f = SQL_FMT_CSV; fmt && f <= SQL_FMT_DEBEZIUM; f++)
    if (!strcasecmp(fmt, sl__sql_fmt_name[f])) t->format = f;
  if (fmt && strcasecmp(fmt, sl__sql_fmt_name[t->format]))
    return sl__sql_error(c, opt_loc(t, locs, "format"), "unknown format '%s' (formats: csv, json, debezium-json)",
                         fmt);
  return 0;
}

static int create_table(sql_ctx *c, const cJSON *b) {
  cJSON *rv = sl__sql_j(b, "relation");
  const char *name = sl__sql_js(rv, "relname");
  int loc = cJSON_IsNumber(sl__sql_j(rv, "location")) ? sl__sql_j(rv, "location")->valueint : -1;
  if (sl__sql_find_table(c->sess, name)) {
    if (cJSON_IsTrue(sl__sql_j(b, "if_not_exists"))) return 0;
    return sl__sql_error(c, loc, "table '%s' already exists", name);
  }
  cJSON *elts = sl__sql_j(b, "tableElts"), *opts = sl__sql_j(b, "options"), *it;
  int nc = cJSON_GetArraySize(elts), no = cJSON_GetArraySize(opts);
  if (!nc) return sl__sql_error(c, loc, "table '%s' needs columns", name);
  sql_table *t = sl__calloc(1, sizeof *t);
  int *locs = sl__sql_alloc(c->arena, (size_t)(no + 1) * sizeof *locs);
  if (!t || !locs) return sl__free(t), sl__sql_oom(c);
  int rc = -SL_ENOMEM;
  t->name = sl__strdup(name);
  t->names = sl__calloc((size_t)nc, sizeof *t->names);
  t->types = sl__calloc((size_t)nc, sizeof *t->types);
  t->keys = sl__calloc((size_t)no + 1, sizeof *t->keys);
  t->vals = sl__calloc((size_t)no + 1, sizeof *t->vals);
  t->pk = sl__calloc((size_t)nc, sizeof *t->pk);
  if (!t->name || !t->names || !t->types || !t->keys || !t->vals || !t->pk) goto oom;
  t->rowtime = -1;
  const cJSON *pk_node = NULL, *x;
  int pk_loc = -1;
  cJSON_ArrayForEach(it, elts) {
    cJSON *cb;
    const char *k = sl__sql_node_kind(it, &cb);
    if (!strcmp(k, "Constraint")) { /* PRIMARY KEY (cols), resolved after the columns */
      if (!sl__sql_js(cb, "contype") || strcmp(sl__sql_js(cb, "contype"), "CONSTR_PRIMARY")) {
        rc = sl__sql_error(c, sl__sql_jloc(it), "only PRIMARY KEY (columns) is supported as a table constraint");
        goto fail;
      }
      if (pk_node || t->n_pk) {
        rc = sl__sql_error(c, sl__sql_jloc(it), "a second PRIMARY KEY");
        goto fail;
      }
      pk_node = sl__sql_j(cb, "keys"), pk_loc = sl__sql_jloc(it);
      continue;
    }
    if (strcmp(k, "ColumnDef")) {
      rc = sl__sql_error(c, sl__sql_jloc(it), "only column definitions and PRIMARY KEY are supported here");
      goto fail;
    }
    const char *cn = sl__sql_js(cb, "colname");
    for (int i = 0; i < t->n_cols; i++)
      if (!strcmp(t->names[i], cn)) {
        rc = sl__sql_error(c, sl__sql_jloc(it), "column '%s' twice", cn);
        goto fail;
      }
    if ((rc = sl__sql_type_of(c, sl__sql_j(cb, "typeName"), &t->types[t->n_cols]))) goto fail;
    if (t->types[t->n_cols].kind == SL__T_INTERVAL) {
      rc = sl__sql_error(c, sl__sql_jloc(it), "INTERVAL is not a column type");
      goto fail;
    }
    if (!(t->names[t->n_cols] = sl__strdup(cn))) goto oom;
    cJSON_ArrayForEach(x, sl__sql_j(cb, "constraints")) { /* col TYPE PRIMARY KEY */
      cJSON *xb;
      sl__sql_node_kind(x, &xb);
      if (!sl__sql_js(xb, "contype") || strcmp(sl__sql_js(xb, "contype"), "CONSTR_PRIMARY")) continue;
      if (t->n_pk) {
        rc = sl__sql_error(c, sl__sql_jloc(x), "a second PRIMARY KEY");
        goto fail;
      }
      t->pk[t->n_pk++] = t->n_cols;
    }
    t->n_cols++;
  }
  cJSON_ArrayForEach(x, pk_node) {
    cJSON *xb;
    sl__sql_node_kind(x, &xb);
    const char *kn = sl__sql_js(xb, "sval");
    int i = 0;
    while (kn && i < t->n_cols && strcmp(t->names[i], kn)) i++;
    if (!kn || i == t->n_cols) {
      rc = sl__sql_error(c, pk_loc, "PRIMARY KEY names column '%s', which table '%s' does not have",
                         kn ? kn : "?", name);
      goto fail;
    }
    for (int j = 0; j < t->n_pk; j++)
      if (t->pk[j] == i) {
        rc = sl__sql_error(c, pk_loc, "PRIMARY KEY names '%s' twice", kn);
        goto fail;
      }
    t->pk[t->n_pk++] = i;
  }
  cJSON_ArrayForEach(it, opts) {
    cJSON *db, *ab;
    sl__sql_node_kind(it, &db);
    const char *key = sl__sql_js(db, "defname");
    const char *ak = sl__sql_node_kind(sl__sql_j(db, "arg"), &ab);
    const char *val = sl__sql_js(ab, "sval");
    char num[64];
    if (!strcmp(ak, "Integer")) {
      snprintf(num, sizeof num, "%d", cJSON_IsNumber(sl__sql_j(ab, "ival")) ? sl__sql_j(ab, "ival")->valueint : 0);
      val = num;
    } else if (!strcmp(ak, "Float")) {
      val = sl__sql_js(ab, "fval");
    } else if (!strcmp(ak, "TypeName")) {
      val = sl__sql_last_name(sl__sql_j(ab, "names")); /* an unquoted word: format = csv */
    }
    locs[t->n_opts] = sl__sql_jloc(it);
    if (!key || !val) {
      rc = sl__sql_error(c, locs[t->n_opts], "option '%s' needs a value: key = 'value'", key ? key : "?");
      goto fail;
    }
    for (int i = 0; i < t->n_opts; i++)
      if (!strcasecmp(t->keys[i], key)) {
        rc = sl__sql_error(c, locs[t->n_opts], "option '%s' given twice", key);
        goto fail;
      }
    if (!(t->keys[t->n_opts] = sl__strdup(key)) || !(t->vals[t->n_opts] = sl__strdup(val))) goto oom;
    t->n_opts++;
  }
  const char *conn = sl__sql_opt(t, "connector");
  if (!conn) {
    rc = sl__sql_error(c, loc,
                   "table '%s' needs WITH (connector = '...'): filesystem, kafka, upsert-kafka, postgres, "
                   "datagen, nexmark, print or blackhole", name);
    goto fail;
  }
  static const struct {
    const char *name;
    int id;
    const char *opts; /* allowed options, comma-separated */
  } conns[] = {{"filesystem", SQL_CONN_FILESYSTEM, "connector,path,format,watermark"},
               {"print", SQL_CONN_PRINT, "connector"},
               {"blackhole", SQL_CONN_BLACKHOLE, "connector"},
               {"datagen", SQL_CONN_DATAGEN, NULL},
               {"nexmark", SQL_CONN_NEXMARK, NULL},
               /* the connectors' own option names, checked when the job starts */
               {"kafka", SQL_CONN_KAFKA, NULL},
               {"postgres", SQL_CONN_POSTGRES, NULL},
               /* a Kafka sink keyed by the primary key (Flink's upsert-kafka) */
               {"upsert-kafka", SQL_CONN_UPSERT_KAFKA, NULL}};
  int ci = -1;
  for (int i = 0; i < (int)(sizeof conns / sizeof conns[0]); i++)
    if (!strcasecmp(conn, conns[i].name)) ci = i;
  if (ci < 0) {
    rc = sl__sql_error(c, opt_loc(t, locs, "connector"),
                   "unknown connector '%s' (connectors: filesystem, kafka, upsert-kafka, postgres, datagen, "
                   "nexmark, print, blackhole)", conn);
    goto fail;
  }
  t->connector = conns[ci].id;
  if (conns[ci].opts)
    for (int o = 0; o < t->n_opts; o++) {
      const char *al = conns[ci].opts;
      size_t kl = strlen(t->keys[o]);
      int ok = 0;
      for (const char *p = al; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == kl && !strncasecmp(p, t->keys[o], n)) ok = 1;
        p += n + (e != NULL);
      }
      if (!ok) {
        rc = sl__sql_error(c, locs[o], "unknown option '%s' for connector %s (options: %s)", t->keys[o],
                       conns[ci].name, al);
        goto fail;
      }
    }
  if (t->connector == SQL_CONN_FILESYSTEM) {
    t->path = sl__sql_opt(t, "path");
    const char *fmt = sl__sql_opt(t, "format");
    if (!t->path || !*t->path) {
      rc = sl__sql_error(c, loc, "table '%s' (connector filesystem) needs path = '...'", name);
      goto fail;
    }
    if ((rc = table_format(c, t, locs, fmt))) goto fail;
  }
  if (t->connector == SQL_CONN_KAFKA) {
    const char *fmt = sl__sql_opt(t, "format");
    if ((rc = table_format(c, t, locs, fmt))) goto fail;
    if (!sl__sql_opt(t, "topic") && !sl__sql_opt(t, "topic-pattern")) {
      rc = sl__sql_error(c, loc, "table '%s' (connector kafka) needs topic = '...' (and "
                             "'properties.bootstrap.servers')", name);
      goto fail;
    }
  }
  if (t->connector == SQL_CONN_UPSERT_KAFKA) { /* key.format, value.format; PRIMARY KEY required */
    static const char *const which[2] = {"key.format", "value.format"};
    static const char *const what[2] = {"the primary key's form in each message's key",
                                        "the row's form in each message's value"};
    int *fmts[2] = {&t->key_format, &t->format};
    if (sl__sql_opt(t, "format")) {
      rc = sl__sql_error(c, opt_loc(t, locs, "format"), "an upsert-kafka table has 'key.format' and "
                                                         "'value.format' (csv or json), not 'format'");
      goto fail;
    }
    if (!t->n_pk) {
      rc = sl__sql_error(c, loc, "table '%s' (connector upsert-kafka) needs PRIMARY KEY (columns) NOT "
                                 "ENFORCED: each message's key is the row's primary key, and the topic keeps "
                                 "the last value per key", name);
      goto fail;
    }
    for (int f = 0; f < 2; f++) {
      const char *fmt = sl__sql_opt(t, which[f]);
      if (!fmt) {
        rc = sl__sql_error(c, loc, "table '%s' (connector upsert-kafka) needs '%s' = 'csv' or 'json' (%s)",
                           name, which[f], what[f]);
        goto fail;
      }
      *fmts[f] = !strcasecmp(fmt, "csv") ? SQL_FMT_CSV : !strcasecmp(fmt, "json") ? SQL_FMT_JSON : 0;
      if (!*fmts[f]) {
        rc = sl__sql_error(c, opt_loc(t, locs, which[f]), "unknown %s '%s' (formats: csv, json)", which[f], fmt);
        goto fail;
      }
    }
    if (!sl__sql_opt(t, "topic") || !sl__sql_opt(t, "properties.bootstrap.servers")) {
      rc = sl__sql_error(c, loc, "table '%s' (connector upsert-kafka) needs topic = '...' and "
                                 "'properties.bootstrap.servers'", name);
      goto fail;
    }
  }
  if (t->connector == SQL_CONN_POSTGRES) {
    t->format = SQL_FMT_CSV; /* the connector's rows are CSV text */
    const char *url = sl__sql_opt(t, "url");
    if (!url || !sl__sql_opt(t, "table-name")) {
      rc = sl__sql_error(c, loc, "table '%s' (connector postgres) needs url = 'postgresql://USER@HOST:PORT/DB' "
                             "and 'table-name' = '...'", name);
      goto fail;
    }
    if (sl__sql_opt(t, "format")) {
      rc = sl__sql_error(c, opt_loc(t, locs, "format"), "a postgres table has no format: its columns are the table's");
      goto fail;
    }
    const char *mode = sl__sql_opt(t, "scan.mode"), *parts = sl__sql_opt(t, "scan.partition.num");
    t->cdc = mode && !strcasecmp(mode, "cdc");
    /* one split: the snapshot and the stream come from one reader, so each
     * row's snapshot image reaches the operators before its changes (rows
     * of two readers travel on two channels, in no order between them) */
    if (t->cdc && parts && strcmp(parts, "1")) {
      rc = sl__sql_error(c, opt_loc(t, locs, "scan.partition.num"),
                         "a CDC table ('scan.mode' = 'cdc') reads its snapshot in one split, so that each "
                         "row's snapshot image comes before its changes: drop 'scan.partition.num' (or set "
                         "it to 1)");
      goto fail;
    }
  }
  if (t->connector == SQL_CONN_DATAGEN && (rc = datagen_opts(c, t, locs))) goto fail;
  if (t->connector == SQL_CONN_NEXMARK && (rc = nexmark_opts(c, t, locs, loc))) goto fail;
  const char *wm = sl__sql_opt(t, "watermark");
  if (wm) {
    if (!(t->watermark = sl__strdup(wm))) goto oom;
    if ((rc = check_watermark(c, t, opt_loc(t, locs, "watermark")))) goto fail;
  }
  sql_table **a = sl__realloc(c->sess->tables, (size_t)(c->sess->n_tables + 1) * sizeof *a);
  if (!a) goto oom;
  c->sess->tables = a;
  a[c->sess->n_tables++] = t;
  return 0;
oom:
  rc = sl__sql_oom(c);
fail:
  table_free(t);
  return rc;
}

static int create_view(sql_ctx *c, const cJSON *b) {
  cJSON *rv = sl__sql_j(b, "view");
  const char *name = sl__sql_js(rv, "relname");
  int loc = cJSON_IsNumber(sl__sql_j(rv, "location")) ? sl__sql_j(rv, "location")->valueint : -1;
  if (sl__sql_find_table(c->sess, name)) {
    if (cJSON_IsTrue(sl__sql_j(b, "replace"))) { /* CREATE OR REPLACE VIEW */
      sql_table *old = sl__sql_find_table(c->sess, name);
      if (!old->view) return sl__sql_error(c, loc, "'%s' is a table, not a view", name);
    } else {
      return sl__sql_error(c, loc, "table '%s' already exists", name);
    }
  }
  if (cJSON_GetArraySize(sl__sql_j(b, "aliases")))
    return sl__sql_error(c, loc, "a view's column list is not supported: name the columns with AS");
  /* plan it once now: errors show at CREATE VIEW */
  sql_plan *p = sl__sql_plan_select(c, sl__sql_j(b, "query"));
  if (!p || sl__sql_unique_names(c, p, loc)) return -SL_EINVAL;
  sql_table *t = sl__calloc(1, sizeof *t);
  if (!t) return sl__sql_oom(c);
  t->rowtime = -1;
  t->name = sl__strdup(name);
  t->view = cJSON_Duplicate(sl__sql_j(b, "query"), 1);
  t->view_text = sl__strdup(c->text);
  t->n_cols = 0;
  t->names = sl__calloc((size_t)p->n, sizeof *t->names);
  t->types = sl__calloc((size_t)p->n, sizeof *t->types);
  if (!t->name || !t->view || !t->view_text || !t->names || !t->types) return table_free(t), sl__sql_oom(c);
  for (int i = 0; i < p->n; i++, t->n_cols++) {
    if (!(t->names[i] = sl__strdup(p->names[i]))) return table_free(t), sl__sql_oom(c);
    t->types[i] = p->types[i];
  }
  sql_table *old = sl__sql_find_table(c->sess, name);
  if (old) {
    for (int i = 0; i < c->sess->n_tables; i++)
      if (c->sess->tables[i] == old) c->sess->tables[i] = t;
    table_free(old);
    return 0;
  }
  sql_table **a = sl__realloc(c->sess->tables, (size_t)(c->sess->n_tables + 1) * sizeof *a);
  if (!a) return table_free(t), sl__sql_oom(c);
  c->sess->tables = a;
  a[c->sess->n_tables++] = t;
  return 0;
}

/* ---- SET / SHOW ------------------------------------------------------------------ */

static int set_stmt(sql_ctx *c, const cJSON *b, int loc) {
  const char *kind = sl__sql_js(b, "kind"), *name = sl__sql_js(b, "name");
  if (!kind || strcmp(kind, "VAR_SET_VALUE") || !name)
    return sl__sql_error(c, loc, "SET 'key' = 'value' sets a configuration key (`sluice conf --list`)");
  cJSON *arg = cJSON_GetArrayItem(sl__sql_j(b, "args"), 0), *ab;
  char num[64];
  const char *val = NULL;
  if (!strcmp(sl__sql_node_kind(arg, &ab), "A_Const")) {
    if ((val = sl__sql_js(sl__sql_j(ab, "sval"), "sval"))) {
    } else if (sl__sql_j(ab, "sval")) {
      val = "";
    } else if ((val = sl__sql_js(sl__sql_j(ab, "fval"), "fval"))) {
    } else if (sl__sql_j(ab, "ival")) {
      cJSON *iv = sl__sql_j(sl__sql_j(ab, "ival"), "ival");
      snprintf(num, sizeof num, "%d", iv ? iv->valueint : 0);
      val = num;
    } else if (sl__sql_j(ab, "boolval")) {
      val = cJSON_IsTrue(sl__sql_j(sl__sql_j(ab, "boolval"), "boolval")) ? "true" : "false";
    }
  }
  if (!val) return sl__sql_error(c, sl__sql_jloc(arg) >= 0 ? sl__sql_jloc(arg) : loc, "SET '%s' needs a value: SET '%s' = 'value'", name, name);
  if (sl_env_set(c->env, name, val)) return sl__sql_error(c, loc, "%s", sl_env_last_error(c->env));
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp((*(sql_table *const *)a)->name, (*(sql_table *const *)b)->name);
}

static int show_stmt(sql_ctx *c, const cJSON *b, int loc) {
  const char *name = sl__sql_js(b, "name");
  if (!name || strcasecmp(name, "tables"))
    return sl__sql_error(c, loc, "SHOW %s: only SHOW TABLES is supported (SET shows nothing; see `sluice conf --list`)",
                     name ? name : "");
  sql_table **sorted = sl__sql_alloc(c->arena, (size_t)(c->sess->n_tables + 1) * sizeof *sorted);
  if (!sorted) return sl__sql_oom(c);
  memcpy(sorted, c->sess->tables, (size_t)c->sess->n_tables * sizeof *sorted);
  qsort(sorted, (size_t)c->sess->n_tables, sizeof *sorted, cmp_names);
  char *buf = NULL;
  size_t len = 0, cap = 0;
  sl__sql_appendf(&buf, &len, &cap, "%s", "");
  for (int i = 0; i < c->sess->n_tables; i++) sl__sql_appendf(&buf, &len, &cap, "%s\n", sorted[i]->name);
  if (buf) output(c->sess, buf);
  sl__free(buf);
  return 0;
}

/* ---- the statements ------------------------------------------------------------ */

int sl_sql_execute(sl_env *env, const char *text) {
  if (!env || !text) return -SL_EINVAL;
  sql_session *sess = session(env);
  if (!sess) return sl__env_error(env, "out of memory"), -SL_ENOMEM;
  sql_arena arena = {0};
  sql_ctx c = {env, sess, text, &arena, {0}, 0, NULL};
  int rc = 0, n_ins = 0, cap_ins = 0;
  sql_insert *ins = NULL;
  cJSON *root = sl__sql_parse(&c, text), *st;
  if (!root) {
    rc = -SL_EINVAL;
    goto done;
  }
  cJSON_ArrayForEach(st, sl__sql_j(root, "stmts")) {
    cJSON *b;
    const char *kind = sl__sql_node_kind(sl__sql_j(st, "stmt"), &b);
    cJSON *sl = sl__sql_j(st, "stmt_location");
    int loc = cJSON_IsNumber(sl) ? sl->valueint : 0;
    while (text[loc] == ' ' || text[loc] == '\n' || text[loc] == '\t' || text[loc] == '\r') loc++;
    int explain = !strcmp(kind, "ExplainStmt");
    cJSON *q = b;
    if (explain) kind = sl__sql_node_kind(sl__sql_j(b, "query"), &q);
    if (!strcmp(kind, "CreateStmt") && !explain) {
      rc = create_table(&c, b);
    } else if (!strcmp(kind, "ViewStmt") && !explain) {
      rc = create_view(&c, b);
    } else if (!strcmp(kind, "VariableSetStmt") && !explain) {
      rc = set_stmt(&c, b, loc);
    } else if (!strcmp(kind, "VariableShowStmt") && !explain) {
      rc = show_stmt(&c, b, loc);
    } else if (!strcmp(kind, "InsertStmt") || !strcmp(kind, "SelectStmt")) {
      sql_insert one = {0};
      if (!strcmp(kind, "InsertStmt")) rc = sl__sql_plan_insert(&c, q, &one);
      else rc = (one.plan = sl__sql_plan_select(&c, sl__sql_j(explain ? b : st, explain ? "query" : "stmt"))) ? 0 : -SL_EINVAL;
      if (rc) break;
      one.plan = sl__sql_fuse(&c, one.plan);
      if (explain) {
        char *buf = NULL;
        size_t len = 0, cap = 0;
        if ((rc = sl__sql_prune(&c, &one, 1))) break;
        sl__sql_explain(&one, 1, &buf, &len, &cap);
        if (buf) output(sess, buf);
        sl__free(buf);
        continue;
      }
      if (n_ins == cap_ins) {
        cap_ins = cap_ins ? 2 * cap_ins : 8;
        sql_insert *a = sl__realloc(ins, (size_t)cap_ins * sizeof *a);
        if (!a) {
          rc = sl__sql_oom(&c);
          break;
        }
        ins = a;
      }
      ins[n_ins++] = one;
    } else {
      rc = sl__sql_error(&c, loc,
                     "%s is not supported (statements: CREATE TABLE, CREATE VIEW, SET, SHOW TABLES, "
                     "EXPLAIN, INSERT INTO ... SELECT, SELECT)",
                     explain ? "EXPLAIN of this statement" : kind);
    }
    if (rc) break;
  }
  if (!rc && n_ins) {
    if (sess->ran) {
      rc = sl__sql_error(&c, -1, "this environment has run its job already: one environment runs one job "
                             "(its INSERT statements together); use a new one");
      goto done;
    }
    if ((rc = sl__sql_build(&c, ins, n_ins))) goto done;
    sess->ran = 1;
    const char *pn = sl_env_get(env, "pipeline.name");
    rc = sl_execute(env, pn && *pn ? NULL : "sql");
    goto done_job; /* sl_execute set the message */
  }
done:
  if (rc && c.failed) sl__env_error(env, c.msg);
done_job:
  if (root) cJSON_Delete(root);
  sl__free(ins);
  sl__sql_arena_free(&arena);
  return rc;
}

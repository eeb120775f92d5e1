/*
 * plan.c -- queries: SELECT -> a logical plan, EXPLAIN, and the job.
 *
 * The logical plan is a chain of nodes, each with its output columns:
 *
 *   SCAN  a table (its connector and format) or, recursively, a view or a
 *         subquery in FROM
 *   CALC  Flink's Calc: an optional WHERE and the SELECT list, one pass
 *
 * and an INSERT adds the sink.  Later nodes (windowed aggregates, joins,
 * Top-N) slot in between.  A query whose result would change rows already
 * emitted -- GROUP BY without a window, DISTINCT, an outer join -- needs
 * updates/retractions, which sluice's streams do not carry yet: it is
 * refused with that reason rather than approximated.
 *
 * The job (sql_build) is made of public API calls only:
 *
 *   filesystem: sl_file_source -> "decode: T" (flat_map: a CSV or JSON
 *               line -> a row; a line that does not parse as the declared
 *               types is a bad record "table 'T' (PATH) line N": to
 *               pipeline.dead-letter.path, else the job fails naming it)
 *   datagen:    sl_datagen_source producing rows directly
 *   -> "calc" (flat_map: WHERE, then the SELECT list into a new row; a row
 *      whose expressions fail -- division by zero, a cast that does not
 *      parse -- is a bad record, written out as CSV)
 *   -> "encode: S" (map: row -> CSV/JSON line, or Flink's +I[...] for
 *      print) -> the sink (sl_file_sink: one file, or exactly-once part
 *      files in a directory; sl_print_sink; sl_discard_sink)
 *
 * Rows travel as the binary row of row/row.h; every operator builds its
 * output in sl_ctx_scratch memory, so nothing is allocated per row.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "sql/sql.h"

/* ---- planning ----------------------------------------------------------------- */

static sql_plan *new_plan(sql_ctx *c, int kind, int n) {
  sql_plan *p = sql_alloc(c->arena, sizeof *p);
  if (!p) return sql_oom(c), NULL;
  p->kind = kind, p->n = n;
  p->names = sql_alloc(c->arena, (size_t)(n ? n : 1) * sizeof *p->names);
  p->types = sql_alloc(c->arena, (size_t)(n ? n : 1) * sizeof *p->types);
  p->proj = kind == SQL_P_CALC ? sql_alloc(c->arena, (size_t)(n ? n : 1) * sizeof *p->proj) : NULL;
  if (!p->names || !p->types || (kind == SQL_P_CALC && !p->proj)) return sql_oom(c), NULL;
  return p;
}

static const char *alias_of(const cJSON *b) { return sql_js(sql_j(b, "alias"), "aliasname"); }

static sql_plan *plan_from(sql_ctx *c, const cJSON *item, const char **rel) {
  cJSON *b;
  const char *kind = sql_node_kind(item, &b);
  int loc = sql_jloc(item);
  if (!strcmp(kind, "RangeVar")) {
    const char *name = sql_js(b, "relname");
    sql_table *t = sql_find_table(c->sess, name);
    if (!t) {
      char list[400] = "";
      size_t at = 0;
      for (int i = 0; i < c->sess->n_tables && at < sizeof list - 64; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", c->sess->tables[i]->name);
      sql_error(c, loc, "unknown table '%s' (%s%s)", name, at ? "tables: " : "no table is defined yet",
                list);
      return NULL;
    }
    *rel = alias_of(b) ? alias_of(b) : t->name;
    if (t->view) { /* plan the view's query, its locations pointing at its own text */
      const char *saved = c->text;
      c->text = t->view_text;
      sql_plan *p = sql_plan_select(c, t->view);
      c->text = saved;
      if (!p && c->failed && !strstr(c->msg, "(in view")) {
        size_t n = strlen(c->msg);
        snprintf(c->msg + n, sizeof c->msg - n, "\n(in view '%s')", t->name);
      }
      return p;
    }
    if (t->connector == SQL_CONN_PRINT || t->connector == SQL_CONN_BLACKHOLE) {
      sql_error(c, loc, "table '%s' (connector %s) is a sink: it cannot be read", t->name,
                t->connector == SQL_CONN_PRINT ? "print" : "blackhole");
      return NULL;
    }
    sql_plan *p = new_plan(c, SQL_P_SCAN, t->n_cols);
    if (!p) return NULL;
    p->table = t, p->rel = *rel;
    for (int i = 0; i < t->n_cols; i++) p->names[i] = t->names[i], p->types[i] = t->types[i];
    return p;
  }
  if (!strcmp(kind, "RangeSubselect")) {
    *rel = alias_of(b);
    sql_plan *p = sql_plan_select(c, sql_j(b, "subquery"));
    return p && !sql_unique_names(c, p, loc) ? p : NULL;
  }
  if (!strcmp(kind, "JoinExpr")) {
    const char *jt = sql_js(b, "jointype");
    int outer = jt && strcmp(jt, "JOIN_INNER");
    const cJSON *at = sql_j(b, "rarg");
    sql_error(c, sql_jloc(at),
              outer ? "an outer join would need updates/retractions (changelog streams are not built "
                      "yet); it is refused rather than approximated"
                    : "joins are not built yet in sluice SQL (window and interval joins come next)");
    return NULL;
  }
  if (!strcmp(kind, "RangeFunction")) {
    sql_error(c, loc < 0 ? sql_jloc(cJSON_GetArrayItem(cJSON_GetArrayItem(sql_j(sql_j(cJSON_GetArrayItem(sql_j(b, "functions"), 0), "List"), "items"), 0), 0)) : loc,
              "window table functions (TUMBLE, HOP, SESSION) are not built yet in sluice SQL");
    return NULL;
  }
  sql_error(c, loc, "unsupported FROM item (%s)", kind);
  return NULL;
}

/* The name of a SELECT list item without AS: a column's own name, a
 * function's name, else EXPR$i (Flink's). */
static char *derived_name(sql_ctx *c, const cJSON *val, int i) {
  cJSON *b;
  const char *kind = sql_node_kind(val, &b);
  if (!strcmp(kind, "ColumnRef")) {
    const cJSON *last = NULL, *f;
    cJSON_ArrayForEach(f, sql_j(b, "fields")) last = f;
    cJSON *fb;
    sql_node_kind(last, &fb);
    const char *s = sql_js(fb, "sval");
    if (s) return sql_strndup(c->arena, s, strlen(s));
  }
  if (!strcmp(kind, "FuncCall")) {
    const char *s = sql_last_name(sql_j(b, "funcname"));
    if (s) return sql_strndup(c->arena, s, strlen(s));
  }
  char buf[32];
  snprintf(buf, sizeof buf, "EXPR$%d", i);
  return sql_strndup(c->arena, buf, strlen(buf));
}

int sql_unique_names(sql_ctx *c, const sql_plan *p, int loc) {
  for (int a = 0; a < p->n; a++)
    for (int b = a + 1; b < p->n; b++)
      if (!strcmp(p->names[a], p->names[b]))
        return sql_error(c, p->kind == SQL_P_CALC && p->proj[b]->loc >= 0 ? p->proj[b]->loc : loc,
                         "two columns named '%s' (rename one with AS)", p->names[a]);
  return 0;
}

sql_plan *sql_plan_select(sql_ctx *c, const cJSON *node) {
  cJSON *sel;
  if (strcmp(sql_node_kind(node, &sel), "SelectStmt")) {
    sql_error(c, sql_jloc(node), "a SELECT was expected");
    return NULL;
  }
  const char *op = sql_js(sel, "op");
  if (op && strcmp(op, "SETOP_NONE")) {
    sql_error(c, sql_jloc(sql_j(sel, "larg")), "UNION, INTERSECT and EXCEPT are not built yet");
    return NULL;
  }
  if (sql_j(sel, "valuesLists")) {
    sql_error(c, -1, "VALUES is not supported: read from a table (INSERT INTO sink SELECT ... FROM source)");
    return NULL;
  }
  cJSON *group = sql_j(sel, "groupClause");
  if (cJSON_GetArraySize(group)) {
    sql_error(c, sql_jloc(cJSON_GetArrayItem(group, 0)),
              "GROUP BY without a window would need updates/retractions (each new row changes a "
              "group's result; changelog streams are not built yet): group by window_start, "
              "window_end of a window table function instead");
    return NULL;
  }
  if (sql_j(sel, "distinctClause")) {
    sql_error(c, -1, "SELECT DISTINCT would need updates/retractions (changelog streams are not built yet)");
    return NULL;
  }
  if (sql_j(sel, "havingClause")) {
    sql_error(c, sql_jloc(sql_j(sel, "havingClause")), "HAVING needs a windowed GROUP BY");
    return NULL;
  }
  if (sql_j(sel, "sortClause") || sql_j(sel, "limitCount")) {
    const cJSON *s = cJSON_GetArrayItem(sql_j(sel, "sortClause"), 0);
    sql_error(c, s ? sql_jloc(sql_j(sql_j(s, "SortBy"), "node")) : sql_jloc(sql_j(sel, "limitCount")),
              "ORDER BY and LIMIT on an unbounded stream are not supported (Top-N per window comes "
              "with ROW_NUMBER() OVER)");
    return NULL;
  }
  if (sql_j(sel, "withClause")) {
    sql_error(c, -1, "WITH (common table expressions) is not supported: CREATE VIEW instead");
    return NULL;
  }
  cJSON *from = sql_j(sel, "fromClause");
  if (cJSON_GetArraySize(from) != 1) {
    sql_error(c, cJSON_GetArraySize(from) ? sql_jloc(cJSON_GetArrayItem(from, 1)) : -1,
              cJSON_GetArraySize(from) ? "joins are not built yet in sluice SQL (a comma list in FROM)"
                                       : "a streaming query needs FROM a table");
    return NULL;
  }
  const char *rel = NULL;
  sql_plan *in = plan_from(c, cJSON_GetArrayItem(from, 0), &rel);
  if (!in) return NULL;
  sql_scope sc = {rel, in->n, in->names, in->types};
  /* the SELECT list, with * expanded */
  cJSON *targets = sql_j(sel, "targetList"), *t;
  int n = 0;
  cJSON_ArrayForEach(t, targets) {
    cJSON *tb, *vb;
    sql_node_kind(t, &tb);
    const char *vk = sql_node_kind(sql_j(tb, "val"), &vb);
    cJSON *last = NULL, *f;
    cJSON_ArrayForEach(f, sql_j(vb, "fields")) last = f;
    n += !strcmp(vk, "ColumnRef") && last && !strcmp(sql_node_kind(last, NULL), "A_Star") ? in->n : 1;
  }
  sql_plan *p = new_plan(c, SQL_P_CALC, n);
  if (!p) return NULL;
  p->in = in;
  int i = 0;
  cJSON_ArrayForEach(t, targets) {
    cJSON *tb, *vb;
    sql_node_kind(t, &tb);
    cJSON *val = sql_j(tb, "val");
    const char *vk = sql_node_kind(val, &vb);
    cJSON *last = NULL, *f;
    cJSON_ArrayForEach(f, sql_j(vb, "fields")) last = f;
    if (!strcmp(vk, "ColumnRef") && last && !strcmp(sql_node_kind(last, NULL), "A_Star")) {
      if (cJSON_GetArraySize(sql_j(vb, "fields")) == 2) {
        cJSON *qb;
        sql_node_kind(cJSON_GetArrayItem(sql_j(vb, "fields"), 0), &qb);
        const char *q = sql_js(qb, "sval");
        if (!rel || !q || strcmp(q, rel)) {
          sql_error(c, sql_jloc(val), "unknown table '%s' in %s.* (the query reads '%s')", q ? q : "?",
                    q ? q : "?", rel ? rel : "?");
          return NULL;
        }
      }
      for (int k = 0; k < in->n; k++, i++) {
        sql_expr *e = sql_alloc(c->arena, sizeof *e);
        if (!e) return sql_oom(c), NULL;
        e->op = SQL_E_COL, e->type = in->types[k], e->col = k, e->loc = sql_jloc(val);
        p->proj[i] = e, p->names[i] = in->names[k], p->types[i] = in->types[k];
      }
      continue;
    }
    sql_expr *e = sql_compile(c, val, &sc);
    if (!e) return NULL;
    if (e->type.kind == SL__T_NULL) e->type.kind = SL__T_VARCHAR; /* SELECT NULL */
    if (e->type.kind == SL__T_INTERVAL) {
      sql_error(c, e->loc, "an INTERVAL is not a column type: add it to a TIMESTAMP");
      return NULL;
    }
    const char *as = sql_js(tb, "name");
    p->names[i] = as ? sql_strndup(c->arena, as, strlen(as)) : derived_name(c, val, i);
    if (!p->names[i]) return sql_oom(c), NULL;
    p->proj[i] = e, p->types[i] = e->type;
    i++;
  }
  /* a derived name (a function's) that repeats becomes EXPR$i, as Flink names them */
  for (int a = 0; a < n; a++)
    for (int b2 = a + 1; b2 < n; b2++)
      if (!strcmp(p->names[a], p->names[b2]) && p->proj[b2]->op != SQL_E_COL &&
          !sql_js(sql_j(cJSON_GetArrayItem(targets, b2), "ResTarget"), "name")) {
        char buf[32];
        snprintf(buf, sizeof buf, "EXPR$%d", b2);
        if (!(p->names[b2] = sql_strndup(c->arena, buf, strlen(buf)))) return sql_oom(c), NULL;
      }
  cJSON *where = sql_j(sel, "whereClause");
  if (where) {
    sql_expr *w = sql_compile(c, where, &sc);
    if (!w) return NULL;
    if (w->type.kind != SL__T_BOOL && w->type.kind != SL__T_NULL) {
      char tb[32];
      sql_error(c, w->loc, "WHERE must be BOOLEAN, not %s", sl__row_type_name(w->type, tb, sizeof tb));
      return NULL;
    }
    p->where = w;
  }
  return p;
}

int sql_plan_insert(sql_ctx *c, const cJSON *ins, sql_insert *out) {
  cJSON *rv = sql_j(ins, "relation");
  const char *name = sql_js(rv, "relname");
  int loc = cJSON_IsNumber(sql_j(rv, "location")) ? sql_j(rv, "location")->valueint : -1;
  sql_table *t = sql_find_table(c->sess, name);
  if (!t) return sql_error(c, loc, "unknown table '%s' (CREATE TABLE it first)", name);
  if (t->view) return sql_error(c, loc, "'%s' is a view: INSERT INTO a table", name);
  if (t->connector == SQL_CONN_DATAGEN)
    return sql_error(c, loc, "table '%s' (connector datagen) is a source: it cannot be written", name);
  sql_plan *p = sql_plan_select(c, sql_j(ins, "selectStmt"));
  if (!p) return -SL_EINVAL;
  cJSON *cols = sql_j(ins, "cols"), *col;
  int nc = cJSON_GetArraySize(cols);
  int *map = sql_alloc(c->arena, (size_t)(t->n_cols + 1) * sizeof *map); /* sink column -> query column */
  if (!map) return sql_oom(c);
  for (int j = 0; j < t->n_cols; j++) map[j] = nc ? -1 : j;
  int i = 0;
  cJSON_ArrayForEach(col, cols) {
    cJSON *cb;
    sql_node_kind(col, &cb);
    const char *cn = sql_js(cb, "name");
    int j = 0;
    while (j < t->n_cols && strcmp(t->names[j], cn)) j++;
    if (j == t->n_cols) return sql_error(c, sql_jloc(col), "table '%s' has no column '%s'", t->name, cn);
    map[j] = i++;
  }
  int want = nc ? nc : t->n_cols;
  if (p->n != want)
    return sql_error(c, loc, "INSERT INTO %s: the %s %d columns, the query gives %d", t->name,
                     nc ? "column list names" : "table has", want, p->n);
  /* the final CALC yields the sink's columns, in its order and types */
  sql_plan *f = new_plan(c, SQL_P_CALC, t->n_cols);
  if (!f) return sql_oom(c);
  f->in = p->in, f->where = p->where;
  for (int j = 0; j < t->n_cols; j++) {
    char what[160];
    snprintf(what, sizeof what, "column '%s' of '%s'", t->names[j], t->name);
    sql_expr *e;
    if (map[j] < 0) {
      e = sql_alloc(c->arena, sizeof *e);
      if (!e) return sql_oom(c);
      e->op = SQL_E_CONST, e->type = t->types[j], e->k.null = 1, e->loc = -1;
    } else if (!(e = sql_coerce(c, p->proj[map[j]], t->types[j], what))) {
      return -SL_EINVAL;
    }
    f->proj[j] = e, f->names[j] = t->names[j], f->types[j] = t->types[j];
  }
  out->plan = f, out->sink = t;
  return 0;
}

/* ---- EXPLAIN ------------------------------------------------------------------ */

static void opts_text(const sql_table *t, char *buf, size_t cap) {
  size_t at = 0;
  buf[0] = 0;
  for (int i = 0; i < t->n_opts && at < cap; i++)
    at += (size_t)snprintf(buf + at, cap - at, "%s%s=%s", i ? ", " : "", t->keys[i], t->vals[i]);
}

static void explain_plan(const sql_plan *p, int depth, char **buf, size_t *len, size_t *cap) {
  char tmp[1024];
  if (p->kind == SQL_P_SCAN) {
    const sql_table *t = p->table;
    if (t->connector == SQL_CONN_FILESYSTEM)
      sql_appendf(buf, len, cap, "%*sdecode: %s (%s -> row of %d columns)\n", depth, "", t->name,
                  t->format == SQL_FMT_JSON ? "json" : "csv", t->n_cols);
    opts_text(t, tmp, sizeof tmp);
    sql_appendf(buf, len, cap, "%*ssource: %s [%s]\n", depth + (t->connector == SQL_CONN_FILESYSTEM ? 2 : 0),
                "", t->name, tmp);
    return;
  }
  sql_scope sc = {NULL, p->in->n, p->in->names, p->in->types};
  sql_appendf(buf, len, cap, "%*scalc: select ", depth, "");
  for (int i = 0; i < p->n; i++) {
    sql_expr_text(p->proj[i], &sc, tmp, sizeof tmp);
    char tn[32];
    sql_appendf(buf, len, cap, "%s%s AS %s %s", i ? ", " : "", tmp, p->names[i],
                sl__row_type_name(p->types[i], tn, sizeof tn));
  }
  if (p->where) {
    sql_expr_text(p->where, &sc, tmp, sizeof tmp);
    sql_appendf(buf, len, cap, " where %s", tmp);
  }
  sql_appendf(buf, len, cap, "\n");
  explain_plan(p->in, depth + 2, buf, len, cap);
}

void sql_explain(const sql_insert *ins, int n, char **buf, size_t *len, size_t *cap) {
  for (int i = 0; i < n; i++) {
    const sql_table *t = ins[i].sink;
    char tmp[1024];
    if (t) {
      opts_text(t, tmp, sizeof tmp);
      sql_appendf(buf, len, cap, "sink: %s [%s]\n", t->name, tmp);
      sql_appendf(buf, len, cap, "  encode: %s (row -> %s)\n", t->name,
                  t->connector == SQL_CONN_FILESYSTEM ? (t->format == SQL_FMT_JSON ? "json" : "csv")
                  : t->connector == SQL_CONN_PRINT   ? "+I[...] text"
                                                     : "nothing");
    } else {
      sql_appendf(buf, len, cap, "sink: print (a query's result)\n  encode: (row -> +I[...] text)\n");
    }
    explain_plan(ins[i].plan, 4, buf, len, cap);
  }
}

/* ---- the job ------------------------------------------------------------------- */

static void *scratch(void *ud, size_t n) { return sl_ctx_scratch(ud, n); }

/* "line N" of a record from a text source, else "row". */
static void where_of(char *buf, size_t cap, const sql_table *t, const sl_record *in) {
  if (t && t->path && in->ts != SL_NO_TIMESTAMP)
    snprintf(buf, cap, "table '%s' (%s) line %lld", t->name, t->path, (long long)in->ts);
  else if (t)
    snprintf(buf, cap, "table '%s'", t->name);
  else
    snprintf(buf, cap, "row");
}

static int decode(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  const sql_plan *p = ud;
  const sql_table *t = p->table;
  int n = t->n_cols;
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)n * sizeof *vals);
  char *buf = sl_ctx_scratch(ctx, in->value_len + 1);
  if (!vals || !buf) return -SL_ENOMEM;
  const char *why = NULL;
  char reason[256];
  int bad = -1;
  const char *line = in->value;
  size_t len = in->value_len;
  if (len && line[len - 1] == '\r') len--;
  if (t->format == SQL_FMT_JSON) {
    if (sl__row_from_json(line, len, n, t->types, (const char *const *)t->names, vals, buf,
                          in->value_len + 1, &why, &bad)) {
      if (bad >= 0) {
        char tn[32];
        snprintf(reason, sizeof reason, "column '%s' (%s): %s", t->names[bad],
                 sl__row_type_name(t->types[bad], tn, sizeof tn), why);
        why = reason;
      }
      goto badrec;
    }
  } else {
    sl__csv_field *f = sl_ctx_scratch(ctx, (size_t)(n + 1) * sizeof *f);
    if (!f) return -SL_ENOMEM;
    int nf = sl__csv_split(line, len, f, n + 1, buf, in->value_len + 1, &why);
    if (nf < 0) goto badrec;
    if (nf != n) {
      snprintf(reason, sizeof reason, "%d fields, the table has %d columns", nf, n);
      why = reason;
      goto badrec;
    }
    for (int i = 0; i < n; i++) {
      if (!f[i].quoted && f[i].n == 0) {
        vals[i] = (sl__val){.null = 1};
        continue;
      }
      if (sl__row_parse_text(t->types[i], f[i].p, f[i].n, &vals[i], &why)) {
        char tn[32];
        snprintf(reason, sizeof reason, "column '%s' (%s): %s: '%.*s'", t->names[i],
                 sl__row_type_name(t->types[i], tn, sizeof tn), why, (int)(f[i].n > 40 ? 40 : f[i].n),
                 f[i].p);
        why = reason;
        goto badrec;
      }
    }
  }
  size_t sz = sl__row_size(t->types, vals, n);
  void *row = sl_ctx_scratch(ctx, sz);
  if (!row) return -SL_ENOMEM;
  sl__row_write(row, t->types, vals, n);
  sl_record r = {in->ts, NULL, 0, row, (uint32_t)sz};
  return sl_emit(out, &r);
badrec: {
  char where[512];
  where_of(where, sizeof where, t, in);
  return sl_ctx_bad_record(ctx, where, why, in);
}
}

/* The row as a CSV line in scratch memory (for bad records). */
static sl_record row_as_text(sl_ctx *ctx, const sl_record *in, const sql_plan *p) {
  sl_record r = *in;
  size_t need = sl__row_to_csv(in->value, p->n, p->types, NULL, 0);
  char *buf = sl_ctx_scratch(ctx, need);
  if (buf) {
    sl__row_to_csv(in->value, p->n, p->types, buf, need);
    r.value = buf, r.value_len = (uint32_t)need;
  }
  return r;
}

static int calc(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  const sql_plan *p = ud;
  const sql_plan *src = p->in;
  sql_eval ev = {in->value, src->n, src->types, scratch, ctx, {0}};
  sl__val v;
  if (p->where) {
    if (sql_eval_expr(p->where, &ev, &v)) goto bad;
    if (v.null || !v.u.i) return 0;
  }
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)p->n * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  for (int i = 0; i < p->n; i++)
    if (sql_eval_expr(p->proj[i], &ev, &vals[i])) goto bad;
  size_t sz = sl__row_size(p->types, vals, p->n);
  void *row = sl_ctx_scratch(ctx, sz);
  if (!row) return -SL_ENOMEM;
  sl__row_write(row, p->types, vals, p->n);
  sl_record r = {in->ts, NULL, 0, row, (uint32_t)sz};
  return sl_emit(out, &r);
bad: {
  char where[512];
  const sql_plan *s = src;
  while (s->kind != SQL_P_SCAN) s = s->in;
  where_of(where, sizeof where, s->table, in);
  sl_record text = row_as_text(ctx, in, src);
  return sl_ctx_bad_record(ctx, where, ev.err, &text);
}
}

typedef struct sink_ud {
  const sql_plan *plan;
  const sql_table *sink; /* NULL: print */
} sink_ud;

static int encode(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const sink_ud *s = ud;
  const sql_plan *p = s->plan;
  int fmt = !s->sink || s->sink->connector == SQL_CONN_PRINT ? 0 : s->sink->format;
  size_t cap = (size_t)in->value_len * 2 + 64, need;
  for (;;) {
    char *buf = sl_ctx_scratch(ctx, cap);
    if (!buf) return -SL_ENOMEM;
    need = fmt == SQL_FMT_CSV    ? sl__row_to_csv(in->value, p->n, p->types, buf, cap)
           : fmt == SQL_FMT_JSON ? sl__row_to_json(in->value, p->n, p->types,
                                                   (const char *const *)p->names, buf, cap)
                                 : sl__row_to_print(in->value, p->n, p->types, buf, cap);
    if (need <= cap) {
      out->value = buf, out->value_len = (uint32_t)need;
      return 0;
    }
    cap = need;
  }
}

/* datagen: column i of row `index`, deterministic in (seed, column, index) */
static uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

static int gen(void *ud, sl_ctx *ctx, uint64_t index, sl_record *out) {
  const sql_plan *p = ud;
  const sql_table *t = p->table;
  int n = t->n_cols;
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)n * sizeof *vals);
  size_t strs = 0;
  for (int i = 0; i < n; i++)
    if (t->types[i].kind == SL__T_VARCHAR) strs += (size_t)t->gen[i].length;
  char *sbuf = sl_ctx_scratch(ctx, strs + 1);
  if (!vals || !sbuf) return -SL_ENOMEM;
  for (int i = 0; i < n; i++) {
    const sql_gen *g = &t->gen[i];
    sl__val *v = &vals[i];
    *v = (sl__val){0};
    uint64_t r = mix(g->seed ^ mix((uint64_t)i * 0x9E3779B97F4A7C15ULL ^ mix(index)));
    int k = t->types[i].kind;
    if (g->kind == SQL_GEN_SEQUENCE) {
      int64_t x = g->start + (int64_t)index * g->step;
      if (k == SL__T_DOUBLE) v->u.f = (double)x;
      else if (k == SL__T_VARCHAR) {
        int len = snprintf(sbuf, 24, "%lld", (long long)x);
        v->u.s.p = sbuf, v->u.s.n = (uint32_t)len;
        sbuf += len;
      } else if (k == SL__T_BOOL) v->u.i = x & 1;
      else v->u.i = x;
      if (k == SL__T_DECIMAL) /* the sequence counts whole units */
        for (int sc = 0; sc < t->types[i].scale; sc++) v->u.i *= 10;
      continue;
    }
    switch (k) {
      case SL__T_BOOL: v->u.i = (int64_t)(r & 1); break;
      case SL__T_INT:
      case SL__T_BIGINT:
      case SL__T_TIMESTAMP:
      case SL__T_DECIMAL: {
        uint64_t span = (uint64_t)(g->max - g->min) + 1;
        v->u.i = span ? g->min + (int64_t)(r % span) : (int64_t)r;
        break;
      }
      case SL__T_DOUBLE: v->u.f = g->fmin + (double)(r >> 11) / 9007199254740992.0 * (g->fmax - g->fmin); break;
      case SL__T_VARCHAR:
        for (int c = 0; c < g->length; c++) sbuf[c] = (char)('a' + mix(r + (uint64_t)c) % 26);
        v->u.s.p = sbuf, v->u.s.n = (uint32_t)g->length;
        sbuf += g->length;
        break;
    }
  }
  size_t sz = sl__row_size(t->types, vals, n);
  void *row = sl_ctx_scratch(ctx, sz);
  if (!row) return -SL_ENOMEM;
  sl__row_write(row, t->types, vals, n);
  *out = (sl_record){SL_NO_TIMESTAMP, NULL, 0, row, (uint32_t)sz};
  return 0;
}

static sl_stream *build_plan(sql_ctx *c, const sql_plan *p) {
  char name[192];
  if (p->kind == SQL_P_SCAN) {
    const sql_table *t = p->table;
    snprintf(name, sizeof name, "source: %s", t->name);
    if (t->connector == SQL_CONN_DATAGEN) {
      sl_stream *s = sl_source_stream(c->env, sl_datagen_source(t->rows, gen, (void *)p));
      return sl_name(s, name);
    }
    sl_stream *s = sl_name(sl_source_stream(c->env, sl_file_source(t->path)), name);
    snprintf(name, sizeof name, "decode: %s", t->name);
    return sl_name(sl_flat_map(s, decode, (void *)p), name);
  }
  sl_stream *in = build_plan(c, p->in);
  return sl_name(sl_flat_map(in, calc, (void *)p), "calc");
}

static int uses_files(const sql_plan *p) {
  for (; p; p = p->in)
    if (p->kind == SQL_P_SCAN && p->table->connector == SQL_CONN_FILESYSTEM) return 1;
  return 0;
}

int sql_build(sql_ctx *c, const sql_insert *ins, int n) {
  int files = 0;
  for (int i = 0; i < n; i++) files |= uses_files(ins[i].plan);
  /* bad lines are reported by number: the text sources put it in the timestamp */
  if (files && sl_env_set(c->env, "source.text.line-numbers", "true"))
    return sql_error(c, -1, "%s", sl_env_last_error(c->env));
  for (int i = 0; i < n; i++) {
    const sql_table *t = ins[i].sink;
    for (const sql_plan *p = ins[i].plan; p; p = p->in)
      if (p->kind == SQL_P_SCAN && p->table->connector == SQL_CONN_DATAGEN) {
        const char *rps = sql_opt(p->table, "rows-per-second");
        if (rps && sl_env_set(c->env, "source.datagen.rows-per-second", rps))
          return sql_error(c, -1, "table '%s': rows-per-second: %s", p->table->name,
                           sl_env_last_error(c->env));
      }
    sl_stream *s = build_plan(c, ins[i].plan);
    sink_ud *su = sql_alloc(c->arena, sizeof *su);
    if (!su) return sql_oom(c);
    su->plan = ins[i].plan, su->sink = t;
    char name[192];
    snprintf(name, sizeof name, "encode: %s", t ? t->name : "print");
    s = sl_name(sl_map(s, encode, su), name);
    sl_sink *k = !t || t->connector == SQL_CONN_PRINT ? sl_print_sink()
                 : t->connector == SQL_CONN_BLACKHOLE ? sl_discard_sink()
                                                      : sl_file_sink(t->path);
    if (sl_sink_to(s, k)) break; /* sl_execute reports the graph's error */
  }
  return 0;
}

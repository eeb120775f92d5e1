/*
 * plan.c -- queries: SELECT -> a logical plan, EXPLAIN, and the job.
 *
 * The logical plan is a chain of nodes, each with its output columns:
 *
 *   SCAN       a table (its connector and format) or, recursively, a view
 *              or a subquery in FROM
 *   CALC       Flink's Calc: an optional WHERE and the SELECT list, one pass
 *   WINASSIGN  a window table function's rows (TUMBLE / HOP in FROM without
 *              GROUP BY): the input's columns + window_start, window_end
 *   WINAGG     TUMBLE / HOP / SESSION with GROUP BY window_start,
 *              window_end, keys: a CALC below it computes [keys...,
 *              aggregate arguments...] (and WHERE), the window aggregates
 *              per key (24-byte accumulator slots, merged for sessions) and
 *              emits [window_start, window_end, keys..., aggregates...]
 *              once when the window closes; a CALC above it is the SELECT
 *              list (and HAVING) over those columns
 *
 *   TOPN       Window Top-N: ROW_NUMBER() / RANK() OVER (PARTITION BY
 *              window_start, window_end, ... ORDER BY ...) in a SELECT list,
 *              the limit from WHERE rn <= N of the query around it: keyed
 *              by the partition, the best N rows (ties at the edge too for
 *              RANK) in value state, emitted with their number by an
 *              event-time timer at window_end - 1, then forgotten.
 *              Partitioned otherwise: a Top-N over the unbounded stream,
 *              its kept rows updated per row and each changed rank
 *              emitted as -U/+U (a changelog; topn_update)
 *
 *   JOIN       an inner equi-join of two inputs (in, right): a window
 *              join when ON pairs both sides' window_end (each side's rows
 *              restamped to window_end - 1, keyed by the equalities, met
 *              in sl_window_join's 1 ms tumbling window: pairs when the
 *              window ends); an interval join when ON bounds both sides'
 *              event times from below and above (sl_interval_join);
 *              else a regular join (sl_connect of the keyed
 *              sides, list state per side kept for good, pairs at once);
 *              the rest of ON is a CALC filter above it; LEFT /
 *              RIGHT / FULL joins are regular joins that check the rest
 *              of ON per pair (jcond) and emit a changelog
 *   GROUPAGG   GROUP BY without a window, DISTINCT, aggregates of every
 *              row: as WINAGG without the window columns, updated per row
 *              (MIN / MAX of VARCHAR: the best string after the slots)
 *
 * and an INSERT adds the sink.  A node whose result changes rows already
 * emitted -- GROUPAGG, an outer JOIN, a join or CALC over one -- is a changelog
 * (sql_plan.changelog): its rows carry Flink's RowKind byte (+I, -U, +U,
 * -D; row.h) before the row.  A regular inner join of an updating input
 * retracts the pairs of a retracted row; what cannot take one yet
 * (windows and Top-N of an updating input, append-only sinks)
 * refuses it with the reason rather than approximating.
 *
 * The job (sl__sql_build) is made of public API calls only:
 *
 *   filesystem: sl_file_source -> "decode: T" (flat_map: a CSV or JSON
 *               line -> a row; a line that does not parse as the declared
 *               types is a bad record "table 'T' (PATH) line N": to
 *               pipeline.dead-letter.path, else the job fails naming it)
 *   datagen:    sl_datagen_source producing rows directly
 *   nexmark:    sl_nexmark_source -> "decode: T" (the table's kind only)
 *   kafka:      sl_kafka_source, rows decoded in its deserializer (bad
 *               messages named by topic, partition, offset; per-partition
 *               watermarks); postgres: sl_postgres_source -> "decode: T"
 *   postgres with 'scan.mode' = 'cdc': sl_postgres_source with a typed
 *               deserializer (decode_cdc) producing changelog rows [kind
 *               byte][row] directly: the SCAN's changelog is 1.  One
 *               snapshot split (the connector's default for cdc; sql.c
 *               refuses more: one reader emits the snapshot, then the
 *               stream, in order; rows of two readers reach an operator in
 *               no order between them, and a change could overtake its
 *               row's snapshot image); a value
 *               the server did not send (REPLICA IDENTITY DEFAULT's old
 *               images) fails the job; each CDC scan of a job needs a
 *               replication slot of its own (check_slots)
 *   upsert-kafka: sl_kafka_source decoding upserts and tombstones in
 *               its deserializer -> key_by(the primary key) -> "changelog
 *               normalize: T" (value state of the row now: +I, -U/+U, -D)
 *   format 'debezium-json' (filesystem, kafka): change events decoded
 *               into changelog rows (a file's in "decode: T"; a Kafka
 *               message's in the deserializer, an update's two rows split
 *               by "split updates: T")
 *   [-> "watermarks: T" (sl_assign_timestamps, bounded out-of-orderness)
 *      when the table has a watermark option; the row's time column is
 *      the record's timestamp from decode on]
 *   -> "calc" (flat_map: WHERE, then the SELECT list into a new row; a row
 *      whose expressions fail -- division by zero, a cast that does not
 *      parse -- is a bad record, written out as CSV; not built when it
 *      would pass its input on unchanged)
 *   [-> key_by(the key columns as a row) -> "window" (sl_window_aggregate;
 *      sl_window_process with COUNT(DISTINCT) or MIN/MAX of VARCHAR)
 *      -> "calc"] or [-> "windows" (flat_map: a row per window)]
 *   [-> key_by(group) -> "group aggregate" (sl_keyed_process, value state)]
 *   -> "encode: S" (map: row -> CSV/JSON line, a Debezium c / d event, or
 *      Flink's +I[...] for print; none for blackhole) -> the sink (sl_file_sink: one file, or
 *      exactly-once part files in a directory; sl_kafka_sink;
 *      sl_postgres_sink; sl_print_sink; sl_discard_sink)
 *   upsert-kafka: -> key_by(the primary key) -> "encode: S" (flat_map:
 *      key = the key columns in key.format, value = the row in
 *      value.format; -U dropped; -D with an empty value) -> sl_kafka_sink
 *      with sink.empty-value-as-null (the -D a NULL value: a tombstone)
 *
 * Rows travel as the binary row of row/row.h; every operator builds its
 * output in sl_ctx_scratch memory, so nothing is allocated per row.
 */
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "sluice_nexmark.h"
#include "sql/sql.h"

/* ---- planning ----------------------------------------------------------------- */

static sql_plan *new_plan(sql_ctx *c, int kind, int n) {
  sql_plan *p = sl__sql_alloc(c->arena, sizeof *p);
  if (!p) return sl__sql_oom(c), NULL;
  p->kind = kind, p->n = n;
  p->names = sl__sql_alloc(c->arena, (size_t)(n ? n : 1) * sizeof *p->names);
  p->types = sl__sql_alloc(c->arena, (size_t)(n ? n : 1) * sizeof *p->types);
  p->proj = kind == SQL_P_CALC ? sl__sql_alloc(c->arena, (size_t)(n ? n : 1) * sizeof *p->proj) : NULL;
  if (!p->names || !p->types || (kind == SQL_P_CALC && !p->proj)) return sl__sql_oom(c), NULL;
  return p;
}

static const char *alias_of(const cJSON *b) { return sl__sql_js(sl__sql_j(b, "alias"), "aliasname"); }
static int counted_join(const sql_plan *j);

/* What else a message about a changelog source table t can suggest. */
static const char *changelog_alt(const sql_table *t) {
  return t->cdc ? ", or read it as a snapshot (no 'scan.mode')"
         : t->connector == SQL_CONN_UPSERT_KAFKA ? ", or read the topic's messages as rows (connector 'kafka')"
                                                 : "";
}

/* A window table function in FROM: TUMBLE(t, col, size), HOP(t, col,
 * slide, size), SESSION(t, col, gap). */
typedef struct sql_window {
  int kind; /* 0: none; else SL_WINDOW_* + 1 */
  int64_t size, slide, gap;
  int time_col; /* -1: PROCTIME() */
  int proctime;
  int loc;
} sql_window;

static int window_arg_ms(sql_ctx *c, const cJSON *node, const char *what, int64_t *ms) {
  sql_scope none = {0};
  sql_expr *e = sl__sql_compile(c, node, &none);
  if (!e) return -SL_EINVAL;
  if (e->op != SQL_E_CONST || e->k.null ||
      (e->type.kind != SL__T_INTERVAL && e->type.kind != SL__T_INT && e->type.kind != SL__T_BIGINT) ||
      e->k.u.i <= 0)
    return sl__sql_error(c, e->loc, "the window's %s is a positive INTERVAL (INTERVAL '10' SECOND) or a "
                                "number of milliseconds", what);
  *ms = e->k.u.i;
  return 0;
}

static sql_plan *plan_from(sql_ctx *c, const cJSON *item, const char **rel, sql_window *win);

static sql_plan *plan_window_tvf(sql_ctx *c, const cJSON *b, const char **rel, sql_window *win) {
  const cJSON *fn = sl__sql_j(sl__sql_j(cJSON_GetArrayItem(sl__sql_j(b, "functions"), 0), "List"), "items");
  cJSON *fb;
  if (strcmp(sl__sql_node_kind(cJSON_GetArrayItem(fn, 0), &fb), "FuncCall")) {
    sl__sql_error(c, sl__sql_jloc(cJSON_GetArrayItem(fn, 0)), "only window table functions (TUMBLE, HOP, SESSION) may be in FROM");
    return NULL;
  }
  int loc = sl__sql_jloc(cJSON_GetArrayItem(fn, 0));
  const char *name = sl__sql_last_name(sl__sql_j(fb, "funcname"));
  cJSON *args = sl__sql_j(fb, "args");
  int n = cJSON_GetArraySize(args), kind = 0, want = 0;
  if (name && !strcasecmp(name, "tumble")) kind = SL_WINDOW_TUMBLING + 1, want = 3;
  if (name && !strcasecmp(name, "hop")) kind = SL_WINDOW_SLIDING + 1, want = 4;
  if (name && !strcasecmp(name, "session")) kind = SL_WINDOW_SESSION + 1, want = 3;
  if (!kind) {
    sl__sql_error(c, loc, "unknown table function '%s' (window table functions: TUMBLE(t, col, size), "
                      "HOP(t, col, slide, size), SESSION(t, col, gap))", name ? name : "?");
    return NULL;
  }
  if (n != want) {
    sl__sql_error(c, loc, "%s takes %d arguments: %s", name, want,
              want == 4 ? "HOP(table, time column, slide, size)"
              : kind == SL_WINDOW_SESSION + 1 ? "SESSION(table, time column, gap)"
                                              : "TUMBLE(table, time column, size)");
    return NULL;
  }
  /* the table: a name, as a column reference */
  cJSON *tb;
  const cJSON *targ = cJSON_GetArrayItem(args, 0);
  const char *tname = NULL;
  if (!strcmp(sl__sql_node_kind(targ, &tb), "ColumnRef") && cJSON_GetArraySize(sl__sql_j(tb, "fields")) == 1) {
    cJSON *nb;
    sl__sql_node_kind(cJSON_GetArrayItem(sl__sql_j(tb, "fields"), 0), &nb);
    tname = sl__sql_js(nb, "sval");
  }
  sql_table *t = tname ? sl__sql_find_table(c->sess, tname) : NULL;
  if (!t || t->view) {
    sl__sql_error(c, sl__sql_jloc(targ), tname && t ? "a window table function reads a table, not a view ('%s')"
                                            : "the first argument of %s is a table name",
              tname && t ? tname : name);
    return NULL;
  }
  /* plan the scan as FROM t */
  cJSON *rv = cJSON_CreateObject(), *rb = cJSON_AddObjectToObject(rv, "RangeVar");
  cJSON_AddStringToObject(rb, "relname", tname);
  cJSON_AddNumberToObject(rb, "location", sl__sql_jloc(targ));
  const char *alias = sl__sql_js(sl__sql_j(b, "alias"), "aliasname");
  sql_plan *p = plan_from(c, rv, rel, NULL);
  cJSON_Delete(rv);
  if (!p) return NULL;
  if (p->changelog) {
    const sql_table *st = p->kind == SQL_P_SCAN ? p->table : NULL; /* else a view's query */
    sl__sql_error(c, sl__sql_jloc(targ), "TUMBLE/HOP/SESSION over an updating table (%s '%s' %s) is not built: "
                                         "aggregate it without a window (GROUP BY)%s",
                  !st ? "the view" : st->cdc ? "a CDC table:"
                  : st->connector == SQL_CONN_UPSERT_KAFKA ? "an upsert-kafka table:" : "a debezium-json table:",
                  tname,
                  !st ? "is an updating query's result" : st->cdc ? "has 'scan.mode' = 'cdc', its rows are updated and deleted"
                  : st->connector == SQL_CONN_UPSERT_KAFKA ? "holds the last row per key, updated and deleted"
                                                           : "is a changelog of inserts, updates and deletes",
                  st ? changelog_alt(st) : "");
    return NULL;
  }
  if (alias) *rel = alias;
  /* the time column: the table's event time (its watermark's column) */
  cJSON *cb;
  const cJSON *carg = cJSON_GetArrayItem(args, 1);
  const char *cname = NULL;
  if (!strcmp(sl__sql_node_kind(carg, &cb), "ColumnRef")) {
    cJSON *nb, *last = NULL, *f;
    cJSON_ArrayForEach(f, sl__sql_j(cb, "fields")) last = f;
    sl__sql_node_kind(last, &nb);
    cname = sl__sql_js(nb, "sval");
  }
  cJSON *pb;
  if (!strcmp(sl__sql_node_kind(carg, &pb), "FuncCall")) { /* PROCTIME(): processing time */
    const char *fname = sl__sql_last_name(sl__sql_j(pb, "funcname"));
    if (!fname || strcasecmp(fname, "proctime") || cJSON_GetArraySize(sl__sql_j(pb, "args"))) {
      sl__sql_error(c, sl__sql_jloc(carg), "the window's time is the table's event time column or PROCTIME()");
      return NULL;
    }
    win->proctime = 1;
    cname = t->rowtime >= 0 ? t->names[t->rowtime] : NULL;
  }
  if (!win->proctime && t->rowtime < 0) {
    sl__sql_error(c, sl__sql_jloc(carg), "table '%s' has no event time: declare it with WITH (watermark = "
                                 "'%s - INTERVAL ''1'' SECOND')", t->name, cname ? cname : "column");
    return NULL;
  }
  if (!win->proctime && (!cname || strcmp(cname, t->names[t->rowtime]))) {
    sl__sql_error(c, sl__sql_jloc(carg), "the window's time column must be '%s', the table's event time (its "
                                 "watermark's column)", t->names[t->rowtime]);
    return NULL;
  }
  win->kind = kind, win->time_col = win->proctime ? -1 : t->rowtime, win->loc = loc;
  if (kind == SL_WINDOW_TUMBLING + 1 && window_arg_ms(c, cJSON_GetArrayItem(args, 2), "size", &win->size)) return NULL;
  if (kind == SL_WINDOW_SESSION + 1 && window_arg_ms(c, cJSON_GetArrayItem(args, 2), "gap", &win->gap)) return NULL;
  if (kind == SL_WINDOW_SLIDING + 1 && (window_arg_ms(c, cJSON_GetArrayItem(args, 2), "slide", &win->slide) ||
                                        window_arg_ms(c, cJSON_GetArrayItem(args, 3), "size", &win->size)))
    return NULL;
  return p;
}

/* The column that is a window's end (window_end, or what a CALC renamed
 * it to), -1: none. */
static int wend_of(const sql_plan *p) {
  switch (p->kind) {
  case SQL_P_WINAGG: return p->proctime ? -1 : 1;
  case SQL_P_WINASSIGN: return p->n - 1;
  case SQL_P_TOPN: return p->time_col >= 0 ? wend_of(p->in) : -1; /* (unbounded: updating) */
  case SQL_P_JOIN: return p->wend;
  case SQL_P_CALC: {
    int w = wend_of(p->in);
    for (int k = 0; w >= 0 && k < p->n; k++)
      if (p->proj[k]->op == SQL_E_COL && p->proj[k]->col == w) return k;
    return -1;
  }
  default: return -1;
  }
}

static sql_plan *window_rows_node(sql_ctx *c, sql_plan *in, const sql_window *win);

static int int_kind(int k) { return k == SL__T_INT || k == SL__T_BIGINT || k == SL__T_BOOL; }

/* The column whose value is the records' timestamp (the table's event
 * time, carried through calcs and window rows), -1: none. */
static int rowtime_of(const sql_plan *p) {
  switch (p->kind) {
  case SQL_P_SCAN: return p->table->rowtime;
  case SQL_P_WINASSIGN: return rowtime_of(p->in);
  case SQL_P_CALC: {
    int t = rowtime_of(p->in);
    for (int k = 0; t >= 0 && k < p->n; k++)
      if (p->proj[k]->op == SQL_E_COL && p->proj[k]->col == t) return k;
    return -1;
  }
  default: return -1;
  }
}

/* e = COL [+- constant ms]: the column and the offset; 0 if not that. */
static int time_term(const sql_expr *e, int *col, int64_t *off) {
  *off = 0;
  if ((e->op == SQL_E_ADD || e->op == SQL_E_SUB) && e->n == 2 && e->args[1]->op == SQL_E_CONST &&
      !e->args[1]->k.null && (e->args[1]->type.kind == SL__T_INTERVAL || int_kind(e->args[1]->type.kind))) {
    *off = e->op == SQL_E_ADD ? e->args[1]->k.u.i : -e->args[1]->k.u.i;
    e = e->args[0];
  }
  if (e->op != SQL_E_COL) return 0;
  *col = e->col;
  return 1;
}

/* A bound of the ON condition on d = left.time - right.time (lt, rt: the
 * join's columns of both sides' times): narrows [*lo, *hi]. */
static void time_bound(const sql_expr *e, int lt, int rt, int64_t *lo, int64_t *hi, int *has_lo, int *has_hi) {
  if ((e->op != SQL_E_LE && e->op != SQL_E_LT && e->op != SQL_E_GE && e->op != SQL_E_GT) || e->n != 2) return;
  int xc, yc;
  int64_t xo, yo;
  if (!time_term(e->args[0], &xc, &xo) || !time_term(e->args[1], &yc, &yo)) return;
  int le = e->op == SQL_E_LE || e->op == SQL_E_LT, strict = e->op == SQL_E_LT || e->op == SQL_E_GT;
  if (xc == rt && yc == lt) { /* swap into left op right */
    int t = xc;
    xc = yc, yc = t;
    int64_t o = xo;
    xo = yo, yo = o;
    le = !le;
  }
  if (xc != lt || yc != rt) return;
  /* l + xo (<= | >=) r + yo  ->  d (<= | >=) yo - xo */
  int64_t k = yo - xo;
  if (le) {
    k -= strict;
    if (!*has_hi || k < *hi) *hi = k;
    *has_hi = 1;
  } else {
    k += strict;
    if (!*has_lo || k > *lo) *lo = k;
    *has_lo = 1;
  }
}

/* One side of a join: a table, view or subquery, or a window table
 * function's rows (TUMBLE / HOP with window_start, window_end). */
static sql_plan *join_side(sql_ctx *c, const cJSON *item, const char **rel) {
  sql_window w = {0};
  sql_plan *p = plan_from(c, item, rel, &w);
  if (p && w.kind) p = window_rows_node(c, p, &w);
  return p;
}

static void conjuncts(const sql_expr *e, const sql_expr **out, int *n, int cap) {
  if (e->op == SQL_E_AND) {
    for (int i = 0; i < e->n; i++) conjuncts(e->args[i], out, n, cap);
  } else if (*n < cap) {
    out[(*n)++] = e;
  }
}


/* An INT column widened to BIGINT for a comparison is the column (both
 * are int64 in the row). */
static const sql_expr *uncast_int(const sql_expr *e) {
  if (e->op == SQL_E_CAST && e->n == 1 && e->args[0]->op == SQL_E_COL && int_kind(e->type.kind) &&
      int_kind(e->args[0]->type.kind))
    return e->args[0];
  return e;
}

/* a AND b (a NULL: b); NULL on OOM. */
static sql_expr *and_of(sql_ctx *c, sql_expr *a, sql_expr *b) {
  if (!a) return b;
  sql_expr *e = sl__sql_alloc(c->arena, sizeof *e);
  sql_expr **args = sl__sql_alloc(c->arena, 2 * sizeof *args);
  if (!e || !args) return sl__sql_oom(c), NULL;
  e->op = SQL_E_AND, e->type.kind = SL__T_BOOL, e->loc = b->loc, e->n = 2, e->args = args;
  args[0] = a, args[1] = b;
  return e;
}

/* a JOIN b ON ...: equi-joins; inner, or LEFT / RIGHT / FULL [OUTER] as
 * regular joins whose result is a changelog; of updating inputs too. */
static sql_plan *plan_join(sql_ctx *c, const cJSON *b, const char **rel) {
  const char *jt = sl__sql_js(b, "jointype");
  const cJSON *rarg = sl__sql_j(b, "rarg");
  int outer = !jt || !strcmp(jt, "JOIN_INNER") ? 0
              : !strcmp(jt, "JOIN_LEFT")       ? SQL_OUTER_LEFT
              : !strcmp(jt, "JOIN_RIGHT")      ? SQL_OUTER_RIGHT
              : !strcmp(jt, "JOIN_FULL")       ? SQL_OUTER_LEFT | SQL_OUTER_RIGHT
                                               : -1;
  if (outer < 0)
    return sl__sql_error(c, sl__sql_jloc(rarg), "%s is not built (joins: [INNER] JOIN, LEFT, RIGHT or FULL "
                                                "[OUTER] JOIN ... ON)", jt), NULL;
  const cJSON *quals = sl__sql_j(b, "quals");
  if (!quals || sl__sql_j(b, "usingClause") || cJSON_IsTrue(sl__sql_j(b, "isNatural")))
    return sl__sql_error(c, sl__sql_jloc(rarg), "a join needs ON with an equality of the two sides "
                                               "(USING, NATURAL and cross joins are not built)"), NULL;
  const char *lrel = NULL, *rrel = NULL;
  sql_plan *l = join_side(c, sl__sql_j(b, "larg"), &lrel);
  if (!l) return NULL;
  sql_plan *r = join_side(c, rarg, &rrel);
  if (!r) return NULL;
  int updating = l->changelog || r->changelog; /* a join that retracts what its inputs retract */
  sql_plan *j = new_plan(c, SQL_P_JOIN, l->n + r->n);
  if (!j) return NULL;
  j->in = l, j->right = r, j->wend = -1, j->outer = outer, j->changelog = outer || updating;
  if (!(j->rels = sl__sql_alloc(c->arena, (size_t)j->n * sizeof *j->rels))) return sl__sql_oom(c), NULL;
  for (int i = 0; i < j->n; i++) {
    const sql_plan *side = i < l->n ? l : r;
    int k = i < l->n ? i : i - l->n;
    j->names[i] = side->names[k], j->types[i] = side->types[k];
    j->rels[i] = (char *)(i < l->n ? lrel : rrel);
  }
  *rel = NULL;
  sql_scope sc = {NULL, j->n, j->names, j->types, NULL, NULL, NULL, j->rels};
  sql_expr *on = sl__sql_compile(c, quals, &sc);
  if (!on) return NULL;
  if (on->type.kind != SL__T_BOOL) {
    char tb[32];
    return sl__sql_error(c, on->loc, "ON must be BOOLEAN, not %s", sl__row_type_name(on->type, tb, sizeof tb)), NULL;
  }
  const sql_expr *cs[64];
  int n = 0;
  conjuncts(on, cs, &n, 64);
  j->lk = sl__sql_alloc(c->arena, (size_t)n * sizeof *j->lk);
  j->rk = sl__sql_alloc(c->arena, (size_t)n * sizeof *j->rk);
  sql_expr **rest = sl__sql_alloc(c->arena, (size_t)n * sizeof *rest);
  if (!j->lk || !j->rk || !rest) return sl__sql_oom(c), NULL;
  int n_rest = 0, lw = wend_of(l), rw = wend_of(r);
  for (int i = 0; i < n; i++) {
    const sql_expr *e = cs[i];
    const sql_expr *x = e->n == 2 ? uncast_int(e->args[0]) : NULL, *y = e->n == 2 ? uncast_int(e->args[1]) : NULL;
    if (e->op == SQL_E_EQ && x->op == SQL_E_COL && y->op == SQL_E_COL && (x->col < l->n) != (y->col < l->n)) {
      int a = x->col, bb = y->col;
      if (a >= l->n) a = bb, bb = x->col;
      int ka = j->types[a].kind, kb = j->types[bb].kind;
      if (ka == kb || (int_kind(ka) && int_kind(kb))) {
        j->lk[j->n_eq] = a, j->rk[j->n_eq] = bb - l->n;
        if (a == lw && bb - l->n == rw && lw >= 0) j->window = 1;
        j->n_eq++;
        continue;
      }
    }
    rest[n_rest++] = (sql_expr *)e;
  }
  if (!j->n_eq)
    return sl__sql_error(c, on->loc, "a join needs an equality of a column of each side in ON (a join "
                                     "without one would pair every row with every row)"), NULL;
  if (outer) { /* a regular join always: the rest of ON decides which pairs match */
    j->window = 0;
    for (int i = 0; i < n_rest; i++)
      if (!(j->jcond = and_of(c, j->jcond, rest[i]))) return NULL;
    return j;
  }
  if (updating) j->window = 0; /* a regular join: window_end is a column like another */
  if (j->window) j->wend = lw;
  int lt = rowtime_of(l), rt = rowtime_of(r);
  if (!j->window && !updating && lt >= 0 && rt >= 0) { /* an interval join: both sides' times bounded */
    int64_t lo = 0, hi = 0;
    int has_lo = 0, has_hi = 0;
    for (int i = 0; i < n_rest; i++) time_bound(rest[i], lt, l->n + rt, &lo, &hi, &has_lo, &has_hi);
    if (has_lo && has_hi) { /* lo <= l - r <= hi  <=>  -hi <= r - l <= -lo */
      if (lo > hi)
        return sl__sql_error(c, on->loc, "the join's time bounds are empty (no pair can match)"), NULL;
      j->interval = 1, j->lower = -hi, j->upper = -lo;
    }
  }
  if (!n_rest) return j;
  /* the rest of ON: a filter over the joined rows */
  sql_plan *f = new_plan(c, SQL_P_CALC, j->n);
  if (!f) return NULL;
  f->in = j;
  for (int i = 0; i < j->n; i++) {
    sql_expr *e = sl__sql_alloc(c->arena, sizeof *e);
    if (!e) return sl__sql_oom(c), NULL;
    e->op = SQL_E_COL, e->type = j->types[i], e->col = i, e->loc = -1;
    f->proj[i] = e, f->names[i] = j->names[i], f->types[i] = j->types[i];
  }
  for (int i = 0; i < n_rest; i++)
    if (!(f->where = and_of(c, f->where, rest[i]))) return NULL;
  f->rels = j->rels; /* the filter's columns are the join's */
  f->changelog = j->changelog;
  return f;
}

static sql_plan *plan_from(sql_ctx *c, const cJSON *item, const char **rel, sql_window *win) {
  cJSON *b;
  const char *kind = sl__sql_node_kind(item, &b);
  int loc = sl__sql_jloc(item);
  if (!strcmp(kind, "RangeVar")) {
    const char *name = sl__sql_js(b, "relname");
    sql_table *t = sl__sql_find_table(c->sess, name);
    if (!t) {
      char list[400] = "";
      size_t at = 0;
      for (int i = 0; i < c->sess->n_tables && at < sizeof list - 64; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", c->sess->tables[i]->name);
      sl__sql_error(c, loc, "unknown table '%s' (%s%s)", name, at ? "tables: " : "no table is defined yet",
                list);
      return NULL;
    }
    *rel = alias_of(b) ? alias_of(b) : t->name;
    if (t->view) { /* plan the view's query, its locations pointing at its own text */
      const char *saved = c->text;
      c->text = t->view_text;
      sql_plan *p = sl__sql_plan_select(c, t->view);
      c->text = saved;
      if (!p && c->failed && !strstr(c->msg, "(in view")) {
        size_t n = strlen(c->msg);
        snprintf(c->msg + n, sizeof c->msg - n, "\n(in view '%s')", t->name);
      }
      return p;
    }
    if (t->connector == SQL_CONN_PRINT || t->connector == SQL_CONN_BLACKHOLE) {
      sl__sql_error(c, loc, "table '%s' (connector %s) is a sink: it cannot be read", t->name,
                t->connector == SQL_CONN_PRINT ? "print" : "blackhole");
      return NULL;
    }
    sql_plan *p = new_plan(c, SQL_P_SCAN, t->n_cols);
    if (!p) return NULL;
    p->table = t, p->rel = *rel, p->changelog = t->cdc || t->connector == SQL_CONN_UPSERT_KAFKA || t->format == SQL_FMT_DEBEZIUM;
    for (int i = 0; i < t->n_cols; i++) p->names[i] = t->names[i], p->types[i] = t->types[i];
    return p;
  }
  if (!strcmp(kind, "RangeSubselect")) {
    *rel = alias_of(b);
    sql_plan *p = sl__sql_plan_select(c, sl__sql_j(b, "subquery"));
    return p && !sl__sql_unique_names(c, p, loc) ? p : NULL;
  }
  if (!strcmp(kind, "JoinExpr")) return plan_join(c, b, rel);
  if (!strcmp(kind, "RangeFunction")) {
    if (!win) {
      sl__sql_error(c, loc, "a window table function must be the FROM of a query");
      return NULL;
    }
    return plan_window_tvf(c, b, rel, win);
  }
  sl__sql_error(c, loc, "unsupported FROM item (%s)", kind);
  return NULL;
}

/* The name of a SELECT list item without AS: a column's own name, a
 * function's name, else EXPR$i (Flink's). */
static char *derived_name(sql_ctx *c, const cJSON *val, int i) {
  cJSON *b;
  const char *kind = sl__sql_node_kind(val, &b);
  if (!strcmp(kind, "ColumnRef")) {
    const cJSON *last = NULL, *f;
    cJSON_ArrayForEach(f, sl__sql_j(b, "fields")) last = f;
    cJSON *fb;
    sl__sql_node_kind(last, &fb);
    const char *s = sl__sql_js(fb, "sval");
    if (s) return sl__sql_strndup(c->arena, s, strlen(s));
  }
  if (!strcmp(kind, "FuncCall")) {
    const char *s = sl__sql_last_name(sl__sql_j(b, "funcname"));
    if (s) return sl__sql_strndup(c->arena, s, strlen(s));
  }
  char buf[32];
  snprintf(buf, sizeof buf, "EXPR$%d", i);
  return sl__sql_strndup(c->arena, buf, strlen(buf));
}

/* ---- windowed aggregation ---------------------------------------------------- */

typedef struct win_ctx {
  sql_plan *w;           /* the WINAGG or GROUPAGG node */
  int nw;                /* its window columns before the keys: 2 (window_start, window_end) or 0 */
  sql_expr **args;       /* the window input row's aggregate-argument expressions */
  int n_args, cap;
  const sql_scope *isc;  /* the input's columns */
  int isc_changelog;     /* ... are an updating input's (rows retracted too) */
} win_ctx;

static sql_expr *on_agg(sql_ctx *c, const sql_scope *sc, const cJSON *call, int loc, const char *fn) {
  win_ctx *wc = sc->agg_ud;
  sql_plan *w = wc->w;
  int f = sl__sql_agg_fn(fn);
  cJSON *args = sl__sql_j(call, "args");
  int star = cJSON_IsTrue(sl__sql_j(call, "agg_star"));
  int distinct = cJSON_IsTrue(sl__sql_j(call, "agg_distinct"));
  if (distinct && f != SQL_AGG_COUNT)
    return sl__sql_error(c, loc, "%s(DISTINCT ...) is not built yet (COUNT(DISTINCT ...) is)", fn), NULL;
  if (sl__sql_j(call, "agg_filter") || sl__sql_j(call, "agg_order"))
    return sl__sql_error(c, loc, "FILTER and ORDER BY in an aggregate are not supported"), NULL;
  if (star && f != SQL_AGG_COUNT) return sl__sql_error(c, loc, "only COUNT takes *"), NULL;
  if (star) f = SQL_AGG_COUNT_STAR;
  else if (cJSON_GetArraySize(args) != 1) return sl__sql_error(c, loc, "%s() takes one argument", fn), NULL;
  if (w->n_aggs == 64) return sl__sql_error(c, loc, "more than 64 aggregates"), NULL;
  sql_agg *a = &w->aggs[w->n_aggs];
  a->fn = f, a->arg = -1, a->distinct = distinct;
  if (w->kind == SQL_P_GROUPAGG) /* values counted, so that a retraction finds the next best */
    a->multiset = distinct || ((f == SQL_AGG_MIN || f == SQL_AGG_MAX) && wc->isc_changelog);
  else if (distinct)
    w->buffered = 1;
  if (!star) {
    sql_expr *x = sl__sql_compile(c, cJSON_GetArrayItem(args, 0), wc->isc);
    if (!x) return NULL;
    if (x->type.kind == SL__T_NULL) x->type.kind = SL__T_BIGINT;
    int k = x->type.kind;
    char tn[32];
    int num = k == SL__T_INT || k == SL__T_BIGINT || k == SL__T_DECIMAL || k == SL__T_DOUBLE;
    if ((f == SQL_AGG_SUM || f == SQL_AGG_AVG) && !num)
      return sl__sql_error(c, x->loc, "%s() takes a number, not %s", fn, sl__row_type_name(x->type, tn, sizeof tn)), NULL;
    if ((f == SQL_AGG_MIN || f == SQL_AGG_MAX) && !num && k != SL__T_TIMESTAMP && k != SL__T_BOOL &&
        k != SL__T_VARCHAR)
      return sl__sql_error(c, x->loc, "%s() of %s is not built yet (numbers, BOOLEAN, TIMESTAMP and VARCHAR)", fn,
                       sl__row_type_name(x->type, tn, sizeof tn)), NULL;
    if ((f == SQL_AGG_MIN || f == SQL_AGG_MAX) && k == SL__T_VARCHAR && w->kind != SQL_P_GROUPAGG)
      w->buffered = 1; /* (a group keeps its best string in its state: group_update) */
    for (int q = 0; q < wc->n_args && x->op == SQL_E_COL; q++) /* the same column: one argument */
      if (wc->args[q]->op == SQL_E_COL && wc->args[q]->col == x->col) {
        a->arg = w->n_keys + q, a->in = x->type;
        goto typed;
      }
    if (wc->n_args == wc->cap) {
      int nc = wc->cap ? 2 * wc->cap : 8;
      sql_expr **na = sl__sql_alloc(c->arena, (size_t)nc * sizeof *na);
      if (!na) return sl__sql_oom(c), NULL;
      if (wc->n_args) memcpy(na, wc->args, (size_t)wc->n_args * sizeof *na);
      wc->args = na, wc->cap = nc;
    }
    a->arg = w->n_keys + wc->n_args;
    wc->args[wc->n_args++] = x;
    a->in = x->type;
  }
typed:
  switch (f) {
    case SQL_AGG_COUNT_STAR:
    case SQL_AGG_COUNT: a->out = (sl__row_type){SL__T_BIGINT, 0, 0}; break;
    case SQL_AGG_SUM:
      a->out = a->in.kind == SL__T_INT ? (sl__row_type){SL__T_BIGINT, 0, 0}
               : a->in.kind == SL__T_DECIMAL ? (sl__row_type){SL__T_DECIMAL, 18, a->in.scale}
                                             : a->in;
      break;
    case SQL_AGG_AVG: a->out = (sl__row_type){SL__T_DOUBLE, 0, 0}; break;
    default: a->out = a->in;
  }
  sql_expr *e = sl__sql_alloc(c->arena, sizeof *e);
  if (!e) return sl__sql_oom(c), NULL;
  e->op = SQL_E_COL, e->type = a->out, e->col = wc->nw + w->n_keys + w->n_aggs, e->loc = loc;
  w->n_aggs++;
  return e;
}

/* The accumulator: 24 bytes per aggregate, [value (int128 or double),
 * count (int64)], read and written with memcpy (state memory need not be
 * aligned). */
#define ACC_SLOT 24
typedef struct acc_slot {
  __int128 i;
  double f;
  int64_t n;
} acc_slot;

static void slot_get(const void *acc, int j, acc_slot *s) {
  const uint8_t *p = (const uint8_t *)acc + (size_t)j * ACC_SLOT;
  memcpy(&s->i, p, 16);
  memcpy(&s->f, p, 8);
  memcpy(&s->n, p + 16, 8);
}

static void slot_put(void *acc, int j, const acc_slot *s, int is_f) {
  uint8_t *p = (uint8_t *)acc + (size_t)j * ACC_SLOT;
  if (is_f) {
    memset(p, 0, 16);
    memcpy(p, &s->f, 8);
  } else {
    memcpy(p, &s->i, 16);
  }
  memcpy(p + 16, &s->n, 8);
}

static void acc_create(void *ud, void *acc) {
  const sql_plan *w = ud;
  memset(acc, 0, (size_t)w->n_aggs * ACC_SLOT);
}

/* Fold value v (the argument's type) into slot s. */
static void fold(const sql_agg *a, acc_slot *s, const acc_slot *v, int64_t n) {
  int is_f = a->in.kind == SL__T_DOUBLE;
  switch (a->fn) {
    case SQL_AGG_COUNT_STAR:
    case SQL_AGG_COUNT: break;
    case SQL_AGG_SUM:
    case SQL_AGG_AVG:
      if (is_f) s->f += v->f;
      else s->i += v->i;
      break;
    case SQL_AGG_MIN:
    case SQL_AGG_MAX: {
      int lt = is_f ? v->f < s->f : v->i < s->i;
      int gt = is_f ? v->f > s->f : v->i > s->i;
      if (!s->n || (a->fn == SQL_AGG_MIN ? lt : gt)) s->i = v->i, s->f = v->f;
      break;
    }
  }
  s->n += n;
}

/* Take value v out of slot s again (a retraction: COUNT, SUM, AVG; MIN
 * and MAX over an updating input are multiset aggregates, group_fold). */
static void unfold(const sql_agg *a, acc_slot *s, const acc_slot *v) {
  assert(a->fn != SQL_AGG_MIN && a->fn != SQL_AGG_MAX && !a->distinct);
  if (a->fn == SQL_AGG_SUM || a->fn == SQL_AGG_AVG) {
    if (a->in.kind == SL__T_DOUBLE) s->f -= v->f;
    else s->i -= v->i;
  }
  s->n--;
}

/* Fold the row `in` of w's input ([keys..., aggregate arguments...]) into
 * the accumulator, or take it out (retract). */
static void fold_row(const sql_plan *w, void *acc, const void *in, int retract) {
  const sql_plan *pre = w->in;
  for (int j = 0; j < w->n_aggs; j++) {
    const sql_agg *a = &w->aggs[j];
    acc_slot s, v = {0};
    slot_get(acc, j, &s);
    if (a->arg >= 0) {
      sl__val x;
      sl__row_get(in, pre->n, pre->types, a->arg, &x);
      if (x.null) continue;
      if (a->in.kind == SL__T_DOUBLE) v.f = x.u.f;
      else v.i = x.u.i, v.f = 0;
    }
    if (retract) unfold(a, &s, &v);
    else fold(a, &s, &v, 1);
    slot_put(acc, j, &s, a->in.kind == SL__T_DOUBLE);
  }
}

static int acc_add(void *ud, void *acc, const void *in, uint32_t in_len) {
  fold_row(ud, acc, in, 0);
  return 0;
}

static int acc_merge(void *ud, void *acc, const void *other) {
  const sql_plan *w = ud;
  for (int j = 0; j < w->n_aggs; j++) {
    acc_slot s, o;
    slot_get(acc, j, &s);
    slot_get(other, j, &o);
    if (!o.n) continue;
    fold(&w->aggs[j], &s, &o, o.n);
    slot_put(acc, j, &s, w->aggs[j].in.kind == SL__T_DOUBLE);
  }
  return 0;
}

static int acc_result(void *ud, const void *acc, sl_bytes *out) {
  const sql_plan *w = ud;
  out->data = acc;
  out->len = (uint32_t)w->n_aggs * ACC_SLOT;
  return 0;
}

/* A window table function's rows without GROUP BY: WINASSIGN adds
 * window_start and window_end to every row (one row per window: HOP
 * gives size / slide of them), then the query is an ordinary calc over
 * that.  SESSION windows exist only once merged: they need GROUP BY. */
static sql_plan *plan_select_over(sql_ctx *c, const cJSON *sel, sql_plan *in, const char *rel);

static sql_plan *plan_window_rows(sql_ctx *c, const cJSON *sel, sql_plan *in, const char *rel,
                                  const sql_window *win) {
  if (win->kind - 1 == SL_WINDOW_SESSION) {
    sl__sql_error(c, win->loc, "SESSION windows need GROUP BY window_start, window_end, ... (a session "
                           "is known only when it closes)");
    return NULL;
  }
  sql_plan *a = window_rows_node(c, in, win);
  return a ? plan_select_over(c, sel, a, rel) : NULL;
}

static sql_plan *window_rows_node(sql_ctx *c, sql_plan *in, const sql_window *win) {
  if (win->proctime) {
    sl__sql_error(c, win->loc, "processing-time windows (PROCTIME()) need GROUP BY window_start, "
                               "window_end, ...: a row's window is known only when it is processed");
    return NULL;
  }
  if (win->kind - 1 == SL_WINDOW_SESSION) {
    sl__sql_error(c, win->loc, "SESSION windows need GROUP BY window_start, window_end, ... (a session "
                           "is known only when it closes)");
    return NULL;
  }
  sql_plan *a = new_plan(c, SQL_P_WINASSIGN, in->n + 2);
  if (!a) return NULL;
  a->in = in, a->wkind = win->kind - 1, a->size_ms = win->size, a->slide_ms = win->slide;
  a->time_col = win->time_col;
  for (int i = 0; i < in->n; i++) a->names[i] = in->names[i], a->types[i] = in->types[i];
  a->names[in->n] = "window_start", a->names[in->n + 1] = "window_end";
  a->types[in->n] = a->types[in->n + 1] = in->types[win->time_col];
  return a;
}

/* The WHERE of a SELECT, unless a comma join took it as its ON. */
static cJSON *sel_where(const sql_ctx *c, const cJSON *sel) {
  cJSON *w = sl__sql_j(sel, "whereClause");
  return w == c->where_in_join ? NULL : w;
}

/* The value state of a GROUPAGG node: int64 rows, then the accumulator. */
static sl_state_desc *group_state(sql_ctx *c) {
  sl_state_desc *d = sl__sql_alloc(c->arena, sizeof *d);
  if (!d) return sl__sql_oom(c), NULL;
  d->name = "sql-group-aggregate", d->kind = SL_STATE_VALUE;
  return d;
}

/* GROUP BY over a window table function's rows (win: WINAGG, emitted once
 * per window) or over any input (win NULL: GROUPAGG, updated with every
 * row).  pre (CALC: WHERE, [keys..., aggregate arguments...]) -> the node
 * -> post (CALC: the SELECT list and HAVING over [window_start,
 * window_end (WINAGG only), keys..., aggregates...]). */
static sql_plan *plan_grouped(sql_ctx *c, const cJSON *sel, sql_plan *in, const char *rel,
                              const sql_window *win) {
  cJSON *group = sl__sql_j(sel, "groupClause"), *g;
  if (win && !cJSON_GetArraySize(group)) return plan_window_rows(c, sel, in, rel, win);
  sql_scope isc = {rel, in->n, in->names, in->types, NULL, NULL, NULL, in->rels};
  int nw = win ? 2 : 0;
  /* GROUP BY: window_start, window_end and columns of the input */
  int has_ws = 0, has_we = 0, n_keys = 0, keys[64];
  cJSON_ArrayForEach(g, group) {
    cJSON *gb, *last = NULL, *f, *nb;
    if (strcmp(sl__sql_node_kind(g, &gb), "ColumnRef")) {
      sl__sql_error(c, sl__sql_jloc(g), "GROUP BY takes columns (window_start, window_end, and columns of the input)");
      return NULL;
    }
    cJSON_ArrayForEach(f, sl__sql_j(gb, "fields")) last = f;
    sl__sql_node_kind(last, &nb);
    const char *name = sl__sql_js(nb, "sval");
    if (win && name && !strcmp(name, "window_start")) { has_ws = 1; continue; }
    if (win && name && !strcmp(name, "window_end")) { has_we = 1; continue; }
    sql_expr *e = sl__sql_compile(c, g, &isc);
    if (!e) return NULL;
    for (int k = 0; k < n_keys; k++)
      if (keys[k] == e->col) e = NULL;
    if (!e) continue;
    if (n_keys == 64) return sl__sql_error(c, sl__sql_jloc(g), "more than 64 GROUP BY columns"), NULL;
    keys[n_keys++] = e->col;
  }
  if (win && (!has_ws || !has_we)) {
    sl__sql_error(c, sl__sql_jloc(cJSON_GetArrayItem(group, 0)),
              "GROUP BY over a window table function needs both window_start and window_end (grouping "
              "across windows would need updates/retractions)");
    return NULL;
  }
  /* the window's output: [window_start, window_end, keys..., aggregates...] */
  sql_plan *w = sl__sql_alloc(c->arena, sizeof *w);
  sql_agg *aggs = sl__sql_alloc(c->arena, 64 * sizeof *aggs);
  char **pnames = sl__sql_alloc(c->arena, (size_t)(2 + n_keys) * sizeof *pnames);
  sl__row_type *ptypes = sl__sql_alloc(c->arena, (size_t)(2 + n_keys) * sizeof *ptypes);
  if (!w || !aggs || !pnames || !ptypes) return sl__sql_oom(c), NULL;
  w->kind = win ? SQL_P_WINAGG : SQL_P_GROUPAGG, w->aggs = aggs, w->n_keys = n_keys;
  if (win) {
    w->wkind = win->kind - 1, w->size_ms = win->size, w->slide_ms = win->slide, w->gap_ms = win->gap;
    w->wm_delay_ms = in->kind == SQL_P_SCAN ? in->table->wm_delay_ms : 0;
    sl__row_type tt = {SL__T_TIMESTAMP, 0, 0};
    if (!win->proctime) tt = in->types[win->time_col];
    w->proctime = win->proctime;
    pnames[0] = "window_start", pnames[1] = "window_end", ptypes[0] = ptypes[1] = tt;
  }
  for (int k = 0; k < n_keys; k++) pnames[nw + k] = in->names[keys[k]], ptypes[nw + k] = in->types[keys[k]];
  char **prels = NULL; /* over a join: each group column's relation */
  if (in->rels) {
    if (!(prels = sl__sql_alloc(c->arena, (size_t)(2 + n_keys) * sizeof *prels))) return sl__sql_oom(c), NULL;
    for (int k = 0; k < n_keys; k++) prels[nw + k] = in->rels[keys[k]];
  }
  win_ctx wc = {w, nw, NULL, 0, 0, &isc, in->changelog};
  sql_scope psc = {rel, nw + n_keys, pnames, ptypes, on_agg, &wc, &isc, prels};
  /* the SELECT list over the groups */
  cJSON *targets = sl__sql_j(sel, "targetList"), *t;
  int n = cJSON_GetArraySize(targets), i = 0;
  sql_plan *post = new_plan(c, SQL_P_CALC, n);
  if (!post) return NULL;
  cJSON_ArrayForEach(t, targets) {
    cJSON *tb;
    sl__sql_node_kind(t, &tb);
    cJSON *val = sl__sql_j(tb, "val"), *vb;
    const char *vk = sl__sql_node_kind(val, &vb);
    cJSON *last = NULL, *f;
    cJSON_ArrayForEach(f, sl__sql_j(vb, "fields")) last = f;
    if (!strcmp(vk, "ColumnRef") && last && !strcmp(sl__sql_node_kind(last, NULL), "A_Star")) {
      sl__sql_error(c, sl__sql_jloc(val), "SELECT * over a GROUP BY: name the columns");
      return NULL;
    }
    sql_expr *e = sl__sql_compile(c, val, &psc);
    if (!e) return NULL;
    if (e->type.kind == SL__T_NULL) e->type.kind = SL__T_VARCHAR;
    const char *as = sl__sql_js(tb, "name");
    post->names[i] = as ? sl__sql_strndup(c->arena, as, strlen(as)) : derived_name(c, val, i);
    if (!post->names[i]) return sl__sql_oom(c), NULL;
    post->proj[i] = e, post->types[i] = e->type;
    i++;
  }
  for (int a = 0; a < n; a++)
    for (int b2 = a + 1; b2 < n; b2++)
      if (!strcmp(post->names[a], post->names[b2]) && post->proj[b2]->op != SQL_E_COL) {
        char buf[32];
        snprintf(buf, sizeof buf, "EXPR$%d", b2);
        if (!(post->names[b2] = sl__sql_strndup(c->arena, buf, strlen(buf)))) return sl__sql_oom(c), NULL;
      }
  cJSON *having = sl__sql_j(sel, "havingClause");
  if (having) {
    sql_expr *h = sl__sql_compile(c, having, &psc);
    if (!h) return NULL;
    if (h->type.kind != SL__T_BOOL) {
      char tb[32];
      sl__sql_error(c, h->loc, "HAVING must be BOOLEAN, not %s", sl__row_type_name(h->type, tb, sizeof tb));
      return NULL;
    }
    post->where = h;
  }
  /* the window's input: WHERE, then [keys..., aggregate arguments...] */
  sql_plan *pre = new_plan(c, SQL_P_CALC, n_keys + wc.n_args);
  if (!pre) return NULL;
  pre->in = in;
  for (int k = 0; k < n_keys; k++) {
    sql_expr *e = sl__sql_alloc(c->arena, sizeof *e);
    if (!e) return sl__sql_oom(c), NULL;
    e->op = SQL_E_COL, e->col = keys[k], e->type = in->types[keys[k]], e->loc = -1;
    pre->proj[k] = e, pre->names[k] = in->names[keys[k]], pre->types[k] = e->type;
  }
  for (int a = 0; a < wc.n_args; a++) {
    char buf[32];
    snprintf(buf, sizeof buf, "agg$%d", a);
    pre->proj[n_keys + a] = wc.args[a], pre->types[n_keys + a] = wc.args[a]->type;
    if (!(pre->names[n_keys + a] = sl__sql_strndup(c->arena, buf, strlen(buf)))) return sl__sql_oom(c), NULL;
  }
  cJSON *where = sel_where(c, sel);
  if (where) {
    sql_expr *e = sl__sql_compile(c, where, &isc);
    if (!e) return NULL;
    if (e->type.kind != SL__T_BOOL && e->type.kind != SL__T_NULL) {
      char tb[32];
      sl__sql_error(c, e->loc, "WHERE must be BOOLEAN, not %s", sl__row_type_name(e->type, tb, sizeof tb));
      return NULL;
    }
    pre->where = e;
  }
  /* the window node's own columns */
  int wn = nw + n_keys + w->n_aggs;
  w->n = wn, w->in = pre;
  pre->changelog = in->changelog;
  w->changelog = post->changelog = !win;
  w->names = sl__sql_alloc(c->arena, (size_t)wn * sizeof *w->names);
  w->types = sl__sql_alloc(c->arena, (size_t)wn * sizeof *w->types);
  w->acc = win ? sl__sql_alloc(c->arena, sizeof *w->acc) : group_state(c);
  if (!w->names || !w->types || !w->acc) return sl__sql_oom(c), NULL;
  for (int k = 0; k < nw + n_keys; k++) w->names[k] = pnames[k], w->types[k] = ptypes[k];
  for (int a = 0; a < w->n_aggs; a++) {
    char buf[32];
    snprintf(buf, sizeof buf, "agg$%d", a);
    if (!(w->names[nw + n_keys + a] = sl__sql_strndup(c->arena, buf, strlen(buf)))) return sl__sql_oom(c), NULL;
    w->types[nw + n_keys + a] = w->aggs[a].out;
  }
  post->in = w;
  if (!win) {
    for (int a = 0; a < w->n_aggs && !w->vals; a++)
      if (w->aggs[a].multiset) {
        if (!(w->vals = sl__sql_alloc(c->arena, sizeof *w->vals))) return sl__sql_oom(c), NULL;
        w->vals->name = "sql-group-values", w->vals->kind = SL_STATE_MAP;
      }
    return post;
  }
  *w->acc = (sl_state_desc){.name = "sql-window-aggregate",
                            .kind = SL_STATE_AGGREGATING,
                            .size = (uint32_t)(w->n_aggs ? w->n_aggs : 1) * ACC_SLOT,
                            .agg_create = acc_create,
                            .agg_add = acc_add,
                            .agg_merge = acc_merge,
                            .agg_result = acc_result,
                            .ud = w};
  return post;
}

int sl__sql_unique_names(sql_ctx *c, const sql_plan *p, int loc) {
  for (int a = 0; a < p->n; a++)
    for (int b = a + 1; b < p->n; b++)
      if (!strcmp(p->names[a], p->names[b]))
        return sl__sql_error(c, p->kind == SQL_P_CALC && p->proj[b]->loc >= 0 ? p->proj[b]->loc : loc,
                         "two columns named '%s' (rename one with AS)", p->names[a]);
  return 0;
}

/* An aggregate call (not OVER, not inside a subquery) in the tree. */
static int has_agg(const cJSON *n) {
  const cJSON *x, *fc = cJSON_IsObject(n) ? sl__sql_j(n, "FuncCall") : NULL;
  if (fc && !sl__sql_j(fc, "over") && sl__sql_agg_fn(sl__sql_last_name(sl__sql_j(fc, "funcname"))) >= 0)
    return 1;
  if (cJSON_IsObject(n) && sl__sql_j(n, "SubLink")) return 0;
  cJSON_ArrayForEach(x, n) if (has_agg(x)) return 1;
  return 0;
}

/* SELECT DISTINCT: a GROUPAGG keyed by every column of the query's rows,
 * without aggregates, under an identity CALC (a query ends in a CALC). */
static sql_plan *plan_distinct(sql_ctx *c, sql_plan *p) {
  sql_plan *g = new_plan(c, SQL_P_GROUPAGG, p->n), *top = new_plan(c, SQL_P_CALC, p->n);
  if (!g || !top || !(g->acc = group_state(c))) return NULL;
  g->in = p, g->n_keys = p->n, g->changelog = 1;
  top->in = g, top->changelog = 1, top->rels = p->rels;
  for (int i = 0; i < p->n; i++) {
    sql_expr *e = sl__sql_alloc(c->arena, sizeof *e);
    if (!e) return sl__sql_oom(c), NULL;
    e->op = SQL_E_COL, e->type = p->types[i], e->col = i, e->loc = -1;
    g->names[i] = top->names[i] = p->names[i], g->types[i] = top->types[i] = p->types[i];
    top->proj[i] = e;
  }
  return top;
}

sql_plan *sl__sql_plan_select(sql_ctx *c, const cJSON *node) {
  cJSON *sel;
  if (strcmp(sl__sql_node_kind(node, &sel), "SelectStmt")) {
    sl__sql_error(c, sl__sql_jloc(node), "a SELECT was expected");
    return NULL;
  }
  const char *op = sl__sql_js(sel, "op");
  if (op && strcmp(op, "SETOP_NONE")) {
    sl__sql_error(c, sl__sql_jloc(sl__sql_j(sel, "larg")), "UNION, INTERSECT and EXCEPT are not built yet");
    return NULL;
  }
  if (sl__sql_j(sel, "valuesLists")) {
    const cJSON *first = cJSON_GetArrayItem(sl__sql_j(sl__sql_j(cJSON_GetArrayItem(sl__sql_j(sel, "valuesLists"), 0),
                                                              "List"), "items"), 0);
    sl__sql_error(c, sl__sql_jloc(first),
                  "VALUES is not supported: read from a table (INSERT INTO sink SELECT ... FROM source)");
    return NULL;
  }
  const cJSON *distinct = sl__sql_j(sel, "distinctClause");
  if (distinct && cJSON_GetArraySize(cJSON_GetArrayItem(distinct, 0))) {
    sl__sql_error(c, sl__sql_jloc(cJSON_GetArrayItem(distinct, 0)), "DISTINCT ON is not built (SELECT DISTINCT is)");
    return NULL;
  }
  if (sl__sql_j(sel, "sortClause") || sl__sql_j(sel, "limitCount")) {
    const cJSON *s = cJSON_GetArrayItem(sl__sql_j(sel, "sortClause"), 0);
    sl__sql_error(c, s ? sl__sql_jloc(sl__sql_j(sl__sql_j(s, "SortBy"), "node")) : sl__sql_jloc(sl__sql_j(sel, "limitCount")),
              "ORDER BY and LIMIT on an unbounded stream are not supported (Top-N per window: "
              "ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY ...))");
    return NULL;
  }
  if (sl__sql_j(sel, "withClause")) {
    sl__sql_error(c, -1, "WITH (common table expressions) is not supported: CREATE VIEW instead");
    return NULL;
  }
  cJSON *from = sl__sql_j(sel, "fromClause");
  int n_from = cJSON_GetArraySize(from);
  if (n_from != 1 && n_from != 2) {
    sl__sql_error(c, n_from ? sl__sql_jloc(cJSON_GetArrayItem(from, 2))
                            : sl__sql_jloc(cJSON_GetArrayItem(sl__sql_j(sel, "targetList"), 0)),
                  n_from ? "a comma list in FROM joins two relations: join more with JOIN ... ON"
                         : "a streaming query needs FROM a table");
    return NULL;
  }
  const char *rel = NULL;
  sql_window win = {0};
  sql_plan *in;
  if (n_from == 2) { /* FROM a, b WHERE ...: the inner join a JOIN b ON (the WHERE) */
    cJSON *where = sl__sql_j(sel, "whereClause"), *je = cJSON_CreateObject();
    if (!where) {
      cJSON_Delete(je);
      sl__sql_error(c, sl__sql_jloc(cJSON_GetArrayItem(from, 1)),
                    "FROM a, b needs WHERE with an equality of a column of each (a join without one would "
                    "pair every row with every row)");
      return NULL;
    }
    if (!je || !cJSON_AddStringToObject(je, "jointype", "JOIN_INNER") ||
        !cJSON_AddItemReferenceToObject(je, "larg", cJSON_GetArrayItem(from, 0)) ||
        !cJSON_AddItemReferenceToObject(je, "rarg", cJSON_GetArrayItem(from, 1)) ||
        !cJSON_AddItemReferenceToObject(je, "quals", where)) {
      cJSON_Delete(je);
      return sl__sql_oom(c), NULL;
    }
    in = plan_join(c, je, &rel);
    cJSON_Delete(je);
    c->where_in_join = where;
  } else {
    in = plan_from(c, cJSON_GetArrayItem(from, 0), &rel, &win);
  }
  if (!in) return NULL;
  sql_plan *p = win.kind || cJSON_GetArraySize(sl__sql_j(sel, "groupClause")) ||
                        has_agg(sl__sql_j(sel, "targetList")) || sl__sql_j(sel, "havingClause")
                    ? plan_grouped(c, sel, in, rel, win.kind ? &win : NULL)
                    : plan_select_over(c, sel, in, rel);
  return p && distinct ? plan_distinct(c, p) : p;
}

/* The SELECT list's window function (a FuncCall with OVER), or NULL. */
static const cJSON *over_call(const cJSON *targets, int *index) {
  const cJSON *t;
  int i = 0;
  cJSON_ArrayForEach(t, targets) {
    cJSON *tb, *vb;
    sl__sql_node_kind(t, &tb);
    if (!strcmp(sl__sql_node_kind(sl__sql_j(tb, "val"), &vb), "FuncCall") && sl__sql_j(vb, "over")) {
      *index = i;
      return vb;
    }
    i++;
  }
  return NULL;
}

/* A column reference of `in` (Top-N's PARTITION BY / ORDER BY): its index. */
static int topn_col(sql_ctx *c, const cJSON *node, const sql_scope *sc, const char *what) {
  sql_expr *e = sl__sql_compile(c, node, sc);
  if (!e) return -1;
  if (e->op != SQL_E_COL)
    return sl__sql_error(c, e->loc, "%s: name a column (compute expressions in a subquery)", what), -1;
  return e->col;
}

/* ROW_NUMBER() / RANK() OVER (PARTITION BY window_start, window_end, ...
 * ORDER BY ...) in the SELECT list: Flink's Window Top-N; partitioned
 * otherwise, a Top-N over the unbounded stream whose ranks change (a
 * changelog: Flink's AppendOnlyTopNFunction).  The node adds the number as
 * the last column; the query around it sets the limit with WHERE rn <= N
 * (topn_limit). */
static sql_plan *plan_topn(sql_ctx *c, const cJSON *call, sql_plan *in, const char *rel, const char *as) {
  int loc = cJSON_IsNumber(sl__sql_j(call, "location")) ? sl__sql_j(call, "location")->valueint : -1;
  const char *fn = sl__sql_last_name(sl__sql_j(call, "funcname"));
  int rank;
  if (fn && !strcmp(fn, "row_number")) rank = 0;
  else if (fn && !strcmp(fn, "rank")) rank = 1;
  else
    return sl__sql_error(c, loc, "window function %s() OVER is not built (Top-N per window: ROW_NUMBER() "
                                 "or RANK() OVER (PARTITION BY window_start, window_end ... ORDER BY ...))",
                         fn ? fn : "?"), NULL;
  if (cJSON_GetArraySize(sl__sql_j(call, "args")))
    return sl__sql_error(c, loc, "%s() takes no arguments", fn), NULL;
  if (in->changelog)
    return sl__sql_error(c, loc, "%s() OVER an updating input (a GROUP BY without a window, DISTINCT or an outer join) "
                                 "is not built yet", fn), NULL;
  const cJSON *over = sl__sql_j(call, "over");
  const cJSON *parts = sl__sql_j(over, "partitionClause"), *ords = sl__sql_j(over, "orderClause"), *x;
  sql_plan *p = new_plan(c, SQL_P_TOPN, in->n + 1);
  if (!p) return NULL;
  p->in = in, p->rank = rank, p->time_col = -1, p->size_ms = loc; /* size_ms: where, for messages */
  for (int i = 0; i < in->n; i++) p->names[i] = in->names[i], p->types[i] = in->types[i];
  p->names[in->n] = (char *)(as ? as : fn), p->types[in->n].kind = SL__T_BIGINT;
  p->n_part = cJSON_GetArraySize(parts), p->n_ord = cJSON_GetArraySize(ords);
  p->part = sl__sql_alloc(c->arena, (size_t)(p->n_part + 1) * sizeof *p->part);
  p->ord = sl__sql_alloc(c->arena, (size_t)(p->n_ord + 1) * sizeof *p->ord);
  p->desc = sl__sql_alloc(c->arena, (size_t)p->n_ord + 1);
  p->top = sl__sql_alloc(c->arena, sizeof *p->top);
  if (!p->part || !p->ord || !p->desc || !p->top) return sl__sql_oom(c), NULL;
  p->top->name = "top-n", p->top->kind = SL_STATE_VALUE;
  sql_scope sc = {rel, in->n, in->names, in->types, NULL, NULL, NULL, in->rels};
  int k = 0, has_start = 0;
  cJSON_ArrayForEach(x, parts) {
    int col = topn_col(c, x, &sc, "PARTITION BY");
    if (col < 0) return NULL;
    p->part[k++] = col;
    if (!strcmp(in->names[col], "window_start")) has_start = 1;
    if (!strcmp(in->names[col], "window_end")) p->time_col = col;
  }
  if (!has_start || p->time_col < 0 || in->types[p->time_col].kind == SL__T_VARCHAR)
    p->time_col = -1, p->changelog = 1; /* a Top-N over the unbounded stream: it updates its ranks */
  if (!p->n_ord) return sl__sql_error(c, loc, "%s() OVER needs ORDER BY", fn), NULL;
  k = 0;
  cJSON_ArrayForEach(x, ords) {
    cJSON *sb;
    sl__sql_node_kind(x, &sb);
    int col = topn_col(c, sl__sql_j(sb, "node"), &sc, "ORDER BY");
    if (col < 0) return NULL;
    const char *dir = sl__sql_js(sb, "sortby_dir");
    p->desc[k] = dir && !strcmp(dir, "SORTBY_DESC");
    p->ord[k++] = col;
  }
  return p;
}

/* WHERE rn <= N (or rn < N, rn = 1) over a Top-N's number: its limit. */
static void topn_limit(const sql_expr *w, const sql_plan *in) {
  if (!w) return;
  if (w->op == SQL_E_AND) {
    for (int i = 0; i < w->n; i++) topn_limit(w->args[i], in);
    return;
  }
  if ((w->op != SQL_E_LE && w->op != SQL_E_LT && w->op != SQL_E_EQ) || w->n != 2 ||
      w->args[0]->op != SQL_E_COL || w->args[1]->op != SQL_E_CONST || w->args[1]->k.null)
    return;
  const sql_plan *calc = in;
  if (calc->kind != SQL_P_CALC || !calc->in || calc->in->kind != SQL_P_TOPN) return;
  sql_plan *t = (sql_plan *)calc->in;
  const sql_expr *col = calc->proj[w->args[0]->col];
  if (col->op != SQL_E_COL || col->col != t->n - 1) return;
  int64_t k = w->args[1]->k.u.i - (w->op == SQL_E_LT);
  if (w->op == SQL_E_EQ && k != 1) return;
  if (k >= 1 && (!t->limit || k < t->limit)) t->limit = k;
}

/* SELECT list and WHERE over the input plan `in` (no GROUP BY): a CALC. */
static sql_plan *plan_select_over(sql_ctx *c, const cJSON *sel, sql_plan *in, const char *rel) {
  if (sl__sql_j(sel, "havingClause")) {
    sl__sql_error(c, sl__sql_jloc(sl__sql_j(sel, "havingClause")), "HAVING needs a GROUP BY");
    return NULL;
  }
  /* the SELECT list, with * expanded */
  cJSON *targets = sl__sql_j(sel, "targetList"), *t;
  int over_at = -1;
  const cJSON *over = over_call(targets, &over_at);
  if (over) { /* Top-N: the number is the node's last column */
    if (sel_where(c, sel))
      return sl__sql_error(c, sl__sql_jloc(sel_where(c, sel)),
                           "WHERE next to ROW_NUMBER() OVER filters before the numbering: filter in a "
                           "subquery, and put WHERE rn <= N in the query around this one"), NULL;
    const char *as = sl__sql_js(sl__sql_j(cJSON_GetArrayItem(targets, over_at), "ResTarget"), "name");
    if (!(in = plan_topn(c, over, in, rel, as))) return NULL;
  }
  int n_star = over ? in->n - 1 : in->n; /* * is the input's columns, not the number */
  sql_scope sc = {rel, in->n, in->names, in->types, NULL, NULL, NULL, in->rels};
  int n = 0;
  cJSON_ArrayForEach(t, targets) {
    cJSON *tb, *vb;
    sl__sql_node_kind(t, &tb);
    const char *vk = sl__sql_node_kind(sl__sql_j(tb, "val"), &vb);
    cJSON *last = NULL, *f;
    cJSON_ArrayForEach(f, sl__sql_j(vb, "fields")) last = f;
    n += !strcmp(vk, "ColumnRef") && last && !strcmp(sl__sql_node_kind(last, NULL), "A_Star") ? n_star : 1;
  }
  sql_plan *p = new_plan(c, SQL_P_CALC, n);
  if (!p) return NULL;
  p->in = in, p->changelog = in->changelog;
  int i = 0, ti = -1;
  cJSON_ArrayForEach(t, targets) {
    cJSON *tb, *vb;
    ti++;
    sl__sql_node_kind(t, &tb);
    cJSON *val = sl__sql_j(tb, "val");
    const char *vk = sl__sql_node_kind(val, &vb);
    cJSON *last = NULL, *f;
    cJSON_ArrayForEach(f, sl__sql_j(vb, "fields")) last = f;
    if (!strcmp(vk, "ColumnRef") && last && !strcmp(sl__sql_node_kind(last, NULL), "A_Star")) {
      if (cJSON_GetArraySize(sl__sql_j(vb, "fields")) == 2) {
        cJSON *qb;
        sl__sql_node_kind(cJSON_GetArrayItem(sl__sql_j(vb, "fields"), 0), &qb);
        const char *q = sl__sql_js(qb, "sval");
        if (!rel || !q || strcmp(q, rel)) {
          sl__sql_error(c, sl__sql_jloc(val), "unknown table '%s' in %s.* (the query reads '%s')", q ? q : "?",
                    q ? q : "?", rel ? rel : "?");
          return NULL;
        }
      }
      for (int k = 0; k < n_star; k++, i++) {
        sql_expr *e = sl__sql_alloc(c->arena, sizeof *e);
        if (!e) return sl__sql_oom(c), NULL;
        e->op = SQL_E_COL, e->type = in->types[k], e->col = k, e->loc = sl__sql_jloc(val);
        p->proj[i] = e, p->names[i] = in->names[k], p->types[i] = in->types[k];
      }
      continue;
    }
    sql_expr *e;
    if (over && ti == over_at) { /* ROW_NUMBER() OVER (...): the Top-N's number */
      if (!(e = sl__sql_alloc(c->arena, sizeof *e))) return sl__sql_oom(c), NULL;
      e->op = SQL_E_COL, e->type = in->types[in->n - 1], e->col = in->n - 1, e->loc = sl__sql_jloc(val);
    } else if (!(e = sl__sql_compile(c, val, &sc))) {
      return NULL;
    }
    if (e->type.kind == SL__T_NULL) e->type.kind = SL__T_VARCHAR; /* SELECT NULL */
    if (e->type.kind == SL__T_INTERVAL) {
      sl__sql_error(c, e->loc, "an INTERVAL is not a column type: add it to a TIMESTAMP");
      return NULL;
    }
    const char *as = sl__sql_js(tb, "name");
    p->names[i] = as ? sl__sql_strndup(c->arena, as, strlen(as)) : derived_name(c, val, i);
    if (!p->names[i]) return sl__sql_oom(c), NULL;
    p->proj[i] = e, p->types[i] = e->type;
    i++;
  }
  /* a derived name (a function's) that repeats becomes EXPR$i, as Flink names them */
  for (int a = 0; a < n; a++)
    for (int b2 = a + 1; b2 < n; b2++)
      if (!strcmp(p->names[a], p->names[b2]) && p->proj[b2]->op != SQL_E_COL &&
          !sl__sql_js(sl__sql_j(cJSON_GetArrayItem(targets, b2), "ResTarget"), "name")) {
        char buf[32];
        snprintf(buf, sizeof buf, "EXPR$%d", b2);
        if (!(p->names[b2] = sl__sql_strndup(c->arena, buf, strlen(buf)))) return sl__sql_oom(c), NULL;
      }
  cJSON *where = sel_where(c, sel);
  if (where) {
    sql_expr *w = sl__sql_compile(c, where, &sc);
    if (!w) return NULL;
    if (w->type.kind != SL__T_BOOL && w->type.kind != SL__T_NULL) {
      char tb[32];
      sl__sql_error(c, w->loc, "WHERE must be BOOLEAN, not %s", sl__row_type_name(w->type, tb, sizeof tb));
      return NULL;
    }
    p->where = w;
    topn_limit(w, in);
  }
  return p;
}

/* The CDC table whose rows the plan only projects and filters (no
 * aggregate or join between), else NULL. */
static const sql_table *cdc_rows_of(const sql_plan *p) {
  while (p->kind == SQL_P_CALC) p = p->in;
  return p->kind == SQL_P_SCAN && p->changelog ? p->table : NULL;
}

/* A CALC that only picks columns of the CALC below it becomes one CALC
 * (the lower one's WHERE, its expressions in the upper one's order), as
 * Flink merges Calcs: one row written instead of two.  Bottom-up over the
 * whole plan (both sides of joins). */
sql_plan *sl__sql_fuse(sql_ctx *c, sql_plan *p) {
  if (!p) return p;
  if (p->in) p->in = sl__sql_fuse(c, p->in);
  if (p->right) p->right = sl__sql_fuse(c, p->right);
  if (p->kind != SQL_P_CALC || p->where || !p->in || p->in->kind != SQL_P_CALC) return p;
  const sql_plan *low = p->in;
  for (int i = 0; i < p->n; i++) {
    const sql_expr *e = p->proj[i];
    if (e->op != SQL_E_COL || low->types[e->col].kind != p->types[i].kind ||
        low->types[e->col].scale != p->types[i].scale)
      return p;
  }
  sql_plan *f = new_plan(c, SQL_P_CALC, p->n);
  if (!f) return p; /* not fused: the same rows */
  *f = *p;
  f->proj = sl__sql_alloc(c->arena, (size_t)(p->n ? p->n : 1) * sizeof *f->proj);
  if (!f->proj) return p;
  for (int i = 0; i < p->n; i++) f->proj[i] = low->proj[p->proj[i]->col];
  f->in = low->in, f->where = low->where;
  return f;
}

int sl__sql_plan_insert(sql_ctx *c, const cJSON *ins, sql_insert *out) {
  cJSON *rv = sl__sql_j(ins, "relation");
  const char *name = sl__sql_js(rv, "relname");
  int loc = cJSON_IsNumber(sl__sql_j(rv, "location")) ? sl__sql_j(rv, "location")->valueint : -1;
  sql_table *t = sl__sql_find_table(c->sess, name);
  if (!t) return sl__sql_error(c, loc, "unknown table '%s' (CREATE TABLE it first)", name);
  if (t->view) return sl__sql_error(c, loc, "'%s' is a view: INSERT INTO a table", name);
  if (t->connector == SQL_CONN_DATAGEN || t->connector == SQL_CONN_NEXMARK)
    return sl__sql_error(c, loc, "table '%s' (connector %s) is a source: it cannot be written", name,
                     t->connector == SQL_CONN_DATAGEN ? "datagen" : "nexmark");
  sql_plan *p = sl__sql_plan_select(c, sl__sql_j(ins, "selectStmt"));
  if (!p) return -SL_EINVAL;
  const sql_table *cdc = p->changelog ? cdc_rows_of(p) : NULL;
  const char *ck = !cdc ? "" : cdc->cdc ? "CDC" : cdc->connector == SQL_CONN_UPSERT_KAFKA ? "upsert-kafka"
                                                                                            : "debezium-json";
  int events = t->format == SQL_FMT_DEBEZIUM; /* a filesystem or kafka table of change events */
  if (cdc && t->connector == SQL_CONN_POSTGRES && !t->n_pk)
    return sl__sql_error(c, loc, "table '%s' takes an updating result (the rows of %s table '%s', which are "
                                 "updated and deleted): declare its PRIMARY KEY (the source table's key) NOT "
                                 "ENFORCED, so that each row is upserted by its key and deleted by it", name,
                         ck, cdc->name);
  if (cdc && !events && t->connector != SQL_CONN_PRINT && t->connector != SQL_CONN_BLACKHOLE &&
      t->connector != SQL_CONN_POSTGRES && t->connector != SQL_CONN_UPSERT_KAFKA)
    return sl__sql_error(c, loc, "table '%s' (connector %s) takes inserts only, and the query's result is "
                                 "updating (the rows of %s table '%s', which are updated and deleted): write "
                                 "it to a print, blackhole, postgres or upsert-kafka table (with a PRIMARY KEY) "
                                 "or as change events (format = 'debezium-json')%s",
                         name, t->connector == SQL_CONN_KAFKA ? "kafka" : "filesystem", ck, cdc->name,
                         changelog_alt(cdc));
  if (p->changelog && t->connector == SQL_CONN_POSTGRES && !t->n_pk)
    return sl__sql_error(c, loc, "table '%s' takes an updating result (a GROUP BY without a window, "
                                 "DISTINCT or an outer join: its rows change as input arrives): declare its PRIMARY KEY (the "
                                 "columns the result is grouped by) NOT ENFORCED, so that each row is upserted "
                                 "by its key and deleted by it on a retraction", name);
  if (t->connector == SQL_CONN_UPSERT_KAFKA && !t->n_pk) /* defensive: CREATE TABLE requires one */
    return sl__sql_error(c, loc, "table '%s' (connector upsert-kafka) has no PRIMARY KEY: each message's key "
                                 "is the row's primary key", name);
  if (p->changelog && !events && t->connector != SQL_CONN_PRINT && t->connector != SQL_CONN_BLACKHOLE &&
      t->connector != SQL_CONN_POSTGRES && t->connector != SQL_CONN_UPSERT_KAFKA)
    return sl__sql_error(c, loc, "table '%s' (connector %s) takes inserts only, and the query's result is "
                                 "updating (a GROUP BY without a window, DISTINCT or an outer join: its rows change as input "
                                 "arrives): write it to a print, blackhole, postgres or upsert-kafka table (with a "
                                 "PRIMARY KEY) or as change events (format = 'debezium-json'), or aggregate per "
                                 "window (TUMBLE, HOP, SESSION) for rows that are final",
                         name, t->connector == SQL_CONN_KAFKA ? "kafka" : "filesystem");
  cJSON *cols = sl__sql_j(ins, "cols"), *col;
  int nc = cJSON_GetArraySize(cols);
  int *map = sl__sql_alloc(c->arena, (size_t)(t->n_cols + 1) * sizeof *map); /* sink column -> query column */
  if (!map) return sl__sql_oom(c);
  for (int j = 0; j < t->n_cols; j++) map[j] = nc ? -1 : j;
  int i = 0;
  cJSON_ArrayForEach(col, cols) {
    cJSON *cb;
    sl__sql_node_kind(col, &cb);
    const char *cn = sl__sql_js(cb, "name");
    int j = 0;
    while (j < t->n_cols && strcmp(t->names[j], cn)) j++;
    if (j == t->n_cols) return sl__sql_error(c, sl__sql_jloc(col), "table '%s' has no column '%s'", t->name, cn);
    map[j] = i++;
  }
  int want = nc ? nc : t->n_cols;
  if (p->n != want)
    return sl__sql_error(c, loc, "INSERT INTO %s: the %s %d columns, the query gives %d", t->name,
                     nc ? "column list names" : "table has", want, p->n);
  /* the final CALC yields the sink's columns, in its order and types */
  sql_plan *f = new_plan(c, SQL_P_CALC, t->n_cols);
  if (!f) return sl__sql_oom(c);
  f->in = p->in, f->where = p->where, f->changelog = p->changelog;
  for (int j = 0; j < t->n_cols; j++) {
    char what[256];
    snprintf(what, sizeof what, "column '%s' of '%s'", t->names[j], t->name);
    sql_expr *e;
    if (map[j] < 0) {
      e = sl__sql_alloc(c->arena, sizeof *e);
      if (!e) return sl__sql_oom(c);
      e->op = SQL_E_CONST, e->type = t->types[j], e->k.null = 1, e->loc = -1;
    } else if (!(e = sl__sql_coerce(c, p->proj[map[j]], t->types[j], what))) {
      return -SL_EINVAL;
    }
    f->proj[j] = e, f->names[j] = t->names[j], f->types[j] = t->types[j];
  }
  out->plan = f, out->sink = t;
  return 0;
}

/* ---- EXPLAIN ------------------------------------------------------------------ */

/* The options as key=value; passwords (a key with "password", a URL's
 * USER:PASSWORD@) shown as ***. */
static void opts_text(const sql_table *t, char *buf, size_t cap) {
  size_t at = 0;
  buf[0] = 0;
  for (int i = 0; i < t->n_opts && at < cap; i++) {
    const char *v = t->vals[i], *scheme = strstr(v, "://"), *atsign = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = atsign ? memchr(scheme + 3, ':', (size_t)(atsign - scheme - 3)) : NULL;
    if (strstr(t->keys[i], "password"))
      at += (size_t)snprintf(buf + at, cap - at, "%s%s=***", i ? ", " : "", t->keys[i]);
    else if (colon)
      at += (size_t)snprintf(buf + at, cap - at, "%s%s=%.*s:***%s", i ? ", " : "", t->keys[i],
                             (int)(colon - v), v, atsign);
    else
      at += (size_t)snprintf(buf + at, cap - at, "%s%s=%s", i ? ", " : "", t->keys[i], v);
  }
}

/* The connector's own options: all but connector, format, watermark (and
 * url, the PostgreSQL connection); a postgres sink gets the columns to
 * create its table with unless given. */
static sl_option *conn_opts(sql_ctx *c, const sql_table *t, size_t *n, int sink, int changelog) {
  sl_option *o = sl__sql_alloc(c->arena, (size_t)(t->n_opts + 3) * sizeof *o);
  if (!o) return NULL;
  *n = 0;
  for (int i = 0; i < t->n_opts; i++) {
    const char *k = t->keys[i];
    if (!strcasecmp(k, "connector") || !strcasecmp(k, "format") || !strcasecmp(k, "watermark") ||
        (t->connector == SQL_CONN_POSTGRES && !strcasecmp(k, "url")) ||
        (t->connector == SQL_CONN_UPSERT_KAFKA && (!strcasecmp(k, "key.format") || !strcasecmp(k, "value.format"))))
      continue;
    o[(*n)++] = (sl_option){k, t->vals[i]};
  }
  if (!sink && t->connector == SQL_CONN_UPSERT_KAFKA && !sl__sql_opt(t, "scan.startup.mode"))
    o[(*n)++] = (sl_option){"scan.startup.mode", "earliest-offset"}; /* the whole topic: every key's row */
  if (sink && t->connector == SQL_CONN_POSTGRES && !sl__sql_opt(t, "sink.create-table-columns")) {
    char *cols = sl__sql_alloc(c->arena, (size_t)t->n_cols * 160 + 32);
    if (!cols) return NULL;
    size_t at = 0;
    for (int i = 0; i < t->n_cols; i++) {
      static const char *const pg[] = {"TEXT", "BOOLEAN", "INTEGER", "BIGINT", "NUMERIC",
                                       "DOUBLE PRECISION", "TEXT", "TIMESTAMP", "BIGINT"};
      const sl__row_type *ty = &t->types[i];
      at += (size_t)sprintf(cols + at, "%s\"%.60s\" %s", i ? ", " : "", t->names[i], pg[ty->kind]);
      if (ty->kind == SL__T_DECIMAL) at += (size_t)sprintf(cols + at, "(%d, %d)", ty->precision, ty->scale);
    }
    for (int k = 0; k < t->n_pk; k++)
      at += (size_t)sprintf(cols + at, "%s\"%.60s\"%s", k ? ", " : ", PRIMARY KEY (", t->names[t->pk[k]],
                            k == t->n_pk - 1 ? ")" : "");
    o[(*n)++] = (sl_option){"sink.create-table-columns", cols};
  }
  if (sink && t->connector == SQL_CONN_UPSERT_KAFKA) /* a -D is a message with a NULL value */
    o[(*n)++] = (sl_option){"sink.empty-value-as-null", "true"};
  else if (sink && changelog && t->connector == SQL_CONN_POSTGRES)
    o[(*n)++] = (sl_option){"sink.changelog", "true"};
  return o;
}

static int calc_is_identity(const sql_plan *p);

static int needs_materializer(const sql_plan *p, const sql_table *t);
static int updates_by_key(const sql_plan *p, const sql_table *t);

/* The plan's changelog is a CDC table's rows, only projected and filtered,
 * into an upsert sink keyed by the table's declared PRIMARY KEY (so no
 * materializer): an UPDATE of the key gives a -U and a +U of two keys, so
 * the sink takes the -U as a -D of the old key (the +U upserts the new
 * row; one DELETE more per update).  Both come from the one reader of the
 * table, in order, and each reaches its key's sink subtask on one channel:
 * the delete of a key is never overtaken by a later upsert of it.  Keyed
 * otherwise, the materializer keeps the rows per sink key instead. */
static int updates_change_keys(const sql_plan *p, const sql_table *t) {
  const sql_table *src = cdc_rows_of(p);
  return t && t->n_pk && src && (src->cdc || src->format == SQL_FMT_DEBEZIUM) && updates_by_key(p, t);
}


static void explain_plan(const sql_plan *p, int depth, char **buf, size_t *len, size_t *cap) {
  char tmp[1024];
  if (p->kind == SQL_P_CALC && calc_is_identity(p)) { /* built as nothing */
    explain_plan(p->in, depth, buf, len, cap);
    return;
  }
  if (p->kind == SQL_P_WINASSIGN) {
    sl__sql_appendf(buf, len, cap, "%*swindows: %s size %lld ms", depth, "", p->wkind == SL_WINDOW_SLIDING ? "HOP" : "TUMBLE",
                (long long)p->size_ms);
    if (p->wkind == SL_WINDOW_SLIDING) sl__sql_appendf(buf, len, cap, " slide %lld ms", (long long)p->slide_ms);
    sl__sql_appendf(buf, len, cap, " of %s (adds window_start, window_end)\n", p->in->names[p->time_col]);
    explain_plan(p->in, depth + 2, buf, len, cap);
    return;
  }
  if (p->kind == SQL_P_WINAGG || p->kind == SQL_P_GROUPAGG) {
    static const char *const kinds[] = {"TUMBLE", "HOP", "SESSION"};
    static const char *const fns[] = {"COUNT(*)", "COUNT", "SUM", "MIN", "MAX", "AVG"};
    if (p->kind == SQL_P_GROUPAGG) {
      sl__sql_appendf(buf, len, cap, "%*sgroup aggregate (updates its rows: +I, -U, +U, -D%s)", depth, "",
                      p->in->changelog ? "; retracts what its input retracts" : "");
    } else {
      sl__sql_appendf(buf, len, cap, "%*swindow: %s", depth, "", kinds[p->wkind]);
      if (p->wkind == SL_WINDOW_SESSION) sl__sql_appendf(buf, len, cap, " gap %lld ms", (long long)p->gap_ms);
      else sl__sql_appendf(buf, len, cap, " size %lld ms", (long long)p->size_ms);
      if (p->proctime) sl__sql_appendf(buf, len, cap, " of processing time");
      if (p->wkind == SL_WINDOW_SLIDING) sl__sql_appendf(buf, len, cap, " slide %lld ms", (long long)p->slide_ms);
    }
    sl__sql_appendf(buf, len, cap, ", key [");
    for (int k = 0; k < p->n_keys; k++) sl__sql_appendf(buf, len, cap, "%s%s", k ? ", " : "", p->in->names[k]);
    sl__sql_appendf(buf, len, cap, "], aggregates [");
    for (int j = 0; j < p->n_aggs; j++) {
      const sql_agg *a = &p->aggs[j];
      sl__sql_appendf(buf, len, cap, "%s%s", j ? ", " : "", fns[a->fn]);
      if (a->arg >= 0) sl__sql_appendf(buf, len, cap, "(%s%s)", a->distinct ? "DISTINCT " : "", p->in->names[a->arg]);
    }
    sl__sql_appendf(buf, len, cap, "]%s\n", p->buffered ? ", rows kept until the window fires" : "");
    explain_plan(p->in, depth + 2, buf, len, cap);
    return;
  }
  if (p->kind == SQL_P_JOIN) {
    char what[256];
    if (p->interval)
      snprintf(what, sizeof what, "interval join (right time - left time in [%lld, %lld] ms)", (long long)p->lower,
               (long long)p->upper);
    else if (p->outer)
      snprintf(what, sizeof what, "%s outer join (both sides kept in state for good; unmatched rows "
               "NULL-padded, retracted at their first match%s)",
               p->outer == SQL_OUTER_LEFT ? "left" : p->outer == SQL_OUTER_RIGHT ? "right" : "full",
               counted_join(p) ? ", padded again when their last one is retracted" : "");
    else
      snprintf(what, sizeof what, "%s", p->window ? "window join (pairs when the window ends)"
                                                  : "join (both sides kept in state for good)");
    sl__sql_appendf(buf, len, cap, "%*s%s on ", depth, "", what);
    for (int k = 0; k < p->n_eq; k++)
      sl__sql_appendf(buf, len, cap, "%s%s.%s = %s.%s", k ? " AND " : "", p->rels[p->lk[k]] ? p->rels[p->lk[k]] : "?",
                      p->names[p->lk[k]], p->rels[p->in->n + p->rk[k]] ? p->rels[p->in->n + p->rk[k]] : "?",
                      p->names[p->in->n + p->rk[k]]);
    if (p->jcond) {
      sql_scope sc = {NULL, p->n, p->names, p->types, NULL, NULL, NULL, p->rels};
      sl__sql_expr_text(p->jcond, &sc, tmp, sizeof tmp);
      sl__sql_appendf(buf, len, cap, " AND %s", tmp);
    }
    sl__sql_appendf(buf, len, cap, "\n");
    explain_plan(p->in, depth + 2, buf, len, cap);
    explain_plan(p->right, depth + 2, buf, len, cap);
    return;
  }
  if (p->kind == SQL_P_TOPN) {
    sl__sql_appendf(buf, len, cap, "%*stop-n: %s <= %lld per [", depth, "", p->rank ? "RANK" : "ROW_NUMBER",
                    (long long)p->limit);
    for (int k = 0; k < p->n_part; k++) sl__sql_appendf(buf, len, cap, "%s%s", k ? ", " : "", p->in->names[p->part[k]]);
    sl__sql_appendf(buf, len, cap, "] order by [");
    for (int k = 0; k < p->n_ord; k++)
      sl__sql_appendf(buf, len, cap, "%s%s%s", k ? ", " : "", p->in->names[p->ord[k]], p->desc[k] ? " DESC" : "");
    if (p->time_col >= 0)
      sl__sql_appendf(buf, len, cap, "], emitted when window_end passes (adds %s)\n", p->names[p->n - 1]);
    else
      sl__sql_appendf(buf, len, cap, "], updated as rows arrive: -U/+U of the ranks that change, +I of a new "
                                     "one (adds %s)\n", p->names[p->n - 1]);
    explain_plan(p->in, depth + 2, buf, len, cap);
    return;
  }
  if (p->kind == SQL_P_SCAN) {
    const sql_table *t = p->table;
    if (t->rowtime >= 0) {
      sl__sql_appendf(buf, len, cap, "%*swatermarks: %s (event time %s, bounded out-of-orderness %lld ms)\n",
                  depth, "", t->name, t->names[t->rowtime], (long long)t->wm_delay_ms);
      depth += 2;
    }
    int decoded = !t->cdc && (t->connector == SQL_CONN_FILESYSTEM || t->connector == SQL_CONN_NEXMARK ||
                              t->connector == SQL_CONN_POSTGRES);
    if (decoded) {
      sl__sql_appendf(buf, len, cap, "%*sdecode: %s (%s -> row of %d columns", depth, "", t->name,
                  t->connector == SQL_CONN_NEXMARK ? "nexmark events" : sl__sql_fmt_name[t->format],
                  t->n_cols);
      int all = 1;
      for (int i = 0; p->used && i < t->n_cols; i++) all &= p->used[i];
      if (t->connector == SQL_CONN_NEXMARK && !all) { /* only these are filled in */
        sl__sql_appendf(buf, len, cap, "; reads ");
        for (int i = 0, k = 0; i < t->n_cols; i++)
          if (p->used[i]) sl__sql_appendf(buf, len, cap, "%s%s", k++ ? ", " : "", t->names[i]);
      }
      sl__sql_appendf(buf, len, cap, ")\n");
    }
    if (t->connector == SQL_CONN_UPSERT_KAFKA) {
      sl__sql_appendf(buf, len, cap, "%*schangelog normalize: %s (the row now per primary key [", depth, "",
                      t->name);
      for (int k = 0; k < t->n_pk; k++) sl__sql_appendf(buf, len, cap, "%s%s", k ? ", " : "", t->names[t->pk[k]]);
      sl__sql_appendf(buf, len, cap, "]: an upsert -> +I or -U, +U; a tombstone -> -D)\n");
      depth += 2;
    }
    char how[80] = "";
    if (t->cdc) snprintf(how, sizeof how, " (CDC: a changelog +I/-U/+U/-D, typed rows)");
    if (t->format == SQL_FMT_DEBEZIUM) snprintf(how, sizeof how, " (change events: a changelog +I/-U/+U/-D)");
    if (t->connector == SQL_CONN_UPSERT_KAFKA)
      snprintf(how, sizeof how, " (upserts: key in %s, value: row in %s)",
               sl__sql_fmt_name[t->key_format], sl__sql_fmt_name[t->format]);
    opts_text(t, tmp, sizeof tmp);
    sl__sql_appendf(buf, len, cap, "%*ssource: %s [%s]%s\n", depth + (decoded ? 2 : 0), "", t->name, tmp, how);
    return;
  }
  sql_scope sc = {NULL, p->in->n, p->in->names, p->in->types, NULL, NULL, NULL, p->in->rels};
  sl__sql_appendf(buf, len, cap, "%*scalc: select ", depth, "");
  for (int i = 0; i < p->n; i++) {
    sl__sql_expr_text(p->proj[i], &sc, tmp, sizeof tmp);
    char tn[32];
    sl__sql_appendf(buf, len, cap, "%s%s AS %s %s", i ? ", " : "", tmp, p->names[i],
                sl__row_type_name(p->types[i], tn, sizeof tn));
  }
  if (p->where) {
    sl__sql_expr_text(p->where, &sc, tmp, sizeof tmp);
    sl__sql_appendf(buf, len, cap, " where %s", tmp);
  }
  sl__sql_appendf(buf, len, cap, "\n");
  explain_plan(p->in, depth + 2, buf, len, cap);
}

void sl__sql_explain(const sql_insert *ins, int n, char **buf, size_t *len, size_t *cap) {
  for (int i = 0; i < n; i++) {
    const sql_table *t = ins[i].sink;
    char tmp[1024];
    if (t) {
      opts_text(t, tmp, sizeof tmp);
      sl__sql_appendf(buf, len, cap, "sink: %s [%s]\n", t->name, tmp);
      int cl = ins[i].plan->changelog;
      if (t->connector == SQL_CONN_UPSERT_KAFKA) {
        sl__sql_appendf(buf, len, cap, "  encode: %s (row -> key: ", t->name);
        for (int k = 0; k < t->n_pk; k++) sl__sql_appendf(buf, len, cap, "%s%s", k ? ", " : "", t->names[t->pk[k]]);
        sl__sql_appendf(buf, len, cap, " in %s, value: row in %s; -U skipped, -D as a tombstone)\n",
                        sl__sql_fmt_name[t->key_format], sl__sql_fmt_name[t->format]);
      } else if (t->connector != SQL_CONN_BLACKHOLE)
        sl__sql_appendf(buf, len, cap, "  encode: %s (row -> %s)\n", t->name,
                  t->connector == SQL_CONN_POSTGRES && cl && updates_change_keys(ins[i].plan, t)
                      ? "the change kind and csv: upserted and deleted by the primary key, -U as -D (an "
                        "update may change the key)"
                  : t->connector == SQL_CONN_POSTGRES && cl ? "the change kind and csv: upserted and deleted by "
                                                            "the primary key"
                  : t->format == SQL_FMT_DEBEZIUM ? "debezium-json: +I and +U as create events (c), -U and -D "
                                                    "as delete events (d)"
                  : t->connector == SQL_CONN_FILESYSTEM || t->connector == SQL_CONN_KAFKA ||
                          t->connector == SQL_CONN_POSTGRES
                      ? sl__sql_fmt_name[t->format]
                  : t->connector == SQL_CONN_PRINT   ? (cl ? "+I/-U/+U/-D[...] text" : "+I[...] text")
                                                     : "nothing");
      if (needs_materializer(ins[i].plan, t))
        sl__sql_appendf(buf, len, cap, "  upsert materializer: the rows now in the result per primary key (its "
                                       "changes do not come by that key)\n");
    } else {
      sl__sql_appendf(buf, len, cap, "sink: print (a query's result)\n  encode: (row -> %s text)\n",
                      ins[i].plan->changelog ? "+I/-U/+U/-D[...]" : "+I[...]");
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

/* A text line (CSV or JSON) of table t -> its columns' values in vals[]
 * (strings in scratch memory).  0; 1 with the reason in reason[] for a bad
 * line; or a negative SL_E* code. */
static int decode_vals(sl_ctx *ctx, const sql_table *t, const char *line, size_t len, sl__val *vals,
                       char *reason, size_t rcap) {
  int n = t->n_cols;
  char *buf = sl_ctx_scratch(ctx, len + 1);
  if (!buf) return -SL_ENOMEM;
  const char *why = NULL;
  int bad = -1;
  if (len && line[len - 1] == '\r') len--;
  if (t->format != SQL_FMT_CSV) { /* json; debezium-json's images */
    if (sl__row_from_json(line, len, n, t->types, (const char *const *)t->names, vals, buf, len + 1,
                          &why, &bad)) {
      char tn[32];
      if (bad >= 0)
        snprintf(reason, rcap, "column '%s' (%s): %s", t->names[bad],
                 sl__row_type_name(t->types[bad], tn, sizeof tn), why);
      else
        snprintf(reason, rcap, "%s", why);
      return 1;
    }
  } else {
    sl__csv_field *f = sl_ctx_scratch(ctx, (size_t)(n + 1) * sizeof *f);
    if (!f) return -SL_ENOMEM;
    int nf = sl__csv_split(line, len, f, n + 1, buf, len + 1, &why);
    if (nf < 0) return snprintf(reason, rcap, "%s", why), 1;
    if (nf != n) return snprintf(reason, rcap, "%d fields, the table has %d columns", nf, n), 1;
    for (int i = 0; i < n; i++) {
      if (!f[i].quoted && f[i].n == 0) {
        vals[i] = (sl__val){.null = 1};
        continue;
      }
      if (sl__row_parse_text(t->types[i], f[i].p, f[i].n, &vals[i], &why)) {
        char tn[32];
        snprintf(reason, rcap, "column '%s' (%s): %s: '%.*s'", t->names[i],
                 sl__row_type_name(t->types[i], tn, sizeof tn), why, (int)(f[i].n > 40 ? 40 : f[i].n),
                 f[i].p);
        return 1;
      }
    }
  }
  return 0;
}

/* values -> a row in scratch memory (*row, *row_len; pre bytes before it,
 * left for the caller) and its event time (*ts, unchanged without one).
 * 0; 1 with the reason for a NULL event time; or a negative SL_E* code. */
static int row_of_vals(sl_ctx *ctx, const sql_table *t, const sl__val *vals, size_t pre, void **row,
                       uint32_t *row_len, int64_t *ts, char *reason, size_t rcap) {
  if (t->rowtime >= 0) { /* the event time */
    if (vals[t->rowtime].null)
      return snprintf(reason, rcap, "column '%s' is NULL: it is the table's event time",
                      t->names[t->rowtime]), 1;
    *ts = vals[t->rowtime].u.i;
  }
  size_t sz = sl__row_size(t->types, vals, t->n_cols);
  uint8_t *r = sl_ctx_scratch(ctx, pre + sz);
  if (!r) return -SL_ENOMEM;
  sl__row_write(r + pre, t->types, vals, t->n_cols);
  *row = r, *row_len = (uint32_t)(pre + sz);
  return 0;
}

/* A text line (CSV or JSON) of table t -> a row in scratch memory (*row,
 * *row_len) and its event time (*ts, unchanged without one).  0; 1 with
 * the reason in reason[] for a bad line; or a negative SL_E* code. */
static int decode_line(sl_ctx *ctx, const sql_table *t, const char *line, size_t len, void **row,
                       uint32_t *row_len, int64_t *ts, char *reason, size_t rcap) {
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)t->n_cols * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  int rc = decode_vals(ctx, t, line, len, vals, reason, rcap);
  return rc ? rc : row_of_vals(ctx, t, vals, 0, row, row_len, ts, reason, rcap);
}

static int decode(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  const sql_plan *p = ud;
  const sql_table *t = p->table;
  char reason[256];
  sl_record r = {in->ts, NULL, 0, NULL, 0};
  int rc = decode_line(ctx, t, in->value, in->value_len, (void **)&r.value, &r.value_len, &r.ts, reason,
                       sizeof reason);
  if (rc < 0) return rc;
  if (rc == 0) return sl_emit(out, &r);
  char where[512];
  where_of(where, sizeof where, t, in);
  return sl_ctx_bad_record(ctx, where, reason, in);
}

/* Kafka: a message -> a row, in the source (so its event time drives the
 * per-partition watermarks); a bad one is named by topic, partition and
 * offset. */
static int decode_kafka(void *ud, sl_ctx *ctx, const sl_kafka_message *m, sl_record *out) {
  const sql_plan *p = ud;
  char reason[256];
  void *row = NULL;
  uint32_t len = 0;
  int64_t ts = out->ts;
  int rc = decode_line(ctx, p->table, m->value, m->value_len, &row, &len, &ts, reason, sizeof reason);
  if (rc < 0) return rc;
  if (rc == 1) {
    char where[384];
    snprintf(where, sizeof where, "table '%s' (topic %s partition %d offset %lld)", p->table->name,
             m->topic, (int)m->partition, (long long)m->offset);
    rc = sl_ctx_bad_record(ctx, where, reason, out);
    return rc ? rc : 1; /* to the dead-letter file: skipped */
  }
  out->value = row, out->value_len = len, out->ts = ts;
  out->key = NULL, out->key_len = 0;
  return 0;
}

/* debezium-json (Flink's format of that name): a change event {"before":
 * row | null, "after": row | null, "op": "c" | "r" | "u" | "d", ...}, or
 * the same in "payload" (with "schema" beside it) -> its changelog rows:
 * c and r (a snapshot read) +I after; u -U before, +U after; d -D before.
 * rows[0..*n) are [kind][row] in scratch memory, ts[k] their event times
 * (unchanged without one).  0; 1 with the reason for a bad event; 2 with
 * the reason for an update or delete without its before image (the job
 * fails: it cannot be retracted); or a negative SL_E* code. */
static int dbz_decode(sl_ctx *ctx, const sql_table *t, const char *line, size_t len, sl_bytes rows[2],
                      int64_t ts[2], int *n, char *reason, size_t rcap) {
  static const char *const keys[4] = {"before", "after", "op", "payload"};
  static const char *const image[2] = {"before", "after"};
  sl__json_span sp[4];
  const char *why;
  *n = 0;
  if (sl__json_members(line, len, 4, keys, sp, &why)) return snprintf(reason, rcap, "%s", why), 1;
  if (!sp[2].p && sp[3].p && sl__json_members(sp[3].p, sp[3].n, 3, keys, sp, &why))
    return snprintf(reason, rcap, "\"payload\": %s", why), 1;
  char op = sp[2].p && sp[2].n == 3 && sp[2].p[0] == '"' && sp[2].p[2] == '"' ? sp[2].p[1] : 0;
  int img[2] = {-1, -1}, kind[2] = {0, 0}; /* per row: 0 before, 1 after */
  if (op == 'c' || op == 'r') img[0] = 1, kind[0] = SL__ROW_INSERT;
  else if (op == 'u') img[0] = 0, kind[0] = SL__ROW_UPDATE_BEFORE, img[1] = 1, kind[1] = SL__ROW_UPDATE_AFTER;
  else if (op == 'd') img[0] = 0, kind[0] = SL__ROW_DELETE;
  else if (!sp[2].p) return snprintf(reason, rcap, "no \"op\": not a Debezium change event"), 1;
  else return snprintf(reason, rcap, "\"op\" %.*s is not one of \"c\", \"r\", \"u\", \"d\"",
                       (int)(sp[2].n > 20 ? 20 : sp[2].n), sp[2].p), 1;
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)t->n_cols * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  for (int k = 0; k < 2 && img[k] >= 0; k++) {
    sl__json_span im = sp[img[k]];
    if (!im.p || (im.n == 4 && !memcmp(im.p, "null", 4))) {
      if (img[k] == 1) return snprintf(reason, rcap, "the \"after\" image of a \"%c\" event is null", op), 1;
      return snprintf(reason, rcap, "the \"before\" image of %s is null, so it cannot be retracted: "
                      "Debezium's PostgreSQL connector sends it for tables with REPLICA IDENTITY FULL "
                      "(ALTER TABLE ... REPLICA IDENTITY FULL)", op == 'u' ? "an update (\"u\")" : "a delete (\"d\")"),
             2;
    }
    char r[224];
    void *row;
    uint32_t rl;
    int rc = decode_vals(ctx, t, im.p, im.n, vals, r, sizeof r);
    if (!rc) rc = row_of_vals(ctx, t, vals, 1, &row, &rl, &ts[k], r, sizeof r);
    if (rc == 1) return snprintf(reason, rcap, "\"%s\": %s", image[img[k]], r), 1;
    if (rc) return rc;
    *(uint8_t *)row = (uint8_t)kind[k];
    rows[(*n)++] = (sl_bytes){row, rl};
  }
  return 0;
}

/* A debezium-json line of a file (decode: T, as decode) -> its rows. */
static int decode_dbz(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  const sql_table *t = ((const sql_plan *)ud)->table;
  sl_bytes rows[2];
  int64_t ts[2] = {in->ts, in->ts};
  int n;
  char reason[256], where[512];
  int rc = dbz_decode(ctx, t, in->value, in->value_len, rows, ts, &n, reason, sizeof reason);
  for (int k = 0; rc == 0 && k < n; k++) {
    sl_record r = {ts[k], NULL, 0, rows[k].data, rows[k].len};
    rc = sl_emit(out, &r);
  }
  if (rc <= 0) return rc;
  where_of(where, sizeof where, t, in);
  return rc == 2 ? sl_ctx_fail(ctx, "%s: %s", where, reason) : sl_ctx_bad_record(ctx, where, reason, in);
}

/* A debezium-json Kafka message -> its rows in the source (so the
 * partitions' watermarks see their times); an update's two are one record
 * [DBZ_PAIR][u32 length of the first][first][second] that dbz_split
 * parts.  A tombstone (Debezium's, after a delete, for compaction) is no
 * change: skipped. */
#define DBZ_PAIR 4
static int decode_kafka_dbz(void *ud, sl_ctx *ctx, const sl_kafka_message *m, sl_record *out) {
  const sql_table *t = ((const sql_plan *)ud)->table;
  if (m->value_null) return 1;
  sl_bytes rows[2];
  int64_t ts[2] = {out->ts, out->ts};
  int n;
  char reason[256], where[384];
  int rc = dbz_decode(ctx, t, m->value, m->value_len, rows, ts, &n, reason, sizeof reason);
  if (rc < 0) return rc;
  if (rc) {
    snprintf(where, sizeof where, "table '%s' (topic %s partition %d offset %lld)", t->name, m->topic,
             (int)m->partition, (long long)m->offset);
    if (rc == 2) return sl_ctx_fail(ctx, "%s: %s", where, reason);
    rc = sl_ctx_bad_record(ctx, where, reason, out);
    return rc ? rc : 1; /* to the dead-letter file: skipped */
  }
  out->key = NULL, out->key_len = 0, out->ts = ts[n - 1];
  if (n == 1) {
    out->value = rows[0].data, out->value_len = rows[0].len;
    return 0;
  }
  uint8_t *v = sl_ctx_scratch(ctx, 5 + (size_t)rows[0].len + rows[1].len);
  if (!v) return -SL_ENOMEM;
  v[0] = DBZ_PAIR;
  memcpy(v + 1, &rows[0].len, 4);
  memcpy(v + 5, rows[0].data, rows[0].len);
  memcpy(v + 5 + rows[0].len, rows[1].data, rows[1].len);
  out->value = v, out->value_len = 5 + rows[0].len + rows[1].len;
  return 0;
}

static int dbz_split(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  (void)ud, (void)ctx;
  const uint8_t *v = in->value;
  if (v[0] != DBZ_PAIR) return sl_emit(out, in);
  uint32_t l0;
  memcpy(&l0, v + 1, 4);
  assert(5 + (size_t)l0 < in->value_len);
  sl_record a = {in->ts, NULL, 0, v + 5, l0}, b = {in->ts, NULL, 0, v + 5 + l0, in->value_len - 5 - l0};
  int rc = sl_emit(out, &a);
  return rc ? rc : sl_emit(out, &b);
}

/* upsert-kafka read (Flink's upsert-kafka source): a message -> [kind][row]
 * in the source.  A value is an upsert of its key's row, the value decoded
 * as the whole row (Flink's value.fields-include = ALL, as the sink writes
 * it), marked +I; a tombstone (no value) deletes its key, marked -D: the
 * row's primary-key columns from the message's key (key.format), NULL
 * elsewhere, its time the message's.  "changelog normalize" (below) makes
 * a changelog of them.  A message that does not decode is a bad record
 * named by topic, partition and offset. */
typedef struct upsert_src {
  const sql_plan *scan;
  sql_table key; /* the primary key's columns, in key.format */
} upsert_src;

static int decode_upsert_kafka(void *ud, sl_ctx *ctx, const sl_kafka_message *m, sl_record *out) {
  const upsert_src *u = ud;
  const sql_table *t = u->scan->table;
  char reason[256];
  void *row = NULL;
  uint32_t len = 0;
  int64_t ts = out->ts;
  int rc, kind = m->value_null ? SL__ROW_DELETE : SL__ROW_INSERT;
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)t->n_cols * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  if (!m->value_null) {
    rc = decode_vals(ctx, t, m->value, m->value_len, vals, reason, sizeof reason);
  } else if (!m->key_len) {
    rc = 1, snprintf(reason, sizeof reason, "a tombstone (no value) without a key: no row to delete");
  } else {
    sl__val *kv = sl_ctx_scratch(ctx, (size_t)t->n_pk * sizeof *kv);
    if (!kv) return -SL_ENOMEM;
    rc = decode_vals(ctx, &u->key, m->key, m->key_len, kv, reason, sizeof reason);
    if (rc == 1) {
      size_t n = strlen(reason);
      snprintf(reason + n, sizeof reason - n, " (the key of a tombstone, in key.format: '%.*s')",
               (int)(m->key_len > 40 ? 40 : m->key_len), (const char *)m->key);
    }
    for (int i = 0; i < t->n_cols; i++) vals[i] = (sl__val){.null = 1};
    for (int k = 0; !rc && k < t->n_pk; k++) vals[t->pk[k]] = kv[k];
    if (t->rowtime >= 0 && vals[t->rowtime].null) /* the message's time */
      vals[t->rowtime] = (sl__val){.u.i = ts == SL_NO_TIMESTAMP ? 0 : ts};
  }
  if (!rc) rc = row_of_vals(ctx, t, vals, 1, &row, &len, &ts, reason, sizeof reason);
  if (rc < 0) return rc;
  if (rc == 1) {
    char where[384];
    snprintf(where, sizeof where, "table '%s' (topic %s partition %d offset %lld)", t->name, m->topic,
             (int)m->partition, (long long)m->offset);
    rc = sl_ctx_bad_record(ctx, where, reason, out);
    return rc ? rc : 1; /* to the dead-letter file: skipped */
  }
  *(uint8_t *)row = (uint8_t)kind;
  out->value = row, out->value_len = len, out->ts = ts;
  out->key = NULL, out->key_len = 0;
  return 0;
}

/* Flink's ChangelogNormalize after an upsert source, keyed by the primary
 * key: a value state holds the key's row now.  An upsert of a new key is
 * +I; of a held key -U the old row, +U the new one (nothing when equal);
 * a tombstone -D the held row (nothing when none).  Its output is a
 * changelog by the table's primary key, as a CDC table's. */
static const sl_state_desc UPSERT_ROW = {.name = "upsert-source-row", .kind = SL_STATE_VALUE};
static int emit_kind(sl_ctx *ctx, int kind, const void *row, uint32_t len, int64_t ts, sl_collector *out);
static int columns_key(sl_ctx *ctx, const sql_plan *src, const void *row, const int *cols, int n,
                       sl_record *out);

static int normalize(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  (void)ud;
  const uint8_t *row = (const uint8_t *)in->value + 1;
  uint32_t len = in->value_len - 1;
  sl_state *st;
  sl_bytes prev;
  int rc;
  if ((rc = sl_state_get(ctx, &UPSERT_ROW, &st)) || (rc = sl_value_get(st, &prev)) < 0) return rc;
  int held = rc != SL_EMPTY;
  if (*(const uint8_t *)in->value == SL__ROW_DELETE) {
    if (!held) return 0;
    if ((rc = emit_kind(ctx, SL__ROW_DELETE, prev.data, prev.len, in->ts, out))) return rc;
    return sl_state_clear(st);
  }
  if (held && prev.len == len && !memcmp(prev.data, row, len)) return 0;
  if (held && (rc = emit_kind(ctx, SL__ROW_UPDATE_BEFORE, prev.data, prev.len, in->ts, out))) return rc;
  if ((rc = sl_value_set(st, row, len))) return rc;
  return emit_kind(ctx, held ? SL__ROW_UPDATE_AFTER : SL__ROW_INSERT, row, len, in->ts, out);
}

/* The table's primary key of a scanned changelog row. */
static int scan_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const sql_plan *p = ((const upsert_src *)ud)->scan;
  return columns_key(ctx, p, (const uint8_t *)in->value + 1, p->table->pk, p->table->n_pk, out);
}

/* PostgreSQL change data capture ('scan.mode' = 'cdc'): a typed change ->
 * [kind byte][row], in the source (no decode operator).  The kind is
 * Flink's RowKind as the stream says (sl_pg_kind is row.h's SL__ROW_*):
 * snapshot rows and inserts +I, an update its old image -U then its new
 * one +U, a delete its old image -D.  Each column's text (PostgreSQL's
 * output) is parsed as the SQL column's type.  A value the server did not
 * send (sl_pg_column.unknown: the non-key columns of an old image under
 * REPLICA IDENTITY DEFAULT, an unchanged TOASTed value) fails the job: a
 * row with made-up values would be retracted wrongly downstream.  A value
 * that does not parse is a bad record, named by table and LSN. */
static int decode_cdc(void *ud, sl_ctx *ctx, const sl_pg_row *in, sl_record *out) {
  _Static_assert((int)SL_PG_INSERT == SL__ROW_INSERT && (int)SL_PG_UPDATE_BEFORE == SL__ROW_UPDATE_BEFORE &&
                     (int)SL_PG_UPDATE_AFTER == SL__ROW_UPDATE_AFTER && (int)SL_PG_DELETE == SL__ROW_DELETE,
                 "sl_pg_kind is Flink's RowKind as row.h numbers it");
  const sql_plan *p = ud;
  const sql_table *t = p->table;
  const char *pg = sl__sql_opt(t, "table-name");
  int n = t->n_cols;
  if (in->n_cols != n)
    return sl_ctx_fail(ctx, "table '%s': PostgreSQL table '%s' has %d columns, the SQL table %d: declare them "
                       "all, in the PostgreSQL table's order", t->name, pg, in->n_cols, n);
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)n * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  char reason[256], where[384];
  for (int i = 0; i < n; i++) {
    const sl_pg_column *col = &in->cols[i];
    const char *why = NULL;
    if (col->unknown)
      return sl_ctx_fail(ctx, "table '%s' (PostgreSQL table '%s', change data capture): %s has no value for "
                         "column '%s': the server sends only the key's columns of old images under REPLICA "
                         "IDENTITY DEFAULT (and no unchanged TOASTed value), and an updating query cannot "
                         "retract values it does not know: run ALTER TABLE %s REPLICA IDENTITY FULL; and "
                         "start the job afresh (without --restore: the changes already logged lack them)",
                         t->name, pg,
                         in->kind == SL_PG_UPDATE_BEFORE ? "an update's old image (-U)"
                         : in->kind == SL_PG_DELETE      ? "a delete's old image (-D)"
                                                         : "an update's new image (+U)",
                         col->name ? col->name : t->names[i], pg);
    if (col->is_null) {
      vals[i] = (sl__val){.null = 1};
    } else if (sl__row_parse_text(t->types[i], col->text, col->len, &vals[i], &why)) {
      char tn[32];
      snprintf(reason, sizeof reason, "column '%s' (%s): %s: '%.*s'", t->names[i],
               sl__row_type_name(t->types[i], tn, sizeof tn), why, (int)(col->len > 40 ? 40 : col->len),
               col->text);
      goto bad;
    }
  }
  if (t->rowtime >= 0) { /* the event time */
    if (vals[t->rowtime].null) {
      snprintf(reason, sizeof reason, "column '%s' is NULL: it is the table's event time", t->names[t->rowtime]);
      goto bad;
    }
    out->ts = vals[t->rowtime].u.i;
  }
  size_t sz = sl__row_size(t->types, vals, n);
  uint8_t *row = sl_ctx_scratch(ctx, sz + 1);
  if (!row) return -SL_ENOMEM;
  row[0] = (uint8_t)in->kind;
  sl__row_write(row + 1, t->types, vals, n);
  out->value = row, out->value_len = (uint32_t)sz + 1;
  out->key = NULL, out->key_len = 0;
  return 0;
bad:
  snprintf(where, sizeof where, "table '%s' (PostgreSQL table '%s', %s %X/%X)", t->name, pg,
           in->lsn ? "change data capture at LSN" : "snapshot", (unsigned)(in->lsn >> 32), (unsigned)in->lsn);
  int rc = sl_ctx_bad_record(ctx, where, reason, out);
  return rc ? rc : 1; /* to the dead-letter file: skipped */
}

/* nexmark: an event of the table's kind -> a row (other kinds are skipped) */
static int decode_nexmark(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  const sql_plan *p = ud;
  const sql_table *t = p->table;
  if (sl_nexmark_type_of(in) != t->nx_type) return 0;
  int n = t->n_cols;
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)n * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  sl_nexmark_person pe;
  sl_nexmark_auction au;
  sl_nexmark_bid bi;
  const char *tail = NULL;
  const sl_nexmark_header *h = NULL;
  if (t->nx_type == SL_NEXMARK_PERSON) tail = sl_nexmark_read(in, &pe, sizeof pe), h = &pe.h;
  if (t->nx_type == SL_NEXMARK_AUCTION) tail = sl_nexmark_read(in, &au, sizeof au), h = &au.h;
  if (t->nx_type == SL_NEXMARK_BID) tail = sl_nexmark_read(in, &bi, sizeof bi), h = &bi.h;
  if (!tail) return sl_ctx_fail(ctx, "a nexmark event shorter than its kind");
  for (int i = 0; i < n; i++) {
    sl__val *v = &vals[i];
    *v = (sl__val){0};
    if (p->used && !p->used[i]) { /* not read by the query: NULL, not copied */
      v->null = 1;
      continue;
    }
    int str = -1;
    switch (t->nx_field[i]) {
      case SQL_NX_ID: v->u.i = t->nx_type == SL_NEXMARK_PERSON ? pe.id : au.id; break;
      case SQL_NX_DATE_TIME:
        v->u.i = t->nx_type == SL_NEXMARK_PERSON ? pe.date_time : t->nx_type == SL_NEXMARK_AUCTION ? au.date_time : bi.date_time;
        break;
      case SQL_NX_INITIAL_BID: v->u.i = au.initial_bid; break;
      case SQL_NX_RESERVE: v->u.i = au.reserve; break;
      case SQL_NX_EXPIRES: v->u.i = au.expires; break;
      case SQL_NX_SELLER: v->u.i = au.seller; break;
      case SQL_NX_CATEGORY: v->u.i = au.category; break;
      case SQL_NX_AUCTION: v->u.i = bi.auction; break;
      case SQL_NX_BIDDER: v->u.i = bi.bidder; break;
      case SQL_NX_PRICE: v->u.i = bi.price; break;
      case SQL_NX_NAME: str = SL_NEXMARK_NAME; break;
      case SQL_NX_EMAIL: str = SL_NEXMARK_EMAIL; break;
      case SQL_NX_CARD: str = SL_NEXMARK_CREDIT_CARD; break;
      case SQL_NX_CITY: str = SL_NEXMARK_CITY; break;
      case SQL_NX_STATE: str = SL_NEXMARK_STATE; break;
      case SQL_NX_ITEM_NAME: str = SL_NEXMARK_ITEM_NAME; break;
      case SQL_NX_DESCRIPTION: str = SL_NEXMARK_DESCRIPTION; break;
      case SQL_NX_CHANNEL: str = SL_NEXMARK_CHANNEL; break;
      case SQL_NX_URL: str = SL_NEXMARK_URL; break;
      case SQL_NX_EXTRA:
        v->u.s.p = sl_nexmark_extra(h, tail), v->u.s.n = h->extra_len;
        break;
    }
    if (str >= 0) {
      size_t len;
      v->u.s.p = sl_nexmark_str(h, tail, str, &len);
      v->u.s.n = (uint32_t)len;
    }
  }
  size_t sz = sl__row_size(t->types, vals, n);
  void *row = sl_ctx_scratch(ctx, sz);
  if (!row) return -SL_ENOMEM;
  sl__row_write(row, t->types, vals, n);
  sl_record r = {t->rowtime >= 0 ? vals[t->rowtime].u.i : in->ts, NULL, 0, row, (uint32_t)sz};
  return sl_emit(out, &r);
}

/* The row as a CSV line in scratch memory (for bad records). */
static sl_record row_as_text(sl_ctx *ctx, const sl_record *in, const void *row, const sql_plan *p) {
  sl_record r = *in;
  size_t need = sl__row_to_csv(row, p->n, p->types, NULL, 0);
  char *buf = sl_ctx_scratch(ctx, need);
  if (buf) {
    sl__row_to_csv(row, p->n, p->types, buf, need);
    r.value = buf, r.value_len = (uint32_t)need;
  }
  return r;
}

/* WHERE, then the SELECT list; a changelog row keeps its kind. */
static int calc(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  const sql_plan *p = ud;
  const sql_plan *src = p->in;
  int cl = src->changelog; /* the kind byte before the row */
  sql_eval ev = {(const uint8_t *)in->value + cl, src->n, src->types, scratch, ctx, {0}};
  sl__val v;
  if (p->where) {
    if (sl__sql_eval_expr(p->where, &ev, &v)) goto bad;
    if (v.null || !v.u.i) return 0;
  }
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)p->n * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  for (int i = 0; i < p->n; i++)
    if (sl__sql_eval_expr(p->proj[i], &ev, &vals[i])) goto bad;
  size_t sz = sl__row_size(p->types, vals, p->n);
  uint8_t *row = sl_ctx_scratch(ctx, sz + (size_t)cl);
  if (!row) return -SL_ENOMEM;
  if (cl) row[0] = *(const uint8_t *)in->value;
  sl__row_write(row + cl, p->types, vals, p->n);
  sl_record r = {in->ts, NULL, 0, row, (uint32_t)(sz + (size_t)cl)};
  return sl_emit(out, &r);
bad: {
  char where[512];
  const sql_plan *s = src;
  while (s->kind != SQL_P_SCAN) s = s->in;
  where_of(where, sizeof where, s->table, in);
  sl_record text = row_as_text(ctx, in, ev.row, src);
  return sl_ctx_bad_record(ctx, where, ev.err, &text);
}
}

typedef struct sink_ud {
  const sql_plan *plan;
  const sql_table *sink; /* NULL: print */
  /* upsert-kafka: the primary key's columns' types and names */
  sl__row_type *ktypes;
  const char **knames;
  int before_as_delete;  /* updates_change_keys: a postgres or upsert-kafka sink's -U as -D */
} sink_ud;

static int columns_key(sl_ctx *ctx, const sql_plan *src, const void *row, const int *cols, int n,
                       sl_record *out);

/* The sink table's primary key of a changelog row. */
static int sink_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const sink_ud *s = ud;
  return columns_key(ctx, s->plan, (const uint8_t *)in->value + 1, s->sink->pk, s->sink->n_pk, out);
}

/* upsert-kafka's primary key of a row, changelog or not. */
static int upsert_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const sink_ud *s = ud;
  return columns_key(ctx, s->plan, (const uint8_t *)in->value + s->plan->changelog, s->sink->pk,
                     s->sink->n_pk, out);
}

/* debezium-json (as Flink writes it): +I and +U as a create event
 * {"before":null,"after":{row},"op":"c"}, -U and -D as a delete event
 * {"before":{row},"after":null,"op":"d"}; the length needed, as the row
 * printers. */
static size_t dbz_put(char *buf, size_t cap, size_t at, const char *s) {
  size_t n = strlen(s);
  if (at + n <= cap) memcpy(buf + at, s, n);
  return at + n;
}

static size_t dbz_encode(const sql_plan *p, int kind, const void *row, char *buf, size_t cap) {
  int add = kind == SL__ROW_INSERT || kind == SL__ROW_UPDATE_AFTER;
  size_t at = dbz_put(buf, cap, 0, add ? "{\"before\":null,\"after\":" : "{\"before\":");
  at += sl__row_to_json(row, p->n, p->types, (const char *const *)p->names, at < cap ? buf + at : NULL,
                        at < cap ? cap - at : 0);
  return dbz_put(buf, cap, at, add ? ",\"op\":\"c\"}" : ",\"after\":null,\"op\":\"d\"}");
}

/* A row as its sink's text: CSV, JSON or the print format; a changelog
 * row to print as "-U[...]", to postgres as "-U,csv..." (the sink's
 * sink.changelog form). */
static int encode(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const sink_ud *s = ud;
  const sql_plan *p = s->plan;
  int fmt = !s->sink || s->sink->connector == SQL_CONN_PRINT ? 0 : s->sink->format;
  int cl = p->changelog, kind = cl ? *(const uint8_t *)in->value : SL__ROW_INSERT;
  const void *row = (const uint8_t *)in->value + cl;
  size_t pre = cl && fmt && fmt != SQL_FMT_DEBEZIUM ? 3 : 0; /* "+U," */
  size_t cap = (size_t)in->value_len * 2 + 64, need;
  for (;;) {
    char *buf = sl_ctx_scratch(ctx, cap);
    if (!buf) return -SL_ENOMEM;
    if (pre)
      memcpy(buf, sl__row_kind_text[s->before_as_delete && kind == SL__ROW_UPDATE_BEFORE ? SL__ROW_DELETE : kind & 3], 2),
          buf[2] = ',';
    need = fmt == SQL_FMT_CSV        ? pre + sl__row_to_csv(row, p->n, p->types, buf + pre, cap - pre)
           : fmt == SQL_FMT_JSON     ? sl__row_to_json(row, p->n, p->types,
                                                       (const char *const *)p->names, buf, cap)
           : fmt == SQL_FMT_DEBEZIUM ? dbz_encode(p, kind, row, buf, cap)
                                     : sl__row_to_print(kind, row, p->n, p->types, buf, cap);
    if (need <= cap) {
      out->value = buf, out->value_len = (uint32_t)need;
      return 0;
    }
    cap = need;
  }
}

/* A row's text in fmt (SQL_FMT_CSV / _JSON) in scratch memory. */
static int row_text_in(sl_ctx *ctx, int fmt, const void *row, int n, const sl__row_type *types,
                       const char *const *names, size_t hint, const char **text, uint32_t *len) {
  size_t cap = hint * 2 + 64, need;
  for (;;) {
    char *buf = sl_ctx_scratch(ctx, cap);
    if (!buf) return -SL_ENOMEM;
    need = fmt == SQL_FMT_JSON ? sl__row_to_json(row, n, types, names, buf, cap)
                               : sl__row_to_csv(row, n, types, buf, cap);
    if (need <= cap) {
      *text = buf, *len = (uint32_t)need;
      return 0;
    }
    cap = need;
  }
}

/* upsert-kafka: one message per change but -U -- key = the primary key's
 * columns in key.format, value = the row in value.format; a -D's value is
 * empty, which the sink (sink.empty-value-as-null) sends as NULL: a
 * tombstone. */
static int upsert_encode(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  const sink_ud *s = ud;
  const sql_plan *p = s->plan;
  const sql_table *t = s->sink;
  int cl = p->changelog, kind = cl ? *(const uint8_t *)in->value : SL__ROW_INSERT;
  if (kind == SL__ROW_UPDATE_BEFORE && !s->before_as_delete) return 0; /* the +U that follows replaces it */
  if (kind == SL__ROW_UPDATE_BEFORE) kind = SL__ROW_DELETE; /* the key may change: the old one goes */
  const void *row = (const uint8_t *)in->value + cl;
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)t->n_pk * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  for (int k = 0; k < t->n_pk; k++) sl__row_get(row, p->n, p->types, t->pk[k], &vals[k]);
  size_t ksz = sl__row_size(s->ktypes, vals, t->n_pk);
  void *krow = sl_ctx_scratch(ctx, ksz);
  if (!krow) return -SL_ENOMEM;
  sl__row_write(krow, s->ktypes, vals, t->n_pk);
  sl_record r = {in->ts, NULL, 0, "", 0};
  int rc = row_text_in(ctx, t->key_format, krow, t->n_pk, s->ktypes, s->knames, ksz,
                       (const char **)&r.key, &r.key_len);
  if (!rc && kind != SL__ROW_DELETE)
    rc = row_text_in(ctx, t->format, row, p->n, p->types, (const char *const *)p->names,
                     (size_t)in->value_len, (const char **)&r.value, &r.value_len);
  return rc ? rc : sl_emit(out, &r);
}

/* ---- the upsert sinks' materializer ------------------------------------------- */

/* Does p's changelog update by the sink's primary key, passed on by
 * CALCs: a GROUP BY whose group columns are exactly the key, or a CDC
 * table's own rows whose declared PRIMARY KEY is exactly the key?  Then
 * the changes of one key come from one place, in order. */
static int updates_by_key(const sql_plan *p, const sql_table *t) {
  int cols[64], n = t->n_pk;
  if (n > 64) return 0;
  for (int k = 0; k < n; k++) cols[k] = t->pk[k];
  for (; p->kind == SQL_P_CALC; p = p->in)
    for (int k = 0; k < n; k++) {
      const sql_expr *e = p->proj[cols[k]];
      if (e->op != SQL_E_COL) return 0;
      cols[k] = e->col;
    }
  int m = p->kind == SQL_P_GROUPAGG ? p->n_keys : p->kind == SQL_P_SCAN && p->changelog ? p->table->n_pk : -1;
  if (n != m) return 0;
  for (int k = 0; k < n; k++) {
    int in_key = 0;
    for (int q = 0; q < m && !in_key; q++) in_key = cols[k] == (p->kind == SQL_P_GROUPAGG ? q : p->table->pk[q]);
    if (!in_key) return 0;
    for (int q = 0; q < k; q++)
      if (cols[q] == cols[k]) return 0;
  }
  return 1;
}

/* Needs the sink an upsert materializer (below)?  Not when the changes
 * come by its key. */
static int needs_materializer(const sql_plan *p, const sql_table *t) {
  return p->changelog && t && t->n_pk &&
         (t->connector == SQL_CONN_POSTGRES || t->connector == SQL_CONN_UPSERT_KAFKA) && !updates_by_key(p, t);
}

/* Flink's SinkUpsertMaterializer, before an upsert sink (postgres,
 * upsert-kafka) whose primary key is not what the changelog updates by (a
 * join's rows, rows whose key changes): then the changes of one sink key
 * come from several places in any order, and a -U may carry another key
 * than its +U.  Keyed by the sink's key, a list state holds the rows now in
 * the result with that key; +I / +U adds one and upserts it; -U / -D takes
 * an equal one out, and if that was the row the sink shows, the one before
 * it is upserted instead, or (none left) the key is deleted.  The sink sees
 * +I, +U and -D. */
static const sl_state_desc SINK_ROWS = {.name = "sink-upsert-rows", .kind = SL_STATE_LIST};
static int keep_copy(sl_ctx *ctx, sl_bytes **kept, size_t *n, size_t *cap, sl_bytes v);

static int emit_kind(sl_ctx *ctx, int kind, const void *row, uint32_t len, int64_t ts, sl_collector *out) {
  uint8_t *v = sl_ctx_scratch(ctx, (size_t)len + 1);
  if (!v) return -SL_ENOMEM;
  v[0] = (uint8_t)kind;
  memcpy(v + 1, row, len);
  sl_record r = {ts, NULL, 0, v, len + 1};
  return sl_emit(out, &r);
}

static int materialize(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  const uint8_t *row = (const uint8_t *)in->value + 1;
  uint32_t len = in->value_len - 1;
  int kind = *(const uint8_t *)in->value;
  sl_state *st;
  sl_list_iter it;
  int rc;
  if ((rc = sl_state_get(ctx, &SINK_ROWS, &st)) || (rc = sl_list_get(st, &it)) < 0) return rc;
  int empty = rc == SL_EMPTY;
  if (kind == SL__ROW_INSERT || kind == SL__ROW_UPDATE_AFTER) {
    if ((rc = sl_list_add(st, row, len))) return rc;
    return emit_kind(ctx, empty ? SL__ROW_INSERT : SL__ROW_UPDATE_AFTER, row, len, in->ts, out);
  }
  size_t n = 0, cap = 0, at = SIZE_MAX;
  sl_bytes *kept = NULL, v;
  while (!empty && sl_list_next(&it, &v) == 1) {
    if (v.len == len && !memcmp(v.data, row, len)) at = n; /* the last equal one */
    if ((rc = keep_copy(ctx, &kept, &n, &cap, v))) return rc;
  }
  if (at == SIZE_MAX) return 0; /* not in the result (its state expired) */
  int shown = at == n - 1;
  memmove(&kept[at], &kept[at + 1], (n - at - 1) * sizeof *kept);
  if ((rc = --n ? sl_list_update(st, kept, n) : sl_state_clear(st))) return rc;
  if (!shown) return 0;
  return n ? emit_kind(ctx, SL__ROW_UPDATE_AFTER, kept[n - 1].data, kept[n - 1].len, in->ts, out)
           : emit_kind(ctx, SL__ROW_DELETE, row, len, in->ts, out);
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
  *out = (sl_record){t->rowtime >= 0 ? vals[t->rowtime].u.i : SL_NO_TIMESTAMP, NULL, 0, row, (uint32_t)sz};
  return 0;
}

/* The window's key: the key columns (the first n_keys of its input row) as
 * a row of their own; one constant byte without keys. */
static int win_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const sql_plan *w = ud;
  const sql_plan *pre = w->in;
  static const char one = 1;
  if (!w->n_keys) {
    out->key = &one, out->key_len = 1;
    return 0;
  }
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)w->n_keys * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  const uint8_t *row = (const uint8_t *)in->value + pre->changelog; /* past a changelog row's kind */
  for (int k = 0; k < w->n_keys; k++) sl__row_get(row, pre->n, pre->types, k, &vals[k]);
  size_t sz = sl__row_size(pre->types, vals, w->n_keys);
  void *key = sl_ctx_scratch(ctx, sz);
  if (!key) return -SL_ENOMEM;
  sl__row_write(key, pre->types, vals, w->n_keys);
  out->key = key, out->key_len = (uint32_t)sz;
  return 0;
}

static int win_emit(const sql_plan *w, sl_ctx *ctx, const sl_window *win, const void *acc, const sl__val *strs,
                    sl_collector *out);

/* A window fires: [window_start, window_end, keys..., aggregates...]. */
static int win_fire(void *ud, sl_ctx *ctx, const sl_window *win, sl_window_elems *elems, sl_collector *out) {
  const sql_plan *w = ud;
  sl_record r;
  if (sl_window_next(elems, &r) != 1 || r.value_len != (uint32_t)w->n_aggs * ACC_SLOT)
    return sl_ctx_fail(ctx, "window [%lld, %lld): no aggregate", (long long)win->start, (long long)win->end);
  return win_emit(w, ctx, win, r.value, NULL, out);
}

/* A distinct value of COUNT(DISTINCT): its bytes (a VARCHAR's, else the
 * 8-byte slot), copied into scratch memory. */
typedef struct dist_val {
  const uint8_t *p;
  uint32_t n;
} dist_val;

static int dist_cmp(const void *a, const void *b) {
  const dist_val *x = a, *y = b;
  uint32_t n = x->n < y->n ? x->n : y->n;
  int r = memcmp(x->p, y->p, n);
  return r ? r : (x->n > y->n) - (x->n < y->n);
}

typedef struct buf_agg {
  dist_val *v; /* COUNT(DISTINCT): the values seen (duplicates too, until the end) */
  int n, cap;
  sl__val best; /* MIN/MAX of VARCHAR: the best so far (copied) */
} buf_agg;

/* A buffered window fires (COUNT(DISTINCT), MIN/MAX of VARCHAR): its rows
 * are folded into an accumulator as acc_add does; the distinct values of
 * each COUNT(DISTINCT) are gathered, sorted and counted, and the least /
 * greatest string kept -- all in scratch memory of this firing. */
static int win_fire_buffered(void *ud, sl_ctx *ctx, const sl_window *win, sl_window_elems *elems,
                             sl_collector *out) {
  const sql_plan *w = ud, *pre = w->in;
  void *acc = sl_ctx_scratch(ctx, (size_t)(w->n_aggs ? w->n_aggs : 1) * ACC_SLOT);
  buf_agg *ba = sl_ctx_scratch(ctx, (size_t)(w->n_aggs ? w->n_aggs : 1) * sizeof *ba);
  sl__val *strs = sl_ctx_scratch(ctx, (size_t)(w->n_aggs ? w->n_aggs : 1) * sizeof *strs);
  if (!acc || !ba || !strs) return -SL_ENOMEM;
  acc_create(ud, acc);
  memset(ba, 0, (size_t)(w->n_aggs ? w->n_aggs : 1) * sizeof *ba);
  sl_record r;
  int rc;
  while ((rc = sl_window_next(elems, &r)) == 1) {
    if ((rc = acc_add(ud, acc, r.value, r.value_len))) return rc;
    for (int j = 0; j < w->n_aggs; j++) {
      const sql_agg *a = &w->aggs[j];
      int str = a->in.kind == SL__T_VARCHAR;
      if (!a->distinct && !(str && (a->fn == SQL_AGG_MIN || a->fn == SQL_AGG_MAX))) continue;
      sl__val x;
      sl__row_get(r.value, pre->n, pre->types, a->arg, &x);
      if (x.null) continue;
      buf_agg *b = &ba[j];
      if (!a->distinct) { /* MIN / MAX of VARCHAR */
        if (!b->best.null && b->best.u.s.p) {
          dist_val nv = {(const uint8_t *)x.u.s.p, x.u.s.n}, bv = {(const uint8_t *)b->best.u.s.p, b->best.u.s.n};
          int c = dist_cmp(&nv, &bv);
          if (a->fn == SQL_AGG_MIN ? c >= 0 : c <= 0) continue;
        }
        char *cp = sl_ctx_scratch(ctx, x.u.s.n ? x.u.s.n : 1);
        if (!cp) return -SL_ENOMEM;
        memcpy(cp, x.u.s.p, x.u.s.n);
        b->best = (sl__val){0};
        b->best.u.s.p = cp, b->best.u.s.n = x.u.s.n;
        continue;
      }
      if (b->n == b->cap) {
        int nc = b->cap ? 2 * b->cap : 64;
        dist_val *nv = sl_ctx_scratch(ctx, (size_t)nc * sizeof *nv);
        if (!nv) return -SL_ENOMEM;
        if (b->n) memcpy(nv, b->v, (size_t)b->n * sizeof *nv);
        b->v = nv, b->cap = nc;
      }
      uint32_t n = str ? x.u.s.n : 8;
      uint8_t *cp = sl_ctx_scratch(ctx, n ? n : 1);
      if (!cp) return -SL_ENOMEM;
      if (str) memcpy(cp, x.u.s.p, n);
      else if (a->in.kind == SL__T_DOUBLE) memcpy(cp, &x.u.f, 8);
      else memcpy(cp, &x.u.i, 8);
      b->v[b->n++] = (dist_val){cp, n};
    }
  }
  if (rc < 0) return rc;
  for (int j = 0; j < w->n_aggs; j++) {
    const sql_agg *a = &w->aggs[j];
    strs[j] = (sl__val){.null = 1};
    if (a->distinct) {
      buf_agg *b = &ba[j];
      if (b->n) qsort(b->v, (size_t)b->n, sizeof *b->v, dist_cmp);
      int64_t u = 0;
      for (int i = 0; i < b->n; i++) u += !i || dist_cmp(&b->v[i - 1], &b->v[i]) != 0;
      acc_slot sl;
      slot_get(acc, j, &sl);
      sl.n = u;
      slot_put(acc, j, &sl, a->in.kind == SL__T_DOUBLE);
    } else if (a->in.kind == SL__T_VARCHAR && (a->fn == SQL_AGG_MIN || a->fn == SQL_AGG_MAX) && ba[j].best.u.s.p) {
      strs[j] = ba[j].best;
    }
  }
  return win_emit(w, ctx, win, acc, strs, out);
}

/* The aggregates' values from the accumulator into v[0..n_aggs) (strs:
 * MIN / MAX of VARCHAR, buffered windows only); 0, or 1 + the aggregate
 * whose SUM does not fit its type. */
static int agg_values(const sql_plan *w, const void *acc, const sl__val *strs, sl__val *vals) {
  for (int j = 0; j < w->n_aggs; j++) {
    const sql_agg *a = &w->aggs[j];
    sl__val *v = &vals[j];
    acc_slot s;
    slot_get(acc, j, &s);
    *v = (sl__val){0};
    if (a->fn == SQL_AGG_COUNT_STAR || a->fn == SQL_AGG_COUNT) {
      v->u.i = s.n;
      continue;
    }
    if (a->in.kind == SL__T_VARCHAR) { /* MIN / MAX: buffered windows only */
      *v = strs ? strs[j] : (sl__val){.null = 1};
      continue;
    }
    if (!s.n) {
      v->null = 1;
      continue;
    }
    if (a->fn == SQL_AGG_AVG) {
      double scale = 1;
      for (int d = 0; a->in.kind == SL__T_DECIMAL && d < a->in.scale; d++) scale *= 10;
      v->u.f = (a->in.kind == SL__T_DOUBLE ? s.f : (double)s.i / scale) / (double)s.n;
    } else if (a->in.kind == SL__T_DOUBLE) {
      v->u.f = s.f;
    } else {
      if (s.i > INT64_MAX || s.i < INT64_MIN || (a->out.kind == SL__T_DECIMAL && (s.i >= (__int128)1000000000000000000LL || s.i <= -(__int128)1000000000000000000LL)))
        return 1 + j;
      v->u.i = (int64_t)s.i;
    }
  }
  return 0;
}

static const char *sum_type(const sql_plan *w, int bad) {
  return w->aggs[bad - 1].out.kind == SL__T_DECIMAL ? "DECIMAL(18)" : "BIGINT";
}

static int win_emit(const sql_plan *w, sl_ctx *ctx, const sl_window *win, const void *acc, const sl__val *strs,
                    sl_collector *out) {
  sl_bytes key = {NULL, 0};
  if (w->n_keys && sl_ctx_key(ctx, &key) != 0) return sl_ctx_fail(ctx, "window without its key");
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)w->n * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  vals[0] = (sl__val){.u.i = win->start};
  vals[1] = (sl__val){.u.i = win->end};
  for (int k = 0; k < w->n_keys; k++) sl__row_get(key.data, w->n_keys, w->in->types, k, &vals[2 + k]);
  int bad = agg_values(w, acc, strs, &vals[2 + w->n_keys]);
  if (bad)
    return sl_ctx_fail(ctx, "window [%lld, %lld): SUM out of range for %s", (long long)win->start,
                       (long long)win->end, sum_type(w, bad));
  size_t sz = sl__row_size(w->types, vals, w->n);
  void *row = sl_ctx_scratch(ctx, sz);
  if (!row) return -SL_ENOMEM;
  sl__row_write(row, w->types, vals, w->n);
  sl_record o = {win->end - 1, NULL, 0, row, (uint32_t)sz};
  return sl_emit(out, &o);
}

/* ---- GROUP BY without a window: a changelog ------------------------------------ */

/* Flink's GroupAggFunction.  Per key (win_key: the group's columns) a value
 * state holds [int64 rows][accumulator]: the rows the group counts now (+1
 * per +I / +U, -1 per -U / -D of an updating input) and the aggregates
 * over them.  Each input row updates the group and emits what changed:
 *   the group's first row             +I new
 *   a change of the result            -U old, +U new  (nothing if equal)
 *   the group's last row retracted    -D old, and the state is cleared
 * A retraction for a group with no rows (its state expired) is ignored, as
 * Flink does.  The output rows are [keys..., aggregates...] with the kind
 * byte before them. */
#define GROUP_ROWS 8 /* the accumulator follows the row count */

/* The group's result row for accumulator acc ([rows][slots]) with its kind. */
static int group_result(const sql_plan *g, sl_ctx *ctx, const uint8_t *acc, const sl__val *strs, int kind,
                        int64_t ts, sl_record *r) {
  sl_bytes key = {NULL, 0};
  if (g->n_keys && sl_ctx_key(ctx, &key) != 0) return sl_ctx_fail(ctx, "GROUP BY: a row without its key");
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)(g->n ? g->n : 1) * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  for (int k = 0; k < g->n_keys; k++) sl__row_get(key.data, g->n_keys, g->in->types, k, &vals[k]);
  int bad = agg_values(g, acc + GROUP_ROWS, strs, &vals[g->n_keys]);
  if (bad)
    return sl_ctx_fail(ctx, "GROUP BY: a group's SUM does not fit %s (sum a DECIMAL or DOUBLE: CAST the "
                            "argument)", sum_type(g, bad));
  size_t sz = sl__row_size(g->types, vals, g->n);
  uint8_t *row = sl_ctx_scratch(ctx, sz + 1);
  if (!row) return -SL_ENOMEM;
  row[0] = (uint8_t)kind;
  sl__row_write(row + 1, g->types, vals, g->n);
  *r = (sl_record){ts, NULL, 0, row, (uint32_t)sz + 1};
  return 0;
}

/* A multiset aggregate's best value again, after its best was retracted:
 * the least (MIN) or greatest (MAX) value of aggregate j in the map. */
typedef struct best_scan {
  const sql_agg *a;
  int j;
  acc_slot *s;
  int any;
} best_scan;

static int scan_best(void *ud, sl_bytes k, sl_bytes v) {
  best_scan *b = ud;
  const uint8_t *p = k.data;
  if (k.len != 9 || p[0] != b->j) return 0;
  acc_slot x = {0};
  int64_t i;
  memcpy(&i, p + 1, 8);
  if (b->a->in.kind == SL__T_DOUBLE) memcpy(&x.f, p + 1, 8);
  else x.i = i;
  int64_t n = b->s->n;
  if (!b->any) b->s->n = 0; /* fold takes the first value as the best */
  fold(b->a, b->s, &x, 0);
  b->s->n = n, b->any = 1;
  return 0;
}

static int str_best(const sql_agg *a) {
  return a->in.kind == SL__T_VARCHAR && (a->fn == SQL_AGG_MIN || a->fn == SQL_AGG_MAX);
}

/* Is string x better than the best b (NULL: none) for MIN / MAX a? */
static int str_better(const sql_agg *a, const sl__val *x, const sl__val *b) {
  if (b->null) return 1;
  dist_val nv = {(const uint8_t *)x->u.s.p, x->u.s.n}, bv = {(const uint8_t *)b->u.s.p, b->u.s.n};
  int c = dist_cmp(&nv, &bv);
  return a->fn == SQL_AGG_MIN ? c < 0 : c > 0;
}

/* The best string of aggregate j again among the group's values in the
 * map ([j][bytes] -> count), copied into scratch memory. */
typedef struct str_scan {
  const sql_agg *a;
  int j;
  sl__val *best;
  sl_ctx *ctx;
  int rc;
} str_scan;

static int scan_str(void *ud, sl_bytes k, sl_bytes v) {
  (void)v;
  str_scan *b = ud;
  const uint8_t *p = k.data;
  if (k.len < 1 || p[0] != b->j) return 0;
  sl__val x = {0};
  x.u.s.p = (const char *)p + 1, x.u.s.n = k.len - 1;
  if (!str_better(b->a, &x, b->best)) return 0;
  char *cp = sl_ctx_scratch(b->ctx, x.u.s.n ? x.u.s.n : 1);
  if (!cp) return b->rc = -SL_ENOMEM, 1;
  memcpy(cp, x.u.s.p, x.u.s.n);
  *b->best = (sl__val){0};
  b->best->u.s.p = cp, b->best->u.s.n = x.u.s.n;
  return 0;
}

/* MIN / MAX of VARCHAR in a group: strs[j] is the best string (NULL when
 * none), kept in the group's state; over an updating input each value is
 * also counted in the map, so a retracted best is found again there. */
static int group_fold_str(const sql_plan *g, sl_ctx *ctx, sl_state *vs, int j, acc_slot *s, const sl__val *x,
                          int retract, sl__val *strs) {
  const sql_agg *a = &g->aggs[j];
  if (!a->multiset) { /* an append-only input: the best only gets better */
    s->n++;
    if (str_better(a, x, &strs[j])) strs[j] = *x;
    return 0;
  }
  uint8_t *key = sl_ctx_scratch(ctx, 1 + (size_t)x->u.s.n);
  if (!key) return -SL_ENOMEM;
  key[0] = (uint8_t)j;
  memcpy(key + 1, x->u.s.p, x->u.s.n);
  sl_bytes cb;
  int64_t cnt = 0;
  int rc = sl_map_get(vs, key, 1 + x->u.s.n, &cb);
  if (rc < 0) return rc;
  if (rc == 0 && cb.len == 8) memcpy(&cnt, cb.data, 8);
  if (retract && !cnt) return 0; /* a value this group never counted */
  cnt += retract ? -1 : 1;
  if ((rc = cnt ? sl_map_put(vs, key, 1 + x->u.s.n, &cnt, 8) : sl_map_remove(vs, key, 1 + x->u.s.n))) return rc;
  s->n += retract ? -1 : 1;
  if (!retract) {
    if (str_better(a, x, &strs[j])) strs[j] = *x;
    return 0;
  }
  if (cnt || strs[j].null || str_better(a, x, &strs[j]) || str_better(a, &strs[j], x)) return 0;
  strs[j] = (sl__val){.null = 1}; /* the best went: find the next */
  str_scan b = {a, j, &strs[j], ctx, 0};
  if ((rc = sl_map_foreach(vs, scan_str, &b))) return rc;
  return b.rc;
}

/* Fold a row into the group's accumulator, or take it out (retract).  A
 * multiset aggregate counts each value in the group's map state
 * [j][value] -> int64: COUNT(DISTINCT) counts the values whose count is
 * not 0; MIN / MAX over an updating input looks for the best again when
 * the last copy of the best is retracted; MIN / MAX of VARCHAR keep their
 * best string in strs (group_fold_str). */
static int group_fold(const sql_plan *g, sl_ctx *ctx, void *acc, const void *row, int retract, sl__val *strs) {
  if (!g->vals && !strs) {
    fold_row(g, acc, row, retract);
    return 0;
  }
  const sql_plan *pre = g->in;
  sl_state *vs = NULL;
  int rc = g->vals ? sl_state_get(ctx, g->vals, &vs) : 0;
  if (rc) return rc;
  for (int j = 0; j < g->n_aggs; j++) {
    const sql_agg *a = &g->aggs[j];
    int is_f = a->in.kind == SL__T_DOUBLE;
    acc_slot s, v = {0};
    sl__val x = {0};
    slot_get(acc, j, &s);
    if (a->arg >= 0) {
      sl__row_get(row, pre->n, pre->types, a->arg, &x);
      if (x.null) continue;
      if (is_f) v.f = x.u.f;
      else if (a->in.kind != SL__T_VARCHAR) v.i = x.u.i;
    }
    if (str_best(a)) {
      if ((rc = group_fold_str(g, ctx, vs, j, &s, &x, retract, strs))) return rc;
      slot_put(acc, j, &s, 0);
      continue;
    }
    if (!a->multiset) {
      if (retract) unfold(a, &s, &v);
      else fold(a, &s, &v, 1);
      slot_put(acc, j, &s, is_f);
      continue;
    }
    uint32_t vn = a->in.kind == SL__T_VARCHAR ? x.u.s.n : 8;
    uint8_t *key = sl_ctx_scratch(ctx, 1 + (size_t)vn);
    if (!key) return -SL_ENOMEM;
    key[0] = (uint8_t)j;
    if (a->in.kind == SL__T_VARCHAR) memcpy(key + 1, x.u.s.p, vn);
    else memcpy(key + 1, is_f ? (const void *)&v.f : (const void *)&x.u.i, 8);
    sl_bytes cb;
    int64_t cnt = 0;
    if ((rc = sl_map_get(vs, key, 1 + vn, &cb)) < 0) return rc;
    if (rc == 0 && cb.len == 8) memcpy(&cnt, cb.data, 8);
    if (retract && !cnt) continue; /* a value this group never counted */
    cnt += retract ? -1 : 1;
    rc = cnt ? sl_map_put(vs, key, 1 + vn, &cnt, 8) : sl_map_remove(vs, key, 1 + vn);
    if (rc) return rc;
    if (a->distinct) {
      if (cnt == !retract) s.n += retract ? -1 : 1; /* a value appeared or went */
    } else if (!retract) {
      fold(a, &s, &v, 1);
    } else {
      s.n--;
      if (!cnt && s.n && (is_f ? v.f == s.f : v.i == s.i)) { /* the best went: find the next */
        best_scan b = {a, j, &s, 0};
        if ((rc = sl_map_foreach(vs, scan_best, &b))) return rc;
      }
    }
    slot_put(acc, j, &s, is_f);
  }
  return 0;
}

/* The best strings of MIN / MAX of VARCHAR follow a group's accumulator
 * in its state: per such aggregate, in order, u32 length (UINT32_MAX:
 * NULL) and the bytes.  strs_of reads them (views into tail, which the
 * caller copied: a state view lasts until the next state call); 0, or -1
 * for a tail that is not this query's. */
static int strs_of(const sql_plan *g, const uint8_t *tail, size_t n, sl__val *strs) {
  size_t at = 0;
  for (int j = 0; j < g->n_aggs; j++) {
    if (!str_best(&g->aggs[j])) continue;
    uint32_t len;
    if (n - at < 4) return -1;
    memcpy(&len, tail + at, 4);
    at += 4;
    if (len == UINT32_MAX) {
      strs[j] = (sl__val){.null = 1};
      continue;
    }
    if (len > n - at) return -1;
    strs[j] = (sl__val){0};
    strs[j].u.s.p = (const char *)tail + at, strs[j].u.s.n = len;
    at += len;
  }
  return at == n ? 0 : -1;
}

/* A group's state: the accumulator acc (asz bytes) and the strings; in
 * scratch memory. */
static int group_state_bytes(const sql_plan *g, sl_ctx *ctx, const uint8_t *acc, size_t asz, const sl__val *strs,
                             sl_bytes *out) {
  size_t n = asz;
  for (int j = 0; strs && j < g->n_aggs; j++)
    if (str_best(&g->aggs[j])) n += 4 + (strs[j].null ? 0 : strs[j].u.s.n);
  uint8_t *b = sl_ctx_scratch(ctx, n);
  if (!b) return -SL_ENOMEM;
  memcpy(b, acc, asz);
  size_t at = asz;
  for (int j = 0; strs && j < g->n_aggs; j++) {
    if (!str_best(&g->aggs[j])) continue;
    uint32_t len = strs[j].null ? UINT32_MAX : strs[j].u.s.n;
    memcpy(b + at, &len, 4);
    at += 4;
    if (!strs[j].null) memcpy(b + at, strs[j].u.s.p, len), at += len;
  }
  *out = (sl_bytes){b, (uint32_t)n};
  return 0;
}

/* Rows in[idx[0..m)] of one group, in order, into its state; then what
 * changed is emitted once: the group's first rows +I new, a change of the
 * result -U old +U new (nothing if equal), its last row retracted -D old
 * (the state cleared).  m is 1 per row, or a mini-batch's rows of the key. */
static int group_apply(const sql_plan *g, sl_ctx *ctx, const sl_record *in, const uint16_t *idx, size_t m,
                       sl_collector *out) {
  size_t asz = GROUP_ROWS + (size_t)g->n_aggs * ACC_SLOT;
  sl__val *strs = NULL, *prev_strs = NULL;
  for (int j = 0; j < g->n_aggs && !strs; j++)
    if (str_best(&g->aggs[j])) {
      strs = sl_ctx_scratch(ctx, 2 * (size_t)g->n_aggs * sizeof *strs);
      if (!strs) return -SL_ENOMEM;
      prev_strs = strs + g->n_aggs;
      for (int k = 0; k < 2 * g->n_aggs; k++) strs[k] = (sl__val){.null = 1};
    }
  sl_state *st;
  sl_bytes v;
  int rc;
  if ((rc = sl_state_get(ctx, g->acc, &st)) || (rc = sl_value_get(st, &v)) < 0) return rc;
  uint8_t *acc = sl_ctx_scratch(ctx, 2 * asz + (rc == 0 && v.len > asz ? v.len - asz : 0)), *prev = acc + asz;
  if (!acc) return -SL_ENOMEM;
  int64_t rows = 0, prev_rows;
  if (rc == 0) {
    uint8_t *tail = acc + 2 * asz;
    if (v.len < asz || (!strs && v.len != asz) ||
        (strs && (memcpy(tail, (const uint8_t *)v.data + asz, v.len - asz), strs_of(g, tail, v.len - asz, strs))))
      return sl_ctx_fail(ctx, "GROUP BY: the state of a group is %u bytes, not %zu%s: it is not this query's "
                              "(restore from a checkpoint of this query, or start without --restore)",
                         v.len, asz, strs ? " and its strings" : "");
    memcpy(acc, v.data, asz);
    memcpy(&rows, acc, GROUP_ROWS);
  } else {
    memset(acc, 0, asz);
  }
  memcpy(prev, acc, asz);
  if (strs) memcpy(prev_strs, strs, (size_t)g->n_aggs * sizeof *strs);
  prev_rows = rows;
  int64_t ts = in[idx[m - 1]].ts;
  for (size_t r = 0; r < m; r++) {
    const uint8_t *row = in[idx[r]].value;
    int kind = g->in->changelog ? *row++ : SL__ROW_INSERT;
    assert(kind <= SL__ROW_DELETE);
    int retract = kind == SL__ROW_UPDATE_BEFORE || kind == SL__ROW_DELETE;
    if (!rows && retract) continue; /* a group with no rows (its state expired): ignored, as Flink */
    if ((rc = group_fold(g, ctx, acc + GROUP_ROWS, row, retract, strs))) return rc;
    rows += retract ? -1 : 1;
    memcpy(acc, &rows, GROUP_ROWS);
    if (!rows) { /* the group is gone: what comes after in the batch starts it afresh */
      sl_state *vs;
      if (g->vals && ((rc = sl_state_get(ctx, g->vals, &vs)) || (rc = sl_state_clear(vs)))) return rc;
      memset(acc, 0, asz);
      for (int j = 0; strs && j < g->n_aggs; j++) strs[j] = (sl__val){.null = 1};
    }
  }
  sl_record a, b;
  if (!rows) {
    if (!prev_rows) return 0; /* (came and went within the batch, or only retractions) */
    if ((rc = sl_state_clear(st)) || (rc = group_result(g, ctx, prev, prev_strs, SL__ROW_DELETE, ts, &a)))
      return rc;
    return sl_emit(out, &a);
  }
  sl_bytes ns;
  if ((rc = group_state_bytes(g, ctx, acc, asz, strs, &ns)) || (rc = sl_value_set(st, ns.data, ns.len))) return rc;
  if (!prev_rows) {
    if ((rc = group_result(g, ctx, acc, strs, SL__ROW_INSERT, ts, &a))) return rc;
    return sl_emit(out, &a);
  }
  if ((rc = group_result(g, ctx, prev, prev_strs, SL__ROW_UPDATE_BEFORE, ts, &a)) ||
      (rc = group_result(g, ctx, acc, strs, SL__ROW_UPDATE_AFTER, ts, &b)))
    return rc;
  if (a.value_len == b.value_len && !memcmp((const uint8_t *)a.value + 1, (const uint8_t *)b.value + 1, a.value_len - 1))
    return 0; /* the result did not change */
  if ((rc = sl_emit(out, &a))) return rc;
  return sl_emit(out, &b);
}

static int group_update(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  static const uint16_t first = 0;
  return group_apply(ud, ctx, in, &first, 1, out);
}

/* table.exec.mini-batch.enabled (Flink's MiniBatchGroupAggFunction) on
 * sl_keyed_process_batch's runs (up to 64 rows, never across a watermark
 * or checkpoint barrier, so nothing waits): the rows of each key in a run
 * are folded in order and the key emits once -- fewer state accesses and
 * fewer -U/+U pairs; keys come out in the order of their first row. */
static int group_update_batch(void *ud, sl_ctx *ctx, const sl_record *in, size_t n, sl_collector *out) {
  int8_t slot[128]; /* open addressing: the first row of each key in the run */
  uint16_t idx[64], next[64], tail[64], first[64];
  size_t nk = 0;
  assert(n <= 64);
  memset(slot, -1, sizeof slot);
  for (size_t i = 0; i < n; i++) {
    uint32_t h = 2166136261u;
    for (uint32_t b = 0; b < in[i].key_len; b++) h = (h ^ ((const uint8_t *)in[i].key)[b]) * 16777619u;
    for (h &= 127;; h = (h + 1) & 127) {
      int f = slot[h];
      if (f < 0) { /* a new key */
        slot[h] = (int8_t)i, first[nk++] = (uint16_t)i, tail[i] = (uint16_t)i, next[i] = UINT16_MAX;
        break;
      }
      if (in[f].key_len == in[i].key_len && (!in[i].key_len || !memcmp(in[f].key, in[i].key, in[i].key_len))) {
        next[tail[f]] = (uint16_t)i, tail[f] = (uint16_t)i, next[i] = UINT16_MAX;
        break;
      }
    }
  }
  for (size_t k = 0; k < nk; k++) {
    size_t m = 0;
    for (uint16_t j = first[k]; j != UINT16_MAX; j = next[j]) idx[m++] = j;
    int rc = sl_ctx_run_key(ctx, first[k]);
    if (!rc) rc = group_apply(ud, ctx, in, idx, m, out);
    if (rc) return rc;
  }
  return 0;
}


/* floor(a / b) * b for b > 0 */
static int64_t floor_to(int64_t a, int64_t b) {
  int64_t r = a % b;
  return a - (r < 0 ? r + b : r);
}

/* A row of each window its time falls in: [start, start + size) for the
 * starts (multiples of slide, or of size for TUMBLE) with
 * t - size < start <= t, in ascending order. */
static int win_assign(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  const sql_plan *a = ud;
  const sql_plan *src = a->in;
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)a->n * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  for (int i = 0; i < src->n; i++) sl__row_get(in->value, src->n, src->types, i, &vals[i]);
  if (vals[a->time_col].null) return 0; /* no time, no window (a source's rows always have one) */
  int64_t t = vals[a->time_col].u.i;
  int64_t slide = a->wkind == SL_WINDOW_SLIDING ? a->slide_ms : a->size_ms;
  int64_t last = floor_to(t, slide), first = last;
  while (first - slide > t - a->size_ms && first - slide < first) first -= slide;
  for (int64_t s = first;; s += slide) {
    vals[src->n] = (sl__val){.u.i = s};
    vals[src->n + 1] = (sl__val){.u.i = s > INT64_MAX - a->size_ms ? INT64_MAX : s + a->size_ms};
    size_t sz = sl__row_size(a->types, vals, a->n);
    void *row = sl_ctx_scratch(ctx, sz);
    if (!row) return -SL_ENOMEM;
    sl__row_write(row, a->types, vals, a->n);
    sl_record r = {in->ts, NULL, 0, row, (uint32_t)sz};
    int rc = sl_emit(out, &r);
    if (rc || s >= last) return rc;
  }
}

/* ---- joins ------------------------------------------------------------------ */

/* The join's key on either side: its equality columns (columns_key). */
typedef struct join_side_ud {
  const sql_plan *join, *side;
  const int *cols;
} join_side_ud;

/* A key of the columns cols[0..n) of `src`'s row `row`, each as its 8-byte
 * slot (integers as int64) or (VARCHAR) length + bytes, in scratch. */
static int columns_key(sl_ctx *ctx, const sql_plan *src, const void *row, const int *cols, int n,
                       sl_record *out) {
  size_t sz = 0;
  sl__val v;
  for (int k = 0; k < n; k++) {
    sl__row_get(row, src->n, src->types, cols[k], &v);
    sz += src->types[cols[k]].kind == SL__T_VARCHAR ? 4 + (v.null ? 0 : v.u.s.n) : 8;
  }
  uint8_t *key = sl_ctx_scratch(ctx, sz ? sz : 1), *at = key;
  if (!key) return -SL_ENOMEM;
  for (int k = 0; k < n; k++) {
    sl__row_get(row, src->n, src->types, cols[k], &v);
    if (src->types[cols[k]].kind == SL__T_VARCHAR) {
      uint32_t len = v.null ? 0 : v.u.s.n;
      memcpy(at, &len, 4), memcpy(at + 4, v.u.s.p, len), at += 4 + len;
    } else {
      int64_t i = v.null ? 0 : v.u.i;
      memcpy(at, &i, 8), at += 8;
    }
  }
  out->key = key, out->key_len = (uint32_t)sz;
  return 0;
}

static int join_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const join_side_ud *j = ud;
  return columns_key(ctx, j->side, (const uint8_t *)in->value + j->side->changelog, j->cols, j->join->n_eq, out);
}

/* A NULL in an equality column joins nothing (NULL = x is not true). */
static int key_has_null(const sql_plan *side, const int *cols, int n, const void *row) {
  sl__val v;
  for (int k = 0; k < n; k++) {
    sl__row_get(row, side->n, side->types, cols[k], &v);
    if (v.null) return 1;
  }
  return 0;
}

/* The joined row, a's columns then b's (a or b NULL: NULLs), in scratch
 * after `pre` bytes (an outer join's kind byte). */
static int join_row(const sql_plan *j, sl_ctx *ctx, const void *a, const void *b, size_t pre, sl_record *o) {
  const sql_plan *l = j->in, *r = j->right;
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)j->n * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  for (int k = 0; k < l->n; k++)
    if (a) sl__row_get(a, l->n, l->types, k, &vals[k]);
    else vals[k] = (sl__val){.null = 1};
  for (int k = 0; k < r->n; k++)
    if (b) sl__row_get(b, r->n, r->types, k, &vals[l->n + k]);
    else vals[l->n + k] = (sl__val){.null = 1};
  size_t sz = sl__row_size(j->types, vals, j->n);
  uint8_t *row = sl_ctx_scratch(ctx, sz + pre);
  if (!row) return -SL_ENOMEM;
  sl__row_write(row + pre, j->types, vals, j->n);
  *o = (sl_record){0, NULL, 0, row, (uint32_t)(sz + pre)};
  return 0;
}

/* The pair (a or b NULL: NULL-padded); as a changelog row of this kind,
 * or (kind < 0) a plain row. */
static int pair_emit(const sql_plan *j, sl_ctx *ctx, int kind, const void *a, const void *b, int64_t ts,
                     sl_collector *out) {
  sl_record o;
  int rc = join_row(j, ctx, a, b, kind >= 0, &o);
  if (rc) return rc;
  if (kind >= 0) *(uint8_t *)o.value = (uint8_t)kind;
  o.ts = ts;
  return sl_emit(out, &o);
}

/* A copy of list entry v (in scratch) appended to the scratch vector
 * *kept: what a list update writes back. */
static int keep_copy(sl_ctx *ctx, sl_bytes **kept, size_t *n, size_t *cap, sl_bytes v) {
  if (*n == *cap) {
    size_t nc = *cap ? 2 * *cap : 16;
    sl_bytes *nk = sl_ctx_scratch(ctx, nc * sizeof *nk);
    if (!nk) return -SL_ENOMEM;
    if (*n) memcpy(nk, *kept, *n * sizeof *nk);
    *kept = nk, *cap = nc;
  }
  uint8_t *copy = sl_ctx_scratch(ctx, v.len ? v.len : 1);
  if (!copy) return -SL_ENOMEM;
  memcpy(copy, v.data, v.len);
  (*kept)[(*n)++] = (sl_bytes){copy, v.len};
  return 0;
}

/* Window join: both sides' records are stamped window_end - 1 (restamp)
 * and meet in sl_window_join's 1 ms tumbling window at that time, keyed by
 * the equalities (which include window_end): every pair, when the window
 * ends. */
static int window_join_pair(void *ud, sl_ctx *ctx, const sl_record *a, const sl_record *b, sl_collector *out) {
  const sql_plan *j = ud;
  if (key_has_null(j->in, j->lk, j->n_eq, a->value) || key_has_null(j->right, j->rk, j->n_eq, b->value)) return 0;
  return pair_emit(j, ctx, -1, a->value, b->value, a->ts, out);
}

/* Interval join: sl_interval_join keeps each side until the watermark
 * passes its last partner; a pair's time is the later of the two. */
static int interval_join_pair(void *ud, sl_ctx *ctx, const sl_record *a, const sl_record *b, sl_collector *out) {
  const sql_plan *j = ud;
  if (key_has_null(j->in, j->lk, j->n_eq, a->value) || key_has_null(j->right, j->rk, j->n_eq, b->value)) return 0;
  return pair_emit(j, ctx, -1, a->value, b->value, a->ts > b->ts ? a->ts : b->ts, out);
}

static int restamp(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  const sql_plan *side = ud;
  sl__val end;
  sl__row_get(in->value, side->n, side->types, wend_of(side), &end);
  if (end.null) return 0;
  sl_record r = *in;
  r.ts = end.u.i - 1;
  return sl_emit(out, &r);
}

/* Regular join of append-only inputs (sl_connect of the keyed sides): each
 * side's rows are kept in list state under the key for good (Flink keeps
 * both sides too), and a row joins every row of the other side seen so
 * far, emitted at once.  table.exec.state.ttl > 0 gives each kept row that
 * time-to-live (processing time, per list element: the engine's state
 * TTL): p->jstate[0..1], the descriptors with it. */
static const sl_state_desc JOIN_LEFT = {.name = "join-left", .kind = SL_STATE_LIST};
static const sl_state_desc JOIN_RIGHT = {.name = "join-right", .kind = SL_STATE_LIST};

/* An outer join of an updating input keeps [u32 matches][row] entries,
 * under names of their own (a checkpoint of the other form is not read as
 * this one). */
static const sl_state_desc OJOIN_LEFT = {.name = "outer-join-left", .kind = SL_STATE_LIST};
static const sl_state_desc OJOIN_RIGHT = {.name = "outer-join-right", .kind = SL_STATE_LIST};

static int counted_join(const sql_plan *j) { return j->outer && (j->in->changelog || j->right->changelog); }

/* The list states of this side's rows and the other side's (with the
 * state TTL when there is one). */
static int join_states(const sql_plan *j, sl_ctx *ctx, int left, sl_state **mine, sl_state **other) {
  int cj = counted_join(j);
  const sl_state_desc *dl = j->jstate ? &j->jstate[0] : cj ? &OJOIN_LEFT : &JOIN_LEFT,
                      *dr = j->jstate ? &j->jstate[1] : cj ? &OJOIN_RIGHT : &JOIN_RIGHT;
  int rc = sl_state_get(ctx, left ? dl : dr, mine);
  return rc ? rc : sl_state_get(ctx, left ? dr : dl, other);
}

static int regular_join_side(const sql_plan *j, sl_ctx *ctx, const sl_record *in, int left, sl_collector *out) {
  if (left ? key_has_null(j->in, j->lk, j->n_eq, in->value) : key_has_null(j->right, j->rk, j->n_eq, in->value))
    return 0;
  sl_state *mine, *other;
  int rc;
  if ((rc = join_states(j, ctx, left, &mine, &other))) return rc;
  sl_list_iter it;
  if ((rc = sl_list_get(other, &it)) < 0) return rc;
  if (rc != SL_EMPTY) {
    sl_bytes v;
    while (sl_list_next(&it, &v) == 1)
      if ((rc = left ? pair_emit(j, ctx, -1, in->value, v.data, in->ts, out)
                     : pair_emit(j, ctx, -1, v.data, in->value, in->ts, out)))
        return rc;
  }
  return sl_list_add(mine, in->value, in->value_len);
}

/* A join side's input row: its kind (+I on an append-only side) and bytes. */
typedef struct side_row {
  int kind, retract;
  const uint8_t *row;
  uint32_t len;
} side_row;

static side_row side_row_of(const sql_plan *side, const sl_record *in) {
  side_row r = {side->changelog ? *(const uint8_t *)in->value : SL__ROW_INSERT, 0,
                (const uint8_t *)in->value + side->changelog, in->value_len - (uint32_t)side->changelog};
  r.retract = r.kind == SL__ROW_UPDATE_BEFORE || r.kind == SL__ROW_DELETE;
  return r;
}

/* Takes one entry equal to row (after hdr bytes of each entry) out of the
 * list: 1 when found, 0 when not there, or negative (a foreign entry
 * shorter than hdr: -SL_ESTATE). */
static int take_out(sl_ctx *ctx, sl_state *list, const uint8_t *row, uint32_t len, uint32_t hdr) {
  sl_list_iter it;
  sl_bytes v, *kept = NULL;
  size_t n = 0, cap = 0;
  int rc, found = 0;
  if ((rc = sl_list_get(list, &it)) < 0) return rc;
  while (rc != SL_EMPTY && sl_list_next(&it, &v) == 1) {
    if (v.len < hdr) return -SL_ESTATE;
    if (!found && v.len - hdr == len && !memcmp((const uint8_t *)v.data + hdr, row, len)) {
      found = 1;
      continue;
    }
    if ((rc = keep_copy(ctx, &kept, &n, &cap, v))) return rc;
  }
  if (!found) return 0;
  return (rc = n ? sl_list_update(list, kept, n) : sl_state_clear(list)) ? rc : 1;
}

/* A regular inner join of an updating input: a +I / +U row is kept and
 * pairs with the other side's rows as they are; a -U / -D row takes one
 * equal row out of its side's state and retracts its pairs.  Each pair
 * carries the kind of the row that made it (Flink's inner join). */
static int updating_join_side(const sql_plan *j, sl_ctx *ctx, const sl_record *in, int left, sl_collector *out) {
  const sql_plan *side = left ? j->in : j->right;
  side_row r = side_row_of(side, in);
  if (key_has_null(side, left ? j->lk : j->rk, j->n_eq, r.row)) return 0;
  sl_state *mine, *other;
  int rc;
  if ((rc = join_states(j, ctx, left, &mine, &other))) return rc;
  /* one equal row out of this side, or nothing to retract (never counted:
   * its state expired; as Flink) */
  if (r.retract && (rc = take_out(ctx, mine, r.row, r.len, 0)) <= 0) return rc;
  sl_list_iter it;
  sl_bytes v;
  if ((rc = sl_list_get(other, &it)) < 0) return rc;
  while (rc != SL_EMPTY && sl_list_next(&it, &v) == 1) {
    const void *a = left ? r.row : v.data, *b = left ? v.data : r.row;
    if ((rc = pair_emit(j, ctx, r.kind, a, b, in->ts, out))) return rc;
  }
  return r.retract ? 0 : sl_list_add(mine, r.row, r.len);
}

static int updating_join_left(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  return updating_join_side(ud, ctx, in, 1, out);
}
static int updating_join_right(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  return updating_join_side(ud, ctx, in, 0, out);
}

static int regular_join_left(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  return regular_join_side(ud, ctx, in, 1, out);
}
static int regular_join_right(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  return regular_join_side(ud, ctx, in, 0, out);
}

/* Outer joins (Flink's regular outer join of append-only inputs): each
 * side's rows are kept per key as [matched byte][row].  A row that matches
 * nothing yet is emitted NULL-padded (+I) if its side is outer; when its
 * first partner arrives that row is retracted (-D) before the pair (+I).
 * A pair matches when ON's conditions beyond the equalities (jcond) hold
 * for it; a row with a NULL key matches nothing and is not kept. */
static int outer_match(const sql_plan *j, sl_ctx *ctx, const void *a, const void *b, int *match) {
  *match = 1;
  if (!j->jcond) return 0;
  sl_record o;
  int rc = join_row(j, ctx, a, b, 0, &o);
  if (rc) return rc;
  sql_eval ev = {o.value, j->n, j->types, scratch, ctx, {0}};
  sl__val v;
  if (sl__sql_eval_expr(j->jcond, &ev, &v))
    return sl_ctx_fail(ctx, "outer join: ON failed on a pair of rows with equal keys: %s (ON is evaluated "
                            "per pair; guard it, e.g. with CASE or NULLIF)", ev.err);
  *match = !v.null && v.u.i;
  return 0;
}

static int outer_join_side(const sql_plan *j, sl_ctx *ctx, const sl_record *in, int left, sl_collector *out) {
  int me_outer = j->outer & (left ? SQL_OUTER_LEFT : SQL_OUTER_RIGHT);
  int other_outer = j->outer & (left ? SQL_OUTER_RIGHT : SQL_OUTER_LEFT);
  const void *row = in->value;
  const void *pad_l = left ? row : NULL, *pad_r = left ? NULL : row;
  if (left ? key_has_null(j->in, j->lk, j->n_eq, row) : key_has_null(j->right, j->rk, j->n_eq, row))
    return me_outer ? pair_emit(j, ctx, SL__ROW_INSERT, pad_l, pad_r, in->ts, out) : 0;
  sl_state *mine, *other;
  int rc;
  if ((rc = join_states(j, ctx, left, &mine, &other))) return rc;
  sl_list_iter it;
  if ((rc = sl_list_get(other, &it)) < 0) return rc;
  int matched = 0, flipped = 0;
  size_t n = 0, cap = 0;
  sl_bytes *kept = NULL; /* the other side's entries, copied: rewritten when a flag flips */
  if (rc != SL_EMPTY) {
    sl_bytes v;
    while (sl_list_next(&it, &v) == 1) {
      if (!v.len)
        return sl_ctx_fail(ctx, "outer join: a kept row without its matched flag: the state is not this "
                                "query's (restore from a checkpoint of this query, or start without --restore)");
      const uint8_t *orow = (const uint8_t *)v.data + 1;
      const void *a = left ? row : orow, *b = left ? orow : row;
      int m;
      if ((rc = outer_match(j, ctx, a, b, &m))) return rc;
      if (other_outer) { /* keep a copy to rewrite the flags */
        if ((rc = keep_copy(ctx, &kept, &n, &cap, v))) return rc;
        uint8_t *copy = (uint8_t *)kept[n - 1].data;
        if (m && !copy[0]) { /* its first partner: the NULL-padded row goes */
          if ((rc = pair_emit(j, ctx, SL__ROW_DELETE, left ? NULL : orow, left ? orow : NULL, in->ts, out)))
            return rc;
          copy[0] = 1, flipped = 1;
        }
      }
      if (m) {
        matched = 1;
        if ((rc = pair_emit(j, ctx, SL__ROW_INSERT, a, b, in->ts, out))) return rc;
      }
    }
  }
  if (flipped && (rc = sl_list_update(other, kept, n))) return rc;
  if (!matched && me_outer && (rc = pair_emit(j, ctx, SL__ROW_INSERT, pad_l, pad_r, in->ts, out))) return rc;
  uint8_t *entry = sl_ctx_scratch(ctx, (size_t)in->value_len + 1);
  if (!entry) return -SL_ENOMEM;
  entry[0] = (uint8_t)matched;
  memcpy(entry + 1, row, in->value_len);
  return sl_list_add(mine, entry, in->value_len + 1);
}

static int outer_join_left(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  return outer_join_side(ud, ctx, in, 1, out);
}
static int outer_join_right(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  return outer_join_side(ud, ctx, in, 0, out);
}

/* An outer join of an updating input (Flink's outer join with its
 * OuterJoinRecordStateView): each side's rows are kept per key as
 * [u32 matches][row], matches counting the other side's rows it pairs
 * with now.  A +I / +U row: each pair +I, a partner of an outer side whose
 * count leaves 0 loses its NULL-padded row first (-D); unmatched on an
 * outer side, it is emitted NULL-padded (+I).  A -U / -D row takes one
 * equal row out of its side: each pair -D, a partner of an outer side
 * whose count reaches 0 is NULL-padded again (+I); the row's own
 * NULL-padded row goes (-D) if it had no partner.  Outputs are +I / -D
 * only, as Flink's outer joins. */
static int outer_updating_side(const sql_plan *j, sl_ctx *ctx, const sl_record *in, int left, sl_collector *out) {
  const sql_plan *side = left ? j->in : j->right;
  side_row r = side_row_of(side, in);
  const uint8_t *row = r.row;
  uint32_t len = r.len;
  int retract = r.retract, okind = retract ? SL__ROW_DELETE : SL__ROW_INSERT;
  int me_outer = j->outer & (left ? SQL_OUTER_LEFT : SQL_OUTER_RIGHT);
  int other_outer = j->outer & (left ? SQL_OUTER_RIGHT : SQL_OUTER_LEFT);
  const void *pad_l = left ? row : NULL, *pad_r = left ? NULL : row;
  if (key_has_null(side, left ? j->lk : j->rk, j->n_eq, row)) /* matches nothing, not kept */
    return me_outer ? pair_emit(j, ctx, okind, pad_l, pad_r, in->ts, out) : 0;
  sl_state *mine, *other;
  sl_list_iter it;
  sl_bytes v;
  size_t n = 0, cap = 0;
  sl_bytes *kept = NULL;
  int rc;
  if ((rc = join_states(j, ctx, left, &mine, &other))) return rc;
  if (retract && (rc = take_out(ctx, mine, row, len, 4)) <= 0) { /* as updating_join_side */
    if (rc == -SL_ESTATE) goto foreign;
    return rc;
  }
  if ((rc = sl_list_get(other, &it)) < 0) return rc;
  uint32_t matches = 0;
  int changed = 0;
  while (rc != SL_EMPTY && sl_list_next(&it, &v) == 1) {
    if (v.len < 4) goto foreign;
    if ((rc = keep_copy(ctx, &kept, &n, &cap, v))) return rc;
    uint8_t *e = (uint8_t *)kept[n - 1].data, *orow = e + 4;
    const void *a = left ? row : orow, *b = left ? orow : row;
    int m;
    if ((rc = outer_match(j, ctx, a, b, &m))) return rc;
    if (!m) continue;
    uint32_t cnt;
    memcpy(&cnt, e, 4);
    matches++, changed = 1;
    if (!retract && !cnt && other_outer && /* its NULL-padded row goes */
        (rc = pair_emit(j, ctx, SL__ROW_DELETE, left ? NULL : orow, left ? orow : NULL, in->ts, out)))
      return rc;
    if ((rc = pair_emit(j, ctx, okind, a, b, in->ts, out))) return rc;
    if (retract && !cnt) continue; /* (counted none: its partners' state expired) */
    cnt = retract ? cnt - 1 : cnt + 1;
    memcpy(e, &cnt, 4);
    if (retract && !cnt && other_outer && /* its last partner went: NULL-padded again */
        (rc = pair_emit(j, ctx, SL__ROW_INSERT, left ? NULL : orow, left ? orow : NULL, in->ts, out)))
      return rc;
  }
  if (changed && (rc = sl_list_update(other, kept, n))) return rc;
  if (!matches && me_outer && (rc = pair_emit(j, ctx, okind, pad_l, pad_r, in->ts, out))) return rc;
  if (retract) return 0;
  uint8_t *entry = sl_ctx_scratch(ctx, (size_t)len + 4);
  if (!entry) return -SL_ENOMEM;
  memcpy(entry, &matches, 4);
  memcpy(entry + 4, row, len);
  return sl_list_add(mine, entry, len + 4);
foreign:
  return sl_ctx_fail(ctx, "outer join: a kept row without its match count: the state is not this query's "
                          "(restore from a checkpoint of this query, or start without --restore)");
}

static int outer_updating_left(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  return outer_updating_side(ud, ctx, in, 1, out);
}
static int outer_updating_right(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  return outer_updating_side(ud, ctx, in, 0, out);
}

/* ---- Top-N per window ------------------------------------------------------- */

/* Key: the PARTITION BY columns (columns_key). */
static int topn_key(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const sql_plan *p = ud;
  return columns_key(ctx, p->in, in->value, p->part, p->n_part, out);
}

/* < 0: row a comes before row b in the ORDER BY (NULLs first, as the
 * smallest), 0: a tie. */
static int topn_cmp(const sql_plan *p, const void *a, const void *b) {
  const sql_plan *src = p->in;
  for (int k = 0; k < p->n_ord; k++) {
    sl__val x, y;
    sl__row_get(a, src->n, src->types, p->ord[k], &x);
    sl__row_get(b, src->n, src->types, p->ord[k], &y);
    int r;
    if (x.null || y.null) {
      r = y.null - x.null;
    } else if (src->types[p->ord[k]].kind == SL__T_DOUBLE) {
      r = (x.u.f > y.u.f) - (x.u.f < y.u.f);
    } else if (src->types[p->ord[k]].kind == SL__T_VARCHAR) {
      uint32_t n = x.u.s.n < y.u.s.n ? x.u.s.n : y.u.s.n;
      r = memcmp(x.u.s.p, y.u.s.p, n);
      if (!r) r = (x.u.s.n > y.u.s.n) - (x.u.s.n < y.u.s.n);
    } else {
      r = (x.u.i > y.u.i) - (x.u.i < y.u.i);
    }
    if (r) return p->desc[k] ? -r : r;
  }
  return 0;
}

/* The kept rows: [u32 length][row bytes]... in order; split into views. */
typedef struct topn_row {
  const uint8_t *p;
  uint32_t n;
} topn_row;

static int topn_split(sl_ctx *ctx, const sl_bytes *v, topn_row **rows, int extra) {
  int n = 0;
  for (size_t at = 0; at + 4 <= v->len; n++) {
    uint32_t l;
    memcpy(&l, (const uint8_t *)v->data + at, 4);
    at += 4 + l;
  }
  if (!(*rows = sl_ctx_scratch(ctx, (size_t)(n + extra) * sizeof **rows))) return -SL_ENOMEM;
  n = 0;
  for (size_t at = 0; at + 4 <= v->len; n++) {
    uint32_t l;
    memcpy(&l, (const uint8_t *)v->data + at, 4);
    (*rows)[n] = (topn_row){(const uint8_t *)v->data + at + 4, l};
    at += 4 + l;
  }
  return n;
}

/* rank of row i of the sorted rows (1-based): RANK's ties share one */
static int64_t topn_number(const sql_plan *p, const topn_row *r, int i, int64_t prev) {
  if (!i) return 1;
  if (!p->rank || topn_cmp(p, r[i - 1].p, r[i].p) < 0) return i + 1;
  return prev;
}

/* The partition's kept rows (views into its state: valid until the next
 * state call; room for one more) and where in's row goes among them.  1
 * when it cannot make the limit (nothing changes), 0, or negative. */
static int topn_find(const sql_plan *p, sl_ctx *ctx, const sl_record *in, sl_state **st, uint32_t *had,
                     topn_row **rows, int *n, int *pos) {
  sl_bytes v = {NULL, 0};
  int rc;
  if ((rc = sl_state_get(ctx, p->top, st)) || (rc = sl_value_get(*st, &v)) < 0) return rc;
  if (rc != 0) v.data = NULL, v.len = 0;
  *had = v.len;
  if ((*n = topn_split(ctx, &v, rows, 1)) < 0) return *n;
  int better = 0;
  *pos = 0;
  for (int i = 0; i < *n; i++) {
    int r = topn_cmp(p, (*rows)[i].p, in->value);
    *pos += r <= 0, better += r < 0;
  }
  return (p->rank ? better : *pos) >= p->limit;
}

/* in's row into rows[pos] (n rows before), the numbers into nums[] (room
 * for n + 1); returns how many stay within the limit, their bytes in *sz. */
static int topn_insert(const sql_plan *p, const sl_record *in, topn_row *rows, int n, int pos, int64_t *nums,
                       size_t *sz) {
  memmove(rows + pos + 1, rows + pos, (size_t)(n - pos) * sizeof *rows);
  rows[pos] = (topn_row){in->value, in->value_len};
  int keep = 0;
  *sz = 0;
  for (; keep < n + 1; keep++) {
    nums[keep] = topn_number(p, rows, keep, keep ? nums[keep - 1] : 0);
    if (nums[keep] > p->limit) break;
    *sz += 4 + rows[keep].n;
  }
  return keep;
}

/* The kept rows[0..keep) ([u32 length][row]...) as the partition's state. */
static int topn_store(sl_ctx *ctx, sl_state *st, const topn_row *rows, int keep, size_t sz) {
  uint8_t *buf = sl_ctx_scratch(ctx, sz ? sz : 1), *at = buf;
  if (!buf) return -SL_ENOMEM;
  for (int i = 0; i < keep; i++) memcpy(at, &rows[i].n, 4), memcpy(at + 4, rows[i].p, rows[i].n), at += 4 + rows[i].n;
  return sl_value_set(st, buf, (uint32_t)sz);
}

static int topn_add(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  const sql_plan *p = ud, *src = p->in;
  sl__val end;
  sl__row_get(in->value, src->n, src->types, p->time_col, &end);
  if (end.null) return 0;
  if (end.u.i - 1 <= sl_ctx_watermark(ctx)) return sl_emit_side(out, "late", in); /* its window has fired */
  sl_state *st;
  topn_row *rows;
  uint32_t had;
  int n, pos, rc = topn_find(p, ctx, in, &st, &had, &rows, &n, &pos);
  if (rc) return rc < 0 ? rc : 0;
  int64_t *nums = sl_ctx_scratch(ctx, ((size_t)n + 1) * sizeof *nums);
  if (!nums) return -SL_ENOMEM;
  size_t sz;
  int keep = topn_insert(p, in, rows, n, pos, nums, &sz);
  if (!had && (rc = sl_timer_register(ctx, SL_TIME_EVENT, end.u.i - 1))) return rc;
  return topn_store(ctx, st, rows, keep, sz);
}

static int topn_fire(void *ud, sl_ctx *ctx, int64_t ts, sl_time_domain d, sl_collector *out) {
  const sql_plan *p = ud, *src = p->in;
  sl_state *st;
  sl_bytes v;
  int rc;
  if ((rc = sl_state_get(ctx, p->top, &st)) || (rc = sl_value_get(st, &v)) < 0) return rc;
  if (rc != 0) return 0;
  topn_row *rows;
  int n = topn_split(ctx, &v, &rows, 0);
  if (n < 0) return n;
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)p->n * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  int64_t num = 0;
  for (int i = 0; i < n; i++) {
    num = topn_number(p, rows, i, num);
    for (int k = 0; k < src->n; k++) sl__row_get(rows[i].p, src->n, src->types, k, &vals[k]);
    vals[src->n] = (sl__val){.u.i = num};
    size_t sz = sl__row_size(p->types, vals, p->n);
    void *row = sl_ctx_scratch(ctx, sz);
    if (!row) return -SL_ENOMEM;
    sl__row_write(row, p->types, vals, p->n);
    sl_record o = {ts, NULL, 0, row, (uint32_t)sz};
    if ((rc = sl_emit(out, &o))) return rc;
  }
  return sl_state_clear(st);
}

/* Row r of the Top-N's input with its number: [kind][row, number]. */
static int topn_emit(const sql_plan *p, sl_ctx *ctx, int kind, const topn_row *r, int64_t num, int64_t ts,
                     sl_collector *out) {
  const sql_plan *src = p->in;
  sl__val *vals = sl_ctx_scratch(ctx, (size_t)p->n * sizeof *vals);
  if (!vals) return -SL_ENOMEM;
  for (int k = 0; k < src->n; k++) sl__row_get(r->p, src->n, src->types, k, &vals[k]);
  vals[src->n] = (sl__val){.u.i = num};
  size_t sz = sl__row_size(p->types, vals, p->n);
  uint8_t *row = sl_ctx_scratch(ctx, sz + 1);
  if (!row) return -SL_ENOMEM;
  row[0] = (uint8_t)kind;
  sl__row_write(row + 1, p->types, vals, p->n);
  sl_record o = {ts, NULL, 0, row, (uint32_t)sz + 1};
  return sl_emit(out, &o);
}

/* Top-N over the unbounded stream (no window; Flink's
 * AppendOnlyTopNFunction): the kept rows of the partition as topn_add keeps
 * them, changed by each row that makes it.  Every rank whose row or number
 * changed is emitted: -U the old row, +U the new one; a rank that is new
 * +I; one that went (RANK's ties pushed past N) -D.  The output carries
 * the number, so a row moved down is an update of each rank it passes. */
static int topn_update(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  const sql_plan *p = ud;
  sl_state *st;
  topn_row *rows, *old;
  uint32_t had;
  int n, pos, rc = topn_find(p, ctx, in, &st, &had, &rows, &n, &pos);
  if (rc) return rc < 0 ? rc : 0;
  int64_t *nums = sl_ctx_scratch(ctx, 2 * ((size_t)n + 1) * sizeof *nums), *onums = nums + n + 1;
  if (!nums || !(old = sl_ctx_scratch(ctx, ((size_t)n + 1) * sizeof *old))) return -SL_ENOMEM;
  memcpy(old, rows, (size_t)n * sizeof *old);
  for (int i = 0; i < n; i++) onums[i] = topn_number(p, old, i, i ? onums[i - 1] : 0);
  size_t sz;
  int keep = topn_insert(p, in, rows, n, pos, nums, &sz);
  for (int i = pos; i < (keep > n ? keep : n); i++) { /* ranks before pos are as they were */
    if (i < n && i < keep && old[i].n == rows[i].n && !memcmp(old[i].p, rows[i].p, rows[i].n) && onums[i] == nums[i])
      continue;
    if (i < n && (rc = topn_emit(p, ctx, i < keep ? SL__ROW_UPDATE_BEFORE : SL__ROW_DELETE, &old[i], onums[i], in->ts, out)))
      return rc;
    if (i < keep && (rc = topn_emit(p, ctx, i < n ? SL__ROW_UPDATE_AFTER : SL__ROW_INSERT, &rows[i], nums[i], in->ts, out)))
      return rc;
  }
  return topn_store(ctx, st, rows, keep, sz);
}

/* A CALC without WHERE whose columns are its input's, in order and type. */
static int calc_is_identity(const sql_plan *p) {
  if (p->where || p->n != p->in->n) return 0;
  for (int i = 0; i < p->n; i++)
    if (p->proj[i]->op != SQL_E_COL || p->proj[i]->col != i ||
        p->types[i].kind != p->in->types[i].kind || p->types[i].scale != p->in->types[i].scale)
      return 0;
  return 1;
}

static sl_stream *build_plan(sql_ctx *c, const sql_plan *p) {
  char name[192];
  if (p->kind == SQL_P_SCAN) {
    const sql_table *t = p->table;
    snprintf(name, sizeof name, "source: %s", t->name);
    sl_stream *s;
    if (t->connector == SQL_CONN_DATAGEN) {
      s = sl_name(sl_source_stream(c->env, sl_datagen_source(t->rows, gen, (void *)p)), name);
    } else if (t->connector == SQL_CONN_KAFKA) {
      size_t no;
      sl_option *o = conn_opts(c, t, &no, 0, 0);
      if (!o) return sl__sql_oom(c), NULL;
      sl_source *src = sl_kafka_source(o, no);
      int dbz = t->format == SQL_FMT_DEBEZIUM;
      if (src) sl_kafka_source_set_deserializer(src, dbz ? decode_kafka_dbz : decode_kafka, (void *)p);
      if (src && t->rowtime >= 0) { /* per-partition watermarks, in the source */
        sl_watermark_strategy wm = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS,
                                    .out_of_orderness_ms = t->wm_delay_ms};
        sl_kafka_source_set_watermarks(src, &wm);
      }
      s = sl_name(sl_source_stream(c->env, src), name);
      snprintf(name, sizeof name, "split updates: %s", t->name);
      return dbz ? sl_name(sl_flat_map(s, dbz_split, NULL), name) : s;
    } else if (t->connector == SQL_CONN_UPSERT_KAFKA) {
      size_t no;
      sl_option *o = conn_opts(c, t, &no, 0, 0);
      upsert_src *u = sl__sql_alloc(c->arena, sizeof *u);
      sql_table *k = u ? &u->key : NULL;
      if (k) {
        *k = (sql_table){.name = t->name, .n_cols = t->n_pk, .format = t->key_format, .rowtime = -1};
        k->names = sl__sql_alloc(c->arena, (size_t)t->n_pk * sizeof *k->names);
        k->types = sl__sql_alloc(c->arena, (size_t)t->n_pk * sizeof *k->types);
      }
      if (!o || !k || !k->names || !k->types) return sl__sql_oom(c), NULL;
      for (int i = 0; i < t->n_pk; i++) k->names[i] = t->names[t->pk[i]], k->types[i] = t->types[t->pk[i]];
      u->scan = p;
      sl_source *src = sl_kafka_source(o, no);
      if (src) sl_kafka_source_set_deserializer(src, decode_upsert_kafka, u);
      if (src && t->rowtime >= 0) {
        sl_watermark_strategy wm = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS,
                                    .out_of_orderness_ms = t->wm_delay_ms};
        sl_kafka_source_set_watermarks(src, &wm);
      }
      s = sl_key_by(sl_name(sl_source_stream(c->env, src), name), scan_key, u);
      snprintf(name, sizeof name, "changelog normalize: %s", t->name);
      return sl_name(sl_keyed_process(s, normalize, NULL, NULL), name);
    } else if (t->connector == SQL_CONN_POSTGRES) {
      size_t no;
      sl_option *o = conn_opts(c, t, &no, 0, 0);
      if (!o) return sl__sql_oom(c), NULL;
      sl_source *src = sl_postgres_source(sl__sql_opt(t, "url"), o, no);
      if (src && t->cdc) sl_postgres_source_set_deserializer(src, decode_cdc, (void *)p); /* rows in the source */
      s = sl_name(sl_source_stream(c->env, src), name);
      if (!t->cdc) {
        snprintf(name, sizeof name, "decode: %s", t->name);
        s = sl_name(sl_flat_map(s, decode, (void *)p), name);
      }
    } else if (t->connector == SQL_CONN_NEXMARK) {
      s = sl_name(sl_source_stream(c->env, sl_nexmark_source(t->nx_cfg)), name);
      snprintf(name, sizeof name, "decode: %s", t->name);
      s = sl_name(sl_flat_map(s, decode_nexmark, (void *)p), name);
    } else {
      s = sl_name(sl_source_stream(c->env, sl_file_source(t->path)), name);
      snprintf(name, sizeof name, "decode: %s", t->name);
      s = sl_name(sl_flat_map(s, t->format == SQL_FMT_DEBEZIUM ? decode_dbz : decode, (void *)p), name);
    }
    if (t->rowtime >= 0) { /* event time: the record's timestamp, bounded out-of-orderness */
      sl_watermark_strategy wm = {.kind = SL_WM_BOUNDED_OUT_OF_ORDERNESS,
                                  .out_of_orderness_ms = t->wm_delay_ms};
      snprintf(name, sizeof name, "watermarks: %s", t->name);
      s = sl_name(sl_assign_timestamps(s, NULL, NULL, &wm), name);
    }
    return s;
  }
  if (p->kind == SQL_P_JOIN) {
    join_side_ud *sides = sl__sql_alloc(c->arena, 2 * sizeof *sides);
    if (!sides) return NULL;
    sides[0] = (join_side_ud){p, p->in, p->lk};
    sides[1] = (join_side_ud){p, p->right, p->rk};
    sl_stream *l = build_plan(c, p->in), *r = build_plan(c, p->right);
    if (p->window) {
      l = sl_name(sl_flat_map(l, restamp, (void *)p->in), "at window end: left");
      r = sl_name(sl_flat_map(r, restamp, (void *)p->right), "at window end: right");
    }
    l = sl_key_by(l, join_key, &sides[0]);
    r = sl_key_by(r, join_key, &sides[1]);
    if (p->window) {
      sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_EVENT, .size_ms = 1, .late_tag = "late"};
      return sl_name(sl_window_join(l, r, &w, window_join_pair, (void *)p), "window join");
    }
    if (p->interval)
      return sl_name(sl_interval_join(l, r, p->lower, p->upper, interval_join_pair, (void *)p), "interval join");
    const char *ttl = sl_env_get(c->env, "table.exec.state.ttl");
    int64_t ttl_ms = 0;
    if (ttl && *ttl && sl__parse_duration_ms(ttl, &ttl_ms)) ttl_ms = 0; /* sl_env_set checked it */
    if (ttl_ms > 0) {
      sl_state_desc *d = sl__sql_alloc(c->arena, 2 * sizeof *d);
      if (!d) return sl__sql_oom(c), NULL;
      d[0] = counted_join(p) ? OJOIN_LEFT : JOIN_LEFT, d[1] = counted_join(p) ? OJOIN_RIGHT : JOIN_RIGHT;
      d[0].ttl_ms = d[1].ttl_ms = ttl_ms;
      ((sql_plan *)p)->jstate = d; /* the plan is built once, before the job runs */
    }
    if (p->changelog && !p->outer)
      return sl_name(sl_connect(l, r, updating_join_left, updating_join_right, (void *)p), "join (updating)");
    const char *oname = p->outer == SQL_OUTER_LEFT ? "left join" : p->outer == SQL_OUTER_RIGHT ? "right join" : "full join";
    if (counted_join(p))
      return sl_name(sl_connect(l, r, outer_updating_left, outer_updating_right, (void *)p), oname);
    if (p->outer) return sl_name(sl_connect(l, r, outer_join_left, outer_join_right, (void *)p), oname);
    return sl_name(sl_connect(l, r, regular_join_left, regular_join_right, (void *)p), "join");
  }
  if (p->kind == SQL_P_TOPN) {
    sl_stream *keyed = sl_key_by(build_plan(c, p->in), topn_key, (void *)p);
    if (p->time_col < 0) return sl_name(sl_keyed_process(keyed, topn_update, NULL, (void *)p), "top-n (updating)");
    return sl_name(sl_keyed_process(keyed, topn_add, topn_fire, (void *)p), "top-n");
  }
  if (p->kind == SQL_P_WINASSIGN) {
    sl_stream *in = build_plan(c, p->in);
    return sl_name(sl_flat_map(in, win_assign, (void *)p), "windows");
  }
  if (p->kind == SQL_P_GROUPAGG) {
    sl_stream *keyed = sl_key_by(build_plan(c, p->in), win_key, (void *)p);
    const char *mb = sl_env_get(c->env, "table.exec.mini-batch.enabled");
    int64_t on = 0;
    if (mb && !sl__parse_bool(mb, &on) && on)
      return sl_name(sl_keyed_process_batch(keyed, group_update_batch, NULL, (void *)p), "group aggregate (mini-batch)");
    return sl_name(sl_keyed_process(keyed, group_update, NULL, (void *)p), "group aggregate");
  }
  if (p->kind == SQL_P_WINAGG) {
    sl_stream *in = build_plan(c, p->in);
    sl_window_spec spec = {.kind = (sl_window_kind)p->wkind,
                           .time = p->proctime ? SL_TIME_PROCESSING : SL_TIME_EVENT,
                           .size_ms = p->size_ms,
                           .slide_ms = p->slide_ms,
                           .gap_ms = p->gap_ms,
                           .late_tag = "late"};
    sl_stream *keyed = sl_key_by(in, win_key, (void *)p);
    if (p->buffered) return sl_name(sl_window_process(keyed, &spec, win_fire_buffered, (void *)p), "window");
    return sl_name(sl_window_aggregate(keyed, &spec, p->acc, win_fire, (void *)p), "window");
  }
  sl_stream *in = build_plan(c, p->in);
  if (calc_is_identity(p)) return in; /* SELECT * (or its columns in order): nothing to do */
  return sl_name(sl_flat_map(in, calc, (void *)p), "calc");
}

/* ---- the columns a query reads ----------------------------------------------- */

static void expr_cols(const sql_expr *e, uint8_t *mask) {
  if (!e) return;
  if (e->op == SQL_E_COL) mask[e->col] = 1;
  for (int i = 0; i < e->n; i++) expr_cols(e->args[i], mask);
}

/* need[i]: output column i of p is read above; marks what p reads of its
 * inputs, down to each SCAN's `used`.  0 or -SL_ENOMEM. */
static int mark_used(sql_ctx *c, sql_plan *p, const uint8_t *need) {
  if (p->kind == SQL_P_SCAN) {
    if (!(p->used = sl__sql_alloc(c->arena, (size_t)p->n + 1))) return -SL_ENOMEM;
    memcpy(p->used, need, (size_t)p->n);
    if (p->table->rowtime >= 0) p->used[p->table->rowtime] = 1;
    return 0;
  }
  sql_plan *in = p->in;
  uint8_t *m = sl__sql_alloc(c->arena, (size_t)in->n + 1);
  if (!m) return -SL_ENOMEM;
  switch (p->kind) {
    case SQL_P_CALC:
      for (int k = 0; k < p->n; k++)
        if (need[k]) expr_cols(p->proj[k], m);
      expr_cols(p->where, m);
      break;
    case SQL_P_WINASSIGN:
      memcpy(m, need, (size_t)in->n);
      if (p->time_col >= 0) m[p->time_col] = 1;
      break;
    case SQL_P_TOPN:
      memcpy(m, need, (size_t)in->n);
      for (int k = 0; k < p->n_part; k++) m[p->part[k]] = 1;
      for (int k = 0; k < p->n_ord; k++) m[p->ord[k]] = 1;
      break;
    case SQL_P_JOIN: {
      uint8_t *r = sl__sql_alloc(c->arena, (size_t)p->right->n + 1);
      if (!r) return -SL_ENOMEM;
      memcpy(m, need, (size_t)in->n);
      memcpy(r, need + in->n, (size_t)p->right->n);
      for (int k = 0; k < p->n_eq; k++) m[p->lk[k]] = 1, r[p->rk[k]] = 1;
      if (p->jcond) { /* an outer join's condition reads both sides */
        uint8_t *jm = sl__sql_alloc(c->arena, (size_t)p->n + 1);
        if (!jm) return -SL_ENOMEM;
        expr_cols(p->jcond, jm);
        for (int k = 0; k < p->n; k++)
          if (jm[k]) (k < in->n ? m : r)[k < in->n ? k : k - in->n] = 1;
      }
      int rc = mark_used(c, p->right, r);
      if (rc) return rc;
      break;
    }
    default: /* WINAGG: its input is [keys..., aggregate arguments...], all read */
      memset(m, 1, (size_t)in->n);
      break;
  }
  return mark_used(c, in, m);
}

int sl__sql_prune(sql_ctx *c, const sql_insert *ins, int n) {
  for (int i = 0; i < n; i++) {
    uint8_t *all = sl__sql_alloc(c->arena, (size_t)ins[i].plan->n + 1);
    if (!all) return sl__sql_oom(c);
    memset(all, 1, (size_t)ins[i].plan->n); /* the sink reads every column */
    if (mark_used(c, ins[i].plan, all)) return sl__sql_oom(c);
  }
  return 0;
}

static int uses_files(const sql_plan *p) {
  for (; p; p = p->in) {
    if (p->kind == SQL_P_SCAN && p->table->connector == SQL_CONN_FILESYSTEM) return 1;
    if (p->right && uses_files(p->right)) return 1;
  }
  return 0;
}

/* Every node of the plan (both sides of joins): datagen rates, Top-N limits. */
static int check_plan(sql_ctx *c, const sql_plan *p) {
  for (; p; p = p->in) {
    if (p->kind == SQL_P_SCAN && p->table->connector == SQL_CONN_DATAGEN) {
      const char *rps = sl__sql_opt(p->table, "rows-per-second");
      if (rps && sl_env_set(c->env, "source.datagen.rows-per-second", rps))
        return sl__sql_error(c, -1, "table '%s': rows-per-second: %s", p->table->name,
                             sl_env_last_error(c->env));
    }
    if (p->kind == SQL_P_TOPN && !p->limit)
      return sl__sql_error(c, (int)p->size_ms,
                           "%s() OVER needs WHERE %s <= N in the query around it (a Top-N without a "
                           "limit would keep every row%s)",
                           p->rank ? "RANK" : "ROW_NUMBER", p->names[p->n - 1], p->time_col >= 0 ? " of the window" : "");
    int rc;
    if (p->right && (rc = check_plan(c, p->right))) return rc;
  }
  return 0;
}

/* The replication slot a CDC table reads: slot.name, else the connector's
 * default sluice_<table-name> (pg_conn.c: lower-cased, others '_'). */
static void slot_of(const sql_table *t, char *slot, size_t cap) {
  const char *name = sl__sql_opt(t, "slot.name"), *tn = sl__sql_opt(t, "table-name");
  if (name) {
    snprintf(slot, cap, "%s", name);
    return;
  }
  size_t k = (size_t)snprintf(slot, cap, "sluice_");
  for (; tn && *tn && k + 1 < cap && k < 63; tn++, k++) {
    char ch = (char)tolower((unsigned char)*tn);
    slot[k] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ? ch : '_';
  }
  slot[k] = 0;
}

/* Each CDC scan of a job reads a replication slot of its own: a second
 * scan of one slot (a table read twice, two tables of one slot.name) is
 * refused here rather than failing with the slot in use. */
static int check_slots(sql_ctx *c, const sql_plan *p, const sql_table **seen, int *n, int cap) {
  for (; p; p = p->in) {
    if (p->kind == SQL_P_SCAN && p->table->cdc) {
      char a[80], b[80];
      slot_of(p->table, a, sizeof a);
      for (int i = 0; i < *n; i++) {
        slot_of(seen[i], b, sizeof b);
        if (!strcmp(a, b) && !strcmp(sl__sql_opt(seen[i], "url"), sl__sql_opt(p->table, "url")) &&
            seen[i] == p->table)
          return sl__sql_error(c, -1, "table '%s' is read twice by this job, and each read of a CDC table "
                                      "needs a replication slot of its own ('%s' is this one's): declare "
                                      "another table of it with its own 'slot.name' for the second read",
                               p->table->name, a);
        if (!strcmp(a, b) && !strcmp(sl__sql_opt(seen[i], "url"), sl__sql_opt(p->table, "url")))
          return sl__sql_error(c, -1, "table '%s' and table '%s' of this job read one replication slot "
                                      "('%s'): each read of a CDC table needs its own: declare another table "
                                      "with its own 'slot.name' for each further read",
                               seen[i]->name, p->table->name, a);
      }
      if (*n < cap) seen[(*n)++] = p->table;
    }
    int rc;
    if (p->right && (rc = check_slots(c, p->right, seen, n, cap))) return rc;
  }
  return 0;
}

int sl__sql_build(sql_ctx *c, const sql_insert *ins, int n) {
  const sql_table *cdc[64];
  int n_cdc = 0;
  for (int i = 0; i < n; i++) {
    int rc = check_slots(c, ins[i].plan, cdc, &n_cdc, 64);
    if (rc) return rc;
  }
  int files = 0;
  for (int i = 0; i < n; i++) files |= uses_files(ins[i].plan);
  /* bad lines are reported by number: the text sources put it in the timestamp */
  if (files && sl_env_set(c->env, "source.text.line-numbers", "true"))
    return sl__sql_error(c, -1, "%s", sl_env_last_error(c->env));
  for (int i = 0; i < n; i++) {
    const sql_table *t = ins[i].sink;
    int rc = check_plan(c, ins[i].plan);
    if (rc) return rc;
    if ((rc = sl__sql_prune(c, &ins[i], 1))) return rc;
    sl_stream *s = build_plan(c, ins[i].plan);
    if (c->sess->sink) { /* sl_sql_set_sink: the caller takes the rows */
      rc = c->sess->sink(c->sess->sink_ud, t ? t->name : "", s, ins[i].plan->changelog);
      if (rc) return sl__sql_error(c, -1, "the rows of INSERT INTO %s: %s", t ? t->name : "(print)",
                                   sl_strerror(rc));
      continue;
    }
    sink_ud *su = sl__sql_alloc(c->arena, sizeof *su);
    if (!su) return sl__sql_oom(c);
    su->plan = ins[i].plan, su->sink = t;
    int upsert = t && t->connector == SQL_CONN_UPSERT_KAFKA;
    if (upsert) {
      su->ktypes = sl__sql_alloc(c->arena, (size_t)t->n_pk * sizeof *su->ktypes);
      su->knames = sl__sql_alloc(c->arena, (size_t)t->n_pk * sizeof *su->knames);
      if (!su->ktypes || !su->knames) return sl__sql_oom(c);
      for (int k = 0; k < t->n_pk; k++) su->ktypes[k] = t->types[t->pk[k]], su->knames[k] = t->names[t->pk[k]];
    }
    su->before_as_delete = t && (t->connector == SQL_CONN_POSTGRES || upsert) && updates_change_keys(ins[i].plan, t);
    /* every change of a key to one writer, in order (upsert-kafka: inserts too) */
    if ((ins[i].plan->changelog || upsert) && t && t->n_pk) s = sl_key_by(s, upsert ? upsert_key : sink_key, su);
    if (needs_materializer(ins[i].plan, t))
      s = sl_name(sl_keyed_process(s, materialize, NULL, su), "upsert materializer");
    char name[192];
    snprintf(name, sizeof name, "encode: %s", t ? t->name : "print");
    if (upsert)
      s = sl_name(sl_flat_map(s, upsert_encode, su), name);
    else if (!t || t->connector != SQL_CONN_BLACKHOLE) /* a blackhole drops the rows as they are */
      s = sl_name(sl_map(s, encode, su), name);
    sl_sink *k;
    size_t no = 0;
    int opts = t && (t->connector == SQL_CONN_KAFKA || t->connector == SQL_CONN_POSTGRES || upsert);
    sl_option *o = opts ? conn_opts(c, t, &no, 1, ins[i].plan->changelog) : NULL;
    if (opts && !o) return sl__sql_oom(c);
    if (!t || t->connector == SQL_CONN_PRINT) k = sl_print_sink();
    else if (t->connector == SQL_CONN_BLACKHOLE) k = sl_discard_sink();
    else if (t->connector == SQL_CONN_KAFKA || upsert) k = sl_kafka_sink(o, no);
    else if (t->connector == SQL_CONN_POSTGRES) k = sl_postgres_sink(sl__sql_opt(t, "url"), o, no);
    else k = sl_file_sink(t->path);
    if (sl_sink_to(s, k)) break; /* sl_execute reports the graph's error */
  }
  return 0;
}

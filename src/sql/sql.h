/*
 * sql.h -- the SQL layer's internals (src/sql), shared by its files:
 *
 *   sql.c      sl_sql_execute: statements in order; the catalog; SET, SHOW
 *   parse.c    text -> libpg_query's JSON parse tree (cJSON); messages
 *              with line, column and a caret
 *   expr.c     scalar expressions: compiled once from the parse tree into
 *              a typed tree, evaluated per row without allocation (string
 *              results go to scratch memory the caller provides)
 *   plan.c     SELECT -> a logical plan (scan, calc = filter + project,
 *              sink); EXPLAIN prints it; the plan becomes a job through
 *              the public API (sluice.h) alone
 *
 * The layer sits above the public API as tools/ does: it includes no
 * runtime, operator or state header, only sluice.h, row/row.h (the row
 * format), core/core.h (the allocator hook) and api/env_ext.h (its session
 * slot and error message on the environment).
 *
 * Memory: everything a statement set plans (plans, expressions, their
 * strings) lives in one arena (sql_arena), freed after its job ran; the
 * catalog's tables and views are sl__malloc'ed and live with the session.
 */
#ifndef SL_SQL_H
#define SL_SQL_H

#include <cjson/cJSON.h>
#include <stdarg.h>

#include "row/row.h"
#include "sluice.h"
#include "sluice_sql.h"

/* ---- arena ---------------------------------------------------------------- */

typedef struct sql_arena {
  struct sql_block *head;
} sql_arena;
void *sl__sql_alloc(sql_arena *a, size_t n); /* zeroed, 16-byte aligned; NULL on OOM */
char *sl__sql_strndup(sql_arena *a, const char *s, size_t n);
void sl__sql_arena_free(sql_arena *a);

/* ---- catalog -------------------------------------------------------------- */

enum {
  SQL_CONN_FILESYSTEM = 1, SQL_CONN_PRINT, SQL_CONN_BLACKHOLE, SQL_CONN_DATAGEN, SQL_CONN_NEXMARK,
  SQL_CONN_KAFKA, SQL_CONN_POSTGRES, SQL_CONN_UPSERT_KAFKA
};
enum { SQL_FMT_CSV = 1, SQL_FMT_JSON, SQL_FMT_DEBEZIUM /* debezium-json: change events */ };
extern const char *const sl__sql_fmt_name[4]; /* by SQL_FMT_*: "csv", "json", "debezium-json" */

/* datagen: how one column's values are made (from the fields.COL.* options) */
enum { SQL_GEN_RANDOM = 0, SQL_GEN_SEQUENCE = 1 };
typedef struct sql_gen {
  int kind;
  int64_t start, step;      /* sequence: start + index * step */
  int64_t min, max;         /* random integers (and DECIMAL unscaled, TIMESTAMP ms) */
  double fmin, fmax;        /* random DOUBLE in [fmin, fmax) */
  int length;               /* random VARCHAR: letters a-z */
  uint64_t seed;
} sql_gen;

typedef struct sql_table {
  char *name;
  int n_cols;
  char **names;         /* column names */
  sl__row_type *types;  /* column types */
  int n_opts;
  char **keys, **vals;  /* WITH options as written */
  int connector, format; /* upsert-kafka: format is value.format */
  int key_format;       /* upsert-kafka: key.format (the primary key's form) */
  const char *path;     /* filesystem: vals[...] */
  char *watermark;      /* the watermark option's expression (kept for event time) */
  int rowtime;          /* the watermark's column (event time), -1: none */
  int64_t wm_delay_ms;  /* watermark = COLUMN - this (bounded out-of-orderness) */
  sql_gen *gen;         /* datagen: one per column */
  uint64_t rows;        /* datagen: number-of-rows (UINT64_MAX: unbounded) */
  int nx_type;          /* nexmark: sl_nexmark_type of the table's rows */
  int *nx_field;        /* nexmark: per column, its field (SQL_NX_*) */
  struct sl_nexmark_config *nx_cfg;
  /* a view: its SELECT (a detached copy of the parse tree) and the text
   * its locations point into */
  cJSON *view;
  char *view_text;
  int n_pk;             /* PRIMARY KEY (cols) NOT ENFORCED: its columns */
  int *pk;
  int cdc;              /* postgres with 'scan.mode' = 'cdc': a changelog source */
} sql_table;

typedef struct sql_session {
  sql_table **tables;
  int n_tables;
  int ran; /* a job ran on the environment */
  sl_sql_output_fn out;
  void *out_ud;
  sl_sql_sink_fn sink;  /* sl_sql_set_sink: rows of every INSERT go here */
  void *sink_ud;
} sql_session;

/* The Nexmark event fields a nexmark table's columns name. */
enum {
  SQL_NX_ID, SQL_NX_NAME, SQL_NX_EMAIL, SQL_NX_CARD, SQL_NX_CITY, SQL_NX_STATE, SQL_NX_DATE_TIME,
  SQL_NX_EXTRA, SQL_NX_ITEM_NAME, SQL_NX_DESCRIPTION, SQL_NX_INITIAL_BID, SQL_NX_RESERVE,
  SQL_NX_EXPIRES, SQL_NX_SELLER, SQL_NX_CATEGORY, SQL_NX_AUCTION, SQL_NX_BIDDER, SQL_NX_PRICE,
  SQL_NX_CHANNEL, SQL_NX_URL
};

sql_table *sl__sql_find_table(sql_session *s, const char *name);
/* A table's option value (keys compared without case), or NULL. */
const char *sl__sql_opt(const sql_table *t, const char *key);

/* ---- statement context and messages --------------------------------------- */

typedef struct sql_ctx {
  sl_env *env;
  sql_session *sess;
  const char *text; /* the text locations point into */
  sql_arena *arena;
  char msg[1800];
  int failed;
  const cJSON *where_in_join; /* FROM a, b WHERE ...: the WHERE planned as the join's ON */
} sql_ctx;

/* The message "line L, column C: ..." + the line + a caret under byte
 * offset loc of c->text (loc < 0: no position).  Returns -SL_EINVAL. */
int sl__sql_error(sql_ctx *c, int loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int sl__sql_oom(sql_ctx *c);

/* Parse text (';'-separated statements) into libpg_query's JSON tree;
 * NULL with the message (line, column, caret) in c. */
cJSON *sl__sql_parse(sql_ctx *c, const char *text);

/* JSON helpers over the parse tree. */
cJSON *sl__sql_j(const cJSON *o, const char *key);      /* member or NULL */
const char *sl__sql_js(const cJSON *o, const char *key); /* string member or NULL */
int sl__sql_jloc(const cJSON *node);                     /* the node's location or -1 */
/* The single member {"Kind": {...}} of a node: its kind and body. */
const char *sl__sql_node_kind(const cJSON *node, cJSON **body);
/* The last name of a list of String nodes ("pg_catalog"."int4" -> "int4"). */
const char *sl__sql_last_name(const cJSON *names);

/* A type name node (TypeName) -> a column type; 0 or sl__sql_error. */
int sl__sql_type_of(sql_ctx *c, const cJSON *type_name, sl__row_type *t);

/* ---- expressions ---------------------------------------------------------- */

typedef enum {
  SQL_E_COL, SQL_E_CONST,
  SQL_E_ADD, SQL_E_SUB, SQL_E_MUL, SQL_E_DIV, SQL_E_MOD, SQL_E_NEG,
  SQL_E_EQ, SQL_E_NE, SQL_E_LT, SQL_E_LE, SQL_E_GT, SQL_E_GE,
  SQL_E_AND, SQL_E_OR, SQL_E_NOT, SQL_E_ISNULL, SQL_E_ISNOTNULL,
  SQL_E_CASE, SQL_E_COALESCE, SQL_E_CAST, SQL_E_CONCAT, SQL_E_CONCAT_WS_NULL,
  SQL_E_UPPER, SQL_E_LOWER, SQL_E_LENGTH, SQL_E_SUBSTR, SQL_E_TRIM,
  SQL_E_EXTRACT, SQL_E_ABS, SQL_E_LIKE
} sql_op;

typedef struct sql_expr {
  sql_op op;
  sl__row_type type; /* of the result */
  int loc;           /* byte offset in the text, for messages */
  int col;           /* COL: column index; TRIM: 1 leading, 2 trailing, 3 both;
                        EXTRACT: the field; LIKE: 1 = NOT LIKE */
  int n;
  struct sql_expr **args; /* CASE: when, then, when, then, ..., [else] (n odd: else) */
  sl__val k;              /* CONST */
} sql_expr;

/* The columns an expression can name: one input relation.  Over a
 * windowed GROUP BY the scope is the group's columns (window_start,
 * window_end, the keys), `agg` turns an aggregate call into a column of
 * the aggregate's output, and `inner` is the scope the aggregates' own
 * arguments read (a column found only there is "not in GROUP BY"). */
struct sql_scope;
typedef struct sql_expr *(*sql_agg_fn)(struct sql_ctx *c, const struct sql_scope *sc,
                                       const cJSON *call, int loc, const char *fn);
typedef struct sql_scope {
  const char *rel;        /* the relation's name or alias (qualifier) */
  int n;
  char *const *names;
  const sl__row_type *types;
  sql_agg_fn agg;
  void *agg_ud;
  const struct sql_scope *inner;
  char *const *rels;      /* a join's: each column's relation (rel is NULL) */
} sql_scope;

/* Compile a parse-tree expression against the scope; NULL with the
 * message in c. */
sql_expr *sl__sql_compile(sql_ctx *c, const cJSON *node, const sql_scope *sc);
/* e cast to t when the types differ (assignment: to a column of type t);
 * NULL with "what" and both types in the message when they cannot. */
sql_expr *sl__sql_coerce(sql_ctx *c, sql_expr *e, sl__row_type t, const char *what);
/* An expression as text, for EXPLAIN. */
void sl__sql_expr_text(const sql_expr *e, const sql_scope *sc, char *buf, size_t cap);

/* Evaluation: one input row; string results are written into memory from
 * alloc(alloc_ud, n) (sl_ctx_scratch in a job).  0, or -1 with a reason
 * in err (division by zero, a cast that does not parse, ...). */
typedef struct sql_eval {
  const void *row;
  int n;
  const sl__row_type *types;
  void *(*alloc)(void *ud, size_t n);
  void *alloc_ud;
  char err[200];
} sql_eval;
int sl__sql_eval_expr(const sql_expr *e, sql_eval *ev, sl__val *out);

/* ---- plans ---------------------------------------------------------------- */

enum { SQL_P_SCAN = 1, SQL_P_CALC, SQL_P_WINAGG, SQL_P_WINASSIGN, SQL_P_TOPN, SQL_P_JOIN, SQL_P_GROUPAGG };

/* One aggregate of a GROUP BY (windowed or not). */
enum { SQL_AGG_COUNT_STAR, SQL_AGG_COUNT, SQL_AGG_SUM, SQL_AGG_MIN, SQL_AGG_MAX, SQL_AGG_AVG };
/* The aggregate function of this name (any case): SQL_AGG_COUNT .. AVG,
 * or -1 (not an aggregate). */
int sl__sql_agg_fn(const char *name);
typedef struct sql_agg {
  int fn;                /* SQL_AGG_* */
  int arg;               /* its argument: a column of the window's input row (-1: COUNT(*)) */
  sl__row_type in, out;  /* argument and result types */
  int distinct;          /* COUNT(DISTINCT arg) */
  int multiset;          /* GROUPAGG: its values counted in the group's map state (COUNT(DISTINCT),
                            MIN / MAX over an updating input: a retracted best is found again) */
} sql_agg;

typedef struct sql_plan {
  int kind;
  int n;               /* output columns */
  char **names;
  sl__row_type *types;
  struct sql_plan *in;
  sql_table *table;    /* SCAN */
  sql_expr *where;     /* CALC (NULL: none) */
  sql_expr **proj;     /* CALC: n expressions over in's columns */
  const char *rel;     /* SCAN: alias */
  /* WINAGG: in's row is [keys..., aggregate arguments...]; the output is
   * [window_start, window_end, keys..., aggregates...] */
  int wkind;           /* SL_WINDOW_TUMBLING / SLIDING / SESSION */
  int64_t size_ms, slide_ms, gap_ms;
  int n_keys, n_aggs;
  sql_agg *aggs;
  sl_state_desc *acc;  /* the accumulator (24 bytes per aggregate) */
  int64_t wm_delay_ms; /* for EXPLAIN */
  /* WINASSIGN (a window table function's rows, no GROUP BY): the input's
   * columns + window_start, window_end, one row per window of the row's
   * time column `time_col` (wkind, size_ms, slide_ms as above) */
  int time_col;
  /* TOPN (ROW_NUMBER() / RANK() OVER (PARTITION BY window_start,
   * window_end, ... ORDER BY ...) with WHERE rn <= limit around it): the
   * input's columns + the number; per partition the best `limit` rows are
   * kept and emitted when the window ends (time_col: window_end) */
  int rank;            /* 0: ROW_NUMBER, 1: RANK (ties share a number) */
  int n_part, n_ord;
  int *part, *ord;     /* columns of in */
  uint8_t *desc;       /* per ORDER BY column */
  int64_t limit;       /* 0: not found yet (refused) */
  sl_state_desc *top;  /* the kept rows */
  /* JOIN (inner, equi): in is the left input, right the right one; the
   * output is left's columns then right's (rels: each column's relation);
   * lk[i] = rk[i] are the equalities.  window: one equality pairs the two
   * sides' window_end (a window join: state lives until the window ends),
   * else a regular join of append-only inputs (state kept for good) */
  struct sql_plan *right;
  char **rels;
  int n_eq, window;
  int *lk, *rk;
  int wend;            /* JOIN: the window_end column of the output */
  int proctime;        /* WINAGG: processing-time windows (PROCTIME()) */
  int buffered;        /* WINAGG: COUNT(DISTINCT) or MIN/MAX of VARCHAR -- the window keeps its
                          rows (sl_window_process) and aggregates them when it fires */
  int interval;        /* JOIN: ON bounds right.time - left.time to [lower, upper] ms */
  uint8_t *used;       /* SCAN: the columns the query reads (NULL: all); the
                          nexmark decode leaves the others NULL */
  int64_t lower, upper;
  sl_state_desc *jstate; /* JOIN, regular: [left, right] with table.exec.state.ttl (NULL: none) */
  /* GROUPAGG (GROUP BY without a window, SELECT DISTINCT): as WINAGG
   * without the window -- in's row is [keys..., aggregate arguments...],
   * the output [keys..., aggregates...], updated with every input row:
   * state `acc` (VALUE: int64 rows, then the accumulator) per key */
  /* JOIN, outer (regular joins only): which sides keep their unmatched
   * rows (NULL-padded, +I, retracted with -D at their first match), and
   * ON's conditions beyond the equalities, checked per pair (a row that
   * fails them is unmatched, not dropped) */
  sl_state_desc *vals; /* GROUPAGG with multiset aggregates: MAP [agg][value] -> int64 count */
  int outer;           /* SQL_OUTER_LEFT | SQL_OUTER_RIGHT */
  sql_expr *jcond;
  int changelog;       /* the node's rows are changelog rows (row.h: a kind byte, then the row):
                          GROUPAGG's, and a CALC's over one */
} sql_plan;

enum { SQL_OUTER_LEFT = 1, SQL_OUTER_RIGHT = 2 };

/* One INSERT: the query's plan and the sink table. */
typedef struct sql_insert {
  sql_plan *plan;
  sql_table *sink;
} sql_insert;

/* Plan an InsertStmt / SelectStmt body. */
int sl__sql_plan_insert(sql_ctx *c, const cJSON *ins, sql_insert *out);
sql_plan *sl__sql_plan_select(sql_ctx *c, const cJSON *sel);
/* A view's or subquery's columns need distinct names: 0 or sl__sql_error. */
int sl__sql_unique_names(sql_ctx *c, const sql_plan *p, int loc);
/* Merge each CALC that only picks columns of a CALC below it into that
 * one (returns the plan; EXPLAIN and the job both see it). */
sql_plan *sl__sql_fuse(sql_ctx *c, sql_plan *p);
/* EXPLAIN text of the inserts (or of one query when sink is NULL). */
void sl__sql_explain(const sql_insert *ins, int n, char **buf, size_t *len, size_t *cap);
/* Mark the columns each scan's rows need (sql_plan.used); EXPLAIN and
 * sl__sql_build call it.  0 or sl__sql_oom. */
int sl__sql_prune(sql_ctx *c, const sql_insert *ins, int n);
/* Build the job of the inserts on c->env (public API calls only). */
int sl__sql_build(sql_ctx *c, const sql_insert *ins, int n);

/* Growable text (EXPLAIN, SHOW). */
void sl__sql_appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

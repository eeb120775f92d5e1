/*
 * test_sql.c -- streaming SQL (src/sql) and the binary row (src/row):
 * the row's byte layout, its text forms (CSV quoting, JSON, decimals,
 * timestamps), expressions run as jobs through sl_sql_execute against rows
 * worked out by hand, views, datagen, bad input lines, EXPLAIN and SHOW,
 * and the error messages with their line, column and caret.
 */
#include <stdarg.h>

#include "row/row.h"
#include "sluice_nexmark.h"
#include "sluice_sql.h"
#include "test.h"
#include "test_util.h"

static const sl__row_type TI = {SL__T_INT, 0, 0}, TV = {SL__T_VARCHAR, 0, 0},
                          TD = {SL__T_DOUBLE, 0, 0}, TB = {SL__T_BIGINT, 0, 0},
                          TBOOL = {SL__T_BOOL, 0, 0};

/* ---- the row ------------------------------------------------------------------ */

static void row_layout(void) {
  sl__row_type types[4] = {TI, TV, TD, TV};
  sl__val v[4] = {{.u.i = 7}, {.u.s = {"ab", 2}}, {.null = 1}, {.u.s = {"", 0}}};
  /* bitmap 8 bytes + 4 slots of 8 + "ab" */
  CHECK_EQ_INT(sl__row_size(types, v, 4), 42);
  uint8_t buf[64];
  memset(buf, 0xEE, sizeof buf);
  CHECK_EQ_INT(sl__row_write(buf, types, v, 4), 42);
  uint8_t want[42] = {0};
  want[0] = 4;                       /* column 2 is NULL */
  want[8] = 7;                       /* INT 7 */
  want[16] = 40, want[20] = 2;       /* "ab" at offset 40, length 2 */
  want[32] = 42, want[36] = 0;       /* "" at offset 42, length 0 */
  want[40] = 'a', want[41] = 'b';
  CHECK(memcmp(buf, want, 42) == 0);
  sl__val g;
  sl__row_get(buf, 4, types, 1, &g);
  CHECK(!g.null && g.u.s.n == 2 && !memcmp(g.u.s.p, "ab", 2));
  sl__row_get(buf, 4, types, 2, &g);
  CHECK(g.null);
  CHECK_EQ_INT(sl__row_check(buf, 42, types, 4), 0);
  CHECK_EQ_INT(sl__row_check(buf, 41, types, 4), -1); /* "ab" cut */
  CHECK_EQ_INT(sl__row_check(buf, 30, types, 4), -1);
}

static size_t fmt(sl__row_type t, sl__val v, char *buf) {
  size_t n = sl__row_format_text(t, &v, buf, 63);
  buf[n] = 0;
  return n;
}

static void row_text(void) {
  sl__row_type dec = {SL__T_DECIMAL, 5, 2}, ts = {SL__T_TIMESTAMP, 0, 0};
  sl__val v;
  const char *why = NULL;
  char buf[64];
  CHECK_EQ_INT(sl__row_parse_text(dec, "12.345", 6, &v, &why), 0);
  CHECK_EQ_INT(v.u.i, 1235); /* half away from zero */
  CHECK_EQ_INT(sl__row_parse_text(dec, "-0.005", 6, &v, &why), 0);
  CHECK_EQ_INT(v.u.i, -1);
  fmt(dec, v, buf);
  CHECK_EQ_STR(buf, "-0.01");
  CHECK_EQ_INT(sl__row_parse_text(dec, "1000.00", 7, &v, &why), -1); /* 5 - 2 = 3 integer digits */
  CHECK_EQ_INT(sl__row_parse_text(dec, "7", 1, &v, &why), 0);
  fmt(dec, v, buf);
  CHECK_EQ_STR(buf, "7.00");
  CHECK_EQ_INT(sl__row_parse_text(ts, "2020-03-04 05:06:07.5", 21, &v, &why), 0);
  CHECK_EQ_INT(v.u.i, 1583298367500LL); /* checked with Python's datetime */
  fmt(ts, v, buf);
  CHECK_EQ_STR(buf, "2020-03-04 05:06:07.5");
  CHECK_EQ_INT(sl__row_parse_text(ts, "1969-12-31T23:59:59Z", 20, &v, &why), 0);
  CHECK_EQ_INT(v.u.i, -1000);
  fmt(ts, v, buf);
  CHECK_EQ_STR(buf, "1969-12-31 23:59:59");
  CHECK_EQ_INT(sl__row_parse_text(ts, "2021-02-29", 10, &v, &why), -1); /* not a leap year */
  CHECK_EQ_INT(sl__row_parse_text(TI, "2147483648", 10, &v, &why), -1);
  CHECK_EQ_INT(sl__row_parse_text(TB, "2147483648", 10, &v, &why), 0);
  CHECK_EQ_INT(sl__row_parse_text(TBOOL, "TRUE", 4, &v, &why), 0);
  CHECK_EQ_INT(v.u.i, 1);
  v.u.f = 0.1;
  fmt(TD, v, buf);
  CHECK_EQ_STR(buf, "0.1");
  v.u.f = 1e20;
  fmt(TD, v, buf);
  CHECK_EQ_STR(buf, "1e+20");
}

static void csv_split(void) {
  sl__csv_field f[8];
  char buf[64];
  const char *why = NULL;
  const char *line = "a,\"b,\"\"c\"\"\",,\"\"\r\n";
  CHECK_EQ_INT(sl__csv_split(line, strlen(line), f, 8, buf, sizeof buf, &why), 4);
  CHECK(f[0].n == 1 && f[0].p[0] == 'a' && !f[0].quoted);
  CHECK(f[1].n == 5 && !memcmp(f[1].p, "b,\"c\"", 5) && f[1].quoted);
  CHECK(f[2].n == 0 && !f[2].quoted); /* NULL */
  CHECK(f[3].n == 0 && f[3].quoted);  /* the empty string */
  CHECK_EQ_INT(sl__csv_split("\"abc", 4, f, 8, buf, sizeof buf, &why), -1);
  CHECK_EQ_STR(why, "unterminated quoted field");
  CHECK_EQ_INT(sl__csv_split("\"a\"x", 4, f, 8, buf, sizeof buf, &why), -1);
  CHECK_EQ_STR(why, "text after a closing quote");
  CHECK_EQ_INT(sl__csv_split("1,2,3", 5, f, 2, buf, sizeof buf, &why), -1);
  /* and back: NULL empty, "" quoted, quotes doubled */
  sl__row_type types[4] = {TV, TV, TV, TI};
  sl__val v[4] = {{.null = 1}, {.u.s = {"", 0}}, {.u.s = {"say \"hi\", ok", 12}}, {.u.i = -3}};
  uint8_t row[128];
  sl__row_write(row, types, v, 4);
  char out[128];
  size_t n = sl__row_to_csv(row, 4, types, out, sizeof out);
  CHECK_EQ_INT(n, strlen(",\"\",\"say \"\"hi\"\", ok\",-3"));
  out[n] = 0;
  CHECK_EQ_STR(out, ",\"\",\"say \"\"hi\"\", ok\",-3");
  CHECK_EQ_INT(sl__row_to_csv(row, 4, types, out, 3), n); /* too small: the size it needs */
}

static void json_codec(void) {
  sl__row_type types[5] = {TB, TV, {SL__T_DECIMAL, 4, 1}, TBOOL, TI};
  const char *names[5] = {"id", "name", "amount", "ok", "missing"};
  sl__val v[5];
  char buf[128];
  const char *why = NULL;
  int bad = 0;
  const char *line =
      "{\"id\": 5, \"name\": \"x\\\"y\\u00e9\", \"skip\": {\"a\": [1, {\"b\": 2}]}, \"amount\": \"1.5\", \"ok\": true}";
  CHECK_EQ_INT(sl__row_from_json(line, strlen(line), 5, types, names, v, buf, sizeof buf, &why, &bad), 0);
  CHECK(!v[0].null && v[0].u.i == 5);
  CHECK(!v[1].null && v[1].u.s.n == 5 && !memcmp(v[1].u.s.p, "x\"y\xc3\xa9", 5));
  CHECK(!v[2].null && v[2].u.i == 15);
  CHECK(!v[3].null && v[3].u.i == 1);
  CHECK(v[4].null); /* absent */
  CHECK_EQ_INT(sl__row_from_json("{\"id\": \"x\"}", 11, 5, types, names, v, buf, sizeof buf, &why, &bad), -1);
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(sl__row_from_json("[1]", 3, 5, types, names, v, buf, sizeof buf, &why, &bad), -1);
  CHECK_EQ_STR(why, "not a JSON object");
  /* a TIMESTAMP: a string, or a number of epoch ms */
  sl__row_type tt[1] = {{SL__T_TIMESTAMP, 0, 0}};
  const char *tn[1] = {"t"};
  const char *j1 = "{\"t\": 1583298367500}", *j2 = "{\"t\": \"2020-03-04 05:06:07.5\"}", *j3 = "{\"t\": 1.5}";
  CHECK_EQ_INT(sl__row_from_json(j1, strlen(j1), 1, tt, tn, v, buf, sizeof buf, &why, &bad), 0);
  CHECK_EQ_INT(v[0].u.i, 1583298367500LL);
  CHECK_EQ_INT(sl__row_from_json(j2, strlen(j2), 1, tt, tn, v, buf, sizeof buf, &why, &bad), 0);
  CHECK_EQ_INT(v[0].u.i, 1583298367500LL);
  CHECK_EQ_INT(sl__row_from_json(j3, strlen(j3), 1, tt, tn, v, buf, sizeof buf, &why, &bad), -1);
  uint8_t row[128];
  v[0] = (sl__val){.u.i = 5}, v[1] = (sl__val){.u.s = {"a\"\n", 3}}, v[2] = (sl__val){.u.i = 15};
  v[3] = (sl__val){.u.i = 1}, v[4] = (sl__val){.null = 1};
  sl__row_write(row, types, v, 5);
  char out[256];
  size_t n = sl__row_to_json(row, 5, types, names, out, sizeof out - 1);
  out[n] = 0;
  CHECK_EQ_STR(out, "{\"id\":5,\"name\":\"a\\\"\\u000a\",\"amount\":1.5,\"ok\":true,\"missing\":null}");
}

/* ---- jobs ---------------------------------------------------------------------- */

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

/* Runs the statements (printf-style; %1$s is g_tmp) at parallelism P.
 * Returns sl_sql_execute's code; the message in msg. */
static int run_sql(int P, char *msg, size_t cap, const char *fmt_, ...) {
  char text[8192];
  va_list ap;
  va_start(ap, fmt_);
  vsnprintf(text, sizeof text, fmt_, ap);
  va_end(ap);
  sl_env *env = env_p(P);
  int rc = sl_sql_execute(env, text);
  if (msg) snprintf(msg, cap, "%s", sl_env_last_error(env));
  if (rc && !msg) fprintf(stderr, "sl_sql_execute: %s\n", sl_env_last_error(env));
  sl_env_free(env);
  return rc;
}

static char *slurp(const char *name) {
  char p[1024];
  size_t len;
  char *s = read_file(tpath(p, sizeof p, name), &len);
  return s ? s : strdup("(missing)");
}

static const char *SRC_CSV =
    "1,Alice,10.50,2020-01-01 00:00:01,  x  \n"
    "2,bob,3.25,2020-02-29 12:30:00,\n"
    "3,\"Carol, Jr\",100,2021-12-31 23:59:59.250,\"\"\"q\"\"\"\n"
    "4,,,1969-12-31 23:59:59,z\n";

static void expressions(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "src.csv"), SRC_CSV);
  int rc = run_sql(
      1, NULL, 0,
      "CREATE TABLE src (id INT, name VARCHAR, amount DECIMAL(6, 2), ts TIMESTAMP, tag TEXT)\n"
      "  WITH ('connector' = 'filesystem', 'path' = '%1$s/src.csv', 'format' = 'csv');\n"
      "CREATE TABLE out1 (id INT, up VARCHAR, lo VARCHAR, len INT, sub VARCHAR, cat VARCHAR,\n"
      "  cc VARCHAR, tr VARCHAR, dbl DECIMAL(8, 2), sz VARCHAR, y BIGINT, mo BIGINT, d BIGINT,\n"
      "  h BIGINT, ai INT, half INT, m3 INT, q DOUBLE)\n"
      "  WITH (connector = 'filesystem', path = '%1$s/out1.csv');\n"
      "CREATE TABLE out2 (id INT, name TEXT, amount DECIMAL(6, 2), ts TIMESTAMP, mid BOOLEAN,\n"
      "  c BOOLEAN, one_or_four BOOLEAN)\n"
      "  WITH (connector = 'filesystem', path = '%1$s/out2.json', format = 'json');\n"
      "INSERT INTO out1 SELECT id, UPPER(name), LOWER(name), CHAR_LENGTH(name),\n"
      "  SUBSTRING(name FROM 2 FOR 3), name || '-' || CAST(id AS VARCHAR), CONCAT(name, '/', tag),\n"
      "  TRIM(tag), COALESCE(amount, 0) * 2,\n"
      "  CASE WHEN amount > 50 THEN 'big' WHEN amount IS NULL THEN 'none' ELSE 'small' END,\n"
      "  EXTRACT(YEAR FROM ts), EXTRACT(MONTH FROM ts), EXTRACT(DAY FROM ts), EXTRACT(HOUR FROM ts),\n"
      "  CAST(amount AS INT), id / 2, id %% 3, CAST(id AS DOUBLE) / 4\n"
      "FROM src WHERE id <> 2 OR amount IS NULL;\n"
      "INSERT INTO out2 SELECT id, name, amount, ts, id BETWEEN 2 AND 3, name LIKE 'C%%',\n"
      "  id IN (1, 4) FROM src WHERE ts >= '2020-01-01 00:00:00'",
      g_tmp);
  CHECK_EQ_INT(rc, 0);
  char *o1 = slurp("out1.csv"), *o2 = slurp("out2.json");
  CHECK_EQ_STR(o1,
               "1,ALICE,alice,5,lic,Alice-1,Alice/  x  ,x,21.00,small,2020,1,1,0,11,0,1,0.25\n"
               "3,\"CAROL, JR\",\"carol, jr\",9,aro,\"Carol, Jr-3\",\"Carol, Jr/\"\"q\"\"\",\"\"\"q\"\"\","
               "200.00,big,2021,12,31,23,100,1,0,0.75\n"
               "4,,,,,,/z,z,0.00,none,1969,12,31,23,,2,1,1\n");
  CHECK_EQ_STR(o2,
               "{\"id\":1,\"name\":\"Alice\",\"amount\":10.50,\"ts\":\"2020-01-01 00:00:01\",\"mid\":false,"
               "\"c\":false,\"one_or_four\":true}\n"
               "{\"id\":2,\"name\":\"bob\",\"amount\":3.25,\"ts\":\"2020-02-29 12:30:00\",\"mid\":true,"
               "\"c\":false,\"one_or_four\":false}\n"
               "{\"id\":3,\"name\":\"Carol, Jr\",\"amount\":100.00,\"ts\":\"2021-12-31 23:59:59.25\","
               "\"mid\":true,\"c\":true,\"one_or_four\":false}\n");
  free(o1), free(o2);
}

/* A JSON table read back, a view over it, SELECT * and a column list. */
static void json_source_and_views(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "in.json"),
             "{\"k\": \"a\", \"v\": 1}\n{\"v\": 2, \"k\": \"b\", \"extra\": [1]}\n{\"k\": null, \"v\": 3}\n"
             "{\"k\": \"d\", \"v\": 4}\n");
  int rc = run_sql(2, NULL, 0,
                   "CREATE TABLE j (k VARCHAR, v BIGINT) WITH (connector = 'filesystem', path = "
                   "'%1$s/in.json', format = 'json');\n"
                   "CREATE VIEW big AS SELECT k, v * 10 AS v10 FROM j WHERE v > 1;\n"
                   "CREATE VIEW named AS SELECT * FROM big WHERE k IS NOT NULL;\n"
                   "CREATE TABLE o (x BIGINT, y TEXT, z INT) WITH (connector = 'filesystem', path = "
                   "'%1$s/views.csv');\n"
                   "INSERT INTO o (y, x) SELECT * FROM named",
                   g_tmp);
  CHECK_EQ_INT(rc, 0);
  char *o = slurp("views.csv");
  lines got = {0}, want = {0};
  lines_split_copy(&got, o, strlen(o));
  const char *w = "20,b,\n40,d,\n";
  lines_split_copy(&want, w, strlen(w));
  CHECK(same_lines(&want, &got, 0)); /* P = 2: any order */
  lines_free(&got), lines_free(&want);
  free(o);
}

/* datagen: a sequence is exact, random values are the same at every
 * parallelism and inside their bounds. */
static void datagen(void) {
  for (int P = 1; P <= 2; P++) {
    int rc = run_sql(P, NULL, 0,
                     "CREATE TABLE g (id BIGINT, r INT, s VARCHAR) WITH (connector = 'datagen',\n"
                     "  'number-of-rows' = '50', 'fields.id.kind' = 'sequence', 'fields.id.start' = '10',\n"
                     "  'fields.r.min' = '-3', 'fields.r.max' = '3', 'fields.s.length' = '4', seed = '7');\n"
                     "CREATE TABLE o (id BIGINT, r INT, s VARCHAR) WITH (connector = 'filesystem', "
                     "path = '%1$s/gen%2$d.csv');\n"
                     "INSERT INTO o SELECT * FROM g",
                     g_tmp, P);
    CHECK_EQ_INT(rc, 0);
  }
  char *a = slurp("gen1.csv"), *b = slurp("gen2.csv");
  lines la = {0}, lb = {0};
  lines_split_copy(&la, a, strlen(a));
  lines_split_copy(&lb, b, strlen(b));
  CHECK_EQ_INT(la.n, 50);
  CHECK(same_lines(&la, &lb, 0));
  int in_order = 1, bounded = 1;
  for (size_t i = 0; i < la.n; i++) {
    long id, r;
    char s[16];
    if (sscanf(la.v[i], "%ld,%ld,%15s", &id, &r, s) != 3 || id != 10 + (long)i) in_order = 0;
    if (r < -3 || r > 3 || strlen(s) != 4) bounded = 0;
  }
  CHECK(in_order);
  CHECK(bounded);
  lines_free(&la), lines_free(&lb);
  free(a), free(b);
}

/* A line that does not parse as the declared types: the job fails naming
 * table, file and line; with a dead-letter file the line goes there. */
static void bad_lines(void) {
  char p[1024], msg[2048];
  write_text(tpath(p, sizeof p, "bad.csv"), "1,2.5\n2,x\n3,4\n4,1,extra\n");
  const char *q =
      "CREATE TABLE b (id INT, v DOUBLE) WITH (connector = 'filesystem', path = '%1$s/bad.csv');\n"
      "CREATE TABLE o (id INT, v DOUBLE) WITH (connector = 'filesystem', path = '%1$s/bad_out.csv');\n"
      "INSERT INTO o SELECT id, v * 2 FROM b";
  CHECK_EQ_INT(run_sql(1, msg, sizeof msg, q, g_tmp), -SL_EBADREC);
  char want[1024];
  snprintf(want, sizeof want,
           "bad record at table 'b' (%s/bad.csv) line 2: column 'v' (DOUBLE): not a DOUBLE (a finite number): 'x'",
           g_tmp);
  CHECK_CONTAINS(msg, want);
  char dl[1024];
  tpath(dl, sizeof dl, "dead.txt");
  char text[2048];
  snprintf(text, sizeof text, "SET 'pipeline.dead-letter.path' = '%s';\n%s", dl, q);
  CHECK_EQ_INT(run_sql(1, msg, sizeof msg, text, g_tmp), 0);
  char *o = slurp("bad_out.csv"), *d = slurp("dead.txt");
  CHECK_EQ_STR(o, "1,5\n3,8\n");
  CHECK_CONTAINS(d, "line 2\tcolumn 'v' (DOUBLE): not a DOUBLE (a finite number): 'x'\t2,x\n");
  CHECK_CONTAINS(d, "line 4\t3 fields, the table has 2 columns\t4,1,extra\n");
  free(o), free(d);
  /* a row whose expression fails: division by zero is a bad record too */
  write_text(tpath(p, sizeof p, "div.csv"), "1,0\n6,3\n");
  snprintf(text, sizeof text,
           "CREATE TABLE b (x INT, y INT) WITH (connector = 'filesystem', path = '%s/div.csv');\n"
           "CREATE TABLE o (q INT) WITH (connector = 'filesystem', path = '%s/div_out.csv');\n"
           "INSERT INTO o SELECT x / y FROM b",
           g_tmp, g_tmp);
  CHECK_EQ_INT(run_sql(1, msg, sizeof msg, "%s", text), -SL_EBADREC);
  CHECK_CONTAINS(msg, "line 1: division by zero; record \"1,0\"");
}

static void capture(void *ud, const char *text) {
  size_t n = strlen(ud);
  snprintf((char *)ud + n, 4096 - n, "%s", text);
}

static void explain_and_show(void) {
  char out[4096] = "";
  sl_env *env = env_p(1);
  sl_sql_set_output(env, capture, out);
  int rc = sl_sql_execute(env,
                          "CREATE TABLE t (a INT, s VARCHAR) WITH (connector = 'datagen');\n"
                          "CREATE TABLE p (a BIGINT, s VARCHAR) WITH (connector = 'print');\n"
                          "CREATE VIEW v AS SELECT a + 1 AS b FROM t;\n"
                          "SHOW TABLES;\n"
                          "EXPLAIN INSERT INTO p SELECT a * 2, UPPER(s) FROM t WHERE a > 0 AND s LIKE 'x%';");
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_STR(out,
               "p\nt\nv\n"
               "sink: p [connector=print]\n"
               "  encode: p (row -> +I[...] text)\n"
               "    calc: select CAST((a * 2) AS BIGINT) AS a BIGINT, UPPER(s) AS s VARCHAR where "
               "((a > 0) AND (s LIKE 'x%'))\n"
               "      source: t [connector=datagen]\n");
  sl_env_free(env);
}

/* Errors: line, column and a caret under the token; types named. */
static void expect_error(const char *text, const char *want) {
  sl_env *env = env_p(1);
  int rc = sl_sql_execute(env, text);
  CHECK_EQ_INT(rc, -SL_EINVAL);
  CHECK_EQ_STR(sl_env_last_error(env), want);
  sl_env_free(env);
}

#define T_SRC "CREATE TABLE t (a INT, s VARCHAR) WITH (connector = 'datagen');\n"
#define T_OUT "CREATE TABLE o (a INT) WITH (connector = 'blackhole');\n"

static void errors(void) {
  expect_error("SELEC 1", "line 1, column 1: syntax error at or near \"SELEC\"\n  SELEC 1\n  ^");
  expect_error(T_SRC "\nINSERT INTO o\n  SELECT a FROM t WHERE a >",
               "line 4, column 28: syntax error at end of input\n"
               "    SELECT a FROM t WHERE a >\n"
               "                             ^");
  expect_error(T_SRC T_OUT "INSERT INTO nope SELECT a FROM t;",
               "line 3, column 13: unknown table 'nope' (CREATE TABLE it first)\n"
               "  INSERT INTO nope SELECT a FROM t;\n"
               "              ^");
  expect_error(T_SRC T_OUT "INSERT INTO o SELECT a FROM tt;",
               "line 3, column 29: unknown table 'tt' (tables: t, o)\n"
               "  INSERT INTO o SELECT a FROM tt;\n"
               "                              ^");
  expect_error(T_SRC T_OUT "INSERT INTO o SELECT b FROM t;",
               "line 3, column 22: unknown column 'b' ('t' has: a, s)\n"
               "  INSERT INTO o SELECT b FROM t;\n"
               "                       ^");
  expect_error(T_SRC T_OUT "INSERT INTO o SELECT nope(a) FROM t;",
               "line 3, column 22: unknown function 'nope' (functions: UPPER, LOWER, CHAR_LENGTH, "
               "SUBSTRING, TRIM, CONCAT, ABS, COALESCE, EXTRACT, CAST)\n"
               "  INSERT INTO o SELECT nope(a) FROM t;\n"
               "                       ^");
  expect_error(T_SRC T_OUT "INSERT INTO o SELECT a FROM t WHERE s > 1;",
               "line 3, column 39: operator > does not apply to VARCHAR and INT\n"
               "  INSERT INTO o SELECT a FROM t WHERE s > 1;\n"
               "                                        ^");
  expect_error(T_SRC T_OUT "INSERT INTO o SELECT s FROM t;",
               "line 3, column 22: type mismatch: column 'a' of 'o' is INT, the value given is VARCHAR "
               "(CAST it)\n"
               "  INSERT INTO o SELECT s FROM t;\n"
               "                       ^");
  expect_error(T_SRC "CREATE TABLE f (a INT) WITH (connector = 'filesystem', path = '/tmp/f');\n"
                     "INSERT INTO f SELECT t.a FROM t LEFT JOIN t u ON t.a = u.a;",
               "line 3, column 13: table 'f' (connector filesystem) takes inserts only, and the query's result "
               "is updating (a GROUP BY without a window, DISTINCT or an outer join: its rows change as input "
               "arrives): write it to a print, blackhole, postgres or upsert-kafka table (with a PRIMARY KEY) "
               "or as change events (format = 'debezium-json'), or aggregate per window (TUMBLE, HOP, SESSION) "
               "for rows that are final\n"
               "  INSERT INTO f SELECT t.a FROM t LEFT JOIN t u ON t.a = u.a;\n"
               "              ^");
  expect_error("CREATE TABLE t (a INT) WITH (connector = 'kafak');",
               "line 1, column 30: unknown connector 'kafak' (connectors: filesystem, kafka, upsert-kafka, "
               "postgres, datagen, nexmark, print, blackhole)\n"
               "  CREATE TABLE t (a INT) WITH (connector = 'kafak');\n"
               "                               ^");
  expect_error("CREATE TABLE t (a INT, ts TIMESTAMP) WITH (connector = 'datagen', watermark = 'tss - "
               "INTERVAL ''1'' SECOND');",
               "line 1, column 67: watermark 'tss - INTERVAL '1' SECOND': unknown column 'tss' ('t' has: a, ts)\n"
               "  CREATE TABLE t (a INT, ts TIMESTAMP) WITH (connector = 'datagen', watermark = 'tss - "
               "INTERVAL ''1'' SECOND');\n"
               "                                                                    ^");
  expect_error(T_OUT "INSERT INTO o VALUES (1);",
               "line 2, column 23: VALUES is not supported: read from a table (INSERT INTO sink SELECT ... "
               "FROM source)\n"
               "  INSERT INTO o VALUES (1);\n"
               "                        ^");
  expect_error("SELECT 1;", "line 1, column 8: a streaming query needs FROM a table\n  SELECT 1;\n         ^");
  expect_error("SET 'no.such.key' = '1';", "line 1, column 1: unknown configuration key 'no.such.key' (see `sluice conf --list`)\n"
                                           "  SET 'no.such.key' = '1';\n  ^");
}

/* The watermark option parses and is kept; SET reaches the environment. */
static void watermark_and_set(void) {
  sl_env *env = env_p(1);
  CHECK_EQ_INT(sl_sql_execute(env,
                              "SET 'pipeline.name' = 'my sql job';\n"
                              "SET execution.checkpointing.interval = '2s';\n"
                              "CREATE TABLE t (a INT, ts TIMESTAMP, ms BIGINT) WITH (connector = 'datagen', "
                              "watermark = 'ts - INTERVAL ''4'' SECOND');\n"
                              "CREATE TABLE u (ms BIGINT) WITH (connector = 'datagen', watermark = 'ms - 200')"),
               0);
  CHECK_EQ_STR(sl_env_get(env, "pipeline.name"), "my sql job");
  CHECK_EQ_STR(sl_env_get(env, "execution.checkpointing.interval"), "2s");
  sl_env_free(env);
  /* one environment runs one job; the catalog stays across calls */
  env = env_p(1);
  CHECK_EQ_INT(sl_sql_execute(env, "CREATE TABLE g (a INT) WITH (connector = 'datagen', 'number-of-rows' = '2');\n"
                                   "CREATE TABLE o (a INT) WITH (connector = 'blackhole');"),
               0);
  CHECK_EQ_INT(sl_sql_execute(env, "INSERT INTO o SELECT a FROM g"), 0);
  CHECK_EQ_INT(sl_sql_execute(env, "INSERT INTO o SELECT a FROM g"), -SL_EINVAL);
  CHECK_EQ_STR(sl_env_last_error(env), "this environment has run its job already: one environment runs one "
                                       "job (its INSERT statements together); use a new one");
  sl_env_free(env);
}

/* ---- windows ------------------------------------------------------------------- */

static const char *WIN_CSV =
    "2024-01-01 00:00:01,a,5,1.50\n"
    "2024-01-01 00:00:03,b,2,\n"
    "2024-01-01 00:00:07,a,-1,2.25\n"
    "2024-01-01 00:00:12,a,4,1.00\n"
    "2024-01-01 00:00:15,b,10,\n"
    "2024-01-01 00:00:21,a,1,3.00\n";

#define WIN_SRC                                                                                   \
  "CREATE TABLE t (ts TIMESTAMP, k VARCHAR, v INT, d DECIMAL(5, 2)) WITH (connector = "          \
  "'filesystem', path = '%1$s/win.csv', watermark = 'ts - INTERVAL ''2'' SECOND');\n"

static int same_sorted_text(const char *got, const char *want) {
  lines g = {0}, w = {0};
  lines_split_copy(&g, got, strlen(got));
  lines_split_copy(&w, want, strlen(want));
  int ok = same_lines(&w, &g, 0);
  if (!ok) fprintf(stderr, "  got:\n%s  want:\n%s", got, want);
  lines_free(&g), lines_free(&w);
  return ok;
}

/* TUMBLE with keys, WHERE, HAVING, every aggregate, NULLs, an expression
 * over aggregates.  After WHERE v <> 4 (drops 00:00:12):
 *   [0s, 10s) a: (5, 1.50) (-1, 2.25) -> 2 rows, 2 d, sum v 4, sum d 3.75,
 *             min d 1.50, max v 5, avg v 2, 4 * 10 + 2 = 42
 *   [0s, 10s) b: (2, NULL) -> 1, 0, 2, NULL, NULL, 2, 2, 21
 *   [10s, 20s) b: (10, NULL) -> 1, 0, 10, NULL, NULL, 10, 10, 101
 *   [20s, 30s) a: (1, 3.00) -> sum v 1: HAVING SUM(v) > 1 drops it */
static void window_tumble(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "win.csv"), WIN_CSV);
  for (int P = 1; P <= 2; P++) {
    int rc = run_sql(P, NULL, 0,
                     WIN_SRC
                     "CREATE TABLE o (ws TIMESTAMP, we TIMESTAMP, k VARCHAR, c BIGINT, cd BIGINT, sv BIGINT,\n"
                     "  sd DECIMAL(18, 2), mind DECIMAL(5, 2), maxv INT, av DOUBLE, e BIGINT)\n"
                     "  WITH (connector = 'filesystem', path = '%1$s/tumble%2$d.csv');\n"
                     "INSERT INTO o SELECT window_start, window_end, k, COUNT(*), COUNT(d), SUM(v), SUM(d),\n"
                     "  MIN(d), MAX(v), AVG(v), SUM(v) * 10 + COUNT(*) AS e\n"
                     "FROM TUMBLE(t, ts, INTERVAL '10' SECOND) WHERE v <> 4\n"
                     "GROUP BY window_start, window_end, k HAVING SUM(v) > 1",
                     g_tmp, P);
    CHECK_EQ_INT(rc, 0);
    char name[32];
    snprintf(name, sizeof name, "tumble%d.csv", P);
    char *o = slurp(name);
    CHECK(same_sorted_text(o, "2024-01-01 00:00:00,2024-01-01 00:00:10,a,2,2,4,3.75,1.50,5,2,42\n"
                              "2024-01-01 00:00:00,2024-01-01 00:00:10,b,1,0,2,,,2,2,21\n"
                              "2024-01-01 00:00:10,2024-01-01 00:00:20,b,1,0,10,,,10,10,101\n"));
    free(o);
  }
}

/* HOP size 10 s slide 5 s without keys: a row at t is in [s, s + 10) for
 * the multiples s of 5 with t - 10 < s <= t:
 *   1 -> [-5,5) [0,10)   3 -> [-5,5) [0,10)   7 -> [0,10) [5,15)
 *   12 -> [5,15) [10,20) 15 -> [10,20) [15,25) 21 -> [15,25) [20,30)
 * SESSION gap 7 s per key: a 1, 7, 12 merge into [1, 19); 21 -> [21, 28);
 * b 3 -> [3, 10); 15 -> [15, 22). */
static void window_hop_session(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "win.csv"), WIN_CSV);
  int rc = run_sql(1, NULL, 0,
                   WIN_SRC
                   "CREATE TABLE h (ws TIMESTAMP, we TIMESTAMP, c BIGINT, s BIGINT) WITH (connector = "
                   "'filesystem', path = '%1$s/hop.csv');\n"
                   "CREATE TABLE s (ws TIMESTAMP, we TIMESTAMP, k VARCHAR, c BIGINT, s BIGINT) WITH ("
                   "connector = 'filesystem', path = '%1$s/session.csv');\n"
                   "INSERT INTO h SELECT window_start, window_end, COUNT(*), SUM(v)\n"
                   "  FROM HOP(t, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) GROUP BY window_start, window_end;\n"
                   "INSERT INTO s SELECT window_start, window_end, k, COUNT(*), SUM(v)\n"
                   "  FROM SESSION(t, ts, INTERVAL '7' SECOND) GROUP BY window_end, k, window_start;",
                   g_tmp);
  CHECK_EQ_INT(rc, 0);
  char *h = slurp("hop.csv"), *se = slurp("session.csv");
  CHECK(same_sorted_text(h, "2023-12-31 23:59:55,2024-01-01 00:00:05,2,7\n"
                            "2024-01-01 00:00:00,2024-01-01 00:00:10,3,6\n"
                            "2024-01-01 00:00:05,2024-01-01 00:00:15,2,3\n"
                            "2024-01-01 00:00:10,2024-01-01 00:00:20,2,14\n"
                            "2024-01-01 00:00:15,2024-01-01 00:00:25,2,11\n"
                            "2024-01-01 00:00:20,2024-01-01 00:00:30,1,1\n"));
  CHECK(same_sorted_text(se, "2024-01-01 00:00:01,2024-01-01 00:00:19,a,3,8\n"
                             "2024-01-01 00:00:21,2024-01-01 00:00:28,a,1,1\n"
                             "2024-01-01 00:00:03,2024-01-01 00:00:10,b,1,2\n"
                             "2024-01-01 00:00:15,2024-01-01 00:00:22,b,1,10\n"));
  free(h), free(se);
}

/* COUNT(DISTINCT ...) and MIN/MAX of VARCHAR per window, worked out by
 * hand.  Rows (k, u, v, ts ms), watermark ts - 10:
 *   a x 1 @10 | a y 2 @20 | a x 3 @30 | b z 4 @40 | a x 5 @120 | b z 6 @130 | b w 7 @140
 * TUMBLE 100 by k: [0,100) a: u x,y,x -> 2 distinct, v % 2 1,0,1 -> 2,
 *   min x max y; b: z, 4 -> 1, 1, z z; [100,200) a: x -> 1, 1, x x;
 *   b: z, w; 6 % 2 = 0, 7 % 2 = 1 -> 2, 2, min w max z.
 * HOP 50/100, no key: [-50,50) and [0,100) hold @10..@40: 4 rows, u
 *   {x, y, z} 3, min x; [50,150) and [100,200) hold @120..@140: 3 rows,
 *   {x, z, w} 3, min w.
 * SESSION gap 50 by k: a @10,20,30 -> [10,80): 2, x, y; a @120 ->
 *   [120,170): 1, x, x; b @40 -> [40,90): 1, z, z; b @130,140 ->
 *   [130,190): 2, w, z. */
static void window_distinct(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "dist.csv"), "a,x,1,10\na,y,2,20\na,x,3,30\nb,z,4,40\na,x,5,120\nb,z,6,130\nb,w,7,140\n");
  static const char *const backends[] = {"hashmap", "rocksdb"};
#ifdef SLUICE_WITH_ROCKSDB
  const int n_backends = 2;
#else
  const int n_backends = 1; /* a build without RocksDB: the heap backend */
#endif
  for (int bk = 0; bk < n_backends; bk++)
    for (int P = 1; P <= 2; P++) {
      int rc = run_sql(P, NULL, 0,
                       "SET 'state.backend.type' = '%3$s';\n"
                       "SET 'state.backend.rocksdb.dir' = '%1$s/rdb%3$s%2$d';\n"
                       "CREATE TABLE ev (k VARCHAR, u VARCHAR, v BIGINT, ts BIGINT) WITH (connector = 'filesystem',\n"
                       "  path = '%1$s/dist.csv', watermark = 'ts - 10');\n"
                       "CREATE TABLE tu (ws BIGINT, we BIGINT, k VARCHAR, c BIGINT, du BIGINT, dv BIGINT, mn VARCHAR,\n"
                       "  mx VARCHAR) WITH (connector = 'filesystem', path = '%1$s/dt-%3$s%2$d.csv');\n"
                       "CREATE TABLE ho (ws BIGINT, we BIGINT, c BIGINT, du BIGINT, mn VARCHAR) WITH (\n"
                       "  connector = 'filesystem', path = '%1$s/dh-%3$s%2$d.csv');\n"
                       "CREATE TABLE se (ws BIGINT, we BIGINT, k VARCHAR, du BIGINT, mn VARCHAR, mx VARCHAR) WITH (\n"
                       "  connector = 'filesystem', path = '%1$s/ds-%3$s%2$d.csv');\n"
                       "INSERT INTO tu SELECT window_start, window_end, k, COUNT(*), COUNT(DISTINCT u),\n"
                       "  COUNT(DISTINCT v %% 2), MIN(u), MAX(u) FROM TUMBLE(ev, ts, 100) GROUP BY window_start, window_end, k;\n"
                       "INSERT INTO ho SELECT window_start, window_end, COUNT(*), COUNT(DISTINCT u), MIN(u)\n"
                       "  FROM HOP(ev, ts, 50, 100) GROUP BY window_start, window_end;\n"
                       "INSERT INTO se SELECT window_start, window_end, k, COUNT(DISTINCT u), MIN(u), MAX(u)\n"
                       "  FROM SESSION(ev, ts, 50) GROUP BY window_start, window_end, k",
                       g_tmp, P, backends[bk]);
      CHECK_EQ_INT(rc, 0);
      char name[3][64];
      snprintf(name[0], sizeof name[0], "dt-%s%d.csv", backends[bk], P);
      snprintf(name[1], sizeof name[1], "dh-%s%d.csv", backends[bk], P);
      snprintf(name[2], sizeof name[2], "ds-%s%d.csv", backends[bk], P);
      char *t = slurp(name[0]), *h = slurp(name[1]), *se = slurp(name[2]);
      CHECK(t && same_sorted_text(t, "0,100,a,3,2,2,x,y\n0,100,b,1,1,1,z,z\n100,200,a,1,1,1,x,x\n100,200,b,2,2,2,w,z\n"));
      CHECK(h && same_sorted_text(h, "-50,50,4,3,x\n0,100,4,3,x\n50,150,3,3,w\n100,200,3,3,w\n"));
      CHECK(se && same_sorted_text(se, "10,80,a,2,x,y\n120,170,a,1,x,x\n40,90,b,1,z,z\n130,190,b,2,w,z\n"));
      free(t), free(h), free(se);
    }
  expect_error("CREATE TABLE t (ts TIMESTAMP, v INT) WITH (connector = 'datagen', watermark = 'ts');\n"
               "SELECT window_start, window_end, SUM(DISTINCT v) FROM TUMBLE(t, ts, 1000) GROUP BY window_start, window_end;",
               "line 2, column 34: sum(DISTINCT ...) is not built yet (COUNT(DISTINCT ...) is)\n"
               "  SELECT window_start, window_end, SUM(DISTINCT v) FROM TUMBLE(t, ts, 1000) GROUP BY window_start, "
               "window_end;\n"
               "                                   ^");
}

static void window_errors(void) {
  char text[4096];
  const char *src = "CREATE TABLE t (ts TIMESTAMP, k VARCHAR, v INT) WITH (connector = 'datagen', "
                    "watermark = 'ts');\n";
  snprintf(text, sizeof text, "%sSELECT window_start, COUNT(*) FROM TUMBLE(t, ts, INTERVAL '1' SECOND) "
                              "GROUP BY window_start;", src);
  expect_error(text, "line 2, column 80: GROUP BY over a window table function needs both window_start "
                     "and window_end (grouping across windows would need updates/retractions)\n"
                     "  SELECT window_start, COUNT(*) FROM TUMBLE(t, ts, INTERVAL '1' SECOND) GROUP BY "
                     "window_start;\n"
                     "                                                                                 ^");
  snprintf(text, sizeof text, "%sSELECT window_start, window_end, v FROM TUMBLE(t, ts, 1000) "
                              "GROUP BY window_start, window_end;", src);
  expect_error(text, "line 2, column 34: column 'v' must appear in GROUP BY or be used in an aggregate\n"
                     "  SELECT window_start, window_end, v FROM TUMBLE(t, ts, 1000) GROUP BY window_start, "
                     "window_end;\n"
                     "                                   ^");
  expect_error("CREATE TABLE t (ts TIMESTAMP, v INT) WITH (connector = 'datagen');\n"
               "SELECT window_start, window_end, COUNT(*) FROM TUMBLE(t, ts, 1000) GROUP BY window_start, window_end;",
               "line 2, column 58: table 't' has no event time: declare it with WITH (watermark = 'ts - "
               "INTERVAL ''1'' SECOND')\n"
               "  SELECT window_start, window_end, COUNT(*) FROM TUMBLE(t, ts, 1000) GROUP BY "
               "window_start, window_end;\n"
               "                                                           ^");
  snprintf(text, sizeof text, "%sSELECT window_start, window_end, SUM(k) FROM TUMBLE(t, ts, 1000) "
                              "GROUP BY window_start, window_end;", src);
  expect_error(text, "line 2, column 38: sum() takes a number, not VARCHAR\n"
                     "  SELECT window_start, window_end, SUM(k) FROM TUMBLE(t, ts, 1000) GROUP BY "
                     "window_start, window_end;\n"
                     "                                       ^");
}

/* The nexmark table bid: its rows are the generator's bids, field by
 * field, in the order the generator emits them (P = 1), against the
 * events sl_nexmark_generate returns for positions 0 .. 999; of 1000
 * events (ids 2 .. 1001) 920 are bids (46 of every 50 ids). */
static void nexmark_bids(void) {
  int rc = run_sql(1, NULL, 0,
                   "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,\n"
                   "  date_time BIGINT) WITH (connector = 'nexmark', 'nexmark.events' = '1000',\n"
                   "  'nexmark.seed' = '3');\n"
                   "CREATE TABLE o (a BIGINT, b BIGINT, p BIGINT, c VARCHAR, d BIGINT)\n"
                   "  WITH (connector = 'filesystem', path = '%1$s/bids.csv');\n"
                   "INSERT INTO o SELECT * FROM bid",
                   g_tmp);
  CHECK_EQ_INT(rc, 0);
  sl_nexmark_config cfg;
  sl_nexmark_config_default(&cfg);
  cfg.events = 1000, cfg.seed = 3;
  char *want = calloc(1, 1 << 20);
  size_t at = 0;
  int bids = 0;
  for (uint64_t n = 0; n < 1000; n++) {
    static char ev[SL_NEXMARK_MAX_EVENT];
    int64_t ts;
    int len = sl_nexmark_generate(&cfg, n, ev, sizeof ev, &ts);
    sl_record r = {ts, NULL, 0, ev, (uint32_t)(len > 0 ? len : 0)};
    if (len <= 0 || sl_nexmark_type_of(&r) != SL_NEXMARK_BID) continue;
    sl_nexmark_bid b = {0};
    const char *tail = sl_nexmark_read(&r, &b, sizeof b);
    if (!tail) continue;
    size_t cl;
    const char *ch = sl_nexmark_str(&b.h, tail, SL_NEXMARK_CHANNEL, &cl);
    at += (size_t)snprintf(want + at, (1 << 20) - at, "%lld,%lld,%lld,%.*s,%lld\n", (long long)b.auction,
                           (long long)b.bidder, (long long)b.price, (int)cl, ch, (long long)b.date_time);
    bids++;
  }
  CHECK_EQ_INT(bids, 920);
  char *got = slurp("bids.csv");
  CHECK(!strcmp(got, want));
  free(got), free(want);
  /* a field the kind lacks */
  expect_error("CREATE TABLE person (id BIGINT, price BIGINT) WITH (connector = 'nexmark');",
               "line 1, column 14: nexmark table person has no field 'price' (fields: id, name, "
               "email_address, credit_card, city, state, date_time, extra)\n"
               "  CREATE TABLE person (id BIGINT, price BIGINT) WITH (connector = 'nexmark');\n"
               "               ^");
}

/* A window table function's rows, no GROUP BY: each row once per window
 * it falls in, with window_start and window_end.  HOP 10 s / 5 s: a row at
 * t is in the windows starting at the multiples s of 5 s with
 * t - 10 s < s <= t -- 00:00:01 in [-5 s, 5 s) and [0, 10 s), 00:00:12 in
 * [5 s, 15 s) and [10 s, 20 s), and 1969-12-31 23:59:58 (-2 s) in
 * [-10 s, 0) and [-5 s, 5 s).  WHERE sees the window columns. */
static void window_rows(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "rows.csv"), "2024-01-01 00:00:01,a,5\n2024-01-01 00:00:12,b,4\n"
                                             "1969-12-31 23:59:58,c,1\n");
  int rc = run_sql(1, NULL, 0,
                   "CREATE TABLE t (ts TIMESTAMP, k VARCHAR, v INT) WITH (connector = 'filesystem',\n"
                   "  path = '%1$s/rows.csv', watermark = 'ts - INTERVAL ''1'' HOUR');\n"
                   "CREATE TABLE h (k VARCHAR, ws TIMESTAMP, we TIMESTAMP) WITH (connector = 'filesystem',\n"
                   "  path = '%1$s/rows_hop.csv');\n"
                   "CREATE TABLE u (ts TIMESTAMP, k VARCHAR, v INT, ws TIMESTAMP, we TIMESTAMP)\n"
                   "  WITH (connector = 'filesystem', path = '%1$s/rows_tumble.csv');\n"
                   "INSERT INTO h SELECT k, window_start, window_end\n"
                   "  FROM HOP(t, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND);\n"
                   "INSERT INTO u SELECT * FROM TUMBLE(t, ts, INTERVAL '10' SECOND) AS w\n"
                   "  WHERE w.v > 1 AND window_end > '2024-01-01 00:00:10'",
                   g_tmp);
  CHECK_EQ_INT(rc, 0);
  char *h = slurp("rows_hop.csv"), *u = slurp("rows_tumble.csv");
  CHECK_EQ_STR(h, "a,2023-12-31 23:59:55,2024-01-01 00:00:05\n"
                  "a,2024-01-01 00:00:00,2024-01-01 00:00:10\n"
                  "b,2024-01-01 00:00:05,2024-01-01 00:00:15\n"
                  "b,2024-01-01 00:00:10,2024-01-01 00:00:20\n"
                  "c,1969-12-31 23:59:50,1970-01-01 00:00:00\n"
                  "c,1969-12-31 23:59:55,1970-01-01 00:00:05\n");
  CHECK_EQ_STR(u, "2024-01-01 00:00:12,b,4,2024-01-01 00:00:10,2024-01-01 00:00:20\n");
  free(h), free(u);
  expect_error("CREATE TABLE t (ts BIGINT) WITH (connector = 'datagen', watermark = 'ts');\n"
               "SELECT * FROM SESSION(t, ts, 10);",
               "line 2, column 15: SESSION windows need GROUP BY window_start, window_end, ... (a session "
               "is known only when it closes)\n"
               "  SELECT * FROM SESSION(t, ts, 10);\n"
               "                ^");
}

/* Window Top-N over TUMBLE 10 s (RANK: ties share a number; ROW_NUMBER
 * ascending), worked out by hand:
 *   [0, 10):  a 5, b 9, c 9, d 7, e 1  -> RANK DESC: b 1, c 1, d 3 (a 4, e 5)
 *                                        ROW_NUMBER ASC: e 1, a 2
 *   [10, 20): f 3, g 8, h 8, i 2       -> RANK DESC: g 1, h 1, f 3 (i 4)
 *                                        ROW_NUMBER ASC: i 1, f 2 */
static void window_top_n(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "topn.csv"),
             "2024-01-01 00:00:01,a,5\n2024-01-01 00:00:02,b,9\n2024-01-01 00:00:03,c,9\n"
             "2024-01-01 00:00:04,d,7\n2024-01-01 00:00:05,e,1\n2024-01-01 00:00:12,f,3\n"
             "2024-01-01 00:00:13,g,8\n2024-01-01 00:00:15,h,8\n2024-01-01 00:00:17,i,2\n");
  for (int P = 1; P <= 2; P++) {
    int rc = run_sql(P, NULL, 0,
                     "CREATE TABLE t (ts TIMESTAMP, k VARCHAR, v INT) WITH (connector = 'filesystem',\n"
                     "  path = '%1$s/topn.csv', watermark = 'ts - INTERVAL ''1'' SECOND');\n"
                     "CREATE TABLE r (k VARCHAR, v INT, rk BIGINT, ws TIMESTAMP) WITH (connector = "
                     "'filesystem', path = '%1$s/topn_rank%2$d.csv');\n"
                     "CREATE TABLE n (ws TIMESTAMP, k VARCHAR, rn BIGINT) WITH (connector = "
                     "'filesystem', path = '%1$s/topn_rn%2$d.csv');\n"
                     "INSERT INTO r SELECT k, v, rk, window_start FROM (\n"
                     "  SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY v DESC) AS rk\n"
                     "  FROM TUMBLE(t, ts, INTERVAL '10' SECOND)) x WHERE rk <= 3;\n"
                     "INSERT INTO n SELECT window_start, k, rn FROM (\n"
                     "  SELECT k, window_start, window_end, ROW_NUMBER() OVER (PARTITION BY window_end,\n"
                     "    window_start ORDER BY v) AS rn FROM TUMBLE(t, ts, INTERVAL '10' SECOND)) x\n"
                     "  WHERE rn < 3",
                     g_tmp, P);
    CHECK_EQ_INT(rc, 0);
    char name[2][32];
    snprintf(name[0], sizeof name[0], "topn_rank%d.csv", P);
    snprintf(name[1], sizeof name[1], "topn_rn%d.csv", P);
    char *r = slurp(name[0]), *n = slurp(name[1]);
    CHECK(same_sorted_text(r, "b,9,1,2024-01-01 00:00:00\nc,9,1,2024-01-01 00:00:00\n"
                              "d,7,3,2024-01-01 00:00:00\ng,8,1,2024-01-01 00:00:10\n"
                              "h,8,1,2024-01-01 00:00:10\nf,3,3,2024-01-01 00:00:10\n"));
    CHECK(same_sorted_text(n, "2024-01-01 00:00:00,e,1\n2024-01-01 00:00:00,a,2\n"
                              "2024-01-01 00:00:10,i,1\n2024-01-01 00:00:10,f,2\n"));
    free(r), free(n);
  }
  const char *src = "CREATE TABLE t (ts TIMESTAMP, v INT) WITH (connector = 'datagen', watermark = 'ts');\n";
  char text[2048];
  snprintf(text, sizeof text, "%sSELECT * FROM (SELECT v, ROW_NUMBER() OVER (PARTITION BY window_start, "
                              "window_end ORDER BY v) AS rn FROM TUMBLE(t, ts, 10)) x;", src);
  expect_error(text, "line 2, column 26: ROW_NUMBER() OVER needs WHERE rn <= N in the query around it (a "
                     "Top-N without a limit would keep every row of the window)\n"
                     "  SELECT * FROM (SELECT v, ROW_NUMBER() OVER (PARTITION BY window_start, window_end "
                     "ORDER BY v) AS rn FROM TUMBLE(t, ts, 10)) x;\n"
                     "                           ^");
  snprintf(text, sizeof text, "%sSELECT * FROM (SELECT v, RANK() OVER (PARTITION BY v ORDER BY ts) AS r "
                              "FROM t) x;", src);
  expect_error(text, "line 2, column 26: RANK() OVER needs WHERE r <= N in the query around it (a Top-N "
                     "without a limit would keep every row)\n"
                     "  SELECT * FROM (SELECT v, RANK() OVER (PARTITION BY v ORDER BY ts) AS r FROM t) x;\n"
                     "                           ^");
  snprintf(text, sizeof text, "%sSELECT * FROM (SELECT v, RANK() OVER (PARTITION BY v ORDER BY ts) AS r FROM "
                              "(SELECT v, MAX(ts) AS ts FROM t GROUP BY v) g) x WHERE r <= 1;", src);
  expect_error(text, "line 2, column 26: rank() OVER an updating input (a GROUP BY without a window, DISTINCT or "
                     "an outer join) is not built yet\n"
                     "  SELECT * FROM (SELECT v, RANK() OVER (PARTITION BY v ORDER BY ts) AS r FROM (SELECT v, "
                     "MAX(ts) AS ts FROM t GROUP BY v) g) x WHERE r <= 1;\n"
                     "                           ^");
}


/* Joins, worked out by hand.  orders (ts, cust, amt) and custs (ts, id, name):
 *   orders: 1 s cust 1 10 | 3 s cust 2 20 | 12 s cust 1 30 | 14 s cust 3 40
 *   custs:  2 s 1 ann | 11 s 2 bob | 13 s 3 cy | 4 s 1 ann2
 * regular join on cust = id: 10 ann, 10 ann2, 30 ann, 30 ann2, 20 bob,
 *   40 cy; with amt > 15 in ON as well: 30 ann, 30 ann2, 20 bob, 40 cy
 * window join (TUMBLE 10 s, same window): [0, 10) cust 1: 10 ann, 10 ann2
 *   (bob is in [10, 20), order 20 in [0, 10)); [10, 20): 40 cy.
 * interval join, o.ts BETWEEN c.ts - 2 s AND c.ts + 1 s: cust 1: order 1 s
 *   with ann 2 s (0 <= 1 <= 3) only; cust 2: 3 s not in [9, 12]; cust 3:
 *   14 s in [11, 14] (bounds included): 10 ann, 40 cy. */
static void joins(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "orders.csv"),
             "2024-01-01 00:00:01,1,10\n2024-01-01 00:00:03,2,20\n2024-01-01 00:00:12,1,30\n"
             "2024-01-01 00:00:14,3,40\n");
  write_text(tpath(p, sizeof p, "custs.csv"),
             "2024-01-01 00:00:02,1,ann\n2024-01-01 00:00:11,2,bob\n2024-01-01 00:00:13,3,cy\n"
             "2024-01-01 00:00:04,1,ann2\n");
  for (int P = 1; P <= 2; P++) {
    int rc = run_sql(P, NULL, 0,
                     "CREATE TABLE orders (ts TIMESTAMP, cust INT, amt INT) WITH (connector = 'filesystem',\n"
                     "  path = '%1$s/orders.csv', watermark = 'ts - INTERVAL ''1'' HOUR');\n"
                     "CREATE TABLE custs (ts TIMESTAMP, id BIGINT, name VARCHAR) WITH (connector = 'filesystem',\n"
                     "  path = '%1$s/custs.csv', watermark = 'ts - INTERVAL ''1'' HOUR');\n"
                     "CREATE TABLE j (amt INT, name VARCHAR) WITH (connector = 'filesystem', path = '%1$s/j%2$d.csv');\n"
                     "CREATE TABLE f (amt INT, name VARCHAR) WITH (connector = 'filesystem', path = '%1$s/f%2$d.csv');\n"
                     "CREATE TABLE w (amt INT, name VARCHAR, ws TIMESTAMP) WITH (connector = 'filesystem',\n"
                     "  path = '%1$s/w%2$d.csv');\n"
                     "CREATE TABLE i (amt INT, name VARCHAR) WITH (connector = 'filesystem', path = '%1$s/i%2$d.csv');\n"
                     "INSERT INTO i SELECT amt, name FROM orders o JOIN custs c\n"
                     "  ON o.cust = c.id AND o.ts BETWEEN c.ts - INTERVAL '2' SECOND AND c.ts + INTERVAL '1' SECOND;\n"
                     "INSERT INTO j SELECT o.amt, name FROM orders o JOIN custs AS c ON o.cust = c.id;\n"
                     "INSERT INTO f SELECT amt, c.name FROM orders o JOIN custs c ON c.id = o.cust AND amt > 15;\n"
                     "INSERT INTO w SELECT o.amt, c.name, c.window_start\n"
                     "  FROM TUMBLE(orders, ts, INTERVAL '10' SECOND) o JOIN TUMBLE(custs, ts, INTERVAL '10' SECOND) c\n"
                     "  ON o.cust = c.id AND o.window_start = c.window_start AND o.window_end = c.window_end",
                     g_tmp, P);
    CHECK_EQ_INT(rc, 0);
    char name[3][32];
    snprintf(name[0], sizeof name[0], "j%d.csv", P);
    snprintf(name[1], sizeof name[1], "f%d.csv", P);
    snprintf(name[2], sizeof name[2], "w%d.csv", P);
    char *j = slurp(name[0]), *f = slurp(name[1]), *w = slurp(name[2]);
    CHECK(same_sorted_text(j, "10,ann\n10,ann2\n30,ann\n30,ann2\n20,bob\n40,cy\n"));
    CHECK(same_sorted_text(f, "30,ann\n30,ann2\n20,bob\n40,cy\n"));
    CHECK(same_sorted_text(w, "10,ann,2024-01-01 00:00:00\n10,ann2,2024-01-01 00:00:00\n"
                              "40,cy,2024-01-01 00:00:10\n"));
    snprintf(name[0], sizeof name[0], "i%d.csv", P);
    char *iv = slurp(name[0]);
    CHECK(same_sorted_text(iv, "10,ann\n40,cy\n"));
    free(j), free(f), free(w), free(iv);
  }
  const char *src = "CREATE TABLE a (ts TIMESTAMP, k INT) WITH (connector = 'datagen', watermark = 'ts');\n"
                    "CREATE TABLE b (ts TIMESTAMP, k INT) WITH (connector = 'datagen', watermark = 'ts');\n";
  char text[2048];
  snprintf(text, sizeof text, "%sSELECT k FROM a JOIN b ON a.k = b.k;", src);
  expect_error(text, "line 3, column 8: column 'k' is ambiguous: both 'a' and 'b' have it (write table.k)\n"
                     "  SELECT k FROM a JOIN b ON a.k = b.k;\n"
                     "         ^");
  snprintf(text, sizeof text, "%sSELECT a.k FROM a JOIN b ON a.k < b.k;", src);
  expect_error(text, "line 3, column 33: a join needs an equality of a column of each side in ON (a join "
                     "without one would pair every row with every row)\n"
                     "  SELECT a.k FROM a JOIN b ON a.k < b.k;\n"
                     "                                  ^");
}

/* Processing-time windows: which window a row lands in depends on the
 * clock, the per-key totals over all windows do not: x has 3 rows, y 2. */
static void proctime_windows(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "proc.csv"), "2024-01-01 00:00:01,x,1\n2024-01-01 00:00:02,y,1\n"
                                             "2024-01-01 00:00:03,x,1\n2024-01-01 00:00:04,y,1\n"
                                             "2024-01-01 00:00:05,x,1\n");
  int rc = run_sql(2, NULL, 0,
                   "CREATE TABLE t (ts TIMESTAMP, k VARCHAR, v INT) WITH (connector = 'filesystem',\n"
                   "  path = '%1$s/proc.csv');\n"
                   "CREATE TABLE o (k VARCHAR, c BIGINT) WITH (connector = 'filesystem', path = '%1$s/proc_out.csv');\n"
                   "INSERT INTO o SELECT k, COUNT(*) FROM TUMBLE(t, PROCTIME(), INTERVAL '1' SECOND)\n"
                   "  GROUP BY k, window_start, window_end",
                   g_tmp);
  CHECK_EQ_INT(rc, 0);
  char *o = slurp("proc_out.csv");
  long x = 0, y = 0;
  for (char *line = o; *line;) {
    char k;
    long c;
    if (sscanf(line, "%c,%ld", &k, &c) == 2) {
      if (k == 'x') x += c;
      if (k == 'y') y += c;
    }
    char *nl = strchr(line, '\n');
    if (!nl) break;
    line = nl + 1;
  }
  CHECK_EQ_INT(x, 3);
  CHECK_EQ_INT(y, 2);
  free(o);
  expect_error("CREATE TABLE t (ts TIMESTAMP, v INT) WITH (connector = 'datagen');\n"
               "SELECT * FROM TUMBLE(t, PROCTIME(), 10);",
               "line 2, column 15: processing-time windows (PROCTIME()) need GROUP BY window_start, "
               "window_end, ...: a row's window is known only when it is processed\n"
               "  SELECT * FROM TUMBLE(t, PROCTIME(), 10);\n"
               "                ^");
}

/* A nexmark scan fills in only the columns the query reads (the rest
 * stay NULL, never copied); EXPLAIN names them: here the SELECT list's,
 * WHERE's, the join keys', and the event time.  Results: cli_nexmark_sql. */
static void nexmark_pruning(void) {
  char out[4096] = "";
  sl_env *env = env_p(1);
  sl_sql_set_output(env, capture, out);
  int rc = sl_sql_execute(env,
                          "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,\n"
                          "  url VARCHAR, date_time TIMESTAMP, extra VARCHAR) WITH (connector = 'nexmark',\n"
                          "  watermark = 'date_time - INTERVAL ''4'' SECOND');\n"
                          "CREATE TABLE person (id BIGINT, name VARCHAR, state VARCHAR, extra VARCHAR)\n"
                          "  WITH (connector = 'nexmark');\n"
                          "EXPLAIN SELECT price FROM bid WHERE auction % 123 = 0;\n"
                          "EXPLAIN SELECT p.name FROM bid b JOIN person p ON b.bidder = p.id;");
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_STR(out,
               "sink: print (a query's result)\n"
               "  encode: (row -> +I[...] text)\n"
               "    calc: select price AS price BIGINT where ((auction % 123) = 0)\n"
               "      watermarks: bid (event time date_time, bounded out-of-orderness 4000 ms)\n"
               "        decode: bid (nexmark events -> row of 7 columns; reads auction, price, date_time)\n"
               "          source: bid [connector=nexmark, watermark=date_time - INTERVAL '4' SECOND]\n"
               "sink: print (a query's result)\n"
               "  encode: (row -> +I[...] text)\n"
               "    calc: select name AS name VARCHAR\n"
               "      join (both sides kept in state for good) on b.bidder = p.id\n"
               "        watermarks: bid (event time date_time, bounded out-of-orderness 4000 ms)\n"
               "          decode: bid (nexmark events -> row of 7 columns; reads bidder, date_time)\n"
               "            source: bid [connector=nexmark, watermark=date_time - INTERVAL '4' SECOND]\n"
               "        decode: person (nexmark events -> row of 4 columns; reads id, name)\n"
               "          source: person [connector=nexmark]\n");
  sl_env_free(env);
}

/* table.exec.state.ttl on a regular join's state (the engine's state TTL,
 * processing time).  The state clock is replaced by one that moves 1 s on
 * every reading: with a TTL of 1 ms every kept row has expired when the
 * next row of the other side looks at it (no pair at all); with 1 day (or
 * 0, for good) nothing expires within the job: the 6 pairs of joins(). */
void sl__state_set_clock(int64_t (*clock_ms)(void)); /* state/state.h (its config.h types clash with row.h's) */
static _Atomic int64_t g_ttl_now = 1000000;
static int64_t jumping_clock(void) { return atomic_fetch_add(&g_ttl_now, 1000) + 1000; }

static void join_state_ttl(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "torders.csv"), "1,10\n2,20\n1,30\n3,40\n");
  write_text(tpath(p, sizeof p, "tcusts.csv"), "1,ann\n2,bob\n3,cy\n1,ann2\n");
  static const char *const ttls[] = {"1ms", "1d", "0"};
  static const char *const want[] = {"", "10,ann\n10,ann2\n30,ann\n30,ann2\n20,bob\n40,cy\n",
                                     "10,ann\n10,ann2\n30,ann\n30,ann2\n20,bob\n40,cy\n"};
  sl__state_set_clock(jumping_clock);
  for (int t = 0; t < 3; t++)
    for (int P = 1; P <= 2; P++) {
      int rc = run_sql(P, NULL, 0,
                       "SET 'table.exec.state.ttl' = '%3$s';\n"
                       "CREATE TABLE orders (cust INT, amt INT) WITH (connector = 'filesystem',\n"
                       "  path = '%1$s/torders.csv');\n"
                       "CREATE TABLE custs (id BIGINT, name VARCHAR) WITH (connector = 'filesystem',\n"
                       "  path = '%1$s/tcusts.csv');\n"
                       "CREATE TABLE j (amt INT, name VARCHAR) WITH (connector = 'filesystem', path = '%1$s/tj%4$d%2$d.csv');\n"
                       "INSERT INTO j SELECT o.amt, name FROM orders o JOIN custs AS c ON o.cust = c.id",
                       g_tmp, P, ttls[t], t);
      CHECK_EQ_INT(rc, 0);
      char name[32];
      snprintf(name, sizeof name, "tj%d%d.csv", t, P);
      char *j = slurp(name);
      CHECK(j != NULL);
      if (!same_sorted_text(j ? j : "", want[t])) fprintf(stderr, "ttl %s P=%d: got [%s]\n", ttls[t], P, j ? j : "(none)");
      CHECK(j && same_sorted_text(j, want[t]));
      free(j);
    }
  sl__state_set_clock(NULL);
  /* a bad value names the key */
  char msg[512];
  CHECK(run_sql(1, msg, sizeof msg, "SET 'table.exec.state.ttl' = 'soon'") != 0);
  CHECK_CONTAINS(msg, "table.exec.state.ttl");
}

/* ---- updating queries: changelogs ---------------------------------------------- */

/* The rows of the INSERT (sl_sql_set_sink), as Flink prints them, into a
 * file: "+I[a, 1]", "-U[...]", ... */
typedef struct cl_out {
  const sl__row_type *types;
  int n;
  const char *file;
  int changelog; /* what the sink callback was told */
} cl_out;

static int cl_text(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  const cl_out *o = ud;
  const uint8_t *v = in->value;
  if (!in->value_len || v[0] > 3 || sl__row_check(v + 1, in->value_len - 1, o->types, o->n))
    return sl_ctx_fail(ctx, "not a changelog row of the sink's columns");
  char *buf = sl_ctx_scratch(ctx, 512);
  if (!buf) return -SL_ENOMEM;
  size_t n = sl__row_to_print(v[0], v + 1, o->n, o->types, buf, 512);
  out->value = buf, out->value_len = (uint32_t)(n < 512 ? n : 512);
  return 0;
}

static int cl_sink(void *ud, const char *table, sl_stream *rows, int changelog) {
  cl_out *o = ud;
  char p[1024];
  o->changelog = changelog;
  return sl_sink_to(sl_map(rows, cl_text, o), sl_file_sink(tpath(p, sizeof p, o->file)));
}

static const char *g_backend; /* changes(): the state backend (NULL: the default) */

/* Runs the statements (%1$s: g_tmp) at parallelism P; the INSERT's
 * changes as text (malloc'ed), NULL when it failed or was not updating. */
static char *changes(int P, const sl__row_type *types, int n, const char *fmt_, ...) {
  char text[4096], p[1024];
  va_list ap;
  va_start(ap, fmt_);
  vsnprintf(text, sizeof text, fmt_, ap);
  va_end(ap);
  cl_out o = {types, n, "changes.txt", 0};
  unlink(tpath(p, sizeof p, o.file));
  sl_env *env = env_p(P);
  if (g_backend) CHECK_EQ_INT(sl_env_set(env, "state.backend.type", g_backend), 0);
  sl_sql_set_sink(env, cl_sink, &o);
  int rc = sl_sql_execute(env, text);
  if (rc) fprintf(stderr, "sl_sql_execute: %s\n", sl_env_last_error(env));
  sl_env_free(env);
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_INT(o.changelog, 1);
  return rc || !o.changelog ? NULL : slurp(o.file);
}

/* The table a changelog leaves: each +I / +U row in, each -U / -D row
 * out (one of the equal rows in), the rest sorted, one per line; a
 * retraction of a row that is not there adds "(retracted, not there)". */
static char *table_of(const char *changelog) {
  lines l = {0};
  lines_split_copy(&l, changelog ? changelog : "", changelog ? strlen(changelog) : 0);
  char **rows = calloc(l.n + 1, sizeof *rows);
  size_t n = 0, len = 1;
  for (size_t i = 0; rows && i < l.n; i++) {
    const char *r = l.v[i];
    if (r[0] == '+') {
      rows[n++] = strdup(r + 2);
      continue;
    }
    size_t j = 0;
    while (j < n && strcmp(rows[j], r + 2)) j++;
    if (j == n) { /* a retraction of a row not there: a broken changelog */
      rows[n++] = strdup("(retracted, not there) ");
      rows[n - 1][strlen(rows[n - 1]) - 1] = 0;
      continue;
    }
    free(rows[j]);
    rows[j] = rows[--n];
  }
  qsort(rows, n, sizeof *rows, cmp_str);
  for (size_t i = 0; i < n; i++) len += strlen(rows[i]) + 1;
  char *out = calloc(1, len);
  for (size_t i = 0; out && i < n; i++) strcat(strcat(out, rows[i]), "\n");
  for (size_t i = 0; i < n; i++) free(rows[i]);
  free(rows);
  lines_free(&l);
  return out;
}

#define GRP_SRC "CREATE TABLE t (k VARCHAR, v INT) WITH (connector = 'filesystem', path = '%1$s/grp.csv');\n"

/* GROUP BY without a window, DISTINCT, an aggregate of every row, HAVING and
 * an aggregate over an aggregate, on
 *   a,1  b,5  a,3  b,NULL  a,-4
 * Each row changes its group, worked out by hand (Flink's GroupAggFunction:
 * +I for a new group, -U old and +U new for a changed result, nothing when
 * it did not change, -D when the group's last row is retracted). */
static void group_by_changelog(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "grp.csv"), "a,1\nb,5\na,3\nb,\na,-4\n");
  sl__row_type all[7] = {TV, TB, TB, TB, TI, TI, TD};
  for (int P = 1; P <= 2; P++) { /* one reader: the same order at P=2 */
    char *c = changes(P, all, 7, GRP_SRC
                      "CREATE TABLE o (k VARCHAR, n BIGINT, c BIGINT, s BIGINT, mn INT, mx INT, av DOUBLE)\n"
                      "  WITH (connector = 'blackhole');\n"
                      "INSERT INTO o SELECT k, COUNT(*), COUNT(v), SUM(v), MIN(v), MAX(v), AVG(v) FROM t GROUP BY k", g_tmp);
    const char *want = "+I[a, 1, 1, 1, 1, 1, 1]\n"
                       "+I[b, 1, 1, 5, 5, 5, 5]\n"
                       "-U[a, 1, 1, 1, 1, 1, 1]\n"
                       "+U[a, 2, 2, 4, 1, 3, 2]\n"
                       "-U[b, 1, 1, 5, 5, 5, 5]\n"
                       "+U[b, 2, 1, 5, 5, 5, 5]\n"
                       "-U[a, 2, 2, 4, 1, 3, 2]\n"
                       "+U[a, 3, 3, 0, -4, 3, 0]\n";
    if (P == 1) CHECK_EQ_STR(c, want);
    else CHECK(same_sorted_text(c, want)); /* each group's changes in order; groups on two subtasks */
    free(c);
  }
  sl__row_type two[2] = {TB, TB};
  char *c = changes(1, two, 2, GRP_SRC "CREATE TABLE o (cnt BIGINT, n BIGINT) WITH (connector = 'print');\n"
                    "INSERT INTO o SELECT cnt, COUNT(*) FROM (SELECT k, COUNT(*) AS cnt FROM t GROUP BY k) x GROUP BY cnt", g_tmp);
  /* the inner changes +I[a,1] +I[b,1] -U[a,1] +U[a,2] -U[b,1] +U[b,2] -U[a,2] +U[a,3], counted per cnt */
  CHECK_EQ_STR(c, "+I[1, 1]\n-U[1, 1]\n+U[1, 2]\n-U[1, 2]\n+U[1, 1]\n+I[2, 1]\n-D[1, 1]\n"
                  "-U[2, 1]\n+U[2, 2]\n-U[2, 2]\n+U[2, 1]\n+I[3, 1]\n");
  char *tab = table_of(c);
  CHECK_EQ_STR(tab, "[2, 1]\n[3, 1]\n");
  free(c), free(tab);
  sl__row_type one[1] = {TV};
  c = changes(1, one, 1, GRP_SRC "CREATE TABLE o (k VARCHAR) WITH (connector = 'blackhole');\n"
              "INSERT INTO o SELECT DISTINCT k FROM t", g_tmp);
  CHECK_EQ_STR(c, "+I[a]\n+I[b]\n");
  free(c);
  c = changes(1, two, 2, GRP_SRC "CREATE TABLE o (n BIGINT, s BIGINT) WITH (connector = 'blackhole');\n"
              "INSERT INTO o SELECT COUNT(*), SUM(v) FROM t", g_tmp);
  CHECK_EQ_STR(c, "+I[1, 1]\n-U[1, 1]\n+U[2, 6]\n-U[2, 6]\n+U[3, 9]\n-U[3, 9]\n+U[4, 9]\n-U[4, 9]\n+U[5, 5]\n");
  free(c);
  /* HAVING filters each change: a's -U of 1 and +U of 0 fail it */
  sl__row_type ks[2] = {TV, TB};
  c = changes(1, ks, 2, GRP_SRC "CREATE TABLE o (k VARCHAR, s BIGINT) WITH (connector = 'blackhole');\n"
              "INSERT INTO o SELECT k, SUM(v) FROM t GROUP BY k HAVING SUM(v) > 2", g_tmp);
  CHECK_EQ_STR(c, "+I[b, 5]\n+U[a, 4]\n-U[a, 4]\n");
  free(c);
  /* MIN / MAX over an updating input (the counts per key above, each value
   * counted in map state): a retracted best is found again among the rest;
   * values per change: {1} {1,1} {1} {1,2} {2} {2,2} {2} {2,3} */
  for (int b = 0; b < N_BACKENDS; b++) { /* map state on each backend */
    g_backend = g_backends[b];
    c = changes(1, two, 2, GRP_SRC "CREATE TABLE o (mx BIGINT, mn BIGINT) WITH (connector = 'blackhole');\n"
                "INSERT INTO o SELECT MAX(n), MIN(n) FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) x", g_tmp);
    CHECK_EQ_STR(c, "+I[1, 1]\n-U[1, 1]\n+U[2, 1]\n-U[2, 1]\n+U[2, 2]\n-U[2, 2]\n+U[3, 2]\n");
    free(c);
  }
  /* MIN / MAX of VARCHAR: the best string in the group's state; the
   * strings of v per a: "1" "3" "-4" ('-' sorts before the digits), b's
   * NULL counts nothing (the result does not change: no output) */
  sl__row_type kss[3] = {TV, TV, TV}, ssn[3] = {TV, TV, TB};
  c = changes(1, kss, 3, GRP_SRC "CREATE TABLE o (k VARCHAR, lo VARCHAR, hi VARCHAR) WITH (connector = 'blackhole');\n"
              "INSERT INTO o SELECT k, MIN(CAST(v AS VARCHAR)), MAX(CAST(v AS VARCHAR)) FROM t GROUP BY k", g_tmp);
  CHECK_EQ_STR(c, "+I[a, 1, 1]\n+I[b, 5, 5]\n-U[a, 1, 1]\n+U[a, 1, 3]\n-U[a, 1, 3]\n+U[a, -4, 3]\n");
  free(c);
  /* ... over an updating input, each string counted in map state: the
   * keys whose count is below 3 come and go as +a +b -a +a -b +b -a (the
   * inner changes above, filtered per change), so a retracted best is
   * found again among the rest */
  for (int b = 0; b < N_BACKENDS; b++) {
    g_backend = g_backends[b];
    c = changes(1, ssn, 3, GRP_SRC "CREATE TABLE o (lo VARCHAR, hi VARCHAR, n BIGINT) WITH (connector = 'blackhole');\n"
                "INSERT INTO o SELECT MIN(k), MAX(k), COUNT(*) FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) x "
                "WHERE n < 3", g_tmp);
    CHECK_EQ_STR(c, "+I[a, a, 1]\n-U[a, a, 1]\n+U[a, b, 2]\n-U[a, b, 2]\n+U[b, b, 1]\n-U[b, b, 1]\n+U[a, b, 2]\n"
                    "-U[a, b, 2]\n+U[a, a, 1]\n-U[a, a, 1]\n+U[a, b, 2]\n-U[a, b, 2]\n+U[b, b, 1]\n");
    free(c);
  }
  g_backend = NULL;
  sl__row_type cnt1[1] = {TB};
  c = changes(1, cnt1, 1, GRP_SRC "CREATE TABLE o (d BIGINT) WITH (connector = 'blackhole');\n"
              "INSERT INTO o SELECT COUNT(DISTINCT n) FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) x", g_tmp);
  CHECK_EQ_STR(c, "+I[1]\n-U[1]\n+U[2]\n-U[2]\n+U[1]\n-U[1]\n+U[2]\n");
  free(c);
  /* COUNT(DISTINCT) without a window, NULLs not counted: a,1 a,1 a,2 b,NULL a,1 */
  write_text(tpath(p, sizeof p, "grp2.csv"), "a,1\na,1\na,2\nb,\na,1\n");
  sl__row_type kdn[3] = {TV, TB, TB};
  c = changes(2, kdn, 3, "CREATE TABLE t (k VARCHAR, v INT) WITH (connector = 'filesystem', path = '%1$s/grp2.csv');\n"
              "CREATE TABLE o (k VARCHAR, d BIGINT, n BIGINT) WITH (connector = 'blackhole');\n"
              "INSERT INTO o SELECT k, COUNT(DISTINCT v), COUNT(*) FROM t GROUP BY k", g_tmp);
  CHECK(same_sorted_text(c, "+I[a, 1, 1]\n-U[a, 1, 1]\n+U[a, 1, 2]\n-U[a, 1, 2]\n+U[a, 2, 3]\n+I[b, 0, 1]\n"
                            "-U[a, 2, 3]\n+U[a, 2, 4]\n"));
  free(c);
}

/* Nexmark q4's shape: an aggregate over an aggregate over a comma join.
 * Auction 1 (category 10): bids 5, 7, 6 -> 7; auction 2 (10): 4, 8 -> 8;
 * auction 3 (20): 9.  Category 10: (7 + 8) / 2 = 7, 20: 9.  The changes
 * depend on which file is read first; the table they leave does not. */
static void aggregate_of_join(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "auc.csv"), "1,10\n2,10\n3,20\n");
  write_text(tpath(p, sizeof p, "bids.csv"), "1,5\n1,7\n2,4\n3,9\n1,6\n2,8\n");
  sl__row_type two[2] = {TB, TB};
  for (int P = 1; P <= 2; P++) {
    char *c = changes(P, two, 2,
                      "CREATE TABLE auction (id BIGINT, category BIGINT) WITH (connector = 'filesystem', path = '%1$s/auc.csv');\n"
                      "CREATE TABLE bid (auction BIGINT, price BIGINT) WITH (connector = 'filesystem', path = '%1$s/bids.csv');\n"
                      "CREATE TABLE o (id BIGINT, final BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH (connector = 'blackhole');\n"
                      "INSERT INTO o SELECT Q.category, SUM(Q.final) / COUNT(*)\n"
                      "FROM (SELECT MAX(B.price) AS final, A.category FROM auction A, bid B\n"
                      "      WHERE A.id = B.auction GROUP BY A.id, A.category) Q\n"
                      "GROUP BY Q.category", g_tmp);
    char *tab = table_of(c);
    CHECK_EQ_STR(tab, "[10, 7]\n[20, 9]\n");
    free(c), free(tab);
  }
}

/* LEFT / RIGHT / FULL joins of l (1,a 2,b 3,c) and r (1,p 1,q 4,z):
 * unmatched rows NULL-padded, retracted (-D) when a partner arrives, so
 * whichever file is read first the table at the end is the join's. */
static void outer_joins(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "ol.csv"), "1,a\n2,b\n3,c\n");
  write_text(tpath(p, sizeof p, "or.csv"), "1,p\n1,q\n4,z\n");
  static const struct {
    const char *join, *want;
  } cases[] = {
      {"l LEFT JOIN r ON l.id = r.id", "[1, a, 1, p]\n[1, a, 1, q]\n[2, b, null, null]\n[3, c, null, null]\n"},
      {"l RIGHT OUTER JOIN r ON l.id = r.id", "[1, a, 1, p]\n[1, a, 1, q]\n[null, null, 4, z]\n"},
      {"l FULL JOIN r ON l.id = r.id",
       "[1, a, 1, p]\n[1, a, 1, q]\n[2, b, null, null]\n[3, c, null, null]\n[null, null, 4, z]\n"},
      /* ON's other conditions decide a match: a failing pair leaves the row unmatched */
      {"l LEFT JOIN r ON l.id = r.id AND r.y <> 'q'", "[1, a, 1, p]\n[2, b, null, null]\n[3, c, null, null]\n"},
      {"l FULL JOIN r ON l.id = r.id AND r.y = 'none'",
       "[1, a, null, null]\n[2, b, null, null]\n[3, c, null, null]\n[null, null, 1, p]\n[null, null, 1, q]\n"
       "[null, null, 4, z]\n"},
  };
  sl__row_type four[4] = {TB, TV, TB, TV};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (int P = 1; P <= 2; P++) {
      char *c = changes(P, four, 4,
                        "CREATE TABLE l (id BIGINT, x VARCHAR) WITH (connector = 'filesystem', path = '%1$s/ol.csv');\n"
                        "CREATE TABLE r (id BIGINT, y VARCHAR) WITH (connector = 'filesystem', path = '%1$s/or.csv');\n"
                        "CREATE TABLE o (a BIGINT, x VARCHAR, b BIGINT, y VARCHAR) WITH (connector = 'blackhole');\n"
                        "INSERT INTO o SELECT l.id, x, r.id, y FROM %2$s", g_tmp, cases[i].join);
      char *tab = table_of(c);
      if (strcmp(tab ? tab : "", cases[i].want)) fprintf(stderr, "  %s at P=%d: changes\n%s", cases[i].join, P, c);
      CHECK_EQ_STR(tab, cases[i].want);
      free(c), free(tab);
    }
  /* a count over a LEFT JOIN: the -D of a padded row retracts from its group */
  sl__row_type two[2] = {TV, TB};
  char *c = changes(1, two, 2,
                    "CREATE TABLE l (id BIGINT, x VARCHAR) WITH (connector = 'filesystem', path = '%1$s/ol.csv');\n"
                    "CREATE TABLE r (id BIGINT, y VARCHAR) WITH (connector = 'filesystem', path = '%1$s/or.csv');\n"
                    "CREATE TABLE o (x VARCHAR, n BIGINT) WITH (connector = 'blackhole');\n"
                    "INSERT INTO o SELECT x, COUNT(y) FROM l LEFT JOIN r ON l.id = r.id GROUP BY x", g_tmp);
  char *tab = table_of(c);
  CHECK_EQ_STR(tab, "[a, 2]\n[b, 0]\n[c, 0]\n");
  free(c), free(tab);
}

/* An inner join of an updating input (the counts per key of grp.csv:
 * a 1 -> 2 -> 3, b 1 -> 2) with r (a,p b,q c,z): each change of a count
 * retracts its old pairs (-U) and adds the new ones (+U); outer joins of
 * it (+I / -D, NULL-padded rows coming and going with their partners).
 * The tables the changelogs leave were worked out by hand. */
static void join_of_updating_input(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "grp.csv"), "a,1\nb,5\na,3\nb,\na,-4\n");
  write_text(tpath(p, sizeof p, "jr.csv"), "a,p\nb,q\nc,z\n");
  static const struct {
    const char *q, *want;
    int n;
  } cases[] = {
      {"SELECT x.k, x.n, r.y FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) x JOIN r ON x.k = r.k",
       "[a, 3, p]\n[b, 2, q]\n", 3},
      {"SELECT x.k, x.n, r.y FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) x JOIN r ON x.k = r.k AND x.n > 2",
       "[a, 3, p]\n", 3},
      {"SELECT y, SUM(n) FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) x, r WHERE x.k = r.k GROUP BY y",
       "[p, 3]\n[q, 2]\n", 2},
      /* outer joins of it: the counts keep their partners; z has none */
      {"SELECT x.k, x.n, r.y FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) x FULL JOIN r ON x.k = r.k",
       "[a, 3, p]\n[b, 2, q]\n[null, null, z]\n", 3},
      /* a's count passes 2 and leaves the input (-U of 2, its +U of 3
       * filtered): p's last partner is retracted, p NULL-padded again */
      {"SELECT x.k, x.n, r.y FROM (SELECT k, n FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) g WHERE n < 3) x "
       "RIGHT JOIN r ON x.k = r.k",
       "[b, 2, q]\n[null, null, p]\n[null, null, z]\n", 3},
      /* ON beyond the equality, per pair: b's count 2 matches nothing */
      {"SELECT x.k, x.n, r.y FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) x LEFT JOIN r ON x.k = r.k AND x.n > 2",
       "[a, 3, p]\n[b, 2, null]\n", 3},
  };
  sl__row_type three[3] = {TV, TB, TV}, two[2] = {TV, TB};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (int P = 1; P <= 2; P++) {
      char *c = changes(P, cases[i].n == 3 ? three : two, cases[i].n,
                        GRP_SRC "CREATE TABLE r (k VARCHAR, y VARCHAR) WITH (connector = 'filesystem', path = '%1$s/jr.csv');\n"
                        "CREATE TABLE o (a VARCHAR, n BIGINT%3$s) WITH (connector = 'blackhole');\n"
                        "INSERT INTO o %2$s", g_tmp, cases[i].q, cases[i].n == 3 ? ", y VARCHAR" : "");
      char *tab = table_of(c);
      if (strcmp(tab ? tab : "", cases[i].want)) fprintf(stderr, "  %s at P=%d: changes\n%s", cases[i].q, P, c);
      CHECK_EQ_STR(tab, cases[i].want);
      free(c), free(tab);
    }
}

static void changelog_errors(void) {
  const char *j = "CREATE TABLE a (k INT, v INT) WITH (connector = 'datagen');\n"
                  "CREATE TABLE b (k INT, v INT) WITH (connector = 'datagen');\n";
  char text[2048];
  snprintf(text, sizeof text, "%sCREATE TABLE f (k INT, n BIGINT) WITH (connector = 'filesystem', path = '/tmp/f');\n"
                              "INSERT INTO f SELECT k, COUNT(*) FROM a GROUP BY k;", j);
  expect_error(text, "line 4, column 13: table 'f' (connector filesystem) takes inserts only, and the query's "
                     "result is updating (a GROUP BY without a window, DISTINCT or an outer join: its rows change as input "
                     "arrives): write it to a print, blackhole, postgres or upsert-kafka table (with a PRIMARY "
                     "KEY) or as change events (format = 'debezium-json'), or aggregate per window (TUMBLE, "
                     "HOP, SESSION) for rows that are final\n"
                     "  INSERT INTO f SELECT k, COUNT(*) FROM a GROUP BY k;\n"
                     "              ^");
  snprintf(text, sizeof text, "%sCREATE TABLE g (k INT, n BIGINT) WITH (connector = 'postgres', url = "
                              "'postgresql://x/y', 'table-name' = 'g');\n"
                              "INSERT INTO g SELECT k, COUNT(*) FROM a GROUP BY k;", j);
  expect_error(text, "line 4, column 13: table 'g' takes an updating result (a GROUP BY without a window, "
                     "DISTINCT or an outer join: its rows change as input arrives): declare its PRIMARY KEY (the columns the "
                     "result is grouped by) NOT ENFORCED, so that each row is upserted by its key and deleted "
                     "by it on a retraction\n"
                     "  INSERT INTO g SELECT k, COUNT(*) FROM a GROUP BY k;\n"
                     "              ^");
  snprintf(text, sizeof text, "%sSELECT k FROM a WHERE COUNT(*) > 1;", j);
  expect_error(text, "line 3, column 23: aggregate count() is not allowed here (an aggregate belongs in the "
                     "SELECT list or HAVING, not in WHERE, ON, GROUP BY or another aggregate)\n"
                     "  SELECT k FROM a WHERE COUNT(*) > 1;\n"
                     "                        ^");
  snprintf(text, sizeof text, "%sSELECT a.k FROM a, b;", j);
  expect_error(text, "line 3, column 20: FROM a, b needs WHERE with an equality of a column of each (a join "
                     "without one would pair every row with every row)\n"
                     "  SELECT a.k FROM a, b;\n"
                     "                     ^");
  expect_error("CREATE TABLE t (a INT, PRIMARY KEY (b) NOT ENFORCED) WITH (connector = 'blackhole');",
               "line 1, column 24: PRIMARY KEY names column 'b', which table 't' does not have\n"
               "  CREATE TABLE t (a INT, PRIMARY KEY (b) NOT ENFORCED) WITH (connector = 'blackhole');\n"
               "                         ^");
  snprintf(text, sizeof text, "%sSELECT DISTINCT ON (k) k FROM a;", j);
  expect_error(text, "line 3, column 21: DISTINCT ON is not built (SELECT DISTINCT is)\n"
                     "  SELECT DISTINCT ON (k) k FROM a;\n"
                     "                      ^");
}

/* upsert-kafka: a table with a PRIMARY KEY whose messages are keyed by it,
 * written and read (cli_sql_connectors.sh runs them against the mock
 * cluster); here EXPLAIN and the errors. */
#define UK_SRC "CREATE TABLE t (k VARCHAR, v BIGINT) WITH (connector = 'datagen');\n"
#define UK_OPTS "connector = 'upsert-kafka', topic = 'u', 'properties.bootstrap.servers' = 'h:1'"

static void upsert_kafka(void) {
  char out[4096] = "";
  sl_env *env = env_p(1);
  sl_sql_set_output(env, capture, out);
  int rc = sl_sql_execute(env, UK_SRC
                          "CREATE TABLE u (n BIGINT, k VARCHAR, c BIGINT, PRIMARY KEY (k, n) NOT ENFORCED) WITH ("
                          UK_OPTS ", 'key.format' = 'json', 'value.format' = 'csv');\n"
                          "EXPLAIN INSERT INTO u SELECT MAX(v), k, COUNT(*) FROM t GROUP BY k;\n"
                          "EXPLAIN INSERT INTO u SELECT v, k, v FROM t;");
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  %s\n", sl_env_last_error(env));
  CHECK_EQ_STR(out,
               "sink: u [connector=upsert-kafka, topic=u, properties.bootstrap.servers=h:1, key.format=json, "
               "value.format=csv]\n"
               "  encode: u (row -> key: k, n in json, value: row in csv; -U skipped, -D as a tombstone)\n"
               "  upsert materializer: the rows now in the result per primary key (its changes do not come "
               "by that key)\n"
               "    calc: select agg$0 AS n BIGINT, k AS k VARCHAR, agg$1 AS c BIGINT\n"
               "      group aggregate (updates its rows: +I, -U, +U, -D), key [k], aggregates [MAX(agg$0), "
               "COUNT(*)]\n"
               "        source: t [connector=datagen]\n"
               "sink: u [connector=upsert-kafka, topic=u, properties.bootstrap.servers=h:1, key.format=json, "
               "value.format=csv]\n"
               "  encode: u (row -> key: k, n in json, value: row in csv; -U skipped, -D as a tombstone)\n"
               "    calc: select v AS n BIGINT, k AS k VARCHAR, v AS c BIGINT\n"
               "      source: t [connector=datagen]\n");
  sl_env_free(env);
  expect_error("CREATE TABLE u (k VARCHAR, n BIGINT)\n"
               "  WITH (" UK_OPTS ", 'key.format' = 'csv', 'value.format' = 'csv');",
               "line 1, column 14: table 'u' (connector upsert-kafka) needs PRIMARY KEY (columns) NOT ENFORCED: "
               "each message's key is the row's primary key, and the topic keeps the last value per key\n"
               "  CREATE TABLE u (k VARCHAR, n BIGINT)\n"
               "               ^");
  expect_error("CREATE TABLE u (k VARCHAR, PRIMARY KEY (k) NOT ENFORCED) WITH (" UK_OPTS ",\n"
               "  'key.format' = 'avro', 'value.format' = 'csv');",
               "line 2, column 3: unknown key.format 'avro' (formats: csv, json)\n"
               "    'key.format' = 'avro', 'value.format' = 'csv');\n"
               "    ^");
  expect_error("CREATE TABLE u (k VARCHAR, PRIMARY KEY (k) NOT ENFORCED) WITH (" UK_OPTS ",\n"
               "  'key.format' = 'csv', 'value.format' = 'xml');",
               "line 2, column 25: unknown value.format 'xml' (formats: csv, json)\n"
               "    'key.format' = 'csv', 'value.format' = 'xml');\n"
               "                          ^");
  expect_error("CREATE TABLE u (k VARCHAR, PRIMARY KEY (k) NOT ENFORCED)\n"
               "  WITH (" UK_OPTS ", 'key.format' = 'csv');",
               "line 1, column 14: table 'u' (connector upsert-kafka) needs 'value.format' = 'csv' or 'json' "
               "(the row's form in each message's value)\n"
               "  CREATE TABLE u (k VARCHAR, PRIMARY KEY (k) NOT ENFORCED)\n"
               "               ^");
  expect_error("CREATE TABLE u (k VARCHAR, PRIMARY KEY (k) NOT ENFORCED) WITH (" UK_OPTS ",\n"
               "  format = 'csv', 'key.format' = 'csv', 'value.format' = 'csv');",
               "line 2, column 3: an upsert-kafka table has 'key.format' and 'value.format' (csv or json), not "
               "'format'\n"
               "    format = 'csv', 'key.format' = 'csv', 'value.format' = 'csv');\n"
               "    ^");
  /* read: the topic's messages as upserts and tombstones, normalized per
   * primary key into a changelog; a sink keyed by that key takes it as it
   * is (no materializer, a -U skipped: the key cannot change) */
  out[0] = 0;
  env = env_p(1);
  sl_sql_set_output(env, capture, out);
  rc = sl_sql_execute(env, "CREATE TABLE u (k VARCHAR, n BIGINT, ts BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ("
                      UK_OPTS ", 'key.format' = 'json', 'value.format' = 'csv', watermark = 'ts');\n"
                      "CREATE TABLE g (k VARCHAR, n BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH "
                      "(connector = 'postgres', url = 'postgresql://x/y', 'table-name' = 'g');\n"
                      "EXPLAIN INSERT INTO g SELECT k, n FROM u WHERE n > 1;");
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  %s\n", sl_env_last_error(env));
  CHECK_EQ_STR(out,
               "sink: g [connector=postgres, url=postgresql://x/y, table-name=g]\n"
               "  encode: g (row -> the change kind and csv: upserted and deleted by the primary key)\n"
               "    calc: select k AS k VARCHAR, n AS n BIGINT where (n > 1)\n"
               "      watermarks: u (event time ts, bounded out-of-orderness 0 ms)\n"
               "        changelog normalize: u (the row now per primary key [k]: an upsert -> +I or -U, +U; a "
               "tombstone -> -D)\n"
               "          source: u [connector=upsert-kafka, topic=u, properties.bootstrap.servers=h:1, "
               "key.format=json, value.format=csv, watermark=ts] (upserts: key in json, value: row in csv)\n");
  sl_env_free(env);
#define UK_READ "CREATE TABLE u (k VARCHAR, ts BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH (" UK_OPTS \
                ", 'key.format' = 'csv', 'value.format' = 'csv', watermark = 'ts');\n"
  expect_error(UK_READ "SELECT window_start, COUNT(*) FROM TUMBLE(u, ts, 10) GROUP BY window_start, window_end;",
               "line 2, column 43: TUMBLE/HOP/SESSION over an updating table (an upsert-kafka table: 'u' holds "
               "the last row per key, updated and deleted) is not built: aggregate it without a window (GROUP "
               "BY), or read the topic's messages as rows (connector 'kafka')\n"
               "  SELECT window_start, COUNT(*) FROM TUMBLE(u, ts, 10) GROUP BY window_start, window_end;\n"
               "                                            ^");
  expect_error(UK_READ "CREATE TABLE f (k VARCHAR) WITH (connector = 'filesystem', path = '/tmp/f');\n"
                       "INSERT INTO f SELECT k FROM u;",
               "line 3, column 13: table 'f' (connector filesystem) takes inserts only, and the query's result "
               "is updating (the rows of upsert-kafka table 'u', which are updated and deleted): write it to a "
               "print, blackhole, postgres or upsert-kafka table (with a PRIMARY KEY) or as change events (format = "
               "'debezium-json'), or read the topic's messages as rows (connector 'kafka')\n"
               "  INSERT INTO f SELECT k FROM u;\n"
               "              ^");
}

/* table.exec.mini-batch.enabled: a GROUP BY folds the rows of a key in
 * each run it is handed and emits once per key and run.  On 1000 rows of
 * two keys the changelog is shorter than row by row, and both leave the
 * table computed here; a count of counts over it (retractions of an
 * updating input, batched too) at P=2 leaves its table as well. */
static void mini_batch(void) {
  char p[1024], want[256], want2[256];
  FILE *f = fopen(tpath(p, sizeof p, "mb.csv"), "w");
  long sum[2] = {0, 0};
  for (int i = 0; f && i < 1000; i++) {
    fprintf(f, "k%d,%d\n", i % 2, i % 7);
    sum[i % 2] += i % 7;
  }
  if (f) fclose(f);
  snprintf(want, sizeof want, "[k0, %ld]\n[k1, %ld]\n", sum[0], sum[1]);
  snprintf(want2, sizeof want2, "[500, 2]\n"); /* both keys end at 500 rows */
  sl__row_type two[2] = {TV, TB}, cnt[2] = {TB, TB};
  size_t nl[2] = {0, 0};
  for (int mb = 0; mb < 2; mb++) {
    char *c = changes(1, two, 2, "SET 'table.exec.mini-batch.enabled' = '%2$s';\n"
                      "CREATE TABLE t (k VARCHAR, v INT) WITH (connector = 'filesystem', path = '%1$s/mb.csv');\n"
                      "CREATE TABLE o (k VARCHAR, s BIGINT) WITH (connector = 'blackhole');\n"
                      "INSERT INTO o SELECT k, SUM(v) FROM t GROUP BY k", g_tmp, mb ? "true" : "false");
    for (const char *q = c; q && *q; q++) nl[mb] += *q == '\n';
    char *tab = table_of(c);
    CHECK_EQ_STR(tab, want);
    free(c), free(tab);
    c = changes(2, cnt, 2, "SET 'table.exec.mini-batch.enabled' = '%2$s';\n"
                "CREATE TABLE t (k VARCHAR, v INT) WITH (connector = 'filesystem', path = '%1$s/mb.csv');\n"
                "CREATE TABLE o (n BIGINT, m BIGINT) WITH (connector = 'blackhole');\n"
                "INSERT INTO o SELECT n, COUNT(*) FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) x GROUP BY n",
                g_tmp, mb ? "true" : "false");
    tab = table_of(c);
    CHECK_EQ_STR(tab, want2);
    free(c), free(tab);
  }
  /* row by row: +I per key, then -U/+U per row that changes the sum (v > 0) */
  CHECK_EQ_INT((long)nl[0], 2 + 2 * (1000 - 2 - 142));
  CHECK(nl[1] < nl[0]);
}

/* Top-N over the unbounded stream (no window): the ranks that change, as
 * a changelog, worked out by hand.  ROW_NUMBER per k by v DESC, N = 2, on
 * a,1 b,5 a,3 b,NULL a,-4: a's 3 takes rank 1 (1 moves to rank 2), -4
 * cannot make it; b's NULL sorts last.  RANK per k by v DESC on
 * x,2 x,2 x,3 x,1 (N = 2): the two 2s share rank 1, 3 takes it and moves
 * both to rank 2 (a third row at 2); with N = 1 (y,2 y,2 y,3) the 2s leave
 * (-D of the second). */
static void top_n_unbounded(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "grp.csv"), "a,1\nb,5\na,3\nb,\na,-4\n");
  write_text(tpath(p, sizeof p, "ties2.csv"), "x,2\nx,2\nx,3\nx,1\n");
  write_text(tpath(p, sizeof p, "ties1.csv"), "y,2\ny,2\ny,3\n");
  sl__row_type t3[3] = {TV, TI, TB};
  char *c = changes(1, t3, 3, GRP_SRC "CREATE TABLE o (k VARCHAR, v INT, rn BIGINT) WITH (connector = 'print');\n"
                    "INSERT INTO o SELECT k, v, rn FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY "
                    "v DESC) AS rn FROM t) x WHERE rn <= 2", g_tmp);
  CHECK_EQ_STR(c, "+I[a, 1, 1]\n+I[b, 5, 1]\n-U[a, 1, 1]\n+U[a, 3, 1]\n+I[a, 1, 2]\n+I[b, null, 2]\n");
  free(c);
  char out[2048] = "";
  sl_env *env = env_p(1);
  sl_sql_set_output(env, capture, out);
  char text[1024];
  snprintf(text, sizeof text, GRP_SRC "EXPLAIN SELECT k, v FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k "
                                      "ORDER BY v DESC) AS rn FROM t) x WHERE rn <= 2;", g_tmp);
  CHECK_EQ_INT(sl_sql_execute(env, text), 0);
  CHECK_CONTAINS(out, "encode: (row -> +I/-U/+U/-D[...] text)\n"
                      "    calc: select k AS k VARCHAR, v AS v INT where (rn <= 2)\n"
                      "      top-n: ROW_NUMBER <= 2 per [k] order by [v DESC], updated as rows arrive: -U/+U of the "
                      "ranks that change, +I of a new one (adds rn)\n");
  sl_env_free(env);
  static const char *const want[2] = {
      "+I[y, 2, 1]\n+I[y, 2, 1]\n-U[y, 2, 1]\n+U[y, 3, 1]\n-D[y, 2, 1]\n",
      "+I[x, 2, 1]\n+I[x, 2, 1]\n-U[x, 2, 1]\n+U[x, 3, 1]\n-U[x, 2, 1]\n+U[x, 2, 2]\n+I[x, 2, 2]\n"};
  for (int n = 1; n <= 2; n++) {
    c = changes(2, t3, 3, "CREATE TABLE t (k VARCHAR, v INT) WITH (connector = 'filesystem', path = '%1$s/ties%2$d.csv');\n"
                "CREATE TABLE o (k VARCHAR, v INT, r BIGINT) WITH (connector = 'print');\n"
                "INSERT INTO o SELECT k, v, r FROM (SELECT k, v, RANK() OVER (PARTITION BY k ORDER BY v DESC) AS r "
                "FROM t) x WHERE r <= %2$d", g_tmp, n);
    CHECK_EQ_STR(c, want[n - 1]); /* one key: its changes in order at P=2 too */
    free(c);
  }
}

/* debezium-json: a file of Debezium change events is a changelog source
 * (c and r +I, u -U and +U, d -D; an event may sit in "payload" beside a
 * "schema"), and a sink table of that format takes an updating result as
 * create and delete events.  The changelogs are worked out by hand. */
#define DBZ_SRC "CREATE TABLE d (id INT, k VARCHAR, v BIGINT) WITH (connector = 'filesystem', " \
                "path = '%1$s/dbz.json', format = 'debezium-json');\n"
static void debezium_json(void) {
  char p[1024];
  write_text(tpath(p, sizeof p, "dbz.json"),
             "{\"before\":null,\"after\":{\"id\":1,\"k\":\"a\",\"v\":10},\"op\":\"c\"}\n"
             "{\"schema\":{\"type\":\"struct\",\"fields\":[]},\"payload\":{\"before\":null,\"after\":{\"id\":2,"
             "\"k\":\"b\",\"v\":20},\"op\":\"r\",\"source\":{\"lsn\":7}}}\n"
             "{\"before\":{\"id\":1,\"k\":\"a\",\"v\":10},\"after\":{\"id\":1,\"k\":\"a\",\"v\":15},\"op\":\"u\","
             "\"ts_ms\":5}\n"
             "{\"op\":\"d\",\"before\":{\"id\":2,\"k\":\"b\",\"v\":20},\"after\":null}\n"
             "{\"before\":null,\"after\":{\"id\":3,\"k\":\"a\",\"v\":1},\"op\":\"c\"}\n");
  sl__row_type row[3] = {TI, TV, TB}, agg[3] = {TV, TB, TB};
  char *c = changes(1, row, 3, DBZ_SRC "CREATE TABLE o (id INT, k VARCHAR, v BIGINT) WITH (connector = 'print');\n"
                    "INSERT INTO o SELECT id, k, v FROM d", g_tmp);
  CHECK_EQ_STR(c, "+I[1, a, 10]\n+I[2, b, 20]\n-U[1, a, 10]\n+U[1, a, 15]\n-D[2, b, 20]\n+I[3, a, 1]\n");
  free(c);
  /* a's only row retracted (-U): the group goes (-D) and comes again (+I) */
  c = changes(1, agg, 3, DBZ_SRC "CREATE TABLE o (k VARCHAR, s BIGINT, n BIGINT) WITH (connector = 'print');\n"
              "INSERT INTO o SELECT k, SUM(v), COUNT(*) FROM d GROUP BY k", g_tmp);
  CHECK_EQ_STR(c, "+I[a, 10, 1]\n+I[b, 20, 1]\n-D[a, 10, 1]\n+I[a, 15, 1]\n-D[b, 20, 1]\n-U[a, 15, 1]\n"
                  "+U[a, 16, 2]\n");
  free(c);
  /* the same GROUP BY written as change events, read back: the same changelog */
  char out[4096] = "";
  int rc = run_sql(1, out, sizeof out, DBZ_SRC
                   "CREATE TABLE e (k VARCHAR, s BIGINT, n BIGINT) WITH (connector = 'filesystem', "
                   "path = '%1$s/dbz_out.json', format = 'debezium-json');\n"
                   "INSERT INTO e SELECT k, SUM(v), COUNT(*) FROM d GROUP BY k", g_tmp);
  CHECK_EQ_INT(rc, 0);
  char *ev = slurp("dbz_out.json");
  CHECK_EQ_STR(ev, "{\"before\":null,\"after\":{\"k\":\"a\",\"s\":10,\"n\":1},\"op\":\"c\"}\n"
                   "{\"before\":null,\"after\":{\"k\":\"b\",\"s\":20,\"n\":1},\"op\":\"c\"}\n"
                   "{\"before\":{\"k\":\"a\",\"s\":10,\"n\":1},\"after\":null,\"op\":\"d\"}\n"
                   "{\"before\":null,\"after\":{\"k\":\"a\",\"s\":15,\"n\":1},\"op\":\"c\"}\n"
                   "{\"before\":{\"k\":\"b\",\"s\":20,\"n\":1},\"after\":null,\"op\":\"d\"}\n"
                   "{\"before\":{\"k\":\"a\",\"s\":15,\"n\":1},\"after\":null,\"op\":\"d\"}\n"
                   "{\"before\":null,\"after\":{\"k\":\"a\",\"s\":16,\"n\":2},\"op\":\"c\"}\n");
  free(ev);
  c = changes(1, agg, 3, "CREATE TABLE e (k VARCHAR, s BIGINT, n BIGINT) WITH (connector = 'filesystem', "
              "path = '%1$s/dbz_out.json', format = 'debezium-json');\n"
              "CREATE TABLE o (k VARCHAR, s BIGINT, n BIGINT) WITH (connector = 'print');\n"
              "INSERT INTO o SELECT k, s, n FROM e", g_tmp);
  /* (-U and +U were written as d and c events: they read as -D and +I) */
  CHECK_EQ_STR(c, "+I[a, 10, 1]\n+I[b, 20, 1]\n-D[a, 10, 1]\n+I[a, 15, 1]\n-D[b, 20, 1]\n-D[a, 15, 1]\n"
                  "+I[a, 16, 2]\n");
  free(c);
  out[0] = 0;
  sl_env *env = env_p(1);
  sl_sql_set_output(env, capture, out);
  CHECK_EQ_INT(sl_sql_execute(env, "CREATE TABLE d (id INT, k VARCHAR) WITH (connector = 'filesystem', path = '/x', "
                                   "format = 'debezium-json');\n"
                                   "CREATE TABLE e (k VARCHAR, n BIGINT) WITH (connector = 'kafka', topic = 't', "
                                   "'properties.bootstrap.servers' = 'h:1', format = 'debezium-json');\n"
                                   "EXPLAIN INSERT INTO e SELECT k, COUNT(*) FROM d GROUP BY k;"),
               0);
  CHECK_EQ_STR(out, "sink: e [connector=kafka, topic=t, properties.bootstrap.servers=h:1, format=debezium-json]\n"
                    "  encode: e (row -> debezium-json: +I and +U as create events (c), -U and -D as delete events "
                    "(d))\n"
                    "    group aggregate (updates its rows: +I, -U, +U, -D; retracts what its input retracts), key "
                    "[k], aggregates [COUNT(*)]\n"
                    "      calc: select k AS k VARCHAR\n"
                    "        decode: d (debezium-json -> row of 2 columns)\n"
                    "          source: d [connector=filesystem, path=/x, format=debezium-json] (change events: a "
                    "changelog +I/-U/+U/-D)\n");
  sl_env_free(env);
  expect_error("CREATE TABLE d (id INT, ts BIGINT) WITH (connector = 'filesystem', path = '/x', format = "
               "'debezium-json', watermark = 'ts');\n"
               "SELECT window_start, COUNT(*) FROM TUMBLE(d, ts, 10) GROUP BY window_start, window_end;",
               "line 2, column 43: TUMBLE/HOP/SESSION over an updating table (a debezium-json table: 'd' is a "
               "changelog of inserts, updates and deletes) is not built: aggregate it without a window (GROUP BY)\n"
               "  SELECT window_start, COUNT(*) FROM TUMBLE(d, ts, 10) GROUP BY window_start, window_end;\n"
               "                                            ^");
  expect_error("CREATE TABLE d (id INT) WITH (connector = 'filesystem', path = '/x', format = 'avro');",
               "line 1, column 70: unknown format 'avro' (formats: csv, json, debezium-json)\n"
               "  CREATE TABLE d (id INT) WITH (connector = 'filesystem', path = '/x', format = 'avro');\n"
               "                                                                       ^");
}

/* A PostgreSQL table with 'scan.mode' = 'cdc' is a changelog source: EXPLAIN
 * shows it so (no decode: typed rows in the source), a GROUP BY over it
 * retracts, a plain SELECT into a postgres sink turns -U into -D; windows
 * over it, append-only sinks, more than one snapshot split and a second
 * read of one replication slot are refused (nothing here connects: the
 * runs are cli_sql_cdc.sh's). */
#define CDC_SRC "CREATE TABLE src (id INT, k VARCHAR, v BIGINT, ts TIMESTAMP, PRIMARY KEY (id) NOT ENFORCED) " \
                "WITH (connector = 'postgres', " \
                "url = 'postgresql://x/y', 'table-name' = 'src', 'scan.mode' = 'cdc', " \
                "watermark = 'ts - INTERVAL ''1'' SECOND');\n"
/* A CDC table's rows into an upsert sink keyed otherwise than by the
 * table's PRIMARY KEY (a key several source rows share, which their
 * updates change): the upsert materializer keeps the rows per sink key. */
static void cdc_into_another_key(void) {
  char out[4096] = "";
  sl_env *env = env_p(1);
  sl_sql_set_output(env, capture, out);
  CHECK_EQ_INT(sl_sql_execute(env, CDC_SRC
                              "CREATE TABLE byk (k VARCHAR, v BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH "
                              "(connector = 'postgres', url = 'postgresql://x/y', 'table-name' = 'byk');\n"
                              "EXPLAIN INSERT INTO byk SELECT k, v FROM src;"), 0);
  CHECK_CONTAINS(out, "  upsert materializer: the rows now in the result per primary key");
  CHECK(!strstr(out, "-U as -D"));
  sl_env_free(env);
}

static void cdc_changelog(void) {
  char out[4096] = "";
  sl_env *env = env_p(1);
  sl_sql_set_output(env, capture, out);
  int rc = sl_sql_execute(env, CDC_SRC
                          "CREATE TABLE agg (k VARCHAR, n BIGINT, s BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH "
                          "(connector = 'postgres', url = 'postgresql://x/y', 'table-name' = 'agg');\n"
                          "CREATE TABLE cp (id INT, k VARCHAR, v BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH "
                          "(connector = 'postgres', url = 'postgresql://x/y', 'table-name' = 'cp');\n"
                          "EXPLAIN INSERT INTO agg SELECT k, COUNT(*), SUM(v) FROM src GROUP BY k;\n"
                          "EXPLAIN INSERT INTO cp SELECT id, k, v FROM src WHERE v > 0;");
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_STR(out,
               "sink: agg [connector=postgres, url=postgresql://x/y, table-name=agg]\n"
               "  encode: agg (row -> the change kind and csv: upserted and deleted by the primary key)\n"
               "    group aggregate (updates its rows: +I, -U, +U, -D; retracts what its input retracts), "
               "key [k], aggregates [COUNT(*), SUM(agg$0)]\n"
               "      calc: select k AS k VARCHAR, v AS agg$0 BIGINT\n"
               "        watermarks: src (event time ts, bounded out-of-orderness 1000 ms)\n"
               "          source: src [connector=postgres, url=postgresql://x/y, table-name=src, scan.mode=cdc, "
               "watermark=ts - INTERVAL '1' SECOND] (CDC: a changelog +I/-U/+U/-D, typed rows)\n"
               "sink: cp [connector=postgres, url=postgresql://x/y, table-name=cp]\n"
               "  encode: cp (row -> the change kind and csv: upserted and deleted by the primary key, -U as -D "
               "(an update may change the key))\n"
               "    calc: select id AS id INT, k AS k VARCHAR, v AS v BIGINT where (v > 0)\n"
               "      watermarks: src (event time ts, bounded out-of-orderness 1000 ms)\n"
               "        source: src [connector=postgres, url=postgresql://x/y, table-name=src, scan.mode=cdc, "
               "watermark=ts - INTERVAL '1' SECOND] (CDC: a changelog +I/-U/+U/-D, typed rows)\n");
  sl_env_free(env);
  /* a join of it: the -U and +U of a sink key may come from two of the
   * join's subtasks (an update of the join key), in either order: a -U
   * turned into a delete could come after the +U, so it is skipped */
  out[0] = 0;
  env = env_p(1);
  sl_sql_set_output(env, capture, out);
  rc = sl_sql_execute(env, CDC_SRC
                      "CREATE TABLE names (id INT, name VARCHAR) WITH (connector = 'datagen');\n"
                      "CREATE TABLE cp (id INT, name VARCHAR, PRIMARY KEY (id) NOT ENFORCED) WITH "
                      "(connector = 'postgres', url = 'postgresql://x/y', 'table-name' = 'cp');\n"
                      "EXPLAIN INSERT INTO cp SELECT s.id, n.name FROM src s JOIN names n ON s.id = n.id;");
  CHECK_EQ_INT(rc, 0);
  CHECK_CONTAINS(out, "  encode: cp (row -> the change kind and csv: upserted and deleted by the primary key)\n");
  sl_env_free(env);
  expect_error(CDC_SRC "SELECT window_start, COUNT(*) FROM TUMBLE(src, ts, INTERVAL '1' SECOND) "
                       "GROUP BY window_start, window_end;",
               "line 2, column 43: TUMBLE/HOP/SESSION over an updating table (a CDC table: 'src' has "
               "'scan.mode' = 'cdc', its rows are updated and deleted) is not built: aggregate it without a "
               "window (GROUP BY), or read it as a snapshot (no 'scan.mode')\n"
               "  SELECT window_start, COUNT(*) FROM TUMBLE(src, ts, INTERVAL '1' SECOND) GROUP BY "
               "window_start, window_end;\n"
               "                                            ^");
  expect_error(CDC_SRC "CREATE TABLE f (id INT) WITH (connector = 'filesystem', path = '/tmp/f');\n"
                       "INSERT INTO f SELECT id FROM src;",
               "line 3, column 13: table 'f' (connector filesystem) takes inserts only, and the query's "
               "result is updating (the rows of CDC table 'src', which are updated and deleted): write it to "
               "a print, blackhole, postgres or upsert-kafka table (with a PRIMARY KEY) or as change events "
               "(format = 'debezium-json'), or read it as a snapshot (no 'scan.mode')\n"
               "  INSERT INTO f SELECT id FROM src;\n"
               "              ^");
  expect_error(CDC_SRC "CREATE TABLE g (id INT) WITH (connector = 'postgres', url = 'postgresql://x/y', "
                       "'table-name' = 'g');\nINSERT INTO g SELECT id FROM src WHERE v > 1;",
               "line 3, column 13: table 'g' takes an updating result (the rows of CDC table 'src', which are "
               "updated and deleted): declare its PRIMARY KEY (the source table's key) NOT ENFORCED, so that "
               "each row is upserted by its key and deleted by it\n"
               "  INSERT INTO g SELECT id FROM src WHERE v > 1;\n"
               "              ^");
  /* an aggregate of it: the aggregate's message */
  expect_error(CDC_SRC "CREATE TABLE f (k VARCHAR, n BIGINT) WITH (connector = 'filesystem', path = '/tmp/f');\n"
                       "INSERT INTO f SELECT k, COUNT(*) FROM src GROUP BY k;",
               "line 3, column 13: table 'f' (connector filesystem) takes inserts only, and the query's result "
               "is updating (a GROUP BY without a window, DISTINCT or an outer join: its rows change as input "
               "arrives): write it to a print, blackhole, postgres or upsert-kafka table (with a PRIMARY KEY) "
               "or as change events (format = 'debezium-json'), or aggregate per window (TUMBLE, HOP, SESSION) "
               "for rows that are final\n"
               "  INSERT INTO f SELECT k, COUNT(*) FROM src GROUP BY k;\n"
               "              ^");
  expect_error("CREATE TABLE s (a INT) WITH (connector = 'postgres', url = 'postgresql://x/y', 'table-name' = 's',\n"
               "  'scan.mode' = 'cdc', 'scan.partition.num' = '4');",
               "line 2, column 24: a CDC table ('scan.mode' = 'cdc') reads its snapshot in one split, so that "
               "each row's snapshot image comes before its changes: drop 'scan.partition.num' (or set it to 1)\n"
               "    'scan.mode' = 'cdc', 'scan.partition.num' = '4');\n"
               "                         ^");
  expect_error(CDC_SRC "CREATE TABLE o (n BIGINT) WITH (connector = 'blackhole');\n"
                       "INSERT INTO o SELECT COUNT(*) FROM src;\nINSERT INTO o SELECT v FROM src;",
               "table 'src' is read twice by this job, and each read of a CDC table needs a replication slot "
               "of its own ('sluice_src' is this one's): declare another table of it with its own 'slot.name' "
               "for the second read");
}

int main(void) {
  scratch_init("/tmp/sl_test_sql", 1);
  RUN(row_layout);
  RUN(row_text);
  RUN(csv_split);
  RUN(json_codec);
  RUN(expressions);
  RUN(json_source_and_views);
  RUN(datagen);
  RUN(bad_lines);
  RUN(explain_and_show);
  RUN(errors);
  RUN(watermark_and_set);
  RUN(window_tumble);
  RUN(window_hop_session);
  RUN(window_errors);
  RUN(window_distinct);
  RUN(window_rows);
  RUN(nexmark_bids);
  RUN(window_top_n);
  RUN(joins);
  RUN(join_state_ttl);
  RUN(proctime_windows);
  RUN(nexmark_pruning);
  RUN(group_by_changelog);
  RUN(aggregate_of_join);
  RUN(outer_joins);
  RUN(join_of_updating_input);
  RUN(changelog_errors);
  RUN(upsert_kafka);
  RUN(debezium_json);
  RUN(top_n_unbounded);
  RUN(mini_batch);
  RUN(cdc_changelog);
  RUN(cdc_into_another_key);
  TEST_MAIN_END();
}

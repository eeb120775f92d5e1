/*
 * row.h -- sluice's compact binary row: the typed record value that SQL
 * passes between its operators, and that the connectors' formats and the
 * Python layer are to share.  A row carries no schema: its reader knows
 * the column types (sl__row_type) from the table or the plan.
 *
 * Layout of a row of n columns (all integers little-endian host order,
 * read and written with memcpy: a record's value need not be aligned):
 *
 *   [0, B)          null bitmap, B = ((n + 63) / 64) * 8 bytes; bit i of
 *                   byte i / 8 set = column i is NULL
 *   [B, B + 8n)     one 8-byte slot per column:
 *                     BOOLEAN, INT, BIGINT    int64
 *                     DECIMAL(p, s)           int64 unscaled (value * 10^s),
 *                                             p <= 18
 *                     DOUBLE                  IEEE double
 *                     TIMESTAMP               int64 ms since 1970-01-01 UTC
 *                     VARCHAR                 uint32 offset (from the row's
 *                                             start), uint32 length
 *   [B + 8n, end)   the variable-length tail: VARCHAR bytes (UTF-8, no NUL)
 *
 * A NULL column's slot is 0.  The row's length is the record's value_len;
 * sl__row_check verifies that a byte string is a well-formed row of n
 * columns (every string inside it).  Fixed-width slots make column access
 * O(1) without decoding; the tail keeps a row one contiguous byte string,
 * which is what keyed state, checkpoints and exchanges store.
 *
 * The text side: one value parses from / prints to text by its type
 * (sl__row_parse_text / sl__row_format_text), and rows read and write CSV
 * lines (RFC 4180 quoting; an unquoted empty field is NULL, "" the empty
 * string) and JSON objects (one per line; keys are column names; absent
 * keys and null are NULL).  None of these allocate: they write into
 * caller memory (sl__row_buf) and report the size they need.
 */
#ifndef SL_ROW_H
#define SL_ROW_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  SL__T_NULL = 0, /* the type of the literal NULL (no column has it) */
  SL__T_BOOL,
  SL__T_INT,
  SL__T_BIGINT,
  SL__T_DECIMAL,
  SL__T_DOUBLE,
  SL__T_VARCHAR,
  SL__T_TIMESTAMP,
  SL__T_INTERVAL /* milliseconds; expressions only (TIMESTAMP +- INTERVAL) */
} sl__row_kind;

typedef struct sl__row_type {
  uint8_t kind;      /* sl__row_kind */
  uint8_t precision; /* DECIMAL */
  uint8_t scale;     /* DECIMAL */
} sl__row_type;

/* One value.  Strings are views (valid as long as the memory they point
 * to); the type is known from context. */
typedef struct sl__val {
  uint8_t null;
  union {
    int64_t i; /* BOOL (0/1), INT, BIGINT, DECIMAL (unscaled), TIMESTAMP, INTERVAL */
    double f;
    struct {
      const char *p;
      uint32_t n;
    } s;
  } u;
} sl__val;

/* "BIGINT", "DECIMAL(10, 2)", ... into buf; returns buf. */
const char *sl__row_type_name(sl__row_type t, char *buf, size_t cap);
/* 10^0 .. 10^18: DECIMAL scaling (a DECIMAL(p,s) holds |v| < 10^p) */
extern const int64_t sl__row_pow10[19];

static inline size_t sl__row_bitmap_size(int n) { return (size_t)((n + 63) / 64) * 8; }
static inline size_t sl__row_fixed_size(int n) { return sl__row_bitmap_size(n) + 8 * (size_t)n; }

/* Bytes a row of these n values takes. */
size_t sl__row_size(const sl__row_type *types, const sl__val *vals, int n);
/* Write the row into buf (sl__row_size bytes); returns its length. */
size_t sl__row_write(void *buf, const sl__row_type *types, const sl__val *vals, int n);
/* Column i of a row of n columns of these types (strings point into row). */
void sl__row_get(const void *row, int n, const sl__row_type *types, int i, sl__val *out);
/* 0 when row[0..len) is a well-formed row of these n columns, else -1. */
int sl__row_check(const void *row, size_t len, const sl__row_type *types, int n);

/* ---- text ------------------------------------------------------------- */

/* Parse s[0..len) as a value of type t (not NULL: the caller decides what
 * text is NULL).  Strings point into s.  0, or -1 with a reason (static
 * text) in *why. */
int sl__row_parse_text(sl__row_type t, const char *s, size_t len, sl__val *out, const char **why);
/* Print v as text into buf (at most cap bytes, no NUL): returns the
 * length it needs (greater than cap: nothing usable was written).  NULL
 * prints as "" (callers that print NULL otherwise check first). */
size_t sl__row_format_text(sl__row_type t, const sl__val *v, char *buf, size_t cap);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t sl__days_from_civil(int64_t y, int m, int d);
void sl__civil_from_days(int64_t z, int64_t *y, int *m, int *d);

/* Splits a CSV line into at most max fields: f[i] is a view (into line,
 * or into buf for a quoted field with "" in it), quoted[i] says it was in
 * quotes.  Returns the number of fields, or -1 (unterminated quote, text
 * after a closing quote, more than max fields, buf too small) with *why. */
typedef struct sl__csv_field {
  const char *p;
  uint32_t n;
  uint8_t quoted;
} sl__csv_field;
int sl__csv_split(const char *line, size_t len, sl__csv_field *f, int max, char *buf, size_t cap,
                  const char **why);

/* Row -> one CSV line (no newline) / one JSON object; returns the length
 * needed (as sl__row_format_text).  names: the column names (JSON keys). */
size_t sl__row_to_csv(const void *row, int n, const sl__row_type *types, char *buf, size_t cap);
size_t sl__row_to_json(const void *row, int n, const sl__row_type *types, const char *const *names,
                       char *buf, size_t cap);
/* Flink's print format: "+I[v1, v2, ...]" (the kind's text, below), NULL
 * as "null". */
size_t sl__row_to_print(int kind, const void *row, int n, const sl__row_type *types, char *buf,
                        size_t cap);

/* ---- changelog rows ---------------------------------------------------- */

/* The result of an updating query (a GROUP BY without a window) is a
 * changelog: each row says how it changes the result, as Flink's RowKind
 * -- +I a new row, -U the old image of an updated row, +U its new image,
 * -D a deleted row.  A changelog row is one byte of kind (the values
 * below, Flink's RowKind.toByteValue()) followed by the row. */
enum { SL__ROW_INSERT = 0, SL__ROW_UPDATE_BEFORE = 1, SL__ROW_UPDATE_AFTER = 2, SL__ROW_DELETE = 3 };
extern const char sl__row_kind_text[4][3]; /* "+I", "-U", "+U", "-D" */

/* A JSON object line -> values (vals[n]; strings point into line, or into
 * buf for strings with escapes).  Keys match names exactly; unknown keys
 * are skipped.  0, or -1 with *why (a static text) and *bad_col (-1 when
 * not a column's). */
int sl__row_from_json(const char *line, size_t len, int n, const sl__row_type *types,
                      const char *const *names, sl__val *vals, char *buf, size_t cap,
                      const char **why, int *bad_col);

/* The raw text of members of a JSON object line (an envelope such as
 * Debezium's): spans[i] is the value of key names[i] as written (an
 * object, "string" with its quotes, null, ...), {NULL, 0} when absent;
 * other members are skipped.  0, or -1 with *why. */
typedef struct sl__json_span {
  const char *p;
  size_t n;
} sl__json_span;
int sl__json_members(const char *line, size_t len, int n, const char *const *names,
                     sl__json_span *spans, const char **why);

#endif

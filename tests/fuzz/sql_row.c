/*
 * sql_row.c -- fuzzes the text forms of the SQL row (src/row/row.c): the
 * input is one line, read as CSV and as JSON into a row of six columns
 * (INT, VARCHAR, DECIMAL(6, 2), TIMESTAMP, DOUBLE, BOOLEAN).  Properties:
 * a line that decodes gives a well-formed row (sl__row_check); the row
 * printed as CSV (and as JSON) decodes again to the same values, NULL and
 * the empty string kept apart; the printers never write past the size
 * they report, and report the same size with too small a buffer; read as
 * a Debezium envelope (sl__json_members), its members lie in the line.
 */
#include "fuzz_util.h"
#include "row/row.h"

#define NC 6
static const sl__row_type T[NC] = {{SL__T_INT, 0, 0},     {SL__T_VARCHAR, 0, 0}, {SL__T_DECIMAL, 6, 2},
                                   {SL__T_TIMESTAMP, 0, 0}, {SL__T_DOUBLE, 0, 0},  {SL__T_BOOL, 0, 0}};
static const char *const NAMES[NC] = {"i", "s", "d", "t", "f", "b"};

/* CSV fields -> values (an unquoted empty field is NULL); 0 or -1 */
static int from_csv(const char *line, size_t len, sl__val *v, char *buf, size_t cap) {
  sl__csv_field f[NC + 1];
  const char *why;
  if (sl__csv_split(line, len, f, NC + 1, buf, cap, &why) != NC) return -1;
  for (int i = 0; i < NC; i++) {
    if (!f[i].quoted && !f[i].n) {
      v[i] = (sl__val){.null = 1};
      continue;
    }
    if (sl__row_parse_text(T[i], f[i].p, f[i].n, &v[i], &why)) return -1;
  }
  return 0;
}

static void same_vals(const sl__val *a, const sl__val *b) {
  for (int i = 0; i < NC; i++) {
    FZ_CHECK(a[i].null == b[i].null);
    if (a[i].null) continue;
    if (T[i].kind == SL__T_VARCHAR)
      FZ_CHECK(a[i].u.s.n == b[i].u.s.n && !memcmp(a[i].u.s.p, b[i].u.s.p, a[i].u.s.n));
    else if (T[i].kind == SL__T_DOUBLE)
      FZ_CHECK(a[i].u.f == b[i].u.f);
    else
      FZ_CHECK(a[i].u.i == b[i].u.i);
  }
}

/* Print the row with fn; check the size contract; decode it with back. */
static void round_trip(const uint8_t *row, size_t row_len, const sl__val *want, int json) {
  size_t need = json ? sl__row_to_json(row, NC, T, NAMES, NULL, 0) : sl__row_to_csv(row, NC, T, NULL, 0);
  char *out = malloc(need + 16), *buf = malloc(need + 16);
  memset(out, 0x55, need + 16);
  size_t n = json ? sl__row_to_json(row, NC, T, NAMES, out, need) : sl__row_to_csv(row, NC, T, out, need);
  FZ_CHECK(n == need);
  for (size_t i = need; i < need + 16; i++) FZ_CHECK((uint8_t)out[i] == 0x55);
  sl__val back[NC];
  const char *why;
  int bad;
  if (json) {
    FZ_CHECK(sl__row_from_json(out, n, NC, T, NAMES, back, buf, need + 16, &why, &bad) == 0);
  } else {
    FZ_CHECK(from_csv(out, n, back, buf, need + 16) == 0);
  }
  same_vals(want, back);
  (void)row_len;
  free(out), free(buf);
}

static void check_line(const char *line, size_t len, int json) {
  sl__val v[NC];
  char *buf = malloc(len + 1);
  const char *why;
  int bad;
  int rc = json ? sl__row_from_json(line, len, NC, T, NAMES, v, buf, len + 1, &why, &bad)
                : from_csv(line, len, v, buf, len + 1);
  if (rc == 0) {
    size_t sz = sl__row_size(T, v, NC);
    uint8_t *row = malloc(sz);
    FZ_CHECK(sl__row_write(row, T, v, NC) == sz);
    FZ_CHECK(sl__row_check(row, sz, T, NC) == 0);
    sl__val got[NC];
    for (int i = 0; i < NC; i++) sl__row_get(row, NC, T, i, &got[i]);
    same_vals(v, got);
    round_trip(row, sz, v, 0);
    round_trip(row, sz, v, 1);
    free(row);
  }
  free(buf);
}

/* The line as a Debezium envelope: each member found lies in the line, and
 * an object member decodes as a row or fails cleanly. */
static void check_envelope(const char *line, size_t len) {
  static const char *const keys[3] = {"before", "after", "op"};
  sl__json_span sp[3];
  const char *why;
  if (sl__json_members(line, len, 3, keys, sp, &why)) return;
  for (int k = 0; k < 3; k++) {
    if (!sp[k].p) continue;
    FZ_CHECK(sp[k].p >= line && sp[k].p + sp[k].n <= line + len);
    sl__val v[NC];
    char *buf = malloc(sp[k].n + 1);
    int bad;
    (void)sl__row_from_json(sp[k].p, sp[k].n, NC, T, NAMES, v, buf, sp[k].n + 1, &why, &bad);
    free(buf);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_line((const char *)data, size, 0);
  check_line((const char *)data, size, 1);
  check_envelope((const char *)data, size);
  return 0;
}

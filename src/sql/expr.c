/*
 * expr.c -- scalar SQL expressions: compiled once from libpg_query's
 * parse tree into a typed tree (sql_expr), evaluated per row by a
 * recursive walk that allocates nothing (string results go to the
 * caller's scratch memory: sl_ctx_scratch in a job).
 *
 * Typing (at compile time, so evaluation never checks types):
 *   - numbers: INT < BIGINT < DECIMAL < DOUBLE; the operands of an
 *     arithmetic operator or a comparison are cast to their common type
 *     (two DECIMALs of different scale: to the larger scale), so every
 *     operator sees operands of one type.  INT op INT is INT, with a
 *     range check (PostgreSQL: "integer out of range"); DECIMAL * DECIMAL
 *     adds the scales; DECIMAL / DECIMAL has scale max(6, s1) (at most
 *     18); MOD takes integers.
 *   - a string literal takes the type the context asks for
 *     (ts > '2020-01-01 00:00:00', TIMESTAMP '...'): it is parsed once, at
 *     compile time, and a literal that does not parse is a compile error
 *     pointing at it.
 *   - TIMESTAMP +- INTERVAL is TIMESTAMP; BIGINT +- INTERVAL is BIGINT
 *     (epoch milliseconds used as event time).
 *   - a type error names the operator and both types.
 *   - CAST: numbers to numbers (DOUBLE/DECIMAL to integers round half
 *     away from zero), anything to and from VARCHAR (text that does not
 *     parse is a runtime error of the row), BOOLEAN <-> integers,
 *     TIMESTAMP <-> BIGINT (epoch milliseconds).
 *   - NULL: three-valued AND/OR/NOT; other operators and functions give
 *     NULL for a NULL argument, except COALESCE, CONCAT (skips NULLs),
 *     IS [NOT] NULL and CASE.
 * Runtime errors (division by zero, overflow, a cast that does not parse)
 * make sql_eval return -1 with the reason; the operator treats the row as
 * a bad record.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "sql/sql.h"

#define P10 sl__row_pow10

static sl__row_type T(int kind) { return (sl__row_type){(uint8_t)kind, 0, 0}; }
static sl__row_type TDEC(int p, int s) { return (sl__row_type){SL__T_DECIMAL, (uint8_t)p, (uint8_t)s}; }
static int is_int(int k) { return k == SL__T_INT || k == SL__T_BIGINT; }
static int is_num(int k) { return is_int(k) || k == SL__T_DECIMAL || k == SL__T_DOUBLE; }
static int same_type(sl__row_type a, sl__row_type b) {
  return a.kind == b.kind && (a.kind != SL__T_DECIMAL || (a.precision == b.precision && a.scale == b.scale));
}
static const char *tn(sl__row_type t, char *buf) { return sl__row_type_name(t, buf, 32); }

static sql_expr *mk(sql_ctx *c, sql_op op, sl__row_type t, int loc, int n) {
  sql_expr *e = sl__sql_alloc(c->arena, sizeof *e);
  if (!e) return sl__sql_oom(c), NULL;
  e->op = op, e->type = t, e->loc = loc, e->n = n;
  if (n && !(e->args = sl__sql_alloc(c->arena, (size_t)n * sizeof *e->args))) return sl__sql_oom(c), NULL;
  return e;
}

/* A DECIMAL wide enough for an integer type. */
static sl__row_type as_dec(sl__row_type t) {
  if (t.kind == SL__T_INT) return TDEC(10, 0);
  if (t.kind == SL__T_BIGINT) return TDEC(18, 0);
  return t;
}

/* ---- evaluation ---------------------------------------------------------------- */

static int fail(sql_eval *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(sql_eval *ev, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ev->err, sizeof ev->err, fmt, ap);
  va_end(ap);
  return -1;
}

/* round(x / d) half away from zero */
static __int128 div_round(__int128 x, __int128 d) {
  __int128 q = x / d, r = x % d;
  if (r < 0) r = -r;
  if (2 * r >= (d < 0 ? -d : d)) q += ((x < 0) != (d < 0)) ? -1 : 1;
  return q;
}

static int fits(sql_eval *ev, sl__row_type t, __int128 v, int64_t *out) {
  if (t.kind == SL__T_INT && (v < INT32_MIN || v > INT32_MAX)) return fail(ev, "integer out of range for INT");
  if (t.kind == SL__T_DECIMAL && (v >= P10[t.precision] || v <= -P10[t.precision])) {
    char b[32];
    return fail(ev, "value out of range for %s", tn(t, b));
  }
  if (v < INT64_MIN || v > INT64_MAX) return fail(ev, "integer out of range for BIGINT");
  *out = (int64_t)v;
  return 0;
}

static char *ev_alloc(sql_eval *ev, size_t n) { return ev->alloc(ev->alloc_ud, n ? n : 1); }

/* CAST of a non-NULL value from type f to type t. */
static int cast_val(sql_eval *ev, sl__row_type f, sl__row_type t, const sl__val *in, sl__val *out) {
  *out = *in;
  if (same_type(f, t)) return 0;
  if (t.kind == SL__T_VARCHAR) {
    char tmp[64];
    size_t n = sl__row_format_text(f, in, tmp, sizeof tmp);
    char *s = ev_alloc(ev, n);
    if (!s) return fail(ev, "out of memory");
    memcpy(s, tmp, n);
    out->u.s.p = s, out->u.s.n = (uint32_t)n;
    return 0;
  }
  if (f.kind == SL__T_VARCHAR) {
    const char *why = "";
    size_t n = in->u.s.n;
    const char *s = in->u.s.p;
    while (n && (*s == ' ')) s++, n--; /* PostgreSQL trims blanks around input */
    while (n && s[n - 1] == ' ') n--;
    if (sl__row_parse_text(t, s, n, out, &why)) {
      char b[32];
      return fail(ev, "cannot cast '%.*s' to %s: %s", (int)(in->u.s.n > 40 ? 40 : in->u.s.n),
                  in->u.s.p, tn(t, b), why);
    }
    return 0;
  }
  int64_t i = in->u.i;
  switch (t.kind) {
    case SL__T_BOOL:
      out->u.i = f.kind == SL__T_DOUBLE ? in->u.f != 0 : i != 0;
      return 0;
    case SL__T_INT:
    case SL__T_BIGINT:
    case SL__T_TIMESTAMP:
      if (f.kind == SL__T_DOUBLE) {
        double r = round(in->u.f);
        if (!(r > -9.2e18 && r < 9.2e18)) return fail(ev, "%g out of range for an integer", in->u.f);
        return fits(ev, t, (__int128)(int64_t)r, &out->u.i);
      }
      if (f.kind == SL__T_DECIMAL) return fits(ev, t, div_round(i, P10[f.scale]), &out->u.i);
      return fits(ev, t, i, &out->u.i);
    case SL__T_DECIMAL:
      if (f.kind == SL__T_DOUBLE) {
        double x = round(in->u.f * (double)P10[t.scale]);
        if (!(fabs(x) < (double)P10[t.precision])) {
          char b[32];
          return fail(ev, "%g out of range for %s", in->u.f, tn(t, b));
        }
        out->u.i = (int64_t)x;
        return 0;
      }
      if (f.kind == SL__T_DECIMAL && f.scale > t.scale)
        return fits(ev, t, div_round(i, P10[f.scale - t.scale]), &out->u.i);
      return fits(ev, t, (__int128)i * P10[t.scale - (f.kind == SL__T_DECIMAL ? f.scale : 0)], &out->u.i);
    case SL__T_DOUBLE:
      out->u.f = f.kind == SL__T_DECIMAL ? (double)i / (double)P10[f.scale] : (double)i;
      return 0;
    default: {
      char a[32], b[32];
      return fail(ev, "cannot cast %s to %s", tn(f, a), tn(t, b));
    }
  }
}

static uint32_t utf8_len(const char *s, uint32_t n) {
  uint32_t c = 0;
  for (uint32_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
  return c;
}

/* Byte offset of character k (0-based) of s, or n. */
static uint32_t utf8_at(const char *s, uint32_t n, int64_t k) {
  uint32_t i = 0;
  for (int64_t c = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80 && c++ == k) return i;
  return n;
}

static int like(const char *s, const char *se, const char *p, const char *pe) {
  while (p < pe) {
    if (*p == '%') {
      while (p < pe && *p == '%') p++;
      if (p == pe) return 1;
      for (const char *t = s; t <= se; t++)
        if (like(t, se, p, pe)) return 1;
      return 0;
    }
    if (s >= se) return 0;
    if (*p == '_') {
      s++;
      while (s < se && ((unsigned char)*s & 0xC0) == 0x80) s++;
      p++;
      continue;
    }
    if (*p == '\\' && p + 1 < pe) p++;
    if (*p++ != *s++) return 0;
  }
  return s == se;
}

static int cmp_vals(sl__row_type t, const sl__val *a, const sl__val *b) {
  if (t.kind == SL__T_DOUBLE) return (a->u.f > b->u.f) - (a->u.f < b->u.f);
  if (t.kind == SL__T_VARCHAR) {
    uint32_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
    int r = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;
    return r ? (r > 0) - (r < 0) : (a->u.s.n > b->u.s.n) - (a->u.s.n < b->u.s.n);
  }
  return (a->u.i > b->u.i) - (a->u.i < b->u.i);
}

int sl__sql_eval_expr(const sql_expr *e, sql_eval *ev, sl__val *out) {
  sl__val a, b;
  out->null = 0;
  switch (e->op) {
    case SQL_E_COL: sl__row_get(ev->row, ev->n, ev->types, e->col, out); return 0;
    case SQL_E_CONST: *out = e->k; return 0;
    case SQL_E_AND:
    case SQL_E_OR: {
      int is_and = e->op == SQL_E_AND, any_null = 0;
      for (int i = 0; i < e->n; i++) {
        if (sl__sql_eval_expr(e->args[i], ev, &a)) return -1;
        if (a.null) any_null = 1;
        else if (a.u.i == !is_and) return out->u.i = !is_and, 0; /* false for AND, true for OR */
      }
      out->null = (uint8_t)any_null;
      out->u.i = is_and;
      return 0;
    }
    case SQL_E_NOT:
      if (sl__sql_eval_expr(e->args[0], ev, &a)) return -1;
      out->null = a.null, out->u.i = !a.u.i;
      return 0;
    case SQL_E_ISNULL:
    case SQL_E_ISNOTNULL:
      if (sl__sql_eval_expr(e->args[0], ev, &a)) return -1;
      out->u.i = (e->op == SQL_E_ISNULL) == (a.null != 0);
      return 0;
    case SQL_E_CASE: {
      int i = 0;
      for (; i + 1 < e->n; i += 2) {
        if (sl__sql_eval_expr(e->args[i], ev, &a)) return -1;
        if (!a.null && a.u.i) return sl__sql_eval_expr(e->args[i + 1], ev, out);
      }
      if (i < e->n) return sl__sql_eval_expr(e->args[i], ev, out);
      out->null = 1;
      return 0;
    }
    case SQL_E_COALESCE:
      for (int i = 0; i < e->n; i++) {
        if (sl__sql_eval_expr(e->args[i], ev, out)) return -1;
        if (!out->null) return 0;
      }
      return 0;
    case SQL_E_CONCAT:
    case SQL_E_CONCAT_WS_NULL: {
      size_t total = 0;
      sl__val parts[16];
      for (int i = 0; i < e->n; i++) {
        if (sl__sql_eval_expr(e->args[i], ev, &parts[i])) return -1;
        if (parts[i].null) {
          if (e->op == SQL_E_CONCAT) return out->null = 1, 0;
          continue;
        }
        total += parts[i].u.s.n;
      }
      char *s = ev_alloc(ev, total);
      if (!s) return fail(ev, "out of memory");
      size_t at = 0;
      for (int i = 0; i < e->n; i++)
        if (!parts[i].null && parts[i].u.s.n) memcpy(s + at, parts[i].u.s.p, parts[i].u.s.n), at += parts[i].u.s.n;
      out->u.s.p = s, out->u.s.n = (uint32_t)total;
      return 0;
    }
    default: break;
  }
  /* the rest: NULL in, NULL out */
  if (e->n >= 1) {
    if (sl__sql_eval_expr(e->args[0], ev, &a)) return -1;
    if (a.null) return out->null = 1, 0;
  }
  if (e->n >= 2) {
    if (sl__sql_eval_expr(e->args[1], ev, &b)) return -1;
    if (b.null) return out->null = 1, 0;
  }
  sl__row_type at = e->n ? e->args[0]->type : e->type;
  switch (e->op) {
    case SQL_E_NEG:
      if (at.kind == SL__T_DOUBLE) return out->u.f = -a.u.f, 0;
      return fits(ev, e->type, -(__int128)a.u.i, &out->u.i);
    case SQL_E_ABS:
      if (at.kind == SL__T_DOUBLE) return out->u.f = fabs(a.u.f), 0;
      return fits(ev, e->type, a.u.i < 0 ? -(__int128)a.u.i : a.u.i, &out->u.i);
    case SQL_E_ADD:
    case SQL_E_SUB:
      if (e->type.kind == SL__T_DOUBLE)
        return out->u.f = e->op == SQL_E_ADD ? a.u.f + b.u.f : a.u.f - b.u.f, 0;
      return fits(ev, e->type, e->op == SQL_E_ADD ? (__int128)a.u.i + b.u.i : (__int128)a.u.i - b.u.i,
                  &out->u.i);
    case SQL_E_MUL:
      if (e->type.kind == SL__T_DOUBLE) return out->u.f = a.u.f * b.u.f, 0;
      return fits(ev, e->type, (__int128)a.u.i * b.u.i, &out->u.i);
    case SQL_E_DIV:
    case SQL_E_MOD:
      if (e->type.kind == SL__T_DOUBLE) {
        if (b.u.f == 0) return fail(ev, "division by zero");
        return out->u.f = a.u.f / b.u.f, 0;
      }
      if (b.u.i == 0) return fail(ev, "division by zero");
      if (e->op == SQL_E_MOD) return fits(ev, e->type, (__int128)a.u.i % b.u.i, &out->u.i);
      if (e->type.kind == SL__T_DECIMAL) {
        /* a / 10^s1 / (b / 10^s2) * 10^rs */
        int exp = e->type.scale - at.scale + e->args[1]->type.scale;
        __int128 x = a.u.i;
        for (int k = 0; k < exp; k++)
          if (__builtin_mul_overflow(x, (__int128)10, &x)) return fail(ev, "DECIMAL division overflows");
        return fits(ev, e->type, div_round(x, b.u.i), &out->u.i);
      }
      return fits(ev, e->type, (__int128)a.u.i / b.u.i, &out->u.i); /* truncates, as PostgreSQL */
    case SQL_E_EQ: out->u.i = cmp_vals(at, &a, &b) == 0; return 0;
    case SQL_E_NE: out->u.i = cmp_vals(at, &a, &b) != 0; return 0;
    case SQL_E_LT: out->u.i = cmp_vals(at, &a, &b) < 0; return 0;
    case SQL_E_LE: out->u.i = cmp_vals(at, &a, &b) <= 0; return 0;
    case SQL_E_GT: out->u.i = cmp_vals(at, &a, &b) > 0; return 0;
    case SQL_E_GE: out->u.i = cmp_vals(at, &a, &b) >= 0; return 0;
    case SQL_E_LIKE:
      out->u.i = like(a.u.s.p, a.u.s.p + a.u.s.n, b.u.s.p, b.u.s.p + b.u.s.n) != (e->col == 1);
      return 0;
    case SQL_E_CAST: return cast_val(ev, at, e->type, &a, out);
    case SQL_E_UPPER:
    case SQL_E_LOWER: {
      char *s = ev_alloc(ev, a.u.s.n);
      if (!s) return fail(ev, "out of memory");
      for (uint32_t i = 0; i < a.u.s.n; i++) {
        char ch = a.u.s.p[i];
        if (e->op == SQL_E_UPPER && ch >= 'a' && ch <= 'z') ch = (char)(ch - 32);
        if (e->op == SQL_E_LOWER && ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        s[i] = ch;
      }
      out->u.s.p = s, out->u.s.n = a.u.s.n;
      return 0;
    }
    case SQL_E_LENGTH: out->u.i = utf8_len(a.u.s.p, a.u.s.n); return 0;
    case SQL_E_SUBSTR: {
      int64_t start = b.u.i, len = INT64_MAX;
      if (e->n == 3) {
        sl__val c3;
        if (sl__sql_eval_expr(e->args[2], ev, &c3)) return -1;
        if (c3.null) return out->null = 1, 0;
        if (c3.u.i < 0) return fail(ev, "negative substring length not allowed");
        len = c3.u.i;
      }
      /* characters start .. start + len - 1, 1-based, clipped to the string */
      int64_t from = start < 1 ? 1 : start;
      int64_t to = len == INT64_MAX ? INT64_MAX : (start > INT64_MIN + len ? start + len : INT64_MIN);
      uint32_t bf = from - 1 > UINT32_MAX ? a.u.s.n : utf8_at(a.u.s.p, a.u.s.n, from - 1);
      uint32_t bt = to == INT64_MAX || to - 1 > UINT32_MAX ? a.u.s.n : to <= from ? bf : utf8_at(a.u.s.p, a.u.s.n, to - 1);
      out->u.s.p = a.u.s.p + bf, out->u.s.n = bt > bf ? bt - bf : 0;
      return 0;
    }
    case SQL_E_TRIM: {
      const char *set = e->n == 2 ? b.u.s.p : " ";
      uint32_t sn = e->n == 2 ? b.u.s.n : 1, s0 = 0, s1 = a.u.s.n;
      if (e->col & 1)
        while (s0 < s1 && memchr(set, a.u.s.p[s0], sn)) s0++;
      if (e->col & 2)
        while (s1 > s0 && memchr(set, a.u.s.p[s1 - 1], sn)) s1--;
      out->u.s.p = a.u.s.p + s0, out->u.s.n = s1 - s0;
      return 0;
    }
    case SQL_E_EXTRACT: {
      int64_t ms = a.u.i, days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
      int64_t rem = ms - days * 86400000, y;
      int mo, d;
      sl__civil_from_days(days, &y, &mo, &d);
      switch (e->col) {
        case 0: out->u.i = y; break;
        case 1: out->u.i = mo; break;
        case 2: out->u.i = d; break;
        case 3: out->u.i = rem / 3600000; break;
        case 4: out->u.i = rem / 60000 % 60; break;
        case 5: out->u.i = rem / 1000 % 60; break;
        case 6: out->u.i = rem / 1000 % 60 * 1000 + rem % 1000; break;
        case 7: out->u.i = ((days % 7) + 11) % 7; break; /* 1970-01-01 was a Thursday (4) */
        case 8: out->u.i = days - sl__days_from_civil(y, 1, 1) + 1; break;
        case 9: out->u.i = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000); break;
        case 10: out->u.i = (mo - 1) / 3 + 1; break;
        default: out->u.i = 0;
      }
      return 0;
    }
    default: return fail(ev, "internal error: operator %d", (int)e->op);
  }
}

/* ---- compilation --------------------------------------------------------------- */

static void *arena_alloc(void *ud, size_t n) { return sl__sql_alloc(ud, n); }

/* A cast node (folded when its argument is a constant). */
static sql_expr *cast_to(sql_ctx *c, sql_expr *e, sl__row_type t) {
  if (same_type(e->type, t)) return e;
  if (e->op == SQL_E_CONST) {
    sql_expr *k = mk(c, SQL_E_CONST, t, e->loc, 0);
    if (!k) return NULL;
    sql_eval ev = {.alloc = arena_alloc, .alloc_ud = c->arena};
    if (e->k.null) {
      k->k.null = 1;
    } else if (cast_val(&ev, e->type, t, &e->k, &k->k)) {
      sl__sql_error(c, e->loc, "%s", ev.err);
      return NULL;
    }
    return k;
  }
  sql_expr *x = mk(c, SQL_E_CAST, t, e->loc, 1);
  if (x) x->args[0] = e;
  return x;
}

static int is_str_const(const sql_expr *e) {
  return e->op == SQL_E_CONST && (e->type.kind == SL__T_VARCHAR || e->type.kind == SL__T_NULL);
}

/* The type two operands meet at, or kind 0xFF when there is none. */
static sl__row_type common(sql_expr *a, sql_expr *b) {
  sl__row_type x = a->type, y = b->type;
  if (x.kind == SL__T_NULL) return y;
  if (y.kind == SL__T_NULL) return x;
  if (is_num(x.kind) && is_num(y.kind)) {
    if (x.kind == SL__T_DOUBLE || y.kind == SL__T_DOUBLE) return T(SL__T_DOUBLE);
    if (x.kind == SL__T_DECIMAL || y.kind == SL__T_DECIMAL) {
      sl__row_type dx = as_dec(x), dy = as_dec(y);
      int s = dx.scale > dy.scale ? dx.scale : dy.scale;
      int ip = dx.precision - dx.scale > dy.precision - dy.scale ? dx.precision - dx.scale
                                                                 : dy.precision - dy.scale;
      return TDEC(ip + s > 18 ? 18 : ip + s, s);
    }
    return T(x.kind == SL__T_BIGINT || y.kind == SL__T_BIGINT ? SL__T_BIGINT : SL__T_INT);
  }
  if (x.kind == y.kind) return x;
  if (is_str_const(a)) return y; /* a literal takes the other side's type */
  if (is_str_const(b)) return x;
  return T(0xFF);
}

sql_expr *sl__sql_coerce(sql_ctx *c, sql_expr *e, sl__row_type t, const char *what) {
  if (!e) return NULL;
  int k = e->type.kind;
  int ok = same_type(e->type, t) || k == SL__T_NULL || is_str_const(e) ||
           (is_num(k) && is_num(t.kind) &&
            (t.kind == SL__T_DOUBLE || t.kind == SL__T_DECIMAL || k == SL__T_INT ||
             (k == SL__T_BIGINT && t.kind == SL__T_BIGINT)));
  if (!ok) {
    char a[32], b[32];
    sl__sql_error(c, e->loc, "type mismatch: %s is %s, the value given is %s (CAST it)", what,
              tn(t, a), tn(e->type, b));
    return NULL;
  }
  if (k == SL__T_NULL) {
    sql_expr *n = mk(c, SQL_E_CONST, t, e->loc, 0);
    if (n) n->k.null = 1;
    return n;
  }
  return cast_to(c, e, t);
}

static sql_expr *compile(sql_ctx *c, const cJSON *node, const sql_scope *sc);

static const char *op_name(sql_op op) {
  static const char *const n[] = {[SQL_E_ADD] = "+", [SQL_E_SUB] = "-", [SQL_E_MUL] = "*",
                                  [SQL_E_DIV] = "/", [SQL_E_MOD] = "%", [SQL_E_EQ] = "=",
                                  [SQL_E_NE] = "<>", [SQL_E_LT] = "<",  [SQL_E_LE] = "<=",
                                  [SQL_E_GT] = ">",  [SQL_E_GE] = ">=", [SQL_E_CONCAT] = "||",
                                  [SQL_E_LIKE] = "LIKE"};
  return op < sizeof n / sizeof n[0] && n[op] ? n[op] : "?";
}

static sql_expr *binary(sql_ctx *c, sql_op op, sql_expr *l, sql_expr *r, int loc) {
  if (!l || !r) return NULL;
  char a[32], b[32];
  sql_expr *e;
  if (op >= SQL_E_EQ && op <= SQL_E_GE) {
    sl__row_type t = common(l, r);
    if (t.kind == 0xFF || t.kind == SL__T_INTERVAL) goto mismatch;
    if (!(l = cast_to(c, l, t)) || !(r = cast_to(c, r, t))) return NULL;
    e = mk(c, op, T(SL__T_BOOL), loc, 2);
  } else if (op == SQL_E_LIKE) {
    if (!(l = sl__sql_coerce(c, l, T(SL__T_VARCHAR), "LIKE's operand")) ||
        !(r = sl__sql_coerce(c, r, T(SL__T_VARCHAR), "LIKE's pattern")))
      return NULL;
    e = mk(c, op, T(SL__T_BOOL), loc, 2);
  } else if (op == SQL_E_CONCAT) {
    if (!(l = cast_to(c, l, T(SL__T_VARCHAR))) || !(r = cast_to(c, r, T(SL__T_VARCHAR)))) return NULL;
    e = mk(c, op, T(SL__T_VARCHAR), loc, 2);
  } else { /* arithmetic */
    int lk = l->type.kind, rk = r->type.kind;
    if ((op == SQL_E_ADD || op == SQL_E_SUB) && rk == SL__T_INTERVAL &&
        (lk == SL__T_TIMESTAMP || lk == SL__T_BIGINT)) {
      if (!(r = cast_to(c, r, T(SL__T_BIGINT)))) return NULL;
      r->type = T(SL__T_BIGINT);
      e = mk(c, op, l->type, loc, 2);
      sl__row_type keep = l->type;
      if (e) {
        e->args[0] = l, e->args[1] = r;
        e->type = keep;
        /* evaluate as BIGINT arithmetic on the ms (the node's own type is
         * the timestamp: fits() checks only INT and DECIMAL) */
      }
      return e;
    }
    if (op == SQL_E_ADD && lk == SL__T_INTERVAL && (rk == SL__T_TIMESTAMP || rk == SL__T_BIGINT))
      return binary(c, op, r, l, loc);
    if (!is_num(lk) && lk != SL__T_NULL) goto mismatch;
    if (!is_num(rk) && rk != SL__T_NULL) goto mismatch;
    sl__row_type t = common(l, r);
    if (t.kind == SL__T_NULL) t = T(SL__T_INT);
    if (op == SQL_E_MOD && !is_int(t.kind)) goto mismatch;
    sl__row_type rt = t;
    if (t.kind == SL__T_DECIMAL && (op == SQL_E_MUL || op == SQL_E_DIV)) {
      /* operands keep their own scales */
      sl__row_type dl = as_dec(lk == SL__T_NULL ? t : l->type), dr = as_dec(rk == SL__T_NULL ? t : r->type);
      if (!(l = cast_to(c, l, dl)) || !(r = cast_to(c, r, dr))) return NULL;
      int s = op == SQL_E_MUL ? dl.scale + dr.scale : (dl.scale > 6 ? dl.scale : 6);
      if (s > 18) return sl__sql_error(c, loc, "DECIMAL scale %d too large (the product of scales %d and %d)",
                                   s, dl.scale, dr.scale), NULL;
      rt = TDEC(18, s);
    } else {
      if (t.kind == SL__T_DECIMAL && op == SQL_E_ADD) rt = TDEC(t.precision < 18 ? t.precision + 1 : 18, t.scale);
      if (t.kind == SL__T_DECIMAL && op == SQL_E_SUB) rt = TDEC(t.precision < 18 ? t.precision + 1 : 18, t.scale);
      if (!(l = cast_to(c, l, t)) || !(r = cast_to(c, r, t))) return NULL;
    }
    e = mk(c, op, rt, loc, 2);
  }
  if (e) e->args[0] = l, e->args[1] = r;
  return e;
mismatch:
  sl__sql_error(c, loc, "operator %s does not apply to %s and %s", op_name(op), tn(l->type, a),
            tn(r->type, b));
  return NULL;
}

static sql_expr *boolean(sql_ctx *c, sql_expr *e, const char *what) {
  if (!e) return NULL;
  if (e->type.kind == SL__T_NULL) return cast_to(c, e, T(SL__T_BOOL));
  if (e->type.kind != SL__T_BOOL) {
    char b[32];
    sl__sql_error(c, e->loc, "%s must be BOOLEAN, not %s", what, tn(e->type, b));
    return NULL;
  }
  return e;
}

static sql_expr *constant(sql_ctx *c, const cJSON *b, int loc) {
  cJSON *v;
  sql_expr *e;
  if (cJSON_IsTrue(sl__sql_j(b, "isnull"))) {
    if ((e = mk(c, SQL_E_CONST, T(SL__T_NULL), loc, 0))) e->k.null = 1;
    return e;
  }
  if ((v = sl__sql_j(b, "ival"))) {
    cJSON *x = sl__sql_j(v, "ival");
    if ((e = mk(c, SQL_E_CONST, T(SL__T_INT), loc, 0))) e->k.u.i = x ? (int64_t)x->valuedouble : 0;
    return e;
  }
  if ((v = sl__sql_j(b, "boolval"))) {
    if ((e = mk(c, SQL_E_CONST, T(SL__T_BOOL), loc, 0))) e->k.u.i = cJSON_IsTrue(sl__sql_j(v, "boolval"));
    return e;
  }
  if ((v = sl__sql_j(b, "sval"))) {
    const char *s = sl__sql_js(v, "sval");
    if (!s) s = "";
    if (!(e = mk(c, SQL_E_CONST, T(SL__T_VARCHAR), loc, 0))) return NULL;
    size_t n = strlen(s);
    e->k.u.s.p = sl__sql_strndup(c->arena, s, n);
    e->k.u.s.n = (uint32_t)n;
    return e->k.u.s.p ? e : (sl__sql_oom(c), NULL);
  }
  if ((v = sl__sql_j(b, "fval"))) {
    const char *s = sl__sql_js(v, "fval");
    if (!s) s = "0";
    const char *dot = strchr(s, '.');
    size_t n = strlen(s);
    sl__val out;
    const char *why;
    int digits = 0;
    e = NULL;
    for (const char *p = s; *p; p++) digits += *p >= '0' && *p <= '9';
    if (!strpbrk(s, "eE") && digits <= 18) {
      int scale = dot ? (int)(s + n - dot - 1) : 0;
      sl__row_type t = dot ? TDEC(digits < scale + 1 ? scale + 1 : digits, scale) : T(SL__T_BIGINT);
      if (!sl__row_parse_text(t, s, n, &out, &why) && (e = mk(c, SQL_E_CONST, t, loc, 0))) e->k = out;
      return e ? e : (sl__sql_error(c, loc, "bad number '%s'", s), NULL);
    }
    if (sl__row_parse_text(T(SL__T_DOUBLE), s, n, &out, &why)) return sl__sql_error(c, loc, "bad number '%s'", s), NULL;
    if ((e = mk(c, SQL_E_CONST, T(SL__T_DOUBLE), loc, 0))) e->k = out;
    return e;
  }
  sl__sql_error(c, loc, "unsupported constant");
  return NULL;
}

/* INTERVAL 'n' UNIT (the unit as libpg_query's typmod mask) or
 * INTERVAL 'n unit' -> milliseconds. */
static sql_expr *interval(sql_ctx *c, const char *s, const cJSON *tn_, int loc) {
  cJSON *mods = sl__sql_j(tn_, "typmods"), *m;
  int64_t mask = 0;
  cJSON_ArrayForEach(m, mods) {
    cJSON *b;
    sl__sql_node_kind(m, &b);
    cJSON *iv = sl__sql_j(sl__sql_j(b, "ival"), "ival");
    if (iv && !mask) mask = (int64_t)iv->valuedouble;
  }
  int64_t unit = 0;
  if (mask & (1 << 12)) unit = 1000;          /* SECOND */
  else if (mask & (1 << 11)) unit = 60000;    /* MINUTE */
  else if (mask & (1 << 10)) unit = 3600000;  /* HOUR */
  else if (mask & (1 << 3)) unit = 86400000;  /* DAY */
  else if (mask & ((1 << 1) | (1 << 2)))
    return sl__sql_error(c, loc, "INTERVAL of months or years has no fixed length; use DAY, HOUR, MINUTE or SECOND"), NULL;
  int64_t ms = 0;
  char *end;
  double v = strtod(s, &end);
  if (unit && end != s) {
    while (*end == ' ') end++;
    if (*end) unit = 0;
    else ms = (int64_t)llround(v * (double)unit);
  }
  if (!unit && sl__parse_duration_ms(s, &ms))
    return sl__sql_error(c, loc, "bad INTERVAL '%s' (INTERVAL '10' SECOND, INTERVAL '1 minute')", s), NULL;
  sql_expr *e = mk(c, SQL_E_CONST, T(SL__T_INTERVAL), loc, 0);
  if (e) e->k.u.i = ms;
  return e;
}

int sl__sql_agg_fn(const char *name) {
  static const char *const names[] = {[SQL_AGG_COUNT] = "count", [SQL_AGG_SUM] = "sum",
                                      [SQL_AGG_MIN] = "min", [SQL_AGG_MAX] = "max", [SQL_AGG_AVG] = "avg"};
  for (int i = SQL_AGG_COUNT; name && i <= SQL_AGG_AVG; i++)
    if (!strcasecmp(name, names[i])) return i;
  return -1;
}

static sql_expr *func(sql_ctx *c, const cJSON *b, const sql_scope *sc, int loc) {
  const char *name = sl__sql_last_name(sl__sql_j(b, "funcname"));
  cJSON *args = sl__sql_j(b, "args"), *a;
  int n = cJSON_GetArraySize(args);
  char lname[64];
  snprintf(lname, sizeof lname, "%.40s", name ? name : "");
  for (char *p = lname; *p; p++) *p = (char)tolower((unsigned char)*p);
  if (sl__sql_agg_fn(lname) >= 0) {
    if (sc->agg) return sc->agg(c, sc, b, loc, lname);
    return sl__sql_error(c, loc,
                         "aggregate %s() is not allowed here (an aggregate belongs in the SELECT list or "
                         "HAVING, not in WHERE, ON, GROUP BY or another aggregate)",
                         lname), NULL;
  }
  if (!strcmp(lname, "tumble") || !strcmp(lname, "hop") || !strcmp(lname, "session"))
    return sl__sql_error(c, loc, "%s() is a window table function: it belongs in FROM", lname), NULL;
  if (sl__sql_j(b, "over")) return sl__sql_error(c, loc, "window functions (OVER) are not built yet"), NULL;
  if (!strcmp(lname, "extract") || !strcmp(lname, "date_part")) {
    static const char *const fields[] = {"year", "month", "day", "hour", "minute", "second",
                                         "millisecond", "dow", "doy", "epoch", "quarter"};
    cJSON *fb;
    sl__sql_node_kind(cJSON_GetArrayItem(args, 0), &fb);
    const char *f = sl__sql_js(sl__sql_j(fb, "sval"), "sval");
    int fi = -1;
    for (int i = 0; f && i < 11; i++)
      if (!strcasecmp(f, fields[i])) fi = i;
    if (n != 2 || fi < 0)
      return sl__sql_error(c, loc, "EXTRACT(field FROM timestamp): field is one of YEAR, MONTH, DAY, HOUR, "
                               "MINUTE, SECOND, MILLISECOND, DOW, DOY, EPOCH, QUARTER"), NULL;
    sql_expr *x = sl__sql_coerce(c, compile(c, cJSON_GetArrayItem(args, 1), sc), T(SL__T_TIMESTAMP),
                             "EXTRACT's argument");
    sql_expr *e = x ? mk(c, SQL_E_EXTRACT, T(SL__T_BIGINT), loc, 1) : NULL;
    if (e) e->args[0] = x, e->col = fi;
    return e;
  }
  static const struct {
    const char *name;
    sql_op op;
    int min, max;
  } fns[] = {{"upper", SQL_E_UPPER, 1, 1},       {"lower", SQL_E_LOWER, 1, 1},
             {"char_length", SQL_E_LENGTH, 1, 1}, {"character_length", SQL_E_LENGTH, 1, 1},
             {"length", SQL_E_LENGTH, 1, 1},      {"substring", SQL_E_SUBSTR, 2, 3},
             {"substr", SQL_E_SUBSTR, 2, 3},      {"btrim", SQL_E_TRIM, 1, 2},
             {"trim", SQL_E_TRIM, 1, 2},          {"ltrim", SQL_E_TRIM, 1, 2},
             {"rtrim", SQL_E_TRIM, 1, 2},         {"concat", SQL_E_CONCAT_WS_NULL, 1, 16},
             {"abs", SQL_E_ABS, 1, 1},            {"coalesce", SQL_E_COALESCE, 1, 16}};
  int fi = -1;
  for (int i = 0; i < (int)(sizeof fns / sizeof fns[0]); i++)
    if (!strcmp(lname, fns[i].name)) fi = i;
  if (fi < 0)
    return sl__sql_error(c, loc,
                     "unknown function '%s' (functions: UPPER, LOWER, CHAR_LENGTH, SUBSTRING, TRIM, "
                     "CONCAT, ABS, COALESCE, EXTRACT, CAST)",
                     name ? name : "?"), NULL;
  if (n < fns[fi].min || n > fns[fi].max)
    return sl__sql_error(c, loc, "%s() takes %d%s%s argument%s, not %d", lname, fns[fi].min,
                     fns[fi].max > fns[fi].min ? " to " : "",
                     fns[fi].max > fns[fi].min ? (fns[fi].max == 3 ? "3" : fns[fi].max == 2 ? "2" : "16") : "",
                     fns[fi].max > 1 ? "s" : "", n), NULL;
  sql_expr *e = mk(c, fns[fi].op, T(SL__T_VARCHAR), loc, n);
  if (!e) return NULL;
  int i = 0;
  cJSON_ArrayForEach(a, args) {
    sql_expr *x = compile(c, a, sc);
    if (!x) return NULL;
    char what[112];
    snprintf(what, sizeof what, "argument %d of %s()", i + 1, lname);
    switch (e->op) {
      case SQL_E_SUBSTR:
        x = i ? sl__sql_coerce(c, x, T(SL__T_BIGINT), what) : sl__sql_coerce(c, x, T(SL__T_VARCHAR), what);
        break;
      case SQL_E_CONCAT_WS_NULL: x = cast_to(c, x, T(SL__T_VARCHAR)); break;
      case SQL_E_ABS:
      case SQL_E_COALESCE: break;
      default: x = sl__sql_coerce(c, x, T(SL__T_VARCHAR), what);
    }
    if (!x) return NULL;
    e->args[i++] = x;
  }
  if (e->op == SQL_E_LENGTH) e->type = T(SL__T_INT);
  if (e->op == SQL_E_TRIM) e->col = lname[0] == 'l' ? 1 : lname[0] == 'r' ? 2 : 3;
  if (e->op == SQL_E_ABS) {
    if (!is_num(e->args[0]->type.kind)) {
      char t1[32];
      return sl__sql_error(c, loc, "abs() takes a number, not %s", tn(e->args[0]->type, t1)), NULL;
    }
    e->type = e->args[0]->type;
  }
  if (e->op == SQL_E_COALESCE) {
    sl__row_type t = e->args[0]->type;
    for (int k = 1; k < n; k++) {
      sql_expr tmp = {.op = SQL_E_CAST, .type = t};
      sl__row_type u = common(&tmp, e->args[k]);
      if (u.kind == 0xFF) {
        char t1[32], t2[32];
        return sl__sql_error(c, e->args[k]->loc, "COALESCE mixes %s and %s", tn(t, t1), tn(e->args[k]->type, t2)), NULL;
      }
      t = u;
    }
    for (int k = 0; k < n; k++)
      if (!(e->args[k] = e->args[k]->type.kind == SL__T_NULL ? sl__sql_coerce(c, e->args[k], t, "") : cast_to(c, e->args[k], t)))
        return NULL;
    e->type = t;
  }
  return e;
}

static sql_expr *column(sql_ctx *c, const cJSON *b, const sql_scope *sc, int loc) {
  cJSON *fields = sl__sql_j(b, "fields"), *f;
  const char *parts[3] = {0};
  int np = 0;
  cJSON_ArrayForEach(f, fields) {
    cJSON *fb;
    const char *k = sl__sql_node_kind(f, &fb);
    if (!strcmp(k, "A_Star")) return sl__sql_error(c, loc, "* is only allowed in a SELECT list"), NULL;
    if (np < 3) parts[np] = sl__sql_js(fb, "sval");
    np++;
  }
  if (np > 2) return sl__sql_error(c, loc, "a column is name or table.name"), NULL;
  const char *name = parts[np - 1];
  if (sc->rels) { /* a join: table.column, or a column only one side has */
    int found = -1;
    for (int i = 0; i < sc->n; i++)
      if (!strcmp(sc->names[i], name) && (np == 1 || (sc->rels[i] && !strcmp(sc->rels[i], parts[0])))) {
        if (found >= 0)
          return sl__sql_error(c, loc, "column '%s' is ambiguous: both '%s' and '%s' have it (write "
                               "table.%s)", name, sc->rels[found] ? sc->rels[found] : "?",
                               sc->rels[i] ? sc->rels[i] : "?", name), NULL;
        found = i;
      }
    if (found >= 0) {
      sql_expr *e = mk(c, SQL_E_COL, sc->types[found], loc, 0);
      if (e) e->col = found;
      return e;
    }
    char list[512];
    size_t at = 0;
    list[0] = 0;
    for (int i = 0; i < sc->n && at < sizeof list - 96; i++)
      at += (size_t)snprintf(list + at, sizeof list - at, "%s%s.%s", i ? ", " : "",
                             sc->rels[i] ? sc->rels[i] : "?", sc->names[i]);
    return sl__sql_error(c, loc, "unknown column '%s%s%s' (the join has: %s)", np == 2 ? parts[0] : "",
                         np == 2 ? "." : "", name, list), NULL;
  }
  if (np == 2 && (!sc->rel || strcmp(parts[0], sc->rel)))
    return sl__sql_error(c, loc, "unknown table '%s' in column reference (the query reads '%s')", parts[0],
                     sc->rel ? sc->rel : "?"), NULL;
  for (int i = 0; i < sc->n; i++)
    if (!strcmp(sc->names[i], name)) {
      sql_expr *e = mk(c, SQL_E_COL, sc->types[i], loc, 0);
      if (e) e->col = i;
      return e;
    }
  if (sc->inner)
    for (int i = 0; i < sc->inner->n; i++)
      if (!strcmp(sc->inner->names[i], name))
        return sl__sql_error(c, loc, "column '%s' must appear in GROUP BY or be used in an aggregate", name), NULL;
  char list[512];
  size_t at = 0;
  list[0] = 0;
  for (int i = 0; i < sc->n && at < sizeof list - 64; i++)
    at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", sc->names[i]);
  sl__sql_error(c, loc, "unknown column '%s' (%s%s%s has: %s)", name, sc->rel ? "'" : "",
            sc->rel ? sc->rel : "the input", sc->rel ? "'" : "", list);
  return NULL;
}

static sql_expr *compile(sql_ctx *c, const cJSON *node, const sql_scope *sc) {
  cJSON *b;
  const char *kind = sl__sql_node_kind(node, &b);
  int loc = sl__sql_jloc(node);
  if (!strcmp(kind, "ColumnRef")) return column(c, b, sc, loc);
  if (!strcmp(kind, "A_Const")) return constant(c, b, loc);
  if (!strcmp(kind, "TypeCast")) {
    sl__row_type t;
    cJSON *tn_ = sl__sql_j(b, "typeName");
    cJSON *ab;
    if (sl__sql_type_of(c, tn_, &t)) return NULL;
    if (t.kind == SL__T_INTERVAL) {
      const char *k = sl__sql_node_kind(sl__sql_j(b, "arg"), &ab);
      const char *s = sl__sql_js(sl__sql_j(ab, "sval"), "sval");
      if (strcmp(k, "A_Const") || !s) return sl__sql_error(c, loc, "INTERVAL needs a literal: INTERVAL '10' SECOND"), NULL;
      return interval(c, s, tn_, sl__sql_jloc(sl__sql_j(b, "arg")));
    }
    sql_expr *x = compile(c, sl__sql_j(b, "arg"), sc);
    if (!x) return NULL;
    int f = x->type.kind;
    int ok = f == SL__T_NULL || f == t.kind || f == SL__T_VARCHAR || t.kind == SL__T_VARCHAR ||
             (is_num(f) && is_num(t.kind)) || (f == SL__T_BOOL && is_int(t.kind)) ||
             (is_int(f) && t.kind == SL__T_BOOL) || (f == SL__T_TIMESTAMP && t.kind == SL__T_BIGINT) ||
             (is_int(f) && t.kind == SL__T_TIMESTAMP);
    if (!ok || f == SL__T_INTERVAL) {
      char t1[32], t2[32];
      return sl__sql_error(c, loc < 0 ? x->loc : loc, "cannot CAST %s to %s", tn(x->type, t1), tn(t, t2)), NULL;
    }
    if (f == SL__T_NULL) return sl__sql_coerce(c, x, t, "");
    return cast_to(c, x, t);
  }
  if (!strcmp(kind, "A_Expr")) {
    const char *ak = sl__sql_js(b, "kind");
    const char *opn = sl__sql_last_name(sl__sql_j(b, "name"));
    cJSON *lj = sl__sql_j(b, "lexpr"), *rj = sl__sql_j(b, "rexpr");
    if (!strcmp(ak, "AEXPR_BETWEEN") || !strcmp(ak, "AEXPR_NOT_BETWEEN")) {
      cJSON *items = sl__sql_j(sl__sql_j(rj, "List"), "items");
      sql_expr *x = compile(c, lj, sc), *lo = compile(c, cJSON_GetArrayItem(items, 0), sc),
               *hi = x && lo ? compile(c, cJSON_GetArrayItem(items, 1), sc) : NULL;
      sql_expr *ge = binary(c, SQL_E_GE, x, lo, loc), *le = ge ? binary(c, SQL_E_LE, x, hi, loc) : NULL;
      sql_expr *e = le ? mk(c, SQL_E_AND, T(SL__T_BOOL), loc, 2) : NULL;
      if (!e) return NULL;
      e->args[0] = ge, e->args[1] = le;
      if (!strcmp(ak, "AEXPR_NOT_BETWEEN")) {
        sql_expr *n = mk(c, SQL_E_NOT, T(SL__T_BOOL), loc, 1);
        if (n) n->args[0] = e;
        return n;
      }
      return e;
    }
    if (!strcmp(ak, "AEXPR_IN")) {
      cJSON *items = sl__sql_j(sl__sql_j(rj, "List"), "items"), *it;
      int neg = opn && !strcmp(opn, "<>");
      sql_expr *x = compile(c, lj, sc);
      sql_expr *e = x ? mk(c, neg ? SQL_E_AND : SQL_E_OR, T(SL__T_BOOL), loc, cJSON_GetArraySize(items)) : NULL;
      if (!e) return NULL;
      int i = 0;
      cJSON_ArrayForEach(it, items) {
        if (!(e->args[i++] = binary(c, neg ? SQL_E_NE : SQL_E_EQ, x, compile(c, it, sc), loc))) return NULL;
      }
      return e;
    }
    if (!strcmp(ak, "AEXPR_LIKE")) {
      sql_expr *e = binary(c, SQL_E_LIKE, compile(c, lj, sc), compile(c, rj, sc), loc);
      if (e) e->col = opn && !strcmp(opn, "!~~");
      return e;
    }
    if (strcmp(ak, "AEXPR_OP") || !opn)
      return sl__sql_error(c, loc, "unsupported expression (%s)", ak), NULL;
    static const struct {
      const char *s;
      sql_op op;
    } ops[] = {{"+", SQL_E_ADD}, {"-", SQL_E_SUB}, {"*", SQL_E_MUL}, {"/", SQL_E_DIV},
               {"%", SQL_E_MOD}, {"=", SQL_E_EQ},  {"<>", SQL_E_NE}, {"!=", SQL_E_NE},
               {"<", SQL_E_LT},  {"<=", SQL_E_LE}, {">", SQL_E_GT},  {">=", SQL_E_GE},
               {"||", SQL_E_CONCAT}, {"~~", SQL_E_LIKE}};
    int oi = -1;
    for (int i = 0; i < (int)(sizeof ops / sizeof ops[0]); i++)
      if (!strcmp(opn, ops[i].s)) oi = i;
    if (oi < 0) return sl__sql_error(c, loc, "unknown operator '%s'", opn), NULL;
    if (!lj) { /* unary */
      sql_expr *x = compile(c, rj, sc);
      if (!x) return NULL;
      if (ops[oi].op == SQL_E_ADD && is_num(x->type.kind)) return x;
      if (ops[oi].op != SQL_E_SUB || !is_num(x->type.kind)) {
        char t1[32];
        return sl__sql_error(c, loc, "unary %s does not apply to %s", opn, tn(x->type, t1)), NULL;
      }
      if (x->op == SQL_E_CONST) {
        if (x->type.kind == SL__T_DOUBLE) x->k.u.f = -x->k.u.f;
        else x->k.u.i = -x->k.u.i;
        x->loc = loc;
        return x;
      }
      sql_expr *e = mk(c, SQL_E_NEG, x->type.kind == SL__T_INT ? T(SL__T_INT) : x->type, loc, 1);
      if (e) e->args[0] = x;
      return e;
    }
    sql_expr *l = compile(c, lj, sc);
    sql_expr *r = l ? compile(c, rj, sc) : NULL;
    return binary(c, ops[oi].op, l, r, loc);
  }
  if (!strcmp(kind, "BoolExpr")) {
    const char *bo = sl__sql_js(b, "boolop");
    cJSON *args = sl__sql_j(b, "args"), *a;
    sql_op op = !strcmp(bo, "AND_EXPR") ? SQL_E_AND : !strcmp(bo, "OR_EXPR") ? SQL_E_OR : SQL_E_NOT;
    sql_expr *e = mk(c, op, T(SL__T_BOOL), loc, cJSON_GetArraySize(args));
    if (!e) return NULL;
    int i = 0;
    cJSON_ArrayForEach(a, args) {
      if (!(e->args[i++] = boolean(c, compile(c, a, sc), op == SQL_E_NOT ? "NOT's operand" : op == SQL_E_AND ? "AND's operand" : "OR's operand")))
        return NULL;
    }
    return e;
  }
  if (!strcmp(kind, "NullTest")) {
    sql_expr *x = compile(c, sl__sql_j(b, "arg"), sc);
    const char *t = sl__sql_js(b, "nulltesttype");
    sql_expr *e = x ? mk(c, t && !strcmp(t, "IS_NOT_NULL") ? SQL_E_ISNOTNULL : SQL_E_ISNULL, T(SL__T_BOOL), loc, 1) : NULL;
    if (e) e->args[0] = x;
    return e;
  }
  if (!strcmp(kind, "CaseExpr")) {
    cJSON *args = sl__sql_j(b, "args"), *w, *def = sl__sql_j(b, "defresult");
    int nw = cJSON_GetArraySize(args);
    sql_expr *e = mk(c, SQL_E_CASE, T(SL__T_NULL), loc, 2 * nw + (def != NULL));
    sql_expr *subject = sl__sql_j(b, "arg") ? compile(c, sl__sql_j(b, "arg"), sc) : NULL;
    if (!e || (sl__sql_j(b, "arg") && !subject)) return NULL;
    int i = 0;
    cJSON_ArrayForEach(w, args) {
      cJSON *wb;
      sl__sql_node_kind(w, &wb);
      sql_expr *cond = compile(c, sl__sql_j(wb, "expr"), sc);
      if (subject) cond = binary(c, SQL_E_EQ, subject, cond, sl__sql_jloc(w));
      if (!(e->args[i++] = boolean(c, cond, "a WHEN condition"))) return NULL;
      if (!(e->args[i++] = compile(c, sl__sql_j(wb, "result"), sc))) return NULL;
    }
    if (def && !(e->args[i++] = compile(c, def, sc))) return NULL;
    /* the results: args[1], args[3], ... and the ELSE (the last, when n is odd) */
    sql_expr tmp = {.op = SQL_E_CAST, .type = T(SL__T_NULL)};
    for (int k = 1; k <= e->n; k += 2) {
      int r = k < e->n ? k : e->n - 1;
      if (k == e->n && !(e->n & 1)) break;
      sl__row_type u = common(&tmp, e->args[r]);
      if (u.kind == 0xFF) {
        char t1[32], t2[32];
        return sl__sql_error(c, e->args[r]->loc, "CASE mixes result types %s and %s", tn(tmp.type, t1),
                         tn(e->args[r]->type, t2)), NULL;
      }
      tmp.type = u;
    }
    e->type = tmp.type.kind == SL__T_NULL ? T(SL__T_VARCHAR) : tmp.type;
    for (int k = 1; k <= e->n; k += 2) {
      int r = k < e->n ? k : e->n - 1;
      if (k == e->n && !(e->n & 1)) break;
      if (!(e->args[r] = sl__sql_coerce(c, e->args[r], e->type, "a CASE result"))) return NULL;
    }
    return e;
  }
  if (!strcmp(kind, "CoalesceExpr")) {
    /* same as the function */
    cJSON *fn = cJSON_CreateObject();
    if (!fn) return sl__sql_oom(c), NULL;
    cJSON *names = cJSON_AddArrayToObject(fn, "funcname");
    cJSON *sv = cJSON_CreateObject();
    cJSON *str = cJSON_AddObjectToObject(sv, "String");
    cJSON_AddStringToObject(str, "sval", "coalesce");
    cJSON_AddItemToArray(names, sv);
    cJSON_AddItemReferenceToObject(fn, "args", sl__sql_j(b, "args"));
    sql_expr *e = func(c, fn, sc, loc);
    cJSON_Delete(fn);
    return e;
  }
  if (!strcmp(kind, "FuncCall")) return func(c, b, sc, loc);
  if (!strcmp(kind, "SubLink")) return sl__sql_error(c, loc, "subqueries are not supported"), NULL;
  return sl__sql_error(c, loc, "unsupported expression (%s)", kind[0] ? kind : "empty"), NULL;
}

sql_expr *sl__sql_compile(sql_ctx *c, const cJSON *node, const sql_scope *sc) { return compile(c, node, sc); }

/* ---- EXPLAIN text -------------------------------------------------------------- */

static size_t text(const sql_expr *e, const sql_scope *sc, char *buf, size_t cap) {
  size_t at = 0;
#define OUT(...) (at += (size_t)snprintf(buf + (at < cap ? at : cap), at < cap ? cap - at : 0, __VA_ARGS__))
#define SUB(x) (at += text((x), sc, buf + (at < cap ? at : cap), at < cap ? cap - at : 0))
  static const char *const fn[] = {[SQL_E_UPPER] = "UPPER", [SQL_E_LOWER] = "LOWER",
                                   [SQL_E_LENGTH] = "CHAR_LENGTH", [SQL_E_SUBSTR] = "SUBSTRING",
                                   [SQL_E_TRIM] = "TRIM", [SQL_E_ABS] = "ABS",
                                   [SQL_E_COALESCE] = "COALESCE", [SQL_E_CONCAT_WS_NULL] = "CONCAT"};
  char t1[32];
  switch (e->op) {
    case SQL_E_COL: OUT("%s", sc->names[e->col]); break;
    case SQL_E_CONST: {
      char v[64];
      size_t n = sl__row_format_text(e->type, &e->k, v, sizeof v - 1);
      if (e->k.null) OUT("NULL");
      else if (e->type.kind == SL__T_VARCHAR || e->type.kind == SL__T_TIMESTAMP)
        OUT("'%.*s'", (int)(n < sizeof v ? n : sizeof v - 1), v);
      else if (e->type.kind == SL__T_INTERVAL) OUT("INTERVAL '%lld' MILLISECOND", (long long)e->k.u.i);
      else OUT("%.*s", (int)(n < sizeof v ? n : sizeof v - 1), v);
      break;
    }
    case SQL_E_AND:
    case SQL_E_OR:
      OUT("(");
      for (int i = 0; i < e->n; i++) {
        if (i) OUT(e->op == SQL_E_AND ? " AND " : " OR ");
        SUB(e->args[i]);
      }
      OUT(")");
      break;
    case SQL_E_NOT: OUT("NOT "), SUB(e->args[0]); break;
    case SQL_E_NEG: OUT("-"), SUB(e->args[0]); break;
    case SQL_E_ISNULL: SUB(e->args[0]), OUT(" IS NULL"); break;
    case SQL_E_ISNOTNULL: SUB(e->args[0]), OUT(" IS NOT NULL"); break;
    case SQL_E_CAST: OUT("CAST("), SUB(e->args[0]), OUT(" AS %s)", tn(e->type, t1)); break;
    case SQL_E_EXTRACT: {
      static const char *const f[] = {"YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND",
                                      "MILLISECOND", "DOW", "DOY", "EPOCH", "QUARTER"};
      OUT("EXTRACT(%s FROM ", f[e->col]), SUB(e->args[0]), OUT(")");
      break;
    }
    case SQL_E_CASE:
      OUT("CASE");
      for (int i = 0; i + 1 < e->n; i += 2) OUT(" WHEN "), SUB(e->args[i]), OUT(" THEN "), SUB(e->args[i + 1]);
      if (e->n & 1) OUT(" ELSE "), SUB(e->args[e->n - 1]);
      OUT(" END");
      break;
    case SQL_E_LIKE: OUT("("), SUB(e->args[0]), OUT(e->col ? " NOT LIKE " : " LIKE "), SUB(e->args[1]), OUT(")"); break;
    default:
      if (e->op >= SQL_E_ADD && e->op <= SQL_E_GE && e->op != SQL_E_NEG) {
        OUT("("), SUB(e->args[0]), OUT(" %s ", op_name(e->op)), SUB(e->args[1]), OUT(")");
      } else if (e->op == SQL_E_CONCAT) {
        OUT("("), SUB(e->args[0]), OUT(" || "), SUB(e->args[1]), OUT(")");
      } else {
        OUT("%s(", e->op < sizeof fn / sizeof fn[0] && fn[e->op] ? fn[e->op] : "?");
        for (int i = 0; i < e->n; i++) {
          if (i) OUT(", ");
          SUB(e->args[i]);
        }
        OUT(")");
      }
  }
  return at;
#undef OUT
#undef SUB
}

void sl__sql_expr_text(const sql_expr *e, const sql_scope *sc, char *buf, size_t cap) {
  size_t n = text(e, sc, buf, cap);
  if (n >= cap && cap) {
    if (cap > 4) memcpy(buf + cap - 4, "...", 4);
    else buf[cap - 1] = 0;
  }
}

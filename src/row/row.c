/*
 * row.c -- the binary row (layout in row.h) and its text forms: values
 * parsed from and printed as text, CSV lines, JSON objects, Flink's print
 * format.  Nothing here allocates; every writer returns the size it needs
 * so a caller can size its scratch memory and call again.
 */
#include "row/row.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const int64_t sl__row_pow10[19] = {1LL,
                                   10LL,
                                   100LL,
                                   1000LL,
                                   10000LL,
                                   100000LL,
                                   1000000LL,
                                   10000000LL,
                                   100000000LL,
                                   1000000000LL,
                                   10000000000LL,
                                   100000000000LL,
                                   1000000000000LL,
                                   10000000000000LL,
                                   100000000000000LL,
                                   1000000000000000LL,
                                   10000000000000000LL,
                                   100000000000000000LL,
                                   1000000000000000000LL};

const char *sl__row_type_name(sl__row_type t, char *buf, size_t cap) {
  static const char *const names[] = {"NULL",   "BOOLEAN", "INT",       "BIGINT",  "DECIMAL",
                                      "DOUBLE", "VARCHAR", "TIMESTAMP", "INTERVAL"};
  if (t.kind == SL__T_DECIMAL)
    snprintf(buf, cap, "DECIMAL(%d, %d)", t.precision, t.scale);
  else
    snprintf(buf, cap, "%s", t.kind <= SL__T_INTERVAL ? names[t.kind] : "?");
  return buf;
}

/* ---- binary ----------------------------------------------------------------- */

size_t sl__row_size(const sl__row_type *types, const sl__val *vals, int n) {
  size_t sz = sl__row_fixed_size(n);
  for (int i = 0; i < n; i++)
    if (types[i].kind == SL__T_VARCHAR && !vals[i].null) sz += vals[i].u.s.n;
  return sz;
}

size_t sl__row_write(void *buf, const sl__row_type *types, const sl__val *vals, int n) {
  uint8_t *b = buf;
  size_t bm = sl__row_bitmap_size(n), tail = sl__row_fixed_size(n);
  memset(b, 0, tail);
  for (int i = 0; i < n; i++) {
    uint8_t *slot = b + bm + 8 * (size_t)i;
    if (vals[i].null) {
      b[i / 8] |= (uint8_t)(1u << (i % 8));
      continue;
    }
    if (types[i].kind == SL__T_VARCHAR) {
      uint32_t off = (uint32_t)tail, len = vals[i].u.s.n;
      memcpy(slot, &off, 4);
      memcpy(slot + 4, &len, 4);
      if (len) memcpy(b + tail, vals[i].u.s.p, len);
      tail += len;
    } else {
      memcpy(slot, &vals[i].u, 8);
    }
  }
  return tail;
}

void sl__row_get(const void *row, int n, const sl__row_type *types, int i, sl__val *out) {
  const uint8_t *b = row;
  const uint8_t *slot = b + sl__row_bitmap_size(n) + 8 * (size_t)i;
  out->null = (uint8_t)((b[i / 8] >> (i % 8)) & 1);
  if (types[i].kind == SL__T_VARCHAR) {
    uint32_t off, len;
    memcpy(&off, slot, 4);
    memcpy(&len, slot + 4, 4);
    out->u.s.p = (const char *)b + off;
    out->u.s.n = len;
  } else {
    memcpy(&out->u, slot, 8);
  }
}

int sl__row_check(const void *row, size_t len, const sl__row_type *types, int n) {
  if (len < sl__row_fixed_size(n)) return -1;
  const uint8_t *b = row;
  for (int i = 0; i < n; i++) {
    if (types[i].kind != SL__T_VARCHAR) continue;
    uint32_t off, sz;
    memcpy(&off, b + sl__row_bitmap_size(n) + 8 * (size_t)i, 4);
    memcpy(&sz, b + sl__row_bitmap_size(n) + 8 * (size_t)i + 4, 4);
    if ((b[i / 8] >> (i % 8)) & 1) continue;
    if (off < sl__row_fixed_size(n) || off > len || sz > len - off) return -1;
  }
  return 0;
}

/* ---- dates ------------------------------------------------------------------ */

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t sl__days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void sl__civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

/* n digits at s into *v; 0 or -1. */
static int digits(const char *s, const char *end, int n, int *v) {
  if (end - s < n) return -1;
  int x = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  return 0;
}

/* YYYY-MM-DD[( |T)HH:MM[:SS[.fff...]]][Z] */
static int parse_ts(const char *s, size_t len, int64_t *ms) {
  const char *e = s + len;
  int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
  if (digits(s, e, 4, &y) || e - s < 10 || s[4] != '-' || digits(s + 5, e, 2, &mo) ||
      s[7] != '-' || digits(s + 8, e, 2, &d))
    return -1;
  const char *p = s + 10;
  if (p < e && (*p == ' ' || *p == 'T')) {
    p++;
    if (digits(p, e, 2, &h) || p + 2 >= e || p[2] != ':' || digits(p + 3, e, 2, &mi)) return -1;
    p += 5;
    if (p < e && *p == ':') {
      if (digits(p + 1, e, 2, &sec)) return -1;
      p += 3;
      if (p < e && *p == '.') {
        p++;
        int nd = 0;
        while (p < e && *p >= '0' && *p <= '9') {
          if (nd < 3) frac = frac * 10 + (*p - '0');
          nd++, p++;
        }
        if (!nd) return -1;
        for (; nd < 3; nd++) frac *= 10;
      }
    }
  }
  if (p < e && *p == 'Z') p++;
  if (p != e) return -1;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59) return -1;
  if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
  *ms = ((sl__days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000LL + sec * 1000LL + frac;
  return 0;
}

static int parse_decimal(sl__row_type t, const char *s, size_t len, int64_t *out) {
  const char *p = s, *e = s + len;
  int neg = 0;
  if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
  __int128 v = 0;
  int int_digits = 0, frac_digits = 0, any = 0, round_up = 0;
  for (; p < e && *p >= '0' && *p <= '9'; p++, any = 1) {
    if (v || *p != '0') int_digits++;
    if (int_digits > 18) return -1;
    v = v * 10 + (*p - '0');
  }
  if (p < e && *p == '.') {
    for (p++; p < e && *p >= '0' && *p <= '9'; p++, any = 1) {
      if (frac_digits < t.scale) {
        v = v * 10 + (*p - '0');
        frac_digits++;
      } else if (frac_digits++ == t.scale) {
        round_up = *p >= '5'; /* half away from zero */
      }
    }
  }
  if (!any || p != e) return -1;
  for (int f = frac_digits < t.scale ? frac_digits : t.scale; f < t.scale; f++) v *= 10;
  v += round_up;
  if (v >= sl__row_pow10[t.precision]) return -2;
  *out = (int64_t)(neg ? -v : v);
  return 0;
}

int sl__row_parse_text(sl__row_type t, const char *s, size_t len, sl__val *out, const char **why) {
  char buf[64];
  out->null = 0;
  switch (t.kind) {
    case SL__T_VARCHAR:
      out->u.s.p = s;
      out->u.s.n = (uint32_t)len;
      return 0;
    case SL__T_BOOL: {
      static const char *const yes[] = {"true", "t", "1", "yes", "y"}, *const no[] = {"false", "f", "0", "no", "n"};
      for (size_t k = 0; k < 5; k++) {
        if (len == strlen(yes[k]) && !strncasecmp(s, yes[k], len)) return out->u.i = 1, 0;
        if (len == strlen(no[k]) && !strncasecmp(s, no[k], len)) return out->u.i = 0, 0;
      }
      *why = "not a BOOLEAN (true or false)";
      return -1;
    }
    case SL__T_INT:
    case SL__T_BIGINT: {
      if (!len || len >= sizeof buf) goto bad_int;
      memcpy(buf, s, len);
      buf[len] = 0;
      char *end;
      errno = 0;
      long long v = strtoll(buf, &end, 10);
      if (*end || errno || buf[0] == ' ' || buf[0] == '\t') goto bad_int;
      if (t.kind == SL__T_INT && (v < INT32_MIN || v > INT32_MAX)) {
        *why = "out of range for INT";
        return -1;
      }
      out->u.i = v;
      return 0;
    bad_int:
      *why = t.kind == SL__T_INT ? "not an INT" : "not a BIGINT";
      return -1;
    }
    case SL__T_DOUBLE: {
      if (!len || len >= sizeof buf) goto bad_dbl;
      memcpy(buf, s, len);
      buf[len] = 0;
      char *end;
      errno = 0;
      double v = strtod(buf, &end);
      if (*end || !isfinite(v) || buf[0] == ' ' || buf[0] == '\t') goto bad_dbl;
      out->u.f = v;
      return 0;
    bad_dbl:
      *why = "not a DOUBLE (a finite number)";
      return -1;
    }
    case SL__T_DECIMAL: {
      int rc = parse_decimal(t, s, len, &out->u.i);
      if (rc == -1) *why = "not a DECIMAL";
      if (rc == -2) *why = "out of range for its DECIMAL precision";
      return rc ? -1 : 0;
    }
    case SL__T_TIMESTAMP:
      if (parse_ts(s, len, &out->u.i)) {
        *why = "not a TIMESTAMP (YYYY-MM-DD HH:MM:SS[.fff])";
        return -1;
      }
      return 0;
    default:
      *why = "a type without a text form";
      return -1;
  }
}

static size_t put(char *buf, size_t cap, size_t at, const char *s, size_t n) {
  if (at + n <= cap) memcpy(buf + at, s, n);
  return at + n;
}

size_t sl__row_format_text(sl__row_type t, const sl__val *v, char *buf, size_t cap) {
  char tmp[64];
  int n = 0;
  if (v->null) return 0;
  switch (t.kind) {
    case SL__T_VARCHAR: return put(buf, cap, 0, v->u.s.p, v->u.s.n);
    case SL__T_BOOL: n = snprintf(tmp, sizeof tmp, "%s", v->u.i ? "true" : "false"); break;
    case SL__T_INT:
    case SL__T_BIGINT:
    case SL__T_INTERVAL: n = snprintf(tmp, sizeof tmp, "%lld", (long long)v->u.i); break;
    case SL__T_DOUBLE: {
      /* the fewest significant digits that read back; plain notation for
       * exponents -5 .. 16 (10, not 1e+01), else an exponent */
      int prec = 1;
      for (; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v->u.f);
        if (strtod(tmp, NULL) == v->u.f) break;
      }
      snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v->u.f);
      int x = atoi(strchr(tmp, 'e') + 1);
      if (x >= -5 && x < 17)
        n = snprintf(tmp, sizeof tmp, "%.*f", prec - 1 - x > 0 ? prec - 1 - x : 0, v->u.f);
      else
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, v->u.f);
      break;
    }
    case SL__T_DECIMAL: {
      int64_t x = v->u.i;
      unsigned long long a = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
      unsigned long long p = (unsigned long long)sl__row_pow10[t.scale];
      if (t.scale)
        n = snprintf(tmp, sizeof tmp, "%s%llu.%0*llu", x < 0 ? "-" : "", a / p, (int)t.scale, a % p);
      else
        n = snprintf(tmp, sizeof tmp, "%lld", (long long)x);
      break;
    }
    case SL__T_TIMESTAMP: {
      int64_t ms = v->u.i, days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
      int64_t rem = ms - days * 86400000, y;
      int mo, d;
      sl__civil_from_days(days, &y, &mo, &d);
      n = snprintf(tmp, sizeof tmp, "%04lld-%02d-%02d %02d:%02d:%02d", (long long)y, mo, d,
                   (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60));
      int f = (int)(rem % 1000);
      if (f) { /* PostgreSQL's style: trailing zeros dropped */
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, ".%03d", f);
        while (tmp[n - 1] == '0') n--;
      }
      break;
    }
    default: return 0;
  }
  return put(buf, cap, 0, tmp, (size_t)n);
}

/* ---- CSV ---------------------------------------------------------------------- */

int sl__csv_split(const char *line, size_t len, sl__csv_field *f, int max, char *buf, size_t cap,
                  const char **why) {
  if (len && line[len - 1] == '\n') len--;
  if (len && line[len - 1] == '\r') len--;
  size_t i = 0, used = 0;
  int nf = 0;
  for (;;) {
    if (nf == max) {
      *why = "more fields than the table has columns";
      return -1;
    }
    sl__csv_field *x = &f[nf++];
    if (i < len && line[i] == '"') {
      size_t start = ++i;
      int copied = 0;
      char *dst = buf + used;
      size_t dn = 0;
      for (;;) {
        if (i >= len) {
          *why = "unterminated quoted field";
          return -1;
        }
        if (line[i] == '"') {
          if (i + 1 < len && line[i + 1] == '"') { /* "" is one quote: copy out */
            if (!copied) {
              if (used + (i - start) + 1 > cap) goto toolong;
              memcpy(dst, line + start, i - start);
              dn = i - start, copied = 1;
            }
            if (used + dn + 1 > cap) goto toolong;
            dst[dn++] = '"';
            i += 2;
            continue;
          }
          break;
        }
        if (copied) {
          if (used + dn + 1 > cap) goto toolong;
          dst[dn++] = line[i];
        }
        i++;
      }
      *x = copied ? (sl__csv_field){dst, (uint32_t)dn, 1} : (sl__csv_field){line + start, (uint32_t)(i - start), 1};
      if (copied) used += dn;
      i++; /* the closing quote */
      if (i < len && line[i] != ',') {
        *why = "text after a closing quote";
        return -1;
      }
    } else {
      size_t start = i;
      while (i < len && line[i] != ',') i++;
      *x = (sl__csv_field){line + start, (uint32_t)(i - start), 0};
    }
    if (i >= len) return nf;
    i++; /* the comma */
  }
toolong:
  *why = "quoted field too long";
  return -1;
}

static int needs_quotes(const char *s, uint32_t n) {
  if (!n) return 1; /* "" is the empty string; an empty field is NULL */
  for (uint32_t i = 0; i < n; i++)
    if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') return 1;
  return 0;
}

size_t sl__row_to_csv(const void *row, int n, const sl__row_type *types, char *buf, size_t cap) {
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    sl__val v;
    sl__row_get(row, n, types, i, &v);
    if (i) at = put(buf, cap, at, ",", 1);
    if (v.null) continue;
    if (types[i].kind == SL__T_VARCHAR && needs_quotes(v.u.s.p, v.u.s.n)) {
      at = put(buf, cap, at, "\"", 1);
      for (uint32_t k = 0; k < v.u.s.n; k++) {
        if (v.u.s.p[k] == '"') at = put(buf, cap, at, "\"", 1);
        at = put(buf, cap, at, v.u.s.p + k, 1);
      }
      at = put(buf, cap, at, "\"", 1);
    } else {
      at += sl__row_format_text(types[i], &v, at < cap ? buf + at : NULL, at < cap ? cap - at : 0);
    }
  }
  return at;
}

const char sl__row_kind_text[4][3] = {"+I", "-U", "+U", "-D"};

size_t sl__row_to_print(int kind, const void *row, int n, const sl__row_type *types, char *buf,
                        size_t cap) {
  size_t at = put(buf, cap, 0, sl__row_kind_text[kind & 3], 2);
  at = put(buf, cap, at, "[", 1);
  for (int i = 0; i < n; i++) {
    sl__val v;
    sl__row_get(row, n, types, i, &v);
    if (i) at = put(buf, cap, at, ", ", 2);
    if (v.null)
      at = put(buf, cap, at, "null", 4);
    else
      at += sl__row_format_text(types[i], &v, at < cap ? buf + at : NULL, at < cap ? cap - at : 0);
  }
  return put(buf, cap, at, "]", 1);
}

/* ---- JSON --------------------------------------------------------------------- */

static size_t put_json_str(char *buf, size_t cap, size_t at, const char *s, size_t n) {
  at = put(buf, cap, at, "\"", 1);
  for (size_t k = 0; k < n; k++) {
    unsigned char c = (unsigned char)s[k];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c;
      at = put(buf, cap, at, esc, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      at = put(buf, cap, at, esc, 6);
    } else {
      at = put(buf, cap, at, s + k, 1);
    }
  }
  return put(buf, cap, at, "\"", 1);
}

size_t sl__row_to_json(const void *row, int n, const sl__row_type *types, const char *const *names,
                       char *buf, size_t cap) {
  size_t at = put(buf, cap, 0, "{", 1);
  for (int i = 0; i < n; i++) {
    sl__val v;
    sl__row_get(row, n, types, i, &v);
    if (i) at = put(buf, cap, at, ",", 1);
    at = put_json_str(buf, cap, at, names[i], strlen(names[i]));
    at = put(buf, cap, at, ":", 1);
    if (v.null) {
      at = put(buf, cap, at, "null", 4);
    } else if (types[i].kind == SL__T_VARCHAR) {
      at = put_json_str(buf, cap, at, v.u.s.p, v.u.s.n);
    } else if (types[i].kind == SL__T_TIMESTAMP) {
      char tmp[64];
      size_t tn = sl__row_format_text(types[i], &v, tmp, sizeof tmp);
      at = put_json_str(buf, cap, at, tmp, tn);
    } else {
      at += sl__row_format_text(types[i], &v, at < cap ? buf + at : NULL, at < cap ? cap - at : 0);
    }
  }
  return put(buf, cap, at, "}", 1);
}

static const char *ws(const char *p, const char *e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
  return p;
}

static int hex4(const char *p, const char *e, unsigned *v) {
  if (e - p < 4) return -1;
  *v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                 : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                 : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                        : 16u;
    if (d > 15) return -1;
    *v = *v * 16 + d;
  }
  return 0;
}

/* A JSON string at *pp (after the quote): its view (into the line, or
 * unescaped into buf).  0 or -1. */
static int json_str(const char **pp, const char *e, const char **s, uint32_t *n, char *buf,
                    size_t cap, size_t *used) {
  const char *p = *pp, *start = p;
  while (p < e && *p != '"' && *p != '\\') p++;
  if (p < e && *p == '"') {
    *s = start, *n = (uint32_t)(p - start), *pp = p + 1;
    return 0;
  }
  char *dst = buf + *used;
  size_t dn = 0, room = cap - *used;
  if ((size_t)(p - start) > room) return -1;
  memcpy(dst, start, (size_t)(p - start));
  dn = (size_t)(p - start);
  while (p < e && *p != '"') {
    char c = *p++;
    if (c == '\\') {
      if (p >= e) return -1;
      char x = *p++;
      unsigned cp;
      switch (x) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case '/': case '\\': case '"': c = x; break;
        case 'u':
          if (hex4(p, e, &cp)) return -1;
          p += 4;
          if (cp >= 0xD800 && cp < 0xDC00) { /* a surrogate pair */
            unsigned lo;
            if (e - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, e, &lo) || lo < 0xDC00 ||
                lo > 0xDFFF)
              return -1;
            p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          if (dn + 4 > room) return -1;
          if (cp < 0x80) {
            dst[dn++] = (char)cp;
          } else if (cp < 0x800) {
            dst[dn++] = (char)(0xC0 | (cp >> 6));
            dst[dn++] = (char)(0x80 | (cp & 0x3F));
          } else if (cp < 0x10000) {
            dst[dn++] = (char)(0xE0 | (cp >> 12));
            dst[dn++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            dst[dn++] = (char)(0x80 | (cp & 0x3F));
          } else {
            dst[dn++] = (char)(0xF0 | (cp >> 18));
            dst[dn++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            dst[dn++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            dst[dn++] = (char)(0x80 | (cp & 0x3F));
          }
          continue;
        default: return -1;
      }
    }
    if (dn + 1 > room) return -1;
    dst[dn++] = c;
  }
  if (p >= e) return -1;
  *s = dst, *n = (uint32_t)dn, *pp = p + 1, *used += dn;
  return 0;
}

/* Skip one JSON value (objects and arrays by bracket depth). */
static const char *json_skip(const char *p, const char *e) {
  int depth = 0;
  do {
    p = ws(p, e);
    if (p >= e) return NULL;
    if (*p == '"') {
      for (p++; p < e && *p != '"'; p++)
        if (*p == '\\') p++;
      if (p >= e) return NULL;
      p++;
    } else if (*p == '{' || *p == '[') {
      depth++, p++;
    } else if (*p == '}' || *p == ']') {
      depth--, p++;
    } else {
      while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ') p++;
    }
    p = ws(p, e);
    if (depth > 0 && p < e && (*p == ',' || *p == ':')) p++;
  } while (depth > 0);
  return p;
}

int sl__json_members(const char *line, size_t len, int n, const char *const *names,
                     sl__json_span *spans, const char **why) {
  const char *p = line, *e = line + len;
  char kbuf[256];
  for (int i = 0; i < n; i++) spans[i] = (sl__json_span){NULL, 0};
  p = ws(p, e);
  if (p >= e || *p++ != '{') goto notobj;
  p = ws(p, e);
  if (p < e && *p == '}') return ws(p + 1, e) == e ? 0 : (*why = "not a JSON object", -1);
  for (;;) {
    p = ws(p, e);
    if (p >= e || *p++ != '"') goto notobj;
    const char *k;
    uint32_t kn;
    size_t used = 0;
    if (json_str(&p, e, &k, &kn, kbuf, sizeof kbuf, &used)) goto notobj;
    p = ws(p, e);
    if (p >= e || *p++ != ':') goto notobj;
    p = ws(p, e);
    const char *v = p;
    if (!(p = json_skip(p, e))) goto notobj;
    size_t vn = (size_t)(p - v);
    while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t' || v[vn - 1] == '\r' || v[vn - 1] == '\n')) vn--;
    for (int i = 0; i < n; i++)
      if (strlen(names[i]) == kn && !memcmp(names[i], k, kn)) spans[i] = (sl__json_span){v, vn};
    p = ws(p, e);
    if (p < e && *p == ',') {
      p++;
      continue;
    }
    if (p < e && *p == '}' && ws(p + 1, e) == e) return 0;
    goto notobj;
  }
notobj:
  *why = "not a JSON object";
  return -1;
}

int sl__row_from_json(const char *line, size_t len, int n, const sl__row_type *types,
                      const char *const *names, sl__val *vals, char *buf, size_t cap,
                      const char **why, int *bad_col) {
  const char *p = line, *e = line + len;
  size_t used = 0;
  *bad_col = -1;
  for (int i = 0; i < n; i++) vals[i] = (sl__val){.null = 1};
  p = ws(p, e);
  if (p >= e || *p++ != '{') goto notobj;
  p = ws(p, e);
  if (p < e && *p == '}') p++;
  else
    for (;;) {
      p = ws(p, e);
      if (p >= e || *p++ != '"') goto notobj;
      const char *k;
      uint32_t kn;
      if (json_str(&p, e, &k, &kn, buf, cap, &used)) goto notobj;
      p = ws(p, e);
      if (p >= e || *p++ != ':') goto notobj;
      p = ws(p, e);
      int col = -1;
      for (int i = 0; i < n && col < 0; i++)
        if (strlen(names[i]) == kn && !memcmp(names[i], k, kn)) col = i;
      if (col < 0) {
        if (!(p = json_skip(p, e))) goto notobj;
      } else if (p < e && *p == '"') {
        p++;
        const char *s;
        uint32_t sn;
        if (json_str(&p, e, &s, &sn, buf, cap, &used)) goto notobj;
        if (sl__row_parse_text(types[col], s, sn, &vals[col], why)) return *bad_col = col, -1;
      } else if (e - p >= 4 && !memcmp(p, "null", 4)) {
        vals[col].null = 1;
        p += 4;
      } else if (p < e && (*p == '{' || *p == '[')) {
        *why = "an object or array where a column's value was expected";
        return *bad_col = col, -1;
      } else {
        const char *s = p;
        while (p < e && *p != ',' && *p != '}' && *p != ' ' && *p != '\t') p++;
        if (types[col].kind == SL__T_VARCHAR) { /* a number or boolean as text */
          vals[col] = (sl__val){.u.s = {s, (uint32_t)(p - s)}};
        } else if (types[col].kind == SL__T_TIMESTAMP) { /* a number: epoch milliseconds */
          if (sl__row_parse_text((sl__row_type){SL__T_BIGINT, 0, 0}, s, (size_t)(p - s), &vals[col], why)) {
            *why = "not a TIMESTAMP (a string YYYY-MM-DD HH:MM:SS[.fff] or a number of epoch ms)";
            return *bad_col = col, -1;
          }
        } else if (sl__row_parse_text(types[col], s, (size_t)(p - s), &vals[col], why)) {
          return *bad_col = col, -1;
        }
      }
      p = ws(p, e);
      if (p < e && *p == ',') {
        p++;
        continue;
      }
      if (p < e && *p == '}') {
        p++;
        break;
      }
      goto notobj;
    }
  p = ws(p, e);
  if (p != e) goto notobj;
  return 0;
notobj:
  *why = "not a JSON object";
  return -1;
}

/*
 * records.c -- typed helpers for the boilerplate every job repeats
 * (include/sluice.h, "Typed values, keys and fields"): reading int64 and
 * double values and keys, building values and keys in the instance's
 * scratch memory, and splitting delimited text (CSV quoting) into fields.
 *
 * Numbers travel as their 8 bytes in host order, the way a C struct member
 * holds them; a record's bytes need not be aligned, hence memcpy.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "sluice.h"

static int get8(const void *p, uint32_t len, void *out) {
  if (!p || len != 8) return -SL_EBADREC;
  memcpy(out, p, 8);
  return 0;
}

int sl_record_get_i64(const sl_record *r, int64_t *v) {
  return r && v ? get8(r->value, r->value_len, v) : -SL_EINVAL;
}
int sl_record_get_f64(const sl_record *r, double *v) {
  return r && v ? get8(r->value, r->value_len, v) : -SL_EINVAL;
}
int sl_record_key_i64(const sl_record *r, int64_t *v) {
  return r && v ? get8(r->key, r->key_len, v) : -SL_EINVAL;
}

/* n bytes of p copied into scratch; NULL on out-of-memory. */
static const void *copy(sl_ctx *ctx, const void *p, size_t n) {
  void *d = sl_ctx_scratch(ctx, n ? n : 1);
  if (d && n) memcpy(d, p, n);
  return d;
}

/* *dst, *dlen = a copy of p[0..n) in scratch memory (a record's value or
 * key). */
static int set_bytes(sl_ctx *ctx, const void **dst, uint32_t *dlen, const void *p, size_t n) {
  if (!ctx || n > UINT32_MAX) return -SL_EINVAL;
  const void *d = copy(ctx, p, n);
  if (!d) return -SL_ENOMEM;
  *dst = d;
  *dlen = (uint32_t)n;
  return 0;
}
#define set_value(ctx, r, p, n) ((r) ? set_bytes(ctx, &(r)->value, &(r)->value_len, p, n) : -SL_EINVAL)
#define set_key(ctx, r, p, n) ((r) ? set_bytes(ctx, &(r)->key, &(r)->key_len, p, n) : -SL_EINVAL)

int sl_record_set_i64(sl_ctx *ctx, sl_record *r, int64_t v) { return set_value(ctx, r, &v, 8); }
int sl_record_set_f64(sl_ctx *ctx, sl_record *r, double v) { return set_value(ctx, r, &v, 8); }
int sl_record_set_str(sl_ctx *ctx, sl_record *r, const void *s, size_t len) {
  return s || !len ? set_value(ctx, r, s, len) : -SL_EINVAL;
}
int sl_record_set_key_i64(sl_ctx *ctx, sl_record *r, int64_t v) { return set_key(ctx, r, &v, 8); }
int sl_record_set_key_str(sl_ctx *ctx, sl_record *r, const void *s, size_t len) {
  return s || !len ? set_key(ctx, r, s, len) : -SL_EINVAL;
}

int sl_record_printf(sl_ctx *ctx, sl_record *r, const char *fmt, ...) {
  if (!ctx || !r || !fmt) return -SL_EINVAL;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return -SL_EINVAL;
  char *d = sl_ctx_scratch(ctx, (size_t)n + 1);
  if (!d) return -SL_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(d, (size_t)n + 1, fmt, ap);
  va_end(ap);
  r->value = d;
  r->value_len = (uint32_t)n; /* the text, without its NUL */
  return 0;
}

/* ---- fields -------------------------------------------------------------------- */

int sl_fields_split(sl_ctx *ctx, const void *text, size_t len, char sep, sl_field *f,
                    int max) {
  if (!ctx || (!text && len) || !f || max < 1 || sep == '"') return -SL_EINVAL;
  const char *p = text, *end = p + len;
  if (len && end[-1] == '\n') end--; /* a line's end: "\n" or "\r\n" */
  if (end > p && end[-1] == '\r') end--;
  int n = 0;
  for (;;) {
    if (n == max) return -SL_EBADREC; /* more fields than the caller takes */
    sl_field *x = &f[n++];
    if (p < end && *p == '"') { /* quoted: up to the closing quote, "" is one " */
      const char *q = ++p;
      size_t doubled = 0;
      for (;; q++) {
        if (q >= end) return -SL_EBADREC; /* unterminated quote */
        if (*q != '"') continue;
        if (q + 1 < end && q[1] == '"') {
          doubled++, q++;
          continue;
        }
        break;
      }
      if (q + 1 < end && q[1] != sep) return -SL_EBADREC; /* text after the quote */
      if (!doubled) {
        x->data = p;
        x->len = (size_t)(q - p);
      } else { /* unescape into scratch */
        char *d = sl_ctx_scratch(ctx, (size_t)(q - p));
        if (!d) return -SL_ENOMEM;
        size_t k = 0;
        for (const char *s = p; s < q; s++) {
          d[k++] = *s;
          if (*s == '"') s++;
        }
        x->data = d;
        x->len = k;
      }
      p = q + 1;
    } else {
      const char *c = p;
      while (c < end && *c != sep) c++;
      x->data = p;
      x->len = (size_t)(c - p);
      p = c;
    }
    if (p >= end) return n;
    p++; /* the separator */
  }
}

int sl_field_i64(const sl_field *f, int64_t *v) {
  char buf[32], *e;
  if (!f || !v) return -SL_EINVAL;
  if (!f->len || f->len >= sizeof buf) return -SL_EBADREC;
  memcpy(buf, f->data, f->len);
  buf[f->len] = 0;
  errno = 0;
  long long x = strtoll(buf, &e, 10);
  if (errno || *e || buf[0] == ' ' || buf[0] == '\t') return -SL_EBADREC;
  *v = x;
  return 0;
}

int sl_field_f64(const sl_field *f, double *v) {
  char buf[64], *e;
  if (!f || !v) return -SL_EINVAL;
  if (!f->len || f->len >= sizeof buf) return -SL_EBADREC;
  memcpy(buf, f->data, f->len);
  buf[f->len] = 0;
  errno = 0;
  double x = strtod(buf, &e);
  if (errno || *e || buf[0] == ' ' || buf[0] == '\t' || !isfinite(x)) return -SL_EBADREC;
  *v = x;
  return 0;
}

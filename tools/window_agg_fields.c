/*
 * window_agg_fields.c -- the field parsers and the decimal formatter of
 * `sluice run window-agg` (see window_agg_fields.h).  Pure functions of
 * their bytes: no allocation, no state.
 */
#include "window_agg_fields.h"

#include <stdio.h>
#include <string.h>

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A non-negative int64 of decimal digits only.  NULL or the reason. */
const char *wa_parse_ts(const char *s, size_t n, int64_t *out) {
  if (!n) return "timestamp: empty";
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit(s[i]))
      return "timestamp: not a non-negative integer of milliseconds";
    unsigned d = (unsigned)(s[i] - '0');
    if (v > ((uint64_t)INT64_MAX - d) / 10)
      return "timestamp: larger than 9223372036854775807";
    v = v * 10 + d;
  }
  *out = (int64_t)v;
  return NULL;
}

/* [+-]digits[.digits] with 1..9 fractional digits, the integer part within
 * int64.  NULL or the reason; *v scaled by 10^9, *scale fractional digits. */
const char *wa_parse_value(const char *s, size_t n, __int128 *v, int *scale) {
  if (!n) return "value: empty";
  size_t i = 0;
  int neg = 0;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    i = 1;
  }
  size_t first = i;
  uint64_t ip = 0;
  const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < n && is_digit(s[i]); i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (ip > (limit - d) / 10)
      return "value: integer part outside the 64-bit range";
    ip = ip * 10 + d;
  }
  if (i == first)
    return "value: not a decimal number (expected e.g. 42, -7 or 12.25)";
  int sc = 0;
  uint64_t frac = 0;
  if (i < n && s[i] == '.') {
    for (i++; i < n && is_digit(s[i]); i++) {
      if (sc == WA_MAX_SCALE) return "value: more than 9 fractional digits";
      frac = frac * 10 + (unsigned)(s[i] - '0');
      sc++;
    }
    if (!sc) return "value: no digits after the decimal point";
  }
  if (i != n)
    return "value: not a decimal number (only digits, one sign and one '.'; "
           "no spaces or exponents)";
  for (int k = sc; k < WA_MAX_SCALE; k++) frac *= 10;
  __int128 x = (__int128)ip * WA_E9 + (__int128)frac;
  *v = neg ? -x : x;
  *scale = sc;
  return NULL;
}

const char *wa_split(const char *s, size_t n, wa_fields *f, char *buf, size_t bufcap) {
  const char *c1 = n ? memchr(s, ',', n) : NULL;
  const char *c2 = c1 ? memchr(c1 + 1, ',', n - (size_t)(c1 + 1 - s)) : NULL;
  const char *c3 = c2 ? memchr(c2 + 1, ',', n - (size_t)(c2 + 1 - s)) : NULL;
  const char *reason;
  f->ts = 0;
  f->value = 0;
  f->scale = 0;
  f->key = NULL;
  f->key_len = 0;
  if (!c2 || c3) {
    size_t fields = 1;
    for (size_t i = 0; i < n; i++) fields += s[i] == ',';
    snprintf(buf, bufcap, "expected 3 fields timestamp,key,value separated by ',', found %zu",
             fields);
    return buf;
  }
  reason = wa_parse_ts(s, (size_t)(c1 - s), &f->ts);
  if (!reason && c2 == c1 + 1) reason = "key: empty";
  if (!reason) reason = wa_parse_value(c2 + 1, n - (size_t)(c2 + 1 - s), &f->value, &f->scale);
  f->key = c1 + 1;
  f->key_len = (size_t)(c2 - c1 - 1);
  return reason;
}

/* v (scaled by 10^9) with `scale` fractional digits, no exponent; returns
 * the length written to buf (at least 48 bytes). */
size_t wa_fmt_dec(char *buf, __int128 v, int scale) {
  unsigned __int128 a = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
  unsigned __int128 ip = a / WA_E9;
  uint64_t frac = (uint64_t)(a % WA_E9);
  char tmp[48];
  size_t n = 0, o = 0;
  do {
    tmp[n++] = (char)('0' + (int)(ip % 10));
    ip /= 10;
  } while (ip);
  if (v < 0) buf[o++] = '-';
  while (n) buf[o++] = tmp[--n];
  if (scale > 0) {
    buf[o++] = '.';
    for (int k = scale; k < WA_MAX_SCALE; k++) frac /= 10;
    for (int k = scale - 1; k >= 0; k--) {
      buf[o + (size_t)k] = (char)('0' + (int)(frac % 10));
      frac /= 10;
    }
    o += (size_t)scale;
  }
  return o;
}

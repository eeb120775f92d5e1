/*
 * window_agg_fields.h -- the field parsers of `sluice run window-agg`
 * (CSV lines `timestamp_ms,key,value`) and the exact decimal formatter of
 * its results, apart from the job so the fuzz suite (tests/fuzz/) can call
 * them.  Values are exact decimals held as an __int128 scaled by 10^9; see
 * job_window_agg.c for how the job uses them.
 */
#ifndef SL_WINDOW_AGG_FIELDS_H
#define SL_WINDOW_AGG_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#define WA_E9 1000000000LL
#define WA_MAX_SCALE 9

/* A parsed line; key points into the line. */
typedef struct wa_fields {
  int64_t ts;
  const char *key;
  size_t key_len;
  __int128 value; /* scaled by 10^9 */
  int scale;      /* fractional digits written (0..9) */
} wa_fields;

/* A non-negative int64 of decimal digits only.  NULL or the reason. */
const char *wa_parse_ts(const char *s, size_t n, int64_t *out);
/* [+-]digits[.digits] with 1..9 fractional digits, the integer part within
 * int64.  NULL or the reason; *v scaled by 10^9, *scale fractional digits. */
const char *wa_parse_value(const char *s, size_t n, __int128 *v, int *scale);
/* Splits s[0..n) (no '\n'; a trailing '\r' is the caller's to drop) into
 * exactly three fields and parses them.  NULL, or the reason (a static
 * string, or written to buf[0..bufcap)). */
const char *wa_split(const char *s, size_t n, wa_fields *f, char *buf, size_t bufcap);
/* v (scaled by 10^9) with `scale` fractional digits, no exponent; returns
 * the length written to buf (at least 48 bytes). */
size_t wa_fmt_dec(char *buf, __int128 v, int scale);

#endif

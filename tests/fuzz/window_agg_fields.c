/*
 * window_agg_fields.c -- fuzzes the CSV field parsers of `sluice run
 * window-agg` (tools/window_agg_fields.c): the input is one line.
 * Properties, each against something computed here: a parsed line has
 * exactly two commas before the value and a non-empty key that is the
 * bytes between them; a parsed timestamp printed with %lld is the field
 * without its leading zeros; a parsed value printed by wa_fmt_dec parses
 * back to the same value and scale; and printing never writes more than
 * the 48 bytes the formatter promises.
 */
#include <inttypes.h>

#include "fuzz_util.h"
#include "window_agg_fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  char buf[96];
  wa_fields f;
  const char *reason = wa_split(s, size, &f, buf, sizeof buf);
  size_t commas = 0;
  for (size_t i = 0; i < size; i++) commas += s[i] == ',';
  if (reason) {
    FZ_CHECK(reason[0] != 0);
    return 0;
  }
  FZ_CHECK(commas == 2);
  const char *c1 = memchr(s, ',', size);
  FZ_CHECK(f.key == c1 + 1 && f.key_len > 0 && f.key[f.key_len] == ',');
  /* the timestamp: digits only, its value printed back */
  char ts[32], want[32];
  size_t tl = (size_t)(c1 - s), z = 0;
  while (z + 1 < tl && s[z] == '0') z++;
  FZ_CHECK(tl - z < sizeof want);
  memcpy(want, s + z, tl - z);
  want[tl - z] = 0;
  snprintf(ts, sizeof ts, "%" PRId64, f.ts);
  FZ_CHECK(f.ts >= 0 && !strcmp(ts, want));
  /* the value: printed and parsed back */
  FZ_CHECK(f.scale >= 0 && f.scale <= WA_MAX_SCALE);
  char out[64];
  memset(out, 0x55, sizeof out);
  size_t n = wa_fmt_dec(out, f.value, f.scale);
  FZ_CHECK(n <= 48);
  for (size_t i = 48; i < sizeof out; i++) FZ_CHECK(out[i] == 0x55);
  __int128 v2;
  int sc2;
  FZ_CHECK(wa_parse_value(out, n, &v2, &sc2) == NULL);
  FZ_CHECK(v2 == f.value && sc2 == f.scale);
  return 0;
}

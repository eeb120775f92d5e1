/*
 * config.c -- fuzzes configuration parsing (src/core/config.c and the
 * value parsers in src/core/util.c).  Byte 0 picks a key of the table
 * (sl_config_key_at); the rest, up to the first NUL, is its value, set
 * through sl_env_set on one environment (as `-D key=value` does).  The
 * same bytes are also given to every value parser and, split at '=', as
 * an arbitrary key and value.  Properties: a value that was accepted is
 * accepted again with the same result, and the text it is shown with
 * (sl_env_get) is the text that was set.
 */
#include "core/core.h"
#include "core/config.h"
#include "fuzz_util.h"

static sl_env *g_env;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_env) g_env = sl_env_new();
  FZ_CHECK(g_env != NULL);
  if (!size) return 0;
  size_t nkeys = 0;
  while (sl_config_key_at(nkeys)) nkeys++;
  const sl_config_key *k = sl_config_key_at(data[0] % nkeys);
  char *v = malloc(size);
  memcpy(v, data + 1, size - 1);
  v[size - 1] = 0;
  int rc = sl_env_set(g_env, k->key, v);
  if (!rc) {
    const char *shown = sl_env_get(g_env, k->key);
    FZ_CHECK(shown && !strcmp(shown, v));
    FZ_CHECK(sl_env_set(g_env, k->key, v) == 0);
  } else {
    FZ_CHECK(rc == -SL_ECONFIG || rc == -SL_EINVAL || rc == -SL_ENOMEM);
  }
  sl_env_set(g_env, k->key, k->deflt); /* back to the default */
  int64_t a, b;
  if (!sl__parse_int(v, &a)) FZ_CHECK(!sl__parse_int(v, &b) && a == b);
  if (!sl__parse_bool(v, &a)) FZ_CHECK(a == 0 || a == 1);
  if (!sl__parse_duration_ms(v, &a)) FZ_CHECK(a >= 0);
  if (!sl__parse_size(v, &a)) FZ_CHECK(a >= 0);
  char *eq = strchr(v, '=');
  if (eq) {
    *eq = 0;
    sl_env_set(g_env, v, eq + 1);
    if (sl_config_key_at(0) && !strcmp(v, sl_config_key_at(0)->key))
      sl_env_set(g_env, v, sl_config_key_at(0)->deflt);
  }
  free(v);
  return 0;
}

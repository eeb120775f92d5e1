/*
 * config.c -- typed configuration values, set and validated from the key
 * table in config.h.
 */
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/core.h"

typedef struct {
  const char *key;
  sl__conf_type type;
  const char *def;
  int64_t min, max;
  const char *doc;
} key_info;

static const key_info g_keys[] = {
#define XX(id, key, type, def, min, max, doc) {key, type, def, min, max, doc},
    SL__CONFIG_KEYS(XX)
#undef XX
};

static const char *type_name(sl__conf_type t) {
  switch (t) {
    case SL__T_INT: return "int";
    case SL__T_BOOL: return "bool";
    case SL__T_DURATION: return "duration";
    case SL__T_SIZE: return "size";
    default: return "string";
  }
}

const sl_config_key *sl_config_key_at(size_t i) {
  static sl_config_key pub[SL__CONF_COUNT];
  if (i >= SL__CONF_COUNT) return NULL;
  pub[i] = (sl_config_key){g_keys[i].key, type_name(g_keys[i].type),
                           g_keys[i].def, g_keys[i].doc};
  return &pub[i];
}

/* String keys that only take some values: "a|b|c". */
static const char *const g_choices[SL__CONF_COUNT] = {
    [SL__CONF_STATE_BACKEND] = "hashmap|rocksdb",
    [SL__CONF_LOG_LEVEL] = "error|warn|info|debug",
    [SL__CONF_RUNTIME_MODE] = "streaming|batch|automatic",
};

/* Other names of keys: Flink's where sluice's table uses another. */
static const struct {
  const char *alias, *key;
} g_aliases[] = {
    {"execution.checkpointing.dir", "state.checkpoints.dir"}, /* Flink 2 */
    {"execution.savepoint.path", "execution.checkpointing.restore"},
};

/* Choices a build may lack: refused with the reason (still listed above,
 * so `sluice conf` and docs/CONFIGURATION.md are the same for every build). */
static const char *missing(int id, const char *v) {
#ifndef SLUICE_WITH_ROCKSDB
  if (id == SL__CONF_STATE_BACKEND && !strcmp(v, "rocksdb")) return SL__NO_ROCKSDB;
#endif
  (void)id, (void)v;
  return NULL;
}

static int is_choice(const char *choices, const char *v) {
  size_t n = strlen(v);
  for (const char *p = choices; p; p = strchr(p, '|'), p = p ? p + 1 : NULL)
    if (!strncmp(p, v, n) && (p[n] == '|' || !p[n])) return 1;
  return 0;
}

static int set_id(sl__conf *conf, int id, const char *value, char *err,
                  size_t errcap) {
  const key_info *k = &g_keys[id];
  if (g_choices[id] && !is_choice(g_choices[id], value)) {
    sl__fmt(err, errcap, "configuration key '%s': '%s' is not one of %s", k->key,
            value, g_choices[id]);
    return -SL_ECONFIG;
  }
  const char *why = missing(id, value);
  if (why) {
    sl__fmt(err, errcap, "configuration key '%s': '%s': %s", k->key, value, why);
    return -SL_ECONFIG;
  }
  int64_t v = 0;
  int rc = 0;
  switch (k->type) {
    case SL__T_INT: rc = sl__parse_int(value, &v); break;
    case SL__T_BOOL: rc = sl__parse_bool(value, &v); break;
    case SL__T_DURATION: rc = sl__parse_duration_ms(value, &v); break;
    case SL__T_SIZE: rc = sl__parse_size(value, &v); break;
    case SL__T_STRING: break;
  }
  if (rc) {
    sl__fmt(err, errcap, "configuration key '%s': cannot parse '%s' as %s%s",
            k->key, value, type_name(k->type), sl__units_hint(k->type));
    return -SL_ECONFIG;
  }
  if (k->type != SL__T_STRING && (v < k->min || v > k->max)) {
    sl__fmt(err, errcap,
            "configuration key '%s': value '%s' is out of range [%lld, %lld]",
            k->key, value, (long long)k->min, (long long)k->max);
    return -SL_ECONFIG;
  }
  char *text = sl__strdup(value);
  char *s = k->type == SL__T_STRING ? sl__strdup(value) : NULL;
  if (!text || (k->type == SL__T_STRING && !s)) {
    sl__free(text);
    sl__free(s);
    sl__fmt(err, errcap, "out of memory");
    return -SL_ENOMEM;
  }
  sl__free(conf->v[id].text);
  sl__free(conf->v[id].s);
  if (id == SL__CONF_LOG_LEVEL) conf->log.level = v = sl__log_level_parse(value);
  conf->v[id] = (sl__conf_val){v, s, text};
  return 0;
}

int sl__conf_init(sl__conf *conf) {
  char err[256];
  memset(conf, 0, sizeof *conf);
  for (int i = 0; i < SL__CONF_COUNT; i++) {
    int rc = set_id(conf, i, g_keys[i].def, err, sizeof err);
    if (rc) {
      sl__conf_free(conf);
      return rc;
    }
  }
  return 0;
}

void sl__conf_free(sl__conf *conf) {
  for (int i = 0; i < SL__CONF_COUNT; i++) {
    sl__free(conf->v[i].text);
    sl__free(conf->v[i].s);
  }
  memset(conf, 0, sizeof *conf);
}

const char *sl__units_hint(int type) {
  switch (type) {
    case SL__T_DURATION:
      return " (a number and a unit: ms|milli|millis|millisecond|milliseconds, "
             "s|sec|secs|second|seconds, min|m|minute|minutes, h|hour|hours, d|day|days; "
             "a bare number is milliseconds)";
    case SL__T_SIZE:
      return " (a number and a unit: b|bytes, k|kb|kib|kibibytes, m|mb|mib|mebibytes, "
             "g|gb|gib|gibibytes, t|tb|tib|tebibytes; a bare number is bytes)";
    default: return "";
  }
}

/* Levenshtein distance of a and b (short strings; -1 when too long). */
static int edit_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 63 || m > 63) return -1;
  int row[64];
  for (size_t j = 0; j <= m; j++) row[j] = (int)j;
  for (size_t i = 1; i <= n; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= m; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[m];
}

const char *sl__conf_suggest(const char *key) {
  const char *best = NULL;
  int bd = 0;
  for (int i = 0; key && i < SL__CONF_COUNT; i++) {
    int d = edit_distance(key, g_keys[i].key);
    if (d >= 0 && (!best || d < bd)) best = g_keys[i].key, bd = d;
  }
  /* a suggestion only when it is close: a few edits, under a third */
  return best && bd <= 4 && (size_t)bd * 3 <= strlen(key) ? best : NULL;
}

int sl__conf_find(const char *key) {
  for (int i = 0; key && i < SL__CONF_COUNT; i++)
    if (!strcmp(g_keys[i].key, key)) return i;
  for (size_t a = 0; key && a < sizeof g_aliases / sizeof g_aliases[0]; a++)
    if (!strcmp(g_aliases[a].alias, key)) return sl__conf_find(g_aliases[a].key);
  return -1;
}

int sl__conf_is_text(int id) { return g_keys[id].type == SL__T_STRING; }

int sl__conf_set(sl__conf *conf, const char *key, const char *value,
                 char *err, size_t errcap) {
  if (!key || !value) {
    sl__fmt(err, errcap, "configuration key and value must not be NULL");
    return -SL_EINVAL;
  }
  int id = sl__conf_find(key);
  if (id >= 0) return set_id(conf, id, value, err, errcap);
  const char *near = sl__conf_suggest(key);
  if (near)
    sl__fmt(err, errcap, "unknown configuration key '%s': did you mean '%s'? (see `sluice "
            "conf --list`)", key, near);
  else
    sl__fmt(err, errcap, "unknown configuration key '%s' (see `sluice conf --list`)", key);
  return -SL_ECONFIG;
}

int sl__conf_foreach_set(const sl__conf *conf, int (*fn)(void *ud, const char *key,
                                                          const char *value), void *ud) {
  for (int i = 0; i < SL__CONF_COUNT; i++) {
    const char *t = conf->v[i].text;
    if (!t || !strcmp(t, g_keys[i].def)) continue;
    /* secrets are never shown */
    int rc = fn(ud, g_keys[i].key, i == SL__CONF_REST_TOKEN ? "******" : t);
    if (rc) return rc;
  }
  return 0;
}

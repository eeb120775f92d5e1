/*
 * kafka_conf.c -- parsing the Kafka connector's options (Flink's names) and
 * kafka:// URIs, and building librdkafka configurations from them
 * (kafka_conf.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/kafka_conf.h"
#include "core/core.h" /* sl__strdup, sl__fmt, sl__parse_duration_ms */

int sl__kafka_secret(const char *key) {
  static const char *const words[] = {"password", "secret", "token", "key", "jaas", "credential"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strstr(key, words[i])) return 1;
  return 0;
}

void sl__kafka_opts_free(sl__kafka_opts *o) {
  sl__free(o->bootstrap);
  for (int i = 0; i < o->n_topics; i++) sl__free(o->topics[i]);
  sl__free(o->topics);
  sl__free(o->topic_pattern);
  sl__free(o->group_id);
  sl__free(o->txn_prefix);
  for (int i = 0; i < o->n_props; i++) {
    sl__free(o->prop_keys[i]);
    sl__free(o->prop_values[i]);
  }
  sl__free(o->prop_keys);
  sl__free(o->prop_values);
  memset(o, 0, sizeof *o);
}

/* value is one of names[0..n): its index, else -1 */
static int one_of(const char *value, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(value, names[i])) return i;
  return -1;
}

static int parse_i64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno) return -1;
  *out = v;
  return 0;
}

static int add_prop(sl__kafka_opts *o, const char *key, const char *value) {
  char **k = sl__realloc(o->prop_keys, sizeof *k * (size_t)(o->n_props + 1));
  if (!k) return -SL_ENOMEM;
  o->prop_keys = k;
  char **v = sl__realloc(o->prop_values, sizeof *v * (size_t)(o->n_props + 1));
  if (!v) return -SL_ENOMEM;
  o->prop_values = v;
  k[o->n_props] = sl__strdup(key);
  v[o->n_props] = sl__strdup(value);
  if (!k[o->n_props] || !v[o->n_props]) {
    sl__free(k[o->n_props]);
    sl__free(v[o->n_props]);
    return -SL_ENOMEM;
  }
  o->n_props++;
  return 0;
}

static int set_topics(sl__kafka_opts *o, const char *list) {
  for (const char *p = list; *p;) {
    const char *e = strchr(p, ';');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len) {
      char **t = sl__realloc(o->topics, sizeof *t * (size_t)(o->n_topics + 1));
      if (!t) return -SL_ENOMEM;
      o->topics = t;
      if (!(t[o->n_topics] = sl__malloc(len + 1))) return -SL_ENOMEM;
      memcpy(t[o->n_topics], p, len);
      t[o->n_topics++][len] = 0;
    }
    p += len + (e != NULL);
  }
  return 0;
}

int sl__kafka_opts_parse(sl__kafka_opts *o, const sl_kafka_option *kv, size_t n, int sink,
                         char *err, size_t errcap) {
  static const char *const startup[] = {"earliest-offset", "latest-offset", "group-offsets",
                                        "timestamp"};
  static const char *const bounded[] = {"unbounded", "latest-offset", "timestamp"};
  static const char *const delivery[] = {"none", "at-least-once", "exactly-once"};
  static const char *const parts[] = {"default", "fixed", "round-robin"};
  static const char *const bools[] = {"false", "true"};
  memset(o, 0, sizeof *o);
  o->startup = -1;
  o->discovery_ms = 300000;
  o->delivery = SL__KAFKA_AT_LEAST_ONCE;
  int rc = 0, has_startup_ts = 0, has_bounded_ts = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const char *k = kv[i].key, *v = kv[i].value;
    if (!k || !v) {
      sl__fmt(err, errcap, "Kafka option %zu: key and value must not be NULL", i);
      rc = -SL_ECONFIG;
      break;
    }
    int side = !strncmp(k, "sink.", 5) ? 1 : !strncmp(k, "scan.", 5) || !strcmp(k, "topic-pattern") ? 0 : -1;
    if (side >= 0 && side != sink) {
      sl__fmt(err, errcap, "Kafka option '%s' is for a %s, not a %s", k, side ? "sink" : "source",
              sink ? "sink" : "source");
      rc = -SL_ECONFIG;
      break;
    }
    int x = 0;
    const char *const *choices = NULL; /* of a bad choice, for the message */
    int n_choices = 0;
    if (!strcmp(k, "properties.bootstrap.servers")) {
      sl__free(o->bootstrap);
      if (!(o->bootstrap = sl__strdup(v))) rc = -SL_ENOMEM;
    } else if (!strcmp(k, "topic")) {
      rc = set_topics(o, v);
    } else if (!strcmp(k, "topic-pattern")) {
      sl__free(o->topic_pattern);
      if (!(o->topic_pattern = sl__strdup(v))) rc = -SL_ENOMEM;
    } else if (!strcmp(k, "properties.group.id")) {
      sl__free(o->group_id);
      if (!(o->group_id = sl__strdup(v))) rc = -SL_ENOMEM;
    } else if (!strcmp(k, "scan.startup.mode")) {
      if ((x = one_of(v, choices = startup, n_choices = 4)) < 0) goto bad_choice;
      o->startup = x;
    } else if (!strcmp(k, "scan.startup.timestamp-millis")) {
      if (parse_i64(v, &o->startup_ts)) goto bad_number;
      has_startup_ts = 1;
    } else if (!strcmp(k, "scan.bounded.mode")) {
      if ((x = one_of(v, choices = bounded, n_choices = 3)) < 0) goto bad_choice;
      o->bounded = x;
    } else if (!strcmp(k, "scan.bounded.timestamp-millis")) {
      if (parse_i64(v, &o->bounded_ts)) goto bad_number;
      has_bounded_ts = 1;
    } else if (!strcmp(k, "scan.topic-partition-discovery.interval")) {
      if (sl__parse_duration_ms(v, &o->discovery_ms) || o->discovery_ms < 0) {
        sl__fmt(err, errcap, "Kafka option '%s': '%s' is not a duration (e.g. 30s, 5 min; 0 "
                             "disables discovery)", k, v);
        rc = -SL_ECONFIG;
      }
    } else if (!strcmp(k, "sink.delivery-guarantee")) {
      if ((x = one_of(v, choices = delivery, n_choices = 3)) < 0) goto bad_choice;
      o->delivery = x;
    } else if (!strcmp(k, "sink.transactional-id-prefix")) {
      sl__free(o->txn_prefix);
      if (!(o->txn_prefix = sl__strdup(v))) rc = -SL_ENOMEM;
    } else if (!strcmp(k, "sink.partitioner")) {
      if ((x = one_of(v, choices = parts, n_choices = 3)) < 0) goto bad_choice;
      o->partitioner = x;
    } else if (!strcmp(k, "sink.empty-value-as-null")) {
      if ((x = one_of(v, choices = bools, n_choices = 2)) < 0) goto bad_choice;
      o->empty_as_null = x;
    } else if (!strncmp(k, "properties.", 11) && k[11]) {
      rc = add_prop(o, k + 11, v);
    } else {
      sl__fmt(err, errcap, "unknown Kafka option '%s' (Flink's Kafka connector options; "
                           "librdkafka's go as properties.<name>)", k);
      rc = -SL_ECONFIG;
    }
    continue;
  bad_choice: {
    char list[160] = "";
    for (int c = 0; c < n_choices; c++)
      sl__fmt(list + strlen(list), sizeof list - strlen(list), "%s%s", c ? ", " : "",
              choices[c]);
    sl__fmt(err, errcap, "Kafka option '%s': '%s' is not one of %s", k, v, list);
  }
    rc = -SL_ECONFIG;
    continue;
  bad_number:
    sl__fmt(err, errcap, "Kafka option '%s': '%s' is not an integer (epoch milliseconds)", k, v);
    rc = -SL_ECONFIG;
  }
  if (!rc && (!o->bootstrap || !*o->bootstrap)) {
    sl__fmt(err, errcap, "Kafka option 'properties.bootstrap.servers' is required");
    rc = -SL_ECONFIG;
  }
  if (!rc && !o->n_topics && !(!sink && o->topic_pattern)) {
    sl__fmt(err, errcap, "Kafka option 'topic'%s is required", sink ? "" : " (or 'topic-pattern')");
    rc = -SL_ECONFIG;
  }
  if (!rc && sink && o->n_topics != 1) {
    sl__fmt(err, errcap, "Kafka option 'topic': a sink writes to one topic, not %d", o->n_topics);
    rc = -SL_ECONFIG;
  }
  if (!rc && o->n_topics && o->topic_pattern) {
    sl__fmt(err, errcap, "Kafka options 'topic' and 'topic-pattern' exclude each other");
    rc = -SL_ECONFIG;
  }
  if (!rc && o->startup == SL__KAFKA_TIMESTAMP && !has_startup_ts) {
    sl__fmt(err, errcap, "Kafka option 'scan.startup.mode' 'timestamp' needs "
                         "'scan.startup.timestamp-millis'");
    rc = -SL_ECONFIG;
  }
  if (!rc && o->bounded == SL__KAFKA_BOUNDED_TIMESTAMP && !has_bounded_ts) {
    sl__fmt(err, errcap, "Kafka option 'scan.bounded.mode' 'timestamp' needs "
                         "'scan.bounded.timestamp-millis'");
    rc = -SL_ECONFIG;
  }
  if (!rc && o->startup == SL__KAFKA_GROUP && !o->group_id) {
    sl__fmt(err, errcap, "Kafka option 'scan.startup.mode' 'group-offsets' needs "
                         "'properties.group.id'");
    rc = -SL_ECONFIG;
  }
  if (!rc && o->startup < 0) o->startup = o->group_id ? SL__KAFKA_GROUP : SL__KAFKA_EARLIEST;
  if (!rc && sink && o->delivery == SL__KAFKA_EXACTLY_ONCE && (!o->txn_prefix || !*o->txn_prefix)) {
    sl__fmt(err, errcap, "Kafka option 'sink.delivery-guarantee' 'exactly-once' needs "
                         "'sink.transactional-id-prefix' (unique per job writing the topic)");
    rc = -SL_ECONFIG;
  }
  if (rc == -SL_ENOMEM) sl__fmt(err, errcap, "out of memory");
  if (rc) sl__kafka_opts_free(o);
  return rc;
}

/* ---- URIs ---------------------------------------------------------------------- */

static int hexval(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* s[0..len) percent-decoded into a new string (NULL: a bad escape, or
 * no memory) */
static char *decode(const char *s, size_t len) {
  char *out = sl__malloc(len + 1), *d = out;
  if (!out) return NULL;
  for (size_t i = 0; i < len; i++) {
    if (s[i] != '%') {
      *d++ = s[i];
      continue;
    }
    int h = i + 2 < len ? hexval((unsigned char)s[i + 1]) : -1;
    int l = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
    if (h < 0 || l < 0) {
      sl__free(out);
      return NULL;
    }
    *d++ = (char)(h * 16 + l);
    i += 2;
  }
  *d = 0;
  return out;
}

void sl__kafka_uri_free(sl_kafka_option *kv, size_t n) {
  for (size_t i = 0; kv && i < n; i++) {
    sl__free((char *)kv[i].key);
    sl__free((char *)kv[i].value);
  }
  sl__free(kv);
}

static int push_kv(sl_kafka_option **kv, size_t *n, char *k, char *v) {
  sl_kafka_option *p = sl__realloc(*kv, sizeof *p * (*n + 1));
  if (!p || !k || !v) {
    sl__free(k);
    sl__free(v);
    if (p) *kv = p;
    return -SL_ENOMEM;
  }
  *kv = p;
  p[*n].key = k;
  p[*n].value = v;
  (*n)++;
  return 0;
}

int sl__kafka_uri_parse(const char *uri, sl_kafka_option **kv, size_t *n, char *err,
                        size_t errcap) {
  *kv = NULL;
  *n = 0;
  if (strncmp(uri, "kafka://", 8)) {
    sl__fmt(err, errcap, "'%s' is not a kafka:// URI", uri);
    return -SL_ECONFIG;
  }
  const char *hosts = uri + 8, *slash = strchr(hosts, '/');
  if (!slash || slash == hosts) {
    sl__fmt(err, errcap, "'%s': expected kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?option=value"
                         "&...]", uri);
    return -SL_ECONFIG;
  }
  const char *q = strchr(slash, '?');
  size_t tlen = q ? (size_t)(q - slash - 1) : strlen(slash + 1);
  int rc = push_kv(kv, n, sl__strdup("properties.bootstrap.servers"),
                   decode(hosts, (size_t)(slash - hosts)));
  if (!rc && tlen) rc = push_kv(kv, n, sl__strdup("topic"), decode(slash + 1, tlen));
  for (const char *p = q ? q + 1 : NULL; !rc && p && *p;) {
    const char *amp = strchr(p, '&');
    size_t len = amp ? (size_t)(amp - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    if (!eq) {
      sl__fmt(err, errcap, "'%s': option '%.*s' has no '=value'", uri, (int)len, p);
      rc = -SL_ECONFIG;
      break;
    }
    char *k = decode(p, (size_t)(eq - p)), *v = decode(eq + 1, len - (size_t)(eq - p) - 1);
    if (!k || !v) {
      sl__free(k);
      sl__free(v);
      sl__fmt(err, errcap, "'%s': a bad %%-escape in option '%.*s'", uri, (int)len, p);
      rc = -SL_ECONFIG;
      break;
    }
    rc = push_kv(kv, n, k, v);
    p = amp ? amp + 1 : NULL;
  }
  if (rc == -SL_ENOMEM) sl__fmt(err, errcap, "out of memory");
  if (!rc && !tlen && !(q && strstr(q, "topic"))) {
    sl__fmt(err, errcap, "'%s': no topic (kafka://HOST:PORT/TOPIC)", uri);
    rc = -SL_ECONFIG;
  }
  if (rc) {
    sl__kafka_uri_free(*kv, *n);
    *kv = NULL;
    *n = 0;
  }
  return rc;
}

/* ---- librdkafka configuration -------------------------------------------------- */

rd_kafka_conf_t *sl__kafka_conf(const sl__kafka_opts *o, const char *client_id, char *err,
                                size_t errcap) {
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  char e[512];
  if (!c) {
    sl__fmt(err, errcap, "out of memory");
    return NULL;
  }
  if (rd_kafka_conf_set(c, "bootstrap.servers", o->bootstrap, e, sizeof e) != RD_KAFKA_CONF_OK ||
      (client_id && rd_kafka_conf_set(c, "client.id", client_id, e, sizeof e) != RD_KAFKA_CONF_OK)) {
    sl__fmt(err, errcap, "Kafka: %s", e);
    rd_kafka_conf_destroy(c);
    return NULL;
  }
  for (int i = 0; i < o->n_props; i++) {
    if (rd_kafka_conf_set(c, o->prop_keys[i], o->prop_values[i], e, sizeof e) != RD_KAFKA_CONF_OK) {
      /* librdkafka's message may quote the value: never a secret's */
      sl__fmt(err, errcap, "Kafka option 'properties.%s': %s", o->prop_keys[i],
              sl__kafka_secret(o->prop_keys[i]) ? "invalid value" : e);
      rd_kafka_conf_destroy(c);
      return NULL;
    }
  }
  return c;
}

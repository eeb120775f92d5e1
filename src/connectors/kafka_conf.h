/*
 * kafka_conf.h -- the options of the Kafka source and sink (Flink's Kafka
 * connector option names), parsed from key/value pairs or a
 * kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?option=value&...] URI, and
 * turned into a librdkafka configuration.  Shared by kafka_source.c and
 * kafka_sink.c; written on the connector SDK only.
 */
#ifndef SL_KAFKA_CONF_H
#define SL_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>

#include "sluice.h"

enum { SL__KAFKA_EARLIEST, SL__KAFKA_LATEST, SL__KAFKA_GROUP, SL__KAFKA_TIMESTAMP };
enum { SL__KAFKA_UNBOUNDED, SL__KAFKA_BOUNDED_LATEST, SL__KAFKA_BOUNDED_TIMESTAMP };
enum { SL__KAFKA_NONE, SL__KAFKA_AT_LEAST_ONCE, SL__KAFKA_EXACTLY_ONCE };
enum { SL__KAFKA_PART_DEFAULT, SL__KAFKA_PART_FIXED, SL__KAFKA_PART_ROUND_ROBIN };

typedef struct sl__kafka_opts {
  char *bootstrap;        /* properties.bootstrap.servers (required) */
  char **topics;          /* topic: one, or a list separated by ';' */
  int n_topics;
  char *topic_pattern;    /* topic-pattern: a POSIX extended regex (source) */
  char *group_id;         /* properties.group.id */
  int startup;            /* scan.startup.mode (default group-offsets as Flink's
                           * SQL connector; earliest when no group id) */
  int64_t startup_ts;     /* scan.startup.timestamp-millis */
  int bounded;            /* scan.bounded.mode (default unbounded) */
  int64_t bounded_ts;     /* scan.bounded.timestamp-millis */
  int64_t discovery_ms;   /* scan.topic-partition-discovery.interval (default
                           * 5 min; 0 disables) */
  int delivery;           /* sink.delivery-guarantee (default at-least-once) */
  char *txn_prefix;       /* sink.transactional-id-prefix (exactly-once) */
  int partitioner;        /* sink.partitioner (default: default) */
  int empty_as_null;      /* sink.empty-value-as-null: a record with an empty
                           * value is a message with a NULL value (a
                           * tombstone; default false: 0 bytes) */
  /* every other properties.* key, without the prefix, for librdkafka */
  char **prop_keys, **prop_values;
  int n_props;
} sl__kafka_opts;

/* Parses the options (sink: 1 for a sink, 0 for a source; options of the
 * other side are errors).  0, or -SL_ECONFIG with a message that names the
 * option (never a password's value) in err. */
int sl__kafka_opts_parse(sl__kafka_opts *o, const sl_kafka_option *kv, size_t n, int sink,
                         char *err, size_t errcap);
/* kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?key=value&...] into options
 * (percent-decoded; the host list becomes properties.bootstrap.servers,
 * the path the topic).  The arrays are sl__malloc'ed: free with
 * sl__kafka_uri_free.  0 or -SL_ECONFIG with the reason. */
int sl__kafka_uri_parse(const char *uri, sl_kafka_option **kv, size_t *n, char *err,
                        size_t errcap);
void sl__kafka_uri_free(sl_kafka_option *kv, size_t n);
void sl__kafka_opts_free(sl__kafka_opts *o);
/* A librdkafka configuration from the options: bootstrap servers, client
 * id, every passed-through property (an error names the property), and
 * the connector's own settings are left to the caller.  NULL with err. */
rd_kafka_conf_t *sl__kafka_conf(const sl__kafka_opts *o, const char *client_id, char *err,
                                size_t errcap);
/* Whether a property key may hold a secret (its value is never printed). */
int sl__kafka_secret(const char *key);

#endif

/*
 * kafka_sink.c -- the Kafka sink (librdkafka).  (Being written: until then
 * every constructor refuses.)
 */
#include "connectors/kafka_conf.h"
#include "sluice_connector.h"

sl_sink *sl_kafka_sink(const sl_kafka_option *options, size_t n) {
  (void)options, (void)n;
  return NULL;
}
sl_sink *sl_kafka_sink_uri(const char *uri) {
  (void)uri;
  return NULL;
}

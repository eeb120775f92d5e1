/*
 * kafka_source.c -- the Kafka source (librdkafka).  (Being written: until
 * then every constructor refuses.)
 */
#include "connectors/kafka_conf.h"
#include "sluice_connector.h"

sl_source *sl_kafka_source(const sl_kafka_option *options, size_t n) {
  (void)options, (void)n;
  return NULL;
}
sl_source *sl_kafka_source_uri(const char *uri) {
  (void)uri;
  return NULL;
}
int sl_kafka_source_set_deserializer(sl_source *src, sl_kafka_deserialize_fn fn, void *ud) {
  (void)src, (void)fn, (void)ud;
  return -SL_EINVAL;
}
int sl_kafka_source_set_watermarks(sl_source *src, const sl_watermark_strategy *strategy) {
  (void)src, (void)strategy;
  return -SL_EINVAL;
}

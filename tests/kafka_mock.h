/*
 * kafka_mock.h -- librdkafka's mock cluster for the Kafka tests: start one
 * in this process (N brokers), create topics, produce messages to a given
 * partition, stop it.  Header-only, for tests.
 */
#ifndef SL_TEST_KAFKA_MOCK_H
#define SL_TEST_KAFKA_MOCK_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <string.h>

typedef struct test_kafka {
  rd_kafka_t *rk;            /* the handle the cluster belongs to */
  rd_kafka_mock_cluster_t *mc;
  const char *bootstraps;    /* "127.0.0.1:P1,127.0.0.1:P2,..." */
  rd_kafka_t *producer;      /* for test_kafka_produce (made on first use) */
} test_kafka;

static inline int test_kafka_start(test_kafka *k, int brokers) {
  char err[512];
  memset(k, 0, sizeof *k);
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  rd_kafka_conf_set(c, "log_level", "0", err, sizeof err);
  k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  if (!k->rk) {
    fprintf(stderr, "kafka mock: %s\n", err);
    return -1;
  }
  k->mc = rd_kafka_mock_cluster_new(k->rk, brokers);
  if (!k->mc) return -1;
  k->bootstraps = rd_kafka_mock_cluster_bootstraps(k->mc);
  return 0;
}

static inline int test_kafka_topic(test_kafka *k, const char *topic, int partitions) {
  return rd_kafka_mock_topic_create(k->mc, topic, partitions, 1) ? -1 : 0;
}

/* One message to topic/partition (partition -1: the default partitioner),
 * with timestamp ts (ms; 0: now); waits until it is delivered.  0 or -1. */
static inline int test_kafka_produce(test_kafka *k, const char *topic, int partition,
                                     const void *key, size_t key_len, const void *value,
                                     size_t value_len, int64_t ts) {
  char err[512];
  if (!k->producer) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", k->bootstraps, err, sizeof err);
    rd_kafka_conf_set(c, "linger.ms", "0", err, sizeof err);
    k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!k->producer) return -1;
  }
  rd_kafka_resp_err_t e = rd_kafka_producev(
      k->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
      RD_KAFKA_V_KEY((void *)key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
      RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  if (e) return -1;
  return rd_kafka_flush(k->producer, 10000) ? -1 : 0;
}

static inline void test_kafka_stop(test_kafka *k) {
  if (k->producer) rd_kafka_destroy(k->producer);
  if (k->mc) rd_kafka_mock_cluster_destroy(k->mc);
  if (k->rk) rd_kafka_destroy(k->rk);
  memset(k, 0, sizeof *k);
}

#endif

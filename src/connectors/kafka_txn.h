/*
 * kafka_txn.h -- ending another process's Kafka transaction: a minimal
 * client of the Kafka protocol (kafka_txn.c) that finds the transaction
 * coordinator of a transactional id (FindCoordinator v1) and sends it
 * EndTxn v0 with a producer id and epoch the caller kept from the producer
 * that began the transaction -- what Flink's KafkaSink does on restore by
 * resuming the producer.  librdkafka cannot: it only ends transactions of
 * its own producer, and re-initialising the transactional id aborts the
 * transaction instead.
 *
 * Plain TCP only (security.protocol PLAINTEXT): the caller checks that no
 * TLS or SASL is configured.  Every wait is bounded and polls `stop`.
 */
#ifndef SL_KAFKA_TXN_H
#define SL_KAFKA_TXN_H

#include <stddef.h>
#include <stdint.h>

/* Kafka error codes sl__kafka_end_txn reports or retries by itself. */
enum {
  SL__KT_NONE = 0,
  SL__KT_COORDINATOR_LOAD_IN_PROGRESS = 14, /* retried */
  SL__KT_COORDINATOR_NOT_AVAILABLE = 15,    /* retried */
  SL__KT_NOT_COORDINATOR = 16,              /* retried (coordinator found again) */
  SL__KT_UNSUPPORTED_VERSION = 35,
  SL__KT_INVALID_PRODUCER_EPOCH = 47,       /* the transaction was ended by another */
  SL__KT_INVALID_TXN_STATE = 48,            /*   producer session, or by the broker */
  SL__KT_INVALID_PRODUCER_ID_MAPPING = 49,  /*   (transaction.timeout.ms, expiry) */
  SL__KT_CONCURRENT_TRANSACTIONS = 51,      /* retried: the coordinator is still ending it */
  SL__KT_UNKNOWN_PRODUCER_ID = 59,          /* ended elsewhere (the id is forgotten) */
  SL__KT_PRODUCER_FENCED = 90,
};

/* Whether Kafka error `code` says another actor already ended the
 * transaction (or the id no longer knows it): it cannot be committed now. */
int sl__kafka_txn_ended_elsewhere(int code);

/* Ends transaction txn_id (producer id pid, epoch) -- commits it when
 * commit is 1, else aborts it -- through its coordinator, found from the
 * bootstrap servers (HOST:PORT[,HOST:PORT...], an optional scheme:// per
 * entry is skipped).  Retriable answers and unreachable brokers are
 * retried with back-off until timeout_ms has passed.  stop(stop_ud) is
 * polled at least every 100 ms; non-zero gives up.
 *
 * Returns 0 with *kafka_err = the coordinator's final answer (SL__KT_NONE:
 * done; anything else: not retriable, or still retriable at the deadline
 * -- err then says so); -SL_EIO when no answer came (err names the brokers
 * tried and why); -SL_ECANCELED when stopped; -SL_EINVAL for a bad
 * bootstrap list or id.  err is always set (never a secret: the protocol
 * carries none). */
int sl__kafka_end_txn(const char *bootstrap, const char *txn_id, int64_t pid, int16_t epoch,
                      int commit, int64_t timeout_ms, int (*stop)(void *), void *stop_ud,
                      int *kafka_err, char *err, size_t errcap);

/* Tests: when set, each request sent and its answer, as one line:
 *   "FindCoordinator ID -> HOST:PORT" | "FindCoordinator ID -> error NAME"
 *   "EndTxn ID pid P epoch E commit|abort -> NAME" (NAME: NONE, or the
 *   Kafka error's name).  Called on the caller's thread. */
extern void (*sl__kafka_txn_trace)(void *ud, const char *line);
extern void *sl__kafka_txn_trace_ud;

#endif

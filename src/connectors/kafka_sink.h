/*
 * kafka_sink.h -- internals of the Kafka sink (kafka_sink.c) that the
 * tests drive: a trace of the exactly-once transaction protocol and a way
 * to "crash" a writer (drop its producers without ending their
 * transactions, as SIGKILL would).
 */
#ifndef SL_KAFKA_SINK_H
#define SL_KAFKA_SINK_H

#include <stdint.h>

/* Transactions per subtask (the pool of transactional ids
 * PREFIX-<subtask>-<0..SL__KS_POOL-1>): one open, the rest pre-committed
 * and waiting for their checkpoint to complete. */
#define SL__KS_POOL 4

/* When set, every step of the exactly-once protocol is reported:
 * event is "init" (init_transactions on the id, by a new producer: aborts
 * whatever was open under it), "begin", "precommit" (ckpt: the
 * checkpoint), "commit" (ckpt), "abort", "fence" (recover: an old run's id
 * that no writer of this run owns is initialised and dropped, which
 * aborts its open transaction), "resume" (recover: a transaction the
 * restored checkpoint pre-committed was committed by EndTxn with its
 * producer id and epoch -- or Kafka says it was committed already; ckpt),
 * "unresumable" (recover: such a transaction could not be committed:
 * a warning says why; ckpt).
 * Called from the thread doing the step; for tests (one job at a time). */
extern void (*sl__kafka_sink_trace)(void *ud, const char *event, const char *txn_id,
                                    int64_t ckpt);
extern void *sl__kafka_sink_trace_ud;

/* Test hook: makes the writer's close drop its producers without
 * committing, aborting or flushing anything (a crash). */
void sl__kafka_sink_crash(void *writer);

#endif

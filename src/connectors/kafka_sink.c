/*
 * kafka_sink.c -- sl_kafka_sink(): records to a Kafka topic with
 * librdkafka, written on the public connector SDK (sluice_connector.h).
 *
 * A record becomes one message: value -> value, key (when the record has
 * one) -> key, timestamp (when set) -> the message timestamp.  The
 * partition (sink.partitioner): `default` leaves it to librdkafka (a hash
 * of the key; keyless messages spread), `fixed` sends everything of
 * subtask s to partition s % partitions (Flink's FlinkFixedPartitioner),
 * `round-robin` cycles through the partitions.  With
 * sink.empty-value-as-null = true a record whose value is empty
 * (value_len 0) becomes a message with a NULL value -- Kafka's tombstone,
 * which compaction reads as "delete the key" (upsert-kafka's -D); an
 * sl_record cannot say NULL by itself, as exchanges carry a length only.  The partition count is read
 * from the topic's metadata at open, which also checks that the brokers
 * answer and the topic exists: both fail open with the brokers / topic
 * named.
 *
 * sink.delivery-guarantee:
 *
 *   none           fire and forget: a failed delivery is logged (the first
 *                  and a count), never fails the job.  flush/close wait for
 *                  what is queued.
 *   at-least-once  every checkpoint barrier (precommit) and the end of the
 *                  input (flush) wait until librdkafka has delivered
 *                  everything queued (rd_kafka_flush); a failed delivery
 *                  (after librdkafka's own retries of retriable errors)
 *                  fails the checkpoint and the job, naming topic and
 *                  partition.  So a complete checkpoint covers only
 *                  delivered records; a restore replays the rest.
 *   exactly-once   Kafka transactions, Flink KafkaSink's two-phase commit:
 *
 *     Each subtask s owns a pool of SL__KS_POOL transactional producers,
 *     transactional.id = PREFIX-s-j (j < SL__KS_POOL), all initialised at
 *     open (init_transactions, which aborts whatever an earlier run left
 *     open under the id) -- when restoring, at the writer's first call
 *     instead, which comes after recover.  Records go into the open
 *     transaction of the current slot.  A slot whose producer already
 *     ended a transaction gets a new producer (a new epoch) before it
 *     begins the next one, so a (producer id, epoch) names one transaction.
 *
 *       slot:  FREE --begin--> OPEN --precommit(c)--> PRECOMMITTED(c)
 *               ^                                         |
 *               +------------commit_ckpt(>= c)------------+
 *
 *     precommit(c): flush the slot's producer (every record is in the
 *     broker's log, inside the still open transaction), mark it
 *     PRECOMMITTED(c) and begin the next transaction in a FREE slot; the
 *     checkpoint stores every PRECOMMITTED slot (a transaction of a
 *     checkpoint that failed stays pre-committed and is committed by the
 *     next complete one).  An OPEN transaction without records is kept
 *     open instead (nothing to commit).  No FREE slot (SL__KS_POOL - 1
 *     checkpoints in a row did not complete) fails the checkpoint.
 *     commit_ckpt(c): commit every PRECOMMITTED(<= c) (idempotent: a FREE
 *     slot has nothing left to commit).  The producers of pre-committed
 *     transactions stay alive until then: only the producer that began a
 *     transaction can end it.
 *     Without checkpoints the two-phase calls never come: the one
 *     transaction is committed when the job succeeds (close) and aborted
 *     when it fails -- all or nothing.  With checkpoints a failing job
 *     aborts its OPEN transaction only: a PRECOMMITTED one may belong to a
 *     checkpoint that completed, and recover commits it (or the id's next
 *     initialisation aborts it; until then, at most
 *     transaction.timeout.ms, it holds back read_committed consumers of
 *     its partitions -- as Flink's KafkaSink).
 *
 *     The producer id and epoch of each transaction go into the
 *     checkpoint with it.  librdkafka has no getter for them; its debug
 *     line "Acquired PID{Id:N,Epoch:E}" (context eos, facility GETPID) is
 *     the one place it says them, so every transactional producer runs
 *     with the eos debug context added to the user's properties.debug and
 *     ks_log keeps the last id it logged; the eos lines themselves are
 *     dropped unless the user asked for debug output.
 *
 *     Ids are a fixed pool, not Flink KafkaSink's PREFIX-s-checkpointId,
 *     because recovery must enumerate every id an old run may have left a
 *     transaction open under: Flink probes ids upward until it finds one
 *     with producer epoch 0 (never used), which would take a producer
 *     per probed id here.  (Flink's older FlinkKafkaProducer used such a
 *     pool.)
 *
 *     recover (a restore): the checkpoint's bytes are checked in full
 *     first.  Each names the old writer's subtask, parallelism, prefix,
 *     pool size and its pre-committed (checkpoint, slot, producer id,
 *     epoch) entries.  Each pre-committed transaction is then committed
 *     as Flink's KafkaSink does (it resumes the producer by id and epoch):
 *     kafka_txn.c sends EndTxn(commit) with the id and epoch to the
 *     transaction coordinator, before anything initialises the id.  Kafka
 *     answers NONE when it commits it, and also when it was committed
 *     already (the usual case: the previous run committed it when the
 *     checkpoint completed); retriable answers are retried; an answer
 *     that another actor ended it (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH,
 *     INVALID_TXN_STATE, ...: the broker aborted it after
 *     transaction.timeout.ms, or the slot had gone on to a new producer
 *     session) is a loud warning naming the transaction and topic, as
 *     in Flink; no answer at all fails the restore (a retry can still
 *     commit it).  Not resumable, with a warning as before: a
 *     transaction whose producer id was not captured, and brokers spoken
 *     to over TLS or SASL (properties.security.protocol other than
 *     PLAINTEXT: kafka_txn.c speaks plain TCP only).  After that every id
 *     PREFIX-k-j of the old run (k < old P, j < its pool) that no writer
 *     of this run owns is fenced: initialised by a throw-away producer,
 *     which aborts a transaction left open there (a subtask that no longer
 *     exists after a rescale down, or a pool slot a new writer does not
 *     have); the ids this run owns are initialised, so fenced, by their
 *     writer's first call.
 *
 *     What this guarantees:
 *      1. nothing written after the restored checkpoint becomes visible to
 *         read_committed consumers (open transactions are aborted by the
 *         fencing above, pre-committed ones of later, incomplete
 *         checkpoints too);
 *      2. every transaction a checkpoint pre-committed is committed when
 *         that checkpoint completes, while the job runs and by the final
 *         checkpoint of a successful job;
 *      3. a transaction pre-committed by checkpoint c whose commit did not
 *         happen before the process died (the window: from the moment c's
 *         metadata is written until every writer ran commit_ckpt(c)) is
 *         committed by the restore from c -- over PLAINTEXT, when its
 *         producer id was captured, and before transaction.timeout.ms
 *         aborts it; otherwise a warning names it and its records are
 *         lost (the restored sources resume after them).
 *      4. NOT guaranteed: what a checkpoint later than the restored one
 *         committed stays committed (Kafka cannot take back a committed
 *         transaction), so a restore from an older checkpoint or savepoint
 *         duplicates that output, as with Flink.
 *      5. transaction.timeout.ms (default here 15 min, the brokers'
 *         default transaction.max.timeout.ms) must exceed the checkpoint
 *         interval plus the time a restart takes, or the broker aborts
 *         pre-committed transactions before they are committed.
 *      6. not covered by recover: a run started without a restore only
 *         aborts what is open under its own ids (initialised at open), not
 *         the ids of subtasks >= its parallelism of an earlier run.
 *
 * Errors name the brokers, topic and partition, never a property's value
 * (passwords go through properties.*).  librdkafka retries what Kafka
 * calls retriable by itself (message.timeout.ms bounds it); what is left
 * -- a failed delivery, a fenced producer (another process with the same
 * transactional.id), a fatal producer error -- fails the job, which a
 * supervisor may restart.  librdkafka's log goes through the job's logger.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "connectors/connector.h"
#include "connectors/kafka_conf.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_txn.h"

void (*sl__kafka_sink_trace)(void *ud, const char *event, const char *txn_id, int64_t ckpt);
void *sl__kafka_sink_trace_ud;

static void trace(const char *event, const char *id, int64_t ckpt) {
  if (sl__kafka_sink_trace) sl__kafka_sink_trace(sl__kafka_sink_trace_ud, event, id, ckpt);
}

#define KS_META_MS 10000  /* metadata at open */
#define KS_TXN_MS 60000   /* init / commit / abort of a transaction */
#define KS_RESUME_MS 30000 /* recover: committing a pre-committed transaction */
#define KS_POLL_EVERY 256 /* records between two rd_kafka_poll calls */
#define KS_IDLEN 320

typedef struct ks_sink {
  sl__kafka_opts o;
  int rc;         /* the constructor's error, reported at open */
  char err[512];
} ks_sink;

enum { KS_FREE, KS_OPEN, KS_PRECOMMITTED };

struct ks_writer;

/* One producer.  Its librdkafka opaque is the slot (callbacks find the
 * writer through w). */
typedef struct ks_slot {
  struct ks_writer *w;
  rd_kafka_t *rk;
  rd_kafka_topic_t *rkt;
  char id[KS_IDLEN]; /* transactional.id */
  int state;
  int inited;        /* init_transactions done on rk */
  int used;          /* rk ended a transaction: a new one needs a new rk */
  int quiet;         /* debug=eos is ours alone: drop librdkafka's debug lines */
  int64_t ckpt;      /* PRECOMMITTED: for this checkpoint */
  uint64_t records;  /* produced in the current transaction */
  /* rk's producer id and epoch, from librdkafka's log (-1: not seen);
   * written on librdkafka's threads, under g_pid_mu */
  int64_t pid;
  int16_t epoch;
  int64_t pre_pid;   /* PRECOMMITTED: the transaction's producer id, epoch */
  int16_t pre_epoch;
} ks_slot;

static pthread_mutex_t g_pid_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct ks_writer {
  ks_sink *sink;
  sl_ctx *ctx;      /* for librdkafka's log (valid while the writer is) */
  int subtask;
  int twopc;        /* checkpoints on */
  int eos;          /* exactly-once */
  int crashed;      /* test hook: close drops everything */
  int warned_pid;   /* said once that a producer id is not known */
  int ready;        /* exactly-once: the pool is initialised and a transaction
                     * begun (deferred past recover when restoring) */
  int32_t parts;    /* the topic's partitions */
  uint32_t rr;      /* round-robin position */
  unsigned since_poll;
  ks_slot slot[SL__KS_POOL]; /* exactly-once: the pool; else slot[0] only */
  int n_slots, cur;
  /* the first failed delivery since the last check (delivery callbacks
   * run on the writer's thread, in rd_kafka_poll / rd_kafka_flush) */
  rd_kafka_resp_err_t dr_err;
  int32_t dr_part;
  uint64_t dr_failed;
} ks_writer;

/* ---- librdkafka callbacks ------------------------------------------------------------ */

/* "...Acquired PID{Id:N,Epoch:E}" (librdkafka's eos debug line once
 * init_transactions, or an epoch bump, got a producer id): 0 with id and
 * epoch, else -1.  Strict: digits only, in range, nothing after '}'. */
static int parse_pid(const char *buf, int64_t *id, int16_t *epoch) {
  static const char pre[] = "Acquired PID{Id:", mid[] = ",Epoch:";
  const char *p = strstr(buf, pre);
  if (!p) return -1;
  p += sizeof pre - 1;
  int64_t v = 0;
  int nd = 0;
  for (; *p >= '0' && *p <= '9'; p++, nd++) {
    if (v > (INT64_MAX - 9) / 10) return -1;
    v = v * 10 + (*p - '0');
  }
  if (!nd || strncmp(p, mid, sizeof mid - 1)) return -1;
  p += sizeof mid - 1;
  int e = 0;
  nd = 0;
  for (; *p >= '0' && *p <= '9'; p++, nd++) {
    e = e * 10 + (*p - '0');
    if (e > 32767) return -1;
  }
  if (!nd || strcmp(p, "}")) return -1;
  *id = v;
  *epoch = (int16_t)e;
  return 0;
}

static void ks_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  ks_slot *s = rd_kafka_opaque(rk);
  if (!s) return;
  int64_t id;
  int16_t epoch;
  if (!strcmp(fac, "GETPID") && !parse_pid(buf, &id, &epoch)) {
    pthread_mutex_lock(&g_pid_mu);
    s->pid = id;
    s->epoch = epoch;
    pthread_mutex_unlock(&g_pid_mu);
  }
  if (level >= 7 && s->quiet) return;
  ks_writer *w = s->w;
  if (!w || !w->ctx) return;
  sl_log_level l = level <= 3 ? SL_LOG_ERROR : level == 4 ? SL_LOG_WARN
                                            : level <= 6 ? SL_LOG_INFO : SL_LOG_DEBUG;
  sl_ctx_log(w->ctx, l, "librdkafka %s: %s", fac, buf);
}

static void ks_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  (void)rk;
  ks_writer *w = opaque ? ((ks_slot *)opaque)->w : NULL;
  if (w && w->ctx)
    sl_ctx_log(w->ctx, err == RD_KAFKA_RESP_ERR__FATAL ? SL_LOG_ERROR : SL_LOG_WARN,
               "Kafka (brokers '%s'): %s", w->sink->o.bootstrap, reason);
}

static void ks_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  ks_writer *w = ((ks_slot *)opaque)->w;
  if (!m->err) return;
  if (!w->dr_failed++) {
    w->dr_err = m->err;
    w->dr_part = m->partition;
  }
}

/* ---- producers ----------------------------------------------------------------------- */

/* Whether the comma-separated list holds item. */
static int has_item(const char *list, const char *item) {
  size_t n = strlen(item);
  for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
    while (*p == ' ') p++;
    if (!strncmp(p, item, n) && (p[n] == 0 || p[n] == ',' || p[n] == ' ')) return 1;
  }
  return 0;
}

/* s->rk and s->rkt: a producer for w, transactional with id s->id when txn
 * (not initialised yet: slot_init).  A transactional producer logs its
 * producer id (librdkafka's debug context eos, added to the user's debug
 * setting), which ks_log keeps in s->pid / s->epoch.  0, or an error
 * after sl_ctx_error. */
static int ks_producer(ks_writer *w, sl_ctx *ctx, ks_slot *s, int txn) {
  const sl__kafka_opts *o = &w->sink->o;
  char err[512], e[512], client[KS_IDLEN + 16], dbg[512];
  snprintf(client, sizeof client, "sluice-%s-%d", o->topics[0], w->subtask);
  rd_kafka_conf_t *c = sl__kafka_conf(o, client, err, sizeof err);
  if (!c) return sl_ctx_error(ctx, -SL_ECONFIG, "%s", err);
  int has_tt = 0;
  for (int i = 0; i < o->n_props; i++) has_tt |= !strcmp(o->prop_keys[i], "transaction.timeout.ms");
  s->w = w;
  s->pid = -1;
  s->epoch = -1;
  s->inited = s->used = s->quiet = 0;
  if (txn && (rd_kafka_conf_set(c, "transactional.id", s->id, e, sizeof e) ||
              (!has_tt && rd_kafka_conf_set(c, "transaction.timeout.ms", "900000", e,
                                            sizeof e)))) {
    rd_kafka_conf_destroy(c);
    return sl_ctx_error(ctx, -SL_ECONFIG, "Kafka sink: transactional id '%s': %s", s->id, e);
  }
  size_t dn = sizeof dbg;
  if (txn && rd_kafka_conf_get(c, "debug", dbg, &dn) == RD_KAFKA_CONF_OK &&
      !has_item(dbg, "eos") && !has_item(dbg, "all")) {
    char want[600];
    snprintf(want, sizeof want, "%s%seos", dbg, dbg[0] ? "," : "");
    /* (if librdkafka refused, the id is never seen: recover says so) */
    if (rd_kafka_conf_set(c, "debug", want, e, sizeof e) == RD_KAFKA_CONF_OK) s->quiet = !dbg[0];
  }
  rd_kafka_conf_set_opaque(c, s);
  rd_kafka_conf_set_log_cb(c, ks_log);
  rd_kafka_conf_set_error_cb(c, ks_error);
  rd_kafka_conf_set_dr_msg_cb(c, ks_dr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
  if (!rk) { /* the conf is still ours */
    rd_kafka_conf_destroy(c);
    return sl_ctx_error(ctx, -SL_ECONFIG, "Kafka sink (brokers '%s'): cannot make a producer: %s",
                        o->bootstrap, e);
  }
  s->rk = rk;
  if (!(s->rkt = rd_kafka_topic_new(rk, o->topics[0], NULL)))
    return sl_ctx_error(ctx, -SL_EIO, "Kafka sink: topic '%s': %s", o->topics[0],
                        rd_kafka_err2str(rd_kafka_last_error()));
  return 0;
}

/* init_transactions on the slot's producer: aborts whatever an earlier
 * producer left open under the id. */
static int slot_init(ks_writer *w, sl_ctx *ctx, ks_slot *s) {
  const sl__kafka_opts *o = &w->sink->o;
  rd_kafka_error_t *x = rd_kafka_init_transactions(s->rk, KS_TXN_MS);
  if (x) {
    int rc = sl_ctx_error(ctx, -SL_EIO, "Kafka sink (brokers '%s', topic '%s'): cannot initialise "
                                        "the transactional producer '%s': %s%s", o->bootstrap,
                          o->topics[0], s->id, rd_kafka_error_string(x),
                          rd_kafka_error_is_retriable(x) ? " (check that the brokers are reachable)"
                                                         : "");
    rd_kafka_error_destroy(x);
    return rc;
  }
  s->inited = 1;
  trace("init", s->id, 0);
  return 0;
}

/* The topic exists and the brokers answer: its partition count into
 * w->parts.  0 or an error. */
static int ks_metadata(ks_writer *w, sl_ctx *ctx, rd_kafka_t *rk, rd_kafka_topic_t *rkt) {
  const sl__kafka_opts *o = &w->sink->o;
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, KS_META_MS);
  if (e)
    return sl_ctx_error(ctx, -SL_EIO, "Kafka sink: cannot get the metadata of topic '%s' from "
                                      "the brokers '%s': %s (are they reachable?)",
                        o->topics[0], o->bootstrap, rd_kafka_err2str(e));
  int rc = 0;
  if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0) {
    e = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    rc = sl_ctx_error(ctx, -SL_EIO, "Kafka sink: topic '%s' on the brokers '%s': %s%s",
                      o->topics[0], o->bootstrap,
                      e ? rd_kafka_err2str(e) : "it has no partitions",
                      e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                          ? " (create it first, or enable auto.create.topics.enable)"
                      : e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED
                          ? " (the principal may not describe/write it: check the ACLs)"
                          : "");
  } else {
    w->parts = md->topics[0].partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  return rc;
}

static void slot_free(ks_slot *s) {
  if (s->rkt) rd_kafka_topic_destroy(s->rkt);
  if (s->rk) rd_kafka_destroy(s->rk);
  s->rkt = NULL;
  s->rk = NULL;
}

static void writer_free(ks_writer *w) {
  for (int i = 0; i < w->n_slots; i++) slot_free(&w->slot[i]);
  sl__free(w);
}

static int txn_fail(ks_writer *w, sl_ctx *ctx, ks_slot *s, const char *what,
                    rd_kafka_error_t *x) {
  const sl__kafka_opts *o = &w->sink->o;
  int fenced = rd_kafka_error_code(x) == RD_KAFKA_RESP_ERR__FENCED ||
               rd_kafka_error_code(x) == RD_KAFKA_RESP_ERR_PRODUCER_FENCED;
  int rc = sl_ctx_error(ctx, -SL_EIO, "Kafka sink (brokers '%s', topic '%s'): cannot %s "
                                      "transaction '%s': %s%s", o->bootstrap, o->topics[0], what,
                        s->id, rd_kafka_error_string(x),
                        fenced ? " (fenced: another producer uses the same transactional.id -- "
                                 "is sink.transactional-id-prefix unique per job?)"
                               : "");
  rd_kafka_error_destroy(x);
  return rc;
}

/* Begins a transaction in the slot.  A producer that already ended one
 * is replaced first (a new producer session, so a new epoch): a producer
 * id + epoch then names one transaction only, and recover's EndTxn with a
 * checkpoint's (id, epoch) can never commit a later transaction of the
 * same transactional id. */
static int slot_begin(ks_writer *w, sl_ctx *ctx, ks_slot *s) {
  if (s->used) {
    slot_free(s);
    int rc = ks_producer(w, ctx, s, 1);
    if (!rc) rc = slot_init(w, ctx, s);
    if (rc) return rc;
  }
  rd_kafka_error_t *x = rd_kafka_begin_transaction(s->rk);
  if (x) return txn_fail(w, ctx, s, "begin", x);
  s->state = KS_OPEN;
  s->records = 0;
  trace("begin", s->id, 0);
  return 0;
}

/* Commit (commit = 1) or abort the slot's transaction; retriable errors
 * are retried a few times. */
static int slot_end(ks_writer *w, sl_ctx *ctx, ks_slot *s, int commit) {
  rd_kafka_error_t *x = NULL;
  for (int attempt = 0; attempt < 5; attempt++) {
    x = commit ? rd_kafka_commit_transaction(s->rk, KS_TXN_MS)
               : rd_kafka_abort_transaction(s->rk, KS_TXN_MS);
    if (!x || !rd_kafka_error_is_retriable(x)) break;
    rd_kafka_error_destroy(x);
    x = NULL;
  }
  if (x) return txn_fail(w, ctx, s, commit ? "commit" : "abort", x);
  s->used = 1;
  trace(commit ? "commit" : "abort", s->id, s->ckpt);
  s->state = KS_FREE;
  s->ckpt = 0;
  s->records = 0;
  return 0;
}

/* ---- the writer ---------------------------------------------------------------------- */

/* Exactly-once: initialise every producer of the pool and begin the first
 * transaction (at open, or -- restoring -- at the first call after
 * recover). */
static int ks_ready(ks_writer *w, sl_ctx *ctx) {
  for (int i = 0; i < w->n_slots; i++) {
    int rc = w->slot[i].inited ? 0 : slot_init(w, ctx, &w->slot[i]);
    if (rc) return rc;
  }
  int rc = slot_begin(w, ctx, &w->slot[w->cur]);
  if (!rc) w->ready = 1;
  return rc;
}

#define KS_READY(w, ctx)                          \
  do {                                            \
    if (SL__UNLIKELY(!(w)->ready)) {              \
      int ready_rc_ = ks_ready((w), (ctx));       \
      if (ready_rc_) return ready_rc_;            \
    }                                             \
  } while (0)

static int ks_open(void *ud, sl_ctx *ctx, void **writer) {
  ks_sink *k = ud;
  if (k->rc) return sl_ctx_error(ctx, k->rc, "%s", k->err);
  const sl__kafka_opts *o = &k->o;
  ks_writer *w = sl__calloc(1, sizeof *w);
  if (!w) return sl_ctx_error(ctx, -SL_ENOMEM, "Kafka sink: out of memory");
  w->sink = k;
  w->ctx = ctx;
  w->subtask = sl_ctx_subtask(ctx);
  w->twopc = sl__conn_int(ctx, "execution.checkpointing.interval") > 0;
  w->eos = o->delivery == SL__KAFKA_EXACTLY_ONCE;
  w->n_slots = w->eos ? SL__KS_POOL : 1;
  int rc = 0;
  for (int i = 0; i < o->n_props; i++)
    if (!strcmp(o->prop_keys[i], "transactional.id")) {
      rc = sl_ctx_error(ctx, -SL_ECONFIG, "Kafka option 'properties.transactional.id': the sink "
                                          "sets it (exactly-once); use "
                                          "'sink.transactional-id-prefix'");
      goto fail;
    }
  if (w->eos) { /* what recover accepts back from a checkpoint */
    size_t lp = strlen(o->txn_prefix);
    for (size_t i = 0; i < lp; i++)
      if ((unsigned char)o->txn_prefix[i] < 0x21 || (unsigned char)o->txn_prefix[i] > 0x7e) {
        rc = sl_ctx_error(ctx, -SL_ECONFIG, "Kafka option 'sink.transactional-id-prefix': byte "
                                            "%zu is not a printable ASCII character other than "
                                            "space", i + 1);
        goto fail;
      }
    if (lp > KS_IDLEN - 24) {
      rc = sl_ctx_error(ctx, -SL_ECONFIG, "Kafka option 'sink.transactional-id-prefix' is too "
                                          "long (%zu bytes, at most %d)", lp, KS_IDLEN - 24);
      goto fail;
    }
  }
  for (int i = 0; i < w->n_slots; i++) {
    ks_slot *s = &w->slot[i];
    if (w->eos) snprintf(s->id, sizeof s->id, "%s-%d-%d", o->txn_prefix, w->subtask, i);
    if ((rc = ks_producer(w, ctx, s, w->eos)) != 0) goto fail;
    if (i == 0 && (rc = ks_metadata(w, ctx, s->rk, s->rkt))) goto fail;
  }
  /* Restoring, init_transactions waits until recover has committed what
   * the checkpoint pre-committed under these ids (initialising an id
   * aborts its open transaction): the first call after recover does it. */
  const char *restore = sl_ctx_config(ctx, "execution.checkpointing.restore");
  w->ready = !w->eos;
  if (w->eos && !(w->twopc && restore && *restore) && (rc = ks_ready(w, ctx))) goto fail;
  *writer = w;
  return 0;
fail:
  writer_free(w);
  return rc < 0 ? rc : -SL_EIO;
}

static int dr_check(ks_writer *w, sl_ctx *ctx) {
  if (!w->dr_failed) return 0;
  const sl__kafka_opts *o = &w->sink->o;
  rd_kafka_resp_err_t e = w->dr_err;
  int32_t part = w->dr_part;
  uint64_t n = w->dr_failed;
  w->dr_failed = 0;
  if (o->delivery == SL__KAFKA_NONE) {
    sl_ctx_log(ctx, SL_LOG_WARN, "Kafka sink: %llu message(s) not delivered to topic '%s' "
                                 "(first: partition %d: %s); sink.delivery-guarantee is none",
               (unsigned long long)n, o->topics[0], (int)part, rd_kafka_err2str(e));
    return 0;
  }
  return sl_ctx_error(ctx, -SL_EIO, "Kafka sink: cannot deliver %llu message(s) to topic '%s' "
                                    "(brokers '%s'); the first to partition %d: %s",
                      (unsigned long long)n, o->topics[0], o->bootstrap, (int)part,
                      rd_kafka_err2str(e));
}

/* A producer in a fatal state (fenced, or an idempotence violation). */
static int fatal_check(ks_writer *w, sl_ctx *ctx, rd_kafka_t *rk) {
  char reason[512];
  rd_kafka_resp_err_t e = rd_kafka_fatal_error(rk, reason, sizeof reason);
  if (!e) return 0;
  const sl__kafka_opts *o = &w->sink->o;
  return sl_ctx_error(ctx, -SL_EIO, "Kafka sink (brokers '%s', topic '%s'): the producer "
                                    "failed: %s: %s%s", o->bootstrap, o->topics[0],
                      rd_kafka_err2name(e), reason,
                      e == RD_KAFKA_RESP_ERR__FENCED || e == RD_KAFKA_RESP_ERR_PRODUCER_FENCED
                          ? " (fenced: another producer uses the same transactional.id)" : "");
}

static int ks_write(void *writer, sl_ctx *ctx, const sl_record *r) {
  ks_writer *w = writer;
  KS_READY(w, ctx);
  ks_slot *s = &w->slot[w->cur];
  int32_t part = RD_KAFKA_PARTITION_UA;
  if (w->sink->o.partitioner == SL__KAFKA_PART_FIXED) part = w->subtask % w->parts;
  else if (w->sink->o.partitioner == SL__KAFKA_PART_ROUND_ROBIN) part = (int32_t)(w->rr++ % (uint32_t)w->parts);
  /* a tombstone: NULL (librdkafka's macros do not parenthesize their arguments) */
  void *value = !r->value_len && w->sink->o.empty_as_null ? NULL : (void *)r->value;
  for (;;) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        s->rk, RD_KAFKA_V_RKT(s->rkt), RD_KAFKA_V_PARTITION(part),
        RD_KAFKA_V_VALUE(value, r->value_len),
        RD_KAFKA_V_KEY((void *)r->key, r->key ? r->key_len : 0),
        RD_KAFKA_V_TIMESTAMP(r->ts == SL_NO_TIMESTAMP ? 0 : r->ts),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (!e) break;
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !sl_ctx_stopping(ctx)) { /* back-pressure */
      rd_kafka_poll(s->rk, 100);
      int rc = dr_check(w, ctx);
      if (rc) return rc;
      continue;
    }
    int rc = fatal_check(w, ctx, s->rk);
    if (rc) return rc;
    return sl_ctx_error(ctx, -SL_EIO, "Kafka sink: cannot send to topic '%s' partition %d: %s",
                        w->sink->o.topics[0], (int)part, rd_kafka_err2str(e));
  }
  s->records++;
  if (++w->since_poll >= KS_POLL_EVERY) {
    w->since_poll = 0;
    rd_kafka_poll(s->rk, 0);
    return dr_check(w, ctx);
  }
  return 0;
}

/* Wait until everything queued in rk is delivered or failed. */
static int drain(ks_writer *w, sl_ctx *ctx, rd_kafka_t *rk) {
  while (rd_kafka_outq_len(rk) > 0) {
    rd_kafka_flush(rk, 1000);
    if (rd_kafka_outq_len(rk) > 0 && sl_ctx_stopping(ctx)) {
      if (w->sink->o.delivery == SL__KAFKA_NONE) return 0;
      return sl_ctx_error(ctx, -SL_ECANCELED, "Kafka sink: %d message(s) to topic '%s' still "
                                              "undelivered when the job stopped",
                          rd_kafka_outq_len(rk), w->sink->o.topics[0]);
    }
  }
  int rc = fatal_check(w, ctx, rk);
  return rc ? rc : dr_check(w, ctx);
}

static int ks_idle(void *writer, sl_ctx *ctx) {
  ks_writer *w = writer;
  KS_READY(w, ctx);
  rd_kafka_poll(w->slot[w->cur].rk, 0);
  return dr_check(w, ctx);
}

static int ks_flush(void *writer, sl_ctx *ctx) {
  ks_writer *w = writer;
  KS_READY(w, ctx);
  return drain(w, ctx, w->slot[w->cur].rk);
}

static void ks_close(void *writer, sl_ctx *ctx, int ok) {
  ks_writer *w = writer;
  w->ctx = ctx;
  /* the crash test hook: transactions stay open as a killed process leaves
   * them, but nothing is in flight when the handles go (librdkafka 2.0.2
   * asserts on an AddPartitionsToTxn answer that arrives after the
   * transaction state went away) */
  for (int i = 0; i < w->n_slots && w->crashed; i++) rd_kafka_flush(w->slot[i].rk, 5000);
  for (int i = 0; i < w->n_slots && !w->crashed; i++) {
    ks_slot *s = &w->slot[i];
    if (!ok) rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    if (!w->eos) {
      if (ok && drain(w, ctx, s->rk)) ok = 0;
      continue;
    }
    /* restoring and never ready: none of its ids was initialised, and
     * initialising one now would abort what recover could not commit */
    if (!w->ready) continue;
    /* without checkpoints the job's one transaction commits here */
    int commit = ok && !w->twopc && s->state == KS_OPEN && s->records;
    /* a failed job leaves its pre-committed transactions open: their
     * checkpoint may have completed, and a restore commits them (the
     * ids' next initialisation aborts them otherwise) */
    if ((s->state == KS_OPEN || (ok && s->state == KS_PRECOMMITTED)) &&
        slot_end(w, ctx, s, commit))
      ok = 0;
  }
  writer_free(w);
}

/* ---- two-phase commit ---------------------------------------------------------------- */

/* Checkpoint bytes (little-endian as the host writes them), format 2:
 *   "KSK2", u16 prefix length, prefix, u32 subtask, u32 parallelism,
 *   u32 pool size, u32 n, n x (i64 checkpoint, u32 slot, i64 producer id,
 *   i16 producer epoch)
 * (producer id and epoch -1: not known).  Format 1 ("KSK1") had no
 * producer ids.  Empty for none / at-least-once. */
static const char KS_TAG[4] = {'K', 'S', 'K', '2'};
#define KS_ENTRY 22

static int ks_precommit(void *writer, sl_ctx *ctx, int64_t id, uint8_t *buf, size_t cap,
                        size_t *len) {
  ks_writer *w = writer;
  *len = 0;
  if (w->sink->o.delivery == SL__KAFKA_NONE) return 0;
  KS_READY(w, ctx);
  int rc = drain(w, ctx, w->slot[w->cur].rk);
  if (rc || !w->eos) return rc;
  ks_slot *cur = &w->slot[w->cur];
  if (cur->records) { /* an empty transaction stays open */
    int next = -1;
    for (int i = 1; i < w->n_slots && next < 0; i++)
      if (w->slot[(w->cur + i) % w->n_slots].state == KS_FREE) next = (w->cur + i) % w->n_slots;
    if (next < 0)
      return sl_ctx_error(ctx, -SL_EIO, "Kafka sink: %d transactions pre-committed and none "
                                        "committed yet (checkpoints are not completing); no "
                                        "transactional id is free for the next one",
                          w->n_slots - 1);
    cur->state = KS_PRECOMMITTED;
    cur->ckpt = id;
    pthread_mutex_lock(&g_pid_mu);
    cur->pre_pid = cur->pid;
    cur->pre_epoch = cur->epoch;
    pthread_mutex_unlock(&g_pid_mu);
    if (cur->pre_pid < 0 && !w->warned_pid++)
      sl_ctx_log(ctx, SL_LOG_WARN, "Kafka sink: the producer id of transaction '%s' is not known "
                                   "(librdkafka did not log 'Acquired PID'): if the job dies "
                                   "after checkpoint %lld completes and before its commit, a "
                                   "restore cannot commit it", cur->id, (long long)id);
    trace("precommit", cur->id, id);
    w->cur = next;
    if ((rc = slot_begin(w, ctx, &w->slot[next])) != 0) return rc;
  }
  const char *pre = w->sink->o.txn_prefix;
  uint16_t lp = (uint16_t)strlen(pre);
  uint32_t head[4] = {(uint32_t)w->subtask, (uint32_t)sl_ctx_parallelism(ctx),
                      (uint32_t)w->n_slots, 0};
  size_t n = 4 + 2 + lp + sizeof head;
  if (cap < n + (size_t)w->n_slots * KS_ENTRY) return sl_ctx_error(ctx, -SL_ENOMEM, "Kafka sink: "
                                                             "no room for the checkpoint");
  memcpy(buf, KS_TAG, 4);
  memcpy(buf + 4, &lp, 2);
  memcpy(buf + 6, pre, lp);
  for (int i = 0; i < w->n_slots; i++) {
    ks_slot *s = &w->slot[i];
    if (s->state != KS_PRECOMMITTED) continue;
    uint32_t slot = (uint32_t)i;
    memcpy(buf + n, &s->ckpt, 8);
    memcpy(buf + n + 8, &slot, 4);
    memcpy(buf + n + 12, &s->pre_pid, 8);
    memcpy(buf + n + 20, &s->pre_epoch, 2);
    n += KS_ENTRY;
    head[3]++;
  }
  memcpy(buf + 6 + lp, head, sizeof head);
  *len = n;
  return 0;
}

static int ks_commit_ckpt(void *writer, sl_ctx *ctx, int64_t id) {
  ks_writer *w = writer;
  KS_READY(w, ctx);
  for (int i = 0; i < w->n_slots; i++) {
    ks_slot *s = &w->slot[i];
    if (s->state != KS_PRECOMMITTED || s->ckpt > id) continue;
    sl__fault("kafka-commit"); /* crash tests: checkpoint id complete, not committed */
    int rc = slot_end(w, ctx, s, 1);
    if (rc) return rc;
  }
  return 0;
}

/* One old writer's checkpoint bytes, checked. */
typedef struct ks_old {
  char prefix[KS_IDLEN];
  uint32_t subtask, parallelism, pool, n;
  int64_t ckpt[64];
  uint32_t slot[64];
  int64_t pid[64];
  int16_t epoch[64];
} ks_old;

static int decode(const uint8_t *p, size_t len, int b, int n_blobs, ks_old *st, char *err,
                  size_t errcap) {
  uint16_t lp;
  if (len >= 4 && !memcmp(p, "KSK", 3) && p[3] >= '0' && p[3] <= '9' && p[3] != KS_TAG[3]) {
    sl__fmt(err, errcap, "Kafka sink state of format %c (written by %s sluice); this sluice "
                         "reads format %c: restore with the sluice that wrote it, or start "
                         "without restoring", p[3], p[3] < KS_TAG[3] ? "an older" : "a newer",
            KS_TAG[3]);
    return -SL_ESTATE;
  }
  if (len < 6 || memcmp(p, KS_TAG, 4)) {
    sl__fmt(err, errcap, "it does not start as the Kafka sink's state does");
    return -SL_ESTATE;
  }
  memcpy(&lp, p + 4, 2);
  if (lp == 0 || lp > KS_IDLEN - 24 || len < 6 + (size_t)lp + 16) {
    sl__fmt(err, errcap, "damaged Kafka sink state: a prefix of %u bytes in %zu", lp, len);
    return -SL_ESTATE;
  }
  for (int i = 0; i < lp; i++)
    if (p[6 + i] < 0x21 || p[6 + i] > 0x7e) {
      sl__fmt(err, errcap, "damaged Kafka sink state: the transactional id prefix holds "
                           "byte 0x%02x", p[6 + i]);
      return -SL_ESTATE;
    }
  memcpy(st->prefix, p + 6, lp);
  st->prefix[lp] = 0;
  uint32_t head[4];
  memcpy(head, p + 6 + lp, sizeof head);
  st->subtask = head[0], st->parallelism = head[1], st->pool = head[2], st->n = head[3];
  size_t at = 6 + (size_t)lp + sizeof head;
  if (st->subtask != (uint32_t)b || st->parallelism != (uint32_t)n_blobs) {
    sl__fmt(err, errcap, "damaged Kafka sink state: written by subtask %u of %u, found as %d "
                         "of %d", st->subtask, st->parallelism, b, n_blobs);
    return -SL_ESTATE;
  }
  if (st->pool < 1 || st->pool > 64 || st->n > st->pool ||
      len != at + (size_t)st->n * KS_ENTRY) {
    sl__fmt(err, errcap, "damaged Kafka sink state: %u transactions of a pool of %u in %zu "
                         "bytes", st->n, st->pool, len);
    return -SL_ESTATE;
  }
  for (uint32_t i = 0; i < st->n; i++, at += KS_ENTRY) {
    memcpy(&st->ckpt[i], p + at, 8);
    memcpy(&st->slot[i], p + at + 8, 4);
    memcpy(&st->pid[i], p + at + 12, 8);
    memcpy(&st->epoch[i], p + at + 20, 2);
    if (st->ckpt[i] <= 0 || st->slot[i] >= st->pool) {
      sl__fmt(err, errcap, "damaged Kafka sink state: transaction %u: checkpoint %lld, slot "
                           "%u of %u", i + 1, (long long)st->ckpt[i], st->slot[i], st->pool);
      return -SL_ESTATE;
    }
    if (st->pid[i] < -1 || st->epoch[i] < -1 || (st->pid[i] < 0) != (st->epoch[i] < 0)) {
      sl__fmt(err, errcap, "damaged Kafka sink state: transaction %u: producer id %lld, epoch "
                           "%d", i + 1, (long long)st->pid[i], (int)st->epoch[i]);
      return -SL_ESTATE;
    }
  }
  return 0;
}

static int ks_stopping(void *ctx) { return sl_ctx_stopping(ctx); }

/* Commits transaction id, which the restored checkpoint pre-committed for
 * checkpoint ckpt with producer id pid, epoch (-1: not known), by EndTxn
 * (kafka_txn.h).  0 when it is committed now or cannot be (said in a
 * warning); an error when Kafka could not be asked -- the restore fails,
 * so that a later one can still commit it. */
static int resume_commit(ks_sink *k, sl_ctx *ctx, const char *id, int64_t ckpt, int64_t pid,
                         int16_t epoch) {
  const sl__kafka_opts *o = &k->o;
  const char *proto = "plaintext";
  for (int i = 0; i < o->n_props; i++)
    if (!strcmp(o->prop_keys[i], "security.protocol")) proto = o->prop_values[i];
  char why[600], err[600];
  if (pid < 0) {
    sl__fmt(why, sizeof why, "the previous run did not learn the id of the producer that began "
                             "it (librdkafka's debug line 'Acquired PID' never came)");
  } else if (strcasecmp(proto, "plaintext")) {
    sl__fmt(why, sizeof why, "properties.security.protocol is '%s', and the client that commits "
                             "another process's transaction speaks PLAINTEXT only", proto);
  } else {
    int kerr = -1;
    int rc = sl__kafka_end_txn(o->bootstrap, id, pid, epoch, 1, KS_RESUME_MS, ks_stopping, ctx,
                               &kerr, err, sizeof err);
    if (!rc && kerr == SL__KT_NONE) {
      trace("resume", id, ckpt);
      sl_ctx_log(ctx, SL_LOG_INFO, "Kafka sink: committed transaction '%s', which checkpoint "
                                   "%lld pre-committed (producer id %lld, epoch %d)", id,
                 (long long)ckpt, (long long)pid, (int)epoch);
      return 0;
    }
    if (!rc && sl__kafka_txn_ended_elsewhere(kerr)) {
      trace("unresumable", id, ckpt);
      sl_ctx_log(ctx, SL_LOG_WARN,
                 "Kafka sink (brokers '%s', topic '%s'): cannot commit transaction '%s', which "
                 "checkpoint %lld pre-committed (producer id %lld, epoch %d): Kafka answered %s: "
                 "another producer session or the broker ended it first.  If the previous run "
                 "committed it (it does when the checkpoint completes; so always when an older "
                 "checkpoint or a savepoint is restored), nothing is missing; if it was aborted "
                 "(e.g. properties.transaction.timeout.ms expired before this restore), RECORDS "
                 "MAY BE MISSING from topic '%s'", o->bootstrap, o->topics[0], id,
                 (long long)ckpt, (long long)pid, (int)epoch,
                 rd_kafka_err2name((rd_kafka_resp_err_t)kerr), o->topics[0]);
      return 0;
    }
    if (rc || kerr != SL__KT_UNSUPPORTED_VERSION)
      return sl_ctx_error(ctx, rc ? rc : -SL_EIO,
                          "Kafka sink (brokers '%s', topic '%s'): cannot commit transaction '%s', "
                          "which checkpoint %lld pre-committed: %s; the restore fails so that a "
                          "later one can still commit it (within "
                          "properties.transaction.timeout.ms)", o->bootstrap, o->topics[0], id,
                          (long long)ckpt, err);
    sl__fmt(why, sizeof why, "the brokers do not accept EndTxn version 0 (%s)", err);
  }
  trace("unresumable", id, ckpt);
  sl_ctx_log(ctx, SL_LOG_WARN,
             "Kafka sink (brokers '%s', topic '%s'): transaction '%s', which checkpoint %lld "
             "pre-committed, cannot be committed from here: %s.  The previous run normally "
             "committed it when the checkpoint completed; if it stopped before that, the "
             "transaction is aborted now and its records are missing from topic '%s'",
             o->bootstrap, o->topics[0], id, (long long)ckpt, why, o->topics[0]);
  return 0;
}

static int ks_recover(void *ud, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                      int n, const char *const *names) {
  ks_sink *k = ud;
  if (k->rc) return sl_ctx_error(ctx, k->rc, "%s", k->err);
  char err[400];
  int rc = 0;
  ks_old *old = n ? sl__calloc((size_t)n, sizeof *old) : NULL;
  if (n && !old) return sl_ctx_error(ctx, -SL_ENOMEM, "Kafka sink: out of memory");
  /* 1. check every blob before acting */
  for (int b = 0; b < n; b++) {
    if (!lens[b]) continue; /* none / at-least-once, or nothing yet */
    if ((rc = decode(blobs[b], lens[b], b, n, &old[b], err, sizeof err)) != 0) {
      rc = sl_ctx_error(ctx, rc, "'%s': %s", names && names[b] ? names[b] : "?", err);
      goto out;
    }
  }
  /* 2. commit every transaction the checkpoint pre-committed (before any
   *    of its ids is initialised, which would abort it) */
  for (int b = 0; b < n && !rc; b++)
    for (uint32_t i = 0; lens[b] && i < old[b].n && !rc; i++) {
      char id[KS_IDLEN + 32];
      snprintf(id, sizeof id, "%s-%u-%u", old[b].prefix, old[b].subtask, old[b].slot[i]);
      rc = resume_commit(k, ctx, id, old[b].ckpt[i], old[b].pid[i], old[b].epoch[i]);
    }
  /* 3. fence every old id this run's writers do not own (those are
   *    initialised by their writer's first call, after this) */
  ks_writer fw = {.sink = k, .ctx = ctx, .subtask = -1};
  int mine_p = sl_ctx_parallelism(ctx);
  int own = k->o.delivery == SL__KAFKA_EXACTLY_ONCE;
  for (int b = 0; b < n && !rc; b++) {
    ks_old *st = &old[b];
    if (!lens[b]) continue;
    /* the old run's ids: the same for every blob of one prefix; fence them
     * once (at the first blob of that prefix) */
    int seen = 0;
    for (int c = 0; c < b && !seen; c++) seen = lens[c] && !strcmp(old[c].prefix, st->prefix);
    if (seen) continue;
    uint32_t pool = 0;
    for (int c = b; c < n; c++)
      if (lens[c] && !strcmp(old[c].prefix, st->prefix) && old[c].pool > pool) pool = old[c].pool;
    for (int s = 0; s < n && !rc; s++)
      for (uint32_t j = 0; j < pool && !rc; j++) {
        if (own && !strcmp(st->prefix, k->o.txn_prefix) && s < mine_p && j < SL__KS_POOL)
          continue;
        ks_slot fs = {0};
        int idn = snprintf(fs.id, sizeof fs.id, "%s-%d-%u", st->prefix, s, j);
        if (idn < 0 || (size_t)idn >= sizeof fs.id) continue; /* (decode bounds the prefix) */
        fw.subtask = s;
        rc = ks_producer(&fw, ctx, &fs, 1);
        if (!rc) rc = slot_init(&fw, ctx, &fs);
        if (!rc) trace("fence", fs.id, 0);
        slot_free(&fs);
      }
  }
out:
  sl__free(old);
  return rc;
}

static void ks_free(void *ud) {
  ks_sink *k = ud;
  sl__kafka_opts_free(&k->o);
  sl__free(k);
}

void sl__kafka_sink_crash(void *writer) { ((ks_writer *)writer)->crashed = 1; }

static const sl_sink_ops ks_ops = {
    .version = SL_CONNECTOR_VERSION,
    .kind = "kafka",
    .open = ks_open,
    .write = ks_write,
    .flush = ks_flush,
    .idle = ks_idle,
    .close = ks_close,
    .free = ks_free,
    .precommit = ks_precommit,
    .commit_ckpt = ks_commit_ckpt,
    .recover = ks_recover,
};

sl_sink *sl_kafka_sink(const sl_kafka_option *options, size_t n) {
  ks_sink *k = sl__calloc(1, sizeof *k);
  if (!k) return NULL;
  k->rc = sl__kafka_opts_parse(&k->o, options, n, 1, k->err, sizeof k->err);
  return sl_sink_new(&ks_ops, k, 0);
}

sl_sink *sl_kafka_sink_uri(const char *uri) {
  sl_kafka_option *kv;
  size_t n;
  char err[512];
  if (!uri) return NULL;
  int rc = sl__kafka_uri_parse(uri, &kv, &n, err, sizeof err);
  if (rc) {
    ks_sink *k = sl__calloc(1, sizeof *k);
    if (!k) return NULL;
    k->rc = rc;
    sl__fmt(k->err, sizeof k->err, "%s", err);
    return sl_sink_new(&ks_ops, k, 0);
  }
  sl_sink *s = sl_kafka_sink(kv, n);
  sl__kafka_uri_free(kv, n);
  return s;
}

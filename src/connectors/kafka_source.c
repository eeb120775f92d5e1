/*
 * kafka_source.c -- the Kafka source (librdkafka), written on the public
 * connector SDK (sluice_connector.h), configured by Flink's Kafka
 * connector options (kafka_conf.h).
 *
 * Splits.  Every partition of the topics (a list, or the topics matching
 * topic-pattern, a POSIX extended regex matched against the whole name,
 * internal "__" topics excluded) is a split.  Partition p of topic t
 * belongs to subtask ((((hash(t) * 31) & 0x7FFFFFFF) % P) + p) % P, with
 * Java's String.hashCode as hash: the owner Flink's KafkaSourceEnumerator
 * picks, so consecutive partitions spread over consecutive subtasks.
 *
 * plan (the thread of sl_execute) connects with a short-lived consumer
 * handle, reads the cluster's metadata (failing early, naming the
 * bootstrap servers, when no broker answers, and naming the topic when it
 * does not exist), and resolves every partition's start offset
 * (earliest / latest / the group's committed offset / the first offset at
 * or after a timestamp) and, for a bounded read, its stop offset (the end
 * found now, or the first offset at or after scan.bounded.timestamp-millis)
 * -- concrete offsets, so a checkpoint never holds a logical one.
 *
 * Readers.  open makes one consumer per subtask that owns partitions (or
 * may get some by discovery): no subscription, no group membership, no
 * auto-commit; the first poll assigns its partitions at explicit offsets
 * (after seek moved them).  open also asks for its topics' metadata
 * (prime_metadata), so the assignment finds the partitions' leaders in
 * librdkafka's cache: left to itself, a consumer whose first, brokers-only
 * metadata request is still in flight when the partitions are assigned
 * may not ask for the topic until its 1 s topic scan ("Topic ... metadata
 * information unknown"), and a bounded read then took a second longer at
 * random.  poll takes messages without waiting
 * (rd_kafka_consumer_poll(rk, 0)) up to its budget; the consumer queue's
 * io event writes to a pipe, the reader's wait_fd, so a parked worker
 * wakes when messages come.  librdkafka's log and error events are served
 * by that same poll (log.queue), on the worker thread, and go to the job's
 * logger; fatal errors, unknown topics or partitions and authorization or
 * authentication failures fail the job naming topic, partition and
 * brokers; the others (a broker down, a timeout) are retried by librdkafka
 * and logged.
 *
 * Bounded reads (scan.bounded.mode latest-offset | timestamp).  A partition
 * ends when the reader emitted the message before its stop offset, or when
 * librdkafka reports the partition's end (enable.partition.eof) at or past
 * it (the last offsets may be transaction markers, never delivered); it is
 * paused then and marked done.  The read ends (SL_POLL_END) when every
 * partition of the reader is done.  No discovery for bounded reads.
 *
 * Discovery (scan.topic-partition-discovery.interval > 0, unbounded).  A
 * thread per reader reads the metadata every interval and hands new
 * partitions it owns (a new topic matching the pattern, partitions added
 * to a topic) to poll, which assigns them from their earliest offset (as
 * Flink does with partitions discovered after the start) and wakes the
 * worker (sl_ctx_wake).
 *
 * Per-partition watermarks (sl_kafka_source_set_watermarks).  Each
 * partition is a split of the SDK's per-split watermarks: after each poll
 * the reader reports, per partition that got records, max timestamp -
 * out_of_orderness - 1 (monotonous: max - 1); a partition without records
 * for idle_timeout_ms is reported idle; a bounded partition that ended is
 * done.  Partitions are registered at SL_WATERMARK_MIN before their first
 * record, so a partition that has not spoken yet holds the watermark back
 * (until its idle timeout).  Records interleaved from partitions that are
 * each in order (within the bound) are thus never late.
 *
 * Checkpoints.  position writes, for every partition of the reader, topic,
 * partition, the next offset to read (every record emitted before is
 * covered) and the bounded stop offset:
 *
 *   "KSRC" u8 version=1, u32 count, count * { u16 topic length, topic,
 *   i32 partition, i64 next (>= 0, or -2: not started, from the earliest),
 *   i64 stop (-1: unbounded) }   (host byte order, as the other sources)
 *
 * seek reads the blobs of every old reader (any parallelism), checks them
 * completely (-SL_ESTATE with the reason otherwise) and takes the
 * partitions this subtask owns now: their next offset and their stop (a
 * restored bounded read ends where the original would have).  A
 * partition the plan finds but the checkpoint does not hold was created
 * after it and starts from its earliest offset (Flink's rule for new
 * partitions); without any partition in the checkpoint, the startup mode
 * applies.
 *
 * Committed offsets (properties.group.id given).  position keeps the
 * offsets it wrote with the checkpoint's id; checkpoint_complete for that
 * id commits them to the group, asynchronously.  They are for monitoring
 * (consumer lag in Kafka's tools) and are never read when a checkpoint
 * exists.
 *
 * Metrics: per partition (split) the records read in this run and the lag
 * (high watermark - next offset, from librdkafka's cached watermarks).
 * Split ids: the partition when the source reads one named topic, else
 * (String.hashCode(topic) << 32) | partition.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "connectors/connector.h"
#include "connectors/kafka_conf.h"
#include "runtime/source_sink.h" /* the handle, for the set_* calls */

#define KS_MAGIC "KSRC"
#define KS_VERSION 1
#define KS_NOT_STARTED RD_KAFKA_OFFSET_BEGINNING /* -2 */
#define KS_PLAN_TIMEOUT_MS 30000
#define KS_TRANSPORT_GRACE_MS 3000 /* plan: after a connection failed */
#define KS_PRIME_MS 2000 /* open: the metadata of a reader's topics */
#define KS_NO_SPLIT UINT64_MAX /* the idle pseudo-split of a reader that may discover */

/* A partition as planned. */
typedef struct ks_part {
  char *topic;
  int32_t partition;
  int64_t start; /* next offset to read, or KS_NOT_STARTED */
  int64_t stop;  /* bounded: stop before this offset; -1 unbounded */
} ks_part;

typedef struct ks_src {
  sl__kafka_opts o;
  int opts_rc; /* a bad option: fail in plan with opts_err */
  char opts_err[512];
  sl_kafka_deserialize_fn deser;
  void *deser_ud;
  int has_wm;
  sl_watermark_strategy wm;
  /* plan */
  regex_t re;
  int has_re;
  char own_group[64];
  ks_part *parts;
  size_t n_parts;
} ks_src;

/* A partition of a reader. */
typedef struct ks_split {
  char *topic;
  int32_t partition;
  uint64_t id;
  int64_t next, stop;
  int assigned, done, done_reported, idle;
  int64_t maxts, reported_wm;
  int64_t last_ms; /* monotonic ms of the last record (or of the assignment) */
  uint64_t records;
  int touched; /* got records in this poll */
} ks_split;

/* a partition found by the discovery thread */
typedef struct ks_found {
  char *topic;
  int32_t partition;
} ks_found;

typedef struct ks_reader {
  ks_src *src;
  sl_ctx *ctx; /* the poll context (logging from librdkafka's callbacks) */
  sl_ctx *wake_ctx; /* the same, for the discovery thread (set before it starts) */
  int P, subtask;
  rd_kafka_t *rk;
  rd_kafka_queue_t *queue;
  int pipe_r, pipe_w;
  ks_split *splits;
  size_t n_splits, cap_splits;
  size_t last_hit;
  int started; /* the first poll assigned the partitions */
  int failed_rc;
  int64_t next_metrics_ms;
  rd_kafka_topic_partition_list_t *to_commit; /* the last position's offsets */
  int64_t to_commit_id;                        /* ... for this checkpoint */
  /* discovery */
  pthread_t thread;
  int thread_on;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int quit;
  ks_found *found; /* under mu */
  size_t n_found;
  ks_found *known; /* the thread's own */
  size_t n_known;
} ks_reader;

/* ---- helpers ---------------------------------------------------------------------- */

/* Java's String.hashCode over the name's bytes (Kafka topic names are ASCII). */
static int32_t java_hash(const char *s) {
  uint32_t h = 0;
  for (; *s; s++) h = 31 * h + (unsigned char)*s;
  return (int32_t)h;
}

/* The subtask owning partition p of topic t (Flink's KafkaSourceEnumerator). */
static int owner(const char *topic, int32_t p, int P) {
  uint32_t start = ((uint32_t)java_hash(topic) * 31u) & 0x7FFFFFFFu;
  return (int)(((int64_t)(start % (uint32_t)P) + p) % P);
}

static uint64_t split_id(const ks_src *s, const char *topic, int32_t p) {
  if (s->o.n_topics == 1 && !s->o.topic_pattern) return (uint64_t)(uint32_t)p;
  return ((uint64_t)(uint32_t)java_hash(topic) << 32) | (uint32_t)p;
}

/* Whether topic is one the source reads. */
static int wanted(const ks_src *s, const char *topic) {
  if (s->has_re) {
    regmatch_t m;
    if (!strncmp(topic, "__", 2)) return 0; /* __consumer_offsets, __transaction_state */
    return regexec(&s->re, topic, 1, &m, 0) == 0 && m.rm_so == 0 &&
           (size_t)m.rm_eo == strlen(topic);
  }
  for (int i = 0; i < s->o.n_topics; i++)
    if (!strcmp(s->o.topics[i], topic)) return 1;
  return 0;
}

static sl_log_level rd_level(int level) {
  return level <= 3 ? SL_LOG_ERROR : level == 4 ? SL_LOG_WARN : level <= 6 ? SL_LOG_INFO
                                                                             : SL_LOG_DEBUG;
}

/* librdkafka's log lines: queued (log.queue) and served by the thread that
 * polls the handle, which set the handle's opaque to a live context. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  sl_ctx **ctx = rd_kafka_opaque(rk);
  if (ctx && *ctx) sl_ctx_log(*ctx, rd_level(level), "Kafka %s: %s", fac, buf);
}

/* A configuration for a handle of this source (plan's or a reader's).  The
 * opaque is a pointer to the context pointer the log callback uses. */
static rd_kafka_conf_t *make_conf(const ks_src *s, const char *client_id, sl_ctx **opaque,
                                  int bounded_eof, char *err, size_t errcap) {
  rd_kafka_conf_t *c = sl__kafka_conf(&s->o, client_id, err, errcap);
  if (!c) return NULL;
  char e[512];
  int has_reset = 0;
  for (int i = 0; i < s->o.n_props; i++)
    if (!strcmp(s->o.prop_keys[i], "auto.offset.reset")) has_reset = 1;
  const char *kv[][2] = {
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", bounded_eof ? "true" : "false"},
      {"log.queue", "true"},
      /* a checkpointed offset that retention deleted: the oldest kept */
      {"auto.offset.reset", has_reset ? NULL : "earliest"},
      /* assign() needs a group id: one of our own when none is given
       * (never committed to) */
      {"group.id", s->o.group_id ? s->o.group_id : s->own_group},
  };
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
    if (!kv[i][1]) continue;
    if (rd_kafka_conf_set(c, kv[i][0], kv[i][1], e, sizeof e) != RD_KAFKA_CONF_OK) {
      sl__fmt(err, errcap, "Kafka: %s", e);
      rd_kafka_conf_destroy(c);
      return NULL;
    }
  }
  rd_kafka_conf_set_log_cb(c, on_log);
  rd_kafka_conf_set_opaque(c, opaque);
  return c;
}

/* An error that no retry will cure: the job fails. */
static int permanent(rd_kafka_resp_err_t e) {
  switch (e) {
  case RD_KAFKA_RESP_ERR__FATAL:
  case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
  case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
  case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
  case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
  case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
  case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
  case RD_KAFKA_RESP_ERR__AUTHENTICATION:
  case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
  case RD_KAFKA_RESP_ERR__SSL:
  case RD_KAFKA_RESP_ERR__INVALID_ARG:
    return 1;
  default:
    return 0;
  }
}

/* ---- plan ------------------------------------------------------------------------------ */

typedef struct plan_state {
  sl_ctx *ctx;
  rd_kafka_resp_err_t down; /* all brokers down, authentication failed, ... */
  int64_t transport;        /* when a connection first failed (ms), else 0 */
  char why[512];
} plan_state;

/* an error event of plan's handle (served from its main queue) */
static void plan_on_error(plan_state *ps, rd_kafka_resp_err_t err, const char *reason) {
  if (err == RD_KAFKA_RESP_ERR__TRANSPORT && !ps->transport) {
    ps->transport = sl__now_ms();
    if (!ps->down) sl__fmt(ps->why, sizeof ps->why, "%s", reason);
  }
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE ||
      permanent(err)) {
    if (!ps->down) sl__fmt(ps->why, sizeof ps->why, "%s", reason);
    if (!ps->down) ps->down = err;
  }
}

static int push_part(ks_src *s, size_t *cap, const char *topic, int32_t p) {
  if (s->n_parts == *cap) {
    size_t ncap = *cap ? *cap * 2 : 16;
    ks_part *np = sl__realloc(s->parts, ncap * sizeof *np);
    if (!np) return -SL_ENOMEM;
    s->parts = np;
    *cap = ncap;
  }
  ks_part *pt = &s->parts[s->n_parts];
  if (!(pt->topic = sl__strdup(topic))) return -SL_ENOMEM;
  pt->partition = p;
  pt->start = KS_NOT_STARTED;
  pt->stop = -1;
  s->n_parts++;
  return 0;
}

static int cmp_parts(const void *a, const void *b) {
  const ks_part *x = a, *y = b;
  int c = strcmp(x->topic, y->topic);
  return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static void free_parts(ks_src *s) {
  for (size_t i = 0; i < s->n_parts; i++) sl__free(s->parts[i].topic);
  sl__free(s->parts);
  s->parts = NULL;
  s->n_parts = 0;
}

/* offsets (in l, set by ListOffsets) for timestamp / -1 end / -2 beginning;
 * 0 or the error */
static rd_kafka_resp_err_t list_offsets(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l,
                                        int64_t what) {
  for (int i = 0; i < l->cnt; i++) l->elems[i].offset = what;
  rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, KS_PLAN_TIMEOUT_MS);
  for (int i = 0; !e && i < l->cnt; i++)
    if (l->elems[i].err) e = l->elems[i].err;
  return e;
}

static int plan_fail(sl_ctx *ctx, int rc, const char *fmt, ...) {
  char msg[1200];
  va_list ap;
  va_start(ap, fmt);
  sl__vfmt(msg, sizeof msg, fmt, ap);
  va_end(ap);
  sl_ctx_fail(ctx, "%s", msg);
  return rc;
}

/* the reset strategy for a partition without a committed offset: -2
 * earliest, -1 latest, 0 fail */
static int64_t reset_strategy(const ks_src *s) {
  for (int i = 0; i < s->o.n_props; i++)
    if (!strcmp(s->o.prop_keys[i], "auto.offset.reset")) {
      const char *v = s->o.prop_values[i];
      if (!strcmp(v, "latest") || !strcmp(v, "largest") || !strcmp(v, "end")) return -1;
      if (!strcmp(v, "error") || !strcmp(v, "none")) return 0;
    }
  return -2;
}

static int ks_plan(void *ud, sl_ctx *ctx) {
  ks_src *s = ud;
  char err[512] = "";
  if (s->opts_rc) return plan_fail(ctx, s->opts_rc, "%s", s->opts_err);
  free_parts(s);
  if (!s->own_group[0])
    sl__fmt(s->own_group, sizeof s->own_group, "sluice-%ld-%" PRIx64, (long)getpid(),
            (uint64_t)sl__now_ns());
  if (s->o.topic_pattern && !s->has_re) {
    int rrc = regcomp(&s->re, s->o.topic_pattern, REG_EXTENDED);
    if (rrc) {
      regerror(rrc, &s->re, err, sizeof err);
      return plan_fail(ctx, -SL_ECONFIG, "Kafka option 'topic-pattern': '%s' is not a POSIX "
                                         "extended regular expression: %s",
                       s->o.topic_pattern, err);
    }
    s->has_re = 1;
  }
  sl_ctx *logctx = ctx;
  plan_state ps = {.ctx = ctx};
  rd_kafka_conf_t *c = make_conf(s, "sluice-plan", &logctx, 0, err, sizeof err);
  if (!c) return plan_fail(ctx, -SL_ECONFIG, "%s", err);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
  if (!rk) return plan_fail(ctx, -SL_ECONFIG, "Kafka: cannot make a consumer: %s", err);
  rd_kafka_set_log_queue(rk, NULL);
  int rc = 0;
  const struct rd_kafka_metadata *md = NULL;
  int64_t deadline = sl__now_ns() / 1000000 + KS_PLAN_TIMEOUT_MS;
  rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
  for (;;) {
    e = rd_kafka_metadata(rk, 1, NULL, &md, 500);
    /* serve the queues: log lines and error events */
    rd_kafka_event_t *ev;
    rd_kafka_queue_t *mq = rd_kafka_queue_get_main(rk);
    while ((ev = rd_kafka_queue_poll(mq, 0))) {
      if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_ERROR)
        plan_on_error(&ps, rd_kafka_event_error(ev), rd_kafka_event_error_string(ev));
      else if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_LOG) {
        const char *fac, *str;
        int level;
        if (!rd_kafka_event_log(ev, &fac, &str, &level))
          sl_ctx_log(ctx, rd_level(level), "Kafka %s: %s", fac, str);
      }
      rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(mq);
    /* a broker refused or timed out: give the others 3 s more, not 30 */
    if (ps.transport && deadline > ps.transport + KS_TRANSPORT_GRACE_MS)
      deadline = ps.transport + KS_TRANSPORT_GRACE_MS;
    if (!e || ps.down || sl__now_ns() / 1000000 >= deadline) break;
  }
  if (e || !md) {
    rc = plan_fail(ctx, -SL_EIO,
                   "cannot reach the Kafka brokers %s (properties.bootstrap.servers): %s; check "
                   "the address and that Kafka runs there",
                   s->o.bootstrap, ps.why[0] ? ps.why : rd_kafka_err2str(e));
    goto out;
  }
  size_t cap = 0;
  for (int i = 0; i < s->o.n_topics && !rc; i++) { /* every named topic must exist */
    const struct rd_kafka_metadata_topic *t = NULL;
    for (int k = 0; k < md->topic_cnt; k++)
      if (!strcmp(md->topics[k].topic, s->o.topics[i])) t = &md->topics[k];
    if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || !t->partition_cnt)
      rc = plan_fail(ctx, -SL_ENOENT,
                     "Kafka topic '%s' does not exist on %s (or this client may not describe "
                     "it): check the option 'topic'",
                     s->o.topics[i], s->o.bootstrap);
    else if (t->err)
      rc = plan_fail(ctx, -SL_EIO, "Kafka topic '%s' on %s: %s", t->topic, s->o.bootstrap,
                     rd_kafka_err2str(t->err));
  }
  for (int k = 0; k < md->topic_cnt && !rc; k++) {
    const struct rd_kafka_metadata_topic *t = &md->topics[k];
    if (!wanted(s, t->topic) || t->err) continue;
    for (int p = 0; p < t->partition_cnt && !rc; p++)
      rc = push_part(s, &cap, t->topic, t->partitions[p].id);
  }
  if (rc == -SL_ENOMEM) plan_fail(ctx, rc, "out of memory planning the Kafka source");
  if (rc || !s->n_parts) goto out;
  qsort(s->parts, s->n_parts, sizeof *s->parts, cmp_parts);
  /* start and stop offsets */
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)s->n_parts);
  rd_kafka_topic_partition_list_t *end = rd_kafka_topic_partition_list_new((int)s->n_parts);
  for (size_t i = 0; i < s->n_parts; i++) {
    rd_kafka_topic_partition_list_add(l, s->parts[i].topic, s->parts[i].partition);
    rd_kafka_topic_partition_list_add(end, s->parts[i].topic, s->parts[i].partition);
  }
  const char *what = "end";
  if (!(e = list_offsets(rk, end, RD_KAFKA_OFFSET_END))) {
    switch (s->o.startup) {
    case SL__KAFKA_EARLIEST:
      what = "earliest";
      e = list_offsets(rk, l, RD_KAFKA_OFFSET_BEGINNING);
      break;
    case SL__KAFKA_LATEST:
      for (int i = 0; i < l->cnt; i++) l->elems[i].offset = end->elems[i].offset;
      break;
    case SL__KAFKA_TIMESTAMP:
      what = "timestamp";
      e = list_offsets(rk, l, s->o.startup_ts);
      for (int i = 0; !e && i < l->cnt; i++) /* no message that late: the end */
        if (l->elems[i].offset < 0) l->elems[i].offset = end->elems[i].offset;
      break;
    case SL__KAFKA_GROUP: {
      what = "committed";
      for (int i = 0; i < l->cnt; i++) l->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
      e = rd_kafka_committed(rk, l, KS_PLAN_TIMEOUT_MS);
      int64_t reset = reset_strategy(s);
      int need_begin = 0;
      for (int i = 0; !e && i < l->cnt; i++) {
        if (l->elems[i].err) e = l->elems[i].err;
        else if (l->elems[i].offset >= 0) continue;
        else if (!reset) {
          rc = plan_fail(ctx, -SL_ESTATE,
                         "Kafka group '%s' has no committed offset for topic '%s' partition "
                         "%" PRId32 " and properties.auto.offset.reset is '%s'",
                         s->o.group_id, l->elems[i].topic, l->elems[i].partition, "none");
          break;
        } else if (reset == -1) {
          l->elems[i].offset = end->elems[i].offset;
        } else {
          need_begin = 1;
        }
      }
      if (!e && !rc && need_begin) {
        rd_kafka_topic_partition_list_t *b = rd_kafka_topic_partition_list_copy(l);
        if (!(e = list_offsets(rk, b, RD_KAFKA_OFFSET_BEGINNING)))
          for (int i = 0; i < l->cnt; i++)
            if (l->elems[i].offset < 0) l->elems[i].offset = b->elems[i].offset;
        rd_kafka_topic_partition_list_destroy(b);
      }
      break;
    }
    }
  }
  for (size_t i = 0; !e && !rc && i < s->n_parts; i++) {
    s->parts[i].start = l->elems[i].offset;
    if (s->parts[i].start > end->elems[i].offset) s->parts[i].start = end->elems[i].offset;
    if (s->o.bounded == SL__KAFKA_BOUNDED_LATEST) s->parts[i].stop = end->elems[i].offset;
  }
  if (!e && !rc && s->o.bounded == SL__KAFKA_BOUNDED_TIMESTAMP) {
    what = "bounded timestamp";
    e = list_offsets(rk, l, s->o.bounded_ts);
    for (size_t i = 0; !e && i < s->n_parts; i++)
      s->parts[i].stop = l->elems[i].offset >= 0 ? l->elems[i].offset : end->elems[i].offset;
  }
  if (e && !rc)
    rc = plan_fail(ctx, -SL_EIO, "cannot read the %s offsets of Kafka topic%s %s on %s: %s", what,
                   s->o.n_topics == 1 ? "" : "s",
                   s->o.n_topics ? s->o.topics[0] : s->o.topic_pattern, s->o.bootstrap,
                   rd_kafka_err2str(e));
  rd_kafka_topic_partition_list_destroy(l);
  rd_kafka_topic_partition_list_destroy(end);
out:
  if (md) rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
  return rc;
}

/* ---- readers ---------------------------------------------------------------------------- */

static ks_split *add_split(ks_reader *r, const char *topic, int32_t p, int64_t next,
                           int64_t stop) {
  if (r->n_splits == r->cap_splits) {
    size_t ncap = r->cap_splits ? r->cap_splits * 2 : 8;
    ks_split *ns = sl__realloc(r->splits, ncap * sizeof *ns);
    if (!ns) return NULL;
    r->splits = ns;
    r->cap_splits = ncap;
  }
  ks_split *sp = &r->splits[r->n_splits];
  memset(sp, 0, sizeof *sp);
  if (!(sp->topic = sl__strdup(topic))) return NULL;
  sp->partition = p;
  sp->id = split_id(r->src, topic, p);
  sp->next = next;
  sp->stop = stop;
  sp->maxts = SL_WATERMARK_MIN;
  sp->reported_wm = SL_WATERMARK_MIN;
  r->n_splits++;
  return sp;
}

static ks_split *find_split(ks_reader *r, const char *topic, int32_t p) {
  for (size_t i = 0; i < r->n_splits; i++)
    if (r->splits[i].partition == p && !strcmp(r->splits[i].topic, topic)) return &r->splits[i];
  return NULL;
}

static void ks_close(void *reader, sl_ctx *ctx);

/* Fetches the metadata of every topic r reads into librdkafka's cache
 * (see "Readers" above).  Only a hint: a failure is left to librdkafka's
 * own retries. */
static void prime_metadata(ks_reader *r) {
  for (size_t i = 0; i < r->n_splits; i++) {
    int seen = 0;
    for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(r->splits[j].topic, r->splits[i].topic);
    if (seen) continue;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->rk, r->splits[i].topic, NULL);
    if (!rkt) continue;
    const struct rd_kafka_metadata *md = NULL;
    if (!rd_kafka_metadata(r->rk, 0, rkt, &md, KS_PRIME_MS)) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
  }
}

static int ks_open(void *ud, sl_ctx *ctx, void **reader) {
  ks_src *s = ud;
  int P = sl_ctx_parallelism(ctx), me = sl_ctx_subtask(ctx);
  *reader = NULL;
  int discover = s->o.bounded == SL__KAFKA_UNBOUNDED && s->o.discovery_ms > 0;
  size_t mine = 0;
  for (size_t i = 0; i < s->n_parts; i++) mine += owner(s->parts[i].topic, s->parts[i].partition, P) == me;
  if (!mine && !discover) return 0;
  ks_reader *r = sl__calloc(1, sizeof *r);
  if (!r) return -SL_ENOMEM;
  r->src = s;
  r->P = P;
  r->subtask = me;
  r->pipe_r = r->pipe_w = -1;
  r->ctx = ctx;
  int rc = 0;
  for (size_t i = 0; i < s->n_parts && !rc; i++) {
    const ks_part *pt = &s->parts[i];
    if (owner(pt->topic, pt->partition, P) == me &&
        !add_split(r, pt->topic, pt->partition, pt->start, pt->stop))
      rc = -SL_ENOMEM;
  }
  char err[512] = "", cid[64];
  int fds[2];
  if (rc) goto fail;
  sl__fmt(cid, sizeof cid, "sluice-%d", me);
  rd_kafka_conf_t *c = make_conf(s, cid, &r->ctx, s->o.bounded != SL__KAFKA_UNBOUNDED, err,
                                 sizeof err);
  if (!c) {
    rc = sl_ctx_error(ctx, -SL_ECONFIG, "%s", err);
    goto fail;
  }
  if (!(r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err))) {
    rc = sl_ctx_error(ctx, -SL_EIO, "Kafka: cannot make a consumer for %s: %s", s->o.bootstrap,
                      err);
    goto fail;
  }
  rd_kafka_set_log_queue(r->rk, NULL);
  rd_kafka_poll_set_consumer(r->rk); /* log and error events come with the messages */
  r->queue = rd_kafka_queue_get_consumer(r->rk);
  if (pipe(fds) || fcntl(fds[0], F_SETFL, O_NONBLOCK) || fcntl(fds[1], F_SETFL, O_NONBLOCK) ||
      fcntl(fds[0], F_SETFD, FD_CLOEXEC) || fcntl(fds[1], F_SETFD, FD_CLOEXEC)) {
    rc = sl_ctx_error(ctx, -SL_EIO, "Kafka source: cannot make a pipe: %s", strerror(errno));
    goto fail;
  }
  r->pipe_r = fds[0];
  r->pipe_w = fds[1];
  rd_kafka_queue_io_event_enable(r->queue, r->pipe_w, "1", 1);
  prime_metadata(r);
  *reader = r;
  return 0;
fail:
  ks_close(r, ctx);
  return rc;
}

static void stop_thread(ks_reader *r) {
  if (!r->thread_on) return;
  pthread_mutex_lock(&r->mu);
  r->quit = 1;
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
  pthread_join(r->thread, NULL);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
  r->thread_on = 0;
}

static void free_found(ks_found *f, size_t n) {
  for (size_t i = 0; i < n; i++) sl__free(f[i].topic);
  sl__free(f);
}

static void ks_close(void *reader, sl_ctx *ctx) {
  ks_reader *r = reader;
  if (!r) return;
  stop_thread(r);
  r->ctx = ctx;
  if (r->to_commit) rd_kafka_topic_partition_list_destroy(r->to_commit);
  if (r->queue) {
    rd_kafka_queue_io_event_enable(r->queue, -1, NULL, 0);
    rd_kafka_queue_destroy(r->queue);
  }
  if (r->rk) {
    rd_kafka_assign(r->rk, NULL);
    rd_kafka_destroy_flags(r->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }
  if (r->pipe_r >= 0) close(r->pipe_r);
  if (r->pipe_w >= 0) close(r->pipe_w);
  for (size_t i = 0; i < r->n_splits; i++) sl__free(r->splits[i].topic);
  sl__free(r->splits);
  free_found(r->found, r->n_found);
  free_found(r->known, r->n_known);
  sl__free(r);
}

/* ---- discovery ---------------------------------------------------------------------------- */

static int known(const ks_found *k, size_t n, const char *topic, int32_t p) {
  for (size_t i = 0; i < n; i++)
    if (k[i].partition == p && !strcmp(k[i].topic, topic)) return 1;
  return 0;
}

static int push_found(ks_found **v, size_t *n, const char *topic, int32_t p) {
  ks_found *nv = sl__realloc(*v, (*n + 1) * sizeof *nv);
  if (!nv) return -SL_ENOMEM;
  *v = nv;
  if (!(nv[*n].topic = sl__strdup(topic))) return -SL_ENOMEM;
  nv[*n].partition = p;
  (*n)++;
  return 0;
}

static void *discovery_main(void *arg) {
  ks_reader *r = arg;
  const ks_src *s = r->src;
  pthread_mutex_lock(&r->mu);
  while (!r->quit) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (s->o.discovery_ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(s->o.discovery_ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    while (!r->quit && pthread_cond_timedwait(&r->cv, &r->mu, &ts) != ETIMEDOUT) {
    }
    if (r->quit) break;
    pthread_mutex_unlock(&r->mu);
    const struct rd_kafka_metadata *md = NULL;
    int timeout = s->o.discovery_ms < 4000 ? (int)s->o.discovery_ms + 1000 : 5000;
    int woke = 0;
    if (!rd_kafka_metadata(r->rk, 1, NULL, &md, timeout) && md) {
      for (int k = 0; k < md->topic_cnt; k++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[k];
        if (t->err || !wanted(s, t->topic)) continue;
        for (int p = 0; p < t->partition_cnt; p++) {
          int32_t id = t->partitions[p].id;
          if (owner(t->topic, id, r->P) != r->subtask || known(r->known, r->n_known, t->topic, id))
            continue;
          if (push_found(&r->known, &r->n_known, t->topic, id)) continue;
          pthread_mutex_lock(&r->mu);
          if (!push_found(&r->found, &r->n_found, t->topic, id)) woke = 1;
          pthread_mutex_unlock(&r->mu);
        }
      }
      rd_kafka_metadata_destroy(md);
    }
    if (woke) sl_ctx_wake(r->wake_ctx);
    pthread_mutex_lock(&r->mu);
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

/* ---- poll ---------------------------------------------------------------------------------- */

/* Assign the splits not assigned yet (those not done) at their offsets. */
static int assign_new(ks_reader *r, sl_ctx *ctx) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
  int64_t now = sl__conn_ms(ctx);
  for (size_t i = 0; i < r->n_splits; i++) {
    ks_split *sp = &r->splits[i];
    if (sp->assigned) continue;
    sp->assigned = 1;
    sp->last_ms = now;
    if (r->src->has_wm) sl_ctx_split_watermark(ctx, sp->id, SL_WATERMARK_MIN); /* registers it */
    if (sp->stop >= 0 && sp->next >= 0 && sp->next >= sp->stop) sp->done = 1;
    if (sp->done) continue;
    rd_kafka_topic_partition_list_add(l, sp->topic, sp->partition)->offset = sp->next;
  }
  rd_kafka_error_t *err = l->cnt ? rd_kafka_incremental_assign(r->rk, l) : NULL;
  rd_kafka_topic_partition_list_destroy(l);
  if (err) {
    int rc = sl_ctx_error(ctx, -SL_EIO, "Kafka: cannot assign the partitions of %s on %s: %s",
                          r->src->o.n_topics ? r->src->o.topics[0] : r->src->o.topic_pattern,
                          r->src->o.bootstrap, rd_kafka_error_string(err));
    rd_kafka_error_destroy(err);
    return rc;
  }
  return 0;
}

static void finish_split(ks_reader *r, ks_split *sp) {
  if (sp->done) return;
  sp->done = 1;
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, sp->topic, sp->partition);
  rd_kafka_pause_partitions(r->rk, l);
  rd_kafka_topic_partition_list_destroy(l);
}

/* The split of a message: the last one hit, else a search (a reader has
 * few partitions; the name comparison is cheap next to librdkafka's own
 * per-message work). */
static ks_split *split_of_msg(ks_reader *r, const rd_kafka_message_t *m) {
  if (!m->rkt) return NULL;
  const char *topic = rd_kafka_topic_name(m->rkt);
  if (r->last_hit < r->n_splits) {
    ks_split *sp = &r->splits[r->last_hit];
    if (sp->partition == m->partition && !strcmp(sp->topic, topic)) return sp;
  }
  for (size_t i = 0; i < r->n_splits; i++)
    if (r->splits[i].partition == m->partition && !strcmp(r->splits[i].topic, topic)) {
      r->last_hit = i;
      return &r->splits[i];
    }
  return NULL;
}

static int on_error(ks_reader *r, sl_ctx *ctx, const rd_kafka_message_t *m) {
  const ks_src *s = r->src;
  if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    ks_split *sp = split_of_msg(r, m);
    if (sp && sp->stop >= 0 && m->offset >= sp->stop) finish_split(r, sp);
    return 0;
  }
  char fatal[512];
  const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
  if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
    rd_kafka_resp_err_t e = rd_kafka_fatal_error(r->rk, fatal, sizeof fatal);
    return sl_ctx_error(ctx, -SL_EIO, "Kafka consumer of %s failed: %s: %s", s->o.bootstrap,
                        rd_kafka_err2name(e), fatal);
  }
  if (permanent(m->err)) {
    if (topic)
      return sl_ctx_error(ctx, -SL_EIO, "Kafka topic '%s' partition %" PRId32 " on %s: %s",
                          topic, m->partition, s->o.bootstrap, rd_kafka_message_errstr(m));
    return sl_ctx_error(ctx, -SL_EIO, "Kafka brokers %s: %s", s->o.bootstrap,
                        rd_kafka_message_errstr(m));
  }
  if (topic)
    sl_ctx_log(ctx, SL_LOG_WARN, "Kafka topic '%s' partition %" PRId32 ": %s (retrying)", topic,
               m->partition, rd_kafka_message_errstr(m));
  else
    sl_ctx_log(ctx, SL_LOG_WARN, "Kafka brokers %s: %s (retrying)", s->o.bootstrap,
               rd_kafka_message_errstr(m));
  return 0;
}

static int on_message(ks_reader *r, sl_ctx *ctx, const rd_kafka_message_t *m, int *emitted) {
  const ks_src *s = r->src;
  ks_split *sp = split_of_msg(r, m);
  if (!sp || sp->done) return 0; /* fetched before a pause */
  if (sp->stop >= 0 && m->offset >= sp->stop) {
    finish_split(r, sp);
    return 0;
  }
  rd_kafka_timestamp_type_t tt;
  int64_t ts = rd_kafka_message_timestamp(m, &tt);
  if (tt == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ts < 0) ts = SL_NO_TIMESTAMP;
  if (m->len > UINT32_MAX || m->key_len > UINT32_MAX) {
    char where[400];
    sl__fmt(where, sizeof where, "topic=%s partition=%" PRId32 " offset=%" PRId64, sp->topic,
            m->partition, m->offset);
    int rc = sl__conn_bad(ctx, where, "message larger than 4 GiB", m->payload, 0);
    if (rc) return rc;
  } else {
    sl_record rec = {.ts = ts, .key = m->key, .key_len = (uint32_t)m->key_len,
                     .value = m->payload ? m->payload : "", .value_len = (uint32_t)m->len};
    int skip = 0;
    if (s->deser) {
      sl_kafka_message km = {sp->topic, m->partition, m->offset, ts, m->key, m->key_len,
                             rec.value, m->len, m->payload == NULL};
      int rc = s->deser(s->deser_ud, ctx, &km, &rec);
      if (rc < 0)
        return sl_ctx_error(ctx, rc, "Kafka message topic=%s partition=%" PRId32
                                     " offset=%" PRId64 ": the deserializer failed",
                            sp->topic, m->partition, m->offset);
      skip = rc == 1;
    }
    if (!skip) {
      int rc = sl_ctx_emit(ctx, &rec);
      if (rc) return rc;
      (*emitted)++;
      if (rec.ts != SL_NO_TIMESTAMP && rec.ts > sp->maxts) sp->maxts = rec.ts;
    }
  }
  sp->next = m->offset + 1;
  sp->records++;
  sp->touched = 1;
  sp->last_ms = sl__conn_ms(ctx);
  if (sp->stop >= 0 && sp->next >= sp->stop) finish_split(r, sp);
  return 0;
}

static int take_found(ks_reader *r, sl_ctx *ctx) {
  pthread_mutex_lock(&r->mu);
  ks_found *f = r->found;
  size_t n = r->n_found;
  r->found = NULL;
  r->n_found = 0;
  pthread_mutex_unlock(&r->mu);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    if (find_split(r, f[i].topic, f[i].partition)) continue;
    sl_ctx_log(ctx, SL_LOG_INFO, "Kafka: discovered topic '%s' partition %" PRId32
                                 ", reading it from its earliest offset",
               f[i].topic, f[i].partition);
    if (!add_split(r, f[i].topic, f[i].partition, KS_NOT_STARTED, -1)) rc = -SL_ENOMEM;
  }
  free_found(f, n);
  if (!rc) rc = assign_new(r, ctx);
  return rc;
}

static int start(ks_reader *r, sl_ctx *ctx) {
  r->started = 1;
  int rc = assign_new(r, ctx);
  if (rc) return rc;
  const ks_src *s = r->src;
  if (s->o.bounded == SL__KAFKA_UNBOUNDED && s->o.discovery_ms > 0) {
    /* a reader waiting for partitions (or with some) must not hold event
     * time back by itself: an idle pseudo-split makes it idle downstream
     * while it has no live partition (Flink: a reader without splits is
     * idle) */
    if (s->has_wm && (rc = sl_ctx_split_idle(ctx, KS_NO_SPLIT, 1))) return rc;
    for (size_t i = 0; i < r->n_splits; i++)
      if (push_found(&r->known, &r->n_known, r->splits[i].topic, r->splits[i].partition))
        return -SL_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->wake_ctx = ctx;
    if (pthread_create(&r->thread, NULL, discovery_main, r)) {
      pthread_mutex_destroy(&r->mu);
      pthread_cond_destroy(&r->cv);
      return sl_ctx_error(ctx, -SL_EIO, "Kafka source: cannot start the discovery thread");
    }
    r->thread_on = 1;
  }
  return 0;
}

static void report(ks_reader *r, sl_ctx *ctx, int all_metrics) {
  const ks_src *s = r->src;
  int64_t now = sl__conn_ms(ctx);
  for (size_t i = 0; i < r->n_splits; i++) {
    ks_split *sp = &r->splits[i];
    if (s->has_wm && !sp->done_reported) {
      if (sp->maxts != SL_WATERMARK_MIN) {
        int64_t wm = sp->maxts - (s->wm.kind == SL_WM_MONOTONOUS ? 0 : s->wm.out_of_orderness_ms) - 1;
        if (wm > sp->reported_wm || (sp->idle && sp->touched)) {
          sl_ctx_split_watermark(ctx, sp->id, wm);
          sp->reported_wm = wm;
          sp->idle = 0;
        }
      }
      if (sp->touched && sp->idle) { /* records that did not raise its watermark */
        sl_ctx_split_idle(ctx, sp->id, 0);
        sp->idle = 0;
      }
      if (sp->done) {
        sl_ctx_split_done(ctx, sp->id);
        sp->done_reported = 1;
      }
    }
    if (sp->touched || all_metrics) {
      int64_t lo = -1, hi = -1, lag = -1;
      if (sp->done) lag = 0;
      else if (!rd_kafka_get_watermark_offsets(r->rk, sp->topic, sp->partition, &lo, &hi) &&
               hi >= 0 && sp->next >= 0)
        lag = hi > sp->next ? hi - sp->next : 0;
      sl_ctx_split_metrics(ctx, sp->id, sp->records, lag);
    }
    sp->touched = 0;
  }
  /* idle timeouts, the longest silent partition first: each one that goes
   * idle lets the others' watermarks through before they go idle too.
   * Silent since the same millisecond (a partition whose records all came
   * within the millisecond it was assigned in, and one that never had
   * any), the lower watermark first, for the same reason. */
  while (s->has_wm && s->wm.idle_timeout_ms > 0) {
    ks_split *oldest = NULL;
    for (size_t i = 0; i < r->n_splits; i++) {
      ks_split *sp = &r->splits[i];
      if (!sp->done && !sp->idle && now - sp->last_ms >= s->wm.idle_timeout_ms &&
          (!oldest || sp->last_ms < oldest->last_ms ||
           (sp->last_ms == oldest->last_ms && sp->reported_wm < oldest->reported_wm)))
        oldest = sp;
    }
    if (!oldest) break;
    sl_ctx_split_idle(ctx, oldest->id, 1);
    oldest->idle = 1;
  }
}

static int ks_poll(void *reader, sl_ctx *ctx, int budget) {
  ks_reader *r = reader;
  r->ctx = ctx;
  int rc;
  if (!r->started && (rc = start(r, ctx))) return rc;
  if (r->thread_on && (rc = take_found(r, ctx))) return rc;
  char drain[64];
  while (read(r->pipe_r, drain, sizeof drain) > 0) {
  }
  int n = 0, got = 0;
  while (n < budget) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 0);
    if (!m) break;
    got++;
    rc = m->err ? on_error(r, ctx, m) : on_message(r, ctx, m, &n);
    rd_kafka_message_destroy(m);
    if (rc) return rc;
    if (got >= budget * 4) break; /* skipped messages: let the worker breathe */
  }
  int64_t now = sl__conn_ms(ctx);
  int all = now >= r->next_metrics_ms;
  if (all) r->next_metrics_ms = now + 1000;
  report(r, ctx, all);
  if (r->src->o.bounded != SL__KAFKA_UNBOUNDED) {
    size_t done = 0;
    for (size_t i = 0; i < r->n_splits; i++) done += r->splits[i].done;
    if (done == r->n_splits) return SL_POLL_END;
  }
  return got ? SL_POLL_MORE : SL_POLL_IDLE;
}

static int ks_wait_fd(void *reader) {
  const ks_reader *r = reader;
  return r->pipe_r;
}

/* ---- checkpoints ------------------------------------------------------------------------------ */

static int ks_position(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len) {
  ks_reader *r = reader;
  size_t need = 9;
  for (size_t i = 0; i < r->n_splits; i++) need += 2 + strlen(r->splits[i].topic) + 20;
  if (need > cap) return sl_ctx_error(ctx, -SL_ENOMEM, "Kafka source: %zu partitions do not fit "
                                                       "in a checkpoint's %zu bytes",
                                      r->n_splits, cap);
  uint8_t *p = buf;
  uint32_t count = (uint32_t)r->n_splits;
  memcpy(p, KS_MAGIC, 4);
  p[4] = KS_VERSION;
  memcpy(p + 5, &count, 4);
  p += 9;
  for (size_t i = 0; i < r->n_splits; i++) {
    const ks_split *sp = &r->splits[i];
    uint16_t tl = (uint16_t)strlen(sp->topic);
    memcpy(p, &tl, 2);
    memcpy(p + 2, sp->topic, tl);
    p += 2 + tl;
    memcpy(p, &sp->partition, 4);
    memcpy(p + 4, &sp->next, 8);
    memcpy(p + 12, &sp->stop, 8);
    p += 20;
  }
  *len = (size_t)(p - buf);
  /* offsets to the group when this checkpoint completes (ks_complete),
   * for monitoring only */
  if (r->src->o.group_id && r->rk) {
    r->to_commit_id = sl_ctx_checkpoint_id(ctx);
    if (r->to_commit) rd_kafka_topic_partition_list_destroy(r->to_commit);
    r->to_commit = rd_kafka_topic_partition_list_new((int)r->n_splits);
    for (size_t i = 0; i < r->n_splits; i++)
      if (r->splits[i].next >= 0)
        rd_kafka_topic_partition_list_add(r->to_commit, r->splits[i].topic,
                                          r->splits[i].partition)->offset = r->splits[i].next;
  }
  return 0;
}

static int ks_complete(void *reader, sl_ctx *ctx, int64_t id) {
  ks_reader *r = reader;
  if (!r->to_commit || !r->to_commit->cnt || r->to_commit_id != id) return 0;
  rd_kafka_resp_err_t e = rd_kafka_commit(r->rk, r->to_commit, 1);
  if (e)
    sl_ctx_log(ctx, SL_LOG_WARN, "Kafka: cannot commit offsets to group '%s': %s",
               r->src->o.group_id, rd_kafka_err2str(e));
  return 0;
}

static int bad_blob(sl_ctx *ctx, int i, const char *why) {
  sl_ctx_fail(ctx, "the Kafka position of old subtask %d is damaged or not a Kafka source's: %s",
              i, why);
  return -SL_ESTATE;
}

static int ks_seek(void *reader, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                   int n) {
  ks_reader *r = reader;
  const ks_src *s = r->src;
  int any = 0;
  /* check every blob completely before acting */
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < n; i++) {
      const uint8_t *p = blobs[i], *end = p + lens[i];
      if (!lens[i]) continue;
      if (lens[i] < 9 || memcmp(p, KS_MAGIC, 4)) return bad_blob(ctx, i, "no KSRC header");
      if (p[4] != KS_VERSION) return bad_blob(ctx, i, "unknown version");
      uint32_t count;
      memcpy(&count, p + 5, 4);
      p += 9;
      if (count > (size_t)(end - p) / 23) return bad_blob(ctx, i, "count past the end");
      for (uint32_t k = 0; k < count; k++) {
        uint16_t tl;
        if (end - p < 2) return bad_blob(ctx, i, "truncated");
        memcpy(&tl, p, 2);
        if (!tl || tl > 249 || (size_t)(end - p) < 2u + tl + 20u)
          return bad_blob(ctx, i, "bad topic length");
        char topic[250];
        memcpy(topic, p + 2, tl);
        topic[tl] = 0;
        if (memchr(topic, 0, tl)) return bad_blob(ctx, i, "bad topic name");
        int32_t part;
        int64_t next, stop;
        memcpy(&part, p + 2 + tl, 4);
        memcpy(&next, p + 6 + tl, 8);
        memcpy(&stop, p + 14 + tl, 8);
        p += 22 + tl;
        if (part < 0 || (next < 0 && next != KS_NOT_STARTED) || stop < -1)
          return bad_blob(ctx, i, "bad partition or offsets");
        if (!pass) continue;
        any = 1;
        ks_split *sp = find_split(r, topic, part);
        if (!sp) continue; /* another subtask's now, or a partition no longer there */
        if (next > sp->next || sp->next == KS_NOT_STARTED || !sp->assigned) sp->next = next;
        sp->assigned = 1; /* marks "from the checkpoint" until assign_new */
        if (s->o.bounded != SL__KAFKA_UNBOUNDED) sp->stop = stop >= 0 ? stop : sp->stop;
      }
      if (p != end) return bad_blob(ctx, i, "trailing bytes");
    }
  }
  /* partitions the checkpoint does not hold appeared after it: from the
   * earliest offset (Flink's rule for new partitions) */
  for (size_t i = 0; i < r->n_splits; i++) {
    ks_split *sp = &r->splits[i];
    if (!sp->assigned && any) sp->next = KS_NOT_STARTED;
    sp->assigned = 0;
  }
  return 0;
}

static void ks_free(void *ud) {
  ks_src *s = ud;
  if (!s) return;
  free_parts(s);
  if (s->has_re) regfree(&s->re);
  sl__kafka_opts_free(&s->o);
  sl__free(s);
}

static const sl_source_ops ks_ops = {.version = SL_CONNECTOR_VERSION, .kind = "kafka",
                                     .plan = ks_plan, .open = ks_open, .poll = ks_poll,
                                     .close = ks_close, .free = ks_free,
                                     .position = ks_position, .seek = ks_seek,
                                     .checkpoint_complete = ks_complete,
                                     .wait_fd = ks_wait_fd};

sl_source *sl_kafka_source(const sl_kafka_option *options, size_t n) {
  ks_src *s = sl__calloc(1, sizeof *s);
  if (!s) return NULL;
  s->opts_rc = sl__kafka_opts_parse(&s->o, options, options ? n : 0, 0, s->opts_err,
                                    sizeof s->opts_err);
  return sl_source_new(&ks_ops, s, 0);
}

sl_source *sl_kafka_source_uri(const char *uri) {
  if (!uri) return NULL;
  sl_kafka_option *kv;
  size_t n;
  char err[512] = "";
  int rc = sl__kafka_uri_parse(uri, &kv, &n, err, sizeof err);
  if (rc) { /* a source that fails in plan with the reason */
    ks_src *s = sl__calloc(1, sizeof *s);
    if (!s) return NULL;
    s->opts_rc = rc;
    sl__fmt(s->opts_err, sizeof s->opts_err, "%s", err);
    return sl_source_new(&ks_ops, s, 0);
  }
  sl_source *src = sl_kafka_source(kv, n);
  sl__kafka_uri_free(kv, n);
  return src;
}

static ks_src *kafka_ud(sl_source *src) {
  return src && src->ops == &ks_ops ? src->ud : NULL;
}

int sl_kafka_source_set_deserializer(sl_source *src, sl_kafka_deserialize_fn fn, void *ud) {
  ks_src *s = kafka_ud(src);
  if (!s) return -SL_EINVAL;
  s->deser = fn;
  s->deser_ud = ud;
  return 0;
}

int sl_kafka_source_set_watermarks(sl_source *src, const sl_watermark_strategy *strategy) {
  ks_src *s = kafka_ud(src);
  if (!s || !strategy || (strategy->kind != SL_WM_BOUNDED_OUT_OF_ORDERNESS &&
                          strategy->kind != SL_WM_MONOTONOUS) ||
      strategy->out_of_orderness_ms < 0 || strategy->idle_timeout_ms < 0)
    return -SL_EINVAL;
  s->wm = *strategy;
  s->has_wm = 1;
  return 0;
}

/*
 * test_sdk_source_sink.c -- the public connector contract
 * (include/sluice_connector.h), with connectors written here on the public
 * headers alone: handles are checked when made and freed once; per-split
 * watermarks drive event time before the input ends (and an idle split, or
 * an idle source, holds nothing back); failures in plan, open, poll and
 * write name the operator and keep the connector's message; the context
 * gives configuration, subtask, logger; sl_ctx_wake from a thread of the
 * connector's own delivers everything; checkpoint_complete reaches each
 * reader once per completed checkpoint it took a position for, on its
 * thread, never for a failed one; a checkpoint a source declines never
 * completes (no sink commits it) and does not fail the job.  (Exactly-once across SIGKILL with
 * a custom source and transactional sink: tests/cli_sdk_exactly_once.sh.)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice.h"
#include "sluice_connector.h"
#include "test_util.h"

/* ---- handles ------------------------------------------------------------------------- */

static int g_freed;
static void note_free(void *ud) { g_freed += ud != NULL; }
static int nop_open(void *ud, sl_ctx *ctx, void **reader) {
  (void)ud, (void)ctx;
  *reader = NULL;
  return 0;
}
static int nop_poll(void *reader, sl_ctx *ctx, int budget) {
  (void)reader, (void)ctx, (void)budget;
  return SL_POLL_END;
}
static int nop_position(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len) {
  (void)reader, (void)ctx, (void)buf, (void)cap;
  *len = 0;
  return 0;
}
static int nop_write(void *writer, sl_ctx *ctx, const sl_record *r) {
  (void)writer, (void)ctx, (void)r;
  return 0;
}
static int nop_precommit(void *writer, sl_ctx *ctx, int64_t id, uint8_t *buf, size_t cap,
                         size_t *len) {
  (void)writer, (void)ctx, (void)id, (void)buf, (void)cap;
  *len = 0;
  return 0;
}

static void test_handles_validated(void) {
  int ud = 1;
  g_freed = 0;
  CHECK(sl_source_new(NULL, NULL, 0) == NULL);
  sl_source_ops no_poll = {.version = SL_CONNECTOR_VERSION, .open = nop_open, .free = note_free};
  CHECK(sl_source_new(&no_poll, &ud, 0) == NULL);
  CHECK_EQ_INT(g_freed, 1); /* the source owned ud from the call on */
  sl_source_ops other_version = {.version = 99, .open = nop_open, .poll = nop_poll,
                                 .free = note_free};
  CHECK(sl_source_new(&other_version, &ud, 0) == NULL);
  sl_source_ops half_ckpt = {.version = SL_CONNECTOR_VERSION, .open = nop_open,
                             .poll = nop_poll, .position = nop_position, .free = note_free};
  CHECK(sl_source_new(&half_ckpt, &ud, 0) == NULL);
  sl_source_ops ok = {.version = SL_CONNECTOR_VERSION, .open = nop_open, .poll = nop_poll,
                      .free = note_free};
  CHECK(sl_source_new(&ok, &ud, 0x80) == NULL); /* an unknown flag */
  CHECK_EQ_INT(g_freed, 4);
  sl_sink_ops half_2pc = {.version = SL_CONNECTOR_VERSION, .open = nop_open,
                          .write = nop_write, .precommit = nop_precommit, .free = note_free};
  CHECK(sl_sink_new(&half_2pc, &ud, 0) == NULL);
  CHECK_EQ_INT(g_freed, 5);
  /* a good source given to an environment that never runs: freed once */
  sl_env *env = env_p(1);
  sl_source *src = sl_source_new(&ok, &ud, SL_SOURCE_NONPARALLEL);
  CHECK(src != NULL);
  CHECK(sl_source_stream(env, src) != NULL);
  sl_env_free(env);
  CHECK_EQ_INT(g_freed, 6);
}

/* ---- per-split watermarks -------------------------------------------------------------- */

/* What the sink saw ("key start count" lines) and a flag that ends the
 * sources, shared by the source, the window function and the sink (one
 * worker: P = 1). */
typedef struct wm_shared {
  char seen[8][64];
  _Atomic int n_seen;
  int phase;
  int64_t wait_since_ns;
  char err[200];
} wm_shared;

static int wm_window(void *ud, sl_ctx *ctx, const sl_window *w, sl_window_elems *elems,
                     sl_collector *out) {
  (void)ud;
  sl_bytes key;
  CHECK_EQ_INT(sl_ctx_key(ctx, &key), 0);
  int n = 0;
  sl_record r;
  while (sl_window_next(elems, &r) == 1) n++;
  char *line = sl_ctx_scratch(ctx, 64);
  int len = snprintf(line, 64, "%.*s %lld %d", (int)key.len, (const char *)key.data,
                     (long long)w->start, n);
  sl_record o = {w->end - 1, NULL, 0, line, (uint32_t)len};
  return sl_emit(out, &o);
}

static int wm_sink_write(void *writer, sl_ctx *ctx, const sl_record *r) {
  (void)ctx;
  wm_shared *sh = writer;
  int i = atomic_load(&sh->n_seen);
  if (i < 8) snprintf(sh->seen[i], sizeof sh->seen[i], "%.*s", (int)r->value_len,
                      (const char *)r->value);
  atomic_store(&sh->n_seen, i + 1);
  return 0;
}
static int wm_sink_open(void *ud, sl_ctx *ctx, void **writer) {
  (void)ctx;
  *writer = ud;
  return 0;
}
static const sl_sink_ops wm_sink_ops = {.version = SL_CONNECTOR_VERSION, .kind = "seen",
                                        .open = wm_sink_open, .write = wm_sink_write};

static int wm_open(void *ud, sl_ctx *ctx, void **reader) {
  (void)ctx;
  *reader = ud;
  return 0;
}

static int emit_kv(sl_ctx *ctx, const char *key, int64_t ts) {
  sl_record r = {ts, key, (uint32_t)strlen(key), "x", 1};
  return sl_ctx_emit(ctx, &r);
}

/* Wait (idle) until the sink saw n results; a job whose watermarks do not
 * work fails after 20 s instead of hanging. */
static int wait_seen_n(wm_shared *sh, sl_ctx *ctx, int n, int *rc) {
  if (atomic_load(&sh->n_seen) >= n) {
    sh->wait_since_ns = 0;
    return 1;
  }
  int64_t now = sl_ctx_monotonic_ns(ctx);
  if (!sh->wait_since_ns) sh->wait_since_ns = now;
  if (now - sh->wait_since_ns > 20000000000LL) {
    snprintf(sh->err, sizeof sh->err, "phase %d: only %d results", sh->phase,
             atomic_load(&sh->n_seen));
    *rc = sl_ctx_error(ctx, -SL_EUSER, "%s", sh->err);
  } else {
    *rc = SL_POLL_IDLE;
  }
  return 0;
}

/* Split 0 holds key a at ts 0..9, split 1 key b at ts 0..4.  Tumbling 5 ms
 * windows: with watermarks 9 (split 0) and 4 (split 1) the source's is 4,
 * so both [0,5) windows fire and a's [5,10) must not; once split 1 is idle
 * the watermark is 9 and a's [5,10) fires -- all before the input ends. */
static int splits_poll(void *reader, sl_ctx *ctx, int budget) {
  (void)budget;
  wm_shared *sh = reader;
  int rc = 0;
  switch (sh->phase) {
    case 0:
      for (int64_t t = 0; t < 10 && !rc; t++) rc = emit_kv(ctx, "a", t);
      for (int64_t t = 0; t < 5 && !rc; t++) rc = emit_kv(ctx, "b", t);
      if (!rc) rc = sl_ctx_split_watermark(ctx, 0, 9);
      if (!rc) rc = sl_ctx_split_watermark(ctx, 1, 4);
      sh->phase = 1;
      return rc ? rc : SL_POLL_MORE;
    case 1:
      if (!wait_seen_n(sh, ctx, 2, &rc)) return rc;
      sh->phase = 2;
      if ((rc = sl_ctx_split_idle(ctx, 1, 1))) return rc;
      return SL_POLL_MORE;
    case 2:
      if (!wait_seen_n(sh, ctx, 3, &rc)) return rc;
      return SL_POLL_END;
  }
  return SL_POLL_END;
}

static int seen_has(wm_shared *sh, int from, int to, const char *want) {
  for (int i = from; i < to; i++)
    if (!strcmp(sh->seen[i], want)) return 1;
  return 0;
}

static void run_windows(sl_env *env, sl_stream *s, wm_shared *sh) {
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_EVENT, .size_ms = 5};
  s = sl_window_process(sl_key_by(s, NULL, NULL), &w, wm_window, NULL);
  CHECK_EQ_INT(sl_sink_to(s, sl_sink_new(&wm_sink_ops, sh, 0)), 0);
  int rc = sl_execute(env, "split-watermarks");
  if (rc) fprintf(stderr, "  %s\n", sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
}

static void test_split_watermarks_fire_windows(void) {
  wm_shared sh = {0};
  sl_env *env = env_p(1);
  static const sl_source_ops ops = {.version = SL_CONNECTOR_VERSION, .kind = "splits",
                                    .open = wm_open, .poll = splits_poll};
  run_windows(env, sl_source_stream(env, sl_source_new(&ops, &sh, 0)), &sh);
  CHECK_EQ_INT(atomic_load(&sh.n_seen), 3);
  CHECK(seen_has(&sh, 0, 2, "a 0 5"));
  CHECK(seen_has(&sh, 0, 2, "b 0 5"));
  CHECK_EQ_STR(sh.seen[2], "a 5 5");
  sl_env_free(env);
}

/* Two sources into one window: "busy" sends key a at ts 0..9 with split
 * watermark 9; "quiet" sends nothing and marks its one split idle.  Both
 * windows of a fire before the end only if the idle source does not hold
 * the window operator's watermark back (without the idleness it would stay
 * at its minimum).  The quiet source also tries a split that is then done. */
static int busy_poll(void *reader, sl_ctx *ctx, int budget) {
  (void)budget;
  wm_shared *sh = reader;
  int rc = 0;
  if (sh->phase == 0) {
    for (int64_t t = 0; t < 10 && !rc; t++) rc = emit_kv(ctx, "a", t);
    if (!rc) rc = sl_ctx_split_watermark(ctx, 7, 9);
    sh->phase = 1;
    return rc ? rc : SL_POLL_MORE;
  }
  if (!wait_seen_n(sh, ctx, 2, &rc)) return rc;
  return SL_POLL_END;
}
static int quiet_poll(void *reader, sl_ctx *ctx, int budget) {
  (void)budget;
  wm_shared *sh = reader;
  int rc;
  /* split 1 (watermark 0) is done: it no longer holds anything back */
  if ((rc = sl_ctx_split_watermark(ctx, 1, 0)) || (rc = sl_ctx_split_done(ctx, 1)) ||
      (rc = sl_ctx_split_idle(ctx, 0, 1)))
    return rc;
  return atomic_load(&sh->n_seen) >= 2 ? SL_POLL_END : SL_POLL_IDLE;
}

static void test_idle_source_holds_nothing_back(void) {
  wm_shared sh = {0};
  sl_env *env = env_p(1);
  static const sl_source_ops busy = {.version = SL_CONNECTOR_VERSION, .kind = "busy",
                                     .open = wm_open, .poll = busy_poll};
  static const sl_source_ops quiet = {.version = SL_CONNECTOR_VERSION, .kind = "quiet",
                                      .open = wm_open, .poll = quiet_poll};
  sl_stream *in[2] = {sl_source_stream(env, sl_source_new(&busy, &sh, 0)),
                      sl_source_stream(env, sl_source_new(&quiet, &sh, 0))};
  run_windows(env, sl_union(in, 2), &sh);
  CHECK_EQ_INT(atomic_load(&sh.n_seen), 2);
  CHECK_EQ_STR(sh.seen[0], "a 0 5");
  CHECK_EQ_STR(sh.seen[1], "a 5 5");
  sl_env_free(env);
}

/* ---- failures name the operator ------------------------------------------------------ */

typedef enum { FAIL_PLAN, FAIL_OPEN, FAIL_POLL, FAIL_WRITE } fail_at;

static int f_plan(void *ud, sl_ctx *ctx) {
  if (*(fail_at *)ud != FAIL_PLAN) return 0;
  CHECK_EQ_INT(sl_ctx_subtask(ctx), -1);
  CHECK_EQ_INT(sl_ctx_parallelism(ctx), 2);
  sl_ctx_fail(ctx, "topic 'orders' has no partitions");
  return -SL_ECONFIG;
}
static int f_open(void *ud, sl_ctx *ctx, void **reader) {
  *reader = ud;
  if (*(fail_at *)ud == FAIL_OPEN && sl_ctx_subtask(ctx) == 1)
    return sl_ctx_error(ctx, -SL_ECONN, "cannot reach broker %s", "127.0.0.1:1");
  return 0;
}
static int f_poll(void *reader, sl_ctx *ctx, int budget) {
  (void)budget;
  if (*(fail_at *)reader == FAIL_POLL && sl_ctx_subtask(ctx) == 0) {
    sl_ctx_fail(ctx, "offset 17 is gone");
    return -SL_EIO;
  }
  return emit_kv(ctx, "k", 1) ? -SL_EINTERNAL : SL_POLL_END;
}
static int f_write(void *writer, sl_ctx *ctx, const sl_record *r) {
  (void)r;
  if (*(fail_at *)writer != FAIL_WRITE) return 0;
  return sl_ctx_error(ctx, -SL_EIO, "table 'sales': disk full");
}

static void test_failures_name_the_operator(void) {
  static const sl_source_ops src_ops = {.version = SL_CONNECTOR_VERSION, .kind = "topic",
                                        .plan = f_plan, .open = f_open, .poll = f_poll};
  static const sl_sink_ops sink_ops = {.version = SL_CONNECTOR_VERSION, .kind = "table",
                                       .open = wm_sink_open, .write = f_write};
  struct {
    fail_at at;
    int rc;
    const char *msg;
  } cases[] = {
      {FAIL_PLAN, -SL_ECONFIG, "operator 'topic-source#0': topic 'orders' has no partitions"},
      {FAIL_OPEN, -SL_ECONN,
       "operator 'topic-source#0' (subtask 2/2): cannot reach broker 127.0.0.1:1"},
      {FAIL_POLL, -SL_EIO, "operator 'topic-source#0' (subtask 1/2): offset 17 is gone"},
      {FAIL_WRITE, -SL_EIO, "table-sink#1' (subtask "},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    fail_at at = cases[i].at;
    sl_env *env = env_p(2);
    sl_stream *s = sl_source_stream(env, sl_source_new(&src_ops, &at, 0));
    CHECK_EQ_INT(sl_sink_to(s, sl_sink_new(&sink_ops, &at, 0)), 0);
    CHECK_EQ_INT(sl_execute(env, "fail"), cases[i].rc);
    CHECK_CONTAINS(sl_env_last_error(env), cases[i].msg);
    if (at == FAIL_WRITE) CHECK_CONTAINS(sl_env_last_error(env), "table 'sales': disk full");
    sl_env_free(env);
  }
}

/* ---- context: configuration, subtask, logger ------------------------------------------- */

typedef struct ctx_seen {
  _Atomic int opened_mask;
  int64_t timeout_ms, rc_unknown, rc_text;
  const char *level;
  char log[512];
  pthread_mutex_t mu;
} ctx_seen;

static void grab_log(void *ud, sl_log_level level, const char *scope, const char *msg) {
  ctx_seen *c = ud;
  if (level != SL_LOG_WARN || !strstr(msg, "hello")) return;
  pthread_mutex_lock(&c->mu);
  snprintf(c->log, sizeof c->log, "%s| %s", scope, msg);
  pthread_mutex_unlock(&c->mu);
}

static int c_open(void *ud, sl_ctx *ctx, void **reader) {
  ctx_seen *c = ud;
  *reader = NULL;
  atomic_fetch_or(&c->opened_mask, 1 << sl_ctx_subtask(ctx));
  if (sl_ctx_subtask(ctx) != 2) return 0;
  CHECK_EQ_INT(sl_ctx_parallelism(ctx), 3);
  CHECK_EQ_INT(sl_ctx_stopping(ctx), 0);
  int64_t v = -1;
  CHECK_EQ_INT(sl_ctx_config_int(ctx, "execution.buffer-timeout", &v), 0);
  c->timeout_ms = v;
  c->rc_unknown = sl_ctx_config_int(ctx, "no.such.key", &v);
  c->rc_text = sl_ctx_config_int(ctx, "log.level", &v);
  c->level = sl_ctx_config(ctx, "log.level");
  CHECK(sl_ctx_config(ctx, "no.such.key") == NULL);
  sl_ctx_log(ctx, SL_LOG_WARN, "hello %d", 7);
  return 0;
}

static void test_context_gives_config_subtask_logger(void) {
  ctx_seen c = {0};
  pthread_mutex_init(&c.mu, NULL);
  static const sl_source_ops ops = {.version = SL_CONNECTOR_VERSION, .kind = "ctx",
                                    .open = c_open, .poll = nop_poll};
  sl_env *env = env_p(3);
  CHECK_EQ_INT(sl_env_set(env, "execution.buffer-timeout", "250ms"), 0);
  CHECK_EQ_INT(sl_env_set(env, "log.level", "warn"), 0);
  sl_env_set_logger(env, grab_log, &c);
  CHECK_EQ_INT(sl_sink_to(sl_source_stream(env, sl_source_new(&ops, &c, 0)),
                          sl_discard_sink()),
               0);
  CHECK_EQ_INT(sl_execute(env, "sdk"), 0);
  CHECK_EQ_INT(atomic_load(&c.opened_mask), 7); /* subtasks 0, 1, 2 */
  CHECK_EQ_INT((int)c.timeout_ms, 250);
  CHECK_EQ_INT((int)c.rc_unknown, -SL_ECONFIG);
  CHECK_EQ_INT((int)c.rc_text, -SL_ECONFIG);
  CHECK_EQ_STR(c.level, "warn");
  CHECK_EQ_STR(c.log, "job 'sdk'| operator 'ctx-source#0' (subtask 3/3): hello 7");
  sl_env_free(env);
  pthread_mutex_destroy(&c.mu);
}

/* ---- wake-ups from a thread of the connector's own ------------------------------------- */

#define WAKE_N 2000

typedef struct wake_src {
  pthread_t th;
  pthread_mutex_t mu;
  int produced, taken;
  _Atomic int stop;
  sl_ctx *ctx;
} wake_src;

static void *producer(void *arg) {
  wake_src *w = arg;
  for (int i = 0; i < WAKE_N && !atomic_load(&w->stop); i++) {
    pthread_mutex_lock(&w->mu);
    w->produced++;
    pthread_mutex_unlock(&w->mu);
    sl_ctx_wake(w->ctx);
    if (i % 100 == 0) sleep_ms(1);
  }
  return NULL;
}

static int w_open(void *ud, sl_ctx *ctx, void **reader) {
  wake_src *w = ud;
  w->ctx = ctx;
  *reader = w;
  return pthread_create(&w->th, NULL, producer, w) ? -SL_ENOMEM : 0;
}
static int w_poll(void *reader, sl_ctx *ctx, int budget) {
  wake_src *w = reader;
  pthread_mutex_lock(&w->mu);
  int avail = w->produced - w->taken;
  pthread_mutex_unlock(&w->mu);
  int n = avail < budget ? avail : budget;
  for (int i = 0; i < n; i++) {
    char v[16];
    int len = snprintf(v, sizeof v, "%d", w->taken + i);
    sl_record r = {SL_NO_TIMESTAMP, NULL, 0, v, (uint32_t)len};
    int rc = sl_ctx_emit(ctx, &r);
    if (rc) return rc;
  }
  w->taken += n;
  if (w->taken == WAKE_N) return SL_POLL_END;
  return n ? SL_POLL_MORE : SL_POLL_IDLE;
}
static void w_close(void *reader, sl_ctx *ctx) {
  (void)ctx;
  wake_src *w = reader;
  atomic_store(&w->stop, 1);
  pthread_join(w->th, NULL);
}

static void test_wake_from_own_thread(void) {
  wake_src w = {0};
  pthread_mutex_init(&w.mu, NULL);
  static const sl_source_ops ops = {.version = SL_CONNECTOR_VERSION, .kind = "woken",
                                    .open = w_open, .poll = w_poll, .close = w_close};
  sl_env *env = env_p(2);
  sl_collect *out = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_source_new(&ops, &w, SL_SOURCE_NONPARALLEL));
  CHECK_EQ_INT(sl_sink_to(s, sl_collect_sink(out)), 0);
  CHECK_EQ_INT(sl_execute(env, "wake"), 0);
  CHECK_EQ_INT((int)sl_collect_count(out), WAKE_N);
  /* every index once */
  char *got = calloc(WAKE_N, 1);
  for (size_t i = 0; i < sl_collect_count(out); i++) {
    sl_record r;
    sl_collect_get(out, i, &r);
    char buf[16];
    size_t l = r.value_len < 15 ? r.value_len : 15;
    memcpy(buf, r.value, l);
    buf[l] = 0;
    int v = atoi(buf);
    if (v >= 0 && v < WAKE_N) got[v]++;
  }
  int once = 0;
  for (int i = 0; i < WAKE_N; i++) once += got[i] == 1;
  CHECK_EQ_INT(once, WAKE_N);
  free(got);
  sl_collect_free(out);
  sl_env_free(env);
  pthread_mutex_destroy(&w.mu);
}

/* ---- checkpoint_complete --------------------------------------------------------- */

#define CC_MAX 256
typedef struct cc_reader {
  pthread_t th;
  int64_t pos[CC_MAX], done[CC_MAX];
  int n_pos, n_done, wrong_thread, bad_id, emitted;
} cc_reader;
typedef struct cc_src {
  cc_reader r[2];
  int64_t fail_at; /* subtask 0's position fails for this checkpoint */
  int64_t t0;
} cc_src;

static int cc_open(void *ud, sl_ctx *ctx, void **reader) {
  *reader = &((cc_src *)ud)->r[sl_ctx_subtask(ctx)];
  return 0;
}
static int cc_poll(void *reader, sl_ctx *ctx, int budget) {
  (void)budget;
  cc_reader *r = reader;
  if (!r->emitted) r->th = pthread_self(); /* the reader's worker thread */
  /* until both readers heard of 3 checkpoints (or 20 s: the test fails) */
  cc_src *s = (cc_src *)(r - sl_ctx_subtask(ctx));
  /* (the other reader's count is written by its own thread) */
  if ((__atomic_load_n(&s->r[0].n_done, __ATOMIC_ACQUIRE) >= 3 &&
       __atomic_load_n(&s->r[1].n_done, __ATOMIC_ACQUIRE) >= 3) ||
      now_ms() - s->t0 > 20000)
    return SL_POLL_END;
  char v[16];
  int len = snprintf(v, sizeof v, "%d", r->emitted++);
  sl_record rec = {SL_NO_TIMESTAMP, NULL, 0, v, (uint32_t)len};
  int rc = sl_ctx_emit(ctx, &rec);
  return rc ? rc : SL_POLL_IDLE;
}
static int cc_position(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len) {
  (void)buf, (void)cap;
  cc_reader *r = reader;
  cc_src *s = (cc_src *)(r - sl_ctx_subtask(ctx));
  int64_t id = sl_ctx_checkpoint_id(ctx);
  if (id == s->fail_at && sl_ctx_subtask(ctx) == 0)
    return sl_ctx_error(ctx, -SL_EIO, "position refused for checkpoint %lld", (long long)id);
  if (r->n_pos < CC_MAX) r->pos[r->n_pos++] = id;
  *len = 0;
  return 0;
}
static int cc_seek(void *reader, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                   int n) {
  (void)reader, (void)ctx, (void)blobs, (void)lens, (void)n;
  return 0;
}
static int cc_complete(void *reader, sl_ctx *ctx, int64_t id) {
  cc_reader *r = reader;
  (void)ctx;
  if (!pthread_equal(r->th, pthread_self())) r->wrong_thread++;
  int known = 0;
  for (int i = 0; i < r->n_pos; i++) known |= r->pos[i] == id;
  if (!known || (r->n_done && id <= r->done[r->n_done - 1])) r->bad_id++;
  if (r->n_done < CC_MAX) {
    r->done[r->n_done] = id;
    __atomic_store_n(&r->n_done, r->n_done + 1, __ATOMIC_RELEASE);
  }
  return 0;
}
static const sl_source_ops cc_ops = {.version = SL_CONNECTOR_VERSION, .kind = "cc",
                                     .open = cc_open, .poll = cc_poll, .position = cc_position,
                                     .seek = cc_seek, .checkpoint_complete = cc_complete};

static int cc_run(cc_src *s, const char *dir) {
  s->t0 = now_ms();
  sl_env *env = env_p(2);
  sl_env_set(env, "execution.checkpointing.interval", "5ms");
  char path[4200];
  sl_env_set(env, "state.checkpoints.dir", tpath(path, sizeof path, dir));
  sl_collect *out = sl_collect_new();
  sl_stream *st = sl_source_stream(env, sl_source_new(&cc_ops, s, 0));
  CHECK_EQ_INT(sl_sink_to(st, sl_collect_sink(out)), 0);
  int rc = sl_execute(env, "cc");
  sl_collect_free(out);
  sl_env_free(env);
  return rc;
}

static void test_checkpoint_complete_reaches_readers(void) {
  cc_src s = {0};
  CHECK_EQ_INT(cc_run(&s, "cc_ok"), 0);
  for (int i = 0; i < 2; i++) {
    cc_reader *r = &s.r[i];
    CHECK(r->n_done >= 3);      /* told, once per checkpoint, ids increasing */
    CHECK_EQ_INT(r->bad_id, 0); /* ... and only of checkpoints it positioned */
    CHECK_EQ_INT(r->wrong_thread, 0);
    /* every checkpoint both readers positioned and that a later one
     * followed completed (one in flight at a time): each was told */
    for (int k = 0; k + 1 < r->n_pos && k < r->n_done; k++) CHECK_EQ_INT(r->done[k], r->pos[k]);
  }
  /* both readers hear of the same checkpoints */
  int n = s.r[0].n_done < s.r[1].n_done ? s.r[0].n_done : s.r[1].n_done;
  for (int k = 0; k < n; k++) CHECK_EQ_INT(s.r[0].done[k], s.r[1].done[k]);

  /* a checkpoint that fails (its position does) is never reported */
  cc_src f = {.fail_at = 2};
  CHECK(cc_run(&f, "cc_fail") < 0);
  for (int i = 0; i < 2; i++) {
    CHECK_EQ_INT(f.r[i].bad_id, 0);
    CHECK(f.r[i].n_done <= 1);
    if (f.r[i].n_done) CHECK_EQ_INT(f.r[i].done[0], 1);
  }
  /* a version 1 table (no checkpoint_complete field) still works */
  static const struct { /* sl_source_ops as contract version 1 declared it */
    int version;
    const char *kind;
    int (*plan)(void *, sl_ctx *);
    int (*open)(void *, sl_ctx *, void **);
    int (*poll)(void *, sl_ctx *, int);
    void (*close)(void *, sl_ctx *);
    void (*free)(void *);
    int (*position)(void *, sl_ctx *, uint8_t *, size_t, size_t *);
    int (*seek)(void *, sl_ctx *, const uint8_t *const *, const size_t *, int);
    int (*wait_fd)(void *);
  } v1 = {.version = 1, .kind = "v1", .open = nop_open, .poll = nop_poll};
  sl_source *old = sl_source_new((const sl_source_ops *)&v1, NULL, 0);
  CHECK(old != NULL);
  sl_env *env = env_p(1);
  sl_collect *out = sl_collect_new();
  CHECK_EQ_INT(sl_sink_to(sl_source_stream(env, old), sl_collect_sink(out)), 0);
  CHECK_EQ_INT(sl_execute(env, "v1"), 0);
  sl_collect_free(out);
  sl_env_free(env);
}

/* ---- declined checkpoints -------------------------------------------------------- */

/* Subtask 0 of a P=2 source declines its first DC_K positions (Flink CDC's
 * legacy source while its snapshot is read); a two-phase-commit sink keeps
 * per checkpoint what it pre-committed and what was committed. */
#define DC_K 3
#define DC_MAX 256
typedef struct dc_job {
  _Atomic int n_pos0, n_done1;
  int64_t done1[DC_MAX];          /* checkpoint_complete on subtask 1 */
  int64_t done0[DC_MAX];
  int n_done0;
  _Atomic int emitted;
  int64_t t0;
  pthread_mutex_t mu;
  int64_t pre[DC_MAX], committed[DC_MAX]; /* sink: precommit / commit_ckpt ids */
  int n_pre, n_committed;
  int64_t visible;           /* records committed */
  int64_t written;           /* records written */
  char log[512];
  int bad_decline_rc;
} dc_job;
typedef struct dc_writer {
  dc_job *j;
  int64_t buffered;
  int64_t pend_id[DC_MAX], pend_n[DC_MAX];
  int n_pend;
} dc_writer;

static int dc_open(void *ud, sl_ctx *ctx, void **reader) {
  (void)ctx;
  *reader = ud;
  return 0;
}
static int dc_poll(void *reader, sl_ctx *ctx, int budget) {
  (void)budget;
  dc_job *j = reader;
  /* until subtask 1 heard of 2 completed checkpoints (20 s: the test fails) */
  if (atomic_load(&j->n_done1) >= 2 || now_ms() - j->t0 > 20000) return SL_POLL_END;
  char v[32];
  int len = snprintf(v, sizeof v, "%d-%d", sl_ctx_subtask(ctx), atomic_fetch_add(&j->emitted, 1));
  sl_record rec = {SL_NO_TIMESTAMP, NULL, 0, v, (uint32_t)len};
  int rc = sl_ctx_emit(ctx, &rec);
  return rc ? rc : SL_POLL_IDLE;
}
static int dc_position(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len) {
  (void)buf, (void)cap;
  dc_job *j = reader;
  *len = 0;
  if (sl_ctx_subtask(ctx) == 0 && atomic_fetch_add(&j->n_pos0, 1) < DC_K)
    return sl_ctx_decline_checkpoint(ctx, "warming up (%d)", 7);
  return 0;
}
static int dc_seek(void *reader, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                   int n) {
  (void)reader, (void)ctx, (void)blobs, (void)lens, (void)n;
  return 0;
}
static int dc_complete(void *reader, sl_ctx *ctx, int64_t id) {
  dc_job *j = reader;
  if (sl_ctx_subtask(ctx) == 1) {
    int k = atomic_load(&j->n_done1);
    if (k < DC_MAX) j->done1[k] = id;
    atomic_store(&j->n_done1, k + 1);
  } else if (j->n_done0 < DC_MAX) {
    j->done0[j->n_done0++] = id;
  }
  return 0;
}
static const sl_source_ops dc_src_ops = {.version = SL_CONNECTOR_VERSION, .kind = "dc",
                                         .open = dc_open, .poll = dc_poll,
                                         .position = dc_position, .seek = dc_seek,
                                         .checkpoint_complete = dc_complete};

static int dcs_open(void *ud, sl_ctx *ctx, void **writer) {
  (void)ctx;
  dc_writer *w = calloc(1, sizeof *w);
  if (!w) return -SL_ENOMEM;
  w->j = ud;
  *writer = w;
  return 0;
}
static int dcs_write(void *writer, sl_ctx *ctx, const sl_record *r) {
  (void)ctx, (void)r;
  dc_writer *w = writer;
  w->buffered++;
  pthread_mutex_lock(&w->j->mu);
  w->j->written++;
  pthread_mutex_unlock(&w->j->mu);
  return 0;
}
static int dcs_precommit(void *writer, sl_ctx *ctx, int64_t id, uint8_t *buf, size_t cap,
                         size_t *len) {
  (void)ctx, (void)buf, (void)cap;
  dc_writer *w = writer;
  *len = 0;
  if (w->n_pend < DC_MAX) w->pend_id[w->n_pend] = id, w->pend_n[w->n_pend++] = w->buffered;
  w->buffered = 0;
  pthread_mutex_lock(&w->j->mu);
  if (w->j->n_pre < DC_MAX) w->j->pre[w->j->n_pre++] = id;
  pthread_mutex_unlock(&w->j->mu);
  return 0;
}
static int dcs_commit_ckpt(void *writer, sl_ctx *ctx, int64_t id) {
  (void)ctx;
  dc_writer *w = writer;
  int k = 0;
  int64_t n = 0;
  for (; k < w->n_pend && w->pend_id[k] <= id; k++) n += w->pend_n[k];
  memmove(w->pend_id, w->pend_id + k, sizeof w->pend_id[0] * (size_t)(w->n_pend - k));
  memmove(w->pend_n, w->pend_n + k, sizeof w->pend_n[0] * (size_t)(w->n_pend - k));
  w->n_pend -= k;
  pthread_mutex_lock(&w->j->mu);
  if (w->j->n_committed < DC_MAX) w->j->committed[w->j->n_committed++] = id;
  w->j->visible += n;
  pthread_mutex_unlock(&w->j->mu);
  return 0;
}
static int dcs_recover(void *ud, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                       int n, const char *const *names) {
  (void)ud, (void)ctx, (void)blobs, (void)lens, (void)n, (void)names;
  return 0;
}
static void dcs_close(void *writer, sl_ctx *ctx, int ok) {
  (void)ctx, (void)ok;
  free(writer);
}
static const sl_sink_ops dc_sink_ops = {.version = SL_CONNECTOR_VERSION, .kind = "dc2pc",
                                        .open = dcs_open, .write = dcs_write,
                                        .close = dcs_close, .precommit = dcs_precommit,
                                        .commit_ckpt = dcs_commit_ckpt,
                                        .recover = dcs_recover};

static void dc_log(void *ud, sl_log_level level, const char *scope, const char *msg) {
  (void)scope;
  dc_job *j = ud;
  if (level != SL_LOG_INFO || !strstr(msg, "declined checkpoint 1:")) return;
  pthread_mutex_lock(&j->mu);
  snprintf(j->log, sizeof j->log, "%s", msg);
  pthread_mutex_unlock(&j->mu);
}

static void test_declined_checkpoints_never_complete(void) {
  dc_job *j = calloc(1, sizeof *j);
  pthread_mutex_init(&j->mu, NULL);
  j->t0 = now_ms();
  sl_env *env = env_p(2);
  sl_env_set_logger(env, dc_log, j);
  sl_env_set(env, "execution.checkpointing.interval", "5ms");
  char path[4200];
  sl_env_set(env, "state.checkpoints.dir", tpath(path, sizeof path, "dc"));
  sl_stream *st = sl_source_stream(env, sl_source_new(&dc_src_ops, j, 0));
  CHECK_EQ_INT(sl_sink_to(st, sl_sink_new(&dc_sink_ops, j, 0)), 0);
  CHECK_EQ_INT(sl_execute(env, "dc"), 0); /* declines do not fail the job */
  sl_job_stats js;
  sl_job_stats_get(env, &js);
  sl_env_free(env);
  CHECK(now_ms() - j->t0 < 20000);
  /* checkpoints 1..K were declined: no source and no sink heard of them */
  CHECK(atomic_load(&j->n_done1) >= 2);
  CHECK_EQ_INT(j->done1[0], DC_K + 1); /* the next trigger proceeds normally */
  for (int i = 0; i < atomic_load(&j->n_done1) && i < DC_MAX; i++) CHECK(j->done1[i] > DC_K);
  for (int i = 0; i < j->n_done0; i++) CHECK(j->done0[i] > DC_K);
  CHECK(j->n_committed >= 2);
  for (int i = 0; i < j->n_committed; i++) CHECK(j->committed[i] > DC_K);
  /* ... though the sink pre-committed them (the checkpoint ran through) */
  int pre1 = 0;
  for (int i = 0; i < j->n_pre; i++) pre1 += j->pre[i] == 1;
  CHECK_EQ_INT(pre1, 2);
  /* everything written became visible once, through completed checkpoints
   * (the final one included) */
  CHECK_EQ_INT(j->visible, j->written);
  CHECK_EQ_INT(j->written, atomic_load(&j->emitted));
  /* the completed checkpoints counted: K+1, K+2, ..., and the final one */
  CHECK(js.checkpoints >= 3);
  /* the decline is logged, naming the operator, the subtask and why */
  CHECK(strstr(j->log, "source '") != NULL);
  CHECK(strstr(j->log, "(subtask 1/2) declined checkpoint 1: warming up (7)") != NULL);
  /* declined checkpoints left no directory behind */
  char d[4300];
  for (int id = 1; id <= DC_K; id++) {
    snprintf(d, sizeof d, "%s/chk-%d", path, id);
    CHECK(access(d, F_OK) != 0);
  }
  /* outside position the call does nothing */
  CHECK_EQ_INT(sl_ctx_decline_checkpoint(NULL, "x"), -SL_EINVAL);
  pthread_mutex_destroy(&j->mu);
  free(j);
}

/* ---- close: a failed job told from a stopped one ---------------------------------------- */

typedef struct fc_src {
  int fail;
  int closed, failed_at_close;
} fc_src;
static int fc_open(void *ud, sl_ctx *ctx, void **reader) {
  (void)ctx;
  *reader = ud;
  return 0;
}
static int fc_poll(void *reader, sl_ctx *ctx, int budget) {
  (void)budget;
  fc_src *f = reader;
  CHECK_EQ_INT(sl_ctx_failed(ctx), 0);
  if (f->fail) return sl_ctx_error(ctx, -SL_EIO, "replication stream broke");
  return emit_kv(ctx, "k", 1) ? -SL_EINTERNAL : SL_POLL_END;
}
static void fc_close(void *reader, sl_ctx *ctx) {
  fc_src *f = reader;
  f->closed++;
  f->failed_at_close = sl_ctx_failed(ctx);
}

/* sl_ctx_restoring in plan: 0 without a restore, 0 for "latest" over a
 * directory without a complete checkpoint (the run starts afresh), 1 when a
 * restore names a checkpoint (the restore then says it is missing). */
static int g_plan_restoring = -1;
static int rs_plan(void *ud, sl_ctx *ctx) {
  (void)ud;
  g_plan_restoring = sl_ctx_restoring(ctx);
  return 0;
}
static int rs_open(void *ud, sl_ctx *ctx, void **reader) {
  (void)ud, (void)ctx;
  *reader = NULL;
  return 0;
}
static int rs_poll(void *reader, sl_ctx *ctx, int budget) {
  (void)reader, (void)ctx, (void)budget;
  return SL_POLL_END;
}
static const sl_source_ops rs_ops = {.version = SL_CONNECTOR_VERSION, .kind = "rs",
                                     .plan = rs_plan, .open = rs_open, .poll = rs_poll};
static int rs_run(const char *restore, const char *dir) {
  sl_env *env = sl_env_new();
  sl_env_set(env, "parallelism.default", "1");
  if (dir) sl_env_set(env, "state.checkpoints.dir", dir);
  if (restore) sl_env_set(env, "execution.checkpointing.restore", restore);
  sl_sink_to(sl_source_stream(env, sl_source_new(&rs_ops, NULL, 0)), sl_discard_sink());
  g_plan_restoring = -1;
  int rc = sl_execute(env, "restoring");
  sl_env_free(env);
  return rc;
}
static void test_plan_knows_restoring(void) {
  char dir[600], chk[700];
  tpath(dir, sizeof dir, "rs-ck");
  mkdir(dir, 0700);
  CHECK_EQ_INT(rs_run(NULL, NULL), 0);
  CHECK_EQ_INT(g_plan_restoring, 0);
  CHECK_EQ_INT(rs_run("latest", dir), 0);
  CHECK_EQ_INT(g_plan_restoring, 0);
  snprintf(chk, sizeof chk, "%s/chk-7", dir);
  CHECK(rs_run(chk, dir) != 0); /* no such checkpoint: the restore fails */
  CHECK_EQ_INT(g_plan_restoring, 1);
}

static void test_close_tells_failure(void) {
  static const sl_source_ops ops = {.version = SL_CONNECTOR_VERSION, .kind = "fc",
                                    .open = fc_open, .poll = fc_poll, .close = fc_close};
  for (int fail = 0; fail < 2; fail++) {
    fc_src f = {.fail = fail, .failed_at_close = -1};
    sl_env *env = env_p(1);
    sl_collect *out = sl_collect_new();
    CHECK_EQ_INT(sl_sink_to(sl_source_stream(env, sl_source_new(&ops, &f, 0)),
                            sl_collect_sink(out)), 0);
    CHECK_EQ_INT(sl_execute(env, "fc"), fail ? -SL_EIO : 0);
    CHECK_EQ_INT(f.closed, 1);
    CHECK_EQ_INT(f.failed_at_close, fail); /* a failure, not an end (or a stop) */
    sl_collect_free(out);
    sl_env_free(env);
  }
  CHECK_EQ_INT(sl_ctx_failed(NULL), 0);
}

int main(void) {
  scratch_init("/tmp/sl_test_sdk", 1);
  RUN(test_handles_validated);
  RUN(test_split_watermarks_fire_windows);
  RUN(test_idle_source_holds_nothing_back);
  RUN(test_failures_name_the_operator);
  RUN(test_context_gives_config_subtask_logger);
  RUN(test_wake_from_own_thread);
  RUN(test_checkpoint_complete_reaches_readers);
  RUN(test_declined_checkpoints_never_complete);
  RUN(test_close_tells_failure);
  RUN(test_plan_knows_restoring);
  TEST_MAIN_END();
}

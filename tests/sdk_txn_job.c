/*
 * sdk_txn_job.c -- a job whose source and sink are written on the public
 * connector SDK only (<sluice.h> and <sluice_connector.h>, nothing from
 * src/), driven by tests/cli_sdk_exactly_once.sh, which kills it with
 * SIGKILL and restores it again and again and checks the committed output
 * is exactly that of a run without crashes.
 *
 *   source "splits": N records over S = 6 fixed splits (split j holds the
 *     indexes j, j+S, j+2S, ...).  plan() (main thread) fixes S and N;
 *     subtask s of P reads the splits j with j % P == s, in increasing
 *     index order (so event time rises on every split alike); a subtask
 *     without splits (P > S) has no reader.  A record is
 *     ts = index, key "k<index % 97>", value = the index in decimal.  At
 *     most `budget` per poll; after every 1000 records one poll returns
 *     SL_POLL_IDLE; an optional rate (records per ms for the whole job)
 *     makes it return SL_POLL_IDLE while it is ahead, never blocking.
 *     Every split reports its watermark (next index - 1) and is marked
 *     done at its end; the source sends no other watermarks, so every
 *     window below fires because of them.  position(): (split, next index)
 *     for each of the reader's splits; seek(): checks every old blob (any
 *     old parallelism) fully and picks the entries of its own splits.
 *     -> key_by(key) -> tumbling event-time windows of 1000 ms: count and
 *     sum of the indexes per key and window
 *     -> "start,end,key,count,sum" lines
 *   sink "txn-dir": a transactional sink writing into directory OUT.
 *     write() appends to the writer's open transaction
 *     OUT/.txn-<run>-<subtask>-<seq>.pending (O_APPEND; <run> is unique
 *     per process, so names never collide with an earlier run's).
 *     precommit(id) fsyncs and closes it, tags it with id and returns every
 *     transaction pre-committed and not yet committed (blob below);
 *     commit_ckpt(id) renames the pending files tagged <= id to
 *     OUT/txn-<tag>-<run>-<subtask>-<seq> (a missing pending file whose
 *     committed name exists is fine: commits repeat).  recover (restoring,
 *     main thread) checks every blob fully, commits what they list, deletes
 *     every other pending file (written after the checkpoint) and every
 *     committed file tagged after the restored checkpoint (committed by a
 *     later checkpoint than the one restored: a fallback).
 *
 * Usage:
 *   sdk_txn_job run N RATE P OUT CKDIR RESTORE [INTERVAL]
 *     RATE records per millisecond (0: as fast as possible), P the
 *     parallelism, RESTORE "latest" or "" (fresh), INTERVAL the checkpoint
 *     interval in milliseconds ("50" or "50ms", the default).  plan()
 *     checks that the configuration it reads is what main set.  Exit 0
 *     when the job succeeded, 1 if not.
 *   sdk_txn_job live N P OUT
 *     No checkpoints, and the source never ends: after its N records it
 *     idles for ever (its splits are not marked done), and every reader
 *     has one more split that never has a record and is marked idle.  The
 *     sink writes the window lines straight into OUT/live-<subtask>.  Once
 *     all N/1000 * 97 window lines arrived (which only split watermarks --
 *     with the idle split left out of the minimum -- can make happen) the
 *     job is cancelled and the program exits 0; after 60 s without them
 *     it exits 1.  N must be a multiple of 1000.
 *
 * Position blob (source): "SDKS" u32 version=1 u32 S u32 count, then count
 * x (u32 split, u64 next).  Sink blob: "SDKT" u32 version=1 i64 id u32
 * count, then count x (u64 run, u32 subtask, u32 seq, i64 tag).  Little
 * endian as the machine writes it (the checkpoint stays on one machine).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sluice.h>
#include <sluice_connector.h>

#define NSPLITS 6
#define NKEYS 97
#define WINDOW_MS 1000
#define IDLE_EVERY 1000
#define LIVE_IDLE_SPLIT 1000 /* + subtask: the live mode's empty split */

/* ---- byte helpers ------------------------------------------------------- */

static void put32(uint8_t **p, uint32_t v) { memcpy(*p, &v, 4), *p += 4; }
static void put64(uint8_t **p, uint64_t v) { memcpy(*p, &v, 8), *p += 8; }
static uint32_t get32(const uint8_t **p) {
  uint32_t v;
  memcpy(&v, *p, 4), *p += 4;
  return v;
}
static uint64_t get64(const uint8_t **p) {
  uint64_t v;
  memcpy(&v, *p, 8), *p += 8;
  return v;
}

/* ---- the source ----------------------------------------------------------- */

typedef struct src_ud {
  uint64_t n;   /* records */
  double rate;  /* records per ms for the whole job (0: no limit) */
  int live;     /* never end (live mode) */
  int planned;  /* plan() ran */
  int64_t interval_ms; /* execution.checkpointing.interval as main set it */
} src_ud;

typedef struct src_reader {
  const src_ud *ud;
  int subtask, P;
  int nsp;                    /* own splits */
  uint32_t split[NSPLITS];    /* their ids */
  uint64_t next[NSPLITS];     /* next index of each (>= n: done) */
  int done_sent[NSPLITS];     /* sl_ctx_split_done called */
  uint64_t emitted;           /* by this reader since open */
  uint64_t idles;             /* IDLE_EVERY pauses taken */
  int64_t t0;                 /* first poll (monotonic ns), for the rate */
  int live_idle_sent;
  char key[16], val[24];
} src_reader;

static int src_plan(void *ud, sl_ctx *ctx) {
  src_ud *u = ud;
  if (sl_ctx_subtask(ctx) != -1)
    return sl_ctx_error(ctx, -SL_EINTERNAL, "plan: sl_ctx_subtask is %d, want -1",
                        sl_ctx_subtask(ctx));
  if (sl_ctx_parallelism(ctx) < 1)
    return sl_ctx_error(ctx, -SL_EINTERNAL, "plan: parallelism %d", sl_ctx_parallelism(ctx));
  /* the job's configuration, as main set it */
  int64_t interval = -1;
  const char *par = sl_ctx_config(ctx, "parallelism.default");
  if (!par || atoi(par) != sl_ctx_parallelism(ctx) ||
      sl_ctx_config_int(ctx, "execution.checkpointing.interval", &interval) ||
      interval != u->interval_ms || sl_ctx_config(ctx, "no.such.key"))
    return sl_ctx_error(ctx, -SL_EINTERNAL,
                        "plan: configuration reads parallelism '%s', interval %" PRId64
                        " ms (want %d, %" PRId64 ")",
                        par ? par : "(null)", interval, sl_ctx_parallelism(ctx), u->interval_ms);
  if (u->n == 0 || u->n > (uint64_t)1 << 40)
    return sl_ctx_error(ctx, -SL_EINVAL, "plan: %" PRIu64 " records is out of range", u->n);
  u->planned = 1;
  return 0;
}

static int src_open(void *ud, sl_ctx *ctx, void **reader) {
  src_ud *u = ud;
  if (!u->planned) return sl_ctx_error(ctx, -SL_EINTERNAL, "open before plan");
  src_reader *r = calloc(1, sizeof *r);
  if (!r) return -SL_ENOMEM;
  r->ud = u;
  r->subtask = sl_ctx_subtask(ctx);
  r->P = sl_ctx_parallelism(ctx);
  for (uint32_t j = 0; j < NSPLITS; j++) {
    if ((int)(j % (uint32_t)r->P) != r->subtask) continue;
    r->split[r->nsp] = j;
    r->next[r->nsp] = j;
    r->nsp++;
  }
  if (r->nsp == 0) { /* more subtasks than splits: nothing to read here */
    free(r);
    *reader = NULL;
    return 0;
  }
  /* every own split holds event time back from the start */
  for (int i = 0; i < r->nsp; i++) {
    int rc = sl_ctx_split_watermark(ctx, r->split[i], (int64_t)r->next[i] - 1);
    if (rc) {
      free(r);
      return rc;
    }
  }
  *reader = r;
  return 0;
}

static int blob_error(sl_ctx *ctx, int i, const char *what) {
  return sl_ctx_error(ctx, -SL_ESTATE,
                      "restoring: source position %d is not this source's (%s); restore "
                      "from a checkpoint of this job",
                      i, what);
}

static int src_seek(void *reader, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                    int n) {
  src_reader *r = reader;
  const uint64_t N = r->ud->n;
  int seen[NSPLITS] = {0};
  uint64_t pos[NSPLITS] = {0};
  if (n == 0) return 0;
  for (int i = 0; i < n; i++) {
    if (lens[i] == 0) continue; /* a reader that had no splits */
    if (lens[i] < 16) return blob_error(ctx, i, "too short");
    const uint8_t *p = blobs[i];
    if (memcmp(p, "SDKS", 4)) return blob_error(ctx, i, "bad magic");
    p += 4;
    uint32_t ver = get32(&p), S = get32(&p), cnt = get32(&p);
    if (ver != 1) return blob_error(ctx, i, "unknown version");
    if (S != NSPLITS) return blob_error(ctx, i, "another number of splits");
    if (cnt > NSPLITS || lens[i] != 16 + (size_t)cnt * 12)
      return blob_error(ctx, i, "length does not match its count");
    for (uint32_t e = 0; e < cnt; e++) {
      uint32_t j = get32(&p);
      uint64_t next = get64(&p);
      if (j >= NSPLITS) return blob_error(ctx, i, "split id out of range");
      if (next % NSPLITS != j || next >= N + NSPLITS)
        return blob_error(ctx, i, "position not on its split or past its end");
      if (seen[j]) return blob_error(ctx, i, "a split listed twice");
      seen[j] = 1;
      pos[j] = next;
    }
  }
  for (uint32_t j = 0; j < NSPLITS; j++)
    if (!seen[j])
      return sl_ctx_error(ctx, -SL_ESTATE,
                          "restoring: the checkpoint holds no position for split %u (of %d)", j,
                          NSPLITS);
  for (int i = 0; i < r->nsp; i++) {
    r->next[i] = pos[r->split[i]];
    int rc = r->next[i] >= N ? 0 : sl_ctx_split_watermark(ctx, r->split[i], (int64_t)r->next[i] - 1);
    if (rc) return rc;
  }
  return 0;
}

static int src_position(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len) {
  src_reader *r = reader;
  size_t need = 16 + (size_t)r->nsp * 12;
  if (need > cap) return sl_ctx_error(ctx, -SL_ENOMEM, "position needs %zu bytes", need);
  uint8_t *p = buf;
  memcpy(p, "SDKS", 4), p += 4;
  put32(&p, 1);
  put32(&p, NSPLITS);
  put32(&p, (uint32_t)r->nsp);
  for (int i = 0; i < r->nsp; i++) {
    put32(&p, r->split[i]);
    put64(&p, r->next[i]);
  }
  *len = need;
  return 0;
}

static int src_poll(void *reader, sl_ctx *ctx, int budget) {
  src_reader *r = reader;
  const uint64_t N = r->ud->n;
  int rc, moved[NSPLITS] = {0};
  if (r->ud->live && !r->live_idle_sent) {
    /* a split that never has a record: only its idleness lets event time on */
    uint64_t id = LIVE_IDLE_SPLIT + (uint64_t)r->subtask;
    if ((rc = sl_ctx_split_watermark(ctx, id, -1)) || (rc = sl_ctx_split_idle(ctx, id, 1)))
      return rc;
    r->live_idle_sent = 1;
  }
  if (r->ud->rate > 0) {
    int64_t now = sl_ctx_monotonic_ns(ctx);
    if (!r->t0) r->t0 = now;
    double ms = (double)(now - r->t0) / 1e6;
    double allowed = ms * r->ud->rate / r->P + 1 - (double)r->emitted;
    if (allowed < 1) return SL_POLL_IDLE;
    if (allowed < budget) budget = (int)allowed;
  }
  /* pause once every IDLE_EVERY records */
  uint64_t to_pause = (r->idles + 1) * IDLE_EVERY - r->emitted;
  if ((uint64_t)budget > to_pause) budget = (int)to_pause;
  int k = 0;
  for (; k < budget; k++) {
    int best = -1;
    for (int i = 0; i < r->nsp; i++)
      if (r->next[i] < N && (best < 0 || r->next[i] < r->next[best])) best = i;
    if (best < 0) break;
    uint64_t idx = r->next[best];
    int kl = snprintf(r->key, sizeof r->key, "k%d", (int)(idx % NKEYS));
    int vl = snprintf(r->val, sizeof r->val, "%" PRIu64, idx);
    sl_record rec = {(int64_t)idx, r->key, (uint32_t)kl, r->val, (uint32_t)vl};
    if ((rc = sl_ctx_emit(ctx, &rec))) return rc;
    r->next[best] += NSPLITS;
    r->emitted++;
    moved[best] = 1;
  }
  int left = 0;
  for (int i = 0; i < r->nsp; i++) {
    if (r->next[i] < N) {
      left = 1;
      if (moved[i] && (rc = sl_ctx_split_watermark(ctx, r->split[i], (int64_t)r->next[i] - 1)))
        return rc;
    } else if (r->ud->live) {
      /* live: the split is not done, it only reached its end for now */
      if (moved[i] && (rc = sl_ctx_split_watermark(ctx, r->split[i], (int64_t)r->next[i] - 1)))
        return rc;
    } else if (!r->done_sent[i]) {
      if ((rc = sl_ctx_split_done(ctx, r->split[i]))) return rc;
      r->done_sent[i] = 1;
    }
  }
  if (!left) return r->ud->live ? SL_POLL_IDLE : SL_POLL_END;
  if (r->emitted == (r->idles + 1) * IDLE_EVERY) {
    r->idles++;
    return SL_POLL_IDLE;
  }
  return SL_POLL_MORE;
}

static void src_close(void *reader, sl_ctx *ctx) {
  (void)ctx;
  free(reader);
}

static void src_free(void *ud) { free(ud); }

static const sl_source_ops splits_ops = {
    .version = SL_CONNECTOR_VERSION,
    .kind = "splits",
    .plan = src_plan,
    .open = src_open,
    .poll = src_poll,
    .close = src_close,
    .free = src_free,
    .position = src_position,
    .seek = src_seek,
};

/* ---- the sink ------------------------------------------------------------- */

typedef struct sink_ud {
  char dir[4096];
  uint64_t run; /* unique per process */
  int live;     /* write OUT/live-<subtask> directly, no transactions */
  atomic_ullong lines;
} sink_ud;

typedef struct txn {
  uint32_t subtask, seq;
  int64_t tag; /* checkpoint that pre-committed it */
} txn;

typedef struct sink_writer {
  sink_ud *ud;
  uint32_t subtask;
  int fd;         /* the open transaction (-1: none yet) */
  uint32_t seq;   /* its number; the next one after precommit */
  txn *pend;      /* pre-committed, not yet committed */
  int npend, cappend;
  char line[256];
} sink_writer;

static void pending_name(char *buf, size_t cap, const sink_ud *u, uint64_t run, uint32_t subtask,
                         uint32_t seq) {
  snprintf(buf, cap, "%s/.txn-%016" PRIx64 "-%u-%u.pending", u->dir, run, subtask, seq);
}
static void committed_name(char *buf, size_t cap, const sink_ud *u, int64_t tag, uint64_t run,
                           uint32_t subtask, uint32_t seq) {
  snprintf(buf, cap, "%s/txn-%" PRId64 "-%016" PRIx64 "-%u-%u", u->dir, tag, run, subtask, seq);
}

/* Renames the pending file of (run, subtask, seq) to its committed name;
 * done already (only the committed name exists) is fine.  0, or -1 with
 * errno when neither exists or the rename fails. */
static int commit_one(const sink_ud *u, uint64_t run, uint32_t subtask, uint32_t seq,
                      int64_t tag) {
  char from[4400], to[4400];
  pending_name(from, sizeof from, u, run, subtask, seq);
  committed_name(to, sizeof to, u, tag, run, subtask, seq);
  if (rename(from, to) == 0) return 0;
  if (errno != ENOENT) return -1;
  struct stat st;
  return stat(to, &st) == 0 ? 0 : (errno = ENOENT, -1);
}

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

/* mkdir -p */
static int mkdir_p(const char *dir) {
  char p[4096];
  snprintf(p, sizeof p, "%s", dir);
  for (char *c = p + 1; *c; c++)
    if (*c == '/') {
      *c = 0;
      if (mkdir(p, 0777) && errno != EEXIST) return -1;
      *c = '/';
    }
  return mkdir(p, 0777) && errno != EEXIST ? -1 : 0;
}

static int sink_open(void *ud, sl_ctx *ctx, void **writer) {
  sink_ud *u = ud;
  if (mkdir_p(u->dir))
    return sl_ctx_error(ctx, -SL_EIO, "cannot create '%s': %s", u->dir, strerror(errno));
  sink_writer *w = calloc(1, sizeof *w);
  if (!w) return -SL_ENOMEM;
  w->ud = u;
  w->subtask = (uint32_t)sl_ctx_subtask(ctx);
  w->fd = -1;
  *writer = w;
  return 0;
}

static int sink_write(void *writer, sl_ctx *ctx, const sl_record *rec) {
  sink_writer *w = writer;
  char path[4400];
  if (w->fd < 0) {
    if (w->ud->live)
      snprintf(path, sizeof path, "%s/live-%u", w->ud->dir, w->subtask);
    else
      pending_name(path, sizeof path, w->ud, w->ud->run, w->subtask, w->seq);
    w->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (w->fd < 0) return sl_ctx_error(ctx, -SL_EIO, "cannot open '%s': %s", path, strerror(errno));
  }
  if (rec->value_len + 1 > sizeof w->line)
    return sl_ctx_error(ctx, -SL_EINVAL, "a line of %u bytes", rec->value_len);
  memcpy(w->line, rec->value, rec->value_len);
  w->line[rec->value_len] = '\n';
  ssize_t k = write(w->fd, w->line, rec->value_len + 1);
  if (k != (ssize_t)rec->value_len + 1)
    return sl_ctx_error(ctx, -SL_EIO, "cannot write transaction %u of subtask %u: %s", w->seq,
                        w->subtask, k < 0 ? strerror(errno) : "short write");
  atomic_fetch_add(&w->ud->lines, 1);
  return 0;
}

static int sink_precommit(void *writer, sl_ctx *ctx, int64_t id, uint8_t *buf, size_t cap,
                          size_t *len) {
  sink_writer *w = writer;
  if (w->fd >= 0) {
    if (fsync(w->fd) || close(w->fd)) {
      w->fd = -1;
      return sl_ctx_error(ctx, -SL_EIO, "cannot sync transaction %u: %s", w->seq, strerror(errno));
    }
    w->fd = -1;
    if (w->npend == w->cappend) {
      int c = w->cappend ? 2 * w->cappend : 8;
      txn *t = realloc(w->pend, (size_t)c * sizeof *t);
      if (!t) return -SL_ENOMEM;
      w->pend = t, w->cappend = c;
    }
    w->pend[w->npend++] = (txn){w->subtask, w->seq, id};
    w->seq++;
  }
  size_t need = 20 + (size_t)w->npend * 24;
  if (need > cap) return sl_ctx_error(ctx, -SL_ENOMEM, "precommit needs %zu bytes", need);
  uint8_t *p = buf;
  memcpy(p, "SDKT", 4), p += 4;
  put32(&p, 1);
  put64(&p, (uint64_t)id);
  put32(&p, (uint32_t)w->npend);
  for (int i = 0; i < w->npend; i++) {
    put64(&p, w->ud->run);
    put32(&p, w->pend[i].subtask);
    put32(&p, w->pend[i].seq);
    put64(&p, (uint64_t)w->pend[i].tag);
  }
  *len = need;
  return 0;
}

static int sink_commit_ckpt(void *writer, sl_ctx *ctx, int64_t id) {
  sink_writer *w = writer;
  int k = 0, did = 0;
  for (int i = 0; i < w->npend; i++) {
    txn *t = &w->pend[i];
    if (t->tag > id) {
      w->pend[k++] = *t;
      continue;
    }
    if (commit_one(w->ud, w->ud->run, t->subtask, t->seq, t->tag))
      return sl_ctx_error(ctx, -SL_EIO, "cannot commit transaction %u (checkpoint %" PRId64
                                        ") in '%s': %s",
                          t->seq, t->tag, w->ud->dir, strerror(errno));
    did = 1;
  }
  w->npend = k;
  if (did && fsync_dir(w->ud->dir))
    return sl_ctx_error(ctx, -SL_EIO, "cannot sync '%s': %s", w->ud->dir, strerror(errno));
  return 0;
}

static int sink_flush(void *writer, sl_ctx *ctx) {
  sink_writer *w = writer;
  if (w->fd >= 0 && fsync(w->fd))
    return sl_ctx_error(ctx, -SL_EIO, "cannot sync transaction %u: %s", w->seq, strerror(errno));
  return 0;
}

static void sink_close(void *writer, sl_ctx *ctx, int ok) {
  (void)ctx, (void)ok;
  sink_writer *w = writer;
  if (w->fd >= 0) close(w->fd);
  free(w->pend);
  free(w);
}

/* A committed name "txn-<tag>-<run>-<subtask>-<seq>" (1: with *tag), a
 * pending ".txn-<run>-<subtask>-<seq>.pending" (2), or neither (0).  The
 * name must be exactly what pending_name / committed_name write. */
static int parse_name(const sink_ud *u, const char *name, int64_t *tag) {
  int64_t t;
  uint64_t run;
  unsigned sub, seq;
  char buf[4400], full[4400];
  snprintf(full, sizeof full, "%s/%s", u->dir, name);
  if (sscanf(name, "txn-%" SCNd64 "-%" SCNx64 "-%u-%u", &t, &run, &sub, &seq) == 4) {
    committed_name(buf, sizeof buf, u, t, run, sub, seq);
    if (!strcmp(buf, full)) return *tag = t, 1;
  }
  if (sscanf(name, ".txn-%" SCNx64 "-%u-%u.pending", &run, &sub, &seq) == 3) {
    pending_name(buf, sizeof buf, u, run, sub, seq);
    if (!strcmp(buf, full)) return 2;
  }
  return 0;
}

static int sink_recover(void *ud, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                        int n, const char *const *names) {
  sink_ud *u = ud;
  int64_t ckpt = 0; /* the restored checkpoint (0: none) */
  int committed = 0, aborted = 0, withdrawn = 0;
  /* 1. check everything before touching a file */
  for (int i = 0; i < n; i++) {
    const char *f = names && names[i] ? names[i] : "?";
    const uint8_t *p = blobs[i];
    if (lens[i] < 20 || memcmp(p, "SDKT", 4))
      return sl_ctx_error(ctx, -SL_ESTATE, "'%s': blob %d is not this sink's (%zu bytes)", f, i,
                          lens[i]);
    p += 4;
    uint32_t ver = get32(&p);
    int64_t id = (int64_t)get64(&p);
    uint32_t cnt = get32(&p);
    if (ver != 1 || id < 1 || cnt > 1u << 20 || lens[i] != 20 + (size_t)cnt * 24)
      return sl_ctx_error(ctx, -SL_ESTATE, "'%s': blob %d has a bad header (version %u, "
                                           "checkpoint %" PRId64 ", %u entries, %zu bytes)",
                          f, i, ver, id, cnt, lens[i]);
    if (ckpt && id != ckpt)
      return sl_ctx_error(ctx, -SL_ESTATE, "'%s': blob %d is of checkpoint %" PRId64
                                           ", the others of %" PRId64,
                          f, i, id, ckpt);
    ckpt = id;
    for (uint32_t e = 0; e < cnt; e++) {
      get64(&p);
      uint32_t sub = get32(&p), seq = get32(&p);
      int64_t tag = (int64_t)get64(&p);
      if (sub > 1u << 16 || seq > 1u << 30 || tag < 1 || tag > id)
        return sl_ctx_error(ctx, -SL_ESTATE, "'%s': blob %d entry %u is out of range", f, i, e);
    }
  }
  /* 2. commit what the checkpoint pre-committed */
  for (int i = 0; i < n; i++) {
    const uint8_t *p = blobs[i] + 20;
    uint32_t cnt;
    memcpy(&cnt, blobs[i] + 16, 4);
    for (uint32_t e = 0; e < cnt; e++) {
      uint64_t run = get64(&p);
      uint32_t sub = get32(&p), seq = get32(&p);
      int64_t tag = (int64_t)get64(&p);
      if (commit_one(u, run, sub, seq, tag))
        return sl_ctx_error(ctx, -SL_ESTATE,
                            "'%s': cannot commit transaction %u of subtask %u (checkpoint "
                            "%" PRId64 ") in '%s': %s; the output directory lost what the "
                            "checkpoint pre-committed: restore into the directory the job "
                            "wrote, or start afresh in an empty one",
                            names && names[i] ? names[i] : "?", seq, sub, tag, u->dir,
                            strerror(errno));
      committed++;
    }
  }
  /* 3. abort the rest: pending files not committed above, and files that
   * a checkpoint after the restored one committed */
  DIR *d = opendir(u->dir);
  if (!d) {
    if (errno == ENOENT) goto done;
    return sl_ctx_error(ctx, -SL_EIO, "cannot list '%s': %s", u->dir, strerror(errno));
  }
  struct dirent *e;
  while ((e = readdir(d))) {
    int64_t tag = 0;
    int kind = parse_name(u, e->d_name, &tag);
    if (kind == 0 || (kind == 1 && tag <= ckpt)) continue;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", u->dir, e->d_name);
    if (unlink(path) && errno != ENOENT) {
      int err = errno;
      closedir(d);
      return sl_ctx_error(ctx, -SL_EIO, "cannot delete '%s': %s", path, strerror(err));
    }
    if (kind == 2)
      aborted++;
    else
      withdrawn++;
  }
  closedir(d);
  if (fsync_dir(u->dir))
    return sl_ctx_error(ctx, -SL_EIO, "cannot sync '%s': %s", u->dir, strerror(errno));
done:
  sl_ctx_log(ctx, SL_LOG_INFO,
             "sdk sink recovered checkpoint %" PRId64 " from %d blobs: %d committed, %d pending "
             "aborted, %d later commits withdrawn",
             ckpt, n, committed, aborted, withdrawn);
  return 0;
}

static void sink_free(void *ud) { free(ud); }

static const sl_sink_ops txn_ops = {
    .version = SL_CONNECTOR_VERSION,
    .kind = "txn-dir",
    .open = sink_open,
    .write = sink_write,
    .flush = sink_flush,
    .close = sink_close,
    .free = sink_free,
    .precommit = sink_precommit,
    .commit_ckpt = sink_commit_ckpt,
    .recover = sink_recover,
};

/* The live mode's sink: the same writer, no two-phase commit. */
static const sl_sink_ops live_ops = {
    .version = SL_CONNECTOR_VERSION,
    .kind = "live-dir",
    .open = sink_open,
    .write = sink_write,
    .flush = sink_flush,
    .close = sink_close,
};

/* ---- the window ------------------------------------------------------------- */

typedef struct acc {
  int64_t count, sum;
} acc;

static void acc_create(void *ud, void *a) {
  (void)ud;
  memset(a, 0, sizeof(acc));
}

static int acc_add(void *ud, void *a, const void *in, uint32_t in_len) {
  (void)ud;
  char buf[24];
  if (in_len == 0 || in_len >= sizeof buf) return -SL_EBADREC;
  memcpy(buf, in, in_len);
  buf[in_len] = 0;
  char *end;
  long long v = strtoll(buf, &end, 10);
  if (*end) return -SL_EBADREC;
  acc x;
  memcpy(&x, a, sizeof x);
  x.count++;
  x.sum += v;
  memcpy(a, &x, sizeof x);
  return 0;
}

static int acc_merge(void *ud, void *a, const void *other) {
  (void)ud;
  acc x, y;
  memcpy(&x, a, sizeof x);
  memcpy(&y, other, sizeof y);
  x.count += y.count, x.sum += y.sum;
  memcpy(a, &x, sizeof x);
  return 0;
}

static int acc_result(void *ud, const void *a, sl_bytes *out) {
  (void)ud;
  out->data = a, out->len = sizeof(acc);
  return 0;
}

static const sl_state_desc count_sum = {.name = "count-sum",
                                        .kind = SL_STATE_AGGREGATING,
                                        .size = sizeof(acc),
                                        .agg_create = acc_create,
                                        .agg_add = acc_add,
                                        .agg_merge = acc_merge,
                                        .agg_result = acc_result};

/* "start,end,key,count,sum" */
static int format(void *ud, sl_ctx *ctx, const sl_window *w, sl_window_elems *elems,
                  sl_collector *out) {
  (void)ud;
  sl_record r;
  sl_bytes key;
  acc a;
  if (sl_window_next(elems, &r) != 1 || r.value_len != sizeof a)
    return sl_ctx_fail(ctx, "window [%" PRId64 ", %" PRId64 "): no aggregate", w->start, w->end);
  memcpy(&a, r.value, sizeof a);
  if (sl_ctx_key(ctx, &key) != 0 || key.len > 32) return sl_ctx_fail(ctx, "no key");
  char *buf = sl_ctx_scratch(ctx, 128);
  if (!buf) return -SL_ENOMEM;
  int k = snprintf(buf, 128, "%" PRId64 ",%" PRId64 ",%.*s,%" PRId64 ",%" PRId64, w->start,
                   w->end, (int)key.len, (const char *)key.data, a.count, a.sum);
  sl_record line = {w->end - 1, key.data, key.len, buf, (uint32_t)k};
  return sl_emit(out, &line);
}

/* ---- main ---------------------------------------------------------------------- */

static sl_env *g_env;
static atomic_int g_live_ok;
static uint64_t g_live_want;
static sink_ud *g_live_sink;

/* live mode: cancel the job once every window line arrived (or after 60 s) */
static void *watchdog(void *arg) {
  (void)arg;
  for (int i = 0; i < 60 * 100; i++) {
    if (atomic_load(&g_live_sink->lines) >= g_live_want) {
      atomic_store(&g_live_ok, 1);
      break;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  sl_cancel(g_env);
  return NULL;
}

static int set(sl_env *env, const char *k, const char *v) {
  if (sl_env_set(env, k, v) == 0) return 0;
  fprintf(stderr, "sdk_txn_job: %s=%s: %s\n", k, v, sl_env_last_error(env));
  return -1;
}

static int usage(void) {
  fprintf(stderr, "usage: sdk_txn_job run N RATE P OUT CKDIR RESTORE [INTERVAL]\n"
                  "       sdk_txn_job live N P OUT\n");
  return 2;
}

int main(int argc, char **argv) {
  int live;
  if (argc >= 8 && argc <= 9 && !strcmp(argv[1], "run"))
    live = 0;
  else if (argc == 5 && !strcmp(argv[1], "live"))
    live = 1;
  else
    return usage();
  char *end;
  uint64_t n = strtoull(argv[2], &end, 10);
  if (*end || n == 0) return usage();
  if (live && n % WINDOW_MS) return usage();
  const char *par = argv[live ? 3 : 4], *out = argv[live ? 4 : 5];

  src_ud *su = calloc(1, sizeof *su);
  sink_ud *ku = calloc(1, sizeof *ku);
  sl_env *env = g_env = sl_env_new();
  if (!su || !ku || !env) return 1;
  su->n = n;
  su->live = live;
  if (!live) su->rate = strtod(argv[3], NULL);
  const char *interval = argc == 9 ? argv[8] : "50ms";
  su->interval_ms = live ? 0 : strtoll(interval, NULL, 10); /* "50ms" or "50" */
  ku->live = live;
  snprintf(ku->dir, sizeof ku->dir, "%s", out);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  ku->run = ((uint64_t)now.tv_sec << 32) ^ ((uint64_t)now.tv_nsec << 8) ^ (uint64_t)getpid();

  if (set(env, "parallelism.default", par)) return 1;
  if (!live) {
    if (set(env, "execution.checkpointing.interval", interval) ||
        set(env, "state.checkpoints.dir", argv[6]) ||
        set(env, "state.checkpoints.num-retained", "3") ||
        (argv[7][0] && set(env, "execution.checkpointing.restore", argv[7])))
      return 1;
  }

  sl_source *src = sl_source_new(&splits_ops, su, 0);
  sl_sink *sink = sl_sink_new(live ? &live_ops : &txn_ops, ku, 0);
  if (!src || !sink) {
    fprintf(stderr, "sdk_txn_job: sl_source_new / sl_sink_new failed\n");
    return 1;
  }
  sl_stream *s = sl_name(sl_source_stream(env, src), "splits");
  sl_window_spec w = {.kind = SL_WINDOW_TUMBLING, .time = SL_TIME_EVENT, .size_ms = WINDOW_MS};
  s = sl_name(sl_window_aggregate(sl_key_by(s, NULL, NULL), &w, &count_sum, format, NULL),
              "window");
  if (sl_sink_to(s, sink)) {
    fprintf(stderr, "sdk_txn_job: building the job: %s\n", sl_env_last_error(env));
    return 1;
  }

  pthread_t wd;
  if (live) {
    g_live_sink = ku;
    g_live_want = n / WINDOW_MS * NKEYS;
    if (pthread_create(&wd, NULL, watchdog, NULL)) return 1;
  }
  int rc = sl_execute(env, live ? "sdk-live" : "sdk-txn");
  int ok;
  if (live) {
    pthread_join(wd, NULL);
    unsigned long long got = atomic_load(&ku->lines);
    ok = atomic_load(&g_live_ok) && got == g_live_want;
    if (!ok)
      fprintf(stderr,
              "sdk_txn_job live: %llu of %" PRIu64 " window lines arrived before the end "
              "of input (job: %s%s%s): split watermarks did not drive event time\n",
              got, g_live_want, sl_strerror(rc), rc ? ": " : "", rc ? sl_env_last_error(env) : "");
    else
      printf("live: all %llu window lines before the end of input\n", got);
  } else {
    ok = rc == 0;
    if (!ok) fprintf(stderr, "sdk_txn_job: %s\n", sl_env_last_error(env));
  }
  sl_env_free(env);
  return ok ? 0 : 1;
}

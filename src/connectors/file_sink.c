/*
 * file_sink.c -- sl_file_sink(): record values as text lines in files.
 *
 * Each record's value bytes plus '\n' are one line; keys and timestamps are
 * not written.  The mode is fixed when the sink is created:
 *
 *   directory mode (PATH is an existing directory or ends in '/'; global=0)
 *     Every subtask s writes its own part files in the directory (created
 *     with mkdir -p semantics at open): `.part-<s>-<n>.inprogress` while it
 *     is being written, renamed to `part-<s>-<n>` when it is rolled or when
 *     the job succeeds (commit) -- Flink FileSink's naming.  A part file is
 *     created at the first record that needs it (a subtask without records
 *     writes none) and rolled between records once it holds
 *     sink.rolling-policy.file-size bytes, so a part file never splits a
 *     line and holds at most file-size - 1 bytes plus one line.  It also
 *     rolls (Flink's DefaultRollingPolicy) once it has been open for
 *     sink.rolling-policy.rollover-interval or not written for
 *     inactivity-interval, on the sink's clock (monotonic; tests inject
 *     their own, file_sink.h).  That is checked at every record, when the
 *     worker is idle (idle()) and at every checkpoint (precommit), so the
 *     output of a sink that has gone quiet is committed by the next
 *     checkpoint; without checkpoints a rolled file is visible at once.
 *
 *   single-file mode (anything else; global=1, all records on subtask 0)
 *     Subtask 0 writes PATH.inprogress (its parent directory is created if
 *     missing); on success commit renames it atomically to PATH, replacing
 *     an existing PATH.  On failure PATH is not touched and PATH.inprogress
 *     is left for inspection.  The other subtasks get an idle writer.
 *
 * Life cycle of a writer (one per subtask):
 *
 *   open ──> write* ──> flush ──> close(ok) ──> commit(ok) (once per sink)
 *   (main    (worker thread:       (main thread, after the workers joined)
 *   thread)   buffer, roll)
 *
 *   - write appends to a 64 KiB buffer and write()s it when full; a value
 *     bigger than the buffer is written directly.  No allocation per record.
 *   - flush (the inputs ended) writes out the buffer and fsyncs.
 *   - close closes the file (on failure it first writes out what is still
 *     buffered, best effort, for inspection) but keeps the writer, which
 *     stays linked in the sink so commit can rename its in-progress file.
 *   - commit(ok=1) renames every in-progress file to its final name and
 *     fsyncs the directory; commit(ok=0) leaves the files.  Both free the
 *     writers.
 *
 * With checkpoints (execution.checkpointing.interval > 0) the sink is
 * exactly-once, by a two-phase commit like Flink's FileSink:
 *
 *   - a rolled part file is closed and fsynced but keeps its in-progress
 *     name (pending) until a checkpoint covers it;
 *   - precommit (barrier n): write out the buffer, fsync, tag the pending
 *     files with n, and store in the checkpoint every pending file and the
 *     in-progress file with its length;
 *   - commit_ckpt (checkpoint n complete): rename the files tagged <= n;
 *   - recover (restore from checkpoint n, which may be older than the
 *     newest: a fallback past a damaged one, a savepoint, an explicit
 *     path): the checkpoint's bytes (file_sink.h) are decoded and checked
 *     in full before any file is touched -- every name must be one this
 *     sink writes, so every path stays in its directory, and only regular
 *     files are cut or renamed, never through a symbolic link.  Then:
 *       1. every file n names is cut to its stored length and renamed to
 *          its final name (if a later checkpoint committed it already, the
 *          final file is cut; so recovery can repeat);
 *       2. every other `.part-*.inprogress` is deleted (written after n);
 *       3. every `part-<s>-<k>` that n's writers had not created yet is
 *          deleted: n stores per writer the run's first part number (base)
 *          and its next one; old subtask s created k < next(s), subtasks
 *          n has no writer for (a run at a higher parallelism) k < base
 *          (a version-1 checkpoint, without counters, skips this step);
 *       4. the part numbers go on past every number seen, the same for all
 *          writers (the new run's base).
 *     So the directory holds exactly the output as of n.  In single-file
 *     mode PATH.inprogress is truncated to the stored length and the
 *     restored run appends to it (it is opened lazily, at the first
 *     record or at the end, so opening never truncates it).
 *   - a successful job ends with a final checkpoint (checkpoint.c) and
 *     then commit renames what is left.
 *
 * So a committed file never holds data that a restored run replays.  An
 * output directory belongs to one job: a restore deletes the part files
 * its checkpoint does not cover.
 *
 * Errors name the file and the OS reason: from open/write/flush through
 * sl__fail ("cannot write 'PATH': reason"), from close/commit/recover
 * through their err buffer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/file_sink.h"
#include "connectors/connector.h"

#define FS_BUF (64 * 1024)

typedef struct fs_sink fs_sink;

/* A part file closed but not yet committed (two-phase commit). */
typedef struct fs_pending {
  char *tmp, *final;
  int64_t size; /* bytes in it (closed: final) */
  int64_t ckpt; /* pre-committed for this checkpoint; 0 = not yet */
} fs_pending;

typedef struct fs_writer {
  fs_sink *sink;
  struct fs_writer *next; /* in sink->writers */
  int subtask;
  int fd;          /* -1: no file open */
  int dirty;       /* bytes written since the last fsync */
  int close_errno; /* an error of close(), reported by commit */
  uint64_t part;   /* directory mode: n of the current / next part file */
  uint64_t base;   /* directory mode: the part number this run started at */
  int64_t size;    /* bytes in the current file, buffered ones included */
  int64_t roll;    /* directory mode: rolling size */
  int64_t rollover_ms, inactive_ms; /* directory mode: rolling by time */
  int64_t opened_ms, written_ms;    /* the current part file's, sink clock */
  char *tmp;       /* file being written (.inprogress); NULL when none */
  char *final;     /* the name it gets when finished */
  char *buf;       /* FS_BUF bytes; NULL for an idle writer */
  size_t len;
  int twopc;       /* checkpoints on: rolled files wait for a checkpoint */
  int resume;      /* single-file mode: append to the restored in-progress file */
  fs_pending *pending;
  int n_pending, cap_pending;
} fs_writer;

struct fs_sink {
  char *path;   /* as given, for messages */
  char *dir;    /* directory mode: the directory; single: PATH's parent */
  char *tmp;    /* single-file mode: PATH.inprogress */
  int dirmode;
  pthread_mutex_t mu; /* guards writers */
  fs_writer *writers;
  int64_t (*now_ms)(void *ud); /* the clock of time-based rolling */
  void *now_ud;
};

/* sl__malloc'ed printf. */
static char *fs_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fs_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *s = sl__malloc((size_t)n + 1);
  if (!s) return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

static int fail_mkdir(sl_ctx *ctx, const fs_sink *s, int rc, char *bad) {
  rc = sl_ctx_error(ctx, -SL_EIO, "cannot write '%s': cannot create directory '%s': %s",
                s->path, bad ? bad : s->dir, strerror(-rc));
  sl__free(bad);
  return rc;
}

static int fail_io(sl_ctx *ctx, const char *file) {
  return sl_ctx_error(ctx, -SL_EIO, "cannot write '%s': %s", file, strerror(errno));
}

/* Write out the buffer. */
static int buf_out(fs_writer *w, sl_ctx *ctx) {
  if (!w->len) return 0;
  int rc = sl__write_all(w->fd, w->buf, w->len);
  if (rc) {
    errno = -rc;
    return fail_io(ctx, w->tmp);
  }
  w->len = 0;
  w->dirty = 1;
  return 0;
}

static int open_file(fs_writer *w, sl_ctx *ctx) {
  w->fd = open(w->tmp, O_WRONLY | O_CREAT | (w->resume ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0666);
  if (w->fd < 0) return fail_io(ctx, w->tmp);
  struct stat st;
  w->size = w->resume && fstat(w->fd, &st) == 0 ? (int64_t)st.st_size : 0;
  w->resume = 0;
  w->dirty = 0;
  return 0;
}

static void free_names(fs_writer *w) {
  sl__free(w->tmp);
  sl__free(w->final);
  w->tmp = w->final = NULL;
}

/* Directory mode: start part file w->part. */
static int part_open(fs_writer *w, sl_ctx *ctx) {
  const fs_sink *s = w->sink;
  w->tmp = fs_printf("%s/.part-%d-%llu.inprogress", s->dir, w->subtask,
                     (unsigned long long)w->part);
  w->final = fs_printf("%s/part-%d-%llu", s->dir, w->subtask,
                       (unsigned long long)w->part);
  if (!w->tmp || !w->final) {
    free_names(w);
    return sl_ctx_error(ctx, -SL_ENOMEM, "cannot write '%s': out of memory", s->path);
  }
  return open_file(w, ctx);
}

/* Directory mode: finish the current part file (roll).  With checkpoints
 * it becomes pending; without, it is committed at once. */
static int part_finish(fs_writer *w, sl_ctx *ctx) {
  int rc = buf_out(w, ctx);
  if (rc) return rc;
  int e = fsync(w->fd) != 0 ? errno : 0;
  if (close(w->fd) != 0 && !e) e = errno;
  w->fd = -1;
  if (e) {
    errno = e;
    return fail_io(ctx, w->tmp);
  }
  if (w->twopc) {
    if (w->n_pending == w->cap_pending) {
      int cap = w->cap_pending ? 2 * w->cap_pending : 8;
      fs_pending *p = sl__realloc(w->pending, (size_t)cap * sizeof *p);
      if (!p) return sl_ctx_error(ctx, -SL_ENOMEM, "cannot write '%s': out of memory", w->sink->path);
      w->pending = p;
      w->cap_pending = cap;
    }
    w->pending[w->n_pending++] = (fs_pending){w->tmp, w->final, w->size, 0};
    w->tmp = w->final = NULL;
    w->part++;
    return 0;
  }
  if (rename(w->tmp, w->final) != 0)
    return sl_ctx_error(ctx, -SL_EIO, "cannot write '%s': cannot rename '%s' to '%s': %s",
                    w->sink->path, w->tmp, w->final, strerror(errno));
  free_names(w);
  w->part++;
  return 0;
}

static void writer_free(fs_writer *w) {
  if (w->fd >= 0) close(w->fd);
  free_names(w);
  for (int i = 0; i < w->n_pending; i++) {
    sl__free(w->pending[i].tmp);
    sl__free(w->pending[i].final);
  }
  sl__free(w->pending);
  sl__free(w->buf);
  sl__free_private(w);
}

static int fs_open(void *ud, sl_ctx *ctx, void **writer) {
  fs_sink *s = ud;
  fs_writer *w = sl__calloc_private(sizeof *w);
  if (!w) return sl_ctx_error(ctx, -SL_ENOMEM, "cannot write '%s': out of memory", s->path);
  w->sink = s;
  w->subtask = sl_ctx_subtask(ctx);
  w->fd = -1;
  w->twopc = sl__conn_int(ctx, "execution.checkpointing.interval") > 0;
  int rc = 0;
  char *bad;
  if (s->dirmode) {
    w->roll = sl__conn_int(ctx, "sink.rolling-policy.file-size");
    w->rollover_ms = sl__conn_int(ctx, "sink.rolling-policy.rollover-interval");
    w->inactive_ms = sl__conn_int(ctx, "sink.rolling-policy.inactivity-interval");
    if ((rc = sl__mkdir_p(s->dir, &bad)) != 0) {
      rc = fail_mkdir(ctx, s, rc, bad);
      goto fail;
    }
  } else if (w->subtask == 0) {
    if ((rc = sl__mkdir_p(s->dir, &bad)) != 0) {
      rc = fail_mkdir(ctx, s, rc, bad);
      goto fail;
    }
    w->tmp = sl__strdup(s->tmp);
    w->final = sl__strdup(s->path);
    if (!w->tmp || !w->final) {
      rc = sl_ctx_error(ctx, -SL_ENOMEM, "cannot write '%s': out of memory", s->path);
      goto fail;
    }
    /* the file is opened at the first record or at the end, after a
     * restore decided whether it continues */
  }
  if (s->dirmode || w->subtask == 0) {
    w->buf = sl__malloc(FS_BUF);
    if (!w->buf) {
      rc = sl_ctx_error(ctx, -SL_ENOMEM, "cannot write '%s': out of memory", s->path);
      goto fail;
    }
  }
  pthread_mutex_lock(&s->mu);
  w->next = s->writers;
  s->writers = w;
  pthread_mutex_unlock(&s->mu);
  *writer = w;
  return 0;
fail:
  writer_free(w);
  return rc;
}

/* Directory mode: the part file in progress has been open for
 * rollover-interval or not written for inactivity-interval. */
static int roll_due(const fs_writer *w, int64_t now) {
  return w->fd >= 0 &&
         (now - w->opened_ms >= w->rollover_ms || now - w->written_ms >= w->inactive_ms);
}

static int64_t sink_now(const fs_sink *s) { return s->now_ms(s->now_ud); }

static int fs_write(void *writer, sl_ctx *ctx, const sl_record *r) {
  fs_writer *w = writer;
  size_t n = (size_t)r->value_len + 1;
  int rc;
  if (w->sink->dirmode) {
    int64_t now = sink_now(w->sink);
    if (w->fd >= 0 && (w->size >= w->roll || roll_due(w, now)) &&
        (rc = part_finish(w, ctx)) != 0)
      return rc;
    if (w->fd < 0) {
      if ((rc = part_open(w, ctx)) != 0) return rc;
      w->opened_ms = now;
    }
    w->written_ms = now;
  } else if (SL__UNLIKELY(w->fd < 0)) {
    if (!w->buf) /* not subtask 0 */
      return sl_ctx_error(ctx, -SL_EINTERNAL,
                      "file sink '%s' got a record on subtask %d, but a "
                      "single-file sink receives every record on subtask 1",
                      w->sink->path, w->subtask + 1);
    if ((rc = open_file(w, ctx)) != 0) return rc; /* the first record */
  }
  if (w->len + n > FS_BUF && (rc = buf_out(w, ctx)) != 0) return rc;
  if (SL__UNLIKELY(n > FS_BUF)) {
    if ((rc = sl__write_all(w->fd, r->value, r->value_len)) != 0 ||
        (rc = sl__write_all(w->fd, "\n", 1)) != 0) {
      errno = -rc;
      return fail_io(ctx, w->tmp);
    }
    w->dirty = 1;
  } else {
    if (r->value_len) memcpy(w->buf + w->len, r->value, r->value_len);
    w->buf[w->len + r->value_len] = '\n';
    w->len += n;
  }
  w->size += (int64_t)n;
  return 0;
}

static int fs_flush(void *writer, sl_ctx *ctx) {
  fs_writer *w = writer;
  int rc;
  if (!w->sink->dirmode && w->buf && w->fd < 0 && (rc = open_file(w, ctx)) != 0)
    return rc; /* single-file mode: an empty output is still a file */
  if (w->fd < 0) return 0;
  rc = buf_out(w, ctx);
  if (rc) return rc;
  if (w->dirty && fsync(w->fd) != 0) return fail_io(ctx, w->tmp);
  w->dirty = 0;
  return 0;
}

/* The worker has nothing to do: roll a part file that is due by time
 * (without checkpoints it becomes visible now). */
static int fs_idle(void *writer, sl_ctx *ctx) {
  fs_writer *w = writer;
  if (!w->sink->dirmode || !roll_due(w, sink_now(w->sink))) return 0;
  return part_finish(w, ctx);
}

/* Closes the file; the writer itself lives on until commit (or free). */
static void fs_close(void *writer, sl_ctx *ctx, int ok) {
  (void)ctx;
  fs_writer *w = writer;
  if (w->fd >= 0) {
    /* Normally flush emptied the buffer; after a failure this keeps what
     * was written so far for inspection. */
    int rc = w->len ? sl__write_all(w->fd, w->buf, w->len) : 0;
    w->len = 0;
    if (!rc && ok && w->dirty && fsync(w->fd) != 0) rc = -errno;
    if (close(w->fd) != 0 && !rc) rc = -errno;
    w->fd = -1;
    if (rc && ok) w->close_errno = -rc;
  }
  sl__free(w->buf);
  w->buf = NULL;
}

/* rename tmp -> final; a tmp that is gone but whose final name exists was
 * renamed before (commits repeat after a crash).  0 or errno. */
static int commit_file(const char *tmp, const char *final) {
  if (rename(tmp, final) == 0) {
    sl__fault("commit");
    return 0;
  }
  int e = errno;
  return e == ENOENT && access(final, F_OK) == 0 ? 0 : e;
}

static int fs_commit(void *ud, sl_ctx *ctx, int ok) {
  fs_sink *s = ud;
  char err[4400] = "";
  size_t errcap = sizeof err;
  int rc = 0, renamed = 0, e;
  pthread_mutex_lock(&s->mu);
  fs_writer *w = s->writers;
  s->writers = NULL;
  pthread_mutex_unlock(&s->mu);
  while (w) {
    fs_writer *next = w->next;
    for (int i = 0; ok && !rc && i < w->n_pending; i++) {
      if ((e = commit_file(w->pending[i].tmp, w->pending[i].final)) != 0) {
        sl__fmt(err, errcap, "cannot write '%s': cannot rename '%s' to '%s': %s", s->path,
                w->pending[i].tmp, w->pending[i].final, strerror(e));
        rc = -SL_EIO;
      }
      renamed = 1;
    }
    if (ok && !rc && w->tmp) {
      if (w->close_errno) {
        sl__fmt(err, errcap, "cannot write '%s': %s", w->tmp,
                strerror(w->close_errno));
        rc = -SL_EIO;
      } else if (w->fd >= 0) {
        sl__fmt(err, errcap, "cannot write '%s': file still open at commit",
                w->tmp);
        rc = -SL_EINTERNAL;
      } else if ((e = commit_file(w->tmp, w->final)) != 0) {
        sl__fmt(err, errcap, "cannot write '%s': cannot rename '%s' to '%s': %s",
                s->path, w->tmp, w->final, strerror(e));
        rc = -SL_EIO;
      } else {
        renamed = 1;
      }
    }
    writer_free(w);
    w = next;
  }
  if (renamed) sl__fsync_dir(s->dir);
  if (rc) sl_ctx_fail(ctx, "%s", err);
  return rc;
}

/* ---- two-phase commit ---------------------------------------------------------------- */

/* Checkpoint bytes: see file_sink.h (version 2). */
static const char FS_TAG[4] = {'F', 'S', 'K', '2'};

static const char *base(const char *path) {
  const char *sl = strrchr(path, '/');
  return sl ? sl + 1 : path;
}

static int put_file(uint8_t *buf, size_t cap, size_t *n, int kind, int64_t len,
                    const char *tmp, const char *final) {
  const char *t = base(tmp), *f = base(final);
  size_t lt = strlen(t), lf = strlen(f);
  if (*n + 1 + 8 + 2 + lt + 2 + lf > cap || lt > 0xffff || lf > 0xffff) return -SL_ENOMEM;
  uint8_t *p = buf + *n;
  uint16_t l16;
  *p++ = (uint8_t)kind;
  memcpy(p, &len, 8), p += 8;
  l16 = (uint16_t)lt, memcpy(p, &l16, 2), p += 2, memcpy(p, t, lt), p += lt;
  l16 = (uint16_t)lf, memcpy(p, &l16, 2), p += 2, memcpy(p, f, lf), p += lf;
  *n = (size_t)(p - buf);
  return 0;
}

static int fs_precommit(void *writer, sl_ctx *ctx, int64_t id, uint8_t *buf, size_t cap,
                        size_t *len) {
  fs_writer *w = writer;
  int rc;
  /* a part file due by time rolls here, so a quiet sink's output is
   * committed by this checkpoint */
  if (w->sink->dirmode && roll_due(w, sink_now(w->sink)) && (rc = part_finish(w, ctx)) != 0)
    return rc;
  if (w->fd >= 0) {
    if ((rc = buf_out(w, ctx)) != 0) return rc;
    if (w->dirty && fsync(w->fd) != 0) return fail_io(ctx, w->tmp);
    w->dirty = 0;
  }
  uint32_t count = 0;
  uint64_t next = w->part + (w->sink->dirmode && w->fd >= 0);
  size_t n = 24;
  if (cap < n) return -SL_ENOMEM;
  memcpy(buf, FS_TAG, 4);
  memcpy(buf + 4, &w->base, 8);
  memcpy(buf + 12, &next, 8);
  for (int i = 0; i < w->n_pending; i++, count++) {
    fs_pending *p = &w->pending[i];
    if (!p->ckpt) p->ckpt = id;
    if ((rc = put_file(buf, cap, &n, SL__FS_PENDING, p->size, p->tmp, p->final))) goto full;
  }
  if (w->fd >= 0) {
    if ((rc = put_file(buf, cap, &n, SL__FS_INPROGRESS, w->size, w->tmp, w->final))) goto full;
    count++;
  }
  memcpy(buf + 20, &count, 4);
  *len = n;
  return 0;
full:
  return sl_ctx_error(ctx, rc, "file sink '%s': too many pending part files for one checkpoint "
                            "(raise sink.rolling-policy.file-size)", w->sink->path);
}

static int fs_commit_ckpt(void *writer, sl_ctx *ctx, int64_t id) {
  fs_writer *w = writer;
  int k = 0, e;
  for (int i = 0; i < w->n_pending; i++) {
    fs_pending *p = &w->pending[i];
    if (!p->ckpt || p->ckpt > id) {
      w->pending[k++] = *p;
      continue;
    }
    if ((e = commit_file(p->tmp, p->final)) != 0) {
      for (int j = i; j < w->n_pending; j++) w->pending[k++] = w->pending[j];
      w->n_pending = k;
      return sl_ctx_error(ctx, -SL_EIO, "cannot write '%s': cannot rename '%s' to '%s': %s",
                      w->sink->path, p->tmp, p->final, strerror(e));
    }
    sl__free(p->tmp);
    sl__free(p->final);
  }
  if (k != w->n_pending) sl__fsync_dir(w->sink->dir);
  w->n_pending = k;
  return 0;
}

/* ---- decoding what a checkpoint holds (untrusted bytes) ------------------------------ */

/* A decimal without sign or leading zeros, below 2^63, spelled by
 * [p, p + n); the value into *v.  1 if so. */
static int parse_dec(const char *p, size_t n, uint64_t *v) {
  if (!n || n > 19 || (p[0] == '0' && n > 1)) return 0;
  *v = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return 0;
    *v = *v * 10 + (uint64_t)(p[i] - '0');
  }
  return *v <= (uint64_t)INT64_MAX;
}

/* name[0..n) is `<pre><s>-<k><suf>` exactly (the sink's own part-file
 * names); 1 with *s, *k if so. */
static int parse_part(const char *name, size_t n, const char *pre, const char *suf, int *s,
                      uint64_t *k) {
  size_t lp = strlen(pre), ls = strlen(suf);
  if (n < lp + ls + 3 || memcmp(name, pre, lp) || memcmp(name + n - ls, suf, ls)) return 0;
  const char *p = name + lp, *end = name + n - ls;
  const char *dash = memchr(p, '-', (size_t)(end - p));
  uint64_t sv;
  if (!dash || !parse_dec(p, (size_t)(dash - p), &sv) || sv > INT32_MAX ||
      !parse_dec(dash + 1, (size_t)(end - dash - 1), k))
    return 0;
  *s = (int)sv;
  return 1;
}

void sl__fs_state_free(sl__fs_state *st) {
  sl__free(st->files);
  memset(st, 0, sizeof *st);
}

/* The name at p (n bytes, untrusted) for messages: in single quotes, at
 * most 80 bytes, anything not printable as \xNN. */
static const char *show(char *buf, size_t cap, const uint8_t *p, size_t n) {
  size_t o = 0;
  buf[o++] = '\'';
  for (size_t i = 0; i < n && i < 80 && o + 8 < cap; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'' && p[i] != '\\')
      buf[o++] = (char)p[i];
    else
      o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", p[i]);
  }
  if (n > 80) buf[o++] = '.', buf[o++] = '.', buf[o++] = '.';
  buf[o++] = '\'';
  buf[o] = 0;
  return buf;
}

int sl__file_sink_decode(const uint8_t *blob, size_t len, int subtask, const char *single,
                         sl__fs_state *st, char *err, size_t errcap) {
  const uint8_t *p = blob, *end = blob + len;
  char nb[2][200];
  memset(st, 0, sizeof *st);
  if (!len) return 0;
  if (len >= 4 && !memcmp(p, FS_TAG, 4)) {
    if (len < 24) goto short_header;
    st->version = 2;
    memcpy(&st->base, p + 4, 8);
    memcpy(&st->next, p + 12, 8);
    p += 20;
    if (st->base > st->next || st->next > (uint64_t)INT64_MAX) {
      sl__fmt(err, errcap, "damaged sink state: its part numbers run from %llu to below %llu",
              (unsigned long long)st->base, (unsigned long long)st->next);
      return -SL_ESTATE;
    }
  } else {
    if (len < 4) goto short_header;
    st->version = 1;
  }
  memcpy(&st->n, p, 4), p += 4;
  /* the smallest file entry is 1 + 8 + 2 + 2 bytes */
  if (st->n > (size_t)(end - p) / 13) {
    sl__fmt(err, errcap, "damaged sink state: it claims %u files in %zu bytes", st->n,
            (size_t)(end - p));
    st->n = 0;
    return -SL_ESTATE;
  }
  if (st->n && !(st->files = sl__calloc(st->n, sizeof *st->files))) {
    st->n = 0;
    return -SL_ENOMEM;
  }
  int inprogress = 0;
  uint32_t i;
  for (i = 0; i < st->n; i++) {
    sl__fs_file *f = &st->files[i];
    const uint8_t *name[2];
    uint16_t l[2];
    size_t at = (size_t)(p - blob);
    if (end - p < 9) goto truncated;
    f->kind = *p++;
    memcpy(&f->len, p, 8), p += 8;
    for (int k = 0; k < 2; k++) {
      if (end - p < 2) goto truncated;
      memcpy(&l[k], p, 2), p += 2;
      if (end - p < l[k]) goto truncated;
      name[k] = p;
      p += l[k];
    }
    show(nb[0], sizeof nb[0], name[0], l[0]);
    show(nb[1], sizeof nb[1], name[1], l[1]);
    if (f->kind != SL__FS_PENDING && f->kind != SL__FS_INPROGRESS) {
      sl__fmt(err, errcap, "damaged sink state: file %u (byte %zu) has kind %d", i + 1, at,
              f->kind);
      goto bad;
    }
    if (f->len < 0) {
      sl__fmt(err, errcap, "damaged sink state: file %s has length %lld", nb[0],
              (long long)f->len);
      goto bad;
    }
    if (single) {
      /* `X.inprogress` + `X`: this sink's file, or (X a plain name) the
       * file of another output path, which recovery leaves alone */
      size_t lx = l[1];
      int pair = lx && l[0] == lx + 11 && !memcmp(name[0], name[1], lx) &&
                 !memcmp(name[0] + lx, ".inprogress", 11) && !memchr(name[1], '/', lx) &&
                 !memchr(name[1], 0, lx) && !(lx <= 2 && !memcmp(name[1], "..", lx));
      if (!pair) {
        sl__fmt(err, errcap, "the sink state names %s and %s, which are not a file in progress "
                             "and its final name ('%s.inprogress' and '%s')", nb[0], nb[1],
                single, single);
        goto bad;
      }
      f->foreign = lx != strlen(single) || memcmp(name[1], single, lx);
      if (subtask != 0 || f->kind != SL__FS_INPROGRESS || i > 0) {
        sl__fmt(err, errcap, "damaged sink state: %s named as %s of subtask %d, but a "
                             "single-file sink writes one file in progress on subtask 0",
                nb[0], f->kind == SL__FS_PENDING ? "a pending file" : "a file in progress",
                subtask);
        goto bad;
      }
      continue;
    }
    int s2;
    uint64_t k2;
    if (!parse_part((const char *)name[0], l[0], ".part-", ".inprogress", &f->subtask,
                    &f->part)) {
      sl__fmt(err, errcap, "the sink state names %s, which is not a part file this sink "
                           "writes (.part-<subtask>-<n>.inprogress)", nb[0]);
      goto bad;
    }
    if (!parse_part((const char *)name[1], l[1], "part-", "", &s2, &k2) ||
        s2 != f->subtask || k2 != f->part) {
      sl__fmt(err, errcap, "the sink state names %s as the final name of %s; this sink "
                           "would name it 'part-%d-%llu'", nb[1], nb[0], f->subtask,
              (unsigned long long)f->part);
      goto bad;
    }
    if (f->subtask != subtask) {
      sl__fmt(err, errcap, "the sink state of subtask %d names %s, a part file of subtask "
                           "%d", subtask, nb[0], f->subtask);
      goto bad;
    }
    if (st->version == 2 && (f->part < st->base || f->part >= st->next)) {
      sl__fmt(err, errcap, "damaged sink state: it names %s, but its writer used the part "
                           "numbers from %llu to below %llu", nb[0],
              (unsigned long long)st->base, (unsigned long long)st->next);
      goto bad;
    }
    if (f->kind == SL__FS_INPROGRESS && inprogress++) {
      sl__fmt(err, errcap, "damaged sink state: %s is a second file in progress", nb[0]);
      goto bad;
    }
  }
  if (p != end) {
    sl__fmt(err, errcap, "damaged sink state: %zu bytes after the last file", (size_t)(end - p));
    goto bad;
  }
  return 0;
short_header:
  sl__fmt(err, errcap, "damaged sink state: %zu bytes, too short for its header", len);
  return -SL_ESTATE;
truncated:
  sl__fmt(err, errcap, "damaged sink state: its %zu bytes end inside file %u of %u", len, i + 1,
          st->n);
bad:
  sl__fs_state_free(st);
  return -SL_ESTATE;
}

/* ---- recovery ------------------------------------------------------------------------ */

/* One file the checkpoint names: cut it to the checkpointed length; rename
 * it to its final name unless `keep` (single-file mode continues it).  A
 * file whose in-progress name is gone was committed by a later checkpoint
 * (or by this recovery before a crash): its final name is cut instead.
 * Only regular files are touched, never through a symbolic link. */
static int recover_file(const fs_sink *s, int kind, int64_t len, const char *tmp,
                        const char *final, int keep, char *err, size_t errcap) {
  struct stat st;
  const char *at = tmp; /* the file being cut */
  if (lstat(tmp, &st) != 0) {
    if (errno == ENOENT && lstat(final, &st) == 0) {
      at = final;
      if (S_ISREG(st.st_mode) && keep) { /* single file: continue the committed one */
        if (rename(final, tmp) != 0) goto io;
        at = tmp;
      }
    } else {
      sl__fmt(err, errcap, "file sink '%s': part file '%s', which the checkpoint %s, is "
                           "missing (%s); restore with the output the checkpoint was taken "
                           "with, or from an earlier checkpoint",
              s->path, tmp, kind == SL__FS_PENDING ? "pre-committed" : "holds in progress",
              strerror(errno));
      return -SL_ESTATE;
    }
  }
  if (!S_ISREG(st.st_mode)) {
    sl__fmt(err, errcap, "file sink '%s': '%s', which the checkpoint names as a part file, is "
                         "not a regular file (a link or directory?); recovery does not touch it: "
                         "remove it or restore into another directory", s->path, at);
    return -SL_ESTATE;
  }
  if (st.st_size < len) {
    sl__fmt(err, errcap, "file sink '%s': part file '%s' holds %lld bytes, fewer than the "
                         "%lld the checkpoint pre-committed: it was changed after the "
                         "checkpoint; restore from an earlier checkpoint or a fresh output",
            s->path, at, (long long)st.st_size, (long long)len);
    return -SL_ESTATE;
  }
  if (st.st_size > len || at == tmp) {
    int fd = open(at, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) goto io_at;
    int bad = ftruncate(fd, len) != 0 || fsync(fd) != 0;
    int e = errno;
    close(fd);
    errno = e;
    if (bad) goto io_at;
  }
  if (at == tmp && !keep && rename(tmp, final) != 0) goto io;
  return 0;
io_at:
  tmp = at;
io:
  sl__fmt(err, errcap, "file sink '%s': cannot recover '%s': %s", s->path, tmp, strerror(errno));
  return -SL_EIO;
}

/* Where old subtask b's state came from, for messages. */
static const char *blob_name(const char *const *names, int b, char *buf, size_t cap) {
  if (names && names[b]) return names[b];
  sl__fmt(buf, cap, "the state of old subtask %d", b);
  return buf;
}

static int recover(fs_sink *s, const sl_ctx *ctx, const uint8_t *const *blobs,
                   const size_t *lens, int nb, const char *const *names, char *err,
                   size_t errcap) {
  int rc = 0;
  char msg[600], nm[64];
  sl__fs_state *st = nb ? sl__calloc((size_t)nb, sizeof *st) : NULL;
  if (nb && !st) return -SL_ENOMEM;
  fs_writer *w0 = NULL;
  for (fs_writer *w = s->writers; w; w = w->next)
    if (w->subtask == 0) w0 = w;
  const char *single = s->dirmode ? NULL : base(s->path);
  /* 1. decode and check everything before touching any file */
  int v1 = 0, v2 = 0;
  uint64_t run_base = 0;
  for (int b = 0; !rc && b < nb; b++) {
    rc = sl__file_sink_decode(blobs[b], lens[b], b, single, &st[b], msg, sizeof msg);
    if (rc == -SL_ESTATE) {
      sl__fmt(err, errcap, "file sink '%s': checkpoint file '%s': %s; the checkpoint is "
                           "damaged or was tampered with: restore from another one", s->path,
              blob_name(names, b, nm, sizeof nm), msg);
    } else if (!rc && st[b].version == 2) {
      if (v2++ && st[b].base != run_base) {
        sl__fmt(err, errcap, "file sink '%s': checkpoint file '%s': part counters start at "
                             "%llu, the other writers' at %llu; the checkpoint is damaged: "
                             "restore from another one", s->path,
                blob_name(names, b, nm, sizeof nm), (unsigned long long)st[b].base,
                (unsigned long long)run_base);
        rc = -SL_ESTATE;
      }
      run_base = st[b].base;
    } else if (!rc && st[b].version == 1) {
      v1++;
    }
  }
  /* part files after the checkpoint are known only from version 2 */
  int counters = v2 && !v1;
  /* 2. cut and commit what the checkpoint pre-committed */
  for (int b = 0; !rc && b < nb; b++)
    for (uint32_t i = 0; !rc && i < st[b].n; i++) {
      const sl__fs_file *f = &st[b].files[i];
      char *tmp, *final;
      if (s->dirmode) {
        tmp = fs_printf("%s/.part-%d-%llu.inprogress", s->dir, f->subtask,
                        (unsigned long long)f->part);
        final = fs_printf("%s/part-%d-%llu", s->dir, f->subtask, (unsigned long long)f->part);
      } else {
        tmp = sl__strdup(s->tmp);
        final = sl__strdup(s->path);
      }
      int keep = !s->dirmode;
      if (f->foreign) {
        sl_ctx_log(ctx, SL_LOG_WARN, "file sink '%s': %s names another output file in progress; it is left as it "
                "is, and this output starts empty", s->path, blob_name(names, b, nm, sizeof nm));
        sl__free(tmp);
        sl__free(final);
        continue;
      }
      rc = !tmp || !final ? -SL_ENOMEM
                          : recover_file(s, f->kind, f->len, tmp, final, keep, err, errcap);
      if (!rc && keep && w0) w0->resume = 1;
      sl__free(tmp);
      sl__free(final);
    }
  if (rc || !s->dirmode) goto out;
  /* 3. abort what was written after the checkpoint: every other file in
   * progress, and (with part counters) every part file the checkpoint's
   * writers had not created yet.  Old subtask b created part-b-<n> for n
   * below next(b); subtasks without state only those below the run's
   * base.  Part numbers go on past every number seen. */
  DIR *d = opendir(s->dir);
  if (!d) {
    sl__fmt(err, errcap, "file sink '%s': cannot read directory '%s': %s", s->path, s->dir,
            strerror(errno));
    rc = -SL_EIO;
    goto out;
  }
  uint64_t next = run_base, k;
  for (int b = 0; b < nb; b++)
    if (st[b].version == 2 && st[b].next > next) next = st[b].next;
  int sub, failed = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *name = de->d_name;
    size_t l = strlen(name);
    int drop = 0;
    if (!strncmp(name, ".part-", 6) && l > 11 && !strcmp(name + l - 11, ".inprogress")) {
      drop = 1;
      if (parse_part(name, l, ".part-", ".inprogress", &sub, &k) && k + 1 > next) next = k + 1;
    } else if (parse_part(name, l, "part-", "", &sub, &k)) {
      if (k + 1 > next) next = k + 1;
      uint64_t limit = sub < nb && st[sub].version == 2 ? st[sub].next : run_base;
      drop = counters && k >= limit;
    }
    if (!drop) continue;
    char *path = fs_printf("%s/%s", s->dir, name);
    if (!path || (unlink(path) != 0 && errno != ENOENT)) {
      if (!failed++)
        sl__fmt(err, errcap, "file sink '%s': cannot remove '%s', written after the "
                             "checkpoint: %s", s->path, path ? path : name,
                path ? strerror(errno) : "out of memory");
      rc = path ? -SL_EIO : -SL_ENOMEM;
    }
    sl__free(path);
  }
  closedir(d);
  for (fs_writer *w = s->writers; w; w = w->next) w->part = w->base = next;
  sl__fsync_dir(s->dir);
out:
  for (int b = 0; b < nb; b++) sl__fs_state_free(&st[b]);
  sl__free(st);
  return rc;
}

static int fs_recover(void *ud, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                      int nb, const char *const *names) {
  char err[4400] = "";
  int rc = recover(ud, ctx, blobs, lens, nb, names, err, sizeof err);
  if (rc) sl_ctx_fail(ctx, "%s", err[0] ? err : sl_strerror(rc));
  return rc;
}

static void fs_free(void *ud) {
  fs_sink *s = ud;
  if (!s) return;
  fs_writer *w = s->writers;
  while (w) {
    fs_writer *next = w->next;
    writer_free(w);
    w = next;
  }
  pthread_mutex_destroy(&s->mu);
  sl__free(s->path);
  sl__free(s->dir);
  sl__free(s->tmp);
  sl__free(s);
}

/* CLOCK_MONOTONIC_COARSE: a few ns per record; rolling intervals are
 * seconds, so its millisecond steps do not matter. */
static int64_t coarse_ms(void *ud) {
  (void)ud;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const sl_sink_ops fs_ops = {
    .version = SL_CONNECTOR_VERSION,
    .kind = "file",
    .open = fs_open,
    .write = fs_write,
    .flush = fs_flush,
    .idle = fs_idle,
    .close = fs_close,
    .commit = fs_commit,
    .free = fs_free,
    .precommit = fs_precommit,
    .commit_ckpt = fs_commit_ckpt,
    .recover = fs_recover,
};

sl_sink *sl_file_sink(const char *path) { return sl__file_sink_new(path, NULL, NULL); }

sl_sink *sl__file_sink_new(const char *path, int64_t (*now_ms)(void *ud), void *ud) {
  if (!path || !*path) return NULL;
  fs_sink *s = sl__calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->mu, NULL);
  s->now_ms = now_ms ? now_ms : coarse_ms;
  s->now_ud = now_ms ? ud : NULL;
  size_t n = strlen(path);
  struct stat st;
  s->dirmode = path[n - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode));
  s->path = sl__strdup(path);
  if (!s->path) goto fail;
  if (s->dirmode) {
    while (n > 1 && path[n - 1] == '/') n--;
    s->dir = sl__memdup(path, n + 1);
    if (!s->dir) goto fail;
    s->dir[n] = '\0';
  } else {
    const char *slash = strrchr(path, '/');
    if (!slash)
      s->dir = sl__strdup(".");
    else if (slash == path)
      s->dir = sl__strdup("/");
    else if ((s->dir = sl__memdup(path, (size_t)(slash - path) + 1)) != NULL)
      s->dir[slash - path] = '\0';
    s->tmp = fs_printf("%s.inprogress", path);
    if (!s->dir || !s->tmp) goto fail;
  }
  return sl_sink_new(&fs_ops, s, s->dirmode ? 0 : SL_SINK_GLOBAL);
fail:
  fs_free(s);
  return NULL;
}

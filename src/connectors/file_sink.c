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
 *     line and holds at most file-size - 1 bytes plus one line.
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
 *   - recover (restore): for every file the checkpoint names, truncate it
 *     to the stored length and rename it to its final name (a file already
 *     renamed is skipped, so recovery can repeat); then delete every other
 *     `.part-*.inprogress` in the directory (written after the checkpoint)
 *     and continue the part numbers past the highest one present.  In
 *     single-file mode PATH.inprogress is truncated to the stored length
 *     and the restored run appends to it (it is opened lazily, at the
 *     first record or at the end, so opening never truncates it).
 *   - a successful job ends with a final checkpoint (checkpoint.c) and
 *     then commit renames what is left.
 *
 * So a committed file never holds data that a restored run replays.
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
  int64_t size;    /* bytes in the current file, buffered ones included */
  int64_t roll;    /* directory mode: rolling size */
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

static int fail_mkdir(sl__inst *inst, const fs_sink *s, int rc, char *bad) {
  rc = sl__fail(inst, -SL_EIO, "cannot write '%s': cannot create directory '%s': %s",
                s->path, bad ? bad : s->dir, strerror(-rc));
  sl__free(bad);
  return rc;
}

static int fail_io(sl__inst *inst, const char *file) {
  return sl__fail(inst, -SL_EIO, "cannot write '%s': %s", file, strerror(errno));
}

/* Write out the buffer. */
static int buf_out(fs_writer *w, sl__inst *inst) {
  if (!w->len) return 0;
  int rc = sl__write_all(w->fd, w->buf, w->len);
  if (rc) {
    errno = -rc;
    return fail_io(inst, w->tmp);
  }
  w->len = 0;
  w->dirty = 1;
  return 0;
}

static int open_file(fs_writer *w, sl__inst *inst) {
  w->fd = open(w->tmp, O_WRONLY | O_CREAT | (w->resume ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0666);
  if (w->fd < 0) return fail_io(inst, w->tmp);
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
static int part_open(fs_writer *w, sl__inst *inst) {
  const fs_sink *s = w->sink;
  w->tmp = fs_printf("%s/.part-%d-%llu.inprogress", s->dir, w->subtask,
                     (unsigned long long)w->part);
  w->final = fs_printf("%s/part-%d-%llu", s->dir, w->subtask,
                       (unsigned long long)w->part);
  if (!w->tmp || !w->final) {
    free_names(w);
    return sl__fail(inst, -SL_ENOMEM, "cannot write '%s': out of memory", s->path);
  }
  return open_file(w, inst);
}

/* Directory mode: finish the current part file (roll).  With checkpoints
 * it becomes pending; without, it is committed at once. */
static int part_finish(fs_writer *w, sl__inst *inst) {
  int rc = buf_out(w, inst);
  if (rc) return rc;
  int e = fsync(w->fd) != 0 ? errno : 0;
  if (close(w->fd) != 0 && !e) e = errno;
  w->fd = -1;
  if (e) {
    errno = e;
    return fail_io(inst, w->tmp);
  }
  if (w->twopc) {
    if (w->n_pending == w->cap_pending) {
      int cap = w->cap_pending ? 2 * w->cap_pending : 8;
      fs_pending *p = sl__realloc(w->pending, (size_t)cap * sizeof *p);
      if (!p) return sl__fail(inst, -SL_ENOMEM, "cannot write '%s': out of memory", w->sink->path);
      w->pending = p;
      w->cap_pending = cap;
    }
    w->pending[w->n_pending++] = (fs_pending){w->tmp, w->final, w->size, 0};
    w->tmp = w->final = NULL;
    w->part++;
    return 0;
  }
  if (rename(w->tmp, w->final) != 0)
    return sl__fail(inst, -SL_EIO, "cannot write '%s': cannot rename '%s' to '%s': %s",
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

static int fs_open(sl_sink *sink, sl__inst *inst, void **writer) {
  fs_sink *s = sink->impl;
  fs_writer *w = sl__calloc_private(sizeof *w);
  if (!w) return sl__fail(inst, -SL_ENOMEM, "cannot write '%s': out of memory", s->path);
  w->sink = s;
  w->subtask = inst->ctx.subtask;
  w->fd = -1;
  w->twopc = SL__CONF_I(inst->job->conf, CKPT_INTERVAL) > 0;
  int rc = 0;
  char *bad;
  if (s->dirmode) {
    w->roll = SL__CONF_I(inst->job->conf, ROLLING_SIZE);
    if ((rc = sl__mkdir_p(s->dir, &bad)) != 0) {
      rc = fail_mkdir(inst, s, rc, bad);
      goto fail;
    }
  } else if (w->subtask == 0) {
    if ((rc = sl__mkdir_p(s->dir, &bad)) != 0) {
      rc = fail_mkdir(inst, s, rc, bad);
      goto fail;
    }
    w->tmp = sl__strdup(s->tmp);
    w->final = sl__strdup(s->path);
    if (!w->tmp || !w->final) {
      rc = sl__fail(inst, -SL_ENOMEM, "cannot write '%s': out of memory", s->path);
      goto fail;
    }
    /* the file is opened at the first record or at the end, after a
     * restore decided whether it continues */
  }
  if (s->dirmode || w->subtask == 0) {
    w->buf = sl__malloc(FS_BUF);
    if (!w->buf) {
      rc = sl__fail(inst, -SL_ENOMEM, "cannot write '%s': out of memory", s->path);
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

static int fs_write(void *writer, sl__inst *inst, const sl_record *r) {
  fs_writer *w = writer;
  size_t n = (size_t)r->value_len + 1;
  int rc;
  if (w->sink->dirmode) {
    if (w->fd >= 0 && w->size >= w->roll && (rc = part_finish(w, inst)) != 0)
      return rc;
    if (w->fd < 0 && (rc = part_open(w, inst)) != 0) return rc;
  } else if (SL__UNLIKELY(w->fd < 0)) {
    if (!w->buf) /* not subtask 0 */
      return sl__fail(inst, -SL_EINTERNAL,
                      "file sink '%s' got a record on subtask %d, but a "
                      "single-file sink receives every record on subtask 1",
                      w->sink->path, w->subtask + 1);
    if ((rc = open_file(w, inst)) != 0) return rc; /* the first record */
  }
  if (w->len + n > FS_BUF && (rc = buf_out(w, inst)) != 0) return rc;
  if (SL__UNLIKELY(n > FS_BUF)) {
    if ((rc = sl__write_all(w->fd, r->value, r->value_len)) != 0 ||
        (rc = sl__write_all(w->fd, "\n", 1)) != 0) {
      errno = -rc;
      return fail_io(inst, w->tmp);
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

static int fs_flush(void *writer, sl__inst *inst) {
  fs_writer *w = writer;
  int rc;
  if (!w->sink->dirmode && w->buf && w->fd < 0 && (rc = open_file(w, inst)) != 0)
    return rc; /* single-file mode: an empty output is still a file */
  if (w->fd < 0) return 0;
  rc = buf_out(w, inst);
  if (rc) return rc;
  if (w->dirty && fsync(w->fd) != 0) return fail_io(inst, w->tmp);
  w->dirty = 0;
  return 0;
}

/* Closes the file; the writer itself lives on until commit (or free). */
static void fs_close(void *writer, int ok) {
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

static int fs_commit(sl_sink *sink, int ok, char *err, size_t errcap) {
  fs_sink *s = sink->impl;
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
  return rc;
}

/* ---- two-phase commit ---------------------------------------------------------------- */

/* Checkpoint bytes: u32 count, then per file: u8 kind (0 pending, 1 in
 * progress), i64 length, u16 + in-progress name, u16 + final name (names
 * relative to the directory). */
enum { FS_PENDING = 0, FS_INPROGRESS = 1 };

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

static int fs_precommit(void *writer, sl__inst *inst, int64_t id, uint8_t *buf, size_t cap,
                        size_t *len) {
  fs_writer *w = writer;
  int rc;
  if (w->fd >= 0) {
    if ((rc = buf_out(w, inst)) != 0) return rc;
    if (w->dirty && fsync(w->fd) != 0) return fail_io(inst, w->tmp);
    w->dirty = 0;
  }
  uint32_t count = 0;
  size_t n = 4;
  if (cap < 4) return -SL_ENOMEM;
  for (int i = 0; i < w->n_pending; i++, count++) {
    fs_pending *p = &w->pending[i];
    if (!p->ckpt) p->ckpt = id;
    if ((rc = put_file(buf, cap, &n, FS_PENDING, p->size, p->tmp, p->final))) goto full;
  }
  if (w->fd >= 0) {
    if ((rc = put_file(buf, cap, &n, FS_INPROGRESS, w->size, w->tmp, w->final))) goto full;
    count++;
  }
  memcpy(buf, &count, 4);
  *len = n;
  return 0;
full:
  return sl__fail(inst, rc, "file sink '%s': too many pending part files for one checkpoint "
                            "(raise sink.rolling-policy.file-size)", w->sink->path);
}

static int fs_commit_ckpt(void *writer, sl__inst *inst, int64_t id) {
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
      return sl__fail(inst, -SL_EIO, "cannot write '%s': cannot rename '%s' to '%s': %s",
                      w->sink->path, p->tmp, p->final, strerror(e));
    }
    sl__free(p->tmp);
    sl__free(p->final);
  }
  if (k != w->n_pending) sl__fsync_dir(w->sink->dir);
  w->n_pending = k;
  return 0;
}

/* One file the checkpoint names: cut it to the checkpointed length; rename
 * it to its final name unless `keep` (single-file mode continues it). */
static int recover_file(const fs_sink *s, int kind, int64_t len, const char *tmp,
                        const char *final, int keep, char *err, size_t errcap) {
  struct stat st;
  if (stat(tmp, &st) != 0) {
    if (errno == ENOENT && stat(final, &st) == 0) {
      if (!keep) return 0; /* committed before the crash */
      if (rename(final, tmp) != 0) goto io; /* single file: continue the committed one */
    } else {
      sl__fmt(err, errcap, "file sink '%s': part file '%s', which the checkpoint %s, is "
                           "missing (%s); restore with the output the checkpoint was taken "
                           "with, or from an earlier checkpoint",
              s->path, tmp, kind == FS_PENDING ? "pre-committed" : "holds in progress",
              strerror(errno));
      return -SL_ESTATE;
    }
  }
  if (st.st_size < len) {
    sl__fmt(err, errcap, "file sink '%s': part file '%s' holds %lld bytes, fewer than the "
                         "%lld the checkpoint pre-committed: it was changed after the "
                         "checkpoint; restore from an earlier checkpoint or a fresh output",
            s->path, tmp, (long long)st.st_size, (long long)len);
    return -SL_ESTATE;
  }
  int fd = open(tmp, O_WRONLY | O_CLOEXEC);
  if (fd < 0) goto io;
  int bad = ftruncate(fd, len) != 0 || fsync(fd) != 0;
  close(fd);
  if (bad || (!keep && rename(tmp, final) != 0)) goto io;
  return 0;
io:
  sl__fmt(err, errcap, "file sink '%s': cannot recover '%s': %s", s->path, tmp, strerror(errno));
  return -SL_EIO;
}

static int fs_recover(sl_sink *sink, const uint8_t *const *blobs, const size_t *lens, int nb,
                      char *err, size_t errcap) {
  fs_sink *s = sink->impl;
  int rc = 0;
  fs_writer *w0 = NULL;
  for (fs_writer *w = s->writers; w; w = w->next)
    if (w->subtask == 0) w0 = w;
  for (int b = 0; !rc && b < nb; b++) {
    const uint8_t *p = blobs[b], *end = blobs[b] + lens[b];
    uint32_t count = 0;
    if (lens[b] && lens[b] < 4) goto damaged;
    if (lens[b]) memcpy(&count, p, 4), p += 4;
    for (uint32_t i = 0; !rc && i < count; i++) {
      char *name[2];
      int64_t len;
      uint16_t l;
      if (end - p < 9) goto damaged;
      int kind = *p++;
      memcpy(&len, p, 8), p += 8;
      for (int k = 0; k < 2; k++) {
        if (end - p < 2) goto damaged;
        memcpy(&l, p, 2), p += 2;
        if (end - p < l) goto damaged;
        name[k] = fs_printf("%s/%.*s", s->dir, (int)l, (const char *)p);
        p += l;
      }
      int keep = !s->dirmode && kind == FS_INPROGRESS;
      rc = !name[0] || !name[1] ? -SL_ENOMEM
                                : recover_file(s, kind, len, name[0], name[1], keep, err, errcap);
      if (!rc && keep && w0) w0->resume = 1;
      sl__free(name[0]);
      sl__free(name[1]);
    }
  }
  if (rc || !s->dirmode) return rc;
  /* whatever is still in progress was written after the checkpoint */
  DIR *d = opendir(s->dir);
  if (!d) {
    sl__fmt(err, errcap, "file sink '%s': cannot read directory '%s': %s", s->path, s->dir,
            strerror(errno));
    return -SL_EIO;
  }
  unsigned long long next = 0, n;
  int sub;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *nm = de->d_name;
    size_t l = strlen(nm);
    if (!strncmp(nm, ".part-", 6) && l > 11 && !strcmp(nm + l - 11, ".inprogress")) {
      char *path = fs_printf("%s/%s", s->dir, nm);
      if (path && unlink(path) != 0 && errno != ENOENT) rc = -SL_EIO;
      sl__free(path);
    } else if (sscanf(nm, "part-%d-%llu", &sub, &n) == 2 && n + 1 > next) {
      next = n + 1;
    }
  }
  closedir(d);
  for (fs_writer *w = s->writers; w; w = w->next) w->part = next;
  sl__fsync_dir(s->dir);
  if (rc) sl__fmt(err, errcap, "file sink '%s': cannot remove uncommitted part files in '%s'",
                  s->path, s->dir);
  return rc;
damaged:
  sl__fmt(err, errcap, "file sink '%s': the checkpoint's sink state is damaged; restore from an "
                       "earlier checkpoint", s->path);
  return -SL_ESTATE;
}

static void fs_free(sl_sink *sink) {
  fs_sink *s = sink->impl;
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
  sink->impl = NULL;
}

static const sl__sink_vt fs_vt = {
    .kind = "file",
    .open = fs_open,
    .write = fs_write,
    .flush = fs_flush,
    .close = fs_close,
    .commit = fs_commit,
    .free = fs_free,
    .precommit = fs_precommit,
    .commit_ckpt = fs_commit_ckpt,
    .recover = fs_recover,
};

sl_sink *sl_file_sink(const char *path) {
  if (!path || !*path) return NULL;
  fs_sink *s = sl__calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->mu, NULL);
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
  sl_sink *sink = sl__sink_new(&fs_vt, s, !s->dirmode);
  if (sink) return sink;
fail: {
  sl_sink tmp = {.impl = s};
  fs_free(&tmp);
  return NULL;
}
}

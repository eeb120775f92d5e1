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
 * Errors name the file and the OS reason: from open/write/flush through
 * sl__fail ("cannot write 'PATH': reason"), from close/commit through
 * commit's err buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/connector.h"

#define FS_BUF (64 * 1024)

typedef struct fs_sink fs_sink;

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
  w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (w->fd < 0) return fail_io(inst, w->tmp);
  w->size = 0;
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

/* Directory mode: finish the current part file (roll). */
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
    if ((rc = open_file(w, inst)) != 0) goto fail;
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
    return sl__fail(inst, -SL_EINTERNAL,
                    "file sink '%s' got a record on subtask %d, but a "
                    "single-file sink receives every record on subtask 1",
                    w->sink->path, w->subtask + 1);
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
  if (w->fd < 0) return 0;
  int rc = buf_out(w, inst);
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

static void fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)fsync(fd); /* best effort: some file systems refuse directories */
  close(fd);
}

static int fs_commit(sl_sink *sink, int ok, char *err, size_t errcap) {
  fs_sink *s = sink->impl;
  int rc = 0, renamed = 0;
  pthread_mutex_lock(&s->mu);
  fs_writer *w = s->writers;
  s->writers = NULL;
  pthread_mutex_unlock(&s->mu);
  while (w) {
    fs_writer *next = w->next;
    if (ok && !rc && w->tmp) {
      if (w->close_errno) {
        sl__fmt(err, errcap, "cannot write '%s': %s", w->tmp,
                strerror(w->close_errno));
        rc = -SL_EIO;
      } else if (w->fd >= 0) {
        sl__fmt(err, errcap, "cannot write '%s': file still open at commit",
                w->tmp);
        rc = -SL_EINTERNAL;
      } else if (rename(w->tmp, w->final) != 0) {
        sl__fmt(err, errcap, "cannot write '%s': cannot rename '%s' to '%s': %s",
                s->path, w->tmp, w->final, strerror(errno));
        rc = -SL_EIO;
      } else {
        renamed = 1;
      }
    }
    writer_free(w);
    w = next;
  }
  if (renamed) fsync_dir(s->dir);
  return rc;
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

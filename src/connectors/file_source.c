/*
 * file_source.c -- text lines from a file, a directory or a glob pattern
 * (sl_file_source), bounded or continuous.
 *
 * Enumeration: a directory gives its regular files (not recursive, dot-files
 * skipped), a path that does not exist but holds glob characters is
 * expanded with glob(3), anything else is one file; the list is sorted by
 * name.
 *
 * Bounded mode (source.monitor-interval = 0).  plan() opens every file (so
 * a missing or unreadable file fails the job before it starts, naming the
 * path and the OS reason), and cuts files larger than
 * source.file.split-size into byte ranges [start, end).  Split i (in file
 * order) belongs to subtask i % P.  A line belongs to the split where it
 * starts: a split with start > 0 skips up to and including the first '\n'
 * at or after start - 1, and stops before a line that starts at or after
 * end (the Hadoop rule), so every line is read exactly once.  The last
 * split of a file reads to end of file; an unterminated last line is a
 * line.  Regular files are read with pread(); a FIFO or device (one split)
 * with poll() + read(), so it does not block the worker.
 *
 * Continuous mode (source.monitor-interval > 0).  No byte ranges: subtask s
 * owns the files whose path hashes to s (sl__key_hash(path) % P).  Every
 * interval it lists the path again, opens new files it owns, forgets files
 * that vanished, and marks files that grew; it then reads the complete
 * lines appended since its last read (a partial last line waits for its
 * '\n').  A file that shrank is read again from the start.  The source
 * ends only when the job is cancelled.
 *
 * One line reader (one buffer) per subtask serves every file of the
 * subtask; in continuous mode each file remembers its read offset and the
 * reader is re-attached (at that offset) when the subtask moves to another
 * file.  Bad records name "file=PATH offset=BYTE" (offset of the line).
 *
 * Line numbers (source.text.line-numbers).  Each record's timestamp is the
 * 1-based number of its line within its file; bad lines (overlong, invalid
 * UTF-8) count too, so a job sees the same numbers as an editor.  A line's
 * number needs every line before it, so files are not cut into byte
 * ranges then: one split per file (files still spread over subtasks).  In
 * continuous mode each file keeps its count across reads; a file read
 * again from the start (it shrank) counts from 1 again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/connector.h"
#include "connectors/line_reader.h"

typedef struct fs_split {
  size_t file;
  uint64_t start, end; /* end SL__LR_NO_LIMIT: to end of file */
} fs_split;

typedef struct fs_src {
  char *path;
  int continuous;
  int line_numbers; /* records carry their line number as timestamp */
  char **files; /* bounded: the planned files */
  size_t n_files;
  fs_split *splits;
  size_t n_splits;
} fs_src;

/* A file followed in continuous mode. */
typedef struct fs_file {
  char *path;
  int fd;
  uint64_t off;       /* start of the next unread line */
  uint64_t seen;      /* bytes read so far (the size last seen) */
  int skipping;       /* inside an overlong line at `off` */
  int dirty;          /* may have unread bytes */
  uint64_t lines;     /* lines delivered so far (line numbers) */
} fs_file;

typedef struct fs_reader {
  fs_src *src;
  sl__line_reader lr;
  int P, subtask;
  /* bounded */
  size_t *mine;
  size_t n_mine, next;
  int fd;
  uint64_t lines; /* lines delivered from the current split */
  uint64_t split_records; /* records from the current split in this run (metrics) */
  uint64_t split_end;     /* its end (bytes; the file's size for the last split;
                           * UINT64_MAX: unknown) */
  /* continuous */
  fs_file *files;
  size_t n_files;
  ptrdiff_t attached; /* index of the file the reader holds, or -1 */
  size_t cursor;
  int64_t interval_ms, next_scan_ms;
  /* after a restore: progress of the previous run */
  struct fs_resume *resume; /* bounded: [n_splits] */
  struct fs_cresume *cres;  /* continuous: per file */
  size_t n_cres;
} fs_reader;

/* bounded: how far the previous run got in a split */
typedef struct fs_resume {
  uint8_t state; /* 0 untouched, 1 partly read, 2 done */
  uint8_t skipping;
  uint64_t off, lines;
} fs_resume;

/* continuous: how far the previous run got in a file */
typedef struct fs_cresume {
  char *path;
  uint64_t off, lines;
  uint8_t skipping;
} fs_cresume;

static void free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++) sl__free(names[i]);
  sl__free(names);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_glob_chars(const char *s) { return strpbrk(s, "*?[") != NULL; }

static int push_name(char ***names, size_t *n, size_t *cap, char *name) {
  if (!name) return -SL_ENOMEM;
  if (*n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 16;
    char **nn = sl__realloc(*names, ncap * sizeof *nn);
    if (!nn) {
      sl__free(name);
      return -SL_ENOMEM;
    }
    *names = nn;
    *cap = ncap;
  }
  (*names)[(*n)++] = name;
  return 0;
}

static int errno_code(int e) {
  return e == ENOENT || e == ENOTDIR ? -SL_ENOENT : e == ENOMEM ? -SL_ENOMEM
                                                                : -SL_EIO;
}

/* The sorted file list of `path`.  allow_empty: a glob without matches is
 * an empty list (continuous mode) rather than an error. */
static int list_files(const char *path, int allow_empty, char ***out,
                      size_t *out_n, char *err, size_t errcap) {
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  struct stat st;
  *out = NULL;
  *out_n = 0;
  if (stat(path, &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      rc = push_name(&names, &n, &cap, sl__strdup(path));
      goto done;
    }
    DIR *dir = opendir(path);
    if (!dir) {
      int e = errno;
      sl__fmt(err, errcap, "cannot read directory %s: %s", path, strerror(e));
      return errno_code(e);
    }
    size_t plen = strlen(path);
    int slash = plen > 0 && path[plen - 1] == '/';
    struct dirent *de;
    while (!rc && (de = readdir(dir)) != NULL) {
      if (de->d_name[0] == '.') continue;
      size_t flen = plen + 1 + strlen(de->d_name) + 1;
      char *full = sl__malloc(flen);
      if (!full) {
        rc = -SL_ENOMEM;
        break;
      }
      sl__fmt(full, flen, "%s%s%s", path, slash ? "" : "/", de->d_name);
      if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
        sl__free(full);
        continue;
      }
      rc = push_name(&names, &n, &cap, full);
    }
    closedir(dir);
  } else if (has_glob_chars(path)) {
    glob_t g;
    int grc = glob(path, 0, NULL, &g);
    if (grc == GLOB_NOSPACE) {
      rc = -SL_ENOMEM;
    } else if (grc == GLOB_ABORTED) {
      sl__fmt(err, errcap, "cannot expand %s: read error", path);
      rc = -SL_EIO;
    } else if (grc == 0) {
      for (size_t i = 0; !rc && i < g.gl_pathc; i++) {
        if (stat(g.gl_pathv[i], &st) != 0 || !S_ISREG(st.st_mode)) continue;
        rc = push_name(&names, &n, &cap, sl__strdup(g.gl_pathv[i]));
      }
    }
    if (grc != GLOB_NOSPACE && grc != GLOB_ABORTED) globfree(&g);
    if (!rc && n == 0 && !allow_empty) {
      sl__fmt(err, errcap, "no file matches %s", path);
      rc = -SL_ENOENT;
    }
  } else {
    int e = errno;
    sl__fmt(err, errcap, "cannot read %s: %s", path, strerror(e));
    return errno_code(e);
  }
done:
  if (rc) {
    if (rc == -SL_ENOMEM && !err[0]) sl__fmt(err, errcap, "out of memory");
    free_names(names, n);
    return rc;
  }
  if (n > 1) qsort(names, n, sizeof *names, cmp_names);
  *out = names;
  *out_n = n;
  return 0;
}

static void src_reset_plan(fs_src *s) {
  free_names(s->files, s->n_files);
  s->files = NULL;
  s->n_files = 0;
  sl__free(s->splits);
  s->splits = NULL;
  s->n_splits = 0;
}

static int plan_splits(fs_src *s, const sl_ctx *ctx, char *err, size_t errcap) {
  src_reset_plan(s);
  s->continuous = sl__conn_int(ctx, "source.monitor-interval") > 0 && !sl__conn_batch(ctx);
  s->line_numbers = sl__conn_int(ctx, "source.text.line-numbers") != 0;
  uint64_t split = (uint64_t)sl__conn_int(ctx, "source.file.split-size");
  if (!split) split = 1;
  if (s->line_numbers) split = UINT64_MAX; /* one split per file */
  int rc = list_files(s->path, s->continuous, &s->files, &s->n_files, err,
                      errcap);
  if (rc) return rc;
  size_t n_splits = 0;
  uint64_t *sizes = sl__calloc(s->n_files ? s->n_files : 1, sizeof *sizes);
  if (!sizes) goto nomem;
  /* Open every file now: a missing or unreadable one fails before the job
   * starts, with its name and the reason. */
  for (size_t i = 0; i < s->n_files; i++) {
    int fd = open(s->files[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
      int e = errno;
      if (fd >= 0) close(fd);
      sl__fmt(err, errcap, "cannot open %s: %s", s->files[i], strerror(e));
      sl__free(sizes);
      return errno_code(e);
    }
    close(fd);
    sizes[i] = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    n_splits += sizes[i] > split ? (size_t)((sizes[i] + split - 1) / split) : 1;
  }
  if (!s->continuous) {
    s->splits = sl__calloc(n_splits ? n_splits : 1, sizeof *s->splits);
    if (!s->splits) goto nomem;
    for (size_t i = 0; i < s->n_files; i++) {
      uint64_t start = 0;
      do {
        fs_split *sp = &s->splits[s->n_splits++];
        sp->file = i;
        sp->start = start;
        start = sizes[i] - start > split ? start + split : sizes[i];
        sp->end = start < sizes[i] ? start : SL__LR_NO_LIMIT;
      } while (start < sizes[i]);
    }
  }
  sl__free(sizes);
  return 0;
nomem:
  sl__free(sizes);
  sl__fmt(err, errcap, "out of memory planning %s", s->path);
  return -SL_ENOMEM;
}

/* On the thread of sl_execute: list the files and cut them into splits
 * (subtask i reads splits i, i + P, ...). */
static int fs_plan(void *ud, sl_ctx *ctx) {
  char err[4400] = "";
  int rc = plan_splits(ud, ctx, err, sizeof err);
  if (rc) sl_ctx_fail(ctx, "%s", err[0] ? err : sl_strerror(rc));
  return rc;
}

static int fs_open(void *ud, sl_ctx *ctx, void **reader) {
  fs_src *s = ud;
  int P = sl_ctx_parallelism(ctx), me = sl_ctx_subtask(ctx);
  *reader = NULL;
  size_t mine = 0;
  if (!s->continuous) {
    for (size_t i = (size_t)me; i < s->n_splits; i += (size_t)P) mine++;
    if (!mine) return 0;
  }
  fs_reader *r = sl__calloc_private(sizeof *r);
  if (!r) return -SL_ENOMEM;
  r->src = s;
  r->P = P;
  r->subtask = me;
  r->fd = -1;
  r->attached = -1;
  int rc = sl__lr_init(&r->lr, (size_t)sl__conn_int(ctx, "pipeline.max-line-length"),
                       (int)sl__conn_int(ctx, "pipeline.text.validate-utf8"), 0);
  if (rc) goto fail;
  if (s->continuous) {
    r->interval_ms = sl__conn_int(ctx, "source.monitor-interval");
    r->next_scan_ms = 0; /* scan at the first poll */
  } else {
    r->mine = sl__calloc(mine, sizeof *r->mine);
    if (!r->mine) {
      rc = -SL_ENOMEM;
      goto fail;
    }
    for (size_t i = (size_t)me; i < s->n_splits; i += (size_t)P)
      r->mine[r->n_mine++] = i;
  }
  *reader = r;
  return 0;
fail:
  sl__lr_free(&r->lr);
  sl__free_private(r);
  return rc;
}

static void fs_close(void *reader, sl_ctx *ctx) {
  (void)ctx;
  fs_reader *r = reader;
  if (!r) return;
  if (r->fd >= 0) close(r->fd);
  for (size_t i = 0; i < r->n_files; i++) {
    if (r->files[i].fd >= 0) close(r->files[i].fd);
    sl__free(r->files[i].path);
  }
  sl__free(r->files);
  sl__free(r->mine);
  sl__free(r->resume);
  for (size_t i = 0; i < r->n_cres; i++) sl__free(r->cres[i].path);
  sl__free(r->cres);
  sl__lr_free(&r->lr);
  sl__free_private(r);
}

/* Hand one result of the line reader to the job: 0 or a negative code.
 * `ts` is the record's timestamp (its line number, or SL_NO_TIMESTAMP). */
static int deliver(sl_ctx *ctx, sl__line_reader *lr, int res,
                   const sl__line *line, const char *path, int64_t ts) {
  if (SL__LIKELY(res == SL__LR_LINE)) {
    sl_record rec = {.ts = ts,
                     .value = line->data,
                     .value_len = (uint32_t)line->len};
    return sl_ctx_emit(ctx, &rec);
  }
  char where[4200];
  sl__fmt(where, sizeof where, "file=%s offset=%" PRIu64, path, line->offset);
  return sl__conn_bad(ctx, where, lr->reason, line->data, line->len);
}

static int read_failed(sl_ctx *ctx, int res, const char *path,
                       uint64_t off) {
  return sl_ctx_error(ctx, res == -ENOMEM ? -SL_ENOMEM : -SL_EIO,
                  "cannot read %s at offset %" PRIu64 ": %s", path, off,
                  strerror(-res));
}

/* The current split's metrics: records read, bytes still to read. */
static void report_split(fs_reader *r, sl_ctx *ctx, int at_end) {
  uint64_t pos = sl__lr_pos(&r->lr);
  int64_t pending = at_end                     ? 0
                    : r->split_end == UINT64_MAX ? -1
                    : r->split_end > pos         ? (int64_t)(r->split_end - pos)
                                                 : 0;
  sl_ctx_split_metrics(ctx, r->mine[r->next], r->split_records, pending);
}

static int poll_bounded(fs_reader *r, sl_ctx *ctx, int budget) {
  fs_src *s = r->src;
  int n = 0;
  while (n < budget) {
    if (r->fd < 0) {
      if (r->next >= r->n_mine) return SL_POLL_END;
      const fs_split *sp = &s->splits[r->mine[r->next]];
      const char *path = s->files[sp->file];
      /* O_NONBLOCK: opening a FIFO waits for no writer (it is idle until
       * one connects, see line_reader.c's poll mode) */
      r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      if (r->fd < 0)
        return sl_ctx_error(ctx, errno_code(errno), "cannot open %s: %s", path,
                        strerror(errno));
      /* A FIFO or device has one split and is read without blocking. */
      struct stat st;
      int regular = fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode);
      int flags = !regular
                      ? SL__LR_FINAL | SL__LR_POLL
                      : SL__LR_FINAL | SL__LR_PREAD;
      const fs_resume *res = r->resume ? &r->resume[r->mine[r->next]] : NULL;
      if (res && res->state == 2) { /* read to the end before the restore */
        close(r->fd);
        r->fd = -1;
        r->next++;
        continue;
      }
      if (res && res->state == 1)
        sl__lr_reset(&r->lr, r->fd, flags, res->off, res->skipping, sp->end);
      else if (sp->start > 0)
        sl__lr_reset(&r->lr, r->fd, flags, sp->start - 1, 1, sp->end);
      else
        sl__lr_reset(&r->lr, r->fd, flags, 0, 0, sp->end);
      r->lines = res && res->state == 1 ? res->lines : 0;
      r->split_records = 0;
      r->split_end = sp->end != SL__LR_NO_LIMIT ? sp->end
                     : regular                   ? (uint64_t)st.st_size
                                                 : UINT64_MAX; /* a FIFO: unknown */
    }
    const char *path = s->files[s->splits[r->mine[r->next]].file];
    sl__line line;
    int res = sl__lr_next(&r->lr, &line);
    if (res == SL__LR_LINE || res == SL__LR_BAD) {
      int64_t ts = s->line_numbers ? (int64_t)++r->lines : SL_NO_TIMESTAMP;
      int rc = deliver(ctx, &r->lr, res, &line, path, ts);
      if (rc) return rc;
      n++;
      r->split_records++;
    } else if (res == SL__LR_EOF) {
      report_split(r, ctx, 1);
      close(r->fd);
      r->fd = -1;
      r->next++;
    } else if (res == SL__LR_AGAIN) {
      report_split(r, ctx, 0);
      return n ? SL_POLL_MORE : SL_POLL_IDLE; /* a FIFO with no data */
    } else {
      return read_failed(ctx, res, path, sl__lr_pos(&r->lr));
    }
  }
  if (r->fd >= 0) report_split(r, ctx, 0);
  return SL_POLL_MORE;
}

/* ---- continuous mode ---------------------------------------------------- */

static void detach(fs_reader *r) {
  if (r->attached < 0) return;
  fs_file *f = &r->files[r->attached];
  f->off = sl__lr_pos(&r->lr);
  f->skipping = r->lr.skipping;
  r->attached = -1;
}

static int owns(const fs_reader *r, const char *path) {
  return (int)(sl__key_hash(path, strlen(path)) % (uint64_t)r->P) ==
         r->subtask;
}

/* List the path again: open new files this subtask owns, drop vanished
 * ones, mark grown ones dirty.  Both lists are sorted, so this is a merge. */
static int rescan(fs_reader *r, sl_ctx *ctx) {
  char err[512] = "";
  char **names;
  size_t n_names;
  if (list_files(r->src->path, 1, &names, &n_names, err, sizeof err))
    return 0; /* e.g. the path vanished for a moment: keep what we have */
  detach(r);
  size_t k = 0;
  for (size_t j = 0; j < n_names; j++) {
    if (owns(r, names[j])) names[k++] = names[j];
    else sl__free(names[j]);
  }
  n_names = k;
  fs_file *nf = sl__calloc(r->n_files + n_names + 1, sizeof *nf);
  if (!nf) {
    free_names(names, n_names);
    return sl_ctx_error(ctx, -SL_ENOMEM, "out of memory rescanning %s",
                    r->src->path);
  }
  size_t i = 0, j = 0, m = 0;
  int rc = 0;
  while (i < r->n_files || j < n_names) {
    int c = i == r->n_files ? 1
            : j == n_names  ? -1
                            : strcmp(r->files[i].path, names[j]);
    if (c < 0) { /* vanished */
      close(r->files[i].fd);
      sl__free(r->files[i].path);
      i++;
    } else if (c == 0) {
      nf[m++] = r->files[i++];
      sl__free(names[j++]);
    } else { /* new */
      char *path = names[j++];
      int fd = rc ? -1 : open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (!rc && errno != ENOENT)
          rc = sl_ctx_error(ctx, errno_code(errno), "cannot open %s: %s", path,
                        strerror(errno));
        sl__free(path);
        continue;
      }
      nf[m++] = (fs_file){.path = path, .fd = fd};
      for (size_t q = 0; q < r->n_cres; q++) /* resumed: go on where it was */
        if (!strcmp(r->cres[q].path, path)) {
          nf[m - 1].off = r->cres[q].off;
          nf[m - 1].lines = r->cres[q].lines;
          nf[m - 1].skipping = r->cres[q].skipping;
        }
    }
  }
  sl__free(names);
  sl__free(r->files);
  r->files = nf;
  r->n_files = m;
  for (i = 0; i < m; i++) {
    fs_file *f = &nf[i];
    struct stat st;
    if (fstat(f->fd, &st) != 0) continue;
    uint64_t size = (uint64_t)st.st_size;
    if (size < f->seen) { /* truncated: read it again from the start */
      f->off = f->seen = 0;
      f->skipping = 0;
      f->lines = 0;
    }
    if (size > f->seen) f->dirty = 1;
  }
  if (r->cursor >= m) r->cursor = 0;
  return rc;
}

static int poll_continuous(fs_reader *r, sl_ctx *ctx, int budget) {
  int64_t now = sl__conn_ms(ctx);
  if (now >= r->next_scan_ms) {
    int rc = rescan(r, ctx);
    if (rc) return rc;
    r->next_scan_ms = now + r->interval_ms;
  }
  int n = 0;
  size_t tried = 0;
  while (n < budget && r->n_files) {
    fs_file *f = &r->files[r->cursor];
    if (!f->dirty) {
      r->cursor = (r->cursor + 1) % r->n_files;
      if (++tried > r->n_files) break;
      continue;
    }
    if (r->attached != (ptrdiff_t)r->cursor) {
      detach(r);
      sl__lr_reset(&r->lr, f->fd, SL__LR_PREAD, f->off, f->skipping,
                   SL__LR_NO_LIMIT);
      r->attached = (ptrdiff_t)r->cursor;
    }
    sl__line line;
    int res = sl__lr_next(&r->lr, &line);
    if (res == SL__LR_LINE || res == SL__LR_BAD) {
      int64_t ts =
          r->src->line_numbers ? (int64_t)++f->lines : SL_NO_TIMESTAMP;
      int rc = deliver(ctx, &r->lr, res, &line, f->path, ts);
      if (rc) return rc;
      n++;
    } else if (res == SL__LR_AGAIN || res == SL__LR_EOF) {
      f->seen = r->lr.base + r->lr.end;
      f->dirty = 0;
      detach(r);
    } else {
      return read_failed(ctx, res, f->path, sl__lr_pos(&r->lr));
    }
  }
  return n ? SL_POLL_MORE : SL_POLL_IDLE;
}

static int fs_poll(void *reader, sl_ctx *ctx, int budget) {
  fs_reader *r = reader;
  return r->src->continuous ? poll_continuous(r, ctx, budget)
                            : poll_bounded(r, ctx, budget);
}

/* A FIFO or device being read wakes its parked worker when data comes. */
static int fs_wait_fd(void *reader) {
  const fs_reader *r = reader;
  return !r->src->continuous && r->fd >= 0 && (r->lr.flags & SL__LR_POLL) ? r->fd : -1;
}

static void fs_free(void *ud) {
  fs_src *s = ud;
  if (!s) return;
  src_reset_plan(s);
  sl__free(s->path);
  sl__free(s);
}

/* ---- checkpoints --------------------------------------------------------- */

typedef struct wbuf {
  uint8_t *p;
  size_t len, cap;
} wbuf;
static int wput(wbuf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) return -SL_ENOMEM;
  memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

/* a resumed file this reader owns but has not rescanned yet */
static int pending_cres(fs_reader *r, const char *path) {
  for (size_t i = 0; i < r->n_files; i++)
    if (!strcmp(r->files[i].path, path)) return 0;
  return owns(r, path);
}

static int put_cfile(wbuf *b, const char *path, uint64_t off, uint64_t lines, uint8_t skip) {
  uint16_t pl = (uint16_t)strlen(path);
  int rc;
  if (!(rc = wput(b, &pl, 2)) && !(rc = wput(b, path, pl)) && !(rc = wput(b, &off, 8)) &&
      !(rc = wput(b, &lines, 8)))
    rc = wput(b, &skip, 1);
  return rc;
}

/* bounded: 'B', u32 n_splits, u32 count, {u32 split, u8 state, u8 skipping,
 * u64 off, u64 lines}...;  continuous: 'C', u32 count, {u16 len, path, u64
 * off, u64 lines, u8 skipping}... */
static int fs_position(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len) {
  (void)ctx;
  fs_reader *r = reader;
  wbuf b = {buf, 0, cap};
  int rc = 0;
  if (!r->src->continuous) {
    /* every split of ours with progress: done ones, the open one, and
     * those a restore handed us that were not opened again yet (a
     * checkpoint right after a restore must not forget them) */
    uint32_t n_splits = (uint32_t)r->src->n_splits, count = 0;
    fs_resume *e = sl__calloc(r->n_mine ? r->n_mine : 1, sizeof *e);
    if (!e) return -SL_ENOMEM;
    for (size_t i = 0; i < r->n_mine; i++) {
      if (i < r->next)
        e[i] = (fs_resume){2, 0, 0, 0};
      else if (i == r->next && r->fd >= 0)
        e[i] = (fs_resume){1, (uint8_t)r->lr.skipping, sl__lr_pos(&r->lr), r->lines};
      else if (r->resume)
        e[i] = r->resume[r->mine[i]];
      count += e[i].state != 0;
    }
    rc = wput(&b, "B", 1);
    if (!rc) rc = wput(&b, &n_splits, 4);
    if (!rc) rc = wput(&b, &count, 4);
    for (size_t i = 0; !rc && i < r->n_mine; i++) {
      if (!e[i].state) continue;
      uint32_t split = (uint32_t)r->mine[i];
      if (!(rc = wput(&b, &split, 4)) && !(rc = wput(&b, &e[i].state, 1)) &&
          !(rc = wput(&b, &e[i].skipping, 1)) && !(rc = wput(&b, &e[i].off, 8)))
        rc = wput(&b, &e[i].lines, 8);
    }
    sl__free(e);
  } else {
    detach(r); /* the attached file's offset into files[] */
    /* the files being read, and resumed ones not rescanned yet */
    uint32_t count = (uint32_t)r->n_files;
    for (size_t q = 0; q < r->n_cres; q++) count += pending_cres(r, r->cres[q].path);
    rc = wput(&b, "C", 1);
    if (!rc) rc = wput(&b, &count, 4);
    for (size_t i = 0; !rc && i < r->n_files; i++) {
      const fs_file *f = &r->files[i];
      rc = put_cfile(&b, f->path, f->off, f->lines, (uint8_t)f->skipping);
    }
    for (size_t q = 0; !rc && q < r->n_cres; q++) {
      const fs_cresume *c = &r->cres[q];
      if (pending_cres(r, c->path)) rc = put_cfile(&b, c->path, c->off, c->lines, c->skipping);
    }
  }
  *len = b.len;
  return rc;
}

static int fs_seek(void *reader, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                   int n) {
  (void)ctx;
  fs_reader *r = reader;
  fs_src *s = r->src;
  if (!s->continuous) {
    r->resume = sl__calloc(s->n_splits ? s->n_splits : 1, sizeof *r->resume);
    if (!r->resume) return -SL_ENOMEM;
  }
  for (int i = 0; i < n; i++) {
    const uint8_t *p = blobs[i], *end = p + lens[i];
    if (lens[i] < 5) continue;
    if ((p[0] == 'C') != (s->continuous != 0))
      return -SL_ESTATE; /* taken in the other mode (bounded / continuous) */
    if (p[0] == 'B' && !s->continuous && lens[i] >= 9) {
      uint32_t n_splits, count;
      memcpy(&n_splits, p + 1, 4);
      memcpy(&count, p + 5, 4);
      if (n_splits != s->n_splits) return -SL_ESTATE; /* the input changed */
      p += 9;
      for (uint32_t k = 0; k < count && end - p >= 22; k++, p += 22) {
        uint32_t split;
        fs_resume e = {0};
        memcpy(&split, p, 4);
        e.state = p[4];
        e.skipping = p[5];
        memcpy(&e.off, p + 6, 8);
        memcpy(&e.lines, p + 14, 8);
        if (split >= s->n_splits) continue;
        fs_resume *cur = &r->resume[split]; /* keep the furthest progress */
        if (e.state > cur->state || (e.state == cur->state && e.off > cur->off)) *cur = e;
      }
    } else if (p[0] == 'C' && s->continuous) {
      uint32_t count;
      memcpy(&count, p + 1, 4);
      p += 5;
      for (uint32_t k = 0; k < count && end - p >= 2; k++) {
        uint16_t pl;
        memcpy(&pl, p, 2);
        if ((size_t)(end - p) < 2 + (size_t)pl + 17) break; /* no pointer past the end */
        fs_cresume *nc = sl__realloc(r->cres, (r->n_cres + 1) * sizeof *nc);
        if (!nc) return -SL_ENOMEM;
        r->cres = nc;
        fs_cresume *c = &r->cres[r->n_cres];
        if (!(c->path = sl__malloc((size_t)pl + 1))) return -SL_ENOMEM;
        memcpy(c->path, p + 2, pl);
        c->path[pl] = 0;
        memcpy(&c->off, p + 2 + pl, 8);
        memcpy(&c->lines, p + 10 + pl, 8);
        c->skipping = p[18 + pl];
        r->n_cres++;
        p += 2 + pl + 17;
      }
    }
  }
  return 0;
}

static const sl_source_ops fs_ops = {.version = SL_CONNECTOR_VERSION, .kind = "file",
                                     .plan = fs_plan, .open = fs_open, .poll = fs_poll,
                                     .close = fs_close, .free = fs_free,
                                     .position = fs_position, .seek = fs_seek,
                                     .wait_fd = fs_wait_fd};

sl_source *sl_file_source(const char *path) {
  if (!path || !*path) return NULL;
  fs_src *s = sl__calloc(1, sizeof *s);
  if (!s) return NULL;
  s->path = sl__strdup(path);
  if (!s->path) {
    fs_free(s);
    return NULL;
  }
  return sl_source_new(&fs_ops, s, 0);
}

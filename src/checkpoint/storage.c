/*
 * storage.c -- checkpoint files: framed writes (temp name, fsync, rename,
 * directory fsync), checksum verification, the _metadata table of
 * contents, finding the latest complete checkpoint, retention.  See
 * storage.h for the layout.
 */
#include "checkpoint/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "state/backend.h" /* native checkpoints */

#define FRAME_VERSION 1u


int sl__frame_write(const char *path, const char magic[8], const void *payload, size_t len,
                    char *err, size_t errcap) {
  char tmp[4200];
  sl__fmt(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    sl__fmt(err, errcap, "cannot create '%s': %s", tmp, strerror(errno));
    return -SL_EIO;
  }
  uint32_t version = FRAME_VERSION;
  XXH64_state_t h;
  XXH64_reset(&h, 0);
  XXH64_update(&h, magic, 8);
  XXH64_update(&h, &version, 4);
  XXH64_update(&h, payload, len);
  uint64_t sum = XXH64_digest(&h);
  int rc = sl__write_all(fd, magic, 8);
  if (!rc) rc = sl__write_all(fd, &version, 4);
  if (!rc && len) rc = sl__write_all(fd, payload, len);
  if (!rc) rc = sl__write_all(fd, &sum, 8);
  if (!rc && fsync(fd)) rc = -errno;
  if (close(fd) && !rc) rc = -errno;
  if (!rc) sl__fault("ckpt-file");
  if (!rc && rename(tmp, path)) rc = -errno;
  if (rc) {
    sl__fmt(err, errcap, "cannot write '%s': %s", path, strerror(-rc));
    unlink(tmp);
    return -SL_EIO;
  }
  return 0;
}

/* The whole of a framed file, refused when larger than `max` (its size is
 * checked before anything is allocated). */
static int read_whole(const char *path, size_t max, uint8_t **out, size_t *len, char *err,
                      size_t errcap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    sl__fmt(err, errcap, "cannot open '%s': %s", path, strerror(errno));
    return errno == ENOENT ? -SL_ENOENT : -SL_EIO;
  }
  struct stat st;
  if (fstat(fd, &st)) {
    close(fd);
    sl__fmt(err, errcap, "cannot stat '%s': %s", path, strerror(errno));
    return -SL_EIO;
  }
  if (st.st_size < 0 || (uint64_t)st.st_size > max) {
    close(fd);
    sl__fmt(err, errcap,
            "'%s' is too large for a checkpoint frame (%lld bytes; sluice writes at most "
            "%zu): damaged or not a sluice file",
            path, (long long)st.st_size, max);
    return -SL_EIO;
  }
  size_t n = (size_t)st.st_size, got = 0;
  uint8_t *buf = sl__malloc(n ? n : 1);
  if (!buf) {
    close(fd);
    return -SL_ENOMEM;
  }
  while (got < n) {
    ssize_t k = read(fd, buf + got, n - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fd);
  if (got != n) {
    sl__free(buf);
    sl__fmt(err, errcap, "cannot read '%s' (it changed size while being read)", path);
    return -SL_EIO;
  }
  *out = buf;
  *len = n;
  return 0;
}

int sl__frame_decode(const char *name, const char magic[8], const uint8_t *buf, size_t n,
                     size_t *off, size_t *len, char *err, size_t errcap) {
  uint32_t version = 0;
  uint64_t sum = 0;
  if (n >= 20) {
    memcpy(&version, buf + 8, 4);
    memcpy(&sum, buf + n - 8, 8);
  }
  if (n < 20 || memcmp(buf, magic, 8)) {
    sl__fmt(err, errcap, "'%s' is not a sluice checkpoint file (bad magic or too short)", name);
    return -SL_EIO;
  }
  if (version != FRAME_VERSION) {
    sl__fmt(err, errcap, "'%s' has format version %u; this build reads %u", name, version,
            FRAME_VERSION);
    return -SL_EIO;
  }
  if (XXH64(buf, n - 8, 0) != sum) {
    sl__fmt(err, errcap, "'%s' is damaged (checksum mismatch)", name);
    return -SL_EIO;
  }
  *off = 12;
  *len = n - 20;
  return 0;
}

int sl__frame_read(const char *path, const char magic[8], uint8_t **payload, size_t *len,
                   char *err, size_t errcap) {
  uint8_t *buf;
  size_t n, off;
  int rc = read_whole(path, SL__FRAME_MAX, &buf, &n, err, errcap);
  if (rc) return rc;
  if ((rc = sl__frame_decode(path, magic, buf, n, &off, len, err, errcap))) {
    sl__free(buf);
    return rc;
  }
  memmove(buf, buf + off, *len);
  *payload = buf;
  return 0;
}

/* Streams the file through a 64 KiB buffer: images can be any size. */
int sl__file_verify(const char *path, uint64_t *size, char *err, size_t errcap) {
  if (size) *size = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    sl__fmt(err, errcap, "cannot open '%s': %s", path, strerror(errno));
    return errno == ENOENT ? -SL_ENOENT : -SL_EIO;
  }
  enum { CHUNK = 65536 };
  uint8_t *buf = sl__malloc(CHUNK + 8);
  if (!buf) {
    close(fd);
    return -SL_ENOMEM;
  }
  /* the last 8 bytes seen so far are held back: they may be the checksum */
  XXH64_state_t h;
  XXH64_reset(&h, 0);
  size_t held = 0;
  uint64_t total = 0;
  int rc = 0;
  for (;;) {
    ssize_t k = read(fd, buf + held, CHUNK);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      sl__fmt(err, errcap, "cannot read '%s': %s", path, strerror(errno));
      rc = -SL_EIO;
      break;
    }
    if (k == 0) break;
    total += (uint64_t)k;
    held += (size_t)k;
    if (held > 8) {
      XXH64_update(&h, buf, held - 8);
      memmove(buf, buf + held - 8, 8);
      held = 8;
    }
  }
  close(fd);
  if (!rc) {
    uint64_t sum = 0;
    if (held == 8) memcpy(&sum, buf, 8);
    if (total < 16 || XXH64_digest(&h) != sum) {
      sl__fmt(err, errcap, "'%s' is damaged (checksum mismatch or truncated)", path);
      rc = -SL_EIO;
    }
  }
  if (size) *size = total;
  sl__free(buf);
  return rc;
}

/* ---- metadata ------------------------------------------------------------------- */

void sl__ckpt_path(char *out, size_t cap, const char *dir, int64_t id) {
  sl__fmt(out, cap, "%s/chk-%lld", dir, (long long)id);
}

void sl__ckpt_file(char *out, size_t cap, const char *chk_dir, int op, int subtask,
                   const char *ext) {
  sl__fmt(out, cap, "%s/op-%d-%d.%s", chk_dir, op, subtask, ext);
}

typedef struct buf {
  uint8_t *p;
  size_t len, cap;
  int oom;
} buf;

static void put(buf *b, const void *p, size_t n) {
  if (b->oom) return;
  if (b->len + n > b->cap) {
    size_t ncap = SL__MAX(b->len + n, 2 * b->cap + 256);
    uint8_t *q = sl__realloc(b->p, ncap);
    if (!q) {
      b->oom = 1;
      return;
    }
    b->p = q;
    b->cap = ncap;
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

int sl__ckpt_meta_write(const char *chk_dir, const sl__ckpt_meta *m, char *err, size_t errcap) {
  buf b = {0};
  int32_t hdr[3] = {m->P, m->max_parallelism, m->n_ops};
  put(&b, &m->id, 8);
  put(&b, &m->taken_ms, 8);
  put(&b, hdr, sizeof hdr);
  for (int i = 0; i < m->n_ops; i++) {
    uint16_t nl = (uint16_t)strlen(m->op_name[i]);
    put(&b, &m->op_kind[i], 1);
    put(&b, &nl, 2);
    put(&b, m->op_name[i], nl);
  }
  for (int i = 0; i < m->n_ops * m->P; i++) {
    put(&b, &m->inst[i].flags, 1);
    put(&b, &m->inst[i].bytes, 8);
  }
  if (b.oom) {
    sl__free(b.p);
    sl__fmt(err, errcap, "out of memory encoding '%s/_metadata'", chk_dir);
    return -SL_ENOMEM;
  }
  char path[4096];
  sl__fmt(path, sizeof path, "%s/_metadata", chk_dir);
  int rc = sl__frame_write(path, SL__MAGIC_METADATA, b.p, b.len, err, errcap);
  sl__free(b.p);
  if (!rc && sl__fsync_dir(chk_dir)) rc = -SL_EIO;
  return rc;
}

void sl__ckpt_meta_free(sl__ckpt_meta *m) {
  if (m->op_name)
    for (int i = 0; i < m->n_ops; i++) sl__free(m->op_name[i]);
  sl__free(m->op_name);
  sl__free(m->op_kind);
  sl__free(m->inst);
  memset(m, 0, sizeof *m);
}

/* Each operator takes at least 3 bytes (kind, name length), each instance
 * 9 (flags, bytes): the counts are checked against what the payload holds
 * before anything is allocated. */
int sl__ckpt_meta_decode(const char *name, const uint8_t *p, size_t n, sl__ckpt_meta *m,
                         char *err, size_t errcap) {
  memset(m, 0, sizeof *m);
  size_t o = 0;
  const char *why = "truncated";
  char whybuf[160];
#define TAKE(dst, k)                                                   \
  do {                                                                 \
    if ((k) > n - o) goto bad;                                         \
    memcpy((dst), p + o, (k));                                         \
    o += (k);                                                          \
  } while (0)
  int32_t hdr[3];
  TAKE(&m->id, 8);
  TAKE(&m->taken_ms, 8);
  TAKE(hdr, sizeof hdr);
  if (hdr[0] <= 0 || hdr[0] > SL__CKPT_MAX_P || hdr[1] <= 0 || hdr[2] <= 0 ||
      hdr[2] > SL__CKPT_MAX_OPS) {
    sl__fmt(whybuf, sizeof whybuf,
            "parallelism %d, max parallelism %d, %d operators (out of range)", (int)hdr[0],
            (int)hdr[1], (int)hdr[2]);
    why = whybuf;
    goto bad;
  }
  if ((uint64_t)hdr[2] * (3 + 9 * (uint64_t)hdr[0]) > n - o) {
    sl__fmt(whybuf, sizeof whybuf,
            "%d operators x %d subtasks need more than the %zu bytes it holds", (int)hdr[2],
            (int)hdr[0], n - o);
    why = whybuf;
    goto bad;
  }
  m->P = hdr[0];
  m->max_parallelism = hdr[1];
  m->n_ops = hdr[2];
  m->op_kind = sl__calloc((size_t)m->n_ops, 1);
  m->op_name = sl__calloc((size_t)m->n_ops, sizeof *m->op_name);
  m->inst = sl__calloc((size_t)m->n_ops * (size_t)m->P, sizeof *m->inst);
  if (!m->op_kind || !m->op_name || !m->inst) {
    sl__ckpt_meta_free(m);
    sl__fmt(err, errcap, "out of memory reading '%s'", name);
    return -SL_ENOMEM;
  }
  for (int i = 0; i < m->n_ops; i++) {
    uint16_t nl;
    TAKE(&m->op_kind[i], 1);
    TAKE(&nl, 2);
    if (nl > n - o) goto bad;
    if (!(m->op_name[i] = sl__malloc((size_t)nl + 1))) {
      sl__ckpt_meta_free(m);
      sl__fmt(err, errcap, "out of memory reading '%s'", name);
      return -SL_ENOMEM;
    }
    memcpy(m->op_name[i], p + o, nl);
    m->op_name[i][nl] = 0;
    o += nl;
  }
  for (int i = 0; i < m->n_ops * m->P; i++) {
    TAKE(&m->inst[i].flags, 1);
    TAKE(&m->inst[i].bytes, 8);
  }
#undef TAKE
  return 0;
bad:
  sl__ckpt_meta_free(m);
  sl__fmt(err, errcap, "'%s' is malformed at byte %zu of its payload: %s", name, o, why);
  return -SL_EIO;
}

int sl__ckpt_meta_read(const char *chk_dir, sl__ckpt_meta *m, char *err, size_t errcap) {
  char path[4096];
  sl__fmt(path, sizeof path, "%s/_metadata", chk_dir);
  uint8_t *p;
  size_t n;
  memset(m, 0, sizeof *m);
  int rc = sl__frame_read(path, SL__MAGIC_METADATA, &p, &n, err, errcap);
  if (rc) {
    if (rc == -SL_ENOENT)
      sl__fmt(err, errcap, "'%s' has no _metadata (an incomplete checkpoint)", chk_dir);
    return rc;
  }
  rc = sl__ckpt_meta_decode(path, p, n, m, err, errcap);
  sl__free(p);
  return rc;
}

int sl__ckpt_check(const char *chk_dir, sl__ckpt_meta *m, sl__ckpt_report_fn report,
                   void *arg, char *err, size_t errcap) {
  int rc = sl__ckpt_meta_read(chk_dir, m, err, errcap), first = 0;
  if (rc) {
    if (report) report(arg, err);
    return rc;
  }
  static const char *ext[4] = {"keyed", "opstate", "bstate", "meta"};
  char e[1024];
  for (int op = 0; (!rc || report) && op < m->n_ops; op++)
    for (int s = 0; (!rc || report) && s < m->P; s++)
      for (int f = 0; (!rc || report) && f < 4; f++) {
        if (!(m->inst[op * m->P + s].flags & (1 << f))) continue;
        char path[4096];
        sl__ckpt_file(path, sizeof path, chk_dir, op, s, ext[f]);
        int frc = sl__file_verify(path, NULL, e, sizeof e);
        if (!frc) continue;
        if (!rc) first = frc, sl__fmt(err, errcap, "%s", e);
        rc = first;
        if (report) report(arg, e);
      }
  /* keyed state as a native checkpoint of its backend: that backend says
   * whether it is complete (a build without it cannot tell: restoring
   * from it fails and says why) */
  const sl__backend_vt *nv = NULL;
  for (int i = 0; (!rc || report) && i < m->n_ops * m->P; i++) {
    if (!(m->inst[i].flags & SL__F_NATIVE)) continue;
    if (!nv && !(nv = sl__backend_native(e, sizeof e))) break;
    char path[4096];
    sl__ckpt_file(path, sizeof path, chk_dir, i / m->P, i % m->P, nv->name);
    int nrc = nv->native_check(path, report, arg, e, sizeof e);
    if (nrc && !rc) sl__fmt(err, errcap, "%s", e), rc = nrc;
  }
  if (rc) sl__ckpt_meta_free(m);
  return rc;
}

int sl__ckpt_verify(const char *chk_dir, sl__ckpt_meta *m, char *err, size_t errcap) {
  return sl__ckpt_check(chk_dir, m, NULL, NULL, err, errcap);
}

/* ---- scanning ------------------------------------------------------------------- */

int sl__ckpt_ids(const char *dir, int64_t **out) {
  *out = NULL;
  DIR *d = opendir(dir);
  if (!d) return 0;
  int64_t *ids = NULL;
  int n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    char *end;
    if (strncmp(e->d_name, "chk-", 4)) continue;
    long long id = strtoll(e->d_name + 4, &end, 10);
    if (*end || id <= 0) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      int64_t *ni = sl__realloc(ids, (size_t)cap * sizeof *ni);
      if (!ni) break;
      ids = ni;
    }
    ids[n++] = id;
  }
  closedir(d);
  for (int i = 1; i < n; i++) /* sort descending */
    for (int j = i; j > 0 && ids[j] > ids[j - 1]; j--) {
      int64_t t = ids[j];
      ids[j] = ids[j - 1];
      ids[j - 1] = t;
    }
  *out = ids;
  return n;
}

int64_t sl__ckpt_max_id(const char *dir) {
  int64_t *ids = NULL;
  int n = sl__ckpt_ids(dir, &ids);
  int64_t max = n ? ids[0] : 0;
  sl__free(ids);
  return max;
}

int sl__ckpt_latest(const char *dir, char *path, size_t cap, sl__ckpt_meta *m,
                    const sl__logger *lg, const char *scope, char *err, size_t errcap) {
  int64_t *ids = NULL;
  int n = sl__ckpt_ids(dir, &ids), rc = -SL_ENOENT;
  for (int i = 0; i < n; i++) {
    char p[4096], e[1024];
    sl__ckpt_path(p, sizeof p, dir, ids[i]);
    if (sl__ckpt_verify(p, m, e, sizeof e) == 0) {
      sl__fmt(path, cap, "%s", p);
      rc = 0;
      break;
    }
    sl__log(lg, SL_LOG_WARN, scope, "skipping checkpoint %s: %s", p, e);
  }
  sl__free(ids);
  if (rc) sl__fmt(err, errcap, "no complete checkpoint in '%s'", dir);
  return rc;
}

void sl__ckpt_retain(const char *dir, int keep) {
  int64_t *ids = NULL;
  int n = sl__ckpt_ids(dir, &ids), complete = 0;
  for (int i = 0; i < n; i++) {
    char p[4096], meta[4200];
    sl__ckpt_path(p, sizeof p, dir, ids[i]);
    sl__fmt(meta, sizeof meta, "%s/_metadata", p);
    int has_meta = access(meta, F_OK) == 0;
    /* keep the newest `keep` complete ones and anything newer (in flight) */
    if (has_meta && ++complete <= keep) continue;
    if (!has_meta && complete == 0) continue;
    sl__rm_rf(p);
  }
  sl__free(ids);
}

/*
 * image.c -- canonical state images: one format for both backends, written
 * from a snapshot (possibly on another thread while processing goes on) and
 * read back into any backend whose key-group range overlaps the image's.
 * That is what lets state written at parallelism 2 restore at 4 or 1, and a
 * heap snapshot restore into RocksDB.  The format is in backend.h.  An
 * image may also carry entries kept outside the backend (sl__snap_extra:
 * the window fast path's panes), written into the same blocks.
 *
 * Buffered through a 64 KiB buffer; XXH64 over every byte before the
 * trailing checksum detects damage.  A damaged or truncated image fails the
 * restore with the source's name; the caller discards that backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/backend.h"

#define MAGIC "SLSTATE1"
#define FORMAT_VERSION 1u
#define END_MARK 0xFFFFFFFFu

typedef struct wbuf {
  sl__wstream *out;
  XXH64_state_t hash;
  uint8_t buf[65536];
  size_t len, hashed; /* buffered bytes; of which hashed already */
  int rc;
} wbuf;

/* The checksum takes the buffered bytes in 64 KiB pieces, not entry by
 * entry. */
static void w_hash(wbuf *w) {
  XXH64_update(&w->hash, w->buf + w->hashed, w->len - w->hashed);
  w->hashed = w->len;
}

static void w_flush(wbuf *w) {
  w_hash(w);
  if (w->len && !w->rc) w->rc = w->out->write(w->out->arg, w->buf, w->len);
  w->len = w->hashed = 0;
}

static void w_bytes(wbuf *w, const void *p, size_t n) {
  if (SL__LIKELY(n <= sizeof w->buf - w->len)) { /* the usual case: it fits */
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return;
  }
  const uint8_t *s = p;
  while (n && !w->rc) {
    if (w->len == sizeof w->buf) w_flush(w);
    size_t k = SL__MIN(n, sizeof w->buf - w->len);
    memcpy(w->buf + w->len, s, k);
    w->len += k;
    s += k;
    n -= k;
  }
}

static void w_u32(wbuf *w, uint32_t v) { w_bytes(w, &v, 4); } /* LE hosts */

static int w_entry(void *arg, const void *ck, uint32_t cklen, const void *val,
                   uint32_t vlen) {
  wbuf *w = arg;
  w_u32(w, cklen);
  w_bytes(w, ck, cklen);
  w_u32(w, vlen);
  w_bytes(w, val, vlen);
  return w->rc;
}

int sl__image_write(sl__backend *be, sl__snapshot *snap, sl__wstream *out) {
  return sl__image_write_extra(be, snap, NULL, out);
}

int sl__image_write_extra(sl__backend *be, sl__snapshot *snap, sl__snap_extra *extra,
                          sl__wstream *out) {
  wbuf *w = sl__malloc(sizeof *w);
  if (!w) return -SL_ENOMEM;
  w->out = out;
  w->len = w->hashed = 0;
  w->rc = 0;
  XXH64_reset(&w->hash, 0);
  w_bytes(w, MAGIC, 8);
  w_u32(w, FORMAT_VERSION);
  w_u32(w, (uint32_t)be->max_parallelism);
  w_u32(w, (uint32_t)be->kg_lo);
  w_u32(w, (uint32_t)be->kg_hi);
  /* the registry as the snapshot was taken (the owner may register more) */
  const sl__state_meta *states = be->snap_states;
  uint32_t n_states = be->snap_n_states;
  w_u32(w, n_states);
  for (uint32_t i = 0; i < n_states; i++) {
    uint8_t kind = (uint8_t)states[i].kind;
    uint16_t nlen = (uint16_t)strlen(states[i].name);
    w_bytes(w, &kind, 1);
    w_bytes(w, &nlen, 2);
    w_bytes(w, states[i].name, nlen);
  }
  for (uint32_t sid = 0; sid < n_states && !w->rc; sid++)
    for (int kg = be->kg_lo; kg <= be->kg_hi && !w->rc; kg++) {
      w_u32(w, (uint32_t)kg);
      w_u32(w, sid);
      int rc = be->vt->snap_iter(snap, kg, sid, w_entry, w);
      if (!rc && extra) rc = extra->iter(extra, states[sid].name, kg, w_entry, w);
      if (rc && !w->rc) w->rc = rc;
      w_u32(w, END_MARK);
    }
  w_u32(w, END_MARK);
  w_hash(w);
  uint64_t sum = XXH64_digest(&w->hash);
  w_bytes(w, &sum, 8); /* (hashed too at the flush, into a sum no one reads) */
  w_flush(w);
  int rc = w->rc;
  sl__free(w);
  return rc;
}

/* ---- reading --------------------------------------------------------------- */

typedef struct rbuf {
  sl__rstream *in;
  XXH64_state_t hash;
  uint64_t off; /* bytes read so far */
  int rc;
} rbuf;

static int r_bytes(rbuf *r, void *p, size_t n) {
  if (r->rc) return r->rc;
  r->rc = r->in->read(r->in->arg, p, n);
  if (!r->rc) {
    XXH64_update(&r->hash, p, n);
    r->off += n;
  }
  return r->rc;
}
static uint32_t r_u32(rbuf *r) {
  uint32_t v = 0;
  r_bytes(r, &v, 4);
  return v;
}
/* bytes the stream still holds (UINT64_MAX when its size is unknown) */
static uint64_t r_left(const rbuf *r) {
  if (r->in->size == UINT64_MAX) return UINT64_MAX;
  return r->in->size > r->off ? r->in->size - r->off : 0;
}

static int grow(uint8_t **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t ncap = SL__MAX(need, 2 * *cap);
  uint8_t *nb = sl__realloc(*buf, ncap);
  if (!nb) return -SL_ENOMEM;
  *buf = nb;
  *cap = ncap;
  return 0;
}

/* len bytes into (*buf)[at..]; the buffer grows by at most 1 MiB ahead of
 * the bytes that actually arrived, so a stream of unknown size that lies
 * about a length cannot make it allocate more than about twice what it
 * holds. */
static int r_into(rbuf *r, uint8_t **buf, size_t *cap, size_t at, uint32_t len) {
  for (size_t done = 0; done < len;) {
    size_t k = SL__MIN((size_t)len - done, (size_t)1 << 20);
    int rc = grow(buf, cap, at + done + k);
    if (rc) return rc;
    if (r_bytes(r, *buf + at + done, k)) return r->rc;
    done += k;
  }
  return 0;
}

int sl__image_read(sl__backend *be, sl__rstream *in, const char *source) {
  rbuf r = {in, {0}, 0, 0};
  XXH64_reset(&r.hash, 0);
  char magic[8], why[200] = "";
  uint32_t *sids = NULL, n_states = 0;
  uint8_t *buf = NULL;
  size_t cap = 0;
  int rc = 0;
  if (r_bytes(&r, magic, 8) || memcmp(magic, MAGIC, 8)) {
    sl__fmt(be->err, sizeof be->err, "state image '%s': not a sluice state image", source);
    return -SL_EIO;
  }
  uint32_t version = r_u32(&r), maxp = r_u32(&r);
  r_u32(&r); /* kg_lo: the blocks say which key group they hold */
  r_u32(&r);
  n_states = r_u32(&r);
  if (!r.rc && version != FORMAT_VERSION) {
    sl__fmt(be->err, sizeof be->err,
            "state image '%s': unsupported format version %u (this build reads %u)",
            source, version, FORMAT_VERSION);
    return -SL_EIO;
  }
  if (!r.rc && (int)maxp != be->max_parallelism) {
    sl__fmt(be->err, sizeof be->err,
            "state image '%s' was written with pipeline.max-parallelism %u; this "
            "job uses %d (key groups must match)",
            source, maxp, be->max_parallelism);
    return -SL_ESTATE;
  }
  /* each state takes at least 3 bytes (kind, name length) */
  if (!r.rc && (n_states > SL__IMAGE_MAX_STATES || (uint64_t)n_states * 3 > r_left(&r))) {
    sl__fmt(why, sizeof why, "it claims %u states (at most %u, and 3 bytes each)", n_states,
            SL__IMAGE_MAX_STATES);
    rc = -SL_EIO;
  }
  if (!rc && !r.rc && !(sids = sl__calloc(n_states ? n_states : 1, sizeof *sids)))
    rc = -SL_ENOMEM;
  for (uint32_t i = 0; i < n_states && !rc && !r.rc; i++) {
    uint8_t kind;
    uint16_t nlen;
    char name[65536];
    if (r_bytes(&r, &kind, 1) || r_bytes(&r, &nlen, 2) || r_bytes(&r, name, nlen)) break;
    name[nlen] = 0;
    if (kind < SL__STATE_VALUE || kind > SL__STATE_UNION_LIST) {
      sl__fmt(why, sizeof why, "state %u has unknown kind %u", i, kind);
      rc = -SL_EIO;
      break;
    }
    rc = be->vt->add_state(be, name, (sl__state_kind)kind, &sids[i]); /* ESTATE: be->err says */
  }
  if (!rc && !r.rc) rc = grow(&buf, &cap, 64); /* never NULL: an entry may be empty */
  while (!rc && !r.rc) {
    uint32_t kg = r_u32(&r);
    if (kg == END_MARK || r.rc) break;
    uint32_t sid = r_u32(&r);
    if (r.rc) break;
    if (sid >= n_states) {
      sl__fmt(why, sizeof why, "a block names state %u of %u", sid, n_states);
      rc = -SL_EIO;
      break;
    }
    int mine = (int)kg >= be->kg_lo && (int)kg <= be->kg_hi;
    for (;;) {
      uint32_t cklen = r_u32(&r);
      if (r.rc || cklen == END_MARK) break;
      if (cklen > SL__IMAGE_MAX_ENTRY || cklen > r_left(&r)) {
        sl__fmt(why, sizeof why, "a key of %u bytes, with %llu bytes left", cklen,
                (unsigned long long)r_left(&r));
        rc = -SL_EIO;
        break;
      }
      if ((rc = r_into(&r, &buf, &cap, 0, cklen))) break;
      if (r.rc) break;
      uint32_t vlen = r_u32(&r);
      if (r.rc) break;
      if (vlen > SL__IMAGE_MAX_ENTRY || vlen > r_left(&r)) {
        sl__fmt(why, sizeof why, "a value of %u bytes, with %llu bytes left", vlen,
                (unsigned long long)r_left(&r));
        rc = -SL_EIO;
        break;
      }
      if ((rc = r_into(&r, &buf, &cap, cklen, vlen))) break;
      if (r.rc) break;
      if (mine && (rc = be->vt->put(be, (int)kg, sids[sid], buf, cklen, sl__ck_hash(buf, cklen),
                                    buf + cklen, vlen)))
        break;
    }
  }
  if (!rc && !r.rc) {
    uint64_t want = XXH64_digest(&r.hash), got = 0;
    if (r.in->read(r.in->arg, &got, 8) || got != want) {
      sl__fmt(why, sizeof why, "checksum mismatch");
      rc = -SL_EIO;
    }
  }
  sl__free(sids);
  sl__free(buf);
  if (!rc && r.rc) rc = r.rc;
  if (r.rc && !why[0]) sl__fmt(why, sizeof why, "it ends early");
  if (rc == -SL_EIO || rc == -SL_ENOENT)
    sl__fmt(be->err, sizeof be->err,
            "state image '%s' is damaged or truncated (at byte %llu: %s); it cannot be "
            "restored, use an older checkpoint",
            source, (unsigned long long)r.off, why);
  else if (rc == -SL_ENOMEM)
    sl__fmt(be->err, sizeof be->err, "out of memory restoring state image '%s' (at byte %llu)",
            source, (unsigned long long)r.off);
  return rc;
}

/* ---- files ------------------------------------------------------------------ */

static int fd_write(void *arg, const void *buf, size_t len) {
  int rc = sl__write_all(*(int *)arg, buf, len);
  return rc ? -SL_EIO : 0;
}

typedef struct fd_reader {
  int fd;
  uint8_t buf[65536];
  size_t pos, len;
} fd_reader;

static int fd_read(void *arg, void *out, size_t n) {
  fd_reader *r = arg;
  uint8_t *o = out;
  while (n) {
    if (r->pos == r->len) {
      ssize_t k = read(r->fd, r->buf, sizeof r->buf);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) return -SL_EIO;
      r->pos = 0;
      r->len = (size_t)k;
    }
    size_t k = SL__MIN(n, r->len - r->pos);
    memcpy(o, r->buf + r->pos, k);
    r->pos += k;
    o += k;
    n -= k;
  }
  return 0;
}

int sl__image_write_file(sl__backend *be, sl__snapshot *snap, const char *path) {
  return sl__image_write_file_extra(be, snap, NULL, path);
}

int sl__image_write_file_extra(sl__backend *be, sl__snapshot *snap, sl__snap_extra *extra,
                               const char *path) {
  char tmp[4096];
  sl__fmt(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    sl__fmt(be->err, sizeof be->err, "cannot create state image '%s': %s", tmp,
            strerror(errno));
    return -SL_EIO;
  }
  sl__wstream ws = {fd_write, &fd};
  int rc = sl__image_write_extra(be, snap, extra, &ws);
  if (!rc && fsync(fd)) rc = -SL_EIO;
  if (close(fd) && !rc) rc = -SL_EIO;
  if (!rc) sl__fault("ckpt-file");
  if (!rc && rename(tmp, path)) rc = -SL_EIO;
  if (rc) {
    sl__fmt(be->err, sizeof be->err, "cannot write state image '%s': %s", path,
            strerror(errno));
    unlink(tmp);
  }
  return rc;
}

int sl__image_read_file(sl__backend *be, const char *path) {
  fd_reader *r = sl__malloc(sizeof *r);
  if (!r) return -SL_ENOMEM;
  r->pos = r->len = 0;
  r->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (r->fd < 0) {
    sl__fmt(be->err, sizeof be->err, "cannot open state image '%s': %s", path,
            strerror(errno));
    sl__free(r);
    return -SL_ENOENT;
  }
  struct stat st;
  uint64_t size = fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size
                                                                  : UINT64_MAX;
  sl__rstream rs = {fd_read, r, size};
  int rc = sl__image_read(be, &rs, path);
  close(r->fd);
  sl__free(r);
  return rc;
}

/* connector.c -- constructors shared by every source and sink, and I/O helpers. */
#include <errno.h>
#include <unistd.h>

#include "connectors/connector.h"

sl_source *sl__source_new(const sl__source_vt *vt, void *impl,
                          int nonparallel) {
  sl_source *s = sl__calloc(1, sizeof *s);
  if (!s) return NULL;
  s->vt = vt;
  s->impl = impl;
  s->nonparallel = nonparallel;
  return s;
}

sl_sink *sl__sink_new(const sl__sink_vt *vt, void *impl, int global) {
  sl_sink *s = sl__calloc(1, sizeof *s);
  if (!s) return NULL;
  s->vt = vt;
  s->impl = impl;
  s->global = global;
  return s;
}

int sl__write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

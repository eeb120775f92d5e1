/*
 * util.c -- the allocation hook, small string helpers, file helpers
 * (sl__write_all, directories), key hashing, UTF-8 validation and the
 * parsers for configuration values (durations, sizes).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"

static sl_allocator g_alloc = {malloc, realloc, free};

void sl_set_allocator(const sl_allocator *alloc) {
  if (alloc && alloc->malloc_fn && alloc->realloc_fn && alloc->free_fn)
    g_alloc = *alloc;
  else
    g_alloc = (sl_allocator){malloc, realloc, free};
}

void *sl__malloc(size_t size) { return g_alloc.malloc_fn(size ? size : 1); }
void *sl__calloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  void *p = sl__malloc(n * size);
  if (p) memset(p, 0, n * size);
  return p;
}
void *sl__realloc(void *ptr, size_t size) {
  return g_alloc.realloc_fn(ptr, size ? size : 1);
}
void sl__free(void *ptr) {
  if (ptr) g_alloc.free_fn(ptr);
}
void *sl__calloc_private(size_t size) {
  size_t padded = (size + 63) & ~(size_t)63;
  char *raw = sl__calloc(1, padded + 64 + sizeof(void *));
  if (!raw) return NULL;
  uintptr_t a = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
  ((void **)a)[-1] = raw;
  return (void *)a;
}

void sl__free_private(void *p) {
  if (p) sl__free(((void **)p)[-1]);
}

char *sl__strdup(const char *s) {
  return s ? sl__memdup(s, strlen(s) + 1) : NULL;
}
void *sl__memdup(const void *p, size_t n) {
  void *q = sl__malloc(n);
  if (q && n) memcpy(q, p, n);
  return q;
}

void sl__vfmt(char *buf, size_t cap, const char *fmt, va_list ap) {
  if (!cap) return;
  int n = vsnprintf(buf, cap, fmt, ap);
  if (n < 0) buf[0] = 0;
}
void sl__fmt(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sl__vfmt(buf, cap, fmt, ap);
  va_end(ap);
}

char *sl__preview(char *buf, size_t cap, const void *p, size_t n,
                  size_t max) {
  const unsigned char *s = p;
  size_t o = 0;
  if (cap < 8) {
    if (cap) buf[0] = 0;
    return buf;
  }
  buf[o++] = '"';
  for (size_t i = 0; i < n && i < max && o + 6 < cap; i++) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
      buf[o++] = (char)c;
    else
      o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
  }
  buf[o++] = '"';
  if (n > max && o + 4 < cap) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o] = 0;
  return buf;
}


size_t sl__utf8_check(const void *buf, size_t len) {
  const unsigned char *s = buf;
  size_t i = 0;
  while (i < len) {
    /* fast path: 8 ASCII bytes at a time */
    if (i + 8 <= len) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if (!(w & 0x8080808080808080ull)) {
        i += 8;
        continue;
      }
    }
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) n = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) n = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) n = 3, cp = c & 0x07;
    else return i;
    if (i + n >= len) return i; /* truncated sequence */
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return i;
    i += n + 1;
  }
  return len;
}

int sl__mkdir_p(const char *dir, char **bad) {
  if (bad) *bad = NULL;
  char *p = sl__strdup(dir);
  if (!p) return -ENOMEM;
  size_t n = strlen(p);
  for (size_t i = 1; i <= n; i++) {
    if (p[i] != '/' && p[i] != '\0') continue;
    char c = p[i];
    p[i] = '\0';
    if (mkdir(p, 0777) != 0) {
      int e = errno;
      struct stat st;
      if (e != EEXIST || stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (e == EEXIST) e = ENOTDIR;
        if (bad)
          *bad = p;
        else
          sl__free(p);
        return -e;
      }
    }
    p[i] = c;
    while (p[i] == '/' && p[i + 1] == '/') i++;
  }
  sl__free(p);
  return 0;
}

#ifdef SLUICE_FAULT_INJECTION
static char g_fault_point[64];
static long g_fault_at;
static _Atomic long g_fault_hits;
static pthread_once_t g_fault_once = PTHREAD_ONCE_INIT;

static void fault_init(void) {
  const char *env = getenv("SLUICE_FAULT");
  const char *colon = env ? strchr(env, ':') : NULL;
  if (!colon || (size_t)(colon - env) >= sizeof g_fault_point) return;
  memcpy(g_fault_point, env, (size_t)(colon - env));
  g_fault_at = strtol(colon + 1, NULL, 10);
}

void sl__fault(const char *name) {
  pthread_once(&g_fault_once, fault_init);
  if (g_fault_at > 0 && !strcmp(g_fault_point, name) &&
      atomic_fetch_add(&g_fault_hits, 1) + 1 == g_fault_at) {
    sl__log(NULL, SL_LOG_ERROR, NULL, "%ld killed by fault injection (%s:%ld)", (long)getpid(),
            name, g_fault_at);
    raise(SIGKILL);
  }
}

static char g_delay_point[64];
static long g_delay_ms;
static pthread_once_t g_delay_once = PTHREAD_ONCE_INIT;

static void delay_init(void) {
  const char *env = getenv("SLUICE_FAULT_DELAY");
  const char *colon = env ? strchr(env, ':') : NULL;
  if (!colon || (size_t)(colon - env) >= sizeof g_delay_point) return;
  memcpy(g_delay_point, env, (size_t)(colon - env));
  g_delay_ms = strtol(colon + 1, NULL, 10);
}

void sl__fault_delay(const char *name) {
  pthread_once(&g_delay_once, delay_init);
  if (g_delay_ms > 0 && !strcmp(g_delay_point, name)) {
    struct timespec ts = {g_delay_ms / 1000, (g_delay_ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
  }
}
#endif

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

int sl__fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int rc = fsync(fd) ? -errno : 0;
  close(fd);
  return rc;
}

int sl__grow(void *pp, uint32_t *cap, uint32_t n, size_t size, uint32_t first) {
  if (n < *cap) return 0;
  uint64_t c = *cap ? *cap : (first ? first : 1);
  while (c <= n) c *= 2;
  if (c > UINT32_MAX) return -SL_ENOMEM;
  void *p; /* the array pointer moves by memcpy: pp may point to any T * */
  memcpy(&p, pp, sizeof p);
  if (!(p = sl__realloc(p, (size_t)c * size))) return -SL_ENOMEM;
  memcpy(pp, &p, sizeof p);
  *cap = (uint32_t)c;
  return 0;
}

void sl__rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (d) {
      struct dirent *de;
      while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        char *child = sl__malloc(len);
        if (!child) continue;
        snprintf(child, len, "%s/%s", path, de->d_name);
        sl__rm_rf(child);
        sl__free(child);
      }
      closedir(d);
    }
    rmdir(path);
  } else {
    unlink(path);
  }
}

int sl__parse_int(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end) return -SL_ECONFIG;
  *out = v;
  return 0;
}

int sl__parse_bool(const char *s, int64_t *out) {
  if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes")) *out = 1;
  else if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no")) *out = 0;
  else return -SL_ECONFIG;
  return 0;
}

/* number followed by an optional unit from `units` (name, multiplier). */
struct sl__unit { const char *name; int64_t mult; };
static int parse_with_units(const char *s, const struct sl__unit *units,
                            int64_t *out) {
  char *end;
  errno = 0;
  while (isspace((unsigned char)*s)) s++;
  if (*s == '-') return -SL_ECONFIG;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s) return -SL_ECONFIG;
  while (isspace((unsigned char)*end)) end++;
  int64_t mult = 1;
  if (*end) {
    int found = 0;
    for (const struct sl__unit *u = units; u->name; u++) {
      if (!strcasecmp(end, u->name)) {
        mult = u->mult;
        found = 1;
        break;
      }
    }
    if (!found) return -SL_ECONFIG;
  }
  if (v > (unsigned long long)(INT64_MAX / mult)) return -SL_ECONFIG;
  *out = (int64_t)v * mult;
  return 0;
}

/* Flink's TimeUtils spellings (a bare number is milliseconds). */
int sl__parse_duration_ms(const char *s, int64_t *out) {
  static const struct sl__unit units[] = {
      {"ms", 1},          {"milli", 1},        {"millis", 1},      {"millisecond", 1},
      {"milliseconds", 1}, {"s", 1000},        {"sec", 1000},      {"secs", 1000},
      {"second", 1000},   {"seconds", 1000},   {"min", 60000},     {"m", 60000},
      {"minute", 60000},  {"minutes", 60000},  {"h", 3600000},     {"hour", 3600000},
      {"hours", 3600000}, {"d", 86400000},     {"day", 86400000},  {"days", 86400000},
      {NULL, 0}};
  return parse_with_units(s, units, out);
}

/* Flink's MemorySize spellings (a bare number is bytes). */
int sl__parse_size(const char *s, int64_t *out) {
  static const struct sl__unit units[] = {
      {"b", 1},                 {"bytes", 1},           {"k", 1 << 10},
      {"kb", 1 << 10},          {"kib", 1 << 10},       {"kibibytes", 1 << 10},
      {"m", 1 << 20},           {"mb", 1 << 20},        {"mib", 1 << 20},
      {"mebibytes", 1 << 20},   {"g", 1 << 30},         {"gb", 1 << 30},
      {"gib", 1 << 30},         {"gibibytes", 1 << 30}, {"t", INT64_C(1) << 40},
      {"tb", INT64_C(1) << 40}, {"tib", INT64_C(1) << 40}, {"tebibytes", INT64_C(1) << 40},
      {NULL, 0}};
  return parse_with_units(s, units, out);
}

uint64_t sl__key_hash_long(const void *key, size_t len) { return XXH3_64bits(key, len); }

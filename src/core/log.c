/*
 * log.c -- levelled messages to the environment's logger (see log.h), and
 * the default logger that prints them on stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"

static const char *level_name(sl_log_level level) {
  switch (level) {
    case SL_LOG_ERROR: return "ERROR";
    case SL_LOG_WARN: return "WARN";
    case SL_LOG_INFO: return "INFO";
    case SL_LOG_DEBUG: return "DEBUG";
  }
  return "?";
}

int sl__log_level_parse(const char *s) {
  static const struct { const char *name; int level; } names[] = {
      {"error", SL_LOG_ERROR}, {"warn", SL_LOG_WARN}, {"info", SL_LOG_INFO}, {"debug", SL_LOG_DEBUG}};
  for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(s, names[i].name)) return names[i].level;
  return -1;
}

void sl__log_stderr(void *ud, sl_log_level level, const char *scope, const char *msg) {
  (void)ud;
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  localtime_r(&ts.tv_sec, &tm);
  char line[2400];
  size_t n = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
  int m = snprintf(line + n, sizeof line - n, ".%03ld %-5s sluice%s%s: %s\n",
                   ts.tv_nsec / 1000000, level_name(level), *scope ? " " : "", scope, msg);
  if (m < 0) return;
  n += (size_t)m;
  if (n >= sizeof line) { /* cut: keep the newline */
    n = sizeof line - 1;
    line[n - 1] = '\n';
  }
  for (size_t off = 0; off < n;) {
    ssize_t w = write(2, line + off, n - off);
    if (w <= 0) return; /* nowhere to report it */
    off += (size_t)w;
  }
}

int sl__log_enabled(const sl__logger *lg, sl_log_level level) {
  int max = lg && lg->level ? lg->level : SL_LOG_INFO;
  return (int)level <= max;
}

void sl__log(const sl__logger *lg, sl_log_level level, const char *scope, const char *fmt, ...) {
  if (!sl__log_enabled(lg, level)) return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  sl__vfmt(msg, sizeof msg, fmt, ap);
  va_end(ap);
  sl_log_fn fn = lg && lg->fn ? lg->fn : sl__log_stderr;
  fn(lg ? lg->ud : NULL, level, scope ? scope : "", msg);
}

/*
 * log.h -- the library's one way to say something outside an error
 * return: sl__log() hands a levelled, formatted message to a logger
 * (sl_env_set_logger's callback, or the default that writes a timestamped
 * line to stderr).  No other code of libsluice writes to stderr.
 *
 * The logger of an environment lives in its configuration (sl__conf.log),
 * so everything that can see the job's configuration can log: the job,
 * its workers and checkpoint threads, the supervisor.  Code that has no
 * configuration (checkpoint storage helpers also called by tools) takes a
 * `const sl__logger *` argument; NULL means the default logger at the
 * default level (info), which is also what process-wide events without an
 * environment use (fault injection).
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include "sluice.h"

typedef struct sl__logger {
  sl_log_fn fn; /* NULL: the default (sl__log_stderr) */
  void *ud;
  int level;    /* messages with a larger level number are dropped; 0 means
                 * SL_LOG_INFO (so a zeroed logger is the default) */
} sl__logger;

/* Format the message and hand it to lg's callback when `level` passes
 * lg's filter.  scope names the source ("job 'name'", "supervisor"); NULL
 * is passed on as "".  May be called from any thread; the message is cut
 * at 2 KiB. */
void sl__log(const sl__logger *lg, sl_log_level level, const char *scope, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Whether a message at `level` would be passed on (to skip costly
 * formatting). */
int sl__log_enabled(const sl__logger *lg, sl_log_level level);
/* The default logger: one line "YYYY-MM-DD HH:MM:SS.mmm LEVEL sluice
 * SCOPE: MSG" on stderr, written with one write(2) so lines of concurrent
 * threads do not interleave. */
void sl__log_stderr(void *ud, sl_log_level level, const char *scope, const char *msg);
/* "error" "warn" "info" "debug" -> the level; -1 for anything else. */
int sl__log_level_parse(const char *s);

#endif

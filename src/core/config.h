/*
 * config.h -- the one table of configuration keys.
 *
 * Every key of sluice is declared once in SL__CONFIG_KEYS with its type,
 * default, range and documentation.  From this table come: the typed
 * storage in sl__conf (read on the hot path as plain integers), the
 * validation in sl_env_set, `sluice conf --list` and docs/CONFIGURATION.md
 * (`sluice conf --markdown`; a test checks the committed file is current).
 * Keys mirror Flink's names where the meaning is the same.
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stdint.h>

#include "core/log.h"

typedef enum { SL__T_INT, SL__T_BOOL, SL__T_DURATION, SL__T_SIZE, SL__T_STRING } sl__conf_type;

/* XX(ID, key, type, default, min, max, doc) -- min/max apply to numbers. */
#define SL__CONFIG_KEYS(XX)                                                   \
  XX(PARALLELISM, "parallelism.default", SL__T_INT, "0", 0, 1024,             \
     "Number of worker threads (parallel instances of every operator); 0 "    \
     "means the number of online CPUs.")                                      \
  XX(MAX_PARALLELISM, "pipeline.max-parallelism", SL__T_INT, "128", 1, 32768, \
     "Number of key groups: the unit of keyed-state partitioning and the "    \
     "upper bound for rescaling.")                                            \
  XX(BUFFER_TIMEOUT, "execution.buffer-timeout", SL__T_DURATION, "100ms", 0,  \
     INT64_MAX,                                                               \
     "Longest time a partly filled batch waits before it is sent to the "    \
     "next worker; 0 sends after every record.  An idle worker sends its "   \
     "partial batches at once.")                                              \
  XX(BATCH_SIZE, "execution.batch-size", SL__T_SIZE, "32kb", 256,             \
     (64 << 20), "Size of a record batch exchanged between workers.")         \
  XX(CHANNEL_CAPACITY, "execution.channel-capacity", SL__T_INT, "4", 1, 1024, \
     "Batches in flight per channel (producer worker -> consumer worker, "    \
     "per exchange).  Bounds memory; a full channel backpressures.")          \
  XX(HANDLE_SIGNALS, "execution.handle-signals", SL__T_BOOL, "true", 0, 1,    \
     "While sl_execute runs, SIGINT/SIGTERM cancel the job cleanly (sources " \
     "stop, sinks flush); a second signal exits at once.")                    \
  XX(LOG_LEVEL, "log.level", SL__T_STRING, "info", 0, 0,                     \
     "Least severe message passed to the logger (sl_env_set_logger; by "      \
     "default one timestamped line on stderr): error, warn (damaged "         \
     "checkpoints skipped, restarts), info (checkpoints restored, "           \
     "savepoints) or debug (every checkpoint completed).")                    \
  XX(PIPELINE_NAME, "pipeline.name", SL__T_STRING, "", 0, 0,                 \
     "The job's name in its messages, logs and summary when sl_execute is "   \
     "given none (the CLI's jobs: instead of the job's own name).")          \
  XX(RUNTIME_MODE, "execution.runtime-mode", SL__T_STRING, "streaming", 0, 0, \
     "streaming, batch or automatic.  batch: every source must be bounded "   \
     "(a directory is read once, not monitored; a socket is refused), and "   \
     "the end of input fires every window.  streaming and automatic behave "  \
     "alike: a bounded source's end fires every window there too.")           \
  XX(MAX_LINE_LENGTH, "pipeline.max-line-length", SL__T_SIZE, "1mb", 16,      \
     (1 << 30), "Longest text line a source accepts; longer lines are bad "   \
     "records.")                                                              \
  XX(VALIDATE_UTF8, "pipeline.text.validate-utf8", SL__T_BOOL, "true", 0, 1,  \
     "Text sources reject lines that are not valid UTF-8 as bad records.")    \
  XX(DEAD_LETTER_PATH, "pipeline.dead-letter.path", SL__T_STRING, "", 0, 0,   \
     "File that receives bad records (with source, file, byte offset and "    \
     "reason) instead of failing the job.  Empty: bad records fail the job.") \
  XX(LINE_NUMBERS, "source.text.line-numbers", SL__T_BOOL, "false", 0, 1,    \
     "Text sources (file, socket, stdin) put each line's 1-based line number "\
     "(per file or connection) into the record's timestamp, for jobs that "   \
     "report bad lines by number; files are then read whole, not split.")     \
  XX(WATERMARK_INTERVAL, "pipeline.auto-watermark-interval", SL__T_DURATION,  \
     "200ms", 0, INT64_MAX,                                                   \
     "How often timestamp assigners emit a watermark (processing time); 0 "   \
     "emits one after every record.")                                         \
  XX(DATAGEN_RATE, "source.datagen.rows-per-second", SL__T_INT, "0", 0,       \
     INT64_MAX, "Datagen and sequence sources: records per second over all "  \
     "subtasks (0 = as fast as possible); between records the source is "     \
     "idle, it does not block its worker.")                                   \
  XX(FILE_SPLIT_SIZE, "source.file.split-size", SL__T_SIZE, "32mb", 1,        \
     INT64_MAX, "Files larger than this are read as several splits in "       \
     "parallel.")                                                             \
  XX(MONITOR_INTERVAL, "source.monitor-interval", SL__T_DURATION, "0", 0,     \
     INT64_MAX, "File source: 0 reads the files once (bounded); > 0 keeps "   \
     "reading appended lines and new files, checking at this interval.")      \
  XX(SOCKET_MAX_RETRY, "source.socket.max-retry", SL__T_INT, "0", -1,         \
     INT32_MAX, "Socket source: reconnect attempts after the connection "    \
     "fails or closes; 0 ends the stream when the peer closes, -1 retries "   \
     "forever.")                                                              \
  XX(SOCKET_BACKOFF, "source.socket.retry-backoff", SL__T_DURATION, "500ms",  \
     1, INT64_MAX, "Socket source: first reconnect delay; doubles up to "     \
     "30 s.")                                                                 \
  XX(ROLLING_SIZE, "sink.rolling-policy.file-size", SL__T_SIZE, "128mb", 1,   \
     INT64_MAX, "File sink (directory mode): start a new part file when the " \
     "current one reaches this size.")                                        \
  XX(ROLLING_INTERVAL, "sink.rolling-policy.rollover-interval",              \
     SL__T_DURATION, "60s", 1, INT64_MAX,                                     \
     "File sink (directory mode): roll a part file once it has been open "    \
     "this long (checked at each record, when the worker is idle and at "     \
     "each checkpoint).  A rolled file is visible at once without "           \
     "checkpoints, else after the next complete checkpoint.")                 \
  XX(INACTIVITY_INTERVAL, "sink.rolling-policy.inactivity-interval",          \
     SL__T_DURATION, "60s", 1, INT64_MAX,                                     \
     "File sink (directory mode): roll a part file that has not been "        \
     "written for this long (checked as rollover-interval is).")              \
  XX(CKPT_INTERVAL, "execution.checkpointing.interval", SL__T_DURATION, "0",  \
     0, INT64_MAX,                                                            \
     "Take a checkpoint this often (aligned barriers); 0 disables "           \
     "checkpointing.")                                                        \
  XX(CKPT_TIMEOUT, "execution.checkpointing.timeout", SL__T_DURATION, "10min",\
     1, INT64_MAX, "A checkpoint not complete after this long fails the "    \
     "job (as Flink with no tolerable checkpoint failures); a supervised job " \
     "restarts from the previous one.")                                       \
  XX(CKPT_MIN_PAUSE, "execution.checkpointing.min-pause", SL__T_DURATION, "0",\
     0, INT64_MAX, "Least time between the end of one checkpoint and the "    \
     "start of the next.")                                                    \
  XX(CKPT_MAX_CONCURRENT, "execution.checkpointing.max-concurrent-checkpoints",\
     SL__T_INT, "1", 1, 1, "Checkpoints in flight at once (1 for now).")      \
  XX(CKPT_INCREMENTAL, "execution.checkpointing.incremental", SL__T_BOOL,     \
     "true", 0, 1, "RocksDB backend: keyed state goes into checkpoints as "   \
     "native RocksDB checkpoints (memtable flushed, SST files hard-linked, "  \
     "so unchanged files are shared between checkpoints, not copied); "      \
     "false writes full state images.  (Flink's default is false.)")          \
  XX(CKPT_DIR, "state.checkpoints.dir", SL__T_STRING, "", 0, 0,               \
     "Directory of checkpoints: chk-<n>/ with one file per operator "         \
     "instance and a _metadata file written last.  Also accepted as "         \
     "execution.checkpointing.dir (Flink 2's name).")                         \
  XX(CKPT_RETAINED, "state.checkpoints.num-retained", SL__T_INT, "1", 1,      \
     1000, "Complete checkpoints kept; older ones are deleted.")              \
  XX(CKPT_RESTORE, "execution.checkpointing.restore", SL__T_STRING, "", 0, 0, \
     "Start from a checkpoint: a chk-<n> path, or \"latest\" for the newest " \
     "complete one in state.checkpoints.dir (a damaged one is reported and "  \
     "the one before is used).  Also accepted as execution.savepoint.path "   \
     "(Flink's name).")                                                       \
  XX(SUPERVISED, "execution.supervised", SL__T_BOOL, "false", 0, 1,          \
     "Run the job in a child process watched by the calling one, which "      \
     "restarts it after a crash (signal, abort, non-zero exit) under "        \
     "restart-strategy.type, from the latest checkpoint.  On by itself when " \
     "restart-strategy.type is fixed-delay or failure-rate.")                 \
  XX(RESTART_TYPE, "restart-strategy.type", SL__T_STRING, "", 0, 0,           \
     "none, fixed-delay or failure-rate.  Empty (Flink's default): "          \
     "fixed-delay with unlimited attempts when checkpointing is on, else "    \
     "none.  Only a supervised job restarts.")                                \
  XX(RESTART_FD_ATTEMPTS, "restart-strategy.fixed-delay.attempts", SL__T_INT, \
     "1", 0, INT32_MAX, "fixed-delay: restarts before the job is failed.")    \
  XX(RESTART_FD_DELAY, "restart-strategy.fixed-delay.delay", SL__T_DURATION,  \
     "1s", 0, INT64_MAX, "fixed-delay: wait between a crash and the restart.")\
  XX(RESTART_FR_MAX, "restart-strategy.failure-rate.max-failures-per-interval",\
     SL__T_INT, "1", 1, INT32_MAX, "failure-rate: the job fails at the "      \
     "crash that makes more than this many within the interval.")             \
  XX(RESTART_FR_INTERVAL, "restart-strategy.failure-rate.failure-rate-interval",\
     SL__T_DURATION, "1min", 1, INT64_MAX,                                    \
     "failure-rate: the sliding interval crashes are counted in.")            \
  XX(RESTART_FR_DELAY, "restart-strategy.failure-rate.delay", SL__T_DURATION, \
     "1s", 0, INT64_MAX, "failure-rate: wait between a crash and the "        \
     "restart.")                                                              \
  XX(SAVEPOINT_DIR, "state.savepoints.dir", SL__T_STRING, "", 0, 0,          \
     "Where `sluice savepoint` puts savepoints (savepoint-<n>-<ms>/) unless "  \
     "it names a target; empty: <state.checkpoints.dir>/savepoints.")         \
  XX(STATE_BACKEND, "state.backend.type", SL__T_STRING, "hashmap", 0, 0,      \
     "Keyed-state backend: hashmap (in memory, copy-on-write snapshots) or "  \
     "rocksdb (on disk, for state larger than memory).")                      \
  XX(WINDOW_FAST_PATH, "state.backend.hashmap.window-fast-path", SL__T_BOOL,  \
     "true", 0, 1,                                                            \
     "On the hashmap backend, event-time tumbling windows and sliding "       \
     "windows whose size is a multiple of the slide, with a fixed-size "     \
     "aggregate (sl_window_aggregate), keep per key an array of pane "        \
     "accumulators updated in place instead of entries in keyed state and "  \
     "timers; checkpoints are the same either way.  false: the general path " \
     "(for comparison).")                                                     \
  XX(ROCKSDB_DIR, "state.backend.rocksdb.dir", SL__T_STRING, "", 0, 0,       \
     "Directory for the RocksDB backend's working files.  Empty: "            \
     "$TMPDIR/sluice-<uid> (TMPDIR defaults to /tmp), created with mode "     \
     "0700 and refused when it is a symbolic link, another user's or "        \
     "group/world-writable.  A process works in job-<pid>-<n>/ in it (mode "  \
     "0700, locked while the process lives; a subdirectory per operator "     \
     "instance), removed when the job ends; a dead process's job "            \
     "directories are removed at the next start.")                            \
  XX(ROCKSDB_BLOCK_CACHE, "state.backend.rocksdb.block.cache-size",           \
     SL__T_SIZE, "64mb", 0, INT64_MAX,                                        \
     "RocksDB block cache per operator instance (uncompressed blocks).")      \
  XX(ROCKSDB_BLOCK_SIZE, "state.backend.rocksdb.block.blocksize", SL__T_SIZE, \
     "4kb", 512, (64 << 20), "RocksDB data block size.")                      \
  XX(ROCKSDB_WRITE_BUFFER, "state.backend.rocksdb.writebuffer.size",          \
     SL__T_SIZE, "64mb", 65536, INT64_MAX,                                    \
     "RocksDB memtable size per column family (one per state).")             \
  XX(ROCKSDB_WRITE_BUFFERS, "state.backend.rocksdb.writebuffer.count",        \
     SL__T_INT, "2", 1, 64, "RocksDB memtables per column family.")           \
  XX(ROCKSDB_WRITE_CACHE, "state.backend.rocksdb.write-cache.size",          \
     SL__T_SIZE, "64mb", 0, INT64_MAX,                                        \
     "Write-back cache of recently used keys and their values on the heap, "  \
     "in front of RocksDB, per operator instance (at least 1mb; 0 turns it "  \
     "off).  Reads and writes of cached keys do not reach RocksDB; when it "  \
     "is full its changes go to RocksDB in one sorted batch and it starts "   \
     "over; scans, snapshots and checkpoints see every change.")             \
  XX(ROCKSDB_THREADS, "state.backend.rocksdb.thread.num", SL__T_INT, "1", 1,  \
     64, "RocksDB background flush/compaction threads per instance.")         \
  XX(ROCKSDB_MIN_FREE, "state.backend.rocksdb.min-free-disk", SL__T_SIZE,      \
     "64mb", 0, INT64_MAX,                                                    \
     "Fail the job with a clear error when the RocksDB directory's file "     \
     "system has less free space than this (checked at open and every 1024 "  \
     "writes); RocksDB itself aborts on a full disk.  0 disables the check.") \
  XX(REST_ENABLED, "rest.enabled", SL__T_BOOL, "true", 0, 1,                 \
     "false: no REST server, whatever rest.port says.")                       \
  XX(REST_PORT, "rest.port", SL__T_STRING, "", 0, 0,                         \
     "Serve the REST API, Prometheus /metrics and the web dashboard while "   \
     "the job runs: a port, 0 (any free port) or a range such as 8081-8181 "  \
     "(the first free one); the URL is logged.  Empty: no server (sluice "    \
     "run sets 8081-8181 unless rest.enabled=false).")                        \
  XX(REST_ADDRESS, "rest.bind-address", SL__T_STRING, "127.0.0.1", 0, 0,     \
     "Address the REST server listens on.  Any other than a loopback "        \
     "address requires rest.auth.token.")                                     \
  XX(REST_TOKEN, "rest.auth.token", SL__T_STRING, "", 0, 0,                  \
     "Bearer token every REST request must carry (Authorization: Bearer "     \
     "<token>) when set; required off loopback.")                             \
  XX(WEB_CKPT_HISTORY, "web.checkpoints.history", SL__T_INT, "10", 1, 128,   \
     "Checkpoints listed in the REST API's checkpoint history.")              \
  XX(WEB_REFRESH, "web.refresh-interval", SL__T_DURATION, "3s", 100,         \
     INT64_MAX, "How often the web dashboard refreshes.")                    \
  XX(TABLE_STATE_TTL, "table.exec.state.ttl", SL__T_DURATION, "0", 0,         \
     INT64_MAX,                                                               \
     "SQL: how long a regular join keeps each row of its two sides in "       \
     "state (processing time since the row arrived, as Flink's state TTL); " \
     "a row expired is never joined again.  0: for good.")                   \
  XX(TABLE_MINI_BATCH, "table.exec.mini-batch.enabled", SL__T_BOOL, "false", \
     0, 1,                                                                    \
     "SQL: a GROUP BY without a window folds the rows of each key in a run "  \
     "the engine hands it (up to 64, never across a watermark or barrier) "  \
     "and emits once per key and run: fewer -U/+U pairs, no added latency.")

typedef enum {
#define SL__CONF_ENUM(id, key, type, def, min, max, doc) SL__CONF_##id,
  SL__CONFIG_KEYS(SL__CONF_ENUM)
#undef SL__CONF_ENUM
  SL__CONF_COUNT
} sl__conf_id;

/* Typed values: numbers in .i (durations in ms, sizes in bytes), strings
 * in .s; .text is the value as the user set it (for sl_env_get). */
typedef struct sl__conf_val {
  int64_t i;
  char *s;
  char *text;
} sl__conf_val;

/* log: the environment's logger (sl_env_set_logger); its level follows
 * the key log.level. */
typedef struct sl__conf {
  sl__conf_val v[SL__CONF_COUNT];
  sl__logger log;
} sl__conf;

/* Why state.backend.type=rocksdb is refused in a build without RocksDB
 * (the key table, and so the documentation, is the same in every build). */
#define SL__NO_ROCKSDB \
  "this build has no RocksDB backend (built with -DSLUICE_WITH_ROCKSDB=OFF)"

#define SL__CONF_I(conf, id) ((conf)->v[SL__CONF_##id].i)
#define SL__CONF_S(conf, id) ((conf)->v[SL__CONF_##id].s)

int sl__conf_init(sl__conf *conf);
/* The id of `key` (its index in the table), or -1 for an unknown key. */
/* The configuration key nearest to `key` by edit distance, when close
 * enough to be a typo of it; else NULL. */
const char *sl__conf_suggest(const char *key);
/* What a value of type `type` (sl__conf_type) may look like, for errors
 * (" (...)"; "" for types without units). */
const char *sl__units_hint(int type);
int sl__conf_find(const char *key);
/* Whether key `id` holds text (a string key) rather than a number. */
int sl__conf_is_text(int id);
void sl__conf_free(sl__conf *conf);
/* Every key set to something else than its default, with the value as
 * written (secrets masked); stops at fn's first non-zero return. */
int sl__conf_foreach_set(const sl__conf *conf, int (*fn)(void *ud, const char *key,
                                                          const char *value), void *ud);
/* Set key; on error writes a message to err. */
int sl__conf_set(sl__conf *conf, const char *key, const char *value,
                 char *err, size_t errcap);

#endif

/*
 * file_sink.h -- internals of the file sink (file_sink.c) that tests and
 * fuzz harnesses call directly: the decoder of the bytes a file-sink writer
 * puts into a checkpoint.
 *
 * Those bytes come back from disk at restore and are untrusted: the
 * decoder checks every count and length against the bytes that remain and
 * accepts only names the sink itself writes, so recovery never builds a
 * path outside the sink's directory from them.
 *
 * Layout (little-endian), version 2:
 *
 *   "FSK2"   u64 base   u64 next   u32 count   count x file
 *   file:    u8 kind (0 pending, 1 in progress)   i64 length
 *            u16 + in-progress name   u16 + final name
 *
 *   base: the first part number of the run that wrote it (every writer of
 *   a run starts there); next: the first part number this writer had not
 *   used yet.  So the writer's part files numbered base .. next-1 are the
 *   ones it created up to the checkpoint; names are relative to the
 *   directory.  Version 1 (before part counters) is the same without the
 *   "FSK2" tag, base and next.
 */
#ifndef SL_FILE_SINK_H
#define SL_FILE_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "sluice.h"

enum { SL__FS_PENDING = 0, SL__FS_INPROGRESS = 1 };

typedef struct sl__fs_file {
  int kind;      /* SL__FS_PENDING or SL__FS_INPROGRESS */
  int64_t len;   /* bytes the checkpoint covers, >= 0 */
  int subtask;   /* directory mode: <s> of the name (the writer's subtask) */
  uint64_t part; /* directory mode: <n> of the name */
  int foreign;   /* single-file mode: `X.inprogress` of another output path X
                    (a plain name), which recovery leaves alone */
} sl__fs_file;

typedef struct sl__fs_state {
  int version;        /* 0: empty bytes (nothing known), 1 or 2 */
  uint64_t base, next; /* version 2 */
  uint32_t n;
  sl__fs_file *files; /* n of them; sl__malloc'ed, free with sl__fs_state_free */
} sl__fs_state;

/* Decodes the bytes [blob, blob + len) that old subtask `subtask`'s writer
 * put into a checkpoint.  `single` is NULL for a directory sink, whose
 * names must be `.part-<subtask>-<n>.inprogress` and `part-<subtask>-<n>`
 * (the same n; decimal without leading zeros); for a single-file sink
 * writing PATH it is PATH's base name, and the only name pair allowed is
 * `X.inprogress` + `X`, in progress, from subtask 0, with X = single or
 * (marked foreign) another name without '/' that is not "." or "..".
 * Returns 0 with *st filled (free it with sl__fs_state_free), -SL_ESTATE
 * with a message in err saying what is wrong and at which byte, or
 * -SL_ENOMEM.  *st needs no freeing after an error.  Touches no file. */
int sl__file_sink_decode(const uint8_t *blob, size_t len, int subtask, const char *single,
                         sl__fs_state *st, char *err, size_t errcap);
void sl__fs_state_free(sl__fs_state *st);

/* sl_file_sink with another clock for its time-based rolling
 * (milliseconds, any origin, never going back), for tests: now_ms(ud)
 * replaces the monotonic clock; NULL keeps it. */
sl_sink *sl__file_sink_new(const char *path, int64_t (*now_ms)(void *ud), void *ud);

#endif

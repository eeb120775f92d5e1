/*
 * storage.h -- checkpoint storage on a file system (internal).
 *
 * Layout under state.checkpoints.dir:
 *
 *   chk-<n>/op-<op>-<subtask>.keyed     keyed state image   (state/image.c)
 *   chk-<n>/op-<op>-<subtask>.opstate   operator state image
 *   chk-<n>/op-<op>-<subtask>.bstate    broadcast state image
 *   chk-<n>/op-<op>-<subtask>.<backend>/  keyed state as its backend's
 *                                       native checkpoint (state/backend.h;
 *                                       RocksDB: .rocksdb/, incremental: SST
 *                                       files hard-linked, shared between
 *                                       checkpoints)
 *   chk-<n>/op-<op>-<subtask>.meta      framed: source position, watermarks
 *   chk-<n>/_metadata                   framed: the checkpoint's table of
 *                                       contents, written last
 *
 * Every file begins with magic + format version and ends with an XXH64 of
 * everything before it; it is written to a temporary name, fsynced,
 * renamed, and the directory is fsynced.  A checkpoint exists only once its
 * _metadata does; a damaged or partial one is detected by the checksums and
 * recovery falls back to the previous complete one.
 */
#ifndef SL_CKPT_STORAGE_H
#define SL_CKPT_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

/* The magics of checkpoint files (each file is a frame: magic, length,
 * payload, XXH64; storage.c).  State images have their own format and
 * magic ("SLSTATE1", src/state/image.c). */
#define SL__MAGIC_METADATA "SLCKPT01" /* chk-<n>/_metadata */
#define SL__MAGIC_OPMETA "SLOPMETA"   /* chk-<n>/op-<op>-<s>.meta */
#define SL__MAGIC_SAVEPOINT_REPLY "SLSVPREP" /* <dir>/_savepoint-<nonce> */

enum { SL__F_KEYED = 1, SL__F_OPSTATE = 2, SL__F_BSTATE = 4, SL__F_META = 8,
       SL__F_NATIVE = 16 /* keyed state as a native checkpoint: op-<op>-<s>.<backend>/,
                            written by sl__backend_native()'s kind */ };

typedef struct sl__ckpt_inst {
  uint8_t flags;      /* which files the instance wrote */
  uint64_t bytes;     /* their total size */
} sl__ckpt_inst;

typedef struct sl__ckpt_meta {
  int64_t id;
  int64_t taken_ms;   /* wall clock when triggered */
  int P, max_parallelism, n_ops;
  uint8_t *op_kind;   /* [n_ops] */
  char **op_name;     /* [n_ops] */
  sl__ckpt_inst *inst; /* [n_ops * P], op-major */
} sl__ckpt_meta;

/* Limits on what a checkpoint file may claim; anything beyond fails the
 * read as damaged before memory is allocated for it.  Frames (_metadata and
 * the .meta files, whose payload is at most 1 MiB) are read whole. */
#define SL__FRAME_MAX ((size_t)16 << 20)
#define SL__CKPT_MAX_P 32768       /* pipeline.max-parallelism's ceiling */
#define SL__CKPT_MAX_OPS 100000

/* A framed file: magic (8 bytes), u32 version, payload, XXH64. */
int sl__frame_write(const char *path, const char magic[8], const void *payload,
                    size_t len, char *err, size_t errcap);
/* Reads and verifies; *payload is sl__malloc'ed.  A file larger than
 * SL__FRAME_MAX fails without being read. */
int sl__frame_read(const char *path, const char magic[8], uint8_t **payload,
                   size_t *len, char *err, size_t errcap);
/* The same on bytes in memory (buf[0..n), `name` for messages): the payload
 * is buf[*off .. *off + *len). */
int sl__frame_decode(const char *name, const char magic[8], const uint8_t *buf,
                     size_t n, size_t *off, size_t *len, char *err, size_t errcap);
/* Trailing-checksum check of any checkpoint file (images or frames). */
int sl__file_verify(const char *path, uint64_t *size, char *err, size_t errcap);

int sl__ckpt_meta_write(const char *chk_dir, const sl__ckpt_meta *m, char *err,
                        size_t errcap);
int sl__ckpt_meta_read(const char *chk_dir, sl__ckpt_meta *m, char *err,
                       size_t errcap);
void sl__ckpt_meta_free(sl__ckpt_meta *m);
/* Parses a _metadata payload (after the frame) held in memory; every count
 * is checked against the bytes that remain.  Errors name `name`. */
int sl__ckpt_meta_decode(const char *name, const uint8_t *p, size_t n,
                         sl__ckpt_meta *m, char *err, size_t errcap);
/* Metadata read + every listed file verified. */
int sl__ckpt_verify(const char *chk_dir, sl__ckpt_meta *m, char *err,
                    size_t errcap);

/* The same, going on past the first damaged file: report(arg, message) is
 * called for each problem (the _metadata, or every damaged or missing file)
 * and the first one is in err.  With report NULL it is sl__ckpt_verify. */
typedef void (*sl__ckpt_report_fn)(void *arg, const char *msg);
int sl__ckpt_check(const char *chk_dir, sl__ckpt_meta *m, sl__ckpt_report_fn report,
                   void *arg, char *err, size_t errcap);

/* "chk-<n>" path of checkpoint n in dir. */
void sl__ckpt_path(char *out, size_t cap, const char *dir, int64_t id);
void sl__ckpt_file(char *out, size_t cap, const char *chk_dir, int op,
                   int subtask, const char *ext);
/* The newest checkpoint in dir that verifies; newer damaged ones are
 * skipped with a warning naming the problem, logged to lg (NULL: the
 * default logger) with the given scope (NULL: none).  0 with *path and *m
 * filled, -SL_ENOENT when there is none. */
int sl__ckpt_latest(const char *dir, char *path, size_t cap, sl__ckpt_meta *m,
                    const sl__logger *lg, const char *scope, char *err, size_t errcap);
/* Keep the newest `keep` complete checkpoints in dir, delete the rest. */
void sl__ckpt_retain(const char *dir, int keep);
/* The ids of every chk-<n> directory in dir (complete or not), newest
 * first, in *out (sl__malloc'ed; NULL when there is none); returns how many. */
int sl__ckpt_ids(const char *dir, int64_t **out);
/* Highest checkpoint id present in dir (complete or not), 0 if none. */
int64_t sl__ckpt_max_id(const char *dir);

#endif

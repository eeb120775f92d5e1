/*
 * backend.h -- the keyed-state backend interface (heap and RocksDB).
 *
 * A backend holds the keyed state of ONE operator instance for a contiguous
 * range of key groups [kg_lo, kg_hi].  Every entry is addressed by
 *
 *     (key group, state id, composite key)  ->  value bytes
 *
 * where the composite key ("ck") is built by the state layer (state.c) as
 *
 *     varint(key_len) key  varint(ns_len) namespace  [user key]
 *
 * so that all entries of one (key, namespace) -- e.g. the entries of a map
 * state -- share a prefix, and prefix iteration finds them.  The backend
 * treats ck and values as opaque bytes.
 *
 * Snapshots (the seam for checkpoints):
 *   snapshot()      synchronous and short: takes a consistent point-in-time
 *                   view (heap: copy-on-write of the slot arrays; RocksDB: a
 *                   DB snapshot).  Processing continues right after.
 *   snap_iter()     reads that view, state by state and key group by key
 *                   group; may run on another thread while the owner keeps
 *                   writing.  image.c turns it into the canonical image.
 *   snap_release()  on the owner's thread, when the image is written.
 * At most one snapshot per backend is open at a time.
 * Restore goes through put(): image.c reads canonical images (from any
 * parallelism, either backend) and puts the entries whose key group lies in
 * the backend's range.
 *
 * Native checkpoints (optional vtable slots, NULL in a backend without
 * them; the heap backend has none).  A backend that can hand its own files
 * to a checkpoint (RocksDB: flushed, hard-linked SST files, shared between
 * checkpoints: incremental) fills
 *   native_checkpoint()  the synchronous part: the backend's files for a
 *                        checkpoint into dir (which must not exist).
 *   native_adopt()       restore by taking such a checkpoint's files as an
 *                        empty backend of the same kind with exactly the
 *                        checkpoint's key-group range (milliseconds, no
 *                        copying); 1 when that does not apply (another
 *                        range or kind, states already registered).
 *   native_restore()     copy the key groups of dst's range out of such a
 *                        checkpoint into dst, whatever dst's kind: how a
 *                        checkpoint taken at P=2 restores at P=4.
 *   native_check()       is the native checkpoint in dir complete, without
 *                        reading it (checkpoint verification)?  0, or
 *                        -SL_EIO with the first problem in err and every
 *                        one passed to report (when not NULL).
 * Checkpoint storage keeps a native checkpoint in op-<op>-<s>.<name>/ and
 * marks it in _metadata (SL__F_NATIVE); one kind of backend writes them,
 * found with sl__backend_native().  Code above this header calls these
 * slots and never names a backend.
 *
 * Figures (optional slot state_stats, NULL in a backend without them):
 * the entries of state sid (composite keys: every key / namespace / user
 * key entry) and the bytes they take, for metrics.  On the backend's
 * owning thread only (no locking), cheap enough for once a second per
 * state.  Heap: exact running counts (heap_backend.c says what the bytes
 * include), two loads.  RocksDB: an estimate from the state's column
 * family's properties plus the write-back cache's pending changes
 * (rocksdb_backend.c), a few microseconds.
 *
 * Lifetimes: a value returned by get() is a view valid until the next call
 * on the same backend.  iter() callbacks get views valid during the call and
 * must not modify the backend.
 *
 * Return codes: 0 ok, 1 = not found (get), negative SL_E* on failure, with a
 * message in the backend's err buffer (sl__backend_error).
 */
#ifndef SL_STATE_BACKEND_H
#define SL_STATE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/core.h"

/* Kinds of state, stored with each state id (images record them). */
typedef enum {
  SL__STATE_VALUE = 1,
  SL__STATE_LIST = 2,
  SL__STATE_MAP = 3,
  SL__STATE_REDUCING = 4,
  SL__STATE_AGGREGATING = 5,
  SL__STATE_UNION_LIST = 6 /* operator state only */
} sl__state_kind;

typedef struct sl__backend sl__backend;
typedef struct sl__snapshot sl__snapshot;

/* Entry visitor: return 0 to go on, non-zero to stop (returned as is). */
typedef int (*sl__entry_fn)(void *arg, const void *ck, uint32_t cklen,
                            const void *val, uint32_t vlen);

/* Problem visitor (checks that go on past the first problem). */
typedef void (*sl__problem_fn)(void *arg, const char *msg);

typedef struct sl__backend_vt {
  const char *name; /* state.backend.type: "hashmap" | "rocksdb" */
  /* Register (or find, by name) a state; *sid is dense from 0. */
  int (*add_state)(sl__backend *be, const char *name, sl__state_kind kind,
                   uint32_t *sid);
  /* hash: sl__ck_hash(ck, cklen), which the caller has (the state layer
   * derives it from the record's key hash: keys are hashed once) */
  int (*get)(sl__backend *be, int kg, uint32_t sid, const void *ck,
             uint32_t cklen, uint64_t hash, const void **val, uint32_t *vlen);
  int (*put)(sl__backend *be, int kg, uint32_t sid, const void *ck,
             uint32_t cklen, uint64_t hash, const void *val, uint32_t vlen);
  /* Append bytes to the value (creating it): list state's add. */
  int (*append)(sl__backend *be, int kg, uint32_t sid, const void *ck,
                uint32_t cklen, uint64_t hash, const void *val, uint32_t vlen);
  int (*del)(sl__backend *be, int kg, uint32_t sid, const void *ck,
             uint32_t cklen, uint64_t hash);
  /* optional: start loading what gets of state sid will touch (memory
   * prefetch; no effect on the state): the table slot of composite-key
   * hash slot_hash, and the entry of entry_hash (whose slot was asked for
   * some records before, so it is in cache by now); 0: none. */
  void (*prefetch)(sl__backend *be, uint32_t sid, uint64_t slot_hash, uint64_t entry_hash);
  /* Every entry of (kg, sid) whose ck starts with prefix (plen 0: all). */
  int (*iter)(sl__backend *be, int kg, uint32_t sid, const void *prefix,
              uint32_t plen, sl__entry_fn fn, void *arg);
  int (*snapshot)(sl__backend *be, sl__snapshot **snap);
  int (*snap_iter)(sl__snapshot *snap, int kg, uint32_t sid, sl__entry_fn fn,
                   void *arg);
  void (*snap_release)(sl__snapshot *snap);
  void (*free)(sl__backend *be);
  /* optional: native checkpoints (above); NULL when the backend has none */
  int (*native_checkpoint)(sl__backend *be, const char *dir);
  int (*native_adopt)(sl__backend *be, const sl__conf *conf, const char *dir);
  int (*native_restore)(sl__backend *dst, const sl__conf *conf, const char *dir);
  int (*native_check)(const char *dir, sl__problem_fn report, void *arg,
                      char *err, size_t errcap);
  /* optional: figures of state sid (above): 0, or a negative code for an
   * unknown sid (message in be->err) */
  int (*state_stats)(sl__backend *be, uint32_t sid, uint64_t *entries, uint64_t *bytes);
} sl__backend_vt;

/* Registered states (shared bookkeeping of every backend). */
typedef struct sl__state_meta {
  char *name;
  sl__state_kind kind;
} sl__state_meta;

/* Keyed state bigger than this no longer fits the CPU caches (an L2): a
 * keyed operator then takes its records in runs and prefetches. */
#define SL__STATE_LARGE (1u << 20)

struct sl__backend {
  const sl__backend_vt *vt;
  /* when not NULL, set to 1 once the state outgrows SL__STATE_LARGE (the
   * heap backend; a RocksDB backend does not prefetch) */
  int *large;
  int kg_lo, kg_hi;  /* inclusive key-group range */
  int max_parallelism;
  sl__state_meta *states;
  uint32_t n_states;
  /* the registry as the open snapshot was taken (sl__backend_snap_meta):
   * what the image writer reads on its thread while the owner may register
   * more states, growing `states` (names are never freed before the
   * backend is) */
  sl__state_meta *snap_states;
  uint32_t snap_n_states;
  char err[1024];
};

/* Open the backend selected by state.backend.type for key groups
 * [kg_lo, kg_hi].  `instance` names this operator instance ("op-3-1"); the
 * RocksDB backend keeps its files in state.backend.rocksdb.dir/<instance>
 * (created; removed again by free).  On failure *out is NULL and err says
 * what and where (-SL_ECONFIG: a backend this build does not have). */
int sl__backend_open(const sl__conf *conf, const char *instance, int kg_lo,
                     int kg_hi, int max_parallelism, sl__backend **out,
                     char *err, size_t errcap);

/* The kind of backend whose native checkpoints SL__F_NATIVE marks (its
 * vtable: name and native slots; static, never freed), or NULL when this
 * build does not have it, with the reason in err (when err is not NULL). */
const sl__backend_vt *sl__backend_native(char *err, size_t errcap);

int sl__heap_backend_open(const sl__conf *conf, int kg_lo, int kg_hi,
                          int max_parallelism, sl__backend **out, char *err,
                          size_t errcap);

/* Shared helper for add_state: find `name` or append it; -SL_ESTATE if it
 * exists with another kind (message in be->err). */
int sl__backend_register(sl__backend *be, const char *name,
                         sl__state_kind kind, uint32_t *sid, int *is_new);
void sl__backend_meta_free(sl__backend *be);

static inline void sl__backend_free(sl__backend *be) {
  if (be) be->vt->free(be);
}

/* ---- canonical images (image.c) ------------------------------------------
 * Format (little-endian):
 *   "SLSTATE1" | u32 version | u32 max_parallelism | u32 kg_lo | u32 kg_hi
 *   | u32 n_states | per state: u8 kind, u16 name_len, name
 *   | blocks: u32 kg, u32 sid, then entries: u32 cklen, ck, u32 vlen, value,
 *     closed by u32 0xFFFFFFFF
 *   | u32 0xFFFFFFFF (end of blocks) | u64 XXH64 of everything before
 * Written from a snapshot while the owner keeps processing; read back into
 * any backend, keeping only the key groups of its range. */
typedef struct sl__wstream {
  int (*write)(void *arg, const void *buf, size_t len); /* 0 or negative */
  void *arg;
} sl__wstream;
typedef struct sl__rstream {
  /* reads exactly len bytes: 0, or negative (short read = -SL_EIO) */
  int (*read)(void *arg, void *buf, size_t len);
  void *arg;
  uint64_t size; /* bytes the stream holds, UINT64_MAX when unknown: counts
                    and lengths read are checked against what remains */
} sl__rstream;

/* Limits on what an image may claim (anything beyond: damaged). */
#define SL__IMAGE_MAX_STATES 65535u /* as many as a backend holds */
#define SL__IMAGE_MAX_ENTRY (1u << 30)

int sl__image_write(sl__backend *be, sl__snapshot *snap, sl__wstream *out);
/* A backend's snapshot() copies the registry (0 or -SL_ENOMEM);
 * snap_release() drops the copy.  Both on the owner's thread. */
int sl__backend_snap_meta(sl__backend *be);
void sl__backend_snap_meta_free(sl__backend *be);

/* Entries an image holds besides its backend snapshot's: keyed state that
 * an operator keeps outside the backend (the window fast path), frozen
 * when the backend snapshot was taken, so the image reads as if the
 * backend had held it.  iter() hands fn the entries of the state named
 * `state` in key group kg -- composite keys and values in the state
 * layer's encodings (state.c), entries the backend does not hold, for
 * states the backend has registered -- and returns 0, fn's non-zero
 * result or a negative code; the image writer calls it once per block
 * (state, key group), from one thread at a time, on any thread.  free()
 * releases it (any thread).  Owned by whoever took it (the checkpoint's
 * snapshot task). */
typedef struct sl__snap_extra sl__snap_extra;
struct sl__snap_extra {
  int (*iter)(sl__snap_extra *x, const char *state, int kg, sl__entry_fn fn, void *arg);
  void (*free)(sl__snap_extra *x);
};
/* sl__image_write with extra's entries in the blocks (extra NULL: none). */
int sl__image_write_extra(sl__backend *be, sl__snapshot *snap, sl__snap_extra *extra,
                          sl__wstream *out);
/* Restore: states are registered in `be` by name; errors name `source`. */
int sl__image_read(sl__backend *be, sl__rstream *in, const char *source);

/* File streams for images (fd-based, buffered). */
int sl__image_write_file(sl__backend *be, sl__snapshot *snap, const char *path);
int sl__image_write_file_extra(sl__backend *be, sl__snapshot *snap, sl__snap_extra *extra,
                               const char *path);
int sl__image_read_file(sl__backend *be, const char *path);

/* ---- composite keys ------------------------------------------------------ */
static inline uint32_t sl__varint_put(uint8_t *p, uint32_t v) {
  uint32_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}
static inline uint32_t sl__varint_size(uint32_t v) {
  uint32_t n = 1;
  while (v >= 0x80) v >>= 7, n++;
  return n;
}
static inline uint32_t sl__varint_get(const uint8_t *p, uint32_t avail,
                                      uint32_t *v) {
  uint32_t r = 0, n = 0;
  for (int shift = 0; n < avail && shift < 35; shift += 7) {
    uint8_t b = p[n++];
    r |= (uint32_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return n;
    }
  }
  return 0; /* malformed */
}

/* The hash of a composite key: its key's sl__key_hash when it has neither
 * namespace nor user key (rest is varint 0), else the rest hashed with
 * the key's hash as the seed -- so the state layer gets it from the hash
 * the record came with, without hashing the key again. */
static inline uint64_t sl__ck_hash_rest(uint64_t key_hash, const uint8_t *rest,
                                        uint32_t restlen) {
  return restlen == 1 && rest[0] == 0 ? key_hash : XXH3_64bits_withSeed(rest, restlen, key_hash);
}
static inline uint64_t sl__ck_hash(const void *ck, uint32_t cklen) {
  const uint8_t *p = ck;
  uint32_t klen, n = sl__varint_get(p, cklen, &klen);
  if (!n || klen > cklen - n) return sl__key_hash(ck, cklen); /* malformed: still stable */
  return sl__ck_hash_rest(sl__key_hash(p + n, klen), p + n + klen, cklen - n - klen);
}

/* The composite key  varint(klen) key varint(nslen) ns  into p (room for
 * 10 + klen + nslen bytes); returns its length.  (The state layer's
 * build_ck adds the user key of a map state after it.) */
static inline uint32_t sl__ck_put(uint8_t *p, const void *key, uint32_t klen, const void *ns,
                                  uint32_t nslen) {
  uint32_t n = sl__varint_put(p, klen);
  if (klen) memcpy(p + n, key, klen);
  n += klen;
  n += sl__varint_put(p + n, nslen);
  if (nslen) memcpy(p + n, ns, nslen);
  return n + nslen;
}

#endif

/*
 * rocksdb_backend.c -- the RocksDB keyed-state backend (state larger than
 * memory), implementing backend.h on RocksDB's C API.
 *
 * Layout:
 *   - One DB per operator instance, in its own directory
 *     <base>/job-<pid>-<m>/<instance>-<n>, created empty by open and
 *     removed recursively by free (the working copy is disposable:
 *     checkpoints are canonical images written from snapshots).  The base
 *     and the private, locked per-process job directory: "directories".
 *   - One column family per state, named by the state name (cf[sid]); a
 *     state named "default" uses RocksDB's default column family, which is
 *     otherwise unused.
 *   - RocksDB key = 2-byte big-endian key group || ck.  One key group is a
 *     contiguous key range, and the entries of (kg, ck prefix) are found by
 *     a seek to kg||prefix bounded by the prefix's successor
 *     (iterate_upper_bound, so deleted entries past the range are not
 *     scanned).
 *   - append() is a RocksDB merge with a concatenating merge operator, so a
 *     list-state add never reads the old value.
 *   - Writes skip the WAL (like Flink's RocksDB backend): durability comes
 *     from checkpoints; the DB is never reopened after a crash.
 *   - A write-back cache (rdb_cache.h; state.backend.rocksdb.write-cache.size,
 *     0 = none) sits in front of the DB: get/put/append/del of recent keys
 *     stay on the heap, and its changes reach the DB in sorted batches when
 *     it is full and before every scan, snapshot and native checkpoint
 *     ("the write-back cache" below).  A read-modify-write of a key then
 *     costs one DB read when the key is not cached and no memtable insert
 *     of its own; the sorted batches insert into the memtable's skiplist in
 *     key order.
 *
 * Invariants:
 *   1. Keys and values are opaque; the only structure is the 2-byte prefix.
 *   2. The value returned by get() is a pinned slice, released at the next
 *      get() or at free(), or the cache's bytes, which the next write may
 *      move or clear: valid until the next call on the backend.
 *   3. iter() uses no per-backend buffer (stack, or heap for long
 *      prefixes), so a callback may call get() (which may flush the cache
 *      into the DB under the open iterator: it reads its implicit snapshot).
 *   6. The DB plus the cache's dirty entries is the state; every reader of
 *      the DB but get() (iter, snapshot, native_checkpoint) flushes first,
 *      and the DB receives each key's writes in the order they were made.
 *   4. A snapshot copies the column-family handles that exist when it is
 *      taken, so snap_iter() on another thread never reads the owner's
 *      cf array (which add_state may grow).  Handles live until free().
 *   5. At most one snapshot is open; free() releases one still open.
 *
 * Tuning (config.h): block cache (LRU, 0 = none), block size, memtable size
 * and count per column family, background jobs (thread.num; RocksDB grows
 * its shared thread pools to fit at open).  Fixed: level compaction with
 * dynamic level sizes, LZ4 (none when the library lacks it), whole-key
 * 10-bit bloom filters in the tables and in the memtables (a get that
 * misses the memtable skips its skiplist search: ~20% more
 * read-modify-writes per second when the state is larger than a memtable).
 *
 * Every RocksDB error becomes -SL_EIO with a message naming the operation,
 * the state and the DB path in be->err; nothing aborts.  (After a failed
 * flush of the cache the working copy is incomplete: the failure fails the
 * job, which restores from its last checkpoint.)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include <sys/statvfs.h>

#include "state/rdb_cache.h"
#include "state/rocksdb_backend.h"

typedef struct rdb_backend {
  sl__backend base; /* first: the vtable functions cast back */
  char *path;       /* DB directory */
  struct workdir *wd; /* the process's job directory path is in */
  rocksdb_t *db;
  rocksdb_options_t *opts; /* DB and column-family options (shared) */
  rocksdb_cache_t *cache;  /* NULL when block.cache-size is 0 */
  rocksdb_writeoptions_t *wo;
  rocksdb_readoptions_t *ro;
  rocksdb_column_family_handle_t *default_cf;
  rocksdb_column_family_handle_t **cf; /* by sid */
  uint32_t cf_cap;
  uint8_t *key; /* kg||ck for get/put/append/del */
  size_t key_cap;
  rocksdb_pinnableslice_t *pinned; /* last get()'s value */
  int snap_open;
  int64_t min_free;     /* state.backend.rocksdb.min-free-disk */
  uint32_t until_check; /* writes until the next free-space check */
  /* the write-back cache (state.backend.rocksdb.write-cache.size > 0) */
  int wc_on;
  sl__rc wc;
  rocksdb_writebatch_t *wb; /* flush()'s batch, reused */
  uint8_t *scratch;         /* a value copied out of the cache before a clear */
  size_t scratch_cap;
} rdb_backend;

struct sl__snapshot {
  rdb_backend *b;
  const rocksdb_snapshot_t *snap;
  uint32_t n_cf;
  rocksdb_column_family_handle_t **cf; /* copy of b->cf at snapshot time */
};

static atomic_uint g_dir_counter;

/* ---- directories ----------------------------------------------------------
 * Base: state.backend.rocksdb.dir as given (created if missing), or when it
 * is empty the private default $TMPDIR/sluice-<uid> (TMPDIR defaulting to
 * /tmp): created 0700, and refused when it is a symbolic link, not a
 * directory, owned by another user or group/world-writable (checked on an
 * O_NOFOLLOW descriptor).
 *
 * In the base each process has one job directory job-<pid>-<n>/ (0700),
 * shared by all its backends on that base (reference-counted) and removed
 * when the last one is freed.  It holds a file `lock` on which the process
 * keeps an exclusive flock while alive: the lock dies with the process, so
 * the next process to open a backend on the base can tell a dead owner from
 * a live one (a bare pid check is unsafe: pids are reused) and removes dead
 * owners' job directories.  A job directory is created as new-<pid>-<n>/,
 * locked, then renamed to job-<pid>-<n>/, so a job-* directory without a
 * held lock never belongs to a live process; a new-* one is removed only
 * when its pid no longer exists.  Only directories owned by this user are
 * ever removed, and rm -rf does not follow symbolic links. */

typedef struct workdir {
  struct workdir *next;
  char *base, *path; /* base directory, job directory in it */
  int lock_fd;
  int refs;
  pid_t pid; /* the owner (a forked child never removes its parent's) */
} workdir;

static pthread_mutex_t g_workdir_mu = PTHREAD_MUTEX_INITIALIZER;
static workdir *g_workdirs;
static unsigned g_job_counter;

/* The directory must be ours, private and no symbolic link.  0, or
 * -SL_EIO with the reason in err. */
static int check_private(const char *dir, const char *what, char *err, size_t errcap) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st)) {
    int e = errno;
    struct stat lst;
    if (!lstat(dir, &lst) && S_ISLNK(lst.st_mode))
      sl__fmt(err, errcap, "RocksDB backend: %s '%s' is a symbolic link; refusing to keep "
              "state there (remove it, or set state.backend.rocksdb.dir)", what, dir);
    else
      sl__fmt(err, errcap, "RocksDB backend: cannot open %s '%s': %s (set "
              "state.backend.rocksdb.dir to a directory of yours)", what, dir, strerror(e));
    if (fd >= 0) close(fd);
    return -SL_EIO;
  }
  close(fd);
  if (st.st_uid != geteuid()) {
    sl__fmt(err, errcap, "RocksDB backend: %s '%s' is owned by uid %ld, not by this user "
            "(uid %ld); refusing to keep state there (remove it, or set "
            "state.backend.rocksdb.dir)", what, dir, (long)st.st_uid, (long)geteuid());
    return -SL_EIO;
  }
  if (st.st_mode & 022) {
    sl__fmt(err, errcap, "RocksDB backend: %s '%s' is group- or world-writable (mode %04o); "
            "refusing to keep state there (chmod 700 it, or set state.backend.rocksdb.dir)",
            what, dir, (unsigned)(st.st_mode & 07777));
    return -SL_EIO;
  }
  return 0;
}

/* Removes the job directories of dead processes in base. */
static void remove_dead(const char *base) {
  DIR *d = opendir(base);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    long pid;
    unsigned n;
    char tail;
    int job = sscanf(e->d_name, "job-%ld-%u%c", &pid, &n, &tail) == 2;
    int fresh = !job && sscanf(e->d_name, "new-%ld-%u%c", &pid, &n, &tail) == 2;
    if (!job && !fresh) continue;
    char path[4096], lock[4200];
    sl__fmt(path, sizeof path, "%s/%s", base, e->d_name);
    struct stat st;
    if (lstat(path, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) continue;
    if (fresh) { /* between mkdir and rename: only a vanished pid is dead */
      if (kill((pid_t)pid, 0) && errno == ESRCH) sl__rm_rf(path);
      continue;
    }
    sl__fmt(lock, sizeof lock, "%s/lock", path);
    int fd = open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) continue;
    if (fd < 0 || !flock(fd, LOCK_EX | LOCK_NB)) sl__rm_rf(path); /* dead owner */
    if (fd >= 0) close(fd);
  }
  if (d) closedir(d);
}

/* This process's job directory in base (created on first use).  NULL with
 * err set on failure, *code = -SL_ENOMEM or -SL_EIO. */
static workdir *workdir_acquire(const sl__conf *conf, int *code, char *err, size_t errcap) {
  *code = -SL_EIO;
  const char *dir = SL__CONF_S(conf, ROCKSDB_DIR);
  char base[4096];
  int rc;
  if (dir && *dir) {
    sl__fmt(base, sizeof base, "%s", dir);
    char *bad = NULL;
    if ((rc = sl__mkdir_p(base, &bad))) {
      sl__fmt(err, errcap, "RocksDB backend: cannot open state.backend.rocksdb.dir '%s': "
              "cannot create '%s': %s", base, bad ? bad : base, strerror(-rc));
      sl__free(bad);
      if (rc == -ENOMEM) *code = -SL_ENOMEM;
      return NULL;
    }
  } else {
    const char *tmp = getenv("TMPDIR");
    sl__fmt(base, sizeof base, "%s/sluice-%ld", tmp && *tmp ? tmp : "/tmp", (long)geteuid());
    if (mkdir(base, 0700) && errno != EEXIST) {
      sl__fmt(err, errcap, "RocksDB backend: cannot create the default "
              "state.backend.rocksdb.dir '%s': %s (set TMPDIR or state.backend.rocksdb.dir)",
              base, strerror(errno));
      return NULL;
    }
    if (check_private(base, "the default state.backend.rocksdb.dir", err, errcap)) return NULL;
  }
  pthread_mutex_lock(&g_workdir_mu);
  workdir *wd;
  for (wd = g_workdirs; wd; wd = wd->next)
    if (wd->pid == getpid() && !strcmp(wd->base, base)) break;
  if (wd) {
    wd->refs++;
    pthread_mutex_unlock(&g_workdir_mu);
    return wd;
  }
  remove_dead(base);
  wd = sl__calloc(1, sizeof *wd);
  char fresh[4200], path[4200], lock[4300];
  rc = wd ? 0 : -ENOMEM;
  for (int tries = 0; !rc && tries < 100; tries++) {
    unsigned n = g_job_counter++;
    sl__fmt(fresh, sizeof fresh, "%s/new-%ld-%u", base, (long)getpid(), n);
    sl__fmt(path, sizeof path, "%s/job-%ld-%u", base, (long)getpid(), n);
    if (mkdir(fresh, 0700)) {
      if (errno == EEXIST) continue; /* a leftover of a reused pid */
      rc = -errno;
      break;
    }
    if ((rc = check_private(fresh, "job directory", err, errcap))) {
      rmdir(fresh); /* (not a symbolic link put in its place: rmdir fails) */
      break;
    }
    sl__fmt(lock, sizeof lock, "%s/lock", fresh);
    wd->lock_fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (wd->lock_fd < 0 || flock(wd->lock_fd, LOCK_EX | LOCK_NB)) {
      rc = -errno;
      if (wd->lock_fd >= 0) close(wd->lock_fd);
      sl__rm_rf(fresh);
      break;
    }
    if (rename(fresh, path)) {
      int e = errno;
      close(wd->lock_fd);
      sl__rm_rf(fresh);
      if (e == EEXIST || e == ENOTEMPTY) continue; /* a live job-<pid>-<n> of a reused pid */
      rc = -e;
      break;
    }
    wd->base = sl__strdup(base);
    wd->path = sl__strdup(path);
    if (!wd->base || !wd->path) {
      rc = -ENOMEM;
      close(wd->lock_fd);
      sl__rm_rf(path);
      break;
    }
    wd->refs = 1;
    wd->pid = getpid();
    wd->next = g_workdirs;
    g_workdirs = wd;
    pthread_mutex_unlock(&g_workdir_mu);
    return wd;
  }
  pthread_mutex_unlock(&g_workdir_mu);
  if (rc == -SL_EIO) { /* check_private said why */
  } else if (rc == -ENOMEM) {
    *code = -SL_ENOMEM;
    sl__fmt(err, errcap, "RocksDB backend: out of memory creating a job directory in '%s'", base);
  } else {
    sl__fmt(err, errcap, "RocksDB backend: cannot create a job directory in '%s': %s", base,
            rc ? strerror(-rc) : "too many leftovers of this pid");
  }
  if (wd) {
    sl__free(wd->base);
    sl__free(wd->path);
  }
  sl__free(wd);
  return NULL;
}

static void workdir_release(workdir *wd) {
  if (!wd) return;
  pthread_mutex_lock(&g_workdir_mu);
  if (--wd->refs > 0) {
    pthread_mutex_unlock(&g_workdir_mu);
    return;
  }
  for (workdir **pp = &g_workdirs; *pp; pp = &(*pp)->next)
    if (*pp == wd) {
      *pp = wd->next;
      break;
    }
  pthread_mutex_unlock(&g_workdir_mu);
  if (wd->pid == getpid()) sl__rm_rf(wd->path);
  close(wd->lock_fd);
  sl__free(wd->base);
  sl__free(wd->path);
  sl__free(wd);
}


/* ---- the merge operator: concatenation ------------------------------------ *
 * Runs on RocksDB's threads (reads, flushes, compactions) and its result is
 * handed back to RocksDB, which frees it through delete_value: this memory
 * belongs to RocksDB, so it uses plain malloc rather than the sl__ hook (a
 * test failing sl__ allocations must not fail a background compaction). */

static char *concat(const char *first, size_t first_len,
                    const char *const *ops, const size_t *op_lens, int n_ops,
                    unsigned char *success, size_t *out_len) {
  size_t n = first ? first_len : 0;
  for (int i = 0; i < n_ops; i++) n += op_lens[i];
  char *r = malloc(n ? n : 1);
  if (!r) {
    *success = 0;
    *out_len = 0;
    return NULL;
  }
  size_t off = 0;
  if (first && first_len) {
    memcpy(r, first, first_len);
    off = first_len;
  }
  for (int i = 0; i < n_ops; i++) {
    if (op_lens[i]) memcpy(r + off, ops[i], op_lens[i]);
    off += op_lens[i];
  }
  *success = 1;
  *out_len = n;
  return r;
}

static char *merge_full(void *state, const char *key, size_t key_len,
                        const char *existing, size_t existing_len,
                        const char *const *ops, const size_t *op_lens,
                        int n_ops, unsigned char *success, size_t *out_len) {
  return concat(existing, existing_len, ops, op_lens, n_ops, success, out_len);
}

static char *merge_partial(void *state, const char *key, size_t key_len,
                           const char *const *ops, const size_t *op_lens,
                           int n_ops, unsigned char *success,
                           size_t *out_len) {
  return concat(NULL, 0, ops, op_lens, n_ops, success, out_len);
}

static void merge_delete_value(void *state, const char *value, size_t len) {
  free((void *)value);
}

static void merge_destroy(void *state) {}

static const char *merge_name(void *state) { return "sluice.concat"; }

/* ---- helpers -------------------------------------------------------------- */

static const char *state_name(rdb_backend *b, uint32_t sid) {
  return sid < b->base.n_states ? b->base.states[sid].name : "?";
}

/* Takes ownership of the RocksDB error string. */
static int rdb_fail(rdb_backend *b, char *rerr, const char *op, uint32_t sid) {
  sl__fmt(b->base.err, sizeof b->base.err,
          "RocksDB backend: %s in state '%s' failed in '%s': %s", op,
          state_name(b, sid), b->path, rerr ? rerr : "unknown error");
  rocksdb_free(rerr);
  return -SL_EIO;
}

static int check_addr(rdb_backend *b, int kg, uint32_t sid) {
  if (SL__UNLIKELY(sid >= b->base.n_states)) {
    sl__fmt(b->base.err, sizeof b->base.err,
            "RocksDB backend: unknown state id %u (%u states registered)", sid,
            b->base.n_states);
    return -SL_EINVAL;
  }
  if (SL__UNLIKELY(kg < b->base.kg_lo || kg > b->base.kg_hi)) {
    sl__fmt(b->base.err, sizeof b->base.err,
            "RocksDB backend: key group %d outside this instance's range "
            "[%d, %d]",
            kg, b->base.kg_lo, b->base.kg_hi);
    return -SL_EINVAL;
  }
  return 0;
}

/* kg||ck into b->key (grown as needed); returns the length or 0 on OOM. */
static size_t make_key(rdb_backend *b, int kg, const void *ck, uint32_t cklen) {
  size_t need = (size_t)cklen + 2;
  if (SL__UNLIKELY(need > b->key_cap)) {
    size_t cap = b->key_cap * 2;
    if (cap < need) cap = need;
    uint8_t *k = sl__realloc(b->key, cap);
    if (!k) {
      sl__fmt(b->base.err, sizeof b->base.err,
              "RocksDB backend: out of memory for a %u-byte key", cklen);
      return 0;
    }
    b->key = k;
    b->key_cap = cap;
  }
  b->key[0] = (uint8_t)(kg >> 8);
  b->key[1] = (uint8_t)kg;
  if (cklen) memcpy(b->key + 2, ck, cklen);
  return need;
}

/* Entries of cf whose key starts with kg||prefix, seen through `snap`
 * (NULL: the current state).  Errors are written to b->base.err. */
static int scan(rdb_backend *b, rocksdb_column_family_handle_t *cf,
                const rocksdb_snapshot_t *snap, int kg, uint32_t sid,
                const void *prefix, uint32_t plen, sl__entry_fn fn,
                void *arg) {
  uint8_t small[2 * 258];
  size_t lolen = (size_t)plen + 2;
  uint8_t *lo = small, *heap = NULL;
  if (lolen > sizeof small / 2) {
    heap = sl__malloc(2 * lolen);
    if (!heap) {
      sl__fmt(b->base.err, sizeof b->base.err,
              "RocksDB backend: out of memory for a %u-byte prefix", plen);
      return -SL_ENOMEM;
    }
    lo = heap;
  }
  uint8_t *hi = lo + lolen;
  lo[0] = (uint8_t)(kg >> 8);
  lo[1] = (uint8_t)kg;
  if (plen) memcpy(lo + 2, prefix, plen);
  /* Upper bound: the smallest key greater than every key with this prefix
   * (none when the prefix is all 0xFF). */
  size_t hilen = lolen;
  memcpy(hi, lo, lolen);
  while (hilen > 0 && hi[hilen - 1] == 0xFF) hilen--;
  if (hilen > 0) hi[hilen - 1]++;

  rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
  if (hilen > 0)
    rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hi, hilen);
  if (snap) {
    rocksdb_readoptions_set_snapshot(ro, snap);
    rocksdb_readoptions_set_fill_cache(ro, 0); /* keep the working set */
  }
  rocksdb_iterator_t *it = rocksdb_create_iterator_cf(b->db, ro, cf);
  int rc = 0;
  for (rocksdb_iter_seek(it, (const char *)lo, lolen); rocksdb_iter_valid(it);
       rocksdb_iter_next(it)) {
    size_t klen, vlen;
    const char *k = rocksdb_iter_key(it, &klen);
    if (klen < lolen || memcmp(k, lo, lolen)) break;
    const char *v = rocksdb_iter_value(it, &vlen);
    rc = fn(arg, k + 2, (uint32_t)(klen - 2), v, (uint32_t)vlen);
    if (rc) break;
  }
  if (!rc) {
    char *rerr = NULL;
    rocksdb_iter_get_error(it, &rerr);
    if (rerr) rc = rdb_fail(b, rerr, snap ? "snapshot scan" : "scan", sid);
  }
  rocksdb_iter_destroy(it);
  rocksdb_readoptions_destroy(ro);
  sl__free(heap);
  return rc;
}

/* ---- the vtable ----------------------------------------------------------- */

static int rdb_add_state(sl__backend *be, const char *name,
                         sl__state_kind kind, uint32_t *sid) {
  rdb_backend *b = (rdb_backend *)be;
  int is_new, rc = sl__backend_register(be, name, kind, sid, &is_new);
  if (rc || !is_new) return rc;
  if (*sid >= b->cf_cap) {
    uint32_t cap = b->cf_cap ? b->cf_cap * 2 : 8;
    rocksdb_column_family_handle_t **cf =
        sl__realloc(b->cf, cap * sizeof *cf);
    if (!cf) {
      sl__fmt(be->err, sizeof be->err,
              "RocksDB backend: out of memory registering state '%s'", name);
      rc = -SL_ENOMEM;
      goto unregister;
    }
    b->cf = cf;
    b->cf_cap = cap;
  }
  if (!strcmp(name, "default")) {
    b->cf[*sid] = b->default_cf;
    return 0;
  }
  char *rerr = NULL;
  b->cf[*sid] = rocksdb_create_column_family(b->db, b->opts, name, &rerr);
  if (rerr || !b->cf[*sid]) {
    sl__fmt(be->err, sizeof be->err,
            "RocksDB backend: cannot create column family for state '%s' in "
            "'%s': %s",
            name, b->path, rerr ? rerr : "unknown error");
    rocksdb_free(rerr);
    if (b->cf[*sid]) rocksdb_column_family_handle_destroy(b->cf[*sid]);
    rc = -SL_EIO;
    goto unregister;
  }
  return 0;
unregister: /* the new state is the last one registered: take it back */
  be->n_states--;
  sl__free(be->states[be->n_states].name);
  return rc;
}

/* Free space guard.  The Debian build of RocksDB (7.8.3) aborts on an
 * assertion when a file write fails (ENOSPC, EFBIG) instead of returning
 * an error, so the backend stops the job itself, with a clear message,
 * while there is still room: at open and every 1024 writes. */
static int check_free_space(rdb_backend *b, char *err, size_t errcap) {
  struct statvfs sv;
  if (b->min_free <= 0 || statvfs(b->path, &sv)) return 0;
  uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
  if (avail >= (uint64_t)b->min_free) return 0;
  sl__fmt(err, errcap,
          "RocksDB backend: disk almost full at '%s': %llu MB free, below "
          "state.backend.rocksdb.min-free-disk (%lld MB); free space or point "
          "state.backend.rocksdb.dir elsewhere",
          b->path, (unsigned long long)(avail >> 20), (long long)(b->min_free >> 20));
  return -SL_EIO;
}

static inline int write_guard(rdb_backend *b) {
  if (SL__LIKELY(b->until_check--)) return 0;
  b->until_check = 1024;
  return check_free_space(b, b->base.err, sizeof b->base.err);
}

/* ---- the write-back cache -------------------------------------------------
 * (rdb_cache.h)  get/put/append/del work on the cache; the DB sees its
 * dirty entries at flush_cache(): when the cache is full (then it is also
 * cleared), and before everything that reads the DB other than get --
 * iter(), snapshot(), native_checkpoint() -- so those see every write.
 * What the cache cannot hold (a value over max_value, no room for a moved
 * entry, out of memory) goes to the DB directly after uncache() wrote the
 * key's pending write: the DB always receives a key's writes in order. */

/* One put/delete/merge straight to the DB (key kg||ck of klen bytes). */
static int db_write(rdb_backend *b, uint32_t sid, const uint8_t *key, size_t klen, int st,
                    const void *val, uint32_t vlen) {
  char *rerr = NULL;
  const char *v = vlen ? (const char *)val : "";
  if (st == SL__RC_MERGE)
    rocksdb_merge_cf(b->db, b->wo, b->cf[sid], (const char *)key, klen, v, vlen, &rerr);
  else if (st == SL__RC_VAL)
    rocksdb_put_cf(b->db, b->wo, b->cf[sid], (const char *)key, klen, v, vlen, &rerr);
  else
    rocksdb_delete_cf(b->db, b->wo, b->cf[sid], (const char *)key, klen, &rerr);
  return rerr ? rdb_fail(b, rerr,
                         st == SL__RC_MERGE ? "append (merge)" : st == SL__RC_VAL ? "put" : "delete",
                         sid)
              : 0;
}

static int write_batch(rdb_backend *b) {
  char *rerr = NULL;
  rocksdb_write(b->db, b->wo, b->wb, &rerr);
  rocksdb_writebatch_clear(b->wb);
  if (!rerr) return 0;
  sl__fmt(b->base.err, sizeof b->base.err,
          "RocksDB backend: writing the write cache's entries to '%s' failed: %s", b->path,
          rerr);
  rocksdb_free(rerr);
  return -SL_EIO;
}

static int batch_ent(void *arg, sl__rc_ent *e) {
  rdb_backend *b = arg;
  const char *k = (const char *)e->data, *v = (const char *)sl__rc_val(e);
  if (e->st == SL__RC_VAL)
    rocksdb_writebatch_put_cf(b->wb, b->cf[e->sid], k, e->klen, v, e->vlen);
  else if (e->st == SL__RC_MERGE)
    rocksdb_writebatch_merge_cf(b->wb, b->cf[e->sid], k, e->klen, v, e->vlen);
  else
    rocksdb_writebatch_delete_cf(b->wb, b->cf[e->sid], k, e->klen);
  size_t n;
  rocksdb_writebatch_data(b->wb, &n);
  return n >= (4u << 20) ? write_batch(b) : 0; /* batches of ~4 MB */
}

/* Every dirty entry into the DB; with clear, the cache is emptied too. */
static int flush_cache(rdb_backend *b, int clear) {
  if (!b->wc_on) return 0;
  int rc = sl__rc_flush(&b->wc, batch_ent, b);
  if (!rc && rocksdb_writebatch_count(b->wb)) rc = write_batch(b);
  rocksdb_writebatch_clear(b->wb);
  if (!rc && clear) sl__rc_clear(&b->wc);
  return rc;
}

/* The cache forgets (sid, key): its pending write, if any, goes to the DB. */
static int uncache(rdb_backend *b, uint32_t sid, size_t klen, uint32_t hash) {
  sl__rc_ent *e = sl__rc_find(&b->wc, hash, sid, b->key, (uint32_t)klen);
  if (!e) return 0;
  if (e->dirty) {
    int rc = db_write(b, sid, b->key, klen, e->st, sl__rc_val(e), e->vlen);
    if (rc) return rc;
    sl__rc_count(&b->wc, e, -1);
    e->dirty = 0; /* (stays on the dirty list; flush skips it) */
  }
  e->st = SL__RC_NONE;
  e->vlen = 0;
  return 0;
}

/* Makes room for an entry of klen + vlen bytes (flushing and clearing the
 * cache when it is full).  *val is copied to b->scratch first when the
 * cache is cleared, as it may point into it.  *e becomes NULL then. */
static int make_room(rdb_backend *b, sl__rc_ent **e, uint32_t klen, const void **val,
                     uint32_t vlen) {
  if (!sl__rc_full(&b->wc, klen, vlen)) return 0;
  if (val && *val && vlen) {
    if (vlen > b->scratch_cap) {
      uint8_t *p = sl__realloc(b->scratch, vlen);
      if (!p) {
        sl__fmt(b->base.err, sizeof b->base.err,
                "RocksDB backend: out of memory for a %u-byte value", vlen);
        return -SL_ENOMEM;
      }
      b->scratch = p;
      b->scratch_cap = vlen;
    }
    memcpy(b->scratch, *val, vlen);
    *val = b->scratch;
  }
  *e = NULL;
  return flush_cache(b, 1);
}

static int rdb_get(sl__backend *be, int kg, uint32_t sid, const void *ck,
                   uint32_t cklen, uint64_t hash, const void **val, uint32_t *vlen) {
  (void)hash; /* the write cache hashes its own keys (key group + ck) */
  rdb_backend *b = (rdb_backend *)be;
  int rc = check_addr(b, kg, sid);
  if (rc) return rc;
  if (b->pinned) {
    rocksdb_pinnableslice_destroy(b->pinned);
    b->pinned = NULL;
  }
  size_t klen = make_key(b, kg, ck, cklen);
  if (!klen) return -SL_ENOMEM;
  sl__rc_ent *e = NULL;
  uint32_t h = 0;
  if (b->wc_on) {
    h = sl__rc_hash(sid, b->key, (uint32_t)klen);
    e = sl__rc_find(&b->wc, h, sid, b->key, (uint32_t)klen);
    if (e && e->st == SL__RC_VAL) {
      *val = sl__rc_val(e);
      *vlen = e->vlen;
      return 0;
    }
    if (e && e->st == SL__RC_ABSENT) return 1;
  }
  char *rerr = NULL;
  b->pinned = rocksdb_get_pinned_cf(b->db, b->ro, b->cf[sid],
                                    (const char *)b->key, klen, &rerr);
  if (rerr) return rdb_fail(b, rerr, "get", sid);
  size_t n = 0;
  const char *dbv = b->pinned ? rocksdb_pinnableslice_value(b->pinned, &n) : NULL;
  if (b->wc_on && e && e->st == SL__RC_MERGE) {
    /* pending appends: the value is the DB's value and then the operands */
    uint64_t total = (uint64_t)n + e->vlen;
    sl__rc_ent *m = NULL;
    if (total <= sl__rc_max_value(&b->wc) && total <= e->vcap) {
      memmove(sl__rc_val(e) + n, sl__rc_val(e), e->vlen);
      if (n) memcpy(sl__rc_val(e), dbv, n);
      sl__rc_count(&b->wc, e, -1);
      e->vlen = (uint32_t)total;
      e->st = SL__RC_VAL;
      sl__rc_count(&b->wc, e, 1);
      m = e;
    } else if (total <= sl__rc_max_value(&b->wc) &&
               !sl__rc_full(&b->wc, (uint32_t)klen, (uint32_t)total)) {
      /* a new place for base + operands: build it in scratch */
      if (total > b->scratch_cap) {
        uint8_t *p = sl__realloc(b->scratch, total);
        if (p) b->scratch = p, b->scratch_cap = total;
      }
      if (total <= b->scratch_cap) {
        if (n) memcpy(b->scratch, dbv, n);
        memcpy(b->scratch + n, sl__rc_val(e), e->vlen);
        m = sl__rc_set(&b->wc, e, h, sid, b->key, (uint32_t)klen, SL__RC_VAL, b->scratch,
                       (uint32_t)total, 1);
      }
    }
    if (m) {
      *val = sl__rc_val(m);
      *vlen = m->vlen;
      return 0;
    }
    /* too big or no room: the operands go to the DB, which merges */
    if ((rc = uncache(b, sid, klen, h))) return rc;
    rocksdb_pinnableslice_destroy(b->pinned);
    b->pinned = rocksdb_get_pinned_cf(b->db, b->ro, b->cf[sid], (const char *)b->key, klen,
                                      &rerr);
    if (rerr) return rdb_fail(b, rerr, "get", sid);
    dbv = b->pinned ? rocksdb_pinnableslice_value(b->pinned, &n) : NULL;
  } else if (b->wc_on && n <= sl__rc_max_value(&b->wc)) {
    /* remember what the DB said (a read-modify-write's put finds it) */
    if (!e || n > e->vcap) { /* (e is a clean NONE: nothing pending) */
      if ((rc = make_room(b, &e, (uint32_t)klen, NULL, (uint32_t)n))) return rc;
    }
    sl__rc_set(&b->wc, e, h, sid, b->key, (uint32_t)klen, dbv ? SL__RC_VAL : SL__RC_ABSENT,
               dbv, (uint32_t)n, 0); /* (no room: stays uncached) */
  }
  if (!dbv) return 1;
  *val = dbv;
  *vlen = (uint32_t)n;
  return 0;
}

/* put (st VAL), append (MERGE) or delete (ABSENT) */
static int rdb_write(sl__backend *be, int kg, uint32_t sid, const void *ck, uint32_t cklen,
                     const void *val, uint32_t vlen, int st) {
  rdb_backend *b = (rdb_backend *)be;
  int rc = check_addr(b, kg, sid);
  if (!rc && st != SL__RC_ABSENT) rc = write_guard(b);
  if (rc) return rc;
  size_t klen = make_key(b, kg, ck, cklen);
  if (!klen) return -SL_ENOMEM;
  if (!b->wc_on) return db_write(b, sid, b->key, klen, st, val, vlen);
  sl__rc *c = &b->wc;
  uint32_t h = sl__rc_hash(sid, b->key, (uint32_t)klen);
  sl__rc_ent *e = sl__rc_find(c, h, sid, b->key, (uint32_t)klen), *r = NULL;
  if (vlen > sl__rc_max_value(c)) goto direct;
  if (st == SL__RC_MERGE && e && e->st != SL__RC_NONE) {
    /* VAL: value + operand; ABSENT: the operand; MERGE: more operands */
    if (e->st == SL__RC_ABSENT) {
      st = SL__RC_VAL;
    } else if ((uint64_t)e->vlen + vlen <= e->vcap) {
      r = sl__rc_append(c, e, val, vlen);
      goto done;
    } else if ((uint64_t)e->vlen + vlen <= sl__rc_max_value(c) &&
               !sl__rc_full(c, (uint32_t)klen, 2 * (e->vlen + vlen))) {
      r = sl__rc_append(c, e, val, vlen);
      goto done;
    } else {
      /* no room to grow it: what it holds goes to the DB, the operand
       * starts a new MERGE entry (after a clear, if need be) */
      if ((rc = uncache(b, sid, klen, h))) return rc;
    }
  }
  if (!e || vlen > e->vcap) {
    if ((rc = make_room(b, &e, (uint32_t)klen, &val, vlen))) return rc;
  }
  r = sl__rc_set(c, e, h, sid, b->key, (uint32_t)klen, st, val, vlen, 1);
done:
  if (r) return 0;
direct:
  if ((rc = uncache(b, sid, klen, h))) return rc;
  return db_write(b, sid, b->key, klen, st, val, vlen);
}

static int rdb_put(sl__backend *be, int kg, uint32_t sid, const void *ck,
                   uint32_t cklen, uint64_t hash, const void *val, uint32_t vlen) {
  (void)hash;
  return rdb_write(be, kg, sid, ck, cklen, val, vlen, SL__RC_VAL);
}

static int rdb_append(sl__backend *be, int kg, uint32_t sid, const void *ck,
                      uint32_t cklen, uint64_t hash, const void *val, uint32_t vlen) {
  (void)hash;
  return rdb_write(be, kg, sid, ck, cklen, val, vlen, SL__RC_MERGE);
}

static int rdb_del(sl__backend *be, int kg, uint32_t sid, const void *ck,
                   uint32_t cklen, uint64_t hash) {
  (void)hash;
  return rdb_write(be, kg, sid, ck, cklen, NULL, 0, SL__RC_ABSENT);
}

static int rdb_iter(sl__backend *be, int kg, uint32_t sid, const void *prefix,
                    uint32_t plen, sl__entry_fn fn, void *arg) {
  rdb_backend *b = (rdb_backend *)be;
  int rc = check_addr(b, kg, sid);
  if (!rc) rc = flush_cache(b, 0); /* the scan reads the DB */
  if (rc) return rc;
  return scan(b, b->cf[sid], NULL, kg, sid, prefix, plen, fn, arg);
}

static int rdb_snapshot(sl__backend *be, sl__snapshot **out) {
  rdb_backend *b = (rdb_backend *)be;
  *out = NULL;
  if (b->snap_open) {
    sl__fmt(be->err, sizeof be->err,
            "RocksDB backend: a snapshot of '%s' is already open (release it "
            "before taking the next one)",
            b->path);
    return -SL_ESTATE;
  }
  int rc = flush_cache(b, 0); /* the snapshot is of the DB */
  if (rc) return rc;
  sl__snapshot *s = sl__calloc(1, sizeof *s);
  if (s && be->n_states) {
    s->cf = sl__memdup(b->cf, be->n_states * sizeof *b->cf);
    if (!s->cf) {
      sl__free(s);
      s = NULL;
    }
  }
  if (s && sl__backend_snap_meta(be)) {
    sl__free(s->cf);
    sl__free(s);
    s = NULL;
  }
  if (!s) {
    sl__fmt(be->err, sizeof be->err, "RocksDB backend: out of memory for a "
                                     "snapshot");
    return -SL_ENOMEM;
  }
  s->b = b;
  s->n_cf = be->n_states;
  s->snap = rocksdb_create_snapshot(b->db);
  b->snap_open = 1;
  *out = s;
  return 0;
}

static int rdb_snap_iter(sl__snapshot *s, int kg, uint32_t sid,
                         sl__entry_fn fn, void *arg) {
  /* States registered after the snapshot have no entries in it. */
  if (sid >= s->n_cf) return 0;
  return scan(s->b, s->cf[sid], s->snap, kg, sid, NULL, 0, fn, arg);
}

static void rdb_snap_release(sl__snapshot *s) {
  if (!s) return;
  rocksdb_release_snapshot(s->b->db, s->snap);
  s->b->snap_open = 0;
  sl__backend_snap_meta_free(&s->b->base);
  sl__free(s->cf);
  sl__free(s);
}

/* ---- figures ----------------------------------------------------------------
 * An estimate (backend.h's state_stats), from the state's own column
 * family (a state named "default" has the default one to itself):
 *   entries  rocksdb.estimate-num-keys -- the memtables' entries less
 *            twice their deletes, plus the SST files' estimated keys: a
 *            key written again counts again until a compaction drops its
 *            old version, so the figure may run above the true count;
 *   bytes    rocksdb.estimate-live-data-size (the SST files' live data, on
 *            disk) + rocksdb.cur-size-all-mem-tables (the memtables' memory,
 *            arena blocks included);
 * each plus what the write-back cache's dirty entries will add to it
 * (rdb_cache.h: one entry per value or appends, their key and value
 * bytes), so changes still in the cache count; a delete counts once it
 * reached RocksDB (the cache cannot tell whether the DB holds the key).
 * Many deletes make RocksDB's count run low (a delete of a key it never
 * held still takes two off).  RocksDB computes the three properties from
 * counters (the live data by a walk over the column family's SST file
 * list): microseconds. */
static int rdb_state_stats(sl__backend *be, uint32_t sid, uint64_t *entries,
                           uint64_t *bytes) {
  rdb_backend *b = (rdb_backend *)be;
  if (sid >= be->n_states) { /* (not check_addr: it stays inlined in the record path) */
    sl__fmt(be->err, sizeof be->err, "RocksDB backend: unknown state id %u (%u states "
            "registered)", sid, be->n_states);
    return -SL_EINVAL;
  }
  uint64_t keys = 0, live = 0, mem = 0; /* (a property RocksDB lacks: 0) */
  rocksdb_property_int_cf(b->db, b->cf[sid], "rocksdb.estimate-num-keys", &keys);
  rocksdb_property_int_cf(b->db, b->cf[sid], "rocksdb.estimate-live-data-size", &live);
  rocksdb_property_int_cf(b->db, b->cf[sid], "rocksdb.cur-size-all-mem-tables", &mem);
  int64_t n = (int64_t)keys, size = (int64_t)(live + mem);
  if (b->wc_on && sid < b->wc.n_pend) {
    n += b->wc.pend[sid].entries;
    size += b->wc.pend[sid].bytes;
  }
  *entries = n > 0 ? (uint64_t)n : 0;
  *bytes = size > 0 ? (uint64_t)size : 0;
  return 0;
}

static void rdb_free(sl__backend *be);
static int rdb_native_checkpoint(sl__backend *be, const char *dir);
static int rdb_native_adopt(sl__backend *be, const sl__conf *conf, const char *dir);
static int rdb_native_restore(sl__backend *dst, const sl__conf *conf, const char *dir);
static int rdb_native_check(const char *dir, sl__problem_fn report, void *arg, char *err,
                            size_t errcap);

const sl__backend_vt sl__rocksdb_vt = {
    .name = "rocksdb",
    .add_state = rdb_add_state,
    .get = rdb_get,
    .put = rdb_put,
    .append = rdb_append,
    .del = rdb_del,
    .iter = rdb_iter,
    .snapshot = rdb_snapshot,
    .snap_iter = rdb_snap_iter,
    .snap_release = rdb_snap_release,
    .free = rdb_free,
    .native_checkpoint = rdb_native_checkpoint,
    .native_adopt = rdb_native_adopt,
    .native_restore = rdb_native_restore,
    .native_check = rdb_native_check,
    .state_stats = rdb_state_stats,
};

static void rdb_free(sl__backend *be) {
  rdb_backend *b = (rdb_backend *)be;
  if (b->pinned) rocksdb_pinnableslice_destroy(b->pinned);
  if (b->db) {
    for (uint32_t i = 0; i < be->n_states; i++)
      if (b->cf[i] && b->cf[i] != b->default_cf)
        rocksdb_column_family_handle_destroy(b->cf[i]);
    if (b->default_cf) rocksdb_column_family_handle_destroy(b->default_cf);
    rocksdb_close(b->db);
  }
  if (b->wb) rocksdb_writebatch_destroy(b->wb);
  if (b->wc_on) sl__rc_free(&b->wc);
  sl__free(b->scratch);
  if (b->wo) rocksdb_writeoptions_destroy(b->wo);
  if (b->ro) rocksdb_readoptions_destroy(b->ro);
  if (b->opts) rocksdb_options_destroy(b->opts);
  if (b->cache) rocksdb_cache_destroy(b->cache);
  if (b->path) sl__rm_rf(b->path);
  workdir_release(b->wd);
  sl__backend_meta_free(be);
  sl__free(b->cf);
  sl__free(b->key);
  sl__free(b->path);
  sl__free(b);
}

/* ---- open ----------------------------------------------------------------- */

static rocksdb_options_t *make_options(const sl__conf *conf,
                                       rocksdb_cache_t **cache,
                                       int compression) {
  rocksdb_options_t *o = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(o, 1);
  rocksdb_options_set_create_missing_column_families(o, 1);
  rocksdb_options_set_compression(o, compression);
  rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
  rocksdb_options_set_write_buffer_size(
      o, (size_t)SL__CONF_I(conf, ROCKSDB_WRITE_BUFFER));
  rocksdb_options_set_max_write_buffer_number(
      o, (int)SL__CONF_I(conf, ROCKSDB_WRITE_BUFFERS));
  rocksdb_options_set_max_background_jobs(
      o, (int)SL__CONF_I(conf, ROCKSDB_THREADS));
  rocksdb_options_set_keep_log_file_num(o, 2);
  rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0.1);
  rocksdb_options_set_memtable_whole_key_filtering(o, 1);
  rocksdb_options_set_merge_operator(
      o, rocksdb_mergeoperator_create(NULL, merge_destroy, merge_full,
                                      merge_partial, merge_delete_value,
                                      merge_name));

  rocksdb_block_based_table_options_t *t =
      rocksdb_block_based_options_create();
  rocksdb_block_based_options_set_block_size(
      t, (size_t)SL__CONF_I(conf, ROCKSDB_BLOCK_SIZE));
  int64_t cache_size = SL__CONF_I(conf, ROCKSDB_BLOCK_CACHE);
  if (cache_size > 0) {
    *cache = rocksdb_cache_create_lru((size_t)cache_size);
    rocksdb_block_based_options_set_block_cache(t, *cache);
  } else {
    rocksdb_block_based_options_set_no_block_cache(t, 1);
  }
  rocksdb_block_based_options_set_filter_policy(
      t, rocksdb_filterpolicy_create_bloom_full(10));
  rocksdb_options_set_block_based_table_factory(o, t);
  rocksdb_block_based_options_destroy(t);
  return o;
}

/* Opens the DB at b->path (fresh).  On failure: the RocksDB message in
 * *rerr (rocksdb_free it). */
static int open_db(rdb_backend *b, const sl__conf *conf, char **rerr) {
  int compression = rocksdb_lz4_compression;
  for (;;) {
    b->opts = make_options(conf, &b->cache, compression);
    const char *names[1] = {"default"};
    const rocksdb_options_t *cf_opts[1] = {b->opts};
    rocksdb_column_family_handle_t *handles[1] = {NULL};
    *rerr = NULL;
    b->db = rocksdb_open_column_families(b->opts, b->path, 1, names, cf_opts,
                                         handles, rerr);
    if (b->db && !*rerr) {
      b->default_cf = handles[0];
      return 0;
    }
    rocksdb_options_destroy(b->opts);
    b->opts = NULL;
    if (b->cache) rocksdb_cache_destroy(b->cache);
    b->cache = NULL;
    /* A build without LZ4 refuses the option: use no compression. */
    if (compression != rocksdb_no_compression && *rerr &&
        strstr(*rerr, "ompression")) {
      rocksdb_free(*rerr);
      compression = rocksdb_no_compression;
      sl__rm_rf(b->path);
      continue;
    }
    return -SL_EIO;
  }
}

int sl__rocksdb_backend_open(const sl__conf *conf, const char *instance,
                             int kg_lo, int kg_hi, int max_parallelism,
                             sl__backend **out, char *err, size_t errcap) {
  *out = NULL;
  if (kg_lo < 0 || kg_hi < kg_lo || kg_hi > 0xFFFF) {
    sl__fmt(err, errcap,
            "RocksDB backend: invalid key-group range [%d, %d] (0..65535)",
            kg_lo, kg_hi);
    return -SL_EINVAL;
  }
  rdb_backend *b = sl__calloc(1, sizeof *b);
  if (!b) goto oom;
  b->base.vt = &sl__rocksdb_vt;
  b->base.kg_lo = kg_lo;
  b->base.kg_hi = kg_hi;
  b->base.max_parallelism = max_parallelism;

  /* <job dir>/<instance>-<n>; '/' in the instance name becomes '_'. */
  if (!instance || !*instance) instance = "state";
  int rc;
  b->wd = workdir_acquire(conf, &rc, err, errcap);
  if (!b->wd) {
    rdb_free(&b->base);
    return rc;
  }
  size_t cap = strlen(b->wd->path) + strlen(instance) + 24;
  b->path = sl__malloc(cap);
  b->key_cap = 256;
  b->key = sl__malloc(b->key_cap);
  if (!b->path || !b->key) {
    sl__free(b->path);
    b->path = NULL;
    goto oom;
  }
  snprintf(b->path, cap, "%s/%s-%u", b->wd->path, instance,
           atomic_fetch_add(&g_dir_counter, 1));
  for (char *p = b->path + strlen(b->wd->path) + 1; *p; p++)
    if (*p == '/') *p = '_';

  char *rerr = NULL;
  if (open_db(b, conf, &rerr)) {
    sl__fmt(err, errcap, "RocksDB backend: cannot open '%s': %s", b->path,
            rerr ? rerr : "unknown error");
    rocksdb_free(rerr);
    rdb_free(&b->base);
    return -SL_EIO;
  }
  b->wo = rocksdb_writeoptions_create();
  rocksdb_writeoptions_disable_WAL(b->wo, 1);
  b->ro = rocksdb_readoptions_create();
  int64_t wc = SL__CONF_I(conf, ROCKSDB_WRITE_CACHE);
  if (wc > 0) {
    b->wb = rocksdb_writebatch_create();
    if (sl__rc_init(&b->wc, (size_t)wc)) {
      sl__fmt(err, errcap, "RocksDB backend: out of memory for the %lld-byte write cache "
              "of '%s' (lower state.backend.rocksdb.write-cache.size)", (long long)wc, b->path);
      rdb_free(&b->base);
      return -SL_ENOMEM;
    }
    b->wc_on = 1;
  }
  b->min_free = SL__CONF_I(conf, ROCKSDB_MIN_FREE);
  b->until_check = 1024;
  if ((rc = check_free_space(b, err, errcap))) {
    rdb_free(&b->base);
    return rc;
  }
  *out = &b->base;
  return 0;
oom:
  sl__fmt(err, errcap, "RocksDB backend: out of memory opening instance '%s'",
          instance ? instance : "?");
  if (b) rdb_free(&b->base);
  return -SL_ENOMEM;
}

/* ---- native checkpoints --------------------------------------------------
 * rocksdb_checkpoint_create flushes the memtables and hard-links the live
 * SST files into `dir`: unchanged SST files are shared between consecutive
 * checkpoints (the basis of incremental checkpoints).  A small text file
 * SLUICE_STATES records the states' kinds and the key-group range, which
 * RocksDB does not know.  Restoring opens the checkpoint read-only and
 * copies the key groups of the destination's range into it, whatever its
 * backend: that is how a checkpoint taken at P=2 restores at P=4. */

#define STATES_FILE "SLUICE_STATES"

static int rdb_native_checkpoint(sl__backend *be, const char *dir) {
  rdb_backend *b = (rdb_backend *)be;
  if (be->vt != &sl__rocksdb_vt) {
    sl__fmt(be->err, sizeof be->err, "native checkpoints need the rocksdb backend");
    return -SL_EINVAL;
  }
  int rc = flush_cache(b, 0); /* the checkpoint is of the DB's files */
  if (rc) return rc;
  char *rerr = NULL;
  rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(b->db, &rerr);
  if (!rerr) rocksdb_checkpoint_create(cp, dir, 0 /* always flush */, &rerr);
  if (cp) rocksdb_checkpoint_object_destroy(cp);
  if (rerr) {
    sl__fmt(be->err, sizeof be->err, "RocksDB backend: checkpoint of '%s' into '%s': %s",
            b->path, dir, rerr);
    rocksdb_free(rerr);
    return -SL_EIO;
  }
  char path[4096], tmp[4200];
  sl__fmt(path, sizeof path, "%s/%s", dir, STATES_FILE);
  sl__fmt(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  int ok = f != NULL;
  if (f) {
    ok = fprintf(f, "sluice-rocksdb-checkpoint 1 %d %d %d\n", be->max_parallelism,
                 be->kg_lo, be->kg_hi) > 0;
    for (uint32_t i = 0; ok && i < be->n_states; i++)
      ok = fprintf(f, "%d %s\n", (int)be->states[i].kind, be->states[i].name) > 0;
    ok = (fflush(f) == 0) && ok && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
  }
  if (!ok || rename(tmp, path)) {
    sl__fmt(be->err, sizeof be->err, "RocksDB backend: cannot write '%s': %s", path,
            strerror(errno));
    return -SL_EIO;
  }
  return 0;
}

/* Complete when its CURRENT and state list are there (RocksDB checks its
 * SST files' block checksums as it reads). */
static int rdb_native_check(const char *dir, sl__problem_fn report, void *arg, char *err,
                            size_t errcap) {
  int rc = 0;
  for (int k = 0; (!rc || report) && k < 2; k++) {
    char file[4200], e[1024];
    sl__fmt(file, sizeof file, "%s/%s", dir, k ? STATES_FILE : "CURRENT");
    if (access(file, R_OK)) {
      sl__fmt(e, sizeof e, "'%s' is missing: the RocksDB checkpoint is incomplete", file);
      if (!rc) sl__fmt(err, errcap, "%s", e);
      rc = -SL_EIO;
      if (report) report(arg, e);
    }
  }
  return rc;
}

/* link(2) src to dst (link: an immutable SST file), or copy it: a file
 * RocksDB appends to (MANIFEST) must not be shared with the checkpoint, and
 * links do not cross file systems. */
static int link_or_copy(const char *src, const char *dst, int link_it) {
  if (link_it && link(src, dst) == 0) return 0;
  if (link_it && errno != EXDEV && errno != EPERM) return -errno;
  FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
  char buf[1 << 16];
  size_t n;
  int rc = in && out ? 0 : -errno;
  while (!rc && (n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) rc = -EIO;
  if (in) fclose(in);
  if (out && fclose(out) && !rc) rc = -EIO;
  return rc;
}

static int rdb_native_adopt(sl__backend *be, const sl__conf *conf, const char *dir) {
  rdb_backend *b = (rdb_backend *)be;
  char path[4096], line[1024];
  if (be->vt != &sl__rocksdb_vt || be->n_states) return 1;
  SL_ASSERT(!b->wc_on || b->wc.n == 0); /* no states: nothing cached */
  sl__fmt(path, sizeof path, "%s/%s", dir, STATES_FILE);
  FILE *f = fopen(path, "r");
  int maxp = 0, lo = 0, hi = -1, version = 0;
  if (!f || !fgets(line, sizeof line, f) ||
      sscanf(line, "sluice-rocksdb-checkpoint %d %d %d %d", &version, &maxp, &lo, &hi) != 4 ||
      version != 1 || maxp != be->max_parallelism || lo != be->kg_lo || hi != be->kg_hi) {
    if (f) fclose(f);
    return 1; /* not this backend's range (or damaged): copy instead */
  }
  int kinds[4096], n = 0;
  char *names[1 + 4096];
  names[0] = "default";
  while (n < 4096 && fgets(line, sizeof line, f)) {
    char name[1000];
    if (sscanf(line, "%d %999[^\n]", &kinds[n], name) != 2) continue;
    if (!(names[1 + n] = sl__strdup(name))) break;
    n++;
  }
  fclose(f);
  /* the empty DB goes; the checkpoint's files (hard links) take its place */
  rocksdb_column_family_handle_destroy(b->default_cf);
  b->default_cf = NULL;
  rocksdb_close(b->db);
  b->db = NULL;
  sl__rm_rf(b->path);
  int rc = mkdir(b->path, 0700) ? -errno : 0;
  DIR *d = rc ? NULL : opendir(dir);
  struct dirent *e;
  while (!rc && d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || !strcmp(e->d_name, STATES_FILE)) continue;
    char src[4200], dst[4200];
    sl__fmt(src, sizeof src, "%s/%s", dir, e->d_name);
    sl__fmt(dst, sizeof dst, "%s/%s", b->path, e->d_name);
    size_t l = strlen(e->d_name);
    rc = link_or_copy(src, dst, l > 4 && !strcmp(e->d_name + l - 4, ".sst"));
  }
  if (d) closedir(d);
  rocksdb_column_family_handle_t **cfs = sl__calloc((size_t)n + 1, sizeof *cfs);
  const rocksdb_options_t **cf_opts = sl__calloc((size_t)n + 1, sizeof *cf_opts);
  char *rerr = NULL;
  if (!rc && (!cfs || !cf_opts)) rc = -ENOMEM;
  if (!rc) {
    for (int i = 0; i <= n; i++) cf_opts[i] = b->opts;
    b->db = rocksdb_open_column_families(b->opts, b->path, n + 1, (const char *const *)names,
                                         cf_opts, cfs, &rerr);
    if (rerr) rc = -EIO;
  }
  if (!rc) {
    b->default_cf = cfs[0];
    for (int i = 0; !rc && i < n; i++) {
      uint32_t sid;
      int is_new;
      rc = sl__backend_register(be, names[1 + i], (sl__state_kind)kinds[i], &sid, &is_new);
      if (!rc && sid >= b->cf_cap) {
        uint32_t cap = sid + 8;
        rocksdb_column_family_handle_t **cf = sl__realloc(b->cf, cap * sizeof *cf);
        if (!cf) rc = -ENOMEM;
        else b->cf = cf, b->cf_cap = cap;
      }
      if (!rc) b->cf[sid] = cfs[1 + i];
    }
  }
  if (rc)
    sl__fmt(be->err, sizeof be->err, "RocksDB backend: cannot open checkpoint '%s' as '%s': %s",
            dir, b->path, rerr ? rerr : strerror(-rc));
  rocksdb_free(rerr);
  for (int i = 1; i <= n; i++) sl__free(names[i]);
  sl__free(cfs);
  sl__free(cf_opts);
  return rc ? (rc == -ENOMEM ? -SL_ENOMEM : -SL_EIO) : 0;
}

typedef struct restore_ctx {
  sl__backend *dst;
  int kg;
  uint32_t sid;
} restore_ctx;

static int rdb_native_restore(sl__backend *dst, const sl__conf *conf,
                              const char *dir) {
  char path[4096], line[1024];
  sl__fmt(path, sizeof path, "%s/%s", dir, STATES_FILE);
  FILE *f = fopen(path, "r");
  int maxp = 0, lo = 0, hi = -1, version = 0;
  if (!f || !fgets(line, sizeof line, f) ||
      sscanf(line, "sluice-rocksdb-checkpoint %d %d %d %d", &version, &maxp, &lo, &hi) != 4 ||
      version != 1) {
    sl__fmt(dst->err, sizeof dst->err,
            "RocksDB checkpoint '%s' has no valid %s (damaged or not a checkpoint)", dir,
            STATES_FILE);
    if (f) fclose(f);
    return -SL_EIO;
  }
  if (maxp != dst->max_parallelism) {
    fclose(f);
    sl__fmt(dst->err, sizeof dst->err,
            "RocksDB checkpoint '%s' was written with pipeline.max-parallelism %d; "
            "this job uses %d",
            dir, maxp, dst->max_parallelism);
    return -SL_ESTATE;
  }
  /* states: kinds and names; CF handles are opened in the same order */
  char *names[1 + 4096];
  uint32_t sids[4096];
  int n = 0, rc = 0;
  names[0] = sl__strdup("default");
  while (n < 4096 && fgets(line, sizeof line, f)) {
    int kind;
    char name[1000];
    if (sscanf(line, "%d %999[^\n]", &kind, name) != 2) continue;
    names[1 + n] = sl__strdup(name);
    if (!rc) rc = dst->vt->add_state(dst, name, (sl__state_kind)kind, &sids[n]);
    n++;
  }
  fclose(f);
  rocksdb_cache_t *cache = NULL;
  rocksdb_options_t *o = make_options(conf, &cache, rocksdb_lz4_compression);
  const rocksdb_options_t **cf_opts = sl__calloc((size_t)n + 1, sizeof *cf_opts);
  rocksdb_column_family_handle_t **cfs = sl__calloc((size_t)n + 1, sizeof *cfs);
  rocksdb_t *db = NULL;
  char *rerr = NULL;
  if (!rc && cf_opts && cfs) {
    for (int i = 0; i <= n; i++) cf_opts[i] = o;
    db = rocksdb_open_for_read_only_column_families(o, dir, n + 1, (const char *const *)names,
                                                   cf_opts, cfs, 0, &rerr);
    if (rerr) {
      sl__fmt(dst->err, sizeof dst->err, "cannot open RocksDB checkpoint '%s': %s", dir, rerr);
      rocksdb_free(rerr);
      rc = -SL_EIO;
    }
  } else if (!rc) {
    rc = -SL_ENOMEM;
  }
  /* copy the overlap of [lo, hi] and the destination's range */
  rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
  rocksdb_readoptions_set_fill_cache(ro, 0);
  for (int i = 0; db && !rc && i < n; i++) {
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(db, ro, cfs[1 + i]);
    int from = SL__MAX(lo, dst->kg_lo), to = SL__MIN(hi, dst->kg_hi);
    uint8_t start[2] = {(uint8_t)(from >> 8), (uint8_t)from};
    for (rocksdb_iter_seek(it, (const char *)start, 2); !rc && rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
      size_t klen, vlen;
      const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
      const char *v = rocksdb_iter_value(it, &vlen);
      if (klen < 2) continue;
      int kg = k[0] << 8 | k[1];
      if (kg > to) break;
      rc = dst->vt->put(dst, kg, sids[i], k + 2, (uint32_t)(klen - 2),
                        sl__ck_hash(k + 2, (uint32_t)(klen - 2)), v, (uint32_t)vlen);
    }
    rocksdb_iter_get_error(it, &rerr);
    if (rerr && !rc) {
      sl__fmt(dst->err, sizeof dst->err, "reading RocksDB checkpoint '%s': %s", dir, rerr);
      rc = -SL_EIO;
    }
    if (rerr) rocksdb_free(rerr);
    rerr = NULL;
    rocksdb_iter_destroy(it);
  }
  rocksdb_readoptions_destroy(ro);
  if (db) {
    for (int i = 0; i <= n; i++)
      if (cfs[i]) rocksdb_column_family_handle_destroy(cfs[i]);
    rocksdb_close(db);
  }
  rocksdb_options_destroy(o);
  if (cache) rocksdb_cache_destroy(cache);
  for (int i = 0; i <= n; i++) sl__free(names[i]);
  sl__free(cf_opts);
  sl__free(cfs);
  return rc;
}

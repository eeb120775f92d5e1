/*
 * test_rocksdb_dir.c -- where the RocksDB backend keeps its working files
 * and who may see them:
 *   - by default under $TMPDIR/sluice-<uid>/, created with mode 0700, and
 *     in it one job-<pid>-<n>/ per process (0700, with a lock file the
 *     process holds), removed when the last backend of the process closes;
 *   - a leftover job directory of a dead process (its lock file not held)
 *     is removed when the next process starts; a live one (lock held) and
 *     anything else in the directory are left alone;
 *   - a default directory that is group/world-writable or a symbolic link
 *     is refused with a message naming it and what to do;
 *   - an explicitly configured directory is used as given, but the job
 *     directory in it is private (0700) too.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>

#include "state/rocksdb_backend.h"
#include "test.h"
#include "test_util.h"

static int open_be(const char *dir, sl__backend **be, char *err, size_t errcap) {
  sl__conf conf;
  CHECK_EQ_INT(sl__conf_init(&conf), 0);
  if (dir) CHECK_EQ_INT(sl__conf_set(&conf, "state.backend.rocksdb.dir", dir, err, errcap), 0);
  err[0] = 0;
  int rc = sl__rocksdb_backend_open(&conf, "op-1-0", 0, 7, 8, be, err, errcap);
  sl__conf_free(&conf);
  return rc;
}

/* The single entry of dir named job-*, in name (cap bytes); count of all. */
static int job_entries(const char *dir, char *name, size_t cap) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  while (d && (e = readdir(d)))
    if (!strncmp(e->d_name, "job-", 4)) {
      snprintf(name, cap, "%s", e->d_name);
      n++;
    }
  if (d) closedir(d);
  return n;
}

static int mode_of(const char *path) {
  struct stat st;
  return lstat(path, &st) ? -1 : (int)(st.st_mode & 07777);
}

static void set_tmpdir(const char *name, char *base, size_t cap) {
  char t[700];
  tpath(t, sizeof t, name);
  rm_rf(t);
  CHECK_EQ_INT(mkdir_p(t), 0);
  setenv("TMPDIR", t, 1);
  snprintf(base, cap, "%s/sluice-%ld", t, (long)geteuid());
}

/* (a) the default directory: $TMPDIR/sluice-<uid>, 0700; job dir 0700
 * with a lock file and the instance's DB; all gone after free */
static void test_default_dir(void) {
  char base[800], job[256], path[1200], err[1024];
  set_tmpdir("tmp-a", base, sizeof base);
  sl__backend *be = NULL;
  int rc = open_be(NULL, &be, err, sizeof err);
  CHECK_EQ_INT(rc, 0);
  if (rc) {
    fprintf(stderr, "  %s\n", err);
    return;
  }
  CHECK_EQ_INT(mode_of(base), 0700);
  struct stat st;
  CHECK(lstat(base, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid());
  CHECK_EQ_INT(job_entries(base, job, sizeof job), 1);
  char want[64];
  snprintf(want, sizeof want, "job-%ld-", (long)getpid());
  CHECK(!strncmp(job, want, strlen(want)));
  snprintf(path, sizeof path, "%s/%s", base, job);
  CHECK_EQ_INT(mode_of(path), 0700);
  snprintf(path, sizeof path, "%s/%s/lock", base, job);
  CHECK(mode_of(path) >= 0);
  CHECK_EQ_INT(mode_of(path) & 077, 0);
  /* the lock is held: another open file description cannot take it */
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  CHECK(flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK);
  if (fd >= 0) close(fd);
  sl__backend_free(be);
  CHECK_EQ_INT(job_entries(base, job, sizeof job), 0);
  unsetenv("TMPDIR");
}

/* (b) a dead process's job directory goes, a live one stays */
static void test_leftovers(void) {
  char base[800], dead[1000], live[1000], other[1000], p[1200], err[1024];
  set_tmpdir("tmp-b", base, sizeof base);
  CHECK_EQ_INT(mkdir(base, 0700), 0);
  /* dead: a lock file nobody holds, and some state */
  snprintf(dead, sizeof dead, "%s/job-999999-3", base);
  CHECK_EQ_INT(mkdir(dead, 0700), 0);
  snprintf(p, sizeof p, "%s/lock", dead);
  close(open(p, O_WRONLY | O_CREAT, 0600));
  snprintf(p, sizeof p, "%s/op-1-0-0", dead);
  CHECK_EQ_INT(mkdir(p, 0700), 0);
  snprintf(p, sizeof p, "%s/op-1-0-0/000001.sst", dead);
  close(open(p, O_WRONLY | O_CREAT, 0600));
  /* live: its lock held by this test */
  snprintf(live, sizeof live, "%s/job-999998-0", base);
  CHECK_EQ_INT(mkdir(live, 0700), 0);
  snprintf(p, sizeof p, "%s/lock", live);
  int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
  /* not ours to judge */
  snprintf(other, sizeof other, "%s/notes", base);
  CHECK_EQ_INT(mkdir(other, 0700), 0);

  sl__backend *be = NULL;
  int rc = open_be(NULL, &be, err, sizeof err);
  CHECK_EQ_INT(rc, 0);
  if (rc) fprintf(stderr, "  %s\n", err);
  CHECK_EQ_INT(mode_of(dead), -1); /* removed */
  CHECK_EQ_INT(mode_of(live), 0700);
  CHECK_EQ_INT(mode_of(other), 0700);
  sl__backend_free(be);
  /* the live one stays live; once its owner lets go, the next start
   * removes it */
  CHECK_EQ_INT(mode_of(live), 0700);
  close(fd);
  rc = open_be(NULL, &be, err, sizeof err);
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_INT(mode_of(live), -1);
  if (!rc) sl__backend_free(be);
  unsetenv("TMPDIR");
}

/* (c) an unsafe default directory is refused */
static void test_unsafe_default(void) {
  char base[800], err[1024], target[800];
  sl__backend *be = (sl__backend *)1;
  /* world-writable */
  set_tmpdir("tmp-c", base, sizeof base);
  CHECK_EQ_INT(mkdir(base, 0700), 0);
  CHECK_EQ_INT(chmod(base, 0777), 0);
  int rc = open_be(NULL, &be, err, sizeof err);
  CHECK(rc < 0);
  CHECK(be == NULL);
  CHECK_CONTAINS(err, base);
  CHECK_CONTAINS(err, "writable");
  CHECK_CONTAINS(err, "state.backend.rocksdb.dir");
  fprintf(stderr, "  (expected) %s\n", err);
  CHECK_EQ_INT(job_entries(base, target, sizeof target), 0);
  /* group-writable */
  CHECK_EQ_INT(chmod(base, 0770), 0);
  be = (sl__backend *)1;
  CHECK(open_be(NULL, &be, err, sizeof err) < 0);
  CHECK(be == NULL);
  CHECK_CONTAINS(err, "writable");
  /* a symbolic link (to a directory of ours) is not followed */
  CHECK_EQ_INT(rmdir(base), 0);
  tpath(target, sizeof target, "tmp-c-target");
  rm_rf(target);
  CHECK_EQ_INT(mkdir(target, 0700), 0);
  CHECK_EQ_INT(symlink(target, base), 0);
  be = (sl__backend *)1;
  rc = open_be(NULL, &be, err, sizeof err);
  CHECK(rc < 0);
  CHECK(be == NULL);
  CHECK_CONTAINS(err, base);
  CHECK_CONTAINS(err, "symbolic link");
  fprintf(stderr, "  (expected) %s\n", err);
  CHECK_EQ_INT(job_entries(target, base, sizeof base), 0);
  unsetenv("TMPDIR");
}

/* (d) a configured directory is used as given (even group-writable), the
 * job directory in it is private */
static void test_configured_dir(void) {
  char dir[700], job[256], p[1000], err[1024];
  tpath(dir, sizeof dir, "configured");
  rm_rf(dir);
  CHECK_EQ_INT(mkdir(dir, 0700), 0);
  CHECK_EQ_INT(chmod(dir, 0775), 0);
  sl__backend *be = NULL;
  int rc = open_be(dir, &be, err, sizeof err);
  CHECK_EQ_INT(rc, 0);
  if (rc) {
    fprintf(stderr, "  %s\n", err);
    return;
  }
  CHECK_EQ_INT(mode_of(dir), 0775);
  CHECK_EQ_INT(job_entries(dir, job, sizeof job), 1);
  snprintf(p, sizeof p, "%s/%s", dir, job);
  CHECK_EQ_INT(mode_of(p), 0700);
  sl__backend_free(be);
  CHECK_EQ_INT(job_entries(dir, job, sizeof job), 0);
}

int main(void) {
  scratch_init("/tmp/sl_test_rocksdb_dir", 1);
  RUN(test_default_dir);
  RUN(test_leftovers);
  RUN(test_unsafe_default);
  RUN(test_configured_dir);
  TEST_MAIN_END();
}

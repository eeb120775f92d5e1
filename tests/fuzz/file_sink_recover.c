/*
 * file_sink_recover.c -- fuzzes the file sink's recovery (its decoder of
 * the pre-committed part files a checkpoint names, then the truncating,
 * renaming and clean-up it does), through the sink vtable's recover() --
 * src/connectors/file_sink.c itself is not called directly.  Each input
 * runs against a fresh scratch output: a directory sink (bit 0 of byte 0
 * clear) holding part-0-0, part-1-0 and .part-0-1.inprogress, or a
 * single-file sink out.txt with out.txt.inprogress.  The rest of the input
 * is up to four old subtasks' blobs (fz_blobs).
 *
 * The harness interposes stat(), lstat(), rename() and unlink(): any path
 * outside the scratch output directory is refused (ENOENT / EACCES) so a
 * crafted name such as "../x" can never truncate, move or delete a file
 * elsewhere while the suite runs.  Each refusal is a path-traversal
 * finding: a crash (SLUICE_FUZZ_ESCAPE=warn only prints it).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "connectors/connector.h"
#include "core/core.h"
#include "fuzz_util.h"
#include "runtime/runtime.h"
#include "runtime/source_sink.h"

static char g_out[600];   /* the scratch output directory, absolute */
static int g_guard;        /* paths are checked while recover() runs */
static int g_abort = -1;

/* Is path (absolute, or relative to the working directory) lexically
 * inside g_out?  "." and ".." components are resolved. */
static int inside(const char *path) {
  char buf[8192], *parts[512];
  int n = 0;
  if (path[0] != '/') {
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return 0;
    snprintf(buf, sizeof buf, "%s/%s", cwd, path);
  } else {
    snprintf(buf, sizeof buf, "%s", path);
  }
  for (char *save = NULL, *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
    if (!strcmp(t, ".")) continue;
    if (!strcmp(t, "..")) {
      if (n) n--;
      continue;
    }
    if (n == 512) return 0;
    parts[n++] = t;
  }
  char norm[8192];
  size_t o = 0;
  norm[0] = 0;
  for (int i = 0; i < n && o < sizeof norm; i++)
    o += (size_t)snprintf(norm + o, sizeof norm - o, "/%s", parts[i]);
  size_t l = strlen(g_out);
  return !strncmp(norm, g_out, l) && (norm[l] == '/' || norm[l] == 0);
}

static int refuse(const char *op, const char *path, int err) {
  if (g_abort < 0) {
    const char *e = getenv("SLUICE_FUZZ_ESCAPE");
    g_abort = !(e && !strcmp(e, "warn"));
  }
  static int said;
  if (!said++ || g_abort)
    fprintf(stderr, "file_sink_recover: recover() tried to %s '%s', outside its output "
                    "directory (path traversal; refused)\n", op, path);
  if (g_abort) abort();
  errno = err;
  return -1;
}

int stat(const char *path, struct stat *st) {
  if (g_guard && !inside(path)) return refuse("stat", path, ENOENT);
  return fstatat(AT_FDCWD, path, st, 0);
}
int lstat(const char *path, struct stat *st) {
  if (g_guard && !inside(path)) return refuse("lstat", path, ENOENT);
  return fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
int rename(const char *from, const char *to) {
  if (g_guard && !inside(from)) return refuse("rename", from, EACCES);
  if (g_guard && !inside(to)) return refuse("rename to", to, EACCES);
  return renameat(AT_FDCWD, from, AT_FDCWD, to);
}
int unlink(const char *path) {
  if (g_guard && !inside(path)) return refuse("unlink", path, EACCES);
  return unlinkat(AT_FDCWD, path, 0);
}

static void put(const char *dir, const char *name, const char *text) {
  char path[800];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  fz_write(path, text, strlen(text));
}

static void fresh_output(void) {
  char d[700];
  sl__rm_rf(g_out);
  snprintf(d, sizeof d, "%s/dir", g_out);
  FZ_CHECK(sl__mkdir_p(d, NULL) == 0);
  put(d, "part-0-0", "committed line\n");
  put(d, "part-1-0", "another committed line\n");
  put(d, ".part-0-1.inprogress", "pending line one\npending line two\n");
  snprintf(d, sizeof d, "%s/single", g_out);
  FZ_CHECK(sl__mkdir_p(d, NULL) == 0);
  put(d, "out.txt", "done\n");
  put(d, "out.txt.inprogress", "in progress\nmore\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_out[0]) snprintf(g_out, sizeof g_out, "%s/out", fz_scratch());
  if (!size) return 0;
  int single = data[0] & 1;
  const uint8_t *blobs[4];
  size_t lens[4];
  int n = fz_blobs(data + 1, size - 1, 4, blobs, lens);
  fresh_output();
  char path[800];
  snprintf(path, sizeof path, single ? "%s/single/out.txt" : "%s/dir/", g_out);
  sl_sink *sink = sl_file_sink(path);
  FZ_CHECK(sink != NULL);
  static const char *const names[4] = {"fuzz-blob-0", "fuzz-blob-1", "fuzz-blob-2",
                                       "fuzz-blob-3"};
  static sl__conf conf;
  if (!conf.v[0].text) FZ_CHECK(sl__conf_init(&conf) == 0);
  sl_ctx ctx;
  sl__ctx_main(&ctx, &conf, "fuzz", "file-sink", 1);
  g_guard = 1;
  int rc = sink->ops->recover(sink->ud, &ctx, blobs, lens, n, names);
  g_guard = 0;
  if (rc) FZ_CHECK(ctx.msg[0] != 0); /* a failed recovery says why */
  sink->ops->free(sink->ud);
  sl__free(sink);
  return 0;
}

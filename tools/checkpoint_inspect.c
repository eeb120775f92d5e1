/*
 * checkpoint_inspect.c -- `sluice checkpoint inspect PATH`: what a
 * checkpoint holds (operators, subtasks, files and sizes, source positions)
 * after verifying every checksum.  PATH is a chk-<n> directory (that one is
 * verified) or a checkpoints directory: then every retained checkpoint is
 * verified, each damaged one is named with its damaged file, and the one a
 * restore (`--restore latest`) would use -- the newest intact one -- is
 * shown.  Directories without _metadata (a checkpoint still being written,
 * or abandoned by a crash) are listed as incomplete; restores skip them and
 * they are not damage.  Exit 0 when everything checked is intact, 1 when
 * any checkpoint is damaged or none can be restored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/storage.h"
#include "cli.h"
#include "core/core.h"

static const char *kind_name(int k) {
  static const char *names[] = {"source",     "map",      "filter",  "flat_map",
                                "process",    "key_by",   "reduce",  "union",
                                "sink",       "connect",  "broadcast_connect",
                                "timestamps", "keyed_process", "window", "interval_join"};
  return k >= 0 && k < (int)(sizeof names / sizeof names[0]) ? names[k] : "?";
}

static void show(const char *chk, const sl__ckpt_meta *m) {
  char err[1024];
  printf("checkpoint %lld at %s\n", (long long)m->id, chk);
  printf("taken: %lld ms since the epoch; parallelism %d; max parallelism %d; %d operators\n",
         (long long)m->taken_ms, m->P, m->max_parallelism, m->n_ops);
  uint64_t total = 0;
  static const char *files[5] = {"keyed", "opstate", "bstate", "meta", "keyed(rocksdb, incremental)"};
  for (int op = 0; op < m->n_ops; op++) {
    printf("operator %d '%s' (%s)\n", op, m->op_name[op], kind_name(m->op_kind[op]));
    for (int s = 0; s < m->P; s++) {
      const sl__ckpt_inst *ci = &m->inst[op * m->P + s];
      printf("  subtask %d: %llu bytes:", s, (unsigned long long)ci->bytes);
      for (int f = 0; f < 5; f++)
        if (ci->flags & (1 << f)) printf(" %s", files[f]);
      if (m->op_kind[op] == 0 && (ci->flags & SL__F_META)) {
        /* a source: its position follows the 8-byte watermark */
        char p[4200];
        uint8_t *blob;
        size_t len;
        sl__ckpt_file(p, sizeof p, chk, op, s, "meta");
        if (!sl__frame_read(p, SL__MAGIC_OPMETA, &blob, &len, err, sizeof err)) {
          if (len == 8 + 24) { /* sequence / datagen: first, next, step */
            uint64_t v[3];
            memcpy(v, blob + 8, 24);
            printf("; position: next index %llu (from %llu, step %llu)", (unsigned long long)v[1],
                   (unsigned long long)v[0], (unsigned long long)v[2]);
          } else if (len == 8 + 8) {
            uint64_t next;
            memcpy(&next, blob + 8, 8);
            printf("; position: next record %llu", (unsigned long long)next);
          } else {
            printf("; position: %zu bytes", len > 8 ? len - 8 : 0);
          }
          sl__free(blob);
        }
      }
      printf("\n");
      total += ci->bytes;
    }
  }
  printf("total: %llu bytes; checksums: ok\n", (unsigned long long)total);
}

static void report_damage(void *arg, const char *msg) {
  fprintf(stderr, "sluice checkpoint inspect: %s is DAMAGED: %s\n", (const char *)arg, msg);
}

/* Every retained checkpoint in dir; see the file comment. */
static int inspect_dir(const char *dir) {
  int64_t *ids = NULL;
  int n = sl__ckpt_ids(dir, &ids), complete = 0, damaged = 0, found = 0;
  char restore_chk[4096] = "";
  sl__ckpt_meta restore_m;
  for (int i = 0; i < n; i++) {
    char chk[4096], meta_path[4200], err[1024] = "";
    sl__ckpt_path(chk, sizeof chk, dir, ids[i]);
    snprintf(meta_path, sizeof meta_path, "%s/_metadata", chk);
    if (access(meta_path, F_OK)) {
      printf("checkpoint directory %s: incomplete (no _metadata: still being written or "
             "abandoned; a restore skips it)\n", chk);
      continue;
    }
    complete++;
    sl__ckpt_meta m;
    if (sl__ckpt_check(chk, &m, report_damage, chk, err, sizeof err)) {
      damaged++;
      continue;
    }
    if (!found) {
      found = 1;
      snprintf(restore_chk, sizeof restore_chk, "%s", chk);
      restore_m = m;
    } else {
      sl__ckpt_meta_free(&m);
    }
  }
  sl__free(ids);
  if (!complete) {
    fprintf(stderr, "sluice checkpoint inspect: no complete checkpoint in '%s'\n", dir);
    return SL_EXIT_FAILED;
  }
  if (found) {
    show(restore_chk, &restore_m);
    sl__ckpt_meta_free(&restore_m);
  }
  if (!damaged) return SL_EXIT_OK;
  if (found)
    fprintf(stderr,
            "sluice checkpoint inspect: %d of %d retained checkpoints are damaged (named "
            "above); a restore would use %s, the newest intact one\n",
            damaged, complete, restore_chk);
  else
    fprintf(stderr,
            "sluice checkpoint inspect: %d of %d retained checkpoints are damaged (named "
            "above): no checkpoint in %s can be restored\n",
            damaged, complete, dir);
  return SL_EXIT_FAILED;
}

int checkpoint_inspect(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: sluice checkpoint inspect PATH\n");
    return SL_EXIT_USAGE;
  }
  const char *path = argv[3];
  char err[1024] = "", meta_path[4200];
  snprintf(meta_path, sizeof meta_path, "%s/_metadata", path);
  struct stat st;
  if (!(stat(meta_path, &st) == 0 || strstr(path, "chk-"))) return inspect_dir(path);
  sl__ckpt_meta m;
  if (sl__ckpt_check(path, &m, report_damage, (void *)path, err, sizeof err))
    return SL_EXIT_FAILED;
  show(path, &m);
  sl__ckpt_meta_free(&m);
  return SL_EXIT_OK;
}

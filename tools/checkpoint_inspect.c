/*
 * checkpoint_inspect.c -- `sluice checkpoint inspect PATH`: what a
 * checkpoint holds (operators, subtasks, files and sizes, source positions)
 * after verifying every checksum.  PATH is a chk-<n> directory or a
 * checkpoints directory (its newest complete checkpoint).  Exit 0 when the
 * checkpoint is complete and intact, 1 when it is not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint/storage.h"
#include "cli.h"

static const char *kind_name(int k) {
  static const char *names[] = {"source",     "map",      "filter",  "flat_map",
                                "process",    "key_by",   "reduce",  "union",
                                "sink",       "connect",  "broadcast_connect",
                                "timestamps", "keyed_process", "window", "interval_join"};
  return k >= 0 && k < (int)(sizeof names / sizeof names[0]) ? names[k] : "?";
}

int checkpoint_inspect(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: sluice checkpoint inspect PATH\n");
    return SL_EXIT_USAGE;
  }
  const char *path = argv[3];
  char chk[4096], err[1024] = "", meta_path[4200];
  sl__ckpt_meta m;
  snprintf(meta_path, sizeof meta_path, "%s/_metadata", path);
  struct stat st;
  int rc;
  if (stat(meta_path, &st) == 0 || strstr(path, "chk-")) {
    snprintf(chk, sizeof chk, "%s", path);
    rc = sl__ckpt_verify(chk, &m, err, sizeof err);
  } else {
    rc = sl__ckpt_latest(path, chk, sizeof chk, &m, err, sizeof err);
  }
  if (rc) {
    fprintf(stderr, "sluice checkpoint inspect: %s\n", err);
    return SL_EXIT_FAILED;
  }
  printf("checkpoint %lld at %s\n", (long long)m.id, chk);
  printf("taken: %lld ms since the epoch; parallelism %d; max parallelism %d; %d operators\n",
         (long long)m.taken_ms, m.P, m.max_parallelism, m.n_ops);
  uint64_t total = 0;
  static const char *files[5] = {"keyed", "opstate", "bstate", "meta", "keyed(rocksdb, incremental)"};
  for (int op = 0; op < m.n_ops; op++) {
    printf("operator %d '%s' (%s)\n", op, m.op_name[op], kind_name(m.op_kind[op]));
    for (int s = 0; s < m.P; s++) {
      const sl__ckpt_inst *ci = &m.inst[op * m.P + s];
      printf("  subtask %d: %llu bytes:", s, (unsigned long long)ci->bytes);
      for (int f = 0; f < 5; f++)
        if (ci->flags & (1 << f)) printf(" %s", files[f]);
      if (m.op_kind[op] == 0 && (ci->flags & SL__F_META)) {
        /* a source: its position follows the 8-byte watermark */
        char p[4200];
        uint8_t *blob;
        size_t len;
        static const char MAGIC[8] = {'S', 'L', 'O', 'P', 'M', 'E', 'T', 'A'};
        sl__ckpt_file(p, sizeof p, chk, op, s, "meta");
        if (!sl__frame_read(p, MAGIC, &blob, &len, err, sizeof err)) {
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
          free(blob);
        }
      }
      printf("\n");
      total += ci->bytes;
    }
  }
  printf("total: %llu bytes; checksums: ok\n", (unsigned long long)total);
  sl__ckpt_meta_free(&m);
  return SL_EXIT_OK;
}

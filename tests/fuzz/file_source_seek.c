/*
 * file_source_seek.c -- fuzzes the file source's position decoder
 * (fs_seek in src/connectors/file_source.c, through the source's ops):
 * a reader of subtask s of P, bounded (three files cut into 16-byte
 * splits) or continuous (monitoring a directory), is moved to the
 * positions in the input (up to four old subtasks' blobs, fz_blobs).
 * Byte 0: bit 0 continuous, bits 1..7 P = 1 + b % 4 and s = (b / 4) % P.
 * Property: the reader's own position afterwards is a fixed point -- a
 * fresh reader moved there reports the same bytes.
 */
#include "connectors/connector.h"
#include "fuzz_util.h"
#include "runtime/runtime.h"
#include "runtime/source_sink.h"

static sl__conf g_conf[2];
static sl_source *g_src[2];

static void setup(void) {
  char dir[600], path[700], err[512];
  snprintf(dir, sizeof dir, "%s/in", fz_scratch());
  FZ_CHECK(sl__mkdir_p(dir, NULL) == 0);
  static const char *const files[3] = {"a.txt", "b.txt", "c.txt"};
  static const char *const text[3] = {
      "one\ntwo\nthree\nfour\nfive\n", "a longer line of text that spans several splits\nend\n",
      ""};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    fz_write(path, text[i], strlen(text[i]));
  }
  for (int c = 0; c < 2; c++) {
    FZ_CHECK(sl__conf_init(&g_conf[c]) == 0);
    FZ_CHECK(sl__conf_set(&g_conf[c], "source.file.split-size", "16", err, sizeof err) == 0);
    FZ_CHECK(sl__conf_set(&g_conf[c], "source.monitor-interval", c ? "1s" : "0", err,
                          sizeof err) == 0);
    g_src[c] = sl_file_source(dir);
    FZ_CHECK(g_src[c] != NULL);
    sl_ctx ctx;
    sl__ctx_main(&ctx, &g_conf[c], "fuzz", "file-source", 4);
    FZ_CHECK(g_src[c]->ops->plan(g_src[c]->ud, &ctx) == 0);
  }
}

/* A reader of subtask s of P moved to blobs; its position in buf.  0, or
 * the seek's error; *len 0 when the subtask has nothing to read. */
static int seek_and_report(int c, int P, int s, const uint8_t *const *blobs,
                           const size_t *lens, int n, uint8_t *buf, size_t cap, size_t *len) {
  sl_ctx ctx; /* a subtask's context without a running job */
  sl__ctx_main(&ctx, &g_conf[c], "fuzz", "file-source", P);
  ctx.subtask = s;
  const sl_source_ops *ops = g_src[c]->ops;
  void *reader = NULL;
  *len = 0;
  FZ_CHECK(ops->open(g_src[c]->ud, &ctx, &reader) == 0);
  if (!reader) return 0;
  int rc = ops->seek(reader, &ctx, blobs, lens, n);
  if (!rc) FZ_CHECK(ops->position(reader, &ctx, buf, cap, len) == 0);
  ops->close(reader, &ctx);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_src[0]) setup();
  if (size < 2) return 0;
  int c = data[0] & 1, P = 1 + (data[0] >> 1) % 4, s = (data[0] >> 3) % P;
  const uint8_t *blobs[4];
  size_t lens[4];
  int n = fz_blobs(data + 1, size - 1, 4, blobs, lens);
  static uint8_t pos1[1 << 20], pos2[1 << 20];
  size_t len1 = 0, len2 = 0;
  int rc = seek_and_report(c, P, s, blobs, lens, n, pos1, sizeof pos1, &len1);
  if (rc) {
    FZ_CHECK(rc == -SL_ESTATE || rc == -SL_ENOMEM);
    return 0;
  }
  if (!len1) return 0;
  const uint8_t *b1[1] = {pos1};
  size_t l1[1] = {len1};
  FZ_CHECK(seek_and_report(c, P, s, b1, l1, 1, pos2, sizeof pos2, &len2) == 0);
  FZ_CHECK(len1 == len2 && !memcmp(pos1, pos2, len1));
  return 0;
}

/*
 * pg_stream.c -- fuzzes the PostgreSQL CDC stream's parser
 * (sl__pg_stream_feed in src/connectors/pg_cdc.c): the input is a run of
 * CopyData messages, each a big-endian u16 length and that many bytes
 * (pgoutput XLogData 'w' and keepalives 'k', as a server would send),
 * fed to one stream for table oid 100 with a deserializer that keeps
 * nothing.  Properties: a refused message says why; every row handed over
 * has the relation's column count, each value NUL-terminated at its
 * length; the position after each message decodes again (seek accepts it)
 * and never names an open transaction at or before `upto`.
 */
#include <string.h>

#include "connectors/pg.h"
#include "fuzz_util.h"
#include "runtime/runtime.h"

static int rows_ok = 1;
static int take(void *ud, sl_ctx *ctx, const sl_pg_row *row, sl_record *out) {
  (void)ud, (void)ctx, (void)out;
  for (int i = 0; i < row->n_cols; i++) {
    const sl_pg_column *c = &row->cols[i];
    if (!c->text || c->text[c->len] != 0 || (c->is_null && c->len) || !c->name) rows_ok = 0;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl__pg_opts o;
  sl_option opt[] = {{"table-name", "t"}, {"scan.mode", "cdc"}};
  if (sl__pg_opts_init(&o, "", opt, 2)) return 0;
  sl__pg_cdc *cdc = NULL;
  sl__pg_stream *st = NULL;
  sl__pg_deser d = {take, NULL};
  if (sl__pg_cdc_new(&cdc, "t", "s", 100) || sl__pg_stream_new(&st, cdc, &o, &d)) {
    sl__pg_cdc_free(cdc);
    sl__pg_opts_free(&o);
    return 0;
  }
  sl_ctx ctx;
  sl__ctx_main(&ctx, NULL, "", "fuzz", 1);
  rows_ok = 1;
  for (size_t at = 0; at + 2 <= size;) {
    size_t n = (size_t)data[at] << 8 | data[at + 1];
    at += 2;
    if (n > size - at) n = size - at;
    uint8_t *m = malloc(n ? n : 1); /* exactly n bytes: reads past them trip ASan */
    memcpy(m, data + at, n);
    at += n;
    ctx.msg[0] = 0;
    int rc = sl__pg_stream_feed(st, &ctx, m, n);
    free(m);
    FZ_CHECK(rc >= 0 || ctx.msg[0] != 0);
    FZ_CHECK(rc <= 2);
    uint8_t pos[SL__PG_STREAM_POS_LEN];
    sl__pg_stream_position(st, &ctx, pos);
    uint64_t upto, txn;
    memcpy(&upto, pos + 8, 8), memcpy(&txn, pos + 16, 8);
    FZ_CHECK(!txn || txn > upto);
    uint32_t streaming = 1; /* (as if the stream had begun: the harness never connects) */
    memcpy(pos + 4, &streaming, 4);
    FZ_CHECK(sl__pg_stream_seek(st, &ctx, pos, 0) == 0);
    if (rc < 0) break;
  }
  FZ_CHECK(rows_ok);
  sl__pg_stream_close(st, &ctx, 0);
  sl__pg_cdc_free(cdc);
  sl__pg_opts_free(&o);
  return 0;
}

/*
 * test_pg_cdc_parse.c -- the CDC stream's parser (pg_cdc.c,
 * sl__pg_stream_feed) on pgoutput messages built here byte by byte, no
 * server: rows and change kinds of Insert / Update (no old image, 'K', 'O',
 * an unchanged TOAST value) / Delete, another table's changes ignored, a
 * restored position skipping whole transactions and the first changes of
 * a partial one, keepalives moving the position between transactions only,
 * a TRUNCATE failing with the table's name; and every message cut short at
 * every length, and bytes flipped, fail cleanly (ASan checks the reads).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/pg.h"
#include "runtime/runtime.h"
#include "test_util.h"

/* ---- building messages -------------------------------------------------------------- */

typedef struct msg {
  uint8_t b[1024];
  size_t n;
} msg;
static void u8(msg *m, unsigned v) { m->b[m->n++] = (uint8_t)v; }
static void be(msg *m, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; i--) u8(m, (unsigned)(v >> (8 * i)) & 0xff);
}
static void str(msg *m, const char *s) {
  memcpy(m->b + m->n, s, strlen(s) + 1);
  m->n += strlen(s) + 1;
}
static void wal(msg *m, uint64_t lsn) { /* XLogData header */
  m->n = 0;
  u8(m, 'w'), be(m, lsn, 8), be(m, lsn, 8), be(m, 0, 8);
}
/* a tuple: "n" null, "u" unchanged, else text */
static void tuple(msg *m, int n, const char *const *v) {
  be(m, (uint64_t)n, 2);
  for (int i = 0; i < n; i++) {
    if (!strcmp(v[i], "\\n")) u8(m, 'n');
    else if (!strcmp(v[i], "\\u")) u8(m, 'u');
    else u8(m, 't'), be(m, strlen(v[i]), 4), memcpy(m->b + m->n, v[i], strlen(v[i])), m->n += strlen(v[i]);
  }
}
static msg relation(uint32_t oid) {
  msg m;
  wal(&m, 1);
  u8(&m, 'R'), be(&m, oid, 4), str(&m, "public"), str(&m, "t"), u8(&m, 'd'), be(&m, 2, 2);
  u8(&m, 1), str(&m, "id"), be(&m, 20, 4), be(&m, 0xffffffff, 4);
  u8(&m, 0), str(&m, "v"), be(&m, 25, 4), be(&m, 0xffffffff, 4);
  return m;
}
static msg begin(uint64_t final) {
  msg m;
  wal(&m, final - 8);
  u8(&m, 'B'), be(&m, final, 8), be(&m, 0, 8), be(&m, 7, 4);
  return m;
}
static msg commit(uint64_t lsn) {
  msg m;
  wal(&m, lsn);
  u8(&m, 'C'), u8(&m, 0), be(&m, lsn, 8), be(&m, lsn + 8, 8), be(&m, 0, 8);
  return m;
}
static msg insert(uint32_t oid, const char *id, const char *v) {
  msg m;
  wal(&m, 2);
  const char *t[2] = {id, v};
  u8(&m, 'I'), be(&m, oid, 4), u8(&m, 'N'), tuple(&m, 2, t);
  return m;
}
/* old: 0 none, 'K' or 'O' with old values o0 o1 */
static msg update(int old, const char *o0, const char *o1, const char *id, const char *v) {
  msg m;
  wal(&m, 3);
  u8(&m, 'U'), be(&m, 100, 4);
  if (old) {
    const char *o[2] = {o0, o1};
    u8(&m, (unsigned)old), tuple(&m, 2, o);
  }
  const char *t[2] = {id, v};
  u8(&m, 'N'), tuple(&m, 2, t);
  return m;
}
static msg delete_(int old, const char *o0, const char *o1) {
  msg m;
  wal(&m, 4);
  const char *o[2] = {o0, o1};
  u8(&m, 'D'), be(&m, 100, 4), u8(&m, (unsigned)old), tuple(&m, 2, o);
  return m;
}
static msg keepalive(uint64_t end) {
  msg m = {.n = 0};
  u8(&m, 'k'), be(&m, end, 8), be(&m, 0, 8), u8(&m, 0);
  return m;
}

/* ---- the stream under test --------------------------------------------------------------- */

static char rows[64][128];
static int n_rows;
static int capture(void *ud, sl_ctx *ctx, const sl_pg_row *row, sl_record *out) {
  (void)ud, (void)ctx, (void)out;
  static const char *const k[] = {"+I", "-U", "+U", "-D"};
  if (n_rows < 64) {
    char *s = rows[n_rows++];
    size_t at = (size_t)snprintf(s, 128, "%s %s lsn=%llx", k[row->kind], row->table,
                                 (unsigned long long)row->lsn);
    for (int i = 0; i < row->n_cols; i++)
      at += (size_t)snprintf(s + at, 128 - at, " %s=%s", row->cols[i].name,
                             row->cols[i].is_null ? "NULL" : row->cols[i].unknown ? "?" : row->cols[i].text);
  }
  return 1; /* skip: no runtime to emit into */
}

typedef struct fixture {
  sl__pg_opts o;
  sl__pg_cdc *cdc;
  sl__pg_deser d;
  sl__pg_stream *st;
  sl_ctx ctx;
} fixture;
static void setup(fixture *f) {
  memset(f, 0, sizeof *f);
  sl_option opt[] = {{"table-name", "t"}, {"scan.mode", "cdc"}};
  CHECK_EQ_INT(sl__pg_opts_init(&f->o, "", opt, 2), 0);
  CHECK_EQ_INT(sl__pg_cdc_new(&f->cdc, "t", "s", 100), 0);
  f->d.fn = capture;
  CHECK_EQ_INT(sl__pg_stream_new(&f->st, f->cdc, &f->o, &f->d), 0);
  sl__ctx_main(&f->ctx, NULL, "", "test", 1);
  n_rows = 0;
}
static void teardown(fixture *f) {
  sl__pg_stream_close(f->st, &f->ctx, 0);
  sl__pg_cdc_free(f->cdc);
  sl__pg_opts_free(&f->o);
}
static int feed(fixture *f, msg m) { return sl__pg_stream_feed(f->st, &f->ctx, m.b, m.n); }
/* the position's upto, txn, done */
static void pos(fixture *f, uint64_t *upto, uint64_t *txn, uint64_t *done) {
  uint8_t b[SL__PG_STREAM_POS_LEN];
  sl__pg_stream_position(f->st, &f->ctx, b);
  memcpy(upto, b + 8, 8), memcpy(txn, b + 16, 8), memcpy(done, b + 24, 8);
}

static void test_rows_and_kinds(void) {
  fixture f;
  setup(&f);
  CHECK_EQ_INT(feed(&f, relation(100)), 0);
  CHECK_EQ_INT(feed(&f, relation(200)), 0); /* another table: ignored */
  CHECK_EQ_INT(feed(&f, begin(0x100)), 0);
  CHECK_EQ_INT(feed(&f, insert(100, "1", "a")), 1); /* rows made (counted against budget) */
  CHECK_EQ_INT(feed(&f, insert(200, "9", "z")), 0);
  CHECK_EQ_INT(feed(&f, update(0, NULL, NULL, "1", "\\u")), 2);
  CHECK_EQ_INT(feed(&f, update('K', "1", "\\n", "2", "b")), 2);
  CHECK_EQ_INT(feed(&f, update('O', "2", "old", "2", "\\u")), 2);
  CHECK_EQ_INT(feed(&f, delete_('K', "2", "\\n")), 1);
  uint64_t upto, txn, done;
  pos(&f, &upto, &txn, &done);
  CHECK(upto == 0 && txn == 0x100 && done == 5); /* the other table's insert counts too */
  CHECK_EQ_INT(feed(&f, commit(0x100)), 0);
  pos(&f, &upto, &txn, &done);
  CHECK(upto == 0x100 && txn == 0 && done == 0);
  static const char *const want[] = {
      "+I public.t lsn=100 id=1 v=a",
      "-U public.t lsn=100 id=1 v=?", /* no old image: the key from the new row */
      "+U public.t lsn=100 id=1 v=?", /* unchanged TOAST, no old image */
      "-U public.t lsn=100 id=1 v=?", /* 'K': only the key */
      "+U public.t lsn=100 id=2 v=b",
      "-U public.t lsn=100 id=2 v=old", /* 'O' (FULL): every column */
      "+U public.t lsn=100 id=2 v=old", /* unchanged TOAST from the old image */
      "-D public.t lsn=100 id=2 v=?"};
  CHECK_EQ_INT(n_rows, 8);
  for (int i = 0; i < 8 && i < n_rows; i++)
    if (strcmp(rows[i], want[i])) {
      fprintf(stderr, "row %d: got '%s', want '%s'\n", i, rows[i], want[i]);
      CHECK(0);
    }
  /* keepalives move the position between transactions only */
  CHECK_EQ_INT(feed(&f, keepalive(0x200)), 0);
  pos(&f, &upto, &txn, &done);
  CHECK(upto == 0x1ff);
  CHECK_EQ_INT(feed(&f, begin(0x300)), 0);
  CHECK_EQ_INT(feed(&f, keepalive(0x400)), 0);
  pos(&f, &upto, &txn, &done);
  CHECK(upto == 0x1ff && txn == 0x300);
  teardown(&f);
}

static void test_restored_position_skips(void) {
  fixture f;
  setup(&f);
  /* a position: transactions <= 0x100 emitted, 2 changes of 0x180 */
  uint8_t b[SL__PG_STREAM_POS_LEN] = "SLCD";
  uint32_t streaming = 1;
  uint64_t upto = 0x100, txn = 0x180, done = 2;
  memcpy(b + 4, &streaming, 4), memcpy(b + 8, &upto, 8), memcpy(b + 16, &txn, 8), memcpy(b + 24, &done, 8);
  CHECK_EQ_INT(sl__pg_stream_seek(f.st, &f.ctx, b, 0), 0);
  feed(&f, relation(100));
  feed(&f, begin(0x100)); /* replayed from the slot: skipped whole */
  feed(&f, insert(100, "1", "old"));
  uint64_t u, t, d;
  pos(&f, &u, &t, &d); /* a position now is covered by upto (a restore accepts it) */
  CHECK(u == 0x100 && t == 0 && d == 0);
  feed(&f, commit(0x100));
  feed(&f, begin(0x180)); /* partial: the first 2 changes skipped */
  feed(&f, insert(100, "2", "x"));
  feed(&f, insert(100, "3", "x"));
  feed(&f, insert(100, "4", "new"));
  feed(&f, commit(0x180));
  feed(&f, begin(0x200));
  feed(&f, insert(100, "5", "new"));
  feed(&f, commit(0x200));
  CHECK_EQ_INT(n_rows, 2);
  CHECK(!strcmp(rows[0], "+I public.t lsn=180 id=4 v=new"));
  CHECK(!strcmp(rows[1], "+I public.t lsn=200 id=5 v=new"));
  /* damaged positions */
  b[0] = 'X';
  CHECK_EQ_INT(sl__pg_stream_seek(f.st, &f.ctx, b, 3), -SL_ESTATE);
  CHECK(strstr(f.ctx.msg, "stream position of old subtask 3 is damaged") != NULL);
  b[0] = 'S', upto = 0x200;
  memcpy(b + 8, &upto, 8); /* the open transaction before upto */
  CHECK_EQ_INT(sl__pg_stream_seek(f.st, &f.ctx, b, 1), -SL_ESTATE);
  teardown(&f);
}

static void test_truncate_fails(void) {
  fixture f;
  setup(&f);
  feed(&f, relation(100));
  feed(&f, begin(0x100));
  msg m;
  wal(&m, 5);
  u8(&m, 'T'), be(&m, 2, 4), u8(&m, 0), be(&m, 200, 4), be(&m, 100, 4);
  CHECK(feed(&f, m) < 0);
  CHECK(strstr(f.ctx.msg, "PostgreSQL table 't' was truncated (TRUNCATE at LSN 0/100)") != NULL);
  teardown(&f);
}

/* every message cut at every length, and single bytes flipped: an error
 * or a clean parse, never a read out of bounds (ASan) */
static void test_malformed(void) {
  msg all[] = {relation(100), begin(0x100), insert(100, "1", "a"), update('O', "1", "b", "1", "\\u"),
               update('K', "1", "\\n", "2", "c"), delete_('O', "2", "c"), commit(0x100),
               keepalive(0x300)};
  int n = (int)(sizeof all / sizeof all[0]), errors = 0, cuts = 0;
  for (int i = 0; i < n; i++)
    for (size_t len = 0; len < all[i].n; len++) {
      fixture f;
      setup(&f);
      for (int k = 0; k < i; k++) feed(&f, all[k]); /* what comes before, whole */
      msg cut = all[i];
      cut.n = len;
      /* a copy of exactly len bytes, so ASan sees a read past the end */
      uint8_t *exact = malloc(len ? len : 1);
      memcpy(exact, cut.b, len);
      int rc = sl__pg_stream_feed(f.st, &f.ctx, exact, len);
      free(exact);
      cuts++;
      errors += rc < 0;
      if (rc < 0) CHECK(f.ctx.msg[0] != 0); /* said why */
      teardown(&f);
    }
  CHECK_EQ_INT(errors, cuts); /* every cut message is refused */
  unsigned seed = 7;
  for (int round = 0; round < 2000; round++) {
    fixture f;
    setup(&f);
    for (int i = 0; i < n; i++) {
      msg m = all[i];
      seed = seed * 1103515245u + 12345u;
      m.b[(seed >> 8) % m.n] ^= (uint8_t)(1u << ((seed >> 4) % 8));
      uint8_t *exact = malloc(m.n);
      memcpy(exact, m.b, m.n);
      sl__pg_stream_feed(f.st, &f.ctx, exact, m.n);
      free(exact);
    }
    teardown(&f);
  }
}

int main(void) {
  RUN(test_rows_and_kinds);
  RUN(test_restored_position_skips);
  RUN(test_truncate_fails);
  RUN(test_malformed);
  TEST_MAIN_END();
}

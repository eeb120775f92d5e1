/*
 * nexmark.h -- the Nexmark queries on sluice's public C API, shared by the
 * `sluice bench nexmark` runner and tests/test_nexmark.c.
 *
 * Each query lives in its own file (q0.c ... q12.c) and builds its graph on
 * the event stream from nx_events(): the generator with event timestamps
 * (dateTime) and watermarks dateTime - 4 s, as the nexmark-flink DDL
 * declares.  A query returns its result stream; results are the binary
 * structs below (or, for q0/q1/q7, bid events as the generator lays them
 * out), so the tests can decode them and compare with a plain-C reference.
 *
 * nx_meter is the end of every benchmark graph: a map that counts the
 * results, sums a 64-bit hash of each result's value bytes (an
 * order-independent checksum, equal at every parallelism for queries that
 * do not depend on processing time) and samples latencies; then a discard
 * sink.  Only public headers (sluice.h, sluice_nexmark.h) are used here.
 */
#ifndef SL_BENCH_NEXMARK_H
#define SL_BENCH_NEXMARK_H

#include <stdint.h>

#include "sluice.h"
#include "sluice_nexmark.h"

/* Watermark delay of the nexmark-flink DDL. */
#define NX_WATERMARK_DELAY_MS 4000
#define NX_WINDOW_MS 10000 /* q5 size, q7 / q8 / q12 tumbling size, q11 gap */
#define NX_Q5_SLIDE_MS 2000

/* q2 */
typedef struct nx_q2 {
  int64_t auction, price;
} nx_q2;

/* q3: P.name, P.city, P.state, A.id */
typedef struct nx_q3 {
  char name[24];
  char city[16];
  char state[8];
  int64_t auction;
} nx_q3;

/* q4: after the auctions of `category` closing at `closed_at` (their
 * expiry), the average winning price over every auction of the category
 * closed so far (at or before closed_at), and how many there are. */
typedef struct nx_q4 {
  int64_t category, closed_at, avg, auctions;
} nx_q4;
/* q4's result table (nexmark-flink's nexmark_q4): a row per category. */
typedef struct nx_q4_row {
  int64_t category, avg;
} nx_q4_row;

/* q6: after the seller's auction closed at closed_at, the average winning
 * price of it and the seller's 10 auctions closed before it. */
typedef struct nx_q6 {
  int64_t seller, auction, closed_at, avg, auctions;
} nx_q6;

/* q5 (auction, bid count), q11 and q12 (bidder, bid count) per window. */
typedef struct nx_count {
  int64_t id, count, start, end;
} nx_count;

/* q8: P.id, P.name, window start */
typedef struct nx_q8 {
  int64_t id;
  char name[24];
  int64_t start;
} nx_q8;

/* q9: the auction's id, category, seller and its winning bid (highest
 * price, then earliest, then lowest bidder id). */
typedef struct nx_q9 {
  int64_t auction, category, seller, expires;
  int64_t bidder, price, bid_time;
} nx_q9;

typedef struct nx_query {
  const char *name;  /* "q0" */
  const char *about; /* one line */
  int processing_time; /* results depend on wall-clock time (q12) */
  sl_stream *(*build)(sl_stream *events);
  /* An updating query (q4: its SQL is a GROUP BY without a window): its
   * results as the changelog of its result table -- values of one kind
   * byte (0 +I, 1 -U, 2 +U, 3 -D, as SQL's changelog rows) then the row --
   * which the meter takes with nx_meter_changelog_sink.  NULL: results are
   * rows that stay. */
  sl_stream *(*table)(sl_stream *results);
} nx_query;

/* Query i = 0.. (NULL past the end) and by name (NULL if unknown). */
const nx_query *nx_query_at(size_t i);
const nx_query *nx_query_find(const char *name);

/* The generator's stream with timestamps and watermarks.  If `ingest` is
 * not NULL, a map right behind the source notes in it when (wall clock)
 * each millisecond of event time was first generated (for latencies). */
typedef struct nx_ingest nx_ingest;
/* sl_rich helpers: open gives each subtask its own copy of `size` bytes
 * from `init` (ud = an nx_local) as its sl_ctx_local; close frees it. */
typedef struct nx_local {
  size_t size;
  const void *init;
} nx_local;
int nx_local_open(void *ud, sl_ctx *ctx);
void nx_local_close(void *ud, sl_ctx *ctx);
sl_stream *nx_events(sl_env *env, const sl_nexmark_config *cfg, nx_ingest *ingest);

/* ---- the benchmark's meter ---------------------------------------------- */

nx_ingest *nx_ingest_new(const sl_nexmark_config *cfg);
void nx_ingest_free(nx_ingest *in);
/* Wall-clock seconds from the first event of event time ts being seen to
 * the last event seen (0 when unknown): the measured part of a run with a
 * warm-up. */
double nx_ingest_seconds_since(const nx_ingest *in, int64_t ts);
/* s behind the map that fills `in` (it keeps per-subtask state through
 * sl_rich), for other generated streams on the same time line (bench ysb). */
sl_stream *nx_ingest_clock(sl_stream *s, nx_ingest *in);

typedef struct nx_meter nx_meter;
/* processing_time: latency = emission - window end (q12) instead of
 * emission - ingestion of the result's event-time millisecond. */
nx_meter *nx_meter_new(const nx_ingest *ingest, int processing_time);
void nx_meter_free(nx_meter *m);
/* results -> meter -> discard sink.  0 or a negative code. */
int nx_meter_sink(sl_stream *results, nx_meter *m);
/* The same for a changelog (see nx_query.table): a +I / +U counts its row
 * (the bytes after the kind) in, a -U / -D counts it out, so results and
 * checksum are those of the result table at the end. */
int nx_meter_changelog_sink(sl_stream *changes, nx_meter *m);

typedef struct nx_summary {
  uint64_t results;
  uint64_t checksum;
  double p50_ms, p99_ms; /* -1 without samples */
} nx_summary;
void nx_meter_summary(const nx_meter *m, nx_summary *out);

/* The order-independent checksum of one result value (what the meter sums). */
uint64_t nx_hash(const void *value, uint32_t len);

/* ---- helpers for the query files ---------------------------------------- */

/* Filters on the event kind. */
int nx_is_person(void *ud, sl_ctx *ctx, const sl_record *in);
int nx_is_auction(void *ud, sl_ctx *ctx, const sl_record *in);
int nx_is_bid(void *ud, sl_ctx *ctx, const sl_record *in);
/* Store v as an 8-byte key in scratch memory. */
int nx_key_i64(sl_ctx *ctx, int64_t v, sl_record *out);
/* Count aggregate (int64) for windows. */
extern const sl_state_desc nx_count_desc;
/* Window function: nx_count {key as int64, count, start, end}, ts end - 1. */
int nx_emit_count(void *ud, sl_ctx *ctx, const sl_window *w, sl_window_elems *elems,
                  sl_collector *out);
int64_t nx_i64(const void *p); /* unaligned read */

/* "The records with the maximum", keyed by window (q5, q7): nx_offer_top
 * offers the current record (rec, len) with its score; the window's best
 * score and the records with it are kept in keyed state, and an event-time
 * timer at fire_at (set with the first record of a better score) emits
 * them through nx_emit_top, the keyed process's timer function, which
 * then forgets the window. */
int nx_offer_top(sl_ctx *ctx, int64_t score, int64_t fire_at, const void *rec, uint32_t len);
int nx_emit_top(void *ud, sl_ctx *ctx, int64_t ts, sl_time_domain d, sl_collector *out);

/* Closed auctions in closing order (q4, q6), so the result does not depend
 * on the order in which parallel closers deliver: nx_closing_wait keeps a
 * closing (auction, winning price) under its expiry T in map state and
 * sets an event-time timer at T; at that timer (every closing at or before
 * T has arrived) nx_closing_take hands back T's closings sorted by auction
 * id (scratch memory, *n of them, 0 when none) and forgets them. */
typedef struct nx_closing {
  int64_t auction, price;
} nx_closing;
int nx_closing_wait(sl_ctx *ctx, const nx_q9 *w);
int nx_closing_take(sl_ctx *ctx, int64_t t, nx_closing **out, size_t *n);
/* The winning bid of every closed auction that had one (winning.c):
 * nx_q9 records, timestamp = the auction's expiry. */
sl_stream *nx_winning_bids(sl_stream *events);

#endif

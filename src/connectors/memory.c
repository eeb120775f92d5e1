/*
 * memory.c -- in-memory and generated sources, and the discard and collect
 * sinks: collection and lines (copied at creation, emitted from subtask 0),
 * sequence (contiguous ranges per subtask), datagen (user callback, indexes
 * round-robin over subtasks), discard (counts) and collect (per-subtask
 * record arenas, read back in subtask order after the job).
 */
#include "connectors/connector.h"
#include "runtime/batch.h" /* the collect sink's arenas */

/* ---- collection / lines ------------------------------------------------- */

typedef struct {
  sl_record *recs; /* point into buf */
  size_t n;
  uint8_t *buf;
} coll_src;

typedef struct {
  const coll_src *c;
  size_t next;
} coll_reader;

static int coll_open(void *ud, sl_ctx *ctx, void **reader) {
  (void)ctx;
  coll_reader *r = sl__calloc_private(sizeof *r);
  if (!r) return -SL_ENOMEM;
  r->c = ud;
  *reader = r;
  return 0;
}

static int coll_poll(void *reader, sl_ctx *ctx, int budget) {
  coll_reader *r = reader;
  for (int i = 0; i < budget && r->next < r->c->n; i++) {
    int rc = sl_ctx_emit(ctx, &r->c->recs[r->next++]);
    if (rc) return rc;
  }
  return r->next < r->c->n ? SL_POLL_MORE : SL_POLL_END;
}

/* Position: the index of the next record (subtask 0 reads them all). */
static int coll_position(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len) {
  (void)ctx;
  (void)cap; /* >= 8 */
  coll_reader *r = reader;
  uint64_t next = r->next;
  memcpy(buf, &next, 8);
  *len = 8;
  return 0;
}

static int coll_seek(void *reader, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                     int n) {
  (void)ctx;
  coll_reader *r = reader;
  for (int i = 0; i < n; i++)
    if (lens[i] == 8) {
      uint64_t next;
      memcpy(&next, blobs[i], 8);
      if (next > r->next) r->next = SL__MIN(next, r->c->n);
    }
  return 0;
}

static void reader_close(void *reader, sl_ctx *ctx) {
  (void)ctx;
  sl__free_private(reader);
}

static void coll_free(void *ud) {
  coll_src *c = ud;
  if (!c) return;
  sl__free(c->recs);
  sl__free(c->buf);
  sl__free(c);
}

static const sl_source_ops coll_ops = {.version = SL_CONNECTOR_VERSION, .kind = "collection",
                                       .open = coll_open, .poll = coll_poll,
                                       .close = reader_close, .free = coll_free,
                                       .position = coll_position, .seek = coll_seek};

static sl_source *coll_make(const sl_record *recs, const char *const *lines,
                            size_t n) {
  coll_src *c = sl__calloc(1, sizeof *c);
  if (!c) return NULL;
  size_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += lines ? strlen(lines[i]) : (size_t)recs[i].key_len + recs[i].value_len;
  c->recs = sl__calloc(n ? n : 1, sizeof *c->recs);
  c->buf = sl__malloc(total ? total : 1);
  if (!c->recs || !c->buf) goto fail;
  uint8_t *p = c->buf;
  for (size_t i = 0; i < n; i++) {
    sl_record r;
    if (lines)
      r = (sl_record){SL_NO_TIMESTAMP, NULL, 0, lines[i], (uint32_t)strlen(lines[i])};
    else
      r = recs[i];
    sl_record *o = &c->recs[i];
    *o = r;
    if (r.key_len) memcpy(p, r.key, r.key_len), o->key = p, p += r.key_len;
    else o->key = NULL;
    if (r.value_len) memcpy(p, r.value, r.value_len), o->value = p, p += r.value_len;
    else o->value = p;
  }
  c->n = n;
  return sl_source_new(&coll_ops, c, SL_SOURCE_NONPARALLEL);
fail:
  coll_free(c);
  return NULL;
}

sl_source *sl_collection_source(const sl_record *recs, size_t n) {
  if (!recs && n) return NULL;
  return coll_make(recs, NULL, n);
}

sl_source *sl_lines_source(const char *const *lines, size_t n) {
  if (!lines && n) return NULL;
  for (size_t i = 0; i < n; i++)
    if (!lines[i]) return NULL;
  return coll_make(NULL, lines, n);
}

/* ---- sequence / datagen ------------------------------------------------- */

typedef struct {
  int64_t from, to;       /* sequence */
  uint64_t count;         /* datagen */
  sl_datagen_fn fn;
  void *ud;
} gen_src;

typedef struct {
  const gen_src *g;
  uint64_t first;           /* this reader's first index */
  uint64_t next, end, step; /* indexes next, next+step, ... < end */
  sl__gen_done done;        /* after a restore: what earlier readers emitted */
  double rate;              /* records per second of this subtask, 0 = unlimited */
  int64_t start_ns;
  uint64_t emitted;
} gen_reader;

static int gen_open(void *ud, sl_ctx *ctx, void **reader) {
  const gen_src *g = ud;
  gen_reader *r = sl__calloc_private(sizeof *r);
  if (!r) return -SL_ENOMEM;
  r->g = g;
  uint64_t P = (uint64_t)sl_ctx_parallelism(ctx), i = (uint64_t)sl_ctx_subtask(ctx);
  r->rate = (double)sl__conn_int(ctx, "source.datagen.rows-per-second") / (double)P;
  r->start_ns = 0; /* the schedule starts at the first poll, not at setup */
  if (g->fn) { /* datagen: round robin */
    r->next = i;
    r->step = P;
    r->end = g->count;
  } else { /* sequence: contiguous ranges */
    uint64_t n = (uint64_t)(g->to - g->from) + 1;
    r->next = n / P * i + SL__MIN(i, n % P);
    r->end = r->next + n / P + (i < n % P);
    r->step = 1;
  }
  r->first = r->next;
  *reader = r;
  return 0;
}

static int gen_poll(void *reader, sl_ctx *ctx, int budget) {
  gen_reader *r = reader;
  const gen_src *g = r->g;
  if (SL__UNLIKELY(r->done.n)) /* a restored run skips what was emitted before */
    r->next = sl__gen_skip(&r->done, r->next, r->step, r->end);
  if (r->rate > 0) { /* on schedule: idle until the next record is due */
    if (!r->start_ns) r->start_ns = sl_ctx_monotonic_ns(ctx) - 1; /* record 0 is due at once */
    double due = (double)(sl_ctx_monotonic_ns(ctx) - r->start_ns) / 1e9 * r->rate;
    if ((double)r->emitted >= due && r->next < r->end) return SL_POLL_IDLE;
    if (due - (double)r->emitted < budget) budget = (int)(due - (double)r->emitted) + 1;
  }
  for (int i = 0; i < budget && r->next < r->end; i++) {
    sl_record rec;
    int64_t v;
    if (g->fn) {
      rec = (sl_record){SL_NO_TIMESTAMP, NULL, 0, NULL, 0};
      int rc = g->fn(g->ud, ctx, r->next, &rec);
      if (rc < 0)
        return sl_ctx_error(ctx, rc, "datagen function failed at index %llu (%s)",
                            (unsigned long long)r->next, sl_strerror(rc));
    } else {
      v = g->from + (int64_t)r->next;
      rec = (sl_record){v, NULL, 0, &v, sizeof v}; /* little-endian hosts */
    }
    r->next += r->step;
    r->emitted++;
    if (SL__UNLIKELY(r->done.n)) r->next = sl__gen_skip(&r->done, r->next, r->step, r->end);
    int rc = sl_ctx_emit(ctx, &rec);
    if (rc) return rc;
  }
  return r->next < r->end ? SL_POLL_MORE : SL_POLL_END;
}

static int gen_position(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len) {
  (void)ctx;
  gen_reader *r = reader;
  sl__gen_pos own = {r->first, r->next, r->step};
  return sl__gen_position(&own, &r->done, buf, cap, len);
}

static int gen_seek(void *reader, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                    int n) {
  (void)ctx;
  gen_reader *r = reader;
  return sl__gen_seek(&r->done, blobs, lens, n);
}

static void gen_close(void *reader, sl_ctx *ctx) {
  (void)ctx;
  gen_reader *r = reader;
  sl__free(r->done.e);
  sl__free_private(r);
}

static void gen_free(void *ud) { sl__free(ud); }

static const sl_source_ops seq_ops = {.version = SL_CONNECTOR_VERSION, .kind = "sequence",
                                      .open = gen_open, .poll = gen_poll,
                                      .close = gen_close, .free = gen_free,
                                      .position = gen_position, .seek = gen_seek};
static const sl_source_ops datagen_ops = {.version = SL_CONNECTOR_VERSION, .kind = "datagen",
                                          .open = gen_open, .poll = gen_poll,
                                          .close = gen_close, .free = gen_free,
                                          .position = gen_position, .seek = gen_seek};

sl_source *sl_sequence_source(int64_t from, int64_t to) {
  if (to < from) return NULL;
  gen_src *g = sl__calloc(1, sizeof *g);
  if (!g) return NULL;
  g->from = from;
  g->to = to;
  return sl_source_new(&seq_ops, g, 0);
}

sl_source *sl_datagen_source(uint64_t count, sl_datagen_fn fn, void *ud) {
  if (!fn) return NULL;
  gen_src *g = sl__calloc(1, sizeof *g);
  if (!g) return NULL;
  g->count = count;
  g->fn = fn;
  g->ud = ud;
  return sl_source_new(&datagen_ops, g, 0);
}

/* ---- discard ------------------------------------------------------------ */

static int discard_open(void *ud, sl_ctx *ctx, void **writer) {
  (void)ud;
  *writer = ctx; /* non-NULL, nothing to keep */
  return 0;
}
static int discard_write(void *writer, sl_ctx *ctx, const sl_record *r) {
  (void)writer, (void)ctx, (void)r;
  return 0;
}
static const sl_sink_ops discard_ops = {
    .version = SL_CONNECTOR_VERSION, .kind = "discard", .open = discard_open,
    .write = discard_write};

sl_sink *sl_discard_sink(void) { return sl_sink_new(&discard_ops, NULL, 0); }

/* ---- collect ------------------------------------------------------------ */

/* One arena of entries per subtask (batch.h layout), grown by doubling. */
struct sl_collect {
  sl__batch **parts;
  int n_parts;
  size_t count;
  sl_record *index; /* built after the job, for sl_collect_get */
};

sl_collect *sl_collect_new(void) { return sl__calloc(1, sizeof(sl_collect)); }

static void collect_reset(sl_collect *c) {
  for (int i = 0; i < c->n_parts; i++) sl__batch_free(c->parts[i]);
  sl__free(c->parts);
  sl__free(c->index);
  c->parts = NULL;
  c->index = NULL;
  c->n_parts = 0;
  c->count = 0;
}

void sl_collect_free(sl_collect *c) {
  if (!c) return;
  collect_reset(c);
  sl__free(c);
}

static int collect_open(void *ud, sl_ctx *ctx, void **writer) {
  sl_collect *c = ud;
  if (sl_ctx_subtask(ctx) == 0) { /* opens run on one thread, subtask 0 first */
    collect_reset(c);
    c->parts = sl__calloc((size_t)sl_ctx_parallelism(ctx), sizeof *c->parts);
    if (!c->parts) return -SL_ENOMEM;
    c->n_parts = sl_ctx_parallelism(ctx);
  }
  sl__batch *b = sl__batch_new(4096);
  if (!b) return -SL_ENOMEM;
  c->parts[sl_ctx_subtask(ctx)] = b;
  *writer = b;
  return 0;
}

static int collect_write(void *writer, sl_ctx *ctx, const sl_record *r) {
  sl__batch *b = writer;
  uint32_t size = sl__entry_size(r->key_len, r->value_len);
  if (!sl__batch_fits(b, size)) {
    uint32_t grow = SL__MAX(size, b->cap);
    if (sl__batch_reserve(b, grow))
      return sl_ctx_error(ctx, -SL_ENOMEM, "collect sink: out of memory");
  }
  sl__batch_put(b, r, 0);
  return 0;
}

static int collect_commit(void *ud, sl_ctx *ctx, int ok) {
  sl_collect *c = ud;
  (void)ok;
  size_t n = 0;
  for (int i = 0; i < c->n_parts; i++) n += c->parts[i] ? c->parts[i]->count : 0;
  c->index = sl__calloc(n ? n : 1, sizeof *c->index);
  if (!c->index) {
    return sl_ctx_error(ctx, -SL_ENOMEM, "collect sink: out of memory");
  }
  size_t k = 0;
  for (int i = 0; i < c->n_parts; i++) {
    if (!c->parts[i]) continue;
    uint32_t off = 0, kind;
    uint64_t hash;
    while (sl__batch_next(c->parts[i], &off, &c->index[k], &kind, &hash) == 1) k++;
  }
  c->count = k;
  return 0;
}

static const sl_sink_ops collect_ops = {.version = SL_CONNECTOR_VERSION,
                                        .kind = "collect",
                                        .open = collect_open,
                                        .write = collect_write,
                                        .commit = collect_commit};

sl_sink *sl_collect_sink(sl_collect *c) {
  if (!c) return NULL;
  return sl_sink_new(&collect_ops, c, 0);
}

size_t sl_collect_count(const sl_collect *c) { return c ? c->count : 0; }

int sl_collect_get(const sl_collect *c, size_t i, sl_record *out) {
  if (!c || !out || i >= c->count) return -SL_EINVAL;
  *out = c->index[i];
  return 0;
}

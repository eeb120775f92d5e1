/*
 * memory.c -- in-memory and generated sources, and the discard and collect
 * sinks: collection and lines (copied at creation, emitted from subtask 0),
 * sequence (contiguous ranges per subtask), datagen (user callback, indexes
 * round-robin over subtasks), discard (counts) and collect (per-subtask
 * record arenas, read back in subtask order after the job).
 */
#include "connectors/connector.h"

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

static int coll_open(sl_source *src, sl__inst *inst, void **reader) {
  coll_reader *r = sl__calloc_private(sizeof *r);
  if (!r) return -SL_ENOMEM;
  r->c = src->impl;
  *reader = r;
  return 0;
}

static int coll_poll(void *reader, sl__inst *inst, int budget) {
  coll_reader *r = reader;
  for (int i = 0; i < budget && r->next < r->c->n; i++) {
    int rc = sl__source_emit(inst, &r->c->recs[r->next++]);
    if (rc) return rc;
  }
  return r->next < r->c->n ? SL__POLL_MORE : SL__POLL_END;
}

/* Position: the index of the next record (subtask 0 reads them all). */
static int coll_position(void *reader, uint8_t *buf, size_t cap, size_t *len) {
  coll_reader *r = reader;
  uint64_t next = r->next;
  memcpy(buf, &next, 8);
  *len = 8;
  return 0;
}

static int coll_seek(void *reader, const uint8_t *const *blobs, const size_t *lens, int n) {
  coll_reader *r = reader;
  for (int i = 0; i < n; i++)
    if (lens[i] == 8) {
      uint64_t next;
      memcpy(&next, blobs[i], 8);
      if (next > r->next) r->next = SL__MIN(next, r->c->n);
    }
  return 0;
}

static void reader_close(void *reader) { sl__free_private(reader); }

static void coll_free(sl_source *src) {
  coll_src *c = src->impl;
  if (!c) return;
  sl__free(c->recs);
  sl__free(c->buf);
  sl__free(c);
}

static const sl__source_vt coll_vt = {.kind = "collection", .open = coll_open,
                                      .poll = coll_poll, .close = reader_close,
                                      .free = coll_free, .position = coll_position,
                                      .seek = coll_seek};

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
  sl_source *s = sl__source_new(&coll_vt, c, 1);
  if (s) return s;
fail:
  sl__free(c->recs);
  sl__free(c->buf);
  sl__free(c);
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

static int gen_open(sl_source *src, sl__inst *inst, void **reader) {
  const gen_src *g = src->impl;
  gen_reader *r = sl__calloc_private(sizeof *r);
  if (!r) return -SL_ENOMEM;
  r->g = g;
  uint64_t P = (uint64_t)inst->ctx.parallelism, i = (uint64_t)inst->ctx.subtask;
  r->rate = (double)SL__CONF_I(inst->job->conf, DATAGEN_RATE) / (double)P;
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

static int gen_poll(void *reader, sl__inst *inst, int budget) {
  gen_reader *r = reader;
  const gen_src *g = r->g;
  if (SL__UNLIKELY(r->done.n)) /* a restored run skips what was emitted before */
    r->next = sl__gen_skip(&r->done, r->next, r->step, r->end);
  if (r->rate > 0) { /* on schedule: idle until the next record is due */
    if (!r->start_ns) r->start_ns = sl__now_ns() - 1; /* record 0 is due at once */
    double due = (double)(sl__now_ns() - r->start_ns) / 1e9 * r->rate;
    if ((double)r->emitted >= due && r->next < r->end) return SL__POLL_IDLE;
    if (due - (double)r->emitted < budget) budget = (int)(due - (double)r->emitted) + 1;
  }
  for (int i = 0; i < budget && r->next < r->end; i++) {
    sl_record rec;
    int64_t v;
    if (g->fn) {
      rec = (sl_record){SL_NO_TIMESTAMP, NULL, 0, NULL, 0};
      int rc = g->fn(g->ud, &inst->ctx, r->next, &rec);
      if (rc < 0)
        return sl__fail(inst, rc, "datagen function failed at index %llu: %s",
                        (unsigned long long)r->next,
                        inst->ctx.msg[0] ? inst->ctx.msg : sl_strerror(rc));
    } else {
      v = g->from + (int64_t)r->next;
      rec = (sl_record){v, NULL, 0, &v, sizeof v}; /* little-endian hosts */
    }
    r->next += r->step;
    r->emitted++;
    if (SL__UNLIKELY(r->done.n)) r->next = sl__gen_skip(&r->done, r->next, r->step, r->end);
    int rc = sl__source_emit(inst, &rec);
    if (rc) return rc;
  }
  return r->next < r->end ? SL__POLL_MORE : SL__POLL_END;
}

static int gen_position(void *reader, uint8_t *buf, size_t cap, size_t *len) {
  gen_reader *r = reader;
  sl__gen_pos own = {r->first, r->next, r->step};
  return sl__gen_position(&own, &r->done, buf, cap, len);
}

static int gen_seek(void *reader, const uint8_t *const *blobs, const size_t *lens, int n) {
  gen_reader *r = reader;
  return sl__gen_seek(&r->done, blobs, lens, n);
}

static void gen_close(void *reader) {
  gen_reader *r = reader;
  sl__free(r->done.e);
  sl__free_private(r);
}

static void gen_free(sl_source *src) { sl__free(src->impl); }

static const sl__source_vt seq_vt = {.kind = "sequence", .open = gen_open, .poll = gen_poll,
                                     .close = gen_close, .free = gen_free,
                                     .position = gen_position, .seek = gen_seek};
static const sl__source_vt datagen_vt = {.kind = "datagen", .open = gen_open, .poll = gen_poll,
                                         .close = gen_close, .free = gen_free,
                                         .position = gen_position, .seek = gen_seek};

sl_source *sl_sequence_source(int64_t from, int64_t to) {
  if (to < from) return NULL;
  gen_src *g = sl__calloc(1, sizeof *g);
  if (!g) return NULL;
  g->from = from;
  g->to = to;
  sl_source *s = sl__source_new(&seq_vt, g, 0);
  if (!s) sl__free(g);
  return s;
}

sl_source *sl_datagen_source(uint64_t count, sl_datagen_fn fn, void *ud) {
  if (!fn) return NULL;
  gen_src *g = sl__calloc(1, sizeof *g);
  if (!g) return NULL;
  g->count = count;
  g->fn = fn;
  g->ud = ud;
  sl_source *s = sl__source_new(&datagen_vt, g, 0);
  if (!s) sl__free(g);
  return s;
}

/* ---- discard ------------------------------------------------------------ */

static int discard_open(sl_sink *sink, sl__inst *inst, void **writer) {
  *writer = sink; /* non-NULL, nothing to keep */
  return 0;
}
static int discard_write(void *writer, sl__inst *inst, const sl_record *r) {
  return 0;
}
static const sl__sink_vt discard_vt = {
    .kind = "discard", .open = discard_open, .write = discard_write};

sl_sink *sl_discard_sink(void) { return sl__sink_new(&discard_vt, NULL, 0); }

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

static int collect_open(sl_sink *sink, sl__inst *inst, void **writer) {
  sl_collect *c = sink->impl;
  if (inst->ctx.subtask == 0) { /* opens run on one thread, subtask 0 first */
    collect_reset(c);
    c->parts = sl__calloc((size_t)inst->ctx.parallelism, sizeof *c->parts);
    if (!c->parts) return -SL_ENOMEM;
    c->n_parts = inst->ctx.parallelism;
  }
  sl__batch *b = sl__batch_new(4096);
  if (!b) return -SL_ENOMEM;
  c->parts[inst->ctx.subtask] = b;
  *writer = b;
  return 0;
}

static int collect_write(void *writer, sl__inst *inst, const sl_record *r) {
  sl__batch *b = writer;
  uint32_t size = sl__entry_size(r->key_len, r->value_len);
  if (!sl__batch_fits(b, size)) {
    uint32_t grow = SL__MAX(size, b->cap);
    if (sl__batch_reserve(b, grow))
      return sl__fail(inst, -SL_ENOMEM, "collect sink: out of memory");
  }
  sl__batch_put(b, r);
  return 0;
}

static int collect_commit(sl_sink *sink, int ok, char *err, size_t errcap) {
  sl_collect *c = sink->impl;
  size_t n = 0;
  for (int i = 0; i < c->n_parts; i++) n += c->parts[i] ? c->parts[i]->count : 0;
  c->index = sl__calloc(n ? n : 1, sizeof *c->index);
  if (!c->index) {
    sl__fmt(err, errcap, "collect sink: out of memory");
    return -SL_ENOMEM;
  }
  size_t k = 0;
  for (int i = 0; i < c->n_parts; i++) {
    if (!c->parts[i]) continue;
    uint32_t off = 0, kind;
    while (sl__batch_next(c->parts[i], &off, &c->index[k], &kind) == 1) k++;
  }
  c->count = k;
  return 0;
}

static const sl__sink_vt collect_vt = {.kind = "collect",
                                       .open = collect_open,
                                       .write = collect_write,
                                       .commit = collect_commit};

sl_sink *sl_collect_sink(sl_collect *c) {
  if (!c) return NULL;
  return sl__sink_new(&collect_vt, c, 0);
}

size_t sl_collect_count(const sl_collect *c) { return c ? c->count : 0; }

int sl_collect_get(const sl_collect *c, size_t i, sl_record *out) {
  if (!c || !out || i >= c->count) return -SL_EINVAL;
  *out = c->index[i];
  return 0;
}

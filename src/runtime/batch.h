/*
 * batch.h -- the record batch: the unit that travels between workers.
 *
 * A batch is one contiguous buffer of entries, each 8-byte aligned:
 *
 *   +---------+---------+---------+-----------+---------+-------+-----+
 *   | ts (i64)| klen u32| vlen u32| hash (u64)| key ... | value | pad |
 *   +---------+---------+---------+-----------+---------+-------+-----+
 *
 * hash is the key's 64-bit hash on a hash (key_by) edge, computed once by
 * the producer to route the record and used again by the consumer's keyed
 * state and windows (0 on other edges).
 *
 * A control event (end of input; later watermarks and checkpoint barriers)
 * is an entry with klen == SL__CTRL and vlen == the event kind; ts carries
 * its payload.  Control events therefore travel in-band, ordered with the
 * data of their channel.
 *
 * A batch is filled by one thread, handed over through a ring, read by one
 * thread, then recycled through the channel's free ring: no allocation per
 * record, and no allocation per batch after warm-up.  A single record
 * larger than the batch grows that batch's buffer (and it stays grown).
 */
#ifndef SL_BATCH_H
#define SL_BATCH_H

#include <stdint.h>
#include <string.h>

#include "core/core.h"

#define SL__CTRL UINT32_MAX
enum {
  SL__EV_END = 1,       /* the producer's input ended */
  SL__EV_WATERMARK = 2, /* payload: the watermark */
  SL__EV_BARRIER = 3,   /* checkpoints (reserved) */
  SL__EV_IDLE = 4       /* payload: 1 = the producer is idle, 0 = active */
};

typedef struct sl__entry_hdr {
  int64_t ts;
  uint32_t klen;
  uint32_t vlen;
  uint64_t hash;
} sl__entry_hdr;

typedef struct sl__batch {
  uint8_t *data;
  uint32_t used;
  uint32_t cap;
  uint32_t count;
  int64_t first_ns; /* when the first entry was written (buffer timeout) */
} sl__batch;

static inline uint32_t sl__entry_size(uint32_t klen, uint32_t vlen) {
  return (uint32_t)((sizeof(sl__entry_hdr) + klen + vlen + 7u) & ~7u);
}

sl__batch *sl__batch_new(uint32_t cap);
void sl__batch_free(sl__batch *b);
/* Grow so that `need` more bytes fit; 0 or -SL_ENOMEM. */
int sl__batch_reserve(sl__batch *b, uint32_t need);

static inline int sl__batch_fits(const sl__batch *b, uint32_t size) {
  return b->used + size <= b->cap;
}

/* Append (caller checked it fits). */
static inline void sl__batch_put(sl__batch *b, const sl_record *r, uint64_t hash) {
  uint8_t *p = b->data + b->used;
  sl__entry_hdr h = {r->ts, r->key_len, r->value_len, hash};
  memcpy(p, &h, sizeof h);
  p += sizeof h;
  if (r->key_len <= 16) /* short keys and values (the usual): no call */
    sl__copy16(p, r->key, r->key_len);
  else
    memcpy(p, r->key, r->key_len);
  if (r->value_len <= 16)
    sl__copy16(p + r->key_len, r->value, r->value_len);
  else
    memcpy(p + r->key_len, r->value, r->value_len);
  b->used += sl__entry_size(r->key_len, r->value_len);
  b->count++;
}

static inline void sl__batch_put_ctrl(sl__batch *b, uint32_t kind,
                                      int64_t payload) {
  sl__entry_hdr h = {payload, SL__CTRL, kind, 0};
  memcpy(b->data + b->used, &h, sizeof h);
  b->used += (uint32_t)sizeof h;
  b->count++;
}

static inline void sl__batch_reset(sl__batch *b) {
  b->used = 0;
  b->count = 0;
  b->first_ns = 0;
}

/* Reader: *off starts at 0.  Returns 1 with a data record in *r and its
 * key hash in *hash, 2 with a control event (*kind, r->ts = payload), 0 at
 * the end of the batch. */
static inline int sl__batch_next(const sl__batch *b, uint32_t *off,
                                 sl_record *r, uint32_t *kind, uint64_t *hash) {
  if (*off >= b->used) return 0;
  const uint8_t *p = b->data + *off;
  sl__entry_hdr h;
  memcpy(&h, p, sizeof h);
  r->ts = h.ts;
  if (h.klen == SL__CTRL) {
    *kind = h.vlen;
    *off += (uint32_t)sizeof h;
    return 2;
  }
  *hash = h.hash;
  r->key_len = h.klen;
  r->key = h.klen ? p + sizeof h : NULL;
  r->value_len = h.vlen;
  r->value = p + sizeof h + h.klen;
  *off += sl__entry_size(h.klen, h.vlen);
  return 1;
}

#endif

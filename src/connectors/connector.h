/*
 * connector.h -- helpers shared by the built-in sources and sinks, which
 * are written on the public connector contract (include/sluice_connector.h)
 * and nothing of the runtime: generator positions, writes to a peer that
 * may stop reading.
 */
#ifndef SL_CONNECTOR_H
#define SL_CONNECTOR_H

#include "core/core.h"
#include "sluice_connector.h"

/* A number-valued configuration key the connector knows exists (0 and an
 * assertion failure in debug builds otherwise). */
static inline int64_t sl__conn_int(const sl_ctx *ctx, const char *key) {
  int64_t v = 0;
  int rc = sl_ctx_config_int(ctx, key, &v);
  SL_ASSERT(rc == 0);
  (void)rc;
  return v;
}

/* execution.runtime-mode is batch: sources must be bounded. */
static inline int sl__conn_batch(const sl_ctx *ctx) {
  const char *m = sl_ctx_config(ctx, "execution.runtime-mode");
  return m && !strcmp(m, "batch");
}
/* The context's monotonic clock in milliseconds, for deadlines. */
static inline int64_t sl__conn_ms(const sl_ctx *ctx) { return sl_ctx_monotonic_ns(ctx) / 1000000; }
/* A bad record found in raw input bytes (sl_ctx_bad_record). */
static inline int sl__conn_bad(sl_ctx *ctx, const char *where, const char *reason,
                               const void *data, size_t len) {
  sl_record r = {.ts = SL_NO_TIMESTAMP, .value = data, .value_len = (uint32_t)len};
  return sl_ctx_bad_record(ctx, where, reason, &r);
}

/* Positions of generator sources (sequence, datagen, nexmark), which can
 * produce any index on any subtask: a reader emits indexes first,
 * first + step, ... below next.  A restored reader skips every index some
 * earlier reader emitted (`done`, from every old reader's position, any
 * parallelism), and its own position carries `done` on, so a checkpoint
 * taken before it caught up -- or after a rescale -- still knows them. */
typedef struct sl__gen_pos {
  uint64_t first, next, step;
} sl__gen_pos;
typedef struct sl__gen_done {
  sl__gen_pos *e; /* one per distinct old reader (first, step): furthest next */
  int n;
} sl__gen_done;
int sl__gen_position(const sl__gen_pos *own, const sl__gen_done *done, uint8_t *buf,
                     size_t cap, size_t *len);
int sl__gen_seek(sl__gen_done *done, const uint8_t *const *blobs, const size_t *lens, int n);
/* The first index >= next (stepping by step, below end) nobody emitted yet. */
static inline uint64_t sl__gen_skip(const sl__gen_done *d, uint64_t next, uint64_t step,
                                    uint64_t end) {
  for (int i = 0; i < d->n && next < end; i++) {
    const sl__gen_pos *e = &d->e[i];
    if (next >= e->first && next < e->next && (next - e->first) % e->step == 0) {
      /* when our step is a multiple of e's, every index of ours below
       * e->next was e's too: jump past them at once (a restore at the same
       * parallelism, or a crafted position, costs O(1), not O(records)) */
      uint64_t k = step % e->step == 0 ? (e->next - next - 1) / step + 1 : 1; /* >= 1 */
      next = (end - next) / step > k ? next + k * step : end;
      i = -1; /* check the new index against every entry again */
    }
  }
  return next;
}

/* sl__write_all (core.h) for a peer that may stop reading (a socket, a pipe): waits for
 * room with poll(), so it never blocks for long; when the job is asked to
 * stop (or failed) it gives the peer one more second, then returns
 * -SL_ECANCELED.  sock: fd is a socket (send, MSG_NOSIGNAL). */
int sl__write_stoppable(sl_ctx *ctx, int fd, const void *buf, size_t len, int sock);

#endif

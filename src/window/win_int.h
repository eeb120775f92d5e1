/*
 * win_int.h -- what the window operator's two files share (internal to
 * src/window): the configuration and per-instance state of a window
 * operator, the window namespace encoding, and the fast path's calls.
 *
 * window.c is the general window operator: everything in keyed state and
 * timers.  fastwin.c is its fast path for the common case (event-time
 * tumbling or sliced sliding windows with a fixed-size aggregate on the
 * heap backend): per key, a small ring of pane accumulators updated in
 * place.  Checkpoints hold the general path's state either way: at a
 * snapshot the fast path hands the checkpoint a frozen copy of its panes,
 * which the checkpoint writer writes into the keyed image as the general
 * path's contents entries and timers (sl__fastwin_freeze), and after a
 * restore it takes over what the restore put into keyed state
 * (sl__fastwin_absorb), so a checkpoint of one path restores on the other.
 */
#ifndef SL_WIN_INT_H
#define SL_WIN_INT_H

#include "operators/ops.h"
#include "time/timers.h"
#include "window/window.h"

typedef struct win_cfg {
  sl_window_spec spec;
  char *late_tag;
  sl__wf_kind fk;
  const sl_state_desc *agg;
  sl_reduce_fn reduce;
  sl_window_fn fn;
} win_cfg;

typedef struct win_inst {
  sl_state *contents, *count, *sessions;
  sl_window cur; /* the window being fired */
  int firing;
  sl_window *wins;
  size_t wcap;
  uint8_t *copy; /* bytes copied across state calls */
  uint32_t copy_cap;
  sl_window *sess; /* session windows: the key's open sessions (a copy) */
  size_t n_sess, sess_cap;
  uint8_t *acc;    /* sliced windows: panes merged for a firing */
  uint32_t acc_cap;
  struct sl__fastwin *fast; /* the fast path (fastwin.c), or NULL */
  int absorbing; /* the fast path drops the restored general path's timers */
} win_inst;

struct sl_window_elems {
  int single; /* aggregate/reduce: one element */
  int done;
  sl_record rec;
  sl_list_iter it;
  sl_bytes key;
  int64_t ts;
};

/* ---- window encoding ---------------------------------------------------------- */

static inline void put_be(uint8_t *p, int64_t v) {
  uint64_t u = __builtin_bswap64((uint64_t)v ^ (1ull << 63));
  memcpy(p, &u, 8);
}
static inline int64_t get_be(const uint8_t *p) {
  uint64_t u;
  memcpy(&u, p, 8);
  return (int64_t)(__builtin_bswap64(u) ^ (1ull << 63));
}
static inline void win_ns(const sl_window *w, uint8_t ns[16]) {
  put_be(ns, w->start);
  put_be(ns + 8, w->end);
}

static inline int use_ns(sl_state *s, const sl_window *w) {
  uint8_t ns[16];
  win_ns(w, ns);
  return sl_state_namespace(s, ns, 16);
}

static inline int64_t floor_mod(int64_t x, int64_t m) {
  int64_t r = x % m;
  return r < 0 ? r + m : r;
}

/* (t - offset) mod m in [0, m), without computing t - offset (which may
 * overflow). */
static inline int64_t offset_mod(int64_t t, int64_t offset, int64_t m) {
  if (!offset) return floor_mod(t, m); /* the usual case: one division */
  int64_t r = floor_mod(t, m) - floor_mod(offset, m);
  return r < 0 ? r + m : r;
}

/* A record whose tumbling or sliding window would leave the int64 range:
 * a bad record (dead letter, or the job fails saying so). */
int sl__win_unrepresentable(sl__inst *inst, const sl_window_spec *s, int64_t t,
                            const sl_record *r);

/* ---- the fast path (fastwin.c) ------------------------------------------------ */

typedef struct sl__fastwin sl__fastwin;

/* Whether the fast path serves this window operator on this instance. */
int sl__fastwin_eligible(const sl__inst *inst, const win_cfg *c);
/* 0 or -SL_ENOMEM; *out is NULL after an error. */
int sl__fastwin_new(sl__inst *inst, const win_cfg *c, sl__fastwin **out);
void sl__fastwin_free(sl__fastwin *f);
/* A record (event time, with a timestamp). */
int sl__fastwin_process(sl__inst *inst, sl__fastwin *f, const sl_record *r);
/* The watermark advanced to wm: fire every window with end - 1 <= wm. */
int sl__fastwin_fire(sl__inst *inst, sl__fastwin *f, int64_t wm);
/* Checkpoint, with the backend snapshot: a frozen copy of the live keys
 * and their panes (*out, NULL when there are none; 0 or -SL_ENOMEM) from
 * which the checkpoint writer writes the entries the general path would
 * hold -- the contents of every live pane and the timers of the windows
 * waiting -- into the keyed image (sl__snap_extra, state/backend.h). */
int sl__fastwin_freeze(sl__inst *inst, sl__fastwin *f, sl__snap_extra **out);
/* Its figures added to *entries and *bytes (an sl__outside_stats_fn,
 * state/state.h; ud is the sl__fastwin): live panes, and the bytes of its
 * keys, table and rings.  O(1). */
void sl__fastwin_stats(void *ud, uint64_t *entries, uint64_t *bytes);
/* After a restore: take every pane out of the contents state and drop the
 * window timers (the fast path fires from its panes). */
int sl__fastwin_absorb(sl__inst *inst, sl__fastwin *f);

#endif

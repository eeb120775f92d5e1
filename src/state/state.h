/*
 * state.h -- the keyed-state layer between the runtime and the backends
 * (internal).  The runtime creates one sl__kstate per keyed operator
 * instance, sets the current key before each user call, and frees it with
 * the instance.  See state.c for the value encodings.
 */
#ifndef SL_STATE_H
#define SL_STATE_H

#include "state/backend.h"

typedef struct sl__kstate sl__kstate;

/* Takes ownership of `be` (also on failure).  `what` names the kind of
 * state in messages: "keyed", "operator" or "broadcast". */
int sl__kstate_new(sl__backend *be, sl_ctx *ctx, const char *what,
                   sl__kstate **out);
void sl__kstate_set_readonly(sl__kstate *ks, int readonly);
void sl__kstate_set_no_key(sl__kstate *ks, int no_key);
void sl__kstate_free(sl__kstate *ks);
sl__backend *sl__kstate_backend(sl__kstate *ks);
void sl__kstate_key(const sl__kstate *ks, sl_bytes *out);
/* The key (borrowed: valid while the record is processed) and its group. */
void sl__kstate_set_key(sl__kstate *ks, const void *key, uint32_t klen, int kg);
/* Start loading the state of keys (states without a namespace): the table
 * slots of the key whose hash is slot_hash, the entries of entry_hash's
 * (asked for its slots a few records before); 0: none.  See the
 * backend's prefetch. */
void sl__kstate_prefetch(sl__kstate *ks, uint64_t slot_hash, uint64_t entry_hash);
/* The current key's sl__key_hash. */
uint64_t sl__kstate_key_hash(const sl__kstate *ks);
/* The same with the key's hash (sl__key_hash) known already. */
void sl__kstate_set_key_h(sl__kstate *ks, const void *key, uint32_t klen, uint64_t hash,
                          int kg);

/* The keyed-state context of the operator instance behind ctx, or NULL
 * when the operator is not keyed (state.c). */
sl__kstate *sl__ctx_kstate(sl_ctx *ctx);
/* Broadcast state of a broadcast connect, or NULL. */
sl__kstate *sl__ctx_bstate(sl_ctx *ctx);
/* Operator state of the instance, created on first use. */
int sl__ctx_ostate(sl_ctx *ctx, sl__kstate **out);
/* A heap store of one key group and an empty key for an instance's
 * operator or broadcast state (`what` names it in errors). */
struct sl__inst;
int sl__unkeyed_state_new(struct sl__inst *inst, const char *what, sl__kstate **out);

/* Key groups of subtask i of P (Flink's computeKeyGroupRangeForOperatorIndex):
 * exactly the groups g with g * P / max_parallelism == i. */
static inline void sl__key_group_range(int max_parallelism, int P, int i, int *lo,
                                       int *hi) {
  *lo = (i * max_parallelism + P - 1) / P;
  *hi = ((i + 1) * max_parallelism - 1) / P;
}

/* Operator state of subtask `subtask` of P, restored from the images that
 * the n subtasks of an earlier run wrote (in subtask order) into `be` (a
 * one-key-group heap store): list state split evenly, union list whole. */
int sl__opstate_restore(sl__backend *be, const char *const *paths, int n, int P,
                        int subtask, char *err, size_t errcap);

/* An aggregating state's raw accumulator (desc->size bytes; view valid
 * until the next state call) and its replacement: window merging. */
int sl__aggregating_raw(sl_state *s, sl_bytes *out);
/* sl_aggregating_add that also says whether the accumulator was new. */
int sl__aggregating_add(sl_state *s, const void *in, uint32_t in_len, int *first);
int sl__aggregating_set_raw(sl_state *s, const void *acc);
/* Every entry of state s over all key groups of its backend (any key, any
 * namespace), with the stored value as is (state.c's encodings).  fn
 * returns 0 to go on; it must not modify the state (collect, then
 * change).  0, fn's non-zero result, or a negative code (an entry whose
 * composite key does not parse: -SL_ESTATE). */
typedef int (*sl__state_entry_fn)(void *arg, const void *key, uint32_t klen, int kg,
                                  const void *ns, uint32_t nslen, const void *val,
                                  uint32_t vlen);
int sl__state_foreach(sl_state *s, sl__state_entry_fn fn, void *arg);

/* Figures for metrics: each state registered in ks's backend (also those
 * restored and not yet used), in registration order, as fn(ud, name,
 * entries, bytes): the backend's state_stats (backend.h: exact running
 * counts on the heap, an estimate on RocksDB) plus what the operator keeps
 * of that state outside the backend (sl__kstate_set_outside).  On the
 * thread that owns ks (the instance's worker), no locking; cost: one
 * state_stats per state (heap: two loads; RocksDB: three property reads,
 * microseconds).  name is borrowed, valid while ks lives.  fn returns 0
 * to go on.  Returns 0 (also for ks NULL, or a backend without
 * state_stats: fn is not called), fn's non-zero result, or a negative
 * code (message in the backend's err). */
typedef int (*sl__state_stats_fn)(void *ud, const char *state, uint64_t entries,
                                  uint64_t bytes);
int sl__kstate_stats(sl__kstate *ks, sl__state_stats_fn fn, void *ud);

/* Keyed state an operator keeps outside the backend (the window fast
 * path): fn adds the entries and bytes it holds of the state named
 * `state` to that state's figures in sl__kstate_stats (called there, on
 * the same thread).  One per ks; fn NULL removes it.  state and ud are
 * borrowed: they must outlive the registration. */
typedef void (*sl__outside_stats_fn)(void *ud, uint64_t *entries, uint64_t *bytes);
void sl__kstate_set_outside(sl__kstate *ks, const char *state, sl__outside_stats_fn fn,
                            void *ud);

/* Every state of an operator instance (keyed, operator, broadcast; not the
 * timers') with its entries and bytes, for the metrics (bound as
 * sl__job_hooks.state_stats; the instance's worker thread). */
struct sl__inst;
void sl__inst_state_stats(struct sl__inst *inst,
                          void (*fn)(void *ud, const char *state, uint64_t entries,
                                     uint64_t bytes),
                          void *ud);

/* Processing-time clock used for TTL (tests install a fake one). */
void sl__state_set_clock(int64_t (*clock_ms)(void));

#endif

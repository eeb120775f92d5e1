/*
 * window.h -- the window and join operators as the api sees them
 * (internal): their behaviour (vtables) and the configurations the api
 * builds operators with.  src/api/windows.c turns the public calls
 * (sl_window_*, sl_window_join, sl_interval_join) into graph nodes.
 */
#ifndef SL_WINDOW_H
#define SL_WINDOW_H

#include "runtime/runtime.h"

/* What a window does with its elements. */
typedef enum { SL__WF_AGG, SL__WF_REDUCE, SL__WF_PROCESS } sl__wf_kind;

/* A window operator's configuration for the op (freed by
 * sl__window_cfg_free), or NULL with *err saying why (an invalid spec, a
 * missing function; NULL when memory ran out). */
void *sl__window_cfg_new(const sl_window_spec *w, sl__wf_kind fk, const sl_state_desc *agg,
                         sl_reduce_fn reduce, sl_window_fn fn, const char **err);
void sl__window_cfg_free(void *cfg);
const sl__op_vt *sl__window_vtable(void);

/* Joins (join.c).  A join's configuration (freed with sl__free), or NULL
 * when out of memory. */
void *sl__join_cfg_new(sl_join_fn fn, void *ud, int64_t lower_ms, int64_t upper_ms);
/* The window join is composed of public operators: side A's records are
 * tagged 'A', side B's 'B' (maps), unioned, keyed, and the window function
 * pairs them (its ud is the join's configuration). */
int sl__join_tag_a(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out);
int sl__join_tag_b(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out);
int sl__join_pair_window(void *ud, sl_ctx *ctx, const sl_window *w, sl_window_elems *we,
                         sl_collector *out);
const sl__op_vt *sl__interval_join_vtable(void);

#endif

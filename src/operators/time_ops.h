/*
 * time_ops.h -- the event-time operators as the api sees them (internal):
 * the timestamp assigner / watermark generator and the keyed process
 * function (time_ops.c).
 */
#ifndef SL_TIME_OPS_H
#define SL_TIME_OPS_H

#include "runtime/runtime.h"

/* A timestamp assigner's configuration (freed with sl__free), or NULL when
 * out of memory.  strategy may be NULL (the defaults). */
void *sl__wm_gen_new(sl_timestamp_fn ts_fn, void *ud, const sl_watermark_strategy *strategy);
/* Behaviour of SL__OP_TIMESTAMPS and SL__OP_KEYED_PROCESS (else NULL). */
const sl__op_vt *sl__time_vtable(sl__op_kind kind);
/* A keyed process function's timer callback (sl__timers_new): calls the
 * op's sl_timer_fn (fn2) with the collector; a failure names the key. */
int sl__keyed_on_timer(sl__inst *inst, sl_time_domain d, int64_t ts, const void *ns,
                       uint32_t nslen);

#endif

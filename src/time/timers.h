/*
 * timers.h -- the timer service of a keyed operator instance (internal).
 *
 * Timers are (domain, timestamp, key, namespace); registering the same one
 * twice keeps one.  Event-time timers fire when the instance's watermark
 * reaches their timestamp, processing-time timers when the wall clock does,
 * in timestamp order, each with its key set as the current key.  Every
 * timer is also kept in keyed state ("__timers_event" /
 * "__timers_processing", namespace = ts + namespace) so that snapshots of
 * the backend include them.
 */
#ifndef SL_TIMERS_H
#define SL_TIMERS_H

#include "runtime/runtime.h"

typedef struct sl__timers sl__timers;

/* Called for each firing timer; the current key is set. */
typedef int (*sl__timer_cb)(sl__inst *inst, sl_time_domain domain, int64_t ts,
                            const void *ns, uint32_t nslen);

int sl__timers_new(sl__inst *inst, sl__timer_cb cb, sl__timers **out);
void sl__timers_free(sl__timers *t);
/* For the current key. 0 or negative. */
int sl__timer_add(sl__timers *t, sl_time_domain d, int64_t ts, const void *ns,
                  uint32_t nslen);
int sl__timer_del(sl__timers *t, sl_time_domain d, int64_t ts, const void *ns,
                  uint32_t nslen);
/* Fire every timer of domain d with ts <= until. */
int sl__timers_fire(sl__timers *t, sl_time_domain d, int64_t until);
/* After a restore: rebuild the timer queues from keyed state. */
int sl__timers_restore(sl__timers *t);
/* Earliest pending timestamp of d, or INT64_MAX. */
int64_t sl__timers_next(sl__timers *t, sl_time_domain d);

/* How a timer is kept in keyed state, for code that writes the entries of
 * timers kept elsewhere into a checkpoint image (the window fast path):
 * the state's name (a value state; the value is empty), and the entry's
 * namespace, ts order-preserving big-endian then the timer's own namespace
 * (nslen + 8 bytes into out; returns that length). */
const char *sl__timers_state_name(sl_time_domain d);
uint32_t sl__timer_persist_ns(uint8_t *out, int64_t ts, const void *ns, uint32_t nslen);

#endif

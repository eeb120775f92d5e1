/*
 * source_sink.h -- sources and sinks as the runtime holds them: the public
 * connector contract (include/sluice_connector.h, which specifies every
 * call) behind the opaque sl_source / sl_sink handles.  The runtime, the
 * checkpoint code and the graph builder drive connectors only through
 * these; connectors themselves see nothing of the runtime.
 */
#ifndef SL_SOURCE_SINK_H
#define SL_SOURCE_SINK_H

#include "sluice_connector.h"

struct sl_source {
  const sl_source_ops *ops;
  unsigned flags; /* SL_SOURCE_* */
  void *ud;
};

struct sl_sink {
  const sl_sink_ops *ops;
  unsigned flags; /* SL_SINK_* */
  void *ud;
};

/* The source's checkpoint_complete, or NULL (also for a version 1 table,
 * which is shorter and has no such field). */
static inline int (*sl__source_ckpt_complete(const sl_source *s))(void *, sl_ctx *, int64_t) {
  return s->ops->version >= 2 ? s->ops->checkpoint_complete : NULL;
}

#endif

/*
 * graph.h -- graph building shared by the files of the api (internal):
 * graph.c owns environments, streams and ops; windows.c adds the time,
 * window and join operators through these calls.
 */
#ifndef SL_GRAPH_H
#define SL_GRAPH_H

#include "runtime/runtime.h"

/* A graph call failed: the job will not run, with this message. */
void sl__graph_error(sl_stream *s, const char *msg);
/* ... for want of memory (sl_execute returns -SL_ENOMEM). */
void sl__graph_oom(sl_stream *s);
/* The stream is keyed (sl_key_by) and hash-partitioned. */
int sl__stream_keyed(const sl_stream *s);
/* A single-input operator with a configuration; takes cfg over, also on
 * failure. */
sl_stream *sl__add_op_cfg(sl_stream *in, sl__op_kind kind, void *fn, void *fn2, void *ud,
                          void *cfg, void (*cfg_free)(void *));
/* A two-input operator with a configuration (interval join); the same. */
sl_stream *sl__add_two_input_op(sl_stream *a, sl_stream *b, sl__op_kind kind, void *cfg,
                                void (*cfg_free)(void *));

#endif

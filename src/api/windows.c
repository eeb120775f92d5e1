/*
 * windows.c -- the public calls that add event-time, window and join
 * operators to a graph: sl_assign_timestamps, sl_keyed_process,
 * sl_window_aggregate / _reduce / _process, sl_window_join and
 * sl_interval_join.  They validate, build the operator's configuration in
 * its own module (time_ops.h, window.h) and add the node (graph.h).
 */
#include "api/graph.h"
#include "operators/time_ops.h"
#include "window/window.h"

sl_stream *sl_assign_timestamps(sl_stream *in, sl_timestamp_fn ts_fn, void *ud,
                                const sl_watermark_strategy *strategy) {
  if (!in) return NULL;
  if (strategy && strategy->kind == SL_WM_CUSTOM && !strategy->on_event && !strategy->on_periodic) {
    sl__graph_error(in, "sl_assign_timestamps: a custom watermark strategy needs on_event or "
                        "on_periodic (it would never emit a watermark)");
    return NULL;
  }
  void *g = sl__wm_gen_new(ts_fn, ud, strategy);
  if (!g) {
    sl__graph_oom(in);
    return NULL;
  }
  return sl__add_op_cfg(in, SL__OP_TIMESTAMPS, (void *)ts_fn, NULL, ud, g, sl__free);
}

sl_stream *sl_keyed_process(sl_stream *keyed, sl_flat_map_fn fn, sl_timer_fn on_timer,
                            void *ud) {
  if (!keyed) return NULL;
  return sl__add_op_cfg(keyed, SL__OP_KEYED_PROCESS, (void *)fn, (void *)on_timer, ud, NULL,
                        NULL);
}

sl_stream *sl_keyed_process_batch(sl_stream *keyed, sl_batch_fn fn, sl_timer_fn on_timer,
                                  void *ud) {
  return sl__add_op_cfg(keyed, SL__OP_KEYED_BATCH, (void *)fn, (void *)on_timer, ud, NULL, NULL);
}

static sl_stream *window_op(sl_stream *in, const sl_window_spec *w, sl__wf_kind fk,
                           const sl_state_desc *agg, sl_reduce_fn reduce, sl_window_fn fn,
                           void *ud) {
  if (!in) return NULL;
  const char *err = NULL;
  void *c = sl__window_cfg_new(w, fk, agg, reduce, fn, &err);
  if (!c) {
    if (err)
      sl__graph_error(in, err);
    else
      sl__graph_oom(in);
    return NULL;
  }
  return sl__add_op_cfg(in, SL__OP_WINDOW, (void *)fn, NULL, ud, c, sl__window_cfg_free);
}

sl_stream *sl_window_aggregate(sl_stream *keyed, const sl_window_spec *w,
                               const sl_state_desc *agg, sl_window_fn fn, void *ud) {
  return window_op(keyed, w, SL__WF_AGG, agg, NULL, fn, ud);
}

sl_stream *sl_window_reduce(sl_stream *keyed, const sl_window_spec *w, sl_reduce_fn reduce,
                            sl_window_fn fn, void *ud) {
  return window_op(keyed, w, SL__WF_REDUCE, NULL, reduce, fn, ud);
}

sl_stream *sl_window_process(sl_stream *keyed, const sl_window_spec *w, sl_window_fn fn,
                             void *ud) {
  return window_op(keyed, w, SL__WF_PROCESS, NULL, NULL, fn, ud);
}

/* Built on the public API like Flink builds it on coGroup (see join.c). */
sl_stream *sl_window_join(sl_stream *a, sl_stream *b, const sl_window_spec *w, sl_join_fn fn,
                          void *ud) {
  if (!a || !b) return NULL;
  if (!fn || !w || w->kind == SL_WINDOW_SESSION || w->kind == SL_WINDOW_GLOBAL ||
      !sl__stream_keyed(a) || !sl__stream_keyed(b)) {
    sl__graph_error(a, "sl_window_join: two keyed streams, a join function and a tumbling "
                       "or sliding window are needed");
    return NULL;
  }
  void *c = sl__join_cfg_new(fn, ud, 0, 0);
  if (!c) {
    sl__graph_oom(a);
    return NULL;
  }
  /* the tagging map of side A owns the configuration */
  sl_stream *ins[2] = {
      sl__add_op_cfg(a, SL__OP_MAP, (void *)sl__join_tag_a, NULL, NULL, c, sl__free),
      sl_map(b, sl__join_tag_b, NULL)};
  if (!ins[0] || !ins[1]) return NULL;
  sl_stream *k = sl_key_by(sl_union(ins, 2), NULL, NULL);
  return sl_name(sl_window_process(k, w, sl__join_pair_window, c), "window-join");
}

sl_stream *sl_interval_join(sl_stream *a, sl_stream *b, int64_t lower_ms, int64_t upper_ms,
                            sl_join_fn fn, void *ud) {
  if (!a || !b) return NULL;
  if (!fn || lower_ms > upper_ms || !sl__stream_keyed(a) || !sl__stream_keyed(b)) {
    sl__graph_error(a, "sl_interval_join: two keyed streams, a join function and "
                       "lower <= upper are needed");
    return NULL;
  }
  void *c = sl__join_cfg_new(fn, ud, lower_ms, upper_ms);
  if (!c) {
    sl__graph_oom(a);
    return NULL;
  }
  return sl_name(sl__add_two_input_op(a, b, SL__OP_INTERVAL_JOIN, c, sl__free), "interval-join");
}

"""WatermarkStrategy and TimestampAssigner (PyFlink's
pyflink.common.watermark_strategy).

DataStream.assign_timestamps_and_watermarks(strategy) compiles a strategy
onto the engine: the timestamp assigner (a TimestampAssigner or a callable
(value, record_timestamp) -> int ms) runs in a Python batch operator, one
interpreter lock per run of up to 64 records, which stamps each record; the
engine's sl_assign_timestamps then generates the watermarks in C from those
timestamps (bounded out-of-orderness: max seen - bound - 1; monotonous: max
seen - 1; idle subtasks stop holding the watermark back after with_idleness'
timeout).  Watermarks go out every pipeline.auto-watermark-interval (0:
after every record)."""


class TimestampAssigner(object):
    def extract_timestamp(self, value, record_timestamp):
        raise NotImplementedError


class WatermarkStrategy(object):
    def __init__(self, kind, bound_ms=0):
        self._kind = kind
        self._bound_ms = bound_ms
        self._assigner = None
        self._idle_ms = 0

    @staticmethod
    def no_watermarks():
        return WatermarkStrategy("none")

    @staticmethod
    def for_monotonous_timestamps():
        return WatermarkStrategy("monotonous")

    @staticmethod
    def for_bounded_out_of_orderness(max_out_of_orderness):
        ms = max_out_of_orderness.to_milliseconds() if hasattr(max_out_of_orderness, "to_milliseconds") \
            else int(max_out_of_orderness)
        if ms < 0:
            raise ValueError("for_bounded_out_of_orderness needs a bound >= 0")
        return WatermarkStrategy("bounded", ms)

    def with_timestamp_assigner(self, timestamp_assigner):
        if not isinstance(timestamp_assigner, TimestampAssigner) and not callable(timestamp_assigner):
            raise TypeError("with_timestamp_assigner needs a TimestampAssigner or a callable "
                            "(value, record_timestamp) -> int, got %r" % (timestamp_assigner,))
        self._assigner = timestamp_assigner
        return self

    def with_idleness(self, idle_timeout):
        self._idle_ms = idle_timeout.to_milliseconds() if hasattr(idle_timeout, "to_milliseconds") \
            else int(idle_timeout)
        return self

    def _extract(self):
        """callable(value, record_ts) -> ts, or None (keep the records' own)."""
        a = self._assigner
        if a is None:
            return None
        if isinstance(a, TimestampAssigner):
            return a.extract_timestamp
        try:
            import inspect
            params = [p for p in inspect.signature(a).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            if len(params) == 1 and not any(p.kind == p.VAR_POSITIONAL
                                            for p in inspect.signature(a).parameters.values()):
                return lambda v, ts: a(v)  # a lambda of the value only
        except (TypeError, ValueError):
            pass
        return a

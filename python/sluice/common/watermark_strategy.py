"""WatermarkStrategy (PyFlink's pyflink.common.watermark_strategy).  This
slice keeps the strategy on the source; event time arrives with windows."""


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
        return WatermarkStrategy("bounded", max_out_of_orderness.to_milliseconds())

    def with_timestamp_assigner(self, timestamp_assigner):
        self._assigner = timestamp_assigner
        return self

    def with_idleness(self, idle_timeout):
        self._idle_ms = idle_timeout.to_milliseconds()
        return self

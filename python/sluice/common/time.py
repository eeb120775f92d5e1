"""Duration and Time (PyFlink's pyflink.common.time), in milliseconds."""


class _Millis(object):
    """A span of milliseconds; equal only to a span of the same class."""

    def __init__(self, millis):
        self._ms = int(millis)

    def to_milliseconds(self): return self._ms

    def __eq__(self, o): return type(o) is type(self) and o._ms == self._ms

    def __hash__(self): return hash(self._ms)

    def __repr__(self): return "%s(%d ms)" % (type(self).__name__, self._ms)


class Duration(_Millis):
    @staticmethod
    def of_millis(m): return Duration(m)

    @staticmethod
    def of_seconds(s): return Duration(s * 1000)

    @staticmethod
    def of_minutes(m): return Duration(m * 60000)

    @staticmethod
    def of_hours(h): return Duration(h * 3600000)

    @staticmethod
    def of_days(d): return Duration(d * 86400000)

    @staticmethod
    def of_nanos(n): return Duration(n // 1000000)


class Time(_Millis):
    @staticmethod
    def milliseconds(m): return Time(m)

    @staticmethod
    def seconds(s): return Time(s * 1000)

    @staticmethod
    def minutes(m): return Time(m * 60000)

    @staticmethod
    def hours(h): return Time(h * 3600000)

    @staticmethod
    def days(d): return Time(d * 86400000)

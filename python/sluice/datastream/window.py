"""Windows (PyFlink's pyflink.datastream.window): window assigners, triggers
and the window types handed to window functions.

An assigner describes one of the engine's window specs (sl_window_spec):
tumbling, sliding and session windows in event or processing time, global
windows with a count trigger.  Window contents live in the engine's keyed
state (the serialised values of each window), so checkpoints, savepoints
and restores hold them; see WindowedStream in data_stream.py."""
from sluice._native import native as _native


def _ms(t, what):
    """Time / Duration / int milliseconds -> int ms."""
    if t is None:
        return 0
    if hasattr(t, "to_milliseconds"):
        return int(t.to_milliseconds())
    if isinstance(t, int) and not isinstance(t, bool):
        return t
    raise TypeError("%s must be a Time, a Duration or milliseconds (int), got %r" % (what, t))


class Window(object):
    def max_timestamp(self):
        raise NotImplementedError


class TimeWindow(Window):
    """[start, end) in milliseconds; its results carry timestamp end - 1."""

    def __init__(self, start, end):
        self.start = start
        self.end = end

    def max_timestamp(self):
        return self.end - 1

    def intersects(self, other):
        return self.start <= other.end and self.end >= other.start

    def cover(self, other):
        return TimeWindow(min(self.start, other.start), max(self.end, other.end))

    @staticmethod
    def get_window_start_with_offset(timestamp, offset, window_size):
        return timestamp - (timestamp - offset + window_size) % window_size

    def __eq__(self, other):
        return isinstance(other, TimeWindow) and (self.start, self.end) == (other.start, other.end)

    def __hash__(self):
        return hash((self.start, self.end))

    def __lt__(self, other):
        return (self.start, self.end) < (other.start, other.end)

    def __repr__(self):
        return "TimeWindow(start=%d, end=%d)" % (self.start, self.end)


class GlobalWindow(Window):
    """The one window per key of count windows."""
    _instance = None

    @staticmethod
    def get():
        if GlobalWindow._instance is None:
            GlobalWindow._instance = GlobalWindow()
        return GlobalWindow._instance

    def max_timestamp(self):
        return 2 ** 63 - 1

    def __eq__(self, other):
        return isinstance(other, GlobalWindow)

    def __hash__(self):
        return 0

    def __repr__(self):
        return "GlobalWindow"


class CountWindow(Window):
    def __init__(self, id):
        self.id = id

    def max_timestamp(self):
        return 2 ** 63 - 1

    def __eq__(self, other):
        return isinstance(other, CountWindow) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return "CountWindow(id=%d)" % self.id


# ---- triggers ---------------------------------------------------------------------------

class Trigger(object):
    """The engine's built-in triggers only (a Python Trigger subclass with
    on_element/on_event_time is not supported)."""
    _kind = _native.TRIGGER_DEFAULT
    _count = 0
    _purge = False


class EventTimeTrigger(Trigger):
    _kind = _native.TRIGGER_EVENT_TIME

    @staticmethod
    def create():
        return EventTimeTrigger()


class ProcessingTimeTrigger(Trigger):
    _kind = _native.TRIGGER_PROCESSING_TIME

    @staticmethod
    def create():
        return ProcessingTimeTrigger()


class CountTrigger(Trigger):
    """Fires every `count` records of a window (Flink: FIRE, no purge)."""
    _kind = _native.TRIGGER_COUNT

    def __init__(self, count):
        if int(count) < 1:
            raise ValueError("CountTrigger needs count >= 1")
        self._count = int(count)

    @staticmethod
    def of(window_size):
        return CountTrigger(window_size)


class PurgingTrigger(Trigger):
    """Clears the window's contents whenever the nested trigger fires."""

    def __init__(self, nested):
        if not isinstance(nested, Trigger):
            raise TypeError("PurgingTrigger.of needs a Trigger, got %r" % (nested,))
        self._kind = nested._kind
        self._count = nested._count
        self._purge = True

    @staticmethod
    def of(nested_trigger):
        return PurgingTrigger(nested_trigger)


# ---- assigners ---------------------------------------------------------------------------

class WindowAssigner(object):
    _kind = _native.WINDOW_TUMBLING
    _time = _native.EVENT_TIME
    _size = _slide = _gap = _offset = 0

    def is_event_time(self):
        return self._time == _native.EVENT_TIME

    def _default_trigger(self):
        return Trigger()

    def __repr__(self):
        return "%s(size=%d, slide=%d, gap=%d, offset=%d)" % (
            type(self).__name__, self._size, self._slide, self._gap, self._offset)


def _check_offset(size, offset):
    if abs(offset) >= size:
        raise ValueError("a window's offset must be smaller than its size (|%d| >= %d)" % (offset, size))


class TumblingEventTimeWindows(WindowAssigner):
    def __init__(self, size, offset=0):
        if size <= 0:
            raise ValueError("TumblingEventTimeWindows needs size > 0")
        _check_offset(size, offset)
        self._size, self._offset = size, offset

    @staticmethod
    def of(size, offset=None):
        return TumblingEventTimeWindows(_ms(size, "size"), _ms(offset, "offset"))


class TumblingProcessingTimeWindows(TumblingEventTimeWindows):
    _time = _native.PROCESSING_TIME

    @staticmethod
    def of(size, offset=None):
        return TumblingProcessingTimeWindows(_ms(size, "size"), _ms(offset, "offset"))


class SlidingEventTimeWindows(WindowAssigner):
    _kind = _native.WINDOW_SLIDING

    def __init__(self, size, slide, offset=0):
        if size <= 0 or slide <= 0:
            raise ValueError("SlidingEventTimeWindows needs size > 0 and slide > 0")
        _check_offset(slide, offset)
        self._size, self._slide, self._offset = size, slide, offset

    @staticmethod
    def of(size, slide, offset=None):
        return SlidingEventTimeWindows(_ms(size, "size"), _ms(slide, "slide"), _ms(offset, "offset"))


class SlidingProcessingTimeWindows(SlidingEventTimeWindows):
    _time = _native.PROCESSING_TIME

    @staticmethod
    def of(size, slide, offset=None):
        return SlidingProcessingTimeWindows(_ms(size, "size"), _ms(slide, "slide"), _ms(offset, "offset"))


class EventTimeSessionWindows(WindowAssigner):
    _kind = _native.WINDOW_SESSION

    def __init__(self, gap):
        if gap <= 0:
            raise ValueError("session windows need a gap > 0")
        self._gap = gap

    @staticmethod
    def with_gap(size):
        return EventTimeSessionWindows(_ms(size, "gap"))


class ProcessingTimeSessionWindows(EventTimeSessionWindows):
    _time = _native.PROCESSING_TIME

    @staticmethod
    def with_gap(size):
        return ProcessingTimeSessionWindows(_ms(size, "gap"))


class GlobalWindows(WindowAssigner):
    """One window per key; it needs a trigger (CountTrigger)."""
    _kind = _native.WINDOW_GLOBAL

    @staticmethod
    def create():
        return GlobalWindows()


class CountTumblingWindowAssigner(GlobalWindows):
    pass


class CountSlidingWindowAssigner(GlobalWindows):
    pass


__all__ = ["CountTrigger", "CountWindow", "EventTimeSessionWindows", "EventTimeTrigger", "GlobalWindow",
           "GlobalWindows", "ProcessingTimeSessionWindows", "ProcessingTimeTrigger", "PurgingTrigger",
           "SlidingEventTimeWindows", "SlidingProcessingTimeWindows", "TimeWindow", "Trigger",
           "TumblingEventTimeWindows", "TumblingProcessingTimeWindows", "Window", "WindowAssigner"]

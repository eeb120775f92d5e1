"""User function classes (PyFlink's pyflink.datastream.functions).

Each subtask gets its own copy of a function object (copy.deepcopy, as
PyFlink gives each a deserialised copy), opened with the subtask's
RuntimeContext before its first record and closed after its last.  A plain
callable (a lambda) is used as is wherever PyFlink takes one.
"""
from sluice._native import native as _native


class RuntimeContext(object):
    """The subtask's context: index, parallelism, task name, keyed state."""

    def __init__(self, native_ctx):
        self._ctx = native_ctx

    def get_index_of_this_subtask(self):
        return self._ctx.subtask()

    def get_number_of_parallel_subtasks(self):
        return self._ctx.parallelism()

    def get_max_number_of_parallel_subtasks(self):
        return self._ctx.parallelism()

    def get_task_name(self):
        return self._ctx.operator()

    def get_task_name_with_subtasks(self):
        return "%s (%d/%d)" % (self._ctx.operator(), self._ctx.subtask() + 1, self._ctx.parallelism())

    def get_attempt_number(self):
        return 0

    def _ttl(self, d):
        t = d._ttl_config
        return (0, 0) if t is None else (t._ttl_ms, t._update_type)

    def get_state(self, state_descriptor):
        """Keyed ValueState, kept in the engine's state backend (so it is in
        checkpoints and savepoints and restores at any parallelism)."""
        from sluice.datastream.state import ValueState, ValueStateDescriptor
        if not isinstance(state_descriptor, ValueStateDescriptor):
            raise TypeError("get_state needs a ValueStateDescriptor, got %r" % (state_descriptor,))
        return ValueState(self._ctx.value_state(state_descriptor.get_name(), *self._ttl(state_descriptor)))

    def get_list_state(self, state_descriptor):
        """Keyed ListState (the engine's list state: add appends without
        reading the list)."""
        from sluice.datastream.state import ListState, ListStateDescriptor
        if not isinstance(state_descriptor, ListStateDescriptor):
            raise TypeError("get_list_state needs a ListStateDescriptor, got %r" % (state_descriptor,))
        return ListState(self._ctx.list_state(state_descriptor.get_name(), *self._ttl(state_descriptor)))

    def get_map_state(self, state_descriptor):
        """Keyed MapState (the engine's map state: one entry per user key)."""
        from sluice.datastream.state import MapState, MapStateDescriptor
        if not isinstance(state_descriptor, MapStateDescriptor):
            raise TypeError("get_map_state needs a MapStateDescriptor, got %r" % (state_descriptor,))
        return MapState(self._ctx.map_state(state_descriptor.get_name(), *self._ttl(state_descriptor)))

    def get_reducing_state(self, state_descriptor):
        """Keyed ReducingState: the reduced value, kept serialised in a value
        state of the engine (Python values have no fixed size)."""
        from sluice.datastream.state import ReducingState, ReducingStateDescriptor
        if not isinstance(state_descriptor, ReducingStateDescriptor):
            raise TypeError("get_reducing_state needs a ReducingStateDescriptor, got %r" % (state_descriptor,))
        return ReducingState(self._ctx.value_state(state_descriptor.get_name(), *self._ttl(state_descriptor)),
                             state_descriptor._reduce)

    def get_aggregating_state(self, state_descriptor):
        """Keyed AggregatingState: the accumulator, kept serialised in a
        value state of the engine; get() is the AggregateFunction's result."""
        from sluice.datastream.state import AggregatingState, AggregatingStateDescriptor
        if not isinstance(state_descriptor, AggregatingStateDescriptor):
            raise TypeError("get_aggregating_state needs an AggregatingStateDescriptor, got %r"
                            % (state_descriptor,))
        return AggregatingState(self._ctx.value_state(state_descriptor.get_name(),
                                                      *self._ttl(state_descriptor)),
                                state_descriptor._agg)


class Function(object):
    def open(self, runtime_context):
        pass

    def close(self):
        pass


class MapFunction(Function):
    def map(self, value):
        raise NotImplementedError


class FlatMapFunction(Function):
    def flat_map(self, value):
        raise NotImplementedError


class FilterFunction(Function):
    def filter(self, value):
        raise NotImplementedError


class KeySelector(Function):
    def get_key(self, value):
        raise NotImplementedError


class ReduceFunction(Function):
    def reduce(self, value1, value2):
        raise NotImplementedError


class SinkFunction(Function):
    """A Python sink: invoke(value, context) per record (sluice's own; a
    PyFlink SinkFunction is a Java one)."""

    def invoke(self, value, context):
        raise NotImplementedError


class TimerService(object):
    def __init__(self, ctx):
        self._ctx = ctx

    def current_processing_time(self):
        return self._ctx.now()

    def current_watermark(self):
        return self._ctx.watermark()

    def register_processing_time_timer(self, timestamp):
        self._ctx.register_timer(_native.PROCESSING_TIME, int(timestamp))

    def register_event_time_timer(self, timestamp):
        self._ctx.register_timer(_native.EVENT_TIME, int(timestamp))

    def delete_processing_time_timer(self, timestamp):
        self._ctx.delete_timer(_native.PROCESSING_TIME, int(timestamp))

    def delete_event_time_timer(self, timestamp):
        self._ctx.delete_timer(_native.EVENT_TIME, int(timestamp))


class TimeDomain(object):
    EVENT_TIME = 0
    PROCESSING_TIME = 1


class ProcessFunction(Function):
    """process_element(value, ctx) yields (or returns an iterable of) the
    records to emit."""

    class Context(object):
        def __init__(self, ctx):
            self._ctx = ctx
            self._timer_service = TimerService(ctx)

        def timestamp(self):
            return self._ctx.timestamp()

        def timer_service(self):
            return self._timer_service

    def process_element(self, value, ctx):
        raise NotImplementedError


class KeyedProcessFunction(Function):
    """process_element(value, ctx) and on_timer(timestamp, ctx) yield the
    records to emit; ctx.get_current_key(), ctx.timer_service()."""

    class Context(ProcessFunction.Context):
        def get_current_key(self):
            return self._ctx.current_key()

    class OnTimerContext(Context):
        def __init__(self, ctx):
            super().__init__(ctx)
            self._domain = 0

        def time_domain(self):
            return self._domain

    def process_element(self, value, ctx):
        raise NotImplementedError

    def on_timer(self, timestamp, ctx):
        pass


class AggregateFunction(Function):
    """Incremental aggregation: create_accumulator, add(value, acc) -> acc,
    get_result(acc), merge(acc_a, acc_b) -> acc (session windows)."""

    def create_accumulator(self):
        raise NotImplementedError

    def add(self, value, accumulator):
        raise NotImplementedError

    def get_result(self, accumulator):
        raise NotImplementedError

    def merge(self, acc_a, acc_b):
        raise NotImplementedError


class WindowFunction(Function):
    """apply(key, window, inputs) yields (or returns an iterable of) results."""

    def apply(self, key, window, inputs):
        raise NotImplementedError


class ProcessWindowFunction(Function):
    """process(key, context, elements) yields (or returns an iterable of)
    results; context.window() is the TimeWindow (start, end) firing."""

    class Context(object):
        def __init__(self, ctx):
            self._ctx = ctx
            self._window = None

        def window(self):
            return self._window

        def current_processing_time(self):
            return self._ctx.now()

        def current_watermark(self):
            return self._ctx.watermark()

    def process(self, key, context, elements):
        raise NotImplementedError

    def clear(self, context):
        pass


class CoMapFunction(Function):
    """map1 for the first connected stream's records, map2 for the second's."""

    def map1(self, value):
        raise NotImplementedError

    def map2(self, value):
        raise NotImplementedError


class CoFlatMapFunction(Function):
    def flat_map1(self, value):
        raise NotImplementedError

    def flat_map2(self, value):
        raise NotImplementedError


class CoProcessFunction(Function):
    """process_element1/2(value, ctx) yield results (or (OutputTag, value))."""

    class Context(ProcessFunction.Context):
        pass

    def process_element1(self, value, ctx):
        raise NotImplementedError

    def process_element2(self, value, ctx):
        raise NotImplementedError


class KeyedCoProcessFunction(CoProcessFunction):
    """On two connected keyed streams: keyed state shared by both inputs,
    ctx.get_current_key(), ctx.timer_service() timers and on_timer."""

    class Context(KeyedProcessFunction.Context):
        pass

    def on_timer(self, timestamp, ctx):
        pass

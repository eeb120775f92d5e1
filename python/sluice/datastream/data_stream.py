"""DataStream, KeyedStream, WindowedStream and ConnectedStreams (PyFlink's
pyflink.datastream.data_stream).

A stream is a node of the environment's graph; nothing runs until
execute().  The graph is built into a libsluice job at each execute (see
stream_execution_environment.py)."""
import copy

from sluice._native import native as _native
from sluice.common.typeinfo import Types, check_type_info
from sluice.common.types import Row
from sluice.datastream.functions import (AggregateFunction, CoFlatMapFunction, CoMapFunction,
                                         CoProcessFunction, FilterFunction, FlatMapFunction, Function,
                                         KeyedCoProcessFunction, KeyedProcessFunction, KeySelector,
                                         MapFunction, ProcessFunction, ProcessWindowFunction, ReduceFunction,
                                         RuntimeContext, SinkFunction, WindowFunction)
from sluice.datastream.output_tag import OutputTag


class _Node(object):
    """One transformation: kind and its arguments, inputs, name/uid."""

    def __init__(self, env, kind, inputs=(), **args):
        self.env = env
        self.kind = kind
        self.inputs = list(inputs)
        self.args = args
        self.name = None
        self.uid = None
        self.parallelism = None
        self.output_type = None


_METHOD = {_native.MAP: ("map", MapFunction, "a MapFunction"),
           _native.FLAT_MAP: ("flat_map", FlatMapFunction, "a FlatMapFunction"),
           _native.FILTER: ("filter", FilterFunction, "a FilterFunction"),
           _native.KEY: ("get_key", KeySelector, "a KeySelector"),
           _native.REDUCE: ("reduce", ReduceFunction, "a ReduceFunction"),
           _native.SINK: ("invoke", SinkFunction, "a SinkFunction"),
           _native.PROCESS: ("process_element", ProcessFunction, "a ProcessFunction"),
           _native.KEYED_PROCESS: ("process_element", (KeyedProcessFunction, ProcessFunction),
                                   "a KeyedProcessFunction")}


def _check_fn(mode, fn, what):
    method, cls, cls_name = _METHOD[mode]
    if isinstance(fn, cls):
        return
    if mode in (_native.PROCESS, _native.KEYED_PROCESS) or isinstance(fn, Function) or not callable(fn):
        raise TypeError("%s() needs %s%s, got %r" % (
            what, cls_name, "" if mode in (_native.PROCESS, _native.KEYED_PROCESS) else " or a callable", fn))


def _factory(mode, fn):
    """callable(native ctx) -> (call, on_timer, close) for one subtask."""
    method = _METHOD[mode][0]

    def make(native_ctx):
        f = fn
        if isinstance(fn, Function):
            try:
                f = copy.deepcopy(fn)  # each subtask its own (as PyFlink deserialises one each)
            except Exception:
                f = fn
            f.open(RuntimeContext(native_ctx))
        on_timer, close = None, (f.close if isinstance(f, Function) else None)
        if mode == _native.PROCESS:
            ctx = ProcessFunction.Context(native_ctx)
            pe = f.process_element

            def call(v):
                return pe(v, ctx)
        elif mode == _native.KEYED_PROCESS:
            ctx = KeyedProcessFunction.Context(native_ctx)
            tctx = KeyedProcessFunction.OnTimerContext(native_ctx)
            pe = f.process_element

            def call(v):
                return pe(v, ctx)
            if hasattr(f, "on_timer"):
                ot = f.on_timer

                def on_timer(ts, domain):
                    tctx._domain = domain
                    return ot(ts, tctx)
        elif mode == _native.SINK and isinstance(f, SinkFunction):
            inv = f.invoke

            def call(v):
                inv(v, None)
        else:
            call = getattr(f, method) if isinstance(f, Function) else f
        return (call, on_timer, close)
    return make


def _batch_reduce_factory(fn):
    """BATCH mode: a keyed reduce that emits each key's result once, when
    the end of the input fires an event-time timer per key (Flink's batch
    reduce), over the engine's keyed state."""
    inner = _factory(_native.REDUCE, fn)
    end = 2 ** 63 - 1  # the final watermark (end of input) fires it

    def make(native_ctx):
        call, _, close = inner(native_ctx)
        acc = native_ctx.value_state("__sluice_reduce")
        register = native_ctx.register_timer
        event = _native.EVENT_TIME

        def process(v):
            a = acc.value()
            acc.update(v if a is None else call(a, v))
            register(event, end)
            return None

        def on_timer(ts, domain):
            return (acc.value(),)
        return (process, on_timer, close)
    return make


def _java_str(v):
    """What Flink's toString prints for a typed value (the text of sinks,
    Encoder.simple_string_encoder and print): (a,1) for a tuple, true,
    null, [a, b] for a list, {k=v} for a map, +I[a, 1] for a Row."""
    if v is None:
        return "null"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, tuple):
        return "(" + ",".join(_java_str(x) for x in v) + ")"
    if isinstance(v, list):
        return "[" + ", ".join(_java_str(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join("%s=%s" % (_java_str(k), _java_str(x)) for k, x in v.items()) + "}"
    if isinstance(v, Row):
        return "%s[%s]" % (v.get_row_kind().short_string(), ", ".join(_java_str(x) for x in v))
    return str(v)


def _java_str_factory(native_ctx):
    return (_java_str, None, None)


class DataStream(object):
    def __init__(self, node):
        self._node = node
        self._env = node.env

    # ---- naming and parallelism ----------------------------------------------------
    def name(self, name):
        self._node.name = str(name)
        return self

    def get_name(self):
        return self._node.name

    def uid(self, uid):
        self._node.uid = str(uid)
        return self

    def set_uid_hash(self, uid_hash):
        return self

    def set_description(self, description):
        return self

    def set_parallelism(self, parallelism):
        """Kept for PyFlink compatibility: sluice runs every operator at the
        job's parallelism (one subtask per worker), so this only checks the
        number; set the job's with env.set_parallelism."""
        if int(parallelism) < 1:
            raise ValueError("parallelism must be >= 1")
        self._node.parallelism = int(parallelism)
        return self

    def set_max_parallelism(self, max_parallelism):
        return self

    def get_type(self):
        return self._node.output_type

    def get_execution_environment(self):
        return self._env

    def disable_chaining(self):
        return self

    def start_new_chain(self):
        return self

    def slot_sharing_group(self, slot_sharing_group):
        return self

    # ---- transformations -------------------------------------------------------------
    def _op(self, mode, fn, what, output_type=None, cls=None):
        _check_fn(mode, fn, what)
        node = _Node(self._env, "op", [self._node], mode=mode, factory=_factory(mode, fn), fn=fn, what=what)
        node.output_type = check_type_info(output_type)
        return (cls or DataStream)(node)

    def map(self, func, output_type=None):
        return self._op(_native.MAP, func, "map", output_type)

    def flat_map(self, func, output_type=None):
        return self._op(_native.FLAT_MAP, func, "flat_map", output_type)

    def filter(self, func):
        s = self._op(_native.FILTER, func, "filter")
        s._node.output_type = self._node.output_type
        return s

    def process(self, func, output_type=None):
        return self._op(_native.PROCESS, func, "process", output_type)

    def key_by(self, key_selector, key_type=None):
        check_type_info(key_type, "key_type")
        _check_fn(_native.KEY, key_selector, "key_by")
        node = _Node(self._env, "op", [self._node], mode=_native.KEY,
                     factory=_factory(_native.KEY, key_selector), what="key_by")
        node.output_type = self._node.output_type
        return KeyedStream(node)

    def union(self, *streams):
        for s in streams:
            if not isinstance(s, DataStream):
                raise TypeError("union() takes DataStreams, got %r" % (s,))
            if s._env is not self._env:
                raise ValueError("union(): every stream must come from the same environment")
        node = _Node(self._env, "union", [self._node] + [s._node for s in streams])
        node.output_type = self._node.output_type
        return DataStream(node)

    def _partition(self, how):
        node = _Node(self._env, "partition", [self._node], how=how)
        node.output_type = self._node.output_type
        return DataStream(node)

    def rebalance(self):
        return self._partition("rebalance")

    def shuffle(self):
        return self._partition("rebalance")

    def rescale(self):
        return self._partition("rebalance")

    def forward(self):
        return self._partition("forward")

    def broadcast(self):
        return self._partition("broadcast")

    def global_(self):
        return self._partition("global")

    def assign_timestamps_and_watermarks(self, watermark_strategy):
        """Event time: the strategy's timestamp assigner stamps each record
        (in Python, one interpreter lock per run of records) and the engine
        generates the watermarks (see sluice.common.watermark_strategy).
        After a non-parallel source (from_collection, a socket) it runs in
        the source's subtask, so watermarks follow the source's order."""
        from sluice.common.watermark_strategy import WatermarkStrategy
        if not isinstance(watermark_strategy, WatermarkStrategy):
            raise TypeError("assign_timestamps_and_watermarks needs a WatermarkStrategy, got %r"
                            % (watermark_strategy,))
        node = _Node(self._env, "timestamps", [self._node], strategy=watermark_strategy,
                     factory=_assigner_factory(watermark_strategy._extract()))
        node.output_type = self._node.output_type
        return DataStream(node)

    def get_side_output(self, output_tag):
        """The records this stream's operator sent to output_tag (a process
        function's `yield tag, value`, a window's late records)."""
        if not isinstance(output_tag, OutputTag):
            raise TypeError("get_side_output needs an OutputTag, got %r" % (output_tag,))
        node = _Node(self._env, "side", [self._node], tag=output_tag.tag_id)
        node.output_type = output_tag.type_info
        return DataStream(node)

    def connect(self, ds):
        """Two streams into one operator (CoMapFunction, CoFlatMapFunction,
        CoProcessFunction); keyed state when both are keyed."""
        if not isinstance(ds, DataStream):
            raise TypeError("connect() takes a DataStream, got %r" % (ds,))
        if ds._env is not self._env:
            raise ValueError("connect(): both streams must come from the same environment")
        return ConnectedStreams(self, ds)

    # ---- sinks --------------------------------------------------------------------------
    def _sink(self, kind, **args):
        node = _Node(self._env, "sink", [self._node], sink=kind, **args)
        self._env._sinks.append(node)
        return DataStreamSink(node)

    def print(self, sink_identifier=None):
        """str(record) per line on stdout, "<subtask+1>> " in front at P > 1."""
        return self._sink("print")

    def add_sink(self, sink_func):
        from sluice.datastream.connectors.file_system import FileSink, _TextFile
        from sluice.datastream.connectors.jdbc import JdbcSink
        if isinstance(sink_func, (FileSink, JdbcSink)):
            return self.sink_to(sink_func)
        if isinstance(sink_func, _TextFile):
            return self._sink("file", path=sink_func.path)
        if isinstance(sink_func, SinkFunction) or (callable(sink_func) and not isinstance(sink_func, Function)):
            s = self._op(_native.SINK, sink_func, "add_sink")
            return s._sink("discard")
        raise TypeError("add_sink() needs a FileSink, a SinkFunction or a callable, got %r" % (sink_func,))

    def sink_to(self, sink):
        from sluice.datastream.connectors.file_system import FileSink, _TextFile
        from sluice.datastream.connectors.kafka import KafkaSink
        from sluice.datastream.connectors.jdbc import JdbcSink
        if isinstance(sink, JdbcSink):
            csv = self.map(sink._encoder(), output_type=Types.STRING()).name("jdbc-rows")
            return csv._sink("postgres", conninfo=sink._conninfo, options=sink._options, table=sink._table,
                             exactly_once=sink._exactly_once)
        if isinstance(sink, KafkaSink):
            return self._sink("kafka", options=sink._options)
        if isinstance(sink, FileSink):
            sink._apply(self._env)
            return self._sink("file", path=sink._path)
        if isinstance(sink, _TextFile):
            return self._sink("file", path=sink.path)
        raise TypeError("sink_to() needs a FileSink, a KafkaSink or a JdbcSink, got %r" % (sink,))

    def execute_and_collect(self, job_execution_name=None, limit=None):
        """Runs the job (with every sink added so far) and returns an iterator
        over this stream's records (all of them: the job has ended)."""
        node = _Node(self._env, "sink", [self._node], sink="collect")
        values = self._env._execute_collect(node, job_execution_name)
        if limit is not None:
            values = values[:int(limit)]
        return CloseableIterator(values)


class DataStreamSink(object):
    def __init__(self, node):
        self._node = node

    def name(self, name):
        self._node.name = str(name)
        return self

    def uid(self, uid):
        self._node.uid = str(uid)
        return self

    def set_parallelism(self, parallelism):
        self._node.parallelism = int(parallelism)
        return self

    def set_description(self, description):
        return self

    def disable_chaining(self):
        return self


class CloseableIterator(object):
    def __init__(self, values):
        self._it = iter(values)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)

    def next(self):
        return next(self._it)

    def close(self):
        self._it = iter(())

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()


def _get(v, pos):
    return v[pos]


def _with(v, pos, x):
    if isinstance(v, tuple):
        return v[:pos] + (x,) + v[pos + 1:]
    if isinstance(v, list):
        v = list(v)
        v[pos] = x
        return v
    if isinstance(v, Row):
        r = Row._from_codec(v._fields, list(v._values))
        r[pos] = x
        return r
    if isinstance(v, dict):
        v = dict(v)
        v[pos] = x
        return v
    raise TypeError("cannot set field %r of a %s" % (pos, type(v).__name__))


def _scalar(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _agg(pos, pick):
    """A reduce that keeps the first record and updates field pos with
    pick(old, new) (PyFlink's sum/min/max)."""
    def reduce(a, b):
        if _scalar(a) and pos in (0, None):
            return pick(a, b)
        return _with(a, pos, pick(_get(a, pos), _get(b, pos)))
    return reduce


def _agg_by(pos, better):
    def reduce(a, b):
        if _scalar(a):
            return b if better(b, a) else a
        return b if better(_get(b, pos), _get(a, pos)) else a
    return reduce


class KeyedStream(DataStream):
    """A stream partitioned by key: its reduce and process keep keyed state
    in the engine's state backend."""

    def reduce(self, func):
        s = self._op(_native.REDUCE, func, "reduce")
        s._node.output_type = self._node.output_type
        return s

    def sum(self, position_to_sum=0):
        return self.reduce(_agg(position_to_sum, lambda x, y: x + y))

    def min(self, position_to_min=0):
        return self.reduce(_agg(position_to_min, lambda x, y: y if y < x else x))

    def max(self, position_to_max=0):
        return self.reduce(_agg(position_to_max, lambda x, y: y if y > x else x))

    def min_by(self, position_to_min_by=0):
        return self.reduce(_agg_by(position_to_min_by, lambda n, o: n < o))

    def max_by(self, position_to_max_by=0):
        return self.reduce(_agg_by(position_to_max_by, lambda n, o: n > o))

    def process(self, func, output_type=None):
        return self._op(_native.KEYED_PROCESS, func, "process", output_type)

    def window(self, window_assigner):
        """A WindowedStream over the engine's window operator."""
        from sluice.datastream.window import WindowAssigner
        if not isinstance(window_assigner, WindowAssigner):
            raise TypeError("window() needs a WindowAssigner (sluice.datastream.window), got %r"
                            % (window_assigner,))
        return WindowedStream(self, window_assigner)

    def count_window(self, size, slide=0):
        """Count windows: every `size` records of a key (tumbling), or every
        `slide` records the last `size` of them (sliding).  A count window
        that never fills never fires (as in Flink)."""
        from sluice.datastream.window import CountSlidingWindowAssigner, CountTrigger, PurgingTrigger, \
            CountTumblingWindowAssigner
        size, slide = int(size), int(slide)
        if size < 1 or slide < 0:
            raise ValueError("count_window needs size >= 1 and slide >= 0")
        if slide == 0:
            w = WindowedStream(self, CountTumblingWindowAssigner())
            return w.trigger(PurgingTrigger.of(CountTrigger.of(size)))
        w = WindowedStream(self, CountSlidingWindowAssigner())
        w._sliding_count = (size, slide)
        return w


def _open_fn(f, native_ctx):
    """The subtask's own opened copy of a Function (a callable as is)."""
    if isinstance(f, Function):
        try:
            f = copy.deepcopy(f)
        except Exception:
            pass
        f.open(RuntimeContext(native_ctx))
    return f


def _closer(opened):
    def close():
        for f in opened:
            if isinstance(f, Function):
                f.close()
    return close


def _assigner_factory(extract):
    if extract is None:
        return None

    def make(native_ctx):
        return (extract, None, None)
    return make


class WindowedStream(object):
    """KeyedStream.window(assigner) / count_window(...): reduce, aggregate,
    process and apply compile onto the engine's window operator
    (sl_window_process): each window's values are buffered serialised in
    the engine's keyed state (checkpointed, restored, rescaled with it) and
    the Python function runs once per firing, with one interpreter lock,
    over the window's values in arrival order (the same results as Flink's
    incremental reduce and aggregate)."""

    def __init__(self, keyed_stream, window_assigner):
        self._keyed = keyed_stream
        self._assigner = window_assigner
        self._trigger = None
        self._lateness = 0
        self._late_tag = None
        self._sliding_count = None

    def get_execution_environment(self):
        return self._keyed._env

    def get_input_type(self):
        return self._keyed._node.output_type

    def trigger(self, trigger):
        from sluice.datastream.window import Trigger
        if not isinstance(trigger, Trigger):
            raise TypeError("trigger() takes one of sluice's triggers (CountTrigger, EventTimeTrigger, "
                            "ProcessingTimeTrigger, PurgingTrigger), got %r" % (trigger,))
        self._no_sliding_count("trigger")
        self._trigger = trigger
        return self

    def allowed_lateness(self, time_ms):
        ms = time_ms.to_milliseconds() if hasattr(time_ms, "to_milliseconds") else int(time_ms)
        if ms < 0:
            raise ValueError("allowed_lateness must be >= 0")
        self._lateness = ms
        return self

    def side_output_late_data(self, output_tag):
        if not isinstance(output_tag, OutputTag):
            raise TypeError("side_output_late_data needs an OutputTag, got %r" % (output_tag,))
        self._late_tag = output_tag.tag_id
        return self

    def evictor(self, evictor):
        raise NotImplementedError("sluice's windows have no evictors (count_window(size, slide) keeps "
                                  "the last size records itself)")

    def _no_sliding_count(self, what):
        if self._sliding_count:
            raise ValueError("%s: not for count_window(size, slide), which fires every slide records"
                             % what)

    # ---- the window function ------------------------------------------------------------
    def _window_of(self):
        from sluice.datastream.window import GlobalWindow, TimeWindow
        if self._assigner._kind == _native.WINDOW_GLOBAL:
            g = GlobalWindow.get()
            return lambda s, e: g
        return TimeWindow

    def _build(self, name, make_call, fns, output_type):
        """make_call(opened fns, native ctx) -> call(key, window, values)."""
        if self._sliding_count:
            return self._build_sliding_count(make_call, fns, output_type)
        win = self._window_of()

        def make(native_ctx):
            opened = [_open_fn(f, native_ctx) if f is not None else None for f in fns]
            inner = make_call(opened, native_ctx)

            def call(key, start, end, values):
                return inner(key, win(start, end), values)
            return (call, None, _closer(opened))
        a = self._assigner
        t = self._trigger
        node = _Node(self._keyed._env, "window", [self._keyed._node], factory=make,
                     spec=(a._kind, a._time, a._size, a._slide, a._gap, a._offset,
                           t._kind if t else _native.TRIGGER_DEFAULT, t._count if t else 0,
                           bool(t and t._purge), self._lateness if a._time == _native.EVENT_TIME else 0,
                           self._late_tag))
        node.output_type = check_type_info(output_type)
        return DataStream(node)

    def _build_sliding_count(self, make_call, fns, output_type):
        """count_window(size, slide) (Flink: a global window, CountTrigger
        of slide, CountEvictor of size): a keyed process over the engine's
        keyed state -- the key's last `size` values (list state) and the
        records since the last firing (value state) -- calling the window
        function every `slide` records, so the state stays bounded."""
        from sluice.datastream.window import GlobalWindow
        size, slide = self._sliding_count
        g = GlobalWindow.get()

        def make(native_ctx):
            opened = [_open_fn(f, native_ctx) if f is not None else None for f in fns]
            inner = make_call(opened, native_ctx)
            last = native_ctx.list_state("__sluice_count_window")
            count = native_ctx.value_state("__sluice_count_window_n")
            key = native_ctx.current_key

            def call(v):
                vals = last.get()
                vals.append(v)
                if len(vals) > size:
                    vals = vals[-size:]
                    last.update(vals)
                else:
                    last.add(v)
                n = (count.value() or 0) + 1
                if n < slide:
                    count.update(n)
                    return None
                count.clear()
                return inner(key(), g, vals)
            return (call, None, _closer(opened))
        node = _Node(self._keyed._env, "op", [self._keyed._node], mode=_native.KEYED_PROCESS, factory=make,
                     what="count_window")
        node.output_type = check_type_info(output_type)
        return DataStream(node)

    @staticmethod
    def _then(window_function, opened, native_ctx):
        """result -> iterable: [result] through the optional window function."""
        if window_function is None:
            return lambda key, w, r: (r,)
        if isinstance(window_function, ProcessWindowFunction):
            ctx = ProcessWindowFunction.Context(native_ctx)
            f = opened

            def pwf(key, w, r):
                ctx._window = w
                return f.process(key, ctx, [r])
            return pwf
        if isinstance(window_function, WindowFunction):
            return lambda key, w, r: opened.apply(key, w, [r])
        return lambda key, w, r: opened(key, w, [r])

    def reduce(self, reduce_function, window_function=None, output_type=None):
        """The window's values reduced in order (ReduceFunction or a
        callable); the result goes out, or to window_function (a
        ProcessWindowFunction or WindowFunction) as its one element."""
        if not isinstance(reduce_function, ReduceFunction) and (isinstance(reduce_function, Function) or
                                                                not callable(reduce_function)):
            raise TypeError("reduce() needs a ReduceFunction or a callable, got %r" % (reduce_function,))
        _check_window_function(window_function, "reduce")

        def make_call(opened, native_ctx):
            f, wf = opened
            red = f.reduce if isinstance(f, ReduceFunction) else f
            then = WindowedStream._then(window_function, wf, native_ctx)

            def call(key, w, values):
                it = iter(values)
                acc = next(it)
                for v in it:
                    acc = red(acc, v)
                return then(key, w, acc)
            return call
        return self._build("window reduce", make_call, [reduce_function, window_function],
                           output_type if window_function is not None else output_type or
                           self._keyed._node.output_type)

    def aggregate(self, aggregate_function, window_function=None, accumulator_type=None, output_type=None):
        """create_accumulator, add(value, acc) per value in order,
        get_result; the result goes out or to window_function."""
        if not isinstance(aggregate_function, AggregateFunction):
            raise TypeError("aggregate() needs an AggregateFunction, got %r" % (aggregate_function,))
        check_type_info(accumulator_type, "accumulator_type")
        _check_window_function(window_function, "aggregate")

        def make_call(opened, native_ctx):
            f, wf = opened
            then = WindowedStream._then(window_function, wf, native_ctx)

            def call(key, w, values):
                acc = f.create_accumulator()
                for v in values:
                    acc = f.add(v, acc)
                return then(key, w, f.get_result(acc))
            return call
        return self._build("window aggregate", make_call, [aggregate_function, window_function], output_type)

    def process(self, process_window_function, output_type=None):
        """process(key, context, elements) with every element of the window."""
        if not isinstance(process_window_function, ProcessWindowFunction):
            raise TypeError("process() needs a ProcessWindowFunction, got %r" % (process_window_function,))

        def make_call(opened, native_ctx):
            f = opened[0]
            ctx = ProcessWindowFunction.Context(native_ctx)

            def call(key, w, values):
                ctx._window = w
                return f.process(key, ctx, values)
            return call
        return self._build("window process", make_call, [process_window_function], output_type)

    def apply(self, window_function, output_type=None):
        """apply(key, window, inputs) (a WindowFunction or a callable)."""
        if not isinstance(window_function, WindowFunction) and (isinstance(window_function, Function) or
                                                                not callable(window_function)):
            raise TypeError("apply() needs a WindowFunction or a callable, got %r" % (window_function,))

        def make_call(opened, native_ctx):
            f = opened[0]
            return f.apply if isinstance(f, WindowFunction) else f
        return self._build("window apply", make_call, [window_function], output_type)


def _check_window_function(wf, what):
    if wf is not None and not isinstance(wf, (ProcessWindowFunction, WindowFunction)) and \
            (isinstance(wf, Function) or not callable(wf)):
        raise TypeError("%s(): window_function must be a ProcessWindowFunction or a WindowFunction, got %r"
                        % (what, wf))


class ConnectedStreams(object):
    """Two connected streams (DataStream.connect): map / flat_map / process
    with a two-input function, in one batch operator (one interpreter lock
    per run of records of either input); keyed when both inputs are keyed:
    the functions share keyed state, and a KeyedCoProcessFunction has
    timers (ctx.timer_service(), on_timer)."""

    def __init__(self, stream1, stream2):
        self.stream1 = stream1
        self.stream2 = stream2

    def key_by(self, key_selector1, key_selector2, key_type=None):
        return ConnectedStreams(self.stream1.key_by(key_selector1, key_type),
                                self.stream2.key_by(key_selector2, key_type))

    def _co(self, fn, kind, output_type):
        def make(native_ctx):
            f = _open_fn(fn, native_ctx)
            if kind == "map":
                m1, m2 = f.map1, f.map2
                calls = (lambda v: (m1(v),), lambda v: (m2(v),))
            elif kind == "flat_map":
                calls = (f.flat_map1, f.flat_map2)
            else:
                keyed = isinstance(f, KeyedCoProcessFunction)
                ctx = (KeyedCoProcessFunction.Context if keyed else CoProcessFunction.Context)(native_ctx)
                p1, p2 = f.process_element1, f.process_element2
                calls = (lambda v: p1(v, ctx), lambda v: p2(v, ctx))
                if keyed and both_keyed:
                    tctx = KeyedProcessFunction.OnTimerContext(native_ctx)
                    ot = f.on_timer

                    def on_timer(ts, domain):
                        tctx._domain = domain
                        return ot(ts, tctx)
                    return (calls, on_timer, f.close)
            return (calls, None, f.close)
        both_keyed = isinstance(self.stream1, KeyedStream) and isinstance(self.stream2, KeyedStream)
        node = _Node(self.stream1._env, "connect", [self.stream1._node, self.stream2._node], factory=make,
                     keyed=both_keyed)
        node.output_type = check_type_info(output_type)

        return DataStream(node)

    def map(self, func, output_type=None):
        if not isinstance(func, CoMapFunction):
            raise TypeError("ConnectedStreams.map needs a CoMapFunction, got %r" % (func,))
        return self._co(func, "map", output_type)

    def flat_map(self, func, output_type=None):
        if not isinstance(func, CoFlatMapFunction):
            raise TypeError("ConnectedStreams.flat_map needs a CoFlatMapFunction, got %r" % (func,))
        return self._co(func, "flat_map", output_type)

    def process(self, func, output_type=None):
        if not isinstance(func, CoProcessFunction):
            raise TypeError("ConnectedStreams.process needs a CoProcessFunction or a "
                            "KeyedCoProcessFunction, got %r" % (func,))
        return self._co(func, "process", output_type)

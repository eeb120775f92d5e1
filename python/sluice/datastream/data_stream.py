"""DataStream and KeyedStream (PyFlink's pyflink.datastream.data_stream).

A stream is a node of the environment's graph; nothing runs until
execute().  The graph is built into a libsluice job at each execute (see
stream_execution_environment.py)."""
import copy

from sluice._native import native as _native
from sluice.common.typeinfo import check_type_info
from sluice.common.types import Row
from sluice.datastream.functions import (FilterFunction, FlatMapFunction, Function, KeyedProcessFunction,
                                         KeySelector, MapFunction, ProcessFunction, ReduceFunction,
                                         RuntimeContext, SinkFunction)


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
        if isinstance(sink_func, FileSink):
            return self.sink_to(sink_func)
        if isinstance(sink_func, _TextFile):
            return self._sink("file", path=sink_func.path)
        if isinstance(sink_func, SinkFunction) or (callable(sink_func) and not isinstance(sink_func, Function)):
            s = self._op(_native.SINK, sink_func, "add_sink")
            return s._sink("discard")
        raise TypeError("add_sink() needs a FileSink, a SinkFunction or a callable, got %r" % (sink_func,))

    def sink_to(self, sink):
        from sluice.datastream.connectors.file_system import FileSink, _TextFile
        if isinstance(sink, FileSink):
            sink._apply(self._env)
            return self._sink("file", path=sink._path)
        if isinstance(sink, _TextFile):
            return self._sink("file", path=sink.path)
        raise TypeError("sink_to() needs a FileSink, got %r" % (sink,))

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

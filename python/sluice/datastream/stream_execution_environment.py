"""StreamExecutionEnvironment (PyFlink's names) over libsluice.

The environment keeps the graph of the job in Python; execute() builds it
into a new libsluice environment (an sl_env runs once), applies the
configuration (Flink's keys, `sluice conf --list`), runs it with the GIL
released, and clears the sinks, as PyFlink clears its transformations.  A
Python exception in a user function fails the job: execute() raises
sluice.JobExecutionError with the engine's error (operator, subtask,
record) and the Python traceback, the exception as its __cause__."""
import sys
import threading
import traceback

from sluice._native import native as _native
from sluice.common.configuration import Configuration
from sluice.common.job_status import JobStatus
from sluice.common.typeinfo import check_type_info
from sluice.datastream.checkpoint_config import CheckpointConfig, CheckpointingMode
from sluice.common.typeinfo import Types
from sluice.datastream.data_stream import DataStream, _Node, _batch_reduce_factory, _java_str_factory
from sluice.datastream.state_backend import StateBackend

DEFAULT_JOB_NAME = "Flink Streaming Job"


class JobExecutionResult(object):
    def __init__(self, job_id, result):
        self._job_id = job_id
        self._result = result

    def get_job_id(self):
        return self._job_id

    def get_net_runtime(self):
        return int(self._result["seconds"] * 1000)

    def get_job_execution_result(self):
        return self

    def get_records_in(self):
        return self._result["records_in"]

    def get_records_out(self):
        return self._result["records_out"]

    def get_checkpoints(self):
        return self._result["checkpoints"]

    def __repr__(self):
        return "JobExecutionResult(job_id=%s, net_runtime=%d ms)" % (self._job_id, self.get_net_runtime())


class JobClient(object):
    """A job started by execute_async: it runs on a thread of this process."""

    def __init__(self, env, native_env, name, collect):
        self._env = env
        self._native = native_env
        self._name = name
        self._collect = collect
        self._status = JobStatus.RUNNING
        self._result = None
        self._error = None
        self._done = threading.Event()
        self._job_id = None
        # not a daemon: the interpreter waits for the job at exit (finalising
        # it under running workers would crash them)
        self._thread = threading.Thread(target=self._run, name="sluice job " + name)
        self._thread.start()

    def _run(self):
        try:
            self._result = self._env._run_native(self._native, self._name, self._collect, self)
            self._status = JobStatus.FINISHED
        except BaseException as e:  # noqa: B902 -- handed to the waiting thread
            self._error = e
            self._status = JobStatus.CANCELED if getattr(e, "canceled", False) else JobStatus.FAILED
        finally:
            self._done.set()

    def get_job_id(self):
        if self._done.is_set():
            return self._job_id
        try:
            return self._native.job_id()
        except RuntimeError:  # ended just now
            self._done.wait()
            return self._job_id

    def get_job_status(self):
        return self._status

    def cancel(self):
        """Stops the job (sources stop, what was read is processed); returns
        at once: wait() or get_job_execution_result() waits for the end."""
        if not self._done.is_set():
            self._status = JobStatus.CANCELLING
            self._native.cancel()

    def wait(self, timeout=None):
        """True once the job has ended."""
        return self._done.wait(timeout)

    def get_job_execution_result(self):
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result


class StreamExecutionEnvironment(object):
    def __init__(self, configuration=None):
        self._conf = Configuration(configuration) if configuration is not None else Configuration()
        self._sinks = []
        self._checkpoint_config = CheckpointConfig(self._conf)
        self._check_conf()

    @staticmethod
    def get_execution_environment(configuration=None):
        return StreamExecutionEnvironment(configuration)

    # ---- configuration ---------------------------------------------------------------
    def _check_conf(self):
        """Unknown keys and bad values fail here, naming the key."""
        e = _native.Env()
        try:
            for k, v in self._conf.to_dict().items():
                e.set(k, v)
        finally:
            e.close()

    def _set(self, key, value):
        e = _native.Env()
        try:
            e.set(key, str(value))
        finally:
            e.close()
        self._conf.set_string(key, str(value))
        return self

    def configure(self, configuration):
        """Every key of configuration (sluice's keys, `sluice conf --list`)."""
        for k, v in configuration.to_dict().items():
            self._set(k, v)
        return self

    def get_config(self):
        from sluice.common.execution_config import ExecutionConfig
        return ExecutionConfig(self)

    def get_configuration(self):
        return Configuration(self._conf)

    def set_parallelism(self, parallelism):
        if int(parallelism) < 1:
            raise ValueError("parallelism must be >= 1, got %r" % (parallelism,))
        return self._set("parallelism.default", int(parallelism))

    def get_parallelism(self):
        v = self._conf.get_string("parallelism.default")
        if v:
            return int(v)
        e = _native.Env()
        try:
            return int(e.get("parallelism.default"))
        finally:
            e.close()

    def set_max_parallelism(self, max_parallelism):
        return self._set("pipeline.max-parallelism", int(max_parallelism))

    def get_max_parallelism(self):
        return int(self._conf.get_string("pipeline.max-parallelism", "128"))

    def set_buffer_timeout(self, timeout_millis):
        return self._set("execution.buffer-timeout", "%dms" % int(timeout_millis))

    def enable_checkpointing(self, interval, mode=None):
        if mode not in (None, CheckpointingMode.EXACTLY_ONCE):
            raise ValueError("sluice checkpoints are exactly-once (aligned barriers)")
        return self._set("execution.checkpointing.interval", "%dms" % int(interval))

    def get_checkpoint_config(self):
        return self._checkpoint_config

    def get_checkpoint_interval(self):
        return self._checkpoint_config.get_checkpoint_interval()

    def set_state_backend(self, state_backend):
        if not isinstance(state_backend, StateBackend):
            raise TypeError("set_state_backend needs HashMapStateBackend() or "
                            "EmbeddedRocksDBStateBackend(), got %r" % (state_backend,))
        self._set("state.backend.type", state_backend._type)
        if getattr(state_backend, "_incremental", None) is not None:
            self._set("execution.checkpointing.incremental",
                      "true" if state_backend._incremental else "false")
        return self

    def set_runtime_mode(self, execution_mode):
        """RuntimeExecutionMode.STREAMING / BATCH / AUTOMATIC.  BATCH: every
        source must be bounded, and a keyed reduce (sum, min, max) emits one
        final record per key at the end of the input, as in Flink."""
        return self._set("execution.runtime-mode", getattr(execution_mode, "name", str(execution_mode)).lower())

    # ---- sources ------------------------------------------------------------------------
    def read_text_file(self, file_path, charset_name="UTF-8"):
        """The lines of a file, a directory's files or a glob pattern, as str."""
        if charset_name.upper().replace("-", "") != "UTF8":
            raise ValueError("sluice reads UTF-8 text only, not %s" % charset_name)
        return DataStream(_Node(self, "file_source", path=str(file_path)))

    def from_collection(self, collection, type_info=None):
        check_type_info(type_info, "type_info")
        items = list(collection)
        for i, v in enumerate(items):
            try:
                _native.encode(v)
            except Exception as e:
                raise TypeError("from_collection: element %d (%r) cannot be serialised: %s" % (i, v, e)) from e
        node = _Node(self, "collection", items=items)
        node.output_type = type_info
        return DataStream(node)

    def socket_text_stream(self, hostname, port, delimiter="\n", max_retry=0):
        """Lines from a TCP server (Flink's socketTextStream).  The stream
        ends when the server closes the connection, after max_retry
        reconnects (-1: never)."""
        if delimiter != "\n":
            raise ValueError("sluice's socket source splits lines at '\\n' only")
        self._set("source.socket.max-retry", int(max_retry))
        return DataStream(_Node(self, "socket_source", host=str(hostname), port=int(port)))

    def from_source(self, source, watermark_strategy=None, source_name=None, type_info=None):
        from sluice.datastream.connectors.file_system import FileSource
        from sluice.datastream.connectors.kafka import KafkaSource
        from sluice.datastream.connectors.postgres import PostgresSource, _decode_row
        if isinstance(source, PostgresSource):
            s = DataStream(_Node(self, "postgres_source", conninfo=source._conninfo, options=source._options))
            s.name(source_name or "PostgreSQL source")
            s = s.map(_decode_row).name("postgres-rows")
            if watermark_strategy is not None and watermark_strategy._kind != "none":
                s = s.assign_timestamps_and_watermarks(watermark_strategy)
            return s
        if isinstance(source, KafkaSource):
            st = watermark_strategy
            in_source = st is not None and st._kind != "none" and st._assigner is None
            kind = -1 if not in_source else (_native.WM_MONOTONOUS if st._kind == "monotonous"
                                             else _native.WM_BOUNDED)
            s = DataStream(_Node(self, "kafka_source", options=source._options, wm=(
                kind, st._bound_ms if in_source else 0, st._idle_ms if in_source else 0)))
            if source_name:
                s.name(source_name)
            if st is not None and st._kind != "none" and not in_source:
                s = s.assign_timestamps_and_watermarks(st)
            return s
        if not isinstance(source, FileSource):
            raise TypeError("from_source() needs a FileSource, a KafkaSource or a PostgresSource, got %r"
                            % (source,))
        s = self._text_files(source._paths, source._monitor_ms, source_name)
        if watermark_strategy is not None and watermark_strategy._kind != "none":
            s = s.assign_timestamps_and_watermarks(watermark_strategy)
        return s

    def add_source(self, source_func, source_name="Custom Source", type_info=None):
        from sluice.datastream.connectors.file_system import FileSource, _TextFile
        if isinstance(source_func, _TextFile):
            return self._text_files([source_func.path], None, None)
        if isinstance(source_func, FileSource):
            return self.from_source(source_func, None, source_name)
        raise TypeError("add_source() takes a file source here (FileSource, or the seed shim's "
                        "Descriptor.from_string(path).build()), got %r" % (source_func,))

    def _text_files(self, paths, monitor_ms, name):
        if monitor_ms:
            self._set("source.monitor-interval", "%dms" % monitor_ms)
        streams = [DataStream(_Node(self, "file_source", path=str(p))) for p in paths]
        s = streams[0] if len(streams) == 1 else streams[0].union(*streams[1:])
        if name:
            s.name(name)
        return s

    # ---- running -----------------------------------------------------------------------
    def _build(self, extra=None):
        ne = _native.Env()
        try:
            for k, v in self._conf.to_dict().items():
                ne.set(k, v)
            memo = {}
            collect = None
            for node in self._sinks + ([extra] if extra is not None else []):
                c = self._build_node(ne, node, memo)
                if node is extra:
                    collect = c
            return ne, collect
        except BaseException:
            ne.close()
            raise

    def _build_node(self, ne, node, memo):
        if id(node) in memo:
            return memo[id(node)]
        ins = [self._build_node(ne, i, memo) for i in node.inputs]
        a = node.args
        if node.kind == "file_source":
            h = ne.file_source(a["path"])
        elif node.kind == "socket_source":
            h = ne.socket_source(a["host"], a["port"])
        elif node.kind == "kafka_source":
            h = ne.kafka_source(a["options"], *a["wm"])
        elif node.kind == "postgres_source":
            h = ne.postgres_source(a["conninfo"], a["options"])
        elif node.kind == "collection":
            h = ne.collection_source(a["items"])
        elif node.kind == "op" and a["mode"] == _native.REDUCE and self._batch_mode():
            h = ne.op(ins[0], _native.KEYED_PROCESS, _batch_reduce_factory(a["fn"]))
        elif node.kind == "op":
            h = ne.op(ins[0], a["mode"], a["factory"])
        elif node.kind == "timestamps":
            st = a["strategy"]
            if st._kind == "none":
                h = ins[0]
            else:
                up = node.inputs[0]
                # after a key_by or an explicit partitioning the edge keeps it
                forward = not ((up.kind == "op" and up.args["mode"] == _native.KEY) or up.kind == "partition")
                kind = _native.WM_MONOTONOUS if st._kind == "monotonous" else _native.WM_BOUNDED
                h = ne.assign_timestamps(ins[0], a["factory"], forward, kind, st._bound_ms, st._idle_ms)
        elif node.kind == "window":
            h = ne.window(ins[0], a["factory"], *a["spec"])
        elif node.kind == "connect":
            h = ne.connect(ins[0], ins[1], a["factory"], a["keyed"])
        elif node.kind == "side":
            h = ne.side_output(ins[0], a["tag"])
        elif node.kind == "union":
            h = ne.union(ins)
        elif node.kind == "partition":
            h = ne.partition(ins[0], a["how"])
        elif node.kind == "sink" and a["sink"] == "postgres":
            if a["exactly_once"] and self.get_checkpoint_interval() <= 0:
                raise ValueError("JdbcSink.exactly_once_sink (table %s): needs checkpointing "
                                 "(env.enable_checkpointing(interval_ms)): its transactions are "
                                 "committed by completed checkpoints" % (a["table"],))
            h = ne.postgres_sink(ins[0], a["conninfo"], a["options"])
        elif node.kind == "sink":
            src = ins[0]
            t = node.inputs[0].output_type
            if a["sink"] in ("file", "print", "kafka") and t is not None and t != Types.STRING():
                # a typed stream prints as Flink prints it: (a,1), true, +I[a, 1]
                src = ne.op(src, _native.MAP, _java_str_factory)
                ne.name(src, "to-string")
            h = ne.sink(src, a["sink"], a.get("path"), a.get("options"))
        else:
            raise AssertionError(node.kind)
        if node.name and node.kind not in ("sink", "partition", "side") and h != (ins[0] if ins else None):
            ne.name(h, node.name)
        memo[id(node)] = h
        return h

    def _batch_mode(self):
        return (self._conf.get_string("execution.runtime-mode") or "").lower() == "batch"

    def _run_native(self, ne, job_name, collect, client=None):
        try:
            sys.stdout.flush()
            r = ne.execute(job_name)
            sys.stdout.flush()
            if client is not None:
                client._job_id = ne.job_id()
            if r["rc"]:
                exc = ne.take_error()
                msg = "job '%s' failed: %s" % (job_name, r["error"])
                tb = None
                if exc is not None:
                    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                    msg += "\n\nPython traceback of the user function:\n" + tb
                from sluice import JobExecutionError
                err = JobExecutionError(msg, r["error"], tb)
                err.canceled = r["code"] == "SL_ECANCELED"
                if exc is not None:
                    raise err from exc
                raise err
            exc = ne.take_error()
            if exc is not None:  # the job ended well, but a function's close() raised
                from sluice import JobExecutionError
                tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                msg = ("job '%s' failed: a user function's close() raised %s: %s\n\nPython traceback "
                       "of the user function:\n%s" % (job_name, type(exc).__name__, exc, tb))
                raise JobExecutionError(msg, "", tb) from exc
            res = JobExecutionResult(ne.job_id(), r)
            if collect is not None:
                res._collected = ne.collected(collect)
            return res
        finally:
            ne.close()

    def execute(self, job_name=None):
        """Runs the job; returns a JobExecutionResult when every source ended
        and every sink flushed.  Raises sluice.JobExecutionError on failure."""
        if not self._sinks:
            raise RuntimeError("No operators defined in streaming topology. Cannot execute "
                               "(add a sink: print(), add_sink(), sink_to())")
        name = job_name or DEFAULT_JOB_NAME
        ne, _ = self._build()
        self._sinks = []
        return self._run_native(ne, name, None)

    def execute_async(self, job_name=None):
        """Starts the job on a thread; returns a JobClient."""
        if not self._sinks:
            raise RuntimeError("No operators defined in streaming topology. Cannot execute")
        name = job_name or DEFAULT_JOB_NAME
        ne, _ = self._build()
        self._sinks = []
        return JobClient(self, ne, name, None)

    def _execute_collect(self, node, job_name):
        name = job_name or "collect"
        ne, collect = self._build(node)
        self._sinks = []
        return self._run_native(ne, name, collect)._collected

    def close(self):
        self._sinks = []

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

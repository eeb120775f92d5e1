"""StreamTableEnvironment, TableResult and StatementSet (PyFlink's names)
over sl_sql_execute (include/sluice_sql.h).

The table environment keeps a catalog environment (a native Env that
never runs a job): CREATE TABLE / CREATE VIEW / SET take effect there at
once (errors raised then, as TableException with the caret message), and
are remembered.  SHOW TABLES and EXPLAIN run there too; their text is the
TableResult's (print() shows it).  An INSERT (or a statement set's
INSERTs, one job) is first planned on a scratch environment holding the
same catalog -- its errors are raised by execute_sql itself -- and then
runs on a new environment (the remembered statements replayed onto it,
an sl_env runs one job) on a thread: TableResult.wait() blocks until it
ends, get_job_client() gives its job client, as in PyFlink.  The
configuration of the StreamExecutionEnvironment it was created from
(parallelism, checkpoints, state backend) carries over to every job."""
import re
import threading

from sluice import JobExecutionError
from sluice._native import native as _native
from sluice.common.job_status import JobStatus
from sluice.datastream.stream_execution_environment import JobClient


class TableException(RuntimeError):
    """A statement failed: the engine's message (for a syntax error or an
    unknown name: line, column, the line and a caret under the token)."""

    def __init__(self, message, code=""):
        super().__init__(message)
        self.code = code


_COMMENT = re.compile(r"\s*(--[^\n]*(\n|$)|/\*.*?\*/)", re.S)


def _first_word(stmt):
    s = stmt
    while True:
        m = _COMMENT.match(s)
        if not m or not m.group(0):
            break
        s = s[m.end():]
    m = re.match(r"\s*\(*\s*([A-Za-z]+)", s)
    return m.group(1).upper() if m else ""


class ResultKind(object):
    SUCCESS = "SUCCESS"
    SUCCESS_WITH_CONTENT = "SUCCESS_WITH_CONTENT"


class EnvironmentSettings(object):
    """PyFlink's settings: streaming (the default) or batch mode
    (execution.runtime-mode)."""

    class Builder(object):
        def __init__(self):
            self._mode = "streaming"

        def in_streaming_mode(self):
            self._mode = "streaming"
            return self

        def in_batch_mode(self):
            self._mode = "batch"
            return self

        def build(self):
            return EnvironmentSettings(self._mode)

    def __init__(self, mode="streaming"):
        self._mode = mode

    @staticmethod
    def new_instance():
        return EnvironmentSettings.Builder()

    @staticmethod
    def in_streaming_mode():
        return EnvironmentSettings("streaming")

    @staticmethod
    def in_batch_mode():
        return EnvironmentSettings("batch")

    def is_streaming_mode(self):
        return self._mode == "streaming"


class TableConfig(object):
    """The table environment's configuration: set(key, value) with any
    sluice configuration key (`sluice conf --list`), e.g.
    'table.exec.state.ttl'."""

    def __init__(self, t_env):
        self._t_env = t_env

    def set(self, key, value):
        self._t_env._set_conf(key, str(value))
        return self

    def get(self, key, default_value=None):
        v = self._t_env._conf.get(key)
        return default_value if v is None else v

    def get_configuration(self):
        from sluice.common.configuration import Configuration
        c = Configuration()
        for k, v in self._t_env._conf.items():
            c.set_string(k, v)
        return c


class TableJobClient(JobClient):
    """The job of an INSERT (or a statement set): it runs on a thread of
    this process (status, cancel and wait are the DataStream JobClient's)."""

    def __init__(self, native_env, text):  # noqa: super().__init__ runs a DataStream job
        self._native = native_env
        self._status = JobStatus.RUNNING
        self._error = None
        self._result = self
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(text,), name="sluice sql job")
        self._thread.start()

    def _run(self, text):
        try:
            r = self._native.sql(text)
            if r["rc"]:
                self._error = JobExecutionError("SQL job failed (%s): %s" % (r["code"], r["error"]),
                                                r["error"])
                self._status = JobStatus.CANCELED if r["code"] == "SL_ECANCELED" else JobStatus.FAILED
            else:
                self._status = JobStatus.FINISHED
        except BaseException as e:  # noqa: B902 -- handed to the waiting thread
            self._error = e
            self._status = JobStatus.FAILED
        finally:
            try:
                self._job_id = self._native.job_id()
            except RuntimeError:
                self._job_id = None
            self._native.close()
            self._done.set()

    def get_job_id(self):
        self._done.wait()
        return self._job_id


class TableResult(object):
    def __init__(self, output="", job_client=None):
        self._output = output
        self._job_client = job_client

    def get_job_client(self):
        return self._job_client

    def get_result_kind(self):
        return ResultKind.SUCCESS_WITH_CONTENT if self._output else ResultKind.SUCCESS

    def wait(self, timeout_ms=None):
        """Blocks until the statement's job ended (at once without a job);
        raises sluice.JobExecutionError when it failed."""
        if self._job_client is None:
            return
        if not self._job_client.wait(None if timeout_ms is None else timeout_ms / 1000.0):
            raise TimeoutError("the SQL job did not end within %d ms" % timeout_ms)
        self._job_client.get_job_execution_result()

    def collect_text(self):
        """The text of SHOW TABLES / EXPLAIN."""
        return self._output

    def print(self):
        if self._job_client is not None:
            self.wait()
        elif self._output:
            print(self._output, end="" if self._output.endswith("\n") else "\n")


class StatementSet(object):
    """INSERT statements run together as one job."""

    def __init__(self, t_env):
        self._t_env = t_env
        self._stmts = []

    def add_insert_sql(self, stmt):
        if _first_word(stmt) != "INSERT":
            raise TableException("add_insert_sql takes an INSERT INTO ... SELECT statement, got %r" % stmt[:60])
        self._stmts.append(stmt.strip().rstrip(";"))
        return self

    def explain(self):
        return self._t_env._catalog_sql(";\n".join("EXPLAIN " + s for s in self._stmts))

    def execute(self):
        if not self._stmts:
            raise TableException("the statement set is empty: add_insert_sql() first")
        stmts, self._stmts = self._stmts, []
        return self._t_env._run_job(";\n".join(stmts))


class StreamTableEnvironment(object):
    def __init__(self, stream_execution_environment=None, environment_settings=None):
        if stream_execution_environment is None:
            from sluice.datastream import StreamExecutionEnvironment
            stream_execution_environment = StreamExecutionEnvironment.get_execution_environment()
        self._env = stream_execution_environment
        self._conf = dict(stream_execution_environment._conf.to_dict())
        self._replay = []  # the statements that built the catalog, in order
        if environment_settings is not None and not environment_settings.is_streaming_mode():
            self._conf["execution.runtime-mode"] = "batch"
        self._catalog = self._new_env(replay=False)

    @staticmethod
    def create(stream_execution_environment=None, environment_settings=None):
        """create(env[, settings]); create(settings) as in PyFlink too."""
        if isinstance(stream_execution_environment, EnvironmentSettings):
            stream_execution_environment, environment_settings = None, stream_execution_environment
        return StreamTableEnvironment(stream_execution_environment, environment_settings)

    def _new_env(self, replay=True):
        ne = _native.Env()
        try:
            for k, v in self._conf.items():
                ne.set(k, v)
            if replay and self._replay:
                r = ne.sql(";\n".join(self._replay))
                if r["rc"]:
                    raise TableException(r["error"], r["code"])
            return ne
        except BaseException:
            ne.close()
            raise

    def _set_conf(self, key, value):
        try:
            self._catalog.set(key, value)
        except ValueError as e:
            raise TableException(str(e)) from e
        self._conf[key] = value

    def get_config(self):
        return TableConfig(self)

    def _catalog_sql(self, stmt):
        r = self._catalog.sql(stmt)
        if r["rc"]:
            raise TableException(r["error"], r["code"])
        return r["output"]

    def _run_job(self, text):
        check = self._new_env()
        try:
            r = check.sql(text, True)
        finally:
            check.close()
        if r["rc"]:
            raise TableException(r["error"], r["code"])
        return TableResult(job_client=TableJobClient(self._new_env(), text))

    def execute_sql(self, stmt):
        """One statement: CREATE TABLE / CREATE VIEW / SET take effect in
        this environment's catalog; SHOW TABLES and EXPLAIN give their text
        (TableResult.print()); INSERT INTO ... SELECT (or a bare SELECT,
        printed) runs as a job: TableResult.wait() waits for it."""
        word = _first_word(stmt)
        if word in ("INSERT", "SELECT", "WITH"):
            return self._run_job(stmt)
        out = self._catalog_sql(stmt)
        if word not in ("SHOW", "EXPLAIN"):
            self._replay.append(stmt.strip().rstrip(";"))
        return TableResult(output=out)

    def create_statement_set(self):
        return StatementSet(self)

    def list_tables(self):
        return [t for t in self._catalog_sql("SHOW TABLES").split("\n") if t]

    def explain_sql(self, stmt):
        return self._catalog_sql("EXPLAIN " + stmt)

    def close(self):
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- at interpreter exit
            pass

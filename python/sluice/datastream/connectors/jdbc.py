"""JDBC-style PostgreSQL sink (PyFlink's pyflink.datastream.connectors.jdbc)
over the engine's PostgreSQL sink (libpq; sl_postgres_sink).

    sink = JdbcSink.sink(
        "INSERT INTO t (id, name, price) VALUES (?, ?, ?)",
        Types.ROW([Types.LONG(), Types.STRING(), Types.DOUBLE()]),
        JdbcConnectionOptions.JdbcConnectionOptionsBuilder()
            .with_url("jdbc:postgresql://localhost:5432/db")
            .with_user_name("u").with_password("p").build(),
        JdbcExecutionOptions.builder().with_batch_size(1000)
            .with_batch_interval_ms(200).with_max_retries(3).build())
    stream.add_sink(sink)          # or stream.sink_to(sink)

Records are tuples, lists or Rows, one field per column of the INSERT
statement, which is the only statement supported: INSERT INTO table (c1, c2,
...) VALUES (?, ?, ...), the columns being the table's, all of them, in
table order (the engine's sink writes whole rows in table order; a record
with another number of fields is a bad record naming the table).  A table
with a primary key is upserted (INSERT ... ON CONFLICT DO UPDATE), as
Flink's JDBC table sink does.  Fields: None is NULL; bool, int, float
(NaN, Infinity), str, bytes (bytea), decimal.Decimal and datetime values are
written as PostgreSQL reads them; anything else as str(value).

Delivery: with checkpointing enabled the sink is always exactly-once by
two-phase commit (each subtask's rows of a checkpoint in one transaction,
PREPARE TRANSACTION at the barrier, COMMIT PREPARED when the checkpoint
completes; the server needs max_prepared_transactions > 0); without it
batches are committed as written (at-least-once).
JdbcSink.exactly_once_sink(...) is the same sink that refuses to run
without checkpointing.

The rows of a table (snapshot or change data capture) are read with
sluice.datastream.connectors.postgres.PostgresSource."""
import datetime
import decimal
import re

from sluice.common.types import Row

_IDENT = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")'
_INSERT = re.compile(r'^\s*INSERT\s+INTO\s+(%s(?:\s*\.\s*%s)?)\s*\(\s*(%s(?:\s*,\s*%s)*)\s*\)\s*'
                     r'VALUES\s*\(\s*(\?(?:\s*,\s*\?)*)\s*\)\s*;?\s*$' % (_IDENT, _IDENT, _IDENT, _IDENT),
                     re.IGNORECASE | re.DOTALL)
_SUPPORTED = ("sluice's JDBC sink supports one statement: INSERT INTO table (c1, c2, ...) VALUES "
              "(?, ?, ...) -- one ? per column, the columns being all of the table's, in table order")


def _parse_insert(sql):
    """(table, [columns]) of an INSERT statement, or ValueError saying what is supported."""
    if not isinstance(sql, str):
        raise TypeError("JdbcSink: the statement must be a str, got %r" % (sql,))
    m = _INSERT.match(sql)
    if not m:
        raise ValueError("JdbcSink: cannot use the statement %r: %s" % (sql, _SUPPORTED))
    table = re.sub(r'\s*\.\s*', ".", m.group(1)) if '"' not in m.group(1) else m.group(1)
    cols = re.findall(_IDENT, m.group(2))
    marks = m.group(3).count("?")
    if marks != len(cols):
        raise ValueError("JdbcSink: the statement %r has %d columns but %d placeholders: %s"
                         % (sql, len(cols), marks, _SUPPORTED))
    if len(set(c.lower() if not c.startswith('"') else c for c in cols)) != len(cols):
        raise ValueError("JdbcSink: the statement %r names a column twice: %s" % (sql, _SUPPORTED))
    return table, cols


def _conninfo(url):
    """A libpq URI from a JDBC URL (jdbc:postgresql://host:port/db?...) or
    a postgresql:// / postgres:// URI."""
    u = str(url)
    if u.startswith("jdbc:"):
        u = u[len("jdbc:"):]
    if not (u.startswith("postgresql://") or u.startswith("postgres://")):
        raise ValueError("JdbcConnectionOptions: sluice connects to PostgreSQL only: the URL must be "
                         "jdbc:postgresql://host:port/database or postgresql://host:port/database, got %r"
                         % (url,))
    return u


class JdbcConnectionOptions(object):
    def __init__(self, url, driver_name, user_name, password):
        self._url = url
        self._driver_name = driver_name
        self._user_name = user_name
        self._password = password

    def get_db_url(self):
        return self._url

    def get_driver_name(self):
        return self._driver_name

    def get_user_name(self):
        return self._user_name

    def get_password(self):
        return self._password

    def _conn(self):
        """(conninfo, [libpq options])"""
        opts = []
        if self._user_name is not None:
            opts.append(("user", str(self._user_name)))
        if self._password is not None:
            opts.append(("password", str(self._password)))
        return _conninfo(self._url), opts

    class JdbcConnectionOptionsBuilder(object):
        def __init__(self):
            self._url = None
            self._driver_name = None
            self._user_name = None
            self._password = None

        def with_url(self, url):
            _conninfo(url)
            self._url = str(url)
            return self

        def with_driver_name(self, driver_name):
            if driver_name not in (None, "org.postgresql.Driver"):
                raise ValueError("JdbcConnectionOptions: sluice connects to PostgreSQL only "
                                 "(driver org.postgresql.Driver), got %r" % (driver_name,))
            self._driver_name = driver_name
            return self

        def with_user_name(self, user_name):
            self._user_name = user_name
            return self

        def with_password(self, password):
            self._password = password
            return self

        def with_connection_check_timeout_seconds(self, seconds):
            return self  # libpq's connect_timeout: pass it in the URL

        def build(self):
            if not self._url:
                raise ValueError("JdbcConnectionOptions: with_url is required")
            return JdbcConnectionOptions(self._url, self._driver_name, self._user_name, self._password)


class JdbcExecutionOptions(object):
    def __init__(self, batch_interval_ms, batch_size, max_retries):
        self._batch_interval_ms = batch_interval_ms
        self._batch_size = batch_size
        self._max_retries = max_retries

    def get_batch_interval_ms(self):
        return self._batch_interval_ms

    def get_batch_size(self):
        return self._batch_size

    def get_max_retries(self):
        return self._max_retries

    @staticmethod
    def defaults():
        return JdbcExecutionOptions.builder().build()

    @staticmethod
    def builder():
        return JdbcExecutionOptions.Builder()

    def _options(self):
        return [("sink.buffer-flush.interval", "%dms" % self._batch_interval_ms),
                ("sink.buffer-flush.max-rows", str(self._batch_size)),
                ("sink.max-retries", str(self._max_retries))]

    class Builder(object):
        # Flink's defaults: 0 ms (no timed flush: sluice flushes at 1 s then), 5000 rows, 3 retries
        def __init__(self):
            self._interval = 1000
            self._size = 5000
            self._retries = 3

        def _int(self, v, what, low):
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError("JdbcExecutionOptions: %s must be an int >= %d, got %r" % (what, low, v))
            return v

        def with_batch_size(self, size):
            self._size = self._int(size, "with_batch_size", 1)
            return self

        def with_batch_interval_ms(self, interval_ms):
            # 0 (Flink: no timed flush) is taken as the engine's shortest
            self._interval = self._int(interval_ms, "with_batch_interval_ms", 0) or 1
            return self

        def with_max_retries(self, max_retries):
            self._retries = self._int(max_retries, "with_max_retries", 0)
            return self

        def build(self):
            return JdbcExecutionOptions(self._interval, self._size, self._retries)


class JdbcSink(object):
    """Write with stream.add_sink(sink) or stream.sink_to(sink)."""

    def __init__(self, table, columns, conninfo, options, exactly_once):
        self._table = table
        self._columns = columns
        self._conninfo = conninfo
        self._options = options
        self._exactly_once = exactly_once

    @staticmethod
    def _make(sql, type_info, jdbc_connection_options, jdbc_execution_options, exactly_once):
        table, cols = _parse_insert(sql)
        if not isinstance(jdbc_connection_options, JdbcConnectionOptions):
            raise TypeError("JdbcSink: needs JdbcConnectionOptions (JdbcConnectionOptions."
                            "JdbcConnectionOptionsBuilder()...build()), got %r" % (jdbc_connection_options,))
        if jdbc_execution_options is None:
            jdbc_execution_options = JdbcExecutionOptions.defaults()
        if not isinstance(jdbc_execution_options, JdbcExecutionOptions):
            raise TypeError("JdbcSink: needs JdbcExecutionOptions (JdbcExecutionOptions.builder()"
                            "...build()), got %r" % (jdbc_execution_options,))
        types = getattr(type_info, "get_field_types", None)
        if types is not None and len(types()) != len(cols):
            raise ValueError("JdbcSink: the type info has %d fields but the statement %r %d columns"
                             % (len(types()), sql, len(cols)))
        conninfo, opts = jdbc_connection_options._conn()
        opts = [("table-name", table)] + jdbc_execution_options._options() + opts
        return JdbcSink(table, cols, conninfo, opts, exactly_once)

    @staticmethod
    def sink(sql, type_info, jdbc_connection_options, jdbc_execution_options=None):
        """At-least-once without checkpointing; with it exactly-once (two-phase commit)."""
        return JdbcSink._make(sql, type_info, jdbc_connection_options, jdbc_execution_options, False)

    @staticmethod
    def exactly_once_sink(sql, type_info, jdbc_connection_options, jdbc_execution_options=None,
                          jdbc_exactly_once_options=None):
        """The same sink, which fails the job's start when checkpointing is
        off (its transactions are committed by completed checkpoints)."""
        return JdbcSink._make(sql, type_info, jdbc_connection_options, jdbc_execution_options, True)

    def _encoder(self):
        return _row_encoder(self._table, len(self._columns))


def _field(v):
    if v is None:
        return None
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "NaN"
        if v in (float("inf"), float("-inf")):
            return "Infinity" if v > 0 else "-Infinity"
        return repr(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(v).hex()
    if isinstance(v, datetime.datetime):
        return v.isoformat(" ")
    if isinstance(v, (datetime.date, datetime.time, decimal.Decimal)):
        return v.isoformat() if not isinstance(v, decimal.Decimal) else str(v)
    return str(v)


def _row_encoder(table, n):
    """record -> the CSV line the engine's sink splits into the table's
    columns (an unquoted empty field is NULL; "" an empty string)."""
    def enc(record):
        if isinstance(record, (tuple, list, Row)):
            vals = list(record)
        else:
            raise TypeError("JdbcSink (table %s): a record must be a tuple, list or Row of %d fields, got %r"
                            % (table, n, record))
        if len(vals) != n:
            raise ValueError("JdbcSink (table %s): the record %r has %d fields for the statement's %d columns"
                             % (table, record, len(vals), n))
        if n == 1:  # the engine takes a one-column table's whole value, never NULL
            s = _field(vals[0])
            if s is None:
                raise ValueError("JdbcSink (table %s): sluice cannot write NULL into a table of one column"
                                 % (table,))
            return s
        out = []
        for v in vals:
            s = _field(v)
            if s is None:
                out.append("")
            elif s == "" or "," in s or '"' in s or "\n" in s or "\r" in s:
                out.append('"' + s.replace('"', '""') + '"')
            else:
                out.append(s)
        return ",".join(out)
    return enc


__all__ = ["JdbcConnectionOptions", "JdbcExecutionOptions", "JdbcSink"]

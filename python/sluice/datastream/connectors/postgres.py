"""PostgreSQL source (Flink CDC's PostgreSQLSource builder, in snake_case)
over the engine's PostgreSQL source (libpq; sl_postgres_source).

    source = (PostgresSource.builder()
              .hostname("localhost").port(5432).database("db")
              .table_list("public.orders").username("u").password("p")
              .slot_name("orders_py")
              .startup_options(StartupOptions.initial())   # or .snapshot()
              .build())
    stream = env.from_source(source, WatermarkStrategy.no_watermarks(), "orders")

.url("jdbc:postgresql://host:port/db" or "postgresql://...") instead of
hostname/port/database; .table_name(t) is table_list of one table.
StartupOptions.snapshot(): one consistent snapshot of the table, bounded.
StartupOptions.initial() (the default, as Flink CDC's): the snapshot, then
the table's changes through logical replication (pgoutput; the server needs
wal_level=logical and the user the REPLICATION privilege), unbounded, with
the slot's position in checkpoints.

Records are Rows named by the table's columns, in table order, typed from
the column types: boolean -> bool, smallint/integer/bigint/oid -> int,
real/double precision -> float, numeric -> decimal.Decimal, bytea -> bytes,
date -> datetime.date, timestamp -> datetime.datetime, timestamptz -> an
aware datetime.datetime, everything else -> str (PostgreSQL's text output);
NULL -> None.  Row.get_row_kind() is the change's RowKind: INSERT for a
snapshot row or an insert, UPDATE_BEFORE / UPDATE_AFTER for an update's old
and new image, DELETE for a deleted row.  Old images carry what the server
sends: with REPLICA IDENTITY DEFAULT the key columns only (the others are
None), with REPLICA IDENTITY FULL every column.  set_property passes the
engine's own options (scan.partition.column, scan.fetch-size,
slot.drop-on-stop, ...: see sl_postgres_source) or a libpq connection
parameter."""
import datetime
import decimal
import re

from sluice.common.types import Row, RowKind
from sluice.datastream.connectors.jdbc import _conninfo

_KINDS = (RowKind.INSERT, RowKind.UPDATE_BEFORE, RowKind.UPDATE_AFTER, RowKind.DELETE)
_TS = re.compile(r'^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?'
                 r'(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?$')


def _timestamp(s):
    m = _TS.match(s)
    if not m:
        return s  # infinity, BC: as PostgreSQL prints it
    y, mo, d, h, mi, sec, frac, sign, oh, om, osec = m.groups()
    tz = None
    if sign:
        off = datetime.timedelta(hours=int(oh), minutes=int(om or 0), seconds=int(osec or 0))
        tz = datetime.timezone(-off if sign == "-" else off)
    try:
        return datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec),
                                 int((frac or "0").ljust(6, "0")), tz)
    except ValueError:
        return s


def _date(s):
    try:
        return datetime.date(int(s[0:4]), int(s[5:7]), int(s[8:10])) if len(s) == 10 else s
    except ValueError:
        return s


def _bytea(s):
    return bytes.fromhex(s[2:]) if s.startswith("\\x") else s.encode("utf-8")


_TYPES = {16: lambda s: s == "t", 17: _bytea, 20: int, 21: int, 23: int, 26: int, 700: float, 701: float,
          1700: decimal.Decimal, 1082: _date, 1114: _timestamp, 1184: _timestamp}


def _decode_row(b):
    """The engine's row bytes (python/src/module.c pg_row_to_bytes) -> Row."""
    parts = b.split(b"\0")
    n = (len(parts) - 2) // 3
    names, values = [], []
    for i in range(n):
        head, name, text = parts[1 + 3 * i], parts[2 + 3 * i], parts[3 + 3 * i]
        names.append(name.decode("utf-8"))
        if head[0:1] != b"v":  # NULL, or not sent by the server
            values.append(None)
            continue
        t = text.decode("utf-8")
        conv = _TYPES.get(int(head[1:]))
        values.append(conv(t) if conv else t)
    r = Row._from_codec(names, values)
    r.set_row_kind(_KINDS[parts[0][0] - 48])
    return r


class StartupOptions(object):
    def __init__(self, mode):
        self._mode = mode

    @staticmethod
    def initial():
        """The snapshot, then the changes (scan.mode=cdc)."""
        return StartupOptions("cdc")

    @staticmethod
    def snapshot():
        """The snapshot only, bounded (scan.mode=snapshot)."""
        return StartupOptions("snapshot")

    @staticmethod
    def latest():
        raise ValueError("StartupOptions.latest(): sluice's PostgreSQL source starts with the table's "
                         "snapshot: use initial() (snapshot, then changes) or snapshot()")


def _kw(v):
    """A libpq keyword value, quoted."""
    return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"


class PostgresSource(object):
    def __init__(self, conninfo, options):
        self._conninfo = conninfo
        self._options = options

    @staticmethod
    def builder():
        return PostgresSourceBuilder()


class PostgresSourceBuilder(object):
    def __init__(self):
        self._url = None
        self._host = None
        self._port = None
        self._db = None
        self._schemas = []
        self._tables = []
        self._user = None
        self._password = None
        self._opts = {"scan.mode": "cdc"}

    def url(self, url):
        _conninfo(url)
        self._url = str(url)
        return self

    def hostname(self, hostname):
        self._host = str(hostname)
        return self

    def port(self, port):
        self._port = int(port)
        return self

    def database(self, database):
        self._db = str(database)
        return self

    def schema_list(self, *schema_list):
        self._schemas = [str(s) for s in schema_list]
        return self

    def table_list(self, *table_list):
        self._tables = [str(t) for t in table_list]
        return self

    def table_name(self, table_name):
        return self.table_list(table_name)

    def username(self, username):
        self._user = str(username)
        return self

    def password(self, password):
        self._password = str(password)
        return self

    def slot_name(self, slot_name):
        self._opts["slot.name"] = str(slot_name)
        return self

    def decoding_plugin_name(self, name):
        if name != "pgoutput":
            raise ValueError("PostgresSource: sluice decodes with pgoutput only, got %r" % (name,))
        self._opts["decoding.plugin.name"] = name
        return self

    def startup_options(self, startup_options):
        if not isinstance(startup_options, StartupOptions):
            raise TypeError("startup_options needs StartupOptions.initial() or .snapshot(), got %r"
                            % (startup_options,))
        self._opts["scan.mode"] = startup_options._mode
        return self

    def fetch_size(self, fetch_size):
        self._opts["scan.fetch-size"] = str(int(fetch_size))
        return self

    def set_property(self, key, value):
        self._opts[str(key)] = str(value)
        return self

    def build(self):
        if len(self._tables) != 1:
            raise ValueError("PostgresSource: table_list needs exactly one table (sluice's source reads "
                             "one table), got %r" % (self._tables,))
        table = self._tables[0]
        if "." not in table and len(self._schemas) == 1:
            table = self._schemas[0] + "." + table
        elif "." not in table and len(self._schemas) > 1:
            raise ValueError("PostgresSource: table %r with schemas %r: name the table as schema.table"
                             % (table, self._schemas))
        opts = dict(self._opts)
        opts["table-name"] = table
        if self._url is not None:
            if self._host is not None or self._port is not None or self._db is not None:
                raise ValueError("PostgresSource: give either url or hostname/port/database")
            conninfo = _conninfo(self._url)
        else:
            if self._host is None or self._db is None:
                raise ValueError("PostgresSource: hostname and database (or url) are required")
            conninfo = "host=%s dbname=%s" % (_kw(self._host), _kw(self._db))
            if self._port is not None:
                conninfo += " port=%d" % self._port
        if self._user is not None:
            opts["user"] = self._user
        if self._password is not None:
            opts["password"] = self._password
        return PostgresSource(conninfo, sorted(opts.items()))


__all__ = ["PostgresSource", "PostgresSourceBuilder", "StartupOptions"]

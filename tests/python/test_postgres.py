"""The PostgreSQL connectors of the Python API (sluice.datastream.connectors
.jdbc JdbcSink, .postgres PostgresSource) against a private server started
with tests/pg_server.sh: a snapshot read equals the table's rows (written
out by hand), JdbcSink's rows (NULLs, commas, quotes, newlines, backslashes,
bytes) read back by psql exactly, a CDC read sees an insert, an update and a
delete made while the job runs with their row kinds, and statements other
than INSERT INTO t (cols) VALUES (?...) are refused with a clear error."""
import datetime
import decimal
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from util import SRC, scratch  # noqa: E402
from sluice.common import Row, Types  # noqa: E402
from sluice.common.types import RowKind  # noqa: E402
from sluice.datastream import StreamExecutionEnvironment  # noqa: E402
from sluice.datastream.connectors.jdbc import (JdbcConnectionOptions, JdbcExecutionOptions,  # noqa: E402
                                               JdbcSink)
from sluice.datastream.connectors.postgres import PostgresSource, StartupOptions  # noqa: E402

# the server and psql run without the sanitizer runtimes the ASan build
# preloads into this interpreter (postgres hangs under them)
PLAIN_ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}

I, UB, UA, D = RowKind.INSERT, RowKind.UPDATE_BEFORE, RowKind.UPDATE_AFTER, RowKind.DELETE


def row(kind, **kw):
    r = Row(**kw)
    r.set_row_kind(kind)
    return r


class PostgresTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # the server lives as long as this bash (pg_server.sh stops it at exit)
        script = ('. "%s/tests/pg_server.sh"; pg_start; echo "PG $PGPORT $PG_BIN"; read -r _; exit 0'
                  % SRC)
        cls.server = subprocess.Popen(["bash", "-c", script], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, env=PLAIN_ENV)
        line = cls.server.stdout.readline().split()
        if not line or line[0] != "PG":
            cls.server.wait()
            raise RuntimeError("tests/pg_server.sh: pg_start failed (see above)")
        cls.port, cls.bin = int(line[1]), line[2]
        cls.url = "jdbc:postgresql://127.0.0.1:%d/postgres" % cls.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stdin.write("\n")
        cls.server.stdin.close()
        cls.server.wait()
        cls.server.stdout.close()

    def psql(self, *sql):
        args = [os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", "127.0.0.1", "-p", str(self.port), "-U", "sluice", "postgres"]
        for s in sql:
            args += ["-c", s]
        return subprocess.run(args, check=True, capture_output=True, text=True, env=PLAIN_ENV).stdout

    def conn(self):
        return (JdbcConnectionOptions.JdbcConnectionOptionsBuilder().with_url(self.url)
                .with_driver_name("org.postgresql.Driver").with_user_name("sluice").with_password("").build())

    # ---- PostgresSource: snapshot ----------------------------------------------------------
    def test_snapshot_read(self):
        self.psql("CREATE TABLE snap (id bigint PRIMARY KEY, name text, price numeric(10,2), ok boolean, "
                  "data bytea, day date, at timestamp, r double precision, n int)",
                  "INSERT INTO snap VALUES "
                  "(1, 'plain', 12.50, true, '\\x00ff41', '2024-02-29', '2024-02-29 13:14:15.5', 0.25, 7), "
                  "(2, 'a,b \"c\"', -0.01, false, '', '1999-12-31', '2000-01-01 00:00:00', -1e300, NULL), "
                  "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
                  "(4, '', 0, true, '\\x0a', '2024-01-01', '2024-01-01 00:00:00.000001', 3, -2147483648)")
        want = [
            row(I, id=1, name="plain", price=decimal.Decimal("12.50"), ok=True, data=b"\x00\xffA",
                day=datetime.date(2024, 2, 29), at=datetime.datetime(2024, 2, 29, 13, 14, 15, 500000),
                r=0.25, n=7),
            row(I, id=2, name='a,b "c"', price=decimal.Decimal("-0.01"), ok=False, data=b"",
                day=datetime.date(1999, 12, 31), at=datetime.datetime(2000, 1, 1), r=-1e300, n=None),
            row(I, id=3, name=None, price=None, ok=None, data=None, day=None, at=None, r=None, n=None),
            row(I, id=4, name="", price=decimal.Decimal("0"), ok=True, data=b"\n",
                day=datetime.date(2024, 1, 1), at=datetime.datetime(2024, 1, 1, 0, 0, 0, 1), r=3.0,
                n=-2147483648),
        ]
        for p in (1, 2):
            env = StreamExecutionEnvironment.get_execution_environment()
            env.set_parallelism(p)
            src = (PostgresSource.builder().hostname("127.0.0.1").port(self.port).database("postgres")
                   .table_list("public.snap").username("sluice").startup_options(StartupOptions.snapshot())
                   .build())
            got = sorted(env.from_source(src, None, "snap").execute_and_collect(), key=lambda r: r.id)
            self.assertEqual(got, want)
            self.assertEqual([r.get_row_kind() for r in got], [I] * 4)
            self.assertEqual(str(got[0].price), "12.50")

    # ---- JdbcSink ---------------------------------------------------------------------------
    ROWS = [(1, "plain", 10, b"\x01\x02"),
            (2, "comma, and \"quotes\"", None, b""),
            (3, None, -5, None),
            (4, "", 0, b"\x00"),
            (5, "line\nbreak\r and back\\slash \\N", 9223372036854775807, b"\\"),
            (6, " lead and trail ", None, b"x")]

    def read_back(self, table):
        out = self.psql("SELECT json_build_array(id, s, n, encode(b, 'hex')) FROM %s ORDER BY id" % table)
        return [tuple(json.loads(line)) for line in out.splitlines()]

    def expected(self):
        return [(i, s, n, None if b is None else b.hex()) for i, s, n, b in self.ROWS]

    def test_jdbc_sink(self):
        # no primary key: COPY; with one: INSERT ... ON CONFLICT
        self.psql("CREATE TABLE out_copy (id int, s text, n bigint, b bytea)",
                  "CREATE TABLE out_pk (id int PRIMARY KEY, s text, n bigint, b bytea)")
        for table in ("out_copy", "out_pk"):
            env = StreamExecutionEnvironment.get_execution_environment()
            env.set_parallelism(2)
            recs = [Row(*r) if i % 2 else r for i, r in enumerate(self.ROWS)]  # tuples and Rows
            (env.from_collection(recs)
             .add_sink(JdbcSink.sink("INSERT INTO %s (id, s, n, b) VALUES (?, ?, ?, ?)" % table,
                                     Types.ROW([Types.INT(), Types.STRING(), Types.LONG(),
                                                Types.PRIMITIVE_ARRAY(Types.BYTE())]),
                                     self.conn(),
                                     JdbcExecutionOptions.builder().with_batch_size(2)
                                     .with_batch_interval_ms(100).with_max_retries(2).build())))
            env.execute("jdbc " + table)
            self.assertEqual(self.read_back(table), self.expected())

    def test_jdbc_exactly_once_sink(self):
        self.psql("CREATE TABLE out_eo (id int, s text, n bigint, b bytea)")
        sink = JdbcSink.exactly_once_sink("insert into out_eo(id,s,n,b) values(?,?,?,?)", None, self.conn())
        env = StreamExecutionEnvironment.get_execution_environment()
        env.from_collection(self.ROWS).sink_to(sink)
        with self.assertRaisesRegex(ValueError, "exactly_once_sink .*needs checkpointing"):
            env.execute("no checkpoints")
        env = StreamExecutionEnvironment.get_execution_environment()
        env.enable_checkpointing(100)
        env.get_checkpoint_config().set_checkpoint_storage_dir(scratch("pg_eo"))
        env.from_collection(self.ROWS).sink_to(sink)
        env.execute("2pc")
        self.assertEqual(self.read_back("out_eo"), self.expected())
        self.assertEqual(self.psql("SELECT count(*) FROM pg_prepared_xacts").strip(), "0")

    def test_bad_statements(self):
        for sql in ("UPDATE t SET a = ?", "INSERT INTO t VALUES (?, ?)", "INSERT INTO t (a, b) VALUES (?)",
                    "INSERT INTO t (a, b) VALUES (?, 1)", "INSERT INTO t (a) SELECT 1",
                    "INSERT INTO t (a, a) VALUES (?, ?)", "INSERT INTO t (a) VALUES (?); DROP TABLE t"):
            with self.assertRaises(ValueError) as cm:
                JdbcSink.sink(sql, None, self.conn())
            msg = str(cm.exception)
            self.assertIn(repr(sql), msg)
            self.assertIn("supports one statement: INSERT INTO table (c1, c2, ...) VALUES (?, ?, ...)", msg)
        with self.assertRaisesRegex(ValueError, "PostgreSQL only"):
            JdbcConnectionOptions.JdbcConnectionOptionsBuilder().with_url("jdbc:mysql://h/db")
        with self.assertRaisesRegex(ValueError, "2 fields but the statement"):
            JdbcSink.sink("INSERT INTO t (a) VALUES (?)", Types.ROW([Types.INT(), Types.INT()]), self.conn())

    # ---- PostgresSource: CDC -------------------------------------------------------------------
    def test_cdc_read(self):
        self.psql("CREATE TABLE cdc (id int PRIMARY KEY, s text)", "ALTER TABLE cdc REPLICA IDENTITY FULL",
                  "INSERT INTO cdc VALUES (1, 'one'), (2, 'two')")
        got, lock = [], threading.Lock()

        def collect(r):
            with lock:
                got.append(r)

        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        src = (PostgresSource.builder().url(self.url).table_name("cdc").username("sluice")
               .slot_name("py_cdc").startup_options(StartupOptions.initial())
               .set_property("slot.drop-on-stop", "true").build())
        env.from_source(src, None, "cdc").add_sink(collect)
        job = env.execute_async("cdc")
        try:
            def wait_for(n):
                for _ in range(600):  # up to 60 s: the engine's progress, not a timing assumption
                    with lock:
                        if len(got) >= n:
                            return
                    if job.wait(0.1):
                        job.get_job_execution_result()
                        self.fail("the CDC job ended: %r" % (got,))
                self.fail("waited 60 s for %d rows, have %r" % (n, got))
            wait_for(2)  # the snapshot: the slot exists, what follows is streamed
            self.psql("INSERT INTO cdc VALUES (3, 'three, with \"quotes\"')")
            self.psql("UPDATE cdc SET s = 'ONE' WHERE id = 1")
            self.psql("DELETE FROM cdc WHERE id = 2")
            wait_for(6)
        finally:
            job.cancel()
            job.wait()
        snap = sorted(got[:2], key=lambda r: r.id)
        self.assertEqual(snap, [row(I, id=1, s="one"), row(I, id=2, s="two")])
        self.assertEqual(got[2:], [row(I, id=3, s='three, with "quotes"'), row(UB, id=1, s="one"),
                                   row(UA, id=1, s="ONE"), row(D, id=2, s="two")])
        self.assertEqual([r.get_row_kind().short_string() for r in got[2:]], ["+I", "-U", "+U", "-D"])


if __name__ == "__main__":
    unittest.main()

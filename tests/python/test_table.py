"""sluice.table: StreamTableEnvironment (PyFlink's names) over sluice SQL --
DDL into the catalog, an INSERT as a job with TableResult.wait(), statement
sets as one job, errors with the caret; expected rows worked out by hand."""
import os
import unittest

from sluice import JobExecutionError
from sluice.common.job_status import JobStatus
from sluice.datastream import StreamExecutionEnvironment
from sluice.table import EnvironmentSettings, StreamTableEnvironment, TableException

from util import scratch

# k, v, ts (epoch ms).  Tumbling windows of 100 ms, watermark ts - 10:
#   [0,100):   a: 1 (ts 10), 2 (ts 50)  b: 5 (ts 20)
#   [100,200): a: 4 (ts 120)            b: 3 (ts 150), 6 (ts 199)
#   [200,300): a: 7 (ts 250)
EVENTS = "a,1,10\nb,5,20\na,2,50\na,4,120\nb,3,150\nb,6,199\na,7,250\n"
# window_start, window_end, k, COUNT(*), SUM(v), MAX(v), by hand from above
EXPECTED = sorted([
    "0,100,a,2,3,2", "0,100,b,1,5,5",
    "100,200,a,1,4,4", "100,200,b,2,9,6",
    "200,300,a,1,7,7",
])


def read(path):
    with open(path) as f:
        return f.read()


def read_rows(path):
    if os.path.isdir(path):
        text = "".join(read(os.path.join(path, f)) for f in sorted(os.listdir(path)) if f.startswith("part-"))
    else:
        text = read(path)
    return sorted(line for line in text.split("\n") if line)


class TableTest(unittest.TestCase):
    def t_env(self, p=1):
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(p)
        return StreamTableEnvironment.create(env)

    def ddl(self, t, d, out="out.csv"):
        with open(os.path.join(d, "ev.csv"), "w") as f:
            f.write(EVENTS)
        t.execute_sql("CREATE TABLE ev (k VARCHAR, v BIGINT, ts BIGINT) WITH ("
                      "'connector' = 'filesystem', 'path' = '%s', 'format' = 'csv', "
                      "'watermark' = 'ts - 10')" % os.path.join(d, "ev.csv"))
        t.execute_sql("CREATE TABLE agg (window_start BIGINT, window_end BIGINT, k VARCHAR, c BIGINT, "
                      "s BIGINT, mx BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s')"
                      % os.path.join(d, out))

    AGG = ("INSERT INTO agg SELECT window_start, window_end, k, COUNT(*), SUM(v), MAX(v) "
           "FROM TUMBLE(ev, ts, 100) GROUP BY window_start, window_end, k")

    def test_tumble_aggregation_csv_to_csv(self):
        for p in (1, 2):
            d = scratch("table_tumble_p%d" % p)
            t = self.t_env(p)
            self.ddl(t, d, "out/" if p == 2 else "out.csv")
            self.assertEqual(sorted(t.list_tables()), ["agg", "ev"])
            res = t.execute_sql(self.AGG)
            self.assertIsNotNone(res.get_job_client())
            res.wait()
            self.assertEqual(res.get_job_client().get_job_status(), JobStatus.FINISHED)
            self.assertEqual(read_rows(os.path.join(d, "out/" if p == 2 else "out.csv")), EXPECTED)

    def test_statement_set_is_one_job(self):
        d = scratch("table_stmt_set")
        t = self.t_env(1)
        self.ddl(t, d)
        t.execute_sql("CREATE TABLE big (k VARCHAR, v BIGINT) WITH ('connector' = 'filesystem', "
                      "'path' = '%s')" % os.path.join(d, "big.csv"))
        ss = t.create_statement_set()
        ss.add_insert_sql(self.AGG)
        ss.add_insert_sql("INSERT INTO big SELECT k, v FROM ev WHERE v >= 5")
        ss.execute().wait()
        self.assertEqual(read_rows(os.path.join(d, "out.csv")), EXPECTED)
        self.assertEqual(read_rows(os.path.join(d, "big.csv")), ["a,7", "b,5", "b,6"])

    def test_set_carries_into_the_job(self):
        d = scratch("table_set")
        t = self.t_env(1)
        self.ddl(t, d, "out/")
        t.execute_sql("SET 'parallelism.default' = '2'")
        t.execute_sql(self.AGG).wait()
        self.assertEqual(read_rows(os.path.join(d, "out/")), EXPECTED)
        with self.assertRaises(TableException) as cm:
            t.execute_sql("SET 'no.such.key' = '1'")
        self.assertIn("no.such.key", str(cm.exception))

    def test_group_by_is_a_changelog(self):
        # GROUP BY without a window: each row updates its group, printed as
        # Flink prints a changelog (worked out by hand from EVENTS' order)
        d = scratch("table_changelog")
        t = self.t_env(1)
        self.ddl(t, d)
        t.execute_sql("CREATE TABLE o (k VARCHAR, n BIGINT, s BIGINT) WITH ('connector' = 'print')")
        out = os.path.join(d, "stdout.txt")
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        saved = os.dup(1)
        try:
            os.dup2(fd, 1)
            t.execute_sql("INSERT INTO o SELECT k, COUNT(*), SUM(v) FROM ev GROUP BY k").wait()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(fd)
        self.assertEqual(read(out).split("\n"), [
            "+I[a, 1, 1]", "+I[b, 1, 5]", "-U[a, 1, 1]", "+U[a, 2, 3]", "-U[a, 2, 3]", "+U[a, 3, 7]",
            "-U[b, 1, 5]", "+U[b, 2, 8]", "-U[b, 2, 8]", "+U[b, 3, 14]", "-U[a, 3, 7]", "+U[a, 4, 14]", ""])

    def test_syntax_error_has_caret(self):
        t = self.t_env()
        with self.assertRaises(TableException) as cm:
            t.execute_sql("CREATE TABLE t (a INT) WITH ('connector' = 'print');")
            t.execute_sql("INSERT INTO t SELEC 1")
        msg = str(cm.exception)
        self.assertIn("line 1, column 15", msg)
        self.assertIn("\n  INSERT INTO t SELEC 1\n" + " " * 16 + "^", msg)

    def test_unknown_column_raised_by_execute_sql(self):
        d = scratch("table_unknown")
        t = self.t_env()
        self.ddl(t, d)
        with self.assertRaises(TableException) as cm:
            t.execute_sql("INSERT INTO agg SELECT 0, 0, k, nope, 0, 0 FROM ev")
        self.assertIn("nope", str(cm.exception))
        self.assertIn("^", str(cm.exception))
        self.assertFalse(os.path.exists(os.path.join(d, "out.csv")))

    def test_settings_and_table_config(self):
        d = scratch("table_settings")
        env = StreamExecutionEnvironment.get_execution_environment()
        t = StreamTableEnvironment.create(env, EnvironmentSettings.new_instance().in_streaming_mode().build())
        t.get_config().set("parallelism.default", "2")
        self.assertEqual(t.get_config().get("parallelism.default"), "2")
        self.ddl(t, d, "out/")
        t.execute_sql(self.AGG).wait()
        self.assertEqual(read_rows(os.path.join(d, "out/")), EXPECTED)
        with self.assertRaises(TableException):
            t.get_config().set("no.such.key", "1")

    def test_failed_job_raised_by_wait(self):
        d = scratch("table_fail")
        t = self.t_env()
        with open(os.path.join(d, "b.csv"), "w") as f:
            f.write("1,x\n2,oops\n")
        t.execute_sql("CREATE TABLE b (id INT, s TEXT) WITH ('connector' = 'filesystem', 'path' = '%s')"
                      % os.path.join(d, "b.csv"))
        t.execute_sql("CREATE TABLE o (id INT, s TEXT) WITH ('connector' = 'filesystem', 'path' = '%s')"
                      % os.path.join(d, "o.csv"))
        res = t.execute_sql("INSERT INTO o SELECT 6 / (id - 2), s FROM b")
        with self.assertRaises(JobExecutionError) as cm:
            res.wait()
        self.assertIn("division by zero", str(cm.exception))
        self.assertEqual(res.get_job_client().get_job_status(), JobStatus.FAILED)


if __name__ == "__main__":
    unittest.main()

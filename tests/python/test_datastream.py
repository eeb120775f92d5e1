"""The DataStream API against plain-Python references, at P=1 and P=2."""
import collections
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import run_py, scratch  # noqa: E402

from sluice.common import Configuration, Encoder, Row, Types  # noqa: E402
from sluice.common.job_status import JobStatus  # noqa: E402
from sluice.datastream import (FilterFunction, FlatMapFunction, KeyedProcessFunction, KeySelector,  # noqa: E402
                               MapFunction, ProcessFunction, ReduceFunction, RuntimeContext,
                               StreamExecutionEnvironment)
from sluice.datastream.connectors.file_system import FileSink, FileSource, StreamFormat  # noqa: E402
from sluice.datastream.state import ValueStateDescriptor  # noqa: E402

WORDS = ("the quick brown fox jumps over the lazy dog and the dog sleeps while the fox "
         "runs to the end of the line").split()


def env_p(p):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(p)
    return env


class Upper(MapFunction):
    def open(self, runtime_context):
        self.prefix = "s%d:" % runtime_context.get_index_of_this_subtask()

    def map(self, value):
        return self.prefix + value.upper()


class Split(FlatMapFunction):
    def flat_map(self, value):
        for w in value.split():
            yield w


class Long(FilterFunction):
    def filter(self, value):
        return len(value) > 3


class First(KeySelector):
    def get_key(self, value):
        return value[0][0]


class Add(ReduceFunction):
    def reduce(self, a, b):
        return (a[0], a[1] + b[1])


class DataStreamTest(unittest.TestCase):
    def both(self, fn):
        for p in (1, 2):
            with self.subTest(parallelism=p):
                fn(p)

    def test_map_filter_flat_map(self):
        lines = [" ".join(WORDS[i:i + 5]) for i in range(0, len(WORDS), 5)]

        def run(p):
            env = env_p(p)
            out = (env.from_collection(lines)
                   .flat_map(Split(), output_type=Types.STRING())
                   .filter(Long())
                   .map(lambda w: w.upper())
                   .execute_and_collect())
            want = [w.upper() for line in lines for w in line.split() if len(w) > 3]
            got = list(out)
            if p == 1:
                self.assertEqual(got, want)
            else:
                self.assertEqual(sorted(got), sorted(want))
        self.both(run)

    def test_functions_as_lambdas_and_generators(self):
        env = env_p(1)
        got = list(env.from_collection([1, 2, 3])
                   .flat_map(lambda x: [x] * x)
                   .filter(lambda x: x != 2)
                   .map(lambda x: (x, str(x)))
                   .execute_and_collect())
        self.assertEqual(got, [(1, "1"), (3, "3"), (3, "3"), (3, "3")])

    def test_rich_function_has_its_subtask(self):
        env = env_p(2)
        got = list(env.from_collection(["a", "b", "c", "d"]).rebalance().map(Upper()).execute_and_collect())
        self.assertEqual(sorted(g.split(":")[1] for g in got), ["A", "B", "C", "D"])
        self.assertEqual({g.split(":")[0] for g in got}, {"s0", "s1"})

    def test_word_count_reduce(self):
        def run(p):
            env = env_p(p)
            out = (env.from_collection(WORDS)
                   .map(lambda w: (w, 1))
                   .key_by(lambda t: t[0])
                   .reduce(lambda a, b: (a[0], a[1] + b[1]))
                   .execute_and_collect())
            final = {}
            for w, c in out:
                self.assertGreaterEqual(c, final.get(w, 0) + 1)  # rolling: one up each time
                final[w] = c
            self.assertEqual(final, dict(collections.Counter(WORDS)))
        self.both(run)

    def test_reduce_function_class_and_key_selector_class(self):
        env = env_p(2)
        out = list(env.from_collection([("ab", 1), ("ac", 2), ("b", 5), ("ax", 3)])
                   .key_by(First()).reduce(Add()).execute_and_collect())
        self.assertEqual(max(v for k, v in out if k.startswith("a")), 6)
        self.assertIn(("b", 5), out)

    def test_sum_min_max_by_position_and_field(self):
        data = [("a", 3, 9), ("b", 1, 1), ("a", 1, 5), ("a", 7, 0), ("b", 4, 2)]
        env = env_p(1)
        ks = env.from_collection(data).key_by(lambda t: t[0])
        self.assertEqual(list(ks.sum(1).execute_and_collect()),
                         [("a", 3, 9), ("b", 1, 1), ("a", 4, 9), ("a", 11, 9), ("b", 5, 1)])
        ks = env.from_collection(data).key_by(lambda t: t[0])
        self.assertEqual(list(ks.min(2).execute_and_collect()),
                         [("a", 3, 9), ("b", 1, 1), ("a", 3, 5), ("a", 3, 0), ("b", 1, 1)])
        ks = env.from_collection(data).key_by(lambda t: t[0])
        self.assertEqual(list(ks.max(1).execute_and_collect()),
                         [("a", 3, 9), ("b", 1, 1), ("a", 3, 9), ("a", 7, 9), ("b", 4, 1)])
        ks = env.from_collection(data).key_by(lambda t: t[0])
        self.assertEqual(list(ks.min_by(2).execute_and_collect())[-2:], [("a", 7, 0), ("b", 1, 1)])
        rows = [Row(k="x", n=1), Row(k="x", n=2), Row(k="y", n=10)]
        ks = env.from_collection(rows).key_by(lambda r: r.k)
        self.assertEqual([r.n for r in ks.sum("n").execute_and_collect()], [1, 3, 10])
        self.assertEqual(list(env.from_collection([1, 2, 3]).key_by(lambda x: 0).sum().execute_and_collect()),
                         [1, 3, 6])

    def test_batch_mode_reduce_emits_final_results(self):
        from sluice.datastream import RuntimeExecutionMode

        def run(p):
            env = env_p(p)
            env.set_runtime_mode(RuntimeExecutionMode.BATCH)
            out = (env.from_collection(WORDS).map(lambda w: (w, 1)).key_by(lambda t: t[0])
                   .sum(1).execute_and_collect())
            self.assertEqual(sorted(out), sorted(collections.Counter(WORDS).items()))
        self.both(run)

    def test_typed_tuples_print_as_flink_does(self):
        d = scratch("typed")
        script = ("from sluice.datastream import StreamExecutionEnvironment\n"
                  "from sluice.common import Types, Row\n"
                  "env = StreamExecutionEnvironment.get_execution_environment()\n"
                  "env.set_parallelism(1)\n"
                  "s = env.from_collection([('a', 1, True, None)])\n"
                  "s.map(lambda t: t, output_type=Types.TUPLE([Types.STRING(), Types.INT(), Types.BOOLEAN(),"
                  " Types.STRING()])).print()\n"
                  "s.map(lambda t: Row(t[0], [1, 2], {'k': 2.5}), output_type=Types.ROW([Types.STRING(),"
                  " Types.LIST(Types.INT()), Types.MAP(Types.STRING(), Types.DOUBLE())])).print()\n"
                  "s.map(lambda t: t[0] + 'x', output_type=Types.STRING()).print()\n"
                  "s.print()\n"
                  "env.execute()\n")
        r = run_py(["-c", script], cwd=d)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(r.stdout.splitlines()),
                         sorted(["(a,1,true,null)", "+I[a, [1, 2], {k=2.5}]", "ax", "('a', 1, True, None)"]))

    def test_union(self):
        def run(p):
            env = env_p(p)
            a = env.from_collection([1, 2, 3])
            b = env.from_collection([10, 20])
            c = env.from_collection([100])
            self.assertEqual(sorted(a.union(b, c).map(lambda x: x + 1).execute_and_collect()),
                             [2, 3, 4, 11, 21, 101])
        self.both(run)

    def test_process_function_yields(self):
        class Dup(ProcessFunction):
            def process_element(self, value, ctx):
                yield value
                if ctx.timestamp() is None:
                    yield value * 10

        env = env_p(1)
        self.assertEqual(list(env.from_collection([1, 2]).process(Dup()).execute_and_collect()),
                         [1, 10, 2, 20])

    def test_keyed_process_value_state_and_timer(self):
        class CountPerKey(KeyedProcessFunction):
            def open(self, runtime_context: RuntimeContext):
                self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))

            def process_element(self, value, ctx):
                c = (self.count.value() or 0) + 1
                self.count.update(c)
                # fires once per key at the end of input (the final watermark)
                ctx.timer_service().register_event_time_timer(1000)
                yield (ctx.get_current_key(), c)

            def on_timer(self, timestamp, ctx):
                yield ("timer", ctx.get_current_key(), timestamp, self.count.value())

        def run(p):
            env = env_p(p)
            out = list(env.from_collection(WORDS).key_by(lambda w: w).process(CountPerKey())
                       .execute_and_collect())
            counts = collections.Counter(WORDS)
            elems = [o for o in out if o[0] != "timer"]
            timers = sorted(o for o in out if o[0] == "timer")
            self.assertEqual(sorted(elems), sorted((w, i) for w, n in counts.items() for i in range(1, n + 1)))
            self.assertEqual(timers, sorted(("timer", w, 1000, n) for w, n in counts.items()))
        self.both(run)

    def test_state_outside_keyed_stream_fails_clearly(self):
        class Bad(MapFunction):
            def open(self, runtime_context):
                runtime_context.get_state(ValueStateDescriptor("s"))

            def map(self, v):
                return v

        env = env_p(1)
        with self.assertRaises(Exception) as cm:
            env.from_collection([1]).map(Bad()).execute_and_collect()
        self.assertIn("only available in functions of a keyed stream", str(cm.exception))

    def test_file_source_and_sink(self):
        d = scratch("files")
        lines = ["line %d %s" % (i, WORDS[i % len(WORDS)]) for i in range(500)]
        with open(os.path.join(d, "in.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")

        def run(p):
            env = env_p(p)
            src = FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                                      os.path.join(d, "in.txt")).build()
            out = os.path.join(d, "out%d" % p)
            env.from_source(src, None, "file").map(lambda s: s[::-1]).sink_to(
                FileSink.for_row_format(out, Encoder.simple_string_encoder()).build())
            env.execute("files")
            got = []
            for name in sorted(os.listdir(out)):
                self.assertTrue(name.startswith("part-"), name)
                with open(os.path.join(out, name)) as f:
                    got += f.read().splitlines()
            self.assertEqual(sorted(got), sorted(s[::-1] for s in lines))
        self.both(run)

    def test_read_text_file_and_print(self):
        d = scratch("print")
        with open(os.path.join(d, "in.txt"), "w") as f:
            f.write("a\nb\n")
        script = ("from sluice.datastream import StreamExecutionEnvironment\n"
                  "from sluice.common import Row\n"
                  "env = StreamExecutionEnvironment.get_execution_environment()\n"
                  "env.set_parallelism(1)\n"
                  "s = env.read_text_file('in.txt')\n"
                  "s.map(lambda x: x * 2).print()\n"
                  "s.map(lambda x: (x, 1, None, Row(x, 2))).print()\n"
                  "env.execute('print')\n")
        r = run_py(["-c", script], cwd=d)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(r.stdout.splitlines()),
                         sorted(["aa", "bb", "('a', 1, None, Row('a', 2))", "('b', 1, None, Row('b', 2))"]))

    def test_python_sink_function(self):
        seen = []
        lock = threading.Lock()

        def sink(v):
            with lock:
                seen.append(v)
        env = env_p(2)
        env.from_collection(list(range(100))).map(lambda x: x * x).add_sink(sink)
        env.execute("py-sink")
        self.assertEqual(sorted(seen), [x * x for x in range(100)])

    def test_configuration_by_flink_keys(self):
        conf = Configuration()
        conf.set_string("parallelism.default", "2")
        env = StreamExecutionEnvironment.get_execution_environment(conf)
        self.assertEqual(env.get_parallelism(), 2)
        env.set_max_parallelism(64)
        env.enable_checkpointing(500)
        self.assertEqual(env.get_checkpoint_config().get_checkpoint_interval(), 500)
        self.assertTrue(env.get_checkpoint_config().is_checkpointing_enabled())
        env.get_config().set_auto_watermark_interval(50)
        self.assertEqual(env.get_config().get_auto_watermark_interval(), 50)
        self.assertEqual(env.get_config().get_parallelism(), 2)
        bad = Configuration().set_string("parallelism.defualt", "2")
        with self.assertRaises(ValueError) as cm:
            env.configure(bad)
        self.assertIn("parallelism.defualt", str(cm.exception))
        with self.assertRaises(ValueError):
            env.set_parallelism(0)

    def test_execute_async_wait_and_cancel(self):
        env = env_p(1)
        env.from_collection(list(range(1000))).map(lambda x: x + 1).add_sink(lambda v: None)
        client = env.execute_async("async")
        self.assertTrue(client.wait(60))
        self.assertEqual(client.get_job_status(), JobStatus.FINISHED)
        self.assertEqual(client.get_job_execution_result().get_records_in(), 1000)
        self.assertEqual(len(client.get_job_id()), 32)

        # an endless job: a monitored directory never ends until cancelled
        d = scratch("async")
        with open(os.path.join(d, "f.txt"), "w") as f:
            f.write("x\n")
        env = env_p(1)
        got = threading.Event()
        src = FileSource.for_record_stream_format(StreamFormat.text_line_format(), d).monitor_continuously(
            __import__("sluice.common", fromlist=["Duration"]).Duration.of_millis(20)).build()
        env.from_source(src).add_sink(lambda v: got.set())
        client = env.execute_async("endless")
        self.assertTrue(got.wait(60))
        self.assertEqual(client.get_job_status(), JobStatus.RUNNING)
        client.cancel()
        self.assertTrue(client.wait(60))
        self.assertEqual(client.get_job_status(), JobStatus.CANCELED)

    def test_concurrent_jobs(self):
        clients, outs = [], []
        for j in range(3):
            env = env_p(2)
            out = []
            lock = threading.Lock()

            def sink(v, out=out, lock=lock):
                with lock:
                    out.append(v)
            (env.from_collection(list(range(3000))).map(lambda x, j=j: (x % 10, x + j))
             .key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1])).add_sink(sink))
            clients.append(env.execute_async("job%d" % j))
            outs.append(out)
        for j, c in enumerate(clients):
            c.get_job_execution_result()
            final = {}
            for k, v in outs[j]:
                final[k] = max(final.get(k, v), v)
            self.assertEqual(final, {k: sum(x + j for x in range(3000) if x % 10 == k) for k in range(10)})

    def test_socket_text_stream(self):
        import socket
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]

        def serve():
            c, _ = srv.accept()
            c.sendall(b"one\ntwo\nthree")  # the last line has no newline
            c.close()
        t = threading.Thread(target=serve)
        t.start()
        env = env_p(2)
        got = list(env.socket_text_stream("127.0.0.1", port).map(str.upper).execute_and_collect())
        t.join()
        srv.close()
        self.assertEqual(sorted(got), ["ONE", "THREE", "TWO"])

    def test_no_sink(self):
        env = env_p(1)
        env.from_collection([1]).map(lambda x: x)
        with self.assertRaises(RuntimeError):
            env.execute()


if __name__ == "__main__":
    unittest.main()

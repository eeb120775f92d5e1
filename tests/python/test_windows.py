"""Event time, windows, side outputs, connected streams and the other keyed
states of the Python API, at P=1 and P=2, against plain-Python references
(winref.py) or results worked out by hand."""
import collections
import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import winref  # noqa: E402
from util import WITH_ROCKSDB  # noqa: E402

from sluice.common import Duration, Time, TimestampAssigner, WatermarkStrategy  # noqa: E402
from sluice.datastream import (AggregateFunction, EmbeddedRocksDBStateBackend, CoFlatMapFunction, CoMapFunction,  # noqa: E402
                               CoProcessFunction, KeyedCoProcessFunction, KeyedProcessFunction, OutputTag,
                               ProcessFunction, ProcessWindowFunction, ReduceFunction, StreamExecutionEnvironment,
                               WindowFunction)
from sluice.datastream.state import (AggregatingStateDescriptor, ListStateDescriptor,  # noqa: E402
                                     MapStateDescriptor, ReducingStateDescriptor, StateTtlConfig,
                                     ValueStateDescriptor)
from sluice.datastream.window import (CountTrigger, EventTimeSessionWindows,  # noqa: E402
                                      ProcessingTimeSessionWindows, SlidingEventTimeWindows,
                                      SlidingProcessingTimeWindows, TimeWindow, TumblingEventTimeWindows,
                                      TumblingProcessingTimeWindows)


def env_p(p):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(p)
    env.get_config().set_auto_watermark_interval(0)  # a watermark after every record
    return env


class Sinks(object):
    """Python sinks appending to lists (any subtask's thread)."""

    def __init__(self):
        self.lists = collections.defaultdict(list)
        self.lock = threading.Lock()

    def __call__(self, name):
        def sink(v):
            with self.lock:
                self.lists[name].append(v)
        return sink


def out_of_order(n, keys, seed, spread=30):
    """(key, ts, value) in a source order with timestamps going up but
    jumping back by up to `spread` ms now and then (late records)."""
    rnd = random.Random(seed)
    recs, t = [], 0
    for i in range(n):
        t += rnd.randrange(0, 4)
        ts = t - rnd.randrange(0, spread) if rnd.random() < 0.2 else t
        recs.append((rnd.choice(keys), max(ts, 0), i))
    return recs


class Sum(ReduceFunction):
    def reduce(self, a, b):
        return (a[0], a[1], a[2] + b[2])


class Avg(AggregateFunction):
    def create_accumulator(self):
        return (0, 0)

    def add(self, value, acc):
        return (acc[0] + value[2], acc[1] + 1)

    def get_result(self, acc):
        return (acc[0], acc[1])

    def merge(self, a, b):
        return (a[0] + b[0], a[1] + b[1])


class Describe(ProcessWindowFunction):
    def process(self, key, context, elements):
        w = context.window()
        yield (key, w.start, w.end, [e[2] for e in elements])


class EventTimeTest(unittest.TestCase):
    def both(self, fn):
        for p in (1, 2):
            with self.subTest(parallelism=p):
                fn(p)

    def run_windows(self, p, recs, assigner, bound, lateness, build, backend=None):
        env = env_p(p)
        if backend is not None:
            env.set_state_backend(backend)
        late = OutputTag("late-data")
        sinks = Sinks()
        ws = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(bound))
              .with_timestamp_assigner(lambda v, ts: v[1]))
        w = (env.from_collection(recs).assign_timestamps_and_watermarks(ws).key_by(lambda v: v[0])
             .window(assigner).allowed_lateness(lateness).side_output_late_data(late))
        res = build(w)
        res.add_sink(sinks("main"))
        res.get_side_output(late).add_sink(sinks("late"))
        env.execute("windows")
        return sinks.lists["main"], sinks.lists["late"]

    # At P=1 every operator sees the records and watermarks in the source's
    # order, so lateness is exact.  At P=2 the window operator's watermark
    # is the minimum over its two input channels, and when the other
    # channel's first event (its end: it has no records) arrives is up to
    # the threads (as in Flink); the watermark can only be lower than the
    # reference's, so: a record on time in the reference is on time in any
    # run, a record late in a run is late in the reference, and data with
    # no late record in the reference gives exactly the reference's output
    # at any parallelism.  The P=2 checks below are those.

    def test_tumbling_reduce_lateness_side_output(self):
        recs = out_of_order(600, ["a", "b", "c"], 1)
        fn = lambda k, s, e, vs: (k, vs[0][1], sum(x[2] for x in vs))  # noqa: E731
        want, want_late = winref.event_time_windows([(k, t, (k, t, v)) for k, t, v in recs], 10, 10, 5, 7, fn)
        self.assertGreater(len(want_late), 10)  # the data has late records
        self.assertGreater(len(want), 3 * 20 + 10)  # and re-firings within the lateness
        # window contents in either backend (RocksDB when the build has it)
        for backend in (None, EmbeddedRocksDBStateBackend()) if WITH_ROCKSDB else (None,):
            got, late = self.run_windows(1, recs, TumblingEventTimeWindows.of(Time.milliseconds(10)), 5, 7,
                                         lambda w: w.reduce(Sum()), backend)
            self.assertEqual(sorted(got), sorted(r[3] for r in want))
            self.assertEqual(sorted(late), sorted(x[2] for x in want_late))
        # P=2: no record is late in the reference (disorder within the bound)
        recs2 = out_of_order(600, ["a", "b", "c"], 1, spread=5)
        want, want_late = winref.event_time_windows([(k, t, (k, t, v)) for k, t, v in recs2], 10, 10, 5, 7, fn)
        self.assertEqual(want_late, [])
        self.assertEqual(len(set(r[:3] for r in want)), len(want))  # and no window fires twice
        for p in (1, 2):
            got, late = self.run_windows(p, recs2, TumblingEventTimeWindows.of(Time.milliseconds(10)), 5, 7,
                                         lambda w: w.reduce(Sum()))
            self.assertEqual((p, sorted(got), late), (p, sorted(r[3] for r in want), []))

    def test_late_records_at_p2(self):
        """The P=2 guarantees with late data: a run's late records are late in
        the reference, every on-time record of the reference is in its
        window's last firing, and each record is in exactly one of the two."""
        recs = out_of_order(600, ["a", "b", "c"], 6)
        _, want_late = winref.event_time_windows(recs, 10, 10, 5, 7, lambda k, s, e, vs: None)
        got, late = self.run_windows(2, recs, TumblingEventTimeWindows.of(Time.milliseconds(10)), 5, 7,
                                     lambda w: w.process(Describe()))
        self.assertLessEqual(collections.Counter(late), collections.Counter(want_late))
        last = {}
        for k, s, e, vs in got:  # a key's firings come in order (one subtask)
            last[(k, s)] = vs
        in_windows = [v for vs in last.values() for v in vs]
        self.assertEqual(sorted(in_windows + [x[2] for x in late]), list(range(len(recs))))
        on_time = set(range(len(recs))) - set(x[2] for x in want_late)
        self.assertLessEqual(on_time, set(in_windows))

    def test_sliding_aggregate_with_window_function(self):
        class Tag(ProcessWindowFunction):
            def process(self, key, context, elements):
                (s, n), = elements
                yield "%s [%d,%d) sum=%d n=%d" % (key, context.window().start, context.window().end, s, n)

        fn = lambda k, s, e, vs: "%s [%d,%d) sum=%d n=%d" % (k, s, e, sum(vs), len(vs))  # noqa: E731
        for p, spread in ((1, 30), (2, 3)):
            recs = out_of_order(400, ["x", "y"], 2, spread)
            want, want_late = winref.event_time_windows(recs, 20, 5, 3, 4, fn)
            self.assertEqual(p == 2, not want_late)
            if p == 2:  # and no window fires twice
                self.assertEqual(len(set(r[:3] for r in want)), len(want))
            got, late = self.run_windows(p, recs, SlidingEventTimeWindows.of(Time.milliseconds(20),
                                                                             Time.milliseconds(5)), 3, 4,
                                         lambda w: w.aggregate(Avg(), Tag()))
            self.assertEqual(sorted(got), sorted(r[3] for r in want))
            self.assertEqual(sorted(x[2] for x in late), sorted(x[2] for x in want_late))

    def test_process_and_apply(self):
        class Apply(WindowFunction):
            def apply(self, key, window, inputs):
                return [(key, window.start, window.end, [e[2] for e in inputs])]

        for p, spread in ((1, 30), (2, 2)):
            recs = out_of_order(300, ["a", "b"], 3, spread)
            want, want_late = winref.event_time_windows(recs, 10, 10, 2, 0, lambda k, s, e, vs: (k, s, e, list(vs)))
            self.assertEqual(p == 2, not want_late)
            if p == 2:  # and no window fires twice
                self.assertEqual(len(set(r[:3] for r in want)), len(want))
            for build in (lambda w: w.process(Describe()), lambda w: w.apply(Apply()),
                          lambda w: w.apply(lambda k, win, xs: [(k, win.start, win.end, [x[2] for x in xs])])):
                got, late = self.run_windows(p, recs, TumblingEventTimeWindows.of(Time.milliseconds(10)), 2, 0,
                                             build)
                self.assertEqual(sorted(got), sorted(r[3] for r in want))
                self.assertEqual(sorted(late), sorted(want_late))

    def test_hand_worked(self):
        """Bound 0, lateness 5, tumbling 10: a@1 a@4 (wm 3), a@11 (wm 10:
        [0,10) fires {1,4}), a@8 (within lateness: [0,10) fires {1,4,8}),
        a@17 (wm 16 >= 9 + 5: [0,10) cleaned), a@3 (late), end: [10,20)
        fires {11,17}."""
        recs = [("a", t, t) for t in (1, 4, 11, 8, 17, 3)]
        got, late = self.run_windows(1, recs, TumblingEventTimeWindows.of(Time.milliseconds(10)), 0, 5,
                                     lambda w: w.process(Describe()))
        self.assertEqual(got, [("a", 0, 10, [1, 4]), ("a", 0, 10, [1, 4, 8]), ("a", 10, 20, [11, 17])])
        self.assertEqual(late, [("a", 3, 3)])

    def test_sessions(self):
        rnd = random.Random(4)
        recs, t = [], 0
        for i in range(300):
            t += rnd.choice([1, 2, 3, 12, 40])
            recs.append((rnd.choice("pq"), t, i))

        def run(p):
            env = env_p(p)
            sinks = Sinks()
            (env.from_collection(recs)
             .assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
                                               .with_timestamp_assigner(lambda v, ts: v[1]))
             .key_by(lambda v: v[0]).window(EventTimeSessionWindows.with_gap(Time.milliseconds(10)))
             .process(Describe()).add_sink(sinks("s")))
            env.execute("sessions")
            want = winref.sessions(recs, 10, lambda k, s, e, vs: list(vs))
            self.assertEqual(sorted(sinks.lists["s"]), sorted((k, s, e, vs) for k, s, e, vs in want))
        self.both(run)

    def test_timestamp_assigner_forms(self):
        """TimestampAssigner class, a lambda of (value, ts), a lambda of the
        value: ctx.timestamp() in a ProcessFunction sees what they return."""
        class TA(TimestampAssigner):
            def extract_timestamp(self, value, record_timestamp):
                return value * 10

        class Ts(ProcessFunction):
            def process_element(self, value, ctx):
                yield (value, ctx.timestamp())

        for a in (TA(), lambda v, ts: v * 10, lambda v: v * 10):
            env = env_p(1)
            got = list(env.from_collection([3, 1, 2]).assign_timestamps_and_watermarks(
                WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(1))
                .with_timestamp_assigner(a).with_idleness(Duration.of_seconds(5))).process(Ts())
                .execute_and_collect())
            self.assertEqual(got, [(3, 30), (1, 10), (2, 20)])
        # a record without a timestamp: record_timestamp is Long.MIN_VALUE (Flink's NO_TIMESTAMP)
        env = env_p(1)
        got = list(env.from_collection([7]).assign_timestamps_and_watermarks(
            WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda v, ts: 5 if ts == -2 ** 63
                                                                                  else 0))
            .process(Ts()).execute_and_collect())
        self.assertEqual(got, [(7, 5)])

    def test_count_windows(self):
        rnd = random.Random(5)
        recs = [(rnd.choice("abc"), i) for i in range(200)]

        def run(p):
            env = env_p(p)
            sinks = Sinks()
            ks = env.from_collection(recs).key_by(lambda v: v[0])
            ks.count_window(4).apply(lambda k, w, xs: [(k, [x[1] for x in xs])]).add_sink(sinks("tumbling"))
            ks.count_window(5, 2).apply(lambda k, w, xs: [(k, [x[1] for x in xs])]).add_sink(sinks("sliding"))
            env.execute("count")
            by = collections.defaultdict(list)
            for k, v in recs:
                by[k].append(v)
            tumbling = [(k, vs[i:i + 4]) for k, vs in by.items() for i in range(0, len(vs) - 3, 4)]
            sliding = [(k, vs[max(0, i - 5):i]) for k, vs in by.items() for i in range(2, len(vs) + 1, 2)]
            self.assertEqual(sorted(sinks.lists["tumbling"]), sorted(tumbling))
            self.assertEqual(sorted(sinks.lists["sliding"]), sorted(sliding))
        self.both(run)

    def test_count_trigger(self):
        """CountTrigger.of(3) on tumbling event-time windows of 100: fires
        at every third record of a window (no purge), never on time."""
        recs = [("k", t, t) for t in (1, 2, 3, 4, 5, 6, 7, 150, 151, 152, 8)]
        env = env_p(1)
        got = list(env.from_collection(recs)
                   .assign_timestamps_and_watermarks(WatermarkStrategy.for_bounded_out_of_orderness(
                       Duration.of_millis(1000)).with_timestamp_assigner(lambda v, ts: v[1]))
                   .key_by(lambda v: v[0]).window(TumblingEventTimeWindows.of(Time.milliseconds(100)))
                   .trigger(CountTrigger.of(3)).process(Describe()).execute_and_collect())
        self.assertEqual(sorted(got), sorted([("k", 0, 100, [1, 2, 3]), ("k", 0, 100, [1, 2, 3, 4, 5, 6]),
                                              ("k", 100, 200, [150, 151, 152])]))

    def test_processing_time_windows(self):
        """Windows far larger than the test: every record of a key in one
        tumbling window / session, in two sliding windows (they fire at the
        end of the input)."""
        recs = [(k, i) for i in range(50) for k in "ab"]
        day = 24 * 3600 * 1000
        for p in (1, 2):
            env = env_p(p)
            sinks = Sinks()
            ks = env.from_collection(recs).key_by(lambda v: v[0])
            count = lambda k, w, xs: [(k, len(xs), sum(x[1] for x in xs))]  # noqa: E731
            ks.window(TumblingProcessingTimeWindows.of(Time.days(100000))).apply(count).add_sink(sinks("t"))
            ks.window(SlidingProcessingTimeWindows.of(Time.days(200000), Time.days(100000))).apply(count) \
                .add_sink(sinks("s"))
            ks.window(ProcessingTimeSessionWindows.with_gap(Time.hours(1))).apply(count).add_sink(sinks("g"))
            env.execute("processing time")
            one = [("a", 50, 1225), ("b", 50, 1225)]
            self.assertEqual(sorted(sinks.lists["t"]), one)
            self.assertEqual(sorted(sinks.lists["s"]), sorted(one * 2))
            self.assertEqual(sorted(sinks.lists["g"]), one)
        self.assertEqual(TimeWindow(0, 10).max_timestamp(), 9)


class SideOutputAndConnectTest(unittest.TestCase):
    def test_process_function_side_output(self):
        odd = OutputTag("odd")
        big = OutputTag("big")

        class Split(ProcessFunction):
            def process_element(self, value, ctx):
                if value % 2:
                    yield odd, "odd %d" % value
                else:
                    yield value
                if value > 15:
                    yield big, value

        for p in (1, 2):
            env = env_p(p)
            sinks = Sinks()
            main = env.from_collection(list(range(20))).process(Split())
            main.add_sink(sinks("even"))
            main.get_side_output(odd).add_sink(sinks("odd"))
            main.get_side_output(big).add_sink(sinks("big"))
            env.execute("side")
            self.assertEqual(sorted(sinks.lists["even"]), list(range(0, 20, 2)))
            self.assertEqual(sorted(sinks.lists["odd"]), sorted("odd %d" % i for i in range(1, 20, 2)))
            self.assertEqual(sorted(sinks.lists["big"]), [16, 17, 18, 19])

    def test_keyed_process_side_output(self):
        """A KeyedProcessFunction's records and timers may yield (tag, value)."""
        firsts = OutputTag("first")

        class F(KeyedProcessFunction):
            def open(self, rc):
                self.seen = rc.get_state(ValueStateDescriptor("seen"))

            def process_element(self, value, ctx):
                if self.seen.value() is None:
                    self.seen.update(1)
                    yield firsts, value
                    ctx.timer_service().register_event_time_timer(10)
                yield value[1]

            def on_timer(self, ts, ctx):
                yield firsts, ("timer", ctx.get_current_key())

        for p in (1, 2):
            env = env_p(p)
            sinks = Sinks()
            s = env.from_collection([("a", 1), ("b", 2), ("a", 3)]).key_by(lambda v: v[0]).process(F())
            s.add_sink(sinks("main"))
            s.get_side_output(firsts).add_sink(sinks("first"))
            env.execute("keyed side")
            self.assertEqual(sorted(sinks.lists["main"]), [1, 2, 3])
            self.assertEqual(sorted(sinks.lists["first"]), [("a", 1), ("b", 2), ("timer", "a"), ("timer", "b")])

    def test_connect(self):
        class M(CoMapFunction):
            def map1(self, value):
                return "n%d" % value

            def map2(self, value):
                return "s" + value

        class F(CoFlatMapFunction):
            def flat_map1(self, value):
                return [value] * 2

            def flat_map2(self, value):
                yield from value

        class P(CoProcessFunction):
            def process_element1(self, value, ctx):
                yield (1, value)

            def process_element2(self, value, ctx):
                yield (2, value)

        for p in (1, 2):
            env = env_p(p)
            a, b = env.from_collection([1, 2, 3]), env.from_collection(["x", "yz"])
            sinks = Sinks()
            a.connect(b).map(M()).add_sink(sinks("m"))
            a.connect(b).flat_map(F()).add_sink(sinks("f"))
            a.connect(b).process(P()).add_sink(sinks("p"))
            env.execute("connect")
            self.assertEqual(sorted(sinks.lists["m"]), ["n1", "n2", "n3", "sx", "syz"])
            self.assertEqual(sorted(sinks.lists["f"], key=str), sorted([1, 1, 2, 2, 3, 3, "x", "y", "z"], key=str))
            self.assertEqual(sorted(sinks.lists["p"]), [(1, 1), (1, 2), (1, 3), (2, "x"), (2, "yz")])

    def test_keyed_connect_shared_state(self):
        """Both inputs of a keyed connect share the key's state: a count per
        key over both streams; whatever the interleaving, a key's counts
        are 1..(its records in both streams), each once."""
        class Count(KeyedCoProcessFunction):
            def open(self, runtime_context):
                self.n = runtime_context.get_state(ValueStateDescriptor("n"))

            def bump(self, ctx, side):
                n = (self.n.value() or 0) + 1
                self.n.update(n)
                yield (ctx.get_current_key(), n, side)

            def process_element1(self, value, ctx):
                return self.bump(ctx, 1)

            def process_element2(self, value, ctx):
                return self.bump(ctx, 2)

        a = [("k%d" % (i % 5), i) for i in range(40)]
        b = [("k%d" % (i % 3), i) for i in range(30)]
        for p in (1, 2):
            env = env_p(p)
            got = list(env.from_collection(a).connect(env.from_collection(b))
                       .key_by(lambda r: r[0], lambda r: r[0]).process(Count()).execute_and_collect())
            want = collections.Counter(r[0] for r in a + b)
            by = collections.defaultdict(list)
            for k, n, side in got:
                by[k].append(n)
            self.assertEqual({k: sorted(v) for k, v in by.items()},
                             {k: list(range(1, n + 1)) for k, n in want.items()})
            self.assertEqual(collections.Counter((k, side) for k, _, side in got),
                             collections.Counter([(r[0], 1) for r in a] + [(r[0], 2) for r in b]))

    def test_keyed_connect_timers(self):
        """A KeyedCoProcessFunction's event-time timer (registered by either
        input, one per key) fires at the end of the input with the key's
        count over both streams."""
        class Final(KeyedCoProcessFunction):
            def open(self, runtime_context):
                self.n = runtime_context.get_state(ValueStateDescriptor("n"))

            def bump(self, ctx):
                self.n.update((self.n.value() or 0) + 1)
                ctx.timer_service().register_event_time_timer(1000)
                return []

            def process_element1(self, value, ctx):
                return self.bump(ctx)

            def process_element2(self, value, ctx):
                return self.bump(ctx)

            def on_timer(self, timestamp, ctx):
                yield (ctx.get_current_key(), self.n.value(), timestamp)

        a = [("k%d" % (i % 5), i) for i in range(40)]
        b = [("k%d" % (i % 3), i) for i in range(30)]
        for p in (1, 2):
            env = env_p(p)
            got = list(env.from_collection(a).key_by(lambda r: r[0])
                       .connect(env.from_collection(b).key_by(lambda r: r[0])).process(Final())
                       .execute_and_collect())
            want = collections.Counter(r[0] for r in a + b)
            self.assertEqual(sorted(got), sorted((k, n, 1000) for k, n in want.items()))


class WindowErrorTest(unittest.TestCase):
    def test_window_function_raises(self):
        import sluice

        def bad(k, w, xs):
            if k == "b":
                raise ValueError("no b please")
            return [k]
        env = env_p(1)
        (env.from_collection([("a", 1), ("b", 2)])
         .assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
                                           .with_timestamp_assigner(lambda v, ts: v[1]))
         .key_by(lambda v: v[0]).window(TumblingEventTimeWindows.of(Time.seconds(1))).apply(bad)
         .add_sink(lambda v: None))
        with self.assertRaises(sluice.JobExecutionError) as cm:
            env.execute("bad window")
        msg = str(cm.exception)
        self.assertIn("Python window function raised ValueError: no b please", msg)
        self.assertIn("('b', 2)", msg)  # the window's first element
        self.assertIn('raise ValueError("no b please")', msg)  # the traceback
        self.assertIsInstance(cm.exception.__cause__, ValueError)

    def test_bad_timestamp(self):
        import sluice
        env = env_p(1)
        (env.from_collection(["x"]).assign_timestamps_and_watermarks(
            WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda v, ts: "soon"))
         .add_sink(lambda v: None))
        with self.assertRaises(sluice.JobExecutionError) as cm:
            env.execute("bad ts")
        self.assertIn("extract_timestamp must return an int (milliseconds), got str", str(cm.exception))
        self.assertIn("on record 'x'", str(cm.exception))

    def test_api_misuse(self):
        env = env_p(1)
        ks = env.from_collection([1]).key_by(lambda v: v)
        with self.assertRaises(TypeError):
            ks.window(Time.seconds(1))
        with self.assertRaises(TypeError):
            ks.window(TumblingEventTimeWindows.of(Time.seconds(1))).aggregate(lambda a, b: a)
        with self.assertRaises(ValueError):
            TumblingEventTimeWindows.of(Time.seconds(1), Time.seconds(2))
        with self.assertRaises(TypeError):
            env.from_collection([1]).get_side_output("late")


class StateTest(unittest.TestCase):
    def test_list_map_reducing_aggregating(self):
        class Avg2(AggregateFunction):
            def create_accumulator(self):
                return [0, 0]

            def add(self, value, acc):
                return [acc[0] + value, acc[1] + 1]

            def get_result(self, acc):
                return acc[0] / acc[1]

        class F(KeyedProcessFunction):
            def open(self, rc):
                self.l = rc.get_list_state(ListStateDescriptor("l"))
                self.m = rc.get_map_state(MapStateDescriptor("m"))
                self.r = rc.get_reducing_state(ReducingStateDescriptor("r", lambda a, b: a * b))
                self.a = rc.get_aggregating_state(AggregatingStateDescriptor("a", Avg2()))

            def process_element(self, value, ctx):
                k, n = value
                self.l.add(n)
                self.m.put(n % 3, self.m.get(n % 3) or 0)
                self.m.put(n % 3, self.m.get(n % 3) + 1)
                self.r.add(n)
                self.a.add(n)
                yield (k, list(self.l.get()), sorted(self.m.items()), self.r.get(), self.a.get(),
                       0 in self.m, sorted(self.m.keys()))
                if n == 4:
                    self.l.update([100])
                    self.m.remove(1)

        data = [("a", 1), ("b", 2), ("a", 3), ("a", 4), ("b", 5), ("a", 6)]
        for p in (1, 2):
            env = env_p(p)
            got = list(env.from_collection(data).key_by(lambda v: v[0]).process(F()).execute_and_collect())
            want = [("a", [1], [(1, 1)], 1, 1.0, False, [1]),
                    ("a", [1, 3], [(0, 1), (1, 1)], 3, 2.0, True, [0, 1]),
                    ("a", [1, 3, 4], [(0, 1), (1, 2)], 12, 8 / 3, True, [0, 1]),
                    ("a", [100, 6], [(0, 2)], 72, 14 / 4, True, [0]),
                    ("b", [2], [(2, 1)], 2, 2.0, False, [2]),
                    ("b", [2, 5], [(2, 2)], 10, 3.5, False, [2])]
            self.assertEqual(sorted(got), sorted(want))

    def test_ttl(self):
        """A 1 ms time-to-live and 20 ms between a key's records: the value
        has expired by the second record; with 1 hour it has not."""
        class Last(KeyedProcessFunction):
            def __init__(self, ttl):
                self.ttl = ttl

            def open(self, rc):
                d = ValueStateDescriptor("last")
                d.enable_time_to_live(StateTtlConfig.new_builder(self.ttl)
                                      .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
                                      .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
                                      .build())
                self.s = rc.get_state(d)

            def process_element(self, value, ctx):
                time.sleep(0.02)
                prev = self.s.value()
                self.s.update(value)
                yield prev

        for ttl, want in ((Time.milliseconds(1), [None, None, None]), (Time.hours(1), [None, 1, 2])):
            env = env_p(1)
            got = list(env.from_collection([1, 2, 3]).key_by(lambda v: 0).process(Last(ttl)).execute_and_collect())
            self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()

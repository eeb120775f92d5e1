"""The Python jobs of bench/python.sh: the same jobs as `sluice run upper`,
`sluice run wordcount` and `sluice run window-agg --window tumbling:10s`,
written with sluice's Python API.
argv: map|reduce|window INPUT OUTPUT PARALLELISM; prints one summary line:
JOB P=N: R records in, S s, X records/s (the job's own time, as the CLI's)."""
import sys

from sluice.datastream import StreamExecutionEnvironment
from sluice.datastream.connectors.file_system import _TextFile

job, inp, out, p = sys.argv[1:5]
env = StreamExecutionEnvironment.get_execution_environment()
env.set_parallelism(int(p))
lines = env.add_source(_TextFile(inp))
if job == "map":
    result = lines.map(lambda s: s.upper())
elif job == "reduce":
    result = (lines.flat_map(lambda s: ((w, 1) for w in s.split()))
              .key_by(lambda t: t[0])
              .reduce(lambda a, b: (a[0], a[1] + b[1]))
              .map(lambda t: "%s\t%d" % t))
elif job == "window":
    # CSV lines timestamp_ms,key,value -> per key, count,sum,min,max in
    # tumbling event-time windows of 10 s: `start,end,key,count,sum,min,max`
    from sluice.common import Duration, Time, WatermarkStrategy
    from sluice.datastream import AggregateFunction, ProcessWindowFunction
    from sluice.datastream.window import TumblingEventTimeWindows

    class Stats(AggregateFunction):
        def create_accumulator(self):
            return (0, 0, None, None)

        def add(self, v, acc):
            n, s, lo, hi = acc
            x = v[2]
            return (n + 1, s + x, x if lo is None or x < lo else lo, x if hi is None or x > hi else hi)

        def get_result(self, acc):
            return acc

        def merge(self, a, b):
            return (a[0] + b[0], a[1] + b[1], min(a[2], b[2]), max(a[3], b[3]))

    class Line(ProcessWindowFunction):
        def process(self, key, ctx, stats):
            w = ctx.window()
            n, s, lo, hi = stats[0]
            yield "%d,%d,%s,%d,%d,%d,%d" % (w.start, w.end, key, n, s, lo, hi)

    def parse(line):
        ts, key, value = line.split(",")
        return (int(ts), key, int(value))

    result = (lines.map(parse)
              .assign_timestamps_and_watermarks(WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(0))
                                                .with_timestamp_assigner(lambda v, ts: v[0]))
              .key_by(lambda v: v[1])
              .window(TumblingEventTimeWindows.of(Time.seconds(10)))
              .aggregate(Stats(), Line()))
else:
    sys.exit("job: map, reduce or window")
result.add_sink(_TextFile(out))
r = env.execute("py-" + job)
secs = r.get_net_runtime() / 1000.0
print("python %s P=%s: %d records in, %.3f s, %.0f records/s"
      % (job, p, r.get_records_in(), secs, r.get_records_in() / max(secs, 1e-9)))

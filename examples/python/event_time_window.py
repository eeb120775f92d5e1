"""Event-time windows with sluice's Python API: page views (user, page,
timestamp in ms) arrive up to 2 s out of order; per page, the views in
10-second tumbling windows, with the users seen, as soon as the
watermark passes a window's end.  A view up to 5 s later than that
updates its window (the window fires again); a later one goes to the
"late" side output.

    PYTHONPATH=python SLUICE_LIBRARY=build/libsluice.so \\
        python3 examples/python/event_time_window.py [--parallelism 2]

With PyFlink this job is the same with `pyflink` in place of `sluice`.
"""
import argparse

from sluice.common import Duration, Time, WatermarkStrategy
from sluice.common.watermark_strategy import TimestampAssigner
from sluice.datastream import OutputTag, ProcessWindowFunction, StreamExecutionEnvironment
from sluice.datastream.functions import AggregateFunction
from sluice.datastream.window import TumblingEventTimeWindows

# The watermark is the largest timestamp so far - 2 s - 1 ms.
VIEWS = [("ann", "/home", 1000), ("bob", "/home", 3000), ("ann", "/cart", 4000),
         ("cid", "/home", 9500), ("bob", "/home", 8000),    # 1.5 s out of order: in time
         ("ann", "/home", 12000),                           # wm 9.999 s: [0 s, 10 s) fires
         ("cid", "/cart", 13000),
         ("dan", "/home", 9900),                            # late, within 5 s: /home [0, 10) again
         ("bob", "/cart", 16000),
         ("eve", "/home", 7000),                            # the same, once more
         ("ann", "/home", 21000),                           # wm 18.999 s: [0, 10) is gone
         ("bob", "/home", 22500),                           # wm 20.499 s: [10 s, 20 s) fires
         ("fay", "/cart", 2000),                            # too late: the side output
         ("cid", "/home", 29000), ("dan", "/cart", 31000)]  # the end of the input fires the rest


class ViewTime(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value[2]


class Users(AggregateFunction):
    """The distinct users of a window, incrementally."""

    def create_accumulator(self):
        return []

    def add(self, value, accumulator):
        return accumulator if value[0] in accumulator else accumulator + [value[0]]

    def get_result(self, accumulator):
        return sorted(accumulator)

    def merge(self, a, b):
        return sorted(set(a) | set(b))


class Report(ProcessWindowFunction):
    def process(self, key, context, elements):
        users = elements[0]  # the one aggregated result
        w = context.window()
        yield "%s [%ds, %ds): %d users %s" % (key, w.start // 1000, w.end // 1000, len(users), ",".join(users))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parallelism", type=int, default=1)
    args = ap.parse_args()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(args.parallelism)
    env.get_config().set_auto_watermark_interval(0)  # a watermark after every view (a demo's pace)

    late = OutputTag("late")
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(2))
                .with_timestamp_assigner(ViewTime()))
    windows = (env.from_collection(VIEWS)
               .assign_timestamps_and_watermarks(strategy)
               .key_by(lambda v: v[1])
               .window(TumblingEventTimeWindows.of(Time.seconds(10)))
               .allowed_lateness(5000)
               .side_output_late_data(late)
               .aggregate(Users(), Report()))
    windows.print()
    windows.get_side_output(late).map(lambda v: "late: %s %s at %ds" % (v[0], v[1], v[2] // 1000)).print()
    env.execute("event-time windows")


if __name__ == "__main__":
    main()

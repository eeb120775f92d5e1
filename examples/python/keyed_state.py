"""Keyed state with sluice's Python API: per user, the running total of
their purchases in ValueState (kept in the engine's state backend, so it
is checkpointed and restored), an alert when a purchase doubles the total
so far, and each user's final total from an event-time timer that fires
at the end of the input.

    PYTHONPATH=python SLUICE_LIBRARY=build/libsluice.so \\
        python3 examples/python/keyed_state.py [--parallelism 2]
"""
import argparse

from sluice.common import Types
from sluice.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from sluice.datastream.state import ValueStateDescriptor

PURCHASES = [("alice", 10), ("bob", 5), ("alice", 3), ("carol", 7), ("bob", 20),
             ("alice", 40), ("carol", 1), ("bob", 2)]


class Totals(KeyedProcessFunction):
    def open(self, runtime_context):
        self.total = runtime_context.get_state(ValueStateDescriptor("total", Types.LONG()))

    def process_element(self, value, ctx):
        user, amount = value
        before = self.total.value() or 0
        self.total.update(before + amount)
        if before and amount >= before:
            yield "alert: %s spent %d after %d so far" % (user, amount, before)
        # one timer per key however often it is registered; the end of the
        # input moves event time to the end, which fires it
        ctx.timer_service().register_event_time_timer(2 ** 62)

    def on_timer(self, timestamp, ctx):
        yield "total: %s %d" % (ctx.get_current_key(), self.total.value())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parallelism", type=int, default=1)
    args = ap.parse_args()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(args.parallelism)
    (env.from_collection(PURCHASES)
     .key_by(lambda p: p[0])
     .process(Totals(), output_type=Types.STRING())
     .print())
    env.execute("keyed_state")


if __name__ == "__main__":
    main()

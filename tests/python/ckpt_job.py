"""A checkpointed Python job for test_checkpoint.py: file source -> words -> key_by
-> reduce (a running count per word) -> file sink (part files); or, with
job 'window', file source of "key timestamp" lines -> timestamps and
watermarks -> key_by -> tumbling event-time windows of 100 ms (a
ProcessWindowFunction counting) -> file sink.
argv: input, output dir, checkpoint dir, slow (1: sleep per record so the
test can kill it mid-run), restore ('' or 'latest'), parallelism[, job]."""
import sys
import time

from sluice.common import Configuration, Encoder
from sluice.datastream import StreamExecutionEnvironment
from sluice.datastream.connectors.file_system import FileSink, FileSource, StreamFormat

inp, out, ckdir, slow, restore, p = sys.argv[1:7]
job = sys.argv[7] if len(sys.argv) > 7 else "count"
conf = Configuration()
conf.set_string("state.checkpoints.dir", ckdir)
if restore:
    conf.set_string("execution.savepoint.path", restore)  # PyFlink's key, an alias of sluice's
env = StreamExecutionEnvironment.get_execution_environment(conf)
env.set_parallelism(int(p))
env.enable_checkpointing(50)


def add(a, b):
    if slow == "1":  # the keyed side is the slow one: its worker finds records and a
        time.sleep(0.001)  # barrier waiting together, with a partial run held after it
    return (a[0], a[1] + b[1])


src = FileSource.for_record_stream_format(StreamFormat.text_line_format(), inp).build()
if job == "window":
    from sluice.common import Duration, Time, WatermarkStrategy
    from sluice.datastream import ProcessWindowFunction
    from sluice.datastream.window import TumblingEventTimeWindows

    class Count(ProcessWindowFunction):
        def process(self, key, context, elements):
            w = context.window()
            yield "%s %d %d %d" % (key, w.start, w.end, len(elements))

    def stamp(line, ts):
        if slow == "1":
            time.sleep(0.001)
        return int(line.split()[1])

    ws = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(20)).with_timestamp_assigner(stamp)
    (env.from_source(src, None, "events")
     .assign_timestamps_and_watermarks(ws)
     .key_by(lambda line: line.split()[0])
     .window(TumblingEventTimeWindows.of(Time.milliseconds(100)))
     .process(Count())
     .sink_to(FileSink.for_row_format(out, Encoder.simple_string_encoder()).build()))
    env.execute("py-ckpt-window")
    sys.exit(0)
(env.from_source(src, None, "words")
 .flat_map(lambda line: ((w, 1) for w in line.split()))
 .key_by(lambda t: t[0])
 .reduce(add)
 .map(lambda t: "%s %d" % t)
 .sink_to(FileSink.for_row_format(out, Encoder.simple_string_encoder()).build()))
env.execute("py-ckpt")

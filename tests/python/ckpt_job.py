"""A checkpointed Python job for test_checkpoint.py: file source -> words -> key_by
-> reduce (a running count per word) -> file sink (part files).
argv: input, output dir, checkpoint dir, slow (1: sleep per record so the
test can kill it mid-run), restore ('' or 'latest'), parallelism."""
import sys
import time

from sluice.common import Configuration, Encoder
from sluice.datastream import StreamExecutionEnvironment
from sluice.datastream.connectors.file_system import FileSink, FileSource, StreamFormat

inp, out, ckdir, slow, restore, p = sys.argv[1:7]
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
(env.from_source(src, None, "words")
 .flat_map(lambda line: ((w, 1) for w in line.split()))
 .key_by(lambda t: t[0])
 .reduce(add)
 .map(lambda t: "%s %d" % t)
 .sink_to(FileSink.for_row_format(out, Encoder.simple_string_encoder()).build()))
env.execute("py-ckpt")

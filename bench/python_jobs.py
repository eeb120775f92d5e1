"""The Python jobs of bench/python.sh: the same jobs as `sluice run upper`
and `sluice run wordcount`, written with sluice's Python API.
argv: map|reduce INPUT OUTPUT PARALLELISM; prints one summary line:
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
else:
    sys.exit("job: map or reduce")
result.add_sink(_TextFile(out))
r = env.execute("py-" + job)
secs = r.get_net_runtime() / 1000.0
print("python %s P=%s: %d records in, %.3f s, %.0f records/s"
      % (job, p, r.get_records_in(), secs, r.get_records_in() / max(secs, 1e-9)))

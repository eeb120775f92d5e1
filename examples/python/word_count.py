"""Word count with sluice's Python API (PyFlink's DataStream API; replace
`sluice` with `pyflink` in the imports and it runs on Flink too).

    PYTHONPATH=python SLUICE_LIBRARY=build/libsluice.so \\
        python3 examples/python/word_count.py --input data/input.txt [--output counts/]

Prints (or writes as part files to --output) a running count per word
occurrence, "(word,count)" as Flink prints a typed tuple; the last line of
each word holds its total (with env.set_runtime_mode(RuntimeExecutionMode.
BATCH) only the totals, as in Flink)."""
import argparse

from sluice.common import Encoder, Types
from sluice.datastream import FlatMapFunction, StreamExecutionEnvironment
from sluice.datastream.connectors.file_system import FileSink, FileSource, StreamFormat


class Tokenizer(FlatMapFunction):
    def flat_map(self, line):
        for word in line.lower().split():
            word = word.strip(".,;:!?\"'()")
            if word:
                yield word, 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--output")
    ap.add_argument("--parallelism", type=int, default=1)
    args = ap.parse_args()

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(args.parallelism)
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), args.input).build()
    counts = (env.from_source(source, None, "lines")
              .flat_map(Tokenizer(), output_type=Types.TUPLE([Types.STRING(), Types.INT()]))
              .key_by(lambda t: t[0])
              .sum(1))
    if args.output:
        counts.sink_to(FileSink.for_row_format(args.output, Encoder.simple_string_encoder()).build())
    else:
        counts.print()
    env.execute("word_count")


if __name__ == "__main__":
    main()

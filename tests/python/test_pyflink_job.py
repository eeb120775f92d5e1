"""A PyFlink job with only its imports changed (pyflink_word_count.py, PyFlink's
own word count example) runs on sluice: in BATCH mode one (word,count) line
per word as Flink prints a typed tuple, equal to Python's count of
line.split() words; from a file into a FileSink directory too."""
import collections
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import HERE, run_py, scratch  # noqa: E402

JOB = os.path.join(HERE, "pyflink_word_count.py")


def reference(lines):
    c = collections.Counter(w for line in lines for w in line.split())
    return sorted("(%s,%d)" % (w, n) for w, n in c.items())


class PyFlinkJobTest(unittest.TestCase):
    def test_default_data_to_stdout(self):
        sys.path.insert(0, HERE)
        import pyflink_word_count as job  # its data, for the reference
        r = run_py([JOB])
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.splitlines()
        self.assertEqual(out[:3], ["Executing word_count example with default input data set.",
                                   "Use --input to specify file input.",
                                   "Printing result to stdout. Use --output to specify output path."])
        self.assertEqual(sorted(out[3:]), reference(job.word_count_data))

    def test_file_to_file_sink(self):
        d = scratch("pyflink_wc")
        lines = ["a b a", "c a", "", "b  b"]
        with open(os.path.join(d, "in.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        r = run_py([JOB, "--input", "in.txt", "--output", "out"], cwd=d)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("part prefix 'prefix' and suffix '.ext' are not applied", r.stderr)
        got = []
        for name in os.listdir(os.path.join(d, "out")):
            with open(os.path.join(d, "out", name)) as f:
                got += f.read().splitlines()
        self.assertEqual(sorted(got), reference(lines))  # (a,3) (b,3) (c,1)
        self.assertEqual(sorted(got), ["(a,3)", "(b,3)", "(c,1)"])


if __name__ == "__main__":
    unittest.main()

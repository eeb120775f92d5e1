"""A checkpointed Python job (file source -> key_by -> reduce -> file sink)
SIGKILLed after its first complete checkpoint and restored: the committed
output holds every running count exactly once (the reference: counting
the words in Python), at P=1 and P=2.  The same for an event-time window
job (the windows' contents are in the engine's keyed state, the pending
windows' timers too): every window's count exactly once."""
import collections
import glob
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import HERE, child_env, run_py, scratch  # noqa: E402

JOB = os.path.join(HERE, "ckpt_job.py")


class CheckpointTest(unittest.TestCase):
    def crash_and_restore(self, p, job="count"):
        d = scratch("ckpt%d%s" % (p, job))
        if job == "window":
            # "key ts" lines, timestamps ascending up to 15 ms out of order (the
            # bound is 20: no record is late, so the output is the same
            # whatever the watermark's timing)
            lines = ["k%d %d" % (i % 7, i * 3 + (i * 5) % 16 - 15 if i > 5 else i) for i in range(3000)]
        else:
            # lines of 1..3 words: the records between two barriers downstream of
            # the flat_map are not a multiple of the source's batch, so the batch
            # operators hold a partial run when a barrier comes
            lines = [" ".join("w%d" % ((i * 7 + k) % 37) for k in range(i % 3 + 1)) for i in range(3000)]
        words = [w for line in lines for w in line.split()]
        inp = os.path.join(d, "in.txt")
        with open(inp, "w") as f:
            f.write("\n".join(lines) + "\n")
        out, ck = os.path.join(d, "out"), os.path.join(d, "ck")
        log = open(os.path.join(d, "run1.log"), "w")
        self.addCleanup(log.close)
        child = subprocess.Popen([sys.executable, JOB, inp, out, ck, "1", "", str(p), job], env=child_env(),
                                 stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.time() + 60
        while not glob.glob(os.path.join(ck, "chk-*", "_metadata")) and time.time() < deadline:
            if child.poll() is not None:
                break
            time.sleep(0.02)
        self.assertIsNone(child.poll(), "the job ended before a checkpoint (see %s)" % log.name)
        time.sleep(0.1)
        child.send_signal(signal.SIGKILL)
        child.wait()
        r = run_py([JOB, inp, out, ck, "0", "latest", str(p), job])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("restored", r.stderr)  # the engine's log line
        got = []
        for name in sorted(os.listdir(out)):
            if name.startswith("part-"):
                with open(os.path.join(out, name)) as f:
                    got += f.read().splitlines()
        if job == "window":
            wins = collections.Counter()
            for line in lines:
                k, ts = line.split()
                wins[(k, int(ts) // 100 * 100)] += 1
            want = ["%s %d %d %d" % (k, s, s + 100, n) for (k, s), n in wins.items()]
        else:
            counts = collections.Counter(words)
            want = ["%s %d" % (w, i) for w, n in counts.items() for i in range(1, n + 1)]
        self.assertEqual(sorted(got), sorted(want))

    def test_crash_restore_p1(self):
        self.crash_and_restore(1)

    def test_crash_restore_p2(self):
        self.crash_and_restore(2)

    def test_window_crash_restore_p1(self):
        self.crash_and_restore(1, "window")

    def test_window_crash_restore_p2(self):
        self.crash_and_restore(2, "window")


if __name__ == "__main__":
    unittest.main()

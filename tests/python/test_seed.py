"""The seed's example, examples/python/seed_example.py, run verbatim in a
directory with input.txt: output.txt holds every line upper-cased (the
reference: Python's str.upper per line)."""
import hashlib
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import SRC, run_py, scratch  # noqa: E402

SEED = os.path.join(SRC, "examples", "python", "seed_example.py")


class SeedTest(unittest.TestCase):
    def test_seed_example_verbatim(self):
        d = scratch("seed")
        lines = ["hello world", "Sluice streams", "", "ünïcode ß and ǆ", "MiXeD 123 !?",
                 "tab\there", "last line without newline"]
        with open(os.path.join(d, "input.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        shutil.copy(SEED, os.path.join(d, "seed_example.py"))
        r = run_py(["seed_example.py"], cwd=d)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(d, "output.txt"), encoding="utf-8") as f:
            self.assertEqual(f.read().split("\n")[:-1], [s.upper() for s in lines])
        self.assertFalse(os.path.exists(os.path.join(d, "output.txt.inprogress")))

    def test_seed_example_is_the_seeds(self):
        # the seed's file (../shared/examples/seed_example.py, when it is next
        # to the tree) and its SHA-256, taken from that file, so the check
        # also holds in a clone without it
        with open(SEED, "rb") as b:
            ours = b.read()
        self.assertEqual(hashlib.sha256(ours).hexdigest(),
                         "f507372f1e5235cb8be8871ffd959aedda1d735bdad9b0cff77e5363b133496e")
        seed = os.path.join(os.path.dirname(SRC), "shared", "examples", "seed_example.py")
        if os.path.exists(seed):
            with open(seed, "rb") as a:
                self.assertEqual(a.read(), ours)

    def test_missing_input_fails_clearly(self):
        d = scratch("seed_missing")
        shutil.copy(SEED, os.path.join(d, "seed_example.py"))
        r = run_py(["seed_example.py"], cwd=d)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("input.txt", r.stderr)


class WordCountExampleTest(unittest.TestCase):
    def test_word_count_example(self):
        import collections
        d = scratch("wordcount")
        text = "The cat and the hat.\nA cat, a HAT; the end!\n"
        with open(os.path.join(d, "in.txt"), "w") as f:
            f.write(text)
        for p in (1, 2):
            r = run_py([os.path.join(SRC, "examples", "python", "word_count.py"), "--input", "in.txt",
                        "--output", "out%d" % p, "--parallelism", str(p)], cwd=d)
            self.assertEqual(r.returncode, 0, r.stderr)
            final = {}
            for name in os.listdir(os.path.join(d, "out%d" % p)):
                with open(os.path.join(d, "out%d" % p, name)) as f:
                    for line in f:
                        w, c = line.strip()[1:-1].rsplit(",", 1)  # "(cat,2)": a typed tuple
                        final[w] = max(final.get(w, 0), int(c))
            words = [w.strip(".,;:!?\"'()") for w in text.lower().split()]
            self.assertEqual(final, dict(collections.Counter(words)))


class KeyedStateExampleTest(unittest.TestCase):
    def test_keyed_state_example(self):
        # by hand from PURCHASES: alice 10, 3, 40 (40 >= 13: alert); bob 5, 20
        # (20 >= 5: alert), 2; carol 7, 1
        want = sorted(["alert: bob spent 20 after 5 so far", "alert: alice spent 40 after 13 so far",
                       "total: alice 53", "total: bob 27", "total: carol 8"])
        for p in (1, 2):
            r = run_py([os.path.join(SRC, "examples", "python", "keyed_state.py"), "--parallelism", str(p)])
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = [line.split("> ", 1)[1] if p > 1 else line for line in r.stdout.splitlines()]
            self.assertEqual(sorted(lines), want)


class EventTimeWindowExampleTest(unittest.TestCase):
    def test_event_time_window_example(self):
        # by hand, in the example's comments: the watermark is max ts - 2001;
        # /home [0,10) fires at wm 9999 with ann,bob,cid, again with dan (wm
        # 10999) and eve (wm 13999), is cleaned at wm 14999; fay@2s is late
        want = ["/home [0s, 10s): 3 users ann,bob,cid", "/cart [0s, 10s): 1 users ann",
                "/home [0s, 10s): 4 users ann,bob,cid,dan", "/home [0s, 10s): 5 users ann,bob,cid,dan,eve",
                "/home [10s, 20s): 1 users ann", "/cart [10s, 20s): 2 users bob,cid", "late: fay /cart at 2s",
                "/home [20s, 30s): 3 users ann,bob,cid", "/cart [30s, 40s): 1 users dan"]
        r = run_py([os.path.join(SRC, "examples", "python", "event_time_window.py")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(r.stdout.splitlines()), sorted(want))
        # a window's firings come in order
        home0 = [line for line in r.stdout.splitlines() if line.startswith("/home [0s")]
        self.assertEqual(home0, want[0:1] + want[2:4])


if __name__ == "__main__":
    unittest.main()

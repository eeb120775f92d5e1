"""`pip install ./python` (offline: the in-tree backend needs no download)
makes a package that runs a job without SLUICE_LIBRARY and without the
source tree on PYTHONPATH."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import SRC, child_env, scratch  # noqa: E402


class InstallTest(unittest.TestCase):
    def test_pip_install_from_a_build_tree(self):
        if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode:
            self.skipTest("no pip for %s" % sys.executable)
        if not os.environ.get("SLUICE_LIBRARY"):
            self.skipTest("SLUICE_LIBRARY is not set")
        d = scratch("install")
        target = os.path.join(d, "site")
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps",
                            "--disable-pip-version-check", "--target", target, os.path.join(SRC, "python")],
                           capture_output=True, text=True, env=child_env(), timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        env = child_env(PYTHONPATH=target)
        env.pop("SLUICE_LIBRARY")
        with open(os.path.join(d, "input.txt"), "w") as f:
            f.write("abc\nxyz\n")
        with open(os.path.join(SRC, "examples", "python", "seed_example.py")) as f:
            seed = f.read()
        script = ("import sluice, sluice._sluice as m\n"
                  "assert m.__file__.startswith(%r), m.__file__\n" % target) + seed
        r = subprocess.run([sys.executable, "-c", script], cwd=d, env=env, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(d, "output.txt")) as f:
            self.assertEqual(f.read(), "ABC\nXYZ\n")


if __name__ == "__main__":
    unittest.main()

"""Helpers of the Python API tests: a scratch directory, and running a
script in a child interpreter (the same one, with the same PYTHONPATH and
SLUICE_LIBRARY)."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
# whether this build has the RocksDB backend (-DSLUICE_WITH_ROCKSDB)
WITH_ROCKSDB = os.environ.get("SL_WITH_ROCKSDB", "ON") == "ON"


def scratch(name):
    base = os.environ.get("SL_TEST_TMP") or tempfile.gettempdir()
    d = os.path.join(base, "py_" + name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def child_env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in
                                        env.get("PYTHONPATH", os.path.join(SRC, "python")).split(os.pathsep) if p)
    if env.get("SLUICE_LIBRARY"):
        env["SLUICE_LIBRARY"] = os.path.abspath(env["SLUICE_LIBRARY"])
    env.update(extra)
    return env


def run_py(args, cwd=None, timeout=120, env=None):
    return subprocess.run([sys.executable] + list(args), cwd=cwd, timeout=timeout,
                          capture_output=True, text=True, env=env or child_env())

"""sluice: PyFlink's DataStream API over libsluice.

A PyFlink DataStream job runs on sluice after replacing ``pyflink`` with
``sluice`` in its imports::

    from sluice.datastream import StreamExecutionEnvironment
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection(["a", "b"]).map(lambda s: s.upper()).print()
    env.execute("upper")

Records are Python objects serialised by a C codec (str, bytes, int, float,
bool, None, tuple, list, dict and Row natively, anything else with pickle);
keys hash the same in every subtask and every run.
"""
import pickle as _pickle

from sluice._native import native as _native
from sluice.common.types import Row as _Row

_native.setup(_Row, _pickle.dumps, _pickle.loads)

__version__ = _native.version()


class JobExecutionError(RuntimeError):
    """A job failed.  The message is the engine's error (operator, subtask,
    record); when a Python user function raised, its traceback follows and
    the exception is the __cause__."""

    def __init__(self, message, engine_error="", python_traceback=None):
        super().__init__(message)
        self.engine_error = engine_error
        self.python_traceback = python_traceback


__all__ = ["JobExecutionError"]

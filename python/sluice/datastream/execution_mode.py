"""RuntimeExecutionMode (PyFlink's pyflink.datastream.RuntimeExecutionMode):
execution.runtime-mode.  In BATCH mode every source must be bounded, and
(as in Flink) a keyed reduce emits one final record per key at the end of
the input instead of every rolling update."""
from enum import Enum


class RuntimeExecutionMode(Enum):
    STREAMING = 0
    BATCH = 1
    AUTOMATIC = 2

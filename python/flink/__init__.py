"""flink: the seed-compatibility shim.

The seed's example (examples/python/seed_example.py) imports
StreamExecutionEnvironment and Descriptor from a module named `flink`; this
module gives it sluice's StreamExecutionEnvironment and a Descriptor whose
``Descriptor.from_string(path).build()`` names a text file: as a source
(env.add_source) its lines, as a sink (add_sink) one file with str(record)
per line.  New code should import from sluice.datastream (PyFlink's layout).
"""
from sluice.datastream import StreamExecutionEnvironment
from sluice.datastream.connectors.file_system import _TextFile


class Descriptor(object):
    """Descriptor.from_string('input.txt').build(): a text file."""

    def __init__(self, path):
        self._path = path

    @staticmethod
    def from_string(path):
        if not isinstance(path, str) or not path:
            raise ValueError("Descriptor.from_string needs a file path, got %r" % (path,))
        return Descriptor(path)

    def build(self):
        return _TextFile(self._path)


__all__ = ["Descriptor", "StreamExecutionEnvironment"]

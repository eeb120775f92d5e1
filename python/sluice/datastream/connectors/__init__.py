"""Connectors (PyFlink's pyflink.datastream.connectors)."""
from sluice.datastream.connectors.file_system import (FileSink, FileSource, RollingPolicy,
                                                      StreamFormat)

__all__ = ["FileSink", "FileSource", "RollingPolicy", "StreamFormat"]

"""Connectors (PyFlink's pyflink.datastream.connectors)."""
from sluice.datastream.connectors.file_system import (FileSink, FileSource, OutputFileConfig,
                                                      RollingPolicy, StreamFormat)

__all__ = ["FileSink", "FileSource", "OutputFileConfig", "RollingPolicy", "StreamFormat"]

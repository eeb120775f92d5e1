"""FileSource and FileSink (PyFlink's pyflink.datastream.connectors.file_system)
over sluice's file connectors.

FileSource.for_record_stream_format(StreamFormat.text_line_format(), path...)
reads text lines (files, directories, glob patterns; split across subtasks).
FileSink.for_row_format(base_path, Encoder.simple_string_encoder()) writes
str(record) per line into part files part-<subtask>-<n> in base_path (a
directory, created if missing); with checkpoints on, part files become
visible when the checkpoint that covers them completes (exactly-once), as
Flink's FileSink.  The rolling policy maps to sink.rolling-policy.*."""
from sluice.common.serialization import Encoder


class _TextFile(object):
    """A text file named by path: as a source its lines, as a sink one file
    (written as PATH.inprogress, renamed when the job succeeds)."""

    def __init__(self, path):
        self.path = str(path)

    def __repr__(self):
        return "TextFile(%r)" % self.path


class StreamFormat(object):
    def __init__(self, kind):
        self._kind = kind

    @staticmethod
    def text_line_format(charset_name="UTF-8"):
        if charset_name.upper().replace("-", "") != "UTF8":
            raise ValueError("sluice reads UTF-8 text only, not %s" % charset_name)
        return StreamFormat("text_line")


class FileSource(object):
    def __init__(self, paths, monitor_ms):
        self._paths = list(paths)
        self._monitor_ms = monitor_ms

    class FileSourceBuilder(object):
        def __init__(self, paths):
            self._paths = paths
            self._monitor_ms = None

        def monitor_continuously(self, discovery_interval):
            self._monitor_ms = discovery_interval.to_milliseconds()
            return self

        def process_static_file_set(self):
            self._monitor_ms = None
            return self

        def build(self):
            return FileSource(self._paths, self._monitor_ms)

    @staticmethod
    def for_record_stream_format(stream_format, *paths):
        if not isinstance(stream_format, StreamFormat):
            raise TypeError("for_record_stream_format needs StreamFormat.text_line_format()")
        if not paths:
            raise ValueError("FileSource needs at least one path")
        return FileSource.FileSourceBuilder([str(p) for p in paths])


class RollingPolicy(object):
    def __init__(self, keys):
        self._keys = keys

    @staticmethod
    def default_rolling_policy(part_size=1024 * 1024 * 128, rollover_interval=60 * 1000,
                               inactivity_interval=60 * 1000):
        return RollingPolicy({"sink.rolling-policy.file-size": str(int(part_size)),
                              "sink.rolling-policy.rollover-interval": "%dms" % int(rollover_interval),
                              "sink.rolling-policy.inactivity-interval": "%dms" % int(inactivity_interval)})

    @staticmethod
    def on_checkpoint_rolling_policy():
        return RollingPolicy({})


class OutputFileConfig(object):
    """Part file names.  sluice's file sink names them part-<subtask>-<n>
    (Flink's default prefix "part" and no suffix); another prefix or suffix
    is not applied, with a warning."""

    def __init__(self, part_prefix="part", part_suffix=""):
        self._prefix = part_prefix
        self._suffix = part_suffix

    def get_part_prefix(self):
        return self._prefix

    def get_part_suffix(self):
        return self._suffix

    class OutputFileConfigBuilder(object):
        def __init__(self):
            self._prefix, self._suffix = "part", ""

        def with_part_prefix(self, prefix):
            self._prefix = prefix
            return self

        def with_part_suffix(self, suffix):
            self._suffix = suffix
            return self

        def build(self):
            return OutputFileConfig(self._prefix, self._suffix)

    @staticmethod
    def builder():
        return OutputFileConfig.OutputFileConfigBuilder()


class FileSink(object):
    def __init__(self, path, rolling):
        self._path = path if path.endswith("/") else path + "/"
        self._rolling = rolling

    def _apply(self, env):
        if self._rolling is not None:
            for k, v in self._rolling._keys.items():
                env._set(k, v)

    class RowFormatBuilder(object):
        def __init__(self, path, encoder):
            self._path = path
            self._encoder = encoder
            self._rolling = None

        def with_rolling_policy(self, policy):
            self._rolling = policy
            return self

        def with_output_file_config(self, output_file_config):
            if (output_file_config.get_part_prefix(), output_file_config.get_part_suffix()) != ("part", ""):
                import warnings
                warnings.warn("sluice's FileSink names part files part-<subtask>-<n>: the part prefix "
                              "%r and suffix %r are not applied" % (output_file_config.get_part_prefix(),
                                                                     output_file_config.get_part_suffix()))
            return self

        def with_bucket_check_interval(self, interval):
            return self

        def build(self):
            return FileSink(self._path, self._rolling)

    @staticmethod
    def for_row_format(base_path, encoder):
        if not isinstance(encoder, Encoder):
            raise TypeError("for_row_format needs an Encoder (Encoder.simple_string_encoder())")
        p = str(base_path)
        if p.startswith("file://"):
            p = p[len("file://"):]
        return FileSink.RowFormatBuilder(p, encoder)

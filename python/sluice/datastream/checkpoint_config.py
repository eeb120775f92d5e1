"""CheckpointConfig and CheckpointingMode (PyFlink's names), over sluice's
execution.checkpointing.* and state.checkpoints.* keys."""
from enum import Enum


class CheckpointingMode(Enum):
    EXACTLY_ONCE = 0
    AT_LEAST_ONCE = 1


class CheckpointConfig(object):
    def __init__(self, conf):
        self._conf = conf  # the environment's Configuration

    def is_checkpointing_enabled(self):
        return self.get_checkpoint_interval() > 0

    def get_checkpoint_interval(self):
        v = self._conf.get_string("execution.checkpointing.interval")
        return _ms(v) if v else -1

    def set_checkpoint_interval(self, checkpoint_interval):
        self._conf.set_string("execution.checkpointing.interval", "%dms" % int(checkpoint_interval))
        return self

    def get_checkpointing_mode(self):
        return CheckpointingMode.EXACTLY_ONCE

    def set_checkpointing_mode(self, mode):
        if mode != CheckpointingMode.EXACTLY_ONCE:
            raise ValueError("sluice checkpoints are exactly-once (aligned barriers)")
        return self

    def set_checkpoint_timeout(self, checkpoint_timeout):
        self._conf.set_string("execution.checkpointing.timeout", "%dms" % int(checkpoint_timeout))
        return self

    def set_min_pause_between_checkpoints(self, min_pause_between_checkpoints):
        self._conf.set_string("execution.checkpointing.min-pause", "%dms" % int(min_pause_between_checkpoints))
        return self

    def set_max_concurrent_checkpoints(self, max_concurrent_checkpoints):
        self._conf.set_string("execution.checkpointing.max-concurrent-checkpoints",
                              str(int(max_concurrent_checkpoints)))
        return self

    def set_checkpoint_storage_dir(self, checkpoint_path):
        path = checkpoint_path[len("file://"):] if checkpoint_path.startswith("file://") else checkpoint_path
        self._conf.set_string("state.checkpoints.dir", path)
        return self

    def get_checkpoint_storage_dir(self):
        return self._conf.get_string("state.checkpoints.dir")


def _ms(v):
    v = v.strip()
    for suf, mul in (("ms", 1), ("min", 60000), ("s", 1000), ("m", 60000), ("h", 3600000)):
        if v.endswith(suf) and v[:-len(suf)].strip().isdigit():
            return int(v[:-len(suf)]) * mul
    return int(v)

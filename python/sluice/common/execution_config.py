"""ExecutionConfig (PyFlink's pyflink.common.ExecutionConfig, env.get_config()):
a view of the environment's configuration keys."""


class ExecutionConfig(object):
    def __init__(self, env):
        self._env = env

    def set_auto_watermark_interval(self, interval):
        self._env._set("pipeline.auto-watermark-interval", "%dms" % int(interval))
        return self

    def get_auto_watermark_interval(self):
        v = self._env._conf.get_string("pipeline.auto-watermark-interval")
        from sluice.datastream.checkpoint_config import _ms
        return _ms(v) if v else 200

    def set_parallelism(self, parallelism):
        self._env.set_parallelism(parallelism)
        return self

    def get_parallelism(self):
        return self._env.get_parallelism()

    def set_max_parallelism(self, max_parallelism):
        self._env.set_max_parallelism(max_parallelism)
        return self

    def get_max_parallelism(self):
        return self._env.get_max_parallelism()

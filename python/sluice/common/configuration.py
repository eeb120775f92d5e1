"""Configuration by Flink's string keys (PyFlink's pyflink.common.Configuration).
The keys are sluice's (`sluice conf --list`); an unknown key or a bad value
fails when the environment takes the configuration, naming the key."""


class Configuration(object):
    def __init__(self, other=None):
        self._d = dict(other._d) if other is not None else {}

    def set_string(self, key, value):
        self._d[key] = str(value)
        return self

    def get_string(self, key, default_value=None):
        return self._d.get(key, default_value)

    def set_integer(self, key, value):
        self._d[key] = str(int(value))
        return self

    def get_integer(self, key, default_value=None):
        v = self._d.get(key)
        return default_value if v is None else int(v)

    def set_boolean(self, key, value):
        self._d[key] = "true" if value else "false"
        return self

    def get_boolean(self, key, default_value=None):
        v = self._d.get(key)
        return default_value if v is None else v.lower() == "true"

    def set_float(self, key, value):
        self._d[key] = repr(float(value))
        return self

    def contains_key(self, key):
        return key in self._d

    def remove_config(self, key):
        return self._d.pop(key, None) is not None

    def key_set(self):
        return set(self._d)

    def add_all(self, other, prefix=None):
        for k, v in other._d.items():
            self._d[(prefix or "") + k] = v
        return self

    def to_dict(self):
        return dict(self._d)

    def __eq__(self, other):
        return isinstance(other, Configuration) and self._d == other._d

    def __repr__(self):
        return "Configuration(%r)" % self._d

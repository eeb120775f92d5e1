"""State backends (PyFlink's names): state.backend.type = hashmap | rocksdb."""


class StateBackend(object):
    _type = None


class HashMapStateBackend(StateBackend):
    _type = "hashmap"


class EmbeddedRocksDBStateBackend(StateBackend):
    _type = "rocksdb"

    def __init__(self, enable_incremental_checkpointing=None):
        self._incremental = enable_incremental_checkpointing

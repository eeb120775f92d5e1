"""State descriptors and handles (PyFlink's pyflink.datastream.state).

Values are serialised with the record codec and kept in the engine's keyed
state backend (heap or RocksDB), so they are in checkpoints and savepoints
and restore at any parallelism:
  ValueState      the engine's value state
  ListState       the engine's list state (add appends without a read)
  MapState        the engine's map state (one entry per user key, keys
                  encoded canonically as record keys are)
  ReducingState   the reduced value in a value state (Python values have
  AggregatingState  no fixed size); add() reads, combines, writes back
StateTtlConfig maps onto the engine's time-to-live (processing time,
expired values never returned, per element for lists, per entry for maps).
"""
from sluice._native import native as _native
from sluice.common.typeinfo import check_type_info


class StateTtlConfig(object):
    class UpdateType(object):
        Disabled = 0
        OnCreateAndWrite = 1
        OnReadAndWrite = 2

    class StateVisibility(object):
        ReturnExpiredIfNotCleanedUp = 0
        NeverReturnExpired = 1

    class TtlTimeCharacteristic(object):
        ProcessingTime = 0

    def __init__(self, ttl_ms, update_type, visibility):
        self._ttl_ms = ttl_ms
        self._update_type = (_native.TTL_ON_READ_AND_WRITE if update_type == StateTtlConfig.UpdateType.OnReadAndWrite
                             else _native.TTL_ON_CREATE_AND_WRITE)
        self._update = update_type
        self._visibility = visibility

    @staticmethod
    def new_builder(ttl):
        return StateTtlConfig.Builder(ttl)

    def get_ttl(self):
        from sluice.common.time import Time
        return Time.milliseconds(self._ttl_ms)

    def get_update_type(self):
        return self._update

    def get_state_visibility(self):
        return self._visibility

    def is_enabled(self):
        return self._update != StateTtlConfig.UpdateType.Disabled

    class Builder(object):
        def __init__(self, ttl):
            ms = ttl.to_milliseconds() if hasattr(ttl, "to_milliseconds") else int(ttl)
            if ms <= 0:
                raise ValueError("a state's time-to-live must be > 0 ms")
            self._ttl = ms
            self._update = StateTtlConfig.UpdateType.OnCreateAndWrite
            self._visibility = StateTtlConfig.StateVisibility.NeverReturnExpired

        def set_update_type(self, update_type):
            self._update = update_type
            return self

        def update_ttl_on_create_and_write(self):
            return self.set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)

        def update_ttl_on_read_and_write(self):
            return self.set_update_type(StateTtlConfig.UpdateType.OnReadAndWrite)

        def set_state_visibility(self, visibility):
            if visibility != StateTtlConfig.StateVisibility.NeverReturnExpired:
                raise ValueError("sluice never returns expired state (NeverReturnExpired only)")
            self._visibility = visibility
            return self

        def never_return_expired(self):
            return self

        def set_ttl_time_characteristic(self, c):
            return self

        def use_processing_time(self):
            return self

        def set_ttl(self, ttl):
            self._ttl = ttl.to_milliseconds() if hasattr(ttl, "to_milliseconds") else int(ttl)
            return self

        def cleanup_full_snapshot(self):
            return self

        def cleanup_incrementally(self, *a):
            return self

        def cleanup_in_rocksdb_compact_filter(self, *a):
            return self

        def disable_cleanup_in_background(self):
            return self

        def build(self):
            return StateTtlConfig(self._ttl, self._update, self._visibility)


class StateDescriptor(object):
    def __init__(self, name, type_info=None):
        if not isinstance(name, str) or not name:
            raise ValueError("a state descriptor needs a non-empty name")
        self._name = name
        self._type_info = check_type_info(type_info, "a state's type_info")
        self._ttl_config = None

    def get_name(self):
        return self._name

    def get_type_info(self):
        return self._type_info

    def enable_time_to_live(self, ttl_config):
        if not isinstance(ttl_config, StateTtlConfig):
            raise TypeError("enable_time_to_live needs a StateTtlConfig, got %r" % (ttl_config,))
        self._ttl_config = ttl_config if ttl_config.is_enabled() else None


class ValueStateDescriptor(StateDescriptor):
    def __init__(self, name, value_type_info=None):
        super().__init__(name, value_type_info)


class ListStateDescriptor(StateDescriptor):
    def __init__(self, name, elem_type_info=None):
        super().__init__(name, elem_type_info)


class MapStateDescriptor(StateDescriptor):
    def __init__(self, name, key_type_info=None, value_type_info=None):
        super().__init__(name, value_type_info)
        check_type_info(key_type_info, "a map state's key_type_info")


class ReducingStateDescriptor(StateDescriptor):
    def __init__(self, name, reduce_function, type_info=None):
        super().__init__(name, type_info)
        from sluice.datastream.functions import ReduceFunction
        if isinstance(reduce_function, ReduceFunction):
            reduce_function = reduce_function.reduce
        if not callable(reduce_function):
            raise TypeError("ReducingStateDescriptor needs a ReduceFunction or a callable")
        self._reduce = reduce_function


class AggregatingStateDescriptor(StateDescriptor):
    def __init__(self, name, agg_function, state_type_info=None):
        super().__init__(name, state_type_info)
        from sluice.datastream.functions import AggregateFunction
        if not isinstance(agg_function, AggregateFunction):
            raise TypeError("AggregatingStateDescriptor needs an AggregateFunction, got %r" % (agg_function,))
        self._agg = agg_function

    def get_agg_function(self):
        return self._agg


class State(object):
    def clear(self):
        raise NotImplementedError


class ValueState(State):
    """The current key's value (None when there is none)."""

    def __init__(self, native_state):
        self._s = native_state

    def value(self):
        return self._s.value()

    def update(self, value):
        self._s.update(value)

    def clear(self):
        self._s.clear()


class ListState(State):
    """The current key's list (get() is [] when empty; PyFlink's is an
    iterable too)."""

    def __init__(self, native_state):
        self._s = native_state

    def get(self):
        return self._s.get()

    def add(self, value):
        self._s.add(value)

    def add_all(self, values):
        for v in values:
            self._s.add(v)

    def update(self, values):
        self._s.update(list(values))

    def clear(self):
        self._s.clear()


class MapState(State):
    """The current key's map of user keys to values."""

    def __init__(self, native_state):
        self._s = native_state

    def get(self, key):
        return self._s.get(key)

    def put(self, key, value):
        self._s.put(key, value)

    def put_all(self, dict_value):
        for k, v in dict_value.items():
            self._s.put(k, v)

    def remove(self, key):
        self._s.remove(key)

    def contains(self, key):
        return self._s.get(key) is not None

    def items(self):
        return iter(self._s.items())

    def keys(self):
        return iter([k for k, _ in self._s.items()])

    def values(self):
        return iter([v for _, v in self._s.items()])

    def is_empty(self):
        return not self._s.items()

    def clear(self):
        self._s.clear()

    def __getitem__(self, key):
        v = self._s.get(key)
        if v is None:
            raise KeyError(key)
        return v

    def __setitem__(self, key, value):
        self._s.put(key, value)

    def __delitem__(self, key):
        self._s.remove(key)

    def __contains__(self, key):
        return self.contains(key)

    def __iter__(self):
        return self.keys()


class ReducingState(State):
    def __init__(self, native_value, reduce):
        self._s = native_value
        self._reduce = reduce

    def get(self):
        return self._s.value()

    def add(self, value):
        cur = self._s.value()
        self._s.update(value if cur is None else self._reduce(cur, value))

    def clear(self):
        self._s.clear()


class AggregatingState(State):
    def __init__(self, native_value, agg):
        self._s = native_value
        self._agg = agg

    def get(self):
        acc = self._s.value()
        return None if acc is None else self._agg.get_result(acc)

    def add(self, value):
        acc = self._s.value()
        if acc is None:
            acc = self._agg.create_accumulator()
        self._s.update(self._agg.add(value, acc))

    def clear(self):
        self._s.clear()

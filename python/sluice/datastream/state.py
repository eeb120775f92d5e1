"""State descriptors and handles (PyFlink's pyflink.datastream.state).  This
slice has ValueState; the values are serialised with the record codec and
kept in the engine's state backend (heap or RocksDB)."""
from sluice.common.typeinfo import check_type_info


class StateDescriptor(object):
    def __init__(self, name, type_info=None):
        if not isinstance(name, str) or not name:
            raise ValueError("a state descriptor needs a non-empty name")
        self._name = name
        self._type_info = check_type_info(type_info, "a state's type_info")

    def get_name(self):
        return self._name

    def get_type_info(self):
        return self._type_info


class ValueStateDescriptor(StateDescriptor):
    def __init__(self, name, value_type_info=None):
        super().__init__(name, value_type_info)


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

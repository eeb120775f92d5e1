"""Row and RowKind (PyFlink's pyflink.common.types)."""
from enum import Enum


class RowKind(Enum):
    INSERT = 0
    UPDATE_BEFORE = 1
    UPDATE_AFTER = 2
    DELETE = 3

    def short_string(self):
        return ("+I", "-U", "+U", "-D")[self.value]


_KINDS = (RowKind.INSERT, RowKind.UPDATE_BEFORE, RowKind.UPDATE_AFTER, RowKind.DELETE)


class Row(object):
    """A row of values, optionally with field names: Row(1, "a") or
    Row(id=1, name="a"); Row("id", "name") is also a factory of named rows:
    Row("id", "name")(1, "a")."""

    __slots__ = ("_fields", "_values", "_row_kind")

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("Can not use both args and kwargs to create Row")
        if kwargs:
            self._fields = tuple(kwargs.keys())
            self._values = list(kwargs.values())
        else:
            self._fields = None
            self._values = list(args)
        self._row_kind = RowKind.INSERT

    @classmethod
    def _from_codec(cls, fields, values, kind=0):
        r = cls.__new__(cls)
        r._fields = fields if fields is None else tuple(fields)
        r._values = values
        r._row_kind = _KINDS[kind]
        return r

    def __call__(self, *args):
        """A Row named like this one's values (Row("a", "b")(1, 2))."""
        if len(args) > len(self._values):
            raise ValueError("Can not create Row with fields %s, expected %d values "
                             "but got %s" % (self, len(self._values), args))
        return Row._from_codec(tuple(self._values), list(args))

    def as_dict(self, recursive=False):
        if self._fields is None:
            raise TypeError("Cannot convert a Row without field names into a dict")

        def conv(v):
            if recursive and isinstance(v, Row):
                return v.as_dict(True)
            if recursive and isinstance(v, list):
                return [conv(x) for x in v]
            if recursive and isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            return v
        return dict(zip(self._fields, (conv(v) for v in self._values)))

    def get_row_kind(self):
        return self._row_kind

    def set_row_kind(self, row_kind):
        self._row_kind = row_kind

    def set_field_names(self, field_names):
        self._fields = tuple(field_names)

    def get_fields_by_names(self, names):
        if self._fields is None:
            raise TypeError("Row has no field names")
        return [self._values[self._fields.index(n)] for n in names]

    def _index(self, item):
        if isinstance(item, str):
            if self._fields is None or item not in self._fields:
                raise KeyError(item)
            return self._fields.index(item)
        return item

    def __getitem__(self, item):
        if isinstance(item, (int, slice)):
            return self._values[item]
        return self._values[self._index(item)]

    def __setitem__(self, key, value):
        self._values[self._index(key)] = value

    def __getattr__(self, item):
        if item.startswith("_"):
            raise AttributeError(item)
        fields = object.__getattribute__(self, "_fields")
        if fields is not None and item in fields:
            return self._values[fields.index(item)]
        raise AttributeError(item)

    def __setattr__(self, key, value):
        if key in Row.__slots__:
            object.__setattr__(self, key, value)
        elif self._fields is not None and key in self._fields:
            self._values[self._fields.index(key)] = value
        else:
            raise AttributeError("Row has no field %r" % key)

    def __len__(self):
        return len(self._values)

    def __iter__(self):
        return iter(self._values)

    def __eq__(self, other):
        if not isinstance(other, Row):
            return False
        return (self._fields == other._fields and self._values == other._values
                and self._row_kind == other._row_kind)

    def __hash__(self):
        return hash((self._fields, tuple(self._values)))

    def __reduce__(self):
        return (Row._from_codec, (self._fields, self._values, self._row_kind.value))

    def __repr__(self):
        if self._fields is not None:
            return "Row(%s)" % ", ".join("%s=%r" % (k, v) for k, v in zip(self._fields, self._values))
        return "Row(%s)" % ", ".join(repr(v) for v in self._values)

    def __str__(self):
        # what Flink's Row.toString prints (the text of sinks)
        return "%s[%s]" % (self._row_kind.short_string(), ", ".join(str(v) for v in self._values))

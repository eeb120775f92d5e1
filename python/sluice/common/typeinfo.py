"""Types: type hints for output_type / type_info (PyFlink's
pyflink.common.typeinfo).  Every record travels in the codec's tagged form;
a hint is checked to be a type and kept on the stream (the hook for tighter
encodings), and Types.STRING() etc. name what a function returns."""


class TypeInformation(object):
    def __init__(self, name, args=()):
        self._name = name
        self._args = tuple(args)

    def __eq__(self, other):
        return isinstance(other, TypeInformation) and (self._name, self._args) == (other._name, other._args)

    def __hash__(self):
        return hash((self._name, self._args))

    def __repr__(self):
        if self._args:
            return "%s(%s)" % (self._name, ", ".join(repr(a) for a in self._args))
        return self._name

    __str__ = __repr__


class RowTypeInfo(TypeInformation):
    def __init__(self, field_types, field_names=None):
        super().__init__("ROW", (tuple(field_types), tuple(field_names or ())))
        self._field_types = list(field_types)
        self._field_names = list(field_names) if field_names else ["f%d" % i for i in range(len(field_types))]

    def get_field_names(self):
        return list(self._field_names)

    def get_field_types(self):
        return list(self._field_types)

    def get_field_index(self, name):
        return self._field_names.index(name)


class TupleTypeInfo(TypeInformation):
    def __init__(self, field_types):
        super().__init__("TUPLE", (tuple(field_types),))
        self._field_types = list(field_types)

    def get_field_types(self):
        return list(self._field_types)


def _check(t, what):
    if not isinstance(t, TypeInformation):
        raise TypeError("%s must be a type from sluice.common.Types (Types.STRING(), "
                        "Types.TUPLE([...]) ...), got %r of type %s" % (what, t, type(t).__name__))
    return t


class Types(object):
    @staticmethod
    def STRING(): return TypeInformation("STRING")

    @staticmethod
    def BYTE(): return TypeInformation("BYTE")

    @staticmethod
    def BOOLEAN(): return TypeInformation("BOOLEAN")

    @staticmethod
    def SHORT(): return TypeInformation("SHORT")

    @staticmethod
    def INT(): return TypeInformation("INT")

    @staticmethod
    def LONG(): return TypeInformation("LONG")

    @staticmethod
    def FLOAT(): return TypeInformation("FLOAT")

    @staticmethod
    def DOUBLE(): return TypeInformation("DOUBLE")

    @staticmethod
    def CHAR(): return TypeInformation("CHAR")

    @staticmethod
    def BIG_INT(): return TypeInformation("BIG_INT")

    @staticmethod
    def BIG_DEC(): return TypeInformation("BIG_DEC")

    @staticmethod
    def SQL_DATE(): return TypeInformation("SQL_DATE")

    @staticmethod
    def SQL_TIME(): return TypeInformation("SQL_TIME")

    @staticmethod
    def SQL_TIMESTAMP(): return TypeInformation("SQL_TIMESTAMP")

    @staticmethod
    def INSTANT(): return TypeInformation("INSTANT")

    @staticmethod
    def PICKLED_BYTE_ARRAY(): return TypeInformation("PICKLED_BYTE_ARRAY")

    @staticmethod
    def PRIMITIVE_ARRAY(element_type):
        return TypeInformation("PRIMITIVE_ARRAY", (_check(element_type, "element_type"),))

    @staticmethod
    def BASIC_ARRAY(element_type):
        return TypeInformation("BASIC_ARRAY", (_check(element_type, "element_type"),))

    @staticmethod
    def OBJECT_ARRAY(element_type):
        return TypeInformation("OBJECT_ARRAY", (_check(element_type, "element_type"),))

    @staticmethod
    def LIST(element_type):
        return TypeInformation("LIST", (_check(element_type, "element_type"),))

    @staticmethod
    def MAP(key_type, value_type):
        return TypeInformation("MAP", (_check(key_type, "key_type"), _check(value_type, "value_type")))

    @staticmethod
    def TUPLE(types):
        return TupleTypeInfo([_check(t, "a TUPLE field type") for t in types])

    @staticmethod
    def ROW(types):
        return RowTypeInfo([_check(t, "a ROW field type") for t in types])

    @staticmethod
    def ROW_NAMED(names, types):
        if len(names) != len(types):
            raise ValueError("ROW_NAMED: %d names for %d types" % (len(names), len(types)))
        return RowTypeInfo([_check(t, "a ROW field type") for t in types], names)


def check_type_info(t, what="output_type"):
    """None, or a TypeInformation (else TypeError naming what was given)."""
    return None if t is None else _check(t, what)

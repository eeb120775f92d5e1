"""Encoder (PyFlink's pyflink.common.serialization): how a file sink writes
a record."""


class Encoder(object):
    def __init__(self, kind, charset="UTF-8"):
        self._kind = kind
        self._charset = charset

    @staticmethod
    def simple_string_encoder(charset_name="UTF-8"):
        """str(record) and a newline per record."""
        if charset_name.upper().replace("-", "") != "UTF8":
            raise ValueError("sluice writes UTF-8 only, not %s" % charset_name)
        return Encoder("simple_string", charset_name)


class SimpleStringSchema(object):
    def __init__(self, charset="UTF-8"):
        self._charset = charset

"""The record codec: exact bytes of the canonical forms (worked out by hand
from the format in python/src/codec.h), round trips, pickle fallback and
the errors for values and keys that cannot be encoded."""
import math
import pickle
import threading
import unittest

import sluice  # noqa: F401 -- sets the codec up
from sluice._native import native
from sluice.common import Row
from sluice.common.types import RowKind


class Point(object):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, o):
        return isinstance(o, Point) and (o.x, o.y) == (self.x, self.y)


class MyStr(str):
    pass


class CodecTest(unittest.TestCase):
    def test_exact_bytes(self):
        self.assertEqual(native.encode(None), b"\x00")
        self.assertEqual(native.encode(False), b"\x01")
        self.assertEqual(native.encode(True), b"\x02")
        self.assertEqual(native.encode(1), b"\x03\x01\x00\x00\x00\x00\x00\x00\x00")
        self.assertEqual(native.encode(-2), b"\x03\xfe\xff\xff\xff\xff\xff\xff\xff")
        # 2**63 needs 65 bits with the sign: 9 bytes, little-endian
        self.assertEqual(native.encode(2 ** 63), b"\x04\x09" + b"\x00" * 7 + b"\x80\x00")
        self.assertEqual(native.encode(1.5), b"\x05\x00\x00\x00\x00\x00\x00\xf8\x3f")
        self.assertEqual(native.encode("ab"), b"\x06\x02ab")
        self.assertEqual(native.encode("é"), b"\x06\x02\xc3\xa9")
        self.assertEqual(native.encode(b"\x00\xff"), b"\x07\x02\x00\xff")
        self.assertEqual(native.encode(("a", None)), b"\x08\x02\x06\x01a\x00")
        self.assertEqual(native.encode([True]), b"\x09\x01\x02")
        self.assertEqual(native.encode({"k": False}), b"\x0a\x01\x06\x01k\x01")
        self.assertEqual(native.encode(Row(1 == 1)), b"\x0b\x01\x00\x02")
        self.assertEqual(native.encode(Row(a=None)), b"\x0b\x01\x01\x01a\x00")
        self.assertEqual(native.encode("x" * 200)[:3], b"\x06\xc8\x01")  # varint 200

    def test_round_trips(self):
        values = [None, True, False, 0, -1, 2 ** 62, -(2 ** 63), 2 ** 64, -(2 ** 200) + 7,
                  0.0, -2.5, math.inf, "", "ünï", b"", b"\x00bytes", (), (1, "a", (2.0, None)),
                  [1, [2, [3]]], {"a": 1, 2: [3]}, Row(1, "x"), Row(name="n", age=3),
                  Row(inner=Row(1, 2), l=[Row(a=1)]), Point(1, 2), MyStr("s"),
                  {"p": Point(3, 4)}, frozenset([1, 2])]
        for v in values:
            got = native.decode(native.encode(v))
            self.assertEqual(got, v, v)
            self.assertIs(type(got), type(v), v)
        nan = native.decode(native.encode(math.nan))
        self.assertTrue(math.isnan(nan))

    def test_row_keeps_names(self):
        r = native.decode(native.encode(Row(id=1, name="a")))
        self.assertEqual(r.id, 1)
        self.assertEqual(r["name"], "a")
        self.assertEqual(r.as_dict(), {"id": 1, "name": "a"})
        self.assertEqual(repr(r), "Row(id=1, name='a')")

    def test_row_keeps_its_kind(self):
        # the kind rides in the flag byte after the size: named | kind << 1
        # (INSERT is 0: the bytes of an INSERT row are as before)
        r = Row(a=None)
        r.set_row_kind(RowKind.DELETE)
        self.assertEqual(native.encode(r), b"\x0b\x01\x07\x01a\x00")
        r = Row(1 == 1)
        r.set_row_kind(RowKind.UPDATE_BEFORE)
        self.assertEqual(native.encode(r), b"\x0b\x01\x02\x02")
        for kind in RowKind:
            r = Row(id=1, s="x")
            r.set_row_kind(kind)
            for got in (native.decode(native.encode(r)), pickle.loads(pickle.dumps(r))):
                self.assertEqual(got.get_row_kind(), kind)
                self.assertEqual(got, r)
        # a key is the row's values: -U and +U of one row have one key
        a, b = Row(1, "k"), Row(1, "k")
        a.set_row_kind(RowKind.UPDATE_BEFORE)
        b.set_row_kind(RowKind.UPDATE_AFTER)
        self.assertEqual(native.encode_key(a), native.encode_key(b))

    def test_subclasses_are_pickled(self):
        b = native.encode(MyStr("s"))
        self.assertEqual(b[0], 12)  # pickle tag
        self.assertEqual(pickle.loads(b[2:]), "s")

    def test_unpicklable_value(self):
        with self.assertRaises(TypeError) as cm:
            native.encode({"lock": threading.Lock()})
        self.assertIn("a value of type _thread.lock cannot be serialised", str(cm.exception))
        self.assertIn("cannot pickle", str(cm.exception))

    def test_keys_are_canonical(self):
        self.assertEqual(native.encode_key("ab"), b"\x06\x02ab")
        self.assertEqual(native.encode_key((1, "a")), native.encode((1, "a")))
        self.assertEqual(native.encode_key(-0.0), native.encode_key(0.0))
        self.assertEqual(native.encode_key(float("nan")), native.encode_key(-float("nan")))
        # the same key from two separate encodings (no salted hash anywhere)
        self.assertEqual(native.encode_key(("k", 2 ** 70)), native.encode_key(("k", 2 ** 70)))

    def test_keys_are_the_same_in_every_process(self):
        import os
        import subprocess
        import sys
        code = ("import sluice; from sluice._sluice import encode_key; "
                "print(encode_key(('k', 1, 2.5, None, b'b', True, 2 ** 80)).hex())")
        outs = set()
        for seed in ("1", "2", "random"):
            env = dict(os.environ, PYTHONHASHSEED=seed)
            outs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                    check=True).stdout)
        self.assertEqual(len(outs), 1)

    def test_bad_keys(self):
        for k in ([1], {"a": 1}, Point(1, 2), frozenset([1]), (1, [2])):
            with self.assertRaises(TypeError) as cm:
                native.encode_key(k)
            self.assertIn("cannot be part of a key", str(cm.exception))

    def test_malformed(self):
        for b in (b"", b"\x03\x01", b"\x06\x05ab", b"\x63", b"\x00\x00", b"\x08\xff\xff\xff\xff\x0f"):
            with self.assertRaises(ValueError):
                native.decode(b)

    def test_deep_nesting_raises(self):
        v = []
        for _ in range(100000):
            v = [v]
        with self.assertRaises(RecursionError):
            native.encode(v)


if __name__ == "__main__":
    unittest.main()

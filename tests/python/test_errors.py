"""Errors: a Python exception fails the job with the traceback, the
operator, the subtask and the record; values that cannot be serialised,
keys that cannot be keys and bad type hints say so."""
import threading
import unittest

from sluice import JobExecutionError
from sluice.common import Types
from sluice.datastream import MapFunction, StreamExecutionEnvironment


def boom(x):
    if x == "bad":
        return 1 // 0
    return x


class Exploding(MapFunction):
    def map(self, value):
        return self.helper(value)

    def helper(self, value):
        raise KeyError("no such thing: %s" % value)


class ErrorsTest(unittest.TestCase):
    def env(self, p=1):
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(p)
        return env

    def test_exception_has_traceback_operator_subtask_record(self):
        for p in (1, 2):
            env = self.env(p)
            env.from_collection(["ok", "bad", "ok2"]).map(boom).name("divider").add_sink(lambda v: None)
            with self.assertRaises(JobExecutionError) as cm:
                env.execute("failing")
            msg = str(cm.exception)
            self.assertIn("job 'failing' failed", msg)
            self.assertIn("operator 'divider' (subtask", msg)
            self.assertIn("/%d)" % p, msg)
            self.assertIn("ZeroDivisionError: integer division or modulo by zero", msg)
            self.assertIn("on record 'bad'", msg)
            self.assertIn("Traceback (most recent call last)", msg)
            self.assertIn("in boom", msg)
            self.assertIn("return 1 // 0", msg)
            self.assertIsInstance(cm.exception.__cause__, ZeroDivisionError)
            self.assertIn("in boom", cm.exception.python_traceback)

    def test_exception_in_a_method_of_a_function_class(self):
        env = self.env()
        env.from_collection([("x", 1)]).map(Exploding()).add_sink(lambda v: None)
        with self.assertRaises(JobExecutionError) as cm:
            env.execute()
        msg = str(cm.exception)
        self.assertIn("KeyError", msg)
        self.assertIn("in helper", msg)
        self.assertIn("on record ('x', 1)", msg)

    def test_exception_inside_a_generator(self):
        def words(line):
            for w in line.split():
                if w == "x":
                    raise ValueError("no x please")
                yield w
        env = self.env()
        env.from_collection(["a b", "c x d"]).flat_map(words).add_sink(lambda v: None)
        with self.assertRaises(JobExecutionError) as cm:
            env.execute()
        msg = str(cm.exception)
        self.assertIn("Python flat_map function raised ValueError: no x please on record 'c x d'", msg)
        self.assertIn('raise ValueError("no x please")', msg)

    def test_long_record_is_truncated(self):
        env = self.env()
        env.from_collection(["y" * 5000]).map(lambda s: s + 1).add_sink(lambda v: None)
        with self.assertRaises(JobExecutionError) as cm:
            env.execute()
        msg = str(cm.exception)
        self.assertIn("on record '" + "y" * 199 + "...", msg)
        self.assertNotIn("y" * 300, msg)

    def test_exception_in_open(self):
        class BadOpen(MapFunction):
            def open(self, ctx):
                raise RuntimeError("cannot connect")

            def map(self, v):
                return v
        env = self.env()
        env.from_collection([1]).map(BadOpen()).add_sink(lambda v: None)
        with self.assertRaises(JobExecutionError) as cm:
            env.execute()
        self.assertIn("open() raised RuntimeError: cannot connect", str(cm.exception))

    def test_exception_in_close(self):
        class BadClose(MapFunction):
            def map(self, v):
                return v

            def close(self):
                raise OSError("cannot flush")
        env = self.env()
        env.from_collection([1]).map(BadClose()).add_sink(lambda v: None)
        with self.assertRaises(JobExecutionError) as cm:
            env.execute("closing")
        self.assertIn("job 'closing' failed: a user function's close() raised OSError: cannot flush",
                      str(cm.exception))
        self.assertIsInstance(cm.exception.__cause__, OSError)

    def test_non_picklable_value(self):
        env = self.env()
        env.from_collection([1]).map(lambda x: {"lock": threading.Lock()}).add_sink(lambda v: None)
        with self.assertRaises(JobExecutionError) as cm:
            env.execute()
        msg = str(cm.exception)
        self.assertIn("result could not be serialised", msg)
        self.assertIn("a value of type _thread.lock cannot be serialised", msg)
        self.assertIn("on record 1", msg)
        with self.assertRaises(TypeError) as cm:
            env.from_collection([threading.Lock()])
        self.assertIn("element 0", str(cm.exception))

    def test_unhashable_key(self):
        env = self.env()
        env.from_collection([[1, 2]]).key_by(lambda v: v).sum(0).add_sink(lambda v: None)
        with self.assertRaises(JobExecutionError) as cm:
            env.execute()
        msg = str(cm.exception)
        self.assertIn("unhashable value of type list", msg)
        self.assertIn("use a tuple instead of a list", msg)

    def test_key_that_is_not_a_codec_type(self):
        class K(object):
            pass
        env = self.env()
        env.from_collection([1]).key_by(lambda v: K()).reduce(lambda a, b: a).add_sink(lambda v: None)
        with self.assertRaises(JobExecutionError) as cm:
            env.execute()
        self.assertIn("cannot be part of a key", str(cm.exception))

    def test_bad_type_hint_and_function(self):
        env = self.env()
        s = env.from_collection([1])
        with self.assertRaises(TypeError) as cm:
            s.map(lambda x: x, output_type=str)
        self.assertIn("output_type must be a type from sluice.common.Types", str(cm.exception))
        with self.assertRaises(TypeError) as cm:
            s.map(42)
        self.assertIn("map() needs a MapFunction or a callable", str(cm.exception))
        with self.assertRaises(TypeError):
            Types.LIST(int)


if __name__ == "__main__":
    unittest.main()

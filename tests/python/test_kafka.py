"""The Kafka connector's PyFlink builders against `sluice kafka-mock`
(librdkafka's mock cluster): lines written with an exactly-once KafkaSink,
read back bounded with a KafkaSource, upper-cased at P=2 into another
topic, and read back again: every line once."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sluice.common import SimpleStringSchema  # noqa: E402
from sluice.datastream import StreamExecutionEnvironment  # noqa: E402
from sluice.datastream.connectors.kafka import (DeliveryGuarantee, KafkaOffsetsInitializer,  # noqa: E402
                                                KafkaRecordSerializationSchema, KafkaSink, KafkaSource)


@unittest.skipUnless(os.environ.get("SL_SLUICE"), "needs SL_SLUICE (the sluice CLI, for kafka-mock)")
class KafkaTest(unittest.TestCase):
    def setUp(self):
        self.mock = subprocess.Popen([os.environ["SL_SLUICE"], "kafka-mock", "--brokers", "1",
                                      "--topic", "lines:3", "--topic", "upper:2"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(self.stop)
        self.brokers = self.mock.stdout.readline().strip()
        self.assertTrue(self.brokers.startswith("127.0.0.1:"), self.brokers)

    def stop(self):
        self.mock.kill()
        self.mock.wait()
        self.mock.stdout.close()

    def sink(self, topic, guarantee):
        return (KafkaSink.builder().set_bootstrap_servers(self.brokers)
                .set_record_serializer(KafkaRecordSerializationSchema.builder().set_topic(topic)
                                       .set_value_serialization_schema(SimpleStringSchema()).build())
                .set_delivery_guarantee(guarantee).set_transactional_id_prefix("py-" + topic).build())

    def source(self, topic):
        return (KafkaSource.builder().set_bootstrap_servers(self.brokers).set_topics(topic)
                .set_group_id("py-test").set_starting_offsets(KafkaOffsetsInitializer.earliest())
                .set_bounded(KafkaOffsetsInitializer.latest())
                .set_value_only_deserializer(SimpleStringSchema()).build())

    def test_write_read_transform(self):
        lines = ["line %d of the test" % i for i in range(500)]
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        env.from_collection(lines).sink_to(self.sink("lines", DeliveryGuarantee.EXACTLY_ONCE))
        env.execute("to kafka")

        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        (env.from_source(self.source("lines"), None, "kafka lines").map(lambda s: s.upper())
         .sink_to(self.sink("upper", DeliveryGuarantee.AT_LEAST_ONCE)))
        env.execute("kafka to kafka")

        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(1)
        got = list(env.from_source(self.source("upper"), None, "kafka upper").execute_and_collect())
        self.assertEqual(sorted(got), sorted(s.upper() for s in lines))

    def test_builder_errors(self):
        with self.assertRaises(ValueError):
            KafkaSource.builder().set_topics("x").build()
        with self.assertRaises(TypeError):
            KafkaSource.builder().set_value_only_deserializer(object())
        with self.assertRaises(ValueError):
            KafkaSink.builder().set_bootstrap_servers("h:1").build()


if __name__ == "__main__":
    unittest.main()

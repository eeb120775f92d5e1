"""Kafka (PyFlink's pyflink.datastream.connectors.kafka) over the engine's
Kafka source and sink (librdkafka; sl_kafka_source / sl_kafka_sink).

    source = (KafkaSource.builder().set_bootstrap_servers("host:9092")
              .set_topics("in").set_group_id("g")
              .set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_value_only_deserializer(SimpleStringSchema()).build())
    stream = env.from_source(source, WatermarkStrategy.no_watermarks(), "kafka")
    sink = (KafkaSink.builder().set_bootstrap_servers("host:9092")
            .set_record_serializer(KafkaRecordSerializationSchema.builder()
                                   .set_topic("out")
                                   .set_value_serialization_schema(SimpleStringSchema()).build())
            .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE).build())
    stream.sink_to(sink)

Records are the messages' values as str (SimpleStringSchema, UTF-8); the
sink writes str(record) as each message's value.  The source's partitions
are split over the subtasks and its offsets are in checkpoints; the sink's
exactly-once mode commits a Kafka transaction per checkpoint.  A
WatermarkStrategy given to from_source without a timestamp assigner makes
per-partition watermarks in the source from the messages' timestamps (as
Flink's KafkaSource); with an assigner the Python assigner runs after the
source.  set_property passes any librdkafka property; the engine's own
option names (`sluice conf`-style: scan.startup.mode, ...) also work
through set_property."""
from sluice.common.serialization import SimpleStringSchema

_OWN = ("scan.", "sink.", "properties.", "topic")  # the engine's option names


class KafkaOffsetsInitializer(object):
    def __init__(self, mode, extra=None):
        self._mode = mode
        self._extra = extra

    @staticmethod
    def earliest():
        return KafkaOffsetsInitializer("earliest-offset")

    @staticmethod
    def latest():
        return KafkaOffsetsInitializer("latest-offset")

    @staticmethod
    def committed_offsets(offset_reset_strategy=None):
        return KafkaOffsetsInitializer("group-offsets", offset_reset_strategy)

    @staticmethod
    def timestamp(timestamp):
        return KafkaOffsetsInitializer("timestamp", int(timestamp))


class KafkaOffsetResetStrategy(object):
    LATEST = "latest"
    EARLIEST = "earliest"
    NONE = "none"


class DeliveryGuarantee(object):
    EXACTLY_ONCE = "exactly-once"
    AT_LEAST_ONCE = "at-least-once"
    NONE = "none"


def _check_schema(schema, what):
    if not isinstance(schema, SimpleStringSchema):
        raise TypeError("%s: sluice's Kafka connector reads and writes text: use SimpleStringSchema(), "
                        "got %r" % (what, schema))


class KafkaSource(object):
    def __init__(self, options):
        self._options = options

    @staticmethod
    def builder():
        return KafkaSourceBuilder()


class KafkaSourceBuilder(object):
    def __init__(self):
        self._opts = {}
        self._bounded = None

    def set_bootstrap_servers(self, bootstrap_servers):
        self._opts["properties.bootstrap.servers"] = str(bootstrap_servers)
        return self

    def set_topics(self, *topics):
        self._opts["topic"] = ";".join(topics)
        return self

    def set_topic_pattern(self, topic_pattern):
        self._opts["topic-pattern"] = str(topic_pattern)
        return self

    def set_group_id(self, group_id):
        self._opts["properties.group.id"] = str(group_id)
        return self

    def set_client_id_prefix(self, prefix):
        self._opts["properties.client.id"] = str(prefix)
        return self

    def _offsets(self, init, key):
        if not isinstance(init, KafkaOffsetsInitializer):
            raise TypeError("needs a KafkaOffsetsInitializer, got %r" % (init,))
        return init

    def set_starting_offsets(self, starting_offsets_initializer):
        i = self._offsets(starting_offsets_initializer, "scan.startup.mode")
        self._opts["scan.startup.mode"] = i._mode
        if i._mode == "timestamp":
            self._opts["scan.startup.timestamp-millis"] = str(i._extra)
        elif i._mode == "group-offsets" and i._extra:
            self._opts["properties.auto.offset.reset"] = i._extra
        return self

    def set_bounded(self, stopping_offsets_initializer):
        i = self._offsets(stopping_offsets_initializer, "scan.bounded.mode")
        if i._mode not in ("latest-offset", "timestamp"):
            raise ValueError("set_bounded: sluice stops at latest() or timestamp(ms)")
        self._opts["scan.bounded.mode"] = i._mode
        if i._mode == "timestamp":
            self._opts["scan.bounded.timestamp-millis"] = str(i._extra)
        return self

    def set_unbounded(self, stopping_offsets_initializer):
        raise ValueError("set_unbounded: sluice's Kafka source runs unbounded unless set_bounded is called")

    def set_value_only_deserializer(self, deserialization_schema):
        _check_schema(deserialization_schema, "set_value_only_deserializer")
        return self

    def set_properties(self, props):
        for k, v in props.items():
            self.set_property(k, v)
        return self

    def set_property(self, key, value):
        key = str(key)
        if key == "partition.discovery.interval.ms":
            self._opts["scan.topic-partition-discovery.interval"] = "%sms" % value
        else:  # the engine's option names as they are, librdkafka's under properties.
            self._opts[key if key.startswith(_OWN) else "properties." + key] = str(value)
        return self

    def build(self):
        if "properties.bootstrap.servers" not in self._opts:
            raise ValueError("KafkaSource: set_bootstrap_servers is required")
        if "topic" not in self._opts and "topic-pattern" not in self._opts:
            raise ValueError("KafkaSource: set_topics or set_topic_pattern is required")
        return KafkaSource(sorted(self._opts.items()))


class KafkaRecordSerializationSchema(object):
    def __init__(self, topic):
        self._topic = topic

    @staticmethod
    def builder():
        return KafkaRecordSerializationSchemaBuilder()


class KafkaRecordSerializationSchemaBuilder(object):
    def __init__(self):
        self._topic = None

    def set_topic(self, topic):
        self._topic = str(topic)
        return self

    def set_value_serialization_schema(self, value_serialization_schema):
        _check_schema(value_serialization_schema, "set_value_serialization_schema")
        return self

    def build(self):
        if not self._topic:
            raise ValueError("KafkaRecordSerializationSchema: set_topic is required")
        return KafkaRecordSerializationSchema(self._topic)


class KafkaSink(object):
    def __init__(self, options):
        self._options = options

    @staticmethod
    def builder():
        return KafkaSinkBuilder()


class KafkaSinkBuilder(object):
    def __init__(self):
        self._opts = {}

    def set_bootstrap_servers(self, bootstrap_servers):
        self._opts["properties.bootstrap.servers"] = str(bootstrap_servers)
        return self

    def set_record_serializer(self, record_serializer):
        if not isinstance(record_serializer, KafkaRecordSerializationSchema):
            raise TypeError("set_record_serializer needs a KafkaRecordSerializationSchema, got %r"
                            % (record_serializer,))
        self._opts["topic"] = record_serializer._topic
        return self

    def set_delivery_guarantee(self, delivery_guarantee):
        if delivery_guarantee not in (DeliveryGuarantee.EXACTLY_ONCE, DeliveryGuarantee.AT_LEAST_ONCE,
                                      DeliveryGuarantee.NONE):
            raise ValueError("set_delivery_guarantee: a DeliveryGuarantee, got %r" % (delivery_guarantee,))
        self._opts["sink.delivery-guarantee"] = delivery_guarantee
        return self

    def set_transactional_id_prefix(self, transactional_id_prefix):
        self._opts["sink.transactional-id-prefix"] = str(transactional_id_prefix)
        return self

    def set_property(self, key, value):
        key = str(key)
        self._opts[key if key.startswith(_OWN) else "properties." + key] = str(value)
        return self

    def build(self):
        if "properties.bootstrap.servers" not in self._opts:
            raise ValueError("KafkaSink: set_bootstrap_servers is required")
        if "topic" not in self._opts:
            raise ValueError("KafkaSink: set_record_serializer (with a topic) is required")
        return KafkaSink(sorted(self._opts.items()))


__all__ = ["DeliveryGuarantee", "KafkaOffsetResetStrategy", "KafkaOffsetsInitializer", "KafkaRecordSerializationSchema",
           "KafkaSink", "KafkaSource"]

"""sluice.datastream: PyFlink's pyflink.datastream for sluice."""
from sluice.datastream.checkpoint_config import CheckpointConfig, CheckpointingMode
from sluice.datastream.data_stream import CloseableIterator, DataStream, DataStreamSink, KeyedStream
from sluice.datastream.execution_mode import RuntimeExecutionMode
from sluice.datastream.functions import (FilterFunction, FlatMapFunction, KeyedProcessFunction, KeySelector,
                                         MapFunction, ProcessFunction, ReduceFunction, RuntimeContext,
                                         SinkFunction, TimeDomain, TimerService)
from sluice.datastream.state_backend import EmbeddedRocksDBStateBackend, HashMapStateBackend, StateBackend
from sluice.datastream.stream_execution_environment import (JobClient, JobExecutionResult,
                                                            StreamExecutionEnvironment)

__all__ = ["CheckpointConfig", "CheckpointingMode", "CloseableIterator", "DataStream", "DataStreamSink",
           "EmbeddedRocksDBStateBackend", "FilterFunction", "FlatMapFunction", "HashMapStateBackend",
           "JobClient", "JobExecutionResult", "KeySelector", "KeyedProcessFunction", "KeyedStream",
           "MapFunction", "ProcessFunction", "ReduceFunction", "RuntimeContext", "RuntimeExecutionMode", "SinkFunction",
           "StateBackend", "StreamExecutionEnvironment", "TimeDomain", "TimerService"]

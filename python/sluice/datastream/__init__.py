"""sluice.datastream: PyFlink's pyflink.datastream for sluice."""
from sluice.datastream.checkpoint_config import CheckpointConfig, CheckpointingMode
from sluice.datastream.data_stream import (CloseableIterator, ConnectedStreams, DataStream, DataStreamSink,
                                           KeyedStream, WindowedStream)
from sluice.datastream.execution_mode import RuntimeExecutionMode
from sluice.datastream.functions import (AggregateFunction, CoFlatMapFunction, CoMapFunction, CoProcessFunction,
                                         FilterFunction, FlatMapFunction, KeyedCoProcessFunction,
                                         KeyedProcessFunction, KeySelector, MapFunction, ProcessFunction,
                                         ProcessWindowFunction, ReduceFunction, RuntimeContext, SinkFunction,
                                         TimeDomain, TimerService, WindowFunction)
from sluice.datastream.output_tag import OutputTag
from sluice.datastream.state_backend import EmbeddedRocksDBStateBackend, HashMapStateBackend, StateBackend
from sluice.datastream.stream_execution_environment import (JobClient, JobExecutionResult,
                                                            StreamExecutionEnvironment)

__all__ = ["AggregateFunction", "CoFlatMapFunction", "CoMapFunction", "CoProcessFunction", "ConnectedStreams",
           "KeyedCoProcessFunction", "OutputTag", "ProcessWindowFunction", "WindowFunction", "WindowedStream",
           "CheckpointConfig", "CheckpointingMode", "CloseableIterator", "DataStream", "DataStreamSink",
           "EmbeddedRocksDBStateBackend", "FilterFunction", "FlatMapFunction", "HashMapStateBackend",
           "JobClient", "JobExecutionResult", "KeySelector", "KeyedProcessFunction", "KeyedStream",
           "MapFunction", "ProcessFunction", "ReduceFunction", "RuntimeContext", "RuntimeExecutionMode", "SinkFunction",
           "StateBackend", "StreamExecutionEnvironment", "TimeDomain", "TimerService"]

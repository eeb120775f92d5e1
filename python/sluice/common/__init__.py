"""sluice.common: PyFlink's pyflink.common for sluice."""
from sluice.common.configuration import Configuration
from sluice.common.execution_config import ExecutionConfig
from sluice.common.job_status import JobStatus
from sluice.common.serialization import Encoder, SimpleStringSchema
from sluice.common.time import Duration, Time
from sluice.common.typeinfo import RowTypeInfo, TupleTypeInfo, TypeInformation, Types
from sluice.common.types import Row, RowKind
from sluice.common.watermark_strategy import TimestampAssigner, WatermarkStrategy

__all__ = ["Configuration", "Duration", "Encoder", "ExecutionConfig", "JobStatus", "Row", "RowKind", "RowTypeInfo",
           "SimpleStringSchema", "Time", "TimestampAssigner", "TupleTypeInfo", "TypeInformation",
           "Types", "WatermarkStrategy"]

"""sluice.table: PyFlink's Table API entry points over sluice's SQL.

    from sluice.datastream import StreamExecutionEnvironment
    from sluice.table import StreamTableEnvironment
    env = StreamExecutionEnvironment.get_execution_environment()
    t_env = StreamTableEnvironment.create(env)
    t_env.execute_sql("CREATE TABLE ...")
    t_env.execute_sql("INSERT INTO sink SELECT ...").wait()
"""
from sluice.table.table_environment import (EnvironmentSettings, StreamTableEnvironment, StatementSet,
                                            TableConfig, TableException, TableResult)

__all__ = ["EnvironmentSettings", "StreamTableEnvironment", "StatementSet", "TableConfig", "TableException",
           "TableResult"]

"""The warehouse of a dbt target: DuckDB, PostgreSQL or Spark, as the loader reads it.

    target = read_target()              # profiles.yml, DBT_TARGET / --target, env_var()s: as dbt
    with connect(target) as warehouse:
        for batch in warehouse.read_relation(relation, batch_rows=10_000):
            ...                          # batch.columns, batch.rows (tuples)

Engine drivers other than DuckDB (psycopg2, pyspark) are in requirements-engines.lock and are
imported only when a target of that type is opened.
"""

from __future__ import annotations

from loader.engines.base import DEFAULT_BATCH_ROWS, Batch, Warehouse
from loader.engines.profiles import SUPPORTED_TYPES, Target, read_target

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "SUPPORTED_TYPES",
    "Batch",
    "Target",
    "Warehouse",
    "connect",
    "read_target",
]


def connect(target: Target, *, read_only: bool = False) -> Warehouse:
    """Open the target's warehouse (``read_only`` applies to DuckDB, whose file has one writer)."""
    if target.type == "duckdb":
        from loader.engines.duckdb_engine import DuckDBWarehouse

        return DuckDBWarehouse(target, read_only=read_only)
    if target.type == "postgres":
        from loader.engines.postgres_engine import PostgresWarehouse

        return PostgresWarehouse(target)
    from loader.engines.spark_engine import SparkWarehouse

    return SparkWarehouse(target)

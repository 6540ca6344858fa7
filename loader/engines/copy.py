"""Copy tables of a DuckDB file into another engine (how the demo data reaches PostgreSQL/Spark).

PostgreSQL: DuckDB writes CSV (``""`` for an empty string, nothing for null) and PostgreSQL's
``COPY ... FROM STDIN (FORMAT csv)`` reads it back with the same distinction.
Spark: DuckDB writes Parquet and Spark saves it as a Parquet table; DuckDB's timestamps (UTC wall
clock, no time zone) become Spark timestamps in the session's UTC time zone.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb

from loader.engines.base import Warehouse
from loader.errors import WarehouseError

_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")
_POSTGRES_TYPES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}


def postgres_type(duckdb_type: str) -> str:
    m = _DECIMAL.match(duckdb_type)
    if m:
        return f"numeric({m.group(1)},{m.group(2)})"
    try:
        return _POSTGRES_TYPES[duckdb_type]
    except KeyError:
        raise WarehouseError(f"No PostgreSQL type for DuckDB's {duckdb_type}.") from None


def copy_from_duckdb(duckdb_path: str | Path, schema: str, tables: Sequence[str],
                     warehouse: Warehouse, target_schema: str | None = None) -> dict[str, int]:
    """Replace ``target_schema.<table>`` (default: same schema) in ``warehouse`` with DuckDB's.

    Returns the row count of each copied table as the target engine counts it.
    """
    target_schema = target_schema or schema
    source = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        with tempfile.TemporaryDirectory(prefix="klaviyo-copy-") as tmp:
            counts = {}
            for table in tables:
                columns = source.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if not columns:
                    raise WarehouseError(f"{duckdb_path} has no table {schema}.{table} to copy.")
                relation = warehouse.relation(target_schema, table)
                if warehouse.type == "postgres":
                    _to_postgres(source, schema, table, columns, warehouse, target_schema,
                                 Path(tmp))
                elif warehouse.type == "spark":
                    _to_spark(source, schema, table, warehouse, target_schema, Path(tmp))
                else:
                    raise WarehouseError(f"Copying into {warehouse.type} is not supported.")
                counts[table] = int(warehouse.query(f"select count(*) from {relation}")[0][0])
            return counts
    finally:
        source.close()


def _to_postgres(source: duckdb.DuckDBPyConnection, schema: str, table: str,
                 columns: list[tuple[str, str]], warehouse: Warehouse, target_schema: str,
                 tmp: Path) -> None:
    csv = tmp / f"{table}.csv"
    source.execute(
        f"copy (select * from {schema}.{table}) to '{csv}' (format csv, header)")
    relation = warehouse.relation(target_schema, table)
    ddl = ", ".join(f"{warehouse.quote(name)} {postgres_type(kind)}" for name, kind in columns)
    con = warehouse.dbapi
    with con.cursor() as cur:
        cur.execute(f"create schema if not exists {warehouse.quote(target_schema)}")
        cur.execute(f"drop table if exists {relation}")
        cur.execute(f"create table {relation} ({ddl})")
        with csv.open("r", encoding="utf-8") as handle:
            cur.copy_expert(f"copy {relation} from stdin with (format csv, header true)", handle)
    con.commit()


def _to_spark(source: duckdb.DuckDBPyConnection, schema: str, table: str,
              warehouse: Warehouse, target_schema: str, tmp: Path) -> None:
    from pyspark.sql.types import TimestampNTZType

    parquet = tmp / f"{table}.parquet"
    source.execute(f"copy (select * from {schema}.{table}) to '{parquet}' (format parquet)")
    session = warehouse.dbapi.session
    frame = session.read.parquet(str(parquet))
    frame = frame.select(*[
        frame[f.name].cast("timestamp").alias(f.name)
        if isinstance(f.dataType, TimestampNTZType) else frame[f.name]
        for f in frame.schema.fields
    ])
    warehouse.execute(f"create database if not exists {warehouse.quote(target_schema)}")
    warehouse.execute(f"drop table if exists {warehouse.relation(target_schema, table)}")
    frame.write.format("parquet").mode("overwrite").saveAsTable(
        f"{warehouse.quote(target_schema)}.{warehouse.quote(table)}")

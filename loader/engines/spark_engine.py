"""Spark through a pyspark session started from the profile (dbt-spark's ``session`` method).

The session is the one dbt-spark would start: the output's ``server_side_parameters`` are its
configuration, with Hive support (the metastore that holds dbt's tables). In a process that
already has a session (dbt run in-process, a notebook) that session is reused.

Relations are streamed with ``DataFrame.toLocalIterator``: the driver holds one partition at a
time and Python one batch. Timestamps are read as UTC wall-clock values (``timestamp_ntz`` in the
session's UTC time zone), so a datetime means the same instant on every engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from loader.engines.base import DEFAULT_BATCH_ROWS, Batch, Warehouse
from loader.engines.profiles import Target
from loader.errors import ConfigError

# dbt-spark sets this on every session it opens (Spark 3 and 4 behave alike with it).
FIXED_PARAMETERS = {"spark.sql.ansi.enabled": "false"}


def session_for(target: Target) -> Any:
    """The pyspark session of a Spark target (started when the process has none)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            f"Target {target.describe()} needs pyspark, which is not installed.",
            hint="pip install -r requirements-engines.lock and install Java 17 (docs/scale.md).",
        ) from None
    builder = SparkSession.builder.appName("klaviyo-audiences").enableHiveSupport()
    parameters = {**dict(target.settings.get("server_side_parameters") or {}),
                  **FIXED_PARAMETERS}
    for key, value in parameters.items():
        builder = builder.config(str(key), str(value))
    started = SparkSession.getActiveSession() is None
    session = builder.getOrCreate()
    if started:  # Spark's WARN chatter is not the loader's output
        session.sparkContext.setLogLevel("ERROR")
    return session


class SparkCursor:
    """The DB-API subset the loader uses, over ``spark.sql`` (qmark parameters)."""

    arraysize = DEFAULT_BATCH_ROWS

    def __init__(self, session: Any) -> None:
        self._session = session
        self._frame: Any = None
        self._rows: Iterator[Any] | None = None

    @property
    def description(self) -> list[tuple[Any, ...]] | None:
        if self._frame is None:
            return None
        return [(f.name, f.dataType.simpleString(), None, None, None, None, f.nullable)
                for f in self._frame.schema.fields]

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> SparkCursor:
        frame = self._session.sql(sql, args=list(params)) if params else self._session.sql(sql)
        self._frame = _utc_wall_clock(frame)
        self._rows = None
        return self

    def _iterator(self) -> Iterator[Any]:
        if self._frame is None:
            raise RuntimeError("execute() first")
        if self._rows is None:
            self._rows = iter(self._frame.toLocalIterator(prefetchPartitions=False))
        return self._rows

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        rows = self._iterator()
        out = []
        for row in rows:
            out.append(tuple(row))
            if len(out) >= (size or self.arraysize):
                break
        return out

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._iterator()]

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self.fetchmany(1)
        return rows[0] if rows else None

    def close(self) -> None:
        self._frame = None
        self._rows = None


def _utc_wall_clock(frame: Any) -> Any:
    """Timestamps as ``timestamp_ntz``: pyspark turns those into naive datetimes as stored."""
    from pyspark.sql.types import TimestampType

    casts = {f.name for f in frame.schema.fields if isinstance(f.dataType, TimestampType)}
    if not casts:
        return frame
    return frame.select(*[
        frame[f"`{c}`"].cast("timestamp_ntz").alias(c) if c in casts else frame[f"`{c}`"]
        for c in frame.columns
    ])


class SparkConnection:
    """A DB-API shaped connection over a session: Spark tables have no transactions."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def cursor(self) -> SparkCursor:
        return SparkCursor(self.session)

    def commit(self) -> None:
        return None

    def rollback(self) -> None:
        return None

    def close(self) -> None:
        return None


class SparkWarehouse(Warehouse):
    placeholder = "?"

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        from pyspark.sql import SparkSession

        self._owns_session = SparkSession.getActiveSession() is None
        self._con = SparkConnection(session_for(target))

    @property
    def session(self) -> Any:
        return self._con.session

    @property
    def dbapi(self) -> SparkConnection:
        return self._con

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def stream(self, sql: str, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[Batch]:
        cur = self._con.cursor()
        try:
            cur.execute(sql)
            columns = tuple(d[0] for d in cur.description or [])
            while rows := cur.fetchmany(batch_rows):
                yield Batch(columns, rows)
        finally:
            cur.close()

    def close(self) -> None:
        # A session this warehouse started stops with it; one found running is left running.
        if self._owns_session:
            self.session.stop()

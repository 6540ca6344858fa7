"""What every engine offers the loader: SQL in, rows out, relations streamed in batches."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from loader.engines.profiles import Target

DEFAULT_BATCH_ROWS = 10_000


@dataclass(frozen=True)
class Batch:
    """Consecutive rows of a query, as plain tuples in ``columns`` order."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def __len__(self) -> int:
        return len(self.rows)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class Warehouse(ABC):
    """An open connection to the warehouse of one dbt target.

    ``dbapi`` is the engine's DB-API connection (duckdb, psycopg2) or, on Spark, a DB-API shaped
    wrapper of the session. ``placeholder`` is the engine's parameter marker (``?`` or ``%s``).
    Values come back as Python values: str, bool, int, Decimal, float, date and naive UTC
    datetime on every engine.
    """

    placeholder = "?"

    def __init__(self, target: Target) -> None:
        self.target = target

    @property
    def type(self) -> str:
        return self.target.type

    @property
    @abstractmethod
    def dbapi(self) -> Any:
        """The DB-API connection."""

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def relation(self, schema: str, name: str) -> str:
        """A relation's name as this engine's SQL spells it (quoted schema and name)."""
        return f"{self.quote(schema)}.{self.quote(name)}"

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run one statement (DDL or DML) and make it durable."""
        cur = self.dbapi.cursor()
        try:
            cur.execute(sql, params) if params else cur.execute(sql)
        finally:
            cur.close()
        self.commit()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Every row of a (small) query."""
        cur = self.dbapi.cursor()
        try:
            cur.execute(sql, params) if params else cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()

    def columns(self, sql: str) -> list[str]:
        """The column names of a query, without reading its rows."""
        cur = self.dbapi.cursor()
        try:
            cur.execute(f"select * from ({sql}) as q where 1 = 0")
            return [d[0] for d in cur.description]
        finally:
            cur.close()

    @abstractmethod
    def stream(self, sql: str, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[Batch]:
        """The rows of a query in batches of at most ``batch_rows``, holding about one batch."""

    def read_relation(self, relation: str, columns: Sequence[str] | None = None,
                      batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[Batch]:
        """Stream a relation (every column, or the named ones in that order)."""
        select = ", ".join(self.quote(c) for c in columns) if columns else "*"
        return self.stream(f"select {select} from {relation}", batch_rows)

    def commit(self) -> None:
        self.dbapi.commit()

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

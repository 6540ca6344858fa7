"""DuckDB: the embedded default (the file of the profile's ``path``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb

from loader.engines.base import DEFAULT_BATCH_ROWS, Batch, Warehouse
from loader.engines.profiles import Target
from loader.errors import WarehouseError

# DuckDB caches what it scans up to its memory limit (80 % of RAM by default); the loader's
# limit keeps a long read flat. The push uses the same variable (loader/state.py).
DEFAULT_MEMORY_LIMIT = "256MB"


class DuckDBWarehouse(Warehouse):
    placeholder = "?"

    def __init__(self, target: Target, read_only: bool = False) -> None:
        super().__init__(target)
        self.path = Path(str(target.settings.get("path") or "warehouse.duckdb"))
        if read_only and not self.path.is_file():
            raise WarehouseError(
                f"The DuckDB file {self.path} of target {target.describe()} does not exist.",
                hint="Run `dbt build` first, or point DUCKDB_PATH at the warehouse file.",
            )
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise WarehouseError(
                f"Cannot open the DuckDB file {self.path}: {str(exc).splitlines()[0]}",
                hint="Another process may hold it for writing (dbt build, loader push).",
            ) from None
        limit = os.environ.get("LOADER_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
        self._con.execute("set memory_limit = ?", [limit])

    @property
    def dbapi(self) -> duckdb.DuckDBPyConnection:
        return self._con

    def stream(self, sql: str, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[Batch]:
        # A cursor of its own: DuckDB streams the result chunk by chunk through fetchmany.
        cur = self._con.cursor()
        try:
            cur.execute(sql)
            columns = tuple(d[0] for d in cur.description)
            while rows := cur.fetchmany(batch_rows):
                yield Batch(columns, rows)
        finally:
            cur.close()

    def commit(self) -> None:
        # DuckDB's Python connection autocommits outside an explicit transaction.
        return None

    def close(self) -> None:
        self._con.close()

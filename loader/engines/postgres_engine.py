"""PostgreSQL through psycopg2; relations are streamed with a server-side (named) cursor."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from loader.engines.base import DEFAULT_BATCH_ROWS, Batch, Warehouse
from loader.engines.profiles import Target
from loader.errors import ConfigError, WarehouseError

_cursor_ids = itertools.count(1)


class PostgresWarehouse(Warehouse):
    placeholder = "%s"

    def __init__(self, target: Target,
                 application_name: str = "klaviyo-audiences loader") -> None:
        super().__init__(target)
        try:
            import psycopg2
        except ImportError:
            raise ConfigError(
                f"Target {target.describe()} needs psycopg2, which is not installed.",
                hint="pip install -r requirements-engines.lock (docs/scale.md).",
            ) from None
        s = target.settings
        try:
            self._con = psycopg2.connect(
                host=s.get("host"),
                port=int(s.get("port") or 5432),
                user=s.get("user"),
                password=s.get("password") or None,
                dbname=s.get("dbname") or s.get("database"),
                connect_timeout=int(s.get("connect_timeout") or 10),
                application_name=application_name,
            )
        except psycopg2.Error as exc:
            # libpq's message names host and port; it never contains the password.
            raise WarehouseError(
                f"Cannot connect to PostgreSQL for target {target.describe()}: "
                f"{' '.join(str(exc).split())}",
                hint="Is the server running (scripts/engines/postgres.sh start) and are PGHOST, "
                "PGPORT, PGUSER and PGDATABASE right?",
            ) from None

    @property
    def dbapi(self) -> Any:
        return self._con

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        try:
            return super().query(sql, params)
        finally:
            # Never leave a read transaction open between calls (it would pin old row versions).
            if self._con.get_transaction_status() != 0:
                self._con.rollback()

    def columns(self, sql: str) -> list[str]:
        try:
            return super().columns(sql)
        finally:
            self._con.rollback()

    def stream(self, sql: str, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[Batch]:
        # A named cursor lives on the server: each fetchmany brings one batch over the wire.
        cur = self._con.cursor(name=f"loader_stream_{next(_cursor_ids)}")
        cur.itersize = batch_rows
        try:
            cur.execute(sql)
            rows = cur.fetchmany(batch_rows)
            columns = tuple(d[0] for d in cur.description)
            while rows:
                yield Batch(columns, rows)
                rows = cur.fetchmany(batch_rows)
        finally:
            cur.close()
            self._con.rollback()

    def close(self) -> None:
        self._con.close()

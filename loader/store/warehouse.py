"""Which warehouse holds the audiences and the state, and opening it for reading.

DuckDB (the default): the file itself. PostgreSQL and Spark: a local working copy of the
registry, delivery summary, audiences and state, made by ``loader.store.postgres`` or
``loader.store.spark`` (read-only: the commands that read, ``status`` and ``export``, never write
to it).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import duckdb

from loader.engines.profiles import Target, read_target
from loader.errors import ConfigError
from loader.store.lock import connect

if TYPE_CHECKING:
    from loader.store.postgres import PostgresState
    from loader.store.spark import SparkState


def state_target(name: str | None) -> Target | None:
    """The dbt target a command reads: ``--target``, else ``DBT_TARGET`` (as dbt picks it).

    None for the DuckDB file (``DBT_TARGET`` unset or ``duckdb``: no profile is read, as
    before); otherwise the rendered profiles.yml output: PostgreSQL or Spark.
    """
    if name is None and os.environ.get("DBT_TARGET", "duckdb") == "duckdb":
        return None
    found = read_target(name)
    if found.type == "duckdb":
        return None
    if found.type not in ("postgres", "spark"):
        raise ConfigError(
            f"The loader keeps its state in DuckDB, PostgreSQL or Spark; target "
            f"{found.describe()} is {found.type}.",
            hint="Push from a DuckDB, PostgreSQL or Spark target (docs/scale.md).")
    return found


def working_copy(target: Target, schema: str, run_id: str, *, read_only: bool = False
                 ) -> PostgresState | SparkState:
    """The state store of a PostgreSQL or Spark target: its local working copy."""
    if target.type == "spark":
        from loader.store.spark import SparkState

        return SparkState(target, schema, run_id, read_only=read_only)
    from loader.store.postgres import PostgresState

    return PostgresState(target, schema, run_id, read_only=read_only)


@contextlib.contextmanager
def read_warehouse(duckdb_path: str, target: Target | None, schema: str
                   ) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only DuckDB connection holding the registry, audiences and state."""
    if target is None:
        con = connect(duckdb_path, read_only=True)
        try:
            yield con
        finally:
            con.close()
        return
    from loader.warehouse import DELIVERY_SUMMARY, REGISTRY

    with working_copy(target, schema, "read-" + uuid.uuid4().hex[:8], read_only=True) as pg:
        pg.load_warehouse(REGISTRY, DELIVERY_SUMMARY)
        pg.load_state(None)
        yield pg.con

"""The part of a warehouse-backed store every engine shares: a local working copy and its diff.

When the warehouse is not the DuckDB file (PostgreSQL, Spark), a push works in a disposable
DuckDB file (a temporary folder) holding the account's state rows and a *shadow* of them: what
the warehouse holds. At the end of each ``Store.step()`` the step's change to each table is
found by comparing the table with its shadow (:func:`change_set`), the engine writes it to the
warehouse atomically (:meth:`WorkingCopy.write`: one PostgreSQL transaction, one Spark commit
row), and the shadow becomes the table again. The engine-specific part is only how state is read
from the warehouse (:meth:`WorkingCopy.fetch`) and how one change set is written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from loader.errors import WarehouseError
from loader.store.lock import DEFAULT_MEMORY_LIMIT
from loader.store.names import qualified, quote
from loader.store.schema import KEYS, TABLES, columns, ensure_schema, key

SHADOW = "_klaviyo_shadow"  # the local copy's image of what the warehouse holds
LOADING = "_klaviyo_load"  # where an engine puts a state table it read, before the merge


@dataclass
class Change:
    """One step's change to one table, as two local temporary tables.

    ``keys``: the keys whose rows changed (deleted in the warehouse before ``rows`` go in);
    ``rows``: those keys' rows now. Tables without a key (``rejected_rows``,
    ``campaign_recipients``) are keyed by every column.
    """

    table: str
    cols: list[str]
    keycols: tuple[str, ...]
    keyed: bool
    keys: str
    rows: str
    n_keys: int
    n_rows: int


def change_set(con: duckdb.DuckDBPyConnection, schema: str, table: str,
               every_copy: bool = False) -> Change | None:
    """The open step's change to ``table`` (compared with its shadow); None when unchanged.

    Keyed tables: the keys whose rows were added, changed or removed, and those keys' rows now.
    Tables without a key: the distinct rows that went, and the rows now equal to one of them
    plus the rows added (``every_copy``: every copy now of a row that went or was added, for
    an engine that replaces a row value with all its copies).
    """
    cur_t, shadow = qualified(schema, table), qualified(SHADOW, table)
    con.execute(f"create schema if not exists {quote(SHADOW)}")
    con.execute(f"create table if not exists {shadow} as select * from {cur_t} where false")
    cols = [c for c, _ in columns(table)]
    collist = ", ".join(quote(c) for c in cols)
    keyed = table in KEYS
    keycols = key(table)
    klist = ", ".join(quote(k) for k in keycols)
    eq = "=" if keyed else "is not distinct from"
    match = " and ".join(f"s.{quote(k)} {eq} k.{quote(k)}" for k in keycols)
    gone = f"select {collist} from {shadow} except all select {collist} from {cur_t}"
    added = f"select {collist} from {cur_t} except all select {collist} from {shadow}"
    keys, rows = f"_klaviyo_keys_{table}", f"_klaviyo_rows_{table}"
    con.execute(f"create or replace temp table {keys} as " + (
        f"select distinct {klist} from (({added}) union all ({gone}))" if keyed
        else f"select distinct * from ({gone})"))
    if keyed:
        select_rows = f"select {collist} from {cur_t} as s semi join {keys} as k on {match}"
    elif every_copy:
        select_rows = (f"select {collist} from {cur_t} as s semi join (select distinct * from "
                       f"(select * from {keys} union all ({added}))) as k on {match}")
    else:
        select_rows = (f"select {collist} from {cur_t} as s semi join {keys} as k on {match} "
                       f"union all select * from ({added}) as s "
                       f"anti join {keys} as k on {match}")
    con.execute(f"create or replace temp table {rows} as {select_rows}")
    counts = con.execute(f"select (select count(*) from {keys}), "
                         f"(select count(*) from {rows})").fetchone()
    n_keys, n_rows = (int(counts[0]), int(counts[1])) if counts else (0, 0)
    if not n_keys and not n_rows:
        return None
    return Change(table, cols, keycols, keyed, keys, rows, n_keys, n_rows)


class WorkingCopy:
    """A run's local DuckDB working copy of a warehouse's state (and audiences)."""

    engine = "warehouse"

    def __init__(self, schema: str, run_id: str, *, read_only: bool = False) -> None:
        self.schema = schema
        self.run_id = run_id
        self.read_only = read_only
        self.folder = Path(tempfile.mkdtemp(prefix="klaviyo-loader-"))
        config = {"memory_limit": os.environ.get("LOADER_DUCKDB_MEMORY_LIMIT",
                                                 DEFAULT_MEMORY_LIMIT),
                  "preserve_insertion_order": False}
        self.con = duckdb.connect(str(self.folder / "working-copy.duckdb"), config=config)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- engine-specific --------------------------------------------------------------------

    def state_tables(self) -> set[str]:
        """The state tables the warehouse holds."""
        raise NotImplementedError

    def fetch(self, table: str, account_id: str | None) -> set[str]:
        """Read the account's rows of one state table (all rows when None) into the local
        ``_klaviyo_load.<table>``; the warehouse's column names."""
        raise NotImplementedError

    def write(self, con: duckdb.DuckDBPyConnection, changes: Sequence[Change]) -> None:
        """Write one step's change sets to the warehouse, all or nothing."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------

    def load_state(self, account_id: str | None) -> None:
        """The account's rows of every state table the warehouse has (all rows when None),
        and the shadow of them that :meth:`flush` compares with."""
        present = self.state_tables()
        if not present:
            return
        ensure_schema(self.con, self.schema)
        self.con.execute(f"create schema if not exists {quote(SHADOW)}")
        self.con.execute(f"create schema if not exists {quote(LOADING)}")
        for table in TABLES:
            if table in present:
                names = [c for c, _ in columns(table)]
                have = self.fetch(table, account_id)
                select = ", ".join(quote(c) if c in have else f"null as {quote(c)}"
                                   for c in names)
                self.con.execute(f"insert into {qualified(self.schema, table)} "
                                 f"({', '.join(quote(c) for c in names)}) "
                                 f"select {select} from {qualified(LOADING, table)}")
                self.con.execute(f"drop table {qualified(LOADING, table)}")
            self.con.execute(f"create or replace table {qualified(SHADOW, table)} as "
                             f"select * from {qualified(self.schema, table)}")

    def flush(self, con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None:
        """Write what the open local step changed in ``tables`` to the warehouse, atomically
        (done here: the caller commits locally next)."""
        if self.read_only:
            raise WarehouseError("This command reads state only; it wrote to it.")
        changes = [c for c in (self.change_set(con, t) for t in dict.fromkeys(tables)) if c]
        if not changes:
            return
        try:
            self.write(con, changes)
        finally:
            for change in changes:
                con.execute(f"drop table if exists {change.keys}")
                con.execute(f"drop table if exists {change.rows}")
        for change in changes:  # the shadow is again what the warehouse holds
            shadow = qualified(SHADOW, change.table)
            con.execute(f"delete from {shadow}")
            con.execute(f"insert into {shadow} select * from "
                        f"{qualified(self.schema, change.table)}")

    def change_set(self, con: duckdb.DuckDBPyConnection, table: str) -> Change | None:
        return change_set(con, self.schema, table)

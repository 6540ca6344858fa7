"""State in PostgreSQL: the warehouse holds the truth, a local DuckDB copy does the work.

A push on a PostgreSQL target (docs/scale.md):

1. takes a session advisory lock per (database, Klaviyo account) on the connection it keeps
   for the whole run (a second push waits, then fails naming the holder; a killed push's
   connection closes and PostgreSQL releases the lock);
2. copies into a disposable DuckDB file (a temporary folder): the registry, the delivery
   summary and each campaign's audience relation (streamed with ``COPY … TO STDOUT``, never
   held in memory), and the account's rows of every state table in ``klaviyo_loader``;
3. runs the same planning and protocol SQL as on a DuckDB warehouse; each ``Store.step()``
   ends with :meth:`PostgresState.flush`: the rows the step changed (found by comparing each
   table with a shadow of what PostgreSQL holds) are written to PostgreSQL in **one
   transaction** (``COPY`` into a temporary table, then one ``delete … using`` and one
   ``insert … select``), committed before the local step commits.

A kill anywhere leaves PostgreSQL at a step boundary (an open transaction is rolled back by the
server); the local copy is thrown away, and the rerun rebuilds it from PostgreSQL.
"""

from __future__ import annotations

import contextlib
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from loader.engines.profiles import Target
from loader.errors import LockedError, WarehouseError
from loader.store.mirror import LOADING, Change, WorkingCopy
from loader.store.names import qualified, quote
from loader.store.schema import (
    ADDED_COLUMNS,
    CAMPAIGN_RECIPIENTS_COLUMNS,
    KEYS,
    LEGACY_RECIPIENTS,
    RECIPIENT_SPANS,
    RECIPIENTS_VIEW,
    TABLES,
    columns,
    recipients_view_select,
)

LOCK_CLASS = 0x4B4C  # advisory lock key 1 ("KL"); key 2 is the account's crc32
APPLICATION = "klaviyo-audiences loader run {run_id}"

_DUCKDB_TYPES = {
    "text": "varchar", "character varying": "varchar", "character": "varchar",
    "bigint": "bigint", "integer": "integer", "smallint": "smallint", "boolean": "boolean",
    "timestamp without time zone": "timestamp", "timestamp with time zone": "timestamptz",
    "date": "date", "double precision": "double", "real": "float",
}


def duckdb_type(data_type: str, precision: int | None, scale: int | None) -> str:
    """The DuckDB type of a PostgreSQL column (information_schema's ``data_type``)."""
    if data_type == "numeric":
        if precision is None:
            return "double"
        return f"decimal({min(int(precision), 38)},{int(scale or 0)})"
    return _DUCKDB_TYPES.get(data_type, "varchar")


def lock_keys(account_id: str) -> tuple[int, int]:
    """The advisory lock's two int4 keys for one Klaviyo account (key 2 as a signed int4)."""
    k2 = zlib.crc32(account_id.encode())
    return LOCK_CLASS, k2 - (1 << 32) if k2 >= 1 << 31 else k2


class PostgresState(WorkingCopy):
    """One run's connection to PostgreSQL, its lock and its local working copy."""

    engine = "PostgreSQL"

    def __init__(self, target: Target, schema: str, run_id: str, *,
                 read_only: bool = False) -> None:
        from loader.engines.postgres_engine import PostgresWarehouse

        super().__init__(schema, run_id, read_only=read_only)
        self.target = target
        try:
            self.warehouse = PostgresWarehouse(
                target, application_name=APPLICATION.format(run_id=run_id))
        except BaseException:
            super().close()
            raise
        self.pg = self.warehouse.dbapi
        self._locked: tuple[int, int] | None = None

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.warehouse.close()  # closing the session releases the advisory lock
        super().close()

    def __enter__(self) -> PostgresState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the lock ---------------------------------------------------------------------------

    def lock(self, account_id: str, wait_s: float = 30.0,
             sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic) -> None:
        """One push at a time per (database, Klaviyo account): wait up to ``wait_s``, then fail
        naming the holder (its run, pid, client and since when)."""
        keys = lock_keys(account_id)
        deadline = clock() + wait_s
        while True:
            with self.pg.cursor() as cur:
                cur.execute("select pg_try_advisory_lock(%s, %s)", keys)
                got = bool(cur.fetchone()[0])
            self.pg.commit()
            if got:
                self._locked = keys
                return
            if clock() >= deadline:
                holder = self.holder(account_id)
                raise LockedError(
                    f"Another `loader push` for Klaviyo account {account_id} holds the lock "
                    f"on PostgreSQL database {self.target.settings.get('dbname')} "
                    f"({holder}); waited {wait_s:.0f} s.",
                    hint="Wait for it to finish; a killed push releases the lock by itself "
                    "(PostgreSQL drops it with the connection).")
            sleep(0.5)

    def holder(self, account_id: str) -> str:
        """Who holds the account's push lock: from ``pg_locks`` and ``pg_stat_activity``."""
        k1, k2 = lock_keys(account_id)
        with self.pg.cursor() as cur:
            cur.execute(
                "select a.application_name, a.pid, coalesce(host(a.client_addr), 'local'), "
                "to_char(a.backend_start at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                "from pg_locks as l join pg_stat_activity as a on a.pid = l.pid "
                "where l.locktype = 'advisory' and l.granted and l.objsubid = 2 "
                "and l.classid::bigint = %s and l.objid::bigint = %s",
                (k1 % (1 << 32), k2 % (1 << 32)))
            row = cur.fetchone()
        self.pg.commit()
        if not row:
            return "holder unknown: it may just have finished"
        app, pid, client, since = row
        run = str(app).rsplit(" ", 1)[-1] if str(app).startswith("klaviyo-audiences") else "?"
        return f"run {run}, pid {pid}, client {client}, since {since}"

    # -- the working copy -------------------------------------------------------------------

    def _pg_columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        with self.pg.cursor() as cur:
            cur.execute(
                "select column_name, data_type, numeric_precision, numeric_scale "
                "from information_schema.columns where table_schema = %s and table_name = %s "
                "order by ordinal_position", (schema, table))
            rows = cur.fetchall()
        self.pg.commit()
        return [(str(n), duckdb_type(str(t), p, s)) for n, t, p, s in rows]

    def relations(self, table: str) -> list[str]:
        """The schemas of PostgreSQL that hold a relation named ``table``."""
        with self.pg.cursor() as cur:
            cur.execute("select table_schema from information_schema.tables "
                        "where table_name = %s order by table_schema <> %s, table_schema",
                        (table, self.target.settings.get("schema") or "public"))
            rows = [str(r[0]) for r in cur.fetchall()]
        self.pg.commit()
        return rows

    def copy_in(self, schema: str, table: str, where: str = "", params: Sequence[Any] = (),
                local_schema: str | None = None) -> int:
        """Copy a PostgreSQL relation (filtered by ``where``) into the working copy under the
        same name, streamed through a CSV file; its row count."""
        cols = self._pg_columns(schema, table)
        if not cols:
            raise WarehouseError(f"PostgreSQL has no relation {schema}.{table}.")
        local = qualified(local_schema or schema, table)
        self.con.execute(f"create schema if not exists {quote(local_schema or schema)}")
        self.con.execute(f"create or replace table {local} ("
                         + ", ".join(f"{quote(n)} {t}" for n, t in cols) + ")")
        path = self.folder / f"in-{table}.csv"
        select = ", ".join(quote(n) for n, _ in cols)
        with self.pg.cursor() as cur, path.open("w", encoding="utf-8") as fh:
            sql = cur.mogrify(f"select {select} from {qualified(schema, table)} {where}",
                              list(params)).decode()
            cur.copy_expert(f"copy ({sql}) to stdout with (format csv)", fh)
        self.pg.commit()
        spec = "{" + ", ".join(f"'{n}': '{t}'" for n, t in cols) + "}"
        self.con.execute(
            f"insert into {local} select * from read_csv(?, header = false, columns = {spec}, "
            f"allow_quoted_nulls = false, auto_detect = false, quote = '\"', escape = '\"')",
            [str(path)])
        path.unlink()
        row = self.con.execute(f"select count(*) from {local}").fetchone()
        return int(row[0]) if row else 0

    def load_warehouse(self, registry: str, summary: str) -> None:
        """The registry, the delivery summary and every audience relation the registry names,
        copied into the working copy under their PostgreSQL schema and name."""
        for name in (registry, summary):
            for schema in self.relations(name)[:1]:
                self.copy_in(schema, name)
        schemas = self.relations(registry)
        if not schemas:
            return
        rows = self.con.execute(
            f"select distinct audience_relation from {qualified(schemas[0], registry)}"
        ).fetchall()
        from loader.warehouse import PARTS

        for (relation,) in rows:
            m = PARTS.match(str(relation or ""))
            parts = ([m.group(2), m.group(3)] if m else str(relation).split(".")[-2:])
            schema, name = (p.strip('"').replace('""', '"') for p in parts)
            with contextlib.suppress(WarehouseError):  # a missing one fails its campaign
                self.copy_in(schema, name)

    def ensure_schema(self) -> None:
        """The state schema and tables in PostgreSQL (columns added by newer versions too) and
        the view ``campaign_recipients``; a table of that name (a loader before the view, or
        dbt's on-run-start hook) becomes ``campaign_recipients_legacy``, its rows kept. One
        transaction."""
        with self.pg.cursor() as cur:
            cur.execute(f"create schema if not exists {quote(self.schema)}")
            kinds = self._relkinds(cur, (RECIPIENTS_VIEW, LEGACY_RECIPIENTS))
            if kinds.get(RECIPIENTS_VIEW) in ("r", "p"):
                old = qualified(self.schema, RECIPIENTS_VIEW)
                if LEGACY_RECIPIENTS not in kinds:
                    # a rename: no row moves; views dbt built on it follow it (PostgreSQL
                    # binds them to the table) until the next `dbt run` rebuilds them
                    cur.execute(f"alter table {old} rename to {quote(LEGACY_RECIPIENTS)}")
                else:
                    cols = ", ".join(quote(c) for c, _ in CAMPAIGN_RECIPIENTS_COLUMNS)
                    cur.execute(f"insert into {qualified(self.schema, LEGACY_RECIPIENTS)} "
                                f"({cols}) select {cols} from {old}")
                    cur.execute(f"drop table {old}")
                kinds.pop(RECIPIENTS_VIEW)
            for name, cols in TABLES.items():
                cur.execute(f"create table if not exists {qualified(self.schema, name)} "
                            f"({cols})")
            for name, added in ADDED_COLUMNS.items():
                for col in added:
                    cur.execute(f"alter table {qualified(self.schema, name)} "
                                f"add column if not exists {col}")
            for name, keycols in KEYS.items():  # a step deletes its changed keys by index
                cur.execute(f"create index if not exists {quote(name + '_key')} on "
                            f"{qualified(self.schema, name)} "
                            f"({', '.join(quote(k) for k in keycols)})")
            if RECIPIENTS_VIEW not in kinds or self._view_outdated(cur):
                cur.execute(f"create or replace view {qualified(self.schema, RECIPIENTS_VIEW)} "
                            f"as " + recipients_view_select(
                                lambda t: qualified(self.schema, t)))
        self.pg.commit()

    def _relkinds(self, cur: Any, names: Sequence[str]) -> dict[str, str]:
        """relkind ('r' table, 'v' view, …) of the named relations of the state schema."""
        cur.execute("select c.relname, c.relkind from pg_class as c join pg_namespace as n "
                    "on n.oid = c.relnamespace where n.nspname = %s and c.relname = any(%s)",
                    (self.schema, list(names)))
        return {str(n): str(k) for n, k in cur.fetchall()}

    def _view_outdated(self, cur: Any) -> bool:
        """Whether ``campaign_recipients`` is not (yet) the view over ``recipient_spans``
        (a loader before the spans made it the view over ``recipients`` alone)."""
        cur.execute("select count(*) from information_schema.view_table_usage "
                    "where view_schema = %s and view_name = %s and table_name = %s",
                    (self.schema, RECIPIENTS_VIEW, RECIPIENT_SPANS))
        return not cur.fetchone()[0]

    def state_tables(self) -> set[str]:
        return {t for t in TABLES if self.schema in self.relations(t)}

    def fetch(self, table: str, account_id: str | None) -> set[str]:
        where = ""
        if account_id is not None:  # recipients: through their deliveries
            where = ("where account_id = %s" if "account_id" in dict(columns(table)) else
                     f"where delivery_id in (select delivery_id from "
                     f"{qualified(self.schema, 'deliveries')} where account_id = %s)")
        self.copy_in(self.schema, table, where,
                     [account_id] if account_id is not None else [], local_schema=LOADING)
        return {n for n, _ in self._pg_columns(self.schema, table)}

    # -- a step's changes, to PostgreSQL ----------------------------------------------------

    def write(self, con: duckdb.DuckDBPyConnection, changes: Sequence[Change]) -> None:
        """One step's changes in one PostgreSQL transaction (COPY of CSV files the working
        copy writes, then ``delete … using`` and ``copy … from stdin``)."""
        files: list[Path] = []
        try:
            staged = []
            for change in changes:
                keys_csv = rows_csv = None
                if change.n_keys:
                    keys_csv = self.folder / f"keys-{change.table}.csv"
                    con.execute(f"copy {change.keys} to '{keys_csv}' "
                                f"(format csv, header false)")
                    files.append(keys_csv)
                if change.n_rows:
                    rows_csv = self.folder / f"rows-{change.table}.csv"
                    con.execute(f"copy {change.rows} to '{rows_csv}' "
                                f"(format csv, header false)")
                    files.append(rows_csv)
                staged.append(_Staged(change, keys_csv, rows_csv))
            with self.pg.cursor() as cur:
                for st in staged:
                    self._apply(cur, st)
            self.pg.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                self.pg.rollback()
            raise
        finally:
            for path in files:
                path.unlink(missing_ok=True)

    def _apply(self, cur: Any, staged: _Staged) -> None:
        change = staged.change
        rel = qualified(self.schema, change.table)
        if staged.keys_csv is not None:
            kinds = dict(columns(change.table))
            tmp = f"_klaviyo_keys_{change.table}"
            cur.execute(f"create temp table {tmp} ("
                        + ", ".join(f"{quote(k)} {kinds[k]}" for k in change.keycols)
                        + ") on commit drop")
            with staged.keys_csv.open("r", encoding="utf-8") as fh:
                cur.copy_expert(f"copy {tmp} from stdin with (format csv)", fh)
            eq = "=" if change.keyed else "is not distinct from"
            match = " and ".join(f"t.{quote(k)} {eq} k.{quote(k)}" for k in change.keycols)
            cur.execute(f"analyze {tmp}")
            cur.execute(f"delete from {rel} as t using {tmp} as k where {match}")
        if staged.rows_csv is not None:
            with staged.rows_csv.open("r", encoding="utf-8") as fh:
                cur.copy_expert(f"copy {rel} ({', '.join(quote(c) for c in change.cols)}) "
                                f"from stdin with (format csv)", fh)


@dataclass
class _Staged:
    change: Change
    keys_csv: Path | None
    rows_csv: Path | None

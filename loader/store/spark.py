"""State in Spark: append-only Parquet tables, a step visible once its commit row is written.

Spark's Parquet tables have no transactions, UPDATE or DELETE, so the state of schema
``klaviyo_loader`` is kept as a log (docs/scale.md, "Spark"):

* each state table ``<t>`` is stored as ``<t>_writes``: its columns plus ``write_id`` and
  ``write_op`` (``set`` or ``delete``); ``commits`` holds one row per committed step
  (``write_id``, ``run_id``, ``account_id``, ``committed_at``, ``tables``);
* a step's change set (found by the shared working-copy comparison, ``loader.store.mirror``) is
  written by DuckDB to a Parquet file and appended by Spark to each ``<t>_writes``
  (``insert into … select … from parquet.`path```), then the step commits by appending its
  ONE row to ``commits``;
* the view ``<t>`` is what every reader (the loader, ``dbt``'s history source, an analyst)
  sees: per key, the row of the latest *committed* write, unless that write deleted it. A kill
  before the commit row leaves rows no reader sees; the rerun replays the step under a new
  ``write_id`` and latest-wins makes the replay idempotent.

One push at a time per (metastore, Klaviyo account) is a best-effort lease: the table
``push_lease_<crc32 of the account>``, whose creation the metastore makes atomic, holding the
run, host, pid, start and heartbeat in its properties (:meth:`SparkState.lock`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb

from loader.engines.profiles import Target
from loader.errors import LockedError
from loader.store.mirror import LOADING, Change, WorkingCopy, change_set
from loader.store.names import qualified, quote
from loader.store.schema import (
    LEGACY_RECIPIENTS,
    RECIPIENT_SPANS,
    RECIPIENTS_VIEW,
    TABLES,
    columns,
    key,
    recipients_view_select,
)
from loader.sync.crashpoints import crashpoint

COMMITS = "commits"
LEASE_TTL_S = 900.0  # a lease whose heartbeat is older than this is a dead push's
HEARTBEAT_S = 60.0
_SPARK_TYPES = {"varchar": "string", "bigint": "bigint", "boolean": "boolean",
                "timestamp": "timestamp", "integer": "int", "double": "double",
                "date": "date"}
COMMIT_COLUMNS = [("write_id", "string"), ("run_id", "string"), ("account_id", "string"),
                  ("committed_at", "timestamp"), ("tables", "string")]


def spark_type(kind: str) -> str:
    return _SPARK_TYPES.get(kind.lower(), "string")


def bq(name: str) -> str:
    """An identifier quoted for Spark SQL."""
    return "`" + name.replace("`", "``") + "`"


# The legacy recipients' log keeps the name it had when ``campaign_recipients`` was a logged
# table (a loader before the narrow form): its rows stay where they are, no copy, no rename.
_LOGS = {LEGACY_RECIPIENTS: f"{RECIPIENTS_VIEW}_writes"}
# tables a write named under another name then (``commits.tables``)
_WRITTEN_AS = {LEGACY_RECIPIENTS: {LEGACY_RECIPIENTS, RECIPIENTS_VIEW}}


def writes_table(table: str) -> str:
    return _LOGS.get(table, f"{table}_writes")


def lease_table(account_id: str) -> str:
    return f"push_lease_{zlib.crc32(account_id.encode()):08x}"


def committed_select(table: str, writes: str, commits: str,
                     q: Callable[[str], str] = bq) -> str:
    """The rows a reader sees of a state table: per key, those of the latest committed write,
    unless it deleted the key. ``writes``/``commits``: relations; ``q`` quotes a column (the
    same SQL runs on DuckDB with ``quote``)."""
    cols = ", ".join(f"w.{q(c)}" for c, _ in columns(table))
    part = ", ".join(f"w.{q(k)}" for k in key(table))
    return (f"select {cols} from (select w.*, max(w.write_id) over (partition by {part}) "
            f"as latest_write_id from {writes} as w where w.write_id in "
            f"(select c.write_id from {commits} as c)) as w "
            f"where w.write_id = w.latest_write_id and w.write_op = 'set'")


class SparkState(WorkingCopy):
    """One run's Spark session, its lease and its local working copy."""

    engine = "Spark"

    def __init__(self, target: Target, schema: str, run_id: str, *,
                 read_only: bool = False) -> None:
        from loader.engines.spark_engine import SparkWarehouse

        super().__init__(schema, run_id, read_only=read_only)
        self.target = target
        try:
            self.warehouse = SparkWarehouse(target)
        except BaseException:
            super().close()
            raise
        self.spark = self.warehouse.session
        self.spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        self.account_id: str | None = None
        self._lease: str | None = None
        self._beat = 0.0
        self._last_ns = 0
        self._n = 0
        self._written: set[str] = set()  # tables a committed write changed

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.release()
        with contextlib.suppress(Exception):
            self.warehouse.close()  # stops a session this run started
        super().close()

    def __enter__(self) -> SparkState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sql(self, statement: str) -> Any:
        return self.spark.sql(statement)

    def rel(self, name: str) -> str:
        return f"{bq(self.schema)}.{bq(name)}"

    def _exists(self, database: str, name: str) -> bool:
        return bool(self.spark.catalog.tableExists(f"{bq(database)}.{bq(name)}"))

    def _tables(self) -> dict[str, str]:
        """Name -> type (MANAGED, VIEW, …) of every relation in the state schema: one call."""
        if not self.spark.catalog.databaseExists(self.schema):
            return {}
        return {t.name: str(t.tableType).upper()
                for t in self.spark.catalog.listTables(self.schema)}

    # -- the lease --------------------------------------------------------------------------

    def lock(self, account_id: str, wait_s: float = 30.0,
             sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic) -> None:
        """One push at a time per (metastore, Klaviyo account), best effort: create the lease
        table (the metastore refuses a second one); a lease whose push is dead (same host, pid
        gone) or silent for ``LOADER_SPARK_LEASE_TTL_S`` is taken over. Waits up to ``wait_s``,
        then fails naming the holder."""
        from pyspark.errors import AnalysisException

        self.sql(f"create database if not exists {bq(self.schema)}")
        name = lease_table(account_id)
        deadline = clock() + wait_s
        while True:
            now = time.time()
            props = {"run_id": self.run_id, "host": socket.gethostname(),
                     "pid": str(os.getpid()), "since": _iso(now), "heartbeat": str(int(now)),
                     "account_id": account_id}
            spec = ", ".join(f"'{k}' = '{v}'" for k, v in props.items())
            try:
                self.sql(f"create table {self.rel(name)} (run_id string) using parquet "
                         f"tblproperties ({spec})")
                self._lease, self._beat = name, now
                return
            except AnalysisException as exc:
                if "ALREADY_EXISTS" not in str(exc):
                    raise
            holder = self._lease_properties(name)
            if holder is not None and self._stale(holder) and clock() < deadline:
                with contextlib.suppress(Exception):
                    self.sql(f"drop table if exists {self.rel(name)}")
                continue
            if clock() >= deadline:
                who = (f"run {holder.get('run_id', '?')}, host {holder.get('host', '?')}, "
                       f"pid {holder.get('pid', '?')}, since {holder.get('since', '?')}"
                       if holder else "holder unknown: it may just have finished")
                raise LockedError(
                    f"Another `loader push` for Klaviyo account {account_id} holds the lease "
                    f"{self.schema}.{name} on Spark ({who}); waited {wait_s:.0f} s.",
                    hint="Wait for it to finish. Spark cannot lock: run pushes from one queue "
                    "(docs/scale.md). A dead push's lease is taken over after "
                    f"{_ttl():.0f} s without heartbeat (LOADER_SPARK_LEASE_TTL_S).")
            sleep(1.0)

    def _lease_properties(self, name: str) -> dict[str, str] | None:
        try:
            rows = self.sql(f"show tblproperties {self.rel(name)}").collect()
        except Exception:
            return None
        return {str(r[0]): str(r[1]) for r in rows}

    @staticmethod
    def _stale(holder: dict[str, str]) -> bool:
        try:
            beat = float(holder.get("heartbeat", "0"))
        except ValueError:
            beat = 0.0
        if time.time() - beat > _ttl():
            return True
        if holder.get("host") == socket.gethostname():
            try:
                os.kill(int(holder.get("pid", "0")), 0)
            except ProcessLookupError:
                return True
            except (OSError, ValueError):
                return False
        return False

    def heartbeat(self) -> None:
        if self._lease is None or time.time() - self._beat < HEARTBEAT_S:
            return
        self._beat = time.time()
        self.sql(f"alter table {self.rel(self._lease)} set tblproperties "
                 f"('heartbeat' = '{int(self._beat)}')")

    def release(self) -> None:
        if self._lease is None:
            return
        holder = self._lease_properties(self._lease)
        if holder is not None and holder.get("run_id") == self.run_id:
            self.sql(f"drop table if exists {self.rel(self._lease)}")
        self._lease = None

    # -- the schema -------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """The log tables, ``commits`` and the reader views (columns newer versions add too).

        A ``campaign_recipients`` *table* (dbt's on-run-start hook creates one before the
        first push) has its rows kept as one committed write of ``campaign_recipients_legacy``
        (whose log is ``campaign_recipients_writes``, where a loader before the narrow form
        logged them), then ``campaign_recipients`` becomes the view over
        ``recipient_spans``, ``recipients``, ``deliveries`` and the legacy rows."""
        self.sql(f"create database if not exists {bq(self.schema)}")
        self.sql(f"create table if not exists {self.rel(COMMITS)} ("
                 + ", ".join(f"{bq(c)} {t}" for c, t in COMMIT_COLUMNS) + ") using parquet")
        present = self._tables()
        hook_table = present.get(RECIPIENTS_VIEW) not in (None, "VIEW")
        recreate = hook_table or RECIPIENTS_VIEW not in present
        for table in TABLES:
            cols = [(c, spark_type(t)) for c, t in columns(table)]
            log = writes_table(table)
            if log not in present:
                self.sql(f"create table {self.rel(log)} ("
                         + ", ".join(f"{bq(c)} {t}" for c, t in cols)
                         + ", write_id string, write_op string) using parquet")
                changed = True
            else:
                have = {f.name for f in self.spark.table(self.rel(log)).schema.fields}
                missing = [(c, t) for c, t in cols if c not in have]
                if missing:
                    self.sql(f"alter table {self.rel(log)} add columns ("
                             + ", ".join(f"{bq(c)} {t}" for c, t in missing) + ")")
                changed = bool(missing)
            adopt = RECIPIENTS_VIEW if table == LEGACY_RECIPIENTS and hook_table else table
            if adopt in present and present[adopt] != "VIEW":
                self._adopt_table(adopt, cols, table)
                changed = True
            if changed or table not in present:
                self.sql(f"create or replace view {self.rel(table)} as "
                         + committed_select(table, self.rel(log), self.rel(COMMITS)))
                recreate = recreate or table in (RECIPIENT_SPANS, "recipients",
                                                 LEGACY_RECIPIENTS, "deliveries")
        if recreate:
            self.sql(f"create or replace view {self.rel(RECIPIENTS_VIEW)} as "
                     + recipients_view_select(self.rel, bq))

    def _adopt_table(self, source: str, cols: list[tuple[str, str]], table: str) -> None:
        """The rows of a real table ``source`` as one committed write of ``table``; then the
        table is dropped (a view of its name replaces it)."""
        have = {f.name for f in self.spark.table(self.rel(source)).schema.fields}
        wid = self.next_write_id()
        select = ", ".join(bq(c) if c in have else f"cast(null as {t})" for c, t in cols)
        self.sql(f"insert into {self.rel(writes_table(table))} "
                 f"({', '.join(bq(c) for c, _ in cols)}, write_id, write_op) "
                 f"select {select}, '{wid}', 'set' from {self.rel(source)}")
        self._commit(wid, [table])
        self.sql(f"drop table {self.rel(source)}")

    # -- reading: Spark writes Parquet, DuckDB reads it ------------------------------------

    def to_local(self, frame: Any, local_schema: str, name: str) -> set[str]:
        """A Spark DataFrame into the working copy as ``local_schema.name`` (through Parquet
        files in the temporary folder); its column names."""
        from loader.engines.spark_engine import _utc_wall_clock

        self._n += 1
        path = self.folder / f"in-{self._n}-{name}"
        frame = _utc_wall_clock(frame)
        frame.write.mode("overwrite").parquet(str(path))
        self.con.execute(f"create schema if not exists {quote(local_schema)}")
        local = qualified(local_schema, name)
        files = sorted(path.glob("*.parquet"))
        if files:
            self.con.execute(f"create or replace table {local} as select * from "
                             f"read_parquet(?)", [[str(f) for f in files]])
        else:
            cols = ", ".join(f"{quote(f.name)} {_duck(f.dataType.simpleString())}"
                             for f in frame.schema.fields)
            self.con.execute(f"create or replace table {local} ({cols})")
        _rmtree(path)
        return {f.name for f in frame.schema.fields}

    def relations(self, name: str) -> list[str]:
        """The Spark databases that hold a relation named ``name`` (the target's first)."""
        first = str(self.target.settings.get("schema") or "default")
        names = [first] + sorted(d.name for d in self.spark.catalog.listDatabases()
                                 if d.name != first)
        return [d for d in names if self._exists(d, name)]

    def load_warehouse(self, registry: str, summary: str) -> None:
        """The registry, the delivery summary and every audience relation the registry names,
        copied into the working copy under their Spark database and name (the registry's
        ``audience_relation`` rewritten to that local name)."""
        for name in (registry, summary):
            for database in self.relations(name)[:1]:
                self.to_local(self.spark.table(f"{bq(database)}.{bq(name)}"), database, name)
        found = self.relations(registry)
        if not found:
            return
        local_registry = qualified(found[0], registry)
        rows = self.con.execute(
            f"select distinct audience_relation from {local_registry}").fetchall()
        for (relation,) in rows:
            parts = _parts(str(relation or ""))
            if parts is None:
                continue
            database, name = parts
            with contextlib.suppress(Exception):  # a missing one fails its campaign
                self.to_local(self.spark.table(f"{bq(database)}.{bq(name)}"), database, name)
                self.con.execute(f"update {local_registry} set audience_relation = ? "
                                 f"where audience_relation = ?",
                                 [qualified(database, name), relation])

    def state_tables(self) -> set[str]:
        present = self._tables()
        if COMMITS not in present:
            return set()
        return {t for t in TABLES if writes_table(t) in present}

    def load_state(self, account_id: str | None) -> None:
        """As the shared one, reading only the tables a committed write changed (the
        ``tables`` of ``commits``): one Spark job for the others' emptiness."""
        self.account_id = account_id
        self._written = set()
        if self._exists(self.schema, COMMITS):
            rows = self.sql(f"select max(write_id), concat_ws(',', collect_set(tables)) "
                            f"from {self.rel(COMMITS)}").collect()
            if rows and rows[0][0]:
                self._last_ns = max(self._last_ns, int(str(rows[0][0]).split("-")[0]))
                self._written = set(str(rows[0][1] or "").split(","))
        super().load_state(account_id)

    def fetch(self, table: str, account_id: str | None) -> set[str]:
        if not self._written & _WRITTEN_AS.get(table, {table}):  # never written: empty
            self.con.execute(f"create or replace table {qualified(LOADING, table)} ("
                             + ", ".join(f"{quote(c)} {t}" for c, t in columns(table)) + ")")
            return {c for c, _ in columns(table)}
        select = committed_select(table, self.rel(writes_table(table)), self.rel(COMMITS))
        if account_id is not None and "account_id" not in dict(columns(table)):
            # recipients: those of the account's deliveries
            select = (f"select r.* from ({select}) as r left semi join "
                      f"{self.rel('deliveries')} as d on d.delivery_id = r.delivery_id "
                      f"and d.account_id = {_lit(account_id)}")
        frame = self.spark.sql(select)
        if account_id is not None and "account_id" in dict(columns(table)):
            frame = frame.where(frame["account_id"] == account_id)
        return self.to_local(frame, LOADING, table)

    # -- writing: DuckDB writes Parquet, Spark appends it, one commit row -------------------

    def change_set(self, con: duckdb.DuckDBPyConnection, table: str) -> Change | None:
        return change_set(con, self.schema, table, every_copy=True)

    def next_write_id(self) -> str:
        """Sortable and increasing: latest-wins orders writes by it."""
        self._last_ns = max(time.time_ns(), self._last_ns + 1)
        return f"{self._last_ns:020d}-{self.run_id}"

    def write(self, con: duckdb.DuckDBPyConnection, changes: Sequence[Change]) -> None:
        """Append each change set to its ``<t>_writes`` (``set`` rows, ``delete`` keys), then
        commit the step with one row in ``commits``: nothing is visible before it."""
        wid = self.next_write_id()
        for change in changes:
            path = self.folder / f"w-{change.table}.parquet"
            kinds = dict(columns(change.table))
            collist = ", ".join(quote(c) for c in change.cols)
            eq = "=" if change.keyed else "is not distinct from"
            match = " and ".join(f"k.{quote(k)} {eq} r.{quote(k)}" for k in change.keycols)
            deleted = ", ".join(f"k.{quote(c)}" if c in change.keycols
                                else f"null::{kinds[c]}" for c in change.cols)
            con.execute(
                f"copy (select {collist}, '{wid}' as write_id, 'set' as write_op "
                f"from {change.rows} union all select {deleted}, '{wid}', 'delete' "
                f"from {change.keys} as k anti join {change.rows} as r on {match}) "
                f"to '{path}' (format parquet)")
            select = ", ".join(f"cast({bq(c)} as {spark_type(kinds[c])})" for c in change.cols)
            try:
                self.sql(f"insert into {self.rel(writes_table(change.table))} "
                         f"({', '.join(bq(c) for c in change.cols)}, write_id, write_op) "
                         f"select {select}, write_id, write_op "
                         f"from parquet.{bq(str(path))}")
            finally:
                path.unlink(missing_ok=True)
        # a kill here leaves rows of a write no reader sees (no commit row)
        crashpoint(f"spark.uncommitted.{changes[0].table}")
        self._commit(wid, [c.table for c in changes])
        self.heartbeat()

    def _commit(self, wid: str, tables: Sequence[str]) -> None:
        account = self.account_id
        self.sql(f"insert into {self.rel(COMMITS)} values ('{wid}', {_lit(self.run_id)}, "
                 f"{_lit(account)}, current_timestamp(), {_lit(','.join(tables))})")


def _lit(value: str | None) -> str:
    return "null" if value is None else "'" + str(value).replace("\\", "\\\\").replace(
        "'", "\\'") + "'"


def _parts(relation: str) -> tuple[str, str] | None:
    """(database, name) of a relation as dbt-spark names it (quoted or not, 2 or 3 parts)."""
    parts, cur, quoted = [], "", ""
    for ch in relation.strip():
        if quoted:
            if ch == quoted:
                quoted = ""
            else:
                cur += ch
        elif ch in "`\"":
            quoted = ch
        elif ch == ".":
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    if len(parts) < 2 or not all(parts[-2:]):
        return None
    return parts[-2], parts[-1]


def _duck(spark_simple: str) -> str:
    return {"string": "varchar", "bigint": "bigint", "int": "integer", "boolean": "boolean",
            "timestamp": "timestamp", "timestamp_ntz": "timestamp", "double": "double",
            "date": "date"}.get(spark_simple, "varchar" if not spark_simple.startswith(
                "decimal") else spark_simple)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _ttl() -> float:
    try:
        return float(os.environ.get("LOADER_SPARK_LEASE_TTL_S", LEASE_TTL_S))
    except ValueError:
        return LEASE_TTL_S


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


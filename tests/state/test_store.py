"""loader.store: one transaction per step, joined when nested, undone with its mirror untold on
failure; the one qualified-name helper."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pytest

from loader.store import Store, qualified
from loader.store.schema import KEYS, TABLES, columns, key


class Recorder:
    """A mirror that remembers each flush and what the step had written by then."""

    def __init__(self, fail: bool = False) -> None:
        self.flushes: list[tuple[tuple[str, ...], int]] = []
        self.fail = fail

    def flush(self, con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None:
        n = con.execute('select count(*) from "klaviyo_loader"."sync_runs"').fetchone()
        self.flushes.append((tuple(tables), int(n[0]) if n else -1))
        if self.fail:
            raise RuntimeError("the warehouse refused the step")


def runs(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute('select count(*) from "klaviyo_loader"."sync_runs"').fetchone()
    return int(row[0]) if row else -1


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    Store(c, "klaviyo_loader").ensure()
    return c


def test_a_step_is_flushed_once_inside_its_transaction(con) -> None:
    mirror = Recorder()
    store = Store(con, "klaviyo_loader", mirror)
    with store.step("sync_runs"):
        store.start_run("r1", "acc", datetime(2026, 1, 1), "c", False)
        store.finish_run("r1", datetime(2026, 1, 1), "completed",
                         {"added": 1, "updated": 0, "removed": 0, "rejected": 0}, None)
    # the nested steps joined the outer one: one flush, which saw the step's row
    assert mirror.flushes == [(("sync_runs",), 1)]
    assert runs(con) == 1


def test_a_failed_flush_rolls_the_step_back(con) -> None:
    store = Store(con, "klaviyo_loader", Recorder(fail=True))
    with pytest.raises(RuntimeError):
        store.start_run("r1", "acc", datetime(2026, 1, 1), "c", False)
    assert runs(con) == 0
    # and the connection is usable: the next step starts a fresh transaction
    Store(con, "klaviyo_loader").start_run("r2", "acc",
                                           datetime(2026, 1, 1), "c",
                                           False)
    assert runs(con) == 1


def test_an_error_inside_a_step_rolls_back_and_nothing_is_flushed(con) -> None:
    mirror = Recorder()
    store = Store(con, "klaviyo_loader", mirror)
    with pytest.raises(ZeroDivisionError), store.step("sync_runs"):
        store.start_run("r1", "acc", datetime(2026, 1, 1), "c", False)
        _ = 1 / 0
    assert mirror.flushes == [] and runs(con) == 0


def test_forget_lists_drops_only_those_lists(con) -> None:
    store = Store(con, "klaviyo_loader")
    for list_id in ("L1", "L2"):
        con.execute(f"insert into {store.t('list_members')} (account_id, list_id, list_name, "
                    f"identifier) values ('acc', ?, 'n', 'a@x')", [list_id])
    store.forget_lists("acc", ["L1"])
    assert con.execute(f"select list_id from {store.t('list_members')}").fetchall() == [("L2",)]


def test_qualified_quotes_each_part() -> None:
    assert qualified("klaviyo_loader", "list_members") == '"klaviyo_loader"."list_members"'
    assert qualified('we"ird', "t") == '"we""ird"."t"'


def test_every_key_is_columns_of_its_table() -> None:
    for table in TABLES:
        names = [c for c, _ in columns(table)]
        assert set(key(table)) <= set(names), table
    assert set(KEYS) <= set(TABLES)

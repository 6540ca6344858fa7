"""``apply.transient_writes``: pending rows are appended with string compression off, and the
setting (global to the DuckDB database: every cursor and connection of the process shares it)
is restored on every path, including a statement failing inside the intent's step. Driven
through ``Applier.write_intent``, its one caller (no HTTP: the intent is local)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from loader.store import Store
from loader.sync.apply import Applier, transient_writes
from loader.sync.plan import DIFF


def _setting(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("select current_setting('disabled_compression_methods')").fetchone()
    return str(row[0]) if row and row[0] else ""


def _state(tmp_path: Path, fields: str) -> tuple[duckdb.DuckDBPyConnection, Applier]:
    con = duckdb.connect(str(tmp_path / "state.duckdb"))
    store = Store(con, "klaviyo_loader")
    store.ensure()
    con.execute(f"create temp table {DIFF} as select 1::bigint as seq, 'add' as kind, "
                f"'a@example.com' as identifier, 'c1' as amperity_id, 'f' as fingerprint, "
                f"null::varchar as profile_id, 'a@example.com' as sent_email, "
                f"null::varchar as sent_phone_number, null::varchar as sent_external_id, "
                f"{fields} as fields, 10::bigint as nbytes")
    return con, Applier(store, "acct", None, "run-1")  # type: ignore[arg-type]


def _pending(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select count(*) from klaviyo_loader.pending_rows").fetchone()
    return int(row[0]) if row else -1


def test_restored_after_success(tmp_path: Path) -> None:
    con, applier = _state(tmp_path, "1::bigint")
    before = _setting(con)
    with transient_writes(con):
        assert _setting(con) != before
    assert _setting(con) == before
    applier.write_intent(None, "L1", "list one", "camp")
    assert _pending(con) == 1
    assert _setting(con) == before


def test_write_intent_reports_the_real_error_and_restores_compression(tmp_path: Path) -> None:
    """A DuckDB error while the intent is appended fails the campaign with that error (what
    ``Engine._each`` shows the user), not with "Current transaction is aborted", and
    compression is back on for the rest of the push (the next campaigns' ``list_members`` and
    history writes, in every connection of the process)."""
    # a plan value the insert cannot cast: any DuckDB error inside the append (out of memory,
    # disk full) takes the same path
    con, applier = _state(tmp_path, "'not a mask'")
    before = _setting(con)
    with pytest.raises(duckdb.ConversionException):
        applier.write_intent(None, "L1", "list one", "camp")
    assert _setting(con) == before
    assert _setting(con.cursor()) == before


def test_a_duckdb_without_a_method_still_writes_the_intent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback ("a version that lacks one of them: its default compression"): the failed
    ``set`` must not abort the intent's transaction. Simulated with a method name no DuckDB
    has (a DuckDB before DICT_FSST: pyproject.toml does not pin duckdb, dbt-duckdb 1.11 takes
    any >= 1.0)."""
    import loader.sync.apply as apply

    monkeypatch.setattr(apply, "TRANSIENT_OFF", "fsst,no_such_method")
    con, applier = _state(tmp_path, "1::bigint")
    applier.write_intent(None, "L1", "list one", "camp")
    assert _pending(con) == 1

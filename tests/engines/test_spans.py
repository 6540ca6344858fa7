"""Recipient spans kept in PostgreSQL and Spark as in DuckDB (docs/history.md, "How it is
stored"): the same sequence of deliveries recorded by the loader's store through the engine's
working copy (a fresh one per delivery, loaded from the engine, each step written there: spans
opened, spans closed by an update of their key, samples' explicit rows) and by the same store
on a DuckDB file; after each delivery the engine's view ``campaign_recipients`` holds exactly
the DuckDB one's rows (tests/history/test_spans.py proves those are what explicit rows
recorded). The state starts as the loader before the spans left it (an explicit row in
``recipients``, the view over it alone): the first delivery upgrades it, and the row stays
visible. A delivery that changes nothing writes nothing to the engine."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb

from loader.store import Store
from loader.store.schema import CAMPAIGN_RECIPIENTS_COLUMNS
from loader.store.warehouse import working_copy
from tests.engines._build import EngineBuild, environment
from tests.history.test_spans import LIST_A, Row, base, control

SCHEMA = "klaviyo_loader_spans"
ACCOUNT = "acct-spans"
LIST_ID = "LSPANS"
AT = datetime(2026, 3, 1, 9, 0)
CAMPAIGN = SimpleNamespace(
    campaign_id="spans", campaign_name="Spans", campaign_type="recurring",
    audience_relation="main.spans_audience", identifier="email", destination_id="klaviyo",
    destination_name="Klaviyo", launch_at=None, dbt_invocation_id="inv-spans")


def view_columns(text: str) -> str:
    """The view's columns, timestamps as ``text`` (each engine returns its own datetimes)."""
    return ", ".join(f"cast({c} as {text})" if t == "timestamp" else c
                     for c, t in CAMPAIGN_RECIPIENTS_COLUMNS)


AUDIENCE = ("sub_audience_id varchar, sub_audience_name varchar, treatment_id varchar, "
            "treatment_name varchar, is_control boolean, list_name varchar, segment_id varchar, "
            "segment_name varchar, amperity_id varchar, shrink_reason varchar, email varchar")
NARROW_ROW = ("old-1", "all", "All", "a", "Offer A", False, LIST_ID, "seg_vip", "VIP", "d-narrow")


def deliver(store: Store, n: int, rows: list[Row], sample: list[str] | None) -> None:
    """One delivery of ``rows`` through ``store``: the list then holds every sendable row (as
    a push confirms them), then the recipients are recorded and the delivery completed."""
    con = store.con
    con.execute(f"create or replace table main.spans_audience ({AUDIENCE})")
    if rows:
        con.executemany(
            "insert into main.spans_audience values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.sub_audience_id, r.sub_audience_name, r.treatment_id, r.treatment_name,
              r.is_control, r.list_name, r.segment_id, r.segment_name, r.amperity_id,
              r.shrink_reason, r.email) for r in rows])
    with store.step("list_members"):
        con.execute(f"delete from {store.t('list_members')} where account_id = ?", [ACCOUNT])
        con.execute(
            f"insert into {store.t('list_members')} (account_id, list_id, list_name, "
            f"identifier, amperity_id) select distinct on (email) ?, ?, list_name, email, "
            f"amperity_id from main.spans_audience where not is_control "
            f"and shrink_reason is null order by email, amperity_id", [ACCOUNT, LIST_ID])
    con.execute("create or replace temp table _spans_notes (list_name varchar, "
                "identifier varchar, amperity_id varchar, reason varchar, "
                "is_control boolean, origin varchar)")  # as the loader's NOTES
    con.execute("create or replace temp table _spans_sample (list_id varchar, "
                "identifier varchar)")
    for email in sample or []:
        con.execute("insert into _spans_sample values (?, ?)", [LIST_ID, email])
    at = AT + timedelta(days=n)
    store.open_delivery(f"d-{n}", "run", ACCOUNT, CAMPAIGN.campaign_id, at, at,
                        sample is not None)
    assert store.record_recipients(
        account_id=ACCOUNT, run_id="run", delivery_id=f"d-{n}", campaign=CAMPAIGN,
        lists=[(LIST_A, LIST_ID)], identifier="email", is_sample=sample is not None,
        sample_table="_spans_sample", notes_table="_spans_notes", unchanged=0, at=at)


@contextlib.contextmanager
def engine_store(build: EngineBuild) -> Iterator[Store]:
    """The store of one push on the engine: a fresh working copy, the state loaded from it."""
    with environment(build.env):
        state = working_copy(build.target, SCHEMA, uuid.uuid4().hex[:12])
        try:
            state.ensure_schema()
            state.load_state(ACCOUNT)
            store = Store(state.con, SCHEMA, state)
            store.ensure()
            yield store
        finally:
            state.close()


def engine_rows(build: EngineBuild, sql: str) -> list[tuple[Any, ...]]:
    with environment(build.env):
        return sorted((tuple(r) for r in build.warehouse.query(sql)), key=repr)


OLD_DELIVERY = ("insert into {t} (delivery_id, run_id, account_id, campaign_id, status, "
                "is_sample, campaign_name, campaign_type, destination_id, destination_name, "
                "delivery_datetime, dataset_version) values ('d-narrow', 'old', '" + ACCOUNT
                + "', 'spans', 'completed', false, 'Spans', 'recurring', 'klaviyo', "
                "'Klaviyo', timestamp '2026-02-01 09:00:00', 'inv-0')")


def explicit_rows(store: Store) -> None:
    """A delivery recorded as the loader before the spans recorded every delivery: an explicit
    row in ``recipients`` (one step: written to the engine too)."""
    with store.step("deliveries", "recipients"):
        store.con.execute(OLD_DELIVERY.format(t=store.t("deliveries")))
        store.con.execute(f"insert into {store.t('recipients')} values "
                          f"({', '.join('?' * 10)})", list(NARROW_ROW))


def to_explicit_rows_form(build: EngineBuild) -> None:
    """The engine's state as the loader before the spans left it: one delivery with an
    explicit row, no ``recipient_spans``, the view ``campaign_recipients`` over
    ``recipients`` and the legacy rows only (PostgreSQL: no ``delivery_number`` either)."""
    with engine_store(build) as store:
        explicit_rows(store)
    s = SCHEMA
    narrow = {"amperity_id", "sub_audience_id", "sub_audience_name", "treatment_id",
              "treatment_name", "is_control", "list_id", "segment_id", "segment_name"}
    cols = ", ".join(f"r.{c}" if c in narrow else f"d.{c}"
                     for c, _ in CAMPAIGN_RECIPIENTS_COLUMNS)
    with environment(build.env):
        w = build.warehouse
        w.execute(f"drop view {s}.campaign_recipients")
        if build.engine == "postgres":
            w.execute(f"drop table {s}.recipient_spans")
            w.execute(f"alter table {s}.deliveries drop column delivery_number")
        else:  # Spark: the spans' reader view and their log
            w.execute(f"drop view {s}.recipient_spans")
            w.execute(f"drop table {s}.recipient_spans_writes")
        w.execute(f"create view {s}.campaign_recipients as select {cols} from {s}.recipients "
                  f"as r inner join {s}.deliveries as d on d.delivery_id = r.delivery_id "
                  f"union all select * from {s}.campaign_recipients_legacy")


def drop_state(build: EngineBuild) -> None:
    with environment(build.env), contextlib.suppress(Exception):
        if build.engine == "postgres":
            build.warehouse.execute(f"drop schema if exists {SCHEMA} cascade")
        else:
            build.warehouse.execute(f"drop database if exists {SCHEMA} cascade")


def test_spans_in_the_engine_are_duckdbs(engine: EngineBuild, tmp_path: Path) -> None:
    drop_state(engine)
    reference = Store(duckdb.connect(str(tmp_path / "reference.duckdb")), SCHEMA)
    reference.ensure()
    try:
        to_explicit_rows_form(engine)
        explicit_rows(reference)
        rows = base()
        steps: list[tuple[list[Row], list[str] | None]] = [(list(rows), None)]
        rows = [r for r in rows if r.amperity_id not in ("c04", "c06")] + [
            Row("c30", "c30@example.com")]
        rows = [replace(r, segment_name="Very important") if r.amperity_id == "c09" else
                control(r) if r.amperity_id == "c12" else r for r in rows]
        steps += [(list(rows), None), (list(rows), ["c07@example.com", "c30@example.com"]),
                  (list(rows), None), (list(rows), None), (list(rows), None), ([], None)]
        for n, (audience, sample) in enumerate(steps, start=1):
            writes_before = engine_writes(engine) if n == 6 else []
            with engine_store(engine) as store:
                deliver(store, n, audience, sample)
            deliver(reference, n, audience, sample)
            want = sorted((tuple(r) for r in reference.con.execute(
                f"select {view_columns('varchar')} from {SCHEMA}.campaign_recipients"
            ).fetchall()), key=repr)
            text = "string" if engine.engine == "spark" else "varchar"
            got = engine_rows(engine, f"select {view_columns(text)} "
                                      f"from {SCHEMA}.campaign_recipients")
            assert got == want, f"delivery {n}: {len(got)} rows in {engine.engine}, " \
                f"{len(want)} in DuckDB"
            if n == 6:  # as delivery 5: no span opened or closed, in the engine either
                assert engine_writes(engine) == writes_before
        assert any(r[0] == "old-1" for r in want)  # the explicit row, still visible
    finally:
        reference.con.close()
        drop_state(engine)


def engine_writes(build: EngineBuild) -> list[tuple[Any, ...]]:
    """What the engine stores of the spans: PostgreSQL's rows; Spark's log of writes."""
    if build.engine == "postgres":
        return engine_rows(build, f"select * from {SCHEMA}.recipient_spans")
    return engine_rows(build, f"select count(*) from {SCHEMA}.recipient_spans_writes")

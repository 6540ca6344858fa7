"""How ``campaign_recipients`` is stored (docs/history.md): narrow ``recipient_spans`` (what
varies per member, over the full deliveries it covers; ``recipients`` for explicit rows) plus
the delivery's constants once in ``deliveries``,
read through the view ``campaign_recipients`` with the columns and meaning it always had; and
the upgrade of state a loader before this form wrote (a real ``campaign_recipients`` table
with rows): its rows stay visible, new deliveries append."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from loader.state import CAMPAIGN_RECIPIENTS_COLUMNS
from loader.sync import PushOptions, push
from tests.sync.conftest import settings_for
from tests.sync.helpers import CampaignSpec, make_members, write_warehouse

S = "klaviyo_loader"
NEW_DELIVERY_COLUMNS = ("campaign_name", "campaign_type", "destination_id", "destination_name",
                        "delivery_datetime", "launch_datetime", "dataset_version")


def q(path: str, sql: str) -> list[tuple]:
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def types(path: str, name: str) -> list[tuple[str, str]]:
    return [(n, t.lower()) for n, t in q(
        path, "select column_name, data_type from information_schema.columns "
        f"where table_schema = '{S}' and table_name = '{name}' order by ordinal_position")]


def kind(path: str, name: str) -> str | None:
    rows = q(path, "select table_type from information_schema.tables "
                   f"where table_schema = '{S}' and table_name = '{name}'")
    return rows[0][0] if rows else None


def to_old_format(path: str) -> None:
    """State as a loader before the narrow form left it: ``campaign_recipients`` a table of
    the 20 columns holding every row (the same values it wrote), ``deliveries`` without the
    columns the view reads, no ``recipients``."""
    con = duckdb.connect(path)
    try:
        con.execute(f"create table {S}.old_form as select * from {S}.campaign_recipients")
        con.execute(f"drop view {S}.campaign_recipients")
        con.execute(f"drop table {S}.recipients")
        con.execute(f"drop table {S}.recipient_spans")
        con.execute(f"drop table {S}.campaign_recipients_legacy")
        for col in (*NEW_DELIVERY_COLUMNS, "delivery_number"):
            con.execute(f"alter table {S}.deliveries drop column {col}")
        con.execute(f"alter table {S}.old_form rename to campaign_recipients")
    finally:
        con.close()


def run(emulator, path: str) -> str:  # noqa: ANN001
    result = push(settings_for(emulator, path), PushOptions(campaigns=["spring_sale"]))
    assert result.error is None, result.error
    return result.deliveries["spring_sale"]


def test_the_view_has_every_column_and_meaning(klaviyo_emulator, tmp_path: Path) -> None:
    path = str(tmp_path / "w.duckdb")
    members = make_members(40, seed=3)
    write_warehouse(path, [CampaignSpec(members=members)])
    delivery = run(klaviyo_emulator, path)

    assert kind(path, "campaign_recipients") == "VIEW"
    assert types(path, "campaign_recipients") == [(n, t) for n, t in CAMPAIGN_RECIPIENTS_COLUMNS]
    # the narrow tables: nothing constant per delivery
    assert [n for n, _ in types(path, "recipients")] == [
        "amperity_id", "sub_audience_id", "sub_audience_name", "treatment_id",
        "treatment_name", "is_control", "list_id", "segment_id", "segment_name", "delivery_id"]
    assert [n for n, _ in types(path, "recipient_spans")] == [
        "account_id", "campaign_id", "amperity_id", "sub_audience_id", "sub_audience_name",
        "treatment_id", "treatment_name", "is_control", "list_id", "segment_id",
        "segment_name", "first_number", "span_no", "last_number"]
    (completed_at, account_id), = q(path, f"select completed_at, account_id "
                                          f"from {S}.deliveries")
    rows = q(path, f"select distinct campaign_id, campaign_name, campaign_type, destination_id, "
                   f"destination_name, delivery_datetime, launch_datetime, dataset_version, "
                   f"account_id, delivery_id, is_sample from {S}.campaign_recipients")
    assert rows == [("spring_sale", "Spring Sale", "one_time", "klaviyo", "Klaviyo",
                     completed_at, datetime(2026, 1, 1, 9, 0), "inv-1", account_id, delivery,
                     False)]
    sent = {m.amperity_id for m in members if not m.shrink_reason}
    control = {m.amperity_id for m in members
               if not m.shrink_reason and m.treatment == "control"}
    got = q(path, f"select amperity_id, is_control, list_id is null, treatment_id "
                  f"from {S}.campaign_recipients")
    assert sorted(a for a, *_ in got) == sorted(sent)
    assert {a for a, c, no_list, _ in got if c and no_list} == control
    assert all(t == ("control" if a in control else "a") for a, _, _, t in got)


def test_old_format_rows_stay_visible_after_the_upgrade(klaviyo_emulator, tmp_path: Path
                                                        ) -> None:
    path = str(tmp_path / "w.duckdb")
    members = make_members(40, seed=4)
    spec = CampaignSpec(members=members)
    write_warehouse(path, [spec])
    first = run(klaviyo_emulator, path)
    to_old_format(path)
    assert kind(path, "campaign_recipients") == "BASE TABLE"
    assert types(path, "campaign_recipients") == [(n, t) for n, t in CAMPAIGN_RECIPIENTS_COLUMNS]
    old = sorted(q(path, f"select * from {S}.campaign_recipients"))
    assert old and {r[18] for r in old} == {first}

    members[5].city = "Elsewhere"  # a second delivery, after the upgrade
    write_warehouse(path, [spec])
    second = run(klaviyo_emulator, path)
    assert second != first
    assert kind(path, "campaign_recipients") == "VIEW"
    assert types(path, "campaign_recipients") == [(n, t) for n, t in CAMPAIGN_RECIPIENTS_COLUMNS]
    assert sorted(q(path, f"select * from {S}.campaign_recipients_legacy")) == old
    now = q(path, f"select * from {S}.campaign_recipients")
    assert sorted(r for r in now if r[18] == first) == old  # every old row, unchanged
    new = sorted(r for r in now if r[18] == second)
    assert len(new) == len(old)
    # the new delivery's rows are the old delivery's, but for its id and completion time
    def same(r: tuple) -> tuple:
        return r[:14] + r[15:18] + r[19:]

    assert [same(r) for r in new] == [same(r) for r in old]
    assert q(path, f"select count(*), count(distinct first_number) from {S}.recipient_spans"
             ) == [(len(new), 1)]
    assert q(path, f"select count(*) from {S}.recipients") == [(0,)]

    members[6].city = "Elsewhere"  # and again: the upgrade happened once
    write_warehouse(path, [spec])
    third = run(klaviyo_emulator, path)
    counts = dict(q(path, f"select delivery_id, count(*) from {S}.campaign_recipients "
                          f"group by all"))
    assert counts == {first: len(old), second: len(old), third: len(old)}
    assert q(path, f"select count(*) from {S}.campaign_recipients_legacy") == [(len(old),)]

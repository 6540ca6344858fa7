"""Recipient spans record exactly what explicit rows recorded (docs/history.md, "How it is
stored"): a campaign driven through a sequence of real deliveries (joins, leaves, a leaver who
comes back, sub-audience / treatment / segment changes with the profile unchanged, control
members changing, a customer with two identifiers, two customers sharing one, a sample
delivery in between, nothing changed, an empty audience, a list added) and, after each, the
view ``campaign_recipients`` is compared, as a multiset over all 20 columns, with what the
form before the spans recorded: one row per recipient per delivery, computed here in Python
from the audience and ``list_members`` as they were at that delivery. Once from a fresh
warehouse, once from state written by the loader before the spans (every row explicit in
``recipients``) upgraded mid-way; and a delivery that changes nothing writes nothing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from loader.sync import PushOptions, push
from tests.reliability.harness import query
from tests.sync.conftest import settings_for
from tests.sync.helpers import CampaignSpec, write_warehouse

S = "klaviyo_loader"
CAMPAIGN = "spring_sale"
LIST_A, LIST_B = "Spring Sale A", "Spring Sale B"
DAY0 = datetime(2026, 3, 1, 9, 0)


@dataclass(frozen=True)
class Row:
    """One audience row (the contract columns this test varies)."""

    amperity_id: str
    email: str | None
    sub_audience_id: str | None = "all"
    sub_audience_name: str | None = "All"
    treatment_id: str = "a"
    treatment_name: str = "Offer A"
    is_control: bool = False
    list_name: str | None = LIST_A
    segment_id: str = "seg_vip"
    segment_name: str = "VIP customers"
    city: str = "Paris"
    shrink_reason: str | None = None
    phone_number: str | None = None  # sent only by a campaign written with ``phones``


def control(row: Row) -> Row:
    return replace(row, treatment_id="control", treatment_name="Holdout", is_control=True,
                   list_name=None)


def base() -> list[Row]:
    """30 customers: every 10th in the control group, every 13th shrunk (no email); c14 has
    no sub-audience (null id and name); c01 has a second identifier from another segment;
    c03 shares c02's email (a duplicate: only one of them is sent)."""
    rows = []
    for i in range(30):
        row = Row(f"c{i:02d}", f"c{i:02d}@example.com")
        if i % 13 == 5:
            row = replace(row, email=None, shrink_reason="missing_email")
        if i == 14:
            row = replace(row, sub_audience_id=None, sub_audience_name=None)
        rows.append(control(row) if i % 10 == 0 else row)
    rows.append(Row("c01", "c01.second@example.com", segment_id="seg_a", segment_name="Z"))
    rows[3] = replace(rows[3], email="c02@example.com")
    return rows


def write(path: str, rows: list[Row], lists: tuple[str, ...] = (LIST_A,),
          identifier: str = "email", phones: bool = False) -> None:
    """The registry (a daily recurring campaign: every push a day later is a delivery) and
    the audience relation; ``phones``: the campaign also maps ``phone_number``."""
    write_warehouse(path, [CampaignSpec(campaign_id=CAMPAIGN, list_a=LIST_A,
                                        campaign_type="recurring")])
    con = duckdb.connect(path)
    try:
        con.execute("update main.klaviyo_campaigns set schedule_cron = '0 9 * * *', "
                    "list_names = ?, identifier = ?", [",".join(lists), identifier])
        if phones:
            con.execute(f"alter table main.aud_{CAMPAIGN} add column phone_number varchar")
            con.execute("update main.klaviyo_campaigns set attribute_columns = "
                        "attribute_columns || ',phone_number'")
        if not rows:
            return
        con.executemany(
            f"insert into main.aud_{CAMPAIGN} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            f"'Ann', ?, 'gold'{', ?' if phones else ''})",
            [(CAMPAIGN, CAMPAIGN, r.sub_audience_id, r.sub_audience_name, r.treatment_id,
              r.treatment_name, r.is_control, r.list_name, r.segment_id, r.segment_name,
              r.amperity_id, r.shrink_reason, r.email, r.city,
              *((r.phone_number,) if phones else ())) for r in rows])
    finally:
        con.close()


def sql_min(values: list[str | None]) -> str | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def recorded(rows: list[Row], lists: tuple[str, ...], members: set[tuple[str, str, str]],
             list_ids: dict[str, str], recorded_by_samples: set[tuple[Any, ...]],
             identifier: str = "email") -> list[tuple[Any, ...]]:
    """What a full delivery recorded before the spans, its 9 varying columns: a customer once
    per (sub-audience, treatment, list) the list holds it in (``members``: list id,
    identifier, customer), a control member once with no list, values aggregated over its
    rows (the sub-audience and treatment names, the least segment id and name); none a sample
    since the previous full delivery recorded."""
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for r in rows:
        if r.shrink_reason is not None:
            continue
        if r.is_control:
            key = (r.amperity_id, r.sub_audience_id, r.treatment_id, None, True)
        else:
            list_id = list_ids.get(r.list_name or "")
            if r.list_name not in lists or list_id is None or (
                    list_id, getattr(r, identifier), r.amperity_id) not in members:
                continue
            key = (r.amperity_id, r.sub_audience_id, r.treatment_id, list_id, False)
        groups.setdefault(key, []).append(r)
    out = []
    for (amperity_id, sub_id, treatment_id, list_id, is_control), rs in groups.items():
        if (amperity_id, sub_id, treatment_id) in recorded_by_samples:
            continue
        assert len({(r.sub_audience_name, r.treatment_name) for r in rs}) == 1
        out.append((amperity_id, sub_id, rs[0].sub_audience_name, treatment_id,
                    rs[0].treatment_name, is_control, list_id,
                    sql_min([r.segment_id for r in rs]), sql_min([r.segment_name for r in rs])))
    return out


def widen(narrow: list[tuple[Any, ...]], delivery: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The 20 columns of ``campaign_recipients``: the 9 that vary and the delivery's."""
    d = delivery
    return [(a, d["campaign_id"], d["campaign_name"], d["campaign_type"], sub, sub_name, t,
             t_name, ctl, d["destination_id"], d["destination_name"], lid, seg, seg_name,
             d["delivery_datetime"], d["launch_datetime"], d["dataset_version"],
             d["account_id"], d["delivery_id"], d["is_sample"])
            for a, sub, sub_name, t, t_name, ctl, lid, seg, seg_name in narrow]


def delivery_row(path: str, delivery_id: str) -> dict[str, Any]:
    con = duckdb.connect(path, read_only=True)
    try:
        cur = con.execute(f"select * from {S}.deliveries where delivery_id = ?", [delivery_id])
        names = [c[0] for c in cur.description]
        row = cur.fetchone()
        assert row is not None
        return dict(zip(names, row, strict=True))
    finally:
        con.close()


def view(path: str) -> Counter[tuple[Any, ...]]:
    return Counter(query(path, f"select * from {S}.campaign_recipients"))


def stored(path: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every stored row of recipient history: spans, explicit rows."""
    return (query(path, f"select * from {S}.recipient_spans order by all"),
            query(path, f"select * from {S}.recipients order by all"))


def to_explicit_rows(path: str) -> None:
    """State as the loader before the spans left it: every recorded row explicit in
    ``recipients``, ``deliveries`` without ``delivery_number``, no ``recipient_spans``, and the
    view over ``recipients`` and the legacy table only."""
    con = duckdb.connect(path)
    try:
        con.execute(f"create temp table every_row as select * from {S}.campaign_recipients "
                    f"where delivery_id in (select delivery_id from {S}.deliveries)")
        con.execute(f"drop view {S}.campaign_recipients")
        con.execute(f"delete from {S}.recipients")
        con.execute(f"insert into {S}.recipients select amperity_id, sub_audience_id, "
                    f"sub_audience_name, treatment_id, treatment_name, is_control, list_id, "
                    f"segment_id, segment_name, delivery_id from every_row")
        con.execute(f"drop table {S}.recipient_spans")
        con.execute(f"alter table {S}.deliveries drop column delivery_number")
        con.execute(f"""create view {S}.campaign_recipients as select r.amperity_id,
            d.campaign_id, d.campaign_name, d.campaign_type, r.sub_audience_id,
            r.sub_audience_name, r.treatment_id, r.treatment_name, r.is_control,
            d.destination_id, d.destination_name, r.list_id, r.segment_id, r.segment_name,
            d.delivery_datetime, d.launch_datetime, d.dataset_version, d.account_id,
            r.delivery_id, d.is_sample from {S}.recipients as r inner join {S}.deliveries as d
            on d.delivery_id = r.delivery_id
            union all select * from {S}.campaign_recipients_legacy""")
    finally:
        con.close()


class Campaign:
    """Drives the pushes and keeps the reference history (what the old form recorded)."""

    def __init__(self, emulator: Any, path: str, identifier: str = "email",  # noqa: ANN401
                 phones: bool = False) -> None:
        self.emulator, self.path = emulator, path
        self.identifier, self.phones = identifier, phones
        self.day = 0
        self.expected: Counter[tuple[Any, ...]] = Counter()
        self.by_samples: set[tuple[Any, ...]] = set()  # since the last full delivery
        self.deliveries: list[str] = []

    def push(self, rows: list[Row], lists: tuple[str, ...] = (LIST_A,),
             sample: int | None = None, same_day: bool = False, edit: str = "") -> str:
        """One push a day after the last (``same_day``: the same day, a resync that makes a
        delivery only when something is sent); ``edit``: SQL run on the warehouse instead
        of writing it again (``rows`` must be what it leaves)."""
        if edit:
            con = duckdb.connect(self.path)
            try:
                con.execute(edit)
            finally:
                con.close()
        else:
            write(self.path, rows, lists, self.identifier, self.phones)
        self.day += 0 if same_day else 1
        self.result = result = push(settings_for(self.emulator, self.path),
                      PushOptions(campaigns=[CAMPAIGN], sample=sample,
                                  at=DAY0 + timedelta(days=self.day)))
        assert result.error is None, result.error
        delivery_id = result.deliveries[CAMPAIGN]
        self.deliveries.append(delivery_id)
        delivery = delivery_row(self.path, delivery_id)
        assert delivery["status"] == "completed"
        if sample is not None:  # a sample's rows are explicit, as before: read as written
            narrow = query(self.path, f"""select amperity_id, sub_audience_id,
                sub_audience_name, treatment_id, treatment_name, is_control, list_id,
                segment_id, segment_name from {S}.recipients where delivery_id = ?""",
                           [delivery_id])
            assert 0 < len(narrow) <= sample * len(lists)
            assert not any(r[5] for r in narrow)  # a sample records no control member
            self.by_samples |= {(r[0], r[1], r[3]) for r in narrow}
        else:
            held = query(self.path, f"select list_name, list_id, identifier, amperity_id "
                                    f"from {S}.list_members")
            narrow = recorded(rows, lists, {(i, e, a) for _, i, e, a in held},
                              {n: i for n, i, _, _ in held}, self.by_samples,
                              self.identifier)
            self.by_samples = set()
        self.expected.update(widen(narrow, delivery))
        got = view(self.path)
        missing, extra = self.expected - got, got - self.expected
        assert not missing and not extra, (
            f"after delivery {len(self.deliveries)}: {sum(missing.values())} rows missing "
            f"{sorted(missing, key=repr)[:3]}, {sum(extra.values())} extra "
            f"{sorted(extra, key=repr)[:3]}")
        # a span's identity (schema.KEYS: what a PostgreSQL or Spark copy of a step keys
        # its rows by, and what a later delivery closes a span by) is never null, never shared
        (n, keys, numbered), = query(self.path, f"""select count(*), count(distinct (
            account_id, campaign_id, first_number, span_no)), count(span_no)
            from {S}.recipient_spans""")
        assert n == keys == numbered, (n, keys, numbered)
        return delivery_id


@pytest.mark.parametrize("upgrade", [False, True], ids=["fresh", "upgraded-mid-way"])
def test_the_view_is_what_explicit_rows_recorded(klaviyo_emulator, tmp_path: Path,
                                                 upgrade: bool) -> None:
    path = str(tmp_path / "w.duckdb")
    c = Campaign(klaviyo_emulator, path)
    rows = base()
    by_id = {r.amperity_id: i for i, r in enumerate(rows) if r.email != "c01.second@example.com"}

    def edit(amperity_id: str, **changes: Any) -> None:  # noqa: ANN401
        i = by_id[amperity_id]
        rows[i] = replace(rows[i], **changes)

    c.push(rows)  # 1: everyone new
    left = [rows[by_id["c04"]], rows[by_id["c06"]]]
    rows[:] = [r for r in rows if r.amperity_id not in ("c04", "c06")]
    rows += [Row("c30", "c30@example.com"), Row("c31", "c31@example.com")]
    by_id = {r.amperity_id: i for i, r in enumerate(rows) if r.email != "c01.second@example.com"}
    edit("c07", city="Oslo")
    c.push(rows)  # 2: two joined, two left, a profile changed
    explicit = f"select * from {S}.recipients order by all"
    if upgrade:
        to_explicit_rows(path)
        before = query(path, explicit)
        assert before and {r[-1] for r in before} == set(c.deliveries)
    rows.append(left[0])  # 3: a leaver comes back; history changes with the profile unchanged
    by_id["c04"] = len(rows) - 1
    edit("c08", sub_audience_id="vip", sub_audience_name="VIP")
    edit("c09", segment_name="Very important")
    edit("c11", treatment_name="Offer A (v2)")
    c.push(rows)
    edit("c10", treatment_id="a", treatment_name="Offer A", is_control=False,
         list_name=LIST_A)  # 4: control members change
    rows[by_id["c12"]] = control(rows[by_id["c12"]])
    edit("c20", segment_id="seg_z")  # a control member's recorded column changes
    c.push(rows)
    rows += [Row("c32", "c32@example.com"), Row("c33", "c33@example.com")]
    c.push(rows, sample=3)  # 5: a sample delivery in between
    c.push(rows)  # 6: a full delivery after the sample (who the sample recorded is not again)
    c.push(rows)  # 7: and the next records them again
    spans = stored(path)
    c.push(rows)  # 8: nothing changed: nothing written
    assert stored(path) == spans
    c.push([])  # 9: an empty audience: every span closed
    assert query(path, f"select count(*) from {S}.recipient_spans "
                       f"where last_number is null") == [(0,)]
    for i in (21, 22, 23):  # 10: back, with a list added to the campaign
        edit(f"c{i}", treatment_id="b", treatment_name="Offer B", list_name=LIST_B)
    c.push(rows, lists=(LIST_A, LIST_B))
    spans = stored(path)
    c.push(rows, lists=(LIST_A, LIST_B))  # 11: unchanged again
    assert stored(path) == spans
    assert len(set(c.deliveries)) == 11
    # explicit rows: the sample's, and (upgraded) the rows written before, never rewritten
    sample = [r for r in query(path, explicit) if r[-1] == c.deliveries[4]]
    assert sample and query(path, explicit) == sorted(
        (before if upgrade else []) + sample, key=lambda r: tuple(map(repr, r)))  # type: ignore[possibly-undefined]


def test_a_delivery_writes_what_changed(klaviyo_emulator, tmp_path: Path) -> None:
    """Stored rows follow the change: after the first delivery, a delivery where one profile
    left, one joined and one moved sub-audience opens 2 spans and closes 2."""
    path = str(tmp_path / "w.duckdb")
    c = Campaign(klaviyo_emulator, path)
    rows = base()
    c.push(rows)
    first = query(path, f"select count(*) from {S}.recipient_spans")[0][0]
    assert first == sum(c.expected.values())  # everyone opened a span
    rows = [r for r in rows if r.amperity_id != "c07"] + [Row("c40", "c40@example.com")]
    rows = [replace(r, sub_audience_id="vip") if r.amperity_id == "c08" else r for r in rows]
    c.push(rows)
    (opened, closed, total), = query(
        path, f"select count(*) filter (where first_number = 2), "
              f"count(*) filter (where last_number = 1), count(*) from {S}.recipient_spans")
    assert (opened, closed, total) == (2, 2, first + 2)
    assert query(path, f"select count(*) from {S}.recipients") == [(0,)]


def test_a_delivery_killed_while_recording_is_recorded_once_by_the_rerun(
        klaviyo_emulator, tmp_path: Path) -> None:
    """A push SIGKILLed inside the step that opens and closes spans and completes the
    delivery (crash point ``recipients.written``) leaves none of it: no span opened or
    closed, the delivery running; its rerun records the delivery once, as the old form."""
    import os
    import subprocess
    import sys

    from tests.fixtures.warehouse import REPO

    path = str(tmp_path / "w.duckdb")
    c = Campaign(klaviyo_emulator, path)
    rows = base()
    c.push(rows)
    before = (stored(path), view(path))
    rows = [r for r in rows if r.amperity_id != "c07"] + [Row("c40", "c40@example.com")]
    rows = [replace(r, segment_id="seg_b") if r.amperity_id == "c08" else r for r in rows]
    write(path, rows)
    env = {**os.environ, "KLAVIYO_BASE_URL": klaviyo_emulator.base_url,
           "KLAVIYO_API_KEY": klaviyo_emulator.api_key, "DUCKDB_PATH": path,
           "LOADER_CRASH_AT": "recipients.written:1"}
    killed = subprocess.run(
        [sys.executable, "-m", "loader", "push", CAMPAIGN, "--quiet", "--at",
         (DAY0 + timedelta(days=c.day + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-2000:])
    assert (stored(path), view(path)) == before  # the step rolled back whole
    assert query(path, f"select count(*) from {S}.deliveries where status = 'running'"
                       ) == [(1,)]
    c.push(rows)  # the rerun resumes the delivery: recorded once, as explicit rows would
    assert len(set(c.deliveries)) == 2
    assert query(path, f"select count(*) from {S}.deliveries") == [(2,)]


def test_a_customer_with_two_rows_for_one_key_is_recorded_once(klaviyo_emulator,
                                                               tmp_path: Path) -> None:
    """A customer with two rows in one list for the same sub-audience and treatment (two
    identifiers, or one identifier from two segments) is one recipient, its least segment
    id and name: on the campaign's first delivery (spans inserted directly), on a later
    delivery where one of its rows equals its open span and the other does not (the span
    stays open: nothing written), where its least segment changes (closed and reopened), and
    for a customer joining with two rows (one span)."""
    path = str(tmp_path / "w.duckdb")
    c = Campaign(klaviyo_emulator, path)
    # without c01's second identifier (its rows, both unlike its span, would have every
    # later delivery grouped): here one row of a customer equals its span
    rows = [r for r in base() if r.email != "c01.second@example.com"] + [
        # c07's open span is its first row's (seg_vip / VIP customers are the least)
        Row("c07", "c07.second@example.com", segment_id="seg_zz", segment_name="Zz"),
        # c08 twice under one identifier: its second row is the least of both columns
        Row("c08", "c08@example.com", segment_id="seg_b", segment_name="B")]
    c.push(rows)  # 1: first delivery
    keys = f"""select amperity_id, count(*) from {S}.recipient_spans
        where amperity_id in ('c07', 'c08', 'c40') and last_number is null group by all
        order by all"""
    assert query(path, keys) == [("c07", 1), ("c08", 1)]
    # each its least segment id and name (c08's second row; c07's first)
    assert query(path, f"""select amperity_id, segment_id, segment_name
        from {S}.recipient_spans where amperity_id in ('c07', 'c08') order by all""") == [
        ("c07", "seg_vip", "VIP customers"), ("c08", "seg_b", "B")]
    spans = stored(path)
    c.push(rows)  # 2: unchanged (each customer's other row differs from its span)
    assert stored(path) == spans
    rows[-2] = replace(rows[-2], segment_id="seg_a")  # 3: c07's least segment id changes
    rows += [Row("c40", "c40@example.com", segment_id="seg_x", segment_name="X"),
             Row("c40", "c40.second@example.com", segment_name="A")]  # 4: joins twice
    c.push(rows)
    assert query(path, keys) == [("c07", 1), ("c08", 1), ("c40", 1)]
    (opened,), = query(path, f"select count(*) from {S}.recipient_spans "
                             f"where first_number = 3")
    assert opened == 2  # c07 reopened, c40 opened: nobody else


def test_value_tuples_sharing_a_hash_are_compared_column_by_column(
        klaviyo_emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The span comparison joins on the customer and a 64-bit hash of the other eight
    recorded columns only when no two value tuples the recipients and the open spans hold
    share that hash (``Store._compact_span_diff``). With a hash that gives every tuple the
    same value, each delivery falls back to the nine-column join and still records exactly
    what explicit rows recorded: a sub-audience, a segment name and a treatment name
    changed with the profile unchanged, a control member's segment, a leave, a join."""
    import loader.store

    monkeypatch.setattr(loader.store, "SPAN_HASH", "(0 * hash({}))")
    path = str(tmp_path / "w.duckdb")
    c = Campaign(klaviyo_emulator, path)
    # no customer on two rows of one key: the comparison is not redone grouped
    rows = [r for r in base() if r.email != "c01.second@example.com"]
    c.push(rows)
    at = {r.amperity_id: i for i, r in enumerate(rows)}
    for amperity_id, changes in (("c08", {"sub_audience_id": "vip", "sub_audience_name": "VIP"}),
                                 ("c09", {"segment_name": "Very important"}),
                                 ("c11", {"treatment_name": "Offer A (v2)"}),
                                 ("c20", {"segment_id": "seg_z"})):
        rows[at[amperity_id]] = replace(rows[at[amperity_id]], **changes)  # type: ignore[arg-type]
    c.push([r for r in rows if r.amperity_id != "c07"])
    (opened, closed), = query(path, f"select count(*) filter (where first_number = 2), "
                                    f"count(*) filter (where last_number = 1) "
                                    f"from {S}.recipient_spans")
    assert (opened, closed) == (4, 5)
    rows.append(Row("c40", "c40@example.com"))  # a join: one span opened
    c.push(rows)


def test_value_tuples_sharing_a_hash_that_differ_by_a_null_are_compared(
        klaviyo_emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check that no two value tuples share a hash (``Store._compact_span_diff``)
    tells tuples apart that differ only by a null, or only by a value, with nothing else
    (control, a null sub-audience) to tell them apart. With a hash that gives every tuple
    the same value: a recipient whose sub-audience name became null (nothing else of its
    row changed) is recorded as changed, and back again; one whose segment name changed
    (no null on either side) too."""
    import loader.store

    monkeypatch.setattr(loader.store, "SPAN_HASH", "(0 * hash({}))")
    path = str(tmp_path / "w.duckdb")
    c = Campaign(klaviyo_emulator, path)
    rows = [Row(f"c{i:02d}", f"c{i:02d}@example.com") for i in range(5)]
    c.push(rows)  # 1: one value tuple
    rows[2] = replace(rows[2], sub_audience_name=None)
    c.push(rows)  # 2: c02's tuple differs from the others' by a null only
    (opened, closed), = query(path, f"select count(*) filter (where first_number = 2), "
                                    f"count(*) filter (where last_number = 1) "
                                    f"from {S}.recipient_spans")
    assert (opened, closed) == (1, 1)
    rows[2] = replace(rows[2], sub_audience_name="All")
    c.push(rows)  # 3: and back
    (opened, closed), = query(path, f"select count(*) filter (where first_number = 3), "
                                    f"count(*) filter (where last_number = 2) "
                                    f"from {S}.recipient_spans")
    assert (opened, closed) == (1, 1)
    rows[3] = replace(rows[3], segment_name="Other")
    c.push(rows)  # 4: two tuples with no null, one hash: told apart by their values
    (opened, closed), = query(path, f"select count(*) filter (where first_number = 4), "
                                    f"count(*) filter (where last_number = 3) "
                                    f"from {S}.recipient_spans")
    assert (opened, closed) == (1, 1)


def test_a_first_delivery_with_no_repeated_key_records_only_members(
        klaviyo_emulator, tmp_path: Path) -> None:
    """A first full delivery where no customer is on two rows of one key writes its
    recipients straight into the spans (``Store._open_spans``), the proof of membership
    inside that one insert: a shrunk row, a control member and a duplicate email (c03 shares
    c02's: only one of them is sent) are recorded as explicit rows would record them, and
    every span is numbered once."""
    path = str(tmp_path / "w.duckdb")
    c = Campaign(klaviyo_emulator, path)
    c.push([r for r in base() if r.email != "c01.second@example.com"])
    (n, keys), = query(path, f"select count(*), count(distinct (amperity_id, sub_audience_id, "
                             f"treatment_id, list_id)) from {S}.recipient_spans")
    assert n == keys > 0

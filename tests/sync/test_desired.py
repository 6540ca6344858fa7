"""Desired rows and the diff cost what the change costs (docs/sync.md, "Change detection").

Identifiers with one row are a plain projection; only identifiers held by several rows
(expansion rows, customers sharing the identifier) are aggregated. The diff joins narrow rows
and fetches the values of the rows it keeps; when most rows changed it carries every column
through one join instead. Both ways give the same rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import duckdb
import pytest

from loader.config import STATE_SCHEMA as SCHEMA
from loader.errors import EXIT_OK
from loader.sync import PushResult
from loader.sync.plan import (
    CHANGED,
    CHANGED_DESIRED,
    CHANGED_MEMBERS,
    CHANGED_VALUES,
    DESIRED,
    DIFF,
    SEVERAL,
    Planner,
)
from loader.warehouse import attribute_columns, read_campaigns
from tests.sync.helpers import CampaignSpec, Member, query, write_warehouse

LIST = "Spring Sale A"
UNIQUE = 1000


def members() -> list[Member]:
    out = [Member(f"amp-{i:05d}", f"u{i}@example.com", "Ann", "Paris", "gold")
           for i in range(UNIQUE)]
    # one email held by two customers: the smallest amperity_id is sent, the other reported
    out.append(Member("amp-zz-1", "shared@example.com", "First", "Oslo", "gold"))
    out.append(Member("amp-zz-2", "shared@example.com", "Second", "Rome", "silver"))
    # one customer on two rows (an expansion row): one profile, its tier a list
    out.append(Member("amp-xx-1", "expand@example.com", "Exp", "Lima", "gold"))
    out.append(Member("amp-xx-1", "expand@example.com", "Exp", "Lima", "silver"))
    return out


@pytest.fixture
def spec() -> CampaignSpec:
    return CampaignSpec(members=members())


def imports(emulator: Any) -> int:
    return int(emulator.stats()["requests"].get("bulk_import_profiles", 0))


def only_list(result: PushResult) -> Any:
    assert result.exit_code == EXIT_OK, result.error
    (r,) = result.lists
    return r


def test_several_rows_among_unique_ones_exact_list_then_nothing_sent(
        klaviyo_emulator, spec: CampaignSpec, warehouse: str,
        run_push: Callable[..., PushResult]) -> None:
    first = only_list(run_push())
    assert (first.added, first.duplicates) == (UNIQUE + 2, 1)
    emails = {f"u{i}@example.com" for i in range(UNIQUE)} | {"shared@example.com",
                                                             "expand@example.com"}
    assert klaviyo_emulator.lists()[LIST]["emails"] == emails
    shared = klaviyo_emulator.find_profile(email="shared@example.com")
    assert (shared["first_name"], shared["location"]["city"]) == ("First", "Oslo")
    assert shared["properties"]["loyalty_tier"] == "gold"
    assert klaviyo_emulator.find_profile(email="expand@example.com")["properties"][
        "loyalty_tier"] == ["gold", "silver"]
    assert klaviyo_emulator.find_profile(email="u7@example.com")["properties"][
        "loyalty_tier"] == "gold"
    reasons = query(warehouse, "select amperity_id, reason from klaviyo_loader.rejected_rows")
    assert [a for a, _ in reasons] == ["amp-zz-2"]
    assert reasons[0][1].startswith("duplicate_email:") and "amp-zz-1" in reasons[0][1]

    sent = imports(klaviyo_emulator)
    second = only_list(run_push())
    assert (second.added, second.updated, second.unchanged, second.removed) == (
        0, 0, UNIQUE + 2, 0)
    assert second.duplicates == 1
    assert imports(klaviyo_emulator) == sent

    # one unique row, the expansion row and the shared customer sent change: three profiles
    spec.members[5].city = "Oslo"
    spec.members[-1].loyalty_tier = "platinum"
    spec.members[UNIQUE].first_name = "Premier"
    write_warehouse(warehouse, [spec])
    third = only_list(run_push())
    assert (third.added, third.updated, third.unchanged) == (0, 3, UNIQUE - 1)
    assert klaviyo_emulator.find_profile(email="u5@example.com")["location"]["city"] == "Oslo"
    assert klaviyo_emulator.find_profile(email="expand@example.com")["properties"][
        "loyalty_tier"] == ["gold", "platinum"]
    assert klaviyo_emulator.find_profile(email="shared@example.com")["first_name"] == "Premier"
    assert only_list(run_push()).updated == 0


def planner(con: duckdb.DuckDBPyConnection, list_name: str = LIST) -> tuple[Planner, str]:
    """A planner of the warehouse's only campaign with its desired rows built, and the list's
    id in state."""
    (campaign,) = read_campaigns(con)
    account_id, list_id = con.execute(
        f"select account_id, list_id from {SCHEMA}.list_members limit 1").fetchone()
    p = Planner(con, SCHEMA, account_id)
    p.build_desired(campaign, list_name, attribute_columns(con, campaign), None)
    p.load_uncertain(list_id)
    return p, list_id


def diff_rows(con: duckdb.DuckDBPyConnection, p: Planner, list_id: str, path: str
              ) -> list[tuple[Any, ...]]:
    rows = con.execute(f"select * from ({p.diff_sql(list_id, path)})").fetchall()
    return sorted(rows, key=lambda r: (r[0], r[1]))


def test_the_narrow_and_the_wide_diff_give_the_same_rows(
        klaviyo_emulator, spec: CampaignSpec, warehouse: str,
        run_push: Callable[..., PushResult]) -> None:
    run_push()
    for m in spec.members[:3]:
        m.city = "Changed"  # changes
    spec.members[3].loyalty_tier = None  # a change clearing a property
    spec.members[4].city = None  # a change with a location field to clear
    del spec.members[10:13]  # removals
    spec.members.append(Member("amp-new-1", "new1@example.com", "Neu", "Oslo", "gold"))
    spec.members[-2].loyalty_tier = "bronze"  # the expansion customer's second row
    write_warehouse(warehouse, [spec])
    con = duckdb.connect(warehouse)
    try:
        # a member a killed run left uncertain, and one no longer desired it may have sent
        account_id = con.execute(f"select any_value(account_id) from {SCHEMA}.list_members"
                                 ).fetchone()[0]
        list_id = con.execute(f"select any_value(list_id) from {SCHEMA}.list_members"
                              ).fetchone()[0]
        con.execute(f"insert into {SCHEMA}.pending_rows (account_id, list_id, seq, op, "
                    f"identifier, amperity_id, fingerprint, fields) values "
                    f"(?, ?, 1, 'upsert', 'u30@example.com', 'amp-00030', 'h1.1', 32767), "
                    f"(?, ?, 2, 'upsert', 'gone@example.com', 'amp-gone', 'h2.2', 8)",
                    [account_id, list_id, account_id, list_id])
        p, list_id = planner(con)
        # a member an older loader sent: its fingerprint the md5 of the profile's JSON
        con.execute(f"update {SCHEMA}.list_members set fingerprint = 'older' "
                    f"where identifier = 'u20@example.com'")
        (payload,) = [r[4] for r in diff_rows(con, p, list_id, "wide")
                      if r[1] == "u20@example.com"]
        assert payload.startswith('{"type":"profile"')
        con.execute(f"update {SCHEMA}.list_members set fingerprint = md5(?) "
                    f"where identifier = 'u20@example.com'", [payload])
        assert con.execute(f"select count(*) from {SEVERAL}").fetchone() == (2,)
        con.execute(f"create temp table {CHANGED} as {p.changed_sql(list_id)}")
        p.stage_changed(list_id)
        narrow = diff_rows(con, p, list_id, "changed")
        wide = diff_rows(con, p, list_id, "wide")
        assert narrow == wide
        kinds: dict[str, int] = {}
        for r in narrow:
            kinds[r[0]] = kinds.get(r[0], 0) + 1
        # five members changed, the expansion customer, u30 (uncertain); u20 rendered, its md5
        # equal: unchanged, its fingerprint upgraded; removed: three members and `gone`
        assert kinds == {"add": 1, "change": 7, "remove": 4, "unchanged": 1}
        assert [(r[1], r[-1]) for r in narrow if r[0] == "unchanged"] == [
            ("u20@example.com", True)]
        by_id = {r[1]: r for r in narrow}
        assert by_id["u0@example.com"][4] is not None  # the rows sent carry their JSON
        assert by_id["u11@example.com"][4] is None
        # the plan takes the narrow way for a small change; its seq are the desired rows'
        plan = p.plan(p.campaign, LIST, list_id, True, None)  # type: ignore[arg-type]
        assert (plan.adds, plan.changes, plan.removals) == (1, 7, 4)
        assert con.execute(
            f"select count(*), count(*) filter (where f.seq = d.rowid + 1) from {DIFF} as f "
            f"inner join {DESIRED} as d on d.identifier = f.identifier "
            f"where f.seq is not null").fetchone() == (8, 8)
    finally:
        con.close()


def test_a_push_with_every_row_changed_takes_the_wide_diff(
        klaviyo_emulator, spec: CampaignSpec, warehouse: str,
        run_push: Callable[..., PushResult]) -> None:
    run_push()
    for m in spec.members:
        m.first_name = "Renamed"
    write_warehouse(warehouse, [spec])
    result = only_list(run_push())
    assert (result.updated, result.unchanged) == (UNIQUE + 2, 0)
    assert klaviyo_emulator.find_profile(email="u999@example.com")["first_name"] == "Renamed"
    assert only_list(run_push()).unchanged == UNIQUE + 2



def test_a_list_state_knows_nothing_of_plans_the_same_rows_without_the_classification(
        spec: CampaignSpec, warehouse: str) -> None:
    """A first push takes ``fresh_sql`` (every row an add, nothing joined): the same rows,
    byte for byte, as the general diff's ``none`` way, oversize and aggregated rows too."""
    spec.members.append(Member("amp-big-1", "big@example.com", "Big", "Oslo",
                               "x" * 110_000))  # a profile over Klaviyo's 100 KB
    write_warehouse(warehouse, [spec])
    con = duckdb.connect(warehouse)
    try:
        (campaign,) = read_campaigns(con)
        p = Planner(con, SCHEMA, "acct")
        p.build_desired(campaign, LIST, attribute_columns(con, campaign), None)
        fresh = diff_rows(con, p, "L1", "fresh")
        assert fresh == diff_rows(con, p, "L1", "none")
        kinds = [r[0] for r in fresh]
        assert (kinds.count("add"), kinds.count("oversize")) == (UNIQUE + 2, 1)
        plan = p.plan(campaign, LIST, None, False, None)
        assert (plan.adds, plan.oversize, plan.unchanged) == (UNIQUE + 2, 1, 0)
        assert con.execute(f"select count(*), count(seq), min(seq), max(seq) from {DIFF}"
                           ).fetchone() == (UNIQUE + 3, UNIQUE + 2, 1, UNIQUE + 3)
    finally:
        con.close()


def test_a_job_body_is_the_same_bytes_whether_joined_as_text_or_as_bytes() -> None:
    """Job bodies are joined from the profiles' UTF-8 bytes (no Python string is made of
    them): byte for byte the body ``import_job_body`` builds from text."""
    from loader.klaviyo.payloads import import_job_body, import_job_body_bytes

    profiles = ['{"type":"profile","attributes":{"email":"åsa@example.com",'
                '"first_name":"Chloé 😀","properties":{"q":"a\\"b\\\\c"}}}',
                '{"type":"profile","attributes":{"email":"b@example.com"}}']
    for list_id in ("AbC123", 'we"ird', None):
        for chosen in (profiles, profiles[:1], []):
            assert import_job_body_bytes([p.encode() for p in chosen], list_id) == \
                import_job_body(chosen, list_id).encode()



def test_a_job_body_holds_its_profiles_in_seq_order_however_the_rows_lie() -> None:
    """``job_body`` reads a job's profiles from ``DIFF`` unsorted and puts them in seq order
    itself: rows written in another order than their seqs (a parallel insert, a connection
    that does not preserve insertion order), with gaps and rows without a seq, still give
    the body of the range's profiles in seq order, byte for byte."""
    from loader.klaviyo.payloads import import_job_body
    from loader.sync.apply import job_body

    con = duckdb.connect()
    try:
        con.execute(f"""create temp table {DIFF} as
            select case when i % 11 = 5 then null else 3 * ((i * 7919) % 30011) end as seq,
                '{{"type":"profile","attributes":{{"email":"c' || ((i * 7919) % 30011)
                    || '@x.io","first_name":"Chloé"}}}}' as payload
            from range(30011) as t(i)""")
        rows = con.execute(f"select seq, payload from {DIFF}").fetchall()
        assert [r[0] for r in rows if r[0] is not None] != sorted(
            r[0] for r in rows if r[0] is not None)  # the table's rows lie out of seq order
        for a, b in ((1, 90_033), (301, 3_000), (0, 0), (7, 8), (90_000, 99_999)):
            want = [p for s, p in sorted(r for r in rows if r[0] is not None)
                    if a <= s <= b]
            assert job_body(con, a, b, "AbC123") == (
                import_job_body(want, "AbC123").encode(), len(want))
    finally:
        con.close()

def planned(con: duckdb.DuckDBPyConnection, list_id: str, prepared: bool
            ) -> tuple[dict[str, Any], list[tuple[Any, ...]], list[tuple[Any, ...]], bool,
                       int | None]:
    """Plan the list the way a push does, with ``build_desired(list_id=…)`` (the narrow diff
    joined there proves by counts that no identifier has several rows), or without (one
    pass groups the list's rows by identifier first). The plan's counts, its ``DIFF`` rows,
    its duplicates, the identifiers with several rows, and the keys the narrow diff kept
    (``CHANGED``, when joined by ``build_desired``)."""
    (campaign,) = read_campaigns(con)
    account_id = con.execute(f"select any_value(account_id) from {SCHEMA}.list_members"
                             ).fetchone()[0]
    p = Planner(con, SCHEMA, account_id)
    p.build_desired(campaign, LIST, attribute_columns(con, campaign), None,
                    list_id if prepared else None)
    changed = con.execute(f"select count(*) from {CHANGED}").fetchone()[0] if prepared else None
    plan = p.plan(campaign, LIST, list_id, True, None).as_dict()
    rows = sorted(con.execute(f"select * from {DIFF}").fetchall(),
                  key=lambda r: (str(r[1]), str(r[2])))
    dups = sorted(con.execute("select * from _klaviyo_duplicates").fetchall())
    several = sorted(con.execute(f"select * from {SEVERAL}").fetchall())
    return plan, rows, dups, several, changed


@pytest.mark.parametrize("scenario", ["one_row_each", "several_rows", "rows_repeated",
                                      "new_on_two_rows"])
def test_a_plan_reading_only_the_changed_rows_values_gives_the_same_rows(
        klaviyo_emulator, warehouse: str, run_push: Callable[..., PushResult],
        scenario: str) -> None:
    """A push plans a list state knows without grouping its rows by identifier: the narrow
    diff, joined as the desired rows are built, proves by counts that no identifier has
    several rows. Same counts, same rows byte for byte (seq included), same duplicates as
    the plan that groups first — also when an identifier has several rows, gains one that
    repeats a row state holds (the same customer twice; another customer with the same
    values: no fingerprint differs there, only the counts tell), or is new on two rows."""
    spec = CampaignSpec(members=members() if scenario == "several_rows"
                        else members()[:UNIQUE])
    write_warehouse(warehouse, [spec])
    run_push()
    for m in spec.members[:3]:
        m.city = "Changed"
    spec.members[4].city = None  # a location field to clear
    del spec.members[10:13]
    spec.members.append(Member("amp-new-1", "new1@example.com", "Neu", "Oslo", "gold"))
    if scenario == "rows_repeated":
        spec.members.append(Member("amp-00005", "u5@example.com", "Ann", "Paris", "gold"))
        spec.members.append(Member("amp-00006x", "u6@example.com", "Ann", "Paris", "gold"))
    if scenario == "new_on_two_rows":  # both adds: only the adds' own group by tells
        spec.members.append(Member("amp-new-2", "new2@example.com", "Neu", "Oslo", "gold"))
        spec.members.append(Member("amp-new-2", "new2@example.com", "Neu", "Oslo", "silver"))
    write_warehouse(warehouse, [spec])
    con = duckdb.connect(warehouse)
    try:
        account_id, list_id = con.execute(
            f"select any_value(account_id), any_value(list_id) from {SCHEMA}.list_members"
        ).fetchone()
        con.execute(f"insert into {SCHEMA}.pending_rows (account_id, list_id, seq, op, "
                    f"identifier, amperity_id, fingerprint, fields) values "
                    f"(?, ?, 1, 'upsert', 'u30@example.com', 'amp-00030', 'h1.1', 32767)",
                    [account_id, list_id])
        whole = planned(con, list_id, prepared=False)
        narrow = planned(con, list_id, prepared=True)
    finally:
        con.close()
    assert (narrow[0], narrow[2], narrow[3]) == (whole[0], whole[2], whole[3])
    assert bool(narrow[3]) == (scenario != "one_row_each")
    # the narrow join kept the keys the diff holds, no more (a desired fingerprint computed
    # otherwise than state's would keep every row, and the plan take the wide way instead)
    assert narrow[4] == len(narrow[1])
    # the same rows byte for byte; the same seq, except among the aggregated rows (several
    # rows to an identifier), which a group by numbers in no set order
    assert [r[1:] for r in narrow[1]] == [r[1:] for r in whole[1]]
    assert sorted(r[0] or 0 for r in narrow[1]) == sorted(r[0] or 0 for r in whole[1])
    aggregated = {"u5@example.com", "u6@example.com", "new2@example.com",
                  "shared@example.com", "expand@example.com"}
    assert [r for r in narrow[1] if r[2] not in aggregated] == [
        r for r in whole[1] if r[2] not in aggregated]
    plan = narrow[0]
    assert (plan["removals"], plan["uncertain"]) == (3, 1)
    if scenario == "new_on_two_rows":
        assert (plan["adds"], plan["changes"], plan["desired"]) == (2, 5, UNIQUE - 3 + 2)
    elif scenario == "rows_repeated":  # u5 re-sent once, aggregated; amp-00006x not sent
        assert plan["adds"] == 1
        assert narrow[2] == [("amp-00006", "u6@example.com", "email", None),
                             ("amp-00006x", "u6@example.com", "email", "amp-00006")]
        assert plan["changes"] == 3 + 1 + 1 + 2 and plan["duplicates"] == 1
    else:
        assert (plan["adds"], plan["changes"]) == (1, 3 + 1 + 1)


def test_the_narrow_diff_joins_only_tables_of_the_changed_keys(
        klaviyo_emulator, warehouse: str, run_push: Callable[..., PushResult]) -> None:
    """With narrow desired rows (a list state knows, one row an identifier) the diff's own
    statement scans no relation the size of the list: what it reads of the members, of the
    desired rows and of the list's rows is copied for ``CHANGED``'s keys first, one statement
    each (``Planner.stage_changed``). Joined in the diff, their three hash tables of wide rows
    were held at once, and a 1 % push of 10M profiles ran out of DuckDB's 256 MB."""
    spec = CampaignSpec(members=members()[:UNIQUE])
    write_warehouse(warehouse, [spec])
    run_push()
    for m in spec.members[:3]:
        m.city = "Changed"
    del spec.members[10:13]
    spec.members.append(Member("amp-new-1", "new1@example.com", "Neu", "Oslo", "gold"))
    write_warehouse(warehouse, [spec])
    con = duckdb.connect(warehouse)
    try:
        (campaign,) = read_campaigns(con)
        account_id, list_id = con.execute(
            f"select any_value(account_id), any_value(list_id) from {SCHEMA}.list_members"
        ).fetchone()
        p = Planner(con, SCHEMA, account_id)
        p.build_desired(campaign, LIST, attribute_columns(con, campaign), None, list_id)
        assert p.narrow
        p.stage_changed(list_id)
        staged = [con.execute(f"select count(*) from {t}").fetchone()[0]
                  for t in (CHANGED_MEMBERS, CHANGED_DESIRED, CHANGED_VALUES)]
        assert staged == [6, 4, 4]  # 3 changed, 3 gone; 3 changed, 1 new
        plan = "\n".join(str(r[1]) for r in con.execute(
            f"explain select * from ({p.diff_sql(list_id, 'changed')})").fetchall())
        scanned = {t.split(".")[-1].strip('"') for t in re.findall(r"Table: (\S+)", plan)}
        assert scanned, plan
        assert scanned <= {CHANGED, CHANGED_MEMBERS, CHANGED_DESIRED, CHANGED_VALUES,
                           "rejected_members"}, scanned
        result = p.plan(campaign, LIST, list_id, True, None)
        assert (result.adds, result.changes, result.removals) == (1, 3, 3)
    finally:
        con.close()

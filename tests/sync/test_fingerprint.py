"""Change detection without rendering every profile (docs/sync.md, "Change detection").

A desired row keeps its typed values and a 128-bit fingerprint of them; the JSON is rendered
only for the rows sent. Whatever the value's type, a value changed alone on one member sends
that member (and no other); a mapping change sends everyone once; state written by an older
loader (md5 fingerprints of the JSON) never hides a change and re-sends nothing that did not
change.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from loader.errors import EXIT_OK
from loader.klaviyo.payloads import profile_sql, value_json
from loader.sync import PushOptions, PushResult, push
from tests.sync.conftest import settings_for
from tests.sync.helpers import FIXED, REGISTRY_COLUMNS, query

TYPED = ("email varchar, first_name varchar, city varchar, score integer, "
         "amount decimal(18, 2), vip boolean, note varchar, tier varchar")
COLUMNS = ["email", "first_name", "city", "score", "amount", "vip", "note", "tier"]
LIST = "Typed list"


def base_rows() -> list[dict[str, Any]]:
    rows = []
    for i in range(12):
        rows.append({"amperity_id": f"amp-{i:03d}", "email": f"typed{i}@example.com",
                     "first_name": "Ann", "city": "Paris", "score": 1, "amount": "1.50",
                     "vip": True, "note": "a", "tier": "gold"})
    rows[4]["note"] = None
    rows[5]["note"] = ""
    rows[6]["score"] = None
    rows[9]["note"], rows[9]["tier"] = "x", "y"
    return rows


def write(path: str, rows: list[dict[str, Any]], columns: list[str] = COLUMNS,
          types: str = TYPED, mapped: str | None = None) -> None:
    con = duckdb.connect(path)
    try:
        con.execute(f"create or replace table main.klaviyo_campaigns ({REGISTRY_COLUMNS})")
        con.execute(
            "insert into main.klaviyo_campaigns values ('typed', 'Typed', 'one_time', "
            "'\"main\".\"aud_typed\"', 'email', true, 'asap', null, null, null, "
            "timestamp '2026-01-01 09:00:00', ?, ?, 'klaviyo', 'Klaviyo', now(), 'inv-1')",
            [mapped or ",".join(columns), LIST])
        con.execute(f"create or replace table main.aud_typed ({FIXED}, {types})")
        for r in rows:
            fixed = ["typed", "Typed", "all", "All", "a", "A", False, LIST, "seg", "Seg",
                     r["amperity_id"], None]
            marks = ", ".join("?" * (12 + len(columns)))
            con.execute(f"insert into main.aud_typed values ({marks})",
                        fixed + [r[c] for c in columns])
    finally:
        con.close()


@pytest.fixture
def typed(tmp_path: Path) -> str:
    path = str(tmp_path / "typed.duckdb")
    write(path, base_rows())
    return path


@pytest.fixture
def run(klaviyo_emulator) -> Callable[..., PushResult]:  # noqa: ANN001
    def go(path: str, **options: Any) -> PushResult:
        options.setdefault("campaigns", ["typed"])
        result = push(settings_for(klaviyo_emulator, path), PushOptions(**options))
        assert result.exit_code == EXIT_OK, result.error
        return result
    return go


def counts(result: PushResult) -> tuple[int, int, int]:
    (r,) = result.lists
    return r.added, r.updated, r.unchanged


def imports(emulator) -> int:  # noqa: ANN001
    return int(emulator.stats()["requests"].get("bulk_import_profiles", 0))


def test_each_type_changed_alone_sends_that_member_only(klaviyo_emulator, typed, run) -> None:
    assert counts(run(typed)) == (12, 0, 0)
    assert counts(run(typed)) == (0, 0, 12)  # nothing changed: nothing sent
    rows = base_rows()
    rows[0]["score"] = 2  # integer property
    rows[1]["amount"] = "1.51"  # decimal property
    rows[2]["note"] = "b"  # varchar property
    rows[3]["vip"] = False  # boolean property
    rows[4]["note"] = ""  # NULL -> ''
    rows[5]["note"] = None  # '' -> NULL
    rows[6]["score"] = 0  # NULL -> 0 (0 hashes to 0 in DuckDB)
    rows[7]["first_name"] = "Anne"  # a profile field
    rows[8]["city"] = "Oslo"  # a location field
    rows[9]["note"], rows[9]["tier"] = "y", "x"  # two values swapped between columns
    write(typed, rows)
    assert counts(run(typed)) == (0, 10, 2)
    p = [klaviyo_emulator.find_profile(email=f"typed{i}@example.com") for i in range(12)]
    assert p[0]["properties"]["score"] == 2
    assert p[1]["properties"]["amount"] == pytest.approx(1.51)
    assert p[2]["properties"]["note"] == "b"
    assert p[3]["properties"]["vip"] is False
    assert p[4]["properties"]["note"] == ""
    assert "note" not in p[5]["properties"]
    assert p[6]["properties"]["score"] == 0
    assert p[7]["first_name"] == "Anne"
    assert p[8]["location"]["city"] == "Oslo"
    assert (p[9]["properties"]["note"], p[9]["properties"]["tier"]) == ("y", "x")
    assert p[10]["properties"] == {"score": 1, "amount": pytest.approx(1.5), "vip": True,
                                   "note": "a", "tier": "gold"}
    assert counts(run(typed)) == (0, 0, 12)
    fingerprints = query(typed, "select fingerprint from klaviyo_loader.list_members")
    assert len(fingerprints) == 12 and all(f.startswith("h") for (f,) in fingerprints)


def test_a_mapping_or_type_change_sends_everyone_once(klaviyo_emulator, typed, run) -> None:
    run(typed)
    # a column left out of the mapping: every profile's JSON changes
    write(typed, base_rows(), mapped="email,first_name,city,score,amount,vip,note")
    assert counts(run(typed)) == (0, 12, 0)
    assert counts(run(typed)) == (0, 0, 12)
    # the same values under a profile field's name instead of a property's
    renamed = [c if c != "note" else "title" for c in COLUMNS]
    rows = [{("title" if k == "note" else k): v for k, v in r.items()} for r in base_rows()]
    write(typed, rows, renamed, TYPED.replace("note varchar", "title varchar"))
    assert counts(run(typed)) == (0, 12, 0)
    assert klaviyo_emulator.find_profile(email="typed2@example.com")["title"] == "a"
    # the same stored number, another JSON: 1.50 as decimal(18, 2) and 15.0 as
    # decimal(18, 1) are both 150 to DuckDB's hash(); the type is in the fingerprint
    for r in rows:
        r["amount"] = "15.0"
    write(typed, rows, renamed, TYPED.replace("note varchar", "title varchar")
          .replace("decimal(18, 2)", "decimal(18, 1)"))
    assert counts(run(typed)) == (0, 12, 0)
    assert klaviyo_emulator.find_profile(email="typed2@example.com")["properties"][
        "amount"] == pytest.approx(15.0)
    assert counts(run(typed)) == (0, 0, 12)


def old_fingerprints(path: str) -> None:
    """State as the previous loader wrote it: each member's fingerprint the md5 of the
    profile's JSON, rendered as that loader rendered every row (the same SQL rendering)."""
    texts = ", ".join(
        "to_json(cast(email as varchar)) as email" if c == "email" else
        f"{value_json(c)} as {c}" for c in COLUMNS)
    con = duckdb.connect(path)
    try:
        con.execute(f"""
            create temp table older as
            select identifier, md5({profile_sql(COLUMNS, 'email', True)}) as fingerprint
            from (select cast(email as varchar) as identifier, {texts} from main.aud_typed)""")
        con.execute("update klaviyo_loader.list_members as m set fingerprint = o.fingerprint "
                    "from older as o where o.identifier = m.identifier")
        # a member whose content changed since the older loader sent it
        con.execute("update klaviyo_loader.list_members set fingerprint = md5('before') "
                    "where identifier = 'typed3@example.com'")
    finally:
        con.close()


def test_state_from_an_older_loader_never_misses_and_resends_only_changes(
        klaviyo_emulator, typed, run) -> None:
    run(typed)
    old_fingerprints(typed)
    assert all(not f.startswith("h") for (f,) in query(
        typed, "select fingerprint from klaviyo_loader.list_members"))
    plan = run(typed, dry_run=True)
    assert (plan.lists[0].plan.changes, plan.lists[0].plan.unchanged) == (1, 11)
    sent = imports(klaviyo_emulator)
    assert counts(run(typed)) == (0, 1, 11)
    assert imports(klaviyo_emulator) == sent + 1
    # state now holds this loader's fingerprints: the next unchanged push renders nothing
    assert all(f.startswith("h") for (f,) in query(
        typed, "select fingerprint from klaviyo_loader.list_members"))
    assert counts(run(typed)) == (0, 0, 12)
    rows = base_rows()
    rows[11]["score"] = 7
    write(typed, rows)
    assert counts(run(typed)) == (0, 1, 11)
    assert klaviyo_emulator.find_profile(email="typed11@example.com")["properties"]["score"] == 7


def test_a_customer_with_several_rows_is_sent_when_one_row_changes(
        klaviyo_emulator, typed, run) -> None:
    rows = base_rows()
    rows.append({**rows[10], "tier": "silver"})  # expansion rows: tier becomes a list
    write(typed, rows)
    assert counts(run(typed)) == (12, 0, 0)
    p = klaviyo_emulator.find_profile(email="typed10@example.com")
    assert p["properties"]["tier"] == ["gold", "silver"]
    assert counts(run(typed)) == (0, 0, 12)
    rows[-1]["tier"] = "platinum"
    write(typed, rows)
    assert counts(run(typed)) == (0, 1, 11)
    p = klaviyo_emulator.find_profile(email="typed10@example.com")
    assert p["properties"]["tier"] == ["gold", "platinum"]
    # back to one row: the same member again, with a single value
    write(typed, base_rows())
    assert counts(run(typed)) == (0, 1, 11)
    assert klaviyo_emulator.find_profile(email="typed10@example.com")["properties"][
        "tier"] == "gold"


def test_a_refused_row_with_an_older_fingerprint_stays_held(klaviyo_emulator, typed) -> None:
    rows = base_rows()
    rows[2]["note"] = "x" * 120_000  # over Klaviyo's 100 KB a profile: refused, held
    write(typed, rows)
    settings = settings_for(klaviyo_emulator, typed)
    options = {"campaigns": ["typed"]}
    assert push(settings, PushOptions(**options)).lists[0].rejected == 1
    plan = push(settings, PushOptions(dry_run=True, **options)).lists[0].plan
    assert (plan.held_rejected, plan.oversize) == (1, 0)
    texts = ", ".join("to_json(cast(email as varchar)) as email" if c == "email" else
                      f"{value_json(c)} as {c}" for c in COLUMNS)
    con = duckdb.connect(typed)
    try:  # as an older loader stored it: the md5 of the profile's JSON
        con.execute(f"""
            update klaviyo_loader.rejected_members as r set fingerprint = o.fingerprint
            from (select identifier, md5({profile_sql(COLUMNS, 'email', True)}) as fingerprint
                  from (select cast(email as varchar) as identifier, {texts}
                        from main.aud_typed)) as o
            where o.identifier = r.identifier""")
    finally:
        con.close()
    assert not query(typed, "select fingerprint from klaviyo_loader.rejected_members"
                     )[0][0].startswith("h")
    plan = push(settings, PushOptions(dry_run=True, **options)).lists[0].plan
    assert (plan.held_rejected, plan.oversize, plan.changes) == (1, 0, 0)


BIG = 2**53 + 1  # a double cannot hold it: Klaviyo would store 2**53


def test_numbers_a_double_cannot_hold_are_sent_exactly_as_strings(
        klaviyo_emulator, tmp_path: Path, run) -> None:
    """A BIGINT loyalty number or a DECIMAL(38, 0) id beyond 2**53 (a DECIMAL(18, 2) beyond 15
    digits) reaches Klaviyo as a string of its exact digits; every other value of the same
    columns is still a number. Only the rows holding such a value have another fingerprint
    than before (sent again once, where an older loader sent them rounded): the others keep
    theirs, so nothing else is sent again."""
    from loader.warehouse import exact_number_sql, fingerprint_sql

    path = str(tmp_path / "big.duckdb")
    cols = ["email", "loyalty", "ref", "spend"]
    types = "email varchar, loyalty bigint, ref decimal(38, 0), spend decimal(18, 2)"
    rows = [{"amperity_id": "amp-1", "email": "big@example.com", "loyalty": BIG,
             "ref": str(10**20 + 1), "spend": "12345678901234.56"},
            {"amperity_id": "amp-2", "email": "small@example.com", "loyalty": 42,
             "ref": "7", "spend": "19.99"}]
    write(path, rows, cols, types)
    assert counts(run(path)) == (2, 0, 0)
    big = klaviyo_emulator.find_profile(email="big@example.com")["properties"]
    small = klaviyo_emulator.find_profile(email="small@example.com")["properties"]
    assert big == {"loyalty": str(BIG), "ref": str(10**20 + 1), "spend": "12345678901234.56"}
    assert small == {"loyalty": 42, "ref": 7, "spend": pytest.approx(19.99)}
    assert counts(run(path)) == (0, 0, 2)  # stable: nothing sent again

    # the fingerprint of a row with exact values only is the one an older loader stored
    con = duckdb.connect()
    seeds = (11, 22)
    values = [("v", "fixed")]
    for value, changed in ((42, False), (BIG, True), (-(2**53), False), (None, False)):
        sql = f"select ({{}}) from (select {value if value is not None else 'null'}::bigint as v)"
        before = con.execute(sql.format(fingerprint_sql(values, seeds))).fetchone()
        now = con.execute(sql.format(fingerprint_sql(
            values, seeds, [exact_number_sql("v", "BIGINT") or ""]))).fetchone()
        assert (before != now) == changed, value


def test_a_float_that_is_not_a_number_is_sent_as_no_value(
        klaviyo_emulator, tmp_path: Path, run) -> None:
    """JSON has no NaN nor infinity (a body holding one is not JSON: the emulator refuses it,
    as a real JSON parser does): a DOUBLE property that is NaN or infinite is sent as no
    value (NULL: unset), in a list of doubles as null; the finite values as they are."""
    path = str(tmp_path / "nan.duckdb")
    cols = ["email", "score", "scores"]
    types = "email varchar, score double, scores double[]"
    rows = [{"amperity_id": "amp-1", "email": "nan@example.com", "score": float("nan"),
             "scores": [float("inf"), 1.5]},
            {"amperity_id": "amp-2", "email": "inf@example.com", "score": float("-inf"),
             "scores": None},
            {"amperity_id": "amp-3", "email": "fine@example.com", "score": 2.5,
             "scores": [0.5]}]
    write(path, rows, cols, types)
    assert counts(run(path)) == (3, 0, 0)
    props = {e: klaviyo_emulator.find_profile(email=f"{e}@example.com")["properties"]
             for e in ("nan", "inf", "fine")}
    assert props == {"nan": {"scores": [None, 1.5]}, "inf": {}, "fine": {"score": 2.5,
                                                                        "scores": [0.5]}}
    assert counts(run(path)) == (0, 0, 3)


def test_the_emulator_refuses_a_body_that_is_not_json(klaviyo_emulator) -> None:
    import requests

    body = ('{"data": {"type": "profile-bulk-import-job", "attributes": {"profiles": '
            '{"data": [{"type": "profile", "attributes": {"email": "a@example.com", '
            '"properties": {"score": NaN}}}]}}}}')
    resp = requests.post(f"{klaviyo_emulator.base_url}/api/profile-bulk-import-jobs",
                         data=body.encode(), timeout=10,
                         headers={"Authorization": f"Klaviyo-API-Key {klaviyo_emulator.api_key}",
                                  "revision": "2026-07-15",
                                  "Content-Type": "application/vnd.api+json"})
    assert resp.status_code == 400, resp.text
    assert "NaN" in resp.text

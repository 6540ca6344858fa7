"""`loader export --format klaviyo-csv`: headers Klaviyo maps, and exactly the sendable rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from loader.cli import app

AUDIENCE_DDL = """
create table main.spring_sale (
    campaign_id varchar, campaign_name varchar, sub_audience_id varchar,
    sub_audience_name varchar, treatment_id varchar, treatment_name varchar,
    is_control boolean, list_name varchar, segment_id varchar, segment_name varchar,
    amperity_id varchar, shrink_reason varchar,
    email varchar, first_name varchar, city varchar, loyalty_tier varchar, phone_number varchar,
    lifetime_revenue decimal(18, 2)
)
"""

REGISTRY_DDL = """
create table main.klaviyo_campaigns as select
    'spring_sale' as campaign_id, 'Spring Sale' as campaign_name, 'one_time' as campaign_type,
    '"main"."spring_sale"' as audience_relation, 'email' as identifier,
    true as update_contacts, 'asap' as send_mode, null::timestamp as send_at,
    null::varchar as schedule_cron, null::integer as schedule_interval_minutes,
    null::timestamp as launch_at,
    'email,first_name,city,loyalty_tier,phone_number,lifetime_revenue' as attribute_columns,
    'Spring A,Spring B' as list_names, 'klaviyo' as destination_id,
    'Klaviyo' as destination_name, now()::timestamp as built_at, 'inv1' as dbt_invocation_id
"""

# (amperity_id, control, list, shrink, email, first_name, city, tier, phone, revenue)
ROWS = [
    ("a1", False, "Spring A", None, "ann@example.com", "Ann", "Paris", "gold", "+33612345678",
     "120.50"),
    ("a2", False, "Spring A", None, "bo@example.com", "Børge", 'Oslo, "N"', None, None, "0.00"),
    ("a3", False, "Spring A", "invalid_email", "not-an-email", "Cy", "Rome", "gold", None, None),
    ("a4", True, None, None, "dee@example.com", "Dee", "Lima", "silver", None, "5.00"),
    ("a5", False, "Spring B", None, "eve@example.com", "Eve", "Kyiv", "bronze", None, "9.99"),
    ("a6", False, "Spring A", None, "fay@example.com", "Fay", None, "silver", None, None),
    ("a6", False, "Spring A", None, "fay@example.com", "Fay", None, "platinum", None, None),
]

EXPECTED_HEADERS = ["Email", "PhoneNumber", "FirstName", "City", "loyalty_tier",
                    "lifetime_revenue"]


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(AUDIENCE_DDL)
        con.executemany(
            "insert into main.spring_sale values ('spring_sale', 'Spring Sale', 'all', 'All', "
            "'t', 'T', ?, ?, 'seg', 'Seg', ?, ?, ?, ?, ?, ?, ?, ?)",
            [(r[1], r[2], r[0], r[3], *r[4:]) for r in ROWS],
        )
        con.execute(REGISTRY_DDL)
    return db


def run_export(db: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["export", *args], env={"DUCKDB_PATH": str(db)})
    return result.exit_code, result.stdout, result.stderr


def expected_rows(db: Path, list_name: str) -> list[list[str]]:
    """The profiles push sends to the list, as CSV text would carry them: one per email (a6's
    two rows are one profile, its two tiers a JSON array, as push sends them)."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select email, min(phone_number), min(first_name), min(city), "
            "case when count(distinct loyalty_tier) > 1 then "
            "to_json(list_sort(list(distinct loyalty_tier)))::varchar "
            "else min(loyalty_tier) end, min(lifetime_revenue) "
            "from main.spring_sale where not is_control and shrink_reason is null "
            "and list_name = ? group by email", [list_name]
        ).fetchall()
    return sorted([["" if v is None else str(v) for v in row] for row in rows])


def test_export_to_file_has_klaviyo_headers_and_the_sendable_rows(
    warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "spring_a.csv"
    code, stdout, stderr = run_export(warehouse, "spring_sale", "--format", "klaviyo-csv",
                                      "--list", "Spring A", "--output", str(out))
    assert code == 0, stdout + stderr
    assert "Wrote 3 rows" in stderr
    with out.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        headers = next(reader)
        body = sorted(reader)
    assert headers == EXPECTED_HEADERS
    assert body == expected_rows(warehouse, "Spring A")
    assert ["bo@example.com", "", "Børge", 'Oslo, "N"', "", "0.00"] in body  # quoting, UTF-8
    assert ["fay@example.com", "", "Fay", "", '["platinum","silver"]', ""] in body
    assert not any(r[0] in ("not-an-email", "dee@example.com", "eve@example.com") for r in body)


def test_export_to_stdout_by_campaign_name(warehouse: Path) -> None:
    code, stdout, stderr = run_export(warehouse, "Spring Sale", "--list", "Spring B")
    assert code == 0, stdout + stderr
    rows = list(csv.reader(io.StringIO(stdout)))
    assert rows[0] == EXPECTED_HEADERS
    assert sorted(rows[1:]) == expected_rows(warehouse, "Spring B")


def test_export_needs_a_list_when_the_campaign_has_several(warehouse: Path) -> None:
    code, _, stderr = run_export(warehouse, "spring_sale")
    assert code == 2
    assert "Spring A, Spring B" in stderr and "--list" in stderr


def test_export_unknown_list_and_campaign_are_named(warehouse: Path) -> None:
    code, _, stderr = run_export(warehouse, "spring_sale", "--list", "Autumn")
    assert code == 2 and "'Autumn'" in stderr and "Spring A" in stderr
    code, _, stderr = run_export(warehouse, "winter_sale")
    assert code == 2 and "winter_sale" in stderr and "spring_sale" in stderr
    code, _, stderr = run_export(warehouse, "spring_sale", "--format", "xlsx")
    assert code == 2 and "klaviyo-csv" in stderr


# --- export writes exactly what push sends, for every kind of campaign identifier -----------

PUSH_DDL = """
create or replace table main.{cid} (
    campaign_id varchar, campaign_name varchar, sub_audience_id varchar,
    sub_audience_name varchar, treatment_id varchar, treatment_name varchar,
    is_control boolean, list_name varchar, segment_id varchar, segment_name varchar,
    amperity_id varchar, shrink_reason varchar,
    email varchar, phone_number varchar, external_id varchar, first_name varchar,
    interest varchar
)
"""

# (amperity_id, email, phone, external id, first name, interest): a valid phone shared by
# p2 and p3 (withheld from both), an invalid one (p4), one customer with two interests (p5),
# and, per identifier kind, p6 sharing p1's campaign identifier (not sent)
PEOPLE = [
    ("p1", "p1@example.com", "+14155550101", "X-1", "Ann", "golf"),
    ("p2", "p2@example.com", "+14155550102", "X-2", "Bo", None),
    ("p3", "p3@example.com", "+14155550102", "X-3", "Cy", "tennis"),
    ("p4", "p4@example.com", "+44207946012", "X-4", "Di", None),
    ("p5", "p5@example.com", "+14155550105", "X-5", "Ed", "golf"),
    ("p5", "p5@example.com", "+14155550105", "X-5", "Ed", "sailing"),
]


def push_warehouse(db: Path, identifier: str) -> None:
    p6 = {"email": ("p6", "p1@example.com", "+14155550106", "X-6", "Fi", None),
          "phone_number": ("p6", "p6@example.com", "+14155550101", "X-6", "Fi", None),
          "external_id": ("p6", "p6@example.com", "+14155550106", "X-1", "Fi", None)}
    with duckdb.connect(str(db)) as con:
        con.execute(PUSH_DDL.format(cid="people"))
        con.executemany(
            "insert into main.people values ('people', 'People', 'all', 'All', 't', 'T', false, "
            "'People list', 'seg', 'Seg', ?, null, ?, ?, ?, ?, ?)",
            [*PEOPLE, p6[identifier]])
        con.execute(REGISTRY_DDL.replace("'spring_sale' as campaign_id", "'people' as campaign_id")
                    .replace('"main"."spring_sale"', '"main"."people"')
                    .replace("'email' as identifier", f"'{identifier}' as identifier")
                    .replace("'email,first_name,city,loyalty_tier,phone_number,lifetime_revenue'",
                             "'email,phone_number,external_id,first_name,interest'")
                    .replace("'Spring A,Spring B'", "'People list'"))


@pytest.mark.parametrize("identifier", ["email", "phone_number", "external_id"])
def test_export_is_exactly_what_push_sends(identifier: str, tmp_path: Path,
                                           klaviyo_emulator) -> None:
    from loader.sync import PushOptions, push
    from tests.sync.conftest import settings_for

    db = tmp_path / "people.duckdb"
    push_warehouse(db, identifier)
    code, stdout, stderr = run_export(db, "people")
    assert code == 0, stderr
    reader = csv.DictReader(io.StringIO(stdout))
    exported = {r[{"email": "Email", "phone_number": "PhoneNumber",
                   "external_id": "ExternalID"}[identifier]]: r for r in reader}
    result = push(settings_for(klaviyo_emulator, str(db)), PushOptions(campaigns=["people"]))
    assert result.error is None, result.error
    members = set(klaviyo_emulator.lists()["People list"]["members"])
    sent = {p[identifier]: p for p in klaviyo_emulator.profiles() if p["id"] in members}
    assert set(exported) == set(sent)  # the same profiles: p6 left out as a duplicate
    assert "p6@example.com" not in {r["Email"] for r in exported.values()}
    for key, row in exported.items():
        p = sent[key]
        assert (row["Email"] or None) == p["email"], key
        assert (row["PhoneNumber"] or None) == p["phone_number"], key
        assert (row["ExternalID"] or None) == p["external_id"], key
        assert row["FirstName"] == p["first_name"], key
        interest = p["properties"].get("interest")
        assert (row["interest"] or None) == (
            None if interest is None else interest if isinstance(interest, str)
            else json.dumps(interest, separators=(",", ":"))), key
    # withheld as push withholds them: the shared and the invalid phone numbers
    phones = {r["PhoneNumber"] for r in exported.values()}
    assert "+44207946012" not in phones
    if identifier == "phone_number":  # p3 duplicates p2's number; p4's is not sent at all
        assert len(exported) == 3
    else:
        assert "+14155550102" not in phones and len(exported) == 5


def test_lists_and_floats_are_exported_as_push_sends_them(tmp_path: Path,
                                                           klaviyo_emulator) -> None:
    """A list property is its JSON in the file (as push sends it), not DuckDB's text of a
    list; a NaN is no value, as push sends none."""
    from loader.sync import PushOptions, push
    from tests.sync.conftest import settings_for

    db = tmp_path / "gear.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(PUSH_DDL.format(cid="people").replace(
            "interest varchar", "gear varchar[], score double"))
        con.executemany(
            "insert into main.people values ('people', 'People', 'all', 'All', 't', 'T', false, "
            "'People list', 'seg', 'Seg', ?, null, ?, null, null, 'Ann', ?, ?)",
            [("g1", "g1@example.com", ["tents", "boots"], float("nan")),
             ("g2", "g2@example.com", None, 2.5)])
        con.execute(REGISTRY_DDL.replace("'spring_sale' as campaign_id", "'people' as campaign_id")
                    .replace('"main"."spring_sale"', '"main"."people"')
                    .replace("'email,first_name,city,loyalty_tier,phone_number,lifetime_revenue'",
                             "'email,first_name,gear,score'")
                    .replace("'Spring A,Spring B'", "'People list'"))
    code, stdout, stderr = run_export(db, "people")
    assert code == 0, stderr
    exported = {r["Email"]: r for r in csv.DictReader(io.StringIO(stdout))}
    result = push(settings_for(klaviyo_emulator, str(db)), PushOptions(campaigns=["people"]))
    assert result.error is None, result.error
    for email, row in exported.items():
        props = klaviyo_emulator.find_profile(email=email)["properties"]
        gear, score = props.get("gear"), props.get("score")
        assert (row["gear"] or None) == (None if gear is None
                                         else json.dumps(gear, separators=(",", ":"))), email
        assert (row["score"] or None) == (None if score is None else str(score)), email
    assert exported["g1@example.com"]["gear"] == '["tents","boots"]'

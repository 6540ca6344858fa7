"""End to end over the emulator: `loader push` sends what is due, `status` and history say so,
and `export` writes exactly what the push put in the list."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from loader.cli import app
from tests.ops._registry import REGISTRY_DDL

AUDIENCE = """
create table main.{name} (
    campaign_id varchar, campaign_name varchar, sub_audience_id varchar,
    sub_audience_name varchar, treatment_id varchar, treatment_name varchar,
    is_control boolean, list_name varchar, segment_id varchar, segment_name varchar,
    amperity_id varchar, shrink_reason varchar, email varchar, first_name varchar,
    loyalty_tier varchar
)"""

# id, type, send_mode, send_at, cron, list
CAMPAIGNS = [
    ("welcome", "one_time", "asap", None, None, "Welcome"),
    ("flash", "one_time", "scheduled", "2026-06-03 10:00", None, "Flash Sale"),
    ("digest", "recurring", "asap", None, "0 9 * * *", "Daily Digest"),
]
MEMBERS = 30  # per campaign: every 5th in control, every 7th shrunk


def build(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(REGISTRY_DDL)
        for cid, ctype, mode, send_at, cron, list_name in CAMPAIGNS:
            con.execute(AUDIENCE.format(name=f"aud_{cid}"))
            con.execute(
                "insert into main.klaviyo_campaigns values (?, ?, ?, ?, 'email', true, ?, ?, ?, "
                "null, timestamp '2026-06-01 00:00:00', 'email,first_name,loyalty_tier', ?, "
                "'klaviyo', 'Klaviyo', now(), 'inv-1')",
                [cid, cid.title(), ctype, f'"main"."aud_{cid}"', mode, send_at, cron, list_name],
            )
            rows: list[tuple[Any, ...]] = []
            for i in range(MEMBERS):
                control = i % 5 == 0
                shrink = "missing_email" if i % 7 == 3 else None
                rows.append((
                    cid, cid.title(), "all", "All", "control" if control else "offer",
                    "Control" if control else "Offer", control, None if control else list_name,
                    "seg_all", "All customers", f"{cid}-{i:03d}", shrink,
                    None if shrink else f"{cid}{i}@example.com", f"Name{i}",
                    "gold" if i % 2 else None,
                ))
            con.executemany(f"insert into main.aud_{cid} values ({', '.join('?' * 15)})", rows)


@pytest.fixture
def world(tmp_path: Path, klaviyo_emulator) -> dict[str, str]:  # noqa: ANN001
    db = tmp_path / "w.duckdb"
    build(db)
    return {"KLAVIYO_BASE_URL": klaviyo_emulator.base_url,
            "KLAVIYO_API_KEY": klaviyo_emulator.api_key, "DUCKDB_PATH": str(db),
            "COLUMNS": "200"}


def cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def status(env: dict[str, str], at: str) -> dict[str, dict[str, Any]]:
    code, out, err = cli(env, "status", "--at", at, "--json")
    assert code == 0, out + err
    return {c["campaign_id"]: c for c in json.loads(out)["campaigns"]}


def test_push_sends_what_is_due_and_status_and_history_follow(
    world: dict[str, str], klaviyo_emulator, tmp_path: Path  # noqa: ANN001
) -> None:
    sendable = sum(1 for i in range(MEMBERS) if i % 5 and i % 7 != 3)

    # Monday 10:00: the ASAP one-time and the ASAP daily campaign are due; flash is Wednesday
    before = status(world, "2026-06-01T10:00:00Z")
    assert {c for c, s in before.items() if s["is_due"]} == {"welcome", "digest"}
    assert all(s["last_delivery"] is None for s in before.values())

    code, out, err = cli(world, "push", "--at", "2026-06-01T10:00:00Z", "--quiet")
    assert code == 0, out + err
    lists = klaviyo_emulator.lists()
    assert set(lists) == {"Welcome", "Daily Digest"}
    assert len(lists["Welcome"]["members"]) == sendable

    after = status(world, "2026-06-01T10:00:00Z")
    assert after["welcome"]["last_delivery"]["added"] == sendable
    assert after["welcome"]["next_due_at"] is None and not after["welcome"]["is_due"]
    assert after["digest"]["last_delivery"]["scheduled_for"] == "2026-06-01T09:00:00Z"
    assert after["digest"]["next_due_at"] == "2026-06-02T09:00:00Z"
    assert after["flash"]["last_delivery"] is None
    assert after["flash"]["next_due_at"] == "2026-06-03T10:00:00Z"

    # a rerun at the same instant sends nothing
    imports = klaviyo_emulator.stats()["requests"].get("bulk_import_profiles", 0)
    code, out, err = cli(world, "push", "--at", "2026-06-01T10:00:00Z", "--quiet")
    assert code == 0, out + err
    assert klaviyo_emulator.stats()["requests"].get("bulk_import_profiles", 0) == imports
    assert status(world, "2026-06-01T10:00:00Z")["welcome"]["last_delivery"]["delivery_id"] == \
        after["welcome"]["last_delivery"]["delivery_id"]

    # no run Tuesday; Wednesday 12:00: flash goes out, the digest once for Wednesday's tick
    assert {c for c, s in status(world, "2026-06-03T12:00:00Z").items() if s["is_due"]} == {
        "flash", "digest"}
    code, out, err = cli(world, "push", "--at", "2026-06-03T12:00:00Z", "--quiet")
    assert code == 0, out + err
    wednesday = status(world, "2026-06-03T12:00:00Z")
    assert not any(s["is_due"] for s in wednesday.values())
    assert wednesday["digest"]["last_delivery"]["scheduled_for"] == "2026-06-03T09:00:00Z"
    assert set(klaviyo_emulator.lists()) == {"Welcome", "Daily Digest", "Flash Sale"}

    # history: every member recorded once per delivery
    with duckdb.connect(world["DUCKDB_PATH"], read_only=True) as con:
        per_campaign = dict(con.execute(
            "select campaign_id, count(*) from klaviyo_loader.campaign_recipients "
            "where not is_sample group by 1").fetchall())
        controls = con.execute(
            "select count(*) from klaviyo_loader.campaign_recipients "
            "where campaign_id = 'welcome' and is_control").fetchone()
        launch = con.execute(
            "select distinct launch_datetime from klaviyo_loader.campaign_recipients").fetchall()
    # control members are recorded (never sent); shrunk rows are in neither group
    assert controls == (sum(1 for i in range(MEMBERS) if i % 5 == 0 and i % 7 != 3),)
    assert per_campaign["welcome"] == per_campaign["flash"]
    assert per_campaign["digest"] == 2 * per_campaign["welcome"]  # two ticks
    assert [str(v[0]) for v in launch] == ["2026-06-01 00:00:00"]

    # export writes exactly the members the push put in the list
    out_file = tmp_path / "welcome.csv"
    code, out, err = cli(world, "export", "welcome", "--format", "klaviyo-csv",
                         "--output", str(out_file))
    assert code == 0, out + err
    with out_file.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["Email", "FirstName", "loyalty_tier"]
    assert {r["Email"] for r in rows} == set(klaviyo_emulator.lists()["Welcome"]["emails"])

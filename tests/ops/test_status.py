"""`loader status` over a hand-built registry and loader state."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from loader.cli import app
from tests.ops._registry import REGISTRY_DDL

CAMPAIGNS = [
    # id, name, type, send_mode, send_at, cron, interval, launch_at
    ("spring_sale", "Spring Sale", "one_time", "scheduled", "2026-06-03 10:00", None, None,
     "2026-06-04 00:00"),
    ("welcome", "Welcome", "one_time", "asap", None, None, None, None),
    ("daily_digest", "Daily Digest", "recurring", "asap", None, "0 9 * * *", None, None),
    ("hourly", "Hourly", "recurring", "asap", None, None, 60, None),
]

STATE_DDL = [
    "create schema klaviyo_loader",
    """create table klaviyo_loader.deliveries (delivery_id varchar, run_id varchar,
        account_id varchar, campaign_id varchar, scheduled_for timestamp, started_at timestamp,
        completed_at timestamp, status varchar, is_sample boolean, added bigint,
        updated bigint, removed bigint, rejected bigint, unchanged bigint)""",
    """create table klaviyo_loader.rejected_rows (run_id varchar, account_id varchar,
        campaign_id varchar, list_name varchar, identifier varchar, amperity_id varchar,
        reason varchar, rejected_at timestamp)""",
]

DELIVERIES = [
    # welcome went out Monday; a later sample and a crashed run must not change the picture
    ("d1", "r1", "acct1", "welcome", "2026-06-01 08:00", "2026-06-01 08:00", "2026-06-01 08:02",
     "completed", False, 120, 0, 0, 3, 0),
    ("d2", "r1", "acct1", "daily_digest", "2026-06-01 09:00", "2026-06-01 09:00",
     "2026-06-01 09:05", "completed", False, 50, 2, 1, 0, 0),
    ("d3", "r2", "acct1", "daily_digest", "2026-06-02 09:00", "2026-06-02 09:00",
     "2026-06-02 09:03", "completed", False, 4, 7, 2, 1, 40),
    ("d4", "r3", "acct1", "daily_digest", "2026-06-03 09:00", "2026-06-03 09:00", None,
     "running", False, None, None, None, None, None),
    ("d5", "r4", "acct1", "spring_sale", "2026-06-02 12:00", "2026-06-02 12:00",
     "2026-06-02 12:01", "completed", True, 10, 0, 0, 0, 0),
]

REJECTED = [
    ("r1", "acct1", "welcome", "Welcome", "bad@", "a1", "invalid email", "2026-06-01 08:02"),
    ("r1", "acct1", "welcome", "Welcome", "x@", "a2", "invalid email", "2026-06-01 08:02"),
    ("r1", "acct1", "welcome", "Welcome", "y@", "a3", "too large", "2026-06-01 08:02"),
    ("r2", "acct1", "daily_digest", "Digest", "z@", "a4", "invalid email", "2026-06-02 09:03"),
]


def make_warehouse(path: Path, with_state: bool) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(REGISTRY_DDL)
        for c in CAMPAIGNS:
            con.execute(
                "insert into main.klaviyo_campaigns (campaign_id, campaign_name, campaign_type, "
                "send_mode, send_at, schedule_cron, schedule_interval_minutes, launch_at) "
                "values (?, ?, ?, ?, ?, ?, ?, ?)",
                list(c),
            )
        if with_state:
            for ddl in STATE_DDL:
                con.execute(ddl)
            con.executemany(f"insert into klaviyo_loader.deliveries values ({', '.join('?' * 14)})",
                            DELIVERIES)
            con.executemany("insert into klaviyo_loader.rejected_rows values (?,?,?,?,?,?,?,?)",
                            REJECTED)


def run_status(path: Path, *args: str) -> tuple[int, str]:
    env = {"DUCKDB_PATH": str(path), "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["status", *args], env=env)
    return result.exit_code, result.output


def test_status_json_reports_every_campaign(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    make_warehouse(db, with_state=True)
    code, out = run_status(db, "--at", "2026-06-02T10:30:00Z", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["at"] == "2026-06-02T10:30:00Z"
    by_id = {c["campaign_id"]: c for c in doc["campaigns"]}
    assert list(by_id) == ["daily_digest", "hourly", "spring_sale", "welcome"]

    welcome = by_id["welcome"]
    assert welcome["campaign_type"] == "one_time"
    assert welcome["schedule"] == "asap"
    assert welcome["last_delivery"]["completed_at"] == "2026-06-01T08:02:00Z"
    assert welcome["last_delivery"]["added"] == 120
    assert welcome["next_due_at"] is None and welcome["is_due"] is False
    assert welcome["rejected_rows"] == 3

    digest = by_id["daily_digest"]
    assert digest["schedule"] == "cron '0 9 * * *'"
    # the last *completed* delivery, not the running one
    assert digest["last_delivery"]["delivery_id"] == "d3"
    assert (digest["last_delivery"]["added"], digest["last_delivery"]["updated"],
            digest["last_delivery"]["removed"], digest["last_delivery"]["rejected"]) == (4, 7, 2, 1)
    assert digest["rejected_rows"] == 1
    assert digest["next_due_at"] == "2026-06-03T09:00:00Z"
    assert digest["account_id"] == "acct1"

    spring = by_id["spring_sale"]  # only a sample went out: still never delivered
    assert spring["last_delivery"] is None
    assert spring["next_due_at"] == "2026-06-03T10:00:00Z"
    assert spring["launch_at"] == "2026-06-04T00:00:00Z"
    assert spring["schedule"] == "once at 2026-06-03T10:00:00Z"

    hourly = by_id["hourly"]
    assert hourly["is_due"] is True and hourly["next_due_at"] == "2026-06-02T10:30:00Z"
    assert hourly["schedule"] == "every 60 min"


def test_status_before_any_push_shows_never(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    make_warehouse(db, with_state=False)
    code, out = run_status(db, "--at", "2026-06-01T00:00:00Z")
    assert code == 0, out
    lines = [line for line in out.splitlines() if " never " in line]
    assert len(lines) == 4, out
    assert "due now" in out  # welcome (ASAP) and the recurring ASAP campaigns
    code, out = run_status(db, "--at", "2026-06-01T00:00:00Z", "--json")
    doc = json.loads(out)
    assert all(c["last_delivery"] is None for c in doc["campaigns"])
    assert {c["campaign_id"] for c in doc["campaigns"] if c["is_due"]} == {
        "welcome", "daily_digest", "hourly",
    }


def test_status_without_a_registry_says_to_build(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).close()
    code, out = run_status(db)
    assert code == 2
    assert "klaviyo_campaigns" in out and "dbt build" in out


def test_status_lists_a_campaign_with_invalid_timing(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    make_warehouse(db, with_state=False)
    with duckdb.connect(str(db)) as con:
        con.execute("update main.klaviyo_campaigns set schedule_cron = '0 99 * * *' "
                    "where campaign_id = 'daily_digest'")
    code, out = run_status(db, "--json")
    assert code == 0
    digest = next(c for c in json.loads(out)["campaigns"] if c["campaign_id"] == "daily_digest")
    assert "schedule_cron" in digest["problem"] and "'0 99 * * *'" in digest["problem"]


@pytest.mark.parametrize("bad", ["tomorrow", "2026-13-01"])
def test_status_bad_at_is_a_clear_error(tmp_path: Path, bad: str) -> None:
    db = tmp_path / "w.duckdb"
    make_warehouse(db, with_state=False)
    code, out = run_status(db, "--at", bad)
    assert code == 2 and "--at" in out

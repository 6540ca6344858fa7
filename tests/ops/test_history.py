"""Campaign history as a dbt source: builds before the first push, and the example segments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).with_name("dbt")

RECIPIENT_COLUMNS = [
    ("amperity_id", "VARCHAR"),
    ("campaign_id", "VARCHAR"),
    ("campaign_name", "VARCHAR"),
    ("campaign_type", "VARCHAR"),
    ("sub_audience_id", "VARCHAR"),
    ("sub_audience_name", "VARCHAR"),
    ("treatment_id", "VARCHAR"),
    ("treatment_name", "VARCHAR"),
    ("is_control", "BOOLEAN"),
    ("destination_id", "VARCHAR"),
    ("destination_name", "VARCHAR"),
    ("list_id", "VARCHAR"),
    ("segment_id", "VARCHAR"),
    ("segment_name", "VARCHAR"),
    ("delivery_datetime", "TIMESTAMP"),
    ("launch_datetime", "TIMESTAMP"),
    ("dataset_version", "VARCHAR"),
    ("account_id", "VARCHAR"),
    ("delivery_id", "VARCHAR"),
    ("is_sample", "BOOLEAN"),
]


def dbt_build(tmp: Path, db: Path, dbt_vars: dict[str, object] | None = None) -> None:
    args = [
        str(DBT), "build", "--profiles-dir", ".", "--project-dir", ".",
        "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"),
        "--select", "path:models/history",
    ]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    env = {**os.environ, "DUCKDB_PATH": str(db), "DBT_TARGET": "duckdb"}
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


@pytest.fixture(scope="module")
def history_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("history")
    db = tmp / "warehouse.duckdb"
    dbt_build(tmp, db)  # before any push: the hook creates the relation empty
    return tmp, db


def test_build_before_first_push_creates_the_history_relation(
    history_db: tuple[Path, Path],
) -> None:
    _, db = history_db
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'klaviyo_loader' and table_name = 'campaign_recipients' "
            "order by ordinal_position"
        ).fetchall()
        assert columns == RECIPIENT_COLUMNS
        empty = con.execute("select count(*) from main.seg_history_recent_recipients").fetchone()
        assert empty == (0,)


def test_example_segments_read_campaign_history(history_db: tuple[Path, Path]) -> None:
    tmp, db = history_db
    now = datetime.now().replace(microsecond=0)  # DuckDB's now(), in its local zone
    launch = datetime(2026, 3, 20, 9, 0)

    def row(amperity_id: str, campaign: str, control: bool, days_ago: int, sample: bool = False):
        return (
            amperity_id, campaign, campaign.title(), "one_time", "all", "All", "t",
            "T", control, "acct", "Klaviyo", None if control else "L1", "seg", "Seg",
            now - timedelta(days=days_ago), launch, "inv", "acct", f"d-{days_ago}", sample,
        )

    rows = [
        row("c1", "spring_sale", True, 40),
        row("c1", "spring_sale", True, 5),  # held out twice: one row in the segment
        row("c2", "spring_sale", False, 5),
        row("c3", "autumn", True, 5),  # another campaign's control
        row("c4", "autumn", False, 2),
        row("c4", "autumn", False, 1),  # received twice: one row
        row("c5", "autumn", False, 45),  # outside the 30-day window
        row("c6", "autumn", True, 1),  # control: not a recipient
    ]
    with duckdb.connect(str(db)) as con:
        con.executemany(
            f"insert into klaviyo_loader.campaign_recipients values ({', '.join('?' * 20)})", rows
        )
    dbt_build(tmp, db, {"history_control_campaign_id": "spring_sale",
                        "history_recent_campaign_id": "autumn"})
    with duckdb.connect(str(db), read_only=True) as con:
        control = con.execute(
            "select amperity_id, launch_datetime, first_held_out_at "
            "from main.seg_history_spring_sale_control order by 1"
        ).fetchall()
        recent = con.execute(
            "select amperity_id, last_received_at from main.seg_history_recent_recipients"
        ).fetchall()
    assert control == [("c1", launch, now - timedelta(days=40))]
    assert recent == [("c4", now - timedelta(days=1))]

"""Campaign history as a dbt source: builds before the first push, and the example segments."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.warehouse import BuiltWarehouse, warehouse_env

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


@pytest.fixture
def history_copy(built_warehouse, tmp_path: Path) -> BuiltWarehouse:  # noqa: ANN001
    """A private copy of the session's built warehouse (the shared one stays untouched)."""
    path = tmp_path / built_warehouse.duckdb_path.name  # same name: same dbt database name
    shutil.copyfile(built_warehouse.duckdb_path, path)
    return BuiltWarehouse(root=tmp_path, duckdb_path=path, env=warehouse_env(path),
                          customers=built_warehouse.customers, seed=built_warehouse.seed)


def test_build_before_first_push_creates_the_history_relation(built_warehouse) -> None:  # noqa: ANN001
    columns = built_warehouse.query(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'klaviyo_loader' and table_name = 'campaign_recipients' "
        "order by ordinal_position"
    )
    assert columns == RECIPIENT_COLUMNS


def test_example_segments_read_campaign_history(history_copy: BuiltWarehouse) -> None:
    db = history_copy.duckdb_path
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
    history_copy.dbt("run", "--select", "path:models/history",
                     vars={"history_control_campaign_id": "spring_sale",
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

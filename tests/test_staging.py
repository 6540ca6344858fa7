"""Sources, staging and demo segments, built by the real `dbt build` over generated demo data.

The sources are pointed at a non-default schema through the `amperity_source_schema` var (the
way docs/data.md tells a user to point the project at their own tables), and segment results are
recomputed here independently from the source tables.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from loader import demo_data
from tests.fixtures.warehouse import BuiltWarehouse, DbtFailed, build_warehouse

AS_OF = "2026-06-30 00:00:00"
SELECT = ["path:models/staging", "path:models/segments"]
SEGMENTS = (
    "seg_high_value_customers",
    "seg_recent_buyers",
    "seg_lapsed_customers",
    "seg_email_unsubscribed",
    "seg_outdoor_enthusiasts",
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    return build_warehouse(
        tmp_path_factory.mktemp("staging"),
        customers=3000,
        seed=11,
        source_schema="crm",
        vars={"segment_as_of_date": AS_OF},
        select=SELECT,
    )


def _ids(warehouse: BuiltWarehouse, sql: str) -> set[str]:
    return {row[0] for row in warehouse.query(sql)}


def test_staging_views_keep_the_source_columns_and_rows(warehouse: BuiltWarehouse) -> None:
    for table in demo_data.TABLES:
        source_cols = warehouse.query(
            "select column_name from information_schema.columns "
            "where table_schema = 'crm' and table_name = ? order by ordinal_position",
            [table],
        )
        staged_cols = warehouse.query(
            "select column_name from information_schema.columns "
            "where table_schema = 'main' and table_name = ? order by ordinal_position",
            [f"stg_amperity__{table}"],
        )
        assert staged_cols == source_cols, table
        assert warehouse.query(f"select count(*) from main.stg_amperity__{table}") == (
            warehouse.query(f"select count(*) from crm.{table}")
        ), table
    kinds = dict(
        warehouse.query(
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'main' and table_name like 'stg_amperity__%'"
        )
    )
    assert set(kinds.values()) == {"VIEW"} and len(kinds) == 6


def test_segments_are_tables_of_unique_customers(warehouse: BuiltWarehouse) -> None:
    for segment in SEGMENTS:
        total, distinct = warehouse.query(
            f"select count(*), count(distinct amperity_id) from main.{segment}"
        )[0]
        assert total == distinct > 0, segment
    kinds = dict(
        warehouse.query(
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'main' and table_name like 'seg_%'"
        )
    )
    assert all(kinds[s] == "BASE TABLE" for s in SEGMENTS)


def test_high_value_customers(warehouse: BuiltWarehouse) -> None:
    expected = _ids(
        warehouse,
        "select amperity_id from crm.unified_transactions "
        "group by amperity_id having sum(order_revenue) >= 500",
    )
    assert _ids(warehouse, "select amperity_id from main.seg_high_value_customers") == expected
    assert 0.03 < len(expected) / warehouse.customers < 0.2


def test_recent_buyers_and_lapsed_customers_use_the_as_of_date(
    warehouse: BuiltWarehouse,
) -> None:
    as_of = datetime.fromisoformat(AS_OF)
    last_order: dict[str, datetime] = {}
    for amperity_id, at in warehouse.query(
        "select amperity_id, order_datetime from crm.unified_transactions"
    ):
        if at <= as_of and (amperity_id not in last_order or at > last_order[amperity_id]):
            last_order[amperity_id] = at
    recent = {a for a, at in last_order.items() if at > as_of - timedelta(days=90)}
    lapsed = {a for a, at in last_order.items() if at <= as_of - timedelta(days=365)}
    assert _ids(warehouse, "select amperity_id from main.seg_recent_buyers") == recent
    assert _ids(warehouse, "select amperity_id from main.seg_lapsed_customers") == lapsed
    # orders after the as-of date exist, and are ignored
    assert warehouse.query(
        f"select count(*) from crm.unified_transactions where order_datetime > '{AS_OF}'"
    )[0][0] > 0


def test_email_unsubscribed_covers_every_customer_sharing_the_address(
    warehouse: BuiltWarehouse,
) -> None:
    opted_out = {
        e for (e,) in warehouse.query(
            "select email from crm.email_opt_status where not is_email_opted_in"
        )
    }
    expected = {
        a
        for a, e in warehouse.query("select amperity_id, email from crm.merged_customers")
        if e is not None and e.strip().lower() in opted_out
    }
    segment = _ids(warehouse, "select amperity_id from main.seg_email_unsubscribed")
    assert segment == expected
    shared_and_out = warehouse.query(
        """
        select count(*) from crm.merged_customers c
        join crm.email_opt_status o on lower(trim(c.email)) = o.email
        where not o.is_email_opted_in and c.amperity_id <> o.amperity_id
        """
    )[0][0]
    assert shared_and_out > 0, "the sample should hold a sharer of an opted-out address"


def test_outdoor_enthusiasts(warehouse: BuiltWarehouse) -> None:
    expected = _ids(
        warehouse,
        "select amperity_id from crm.customer_interests "
        "where interest in ('hiking', 'camping', 'fishing')",
    )
    assert _ids(warehouse, "select amperity_id from main.seg_outdoor_enthusiasts") == expected


def test_segment_names_are_the_first_line_of_their_descriptions(
    warehouse: BuiltWarehouse,
) -> None:
    import json

    manifest = json.loads((warehouse.root / "target" / "manifest.json").read_text())
    names = {
        node["name"]: node["description"].strip().splitlines()[0]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["name"] in SEGMENTS
    }
    assert names == {
        "seg_high_value_customers": "High-value customers",
        "seg_recent_buyers": "Recent buyers",
        "seg_lapsed_customers": "Lapsed customers",
        "seg_email_unsubscribed": "Email unsubscribed",
        "seg_outdoor_enthusiasts": "Outdoor enthusiasts",
    }


def test_a_broken_source_key_fails_the_build_with_dbt_output(warehouse: BuiltWarehouse) -> None:
    def run_sql(sql: str) -> None:
        con = warehouse.connect(read_only=False)
        try:
            con.execute(sql)
        finally:
            con.close()

    run_sql("insert into crm.merged_customers select * from crm.merged_customers limit 1")
    try:
        with pytest.raises(DbtFailed) as failure:
            warehouse.dbt("test", "--select", "source:amperity.merged_customers")
    finally:
        run_sql(
            "create or replace table crm.merged_customers as "
            "select distinct * from crm.merged_customers"
        )
    assert "source_unique_amperity_merged_customers_amperity_id" in str(failure.value)
    assert "FAIL 1" in str(failure.value)


def test_built_warehouse_fixture_builds_the_whole_project(built_warehouse: BuiltWarehouse) -> None:
    assert built_warehouse.env["DUCKDB_PATH"] == str(built_warehouse.duckdb_path)
    assert built_warehouse.query("select count(*) from amperity.merged_customers") == [(2000,)]
    built = {
        name
        for (name,) in built_warehouse.query(
            "select table_name from information_schema.tables where table_schema = 'main'"
        )
    }
    assert {f"stg_amperity__{t}" for t in demo_data.TABLES} | set(SEGMENTS) <= built
    assert (built_warehouse.root / "target" / "run_results.json").exists()

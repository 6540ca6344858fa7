"""Sources, staging and demo segments, built by the real `dbt build` over generated demo data.

The sources are pointed at a non-default schema through the `amperity_source_schema` var (the
way docs/data.md tells a user to point the project at their own tables), and segment results are
recomputed here independently from the source tables.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from loader import demo_data
from tests.campaigns._project import CampaignProject
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


@pytest.fixture()
def own_tables(tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    """Demo tables in a schema of their own, nothing built: a brand's tables to edit."""
    return build_warehouse(
        tmp_path_factory.mktemp("own_tables"), customers=200, source_schema="brand", build=False
    )


def _alter(warehouse: BuiltWarehouse, *statements: str) -> None:
    con = warehouse.connect(read_only=False)
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def test_missing_optional_columns_are_typed_nulls_named_in_the_build_log(
    own_tables: BuiltWarehouse,
) -> None:
    _alter(
        own_tables,
        "alter table brand.merged_customers drop column birthdate",
        "alter table brand.merged_customers drop column gender",
        "alter table brand.customer_360 drop column churn_propensity",
        'alter table brand.merged_customers rename column given_name to "Given_Name"',
    )
    run = own_tables.dbt(
        "run", "--select", "stg_amperity__merged_customers", "stg_amperity__customer_360"
    )
    # the log names the table read (the vars point the source at schema brand)
    assert re.search(
        r"stg_amperity__merged_customers: source table amperity\.merged_customers "
        r'\([^)]*"brand"\."merged_customers"\) has no column\(s\) birthdate, gender; '
        r"staged as typed nulls",
        run.output,
    ), run.output
    assert re.search(
        r"stg_amperity__customer_360: source table amperity\.customer_360 "
        r'\([^)]*"brand"\."customer_360"\) has no column\(s\) churn_propensity;',
        run.output,
    ), run.output
    types = dict(
        own_tables.query(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'main' and table_name = 'stg_amperity__merged_customers'"
        )
    )
    assert types["birthdate"] == "DATE" and types["gender"] == "VARCHAR"
    assert list(types) == list(demo_data.PROFILE_COLUMNS)  # every column, in order
    # a column spelt in another case is still read
    given_names = own_tables.query('select count("Given_Name") from brand.merged_customers')
    assert given_names[0][0] > 150
    assert own_tables.query(
        "select count(*), count(birthdate), count(gender), count(given_name) "
        "from main.stg_amperity__merged_customers"
    ) == [(200, 0, 0, given_names[0][0])]
    assert own_tables.query(
        "select data_type from information_schema.columns where table_schema = 'main' "
        "and table_name = 'stg_amperity__customer_360' and column_name = 'churn_propensity'"
    ) == [("DOUBLE",)]


def test_a_renamed_mapped_column_warns_naming_campaign_attribute_and_column(
    own_tables: BuiltWarehouse,
) -> None:
    """A column a campaign maps an attribute to, renamed upstream, is staged as null (the
    build passes) and a push would clear the attribute in Klaviyo: each campaign reading it
    warns. A column listed in var klaviyo_absent_columns (never there) does not."""
    _alter(
        own_tables,
        "alter table brand.merged_customers rename column given_name to first_nm",
        "alter table brand.merged_customers drop column company",
    )
    run = own_tables.dbt("build", "--select", "+spring_sale", "--exclude", "test_type:singular",
                         vars={"klaviyo_absent_columns": ["company"]})
    text = re.sub(r"\s+", " ", run.output)
    assert re.search(
        r"Campaign 'Spring sale' \(model spring_sale\): Klaviyo attribute 'first_name' is "
        r"mapped to column 'given_name' of stg_amperity__merged_customers, but its source "
        r'table [^ ]*"brand"\."merged_customers" has no column \'given_name\' '
        r"\(staged as null\)", text), run.output
    assert "Klaviyo attribute 'organization'" not in text, run.output


def test_missing_required_columns_and_tables_fail_naming_them(
    own_tables: BuiltWarehouse,
) -> None:
    _alter(
        own_tables,
        "alter table brand.merged_customers rename column amperity_id to customer_key",
        "alter table brand.merged_customers drop column email",
        "alter table brand.merged_customers drop column title",
        "drop table brand.customer_interests",
    )
    run = own_tables.dbt(
        "run",
        "--select",
        "stg_amperity__merged_customers",
        "stg_amperity__customer_interests",
        "stg_amperity__customer_360",
        check=False,
    )
    assert not run.ok
    assert (
        'Source table amperity.merged_customers ("warehouse"."brand"."merged_customers") lacks '
        "required column(s): amperity_id, email." in run.output
    ), run.output
    # an optional column missing as well is not an error
    assert "title" not in run.output.split("lacks required column(s)")[1].splitlines()[0]
    assert "Source table amperity.customer_interests" in run.output
    assert "was not found" in run.output and "amperity_source_schema" in run.output
    # the other staging views still build
    assert own_tables.query("select count(*) from main.stg_amperity__customer_360") == [(200,)]


def test_a_column_of_another_name_is_read_with_from(tmp_path: Path) -> None:
    # A brand's table keyed on `customer_key`, with `Email` in another case: the column list
    # names them with 'from'; a missing optional column is a typed null.
    project = CampaignProject(tmp_path)
    project.write_model(
        "brand_customers",
        "{{ config(materialized='table') }}\n"
        "select * from (values ('k1', 'A@x.com'), ('k2', null)) as t(customer_key, \"Email\")\n",
    )
    project.write_model(
        "stg_brand_customers",
        "{%- set columns = [\n"
        "    {'name': 'amperity_id', 'type': 'varchar', 'required': true,\n"
        "     'from': 'customer_key'},\n"
        "    {'name': 'email', 'type': 'varchar', 'required': true, 'from': 'email'},\n"
        "    {'name': 'gender', 'type': 'varchar'},\n"
        "] %}\n"
        "select {{ klaviyo_stage_columns(ref('brand_customers'), columns, 'brand_customers') }}\n"
        "from {{ ref('brand_customers') }}\n",
    )
    run = project.dbt("build", "--select", "+stg_brand_customers", campaigns=[])
    assert run.returncode == 0, run.output
    assert "has no column(s) gender; staged as typed nulls" in run.output
    assert project.query(
        "select amperity_id, email, gender from stg_brand_customers order by 1"
    ) == [("k1", "A@x.com", None), ("k2", None, None)]

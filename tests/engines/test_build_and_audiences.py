"""The dbt project, unchanged, on PostgreSQL and Spark: every node passes and every audience,
the delivery summary and the registry equal DuckDB's row for row."""

from __future__ import annotations

import pytest

from loader.engines import connect, read_target
from tests.engines._build import EngineBuild, run_results
from tests.engines._compare import (
    DELIVERY_SUMMARY,
    REGISTRY,
    REGISTRY_PER_BUILD,
    difference,
    registry,
    relation_name,
    table,
)
from tests.fixtures.warehouse import REPO, BuiltWarehouse


@pytest.fixture(scope="module")
def duckdb_warehouse(reference: BuiltWarehouse):
    target = read_target("duckdb", profiles_dir_path=REPO, env=reference.env)
    with connect(target, read_only=True) as warehouse:
        yield warehouse


def test_every_model_data_test_and_unit_test_passes(engine: EngineBuild,
                                                     reference: BuiltWarehouse) -> None:
    statuses = engine.statuses()
    failed = [f"{r['unique_id']}: {r['status']}: {r.get('message')}"
              for r in engine.run_results["results"] if r["status"] not in ("success", "pass")]
    assert not failed, f"{engine.engine}: nodes not passing:\n" + "\n".join(failed)
    expected = {r["unique_id"] for r in run_results(reference.root)["results"]}
    assert set(statuses) == expected, (
        f"{engine.engine} ran a different set of nodes than DuckDB: "
        f"missing {sorted(expected - set(statuses))}, extra {sorted(set(statuses) - expected)}")
    kinds = {node.split(".")[0] for node in statuses}
    assert {"model", "test", "unit_test"} <= kinds
    assert "test.klaviyo_audiences.klaviyo_hash_bucket_known_vectors" in statuses


def test_every_campaign_audience_equals_duckdb(engine: EngineBuild, duckdb_warehouse,
                                               reference: BuiltWarehouse) -> None:
    expected_campaigns = registry(duckdb_warehouse, "main")
    actual_campaigns = {c["campaign_id"]: c for c in registry(engine.warehouse,
                                                             engine.target.schema)}
    assert [c["campaign_id"] for c in expected_campaigns] == sorted(actual_campaigns)
    assert len(expected_campaigns) >= 3
    for campaign in expected_campaigns:
        other = actual_campaigns[campaign["campaign_id"]]
        assert relation_name(other["audience_relation"]) == relation_name(
            campaign["audience_relation"])
        columns, rows = table(duckdb_warehouse, f"select * from {campaign['audience_relation']}")
        actual_columns, actual_rows = table(engine.warehouse,
                                            f"select * from {other['audience_relation']}")
        assert actual_columns == columns, campaign["campaign_id"]
        assert sum(rows.values()) > 0
        assert actual_rows == rows, (
            f"{engine.engine}: audience of {campaign['campaign_id']} differs from DuckDB's:\n"
            + difference(rows, actual_rows, columns))


def test_audiences_cover_every_kind_of_row(engine: EngineBuild) -> None:
    """The compared audiences hold control rows, several treatments and shrink reasons."""
    counts = {}
    for campaign in registry(engine.warehouse, engine.target.schema):
        rel = campaign["audience_relation"]
        for key, sql in {
            "control": f"select count(*) from {rel} where is_control",
            "treatments": f"select count(distinct treatment_id) from {rel}",
            "shrink": f"select count(distinct shrink_reason) from {rel}",
        }.items():
            counts[key] = counts.get(key, 0) + engine.warehouse.query(sql)[0][0]
    assert counts["control"] > 0 and counts["treatments"] >= 6 and counts["shrink"] >= 2, counts


def test_delivery_summary_equals_duckdb(engine: EngineBuild, duckdb_warehouse) -> None:
    sql = "select * from {}"
    columns, rows = table(duckdb_warehouse,
                          sql.format(duckdb_warehouse.relation("main", DELIVERY_SUMMARY)))
    actual_columns, actual_rows = table(
        engine.warehouse,
        sql.format(engine.warehouse.relation(engine.target.schema, DELIVERY_SUMMARY)))
    assert actual_columns == columns
    assert sum(rows.values()) > 0
    assert actual_rows == rows, difference(rows, actual_rows, columns)


def test_registry_equals_duckdb(engine: EngineBuild, duckdb_warehouse) -> None:
    sql = "select * from {}"
    columns, rows = table(duckdb_warehouse,
                          sql.format(duckdb_warehouse.relation("main", REGISTRY)),
                          drop=REGISTRY_PER_BUILD)
    actual_columns, actual_rows = table(
        engine.warehouse, sql.format(engine.warehouse.relation(engine.target.schema, REGISTRY)),
        drop=REGISTRY_PER_BUILD)
    assert actual_columns == columns
    assert actual_rows == rows, difference(rows, actual_rows, columns)
    for campaign in registry(engine.warehouse, engine.target.schema):
        assert campaign["built_at"] is not None and campaign["dbt_invocation_id"]


def test_history_relation_exists_and_history_segments_built(engine: EngineBuild) -> None:
    """The on-run-start hook created campaign_recipients (empty) where the loader will write."""
    w = engine.warehouse
    recipients = w.relation("klaviyo_loader", "campaign_recipients")
    assert w.query(f"select count(*) from {recipients}") == [(0,)]
    assert "delivery_id" in w.columns(f"select * from {recipients}")
    for segment in ("seg_history_recent_recipients", "seg_history_spring_sale_control"):
        assert w.query(f"select count(*) from {w.relation(engine.target.schema, segment)}") == [
            (0,)]

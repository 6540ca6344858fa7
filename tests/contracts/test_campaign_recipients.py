"""`campaign_recipients` has one owner, the source declaration (models/history/
_history__sources.yml: names and types), which the on-run-start hook creates the relation
from; the loader's copy (loader/state.py CAMPAIGN_RECIPIENTS_COLUMNS, the table `loader push`
creates when dbt has not) must match it name for name and type for type."""

from __future__ import annotations

from loader.state import CAMPAIGN_RECIPIENTS_COLUMNS
from tests.contracts._manifest import PROJECT, manifest, relation_columns
from tests.fixtures.warehouse import BuiltWarehouse

SOURCE = f"source.{PROJECT}.klaviyo_loader.campaign_recipients"


def test_the_loaders_columns_are_the_sources(built_warehouse: BuiltWarehouse) -> None:
    source = manifest(built_warehouse)["sources"][SOURCE]
    declared = [(name, column["data_type"]) for name, column in source["columns"].items()]
    assert declared == [(name, data_type) for name, data_type in CAMPAIGN_RECIPIENTS_COLUMNS]


def test_the_relation_dbt_creates_is_the_one_the_loader_creates(
        built_warehouse: BuiltWarehouse) -> None:
    source = manifest(built_warehouse)["sources"][SOURCE]
    created = relation_columns(built_warehouse, source["schema"], "campaign_recipients")
    assert created == [(name, data_type) for name, data_type in CAMPAIGN_RECIPIENTS_COLUMNS]

"""The fixed columns every audience relation starts with exist in four places that must agree:
the loader (loader/warehouse.py AUDIENCE_FIXED_COLUMNS), the dbt macro that reserves them
(macros/campaigns/klaviyo_audience_fixed_columns.sql), each campaign model's enforced contract
(models/campaigns/_campaigns__models.yml, written once and reused by YAML anchors) and the
relations `dbt build` creates."""

from __future__ import annotations

from typing import Any

import pytest

from loader.warehouse import AUDIENCE_FIXED_COLUMNS
from tests.contracts._manifest import manifest, relation_columns, returned_list
from tests.fixtures.warehouse import BuiltWarehouse


@pytest.fixture(scope="module")
def doc(built_warehouse: BuiltWarehouse) -> dict[str, Any]:
    return manifest(built_warehouse)


def campaign_models(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    models = {node["name"]: node for node in doc["nodes"].values()
              if node["resource_type"] == "model" and node["path"].startswith("campaigns/")}
    assert len(models) >= 3, "the demo campaigns are missing from the manifest"
    return models


def test_the_dbt_macro_reserves_the_loaders_fixed_columns(doc: dict[str, Any]) -> None:
    assert returned_list(doc, "klaviyo_audience_fixed_columns") == list(AUDIENCE_FIXED_COLUMNS)


def test_every_campaign_contract_starts_with_the_fixed_columns(doc: dict[str, Any]) -> None:
    fixed = list(AUDIENCE_FIXED_COLUMNS)
    for name, node in campaign_models(doc).items():
        declared = list(node["columns"])[:len(fixed)]
        assert declared == fixed, f"{name}: contract columns {declared}"
        assert node["config"]["contract"]["enforced"], f"{name}: contract not enforced"


def test_every_built_audience_starts_with_the_fixed_columns(
        built_warehouse: BuiltWarehouse, doc: dict[str, Any]) -> None:
    fixed = list(AUDIENCE_FIXED_COLUMNS)
    for name, node in campaign_models(doc).items():
        built = [c for c, _ in relation_columns(built_warehouse, node["schema"], name)]
        assert built[:len(fixed)] == fixed, f"{name}: built columns {built}"
        assert built == list(node["columns"]), f"{name}: built columns differ from its contract"

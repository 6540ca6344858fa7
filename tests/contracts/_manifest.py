"""The dbt manifest of the test session's build (``target/manifest.json`` of `built_warehouse`)."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from tests.fixtures.warehouse import BuiltWarehouse

PROJECT = "klaviyo_audiences"


def manifest(warehouse: BuiltWarehouse) -> dict[str, Any]:
    return json.loads((warehouse.root / "target" / "manifest.json").read_text())


def returned_list(doc: dict[str, Any], macro: str) -> list[Any]:
    """The literal list a one-line macro returns (``{{ return([...]) }}``)."""
    sql = doc["macros"][f"macro.{PROJECT}.{macro}"]["macro_sql"]
    found = re.search(r"return\((\[.*?\])\)", sql, re.S)
    assert found, f"macro {macro} no longer returns a literal list"
    return list(ast.literal_eval(found.group(1)))


def relation_columns(warehouse: BuiltWarehouse, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, DuckDB type, lower-case) of a built relation, in order."""
    return [(name, data_type.lower()) for name, data_type in warehouse.query(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position", [schema, table])]

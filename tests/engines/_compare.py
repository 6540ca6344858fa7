"""Reading relations from any engine as comparable rows."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal
from typing import Any

from loader.engines import Warehouse

REGISTRY = "klaviyo_campaigns"
DELIVERY_SUMMARY = "klaviyo_delivery_summary"
# Registry columns that differ by build or by engine on purpose.
REGISTRY_PER_BUILD = ("built_at", "dbt_invocation_id", "audience_relation")


def normalise(value: Any) -> Any:
    """One Python value per SQL value, whichever driver read it."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return Decimal(value).normalize() + 0
    if isinstance(value, float):
        return Decimal(repr(value)).normalize() + 0
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(
            dt.UTC).replace(tzinfo=None)
    return value


def table(warehouse: Warehouse, sql: str, drop: tuple[str, ...] = ()
          ) -> tuple[list[str], Counter[tuple[Any, ...]]]:
    """Column names (minus ``drop``) and the multiset of rows of a query, read in batches."""
    columns: list[str] = []
    rows: Counter[tuple[Any, ...]] = Counter()
    for batch in warehouse.stream(sql, batch_rows=500):
        columns = [c for c in batch.columns if c not in drop]
        keep = [i for i, c in enumerate(batch.columns) if c not in drop]
        rows.update(tuple(normalise(row[i]) for i in keep) for row in batch.rows)
    if not columns:
        columns = [c for c in warehouse.columns(sql) if c not in drop]
    return columns, rows


def registry(warehouse: Warehouse, schema: str) -> list[dict[str, Any]]:
    rel = warehouse.relation(schema, REGISTRY)
    rows = []
    for batch in warehouse.stream(f"select * from {rel} order by campaign_id"):
        rows.extend(batch.dicts())
    return rows


_LAST_PART = re.compile(r'([`"]?)([^`".]+)\1\s*$')


def relation_name(relation: str) -> str:
    """The table part of a (quoted, qualified) relation name."""
    m = _LAST_PART.search(relation)
    return m.group(2) if m else relation


def difference(expected: Counter[tuple[Any, ...]], actual: Counter[tuple[Any, ...]],
               columns: list[str], limit: int = 5) -> str:
    """A readable sample of the rows only one side has."""
    missing = list((expected - actual).elements())[:limit]
    extra = list((actual - expected).elements())[:limit]
    lines = [f"columns: {columns}",
             f"{sum((expected - actual).values())} row(s) only in DuckDB, e.g.:"]
    lines += [f"  {r}" for r in missing]
    lines.append(f"{sum((actual - expected).values())} row(s) only on the engine, e.g.:")
    lines += [f"  {r}" for r in extra]
    return "\n".join(lines)

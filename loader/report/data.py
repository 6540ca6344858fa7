"""What a campaign report shows, read from the dbt models (read-only; nothing is computed here).

Relations: ``klaviyo_campaigns`` (the registry), ``campaign_funnel``, ``campaign_results`` and
``campaign_results_daily`` (models/results/). Each is looked up by name in the warehouse the
loader reads (DuckDB: ``Settings.duckdb_path``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from loader.config import STATE_SCHEMA
from loader.errors import WarehouseError
from loader.klaviyo.payloads import ident
from loader.state import connect
from loader.warehouse import REGISTRY, find_relation, select_named

FUNNEL = "campaign_funnel"
RESULTS = "campaign_results"
DAILY = "campaign_results_daily"

Row = dict[str, Any]


@dataclass
class CampaignReportData:
    """Everything one campaign's report shows, as the models hold it."""

    campaign: Row
    funnel: list[Row] = field(default_factory=list)
    results: list[Row] = field(default_factory=list)  # every delivery and 'all'
    daily: list[Row] = field(default_factory=list)  # every delivery
    # completed full deliveries (with recipients) the models do not measure yet: they were
    # built before those pushes (each (delivery_id, delivery_datetime), oldest first)
    unmeasured: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def campaign_id(self) -> str:
        return str(self.campaign["campaign_id"])

    @property
    def deliveries(self) -> list[Row]:
        """Per-delivery result rows, oldest delivery first."""
        return [r for r in self.results if not r["is_all_deliveries"]]

    @property
    def all_deliveries(self) -> list[Row]:
        return [r for r in self.results if r["is_all_deliveries"]]

    def sort_by_declaration(self) -> None:
        """Order result rows as the campaign declares its sub-audiences and treatments."""
        order = {(r["sub_audience_id"], r["treatment_id"]): r["item_order"]
                 for r in self.funnel if r["step"] == "treatment"}

        def key(r: Row) -> tuple[Any, ...]:
            return (str(r["account_id"]), bool(r["is_all_deliveries"]), r["delivery_datetime"],
                    str(r["delivery_id"]),
                    order.get((r["sub_audience_id"], r["treatment_id"]), 1 << 30),
                    str(r["sub_audience_id"]), str(r["treatment_id"]))

        self.results.sort(key=key)

    def delivery_ids(self) -> list[str]:
        seen: dict[str, datetime] = {}
        for r in self.deliveries:
            seen.setdefault(str(r["delivery_id"]), r["delivery_datetime"])
        return sorted(seen, key=lambda d: (seen[d], d))

    def daily_delivery_id(self) -> str | None:
        """The delivery whose day series the report plots: the latest one whose window is
        over, else the latest one."""
        ids = self.delivery_ids()
        complete = [d for d in ids
                    if any(r["delivery_id"] == d and not r["is_partial"] for r in self.deliveries)]
        return (complete or ids or [None])[-1]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[Row]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _relation(con: duckdb.DuckDBPyConnection, name: str) -> str:
    relation = find_relation(con, name)
    if relation is None:
        raise WarehouseError(
            f"The model `{name}` is not in the warehouse: the report reads it.",
            hint="Run `dbt build` (or `dbt build --select results`) first, and check that "
            "DUCKDB_PATH points at the file it built.",
        )
    return relation


def select_campaigns(registry: list[Row], wanted: list[str]) -> list[Row]:
    """The registry rows named by id or name (all when none are named), in the order asked."""
    if not wanted:
        return registry
    return select_named(registry, wanted, lambda c: (c["campaign_id"], c["campaign_name"]))


def _unmeasured(con: duckdb.DuckDBPyConnection, state_schema: str,
                data: CampaignReportData) -> list[tuple[str, datetime]]:
    """The campaign's completed full deliveries that have recipients (``campaign_recipients``)
    but no row in the results: pushed after the results models were built. Empty when the
    warehouse holds no loader state. The recipients view is read only for the deliveries the
    results lack (usually none)."""
    schema = ident(state_schema)
    row = con.execute("select count(*) from information_schema.tables where table_schema = ? "
                      "and table_name in ('deliveries', 'campaign_recipients')",
                      [state_schema]).fetchone()
    if not row or row[0] != 2:
        return []
    measured = {str(r["delivery_id"]) for r in data.deliveries}
    done = con.execute(
        f"select delivery_id, delivery_datetime from {schema}.deliveries where campaign_id = ? "
        f"and status = 'completed' and not coalesce(is_sample, false) "
        f"order by delivery_datetime, delivery_id", [data.campaign_id]).fetchall()
    missing = [(str(d), t) for d, t in done if str(d) not in measured]
    if not missing:
        return []
    ids = [d for d, _ in missing]
    with_recipients = {str(r[0]) for r in con.execute(
        f"select distinct delivery_id from {schema}.campaign_recipients "
        f"where campaign_id = ? and list_contains(?, delivery_id)",
        [data.campaign_id, ids]).fetchall()}
    return [(d, t) for d, t in missing if d in with_recipients]


def load(duckdb_path: str, campaigns: list[str], state_schema: str = STATE_SCHEMA
         ) -> list[CampaignReportData]:
    """Read every named campaign's report data (all campaigns when none are named), with the
    deliveries the models do not measure yet (``state_schema``: the loader's state)."""
    con = connect(duckdb_path, read_only=True)
    try:
        registry = _rows(con, f"select * from {_relation(con, REGISTRY)} order by campaign_id",
                         [])
        chosen = select_campaigns(registry, campaigns)
        funnel, results, daily = (_relation(con, n) for n in (FUNNEL, RESULTS, DAILY))
        out: list[CampaignReportData] = []
        for campaign in chosen:
            cid = [campaign["campaign_id"]]
            out.append(CampaignReportData(
                campaign=campaign,
                funnel=_rows(con, f"select * from {funnel} where campaign_id = ? "
                             "order by step_order, item_order, item_id", cid),
                results=_rows(con, f"select * from {results} where campaign_id = ? "
                              "order by account_id, is_all_deliveries, delivery_datetime, "
                              "delivery_id, sub_audience_id, is_control, treatment_id", cid),
                daily=_rows(con, f"select * from {daily} where campaign_id = ? "
                            "order by account_id, delivery_id, sub_audience_id, treatment_id, "
                            "day_number", cid),
            ))
            out[-1].sort_by_declaration()
            out[-1].unmeasured = _unmeasured(con, state_schema, out[-1])
        return out
    finally:
        con.close()

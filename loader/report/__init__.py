"""`loader report`: a static, self-contained HTML report per campaign, read from the dbt models.

``write_reports(duckdb_path, campaigns, output_dir)`` writes ``<campaign_id>.html`` per campaign
and an ``index.html`` linking them, and returns the paths. Every number shown is a column of
``campaign_results``, ``campaign_results_daily``, ``campaign_funnel`` or ``klaviyo_campaigns``.
Plots are drawn by Plotly, its script inlined: a report opens offline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from loader.config import STATE_SCHEMA
from loader.errors import ConfigError
from loader.report.data import CampaignReportData, load

__all__ = ["ReportFiles", "write_reports", "CampaignReportData"]


@dataclass(frozen=True)
class ReportFiles:
    index: Path
    campaigns: dict[str, Path]
    data: list[CampaignReportData]


def _file_name(campaign_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", campaign_id) + ".html"


def write_reports(duckdb_path: str, campaigns: list[str], output_dir: str | Path,
                  now: datetime | None = None, state_schema: str = STATE_SCHEMA) -> ReportFiles:
    """Write one report per campaign (all in the registry when none are named). A campaign
    pushed since the results models were built (``CampaignReportData.unmeasured``) says so on
    its page."""
    from loader.report.render import render_campaign, render_index

    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output {out} is a file, not a directory.",
                          hint="Give a directory (it is created when missing).")
    generated = now or datetime.now(UTC).replace(tzinfo=None)
    reports = load(duckdb_path, campaigns, state_schema)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for data in reports:
        path = out / _file_name(data.campaign_id)
        path.write_text(render_campaign(data, generated), encoding="utf-8")
        paths[data.campaign_id] = path
    index = out / "index.html"
    index.write_text(render_index(
        [{"id": d.campaign_id, "name": str(d.campaign["campaign_name"]),
          "file": paths[d.campaign_id].name} for d in reports], generated), encoding="utf-8")
    return ReportFiles(index=index, campaigns=paths, data=reports)

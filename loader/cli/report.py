"""`loader report`: a static HTML report per campaign (results, funnel, shares, deliveries)."""

from __future__ import annotations

import typer

from loader.cli._app import app, guarded


@app.command("report")
@guarded
def report(
    campaigns: list[str] = typer.Argument(  # noqa: B008
        None, help="Campaign ids or names (default: every campaign in the registry)."),
    output: str = typer.Option("report", "--output", "-o", help="Directory to write into."),
    duckdb_path: str | None = typer.Option(None, "--duckdb-path", envvar="DUCKDB_PATH",
                                           help="The warehouse file."),
) -> None:
    """Write a self-contained HTML report per campaign (opens offline), read from the dbt
    models campaign_results, campaign_results_daily and campaign_funnel (docs/results.md)."""
    from loader.config import Settings
    from loader.report import write_reports
    from loader.report.render import unmeasured_text

    settings = Settings.from_env()
    path = duckdb_path or settings.duckdb_path
    files = write_reports(path, list(campaigns or []), output, state_schema=settings.state_schema)
    for data in files.data:
        typer.echo(f"{data.campaign_id}: {files.campaigns[data.campaign_id]}")
        if data.unmeasured:
            typer.echo(f"  warning: {unmeasured_text(data)}", err=True)
        several = len({row["account_id"] for row in data.results}) > 1
        for row in data.all_deliveries:
            if row["comparison"] != "compared":
                continue
            account = f" (account {row['account_id']})" if several else ""
            level = f"{float(row['confidence_level']):.0%}"
            partial = " (partial window)" if row["is_partial"] else ""
            typer.echo(
                f"  {row['sub_audience_name']} / {row['treatment_name']}{account}: conversion "
                f"{float(row['conversion_lift']) * 100:+.1f} points, {level} interval "
                f"{float(row['conversion_lift_low']) * 100:+.1f} to "
                f"{float(row['conversion_lift_high']) * 100:+.1f}{partial}"
                if row["conversion_lift_low"] is not None else
                f"  {row['sub_audience_name']} / {row['treatment_name']}{account}: "
                "no interval yet")
    typer.echo(f"index: {files.index}")

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

    path = duckdb_path or Settings.from_env().duckdb_path
    files = write_reports(path, list(campaigns or []), output)
    for campaign_id, file in files.campaigns.items():
        typer.echo(f"{campaign_id}: {file}")
    typer.echo(f"index: {files.index}")

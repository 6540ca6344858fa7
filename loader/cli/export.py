"""`loader export`: an audience's list as the CSV Klaviyo's list/SFTP import expects."""

from __future__ import annotations

import typer

from loader.cli._app import app, guarded
from loader.config import Settings
from loader.export import export_campaign
from loader.store.warehouse import state_target


@app.command("export")
@guarded
def export(
    campaign: str = typer.Argument(..., help="Campaign id (or name) from the registry."),
    fmt: str = typer.Option("klaviyo-csv", "--format", help="Output format: klaviyo-csv."),
    output: str | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Write here (default: standard output)."
    ),
    list_name: str | None = typer.Option(
        None, "--list", metavar="LIST_NAME",
        help="The destination list to export (required when the campaign sends to several).",
    ),
    duckdb_path: str | None = typer.Option(
        None, "--duckdb-path", envvar="DUCKDB_PATH", help="The warehouse file."
    ),
    target: str | None = typer.Option(
        None, "--target", help="The dbt target to read (default: DBT_TARGET, as dbt)."),
) -> None:
    """Export one list of a campaign: its sendable, non-control rows with Klaviyo headers."""
    settings = Settings.from_env()
    path = duckdb_path or settings.duckdb_path
    result = export_campaign(path, campaign, fmt, output, list_name,
                             state_schema=settings.state_schema, target=state_target(target))
    if output is not None:
        typer.echo(
            f"Wrote {result.rows:,} rows of {result.campaign_id} → list {result.list_name!r} "
            f"to {output} (columns: {', '.join(result.headers)})",
            err=True,
        )

"""`loader status`: campaigns, schedule, last and next delivery, last summary."""

from __future__ import annotations

import json

import typer

from loader.cli._app import app, guarded
from loader.config import Settings
from loader.schedule import iso, parse_at
from loader.status import load_status, render_table


@app.command("status")
@guarded
def status(
    at: str | None = typer.Option(
        None, "--at", metavar="DATETIME",
        help="Evaluate 'now' at this ISO-8601 instant (naive = UTC), e.g. 2026-06-01T09:00Z.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    duckdb_path: str | None = typer.Option(
        None, "--duckdb-path", envvar="DUCKDB_PATH", help="The warehouse file."
    ),
) -> None:
    """Every campaign in the registry: type, schedule, last delivery, next due time, summary."""
    settings = Settings.from_env()
    path = duckdb_path or settings.duckdb_path
    when = parse_at(at)
    statuses = load_status(path, settings.state_schema, when)
    if as_json:
        payload = {"at": iso(when), "campaigns": [s.to_json() for s in statuses]}
        typer.echo(json.dumps(payload, indent=2))
        return
    from loader.sync.report import output_console, print_table

    print_table(output_console(), render_table(statuses, when))

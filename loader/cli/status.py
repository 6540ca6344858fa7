"""`loader status`: campaigns, schedule, last and next delivery, last summary."""

from __future__ import annotations

import json

import typer

from loader.cli._app import app, guarded
from loader.config import Settings
from loader.schedule import iso, parse_at
from loader.status import load_status, problem_lines, render_table
from loader.store.warehouse import state_target


@app.command("status")
@guarded
def status(
    at: str | None = typer.Option(
        None, "--at", metavar="DATETIME",
        help="Evaluate 'now' at this ISO-8601 instant (naive = UTC), e.g. 2026-06-01T09:00Z.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    wide: bool = typer.Option(False, "--wide", help="Every column (default: what fits 100)."),
    account: str | None = typer.Option(
        None, "--account", help="This Klaviyo account id (default: the last push's account)."),
    all_accounts: bool = typer.Option(False, "--all-accounts",
                                      help="Every Klaviyo account the state knows."),
    duckdb_path: str | None = typer.Option(
        None, "--duckdb-path", envvar="DUCKDB_PATH", help="The warehouse file."
    ),
    target: str | None = typer.Option(
        None, "--target", help="The dbt target to read (default: DBT_TARGET, as dbt)."),
) -> None:
    """Every campaign in the registry: type, schedule, last delivery, next due time, summary."""
    settings = Settings.from_env()
    path = duckdb_path or settings.duckdb_path
    when = parse_at(at)
    statuses, others = load_status(path, settings.state_schema, when, account, all_accounts,
                                   state_target(target))
    if as_json:
        payload = {"at": iso(when), "campaigns": [s.to_json() for s in statuses],
                   "other_accounts": others}
        typer.echo(json.dumps(payload, indent=2))
        return
    from loader.cli._console import output_console, print_table

    console = output_console()
    print_table(console, render_table(statuses, when, wide))
    if not wide:
        for line in problem_lines(statuses):
            console.print(line, style="red", highlight=False, soft_wrap=True)
    if others:
        console.print(f"State also holds {len(others)} other Klaviyo account(s) "
                      f"({', '.join(others[:3])}{', …' if len(others) > 3 else ''}): "
                      "--account ID or --all-accounts.", highlight=False)

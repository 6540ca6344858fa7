"""`loader lists` and `loader prune`: the lists pushes filled, and emptying or deleting the
ones no campaign sends to any more (never implicit; a dry run unless --apply)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import typer

from loader.cli._app import app, guarded


def _settings(duckdb_path: str | None):  # noqa: ANN202 - Settings, imported lazily
    from loader.config import Settings

    settings = Settings.from_env()
    return replace(settings, duckdb_path=duckdb_path) if duckdb_path else settings


@app.command("lists")
@guarded
def lists(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    duckdb_path: str | None = typer.Option(None, "--duckdb-path", envvar="DUCKDB_PATH",
                                           help="The warehouse file."),
) -> None:
    """The Klaviyo lists pushes filled for this account, the campaigns sending to each, and
    the orphaned ones (no campaign sends to them any more, e.g. after a rename)."""
    from rich import box
    from rich.table import Table

    from loader.cli._console import output_console, print_table
    from loader.klaviyo.client import KlaviyoClient
    from loader.state import connect
    from loader.sync.prune import check_in_klaviyo, known_lists

    settings = _settings(duckdb_path)
    client = KlaviyoClient.from_settings(settings)
    account_id = client.get_account_id()
    con = connect(settings.duckdb_path, read_only=True)
    try:
        known = known_lists(con, settings.state_schema, account_id)
    finally:
        con.close()
    check_in_klaviyo(client, known)
    if as_json:
        typer.echo(json.dumps({"account_id": account_id,
                               "lists": [k.to_json() for k in known]}, indent=2))
        return
    table = Table(title=f"Lists filled by pushes (Klaviyo account {account_id})",
                  title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1))
    for header in ("list", "id", "campaigns"):
        table.add_column(header, overflow="fold")
    for header in ("sent", "in Klaviyo"):
        table.add_column(header, justify="right")
    for k in known:
        in_klaviyo = ("deleted" if k.in_klaviyo is False else
                      f"{k.profile_count:,}" if k.profile_count is not None else "?")
        table.add_row(k.list_name, k.list_id,
                      ", ".join(k.campaigns) or "[yellow]none: orphaned[/yellow]",
                      f"{k.members:,}", in_klaviyo)
    console = output_console()
    print_table(console, table)
    orphans = [k for k in known if k.orphaned]
    if orphans:
        console.print(f"{len(orphans)} orphaned list(s): `loader prune --empty NAME…` removes "
                      "their members, `--delete` deletes them (add --apply to do it).",
                      highlight=False)


@app.command("prune")
@guarded
def prune(
    names: list[str] = typer.Argument(..., help="Names (or ids) of orphaned lists."),  # noqa: B008
    empty: bool = typer.Option(False, "--empty", help="Remove every member of each list."),
    delete: bool = typer.Option(False, "--delete", help="Delete each list in Klaviyo."),
    apply: bool = typer.Option(False, "--apply", help="Do it (default: say what would be done)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    duckdb_path: str | None = typer.Option(None, "--duckdb-path", envvar="DUCKDB_PATH",
                                           help="The warehouse file."),
) -> None:
    """Empty or delete lists a push filled that no campaign sends to any more. Only such
    lists; a dry run unless --apply."""
    from loader.errors import ConfigError
    from loader.sync.prune import prune as run_prune

    if empty == delete:
        raise ConfigError("Choose one: --empty (remove the members) or --delete (the list).")
    actions = run_prune(_settings(duckdb_path), list(names), "empty" if empty else "delete",
                        apply)
    if as_json:
        typer.echo(json.dumps({"applied": apply, "lists": [asdict(a) for a in actions]},
                              indent=2))
        return
    for a in actions:
        what = (f"remove {a.members:,} member(s) from" if a.action == "empty"
                else f"delete (with its {a.members:,} member(s))")
        verb = "Done:" if a.done else "Would"
        typer.echo(f"{verb} {what} the list {a.list_name!r} (id {a.list_id})"
                   + (f" — {a.note}" if a.note else "") + ".")
    if not apply:
        typer.echo("Dry run: nothing changed. Add --apply to do it.")

"""`loader push`: deliver due (or named) campaigns to Klaviyo lists."""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console

from loader.cli._app import app, guarded
from loader.config import redact
from loader.errors import EXIT_FAILED, ConfigError, LoaderError


def _parse_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--at: {text!r} is not an ISO-8601 datetime",
                          hint="Use e.g. 2026-06-01T09:00:00Z (naive = UTC).") from None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


@app.command("push")
@guarded
def push(
    campaigns: list[str] = typer.Argument(  # noqa: B008
        None, help="Campaign ids or names (default: the campaigns due now)."),
    at: str | None = typer.Option(None, "--at", help="Evaluate 'now' at this UTC datetime."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Show the plan; send nothing, write nothing."),
    sample: int | None = typer.Option(None, "--sample", min=1,
                                      help="Send a deterministic sample of N members a list."),
    all_campaigns: bool = typer.Option(
        False, "--all", help="Every campaign of the registry, due or not (one already "
        "delivered is only brought up to date: no new delivery unless something is sent)."),
    allow_clears: list[str] = typer.Option(  # noqa: B008
        None, "--allow-clears", help="Clear this field (e.g. first_name; 'all': every field) "
        "even on a large share of a list's members: the clear guard holds such clears back "
        "and warns (repeatable)."),
    clear_guard_share: float = typer.Option(
        0.5, "--clear-guard-share", envvar="LOADER_CLEAR_GUARD_SHARE", min=0.0, max=1.0,
        help="Clear guard: a field is not cleared on a list when at least this share of "
        "its members that had one would lose it (and --clear-guard-min members)."),
    clear_guard_min: int = typer.Option(
        10, "--clear-guard-min", envvar="LOADER_CLEAR_GUARD_MIN", min=0,
        help="Clear guard: the fewest members a held-back clear concerns."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no table."),
    wide: bool = typer.Option(False, "--wide", help="Every column (default: what fits 100)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    duckdb_path: str | None = typer.Option(None, "--duckdb-path", envvar="DUCKDB_PATH",
                                           help="The warehouse file."),
    target: str | None = typer.Option(
        None, "--target", help="The dbt target whose warehouse to push from and keep state in "
        "(default: DBT_TARGET, as dbt; a DuckDB target uses --duckdb-path)."),
) -> None:
    """Deliver audiences to Klaviyo lists: only changes are sent; state makes reruns exact."""
    if all_campaigns and campaigns:
        raise ConfigError("Name campaigns or use --all, not both.")
    guard = {"allow_clears": list(allow_clears or []), "clear_guard_share": clear_guard_share,
             "clear_guard_min": clear_guard_min}
    if not as_json:
        _push(campaigns, at, dry_run, sample, quiet, False, duckdb_path, all_campaigns, wide,
              target, guard)
        return
    # --json: one JSON document on stdout whatever happens, with the same exit code
    try:
        _push(campaigns, at, dry_run, sample, quiet, True, duckdb_path, all_campaigns, wide,
              target, guard)
    except typer.Exit:
        raise
    except LoaderError as exc:
        _json_failure(exc.message, exc.hint, exc.exit_code)
    except Exception as exc:  # unexpected: the document, and the traceback on stderr
        traceback.print_exc(file=sys.stderr)
        _json_failure(f"{type(exc).__name__}: {exc}", None, EXIT_FAILED)


def _json_failure(error: str, hint: str | None, exit_code: int) -> None:
    doc = {"status": "failed", "exit_code": exit_code, "error": error, "hint": hint}
    print(redact(json.dumps(doc, default=str, indent=2)))
    print(f"error: {redact(error)}", file=sys.stderr)
    if hint:
        print(f"hint: {redact(hint)}", file=sys.stderr)
    raise typer.Exit(exit_code)


def _push(campaigns: list[str] | None, at: str | None, dry_run: bool, sample: int | None,
          quiet: bool, as_json: bool, duckdb_path: str | None, all_campaigns: bool = False,
          wide: bool = False, target: str | None = None,
          guard: dict[str, Any] | None = None) -> None:
    from loader.cli._console import RichProgress, output_console, print_summary
    from loader.config import Settings
    from loader.store.warehouse import state_target
    from loader.sync import PushOptions
    from loader.sync import push as run_push

    settings = Settings.from_env()
    if duckdb_path:
        settings = replace(settings, duckdb_path=duckdb_path)
    options = PushOptions(campaigns=list(campaigns or []), at=_parse_at(at), dry_run=dry_run,
                          sample=sample, all_campaigns=all_campaigns, **(guard or {}))
    err = Console(stderr=True)
    progress = None if (quiet or as_json or dry_run) else RichProgress(err)
    try:
        result = run_push(settings, options, progress=progress,
                          target=state_target(target))
    finally:
        if progress is not None:
            progress.stop()
    if as_json:
        print(redact(json.dumps(result.as_dict(), default=str, indent=2)))
    elif not quiet:
        print_summary(result, output_console(), wide)
    for warning in result.warnings:
        print(f"warning: {redact(warning)}", file=sys.stderr)
    for cid, failure in result.failures.items():
        print(f"failed: {cid}: {redact(failure['error'] or '')}", file=sys.stderr)
    for note in result.notes if not as_json else []:
        print(f"note: {redact(note)}", file=sys.stderr)
    if result.error:
        print(f"error: {redact(result.error)}", file=sys.stderr)
        if result.hint:
            print(f"hint: {redact(result.hint)}", file=sys.stderr)
    raise typer.Exit(result.exit_code)

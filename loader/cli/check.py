"""`loader check`: credentials and scopes against KLAVIYO_BASE_URL, with a verdict."""

from __future__ import annotations

import json

import typer

from loader.check import GRANTED, MISSING, run_check
from loader.cli._app import app, guarded
from loader.config import Settings, redact
from loader.errors import EXIT_FAILED
from loader.klaviyo.client import KlaviyoClient


@app.command("check")
@guarded
def check(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check the Klaviyo credentials and every scope the loader needs (exit 0 ok, 2 not ok)."""
    settings = Settings.from_env()
    client = KlaviyoClient.from_settings(settings, max_attempts=3, backoff_base_s=0.2,
                                        backoff_cap_s=0.5)
    report = run_check(client)
    if as_json:
        typer.echo(redact(json.dumps(report.to_json(), indent=2)))
    else:
        typer.echo(f"Klaviyo:     {report.base_url} (revision {settings.revision})")
        typer.echo(f"Credentials: {report.credentials}")
        if report.account_id:
            typer.echo(f"Account:     {report.account_id}")
        marks = {GRANTED: "ok     ", MISSING: "MISSING"}
        for s in report.scopes:
            typer.echo(f"  {marks.get(s.verdict, 'UNKNOWN')} {s.scope:<15} {s.why}  [{s.detail}]")
        if report.ok:
            typer.echo("Verdict: OK — the credentials carry every scope `loader push` needs.")
        else:
            reason = report.problem or (
                "the key lacks the scope(s) " + ", ".join(report.missing_scopes)
                if report.missing_scopes else
                "Klaviyo did not answer the probe(s) of " + ", ".join(report.unknown_scopes)
            )
            typer.echo(redact(f"Verdict: NOT OK — {reason}"), err=True)
            if report.hint:
                typer.echo(redact(f"hint: {report.hint}"), err=True)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)

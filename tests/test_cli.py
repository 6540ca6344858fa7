"""The installed `loader` command: every command is listed, and each documents its options."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LOADER = Path(sys.executable).with_name("loader")

COMMANDS = {
    "push": ["--at", "--dry-run", "--sample", "--quiet", "--json", "--duckdb-path"],
    "status": ["--at", "--json", "--duckdb-path"],
    "check": ["--json"],
    "export": ["--format", "--output", "--list"],
    "emulator": ["--port", "--api-key", "--rate-limits", "--faults", "--job-delay"],
    "demo-data": ["--customers", "--seed", "--schema", "--duckdb-path"],
}


def run_loader(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [str(LOADER), *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_help_lists_every_command() -> None:
    result = run_loader("--help")
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert f" {command} " in result.stdout, f"`loader --help` does not list {command}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help_documents_its_options(command: str) -> None:
    result = run_loader(command, "--help")
    assert result.returncode == 0, result.stderr
    missing = [option for option in COMMANDS[command] if option not in result.stdout]
    assert not missing, f"`loader {command} --help` does not document {missing}"


def test_unknown_command_fails_with_usage() -> None:
    result = run_loader("pusj")
    assert result.returncode == 2
    assert "No such command" in result.stdout + result.stderr


def test_unexpected_errors_exit_2_without_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    from loader.cli._app import guarded

    secret = "pk_do_not_print_0123456789"
    monkeypatch.setenv("KLAVIYO_API_KEY", secret)

    @guarded
    def broken() -> None:
        raise ValueError(f"header Authorization: Klaviyo-API-Key {secret} is invalid")

    app = typer.Typer()
    app.command()(broken)
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [])
    assert result.exit_code == 2
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "unexpected ValueError" in output
    assert secret not in output
    assert "***" in output

"""The installed `loader` command: every command is listed, and each documents its options."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from loader.cli import app

LOADER = Path(sys.executable).with_name("loader")

# Every command and its options: a command or option added without an entry here fails
# test_the_list_is_every_registered_command (so its --help is checked too).
COMMANDS = {
    "push": ["--at", "--dry-run", "--sample", "--all", "--quiet", "--wide", "--json",
             "--duckdb-path", "--target", "--allow-clears", "--clear-guard-share",
             "--clear-guard-min"],
    "status": ["--at", "--json", "--wide", "--account", "--all-accounts", "--duckdb-path",
               "--target"],
    "check": ["--json"],
    "export": ["--format", "--output", "--list", "--duckdb-path", "--target"],
    "lists": ["--json", "--duckdb-path"],
    "prune": ["--empty", "--delete", "--apply", "--json", "--duckdb-path"],
    "report": ["--output", "--duckdb-path"],
    "emulator": ["--port", "--api-key", "--rate-limits", "--faults", "--fault-seed",
                 "--fault-kinds", "--job-delay", "--stop-after", "--account-id"],
    "demo-data": ["--customers", "--seed", "--schema", "--duckdb-path", "--memory-limit"],
    "demo-orders": ["--seed", "--schema", "--duckdb-path"],
}


def registered_commands() -> dict[str, Any]:
    """The commands the Typer app registers, as click commands."""
    return dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_the_list_is_every_registered_command() -> None:
    registered = {
        name: sorted(opt for param in command.params for opt in param.opts
                     if opt.startswith("--"))
        for name, command in registered_commands().items()
    }
    assert registered == {name: sorted(options) for name, options in COMMANDS.items()}


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
    described = registered_commands()[command].help
    assert described and described.split()[0] in result.stdout, \
        f"`loader {command} --help` does not describe the command"


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


# -- one actionable line instead of a traceback (issue 9, items 11 and 13) --------------------

def loader_env(**env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KLAVIYO_", "DUCKDB_"))}
    return {**base, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", **env}


def run_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LOADER), *args], capture_output=True, text=True, env=env,
                          timeout=120)


def one_line(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr's lines, checked to be an error line and at most a hint line, no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2 and lines[0].startswith("error: "), result.stderr
    assert len(lines) == 1 or lines[1].startswith("hint: "), result.stderr
    return lines


@pytest.fixture
def warehouse_file(tmp_path: Path) -> str:
    from tests.reliability.harness import Campaign, people, write_warehouse

    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, [Campaign("spring_sale", {"a": "Spring Sale A"},
                                    people(10, 1, ("a",)))])
    return path


@pytest.mark.parametrize("key", ["\u201cpk_0123456789abcdef\u201d", "pk_0123456789ab\u00e7def",
                                 "pk_Ключ0123456789"])
def test_a_key_that_cannot_be_sent_is_one_line(key: str, warehouse_file: str,
                                               klaviyo_emulator) -> None:  # noqa: ANN001
    env = loader_env(KLAVIYO_API_KEY=key, KLAVIYO_BASE_URL=klaviyo_emulator.base_url,
                     DUCKDB_PATH=warehouse_file)
    push = run_with(env, "push", "spring_sale")
    assert push.returncode == 2
    (error, hint) = one_line(push)
    assert error.startswith("error: KLAVIYO_API_KEY holds a ")
    assert key not in push.stdout + push.stderr and "0123456789" not in push.stderr
    check = run_with(env, "check")
    assert check.returncode == 2 and "KLAVIYO_API_KEY holds a " in check.stderr
    assert key not in check.stdout + check.stderr


@pytest.mark.parametrize(("url", "says"), [
    ("http://127.0.0.1:99999", "KLAVIYO_BASE_URL has an invalid port: 'http://127.0.0.1:99999'"),
    ("127.0.0.1:8765", "KLAVIYO_BASE_URL must be an http(s) URL with a host"),
    ("http://", "KLAVIYO_BASE_URL must be an http(s) URL with a host"),
])
def test_a_bad_base_url_is_one_line(url: str, says: str, warehouse_file: str) -> None:
    env = loader_env(KLAVIYO_API_KEY="pk_0123456789abcdef", KLAVIYO_BASE_URL=url,
                     DUCKDB_PATH=warehouse_file)
    for args in (["push", "spring_sale"], ["check"]):
        result = run_with(env, *args)
        assert result.returncode == 2
        assert one_line(result)[0].startswith(f"error: {says}")


def test_a_key_in_the_base_urls_user_info_is_never_printed(warehouse_file: str) -> None:
    secret = "pk_userinfo0123456789"
    for url in (f"http://user:{secret}@127.0.0.1:8765", f"http://{secret}@127.0.0.1:8765",
                f"http://user:{secret.replace('_', '%5F')}@127.0.0.1:8765"):
        env = loader_env(KLAVIYO_API_KEY="pk_0123456789abcdef", KLAVIYO_BASE_URL=url,
                         DUCKDB_PATH=warehouse_file)
        for args in (["check"], ["push", "spring_sale", "--json"]):
            result = run_with(env, *args)
            assert result.returncode == 2
            output = result.stdout + result.stderr
            for form in (secret, secret.replace("_", "%5F"), "userinfo0123456789"):
                assert form not in output, (args, output)
            assert "http://***@127.0.0.1:8765" in output


def test_only_secrets_are_masked_not_the_words_they_share(warehouse_file: str) -> None:
    """A user name in the base URL's user info is masked there, not wherever the word appears
    (the message says "user name", the key never shows)."""
    env = loader_env(KLAVIYO_API_KEY="pk_0123456789abcdef", DUCKDB_PATH=warehouse_file,
                     KLAVIYO_BASE_URL="http://user:pk_x0123@127.0.0.1:8765")
    result = run_with(env, "check")
    output = result.stdout + result.stderr
    assert "must not hold a user name or password (http://***@127.0.0.1:8765)" in output
    assert "pk_x0123" not in output and "user:" not in output


def test_a_server_that_is_down_is_named_at_once(warehouse_file: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = loader_env(KLAVIYO_API_KEY="pk_0123456789abcdef", KLAVIYO_BASE_URL=url,
                     DUCKDB_PATH=warehouse_file)
    push = run_with(env, "push", "spring_sale")
    assert push.returncode == 2
    error, hint = one_line(push)
    assert error == f"error: Nothing answers at KLAVIYO_BASE_URL={url} (connection refused)."
    assert "Check KLAVIYO_BASE_URL" in hint
    check = run_with(env, "check")
    assert check.returncode == 2
    assert f"Nothing answers at KLAVIYO_BASE_URL={url} (connection refused)" in check.stderr


def test_a_server_that_is_not_klaviyo_is_one_line(warehouse_file: str) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            body = b"<!doctype html><html><body><h1>It works!</h1></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        env = loader_env(KLAVIYO_API_KEY="pk_0123456789abcdef", KLAVIYO_BASE_URL=url,
                         DUCKDB_PATH=warehouse_file)
        push = run_with(env, "push", "spring_sale")
        check = run_with(env, "check")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert push.returncode == 2
    error, hint = one_line(push)
    assert error == (f"error: The server at KLAVIYO_BASE_URL={url} is not Klaviyo's API: it "
                     "answered get_accounts with HTTP 200 and text/html, not a JSON:API "
                     "document.")
    assert "It works" not in push.stdout + push.stderr
    assert check.returncode == 2 and "is not Klaviyo's API" in check.stderr
    assert "It works" not in check.stdout + check.stderr


def test_duckdb_path_that_is_a_directory_says_so(tmp_path: Path) -> None:
    env = loader_env(KLAVIYO_API_KEY="pk_0123456789abcdef",
                     KLAVIYO_BASE_URL="http://127.0.0.1:9", DUCKDB_PATH=str(tmp_path))
    for args in (["push", "spring_sale"], ["status"], ["push", "--dry-run", "spring_sale"]):
        result = run_with(env, *args)
        assert result.returncode == 2, args
        error, hint = one_line(result)
        assert error == f"error: The warehouse path {tmp_path} is a directory, not a DuckDB file."
        assert hint == f"hint: Point DUCKDB_PATH (or --duckdb-path) at the file, e.g. " \
                       f"{tmp_path / 'warehouse.duckdb'}."
    assert list(tmp_path.iterdir()) == []  # no lock file, nothing created

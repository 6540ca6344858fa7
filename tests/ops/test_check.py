"""`loader check` against the emulator: a verdict per scope, exit 0 / 2, never the key."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from loader.cli import app


def run_check(base_url: str, key: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, ["check", *args], env={"KLAVIYO_BASE_URL": base_url, "KLAVIYO_API_KEY": key}
    )
    return result.exit_code, result.stdout, result.stderr


def test_valid_key_is_ok(klaviyo_emulator) -> None:  # noqa: ANN001
    lists_before = klaviyo_emulator.lists()
    code, out, err = run_check(klaviyo_emulator.base_url, klaviyo_emulator.api_key)
    assert code == 0, out + err
    assert "Verdict: OK" in out
    for scope in ("accounts:read", "lists:read", "lists:write", "profiles:read",
                  "profiles:write"):
        assert f"ok      {scope}" in out
    assert klaviyo_emulator.api_key not in out + err
    assert klaviyo_emulator.lists() == lists_before  # the write probes wrote nothing
    assert klaviyo_emulator.profiles() == []


def test_valid_key_json_names_the_account(klaviyo_emulator) -> None:  # noqa: ANN001
    code, out, _ = run_check(klaviyo_emulator.base_url, klaviyo_emulator.api_key, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True and report["authenticated"] is True
    assert report["account_id"]
    assert {s["scope"]: s["verdict"] for s in report["scopes"]} == {
        "accounts:read": "granted", "lists:read": "granted", "lists:write": "granted",
        "profiles:read": "granted", "profiles:write": "granted",
    }


def test_wrong_key_exits_2_without_printing_it(klaviyo_emulator) -> None:  # noqa: ANN001
    wrong = "sk_not_a_real_key_5f3a9c"
    code, out, err = run_check(klaviyo_emulator.base_url, wrong)
    assert code == 2
    assert "refused the credentials" in err and "401" in err
    assert "KLAVIYO_API_KEY" in err  # says what to do
    assert wrong not in out + err
    code, out, err = run_check(klaviyo_emulator.base_url, wrong, "--json")
    assert code == 2 and wrong not in out + err
    assert json.loads(out)["authenticated"] is False


def test_key_without_a_scope_names_it(klaviyo_emulator) -> None:  # noqa: ANN001
    key = klaviyo_emulator.create_key(["accounts:read", "lists:read", "lists:write",
                                       "profiles:read"])
    code, out, err = run_check(klaviyo_emulator.base_url, key)
    assert code == 2
    assert "MISSING profiles:write" in out
    assert "lacks the scope(s) profiles:write" in err
    assert "ok      lists:write" in out
    assert key not in out + err


def test_read_only_key_names_every_missing_scope(klaviyo_emulator) -> None:  # noqa: ANN001
    key = klaviyo_emulator.create_key(["accounts:read", "lists:read", "profiles:read"])
    code, out, err = run_check(klaviyo_emulator.base_url, key, "--json")
    assert code == 2
    report = json.loads(out)
    missing = sorted(s["scope"] for s in report["scopes"] if s["verdict"] == "missing")
    assert missing == ["lists:write", "profiles:write"]


def test_unreachable_klaviyo_is_a_clear_failure() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = run_check(f"http://127.0.0.1:{port}", "pk_whatever_123")
    assert code == 2
    assert f"Verdict: NOT OK — Nothing answers at KLAVIYO_BASE_URL=http://127.0.0.1:{port} " \
           "(connection refused)." in err
    assert "hint: Check KLAVIYO_BASE_URL" in err and "pk_whatever_123" not in out + err


def test_oauth_credentials_are_checked_and_never_printed(klaviyo_emulator) -> None:  # noqa: ANN001
    app_ = klaviyo_emulator.create_oauth_client(["accounts:read", "lists:write",
                                                 "profiles:read"])
    env = {
        "KLAVIYO_BASE_URL": klaviyo_emulator.base_url,
        "KLAVIYO_OAUTH_CLIENT_ID": app_["client_id"],
        "KLAVIYO_OAUTH_CLIENT_SECRET": app_["client_secret"],
        "KLAVIYO_OAUTH_REFRESH_TOKEN": app_["refresh_token"],
        "KLAVIYO_OAUTH_TOKEN_URL": app_["token_url"],
    }
    result = CliRunner().invoke(app, ["check"], env=env)
    output = result.stdout + result.stderr
    assert result.exit_code == 2
    assert "Credentials: OAuth" in output
    assert "MISSING profiles:write" in output and "ok      lists:read" in output
    for secret in (app_["client_secret"], app_["refresh_token"]):
        assert secret not in output


def test_push_checks_scopes_first_names_only_the_missing_one_and_creates_nothing(
        klaviyo_emulator, tmp_path) -> None:  # noqa: ANN001
    """A key with lists:write but not profiles:write: `loader push` fails before its first
    write, naming profiles:write only; no list is created (issue 9, item 12)."""
    from tests.reliability.harness import Campaign, people, write_warehouse

    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, [Campaign("spring_sale", {"a": "Spring Sale A"},
                                    people(20, 1, ("a",)))])
    key = klaviyo_emulator.create_key(["accounts:read", "lists:read", "lists:write",
                                       "profiles:read"])
    result = CliRunner().invoke(app, ["push", "spring_sale"], env={
        "KLAVIYO_BASE_URL": klaviyo_emulator.base_url, "KLAVIYO_API_KEY": key,
        "DUCKDB_PATH": path})
    assert result.exit_code == 2
    assert "error: The Klaviyo key lacks the scope(s) profiles:write that `loader push` needs; " \
           "nothing was written to Klaviyo." in result.stderr
    hint = next(line for line in result.stderr.splitlines() if line.startswith("hint: "))
    assert "profiles:write" in hint and "lists:write" not in hint
    assert klaviyo_emulator.lists() == {}
    assert key not in result.stdout + result.stderr


def test_oauth_refresh_refused_is_a_clear_verdict(klaviyo_emulator) -> None:  # noqa: ANN001
    app_ = klaviyo_emulator.create_oauth_client()
    env = {"KLAVIYO_BASE_URL": klaviyo_emulator.base_url,
           "KLAVIYO_OAUTH_CLIENT_ID": app_["client_id"],
           "KLAVIYO_OAUTH_CLIENT_SECRET": app_["client_secret"],
           "KLAVIYO_OAUTH_REFRESH_TOKEN": "rt_revoked_0123456789",
           "KLAVIYO_OAUTH_TOKEN_URL": app_["token_url"]}
    result = CliRunner().invoke(app, ["check"], env=env)
    assert result.exit_code == 2
    assert "Verdict: NOT OK — OAuth token refresh was refused (HTTP 400)." in result.stderr
    assert "KLAVIYO_OAUTH_REFRESH_TOKEN" in result.stderr
    for secret in (app_["client_secret"], "rt_revoked_0123456789"):
        assert secret not in result.stdout + result.stderr

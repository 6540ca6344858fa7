"""`loader push` through the Typer app: output, --json, --dry-run, exit codes, no secrets."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from loader.cli import app
from tests.sync.helpers import Member, expected_lists, write_warehouse

runner = CliRunner()


def env_for(emulator, path: str) -> dict[str, str]:  # noqa: ANN001
    return {"KLAVIYO_BASE_URL": emulator.base_url, "KLAVIYO_API_KEY": emulator.api_key,
            "DUCKDB_PATH": path}


def test_push_prints_summary_and_json(klaviyo_emulator, spec, warehouse) -> None:
    env = env_for(klaviyo_emulator, warehouse)
    res = runner.invoke(app, ["push", "spring_sale"], env=env)
    assert res.exit_code == 0, res.output
    assert "Delivery summary" in res.output and "Spring Sale A" in res.output

    res = runner.invoke(app, ["push", "spring_sale", "--json"], env=env)
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["status"] == "completed" and doc["exit_code"] == 0
    want = expected_lists(spec)
    assert doc["totals"]["added"] == 0
    assert doc["totals"]["unchanged"] == sum(len(v) for v in want.values())
    assert {r["list_name"] for r in doc["lists"]} == {"Spring Sale A", "Spring Sale B"}


def test_dry_run_table_and_json(klaviyo_emulator, spec, warehouse) -> None:
    env = env_for(klaviyo_emulator, warehouse)
    res = runner.invoke(app, ["push", "spring_sale", "--dry-run"], env=env)
    assert res.exit_code == 0, res.output
    assert "dry run" in res.output and "Estimated duration" in res.output
    res = runner.invoke(app, ["push", "spring_sale", "--dry-run", "--json"], env=env)
    doc = json.loads(res.stdout)
    assert doc["dry_run"] is True
    assert doc["requests"]["bulk_import_profiles"] == 2
    want = expected_lists(spec)
    assert {r["list_name"]: r["plan"]["adds"] for r in doc["lists"]} == {
        name: len(members) for name, members in want.items()}
    assert klaviyo_emulator.lists() == {}


def test_exit_codes(klaviyo_emulator, spec, warehouse, tmp_path: Path) -> None:
    env = env_for(klaviyo_emulator, warehouse)
    spec.members.append(Member("amp-bad", "not-an-email", None, None, None))
    write_warehouse(warehouse, [spec])
    with klaviyo_emulator.unrecorded():
        res = runner.invoke(app, ["push", "spring_sale", "--quiet"], env=env)
    assert res.exit_code == 1
    res = runner.invoke(app, ["push", "no_such_campaign"], env=env)
    assert res.exit_code == 2 and "No campaign 'no_such_campaign'" in res.output
    res = runner.invoke(app, ["push", "spring_sale"],
                        env={**env, "DUCKDB_PATH": str(tmp_path / "missing.duckdb")})
    assert res.exit_code == 2


def test_invalid_key_is_a_clear_error_without_the_secret(warehouse) -> None:
    from klaviyo_emulator import Emulator

    emu = Emulator(api_key="pk_the_only_good_key")
    emu.start()
    try:
        bad = "pk_" + "s3cr3t" * 6
        with emu.unrecorded():
            res = runner.invoke(app, ["push", "spring_sale", "--json"],
                                env={**env_for(emu, warehouse), "KLAVIYO_API_KEY": bad})
    finally:
        emu.stop()
    assert res.exit_code == 2
    assert "KLAVIYO_API_KEY" in res.output
    assert bad not in res.output


def test_secrets_never_in_output_or_state(klaviyo_emulator, warehouse) -> None:
    env = env_for(klaviyo_emulator, warehouse)
    outputs = [runner.invoke(app, ["push", "spring_sale", *extra], env=env).output
               for extra in ([], ["--json"], ["--dry-run"])]
    key = klaviyo_emulator.api_key
    assert all(key not in out for out in outputs)
    assert key.encode() not in Path(warehouse).read_bytes()
    wal = Path(warehouse + ".wal")
    assert not wal.exists() or key.encode() not in wal.read_bytes()


def test_without_names_pushes_the_due_campaigns_once(klaviyo_emulator, warehouse) -> None:
    env = env_for(klaviyo_emulator, warehouse)
    res = runner.invoke(app, ["push", "--json", "--at", "2026-06-01T09:00:00Z"], env=env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["campaigns"] == ["spring_sale"]
    res = runner.invoke(app, ["push", "--at", "2026-06-02T09:00:00Z"], env=env)
    assert res.exit_code == 0
    assert "No campaign is due" in res.output
    res = runner.invoke(app, ["push", "--at", "not-a-date"], env=env)
    assert res.exit_code == 2 and "--at" in res.output


def test_tables_keep_values_whole_when_stdout_is_not_a_terminal(klaviyo_emulator, spec,
                                                                 tmp_path: Path) -> None:
    """CliRunner's stdout is a pipe, as under cron or CI: no `spr…` truncation."""
    from tests.sync.helpers import write_warehouse as write

    spec.campaign_id = "spring_sale_with_a_long_campaign_identifier"
    spec.list_a = "Spring Sale - a long list name that a person reads whole"
    spec.list_b = "Spring Sale - its sister list with an equally long name"
    path = str(tmp_path / "wide.duckdb")
    write(path, [spec])
    env = {**env_for(klaviyo_emulator, path), "COLUMNS": "80"}
    for extra in (["--dry-run"], []):
        res = runner.invoke(app, ["push", spec.campaign_id, *extra], env=env)
        assert res.exit_code == 0, res.output
        assert "…" not in res.stdout
        for value in (spec.campaign_id, spec.list_a, spec.list_b):
            assert value in res.stdout, (extra, value)


def test_json_failure_is_one_json_document(klaviyo_emulator, warehouse, tmp_path: Path) -> None:
    env = env_for(klaviyo_emulator, warehouse)
    missing = str(tmp_path / "nonexistent.duckdb")
    cases = [
        (["push", "no_such_campaign", "--json"], env),  # fails inside the run
        (["push", "spring_sale", "--json"], {**env, "DUCKDB_PATH": missing}),  # before it
        (["push", "spring_sale", "--json", "--at", "not-a-date"], env),  # option parsing
        (["push", "spring_sale", "--json"], {**env, "KLAVIYO_API_KEY": ""}),  # configuration
    ]
    for args, e in cases:
        res = runner.invoke(app, args, env=e)
        assert res.exit_code == 2, (args, res.output)
        doc = json.loads(res.stdout)
        assert doc["status"] == "failed" and doc["exit_code"] == 2, args
        assert doc["error"], args
        assert klaviyo_emulator.api_key not in res.stdout


def test_missing_warehouse_leaves_no_file_behind(klaviyo_emulator, tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent.duckdb"
    res = runner.invoke(app, ["push", "spring_sale"],
                        env=env_for(klaviyo_emulator, str(missing)))
    assert res.exit_code == 2
    assert "does not exist" in res.output
    assert list(tmp_path.iterdir()) == []


def test_unexpected_error_recorded_in_state_without_the_secret(klaviyo_emulator,
                                                               warehouse) -> None:
    """An exception that quotes the key is recorded in sync_runs.error with the key scrubbed."""
    import duckdb
    import pytest

    from loader.klaviyo.client import KlaviyoClient
    from loader.sync import PushOptions, push
    from tests.sync.conftest import settings_for

    key = klaviyo_emulator.api_key

    class LeakyClient(KlaviyoClient):
        def resolve_list(self, name: str, create: bool = True, **kwargs: object
                         ) -> tuple[str | None, bool]:
            raise RuntimeError(f"boom with {key} inside")

    settings = settings_for(klaviyo_emulator, warehouse)
    client = LeakyClient(settings.base_url, settings.credentials, settings.revision)
    with pytest.raises(RuntimeError):
        push(settings, PushOptions(campaigns=["spring_sale"]), client=client)
    con = duckdb.connect(warehouse, read_only=True)
    errors = [r[0] for r in con.execute(
        "select error from klaviyo_loader.sync_runs where status = 'failed'").fetchall()]
    con.close()
    assert errors == ["RuntimeError: boom with *** inside"]
    assert key.encode() not in Path(warehouse).read_bytes()


def test_clears_are_shown_by_default_and_a_mass_clear_needs_allow_clears(
        klaviyo_emulator, spec, warehouse) -> None:
    """The summary shows `cleared` without --wide when a push cleared fields; a clear of most
    of a list is held back with a warning naming --allow-clears, which then clears it."""
    env = env_for(klaviyo_emulator, warehouse)
    assert runner.invoke(app, ["push", "spring_sale"], env=env).exit_code == 0
    for m in spec.members:
        m.first_name = None
    write_warehouse(warehouse, [spec])
    held = runner.invoke(app, ["push", "spring_sale"], env=env)
    assert held.exit_code == 0, held.output
    assert "cleared" not in held.stdout  # nothing cleared: no column
    assert "warning: campaign 'spring_sale', list 'Spring Sale A': the push was to clear " \
        "'first_name'" in held.stderr and "--allow-clears first_name" in held.stderr
    allowed = runner.invoke(app, ["push", "spring_sale", "--allow-clears", "first_name"],
                            env=env)
    assert allowed.exit_code == 0, allowed.output
    assert "cleared" in allowed.stdout and "warning" not in allowed.stderr
    bad = runner.invoke(app, ["push", "spring_sale", "--allow-clears", "firstname"], env=env)
    assert bad.exit_code == 2 and "firstname" in bad.output

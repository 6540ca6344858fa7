"""One bad campaign does not stop the others; what a delivery is, and what it counts.

Against the emulator over HTTP, through the library and the Typer app (our code not mocked).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from loader.cli import app
from loader.errors import EXIT_FAILED, EXIT_OK, EXIT_REJECTED
from loader.klaviyo.client import KlaviyoClient
from loader.sync import PushOptions, push
from tests.sync.conftest import settings_for
from tests.sync.helpers import CampaignSpec, Member, make_members, query, write_warehouse

runner = CliRunner()


def env_for(emulator: Any, path: str) -> dict[str, str]:
    return {"KLAVIYO_BASE_URL": emulator.base_url, "KLAVIYO_API_KEY": emulator.api_key,
            "DUCKDB_PATH": path, "COLUMNS": "100"}


def three(tmp_path: Path) -> tuple[str, list[CampaignSpec]]:
    specs = [CampaignSpec(campaign_id=cid, list_a=f"{cid} list",
                          members=make_members(30, seed=i))
             for i, cid in enumerate(("alpha", "beta", "gamma"))]
    for i, spec in enumerate(specs):  # distinct customers in each campaign
        for m in spec.members:
            m.amperity_id, m.email = f"{i}-{m.amperity_id}", m.email and f"{i}-{m.email}"
    path = str(tmp_path / "three.duckdb")
    write_warehouse(path, specs)
    return path, specs


def test_a_cron_that_never_fires_fails_its_campaign_only(klaviyo_emulator, tmp_path) -> None:
    path, _ = three(tmp_path)
    with duckdb.connect(path) as con:
        con.execute("update main.klaviyo_campaigns set campaign_type = 'recurring', "
                    "schedule_cron = '0 8 31 2 *' where campaign_id = 'beta'")
    res = runner.invoke(app, ["push"], env=env_for(klaviyo_emulator, path))
    assert res.exit_code == EXIT_FAILED, res.output
    assert "beta" in res.stderr and "never fires" in res.stderr
    assert "Traceback" not in res.output
    lists = klaviyo_emulator.lists()
    assert set(lists) == {"alpha list", "gamma list"}  # the others were sent
    # status lists it with the reason, and does not die
    res = runner.invoke(app, ["status", "--json"], env=env_for(klaviyo_emulator, path))
    assert res.exit_code == 0, res.output
    beta = next(c for c in json.loads(res.stdout)["campaigns"] if c["campaign_id"] == "beta")
    assert "never fires" in beta["problem"]


def test_two_campaigns_on_one_list_fail_those_two_only(klaviyo_emulator, tmp_path) -> None:
    path, specs = three(tmp_path)
    with duckdb.connect(path) as con:
        con.execute("update main.klaviyo_campaigns set list_names = 'alpha list' "
                    "where campaign_id = 'gamma'")
    result = push(settings_for(klaviyo_emulator, path), PushOptions())
    assert result.exit_code == EXIT_FAILED
    assert set(result.failures) == {"alpha", "gamma"}
    assert "'alpha list'" in result.failures["gamma"]["error"]
    assert set(klaviyo_emulator.lists()) == {"beta list"}
    assert list(result.deliveries) == ["beta"]
    assert "2 of 3 campaign(s) failed" in (result.error or "")


def test_an_audience_with_no_row_warns(klaviyo_emulator, tmp_path) -> None:
    path, specs = three(tmp_path)
    with duckdb.connect(path) as con:
        con.execute("delete from main.aud_beta")
    res = runner.invoke(app, ["push", "beta"], env=env_for(klaviyo_emulator, path))
    assert res.exit_code == EXIT_OK, res.output
    assert "warning: campaign 'beta': the list 'beta list' gets nobody" in res.stderr


class CrashAfterFirstList(KlaviyoClient):
    """A client whose process 'dies' (an exception nothing handles) when the second list's
    first job is posted, after the first list's jobs were confirmed."""

    posts = 0

    def submit_import(self, body: bytes) -> dict[str, Any]:
        if b'"Spring Sale B"' not in body and CrashAfterFirstList.posts >= 1:
            raise SystemExit("killed")
        CrashAfterFirstList.posts += 1
        return super().submit_import(body)


def test_a_delivery_completed_by_a_rerun_reports_its_whole_total(klaviyo_emulator, spec,
                                                                  warehouse) -> None:
    settings = settings_for(klaviyo_emulator, warehouse)
    with pytest.raises(SystemExit):
        push(settings, PushOptions(campaigns=["spring_sale"]),
             client=CrashAfterFirstList.from_settings(settings))
    first = query(warehouse, "select status, added from klaviyo_loader.deliveries")
    assert first[0][0] == "running" and first[0][1] > 0  # list A's share, counted
    rerun = push(settings, PushOptions(campaigns=["spring_sale"]))
    assert rerun.exit_code == EXIT_OK, rerun.error
    sendable = sum(1 for m in spec.members if m.treatment != "control" and not m.shrink_reason)
    this_run = sum(r.added for r in rerun.lists)
    assert 0 < this_run < sendable
    assert rerun.delivery_totals["spring_sale"]["added"] == sendable
    assert query(warehouse, "select status, added from klaviyo_loader.deliveries") == [
        ("completed", sendable)]
    res = runner.invoke(app, ["status", "--json"], env=env_for(klaviyo_emulator, warehouse))
    last = json.loads(res.stdout)["campaigns"][0]["last_delivery"]
    assert last["added"] == sendable


def test_rejected_agrees_between_the_summary_and_status(klaviyo_emulator, spec, warehouse
                                                        ) -> None:
    spec.members += [Member("amp-bad", "not-an-email", None, None, None),
                     Member("amp-dup-1", "dup@example.com", None, None, None),
                     Member("amp-dup-2", "dup@example.com", None, None, None)]
    write_warehouse(warehouse, [spec])
    env = env_for(klaviyo_emulator, warehouse)
    with klaviyo_emulator.unrecorded():
        res = runner.invoke(app, ["push", "spring_sale", "--json"], env=env)
    assert res.exit_code == EXIT_REJECTED, res.output
    doc = json.loads(res.stdout)
    assert (doc["totals"]["rejected"], doc["totals"]["duplicates"]) == (1, 1)
    status = json.loads(runner.invoke(app, ["status", "--json"], env=env).stdout)
    campaign = status["campaigns"][0]
    assert campaign["rejected_rows"] == campaign["last_delivery"]["rejected"] == 1
    assert campaign["last_delivery"]["duplicates"] == 1
    table = runner.invoke(app, ["status"], env=env).stdout
    row = next(line for line in table.splitlines() if "spring_sale" in line)
    assert row.split()[-1] == "1"  # the rejected column


def test_tables_fit_100_columns_and_wide_shows_more(klaviyo_emulator, warehouse) -> None:
    env = env_for(klaviyo_emulator, warehouse)
    for args in (["push", "spring_sale"], ["push", "spring_sale", "--dry-run"],
                 ["push", "spring_sale"], ["status"]):
        res = runner.invoke(app, args, env=env)
        assert res.exit_code == 0, res.output
        wide = [line for line in res.stdout.splitlines() if len(line) > 100]
        assert not wide, (args, wide)
    res = runner.invoke(app, ["push", "spring_sale", "--wide"], env=env)
    assert "duplicates" in res.stdout and "expansion" in res.stdout
    res = runner.invoke(app, ["status", "--wide"], env=env)
    assert "withheld" in res.stdout and "account" in res.stdout


def test_status_shows_the_last_pushed_account(klaviyo_emulator, spec, warehouse) -> None:
    from klaviyo_emulator import Emulator

    push(settings_for(klaviyo_emulator, warehouse), PushOptions(campaigns=["spring_sale"]))
    other = Emulator()
    other.start()
    try:
        push(settings_for(other, warehouse), PushOptions(campaigns=["spring_sale"]))
    finally:
        other.stop()
    env = {"DUCKDB_PATH": warehouse}
    doc = json.loads(runner.invoke(app, ["status", "--json"], env=env).stdout)
    assert [c["account_id"] for c in doc["campaigns"]] == [other.account_id]
    assert doc["other_accounts"] == [klaviyo_emulator.account_id]
    res = runner.invoke(app, ["status"], env=env)
    assert "--all-accounts" in res.stdout
    doc = json.loads(runner.invoke(app, ["status", "--json", "--all-accounts"], env=env).stdout)
    assert {c["account_id"] for c in doc["campaigns"]} == {other.account_id,
                                                           klaviyo_emulator.account_id}
    doc = json.loads(runner.invoke(app, ["status", "--json", "--account",
                                         klaviyo_emulator.account_id], env=env).stdout)
    assert [c["account_id"] for c in doc["campaigns"]] == [klaviyo_emulator.account_id]


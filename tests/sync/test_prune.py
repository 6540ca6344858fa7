"""A renamed list: the push warns, `loader lists` shows it orphaned, `loader prune` empties or
deletes it on request only (a dry run by default), and refuses a list a campaign sends to."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from loader.cli import app
from tests.sync.helpers import CampaignSpec, query, write_warehouse

runner = CliRunner()


def env_for(emulator, path: str) -> dict[str, str]:  # noqa: ANN001
    return {"KLAVIYO_BASE_URL": emulator.base_url, "KLAVIYO_API_KEY": emulator.api_key,
            "DUCKDB_PATH": path}


def test_renamed_list_is_reported_then_pruned_on_request(klaviyo_emulator, spec: CampaignSpec,
                                                         warehouse) -> None:
    env = env_for(klaviyo_emulator, warehouse)
    assert runner.invoke(app, ["push", "spring_sale"], env=env).exit_code == 0
    old_b = spec.list_b
    spec.list_b = "Spring Sale B (renamed)"
    write_warehouse(warehouse, [spec])
    res = runner.invoke(app, ["push", "spring_sale"], env=env)
    assert res.exit_code == 0, res.output
    assert f"warning: the Klaviyo list {old_b!r}" in res.stderr and "loader prune" in res.stderr
    lists = klaviyo_emulator.lists()
    members = len(lists[old_b]["members"])
    assert members > 0 and lists["Spring Sale B (renamed)"]["emails"] == lists[old_b]["emails"]

    doc = json.loads(runner.invoke(app, ["lists", "--json"], env=env).stdout)
    by_name = {k["list_name"]: k for k in doc["lists"]}
    assert by_name[old_b]["orphaned"] and by_name[old_b]["profile_count"] == members
    assert by_name["Spring Sale A"]["campaigns"] == ["spring_sale"]
    assert "orphaned" in runner.invoke(app, ["lists"], env=env).stdout

    # a dry run by default; a targeted list is refused; one action must be chosen
    res = runner.invoke(app, ["prune", old_b, "--empty"], env=env)
    assert res.exit_code == 0 and "Would remove" in res.stdout and "--apply" in res.stdout
    assert len(klaviyo_emulator.lists()[old_b]["members"]) == members
    res = runner.invoke(app, ["prune", "Spring Sale A", "--delete", "--apply"], env=env)
    assert res.exit_code == 2 and "spring_sale" in res.stderr
    assert runner.invoke(app, ["prune", old_b], env=env).exit_code == 2

    res = runner.invoke(app, ["prune", old_b, "--empty", "--apply"], env=env)
    assert res.exit_code == 0, res.output
    assert klaviyo_emulator.lists()[old_b]["members"] == []
    assert query(warehouse, f"select count(*) from klaviyo_loader.list_members "
                            f"where list_name = '{old_b}'") == [(0,)]
    res = runner.invoke(app, ["push", "spring_sale"], env=env)
    assert "warning" not in res.stderr
    # the renamed list itself is untouched
    assert klaviyo_emulator.lists()["Spring Sale B (renamed)"]["members"]


def test_prune_delete_removes_the_list(klaviyo_emulator, spec: CampaignSpec, warehouse) -> None:
    env = env_for(klaviyo_emulator, warehouse)
    runner.invoke(app, ["push", "spring_sale"], env=env)
    spec.list_b = None
    write_warehouse(warehouse, [spec])
    runner.invoke(app, ["push", "spring_sale"], env=env)
    res = runner.invoke(app, ["prune", "Spring Sale B", "--delete", "--apply", "--json"],
                        env=env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["lists"][0]["done"] is True
    assert "Spring Sale B" not in klaviyo_emulator.lists()
    assert klaviyo_emulator.stats()["requests"]["delete_list"] == 1

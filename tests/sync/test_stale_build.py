"""`loader push` after a failed `dbt build` warns that the audiences it did not rebuild are
stale (loader/dbt_results.py): a real dbt project, a real failed build, the real CLI against
the emulator. A warning, not an error: the push sends what the earlier build left."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from loader.cli import app
from tests.campaigns._project import CampaignProject

runner = CliRunner()
TEST_THAT_FAILS = """version: 2
models:
  - name: all_sale
    columns:
      - name: campaign_id
        data_tests:
          - accepted_values:
              arguments:
                values: ['another_campaign']
"""
VIP = "select amperity_id from {{ ref('test_people') }} where score >= %d\n"
BROKEN = ("select amperity_id from {{ ref('test_people') }} "
          "where cast('x' || score as integer) > 0\n")  # fails at run time


def test_a_push_after_a_failed_build_names_the_stale_audiences(klaviyo_emulator,
                                                              tmp_path: Path) -> None:
    project = CampaignProject(tmp_path)
    project.write_model("segments/test_vip", VIP % 90)
    for cid, segment in (("vip_sale", "test_vip"), ("all_sale", "test_everyone")):
        project.write_campaign(cid, f"    name='{cid}',\n    campaign_id='{cid}',\n"
                               f"    include=['{segment}'],\n"
                               f"    treatments=[{{'name': 'Send', 'percent': 100, "
                               f"'list_name': '{cid}'}}]")
    campaigns = ["vip_sale", "all_sale"]
    assert project.dbt("build", campaigns=campaigns, keep_results=True).returncode == 0
    env = {"KLAVIYO_BASE_URL": klaviyo_emulator.base_url,
           "KLAVIYO_API_KEY": klaviyo_emulator.api_key,
           "DUCKDB_PATH": str(project.duckdb_path), "DBT_TARGET_PATH": str(tmp_path / "target")}
    first = runner.invoke(app, ["push", "--all", "--json"], env=env)
    assert first.exit_code in (0, 1), first.output
    assert json.loads(first.stdout)["warnings"] == []
    before = set(klaviyo_emulator.lists()["vip_sale"]["emails"])

    # vip_sale's segment is changed, and broken: the build fails, the campaign model is
    # skipped; all_sale's model is built, but a test of it fails
    project.write_model("segments/test_vip", BROKEN)
    tests = tmp_path / "models" / "campaigns" / "_tests.yml"
    tests.write_text(TEST_THAT_FAILS)
    failed = project.dbt("build", campaigns=campaigns, keep_results=True)
    assert failed.returncode != 0 and failed.status("vip_sale") == "skipped"
    assert failed.status("all_sale") == "success"
    res = runner.invoke(app, ["push", "--all"], env=env)
    assert res.exit_code in (0, 1), res.output  # a warning, not a failure
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    vip = [w for w in warnings if "'vip_sale'" in w]
    assert len(vip) == 1, res.stderr
    assert "did not build its audience vip_sale (skipped)" in vip[0]
    assert "failed in that run: model test_vip (error)." in vip[0]  # not all_sale's test
    assert "`dbt build`" in vip[0] and "run_results.json" in vip[0]
    assert "registry of dbt invocation " in vip[0]
    every = [w for w in warnings if "'all_sale'" in w]
    assert len(every) == 1, res.stderr
    assert ("built its audience all_sale but failed: test accepted_values_all_sale_campaign_id"
            in every[0]) and "test_vip" not in every[0]
    assert set(klaviyo_emulator.lists()["vip_sale"]["emails"]) == before

    # built again, fixed: no warning
    project.write_model("segments/test_vip", VIP % 95)
    tests.unlink()
    assert project.dbt("build", campaigns=campaigns, keep_results=True).returncode == 0
    again = runner.invoke(app, ["push", "--all", "--json"], env=env)
    assert again.exit_code in (0, 1), again.output
    assert json.loads(again.stdout)["warnings"] == []
    assert set(klaviyo_emulator.lists()["vip_sale"]["emails"]) < before

"""`dbt build` warns about a Klaviyo list a push filled that the campaign no longer targets
(its treatment's list was renamed): the warning names the campaign, the old list, the members
left there and `loader lists` / `loader prune`. Silent before the first push."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from loader.sync import PushOptions, push
from tests.campaigns._project import CampaignProject
from tests.sync.conftest import settings_for

CAMPAIGN = """\
    name='Renamer',
    campaign_id='renamer',
    include=['test_everyone'],
    treatments=[{{'name': 'Send', 'percent': 100, 'list_name': '{list_name}'}}]"""


def warnings(project: CampaignProject) -> list[str]:
    log = (project.root / "logs" / "dbt.log").read_text()
    (project.root / "logs" / "dbt.log").unlink()
    return [re.sub(r"\s+", " ", w).strip() for w in re.findall(r"\[warn \] \[[^]]*\]: (.*)", log)]


def test_build_after_a_rename_warns_about_the_old_list(tmp_path: Path,
                                                       klaviyo_emulator: Any) -> None:
    project = CampaignProject(tmp_path)
    project.write_campaign("renamer", CAMPAIGN.format(list_name="Renamer - old"))
    first = project.dbt("run", campaigns=["renamer"], population_end=60)
    assert first.returncode == 0, first.output
    assert not [w for w in warnings(project) if "no campaign targets" in w]  # no state yet

    result = push(settings_for(klaviyo_emulator, str(project.duckdb_path)),
                  PushOptions(campaigns=["renamer"]))
    assert result.error is None, result.error
    old = klaviyo_emulator.lists()["Renamer - old"]
    sent = len(old["members"])
    assert sent > 0

    same = project.dbt("run", "--select", "klaviyo_campaigns", campaigns=["renamer"],
                       population_end=60)
    assert same.returncode == 0, same.output
    assert not [w for w in warnings(project) if "no campaign targets" in w]  # still targeted

    project.write_campaign("renamer", CAMPAIGN.format(list_name="Renamer - new"))
    renamed = project.dbt("build", "--select", "renamer", "klaviyo_campaigns",
                          campaigns=["renamer"], population_end=60)
    assert renamed.returncode == 0, renamed.output
    found = [w for w in warnings(project) if "no campaign targets" in w]
    assert found == [
        f"Campaign 'renamer': the Klaviyo list 'Renamer - old' (id {old['id']}) still holds "
        f"{sent} member(s) a push sent, but no campaign targets it any more (renamed?): "
        "`loader lists` shows it and `loader prune` empties or deletes it"], found

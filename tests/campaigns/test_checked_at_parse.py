"""A campaign declaration is checked once, when dbt parses the model: compiling reuses that
result (config.meta.klaviyo_campaign_checks) instead of checking again. The reuse must say what
a fresh check would: these tests change what the check reads between invocations that parse
partially (a var, the model's file) and expect the new verdict, not the stored one."""

from __future__ import annotations

import json

from tests.campaigns._project import CampaignProject

CAMPAIGN = """\
    name='Checked at parse',
    campaign_id='checked_at_parse',
    include=['test_everyone'],
    treatments=[{'name': 'Send', 'percent': 100, 'list_name': 'Checked at parse'}]"""

INPUTS = ("test_people", "test_everyone")


def stored_checks(project: CampaignProject) -> dict[str, list[object]]:
    manifest = json.loads((project.root / "target" / "manifest.json").read_text())
    node = manifest["nodes"]["model.klaviyo_audiences.checked_at_parse"]
    return node["config"]["meta"]["klaviyo_campaign_checks"]


def test_the_stored_verdict_follows_vars_and_the_model_file(
    campaign_project: CampaignProject,
) -> None:
    project = campaign_project
    project.write_campaign("checked_at_parse", CAMPAIGN)
    campaigns = ["checked_at_parse"]
    built = project.dbt("run", "--select", *INPUTS, "checked_at_parse", campaigns=campaigns)
    assert built.returncode == 0, built.output
    assert built.status("checked_at_parse") == "success"
    assert stored_checks(project) == {"errors": [], "warnings": []}

    # A var the check reads changes: the identifier's attribute is no longer a default.
    without_email = {"phone_number": "phone", "first_name": "given_name"}
    changed = project.dbt("run", "--select", "checked_at_parse", campaigns=campaigns,
                          klaviyo_default_attributes=without_email)
    assert changed.status("checked_at_parse") == "error", changed.output
    message = changed.message("checked_at_parse")
    assert "Campaign 'Checked at parse' (model checked_at_parse) is invalid:" in message
    assert "field identifier: identifier 'email' is missing from the attributes" in message
    assert stored_checks(project)["errors"] == [
        ["identifier", "identifier 'email' is missing from the attributes (attributes: "
         "phone_number, first_name): add or rename a column to it"]]

    # Back to the project's vars, unchanged files: partial parse, the clean verdict again.
    again = project.dbt("run", "--select", "checked_at_parse", campaigns=campaigns)
    assert again.status("checked_at_parse") == "success", again.output

    # The model's file changes: its new error is raised.
    project.write_campaign("checked_at_parse", CAMPAIGN.replace("'percent': 100", "'percent': 90"))
    edited = project.dbt("run", "--select", "checked_at_parse", campaigns=campaigns)
    assert edited.status("checked_at_parse") == "error", edited.output
    assert ("field treatments.percent: percents of sub-audience 'All' sum to 90 (90), expected "
            "exactly 100") in edited.message("checked_at_parse")

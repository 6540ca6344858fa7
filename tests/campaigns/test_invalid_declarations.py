"""Every invalid campaign declaration (PRODUCT §3) fails the build with a message naming the
campaign and the field. One dbt run compiles every bad campaign; each is checked on its own
message."""

from __future__ import annotations

import pytest

from tests.campaigns._project import CampaignProject

ELEVEN = [f"seg_t{n}" for n in range(1, 12)]
SPLIT = """[
        {'name': 'A', 'percent': 50, 'list_name': 'List A'},
        {'name': 'B', 'percent': 50, 'list_name': 'List B'},
    ]"""


def body(name: str, **overrides: str) -> str:
    arguments = {
        "name": repr(name),
        "campaign_id": repr(name.lower().replace(" ", "_")),
        "include": "['test_everyone']",
        "treatments": SPLIT,
    }
    arguments.update(overrides)
    return ",\n".join(f"    {key}={value}" for key, value in arguments.items())


# model -> (campaign name, declaration overrides, field named, words in the message)
CASES: dict[str, tuple[str, dict[str, str], str, str]] = {
    "bad_no_include": (
        "No include",
        {"include": "[]"},
        "include",
        "expected 1 to 10 segments, got 0",
    ),
    "bad_eleven_includes": (
        "Eleven includes",
        {"include": repr(ELEVEN)},
        "include",
        "expected 1 to 10 segments, got 11",
    ),
    "bad_eleven_excludes": (
        "Eleven excludes",
        {"exclude": repr(ELEVEN)},
        "exclude",
        "expected 0 to 10 segments, got 11",
    ),
    "bad_percents": (
        "Bad percents",
        {
            "treatments": "[{'name': 'A', 'percent': 60, 'list_name': 'A'}, "
            "{'name': 'B', 'percent': 30, 'list_name': 'B'}]"
        },
        "treatments.percent",
        "sum to 90.0, expected exactly 100",
    ),
    "bad_two_controls": (
        "Two controls",
        {
            "treatments": "[{'name': 'A', 'percent': 80, 'list_name': 'A'}, "
            "{'name': 'C1', 'percent': 10, 'control': true}, "
            "{'name': 'C2', 'percent': 10, 'control': true}]"
        },
        "treatments.control",
        "2 control groups, expected at most 1",
    ),
    "bad_no_destination": (
        "No destination",
        {"treatments": "[{'name': 'A', 'percent': 100}]"},
        "treatments[0].list_name",
        "treatment 'A' has no destination",
    ),
    "bad_duplicate_sub_audience": (
        "Duplicate sub-audience",
        {"sub_audiences": "[{'name': 'VIP', 'condition': 'score > 50'}, {'name': 'vip'}]"},
        "sub_audiences[1].name",
        "duplicate sub-audience name 'vip'",
    ),
    "bad_duplicate_treatment": (
        "Duplicate treatment",
        {
            "treatments": "[{'name': 'Offer', 'percent': 50, 'list_name': 'A'}, "
            "{'name': 'offer', 'percent': 50, 'list_name': 'B'}]"
        },
        "treatments[1].name",
        "duplicate treatment name 'offer'",
    ),
    "bad_duplicate_campaign_id": (
        "Duplicate id",
        {"campaign_id": "'good_campaign'"},
        "campaign_id",
        "duplicate campaign id 'good_campaign': also used by model good_campaign",
    ),
    "bad_duplicate_campaign_name": (
        "Good campaign",
        {"campaign_id": "'another_id'"},
        "name",
        "duplicate campaign name 'Good campaign'",
    ),
    "bad_unknown_column": (
        "Unknown column",
        {"attributes": "{'add': {'shoe_size': 'shoe_size_eu'}}"},
        "attributes",
        "unknown attribute column 'shoe_size_eu'",
    ),
    "bad_missing_identifier": (
        "Missing identifier",
        {"attributes": "{'drop': ['email']}"},
        "identifier",
        "identifier 'email' is missing from the attributes",
    ),
    "bad_identifier_kind": (
        "Fax identifier",
        {"identifier": "'fax'"},
        "identifier",
        "expected email, phone_number or external_id, got fax",
    ),
    "bad_cron": (
        "Bad cron",
        {"timing": "{'type': 'recurring', 'cron': '0 25 * * *'}"},
        "timing.cron",
        "invalid schedule: hour field '25' is out of range 0-23",
    ),
    "bad_cron_fields": (
        "Short cron",
        {"timing": "{'type': 'recurring', 'cron': '0 9 * *'}"},
        "timing.cron",
        "invalid schedule: expected 5 fields",
    ),
    "bad_interval": (
        "Bad interval",
        {"timing": "{'type': 'recurring', 'interval_minutes': 0}"},
        "timing.interval_minutes",
        "invalid schedule: expected a positive whole number",
    ),
    "bad_recurring_without_schedule": (
        "No schedule",
        {"timing": "{'type': 'recurring'}"},
        "timing",
        "needs exactly one of cron or interval_minutes",
    ),
    "bad_send_at": (
        "Bad send_at",
        {"timing": "{'send_at': 'next tuesday'}"},
        "timing.send_at",
        "expected 'asap' or a UTC datetime",
    ),
    "bad_unknown_argument": (
        "Unknown argument",
        {"colour": "'red'"},
        "colour",
        "is not a campaign argument",
    ),
    "bad_not_listed": (
        "Not listed",
        {},
        "model",
        "campaign model 'bad_not_listed' is not listed in var klaviyo_campaigns",
    ),
}


@pytest.fixture(scope="module")
def failed_run(campaign_project: CampaignProject):
    project = campaign_project
    for segment in ELEVEN:
        project.write_model(
            f"test_inputs/{segment}", "select amperity_id from {{ ref('test_people') }}\n"
        )
    project.write_campaign("good_campaign", body("Good campaign"))
    for model, (name, overrides, _, _) in CASES.items():
        project.write_campaign(model, body(name, **overrides))
    listed = ["good_campaign", *(model for model in CASES if model != "bad_not_listed")]
    built = project.dbt("run", "--select", "test_people", campaigns=listed)
    assert built.returncode == 0, built.output
    return project.dbt("run", "--select", *CASES, campaigns=listed)


@pytest.mark.parametrize("model", list(CASES))
def test_invalid_declaration_fails_naming_campaign_and_field(failed_run, model: str) -> None:
    name, _, field, words = CASES[model]
    assert failed_run.returncode != 0
    assert failed_run.status(model) == "error", failed_run.output
    message = failed_run.message(model)
    assert f"Campaign '{name}' (model {model}) is invalid" in message, message
    assert f"field {field}: " in message, message
    assert words in message, message

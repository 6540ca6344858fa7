"""Over 400 lines because it is one table of cases (every documented declaration error) compiled
by a single `dbt run`.

Every invalid campaign declaration fails the build with a message naming the campaign and
the field, listing every problem of the declaration and nothing else. One `dbt run` compiles
every bad campaign (each with its own lists, so that they do not collide); each is checked on
its own message. Every message documented in docs/campaigns.md ("Declaration errors") is
produced by some case here, and every message produced is documented there."""

from __future__ import annotations

import ast
import re

import pytest

from tests.campaigns._project import REPO, CampaignProject

ELEVEN = [f"seg_t{n}" for n in range(1, 12)]
NULL_IDS = "select case when score = 7 then null else amperity_id end as amperity_id\n" \
    "from {{ ref('test_people') }}\n"
SUB_AUDIENCE_WITH_SPLIT = "'treatments': [{'name': 'T', 'percent': 100, 'list_name': 'L'}]"


def split(model: str) -> str:
    return (f"[{{'name': 'A', 'percent': 50, 'list_name': '{model} A'}}, "
            f"{{'name': 'B', 'percent': 50, 'list_name': '{model} B'}}]")


def treatments(model: str, *groups: str) -> str:
    """Treatments with lists named after the model: each group is `name:percent[:control]`,
    or a literal treatment mapping (starts with {)."""
    rendered = []
    for group in groups:
        if group.startswith("{"):
            rendered.append(group.replace("LIST", model))
            continue
        name, percent, *control = group.split(":")
        rendered.append(
            f"{{'name': '{name}', 'percent': {percent}, 'control': true}}" if control
            else f"{{'name': '{name}', 'percent': {percent}, 'list_name': '{model} {name}'}}")
    return "[" + ", ".join(rendered) + "]"


def body(model: str, **overrides: str) -> str:
    arguments = {
        "name": repr(model.replace("_", " ").capitalize()),
        "campaign_id": repr(model),
        "include": "['test_everyone']",
        "treatments": split(model),
    }
    arguments.update(overrides)
    return ",\n".join(f"    {key}={value}" for key, value in arguments.items() if value)


RECURRING = "{{'type': 'recurring', 'cron': {!r}}}"

# model -> (declaration overrides, [(field, words in its message), ...]: every error expected)
CASES: dict[str, tuple[dict[str, str], list[tuple[str, str]]]] = {
    # the campaign itself
    "bad_unknown_argument": ({"colour": "'red'"}, [("colour", "is not a campaign argument")]),
    "bad_name": ({"name": "'  '"}, [("name", "expected a non-empty string, got '  '")]),
    "bad_campaign_id": (
        {"campaign_id": "'Spring Sale'"},
        [("campaign_id", "expected a stable id of lowercase letters, digits, _ or - "
          "(e.g. spring_sale_2026), got 'Spring Sale'")],
    ),
    "bad_not_listed": ({}, [("model", "campaign model 'bad_not_listed' is not listed in var "
                             "klaviyo_campaigns")]),
    "bad_duplicate_campaign_id": (
        {"campaign_id": "'good_campaign'"},
        [("campaign_id", "duplicate campaign id 'good_campaign': also used by model "
          "good_campaign")],
    ),
    "bad_duplicate_campaign_name": (
        {"name": "'Good campaign'"},
        [("name", "duplicate campaign name 'Good campaign': also used by model good_campaign")],
    ),
    # segments
    "bad_no_include": ({"include": "[]"}, [("include", "expected 1 to 10 segments, got 0")]),
    "bad_eleven_includes": (
        {"include": repr(ELEVEN)}, [("include", "expected 1 to 10 segments, got 11")]),
    "bad_eleven_excludes": (
        {"exclude": repr(ELEVEN)}, [("exclude", "expected 0 to 10 segments, got 11")]),
    "bad_include_type": (
        {"include": "{'test_everyone': true}"},
        [("include", 'expected a list of segment model names, got {"test_everyone": true}'),
         ("include", "expected 1 to 10 segments, got 0")],
    ),
    "bad_include_item": (
        {"include": "['test_everyone', 5]"}, [("include", "expected segment model names, got 5")]),
    "bad_segment_twice": (
        {"include": "['test_everyone', 'test_everyone']"},
        [("include", "lists segment 'test_everyone' twice")],
    ),
    "bad_included_and_excluded": (
        {"exclude": "['test_everyone']"},
        [("exclude", "segment 'test_everyone' is both included and excluded")],
    ),
    "bad_null_ids_included": (
        {"include": "['seg_null_ids']"},
        [("include", "segment 'seg_null_ids' has 10 row(s) with a null amperity_id")],
    ),
    "bad_null_ids_excluded": (
        {"exclude": "['seg_null_ids']"},
        [("exclude", "segment 'seg_null_ids' has 10 row(s) with a null amperity_id")],
    ),
    # sub-audiences
    "bad_first_match_only": (
        {"first_match_only": "'yes'"}, [("first_match_only", "expected true or false, got 'yes'")]),
    "bad_sub_audiences_type": (
        {"sub_audiences": "'VIP'"},
        [("sub_audiences", "expected a list of {name, condition, treatments}, got 'VIP'")],
    ),
    "bad_sub_audience_item": (
        {"sub_audiences": "['VIP']"},
        [("sub_audiences[0]", "expected {name, condition, treatments}, got 'VIP'"),
         ("sub_audiences[0].name", "expected a name with letters or digits, got none")],
    ),
    "bad_sub_audience_key": (
        {"sub_audiences": "[{'name': 'VIP', 'filter': 'score > 5'}]"},
        [("sub_audiences[0].filter", "is not a sub-audience key (expected name, condition, "
          "treatments)")],
    ),
    "bad_sub_audience_name": (
        {"sub_audiences": "[{'name': '!!!'}]"},
        [("sub_audiences[0].name", "expected a name with letters or digits, got '!!!'")],
    ),
    "bad_duplicate_sub_audience": (
        {"sub_audiences": "[{'name': 'VIP', 'condition': 'score > 50'}, {'name': 'vip'}]"},
        [("sub_audiences[1].name", "duplicate sub-audience name 'vip' (id 'vip')")],
    ),
    "bad_condition_type": (
        {"sub_audiences": "[{'name': 'VIP', 'condition': 5}]"},
        [("sub_audiences[0].condition", "expected a SQL boolean expression string, got 5")],
    ),
    "bad_condition_column": (
        {"sub_audiences": "[{'name': 'Big spenders', 'condition': "
                          "'lifetime_order_revenue > 1000 and score > 5'}]"},
        [("sub_audiences[0].condition", "condition of sub-audience 'Big spenders' names column "
          "'lifetime_order_revenue', which test_people does not have (its columns: "
          "amperity_id, email, phone, external_ref, country, given_name, score)")],
    ),
    "bad_condition_operator": (
        {"sub_audiences": "[{'name': 'Everyone'}, {'name': 'Big', 'condition': 'score >>= 5'}]"},
        [("sub_audiences[1].condition", "condition of sub-audience 'Big' calls '>>=', which is "
          "not a function or operator the warehouse has loaded")],
    ),
    "bad_condition_syntax": (
        {"sub_audiences": "[{'name': 'Big', 'condition': 'score > > 5'}]"},
        [("sub_audiences[0].condition", "condition of sub-audience 'Big' is not one SQL boolean "
          "expression (syntax error at or near \">\"): score > > 5")],
    ),
    "bad_condition_escapes": (
        {"sub_audiences": "[{'name': 'Big', 'condition': "
                          "'1 = 1) then 1 else 0 end as m, case when (score > 5'}]"},
        [("sub_audiences[0].condition", "is not one SQL boolean expression (it reaches outside "
          "its parentheses)")],
    ),
    # treatments
    "bad_no_treatments": (
        {"treatments": "none"},
        [("treatments", "expected a list of treatment groups [{name, percent, list_name} or "
          "{name, percent, control: true}] for sub-audience 'All', got none")],
    ),
    "bad_treatments_type": (
        {"treatments": "'Offer A'"},
        [("treatments", "for sub-audience 'All', got 'Offer A'")],
    ),
    "bad_sub_audience_treatments": (
        {"sub_audiences": "[{'name': 'VIP', 'treatments': []}]"},
        [("sub_audiences[0].treatments", "for sub-audience 'VIP', got []")],
    ),
    "bad_treatment_item": (
        {"treatments": "['A']"},
        [("treatments[0]", "expected {name, percent, list_name} or {name, percent, control: "
          "true}, got 'A'"),
         ("treatments[0].name", "expected a name with letters or digits, got none"),
         ("treatments[0].percent", "expected a number above 0 and at most 100, got none"),
         ("treatments[0].list_name", "treatment 'treatment_1' has no destination")],
    ),
    "bad_treatment_key": (
        {"treatments": "[{'name': 'A', 'percent': 100, 'list_name': 'bad_treatment_key A', "
                       "'weight': 2}]"},
        [("treatments[0].weight", "is not a treatment key (expected name, percent, list_name, "
          "control)")],
    ),
    "bad_treatment_name": (
        {"treatments": "[{'name': '', 'percent': 100, 'list_name': 'bad_treatment_name A'}]"},
        [("treatments[0].name", "expected a name with letters or digits, got ''")],
    ),
    "bad_duplicate_treatment": (
        {"treatments": "[{'name': 'Offer', 'percent': 50, 'list_name': 'bad_duplicate_treatment "
                       "A'}, {'name': 'offer', 'percent': 50, 'list_name': "
                       "'bad_duplicate_treatment B'}]"},
        [("treatments[1].name", "duplicate treatment name 'offer' in sub-audience 'All'")],
    ),
    "bad_percent_text": (
        {"treatments": treatments("bad_percent_text", "A:'100'")},
        [("treatments[0].percent", "expected a number above 0 and at most 100, got '100' "
          "(text: write the number without quotes)")],
    ),
    "bad_percent_range": (
        {"treatments": treatments("bad_percent_range", "A:150", "B:0")},
        [("treatments[0].percent", "expected a number above 0 and at most 100, got 150"),
         ("treatments[1].percent", "expected a number above 0 and at most 100, got 0")],
    ),
    "bad_percent_decimals": (
        {"treatments": treatments("bad_percent_decimals", "A:49.995", "B:50.005")},
        [("treatments[0].percent", "expected at most 2 decimals, got 49.995"),
         ("treatments[1].percent", "expected at most 2 decimals, got 50.005")],
    ),
    "bad_percent_sum": (
        {"treatments": treatments("bad_percent_sum", "A:60", "B:30")},
        [("treatments.percent", "percents of sub-audience 'All' sum to 90 (60 + 30), expected "
          "exactly 100 (control included)")],
    ),
    "bad_percent_sum_decimals": (
        {"treatments": treatments("bad_percent_sum_decimals", "A:33.33", "B:33.33", "C:33.33")},
        [("treatments.percent", "sum to 99.99 (33.33 + 33.33 + 33.33), expected exactly 100")],
    ),
    "bad_control_flag": (
        {"treatments": treatments(
            "bad_control_flag", "A:90",
            "{'name': 'H', 'percent': 10, 'control': 'yes', 'list_name': 'LIST H'}")},
        [("treatments[1].control", "expected true or false, got 'yes'")],
    ),
    "bad_two_controls": (
        {"treatments": treatments("bad_two_controls", "A:80", "C1:10:control", "C2:10:control")},
        [("treatments.control", "sub-audience 'All' has 2 control groups, expected at most 1")],
    ),
    "bad_control_with_list": (
        {"treatments": treatments(
            "bad_control_with_list", "A:90",
            "{'name': 'Holdout', 'percent': 10, 'control': true, 'list_name': 'LIST H'}")},
        [("treatments[1].list_name", "control group 'Holdout' is never sent: remove its "
          "list_name")],
    ),
    "bad_no_destination": (
        {"treatments": "[{'name': 'A', 'percent': 100}]"},
        [("treatments[0].list_name", "treatment 'A' has no destination: expected a Klaviyo list "
          "name (or control: true), got none")],
    ),
    "bad_same_list_twice": (
        {"treatments": "[{'name': 'A', 'percent': 50, 'list_name': 'bad_same_list_twice'}, "
                       "{'name': 'B', 'percent': 50, 'list_name': 'bad_same_list_twice'}]"},
        [("treatments[1].list_name", "treatments 'A' and 'B' of sub-audience 'All' both send "
          "to list 'bad_same_list_twice': one Klaviyo list cannot tell the groups apart")],
    ),
    "bad_shared_list_one": (
        {"sub_audiences": "[{'name': 'Everyone', 'treatments': [{'name': 'Offer', 'percent': "
                          "100, 'list_name': 'Shared list'}]}]"},
        [("sub_audiences[0].treatments[0].list_name", "list 'Shared list' is also a list of "
          "campaign 'Bad shared list two' (model bad_shared_list_two): a Klaviyo list belongs "
          "to one campaign")],
    ),
    "bad_shared_list_two": (
        {"treatments": "[{'name': 'Offer', 'percent': 100, 'list_name': 'Shared list'}]"},
        [("treatments[0].list_name", "list 'Shared list' is also a list of campaign 'Bad shared "
          "list one' (model bad_shared_list_one)")],
    ),
    # attributes
    "bad_attribute_source": (
        {"attribute_source": "5"}, [("attribute_source", "expected a model name, got 5")]),
    "bad_condition_source": (
        {"condition_source": "['test_people']"},
        [("condition_source", 'expected a model name, got ["test_people"]')],
    ),
    "bad_attributes_type": (
        {"attributes": "['email']"},
        [("attributes", 'expected {add: {...}, rename: {...}, drop: [...]}, got ["email"]')],
    ),
    "bad_attribute_edit": (
        {"attributes": "{'remove': ['email']}"},
        [("attributes.remove", "is not an attribute edit (expected add, rename, drop)")],
    ),
    "bad_drop_type": (
        {"attributes": "{'drop': 5}"},
        [("attributes.drop", "expected [klaviyo_name, ...], got 5")],
    ),
    "bad_drop_unknown": (
        {"attributes": "{'drop': ['shoe_size']}"},
        [("attributes.drop", "'shoe_size' is not a default attribute (defaults: email, "
          "phone_number, first_name)")],
    ),
    "bad_rename_type": (
        {"attributes": "{'rename': ['email']}"},
        [("attributes.rename", 'expected {old_name: new_name}, got ["email"]')],
    ),
    "bad_rename_unknown": (
        {"attributes": "{'rename': {'shoe_size': 'size'}}"},
        [("attributes.rename", "'shoe_size' is not an attribute to rename (attributes: email, "
          "phone_number, first_name)")],
    ),
    "bad_add_type": (
        {"attributes": "{'add': ['score']}"},
        [("attributes.add", "expected {klaviyo_name: 'column'} or {klaviyo_name: {from: "
          "'model', column: 'column'}}, got [\"score\"]")],
    ),
    "bad_add_spec": (
        {"attributes": "{'add': {'score': 5}}"},
        [("attributes.add.score", "expected a column name or {from: 'model', column: 'column'}"
          ", got 5")],
    ),
    "bad_attribute_name": (
        {"attributes": "{'add': {'Shoe Size': 'score'}}"},
        [("attributes", "attribute name 'Shoe Size' must be lowercase letters, digits and _")],
    ),
    "bad_reserved_attribute": (
        {"attributes": "{'add': {'list_name': 'score'}}"},
        [("attributes", "attribute name 'list_name' is reserved for the audience relation")],
    ),
    "bad_duplicate_attribute": (
        {"attributes": "{'add': {'first_name': 'score'}}"},
        [("attributes", "duplicate attribute name 'first_name'")],
    ),
    "bad_attribute_column_name": (
        {"attributes": "{'add': {'size': 'shoe size'}}"},
        [("attributes", "attribute 'size' needs a column name, got 'shoe size'")],
    ),
    "bad_unknown_column": (
        {"attributes": "{'add': {'shoe_size': 'shoe_size_eu'}}"},
        [("attributes", "unknown attribute column 'shoe_size_eu' (for Klaviyo attribute "
          "'shoe_size') in test_people; its columns are: amperity_id, email, phone")],
    ),
    "bad_identifier_kind": (
        {"identifier": "'fax'"},
        [("identifier", "expected email, phone_number or external_id, got 'fax'")],
    ),
    "bad_missing_identifier": (
        {"attributes": "{'drop': ['email']}"},
        [("identifier", "identifier 'email' is missing from the attributes (attributes: "
          "phone_number, first_name): add or rename a column to it")],
    ),
    "bad_update_contacts": (
        {"update_contacts": "'no'"}, [("update_contacts", "expected true or false, got 'no'")]),
    # timing
    "bad_timing_type": (
        {"timing": "'weekly'"},
        [("timing", "expected {type, cron or interval_minutes, send_at, launch_at}, got "
          "'weekly'")],
    ),
    "bad_timing_key": (
        {"timing": "{'start': '2026-06-01'}"},
        [("timing.start", "is not a timing key (expected type, cron, interval_minutes, send_at, "
          "launch_at)")],
    ),
    "bad_campaign_type": (
        {"timing": "{'type': 'weekly'}"},
        [("timing.type", "expected one_time or recurring, got 'weekly'")],
    ),
    "bad_one_time_with_cron": (
        {"timing": "{'cron': '0 8 * * MON'}"},
        [("timing.type", "a one_time campaign takes no cron or interval_minutes (use type: "
          "recurring)")],
    ),
    "bad_recurring_without_schedule": (
        {"timing": "{'type': 'recurring'}"},
        [("timing", "a recurring campaign needs exactly one of cron or interval_minutes")],
    ),
    "bad_recurring_with_both": (
        {"timing": "{'type': 'recurring', 'cron': '0 8 * * *', 'interval_minutes': 60}"},
        [("timing", "a recurring campaign needs exactly one of cron or interval_minutes")],
    ),
    "bad_cron_type": (
        {"timing": "{'type': 'recurring', 'cron': 8}"},
        [("timing.cron", "invalid schedule: expected a cron expression string, got 8")],
    ),
    "bad_cron_fields": (
        {"timing": RECURRING.format("0 9 * *")},
        [("timing.cron", "invalid schedule: expected 5 fields (minute hour day-of-month month "
          "day-of-week), got 4 in '0 9 * *'")],
    ),
    "bad_cron_syntax": (
        {"timing": RECURRING.format("0 8 L * *")},
        [("timing.cron", "invalid schedule: day-of-month field 'L' is not a cron list of *, n, "
          "a-b or */step")],
    ),
    "bad_cron_step": (
        {"timing": RECURRING.format("*/0 * * * *")},
        [("timing.cron", "invalid schedule: minute field '*/0' has a step below 1")],
    ),
    "bad_cron_name": (
        {"timing": RECURRING.format("0 8 * * MOX")},
        [("timing.cron", "invalid schedule: day-of-week field 'MOX' has an unknown name 'MOX'")],
    ),
    "bad_cron_range": (
        {"timing": RECURRING.format("0 25 * * *")},
        [("timing.cron", "invalid schedule: hour field '25' is out of range 0-23")],
    ),
    "bad_cron_reversed": (
        {"timing": RECURRING.format("0 8 * * FRI-MON")},
        [("timing.cron", "invalid schedule: day-of-week field 'FRI-MON' has a range whose start "
          "is after its end (write it as a list, e.g. FRI-SAT,SUN-MON)")],
    ),
    "bad_cron_single_range": (
        {"timing": RECURRING.format("0 8 * 2-2 *")},
        [("timing.cron", "invalid schedule: month field '2-2' has a range that starts and ends "
          "at 2 (write 2)")],
    ),
    "bad_cron_star_in_list": (
        {"timing": RECURRING.format("0 8 *,15 * MON")},
        [("timing.cron", "invalid schedule: day-of-month field '*,15' lists * with other values "
          "(* alone allows every value)")],
    ),
    "bad_cron_every_day": (
        {"timing": RECURRING.format("0 8 15 * 0-6")},
        [("timing.cron", "invalid schedule: day-of-week field '0-6' allows every day: write *")],
    ),
    "bad_cron_shortcut": (
        {"timing": RECURRING.format("@reboot")},
        [("timing.cron", "invalid schedule: unknown shortcut '@reboot' (expected one of @yearly, "
          "@annually, @monthly, @weekly, @daily, @midnight, @hourly)")],
    ),
    "bad_cron_never_fires": (
        {"timing": RECURRING.format("0 8 31 2 *")},
        [("timing.cron", "invalid schedule: '0 8 31 2 *' never fires: day of month 31 does not "
          "exist in month 2")],
    ),
    "bad_interval": (
        {"timing": "{'type': 'recurring', 'interval_minutes': 0}"},
        [("timing.interval_minutes", "invalid schedule: expected a positive whole number of "
          "minutes, got 0")],
    ),
    "bad_interval_text": (
        {"timing": "{'type': 'recurring', 'interval_minutes': '60'}"},
        [("timing.interval_minutes", "got '60'")],
    ),
    "bad_send_at": (
        {"timing": "{'send_at': 'next tuesday'}"},
        [("timing.send_at", "expected 'asap' or a datetime 'YYYY-MM-DD HH:MM' (UTC unless it "
          "ends with an offset such as +02:00), got 'next tuesday'")],
    ),
    "bad_launch_at": (
        {"timing": "{'launch_at': '2026-02-30 09:00'}"},
        [("timing.launch_at", "expected a datetime 'YYYY-MM-DD HH:MM' (UTC unless it ends with "
          "an offset such as +02:00), got '2026-02-30 09:00'")],
    ),
}


@pytest.fixture(scope="module")
def failed_run(campaign_project: CampaignProject):
    project = campaign_project
    for segment in ELEVEN:
        project.write_model(
            f"test_inputs/{segment}", "select amperity_id from {{ ref('test_people') }}\n"
        )
    project.write_model("test_inputs/seg_null_ids", NULL_IDS)
    project.write_campaign("good_campaign", body("good_campaign", name="'Good campaign'"))
    for model, (overrides, _) in CASES.items():
        project.write_campaign(model, body(model, **overrides))
    listed = ["good_campaign", *(model for model in CASES if model != "bad_not_listed")]
    built = project.dbt("run", "--select", "test_people", "seg_null_ids", campaigns=listed)
    assert built.returncode == 0, built.output
    return project.dbt("run", "--select", *CASES, campaigns=listed)


def error_lines(message: str) -> list[tuple[str, str]]:
    """The [field, message] errors of one campaign's compilation error."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^ +- field (\S+): (.*)$", message,
                                                         flags=re.MULTILINE)]


@pytest.mark.parametrize("model", list(CASES))
def test_invalid_declaration_fails_naming_campaign_and_field(failed_run, model: str) -> None:
    overrides, expected = CASES[model]
    assert failed_run.returncode != 0
    assert failed_run.status(model) == "error", failed_run.output
    message = failed_run.message(model)
    name = ast.literal_eval(overrides.get("name", repr(model.replace("_", " ").capitalize())))
    assert f"Campaign '{name}' (model {model}) is invalid:" in message, message
    lines = error_lines(message)
    assert len(lines) == len(expected), message
    for field, words in expected:
        assert any(f == field and words in text for f, text in lines), (field, words, message)


def documented_errors() -> list[tuple[str, re.Pattern[str], re.Pattern[str]]]:
    """Rows of the "Declaration errors" table in docs/campaigns.md: (row, field pattern,
    message pattern); `…` stands for the variable parts, a field cell may list alternatives
    (`include` or `exclude`)."""
    text = (REPO / "docs" / "campaigns.md").read_text()
    section = text.split("### Declaration errors", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        fields = [f.strip().strip("`") for f in cells[0].split(" or ")]
        message = cells[1].strip("`")
        rows.append((line, pattern("|".join(fields)), pattern(message)))
    return rows


def pattern(template: str) -> re.Pattern[str]:
    """A template with `…` for the variable parts (alternatives separated by |) as a regex."""
    return re.compile("|".join(".*".join(re.escape(part) for part in alternative.split("…"))
                               for alternative in template.split("|")))


def test_every_documented_error_is_produced_and_every_produced_one_documented(
    failed_run,
) -> None:
    documented = documented_errors()
    assert len(documented) >= 60
    produced = [line for model in CASES for line in error_lines(failed_run.message(model))]
    matched: set[str] = set()
    undocumented = []
    for field, text in produced:
        rows = [row for row, f, m in documented if f.fullmatch(field) and m.fullmatch(text)]
        matched.update(rows)
        if not rows:
            undocumented.append(f"{field}: {text}")
    assert not undocumented, "not in docs/campaigns.md:\n" + "\n".join(undocumented)
    untested = [row for row, _, _ in documented if row not in matched]
    assert not untested, "documented but produced by no case:\n" + "\n".join(untested)


"""Declarations that build, and what the build says about them: names in any script keep
Unicode ids that work as list and history keys; sub-audiences or audiences with nobody in them
and list names differing only in case are dbt warnings naming the campaign; one list may serve
treatments of different sub-audiences; valid conditions are not mistaken for errors. One
`dbt run` builds every campaign here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from loader.sync import PushOptions, push
from tests.campaigns._project import CampaignProject, DbtResult
from tests.sync.conftest import settings_for

UNICODE = """\
    name='春のセール',
    campaign_id='haru_no_sale',
    include=['test_everyone'],
    sub_audiences=[
        {'name': 'Été', 'condition': 'score >= 50', 'treatments': [
            {'name': 'Offre été', 'percent': 90, 'list_name': 'Été - offre'},
            {'name': 'Témoin', 'percent': 10, 'control': true}]},
        {'name': '忠実な顧客', 'condition': 'score >= 20', 'treatments': [
            {'name': '特典', 'percent': 100, 'list_name': '忠実な顧客 - 特典'}]},
        {'name': 'Clients fidèles', 'treatments': [
            {'name': 'Remise 10 %', 'percent': 50, 'list_name': 'Clients fidèles - remise'},
            {'name': 'Cade\u0301au', 'percent': 50, 'list_name': 'Clients fidèles - cadeau'}]},
    ]"""

EMPTY_SUB_AUDIENCE = """\
    name='Empty sub-audience',
    campaign_id='empty_sub_audience',
    include=['test_everyone'],
    sub_audiences=[
        {'name': 'Nobody', 'condition': 'score > 1000'},
        {'name': 'Rest'}],
    treatments=[{'name': 'Send', 'percent': 100, 'list_name': 'Empty sub-audience'}]"""

EMPTY_AUDIENCE = """\
    name='Empty audience',
    campaign_id='empty_audience',
    include=['seg_nobody'],
    sub_audiences=[{'name': 'High', 'condition': 'score > 50'}, {'name': 'Low'}],
    treatments=[{'name': 'Send', 'percent': 100, 'list_name': 'Empty audience'}]"""

SHARED_ACROSS_SUB_AUDIENCES = """\
    name='One list per offer',
    campaign_id='one_list_per_offer',
    include=['test_everyone'],
    first_match_only=false,
    sub_audiences=[
        {'name': 'High', 'condition': 'score >= 50', 'treatments': [
            {'name': 'Offer', 'percent': 100, 'list_name': 'Offer list'}]},
        {'name': 'Even', 'condition': 'score % 2 = 0', 'treatments': [
            {'name': 'Offer', 'percent': 100, 'list_name': 'Offer list'}]},
    ]"""

CASE_LISTS = """\
    name='Case lists',
    campaign_id='case_lists',
    include=['test_everyone'],
    sub_audiences=[
        {'name': 'High', 'condition': 'score >= 50', 'treatments': [
            {'name': 'Offer', 'percent': 100, 'list_name': 'Spring Offer'}]},
        {'name': 'Rest', 'treatments': [
            {'name': 'Offer', 'percent': 100, 'list_name': 'spring  offer'}]},
    ]"""

CASE_LISTS_OTHER = """\
    name='Case lists other',
    campaign_id='case_lists_other',
    include=['test_everyone'],
    treatments=[{'name': 'Offer', 'percent': 100, 'list_name': 'SPRING OFFER '}]"""

# list names a registry must keep whole: a comma, both quotes, accents
PUNCTUATED_NAMES = ["RV phone, B", "Offre \"d'été\", Noël"]
PUNCTUATED = f"""\
    name='Punctuated lists',
    campaign_id='punctuated_lists',
    include=['test_everyone'],
    treatments=[
        {{'name': 'Phone', 'percent': 50, 'list_name': {json.dumps(PUNCTUATED_NAMES[0])}}},
        {{'name': 'Quoted', 'percent': 50, 'list_name': {json.dumps(PUNCTUATED_NAMES[1])}}}]"""

# Conditions a demanding analyst writes on DuckDB: none of them may be refused.
VALID_CONDITIONS = [
    "condition_source.score > 5",
    '"score" between 1 and 50',
    "coalesce(score, 0) in (1, 2, 3)",
    "lower(country) = 'us' and lower(trim(email)) like '%@example.com'",
    "current_date > date '2020-01-01' and score > 0",
    "score::integer % 2 = 0 and cast(score as varchar) <> 'x'",
    "list_contains([1, 2], score)",
    "len(list_filter([score], lambda x: x > 3)) > 0",
    "email is not null and not (score is distinct from 5)",
    "extract(year from current_date) > 2000 and score > 1",
    "regexp_matches(given_name, 'Name1.*')",
    "case when score > 10 then true else false end",
    "score > 1 /* a comment, not columns */",
    "external_ref ilike 'EXT-%' or phone similar to '[(].*'",
]

PARSERS_MODEL = """\
{% if execute %}
-- RESULTS {{ tojson({
    'duckdb': duckdb__klaviyo_parse_sql_conditions(var('conditions')),
    'default': default__klaviyo_parse_sql_conditions(var('conditions')),
}) }}
{% endif %}
select 1 as parsers
"""


def campaign_with_conditions() -> str:
    subs = ",\n        ".join(
        f"{{'name': 'C{i}', 'condition': {json.dumps(c)}}}" for i, c in enumerate(VALID_CONDITIONS)
    )
    return (
        "    name='Valid conditions',\n    campaign_id='valid_conditions',\n"
        "    include=['test_everyone'],\n    first_match_only=false,\n"
        f"    sub_audiences=[\n        {subs}],\n"
        "    treatments=[{'name': 'Send', 'percent': 100, 'list_name': 'Valid conditions'}]"
    )


CAMPAIGNS = {
    "unicode_names": UNICODE,
    "empty_sub_audience": EMPTY_SUB_AUDIENCE,
    "empty_audience": EMPTY_AUDIENCE,
    "one_list_per_offer": SHARED_ACROSS_SUB_AUDIENCES,
    "case_lists": CASE_LISTS,
    "case_lists_other": CASE_LISTS_OTHER,
    "valid_conditions": campaign_with_conditions(),
    "punctuated_lists": PUNCTUATED,
}


@pytest.fixture(scope="module")
def built(campaign_project: CampaignProject) -> tuple[CampaignProject, DbtResult]:
    project = campaign_project
    project.write_model("test_inputs/seg_nobody",
                        "select amperity_id from {{ ref('test_people') }} where false\n")
    for model, body in CAMPAIGNS.items():
        project.write_campaign(model, body)
    run = project.dbt("run", campaigns=list(CAMPAIGNS))
    assert run.returncode == 0, run.output
    return project, run


def warnings(project: CampaignProject) -> list[str]:
    """The warnings dbt logged (level warn), whitespace collapsed."""
    log = (project.root / "logs" / "dbt.log").read_text()
    return [re.sub(r"\s+", " ", w).strip() for w in re.findall(r"\[warn \] \[[^]]*\]: (.*)", log)]


def test_every_campaign_builds(built: tuple[CampaignProject, DbtResult]) -> None:
    _, run = built
    for model in [*CAMPAIGNS, "klaviyo_campaigns", "klaviyo_delivery_summary"]:
        assert run.status(model) == "success", (model, run.output)


def test_names_in_any_script_keep_unicode_ids(built: tuple[CampaignProject, DbtResult]) -> None:
    project, _ = built
    rows = project.query("""
        select sub_audience_id, sub_audience_name, treatment_id, treatment_name, list_name,
            count(*) as customers
        from unicode_names group by all order by all""")
    assert [r[:5] for r in rows] == [
        # an accent typed as a combining mark stays with its letter
        ("clients_fidèles", "Clients fidèles", "cade\u0301au", "Cade\u0301au",
         "Clients fidèles - cadeau"),
        ("clients_fidèles", "Clients fidèles", "remise_10", "Remise 10 %",
         "Clients fidèles - remise"),
        ("été", "Été", "offre_été", "Offre été", "Été - offre"),
        ("été", "Été", "témoin", "Témoin", None),
        ("忠実な顧客", "忠実な顧客", "特典", "特典", "忠実な顧客 - 特典"),
    ]
    counts = {(r[0], r[2]): r[5] for r in rows}
    # first match, over 1000 people with score = i % 100: 500 have score >= 50, 300 more >= 20
    assert counts[("été", "offre_été")] + counts[("été", "témoin")] == 500
    assert counts[("忠実な顧客", "特典")] == 300
    assert counts[("clients_fidèles", "remise_10")] + counts[("clients_fidèles", "cade\u0301au")
                                                             ] == 200
    registry = project.query(
        "select campaign_name, list_names from klaviyo_campaigns "
        "where campaign_id = 'haru_no_sale'")
    assert registry == [("春のセール", '["Été - offre","忠実な顧客 - 特典",'
                                       '"Clients fidèles - remise","Clients fidèles - cadeau"]')]
    summary = project.query("""select sub_audience_id, treatment_id
        from klaviyo_delivery_summary where campaign_id = 'haru_no_sale'""")
    assert set(summary) == set(counts)


def test_unicode_ids_are_list_and_history_keys(
    built: tuple[CampaignProject, DbtResult], klaviyo_emulator: Any
) -> None:
    project, _ = built
    result = push(settings_for(klaviyo_emulator, str(project.duckdb_path)),
                  PushOptions(campaigns=["haru_no_sale"]))
    assert result.error is None, result.error
    lists = klaviyo_emulator.lists()
    sendable = dict(project.query("""select list_name, count(distinct email) from unicode_names
        where list_name is not null and shrink_reason is null group by 1"""))
    assert {name: len(lists[name]["members"]) for name in sendable} == sendable
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        recipients = con.sql("""select sub_audience_id, treatment_id, count(*)
            from klaviyo_loader.campaign_recipients where campaign_id = 'haru_no_sale'
            group by all order by all""").fetchall()
    expected = project.query("""select distinct sub_audience_id, treatment_id
        from unicode_names order by all""")
    assert [r[:2] for r in recipients] == expected
    assert all(n > 0 for *_, n in recipients)


def test_list_names_with_commas_and_quotes_stay_whole_to_klaviyo(
    built: tuple[CampaignProject, DbtResult], klaviyo_emulator: Any
) -> None:
    """The registry keeps each list name whole (a JSON array), and the push fills exactly
    those lists with exactly their audience: no list is cut at a comma."""
    project, _ = built
    (names,) = project.query("select list_names from klaviyo_campaigns "
                             "where campaign_id = 'punctuated_lists'")[0]
    assert json.loads(names) == PUNCTUATED_NAMES
    result = push(settings_for(klaviyo_emulator, str(project.duckdb_path)),
                  PushOptions(campaigns=["punctuated_lists"]))
    assert result.error is None and result.exit_code == 0, result.error
    assert sorted(r.list_name for r in result.lists) == sorted(PUNCTUATED_NAMES)
    lists = klaviyo_emulator.lists()
    assert sorted(lists) == sorted(PUNCTUATED_NAMES)
    for name in PUNCTUATED_NAMES:
        literal = "'" + name.replace("'", "''") + "'"
        audience = {r[0] for r in project.query(
            f"select lower(email) from punctuated_lists where list_name = {literal} "
            "and shrink_reason is null")}
        assert audience, name
        assert {e.lower() for e in lists[name]["emails"]} == audience, name


def test_empty_sub_audience_and_empty_audience_are_warned_naming_them(
    built: tuple[CampaignProject, DbtResult],
) -> None:
    project, run = built
    found = warnings(project)
    assert ("Campaign 'Empty sub-audience' (model empty_sub_audience): sub-audience 'Nobody' "
            "has no customers: its treatments send no one") in found, found
    assert ("Campaign 'Empty audience' (model empty_audience): the audience is empty (no "
            "customer in sub-audience 'High', 'Low'): its Klaviyo lists will hold no one"
            ) in found, found
    named = [w for w in found if "has no customers" in w or "audience is empty" in w]
    assert len(named) == 2, named  # no other campaign here has an empty sub-audience


def test_list_names_differing_in_case_are_warned(built: tuple[CampaignProject, DbtResult]
                                                 ) -> None:
    project, run = built
    found = [w for w in warnings(project) if "differ" in w]
    assert ("Campaign 'Case lists' (model case_lists): list names \"Spring Offer\" and "
            "\"spring offer\" differ only in case or spacing: Klaviyo matches list names "
            "exactly, so they are 2 different lists") in found, found
    assert ("Campaign 'Case lists other' (model case_lists_other): list name 'SPRING OFFER ' "
            "differs only in case or spacing from list 'Spring Offer', 'spring offer' of "
            "campaign 'Case lists' (model case_lists): Klaviyo matches list names exactly, so "
            "they are different lists") in found, found
    assert len(found) == 4, found  # and each of Case lists' two lists against the other


def test_one_list_may_serve_treatments_of_several_sub_audiences(
    built: tuple[CampaignProject, DbtResult],
) -> None:
    project, _ = built
    rows = project.query("""select sub_audience_id, count(*) from one_list_per_offer
        where list_name = 'Offer list' group by 1 order by 1""")
    assert rows == [("even", 500), ("high", 500)]
    assert project.query("select list_names from klaviyo_campaigns "
                         "where campaign_id = 'one_list_per_offer'") == [('["Offer list"]',)]


def test_valid_conditions_build_and_match(built: tuple[CampaignProject, DbtResult]) -> None:
    project, _ = built
    matched = dict(project.query(
        "select sub_audience_name, count(*) from valid_conditions group by 1"))
    assert matched["C0"] == 940  # score > 5
    assert matched["C2"] == 30  # score in (1, 2, 3)
    assert matched["C12"] == 980  # score > 1, with a comment


def test_the_portable_condition_reader_finds_the_columns_duckdb_finds(
    built: tuple[CampaignProject, DbtResult],
) -> None:
    """The tokenizer other warehouses use names the same columns as DuckDB's parser."""
    project, _ = built
    conditions = [c for c in VALID_CONDITIONS if "lambda" not in c] + [
        "lifetime_order_revenue > 1000", "Score >= 5 and \"Given_Name\" like 'A%'",
    ]
    project.write_model("condition_parsers", PARSERS_MODEL)
    compiled = project.dbt("compile", "--select", "condition_parsers", campaigns=list(CAMPAIGNS),
                           conditions=conditions)
    assert compiled.returncode == 0, compiled.output
    path = next(Path(project.root, "target", "compiled").rglob("condition_parsers.sql"))
    line = next(x for x in path.read_text().splitlines() if x.startswith("-- RESULTS "))
    results = json.loads(line.removeprefix("-- RESULTS "))

    def names(found: dict[str, Any]) -> set[str]:
        return {(p[-1] if p[0].lower() == "condition_source" else p[0]).lower()
                for p in found["columns"]} - {"current_date"}

    for condition, by_duckdb, by_tokens in zip(
        conditions, results["duckdb"], results["default"], strict=True
    ):
        assert by_duckdb["error"] is None, (condition, by_duckdb)
        assert names(by_tokens) == names(by_duckdb), condition
    assert names(results["duckdb"][-2]) == {"lifetime_order_revenue"}

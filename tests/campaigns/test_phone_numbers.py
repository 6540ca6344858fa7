"""E.164 phone normalisation, built by real dbt into DuckDB: national numbers of the listed
countries (with and without their trunk prefix), international forms, wrong lengths, unknown or
missing countries. Each case is checked against its literal expectation and against the
independent Python rule in tests/campaigns/_phone.py; on a phone campaign a number that does
not normalise is shrink with its reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.campaigns._phone import e164
from tests.campaigns._project import REPO, CampaignProject

# (raw phone, customer's country, expected E.164 or None)
CASES: list[tuple[str | None, str | None, str | None]] = [
    # US/Canada (NANP: trunk prefix 1, 10-digit NSN not starting with 0/1)
    ("(415) 555-0134", "US", "+14155550134"),
    ("415.555.0134", " usa ", "+14155550134"),
    ("1-514-555-0199", "CA", "+15145550199"),
    ("4155550134", "United States", "+14155550134"),
    ("0155550134", "US", None),
    ("1155550134", "Canada", None),
    ("12345", "US", None),
    # already international: the country does not matter
    ("+1 415 555 0134", "FR", "+14155550134"),
    ("0044 20 7946 0958", "FR", "+442079460958"),
    ("+44 (20) 7946-0958", None, "+442079460958"),
    # a "(0)" inside an international number is the trunk prefix for national callers
    ("+44 (0)20 7946 0958", None, "+442079460958"),
    ("+46 (0)70 123 45 68", "SE", "+46701234568"),
    ("0049 (0)30 1234567", "FR", "+49301234567"),
    ("+41(0)44 668 18 00", None, "+41446681800"),
    ("+39 (0)6 1234 5678", None, "+390612345678"),  # Italy's numbers keep their 0
    ("0039 (0)6 1234 5678", "IT", "+390612345678"),
    ("+378 (0)549 123456", None, "+3780549123456"),  # and San Marino's
    ("(0)20 7946 0958", "GB", "+442079460958"),  # national: rule 2 as before
    ("+1", "US", None),
    # GB: trunk 0, NSN 9-10
    ("020 7946 0958", "GB", "+442079460958"),
    ("07700 900123", "gb", "+447700900123"),
    ("20 7946 0958", "United Kingdom", "+442079460958"),
    ("020 7946 09581", "GB", None),
    ("0207946", "UK", None),
    # DE: trunk 0, NSN 8-11
    ("030 1234567", "DE", "+49301234567"),
    ("0151 12345678", "Germany", "+4915112345678"),
    ("30 1234567", "deu", "+49301234567"),
    ("555-0134", "DE", None),
    ("030 123456789012", "DE", None),
    # FR: trunk 0, NSN 9
    ("01 23 45 67 89", "FR", "+33123456789"),
    ("06 12 34 56 78", "fra", "+33612345678"),
    ("1 23 45 67 89", "France", "+33123456789"),
    ("01 23 45 67 8", "FR", None),
    # AU: trunk 0, NSN 9
    ("(02) 9374 4000", "AU", "+61293744000"),
    ("0412 345 678", "Australia", "+61412345678"),
    ("412 345 678", "AUS", "+61412345678"),
    ("0412 345 67", "AU", None),
    # countries without a trunk prefix
    ("06 1234 5678", "IT", "+390612345678"),
    ("612 34 56 78", "ES", "+34612345678"),
    ("512 34 56 78", "Spain", None),
    ("55 1234 5678", "MX", "+525512345678"),
    ("912 345 678", "PT", "+351912345678"),
    # more trunk-0 countries
    ("03-1234-5678", "JP", "+81312345678"),
    ("098765 43210", "IN", "+919876543210"),
    ("087 123 4567", "IE", "+353871234567"),
    # a country the seed has from the phone library's metadata (TR: trunk 0, NSN 10)
    ("0532 123 45 67", "TR", "+905321234567"),
    ("533 123 45 67", "Türkiye", "+905331234567"),
    ("(0212) 555 12 34", "tur", "+902125551234"),
    ("0532 123 45 6", "Turkey", None),
    # extensions are dropped, never folded into the digits
    ("+1 (212) 305-0943 ext. 5", "US", "+12123050943"),
    ("+1 (212) 305-0943 Ext 5", None, "+12123050943"),
    ("212-305-0943 x12", "US", "+12123050943"),
    ("(212) 305-0943 extension 77", "USA", "+12123050943"),
    ("212.305.0943 EXTN. 4", "US", "+12123050943"),
    ("+44 20 7946 0958 #123", None, "+442079460958"),
    ("020 7946 0958 ext 12", "GB", "+442079460958"),
    ("tel:+1-212-305-0943;ext=5", "US", "+12123050943"),
    ("(212) 305-0943, 5", "US", "+12123050943"),
    ("ext. 5", "US", None),
    # unknown, missing country; text
    ("020 7946 0958", "ZZ", None),
    ("020 7946 0958", "Atlantis", None),
    ("020 7946 0958", None, None),
    ("020 7946 0958", "  ", None),
    ("n/a", "GB", None),
    ("tel", "DE", None),
    ("   ", "US", None),
    (None, "US", None),
]


def _literal(value: str | None) -> str:
    return "cast(null as varchar)" if value is None else "'" + value.replace("'", "''") + "'"


CASES_SQL = (
    "{{ config(materialized='table') }}\n"
    "select * from (values\n"
    + ",\n".join(
        f"    ('p{i}', {_literal(raw)}, {_literal(country)})"
        for i, (raw, country, _) in enumerate(CASES)
    )
    + "\n) as cases(amperity_id, phone, country)\n"
)


Rows = dict[str, tuple[str | None, str | None]]


@pytest.fixture(scope="module")
def phone_rows(tmp_path_factory: pytest.TempPathFactory) -> Rows:
    project = CampaignProject(Path(tmp_path_factory.mktemp("phone_project")))
    project.write_model("test_inputs/test_phone_cases", CASES_SQL)
    project.write_model(
        "test_inputs/test_phone_everyone", "select amperity_id from {{ ref('test_phone_cases') }}\n"
    )
    project.write_campaign(
        "by_phone",
        "    name='By phone',\n    campaign_id='by_phone',\n    include=['test_phone_everyone'],\n"
        "    identifier='phone_number',\n"
        "    treatments=[{'name': 'Send', 'percent': 100, 'list_name': 'By phone'}]",
    )
    run = project.dbt(
        "run",
        "--select",
        "+by_phone",
        campaigns=["by_phone"],
        klaviyo_attribute_source="test_phone_cases",
        klaviyo_condition_source="test_phone_cases",
        klaviyo_default_attributes={"phone_number": "phone", "country": "country"},
    )
    assert run.returncode == 0, run.output
    rows = project.query("select amperity_id, phone_number, shrink_reason from by_phone")
    return {str(a): (p, r) for a, p, r in rows}


def test_the_python_rule_agrees_with_the_expected_cases() -> None:
    for raw, country, expected in CASES:
        assert e164(raw, country) == expected, (raw, country)


@pytest.mark.parametrize(
    ("index", "raw", "country", "expected"), [(i, *case) for i, case in enumerate(CASES)]
)
def test_dbt_normalises_like_the_documented_rule(
    phone_rows: Rows,
    index: int,
    raw: str | None,
    country: str | None,
    expected: str | None,
) -> None:
    phone_number, shrink_reason = phone_rows[f"p{index}"]
    assert phone_number == expected == e164(raw, country), (raw, country)
    # Cases normalising to the same number are one person on this phone campaign: the
    # smallest id (string order) is sent, the others are duplicate_phone_number.
    holders = [f"p{i}" for i, case in enumerate(CASES) if case[2] == expected]
    if expected is not None and min(holders) != f"p{index}":
        assert shrink_reason == "duplicate_phone_number", (raw, country)
    elif expected is not None:
        assert shrink_reason is None
    elif (raw or "").strip():
        assert shrink_reason == "invalid_phone_number", (raw, country)
    else:
        assert shrink_reason == "missing_phone_number", (raw, country)


def _seed_project(tmp_path_factory: pytest.TempPathFactory, name: str) -> CampaignProject:
    """A project copy with the seeds and their data tests (the singular one included)."""
    project = CampaignProject(Path(tmp_path_factory.mktemp(name)))
    project.write_model("test_inputs/test_phone_cases", CASES_SQL)
    tests = project.root / "tests" / "dbt"
    tests.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "tests" / "dbt" / "klaviyo_phone_plans_are_sane.sql", tests)
    return project


def test_a_malformed_numbering_plan_fails_the_build_before_any_campaign(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A plan whose national numbers could start with its trunk prefix (nsn_first 0 with trunk
    # 0): a leading 0 would be ambiguous, so the seed's test fails and no campaign is built.
    project = _seed_project(tmp_path_factory, "phone_bad_plan")
    plans = project.root / "seeds" / "klaviyo_phone_plans.csv"
    plans.write_text(
        plans.read_text().replace("GB,United Kingdom,44,0,9,10,1", "GB,United Kingdom,44,0,9,10,0")
    )
    project.write_model(
        "test_inputs/test_phone_everyone", "select amperity_id from {{ ref('test_phone_cases') }}\n"
    )
    project.write_campaign(
        "by_phone",
        "    name='By phone',\n    campaign_id='by_phone',\n    include=['test_phone_everyone'],\n"
        "    identifier='phone_number',\n"
        "    treatments=[{'name': 'Send', 'percent': 100, 'list_name': 'By phone'}]",
    )
    run = project.dbt(
        "build",
        "--store-failures",
        "--select",
        "+by_phone",
        campaigns=["by_phone"],
        klaviyo_attribute_source="test_phone_cases",
        klaviyo_condition_source="test_phone_cases",
        klaviyo_default_attributes={"phone_number": "phone", "country": "country"},
    )
    assert run.returncode != 0
    assert run.status("klaviyo_phone_plans_are_sane") == "fail", run.output
    assert run.status("by_phone") == "skipped", run.output
    # the failing rows name the seed row and the problem
    rows = project.query(
        "select seed_row, problem from main_dbt_test__audit.klaviyo_phone_plans_are_sane"
    )
    assert rows == [
        (
            "GB",
            "nsn_first must be above the trunk prefix digit, "
            "or a leading trunk prefix is ambiguous",
        )
    ]


def test_a_spelling_claimed_by_two_countries_fails_the_seed_tests(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = _seed_project(tmp_path_factory, "phone_bad_alias")
    aliases = project.root / "seeds" / "klaviyo_phone_country_aliases.csv"
    aliases.write_text(aliases.read_text() + "UK,IE\nPortugal,PT\n")
    run = project.dbt(
        "build", "--select", "klaviyo_phone_country_aliases", "klaviyo_phone_plans", campaigns=[]
    )
    assert run.returncode != 0
    failed = {r["unique_id"].split(".")[2] for r in run.results.values() if r["status"] == "fail"}
    assert failed == {
        "unique_klaviyo_phone_country_aliases_country_alias",
        "klaviyo_phone_plans_are_sane",  # 'Portugal' is not stored upper-case
    }, run.output

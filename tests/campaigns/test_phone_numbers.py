"""E.164 phone normalisation, built by real dbt into DuckDB: national numbers of the listed
countries (with and without their trunk prefix), international forms, wrong lengths, unknown or
missing countries. Each case is checked against its literal expectation and against the
independent Python rule in tests/campaigns/_phone.py; on a phone campaign a number that does
not normalise is shrink with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.campaigns._phone import e164
from tests.campaigns._project import CampaignProject

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
    if expected is not None:
        assert shrink_reason is None
    elif (raw or "").strip():
        assert shrink_reason == "invalid_phone_number", (raw, country)
    else:
        assert shrink_reason == "missing_phone_number", (raw, country)


BAD_COUNTRIES = """\
{% macro duckdb__klaviyo_phone_countries() -%}
    {{ return([
        {'iso2': 'GB', 'iso3': 'GBR', 'names': ['United Kingdom'], 'calling_code': '44',
         'trunk_prefix': '0', 'nsn_min': 9, 'nsn_max': 10, 'nsn_first': '0'},
    ]) }}
{%- endmacro %}
"""


def test_a_malformed_country_entry_is_a_compile_error(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # An adapter-specific override of the mapping whose national numbers could start with the
    # trunk prefix: the number would be ambiguous, so compiling any phone mapping fails.
    project = CampaignProject(Path(tmp_path_factory.mktemp("phone_bad_mapping")))
    (project.root / "macros" / "duckdb__klaviyo_phone_countries.sql").write_text(BAD_COUNTRIES)
    run = project.dbt(
        "compile", "--inline", "select {{ klaviyo_normalize_phone('p', 'd', 'c') }}", campaigns=[]
    )
    assert run.returncode != 0
    assert (
        "klaviyo_phone_countries: GB: nsn_first (0) must be above the trunk prefix digit (0)"
        in run.output
    ), run.output

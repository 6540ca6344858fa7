"""The phone numbering plan seeds cover every region the phone library knows (a customer in a
country missing from them had every national number made null, silently), written by
``loader.phone_plans`` from the library's metadata: the CSVs are what it writes, and every
region's example fixed-line and mobile numbers, written as a national caller writes them (with
the trunk prefix, and without it), become the library's E.164 form in a real dbt build."""

from __future__ import annotations

import csv
from pathlib import Path

import phonenumbers
import pytest

from loader import phone_plans
from tests.campaigns._project import CampaignProject


def test_the_seeds_are_what_the_generator_writes() -> None:
    assert phone_plans.main(["--check"]) == 0, "run python -m loader.phone_plans"
    with phone_plans.PLANS.open(encoding="utf-8") as f:
        regions = {row["country_code"] for row in csv.DictReader(f)}
    assert regions == set(phonenumbers.SUPPORTED_REGIONS)  # every region has a plan


def _plans() -> dict[str, tuple[str, int, int, str]]:
    with phone_plans.PLANS.open(encoding="utf-8") as f:
        return {r["country_code"]: (r["trunk_prefix"], int(r["nsn_min"]), int(r["nsn_max"]),
                                    r["nsn_first"]) for r in csv.DictReader(f)}


def cases() -> list[tuple[str, str, str]]:
    """(national form, region, E.164) for each region's example fixed-line and mobile numbers
    its plan can read: two forms each, with the trunk prefix and without. Left out: examples
    whose national number starts at or below the trunk prefix's digit (Russia's 8 trunk and
    its 3… and 4… numbers), which the seed refuses as ambiguous by design."""
    out = []
    types = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)
    for region, (trunk, low, high, first) in sorted(_plans().items()):
        for kind in types:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            nsn = phonenumbers.national_significant_number(example)
            if not (low <= len(nsn) <= high and nsn[0] >= first):
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            out.append((f"{trunk} {nsn}".strip(), region, e164))
            if trunk:
                out.append((nsn, region, e164))
    return out


def test_most_regions_have_readable_examples() -> None:
    readable = {region for _, region, _ in cases()}
    assert len(readable) >= 230, len(readable)
    assert {"TR", "RU", "KR", "SA", "AE", "ID", "ZA", "AR", "NG"} <= readable


@pytest.fixture(scope="module")
def normalised(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    rows = cases()
    values = ",\n".join(f"    ('x{i}', '{raw}', '{region}')" for i, (raw, region, _) in
                        enumerate(rows))
    project = CampaignProject(Path(tmp_path_factory.mktemp("phone_plans")))
    project.write_model("test_inputs/test_phone_cases",
                        "{{ config(materialized='table') }}\nselect * from (values\n"
                        f"{values}\n) as cases(amperity_id, phone, country)\n")
    project.write_model("test_inputs/test_phone_everyone",
                        "select amperity_id from {{ ref('test_phone_cases') }}\n")
    project.write_campaign(
        "by_phone",
        "    name='By phone',\n    campaign_id='by_phone',\n    include=['test_phone_everyone'],\n"
        "    identifier='phone_number',\n"
        "    treatments=[{'name': 'Send', 'percent': 100, 'list_name': 'By phone'}]",
    )
    run = project.dbt("build", "--select", "+by_phone", campaigns=["by_phone"],
                      klaviyo_attribute_source="test_phone_cases",
                      klaviyo_condition_source="test_phone_cases",
                      klaviyo_default_attributes={"phone_number": "phone", "country": "country"})
    assert run.returncode == 0, run.output
    return {str(a): p for a, p in project.query("select amperity_id, phone_number from by_phone")}


def test_every_region_reads_its_national_numbers(normalised: dict[str, str | None]) -> None:
    wrong = [(raw, region, expected, normalised.get(f"x{i}"))
             for i, (raw, region, expected) in enumerate(cases())
             if normalised.get(f"x{i}") != expected]
    assert not wrong, f"{len(wrong)} numbers misread, e.g. {wrong[:5]}"

"""An attribute mapped to a column the source table lacks (renamed or dropped upstream) is
staged as null, which a push turns into clears in Klaviyo: `dbt build` warns, naming the
campaign, the Klaviyo attribute, the mapped column and the table's missing one; listing the
column in var klaviyo_absent_columns silences it (a column the brand never had)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.campaigns._project import CampaignProject

RAW_SQL = """\
{{ config(materialized='table') }}
select amperity_id, email, phone, country,
    given_name as {{ var('given_name_column', 'given_name') }}
from {{ ref('test_people') }}
"""

STAGED_SQL = """\
{{ config(materialized='view') }}
{%- set string = dbt.type_string() %}
{%- set columns = [
    {'name': 'amperity_id', 'type': string, 'required': true},
    {'name': 'email', 'type': string, 'required': true},
    {'name': 'phone', 'type': string},
    {'name': 'country', 'type': string},
    {'name': 'given_name', 'type': string},
    {'name': 'company', 'type': string},
] %}
select
    {{- klaviyo_stage_columns(ref('test_raw_people'), columns, 'test.raw_people') }}
from {{ ref('test_raw_people') }}
"""

CAMPAIGN = """\
    name='Renamed column',
    campaign_id='renamed_column',
    include=['test_everyone'],
    treatments=[{'name': 'Send', 'percent': 100, 'list_name': 'Renamed column'}]"""

VARS = {
    "klaviyo_attribute_source": "test_staged_people",
    "klaviyo_default_attributes": {"email": "email", "phone_number": "phone",
                                   "first_name": "given_name"},
    "population_end": 40,
}


def absent_warnings(project: CampaignProject) -> list[str]:
    log = project.root / "logs" / "dbt.log"
    text = log.read_text()
    log.unlink()
    found = [re.sub(r"\s+", " ", w).strip()
             for w in re.findall(r"\[warn \] \[[^]]*\]: (.*)", text)]
    return [w for w in found if "staged as null" in w]


def test_a_mapped_column_missing_from_the_source_table_warns(tmp_path: Path) -> None:
    project = CampaignProject(tmp_path)
    project.write_model("test_inputs/test_raw_people", RAW_SQL)
    project.write_model("test_inputs/test_staged_people", STAGED_SQL)
    project.write_campaign("renamed_column", CAMPAIGN)

    intact = project.dbt("run", campaigns=["renamed_column"], **VARS)
    assert intact.returncode == 0, intact.output
    assert absent_warnings(project) == []

    renamed = project.dbt("run", campaigns=["renamed_column"], given_name_column="first_nm",
                          **VARS)
    assert renamed.returncode == 0, renamed.output
    found = absent_warnings(project)
    assert len(found) == 1, found
    assert found[0].startswith(
        "Campaign 'Renamed column' (model renamed_column): Klaviyo attribute 'first_name' is "
        "mapped to column 'given_name' of test_staged_people, but its source table "), found
    assert "has no column 'given_name' (staged as null)" in found[0], found
    assert "klaviyo_absent_columns" in found[0], found
    # the audience still builds, the column null (a brand without it still builds)
    assert project.query("select count(*), count(first_name) from renamed_column") \
        [0][1] == 0

    # --warn-error stops the build on it
    strict = project.dbt("--warn-error", "run", "--select", "renamed_column",
                         campaigns=["renamed_column"], given_name_column="first_nm", **VARS)
    assert strict.returncode != 0, strict.output
    absent_warnings(project)

    # a column the brand never had, listed: no warning
    listed = project.dbt("run", campaigns=["renamed_column"], given_name_column="first_nm",
                         klaviyo_absent_columns=["given_name"], **VARS)
    assert listed.returncode == 0, listed.output
    assert absent_warnings(project) == []

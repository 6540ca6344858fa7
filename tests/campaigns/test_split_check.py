"""The data test `delivery_summary_split_matches_percents` (tests/dbt) catches a broken split at
test size: with treatment buckets squeezed into half their range (offer A takes 90 % instead of
45 %, the holdout nobody), a 45/45/10 campaign of 100 customers fails it; the intact split of
the same campaign passes (real dbt build into DuckDB)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.campaigns._project import REPO, CampaignProject

CAMPAIGN = """\
    name='Small split',
    campaign_id='small_split',
    include=['test_everyone'],
    treatments=[
        {'name': 'Offer A', 'percent': 45, 'list_name': 'Small A'},
        {'name': 'Offer B', 'percent': 45, 'list_name': 'Small B'},
        {'name': 'Holdout', 'percent': 10, 'control': true},
    ]"""

BROKEN_BUCKETS = """\
{% macro duckdb__klaviyo_hash_bucket(key_expression, buckets=10000) -%}
    (cast('0x' || substr({{ dbt.hash(key_expression) }}, 1, 8) as bigint) % {{ buckets // 2 }})
{%- endmacro %}
"""


def _build(root: Path, broken: bool) -> tuple[str, dict[str, int]]:
    project = CampaignProject(root)
    tests = project.root / "tests" / "dbt"
    tests.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "tests" / "dbt" / "delivery_summary_split_matches_percents.sql", tests)
    if broken:
        (project.root / "macros" / "broken_buckets.sql").write_text(BROKEN_BUCKETS)
    project.write_campaign("small_split", CAMPAIGN)
    run = project.dbt(
        "build",
        "--select",
        "+klaviyo_delivery_summary",
        "delivery_summary_split_matches_percents",
        campaigns=["small_split"],
        population_end=100,
    )
    counts = dict(project.query("select treatment_id, customers from klaviyo_delivery_summary"))
    return run.status("delivery_summary_split_matches_percents"), counts


@pytest.mark.parametrize("broken", [False, True], ids=["intact", "broken"])
def test_the_split_check_fails_a_broken_split_of_100_customers(
    tmp_path: Path, broken: bool
) -> None:
    status, counts = _build(tmp_path, broken)
    assert sum(counts.values()) == 100
    if broken:
        assert counts["holdout"] == 0 and counts["offer_a"] > 70, counts
        assert status == "fail", counts
    else:
        assert status == "pass", counts

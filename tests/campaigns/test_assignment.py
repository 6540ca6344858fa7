"""Treatment and sub-audience assignment, built by real dbt into DuckDB over synthetic people:
the split matches the percents (chi-square at 100k customers), assignment is sticky when the
audience changes and on rebuild, first-match on and off, and the delivery summary's counts."""

from __future__ import annotations

import pytest

from tests.campaigns._project import CampaignProject

POPULATION = 100_000

SPLIT_CAMPAIGN = """\
    name='Split test',
    campaign_id='split_test',
    include=['test_everyone'],
    treatments=[
        {'name': 'Offer A', 'percent': 45, 'list_name': 'Split A'},
        {'name': 'Offer B', 'percent': 45, 'list_name': 'Split B'},
        {'name': 'Holdout', 'percent': 10, 'control': true},
    ]"""

SUB_AUDIENCES = """\
    include=['test_everyone'],
    first_match_only={first_match},
    attributes={{'add': {{'interest': {{'from': 'test_interests', 'column': 'interest'}}}}}},
    sub_audiences=[
        {{'name': 'High score', 'condition': 'score >= 50',
          'treatments': [{{'name': 'Send', 'percent': 100, 'list_name': 'High {first_match}'}}]}},
        {{'name': 'Even score', 'condition': 'score % 2 = 0',
          'treatments': [{{'name': 'Send', 'percent': 100, 'list_name': 'Even {first_match}'}}]}},
        {{'name': 'Everyone else',
          'treatments': [{{'name': 'Send', 'percent': 90, 'list_name': 'Rest {first_match}'}},
                         {{'name': 'Holdout', 'percent': 10, 'control': true}}]}},
    ]"""

IDENTIFIER_CAMPAIGNS = {
    "by_phone": "identifier='phone_number'",
    "by_external_id": (
        "identifier='external_id',\n    attributes={'add': {'external_id': 'external_ref'}}"
    ),
    "membership_only": (
        "identifier='external_id',\n    update_contacts=false,\n"
        "    attributes={'add': {'external_id': 'external_ref'}}"
    ),
}

CAMPAIGNS = ["split_test", "first_match_on", "first_match_off", *IDENTIFIER_CAMPAIGNS]

# Chi-square critical value for df = 2 at p = 0.001: 13.816 (NIST/SEMATECH e-Handbook of
# Statistical Methods, 1.3.6.7.4 "Critical Values of the Chi-Square Distribution").
CHI_SQUARE_CRITICAL_DF2_P001 = 13.816


@pytest.fixture(scope="module")
def built(campaign_project: CampaignProject) -> CampaignProject:
    project = campaign_project
    project.write_campaign("split_test", SPLIT_CAMPAIGN)
    project.write_campaign(
        "first_match_on",
        "    name='First match on',\n    campaign_id='first_match_on',\n"
        + SUB_AUDIENCES.format(first_match="true"),
    )
    project.write_campaign(
        "first_match_off",
        "    name='First match off',\n    campaign_id='first_match_off',\n"
        + SUB_AUDIENCES.format(first_match="false"),
    )
    for model, options in IDENTIFIER_CAMPAIGNS.items():
        project.write_campaign(
            model,
            f"    name='{model}',\n    campaign_id='{model}',\n    include=['test_everyone'],\n"
            f"    treatments=[{{'name': 'Send', 'percent': 100, 'list_name': '{model}'}}],\n"
            f"    {options}",
        )
    run = project.dbt("run", campaigns=CAMPAIGNS, population_end=POPULATION)
    assert run.returncode == 0, run.output
    return project


def assignments(project: CampaignProject, campaign: str = "split_test") -> dict[str, str]:
    rows = project.query(f"select amperity_id, treatment_id from {campaign}")
    return dict((str(a), str(t)) for a, t in rows)


def test_split_matches_percents_chi_square(built: CampaignProject) -> None:
    counts = dict(built.query("select treatment_id, count(*) from split_test group by 1"))
    assert sum(counts.values()) == POPULATION
    expected = {
        "offer_a": 0.45 * POPULATION,
        "offer_b": 0.45 * POPULATION,
        "holdout": 0.10 * POPULATION,
    }
    chi_square = sum((counts.get(k, 0) - e) ** 2 / e for k, e in expected.items())
    assert chi_square < CHI_SQUARE_CRITICAL_DF2_P001, (counts, chi_square)


def test_control_is_recorded_never_sent(built: CampaignProject) -> None:
    rows = built.query(
        "select treatment_id, is_control, count(distinct coalesce(list_name, '<null>')) "
        "from split_test group by 1, 2 order by 1"
    )
    assert rows == [("holdout", True, 1), ("offer_a", False, 1), ("offer_b", False, 1)]
    assert built.query(
        "select count(*) from split_test where is_control and list_name is not null"
    ) == [(0,)]
    summary = built.query(
        "select treatment_id, customers, rows_to_send from klaviyo_delivery_summary "
        "where campaign_id = 'split_test' and treatment_id = 'holdout'"
    )
    assert summary[0][1] > 0 and summary[0][2] == 0


def test_assignment_is_sticky_when_audience_changes_and_on_rebuild(built: CampaignProject) -> None:
    before = assignments(built)
    # 20k customers leave (ids below 20k), 20k new ones enter (ids from 100k).
    run = built.dbt(
        "run",
        "--select",
        "+split_test",
        campaigns=CAMPAIGNS,
        population_start=20_000,
        population_end=POPULATION + 20_000,
    )
    assert run.returncode == 0, run.output
    after = assignments(built)
    stayed = before.keys() & after.keys()
    assert len(stayed) == POPULATION - 20_000
    assert all(before[c] == after[c] for c in stayed)
    assert "c10" not in after and f"c{POPULATION + 5}" in after
    # Rebuild with the original audience: everyone is back in the same group.
    run = built.dbt(
        "run", "--select", "+split_test", campaigns=CAMPAIGNS, population_end=POPULATION
    )
    assert run.returncode == 0, run.output
    assert assignments(built) == before


def test_first_match_only_assigns_the_first_matching_sub_audience(built: CampaignProject) -> None:
    rows = dict(
        built.query(
            "select cast(substr(amperity_id, 2) as integer) % 100 as score, "
            "string_agg(distinct sub_audience_id, ',' order by sub_audience_id) "
            "from first_match_on group by 1"
        )
    )
    assert rows[50] == "high_score" and rows[51] == "high_score"
    assert rows[2] == "even_score"
    assert rows[3] == "everyone_else"
    per_customer = built.query(
        "select max(n) from (select amperity_id, count(distinct sub_audience_id) as n "
        "from first_match_on group by 1)"
    )
    assert per_customer == [(1,)]


def test_first_match_off_assigns_every_matching_sub_audience(built: CampaignProject) -> None:
    rows = dict(
        built.query(
            "select cast(substr(amperity_id, 2) as integer) % 100 as score, "
            "string_agg(distinct sub_audience_id, ',' order by sub_audience_id) "
            "from first_match_off group by 1"
        )
    )
    assert rows[50] == "even_score,everyone_else,high_score"
    assert rows[51] == "everyone_else,high_score"
    assert rows[2] == "even_score,everyone_else"
    assert rows[3] == "everyone_else"


def shared_email_winner() -> int:
    """The customer keeping the shared address: the smallest amperity_id in string order among
    everyone holding it (every 97th person with a valid email; the whole population is in
    every campaign)."""
    holders = [i for i in range(POPULATION) if i % 97 == 0 and i % 50 not in (0, 1)]
    return min(holders, key=lambda i: f"c{i}")


def test_delivery_summary_counts_shrink_expansion_and_duplicates(built: CampaignProject) -> None:
    # Independent counts over the people, for sub-audience 'Even score' with first match on:
    # scores 0-48 even -> ids i with i % 100 in {0, 2, ..., 48}.
    people = [i for i in range(POPULATION) if i % 100 < 50 and i % 2 == 0]
    missing = sum(1 for i in people if i % 50 == 0)
    invalid = sum(1 for i in people if i % 50 == 1)
    # The shared email (every 97th person) is one person campaign-wide: everyone holding it
    # but the winner, whatever their sub-audience, is shrunk as duplicate_email.
    winner = shared_email_winner()
    duplicates = [i for i in people if i % 50 not in (0, 1) and i % 97 == 0 and i != winner]
    sendable = [i for i in people if i % 50 not in (0, 1) and i not in duplicates]
    # Klaviyo keys profiles on each identifier sent: the campaign's email is now unique, but
    # phone numbers repeat every 10,000 ids ('(415) 555-' || i % 10000, every 3rd person not a
    # multiple of 7) and are sent too. Control rows and shrunk rows go to no list.
    owners: dict[int, set[int]] = {}
    for i in sendable:
        if i % 7 != 0 and i % 3 == 0:
            owners.setdefault(i % 10000, set()).add(i)
    shared = set().union(*(ids for ids in owners.values() if len(ids) > 1))
    expansion = sum(max(i % 3 - 1, 0) for i in people)
    rows_to_send = sum(max(i % 3, 1) for i in sendable)
    summary = built.query(
        "select customers, rows_to_send, shrink_customers, shrink_missing_identifier, "
        "shrink_invalid_identifier, shrink_duplicate_identifier, expansion_rows, "
        "duplicate_identifier_customers "
        "from klaviyo_delivery_summary where campaign_id = 'first_match_on' "
        "and sub_audience_id = 'even_score'"
    )
    assert duplicates and shared
    assert summary == [
        (
            len(people),
            rows_to_send,
            missing + invalid + len(duplicates),
            missing,
            invalid,
            len(duplicates),
            expansion,
            len(shared),
        )
    ]


def test_identity_is_resolved_across_treatments_and_the_control_group(
    built: CampaignProject,
) -> None:
    # Every 97th person shares one address; they are spread over both offers and the holdout.
    rows = built.query(
        "select amperity_id, treatment_id, is_control, list_name, email, shrink_reason "
        "from split_test where email = 'shared@example.com'"
    )
    assert {treatment for _, treatment, _, _, _, _ in rows} == {"offer_a", "offer_b", "holdout"}
    winner = f"c{shared_email_winner()}"
    kept = [row for row in rows if row[5] is None]
    assert [row[0] for row in kept] == [winner]
    # the others keep their attributes, marked as duplicates of the winner
    assert {row[5] for row in rows if row[0] != winner} == {"duplicate_email"}
    # Campaign-wide: each address on exactly one list, and the control group holds no address
    # that a treated customer who is sent also holds.
    assert built.query(
        "select count(*) from (select email from split_test where shrink_reason is null "
        "and not is_control group by email having count(distinct list_name) > 1 "
        "or count(distinct amperity_id) > 1)"
    ) == [(0,)]
    assert built.query(
        "select count(*) from split_test as control inner join split_test as treated "
        "on control.email = treated.email where control.is_control and not treated.is_control "
        "and control.shrink_reason is null and treated.shrink_reason is null"
    ) == [(0,)]
    summary = dict(
        built.query(
            "select treatment_id, shrink_duplicate_identifier from klaviyo_delivery_summary "
            "where campaign_id = 'split_test'"
        )
    )
    counted = dict(
        built.query(
            "select treatment_id, count(distinct amperity_id) filter "
            "(where shrink_reason = 'duplicate_email') from split_test group by 1"
        )
    )
    assert summary == counted and sum(summary.values()) == len(rows) - 1


def test_control_groups_report_no_duplicates(built: CampaignProject) -> None:
    # 'Everyone else' has a 10 % holdout holding customers who share the email and phones,
    # but a control group is sent to no list, so nothing can merge there.
    rows = built.query(
        "select is_control, sum(duplicate_identifier_customers) from klaviyo_delivery_summary "
        "where campaign_id = 'first_match_on' and sub_audience_id = 'everyone_else' group by 1"
    )
    assert dict(rows)[True] == 0
    assert dict(rows)[False] > 0


def test_duplicates_count_only_identifiers_that_are_sent(built: CampaignProject) -> None:
    # Both campaigns map email and phone; external ids are unique. With update_contacts on the
    # shared email and phones are sent and would merge profiles; with it off only the external
    # id is sent, so nobody collides.
    rows = dict(
        built.query(
            "select campaign_id, sum(duplicate_identifier_customers) from klaviyo_delivery_summary "
            "where campaign_id in ('by_external_id', 'membership_only') group by 1"
        )
    )
    assert rows["by_external_id"] > 0
    assert rows["membership_only"] == 0


def test_shrink_follows_the_identifier(built: CampaignProject) -> None:
    def reasons(campaign: str) -> dict[str | None, int]:
        return dict(built.query(f"select shrink_reason, count(*) from {campaign} group by 1"))

    people = range(POPULATION)
    invalid_phone = sum(1 for i in people if i % 7 == 0)
    valid_phone = [i for i in people if i % 7 != 0 and i % 3 == 0]
    # Phone numbers repeat every 10,000 ids: one customer per number keeps it campaign-wide.
    numbers = {i % 10000 for i in valid_phone}
    assert reasons("by_phone") == {
        "invalid_phone_number": invalid_phone,
        None: len(numbers),
        "duplicate_phone_number": len(valid_phone) - len(numbers),
        "missing_phone_number": POPULATION - invalid_phone - len(valid_phone),
    }
    missing_external = sum(1 for i in people if i % 11 == 0)
    assert reasons("by_external_id") == {
        None: POPULATION - missing_external,
        "missing_external_id": missing_external,
    }
    # On a phone campaign a bad email is not a shrink: it is sent as null.
    assert (
        built.query("select count(*) from by_phone where email is null and shrink_reason is null")[
            0
        ][0]
        > 0
    )
    assert built.query("select phone_number from by_phone where amperity_id = 'c3'") == [
        ("+14155550003",)
    ]

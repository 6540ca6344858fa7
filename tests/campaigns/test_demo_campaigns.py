"""The demo campaigns, built by the real `dbt build` over the demo data (with its missing,
invalid and shared emails and assorted phone formats), match an independent Python
computation of membership, segment, treatment, email/phone mapping and shrink; each address is
one person campaign-wide (households sharing an address land in different treatments and the
control group); the registry and the delivery summary agree with the audience relation."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.campaigns._email import is_missing, normal_email
from tests.campaigns._phone import e164

CAMPAIGNS = ("spring_sale", "winback_weekly", "outdoor_launch")
SPRING_TREATMENTS = [
    ("offer_a", 4500, "Spring sale - offer A"),
    ("offer_b", 9000, "Spring sale - offer B"),
    ("holdout", 10000, None),
]


def bucket(campaign_id: str, sub_audience_id: str, amperity_id: str) -> int:
    key = f"{campaign_id}:{sub_audience_id}:{amperity_id}".encode()
    return int(hashlib.md5(key).hexdigest()[:8], 16) % 10000


def ids(warehouse: Any, segment: str) -> set[str]:
    return {row[0] for row in warehouse.query(f"select amperity_id from {segment}")}


@pytest.fixture(scope="module")
def spring_sale(built_warehouse: Any) -> dict[str, dict[str, Any]]:
    columns = [
        "amperity_id",
        "segment_id",
        "sub_audience_id",
        "treatment_id",
        "is_control",
        "list_name",
        "shrink_reason",
        "email",
        "phone_number",
        "first_name",
        "region",
    ]
    rows = built_warehouse.query(f"select {', '.join(columns)} from spring_sale")
    by_id = {row[0]: dict(zip(columns, row, strict=True)) for row in rows}
    assert len(by_id) == len(rows), "one row per customer in spring_sale"
    return by_id


def test_spring_sale_membership_and_segment(built_warehouse: Any, spring_sale: dict) -> None:
    high_value = ids(built_warehouse, "seg_high_value_customers")
    recent = ids(built_warehouse, "seg_recent_buyers")
    unsubscribed = ids(built_warehouse, "seg_email_unsubscribed")
    expected = (high_value | recent) - unsubscribed
    assert expected and unsubscribed & (high_value | recent), "demo data exercises the exclude"
    assert set(spring_sale) == expected
    for amperity_id, row in spring_sale.items():
        first = "seg_high_value_customers" if amperity_id in high_value else "seg_recent_buyers"
        assert row["segment_id"] == first


def test_spring_sale_treatments_follow_the_sticky_bucket(spring_sale: dict) -> None:
    for amperity_id, row in spring_sale.items():
        b = bucket("spring_sale", "everyone", amperity_id)
        treatment_id, _, list_name = next(t for t in SPRING_TREATMENTS if b < t[1])
        assert (row["treatment_id"], row["list_name"]) == (treatment_id, list_name), amperity_id
        assert row["is_control"] == (treatment_id == "holdout")


def test_spring_sale_mapping_and_shrink(built_warehouse: Any, spring_sale: dict) -> None:
    source = {
        row[0]: row[1:]
        for row in built_warehouse.query(
            "select amperity_id, email, phone, country, given_name, state "
            "from stg_amperity__merged_customers"
        )
    }
    # one customer per address campaign-wide: the smallest amperity_id holding it
    winners: dict[str, str] = {}
    for amperity_id in spring_sale:
        address = normal_email(source[amperity_id][0])
        if address is not None:
            winners[address] = min(winners.get(address, amperity_id), amperity_id)
    reasons: dict[str | None, int] = {}
    for amperity_id, row in spring_sale.items():
        email, phone, country, given_name, state = source[amperity_id]
        expected_email = normal_email(email)
        if is_missing(email):
            reason = "missing_email"
        elif expected_email is None:
            reason = "invalid_email"
        elif winners[expected_email] != amperity_id:
            reason = "duplicate_email"
        else:
            reason = None
        reasons[reason] = reasons.get(reason, 0) + 1
        assert row["shrink_reason"] == reason, (amperity_id, email)
        assert row["email"] == expected_email, (amperity_id, email)
        assert row["phone_number"] == e164(phone, country), (amperity_id, phone, country)
        assert (row["first_name"], row["region"]) == (given_name, state)
    assert set(reasons) == {None, "missing_email", "invalid_email", "duplicate_email"}, reasons


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_each_address_is_one_person_campaign_wide(built_warehouse: Any, campaign: str) -> None:
    rows = built_warehouse.query(
        f"select amperity_id, list_name, is_control, email, shrink_reason from {campaign}"
    )
    holders: dict[str, set[str]] = {}
    for amperity_id, _, _, email, reason in rows:
        if email is not None and reason in (None, "duplicate_email"):
            holders.setdefault(email, set()).add(amperity_id)
    for amperity_id, _, _, email, reason in rows:
        if email is None:
            continue
        winner = min(holders[email])
        assert reason == (None if amperity_id == winner else "duplicate_email"), (campaign, email)
    # Each address kept by one customer, across every list and the control group (so no
    # control member shares an address with a treated customer); with first match only (one
    # sub-audience per customer) that is exactly one list or the control group. The same
    # customer in several sub-audiences (outdoor_launch) is one person, not a conflict.
    customers: dict[str, set[str]] = {}
    groups: dict[str, set[str | None]] = {}
    for amperity_id, list_name, _, email, reason in rows:
        if reason is None:
            customers.setdefault(email, set()).add(amperity_id)
            groups.setdefault(email, set()).add(list_name)
    assert all(len(ids) == 1 for ids in customers.values()), campaign
    if campaign != "outdoor_launch":
        assert all(len(lists) == 1 for lists in groups.values()), campaign


def test_demo_households_land_in_different_treatments(built_warehouse: Any) -> None:
    # The demo data's households (two customers, one address) put both members in different
    # treatments of one campaign, and one of them in a control group: the cases campaign-wide
    # identity exists for.
    spans = {"treatments": 0, "control": 0}
    for campaign in CAMPAIGNS:
        for treatments, with_control in built_warehouse.query(
            f"select count(distinct sub_audience_id || ':' || treatment_id), "
            f"bool_or(is_control) and bool_or(not is_control) from {campaign} "
            f"where shrink_reason is null or shrink_reason = 'duplicate_email' "
            f"group by email having count(distinct amperity_id) > 1"
        ):
            spans["treatments"] += treatments > 1
            spans["control"] += with_control
    assert spans["treatments"] >= 1 and spans["control"] >= 1, spans


def test_registry_and_summary_agree_with_the_audience(built_warehouse: Any) -> None:
    registry = built_warehouse.query(
        "select campaign_id, campaign_type, identifier, send_mode, schedule_cron, "
        "list_names from klaviyo_campaigns order by campaign_id"
    )
    assert registry == [
        (
            "outdoor_launch",
            "one_time",
            "email",
            "scheduled",
            None,
            '["Outdoor launch - store event","Outdoor launch - early preview"]',
        ),
        (
            "spring_sale",
            "one_time",
            "email",
            "asap",
            None,
            '["Spring sale - offer A","Spring sale - offer B"]',
        ),
        (
            "winback_weekly",
            "recurring",
            "email",
            "asap",
            "0 8 * * MON",
            '["Win-back - VIP concierge","Win-back - app offer","Win-back - 15 off",'
            '"Win-back - 20 off"]',
        ),
    ]
    relation = built_warehouse.query(
        "select audience_relation from klaviyo_campaigns where campaign_id = 'spring_sale'"
    )[0][0]
    assert built_warehouse.query(f"select count(*) from {relation}")[0][0] > 0
    summary = built_warehouse.query(
        "select treatment_id, customers, rows_to_send, shrink_customers "
        "from klaviyo_delivery_summary where campaign_id = 'spring_sale' order by treatment_id"
    )
    counted = built_warehouse.query(
        "select treatment_id, count(distinct amperity_id), "
        "count(*) filter (where shrink_reason is null and not is_control), "
        "count(distinct amperity_id) filter (where shrink_reason is not null) "
        "from spring_sale group by 1 order by 1"
    )
    assert summary == counted

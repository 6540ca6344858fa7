"""The demo campaigns, built by the real `dbt build` over the demo data (with its missing,
invalid and shared emails and assorted phone formats), match an independent Python
computation of membership, segment, treatment, email/phone mapping and shrink; the registry
and the delivery summary agree with the audience relation."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from tests.campaigns._phone import e164

EMAIL = re.compile(r"^[a-z0-9_%+-]+(\.[a-z0-9_%+-]+)*@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$")
SPRING_TREATMENTS = [
    ("offer_a", 4500, "Spring sale - offer A"),
    ("offer_b", 9000, "Spring sale - offer B"),
    ("holdout", 10000, None),
]


def bucket(campaign_id: str, sub_audience_id: str, amperity_id: str) -> int:
    key = f"{campaign_id}:{sub_audience_id}:{amperity_id}".encode()
    return int(hashlib.md5(key).hexdigest()[:8], 16) % 10000


def normal_email(raw: str | None) -> str | None:
    value = (raw or "").strip().lower()
    return value if EMAIL.match(value) else None


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
    reasons: dict[str | None, int] = {}
    for amperity_id, row in spring_sale.items():
        email, phone, country, given_name, state = source[amperity_id]
        expected_email = normal_email(email)
        if not (email or "").strip():
            reason = "missing_email"
        elif expected_email is None:
            reason = "invalid_email"
        else:
            reason = None
        reasons[reason] = reasons.get(reason, 0) + 1
        assert row["shrink_reason"] == reason, (amperity_id, email)
        assert row["email"] == expected_email, (amperity_id, email)
        assert row["phone_number"] == e164(phone, country), (amperity_id, phone, country)
        assert (row["first_name"], row["region"]) == (given_name, state)
    assert set(reasons) == {None, "missing_email", "invalid_email"}, reasons


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
            "Outdoor launch - store event,Outdoor launch - early preview",
        ),
        (
            "spring_sale",
            "one_time",
            "email",
            "asap",
            None,
            "Spring sale - offer A,Spring sale - offer B",
        ),
        (
            "winback_weekly",
            "recurring",
            "email",
            "asap",
            "0 8 * * MON",
            "Win-back - VIP concierge,Win-back - app offer,Win-back - 15 off,Win-back - 20 off",
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

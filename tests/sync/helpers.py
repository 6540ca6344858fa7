"""A hand-built warehouse with exactly the contract columns (docs/architecture.md §2, §3)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import duckdb

REGISTRY_COLUMNS = (
    "campaign_id varchar, campaign_name varchar, campaign_type varchar, "
    "audience_relation varchar, identifier varchar, update_contacts boolean, "
    "send_mode varchar, send_at timestamp, schedule_cron varchar, "
    "schedule_interval_minutes integer, launch_at timestamp, attribute_columns varchar, "
    "list_names varchar, destination_id varchar, destination_name varchar, "
    "built_at timestamp, dbt_invocation_id varchar"
)
FIXED = (
    "campaign_id varchar, campaign_name varchar, sub_audience_id varchar, "
    "sub_audience_name varchar, treatment_id varchar, treatment_name varchar, "
    "is_control boolean, list_name varchar, segment_id varchar, segment_name varchar, "
    "amperity_id varchar, shrink_reason varchar"
)
MAPPED = "email varchar, first_name varchar, city varchar, loyalty_tier varchar"


@dataclass
class Member:
    amperity_id: str
    email: str | None
    first_name: str | None = None
    city: str | None = None
    loyalty_tier: str | None = None
    treatment: str = "a"  # 'a' → list A, 'b' → list B, 'control'
    shrink_reason: str | None = None


@dataclass
class CampaignSpec:
    campaign_id: str = "spring_sale"
    list_a: str = "Spring Sale A"
    list_b: str | None = None
    update_contacts: bool = True
    campaign_type: str = "one_time"
    members: list[Member] = field(default_factory=list)


def make_members(n: int, seed: int = 1, control_every: int = 10, shrink_every: int = 17,
                 list_b: bool = False) -> list[Member]:
    rng = random.Random(seed)
    out: list[Member] = []
    for i in range(n):
        treatment = "control" if i % control_every == 0 else ("b" if list_b and i % 2 else "a")
        shrink = "missing_email" if i % shrink_every == 3 else None
        out.append(Member(
            amperity_id=f"amp-{i:06d}",
            email=None if shrink else f"user{i}@example.com",
            first_name=rng.choice(["Ann", "Björn", "Chloé", None]),
            city=rng.choice(["Paris", "Boston", None]),
            loyalty_tier=rng.choice(["gold", "silver", None]),
            treatment=treatment,
            shrink_reason=shrink,
        ))
    return out


def write_warehouse(path: str, campaigns: list[CampaignSpec]) -> None:
    con = duckdb.connect(path)
    con.execute(f"create or replace table main.klaviyo_campaigns ({REGISTRY_COLUMNS})")
    for c in campaigns:
        rel = f"main.aud_{c.campaign_id}"
        con.execute(f"create or replace table {rel} ({FIXED}, {MAPPED})")
        lists = [c.list_a] + ([c.list_b] if c.list_b else [])
        con.execute(
            "insert into main.klaviyo_campaigns values (?, ?, ?, ?, 'email', ?, 'asap', null, "
            "null, null, timestamp '2026-01-01 09:00:00', 'email,first_name,city,loyalty_tier', "
            "?, 'klaviyo', 'Klaviyo', now(), 'inv-1')",
            [c.campaign_id, c.campaign_id.replace("_", " ").title(), c.campaign_type,
             f'"main"."aud_{c.campaign_id}"', c.update_contacts, ",".join(lists)])
        rows: list[tuple[Any, ...]] = []
        for m in c.members:
            control = m.treatment == "control"
            list_name = None if control else (c.list_b if m.treatment == "b" else c.list_a)
            rows.append((c.campaign_id, c.campaign_id, "all", "All", m.treatment, m.treatment,
                         control, list_name, "seg_vip", "VIP customers", m.amperity_id,
                         m.shrink_reason, m.email, m.first_name, m.city, m.loyalty_tier))
        if rows:
            con.executemany(f"insert into {rel} values ({', '.join('?' * 16)})", rows)
    con.close()


def expected_lists(c: CampaignSpec) -> dict[str, dict[str, dict[str, Any]]]:
    """list name → email → expected profile attributes (first customer of a shared email)."""
    out: dict[str, dict[str, dict[str, Any]]] = {c.list_a: {}}
    if c.list_b:
        out[c.list_b] = {}
    for m in sorted(c.members, key=lambda m: m.amperity_id):
        if m.treatment == "control" or m.shrink_reason or not m.email:
            continue
        name = c.list_b if m.treatment == "b" else c.list_a
        assert name is not None
        out[name].setdefault(m.email, {"first_name": m.first_name, "city": m.city,
                                       "loyalty_tier": m.loyalty_tier})
    return out


def query(path: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one query on the warehouse file, opened read-only and closed again."""
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()

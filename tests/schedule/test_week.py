"""A clock driven through a week: exactly which campaigns are due at each step (issue 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loader.schedule import due_campaigns, next_due_at, scheduled_for


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def campaign(campaign_id: str, **timing: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "campaign_id": campaign_id,
        "campaign_name": campaign_id.replace("_", " ").title(),
        "campaign_type": "one_time",
        "send_mode": "asap",
        "send_at": None,
        "schedule_cron": None,
        "schedule_interval_minutes": None,
        "launch_at": None,
    }
    row.update(timing)
    return row


# The week starts Monday 2026-06-01 00:00 UTC.
CAMPAIGNS = [
    campaign("welcome_asap"),  # one-time, as soon as possible
    campaign("wednesday_flash", send_mode="scheduled", send_at=utc("2026-06-03 10:00")),
    campaign("daily_digest", campaign_type="recurring", schedule_cron="0 9 * * *"),
    campaign(
        "weekly_roundup",
        campaign_type="recurring",
        send_mode="scheduled",
        send_at=utc("2026-06-01 00:00"),
        schedule_cron="0 8 * * 1",  # Mondays 08:00
    ),
    campaign(
        "twice_daily",
        campaign_type="recurring",
        send_mode="scheduled",
        send_at=utc("2026-06-02 06:00"),  # interval anchored here: 06:00 and 18:00
        schedule_interval_minutes=720,
    ),
]


class Warehouse:
    """The loader's delivery log, as `loader push` would leave it."""

    def __init__(self) -> None:
        self.deliveries: list[dict[str, Any]] = []

    def push(self, at: datetime) -> list[str]:
        due = due_campaigns(CAMPAIGNS, self.deliveries, at)
        by_id = {c["campaign_id"]: c for c in CAMPAIGNS}
        for cid in due:
            self.deliveries.append(
                {
                    "campaign_id": cid,
                    "scheduled_for": scheduled_for(by_id[cid], at),
                    "completed_at": at,
                    "status": "completed",
                    "is_sample": False,
                }
            )
        return sorted(due)

    def ticks(self, cid: str) -> list[datetime]:
        return [d["scheduled_for"] for d in self.deliveries if d["campaign_id"] == cid]


# (instant of a `dbt build && loader push` run, the campaigns it must send)
STEPS = [
    # Monday: first run sends the ASAP one-time campaign and the ASAP daily campaign's latest tick
    # (Sunday 09:00); the weekly campaign's first tick is 08:00.
    ("2026-06-01 00:30", ["daily_digest", "welcome_asap"]),
    ("2026-06-01 00:30", []),  # rerun at the same instant: nothing
    ("2026-06-01 07:59", []),
    ("2026-06-01 08:00", ["weekly_roundup"]),  # exactly on the tick
    ("2026-06-01 08:00", []),  # rerun at the same instant after the delivery
    ("2026-06-01 09:05", ["daily_digest"]),
    ("2026-06-01 23:59", []),
    # Tuesday: the interval campaign starts at 06:00
    ("2026-06-02 05:59", []),
    ("2026-06-02 06:00", ["twice_daily"]),
    ("2026-06-02 09:00", ["daily_digest"]),
    ("2026-06-02 17:00", []),
    # Missed runs: nothing ran from Tuesday 17:00 until Thursday 12:00. The daily campaign
    # missed Wednesday's and Thursday's ticks, the interval campaign three ticks: each sends
    # ONCE, for its latest tick; the Wednesday one-time send goes out late, once.
    ("2026-06-04 12:00", ["daily_digest", "twice_daily", "wednesday_flash"]),
    ("2026-06-04 12:00", []),  # rerun at the same instant
    ("2026-06-04 12:30", []),
    ("2026-06-04 18:00", ["twice_daily"]),
    # Friday to Sunday: hourly cron (24 runs a day)
    *[
        (
            (datetime(2026, 6, 5) + timedelta(hours=h)).strftime("%Y-%m-%d %H:%M"),
            sorted(
                (["daily_digest"] if h % 24 == 9 else [])
                + (["twice_daily"] if h % 24 in (6, 18) else [])
            ),
        )
        for h in range(72)
    ],
    # Next Monday: the weekly campaign's second tick, and the interval's 06:00 tick (no run
    # since Sunday 23:00)
    ("2026-06-08 08:00", ["twice_daily", "weekly_roundup"]),
    ("2026-06-08 08:00", []),
]


def test_a_week_of_runs_sends_exactly_the_due_campaigns() -> None:
    warehouse = Warehouse()
    for when, expected in STEPS:
        assert warehouse.push(utc(when)) == expected, f"run at {when}"

    assert warehouse.ticks("welcome_asap") == [utc("2026-06-01 00:30")]
    assert warehouse.ticks("wednesday_flash") == [utc("2026-06-03 10:00")]
    assert warehouse.ticks("weekly_roundup") == [utc("2026-06-01 08:00"), utc("2026-06-08 08:00")]
    assert warehouse.ticks("daily_digest") == [
        utc("2026-05-31 09:00"),  # ASAP: the latest tick at the first run
        utc("2026-06-01 09:00"),
        utc("2026-06-02 09:00"),
        utc("2026-06-04 09:00"),  # Wednesday's tick missed: one send for Thursday's
        utc("2026-06-05 09:00"),
        utc("2026-06-06 09:00"),
        utc("2026-06-07 09:00"),
    ]
    assert warehouse.ticks("twice_daily")[:3] == [
        utc("2026-06-02 06:00"),
        utc("2026-06-04 06:00"),  # 18:00 Tue, 06:00 Wed... missed: one send
        utc("2026-06-04 18:00"),
    ]
    assert len(warehouse.ticks("twice_daily")) == 3 + 6 + 1


def test_failed_and_sample_deliveries_do_not_count() -> None:
    at = utc("2026-06-01 10:00")
    deliveries = [
        # a push that crashed: started, never completed
        {"campaign_id": "welcome_asap", "scheduled_for": at, "completed_at": None},
        # a validation sample
        {"campaign_id": "daily_digest", "scheduled_for": utc("2026-06-01 09:00"),
         "completed_at": at, "is_sample": True},
        {"campaign_id": "weekly_roundup", "scheduled_for": utc("2026-06-01 08:00"),
         "completed_at": at, "status": "failed"},
    ]
    assert sorted(due_campaigns(CAMPAIGNS, deliveries, at)) == [
        "daily_digest", "weekly_roundup", "welcome_asap",
    ]


@pytest.mark.parametrize(
    ("cid", "delivered", "at", "expected"),
    [
        ("welcome_asap", [], "2026-06-01 10:00", "2026-06-01 10:00"),  # due now
        ("welcome_asap", ["2026-06-01 10:00"], "2026-06-01 11:00", None),  # sent: never again
        ("wednesday_flash", [], "2026-06-01 10:00", "2026-06-03 10:00"),
        ("daily_digest", ["2026-06-01 09:00"], "2026-06-01 10:00", "2026-06-02 09:00"),
        ("daily_digest", ["2026-06-01 09:00"], "2026-06-02 09:00", "2026-06-02 09:00"),  # due
        ("weekly_roundup", [], "2026-05-20 00:00", "2026-06-01 08:00"),  # before start
        ("twice_daily", [], "2026-06-01 00:00", "2026-06-02 06:00"),  # start is a tick
        ("twice_daily", ["2026-06-02 06:00"], "2026-06-02 07:00", "2026-06-02 18:00"),
    ],
)
def test_next_due_at(cid: str, delivered: list[str], at: str, expected: str | None) -> None:
    row = next(c for c in CAMPAIGNS if c["campaign_id"] == cid)
    deliveries = [
        {"campaign_id": cid, "scheduled_for": utc(t), "completed_at": utc(t)} for t in delivered
    ]
    got = next_due_at(row, deliveries, utc(at))
    assert got == (utc(expected) if expected else None)

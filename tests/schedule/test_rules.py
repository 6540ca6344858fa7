"""Due rules one at a time: anchors, time zones, and bad timing from the warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from loader.errors import LoaderError
from loader.schedule import (
    ScheduleError,
    Timing,
    due_campaigns,
    iso,
    latest_tick,
    next_due_at,
    parse_at,
    scheduled_for,
    timing_of,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def recurring(cid: str = "r", **kw: Any) -> dict[str, Any]:
    row = {"campaign_id": cid, "campaign_type": "recurring", "send_mode": "asap"}
    row.update(kw)
    return row


def test_invalid_cron_names_the_campaign_and_field() -> None:
    rows = [
        recurring("good", schedule_cron="0 9 * * *"),
        recurring("nightly_winback", schedule_cron="0 25 * * *"),
    ]
    with pytest.raises(ScheduleError) as err:
        due_campaigns(rows, [], utc("2026-06-01 10:00"))
    assert isinstance(err.value, LoaderError)
    assert "nightly_winback" in err.value.message
    assert "schedule_cron" in err.value.message
    assert "'0 25 * * *'" in err.value.message
    assert "good" not in err.value.message


def test_every_invalid_campaign_is_named_in_one_error() -> None:
    rows = [
        recurring("a", schedule_cron="nope"),
        recurring("b"),  # neither cron nor interval
        recurring("c", schedule_interval_minutes=0),
        {"campaign_id": "d", "campaign_type": "one_time", "send_mode": "scheduled"},  # no send_at
        {"campaign_id": "e", "campaign_type": "weekly", "send_mode": "asap"},
    ]
    with pytest.raises(ScheduleError) as err:
        due_campaigns(rows, [], utc("2026-06-01 10:00"))
    message = err.value.message
    for cid, field in [
        ("a", "schedule_cron"),
        ("b", "schedule_interval_minutes"),
        ("c", "schedule_interval_minutes"),
        ("d", "send_at"),
        ("e", "campaign_type"),
    ]:
        named = f"campaign '{cid}': {field}", f"campaign '{cid}': schedule_cron or {field}"
        assert any(text in message for text in named), (cid, message)


def test_naive_datetimes_are_utc_and_aware_ones_are_converted() -> None:
    row = {"campaign_id": "x", "campaign_type": "one_time", "send_mode": "scheduled",
           "send_at": datetime(2026, 6, 1, 9, 0)}  # naive, as DuckDB returns timestamps
    paris = timezone(timedelta(hours=2))
    assert due_campaigns([row], [], datetime(2026, 6, 1, 10, 59, tzinfo=paris)) == []
    assert due_campaigns([row], [], datetime(2026, 6, 1, 11, 0, tzinfo=paris)) == ["x"]
    assert due_campaigns([row], [], "2026-06-01T09:00:00Z") == ["x"]  # type: ignore[arg-type]


def test_interval_anchors_send_at_then_launch_at_then_epoch() -> None:
    at = utc("2026-06-01 10:17")
    by_send_at = timing_of(recurring(schedule_interval_minutes=60, send_mode="scheduled",
                                     send_at=utc("2026-06-01 08:05"),
                                     launch_at=utc("2026-06-01 08:30")))
    by_launch = timing_of(
        recurring(schedule_interval_minutes=60, launch_at=utc("2026-06-01 08:30"))
    )
    by_epoch = timing_of(recurring(schedule_interval_minutes=60))
    assert latest_tick(by_send_at, at) == utc("2026-06-01 10:05")
    assert latest_tick(by_launch, at) == utc("2026-06-01 09:30")
    assert latest_tick(by_epoch, at) == utc("2026-06-01 10:00")


def test_scheduled_recurring_has_no_tick_before_send_at() -> None:
    row = recurring(
        schedule_cron="0 9 * * *", send_mode="scheduled", send_at=utc("2026-06-03 08:00")
    )
    assert due_campaigns([row], [], utc("2026-06-02 12:00")) == []
    assert due_campaigns([row], [], utc("2026-06-03 08:59")) == []
    assert due_campaigns([row], [], utc("2026-06-03 09:00")) == ["r"]
    assert next_due_at(row, [], utc("2026-06-01 00:00")) == utc("2026-06-03 09:00")


def test_launch_at_does_not_gate_sends() -> None:
    row = {"campaign_id": "x", "campaign_type": "one_time", "send_mode": "asap",
           "launch_at": utc("2026-07-01 00:00")}
    assert due_campaigns([row], [], utc("2026-06-01 00:00")) == ["x"]


def test_manual_push_before_the_first_tick_keeps_the_tick_due() -> None:
    row = recurring(
        schedule_cron="0 9 * * *", send_mode="scheduled", send_at=utc("2026-06-03 00:00")
    )
    early = utc("2026-06-02 15:00")
    delivered = [{"campaign_id": "r", "scheduled_for": scheduled_for(row, early),
                  "completed_at": early}]
    assert delivered[0]["scheduled_for"] == early
    assert due_campaigns([row], delivered, utc("2026-06-03 09:00")) == ["r"]


def test_delivery_without_scheduled_for_counts_by_completion() -> None:
    row = recurring(schedule_cron="0 9 * * *")
    delivered = [
        {"campaign_id": "r", "scheduled_for": None, "completed_at": utc("2026-06-01 09:30")}
    ]
    assert due_campaigns([row], delivered, utc("2026-06-01 23:00")) == []
    assert due_campaigns([row], delivered, utc("2026-06-02 09:00")) == ["r"]


def test_objects_work_like_dicts() -> None:
    timing = Timing("obj", "recurring", "asap", None, "*/15 * * * *", None, None)
    assert due_campaigns([timing], [], utc("2026-06-01 10:00")) == ["obj"]
    assert timing.describe() == "cron '*/15 * * * *'"


def test_parse_at() -> None:
    assert parse_at("2026-06-01T09:00:00Z") == utc("2026-06-01 09:00")
    assert parse_at("2026-06-01 09:00") == utc("2026-06-01 09:00")
    assert parse_at("2026-06-01T11:00:00+02:00") == utc("2026-06-01 09:00")
    assert parse_at(None, now=utc("2026-06-01 09:00")) == utc("2026-06-01 09:00")
    with pytest.raises(ScheduleError, match="--at"):
        parse_at("next tuesday")
    assert iso(utc("2026-06-01 09:00")) == "2026-06-01T09:00:00Z"

"""Which campaigns are due at an instant: warehouse-native scheduling.

Pure functions over campaign registry rows (``klaviyo_campaigns``) and the campaigns' completed,
non-sample deliveries (``klaviyo_loader.deliveries``). Nothing here reads a clock: the caller
passes the instant ``at`` (``loader push --at``), so tests and back-fills can drive time.

The rules (docs/scheduling.md explains them to users):

* **one-time**: due when it was never delivered and either ``send_mode = 'asap'`` or
  ``send_at <= at``. The delivery records ``scheduled_for = send_at`` (or ``at`` for ASAP).
* **recurring**: the schedule is a cron expression (UTC, evaluated by croniter) or an interval
  in minutes. Ticks of an interval are ``anchor + k * interval``, anchored at ``send_at``, else
  ``launch_at``, else the Unix epoch (1970-01-01T00:00Z). A scheduled (``send_mode =
  'scheduled'``) campaign has no tick before ``send_at``; an ASAP one has no start, so its most
  recent tick is due on the first run. The campaign is due when the latest tick ``t <= at`` is
  later than the last delivered tick; the delivery records ``scheduled_for = t``. So a run that
  missed several ticks sends once (for the latest), and a rerun at the same instant after a
  delivery sends nothing. ``launch_at`` never gates a send: it is when the campaign goes live
  downstream, kept for results measurement.

Registry rows and deliveries may be dicts or objects with the same attribute names. Naive
datetimes are UTC (the warehouse contract); aware ones are converted to UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import CroniterBadDateError, croniter

from loader.errors import LoaderError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_TIME = "one_time"
RECURRING = "recurring"
ASAP = "asap"
SCHEDULED = "scheduled"
COMPLETED_STATUSES = ("completed", "succeeded", "success", "ok")


class ScheduleError(LoaderError):
    """A campaign's timing in the registry cannot be evaluated (invalid cron, missing field)."""


@dataclass(frozen=True)
class Timing:
    """The timing part of one registry row, validated."""

    campaign_id: str
    campaign_type: str
    send_mode: str
    send_at: datetime | None
    schedule_cron: str | None
    schedule_interval_minutes: int | None
    launch_at: datetime | None

    @property
    def start(self) -> datetime | None:
        """No tick of a recurring campaign comes before this instant (None: no start)."""
        return self.send_at if self.send_mode == SCHEDULED else None

    def describe(self) -> str:
        """The schedule in a few words, for `loader status`."""
        if self.campaign_type == ONE_TIME:
            return "asap" if self.send_mode == ASAP else f"once at {iso(self.send_at)}"
        what = (
            f"cron '{self.schedule_cron}'"
            if self.schedule_cron
            else f"every {self.schedule_interval_minutes} min"
        )
        return what + (f" from {iso(self.send_at)}" if self.start else "")


@dataclass(frozen=True)
class Delivery:
    """A completed, non-sample delivery of a campaign."""

    campaign_id: str
    scheduled_for: datetime | None
    completed_at: datetime | None

    @property
    def tick(self) -> datetime | None:
        """The schedule instant this delivery satisfied (falls back to its completion)."""
        return self.scheduled_for or self.completed_at


# --------------------------------------------------------------------------------------------
# normalising input


def _get(row: Any, name: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(name)
    return getattr(row, name, None)


def to_utc(value: Any, what: str = "instant") -> datetime | None:
    """A datetime (or ISO-8601 text) as an aware UTC datetime; naive values are taken as UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as exc:
            raise ScheduleError(
                f"{what}: {text!r} is not an ISO-8601 datetime",
                hint="Use e.g. 2026-06-01T09:00:00Z (naive datetimes are taken as UTC).",
            ) from exc
    if not isinstance(value, datetime):
        raise ScheduleError(f"{what}: expected a datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_at(text: str | None, now: datetime | None = None) -> datetime:
    """The `--at` option: ISO-8601 text (naive = UTC), or the current instant when absent."""
    if text is None:
        return to_utc(now) if now is not None else datetime.now(UTC)  # type: ignore[return-value]
    parsed = to_utc(text, "--at")
    assert parsed is not None
    return parsed


def cron_error(expression: str) -> str | None:
    """Why croniter cannot schedule ``expression`` (not a cron expression, or one that never
    fires, such as ``0 8 31 2 *``), or None when it can. `dbt build` refuses the same
    expressions (macros/campaigns/klaviyo_parse_cron.sql, held to this by
    tests/schedule/test_cron_datetime_parity.py); this guards a registry edited by hand."""
    if not croniter.is_valid(expression):
        return f"{expression!r} is not a valid cron expression"
    try:
        croniter(expression, EPOCH).get_next(datetime)
    except CroniterBadDateError:
        return f"{expression!r} never fires"
    return None


def timing_of(row: Any) -> Timing:
    """Validate the timing fields of one registry row; errors name the campaign and field."""
    campaign_id = _get(row, "campaign_id")
    if not campaign_id:
        raise ScheduleError("a registry row has no campaign_id")
    cid = str(campaign_id)

    def bad(field: str, problem: str) -> ScheduleError:
        return ScheduleError(
            f"campaign {cid!r}: {field} {problem}",
            hint="Fix the campaign's timing in its dbt model, then `dbt build` again.",
        )

    campaign_type = (_get(row, "campaign_type") or "").strip()
    send_mode = (_get(row, "send_mode") or "").strip()
    if campaign_type not in (ONE_TIME, RECURRING):
        raise bad("campaign_type", f"must be 'one_time' or 'recurring', got {campaign_type!r}")
    if send_mode not in (ASAP, SCHEDULED):
        raise bad("send_mode", f"must be 'asap' or 'scheduled', got {send_mode!r}")
    send_at = to_utc(_get(row, "send_at"), f"campaign {cid!r}: send_at")
    launch_at = to_utc(_get(row, "launch_at"), f"campaign {cid!r}: launch_at")
    if send_mode == SCHEDULED and send_at is None:
        raise bad("send_at", "is required when send_mode is 'scheduled'")
    cron = _get(row, "schedule_cron")
    cron = str(cron).strip() if cron is not None and str(cron).strip() else None
    interval = _get(row, "schedule_interval_minutes")
    if campaign_type == RECURRING:
        if cron is None and interval is None:
            raise bad(
                "schedule_cron",
                "or schedule_interval_minutes is required for a recurring campaign",
            )
        if cron is not None and interval is not None:
            raise bad("schedule_cron", "and schedule_interval_minutes are both set; keep one")
        problem = cron_error(cron) if cron is not None else None
        if problem is not None:
            raise bad("schedule_cron", problem)
        if interval is not None:
            try:
                interval = int(interval)
            except (TypeError, ValueError):
                raise bad(
                    "schedule_interval_minutes", f"must be an integer, got {interval!r}"
                ) from None
            if interval <= 0:
                raise bad("schedule_interval_minutes", f"must be positive, got {interval}")
    else:
        cron, interval = None, None
    return Timing(cid, campaign_type, send_mode, send_at, cron, interval, launch_at)


def deliveries_of(deliveries: Iterable[Any]) -> dict[str, list[Delivery]]:
    """Completed, non-sample deliveries grouped by campaign id (others are ignored)."""
    grouped: dict[str, list[Delivery]] = {}
    for row in deliveries:
        if _get(row, "is_sample"):
            continue
        completed_at = to_utc(_get(row, "completed_at"), "delivery completed_at")
        if completed_at is None:
            continue
        status = _get(row, "status")
        if status is not None and str(status).lower() not in COMPLETED_STATUSES:
            continue
        cid = str(_get(row, "campaign_id"))
        scheduled = to_utc(_get(row, "scheduled_for"), "delivery scheduled_for")
        grouped.setdefault(cid, []).append(Delivery(cid, scheduled, completed_at))
    return grouped


# --------------------------------------------------------------------------------------------
# ticks


def latest_tick(timing: Timing, at: datetime) -> datetime | None:
    """The greatest schedule tick ``<= at`` (and ``>= start``), or None."""
    if timing.schedule_cron is not None:
        it = croniter(timing.schedule_cron, at)
        tick = it.get_prev(datetime)
        following = croniter(timing.schedule_cron, tick).get_next(datetime)
        if following <= at:  # croniter's get_prev is strict when `at` sits on a tick
            tick = following
    else:
        step = timedelta(minutes=timing.schedule_interval_minutes or 0)
        anchor = timing.send_at or timing.launch_at or EPOCH
        tick = anchor + ((at - anchor) // step) * step
    start = timing.start
    if start is not None and tick < start:
        return None
    return tick


def next_tick(timing: Timing, after: datetime) -> datetime:
    """The smallest schedule tick ``> after`` (and ``>= start``)."""
    start = timing.start
    if start is not None and after < start:
        first = latest_tick(timing, start)
        if first is not None and first >= start:  # start itself is a tick
            return first
        after = start
    if timing.schedule_cron is not None:
        return croniter(timing.schedule_cron, after).get_next(datetime)
    step = timedelta(minutes=timing.schedule_interval_minutes or 0)
    anchor = timing.send_at or timing.launch_at or EPOCH
    return anchor + ((after - anchor) // step + 1) * step


def last_delivered_tick(deliveries: list[Delivery]) -> datetime | None:
    ticks = [d.tick for d in deliveries if d.tick is not None]
    return max(ticks) if ticks else None


# --------------------------------------------------------------------------------------------
# the public questions


def _is_due(timing: Timing, delivered: list[Delivery], at: datetime) -> bool:
    if timing.campaign_type == ONE_TIME:
        if delivered:
            return False
        return timing.send_mode == ASAP or (timing.send_at is not None and timing.send_at <= at)
    tick = latest_tick(timing, at)
    if tick is None:
        return False
    last = last_delivered_tick(delivered)
    return last is None or tick > last


def is_due(campaign: Any, deliveries: Iterable[Any], at: datetime) -> bool:
    """Whether one campaign is due at ``at``, given deliveries (any campaigns')."""
    timing = timing_of(campaign)
    when = to_utc(at)
    assert when is not None
    return _is_due(timing, deliveries_of(deliveries).get(timing.campaign_id, []), when)


def due_campaigns(campaigns: Iterable[Any], deliveries: Iterable[Any], at: datetime) -> list[str]:
    """Ids of the campaigns due at ``at``, in registry order.

    Every campaign is evaluated before any error is raised, so one ScheduleError names every
    campaign whose timing is invalid.
    """
    when = to_utc(at)
    assert when is not None
    by_campaign = deliveries_of(deliveries)
    due: list[str] = []
    problems: list[str] = []
    for row in campaigns:
        try:
            timing = timing_of(row)
        except ScheduleError as exc:
            problems.append(exc.message)
            continue
        if _is_due(timing, by_campaign.get(timing.campaign_id, []), when):
            due.append(timing.campaign_id)
    if problems:
        raise ScheduleError(
            "; ".join(problems),
            hint="Fix the campaign's timing in its dbt model and `dbt build`, or name the "
            "campaigns to push explicitly.",
        )
    return due


def due_each(campaigns: Iterable[Any], deliveries: Iterable[Any], at: datetime
             ) -> tuple[list[str], dict[str, ScheduleError]]:
    """Ids of the campaigns due at ``at`` (registry order), and the error of each campaign
    whose timing cannot be evaluated: one bad campaign does not stop the others."""
    when = to_utc(at)
    assert when is not None
    by_campaign = deliveries_of(deliveries)
    due: list[str] = []
    problems: dict[str, ScheduleError] = {}
    for row in campaigns:
        try:
            timing = timing_of(row)
            if _is_due(timing, by_campaign.get(timing.campaign_id, []), when):
                due.append(timing.campaign_id)
        except ScheduleError as exc:
            problems[str(_get(row, "campaign_id"))] = exc
    return due, problems


def next_due_at(campaign: Any, deliveries: Iterable[Any], at: datetime) -> datetime | None:
    """When the campaign is next due: ``at`` itself when it is due now, None when never again."""
    timing = timing_of(campaign)
    when = to_utc(at)
    assert when is not None
    delivered = deliveries_of(deliveries).get(timing.campaign_id, [])
    if _is_due(timing, delivered, when):
        return when
    if timing.campaign_type == ONE_TIME:
        return None if delivered else timing.send_at
    last = last_delivered_tick(delivered)
    return next_tick(timing, max(when, last) if last is not None else when)


def scheduled_for(campaign: Any, at: datetime) -> datetime:
    """The schedule instant a delivery made at ``at`` records in ``deliveries.scheduled_for``.

    One-time: ``send_at`` (``at`` for ASAP). Recurring: the latest tick ``<= at``; a push made
    before the first tick (a campaign named explicitly) records ``at``, so the first tick is
    still due afterwards.
    """
    timing = timing_of(campaign)
    when = to_utc(at)
    assert when is not None
    if timing.campaign_type == ONE_TIME:
        return timing.send_at if timing.send_at is not None and timing.send_at <= when else when
    return latest_tick(timing, when) or when


def iso(value: datetime | None) -> str:
    """UTC instant as ``2026-06-01T09:00:00Z`` (``-`` for None)."""
    if value is None:
        return "-"
    value = to_utc(value)
    assert value is not None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")

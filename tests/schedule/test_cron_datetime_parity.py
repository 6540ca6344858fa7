"""The cron and datetime rules exist twice: in Jinja, where `dbt build` checks a campaign's
timing (macros/campaigns/klaviyo_parse_cron.sql, klaviyo_parse_datetime.sql), and in Python,
where the loader evaluates the schedule (croniter, loader.schedule). The same cases go through
both — the Jinja side in one real `dbt compile` of the project's macros — and every
disagreement fails:

* a cron the build accepts is one croniter accepts, that fires, read as the same minutes,
  hours, days, months and weekdays, and that croniter fires at the instants the documented
  rule says (docs/scheduling.md);
* a cron croniter refuses or that never fires is refused by the build;
* a cron the build refuses although croniter takes it is one of the documented deliberate
  restrictions (STRICTER below);
* a datetime the build accepts is the same UTC instant to the loader; one the loader cannot
  read is refused by the build.
"""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from croniter import croniter

from loader.schedule import ScheduleError, cron_error, to_utc
from tests.campaigns._project import CampaignProject

# (expression, accepted by the build) — the cases that must not silently change verdict.
CRON_CASES: list[tuple[str, bool]] = [
    ("0 8 * * MON", True),
    ("*/15 * * * *", True),
    ("0 9 * * 1-5", True),
    ("30 6 1,15 * *", True),
    ("0 0 1 JAN-MAR/2 *", True),
    ("0 8 * * mon", True),
    ("00 08 * * *", True),
    ("  0\t8  * *  MON ", True),
    ("5/15 * * * *", True),
    ("*/100 * * * *", True),
    ("0 0 1-31/40 * *", True),
    ("0 0 * * 7", True),
    ("0 0 * * 5-7", True),
    ("0 0 * * 0-7", False),
    ("0 0 15 * */1", False),
    ("0 0 1-31 * MON", False),
    ("0 0 * * 1-7/2", True),
    ("0 0 * * MON/2", True),
    ("0 0 * * 7/2", True),
    ("0 0 * * SAT-SUN", True),
    ("0 0 29 2 *", True),  # every leap year
    ("0 8 31 2 MON", True),  # both days restricted: Mondays of February fire
    ("0 8 31 2 */2", True),
    ("0 8 31 4,5 *", True),
    ("0 8 30 1-2 *", True),
    ("@daily", True),
    ("@hourly", True),
    ("@weekly", True),
    ("@monthly", True),
    ("@yearly", True),
    ("@annually", True),
    ("@midnight", True),
    ("@DAILY", True),
    ("0 8 31 2 *", False),  # never fires
    ("0 8 30 2 *", False),
    ("0 0 30-31 2 *", False),
    ("0 8 31 4,6,9,11 *", False),
    ("0 8 31 FEB *", False),
    ("0 25 * * *", False),
    ("60 * * * *", False),
    ("0 0 0 * *", False),
    ("0 0 32 * *", False),
    ("0 0 * 13 *", False),
    ("0 0 * * 8", False),
    ("0 9 * *", False),
    ("0 0 * * * *", False),  # seconds field (croniter extension)
    ("0 0 31 2 * 2026", False),
    ("*/0 * * * *", False),
    ("0 8 * * MONDAY", False),
    ("0 8 * * MOX", False),
    ("MON * * * *", False),
    ("0 0 L * *", False),
    ("0 0 * * 1#2", False),
    ("0 0 ? * *", False),
    ("0 0 LW * *", False),
    ("H * * * *", False),
    ("0 0 1,,2 * *", False),
    ("0 0 5-3 * *", False),  # croniter wraps it round; the build refuses
    ("0 8 * * FRI-MON", False),
    ("0 8 * * MON-SUN", False),
    ("0 8 * * 6-0", True),
    ("0 0 * 2-2 *", False),  # croniter reads a-a as *
    ("0 0 * * 7-7", False),
    ("0 0 *,15 * MON", False),
    ("0 0 15 * *,MON", False),
    ("@reboot", False),
    ("@every 5m", False),
    ("", False),
    ("-1 * * * *", False),
]

# Refused by the build although croniter takes them: each pattern is a documented restriction
# (docs/scheduling.md, "Cron expressions"), matched against the build's message.
STRICTER = {
    r"got [67] in": "a seconds or year field (croniter extensions)",
    r"is not a cron list of \*, n, a-b or \*/step": "L, W, #, ?, H (croniter extensions)",
    r"has a range whose start is after its end": "ranges that wrap (croniter wraps them round)",
    r"has a range that starts and ends at": "a-a ranges (croniter reads them as *)",
    r"field '[^']*\b\w+-0\b[^']*' is out of range 1-": "a range ending at 0 in a field that "
    "starts at 1 (croniter wraps it round)",
    r"lists \* with other values": "a bare * in a list (croniter then ignores the field when "
    "it decides between the two day fields)",
    r"allows every day: write \*": "a day field allowing every day written otherwise (croniter "
    "takes it for * or not depending on the other field)",
}

FIELD_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

# (value, UTC instant the build stores, or None when it refuses the value)
DATETIME_CASES: list[tuple[str, str | None]] = [
    ("2026-03-20 09:00", "2026-03-20 09:00:00"),
    ("2026-03-20 09:00:30", "2026-03-20 09:00:30"),
    ("2026-03-20T09:00", "2026-03-20 09:00:00"),
    ("2026-03-20t09:00", "2026-03-20 09:00:00"),
    ("2026-03-20T09:00Z", "2026-03-20 09:00:00"),
    ("2026-03-20T09:00:00z", "2026-03-20 09:00:00"),
    ("2026-03-20 09:00+00:00", "2026-03-20 09:00:00"),
    ("2026-03-20 09:00+02:00", "2026-03-20 07:00:00"),
    ("2026-03-20T01:30-05:30", "2026-03-20 07:00:00"),
    ("2026-03-20 23:30-01:00", "2026-03-21 00:30:00"),
    ("2026-03-20 09:00+0200", "2026-03-20 07:00:00"),
    ("2026-01-01 00:30+01:00", "2025-12-31 23:30:00"),
    ("2026-03-20", "2026-03-20 00:00:00"),
    ("  2026-03-20 09:00  ", "2026-03-20 09:00:00"),
    ("2028-02-29 10:00", "2028-02-29 10:00:00"),
    ("2000-02-29", "2000-02-29 00:00:00"),
    ("2026-02-29 10:00", None),
    ("1900-02-29", None),
    ("2026-13-01", None),
    ("2026-00-10", None),
    ("2026-04-31", None),
    ("2026-03-20 24:00", None),
    ("2026-03-20 09:60", None),
    ("2026-03-20 09:00:60", None),
    ("2026-03-20 9:00", None),
    ("20-03-2026", None),
    ("next tuesday", None),
    ("", None),
    ("2026-03-20 09:00+25:00", None),
    ("2026-03-20 09:00 UTC", None),
    # The loader reads these too (Python's fromisoformat); the build asks for the extended
    # form to the second.
    ("2026-03-20 09:00:00.250", None),
    ("20260320T0900", None),
    ("2026-03-20T09", None),
    ("2026-03-20 09:00+02", None),
]
# Cases above the loader reads although the build refuses them (see the comment there).
DATETIME_STRICTER = {
    "2026-03-20 09:00:00.250", "20260320T0900", "2026-03-20T09", "2026-03-20 09:00+02",
}

PARITY_MODEL = """\
{%- set results = {'cron': [], 'datetime': []} -%}
{%- for expression in var('cron_cases') -%}
    {%- set errors = [] -%}
    {%- set timing = klaviyo_normalize_timing(
        {'timing': {'type': 'recurring', 'cron': expression}}, errors) -%}
    {%- do results.cron.append({'errors': errors, 'cron': timing.cron,
        'fields': klaviyo_parse_cron(expression).get('fields')}) -%}
{%- endfor -%}
{%- for value in var('datetime_cases') -%}
    {%- set errors = [] -%}
    {%- set timing = klaviyo_normalize_timing(
        {'timing': {'send_at': value, 'launch_at': value}}, errors) -%}
    {%- do results.datetime.append({'errors': errors, 'send_at': timing.send_at,
        'launch_at': timing.launch_at}) -%}
{%- endfor -%}
-- RESULTS {{ tojson(results) }}
select 1 as parity
"""


def generated_crons(count: int, seed: int = 20260320) -> list[str]:
    """Random expressions over the grammar and its near misses (fixed seed: reproducible)."""
    rng = random.Random(seed)

    def value(field: int) -> str:
        low, high = FIELD_RANGES[field]
        if field == 4:
            high = 7
        roll = rng.random()
        if roll < 0.05:
            return str(rng.choice([low - 1, high + 1, 99]))
        if field == 3 and roll < 0.3:
            return rng.choice(MONTHS).lower() if rng.random() < 0.2 else rng.choice(MONTHS)
        if field == 4 and roll < 0.3:
            return rng.choice(DAYS)
        return str(rng.randint(max(low, 0), high))

    def item(field: int, alone: bool) -> str:
        roll = rng.random()
        step = f"/{rng.choice([0, 1, 2, 3, 5, 7, 15, 40])}" if rng.random() < 0.3 else ""
        if roll < 0.3:
            return "*" + (step or ("/2" if not alone and rng.random() < 0.8 else ""))
        if roll < 0.6:
            return value(field) + step
        if roll < 0.97:
            start, end = value(field), value(field)
            if rng.random() < 0.8 and start.isdigit() and end.isdigit():
                start, end = sorted((start, end), key=int)
            return f"{start}-{end}{step}"
        return rng.choice(["L", "?", "5L", "1#2", "W", ""])

    def field(index: int) -> str:
        count = rng.choice([1, 1, 1, 2, 3])
        return ",".join(item(index, count == 1) for _ in range(count))

    expressions = []
    for _ in range(count):
        fields = [field(i) for i in range(5)]
        if rng.random() < 0.5:  # day-of-week * (only a day of month decides whether it fires)
            fields[4] = "*"
        if rng.random() < 0.03:
            fields.append(field(0))
        expressions.append(" ".join(fields))
    return expressions


def croniter_fields(expression: str) -> list[set[int]]:
    """croniter's reading of each field as a set of values (Sunday 0)."""
    fields = []
    for index, values in enumerate(croniter(expression).expanded[:5]):
        low, high = FIELD_RANGES[index]
        if "*" in values:
            fields.append(set(range(low, high + 1)))
        else:
            fields.append({0 if index == 4 and v == 7 else int(v) for v in values})
    return fields


def documented_ticks(expression: str, fields: list[list[int]], start: datetime, count: int
                     ) -> list[datetime]:
    """The next `count` instants after `start` by the rule docs/scheduling.md states: the
    minute, hour and month match, and the day matches its day-of-month field and its
    day-of-week field — or either of them when both are restricted (neither is `*`)."""
    shortcut = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
                "@hourly": "0 * * * *"}
    text = shortcut.get(expression.strip().lower(), expression).split()
    minutes, hours, days, months, weekdays = (set(f) for f in fields)
    either = text[2] != "*" and text[4] != "*"
    ticks: list[datetime] = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while len(ticks) < count:
        weekday = (day.weekday() + 1) % 7
        day_ok = (
            (day.day in days or weekday in weekdays)
            if either
            else (day.day in days and weekday in weekdays)
        )
        if day.month in months and day_ok:
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    tick = day.replace(hour=hour, minute=minute)
                    if tick > start and len(ticks) < count:
                        ticks.append(tick)
        day += timedelta(days=1)
        assert day.year < start.year + 40, expression
    return ticks


def croniter_ticks(expression: str, start: datetime, count: int) -> list[datetime]:
    it = croniter(expression, start)
    return [it.get_next(datetime) for _ in range(count)]


@pytest.fixture(scope="module")
def jinja(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case through the build's timing check, in one `dbt compile`."""
    project = CampaignProject(tmp_path_factory.mktemp("parity_project"))
    project.write_model("parity_cases", PARITY_MODEL)
    crons = [c for c, _ in CRON_CASES] + generated_crons(400)
    compiled = project.dbt(
        "compile", "--select", "parity_cases", campaigns=[],
        cron_cases=crons, datetime_cases=[d for d, _ in DATETIME_CASES],
    )
    assert compiled.returncode == 0, compiled.output
    path = next(Path(project.root, "target", "compiled").rglob("parity_cases.sql"))
    line = next(x for x in path.read_text().splitlines() if x.startswith("-- RESULTS "))
    results = json.loads(line.removeprefix("-- RESULTS "))
    return {"cron": dict(zip(crons, results["cron"], strict=True)),
            "datetime": dict(zip([d for d, _ in DATETIME_CASES], results["datetime"],
                                 strict=True))}


def build_error(result: dict[str, Any]) -> str | None:
    errors = result["errors"]
    assert all(field == "timing.cron" for field, _ in errors), errors
    return errors[0][1] if errors else None


@pytest.mark.parametrize(("expression", "accepted"), CRON_CASES)
def test_build_verdict_on_listed_crons(jinja: dict[str, Any], expression: str,
                                       accepted: bool) -> None:
    error = build_error(jinja["cron"][expression])
    assert (error is None) == accepted, error


def test_never_firing_cron_is_refused_at_build_naming_why(jinja: dict[str, Any]) -> None:
    error = build_error(jinja["cron"]["0 8 31 2 *"])
    assert error == ("invalid schedule: '0 8 31 2 *' never fires: "
                     "day of month 31 does not exist in month 2")
    assert cron_error("0 8 31 2 *") == "'0 8 31 2 *' never fires"


def test_every_cron_reads_the_same_to_the_build_and_to_croniter(jinja: dict[str, Any]) -> None:
    starts = [datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 2, 27, 13, 7, tzinfo=UTC)]
    problems: list[str] = []
    verdicts = {"both accept": 0, "both refuse": 0, "build stricter": 0}
    for expression, result in jinja["cron"].items():
        error = build_error(result)
        python_error = cron_error(expression)
        if error is None:
            verdicts["both accept"] += 1
            if python_error is not None:
                problems.append(f"{expression!r}: build accepts, loader says {python_error}")
                continue
            stored = " ".join(expression.split())
            if result["cron"] != (stored.lower() if stored.startswith("@") else stored):
                problems.append(f"{expression!r}: stored as {result['cron']!r}")
            fields = [set(values) for values in result["fields"]]
            if fields != croniter_fields(expression):
                problems.append(f"{expression!r}: build reads {result['fields']}, croniter "
                                f"{croniter(expression).expanded}")
                continue
            for start in starts:
                expected = documented_ticks(expression, result["fields"], start, 4)
                if croniter_ticks(expression, start, 4) != expected:
                    problems.append(f"{expression!r}: croniter fires at "
                                    f"{croniter_ticks(expression, start, 4)}, the rule at "
                                    f"{expected}")
        elif python_error is None:
            verdicts["build stricter"] += 1
            if not any(re.search(pattern, error) for pattern in STRICTER):
                problems.append(f"{expression!r}: build refuses ({error}), croniter accepts")
        else:
            verdicts["both refuse"] += 1
    assert not problems, "\n".join(problems)
    # the generated cases reach every kind of verdict
    assert all(n >= 20 for n in verdicts.values()), verdicts


@pytest.mark.parametrize(("value", "stored"), DATETIME_CASES)
def test_datetime_means_the_same_instant_to_the_build_and_the_loader(
    jinja: dict[str, Any], value: str, stored: str | None
) -> None:
    result = jinja["datetime"][value]
    assert result["send_at"] == stored
    assert result["launch_at"] == stored
    assert [field for field, _ in result["errors"]] == (
        [] if stored is not None else ["timing.send_at", "timing.launch_at"])
    try:
        loader_reads = to_utc(value)
    except ScheduleError:
        loader_reads = None
    if stored is not None:
        assert loader_reads == datetime.fromisoformat(stored).replace(tzinfo=UTC)
    elif value.strip() and loader_reads is not None:
        assert value in DATETIME_STRICTER, f"the loader reads {value!r} as {loader_reads}"

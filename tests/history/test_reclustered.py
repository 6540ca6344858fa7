"""A customer whose ``amperity_id`` changed between two `dbt build`s, with the same identifier
and the same values, is recorded under its new id (docs/sync.md, "Change detection").

Identity resolution re-clusters people: a merge or split gives the same person a new
``amperity_id``. Klaviyo's profile is keyed by the identifier and its content is unchanged, so
nothing is sent; but the history proves a delivery by (list, identifier, customer) in
``list_members``, so state must name the new customer or the next delivery would leave the
person out of ``campaign_recipients`` while Klaviyo's list holds them. The same when another
customer becomes the holder of a shared identifier. End to end: a real warehouse, the loader,
the emulator over HTTP; kills are real SIGKILLs of a `loader push` subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from loader.sync import PushOptions, PushResult, push
from tests.fixtures.warehouse import REPO
from tests.history.test_spans import CAMPAIGN, DAY0, LIST_A, Row, S, base, write
from tests.reliability.harness import query
from tests.sync.conftest import settings_for


def imported(emulator: Any) -> int:  # noqa: ANN401
    return int(emulator.stats()["profiles_imported"])


class Pushes:
    """A recurring campaign pushed day after day (each push a day later is a delivery)."""

    def __init__(self, emulator: Any, path: str) -> None:  # noqa: ANN401
        self.emulator, self.path, self.day = emulator, path, 0

    def at(self) -> str:
        return (DAY0 + timedelta(days=self.day)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def push(self, rows: list[Row] | None, *, next_day: bool = True,
             dry_run: bool = False) -> PushResult:
        if rows is not None:
            write(self.path, rows)
        self.day += next_day
        result = push(settings_for(self.emulator, self.path),
                      PushOptions(campaigns=[CAMPAIGN], dry_run=dry_run,
                                  at=DAY0 + timedelta(days=self.day)))
        assert result.error is None, result.error
        return result

    def killed(self, rows: list[Row], point: str) -> None:
        """`loader push` the next day, SIGKILLed at crash point ``point``."""
        write(self.path, rows)
        self.day += 1
        env = {**os.environ, "KLAVIYO_BASE_URL": self.emulator.base_url,
               "KLAVIYO_API_KEY": self.emulator.api_key, "DUCKDB_PATH": self.path,
               "LOADER_CRASH_AT": point}
        run = subprocess.run([sys.executable, "-m", "loader", "push", CAMPAIGN, "--quiet",
                              "--at", self.at()], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=300)
        assert run.returncode == -9, (point, run.returncode, run.stderr[-2000:])

    def holder(self, email: str) -> str:
        """The customer state says the list holds under ``email``."""
        (row,) = query(self.path, f"select amperity_id from {S}.list_members "
                                  f"where identifier = ?", [email])
        return str(row[0])

    def recipients(self, delivery_id: str) -> set[str]:
        """The list's recipients of a delivery (control members aside)."""
        return {r[0] for r in query(
            self.path, f"select amperity_id from {S}.campaign_recipients "
                       f"where delivery_id = ? and not is_control", [delivery_id])}

    def last_delivery(self) -> str:
        (row,) = query(self.path, f"select delivery_id from {S}.deliveries "
                                  f"where status = 'completed' "
                                  f"order by delivery_number desc nulls last limit 1")
        return str(row[0])

    def spans(self, amperity_id: str) -> list[tuple[Any, ...]]:
        return query(self.path, f"select first_number, last_number from {S}.recipient_spans "
                                f"where amperity_id = ? and not is_control order by all",
                     [amperity_id])


def holders(rows: list[Row]) -> dict[str, str]:
    """The list's emails and the customer sent for each (the smallest of a shared email)."""
    out: dict[str, str] = {}
    for r in rows:
        if r.list_name == LIST_A and not r.is_control and r.shrink_reason is None and r.email:
            out[r.email] = min(out.get(r.email, r.amperity_id), r.amperity_id)
    return out


def sendable(rows: list[Row]) -> set[str]:
    """The customers the list holds."""
    return set(holders(rows).values())


def rename(rows: list[Row], old: str, new: str, **changes: Any) -> list[Row]:  # noqa: ANN401
    return [replace(r, amperity_id=new, **changes) if r.amperity_id == old else r
            for r in rows]


def sent(result: PushResult) -> int:
    return sum(r.added + r.updated + r.removed for r in result.lists)


def test_a_reclustered_customer_is_recorded_under_its_new_id(klaviyo_emulator,
                                                             tmp_path: Path) -> None:
    """c07 becomes c07x (same email, same values): the dry run counts it, nothing is sent,
    state names c07x, the delivery records c07x and closes c07's span; the same day's push
    again is skipped (the digests followed the write), the next day's sends nothing and
    records c07x again."""
    p = Pushes(klaviyo_emulator, str(tmp_path / "w.duckdb"))
    rows = base()
    p.push(rows)
    assert p.holder("c07@example.com") == "c07"
    before = imported(klaviyo_emulator)
    rows = rename(rows, "c07", "c07x")
    write(p.path, rows)
    dry = p.push(None, next_day=False, dry_run=True)
    (plan,) = [r.plan for r in dry.lists]
    assert plan is not None and (plan.reclustered, plan.adds, plan.changes) == (1, 0, 0)
    result = p.push(rows)
    (r,) = result.lists
    assert (sent(result), r.reclustered, r.unchanged) == (0, 1, len(holders(rows)))
    assert result.requests.get("bulk_import_profiles", 0) == 0
    assert imported(klaviyo_emulator) == before
    assert p.holder("c07@example.com") == "c07x"
    delivered = p.recipients(result.deliveries[CAMPAIGN])
    assert delivered == sendable(rows) and "c07x" in delivered and "c07" not in delivered
    assert p.spans("c07") == [(1, 1)] and p.spans("c07x") == [(2, None)]
    again = p.push(rows, next_day=False)  # the same tick again: nothing changed, not planned
    assert [x.skipped for x in again.lists] == [True] and sent(again) == 0
    later = p.push(rows)  # the next delivery: nothing to send, c07x recorded again
    (r,) = later.lists
    assert (sent(later), r.reclustered) == (0, 0)
    assert p.recipients(later.deliveries[CAMPAIGN]) == sendable(rows)
    assert p.spans("c07x") == [(2, None)] and imported(klaviyo_emulator) == before


@pytest.mark.parametrize("holders_left", [2, 1], ids=["still-shared", "now-single"])
def test_a_shared_identifiers_new_holder_is_recorded(klaviyo_emulator, tmp_path: Path,
                                                     holders_left: int) -> None:
    """c02, c03 (and c04) share c02's email with the same values: c02 (the smallest id) is
    sent. c02 leaves: c03 now holds the email with the same content. State and the
    delivery name c03, c02's span is closed, nothing is removed. Still shared (c03 and c04),
    the fingerprint is unchanged: nothing is sent. Held by c03 alone, the profile's
    fingerprint is computed from one row instead of several (another form, see
    ``loader.warehouse.desired_sql``): it is sent once as an update, under c03."""
    p = Pushes(klaviyo_emulator, str(tmp_path / "w.duckdb"))
    rows = base()
    if holders_left == 2:
        rows = [replace(r, email="c02@example.com") if r.amperity_id == "c04" else r
                for r in rows]
    first = p.push(rows)
    assert p.holder("c02@example.com") == "c02"
    assert "c03" not in p.recipients(first.deliveries[CAMPAIGN])
    before = imported(klaviyo_emulator)
    rows = [r for r in rows if r.amperity_id != "c02"]
    result = p.push(rows)
    (r,) = result.lists
    resent = 0 if holders_left == 2 else 1
    assert (r.added, r.updated, r.removed, r.reclustered) == (0, resent, 0, 1 - resent)
    assert imported(klaviyo_emulator) == before + resent
    assert p.holder("c02@example.com") == "c03"
    delivered = p.recipients(result.deliveries[CAMPAIGN])
    assert "c03" in delivered and "c02" not in delivered and delivered == sendable(rows)
    assert p.spans("c02") == [(1, 1)] and p.spans("c03") == [(2, None)]
    assert sent(p.push(rows)) == 0


def test_a_reclustered_customer_whose_values_changed_is_sent_once(klaviyo_emulator,
                                                                  tmp_path: Path) -> None:
    """c08 becomes c08x and moves to Oslo: one update, state and the delivery name c08x
    once."""
    p = Pushes(klaviyo_emulator, str(tmp_path / "w.duckdb"))
    rows = base()
    p.push(rows)
    before = imported(klaviyo_emulator)
    rows = rename(rows, "c08", "c08x", city="Oslo")
    result = p.push(rows)
    (r,) = result.lists
    assert (r.added, r.updated, r.removed, r.reclustered) == (0, 1, 0, 0)
    assert imported(klaviyo_emulator) == before + 1
    assert klaviyo_emulator.find_profile(email="c08@example.com")["location"]["city"] == "Oslo"
    assert p.holder("c08@example.com") == "c08x"
    rec = query(p.path, f"select count(*) from {S}.campaign_recipients "
                        f"where delivery_id = ? and amperity_id = 'c08x'",
                [result.deliveries[CAMPAIGN]])
    assert rec == [(1,)] and p.spans("c08") == [(1, 1)]


def test_a_kill_before_or_after_the_state_write_is_fixed_by_the_rerun(klaviyo_emulator,
                                                                      tmp_path: Path) -> None:
    """Killed after the intent is written (before state names the new customer), the rerun
    finds the same member again and fixes it; killed right after that write, the rerun has
    nothing left to do. Either way nothing is sent and the resumed delivery records the new
    customer once."""
    p = Pushes(klaviyo_emulator, str(tmp_path / "w.duckdb"))
    rows = base()
    p.push(rows)
    before = imported(klaviyo_emulator)
    for old, new, point in (("c07", "c07x", "intent.written:1"),
                            ("c09", "c09x", "members.upgraded:1")):
        rows = rename(rows, old, new)
        p.killed(rows, point)
        assert p.holder(f"{old}@example.com") == (old if point.startswith("intent") else new)
        result = p.push(rows, next_day=False)  # the rerun resumes the killed delivery
        (r,) = result.lists
        assert sent(result) == 0
        assert r.reclustered == (1 if point.startswith("intent") else 0)
        assert p.holder(f"{old}@example.com") == new
        delivery = result.deliveries[CAMPAIGN]
        assert p.recipients(delivery) == sendable(rows)
        assert query(p.path, f"select count(*) from {S}.campaign_recipients where "
                             f"delivery_id = ? and amperity_id = ?", [delivery, new]) == [(1,)]
    assert imported(klaviyo_emulator) == before
    assert query(p.path, f"select count(*) from {S}.deliveries") == [(3,)]


def test_an_uncertain_key_re_sent_ends_under_its_new_customer(klaviyo_emulator,
                                                              tmp_path: Path) -> None:
    """c09 moves to Oslo; the push is killed once Klaviyo accepted the job, before state
    recorded it (the key is uncertain). The analyst reverts the city and identity
    resolution re-clusters c09 as c09x before the rerun: the key is re-sent (Klaviyo may
    hold Oslo) and its confirmation names c09x, whom the delivery records."""
    p = Pushes(klaviyo_emulator, str(tmp_path / "w.duckdb"))
    rows = base()
    p.push(rows)
    p.killed(rename(rows, "c09", "c09", city="Oslo"), "job.accepted:1")
    assert query(p.path, f"select amperity_id from {S}.pending_rows") == [("c09",)]
    rows = rename(rows, "c09", "c09x")
    result = p.push(rows, next_day=False)
    (r,) = result.lists
    assert (r.updated, r.reclustered) == (1, 0)
    assert klaviyo_emulator.find_profile(email="c09@example.com")["location"]["city"] == "Paris"
    assert p.holder("c09@example.com") == "c09x"
    delivered = p.recipients(result.deliveries[CAMPAIGN])
    assert "c09x" in delivered and "c09" not in delivered and delivered == sendable(rows)
    assert query(p.path, f"select count(*) from {S}.pending_rows") == [(0,)]

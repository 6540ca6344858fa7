"""A push under Klaviyo's rate limits and injected faults converges exactly.

The kill tests that lived here never killed (their listener compared the emulator's URL with
the Emulator object, so it returned at once: 0 of 12 planned kills happened) and crashed only
before requests, never between a response and its state write. They are replaced by the kill
suite in tests/reliability/ (the loader as a subprocess, SIGKILLed at every crash point of
loader/sync, docs/reliability.md); faults of every kind, `lost` answers included, are in
tests/reliability/test_faults.py. This test keeps what those do not: the published rate limits,
scaled down so the client's own pacing and Klaviyo's 429s both happen.
"""

from __future__ import annotations

import random
import time

from loader.klaviyo.client import KlaviyoClient
from loader.sync import PushOptions, push
from tests.sync.conftest import settings_for
from tests.sync.helpers import CampaignSpec, Member, make_members, query, write_warehouse
from tests.sync.test_push import assert_lists_exact


def change_audience(spec: CampaignSpec, rng: random.Random) -> tuple[int, int, int]:
    """12 attribute changes, 9 leavers, 7 newcomers, none of them overlapping."""
    sendable = [m for m in spec.members if m.treatment != "control" and not m.shrink_reason]
    changed = rng.sample(sendable, 12)
    for m in changed:
        m.city = f"City {rng.randint(1, 99)}"
    for m in rng.sample([m for m in sendable if m not in changed], 9):
        spec.members.remove(m)
    for i in range(7):
        spec.members.append(Member(f"amp-j{rng.randint(0, 10**9)}-{i}",
                                   f"j{rng.randint(0, 10**9)}-{i}@example.com", "J", None, None))
    return 7, 12, 9


def test_converges_with_faults_and_rate_limits(klaviyo_emulator, tmp_path) -> None:  # noqa: ANN001
    path = str(tmp_path / "w.duckdb")
    spec = CampaignSpec(members=make_members(200, seed=9, list_b=True), list_b="Spring Sale B")
    write_warehouse(path, [spec])
    klaviyo_emulator.configure(rate_limits=0.2, faults=0.25, fault_seed=4,
                               slow_seconds=0.05, job_delay=0.05)  # 5xx, resets, slow, 429 storms
    settings = settings_for(klaviyo_emulator, path)

    def client() -> KlaviyoClient:
        # short real sleeps: a storm's 429s need no real wait; the limiter's do (≤ 1 s)
        return KlaviyoClient.from_settings(settings, backoff_base_s=0.01, backoff_cap_s=0.05,
                                           max_attempts=15, sleep=lambda s: time.sleep(
                                               min(s, 0.25)))

    first = push(settings, PushOptions(campaigns=["spring_sale"]), client=client())
    assert first.error is None and first.exit_code == 0, first.error
    sendable = sum(1 for m in spec.members if m.treatment != "control" and not m.shrink_reason)
    assert sum(r.added for r in first.lists) == sendable
    added, updated, removed = change_audience(spec, random.Random(5))
    write_warehouse(path, [spec])
    second = push(settings, PushOptions(campaigns=["spring_sale"]), client=client())
    assert second.error is None and second.exit_code == 0, second.error
    assert (sum(r.added for r in second.lists), sum(r.updated for r in second.lists),
            sum(r.removed for r in second.lists)) == (added, updated, removed)
    klaviyo_emulator.wait_for_jobs()
    assert_lists_exact(klaviyo_emulator, spec)
    stats = klaviyo_emulator.stats()
    # both kinds of refusal happened, and every one of them was absorbed
    assert stats["faults"] == sum(stats["faults_by_kind"].values()) >= 5
    assert stats["throttled"] >= stats["faults_by_kind"].get("storm", 0) >= 1
    assert query(path, "select count(*) from klaviyo_loader.pending_rows") == [(0,)]
    assert query(path, "select count(*) from klaviyo_loader.import_jobs "
                       "where status <> 'confirmed'") == [(0,)]
    assert query(path, "select status from klaviyo_loader.sync_runs order by started_at") == [
        ("completed",), ("completed",)]

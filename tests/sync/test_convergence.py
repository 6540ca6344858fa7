"""Kill `loader push` (SIGKILL, a subprocess) at many instants, rerun: state and lists converge.

Faults and rate limits on: the push still converges.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from klaviyo_emulator import request_listeners
from loader.klaviyo.client import KlaviyoClient
from loader.sync import PushOptions, push
from tests.sync.conftest import settings_for
from tests.sync.helpers import CampaignSpec, Member, make_members, write_warehouse
from tests.sync.test_push import assert_lists_exact

ROOT = Path(__file__).resolve().parents[2]


def run_cli(emulator: Any, path: str, kill_after: int | None = None, delay: float = 0.0
            ) -> int | None:
    """`loader push spring_sale` in a subprocess; SIGKILL it ``delay`` seconds after the
    emulator answered its ``kill_after``-th request. Returns the exit code (None when killed)."""
    env = {**os.environ, "KLAVIYO_BASE_URL": emulator.base_url,
           "KLAVIYO_API_KEY": emulator.api_key, "DUCKDB_PATH": path}
    proc = subprocess.Popen([sys.executable, "-m", "loader", "push", "spring_sale", "--quiet"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = 0
    killed = threading.Event()
    lock = threading.Lock()

    def listener(info: dict[str, Any]) -> None:
        nonlocal seen
        if info.get("emulator") is not emulator or kill_after is None:
            return
        with lock:
            seen += 1
            if seen == kill_after and not killed.is_set():
                killed.set()
                threading.Timer(delay, lambda: proc.poll() is None and os.kill(
                    proc.pid, signal.SIGKILL)).start()

    request_listeners.append(listener)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        request_listeners.remove(listener)
    if proc.returncode == -signal.SIGKILL:
        return None
    assert proc.returncode in (0, 1), err.decode()[-2000:]
    return proc.returncode


def check_state(path: str) -> None:
    con = duckdb.connect(path, read_only=True)
    try:
        dup = con.execute("""select count(*) from (select delivery_id, amperity_id,
            sub_audience_id, treatment_id from klaviyo_loader.campaign_recipients
            group by all having count(*) > 1)""").fetchone()[0]
        pending = con.execute("select count(*) from klaviyo_loader.pending_rows").fetchone()[0]
        running = con.execute("select count(*) from klaviyo_loader.deliveries "
                              "where status <> 'completed'").fetchone()[0]
    finally:
        con.close()
    assert dup == 0, "a campaign recipient was recorded twice"
    assert pending == 0
    assert running == 0


def change_audience(spec: CampaignSpec, rng: random.Random) -> None:
    sendable = [m for m in spec.members if m.treatment != "control" and not m.shrink_reason]
    for m in rng.sample(sendable, 12):
        m.city = f"City {rng.randint(1, 99)}"
    for m in rng.sample(sendable, 9):
        spec.members.remove(m)
    for i in range(7):
        spec.members.append(Member(f"amp-j{rng.randint(0, 10**9)}-{i}",
                                   f"j{rng.randint(0, 10**9)}-{i}@example.com", "J", None, None))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_at_random_instants_then_rerun_converges(klaviyo_emulator, tmp_path, seed) -> None:
    rng = random.Random(seed)
    path = str(tmp_path / "w.duckdb")
    spec = CampaignSpec(members=make_members(150, seed=seed, list_b=True),
                        list_b="Spring Sale B")
    klaviyo_emulator.configure(job_delay=0.05)
    for phase in range(2):
        if phase:
            change_audience(spec, rng)
        write_warehouse(path, [spec])
        for _ in range(2):  # two kills in a row, at random request counts
            run_cli(klaviyo_emulator, path, kill_after=rng.randint(1, 13),
                    delay=rng.choice([0.0, rng.uniform(0.0, 0.05)]))
        assert run_cli(klaviyo_emulator, path) == 0
        klaviyo_emulator.wait_for_jobs()
        assert_lists_exact(klaviyo_emulator, spec)
        check_state(path)
    before = klaviyo_emulator.stats()["requests"].get("bulk_import_profiles", 0)
    assert run_cli(klaviyo_emulator, path) == 0  # converged: nothing left to send
    assert klaviyo_emulator.stats()["requests"].get("bulk_import_profiles", 0) == before


def test_converges_with_faults_and_rate_limits(klaviyo_emulator, tmp_path) -> None:
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

    result = push(settings, PushOptions(campaigns=["spring_sale"]), client=client())
    assert result.error is None, result.error
    assert result.exit_code == 0
    change_audience(spec, random.Random(5))
    write_warehouse(path, [spec])
    result = push(settings, PushOptions(campaigns=["spring_sale"]), client=client())
    assert result.error is None, result.error
    assert result.exit_code == 0
    klaviyo_emulator.wait_for_jobs()
    assert_lists_exact(klaviyo_emulator, spec)
    stats = klaviyo_emulator.stats()
    assert stats["faults"] > 0 and stats["throttled"] > 0
    check_state(path)


class Crash(BaseException):
    """Stands for a kill: raised right before the k-th HTTP request leaves the process."""


class CrashingClient(KlaviyoClient):
    def __init__(self, *args: Any, crash_before: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.crash_before = crash_before
        self.sent = 0

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self.sent += 1
        if self.sent == self.crash_before:
            raise Crash()
        return super().request(*args, **kwargs)


def test_crash_before_every_request_then_rerun_converges(klaviyo_emulator, tmp_path) -> None:
    """Deterministic complement of the SIGKILL test: for every k, the push dies just before
    its k-th request (after whatever state it committed), then a normal push must converge."""
    path = str(tmp_path / "w.duckdb")
    spec = CampaignSpec(members=make_members(120, seed=7, list_b=True), list_b="Spring Sale B")
    settings = settings_for(klaviyo_emulator, path)
    rng = random.Random(7)
    for phase in range(2):
        if phase:
            change_audience(spec, rng)
        write_warehouse(path, [spec])
        k = 1
        while True:
            client = CrashingClient(settings.base_url, settings.credentials, settings.revision,
                                    crash_before=k)
            try:
                result = push(settings, PushOptions(campaigns=["spring_sale"]), client=client)
            except Crash:
                klaviyo_emulator.wait_for_jobs()
                k += 1
                continue
            break  # ran to the end without reaching request k: every point was covered
        assert result.exit_code == 0 and result.error is None, result.error
        klaviyo_emulator.wait_for_jobs()
        assert_lists_exact(klaviyo_emulator, spec)
        check_state(path)

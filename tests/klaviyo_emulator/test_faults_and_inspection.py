"""Fault injection is seeded and deterministic; the inspection surface and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from klaviyo_emulator import Emulator
from tests.klaviyo_emulator._api import Api


def _statuses(seed: int, n: int = 60) -> list[int]:
    with Emulator(faults=0.3, fault_seed=seed) as emu:
        emu.configure(fault_kinds=["500", "502", "503", "storm"])
        api = Api(emu)
        return [api.get("/api/lists").status_code for _ in range(n)]


def test_faults_are_deterministic_for_a_seed() -> None:
    a, b, c = _statuses(7), _statuses(7), _statuses(8)
    assert a == b
    assert a != c
    assert {500, 502, 503, 429} & set(a)
    assert 200 in a


def test_a_storm_is_a_run_of_429_with_retry_after() -> None:
    with Emulator(faults=1.0, fault_seed=1) as emu:
        emu.configure(fault_kinds=["storm"])
        api = Api(emu)
        rs = [api.get("/api/lists") for _ in range(5)]
        assert [r.status_code for r in rs] == [429] * 5
        assert all(r.headers["Retry-After"] == "1" for r in rs)
        assert emu.stats()["faults"] == 5


def test_connection_resets_and_slow_responses() -> None:
    with Emulator(faults=1.0, fault_seed=1) as emu:
        emu.configure(fault_kinds=["reset"])
        with pytest.raises(requests.ConnectionError):
            Api(emu).get("/api/lists")
        emu.configure(fault_kinds=["slow"], slow_seconds=0.05)
        slow = Api(emu).get("/api/lists")
        assert slow.status_code == 200  # slow, then served
        assert slow.elapsed.total_seconds() >= 0.05  # a lower bound: the injected delay
        emu.configure(faults=0.0)
        assert Api(emu).get("/api/lists").status_code == 200
        assert emu.stats()["faults"] == 2


def test_inspection_over_http(klaviyo_emulator: Emulator) -> None:
    api = Api(klaviyo_emulator)
    lid = api.create_list("L")
    api.import_and_wait([{"email": "a@example.com", "properties": {"x": 1}}], [lid])
    base = klaviyo_emulator.base_url + "/_emulator"
    lists = requests.get(base + "/lists", timeout=5).json()
    assert lists[0]["name"] == "L" and lists[0]["emails"] == ["a@example.com"]
    profiles = requests.get(base + "/profiles", timeout=5).json()
    assert profiles[0]["properties"] == {"x": 1} and profiles[0]["lists"] == [lid]
    stats = requests.get(base + "/stats", timeout=5).json()
    assert stats["requests"]["create_list"] == 1
    assert stats["requests"]["bulk_import_profiles"] == 1
    r = requests.post(base + "/config", data=json.dumps({"rate_limits": "on", "job_delay": 2}),
                      timeout=5)
    assert r.status_code == 200
    assert klaviyo_emulator.limiter.scale == 1.0 and klaviyo_emulator.job_delay == 2
    assert requests.post(base + "/config", data='{"bogus": 1}', timeout=5).status_code == 400
    assert requests.post(base + "/reset", timeout=5).status_code == 200
    assert klaviyo_emulator.lists() == {} and klaviyo_emulator.stats()["total"] == 0


def test_the_shared_fixture_starts_clean(klaviyo_emulator_shared: Emulator) -> None:
    api = Api(klaviyo_emulator_shared)
    assert klaviyo_emulator_shared.lists() == {}
    api.create_list("shared")
    assert list(klaviyo_emulator_shared.lists()) == ["shared"]


def test_cli_serves_and_prints_its_base_url() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "loader", "emulator", "--port", "0", "--rate-limits", "off",
         "--job-delay", "0", "--stop-after", "30"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("Klaviyo emulator on http://127.0.0.1:")
        base = line.split()[3]
        r = requests.get(base + "/api/accounts", headers={
            "Authorization": "Klaviyo-API-Key pk_cli", "revision": "2026-07-15"}, timeout=5)
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_reset_drops_jobs_not_yet_started() -> None:
    from klaviyo_emulator import FakeClock

    with Emulator(clock=FakeClock(), job_delay=60) as emu:
        api = Api(emu)
        assert api.bulk_import([{"email": "a@example.com"}]).status_code == 202
        emu.reset()  # does not wait for the 60 s delay
        assert emu.stats()["jobs"] == {} and emu.profiles() == []
        emu.wait_for_jobs(timeout=1)


def test_a_lost_answer_still_took_effect() -> None:
    with Emulator(faults=1.0, fault_seed=3) as emu:
        emu.configure(fault_kinds=["lost"])
        with pytest.raises(requests.ConnectionError):
            Api(emu).post("/api/lists", {"data": {"type": "list", "attributes": {"name": "L"}}})
        assert list(emu.lists()) == ["L"]  # created, though the client never heard
        assert emu.stats()["faults"] == 1

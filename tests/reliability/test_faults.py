"""Faults on every endpoint, and answers lost after Klaviyo did the work.

* Every request that is not idempotent is safe when its answer is lost: creating a list looks
  the list up by name before trying again (never a second list of one name); an import job is
  sent again (the same upsert twice changes nothing) with a note; a removal repeated is
  harmless.
* Faults on every endpoint, `lost` included, at 5–40 %: pushes converge exactly (a push whose
  retries run out fails with exit 2 and the next one resumes, as a scheduler would rerun it).
* Every request failing (100 %): one clear error, exit 2, and state the next push resumes from.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from klaviyo_emulator import Emulator, request_listeners
from tests.reliability.harness import (
    FULL,
    NOTES,
    STATE,
    Campaign,
    change,
    converged,
    jobs,
    people,
    push_in_process,
    query,
    run_loader,
    write_warehouse,
)

EVERY_KIND = ["500", "502", "503", "reset", "slow", "storm", "lost"]
FAILING_KINDS = ["500", "502", "503", "reset", "storm", "lost"]  # `slow` still answers


def spring(n: int = 120, seed: int = 11) -> list[Campaign]:
    return [Campaign("spring_sale", {"a": "Spring Sale A", "b": "Spring Sale B"},
                     people(n, seed))]


def test_lost_answer_to_creating_a_list_finds_it_by_name(klaviyo_emulator: Emulator,
                                                          tmp_path: Path) -> None:
    """Every create_list answer is lost after the list was made: the loader looks it up by
    name instead of creating it again (`loader push` as a subprocess, its note on stderr)."""
    campaigns = spring()
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    klaviyo_emulator.configure(faults=1.0, fault_kinds=["lost"], fault_ops=["create_list"])
    run = run_loader(klaviyo_emulator, path, ["spring_sale"])
    assert run.returncode == 0, run.stderr
    klaviyo_emulator.configure(faults=0.0)
    assert klaviyo_emulator.stats()["requests"]["create_list"] == 2  # once a list, no retry
    assert klaviyo_emulator.stats()["faults_by_kind"] == {"lost": 2}
    converged(klaviyo_emulator, path, campaigns)
    for name in ("Spring Sale A", "Spring Sale B"):
        assert f"note: The answer to creating the list {name!r} was lost; the list was found " \
               "by name" in run.stderr
    # the next push finds the lists by name and sends nothing
    again = push_in_process(klaviyo_emulator, path, ["spring_sale"])
    assert again.exit_code == 0 and sum(r.added + r.updated for r in again.lists) == 0
    assert klaviyo_emulator.stats()["lists"] == 2


def test_lost_answers_to_import_jobs_are_sent_again_harmlessly(klaviyo_emulator: Emulator,
                                                                tmp_path: Path) -> None:
    campaigns = spring(300, 12)
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    klaviyo_emulator.configure(faults=0.5, fault_seed=3, fault_kinds=["lost"],
                               fault_ops=["bulk_import_profiles"])
    result = push_in_process(klaviyo_emulator, path, ["spring_sale"])
    klaviyo_emulator.configure(faults=0.0)
    assert result.exit_code == 0, result.error
    lost = klaviyo_emulator.stats()["faults_by_kind"]["lost"]
    assert lost >= 1 and result.unanswered == {"bulk_import_profiles": lost}
    assert result.notes.count(result.notes[0]) == lost and "sent again" in result.notes[0]
    converged(klaviyo_emulator, path, campaigns)
    # Klaviyo ran each lost job and its resend: exactly the lost jobs are unknown to state,
    # and the rows imported twice are exactly theirs
    recorded = {r[0] for r in query(path, f'select job_id from "{STATE}".import_jobs')}
    unknown = {j: n for j, n in jobs(klaviyo_emulator).items() if j not in recorded}
    assert len(unknown) == lost
    sendable = sum(len(v) for v in campaigns[0].expected().values())
    assert sum(jobs(klaviyo_emulator).values()) == sendable + sum(unknown.values())


def test_lost_answers_to_removals_are_repeated_harmlessly(klaviyo_emulator: Emulator,
                                                           tmp_path: Path) -> None:
    """DELETE /api/lists/{id}/relationships/profiles is idempotent: sent again after its
    answer was lost (the members already gone), Klaviyo answers 204 and nothing changes."""
    campaigns = spring(200, 13)
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    assert push_in_process(klaviyo_emulator, path, ["spring_sale"]).exit_code == 0
    change(campaigns[0], 13, edits=0, leave=30, join=0)
    write_warehouse(path, campaigns)
    klaviyo_emulator.configure(faults=0.5, fault_seed=3, fault_kinds=["lost"],
                               fault_ops=["remove_profiles_from_list"])
    result = push_in_process(klaviyo_emulator, path, ["spring_sale"])
    klaviyo_emulator.configure(faults=0.0)
    assert result.exit_code == 0, result.error
    lost = klaviyo_emulator.stats()["faults_by_kind"].get("lost", 0)
    assert lost >= 1 and result.unanswered == {"remove_profiles_from_list": lost}
    # one DELETE a list (under 1,000 members), plus one repeat per lost answer, each 204
    assert klaviyo_emulator.stats()["requests"]["remove_profiles_from_list"] == 2 + lost
    assert klaviyo_emulator.stats()["statuses"].get("204") == 2 + lost
    assert sum(r.removed for r in result.lists) == 30
    converged(klaviyo_emulator, path, campaigns)


RATES = [0.05, 0.2, 0.4]
SEEDS = [1, 2, 3] if FULL else [1]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rate", RATES)
def test_faults_on_every_endpoint_converge_exactly(rate: float, seed: int,
                                                   klaviyo_emulator: Emulator,
                                                   tmp_path: Path) -> None:
    """A first push, a push of changes (adds, changes, removals), then an unchanged push, each
    with every kind of fault on every endpoint. A push whose retries run out (exit 2) is run
    again, as a scheduler would; the lists and state must end exact, nothing sent twice by the
    unchanged push, no list created twice."""
    campaigns = spring(150, seed)
    path = str(tmp_path / "w.duckdb")
    rng = random.Random(seed)
    kinds: Counter[str] = Counter()
    reruns = 0
    requests = 0
    for phase in ("first", "changes", "unchanged"):
        if phase == "changes":
            change(campaigns[0], seed)
        write_warehouse(path, campaigns)
        klaviyo_emulator.configure(faults=rate, fault_seed=rng.randint(0, 10**6),
                                   fault_kinds=EVERY_KIND, slow_seconds=0.01)
        imports_before = sum(jobs(klaviyo_emulator).values())
        runs = 0
        while runs < 6:
            runs += 1
            result = push_in_process(klaviyo_emulator, path, ["spring_sale"])
            if result.error is None:
                break
            assert result.exit_code == 2
            assert "failed" in result.error or "throttled" in result.error, result.error
            reruns += 1
        stats = klaviyo_emulator.stats()
        kinds.update(stats["faults_by_kind"])
        requests += stats["total"]
        klaviyo_emulator.configure(faults=0.0)
        klaviyo_emulator._reset_stats()
        assert result.error is None, f"{phase}: still failing after {runs} runs"
        assert result.exit_code == 0
        converged(klaviyo_emulator, path, campaigns)
        if phase == "unchanged":
            assert sum(jobs(klaviyo_emulator).values()) == imports_before
    NOTES.append(f"faults at {rate:.0%} (seed {seed}): {sum(kinds.values())} faults in "
                 f"{requests} requests ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}"
                 f"); 3 pushes converged exactly, {reruns} rerun(s) after retries ran out")


def _fail_everything_after(emu: Emulator, n: int, kinds: list[str] = FAILING_KINDS) -> Any:
    seen = 0

    def listener(info: dict[str, Any]) -> None:
        nonlocal seen
        seen += 1
        if seen == n:
            emu.configure(faults=1.0, fault_kinds=kinds, storm_length=1)

    return listener


# the push makes 13 requests: failing from the 2nd, 5th, ... on (accounts, lists and scope
# probes, creating a list, importing, polling, the second list)
@pytest.mark.parametrize("after", [1, 4, 7, 10, 12] if FULL else [4, 10])
def test_every_request_failing_is_one_clear_error_and_the_next_push_resumes(
        after: int, klaviyo_emulator: Emulator, tmp_path: Path) -> None:
    """From the `after`-th request on, every request fails (5xx, resets, storms, lost
    answers): the push ends with exit 2 and one clear error, state says `failed` and keeps
    what was confirmed; with Klaviyo back, the next push converges."""
    campaigns = spring(150, 21)
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    listener = _fail_everything_after(klaviyo_emulator, after)
    request_listeners.append(listener)
    try:
        result = push_in_process(klaviyo_emulator, path, ["spring_sale"])
    finally:
        request_listeners.remove(listener)
    klaviyo_emulator.configure(faults=0.0)
    assert result.exit_code == 2
    assert result.error and ("failed 8 times" in result.error or "throttled" in result.error)
    assert "\n" not in result.error and "state is kept" in (result.hint or "")
    runs = query(path, f'select status, error from "{STATE}".sync_runs')
    assert runs == [("failed", result.error)]
    again = push_in_process(klaviyo_emulator, path, ["spring_sale"])
    assert again.exit_code == 0, again.error
    converged(klaviyo_emulator, path, campaigns)


def test_klaviyo_failing_gives_exit_2_and_one_line_from_the_cli(klaviyo_emulator: Emulator,
                                                                tmp_path: Path) -> None:
    """`loader push` (a subprocess) while every request is throttled: after its retries, one
    error line and one hint, no traceback, exit 2; the next push resumes."""
    campaigns = spring(60, 22)
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    listener = _fail_everything_after(klaviyo_emulator, 9, ["storm"])  # 429, Retry-After: 1
    request_listeners.append(listener)
    try:
        run = run_loader(klaviyo_emulator, path, ["spring_sale"])
    finally:
        request_listeners.remove(listener)
        klaviyo_emulator.configure(faults=0.0)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in run.stderr, run.stderr
    assert lines[0].startswith("error: ") and "still throttled (HTTP 429) after 8 attempts" \
        in lines[0]
    assert lines[1].startswith("hint: ") and "the push resumes" in lines[1]
    assert push_in_process(klaviyo_emulator, path, ["spring_sale"]).exit_code == 0
    converged(klaviyo_emulator, path, campaigns)

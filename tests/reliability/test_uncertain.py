"""A killed push's unconfirmed sends, then a changed audience.

A kill can leave sends Klaviyo may hold but state never recorded: an import job Klaviyo
accepted before ``import_jobs`` knew it (``job.accepted``), a DELETE made before state forgot
its members (``removal.sent``). Analysts fix and rebuild between runs, so the rerun may want
those keys back as ``list_members`` describes them: the rerun must treat what the list holds
for them as unknown (docs/sync.md, "Crash safety"). Each case pushes a base audience, changes
it, kills ``loader push`` (a subprocess) at the point, rebuilds the audience as it was, reruns
the push and checks that every list, profile and state row equals the rebuilt audience
(``harness.converged``).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from klaviyo_emulator import Emulator
from tests.reliability.harness import Bench, Campaign, Person, Scenario, jobs, people


def base() -> list[Campaign]:
    return [Campaign("spring_sale", {"a": "Spring Sale A", "b": "Spring Sale B"},
                     people(60, 11))]


def in_list_a(c: Campaign) -> list[Person]:
    return [p for p in c.people if p.group == "a" and not p.shrink_reason]


def edit(cs: list[Campaign]) -> None:
    """Members of list A get a new city (from a value to another: not a clear)."""
    rng = random.Random(1)
    for p in rng.sample([p for p in in_list_a(cs[0]) if p.city], 6):
        p.city = f"City {rng.randint(1, 999)}"


def fill(cs: list[Campaign]) -> None:
    """Members of list A without a city get one (reverting it is a clear: NULL again)."""
    for p in [p for p in in_list_a(cs[0]) if not p.city][:4]:
        p.city = "Lyon"


def join(cs: list[Campaign]) -> None:
    cs[0].people += [Person(f"new-{i}", f"new{i}@example.com", "New", "Oslo", "bronze", "a")
                     for i in range(5)]


def leave(cs: list[Campaign]) -> None:
    for p in random.Random(2).sample(in_list_a(cs[0]), 6):
        cs[0].people.remove(p)


def rebuilt(_: list[Campaign]) -> list[Campaign]:
    """The analyst reverts the change and rebuilds: the base audience again."""
    return base()


CASES = {
    # a) the job carrying V1 was accepted, the kill came before state recorded it; the rerun
    #    wants V0 back, which list_members still holds
    "a-changed-then-reverted": ("job.accepted:1", edit),
    # a) with a field set, then NULL again: the unconfirmed value is cleared (Update Profile)
    "a-set-then-cleared": ("job.accepted:1", fill),
    # b) the job adding newcomers was accepted unrecorded; they leave the audience again
    "b-added-then-left": ("job.accepted:1", join),
    # b) the same, killed before the job left: no profile exists, the list is not read
    "b-never-sent-then-left": ("intent.written:1", join),
    # c) the DELETE was made, the kill came before state forgot the leavers; they rejoin
    "c-removed-then-rejoined": ("removal.sent:1", leave),
    # a job recorded (not confirmed) whose rows then change: recovery confirms it first
    "recorded-then-reverted": ("job.recorded:1", edit),
    # the import's rows confirmed, the removals not yet made; the leavers rejoin
    "confirmed-then-reverted": ("jobs.confirmed:1", lambda cs: (edit(cs), join(cs), leave(cs))),
}


@pytest.mark.parametrize("case", list(CASES))
def test_rerun_after_a_kill_converges_to_the_rebuilt_audience(
        case: str, klaviyo_emulator: Emulator, tmp_path: Path) -> None:
    point, target = CASES[case]
    bench = Bench(Scenario(case, base, target=target, setup_push=True, after_kill=rebuilt),
                  klaviyo_emulator, tmp_path)
    assert bench.case(point), f"{case}: the push never reached {point}"
    if case == "b-never-sent-then-left":  # settled by the look-ups alone
        assert klaviyo_emulator.stats()["requests"].get("get_profiles_for_list", 0) == 0


def test_the_rerun_resends_only_the_uncertain_keys(klaviyo_emulator: Emulator,
                                                   tmp_path: Path) -> None:
    """Leftovers widen the plan by their own keys only: after case a), the rerun imports the
    reverted members (and the killed run's other unconfirmed rows), not the whole list."""
    bench = Bench(Scenario("cost", base, target=edit, setup_push=True, after_kill=rebuilt),
                  klaviyo_emulator, tmp_path)
    assert bench.case("job.accepted:1")
    sent = {j: n for j, n in jobs(klaviyo_emulator).items() if j not in bench.base_jobs}
    # the killed run's job (6 changes), then the rerun's: the same 6 keys, back to V0
    assert sorted(sent.values()) == [6, 6], sent


"""The kill suite's machinery: scenarios, the loader as a subprocess killed at chosen points, and
the checks every case must pass after its rerun. (Over 400 lines: the scenarios and the checks
share their snapshots and warehouse copies, and the kill, fault and mutant suites all use them.)

A *scenario* is a base state (a warehouse and an emulator account, built by real pushes) and a
target audience. Its *trace run* pushes the target once without a kill, recording every crash
point passed (``LOADER_CRASH_TRACE``, loader/sync/crashpoints.py): each occurrence
``<name>:<n>`` is a kill point — ``http.request:<n>`` / ``http.response:<n>`` by request count
(before the n-th request leaves; after its answer arrived and before anything is done with it),
the others by state transition (``job.accepted``: after Klaviyo took a job, before state knows
it; ``removal.sent``: after a DELETE, before state forgets the members; ``recipients.written``:
inside the history transaction; ...). A *case* restores the base, runs ``loader push`` as a
subprocess with ``LOADER_CRASH_AT=<point>`` (it must die by SIGKILL), reruns the push, and checks
(``check_converged``):

* every list holds exactly its audience (members and attributes), no list name twice, no extra
  list;
* state: nothing pending, no job left submitted, every delivery completed, ``list_members``
  exactly the audience under the emulator's list ids;
* history: every recipient of the delivery exactly once (control members included);
* re-sent rows: the rows imported beyond what the uninterrupted trace run imports are at most
  the rows of the jobs Klaviyo received but state never recorded — and with kills only, at most
  one such job per kill;
* the killed push left no lock: the rerun's lock is free at once.

A scenario with ``after_kill`` rebuilds the audience between the kill and the rerun (an analyst
fixing a model): the checks hold against that audience, and re-sent rows are not bounded (the
rerun sends what the change takes).
"""

from __future__ import annotations

import copy
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from klaviyo_emulator import Emulator
from loader.config import Settings
from loader.klaviyo.client import KlaviyoClient
from loader.state import push_holding
from loader.sync import PushOptions, PushResult, push
from tests.sync.helpers import FIXED, MAPPED, REGISTRY_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
STATE = "klaviyo_loader"
FULL = os.environ.get("LOADER_RELIABILITY", "").lower() == "full"


# -- audiences ------------------------------------------------------------------------------

@dataclass
class Person:
    amperity_id: str
    email: str | None
    first_name: str | None = None
    city: str | None = None
    loyalty_tier: str | None = None
    group: str = "a"  # a list key of the campaign, or "control"
    shrink_reason: str | None = None


@dataclass
class Campaign:
    campaign_id: str
    lists: dict[str, str]  # group key -> list name
    people: list[Person] = field(default_factory=list)

    def expected(self) -> dict[str, dict[str, dict[str, Any]]]:
        """list name -> email -> attributes (emails are unique within a campaign here)."""
        out: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in self.lists.values()}
        for p in self.people:
            if p.group == "control" or p.shrink_reason or not p.email:
                continue
            out[self.lists[p.group]][p.email] = {
                "first_name": p.first_name, "city": p.city, "loyalty_tier": p.loyalty_tier}
        return out

    def recipients(self) -> set[tuple[str, bool]]:
        """(amperity_id, is_control) of every recipient of a full delivery."""
        return {(p.amperity_id, p.group == "control") for p in self.people
                if not p.shrink_reason and (p.group == "control" or p.email)}


def people(n: int, seed: int, groups: tuple[str, ...] = ("a", "b"), prefix: str = "p",
           big: int = 0) -> list[Person]:
    """n customers: every 10th a control member, every 17th shrunk (no email); ``big`` bytes
    of loyalty_tier each (large profiles make several import jobs a list)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        control = i % 10 == 0
        shrink = i % 17 == 3
        pad = rng.choice("abcdefgh") * big if big else ""
        out.append(Person(
            amperity_id=f"{prefix}-{i:05d}",
            email=None if shrink else f"{prefix}{i}@example.com",
            first_name=rng.choice(["Ann", "Björn", "Chloé", None]),
            city=rng.choice(["Paris", "Boston", None]),
            loyalty_tier=(rng.choice(["gold", "silver"]) + pad) if rng.random() < 0.8 else None,
            group="control" if control else groups[i % len(groups)],
            shrink_reason="missing_email" if shrink else None,
        ))
    return out


def change(campaign: Campaign, seed: int, edits: int = 12, leave: int = 15, join: int = 10,
           clears: int = 4) -> None:
    """Attribute changes (``clears`` of them a city set to NULL, which Klaviyo only forgets
    through Update Profile), members who leave, newcomers: a second push has every kind of
    work."""
    rng = random.Random(seed)
    sendable = [p for p in campaign.people if p.group != "control" and not p.shrink_reason]
    with_city = [p for p in sendable if p.city]
    cleared = rng.sample(with_city, min(clears, len(with_city)))
    for p in cleared:
        p.city = None
    edited = rng.sample([p for p in sendable if p not in cleared], edits)
    for p in edited:
        p.city = f"City {rng.randint(1, 999)}"
    for p in rng.sample([p for p in sendable if p not in edited and p not in cleared], leave):
        campaign.people.remove(p)
    groups = sorted(campaign.lists)
    for i in range(join):
        campaign.people.append(Person(f"new-{seed}-{i:04d}", f"new{seed}.{i}@example.com",
                                      "New", "Oslo", "bronze", groups[i % len(groups)]))


def write_warehouse(path: str, campaigns: list[Campaign]) -> None:
    """The registry and the audience relations, exactly the contract columns (as tests/sync)."""
    con = duckdb.connect(path)
    try:
        con.execute(f"create or replace table main.klaviyo_campaigns ({REGISTRY_COLUMNS})")
        for c in campaigns:
            rel = f"main.aud_{c.campaign_id}"
            con.execute(f"create or replace table {rel} ({FIXED}, {MAPPED})")
            con.execute(
                "insert into main.klaviyo_campaigns values (?, ?, 'one_time', ?, 'email', true, "
                "'asap', null, null, null, timestamp '2026-01-01 09:00:00', "
                "'email,first_name,city,loyalty_tier', ?, 'klaviyo', 'Klaviyo', now(), 'inv-1')",
                [c.campaign_id, c.campaign_id.replace("_", " ").title(),
                 f'"main"."aud_{c.campaign_id}"', ",".join(c.lists[k] for k in sorted(c.lists))])
            rows = [(c.campaign_id, c.campaign_id, "all", "All", p.group, p.group,
                     p.group == "control", None if p.group == "control" else c.lists[p.group],
                     "seg_vip", "VIP customers", p.amperity_id, p.shrink_reason, p.email,
                     p.first_name, p.city, p.loyalty_tier) for p in c.people]
            if rows:
                con.execute(f"insert into {rel} select {', '.join(['unnest(?)'] * 16)}",
                            [list(col) for col in zip(*rows, strict=True)])
    finally:
        con.close()


def query(path: str, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# -- the emulator's account, saved and restored between cases ------------------------------

def snapshot(emu: Emulator) -> dict[str, Any]:
    emu.wait_for_jobs()
    with emu.store.lock:
        return copy.deepcopy({k: v for k, v in vars(emu.store).items()
                              if k not in ("lock", "clock")})


def restore(emu: Emulator, snap: dict[str, Any]) -> None:
    emu.jobs.drop()
    emu.wait_for_jobs()
    with emu.store.lock:
        vars(emu.store).update(copy.deepcopy(snap))
    emu._reset_stats()


def jobs(emu: Emulator) -> dict[str, int]:
    """Every bulk import job the account holds: id -> profiles it carried."""
    with emu.store.lock:
        return {jid: len(j.payload) if j.payload else j.total_count
                for jid, j in emu.store.jobs.items()}


# -- running the loader ---------------------------------------------------------------------

def settings(emu: Emulator, path: str) -> Settings:
    return Settings.from_env({"KLAVIYO_BASE_URL": emu.base_url, "KLAVIYO_API_KEY": emu.api_key,
                              "DUCKDB_PATH": path})


def fast_client(s: Settings) -> KlaviyoClient:
    """The client a push builds, with short real waits (retries, polls) for tests."""
    return KlaviyoClient.from_settings(s, backoff_base_s=0.01, backoff_cap_s=0.05,
                                       sleep=lambda t: time.sleep(min(t, 0.2)))


def push_in_process(emu: Emulator, path: str, campaigns: list[str], **options: Any
                    ) -> PushResult:
    s = settings(emu, path)
    return push(s, PushOptions(campaigns=campaigns, lock_wait_s=2.0, **options),
                client=fast_client(s))


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


def run_loader(emu: Emulator, path: str, campaigns: list[str], *, crash_at: str | None = None,
               trace: str | None = None, kill_after_s: float | None = None,
               extra_env: dict[str, str] | None = None, timeout: float = 180) -> Run:
    """``loader push <campaigns> --quiet`` as a subprocess (``python -m loader``)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOADER_CRASH_AT", "LOADER_CRASH_TRACE")}
    env.update({"KLAVIYO_BASE_URL": emu.base_url, "KLAVIYO_API_KEY": emu.api_key,
                "DUCKDB_PATH": path, "COLUMNS": "200"})
    if crash_at:
        env["LOADER_CRASH_AT"] = crash_at
    if trace:
        env["LOADER_CRASH_TRACE"] = trace
    env.update(extra_env or {})
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "loader", "push", *campaigns, "--quiet"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    timer = None
    if kill_after_s is not None:
        def kill() -> None:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
        timer = threading.Timer(kill_after_s, kill)
        timer.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if timer is not None:
            timer.cancel()
    return Run(proc.returncode, out.decode(), err.decode(), time.monotonic() - started)


# -- the checks -----------------------------------------------------------------------------

class NotConverged(AssertionError):
    pass


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise NotConverged(what)


def check_lists(emu: Emulator, campaigns: list[Campaign]) -> dict[str, str]:
    """Every list exactly its audience; no name twice; no other list. list name -> id."""
    emu.wait_for_jobs()
    by_id = emu.lists_by_id()
    names = Counter(v["name"] for v in by_id.values())
    twice = sorted(n for n, k in names.items() if k > 1)
    expect(not twice, f"lists created twice: {twice}")
    want = {name: members for c in campaigns for name, members in c.expected().items()}
    expect(set(names) == set(want), f"lists {sorted(names)} != audiences' lists {sorted(want)}")
    profiles = {p["email"]: p for p in emu.profiles() if p["email"]}
    ids = {}
    for view in by_id.values():
        name = view["name"]
        ids[name] = view["id"]
        got, wanted = view["emails"], set(want[name])
        expect(got == wanted, f"list {name!r}: {len(got - wanted)} extra, "
               f"{len(wanted - got)} missing (e.g. {sorted(got ^ wanted)[:3]})")
        for email, attrs in want[name].items():
            p = profiles[email]
            seen = {"first_name": p.get("first_name"), "city": p["location"].get("city"),
                    "loyalty_tier": p["properties"].get("loyalty_tier")}
            expect(seen == attrs, f"list {name!r}: {email} has {seen}, wants {attrs}")
    return ids


def check_state(path: str, campaigns: list[Campaign], list_ids: dict[str, str],
                deliveries: dict[str, str]) -> None:
    t = f'"{STATE}"'
    pending = query(path, f"select count(*) from {t}.pending_rows")[0][0]
    expect(pending == 0, f"{pending} pending rows left")
    submitted = query(path, f"select count(*) from {t}.import_jobs where status = 'submitted'")
    expect(submitted[0][0] == 0, f"{submitted[0][0]} import jobs left submitted")
    running = query(path, f"select count(*) from {t}.deliveries where status <> 'completed'")
    expect(running[0][0] == 0, f"{running[0][0]} deliveries not completed")
    for c in campaigns:
        for name, members in c.expected().items():
            rows = query(path, f"select list_id, identifier from {t}.list_members "
                               "where list_name = ?", [name])
            expect({r[0] for r in rows} <= {list_ids[name]},
                   f"list_members of {name!r} under ids {sorted({r[0] for r in rows})}, "
                   f"Klaviyo's is {list_ids[name]}")
            idents = Counter(r[1] for r in rows)
            expect(all(k == 1 for k in idents.values()), f"list_members of {name!r} repeat "
                   "an identifier")
            expect(set(idents) == set(members), f"list_members of {name!r}: "
                   f"{len(set(idents) - set(members))} extra, "
                   f"{len(set(members) - set(idents))} missing")
        delivery = deliveries.get(c.campaign_id)
        if delivery is None:
            continue
        rows = query(path, f"select amperity_id, is_control, count(*) from "
                           f"{t}.campaign_recipients where delivery_id = ? group by all",
                     [delivery])
        twice = [r[0] for r in rows if r[2] > 1]
        expect(not twice, f"recipients recorded twice: {twice[:5]}")
        got = {(r[0], bool(r[1])) for r in rows}
        want = c.recipients()
        expect(got == want, f"recipients of {c.campaign_id}: {len(got - want)} extra, "
               f"{len(want - got)} missing")


def converged(emu: Emulator, path: str, campaigns: list[Campaign]) -> None:
    """Lists, state and the latest delivery's history exactly the audience."""
    ids = check_lists(emu, campaigns)
    deliveries = dict(query(path, f"""select campaign_id, arg_max(delivery_id, completed_at)
        from "{STATE}".deliveries where status = 'completed' and not is_sample
        group by campaign_id"""))
    check_state(path, campaigns, ids, deliveries)


@dataclass
class Scenario:
    """A base state, built by ``setup`` (real pushes), and the target audience to push."""

    name: str
    campaigns: Callable[[], list[Campaign]]  # the base audience (fresh objects each call)
    target: Callable[[list[Campaign]], None] | None = None  # changes made for the run
    setup_push: bool = False  # push the base audience first (state and lists exist)
    before: Callable[[Emulator, str, list[Campaign]], None] | None = None  # after setup
    faults: dict[str, Any] | None = None  # emulator faults during cases (not during setup)
    # the audience the analyst rebuilds between the kill and the rerun (given a copy of the
    # target audience): the rerun must converge to it, not to the target
    after_kill: Callable[[list[Campaign]], list[Campaign]] | None = None


@dataclass
class Figures:
    scenario: str
    points: int = 0  # distinct kill points in the trace
    cases: int = 0
    killed: int = 0
    not_reached: int = 0
    random_kills: int = 0
    requests: int = 0  # requests of the trace run
    rows_sent: int = 0  # rows the uninterrupted push imports
    resent_max: int = 0  # most rows re-sent by one case
    unrecorded_jobs: int = 0  # jobs Klaviyo got that state never recorded, over all cases
    seconds: float = 0.0
    by_name: Counter[str] = field(default_factory=Counter)


FIGURES: list[Figures] = []
NOTES: list[str] = []  # one line each from the fault and lost-answer tests


class Bench:
    """One scenario on one emulator: base built once, then restored before each case."""

    def __init__(self, scenario: Scenario, emu: Emulator, workdir: Path) -> None:
        self.scenario = scenario
        self.emu = emu
        self.workdir = workdir
        self.base_path = str(workdir / "base.duckdb")
        self.campaigns = scenario.campaigns()
        self.ids = [c.campaign_id for c in self.campaigns]
        write_warehouse(self.base_path, self.campaigns)
        if scenario.setup_push:
            r = push_in_process(emu, self.base_path, self.ids)
            assert r.exit_code == 0, r.error
        if scenario.target:
            scenario.target(self.campaigns)
            write_warehouse(self.base_path, self.campaigns)
        if scenario.before:
            scenario.before(emu, self.base_path, self.campaigns)
        self.after = (scenario.after_kill(copy.deepcopy(self.campaigns))
                      if scenario.after_kill else None)
        self.snap = snapshot(emu)
        self.base_jobs = set(jobs(emu))
        self.base_bytes = Path(self.base_path).read_bytes()
        self.figures = Figures(scenario.name)
        FIGURES.append(self.figures)
        self.expected_rows = 0
        self.trace: list[str] = []
        self.trace_seconds = 0.0

    def fresh(self, tag: str, faults: bool = True) -> str:
        restore(self.emu, self.snap)
        path = self.workdir / f"{tag}.duckdb"
        for suffix in ("", ".wal", ".push.lock"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.write_bytes(self.base_bytes)
        if self.scenario.faults and faults:
            self.emu.configure(**self.scenario.faults)
        return str(path)

    def quiet(self) -> None:
        self.emu.configure(faults=0.0)

    def trace_run(self) -> list[str]:
        """The uninterrupted push (without faults): its crash points in order, and what it
        sends."""
        path = self.fresh("trace", faults=False)
        trace = self.workdir / "trace.txt"
        trace.unlink(missing_ok=True)
        run = run_loader(self.emu, path, self.ids, trace=str(trace))
        self.quiet()
        assert run.returncode == 0, run.stderr[-3000:]
        self.trace_seconds = run.seconds
        self.trace = trace.read_text().split()
        self.expected_rows = sum(n for j, n in jobs(self.emu).items() if j not in self.base_jobs)
        self.check(path)
        counts: Counter[str] = Counter()
        points = []
        for name in self.trace:
            counts[name] += 1
            points.append(f"{name}:{counts[name]}")
        self.figures.points = len(points)
        self.figures.requests = counts["http.request"]
        self.figures.rows_sent = self.expected_rows
        return points

    def check(self, path: str, changed: list[Campaign] | None = None) -> int:
        """Every invariant; the rows re-sent beyond the uninterrupted push. ``changed``: the
        audience was rebuilt as this between the kill and the rerun (the rerun sends what
        the change takes, so re-sent rows are not bounded by the unrecorded jobs)."""
        converged(self.emu, path, changed or self.campaigns)
        if changed is not None:
            return 0
        new = {j: n for j, n in jobs(self.emu).items() if j not in self.base_jobs}
        recorded = {r[0] for r in query(path, f'select job_id from "{STATE}".import_jobs')}
        unrecorded = {j: n for j, n in new.items() if j not in recorded}
        resent = sum(new.values()) - self.expected_rows
        expect(resent <= sum(unrecorded.values()),
               f"{resent} rows re-sent, but only {sum(unrecorded.values())} were in jobs state "
               "never recorded: a recorded job's rows were sent again")
        if not self.scenario.faults:
            expect(len(unrecorded) <= 1, f"{len(unrecorded)} jobs unknown to state after one "
                   "kill (at most the one in flight)")
        self.figures.unrecorded_jobs += len(unrecorded)
        self.figures.resent_max = max(self.figures.resent_max, resent)
        return resent

    def case(self, point: str | None = None, kill_after_s: float | None = None) -> bool:
        """Kill at ``point`` (or after ``kill_after_s``), rerun, check. False: not killed."""
        started = time.monotonic()
        path = self.fresh("case")
        run = run_loader(self.emu, path, self.ids, crash_at=point, kill_after_s=kill_after_s)
        self.figures.cases += 1
        if not run.killed:
            self.quiet()
            assert run.returncode == 0, f"{point}: exit {run.returncode}: {run.stderr[-3000:]}"
            self.figures.not_reached += 1
            self.check(path)
            self.figures.seconds += time.monotonic() - started
            return False
        if point:
            self.figures.killed += 1
            self.figures.by_name[point.rpartition(":")[0]] += 1
        else:
            self.figures.random_kills += 1
        holder = push_holding(path)
        assert holder is None, f"{point}: the killed push still holds the lock: {holder}"
        if self.after is not None:  # the analyst fixes the audience and rebuilds
            write_warehouse(path, self.after)
        rerun = push_in_process(self.emu, path, self.ids)
        self.quiet()
        what = point or f"random kill after {kill_after_s:.2f} s"
        assert rerun.error is None and rerun.exit_code == 0, \
            f"{what}: the rerun failed: {rerun.error}"
        try:
            self.check(path, self.after)
        except NotConverged as exc:
            raise AssertionError(f"{self.scenario.name}, killed at {what}: {exc}") from None
        self.figures.seconds += time.monotonic() - started
        return True


def choose(points: list[str], must: list[str], extra: int, seed: int) -> list[str]:
    """The reduced set: the ``must`` points (the windows that matter most; each must be in the
    trace, so a scenario that stops reaching one fails loudly), plus ``extra`` others at
    random (seeded), in trace order. ``"<name><<point>"`` in ``must`` is the last ``<name>``
    point before ``<point>`` (e.g. ``"http.request<removal.sent:1"``: the DELETE leaving)."""
    wanted = []
    for m in must:
        name, before, anchor = m.partition("<")
        if before:
            assert anchor in points, f"the trace no longer passes {anchor}"
            prior = [p for p in points[:points.index(anchor)] if p.rpartition(":")[0] == name]
            assert prior, f"no {name} before {anchor}"
            m = prior[-1]
        assert m in points, f"the trace no longer passes {m}"
        wanted.append(m)
    rest = [p for p in points if p not in wanted]
    picked = set(wanted) | set(random.Random(seed).sample(rest, min(extra, len(rest))))
    return [p for p in points if p in picked]


def report(path: Path | None = None) -> str:
    lines = ["kill suite (loader push as a subprocess, SIGKILL, rerun, exact convergence):"]
    tot = Counter()
    for f in FIGURES:
        lines.append(
            f"  {f.scenario:<16} {f.points:>4} points in the trace ({f.requests} requests, "
            f"{f.rows_sent} rows), {f.cases} cases: {f.killed} killed at a point, "
            f"{f.random_kills} at a random instant, {f.not_reached} not reached; "
            f"re-sent at most {f.resent_max} rows, {f.unrecorded_jobs} jobs unknown to state; "
            f"{f.seconds:.0f} s")
        tot.update({"points": f.points, "cases": f.cases, "killed": f.killed,
                    "random": f.random_kills, "not_reached": f.not_reached})
    lines.append(f"  total: {tot['killed'] + tot['random']} kills ({tot['killed']} at distinct "
                 f"points, {tot['random']} at random instants) in {tot['cases']} cases, "
                 f"{tot['not_reached']} not reached; every case converged")
    text = "\n".join(lines)
    if path is not None:
        path.write_text(json.dumps([{**f.__dict__, "by_name": dict(f.by_name)}
                                    for f in FIGURES], indent=2) + "\n")
    return text

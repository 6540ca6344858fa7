"""Break the recovery code on purpose and check that the reliability tests go red.

    .venv/bin/python -m tests.reliability.mutants [NAME…]      (make reliability runs it)

Each mutant is one textual change to the loader (it must match exactly once, so a mutant that
no longer applies fails loudly instead of passing). For each, the repository is copied to a
temporary folder, the change applied there, and the reduced reliability suite
(`tests/reliability`, stopping at the first failure) run in the copy; a mutant that leaves the
suite green is reported as *survived* and the run exits 1. Mutants that are expected to survive
(the design does not need what they remove) are listed with the reason and reported, not
counted as failures. docs/reliability.md lists them and what caught each.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = Path(os.environ.get("KLAVIYO_OPENAPI_DIR") or ROOT.parent / "shared" / "klaviyo-openapi")


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str
    old: str
    new: str
    what: str
    survives: str = ""  # why the design tolerates it (expected to stay green)
    tests: tuple[str, ...] = ()  # run before tests/reliability (e.g. the client's unit tests)


MUTANTS = [
    Mutant("control-harmless-statement", "loader/sync/apply.py",
           "            if bad:\n",
           "            self.con.execute(f\"delete from {self.t('pending_rows')} as p where "
           "account_id = ? and list_id = ? and op = 'upsert' and {in_ranges} and p.seq < 0\", "
           "a)\n            if bad:\n",
           "control: a statement that deletes nothing, inside the confirm step",
           survives="it changes nothing; it shows the runner does not call every change red"),
    Mutant("no-recovery", "loader/sync/engine.py",
           "recovered = applier.wait_and_confirm(applier.submitted_jobs())",
           "recovered = {}",
           "a rerun does not confirm the jobs a killed push submitted"),
    Mutant("recovery-finds-no-job", "loader/sync/apply.py",
           "and j.status = 'submitted' order by j.submitted_at",
           "and j.status = 'never' order by j.submitted_at",
           "submitted_jobs() finds nothing, so recorded jobs are never confirmed after a kill"),
    Mutant("job-confirmed-at-submit", "loader/sync/apply.py",
           "        crashpoint(\"job.recorded\")\n",
           "        crashpoint(\"job.recorded\")\n        self.con.execute(f\"update "
           "{self.t('import_jobs')} set status = 'confirmed' where job_id = ?\", [j.job_id])\n",
           "a job is marked confirmed when it is submitted, before Klaviyo completes it and "
           "before its rows reach list_members"),
    Mutant("pending-rows-deleted-early", "loader/sync/apply.py",
           "            stats.added, stats.updated = (int(counts[0]), int(counts[1])) if counts "
           "else (0, 0)\n",
           "            stats.added, stats.updated = (int(counts[0]), int(counts[1])) if counts "
           "else (0, 0)\n"
           "            self.con.execute(f\"delete from {self.t('pending_rows')} as p where "
           "account_id = ? and list_id = ? and op = 'upsert' and {in_ranges}\", a)\n"
           "            self.con.execute(f\"update {self.t('import_jobs')} set status = "
           "'confirmed' where account_id = ? and list_contains(?, job_id)\", "
           "[self.account_id, [j.job_id for j, _ in finished]])\n"
           "            self.con.execute(\"commit\")\n"
           "            crashpoint(\"jobs.confirming\")\n"
           "            self.con.execute(\"begin\")\n",
           "a job's pending rows are deleted and the job marked confirmed in a transaction of "
           "their own, before its rows move into list_members"),
    Mutant("confirm-changes-as-adds", "loader/sync/apply.py",
           "        changes = bool(row and row[0])\n",
           "        changes = False\n",
           "a confirmation takes every row for an add (no join with list_members): a change "
           "confirmed leaves its member's row as it was and its pending row is dropped"),
    Mutant("forget-before-delete", "loader/sync/apply.py",
           "        for i in range(0, len(rows), 1000):\n"
           "            chunk = rows[i:i + 1000]\n",
           "        self._forget(list_id, [r[0] for r in rows])\n"
           "        for i in range(0, len(rows), 1000):\n"
           "            chunk = rows[i:i + 1000]\n",
           "members leave state before their DELETE is sent: a kill in between leaves them in "
           "the list for good"),
    Mutant("forget-never", "loader/sync/apply.py",
           "            self._forget(list_id, gone)\n",
           "            pass\n",
           "removed members never leave state (list_members, their pending rows): state keeps "
           "members Klaviyo's list no longer holds"),
    Mutant("scan-forget-first", "loader/sync/apply.py",
           "            if self._scan_and_remove(list_id, identifier_field, scan_max):\n"
           "                self._forget(list_id, unresolved)",
           "            self._forget(list_id, unresolved)\n"
           "            if self._scan_and_remove(list_id, identifier_field, scan_max):\n"
           "                pass",
           "unresolved members leave state before the list is read and they are removed"),
    Mutant("leftovers-trusted", "loader/sync/plan.py",
           "        if self.uncertain_list != list_id:\n            return known\n",
           "        if True:\n            return known\n",
           "a rerun plans a killed run's leftover keys from list_members as if Klaviyo held "
           "exactly that: after the audience changes back, an accepted but unrecorded job's "
           "values, a newcomer it added, a DELETE it made stay in Klaviyo"),
    Mutant("history-two-transactions", "loader/store/__init__.py",
           "            # duplicates and withheld identifiers: recorded once per delivery\n",
           "            self.con.execute(\"commit\")\n            self.con.execute(\"begin\")\n"
           "            # duplicates and withheld identifiers: recorded once per delivery\n",
           "recipients are committed before the delivery is marked completed: a kill in "
           "between records them twice"),
    Mutant("create-list-blind-retry", "loader/klaviyo/client.py",
           "            on_unknown=created_meanwhile,\n",
           "",
           "creating a list is sent again without looking first after a lost answer"),
    Mutant("filter-json-dumps", "loader/klaviyo/client.py",
           '"filter": f"equals(name,{filter_string(name)})",',
           '"filter": f"equals(name,{json.dumps(name)})",',
           "list names quoted with json.dumps again (\\u escapes): a list named Été is no "
           "longer found by name (found by the id state knows instead, with a note)"),
    Mutant("no-check-by-id", "loader/klaviyo/client.py",
           "        for list_id in known_ids:\n",
           "        for list_id in ():\n",
           "a list state knows is not checked by id before one is created",
           tests=("tests/klaviyo/test_client.py",)),
    Mutant("lock-inherited", "loader/store/lock.py",
           "        fh = open(self.path, \"a+\")  # noqa: SIM115 - held for the push's lifetime",
           "        fh = open(self.path, \"a+\")  # noqa: SIM115 - held for the push's lifetime\n"
           "        import subprocess as _sp; _sp.Popen(['sleep', '8'], pass_fds=[fh.fileno()])",
           "a child process inherits the lock file: a killed push leaves its lock held"),
]


def copy_repo(dest: Path) -> None:
    ignore = shutil.ignore_patterns(".venv", ".git", "target", "logs", "dbt_packages", ".demo",
                                    "*.duckdb", "*.duckdb.*", "__pycache__", ".pytest_cache",
                                    "bench", "*.egg-info")
    shutil.copytree(ROOT, dest, ignore=ignore)


def _pytest(copy: Path, args: list[str]) -> tuple[bool, str]:
    """(failed, what the first failure says) of one pytest run in the mutated copy."""
    env = {**os.environ, "KLAVIYO_OPENAPI_DIR": str(OPENAPI), "LOADER_RELIABILITY": "",
           "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", *args, "-x", "-q", "-p",
                           "no:cacheprovider", "--timeout=900"],
                          cwd=copy, env=env, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    found = re.findall(r"^E\s+(?:AssertionError: )?(.*)$", out, re.M)
    failed = re.findall(r"^FAILED (\S+)", out, re.M)
    summary = (failed[0] if failed else "") + (": " + found[0][:240] if found else "")
    return proc.returncode != 0, summary


def run(mutant: Mutant, workdir: Path) -> tuple[str | None, str, float]:
    """(the stage that caught it: "kill suite" / "other reliability tests" / None, what the
    first failure says, seconds). The kill suite runs alone first, so what it catches is
    credited to it."""
    copy = workdir / mutant.name
    copy_repo(copy)
    target = copy / mutant.file
    text = target.read_text()
    count = text.count(mutant.old)
    if count != 1:
        raise SystemExit(f"mutant {mutant.name}: its text occurs {count} times in "
                         f"{mutant.file}; update tests/reliability/mutants.py")
    mutated = text.replace(mutant.old, mutant.new)
    try:  # a mutant that does not compile would be "caught" by every test, proving nothing
        compile(mutated, str(target), "exec")
    except SyntaxError as exc:
        raise SystemExit(f"mutant {mutant.name}: {mutant.file} no longer compiles once "
                         f"mutated ({exc}); update tests/reliability/mutants.py") from exc
    target.write_text(mutated)
    started = time.monotonic()
    stages = [("kill suite", [*mutant.tests, "tests/reliability/test_kill.py"]),
              ("other reliability tests", ["tests/reliability",
                                           "--ignore=tests/reliability/test_kill.py"])]
    caught, summary = None, ""
    for stage, args in stages:
        failed, summary = _pytest(copy, args)
        if failed:
            caught = stage
            break
    shutil.rmtree(copy, ignore_errors=True)
    return caught, summary, time.monotonic() - started


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTANTS if not argv or m.name in argv]
    survived = []
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        for m in chosen:
            caught, summary, seconds = run(m, Path(tmp))
            verdict = "caught" if caught else "SURVIVED"
            print(f"{m.name:<38} {verdict:<8} {seconds:5.0f} s  {m.what}", flush=True)
            if caught:
                print(f"{'':<38} by the {caught}: {summary}", flush=True)
            elif m.survives:
                print(f"{'':<38} (expected: {m.survives})", flush=True)
            if bool(caught) == bool(m.survives):
                survived.append(m.name)
    if survived:
        print(f"unexpected outcome for: {', '.join(survived)}")
        return 1
    print(f"{len(chosen)} mutants: every one that breaks recovery turned the suite red")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

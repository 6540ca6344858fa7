"""The push lock and the warehouse file: a SIGKILLed push leaves nothing that blocks the next
one; a live push is named (run, pid, since) by whoever has to wait for it; `dbt build` during
a real push waits with one line, then builds (or, past its wait, says so in one line)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from klaviyo_emulator import Emulator
from loader.errors import LockedError, WarehouseError
from loader.state import PushLock, connect, push_holding
from tests.fixtures.warehouse import DBT, REPO, BuiltWarehouse, warehouse_env
from tests.reliability.harness import (
    ROOT,
    Campaign,
    converged,
    people,
    push_in_process,
    write_warehouse,
)


def spring() -> list[Campaign]:
    return [Campaign("spring_sale", {"a": "Spring Sale A", "b": "Spring Sale B"},
                     people(80, 41))]


def start_push(emu: Emulator, path: str, campaigns: list[str], **env: str
               ) -> subprocess.Popen[str]:
    full = {**os.environ, "KLAVIYO_BASE_URL": emu.base_url, "KLAVIYO_API_KEY": emu.api_key,
            "DUCKDB_PATH": path, **env}
    return subprocess.Popen([sys.executable, "-m", "loader", "push", *campaigns, "--quiet"],
                            cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for_lock(path: str, proc: subprocess.Popen[str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = push_holding(path)
        if holder:
            return holder
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the push never took the lock")


def test_a_push_waiting_for_a_killed_push_takes_over_and_converges(
        klaviyo_emulator: Emulator, tmp_path: Path) -> None:
    """Push A holds the lock (its jobs take a while); push B waits for it; A is SIGKILLed:
    B gets the lock at once (the OS dropped it), resumes A's submitted jobs, converges."""
    campaigns = spring()
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    klaviyo_emulator.configure(job_delay=2.0)
    a = start_push(klaviyo_emulator, path, ["spring_sale"])
    holder = wait_for_lock(path, a)
    assert holder["pid"] == str(a.pid) and holder["run_id"] and holder["started_at"]
    b = start_push(klaviyo_emulator, path, ["spring_sale"])
    time.sleep(1.0)  # B is waiting on the lock now
    assert b.poll() is None
    os.kill(a.pid, signal.SIGKILL)
    a.wait()
    out, err = b.communicate(timeout=120)
    assert b.returncode == 0, err
    converged(klaviyo_emulator, path, campaigns)


def test_a_live_push_is_named_by_the_one_that_waits(klaviyo_emulator: Emulator,
                                                    tmp_path: Path) -> None:
    campaigns = spring()
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    klaviyo_emulator.configure(job_delay=4.0)
    a = start_push(klaviyo_emulator, path, ["spring_sale"])
    holder = wait_for_lock(path, a)
    try:
        with pytest.raises(LockedError) as exc, PushLock.for_database(path, "second", 0.5):
            pass
        assert exc.value.message == (
            f"Another `loader push` holds the lock on this warehouse (run {holder['run_id']}, "
            f"pid {a.pid}, since {holder['started_at']}); waited 0 s.")
        # a reader (loader status, export) waiting on the DuckDB file names the push too
        with pytest.raises(WarehouseError) as busy:
            connect(path, read_only=True, wait_s=1.0)
        assert busy.value.message == (
            f"The warehouse {path} is in use by a `loader push` (run {holder['run_id']}, pid "
            f"{a.pid}, since {holder['started_at']}); waited 1 s.")
    finally:
        a.communicate(timeout=120)
    assert a.returncode == 0
    converged(klaviyo_emulator, path, campaigns)


def test_connect_waits_while_another_process_writes(tmp_path: Path) -> None:
    path = str(tmp_path / "w.duckdb")
    duckdb.connect(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time\n"
         f"con = duckdb.connect({path!r}); print('open', flush=True); time.sleep(2.0)"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
    waited: list[float] = []

    def sleep(s: float) -> None:
        waited.append(s)
        time.sleep(s)

    con = connect(path, wait_s=30.0, sleep=sleep)
    con.close()
    holder.wait()
    assert sum(waited) >= 1.0  # it waited for the other process, then opened the file


def _copy(built: BuiltWarehouse, root: Path) -> BuiltWarehouse:
    root.mkdir()
    path = root / "warehouse.duckdb"
    shutil.copyfile(built.duckdb_path, path)
    return BuiltWarehouse(root=root, duckdb_path=path, env=warehouse_env(path),
                          customers=built.customers, seed=built.seed, vars=dict(built.vars))


def _first_campaign(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return str(con.execute("select campaign_id from main.klaviyo_campaigns "
                               "order by campaign_id limit 1").fetchone()[0])
    finally:
        con.close()


def _dbt(wh: BuiltWarehouse, *args: str) -> subprocess.Popen[str]:
    """`dbt <args>` on this warehouse, its output streamed (stderr merged into stdout)."""
    return subprocess.Popen(
        [str(DBT), *args, "--profiles-dir", str(REPO), "--project-dir", str(REPO),
         "--target-path", str(wh.root / "target"), "--log-path", str(wh.root / "logs")],
        cwd=REPO, env=wh.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _release_jobs(emu: Emulator) -> None:
    emu.jobs.release()


def test_dbt_build_during_a_push_waits_for_it_then_builds(built_warehouse: BuiltWarehouse,
                                                          klaviyo_emulator: Emulator,
                                                          tmp_path: Path) -> None:
    """A real `dbt build` started while a real `loader push` holds the warehouse (its import
    jobs held by Klaviyo): dbt says once that it waits for the push (run, pid, since); the
    jobs are let go, the push finishes, then dbt builds; no DuckDB lock error."""
    wh = _copy(built_warehouse, tmp_path / "wh")
    path = str(wh.duckdb_path)
    campaign = _first_campaign(wh.duckdb_path)
    klaviyo_emulator.configure(job_delay=600.0)
    push = start_push(klaviyo_emulator, path, [campaign])
    holder = wait_for_lock(path, push)
    dbt = _dbt(wh, "build", "--select", "klaviyo_campaigns")
    assert dbt.stdout is not None
    lines: list[str] = []
    for line in dbt.stdout:
        lines.append(line)
        if "Waiting for `loader push`" in line:
            break
    assert push.poll() is None, "the push ended before dbt waited for it"
    _release_jobs(klaviyo_emulator)
    out, err = push.communicate(timeout=300)
    push_done = time.monotonic()
    rest = dbt.communicate(timeout=300)[0]
    dbt_done = time.monotonic()
    output = "".join(lines) + rest
    assert push.returncode in (0, 1), err
    assert dbt.returncode == 0, output
    assert (f"Waiting for `loader push` (run {holder['run_id']}, pid {push.pid}, since "
            f"{holder['started_at']}) to finish with {path}") in output
    assert output.count("Waiting for `loader push`") == 1
    assert "Could not set lock" not in output and "IO Error" not in output
    assert "Completed successfully" in output and dbt_done >= push_done


def test_dbt_build_past_its_wait_is_one_clear_line(built_warehouse: BuiltWarehouse,
                                                   tmp_path: Path) -> None:
    wh = _copy(built_warehouse, tmp_path / "wh")
    path = str(wh.duckdb_path)
    with PushLock.for_database(path, "run-holding", 1.0):
        wh.env["LOADER_DBT_WAIT_SECONDS"] = "1"
        run = wh.dbt("build", "--select", "klaviyo_campaigns", check=False)
    assert not run.ok
    assert (f"A `loader push` is using the warehouse {path} (run run-holding, pid "
            f"{os.getpid()}, since ") in run.output
    assert "waited 1 s. Run dbt again when the push has finished." in run.output
    assert "Could not set lock" not in run.output


def test_a_push_started_during_dbt_build_waits_for_it(built_warehouse: BuiltWarehouse,
                                                      klaviyo_emulator: Emulator,
                                                      tmp_path: Path) -> None:
    """dbt is building (its connection open, held still with SIGSTOP); a push starts, takes
    the push lock and waits for the warehouse; dbt goes on and finishes, then the push runs."""
    wh = _copy(built_warehouse, tmp_path / "wh")
    path = str(wh.duckdb_path)
    campaign = _first_campaign(wh.duckdb_path)
    dbt = _dbt(wh, "build", "--select", "klaviyo_campaigns")
    assert dbt.stdout is not None
    lines: list[str] = []
    for line in dbt.stdout:
        lines.append(line)
        if " START " in line:  # connected, building a model
            break
    os.kill(dbt.pid, signal.SIGSTOP)
    try:
        push = start_push(klaviyo_emulator, path, [campaign])
        wait_for_lock(path, push)
        time.sleep(1.0)  # the push is now waiting on the DuckDB file
        assert push.poll() is None
    finally:
        os.kill(dbt.pid, signal.SIGCONT)
    output = "".join(lines) + dbt.communicate(timeout=300)[0]
    out, err = push.communicate(timeout=300)
    assert dbt.returncode == 0, output
    assert push.returncode in (0, 1), err
    assert push_holding(path) is None
    again = push_in_process(klaviyo_emulator, path, [campaign])
    assert again.exit_code in (0, 1) and sum(r.added + r.updated for r in again.lists) == 0

"""Loader paths end to end against the emulator (issue 14, item 5): several import jobs polled
at once, a job lost (404) or cancelled, import errors matched to their rows, a list scan over
several pages, an audience relation missing columns, `--json` on an unexpected exception."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from klaviyo_emulator import Emulator, request_listeners
from tests.reliability.harness import (
    ROOT,
    STATE,
    Campaign,
    Person,
    change,
    check_lists,
    converged,
    people,
    push_in_process,
    query,
    run_loader,
    write_warehouse,
)


def test_several_jobs_are_polled_in_one_request_and_confirmed(klaviyo_emulator: Emulator,
                                                             tmp_path: Path) -> None:
    """Three 5 MB jobs outstanding at once: one GET of the recent jobs a round instead of one
    GET a job; each job confirmed once, all rows in the list."""
    campaigns = [Campaign("big_sale", {"a": "Big Sale"}, people(330, 4, ("a",), "g",
                                                                 big=60_000))]
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    klaviyo_emulator.configure(job_delay=0.4)  # all three still queued at the first poll
    result = push_in_process(klaviyo_emulator, path, ["big_sale"])
    assert result.exit_code == 0, result.error
    requests_by_op = klaviyo_emulator.stats()["requests"]
    assert requests_by_op["bulk_import_profiles"] == 3
    assert requests_by_op["get_bulk_import_profiles_jobs"] >= 1
    polled_one = requests_by_op.get("get_bulk_import_profiles_job", 0)
    assert polled_one < requests_by_op["get_bulk_import_profiles_jobs"] + 3
    rows = query(path, f'select status, count(*) from "{STATE}".import_jobs group by 1')
    assert rows == [("confirmed", 3)]
    assert sum(r.import_jobs for r in result.lists) == 3
    assert sum(r.added for r in result.lists) == len(campaigns[0].expected()["Big Sale"])
    converged(klaviyo_emulator, path, campaigns)


def _drop_jobs(emu: Emulator, how: str, times: int) -> Any:
    """A listener: the first ``times`` import jobs vanish (404) or are cancelled before they
    run."""
    dropped: list[str] = []

    def listener(info: dict[str, Any]) -> None:
        if info["op_id"] != "bulk_import_profiles" or info["status"] != 202:
            return
        if len(dropped) >= times:
            return
        job_id = info["response"]["data"]["id"]
        dropped.append(job_id)
        emu.jobs.drop(lambda job: job.id == job_id)
        with emu.store.lock:
            if how == "lost":
                del emu.store.jobs[job_id]
            else:
                emu.store.jobs[job_id].status = "cancelled"

    return listener


@pytest.mark.parametrize("how", ["lost", "cancelled"])
def test_a_job_lost_or_cancelled_is_sent_again(how: str, klaviyo_emulator: Emulator,
                                               tmp_path: Path) -> None:
    campaigns = [Campaign("spring_sale", {"a": "Spring Sale A", "b": "Spring Sale B"},
                          people(80, 31))]
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    klaviyo_emulator.configure(job_delay=0.3)
    listener = _drop_jobs(klaviyo_emulator, how, 1)
    request_listeners.append(listener)
    try:
        result = push_in_process(klaviyo_emulator, path, ["spring_sale"])
    finally:
        request_listeners.remove(listener)
    assert result.exit_code == 0, result.error
    assert klaviyo_emulator.stats()["requests"]["bulk_import_profiles"] == 3
    assert query(path, f'select status, count(*) from "{STATE}".import_jobs group by 1 '
                       "order by 1") == [("abandoned", 1), ("confirmed", 2)]
    converged(klaviyo_emulator, path, campaigns)


def test_a_job_lost_twice_fails_the_push_and_the_next_push_sends_its_rows(
        klaviyo_emulator: Emulator, tmp_path: Path) -> None:
    campaigns = [Campaign("spring_sale", {"a": "Spring Sale A"}, people(60, 32, ("a",)))]
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    klaviyo_emulator.configure(job_delay=0.3)
    listener = _drop_jobs(klaviyo_emulator, "lost", 2)
    request_listeners.append(listener)
    try:
        result = push_in_process(klaviyo_emulator, path, ["spring_sale"])
    finally:
        request_listeners.remove(listener)
    assert result.exit_code == 2
    assert result.error and "lost or cancelled the import job(s)" in result.error
    assert "'Spring Sale A', sent twice" in result.error
    assert klaviyo_emulator.lists()["Spring Sale A"]["emails"] == set()
    assert query(path, f'select status from "{STATE}".deliveries') == [("running",)]
    assert query(path, f'select count(*) from "{STATE}".campaign_recipients') == [(0,)]
    again = push_in_process(klaviyo_emulator, path, ["spring_sale"])
    assert again.exit_code == 0, again.error
    converged(klaviyo_emulator, path, campaigns)


def test_import_errors_are_matched_to_their_rows(klaviyo_emulator: Emulator,
                                                 tmp_path: Path) -> None:
    """Klaviyo refuses some profiles of several jobs (its import errors point at the index in
    each job's body): exactly those customers are rejected, with Klaviyo's reason, and
    every other row is a member; the next push does not send the refused rows again."""
    crowd = people(330, 33, ("a",), "g", big=60_000)
    bad_ids = set()
    sendable = [p for p in crowd if p.group != "control" and not p.shrink_reason]
    for p in sendable[5::60]:  # spread over the three jobs
        p.email = p.email.replace("@", "@@")  # the emulator (like Klaviyo) refuses it
        bad_ids.add(p.amperity_id)
    campaigns = [Campaign("big_sale", {"a": "Big Sale"}, crowd)]
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    result = push_in_process(klaviyo_emulator, path, ["big_sale"])
    assert result.exit_code == 1 and result.error is None
    assert klaviyo_emulator.stats()["requests"]["bulk_import_profiles"] == 3
    rows = query(path, f'select amperity_id, identifier, reason from "{STATE}".rejected_rows')
    assert {r[0] for r in rows} == bad_ids and len(rows) == len(bad_ids)
    by_id = {p.amperity_id: p for p in crowd}
    for amperity_id, identifier, reason in rows:
        assert identifier == by_id[amperity_id].email
        assert "email" in reason.lower(), reason
    good = {p.email for p in sendable if p.amperity_id not in bad_ids}
    assert klaviyo_emulator.lists()["Big Sale"]["emails"] == good
    before = klaviyo_emulator.stats()["requests"]["bulk_import_profiles"]
    again = push_in_process(klaviyo_emulator, path, ["big_sale"])
    assert again.exit_code == 0 and again.error is None
    assert klaviyo_emulator.stats()["requests"]["bulk_import_profiles"] == before


def _rename(emu: Emulator, email: str) -> None:
    profile = emu.find_profile(email=email)
    assert profile is not None
    r = requests.patch(
        f"{emu.base_url}/api/profiles/{profile['id']}",
        json={"data": {"type": "profile", "id": profile["id"],
                       "attributes": {"email": "renamed." + email}}},
        headers={"Authorization": f"Klaviyo-API-Key {emu.api_key}", "revision": "2026-07-15",
                 "Content-Type": "application/vnd.api+json",
                 "Accept": "application/vnd.api+json"}, timeout=10)
    assert r.status_code == 200, r.text


def test_a_list_scan_reads_every_page(klaviyo_emulator: Emulator, tmp_path: Path) -> None:
    """Leavers whose every identifier changed in Klaviyo: the list is read page by page (100
    members a page) to find and remove them."""
    campaign = Campaign("spring_sale", {"a": "Spring Sale A"}, people(300, 34, ("a",)))
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, [campaign])
    assert push_in_process(klaviyo_emulator, path, ["spring_sale"]).exit_code == 0
    members = len(klaviyo_emulator.lists()["Spring Sale A"]["emails"])
    leavers = [p for p in campaign.people if p.group == "a" and p.email][:6]
    for p in leavers:
        campaign.people.remove(p)
        _rename(klaviyo_emulator, str(p.email))
    write_warehouse(path, [campaign])
    klaviyo_emulator._reset_stats()
    result = push_in_process(klaviyo_emulator, path, ["spring_sale"])
    assert result.exit_code == 0, result.error
    stats = klaviyo_emulator.stats()["requests"]
    assert members > 200 and stats["get_profiles_for_list"] == math.ceil(members / 100)
    assert sum(r.removed for r in result.lists) == 6
    view = klaviyo_emulator.lists()["Spring Sale A"]
    assert len(view["members"]) == members - 6
    check_lists(klaviyo_emulator, [campaign])


def test_an_audience_relation_missing_columns_names_them(klaviyo_emulator: Emulator,
                                                         tmp_path: Path) -> None:
    campaigns = [Campaign("spring_sale", {"a": "Spring Sale A"}, people(20, 35, ("a",)))]
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    con = duckdb.connect(path)
    con.execute("alter table main.aud_spring_sale drop column shrink_reason")
    con.execute("alter table main.aud_spring_sale drop column segment_name")
    con.close()
    run = run_loader(klaviyo_emulator, path, ["spring_sale"])
    assert run.returncode == 2
    what = ("campaign 'spring_sale': audience relation \"main\".\"aud_spring_sale\" lacks "
            "column(s) segment_name, shrink_reason.")
    assert run.stderr.strip().splitlines() == [
        f"failed: spring_sale: {what}", f"error: 1 of 1 campaign(s) failed: spring_sale: {what}",
        "hint: The audience contract is in docs/architecture.md §2; rebuild with `dbt build`."]
    assert klaviyo_emulator.stats()["lists"] == 0


def test_json_on_an_unexpected_exception(klaviyo_emulator: Emulator, tmp_path: Path) -> None:
    """State written by something else (sync_runs of another shape) makes DuckDB raise inside
    the push: --json still prints one document with exit 2, the traceback goes to stderr, and
    no secret appears anywhere."""
    campaigns = [Campaign("spring_sale", {"a": "Spring Sale A"}, people(20, 36, ("a",)))]
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    con = duckdb.connect(path)
    con.execute(f"create schema {STATE}")
    con.execute(f"create table {STATE}.sync_runs (run_id varchar)")
    con.close()
    env = {**os.environ, "KLAVIYO_BASE_URL": klaviyo_emulator.base_url,
           "KLAVIYO_API_KEY": klaviyo_emulator.api_key, "DUCKDB_PATH": path}
    proc = subprocess.run([sys.executable, "-m", "loader", "push", "spring_sale", "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert doc["status"] == "failed" and doc["exit_code"] == 2
    assert doc["error"].startswith("BinderException: ") and doc["hint"] is None
    assert "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: BinderException")
    assert klaviyo_emulator.api_key not in proc.stdout + proc.stderr


def test_the_changes_scenario_converges_without_kills(klaviyo_emulator: Emulator,
                                                      tmp_path: Path) -> None:
    """The kill suite's second-push scenario, pushed whole: the baseline every kill is held
    to (adds, changes and removals in one push, then nothing to send)."""
    campaigns = [Campaign("spring_sale", {"a": "Spring Sale A", "b": "Spring Sale B"},
                          people(160, 1))]
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    assert push_in_process(klaviyo_emulator, path, ["spring_sale"]).exit_code == 0
    change(campaigns[0], 5)
    campaigns[0].people.append(Person("late-1", "late@example.com", "Late", None, None, "b"))
    write_warehouse(path, campaigns)
    result = push_in_process(klaviyo_emulator, path, ["spring_sale"])
    assert result.exit_code == 0
    assert (sum(r.added for r in result.lists), sum(r.updated for r in result.lists),
            sum(r.removed for r in result.lists)) == (11, 16, 15)  # 4 cities cleared
    assert sum(r.cleared for r in result.lists) == 4  # PATCHed to null
    converged(klaviyo_emulator, path, campaigns)


@pytest.mark.parametrize("name", ['c12 "quoted" O\'Brien list', "Été à Zürich — VIP",
                                  'only "double" quotes'])
def test_a_list_name_with_quotes_or_accents_is_found_again(name: str, klaviyo_emulator: Emulator,
                                                            tmp_path: Path) -> None:
    """Issue 9, item 3: the next push finds the list by its name (one list, nothing re-sent)."""
    campaigns = [Campaign("spring_sale", {"a": name}, people(40, 37, ("a",)))]
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, campaigns)
    assert push_in_process(klaviyo_emulator, path, ["spring_sale"]).exit_code == 0
    again = push_in_process(klaviyo_emulator, path, ["spring_sale"])
    assert again.exit_code == 0 and not again.lists[0].created
    assert again.notes == []  # found by the name filter, not by the id state knows
    assert sum(r.added + r.updated for r in again.lists) == 0
    assert [v["name"] for v in klaviyo_emulator.lists_by_id().values()] == [name]
    assert klaviyo_emulator.stats()["requests"]["create_list"] == 1
    converged(klaviyo_emulator, path, campaigns)

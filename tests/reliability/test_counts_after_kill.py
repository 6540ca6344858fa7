"""A push killed after Klaviyo accepted a job, then rerun: every member counts once. The
rerun's figures of each list add up to its size (a recovered job's rows are added, not also
unchanged), and the resumed delivery counts each member as added (by it, in either run), none
as unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from klaviyo_emulator import Emulator
from tests.reliability.harness import Campaign, people, push_in_process, run_loader, write_warehouse


@pytest.mark.parametrize("point", ["job.recorded:1", "jobs.confirmed:1"],
                         ids=["job-recovered-by-rerun", "job-confirmed-before-kill"])
def test_rerun_of_a_killed_push_counts_each_member_once(tmp_path: Path, point: str) -> None:
    campaign = Campaign("rv_household", {"a": "RV household A", "b": "RV household B"},
                        people(160, seed=4))
    sizes = {name: len(emails) for name, emails in campaign.expected().items()}
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, [campaign])
    with Emulator(job_delay=0.0) as emu:
        killed = run_loader(emu, path, [campaign.campaign_id], crash_at=point)
        assert killed.killed, killed.stdout + killed.stderr
        rerun = push_in_process(emu, path, [campaign.campaign_id])
        assert rerun.error is None and rerun.exit_code == 0, rerun.error
        for r in rerun.lists:
            assert r.added + r.updated + r.unchanged == sizes[r.list_name], (
                point, r.list_name, r.added, r.updated, r.unchanged)
        totals = rerun.delivery_totals[campaign.campaign_id]
        assert (totals["added"], totals["updated"], totals["unchanged"]) == (
            sum(sizes.values()), 0, 0), totals
        assert {n: len(v["emails"]) for n, v in emu.lists().items()} == sizes

"""Polling outstanding import jobs (loader.sync.apply.JobProgress): the backoff is cut to when
the jobs' own progress says the last of them is done, never under POLL_MIN_S (the job
endpoints' published burst), and jobs that make no progress are polled no more often than
the backoff."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from loader.config import KlaviyoCredentials
from loader.klaviyo.client import KlaviyoClient
from loader.state import connect, ensure_schema
from loader.store import Store
from loader.sync.apply import (
    POLL_MAX_S,
    POLL_MIN_S,
    Applier,
    Job,
    JobProgress,
    ListStats,
    _left,
)
from tests.klaviyo.test_client import FakeTime


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_wait_is_cut_to_when_the_last_job_should_be_done() -> None:
    clock = Clock()
    progress = JobProgress(clock)
    progress.seen(60_000)  # six jobs' profiles to import
    assert progress.wait(0.1) == 0.1  # one poll tells no rate: the backoff
    clock.now += 0.5
    progress.seen(40_000)  # 20,000 profiles in 0.5 s: the rest in 1.0 s
    assert progress.wait(5.0) == pytest.approx(1.0)
    assert progress.wait(0.3) == 0.3  # never later than the backoff
    clock.now += 0.9
    progress.seen(1_000)  # nearly done: polled soon, but not under the published burst
    assert progress.wait(5.0) == POLL_MIN_S


def test_no_progress_or_no_counts_keep_the_backoff() -> None:
    clock = Clock()
    progress = JobProgress(clock)
    progress.seen(30_000)
    clock.now += 1.0
    progress.seen(30_000)  # still queued
    assert progress.wait(2.0) == 2.0
    clock.now += 1.0
    progress.seen(None)  # a job without counts: nothing is estimated
    assert progress.wait(2.0) == 2.0
    progress.seen(20_000)
    assert progress.wait(2.0) == 2.0  # a fresh start: one poll tells no rate


def test_profiles_left_are_summed_from_the_jobs_counts() -> None:
    assert _left({"total_count": 10_000, "completed_count": 2_500, "failed_count": 1}, 7) \
        == 7 + 7_499
    assert _left({"total_count": 10, "completed_count": None}, 0) == 10
    assert _left({"status": "queued"}, 5) is None


def test_the_last_job_of_a_burst_is_confirmed_when_it_completes(tmp_path: Path) -> None:
    """Two jobs a stand-in Klaviyo imports one after the other, 4 s each (fake time): the
    backoff alone would see the second complete at 11.3 s; its progress has it polled and
    confirmed within one POLL_MIN_S of 8.0 s."""
    t = FakeTime()
    start = t.now
    spans = {"job-a": (0.0, 4.0), "job-b": (4.0, 8.0)}

    def job(job_id: str) -> dict[str, Any]:
        a, b = spans[job_id]
        share = min(1.0, max(0.0, (t.now - start - a) / (b - a)))
        return {"type": "profile-bulk-import-job", "id": job_id, "attributes": {
            "status": "complete" if share >= 1.0 else "processing" if share else "queued",
            "created_at": "2026-01-01T00:00:00+00:00", "total_count": 10_000,
            "completed_count": int(10_000 * share), "failed_count": 0}}

    class Klaviyo(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            path = self.path.split("?")[0].rstrip("/")
            name = path.rsplit("/", 1)[-1]
            doc = {"data": [job(j) for j in reversed(spans)]} if name == \
                "profile-bulk-import-jobs" else {"data": job(name)}
            raw = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.api+json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Klaviyo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    con = connect(str(tmp_path / "w.duckdb"))
    try:
        ensure_schema(con, "klaviyo_loader")
        client = KlaviyoClient(f"http://127.0.0.1:{httpd.server_address[1]}",
                               KlaviyoCredentials(api_key="pk_x"), "2026-07-15",
                               clock=t.clock, sleep=t.sleep)
        confirmed: list[float] = []

        class Recording(Applier):
            def confirm(self, finished: list[tuple[Job, int]], identifier_field: str | None
                        ) -> ListStats:
                confirmed.append(t.now - start)
                return super().confirm(finished, identifier_field)

        applier = Recording(Store(con, "klaviyo_loader"), "acc", client, "run-1")
        jobs = [Job(j, "L1", "List", "c", 1 + i * 10_000, (i + 1) * 10_000, rows=10_000)
                for i, j in enumerate(spans)]
        applier.wait_and_confirm(jobs)
    finally:
        con.close()
        httpd.shutdown()
        httpd.server_close()
    assert len(confirmed) == 1  # both jobs of the list in one transaction
    assert 8.0 <= confirmed[0] <= 8.0 + POLL_MIN_S + 1e-6, confirmed
    assert max(t.slept) <= POLL_MAX_S

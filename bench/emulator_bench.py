"""Benchmark: can the emulator sustain Klaviyo's bulk-import ceiling (10 jobs/s × 10,000 profiles)?

Starts `loader emulator` in its own process (rate limits off, job delay 0), pre-builds the
job bodies (not timed), then measures with a simple `requests` client:

1. accept: jobs POSTed back to back by N client threads → jobs/s and MB/s accepted (202);
2. process: from the first POST until every profile is imported → profiles/s;
3. paced: jobs offered at the ceiling (10/s) for a few seconds → achieved rate and the backlog
   left when the offering stops;
4. steady: jobs offered at Klaviyo's steady limit for this endpoint (150/min = 2.5/s) → achieved
   rate, POST latency, the lag of the last import, and the share of one core the emulator used;
5. look-ups: `GET /api/profiles?filter=any(email,[100 emails])` among every stored profile.

    .venv/bin/python bench/emulator_bench.py [--jobs 20] [--profiles 10000] [--threads 2]
        [--paced-seconds 3] [--steady-seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import _emulator  # bench/_emulator.py (scripts run with bench/ on sys.path)
import requests

REPO = Path(__file__).resolve().parents[1]
STEADY = 2.5  # jobs/s: 150/min, the steady limit of bulk_import_profiles
HEADERS = {"Authorization": "Klaviyo-API-Key pk_bench", "revision": "2026-07-15",
           "Content-Type": "application/vnd.api+json", "Accept": "application/vnd.api+json"}


def job_body(job: int, profiles: int, list_id: str) -> bytes:
    data = []
    for i in range(profiles):
        n = job * profiles + i
        data.append({"type": "profile", "attributes": {
            "email": f"customer{n}@example.com", "phone_number": f"+1415{n:07d}",
            "external_id": f"AMP{n:09d}", "first_name": "Åsa", "last_name": "Lindqvist",
            "location": {"city": "Oslo", "region": "Oslo", "zip": "0150", "country": "NO"},
            "properties": {"campaign_id": "spring_vip", "treatment": "a", "ltv": 123.45,
                           "segment": "vip"}}})
    return json.dumps({"data": {"type": "profile-bulk-import-job",
                                "attributes": {"profiles": {"data": data}},
                                "relationships": {"lists": {"data": [
                                    {"type": "list", "id": list_id}]}}}}).encode()


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    return _emulator.start_emulator("--rate-limits", "off", stop_after=900)


def stats(base: str) -> dict[str, Any]:
    return requests.get(base + "/_emulator/stats", timeout=30).json()


def wait_imported(base: str, target: int, timeout: float = 600) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        s = stats(base)
        if s["profiles_imported"] + s["import_errors"] >= target:
            return time.perf_counter()
        time.sleep(0.05)
    raise SystemExit("jobs did not finish in time")


def post_jobs(base: str, bodies: list[bytes], threads: int, pace: float | None = None
              ) -> list[float]:
    """POST every body; returns per-request latencies. ``pace``: jobs a second offered."""
    latencies: list[float] = []
    lock = threading.Lock()
    next_i = [0]
    t0 = time.perf_counter()

    def worker() -> None:
        s = requests.Session()
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= len(bodies):
                return
            if pace:
                delay = t0 + i / pace - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            a = time.perf_counter()
            r = s.post(base + "/api/profile-bulk-import-jobs", data=bodies[i], headers=HEADERS,
                       timeout=120)
            if r.status_code != 202:
                raise SystemExit(f"job refused: {r.status_code} {r.text[:300]}")
            with lock:
                latencies.append(time.perf_counter() - a)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--profiles", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--paced-seconds", type=float, default=3.0)
    ap.add_argument("--steady-seconds", type=float, default=8.0)
    args = ap.parse_args()

    proc, base = start_emulator()
    try:
        s = requests.Session()
        r = s.post(base + "/api/lists", headers=HEADERS, data=json.dumps(
            {"data": {"type": "list", "attributes": {"name": "bench"}}}))
        list_id = r.json()["data"]["id"]
        paced_jobs = int(args.paced_seconds * 10)
        steady_jobs = int(args.steady_seconds * STEADY)
        t = time.perf_counter()
        bodies = [job_body(j, args.profiles, list_id)
                  for j in range(args.jobs + paced_jobs + steady_jobs)]
        mb = len(bodies[0]) / 1e6
        print(f"built {len(bodies)} bodies of {args.profiles} profiles ({mb:.2f} MB each) in "
              f"{time.perf_counter() - t:.1f}s (not timed)")

        # 1 + 2: back to back
        total = args.jobs * args.profiles
        cpu0 = _cpu_seconds(proc.pid)
        t0 = time.perf_counter()
        lat = post_jobs(base, bodies[:args.jobs], args.threads)
        t_accept = time.perf_counter() - t0
        t_done = wait_imported(base, total) - t0
        print(f"accept: {args.jobs} jobs in {t_accept:.2f}s = {args.jobs / t_accept:.1f} jobs/s, "
              f"{args.jobs * mb / t_accept:.0f} MB/s; POST latency p50 "
              f"{statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms")
        print(f"process: {total} profiles imported {t_done:.2f}s after the first POST = "
              f"{total / t_done:,.0f} profiles/s ({args.jobs / t_done:.1f} jobs/s end to end)")
        cpu = (_cpu_seconds(proc.pid) - cpu0) / args.jobs
        print(f"emulator CPU: {cpu:.3f} s per job (accept + import) = capacity "
              f"{1 / cpu:.1f} jobs/s, {args.profiles / cpu:,.0f} profiles/s on one free core")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} (2 cores)")

        # 3: paced at the ceiling
        before = stats(base)["profiles_imported"]
        t0 = time.perf_counter()
        lat = post_jobs(base, bodies[args.jobs:args.jobs + paced_jobs], args.threads, pace=10.0)
        t_offer = time.perf_counter() - t0
        t_done = wait_imported(base, before + paced_jobs * args.profiles) - t0
        print(f"paced at 10 jobs/s: {paced_jobs} jobs offered in {t_offer:.2f}s = "
              f"{paced_jobs / t_offer:.1f} jobs/s accepted; all imported after {t_done:.2f}s "
              f"(backlog drained {t_done - t_offer:.2f}s after the last POST); "
              f"POST p50 {statistics.median(lat) * 1000:.0f} ms")
        # 4: paced at the steady limit
        if steady_jobs:
            before = stats(base)["profiles_imported"]
            cpu0 = _cpu_seconds(proc.pid)
            t0 = time.perf_counter()
            lat = post_jobs(base, bodies[args.jobs + paced_jobs:], args.threads, pace=STEADY)
            t_offer = time.perf_counter() - t0
            t_done = wait_imported(base, before + steady_jobs * args.profiles) - t0
            busy = (_cpu_seconds(proc.pid) - cpu0) / t_done
            print(f"steady at {STEADY} jobs/s: {steady_jobs} jobs offered in {t_offer:.2f}s = "
                  f"{steady_jobs / t_offer:.2f} jobs/s accepted; POST p50 "
                  f"{statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms; last "
                  f"job imported {t_done - t_offer:.2f}s after its POST; emulator used "
                  f"{busy:.0%} of one core")

        # 5: identifier look-ups among everything stored
        n = stats(base)["profiles"]
        emails = ",".join(f'"customer{(i * 7919) % n}@example.com"' for i in range(100))
        t0 = time.perf_counter()
        for _ in range(5):
            r = s.get(base + "/api/profiles", headers=HEADERS, timeout=60,
                      params={"filter": f"any(email,[{emails}])", "page[size]": "100"})
            if r.status_code != 200 or len(r.json()["data"]) != 100:
                raise SystemExit(f"look-up failed: {r.status_code} {r.text[:300]}")
        print(f"look-up any(email, 100 values) among {n:,} profiles: "
              f"{(time.perf_counter() - t0) / 5 * 1000:.0f} ms a request")
        rss = _rss_mb(proc.pid)
        if rss:
            print(f"emulator RSS after {stats(base)['profiles']:,} profiles: {rss:.0f} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the emulator process has used (load-independent cost)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


if __name__ == "__main__":
    main()

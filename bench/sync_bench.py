"""Benchmark of `loader push` against the emulator (docs/benchmarks.md, "Sync (loader push)").

1. initial push of N profiles to one list (rate limits off, job delay 0);
2. a second push after 1 % of members changed, 0.5 % left and 0.5 % joined;
   for both: requests by endpoint beside the minimum, wall time, loader CPU per 1,000 profiles
   (process CPU of the push, DuckDB threads included), peak RSS of the push process;
3. with the emulator's rate limits on: achieved import throughput as a fraction of the ceiling
   the published limits allow (--limited-rows, real scale; and --scaled-rows at 0.1× the
   published rates, client paced to the same scale, to reach the steady-minute regime).

The emulator runs in its own process; every push runs in a fresh process (``_push`` mode) so its
CPU and peak memory are its own.

    .venv/bin/python bench/sync_bench.py --quick          # 100k, ~1 minute
    .venv/bin/python bench/sync_bench.py                  # 1M
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import _emulator  # noqa: E402  (bench/_emulator.py; scripts run with bench/ on sys.path)

from loader.klaviyo.limits import IMPORT_MAX_PROFILES, limit  # noqa: E402

KEY = "pk_bench_sync"


def build(path: str, rows: int) -> None:
    """A registry and one audience relation with the contract columns, rows generated in SQL."""
    con = duckdb.connect(path)
    con.execute(f"""
        create or replace table main.aud_bench as
        select 'bench' as campaign_id, 'Bench' as campaign_name, 'all' as sub_audience_id,
            'All' as sub_audience_name, 'a' as treatment_id, 'A' as treatment_name,
            false as is_control, 'Bench list' as list_name, 'seg' as segment_id,
            'Segment' as segment_name, 'amp-' || i::varchar as amperity_id,
            null::varchar as shrink_reason,
            'customer' || i::varchar || '@example.com' as email,
            ['Åsa', 'Liam', 'Chloé', 'Noah'][1 + i % 4] as first_name,
            'Lindqvist' as last_name, ['Oslo', 'Paris', 'Boston'][1 + i % 3] as city,
            lpad((i % 99999)::varchar, 5, '0') as zip,
            case when i % 5 = 0 then null else ['gold', 'silver'][1 + i % 2] end as loyalty_tier,
            round((i % 1000) * 1.37, 2)::decimal(18, 2) as lifetime_revenue
        from range({rows}) as t(i)""")
    con.execute("""
        create or replace table main.klaviyo_campaigns as select
            'bench' as campaign_id, 'Bench' as campaign_name, 'one_time' as campaign_type,
            '"main"."aud_bench"' as audience_relation, 'email' as identifier,
            true as update_contacts, 'asap' as send_mode, null::timestamp as send_at,
            null::varchar as schedule_cron, null::integer as schedule_interval_minutes,
            null::timestamp as launch_at,
            'email,first_name,last_name,city,zip,loyalty_tier,lifetime_revenue'
                as attribute_columns,
            'Bench list' as list_names, 'klaviyo' as destination_id,
            'Klaviyo' as destination_name, now() as built_at, 'bench' as dbt_invocation_id""")
    con.close()


def churn(path: str, rows: int) -> dict[str, int]:
    """1 % changed, 0.5 % left, 0.5 % joined."""
    con = duckdb.connect(path)
    changed = rows // 100
    left = rows // 200
    con.execute("update main.aud_bench set city = 'Changed' where "
                "cast(substr(amperity_id, 5) as bigint) % 200 in (1, 2)")
    con.execute("delete from main.aud_bench where "
                "cast(substr(amperity_id, 5) as bigint) % 200 = 3")
    con.execute(f"""insert into main.aud_bench select campaign_id, campaign_name,
        sub_audience_id, sub_audience_name, treatment_id, treatment_name, is_control, list_name,
        segment_id, segment_name, 'amp-new-' || i::varchar, shrink_reason,
        'joined' || i::varchar || '@example.com', first_name, last_name, city, zip,
        loyalty_tier, lifetime_revenue
        from main.aud_bench limit {left}""".replace("i::varchar", "row_number() over ()::varchar"))
    con.close()
    return {"changed": changed, "left": left, "joined": left}


def start_emulator(rate_limits: str) -> tuple[subprocess.Popen[str], str]:
    return _emulator.start_emulator("--rate-limits", rate_limits, "--api-key", KEY, stop_after=1800)


def run_push(path: str, url: str, rate_scale: float = 1.0) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "_push", path, url, str(rate_scale)],
        capture_output=True, text=True, cwd=REPO, check=False)
    if out.returncode != 0:
        raise SystemExit(f"push failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def push_worker(path: str, url: str, rate_scale: float) -> None:
    from loader.config import Settings
    from loader.klaviyo.client import KlaviyoClient
    from loader.sync import PushOptions, push

    settings = Settings.from_env({"KLAVIYO_BASE_URL": url, "KLAVIYO_API_KEY": KEY,
                                  "DUCKDB_PATH": path})
    client = KlaviyoClient.from_settings(settings, rate_scale=rate_scale)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = push(settings, PushOptions(campaigns=["bench"]), client=client)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if result.error:
        raise SystemExit(result.error)
    r = result.lists[0]
    print(json.dumps({
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "requests": dict(sorted(client.requests.items())), "throttled": client.throttled,
        "paced_s": round(client.pacer.waited_s, 2),
        "added": r.added, "updated": r.updated, "removed": r.removed, "rejected": r.rejected,
        "unchanged": r.unchanged, "import_jobs": r.import_jobs,
    }))


def memory_worker(path: str) -> None:
    """Everything the push does locally for an initial push, without HTTP: render and diff the
    audience, write the intent, assemble every job body (then drop it)."""
    from loader.state import connect, ensure_schema
    from loader.store import Store
    from loader.sync.apply import Applier
    from loader.sync.plan import Planner, job_bounds
    from loader.warehouse import attribute_columns, read_campaigns

    wall0, cpu0 = time.perf_counter(), time.process_time()
    con = connect(path)
    ensure_schema(con, "klaviyo_loader")
    campaign = read_campaigns(con)[0]
    planner = Planner(con, "klaviyo_loader", "bench-account")
    planner.build_desired(campaign, "Bench list", attribute_columns(con, campaign), None)
    plan = planner.plan(campaign, "Bench list", "L1", True, None)
    store = Store(con, "klaviyo_loader")
    applier = Applier(store, "bench-account", None, "bench")  # type: ignore[arg-type]
    applier.write_intent(planner.removals_sql("L1"), "L1", "Bench list", "bench")
    body_bytes = 0
    for a, b in job_bounds(con):
        body_bytes += len(applier._body(a, b, "L1"))
    print(json.dumps({
        "rows": plan.adds, "jobs": plan.import_jobs, "body_mb": round(body_bytes / 1e6),
        "wall_s": round(time.perf_counter() - wall0, 1),
        "cpu_s": round(time.process_time() - cpu0, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def minimum(sent: int, removed: int, first: bool) -> dict[str, int]:
    m = {"get_accounts": 1, "get_lists": 1,
         "bulk_import_profiles": math.ceil(sent / IMPORT_MAX_PROFILES)}
    if first:
        m["create_list"] = 1
    if removed:
        m["remove_profiles_from_list"] = math.ceil(removed / 1000)
    return m


def report(label: str, stats: dict[str, Any], sent: int, removed: int, first: bool) -> None:
    m = minimum(sent, removed, first)
    print(f"\n== {label}")
    print(f"   wall {stats['wall_s']} s, loader CPU {stats['cpu_s']} s "
          f"({1e6 * stats['cpu_s'] / max(sent + removed, 1):.1f} ms per 1,000 profiles "
          f"sent, {(sent + removed) / max(stats['cpu_s'], 1e-9):,.0f} profiles/s of CPU), "
          f"peak RSS {stats['peak_rss_mb']} MB")
    print(f"   added {stats['added']:,} updated {stats['updated']:,} removed "
          f"{stats['removed']:,} unchanged {stats['unchanged']:,}")
    ops = sorted(set(stats["requests"]) | set(m))
    for op in ops:
        print(f"   {op:<34} {stats['requests'].get(op, 0):>6}   (minimum {m.get(op, 0)})")


def limited(rows: int, scale: float, tmp: str) -> None:
    path = os.path.join(tmp, f"limited-{scale}.duckdb")
    build(path, rows)
    proc, url = start_emulator("on" if scale == 1.0 else str(scale))
    try:
        stats = run_push(path, url, rate_scale=scale)
    finally:
        proc.terminate()
        proc.wait()
    jobs = stats["import_jobs"]
    # the fastest the published (scaled) limits allow `jobs` imports to be accepted
    lim = limit("bulk_import_profiles")
    burst, steady_n = max(1, int(lim.burst_per_s * scale)), max(1, int(lim.steady_per_min * scale))
    floor_s = 60.0 * ((jobs - 1) // steady_n) + ((jobs - 1) % steady_n) / burst
    rate = rows / stats["wall_s"]
    steady = 150 * scale * IMPORT_MAX_PROFILES / 60
    print(f"\n== rate limits on (x{scale:g} of published), {rows:,} profiles, {jobs} jobs")
    print(f"   wall {stats['wall_s']} s (push start to last job confirmed), "
          f"throttled {stats['throttled']}, client pacing waits {stats['paced_s']} s")
    print(f"   achieved {rate:,.0f} profiles/s; steady ceiling {steady:,.0f}/s "
          f"→ {rate / steady:.0%} of the steady ceiling; the limits allow accepting {jobs} jobs "
          f"in {floor_s:.1f} s → {floor_s / stats['wall_s']:.0%} of that floor")
    print(f"   requests (HTTP sends, 429 retries included): {stats['requests']}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_push":
        push_worker(sys.argv[2], sys.argv[3], float(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_memory":
        memory_worker(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100k profiles, skip the 0.1× run")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--limited-rows", type=int, default=None)
    ap.add_argument("--scaled-rows", type=int, default=None)
    ap.add_argument("--memory-rows", type=int, default=None,
                    help="only the local part of an initial push (no HTTP) at this size: "
                    "peak memory and CPU, e.g. 10000000")
    args = ap.parse_args()
    if args.memory_rows:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "memory.duckdb")
            build(path, args.memory_rows)
            out = subprocess.run([sys.executable, __file__, "_memory", path],
                                 capture_output=True, text=True, cwd=REPO, check=False)
            if out.returncode:
                raise SystemExit(out.stderr[-3000:])
            m = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"local part of an initial push, {args.memory_rows:,} rows: {m}")
            print(f"   {m['rows'] / max(m['cpu_s'], 1e-9):,.0f} profiles/s of CPU")
        return
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    limited_rows = args.limited_rows or (100_000 if args.quick else 200_000)
    scaled_rows = args.scaled_rows if args.scaled_rows is not None else (
        0 if args.quick else 200_000)
    print(f"sync benchmark: {rows:,} profiles; machine {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.duckdb")
        t0 = time.perf_counter()
        build(path, rows)
        print(f"audience built in {time.perf_counter() - t0:.1f} s")
        proc, url = start_emulator("off")
        try:
            first = run_push(path, url)
            report(f"initial push, {rows:,} profiles", first, rows, 0, True)
            ch = churn(path, rows)
            second = run_push(path, url)
            report(f"second push: {ch['changed']:,} changed, {ch['left']:,} left, "
                   f"{ch['joined']:,} joined", second, ch["changed"] + ch["joined"],
                   ch["left"], False)
            third = run_push(path, url)
            print(f"\n== third push, no change: requests {third['requests']}, "
                  f"wall {third['wall_s']} s")
        finally:
            proc.terminate()
            proc.wait()
        limited(limited_rows, 1.0, tmp)
        if scaled_rows:
            limited(scaled_rows, 0.1, tmp)


if __name__ == "__main__":
    main()

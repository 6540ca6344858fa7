"""Benchmark: `loader export` (time, peak memory as audiences grow) and `loader status`.

    .venv/bin/python bench/operations_bench.py [--rows 100000,1000000,3000000]

Each export runs as its own `loader export` process, so its peak RSS is measured alone
(``ru_maxrss`` of that child, via ``os.wait4``). A flat peak RSS across sizes is the claim
"memory stays flat".
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
LOADER = Path(sys.executable).with_name("loader")

REGISTRY = """
create or replace table main.klaviyo_campaigns as select
    'bench' as campaign_id, 'Bench' as campaign_name, 'one_time' as campaign_type,
    '"main"."aud_bench"' as audience_relation, 'email' as identifier,
    true as update_contacts, 'asap' as send_mode, null::timestamp as send_at,
    null::varchar as schedule_cron, null::integer as schedule_interval_minutes,
    null::timestamp as launch_at,
    'email,first_name,last_name,city,zip,loyalty_tier,lifetime_revenue' as attribute_columns,
    'Bench A' as list_names, 'klaviyo' as destination_id, 'Klaviyo' as destination_name,
    now()::timestamp as built_at, 'bench' as dbt_invocation_id
"""

AUDIENCE = """
create or replace table main.aud_bench as
select
    'bench' as campaign_id, 'Bench' as campaign_name, 'all' as sub_audience_id,
    'All' as sub_audience_name,
    case when i % 10 = 0 then 'control' else 'a' end as treatment_id,
    case when i % 10 = 0 then 'Control' else 'A' end as treatment_name,
    i % 10 = 0 as is_control,
    case when i % 10 = 0 then null else 'Bench A' end as list_name,
    'seg' as segment_id, 'Seg' as segment_name,
    'amp-' || lpad(i::varchar, 10, '0') as amperity_id,
    case when i % 25 = 3 then 'missing_email' end as shrink_reason,
    case when i % 25 = 3 then null else 'user' || i || '@example.com' end as email,
    'First' || (i % 997) as first_name, 'Last' || (i % 991) as last_name,
    'City' || (i % 113) as city, lpad((i % 99999)::varchar, 5, '0') as zip,
    ['gold', 'silver', 'bronze'][1 + i % 3] as loyalty_tier,
    ((i % 100000) / 100.0)::decimal(18, 2) as lifetime_revenue
from range({rows}) as t(i)
"""


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one child process, from its own rusage (os.wait4)."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024


def export_run(db: Path, out: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, bytes) of one `loader export` process."""
    seconds, peak = run_measured(
        [str(LOADER), "export", "bench", "--format", "klaviyo-csv", "--output", str(out)],
        {**os.environ, "DUCKDB_PATH": str(db)},
    )
    return seconds, peak, out.stat().st_size


def status_run(db: Path, campaigns: int, ticks: int) -> float:
    """Seconds for `loader status` over many recurring campaigns with long delivery logs."""
    with duckdb.connect(str(db)) as con:
        con.execute(f"""
            create or replace table main.klaviyo_campaigns as select
                'c' || i as campaign_id, 'Campaign ' || i as campaign_name,
                'recurring' as campaign_type, '"main"."aud_bench"' as audience_relation,
                'email' as identifier, true as update_contacts, 'asap' as send_mode,
                null::timestamp as send_at, '0 9 * * *' as schedule_cron,
                null::integer as schedule_interval_minutes, null::timestamp as launch_at,
                'email' as attribute_columns, 'L' || i as list_names,
                'klaviyo' as destination_id, 'Klaviyo' as destination_name,
                now()::timestamp as built_at, 'bench' as dbt_invocation_id
            from range({campaigns}) as t(i)""")
        con.execute("create schema if not exists klaviyo_loader")
        start = datetime(2026, 1, 1, 9, tzinfo=UTC).replace(tzinfo=None)
        con.execute(f"""
            create or replace table klaviyo_loader.deliveries as select
                c.i || '-' || d.j as delivery_id, 'r' || d.j as run_id, 'acct' as account_id,
                'c' || c.i as campaign_id,
                timestamp '{start}' + to_days(d.j::integer) as scheduled_for,
                timestamp '{start}' + to_days(d.j::integer) as started_at,
                timestamp '{start}' + to_days(d.j::integer) + interval 5 minute as completed_at,
                'completed' as status, false as is_sample, 10::bigint as added,
                1::bigint as updated, 1::bigint as removed, 0::bigint as rejected,
                0::bigint as unchanged
            from range({campaigns}) as c(i), range({ticks}) as d(j)""")
    at = (start + timedelta(days=ticks)).isoformat()
    seconds, _ = run_measured([str(LOADER), "status", "--json", "--at", at],
                              {**os.environ, "DUCKDB_PATH": str(db)})
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="100000,1000000,3000000")
    args = parser.parse_args()
    print("## Scheduling and campaign operations\n")
    print("| audience rows | exported rows | CSV size | export time | peak RSS (process) |")
    print("|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-ops-") as tmp:
        for rows in [int(r) for r in args.rows.split(",")]:
            db = Path(tmp) / f"w{rows}.duckdb"
            # built in a child process, so this process stays small (a forked child starts
            # with its parent's pages, which would count towards the export's peak)
            subprocess.run(
                [sys.executable, "-c", "import sys, duckdb; con = duckdb.connect(sys.argv[1]); "
                 "con.execute(sys.argv[2]); con.execute(sys.argv[3]); con.close()",
                 str(db), AUDIENCE.format(rows=rows), REGISTRY],
                check=True, capture_output=True,
            )
            out = Path(tmp) / f"out{rows}.csv"
            seconds, rss, size = export_run(db, out)
            with out.open("rb") as fh:
                exported = sum(1 for _ in fh) - 1
            print(f"| {rows:,} | {exported:,} | {size / 2**20:,.0f} MiB | {seconds:.1f} s "
                  f"| {rss:,.0f} MiB |")
            db.unlink()
            out.unlink()
        db = Path(tmp) / "status.duckdb"
        with duckdb.connect(str(db)) as con:
            con.execute(AUDIENCE.format(rows=10))
        seconds = status_run(db, campaigns=200, ticks=365)
        print(f"\n`loader status --json`, 200 recurring campaigns × 365 completed deliveries "
              f"each (73,000 rows): {seconds:.1f} s")


if __name__ == "__main__":
    main()

"""Reader benchmark: the loader streaming an audience-shaped relation from each engine.

Builds a synthetic audience relation (the 12 fixed audience columns and 8 mapped attributes,
about 300 bytes a row) of N rows on the target's warehouse, then reads it in a fresh process
with the loader's reader (`loader.engines`, batches of 10,000) and prints rows per second and
peak memory: the Python process's max RSS, and on Spark also the driver JVM's (VmHWM).

    .venv/bin/python bench/reader_bench.py --target duckdb --rows 1000000 10000000
    .venv/bin/python bench/reader_bench.py --target postgres --rows 1000000   # engine running

The PostgreSQL and Spark targets are configured as for dbt (docs/scale.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"

ROWS = {
    "duckdb": ("range({n}) as t(id)", "varchar"),
    "postgres": ("generate_series(0, {n} - 1) as t(id)", "text"),
    "spark": ("range({n})", "string"),
}

AUDIENCE_SQL = """
select
    'bench' as campaign_id,
    'Bench campaign' as campaign_name,
    case when id % 3 = 0 then 'vip' else 'rest' end as sub_audience_id,
    case when id % 3 = 0 then 'VIP' else 'Rest' end as sub_audience_name,
    case when id % 10 = 0 then 'holdout' else 'offer' end as treatment_id,
    case when id % 10 = 0 then 'Holdout' else 'Offer' end as treatment_name,
    id % 10 = 0 as is_control,
    case when id % 10 <> 0 then 'Bench list' end as list_name,
    'seg_high_value_customers' as segment_id,
    'High-value customers' as segment_name,
    md5(cast(id as {string})) as amperity_id,
    case when id % 50 = 0 then 'invalid_email' end as shrink_reason,
    'person' || cast(id as {string}) || '@example.com' as email,
    '+1415' || substr(cast(1000000 + id % 1000000 as {string}), 2, 6) || '0' as phone_number,
    'Given' || cast(id % 977 as {string}) as first_name,
    'Surname' || cast(id % 1777 as {string}) as last_name,
    'San Francisco' as city,
    'CA' as region,
    'US' as country,
    'LOY' || cast(id as {string}) as loyalty_id
from {rows}
"""

CREATE = """
import sys
from loader.engines import connect, read_target
target = read_target(profiles_dir_path=sys.argv[1])
with connect(target) as warehouse:
    relation = warehouse.relation(warehouse.target.schema, sys.argv[2])
    if target.type == "spark":
        warehouse.execute(f"create database if not exists {warehouse.quote(target.schema)}")
    elif target.type == "postgres":
        warehouse.execute(f"create schema if not exists {warehouse.quote(target.schema)}")
    warehouse.execute(f"drop table if exists {relation}")
    using = " using parquet" if target.type == "spark" else ""
    warehouse.execute(f"create table {relation}{using} as {sys.argv[3]}")
"""

READ = """
import json, resource, sys, time
from loader.engines import connect, read_target
target = read_target(profiles_dir_path=sys.argv[1])
with connect(target) as warehouse:
    relation = warehouse.relation(warehouse.target.schema, sys.argv[2])
    jvm_pid = None
    if target.type == "spark":
        warehouse.dbapi.session.sparkContext.setLogLevel("ERROR")
        jvm_pid = warehouse.dbapi.session.sparkContext._gateway.proc.pid
    started = time.perf_counter()
    rows = 0
    largest = 0
    for batch in warehouse.read_relation(relation, batch_rows=10_000):
        rows += len(batch)
        largest = max(largest, len(batch))
    seconds = time.perf_counter() - started
    jvm_mb = None
    if jvm_pid:
        for line in open(f"/proc/{jvm_pid}/status"):
            if line.startswith("VmHWM:"):
                jvm_mb = int(line.split()[1]) / 1024
print(json.dumps({"rows": rows, "seconds": seconds, "largest_batch": largest,
                  "python_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "jvm_mb": jvm_mb}))
"""


def run(code: str, *args: str, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, cwd=REPO, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stdout[-3000:] + done.stderr[-3000:])
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="duckdb", choices=sorted(ROWS))
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    options = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["DBT_TARGET"] = options.target
    env.setdefault("DUCKDB_PATH", str(OUT / "reader_bench.duckdb"))
    if options.target == "spark":
        env.setdefault("SPARK_STATE_DIR", str(OUT / "spark"))
    rows_sql, string = ROWS[options.target]
    print(f"reader on {options.target}: stream an audience-shaped relation in batches of 10,000 "
          "(fresh process; Python max RSS; on Spark the driver JVM's peak)")
    print(f"{'rows':>11} {'seconds':>8} {'rows/s':>10} {'python MB':>10} {'JVM MB':>8}")
    for n in options.rows:
        name = f"reader_bench_{n}"
        sql = AUDIENCE_SQL.format(string=string, rows=rows_sql.format(n=n))
        run(CREATE, str(REPO), name, sql, env=env)
        r = run(READ, str(REPO), name, env=env)
        if r["rows"] != n or r["largest_batch"] > 10_000:
            raise SystemExit(f"read {r['rows']:,} rows of {n:,} (largest batch "
                             f"{r['largest_batch']:,})")
        jvm = f"{r['jvm_mb']:>8.0f}" if r.get("jvm_mb") else f"{'-':>8}"
        print(f"{n:>11,} {r['seconds']:>8.1f} {n / r['seconds']:>10,.0f} "
              f"{r['python_mb']:>10.0f} {jvm}", flush=True)


if __name__ == "__main__":
    main()

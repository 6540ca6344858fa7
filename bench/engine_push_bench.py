"""`loader push` from a PostgreSQL or Spark warehouse: throughput and peak memory (docs/scale.md).

The audience of bench/sync_bench.py (N profiles, one list) is built in DuckDB, copied into the
running PostgreSQL (``PG*`` variables, e.g. ``eval "$(scripts/engines/postgres.sh env)"``) in
a database of its own, or into a fresh local Spark warehouse (``--engine spark``: a metastore
and warehouse in a temporary folder), and pushed with ``--target postgres|spark`` to the
emulator in its own process (rate limits off): an initial push, then a push with nothing
changed. Each push runs in a fresh process; its wall and CPU time and peak RSS are its own
(PostgreSQL's server processes apart; Spark's JVM, a child of the push, reported apart as
``jvm_cpu_s`` and ``jvm_peak_rss_mb``).

    .venv/bin/python bench/engine_push_bench.py --rows 100000
    .venv/bin/python bench/engine_push_bench.py --engine spark --rows 100000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import sync_bench  # noqa: E402


def _children() -> dict[str, float]:
    """CPU seconds and peak RSS (MB) of this process's child processes (Spark's JVM)."""
    cpu, peak = 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != os.getpid():
                continue
            cpu += (int(fields[11]) + int(fields[12])) / tick
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak += int(line.split()[1]) / 1024
        except (OSError, IndexError, ValueError):
            continue
    return {"jvm_cpu_s": round(cpu, 2), "jvm_peak_rss_mb": round(peak, 1)}


def push_worker(url: str, engine: str, duckdb_path: str | None = None) -> None:
    from loader.config import Settings
    from loader.engines import read_target
    from loader.klaviyo.client import KlaviyoClient
    from loader.sync import PushOptions, push

    settings = Settings.from_env({"KLAVIYO_BASE_URL": url, "KLAVIYO_API_KEY": sync_bench.KEY,
                                  "DUCKDB_PATH": duckdb_path or "unused.duckdb"})
    client = KlaviyoClient.from_settings(settings)
    target = None if duckdb_path else read_target(engine, profiles_dir_path=REPO)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = push(settings, PushOptions(campaigns=["bench"]), client=client, target=target)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if result.error:
        raise SystemExit(result.error)
    r = result.lists[0]
    print(json.dumps({
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **(_children() if engine == "spark" else {}),
        "added": r.added, "unchanged": r.unchanged, "import_jobs": r.import_jobs}))


def copy_worker(engine: str, path: str) -> None:
    """The bench audience and registry into the engine (Spark: in this process, then gone)."""
    from loader.engines import connect, read_target
    from loader.engines.copy import copy_from_duckdb

    with connect(read_target(engine, profiles_dir_path=REPO)) as w:
        t0 = time.perf_counter()
        copy_from_duckdb(path, "main", ["aud_bench", "klaviyo_campaigns"], w)
        print(f"copied rows into {engine} in {time.perf_counter() - t0:.1f} s", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_push":
        push_worker(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_copy":
        copy_worker(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--duckdb", action="store_true",
                        help="also the same pushes from the DuckDB file, for comparison")
    parser.add_argument("--engine", choices=("postgres", "spark"), default="postgres")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    admin: Any = None
    database = f"bench_{uuid.uuid4().hex[:8]}"
    if args.engine == "postgres":
        import psycopg2

        admin = psycopg2.connect(dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'create database "{database}"')
        os.environ["PGDATABASE"] = database
    else:  # a warehouse and Derby metastore of its own, gone afterwards
        os.environ["SPARK_STATE_DIR"] = str(Path(tmp.name) / "spark")
    proc, url = sync_bench.start_emulator("off")
    try:
        path = str(Path(tmp.name) / "bench.duckdb")
        sync_bench.build(path, args.rows)
        out = subprocess.run([sys.executable, __file__, "_copy", args.engine, path],
                             capture_output=True, text=True, cwd=REPO, check=False)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        print(out.stdout.strip().splitlines()[-1], flush=True)
        engines = [(args.engine, [])] + ([("duckdb", [path])] if args.duckdb else [])
        for engine, extra in engines:
            for label in ("initial", "unchanged"):
                out = subprocess.run([sys.executable, __file__, "_push", url, args.engine,
                                      *extra],
                                     capture_output=True, text=True, cwd=REPO, check=False)
                if out.returncode != 0:
                    raise SystemExit(out.stderr[-3000:])
                stats = json.loads(out.stdout.strip().splitlines()[-1])
                rate = args.rows / stats["wall_s"] if stats["wall_s"] else 0
                print(f"{engine} {label}: {json.dumps(stats)}; {rate:,.0f} profiles/s wall; "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        tmp.cleanup()
        proc.terminate()
        proc.wait(timeout=30)
        if admin is not None:
            with admin.cursor() as cur:
                cur.execute(f'drop database if exists "{database}" with (force)')
            admin.close()


if __name__ == "__main__":
    main()

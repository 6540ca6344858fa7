"""Benchmark of demo data generation (docs/benchmarks.md, "Demo data generation").

For each size, `loader.demo_data.generate` runs in a fresh process (so its peak RSS and CPU are
its own) writing bench/out/demo_<N>.duckdb; prints wall time, process CPU (DuckDB threads
included), peak RSS, file size and row counts. The files stay for other benchmarks to reuse
(bench/out/ is gitignored).

    .venv/bin/python bench/datagen_bench.py --quick        # 100k and 1M
    .venv/bin/python bench/datagen_bench.py                # 1M and 10M
    .venv/bin/python bench/datagen_bench.py --sizes 2000000 --memory-limit 4GB
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"


def out_path(customers: int, seed: int) -> Path:
    """Where the benchmark keeps N customers of seed S (seed 42 keeps the short name)."""
    suffix = "" if seed == 42 else f"_seed{seed}"
    return OUT / f"demo_{customers}{suffix}.duckdb"


def _generate(customers: int, seed: int, memory_limit: str | None) -> None:
    """Child mode: generate and print the row counts as JSON."""
    sys.path.insert(0, str(REPO))
    from loader import demo_data

    path = out_path(customers, seed)
    for stale in (path, Path(str(path) + ".wal")):
        stale.unlink(missing_ok=True)
    result = demo_data.generate(path, customers, seed, memory_limit=memory_limit)
    print(json.dumps(result.row_counts))


def measure(customers: int, seed: int, memory_limit: str | None) -> dict[str, object]:
    OUT.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, __file__, "--_child", str(customers), "--seed", str(seed)]
    if memory_limit:
        command += ["--memory-limit", memory_limit]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"generation of {customers:,} customers failed ({child.returncode})")
    counts = json.loads(output.strip().splitlines()[-1])
    path = out_path(customers, seed)
    return {
        "customers": customers,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # Linux reports KiB
        "file_mb": path.stat().st_size / 1e6,
        "rows": counts,
        "path": str(path.relative_to(REPO)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100k and 1M customers")
    ap.add_argument("--sizes", default=None, help="comma-separated customer counts")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 4GB")
    ap.add_argument("--_child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child is not None:
        _generate(args._child, args.seed, args.memory_limit)
        return
    if args.sizes:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    else:
        sizes = [100_000, 1_000_000] if args.quick else [1_000_000, 10_000_000]
    print(f"demo data generation (seed {args.seed}, memory_limit {args.memory_limit or 'default'},"
          f" {os.cpu_count()} CPUs)")
    print("| customers | wall s | CPU s | peak RSS MB | file MB | transactions | interests |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for customers in sizes:
        r = measure(customers, args.seed, args.memory_limit)
        rows = r["rows"]
        assert isinstance(rows, dict)
        print(
            f"| {customers:,} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_mb']:,.0f} "
            f"| {r['file_mb']:,.0f} | {rows['unified_transactions']:,} "
            f"| {rows['customer_interests']:,} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

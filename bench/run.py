"""`make bench`: run every benchmark script (bench/*_bench.py) in turn and show their output.

Benchmarks are not tests: they print figures, which go into docs/benchmarks.md by hand with the
command that produced them. Arguments after the script's own pass through to each benchmark
that accepts them (judged from its --help), e.g. `--quick`:

    .venv/bin/python bench/run.py --quick
    .venv/bin/python bench/run.py --only datagen,sync -- --quick
    make bench BENCH_ARGS=--quick        (if the Makefile passes BENCH_ARGS)

Exit status: 0 when every benchmark exited 0, else 1 (the others still run).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
# Known benchmarks first, in this order; any other *_bench.py afterwards, by name.
ORDER = ("datagen_bench", "emulator_bench", "campaign_bench", "sync_bench", "operations_bench")


def discover(only: set[str] | None = None) -> list[Path]:
    found = {p.stem: p for p in BENCH.glob("*_bench.py")}
    names = [n for n in ORDER if n in found] + sorted(n for n in found if n not in ORDER)
    if only:
        names = [n for n in names if n in only or n.removesuffix("_bench") in only]
    return [found[n] for n in names]


def accepted_args(script: Path, args: list[str]) -> tuple[list[str], list[str]]:
    """Split ``args`` into those the script's --help mentions and those it does not."""
    if not args:
        return [], []
    help_text = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    ).stdout
    kept: list[str] = []
    dropped: list[str] = []
    i = 0
    while i < len(args):
        option = args[i]
        value = [args[i + 1]] if i + 1 < len(args) and not args[i + 1].startswith("-") else []
        name = option.split("=", 1)[0]
        (kept if name in help_text else dropped).extend([option, *value])
        i += 1 + len(value)
    return kept, dropped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None, help="comma-separated names, e.g. datagen,sync")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args, passthrough = ap.parse_known_args(argv)
    passthrough = [a for a in passthrough if a != "--"]
    only = {n.strip() for n in args.only.split(",")} if args.only else None
    scripts = discover(only)
    if args.list or not scripts:
        for script in scripts:
            print(script.name)
        if not scripts:
            print("no benchmarks found" + (f" matching {args.only}" if only else ""))
        return 0 if scripts or args.list else 1
    failures: list[str] = []
    for script in scripts:
        kept, dropped = accepted_args(script, passthrough)
        print(f"\n=== {script.name} {' '.join(kept)}".rstrip(), flush=True)
        if dropped:
            print(f"(not passed, {script.name} does not take: {' '.join(dropped)})", flush=True)
        started = time.perf_counter()
        code = subprocess.run([sys.executable, str(script), *kept], cwd=BENCH.parent).returncode
        elapsed = time.perf_counter() - started
        print(f"=== {script.name}: exit {code} after {elapsed:.0f}s", flush=True)
        if code != 0:
            failures.append(script.name)
    if failures:
        print(f"\nfailed: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

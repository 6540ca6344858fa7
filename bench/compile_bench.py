"""dbt's fixed cost of campaign models: `dbt parse` and `dbt compile` of N campaigns.

A copy of the project gets N campaign models (copies of spring_sale with their own ids, names
and lists, a third with a sub-audience condition), demo data is generated and everything but
the campaigns is built once (untimed); then `dbt parse` (no partial parse) and `dbt compile
--select models/campaigns` (which runs every campaign's compile-time checks) are timed, wall
and CPU (user + system of the dbt process: what a shared machine's load does not inflate),
best of --repeats. `--compare-with DIR` times another checkout's macros the same way,
alternately, on the same data.

    .venv/bin/python bench/compile_bench.py --campaigns 3 30
    .venv/bin/python bench/compile_bench.py --campaigns 30 --compare-with ../before
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

CAMPAIGN = """{{{{ klaviyo_campaign(
    name='Bench {i}',
    campaign_id='bench_{i}',
    include=['seg_high_value_customers', 'seg_recent_buyers'],
    exclude=['seg_email_unsubscribed'],
    sub_audiences=[
        {{'name': 'Outdoor', 'condition': {condition}, 'treatments': [
            {{'name': 'Offer A', 'percent': 45, 'list_name': 'Bench {i} - A'}},
            {{'name': 'Offer B', 'percent': 45, 'list_name': 'Bench {i} - B'}},
            {{'name': 'Holdout', 'percent': 10, 'control': true}}]}},
        {{'name': 'Everyone', 'treatments': [
            {{'name': 'Offer C', 'percent': 90, 'list_name': 'Bench {i} - C'}},
            {{'name': 'Holdout', 'percent': 10, 'control': true}}]}},
    ],
    timing={{'type': 'one_time', 'send_at': 'asap'}},
) }}}}
"""


def project(source: Path, root: Path, n: int) -> list[str]:
    """A copy of the project at ``source`` with ``n`` bench campaigns; returns every campaign."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(source / name, root / name)
    for folder in ("macros", "models", "seeds", "tests/dbt/generic"):
        if (source / folder).is_dir():
            shutil.copytree(source / folder, root / folder)
    names = [p.stem for p in (root / "models" / "campaigns").glob("*.sql")]
    for i in range(n):
        condition = "'city is not null'" if i % 3 == 0 else "none"
        (root / "models" / "campaigns" / f"bench_{i}.sql").write_text(
            CAMPAIGN.format(i=i, condition=condition))
        names.append(f"bench_{i}")
    return names


def dbt(root: Path, db: Path, campaigns: list[str], *args: str) -> tuple[float, float]:
    """Run dbt in ``root``; (wall, CPU) seconds."""
    env = {**os.environ, "DUCKDB_PATH": str(db), "DBT_PROFILES_DIR": str(root)}
    vars_ = "{klaviyo_campaigns: [" + ", ".join(campaigns) + "]}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    out = subprocess.run([str(BIN / "dbt"), *args, "--project-dir", str(root), "--vars", vars_],
                         env=env, cwd=root, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        raise SystemExit(f"dbt {' '.join(args)} failed in {root}:\n{out.stdout[-4000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--campaigns", type=int, nargs="+", default=[3, 30],
                    help="bench campaigns added to the project's own")
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--compare-with", type=Path, metavar="DIR")
    args = ap.parse_args()
    checkouts = {"this": REPO}
    if args.compare_with:
        checkouts = {"other": args.compare_with.resolve(), "this": REPO}
    print(f"dbt parse / compile of campaign models; load average {os.getloadavg()[0]:.1f}")
    print(f"{'checkout':>8} {'campaigns':>9} {'parse wall':>10} {'parse CPU':>9} "
          f"{'compile wall':>12} {'compile CPU':>11}  (best of {args.repeats})")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "w.duckdb"
        subprocess.run([str(BIN / "loader"), "demo-data", "--customers", str(args.customers),
                        "--duckdb-path", str(db)], check=True, capture_output=True)
        for n in args.campaigns:
            roots = {k: Path(tmp) / f"{k}_{n}" for k in checkouts}
            names = {k: project(src, roots[k], n) for k, src in checkouts.items()}
            first = next(iter(checkouts))
            dbt(roots[first], db, names[first], "build", "--exclude", "models/campaigns+",
                "--quiet")
            times: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in checkouts}
            for _ in range(args.repeats):
                for k in checkouts:
                    pw, pc = dbt(roots[k], db, names[k], "parse", "--no-partial-parse")
                    cw, cc = dbt(roots[k], db, names[k], "compile", "--select",
                                 "models/campaigns", "--quiet")
                    times[k].append((pw, pc, cw, cc))
            for k in checkouts:
                best = [min(t[i] for t in times[k]) for i in range(4)]
                print(f"{k:>8} {len(names[k]):>9} {best[0]:>10.2f} {best[1]:>9.2f} "
                      f"{best[2]:>12.2f} {best[3]:>11.2f}  {checkouts[k]}", flush=True)


if __name__ == "__main__":
    main()

"""Benchmark of `loader push` (docs/benchmarks.md, "Sync (loader push)"): every row of the table.

1. initial push of N profiles to one list (rate limits off, job delay 0): loader CPU,
   profiles/s of CPU, wall, requests beside the minimum;
2. a second push after 1 % of members changed, 0.5 % left and 0.5 % joined: loader CPU, wall;
3. a third push, nothing changed: wall (and CPU);
4. a burst at the published rate limits (--limited-rows, 200,000 profiles = 20 jobs), the
   emulator in its own process: wall and the share of the floor the limits allow;
5. peak memory of an initial push of --memory-rows (10M by default) end to end, Klaviyo
   replaced by an in-process sink that keeps nothing (bench/_sink.py; the emulator cannot
   hold 10M profiles);
6. the campaign build (dbt model) vs the hand-written SQL at --campaign-customers (1M), and
   dbt's compile time for the model (bench/campaign_bench.py).

The emulator runs in its own process; every push runs in a fresh process (``_push`` mode) so
its CPU and peak memory are its own. "loader CPU" is process user + system time, DuckDB's
threads included: what a shared machine's load does not inflate.

``--compare-with REF`` measures a second checkout (a temporary ``git worktree`` of REF, e.g.
the commit before a change) the same way in the same run, alternating, and prints both
side by side. The pushes of both run this checkout's emulator and this script; only the
loader (``loader/``) and the dbt project differ (``--each-emulator``: the burst of each
checkout runs its own emulator, which bounds it). ``--burst-runs N`` runs each burst N times
a checkout, alternated, and reports the medians (a loaded machine makes one run's wall
noisy). A burst also reports push start to the first POST, the last accept to the end (split
at the last confirmation's start: until then Klaviyo imports the jobs still queued and a poll
sees them complete; after it the loader confirms and records), and the emulator's CPU
(Linux).

    .venv/bin/python bench/sync_bench.py --quick                    # 100k, no 10M, no dbt
    .venv/bin/python bench/sync_bench.py                            # the whole table
    .venv/bin/python bench/sync_bench.py --compare-with 5a891d5     # before / after
    .venv/bin/python bench/sync_bench.py --only burst --rows 0 --memory-rows 0 \
        --compare-with main --each-emulator --burst-runs 5              # the burst, medians
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import resource
import statistics
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

IMPORT_MAX_PROFILES = 10_000  # Klaviyo's published limits (loader/klaviyo/limits.py)
IMPORT_BURST_PER_S, IMPORT_STEADY_PER_MIN = 10, 150

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


def start_emulator(rate_limits: str, code: Path = REPO) -> tuple[subprocess.Popen[str], str]:
    return _emulator.start_emulator("--rate-limits", rate_limits, "--api-key", KEY,
                                    stop_after=3600, code=code)


def run_worker(mode: str, code: Path, *args: str) -> dict[str, Any]:
    """Run this script's ``mode`` in a fresh process over the loader of checkout ``code``."""
    out = subprocess.run([sys.executable, __file__, mode, str(code), *args],
                         capture_output=True, text=True, cwd=code, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{mode} at {code} failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _use_code(code: str) -> None:
    """Import ``loader`` from checkout ``code`` (this script's own checkout stays behind it)."""
    sys.path.insert(0, code)
    for name in [m for m in sys.modules if m == "loader" or m.startswith("loader.")]:
        del sys.modules[name]


def push_worker(code: str, path: str, url: str, rate_scale: float) -> None:
    _use_code(code)
    from loader.config import Settings
    from loader.klaviyo.client import KlaviyoClient
    from loader.sync import PushOptions, push

    base = "http://sink.invalid" if url == "sink" else url
    settings = Settings.from_env({"KLAVIYO_BASE_URL": base, "KLAVIYO_API_KEY": KEY,
                                  "DUCKDB_PATH": path})
    client = KlaviyoClient.from_settings(settings, rate_scale=rate_scale)
    sink = None
    if url == "sink":
        from _sink import SinkAdapter

        sink = SinkAdapter()
        client.session.mount(base, sink)
    posts: list[float] = []  # when each import POST started and was answered
    submit = client.submit_import

    def timed_submit(body: bytes) -> dict[str, Any]:
        posts.append(time.perf_counter())
        try:
            return submit(body)
        finally:
            posts.append(time.perf_counter())

    client.submit_import = timed_submit  # type: ignore[method-assign]
    from loader.sync import apply

    confirms: list[float] = []  # when each confirmation began: its jobs were seen complete
    confirm = getattr(getattr(apply, "Applier", None), "confirm", None)  # older checkouts: none

    def timed_confirm(self: Any, *args: Any, **kwargs: Any) -> Any:
        confirms.append(time.perf_counter())
        return confirm(self, *args, **kwargs)

    if confirm is not None:
        apply.Applier.confirm = timed_confirm  # type: ignore[method-assign]
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
        "body_mb": round(sink.body_bytes / 1e6) if sink else None,
        # first import POST sent to last one accepted: what the rate limits bound
        "posts_s": round(posts[-1] - posts[0], 2) if posts else 0.0,
        # push start to the first POST (probes, plan, intent), last accept to the end (polls,
        # confirmation, recording)
        "before_posts_s": round(posts[0] - wall0, 2) if posts else 0.0,
        "after_posts_s": round(wall0 + wall - posts[-1], 2) if posts else 0.0,
        # of which: last accept to the last jobs seen complete (Klaviyo's import of the jobs
        # still queued, and the poll that sees it), then confirmation and recording
        "to_done_s": round(confirms[-1] - posts[-1], 2) if posts and confirms else 0.0,
        "done_to_end_s": round(wall0 + wall - confirms[-1], 2) if posts and confirms else 0.0,
    }))


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
    print(f"   {label}: wall {stats['wall_s']} s, loader CPU {stats['cpu_s']} s "
          f"({(sent + removed) / max(stats['cpu_s'], 1e-9):,.0f} profiles/s of CPU), "
          f"peak RSS {stats['peak_rss_mb']} MB; added {stats['added']:,} updated "
          f"{stats['updated']:,} removed {stats['removed']:,} unchanged {stats['unchanged']:,}")
    ops = sorted(set(stats["requests"]) | set(m))
    print("      requests: " + ", ".join(
        f"{op} {stats['requests'].get(op, 0)} (min {m.get(op, 0)})" for op in ops))


def floor_seconds(jobs: int, scale: float = 1.0) -> float:
    """The fastest the published (scaled) limits allow ``jobs`` imports to be accepted."""
    burst = max(1, int(IMPORT_BURST_PER_S * scale))
    steady_n = max(1, int(IMPORT_STEADY_PER_MIN * scale))
    return 60.0 * ((jobs - 1) // steady_n) + ((jobs - 1) % steady_n) / burst


def measure_pushes(code: Path, rows: int, tmp: str, label: str) -> dict[str, Any]:
    """Initial, second (churned) and third push of ``rows`` profiles, rate limits off."""
    path = os.path.join(tmp, f"bench-{label}.duckdb")
    build(path, rows)
    proc, url = start_emulator("off")
    try:
        first = run_worker("_push", code, path, url, "1.0")
        report("initial", first, rows, 0, True)
        ch = churn(path, rows)
        second = run_worker("_push", code, path, url, "1.0")
        report("second", second, ch["changed"] + ch["joined"], ch["left"], False)
        third = run_worker("_push", code, path, url, "1.0")
        print(f"   third, no change: wall {third['wall_s']} s, CPU {third['cpu_s']} s, "
              f"requests {third['requests']}")
    finally:
        proc.terminate()
        proc.wait()
        for suffix in ("", ".wal", ".tmp"):
            if os.path.isfile(path + suffix):
                os.remove(path + suffix)
    return {"first": first, "second": second, "third": third, "churn": ch}


def measure_burst(code: Path, rows: int, tmp: str, label: str, sink: bool = False,
                  emulator: Path = REPO) -> dict[str, Any]:
    """An initial push at the published limits (the client paces itself to them): to the
    emulator (of checkout ``emulator``) with its rate limits on, or (``sink``) to a Klaviyo
    that answers at once (bench/_sink.py), which shows the loader's own share of the time
    between POSTs."""
    path = os.path.join(tmp, f"burst-{label}.duckdb")
    build(path, rows)
    proc, url = (None, "sink") if sink else start_emulator("on", emulator)
    try:
        emulator_cpu = process_cpu(proc.pid) if proc is not None else None
        stats = run_worker("_push", code, path, url, "1.0")
        if proc is not None and emulator_cpu is not None:
            after = process_cpu(proc.pid)
            stats["emulator_cpu_s"] = round(after - emulator_cpu, 2) if after else None
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
        for suffix in ("", ".wal", ".tmp"):
            if os.path.isfile(path + suffix):
                os.remove(path + suffix)
    jobs = stats["import_jobs"]
    floor = floor_seconds(jobs)
    stats["floor_s"] = round(floor, 2)
    stats["of_floor"] = floor / stats["wall_s"]
    stats["posts_of_floor"] = floor / max(stats["posts_s"], 1e-9)
    print(f"   burst at published limits{' to the sink' if sink else ''}, {rows:,} profiles, "
          f"{jobs} jobs: wall "
          f"{stats['wall_s']} s (push start to last job confirmed), loader CPU "
          f"{stats['cpu_s']} s; the limits allow {floor:.1f} s → {stats['of_floor']:.0%} of "
          f"that floor; first POST to last accept {stats['posts_s']} s → "
          f"{stats['posts_of_floor']:.0%}; throttled {stats['throttled']}, pacing waits "
          f"{stats['paced_s']} s")
    print(f"      push start to first POST {stats['before_posts_s']} s, last accept to the end "
          f"{stats['after_posts_s']} s (to the last jobs seen complete {stats['to_done_s']} s, "
          f"then confirmation and recording {stats['done_to_end_s']} s)"
          + (f"; emulator CPU {stats['emulator_cpu_s']} s" if stats.get("emulator_cpu_s")
             is not None else ""))
    return stats


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far, all its threads (Linux /proc;
    None elsewhere): the emulator's own work during a burst, whatever the machine's load."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def measure_memory(code: Path, rows: int, tmp: str, label: str) -> dict[str, Any]:
    path = os.path.join(tmp, f"memory-{label}.duckdb")
    build(path, rows)
    try:
        stats = run_worker("_push", code, path, "sink", "1.0")
    finally:
        for suffix in ("", ".wal", ".tmp"):
            if os.path.isfile(path + suffix):
                os.remove(path + suffix)
    print(f"   initial push of {rows:,} to a sink: peak RSS {stats['peak_rss_mb']} MB, "
          f"loader CPU {stats['cpu_s']} s ({rows / max(stats['cpu_s'], 1e-9):,.0f} profiles/s), "
          f"wall {stats['wall_s']} s, {stats['import_jobs']} jobs, {stats['body_mb']} MB sent")
    return stats


def median_stats(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One run's stats as they are; several runs' numeric figures as their medians (the
    others from the first run), with every run's wall in ``walls``."""
    if len(runs) == 1:
        return runs[0]
    out = dict(runs[0])
    for k, v in runs[0].items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            vals = [r[k] for r in runs if isinstance(r.get(k), int | float)]
            out[k] = round(statistics.median(vals), 3)
    if "floor_s" in out:  # the shares of the floor, of the median times
        out["of_floor"] = out["floor_s"] / out["wall_s"]
        out["posts_of_floor"] = out["floor_s"] / max(out["posts_s"], 1e-9)
    out["walls"] = [r["wall_s"] for r in runs]
    print(f"   medians of {len(runs)} runs: wall {out['wall_s']:.2f} s (runs "
          f"{', '.join(str(w) for w in out['walls'])})")
    return out


def load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    """The issue's table, one column per checkout."""
    names = list(results)
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, fn: Any) -> None:
        vals = []
        for n in names:
            try:
                vals.append(fn(results[n]))
            except (KeyError, TypeError):
                vals.append("—")
        rows.append((label, vals))

    r1 = f"{args.rows:,}"
    row(f"initial push of {r1}, loader CPU", lambda r: f"{r['pushes']['first']['cpu_s']} s "
        f"({args.rows / r['pushes']['first']['cpu_s']:,.0f} profiles/s)")
    row("initial push, wall", lambda r: f"{r['pushes']['first']['wall_s']} s")
    row("second push (1 % changed, 0.5 % left, 0.5 % joined), loader CPU",
        lambda r: f"{r['pushes']['second']['cpu_s']} s")
    row("second push, wall", lambda r: f"{r['pushes']['second']['wall_s']} s")
    row("third push, nothing changed, wall", lambda r: f"{r['pushes']['third']['wall_s']} s "
        f"(CPU {r['pushes']['third']['cpu_s']} s)")
    row(f"burst at published limits, {args.limited_rows:,} profiles, wall",
        lambda r: f"{r['burst']['wall_s']} s, {r['burst']['of_floor']:.0%} of the "
        f"{r['burst']['floor_s']} s floor (CPU {r['burst']['cpu_s']} s)")
    row("burst: first import POST to last accepted",
        lambda r: f"{r['burst']['posts_s']} s, {r['burst']['posts_of_floor']:.0%} of the floor")
    row("burst: push start to first POST, last accept to the end",
        lambda r: f"{r['burst']['before_posts_s']} s, {r['burst']['after_posts_s']} s")
    row("burst: last accept to the last jobs seen complete, then to the end",
        lambda r: f"{r['burst']['to_done_s']} s, {r['burst']['done_to_end_s']} s")
    row("burst: the emulator's CPU", lambda r: f"{r['burst']['emulator_cpu_s']} s")
    row("the same burst to an instant Klaviyo (sink): first POST to last accepted",
        lambda r: f"{r['burst_sink']['posts_s']} s, {r['burst_sink']['posts_of_floor']:.0%} "
        f"of the floor")
    row(f"peak memory, initial push of {args.memory_rows:,}",
        lambda r: f"{r['memory']['peak_rss_mb']:.0f} MB (CPU {r['memory']['cpu_s']} s)")
    row(f"campaign build vs hand-written SQL at {args.campaign_customers:,}",
        lambda r: f"{r['campaign']['wall']:.2f} s vs {r['campaign']['hand']:.2f} s "
        f"({r['campaign']['wall'] / r['campaign']['hand']:.2f}×)")
    row("dbt compile of the campaign model (of it, Python's garbage collector)",
        lambda r: f"{r['campaign']['compile']:.2f} s ({r['campaign']['compile_gc']:.2f} s)")
    width = max(len(label) for label, _ in rows)
    cols = [max(len(n), *(len(v[i]) for _, v in rows)) for i, n in enumerate(names)]
    print(f"\n| {'measure':<{width}} | " + " | ".join(
        f"{n:<{c}}" for n, c in zip(names, cols, strict=True)) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * (c + 2) for c in cols) + "|")
    for label, vals in rows:
        print(f"| {label:<{width}} | " + " | ".join(
            f"{v:<{c}}" for v, c in zip(vals, cols, strict=True)) + " |")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_push":
        push_worker(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="100k profiles, 100k in the burst, no 10M memory run, no dbt")
    ap.add_argument("--rows", type=int, default=None, help="pushes 1-3 (default 1,000,000)")
    ap.add_argument("--limited-rows", type=int, default=None,
                    help="the burst at published limits (default 200,000; 0 skips)")
    ap.add_argument("--memory-rows", type=int, default=None,
                    help="the end-to-end memory run (default 10,000,000; 0 skips)")
    ap.add_argument("--campaign-customers", type=int, default=None,
                    help="campaign build vs hand-written SQL (default 1,000,000; 0 skips)")
    ap.add_argument("--repeats", type=int, default=2, help="campaign build: best of N")
    ap.add_argument("--only", nargs="+", choices=["pushes", "burst", "burst_sink", "memory",
                                                  "campaign"],
                    help="run only these measurements")
    ap.add_argument("--compare-with", metavar="REF", default=None,
                    help="also measure this git ref (a temporary worktree), alternating")
    ap.add_argument("--burst-runs", type=int, default=1,
                    help="the bursts: N runs a checkout, alternated; medians reported")
    ap.add_argument("--each-emulator", action="store_true",
                    help="the burst of each checkout runs that checkout's emulator (default: "
                    "this checkout's for both)")
    args = ap.parse_args()
    q = args.quick
    args.rows = args.rows or (100_000 if q else 1_000_000)
    args.limited_rows = args.limited_rows if args.limited_rows is not None else (
        100_000 if q else 200_000)
    args.memory_rows = args.memory_rows if args.memory_rows is not None else (
        0 if q else 10_000_000)
    args.campaign_customers = args.campaign_customers if args.campaign_customers is not None \
        else (0 if q else 1_000_000)
    from loader.klaviyo.limits import IMPORT_MAX_PROFILES as published
    from loader.klaviyo.limits import limit

    lim = limit("bulk_import_profiles")
    assert (published, lim.burst_per_s, lim.steady_per_min) == (
        IMPORT_MAX_PROFILES, IMPORT_BURST_PER_S, IMPORT_STEADY_PER_MIN)
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()
    print(f"sync benchmark; machine {os.cpu_count()} cores, load average {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        codes: dict[str, Path] = {}
        if args.compare_with:
            before = Path(tmp) / "before"
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(before),
                            args.compare_with], check=True, capture_output=True)
            codes[f"before ({args.compare_with})"] = before
        codes[f"this ({head})"] = REPO
        results: dict[str, dict[str, Any]] = {n: {} for n in codes}
        try:
            steps = [("pushes", args.rows, measure_pushes),
                     ("burst", args.limited_rows, measure_burst),
                     ("burst_sink", args.limited_rows, functools.partial(measure_burst,
                                                                         sink=True)),
                     ("memory", args.memory_rows, measure_memory)]
            for key, n, fn in steps:
                if not n or (args.only and key not in args.only):
                    continue
                runs: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
                for i in range(args.burst_runs if key.startswith("burst") else 1):
                    for name, code in codes.items():  # alternating, step by step
                        print(f"\n== {key}, {name}, load average {load()}", flush=True)
                        kw = {"emulator": code} if key == "burst" and args.each_emulator \
                            else {}
                        runs[name].append(fn(code, n, tmp, key + name.split()[0] + str(i),
                                             **kw))
                for name in codes:
                    results[name][key] = median_stats(runs[name])
            if args.campaign_customers and (not args.only or "campaign" in args.only):
                sys.path.insert(0, str(REPO / "bench"))
                import campaign_bench

                other = codes[next(iter(codes))]
                print(f"\n== campaign build, {args.campaign_customers:,} customers, "
                      f"load average {load()}", flush=True)
                res = campaign_bench.compare_results(args.campaign_customers, args.repeats,
                                                     other)
                for name, code in codes.items():
                    r = res["this" if code == REPO else "other"]
                    results[name]["campaign"] = {"wall": r["wall"] + r["compile"],
                                                 "hand": res["hand"]["wall"],
                                                 "compile": r["compile"], "cpu": r["cpu"],
                                                 "compile_gc": r["compile_gc"]}
                    print(f"   {name}: compile {r['compile']:.2f} s (of it garbage collection "
                          f"{r['compile_gc']:.2f} s) + build {r['wall']:.2f} s "
                          f"(CPU {r['cpu']:.2f} s); hand-written {res['hand']['wall']:.2f} s "
                          f"(CPU {res['hand']['cpu']:.2f} s)")
        finally:
            if args.compare_with:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                                str(Path(tmp) / "before")], check=False, capture_output=True)
        print(f"\nload average at the end {load()}")
        table(results, args)


if __name__ == "__main__":
    main()

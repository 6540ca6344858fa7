"""Where a push's CPU goes: every SQL statement of three pushes timed, on sync_bench's data.

The pushes of ``bench/sync_bench.py`` (an initial push of N profiles; a second after 1 %
changed, 0.5 % left and 0.5 % joined; a third with nothing changed), run in this process
against the bundled emulator in its own process, each connection of the loader wrapped so that
every statement's wall and CPU time (the process's, DuckDB's threads included) is summed by
its first 150 characters. Prints, per push, the 25 costliest statements and the Python
functions with the most time of their own (cProfile). docs/benchmarks.md quotes it per
statement.

    .venv/bin/python -u bench/statements_bench.py --rows 1000000
    .venv/bin/python -u bench/statements_bench.py --rows 1000000 --checkout /path/to/other/tree
    .venv/bin/python -u bench/statements_bench.py --rows 10000000 --sink --unpaced

``--sink``: Klaviyo is ``bench/_sink.py`` inside this process instead of the emulator, for
audiences the emulator cannot hold (10M profiles need ~15 GB in it, and its import jobs take
a quarter of an hour); the loader's statements are the same, its HTTP share is not measured.
``--unpaced``: the loader's pacer does not wait for the published rate limits (its statements
are the same; a 10M first push's 1,000 import jobs otherwise take seven minutes of waiting).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--checkout", default=str(HERE.parent),
                    help="the tree whose loader is timed (default: this one)")
    ap.add_argument("--sink", action="store_true",
                    help="answer Klaviyo's calls in this process (bench/_sink.py), no emulator")
    ap.add_argument("--unpaced", action="store_true",
                    help="do not wait for the published rate limits (same statements)")
    args = ap.parse_args()
    code = str(Path(args.checkout).resolve())
    sys.path[:0] = [code, str(HERE)]
    os.chdir(code)
    import _emulator
    import duckdb
    import sync_bench

    sys.path.insert(0, code)  # (sync_bench put this tree first: the timed tree goes before it)

    import loader.store.lock as lock
    from loader.config import Settings
    from loader.klaviyo.client import KlaviyoClient
    from loader.sync import PushOptions, push
    print(f"timing the loader at {Path(lock.__file__).resolve().parents[2]}", flush=True)

    stats: dict[str, list[float]] = {}

    class Timed:
        """A connection whose statements are timed (everything else passes through)."""

        def __init__(self, con: Any) -> None:
            self._con = con

        def execute(self, sql: str, *a: Any, **k: Any) -> Any:
            w0, c0 = time.perf_counter(), time.process_time()
            r = self._con.execute(sql, *a, **k)
            s = stats.setdefault(" ".join(str(sql).split())[:150], [0, 0.0, 0.0])
            s[0] += 1
            s[1] += time.perf_counter() - w0
            s[2] += time.process_time() - c0
            return self if r is self._con else r

        def __getattr__(self, name: str) -> Any:
            return getattr(self._con, name)

        def __enter__(self) -> Timed:
            return self

        def __exit__(self, *a: Any) -> Any:
            return self._con.__exit__(*a)

    real = duckdb.connect
    lock.duckdb.connect = lambda *a, **k: Timed(real(*a, **k))  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.duckdb")
        sync_bench.build(path, args.rows)
        sink = None
        if args.sink:
            from _sink import SinkAdapter

            proc, url, sink = None, "http://sink.invalid", SinkAdapter()
        else:
            proc, url = _emulator.start_emulator("--rate-limits", "off", "--api-key",
                                                 sync_bench.KEY, stop_after=3600)
        settings = Settings.from_env({"KLAVIYO_BASE_URL": url,
                                      "KLAVIYO_API_KEY": sync_bench.KEY, "DUCKDB_PATH": path})

        def run(label: str) -> None:
            stats.clear()
            client = KlaviyoClient.from_settings(settings,
                                                 rate_scale=1000.0 if args.unpaced else 1.0)
            if sink is not None:
                client.session.mount(url, sink)
            profile = cProfile.Profile()
            w0, c0 = time.perf_counter(), time.process_time()
            profile.enable()
            result = push(settings, PushOptions(campaigns=["bench"]), client=client)
            profile.disable()
            print(f"=== {label} push: wall {time.perf_counter() - w0:.2f} s, "
                  f"CPU {time.process_time() - c0:.2f} s, error {result.error}; "
                  + ", ".join(f"{r.list_name}: added {r.added} updated {r.updated} "
                              f"removed {r.removed} unchanged {r.unchanged}"
                              for r in result.lists))
            print(f"  SQL CPU in all: {sum(v[2] for v in stats.values()):.2f} s")
            for sql, (n, wall, cpu) in sorted(stats.items(), key=lambda kv: -kv[1][2])[:25]:
                print(f"  {cpu:6.2f} cpu {wall:6.2f} wall x{int(n):<4} {sql}")
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(12)
            print(out.getvalue()[-3000:])

        try:
            run("first")
            sync_bench.churn(path, args.rows)
            run("second")
            run("third")
        finally:
            if proc is not None:
                proc.terminate()


if __name__ == "__main__":
    main()

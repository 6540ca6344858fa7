"""Benchmark of recording a delivery's recipients (docs/benchmarks.md, "Recipient spans").

The loader's own ``Store.record_recipients`` on ``bench/sync_bench.py``'s audience of N
profiles (one list; ``list_members`` filled with every sendable row, as a push confirms them):
the first delivery, then ``sync_bench.churn`` (1 % changed, 0.5 % left, 0.5 % joined) and
more deliveries. Per delivery: CPU of the recording step (process time, DuckDB's threads
included), the rows of recipient history stored (``recipient_spans`` and ``recipients``) and
the database's used size after a checkpoint. No Klaviyo: only the recording step is timed.

    .venv/bin/python bench/recipients_bench.py --rows 1000000 --deliveries 4
    .venv/bin/python bench/recipients_bench.py --checkout /tmp/old --rows 1000000   # another tree
    .venv/bin/python bench/recipients_bench.py --deliveries 1 --second-identifiers 1
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--deliveries", type=int, default=4)
    parser.add_argument("--second-identifiers", type=float, default=0.0, metavar="PCT",
                        help="this %% of customers get a second row (another identifier, "
                             "another segment): a customer recorded from two rows")
    parser.add_argument("--checkout", default=str(Path(__file__).resolve().parents[1]),
                        help="the tree whose loader/ records (default: this one)")
    args = parser.parse_args()
    sys.path[:0] = [args.checkout, os.path.join(args.checkout, "bench")]
    import duckdb

    from loader.store import Store  # the checkout's, before sync_bench puts its tree first

    sync_bench = importlib.import_module("sync_bench")

    folder = tempfile.mkdtemp(prefix="recipients-bench-")
    path = os.path.join(folder, "bench.duckdb")
    sync_bench.build(path, args.rows)
    if args.second_identifiers:
        con = duckdb.connect(path)
        con.execute("insert into main.aud_bench select * replace ('second' || email as email, "
                    "'seg0' as segment_id) from main.aud_bench "
                    "where hash(amperity_id) % 10000 < ?", [round(args.second_identifiers * 100)])
        con.close()
    campaign = SimpleNamespace(
        campaign_id="bench", campaign_name="Bench", campaign_type="recurring",
        audience_relation='"main"."aud_bench"', identifier="email", destination_id="k",
        destination_name="K", launch_at=None, dbt_invocation_id="inv")
    print(f"checkout {args.checkout}, {args.rows:,} profiles")
    for n in range(1, args.deliveries + 1):
        if n == 2:
            sync_bench.churn(path, args.rows)
        con = duckdb.connect(path, config={"memory_limit": "256MB",  # as loader.store.lock
                                           "preserve_insertion_order": False})
        store = Store(con, "klaviyo_loader")
        store.ensure()
        with store.step("list_members"):
            con.execute("delete from klaviyo_loader.list_members")
            con.execute("insert into klaviyo_loader.list_members (account_id, list_id, "
                        "list_name, identifier, amperity_id) select 'acct', 'L1', list_name, "
                        "email, amperity_id from main.aud_bench where email is not null")
        con.execute("create temp table _notes (list_name varchar, identifier varchar, "
                    "amperity_id varchar, reason varchar, is_control boolean, "
                    "origin varchar)")
        con.execute("create temp table _sample (list_id varchar, identifier varchar)")
        store.open_delivery(f"d{n}", "run", "acct", "bench", datetime(2026, 1, n),
                            datetime(2026, 1, n), False)
        cpu = time.process_time()
        store.record_recipients(
            account_id="acct", run_id="run", delivery_id=f"d{n}", campaign=campaign,
            lists=[("Bench list", "L1")], identifier="email", is_sample=False,
            sample_table="_sample", notes_table="_notes", unchanged=0,
            at=datetime(2026, 1, n, 9))
        cpu = time.process_time() - cpu
        con.execute("checkpoint")
        rows = {t: con.execute(f"select count(*) from klaviyo_loader.{t}").fetchone()[0]
                for t in ("recipient_spans", "recipients") if store.exists(t)}
        used = con.execute("select sum(total_blocks - free_blocks) * any_value(block_size) "
                           "from pragma_database_size()").fetchone()[0]
        print(f"delivery {n}{' (after the churn)' if n >= 2 else ''}: recording CPU "
              f"{cpu:.2f} s; stored rows {rows}; database used {used / 1e6:.1f} MB",
              flush=True)
        con.close()
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    os.rmdir(folder)


if __name__ == "__main__":
    main()

"""What a push's aims leave room for: the bare passes this design cannot do without, timed alone.

Not the loader: plain DuckDB statements on the bench's audience (``sync_bench.build``/``churn``)
and on the loader's own state tables (``loader.store.schema``), so that a figure of the loader's
can be read against what the same machine needs for the work itself (docs/benchmarks.md, "What
the aims leave room for"):

1. an initial push's durable rows: one ``list_members``, one ``pending_rows`` and one
   ``recipient_spans`` row per profile (the least a crash-safe push with a recipient history
   writes), and one rendered JSON profile per row (``to_json``, lighter than a Klaviyo profile);
2. a 1 % push's change detection at its narrowest: one pass over the audience making
   (identifier, 64-bit hash of the mapped values) and one full join with the same two columns
   of state, keeping the keys that differ;
3. the same for the recipient history: (customer, list, 64-bit hash of the recorded columns)
   joined with the open spans' same three columns.

CPU is the process's user + system time around each statement (DuckDB's threads included).

    .venv/bin/python bench/floor_bench.py --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_bench import build, churn  # noqa: E402

from loader.store.schema import ensure_schema  # noqa: E402

S = "klaviyo_loader"
AUDIENCE = ("from main.aud_bench where list_name = 'Bench list' "
            "and not coalesce(is_control, false) and shrink_reason is null")
MAPPED = "first_name, last_name, city, zip, loyalty_tier, lifetime_revenue"
RECORDED = ("sub_audience_id, sub_audience_name, treatment_id, treatment_name, is_control, "
            "segment_id, segment_name")


def timed(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    """CPU seconds of one statement, committed."""
    c0 = time.process_time()
    con.execute("begin")
    con.execute(sql)
    con.execute("commit")
    return time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "floor.duckdb")
        build(path, args.rows)
        con = duckdb.connect(path)
        ensure_schema(con, S)
        out: dict[str, float] = {}
        # the rows as a plan leaves them (fingerprint made): only their writes are timed
        con.execute(f"""create temp table _rows as select email, amperity_id, campaign_id,
            {RECORDED}, cast(substr(amperity_id, 5) as bigint) as seq,
            'h' || to_hex(hash({MAPPED})) || '.' || to_hex(hash(email, {MAPPED})) as fp
            {AUDIENCE}""")
        con.execute("checkpoint")
        out["list_members rows"] = timed(con, f"""
            insert into {S}.list_members select 'acct', 'LIST01', 'Bench list', email, null,
                fp, amperity_id, now()::timestamp, now()::timestamp, null, null, null, 30
            from _rows""")
        out["pending_rows rows"] = timed(con, f"""
            insert into {S}.pending_rows select 'acct', 'LIST01', seq, 'upsert', email,
                amperity_id, fp, null, null, null, true, null, null, null, 30 from _rows""")
        out["recipient_spans rows"] = timed(con, f"""
            insert into {S}.recipient_spans select 'acct', campaign_id, amperity_id,
                sub_audience_id, sub_audience_name, treatment_id, treatment_name, false,
                'LIST01', segment_id, segment_name, 1, seq, null from _rows""")
        out["render JSON"] = timed(con, f"""
            create temp table _rendered as select to_json(struct_pack(email, {MAPPED})) as j
            {AUDIENCE}""")
        con.execute(f"""create table narrow_state as select email as identifier,
            hash({MAPPED}) as fp {AUDIENCE}""")
        con.execute(f"""create table narrow_spans as select amperity_id, list_name,
            hash({RECORDED}) as rh {AUDIENCE}""")
        con.close()
        churn(path, args.rows)
        con = duckdb.connect(path)
        out["1 % push: change detection"] = timed(con, f"""
            create temp table _changed as select n.identifier, s.identifier as s_identifier
            from (select email as identifier, hash({MAPPED}) as fp {AUDIENCE}) as n
            full join narrow_state as s on s.identifier = n.identifier
            where n.fp is distinct from s.fp""")
        out["1 % push: history"] = timed(con, f"""
            create temp table _spans as select n.amperity_id, o.amperity_id as o_amperity_id
            from (select amperity_id, list_name, hash({RECORDED}) as rh {AUDIENCE}) as n
            full join narrow_spans as o on o.amperity_id = n.amperity_id
                and o.list_name = n.list_name
            where n.rh is distinct from o.rh""")
        changed = con.execute("select count(*) from _changed").fetchone()
        con.close()
    print(f"{args.rows:,} profiles ({changed[0] if changed else 0:,} keys changed at the "
          f"1 % push), CPU seconds:")
    for k, v in out.items():
        print(f"  {k:<30} {v:6.2f}")
    first = sum(v for k, v in out.items() if not k.startswith("1 %"))
    print(f"  {'initial push floor (sum)':<30} {first:6.2f}")
    print(f"  {'1 % push floor (sum)':<30} "
          f"{out['1 % push: change detection'] + out['1 % push: history']:6.2f}")


if __name__ == "__main__":
    main()

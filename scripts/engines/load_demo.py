"""Demo data into the warehouse of a dbt target: generated in DuckDB, copied to PostgreSQL/Spark.

    python scripts/engines/load_demo.py --target postgres --customers 5000

Reads the same profiles.yml target as dbt (DBT_TARGET / --target and its variables). On the
duckdb target this is `loader demo-data`. The generated DuckDB file is a temporary one unless
--duckdb-path names it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from loader import demo_data
from loader.engines import connect, read_target
from loader.engines.copy import copy_from_duckdb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=None, help="dbt target (default: DBT_TARGET)")
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--schema", default="amperity")
    parser.add_argument("--duckdb-path", default=None, help="keep the generated DuckDB file")
    args = parser.parse_args(argv)

    target = read_target(args.target)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="klaviyo-demo-") as tmp:
        path = Path(args.duckdb_path or (str(target.settings["path"]) if target.type == "duckdb"
                                          else Path(tmp) / "demo.duckdb"))
        demo_data.generate(path, args.customers, args.seed, args.schema)
        if target.type == "duckdb":
            print(f"demo data: {args.customers:,} customers into {path}")
            return 0
        with connect(target) as warehouse:
            counts = copy_from_duckdb(path, args.schema, demo_data.TABLES, warehouse)
    print(f"demo data: {args.customers:,} customers into {target.describe()} "
          f"in {time.perf_counter() - started:.1f}s")
    for table, rows in counts.items():
        print(f"  {args.schema}.{table:<22} {rows:>12,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())

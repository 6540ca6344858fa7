"""`loader demo-data`: write the Amperity-shaped demo tables into the DuckDB file."""

from __future__ import annotations

import time

import typer

from loader import demo_data
from loader.cli._app import app, guarded
from loader.config import DEFAULT_DUCKDB_PATH


@app.command("demo-data")
@guarded
def demo_data_command(
    customers: int = typer.Option(
        5000, "--customers", "-n", help="How many customers (1 to 100,000,000)."
    ),
    seed: int = typer.Option(
        42, "--seed", help="Same seed and N give the same data; customer i never depends on N."
    ),
    schema: str = typer.Option(
        "amperity", "--schema", help="Schema the six source tables are written to (replaced)."
    ),
    duckdb_path: str = typer.Option(
        DEFAULT_DUCKDB_PATH,
        "--duckdb-path",
        envvar="DUCKDB_PATH",
        help="The DuckDB file (created if missing). Defaults to $DUCKDB_PATH.",
    ),
    memory_limit: str | None = typer.Option(
        None, "--memory-limit", help="DuckDB memory limit for the run, e.g. 4GB."
    ),
) -> None:
    """Generate deterministic demo data in Amperity's standard shapes (docs/data.md)."""
    started = time.perf_counter()
    result = demo_data.generate(
        duckdb_path, customers, seed, schema, memory_limit=memory_limit
    )
    elapsed = time.perf_counter() - started
    print(
        f"demo data: {customers:,} customers (seed {seed}) into "
        f"{result.duckdb_path} schema {result.schema} in {elapsed:.1f}s"
    )
    for table, rows in result.row_counts.items():
        print(f"  {result.schema}.{table:<22} {rows:>12,} rows")

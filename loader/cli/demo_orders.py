"""`loader demo-orders`: simulate campaign recipients' orders with planted effects (demo)."""

from __future__ import annotations

import typer

from loader.cli._app import app, guarded


@app.command("demo-orders")
@guarded
def demo_orders_command(
    seed: int = typer.Option(7, "--seed", help="Same recipients and seed give the same orders."),
    schema: str = typer.Option(
        "amperity", "--schema", help="Schema of the transactions source (unified_transactions)."
    ),
    duckdb_path: str | None = typer.Option(
        None, "--duckdb-path", envvar="DUCKDB_PATH", help="The warehouse file."
    ),
) -> None:
    """Demo only: write the orders recipients of every pushed delivery place over the next
    weeks, with the planted effect of each treatment (docs/results.md). Replaces earlier
    simulated orders; then `dbt build --select results` measures them."""
    from loader import demo_orders
    from loader.config import Settings
    from loader.errors import WarehouseError
    from loader.state import connect

    settings = Settings.from_env()
    path = duckdb_path or settings.duckdb_path
    con = connect(path)
    try:
        result = demo_orders.simulate_orders(
            con, seed=seed, source_schema=schema, state_schema=settings.state_schema
        )
    finally:
        con.close()
    if not result.groups:
        raise WarehouseError(
            "No campaign recipients to simulate orders for.",
            hint="Run `loader push` first: orders are simulated for the recipients it records.",
        )
    print(f"demo orders: {result.orders:,} orders for the recipients of "
          f"{len({(g.campaign_id, g.delivery_id) for g in result.groups})} deliveries "
          f"(Klaviyo account {result.account_id}) into {schema}.unified_transactions "
          f"(seed {seed})")
    print(f"  {'campaign':<16} {'sub-audience':<16} {'treatment':<16} {'recipients':>10} "
          f"{'planted conversion lift':>24}")
    for g in result.groups:
        lift = "control" if g.is_control else f"{g.planted_lift * 100:+.1f} points"
        print(f"  {g.campaign_id:<16} {g.sub_audience_id:<16} {g.treatment_id:<16} "
              f"{g.recipients:>10,} {lift:>24}")

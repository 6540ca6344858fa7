"""The results models recover the effects the demo plants (docs/results.md, "Demo").

A fresh DuckDB holds synthetic campaign history: two campaigns of three groups of
``GROUP_SIZE`` recipients each (Offer A, Offer B, a holdout), written with the loader's own
state schema; ``loader.demo_orders.simulate_orders`` (the demo's generator) writes their
orders with the demo's planted effects for ``spring_sale`` (Offer A +15 points, Offer B none)
and a realistic +2 points for ``two_points``; then the real dbt project builds the results
models over them.

Size: 20,000 recipients a group. Conversion near 5-15 % gives a 95 % interval of about
+/- 0.6 points for the difference, so a 2-point lift is 6-7 standard errors from 0 (the test
is decisive: every planted lift excludes 0 with power above 0.9999), and revenue per recipient
(planted lift 1.94 for 2 points) about 7 standard errors. Each interval covers its planted
value with probability 95 % for a random seed; the seed is fixed, so the test is
deterministic. The build takes a few seconds.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from loader import demo_data, demo_orders
from loader.state import ensure_schema
from tests.fixtures.warehouse import BuiltWarehouse, warehouse_env

GROUP_SIZE = 20_000
SEED = 7
DELIVERED_AT = "2026-03-20 09:00:00"
EFFECTS = {
    **demo_orders.DEMO_EFFECTS,
    ("two_points", "offer_a"): 0.02,
    ("two_points", "offer_b"): 0.0,
}
GROUPS = (("offer_a", "Offer A", False), ("offer_b", "Offer B", False),
          ("holdout", "Holdout", True))


def _synthetic_history(con: duckdb.DuckDBPyConnection) -> None:
    ensure_schema(con, "klaviyo_loader")
    for n, campaign_id in enumerate(("spring_sale", "two_points")):
        for g, (treatment_id, treatment_name, is_control) in enumerate(GROUPS):
            con.execute(f"""
                insert into klaviyo_loader.campaign_recipients_legacy
                    (amperity_id, campaign_id, campaign_name, campaign_type, sub_audience_id,
                     sub_audience_name, treatment_id, treatment_name, is_control,
                     delivery_datetime, launch_datetime, account_id, delivery_id, is_sample)
                select 'cust-{n}-{g}-' || i::varchar, ?, ?, 'one_time', 'everyone', 'Everyone',
                    ?, ?, ?, ?::timestamp, null, 'acct-1', ?, false
                from range({GROUP_SIZE}) as t(i)""",
                [campaign_id, campaign_id.replace("_", " ").title(), treatment_id,
                 treatment_name, is_control, DELIVERED_AT, f"delivery-{campaign_id}"])


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    root = tmp_path_factory.mktemp("planted")
    path = root / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    try:
        demo_data.generate_into(con, customers=1)  # the source tables' shapes, no orders kept
        con.execute("delete from amperity.unified_transactions")
        _synthetic_history(con)
        result = demo_orders.simulate_orders(con, seed=SEED, effects=EFFECTS)
    finally:
        con.close()
    assert {(g.campaign_id, g.treatment_id): g.recipients for g in result.groups} == {
        (c, t): GROUP_SIZE for c in ("spring_sale", "two_points") for t, _, _ in GROUPS}
    warehouse = BuiltWarehouse(root=root, duckdb_path=path, env=warehouse_env(path),
                               customers=0, seed=SEED)
    warehouse.dbt("build", "--select", "+campaign_results", "+campaign_results_daily")
    return warehouse


def _row(warehouse: BuiltWarehouse, campaign_id: str, treatment_id: str) -> dict[str, object]:
    con = warehouse.connect()
    try:
        cur = con.execute(
            "select * from campaign_results where campaign_id = ? and treatment_id = ? "
            "and delivery_id <> 'all'", [campaign_id, treatment_id])
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    assert len(rows) == 1
    return dict(zip(names, rows[0], strict=True))


@pytest.mark.parametrize("campaign_id", ["spring_sale", "two_points"])
def test_each_planted_lift_is_inside_its_interval(measured: BuiltWarehouse,
                                                   campaign_id: str) -> None:
    for treatment_id in ("offer_a", "offer_b"):
        row = _row(measured, campaign_id, treatment_id)
        lift = EFFECTS[(campaign_id, treatment_id)]
        planted = {
            "conversion_lift": Decimal(str(lift)),
            "revenue_per_recipient_lift": Decimal(
                str(demo_orders.planted_revenue_per_recipient_lift(lift))),
        }
        assert row["comparison"] == "compared" and not row["is_partial"]
        assert row["recipients"] == GROUP_SIZE and row["control_recipients"] == GROUP_SIZE
        for figure, value in planted.items():
            low, high = row[f"{figure}_low"], row[f"{figure}_high"]
            assert low <= value <= high, (campaign_id, treatment_id, figure, low, value, high)
            if lift > 0:  # decisive: a planted effect is told from no effect
                assert low > 0, (campaign_id, treatment_id, figure, low, high)
                assert row["conversion_p_value" if figure == "conversion_lift"
                           else "revenue_per_recipient_p_value"] < Decimal("0.001")
            else:  # the null treatment's interval covers 0
                assert low <= 0 <= high, (campaign_id, treatment_id, figure, low, high)


def test_the_control_converts_at_the_baseline(measured: BuiltWarehouse) -> None:
    row = _row(measured, "two_points", "holdout")
    assert row["comparison"] == "control"
    # 20,000 draws of a 5 % rate: the standard error is 0.15 point
    assert abs(row["conversion_rate"] - Decimal(str(demo_orders.BASELINE_CONVERSION))) < Decimal(
        "0.006")


def test_the_daily_series_ends_at_the_window_figures(measured: BuiltWarehouse) -> None:
    con = measured.connect()
    try:
        mismatched = con.execute("""
            select d.campaign_id, d.treatment_id
            from campaign_results_daily as d
            inner join campaign_results as r
                on r.campaign_id = d.campaign_id and r.delivery_id = d.delivery_id
                and r.treatment_id = d.treatment_id and d.day_number = r.window_days
            where d.purchasers <> r.purchasers or d.revenue <> r.revenue
                or d.conversion_lift is distinct from r.conversion_lift
                or d.conversion_lift_low is distinct from r.conversion_lift_low
        """).fetchall()
        days = con.execute("""select count(distinct day_number), min(day_number), max(day_number)
            from campaign_results_daily""").fetchone()
    finally:
        con.close()
    assert mismatched == []
    assert days == (14, 1, 14)


def test_a_rerun_replaces_the_simulated_orders(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        demo_data.generate_into(con, customers=50)
        organic = con.execute("select count(*) from amperity.unified_transactions").fetchone()
        ensure_schema(con, "klaviyo_loader")
        con.execute("""insert into klaviyo_loader.campaign_recipients_legacy
            (amperity_id, campaign_id, sub_audience_id, treatment_id, is_control,
             delivery_datetime, account_id, delivery_id, is_sample)
            select 'c' || i::varchar, 'spring_sale', 'everyone', 'offer_a', false,
                timestamp '2026-03-20 09:00', 'a', 'd', false from range(2000) as t(i)""")
        first = demo_orders.simulate_orders(con, seed=3)
        totals = "select count(*), sum(order_revenue) from amperity.unified_transactions"
        orders = con.execute(totals).fetchone()
        second = demo_orders.simulate_orders(con, seed=3)
        again = con.execute(totals).fetchone()
    finally:
        con.close()
    assert first == second and orders == again
    assert orders[0] == organic[0] + first.orders

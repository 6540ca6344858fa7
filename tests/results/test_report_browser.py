"""`loader report`, looked at as a person would: in headless Chromium.

A copy of the session's built demo warehouse is pushed for real (the emulator on 127.0.0.1),
the weekly win-back a second time at its next tick; the demo's orders are simulated and the
results models rebuilt; `loader report` writes the pages. Each page must load with no console
error, no exception and no request beyond its own file (self-contained), draw every plot with
data in it, and show the models' figures. A full-page screenshot of each page is saved under
tests/out/report/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from klaviyo_emulator import Emulator
from loader import demo_orders
from loader.cli import app
from tests.fixtures.warehouse import BuiltWarehouse, warehouse_env
from tests.results.chromium import Chromium, find_chromium

SCREENSHOTS = Path(__file__).resolve().parents[1] / "out" / "report"
CAMPAIGNS = ("spring_sale", "winback_weekly", "outdoor_launch")
PLOTS = {"plot-lifts", "plot-daily-conversion", "plot-daily-revenue", "plot-funnel",
         "plot-treatments", "plot-shares", "plot-deliveries"}


def _cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, f"loader {' '.join(args)}: {result.output}"
    return result.stdout


def _next_monday_8(now: datetime) -> datetime:
    day = now + timedelta(days=(7 - now.weekday()) % 7 or 7)
    return day.replace(hour=8, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def reported(built_warehouse: BuiltWarehouse,
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("report")
    path = root / built_warehouse.duckdb_path.name  # same name: the registry's relations hold
    shutil.copyfile(built_warehouse.duckdb_path, path)
    warehouse = BuiltWarehouse(root=root, duckdb_path=path, env=warehouse_env(path),
                               customers=built_warehouse.customers, seed=built_warehouse.seed)
    emulator = Emulator()
    emulator.start()
    try:
        env = {"KLAVIYO_BASE_URL": emulator.base_url, "KLAVIYO_API_KEY": emulator.api_key,
               "DUCKDB_PATH": str(path), "COLUMNS": "200"}
        _cli(env, "push", "--quiet")
        tick = _next_monday_8(datetime.now(UTC).replace(tzinfo=None))
        _cli(env, "push", "winback_weekly", "--quiet", "--at", tick.isoformat())
    finally:
        emulator.stop()
    con = duckdb.connect(str(path))
    try:
        demo_orders.simulate_orders(con)
    finally:
        con.close()
    warehouse.dbt("build", "--select", "path:models/results")
    output = root / "pages"
    printed = _cli({"DUCKDB_PATH": str(path)}, "report", "--output", str(output))
    return {"warehouse": warehouse, "output": output, "printed": printed}


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make browser` installs it (apt-get, as root)")
        pytest.skip("chromium is not installed (`make browser` installs it)")
    chromium = Chromium(binary)
    try:
        yield chromium
    finally:
        chromium.close()


def _model_rows(warehouse: BuiltWarehouse, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    con = warehouse.connect()
    try:
        cur = con.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


PLOT_STATE = """
Array.from(document.querySelectorAll('[data-plot]')).map(el => {
  const gd = el.querySelector('.js-plotly-plot');
  const box = gd ? gd.getBoundingClientRect() : {width: 0, height: 0};
  const present = v => v !== null && v !== undefined;
  const points = t => ['x', 'y'].map(k => (t[k] || []).filter(present).length);
  return {
    id: el.dataset.plot, width: box.width, height: box.height,
    traces: gd && gd._fullData ? gd._fullData.map(t => Math.min(...points(t))) : [],
    marks: gd ? gd.querySelectorAll('.bars path, .scatterlayer .trace path').length : 0,
  };
})
"""

SHOWN = """
(() => {
  const fields = el => Object.fromEntries(Array.from(el.querySelectorAll('[data-field]'))
      .map(e => [e.dataset.field, e.textContent.trim()]));
  return {
    results: Array.from(document.querySelectorAll('table.results tr[data-row]'))
        .map(tr => ({key: tr.dataset.row, fields: fields(tr)})),
    cards: Array.from(document.querySelectorAll('.card[data-row]'))
        .map(card => ({key: card.dataset.row, fields: fields(card)})),
    funnel: Array.from(document.querySelectorAll('table.funnel tr[data-item]'))
        .map(tr => ({item: tr.dataset.item, fields: fields(tr)})),
    deliveries: document.querySelector('[data-field=campaign_deliveries]').textContent.trim(),
  };
})()
"""

NUMBER = re.compile(r"[+-]?[\d,]+(?:\.\d+)?")


def _numbers(text: str) -> list[Decimal]:
    return [Decimal(n.replace(",", "")) for n in NUMBER.findall(text)]


def _close(shown: Decimal, model: Any, scale: int, digits: int) -> bool:
    """The model's value, scaled, rounds to what is shown at the digits shown."""
    return abs(Decimal(model) * scale - shown) <= Decimal(1).scaleb(-digits) / 2 + Decimal("1e-9")


def _check_value(text: str, model: Any, scale: int, digits: int, label: str) -> None:
    if model is None:
        assert text in ("–", ""), (label, text)
        return
    numbers = _numbers(text)
    assert len(numbers) == 1 and _close(numbers[0], model, scale, digits), (label, text, model)


def _check_interval(text: str, low: Any, high: Any, scale: int, digits: int, label: str) -> None:
    numbers = _numbers(text)
    assert len(numbers) == 2, (label, text)
    assert _close(numbers[0], low, scale, digits) and _close(numbers[1], high, scale, digits), (
        label, text, low, high)


def _check_p(text: str, model: Any, label: str) -> None:
    if text.startswith("<"):
        assert Decimal(model) < Decimal("0.001"), (label, text, model)
    else:
        _check_value(text, model, 1, 3, label)


@pytest.mark.parametrize("campaign_id", CAMPAIGNS)
def test_page_loads_cleanly_and_draws_every_plot(reported: dict[str, Any], browser: Chromium,
                                                 campaign_id: str) -> None:
    page = reported["output"] / f"{campaign_id}.html"
    assert str(page) in reported["printed"]
    browser.open(page)
    browser.wait_until("document.querySelectorAll('[data-plot] .main-svg').length >= "
                       "document.querySelectorAll('[data-plot]').length")
    plots = browser.evaluate(PLOT_STATE)
    shot = browser.screenshot(SCREENSHOTS / f"{campaign_id}.png")
    assert browser.log.console_errors == [] and browser.log.exceptions == []
    assert browser.log.requests == [page.resolve().as_uri()]  # self-contained: nothing fetched
    assert {p["id"] for p in plots} == PLOTS
    for plot in plots:
        assert plot["width"] > 300 and plot["height"] > 150, plot
        assert plot["traces"] and all(n > 0 for n in plot["traces"]), plot
        assert plot["marks"] > 0, plot
    assert shot.stat().st_size > 50_000


@pytest.mark.parametrize("campaign_id", CAMPAIGNS)
def test_figures_shown_equal_the_models(reported: dict[str, Any], browser: Chromium,
                                        campaign_id: str) -> None:
    warehouse: BuiltWarehouse = reported["warehouse"]
    browser.open(reported["output"] / f"{campaign_id}.html")
    shown = browser.evaluate(SHOWN)
    results = {f"{r['delivery_id']}|{r['sub_audience_id']}|{r['treatment_id']}": r
               for r in _model_rows(warehouse, "select * from campaign_results "
                                    "where campaign_id = ?", [campaign_id])}
    expected_keys = {k for k, r in results.items()
                     if r["is_all_deliveries"] or r["campaign_type"] == "recurring"}
    assert {row["key"] for row in shown["results"]} == expected_keys
    for row in shown["results"]:
        model, fields, key = results[row["key"]], row["fields"], row["key"]
        for field in ("recipients", "purchasers"):
            assert int(fields[field].replace(",", "")) == model[field], (key, field)
        _check_value(fields["conversion_rate"], model["conversion_rate"], 100, 1, key)
        _check_value(fields["average_order_value"], model["average_order_value"], 1, 2, key)
        _check_value(fields["revenue_per_recipient"], model["revenue_per_recipient"], 1, 2, key)
        assert ("is_partial" in fields) == model["is_partial"], key
        if model["comparison"] != "compared":
            assert fields["comparison_note"] == model["comparison_note"], key
            assert "conversion_lift" not in fields, key
            continue
        for field, scale, digits in (("conversion_lift", 100, 1),
                                     ("revenue_per_recipient_lift", 1, 2),
                                     ("incremental_revenue", 1, 2)):
            _check_value(fields[field], model[field], scale, digits, f"{key} {field}")
            _check_interval(fields[f"{field}_interval"], model[f"{field}_low"],
                            model[f"{field}_high"], scale, digits, f"{key} {field}")
        _check_p(fields["conversion_p_value"], model["conversion_p_value"], key)
        _check_p(fields["revenue_per_recipient_p_value"], model["revenue_per_recipient_p_value"],
                 key)
    compared = {k for k, r in results.items()
                if r["is_all_deliveries"] and r["comparison"] == "compared"}
    assert {card["key"] for card in shown["cards"]} == compared
    for card in shown["cards"]:
        model = results[card["key"]]
        _check_value(card["fields"]["conversion_lift"], model["conversion_lift"], 100, 1,
                     card["key"])
        _check_interval(card["fields"]["conversion_lift_interval"], model["conversion_lift_low"],
                        model["conversion_lift_high"], 100, 1, card["key"])
    deliveries = {r["campaign_deliveries"] for r in results.values()}
    assert len(deliveries) == 1 and int(shown["deliveries"]) == deliveries.pop()
    funnel = {(r["step"], r["item_id"]): r for r in _model_rows(
        warehouse, "select * from campaign_funnel where campaign_id = ?", [campaign_id])}
    treatments = {item for step, item in funnel if step == "treatment"}
    assert {row["item"] for row in shown["funnel"]} == treatments
    for row in shown["funnel"]:
        fields, item = row["fields"], row["item"]
        for step in ("treatment", "shrink", "sendable", "recipients"):
            assert int(fields[step].replace(",", "")) == funnel[(step, item)]["customers"], (
                item, step)
        _check_value(fields["declared_percent"], funnel[("treatment", item)]["declared_percent"],
                     1, 2, item)
        _check_value(fields["share_percent"], funnel[("treatment", item)]["share_percent"], 1, 2,
                     item)


def test_the_recurring_campaign_shows_each_delivery(reported: dict[str, Any]) -> None:
    warehouse: BuiltWarehouse = reported["warehouse"]
    deliveries = _model_rows(warehouse, "select distinct delivery_id from campaign_results "
                             "where campaign_id = 'winback_weekly' and not is_all_deliveries", [])
    assert len(deliveries) == 2
    page = (reported["output"] / "winback_weekly.html").read_text(encoding="utf-8")
    for row in deliveries:
        assert f'data-delivery="{row["delivery_id"]}"' in page


@pytest.fixture(scope="module")
def pushed_after(reported: dict[str, Any],
                 tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A copy of the reported warehouse pushed again without rebuilding the results models:
    the weekly win-back at its following tick, and the one-time spring sale after some of its
    audience left (rows deleted from its audience table)."""
    built: BuiltWarehouse = reported["warehouse"]
    root = tmp_path_factory.mktemp("report-stale")
    path = root / built.duckdb_path.name
    shutil.copyfile(built.duckdb_path, path)
    warehouse = BuiltWarehouse(root=root, duckdb_path=path, env=warehouse_env(path),
                               customers=built.customers, seed=built.seed)
    con = duckdb.connect(str(path))
    try:
        relation = con.execute("select audience_relation from klaviyo_campaigns "
                               "where campaign_id = 'spring_sale'").fetchone()[0]
        con.execute(f"delete from {relation} where amperity_id in (select amperity_id from "
                    f"{relation} where not coalesce(is_control, false) order by amperity_id "
                    f"limit 5)")
    finally:
        con.close()
    emulator = Emulator()
    emulator.start()
    try:
        env = {"KLAVIYO_BASE_URL": emulator.base_url, "KLAVIYO_API_KEY": emulator.api_key,
               "DUCKDB_PATH": str(path), "COLUMNS": "200"}
        tick = _next_monday_8(datetime.now(UTC).replace(tzinfo=None)) + timedelta(days=7)
        _cli(env, "push", "winback_weekly", "--quiet", "--at", tick.isoformat())
        _cli(env, "push", "spring_sale", "--quiet")
    finally:
        emulator.stop()
    result = CliRunner().invoke(app, ["report", "--output", str(root / "stale")],
                                env={"DUCKDB_PATH": str(path)})
    assert result.exit_code == 0, result.output
    return {"warehouse": warehouse, "root": root, "result": result}


def test_a_report_says_which_deliveries_its_models_miss(pushed_after: dict[str, Any]) -> None:
    """Pushed after the results models were built: the report says so, on the page and on
    stderr, for those campaigns only; rebuilt, it measures them and says nothing."""
    result, root = pushed_after["result"], pushed_after["root"]
    warnings = [line for line in result.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 2, result.stderr
    assert all("1 delivery" in w and "dbt build --select path:models/results" in w
               for w in warnings), warnings
    for campaign_id, stale in (("winback_weekly", True), ("spring_sale", True),
                               ("outdoor_launch", False)):
        page = (root / "stale" / f"{campaign_id}.html").read_text(encoding="utf-8")
        assert ('data-field="unmeasured"' in page) is stale, campaign_id
    warehouse: BuiltWarehouse = pushed_after["warehouse"]
    warehouse.dbt("build", "--select", "path:models/results")
    again = CliRunner().invoke(app, ["report", "--output", str(root / "fresh")],
                               env={"DUCKDB_PATH": str(warehouse.duckdb_path)})
    assert again.exit_code == 0, again.output
    assert "warning:" not in again.stderr
    for campaign_id in CAMPAIGNS:
        page = (root / "fresh" / f"{campaign_id}.html").read_text(encoding="utf-8")
        assert 'data-field="unmeasured"' not in page, campaign_id
    spring = (root / "fresh" / "spring_sale.html").read_text(encoding="utf-8")
    assert "pushed again after its audience changed, 2 deliveries" in spring
    assert "one delivery" not in spring
    assert "All deliveries" in spring

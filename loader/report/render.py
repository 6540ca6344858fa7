"""HTML for a campaign report: one self-contained file (styles, Plotly's script and every figure
inline; nothing is fetched when it is viewed). Numbers are the models' values, formatted."""

from __future__ import annotations

import html
from datetime import datetime
from decimal import Decimal
from typing import Any

import plotly.io as pio
from jinja2 import Environment
from plotly.offline import get_plotlyjs

from loader.report import figures
from loader.report.data import CampaignReportData, Row
from loader.report.template import INDEX, TEMPLATE

PLOT_CONFIG = {"displaylogo": False, "responsive": True, "displayModeBar": False}


# ---------------------------------------------------------------------------------------------
# formatting (display only: the values are the models')

def count(value: Any) -> str:
    return "–" if value is None else f"{int(value):,}"


def percent(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{float(value) * 100:.{digits}f} %"


def points(value: Any) -> str:
    return "–" if value is None else f"{float(value) * 100:+.1f} pts"


def signed_percent(value: Any) -> str:
    return "–" if value is None else f"{float(value) * 100:+.1f} %"


def money(value: Any) -> str:
    return "–" if value is None else f"{float(value):,.2f}"


def signed_money(value: Any) -> str:
    return "–" if value is None else f"{float(value):+,.2f}"


def p_value(value: Any) -> str:
    if value is None:
        return "–"
    return "< 0.001" if Decimal(value) < Decimal("0.001") else f"{float(value):.3f}"


def instant(value: datetime | None) -> str:
    return "–" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def interval(low: Any, high: Any, fmt: Any) -> str:
    """'low to high' in the unit of ``fmt`` (the unit written once, at the end)."""
    if low is None or high is None:
        return ""
    low_text, high_text = fmt(low), fmt(high)
    for unit in (" pts", " %"):
        if low_text.endswith(unit) and high_text.endswith(unit):
            return f"{low_text[:-len(unit)]} to {high_text}"
    return f"{low_text} to {high_text}"


# the normal approximation behind the conversion interval and test holds when each group has
# at least this many purchasers and as many recipients who did not buy (docs/results.md)
FEW = 5


def too_few(r: dict[str, Any]) -> bool:
    """A group or its control has fewer than ``FEW`` purchasers or non-purchasers: the
    conversion interval and p-value are too rough to call a direction."""
    counts = (r.get("purchasers"), r.get("recipients"), r.get("control_purchasers"),
              r.get("control_recipients"))
    if any(c is None for c in counts):
        return True
    x1, n1, x0, n0 = (int(c) for c in counts)
    return min(x1, n1 - x1, x0, n0 - x0) < FEW


def significant(low: Any, high: Any, p: Any = None, level: Any = None,
                rough: bool = False) -> str:
    """'up' / 'down' when the interval excludes 0 and the test agrees (its p-value below
    1 − the confidence level), else ''; '' too when ``rough`` (too few to tell). A reading of
    the model's bounds: with a tiny control group the Wald interval can exclude 0 while the
    test does not reject, and no direction is shown then."""
    if rough or low is None or high is None:
        return ""
    if p is not None and level is not None and Decimal(p) >= 1 - Decimal(level):
        return ""
    if Decimal(low) > 0:
        return "up"
    if Decimal(high) < 0:
        return "down"
    return ""


# ---------------------------------------------------------------------------------------------

def _plot(fig: Any, div_id: str, empty: str) -> str:
    if fig is None:
        return f'<p class="empty" data-empty="{div_id}">{html.escape(empty)}</p>'
    return ('<div class="plot" data-plot="' + div_id + '">'
            + pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id,
                          config=PLOT_CONFIG)
            + "</div>")


def _key(row: Row) -> str:
    return f"{row['delivery_id']}|{row['sub_audience_id']}|{row['treatment_id']}"


RESULT_COLUMNS = (
    ("recipients", "Recipients", count),
    ("purchasers", "Purchasers", count),
    ("conversion_rate", "Conversion", percent),
    ("average_order_value", "Avg order value", money),
    ("revenue_per_recipient", "Revenue / recipient", money),
)


def results_table(data: CampaignReportData, rows: list[Row], caption: str) -> str:
    several = figures.several_sub_audiences(data)
    accounts = len({r["account_id"] for r in data.results}) > 1
    out = [f'<h3>{html.escape(caption)}</h3><div class="scroll"><table class="results">', "<tr>"]
    if accounts:
        out.append('<th class="label">Account</th>')
    out.append('<th class="label">Group</th>')
    out += [f"<th>{title}</th>" for _, title, _ in RESULT_COLUMNS]
    out += ["<th>Conversion lift</th>", "<th>Revenue / recipient lift</th>",
            "<th>Incremental revenue</th>", "</tr>"]
    for r in rows:
        cls = ' class="control"' if r["is_control"] else ""
        out.append(f'<tr{cls} data-row="{html.escape(_key(r))}">')
        if accounts:
            out.append(f'<td class="label">{html.escape(str(r["account_id"]))}</td>')
        badge = ' <span class="badge control">control</span>' if r["is_control"] else ""
        partial = (' <span class="badge partial" data-field="is_partial">partial</span>'
                   if r["is_partial"] else "")
        out.append(f'<td class="label">{html.escape(figures.group_label(r, several))}'
                   f"{badge}{partial}</td>")
        for field, _, fmt in RESULT_COLUMNS:
            out.append(f'<td data-field="{field}">{fmt(r[field])}</td>')
        if r["comparison"] == "compared":
            for field, fmt, pfield in (("conversion_lift", points, "conversion_p_value"),
                                       ("revenue_per_recipient_lift", signed_money,
                                        "revenue_per_recipient_p_value")):
                rough = field == "conversion_lift" and too_few(r)
                direction = significant(r[f"{field}_low"], r[f"{field}_high"], r[pfield],
                                        r.get("confidence_level"), rough)
                few = (f'<span class="ci" data-field="{field}_too_few">too few purchasers to '
                       f"tell</span>" if rough else "")
                out.append(f'<td class="{direction}"><span data-field="{field}">{fmt(r[field])}'
                           f'</span><span class="ci" data-field="{field}_interval">'
                           f'{interval(r[f"{field}_low"], r[f"{field}_high"], fmt)}</span>'
                           f'<span class="ci">p {"" if p_value(r[pfield])[0] == "<" else "= "}'
                           f'<span data-field="{pfield}">{p_value(r[pfield])}</span></span>'
                           f"{few}</td>")
            bounds = interval(r["incremental_revenue_low"], r["incremental_revenue_high"],
                              signed_money)
            out.append(f'<td><span data-field="incremental_revenue">'
                       f'{signed_money(r["incremental_revenue"])}</span>'
                       f'<span class="ci" data-field="incremental_revenue_interval">{bounds}'
                       "</span></td>")
        else:
            note = r["comparison_note"] or ""
            out.append(f'<td class="label note" colspan="3" data-field="comparison_note">'
                       f"{html.escape(note)}</td>")
        out.append("</tr>")
    out.append("</table></div>")
    return "".join(out)


def funnel_table(data: CampaignReportData) -> str:
    steps = [r for r in data.funnel if r["step"] == "treatment"]
    if not steps:
        return ""
    by = {(r["step"], r["item_id"]): r for r in data.funnel}
    several = figures.several_sub_audiences(data)
    out = ['<div class="scroll"><table class="funnel"><tr><th class="label">Treatment</th>',
           "<th>Declared %</th><th>Actual share</th><th>Assigned</th><th>Shrink</th>",
           "<th>Sendable</th><th>Recipients (latest delivery)</th></tr>"]
    for t in steps:
        item = t["item_id"]
        badge = ' <span class="badge control">control</span>' if t["is_control"] else ""
        out.append(f'<tr data-item="{html.escape(str(item))}"><td class="label">'
                   f"{html.escape(figures.group_label(t, several))}{badge}</td>")
        out.append(f'<td data-field="declared_percent">{float(t["declared_percent"]):.2f} %</td>')
        share = t["share_percent"]
        out.append(f'<td data-field="share_percent">'
                   f'{"–" if share is None else f"{float(share):.2f} %"}</td>')
        for step in ("treatment", "shrink", "sendable", "recipients"):
            row = by.get((step, item))
            out.append(f'<td data-field="{step}">{count(row["customers"] if row else None)}</td>')
        out.append("</tr>")
    out.append("</table></div>")
    return "".join(out)


def deliveries_table(data: CampaignReportData) -> str:
    ids = data.delivery_ids()
    if not ids:
        return ""
    out = ['<div class="scroll"><table class="deliveries"><tr><th class="label">#</th>'
           '<th class="label">Delivery</th>',
           "<th>Completed</th><th>Window</th><th>Recipients</th><th>Status</th></tr>"]
    for number, delivery_id in enumerate(ids, start=1):
        rows = [r for r in data.deliveries if r["delivery_id"] == delivery_id]
        first = rows[0]
        sizes = ", ".join(f"{figures.group_label(r, figures.several_sub_audiences(data))} "
                          f"{count(r['recipients'])}" for r in rows)
        status = ('<span class="badge partial">partial</span>' if first["is_partial"]
                  else '<span class="badge complete">complete</span>')
        out.append(f'<tr data-delivery="{html.escape(str(delivery_id))}">'
                   f'<td class="label">#{number}</td>'
                   f'<td class="label"><code>{html.escape(str(delivery_id))}</code></td>'
                   f"<td>{instant(first['delivery_datetime'])}</td>"
                   f"<td>{instant(first['window_start'])} → {instant(first['window_end'])}</td>"
                   f'<td class="label">{html.escape(sizes)}</td><td>{status}</td></tr>')
    out.append("</table></div>")
    return "".join(out)


def _schedule(campaign: Row) -> str:
    if campaign.get("schedule_cron"):
        return f"cron {campaign['schedule_cron']} (UTC)"
    if campaign.get("schedule_interval_minutes"):
        return f"every {campaign['schedule_interval_minutes']} minutes"
    if campaign.get("send_at"):
        return f"sent at {instant(campaign['send_at'])}"
    return "sent as soon as possible"


def unmeasured_text(data: CampaignReportData) -> str:
    """What the models miss: the deliveries pushed since they were built (one sentence)."""
    n = len(data.unmeasured)
    latest = data.unmeasured[-1][1]
    return (f"{n} deliver{'y' if n == 1 else 'ies'} (the latest at {instant(latest)}) "
            f"{'was' if n == 1 else 'were'} pushed after the results models were built and "
            f"{'is' if n == 1 else 'are'} not measured here: run `dbt build --select "
            f"path:models/results`, then `loader report` again.")


def render_campaign(data: CampaignReportData, generated: datetime) -> str:
    campaign = data.campaign
    is_recurring = campaign.get("campaign_type") == "recurring"
    delivered = len(data.delivery_ids())
    # a one-time campaign pushed again after its audience changed has several deliveries:
    # then it is shown as a recurring one is (all together, then each)
    per_delivery = is_recurring or delivered > 1
    summary_rows = data.all_deliveries
    level = (f"{float(summary_rows[0]['confidence_level']):.0%}" if summary_rows else "95%")
    several = figures.several_sub_audiences(data)
    headlines = [{
        "key": _key(r), "name": figures.group_label(r, several),
        "lift": points(r["conversion_lift"]),
        "direction": significant(r["conversion_lift_low"], r["conversion_lift_high"],
                                 r["conversion_p_value"], r.get("confidence_level"),
                                 too_few(r)),
        "too_few": too_few(r),
        "interval": interval(r["conversion_lift_low"], r["conversion_lift_high"], points),
        "rpr": signed_money(r["revenue_per_recipient_lift"]),
        "rpr_interval": interval(r["revenue_per_recipient_lift_low"],
                                 r["revenue_per_recipient_lift_high"], signed_money),
    } for r in summary_rows if r["comparison"] == "compared"]
    if summary_rows:
        tables = results_table(
            data, summary_rows,
            "All deliveries" if per_delivery
            else f"The delivery of {summary_rows[0]['delivery_datetime']:%Y-%m-%d %H:%M} UTC")
        if per_delivery:
            for delivery_id in reversed(data.delivery_ids()):
                rows = [r for r in data.deliveries if r["delivery_id"] == delivery_id]
                tables += results_table(
                    data, rows, f"Delivery {rows[0]['delivery_datetime']:%Y-%m-%d %H:%M} UTC")
        partial = any(r["is_partial"] for r in summary_rows)
        status = ('<span class="badge partial">partial: window not over</span>' if partial
                  else '<span class="badge complete">windows complete</span>')
        windows = sorted({int(r["window_days"]) for r in summary_rows})
        window = " / ".join(str(w) for w in windows) + " days from delivery or launch"
        as_of = instant(summary_rows[0]["as_of"])
        deliveries_measured = count(summary_rows[0]["campaign_deliveries"])
    else:
        tables = ('<p class="empty">No delivery measured yet: run <code>loader push</code>, then '
                  "<code>dbt build --select results</code>.</p>")
        status, window, as_of, deliveries_measured = "no deliveries", "–", "–", "0"
    daily_id = data.daily_delivery_id()
    daily_rows = [r for r in data.daily if r["delivery_id"] == daily_id]
    daily_caption = (f"of the delivery of {daily_rows[0]['delivery_datetime']:%Y-%m-%d %H:%M} UTC"
                     if daily_rows else "")
    env = Environment(autoescape=True)
    return env.from_string(TEMPLATE).render(
        campaign=campaign,
        schedule=_schedule(campaign),
        launch=instant(campaign.get("launch_at")),
        deliveries_measured=deliveries_measured,
        window=window,
        as_of=as_of,
        status=status,
        is_recurring=is_recurring,
        per_delivery=per_delivery,
        delivered=delivered,
        unmeasured=unmeasured_text(data) if data.unmeasured else "",
        level=level,
        headlines=headlines,
        results_tables=tables,
        lift_plot=_plot(figures.lifts(data), "plot-lifts",
                        "No treatment has a control group to compare with."),
        daily_caption=daily_caption,
        daily_conversion=_plot(figures.daily(data, "conversion_lift"), "plot-daily-conversion",
                               "No day series yet (no compared treatment with a whole day "
                               "of data)."),
        daily_revenue=_plot(figures.daily(data, "revenue_per_recipient_lift"), "plot-daily-revenue",
                            ""),
        funnel_plot=_plot(figures.funnel(data), "plot-funnel", "The campaign has no audience yet."),
        treatment_plot=_plot(figures.treatment_funnel(data), "plot-treatments", ""),
        funnel_table=funnel_table(data),
        shares_plot=_plot(figures.shares(data), "plot-shares", ""),
        deliveries_plot=_plot(figures.deliveries(data), "plot-deliveries",
                              "No delivery recorded yet."),
        deliveries_table=deliveries_table(data),
        plotly_js=_plotly_js(),
        generated=instant(generated),
    )


def _plotly_js() -> Any:
    from markupsafe import Markup

    # inside <script>: only "</script" could end it early; plotly.min.js has none
    source = get_plotlyjs()
    if "</script" in source.lower():
        raise RuntimeError("plotly.js contains '</script': cannot inline it")
    return Markup(source)


def render_index(entries: list[dict[str, str]], generated: datetime) -> str:
    return Environment(autoescape=True).from_string(INDEX).render(
        campaigns=entries, generated=instant(generated))

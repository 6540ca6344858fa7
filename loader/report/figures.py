"""The report's plots (Plotly), built from the models' rows as they are: no figure is computed
here, only placed. Each function returns None when its rows are empty (the report then says so
instead of drawing an empty plot)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from loader.report.data import CampaignReportData, Row

CONTROL_COLOUR = "#9ca3af"
PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#db2777", "#0891b2", "#ca8a04")
STEP_COLOURS = {
    "included_segment": "#93c5fd",
    "included": "#2563eb",
    "excluded_segment": "#fca5a5",
    "excluded": "#dc2626",
    "eligible": "#1e3a8a",
    "unassigned": "#d1d5db",
    "sub_audience": "#0d9488",
}
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def group_label(row: Row, several_sub_audiences: bool) -> str:
    name = str(row.get("treatment_name") or row.get("treatment_id"))
    if several_sub_audiences:
        return f"{row.get('sub_audience_name') or row.get('sub_audience_id')} · {name}"
    return name


def colours(data: CampaignReportData) -> dict[tuple[str, str], str]:
    """One colour per (sub-audience, treatment), grey for control groups, stable by order."""
    out: dict[tuple[str, str], str] = {}
    index = 0
    for row in data.funnel:
        if row["step"] != "treatment":
            continue
        key = (str(row["sub_audience_id"]), str(row["treatment_id"]))
        if row["is_control"]:
            out[key] = CONTROL_COLOUR
        else:
            out[key] = PALETTE[index % len(PALETTE)]
            index += 1
    return out


def _colour(data: CampaignReportData, row: Row) -> str:
    key = (str(row["sub_audience_id"]), str(row["treatment_id"]))
    return colours(data).get(key, CONTROL_COLOUR if row.get("is_control") else PALETTE[0])


def several_sub_audiences(data: CampaignReportData) -> bool:
    return len({r["sub_audience_id"] for r in data.funnel if r["step"] == "sub_audience"}) > 1


def _layout(fig: go.Figure, height: int, **kwargs: Any) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 20, "t": 30, "b": 10},
        font={"family": FONT, "size": 13, "color": "#1f2937"},
        paper_bgcolor="white",
        plot_bgcolor="white",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hoverlabel={"font": {"family": FONT}},
        **kwargs,
    )
    fig.update_xaxes(gridcolor="#eef0f3", zerolinecolor="#9ca3af", automargin=True)
    fig.update_yaxes(gridcolor="#eef0f3", zerolinecolor="#9ca3af", automargin=True)
    return fig


FUNNEL_LABELS = {
    "included_segment": "Segment: {label}",
    "included": "Included (any segment)",
    "excluded_segment": "Excluded by: {label}",
    "excluded": "Excluded",
    "eligible": "Eligible",
    "unassigned": "In no sub-audience",
    "sub_audience": "Sub-audience: {label}",
}


def funnel(data: CampaignReportData) -> go.Figure | None:
    rows = [r for r in data.funnel if r["step"] in FUNNEL_LABELS]
    if not rows:
        return None
    labels = [FUNNEL_LABELS[r["step"]].format(label=r["label"]) for r in rows]
    fig = go.Figure(go.Bar(
        x=[r["customers"] for r in rows], y=labels, orientation="h",
        marker_color=[STEP_COLOURS[r["step"]] for r in rows],
        text=[f"{r['customers']:,}" for r in rows], textposition="auto",
        hovertemplate="%{y}: %{x:,} customers<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="customers")
    return _layout(fig, 70 + 34 * len(rows), showlegend=False)


TREATMENT_STEPS = (
    ("treatment", "Assigned", "#1e3a8a"),
    ("shrink", "Shrink (not sendable)", "#f59e0b"),
    ("sendable", "Sendable", "#2563eb"),
    ("recipients", "Recipients at the latest delivery", "#16a34a"),
)


def treatment_funnel(data: CampaignReportData) -> go.Figure | None:
    treatments = [r for r in data.funnel if r["step"] == "treatment"]
    if not treatments:
        return None
    several = several_sub_audiences(data)
    labels = [group_label(r, several) for r in treatments]
    fig = go.Figure()
    for step, name, colour in TREATMENT_STEPS:
        by_item = {r["item_id"]: r["customers"] for r in data.funnel if r["step"] == step}
        values = [by_item.get(t["item_id"], 0) for t in treatments]
        fig.add_trace(go.Bar(
            name=name, x=labels, y=values, marker_color=colour,
            text=[f"{v:,}" for v in values], textposition="outside",
            hovertemplate="%{x}<br>" + name + ": %{y:,}<extra></extra>",
        ))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="customers")
    return _layout(fig, 380)


def shares(data: CampaignReportData) -> go.Figure | None:
    treatments = [r for r in data.funnel if r["step"] == "treatment"]
    if not treatments:
        return None
    several = several_sub_audiences(data)
    labels = [group_label(r, several) for r in treatments]
    fig = go.Figure([
        go.Bar(name="Declared %", x=labels, y=[r["declared_percent"] for r in treatments],
               marker_color="#cbd5e1", text=[f"{r['declared_percent']:.0f} %" for r in treatments],
               textposition="outside", hovertemplate="%{x}<br>declared %{y:.2f} %<extra></extra>"),
        go.Bar(name="Actual share %", x=labels,
               y=[r["share_percent"] for r in treatments],
               marker_color=[_colour(data, r) for r in treatments],
               text=["-" if r["share_percent"] is None else f"{r['share_percent']:.1f} %"
                     for r in treatments],
               textposition="outside", hovertemplate="%{x}<br>actual %{y:.2f} %<extra></extra>"),
    ])
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="% of the sub-audience", rangemode="tozero")
    return _layout(fig, 360)


def deliveries(data: CampaignReportData) -> go.Figure | None:
    rows = data.deliveries
    if not rows:
        return None
    several = several_sub_audiences(data)
    fig = go.Figure()
    number = {d: i for i, d in enumerate(data.delivery_ids(), start=1)}
    seen: list[tuple[str, str]] = []
    for r in rows:
        key = (str(r["sub_audience_id"]), str(r["treatment_id"]))
        if key not in seen:
            seen.append(key)
    for key in seen:
        group = [r for r in rows if (str(r["sub_audience_id"]), str(r["treatment_id"])) == key]
        fig.add_trace(go.Bar(
            name=group_label(group[0], several),
            x=[f"#{number[str(r['delivery_id'])]} · {r['delivery_datetime']:%Y-%m-%d %H:%M}"
               for r in group],
            y=[r["recipients"] for r in group],
            marker_color=_colour(data, group[0]),
            hovertemplate="%{x} UTC<br>%{y:,} recipients<extra>"
            + group_label(group[0], several) + "</extra>",
        ))
    slots = len(data.delivery_ids())
    fig.update_layout(barmode="stack", bargap=max(0.3, 0.9 - 0.1 * slots))
    fig.update_yaxes(title_text="recipients")
    fig.update_xaxes(title_text="delivery completed (UTC)", type="category")
    return _layout(fig, 340)


def lifts(data: CampaignReportData) -> go.Figure | None:
    rows = [r for r in data.all_deliveries if r["comparison"] == "compared"]
    if not rows:
        return None
    several = several_sub_audiences(data)
    labels = [group_label(r, several) for r in rows]
    level = rows[0]["confidence_level"]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.06, shared_yaxes=True, subplot_titles=(
        f"Conversion lift (points, {float(level):.0%} interval)",
        f"Revenue per recipient lift ({float(level):.0%} interval)"))
    measures = (("conversion_lift", 100), ("revenue_per_recipient_lift", 1))
    for col, (field, scale) in enumerate(measures, start=1):
        for r, label in zip(rows, labels, strict=True):
            value, low, high = (None if r[f] is None else float(r[f]) * scale
                                for f in (field, f"{field}_low", f"{field}_high"))
            colour = _colour(data, r)
            fig.add_trace(go.Scatter(
                x=[value], y=[label], mode="markers", showlegend=False, name=label,
                marker={"size": 12, "color": colour},
                error_x={"type": "data", "symmetric": False, "thickness": 2.5, "width": 7,
                         "color": colour,
                         "array": [None if high is None or value is None else high - value],
                         "arrayminus": [None if low is None or value is None else value - low]},
                customdata=[[low, high]],
                hovertemplate="%{y}: %{x:.2f} [%{customdata[0]:.2f}, %{customdata[1]:.2f}]"
                "<extra></extra>",
            ), row=1, col=col)
        fig.add_vline(x=0, line_color="#6b7280", line_dash="dot", row=1, col=col)
    fig.update_yaxes(categoryorder="array", categoryarray=labels, autorange="reversed")
    fig.update_annotations(font_size=13)
    return _layout(fig, 120 + 46 * len(rows))


DAILY_FIELDS = {
    "conversion_lift": ("Conversion lift (points)", 100),
    "revenue_per_recipient_lift": ("Revenue per recipient lift", 1),
}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def daily(data: CampaignReportData, field: str) -> go.Figure | None:
    delivery_id = data.daily_delivery_id()
    rows = [r for r in data.daily if r["delivery_id"] == delivery_id
            and r["comparison"] == "compared"]
    if not rows:
        return None
    title, scale = DAILY_FIELDS[field]
    several = several_sub_audiences(data)
    fig = go.Figure()
    keys: list[tuple[str, str]] = []
    for r in rows:
        key = (str(r["sub_audience_id"]), str(r["treatment_id"]))
        if key not in keys:
            keys.append(key)
    for key in keys:
        series = [r for r in rows if (str(r["sub_audience_id"]), str(r["treatment_id"])) == key]
        colour = _colour(data, series[0])
        name = group_label(series[0], several)
        days = [r["day_number"] for r in series]

        def scaled(name_: str, series: list[Row] = series) -> list[float | None]:
            return [None if r[name_] is None else float(r[name_]) * scale for r in series]

        fig.add_trace(go.Scatter(
            x=days + days[::-1], y=scaled(f"{field}_high") + scaled(f"{field}_low")[::-1],
            fill="toself", fillcolor=_rgba(colour, 0.12), line={"width": 0},
            hoverinfo="skip", showlegend=False, name=f"{name} interval",
        ))
        fig.add_trace(go.Scatter(
            x=days, y=scaled(field), mode="lines+markers", name=name,
            line={"color": colour, "width": 2.5}, marker={"size": 5},
            customdata=list(zip(scaled(f"{field}_low"), scaled(f"{field}_high"), strict=True)),
            hovertemplate="day %{x}: %{y:.2f} [%{customdata[0]:.2f}, %{customdata[1]:.2f}]"
            "<extra>" + name + "</extra>",
        ))
    fig.add_hline(y=0, line_color="#6b7280", line_dash="dot")
    fig.update_xaxes(title_text="days since the window started", dtick=1 if len(set(
        r["day_number"] for r in rows)) <= 31 else None)
    fig.update_yaxes(title_text=title)
    return _layout(fig, 360)

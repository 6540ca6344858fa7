"""The report's HTML templates (Jinja2, autoescaped): page layout and inline styles."""

# ruff: noqa: E501  (HTML and CSS lines)

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="loader report">
<title>{{ campaign.campaign_name }} — campaign report</title>
<style>
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f6f7f9; --up:#15803d; --down:#b91c1c;
        --accent:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
header { background:#111827; color:#f9fafb; padding:28px 40px 24px; }
header h1 { margin:0 0 4px; font-size:26px; font-weight:650; letter-spacing:-0.01em; }
header .sub { color:#d1d5db; }
header dl { display:flex; flex-wrap:wrap; gap:8px 32px; margin:18px 0 0; }
header dt { font-size:11px; text-transform:uppercase; letter-spacing:.06em; color:#9ca3af; }
header dd { margin:0; font-weight:600; }
main { max-width:1180px; margin:0 auto; padding:8px 24px 48px; }
section { background:white; border:1px solid var(--line); border-radius:10px; margin:22px 0;
          padding:20px 24px; }
section h2 { margin:0 0 4px; font-size:18px; }
section p.lead { margin:0 0 14px; color:var(--muted); }
.headlines { display:grid; grid-template-columns:repeat(auto-fill,minmax(250px,1fr)); gap:12px;
             margin-top:14px; }
.card { border:1px solid var(--line); border-radius:8px; padding:12px 14px; background:#fbfbfc; }
.card .name { font-weight:600; }
.card .big { font-size:22px; font-weight:700; margin:2px 0; }
.card .big.up { color:var(--up); } .card .big.down { color:var(--down); }
.card .small { color:var(--muted); font-size:12.5px; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:7px 8px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
table.results { font-size:13px; }
th { font-size:11px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted);
     font-weight:600; background:#fafafa; white-space:normal; vertical-align:bottom; }
td.label, th.label { text-align:left; white-space:normal; }
tr.control td { color:#4b5563; background:#fafafa; }
td .ci { display:block; color:var(--muted); font-size:12px; font-weight:400; }
td.up { color:var(--up); font-weight:600; } td.down { color:var(--down); font-weight:600; }
.note { color:var(--muted); font-size:12.5px; font-style:italic; }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:11.5px; font-weight:600;
         vertical-align:middle; }
.badge.partial { background:#fef3c7; color:#92400e; } .badge.complete { background:#dcfce7; color:#166534; }
.stale { background:#fef3c7; color:#92400e; padding:8px 12px; border-radius:6px; margin:12px 0 0; }
.badge.control { background:#e5e7eb; color:#374151; }
.scroll { overflow-x:auto; }
.plot { min-height:120px; }
.empty { color:var(--muted); padding:18px 0; }
footer { color:var(--muted); font-size:12px; max-width:1180px; margin:0 auto; padding:0 24px 40px; }
h3 { font-size:14px; margin:18px 0 6px; }
</style>
<script>{{ plotly_js }}</script>
</head>
<body>
<header>
  <h1>{{ campaign.campaign_name }}</h1>
  <div class="sub">Campaign <code>{{ campaign.campaign_id }}</code> · {{ campaign.campaign_type | replace('_', '-') }}
    {%- if schedule %} · {{ schedule }}{% endif %}</div>
  <dl>
    <div><dt>Launch</dt><dd>{{ launch }}</dd></div>
    <div><dt>Deliveries measured</dt><dd data-field="campaign_deliveries">{{ deliveries_measured }}</dd></div>
    <div><dt>Window</dt><dd>{{ window }}</dd></div>
    <div><dt>Orders up to</dt><dd>{{ as_of }}</dd></div>
    <div><dt>Status</dt><dd>{{ status | safe }}</dd></div>
  </dl>
  {%- if unmeasured %}
  <p class="stale" data-field="unmeasured">{{ unmeasured }}</p>
  {%- endif %}
</header>
<main>

<section id="results">
  <h2>Results</h2>
  <p class="lead">Each treatment against its sub-audience's control group{% if per_delivery %}, all deliveries together{% endif %}.
    Intervals are {{ level }} confidence intervals; p-values are two-sided. Definitions: docs/results.md.</p>
  {% if headlines %}
  <div class="headlines">
    {% for h in headlines %}
    <div class="card" data-row="{{ h.key }}">
      <div class="name">{{ h.name }}</div>
      <div class="big {{ h.direction }}" data-field="conversion_lift">{{ h.lift }}</div>
      <div class="small">conversion lift · {{ level }} interval <span data-field="conversion_lift_interval">{{ h.interval }}</span>{% if h.too_few %} · <span data-field="conversion_lift_too_few">too few purchasers to tell</span>{% endif %}</div>
      <div class="small">revenue per recipient <span data-field="revenue_per_recipient_lift">{{ h.rpr }}</span>
        · interval <span data-field="revenue_per_recipient_lift_interval">{{ h.rpr_interval }}</span></div>
    </div>
    {% endfor %}
  </div>
  {% endif %}
  {{ results_tables | safe }}
  {{ lift_plot | safe }}
</section>

<section id="daily">
  <h2>Lift over days since delivery</h2>
  <p class="lead">Cumulative lift by day {{ daily_caption }}, with its {{ level }} confidence band.
    Looking every day and stopping at the first good day inflates false positives: read the last day.</p>
  {{ daily_conversion | safe }}
  {{ daily_revenue | safe }}
</section>

<section id="funnel">
  <h2>Audience funnel</h2>
  <p class="lead">From the segments to who was sent, as the audience is built now; recipients as recorded at the latest delivery.</p>
  {{ funnel_plot | safe }}
  <h3>Per treatment</h3>
  {{ treatment_plot | safe }}
  {{ funnel_table | safe }}
</section>

<section id="shares">
  <h2>Treatment shares</h2>
  <p class="lead">Each treatment's share of its sub-audience against the percent declared (sticky hash assignment: shares approach the declared percents as audiences grow).</p>
  {{ shares_plot | safe }}
</section>

<section id="deliveries">
  <h2>Delivery history</h2>
  <p class="lead">Recipients per delivery and treatment{% if not is_recurring %} (a one-time campaign: {% if delivered > 1 %}pushed again after its audience changed, {{ delivered }} deliveries{% else %}one delivery{% endif %}){% endif %}.</p>
  {{ deliveries_plot | safe }}
  {{ deliveries_table | safe }}
</section>

</main>
<footer>Generated {{ generated }} by <code>loader report</code> from the dbt models campaign_results,
campaign_results_daily, campaign_funnel and klaviyo_campaigns. Self-contained: opens offline.</footer>
</body>
</html>
"""

INDEX = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Campaign reports</title>
<style>body{font:15px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:40px;color:#1f2937}
a{color:#2563eb} li{margin:6px 0}</style></head>
<body><h1>Campaign reports</h1><ul>
{% for c in campaigns %}<li><a href="{{ c.file }}">{{ c.name }}</a> <code>{{ c.id }}</code></li>{% endfor %}
</ul><p>Generated {{ generated }} by <code>loader report</code>.</p></body></html>
"""

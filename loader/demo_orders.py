"""Demo orders with a known answer: what campaign recipients bought after the message.

After a push, ``simulate_orders`` reads who received each delivery (and who was held out) from
``klaviyo_loader.campaign_recipients`` and writes the recipients' orders over the following
weeks into the transactions source (``amperity.unified_transactions``), with a planted effect
per treatment. The results models (``models/results/``) should then find each planted lift
inside its confidence interval: that is the demo's known answer (docs/results.md).

The world simulated:

- the message of a delivery reaches its recipients at the later of the delivery and the
  campaign's launch (the start of the results window, by the same rule as
  ``int_results__recipient_windows``);
- every customer buys on their own ("organic" orders, whatever the campaigns): each day with a
  probability such that they buy within any ``EFFECT_DAYS`` days with probability
  ``BASELINE_CONVERSION x propensity``, where ``propensity`` is a per-customer factor uniform
  in [0.5, 1.5) (mean 1: some customers buy more, in every group alike), from their first
  message until ``EFFECT_DAYS + BACKGROUND_DAYS`` days after their last, so the order data
  reaches well past every window (which is then complete, not partial);
- a treatment with a planted ``lift`` makes each of its recipients buy because of it, within
  ``EFFECT_DAYS`` days of the message, with probability ``lift / (1 - BASELINE_CONVERSION)``:
  its conversion within the window is then the baseline plus ``lift`` on average, and its
  revenue per recipient grows by ``planted_revenue_per_recipient_lift(lift)``. Control groups,
  and treatments the effects table does not name, have no effect;
- such a purchase is 1 to 3 orders (mean ``ORDERS_PER_PURCHASER``), the first sooner rather
  than later (exponential, mean ``FIRST_ORDER_MEAN_DAYS`` days, truncated to the effect period);
  every order has a log-normal value (median ``ORDER_VALUE_MEDIAN``, sigma
  ``ORDER_VALUE_SIGMA``; mean ``MEAN_ORDER_VALUE``).

Only one Klaviyo account's deliveries reach customers in this world: by default the account of
the latest delivery (a demo rerun against a fresh emulator is a new account; state left by an
earlier run is another account, whose messages did not go out again).

Every draw is a hash of (seed, campaign, the delivery's rank, customer, salt): the same
recipients and seed give the same orders, whatever the day the demo runs. Simulated orders
have ids beginning ``sim-``; a rerun replaces them (and only them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb

from loader.errors import ConfigError, WarehouseError

EFFECT_DAYS = 14
BACKGROUND_DAYS = 28
BASELINE_CONVERSION = 0.05
FIRST_ORDER_MEAN_DAYS = 4.0
SECOND_ORDER_SHARE = 0.3  # a buyer places a second order with this probability
THIRD_ORDER_SHARE = 0.1  # and, independently, a third
ORDER_VALUE_MEDIAN = 55.0
ORDER_VALUE_SIGMA = 0.6
ORDER_ID_PREFIX = "sim-"

ORDERS_PER_PURCHASER = 1 + SECOND_ORDER_SHARE + THIRD_ORDER_SHARE
MEAN_ORDER_VALUE = ORDER_VALUE_MEDIAN * math.exp(ORDER_VALUE_SIGMA**2 / 2)

# The demo's planted effects: (campaign_id, treatment_id) -> absolute lift in the probability
# of buying within EFFECT_DAYS. Large because the demo's control groups are small (about 70
# customers in Spring sale's holdout at 5,000 demo customers): a 2-point lift could not be
# told from noise at that size. Treatments not named here have no effect.
DEMO_EFFECTS: dict[tuple[str, str], float] = {
    ("spring_sale", "offer_a"): 0.15,
    ("spring_sale", "offer_b"): 0.0,
    ("winback_weekly", "concierge"): 0.12,
    ("winback_weekly", "15_percent_off"): 0.04,
    ("winback_weekly", "20_percent_off"): 0.08,
    ("winback_weekly", "in_app_offer"): 0.06,
    ("outdoor_launch", "preview"): 0.10,
    ("outdoor_launch", "invite"): 0.05,
}

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class PlantedGroup:
    """One simulated (campaign, sub-audience, treatment) of one delivery."""

    campaign_id: str
    delivery_id: str
    sub_audience_id: str
    treatment_id: str
    is_control: bool
    recipients: int
    effect_purchasers: int  # recipients who bought because of the treatment
    effect_orders: int
    planted_lift: float  # the conversion lift planted (0 for control and unnamed treatments)


@dataclass(frozen=True)
class SimulationResult:
    account_id: str | None
    orders: int
    groups: list[PlantedGroup]


def effect_probability(conversion_lift: float) -> float:
    """The probability a treatment's recipient buys because of it, for a planted lift."""
    return conversion_lift / (1 - BASELINE_CONVERSION)


def planted_revenue_per_recipient_lift(conversion_lift: float) -> float:
    """The revenue-per-recipient lift a conversion lift plants (the effect's purchases only:
    organic revenue is the same in every group)."""
    return effect_probability(conversion_lift) * ORDERS_PER_PURCHASER * MEAN_ORDER_VALUE


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _effects_sql(effects: Mapping[tuple[str, str], float]) -> str:
    for (campaign_id, treatment_id), lift in effects.items():
        if not 0 <= lift <= 1 - BASELINE_CONVERSION:
            raise ConfigError(
                f"planted effect of campaign {campaign_id!r}, treatment {treatment_id!r}: "
                f"expected a conversion lift from 0 to {1 - BASELINE_CONVERSION}, got {lift}."
            )
    rows = [f"({_lit(c)}, {_lit(t)}, {effect_probability(float(lift))!r})"
            for (c, t), lift in effects.items()]
    rows.append("(null, null, 0.0)")  # an effects table is never empty
    return "select * from (values " + ", ".join(rows) + ") as e(campaign_id, treatment_id, q)"


def _macros(seed: int) -> list[str]:
    return [
        f"create or replace temp macro _sim_u(k, salt) as "
        f"(hash(hash({int(seed)}::bigint, k, salt)) >> 11)::double / 9007199254740992.0",
        # a uniform in (0, 1): safe under ln()
        f"create or replace temp macro _sim_open_u(k, salt) as "
        f"((hash(hash({int(seed)}::bigint, k, salt)) >> 11)::double + 0.5) / 9007199254740992.0",
    ]


def simulate_orders(
    con: duckdb.DuckDBPyConnection,
    *,
    seed: int = 7,
    effects: Mapping[tuple[str, str], float] | None = None,
    source_schema: str = "amperity",
    state_schema: str = "klaviyo_loader",
    account_id: str | None = None,
) -> SimulationResult:
    """Replace the simulated orders of every recorded delivery; return what was planted."""
    for label, name in (("source schema", source_schema), ("state schema", state_schema)):
        if not _IDENTIFIER.match(name):
            raise ConfigError(f"{label} must be a plain identifier; received {name!r}.")
    effects = DEMO_EFFECTS if effects is None else effects
    recipients = f'"{state_schema}"."campaign_recipients"'
    transactions = f'"{source_schema}"."unified_transactions"'
    for relation, hint in (
        (recipients, "Run `loader push` first: orders are simulated for its recipients."),
        (transactions, "Run `loader demo-data` first."),
    ):
        try:
            con.execute(f"select 1 from {relation} limit 0")
        except duckdb.CatalogException:
            raise WarehouseError(f"{relation} is not in the warehouse.", hint=hint) from None
    if account_id is None:
        latest = con.execute(f"""
            select account_id from {recipients} where not coalesce(is_sample, false)
            order by delivery_datetime desc limit 1""").fetchone()
        account_id = None if latest is None else str(latest[0])
    for statement in _macros(seed):
        con.execute(statement)
    con.execute(f"""
        create or replace temp table _sim_recipients as
        with recipients as (
            select campaign_id, delivery_id, sub_audience_id, treatment_id, amperity_id,
                bool_or(coalesce(is_control, false)) as is_control,
                greatest(max(delivery_datetime),
                    coalesce(max(launch_datetime), max(delivery_datetime))) as start_at
            from {recipients}
            where not coalesce(is_sample, false) and account_id = ?
            group by all
        ),
        effects as ({_effects_sql(effects)})
        select r.*,
            -- keyed by the delivery's rank, not its id: a rerun of the demo draws the same
            r.campaign_id || '|' || dense_rank() over (partition by r.campaign_id
                order by r.start_at, r.delivery_id)::varchar || '|' || r.sub_audience_id
                || '|' || r.treatment_id || '|' || r.amperity_id as k,
            case when r.is_control then 0.0 else coalesce(e.q, 0.0) end as q
        from recipients as r
        left join effects as e on e.campaign_id = r.campaign_id
            and e.treatment_id = r.treatment_id
    """, [account_id])
    period_days = EFFECT_DAYS + BACKGROUND_DAYS
    con.execute(f"""
        create or replace temp table _sim_orders as
        with customers as (
            select amperity_id, min(start_at) as first_at,
                -- buys on a given day with this probability: within EFFECT_DAYS days with
                -- BASELINE_CONVERSION x propensity
                1 - pow(1 - {BASELINE_CONVERSION} * (0.5 + _sim_u(amperity_id, 'propensity')),
                    1.0 / {EFFECT_DAYS}) as daily_p,
                ceil(epoch(max(start_at) - min(start_at)) / 86400.0)::int
                    + {period_days} as days
            from _sim_recipients
            group by amperity_id
        ),
        organic_orders as (
            select 'organic|' || amperity_id || '|' || d::varchar as ok, amperity_id,
                first_at + to_microseconds(cast((d + _sim_u(amperity_id || '|' || d::varchar,
                    'organic_at')) * 86400000000.0 as bigint)) as order_datetime,
                false as is_effect, null::varchar as k
            from customers, unnest(range(days)) as t(d)
            where _sim_u(amperity_id || '|' || d::varchar, 'organic') < daily_p
        ),
        effect_buyers as (
            select k, amperity_id, start_at,
                1 + (_sim_u(k, 'second') < {SECOND_ORDER_SHARE})::int
                    + (_sim_u(k, 'third') < {THIRD_ORDER_SHARE})::int as n_orders,
                -{FIRST_ORDER_MEAN_DAYS} * ln(1 - _sim_u(k, 'first_at')
                    * (1 - exp(-{EFFECT_DAYS} / {FIRST_ORDER_MEAN_DAYS}))) as first_day
            from _sim_recipients
            where q > 0 and _sim_u(k, 'effect') < q
        ),
        effect_orders as (
            select k || '|' || j::varchar as ok, amperity_id,
                start_at + to_microseconds(cast(86400000000.0 * case when j = 1 then first_day
                    else first_day + _sim_u(k, 'day_' || j::varchar) * ({EFFECT_DAYS} - first_day)
                end as bigint)) as order_datetime,
                true as is_effect, k
            from effect_buyers, unnest(range(1, n_orders + 1)) as t(j)
        )
        select * from organic_orders
        union all
        select * from effect_orders
    """)
    con.execute("begin")
    try:
        con.execute(f"delete from {transactions} where order_id like "
                    f"{_lit(ORDER_ID_PREFIX + '%')}")
        con.execute(f"""
            insert into {transactions}
                (order_id, amperity_id, order_datetime, store_id, channel, order_revenue,
                 order_quantity)
            select {_lit(ORDER_ID_PREFIX)} || substr(md5(ok), 1, 20) as order_id,
                amperity_id, order_datetime,
                case when _sim_u(ok, 'channel') < 0.3
                    then 'S' || lpad((1 + floor(_sim_u(ok, 'store') * 40))::varchar, 3, '0')
                end as store_id,
                case when _sim_u(ok, 'channel') < 0.3 then 'store'
                    when _sim_u(ok, 'channel') < 0.85 then 'online' else 'app'
                end as channel,
                cast(round({ORDER_VALUE_MEDIAN} * exp({ORDER_VALUE_SIGMA}
                    * sqrt(-2 * ln(_sim_open_u(ok, 'value_a')))
                    * cos(2 * pi() * _sim_u(ok, 'value_b'))), 2) as decimal(18, 2))
                    as order_revenue,
                1 + floor(_sim_u(ok, 'quantity') * 3)::int as order_quantity
            from _sim_orders
        """)
        con.execute("commit")
    except duckdb.Error:
        con.execute("rollback")
        raise
    rows = con.execute("""
        with effect_orders as (
            select k, count(*) as orders from _sim_orders where is_effect group by k
        )
        select r.campaign_id, r.delivery_id, r.sub_audience_id, r.treatment_id, r.is_control,
            count(*) as recipients, count(o.k) as effect_purchasers,
            coalesce(sum(o.orders), 0) as effect_orders, max(r.q) as q
        from _sim_recipients as r
        left join effect_orders as o on o.k = r.k
        group by all
        order by all
    """).fetchall()
    total = con.execute("select count(*) from _sim_orders").fetchone()
    con.execute("drop table if exists _sim_orders")
    con.execute("drop table if exists _sim_recipients")
    groups = [PlantedGroup(str(c), str(d), str(s), str(t), bool(ctl), int(n), int(x), int(o),
                           round(float(q) * (1 - BASELINE_CONVERSION), 12))
              for c, d, s, t, ctl, n, x, o, q in rows]
    return SimulationResult(account_id=account_id, orders=int(total[0]) if total else 0,
                            groups=groups)

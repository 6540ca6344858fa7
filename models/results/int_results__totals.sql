{#-
    Outcome totals per (account, campaign, scope, sub-audience, treatment), the inputs of every
    statistic: recipients, purchasers (recipients with at least one order in their window),
    orders, revenue and the sum over recipients of their squared revenue (for the variance of
    revenue per recipient).

    `measure = 'window'`: over each recipient's whole window, as far as the data reaches
    (orders up to `as_of`). `measure = 'day'` (single deliveries only): cumulative over the
    first `day_number` days of the window, for every whole day the data covers.
-#}
{%- set as_of_literal = results_as_of_literal() %}

with

recipient_windows as (
    select * from {{ ref('int_results__recipient_windows') }}
),

transactions as (
    select * from {{ ref('stg_amperity__unified_transactions') }}
),

day_numbers as (
    {{ dbt.generate_series(results_max_window_days()) }}
),

as_of as (
    select coalesce({{ as_of_literal or 'cast(null as ' ~ dbt.type_timestamp() ~ ')' }}, max(order_datetime)) as as_of
    from transactions
),

scope_deliveries as (
    select
        account_id,
        campaign_id,
        count(distinct delivery_id) as deliveries,
        min(delivery_datetime) as first_delivery_datetime,
        max(delivery_datetime) as last_delivery_datetime
    from recipient_windows
    where not is_all_deliveries
    group by account_id, campaign_id
),

window_orders as (
    select
        recipient_windows.account_id,
        recipient_windows.campaign_id,
        recipient_windows.delivery_id,
        recipient_windows.sub_audience_id,
        recipient_windows.treatment_id,
        recipient_windows.amperity_id,
        recipient_windows.window_start,
        transactions.order_id,
        transactions.order_datetime,
        transactions.order_revenue
    from recipient_windows
    cross join as_of
    inner join transactions
        on
            recipient_windows.amperity_id = transactions.amperity_id
            and recipient_windows.window_start <= transactions.order_datetime
            and recipient_windows.window_end > transactions.order_datetime
            and as_of.as_of >= transactions.order_datetime
),

recipient_outcomes as (
    select
        account_id,
        campaign_id,
        delivery_id,
        sub_audience_id,
        treatment_id,
        amperity_id,
        count(distinct order_id) as orders,
        sum(order_revenue) as revenue
    from window_orders
    group by account_id, campaign_id, delivery_id, sub_audience_id, treatment_id, amperity_id
),

groups as (
    select
        recipient_windows.account_id,
        recipient_windows.campaign_id,
        recipient_windows.delivery_id,
        recipient_windows.sub_audience_id,
        recipient_windows.treatment_id,
        max(recipient_windows.campaign_name) as campaign_name,
        max(recipient_windows.campaign_type) as campaign_type,
        {{ dbt.bool_or('recipient_windows.is_all_deliveries') }} as is_all_deliveries,
        max(recipient_windows.sub_audience_name) as sub_audience_name,
        max(recipient_windows.treatment_name) as treatment_name,
        {{ dbt.bool_or('recipient_windows.is_control') }} as is_control,
        min(recipient_windows.delivery_datetime) as delivery_datetime,
        max(recipient_windows.launch_datetime) as launch_datetime,
        max(recipient_windows.window_days) as window_days,
        min(recipient_windows.window_start) as window_start,
        max(recipient_windows.window_end) as window_end,
        count(*) as recipients
    from recipient_windows
    group by
        recipient_windows.account_id,
        recipient_windows.campaign_id,
        recipient_windows.delivery_id,
        recipient_windows.sub_audience_id,
        recipient_windows.treatment_id
),

window_outcomes as (
    select
        account_id,
        campaign_id,
        delivery_id,
        sub_audience_id,
        treatment_id,
        count(*) as purchasers,
        sum(orders) as orders,
        sum(revenue) as revenue,
        sum(cast(revenue as {{ results_type_double() }}) * cast(revenue as {{ results_type_double() }})) as revenue_sq
    from recipient_outcomes
    group by account_id, campaign_id, delivery_id, sub_audience_id, treatment_id
),

window_totals as (
    select
        groups.account_id,
        groups.campaign_id,
        groups.delivery_id,
        groups.sub_audience_id,
        groups.treatment_id,
        cast('window' as {{ dbt.type_string() }}) as measure,
        cast(null as {{ dbt.type_int() }}) as day_number,
        groups.recipients,
        coalesce(window_outcomes.purchasers, 0) as purchasers,
        coalesce(window_outcomes.orders, 0) as orders,
        coalesce(window_outcomes.revenue, 0) as revenue,
        coalesce(window_outcomes.revenue_sq, 0) as revenue_sq
    from groups
    left join window_outcomes
        on
            groups.account_id = window_outcomes.account_id
            and groups.campaign_id = window_outcomes.campaign_id
            and groups.delivery_id = window_outcomes.delivery_id
            and groups.sub_audience_id = window_outcomes.sub_audience_id
            and groups.treatment_id = window_outcomes.treatment_id
),

group_days as (
    -- the day series: whole days of single deliveries' windows that the data covers
    select
        groups.account_id,
        groups.campaign_id,
        groups.delivery_id,
        groups.sub_audience_id,
        groups.treatment_id,
        groups.recipients,
        day_numbers.generated_number as day_number
    from groups
    cross join as_of
    inner join day_numbers
        on
            groups.window_days >= day_numbers.generated_number
            and {{ dbt.dateadd('day', 'day_numbers.generated_number', 'groups.window_start') }} <= as_of.as_of
    where not groups.is_all_deliveries
),

recipient_days as (
    select
        window_orders.account_id,
        window_orders.campaign_id,
        window_orders.delivery_id,
        window_orders.sub_audience_id,
        window_orders.treatment_id,
        window_orders.amperity_id,
        day_numbers.generated_number as day_number,
        count(distinct window_orders.order_id) as orders,
        sum(window_orders.order_revenue) as revenue
    from window_orders
    inner join day_numbers
        on window_orders.order_datetime < {{ dbt.dateadd('day', 'day_numbers.generated_number', 'window_orders.window_start') }}
    where window_orders.delivery_id <> 'all'
    group by
        window_orders.account_id,
        window_orders.campaign_id,
        window_orders.delivery_id,
        window_orders.sub_audience_id,
        window_orders.treatment_id,
        window_orders.amperity_id,
        day_numbers.generated_number
),

day_outcomes as (
    select
        account_id,
        campaign_id,
        delivery_id,
        sub_audience_id,
        treatment_id,
        day_number,
        count(*) as purchasers,
        sum(orders) as orders,
        sum(revenue) as revenue,
        sum(cast(revenue as {{ results_type_double() }}) * cast(revenue as {{ results_type_double() }})) as revenue_sq
    from recipient_days
    group by account_id, campaign_id, delivery_id, sub_audience_id, treatment_id, day_number
),

day_totals as (
    select
        group_days.account_id,
        group_days.campaign_id,
        group_days.delivery_id,
        group_days.sub_audience_id,
        group_days.treatment_id,
        cast('day' as {{ dbt.type_string() }}) as measure,
        cast(group_days.day_number as {{ dbt.type_int() }}) as day_number,
        group_days.recipients,
        coalesce(day_outcomes.purchasers, 0) as purchasers,
        coalesce(day_outcomes.orders, 0) as orders,
        coalesce(day_outcomes.revenue, 0) as revenue,
        coalesce(day_outcomes.revenue_sq, 0) as revenue_sq
    from group_days
    left join day_outcomes
        on
            group_days.account_id = day_outcomes.account_id
            and group_days.campaign_id = day_outcomes.campaign_id
            and group_days.delivery_id = day_outcomes.delivery_id
            and group_days.sub_audience_id = day_outcomes.sub_audience_id
            and group_days.treatment_id = day_outcomes.treatment_id
            and group_days.day_number = day_outcomes.day_number
),

totals as (
    select * from window_totals
    union all
    select * from day_totals
),

final as (
    select
        totals.account_id,
        totals.campaign_id,
        groups.campaign_name,
        groups.campaign_type,
        totals.delivery_id,
        groups.is_all_deliveries,
        scope_deliveries.deliveries as campaign_deliveries,
        groups.delivery_datetime,
        groups.launch_datetime,
        totals.sub_audience_id,
        groups.sub_audience_name,
        totals.treatment_id,
        groups.treatment_name,
        groups.is_control,
        groups.window_days,
        groups.window_start,
        groups.window_end,
        as_of.as_of,
        case
            when as_of.as_of is null or as_of.as_of < groups.window_end then as_of.as_of
            else groups.window_end
        end as observed_until,
        coalesce(as_of.as_of < groups.window_end, true) as is_partial,
        totals.measure,
        totals.day_number,
        cast(totals.recipients as {{ dbt.type_bigint() }}) as recipients,
        cast(totals.purchasers as {{ dbt.type_bigint() }}) as purchasers,
        cast(totals.orders as {{ dbt.type_bigint() }}) as orders,
        cast(totals.revenue as {{ dbt.type_numeric() }}) as revenue,
        totals.revenue_sq
    from totals
    inner join groups
        on
            totals.account_id = groups.account_id
            and totals.campaign_id = groups.campaign_id
            and totals.delivery_id = groups.delivery_id
            and totals.sub_audience_id = groups.sub_audience_id
            and totals.treatment_id = groups.treatment_id
    inner join scope_deliveries
        on
            totals.account_id = scope_deliveries.account_id
            and totals.campaign_id = scope_deliveries.campaign_id
    cross join as_of
)

select * from final

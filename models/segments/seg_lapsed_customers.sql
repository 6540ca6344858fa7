-- Lapsed customers: ordered before, but not in the 365 days (var 'segment_lapsed_after_days')
-- up to the as-of date (var 'segment_as_of_date'; by default the latest order in the data).
{%- set as_of_date = var('segment_as_of_date', none) %}
{%- set as_of_literal = "'" ~ as_of_date ~ "'" if as_of_date else 'null' %}
{%- set lapsed_after_days = var('segment_lapsed_after_days', 365) | int %}

with

transactions as (

    select * from {{ ref('stg_amperity__unified_transactions') }}

),

as_of as (

    select
        coalesce(
            cast({{ as_of_literal }} as {{ dbt.type_timestamp() }}),
            max(order_datetime)
        ) as as_of_at
    from transactions

),

last_orders as (

    select
        transactions.amperity_id,
        max(transactions.order_datetime) as last_order_at
    from transactions
    cross join as_of
    where transactions.order_datetime <= as_of.as_of_at
    group by transactions.amperity_id

),

final as (

    select last_orders.amperity_id
    from last_orders
    cross join as_of
    where last_orders.last_order_at <= {{ dbt.dateadd('day', -lapsed_after_days, 'as_of.as_of_at') }}

)

select * from final

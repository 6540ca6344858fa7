-- Recent buyers: at least one order in the 90 days up to the as-of date (var
-- 'segment_as_of_date'; by default the latest order in the data, so results never depend on
-- the day the build runs).
{%- set as_of_date = var('segment_as_of_date', none) %}
{%- set as_of_literal = "'" ~ as_of_date ~ "'" if as_of_date else 'null' %}
{%- set window_days = var('segment_recent_days', 90) | int %}

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

orders_in_window as (

    select transactions.amperity_id
    from transactions
    cross join as_of
    where
        transactions.order_datetime <= as_of.as_of_at
        and transactions.order_datetime > {{ dbt.dateadd('day', -window_days, 'as_of.as_of_at') }}

),

final as (

    select distinct amperity_id
    from orders_in_window

)

select * from final

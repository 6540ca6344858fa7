{{ config(materialized='table') }}

{#-
    Customers who were sent a campaign (a non-control member of a delivery) within the last N
    days: e.g. to exclude them from the next campaign, or to follow up in a second stage.
    The campaign is the var `history_recent_campaign_id` (default 'spring_sale'); the window is
    `history_recent_days` (default 30) before the build.
-#}

{%- set days = var('history_recent_days', 30) | int %}
{%- set window_end = 'cast(' ~ dbt.current_timestamp() ~ ' as ' ~ dbt.type_timestamp() ~ ')' %}

with campaign_recipients as (

    select * from {{ source('klaviyo_loader', 'campaign_recipients') }}

),

sent_members as (

    select
        amperity_id,
        delivery_datetime
    from campaign_recipients
    where
        campaign_id = '{{ var("history_recent_campaign_id", "spring_sale") }}'
        and not is_control
        and delivery_datetime >= {{ dbt.dateadd("day", -days, window_end) }}

),

final as (

    select
        amperity_id,
        max(delivery_datetime) as last_received_at
    from sent_members
    group by amperity_id

)

select * from final

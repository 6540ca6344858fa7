{{ config(materialized='table') }}

{#-
    Customers who were in the control group (the holdout) of a campaign: e.g. to send them a
    later stage, or to keep them out of other campaigns during measurement.
    The campaign is the var `history_control_campaign_id` (default 'spring_sale').
-#}

with campaign_recipients as (

    select * from {{ source('klaviyo_loader', 'campaign_recipients') }}

),

control_members as (

    select
        amperity_id,
        launch_datetime,
        delivery_datetime
    from campaign_recipients
    where
        campaign_id = '{{ var("history_control_campaign_id", "spring_sale") }}'
        and is_control

),

final as (

    select
        amperity_id,
        min(launch_datetime) as launch_datetime,
        min(delivery_datetime) as first_held_out_at
    from control_members
    group by amperity_id

)

select * from final

{#-
    One row per measured recipient: (account, campaign, scope, sub-audience, treatment,
    customer) with the customer's measurement window. A scope is one delivery (`delivery_id`),
    or all of the campaign's deliveries together (`delivery_id = 'all'`), where the window runs
    from the customer's first window start to its last window end.

    A delivery's window starts when its message can reach the customer: the later of the
    delivery (the list was in Klaviyo) and the campaign's launch; it lasts
    var('results_window_days') days, or the campaign's override in
    var('results_window_days_by_campaign'). Sample sends (`loader push --sample`) are not
    measured: they reach a fraction of each list.
-#}
with

campaign_recipients as (
    select * from {{ source('klaviyo_loader', 'campaign_recipients') }}
),

delivered as (
    select
        account_id,
        campaign_id,
        delivery_id,
        sub_audience_id,
        treatment_id,
        amperity_id,
        max(campaign_name) as campaign_name,
        max(campaign_type) as campaign_type,
        max(sub_audience_name) as sub_audience_name,
        max(treatment_name) as treatment_name,
        {{ dbt.bool_or('is_control') }} as is_control,
        max(delivery_datetime) as delivery_datetime,
        max(launch_datetime) as launch_datetime
    from campaign_recipients
    where not coalesce(is_sample, false)
    group by account_id, campaign_id, delivery_id, sub_audience_id, treatment_id, amperity_id
),

per_delivery as (
    select
        *,
        {{ results_window_days('campaign_id') }} as window_days,
        greatest(delivery_datetime, coalesce(launch_datetime, delivery_datetime)) as window_start
    from delivered
),

delivery_windows as (
    select
        account_id,
        campaign_id,
        delivery_id,
        false as is_all_deliveries,
        sub_audience_id,
        treatment_id,
        amperity_id,
        campaign_name,
        campaign_type,
        sub_audience_name,
        treatment_name,
        is_control,
        delivery_datetime,
        launch_datetime,
        window_days,
        window_start,
        {{ dbt.dateadd('day', 'window_days', 'window_start') }} as window_end
    from per_delivery
),

all_delivery_windows as (
    select
        account_id,
        campaign_id,
        cast('all' as {{ dbt.type_string() }}) as delivery_id,
        true as is_all_deliveries,
        sub_audience_id,
        treatment_id,
        amperity_id,
        max(campaign_name) as campaign_name,
        max(campaign_type) as campaign_type,
        max(sub_audience_name) as sub_audience_name,
        max(treatment_name) as treatment_name,
        {{ dbt.bool_or('is_control') }} as is_control,
        min(delivery_datetime) as delivery_datetime,
        max(launch_datetime) as launch_datetime,
        max(window_days) as window_days,
        min(window_start) as window_start,
        max(window_end) as window_end
    from delivery_windows
    group by account_id, campaign_id, sub_audience_id, treatment_id, amperity_id
),

final as (
    select * from delivery_windows
    union all
    select * from all_delivery_windows
)

select * from final

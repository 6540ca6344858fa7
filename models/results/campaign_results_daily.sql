{#-
    Lift as it builds up: one row per campaign x delivery x sub-audience x treatment x day
    since the window started (1 .. the window's days, every whole day the data covers), with
    the cumulative conversion and revenue per recipient of each group and, against the
    sub-audience's control group, the lifts with their confidence intervals. Single deliveries
    only (all sends together have no common day 1). Figures as in campaign_results.
-#}
with

comparisons as (
    select * from {{ ref('int_results__comparisons') }}
),

final as (
    select
        account_id,
        campaign_id,
        campaign_name,
        delivery_id,
        delivery_datetime,
        sub_audience_id,
        sub_audience_name,
        treatment_id,
        treatment_name,
        is_control,
        window_start,
        day_number,
        {{ dbt.dateadd('day', 'day_number', 'window_start') }} as day_end,
        recipients,
        purchasers,
        orders,
        revenue,
        conversion_rate,
        revenue_per_recipient,
        comparison,
        control_treatment_id,
        control_conversion_rate,
        control_revenue_per_recipient,
        confidence_level,
        conversion_lift,
        conversion_lift_low,
        conversion_lift_high,
        conversion_p_value,
        revenue_per_recipient_lift,
        revenue_per_recipient_lift_low,
        revenue_per_recipient_lift_high,
        revenue_per_recipient_p_value
    from comparisons
    where measure = 'day'
)

select * from final

{#-
    Did it work? One row per campaign x delivery (each send of a recurring campaign, and
    `delivery_id = 'all'` for all sends together) x sub-audience x treatment, control included:
    recipients, purchasers, orders, revenue, conversion rate, average order value, revenue per
    recipient over the measurement window and, against the same sub-audience's control group,
    the lift in conversion and in revenue per recipient with confidence intervals and p-values,
    and the incremental purchasers and revenue. Every figure is defined in docs/results.md.
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
        campaign_type,
        delivery_id,
        is_all_deliveries,
        campaign_deliveries,
        delivery_datetime,
        launch_datetime,
        sub_audience_id,
        sub_audience_name,
        treatment_id,
        treatment_name,
        is_control,
        window_days,
        window_start,
        window_end,
        as_of,
        observed_until,
        is_partial,
        cast(
            case
                when observed_until > window_start
                    then {{ dbt.datediff('window_start', 'observed_until', 'second') }} / 86400.0
                else 0
            end as {{ dbt.type_numeric() }}
        ) as days_observed,
        recipients,
        purchasers,
        orders,
        revenue,
        conversion_rate,
        average_order_value,
        revenue_per_recipient,
        comparison,
        comparison_note,
        control_treatment_id,
        control_treatment_name,
        control_recipients,
        control_purchasers,
        control_conversion_rate,
        control_revenue_per_recipient,
        confidence_level,
        conversion_lift,
        conversion_lift_low,
        conversion_lift_high,
        conversion_lift_relative,
        conversion_lift_relative_low,
        conversion_lift_relative_high,
        conversion_p_value,
        revenue_per_recipient_lift,
        revenue_per_recipient_lift_low,
        revenue_per_recipient_lift_high,
        revenue_per_recipient_lift_relative,
        revenue_per_recipient_lift_relative_low,
        revenue_per_recipient_lift_relative_high,
        revenue_per_recipient_p_value,
        welch_degrees_of_freedom,
        incremental_purchasers,
        incremental_purchasers_low,
        incremental_purchasers_high,
        incremental_revenue,
        incremental_revenue_low,
        incremental_revenue_high
    from comparisons
    where measure = 'window'
)

select * from final

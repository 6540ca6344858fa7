{#-
    Every row of int_results__totals with its figures and, for a treatment whose sub-audience
    has a control group in the same scope, the comparison against that control
    (docs/results.md, "Statistics"):

    - conversion: difference of two proportions with an unpooled (Wald) interval, the pooled
      two-proportion z test for the p-value, and the relative lift's interval by the log of
      the ratio (Katz);
    - revenue per recipient: Welch's unequal-variance interval and t test (Satterthwaite's
      degrees of freedom), the relative lift's interval by the delta method on the log of the
      ratio of means;
    - incremental purchasers and revenue: the absolute lifts times the treatment's recipients.

    Figures are rounded to 6 decimals (numeric(28, 6)).
-#}
{%- set double = results_type_double() %}
{%- set decimal = dbt.type_numeric() %}
{%- set confidence = results_confidence() %}

with

totals as (
    select * from {{ ref('int_results__totals') }}
),

confidence as (
    select
        {{ confidence }} as confidence_level,
        {{ results_normal_quantile_value(1 - (1 - confidence) / 2) }} as z
),

controls as (
    select
        account_id,
        campaign_id,
        delivery_id,
        sub_audience_id,
        measure,
        coalesce(day_number, 0) as day_key,
        treatment_id as control_treatment_id,
        treatment_name as control_treatment_name,
        recipients as control_recipients,
        purchasers as control_purchasers,
        revenue as control_revenue,
        revenue_sq as control_revenue_sq
    from totals
    where is_control
),

paired as (
    select
        totals.*,
        controls.control_treatment_id,
        controls.control_treatment_name,
        controls.control_recipients,
        controls.control_purchasers,
        controls.control_revenue,
        controls.control_revenue_sq,
        case
            when totals.is_control then 'control'
            when controls.control_recipients > 0 and totals.recipients > 0 then 'compared'
            else 'no_control'
        end as comparison
    from totals
    left join controls
        on
            totals.account_id = controls.account_id
            and totals.campaign_id = controls.campaign_id
            and totals.delivery_id = controls.delivery_id
            and totals.sub_audience_id = controls.sub_audience_id
            and totals.measure = controls.measure
            and coalesce(totals.day_number, 0) = controls.day_key
            and not totals.is_control
),

moments as (
    select
        *,
        cast(purchasers as {{ double }}) / nullif(recipients, 0) as p_t,
        cast(revenue as {{ double }}) / nullif(recipients, 0) as m_t,
        cast(revenue as {{ double }}) / nullif(orders, 0) as aov_t,
        case
            when recipients > 1
                then greatest(
                        0.0,
                        (revenue_sq - cast(revenue as {{ double }}) * cast(revenue as {{ double }}) / recipients)
                        / (recipients - 1)
                    )
        end as v_t,
        case when comparison = 'compared' then cast(control_purchasers as {{ double }}) / control_recipients end as p_c,
        case when comparison = 'compared' then cast(control_revenue as {{ double }}) / control_recipients end as m_c,
        case
            when comparison = 'compared' and control_recipients > 1
                then greatest(
                        0.0,
                        (
                            control_revenue_sq
                            - cast(control_revenue as {{ double }}) * cast(control_revenue as {{ double }}) / control_recipients
                        )
                        / (control_recipients - 1)
                    )
        end as v_c,
        cast(recipients as {{ double }}) as n_t,
        cast(control_recipients as {{ double }}) as n_c
    from paired
),

standard_errors as (
    select
        *,
        p_t - p_c as conversion_diff,
        sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c) as conversion_se,
        sqrt(
            ((purchasers + control_purchasers) / (n_t + n_c))
            * (1 - (purchasers + control_purchasers) / (n_t + n_c))
            * (1 / n_t + 1 / n_c)
        ) as conversion_pooled_se,
        case
            when purchasers > 0 and control_purchasers > 0
                then sqrt((1 - p_t) / purchasers + (1 - p_c) / control_purchasers)
        end as conversion_log_ratio_se,
        m_t - m_c as rpr_diff,
        sqrt(v_t / n_t + v_c / n_c) as rpr_se,
        (v_t / n_t + v_c / n_c) * (v_t / n_t + v_c / n_c)
        / nullif((v_t / n_t) * (v_t / n_t) / (n_t - 1) + (v_c / n_c) * (v_c / n_c) / (n_c - 1), 0) as welch_df,
        case
            when m_t > 0 and m_c > 0
                then sqrt(v_t / (n_t * m_t * m_t) + v_c / (n_c * m_c * m_c))
        end as rpr_log_ratio_se
    from moments
),

critical_values as (
    select
        standard_errors.*,
        confidence.confidence_level,
        confidence.z,
        case
            when standard_errors.welch_df >= 1
                then {{ results_t_quantile_step('confidence.z * confidence.z', 'confidence.z', 'standard_errors.welch_df') }}
        end as t_critical_w1
    from standard_errors
    cross join confidence
),

critical_values_refined as (
    select
        *,
        {{ results_t_quantile_step('t_critical_w1', 'z', 'welch_df') }} as t_critical_w2,
        {{ results_t_normal_deviate('rpr_diff / nullif(rpr_se, 0)', 'welch_df') }} as rpr_normal_deviate
    from critical_values
),

critical_values_final as (
    select
        *,
        {{ results_t_quantile_from_w('t_critical_w2', 'z', 'welch_df') }} as t_critical
    from critical_values_refined
),

statistics as (
    select
        *,
        case when conversion_se > 0 then conversion_diff - z * conversion_se end as conversion_diff_low,
        case when conversion_se > 0 then conversion_diff + z * conversion_se end as conversion_diff_high,
        case
            when conversion_pooled_se > 0
                then least(1.0, {{ results_normal_two_sided_p('conversion_diff / conversion_pooled_se') }})
        end as conversion_p,
        case when p_c > 0 then p_t / p_c - 1 end as conversion_relative,
        case
            when conversion_log_ratio_se > 0
                then exp(ln(p_t / p_c) - z * conversion_log_ratio_se) - 1
        end as conversion_relative_low,
        case
            when conversion_log_ratio_se > 0
                then exp(ln(p_t / p_c) + z * conversion_log_ratio_se) - 1
        end as conversion_relative_high,
        case when rpr_se > 0 and t_critical is not null then rpr_diff - t_critical * rpr_se end as rpr_diff_low,
        case when rpr_se > 0 and t_critical is not null then rpr_diff + t_critical * rpr_se end as rpr_diff_high,
        case
            when rpr_se > 0 and welch_df >= 1
                then least(1.0, {{ results_normal_two_sided_p('rpr_normal_deviate') }})
        end as rpr_p,
        case when m_c > 0 then m_t / m_c - 1 end as rpr_relative,
        case
            when rpr_log_ratio_se > 0
                then exp(ln(m_t / m_c) - z * rpr_log_ratio_se) - 1
        end as rpr_relative_low,
        case
            when rpr_log_ratio_se > 0
                then exp(ln(m_t / m_c) + z * rpr_log_ratio_se) - 1
        end as rpr_relative_high
    from critical_values_final
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
        measure,
        day_number,
        recipients,
        purchasers,
        orders,
        revenue,
        cast(p_t as {{ decimal }}) as conversion_rate,
        cast(aov_t as {{ decimal }}) as average_order_value,
        cast(m_t as {{ decimal }}) as revenue_per_recipient,
        comparison,
        cast(case
            when comparison = 'control' then 'Control group: the baseline of its sub-audience.'
            when comparison = 'no_control' then 'No control group in this sub-audience: figures without lift.'
        end as {{ dbt.type_string() }}) as comparison_note,
        control_treatment_id,
        control_treatment_name,
        control_recipients,
        control_purchasers,
        cast(p_c as {{ decimal }}) as control_conversion_rate,
        cast(m_c as {{ decimal }}) as control_revenue_per_recipient,
        cast(confidence_level as {{ decimal }}) as confidence_level,
        cast(conversion_diff as {{ decimal }}) as conversion_lift,
        cast(conversion_diff_low as {{ decimal }}) as conversion_lift_low,
        cast(conversion_diff_high as {{ decimal }}) as conversion_lift_high,
        cast(conversion_relative as {{ decimal }}) as conversion_lift_relative,
        cast(conversion_relative_low as {{ decimal }}) as conversion_lift_relative_low,
        cast(conversion_relative_high as {{ decimal }}) as conversion_lift_relative_high,
        cast(conversion_p as {{ decimal }}) as conversion_p_value,
        cast(rpr_diff as {{ decimal }}) as revenue_per_recipient_lift,
        cast(rpr_diff_low as {{ decimal }}) as revenue_per_recipient_lift_low,
        cast(rpr_diff_high as {{ decimal }}) as revenue_per_recipient_lift_high,
        cast(rpr_relative as {{ decimal }}) as revenue_per_recipient_lift_relative,
        cast(rpr_relative_low as {{ decimal }}) as revenue_per_recipient_lift_relative_low,
        cast(rpr_relative_high as {{ decimal }}) as revenue_per_recipient_lift_relative_high,
        cast(rpr_p as {{ decimal }}) as revenue_per_recipient_p_value,
        cast(welch_df as {{ decimal }}) as welch_degrees_of_freedom,
        cast(conversion_diff * n_t as {{ decimal }}) as incremental_purchasers,
        cast(conversion_diff_low * n_t as {{ decimal }}) as incremental_purchasers_low,
        cast(conversion_diff_high * n_t as {{ decimal }}) as incremental_purchasers_high,
        cast(rpr_diff * n_t as {{ decimal }}) as incremental_revenue,
        cast(rpr_diff_low * n_t as {{ decimal }}) as incremental_revenue_low,
        cast(rpr_diff_high * n_t as {{ decimal }}) as incremental_revenue_high
    from statistics
)

select * from final

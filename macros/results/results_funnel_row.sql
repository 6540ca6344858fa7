{#-
    One row of campaign_funnel: every value is a SQL expression (none = null), cast to the
    funnel's column types so the rows of every campaign union.
-#}
{% macro results_funnel_row(campaign_id, step_order, item_order, step, item_id, label, customers, segment_id=none,
        sub_audience_id=none, sub_audience_name=none, treatment_id=none, treatment_name=none, is_control=none,
        declared_percent=none, share_percent=none) -%}
    {{ return(adapter.dispatch('results_funnel_row', 'klaviyo_audiences')(campaign_id, step_order, item_order, step, item_id,
        label, customers, segment_id, sub_audience_id, sub_audience_name, treatment_id, treatment_name, is_control,
        declared_percent, share_percent)) }}
{%- endmacro %}

{% macro default__results_funnel_row(campaign_id, step_order, item_order, step, item_id, label, customers, segment_id,
        sub_audience_id, sub_audience_name, treatment_id, treatment_name, is_control, declared_percent,
        share_percent) -%}
    {%- set string = dbt.type_string() -%}
    {%- set decimal = dbt.type_numeric() -%}
    select
        cast({{ campaign_id }} as {{ string }}) as campaign_id,
        cast({{ step_order }} as {{ dbt.type_int() }}) as step_order,
        cast({{ item_order }} as {{ dbt.type_int() }}) as item_order,
        cast({{ step }} as {{ string }}) as step,
        cast({{ item_id }} as {{ string }}) as item_id,
        cast({{ label }} as {{ string }}) as label,
        cast({{ segment_id or 'null' }} as {{ string }}) as segment_id,
        cast({{ sub_audience_id or 'null' }} as {{ string }}) as sub_audience_id,
        cast({{ sub_audience_name or 'null' }} as {{ string }}) as sub_audience_name,
        cast({{ treatment_id or 'null' }} as {{ string }}) as treatment_id,
        cast({{ treatment_name or 'null' }} as {{ string }}) as treatment_name,
        cast({{ is_control or 'null' }} as {{ dbt.type_boolean() }}) as is_control,
        cast({{ customers }} as {{ dbt.type_bigint() }}) as customers,
        cast({{ declared_percent or 'null' }} as {{ decimal }}) as declared_percent,
        cast({{ share_percent or 'null' }} as {{ decimal }}) as share_percent
{%- endmacro %}

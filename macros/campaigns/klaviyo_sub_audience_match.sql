{#- The SQL test "this customer matches this sub-audience" inside klaviyo_audience_sql. -#}
{% macro klaviyo_sub_audience_match(sub_audience) -%}
    {%- if sub_audience.condition -%}
        coalesce(condition_matches.matches_{{ sub_audience.sub_audience_order }}, 0) = 1
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

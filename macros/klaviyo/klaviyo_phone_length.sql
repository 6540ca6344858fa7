{#- The SQL test of a digit count in [low, high]: '= n' when low = high, else 'between'. -#}
{% macro klaviyo_phone_length(low, high) -%}
    {%- if low == high -%}
        = {{ low }}
    {%- else -%}
        between {{ low }} and {{ high }}
    {%- endif -%}
{%- endmacro %}

{#- `expression` with every character that is not 0-9 removed. -#}
{% macro klaviyo_digits_only(expression) -%}
    {{ return(adapter.dispatch('klaviyo_digits_only', 'klaviyo_audiences')(expression)) }}
{%- endmacro %}

{% macro default__klaviyo_digits_only(expression) -%}
    regexp_replace({{ expression }}, '[^0-9]', '', 'g')
{%- endmacro %}

{#- Spark's regexp_replace replaces every match and takes no flags. -#}
{% macro spark__klaviyo_digits_only(expression) -%}
    regexp_replace({{ expression }}, '[^0-9]', '')
{%- endmacro %}

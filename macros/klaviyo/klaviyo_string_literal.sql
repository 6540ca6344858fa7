{#- A SQL string literal for a Python/Jinja value (null for none). -#}
{% macro klaviyo_string_literal(value) -%}
    {%- if value is none -%}
        null
    {%- else -%}
        '{{ (value | string) | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}

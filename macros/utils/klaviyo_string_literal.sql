{#-
    A SQL string literal for a Python/Jinja value (null for none), escaped for the adapter:
    quotes doubled (ANSI: DuckDB, PostgreSQL with standard_conforming_strings), or backslash
    escapes on Spark, whose parser reads backslash escapes and joins adjacent literals ('a''b'
    would be 'ab' there). Named with the project prefix: dbt's own `string_literal` does not
    escape, and a root-project macro of that name would replace it for every package.
-#}
{% macro klaviyo_string_literal(value) -%}
    {{ return(adapter.dispatch('klaviyo_string_literal', 'klaviyo_audiences')(value)) }}
{%- endmacro %}

{% macro default__klaviyo_string_literal(value) -%}
    {%- if value is none -%}
        null
    {%- else -%}
        '{{ (value | string) | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}

{% macro spark__klaviyo_string_literal(value) -%}
    {%- if value is none -%}
        null
    {%- else -%}
        '{{ (value | string) | replace("\\", "\\\\") | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}

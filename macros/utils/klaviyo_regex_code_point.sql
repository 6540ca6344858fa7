{#-
    A regular-expression escape for the Unicode code point `hex` (4 hex digits), usable inside
    a bracket expression: \x{hhhh} for RE2 (DuckDB) and Java (Spark), \uhhhh for PostgreSQL's
    AREs (whose \x reads every hex digit that follows).
-#}
{% macro klaviyo_regex_code_point(hex) -%}
    {{ return(adapter.dispatch('klaviyo_regex_code_point', 'klaviyo_audiences')(hex)) }}
{%- endmacro %}

{% macro default__klaviyo_regex_code_point(hex) -%}
    \x{ {{- hex -}} }
{%- endmacro %}

{% macro postgres__klaviyo_regex_code_point(hex) -%}
    \u{{ hex }}
{%- endmacro %}

{#-
    True when `expression` matches the regular expression `pattern` (a SQL string literal:
    build it with klaviyo_string_literal, which escapes backslashes for Spark). Regex flavours
    differ (DuckDB: RE2, PostgreSQL: ARE, Spark: Java): keep patterns to what all three read
    alike, or dispatch the pattern itself (klaviyo_email_pattern does).
-#}
{% macro klaviyo_regexp_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('klaviyo_regexp_matches', 'klaviyo_audiences')(expression, pattern)) }}
{%- endmacro %}

{% macro default__klaviyo_regexp_matches(expression, pattern) -%}
    regexp_matches({{ expression }}, {{ pattern }})
{%- endmacro %}

{% macro postgres__klaviyo_regexp_matches(expression, pattern) -%}
    ({{ expression }} ~ {{ pattern }})
{%- endmacro %}

{% macro spark__klaviyo_regexp_matches(expression, pattern) -%}
    ({{ expression }} rlike {{ pattern }})
{%- endmacro %}

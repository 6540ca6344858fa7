{#-
    `expression` compared and sorted by its bytes (code points), whatever the database's
    collation, so min()/max() and ordering on strings agree across engines. DuckDB and Spark
    compare strings that way by default; PostgreSQL follows the database's locale unless told.
-#}
{% macro klaviyo_collate_binary(expression) -%}
    {{ return(adapter.dispatch('klaviyo_collate_binary', 'klaviyo_audiences')(expression)) }}
{%- endmacro %}

{% macro default__klaviyo_collate_binary(expression) -%}
    {{ expression }}
{%- endmacro %}

{% macro postgres__klaviyo_collate_binary(expression) -%}
    ({{ expression }}) collate "C"
{%- endmacro %}

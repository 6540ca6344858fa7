{#-
    A 64-bit floating point type. dbt.type_float() is single precision on DuckDB and Spark
    (FLOAT), too coarse for statistics.
-#}
{% macro results_type_double() -%}
    {{ return(adapter.dispatch('results_type_double', 'klaviyo_audiences')()) }}
{%- endmacro %}

{% macro default__results_type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__results_type_double() -%}
    double
{%- endmacro %}

{#- A dict shared by every model of one dbt invocation, for what compile-time checks read from
    the warehouse and that cannot change while the invocation runs (the columns of a model
    every campaign reads, upstream of them all). It lives in `graph`, which dbt builds once
    per invocation, keyed by the invocation id; at parse time it is a new dict each call. -#}
{% macro klaviyo_invocation_cache(name) -%}
    {%- if not execute or graph is not mapping -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set caches = graph.setdefault('klaviyo_audiences_cache', {}) -%}
    {{ return(caches.setdefault(invocation_id ~ ':' ~ name, {})) }}
{%- endmacro %}

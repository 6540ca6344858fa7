{#-
    `expression` without leading and trailing whitespace: spaces, tabs, line feeds, carriage
    returns, vertical tabs, form feeds and no-break spaces (plain `trim` removes spaces only, so
    an address exported with a trailing newline would otherwise look invalid).
-#}
{% macro klaviyo_trim_whitespace(expression) -%}
    {{ return(adapter.dispatch('klaviyo_trim_whitespace', 'klaviyo_audiences')(expression)) }}
{%- endmacro %}

{% macro default__klaviyo_trim_whitespace(expression) -%}
    trim(both {{ dbt.concat(["' '", 'chr(9)', 'chr(10)', 'chr(11)', 'chr(12)', 'chr(13)', 'chr(160)']) }} from {{ expression }})
{%- endmacro %}

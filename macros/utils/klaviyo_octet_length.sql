{#- The length of a string in bytes (UTF-8 octets), not characters. -#}
{% macro klaviyo_octet_length(expression) -%}
    {{ return(adapter.dispatch('klaviyo_octet_length', 'klaviyo_audiences')(expression)) }}
{%- endmacro %}

{% macro default__klaviyo_octet_length(expression) -%}
    octet_length({{ expression }})
{%- endmacro %}

{#- DuckDB's octet_length takes blobs; strlen counts a VARCHAR's bytes. -#}
{% macro duckdb__klaviyo_octet_length(expression) -%}
    strlen({{ expression }})
{%- endmacro %}

{#-
    A JSON array of strings as text, built at compile time (e.g. '["RV phone, B","Été"]'):
    a list whose items may hold any character, commas and quotes included, stored in one
    portable string column and read back with a JSON parser. Characters are kept as they are
    (UTF-8), only backslash, double quote and the usual control characters escaped. The result
    is text for `klaviyo_string_literal`, which escapes it for the adapter.
-#}
{% macro klaviyo_json_array(values) -%}
    {{ return(adapter.dispatch('klaviyo_json_array', 'klaviyo_audiences')(values)) }}
{%- endmacro %}

{% macro default__klaviyo_json_array(values) -%}
    {%- set items = [] -%}
    {%- for value in values -%}
        {%- set escaped = (value | string)
            | replace('\\', '\\\\') | replace('"', '\\"') | replace('\n', '\\n')
            | replace('\r', '\\r') | replace('\t', '\\t') | replace('\b', '\\b')
            | replace('\f', '\\f') -%}
        {%- do items.append('"' ~ escaped ~ '"') -%}
    {%- endfor -%}
    {{ return('[' ~ items | join(',') ~ ']') }}
{%- endmacro %}

{#-
    A captured phone number with its extension cut off, lower-cased: everything from the first
    extension marker on is dropped, so `+1 (212) 305-0943 ext. 5` is read as
    `+1 (212) 305-0943` and the 5 is never folded into the digits. Markers: `ext` (also
    `ext.`, `extn`, `extension`), `x`, `#`, `;` (RFC 3966 `;ext=`) and `,` (a dialling pause,
    or a second number after a comma). Klaviyo keeps no extensions: SMS cannot dial them.
-#}
{% macro klaviyo_phone_without_extension(phone_expression) -%}
    {{ return(adapter.dispatch('klaviyo_phone_without_extension', 'klaviyo_audiences')(phone_expression)) }}
{%- endmacro %}

{#- One replacement of a match anchored at the end: the same on DuckDB, PostgreSQL and Spark
    (which replaces every match; there is only one). -#}
{% macro default__klaviyo_phone_without_extension(phone_expression) -%}
    regexp_replace(lower({{ phone_expression }}), '(?s)(ext|x|#|;|,).*$', '')
{%- endmacro %}

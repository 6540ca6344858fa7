{#- True when the trimmed, lower-cased email is valid (see klaviyo_normalize_email). -#}
{% macro klaviyo_email_is_valid(email_expression) -%}
    {{ klaviyo_regexp_matches(
        'lower(trim(' ~ email_expression ~ '))',
        "'^[a-z0-9_%+-]+([.][a-z0-9_%+-]+)*@[a-z0-9-]+([.][a-z0-9-]+)*[.][a-z]{2,}$'"
    ) }}
{%- endmacro %}

{#-
    The email Klaviyo is sent: trimmed and lower-cased when it looks like a deliverable address
    (local part of letters, digits and . _ % + -, no leading, trailing or doubled dots; a domain
    with at least one dot and a top-level domain of 2+ letters); null otherwise.
-#}
{% macro klaviyo_normalize_email(email_expression) -%}
    case
        when {{ klaviyo_email_is_valid(email_expression) }}
            then lower(trim({{ email_expression }}))
    end
{%- endmacro %}

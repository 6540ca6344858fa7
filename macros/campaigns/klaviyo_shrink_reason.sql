{#-
    Why a row cannot be sent, from its identifier: missing_<identifier> when the raw value is
    empty, invalid_<identifier> when normalization nulled it (email, phone_number); else null.
    `raw_expression` is the trimmed, un-normalized identifier; the normalized column has the
    identifier's own name.
-#}
{% macro klaviyo_shrink_reason(identifier, raw_expression) -%}
    case
        when {{ raw_expression }} is null then 'missing_{{ identifier }}'
        {%- if identifier in ['email', 'phone_number'] %}
        when {{ identifier }} is null then 'invalid_{{ identifier }}'
        {%- endif %}
    end
{%- endmacro %}

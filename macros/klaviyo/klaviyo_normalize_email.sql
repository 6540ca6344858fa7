{#-
    The email Klaviyo is sent, or null when it is clearly not deliverable
    (docs/campaigns.md, "Email"): whitespace trimmed (newlines and no-break spaces included),
    lower-cased, matching klaviyo_email_pattern (RFC 5322 atext and RFC 6531 non-ASCII local
    parts, IDN domains; var `klaviyo_email_ascii_only: true` for ASCII only), with a local part
    of at most 64 octets (UTF-8 bytes, RFC 5321).
-#}
{% macro klaviyo_normalize_email(email_expression) -%}
    {%- set cleaned = 'lower(' ~ klaviyo_trim_whitespace(email_expression) ~ ')' -%}
    {%- set pattern = klaviyo_string_literal(klaviyo_email_pattern(var('klaviyo_email_ascii_only', false))) -%}
    case
        when {{ klaviyo_regexp_matches(cleaned, pattern) }}
            and {{ klaviyo_octet_length(dbt.split_part(cleaned, "'@'", 1)) }} <= 64
            then {{ cleaned }}
    end
{%- endmacro %}

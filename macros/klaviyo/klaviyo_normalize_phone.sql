{#-
    E.164 ('+' then 8-15 digits) or null when the number is not unambiguous (docs/campaigns.md,
    "Phone number"):
      - already international ('+...' or '00...'): its digits, when 8-15 of them (not starting
        with 0);
      - a national number, when the customer's country has a numbering plan (the seeds
        klaviyo_phone_plans and klaviyo_phone_country_aliases, joined upstream): drop the trunk
        prefix when the digits start with it; the rest (the national significant number) must
        have an allowed length and first digit -> '+' || calling code || NSN;
      - anything else (no country, a country without a plan, wrong length, text) -> null.

    `phone_expression` is the number without its extension (klaviyo_phone_without_extension) and
    `digits_expression` its digits (klaviyo_digits_only), both computed once upstream.
    `plan` prefixes the plan's columns as joined upstream (`plan ~ 'calling_code'`,
    'trunk_prefix', 'nsn_min', 'nsn_max', 'nsn_first'; all null when the country has no plan;
    trunk_prefix null when the country has none).
-#}
{% macro klaviyo_normalize_phone(phone_expression, digits_expression, plan) -%}
    {{ return(adapter.dispatch('klaviyo_normalize_phone', 'klaviyo_audiences')(
        phone_expression, digits_expression, plan)) }}
{%- endmacro %}

{% macro default__klaviyo_normalize_phone(phone_expression, digits_expression, plan) -%}
    {%- set d = digits_expression -%}
    {%- set trunk = plan ~ 'trunk_prefix' -%}
    {%- set trunk_length = 'length(' ~ trunk ~ ')' -%}
    case
        when nullif(trim({{ phone_expression }}), '') is null then null
        when trim({{ phone_expression }}) like '+%'
            then case
                when length({{ d }}) between 8 and 15
                    and substr({{ d }}, 1, 1) <> '0'
                    then {{ dbt.concat(["'+'", d]) }}
            end
        when trim({{ phone_expression }}) like '00%'
            then case
                when length({{ d }}) between 10 and 17
                    and substr({{ d }}, 3, 1) <> '0'
                    then {{ dbt.concat(["'+'", "substr(" ~ d ~ ", 3)"]) }}
            end
        when {{ plan }}calling_code is null then null
        when {{ trunk }} is not null and substr({{ d }}, 1, {{ trunk_length }}) = {{ trunk }}
            then case
                when length({{ d }}) - {{ trunk_length }} between {{ plan }}nsn_min and {{ plan }}nsn_max
                    and substr({{ d }}, {{ trunk_length }} + 1, 1) between {{ plan }}nsn_first and '9'
                    then {{ dbt.concat(["'+'", plan ~ 'calling_code', 'substr(' ~ d ~ ', ' ~ trunk_length ~ ' + 1)']) }}
            end
        when length({{ d }}) between {{ plan }}nsn_min and {{ plan }}nsn_max
            and substr({{ d }}, 1, 1) between {{ plan }}nsn_first and '9'
            then {{ dbt.concat(["'+'", plan ~ 'calling_code', d]) }}
    end
{%- endmacro %}

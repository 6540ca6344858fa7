{#-
    E.164 ('+' then 8-15 digits) or null when the number is not unambiguous:
      - already international ('+...' or '00...'): its digits, when 8-15 of them (not starting
        with 0);
      - a national number, when the customer's country is one of klaviyo_phone_countries()
        (ISO-2, ISO-3 or English name, any case, trimmed): drop the trunk prefix when the digits
        start with it; the rest (the national significant number) must have an allowed length
        and first digit -> '+' || calling code || national significant number;
      - anything else (no country, a country not in the list, wrong length, text) -> null.
    `digits_expression` is the number with non-digits removed (klaviyo_digits_only), computed
    once upstream. The CASE is generated from the mapping (no join): one branch per distinct
    numbering rule, the countries sharing it (US and Canada) in one IN list.
-#}
{% macro klaviyo_normalize_phone(phone_expression, digits_expression, country_expression) -%}
    {{ return(adapter.dispatch('klaviyo_normalize_phone', 'klaviyo_audiences')(
        phone_expression, digits_expression, country_expression)) }}
{%- endmacro %}

{% macro default__klaviyo_normalize_phone(phone_expression, digits_expression, country_expression) -%}
    {%- set d = digits_expression -%}
    {#- dbt.concat rendered once, filled in per branch (a macro call per branch costs compile time). -#}
    {%- set concat_template = dbt.concat(['__left__', '__right__']) | string -%}
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
        {%- for rule in klaviyo_phone_rules() %}
        {%- set code = "'+" ~ rule.calling_code ~ "'" %}
        {%- set first = "between '" ~ rule.nsn_first ~ "' and '9'" %}
        when upper(trim({{ country_expression }})) in ('{{ rule.names | join("', '") }}')
            then case
                {%- if rule.trunk_prefix %}
                {%- set k = rule.trunk_prefix | length %}
                when substr({{ d }}, 1, {{ k }}) = '{{ rule.trunk_prefix }}'
                    then case
                        when length({{ d }}) between {{ rule.nsn_min + k }} and {{ rule.nsn_max + k }}
                            and substr({{ d }}, {{ k + 1 }}, 1) {{ first }}
                            then {{ concat_template.replace('__left__', code).replace('__right__', 'substr(' ~ d ~ ', ' ~ (k + 1) ~ ')') }}
                    end
                {%- endif %}
                when length({{ d }}) between {{ rule.nsn_min }} and {{ rule.nsn_max }}
                    and substr({{ d }}, 1, 1) {{ first }}
                    then {{ concat_template.replace('__left__', code).replace('__right__', d) }}
            end
        {%- endfor %}
    end
{%- endmacro %}

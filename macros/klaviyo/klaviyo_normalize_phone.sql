{#-
    E.164 ('+' then 8-15 digits) or null when the number is not unambiguous:
      - already international ('+...' or '00...'): its digits, when 8-15 of them;
      - national US/Canada numbers (country US, USA, CA, CAN, United States, Canada):
        10 digits not starting with 0/1 -> +1..., or 11 digits starting with 1 -> +...;
      - anything else (other countries' national numbers, no country, too short/long) -> null.
    `digits_expression` is the number with non-digits removed (klaviyo_digits_only), computed
    once upstream.
-#}
{% macro klaviyo_normalize_phone(phone_expression, digits_expression, country_expression) -%}
    case
        when nullif(trim({{ phone_expression }}), '') is null then null
        when trim({{ phone_expression }}) like '+%'
            then case
                when length({{ digits_expression }}) between 8 and 15
                    and substr({{ digits_expression }}, 1, 1) <> '0'
                    then {{ dbt.concat(["'+'", digits_expression]) }}
            end
        when trim({{ phone_expression }}) like '00%'
            then case
                when length({{ digits_expression }}) between 10 and 17
                    and substr({{ digits_expression }}, 3, 1) <> '0'
                    then {{ dbt.concat(["'+'", "substr(" ~ digits_expression ~ ", 3)"]) }}
            end
        when upper(trim({{ country_expression }})) in ('US', 'USA', 'CA', 'CAN', 'UNITED STATES', 'CANADA')
            then case
                when length({{ digits_expression }}) = 10
                    and substr({{ digits_expression }}, 1, 1) between '2' and '9'
                    then {{ dbt.concat(["'+1'", digits_expression]) }}
                when length({{ digits_expression }}) = 11
                    and substr({{ digits_expression }}, 1, 1) = '1'
                    and substr({{ digits_expression }}, 2, 1) between '2' and '9'
                    then {{ dbt.concat(["'+'", digits_expression]) }}
            end
    end
{%- endmacro %}

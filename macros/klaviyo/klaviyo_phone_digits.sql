{#-
    The digits of a captured phone number (its extension already cut off), as the E.164 rules
    read them (docs/campaigns.md, "Phone number"). A `(0)` inside an international number
    (`+44 (0)20 …`, `0049 (0)30 …`) is the trunk prefix written for national callers and is not
    dialled from abroad: it is left out, except after the calling codes of Italy (39) and San
    Marino (378), whose national numbers keep their leading 0. Portable: `like`, `trim`,
    `replace` and `klaviyo_digits_only`.
-#}
{% macro klaviyo_phone_digits(phone_expression) -%}
    {%- set all_digits = klaviyo_digits_only(phone_expression) -%}
    case
        when {{ phone_expression }} like '%(0)%'
            and (trim({{ phone_expression }}) like '+%' or trim({{ phone_expression }}) like '00%')
            and not ({{ all_digits }} like '39%' or {{ all_digits }} like '0039%'
                or {{ all_digits }} like '378%' or {{ all_digits }} like '00378%')
            then {{ klaviyo_digits_only("replace(" ~ phone_expression ~ ", '(0)', '')") }}
        else {{ all_digits }}
    end
{%- endmacro %}

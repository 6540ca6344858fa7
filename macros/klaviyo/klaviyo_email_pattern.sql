{#-
    The regular expression a trimmed, lower-cased email must match (docs/campaigns.md, "Email"),
    as a plain string for klaviyo_string_literal:

        local part   dot-atoms of RFC 5322 atext (letters, digits and ! # $ % & ' * + / = ? ^ _ ` { | } ~ -)
                     plus, per RFC 6531, any non-ASCII character; no leading, trailing or doubled dot
        @
        domain       labels of letters, digits and inner hyphens (non-ASCII letters too: IDN
                     U-labels) joined by dots, ending in a top-level domain of 2+ letters or a
                     punycode `xn--` label

    "Non-ASCII" is every code point from U+00A1 except the Unicode space separators, line and
    paragraph separators and invisible format characters (U+1680, U+2000-U+200F, U+2028-U+202F,
    U+205F-U+206F, U+3000, U+FEFF), so an address with a no-break or ideographic space inside
    is refused like one with a plain space.

    `ascii_only` (var `klaviyo_email_ascii_only`) leaves the non-ASCII characters out: RFC 5322
    atext and ASCII domains (punycode allowed) only.

    The one syntax the three regex flavours (RE2, PostgreSQL ARE, Java) write differently is the
    code-point escape (klaviyo_regex_code_point); the rest is common to all of them.
-#}
{% macro klaviyo_email_pattern(ascii_only=false) -%}
    {%- set cp = klaviyo_regex_code_point -%}
    {%- set excluded = [
        cp('0000') ~ '-' ~ cp('00A0'), cp('1680'), cp('2000') ~ '-' ~ cp('200F'),
        cp('2028') ~ '-' ~ cp('202F'), cp('205F') ~ '-' ~ cp('206F'), cp('3000'), cp('FEFF')] -%}
    {%- set non_ascii = '[^' ~ (excluded | join('')) ~ ']' -%}
    {%- if ascii_only -%}
        {%- set atext = "[a-z0-9!#$%&'*+/=?^_`{|}~-]" -%}
        {%- set letter_digit = '[a-z0-9]' -%}
        {%- set letter_digit_hyphen = '[a-z0-9-]' -%}
        {%- set tld_letter = '[a-z]' -%}
    {%- else -%}
        {%- set atext = "(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]|" ~ non_ascii ~ ")" -%}
        {%- set letter_digit = '(?:[a-z0-9]|' ~ non_ascii ~ ')' -%}
        {%- set letter_digit_hyphen = '(?:[a-z0-9-]|' ~ non_ascii ~ ')' -%}
        {%- set tld_letter = '(?:[a-z]|' ~ non_ascii ~ ')' -%}
    {%- endif -%}
    {%- set label = letter_digit ~ '(?:' ~ letter_digit_hyphen ~ '*' ~ letter_digit ~ ')?' -%}
    {%- set local_part = atext ~ '+(?:[.]' ~ atext ~ '+)*' -%}
    {%- set top_level = '(?:' ~ tld_letter ~ '{2,}|xn--[a-z0-9-]+)' -%}
    {{- return('^' ~ local_part ~ '@(?:' ~ label ~ '[.])+' ~ top_level ~ '$') -}}
{%- endmacro %}

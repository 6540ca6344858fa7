{#-
    klaviyo_phone_countries() checked and grouped by numbering rule, in declaration order:
    [{calling_code, trunk_prefix, nsn_min, nsn_max, nsn_first, names: upper-cased spellings, quotes doubled for SQL}].
    A malformed entry, or one spelling claimed by two countries, is a compile error.
-#}
{% macro klaviyo_phone_rules() -%}
    {%- set rules = [] -%}
    {%- set by_key = {} -%}
    {%- set owner = {} -%}
    {%- for country in klaviyo_phone_countries() -%}
        {%- set label = 'klaviyo_phone_countries: ' ~ (country.iso2 or country) -%}
        {%- for field in ['iso2', 'iso3', 'calling_code', 'trunk_prefix', 'nsn_min', 'nsn_max', 'nsn_first'] -%}
            {%- if country[field] is not defined or country[field] is none -%}
                {%- do exceptions.raise_compiler_error(label ~ ': field ' ~ field ~ ' is missing') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set code = country.calling_code | string -%}
        {%- set trunk = country.trunk_prefix | string -%}
        {%- set first = country.nsn_first | string -%}
        {%- if not code.isdigit() or not (trunk == '' or trunk.isdigit()) or not (first.isdigit() and first | length == 1) -%}
            {%- do exceptions.raise_compiler_error(label ~ ': calling_code, trunk_prefix and nsn_first must be digits, got '
                ~ code ~ ', ' ~ trunk ~ ', ' ~ first) -%}
        {%- endif -%}
        {%- if not (country.nsn_min is number and country.nsn_max is number
                    and 1 <= country.nsn_min <= country.nsn_max and code | length + country.nsn_max <= 15) -%}
            {%- do exceptions.raise_compiler_error(label ~ ': expected 1 <= nsn_min <= nsn_max and at most 15 digits with the calling code, got '
                ~ country.nsn_min ~ '..' ~ country.nsn_max) -%}
        {%- endif -%}
        {%- if trunk and first <= trunk[0] -%}
            {%- do exceptions.raise_compiler_error(label ~ ': nsn_first (' ~ first ~ ') must be above the trunk prefix digit ('
                ~ trunk[0] ~ ') so a leading trunk prefix is unambiguous') -%}
        {%- endif -%}
        {%- set key = code ~ '|' ~ trunk ~ '|' ~ country.nsn_min ~ '|' ~ country.nsn_max ~ '|' ~ first -%}
        {%- if key not in by_key -%}
            {%- set rule = {'calling_code': code, 'trunk_prefix': trunk, 'nsn_min': country.nsn_min,
                            'nsn_max': country.nsn_max, 'nsn_first': first, 'names': []} -%}
            {%- do by_key.update({key: rule}) -%}
            {%- do rules.append(rule) -%}
        {%- endif -%}
        {%- for spelling in [country.iso2, country.iso3] + (country.names or []) -%}
            {%- set name = spelling | trim | upper | replace("'", "''") -%}
            {%- if name in owner and owner[name] != country.iso2 -%}
                {%- do exceptions.raise_compiler_error(label ~ ': the spelling ' ~ spelling ~ ' is already used by ' ~ owner[name]) -%}
            {%- endif -%}
            {%- if name not in owner -%}
                {%- do owner.update({name: country.iso2}) -%}
                {%- do by_key[key].names.append(name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(rules) }}
{%- endmacro %}

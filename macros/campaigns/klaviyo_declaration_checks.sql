{#-
    The small helpers every section of the declaration check uses (klaviyo_normalize_*). Each
    check appends [field, message] to `errors` and never raises: the errors of a declaration
    are raised together when the campaign compiles (klaviyo_campaign).
-#}

{#- A declared value as error messages show it: text quoted ('100'), none, true and false in
    lowercase, numbers as written, lists and mappings as JSON. -#}
{% macro klaviyo_describe(value) -%}
    {%- if value is none -%}
        {{ return('none') }}
    {%- elif value is boolean -%}
        {{ return('true' if value else 'false') }}
    {%- elif value is string -%}
        {{ return("'" ~ value ~ "'") }}
    {%- elif value is number -%}
        {{ return(value | string) }}
    {%- endif -%}
    {{ return(tojson(value)) }}
{%- endmacro %}

{#- `value` when it is of `kind`, else `default` after appending
    "expected <expected>, got <value>" for `field`. Kinds: boolean; text (a string that is not
    blank); list (a list, not a string or mapping); items (a list that is not empty); mapping. -#}
{% macro klaviyo_expect(errors, field, value, kind, expected=none, default=none) -%}
    {%- set checks = {
        'boolean': value is boolean,
        'text': value is string and value.strip() != '',
        'list': value is sequence and value is not string and value is not mapping,
        'mapping': value is mapping,
    } -%}
    {%- do checks.update({'items': checks.list and value | length > 0}) -%}
    {%- if not checks[kind] -%}
        {%- set descriptions = {'boolean': 'true or false', 'text': 'a non-empty string',
            'list': 'a list', 'items': 'a list that is not empty', 'mapping': 'a mapping'} -%}
        {%- do errors.append([field, 'expected ' ~ (expected or descriptions[kind]) ~ ', got ' ~ klaviyo_describe(value)]) -%}
        {{ return(default) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{#- One error per key of the mapping `value` that is not in `allowed`:
    "<field>.<key>: is not <what> (expected a, b, c)". -#}
{% macro klaviyo_check_keys(errors, field, value, allowed, what) -%}
    {%- for key in value if key not in allowed -%}
        {%- do errors.append([(field ~ '.' if field else '') ~ key, 'is not ' ~ what ~ ' (expected ' ~ allowed | join(', ') ~ ')']) -%}
    {%- endfor -%}
{%- endmacro %}

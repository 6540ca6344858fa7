{#-
    Declaration section: `include` (1 to 10 segment model names) and `exclude` (0 to 10).
    Returns {'include': [...], 'exclude': [...]}: the valid names, each once.
-#}
{% macro klaviyo_normalize_segments(args, errors) -%}
    {%- set segments = {} -%}
    {%- for field, low, high in [('include', 1, 10), ('exclude', 0, 10)] -%}
        {%- set value = [] if args[field] is none else args[field] -%}
        {%- set value = [value] if value is string else value -%}
        {%- set value = klaviyo_expect(errors, field, value, 'list', 'a list of segment model names', []) -%}
        {%- set names = [] -%}
        {%- for segment in value -%}
            {%- if segment is not string or segment.strip() == '' -%}
                {%- do errors.append([field, 'expected segment model names, got ' ~ klaviyo_describe(segment)]) -%}
            {%- elif segment in names -%}
                {%- do errors.append([field, "lists segment '" ~ segment ~ "' twice"]) -%}
            {%- else -%}
                {%- do names.append(segment) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if value | length < low or value | length > high -%}
            {%- do errors.append([field, 'expected ' ~ low ~ ' to ' ~ high ~ ' segments, got ' ~ (value | length)]) -%}
        {%- endif -%}
        {%- do segments.update({field: names}) -%}
    {%- endfor -%}
    {%- for segment in segments.exclude if segment in segments.include -%}
        {%- do errors.append(['exclude', "segment '" ~ segment ~ "' is both included and excluded"]) -%}
    {%- endfor -%}
    {{ return(segments) }}
{%- endmacro %}

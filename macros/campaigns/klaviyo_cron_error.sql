{#-
    Why a 5-field cron expression is invalid, or none when it is valid. Fields: minute 0-59,
    hour 0-23, day of month 1-31, month 1-12 (or JAN-DEC), day of week 0-7 (or SUN-SAT); each
    a comma-separated list of `*`, `n`, `a-b`, optionally with a `/step`.
-#}
{% macro klaviyo_cron_error(expression) -%}
    {%- if expression is not string -%}
        {{ return('expected a cron expression string, got ' ~ expression) }}
    {%- endif -%}
    {%- set fields = expression.split() -%}
    {%- if fields | length != 5 -%}
        {{ return("expected 5 fields (minute hour day-of-month month day-of-week), got " ~ (fields | length) ~ " in '" ~ expression ~ "'") }}
    {%- endif -%}
    {%- set specs = [
        ('minute', 0, 59, {}),
        ('hour', 0, 23, {}),
        ('day-of-month', 1, 31, {}),
        ('month', 1, 12, {'JAN': 1, 'FEB': 2, 'MAR': 3, 'APR': 4, 'MAY': 5, 'JUN': 6, 'JUL': 7, 'AUG': 8, 'SEP': 9, 'OCT': 10, 'NOV': 11, 'DEC': 12}),
        ('day-of-week', 0, 7, {'SUN': 0, 'MON': 1, 'TUE': 2, 'WED': 3, 'THU': 4, 'FRI': 5, 'SAT': 6}),
    ] -%}
    {%- for field in fields -%}
        {%- set label, low, high, names = specs[loop.index0] -%}
        {%- for item in field.split(',') -%}
            {%- set match = modules.re.fullmatch('([*]|([0-9]+|[A-Za-z]{3})(-([0-9]+|[A-Za-z]{3}))?)(/([0-9]+))?', item) -%}
            {%- if not match -%}
                {{ return(label ~ " field '" ~ field ~ "' is not a cron list of *, n, a-b or */step") }}
            {%- endif -%}
            {%- if match.group(6) is not none and (match.group(6) | int) < 1 -%}
                {{ return(label ~ " field '" ~ field ~ "' has a step below 1") }}
            {%- endif -%}
            {%- set bounds = [] -%}
            {%- for token in [match.group(2), match.group(4)] if token is not none -%}
                {%- if token.upper() in names -%}
                    {%- do bounds.append(names[token.upper()]) -%}
                {%- elif token.isdigit() -%}
                    {%- do bounds.append(token | int) -%}
                {%- else -%}
                    {{ return(label ~ " field '" ~ field ~ "' has an unknown name '" ~ token ~ "'") }}
                {%- endif -%}
            {%- endfor -%}
            {%- for bound in bounds -%}
                {%- if bound < low or bound > high -%}
                    {{ return(label ~ " field '" ~ field ~ "' is out of range " ~ low ~ "-" ~ high) }}
                {%- endif -%}
            {%- endfor -%}
            {%- if bounds | length == 2 and bounds[0] > bounds[1] -%}
                {{ return(label ~ " field '" ~ field ~ "' has a range whose start is after its end") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}

{#-
    'YYYY-MM-DD HH:MM[:SS]' (a 'T' separator and a trailing 'Z' or '+00:00' are accepted; the
    value is UTC) -> 'YYYY-MM-DD HH:MM:SS'; none when the value is not such a datetime.
-#}
{% macro klaviyo_parse_datetime(value) -%}
    {%- if value is not string -%}{{ return(none) }}{%- endif -%}
    {%- set text = value.strip().replace('T', ' ') -%}
    {%- if text.endswith('Z') -%}{%- set text = text[:-1] -%}{%- endif -%}
    {%- if text.endswith('+00:00') -%}{%- set text = text[:-6] -%}{%- endif -%}
    {%- for pattern in ['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%Y-%m-%d'] -%}
        {%- set parsed = none -%}
        {%- if modules.re.fullmatch(
                {'%Y-%m-%d %H:%M:%S': '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}',
                 '%Y-%m-%d %H:%M': '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}',
                 '%Y-%m-%d': '[0-9]{4}-[0-9]{2}-[0-9]{2}'}[pattern], text) -%}
            {%- set parts = modules.re.split('[- :]', text) | map('int') | list -%}
            {%- set month_days = [31, 29 if (parts[0] % 4 == 0 and (parts[0] % 100 != 0 or parts[0] % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
            {%- set hour = parts[3] if parts | length > 3 else 0 -%}
            {%- set minute = parts[4] if parts | length > 4 else 0 -%}
            {%- set second = parts[5] if parts | length > 5 else 0 -%}
            {%- if 1 <= parts[1] <= 12 and 1 <= parts[2] <= month_days[parts[1] - 1]
                    and hour <= 23 and minute <= 59 and second <= 59 -%}
                {{ return('%04d-%02d-%02d %02d:%02d:%02d' | format(parts[0], parts[1], parts[2], hour, minute, second)) }}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}

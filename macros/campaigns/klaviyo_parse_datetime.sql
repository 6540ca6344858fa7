{#-
    A declared datetime as UTC 'YYYY-MM-DD HH:MM:SS', or none when it is not one. Accepted:
    'YYYY-MM-DD', optionally followed by ' HH:MM' or ' HH:MM:SS' (or 'T' instead of the space),
    optionally followed by 'Z' or a UTC offset '+HH:MM' / '-HH:MM' / '+HHMM' (converted to
    UTC); without an offset the value is UTC. The loader reads these instants with Python's
    datetime.fromisoformat; tests/schedule/test_cron_datetime_parity.py holds the two to the
    same cases.
-#}
{% macro klaviyo_parse_datetime(value) -%}
    {%- if value is not string -%}{{ return(none) }}{%- endif -%}
    {%- set match = modules.re.fullmatch(
        '([0-9]{4})-([0-9]{2})-([0-9]{2})([ Tt]([0-9]{2}):([0-9]{2})(:([0-9]{2}))?([Zz]|([+-])([0-9]{2}):?([0-9]{2}))?)?',
        value.strip()) -%}
    {%- if not match -%}{{ return(none) }}{%- endif -%}
    {%- set year, month, day = match.group(1) | int, match.group(2) | int, match.group(3) | int -%}
    {%- set hour, minute, second = (match.group(5) or 0) | int, (match.group(6) or 0) | int, (match.group(8) or 0) | int -%}
    {%- set month_days = [31, 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28,
        31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
    {%- if not (1 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= month_days[month - 1]
            and hour <= 23 and minute <= 59 and second <= 59) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set instant = modules.datetime.datetime(year, month, day, hour, minute, second) -%}
    {%- if match.group(10) -%}
        {%- set offset_hours, offset_minutes = match.group(11) | int, match.group(12) | int -%}
        {%- if offset_hours > 23 or offset_minutes > 59 or year in [1, 9999] -%}{{ return(none) }}{%- endif -%}
        {%- set offset = modules.datetime.timedelta(hours=offset_hours, minutes=offset_minutes) -%}
        {%- set instant = instant - offset if match.group(10) == '+' else instant + offset -%}
    {%- endif -%}
    {{ return(instant.strftime('%Y-%m-%d %H:%M:%S')) }}
{%- endmacro %}

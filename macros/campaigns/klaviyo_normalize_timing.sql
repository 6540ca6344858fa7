{#-
    Declaration section: `timing` = {type, cron or interval_minutes, send_at, launch_at}.
    Returns {type, cron, interval_minutes, send_mode, send_at, launch_at}; datetimes as UTC
    'YYYY-MM-DD HH:MM:SS', the cron with its whitespace collapsed.
-#}
{% macro klaviyo_normalize_timing(args, errors) -%}
    {%- set timing = klaviyo_expect(errors, 'timing', args.timing or {}, 'mapping',
        '{type, cron or interval_minutes, send_at, launch_at}', {}) -%}
    {%- do klaviyo_check_keys(errors, 'timing', timing, ['type', 'cron', 'interval_minutes', 'send_at', 'launch_at'], 'a timing key') -%}
    {%- set campaign_type = timing.get('type', 'one_time') -%}
    {%- set cron = timing.get('cron') -%}
    {%- set interval_minutes = timing.get('interval_minutes') -%}
    {%- if campaign_type not in ['one_time', 'recurring'] -%}
        {%- do errors.append(['timing.type', 'expected one_time or recurring, got ' ~ klaviyo_describe(campaign_type)]) -%}
    {%- elif campaign_type == 'one_time' and (cron is not none or interval_minutes is not none) -%}
        {%- do errors.append(['timing.type', 'a one_time campaign takes no cron or interval_minutes (use type: recurring)']) -%}
    {%- elif campaign_type == 'recurring' and (cron is none) == (interval_minutes is none) -%}
        {%- do errors.append(['timing', 'a recurring campaign needs exactly one of cron or interval_minutes']) -%}
    {%- endif -%}
    {%- if cron is not none -%}
        {%- set parsed = klaviyo_parse_cron(cron) -%}
        {%- if parsed.error -%}
            {%- do errors.append(['timing.cron', 'invalid schedule: ' ~ parsed.error]) -%}
        {%- else -%}
            {%- set cron = parsed.expression -%}
        {%- endif -%}
    {%- endif -%}
    {%- if interval_minutes is not none and (interval_minutes is boolean or interval_minutes is not integer or interval_minutes < 1) -%}
        {%- do errors.append(['timing.interval_minutes', 'invalid schedule: expected a positive whole number of minutes, got ' ~ klaviyo_describe(interval_minutes)]) -%}
    {%- endif -%}
    {%- set send_at = timing.get('send_at', 'asap') -%}
    {%- set send_mode = 'asap' if send_at is none or send_at == 'asap' else 'scheduled' -%}
    {%- if send_mode == 'asap' -%}
        {%- set send_at = none -%}
    {%- else -%}
        {%- set parsed = klaviyo_parse_datetime(send_at) -%}
        {%- if parsed is none -%}
            {%- do errors.append(['timing.send_at', "expected 'asap' or a datetime 'YYYY-MM-DD HH:MM' (UTC unless it ends with an offset such as +02:00), got " ~ klaviyo_describe(send_at)]) -%}
        {%- endif -%}
        {%- set send_at = parsed -%}
    {%- endif -%}
    {%- set launch_at = timing.get('launch_at') -%}
    {%- if launch_at is not none -%}
        {%- set parsed = klaviyo_parse_datetime(launch_at) -%}
        {%- if parsed is none -%}
            {%- do errors.append(['timing.launch_at', "expected a datetime 'YYYY-MM-DD HH:MM' (UTC unless it ends with an offset such as +02:00), got " ~ klaviyo_describe(launch_at)]) -%}
        {%- endif -%}
        {%- set launch_at = parsed -%}
    {%- endif -%}
    {{ return({'type': campaign_type, 'cron': cron, 'interval_minutes': interval_minutes,
        'send_mode': send_mode, 'send_at': send_at, 'launch_at': launch_at}) }}
{%- endmacro %}

{#-
    Read a campaign's cron expression: {'error': none, 'expression': <whitespace collapsed>,
    'fields': [minutes, hours, days of month, months, days of week]} (each the sorted values it
    allows; Sunday is 0), or {'error': <why it is refused>}.

    Five fields: minute 0-59, hour 0-23, day of month 1-31, month 1-12 (or JAN-DEC), day of week
    0-7 (or SUN-SAT; 0 and 7 are Sunday, and a range may end on Sunday: SAT-SUN); each a comma-separated list of `*`, `n` or `a-b`,
    optionally with `/step` (`n/step` runs from n to the field's end), a bare `*` only alone, and a
    day field that allows every day is written `*`. Or one of @yearly,
    @annually, @monthly, @weekly, @daily, @midnight, @hourly. The loader evaluates the
    schedule with croniter, which reads exactly these the same way; refused although croniter
    takes them: its extensions (L, W, #, ?, H, a seconds or year field), ranges that wrap
    (FRI-MON: write FRI-SAT,SUN-MON) or start and end at one value (croniter reads 2-2 as *).
    A cron that never fires is refused: when both day fields are restricted (neither is `*`) a
    day matching either fires, as in standard cron, so only a day of month that no allowed
    month has (`0 8 31 2 *`) with day of week `*` never fires.
    tests/schedule/test_cron_datetime_parity.py holds this reading to croniter's.
-#}
{% macro klaviyo_parse_cron(expression) -%}
    {%- if expression is not string -%}
        {{ return({'error': 'expected a cron expression string, got ' ~ klaviyo_describe(expression)}) }}
    {%- endif -%}
    {%- set text = expression.split() | join(' ') -%}
    {%- set fields_text = text -%}
    {%- if text.startswith('@') -%}
        {%- set text = text.lower() -%}
        {%- set shortcuts = {'@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *',
            '@weekly': '0 0 * * 0', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *'} -%}
        {%- if text not in shortcuts -%}
            {{ return({'error': "unknown shortcut '" ~ expression ~ "' (expected one of " ~ shortcuts.keys() | join(', ') ~ ")"}) }}
        {%- endif -%}
        {%- set fields_text = shortcuts[text] -%}
    {%- endif -%}
    {%- set fields = fields_text.split() -%}
    {%- if fields | length != 5 -%}
        {{ return({'error': "expected 5 fields (minute hour day-of-month month day-of-week), got " ~ (fields | length) ~ " in '" ~ expression ~ "'"}) }}
    {%- endif -%}
    {%- set month_names = {'JAN': 1, 'FEB': 2, 'MAR': 3, 'APR': 4, 'MAY': 5, 'JUN': 6, 'JUL': 7, 'AUG': 8, 'SEP': 9, 'OCT': 10, 'NOV': 11, 'DEC': 12} -%}
    {%- set day_names = {'SUN': 0, 'MON': 1, 'TUE': 2, 'WED': 3, 'THU': 4, 'FRI': 5, 'SAT': 6} -%}
    {#- label, lowest, highest, names, last value of a `*` or `n/step` -#}
    {%- set specs = [('minute', 0, 59, {}, 59), ('hour', 0, 23, {}, 23), ('day-of-month', 1, 31, {}, 31),
        ('month', 1, 12, month_names, 12), ('day-of-week', 0, 7, day_names, 6)] -%}
    {%- set allowed = [] -%}
    {%- for field in fields -%}
        {%- set label, low, high, names, last = specs[loop.index0] -%}
        {%- set values = [] -%}
        {%- for item in field.split(',') -%}
            {%- set match = modules.re.fullmatch('([*]|([0-9]+|[A-Za-z]{3})(-([0-9]+|[A-Za-z]{3}))?)(/([0-9]+))?', item) -%}
            {%- if not match -%}
                {{ return({'error': label ~ " field '" ~ field ~ "' is not a cron list of *, n, a-b or */step"}) }}
            {%- endif -%}
            {%- if item == '*' and field != '*' -%}
                {{ return({'error': label ~ " field '" ~ field ~ "' lists * with other values (* alone allows every value)"}) }}
            {%- endif -%}
            {%- set step = (match.group(6) or 1) | int -%}
            {%- if step < 1 -%}
                {{ return({'error': label ~ " field '" ~ field ~ "' has a step below 1"}) }}
            {%- endif -%}
            {%- set bounds = [] -%}
            {%- for token in [match.group(2), match.group(4)] if token is not none -%}
                {%- if token.upper() in names -%}
                    {%- do bounds.append(names[token.upper()]) -%}
                {%- elif token.isdigit() -%}
                    {%- do bounds.append(token | int) -%}
                {%- else -%}
                    {{ return({'error': label ~ " field '" ~ field ~ "' has an unknown name '" ~ token ~ "'"}) }}
                {%- endif -%}
            {%- endfor -%}
            {%- if label == 'day-of-week' and bounds | length == 2 and bounds[1] == 0 and bounds[0] > 0 -%}
                {#- SAT-SUN: a range ending on Sunday ends on 7 -#}
                {%- do bounds.pop() -%}
                {%- do bounds.append(7) -%}
            {%- endif -%}
            {%- for bound in bounds if bound < low or bound > high -%}
                {{ return({'error': label ~ " field '" ~ field ~ "' is out of range " ~ low ~ "-" ~ high}) }}
            {%- endfor -%}
            {%- if bounds | length == 2 and bounds[0] > bounds[1] -%}
                {{ return({'error': label ~ " field '" ~ field ~ "' has a range whose start is after its end (write it as a list, e.g. FRI-SAT,SUN-MON)"}) }}
            {%- elif bounds | length == 2 and bounds[0] == bounds[1] -%}
                {{ return({'error': label ~ " field '" ~ field ~ "' has a range that starts and ends at " ~ bounds[0] ~ " (write " ~ bounds[0] ~ ")"}) }}
            {%- endif -%}
            {%- if bounds | length == 0 -%}
                {%- set first, final = low, last -%}
            {%- elif bounds | length == 2 -%}
                {%- set first, final = bounds[0], bounds[1] -%}
            {%- elif match.group(6) is not none -%}
                {#- n/step: from n to the field's end (a Sunday written 7 counts from 0) -#}
                {%- set first = 0 if label == 'day-of-week' and bounds[0] == 7 else bounds[0] -%}
                {%- set final = last -%}
            {%- else -%}
                {%- set first, final = bounds[0], bounds[0] -%}
            {%- endif -%}
            {%- for value in range(first, final + 1, step) -%}
                {%- set value = 0 if label == 'day-of-week' and value == 7 else value -%}
                {%- if value not in values -%}
                    {%- do values.append(value) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- if label in ['day-of-month', 'day-of-week'] and field != '*' and values | length == last - low + 1 -%}
            {{ return({'error': label ~ " field '" ~ field ~ "' allows every day: write *"}) }}
        {%- endif -%}
        {%- do allowed.append(values | sort) -%}
    {%- endfor -%}
    {%- if fields[4] == '*' -%}
        {%- set month_days = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
        {%- set fires = namespace(any=false) -%}
        {%- for month in allowed[3] if allowed[2][0] <= month_days[month - 1] -%}
            {%- set fires.any = true -%}
        {%- endfor -%}
        {%- if not fires.any -%}
            {{ return({'error': "'" ~ expression ~ "' never fires: day of month " ~ allowed[2] | join(',') ~ " does not exist in month " ~ allowed[3] | join(',')}) }}
        {%- endif -%}
    {%- endif -%}
    {{ return({'error': none, 'expression': text, 'fields': allowed}) }}
{%- endmacro %}

{#-
    Declaration section: `first_match_only`, `sub_audiences` and their `treatments` (each
    sub-audience's own, else the campaign-wide `treatments`). Returns
    {'first_match_only': bool, 'sub_audiences': [{sub_audience_id, sub_audience_name,
    sub_audience_order, condition, treatments: [{treatment_id, treatment_name, percent,
    basis_points, is_control, list_name, field (where it is declared, for messages)}]}]}.
    Adds to `warnings` list names that differ only in case or spacing (Klaviyo matches list
    names exactly: they are different lists).
-#}
{% macro klaviyo_normalize_sub_audiences(args, errors, warnings) -%}
    {%- set first_match_only = klaviyo_expect(errors, 'first_match_only', args.first_match_only, 'boolean', default=true) -%}
    {%- set declared_sub_audiences = args.sub_audiences -%}
    {%- if declared_sub_audiences is none or declared_sub_audiences == [] -%}
        {%- set declared_sub_audiences = [{'name': 'All'}] -%}
    {%- else -%}
        {%- set declared_sub_audiences = klaviyo_expect(errors, 'sub_audiences', declared_sub_audiences, 'list',
            'a list of {name, condition, treatments}', []) -%}
    {%- endif -%}
    {%- set sub_audiences = [] -%}
    {%- set sub_audience_ids = [] -%}
    {%- set list_spellings = {} -%}
    {%- for declared in declared_sub_audiences -%}
        {%- set position = loop.index -%}
        {%- set sub_field = 'sub_audiences[' ~ loop.index0 ~ ']' -%}
        {%- set declared = klaviyo_expect(errors, sub_field, declared, 'mapping', '{name, condition, treatments}', {}) -%}
        {%- do klaviyo_check_keys(errors, sub_field, declared, ['name', 'condition', 'treatments'], 'a sub-audience key') -%}
        {%- set sub_name = declared.get('name') -%}
        {%- if sub_name is not string or klaviyo_slugify(sub_name) == '' -%}
            {%- do errors.append([sub_field ~ '.name', 'expected a name with letters or digits, got ' ~ klaviyo_describe(sub_name)]) -%}
            {%- set sub_name = 'sub_audience_' ~ position -%}
        {%- endif -%}
        {%- set sub_id = 'all' if args.sub_audiences in [none, []] else klaviyo_slugify(sub_name) -%}
        {%- if sub_id in sub_audience_ids -%}
            {%- do errors.append([sub_field ~ '.name', "duplicate sub-audience name '" ~ sub_name ~ "' (id '" ~ sub_id ~ "')"]) -%}
        {%- endif -%}
        {%- do sub_audience_ids.append(sub_id) -%}
        {%- set condition = declared.get('condition') -%}
        {%- if condition is not none -%}
            {%- set condition = klaviyo_expect(errors, sub_field ~ '.condition', condition, 'text', 'a SQL boolean expression string') -%}
        {%- endif -%}
        {%- set treatment_field = (sub_field ~ '.treatments') if 'treatments' in declared else 'treatments' -%}
        {%- set declared_treatments = klaviyo_expect(errors, treatment_field, declared.get('treatments', args.treatments), 'items',
            "a list of treatment groups [{name, percent, list_name} or {name, percent, control: true}] for sub-audience '" ~ sub_name ~ "'", []) -%}
        {%- set treatments = klaviyo_normalize_treatments(declared_treatments, treatment_field, sub_name, errors, list_spellings) -%}
        {%- do sub_audiences.append({'sub_audience_id': sub_id, 'sub_audience_name': sub_name,
            'sub_audience_order': position, 'condition': condition, 'treatments': treatments}) -%}
    {%- endfor -%}
    {%- for spellings in list_spellings.values() if spellings | length > 1 -%}
        {%- do warnings.append("list names " ~ spellings | map('tojson') | join(' and ') ~ " differ only in case or spacing: Klaviyo matches list names exactly, so they are " ~ spellings | length ~ " different lists") -%}
    {%- endfor -%}
    {{ return({'first_match_only': first_match_only, 'sub_audiences': sub_audiences}) }}
{%- endmacro %}

{#- The treatments of one sub-audience (see klaviyo_normalize_sub_audiences). `list_spellings`
    collects every list name by its case- and space-insensitive key. -#}
{% macro klaviyo_normalize_treatments(declared_treatments, treatment_field, sub_name, errors, list_spellings) -%}
    {%- set treatments = [] -%}
    {%- set totals = namespace(basis_points=0, controls=0, all_valid=true) -%}
    {%- set treatment_ids = [] -%}
    {%- set lists = {} -%}
    {%- set percents = [] -%}
    {%- for treatment in declared_treatments -%}
        {%- set t_field = treatment_field ~ '[' ~ loop.index0 ~ ']' -%}
        {%- set treatment = klaviyo_expect(errors, t_field, treatment, 'mapping',
            '{name, percent, list_name} or {name, percent, control: true}', {}) -%}
        {%- do klaviyo_check_keys(errors, t_field, treatment, ['name', 'percent', 'list_name', 'control'], 'a treatment key') -%}
        {%- set t_name = treatment.get('name') -%}
        {%- if t_name is not string or klaviyo_slugify(t_name) == '' -%}
            {%- do errors.append([t_field ~ '.name', 'expected a name with letters or digits, got ' ~ klaviyo_describe(t_name)]) -%}
            {%- set t_name = 'treatment_' ~ loop.index -%}
        {%- endif -%}
        {%- set t_id = klaviyo_slugify(t_name) -%}
        {%- if t_id in treatment_ids -%}
            {%- do errors.append([t_field ~ '.name', "duplicate treatment name '" ~ t_name ~ "' in sub-audience '" ~ sub_name ~ "'"]) -%}
        {%- endif -%}
        {%- do treatment_ids.append(t_id) -%}
        {%- set basis_points = klaviyo_percent_basis_points(treatment.get('percent'), t_field ~ '.percent', errors) -%}
        {%- if basis_points is none -%}
            {%- set totals.all_valid = false -%}
            {%- set basis_points = 0 -%}
        {%- else -%}
            {%- do percents.append(treatment.get('percent') | string) -%}
        {%- endif -%}
        {%- set totals.basis_points = totals.basis_points + basis_points -%}
        {%- set is_control = klaviyo_expect(errors, t_field ~ '.control', treatment.get('control', false), 'boolean', default=false) -%}
        {%- set list_name = treatment.get('list_name') -%}
        {%- if is_control -%}
            {%- set totals.controls = totals.controls + 1 -%}
            {%- if list_name is not none -%}
                {%- do errors.append([t_field ~ '.list_name', "control group '" ~ t_name ~ "' is never sent: remove its list_name"]) -%}
            {%- endif -%}
            {%- set list_name = none -%}
        {%- elif list_name is not string or list_name.strip() == '' -%}
            {%- do errors.append([t_field ~ '.list_name', "treatment '" ~ t_name ~ "' has no destination: expected a Klaviyo list name (or control: true), got " ~ klaviyo_describe(list_name)]) -%}
            {%- set list_name = none -%}
        {%- elif list_name in lists -%}
            {%- do errors.append([t_field ~ '.list_name', "treatments '" ~ lists[list_name] ~ "' and '" ~ t_name ~ "' of sub-audience '" ~ sub_name ~ "' both send to list '" ~ list_name ~ "': one Klaviyo list cannot tell the groups apart, give each its own list"]) -%}
        {%- else -%}
            {%- do lists.update({list_name: t_name}) -%}
            {%- set key = modules.re.sub('\\s+', ' ', list_name.strip().lower()) -%}
            {%- set spellings = list_spellings.setdefault(key, []) -%}
            {%- if list_name not in spellings -%}
                {%- do spellings.append(list_name) -%}
            {%- endif -%}
        {%- endif -%}
        {%- do treatments.append({'treatment_id': t_id, 'treatment_name': t_name, 'percent': basis_points / 100,
            'basis_points': basis_points, 'is_control': is_control, 'list_name': list_name, 'field': t_field}) -%}
    {%- endfor -%}
    {%- if totals.all_valid and declared_treatments | length > 0 and totals.basis_points != 10000 -%}
        {%- do errors.append([treatment_field ~ '.percent', "percents of sub-audience '" ~ sub_name ~ "' sum to " ~ (totals.basis_points // 100 if totals.basis_points % 100 == 0 else totals.basis_points / 100) ~ " (" ~ percents | join(' + ') ~ "), expected exactly 100 (control included)"]) -%}
    {%- endif -%}
    {%- if totals.controls > 1 -%}
        {%- do errors.append([treatment_field ~ '.control', "sub-audience '" ~ sub_name ~ "' has " ~ totals.controls ~ " control groups, expected at most 1"]) -%}
    {%- endif -%}
    {{ return(treatments) }}
{%- endmacro %}

{#- A treatment's percent in basis points (45.5 -> 4550), or none after appending its error:
    a number above 0 and at most 100 with at most 2 decimals. -#}
{% macro klaviyo_percent_basis_points(percent, field, errors) -%}
    {%- if percent is boolean or percent is not number -%}
        {%- do errors.append([field, 'expected a number above 0 and at most 100, got ' ~ klaviyo_describe(percent)
            ~ (' (text: write the number without quotes)' if percent is string else '')]) -%}
    {%- elif percent <= 0 or percent > 100 -%}
        {%- do errors.append([field, 'expected a number above 0 and at most 100, got ' ~ percent]) -%}
    {%- elif ((percent * 100) | round(6)) != ((percent * 100) | round(0)) -%}
        {%- do errors.append([field, 'expected at most 2 decimals, got ' ~ percent]) -%}
    {%- else -%}
        {{ return((percent * 100) | round(0) | int) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

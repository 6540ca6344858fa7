{#-
    Check a campaign declaration (the keyword arguments of klaviyo_campaign) and return
    {'declaration': <normalised dict>, 'errors': [[field, message], ...]}.
    Never raises: at parse time the declaration is stored as far as it could be normalised, and
    the errors are raised when the model is compiled (klaviyo_campaign).
-#}
{% macro klaviyo_normalise_campaign(args, unknown_arguments) -%}
    {%- set errors = [] -%}
    {%- set fixed_columns = ['campaign_id', 'campaign_name', 'sub_audience_id', 'sub_audience_name',
        'treatment_id', 'treatment_name', 'is_control', 'list_name', 'segment_id', 'segment_name',
        'amperity_id', 'shrink_reason'] -%}
    {%- for key in unknown_arguments -%}
        {%- do errors.append([key, "is not a campaign argument (expected one of: name, campaign_id, include, exclude, sub_audiences, treatments, first_match_only, attributes, attribute_source, condition_source, update_contacts, identifier, timing)"]) -%}
    {%- endfor -%}

    {#- name and id -#}
    {%- set name = args.name -%}
    {%- if name is not string or name.strip() == '' -%}
        {%- do errors.append(['name', 'expected a non-empty string, got ' ~ name]) -%}
        {%- set name = (name or '') | string -%}
    {%- endif -%}
    {%- set campaign_id = args.campaign_id -%}
    {%- if campaign_id is not string or not modules.re.fullmatch('[a-z0-9][a-z0-9_-]{0,99}', campaign_id) -%}
        {%- do errors.append(['campaign_id', 'expected a stable id of lowercase letters, digits, _ or - (e.g. spring_sale_2026), got ' ~ campaign_id]) -%}
        {%- set campaign_id = (campaign_id or '') | string -%}
    {%- endif -%}

    {#- include / exclude -#}
    {%- set segment_lists = {} -%}
    {%- for field, low, high in [('include', 1, 10), ('exclude', 0, 10)] -%}
        {%- set value = args[field] if args[field] is not none else [] -%}
        {%- if value is string -%}{%- set value = [value] -%}{%- endif -%}
        {%- set names = [] -%}
        {%- if value is not sequence or value is mapping -%}
            {%- do errors.append([field, 'expected a list of segment model names, got ' ~ value]) -%}
        {%- else -%}
            {%- for segment in value -%}
                {%- if segment is not string or segment.strip() == '' -%}
                    {%- do errors.append([field, 'expected segment model names, got ' ~ segment]) -%}
                {%- elif segment in names -%}
                    {%- do errors.append([field, "lists segment '" ~ segment ~ "' twice (duplicate name)"]) -%}
                {%- else -%}
                    {%- do names.append(segment) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- if value | length < low or value | length > high -%}
                {%- do errors.append([field, 'expected ' ~ low ~ ' to ' ~ high ~ ' segments, got ' ~ (value | length)]) -%}
            {%- endif -%}
        {%- endif -%}
        {%- do segment_lists.update({field: names}) -%}
    {%- endfor -%}
    {%- for segment in segment_lists.exclude if segment in segment_lists.include -%}
        {%- do errors.append(['exclude', "segment '" ~ segment ~ "' is both included and excluded"]) -%}
    {%- endfor -%}

    {#- sub-audiences and treatments -#}
    {%- set first_match_only = args.first_match_only -%}
    {%- if first_match_only is not boolean -%}
        {%- do errors.append(['first_match_only', 'expected true or false, got ' ~ first_match_only]) -%}
        {%- set first_match_only = true -%}
    {%- endif -%}
    {%- set declared_sub_audiences = args.sub_audiences -%}
    {%- if declared_sub_audiences is none or declared_sub_audiences == [] -%}
        {%- set declared_sub_audiences = [{'name': 'All', 'condition': none}] -%}
    {%- elif declared_sub_audiences is not sequence or declared_sub_audiences is string or declared_sub_audiences is mapping -%}
        {%- do errors.append(['sub_audiences', 'expected a list of {name, condition, treatments}, got ' ~ declared_sub_audiences]) -%}
        {%- set declared_sub_audiences = [] -%}
    {%- endif -%}
    {%- set sub_audiences = [] -%}
    {%- set sub_audience_ids = [] -%}
    {%- for declared in declared_sub_audiences -%}
        {%- set position = loop.index -%}
        {%- set sub_field = 'sub_audiences[' ~ loop.index0 ~ ']' -%}
        {%- if declared is not mapping -%}
            {%- do errors.append([sub_field, 'expected {name, condition, treatments}, got ' ~ declared]) -%}
            {%- set declared = {} -%}
        {%- endif -%}
        {%- for key in declared if key not in ['name', 'condition', 'treatments'] -%}
            {%- do errors.append([sub_field ~ '.' ~ key, 'is not a sub-audience key (expected name, condition, treatments)']) -%}
        {%- endfor -%}
        {%- set sub_name = declared.get('name') -%}
        {%- if sub_name is not string or klaviyo_slugify(sub_name) == '' -%}
            {%- do errors.append([sub_field ~ '.name', 'expected a name with letters or digits, got ' ~ sub_name]) -%}
            {%- set sub_name = 'sub_audience_' ~ position -%}
        {%- endif -%}
        {%- set sub_id = 'all' if args.sub_audiences in [none, []] else klaviyo_slugify(sub_name) -%}
        {%- if sub_id in sub_audience_ids -%}
            {%- do errors.append([sub_field ~ '.name', "duplicate sub-audience name '" ~ sub_name ~ "' (id '" ~ sub_id ~ "')"]) -%}
        {%- endif -%}
        {%- do sub_audience_ids.append(sub_id) -%}
        {%- set condition = declared.get('condition') -%}
        {%- if condition is not none and (condition is not string or condition.strip() == '') -%}
            {%- do errors.append([sub_field ~ '.condition', 'expected a SQL boolean expression string, got ' ~ condition]) -%}
            {%- set condition = none -%}
        {%- endif -%}
        {%- set declared_treatments = declared.get('treatments', args.treatments) -%}
        {%- set treatment_field = (sub_field ~ '.treatments') if 'treatments' in declared else 'treatments' -%}
        {%- if declared_treatments is none or declared_treatments is string or declared_treatments is mapping or declared_treatments is not sequence or declared_treatments | length == 0 -%}
            {%- do errors.append([treatment_field, "expected a list of treatment groups [{name, percent, list_name} or {name, percent, control: true}] for sub-audience '" ~ sub_name ~ "', got " ~ declared_treatments]) -%}
            {%- set declared_treatments = [] -%}
        {%- endif -%}
        {%- set treatments = [] -%}
        {%- set totals = namespace(basis_points=0, controls=0) -%}
        {%- set treatment_ids = [] -%}
        {%- for treatment in declared_treatments -%}
            {%- set t_field = treatment_field ~ '[' ~ loop.index0 ~ ']' -%}
            {%- if treatment is not mapping -%}
                {%- do errors.append([t_field, 'expected {name, percent, list_name} or {name, percent, control: true}, got ' ~ treatment]) -%}
                {%- set treatment = {} -%}
            {%- endif -%}
            {%- for key in treatment if key not in ['name', 'percent', 'list_name', 'control'] -%}
                {%- do errors.append([t_field ~ '.' ~ key, 'is not a treatment key (expected name, percent, list_name, control)']) -%}
            {%- endfor -%}
            {%- set t_name = treatment.get('name') -%}
            {%- if t_name is not string or klaviyo_slugify(t_name) == '' -%}
                {%- do errors.append([t_field ~ '.name', 'expected a name with letters or digits, got ' ~ t_name]) -%}
                {%- set t_name = 'treatment_' ~ loop.index -%}
            {%- endif -%}
            {%- set t_id = klaviyo_slugify(t_name) -%}
            {%- if t_id in treatment_ids -%}
                {%- do errors.append([t_field ~ '.name', "duplicate treatment name '" ~ t_name ~ "' in sub-audience '" ~ sub_name ~ "'"]) -%}
            {%- endif -%}
            {%- do treatment_ids.append(t_id) -%}
            {%- set percent = treatment.get('percent') -%}
            {%- if percent is boolean or percent is not number or percent <= 0 or percent > 100 or ((percent * 100) | round(6)) != ((percent * 100) | round(0)) -%}
                {%- do errors.append([t_field ~ '.percent', 'expected a number above 0 and at most 100 with at most 2 decimals, got ' ~ percent]) -%}
                {%- set basis_points = 0 -%}
            {%- else -%}
                {%- set basis_points = (percent * 100) | round(0) | int -%}
            {%- endif -%}
            {%- set totals.basis_points = totals.basis_points + basis_points -%}
            {%- set is_control = treatment.get('control', false) -%}
            {%- if is_control is not boolean -%}
                {%- do errors.append([t_field ~ '.control', 'expected true or false, got ' ~ is_control]) -%}
                {%- set is_control = false -%}
            {%- endif -%}
            {%- set list_name = treatment.get('list_name') -%}
            {%- if is_control -%}
                {%- set totals.controls = totals.controls + 1 -%}
                {%- if list_name is not none -%}
                    {%- do errors.append([t_field ~ '.list_name', "control group '" ~ t_name ~ "' is never sent: remove its list_name"]) -%}
                {%- endif -%}
                {%- set list_name = none -%}
            {%- elif list_name is not string or list_name.strip() == '' -%}
                {%- do errors.append([t_field ~ '.list_name', "treatment '" ~ t_name ~ "' has no destination: expected a Klaviyo list name (or control: true), got " ~ list_name]) -%}
                {%- set list_name = none -%}
            {%- endif -%}
            {%- do treatments.append({'treatment_id': t_id, 'treatment_name': t_name, 'percent': basis_points / 100,
                'basis_points': basis_points, 'is_control': is_control, 'list_name': list_name}) -%}
        {%- endfor -%}
        {%- if declared_treatments | length > 0 and totals.basis_points != 10000 -%}
            {%- do errors.append([treatment_field ~ '.percent', "percents of sub-audience '" ~ sub_name ~ "' sum to " ~ (totals.basis_points / 100) ~ ", expected exactly 100 (control included)"]) -%}
        {%- endif -%}
        {%- if totals.controls > 1 -%}
            {%- do errors.append([treatment_field ~ '.control', "sub-audience '" ~ sub_name ~ "' has " ~ totals.controls ~ " control groups, expected at most 1"]) -%}
        {%- endif -%}
        {%- do sub_audiences.append({'sub_audience_id': sub_id, 'sub_audience_name': sub_name,
            'condition': condition, 'treatments': treatments}) -%}
    {%- endfor -%}

    {#- attributes: project defaults, then the campaign's add / rename / drop -#}
    {%- set attribute_source = args.attribute_source or var('klaviyo_attribute_source') -%}
    {%- set condition_source = args.condition_source or var('klaviyo_condition_source') -%}
    {%- for field, value in [('attribute_source', attribute_source), ('condition_source', condition_source)] -%}
        {%- if value is not string or value.strip() == '' -%}
            {%- do errors.append([field, 'expected a model name, got ' ~ value]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set attributes = [] -%}
    {%- for attribute_name, column in var('klaviyo_default_attributes').items() -%}
        {%- do attributes.append({'name': attribute_name, 'source': attribute_source, 'column': column}) -%}
    {%- endfor -%}
    {%- set edits = args.attributes or {} -%}
    {%- if edits is not mapping -%}
        {%- do errors.append(['attributes', 'expected {add: {...}, rename: {...}, drop: [...]}, got ' ~ edits]) -%}
        {%- set edits = {} -%}
    {%- endif -%}
    {%- for key in edits if key not in ['add', 'rename', 'drop'] -%}
        {%- do errors.append(['attributes.' ~ key, 'is not an attribute edit (expected add, rename, drop)']) -%}
    {%- endfor -%}
    {%- set drops = edits.get('drop') or [] -%}
    {%- if drops is string -%}{%- set drops = [drops] -%}{%- endif -%}
    {%- for dropped in drops -%}
        {%- set names = attributes | map(attribute='name') | list -%}
        {%- if dropped not in names -%}
            {%- do errors.append(['attributes.drop', "'" ~ dropped ~ "' is not a default attribute (defaults: " ~ names | join(', ') ~ ")"]) -%}
        {%- else -%}
            {%- do attributes.pop(names.index(dropped)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set renames = edits.get('rename') or {} -%}
    {%- if renames is not mapping -%}
        {%- do errors.append(['attributes.rename', 'expected {old_name: new_name}, got ' ~ renames]) -%}
        {%- set renames = {} -%}
    {%- endif -%}
    {%- for old_name, new_name in renames.items() -%}
        {%- set names = attributes | map(attribute='name') | list -%}
        {%- if old_name not in names -%}
            {%- do errors.append(['attributes.rename', "'" ~ old_name ~ "' is not an attribute to rename (attributes: " ~ names | join(', ') ~ ")"]) -%}
        {%- else -%}
            {%- do attributes[names.index(old_name)].update({'name': new_name}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set adds = edits.get('add') or {} -%}
    {%- if adds is not mapping -%}
        {%- do errors.append(['attributes.add', "expected {klaviyo_name: 'column'} or {klaviyo_name: {from: 'model', column: 'column'}}, got " ~ adds]) -%}
        {%- set adds = {} -%}
    {%- endif -%}
    {%- for attribute_name, spec in adds.items() -%}
        {%- if spec is string -%}
            {%- do attributes.append({'name': attribute_name, 'source': attribute_source, 'column': spec}) -%}
        {%- elif spec is mapping and spec.get('column') is string and spec.get('from') is string -%}
            {%- do attributes.append({'name': attribute_name, 'source': spec['from'], 'column': spec['column']}) -%}
        {%- else -%}
            {%- do errors.append(['attributes.add.' ~ attribute_name, "expected a column name or {from: 'model', column: 'column'}, got " ~ spec]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set seen = [] -%}
    {%- for attribute in attributes -%}
        {%- if attribute.name is not string or not modules.re.fullmatch('[a-z_][a-z0-9_]*', attribute.name) -%}
            {%- do errors.append(['attributes', "attribute name '" ~ attribute.name ~ "' must be lowercase letters, digits and _"]) -%}
        {%- elif attribute.name in fixed_columns -%}
            {%- do errors.append(['attributes', "attribute name '" ~ attribute.name ~ "' is reserved for the audience relation"]) -%}
        {%- elif attribute.name in seen -%}
            {%- do errors.append(['attributes', "duplicate attribute name '" ~ attribute.name ~ "'"]) -%}
        {%- endif -%}
        {%- if attribute.column is not string or not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]*', attribute.column) -%}
            {%- do errors.append(['attributes', "attribute '" ~ attribute.name ~ "' needs a column name, got " ~ attribute.column]) -%}
        {%- endif -%}
        {%- do seen.append(attribute.name) -%}
    {%- endfor -%}

    {#- Klaviyo options -#}
    {%- set identifier = args.identifier -%}
    {%- if identifier not in ['email', 'phone_number', 'external_id'] -%}
        {%- do errors.append(['identifier', 'expected email, phone_number or external_id, got ' ~ identifier]) -%}
    {%- elif identifier not in seen -%}
        {%- do errors.append(['identifier', "identifier '" ~ identifier ~ "' is missing from the attributes (attributes: " ~ seen | join(', ') ~ "): add or rename a column to it"]) -%}
    {%- endif -%}
    {%- set update_contacts = args.update_contacts -%}
    {%- if update_contacts is not boolean -%}
        {%- do errors.append(['update_contacts', 'expected true or false, got ' ~ update_contacts]) -%}
        {%- set update_contacts = true -%}
    {%- endif -%}

    {#- timing -#}
    {%- set timing_in = args.timing or {} -%}
    {%- if timing_in is not mapping -%}
        {%- do errors.append(['timing', 'expected {type, cron or interval_minutes, send_at, launch_at}, got ' ~ timing_in]) -%}
        {%- set timing_in = {} -%}
    {%- endif -%}
    {%- for key in timing_in if key not in ['type', 'cron', 'interval_minutes', 'send_at', 'launch_at'] -%}
        {%- do errors.append(['timing.' ~ key, 'is not a timing key (expected type, cron, interval_minutes, send_at, launch_at)']) -%}
    {%- endfor -%}
    {%- set campaign_type = timing_in.get('type', 'one_time') -%}
    {%- set cron = timing_in.get('cron') -%}
    {%- set interval_minutes = timing_in.get('interval_minutes') -%}
    {%- if campaign_type not in ['one_time', 'recurring'] -%}
        {%- do errors.append(['timing.type', 'expected one_time or recurring, got ' ~ campaign_type]) -%}
    {%- elif campaign_type == 'one_time' and (cron is not none or interval_minutes is not none) -%}
        {%- do errors.append(['timing.type', 'a one_time campaign takes no cron or interval_minutes (use type: recurring)']) -%}
    {%- elif campaign_type == 'recurring' and (cron is none) == (interval_minutes is none) -%}
        {%- do errors.append(['timing', 'a recurring campaign needs exactly one of cron or interval_minutes']) -%}
    {%- endif -%}
    {%- if cron is not none -%}
        {%- set cron_error = klaviyo_cron_error(cron) -%}
        {%- if cron_error -%}
            {%- do errors.append(['timing.cron', 'invalid schedule: ' ~ cron_error]) -%}
        {%- else -%}
            {%- set cron = cron.split() | join(' ') -%}
        {%- endif -%}
    {%- endif -%}
    {%- if interval_minutes is not none and (interval_minutes is boolean or interval_minutes is not integer or interval_minutes < 1) -%}
        {%- do errors.append(['timing.interval_minutes', 'invalid schedule: expected a positive whole number of minutes, got ' ~ interval_minutes]) -%}
    {%- endif -%}
    {%- set send_at = timing_in.get('send_at', 'asap') -%}
    {%- if send_at is none or send_at == 'asap' -%}
        {%- set send_mode, send_at = 'asap', none -%}
    {%- else -%}
        {%- set send_mode = 'scheduled' -%}
        {%- set parsed = klaviyo_parse_datetime(send_at) -%}
        {%- if parsed is none -%}
            {%- do errors.append(['timing.send_at', "expected 'asap' or a UTC datetime 'YYYY-MM-DD HH:MM', got " ~ send_at]) -%}
        {%- endif -%}
        {%- set send_at = parsed -%}
    {%- endif -%}
    {%- set launch_at = timing_in.get('launch_at') -%}
    {%- if launch_at is not none -%}
        {%- set parsed = klaviyo_parse_datetime(launch_at) -%}
        {%- if parsed is none -%}
            {%- do errors.append(['timing.launch_at', "expected a UTC datetime 'YYYY-MM-DD HH:MM', got " ~ launch_at]) -%}
        {%- endif -%}
        {%- set launch_at = parsed -%}
    {%- endif -%}

    {%- set declaration = {
        'name': name,
        'campaign_id': campaign_id,
        'include': segment_lists.include,
        'exclude': segment_lists.exclude,
        'first_match_only': first_match_only,
        'sub_audiences': sub_audiences,
        'attribute_source': attribute_source,
        'condition_source': condition_source,
        'attributes': attributes,
        'identifier': identifier,
        'update_contacts': update_contacts,
        'timing': {
            'type': campaign_type,
            'cron': cron,
            'interval_minutes': interval_minutes,
            'send_mode': send_mode,
            'send_at': send_at,
            'launch_at': launch_at,
        },
    } -%}
    {{ return({'declaration': declaration, 'errors': errors}) }}
{%- endmacro %}

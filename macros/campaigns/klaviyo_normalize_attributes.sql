{#-
    Declaration section: where attributes and conditions are read (`attribute_source`,
    `condition_source`), the attributes sent (var klaviyo_default_attributes, then the
    campaign's `attributes` add / rename / drop), `identifier` and `update_contacts`.
    Returns {attribute_source, condition_source, attributes: [{name, source, column}],
    identifier, update_contacts}.
-#}
{% macro klaviyo_normalize_attributes(args, errors) -%}
    {%- set attribute_source = args.attribute_source or var('klaviyo_attribute_source') -%}
    {%- set condition_source = args.condition_source or var('klaviyo_condition_source') -%}
    {%- do klaviyo_expect(errors, 'attribute_source', attribute_source, 'text', 'a model name') -%}
    {%- do klaviyo_expect(errors, 'condition_source', condition_source, 'text', 'a model name') -%}
    {%- set attributes = [] -%}
    {%- for attribute_name, column in var('klaviyo_default_attributes').items() -%}
        {%- do attributes.append({'name': attribute_name, 'source': attribute_source, 'column': column}) -%}
    {%- endfor -%}

    {%- set edits = klaviyo_expect(errors, 'attributes', args.attributes or {}, 'mapping',
        '{add: {...}, rename: {...}, drop: [...]}', {}) -%}
    {%- do klaviyo_check_keys(errors, 'attributes', edits, ['add', 'rename', 'drop'], 'an attribute edit') -%}
    {%- set drops = edits.get('drop') or [] -%}
    {%- set drops = klaviyo_expect(errors, 'attributes.drop', [drops] if drops is string else drops, 'list',
        '[klaviyo_name, ...]', []) -%}
    {%- for dropped in drops -%}
        {%- set names = attributes | map(attribute='name') | list -%}
        {%- if dropped not in names -%}
            {%- do errors.append(['attributes.drop', klaviyo_describe(dropped) ~ " is not a default attribute (defaults: " ~ names | join(', ') ~ ")"]) -%}
        {%- else -%}
            {%- do attributes.pop(names.index(dropped)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set renames = klaviyo_expect(errors, 'attributes.rename', edits.get('rename') or {}, 'mapping', '{old_name: new_name}', {}) -%}
    {%- for old_name, new_name in renames.items() -%}
        {%- set names = attributes | map(attribute='name') | list -%}
        {%- if old_name not in names -%}
            {%- do errors.append(['attributes.rename', "'" ~ old_name ~ "' is not an attribute to rename (attributes: " ~ names | join(', ') ~ ")"]) -%}
        {%- else -%}
            {%- do attributes[names.index(old_name)].update({'name': new_name}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set adds = klaviyo_expect(errors, 'attributes.add', edits.get('add') or {}, 'mapping',
        "{klaviyo_name: 'column'} or {klaviyo_name: {from: 'model', column: 'column'}}", {}) -%}
    {%- for attribute_name, spec in adds.items() -%}
        {%- if spec is string -%}
            {%- do attributes.append({'name': attribute_name, 'source': attribute_source, 'column': spec}) -%}
        {%- elif spec is mapping and spec.get('column') is string and spec.get('from') is string -%}
            {%- do attributes.append({'name': attribute_name, 'source': spec['from'], 'column': spec['column']}) -%}
        {%- else -%}
            {%- do errors.append(['attributes.add.' ~ attribute_name, "expected a column name or {from: 'model', column: 'column'}, got " ~ klaviyo_describe(spec)]) -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set fixed_columns = klaviyo_audience_fixed_columns() -%}
    {%- set seen = [] -%}
    {%- for attribute in attributes -%}
        {%- if attribute.name is not string or not modules.re.fullmatch('[a-z_][a-z0-9_]*', attribute.name) -%}
            {%- do errors.append(['attributes', "attribute name " ~ klaviyo_describe(attribute.name) ~ " must be lowercase letters, digits and _"]) -%}
        {%- elif attribute.name in fixed_columns -%}
            {%- do errors.append(['attributes', "attribute name '" ~ attribute.name ~ "' is reserved for the audience relation"]) -%}
        {%- elif attribute.name in seen -%}
            {%- do errors.append(['attributes', "duplicate attribute name '" ~ attribute.name ~ "'"]) -%}
        {%- endif -%}
        {%- if attribute.column is not string or not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]*', attribute.column) -%}
            {%- do errors.append(['attributes', "attribute '" ~ attribute.name ~ "' needs a column name, got " ~ klaviyo_describe(attribute.column)]) -%}
        {%- endif -%}
        {%- do seen.append(attribute.name) -%}
    {%- endfor -%}

    {%- set identifier = args.identifier -%}
    {%- if identifier not in ['email', 'phone_number', 'external_id'] -%}
        {%- do errors.append(['identifier', 'expected email, phone_number or external_id, got ' ~ klaviyo_describe(identifier)]) -%}
    {%- elif identifier not in seen -%}
        {%- do errors.append(['identifier', "identifier '" ~ identifier ~ "' is missing from the attributes (attributes: " ~ seen | join(', ') ~ "): add or rename a column to it"]) -%}
    {%- endif -%}
    {%- set update_contacts = klaviyo_expect(errors, 'update_contacts', args.update_contacts, 'boolean', default=true) -%}
    {{ return({'attribute_source': attribute_source, 'condition_source': condition_source, 'attributes': attributes,
        'identifier': identifier, 'update_contacts': update_contacts}) }}
{%- endmacro %}

{#-
    Check a campaign declaration (the keyword arguments of klaviyo_campaign) and return
    {'declaration': <normalized dict>, 'errors': [[field, message], ...], 'warnings': [...]}.
    Never raises: at parse time the declaration is stored as far as it could be normalized, and
    the errors are raised when the model is compiled (klaviyo_campaign). One section a macro:
    klaviyo_normalize_segments, _sub_audiences (with the treatments), _attributes, _timing.
-#}
{% macro klaviyo_normalize_campaign(args, unknown_arguments) -%}
    {%- set errors = [] -%}
    {%- set warnings = [] -%}
    {%- for key in unknown_arguments -%}
        {%- do errors.append([key, "is not a campaign argument (expected one of: name, campaign_id, include, exclude, sub_audiences, treatments, first_match_only, attributes, attribute_source, condition_source, update_contacts, identifier, timing)"]) -%}
    {%- endfor -%}
    {%- do klaviyo_expect(errors, 'name', args.name, 'text') -%}
    {%- set campaign_id = args.campaign_id -%}
    {%- if campaign_id is not string or not modules.re.fullmatch('[a-z0-9][a-z0-9_-]{0,99}', campaign_id) -%}
        {%- do errors.append(['campaign_id', 'expected a stable id of lowercase letters, digits, _ or - (e.g. spring_sale_2026), got ' ~ klaviyo_describe(campaign_id)]) -%}
    {%- endif -%}
    {%- set segments = klaviyo_normalize_segments(args, errors) -%}
    {%- set audience = klaviyo_normalize_sub_audiences(args, errors, warnings) -%}
    {%- set attributes = klaviyo_normalize_attributes(args, errors) -%}
    {%- set timing = klaviyo_normalize_timing(args, errors) -%}
    {%- set declaration = {
        'name': (args.name or '') | string,
        'campaign_id': (campaign_id or '') | string,
        'include': segments.include,
        'exclude': segments.exclude,
        'timing': timing,
    } -%}
    {%- do declaration.update(audience) -%}
    {%- do declaration.update(attributes) -%}
    {{ return({'declaration': declaration, 'errors': errors, 'warnings': warnings}) }}
{%- endmacro %}

{#-
    A campaign: the whole body of a model in models/campaigns/. See docs/campaigns.md.

        {{ klaviyo_campaign(
            name='Spring sale',
            campaign_id='spring_sale_2026',
            include=['seg_high_value_customers', 'seg_recent_buyers'],
            exclude=['seg_email_unsubscribed'],
            sub_audiences=[{'name': 'Everyone', 'treatments': [
                {'name': 'Offer A', 'percent': 45, 'list_name': 'Spring sale - A'},
                {'name': 'Offer B', 'percent': 45, 'list_name': 'Spring sale - B'},
                {'name': 'Holdout', 'percent': 10, 'control': true}]}],
        ) }}

    At parse time: checks the declaration, refs every relation it reads, stores the normalized
    declaration in config.meta.klaviyo_campaign (and what its check found in
    config.meta.klaviyo_campaign_checks) and adds the post-hook warning of empty sub-audiences.
    At compile time: raises every invalid declaration (naming the campaign and the field: the
    declaration itself, then the checks against the graph and the warehouse), prints its
    warnings, then renders the audience relation (docs/architecture.md).

    The declaration is checked once, when the model is parsed: compiling reuses that result
    (the same arguments and vars give the same one; dbt re-parses the model when its file,
    a macro it calls or a var changes) instead of checking it again, which would compile
    every klaviyo_normalize_* macro's Jinja in each dbt process that builds a campaign. A
    unit test's node carries no stored result: its declaration is checked where it compiles.
-#}
{% macro klaviyo_campaign(
    name=none,
    campaign_id=none,
    include=none,
    exclude=none,
    sub_audiences=none,
    treatments=none,
    first_match_only=true,
    attributes=none,
    attribute_source=none,
    condition_source=none,
    update_contacts=true,
    identifier='email',
    timing=none
) -%}
    {%- set stored = (model.get('config') or {}).get('meta') or {} if execute else {} -%}
    {%- if stored.get('klaviyo_campaign') is mapping and stored.get('klaviyo_campaign_checks') is mapping -%}
        {%- set normalized = {'declaration': stored.klaviyo_campaign, 'errors': stored.klaviyo_campaign_checks.errors,
            'warnings': stored.klaviyo_campaign_checks.warnings} -%}
    {%- else -%}
        {%- set normalized = klaviyo_normalize_campaign({
            'name': name, 'campaign_id': campaign_id, 'include': include, 'exclude': exclude,
            'sub_audiences': sub_audiences, 'treatments': treatments, 'first_match_only': first_match_only,
            'attributes': attributes, 'attribute_source': attribute_source,
            'condition_source': condition_source, 'update_contacts': update_contacts,
            'identifier': identifier, 'timing': timing,
        }, kwargs.keys() | list) -%}
        {%- do normalized.declaration.update({'model_name': model.name}) -%}
    {%- endif -%}
    {%- set declaration = normalized.declaration -%}
    {{ config(meta={'klaviyo_campaign': declaration,
        'klaviyo_campaign_checks': {'errors': normalized.errors, 'warnings': normalized.warnings}},
        post_hook=['{{ klaviyo_warn_empty_sub_audiences() }}']) }}

    {#- Every relation read, referenced at parse time so dbt orders the build. -#}
    {%- set relations = {} -%}
    {%- set referenced = declaration.include + declaration.exclude + [declaration.attribute_source]
        + (declaration.attributes | map(attribute='source') | list) -%}
    {%- if declaration.sub_audiences | selectattr('condition') | list | length > 0 -%}
        {%- do referenced.append(declaration.condition_source) -%}
    {%- endif -%}
    {%- for relation_name in referenced if relation_name is string and relation_name not in relations -%}
        {%- do relations.update({relation_name: ref(relation_name)}) -%}
    {%- endfor -%}

    {%- if execute -%}
        {%- set label = "Campaign '" ~ declaration.name ~ "' (model " ~ declaration.model_name ~ ")" -%}
        {#- A unit test compiles the model with fixtures for inputs and no graph: only the
            declaration itself is checked there. -#}
        {%- set errors = normalized.errors -%}
        {%- set warnings = normalized.warnings -%}
        {%- if model.resource_type != 'unit_test' -%}
            {%- set checked = klaviyo_campaign_execute_errors(declaration, relations) -%}
            {%- set errors = errors + checked.errors -%}
            {%- set warnings = warnings + checked.warnings -%}
        {%- endif -%}
        {%- if errors | length > 0 -%}
            {%- set lines = [] -%}
            {%- for field, message in errors -%}
                {%- do lines.append('  - field ' ~ field ~ ': ' ~ message) -%}
            {%- endfor -%}
            {%- do exceptions.raise_compiler_error(label ~ ' is invalid:\n' ~ lines | join('\n')) -%}
        {%- endif -%}
        {%- if model.resource_type != 'unit_test' -%}
            {%- for warning in warnings -%}
                {%- do exceptions.warn(label ~ ': ' ~ warning) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {{ klaviyo_audience_sql(declaration, relations) }}
{%- endmacro %}

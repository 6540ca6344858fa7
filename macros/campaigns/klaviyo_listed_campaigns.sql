{#-
    The normalized declarations of the campaigns listed in var('klaviyo_campaigns'), in that
    order, read from the graph (config.meta.klaviyo_campaign). Execute time only. Fails the
    calling model when a listed model is not a campaign, or a campaign model is not listed.
-#}
{% macro klaviyo_listed_campaigns() -%}
    {%- set listed = var('klaviyo_campaigns') -%}
    {%- set by_name = {} -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
        {%- set declaration = node.config.meta.get('klaviyo_campaign') -%}
        {%- if declaration is mapping -%}
            {%- do by_name.update({node.name: declaration}) -%}
            {%- if node.name not in listed -%}
                {%- do exceptions.raise_compiler_error(
                    "Campaign '" ~ declaration.name ~ "' (model " ~ node.name ~ ") is not listed in var "
                    ~ "klaviyo_campaigns in dbt_project.yml (listed: " ~ (listed | join(', ') or 'none')
                    ~ "): add it there so the registry and the delivery summary include it") -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set declarations = [] -%}
    {%- for name in listed -%}
        {%- if name not in by_name -%}
            {%- do exceptions.raise_compiler_error(
                "var klaviyo_campaigns lists '" ~ name ~ "', which is not a campaign model "
                ~ "(a model in models/campaigns/ whose body is {{ '{{' }} klaviyo_campaign(...) {{ '}}' }})") -%}
        {%- endif -%}
        {%- do declarations.append(by_name[name]) -%}
    {%- endfor -%}
    {{ return(declarations) }}
{%- endmacro %}

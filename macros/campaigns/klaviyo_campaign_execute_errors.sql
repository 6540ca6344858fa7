{#-
    The checks that need the graph or the warehouse, run when the campaign model compiles:
    listed in var('klaviyo_campaigns'); campaign id and name unique across campaigns; every
    attribute column present in its source relation (from the warehouse, else the columns the
    source model documents). Returns [[field, message], ...].
-#}
{% macro klaviyo_campaign_execute_errors(declaration, relations) -%}
    {%- set errors = [] -%}
    {%- if model.name not in var('klaviyo_campaigns') -%}
        {%- do errors.append(['model', "campaign model '" ~ model.name ~ "' is not listed in var klaviyo_campaigns in dbt_project.yml: add it there"]) -%}
    {%- endif -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.unique_id != model.unique_id -%}
        {%- set other = node.config.meta.get('klaviyo_campaign') -%}
        {%- if other is mapping -%}
            {%- if other.campaign_id == declaration.campaign_id -%}
                {%- do errors.append(['campaign_id', "duplicate campaign id '" ~ declaration.campaign_id ~ "': also used by model " ~ node.name]) -%}
            {%- endif -%}
            {%- if other.name == declaration.name -%}
                {%- do errors.append(['name', "duplicate campaign name '" ~ declaration.name ~ "': also used by model " ~ node.name]) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set columns_by_source = {} -%}
    {%- for attribute in declaration.attributes if attribute.source in relations -%}
        {%- if attribute.source not in columns_by_source -%}
            {%- set found = [] -%}
            {%- set relation = load_relation(relations[attribute.source]) -%}
            {%- if relation is not none -%}
                {%- for column in adapter.get_columns_in_relation(relation) -%}
                    {%- do found.append(column.name | lower) -%}
                {%- endfor -%}
            {%- endif -%}
            {%- if found | length == 0 -%}
                {%- for node in graph.nodes.values() if node.resource_type in ['model', 'seed', 'snapshot'] and node.name == attribute.source -%}
                    {%- for column_name in node.columns -%}
                        {%- do found.append(column_name | lower) -%}
                    {%- endfor -%}
                {%- endfor -%}
            {%- endif -%}
            {%- do columns_by_source.update({attribute.source: found}) -%}
        {%- endif -%}
        {%- set known = columns_by_source[attribute.source] -%}
        {%- if known | length > 0 and (attribute.column | lower) not in known -%}
            {%- do errors.append(['attributes', "unknown attribute column '" ~ attribute.column ~ "' (for Klaviyo attribute '" ~ attribute.name ~ "') in " ~ attribute.source ~ "; its columns are: " ~ known | join(', ')]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(errors) }}
{%- endmacro %}

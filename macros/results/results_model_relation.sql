{#-
    The relation (as dbt renders it) of the model named `model_name`, read from the graph at
    execute time, for a model that reads segments named in campaign declarations: such refs
    cannot be written at parse time. Build order still holds because the caller refs the
    campaign models, which ref their segments. Fails naming the campaign and the segment.
-#}
{% macro results_model_relation(model_name, campaign_label) -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == model_name -%}
        {%- if node.relation_name -%}
            {{ return(node.relation_name) }}
        {%- endif -%}
    {%- endfor -%}
    {%- do exceptions.raise_compiler_error(
        campaign_label ~ " is invalid for campaign_funnel:\n  - field include/exclude: segment '" ~ model_name
        ~ "' is not a model with a relation (an ephemeral model cannot be counted); materialize it as a table or view") -%}
{%- endmacro %}

{#- A segment's human name: the first line of its model description, else the model name. -#}
{% macro klaviyo_segment_name(segment_model_name) -%}
    {%- if execute -%}
        {%- for node in (graph.get('nodes') or {}).values() if node.resource_type == 'model' and node.name == segment_model_name -%}
            {%- set first_line = (node.description or '').strip().split('\n')[0].strip() -%}
            {%- if first_line -%}{{ return(first_line) }}{%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(segment_model_name) }}
{%- endmacro %}

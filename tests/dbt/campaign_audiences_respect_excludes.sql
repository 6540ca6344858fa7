{#-
    No campaign audience holds a customer of one of its excluded segments (read from each
    campaign's declaration). Returns the offending rows.
-#}
{%- for campaign_model in var('klaviyo_campaigns') -%}
    {%- do ref(campaign_model) -%}
{%- endfor -%}
{%- set checks = [] -%}
{%- if execute -%}
    {%- for d in klaviyo_listed_campaigns() -%}
        {%- for segment in d.exclude -%}
            {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == segment -%}
                {%- do checks.append(
                    "select campaign_id, amperity_id, '" ~ segment ~ "' as excluded_segment from "
                    ~ ref(d.model_name) ~ " where amperity_id in (select amperity_id from "
                    ~ node.relation_name ~ ")") -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif -%}

{%- if checks | length > 0 %}
{{ checks | join('\nunion all\n') }}
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as campaign_id,
    cast(null as {{ dbt.type_string() }}) as amperity_id,
    cast(null as {{ dbt.type_string() }}) as excluded_segment
where 1 = 0
{%- endif %}

{#-
    The campaign registry: one row per campaign listed in var('klaviyo_campaigns'), read from each
    campaign model's declaration (config.meta.klaviyo_campaign). The loader discovers campaigns
    only from here.
-#}
{%- set campaign_refs = {} -%}
{%- for campaign_model in var('klaviyo_campaigns') -%}
    {%- do campaign_refs.update({campaign_model: ref(campaign_model)}) -%}
{%- endfor -%}
{%- set declarations = klaviyo_listed_campaigns() if execute else [] -%}
{%- set string = dbt.type_string() -%}
{%- set lit = klaviyo_string_literal -%}

-- noqa: disable=layout.indent
with

campaigns as (
    {%- for d in declarations %}
    {%- set non_control = [] -%}
    {%- for sub_audience in d.sub_audiences -%}
        {%- for treatment in sub_audience.treatments if treatment.list_name and treatment.list_name not in non_control -%}
            {%- do non_control.append(treatment.list_name) -%}
        {%- endfor -%}
    {%- endfor %}
    select
        cast({{ lit(d.campaign_id) }} as {{ string }}) as campaign_id,
        cast({{ lit(d.name) }} as {{ string }}) as campaign_name,
        cast({{ lit(d.timing.type) }} as {{ string }}) as campaign_type,
        cast({{ lit(campaign_refs[d.model_name] | string) }} as {{ string }}) as audience_relation,
        cast({{ lit(d.identifier) }} as {{ string }}) as identifier,
        {{ 'true' if d.update_contacts else 'false' }} as update_contacts,
        cast({{ lit(d.timing.send_mode) }} as {{ string }}) as send_mode,
        cast({{ lit(d.timing.send_at) }} as {{ dbt.type_timestamp() }}) as send_at,
        cast({{ lit(d.timing.cron) }} as {{ string }}) as schedule_cron,
        cast({{ d.timing.interval_minutes if d.timing.interval_minutes is not none else 'null' }} as {{ dbt.type_int() }}) as schedule_interval_minutes,
        cast({{ lit(d.timing.launch_at) }} as {{ dbt.type_timestamp() }}) as launch_at,
        cast({{ lit(d.attributes | map(attribute='name') | join(',')) }} as {{ string }}) as attribute_columns,
        cast({{ lit(klaviyo_json_array(non_control)) }} as {{ string }}) as list_names,
        cast({{ lit(var('klaviyo_destination_id')) }} as {{ string }}) as destination_id,
        cast({{ lit(var('klaviyo_destination_name')) }} as {{ string }}) as destination_name
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select
        cast(null as {{ string }}) as campaign_id,
        cast(null as {{ string }}) as campaign_name,
        cast(null as {{ string }}) as campaign_type,
        cast(null as {{ string }}) as audience_relation,
        cast(null as {{ string }}) as identifier,
        cast(null as {{ dbt.type_boolean() }}) as update_contacts,
        cast(null as {{ string }}) as send_mode,
        cast(null as {{ dbt.type_timestamp() }}) as send_at,
        cast(null as {{ string }}) as schedule_cron,
        cast(null as {{ dbt.type_int() }}) as schedule_interval_minutes,
        cast(null as {{ dbt.type_timestamp() }}) as launch_at,
        cast(null as {{ string }}) as attribute_columns,
        cast(null as {{ string }}) as list_names,
        cast(null as {{ string }}) as destination_id,
        cast(null as {{ string }}) as destination_name
    where 1 = 0
    {%- endfor %}
),

final as (
    select
        campaign_id,
        campaign_name,
        campaign_type,
        audience_relation,
        identifier,
        update_contacts,
        send_mode,
        send_at,
        schedule_cron,
        schedule_interval_minutes,
        launch_at,
        attribute_columns,
        list_names,
        destination_id,
        destination_name,
        cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as built_at,
        cast({{ lit(invocation_id) }} as {{ string }}) as dbt_invocation_id
    from campaigns
)

select * from final

{#-
    Per campaign x sub-audience x treatment x destination list: how many customers were
    assigned, how many rows will be sent, and what was lost on the way (shrink, by reason) or
    multiplied (expansion), and how many sendable customers share another identifier that is
    sent. Declared treatments with nobody in them get a row of zeros. Every campaign's audience
    is unioned once (the columns the counts need) and grouped once.
-#}
{%- set campaign_refs = {} -%}
{%- for campaign_model in var('klaviyo_campaigns') -%}
    {%- do campaign_refs.update({campaign_model: ref(campaign_model)}) -%}
{%- endfor -%}
{%- set declarations = klaviyo_listed_campaigns() if execute else [] -%}
{%- set string = dbt.type_string() -%}
{%- set count_type = dbt.type_bigint() -%}
{%- set lit = klaviyo_string_literal -%}
{#- Klaviyo keys a profile on each of email, phone_number and external_id. -#}
{%- set identifier_kinds = ['email', 'phone_number', 'external_id'] -%}
{%- set count_columns = ['customers', 'rows_to_send', 'shrink_customers', 'shrink_missing_identifier',
    'shrink_invalid_identifier', 'shrink_duplicate_identifier', 'expansion_rows', 'duplicate_identifier_customers'] -%}

-- noqa: disable=layout.indent
with

{% for d in declarations -%}
audience_{{ loop.index }} as (
    select * from {{ campaign_refs[d.model_name] }}
),

{% endfor -%}
declared_treatments as (
    {%- for d in declarations %}
    {%- set campaign_last = loop.last %}
    {%- for sub_audience in d.sub_audiences %}
    {%- set sub_audience_last = loop.last %}
    {%- for treatment in sub_audience.treatments %}
    select
        cast({{ lit(d.campaign_id) }} as {{ string }}) as campaign_id,
        cast({{ lit(sub_audience.sub_audience_id) }} as {{ string }}) as sub_audience_id,
        cast({{ lit(sub_audience.sub_audience_name) }} as {{ string }}) as sub_audience_name,
        cast({{ lit(treatment.treatment_id) }} as {{ string }}) as treatment_id,
        cast({{ lit(treatment.treatment_name) }} as {{ string }}) as treatment_name,
        {{ 'true' if treatment.is_control else 'false' }} as is_control,
        cast({{ lit(treatment.list_name) }} as {{ string }}) as list_name
    {%- if not (campaign_last and sub_audience_last and loop.last) %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- endfor %}
    {%- else %}
    select
        cast(null as {{ string }}) as campaign_id,
        cast(null as {{ string }}) as sub_audience_id,
        cast(null as {{ string }}) as sub_audience_name,
        cast(null as {{ string }}) as treatment_id,
        cast(null as {{ string }}) as treatment_name,
        cast(null as {{ dbt.type_boolean() }}) as is_control,
        cast(null as {{ string }}) as list_name
    where 1 = 0
    {%- endfor %}
),

{# The identifiers each campaign sends (null where it does not): its own, plus the others it
    maps when update_contacts is on (with it off only the identifier is sent). #}
audience_rows as (
    {%- for d in declarations %}
    {%- set sent_names = d.attributes | map(attribute='name') | list %}
    select
        cast({{ lit(d.campaign_id) }} as {{ string }}) as campaign_id,
        sub_audience_id,
        treatment_id,
        list_name,
        amperity_id,
        shrink_reason,
        shrink_reason is null and not is_control as is_sendable,
        {%- for kind in identifier_kinds %}
        {%- if kind == d.identifier or (d.update_contacts and kind in sent_names) %}
        cast({{ kind }} as {{ string }}) as sent_{{ kind }}{{ ',' if not loop.last }}
        {%- else %}
        cast(null as {{ string }}) as sent_{{ kind }}{{ ',' if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from audience_{{ loop.index }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select
        cast(null as {{ string }}) as campaign_id,
        cast(null as {{ string }}) as sub_audience_id,
        cast(null as {{ string }}) as treatment_id,
        cast(null as {{ string }}) as list_name,
        cast(null as {{ string }}) as amperity_id,
        cast(null as {{ string }}) as shrink_reason,
        cast(null as {{ dbt.type_boolean() }}) as is_sendable,
        {%- for kind in identifier_kinds %}
        cast(null as {{ string }}) as sent_{{ kind }}{{ ',' if not loop.last }}
        {%- endfor %}
    where 1 = 0
    {%- endfor %}
),

{# A sendable customer shares an identifier when another sendable customer of the same list
    sends the same value (min <> max of the holders' ids): Klaviyo would hold them as one
    profile. The campaign's own identifier is unique among sendable rows (campaign-wide
    identity), so only the other identifiers it sends can be shared. Control and shrunk rows go
    to no list. #}
flagged_rows as (
    select
        *,
        case when is_sendable and (
            {%- for kind in identifier_kinds %}
            (
                sent_{{ kind }} is not null
                and min(case when is_sendable then amperity_id end) over (partition by campaign_id, list_name, sent_{{ kind }})
                <> max(case when is_sendable then amperity_id end) over (partition by campaign_id, list_name, sent_{{ kind }})
            ){{ ' or' if not loop.last }}
            {%- endfor %}
        ) then amperity_id end as sharing_customer
    from audience_rows
),

counts as (
    select
        campaign_id,
        sub_audience_id,
        treatment_id,
        count(distinct amperity_id) as customers,
        sum(case when is_sendable then 1 else 0 end) as rows_to_send,
        count(distinct case when shrink_reason is not null then amperity_id end) as shrink_customers,
        count(distinct case when shrink_reason like 'missing%' then amperity_id end) as shrink_missing_identifier,
        count(distinct case when shrink_reason like 'invalid%' then amperity_id end) as shrink_invalid_identifier,
        count(distinct case when shrink_reason like 'duplicate%' then amperity_id end) as shrink_duplicate_identifier,
        count(*) - count(distinct amperity_id) as expansion_rows,
        count(distinct sharing_customer) as duplicate_identifier_customers
    from flagged_rows
    group by campaign_id, sub_audience_id, treatment_id
),

final as (
    select
        declared_treatments.campaign_id,
        declared_treatments.sub_audience_id,
        declared_treatments.sub_audience_name,
        declared_treatments.treatment_id,
        declared_treatments.treatment_name,
        declared_treatments.is_control,
        declared_treatments.list_name,
        {%- for column in count_columns %}
        cast(coalesce(counts.{{ column }}, 0) as {{ count_type }}) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from declared_treatments
    left join counts
        on
            declared_treatments.campaign_id = counts.campaign_id
            and declared_treatments.sub_audience_id = counts.sub_audience_id
            and declared_treatments.treatment_id = counts.treatment_id
)

select * from final

{#-
    Per campaign x sub-audience x treatment x destination list: how many customers were
    assigned, how many rows will be sent, and what was lost or multiplied on the way (shrink,
    expansion, customers sharing an identifier). Declared treatments with nobody in them get a
    row of zeros.
-#}
{%- set campaign_refs = {} -%}
{%- for campaign_model in var('klaviyo_campaigns') -%}
    {%- do campaign_refs.update({campaign_model: ref(campaign_model)}) -%}
{%- endfor -%}
{%- set declarations = klaviyo_listed_campaigns() if execute else [] -%}
{%- set string = dbt.type_string() -%}
{%- set count_type = dbt.type_bigint() -%}
{%- set lit = klaviyo_string_literal -%}

-- noqa: disable=layout.indent
with

{% for d in declarations -%}
{%- set audience_index = loop.index %}
audience_{{ loop.index }} as (
    select * from {{ campaign_refs[d.model_name] }}
),

declared_treatments_{{ loop.index }} as (
    {%- for sub_audience in d.sub_audiences %}
    {%- set outer_last = loop.last %}
    {%- for treatment in sub_audience.treatments %}
    select
        cast({{ lit(sub_audience.sub_audience_id) }} as {{ string }}) as sub_audience_id,
        cast({{ lit(sub_audience.sub_audience_name) }} as {{ string }}) as sub_audience_name,
        cast({{ lit(treatment.treatment_id) }} as {{ string }}) as treatment_id,
        cast({{ lit(treatment.treatment_name) }} as {{ string }}) as treatment_name,
        {{ 'true' if treatment.is_control else 'false' }} as is_control,
        cast({{ lit(treatment.list_name) }} as {{ string }}) as list_name
    {%- if not (outer_last and loop.last) %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- endfor %}
),

counts_{{ loop.index }} as (
    select
        sub_audience_id,
        treatment_id,
        count(distinct amperity_id) as customers,
        sum(case when shrink_reason is null and not is_control then 1 else 0 end) as rows_to_send,
        count(distinct case when shrink_reason is not null then amperity_id end) as shrink_customers,
        count(distinct case when shrink_reason like 'missing%' then amperity_id end) as shrink_missing_identifier,
        count(distinct case when shrink_reason like 'invalid%' then amperity_id end) as shrink_invalid_identifier,
        count(*) - count(distinct amperity_id) as expansion_rows
    from audience_{{ loop.index }}
    group by sub_audience_id, treatment_id
),

{#- Klaviyo keys a profile on each of email, phone_number and external_id: two customers
    sharing any one of them that is sent become one profile. With update_contacts off only the
    campaign's identifier is sent. Control rows go to no list. -#}
{%- set sent_names = d.attributes | map(attribute='name') | list %}
{%- set identifier_columns = [] %}
{%- for column in ['email', 'phone_number', 'external_id'] %}
    {%- if column == d.identifier or (d.update_contacts and column in sent_names) %}
        {%- do identifier_columns.append(column) %}
    {%- endif %}
{%- endfor %}
identifier_owners_{{ loop.index }} as (
    {%- for column in identifier_columns %}
    select distinct
        sub_audience_id,
        treatment_id,
        list_name as list_key,
        cast({{ lit(column) }} as {{ string }}) as identifier_kind,
        cast({{ column }} as {{ string }}) as identifier_value,
        amperity_id
    from audience_{{ audience_index }}
    where shrink_reason is null and not is_control and {{ column }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

shared_identifiers_{{ loop.index }} as (
    select
        list_key,
        identifier_kind,
        identifier_value
    from identifier_owners_{{ loop.index }}
    group by list_key, identifier_kind, identifier_value
    having count(distinct amperity_id) > 1
),

duplicates_{{ loop.index }} as (
    select
        identifier_owners_{{ loop.index }}.sub_audience_id,
        identifier_owners_{{ loop.index }}.treatment_id,
        count(distinct identifier_owners_{{ loop.index }}.amperity_id) as duplicate_identifier_customers
    from identifier_owners_{{ loop.index }}
    inner join shared_identifiers_{{ loop.index }}
        on
            identifier_owners_{{ loop.index }}.list_key = shared_identifiers_{{ loop.index }}.list_key
            and identifier_owners_{{ loop.index }}.identifier_kind = shared_identifiers_{{ loop.index }}.identifier_kind
            and identifier_owners_{{ loop.index }}.identifier_value = shared_identifiers_{{ loop.index }}.identifier_value
    group by identifier_owners_{{ loop.index }}.sub_audience_id, identifier_owners_{{ loop.index }}.treatment_id
),

summary_{{ loop.index }} as (
    select
        cast({{ lit(d.campaign_id) }} as {{ string }}) as campaign_id,
        declared.sub_audience_id,
        declared.sub_audience_name,
        declared.treatment_id,
        declared.treatment_name,
        declared.is_control,
        declared.list_name,
        cast(coalesce(counts.customers, 0) as {{ count_type }}) as customers,
        cast(coalesce(counts.rows_to_send, 0) as {{ count_type }}) as rows_to_send,
        cast(coalesce(counts.shrink_customers, 0) as {{ count_type }}) as shrink_customers,
        cast(coalesce(counts.shrink_missing_identifier, 0) as {{ count_type }}) as shrink_missing_identifier,
        cast(coalesce(counts.shrink_invalid_identifier, 0) as {{ count_type }}) as shrink_invalid_identifier,
        cast(coalesce(counts.expansion_rows, 0) as {{ count_type }}) as expansion_rows,
        cast(coalesce(duplicates.duplicate_identifier_customers, 0) as {{ count_type }}) as duplicate_identifier_customers
    from declared_treatments_{{ loop.index }} as declared
    left join counts_{{ loop.index }} as counts
        on
            declared.sub_audience_id = counts.sub_audience_id
            and declared.treatment_id = counts.treatment_id
    left join duplicates_{{ loop.index }} as duplicates
        on
            declared.sub_audience_id = duplicates.sub_audience_id
            and declared.treatment_id = duplicates.treatment_id
),

{% endfor -%}
final as (
    {%- for d in declarations %}
    select * from summary_{{ loop.index }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select
        cast(null as {{ string }}) as campaign_id,
        cast(null as {{ string }}) as sub_audience_id,
        cast(null as {{ string }}) as sub_audience_name,
        cast(null as {{ string }}) as treatment_id,
        cast(null as {{ string }}) as treatment_name,
        cast(null as {{ dbt.type_boolean() }}) as is_control,
        cast(null as {{ string }}) as list_name,
        cast(null as {{ count_type }}) as customers,
        cast(null as {{ count_type }}) as rows_to_send,
        cast(null as {{ count_type }}) as shrink_customers,
        cast(null as {{ count_type }}) as shrink_missing_identifier,
        cast(null as {{ count_type }}) as shrink_invalid_identifier,
        cast(null as {{ count_type }}) as expansion_rows,
        cast(null as {{ count_type }}) as duplicate_identifier_customers
    where 1 = 0
    {%- endfor %}
)

select * from final

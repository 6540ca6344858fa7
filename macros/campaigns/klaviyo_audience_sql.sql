{#-
    The audience relation of a normalized campaign declaration (docs/architecture.md §2):
    included minus excluded customers -> sub-audiences (first match or every match) -> sticky
    treatment bucket -> Klaviyo-mapped attributes with a shrink reason -> campaign-wide identity
    (one customer per identifier value across every list and the control group: the smallest
    amperity_id; the others are shrunk as duplicate_<identifier>).
    `relations` maps every model name the declaration reads to its ref(); the phone numbering
    plans (seeds) are referenced here when the campaign sends a phone number.
-#}
{% macro klaviyo_audience_sql(declaration, relations) -%}
{%- set d = declaration -%}
{%- set lit = klaviyo_string_literal -%}
{%- set sub_audiences = d.sub_audiences -%}
{%- set conditioned = sub_audiences | selectattr('condition') | list -%}
{%- set sources = [d.attribute_source] -%}
{%- for attribute in d.attributes if attribute.source not in sources -%}
    {%- do sources.append(attribute.source) -%}
{%- endfor -%}
{%- set identifier_attribute = (d.attributes | selectattr('name', 'equalto', d.identifier) | list | first) or none -%}
{%- set phone_attribute = (d.attributes | selectattr('name', 'equalto', 'phone_number') | list | first) or none -%}
{%- set string = dbt.type_string() -%}
{%- set treatment_rows = [] -%}
{%- for sub_audience in sub_audiences -%}
    {%- set sub_audience_order = loop.index -%}
    {%- set cumulative = namespace(basis_points=0) -%}
    {%- for treatment in sub_audience.treatments -%}
        {%- set cumulative.basis_points = cumulative.basis_points + treatment.basis_points -%}
        {%- do treatment_rows.append({'sub_audience_order': sub_audience_order, 'upper_bucket': cumulative.basis_points,
            'treatment': treatment}) -%}
    {%- endfor -%}
{%- endfor -%}
with

{% for segment in d.include -%}
included_segment_{{ loop.index }} as (
    select amperity_id from {{ relations[segment] }}
),

{% endfor -%}
{%- for segment in d.exclude -%}
excluded_segment_{{ loop.index }} as (
    select amperity_id from {{ relations[segment] }}
),

{% endfor -%}
{%- if conditioned | length > 0 -%}
condition_source as (
    select * from {{ relations[d.condition_source] }}
),

{% endif -%}
{%- for source in sources -%}
attribute_source_{{ loop.index }} as (
    select * from {{ relations[source] }}
),

{% endfor -%}
{%- if phone_attribute is not none -%}
phone_country_aliases as (
    select * from {{ ref('klaviyo_phone_country_aliases') }}
),

phone_plans_by_country as (
    select * from {{ ref('klaviyo_phone_plans') }}
),

phone_plans as (
    select
        phone_country_aliases.country_alias,
        phone_plans_by_country.calling_code,
        nullif(phone_plans_by_country.trunk_prefix, '') as trunk_prefix,
        phone_plans_by_country.nsn_min,
        phone_plans_by_country.nsn_max,
        phone_plans_by_country.nsn_first
    from phone_country_aliases
    inner join phone_plans_by_country
        on phone_country_aliases.country_code = phone_plans_by_country.country_code
),

{% endif -%}
included_customers as (
    {%- for segment in d.include %}
    select
        amperity_id,
        {{ loop.index }} as segment_order
    from included_segment_{{ loop.index }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

{% if d.exclude | length > 0 -%}
excluded_customers as (
    {%- for segment in d.exclude %}
    select amperity_id from excluded_segment_{{ loop.index }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

{% endif -%}
eligible_customers as (
    select
        included_customers.amperity_id,
        min(included_customers.segment_order) as segment_order
    from included_customers
    {%- if d.exclude | length > 0 %}
    where not exists (
        select 1
        from excluded_customers
        where excluded_customers.amperity_id = included_customers.amperity_id
    )
    {%- endif %}
    group by included_customers.amperity_id
),

{% if conditioned | length > 0 -%}
condition_matches as (
    select
        amperity_id,
        {%- for sub_audience in sub_audiences if sub_audience.condition %}
        case when ({{ sub_audience.condition }}) then 1 else 0 end as matches_{{ sub_audience.sub_audience_order }}{{ ',' if not loop.last }}
        {%- endfor %}
    from condition_source
),

{% endif -%}
assigned_sub_audiences as (
    {%- if d.first_match_only or sub_audiences | length == 1 %}
    select
        eligible_customers.amperity_id,
        eligible_customers.segment_order,
        case
            {%- for sub_audience in sub_audiences %}
            when {{ klaviyo_sub_audience_match(sub_audience) }} then {{ loop.index }}
            {%- endfor %}
        end as sub_audience_order,
        case
            {%- for sub_audience in sub_audiences %}
            when {{ klaviyo_sub_audience_match(sub_audience) }} then {{ lit(sub_audience.sub_audience_id) }}
            {%- endfor %}
        end as sub_audience_id
    from eligible_customers
    {%- if conditioned | length > 0 %}
    left join condition_matches
        on eligible_customers.amperity_id = condition_matches.amperity_id
    {%- endif %}
    {%- else %}
    {%- for sub_audience in sub_audiences %}
    select
        eligible_customers.amperity_id,
        eligible_customers.segment_order,
        {{ loop.index }} as sub_audience_order,
        {{ lit(sub_audience.sub_audience_id) }} as sub_audience_id
    from eligible_customers
    {%- if conditioned | length > 0 %}
    left join condition_matches
        on eligible_customers.amperity_id = condition_matches.amperity_id
    {%- endif %}
    where {{ klaviyo_sub_audience_match(sub_audience) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- endif %}
),

bucketed_customers as (
    select
        amperity_id,
        segment_order,
        sub_audience_order,
        {{ klaviyo_hash_bucket(dbt.concat([lit(d.campaign_id ~ ':'), 'sub_audience_id', "':'", 'cast(amperity_id as ' ~ dbt.type_string() ~ ')'])) }} as treatment_bucket
    from assigned_sub_audiences
    where sub_audience_order is not null
),

assigned_treatments as (
    select
        amperity_id,
        segment_order,
        sub_audience_order,
        case
            {%- for row in treatment_rows %}
            when sub_audience_order = {{ row.sub_audience_order }} and treatment_bucket < {{ row.upper_bucket }} then {{ loop.index }}
            {%- endfor %}
        end as treatment_order
    from bucketed_customers
),

joined_attributes as (
    select
        assigned_treatments.amperity_id,
        assigned_treatments.segment_order,
        assigned_treatments.sub_audience_order,
        assigned_treatments.treatment_order,
        {%- if phone_attribute is not none %}
        {{ klaviyo_phone_without_extension('attribute_source_' ~ (sources.index(phone_attribute.source) + 1) ~ '.' ~ phone_attribute.column) }} as phone_text__,
        phone_plans.calling_code as phone_plan__calling_code,
        phone_plans.trunk_prefix as phone_plan__trunk_prefix,
        phone_plans.nsn_min as phone_plan__nsn_min,
        phone_plans.nsn_max as phone_plan__nsn_max,
        phone_plans.nsn_first as phone_plan__nsn_first,
        {%- endif %}
        {%- for attribute in d.attributes %}
        attribute_source_{{ sources.index(attribute.source) + 1 }}.{{ attribute.column }} as {{ attribute.name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from assigned_treatments
    {%- for source in sources %}
    left join attribute_source_{{ loop.index }}
        on assigned_treatments.amperity_id = attribute_source_{{ loop.index }}.amperity_id
    {%- endfor %}
    {%- if phone_attribute is not none %}
    left join phone_plans
        on upper(trim(attribute_source_1.{{ var('klaviyo_phone_country_column') }})) = phone_plans.country_alias
    {%- endif %}
),

{% if phone_attribute is not none -%}
phone_digits as (
    select
        *,
        {{ klaviyo_phone_digits('phone_text__') }} as phone_digits__
    from joined_attributes
),

{% endif -%}
mapped_attributes as (
    select
        amperity_id,
        segment_order,
        sub_audience_order,
        treatment_order,
        {%- if identifier_attribute is not none %}
        nullif({{ klaviyo_trim_whitespace('cast(' ~ d.identifier ~ ' as ' ~ string ~ ')') }}, '') as identifier_raw__,
        {%- else %}
        cast(null as {{ string }}) as identifier_raw__,
        {%- endif %}
        {%- for attribute in d.attributes %}
        {%- if attribute.name == 'email' %}
        {{ klaviyo_normalize_email('email') }} as email{{ ',' if not loop.last }}
        {%- elif attribute.name == 'phone_number' %}
        {{ klaviyo_normalize_phone('phone_text__', 'phone_digits__', 'phone_plan__') }} as phone_number{{ ',' if not loop.last }}
        {%- else %}
        {{ attribute.name }}{{ ',' if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from {{ 'phone_digits' if phone_attribute is not none else 'joined_attributes' }}
),

{#- C1, campaign-wide identity: customers sharing the (normalised) identifier anywhere in the
    campaign - any sub-audience, treatment or the control group - resolve to one: the smallest
    amperity_id (byte order) among the rows that are otherwise sendable. Every row of the
    others is shrunk as duplicate_<identifier> and keeps its attributes. #}

shrunk_rows as (
    select
        *,
        {{ klaviyo_shrink_reason(d.identifier, 'identifier_raw__') }} as base_shrink_reason__
    from mapped_attributes
),

resolved_identities as (
    select
        *,
        min(case when base_shrink_reason__ is null then {{ klaviyo_collate_binary('cast(amperity_id as ' ~ string ~ ')') }} end)
            over (partition by {{ d.identifier if identifier_attribute is not none else 'identifier_raw__' }}) as identity_winner__
    from shrunk_rows
),

final as (
    select
        cast({{ lit(d.campaign_id) }} as {{ dbt.type_string() }}) as campaign_id,
        cast({{ lit(d.name) }} as {{ dbt.type_string() }}) as campaign_name,
        cast(case sub_audience_order
            {%- for sub_audience in sub_audiences %}
            when {{ loop.index }} then {{ lit(sub_audience.sub_audience_id) }}
            {%- endfor %}
        end as {{ dbt.type_string() }}) as sub_audience_id,
        cast(case sub_audience_order
            {%- for sub_audience in sub_audiences %}
            when {{ loop.index }} then {{ lit(sub_audience.sub_audience_name) }}
            {%- endfor %}
        end as {{ dbt.type_string() }}) as sub_audience_name,
        cast(case treatment_order
            {%- for row in treatment_rows %}
            when {{ loop.index }} then {{ lit(row.treatment.treatment_id) }}
            {%- endfor %}
        end as {{ dbt.type_string() }}) as treatment_id,
        cast(case treatment_order
            {%- for row in treatment_rows %}
            when {{ loop.index }} then {{ lit(row.treatment.treatment_name) }}
            {%- endfor %}
        end as {{ dbt.type_string() }}) as treatment_name,
        {%- set control_orders = [] -%}
        {%- for row in treatment_rows -%}
            {%- if row.treatment.is_control -%}{%- do control_orders.append(loop.index) -%}{%- endif -%}
        {%- endfor %}
        {%- if control_orders | length > 0 %}
        treatment_order in ({{ control_orders | join(', ') }}) as is_control,
        {%- else %}
        false as is_control,
        {%- endif %}
        cast(case treatment_order
            {%- for row in treatment_rows if not row.treatment.is_control %}
            when {{ treatment_rows.index(row) + 1 }} then {{ lit(row.treatment.list_name) }}
            {%- endfor %}
        end as {{ dbt.type_string() }}) as list_name,
        cast(case segment_order
            {%- for segment in d.include %}
            when {{ loop.index }} then {{ lit(segment) }}
            {%- endfor %}
        end as {{ dbt.type_string() }}) as segment_id,
        cast(case segment_order
            {%- for segment in d.include %}
            when {{ loop.index }} then {{ lit(klaviyo_segment_name(segment)) }}
            {%- endfor %}
        end as {{ dbt.type_string() }}) as segment_name,
        cast(amperity_id as {{ dbt.type_string() }}) as amperity_id,
        cast(coalesce(
            base_shrink_reason__,
            case when {{ klaviyo_collate_binary('cast(amperity_id as ' ~ string ~ ')') }} <> identity_winner__ then 'duplicate_{{ d.identifier }}' end
        ) as {{ string }}) as shrink_reason,
        {%- for attribute in d.attributes %}
        {{ attribute.name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from resolved_identities
)

select * from final
{%- endmacro %}
